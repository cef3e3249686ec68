//! Exhaustive depth-first search over the decision tree, with a preemption bound and a
//! separate bound on delayed store-buffer drains (as in CHESS's iterative context
//! bounding: most bugs need few preemptions, and weak-memory bugs need few delays).
//!
//! Every execution re-runs the machine from the start (futures cannot be cloned); the
//! search keeps the path of choices and, after each execution, moves to the next
//! untried alternative at the deepest point that still fits the bounds. With no bounds
//! the set of executions is complete: every reachable final state is seen.

use smallvec::SmallVec;

use super::{DecisionView, Scheduler};

#[derive(Clone, Debug)]
struct Node {
    chosen: usize,
    /// (preemption, drain delay) cost of each alternative at this node (inline for the
    /// usual handful of enabled actions: no allocation per decision).
    costs: SmallVec<[(u8, u8); 8]>,
    preemptions_before: u32,
    delays_before: u32,
}

/// Exhaustive DFS with optional bounds.
#[derive(Clone, Debug)]
pub struct Dfs {
    preemption_bound: Option<u32>,
    delay_bound: Option<u32>,
    path: Vec<Node>,
    depth: usize,
    started: bool,
    executions: u64,
    /// Set when a run diverged from the path it was replaying (nondeterministic code).
    pub diverged: bool,
}

impl Dfs {
    pub fn new(preemption_bound: Option<u32>, delay_bound: Option<u32>) -> Dfs {
        Dfs {
            preemption_bound,
            delay_bound,
            path: Vec::new(),
            depth: 0,
            started: false,
            executions: 0,
            diverged: false,
        }
    }

    /// Executions begun so far.
    pub fn executions(&self) -> u64 {
        self.executions
    }

    fn fits(&self, node: &Node, alternative: usize) -> bool {
        let (p, d) = node.costs[alternative];
        let preemptions = node.preemptions_before + p as u32;
        let delays = node.delays_before + d as u32;
        self.preemption_bound.is_none_or(|b| preemptions <= b)
            && self.delay_bound.is_none_or(|b| delays <= b)
    }

    fn advance(&mut self) -> bool {
        while let Some(node) = self.path.last() {
            let next = (node.chosen + 1..node.costs.len()).find(|&i| self.fits(node, i));
            match next {
                Some(i) => {
                    self.path.last_mut().expect("non-empty").chosen = i;
                    return true;
                }
                None => {
                    self.path.pop();
                }
            }
        }
        false
    }
}

impl Scheduler for Dfs {
    fn begin_execution(&mut self) -> bool {
        self.depth = 0;
        if !self.started {
            self.started = true;
            self.executions = 1;
            return true;
        }
        if self.advance() {
            self.executions += 1;
            true
        } else {
            false
        }
    }

    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        let depth = self.depth;
        self.depth += 1;
        if depth < self.path.len() {
            let node = &self.path[depth];
            if node.costs.len() == view.actions.len() {
                return node.chosen;
            }
            // The run does not follow the recorded path: cut the path here.
            self.diverged = true;
            self.path.truncate(depth);
        }
        let (preemptions_before, delays_before) = match self.path.last() {
            Some(parent) => {
                let (p, d) = parent.costs[parent.chosen];
                (
                    parent.preemptions_before + p as u32,
                    parent.delays_before + d as u32,
                )
            }
            None => (0, 0),
        };
        let costs = (0..view.actions.len())
            .map(|i| (view.is_preemption(i) as u8, view.is_drain_delay(i) as u8))
            .collect();
        self.path.push(Node {
            chosen: 0,
            costs,
            preemptions_before,
            delays_before,
        });
        0
    }
}
