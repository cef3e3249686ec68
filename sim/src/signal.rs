//! Signals, as far as a sleeper cares: a pending flag per task, `sigprocmask()` as
//! one blocked-or-not setting, and `signal_wake_up`'s wake of an interruptible sleeper.
//! (There are no handlers and no signal numbers: the layer above decides what a
//! pending signal makes a system call return.)

use crate::ids::{CpuId, TaskId};
use crate::state::State;

impl State {
    /// Delivers a signal: marks it pending and wakes the task if it sleeps interruptibly
    /// (`signal_wake_up`).
    pub fn send_signal(&self, cpu: CpuId, task: TaskId) -> bool {
        let blocked = self.mark_signal_pending(cpu, task);
        !blocked && self.try_to_wake_up(cpu, task, true)
    }

    /// The first half of `signal_wake_up`: marks a signal pending for `task`, sent from
    /// `cpu` at its clock (the task sees it no earlier: [`State::carry_time_to`]), and
    /// returns whether the task blocks signals (then it is not woken).
    pub fn mark_signal_pending(&self, cpu: CpuId, task: TaskId) -> bool {
        self.mem.footprint.global();
        let blocked = {
            let mut tasks = self.tasks.borrow_mut();
            tasks[task.index()].signal_pending = true;
            tasks[task.index()].signals_blocked
        };
        self.carry_time_to(task, self.clock_ns(cpu));
        blocked
    }

    /// A signal is pending and not blocked (`signal_pending()` after `recalc_sigpending`).
    pub fn signal_pending(&self, task: TaskId) -> bool {
        let tasks = self.tasks.borrow();
        tasks[task.index()].signal_pending && !tasks[task.index()].signals_blocked
    }

    /// `sigprocmask()`: blocks or unblocks every signal; returns the previous setting.
    pub fn set_signals_blocked(&self, task: TaskId, blocked: bool) -> bool {
        std::mem::replace(
            &mut self.tasks.borrow_mut()[task.index()].signals_blocked,
            blocked,
        )
    }

    pub fn clear_signal(&self, task: TaskId) {
        self.tasks.borrow_mut()[task.index()].signal_pending = false;
    }
}
