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
    /// On 6.18, whose eventfd and timerfd use `wait_event_interruptible_locked_irq`
    /// instead, the entry goes to the queue's tail (`__add_wait_queue_entry_tail`), as
    /// there. Simplified on 6.18: that macro's entry wakes with `autoremove_wake_function`
    /// (the waker unlinks it, and each later pass of the loop links it again at the tail)
    /// and it tests the signal before the condition after each sleep; here the entry
    /// stays linked where it was until the waiter leaves. Results are the same for one
    /// sleeper; with several sleepers that sleep again after a wake-up, the order of the
    /// next wake-up can differ.
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
        if self.version().is_modern() {
            // 6.18's `do_wait_intr_irq`: `__add_wait_queue_entry_tail`.
            cx.add_wait_queue_tail_locked(wqh, wait).await;
        } else {
            cx.add_wait_queue_locked(wqh, wait).await;
        }
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
        cx.remove_wait_queue_locked(wqh, wait).await;
        cx.set_current_state_plain(TaskState::Running).await;
        cx.free_wait_entry(wait);
        result
    }
}
