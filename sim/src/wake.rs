//! Wake-ups: `try_to_wake_up()`, what `wake_up_process()` and a wait queue's
//! `default_wake_function` come down to. (The wait-queue walk that calls it is
//! [`crate::cx::Cx::wake_up_common`]; a sleeping lock's hand-off wakes its waiters
//! itself, in [`crate::lock`].)

use crate::cpu::TaskStatus;
use crate::ids::{CpuId, TaskId};
use crate::op::TaskState;
use crate::state::{Performed, State};

impl State {
    /// The `Wake` op: a wake-up's cost, then [`State::try_to_wake_up`]; the value is
    /// whether the task was woken.
    #[inline]
    pub(crate) fn wake(&self, cpu: CpuId, task: TaskId, interruptible_only: bool) -> Performed {
        self.charge(cpu, self.config.costs.wake_ns);
        Performed::Value(self.try_to_wake_up(cpu, task, interruptible_only) as u64)
    }

    /// `try_to_wake_up()`: if the task's state is one this wake-up may end, set it
    /// RUNNING and, if it is off its CPU, queue it. Returns whether it was woken.
    ///
    /// The real function takes the task's runqueue lock, which orders it after the
    /// waker's earlier stores; here the waker's buffer drains first for the same reason.
    /// The state is read from memory, so a sleeper's state store still sitting in its
    /// own store buffer (`__set_current_state` without a barrier) is not seen.
    pub fn try_to_wake_up(&self, cpu: CpuId, task: TaskId, interruptible_only: bool) -> bool {
        self.mem.drain_all(cpu);
        let (word, status) = {
            let tasks = self.tasks.borrow();
            (tasks[task.index()].state_word, tasks[task.index()].status)
        };
        if status == TaskStatus::Exited {
            return false;
        }
        let state = TaskState::from_word(self.mem.load_sc(word));
        let wakeable = match state {
            TaskState::Interruptible => true,
            TaskState::Uninterruptible => !interruptible_only,
            TaskState::Running | TaskState::Dead => false,
        };
        if !wakeable {
            return false;
        }
        // A task sleeping on a lock is woken only by the lock's hand-off.
        if self.waits_for_lock(task) {
            return false;
        }
        self.mem.store_sc(word, TaskState::Running as u64);
        self.make_runnable(cpu, task);
        self.carry_time_to(task, self.clock_ns(cpu));
        true
    }
}
