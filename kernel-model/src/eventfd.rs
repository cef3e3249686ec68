//! eventfd (fs/eventfd.c of 2.6.22 — the file's first version, Davide Libenzi, 2007).
//!
//! One `eventfd_ctx` per file: a wait-queue head `wqh` and a 64-bit counter `count`.
//! Every operation runs under `wqh.lock`, so the head's own lock is held while
//! `ep_poll_callback` runs for an eventfd wake-up. A write adds its value to `count` and
//! wakes `wqh`; a read returns `count` and resets it to zero; the kernel-side
//! [`Kernel::eventfd_signal`] adds (saturating at `ULLONG_MAX`, which is how `POLLERR`
//! becomes reachable) and wakes.
//!
//! 6.18 differs where its text does, each switch named where it happens: `eventfd2`'s
//! flags and EFD_SEMAPHORE, keyed wake-ups, the lockless count read in `eventfd_poll`, a
//! write of any length but 8 is EINVAL, and the kernel-side signal is
//! [`Kernel::eventfd_signal_mask`] (adds exactly 1; refused inside an eventfd wake-up,
//! `current->in_eventfd`). See docs/eventpoll-6.18.md.
//!
//! 2.6.22 has only `sys_eventfd(unsigned int count)`: no flags (`EFD_NONBLOCK`,
//! `EFD_CLOEXEC` and `eventfd2` came in 2.6.27, `EFD_SEMAPHORE` in 2.6.30); programs set
//! `O_NONBLOCK` with `fcntl`.
//!
//! `count` is a shared word although every access holds `wqh.lock`: the lost-wakeup
//! checker reads it (through [`Kernel::eventfd_poll_peek`]) without the lock.
//!
//! Simplifications, each named where it happens: `-ERESTARTSYS` surfaces as EINTR (no
//! SA_RESTART), as for pipes; user buffers of read/write never fault (the model's
//! `read`/`write` take lengths and byte slices, so the `put_user`/`copy_from_user`
//! EFAULT paths have no trigger); the anonymous inode is not modelled.

use sim::waitq::WakeMode;
use sim::{Granularity, Name, WaitQueueId};

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::objects::{EventfdId, FileId, FileKind};
use crate::poll::{PollTable, POLLERR, POLLHUP, POLLIN, POLLOUT};

pub use crate::objects::EventfdCtx;

/// `ULLONG_MAX`.
pub const ULLONG_MAX: u64 = u64::MAX;

/// `EFD_SEMAPHORE` (2.6.30), `EFD_CLOEXEC` (= `O_CLOEXEC`), `EFD_NONBLOCK` (= `O_NONBLOCK`).
pub const EFD_SEMAPHORE: u32 = 1;
pub const EFD_CLOEXEC: u32 = 0o2000000;
pub const EFD_NONBLOCK: u32 = crate::objects::O_NONBLOCK;

const EVENTFD_FIELDS: &[&str] = &["count"];

impl<G: Granularity> Kernel<G> {
    /// `sys_eventfd`'s allocation half: `kmalloc` of the context (ENOMEM), then
    /// `init_waitqueue_head` and `ctx->count = count`.
    ///
    /// The context is `kmalloc`ed in 2.6.22 (the `size-32` cache); failure injection
    /// names it `eventfd_ctx`.
    pub fn eventfd_ctx_alloc(&self, count: u32) -> SysResult<EventfdId> {
        if self.cx.alloc_fails("eventfd_ctx") {
            return Err(Errno::ENOMEM);
        }
        let id = self.objects.borrow_mut().next_id();
        let wqh = self
            .cx
            .init_waitqueue_head("&ctx->wqh.lock", Name::new("eventfd", id, "->wqh"));
        let words = self.cx.alloc_words("eventfd", id, EVENTFD_FIELDS);
        self.cx.state().mem.store_sc(words, count as u64);
        let step = self.cx.step();
        Ok(self.objects.borrow_mut().eventfds.alloc(
            EventfdCtx {
                id,
                wqh,
                count: words,
                semaphore: false,
            },
            step,
        ))
    }

    fn eventfd_fields(&self, ctx: EventfdId) -> Option<EventfdCtx> {
        let objects = self.objects.borrow();
        match objects.eventfds.get(ctx) {
            Ok(c) => Some(*c),
            Err(error) => {
                drop(objects);
                self.report_stale("eventfd_ctx", error);
                None
            }
        }
    }

    /// `wake_up_locked(&ctx->wqh)`: `__wake_up_common(q, TASK_UNINTERRUPTIBLE |
    /// TASK_INTERRUPTIBLE, 1, 0, NULL)` with `wqh.lock` already held. Every entry on an
    /// eventfd head is non-exclusive, so everyone is woken, epoll callbacks included.
    ///
    /// 6.18 wakes with a key (`wake_up_locked_poll`): `key` there, none on 2.6.x.
    async fn eventfd_wake_locked(&self, wqh: WaitQueueId, key: u32) {
        self.cx.note(|| "  wake_up_locked(&ctx->wqh)".to_string());
        let key = if self.version().is_modern() { key } else { 0 };
        self.cx
            .wake_up_common(self, wqh, WakeMode::All, 1, u64::from(key))
            .await;
    }

    /// `eventfd_signal(file, n)`: the kernel-side add, usable from interrupt handlers
    /// (it takes `wqh.lock` with `spin_lock_irqsave`). `n < 0` is EINVAL. The add is
    /// clamped so that `count` does not pass `ULLONG_MAX`, which it may *reach* — the
    /// overflow condition `eventfd_poll` reports as POLLERR. Returns the amount added.
    ///
    /// `n` is a C `int` in 2.6.22. A file that is not an eventfd is EINVAL here; the
    /// kernel trusts its callers (they got the file from `eventfd_fget`).
    ///
    /// 6.18 has no count: `eventfd_signal(ctx)` is `eventfd_signal_mask(ctx, 0)`, which
    /// adds exactly 1 (the count argument went in 6.8). There `n` must be 1 (EINVAL
    /// otherwise: the call does not exist), and the result is what was added, 0 or 1
    /// ([`Kernel::eventfd_signal_mask`]).
    pub async fn eventfd_signal(&self, file: FileId, n: i32) -> SysResult<i32> {
        if n < 0 || (self.version().is_modern() && n != 1) {
            return Err(Errno::EINVAL);
        }
        let kind = self.with_file(file, |f| f.kind).ok_or(Errno::EBADF)?;
        let FileKind::Eventfd(ctx) = kind else {
            return Err(Errno::EINVAL);
        };
        if self.version().is_modern() {
            return Ok(self.eventfd_signal_mask(ctx, 0).await);
        }
        let c = self.eventfd_fields(ctx).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        cx.note(|| format!("eventfd_signal(eventfd{}, {n})", c.id));
        let lock = cx.waitqueue_lock(c.wqh);
        let flags = cx.spin_lock_irqsave(lock).await;
        let count = cx.load(c.count).await;
        let mut n = n;
        if ULLONG_MAX - count < n as u64 {
            n = (ULLONG_MAX - count) as i32;
        }
        cx.store(c.count, count + n as u64).await;
        if cx.waitqueue_active(c.wqh) {
            self.eventfd_wake_locked(c.wqh, POLLIN).await;
        }
        cx.spin_unlock_irqrestore(lock, flags).await;
        Ok(n)
    }

    /// `eventfd_signal_mask(ctx, mask)` of 6.18: refused — `WARN_ON_ONCE`, nothing added,
    /// no wake-up — when the task is already inside an eventfd wake-up
    /// (`current->in_eventfd`: a wake-up handler signalling again, which could recurse
    /// without bound through nested wait queues); else under `wqh.lock` (irqsave) with
    /// `in_eventfd` set, `count++` unless it is `ULLONG_MAX` already, and
    /// `wake_up_locked_poll(EPOLLIN | mask)` if anyone waits. Returns what was added.
    ///
    /// In interrupt context `current` is the task the interrupt hit, as in the kernel;
    /// its `in_eventfd` is never set then, since the flag is set only with interrupts off.
    /// No wake-up handler of the model signals an eventfd (ep_poll_callback does not;
    /// KVM's irqfd, vhost and io_uring, which do, are not modelled), so the refusal is
    /// reached only by a kernel user calling this while the flag is set.
    pub async fn eventfd_signal_mask(&self, ctx: EventfdId, mask: u32) -> i32 {
        if self.in_eventfd() {
            self.cx.note(|| {
                "eventfd_signal_mask: WARN_ON_ONCE(current->in_eventfd): refused".to_string()
            });
            return 0;
        }
        let Some(c) = self.eventfd_fields(ctx) else {
            return 0;
        };
        let cx = &self.cx;
        cx.note(|| format!("eventfd_signal_mask(eventfd{}, {mask:#x})", c.id));
        let lock = cx.waitqueue_lock(c.wqh);
        let flags = cx.spin_lock_irqsave(lock).await;
        self.set_in_eventfd(true);
        let count = cx.load(c.count).await;
        let added = if count < ULLONG_MAX {
            cx.store(c.count, count + 1).await;
            1
        } else {
            0
        };
        if cx.waitqueue_active(c.wqh) {
            self.eventfd_wake_locked(c.wqh, POLLIN | mask).await;
        }
        self.set_in_eventfd(false);
        cx.spin_unlock_irqrestore(lock, flags).await;
        added
    }

    /// `current->in_eventfd` (6.18; always false on 2.6.x, which has no such flag).
    pub fn in_eventfd(&self) -> bool {
        let Some(task) = self.cx.current() else {
            return false;
        };
        self.objects
            .borrow()
            .tasks
            .get(&task)
            .is_some_and(|info| info.in_eventfd)
    }

    /// Sets or clears `current->in_eventfd` on 6.18 (no step: a field of the task's own).
    /// Public so that a test can stand for a wake-up handler running inside a wake-up.
    pub fn set_in_eventfd(&self, on: bool) {
        if !self.version().is_modern() {
            return;
        }
        if let Some(task) = self.cx.current() {
            if let Some(info) = self.objects.borrow_mut().tasks.get_mut(&task) {
                info.in_eventfd = on;
            }
        }
    }

    /// `eventfd_release()`: frees the context. No wake-up (nobody can be waiting: a
    /// sleeper holds a file reference, and epoll items were removed by `__fput`'s
    /// `eventpoll_release` first).
    ///
    /// 6.18's release wakes the head with EPOLLHUP first (`wake_up_poll`); with the epoll
    /// items already gone and no sleeper holding the file, nobody is there to hear it.
    pub async fn eventfd_release(&self, ctx: EventfdId) {
        let Some(c) = self.eventfd_fields(ctx) else {
            return;
        };
        if self.version().is_modern() {
            self.cx
                .wake_up_with(self, c.wqh, WakeMode::All, 1, u64::from(POLLHUP))
                .await;
        }
        let step = self.cx.step();
        if let Err(error) = self.objects.borrow_mut().eventfds.free(ctx, step) {
            self.report_stale("eventfd_ctx", error);
        }
        self.cx.free_words(c.count);
    }

    /// `eventfd_poll()`: `poll_wait` on `wqh`, then under `wqh.lock`: POLLIN if
    /// `count > 0`, POLLERR if `count == ULLONG_MAX`, POLLOUT if
    /// `count < ULLONG_MAX - 1`. Never POLLRDNORM/POLLWRNORM, never POLLHUP.
    pub async fn eventfd_poll(&self, ctx: EventfdId, pt: PollTable) -> u32 {
        let Some(c) = self.eventfd_fields(ctx) else {
            return 0;
        };
        self.poll_wait(c.wqh, pt).await;
        let cx = &self.cx;
        if self.version().is_modern() {
            // 6.x reads the count locklessly: the poll_wait registration (under
            // wqh.lock) orders it against a writer's update and wake-up.
            return eventfd_mask(cx.read_once(c.count).await);
        }
        let lock = cx.waitqueue_lock(c.wqh);
        let flags = cx.spin_lock_irqsave(lock).await;
        let count = cx.load(c.count).await;
        cx.spin_unlock_irqrestore(lock, flags).await;
        eventfd_mask(count)
    }

    /// `eventfd_poll` without steps or locks, for checkers.
    pub fn eventfd_poll_peek(&self, ctx: EventfdId) -> u32 {
        let Ok(word) = self.objects.borrow().eventfds.get(ctx).map(|c| c.count) else {
            return 0;
        };
        eventfd_mask(self.cx.peek(word))
    }

    /// `eventfd_read()`: `len < 8` is EINVAL. Under `wqh.lock` (taken with
    /// `spin_lock_irq`, not irqsave — read and write run in process context only): if
    /// the count is 0, EAGAIN for a non-blocking file, else wait for it to become
    /// non-zero. On success the count is reset to 0 and, if anyone waits, `wqh` is woken
    /// (`wake_up_locked`: blocked writers and epoll watchers alike). Returns the 8 bytes
    /// of the old count (host order, little-endian on x86).
    pub async fn eventfd_read(
        &self,
        ctx: EventfdId,
        len: usize,
        nonblock: bool,
    ) -> SysResult<Vec<u8>> {
        if len < 8 {
            return Err(Errno::EINVAL);
        }
        let c = self.eventfd_fields(ctx).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        let lock = cx.waitqueue_lock(c.wqh);
        cx.spin_lock_irq(lock).await;
        let mut res = Err(Errno::EAGAIN);
        let count = cx.load(c.count).await;
        if count > 0 {
            res = Ok(count);
        } else if !nonblock {
            res = self
                .wait_locked_irq(c.wqh, c.count, |count| count > 0)
                .await;
        }
        // eventfd_ctx_do_read: with EFD_SEMAPHORE (6.18) one unit, else the whole count.
        let res = res.map(|count| if c.semaphore { 1.min(count) } else { count });
        if let Ok(ucnt) = res {
            if self.version().is_modern() {
                let count = cx.load(c.count).await;
                cx.store(c.count, count - ucnt).await;
            } else {
                cx.store(c.count, 0).await;
            }
            self.set_in_eventfd(true);
            if cx.waitqueue_active(c.wqh) {
                self.eventfd_wake_locked(c.wqh, POLLOUT).await;
            }
            self.set_in_eventfd(false);
        }
        cx.spin_unlock_irq(lock).await;
        res.map(|ucnt| ucnt.to_le_bytes().to_vec())
    }

    /// `eventfd_write()`: `len < 8` is EINVAL (6.18: `len != 8`); the value is the first 8 bytes (host
    /// order); `ULLONG_MAX` is EINVAL. Under `wqh.lock`: the add must leave the count
    /// below `ULLONG_MAX` (`ULLONG_MAX - count > value`), else EAGAIN when non-blocking
    /// or a wait until a read makes room. Then `count += value` and, if anyone waits,
    /// `wake_up_locked` — **also for a value of 0**, which changes nothing yet wakes
    /// every waiter and runs every epoll callback (an edge for EPOLLET watchers).
    /// Through `write` the count can reach at most `ULLONG_MAX - 1`.
    pub async fn eventfd_write(
        &self,
        ctx: EventfdId,
        data: &[u8],
        nonblock: bool,
    ) -> SysResult<usize> {
        // 2.6.22: `count < sizeof(ucnt)`; 6.18: `count != sizeof(ucnt)` (docs/eventpoll-6.18.md).
        let wrong_length = if self.version().is_modern() {
            data.len() != 8
        } else {
            data.len() < 8
        };
        if wrong_length {
            return Err(Errno::EINVAL);
        }
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&data[..8]);
        let ucnt = u64::from_le_bytes(bytes);
        if ucnt == ULLONG_MAX {
            return Err(Errno::EINVAL);
        }
        let c = self.eventfd_fields(ctx).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        let lock = cx.waitqueue_lock(c.wqh);
        cx.spin_lock_irq(lock).await;
        let mut res = Err(Errno::EAGAIN);
        let count = cx.load(c.count).await;
        if ULLONG_MAX - count > ucnt {
            res = Ok(count);
        } else if !nonblock {
            res = self
                .wait_locked_irq(c.wqh, c.count, |count| ULLONG_MAX - count > ucnt)
                .await;
        }
        if let Ok(count) = res {
            cx.store(c.count, count + ucnt).await;
            self.set_in_eventfd(true);
            if cx.waitqueue_active(c.wqh) {
                self.eventfd_wake_locked(c.wqh, POLLIN).await;
            }
            self.set_in_eventfd(false);
        }
        cx.spin_unlock_irq(lock).await;
        res.map(|_| 8)
    }

    /// `eventfd_fget(fd)`: `fget` plus the type check — EBADF for a bad descriptor,
    /// EINVAL for a file that is not an eventfd. The caller owns the reference (kernel
    /// users keep it to call [`Kernel::eventfd_signal`] later, e.g. from an interrupt
    /// handler) and drops it with `fput`.
    pub async fn eventfd_fget(&self, fd: i32) -> SysResult<FileId> {
        let file = self.fget(fd).await.ok_or(Errno::EBADF)?;
        if !matches!(self.with_file(file, |f| f.kind), Some(FileKind::Eventfd(_))) {
            self.fput(file).await;
            return Err(Errno::EINVAL);
        }
        Ok(file)
    }

    /// The eventfd's counter as the current CPU sees it (for tests and traces).
    pub fn eventfd_count_peek(&self, file: FileId) -> Option<u64> {
        let objects = self.objects.borrow();
        let FileKind::Eventfd(ctx) = objects.files.get(file).ok()?.kind else {
            return None;
        };
        let word = objects.eventfds.get(ctx).ok()?.count;
        Some(self.cx.peek(word))
    }
}

/// The mask `eventfd_poll` computes from a count.
pub fn eventfd_mask(count: u64) -> u32 {
    let mut events = 0;
    if count > 0 {
        events |= POLLIN;
    }
    if count == ULLONG_MAX {
        events |= POLLERR;
    }
    if ULLONG_MAX - 1 > count {
        events |= POLLOUT;
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_at_the_edges() {
        assert_eq!(eventfd_mask(0), POLLOUT);
        assert_eq!(eventfd_mask(1), POLLIN | POLLOUT);
        assert_eq!(eventfd_mask(ULLONG_MAX - 2), POLLIN | POLLOUT);
        assert_eq!(eventfd_mask(ULLONG_MAX - 1), POLLIN);
        assert_eq!(eventfd_mask(ULLONG_MAX), POLLIN | POLLERR);
    }
}
