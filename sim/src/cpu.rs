//! Virtual CPUs, tasks and execution contexts: the data the executor schedules.

use std::collections::VecDeque;

use crate::ids::{ContextId, CpuId, EventId, TaskId};
use crate::lockdep::HeldLocks;
use crate::mem::Word;
use crate::op::Op;
use crate::state::{Performed, State};

/// One virtual CPU.
#[derive(Clone, Debug)]
pub struct Cpu {
    pub id: CpuId,
    /// This CPU's virtual clock. While code runs on this CPU, the cost of its inline
    /// primitives may not be added yet: read clocks with `State::clock_ns`, which is
    /// exact, rather than this field.
    pub clock_ns: u64,
    pub irqs_enabled: bool,
    /// The task whose kernel stack this CPU is on, if any.
    pub task: Option<TaskId>,
    /// An interrupt handler running on top of `task` (or of the idle loop).
    pub interrupt: Option<ContextId>,
    /// Runnable tasks waiting for this CPU, FIFO.
    pub runqueue: VecDeque<TaskId>,
}

impl Cpu {
    pub fn new(id: CpuId) -> Cpu {
        Cpu {
            id,
            clock_ns: 0,
            irqs_enabled: true,
            task: None,
            interrupt: None,
            runqueue: VecDeque::new(),
        }
    }
}

/// Where a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    /// On a CPU (`Cpu::task`).
    OnCpu,
    /// On a runqueue.
    Queued,
    /// Descheduled in `schedule()` or on a sleeping lock.
    Sleeping,
    Exited,
}

/// One task (a thread of a simulated process).
#[derive(Clone, Debug)]
pub struct Task {
    pub id: TaskId,
    pub name: String,
    pub context: ContextId,
    /// `task->state`, a shared word: wake-ups read it without the sleeper's cooperation.
    pub state_word: Word,
    pub pinned: Option<CpuId>,
    pub cpu: CpuId,
    pub status: TaskStatus,
    pub signal_pending: bool,
    /// Every signal is blocked (`sigprocmask`): it stays pending without waking the task
    /// or counting for `signal_pending()`. Masks are all-or-nothing in the model.
    pub signals_blocked: bool,
    /// The earliest the task may run again, while it is off its CPU: when it left it,
    /// or a later wake-up or signal that reached it (`State::carry_time_to`); a CPU that
    /// picks it up catches up to this.
    pub ready_at_ns: u64,
    /// The `schedule_timeout` / sleep timer, and when it expires.
    pub timer: Option<(EventId, u64)>,
    /// Interrupt flag saved while the task is off its CPU.
    pub irqs_enabled: bool,
}

/// Whose code a context runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextKind {
    Task(TaskId),
    /// An interrupt handler on `cpu`, which hit `interrupted` (or the idle loop).
    Interrupt {
        cpu: CpuId,
        interrupted: Option<TaskId>,
        saved_irqs_enabled: bool,
        label: &'static str,
    },
}

/// An execution context: a future plus what the executor knows about it.
#[derive(Clone, Debug)]
pub struct Context {
    pub kind: ContextKind,
    /// The step this context will take next.
    pub pending: Op,
    /// The value its pending `Resume` returns.
    pub resume_value: u64,
    /// Set while sleeping in `schedule_timeout`: compute the remaining jiffies on resume.
    pub resume_timeout: bool,
    pub held: HeldLocks,
    pub finished: bool,
}

impl Context {
    pub fn task(&self) -> Option<TaskId> {
        match self.kind {
            ContextKind::Task(task) => Some(task),
            ContextKind::Interrupt { interrupted, .. } => interrupted,
        }
    }

    pub fn in_interrupt(&self) -> bool {
        matches!(self.kind, ContextKind::Interrupt { .. })
    }
}

// ---- interrupt flags and descriptions ---------------------------------------------------

/// Who is running, and task names; `local_irq_save()` and `local_irq_restore()` as the
/// machine performs them.
impl State {
    pub fn current_task(&self) -> Option<TaskId> {
        let current = self.current.get();
        self.contexts.borrow()[current.context.index()].task()
    }

    pub fn in_interrupt(&self) -> bool {
        let current = self.current.get();
        self.contexts.borrow()[current.context.index()].in_interrupt()
    }

    /// The name of a task, or of a thread `clone()` queued that the machine has not
    /// created yet (a run can end first).
    pub fn task_name(&self, task: TaskId) -> String {
        if let Some(created) = self.tasks.borrow().get(task.index()) {
            return created.name.clone();
        }
        let queue = self.spawn_queue.borrow();
        let queued = queue.iter().find(|spawn| spawn.id == task);
        queued.map_or_else(|| format!("{task}"), |spawn| spawn.name.clone())
    }

    /// `local_irq_save()`: disables the CPU's interrupts; the value is the saved flag.
    #[inline]
    pub(crate) fn irq_save(&self, cpu: CpuId) -> Performed {
        self.charge_current(self.config.costs.irq_flags_ns);
        let mut cpus = self.cpus.borrow_mut();
        let flags = cpus[cpu.index()].irqs_enabled as u64;
        cpus[cpu.index()].irqs_enabled = false;
        Performed::Value(flags)
    }

    /// `local_irq_restore(flags)`.
    #[inline]
    pub(crate) fn irq_restore(&self, cpu: CpuId, flags: u64) -> Performed {
        self.charge_current(self.config.costs.irq_flags_ns);
        self.cpus.borrow_mut()[cpu.index()].irqs_enabled = flags != 0;
        Performed::Value(0)
    }
}

/// "task0 (reader)" or "irq on cpu1 (data arrives), hit task2".
pub fn describe_context(context: &Context) -> String {
    match context.kind {
        ContextKind::Task(task) => format!("{task}"),
        ContextKind::Interrupt {
            cpu,
            interrupted,
            label,
            ..
        } => match interrupted {
            Some(task) => format!("interrupt `{label}` on {cpu} over {task}"),
            None => format!("interrupt `{label}` on idle {cpu}"),
        },
    }
}
