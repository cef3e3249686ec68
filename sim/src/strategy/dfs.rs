//! Exhaustive depth-first search over the decision tree, with a preemption bound and a
//! separate bound on delayed store-buffer drains (as in CHESS's iterative context
//! bounding: most bugs need few preemptions, and weak-memory bugs need few delays), and
//! optional sleep sets.
//!
//! Every execution re-runs the machine from the start (futures cannot be cloned); the
//! search keeps the path of choices and, after each execution, moves to the next
//! untried alternative at the deepest point that still fits the bounds. With no bounds
//! the set of executions is complete: every reachable final state is seen.
//!
//! # What a bound cut
//!
//! A bounded search that runs out of executions is complete *within its bounds* only.
//! So that no one mistakes it for an exhaustive one, the search counts the branches
//! the bounds cut ([`Dfs::cut`]): every alternative at a decision of the tree that was
//! never taken because taking it would have exceeded a bound. Each decision of the tree
//! is counted once, when the search first reaches it. A finished search that cut no
//! branch is exhaustive, whatever its bounds say (every execution tried, or with sleep
//! sets every reachable final state reached); one that cut some is not.
//!
//! # Sleep sets
//!
//! With [`Dfs::with_sleep_sets`] (and no bounds) the search skips alternatives that
//! only reorder independent actions (Godefroid's sleep sets): after the subtree of
//! action `a` at a node has been explored, `a` "sleeps" in the subtrees of that node's
//! later alternatives for as long as only actions independent of it are taken, since
//! taking it there would reach states already reached. The final-state set stays
//! complete; executions that reach a node where every enabled action sleeps are
//! redundant — they still run to the end (a run cannot be abandoned) but add no new
//! branches.
//!
//! The independence relation is deliberately small, because a CPU step runs the
//! stepping code on to its next op, which may exit, sleep or be followed by a task
//! switch whose effects (which idle CPU takes which queued task) depend on order. Two
//! actions are independent only if
//! - both are store-buffer drains of different words, or
//! - one drains word `w` of CPU `c` and the other steps another CPU whose pending op is
//!   a plain or ONCE load or store of a word other than `w`.
//!
//! This assumes what the machine's design asks of the layers above: state that code
//! touches without a lock lives in words (so that it is an op), and no store buffer
//! overflows ([`crate::limits::STORE_BUFFER_MAX`]). Sleep sets are not combined with the
//! bounds (bounded search with sleep sets can miss executions within the bound), so
//! they apply only to unbounded search.

use smallvec::SmallVec;

use super::{ActionView, DecisionView, Scheduler};
use crate::machine::Action;
use crate::mem::Word;
use crate::op::Op;

/// An enabled action as sleep sets compare it. While an action sleeps, nothing
/// dependent on it runs, so its CPU's pending op (or buffered store) stays the same and
/// the action alone identifies it; the accessed word is kept for the relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ActionId {
    action: Action,
    /// The word a step's pending op loads or stores, if it is a plain or ONCE access.
    access: Option<Word>,
}

impl ActionId {
    fn of(view: &ActionView) -> ActionId {
        let access = match view.pending {
            Some(Op::Load { word, .. }) | Some(Op::Store { word, .. }) => Some(word),
            _ => None,
        };
        ActionId {
            action: view.action,
            access,
        }
    }

    /// The (deliberately small) independence relation of the module documentation.
    fn independent(&self, other: &ActionId) -> bool {
        match (self.action, other.action) {
            (Action::Drain { word: a, .. }, Action::Drain { word: b, .. }) => a != b,
            (Action::Drain { cpu, word }, Action::Run { cpu: runner }) => {
                runner != cpu && other.access.is_some_and(|w| w != word)
            }
            (Action::Run { .. }, Action::Drain { .. }) => other.independent(self),
            _ => false,
        }
    }
}

#[derive(Clone, Debug)]
struct Node {
    chosen: usize,
    /// (preemption, drain delay) cost of each alternative at this node (inline for the
    /// usual handful of enabled actions: no allocation per decision).
    costs: SmallVec<[(u8, u8); 8]>,
    preemptions_before: u32,
    delays_before: u32,
}

/// What sleep sets keep about a node (beside it, so that search without them stays lean).
#[derive(Clone, Debug, Default)]
struct SleepNode {
    /// Each alternative's identity, …
    ids: SmallVec<[ActionId; 6]>,
    /// … the actions asleep on entry to this node, …
    sleep: SmallVec<[ActionId; 2]>,
    /// … the alternatives whose subtrees are done, …
    done: SmallVec<[ActionId; 2]>,
    /// … and whether every enabled action was asleep here (a redundant subtree).
    blocked: bool,
}

impl SleepNode {
    fn asleep(&self, alternative: usize) -> bool {
        let id = &self.ids[alternative];
        self.blocked || self.sleep.contains(id) || self.done.contains(id)
    }

    /// The sleep set of a new child: what sleeps or is done here and is independent of
    /// the action taken (`chosen`).
    fn child(&self, chosen: usize) -> SleepNode {
        if self.blocked {
            return SleepNode {
                blocked: true,
                ..SleepNode::default()
            };
        }
        let taken = self.ids[chosen];
        SleepNode {
            sleep: self
                .sleep
                .iter()
                .chain(self.done.iter())
                .filter(|z| z.independent(&taken))
                .copied()
                .collect(),
            ..SleepNode::default()
        }
    }
}

/// Branches of the decision tree a bounded search did not take ([`Dfs::cut`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CutBranches {
    /// Alternatives that would have exceeded the preemption bound (whatever they do to
    /// the delay bound).
    pub by_preemption_bound: u64,
    /// Alternatives within the preemption bound that would have exceeded the bound on
    /// delayed store-buffer drains.
    pub by_delay_bound: u64,
}

impl CutBranches {
    /// Every branch cut, by either bound (an alternative over both counts once).
    pub fn total(&self) -> u64 {
        self.by_preemption_bound + self.by_delay_bound
    }
}

/// Exhaustive DFS with optional bounds and optional sleep sets.
#[derive(Clone, Debug)]
pub struct Dfs {
    preemption_bound: Option<u32>,
    delay_bound: Option<u32>,
    sleep_sets: bool,
    /// Branches the bounds cut so far (see the module documentation).
    cut: CutBranches,
    path: Vec<Node>,
    /// With sleep sets, one entry per node of `path`.
    sleeping: Vec<SleepNode>,
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
            sleep_sets: false,
            cut: CutBranches::default(),
            path: Vec::new(),
            sleeping: Vec::new(),
            depth: 0,
            started: false,
            executions: 0,
            diverged: false,
        }
    }

    /// Uses sleep sets (see the module documentation) when the search is unbounded;
    /// with a bound it has no effect.
    pub fn with_sleep_sets(mut self) -> Dfs {
        self.sleep_sets = self.preemption_bound.is_none() && self.delay_bound.is_none();
        self
    }

    /// Executions begun so far.
    pub fn executions(&self) -> u64 {
        self.executions
    }

    /// The bounds: (preemptions, delayed drains) per execution, `None` for no bound.
    pub fn bounds(&self) -> (Option<u32>, Option<u32>) {
        (self.preemption_bound, self.delay_bound)
    }

    /// The branches the bounds cut in the part of the tree explored so far. When the
    /// search has run out of executions and this is zero, the search was exhaustive.
    pub fn cut(&self) -> CutBranches {
        self.cut
    }

    /// Which bounds taking `alternative` at `node` would exceed: (preemption, delay).
    fn exceeds(&self, node: &Node, alternative: usize) -> (bool, bool) {
        let (p, d) = node.costs[alternative];
        let preemptions = node.preemptions_before + p as u32;
        let delays = node.delays_before + d as u32;
        (
            self.preemption_bound.is_some_and(|b| preemptions > b),
            self.delay_bound.is_some_and(|b| delays > b),
        )
    }

    fn fits(&self, node: &Node, alternative: usize) -> bool {
        self.exceeds(node, alternative) == (false, false)
    }

    /// Counts the alternatives of a node the search has just reached that the bounds
    /// rule out (each node is reached for the first time once).
    fn count_cut(&mut self, node: &Node) {
        if self.preemption_bound.is_none() && self.delay_bound.is_none() {
            return;
        }
        for alternative in 0..node.costs.len() {
            match self.exceeds(node, alternative) {
                (true, _) => self.cut.by_preemption_bound += 1,
                (false, true) => self.cut.by_delay_bound += 1,
                (false, false) => {}
            }
        }
    }

    fn advance(&mut self) -> bool {
        while let Some(node) = self.path.last() {
            let sleeping = self.sleeping.last();
            let next = (node.chosen + 1..node.costs.len())
                .find(|&i| self.fits(node, i) && !sleeping.is_some_and(|s| s.asleep(i)));
            match next {
                Some(i) => {
                    let node = self.path.last_mut().expect("non-empty");
                    if let Some(sleeping) = self.sleeping.last_mut() {
                        let finished = sleeping.ids[node.chosen];
                        sleeping.done.push(finished);
                    }
                    node.chosen = i;
                    return true;
                }
                None => {
                    self.path.pop();
                    self.sleeping.pop();
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
            self.sleeping.truncate(depth);
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
        let mut node = Node {
            chosen: 0,
            costs,
            preemptions_before,
            delays_before,
        };
        self.count_cut(&node);
        if self.sleep_sets {
            let mut sleeping = match (self.path.last(), self.sleeping.last()) {
                (Some(parent), Some(parent_sleep)) => parent_sleep.child(parent.chosen),
                _ => SleepNode::default(),
            };
            sleeping.ids = view.actions.iter().map(ActionId::of).collect();
            match (0..sleeping.ids.len()).find(|&i| !sleeping.asleep(i)) {
                Some(i) => node.chosen = i,
                // Everything here was explored from an equivalent state: finish the
                // run (its final state is a duplicate) without branching again.
                None => sleeping.blocked = true,
            }
            self.sleeping.push(sleeping);
        }
        let chosen = node.chosen;
        self.path.push(node);
        chosen
    }
}
