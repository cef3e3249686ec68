//! The world a recording implies, and the scenario that rebuilds it.
//!
//! Three passes over the recording. The first parses every line and pairs each
//! `<unfinished ...>` with its `<... resumed>` (by pid), giving whole calls with the
//! line each started and returned on. The second finds who made whom (clone, clone3,
//! fork, vfork: a thread or a process) and which sockets will listen. The third walks
//! the calls in the order they returned, keeping the descriptor table of every process,
//! the interest list of every epoll set and what the model will hold in every file fed
//! from outside, and writes each call as a statement of its task with an expectation of
//! its recorded result. What no traced task did — bytes arriving on a socket, a
//! connection to a listening socket, a peer's close or reset, a signal — becomes an
//! `at` block placed just before the first call that saw it.
//!
//! Time: the scenario runs on virtual time laid out from the recording's line order, not
//! its timestamps (each line is [`LINE_NS`] after the one before; a wait that timed
//! out pushes every later line past its timeout). A multi-task scenario sleeps each task
//! until its call's time (`sleep until`), so calls start in the recorded order.

use std::borrow::Cow;
use std::collections::BTreeMap;

use kernel_model::{Errno, KernelVersion};

use super::args::{self, O_CLOEXEC, O_NONBLOCK};
use super::line::{parse_line, LineKind, RawResult};
use super::placement::{Phase, Placement, WAIT_OFFSET_NS};
use super::{Import, ImportError, ImportOptions, Recorded};
use crate::scenario::ast::{self, Header, IrqName, SyscallName};
use crate::scenario::writer::{Action, CallLine, Expect, Value, Writer};
use crate::scenario::Scenario;

/// Virtual time between two lines of the recording.
pub const LINE_NS: u64 = 10_000;
/// How far before the call that saw it an outside event is placed.
pub const OUTSIDE_LEAD_NS: u64 = 5_000;
/// Added after a wait that timed out: the versions round timeouts up to jiffies.
pub const TIMEOUT_SLACK_NS: u64 = 10_000_000;
/// Most lines a recording may have.
pub const LINES_MAX: usize = 10_000_000;
/// How long a comment keeps a call's text.
const COMMENT_CHARS: usize = 160;
/// The most bytes one read is replayed with (the scenario's `BYTES_MAX`).
const READ_MAX: i64 = 1 << 20;

/// A whole call: both halves joined. It borrows the recording's text (only a call split
/// across two lines has its arguments copied, joined).
#[derive(Clone, Debug)]
struct Call<'t> {
    pid: u32,
    /// The call's name; for a `--- SIGNAL ---` line, the signal's.
    name: &'t str,
    /// A `--- SIGNAL {...} ---` line, not a call.
    signal: bool,
    args: Cow<'t, str>,
    value: Option<i64>,
    decoration: Option<&'t str>,
    errno: Option<&'t str>,
    start_line: usize,
    end_line: usize,
}

/// What a descriptor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Terminal,
    Regular,
    PipeRead,
    PipeWrite,
    Eventfd,
    /// An end of a socketpair (AF_UNIX, both ends traced).
    Unix,
    /// A stream socket whose peer is outside (accepted, or connected to an untraced
    /// peer): `socket_external()`.
    External,
    /// A listening socket: an opaque file fed connections from outside.
    Listener,
    /// Any other file: an opaque file fed bytes from outside.
    Opaque,
    Epoll,
}

impl Kind {
    /// Whether reads and writes on it are replayed.
    fn replayed_io(self) -> bool {
        matches!(
            self,
            Kind::PipeRead
                | Kind::PipeWrite
                | Kind::Eventfd
                | Kind::Unix
                | Kind::External
                | Kind::Listener
                | Kind::Opaque
        )
    }

    fn outside_fed(self) -> bool {
        matches!(self, Kind::External | Kind::Listener | Kind::Opaque)
    }
}

#[derive(Clone, Copy, Debug)]
struct Fd {
    object: u64,
    cloexec: bool,
}

/// A file (shared by the descriptors and processes that refer to it).
#[derive(Clone, Debug)]
struct Object {
    kind: Kind,
    refs: u32,
    /// Bytes the model holds readable (outside-fed files).
    buffered: u64,
    /// Connections waiting (listeners).
    pending: u64,
    /// The arrival still open for more (nothing has shown the file empty since).
    open_arrival: Option<usize>,
    /// The remote end has shut down (outside-fed sockets).
    fin: bool,
    /// Readiness bits set with `set_ready()` (opaque files).
    ready: u32,
    /// Epoll items on this file: (epoll object, fd, events, data).
    label: String,
}

/// An outside event: what arrives, for which descriptor, before which statement.
#[derive(Clone, Debug, Default)]
struct Arrival {
    fd: i64,
    kind: Option<Kind>,
    bytes: u64,
    connections: u64,
    fin: bool,
    reset: bool,
    ready: Option<u32>,
    signal: Option<String>,
    time_ns: u64,
    why: String,
}

#[derive(Clone, Debug)]
enum Stmt {
    Comment(String),
    /// A replayed call: the statement, its expectation, the recorded result's index.
    Call {
        line: CallLine,
        expect: Option<Expect>,
        recorded: Option<usize>,
        start_ns: u64,
        arrivals: Vec<usize>,
    },
    /// A helper statement the recording implies but did not make (not compared).
    Helper(CallLine),
    Spawn(u32),
}

#[derive(Clone, Debug)]
struct Task {
    pid: u32,
    process: u32,
    thread: bool,
    body: Vec<Stmt>,
}

struct Builder<'a> {
    file: &'a str,
    /// Which outside events land while their call waits (`placement.rs`).
    placement: &'a Placement,
    tasks: BTreeMap<u32, Task>,
    task_order: Vec<u32>,
    /// Descriptor tables, by process (tgid).
    tables: BTreeMap<u32, BTreeMap<i64, Fd>>,
    objects: BTreeMap<u64, Object>,
    next_object: u64,
    /// Epoll interest: epoll object → (fd, object, events, data).
    interest: BTreeMap<u64, Vec<(i64, u64, u32, u64)>>,
    arrivals: Vec<Arrival>,
    recorded: Vec<Recorded>,
    not_replayed: BTreeMap<String, usize>,
    /// (process, socket() line) of sockets that will listen.
    listeners: Vec<(u32, usize)>,
    /// Line → offset (ns) from timeouts, as (from line, cumulative offset).
    offsets: Vec<(usize, u64)>,
    multi_task: bool,
    /// Who made each task (a task is made once, never by itself or a descendant).
    spawned_by: BTreeMap<u32, u32>,
    /// Who the recording says makes each task (its successful clone, fork or vfork),
    /// made or not yet.
    made_by: BTreeMap<u32, u32>,
    /// Whether the last [`Builder::arrival`] made a new one (else it extended the open
    /// one, already placed before an earlier call).
    fresh: bool,
}

pub fn build(text: &str, file: &str, options: &ImportOptions) -> Result<Import, ImportError> {
    let (calls, lines, malformed, first_malformed, exits) = pass_calls(text, file, options)?;
    let mut b = Builder {
        file,
        placement: &options.placement,
        tasks: BTreeMap::new(),
        task_order: Vec::new(),
        tables: BTreeMap::new(),
        objects: BTreeMap::new(),
        next_object: 1,
        interest: BTreeMap::new(),
        arrivals: Vec::new(),
        recorded: Vec::new(),
        not_replayed: BTreeMap::new(),
        listeners: Vec::new(),
        offsets: Vec::new(),
        multi_task: false,
        spawned_by: BTreeMap::new(),
        made_by: BTreeMap::new(),
        fresh: false,
    };
    b.pass_tasks(&calls);
    b.offsets = timeout_offsets(&calls);
    for call in &calls {
        b.call(call);
    }
    let _ = exits;
    let scenario = b.render(lines);
    let tasks = b.tasks.len();
    let replaying_tasks = b
        .tasks
        .values()
        .filter(|t| t.body.iter().any(|s| matches!(s, Stmt::Call { .. })))
        .count();
    let outside_events = b.arrivals.len();
    Ok(Import {
        scenario: scenario.0,
        lines,
        calls: scenario.1,
        not_replayed: b.not_replayed,
        malformed,
        first_malformed,
        tasks,
        replaying_tasks,
        outside_events,
    })
}

type Parsed<'t> = (Vec<Call<'t>>, usize, usize, Option<String>, Vec<u32>);

/// Pass 1: whole calls in the order they returned.
fn pass_calls<'t>(
    text: &'t str,
    file: &str,
    options: &ImportOptions,
) -> Result<Parsed<'t>, ImportError> {
    // About one call a line (a recording's lines average some 80 bytes).
    let mut calls = Vec::with_capacity(text.len() / 64);
    let mut open: BTreeMap<u32, (&'t str, &'t str, usize)> = BTreeMap::new();
    let mut malformed = 0;
    let mut first_malformed = None;
    let mut exits = Vec::new();
    let mut lines = 0;
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        if line_no > LINES_MAX {
            return Err(ImportError {
                message: format!("{file}:{line_no}:1: expected at most {LINES_MAX} lines"),
            });
        }
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if !raw.trim().is_empty() {
            lines = line_no;
        }
        let parsed = match parse_line(raw) {
            Ok(Some(line)) => line,
            Ok(None) => continue,
            Err(failure) => {
                let error = ImportError::at(file, line_no, failure);
                if options.keep_going {
                    malformed += 1;
                    first_malformed.get_or_insert(error.message);
                    continue;
                }
                return Err(error);
            }
        };
        let pid = parsed.pid.unwrap_or(0);
        let whole = |name: &'t str, args: Cow<'t, str>, result: RawResult<'t>, start: usize| Call {
            pid,
            name,
            signal: false,
            args,
            value: result.value,
            decoration: result.decoration,
            errno: result.errno,
            start_line: start,
            end_line: line_no,
        };
        match parsed.kind {
            LineKind::Call { name, args, result } => {
                calls.push(whole(name, Cow::Borrowed(args), result, line_no))
            }
            LineKind::Unfinished { name, args } => {
                open.insert(pid, (name, args, line_no));
            }
            LineKind::Resumed { name, args, result } => match open.remove(&pid) {
                Some((first, head, start)) if first == name => calls.push(whole(
                    name,
                    Cow::Owned(format!("{head}{args}")),
                    result,
                    start,
                )),
                _ => {
                    // A resumed half without its start (the recording began mid-call):
                    // the arguments printed before are lost.
                    calls.push(whole(name, Cow::Borrowed(args), result, line_no))
                }
            },
            LineKind::Exited { .. } | LineKind::Killed { .. } => exits.push(pid),
            LineKind::Signal { name } => calls.push(Call {
                pid,
                name,
                signal: true,
                args: Cow::Borrowed(""),
                value: None,
                decoration: None,
                errno: None,
                start_line: line_no,
                end_line: line_no,
            }),
        }
    }
    Ok((calls, lines, malformed, first_malformed, exits))
}

/// Offsets that keep a timed-out wait's later lines after its timeout.
fn timeout_offsets(calls: &[Call]) -> Vec<(usize, u64)> {
    let mut offsets: Vec<(usize, u64)> = Vec::new();
    let mut total = 0u64;
    let mut ends: Vec<&Call> = calls.iter().collect();
    ends.sort_by_key(|c| c.end_line);
    for call in ends {
        let Some(timeout_ms) = wait_timeout_ms(call) else {
            continue;
        };
        if call.value != Some(0) || timeout_ms <= 0 {
            continue;
        }
        let start = line_time(call.start_line, total);
        let end = line_time(call.end_line, total);
        let needed = start + timeout_ms as u64 * 1_000_000 + TIMEOUT_SLACK_NS;
        if needed > end {
            total += needed - end;
            offsets.push((call.end_line, total));
        }
    }
    offsets
}

fn line_time(line: usize, offset: u64) -> u64 {
    line as u64 * LINE_NS + offset
}

/// The timeout (ms) of an epoll wait, or `None` for other calls.
fn wait_timeout_ms(call: &Call) -> Option<i64> {
    let a = args::split(&call.args);
    match call.name {
        "epoll_wait" | "epoll_pwait" => a.get(3).and_then(|t| super::line::parse_int(t)),
        "epoll_pwait2" => a
            .get(3)
            .and_then(|t| timespec_ns(t))
            .map(|ns| ns.div_ceil(1_000_000) as i64),
        _ => None,
    }
}

/// `{tv_sec=1, tv_nsec=5}` → ns; `None` for NULL or another shape.
fn timespec_ns(text: &str) -> Option<u64> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut ns = 0u64;
    for part in args::split(inner) {
        if let Some(v) = part.strip_prefix("tv_sec=") {
            ns = ns.checked_add(super::line::parse_int(v)? as u64 * 1_000_000_000)?;
        } else if let Some(v) = part.strip_prefix("tv_nsec=") {
            ns = ns.checked_add(super::line::parse_int(v)? as u64)?;
        }
    }
    Some(ns)
}

/// `name(args)`, [`short`]ened: most calls are short enough to be copied as they are.
fn short_call(name: &str, args: &str) -> String {
    // Bytes bound characters: a call of at most COMMENT_CHARS bytes is never cut.
    if name.len() + args.len() + 2 <= COMMENT_CHARS && !args.contains('\n') {
        let mut text = String::with_capacity(name.len() + args.len() + 2);
        text.push_str(name);
        text.push('(');
        text.push_str(args);
        text.push(')');
        return text;
    }
    short(&format!("{name}({args})"))
}

fn short(text: &str) -> String {
    let one: String = text
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    if one.chars().count() <= COMMENT_CHARS {
        return one;
    }
    let cut: String = one.chars().take(COMMENT_CHARS).collect();
    format!("{cut}...")
}

/// Bytes of a strace string literal (`"\3\0\0..."`), without a trailing `...`.
fn unescape(text: &str) -> Option<Vec<u8>> {
    let inner = text.trim().strip_suffix("...").unwrap_or(text.trim());
    let inner = inner.strip_prefix('"')?.strip_suffix('"')?;
    let b = inner.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        match b.get(i)? {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(0x0b),
            b'f' => out.push(0x0c),
            b'x' => {
                let hex = inner.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c if c.is_ascii_digit() => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 3 && b.get(i).is_some_and(|c| (b'0'..=b'7').contains(c)) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
                continue;
            }
            &c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

impl Builder<'_> {
    /// Pass 2: tasks (who made whom) and listening sockets.
    fn pass_tasks(&mut self, calls: &[Call]) {
        let mut parent_of: BTreeMap<u32, (u32, bool)> = BTreeMap::new();
        for call in calls {
            if matches!(call.name, "clone" | "clone3" | "fork" | "vfork") {
                if let (Some(child), None) = (call.value, &call.errno) {
                    if child > 0 {
                        let thread = call.args.contains("CLONE_THREAD")
                            || clone_flags(&call.args) & 0x10000 != 0;
                        parent_of.insert(child as u32, (call.pid, thread));
                    }
                }
            }
            if call.name == "listen" && call.errno.is_none() {
                if let Some((fd, _)) = args::split(&call.args).first().and_then(|a| args::fd(a)) {
                    self.listeners.push((call.pid, fd as usize));
                }
            }
        }
        let mut seen = Vec::new();
        for call in calls {
            if !seen.contains(&call.pid) {
                seen.push(call.pid);
            }
        }
        for &pid in &seen {
            let (process, thread) = match parent_of.get(&pid) {
                Some(&(parent, true)) => (self.process_of_in(&parent_of, parent), true),
                _ => (pid, false),
            };
            self.tasks.insert(
                pid,
                Task {
                    pid,
                    process,
                    thread,
                    body: Vec::new(),
                },
            );
            self.task_order.push(pid);
        }
        self.multi_task = self.tasks.len() > 1;
        // Processes: 0, 1 and 2 open on a terminal, as the scenario's processes start.
        for task in self.tasks.values() {
            if !task.thread && !parent_of.contains_key(&task.pid) {
                let mut table = BTreeMap::new();
                for fd in 0..3 {
                    table.insert(
                        fd,
                        Fd {
                            object: 0,
                            cloexec: false,
                        },
                    );
                }
                self.tables.insert(task.pid, table);
            }
        }
        self.objects.insert(
            0,
            Object {
                kind: Kind::Terminal,
                refs: 1 << 30,
                buffered: 0,
                pending: 0,
                open_arrival: None,
                fin: false,
                ready: 0,
                label: "terminal".to_string(),
            },
        );
        // Parents that made children: each spawn is written in call order (at the
        // maker's clone, or at the child's first call when that returns first).
        self.made_by = parent_of
            .iter()
            .map(|(&child, &(parent, _))| (child, parent))
            .collect();
    }

    fn process_of_in(&self, parent_of: &BTreeMap<u32, (u32, bool)>, mut pid: u32) -> u32 {
        for _ in 0..64 {
            match parent_of.get(&pid) {
                Some(&(parent, true)) => pid = parent,
                _ => return pid,
            }
        }
        pid
    }

    fn time(&self, line: usize) -> u64 {
        let offset = self
            .offsets
            .iter()
            .take_while(|(from, _)| *from <= line)
            .last()
            .map_or(0, |(_, o)| *o);
        line_time(line, offset)
    }

    fn table(&mut self, pid: u32) -> &mut BTreeMap<i64, Fd> {
        let process = self.tasks.get(&pid).map_or(pid, |t| t.process);
        self.tables.entry(process).or_default()
    }

    fn lookup(&mut self, pid: u32, fd: i64) -> Option<(u64, Kind)> {
        let entry = *self.table(pid).get(&fd)?;
        let kind = self.objects.get(&entry.object)?.kind;
        Some((entry.object, kind))
    }

    fn new_object(&mut self, kind: Kind, label: &str) -> u64 {
        let id = self.next_object;
        self.next_object += 1;
        self.objects.insert(
            id,
            Object {
                kind,
                refs: 0,
                buffered: 0,
                pending: 0,
                open_arrival: None,
                fin: false,
                ready: 0,
                label: label.to_string(),
            },
        );
        id
    }

    fn install(&mut self, pid: u32, fd: i64, object: u64, cloexec: bool) {
        self.drop_fd(pid, fd);
        if let Some(o) = self.objects.get_mut(&object) {
            o.refs += 1;
        }
        self.table(pid).insert(fd, Fd { object, cloexec });
    }

    /// A descriptor goes: the last reference to a file takes it off every epoll set.
    fn drop_fd(&mut self, pid: u32, fd: i64) {
        let Some(entry) = self.table(pid).remove(&fd) else {
            return;
        };
        let gone = match self.objects.get_mut(&entry.object) {
            Some(o) if o.kind != Kind::Terminal => {
                o.refs = o.refs.saturating_sub(1);
                o.refs == 0
            }
            _ => false,
        };
        if gone {
            for items in self.interest.values_mut() {
                items.retain(|&(_, object, _, _)| object != entry.object);
            }
            self.interest.remove(&entry.object);
        }
    }

    /// Before a call the recording shows making descriptor `fd`: every lower number the
    /// model has free was open in the real process (inherited, or made by a call the
    /// recording does not show), so it is made open here as an opaque file.
    fn fill_below(&mut self, pid: u32, fd: i64) {
        if !(0..1024).contains(&fd) {
            return;
        }
        loop {
            let free = self.lowest_free(pid);
            if free >= fd {
                return;
            }
            let object = self.new_object(Kind::Opaque, "inherited");
            self.push(
                pid,
                Stmt::Helper(opaque("open before").note(format!(
                    "descriptor {free} was open, made by no call the recording shows"
                ))),
            );
            self.install(pid, free, object, false);
        }
    }

    fn lowest_free(&mut self, pid: u32) -> i64 {
        let table = self.table(pid);
        (0..).find(|fd| !table.contains_key(fd)).unwrap_or(0)
    }

    fn push(&mut self, pid: u32, stmt: Stmt) {
        if let Some(task) = self.tasks.get_mut(&pid) {
            task.body.push(stmt);
        }
    }

    fn comment(&mut self, call: &Call) {
        match self.not_replayed.get_mut(call.name) {
            Some(count) => *count += 1,
            None => {
                self.not_replayed.insert(call.name.to_string(), 1);
            }
        }
        let result = match (&call.value, &call.errno) {
            (_, Some(errno)) => format!(" = -1 {errno}"),
            (Some(v), None) => format!(" = {v}"),
            (None, None) => " = ?".to_string(),
        };
        let text = format!("L{} {}({}){result}", call.end_line, call.name, call.args);
        self.push(call.pid, Stmt::Comment(short(&text)));
    }

    /// A descriptor the recording uses that no traced call made (inherited, or made by
    /// a call the recording left out): an opaque file, moved to its number.
    fn materialize(&mut self, pid: u32, fd: i64, decoration: Option<&str>) -> Option<(u64, Kind)> {
        if let Some(found) = self.lookup(pid, fd) {
            // 0, 1 and 2 start on a terminal; the recording may show them otherwise.
            let other = decoration.is_some_and(|d| !d.starts_with('/'));
            if found.1 != Kind::Terminal || !other {
                return Some(found);
            }
            self.push(
                pid,
                Stmt::Helper(close(fd).note("not a terminal: the recording shows it")),
            );
            self.drop_fd(pid, fd);
        }
        if !(0..1024).contains(&fd) {
            return None;
        }
        let label = decoration.unwrap_or("inherited");
        let kind = decoration_kind(label);
        let object = self.new_object(kind, label);
        let made = self.lowest_free(pid);
        let make = match kind {
            Kind::External => CallLine::new(SyscallName::SocketExternal, Vec::new()),
            Kind::Regular => open(label),
            _ => opaque(label),
        };
        self.push(
            pid,
            Stmt::Helper(make.note(format!("descriptor {fd} was open before the recording"))),
        );
        if made != fd {
            self.push(pid, Stmt::Helper(dup2(made, fd)));
            self.push(pid, Stmt::Helper(close(made)));
        }
        self.install(pid, fd, object, false);
        Some((object, kind))
    }

    /// A replayed call with its expectation.
    #[allow(clippy::too_many_arguments)]
    fn replay(
        &mut self,
        call: &Call,
        line: CallLine,
        epoll: bool,
        events: Option<Vec<(u32, u64)>>,
        fds: Option<[i64; 2]>,
        arrivals: Vec<usize>,
        target: &'static str,
    ) {
        let errno = call.errno.map(|e| {
            if e.starts_with("ERESTART") {
                "EINTR".to_string()
            } else {
                e.to_string()
            }
        });
        let ret = if errno.is_some() {
            -1
        } else {
            call.value.unwrap_or(0)
        };
        let expect = match (&errno, &events, &fds) {
            (Some(e), _, _) => Errno::parse(e).map_or(Expect::Ret(-1), Expect::Errno),
            (None, Some(events), _) => Expect::Events(target, events.clone()),
            (None, None, Some(pair)) => Expect::Pair(target, pair_fields(line.name), *pair),
            (None, None, None) => Expect::Ret(ret),
        };
        let index = self.recorded.len();
        self.recorded.push(Recorded {
            strace_line: call.end_line,
            scenario_line: 0,
            call: short_call(call.name, &call.args),
            epoll,
            ret,
            errno,
            events,
            fds,
            outside_events: 0,
        });
        let start_ns = self.time(call.start_line);
        self.push(
            call.pid,
            Stmt::Call {
                line,
                expect: Some(expect),
                recorded: Some(index),
                start_ns,
                arrivals,
            },
        );
    }

    fn helper(&mut self, pid: u32, line: CallLine) {
        self.push(pid, Stmt::Helper(line));
    }

    /// An outside event for `object` (at descriptor `fd` of the caller), placed before
    /// the call that saw it; an open one takes more.
    fn arrival(&mut self, call: &Call, object: u64, fd: i64, why: &str) -> usize {
        self.fresh = false;
        if let Some(open) = self.objects.get(&object).and_then(|o| o.open_arrival) {
            return open;
        }
        self.fresh = true;
        let time = self.time(call.end_line).saturating_sub(OUTSIDE_LEAD_NS);
        let kind = self.objects.get(&object).map(|o| o.kind);
        let label = self.objects.get(&object).map_or("", |o| o.label.as_str());
        let why = if label.is_empty() || label == "inherited" {
            format!("{why} (fd {fd})")
        } else {
            format!("{why} (fd {fd}, {label})")
        };
        self.arrivals.push(Arrival {
            fd,
            kind,
            time_ns: time,
            why,
            ..Arrival::default()
        });
        let index = self.arrivals.len() - 1;
        if let Some(o) = self.objects.get_mut(&object) {
            o.open_arrival = Some(index);
        }
        index
    }

    fn close_arrival(&mut self, object: u64) {
        if let Some(o) = self.objects.get_mut(&object) {
            o.open_arrival = None;
        }
    }

    /// Pass 3, one call.
    fn call(&mut self, call: &Call) {
        let pid = call.pid;
        // A child's calls can return before its maker's clone does (vfork, clone3 with
        // CLONE_VFORK, or just the scheduler): the child exists from its first call on,
        // with its maker's table as it is then.
        if let Some(&parent) = self.made_by.get(&pid) {
            if !self.spawned_by.contains_key(&pid) {
                self.spawn(parent, pid);
            }
        }
        if call.signal {
            self.push(
                pid,
                Stmt::Comment(format!("L{} --- {} ---", call.end_line, call.name)),
            );
            return;
        }
        let a: Vec<&str> = args::split(&call.args);
        let ok = call.errno.is_none() && call.value.is_some_and(|v| v >= 0);
        let fd_arg = |i: usize| a.get(i).and_then(|t| args::fd(t));
        match call.name {
            "epoll_create" | "epoll_create1" => {
                let size = if call.name == "epoll_create" {
                    a.first()
                        .and_then(|s| super::line::parse_int(s))
                        .unwrap_or(1)
                } else {
                    1
                };
                let cloexec = call.name == "epoll_create1"
                    && a.first()
                        .is_some_and(|f| args::fd_flags(f) & O_CLOEXEC != 0);
                self.create(
                    call,
                    CallLine::new(SyscallName::EpollCreate, vec![Value::Int(size)]),
                    Kind::Epoll,
                    cloexec,
                    true,
                );
            }
            "epoll_ctl" => self.epoll_ctl(call, &a),
            "epoll_wait" | "epoll_pwait" | "epoll_pwait2" => self.epoll_wait(call, &a),
            "pipe" | "pipe2" => {
                let flags = a.get(1).map_or(0, |f| args::fd_flags(f));
                let pair = a.first().and_then(|p| args::fd_pair(p));
                self.pair(
                    call,
                    pair,
                    flags,
                    SyscallName::Pipe,
                    [Kind::PipeRead, Kind::PipeWrite],
                );
            }
            "socketpair" => {
                let flags = a.get(1).map_or(0, |f| args::fd_flags(f));
                let pair = a.get(3).and_then(|p| args::fd_pair(p));
                if a.first()
                    .is_some_and(|d| d.contains("AF_UNIX") || d.contains("AF_LOCAL") || *d == "1")
                    && a.get(1)
                        .is_some_and(|t| t.contains("SOCK_STREAM") || args::fd_flags(t) & 0xf == 1)
                {
                    self.pair(
                        call,
                        pair,
                        flags,
                        SyscallName::Socketpair,
                        [Kind::Unix, Kind::Unix],
                    );
                } else {
                    self.comment(call);
                }
            }
            "eventfd" | "eventfd2" => {
                let count = a
                    .first()
                    .and_then(|s| super::line::parse_int(s))
                    .unwrap_or(0);
                let flags = a.get(1).map_or(0, |f| args::fd_flags(f));
                let text = if flags & 1 != 0 {
                    CallLine::new(
                        SyscallName::Eventfd2,
                        vec![Value::Int(count), Value::Const("EFD_SEMAPHORE")],
                    )
                } else {
                    CallLine::new(SyscallName::Eventfd, vec![Value::Int(count)])
                };
                if let Some(fd) =
                    self.create(call, text, Kind::Eventfd, flags & O_CLOEXEC != 0, false)
                {
                    if flags & O_NONBLOCK != 0 {
                        self.helper(pid, nonblock(fd));
                    }
                }
            }
            "socket" => {
                let flags = a.get(1).map_or(0, |f| args::fd_flags(f));
                let listens = call.value.is_some_and(|fd| self.will_listen(call, fd));
                let stream = a.get(1).is_some_and(|t| t.contains("SOCK_STREAM"));
                let (text, kind) = if listens {
                    (opaque(call.decoration.unwrap_or("socket")), Kind::Listener)
                } else if stream {
                    (
                        CallLine::new(SyscallName::SocketExternal, Vec::new()),
                        Kind::External,
                    )
                } else {
                    (opaque(call.decoration.unwrap_or("socket")), Kind::Opaque)
                };
                if let Some(fd) = self.create(call, text, kind, flags & O_CLOEXEC != 0, false) {
                    if flags & O_NONBLOCK != 0 {
                        self.helper(pid, nonblock(fd));
                    }
                }
            }
            "accept" | "accept4" => self.accept(call, &a),
            "read" | "recvfrom" | "recvmsg" | "readv" | "recv" | "pread64" => self.read(call, &a),
            "write" | "sendto" | "sendmsg" | "writev" | "send" => self.write(call, &a),
            "close" => match fd_arg(0) {
                Some((fd, _)) => {
                    self.replay(call, close(fd), false, None, None, Vec::new(), "");
                    if ok {
                        self.drop_fd(pid, fd);
                    }
                }
                None => self.comment(call),
            },
            "close_range" => {
                self.comment(call);
                if ok {
                    let lo = a
                        .first()
                        .and_then(|s| super::line::parse_int(s))
                        .unwrap_or(0);
                    let hi = a
                        .get(1)
                        .and_then(|s| super::line::parse_int(s))
                        .unwrap_or(lo);
                    let cloexec_only = a.get(2).is_some_and(|f| f.contains("CLOSE_RANGE_CLOEXEC"));
                    let fds: Vec<i64> = self
                        .table(pid)
                        .range(lo.max(0)..=hi.max(lo))
                        .map(|(fd, _)| *fd)
                        .collect();
                    for fd in fds {
                        if cloexec_only {
                            if let Some(e) = self.table(pid).get_mut(&fd) {
                                e.cloexec = true;
                            }
                        } else {
                            self.helper(pid, close(fd).note("close_range"));
                            self.drop_fd(pid, fd);
                        }
                    }
                }
            }
            "dup" | "dup2" | "dup3" => self.dup(call, &a),
            "fcntl" | "fcntl64" => self.fcntl(call, &a),
            "ioctl"
                if a.get(1)
                    .is_some_and(|c| c.contains("FIONBIO") || c.starts_with("0x5421")) =>
            {
                let replayed = fd_arg(0)
                    .and_then(|(fd, _)| self.lookup(pid, fd))
                    .is_some_and(|(_, k)| k.replayed_io() || k == Kind::Epoll);
                match (fd_arg(0), replayed && ok) {
                    (Some((fd, _)), true) => {
                        let on = a.get(2).is_some_and(|v| v.trim() != "[0]");
                        self.replay(
                            call,
                            set_nonblock(fd, on).note("ioctl FIONBIO"),
                            false,
                            None,
                            None,
                            Vec::new(),
                            "",
                        );
                    }
                    _ => self.comment(call),
                }
            }
            "open" | "openat" | "creat" | "openat2" => {
                if !ok {
                    self.comment(call);
                    return;
                }
                let path_index = if call.name == "openat" || call.name == "openat2" {
                    1
                } else {
                    0
                };
                let path = a
                    .get(path_index)
                    .and_then(|p| unescape(p))
                    .unwrap_or_default();
                let path = String::from_utf8_lossy(&path).into_owned();
                let flags = a.get(path_index + 1).map_or(0, |f| args::fd_flags(f));
                let kind = call.decoration.map_or(Kind::Regular, decoration_kind);
                let text = if kind == Kind::Regular {
                    open(&path)
                } else {
                    opaque(call.decoration.unwrap_or(&path))
                };
                self.create(call, text, kind, flags & O_CLOEXEC != 0, false);
            }
            "clone" | "clone3" | "fork" | "vfork" => {
                self.comment(call);
                if let (true, Some(child)) = (ok, call.value) {
                    self.spawn(pid, child as u32);
                }
            }
            "execve" | "execveat" => {
                self.comment(call);
                if ok {
                    let closing: Vec<i64> = self
                        .table(pid)
                        .iter()
                        .filter(|(_, e)| e.cloexec)
                        .map(|(fd, _)| *fd)
                        .collect();
                    for fd in closing {
                        self.helper(pid, close(fd).note("execve closes O_CLOEXEC descriptors"));
                        self.drop_fd(pid, fd);
                    }
                }
            }
            "timerfd_create" | "signalfd" | "signalfd4" | "inotify_init" | "inotify_init1"
            | "memfd_create" | "io_uring_setup" | "pidfd_open" | "fanotify_init"
            | "userfaultfd" | "perf_event_open" | "memfd_secret" | "fsopen" | "open_tree"
            | "pidfd_getfd" | "bpf" => {
                if !ok || call.name == "bpf" && call.decoration.is_none() {
                    self.comment(call);
                    return;
                }
                let label = call
                    .decoration
                    .map_or_else(|| call.name.to_string(), str::to_string);
                let cloexec = a.iter().any(|f| args::fd_flags(f) & O_CLOEXEC != 0);
                self.create(call, opaque(&label), Kind::Opaque, cloexec, false);
            }
            _ => self.comment(call),
        }
    }

    /// `parent` makes `child` (a thread, or a process with a copy of the parent's table),
    /// unless [`Builder::may_spawn`] says it may not.
    fn spawn(&mut self, parent: u32, child: u32) {
        if !self.may_spawn(parent, child) {
            return;
        }
        self.spawned_by.insert(child, parent);
        let Some(task) = self.tasks.get(&child) else {
            return;
        };
        if !task.thread {
            let parent_process = self.tasks.get(&parent).map_or(parent, |t| t.process);
            let table = self
                .tables
                .get(&parent_process)
                .cloned()
                .unwrap_or_default();
            for entry in table.values() {
                if let Some(o) = self.objects.get_mut(&entry.object) {
                    o.refs += 1;
                }
            }
            self.tables.insert(child, table);
        }
        self.push(parent, Stmt::Spawn(child));
    }

    /// Whether `parent` may make `child` here: not twice, not the recording's first task,
    /// not itself or one of its makers (a garbled recording could say so).
    fn may_spawn(&self, parent: u32, child: u32) -> bool {
        if self.spawned_by.contains_key(&child) || self.task_order.first() == Some(&child) {
            return false;
        }
        let mut up = parent;
        for _ in 0..=self.spawned_by.len() {
            if up == child {
                return false;
            }
            match self.spawned_by.get(&up) {
                Some(&p) => up = p,
                None => return true,
            }
        }
        false
    }

    fn will_listen(&self, call: &Call, fd: i64) -> bool {
        // A socket listens if some later listen() of this pid's process names its number
        // (close enough: a number reused by another socket that listens is rare).
        self.listeners.iter().any(|&(p, f)| {
            f as i64 == fd
                && (p == call.pid
                    || self.tasks.get(&p).map(|t| t.process)
                        == self.tasks.get(&call.pid).map(|t| t.process))
        })
    }

    /// A call that makes one descriptor. Returns it when the call succeeded.
    fn create(
        &mut self,
        call: &Call,
        text: CallLine,
        kind: Kind,
        cloexec: bool,
        epoll: bool,
    ) -> Option<i64> {
        let ok = call.errno.is_none() && call.value.is_some_and(|v| v >= 0);
        let fd = call.value.unwrap_or(-1);
        if ok {
            self.fill_below(call.pid, fd);
        }
        let predicted = self.lowest_free(call.pid);
        self.replay(call, text, epoll, None, None, Vec::new(), "");
        if !ok {
            return None;
        }
        if predicted != fd && (0..1024).contains(&fd) {
            // A descriptor the recording does not show being made sits below: move it.
            self.helper(
                call.pid,
                dup2(predicted, fd).note(format!("the recording got {fd}")),
            );
            self.helper(call.pid, close(predicted));
        }
        let label = call.decoration.unwrap_or_default();
        let object = self.new_object(kind, label);
        self.install(call.pid, fd, object, cloexec);
        Some(fd)
    }

    fn pair(
        &mut self,
        call: &Call,
        pair: Option<[(i64, Option<&str>); 2]>,
        flags: u64,
        name: SyscallName,
        kinds: [Kind; 2],
    ) {
        let ok = call.errno.is_none() && call.value == Some(0);
        let Some(pair) = pair.filter(|_| ok) else {
            if ok {
                self.comment(call);
            } else {
                self.replay(
                    call,
                    CallLine::assign("p", name, Vec::new()),
                    false,
                    None,
                    None,
                    Vec::new(),
                    "p",
                );
            }
            return;
        };
        let fds = [pair[0].0, pair[1].0];
        self.fill_below(call.pid, fds[0].min(fds[1]));
        self.replay(
            call,
            CallLine::assign("p", name, Vec::new()),
            false,
            None,
            Some(fds),
            Vec::new(),
            "p",
        );
        let first = self.new_object(kinds[0], pair[0].1.unwrap_or(""));
        let second = self.new_object(kinds[1], pair[1].1.unwrap_or(""));
        self.install(call.pid, fds[0], first, flags & O_CLOEXEC != 0);
        self.install(call.pid, fds[1], second, flags & O_CLOEXEC != 0);
        if flags & O_NONBLOCK != 0 {
            for fd in fds {
                self.helper(call.pid, nonblock(fd));
            }
        }
    }

    fn epoll_ctl(&mut self, call: &Call, a: &[&str]) {
        let pid = call.pid;
        let (Some((ep, ep_deco)), Some(op), Some((fd, deco))) = (
            a.first().and_then(|t| args::fd(t)),
            a.get(1).map(|t| t.to_string()),
            a.get(2).and_then(|t| args::fd(t)),
        ) else {
            self.comment(call);
            return;
        };
        let op = if op.contains("ADD") || args::fd_flags(&op) == 1 && !op.contains("MOD") {
            "EPOLL_CTL_ADD"
        } else if op.contains("DEL") || args::fd_flags(&op) == 2 {
            "EPOLL_CTL_DEL"
        } else if op.contains("MOD") || args::fd_flags(&op) == 3 {
            "EPOLL_CTL_MOD"
        } else {
            self.comment(call);
            return;
        };
        let ep_entry = self.materialize(pid, ep, ep_deco);
        let target = self.materialize(pid, fd, deco);
        let event = a.get(3).and_then(|e| args::epoll_event(e));
        let head = vec![Value::Int(ep), Value::Const(op), Value::Int(fd)];
        let text = CallLine::new(
            SyscallName::EpollCtl,
            match (op, event) {
                ("EPOLL_CTL_DEL", _) => head,
                (_, Some((events, data))) => {
                    [head, vec![Value::Mask(events), Value::Data(data)]].concat()
                }
                (_, None) => [head, vec![Value::Null]].concat(),
            },
        );
        self.replay(call, text, true, None, None, Vec::new(), "");
        if call.errno.is_some() {
            return;
        }
        let (Some((ep_object, _)), Some((object, _))) = (ep_entry, target) else {
            return;
        };
        let items = self.interest.entry(ep_object).or_default();
        match (op, event) {
            ("EPOLL_CTL_ADD", Some((events, data))) => items.push((fd, object, events, data)),
            ("EPOLL_CTL_MOD", Some((events, data))) => {
                for item in items.iter_mut().filter(|i| i.1 == object) {
                    item.2 = events;
                    item.3 = data;
                }
            }
            ("EPOLL_CTL_DEL", _) => items.retain(|i| i.1 != object),
            _ => {}
        }
    }

    fn epoll_wait(&mut self, call: &Call, a: &[&str]) {
        let pid = call.pid;
        let Some((ep, deco)) = a.first().and_then(|t| args::fd(t)) else {
            self.comment(call);
            return;
        };
        let max = a
            .get(2)
            .and_then(|t| super::line::parse_int(t))
            .unwrap_or(1);
        let timeout = match call.name {
            "epoll_pwait2" => match a.get(3).and_then(|t| timespec_ns(t)) {
                Some(ns) => Value::Int(ns as i64),
                None => Value::Null,
            },
            _ => Value::Int(
                a.get(3)
                    .and_then(|t| super::line::parse_int(t))
                    .unwrap_or(0),
            ),
        };
        let ep_entry = self.materialize(pid, ep, deco);
        let events = if call.errno.is_none() {
            a.get(1).and_then(|t| args::epoll_events(t))
        } else {
            Some(Vec::new())
        };
        let mut arrivals = Vec::new();
        if let (Some(events), Some((ep_object, _))) = (&events, ep_entry) {
            for &(mask, data) in events {
                let item = self
                    .interest
                    .get(&ep_object)
                    .and_then(|items| items.iter().find(|i| i.3 == data).copied());
                if let Some((fd, object, _, _)) = item {
                    if let Some(i) = self.observe(call, object, fd, mask) {
                        if self.fresh && !arrivals.contains(&i) {
                            arrivals.push(i);
                        }
                    }
                }
            }
        }
        if call
            .errno
            .is_some_and(|e| e == "EINTR" || e.starts_with("ERESTART"))
        {
            arrivals.push(self.signal_arrival(call));
        }
        let wait_args = vec![Value::Int(ep), Value::Int(max), timeout];
        let text = match call.name {
            "epoll_wait" => CallLine::assign("evs", SyscallName::EpollWait, wait_args),
            "epoll_pwait" => CallLine::assign(
                "evs",
                SyscallName::EpollPwait,
                [wait_args, vec![Value::Null]].concat(),
            ),
            _ => CallLine::assign(
                "evs",
                SyscallName::EpollPwait2,
                [wait_args, vec![Value::Null]].concat(),
            ),
        };
        let events = if call.errno.is_some() { None } else { events };
        if events.is_none() && call.errno.is_none() {
            self.comment(call);
            return;
        }
        self.replay(call, text, true, events, None, arrivals, "evs");
    }

    fn signal_arrival(&mut self, call: &Call) -> usize {
        self.arrivals.push(Arrival {
            signal: Some(format!("t{}", call.pid)),
            time_ns: self.time(call.end_line).saturating_sub(OUTSIDE_LEAD_NS),
            why: format!("a signal interrupts line {}", call.end_line),
            ..Arrival::default()
        });
        self.arrivals.len() - 1
    }

    /// An epoll wait reported `mask` for an outside-fed file: what must have arrived.
    fn observe(&mut self, call: &Call, object: u64, fd: i64, mask: u32) -> Option<usize> {
        let o = self.objects.get(&object)?.clone();
        if !o.kind.outside_fed() {
            return None;
        }
        const IN: u32 = 0x1 | 0x40;
        const HUP: u32 = 0x10 | 0x2000;
        const ERR: u32 = 0x8;
        let mut arrival = None;
        match o.kind {
            Kind::External => {
                if mask & ERR != 0 {
                    let i = self.arrival(call, object, fd, "the peer resets the connection");
                    self.arrivals[i].reset = true;
                    arrival = Some(i);
                }
                if mask & HUP != 0 && !o.fin {
                    let i = self.arrival(call, object, fd, "the peer shuts its end");
                    self.arrivals[i].fin = true;
                    if let Some(o) = self.objects.get_mut(&object) {
                        o.fin = true;
                    }
                    arrival = Some(i);
                }
                if mask & IN != 0 && o.buffered == 0 && !o.fin && mask & HUP == 0 {
                    arrival = Some(self.arrival(call, object, fd, "bytes arrive"));
                }
            }
            Kind::Listener => {
                if mask & IN != 0 && o.pending == 0 {
                    arrival = Some(self.arrival(call, object, fd, "a connection arrives"));
                }
            }
            _ => {
                let extra = mask & !IN;
                if extra & !o.ready != 0 {
                    let i = self.arrival(call, object, fd, "the file becomes ready");
                    let ready = o.ready | extra;
                    self.arrivals[i].ready = Some(ready);
                    if let Some(o) = self.objects.get_mut(&object) {
                        o.ready = ready;
                    }
                    arrival = Some(i);
                }
                if mask & IN != 0 && o.buffered == 0 {
                    arrival = Some(self.arrival(call, object, fd, "bytes arrive"));
                }
            }
        }
        self.fresh = o.open_arrival.is_none() && arrival.is_some();
        arrival
    }

    fn accept(&mut self, call: &Call, a: &[&str]) {
        let pid = call.pid;
        let Some((fd, deco)) = a.first().and_then(|t| args::fd(t)) else {
            self.comment(call);
            return;
        };
        let flags = a.get(3).map_or(0, |f| args::fd_flags(f));
        let listener = self.materialize(pid, fd, deco);
        let mut arrivals = Vec::new();
        let ok = call.errno.is_none() && call.value.is_some();
        if let Some((object, Kind::Listener)) = listener {
            if ok {
                let pending = self.objects.get(&object).map_or(0, |o| o.pending);
                if pending > 0 {
                    if let Some(o) = self.objects.get_mut(&object) {
                        o.pending -= 1;
                    }
                } else {
                    let i = self.arrival(call, object, fd, "a connection arrives");
                    if self.fresh {
                        arrivals.push(i);
                    }
                }
                if let Some(i) = self.objects.get(&object).and_then(|o| o.open_arrival) {
                    if pending == 0 {
                        self.arrivals[i].connections += 1;
                    }
                }
            } else if call.errno == Some("EAGAIN") {
                self.close_arrival(object);
            }
        }
        let new_fd = call.value.unwrap_or(-1);
        if ok {
            self.fill_below(pid, new_fd);
        }
        let predicted = self.lowest_free(pid);
        self.replay(
            call,
            CallLine::new(SyscallName::Accept, vec![Value::Int(fd)]),
            false,
            None,
            None,
            arrivals,
            "",
        );
        if ok && new_fd >= 0 {
            if predicted != new_fd {
                self.helper(
                    pid,
                    dup2(predicted, new_fd).note(format!("the recording got {new_fd}")),
                );
                self.helper(pid, close(predicted));
            }
            let label = call.decoration.unwrap_or_default();
            let object = self.new_object(Kind::External, label);
            self.install(pid, new_fd, object, flags & O_CLOEXEC != 0);
            if flags & O_NONBLOCK != 0 {
                self.helper(pid, nonblock(new_fd));
            }
        }
    }

    /// The descriptor, object and kind a read or write goes to, when the replay runs it
    /// (a pipe, eventfd or socket, known or made from its decoration); otherwise the call
    /// is kept as a comment and `None` returned.
    fn replayed_io_target(&mut self, call: &Call, a: &[&str]) -> Option<(i64, u64, Kind)> {
        let pid = call.pid;
        let target = a.first().and_then(|t| args::fd(t)).and_then(|(fd, deco)| {
            self.lookup(pid, fd)
                .or_else(|| {
                    deco.filter(|d| decoration_kind(d).replayed_io())
                        .and_then(|d| self.materialize(pid, fd, Some(d)))
                })
                .map(|(object, kind)| (fd, object, kind))
        });
        match target {
            Some((fd, object, kind)) if kind.replayed_io() && kind != Kind::Listener => {
                Some((fd, object, kind))
            }
            _ => {
                self.comment(call);
                None
            }
        }
    }

    fn read(&mut self, call: &Call, a: &[&str]) {
        let Some((fd, object, kind)) = self.replayed_io_target(call, a) else {
            return;
        };
        let count = match call.name {
            "read" | "recvfrom" | "recv" | "pread64" => {
                a.get(2).and_then(|t| super::line::parse_int(t))
            }
            _ => None,
        }
        .unwrap_or(READ_MAX)
        .clamp(0, READ_MAX);
        let mut arrivals = Vec::new();
        if kind.outside_fed() {
            let got = if call.errno.is_none() {
                call.value.unwrap_or(0)
            } else {
                -1
            };
            let o = self.objects.get(&object).cloned();
            if let Some(o) = o {
                if got > 0 {
                    let got = got as u64;
                    if o.buffered >= got {
                        if let Some(o) = self.objects.get_mut(&object) {
                            o.buffered -= got;
                        }
                    } else {
                        let need = got - o.buffered;
                        let i = self.arrival(call, object, fd, "bytes arrive");
                        self.arrivals[i].bytes += need;
                        if let Some(o) = self.objects.get_mut(&object) {
                            o.buffered = 0;
                        }
                        if self.fresh {
                            arrivals.push(i);
                        }
                    }
                    // Fewer bytes than asked for: the queue was empty after this read,
                    // so what comes next arrived later.
                    if (got as i64) < count {
                        self.close_arrival(object);
                    }
                } else if got == 0 {
                    if !o.fin {
                        let i = self.arrival(call, object, fd, "the peer shuts its end");
                        self.arrivals[i].fin = true;
                        if let Some(o) = self.objects.get_mut(&object) {
                            o.fin = true;
                        }
                        if self.fresh {
                            arrivals.push(i);
                        }
                    }
                    self.close_arrival(object);
                } else {
                    match call.errno {
                        Some("ECONNRESET") => {
                            let i =
                                self.arrival(call, object, fd, "the peer resets the connection");
                            self.arrivals[i].reset = true;
                            if self.fresh {
                                arrivals.push(i);
                            }
                            self.close_arrival(object);
                        }
                        Some("EAGAIN") => self.close_arrival(object),
                        _ => {}
                    }
                }
            }
        }
        if call
            .errno
            .is_some_and(|e| e == "EINTR" || e.starts_with("ERESTART"))
        {
            arrivals.push(self.signal_arrival(call));
        }
        self.replay(
            call,
            CallLine::new(SyscallName::Read, vec![Value::Int(fd), Value::Int(count)]),
            false,
            None,
            None,
            arrivals,
            "",
        );
    }

    fn write(&mut self, call: &Call, a: &[&str]) {
        let Some((fd, _, kind)) = self.replayed_io_target(call, a) else {
            return;
        };
        let text = if kind == Kind::Eventfd {
            match a.get(1).and_then(|s| unescape(s)).filter(|b| b.len() == 8) {
                Some(bytes) => {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(&bytes);
                    CallLine::new(
                        SyscallName::Write,
                        vec![Value::Int(fd), Value::U64(u64::from_le_bytes(word) as i64)],
                    )
                }
                None => {
                    self.comment(call);
                    return;
                }
            }
        } else {
            let count = match (call.errno.is_none(), call.value) {
                (true, Some(n)) if n >= 0 => n,
                _ => match call.name {
                    "write" | "sendto" | "send" => a
                        .get(2)
                        .and_then(|t| super::line::parse_int(t))
                        .unwrap_or(1),
                    _ => 1,
                },
            }
            .clamp(0, READ_MAX);
            CallLine::new(
                SyscallName::Write,
                vec![Value::Int(fd), Value::Bytes(count)],
            )
        };
        let mut arrivals = Vec::new();
        if call
            .errno
            .is_some_and(|e| e == "EINTR" || e.starts_with("ERESTART"))
        {
            arrivals.push(self.signal_arrival(call));
        }
        self.replay(call, text, false, None, None, arrivals, "");
    }

    fn dup(&mut self, call: &Call, a: &[&str]) {
        let pid = call.pid;
        let (Some((old, deco)), ok) = (a.first().and_then(|t| args::fd(t)), call.errno.is_none())
        else {
            self.comment(call);
            return;
        };
        let source = self.materialize(pid, old, deco);
        let new = call.value.unwrap_or(-1);
        let text = match call.name {
            "dup" => CallLine::new(SyscallName::Dup, vec![Value::Int(old)]),
            _ => match a.get(1).and_then(|t| args::fd(t)) {
                Some((target, _)) => dup2(old, target),
                None => {
                    self.comment(call);
                    return;
                }
            },
        };
        let cloexec =
            call.name == "dup3" && a.get(2).is_some_and(|f| args::fd_flags(f) & O_CLOEXEC != 0);
        self.replay(call, text, false, None, None, Vec::new(), "");
        if let (true, Some((object, _))) = (ok && new >= 0, source) {
            if new != old {
                self.install(pid, new, object, cloexec);
            }
        }
    }

    fn fcntl(&mut self, call: &Call, a: &[&str]) {
        let pid = call.pid;
        let Some((fd, deco)) = a.first().and_then(|t| args::fd(t)) else {
            self.comment(call);
            return;
        };
        let cmd = a.get(1).copied().unwrap_or("");
        let cmd_number = super::line::parse_int(cmd.split("/*").next().unwrap_or("")).unwrap_or(-1);
        let ok = call.errno.is_none();
        if cmd.contains("F_DUPFD") || cmd_number == 0 || cmd_number == 1030 {
            let source = self.materialize(pid, fd, deco);
            let new = call.value.unwrap_or(-1);
            let minimum = a
                .get(2)
                .and_then(|t| super::line::parse_int(t))
                .unwrap_or(0);
            if ok && minimum == 0 {
                self.fill_below(pid, new);
            }
            let predicted = self.lowest_free(pid);
            self.replay(
                call,
                CallLine::new(SyscallName::Dup, vec![Value::Int(fd)]),
                false,
                None,
                None,
                Vec::new(),
                "",
            );
            if let (true, Some((object, _))) = (ok && new >= 0, source) {
                if predicted != new {
                    self.helper(
                        pid,
                        dup2(predicted, new).note("F_DUPFD from a higher number"),
                    );
                    self.helper(pid, close(predicted));
                }
                self.install(
                    pid,
                    new,
                    object,
                    cmd.contains("CLOEXEC") || cmd_number == 1030,
                );
            }
        } else if cmd.contains("F_SETFD") || cmd_number == 2 {
            self.comment(call);
            let cloexec = a.get(2).is_some_and(|f| args::fd_flags(f) & 1 != 0);
            if let Some(e) = self.table(pid).get_mut(&fd) {
                e.cloexec = cloexec;
            }
        } else if (cmd.contains("F_SETFL") || cmd_number == 4) && ok {
            let replayed = self
                .lookup(pid, fd)
                .is_some_and(|(_, k)| k.replayed_io() || k == Kind::Epoll);
            if !replayed {
                self.comment(call);
                return;
            }
            let nonblock = a
                .get(2)
                .is_some_and(|f| args::fd_flags(f) & O_NONBLOCK != 0);
            self.replay(
                call,
                set_nonblock(fd, nonblock),
                false,
                None,
                None,
                Vec::new(),
                "",
            );
        } else {
            self.comment(call);
        }
    }

    /// The scenario (its text and its parsed form, written together), and the replayed
    /// calls with their statements' lines.
    fn render(&mut self, lines: usize) -> (Scenario, Vec<Recorded>) {
        let mut w = Writer::new();
        let mut header = Header::default();
        let name: String = self
            .file
            .rsplit('/')
            .next()
            .unwrap_or("recording")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        w.comment_line(
            0,
            &format!(
                "Imported by `epsim import` from {} ({lines} lines of strace).",
                quote(self.file)
            ),
        );
        w.comment_line(
            0,
            "Each replayed call is followed by an expectation of its recorded result;",
        );
        w.comment_line(
            0,
            "`# L<n>` comments are calls not replayed (line n of the recording).",
        );
        w.comment_line(
            0,
            "Outside events (bytes, connections, a peer's close, signals) are `at` blocks.",
        );
        w.header_name(&mut header, &name);
        w.header_description(
            &mut header,
            &format!("strace recording {}", name.replace('"', "")),
        );
        w.header_kernel(&mut header, KernelVersion::V6_18);
        w.header_cpus(&mut header, 2);
        w.header_max_steps(&mut header, 100_000_000);
        let roots: Vec<u32> = self
            .task_order
            .iter()
            .copied()
            .filter(|pid| !self.is_spawned(*pid))
            .collect();
        // Tasks with no replayed call (threads that only wait on futexes) need no
        // ordering against the others.
        self.multi_task = self
            .tasks
            .values()
            .filter(|t| t.body.iter().any(|s| matches!(s, Stmt::Call { .. })))
            .count()
            > 1;
        let mut recorded = std::mem::take(&mut self.recorded);
        let mut processes = Vec::new();
        for root in roots {
            let (process, task) = (format!("p{root}"), format!("t{root}"));
            let starts = w.open_process(&process, &task);
            let body = self.render_body(root, 2, &mut w, &mut recorded);
            processes.push(w.close_process(starts, &process, &task, body));
        }
        (w.finish(self.file, header, processes, Vec::new()), recorded)
    }

    fn is_spawned(&self, pid: u32) -> bool {
        self.spawned_by.contains_key(&pid)
    }

    /// The statements of task `pid`, written at `depth`.
    fn render_body(
        &self,
        pid: u32,
        depth: usize,
        w: &mut Writer,
        recorded: &mut [Recorded],
    ) -> Vec<ast::Stmt> {
        let mut out = Vec::new();
        let Some(task) = self.tasks.get(&pid) else {
            return out;
        };
        for stmt in &task.body {
            match stmt {
                Stmt::Comment(text) => w.comment_line(depth, text),
                Stmt::Helper(line) => {
                    w.indent(depth);
                    out.push(w.call(line));
                    if let Some(note) = &line.note {
                        w.trailing_comment(format_args!("{note}"));
                    }
                    w.end_line();
                }
                Stmt::Spawn(child) => {
                    let Some(c) = self.tasks.get(child) else {
                        continue;
                    };
                    if depth + 1 >= crate::scenario::parser::NESTING_MAX - 2 {
                        w.comment_line(depth, &format!("t{child} is nested too deeply to replay"));
                        continue;
                    }
                    let name = format!("t{child}");
                    let start = w.open_task(depth, c.thread, &name);
                    let body = self.render_body(*child, depth + 1, w, recorded);
                    out.push(w.close_task(depth, start, c.thread, &name, body));
                }
                Stmt::Call {
                    line: call_line,
                    expect,
                    recorded: index,
                    start_ns,
                    arrivals,
                } => {
                    // One handler for all that land before the call, in the order the
                    // call saw them: the ready list keeps that order. Those a placement
                    // puts inside the call are a second handler, due while it waits.
                    let line_of = index.and_then(|i| recorded.get(i)).map(|r| r.strace_line);
                    for phase in [Phase::Before, Phase::Waiting] {
                        let chosen: Vec<usize> = arrivals
                            .iter()
                            .enumerate()
                            .filter(|&(k, _)| {
                                line_of.map_or(Phase::Before, |l| self.placement.phase(l, k))
                                    == phase
                            })
                            .map(|(_, &a)| a)
                            .collect();
                        if let Some(at) = self.emit_arrivals(w, depth, &chosen, phase, *start_ns) {
                            out.push(at);
                        }
                    }
                    if let Some(r) = index.and_then(|i| recorded.get_mut(i)) {
                        r.outside_events = arrivals.len();
                    }
                    if self.multi_task || !arrivals.is_empty() {
                        w.indent(depth);
                        out.push(w.sleep_until(*start_ns));
                        w.end_line();
                    }
                    if let Some(r) = index.and_then(|i| recorded.get_mut(i)) {
                        r.scenario_line = w.line();
                    }
                    w.indent(depth);
                    out.push(w.call(call_line));
                    if let Some(note) = &call_line.note {
                        w.trailing_comment(format_args!("{note}"));
                    }
                    if let Some(n) = line_of {
                        w.trailing_comment(format_args!("L{n}"));
                    }
                    w.end_line();
                    if let Some(expect) = expect {
                        w.indent(depth);
                        out.push(w.expect(expect));
                        w.end_line();
                    }
                }
            }
        }
        out
    }

    /// One `at` block for `chosen` arrivals: before the call (at the first one's time),
    /// or [`WAIT_OFFSET_NS`] after the call starts at `start_ns`.
    fn emit_arrivals(
        &self,
        w: &mut Writer,
        depth: usize,
        chosen: &[usize],
        phase: Phase,
        start_ns: u64,
    ) -> Option<ast::Stmt> {
        let mut actions = Vec::new();
        let mut whys: Vec<&str> = Vec::new();
        for &a in chosen {
            let arrival = &self.arrivals[a];
            actions.extend(self.arrival_actions(arrival));
            if !whys.contains(&arrival.why.as_str()) {
                whys.push(&arrival.why);
            }
        }
        let (false, Some(&first)) = (actions.is_empty(), chosen.first()) else {
            return None;
        };
        let (at, note) = match phase {
            Phase::Before => (self.arrivals[first].time_ns, "outside"),
            Phase::Waiting => (start_ns + WAIT_OFFSET_NS, "outside, while the call waits"),
        };
        w.indent(depth);
        let stmt = w.at(at, &actions);
        w.trailing_comment(format_args!("{note}: {}", whys.join(", ")));
        w.end_line();
        Some(stmt)
    }

    fn arrival_actions(&self, a: &Arrival) -> Vec<Action> {
        let file = || Value::FileAt(a.fd);
        let mut actions = Vec::new();
        if let Some(task) = &a.signal {
            actions.push(Action::Signal(task.clone()));
        }
        match a.kind {
            Some(Kind::External) => {
                if a.bytes > 0 {
                    actions.push(Action::Call(
                        IrqName::Deliver,
                        vec![file(), Value::Bytes(a.bytes.min(READ_MAX as u64) as i64)],
                    ));
                } else if !a.fin && !a.reset {
                    actions.push(Action::Call(
                        IrqName::Deliver,
                        vec![file(), Value::Bytes(1)],
                    ));
                }
                if a.fin {
                    actions.push(Action::Call(
                        IrqName::RemoteShutdown,
                        vec![file(), Value::Const("SHUT_WR")],
                    ));
                }
                if a.reset {
                    actions.push(Action::Call(
                        IrqName::RemoteError,
                        vec![file(), Value::Const("ECONNRESET")],
                    ));
                }
            }
            Some(Kind::Listener) => {
                for _ in 0..a.connections.max(1) {
                    actions.push(Action::Call(IrqName::Incoming, vec![file()]));
                }
            }
            Some(Kind::Opaque) => {
                if let Some(ready) = a.ready {
                    actions.push(Action::Call(
                        IrqName::Ready,
                        vec![file(), Value::Mask(ready)],
                    ));
                }
                if a.bytes > 0 || a.ready.is_none() {
                    actions.push(Action::Call(
                        IrqName::Deliver,
                        vec![
                            file(),
                            Value::Bytes(a.bytes.clamp(1, READ_MAX as u64) as i64),
                        ],
                    ));
                }
            }
            _ => {}
        }
        actions
    }
}

/// The fields of a pair a call makes: `a`, `b` of a socketpair, `r`, `w` of a pipe.
fn pair_fields(name: SyscallName) -> [&'static str; 2] {
    if name == SyscallName::Socketpair {
        ["a", "b"]
    } else {
        ["r", "w"]
    }
}

/// A string literal of the language.
fn quote(text: &str) -> String {
    crate::scenario::results::format_bytes(text.as_bytes())
}

fn close(fd: i64) -> CallLine {
    CallLine::new(SyscallName::Close, vec![Value::Int(fd)])
}

fn dup2(old: i64, new: i64) -> CallLine {
    CallLine::new(SyscallName::Dup2, vec![Value::Int(old), Value::Int(new)])
}

fn open(path: &str) -> CallLine {
    CallLine::new(
        SyscallName::Open,
        vec![Value::Str(path.as_bytes().to_vec())],
    )
}

fn opaque(label: &str) -> CallLine {
    CallLine::new(
        SyscallName::Opaque,
        vec![Value::Str(label.as_bytes().to_vec())],
    )
}

/// `fcntl(fd, F_SETFL, O_NONBLOCK)`, or `0` for blocking.
fn set_nonblock(fd: i64, on: bool) -> CallLine {
    let flag = if on {
        Value::Const("O_NONBLOCK")
    } else {
        Value::Int(0)
    };
    CallLine::new(
        SyscallName::Fcntl,
        vec![Value::Int(fd), Value::Const("F_SETFL"), flag],
    )
}

fn nonblock(fd: i64) -> CallLine {
    set_nonblock(fd, true)
}

/// What a `-yy` decoration says a descriptor is.
fn decoration_kind(decoration: &str) -> Kind {
    // A pipe or an epoll set made before the recording: its other end, or its items,
    // are not in the recording, so it is opaque.
    if decoration.starts_with("pipe:") || decoration.contains("[eventpoll]") {
        Kind::Opaque
    } else if decoration.starts_with("TCP")
        || decoration.starts_with("UDP")
        || decoration.starts_with("UNIX")
        || decoration.starts_with("socket:")
    {
        Kind::External
    } else if decoration.starts_with('/') {
        Kind::Regular
    } else {
        Kind::Opaque
    }
}

/// The numeric `flags=` of a clone (0 when they are names: `CLONE_THREAD` is looked for
/// by name then).
fn clone_flags(text: &str) -> u64 {
    let Some(at) = text.find("flags=") else {
        return 0;
    };
    let rest = &text[at + 6..];
    let end = rest.find([',', '}', ' ']).unwrap_or(rest.len());
    super::line::parse_int(&rest[..end]).map_or(0, |v| v as u64)
}
