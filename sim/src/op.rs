//! The steps kernel code takes. Each `.await` on a `sim` primitive posts one [`Op`]; the
//! executor shows the pending op of every CPU to the scheduling strategy, performs the
//! chosen one, and resumes the code that posted it. At the coarser granularities the
//! cheap ops are performed in place instead of being posted (see [`crate::Granularity`]).

use crate::ids::{LockId, TaskId};
use crate::mem::Word;

/// A memory barrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fence {
    /// `smp_mb()`: drains the store buffer.
    Full,
    /// `smp_wmb()`: orders earlier stores before later ones.
    Write,
    /// `smp_rmb()`: orders loads; loads are performed in order in every model here.
    Read,
}

/// Shared or exclusive acquisition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockMode {
    Exclusive,
    Shared,
}

/// What a lock operation does to the CPU's interrupt flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IrqMode {
    /// `spin_lock` / `spin_unlock`: leaves it alone.
    Keep,
    /// `spin_lock_irq` / `spin_unlock_irq`: disables / enables.
    DisableEnable,
    /// `spin_lock_irqsave` returns the old flags; `spin_unlock_irqrestore(flags)` restores.
    SaveRestore { flags: u64 },
}

/// Task states, as in `include/linux/sched.h` of 2.6.22.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskState {
    Running = 0,
    Interruptible = 1,
    Uninterruptible = 2,
    Dead = 64,
}

impl TaskState {
    pub fn from_word(value: u64) -> TaskState {
        match value {
            0 => TaskState::Running,
            1 => TaskState::Interruptible,
            2 => TaskState::Uninterruptible,
            _ => TaskState::Dead,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TaskState::Running => "TASK_RUNNING",
            TaskState::Interruptible => "TASK_INTERRUPTIBLE",
            TaskState::Uninterruptible => "TASK_UNINTERRUPTIBLE",
            TaskState::Dead => "TASK_DEAD",
        }
    }
}

/// One step of kernel code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// The first step of a context: runs its code up to its first primitive.
    Start,
    /// Continue after the context was woken or handed a lock it slept for.
    Resume,
    Load {
        word: Word,
        once: bool,
    },
    Store {
        word: Word,
        value: u64,
        once: bool,
    },
    Xchg {
        word: Word,
        value: u64,
    },
    CmpXchg {
        word: Word,
        expected: u64,
        new: u64,
    },
    /// `atomic_add_return`: returns the new value.
    AddReturn {
        word: Word,
        delta: u64,
    },
    Fence(Fence),
    Lock {
        lock: LockId,
        mode: LockMode,
        irq: IrqMode,
    },
    Unlock {
        lock: LockId,
        mode: LockMode,
        irq: IrqMode,
    },
    /// `local_irq_save` (returns flags) / `local_irq_restore`.
    IrqSave,
    IrqRestore {
        flags: u64,
    },
    /// `set_current_state` (with_barrier) or `__set_current_state`.
    SetState {
        state: TaskState,
        with_barrier: bool,
    },
    /// `schedule()` or `schedule_timeout(jiffies)`.
    Schedule {
        timeout_jiffies: Option<u64>,
    },
    /// `wake_up_process` / `try_to_wake_up` with the states it may wake.
    Wake {
        task: TaskId,
        interruptible_only: bool,
    },
    /// A point where the code may fault and sleep (`__put_user`, `copy_to_user`).
    MayFault,
    /// Sleep for a fixed virtual time (a page fault being serviced, `msleep`).
    SleepFor {
        duration_ns: u64,
    },
    /// System call entry: the point where one task's syscalls interleave with others'.
    Syscall {
        name: &'static str,
    },
    /// A bare scheduling point with a label, for tests and teaching.
    Yield {
        label: &'static str,
    },
}

/// How fine a granularity must be before an op becomes a step of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpClass {
    /// Loads, stores, atomics, fences: steps only at `access` granularity.
    Access,
    /// Locks, interrupt flags, wake-ups, fault points: steps at `lock` and `access`.
    Lock,
    /// Sleeping, syscall entry, start and resume: steps at every granularity.
    Always,
}

impl Op {
    pub fn class(&self) -> OpClass {
        match self {
            Op::Load { .. }
            | Op::Store { .. }
            | Op::Xchg { .. }
            | Op::CmpXchg { .. }
            | Op::AddReturn { .. }
            | Op::Fence(_)
            | Op::SetState { .. } => OpClass::Access,
            Op::Lock { .. }
            | Op::Unlock { .. }
            | Op::IrqSave
            | Op::IrqRestore { .. }
            | Op::Wake { .. }
            | Op::MayFault
            | Op::Yield { .. } => OpClass::Lock,
            Op::Start
            | Op::Resume
            | Op::Schedule { .. }
            | Op::SleepFor { .. }
            | Op::Syscall { .. } => OpClass::Always,
        }
    }

    /// Short kind name used in traces and schedule fingerprints.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Start => "start",
            Op::Resume => "resume",
            Op::Load { once: false, .. } => "load",
            Op::Load { once: true, .. } => "READ_ONCE",
            Op::Store { once: false, .. } => "store",
            Op::Store { once: true, .. } => "WRITE_ONCE",
            Op::Xchg { .. } => "xchg",
            Op::CmpXchg { .. } => "cmpxchg",
            Op::AddReturn { .. } => "atomic_add_return",
            Op::Fence(Fence::Full) => "smp_mb",
            Op::Fence(Fence::Write) => "smp_wmb",
            Op::Fence(Fence::Read) => "smp_rmb",
            Op::Lock { .. } => "lock",
            Op::Unlock { .. } => "unlock",
            Op::IrqSave => "local_irq_save",
            Op::IrqRestore { .. } => "local_irq_restore",
            Op::SetState {
                with_barrier: true, ..
            } => "set_current_state",
            Op::SetState {
                with_barrier: false,
                ..
            } => "__set_current_state",
            Op::Schedule {
                timeout_jiffies: None,
            } => "schedule",
            Op::Schedule { .. } => "schedule_timeout",
            Op::Wake { .. } => "try_to_wake_up",
            Op::MayFault => "might_fault",
            Op::SleepFor { .. } => "sleep",
            Op::Syscall { .. } => "syscall",
            Op::Yield { .. } => "yield",
        }
    }

    /// The shared word this op reads or writes, if any (for strategies and reduction).
    pub fn word(&self) -> Option<Word> {
        match *self {
            Op::Load { word, .. }
            | Op::Store { word, .. }
            | Op::Xchg { word, .. }
            | Op::CmpXchg { word, .. }
            | Op::AddReturn { word, .. } => Some(word),
            _ => None,
        }
    }

    /// Whether the op may change shared state that another CPU can observe.
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            Op::Load { .. } | Op::Fence(Fence::Read) | Op::Start | Op::Resume | Op::Yield { .. }
        )
    }

    /// A small number identifying the op's kind and object, for fingerprints and hashes.
    /// Inlined: every step's trace record hashes it.
    #[inline(always)]
    pub fn code(&self) -> (u8, u64) {
        match *self {
            Op::Start => (1, 0),
            Op::Resume => (2, 0),
            Op::Load { word, once } => (3 + once as u8, word.0 as u64),
            Op::Store { word, once, .. } => (5 + once as u8, word.0 as u64),
            Op::Xchg { word, .. } => (7, word.0 as u64),
            Op::CmpXchg { word, .. } => (8, word.0 as u64),
            Op::AddReturn { word, .. } => (9, word.0 as u64),
            Op::Fence(f) => (10, f as u64),
            Op::Lock { lock, mode, .. } => (11 + (mode == LockMode::Shared) as u8, lock.0 as u64),
            Op::Unlock { lock, mode, .. } => (13 + (mode == LockMode::Shared) as u8, lock.0 as u64),
            Op::IrqSave => (15, 0),
            Op::IrqRestore { flags } => (16, flags),
            Op::SetState { state, .. } => (17, state as u64),
            Op::Schedule { timeout_jiffies } => (18, timeout_jiffies.unwrap_or(u64::MAX)),
            Op::Wake { task, .. } => (19, task.0 as u64),
            Op::MayFault => (20, 0),
            Op::SleepFor { duration_ns } => (21, duration_ns),
            Op::Syscall { .. } => (22, 0),
            Op::Yield { .. } => (23, 0),
        }
    }
}
