//! Reports: what a run says instead of panicking when an invariant breaks.
//!
//! Kinds have stable names that scenario expectations and JSON output use.

use std::fmt;

use crate::ids::{CpuId, TaskId};
use crate::state::State;

/// The kind of a violation. Names are stable: scenarios say `expect report lost-wakeup`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReportKind {
    ListCorruption,
    OrphanedItem,
    UseAfterFree,
    DoubleFree,
    LockOrder,
    SleepInAtomic,
    IrqUnsafeLock,
    Deadlock,
    /// Code that never reaches a scheduling point: the soft-lockup watchdog
    /// (`limits::INLINE_OPERATIONS_PER_STEP_MAX` operations within one step).
    Livelock,
    /// The run's step budget (`Config::max_steps`) ran out before the run ended. Not a
    /// verdict on the code — a long run and a loop that never ends look the same from
    /// here — so it is kept apart from `Livelock`; raising the budget tells them apart.
    StepBudget,
    LostWakeup,
    Leak,
    Expectation,
    /// Unlock of a lock the context does not hold, or exit with a lock held
    /// (lockdep's "bad unlock balance").
    BadUnlock,
}

impl ReportKind {
    pub const ALL: [ReportKind; 14] = [
        ReportKind::ListCorruption,
        ReportKind::OrphanedItem,
        ReportKind::UseAfterFree,
        ReportKind::DoubleFree,
        ReportKind::LockOrder,
        ReportKind::SleepInAtomic,
        ReportKind::IrqUnsafeLock,
        ReportKind::Deadlock,
        ReportKind::Livelock,
        ReportKind::StepBudget,
        ReportKind::LostWakeup,
        ReportKind::Leak,
        ReportKind::Expectation,
        ReportKind::BadUnlock,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReportKind::ListCorruption => "list-corruption",
            ReportKind::OrphanedItem => "orphaned-item",
            ReportKind::UseAfterFree => "use-after-free",
            ReportKind::DoubleFree => "double-free",
            ReportKind::LockOrder => "lock-order",
            ReportKind::SleepInAtomic => "sleep-in-atomic",
            ReportKind::IrqUnsafeLock => "irq-unsafe-lock",
            ReportKind::Deadlock => "deadlock",
            ReportKind::Livelock => "livelock",
            ReportKind::StepBudget => "step-budget",
            ReportKind::LostWakeup => "lost-wakeup",
            ReportKind::Leak => "leak",
            ReportKind::Expectation => "expectation",
            ReportKind::BadUnlock => "bad-unlock",
        }
    }

    pub fn parse(name: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the run cannot meaningfully go on after this report.
    pub fn is_fatal(self) -> bool {
        matches!(
            self,
            ReportKind::ListCorruption
                | ReportKind::UseAfterFree
                | ReportKind::DoubleFree
                | ReportKind::Deadlock
                | ReportKind::Livelock
                | ReportKind::StepBudget
        )
    }
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One violation, with everything needed to understand and reproduce it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub kind: ReportKind,
    pub step: u64,
    pub cpu: Option<CpuId>,
    pub task: Option<TaskId>,
    pub message: String,
    /// Lock holders, list contents, allocation and free steps: one fact a line.
    pub details: Vec<String>,
    /// The encoded schedule of the run, filled in when the run ends.
    pub schedule: String,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at step {}", self.kind, self.step)?;
        if let Some(cpu) = self.cpu {
            write!(f, " on {cpu}")?;
        }
        if let Some(task) = self.task {
            write!(f, " ({task})")?;
        }
        write!(f, ": {}", self.message)?;
        for line in &self.details {
            write!(f, "\n    {line}")?;
        }
        Ok(())
    }
}

// ---- filing reports -------------------------------------------------------------------

/// Filing a report from running code; a fatal kind halts the run.
impl State {
    /// Files a report from the current context. Fatal kinds halt the run.
    pub fn report(&self, kind: ReportKind, message: String, details: Vec<String>) {
        let current = self.current.get();
        let task = self
            .contexts
            .borrow()
            .get(current.context.index())
            .and_then(|c| c.task());
        self.report_at(kind, Some(current.cpu), task, message, details);
    }

    pub fn report_at(
        &self,
        kind: ReportKind,
        cpu: Option<CpuId>,
        task: Option<TaskId>,
        message: String,
        details: Vec<String>,
    ) {
        tracing::debug!(target: "epsim", step = self.step.get(), "report {kind}: {message}");
        self.reports.borrow_mut().push(Report {
            kind,
            step: self.step.get(),
            cpu,
            task,
            message,
            details,
            schedule: String::new(),
        });
        if kind.is_fatal() {
            self.halt();
        }
    }
}
