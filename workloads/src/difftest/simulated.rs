//! The simulated side: the program as the one task of a fresh machine running the
//! `6.18` port, called through `kernel-model` directly (no scenario text in the hot
//! path), at syscall granularity on one CPU with the canonical schedule — a
//! single-threaded program has one execution.

use std::cell::RefCell;
use std::rc::Rc;

use kernel_model::eventpoll_6_18::Timespec;
use kernel_model::objects::SockType;
use kernel_model::timerfd::Itimerspec;
use kernel_model::user::UserBufferSpec;
use kernel_model::{EpollEvent, Errno, Kernel, KernelVersion, Options, SysResult, World};
use sim::strategy::Canonical;
use sim::RunEnd;
use sim::SyscallSteps;
use sim::{CpuId, Scheduler};

use super::native::BYTES_KEPT_MAX;
use super::program::{Call, CallOutcome, WaitKind};

/// How a simulated run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimEnd {
    Completed,
    /// The task blocked for good, or the run stopped: the calls before are kept.
    Stopped(String),
}

/// The run options: 6.18, one CPU, syscall granularity.
pub fn options() -> Options {
    let mut options = Options::default();
    options.kernel.version = KernelVersion::V6_18;
    options.machine.cpus = 1;
    options.machine.max_steps = 50_000_000;
    options
}

fn outcome<T>(result: &SysResult<T>, ret: impl FnOnce(&T) -> i64) -> CallOutcome {
    match result {
        Ok(v) => CallOutcome {
            ret: ret(v),
            ..CallOutcome::default()
        },
        Err(errno) => failed(*errno),
    }
}

fn failed(errno: Errno) -> CallOutcome {
    CallOutcome {
        ret: -1,
        errno: errno.number() as i32,
        ..CallOutcome::default()
    }
}

/// One call on the simulated kernel.
pub async fn call(k: &Kernel<SyscallSteps>, call: &Call) -> CallOutcome {
    match *call {
        Call::EpollCreate { size } => outcome(&k.sys_epoll_create(size).await, |fd| *fd as i64),
        Call::EpollCreate1 { flags } => outcome(&k.sys_epoll_create1(flags).await, |fd| *fd as i64),
        Call::EpollCtl {
            epfd,
            op,
            fd,
            event,
        } => {
            let event = event.map(|(events, data)| EpollEvent { events, data });
            outcome(&k.sys_epoll_ctl(epfd, op, fd, event).await, |_| 0)
        }
        Call::EpollWait {
            kind,
            epfd,
            maxevents,
        } => {
            let buffer = UserBufferSpec::default();
            let result = match kind {
                WaitKind::Wait => k.sys_epoll_wait(epfd, buffer, maxevents, 0).await,
                WaitKind::Pwait { all_signals } => {
                    k.sys_epoll_pwait(epfd, buffer, maxevents, 0, all_signals)
                        .await
                }
                WaitKind::Pwait2 { timeout_ns } => {
                    let timeout = Timespec {
                        tv_sec: timeout_ns.div_euclid(1_000_000_000),
                        tv_nsec: timeout_ns.rem_euclid(1_000_000_000),
                    };
                    k.sys_epoll_pwait2(epfd, buffer, maxevents, Some(timeout), false)
                        .await
                }
            };
            match result {
                Ok(events) => CallOutcome {
                    ret: events.len() as i64,
                    events: events.iter().map(|e| (e.events, e.data)).collect(),
                    ..CallOutcome::default()
                },
                Err(errno) => failed(errno),
            }
        }
        Call::Pipe => pair(k.sys_pipe().await),
        Call::Pipe2 { flags } => pair(k.sys_pipe2(flags).await),
        Call::Socketpair { sock_type } => {
            let kind = if sock_type & 0xf == 2 {
                SockType::Dgram
            } else {
                SockType::Stream
            };
            pair(
                k.sys_socketpair_typed(kind, (sock_type & !0xf) as u32)
                    .await,
            )
        }
        Call::Eventfd2 { count, flags } => {
            outcome(&k.sys_eventfd2(count, flags).await, |fd| *fd as i64)
        }
        Call::TimerfdCreate { clock, flags } => {
            outcome(&k.sys_timerfd_create(clock, flags).await, |fd| *fd as i64)
        }
        Call::TimerfdSettime {
            fd,
            flags,
            value_ns,
        } => {
            let new = Itimerspec {
                interval_ns: 0,
                value_ns,
            };
            outcome(&k.sys_timerfd_settime(fd, flags, new).await, |_| 0)
        }
        Call::Dup { fd } => outcome(&k.sys_dup(fd).await, |fd| *fd as i64),
        Call::Dup2 { oldfd, newfd } => outcome(&k.sys_dup2(oldfd, newfd).await, |fd| *fd as i64),
        Call::Dup3 {
            oldfd,
            newfd,
            flags,
        } => outcome(&k.sys_dup3(oldfd, newfd, flags).await, |fd| *fd as i64),
        Call::Fcntl { fd, cmd, arg } => outcome(&k.sys_fcntl(fd, cmd, arg).await, |v| *v as i64),
        Call::FcntlGetfl { fd } => outcome(
            &k.sys_fcntl(fd, kernel_model::syscalls::F_GETFL, 0).await,
            |v| *v as i64,
        ),
        Call::FcntlSetfl { fd, flags } => outcome(
            &k.sys_fcntl(fd, kernel_model::syscalls::F_SETFL, flags)
                .await,
            |v| *v as i64,
        ),
        Call::Close { fd } => outcome(&k.sys_close(fd).await, |_| 0),
        Call::Read { fd, len } => match k.sys_read(fd, len).await {
            Ok(bytes) => CallOutcome {
                ret: bytes.len() as i64,
                bytes: if bytes.len() <= BYTES_KEPT_MAX {
                    bytes
                } else {
                    Vec::new()
                },
                ..CallOutcome::default()
            },
            Err(errno) => failed(errno),
        },
        Call::Write { fd, len } => outcome(&k.sys_write(fd, &vec![b'x'; len]).await, |n| *n as i64),
        Call::WriteU64 { fd, value } => {
            outcome(&k.sys_write(fd, &value.to_le_bytes()).await, |n| *n as i64)
        }
        Call::Shutdown { fd, how } => outcome(&k.sys_shutdown(fd, how).await, |_| 0),
    }
}

fn pair(result: SysResult<[i32; 2]>) -> CallOutcome {
    match result {
        Ok(fds) => CallOutcome {
            ret: 0,
            fds,
            ..CallOutcome::default()
        },
        Err(errno) => failed(errno),
    }
}

/// Runs `calls` as the one task of a fresh 6.18 machine.
pub fn run(options: &Options, calls: &[Call]) -> (Vec<CallOutcome>, SimEnd) {
    let mut world =
        World::<SyscallSteps>::new(options, 0xd1ff).expect("the difftest options are valid");
    let process = world.process("app");
    let results = Rc::new(RefCell::new(Vec::with_capacity(calls.len())));
    let out = results.clone();
    let program: Vec<Call> = calls.to_vec();
    world.spawn(process, "main", Some(CpuId(0)), move |k| async move {
        for c in &program {
            let outcome = call(&k, c).await;
            out.borrow_mut().push(outcome);
        }
    });
    let mut strategy = Canonical::default();
    strategy.begin_execution();
    let outcome = world.run(&mut strategy);
    let results = std::mem::take(&mut *results.borrow_mut());
    let end = match outcome.result.end {
        RunEnd::Completed if results.len() == calls.len() => SimEnd::Completed,
        RunEnd::Quiescent { .. } => {
            SimEnd::Stopped(format!("call {} blocked for good", results.len() + 1))
        }
        other => SimEnd::Stopped(format!("the run ended {other:?}")),
    };
    (results, end)
}
