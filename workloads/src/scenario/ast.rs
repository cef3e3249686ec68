//! The parsed form of a scenario: a header, processes with their tasks, top-level
//! interrupts, and the statements and expressions of task bodies.
//!
//! Blocks are reference-counted so that a running task can hand a thread, a forked child
//! or an interrupt handler its body without copying it.

use std::collections::BTreeMap;
use std::rc::Rc;

use kernel_model::{Injection, KernelVersion};
use sim::config::AllocFailure;
use sim::{GranularityKind, MemoryModel, ReportKind, StrategyKind};

/// Where something is in the scenario text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub line: u32,
    pub col: u32,
    /// Byte range in the text.
    pub start: usize,
    pub end: usize,
}

/// The header directives (every one optional; the command line overrides most).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// `scenario NAME` (else the file's stem).
    pub name: Option<String>,
    /// `description "one line"`.
    pub description: Option<String>,
    pub cpus: Option<usize>,
    pub kernel: Option<KernelVersion>,
    pub model: Option<MemoryModel>,
    pub granularity: Option<GranularityKind>,
    pub strategy: Option<StrategyKind>,
    pub seed: Option<u64>,
    pub hz: Option<u32>,
    pub max_steps: Option<u64>,
    /// `fail alloc CLASS nth N`.
    pub alloc_failures: Vec<AllocFailure>,
    /// `inject NAME`.
    pub injections: Vec<Injection>,
    /// `expect report KIND`: the run must produce a report of each kind.
    pub expect_reports: Vec<(ReportKind, Span)>,
    /// `expect no reports`.
    pub expect_no_reports: Option<Span>,
    /// `expect blocked TASK`: the task must still be blocked when the run ends.
    pub expect_blocked: Vec<(String, Span)>,
    /// Where each header line that may appear once is (`"model"`, `"max steps"`, ...):
    /// line and column, for errors about a header value found after the parse.
    pub lines: BTreeMap<&'static str, (u32, u32)>,
}

/// `process NAME { task ... }` or `process NAME fork of PARENT { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessDecl {
    pub name: String,
    /// Forked (before the run) from this earlier process.
    pub fork_of: Option<String>,
    pub tasks: Vec<TaskDecl>,
    pub span: Span,
}

/// `task NAME [on cpu N] { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskDecl {
    pub name: String,
    pub cpu: Option<u16>,
    pub body: Block,
    pub span: Span,
}

/// A top-level `at TIME [on cpu N] { ... }`: an interrupt at a virtual time.
#[derive(Clone, Debug, PartialEq)]
pub struct AtDecl {
    pub time_ns: u64,
    pub cpu: Option<u16>,
    pub body: Block,
    pub span: Span,
}

pub type Block = Rc<Vec<Stmt>>;

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

/// A variable, possibly indexed: `x`, `pipes[i]`, `table[i][j]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    pub name: String,
    pub indices: Vec<Expr>,
}

/// Names a task: `waiter`, or `worker[i]` for threads created in a loop.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskName {
    pub name: String,
    pub index: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `[place =] syscall(args)`; `text` is the statement as written.
    Syscall {
        target: Option<Place>,
        call: Syscall,
        text: String,
    },
    /// `place = expr`
    Assign {
        target: Place,
        value: Expr,
    },
    Expect(Expectation),
    /// `repeat N [as i] { ... }`
    Repeat {
        count: Expr,
        var: Option<String>,
        body: Block,
    },
    /// `until TIME { ... }`: repeats the body while the virtual clock is before TIME.
    Until {
        time: Expr,
        body: Block,
    },
    /// `for x in list { ... }`
    For {
        var: String,
        list: Expr,
        body: Block,
    },
    /// `if C1 { ... } else if C2 { ... } else { ... }`: the arms in order (a chain of
    /// `else if` is flat, however long), then the final `else`.
    If {
        arms: Vec<(Expr, Block)>,
        otherwise: Option<Block>,
    },
    /// `sleep DURATION`
    Sleep(Expr),
    /// `sleep until TIME`: sleeps until the virtual clock reads TIME (at least 1ns, so
    /// that an interrupt due now is taken first).
    SleepUntil(Expr),
    /// `thread NAME[index] [on cpu N] { ... }`: a new task of this process (a copy of the
    /// creator's variables).
    Thread {
        name: TaskName,
        cpu: Option<Expr>,
        body: Block,
    },
    /// `fork NAME [on cpu N] { ... }`: a child process (copy of the fd table and of the
    /// variables) whose one task runs the body.
    Fork {
        name: TaskName,
        cpu: Option<Expr>,
        body: Block,
    },
    /// `at TIME [on cpu N] { ... }` inside a task: schedules an interrupt that runs the
    /// body (with a copy of the variables) at virtual time TIME.
    At {
        time: Expr,
        cpu: Option<Expr>,
        body: Block,
    },
    /// `note "text"`: narration in the trace.
    Note(Expr),
    /// An interrupt-context action inside an `at` block.
    Irq(IrqCall),
    Break,
    Continue,
}

/// Calls `visit` on every statement of `block` and of the blocks nested in it, in text
/// order.
pub fn walk(block: &Block, visit: &mut impl FnMut(&Stmt)) {
    for stmt in block.iter() {
        visit(stmt);
        match &stmt.kind {
            StmtKind::Repeat { body, .. }
            | StmtKind::Until { body, .. }
            | StmtKind::For { body, .. }
            | StmtKind::Thread { body, .. }
            | StmtKind::Fork { body, .. }
            | StmtKind::At { body, .. } => walk(body, visit),
            StmtKind::If { arms, otherwise } => {
                for (_, then) in arms {
                    walk(then, visit);
                }
                if let Some(otherwise) = otherwise {
                    walk(otherwise, visit);
                }
            }
            _ => {}
        }
    }
}

/// The system calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallName {
    EpollCreate,
    EpollCtl,
    EpollWait,
    EpollPwait,
    EpollCreate1,
    EpollPwait2,
    SysctlMaxUserWatches,
    Eventfd2,
    TimerfdCreate,
    TimerfdSettime,
    TimerfdGettime,
    Pipe,
    Pipe2,
    Socketpair,
    Eventfd,
    Read,
    Write,
    Close,
    Dup,
    Dup2,
    Dup3,
    Fcntl,
    Shutdown,
    Open,
    Kill,
    SocketExternal,
    Setrlimit,
    Opaque,
    Accept,
    Poll,
    Join,
    ListenOn,
    ConnectTo,
}

impl SyscallName {
    /// (name, fewest arguments, most arguments)
    pub const ALL: [(SyscallName, &'static str, usize, usize); 33] = [
        (SyscallName::EpollCreate, "epoll_create", 1, 1),
        (SyscallName::EpollCtl, "epoll_ctl", 3, 5),
        (SyscallName::EpollWait, "epoll_wait", 3, 6),
        (SyscallName::EpollPwait, "epoll_pwait", 4, 7),
        (SyscallName::EpollCreate1, "epoll_create1", 1, 1),
        (SyscallName::EpollPwait2, "epoll_pwait2", 4, 7),
        (
            SyscallName::SysctlMaxUserWatches,
            "sysctl_max_user_watches",
            1,
            1,
        ),
        (SyscallName::Pipe, "pipe", 0, 0),
        (SyscallName::Pipe2, "pipe2", 1, 1),
        (SyscallName::Socketpair, "socketpair", 0, 1),
        (SyscallName::Eventfd, "eventfd", 1, 1),
        (SyscallName::Eventfd2, "eventfd2", 2, 2),
        (SyscallName::TimerfdCreate, "timerfd_create", 2, 2),
        (SyscallName::TimerfdSettime, "timerfd_settime", 4, 4),
        (SyscallName::TimerfdGettime, "timerfd_gettime", 1, 1),
        (SyscallName::Read, "read", 2, 2),
        (SyscallName::Write, "write", 2, 2),
        (SyscallName::Close, "close", 1, 1),
        (SyscallName::Dup, "dup", 1, 1),
        (SyscallName::Dup2, "dup2", 2, 2),
        (SyscallName::Dup3, "dup3", 3, 3),
        (SyscallName::Fcntl, "fcntl", 2, 3),
        (SyscallName::Shutdown, "shutdown", 2, 2),
        (SyscallName::Open, "open", 1, 1),
        (SyscallName::Kill, "kill", 1, 1),
        (SyscallName::SocketExternal, "socket_external", 0, 0),
        (SyscallName::Setrlimit, "setrlimit", 2, 3),
        (SyscallName::Opaque, "opaque", 1, 1),
        (SyscallName::Accept, "accept", 1, 1),
        (SyscallName::Poll, "poll", 3, 3),
        (SyscallName::Join, "join", 1, 1),
        (SyscallName::ListenOn, "listen_on", 2, 2),
        (SyscallName::ConnectTo, "connect_to", 1, 1),
    ];

    pub fn parse(name: &str) -> Option<(SyscallName, usize, usize)> {
        SyscallName::ALL
            .iter()
            .find(|(_, n, _, _)| *n == name)
            .map(|&(s, _, lo, hi)| (s, lo, hi))
    }

    pub fn name(self) -> &'static str {
        SyscallName::ALL
            .iter()
            .find(|(s, _, _, _)| *s == self)
            .map_or("?", |(_, n, _, _)| n)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Syscall {
    pub name: SyscallName,
    pub args: Vec<Expr>,
    /// `kill(NAME)` and `join(NAME)` name a task, not a value.
    pub task: Option<TaskName>,
    pub span: Span,
}

/// Interrupt-context actions (allowed only in `at` blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqName {
    /// `signal(TASK)`: a signal arrives for a task.
    Signal,
    /// `deliver(SOCK, DATA)`: data arrives from the network on an external socket.
    Deliver,
    /// `remote_shutdown(SOCK, HOW)`: the remote end shuts a direction down (a FIN).
    RemoteShutdown,
    /// `remote_error(SOCK, ERRNO)`: the network reports an error (e.g. ECONNRESET).
    RemoteError,
    /// `set_ready(file_at(N), MASK)`: an opaque file's readiness becomes MASK.
    Ready,
    /// `incoming(file_at(N))`: a connection arrives at an opaque (listening) file.
    Incoming,
}

impl IrqName {
    pub const ALL: [(IrqName, &'static str, usize, usize); 6] = [
        (IrqName::Signal, "signal", 1, 1),
        (IrqName::Deliver, "deliver", 2, 2),
        (IrqName::RemoteShutdown, "remote_shutdown", 2, 2),
        (IrqName::RemoteError, "remote_error", 2, 2),
        (IrqName::Ready, "set_ready", 2, 2),
        (IrqName::Incoming, "incoming", 1, 1),
    ];

    pub fn parse(name: &str) -> Option<(IrqName, usize, usize)> {
        IrqName::ALL
            .iter()
            .find(|(_, n, _, _)| *n == name)
            .map(|&(s, _, lo, hi)| (s, lo, hi))
    }

    pub fn name(self) -> &'static str {
        IrqName::ALL
            .iter()
            .find(|(s, _, _, _)| *s == self)
            .map_or("?", |(_, n, _, _)| n)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct IrqCall {
    pub name: IrqName,
    pub args: Vec<Expr>,
    pub task: Option<TaskName>,
    pub text: String,
}

/// What an `expect` statement inside a task checks.
#[derive(Clone, Debug, PartialEq)]
pub enum Expectation {
    /// `expect EAGAIN`: the last system call failed with this errno.
    Errno(kernel_model::Errno),
    /// `expect ok`: the last system call succeeded.
    Ok,
    /// `expect EXPR`: a condition, e.g. `evs == [EPOLLIN:3]` or `n in {0, 1}`.
    Cond { expr: Expr, text: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    And,
    Or,
    Xor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LogAnd,
    LogOr,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::And => "&",
            BinOp::Or => "|",
            BinOp::Xor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::LogAnd => "&&",
            BinOp::LogOr => "||",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
    BitNot,
}

/// One operator and its right-hand operand in a [`ExprKind::Chain`].
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub op: BinOp,
    /// Where the operator is (errors such as an overflow point at it).
    pub at: Span,
    pub operand: Expr,
}

/// Pure built-in functions (they take no step and can appear in any expression).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `random(n)`: 0..n from the task's deterministic generator.
    Random,
    /// `len(x)`: elements of a list, bytes of a string.
    Len,
    /// `array(n)` or `array(n, value)`: a list of n copies.
    Array,
    /// `u64(n)`: the 8 bytes of n, little-endian (what `write` to an eventfd takes).
    U64,
    /// `as_u64(bytes)`: the inverse (what `read` from an eventfd gives).
    AsU64,
    /// `sorted(list)`: events by (data, events), numbers ascending.
    Sorted,
    /// `now()`: this CPU's virtual clock in nanoseconds.
    Now,
    /// `FAULT_AT(n)`: an epoll_wait buffer whose n-th `__put_user` faults.
    FaultAt,
    Min,
    Max,
    /// `sent(SOCK)`: the bytes the network has taken from an external socket so far.
    Sent,
    /// `file_at(N)`: in an `at` block, the file at descriptor N of the scheduling task's
    /// process.
    File,
    /// `timespec(sec, nsec)`: an `epoll_pwait2` timeout given field by field (the list
    /// `[sec, nsec]`), so out-of-range fields can be written.
    Timespec,
}

impl Builtin {
    pub const ALL: [(Builtin, &'static str, usize, usize); 13] = [
        (Builtin::Random, "random", 1, 1),
        (Builtin::Len, "len", 1, 1),
        (Builtin::Array, "array", 1, 2),
        (Builtin::U64, "u64", 1, 1),
        (Builtin::AsU64, "as_u64", 1, 1),
        (Builtin::Sorted, "sorted", 1, 1),
        (Builtin::Now, "now", 0, 0),
        (Builtin::FaultAt, "FAULT_AT", 1, 1),
        (Builtin::Min, "min", 2, 2),
        (Builtin::Max, "max", 2, 2),
        (Builtin::Sent, "sent", 1, 1),
        (Builtin::File, "file_at", 1, 1),
        (Builtin::Timespec, "timespec", 2, 2),
    ];

    pub fn parse(name: &str) -> Option<(Builtin, usize, usize)> {
        Builtin::ALL
            .iter()
            .find(|(_, n, _, _)| *n == name)
            .map(|&(s, _, lo, hi)| (s, lo, hi))
    }

    pub fn name(self) -> &'static str {
        Builtin::ALL
            .iter()
            .find(|(s, _, _, _)| *s == self)
            .map_or("?", |(_, n, _, _)| n)
    }
}

/// Named constants that are not plain numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    /// `NULL`: a missing `struct epoll_event *` (EFAULT) or signal mask.
    Null,
    /// `BAD_ADDRESS`: an epoll_wait buffer that fails `access_ok`.
    BadAddress,
    /// `NOT_RESIDENT`: an epoll_wait buffer whose first touch page-faults and sleeps.
    NotResident,
    /// `ALL_SIGNALS`: epoll_pwait's mask blocks every signal during the wait.
    AllSignals,
    /// `ret`: the last system call's return value in this task.
    Ret,
    /// `errno`: the last system call's errno in this task (0 if it succeeded).
    Errno,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Str(Vec<u8>),
    /// A named number: `EPOLLIN`, `EAGAIN`, `O_NONBLOCK`, ...
    Const(String, i64),
    Special(Special),
    Var(String),
    Field(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    /// A comparison: `a == b`, `a < b`, ... (comparisons do not chain).
    Compare(BinOp, Box<Expr>, Box<Expr>),
    /// Operators of one precedence level, applied left to right: `a + b - c` is
    /// `Chain(a, [+ b, - c])`. Flat, so that a chain of a million terms is a list to walk
    /// rather than a tree a million deep to recurse into (or to drop).
    Chain(Box<Expr>, Vec<Link>),
    /// `x in {a, b, c}`
    In(Box<Expr>, Vec<Expr>),
    Call(Builtin, Vec<Expr>),
    List(Vec<Expr>),
    /// `EVENTS:DATA` inside a list: one `struct epoll_event`.
    Event(Box<Expr>, Box<Expr>),
    /// `N bytes`: N bytes of `x` (a `write` argument).
    Bytes(Box<Expr>),
}
