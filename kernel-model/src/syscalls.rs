//! The system calls. Each begins with a syscall-entry step (where tasks' syscalls
//! interleave at every granularity), ends by mixing its result into the trace hash, and
//! follows the originals' error paths in order.

use sim::{Granularity, LockKind, Name, TaskId};

use crate::errno::{Errno, SysResult};
use crate::eventpoll::EP_MAX_EVENTS;
use crate::fdtable::FdTable;
use crate::inject::Injection;
use crate::kernel::{Kernel, KernelVersion};
use crate::objects::{
    FileKind, FileLabel, Process, ProcessId, SockType, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY,
};
use crate::poll::{EpollEvent, EPOLLERR, EPOLLHUP, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD};
use crate::user::{UserBufferSpec, UserEvents};

/// `fcntl` commands.
pub const F_DUPFD: i32 = 0;
pub const F_GETFD: i32 = 1;
pub const F_SETFD: i32 = 2;
pub const F_GETFL: i32 = 3;
pub const F_SETFL: i32 = 4;
/// `F_DUPFD_CLOEXEC` (`F_LINUX_SPECIFIC_BASE + 6`, 2.6.24).
pub const F_DUPFD_CLOEXEC: i32 = 1030;
/// `FD_CLOEXEC`: the one descriptor flag (`F_GETFD`, `F_SETFD`).
pub const FD_CLOEXEC: u32 = 1;
pub use crate::objects::{O_CLOEXEC, O_DIRECT, O_NOTIFICATION_PIPE};

/// `RLIMIT_NOFILE` (x86), the one resource limit the model has.
pub const RLIMIT_NOFILE: u32 = 7;
/// `RLIM_NLIMITS` of 2.6.22: resources from it up are EINVAL.
pub const RLIM_NLIMITS: u32 = 15;
/// `RLIM_INFINITY` (`~0UL`).
pub const RLIM_INFINITY: u64 = u64::MAX;

/// `shutdown` how values.
pub const SHUT_RD: i32 = 0;
pub const SHUT_WR: i32 = 1;
pub const SHUT_RDWR: i32 = 2;

/// The `const sigset_t __user *sigmask` of `epoll_pwait` and `epoll_pwait2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserSigmask {
    /// A NULL pointer: the task's mask stays as it is.
    Null,
    /// A mask blocking every signal (the model's masks are all or nothing).
    AllSignals,
    /// A pointer `copy_from_user` cannot read: EFAULT.
    BadAddress,
}

impl From<bool> for UserSigmask {
    /// `true`: every signal blocked; `false`: NULL.
    fn from(block_signals: bool) -> UserSigmask {
        if block_signals {
            UserSigmask::AllSignals
        } else {
            UserSigmask::Null
        }
    }
}

impl<G: Granularity> Kernel<G> {
    /// Creates a process with descriptors 0, 1 and 2 open on a terminal (regular files).
    pub fn new_process(&self, name: &str) -> ProcessId {
        let id = ProcessId(self.objects.borrow().processes.len() as u32);
        let file_lock = self.cx.new_lock(
            LockKind::Spin,
            "&files->file_lock",
            Name::new("files", id.0 as u64, "->file_lock"),
        );
        let mut fdtable = FdTable::new(crate::fdtable::NOFILE_DEFAULT);
        for fd in 0..3 {
            let file = self.alloc_file(
                FileKind::Regular,
                format!("/dev/tty({name}:{fd})").into(),
                O_RDWR,
            );
            let f_count = self
                .objects
                .borrow()
                .files
                .get(file)
                .map(|f| f.f_count)
                .expect("just allocated");
            fdtable.install(fd, crate::fdtable::FdEntry { file, f_count });
        }
        self.objects.borrow_mut().processes.push(Process {
            id,
            name: name.to_string(),
            fdtable,
            file_lock,
        });
        id
    }

    /// `fork()`'s `dup_fd`: a child with a copy of the parent's table, each file with one
    /// more reference. Done between runs or by the parent before it shares anything, so
    /// plain stores suffice.
    pub fn fork_process(&self, parent: ProcessId, name: &str) -> ProcessId {
        let id = ProcessId(self.objects.borrow().processes.len() as u32);
        let file_lock = self.cx.new_lock(
            LockKind::Spin,
            "&files->file_lock",
            Name::new("files", id.0 as u64, "->file_lock"),
        );
        let fdtable = self.objects.borrow().processes[parent.0 as usize]
            .fdtable
            .clone();
        for (_, entry) in fdtable.open_fds() {
            let mem = &self.cx.state().mem;
            mem.store_sc(entry.f_count, mem.load_sc(entry.f_count) + 1);
        }
        self.objects.borrow_mut().processes.push(Process {
            id,
            name: name.to_string(),
            fdtable,
            file_lock,
        });
        id
    }

    /// Sets the descriptor limit, soft and hard, from outside the run (a harness's
    /// `ulimit -n` before the program starts; a task calls [`Kernel::sys_setrlimit`]).
    pub fn set_nofile_limit(&self, process: ProcessId, limit: usize) {
        let mut objects = self.objects.borrow_mut();
        let table = &mut objects.processes[process.0 as usize].fdtable;
        table.limit = limit;
        table.hard_limit = table.hard_limit.max(limit);
    }

    /// `sys_setrlimit(resource, {rlim_cur, rlim_max})`, 2.6.22's checks in order: a
    /// resource at or above `RLIM_NLIMITS` is EINVAL, `rlim_cur > rlim_max` EINVAL,
    /// raising `rlim_max` EPERM (the tasks lack `CAP_SYS_RESOURCE`), an `RLIMIT_NOFILE`
    /// `rlim_max` above `NR_OPEN` EPERM. The new soft limit governs every later descriptor
    /// allocation of the process (EMFILE at it); descriptors already open above it stay.
    ///
    /// Simplified: `RLIMIT_NOFILE` is the only limit the model has, so another valid
    /// resource is EINVAL here where the kernel would store it; and the kernel stores the
    /// pair under `task_lock(current->group_leader)`, which the model has no lock for —
    /// the store is one step, and `get_unused_fd` reads `rlim_cur` without a lock anyway.
    pub async fn sys_setrlimit(&self, resource: u32, soft: u64, hard: u64) -> SysResult<()> {
        self.cx.syscall("setrlimit").await;
        let result = self.setrlimit(resource, soft, hard);
        self.finish("setrlimit", &result, |_| 0);
        result
    }

    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> SysResult<()> {
        if resource >= RLIM_NLIMITS || soft > hard {
            return Err(Errno::EINVAL);
        }
        if resource != RLIMIT_NOFILE {
            return Err(Errno::EINVAL);
        }
        let process = self.current_process();
        let mut objects = self.objects.borrow_mut();
        let table = &mut objects.processes[process.0 as usize].fdtable;
        if hard > table.hard_limit as u64 || hard > crate::fdtable::NR_OPEN as u64 {
            return Err(Errno::EPERM);
        }
        // Both fit: hard <= NR_OPEN, soft <= hard.
        table.limit = soft as usize;
        table.hard_limit = hard as usize;
        Ok(())
    }

    /// `poll(&pfd, 1, timeout_ms)`: the `revents` of the one descriptor (0 when it
    /// timed out). A negative `timeout_ms` waits for ever. `POLLNVAL` for a descriptor
    /// that is not open (poll reports it rather than failing); EINTR when a signal
    /// arrives before anything is ready.
    pub async fn sys_poll(&self, fd: i32, events: u32, timeout_ms: i32) -> SysResult<u32> {
        self.cx.syscall("poll").await;
        let result = self.do_poll(fd, events, timeout_ms).await;
        self.finish("poll", &result, |revents| i64::from(*revents != 0));
        result
    }

    pub(crate) fn finish<T>(
        &self,
        name: &'static str,
        result: &SysResult<T>,
        value: impl Fn(&T) -> i64,
    ) {
        let code = match result {
            Ok(v) => value(v),
            Err(errno) => -errno.number(),
        };
        self.cx.mix_into_hash(code as u64);
        self.cx.note(|| match result {
            Ok(_) => format!("{name} returns {code}"),
            Err(errno) => format!("{name} fails with {errno}"),
        });
    }

    // ---- epoll ---------------------------------------------------------------------------

    /// `sys_epoll_create(size)`.
    pub async fn sys_epoll_create(&self, size: i32) -> SysResult<i32> {
        self.cx.syscall("epoll_create").await;
        let result = self.epoll_create(size).await;
        self.finish("epoll_create", &result, |fd| *fd as i64);
        result
    }

    async fn epoll_create(&self, size: i32) -> SysResult<i32> {
        if size <= 0 {
            return Err(Errno::EINVAL);
        }
        if self.version() == KernelVersion::V6_18 {
            return self.do_epoll_create(0).await;
        }
        let label = format!("ep{}", self.objects.borrow().next_id);
        let ep = match self.version() {
            KernelVersion::V2_6_22 => self.ep_alloc_2_6_22(&label)?,
            KernelVersion::Seed | KernelVersion::V2_6_21 => self.ep_alloc(&label)?,
            KernelVersion::V6_18 => self.ep_alloc_6_18(&label)?,
        };
        // ep_getfd() (eventpollfs) opens it read-only; anon_inode_getfd() read-write.
        let access = match self.version().epoll_file_source() {
            crate::kernel::EpollFileSource::AnonInode => O_RDWR,
            crate::kernel::EpollFileSource::Eventpollfs => O_RDONLY,
        };
        let file = self.alloc_file(FileKind::Epoll(ep), label.into(), access);
        // Simplified: ep_getfd() / anon_inode_getfd() take the descriptor before they
        // make the file (their ENFILE, inode and dentry failures are not modelled: the
        // only failures here are ep_alloc's ENOMEM, then EMFILE, in that order in
        // every version — see EpollFileSource for the full orders), and on failure sys_epoll_create calls
        // ep_free(ep) + kfree(ep) itself; here the file comes first, so the failure
        // path drops it, which runs the same ep_eventpoll_close -> ep_free + kfree
        // through __fput (the new set has no items: the only extra steps are __fput's).
        self.install_or_put(file).await
    }

    /// `sys_epoll_create1(flags)` (2.6.27): ENOSYS on the versions before it; on 6.18
    /// `do_epoll_create(flags)` (EINVAL for flags other than EPOLL_CLOEXEC).
    pub async fn sys_epoll_create1(&self, flags: i32) -> SysResult<i32> {
        self.cx.syscall("epoll_create1").await;
        let result = if self.version().is_modern() {
            self.do_epoll_create(flags).await
        } else {
            Err(Errno::ENOSYS)
        };
        self.finish("epoll_create1", &result, |fd| *fd as i64);
        result
    }

    /// `sys_epoll_ctl(epfd, op, fd, event)`. `event` is `None` for a NULL (or unreadable)
    /// user pointer.
    pub async fn sys_epoll_ctl(
        &self,
        epfd: i32,
        op: i32,
        fd: i32,
        event: Option<EpollEvent>,
    ) -> SysResult<()> {
        self.cx.syscall("epoll_ctl").await;
        let result = self.epoll_ctl(epfd, op, fd, event).await;
        self.finish("epoll_ctl", &result, |_| 0);
        result
    }

    async fn epoll_ctl(
        &self,
        epfd: i32,
        op: i32,
        fd: i32,
        event: Option<EpollEvent>,
    ) -> SysResult<()> {
        let mut epds = EpollEvent { events: 0, data: 0 };
        if op != EPOLL_CTL_DEL {
            epds = event.ok_or(Errno::EFAULT)?;
        }
        let file = self.fget(epfd).await.ok_or(Errno::EBADF)?;
        let Some(tfile) = self.fget(fd).await else {
            self.fput(file).await;
            return Err(Errno::EBADF);
        };
        let result = self.epoll_ctl_files(file, tfile, op, fd, epds).await;
        self.fput(tfile).await;
        self.fput(file).await;
        result
    }

    async fn epoll_ctl_files(
        &self,
        file: crate::objects::FileId,
        tfile: crate::objects::FileId,
        op: i32,
        fd: i32,
        mut epds: EpollEvent,
    ) -> SysResult<()> {
        if self.version() == KernelVersion::V6_18 {
            return self.do_epoll_ctl(file, tfile, op, fd, epds).await;
        }
        if !self.file_has_poll(tfile) {
            return Err(Errno::EPERM);
        }
        let ep = match self.file_epoll(file) {
            Some(ep) if file != tfile => ep,
            _ => return Err(Errno::EINVAL),
        };
        if self.version() == KernelVersion::V2_6_22 {
            return self.epoll_ctl_2_6_22(ep, tfile, op, fd, epds).await;
        }
        let sem = self.with_ep(ep, |e| e.sem).ok_or(Errno::EBADF)?;
        let take_sem = !self.injected(Injection::CtlWithoutSem);
        if take_sem {
            self.cx.down_write(sem).await;
        }
        let epi = self.ep_find(ep, tfile, fd).await;
        let result = match op {
            EPOLL_CTL_ADD => match epi {
                None => {
                    epds.events |= EPOLLERR | EPOLLHUP;
                    self.ep_insert(ep, epds, tfile, fd).await
                }
                Some(_) => Err(Errno::EEXIST),
            },
            EPOLL_CTL_DEL => match epi {
                Some(epi) => self.ep_remove(ep, epi).await,
                None => Err(Errno::ENOENT),
            },
            EPOLL_CTL_MOD => match epi {
                Some(epi) => {
                    epds.events |= EPOLLERR | EPOLLHUP;
                    self.ep_modify(ep, epi, epds).await
                }
                None => Err(Errno::ENOENT),
            },
            _ => Err(Errno::EINVAL),
        };
        if let Some(epi) = epi {
            self.ep_release_epitem(epi).await;
        }
        if take_sem {
            self.cx.up_write(sem).await;
        }
        result
    }

    /// `ep_poll` of the version run.
    async fn ep_poll_of_version(
        &self,
        ep: crate::objects::EventPollId,
        events: &mut UserEvents,
        maxevents: usize,
        timeout_ms: i32,
    ) -> SysResult<usize> {
        match self.version() {
            KernelVersion::V2_6_22 => self.ep_poll_2_6_22(ep, events, maxevents, timeout_ms).await,
            KernelVersion::Seed | KernelVersion::V2_6_21 => {
                self.ep_poll(ep, events, maxevents, timeout_ms).await
            }
            KernelVersion::V6_18 => {
                let deadline = self.ep_timeout_to_timespec(timeout_ms);
                self.ep_poll_6_18(ep, events, maxevents, deadline).await
            }
        }
    }

    /// The locked part of `sys_epoll_ctl` in 2.6.22: under `ep->mtx` (not taken with
    /// `ctl-without-sem`), `ep_find` without a reference, then ADD / DEL / MOD.
    async fn epoll_ctl_2_6_22(
        &self,
        ep: crate::objects::EventPollId,
        tfile: crate::objects::FileId,
        op: i32,
        fd: i32,
        mut epds: EpollEvent,
    ) -> SysResult<()> {
        let mtx = self.with_ep(ep, |e| e.sem).ok_or(Errno::EBADF)?;
        let take_mtx = !self.injected(Injection::CtlWithoutSem);
        if take_mtx {
            self.cx.mutex_lock(mtx).await;
        }
        let epi = self.ep_find_2_6_22(ep, tfile, fd);
        let result = match (op, epi) {
            (EPOLL_CTL_ADD, None) => {
                epds.events |= EPOLLERR | EPOLLHUP;
                self.ep_insert_2_6_22(ep, epds, tfile, fd).await
            }
            (EPOLL_CTL_ADD, Some(_)) => Err(Errno::EEXIST),
            (EPOLL_CTL_DEL, Some(epi)) => self.ep_remove_2_6_22(ep, epi).await,
            (EPOLL_CTL_MOD, Some(epi)) => {
                epds.events |= EPOLLERR | EPOLLHUP;
                self.ep_modify_2_6_22(ep, epi, epds).await
            }
            (EPOLL_CTL_DEL | EPOLL_CTL_MOD, None) => Err(Errno::ENOENT),
            _ => Err(Errno::EINVAL),
        };
        if take_mtx {
            self.cx.mutex_unlock(mtx).await;
        }
        result
    }

    /// `sys_epoll_wait(epfd, events, maxevents, timeout)`: the events delivered.
    pub async fn sys_epoll_wait(
        &self,
        epfd: i32,
        buffer: UserBufferSpec,
        maxevents: i32,
        timeout_ms: i32,
    ) -> SysResult<Vec<EpollEvent>> {
        self.cx.syscall("epoll_wait").await;
        let result = self.epoll_wait(epfd, buffer, maxevents, timeout_ms).await;
        self.mix_events(&result);
        self.finish("epoll_wait", &result, |events| events.len() as i64);
        result
    }

    async fn epoll_wait(
        &self,
        epfd: i32,
        buffer: UserBufferSpec,
        maxevents: i32,
        timeout_ms: i32,
    ) -> SysResult<Vec<EpollEvent>> {
        if self.version() == KernelVersion::V6_18 {
            let deadline = self.ep_timeout_to_timespec(timeout_ms);
            return self.do_epoll_wait(epfd, buffer, maxevents, deadline).await;
        }
        if maxevents <= 0 || maxevents > EP_MAX_EVENTS {
            return Err(Errno::EINVAL);
        }
        if buffer.bad_address {
            return Err(Errno::EFAULT);
        }
        let file = self.fget(epfd).await.ok_or(Errno::EBADF)?;
        let Some(ep) = self.file_epoll(file) else {
            self.fput(file).await;
            return Err(Errno::EINVAL);
        };
        let mut events = UserEvents::new(buffer, self.options.fault_service_ns);
        let result = self
            .ep_poll_of_version(ep, &mut events, maxevents as usize, timeout_ms)
            .await;
        self.fput(file).await;
        let count = result?;
        events.events.truncate(count);
        Ok(events.events)
    }

    /// `sys_epoll_pwait(...)`: with a mask (`UserSigmask::AllSignals`), every signal is
    /// blocked for the duration of the wait (`sigprocmask(SIG_SETMASK, ...)` around
    /// `sys_epoll_wait`), so a signal sent meanwhile stays pending without interrupting
    /// it, and counts again once the old mask is back. Signal masks are modelled as
    /// all-or-nothing. A mask the kernel cannot copy (`UserSigmask::BadAddress`) is EFAULT
    /// before anything else (2.6.22's `copy_from_user` in sys_epoll_pwait, 6.18's
    /// `set_user_sigmask` in do_epoll_pwait). `true`/`false` convert to a mask/NULL.
    pub async fn sys_epoll_pwait(
        &self,
        epfd: i32,
        buffer: UserBufferSpec,
        maxevents: i32,
        timeout_ms: i32,
        sigmask: impl Into<UserSigmask>,
    ) -> SysResult<Vec<EpollEvent>> {
        self.cx.syscall("epoll_pwait").await;
        let result = match sigmask.into() {
            UserSigmask::BadAddress => Err(Errno::EFAULT),
            sigmask => {
                let wait = self.epoll_wait(epfd, buffer, maxevents, timeout_ms);
                self.with_user_sigmask(sigmask, wait).await
            }
        };
        self.mix_events(&result);
        self.finish("epoll_pwait", &result, |events| events.len() as i64);
        result
    }

    /// Runs `wait` under the mask the caller gave (`set_user_sigmask`), then puts the old
    /// one back. On EINTR the kernel restores the mask after the handler ran; with every
    /// signal blocked there is no EINTR, so it is restored at once. (`wait` is a future:
    /// nothing of it runs before the mask is set.)
    async fn with_user_sigmask<R>(
        &self,
        sigmask: UserSigmask,
        wait: impl std::future::Future<Output = R>,
    ) -> R {
        let block_signals = sigmask == UserSigmask::AllSignals;
        let saved = block_signals.then(|| self.cx.set_signals_blocked(true));
        let result = wait.await;
        if let Some(saved) = saved {
            self.cx.set_signals_blocked(saved);
        }
        result
    }

    /// `sys_epoll_pwait2(epfd, events, maxevents, timeout, sigmask)` (5.11): ENOSYS
    /// before it. On 6.18 the timespec is read (`None` = a NULL pointer, wait forever;
    /// EINVAL when out of range), then the wait runs as `epoll_pwait`'s with the mask.
    /// The timespec is checked before the mask (`SYSCALL_DEFINE6(epoll_pwait2)` reads it,
    /// then `do_epoll_pwait` calls `set_user_sigmask`: EFAULT for a bad mask).
    pub async fn sys_epoll_pwait2(
        &self,
        epfd: i32,
        buffer: UserBufferSpec,
        maxevents: i32,
        timeout: Option<crate::eventpoll_6_18::Timespec>,
        sigmask: impl Into<UserSigmask>,
    ) -> SysResult<Vec<EpollEvent>> {
        self.cx.syscall("epoll_pwait2").await;
        let sigmask = sigmask.into();
        let result = if self.version().is_modern() {
            match self.epoll_pwait2_deadline(timeout) {
                Ok(_) if sigmask == UserSigmask::BadAddress => Err(Errno::EFAULT),
                Ok(deadline) => {
                    let wait = self.do_epoll_wait(epfd, buffer, maxevents, deadline);
                    self.with_user_sigmask(sigmask, wait).await
                }
                Err(errno) => Err(errno),
            }
        } else {
            Err(Errno::ENOSYS)
        };
        self.mix_events(&result);
        self.finish("epoll_pwait2", &result, |events| events.len() as i64);
        result
    }

    /// `echo N > /proc/sys/fs/epoll/max_user_watches` (a privileged task's write to the
    /// sysctl, collapsed into one call). The file exists on 6.18 only: ENOENT before.
    /// `proc_doulongvec_minmax` refuses a value below its minimum 0 with EINVAL.
    pub async fn sys_sysctl_max_user_watches(&self, watches: i64) -> SysResult<()> {
        self.cx.syscall("sysctl_max_user_watches").await;
        let result = if !self.version().is_modern() {
            Err(Errno::ENOENT)
        } else if watches < 0 {
            Err(Errno::EINVAL)
        } else {
            self.set_max_user_watches(watches as u64);
            Ok(())
        };
        self.finish("sysctl_max_user_watches", &result, |_| 0);
        result
    }

    /// Mixes delivered events into the trace hash (they must match on replay).
    fn mix_events(&self, result: &SysResult<Vec<EpollEvent>>) {
        if let Ok(events) = result {
            for event in events {
                self.cx.mix_into_hash(event.events as u64);
                self.cx.mix_into_hash(event.data);
            }
        }
    }

    // ---- files ---------------------------------------------------------------------------

    /// `sys_pipe()`: `[read end, write end]`.
    pub async fn sys_pipe(&self) -> SysResult<[i32; 2]> {
        self.cx.syscall("pipe").await;
        let result = self.pipe().await;
        self.finish("pipe", &result, |fds| fds[0] as i64);
        result
    }

    /// `sys_pipe2(fds, flags)` (2.6.27; ENOSYS before): `__do_pipe_flags` refuses
    /// flags other than `O_CLOEXEC`, `O_NONBLOCK`, `O_DIRECT` (and
    /// `O_NOTIFICATION_PIPE`, whose watch-queue pipes the model does not have: the
    /// scenario language refuses the bit, and here it is EINVAL with the unknown ones);
    /// both ends get `O_NONBLOCK`, the write end `O_DIRECT` (packet mode), both
    /// descriptors `O_CLOEXEC`.
    pub async fn sys_pipe2(&self, flags: u32) -> SysResult<[i32; 2]> {
        self.cx.syscall("pipe2").await;
        let result = if self.version().missing_syscall("pipe2").is_some() {
            Err(Errno::ENOSYS)
        } else if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
            Err(Errno::EINVAL)
        } else {
            self.pipe_flags(flags).await
        };
        self.finish("pipe2", &result, |fds| fds[0] as i64);
        result
    }

    async fn pipe(&self) -> SysResult<[i32; 2]> {
        self.pipe_flags(0).await
    }

    async fn pipe_flags(&self, flags: u32) -> SysResult<[i32; 2]> {
        let pipe = self.pipe_new()?;
        let id = self
            .objects
            .borrow()
            .pipes
            .get(pipe)
            .map(|p| p.id)
            .unwrap_or(0);
        let read = self.alloc_file(
            FileKind::PipeRead(pipe),
            FileLabel::Numbered(id),
            O_RDONLY | (flags & O_NONBLOCK),
        );
        let write = self.alloc_file(
            FileKind::PipeWrite(pipe),
            FileLabel::Numbered(id),
            O_WRONLY | (flags & (O_NONBLOCK | O_DIRECT)),
        );
        let process = self.current_process();
        let close_on_exec = flags & O_CLOEXEC != 0;
        let r = match self.install_fd_flags(process, read, close_on_exec).await {
            Ok(fd) => fd,
            Err(errno) => {
                self.fput(read).await;
                self.fput(write).await;
                return Err(errno);
            }
        };
        match self.install_fd_flags(process, write, close_on_exec).await {
            Ok(w) => Ok([r, w]),
            Err(errno) => {
                self.close_fd(r).await.ok();
                self.fput(write).await;
                Err(errno)
            }
        }
    }

    /// Opens a regular file (no `f_op->poll`).
    pub async fn sys_open(&self, path: &str) -> SysResult<i32> {
        self.cx.syscall("open").await;
        let file = self.alloc_file(FileKind::Regular, path.to_string().into(), O_RDONLY);
        let result = self.install_or_put(file).await;
        self.finish("open", &result, |fd| *fd as i64);
        result
    }

    /// `sys_read(fd, len)`.
    pub async fn sys_read(&self, fd: i32, len: usize) -> SysResult<Vec<u8>> {
        self.cx.syscall("read").await;
        let result = match self.fget(fd).await {
            None => Err(Errno::EBADF),
            Some(file) => {
                let r = self.vfs_read(file, len).await;
                self.fput(file).await;
                r
            }
        };
        self.finish("read", &result, |bytes| bytes.len() as i64);
        result
    }

    /// `sys_write(fd, bytes)`.
    pub async fn sys_write(&self, fd: i32, data: &[u8]) -> SysResult<usize> {
        self.cx.syscall("write").await;
        let result = match self.fget(fd).await {
            None => Err(Errno::EBADF),
            Some(file) => {
                let r = self.vfs_write(file, data).await;
                self.fput(file).await;
                r
            }
        };
        self.finish("write", &result, |n| *n as i64);
        result
    }

    /// `sys_close(fd)`.
    pub async fn sys_close(&self, fd: i32) -> SysResult<()> {
        self.cx.syscall("close").await;
        let result = self.close_fd(fd).await;
        self.finish("close", &result, |_| 0);
        result
    }

    /// Clears the slot under `file_lock`, then `filp_close` → `fput`.
    pub(crate) async fn close_fd(&self, fd: i32) -> SysResult<()> {
        let process = self.current_process();
        self.close_fd_of(process, fd).await
    }

    pub(crate) async fn close_fd_of(&self, process: ProcessId, fd: i32) -> SysResult<()> {
        let lock = self.objects.borrow().processes[process.0 as usize].file_lock;
        self.cx.spin_lock(lock).await;
        let entry = self.objects.borrow_mut().processes[process.0 as usize]
            .fdtable
            .take(fd);
        self.cx.spin_unlock(lock).await;
        let entry = entry.ok_or(Errno::EBADF)?;
        self.fput(entry.file).await;
        Ok(())
    }

    /// `sys_dup(fd)`: the lowest free descriptor, sharing the file.
    pub async fn sys_dup(&self, fd: i32) -> SysResult<i32> {
        self.cx.syscall("dup").await;
        let result = match self.fget(fd).await {
            None => Err(Errno::EBADF),
            Some(file) => self.install_or_put(file).await,
        };
        self.finish("dup", &result, |fd| *fd as i64);
        result
    }

    /// `sys_dup2(oldfd, newfd)`: closes what `newfd` held, after installing; the new
    /// descriptor's close-on-exec bit is cleared (`do_dup2` without `O_CLOEXEC`).
    pub async fn sys_dup2(&self, oldfd: i32, newfd: i32) -> SysResult<i32> {
        self.cx.syscall("dup2").await;
        let result = self.dup2(oldfd, newfd, false).await;
        self.finish("dup2", &result, |fd| *fd as i64);
        result
    }

    /// `sys_dup3(oldfd, newfd, flags)` (2.6.27; ENOSYS before): `ksys_dup3`'s checks in
    /// order — flags other than `O_CLOEXEC` EINVAL, `oldfd == newfd` EINVAL (where
    /// `dup2` returns `newfd`), `newfd` at or above the limit EBADF, `oldfd` not open
    /// EBADF — then `do_dup2` with the close-on-exec bit from `O_CLOEXEC`.
    pub async fn sys_dup3(&self, oldfd: i32, newfd: i32, flags: u32) -> SysResult<i32> {
        self.cx.syscall("dup3").await;
        let result = if self.version().missing_syscall("dup3").is_some() {
            Err(Errno::ENOSYS)
        } else if flags & !O_CLOEXEC != 0 || oldfd == newfd {
            Err(Errno::EINVAL)
        } else {
            self.dup2(oldfd, newfd, flags & O_CLOEXEC != 0).await
        };
        self.finish("dup3", &result, |fd| *fd as i64);
        result
    }

    async fn dup2(&self, oldfd: i32, newfd: i32, close_on_exec: bool) -> SysResult<i32> {
        let process = self.current_process();
        let limit = self.objects.borrow().processes[process.0 as usize]
            .fdtable
            .limit;
        if newfd < 0 || newfd as usize >= limit {
            return Err(Errno::EBADF);
        }
        let file = self.fget(oldfd).await.ok_or(Errno::EBADF)?;
        if oldfd == newfd {
            self.fput(file).await;
            return Ok(newfd);
        }
        let (lock, f_count) = {
            let objects = self.objects.borrow();
            (
                objects.processes[process.0 as usize].file_lock,
                objects
                    .files
                    .get(file)
                    .map(|f| f.f_count)
                    .map_err(|_| Errno::EBADF)?,
            )
        };
        self.cx.spin_lock(lock).await;
        let old = {
            let mut objects = self.objects.borrow_mut();
            let table = &mut objects.processes[process.0 as usize].fdtable;
            let old = table.take(newfd);
            table.install(newfd, crate::fdtable::FdEntry { file, f_count });
            table.set_close_on_exec_bit(newfd, close_on_exec);
            old
        };
        self.cx.spin_unlock(lock).await;
        if let Some(old) = old {
            self.fput(old.file).await;
        }
        Ok(newfd)
    }

    /// `sys_fcntl(fd, cmd, arg)`: `F_DUPFD` / `F_DUPFD_CLOEXEC` (the lowest free
    /// descriptor at or above `arg`: EINVAL when `arg` is at or above the descriptor
    /// limit, EMFILE when none is free below it; `F_DUPFD_CLOEXEC` came in 2.6.24, an
    /// unknown command — EINVAL — before), `F_GETFD` (`FD_CLOEXEC` when the descriptor
    /// has it, read without a lock, as `get_close_on_exec` does under RCU) / `F_SETFD`
    /// (under `files->file_lock`), `F_GETFL` (the access mode and the status flags) and
    /// `F_SETFL` (`setfl` below); any other command EINVAL.
    pub async fn sys_fcntl(&self, fd: i32, cmd: i32, arg: u32) -> SysResult<u32> {
        self.cx.syscall("fcntl").await;
        let result = match self.fget(fd).await {
            None => Err(Errno::EBADF),
            Some(file) => {
                let process = self.current_process();
                let r = match cmd {
                    F_DUPFD => self.f_dupfd(arg, file, false).await,
                    F_DUPFD_CLOEXEC if self.version().is_modern() => {
                        self.f_dupfd(arg, file, true).await
                    }
                    F_GETFD => {
                        let objects = self.objects.borrow();
                        let table = &objects.processes[process.0 as usize].fdtable;
                        Ok(if table.close_on_exec(fd) {
                            FD_CLOEXEC
                        } else {
                            0
                        })
                    }
                    F_SETFD => {
                        self.set_close_on_exec(process, fd, arg & FD_CLOEXEC != 0)
                            .await;
                        Ok(0)
                    }
                    F_GETFL => self.with_file(file, |f| f.f_flags).ok_or(Errno::EBADF),
                    F_SETFL => self.setfl(file, arg),
                    _ => Err(Errno::EINVAL),
                };
                self.fput(file).await;
                r
            }
        };
        self.finish("fcntl", &result, |v| *v as i64);
        result
    }

    /// `f_dupfd(from, file, flags)`: a new descriptor for `file` (one more reference).
    async fn f_dupfd(
        &self,
        from: u32,
        file: crate::objects::FileId,
        close_on_exec: bool,
    ) -> SysResult<u32> {
        let process = self.current_process();
        let limit = self.objects.borrow().processes[process.0 as usize]
            .fdtable
            .limit;
        if from as usize >= limit {
            return Err(Errno::EINVAL);
        }
        self.get_file(file).await;
        match self
            .install_fd_from(process, file, from as usize, close_on_exec)
            .await
        {
            Ok(newfd) => Ok(newfd as u32),
            Err(errno) => {
                self.fput(file).await;
                Err(errno)
            }
        }
    }

    /// `setfl(fd, filp, arg)`: the status flags `F_SETFL` changes. The model's are
    /// `O_NONBLOCK` and, on 6.18, `O_DIRECT`, which only a pipe accepts (its packet mode;
    /// "Pipe packetized mode is controlled by O_DIRECT flag") — any other file of the
    /// model lacks `FMODE_CAN_ODIRECT`: EINVAL. 2.6.22 asks for `a_ops->direct_IO`,
    /// which none of the model's files has: EINVAL for `O_DIRECT` everywhere.
    /// Simplified: `O_APPEND`, `O_NOATIME` and `FASYNC` are ignored (nothing of the
    /// model reads them).
    fn setfl(&self, file: crate::objects::FileId, arg: u32) -> SysResult<u32> {
        let kind = self.with_file(file, |f| f.kind).ok_or(Errno::EBADF)?;
        let is_pipe = matches!(kind, FileKind::PipeRead(_) | FileKind::PipeWrite(_));
        if arg & O_DIRECT != 0 && !(is_pipe && self.version().is_modern()) {
            return Err(Errno::EINVAL);
        }
        let mask = if self.version().is_modern() {
            O_NONBLOCK | O_DIRECT
        } else {
            O_NONBLOCK
        };
        self.with_file_mut(file, |f| {
            f.f_flags = (f.f_flags & !mask) | (arg & mask);
            0
        })
        .ok_or(Errno::EBADF)
    }

    /// `set_close_on_exec(fd, flag)`: the bit is changed under `files->file_lock`.
    pub(crate) async fn set_close_on_exec(&self, process: ProcessId, fd: i32, on: bool) {
        let lock = self.objects.borrow().processes[process.0 as usize].file_lock;
        self.cx.spin_lock(lock).await;
        self.objects.borrow_mut().processes[process.0 as usize]
            .fdtable
            .set_close_on_exec_bit(fd, on);
        self.cx.spin_unlock(lock).await;
    }

    /// `kill(task, SIGUSR1)`-style signal delivery to one task.
    pub async fn sys_kill(&self, task: TaskId) -> SysResult<()> {
        self.cx.syscall("kill").await;
        self.cx.send_signal(task).await;
        let result = Ok(());
        self.finish("kill", &result, |_| 0);
        result
    }

    /// The signal was handled on the way back to user space (clears the pending flag).
    pub fn handle_signal(&self) {
        self.cx.clear_signal();
    }
}

// ---- eventfd and sockets -------------------------------------------------------------------

impl<G: Granularity> Kernel<G> {
    /// `sys_eventfd(count)` (e1ad7468c77d's first version: no flags): allocate the
    /// context (ENOMEM), then `anon_inode_getfd("[eventfd]")`. If installing the
    /// descriptor fails, the file's last `fput` releases the context (the original's
    /// `put_filp` + `kfree(ctx)` free it once as well). In a tree without eventfd the
    /// number runs `sys_ni_syscall`: ENOSYS ([`crate::kernel::KernelVersion::missing_syscall`]).
    pub async fn sys_eventfd(&self, count: u32) -> SysResult<i32> {
        self.cx.syscall("eventfd").await;
        let result = match self.version().missing_syscall("eventfd") {
            Some(_) => Err(Errno::ENOSYS),
            None => self.eventfd(count).await,
        };
        self.finish("eventfd", &result, |fd| *fd as i64);
        result
    }

    /// `sys_eventfd2(count, flags)` (2.6.27): ENOSYS before; on 6.18 `do_eventfd`: flags
    /// other than EFD_CLOEXEC, EFD_NONBLOCK and EFD_SEMAPHORE are EINVAL; EFD_NONBLOCK is
    /// the file's O_NONBLOCK, EFD_SEMAPHORE makes each read take 1 (EFD_CLOEXEC has
    /// nothing to act on: no exec).
    pub async fn sys_eventfd2(&self, count: u32, flags: u32) -> SysResult<i32> {
        self.cx.syscall("eventfd2").await;
        use crate::eventfd::{EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE};
        let result = if !self.version().is_modern() {
            Err(Errno::ENOSYS)
        } else if flags & !(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE) != 0 {
            Err(Errno::EINVAL)
        } else {
            self.eventfd_flags(count, flags).await
        };
        self.finish("eventfd2", &result, |fd| *fd as i64);
        result
    }

    async fn eventfd(&self, count: u32) -> SysResult<i32> {
        self.eventfd_flags(count, 0).await
    }

    async fn eventfd_flags(&self, count: u32, flags: u32) -> SysResult<i32> {
        let ctx = self.eventfd_ctx_alloc(count)?;
        if flags & crate::eventfd::EFD_SEMAPHORE != 0 {
            self.objects
                .borrow_mut()
                .eventfds
                .get_mut(ctx)
                .map_err(|_| Errno::ENOMEM)?
                .semaphore = true;
        }
        let id = self
            .objects
            .borrow()
            .eventfds
            .get(ctx)
            .map(|c| c.id)
            .unwrap_or(0);
        let file = self.alloc_file(
            FileKind::Eventfd(ctx),
            FileLabel::Numbered(id),
            O_RDWR | (flags & crate::eventfd::EFD_NONBLOCK),
        );
        let process = self.current_process();
        let close_on_exec = flags & crate::eventfd::EFD_CLOEXEC != 0;
        match self.install_fd_flags(process, file, close_on_exec).await {
            Ok(fd) => Ok(fd),
            Err(errno) => {
                self.fput(file).await;
                Err(errno)
            }
        }
    }

    /// `sys_socketpair(AF_UNIX, SOCK_STREAM, 0, sv)`: see [`Kernel::sys_socketpair_typed`].
    pub async fn sys_socketpair(&self) -> SysResult<[i32; 2]> {
        self.cx.syscall("socketpair").await;
        let result = self.socketpair(SockType::Stream, 0).await;
        self.finish("socketpair", &result, |fds| fds[0] as i64);
        result
    }

    /// `sys_socketpair(AF_UNIX, type | flags, 0, sv)`: flags other than
    /// `SOCK_NONBLOCK` and `SOCK_CLOEXEC` are EINVAL (before 2.6.27 every flag is: the
    /// type is then out of range); two `sock_create`s (ENFILE / ENOMEM; the first
    /// socket is released if the second fails), `unix_socketpair`, two files
    /// (`O_NONBLOCK` from `SOCK_NONBLOCK`) and descriptors (EMFILE; what was made is
    /// closed again; close-on-exec from `SOCK_CLOEXEC`). Datagram pairs are 6.18's
    /// ([`crate::socket_dgram`]); the scenario language asks for them on 6.18 only.
    pub async fn sys_socketpair_typed(&self, sk_type: SockType, flags: u32) -> SysResult<[i32; 2]> {
        self.cx.syscall("socketpair").await;
        let result = if flags & !(O_CLOEXEC | O_NONBLOCK) != 0
            || (flags != 0 && !self.version().is_modern())
        {
            Err(Errno::EINVAL)
        } else {
            self.socketpair(sk_type, flags).await
        };
        self.finish("socketpair", &result, |fds| fds[0] as i64);
        result
    }

    async fn socketpair(&self, sk_type: SockType, flags: u32) -> SysResult<[i32; 2]> {
        let a = self.sock_create_typed(false, sk_type)?;
        let b = match self.sock_create_typed(false, sk_type) {
            Ok(b) => b,
            Err(errno) => {
                self.unix_release_sock(a).await;
                return Err(errno);
            }
        };
        self.unix_socketpair(a, b).await;
        let access = O_RDWR | (flags & O_NONBLOCK);
        let fa = self.alloc_file(FileKind::Socket(a), self.sock_label(a).into(), access);
        let fb = self.alloc_file(FileKind::Socket(b), self.sock_label(b).into(), access);
        let process = self.current_process();
        let close_on_exec = flags & O_CLOEXEC != 0;
        let first = match self.install_fd_flags(process, fa, close_on_exec).await {
            Ok(fd) => fd,
            Err(errno) => {
                self.fput(fa).await;
                self.fput(fb).await;
                return Err(errno);
            }
        };
        match self.install_fd_flags(process, fb, close_on_exec).await {
            Ok(second) => Ok([first, second]),
            Err(errno) => {
                self.close_fd(first).await.ok();
                self.fput(fb).await;
                Err(errno)
            }
        }
    }

    /// `sys_shutdown(fd, how)`: `sockfd_lookup` (EBADF; ENOTSOCK for a file that is not
    /// a socket), then `unix_shutdown` (which returns 0 for every `how`).
    pub async fn sys_shutdown(&self, fd: i32, how: i32) -> SysResult<()> {
        self.cx.syscall("shutdown").await;
        let result = match self.fget(fd).await {
            None => Err(Errno::EBADF),
            Some(file) => {
                let r = match self.with_file(file, |f| f.kind) {
                    Some(FileKind::Socket(sock)) => self.unix_shutdown(sock, how).await,
                    Some(_) => Err(Errno::ENOTSOCK),
                    None => Err(Errno::EBADF),
                };
                self.fput(file).await;
                r
            }
        };
        self.finish("shutdown", &result, |_| 0);
        result
    }

    /// A connected stream socket whose peer is the network — `socket()` + `connect()` of
    /// a TCP client, collapsed into one call (see [`crate::socket`]). Its data, shutdowns
    /// and errors arrive through [`Kernel::net_deliver`], [`Kernel::net_shutdown`] and
    /// [`Kernel::net_error`] from interrupt handlers; handlers find it with
    /// [`Kernel::external_socket`] (creation order). Errors: ENFILE / ENOMEM (slabs
    /// `sock_inode_cache`, `TCP`), EMFILE.
    pub async fn sys_socket_external(&self) -> SysResult<i32> {
        self.cx.syscall("socket_external").await;
        let result = self.socket_external().await;
        self.finish("socket_external", &result, |fd| *fd as i64);
        result
    }

    pub(crate) async fn socket_external(&self) -> SysResult<i32> {
        let sock = self.sock_create(true)?;
        let state = self
            .with_sock_mut(sock, |s| {
                s.peer = crate::socket::Peer::Network;
                s.words.offset(2)
            })
            .ok_or(Errno::EBADF)?;
        self.cx.store(state, crate::socket::TCP_ESTABLISHED).await;
        self.objects.borrow_mut().external_socks.push(sock);
        self.install_sock(sock, O_RDWR).await
    }

    fn with_sock_mut<R>(
        &self,
        sock: crate::objects::SockId,
        f: impl FnOnce(&mut crate::socket::Sock) -> R,
    ) -> Option<R> {
        self.objects.borrow_mut().socks.get_mut(sock).ok().map(f)
    }

    /// `accept(fd)`: on an opaque file, one pending connection (oldest first) becomes a
    /// socket: one from outside an externally fed socket, one a traced client made with
    /// [`Kernel::sys_connect_to`] the server's end of its pair (EAGAIN when none is
    /// pending; taking the last clears EPOLLIN unless bytes are readable); on a socket
    /// EINVAL (not listening); on anything else ENOTSOCK.
    pub async fn sys_accept(&self, fd: i32) -> SysResult<i32> {
        self.cx.syscall("accept").await;
        let result = self.accept(fd).await;
        self.cx.mix_into_hash(match result {
            Ok(fd) => fd as u64,
            Err(errno) => errno.number() as u64,
        });
        result
    }

    async fn accept(&self, fd: i32) -> SysResult<i32> {
        let file = self.fget(fd).await.ok_or(Errno::EBADF)?;
        let kind = self.with_file(file, |f| f.kind);
        let result = match kind {
            Some(crate::objects::FileKind::Opaque(id)) => self.opaque_take_connection(id).await,
            Some(crate::objects::FileKind::Socket(_)) => Err(Errno::EINVAL),
            _ => Err(Errno::ENOTSOCK),
        };
        self.fput(file).await;
        match result? {
            None => self.socket_external().await,
            Some(sock) => self.install_sock(sock, O_RDWR).await,
        }
    }

    /// A file for `sock` at the lowest free descriptor (EMFILE: the socket is released
    /// with its file).
    async fn install_sock(&self, sock: crate::objects::SockId, access: u32) -> SysResult<i32> {
        let file = self.alloc_file(FileKind::Socket(sock), self.sock_label(sock).into(), access);
        self.install_or_put(file).await
    }

    /// `listen_on(fd, address)`: the opaque file at `fd` (a listening socket of a
    /// recording) is found by `address` from now on — what `bind` and `listen` make of
    /// a socket, collapsed into one call for the model's listener. EBADF, ENOTSOCK (not
    /// an opaque file), EINVAL (it has an address already), EADDRINUSE (another has
    /// this one).
    pub async fn sys_listen_on(&self, fd: i32, address: &str) -> SysResult<()> {
        self.cx.syscall("listen_on").await;
        let result = self.listen_on(fd, address).await;
        self.finish("listen_on", &result, |_| 0);
        result
    }

    async fn listen_on(&self, fd: i32, address: &str) -> SysResult<()> {
        let file = self.fget(fd).await.ok_or(Errno::EBADF)?;
        let result = match self.with_file(file, |f| f.kind) {
            Some(FileKind::Opaque(id)) => {
                let mut objects = self.objects.borrow_mut();
                let has_one = objects
                    .opaques
                    .get(id)
                    .map_or(true, |o| o.address.is_some());
                if has_one {
                    Err(Errno::EINVAL)
                } else if objects.listen_addresses.contains_key(address) {
                    Err(Errno::EADDRINUSE)
                } else {
                    objects.listen_addresses.insert(address.to_string(), file);
                    if let Ok(o) = objects.opaques.get_mut(id) {
                        o.address = Some(address.to_string());
                    }
                    Ok(())
                }
            }
            Some(_) => Err(Errno::ENOTSOCK),
            None => Err(Errno::EBADF),
        };
        self.fput(file).await;
        result
    }

    /// `connect_to(address)`: a stream socket connected to the listener at `address`
    /// (`listen_on`), at the lowest free descriptor — `socket()` + `connect()` of a
    /// client whose server is in the model too, collapsed into one call. The two ends
    /// are an AF_UNIX stream pair ([`Kernel::unix_socketpair`]): the caller keeps one;
    /// the other is queued on the listener for `accept`, whose waiters are woken with
    /// EPOLLIN from this call, in process context (as `unix_stream_connect` calls the
    /// listener's `sk_data_ready`). So what the client writes the server reads, and a
    /// close of either end is the other's EOF and EPOLLHUP|EPOLLRDHUP, with AF_UNIX
    /// semantics also for a TCP connection of a recording (a TCP peer's close is a FIN:
    /// EPOLLIN|EPOLLRDHUP, no EPOLLHUP until this end shuts down too). ECONNREFUSED when
    /// nothing listens at `address` (or its queue is full); ENFILE / ENOMEM / EMFILE as
    /// `socketpair`.
    pub async fn sys_connect_to(&self, address: &str) -> SysResult<i32> {
        self.cx.syscall("connect_to").await;
        let result = self.connect_to(address).await;
        self.finish("connect_to", &result, |fd| *fd as i64);
        result
    }

    async fn connect_to(&self, address: &str) -> SysResult<i32> {
        let listener = self
            .objects
            .borrow()
            .listen_addresses
            .get(address)
            .copied()
            .ok_or(Errno::ECONNREFUSED)?;
        // The listener's file stays while the connection is queued on it: a reference
        // taken unless the last one is already gone (`atomic_inc_not_zero`, as `fget`),
        // for its release may be under way on another CPU.
        let f_count = self
            .with_file(listener, |f| f.f_count)
            .ok_or(Errno::ECONNREFUSED)?;
        loop {
            let count = self.cx.load(f_count).await;
            if count == 0 {
                return Err(Errno::ECONNREFUSED);
            }
            if self.cx.cmpxchg(f_count, count, count + 1).await == count {
                break;
            }
        }
        let result = self.connect_pair(listener).await;
        self.fput(listener).await;
        result
    }

    async fn connect_pair(&self, listener: crate::objects::FileId) -> SysResult<i32> {
        let client = self.sock_create_typed(false, SockType::Stream)?;
        let server = match self.sock_create_typed(false, SockType::Stream) {
            Ok(server) => server,
            Err(errno) => {
                self.unix_release_sock(client).await;
                return Err(errno);
            }
        };
        self.unix_socketpair(client, server).await;
        let fd = match self.install_sock(client, O_RDWR).await {
            Ok(fd) => fd,
            Err(errno) => {
                self.unix_release_sock(server).await;
                return Err(errno);
            }
        };
        if !self.opaque_connect(listener, server).await {
            self.unix_release_sock(server).await;
            self.close_fd(fd).await.ok();
            return Err(Errno::ECONNREFUSED);
        }
        Ok(fd)
    }
}
