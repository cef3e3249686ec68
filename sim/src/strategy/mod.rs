//! Scheduling strategies: who steps next.
//!
//! # The contract (in the manner of shuttle's `Scheduler`)
//!
//! A strategy is asked to [`Scheduler::begin_execution`] before each run of a machine
//! (and to [`Scheduler::end_execution`] after it) by whoever runs the machine —
//! [`crate::Machine::run`] does not call them; returning `false` means it has nothing
//! more to explore. During the run it is asked to
//! [`Scheduler::choose`] at every decision with a [`DecisionView`]: the enabled actions in
//! canonical order — store-buffer drains (CPU order, oldest first), then CPU steps
//! starting from the CPU that stepped last, then interrupt deliveries (event order, CPU
//! order) — each with the op the CPU would perform and the virtual time it would happen
//! at. It must return an index into that list. Index 0 is the canonical default (eager
//! drain, run on, no preemption), which is what schedules record deviations from.
//!
//! A strategy must be deterministic: the same seed and the same sequence of views must
//! produce the same choices. It may keep state across executions (exhaustive search
//! does). It never sees allocation-failure decisions; those follow the run's rules.
//!
//! Replay is not a strategy object: [`crate::Machine::set_replay`] makes the machine
//! follow a recorded schedule and check it at every step, whatever strategy is passed.

mod dfs;
mod dpor;
mod pct;

pub use dfs::{CutBranches, Dfs};
pub use dpor::Dpor;
pub use pct::Pct;

use crate::ids::CpuId;
use crate::machine::Action;
use crate::op::Op;
use crate::rng::Rng;

/// One enabled action, as a strategy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionView {
    pub action: Action,
    /// The op a `Run` would perform.
    pub pending: Option<Op>,
    /// Virtual time at which the action would happen.
    pub time_ns: u64,
}

/// What a strategy sees at one decision.
#[derive(Clone, Copy, Debug)]
pub struct DecisionView<'a> {
    /// Index of this decision in the run.
    pub decision: u64,
    pub step: u64,
    /// Enabled actions in canonical order; never empty.
    pub actions: &'a [ActionView],
    /// The CPU that performed the last `Run`.
    pub last_cpu: CpuId,
    /// The machine's memory model (which drains may be enabled at once).
    pub model: crate::mem::MemoryModel,
}

impl DecisionView<'_> {
    /// Whether choosing `index` preempts: the default was to run on the last CPU and
    /// `index` steps or interrupts another.
    pub fn is_preemption(&self, index: usize) -> bool {
        let runs_on = matches!(self.actions[0].action, Action::Run { cpu } if cpu == self.last_cpu);
        runs_on && index != 0 && !matches!(self.actions[index].action, Action::Drain { .. })
    }

    /// Whether choosing `index` delays a store-buffer drain the default would perform.
    pub fn is_drain_delay(&self, index: usize) -> bool {
        matches!(self.actions[0].action, Action::Drain { .. })
            && !matches!(self.actions[index].action, Action::Drain { .. })
    }
}

/// A scheduling strategy. See the module documentation for the contract.
pub trait Scheduler {
    fn begin_execution(&mut self) -> bool;
    fn choose(&mut self, view: &DecisionView<'_>) -> usize;
    fn end_execution(&mut self) {}
    /// Whether the strategy wants [`Scheduler::observe`] calls (asked once per run; it
    /// costs the machine a test per access when not, some recording when so).
    fn wants_footprints(&self) -> bool {
        false
    }
    /// The footprint of the step the last [`Scheduler::choose`] chose: every shared
    /// object it touched ([`crate::footprint`]). Called before the next `choose`, and
    /// once at the end of the run for the last step.
    fn observe(&mut self, _footprint: crate::footprint::Footprint) {}
    /// Whether the strategy must be asked at a decision with one enabled action (a forced
    /// one: only one context can run and no store buffer can drain). A strategy that
    /// returns `false` promises that such a call would return 0 and change nothing in it
    /// (no random draw, no count), so the machine records the decision without the call.
    /// The default is to be asked: random draws at every decision and PCT counts them,
    /// and skipping either would change every run they make.
    fn sees_forced_decisions(&self) -> bool {
        true
    }
    /// Whether the strategy always chooses a store-buffer drain when the first enabled
    /// action is one (index 0), changing nothing in itself: then the machine records
    /// that decision without the call where it can tell the enabled set cheaply (one CPU
    /// at work, see `step_in_place`). The default is `false`: be asked.
    fn drains_eagerly(&self) -> bool {
        false
    }
}

/// Strategy names as the command line spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StrategyKind {
    Random,
    Pct,
    RoundRobin,
    Timed,
    Replay,
    Dfs,
    Dpor,
}

impl StrategyKind {
    pub const ALL: [StrategyKind; 7] = [
        StrategyKind::Random,
        StrategyKind::Pct,
        StrategyKind::RoundRobin,
        StrategyKind::Timed,
        StrategyKind::Replay,
        StrategyKind::Dfs,
        StrategyKind::Dpor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Random => "random",
            StrategyKind::Pct => "pct",
            StrategyKind::RoundRobin => "round-robin",
            StrategyKind::Timed => "timed",
            StrategyKind::Replay => "replay",
            StrategyKind::Dfs => "dfs",
            StrategyKind::Dpor => "dpor",
        }
    }

    pub fn parse(text: &str) -> Option<StrategyKind> {
        StrategyKind::ALL.into_iter().find(|k| k.name() == text)
    }
}

/// Always the default: eager drains, run on, no preemption, interrupts when nothing
/// else can happen. The canonical execution that schedules deviate from.
#[derive(Clone, Debug, Default)]
pub struct Canonical {
    started: bool,
}

impl Scheduler for Canonical {
    fn begin_execution(&mut self) -> bool {
        !std::mem::replace(&mut self.started, true)
    }
    fn choose(&mut self, _: &DecisionView<'_>) -> usize {
        0
    }
    fn sees_forced_decisions(&self) -> bool {
        false
    }
    fn drains_eagerly(&self) -> bool {
        true
    }
}

/// Uniformly random among the enabled actions, seeded.
#[derive(Clone, Debug)]
pub struct Random {
    rng: Rng,
}

impl Random {
    pub fn new(seed: u64) -> Random {
        Random {
            rng: Rng::new(seed),
        }
    }
}

impl Scheduler for Random {
    fn begin_execution(&mut self) -> bool {
        true
    }
    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        self.rng.index(view.actions.len())
    }
}

/// Rotates among CPUs: after a CPU steps, the next CPU in order gets the next step.
/// Drains are eager; an interrupt is delivered when its CPU's turn comes.
#[derive(Clone, Debug, Default)]
pub struct RoundRobin;

impl Scheduler for RoundRobin {
    fn begin_execution(&mut self) -> bool {
        true
    }
    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        if matches!(view.actions[0].action, Action::Drain { .. }) {
            return 0;
        }
        let after = |action: &Action| {
            let cpu = action.cpu().0 as usize;
            let last = view.last_cpu.0 as usize;
            // Distance after the last CPU, the last CPU itself coming last.
            (cpu + 64 - last - 1) % 64
        };
        (0..view.actions.len())
            .min_by_key(|&i| (after(&view.actions[i].action), i))
            .unwrap_or(0)
    }
    fn sees_forced_decisions(&self) -> bool {
        false
    }
    fn drains_eagerly(&self) -> bool {
        true
    }
}

/// Earliest virtual clock first, seeded tie-break: the realistic timeline. Drains are
/// eager (a store becomes visible before anything later happens).
#[derive(Clone, Debug)]
pub struct Timed {
    rng: Rng,
}

impl Timed {
    pub fn new(seed: u64) -> Timed {
        Timed {
            rng: Rng::new(seed),
        }
    }
}

impl Scheduler for Timed {
    fn begin_execution(&mut self) -> bool {
        true
    }
    /// Draws only among two or more actions at the earliest time (every decision of a
    /// run with one CPU has a single such action): one pass finds the earliest time, the
    /// first action at it and how many share it; a draw picks the k-th of those.
    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        if matches!(view.actions[0].action, Action::Drain { .. }) {
            return 0;
        }
        let mut earliest = u64::MAX;
        let mut first = 0;
        let mut ties = 0;
        for (index, action) in view.actions.iter().enumerate() {
            if action.time_ns < earliest {
                earliest = action.time_ns;
                first = index;
                ties = 1;
            } else if action.time_ns == earliest {
                ties += 1;
            }
        }
        if ties == 1 {
            return first;
        }
        let nth = self.rng.index(ties);
        (first..view.actions.len())
            .filter(|&index| view.actions[index].time_ns == earliest)
            .nth(nth)
            .expect("the draw is below the number of ties")
    }

    fn sees_forced_decisions(&self) -> bool {
        false
    }
    fn drains_eagerly(&self) -> bool {
        true
    }
}

/// Follows a fixed list of choices, then the default (for tests and shrinking).
#[derive(Clone, Debug, Default)]
pub struct Fixed {
    pub choices: Vec<usize>,
    at: usize,
}

impl Fixed {
    pub fn new(choices: Vec<usize>) -> Fixed {
        Fixed { choices, at: 0 }
    }
}

impl Scheduler for Fixed {
    fn begin_execution(&mut self) -> bool {
        self.at = 0;
        true
    }
    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        let choice = self.choices.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        choice.min(view.actions.len() - 1)
    }
}
