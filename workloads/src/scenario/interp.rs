//! The interpreter: turns a parsed scenario into processes, tasks and interrupts on a
//! [`World`], and runs each task's statements as an `async` program that makes the
//! kernel model's system calls.
//!
//! Each task has its own variables (a thread, a forked child or an `at` block starts
//! with a copy of its creator's), its own deterministic generator for `random(n)`
//! (seeded from the run's seed and the task's name, so a task draws the same numbers
//! whatever the schedule), and the result of its last system call (`ret`, `errno`).
//! User code between system calls takes no step: only system calls, sleeps and the
//! kernel code they run are steps. A signal is taken when a system call returns to user
//! space: one that arrives during a blocking call interrupts it (EINTR); one that
//! arrives while the task runs user code or sleeps stays pending, so the task's next
//! blocking call fails with EINTR at once — unless it is `epoll_pwait` with
//! `ALL_SIGNALS`, which keeps it pending through the wait.
//!
//! Mistakes a parse cannot see — reading a variable only assigned on a path not taken,
//! an index out of range, `random(0)` — stop the task and are filed as `expectation`
//! reports naming `file:line:col`. Nothing here panics on any input.

/// `socketpair`'s type argument: the type in the low bits, `SOCK_NONBLOCK` and
/// `SOCK_CLOEXEC` above (include/linux/net.h).
const SOCK_TYPE_MASK: i32 = 0xf;
const SOCK_STREAM: i32 = 1;
const SOCK_DGRAM: i32 = 2;
use kernel_model::objects::SockType;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use kernel_model::eventpoll_6_18::Timespec;
use kernel_model::objects::FileKind;
use kernel_model::syscalls::UserSigmask;
use kernel_model::user::UserBufferSpec;
use kernel_model::{EpollEvent, Errno, Kernel, SysResult, World};
use sim::rng::Rng;
use sim::state::Handler;
use sim::trace::TraceHasher;
use sim::waitq::{WakeFunction, WakeMode};
use sim::{CpuId, Granularity, Name, NoCallbacks, ReportKind, TaskId, TaskState, WaitQueueId};

use super::ast::*;
use super::results::{format_bytes, format_event, CallResult, ExpectationResult, Recorder};
use super::Scenario;

/// Statements one run may execute (all tasks together), per step of the machine's step
/// budget: a loop without a system call never lets virtual time advance or takes a step,
/// and this bounds it.
pub const STATEMENTS_PER_STEP: u64 = 4;
/// The most bytes a `read`, `write` or `N bytes` may move at once.
pub const BYTES_MAX: i64 = 1 << 20;
/// The longest `array(n)`.
pub const ARRAY_MAX: i64 = 1 << 20;
/// The most numbers, events and bytes (counting 8 bytes as one) one value may hold.
pub const WEIGHT_MAX: usize = 1 << 22;
/// How deeply lists may nest in a value. `a = [a]` in a loop would otherwise build a
/// value a million lists deep, which printing, comparing, copying or dropping it would
/// recurse into; with this bound they recurse at most this deep.
pub const VALUE_NESTING_MAX: usize = 64;
/// How many numbers (see [`weight`]) copying or making a value may move for one statement
/// of the run's budget ([`STATEMENTS_PER_STEP`]).
pub const WEIGHT_PER_STATEMENT: usize = 256;
/// Tasks a run may create (threads and forked children included); the machine's own
/// limit is [`sim::limits::TASKS_MAX`].
pub const TASKS_MAX: usize = sim::limits::TASKS_MAX - 1;

/// Which two-descriptor result a pair is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairKind {
    /// `pipe()`: `.r`, `.w`
    Pipe,
    /// `socketpair()`: `.a`, `.b`
    Socket,
}

/// A value of the language.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    Pair {
        kind: PairKind,
        fds: [i64; 2],
    },
    Event(EpollEvent),
    List(Vec<Value>),
    /// An external socket: its descriptor, and its index among the run's external
    /// sockets (what interrupt handlers address it by).
    Sock {
        fd: i64,
        index: usize,
    },
    Buffer(UserBufferSpec),
    Null,
    AllSignals,
    /// `file_at(N)` in an `at` block: the file at descriptor N of the process whose task
    /// scheduled the block, when the block runs.
    File(kernel_model::objects::FileId),
}

impl Value {
    /// A number, where the value can be one: a list or byte string counts its length,
    /// an external socket is its descriptor.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            Value::Bytes(b) => Some(b.len() as i64),
            Value::List(items) => Some(items.len() as i64),
            Value::Sock { fd, .. } => Some(*fd),
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "a number",
            Value::Bytes(_) => "a byte string",
            Value::Pair {
                kind: PairKind::Pipe,
                ..
            } => "a pipe",
            Value::Pair {
                kind: PairKind::Socket,
                ..
            } => "a socketpair",
            Value::Event(_) => "an event",
            Value::List(_) => "a list",
            Value::Sock { .. } => "an external socket",
            Value::Buffer(_) => "a buffer",
            Value::Null => "NULL",
            Value::AllSignals => "ALL_SIGNALS",
            Value::File(_) => "a file",
        }
    }
}

/// The most characters a message shows of one value (then `...`): a list of a million
/// numbers, quoted by an `expect` that fails in a loop, is not a message.
pub const SHOWN_MAX: usize = 1024;

/// A [`fmt::Write`] that keeps the first [`SHOWN_MAX`] bytes (on a character boundary)
/// and then refuses more, which stops the formatting early.
struct Bounded {
    out: String,
    clipped: bool,
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = SHOWN_MAX.saturating_sub(self.out.len());
        if s.len() <= room {
            self.out.push_str(s);
            return Ok(());
        }
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.out.push_str(&s[..cut]);
        self.clipped = true;
        Err(fmt::Error)
    }
}

impl Value {
    /// The whole value as the language writes it (recursing at most
    /// [`VALUE_NESTING_MAX`] deep).
    fn write_to(&self, f: &mut dyn fmt::Write) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            // The first bytes are enough to fill a message.
            Value::Bytes(b) => f.write_str(&format_bytes(&b[..b.len().min(SHOWN_MAX + 1)])),
            Value::Pair {
                kind: PairKind::Pipe,
                fds,
            } => write!(f, "{{r: {}, w: {}}}", fds[0], fds[1]),
            Value::Pair {
                kind: PairKind::Socket,
                fds,
            } => write!(f, "{{a: {}, b: {}}}", fds[0], fds[1]),
            Value::Event(e) => f.write_str(&format_event(e)),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    item.write_to(f)?;
                }
                f.write_str("]")
            }
            Value::Sock { fd, .. } => write!(f, "{fd}"),
            Value::Buffer(spec) => {
                let mut parts = Vec::new();
                if spec.bad_address {
                    parts.push("BAD_ADDRESS".to_string());
                }
                if spec.not_resident {
                    parts.push("NOT_RESIDENT".to_string());
                }
                if let Some(n) = spec.fault_at {
                    parts.push(format!("FAULT_AT({n})"));
                }
                if parts.is_empty() {
                    parts.push("buffer".to_string());
                }
                f.write_str(&parts.join(", "))
            }
            Value::Null => f.write_str("NULL"),
            Value::AllSignals => f.write_str("ALL_SIGNALS"),
            Value::File(_) => f.write_str("file"),
        }
    }
}

/// A value as messages show it: as the language writes it, clipped after [`SHOWN_MAX`]
/// characters with `...`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bounded = Bounded {
            out: String::new(),
            clipped: false,
        };
        let _ = self.write_to(&mut bounded);
        f.write_str(&bounded.out)?;
        if bounded.clipped {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// How much a value holds (numbers and events count 1, bytes 1 per 8), for
/// [`WEIGHT_MAX`]. Stops counting past the limit.
pub fn weight(value: &Value) -> usize {
    match value {
        Value::Bytes(b) => 1 + b.len() / 8,
        Value::List(items) => {
            let mut total = 1usize;
            for item in items {
                total = total.saturating_add(weight(item));
                if total > WEIGHT_MAX {
                    break;
                }
            }
            total
        }
        _ => 1,
    }
}

/// How deeply lists nest in `value`: 0 for a number, 1 for a list of numbers. (Recurses
/// at most [`VALUE_NESTING_MAX`] deep: no value nests deeper.)
pub fn nesting(value: &Value) -> usize {
    match value {
        Value::List(items) => 1 + items.iter().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
}

/// `x op y` for the arithmetic, bitwise and shift operators on 64-bit signed numbers.
/// An overflow (`+ - *`, `/` of the most negative number by -1, a `<<` whose result is
/// not `x * 2^y`), a shift count outside 0 to 63 and a division by zero are errors (the
/// message says which), never a silently wrapped result. `>>` shifts the sign in.
pub fn arithmetic(op: BinOp, x: i64, y: i64) -> Result<i64, String> {
    let symbol = op.symbol();
    let overflow = || format!("integer overflow: {x} {symbol} {y} does not fit in 64 bits");
    match op {
        BinOp::Div | BinOp::Rem if y == 0 => Err(format!("division by zero: {x} {symbol} 0")),
        BinOp::Shl | BinOp::Shr if !(0..64).contains(&y) => Err(format!(
            "shift count out of range: {x} {symbol} {y} (a shift count is 0 to 63)"
        )),
        BinOp::Add => x.checked_add(y).ok_or_else(overflow),
        BinOp::Sub => x.checked_sub(y).ok_or_else(overflow),
        BinOp::Mul => x.checked_mul(y).ok_or_else(overflow),
        BinOp::Div => x.checked_div(y).ok_or_else(overflow),
        // i64::MIN % -1 is 0, though the machine instruction traps.
        BinOp::Rem => Ok(x.checked_rem(y).unwrap_or(0)),
        BinOp::And => Ok(x & y),
        BinOp::Or => Ok(x | y),
        BinOp::Xor => Ok(x ^ y),
        BinOp::Shl => {
            let shifted = x << y;
            if shifted >> y == x {
                Ok(shifted)
            } else {
                Err(overflow())
            }
        }
        BinOp::Shr => Ok(x >> y),
        _ => Err(format!("`{symbol}` is not an arithmetic operator")),
    }
}

/// Values equal as the language compares them: a number equals a list or byte string of
/// that length; lists compare element by element.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), other) | (other, Value::Int(x)) => other.as_int() == Some(*x),
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Event(x), Value::Event(y)) => x == y,
        (Value::Pair { fds: x, .. }, Value::Pair { fds: y, .. }) => x == y,
        (Value::Sock { fd: x, .. }, Value::Sock { fd: y, .. }) => x == y,
        (Value::Buffer(x), Value::Buffer(y)) => x == y,
        (Value::Null, Value::Null) | (Value::AllSignals, Value::AllSignals) => true,
        (Value::File(a), Value::File(b)) => a == b,
        _ => false,
    }
}

/// A mistake found while running: stops the task, becomes an `expectation` report.
#[derive(Clone, Debug)]
struct RtError {
    span: Span,
    message: String,
}

fn rt<T>(span: Span, message: impl Into<String>) -> Result<T, RtError> {
    Err(RtError {
        span,
        message: message.into(),
    })
}

enum Flow {
    Next,
    Break,
    Continue,
}

type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What all tasks of one run share.
struct Shared {
    file: String,
    text: String,
    recorder: Recorder,
    tasks: RefCell<BTreeMap<String, TaskId>>,
    statements: Cell<u64>,
    statements_max: u64,
    tasks_made: Cell<usize>,
    seed: u64,
    cpus: usize,
    /// Tasks whose body has finished (for `join`).
    exited: RefCell<BTreeSet<TaskId>>,
    /// The wait queue each joined task wakes its joiners on when it finishes, made by
    /// the first `join` of it.
    exit_queues: RefCell<BTreeMap<TaskId, WaitQueueId>>,
}

/// One task's (or interrupt handler's) state.
#[derive(Clone)]
struct Env {
    task: String,
    vars: BTreeMap<String, Value>,
    rng: Rng,
    ret: i64,
    errno: i64,
    last_call: Option<String>,
    /// The process whose descriptors `file_at(N)` names: a task's own; for an `at` block,
    /// that of the task that scheduled it (none for a top-level `at`).
    process: Option<kernel_model::objects::ProcessId>,
}

impl Env {
    fn new(task: &str, seed: u64) -> Env {
        Env {
            task: task.to_string(),
            vars: BTreeMap::new(),
            rng: task_rng(seed, task),
            ret: 0,
            errno: 0,
            last_call: None,
            process: None,
        }
    }

    /// A copy of the variables for a new task or handler.
    fn child(&self, task: &str, seed: u64) -> Env {
        Env {
            task: task.to_string(),
            vars: self.vars.clone(),
            rng: task_rng(seed, task),
            ret: 0,
            errno: 0,
            last_call: None,
            process: self.process,
        }
    }
}

fn task_rng(seed: u64, task: &str) -> Rng {
    let mut h = TraceHasher::default();
    h.write_u64(seed);
    h.write_str(task);
    Rng::new(h.finish())
}

/// `5ms`, `250us`, `7ns`
pub fn format_duration(ns: u64) -> String {
    if ns == 0 {
        "0ms".to_string()
    } else if ns % 1_000_000_000 == 0 {
        format!("{}s", ns / 1_000_000_000)
    } else if ns % 1_000_000 == 0 {
        format!("{}ms", ns / 1_000_000)
    } else if ns % 1_000 == 0 {
        format!("{}us", ns / 1_000)
    } else {
        format!("{ns}ns")
    }
}

struct Interp<G: Granularity> {
    kernel: Rc<Kernel<G>>,
    shared: Rc<Shared>,
}

impl<G: Granularity> Clone for Interp<G> {
    fn clone(&self) -> Self {
        Interp {
            kernel: self.kernel.clone(),
            shared: self.shared.clone(),
        }
    }
}

/// Populates `world` (see [`Scenario::build`]).
pub fn build<G: Granularity>(scenario: &Scenario, world: &mut World<G>, recorder: &Recorder) {
    recorder.clear();
    let cpus = world.machine().config().cpus;
    let seed = recorder.seed();
    let shared = Rc::new(Shared {
        file: scenario.file.clone(),
        text: scenario.text.clone(),
        recorder: recorder.clone(),
        tasks: RefCell::new(BTreeMap::new()),
        statements: Cell::new(0),
        statements_max: world
            .machine()
            .config()
            .max_steps
            .saturating_mul(STATEMENTS_PER_STEP)
            .max(10_000),
        tasks_made: Cell::new(0),
        seed,
        cpus,
        exited: RefCell::new(BTreeSet::new()),
        exit_queues: RefCell::new(BTreeMap::new()),
    });
    let interp = Interp {
        kernel: world.kernel(),
        shared: shared.clone(),
    };
    let mut pids = BTreeMap::new();
    for process in &scenario.processes {
        let pid = match process.fork_of.as_ref().and_then(|p| pids.get(p)) {
            Some(&parent) => world.fork(parent, &process.name),
            None => world.process(&process.name),
        };
        pids.insert(process.name.clone(), pid);
        for task in &process.tasks {
            if let Some(cpu) = task.cpu.filter(|&c| c as usize >= cpus) {
                // Scenario::check_options refuses this; never panic the machine over it.
                recorder.push_expectation(ExpectationResult {
                    task: task.name.clone(),
                    line: task.span.line,
                    col: task.span.col,
                    text: "scenario error".into(),
                    passed: false,
                    message: format!(
                        "{}:{}:{}: task `{}` is pinned to cpu {cpu}, but the machine has {cpus} CPUs; it was not started",
                        scenario.file, task.span.line, task.span.col, task.name
                    ),
                    step: 0,
                    cpu: None,
                    task_id: None,
                    reported: false,
                });
                continue;
            }
            if shared.tasks_made.get() >= TASKS_MAX {
                continue;
            }
            shared.tasks_made.set(shared.tasks_made.get() + 1);
            let env = Env::new(&task.name, seed);
            let body = task.body.clone();
            let i = interp.clone();
            recorder.task_started(&task.name, task.span, None);
            let id = world.spawn(pid, &task.name, task.cpu.map(CpuId), move |_| {
                i.run_task(env, body)
            });
            shared.tasks.borrow_mut().insert(task.name.clone(), id);
            recorder.set_task_id(&task.name, id);
        }
    }
    for at in &scenario.interrupts {
        if let Some(cpu) = at.cpu.filter(|&c| c as usize >= cpus) {
            recorder.push_expectation(ExpectationResult {
                task: format!("at {}", format_duration(at.time_ns)),
                line: at.span.line,
                col: at.span.col,
                text: "scenario error".into(),
                passed: false,
                message: format!(
                    "{}:{}:{}: this `at` block is pinned to cpu {cpu}, but the machine has {cpus} CPUs; it was not scheduled",
                    scenario.file, at.span.line, at.span.col
                ),
                step: 0,
                cpu: None,
                task_id: None,
                reported: false,
            });
            continue;
        }
        let env = Env::new(&format!("at {}", format_duration(at.time_ns)), seed);
        let body = at.body.clone();
        let i = interp.clone();
        world.interrupt(at.time_ns, at.cpu.map(CpuId), "at", move |_| {
            i.run_irq(env, body)
        });
    }
}

impl<G: Granularity> Interp<G> {
    async fn run_task(self, mut env: Env, body: Block) {
        if let Err(error) = self.exec_block(&mut env, &body).await {
            self.runtime_error(&env, error);
        }
        self.exit_joiners().await;
        self.shared.recorder.task_finished(&env.task);
    }

    /// The thread library's exit: the kernel clears the thread id word and wakes the
    /// futex `pthread_join` sleeps on (`CLONE_CHILD_CLEARTID`), modelled as a wait queue.
    async fn exit_joiners(&self) {
        let cx = &self.kernel.cx;
        let Some(me) = cx.current() else { return };
        self.shared.exited.borrow_mut().insert(me);
        let head = self.shared.exit_queues.borrow().get(&me).copied();
        if let Some(head) = head {
            cx.wake_up_with(&NoCallbacks, head, WakeMode::All, 0, 0)
                .await;
        }
    }

    /// `pthread_join(task)`: sleeps (uninterruptibly: a signal runs its handler and the
    /// wait goes on) until the task has finished.
    async fn join(&self, task: TaskId) -> SysResult<()> {
        let cx = &self.kernel.cx;
        cx.syscall("futex").await;
        let me = cx.current().expect("join runs in task context");
        while !self.shared.exited.borrow().contains(&task) {
            let existing = self.shared.exit_queues.borrow().get(&task).copied();
            let head = match existing {
                Some(head) => head,
                None => {
                    let head =
                        cx.init_waitqueue_head("join", Name::new("task", task.0 as u64, "->exit"));
                    self.shared.exit_queues.borrow_mut().insert(task, head);
                    head
                }
            };
            let entry = cx.new_wait_entry(WakeFunction::Default(me), false);
            cx.add_wait_queue(head, entry).await;
            cx.set_current_state(TaskState::Uninterruptible).await;
            if !self.shared.exited.borrow().contains(&task) {
                cx.schedule().await;
            }
            cx.set_current_state_plain(TaskState::Running).await;
            cx.remove_wait_queue(head, entry).await;
            cx.free_wait_entry(entry);
        }
        Ok(())
    }

    async fn run_irq(self, mut env: Env, body: Block) {
        if let Err(error) = self.exec_block(&mut env, &body).await {
            self.runtime_error(&env, error);
        }
    }

    fn location(&self, span: Span) -> String {
        format!("{}:{}:{}", self.shared.file, span.line, span.col)
    }

    /// An expression as written, on one line (it may span several: messages may not).
    fn source(&self, span: Span) -> String {
        let text = self.shared.text.get(span.start..span.end).unwrap_or("?");
        let lines: Vec<&str> = text
            .split(['\n', '\r'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        lines.join(" ")
    }

    fn runtime_error(&self, env: &Env, error: RtError) {
        let message = format!(
            "{}: scenario error in `{}`: {}",
            self.location(error.span),
            env.task,
            error.message
        );
        self.file_expectation(env, error.span, "scenario error".into(), false, message);
    }

    fn file_expectation(&self, env: &Env, span: Span, text: String, passed: bool, message: String) {
        let cx = &self.kernel.cx;
        let cpu = Some(cx.cpu());
        let task_id = cx.current();
        self.shared.recorder.push_expectation(ExpectationResult {
            task: env.task.clone(),
            line: span.line,
            col: span.col,
            text,
            passed,
            message: message.clone(),
            step: cx.step(),
            cpu,
            task_id,
            reported: !passed,
        });
        if !passed {
            cx.report(ReportKind::Expectation, message, vec![]);
        }
    }

    fn tick(&self, span: Span) -> Result<(), RtError> {
        self.charge(span, 1)
    }

    /// Counts `statements` against the run's budget. Copying or making a large value
    /// counts too (one statement per [`WEIGHT_PER_STATEMENT`] numbers), so a loop that
    /// copies a list of a million numbers ends on the budget like any loop that never
    /// lets time advance, instead of running for hours.
    fn charge(&self, span: Span, statements: u64) -> Result<(), RtError> {
        let n = self.shared.statements.get().saturating_add(statements);
        self.shared.statements.set(n);
        if n > self.shared.statements_max {
            return rt(span, format!(
                "the run executed more than {} statements ({STATEMENTS_PER_STEP} per step of the step budget): a loop without a system call or sleep never lets virtual time advance",
                self.shared.statements_max
            ));
        }
        Ok(())
    }

    fn exec_block<'a>(
        &'a self,
        env: &'a mut Env,
        block: &'a [Stmt],
    ) -> Fut<'a, Result<Flow, RtError>> {
        Box::pin(async move {
            for stmt in block {
                match self.exec(env, stmt).await? {
                    Flow::Next => {}
                    flow => return Ok(flow),
                }
            }
            Ok(Flow::Next)
        })
    }

    async fn exec(&self, env: &mut Env, stmt: &Stmt) -> Result<Flow, RtError> {
        self.tick(stmt.span)?;
        match &stmt.kind {
            StmtKind::Syscall { target, call, text } => {
                self.syscall(env, target.as_ref(), call, text, stmt.span)
                    .await?;
            }
            StmtKind::Assign { target, value } => {
                let value = self.eval(env, value)?;
                self.assign(env, target, value)?;
            }
            StmtKind::Expect(expectation) => self.expect(env, expectation, stmt.span)?,
            StmtKind::Repeat { count, var, body } => {
                let n = self.int(env, count)?;
                for i in 0..n.max(0) {
                    if let Some(var) = var {
                        env.vars.insert(var.clone(), Value::Int(i));
                    }
                    if let Flow::Break = self.exec_block(env, body).await? {
                        break;
                    }
                    self.tick(stmt.span)?;
                }
            }
            StmtKind::Until { time, body } => {
                let until = self.int(env, time)?;
                while (self.kernel.cx.now_ns() as i64) < until {
                    if let Flow::Break = self.exec_block(env, body).await? {
                        break;
                    }
                    self.tick(stmt.span)?;
                }
            }
            StmtKind::For { var, list, body } => {
                let items = match self.eval(env, list)? {
                    Value::List(items) => items,
                    Value::Bytes(bytes) => bytes.into_iter().map(|b| Value::Int(b as i64)).collect(),
                    Value::Pair { fds, .. } => fds.iter().map(|&fd| Value::Int(fd)).collect(),
                    other => {
                        return rt(list.span, format!(
                            "`for` goes over a list (such as the events of epoll_wait), found {} ({other})",
                            other.kind()
                        ))
                    }
                };
                for item in items {
                    env.vars.insert(var.clone(), item);
                    if let Flow::Break = self.exec_block(env, body).await? {
                        break;
                    }
                }
            }
            StmtKind::If { arms, otherwise } => {
                for (cond, then) in arms {
                    if self.truthy(env, cond)? {
                        return self.exec_block(env, then).await;
                    }
                }
                if let Some(otherwise) = otherwise {
                    return self.exec_block(env, otherwise).await;
                }
            }
            StmtKind::SleepUntil(time) => {
                // At least one nanosecond, so that what is due now (an `at` block
                // scheduled just before) runs first.
                let time = self.int(env, time)?;
                let now = self.kernel.cx.now_ns();
                let ns = (time.max(0) as u64).saturating_sub(now).max(1);
                self.kernel.cx.sleep_for(ns).await;
            }
            StmtKind::Sleep(duration) => {
                let ns = self.int(env, duration)?;
                if ns < 0 {
                    return rt(
                        duration.span,
                        format!("cannot sleep a negative time ({ns}ns)"),
                    );
                }
                self.kernel.cx.sleep_for(ns as u64).await;
            }
            StmtKind::Thread { name, cpu, body } => {
                let name = self.task_name(env, name)?;
                let pin = self.pin(env, cpu.as_ref())?;
                self.new_task(&name, stmt.span)?;
                let child = env.child(&name, self.shared.seed);
                let interp = self.clone();
                let body = body.clone();
                self.shared.recorder.task_started(&name, stmt.span, None);
                let id = self
                    .kernel
                    .spawn_thread(&name, pin, move |_| interp.run_task(child, body));
                self.shared.tasks.borrow_mut().insert(name.clone(), id);
                self.shared.recorder.set_task_id(&name, id);
            }
            StmtKind::Fork { name, cpu, body } => {
                let name = self.task_name(env, name)?;
                let pin = self.pin(env, cpu.as_ref())?;
                self.new_task(&name, stmt.span)?;
                let child = env.child(&name, self.shared.seed);
                let interp = self.clone();
                let body = body.clone();
                let k = &self.kernel;
                self.shared.recorder.task_started(&name, stmt.span, None);
                let pid = k.fork_process(k.current_process(), &name);
                let program = k.task_body(pid, interp.run_task(child, body));
                let id = k.cx.spawn_task(name.clone(), pin, program);
                k.register_task(id, pid);
                self.shared.tasks.borrow_mut().insert(name.clone(), id);
                self.shared.recorder.set_task_id(&name, id);
            }
            StmtKind::At { time, cpu, body } => {
                let time = self.int(env, time)?;
                if time < 0 {
                    return rt(
                        stmt.span,
                        format!("found time {time}, expected a virtual time of 0 or more"),
                    );
                }
                let pin = self.pin(env, cpu.as_ref())?;
                let label = format!("at {}", format_duration(time as u64));
                let mut child = env.child(&label, self.shared.seed);
                child.process = Some(self.kernel.current_process());
                let interp = self.clone();
                let body = body.clone();
                let cx = &self.kernel.cx;
                let when = (time as u64).max(cx.now_ns());
                cx.state().add_event(
                    when,
                    pin,
                    "at",
                    Handler::External(Some(Box::new(move || {
                        Box::pin(interp.run_irq(child, body))
                    }))),
                );
            }
            StmtKind::Note(text) => {
                let text = match self.eval(env, text)? {
                    Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                    other => other.to_string(),
                };
                let task = env.task.clone();
                self.kernel.cx.note(|| format!("{task}: note: {text}"));
            }
            StmtKind::Irq(call) => self.irq(env, call, stmt.span).await?,
            StmtKind::Break => return Ok(Flow::Break),
            StmtKind::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Next)
    }

    // ---- system calls ------------------------------------------------------------------

    async fn syscall(
        &self,
        env: &mut Env,
        target: Option<&Place>,
        call: &Syscall,
        text: &str,
        span: Span,
    ) -> Result<(), RtError> {
        let k = self.kernel.clone();
        // Arguments first: a mistake in them must not leave the task "in" the call.
        let args = self.syscall_args(env, call)?;
        self.shared.recorder.enter_call(&env.task, text);
        let out: Out = match (call.name, args) {
            (SyscallName::EpollCreate, Args::Ints(v)) => {
                Out::fd(k.sys_epoll_create(v[0] as i32).await)
            }
            (SyscallName::EpollCreate1, Args::Ints(v)) => {
                Out::fd(k.sys_epoll_create1(v[0] as i32).await)
            }
            (SyscallName::SysctlMaxUserWatches, Args::Ints(v)) => {
                Out::unit(k.sys_sysctl_max_user_watches(v[0]).await)
            }
            (
                SyscallName::EpollPwait2,
                Args::Wait {
                    ep,
                    max,
                    buffer,
                    block,
                    timespec,
                    ..
                },
            ) => Out::events(k.sys_epoll_pwait2(ep, buffer, max, timespec, block).await),
            (SyscallName::EpollCtl, Args::Ctl { ep, op, fd, event }) => {
                Out::unit(k.sys_epoll_ctl(ep, op, fd, event).await)
            }
            (
                SyscallName::EpollWait,
                Args::Wait {
                    ep,
                    max,
                    timeout,
                    buffer,
                    ..
                },
            ) => Out::events(k.sys_epoll_wait(ep, buffer, max, timeout).await),
            (
                SyscallName::EpollPwait,
                Args::Wait {
                    ep,
                    max,
                    timeout,
                    buffer,
                    block,
                    ..
                },
            ) => Out::events(k.sys_epoll_pwait(ep, buffer, max, timeout, block).await),
            (SyscallName::Pipe, _) => Out::pair(k.sys_pipe().await, PairKind::Pipe),
            (SyscallName::Pipe2, Args::Ints(v)) => {
                Out::pair(k.sys_pipe2(v[0] as u32).await, PairKind::Pipe)
            }
            (SyscallName::Socketpair, Args::Ints(v)) if v.is_empty() => {
                Out::pair(k.sys_socketpair().await, PairKind::Socket)
            }
            (SyscallName::Socketpair, Args::Ints(v)) => {
                let sk_type = if v[0] as i32 & SOCK_TYPE_MASK == SOCK_DGRAM {
                    SockType::Dgram
                } else {
                    SockType::Stream
                };
                let flags = (v[0] as i32 & !SOCK_TYPE_MASK) as u32;
                Out::pair(
                    k.sys_socketpair_typed(sk_type, flags).await,
                    PairKind::Socket,
                )
            }
            (SyscallName::Eventfd, Args::Ints(v)) => Out::fd(k.sys_eventfd(v[0] as u32).await),
            (SyscallName::Eventfd2, Args::Ints(v)) => {
                Out::fd(k.sys_eventfd2(v[0] as u32, v[1] as u32).await)
            }
            (SyscallName::TimerfdCreate, Args::Ints(v)) => {
                Out::fd(k.sys_timerfd_create(v[0] as i32, v[1] as u32).await)
            }
            (SyscallName::TimerfdSettime, Args::Ints(v)) => {
                let new = kernel_model::timerfd::Itimerspec {
                    interval_ns: v[2] as u64,
                    value_ns: v[3] as u64,
                };
                Out::unit(
                    k.sys_timerfd_settime(v[0] as i32, v[1] as u32, new)
                        .await
                        .map(|_| ()),
                )
            }
            (SyscallName::TimerfdGettime, Args::Ints(v)) => Out::count(
                k.sys_timerfd_gettime(v[0] as i32)
                    .await
                    .map(|t| t.value_ns as i64),
            ),
            (SyscallName::Read, Args::Ints(v)) => {
                Out::read(k.sys_read(v[0] as i32, v[1] as usize).await)
            }
            (SyscallName::Write, Args::Write { fd, data }) => {
                Out::count(k.sys_write(fd, &data).await.map(|n| n as i64))
            }
            (SyscallName::Close, Args::Ints(v)) => Out::unit(k.sys_close(v[0] as i32).await),
            (SyscallName::Dup, Args::Ints(v)) => Out::fd(k.sys_dup(v[0] as i32).await),
            (SyscallName::Dup3, Args::Ints(v)) => {
                Out::fd(k.sys_dup3(v[0] as i32, v[1] as i32, v[2] as u32).await)
            }
            (SyscallName::Dup2, Args::Ints(v)) => {
                Out::fd(k.sys_dup2(v[0] as i32, v[1] as i32).await)
            }
            (SyscallName::Fcntl, Args::Ints(v)) => Out::count(
                k.sys_fcntl(v[0] as i32, v[1] as i32, v[2] as u32)
                    .await
                    .map(|f| f as i64),
            ),
            (SyscallName::Shutdown, Args::Ints(v)) => {
                Out::unit(k.sys_shutdown(v[0] as i32, v[1] as i32).await)
            }
            (SyscallName::Open, Args::Path(path)) => Out::fd(k.sys_open(&path).await),
            (SyscallName::Opaque, Args::Path(label)) => Out::fd(k.sys_opaque(&label).await),
            (SyscallName::Accept, Args::Ints(v)) => Out::fd(k.sys_accept(v[0] as i32).await),
            (SyscallName::ListenOn, Args::FdPath { fd, path }) => {
                Out::unit(k.sys_listen_on(fd, &path).await)
            }
            (SyscallName::ConnectTo, Args::Path(address)) => {
                Out::fd(k.sys_connect_to(&address).await)
            }
            (SyscallName::Kill, Args::Task(task)) => Out::unit(k.sys_kill(task).await),
            (SyscallName::Join, Args::Task(task)) => Out::unit(self.join(task).await),
            (SyscallName::Poll, Args::Ints(v)) => {
                Out::poll(k.sys_poll(v[0] as i32, v[1] as u32, v[2] as i32).await)
            }
            (SyscallName::Setrlimit, Args::Ints(v)) => {
                // The limits are unsigned longs in C: -1 is RLIM_INFINITY.
                Out::unit(k.sys_setrlimit(v[0] as u32, v[1] as u64, v[2] as u64).await)
            }
            (SyscallName::SocketExternal, _) => {
                let result = k.sys_socket_external().await;
                let mut out = Out::fd(result);
                if let Ok(fd) = result {
                    if let Some(index) = self.external_index(fd) {
                        out.value = Value::Sock {
                            fd: fd as i64,
                            index,
                        };
                    }
                }
                out
            }
            (name, _) => return rt(span, format!("internal: bad arguments for {}", name.name())),
        };
        // Returning to user space: a pending signal is handled now.
        k.handle_signal();
        self.shared.recorder.leave_call(&env.task);
        env.ret = out.ret;
        env.errno = out.errno.map_or(0, |e| e.number());
        env.last_call = Some(text.to_string());
        if self.shared.recorder.records_calls() {
            self.shared.recorder.push_call(CallResult {
                task: env.task.clone(),
                call: text.to_string(),
                ret: out.ret,
                errno: out.errno,
                events: out.events.clone(),
                data: out.data.clone(),
                fds: match &out.value {
                    Value::Pair { fds, .. } if out.errno.is_none() => Some(*fds),
                    _ => None,
                },
                line: span.line,
                time_ns: k.cx.now_ns(),
            });
        }
        if let Some(place) = target {
            self.assign(env, place, out.value)?;
        }
        Ok(())
    }

    fn syscall_args(&self, env: &mut Env, call: &Syscall) -> Result<Args, RtError> {
        let a = &call.args;
        Ok(match call.name {
            SyscallName::EpollCtl => {
                let ep = self.int32(env, &a[0])?;
                let op = self.int32(env, &a[1])?;
                let fd = self.int32(env, &a[2])?;
                let event = match a.get(3) {
                    None => None,
                    Some(e) => match self.eval(env, e)? {
                        Value::Null => None,
                        value => {
                            let events = self.mask(&value, e.span)?;
                            let data = match a.get(4) {
                                Some(d) => self.int(env, d)? as u64,
                                None => 0,
                            };
                            Some(EpollEvent { events, data })
                        }
                    },
                };
                Args::Ctl { ep, op, fd, event }
            }
            SyscallName::EpollWait | SyscallName::EpollPwait | SyscallName::EpollPwait2 => {
                let ep = self.int32(env, &a[0])?;
                let max = self.int32(env, &a[1])?;
                // epoll_pwait2's timeout: NULL (for ever), nanoseconds as a timespec, or
                // `timespec(sec, nsec)` field by field.
                let mut timespec = None;
                let timeout = if call.name == SyscallName::EpollPwait2 {
                    timespec = self.pwait2_timeout(env, &a[2])?;
                    0
                } else {
                    self.int32(env, &a[2])?
                };
                let mut rest = &a[3..];
                let mut block = UserSigmask::Null;
                if call.name != SyscallName::EpollWait {
                    block = match self.eval(env, &a[3])? {
                        Value::AllSignals => UserSigmask::AllSignals,
                        Value::Null | Value::Int(0) => UserSigmask::Null,
                        Value::Buffer(spec) if spec.bad_address => UserSigmask::BadAddress,
                        other => {
                            return rt(a[3].span, format!(
                                "epoll_pwait's fourth argument is the signal mask: NULL, ALL_SIGNALS or BAD_ADDRESS, found {other}"
                            ))
                        }
                    };
                    rest = &a[4..];
                }
                let mut buffer = UserBufferSpec::default();
                for e in rest {
                    match self.eval(env, e)? {
                        Value::Buffer(spec) => {
                            buffer.bad_address |= spec.bad_address;
                            buffer.not_resident |= spec.not_resident;
                            if spec.fault_at.is_some() {
                                buffer.fault_at = spec.fault_at;
                            }
                        }
                        other => {
                            return rt(e.span, format!(
                                "extra epoll_wait arguments describe the buffer: BAD_ADDRESS, NOT_RESIDENT or FAULT_AT(n), found {other}"
                            ))
                        }
                    }
                }
                Args::Wait {
                    ep,
                    max,
                    timeout,
                    buffer,
                    block,
                    timespec,
                }
            }
            SyscallName::SysctlMaxUserWatches => Args::Ints(vec![self.int(env, &a[0])?]),
            SyscallName::TimerfdSettime => {
                // timerfd_settime(fd, flags, interval_ns, value_ns): times are
                // nanoseconds of virtual time, 0 or more.
                let mut v = vec![
                    self.int32(env, &a[0])? as i64,
                    self.int32(env, &a[1])? as i64,
                ];
                for e in &a[2..] {
                    let ns = self.int(env, e)?;
                    if ns < 0 {
                        return rt(
                            e.span,
                            format!("found time {ns}, expected 0 or more nanoseconds"),
                        );
                    }
                    v.push(ns);
                }
                Args::Ints(v)
            }
            SyscallName::Write => {
                let fd = self.int32(env, &a[0])?;
                let data = self.bytes(env, &a[1])?;
                Args::Write { fd, data }
            }
            SyscallName::Open | SyscallName::Opaque | SyscallName::ConnectTo => {
                let path = self.bytes(env, &a[0])?;
                Args::Path(String::from_utf8_lossy(&path).into_owned())
            }
            SyscallName::ListenOn => {
                let fd = self.int32(env, &a[0])?;
                let path = self.bytes(env, &a[1])?;
                Args::FdPath {
                    fd,
                    path: String::from_utf8_lossy(&path).into_owned(),
                }
            }
            SyscallName::Kill | SyscallName::Join => {
                let Some(task) = &call.task else {
                    return rt(call.span, format!("{} needs a task name", call.name.name()));
                };
                let id = self.task_id(env, task, call.span)?;
                if call.name == SyscallName::Join && Some(id) == self.kernel.cx.current() {
                    return rt(
                        call.span,
                        "a task cannot join itself (pthread_join: EDEADLK)",
                    );
                }
                Args::Task(id)
            }
            SyscallName::Read => {
                let fd = self.int32(env, &a[0])?;
                let len = self.int(env, &a[1])?;
                if !(0..=BYTES_MAX).contains(&len) {
                    return rt(
                        a[1].span,
                        format!("read length {len} is out of range (0 to {BYTES_MAX})"),
                    );
                }
                Args::Ints(vec![fd as i64, len])
            }
            SyscallName::Eventfd | SyscallName::Eventfd2 => {
                let count = self.int(env, &a[0])?;
                if !(0..=u32::MAX as i64).contains(&count) {
                    return rt(
                        a[0].span,
                        format!("eventfd's initial count {count} does not fit in 32 bits"),
                    );
                }
                match a.get(1) {
                    Some(flags) => Args::Ints(vec![count, self.int32(env, flags)? as i64]),
                    None => Args::Ints(vec![count]),
                }
            }
            SyscallName::Setrlimit => {
                // `setrlimit(RESOURCE, n)` sets both limits, as `ulimit -n n` does.
                let resource = self.int32(env, &a[0])?;
                let soft = self.int(env, &a[1])?;
                let hard = match a.get(2) {
                    Some(e) => self.int(env, e)?,
                    None => soft,
                };
                Args::Ints(vec![resource as i64, soft, hard])
            }
            SyscallName::Socketpair if !a.is_empty() => {
                let value = self.int32(env, &a[0])?;
                match value & SOCK_TYPE_MASK {
                    SOCK_STREAM => {}
                    SOCK_DGRAM if self.kernel.version().is_modern() => {}
                    SOCK_DGRAM => {
                        return rt(
                            a[0].span,
                            format!(
                                "datagram socketpairs are modelled on 6.18 only (this run is {})",
                                self.kernel.version().name()
                            ),
                        )
                    }
                    other => {
                        return rt(
                            a[0].span,
                            format!("socketpair's type {other} is not modelled: SOCK_STREAM or SOCK_DGRAM, with SOCK_NONBLOCK and SOCK_CLOEXEC"),
                        )
                    }
                }
                Args::Ints(vec![value as i64])
            }
            SyscallName::Pipe2 => {
                let flags = self.int32(env, &a[0])?;
                if flags as u32 & kernel_model::objects::O_NOTIFICATION_PIPE != 0 {
                    return rt(
                        a[0].span,
                        "O_NOTIFICATION_PIPE (watch-queue pipes) is not modelled",
                    );
                }
                Args::Ints(vec![flags as i64])
            }
            SyscallName::Fcntl => {
                let fd = self.int32(env, &a[0])?;
                let cmd = self.int32(env, &a[1])?;
                let arg = match a.get(2) {
                    Some(e) => self.int(env, e)?,
                    None => 0,
                };
                Args::Ints(vec![fd as i64, cmd as i64, arg])
            }
            _ => {
                let mut v = Vec::with_capacity(a.len());
                for e in a {
                    v.push(self.int32(env, e)? as i64);
                }
                Args::Ints(v)
            }
        })
    }

    /// The index among the run's external sockets of the one behind `fd`.
    fn external_index(&self, fd: i32) -> Option<usize> {
        let k = &self.kernel;
        let entry = k.fd_entry(fd)?;
        let sock = match k.with_file(entry.file, |f| f.kind)? {
            FileKind::Socket(sock) => sock,
            _ => return None,
        };
        (0..)
            .map_while(|i| k.external_socket(i).map(|s| (i, s)))
            .find(|(_, s)| *s == sock)
            .map(|(i, _)| i)
    }

    /// Counts a new task against [`TASKS_MAX`]; its name must be new (`thread w` in a
    /// loop, or `worker[i]` with an index made twice, would make a second one).
    fn new_task(&self, name: &str, span: Span) -> Result<(), RtError> {
        if self.shared.tasks.borrow().contains_key(name) {
            return rt(
                span,
                format!("there is already a task `{name}`: task names are unique"),
            );
        }
        let made = self.shared.tasks_made.get() + 1;
        if made > TASKS_MAX {
            return rt(span, format!("a run may create at most {TASKS_MAX} tasks"));
        }
        self.shared.tasks_made.set(made);
        Ok(())
    }

    fn task_name(&self, env: &mut Env, name: &TaskName) -> Result<String, RtError> {
        Ok(match &name.index {
            None => name.name.clone(),
            Some(index) => format!("{}[{}]", name.name, self.int(env, index)?),
        })
    }

    fn task_id(&self, env: &mut Env, name: &TaskName, span: Span) -> Result<TaskId, RtError> {
        let name = self.task_name(env, name)?;
        let id = self.shared.tasks.borrow().get(&name).copied();
        match id {
            Some(id) => Ok(id),
            None => rt(span, format!("there is no task `{name}` (yet)")),
        }
    }

    fn pin(&self, env: &mut Env, cpu: Option<&Expr>) -> Result<Option<CpuId>, RtError> {
        let Some(cpu) = cpu else {
            return Ok(None);
        };
        let n = self.int(env, cpu)?;
        if n < 0 || n as usize >= self.shared.cpus {
            return rt(
                cpu.span,
                format!(
                    "cpu {n} does not exist: the machine has {} CPUs",
                    self.shared.cpus
                ),
            );
        }
        Ok(Some(CpuId(n as u16)))
    }

    // ---- interrupt context -------------------------------------------------------------

    async fn irq(&self, env: &mut Env, call: &IrqCall, span: Span) -> Result<(), RtError> {
        let k = self.kernel.clone();
        let a = &call.args;
        let (ret, errno) = match call.name {
            IrqName::Signal => {
                let Some(task) = &call.task else {
                    return rt(span, "signal needs a task name");
                };
                let id = self.task_id(env, task, span)?;
                k.cx.send_signal(id).await;
                (0, None)
            }
            IrqName::Deliver => {
                if let Some(file) = self.opaque_file(env, &a[0])? {
                    let data = self.bytes(env, &a[1])?;
                    let queued = k.opaque_deliver(file, data.len() as u64).await;
                    (if queued { data.len() as i64 } else { 0 }, None)
                } else {
                    let sock = self.sock(env, &a[0])?;
                    let data = self.bytes(env, &a[1])?;
                    let queued = k.net_deliver(sock, &data).await;
                    (if queued { data.len() as i64 } else { 0 }, None)
                }
            }
            IrqName::Ready => {
                let file = self.opaque_arg(env, &a[0])?;
                let mask = self.int(env, &a[1])?;
                (i64::from(k.opaque_ready(file, mask as u32).await) - 1, None)
            }
            IrqName::Incoming => {
                let file = self.opaque_arg(env, &a[0])?;
                (i64::from(k.opaque_incoming(file).await) - 1, None)
            }
            IrqName::RemoteShutdown => {
                let sock = self.sock(env, &a[0])?;
                let how = self.int32(env, &a[1])?;
                (
                    if k.net_shutdown(sock, how).await {
                        0
                    } else {
                        -1
                    },
                    None,
                )
            }
            IrqName::RemoteError => {
                let sock = self.sock(env, &a[0])?;
                let n = self.int(env, &a[1])?;
                let Some(errno) = Errno::ALL.into_iter().find(|e| e.number() == n) else {
                    return rt(
                        a[1].span,
                        format!("{n} is not an errno the model knows (e.g. ECONNRESET)"),
                    );
                };
                (
                    if k.net_error(sock, errno).await {
                        0
                    } else {
                        -1
                    },
                    None,
                )
            }
        };
        if self.shared.recorder.records_calls() {
            self.shared.recorder.push_call(CallResult {
                task: env.task.clone(),
                call: call.text.clone(),
                ret,
                errno,
                events: Vec::new(),
                data: None,
                fds: None,
                line: span.line,
                time_ns: k.cx.now_ns(),
            });
        }
        Ok(())
    }

    /// The opaque file `e` names (`file_at(N)`), or `None` when it names something else.
    fn opaque_file(
        &self,
        env: &mut Env,
        e: &Expr,
    ) -> Result<Option<kernel_model::objects::FileId>, RtError> {
        Ok(match self.eval(env, e)? {
            Value::File(file)
                if matches!(
                    self.kernel.with_file(file, |f| f.kind),
                    Some(FileKind::Opaque(_))
                ) =>
            {
                Some(file)
            }
            _ => None,
        })
    }

    fn opaque_arg(
        &self,
        env: &mut Env,
        e: &Expr,
    ) -> Result<kernel_model::objects::FileId, RtError> {
        match self.opaque_file(env, e)? {
            Some(file) => Ok(file),
            None => rt(
                e.span,
                "expected an opaque file, as `file_at(N)` names one (a descriptor made by opaque())",
            ),
        }
    }

    fn sock(&self, env: &mut Env, e: &Expr) -> Result<kernel_model::objects::SockId, RtError> {
        let index = match self.eval(env, e)? {
            Value::Sock { index, .. } => index,
            Value::File(file) => {
                let sock = match self.kernel.with_file(file, |f| f.kind) {
                    Some(FileKind::Socket(sock)) => Some(sock),
                    _ => None,
                };
                return match sock.and_then(|s| {
                    (0..)
                        .map_while(|i| self.kernel.external_socket(i))
                        .any(|x| x == s)
                        .then_some(s)
                }) {
                    Some(sock) => Ok(sock),
                    None => rt(e.span, "expected an external socket, found another file"),
                };
            }
            Value::Int(i) if i >= 0 => i as usize,
            other => {
                return rt(e.span, format!(
                    "expected an external socket (a variable set by socket_external(), or its creation index), found {other}"
                ))
            }
        };
        match self.kernel.external_socket(index) {
            Some(sock) => Ok(sock),
            None => rt(
                e.span,
                format!("there is no external socket #{index} (yet): socket_external() makes them"),
            ),
        }
    }

    // ---- expectations ------------------------------------------------------------------

    fn expect(&self, env: &mut Env, expectation: &Expectation, span: Span) -> Result<(), RtError> {
        let errno_name = |n: i64| {
            Errno::ALL
                .into_iter()
                .find(|e| e.number() == n)
                .map_or(n.to_string(), |e| e.name().to_string())
        };
        let (text, passed, message) = match expectation {
            Expectation::Errno(errno) => {
                let Some(last) = env.last_call.clone() else {
                    return rt(
                        span,
                        format!("`expect {errno}` needs a system call before it"),
                    );
                };
                let passed = env.errno == errno.number();
                let message = if passed {
                    String::new()
                } else if env.errno == 0 {
                    format!(
                        "expected `{last}` to fail with {errno}, it returned {}",
                        env.ret
                    )
                } else {
                    format!(
                        "expected `{last}` to fail with {errno}, it failed with {}",
                        errno_name(env.errno)
                    )
                };
                (errno.name().to_string(), passed, message)
            }
            Expectation::Ok => {
                let Some(last) = env.last_call.clone() else {
                    return rt(span, "`expect ok` needs a system call before it");
                };
                let passed = env.errno == 0;
                let message = if passed {
                    String::new()
                } else {
                    format!(
                        "expected `{last}` to succeed, it failed with {}",
                        errno_name(env.errno)
                    )
                };
                ("ok".to_string(), passed, message)
            }
            Expectation::Cond { expr, text } => {
                let (passed, detail) = self.condition(env, expr)?;
                let message = if passed {
                    String::new()
                } else {
                    format!("expected `{text}`{detail}")
                };
                (text.clone(), passed, message)
            }
        };
        let message = if passed {
            String::new()
        } else {
            format!("{}: {message} (task `{}`)", self.location(span), env.task)
        };
        self.file_expectation(env, span, text, passed, message);
        Ok(())
    }

    /// Evaluates an expectation's condition; on failure, says what the sides were.
    fn condition(&self, env: &mut Env, expr: &Expr) -> Result<(bool, String), RtError> {
        match &expr.kind {
            ExprKind::Compare(op, a, b) => {
                let va = self.eval(env, a)?;
                let vb = self.eval(env, b)?;
                let passed = self.compare(*op, &va, &vb, expr.span)?;
                let mut detail = String::new();
                // What the sides were is said only when the expectation fails.
                if passed {
                    return Ok((passed, detail));
                }
                if !is_literal(a) {
                    detail.push_str(&format!(", but {} is {va}", self.source(a.span)));
                }
                if !is_literal(b) {
                    detail.push_str(&format!(
                        "{} {} is {vb}",
                        if detail.is_empty() { ", but" } else { " and" },
                        self.source(b.span)
                    ));
                }
                Ok((passed, detail))
            }
            ExprKind::In(a, items) => {
                let va = self.eval(env, a)?;
                let mut passed = false;
                for item in items {
                    if equal(&va, &self.eval(env, item)?) {
                        passed = true;
                        break;
                    }
                }
                if passed {
                    return Ok((passed, String::new()));
                }
                Ok((passed, format!(", but {} is {va}", self.source(a.span))))
            }
            _ => {
                let passed = self.truthy(env, expr)?;
                let detail = if passed { "" } else { ", but it is false" };
                Ok((passed, detail.to_string()))
            }
        }
    }

    // ---- expressions -------------------------------------------------------------------

    fn truthy(&self, env: &mut Env, e: &Expr) -> Result<bool, RtError> {
        Ok(self.int(env, e)? != 0)
    }

    fn int(&self, env: &mut Env, e: &Expr) -> Result<i64, RtError> {
        let v = self.eval(env, e)?;
        match v.as_int() {
            Some(n) => Ok(n),
            None => rt(
                e.span,
                format!("expected a number, found {} ({v})", v.kind()),
            ),
        }
    }

    /// `NULL`, or a number.
    /// `epoll_pwait2`'s timeout argument: `NULL`, a number of nanoseconds (split into
    /// seconds and nanoseconds as a `struct timespec`), or `timespec(sec, nsec)`.
    fn pwait2_timeout(&self, env: &mut Env, e: &Expr) -> Result<Option<Timespec>, RtError> {
        if let Value::List(fields) = self.eval(env, e)? {
            if let [Value::Int(tv_sec), Value::Int(tv_nsec)] = fields.as_slice() {
                return Ok(Some(Timespec {
                    tv_sec: *tv_sec,
                    tv_nsec: *tv_nsec,
                }));
            }
            return rt(
                e.span,
                "epoll_pwait2's timeout list must be timespec(sec, nsec)",
            );
        }
        Ok(self.optional_int(env, e)?.map(|ns| Timespec {
            tv_sec: ns.div_euclid(1_000_000_000),
            tv_nsec: ns.rem_euclid(1_000_000_000),
        }))
    }

    fn optional_int(&self, env: &mut Env, e: &Expr) -> Result<Option<i64>, RtError> {
        match self.eval(env, e)? {
            Value::Null => Ok(None),
            v => match v.as_int() {
                Some(n) => Ok(Some(n)),
                None => rt(
                    e.span,
                    format!("expected NULL or a number, found {} ({v})", v.kind()),
                ),
            },
        }
    }

    fn int32(&self, env: &mut Env, e: &Expr) -> Result<i32, RtError> {
        let n = self.int(env, e)?;
        match i32::try_from(n) {
            Ok(n) => Ok(n),
            Err(_) => rt(e.span, format!("{n} does not fit in a C int")),
        }
    }

    fn mask(&self, v: &Value, span: Span) -> Result<u32, RtError> {
        match v.as_int() {
            Some(n) if (0..=u32::MAX as i64).contains(&n) => Ok(n as u32),
            _ => rt(
                span,
                format!("expected an event mask such as EPOLLIN|EPOLLET, found {v}"),
            ),
        }
    }

    fn bytes(&self, env: &mut Env, e: &Expr) -> Result<Vec<u8>, RtError> {
        match self.eval(env, e)? {
            Value::Bytes(b) => Ok(b),
            other => rt(
                e.span,
                format!(
                    "expected bytes (\"text\", `N bytes` or u64(n)), found {} ({other})",
                    other.kind()
                ),
            ),
        }
    }

    fn compare(&self, op: BinOp, a: &Value, b: &Value, span: Span) -> Result<bool, RtError> {
        Ok(match op {
            BinOp::Eq => equal(a, b),
            BinOp::Ne => !equal(a, b),
            _ => {
                let (Some(x), Some(y)) = (a.as_int(), b.as_int()) else {
                    return rt(
                        span,
                        format!(
                            "`{}` compares numbers, found {} and {}",
                            op.symbol(),
                            a.kind(),
                            b.kind()
                        ),
                    );
                };
                match op {
                    BinOp::Lt => x < y,
                    BinOp::Le => x <= y,
                    BinOp::Gt => x > y,
                    _ => x >= y,
                }
            }
        })
    }

    fn eval(&self, env: &mut Env, e: &Expr) -> Result<Value, RtError> {
        Ok(match &e.kind {
            ExprKind::Int(v) | ExprKind::Const(_, v) => Value::Int(*v),
            ExprKind::Str(b) => Value::Bytes(b.clone()),
            ExprKind::Special(s) => match s {
                Special::Null => Value::Null,
                Special::AllSignals => Value::AllSignals,
                Special::BadAddress => Value::Buffer(UserBufferSpec {
                    bad_address: true,
                    ..UserBufferSpec::default()
                }),
                Special::NotResident => Value::Buffer(UserBufferSpec {
                    not_resident: true,
                    ..UserBufferSpec::default()
                }),
                Special::Ret => Value::Int(env.ret),
                Special::Errno => Value::Int(env.errno),
            },
            ExprKind::Var(_) | ExprKind::Field(..) | ExprKind::Index(..) => {
                let value = self.path(env, e)?.into_owned();
                self.charge_for(&value, e.span)?;
                value
            }
            ExprKind::Unary(op, x) => {
                let n = self.int(env, x)?;
                Value::Int(match op {
                    UnOp::Neg => match n.checked_neg() {
                        Some(negated) => negated,
                        None => {
                            return rt(
                                e.span,
                                format!("integer overflow: -({n}) does not fit in 64 bits"),
                            )
                        }
                    },
                    UnOp::Not => (n == 0) as i64,
                    UnOp::BitNot => !n,
                })
            }
            ExprKind::Compare(op, a, b) => {
                let va = self.eval(env, a)?;
                let vb = self.eval(env, b)?;
                Value::Int(self.compare(*op, &va, &vb, e.span)? as i64)
            }
            ExprKind::Chain(first, links) => self.chain(env, first, links)?,
            ExprKind::In(a, items) => {
                let va = self.eval(env, a)?;
                let mut found = false;
                for item in items {
                    if equal(&va, &self.eval(env, item)?) {
                        found = true;
                        break;
                    }
                }
                Value::Int(found as i64)
            }
            ExprKind::Call(builtin, args) => self.builtin(env, *builtin, args, e.span)?,
            ExprKind::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let value = self.eval(env, item)?;
                    check_nesting(1 + nesting(&value), item.span)?;
                    out.push(value);
                }
                let list = Value::List(out);
                self.charge_for(&list, e.span)?;
                list
            }
            ExprKind::Event(mask, data) => {
                let m = self.eval(env, mask)?;
                let events = self.mask(&m, mask.span)?;
                let data = self.int(env, data)? as u64;
                Value::Event(EpollEvent { events, data })
            }
            ExprKind::Bytes(n) => {
                let count = self.int(env, n)?;
                if !(0..=BYTES_MAX).contains(&count) {
                    return rt(
                        n.span,
                        format!("{count} bytes is out of range (0 to {BYTES_MAX})"),
                    );
                }
                Value::Bytes(vec![b'x'; count as usize])
            }
        })
    }

    /// [`Interp::charge`] for making or copying `value`.
    fn charge_for(&self, value: &Value, span: Span) -> Result<(), RtError> {
        match value {
            Value::List(_) | Value::Bytes(_) => {
                self.charge(span, (weight(value) / WEIGHT_PER_STATEMENT) as u64)
            }
            _ => Ok(()),
        }
    }

    /// A chain of operators of one level, left to right (a loop, however long).
    fn chain(&self, env: &mut Env, first: &Expr, links: &[Link]) -> Result<Value, RtError> {
        if let Some(op @ (BinOp::LogAnd | BinOp::LogOr)) = links.first().map(|l| l.op) {
            // One level holds one of them; `a && b && c` stops at the first false.
            let mut value = self.truthy(env, first)?;
            for link in links {
                if value == (op == BinOp::LogOr) {
                    break;
                }
                value = self.truthy(env, &link.operand)?;
            }
            return Ok(Value::Int(value as i64));
        }
        let mut value = self.int(env, first)?;
        for link in links {
            let operand = self.int(env, &link.operand)?;
            if operand == 0 && matches!(link.op, BinOp::Div | BinOp::Rem) {
                return rt(
                    link.operand.span,
                    format!(
                        "division by zero: `{}` is 0",
                        self.source(link.operand.span)
                    ),
                );
            }
            value = match arithmetic(link.op, value, operand) {
                Ok(v) => v,
                Err(message) => return rt(link.at, message),
            };
        }
        Ok(Value::Int(value))
    }

    /// A variable, field or element, without copying the whole variable.
    fn path<'e>(&self, env: &'e mut Env, e: &Expr) -> Result<Cow<'e, Value>, RtError> {
        enum Step<'a> {
            Field(&'a str, Span),
            Index(i64, Span),
        }
        let mut steps = Vec::new();
        let mut cur = e;
        loop {
            match &cur.kind {
                ExprKind::Field(base, field) => {
                    steps.push(Step::Field(field, cur.span));
                    cur = base;
                }
                ExprKind::Index(base, index) => {
                    let i = self.int(env, index)?;
                    steps.push(Step::Index(i, index.span));
                    cur = base;
                }
                _ => break,
            }
        }
        let mut value: Cow<'e, Value> = match &cur.kind {
            ExprKind::Var(name) => match env.vars.get(name) {
                Some(v) => Cow::Borrowed(v),
                None => {
                    return rt(cur.span, format!(
                        "`{name}` has no value here (it is assigned only on a path this run did not take)"
                    ))
                }
            },
            _ => Cow::Owned(self.eval(env, cur)?),
        };
        for step in steps.into_iter().rev() {
            value = match step {
                Step::Field(field, span) => Cow::Owned(field_of(&value, field, span)?),
                Step::Index(i, span) => match value {
                    Cow::Borrowed(Value::List(items)) => {
                        match usize::try_from(i).ok().and_then(|i| items.get(i)) {
                            Some(item) => Cow::Borrowed(item),
                            None => {
                                return rt(
                                    span,
                                    format!(
                                        "index {i} is out of range: the list has {} elements",
                                        items.len()
                                    ),
                                )
                            }
                        }
                    }
                    other => Cow::Owned(index_of(&other, i, span)?),
                },
            };
        }
        Ok(value)
    }

    fn builtin(
        &self,
        env: &mut Env,
        builtin: Builtin,
        args: &[Expr],
        span: Span,
    ) -> Result<Value, RtError> {
        Ok(match builtin {
            Builtin::Random => {
                let n = self.int(env, &args[0])?;
                if n <= 0 {
                    return rt(args[0].span, format!("random(n) needs n > 0, found {n}"));
                }
                Value::Int(env.rng.below(n as u64) as i64)
            }
            Builtin::Len => {
                let v = self.eval(env, &args[0])?;
                match &v {
                    Value::List(items) => Value::Int(items.len() as i64),
                    Value::Bytes(b) => Value::Int(b.len() as i64),
                    Value::Pair { .. } => Value::Int(2),
                    _ => {
                        return rt(
                            args[0].span,
                            format!("len() needs a list or bytes, found {} ({v})", v.kind()),
                        )
                    }
                }
            }
            Builtin::Array => {
                let n = self.int(env, &args[0])?;
                if !(0..=ARRAY_MAX).contains(&n) {
                    return rt(
                        args[0].span,
                        format!("array({n}) is out of range (0 to {ARRAY_MAX})"),
                    );
                }
                let fill = match args.get(1) {
                    Some(e) => self.eval(env, e)?,
                    None => Value::Int(0),
                };
                check_nesting(1 + nesting(&fill), span)?;
                let statements = weight(&fill).saturating_mul(n as usize) / WEIGHT_PER_STATEMENT;
                self.charge(span, statements as u64)?;
                if weight(&fill).saturating_mul(n as usize) > WEIGHT_MAX {
                    return rt(
                        span,
                        format!("array({n}, ...) would hold more than {WEIGHT_MAX} values"),
                    );
                }
                Value::List(vec![fill; n as usize])
            }
            Builtin::U64 => Value::Bytes(self.int(env, &args[0])?.to_le_bytes().to_vec()),
            Builtin::AsU64 => {
                let b = self.bytes(env, &args[0])?;
                let Ok(bytes) = <[u8; 8]>::try_from(b.as_slice()) else {
                    return rt(
                        args[0].span,
                        format!("as_u64() needs exactly 8 bytes, found {}", b.len()),
                    );
                };
                Value::Int(u64::from_le_bytes(bytes) as i64)
            }
            Builtin::Sorted => {
                let v = self.eval(env, &args[0])?;
                let Value::List(mut items) = v else {
                    return rt(
                        args[0].span,
                        format!("sorted() needs a list, found {} ({v})", v.kind()),
                    );
                };
                let key = |v: &Value| match v {
                    Value::Event(e) => (0, e.data as i128, e.events as i128),
                    other => (1, other.as_int().unwrap_or(0) as i128, 0),
                };
                items.sort_by_key(key);
                Value::List(items)
            }
            Builtin::Now => Value::Int(self.kernel.cx.now_ns() as i64),
            Builtin::File => {
                let n = self.int(env, &args[0])?;
                let Some(process) = env.process else {
                    return rt(span, "file_at(N) names a descriptor of the task that scheduled this `at` block; a top-level `at` has none");
                };
                match i32::try_from(n)
                    .ok()
                    .and_then(|fd| self.kernel.file_of(process, fd))
                {
                    Some(file) => Value::File(file),
                    None => {
                        return rt(
                            args[0].span,
                            format!("descriptor {n} is not open (file_at({n}))"),
                        )
                    }
                }
            }
            Builtin::FaultAt => {
                let n = self.int(env, &args[0])?;
                if n < 0 {
                    return rt(args[0].span, format!("FAULT_AT(n) needs n >= 0, found {n}"));
                }
                Value::Buffer(UserBufferSpec {
                    fault_at: Some(n as usize),
                    ..UserBufferSpec::default()
                })
            }
            Builtin::Timespec => Value::List(vec![
                Value::Int(self.int(env, &args[0])?),
                Value::Int(self.int(env, &args[1])?),
            ]),
            Builtin::Min => Value::Int(self.int(env, &args[0])?.min(self.int(env, &args[1])?)),
            Builtin::Max => Value::Int(self.int(env, &args[0])?.max(self.int(env, &args[1])?)),
            Builtin::Sent => {
                let sock = self.sock(env, &args[0])?;
                let _ = span;
                Value::Bytes(self.kernel.net_sent(sock))
            }
        })
    }

    fn assign(&self, env: &mut Env, place: &Place, value: Value) -> Result<(), RtError> {
        if matches!(value, Value::List(_)) && !place.indices.is_empty() {
            let total = env
                .vars
                .get(&place.name)
                .map_or(0, weight)
                .saturating_add(weight(&value));
            if total > WEIGHT_MAX {
                let span = place.indices.first().map_or(Span::default(), |e| e.span);
                return rt(
                    span,
                    format!("`{}` would hold more than {WEIGHT_MAX} values", place.name),
                );
            }
        }
        if place.indices.is_empty() {
            env.vars.insert(place.name.clone(), value);
            return Ok(());
        }
        check_nesting(place.indices.len() + nesting(&value), place.indices[0].span)?;
        let mut indices = Vec::with_capacity(place.indices.len());
        for e in &place.indices {
            indices.push((self.int(env, e)?, e.span));
        }
        let Some(mut slot) = env.vars.get_mut(&place.name) else {
            return rt(
                place.indices[0].span,
                format!("`{}` has no value here", place.name),
            );
        };
        let last = indices.len() - 1;
        for (n, (i, span)) in indices.into_iter().enumerate() {
            let Value::List(items) = slot else {
                return rt(
                    span,
                    format!(
                        "`{}[...]` needs a list, found {} ({slot})",
                        place.name,
                        slot.kind()
                    ),
                );
            };
            let len = items.len();
            let Some(i) = usize::try_from(i)
                .ok()
                .filter(|&i| i < len || (i == len && n == last))
            else {
                return rt(
                    span,
                    format!("index {i} is out of range: the list has {len} elements"),
                );
            };
            if i == len {
                if len as i64 >= ARRAY_MAX {
                    return rt(
                        span,
                        format!("a list may hold at most {ARRAY_MAX} elements"),
                    );
                }
                items.push(Value::Int(0));
            }
            slot = &mut items[i];
        }
        *slot = value;
        Ok(())
    }
}

/// A value `depth` lists deep may be made: at most [`VALUE_NESTING_MAX`].
fn check_nesting(depth: usize, span: Span) -> Result<(), RtError> {
    if depth > VALUE_NESTING_MAX {
        return rt(
            span,
            format!(
                "lists may nest at most {VALUE_NESTING_MAX} deep; this one would be {depth} deep"
            ),
        );
    }
    Ok(())
}

fn field_of(value: &Value, field: &str, span: Span) -> Result<Value, RtError> {
    match (value, field) {
        (Value::Pair { fds, .. }, "r" | "a") => Ok(Value::Int(fds[0])),
        (Value::Pair { fds, .. }, "w" | "b") => Ok(Value::Int(fds[1])),
        (Value::Event(e), "events") => Ok(Value::Int(e.events as i64)),
        (Value::Event(e), "data") => Ok(Value::Int(e.data as i64)),
        _ => {
            let needs = match field {
                "events" | "data" => "an event (an element of what epoll_wait returned)",
                _ => "a pipe or a socketpair",
            };
            rt(
                span,
                format!("`.{field}` needs {needs}, found {} ({value})", value.kind()),
            )
        }
    }
}

fn index_of(value: &Value, i: i64, span: Span) -> Result<Value, RtError> {
    let out_of_range = |len: usize| {
        rt(
            span,
            format!(
                "index {i} is out of range: {} has {len} elements",
                value.kind()
            ),
        )
    };
    match value {
        Value::List(items) => match usize::try_from(i).ok().and_then(|i| items.get(i)) {
            Some(v) => Ok(v.clone()),
            None => out_of_range(items.len()),
        },
        Value::Bytes(b) => match usize::try_from(i).ok().and_then(|i| b.get(i)) {
            Some(&byte) => Ok(Value::Int(byte as i64)),
            None => out_of_range(b.len()),
        },
        Value::Pair { fds, .. } => match i {
            0 | 1 => Ok(Value::Int(fds[i as usize])),
            _ => out_of_range(2),
        },
        _ => rt(
            span,
            format!("`[...]` needs a list, found {} ({value})", value.kind()),
        ),
    }
}

/// Whether an expression has no variables (so a failure message need not show it).
fn is_literal(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Const(..) => true,
        ExprKind::Unary(_, x) | ExprKind::Bytes(x) => is_literal(x),
        ExprKind::Compare(_, a, b) | ExprKind::Event(a, b) => is_literal(a) && is_literal(b),
        ExprKind::Chain(first, links) => {
            is_literal(first) && links.iter().all(|l| is_literal(&l.operand))
        }
        ExprKind::List(items) => items.iter().all(is_literal),
        _ => false,
    }
}

/// Evaluated system-call arguments.
enum Args {
    Ints(Vec<i64>),
    Ctl {
        ep: i32,
        op: i32,
        fd: i32,
        event: Option<EpollEvent>,
    },
    Wait {
        ep: i32,
        max: i32,
        timeout: i32,
        buffer: UserBufferSpec,
        block: UserSigmask,
        /// epoll_pwait2's timeout (`None`: NULL).
        timespec: Option<Timespec>,
    },
    Write {
        fd: i32,
        data: Vec<u8>,
    },
    Path(String),
    /// A descriptor and an address (`listen_on`).
    FdPath {
        fd: i32,
        path: String,
    },
    Task(TaskId),
}

/// What a system call gave back, as user space sees it.
struct Out {
    ret: i64,
    errno: Option<Errno>,
    value: Value,
    events: Vec<EpollEvent>,
    data: Option<Vec<u8>>,
}

impl Out {
    fn failed(errno: Errno, value: Value) -> Out {
        Out {
            ret: -1,
            errno: Some(errno),
            value,
            events: Vec::new(),
            data: None,
        }
    }

    fn int(ret: i64) -> Out {
        Out {
            ret,
            errno: None,
            value: Value::Int(ret),
            events: Vec::new(),
            data: None,
        }
    }

    fn fd(result: SysResult<i32>) -> Out {
        match result {
            Ok(fd) => Out::int(fd as i64),
            Err(errno) => Out::failed(errno, Value::Int(-1)),
        }
    }

    fn count(result: SysResult<i64>) -> Out {
        match result {
            Ok(n) => Out::int(n),
            Err(errno) => Out::failed(errno, Value::Int(-1)),
        }
    }

    fn unit(result: SysResult<()>) -> Out {
        match result {
            Ok(()) => Out::int(0),
            Err(errno) => Out::failed(errno, Value::Int(-1)),
        }
    }

    fn pair(result: SysResult<[i32; 2]>, kind: PairKind) -> Out {
        match result {
            Ok([a, b]) => Out {
                ret: 0,
                errno: None,
                value: Value::Pair {
                    kind,
                    fds: [a as i64, b as i64],
                },
                events: Vec::new(),
                data: None,
            },
            Err(errno) => Out::failed(
                errno,
                Value::Pair {
                    kind,
                    fds: [-1, -1],
                },
            ),
        }
    }

    fn events(result: SysResult<Vec<EpollEvent>>) -> Out {
        match result {
            Ok(events) => Out {
                ret: events.len() as i64,
                errno: None,
                value: Value::List(events.iter().map(|&e| Value::Event(e)).collect()),
                events,
                data: None,
            },
            Err(errno) => Out::failed(errno, Value::List(Vec::new())),
        }
    }

    /// `poll` on one descriptor: the value is its `revents`, `ret` how many were ready.
    fn poll(result: SysResult<u32>) -> Out {
        match result {
            Ok(revents) => Out {
                ret: i64::from(revents != 0),
                errno: None,
                value: Value::Int(i64::from(revents)),
                events: Vec::new(),
                data: None,
            },
            Err(errno) => Out::failed(errno, Value::Int(-1)),
        }
    }

    fn read(result: SysResult<Vec<u8>>) -> Out {
        match result {
            Ok(bytes) => Out {
                ret: bytes.len() as i64,
                errno: None,
                value: Value::Bytes(bytes.clone()),
                events: Vec::new(),
                data: Some(bytes),
            },
            Err(errno) => Out::failed(errno, Value::Int(-1)),
        }
    }
}
