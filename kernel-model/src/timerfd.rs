//! timerfd (fs/timerfd.c as 6.18 has it; the `timerfd_create`/`timerfd_settime`/
//! `timerfd_gettime` API of 2.6.25), on virtual time. 6.18 only: the calls are ENOSYS on
//! the 2007 versions (2.6.22's short-lived `sys_timerfd` is not modelled).
//!
//! A context has a wait-queue head `wqh` whose lock protects `ticks`, `expired` and the
//! timer's settings. The timer is a machine event at a virtual time; when it is delivered
//! (an interrupt on any CPU) `timerfd_tmrproc` counts a tick, sets `expired` and wakes
//! `wqh` with the key EPOLLIN. An interval timer is re-armed by the reader
//! (`hrtimer_forward_now` counts the intervals that passed since), as in the kernel.
//!
//! Simplified: every clock (`CLOCK_REALTIME`, `CLOCK_MONOTONIC`, `CLOCK_BOOTTIME`) reads
//! the machine's virtual time, so TFD_TIMER_CANCEL_ON_SET (a realtime clock that is set)
//! never fires and is accepted only as a flag; the alarm clocks need CAP_WAKE_ALARM,
//! which no simulated task has (EPERM); the hrtimer has no slack; `ticks` is a shared
//! word only so that checkers can read it. An event already queued when the timer is
//! re-armed or cancelled is cancelled with it (`hrtimer_try_to_cancel` on a timer that
//! has not started).

use sim::state::Handler;
use sim::waitq::WakeMode;
use sim::{Granularity, Name};

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::objects::{FileId, FileKind, FileLabel, TimerfdId, O_NONBLOCK, O_RDWR};
use crate::poll::{PollTable, POLLIN};

pub use crate::objects::{Itimerspec, TimerfdCtx};

pub const CLOCK_REALTIME: i32 = 0;
pub const CLOCK_MONOTONIC: i32 = 1;
pub const CLOCK_BOOTTIME: i32 = 7;
pub const CLOCK_REALTIME_ALARM: i32 = 8;
pub const CLOCK_BOOTTIME_ALARM: i32 = 9;
/// `TFD_CLOEXEC` (= `O_CLOEXEC`), `TFD_NONBLOCK` (= `O_NONBLOCK`).
pub const TFD_CLOEXEC: u32 = 0o2000000;
pub const TFD_NONBLOCK: u32 = O_NONBLOCK;
/// `timerfd_settime` flags.
pub const TFD_TIMER_ABSTIME: u32 = 1;
pub const TFD_TIMER_CANCEL_ON_SET: u32 = 2;

impl<G: Granularity> Kernel<G> {
    fn timerfd_ctx(&self, ctx: TimerfdId) -> Option<TimerfdCtx> {
        let found = self.objects.borrow().timerfds.get(ctx).copied();
        match found {
            Ok(c) => Some(c),
            Err(error) => {
                self.report_stale("timerfd_ctx", error);
                None
            }
        }
    }

    fn timerfd_update(&self, ctx: TimerfdId, f: impl FnOnce(&mut TimerfdCtx)) {
        if let Ok(c) = self.objects.borrow_mut().timerfds.get_mut(ctx) {
            f(c);
        }
    }

    /// `sys_timerfd_create(clockid, flags)`: ENOSYS before 6.18's API; EINVAL for other
    /// flags or an unknown clock; EPERM for the alarm clocks (no CAP_WAKE_ALARM); then
    /// the context (ENOMEM) and an anonymous-inode file `O_RDWR` (+ O_NONBLOCK).
    pub async fn sys_timerfd_create(&self, clockid: i32, flags: u32) -> SysResult<i32> {
        self.cx.syscall("timerfd_create").await;
        let result = self.timerfd_create(clockid, flags).await;
        self.finish_timerfd("timerfd_create", &result);
        result
    }

    fn finish_timerfd<T: Copy + Into<i64>>(&self, name: &'static str, result: &SysResult<T>) {
        let code = match result {
            Ok(v) => (*v).into(),
            Err(errno) => -errno.number(),
        };
        self.cx.mix_into_hash(code as u64);
        self.cx.note(|| match result {
            Ok(_) => format!("{name} returns {code}"),
            Err(errno) => format!("{name} fails with {errno}"),
        });
    }

    async fn timerfd_create(&self, clockid: i32, flags: u32) -> SysResult<i32> {
        if !self.version().is_modern() {
            return Err(Errno::ENOSYS);
        }
        if flags & !(TFD_CLOEXEC | TFD_NONBLOCK) != 0 {
            return Err(Errno::EINVAL);
        }
        match clockid {
            CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME => {}
            CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        }
        if self.cx.alloc_fails("timerfd_ctx") {
            return Err(Errno::ENOMEM);
        }
        let id = self.objects.borrow_mut().next_id();
        let wqh = self
            .cx
            .init_waitqueue_head("&ctx->wqh.lock", Name::new("timerfd", id, "->wqh"));
        let ticks = self.cx.alloc_words("timerfd", id, &["ticks"]);
        let step = self.cx.step();
        let ctx = self.objects.borrow_mut().timerfds.alloc(
            TimerfdCtx {
                id,
                wqh,
                ticks,
                expired: false,
                interval_ns: 0,
                expires_ns: None,
                event: None,
            },
            step,
        );
        let file = self.alloc_file(
            FileKind::Timerfd(ctx),
            FileLabel::Numbered(id),
            O_RDWR | (flags & TFD_NONBLOCK),
        );
        let process = self.current_process();
        let close_on_exec = flags & TFD_CLOEXEC != 0;
        match self.install_fd_flags(process, file, close_on_exec).await {
            Ok(fd) => Ok(fd),
            Err(errno) => {
                self.fput(file).await;
                Err(errno)
            }
        }
    }

    /// The timerfd behind `fd`, with a reference (EBADF; EINVAL for another file).
    async fn timerfd_fget(&self, fd: i32) -> SysResult<(FileId, TimerfdId)> {
        let file = self.fget(fd).await.ok_or(Errno::EBADF)?;
        match self.with_file(file, |f| f.kind) {
            Some(FileKind::Timerfd(ctx)) => Ok((file, ctx)),
            _ => {
                self.fput(file).await;
                Err(Errno::EINVAL)
            }
        }
    }

    /// `sys_timerfd_settime(fd, flags, new, old)`: EINVAL for other flags; under
    /// `wqh.lock` cancel the timer, clear `expired` and `ticks`, note the old setting,
    /// then arm at `value` (absolute with TFD_TIMER_ABSTIME, else from now) unless it is
    /// 0. Returns the old setting (what `timerfd_gettime` would have said).
    pub async fn sys_timerfd_settime(
        &self,
        fd: i32,
        flags: u32,
        new: Itimerspec,
    ) -> SysResult<Itimerspec> {
        self.cx.syscall("timerfd_settime").await;
        let result = if !self.version().is_modern() {
            Err(Errno::ENOSYS)
        } else if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
            Err(Errno::EINVAL)
        } else {
            match self.timerfd_fget(fd).await {
                Ok((file, ctx)) => {
                    let r = self.timerfd_settime(ctx, flags, new).await;
                    self.fput(file).await;
                    r
                }
                Err(errno) => Err(errno),
            }
        };
        self.finish_timerfd("timerfd_settime", &result.map(|_| 0i64));
        result
    }

    async fn timerfd_settime(
        &self,
        ctx: TimerfdId,
        flags: u32,
        new: Itimerspec,
    ) -> SysResult<Itimerspec> {
        let c = self.timerfd_ctx(ctx).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        let lock = cx.waitqueue_lock(c.wqh);
        cx.spin_lock_irq(lock).await;
        let old = self.timerfd_current(&c);
        if let Some(event) = c.event {
            cx.state().cancel_event(event);
        }
        cx.store(c.ticks, 0).await;
        let now = cx.now_ns();
        let expires = (new.value_ns != 0).then(|| {
            if flags & TFD_TIMER_ABSTIME != 0 {
                new.value_ns
            } else {
                now.saturating_add(new.value_ns)
            }
        });
        self.timerfd_update(ctx, |c| {
            c.expired = false;
            c.interval_ns = new.interval_ns;
            c.expires_ns = expires;
            c.event = None;
        });
        if let Some(expires) = expires {
            self.timerfd_arm(ctx, expires);
        }
        cx.spin_unlock_irq(lock).await;
        Ok(old)
    }

    /// `hrtimer_start`: the expiry as a machine event whose handler is
    /// `timerfd_tmrproc` (an interrupt on any CPU; at once if the time is past).
    fn timerfd_arm(&self, ctx: TimerfdId, expires_ns: u64) {
        let Some(kernel) = self.self_rc() else {
            return;
        };
        let when = expires_ns.max(self.cx.now_ns());
        let event = self.cx.state().add_event(
            when,
            None,
            "timerfd",
            Handler::External(Some(Box::new(move || {
                Box::pin(async move { kernel.timerfd_tmrproc(ctx).await })
            }))),
        );
        self.timerfd_update(ctx, |c| c.event = Some(event));
    }

    /// `timerfd_tmrproc` → `timerfd_triggered`: in the timer interrupt, under
    /// `wqh.lock` (irqsave): `expired = 1`, `ticks++`, `wake_up_locked_poll(EPOLLIN)`.
    async fn timerfd_tmrproc(&self, ctx: TimerfdId) {
        let Some(c) = self.timerfd_ctx(ctx) else {
            return;
        };
        let cx = &self.cx;
        cx.note(|| format!("timerfd_tmrproc: timerfd{} expires", c.id));
        let lock = cx.waitqueue_lock(c.wqh);
        let flags = cx.spin_lock_irqsave(lock).await;
        self.timerfd_update(ctx, |c| {
            c.expired = true;
            c.event = None;
        });
        let ticks = cx.load(c.ticks).await;
        cx.store(c.ticks, ticks + 1).await;
        cx.wake_up_common(self, c.wqh, WakeMode::All, 1, u64::from(POLLIN))
            .await;
        cx.spin_unlock_irqrestore(lock, flags).await;
    }

    /// What `timerfd_gettime` reports: the time left and the interval.
    fn timerfd_current(&self, c: &TimerfdCtx) -> Itimerspec {
        let now = self.cx.now_ns();
        Itimerspec {
            interval_ns: c.interval_ns,
            value_ns: c
                .expires_ns
                .filter(|_| c.event.is_some())
                .map_or(0, |e| e.saturating_sub(now).max(1)),
        }
    }

    /// `hrtimer_forward_now` + restart for an expired interval timer: how many intervals
    /// passed since the expiry (the one that fired included); re-arms past now.
    fn timerfd_forward(&self, ctx: TimerfdId, c: &TimerfdCtx) -> u64 {
        let (Some(expires), true, interval) = (c.expires_ns, c.expired, c.interval_ns) else {
            return 1;
        };
        if interval == 0 {
            return 1;
        }
        let now = self.cx.now_ns();
        let overruns = if now < expires {
            1
        } else {
            (now - expires) / interval + 1
        };
        let next = expires + overruns * interval;
        self.timerfd_update(ctx, |c| {
            c.expires_ns = Some(next);
            c.expired = false;
        });
        self.timerfd_arm(ctx, next);
        overruns
    }

    /// `sys_timerfd_gettime(fd)`: ENOSYS before 6.18; an expired interval timer is
    /// forwarded first (its extra intervals go to `ticks`).
    pub async fn sys_timerfd_gettime(&self, fd: i32) -> SysResult<Itimerspec> {
        self.cx.syscall("timerfd_gettime").await;
        let result = if !self.version().is_modern() {
            Err(Errno::ENOSYS)
        } else {
            match self.timerfd_fget(fd).await {
                Ok((file, ctx)) => {
                    let r = self.timerfd_gettime(ctx).await;
                    self.fput(file).await;
                    r
                }
                Err(errno) => Err(errno),
            }
        };
        self.finish_timerfd("timerfd_gettime", &result.map(|_| 0i64));
        result
    }

    async fn timerfd_gettime(&self, ctx: TimerfdId) -> SysResult<Itimerspec> {
        let c = self.timerfd_ctx(ctx).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        let lock = cx.waitqueue_lock(c.wqh);
        cx.spin_lock_irq(lock).await;
        if c.expired && c.interval_ns != 0 {
            let forwarded = self.timerfd_forward(ctx, &c);
            let ticks = cx.load(c.ticks).await;
            cx.store(c.ticks, ticks + forwarded - 1).await;
        }
        let now = self.timerfd_ctx(ctx).ok_or(Errno::EBADF)?;
        let value = self.timerfd_current(&now);
        cx.spin_unlock_irq(lock).await;
        Ok(value)
    }

    /// `timerfd_poll`: `poll_wait` on `wqh`; EPOLLIN if `ticks` under `wqh.lock`.
    pub async fn timerfd_poll(&self, ctx: TimerfdId, pt: PollTable) -> u32 {
        let Some(c) = self.timerfd_ctx(ctx) else {
            return 0;
        };
        self.poll_wait(c.wqh, pt).await;
        let cx = &self.cx;
        let lock = cx.waitqueue_lock(c.wqh);
        let flags = cx.spin_lock_irqsave(lock).await;
        let ticks = cx.load(c.ticks).await;
        cx.spin_unlock_irqrestore(lock, flags).await;
        if ticks != 0 {
            POLLIN
        } else {
            0
        }
    }

    /// `timerfd_poll` without steps, for checkers.
    pub fn timerfd_poll_peek(&self, ctx: TimerfdId) -> u32 {
        let Ok(word) = self.objects.borrow().timerfds.get(ctx).map(|c| c.ticks) else {
            return 0;
        };
        if self.cx.peek(word) != 0 {
            POLLIN
        } else {
            0
        }
    }

    /// `timerfd_read`: fewer than 8 bytes is EINVAL; under `wqh.lock` wait for a tick
    /// (EAGAIN when non-blocking, EINTR on a signal), forward an expired interval timer
    /// (its missed intervals count), return the ticks and clear them.
    pub async fn timerfd_read(
        &self,
        ctx: TimerfdId,
        len: usize,
        nonblock: bool,
    ) -> SysResult<Vec<u8>> {
        if len < 8 {
            return Err(Errno::EINVAL);
        }
        let c = self.timerfd_ctx(ctx).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        let lock = cx.waitqueue_lock(c.wqh);
        cx.spin_lock_irq(lock).await;
        let mut result = Ok(());
        if cx.load(c.ticks).await == 0 {
            result = if nonblock {
                Err(Errno::EAGAIN)
            } else {
                self.wait_locked_irq(c.wqh, c.ticks, |ticks| ticks != 0)
                    .await
                    .map(|_| ())
            };
        }
        let result = match result {
            Ok(()) => {
                let mut ticks = cx.load(c.ticks).await;
                let now = self.timerfd_ctx(ctx).ok_or(Errno::EBADF)?;
                if now.expired && now.interval_ns != 0 {
                    ticks += self.timerfd_forward(ctx, &now) - 1;
                }
                self.timerfd_update(ctx, |c| c.expired = false);
                cx.store(c.ticks, 0).await;
                Ok(ticks.to_le_bytes().to_vec())
            }
            Err(errno) => Err(errno),
        };
        cx.spin_unlock_irq(lock).await;
        result
    }

    /// `timerfd_release`: cancel the timer, free the context.
    pub async fn timerfd_release(&self, ctx: TimerfdId) {
        let Some(c) = self.timerfd_ctx(ctx) else {
            return;
        };
        if let Some(event) = c.event {
            self.cx.state().cancel_event(event);
        }
        let step = self.cx.step();
        if let Err(error) = self.objects.borrow_mut().timerfds.free(ctx, step) {
            self.report_stale("timerfd_ctx", error);
        }
        self.cx.free_words(c.ticks);
    }
}
