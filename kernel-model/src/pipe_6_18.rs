//! Pipes as fs/pipe.c has them in 6.18: a reader head `rd_wait` (readers, and pollers of
//! the read end) and a writer head `wr_wait` (writers, and pollers of the write end);
//! readers and writers wait **exclusively**; wake-ups carry a key (`EPOLLIN|EPOLLRDNORM`
//! to readers, `EPOLLOUT|EPOLLWRNORM` to writers) that `ep_poll_callback` filters on.
//!
//! Read from a 6.6-era fs/pipe.c (docs/eventpoll-history.md §4.3, index id 16796534)
//! with the one later change the history lists: since aaec5a95d596 (6.14) `pipe_read`
//! wakes the writers only when the pipe is no longer full (the exact condition is
//! marked unverified there). The wake conditions:
//! - `pipe_write` wakes `rd_wait` when it leaves **if the pipe was empty or anyone ever
//!   polled it** (`poll_usage`: the source's concession to epoll, so an edge-triggered
//!   reader sees every write), before sleeping only if it was empty, and the next writer
//!   if room remains;
//! - `pipe_read` wakes `wr_wait` if the pipe was full (and no longer is), and the next
//!   reader if data remains after it slept;
//! - `pipe_release` of the last reader or writer wakes **all** waiters on both heads,
//!   without a key.
//!
//! The data structures and the 2.6.x port's simplifications are shared with
//! [`crate::pipe`]: sixteen one-page slots (`max_usage` 16), the occupancy in the word
//! `nrbufs`, SIGPIPE not sent, `-ERESTARTSYS` as EINTR, no fasync. Simplified here:
//! `poll_usage` is an object field (it only ever goes from false to true, so a racing
//! writer can at most miss the first poll's effect — the kernel reads it without a lock
//! too); `wait_event_interruptible_exclusive`'s autoremoving entry is a task entry removed
//! after the sleep (a woken task's entry that is still queued cannot be woken twice: the
//! next exclusive wake passes to the next sleeper, as with autoremove); the `_sync` hint is
//! not modelled (as in the seed port).

use sim::waitq::{WakeFunction, WakeMode};
use sim::{Granularity, TaskState, WaitQueueId, Word};

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::objects::PipeId;
use crate::objects::{PAGE_SIZE, PIPE_BUFFERS};
use crate::poll::{PollTable, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};

/// The handles of a 6.18 pipe (copied out of the arena: no borrow across an `.await`).
#[derive(Clone, Copy, Debug)]
struct Pipe618 {
    rd_wait: WaitQueueId,
    wr_wait: WaitQueueId,
    mutex: sim::LockId,
    words: Word,
}

impl Pipe618 {
    /// `head - tail`: the slots in use.
    fn occupancy(&self) -> Word {
        self.words
    }
    fn readers(&self) -> Word {
        self.words.offset(1)
    }
    fn writers(&self) -> Word {
        self.words.offset(2)
    }
}

impl<G: Granularity> Kernel<G> {
    fn pipe_6_18(&self, pipe: PipeId) -> Option<Pipe618> {
        let found = self.objects.borrow().pipes.get(pipe).map(|p| Pipe618 {
            rd_wait: p.wait,
            wr_wait: p.wr_wait.unwrap_or(p.wait),
            mutex: p.mutex,
            words: p.words,
        });
        match found {
            Ok(p) => Some(p),
            Err(error) => {
                self.report_stale("pipe", error);
                None
            }
        }
    }

    /// `wake_up_interruptible_sync_poll(head, key)`: one exclusive waiter (and every
    /// non-exclusive entry before it: the epoll hooks).
    async fn pipe_wake_poll(&self, head: WaitQueueId, key: u32, what: &'static str) {
        self.cx
            .note(|| format!("  wake_up_interruptible_sync_poll(&pipe->{what})"));
        self.cx
            .wake_up_with(self, head, WakeMode::Interruptible, 1, u64::from(key))
            .await;
    }

    /// `pipe_poll()` of 6.18: hook the head of the file's direction, note the poll
    /// (`poll_usage`), then read the state without the mutex: IN|RDNORM if not empty,
    /// HUP without writers (read end); OUT|WRNORM if not full, ERR without readers
    /// (write end).
    pub(crate) async fn pipe_poll_6_18(&self, pipe: PipeId, readable: bool, pt: PollTable) -> u32 {
        let Some(p) = self.pipe_6_18(pipe) else {
            return 0;
        };
        let head = if readable { p.rd_wait } else { p.wr_wait };
        self.poll_wait(head, pt).await;
        if let Ok(pipe) = self.objects.borrow_mut().pipes.get_mut(pipe) {
            pipe.poll_usage = true;
        }
        let cx = &self.cx;
        let occupancy = cx.read_once(p.occupancy()).await;
        let mut mask = 0;
        if readable {
            if occupancy > 0 {
                mask |= POLLIN | POLLRDNORM;
            }
            if cx.read_once(p.writers()).await == 0 {
                mask |= POLLHUP;
            }
        } else {
            if occupancy < PIPE_BUFFERS {
                mask |= POLLOUT | POLLWRNORM;
            }
            if cx.read_once(p.readers()).await == 0 {
                mask |= POLLERR;
            }
        }
        mask
    }

    /// `wait_event_interruptible_exclusive(head, cond)` with the pipe mutex dropped:
    /// queue exclusively at the tail, sleep until `cond` (re-checked after every
    /// wake-up) or a signal (EINTR).
    async fn pipe_wait_exclusive(&self, p: &Pipe618, head: WaitQueueId, readable: bool) -> bool {
        let cx = &self.cx;
        let task = cx.current().expect("pipe waits run in task context");
        let wait = cx.new_wait_entry(WakeFunction::Default(task), true);
        let lock = cx.waitqueue_lock(head);
        let mut interrupted = false;
        loop {
            let flags = cx.spin_lock_irqsave(lock).await;
            if cx
                .state()
                .waitqueues
                .borrow()
                .entry_on(head, wait)
                .is_none()
            {
                cx.add_wait_queue_tail_locked(head, wait).await;
            }
            cx.set_current_state(TaskState::Interruptible).await;
            cx.spin_unlock_irqrestore(lock, flags).await;
            let ready = if readable {
                cx.read_once(p.occupancy()).await > 0 || cx.read_once(p.writers()).await == 0
            } else {
                cx.read_once(p.occupancy()).await < PIPE_BUFFERS
                    || cx.read_once(p.readers()).await == 0
            };
            if ready {
                break;
            }
            if cx.signal_pending() {
                interrupted = true;
                break;
            }
            cx.schedule().await;
        }
        cx.set_current_state_plain(TaskState::Running).await;
        cx.remove_wait_queue(head, wait).await;
        cx.free_wait_entry(wait);
        !interrupted
    }

    /// `pipe_read()` of 6.18.
    pub(crate) async fn pipe_read_6_18(
        &self,
        pipe: PipeId,
        len: usize,
        nonblock: bool,
    ) -> SysResult<Vec<u8>> {
        // Null read succeeds.
        if len == 0 {
            return Ok(Vec::new());
        }
        let p = self.pipe_6_18(pipe).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        cx.mutex_lock(p.mutex).await;
        let mut was_full = cx.load(p.occupancy()).await >= PIPE_BUFFERS;
        let mut wake_next_reader = false;
        let mut out = Vec::new();
        let mut error = None;
        loop {
            let occupancy = cx.load(p.occupancy()).await;
            if occupancy > 0 {
                let packet = self.pipe_front_is_packet(pipe);
                let mut emptied = self.pipe_take(pipe, len - out.len(), &mut out);
                if packet && !emptied {
                    // A packet read in part: the rest is dropped ("buf->len = 0").
                    self.pipe_drop_front(pipe);
                    emptied = true;
                }
                if emptied {
                    cx.store(p.occupancy(), occupancy - 1).await;
                }
                // After a packet the read is done ("total_len = chars").
                if packet || out.len() == len {
                    break;
                }
                if cx.load(p.occupancy()).await > 0 {
                    continue;
                }
            }
            if cx.load(p.writers()).await == 0 || !out.is_empty() {
                break;
            }
            if nonblock {
                error = Some(Errno::EAGAIN);
                break;
            }
            cx.mutex_unlock(p.mutex).await;
            if was_full {
                self.pipe_wake_poll(p.wr_wait, POLLOUT | POLLWRNORM, "wr_wait")
                    .await;
            }
            if !self.pipe_wait_exclusive(&p, p.rd_wait, true).await {
                return Err(Errno::EINTR);
            }
            cx.mutex_lock(p.mutex).await;
            was_full = cx.load(p.occupancy()).await >= PIPE_BUFFERS;
            wake_next_reader = true;
        }
        let occupancy = cx.load(p.occupancy()).await;
        if occupancy == 0 {
            wake_next_reader = false;
        }
        cx.mutex_unlock(p.mutex).await;
        // aaec5a95d596 (6.14): no wake while the pipe is still full.
        if was_full && occupancy < PIPE_BUFFERS {
            self.pipe_wake_poll(p.wr_wait, POLLOUT | POLLWRNORM, "wr_wait")
                .await;
        }
        if wake_next_reader {
            self.pipe_wake_poll(p.rd_wait, POLLIN | POLLRDNORM, "rd_wait")
                .await;
        }
        match error {
            Some(errno) if out.is_empty() => Err(errno),
            _ => Ok(out),
        }
    }

    /// `pipe_write()` of 6.18. `packetized`: the write end has `O_DIRECT`
    /// (`is_packetized`): each page of the write becomes a packet buffer, which no later
    /// write merges into; a packetized write may still merge into a plain last buffer,
    /// as the kernel's merge test looks at that buffer's flag only.
    pub(crate) async fn pipe_write_6_18(
        &self,
        pipe: PipeId,
        data: &[u8],
        nonblock: bool,
        packetized: bool,
    ) -> SysResult<usize> {
        // Null write succeeds.
        if data.is_empty() {
            return Ok(0);
        }
        let p = self.pipe_6_18(pipe).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        cx.mutex_lock(p.mutex).await;
        let mut was_empty = cx.load(p.occupancy()).await == 0;
        let mut wake_next_writer = false;
        let mut written = 0;
        let mut error = None;
        if cx.load(p.readers()).await == 0 {
            error = Some(Errno::EPIPE);
        } else {
            // Merge a partial page into the last slot if it has room.
            let chars = data.len() % PAGE_SIZE;
            if chars != 0 && !was_empty && self.pipe_merge(pipe, &data[..chars]) {
                written = chars;
            }
        }
        while error.is_none() && written < data.len() {
            if cx.load(p.readers()).await == 0 {
                error = Some(Errno::EPIPE);
                break;
            }
            let occupancy = cx.load(p.occupancy()).await;
            if occupancy < PIPE_BUFFERS {
                let chunk = (data.len() - written).min(PAGE_SIZE);
                self.pipe_push_page(pipe, &data[written..written + chunk], packetized);
                cx.store(p.occupancy(), occupancy + 1).await;
                written += chunk;
                continue;
            }
            if nonblock {
                error = Some(Errno::EAGAIN);
                break;
            }
            if cx.signal_pending() {
                error = Some(Errno::EINTR);
                break;
            }
            cx.mutex_unlock(p.mutex).await;
            if was_empty {
                self.pipe_wake_poll(p.rd_wait, POLLIN | POLLRDNORM, "rd_wait")
                    .await;
            }
            let woken = self.pipe_wait_exclusive(&p, p.wr_wait, false).await;
            cx.mutex_lock(p.mutex).await;
            if !woken {
                error = Some(Errno::EINTR);
                break;
            }
            was_empty = cx.load(p.occupancy()).await == 0;
            wake_next_writer = true;
        }
        if cx.load(p.occupancy()).await >= PIPE_BUFFERS {
            wake_next_writer = false;
        }
        cx.mutex_unlock(p.mutex).await;
        let poll_usage = self
            .objects
            .borrow()
            .pipes
            .get(pipe)
            .is_ok_and(|p| p.poll_usage);
        if was_empty || poll_usage {
            self.pipe_wake_poll(p.rd_wait, POLLIN | POLLRDNORM, "rd_wait")
                .await;
        }
        if wake_next_writer {
            self.pipe_wake_poll(p.wr_wait, POLLOUT | POLLWRNORM, "wr_wait")
                .await;
        }
        match error {
            Some(errno) if written == 0 => Err(errno),
            _ => Ok(written),
        }
    }

    /// `pipe_release()` of 6.18: the last close of one end. If one side remains, wake
    /// everyone on both heads (unkeyed).
    pub(crate) async fn pipe_release_6_18(&self, pipe: PipeId, decr: u64, decw: u64) {
        let Some(p) = self.pipe_6_18(pipe) else {
            return;
        };
        let cx = &self.cx;
        cx.mutex_lock(p.mutex).await;
        let readers = cx.load(p.readers()).await - decr;
        let writers = cx.load(p.writers()).await - decw;
        cx.store(p.readers(), readers).await;
        cx.store(p.writers(), writers).await;
        if (readers == 0) != (writers == 0) {
            cx.note(|| "  pipe_release: wake_up_interruptible_all(rd_wait, wr_wait)".to_string());
            cx.wake_up_with(self, p.rd_wait, WakeMode::Interruptible, 0, 0)
                .await;
            cx.wake_up_with(self, p.wr_wait, WakeMode::Interruptible, 0, 0)
                .await;
        }
        cx.mutex_unlock(p.mutex).await;
        if readers == 0 && writers == 0 {
            let step = cx.step();
            if let Err(error) = self.objects.borrow_mut().pipes.free(pipe, step) {
                self.report_stale("pipe", error);
            }
            cx.free_words(p.words);
        }
    }
}
