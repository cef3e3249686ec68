//! `poll(2)` on one descriptor (fs/select.c: `do_sys_poll`, `do_poll`, `__pollwait`,
//! `pollwake`, `poll_freewait`), so that a program can poll an epoll descriptor as the
//! kernel's epoll selftests do (the epoll file's `f_op->poll` then queues the poller on
//! `ep->poll_wait`).
//!
//! Simplified: one `struct pollfd` (the scenarios poll one descriptor at a time), and the
//! table's entries live in the task's [`crate::objects::TaskInfo`] instead of
//! `poll_wqueues` pages on the stack. The timeout is the machine's jiffy timer, rounded
//! up to a whole jiffy (6.18 uses an hrtimer with the task's slack).
//!
//! The two generations differ in how a wake-up between queueing and sleeping is kept:
//! 2.6.22's `do_poll` sets `TASK_INTERRUPTIBLE` before polling and its entries wake with
//! `default_wake_function`; 6.18's entries wake with `pollwake`, which ignores a keyed
//! wake-up for events the poller did not ask for and sets `pwq->triggered`, which
//! `poll_schedule_timeout` checks before sleeping.

use sim::waitq::{WaitEntryId, WakeFunction, WakeMode};
use sim::{Granularity, TaskState, WaitQueueId};

use crate::errno::{Errno, SysResult};
use crate::kernel::{Kernel, CALLBACK_POLLWAKE};
use crate::poll::{PollTable, POLLERR, POLLHUP, POLLNVAL};

impl<G: Granularity> Kernel<G> {
    /// fs/select.c's `do_sys_poll` for one descriptor; `sys_poll` in [`crate::syscalls`]
    /// is the entry.
    pub(crate) async fn do_poll(&self, fd: i32, events: u32, timeout_ms: i32) -> SysResult<u32> {
        let cx = &self.cx;
        let task = cx.current().expect("poll runs in task context");
        let deadline = (timeout_ms >= 0).then(|| cx.now_ns() + timeout_ms as u64 * 1_000_000);
        // pollfd.events with the bits poll always reports.
        let wanted = events | POLLERR | POLLHUP;
        let modern = self.version().is_modern();
        let mut pt = PollTable::Poll { task, key: wanted };
        let mut timed_out = timeout_ms == 0;
        let result = loop {
            if !modern {
                // 2.6.22: set_current_state(TASK_INTERRUPTIBLE) before the pass.
                cx.set_current_state(TaskState::Interruptible).await;
            }
            let revents = match self.fget(fd).await {
                None => POLLNVAL,
                Some(file) => {
                    let mask = self.vfs_poll(file, pt).await & wanted;
                    self.fput(file).await;
                    mask
                }
            };
            // Only the first pass queues the poller (pt->_qproc = NULL).
            pt = PollTable::Null;
            if revents != 0 || timed_out {
                break Ok(revents);
            }
            if cx.signal_pending() {
                break Err(Errno::EINTR);
            }
            if modern {
                // poll_schedule_timeout: sleep unless a pollwake came since the pass.
                cx.set_current_state(TaskState::Interruptible).await;
                if !self.take_poll_triggered(task) {
                    timed_out = !self.poll_schedule(deadline).await;
                }
                self.take_poll_triggered(task);
            } else {
                timed_out = !self.poll_schedule(deadline).await;
            }
        };
        cx.set_current_state_plain(TaskState::Running).await;
        self.poll_freewait(task).await;
        result
    }

    /// `poll_schedule_timeout`: sleeps until woken or the deadline; false when the
    /// deadline passed.
    async fn poll_schedule(&self, deadline: Option<u64>) -> bool {
        self.schedule_until(deadline).await
    }

    /// `__pollwait(filp, whead, p)`: a wait entry for the polling task on `whead`
    /// (`add_wait_queue`), remembered in the task's table for `poll_freewait`.
    pub(crate) async fn pollwait(&self, whead: WaitQueueId, task: sim::TaskId, key: u32) {
        let func = if self.version().is_modern() {
            WakeFunction::Callback {
                kind: CALLBACK_POLLWAKE,
                data: (u64::from(key) << 32) | u64::from(task.0),
            }
        } else {
            WakeFunction::Default(task)
        };
        let entry = self.cx.new_wait_entry(func, false);
        self.cx.add_wait_queue(whead, entry).await;
        if let Some(info) = self.objects.borrow_mut().tasks.get_mut(&task) {
            info.poll_entries.push((whead, entry));
        }
    }

    /// `pollwake(wait, mode, sync, key)`: a keyed wake-up for events the poller did not
    /// ask for is ignored; otherwise `pwq->triggered = 1` and `default_wake_function`.
    pub(crate) async fn pollwake(&self, data: u64, mode: WakeMode, key: u64) -> bool {
        let wanted = (data >> 32) as u32;
        let task = sim::TaskId(data as u32);
        if key != 0 && key as u32 & wanted == 0 {
            return false;
        }
        if let Some(info) = self.objects.borrow_mut().tasks.get_mut(&task) {
            info.poll_triggered = true;
        }
        self.cx.try_to_wake_up(task, mode).await != 0
    }

    /// Reads and clears `pwq->triggered`.
    fn take_poll_triggered(&self, task: sim::TaskId) -> bool {
        self.objects
            .borrow_mut()
            .tasks
            .get_mut(&task)
            .is_some_and(|info| std::mem::take(&mut info.poll_triggered))
    }

    /// `poll_freewait(pwq)`: unlinks and frees every entry the poll queued.
    async fn poll_freewait(&self, task: sim::TaskId) {
        let entries: Vec<(WaitQueueId, WaitEntryId)> = self
            .objects
            .borrow_mut()
            .tasks
            .get_mut(&task)
            .map(|info| std::mem::take(&mut info.poll_entries))
            .unwrap_or_default();
        for (head, entry) in entries {
            self.cx.remove_wait_queue(head, entry).await;
            self.cx.free_wait_entry(entry);
        }
    }
}
