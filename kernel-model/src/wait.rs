//! The wait the file kinds share: a task sleeping on a wait queue head whose lock it
//! holds, until a word it guards satisfies a condition.

use sim::waitq::WakeFunction;
use sim::{Granularity, TaskState, WaitQueueId, Word};

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;

impl<G: Granularity> Kernel<G> {
    /// Sleep on `wqh`, entered and left with `wqh.lock` held (`spin_lock_irq`), until
    /// `ready(word)`; returns the value that satisfied it, or EINTR (`-ERESTARTSYS`) on a
    /// pending signal. The loop of 2.6.22's `eventfd_read`/`eventfd_write`: a
    /// `DECLARE_WAITQUEUE` entry added with `__add_wait_queue` (head of the queue,
    /// non-exclusive); loop { `set_current_state(TASK_INTERRUPTIBLE)`; done if ready; EINTR
    /// on a signal; drop the lock; `schedule()`; retake it }; `__remove_wait_queue`;
    /// `__set_current_state(TASK_RUNNING)`.
    ///
    /// Simplified on 6.18, whose eventfd and timerfd use
    /// `wait_event_interruptible_locked_irq` instead: that macro adds its entry at the
    /// queue's tail (`__add_wait_queue_entry_tail`) with `autoremove_wake_function`, and
    /// tests the signal before the condition after each sleep. Results are the same for
    /// one sleeper; with several sleepers on one eventfd or timerfd the wake order (head
    /// first here) is the 2.6.22 one.
    pub(crate) async fn wait_locked_irq(
        &self,
        wqh: WaitQueueId,
        word: Word,
        ready: impl Fn(u64) -> bool,
    ) -> SysResult<u64> {
        let cx = &self.cx;
        let lock = cx.waitqueue_lock(wqh);
        let task = cx.current().expect("a file's wait in task context");
        let wait = cx.new_wait_entry(WakeFunction::Default(task), false);
        cx.add_wait_queue_locked(wqh, wait);
        let result = loop {
            cx.set_current_state(TaskState::Interruptible).await;
            let value = cx.load(word).await;
            if ready(value) {
                break Ok(value);
            }
            if cx.signal_pending() {
                break Err(Errno::EINTR);
            }
            cx.spin_unlock_irq(lock).await;
            cx.schedule().await;
            cx.spin_lock_irq(lock).await;
        };
        cx.remove_wait_queue_locked(wqh, wait);
        cx.set_current_state_plain(TaskState::Running).await;
        cx.free_wait_entry(wait);
        result
    }
}
