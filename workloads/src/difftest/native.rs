//! The host side: each program runs in a forked child with a fresh descriptor table
//! (everything above stderr closed first), SIGPIPE ignored as a server would, the soft
//! descriptor limit at the simulator's 1024, and a 200 ms interval timer that ends a
//! child that blocks (a shrunk program may have lost the call that made a descriptor
//! non-blocking). The child writes each call's result into a shared anonymous mapping;
//! it allocates nothing (the parent may have other threads).

use std::io;

use super::program::{Call, CallOutcome, WaitKind};

/// Bytes of the shared mapping a child writes its results into.
const SHARED_BYTES: usize = 8 << 20;
/// The most events one wait may return into the child's buffer.
const EVENTS_MAX: usize = 2048;
/// The most bytes one read or write moves (the generator stays below).
const IO_MAX: usize = 256 * 1024;
/// Reads of at most this many bytes keep their bytes (larger ones only their count).
pub const BYTES_KEPT_MAX: usize = 64;
/// How long a child may run before it is taken to have blocked.
const CHILD_TIMEOUT_US: i64 = 200_000;

/// How a host run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostEnd {
    /// Every call returned.
    Completed,
    /// The child did not finish (it blocked, or died): the calls before are kept.
    Stopped(String),
}

/// One worker's means of running programs on the host: the shared mapping and the
/// child's buffers, made once.
pub struct HostRunner {
    shared: *mut u8,
    events: Vec<libc::epoll_event>,
    io: Vec<u8>,
    /// All `x`, never written: what `write(fd, N bytes)` writes.
    xs: Vec<u8>,
}

// SAFETY: the mapping is owned by this value and only touched through &mut self.
unsafe impl Send for HostRunner {}

impl Drop for HostRunner {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping this value made.
        unsafe {
            libc::munmap(self.shared.cast(), SHARED_BYTES);
        }
    }
}

/// `uname -r`.
pub fn host_release() -> String {
    // SAFETY: uname fills a local struct.
    unsafe {
        let mut name: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut name) != 0 {
            return "unknown".into();
        }
        std::ffi::CStr::from_ptr(name.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// Writes results into the shared mapping, never past its end.
struct Writer {
    base: *mut u8,
    at: usize,
}

impl Writer {
    fn put(&mut self, bytes: &[u8]) -> bool {
        if self.at + bytes.len() > SHARED_BYTES {
            return false;
        }
        // SAFETY: in bounds of the mapping (checked above).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(self.at), bytes.len());
        }
        self.at += bytes.len();
        true
    }
}

fn errno() -> i32 {
    // SAFETY: the thread's errno location.
    unsafe { *libc::__errno_location() }
}

/// A fresh anonymous mapping of `bytes` shared with the children forked after it: how a
/// child hands its results back without allocating.
pub(crate) fn map_shared(bytes: usize) -> io::Result<*mut u8> {
    // SAFETY: a fresh anonymous shared mapping; nothing else refers to it.
    let shared = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if shared == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(shared.cast())
}

impl HostRunner {
    pub fn new() -> io::Result<HostRunner> {
        let shared = map_shared(SHARED_BYTES)?;
        Ok(HostRunner {
            shared,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS_MAX],
            io: vec![0; IO_MAX],
            xs: vec![b'x'; IO_MAX],
        })
    }

    /// Runs `calls` in a fresh child and returns each call's result.
    pub fn run(&mut self, calls: &[Call]) -> io::Result<(Vec<CallOutcome>, HostEnd)> {
        // SAFETY: the child only makes system calls and writes to memory made before
        // the fork, then _exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: in the child; see above.
            unsafe { self.child(calls) }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        if waited < 0 {
            return Err(io::Error::last_os_error());
        }
        let outcomes = self.decode();
        let end = if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            HostEnd::Completed
        } else if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGALRM {
            HostEnd::Stopped(format!(
                "call {} did not return within {} ms (it blocked)",
                outcomes.len() + 1,
                CHILD_TIMEOUT_US / 1000
            ))
        } else {
            HostEnd::Stopped(format!("the child ended with status {status:#x}"))
        };
        Ok((outcomes, end))
    }

    unsafe fn child(&mut self, calls: &[Call]) -> ! {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = 1024;
            if limit.rlim_max < 1024 {
                limit.rlim_max = 1024;
            }
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        let timer = libc::itimerval {
            it_interval: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            it_value: libc::timeval {
                tv_sec: 0,
                tv_usec: CHILD_TIMEOUT_US,
            },
        };
        libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut());
        let base = self.shared;
        // The count of completed calls lives in the first 8 bytes.
        std::ptr::write_volatile(base.cast::<u64>(), 0);
        let mut writer = Writer { base, at: 8 };
        for (index, call) in calls.iter().enumerate() {
            if !self.call(call, &mut writer) {
                libc::_exit(3);
            }
            std::ptr::write_volatile(base.cast::<u64>(), index as u64 + 1);
        }
        libc::_exit(0)
    }

    /// Makes one call and writes its record: ret (i64), errno (i32), fds (2 × i32),
    /// event count (u32) and events (u32 mask, u64 data), byte count (u32) and bytes.
    unsafe fn call(&mut self, call: &Call, w: &mut Writer) -> bool {
        let mut fds = [0i32; 2];
        let mut nevents = 0usize;
        let mut nbytes = 0usize;
        let ret: i64 = match *call {
            Call::EpollCreate { size } => libc::epoll_create(size) as i64,
            Call::EpollCreate1 { flags } => libc::epoll_create1(flags) as i64,
            Call::EpollCtl {
                epfd,
                op,
                fd,
                event,
            } => {
                let (mask, data) = event.unwrap_or((0, 0));
                let mut ev = libc::epoll_event {
                    events: mask,
                    u64: data,
                };
                let ptr = match event {
                    None => std::ptr::null_mut(),
                    Some(_) => &mut ev as *mut libc::epoll_event,
                };
                libc::epoll_ctl(epfd, op, fd, ptr) as i64
            }
            Call::EpollWait {
                kind,
                epfd,
                maxevents,
            } => {
                let buf = self.events.as_mut_ptr();
                let r = match kind {
                    WaitKind::Wait => libc::epoll_wait(epfd, buf, maxevents, 0),
                    WaitKind::Pwait { all_signals } => {
                        let mut set: libc::sigset_t = std::mem::zeroed();
                        libc::sigfillset(&mut set);
                        let mask = if all_signals {
                            &set as *const libc::sigset_t
                        } else {
                            std::ptr::null()
                        };
                        libc::epoll_pwait(epfd, buf, maxevents, 0, mask)
                    }
                    WaitKind::Pwait2 { timeout_ns } => {
                        let ts = libc::timespec {
                            tv_sec: timeout_ns.div_euclid(1_000_000_000),
                            tv_nsec: timeout_ns.rem_euclid(1_000_000_000),
                        };
                        libc::syscall(
                            libc::SYS_epoll_pwait2,
                            epfd,
                            buf,
                            maxevents,
                            &ts as *const libc::timespec,
                            std::ptr::null::<libc::sigset_t>(),
                            8usize,
                        ) as i32
                    }
                };
                if r > 0 {
                    nevents = (r as usize).min(EVENTS_MAX);
                }
                r as i64
            }
            Call::Pipe => {
                let r = libc::pipe2(fds.as_mut_ptr(), 0);
                if r != 0 {
                    fds = [0, 0];
                }
                r as i64
            }
            Call::Pipe2 { flags } => {
                let r = libc::pipe2(fds.as_mut_ptr(), flags as i32);
                if r != 0 {
                    fds = [0, 0];
                }
                r as i64
            }
            Call::Socketpair { sock_type } => {
                let r = libc::socketpair(libc::AF_UNIX, sock_type, 0, fds.as_mut_ptr());
                if r != 0 {
                    fds = [0, 0];
                }
                r as i64
            }
            Call::Eventfd2 { count, flags } => libc::eventfd(count, flags as i32) as i64,
            Call::TimerfdCreate { clock, flags } => {
                libc::timerfd_create(clock, flags as i32) as i64
            }
            Call::TimerfdSettime {
                fd,
                flags,
                value_ns,
            } => {
                let new = libc::itimerspec {
                    it_interval: libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    },
                    it_value: libc::timespec {
                        tv_sec: (value_ns / 1_000_000_000) as i64,
                        tv_nsec: (value_ns % 1_000_000_000) as i64,
                    },
                };
                libc::timerfd_settime(fd, flags as i32, &new, std::ptr::null_mut()) as i64
            }
            Call::Dup { fd } => libc::dup(fd) as i64,
            Call::Dup2 { oldfd, newfd } => libc::dup2(oldfd, newfd) as i64,
            Call::Dup3 {
                oldfd,
                newfd,
                flags,
            } => libc::dup3(oldfd, newfd, flags as i32) as i64,
            Call::Fcntl { fd, cmd, arg } => libc::fcntl(fd, cmd, arg as libc::c_int) as i64,
            Call::FcntlGetfl { fd } => libc::fcntl(fd, libc::F_GETFL) as i64,
            Call::FcntlSetfl { fd, flags } => libc::fcntl(fd, libc::F_SETFL, flags as i32) as i64,
            Call::Close { fd } => libc::close(fd) as i64,
            Call::Read { fd, len } => {
                let len = len.min(IO_MAX);
                let r = libc::read(fd, self.io.as_mut_ptr().cast(), len);
                if r > 0 && r as usize <= BYTES_KEPT_MAX {
                    nbytes = r as usize;
                }
                r as i64
            }
            Call::Write { fd, len } => {
                libc::write(fd, self.xs.as_ptr().cast(), len.min(IO_MAX)) as i64
            }
            Call::WriteU64 { fd, value } => {
                let bytes = value.to_le_bytes();
                libc::write(fd, bytes.as_ptr().cast(), 8) as i64
            }
            Call::Shutdown { fd, how } => libc::shutdown(fd, how) as i64,
        };
        let err = if ret < 0 { errno() } else { 0 };
        let ret = if ret < 0 { -1 } else { ret };
        let mut ok = w.put(&ret.to_le_bytes())
            && w.put(&err.to_le_bytes())
            && w.put(&fds[0].to_le_bytes())
            && w.put(&fds[1].to_le_bytes())
            && w.put(&(nevents as u32).to_le_bytes());
        for event in &self.events[..nevents] {
            let (mask, data) = (event.events, event.u64);
            ok = ok && w.put(&mask.to_le_bytes()) && w.put(&data.to_le_bytes());
        }
        ok = ok && w.put(&(nbytes as u32).to_le_bytes());
        let bytes = std::slice::from_raw_parts(self.io.as_ptr(), nbytes);
        ok && w.put(bytes)
    }

    fn decode(&self) -> Vec<CallOutcome> {
        // SAFETY: the child has exited; the mapping holds what it wrote.
        let data = unsafe { std::slice::from_raw_parts(self.shared, SHARED_BYTES) };
        let count = u64::from_le_bytes(data[0..8].try_into().expect("8 bytes")) as usize;
        let mut at = 8;
        let mut take = |n: usize| {
            let slice = &data[at..at + n];
            at += n;
            slice
        };
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let ret = i64::from_le_bytes(take(8).try_into().expect("8"));
            let errno = i32::from_le_bytes(take(4).try_into().expect("4"));
            let fd0 = i32::from_le_bytes(take(4).try_into().expect("4"));
            let fd1 = i32::from_le_bytes(take(4).try_into().expect("4"));
            let nevents = u32::from_le_bytes(take(4).try_into().expect("4")) as usize;
            let mut events = Vec::with_capacity(nevents);
            for _ in 0..nevents {
                let mask = u32::from_le_bytes(take(4).try_into().expect("4"));
                let value = u64::from_le_bytes(take(8).try_into().expect("8"));
                events.push((mask, value));
            }
            let nbytes = u32::from_le_bytes(take(4).try_into().expect("4")) as usize;
            let bytes = take(nbytes).to_vec();
            out.push(CallOutcome {
                ret,
                errno,
                events,
                bytes,
                fds: [fd0, fd1],
            });
        }
        out
    }
}
