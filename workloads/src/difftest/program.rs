//! A generated program: single-threaded system calls with literal arguments, the result
//! of each call as both sides report it, and the program written as a scenario file.
//!
//! Descriptors are literal numbers: both the host child (which closes everything above
//! stderr first) and the simulated process start with 0, 1 and 2 open and hand out the
//! lowest free number, so the same program names the same files on both sides.

use std::fmt::Write as _;

use kernel_model::poll::{mask_to_string, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD};
use kernel_model::Errno;

/// Which of the three wait calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitKind {
    /// `epoll_wait(ep, maxevents, 0)`.
    Wait,
    /// `epoll_pwait(ep, maxevents, 0, mask)`; `true`: every signal blocked.
    Pwait { all_signals: bool },
    /// `epoll_pwait2(ep, maxevents, &timeout, NULL)` with the timeout in nanoseconds
    /// (0: do not block; negative: EINVAL).
    Pwait2 { timeout_ns: i64 },
}

/// One system call with its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    EpollCreate {
        size: i32,
    },
    EpollCreate1 {
        flags: i32,
    },
    /// `event`: `None` is a NULL `struct epoll_event *`.
    EpollCtl {
        epfd: i32,
        op: i32,
        fd: i32,
        event: Option<(u32, u64)>,
    },
    /// Never blocks: the timeout is 0 (or, for pwait2, invalid).
    EpollWait {
        kind: WaitKind,
        epfd: i32,
        maxevents: i32,
    },
    Pipe,
    /// `pipe2(fds, flags)`.
    Pipe2 {
        flags: u32,
    },
    /// `socketpair(AF_UNIX, type, 0, sv)` with `type` `SOCK_STREAM` (1) or
    /// `SOCK_DGRAM` (2), `SOCK_NONBLOCK` and `SOCK_CLOEXEC` or'ed in.
    Socketpair {
        sock_type: i32,
    },
    Eventfd2 {
        count: u32,
        flags: u32,
    },
    TimerfdCreate {
        clock: i32,
        flags: u32,
    },
    /// `timerfd_settime(fd, flags, {0, 0}, {value_ns})`: interval 0.
    TimerfdSettime {
        fd: i32,
        flags: u32,
        value_ns: u64,
    },
    Dup {
        fd: i32,
    },
    Dup2 {
        oldfd: i32,
        newfd: i32,
    },
    Dup3 {
        oldfd: i32,
        newfd: i32,
        flags: u32,
    },
    /// `fcntl(fd, cmd, arg)` for `F_DUPFD`, `F_DUPFD_CLOEXEC`, `F_GETFD`, `F_SETFD`.
    Fcntl {
        fd: i32,
        cmd: i32,
        arg: u32,
    },
    FcntlGetfl {
        fd: i32,
    },
    FcntlSetfl {
        fd: i32,
        flags: u32,
    },
    Close {
        fd: i32,
    },
    Read {
        fd: i32,
        len: usize,
    },
    /// `len` bytes of `x` (the scenario language's `N bytes`).
    Write {
        fd: i32,
        len: usize,
    },
    /// The 8 little-endian bytes of `value` (an eventfd's counter).
    WriteU64 {
        fd: i32,
        value: u64,
    },
    Shutdown {
        fd: i32,
        how: i32,
    },
}

/// What one call returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallOutcome {
    /// The return value (-1 on failure; 0 for `pipe`/`socketpair`, whose descriptors
    /// are in `fds`; the count for a wait, a read or a write).
    pub ret: i64,
    /// 0 on success.
    pub errno: i32,
    /// The events a wait returned, in order: (mask, data).
    pub events: Vec<(u32, u64)>,
    /// The bytes a read returned.
    pub bytes: Vec<u8>,
    /// The two descriptors of `pipe`/`socketpair`.
    pub fds: [i32; 2],
}

impl CallOutcome {
    /// `ret`, errno name and what came back, as a reader wants to see it.
    pub fn describe(&self) -> String {
        if self.errno != 0 {
            return format!("-1 {}", errno_name(self.errno));
        }
        let mut text = self.ret.to_string();
        if self.fds != [0, 0] {
            let _ = write!(text, " [{}, {}]", self.fds[0], self.fds[1]);
        }
        if !self.events.is_empty() {
            let _ = write!(text, " {}", events_text(&self.events));
        }
        if !self.bytes.is_empty() {
            let _ = write!(
                text,
                " {}",
                crate::scenario::results::format_bytes(&self.bytes)
            );
        }
        text
    }
}

/// `[EPOLLIN:3, EPOLLOUT:4]`: the scenario language's event list.
pub fn events_text(events: &[(u32, u64)]) -> String {
    let items: Vec<String> = events
        .iter()
        .map(|(mask, data)| format!("{}:{data}", mask_to_string(*mask)))
        .collect();
    format!("[{}]", items.join(", "))
}

/// The errno's name where the simulator has one, else its number.
pub fn errno_name(errno: i32) -> String {
    Errno::ALL
        .iter()
        .find(|e| e.number() == errno as i64)
        .map_or_else(|| format!("errno {errno}"), |e| e.name().to_string())
}

fn op_text(op: i32) -> String {
    match op {
        EPOLL_CTL_ADD => "EPOLL_CTL_ADD".into(),
        EPOLL_CTL_DEL => "EPOLL_CTL_DEL".into(),
        EPOLL_CTL_MOD => "EPOLL_CTL_MOD".into(),
        other => other.to_string(),
    }
}

/// A mask as the language writes it: names, then any unnamed bits in hex.
pub(crate) fn mask_text(mask: u32) -> String {
    mask_to_string(mask)
}

impl Call {
    /// The system call's name.
    pub fn name(&self) -> &'static str {
        match self {
            Call::EpollCreate { .. } => "epoll_create",
            Call::EpollCreate1 { .. } => "epoll_create1",
            Call::EpollCtl { .. } => "epoll_ctl",
            Call::EpollWait { kind, .. } => match kind {
                WaitKind::Wait => "epoll_wait",
                WaitKind::Pwait { .. } => "epoll_pwait",
                WaitKind::Pwait2 { .. } => "epoll_pwait2",
            },
            Call::Pipe => "pipe",
            Call::Pipe2 { .. } => "pipe2",
            Call::Socketpair { .. } => "socketpair",
            Call::Eventfd2 { .. } => "eventfd2",
            Call::TimerfdCreate { .. } => "timerfd_create",
            Call::TimerfdSettime { .. } => "timerfd_settime",
            Call::Dup { .. } => "dup",
            Call::Dup2 { .. } => "dup2",
            Call::Dup3 { .. } => "dup3",
            Call::FcntlGetfl { .. } | Call::FcntlSetfl { .. } | Call::Fcntl { .. } => "fcntl",
            Call::Close { .. } => "close",
            Call::Read { .. } => "read",
            Call::Write { .. } | Call::WriteU64 { .. } => "write",
            Call::Shutdown { .. } => "shutdown",
        }
    }

    /// The call as a statement of the scenario language (without an assignment).
    pub fn statement(&self) -> String {
        match self {
            Call::EpollCreate { size } => format!("epoll_create({size})"),
            Call::EpollCreate1 { flags } => format!("epoll_create1({})", flags_text(*flags)),
            Call::EpollCtl {
                epfd,
                op,
                fd,
                event,
            } => match event {
                None => format!("epoll_ctl({epfd}, {}, {fd}, NULL)", op_text(*op)),
                Some((mask, data)) => format!(
                    "epoll_ctl({epfd}, {}, {fd}, {}, {data})",
                    op_text(*op),
                    mask_text(*mask)
                ),
            },
            Call::EpollWait {
                kind,
                epfd,
                maxevents,
            } => match kind {
                WaitKind::Wait => format!("epoll_wait({epfd}, {maxevents}, 0)"),
                WaitKind::Pwait { all_signals } => format!(
                    "epoll_pwait({epfd}, {maxevents}, 0, {})",
                    if *all_signals { "ALL_SIGNALS" } else { "NULL" }
                ),
                WaitKind::Pwait2 { timeout_ns } => {
                    format!("epoll_pwait2({epfd}, {maxevents}, {timeout_ns}, NULL)")
                }
            },
            Call::Pipe => "pipe()".into(),
            Call::Pipe2 { flags } => format!("pipe2({})", flags_text(*flags as i32)),
            Call::Socketpair { sock_type } => format!("socketpair({sock_type:#x})"),
            Call::Eventfd2 { count, flags } => format!("eventfd2({count}, {flags:#x})"),
            Call::TimerfdCreate { clock, flags } => {
                format!("timerfd_create({clock}, {flags:#x})")
            }
            Call::TimerfdSettime {
                fd,
                flags,
                value_ns,
            } => format!("timerfd_settime({fd}, {flags}, 0, {value_ns})"),
            Call::Dup { fd } => format!("dup({fd})"),
            Call::Dup2 { oldfd, newfd } => format!("dup2({oldfd}, {newfd})"),
            Call::Dup3 {
                oldfd,
                newfd,
                flags,
            } => format!("dup3({oldfd}, {newfd}, {})", flags_text(*flags as i32)),
            Call::Fcntl { fd, cmd, arg } => format!("fcntl({fd}, {cmd}, {})", *arg as i32),
            Call::FcntlGetfl { fd } => format!("fcntl({fd}, F_GETFL)"),
            Call::FcntlSetfl { fd, flags } => format!("fcntl({fd}, F_SETFL, {flags:#x})"),
            Call::Close { fd } => format!("close({fd})"),
            Call::Read { fd, len } => format!("read({fd}, {len})"),
            Call::Write { fd, len } => format!("write({fd}, {len} bytes)"),
            Call::WriteU64 { fd, value } => format!("write({fd}, u64({}))", *value as i64),
            Call::Shutdown { fd, how } => format!("shutdown({fd}, {how})"),
        }
    }
}

fn flags_text(flags: i32) -> String {
    if flags == 0 {
        "0".into()
    } else {
        format!("{flags:#x}")
    }
}

/// The program as a scenario whose `expect` lines hold `expected` (the host's results),
/// one per call. `name` and `description` go in the header.
pub fn scenario_text(
    name: &str,
    description: &str,
    calls: &[Call],
    expected: &[CallOutcome],
) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "scenario {name}");
    let _ = writeln!(text, "description \"{}\"", description.replace('"', "'"));
    let _ = writeln!(text, "kernel 6.18");
    let _ = writeln!(text, "cpus 1");
    let _ = writeln!(text);
    let _ = writeln!(text, "process app {{");
    let _ = writeln!(text, "    task main {{");
    for (call, outcome) in calls.iter().zip(expected) {
        let (variable, check) = expectation(call, outcome);
        match variable {
            Some(v) => {
                let _ = writeln!(text, "        {v} = {}", call.statement());
            }
            None => {
                let _ = writeln!(text, "        {}", call.statement());
            }
        }
        let _ = writeln!(text, "        expect {check}");
    }
    let _ = writeln!(text, "    }}");
    let _ = writeln!(text, "}}");
    text
}

/// The variable the call's value goes in (if the check needs one) and the `expect`
/// condition that holds the host's result.
fn expectation(call: &Call, outcome: &CallOutcome) -> (Option<&'static str>, String) {
    if outcome.errno != 0 {
        let known = Errno::ALL
            .iter()
            .any(|e| e.number() == outcome.errno as i64);
        return if known {
            (None, errno_name(outcome.errno))
        } else {
            (None, format!("errno == {}", outcome.errno))
        };
    }
    match call {
        Call::EpollWait { .. } => (
            Some("evs"),
            format!("evs == {}", events_text(&outcome.events)),
        ),
        Call::Read { .. } => (
            Some("v"),
            format!(
                "v == {}",
                crate::scenario::results::format_bytes(&outcome.bytes)
            ),
        ),
        Call::Pipe | Call::Pipe2 { .. } => (
            Some("p"),
            format!("p.r == {} && p.w == {}", outcome.fds[0], outcome.fds[1]),
        ),
        Call::Socketpair { .. } => (
            Some("s"),
            format!("s.a == {} && s.b == {}", outcome.fds[0], outcome.fds[1]),
        ),
        _ => (None, format!("ret == {}", outcome.ret)),
    }
}
