//! Pipes (fs/pipe.c of 2.6.22): sixteen one-page buffers, one wait queue for readers,
//! writers and pollers of both ends, `i_mutex` around every data operation.
//!
//! `pipe_poll` reads `nrbufs`, `readers` and `writers` without `i_mutex`, so those are
//! shared words; buffer contents are objects under `i_mutex`.
//!
//! Simplifications: `SIGPIPE` is not delivered (a write to a pipe without readers returns
//! EPIPE, as it does for a program that ignores SIGPIPE); `-ERESTARTSYS` surfaces as
//! EINTR (no SA_RESTART); fasync (SIGIO) is not modelled; `autoremove_wake_function`
//! entries are plain task entries removed by `finish_wait` (same wake order, the entry
//! just stays linked until its task runs).

use std::collections::VecDeque;

use sim::waitq::{WakeFunction, WakeMode};
use sim::{Granularity, LockKind, Name, TaskState, WaitQueueId, Word};

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::objects::PipeId;
use crate::poll::{PollTable, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};

pub use crate::objects::{Pipe, PAGE_SIZE, PIPE_BUFFERS};

const PIPE_FIELDS: &[&str] = &["nrbufs", "readers", "writers", "waiting_writers"];

/// The handle fields of a pipe that its operations use (copied out of the arena, so
/// that no borrow is held across an `.await`).
#[derive(Clone, Copy, Debug)]
struct PipeFields {
    wait: WaitQueueId,
    mutex: sim::LockId,
    words: Word,
}

impl PipeFields {
    fn nrbufs(&self) -> Word {
        self.words
    }
    fn readers(&self) -> Word {
        self.words.offset(1)
    }
    fn writers(&self) -> Word {
        self.words.offset(2)
    }
    fn waiting_writers(&self) -> Word {
        self.words.offset(3)
    }
}

impl<G: Granularity> Kernel<G> {
    /// `do_pipe()`'s inode half: a pipe with one reader and one writer.
    pub fn pipe_new(&self) -> SysResult<PipeId> {
        if self.cx.alloc_fails("pipe_inode_info") {
            return Err(Errno::ENOMEM);
        }
        let id = self.objects.borrow_mut().next_id();
        let cx = &self.cx;
        let modern = self.version() == crate::kernel::KernelVersion::V6_18;
        let wait = if modern {
            cx.init_waitqueue_head("&pipe->rd_wait", Name::new("pipe", id, "->rd_wait"))
        } else {
            cx.init_waitqueue_head("&pipe->wait.lock", Name::new("pipe", id, "->wait"))
        };
        let wr_wait = modern
            .then(|| cx.init_waitqueue_head("&pipe->wr_wait", Name::new("pipe", id, "->wr_wait")));
        let mutex = cx.new_lock(
            LockKind::Mutex,
            "&inode->i_mutex",
            Name::new("pipe", id, "->i_mutex"),
        );
        let words = cx.alloc_words("pipe", id, PIPE_FIELDS);
        let mem = &cx.state().mem;
        mem.store_sc(words.offset(1), 1);
        mem.store_sc(words.offset(2), 1);
        let step = cx.step();
        Ok(self.objects.borrow_mut().pipes.alloc(
            Pipe {
                id,
                wait,
                mutex,
                words,
                bufs: VecDeque::new(),
                packet_bufs: 0,
                offset: 0,
                w_counter: 1,
                wr_wait,
                poll_usage: false,
            },
            step,
        ))
    }

    fn pipe_fields(&self, pipe: PipeId) -> Option<PipeFields> {
        let objects = self.objects.borrow();
        match objects.pipes.get(pipe) {
            Ok(p) => Some(PipeFields {
                wait: p.wait,
                mutex: p.mutex,
                words: p.words,
            }),
            Err(error) => {
                drop(objects);
                self.report_stale("pipe", error);
                None
            }
        }
    }

    /// `pipe_poll()`: POLLIN when a buffer is full, POLLHUP on the read end once the last
    /// writer is gone; POLLOUT while fewer than 16 buffers are in use, POLLERR on the
    /// write end once the last reader is gone.
    pub async fn pipe_poll(&self, pipe: PipeId, readable: bool, pt: PollTable) -> u32 {
        let Some(p) = self.pipe_fields(pipe) else {
            return 0;
        };
        self.poll_wait(p.wait, pt).await;
        let nrbufs = self.cx.load(p.nrbufs()).await;
        let mut mask = 0;
        if readable {
            if nrbufs > 0 {
                mask |= POLLIN | POLLRDNORM;
            }
            // f_version (0) != w_counter (1) always holds for anonymous pipes.
            if self.cx.load(p.writers()).await == 0 {
                mask |= POLLHUP;
            }
        } else {
            if nrbufs < PIPE_BUFFERS {
                mask |= POLLOUT | POLLWRNORM;
            }
            if self.cx.load(p.readers()).await == 0 {
                mask |= POLLERR;
            }
        }
        mask
    }

    /// `pipe_poll` without steps, for checkers.
    pub fn pipe_poll_peek(&self, pipe: PipeId, readable: bool) -> u32 {
        let Ok(words) = self.objects.borrow().pipes.get(pipe).map(|p| p.words) else {
            return 0;
        };
        let nrbufs = self.cx.peek(words);
        if readable {
            let mut mask = if nrbufs > 0 { POLLIN | POLLRDNORM } else { 0 };
            if self.cx.peek(words.offset(2)) == 0 {
                mask |= POLLHUP;
            }
            mask
        } else {
            let mut mask = if nrbufs < PIPE_BUFFERS {
                POLLOUT | POLLWRNORM
            } else {
                0
            };
            if self.cx.peek(words.offset(1)) == 0 {
                mask |= POLLERR;
            }
            mask
        }
    }

    /// `wake_up_interruptible_sync(&pipe->wait)` (pipe_read, pipe_write) and
    /// `wake_up_interruptible(&pipe->wait)` (pipe_release). Simplified: the `_sync`
    /// variant only asks the scheduler not to preempt the waker for the woken task, a
    /// hint the machine does not model (its strategies choose at every step point
    /// alike), so both are the same wake-up here.
    async fn pipe_wake(&self, wait: WaitQueueId) {
        self.cx
            .note(|| "  wake_up_interruptible(&pipe->wait)".to_string());
        self.cx
            .wake_up_with(self, wait, WakeMode::Interruptible, 1, 0)
            .await;
    }

    /// `pipe_wait()`: sleep on the pipe's queue with `i_mutex` dropped.
    async fn pipe_wait(&self, p: &PipeFields) {
        let task = self.cx.current().expect("pipe_wait in task context");
        let wait = self.cx.new_wait_entry(WakeFunction::Default(task), false);
        // prepare_to_wait(&pipe->wait, &wait, TASK_INTERRUPTIBLE)
        let lock = self.cx.waitqueue_lock(p.wait);
        let flags = self.cx.spin_lock_irqsave(lock).await;
        self.cx.add_wait_queue_locked(p.wait, wait).await;
        self.cx.set_current_state(TaskState::Interruptible).await;
        self.cx.spin_unlock_irqrestore(lock, flags).await;
        self.cx.mutex_unlock(p.mutex).await;
        self.cx.schedule().await;
        // finish_wait()
        self.cx.set_current_state_plain(TaskState::Running).await;
        self.cx.remove_wait_queue(p.wait, wait).await;
        self.cx.free_wait_entry(wait);
        self.cx.mutex_lock(p.mutex).await;
    }

    /// `pipe_read()`.
    pub async fn pipe_read(&self, pipe: PipeId, len: usize, nonblock: bool) -> SysResult<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let p = self.pipe_fields(pipe).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        cx.mutex_lock(p.mutex).await;
        let mut out = Vec::new();
        let mut do_wakeup = false;
        let mut error = None;
        loop {
            let nrbufs = cx.load(p.nrbufs()).await;
            if nrbufs > 0 {
                let emptied = self.pipe_take(pipe, len - out.len(), &mut out);
                if emptied {
                    cx.store(p.nrbufs(), nrbufs - 1).await;
                    do_wakeup = true;
                }
                if out.len() == len {
                    break;
                }
                if nrbufs - emptied as u64 > 0 {
                    continue;
                }
            }
            if cx.load(p.writers()).await == 0 {
                break;
            }
            if cx.load(p.waiting_writers()).await == 0 {
                if !out.is_empty() {
                    break;
                }
                if nonblock {
                    error = Some(Errno::EAGAIN);
                    break;
                }
            }
            if cx.signal_pending() {
                if out.is_empty() {
                    error = Some(Errno::EINTR);
                }
                break;
            }
            if do_wakeup {
                self.pipe_wake(p.wait).await;
            }
            self.pipe_wait(&p).await;
        }
        cx.mutex_unlock(p.mutex).await;
        if do_wakeup {
            self.pipe_wake(p.wait).await;
        }
        match error {
            Some(errno) if out.is_empty() => Err(errno),
            _ => Ok(out),
        }
    }

    /// Moves up to `max` bytes from the current buffer to `out`; returns whether the
    /// buffer became empty (and was released).
    pub(crate) fn pipe_take(&self, pipe: PipeId, max: usize, out: &mut Vec<u8>) -> bool {
        let mut objects = self.objects.borrow_mut();
        let objects = &mut *objects;
        let Ok(p) = objects.pipes.get_mut(pipe) else {
            return false;
        };
        let Some(buf) = p.bufs.front_mut() else {
            return false;
        };
        let n = max.min(buf.len());
        out.extend(buf.drain(..n));
        let emptied = buf.is_empty();
        if emptied {
            // The page goes back to the allocator (here: kept for the next write).
            if let Some(page) = p.bufs.pop_front() {
                objects.spare_pages.give(page);
            }
            p.packet_bufs >>= 1;
            p.offset = 0;
        } else {
            p.offset += n as u32;
        }
        emptied
    }

    /// `pipe_write()`.
    pub async fn pipe_write(&self, pipe: PipeId, data: &[u8], nonblock: bool) -> SysResult<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let p = self.pipe_fields(pipe).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        cx.mutex_lock(p.mutex).await;
        let mut written = 0;
        let mut do_wakeup = false;
        let mut error = None;
        if cx.load(p.readers()).await == 0 {
            cx.mutex_unlock(p.mutex).await;
            return Err(Errno::EPIPE);
        }
        // Merge a partial page into the last buffer if it has room.
        let chars = data.len() % PAGE_SIZE;
        let nrbufs = cx.load(p.nrbufs()).await;
        if nrbufs > 0 && chars != 0 && self.pipe_merge(pipe, &data[..chars]) {
            do_wakeup = true;
            written = chars;
        }
        while written < data.len() {
            if cx.load(p.readers()).await == 0 {
                error = Some(Errno::EPIPE);
                break;
            }
            let nrbufs = cx.load(p.nrbufs()).await;
            if nrbufs < PIPE_BUFFERS {
                do_wakeup = true;
                let chunk = (data.len() - written).min(PAGE_SIZE);
                self.pipe_push_page(pipe, &data[written..written + chunk], false);
                cx.store(p.nrbufs(), nrbufs + 1).await;
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
            if do_wakeup {
                self.pipe_wake(p.wait).await;
                do_wakeup = false;
            }
            let waiting = cx.load(p.waiting_writers()).await;
            cx.store(p.waiting_writers(), waiting + 1).await;
            self.pipe_wait(&p).await;
            let waiting = cx.load(p.waiting_writers()).await;
            cx.store(p.waiting_writers(), waiting.saturating_sub(1))
                .await;
        }
        cx.mutex_unlock(p.mutex).await;
        if do_wakeup {
            self.pipe_wake(p.wait).await;
        }
        match error {
            Some(errno) if written == 0 => Err(errno),
            _ => Ok(written),
        }
    }

    /// A new buffer holding `bytes` (at most a page) after the others: a page from the
    /// spare pool, filled. The buffers' contents are the model's own bookkeeping (the
    /// kernel copies into a fresh page in both versions; 2.6.22 with
    /// `pipe_iov_copy_from_user`, 6.18 with `copy_page_from_iter`), shared by both pipes.
    /// A new buffer at the head; `packet`: 6.18's `PIPE_BUF_FLAG_PACKET` (else
    /// `PIPE_BUF_FLAG_CAN_MERGE`).
    pub(crate) fn pipe_push_page(&self, pipe: PipeId, bytes: &[u8], packet: bool) {
        let mut objects = self.objects.borrow_mut();
        let objects = &mut *objects;
        if let Ok(p) = objects.pipes.get_mut(pipe) {
            let mut page = objects.spare_pages.take();
            page.extend_from_slice(bytes);
            if packet {
                p.packet_bufs |= 1 << p.bufs.len();
            }
            p.bufs.push_back(page);
        }
    }

    /// Whether the oldest buffer is a packet (6.18).
    pub(crate) fn pipe_front_is_packet(&self, pipe: PipeId) -> bool {
        self.objects
            .borrow()
            .pipes
            .get(pipe)
            .is_ok_and(|p| p.packet_bufs & 1 != 0)
    }

    /// Drops what is left of the oldest buffer (a packet read in part: "buf->len = 0").
    pub(crate) fn pipe_drop_front(&self, pipe: PipeId) {
        let mut objects = self.objects.borrow_mut();
        let objects = &mut *objects;
        if let Ok(p) = objects.pipes.get_mut(pipe) {
            if let Some(page) = p.bufs.pop_front() {
                objects.spare_pages.give(page);
            }
            p.packet_bufs >>= 1;
            p.offset = 0;
        }
    }

    /// Appends to the last buffer if its page has room for all of `bytes` after the
    /// data (`buf->offset + buf->len + chars <= PAGE_SIZE`: bytes already read from the
    /// front of the page are not reclaimed).
    pub(crate) fn pipe_merge(&self, pipe: PipeId, bytes: &[u8]) -> bool {
        let mut objects = self.objects.borrow_mut();
        let Ok(p) = objects.pipes.get_mut(pipe) else {
            return false;
        };
        let offset = if p.bufs.len() == 1 {
            p.offset as usize
        } else {
            0
        };
        let last_is_packet = p.packet_bufs & (1 << p.bufs.len().saturating_sub(1)) != 0;
        match p.bufs.back_mut() {
            Some(last) if !last_is_packet && offset + last.len() + bytes.len() <= PAGE_SIZE => {
                last.extend_from_slice(bytes);
                true
            }
            _ => false,
        }
    }

    /// `pipe_release(inode, decr, decw)`: the last close of one end.
    pub async fn pipe_release(&self, pipe: PipeId, decr: u64, decw: u64) {
        let Some(p) = self.pipe_fields(pipe) else {
            return;
        };
        let cx = &self.cx;
        cx.mutex_lock(p.mutex).await;
        let readers = cx.load(p.readers()).await - decr;
        let writers = cx.load(p.writers()).await - decw;
        cx.store(p.readers(), readers).await;
        cx.store(p.writers(), writers).await;
        if readers == 0 && writers == 0 {
            cx.mutex_unlock(p.mutex).await;
            let step = cx.step();
            if let Err(error) = self.objects.borrow_mut().pipes.free(pipe, step) {
                self.report_stale("pipe", error);
            }
            cx.free_words(p.words);
            return;
        }
        self.pipe_wake(p.wait).await;
        cx.mutex_unlock(p.mutex).await;
    }
}
