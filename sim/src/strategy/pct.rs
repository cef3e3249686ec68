//! PCT: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
//! "A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010).
//!
//! Each "thread" — a CPU's instruction stream, a CPU's store buffer, an interrupt
//! source — gets a random priority at or above `depth`; the enabled action of the
//! highest-priority thread runs. At `depth - 1` change points, chosen uniformly among the
//! first `k` decisions (k = the longest run seen so far), the thread that runs has its
//! priority lowered below every initial one. A bug of depth d is found with probability
//! at least 1 / (n · k^(d-1)) per run.

use std::collections::BTreeMap;

use super::{DecisionView, Scheduler};
use crate::machine::Action;
use crate::rng::Rng;

/// PCT with bug depth `depth` (≥ 1).
#[derive(Clone, Debug)]
pub struct Pct {
    rng: Rng,
    depth: u32,
    estimated_decisions: u64,
    longest_run: u64,
    priorities: BTreeMap<u64, u64>,
    change_points: Vec<u64>,
    decisions: u64,
}

impl Pct {
    pub fn new(seed: u64, depth: u32) -> Pct {
        Pct {
            rng: Rng::new(seed),
            depth: depth.max(1),
            estimated_decisions: 64,
            longest_run: 0,
            priorities: BTreeMap::new(),
            change_points: Vec::new(),
            decisions: 0,
        }
    }

    fn thread_of(action: &Action) -> u64 {
        match *action {
            Action::Run { cpu } => cpu.0 as u64,
            Action::Drain { cpu, .. } => 1000 + cpu.0 as u64,
            Action::Interrupt { event, .. } => 2000 + event.0 as u64,
        }
    }

    fn priority(&mut self, thread: u64) -> u64 {
        let depth = self.depth as u64;
        let rng = &mut self.rng;
        *self
            .priorities
            .entry(thread)
            .or_insert_with(|| depth + rng.below(1 << 20))
    }
}

impl Scheduler for Pct {
    fn begin_execution(&mut self) -> bool {
        self.estimated_decisions = self.estimated_decisions.max(self.longest_run).max(1);
        self.priorities.clear();
        self.change_points = (1..self.depth)
            .map(|_| self.rng.below(self.estimated_decisions))
            .collect();
        self.decisions = 0;
        true
    }

    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        let mut best = 0;
        let mut best_priority = 0;
        for (index, action) in view.actions.iter().enumerate() {
            let thread = Self::thread_of(&action.action);
            let priority = self.priority(thread);
            if index == 0 || priority > best_priority {
                best = index;
                best_priority = priority;
            }
        }
        if let Some(position) = self.change_points.iter().position(|&p| p == self.decisions) {
            let thread = Self::thread_of(&view.actions[best].action);
            // Lower than every initial priority (which are all >= depth).
            self.priorities.insert(
                thread,
                (self.depth as u64 - 1).saturating_sub(position as u64),
            );
        }
        self.decisions += 1;
        best
    }

    fn end_execution(&mut self) {
        self.longest_run = self.longest_run.max(self.decisions);
    }
}
