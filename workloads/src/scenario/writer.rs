//! Writing a scenario's text and its parsed form together, for a program that makes
//! scenarios (the strace importer): each statement is written once, from one
//! description, as text and as the [`ast`](super::ast) the parser would make of that
//! text — with the same spans (line, column, byte range) and the same statement texts —
//! so that the program need not lex and parse what it has just written. The scenario
//! hash is the text's, as for a parsed scenario, so schedules recorded on either one
//! replay on the other.
//!
//! The writer covers what the importer writes: system calls whose arguments are
//! numbers, named constants, epoll masks, strings, `NULL`, `file_at(N)`, `u64(N)` and
//! `N bytes`; expectations of a return value, an errno, a list of events or a pair's two
//! descriptors; `sleep until`; `at` blocks of interrupt-context actions; `thread` and
//! `fork` blocks; comments. The tests parse what it wrote and compare the two forms.

use std::fmt::Write as _;
use std::rc::Rc;

use kernel_model::poll::EVENT_NAMES;
use kernel_model::{Errno, KernelVersion};

use super::ast::{AtDecl, ProcessDecl};
use super::ast::{
    BinOp, Builtin, Expectation, Expr, ExprKind, Header, IrqCall, IrqName, Link, Place, Span,
    Special, Stmt, StmtKind, Syscall, SyscallName, TaskDecl, TaskName,
};
use super::{parser, Scenario};

/// An argument of a system call or interrupt action, as the writer knows how to write it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A number, in decimal.
    Int(i64),
    /// An epoll data word: decimal up to `i64::MAX`, hex past it (a 64-bit pattern).
    Data(u64),
    /// A named constant of the language (`EPOLL_CTL_ADD`, `O_NONBLOCK`, `SHUT_WR`).
    Const(&'static str),
    /// An epoll event mask: `EPOLLIN|EPOLLET`, `0`, with a hex rest for unnamed bits.
    Mask(u32),
    /// A string literal of these bytes.
    Str(Vec<u8>),
    /// `NULL`.
    Null,
    /// `file_at(N)`.
    FileAt(i64),
    /// `u64(N)`.
    U64(i64),
    /// `N bytes` (a `write` or `deliver` argument).
    Bytes(i64),
}

/// A system call statement: `[target =] name(args)`, and an optional comment after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallLine {
    /// The variable assigned (`evs`, `p`).
    pub target: Option<&'static str>,
    pub name: SyscallName,
    pub args: Vec<Value>,
    /// A comment written after the call (`the recording got 7`).
    pub note: Option<String>,
}

impl CallLine {
    pub fn new(name: SyscallName, args: Vec<Value>) -> CallLine {
        CallLine {
            target: None,
            name,
            args,
            note: None,
        }
    }

    /// The call assigning its result to `target`.
    pub fn assign(target: &'static str, name: SyscallName, args: Vec<Value>) -> CallLine {
        CallLine {
            target: Some(target),
            ..CallLine::new(name, args)
        }
    }

    /// The call with a comment after it.
    pub fn note(mut self, note: impl Into<String>) -> CallLine {
        self.note = Some(note.into());
        self
    }
}

/// What an `expect` after a call checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// `expect ERRNO` (a name the language knows).
    Errno(Errno),
    /// `expect ret == N`.
    Ret(i64),
    /// `expect TARGET == [MASK:DATA, ...]`.
    Events(&'static str, Vec<(u32, u64)>),
    /// `expect TARGET.F == A && TARGET.G == B` (`r`, `w` of a pipe; `a`, `b` of a
    /// socketpair).
    Pair(&'static str, [&'static str; 2], [i64; 2]),
}

/// An interrupt-context action of an `at` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `signal(TASK)`.
    Signal(String),
    /// `NAME(args)`.
    Call(IrqName, Vec<Value>),
}

/// The text being written and the line and column where it ends.
#[derive(Clone, Debug)]
pub struct Writer {
    text: String,
    /// The line the text ends on (1-based).
    line: u32,
    /// Characters on that line so far (the next token's column is one more).
    col: u32,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    pub fn new() -> Writer {
        Writer {
            text: String::new(),
            line: 1,
            col: 0,
        }
    }

    /// The text so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The line the next statement starts on.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// Appends `s`, which has no line break, to the current line.
    fn put(&mut self, s: &str) {
        debug_assert!(!s.contains('\n'), "a line break goes through end_line");
        self.text.push_str(s);
        let chars = if s.is_ascii() {
            s.len()
        } else {
            s.chars().count()
        };
        self.col += u32::try_from(chars).unwrap_or(u32::MAX);
    }

    /// Appends a number in decimal (without the formatting machinery: the importer
    /// writes several per line).
    fn put_int(&mut self, value: i64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = value.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0 {
            self.text.push('-');
            self.col += 1;
        }
        let digits = std::str::from_utf8(&digits[at..]).expect("ASCII digits");
        self.text.push_str(digits);
        self.col += digits.len() as u32;
    }

    /// A virtual time as the language writes it: whole microseconds as `us`, else `ns`.
    fn put_duration(&mut self, ns: u64) {
        let (value, unit) = if ns % 1000 == 0 {
            (ns / 1000, "us")
        } else {
            (ns, "ns")
        };
        match i64::try_from(value) {
            Ok(value) => {
                self.put_int(value);
                self.put(unit);
            }
            Err(_) => self.put_fmt(format_args!("{value}{unit}")),
        }
    }

    /// Appends formatted text without a line break.
    fn put_fmt(&mut self, args: std::fmt::Arguments) {
        let before = self.text.len();
        let _ = self.text.write_fmt(args);
        let added = &self.text[before..];
        debug_assert!(!added.contains('\n'), "a line break goes through end_line");
        let chars = if added.is_ascii() {
            added.len()
        } else {
            added.chars().count()
        };
        self.col += u32::try_from(chars).unwrap_or(u32::MAX);
    }

    /// Where the next character goes, as the start of a span.
    fn here(&self) -> Span {
        let at = self.text.len();
        Span {
            line: self.line,
            col: self.col + 1,
            start: at,
            end: at,
        }
    }

    /// `start` up to the end of the text (the parser's span of what it just read).
    fn from(&self, start: Span) -> Span {
        Span {
            end: self.text.len(),
            ..start
        }
    }

    /// Ends the line.
    pub fn end_line(&mut self) {
        self.text.push('\n');
        self.line += 1;
        self.col = 0;
    }

    /// `depth` levels of indentation.
    pub fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.put("    ");
        }
    }

    /// A line that is one `# comment` (line breaks in `text` become spaces).
    pub fn comment_line(&mut self, depth: usize, text: &str) {
        self.indent(depth);
        self.put("# ");
        if text.contains('\n') {
            self.put(&text.replace('\n', " "));
        } else {
            self.put(text);
        }
        self.end_line();
    }

    /// A whole line of text the parser skips or the caller accounts for (header lines).
    pub fn raw_line(&mut self, text: std::fmt::Arguments) {
        self.put_fmt(text);
        self.end_line();
    }

    /// `   # note` after a statement, on its line.
    pub fn trailing_comment(&mut self, note: std::fmt::Arguments) {
        self.put("   # ");
        self.put_fmt(note);
    }

    // ---- expressions -------------------------------------------------------------------

    fn token(&mut self, text: &str, kind: ExprKind) -> Expr {
        let start = self.here();
        self.put(text);
        Expr {
            kind,
            span: self.from(start),
        }
    }

    /// A number as the lexer reads it back (a negative one is the parser's folded `-N`).
    fn int(&mut self, value: i64) -> Expr {
        let start = self.here();
        self.put_int(value);
        Expr {
            kind: ExprKind::Int(value),
            span: self.from(start),
        }
    }

    fn constant(&mut self, name: &'static str) -> Expr {
        let value = parser::constant(name)
            .unwrap_or_else(|| panic!("{name} is a constant of the language"));
        self.token(name, ExprKind::Const(name.to_string(), value))
    }

    /// `EPOLLIN|EPOLLET`: as `kernel_model::poll::mask_to_string` writes it, and as
    /// the parser reads it (one `|` chain, left to right).
    fn mask(&mut self, mask: u32) -> Expr {
        if mask == 0 {
            return self.int(0);
        }
        let start = self.here();
        let mut first: Option<Expr> = None;
        let mut links = Vec::new();
        let mut rest = mask;
        let mut part = |w: &mut Writer, make: &mut dyn FnMut(&mut Writer) -> Expr| {
            if first.is_none() {
                first = Some(make(w));
            } else {
                let at = w.here();
                w.put("|");
                let at = w.from(at);
                let operand = make(w);
                links.push(Link {
                    op: BinOp::Or,
                    at,
                    operand,
                });
            }
        };
        for &(name, bit) in EVENT_NAMES {
            if mask & bit != 0 {
                part(self, &mut |w| w.constant(name));
                rest &= !bit;
            }
        }
        if rest != 0 {
            part(self, &mut |w| {
                let start = w.here();
                w.put_fmt(format_args!("{rest:#x}"));
                Expr {
                    kind: ExprKind::Int(rest as i64),
                    span: w.from(start),
                }
            });
        }
        let first = first.expect("a mask that is not 0 has a part");
        if links.is_empty() {
            return first;
        }
        Expr {
            kind: ExprKind::Chain(Box::new(first), links),
            span: self.from(start),
        }
    }

    /// A virtual time: a duration token, the nanoseconds the lexer makes of it.
    fn time(&mut self, time_ns: u64) -> Expr {
        let start = self.here();
        self.put_duration(time_ns);
        Expr {
            kind: ExprKind::Int(time_ns as i64),
            span: self.from(start),
        }
    }

    fn builtin(&mut self, builtin: Builtin, argument: i64) -> Expr {
        let start = self.here();
        self.put(builtin.name());
        self.put("(");
        let argument = self.int(argument);
        self.put(")");
        Expr {
            kind: ExprKind::Call(builtin, vec![argument]),
            span: self.from(start),
        }
    }

    fn value(&mut self, value: &Value) -> Expr {
        match value {
            Value::Int(v) => self.int(*v),
            Value::Data(d) if *d > i64::MAX as u64 => {
                let start = self.here();
                self.put_fmt(format_args!("{d:#x}"));
                Expr {
                    kind: ExprKind::Int(*d as i64),
                    span: self.from(start),
                }
            }
            Value::Data(d) => self.int(*d as i64),
            Value::Const(name) => self.constant(name),
            Value::Mask(mask) => self.mask(*mask),
            Value::Str(bytes) => {
                let text = super::results::format_bytes(bytes);
                self.token(&text, ExprKind::Str(bytes.clone()))
            }
            Value::Null => self.token("NULL", ExprKind::Special(Special::Null)),
            Value::FileAt(fd) => self.builtin(Builtin::File, *fd),
            Value::U64(n) => self.builtin(Builtin::U64, *n),
            Value::Bytes(n) => {
                let start = self.here();
                let count = self.int(*n);
                self.put(" bytes");
                Expr {
                    kind: ExprKind::Bytes(Box::new(count)),
                    span: self.from(start),
                }
            }
        }
    }

    /// `(a, b, c)`.
    fn arguments(&mut self, values: &[Value]) -> Vec<Expr> {
        self.put("(");
        let mut args = Vec::with_capacity(values.len());
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.put(", ");
            }
            args.push(self.value(value));
        }
        self.put(")");
        args
    }

    fn var(&mut self, name: &str) -> Expr {
        self.token(name, ExprKind::Var(name.to_string()))
    }

    /// `lhs == rhs`, the left side written by `lhs`.
    fn equals(
        &mut self,
        lhs: impl FnOnce(&mut Writer) -> Expr,
        rhs: impl FnOnce(&mut Writer) -> Expr,
    ) -> Expr {
        let start = self.here();
        let lhs = lhs(self);
        self.put(" == ");
        let rhs = rhs(self);
        Expr {
            kind: ExprKind::Compare(BinOp::Eq, Box::new(lhs), Box::new(rhs)),
            span: self.from(start),
        }
    }

    fn field(&mut self, var: &str, field: &str) -> Expr {
        let start = self.here();
        let base = self.var(var);
        self.put(".");
        self.put(field);
        Expr {
            kind: ExprKind::Field(Box::new(base), field.to_string()),
            span: self.from(start),
        }
    }

    fn events(&mut self, events: &[(u32, u64)]) -> Expr {
        let start = self.here();
        self.put("[");
        let mut items = Vec::with_capacity(events.len());
        for (i, &(mask, data)) in events.iter().enumerate() {
            if i > 0 {
                self.put(", ");
            }
            let item_start = self.here();
            let mask = self.mask(mask);
            self.put(":");
            let data = self.value(&Value::Data(data));
            items.push(Expr {
                kind: ExprKind::Event(Box::new(mask), Box::new(data)),
                span: self.from(item_start),
            });
        }
        self.put("]");
        Expr {
            kind: ExprKind::List(items),
            span: self.from(start),
        }
    }

    // ---- statements --------------------------------------------------------------------

    /// A system call, without indentation or line break (the caller writes those and any
    /// comment after it).
    pub fn call(&mut self, call: &CallLine) -> Stmt {
        let start = self.here();
        let target = call.target.map(|name| {
            self.put(name);
            self.put(" = ");
            Place {
                name: name.to_string(),
                indices: Vec::new(),
            }
        });
        let name_start = self.here();
        self.put(call.name.name());
        let args = self.arguments(&call.args);
        let span = self.from(start);
        Stmt {
            kind: StmtKind::Syscall {
                target,
                call: Syscall {
                    name: call.name,
                    args,
                    task: None,
                    span: self.from(name_start),
                },
                text: self.text[span.start..span.end].to_string(),
            },
            span,
        }
    }

    /// `expect ...`, without indentation or line break.
    pub fn expect(&mut self, expect: &Expect) -> Stmt {
        let start = self.here();
        self.put("expect ");
        let kind = match expect {
            Expect::Errno(errno) => {
                self.put(errno.name());
                Expectation::Errno(*errno)
            }
            _ => {
                let expr_start = self.here();
                let expr = match expect {
                    Expect::Ret(ret) => self.equals(
                        |w| w.token("ret", ExprKind::Special(Special::Ret)),
                        |w| w.int(*ret),
                    ),
                    Expect::Events(target, events) => {
                        self.equals(|w| w.var(target), |w| w.events(events))
                    }
                    Expect::Pair(target, [first, second], [a, b]) => {
                        let left = self.equals(|w| w.field(target, first), |w| w.int(*a));
                        self.put(" ");
                        let at = self.here();
                        self.put("&&");
                        let at = self.from(at);
                        self.put(" ");
                        let right = self.equals(|w| w.field(target, second), |w| w.int(*b));
                        Expr {
                            kind: ExprKind::Chain(
                                Box::new(left),
                                vec![Link {
                                    op: BinOp::LogAnd,
                                    at,
                                    operand: right,
                                }],
                            ),
                            span: self.from(expr_start),
                        }
                    }
                    Expect::Errno(_) => unreachable!("matched above"),
                };
                Expectation::Cond {
                    text: self.text[expr_start.start..].to_string(),
                    expr,
                }
            }
        };
        Stmt {
            kind: StmtKind::Expect(kind),
            span: self.from(start),
        }
    }

    /// `sleep until TIME`, without indentation or line break.
    pub fn sleep_until(&mut self, time_ns: u64) -> Stmt {
        let start = self.here();
        self.put("sleep until ");
        let time = self.time(time_ns);
        Stmt {
            kind: StmtKind::SleepUntil(time),
            span: self.from(start),
        }
    }

    fn action(&mut self, action: &Action) -> Stmt {
        let start = self.here();
        let (name, args, task) = match action {
            Action::Signal(task) => {
                self.put("signal(");
                self.put(task);
                self.put(")");
                (
                    IrqName::Signal,
                    Vec::new(),
                    Some(TaskName {
                        name: task.clone(),
                        index: None,
                    }),
                )
            }
            Action::Call(name, values) => {
                self.put(name.name());
                (*name, self.arguments(values), None)
            }
        };
        let span = self.from(start);
        Stmt {
            kind: StmtKind::Irq(IrqCall {
                name,
                args,
                task,
                text: self.text[span.start..span.end].to_string(),
            }),
            span,
        }
    }

    /// `at TIME { a; b }` on one line, without indentation or line break.
    pub fn at(&mut self, time_ns: u64, actions: &[Action]) -> Stmt {
        let start = self.here();
        self.put("at ");
        let time = self.time(time_ns);
        self.put(" { ");
        let mut body = Vec::with_capacity(actions.len());
        for (i, action) in actions.iter().enumerate() {
            if i > 0 {
                self.put("; ");
            }
            body.push(self.action(action));
        }
        self.put(" }");
        Stmt {
            kind: StmtKind::At {
                time,
                cpu: None,
                body: Rc::new(body),
            },
            span: self.from(start),
        }
    }

    /// `thread NAME {` or `fork NAME {` and its line break; [`Writer::close_task`] ends
    /// it with the statements written in between.
    pub fn open_task(&mut self, depth: usize, thread: bool, name: &str) -> Span {
        self.indent(depth);
        let start = self.here();
        self.put(if thread { "thread " } else { "fork " });
        self.put(name);
        self.put(" {");
        self.end_line();
        start
    }

    /// The `}` of a [`Writer::open_task`] and its line break.
    pub fn close_task(
        &mut self,
        depth: usize,
        start: Span,
        thread: bool,
        name: &str,
        body: Vec<Stmt>,
    ) -> Stmt {
        self.indent(depth);
        self.put("}");
        let span = self.from(start);
        self.end_line();
        let name = TaskName {
            name: name.to_string(),
            index: None,
        };
        let body = Rc::new(body);
        let kind = if thread {
            StmtKind::Thread {
                name,
                cpu: None,
                body,
            }
        } else {
            StmtKind::Fork {
                name,
                cpu: None,
                body,
            }
        };
        Stmt { kind, span }
    }

    /// `process P {` and `    task T {` on two lines: returns where each starts.
    pub fn open_process(&mut self, process: &str, task: &str) -> (Span, Span) {
        let process_start = self.here();
        self.put_fmt(format_args!("process {process} {{"));
        self.end_line();
        self.indent(1);
        let task_start = self.here();
        self.put_fmt(format_args!("task {task} {{"));
        self.end_line();
        (process_start, task_start)
    }

    /// The two `}` of an [`Writer::open_process`].
    pub fn close_process(
        &mut self,
        starts: (Span, Span),
        process: &str,
        task: &str,
        body: Vec<Stmt>,
    ) -> ProcessDecl {
        self.indent(1);
        self.put("}");
        let task = TaskDecl {
            name: task.to_string(),
            cpu: None,
            body: Rc::new(body),
            span: self.from(starts.1),
        };
        self.end_line();
        self.put("}");
        let span = self.from(starts.0);
        self.end_line();
        ProcessDecl {
            name: process.to_string(),
            fork_of: None,
            tasks: vec![task],
            span,
        }
    }

    /// A header line `scenario "NAME"`.
    pub fn header_name(&mut self, header: &mut Header, name: &str) {
        self.header_line(header, "scenario");
        self.put("scenario ");
        self.put(&super::results::format_bytes(name.as_bytes()));
        self.end_line();
        header.name = Some(name.to_string());
    }

    /// A header line `description "TEXT"` (`text` without `"`, `\` or control bytes).
    pub fn header_description(&mut self, header: &mut Header, text: &str) {
        debug_assert!(!text.contains(['"', '\\', '\n']));
        self.header_line(header, "description");
        self.put_fmt(format_args!("description \"{text}\""));
        self.end_line();
        header.description = Some(text.to_string());
    }

    /// A header line `kernel VERSION`.
    pub fn header_kernel(&mut self, header: &mut Header, kernel: KernelVersion) {
        self.header_line(header, "kernel");
        self.put_fmt(format_args!("kernel {}", kernel.name()));
        self.end_line();
        header.kernel = Some(kernel);
    }

    /// A header line `cpus N`.
    pub fn header_cpus(&mut self, header: &mut Header, cpus: usize) {
        self.header_line(header, "cpus");
        self.put_fmt(format_args!("cpus {cpus}"));
        self.end_line();
        header.cpus = Some(cpus);
    }

    /// A header line `max steps N`.
    pub fn header_max_steps(&mut self, header: &mut Header, steps: u64) {
        self.header_line(header, "max steps");
        self.put_fmt(format_args!("max steps {steps}"));
        self.end_line();
        header.max_steps = Some(steps);
    }

    fn header_line(&mut self, header: &mut Header, directive: &'static str) {
        debug_assert_eq!(self.col, 0, "a header line starts a line");
        header.lines.insert(directive, (self.line, 1));
    }

    /// The scenario: the text written and the parsed form given, named `file`.
    pub fn finish(
        self,
        file: &str,
        header: Header,
        processes: Vec<ProcessDecl>,
        interrupts: Vec<AtDecl>,
    ) -> Scenario {
        Scenario::from_parts(file, self.text, header, processes, interrupts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of statement and value the writer has, written and parsed back: the
    /// same scenario, spans and statement texts included — also for what the shipped
    /// recordings do not have (hex data past `i64::MAX`, unnamed mask bits, negative
    /// numbers, escaped strings, a fork, a signal).
    #[test]
    fn what_the_writer_writes_parses_to_what_it_built() {
        let mut w = Writer::new();
        let mut header = Header::default();
        w.comment_line(0, "a comment\nover two lines");
        w.header_name(&mut header, "writer-test");
        w.header_description(&mut header, "every statement kind");
        w.header_kernel(&mut header, KernelVersion::V6_18);
        w.header_cpus(&mut header, 2);
        w.header_max_steps(&mut header, 1_000_000);
        let starts = w.open_process("p1", "t1");
        let mut body = Vec::new();
        let line =
            |depth: usize, w: &mut Writer, body: &mut Vec<Stmt>, call: CallLine, expect: Expect| {
                w.indent(depth);
                body.push(w.call(&call));
                if let Some(note) = &call.note {
                    w.trailing_comment(format_args!("{note}"));
                }
                w.end_line();
                w.indent(depth);
                body.push(w.expect(&expect));
                w.end_line();
            };
        line(
            2,
            &mut w,
            &mut body,
            CallLine::new(SyscallName::EpollCreate, vec![Value::Int(1)]),
            Expect::Ret(3),
        );
        line(
            2,
            &mut w,
            &mut body,
            CallLine::assign("p", SyscallName::Pipe, Vec::new()).note("L7"),
            Expect::Pair("p", ["r", "w"], [4, 5]),
        );
        line(
            2,
            &mut w,
            &mut body,
            CallLine::new(
                SyscallName::EpollCtl,
                vec![
                    Value::Int(3),
                    Value::Const("EPOLL_CTL_ADD"),
                    Value::Int(4),
                    Value::Mask(0x1 | 0x8000_0000 | 0x0100_0000),
                    Value::Data(u64::MAX - 1),
                ],
            ),
            Expect::Errno(Errno::EEXIST),
        );
        line(
            2,
            &mut w,
            &mut body,
            CallLine::new(
                SyscallName::Open,
                vec![Value::Str(b"/a \"b\"\\\n\x01".to_vec())],
            ),
            Expect::Ret(-1),
        );
        line(
            2,
            &mut w,
            &mut body,
            CallLine::new(SyscallName::Write, vec![Value::Int(5), Value::U64(-7)]),
            Expect::Ret(8),
        );
        w.indent(2);
        body.push(w.at(
            12_345,
            &[
                Action::Signal("t1".to_string()),
                Action::Call(IrqName::Ready, vec![Value::FileAt(4), Value::Mask(0)]),
                Action::Call(IrqName::Deliver, vec![Value::FileAt(4), Value::Bytes(3)]),
            ],
        ));
        w.trailing_comment(format_args!("outside: bytes arrive"));
        w.end_line();
        w.indent(2);
        body.push(w.sleep_until(20_000));
        w.end_line();
        line(
            2,
            &mut w,
            &mut body,
            CallLine::assign(
                "evs",
                SyscallName::EpollPwait,
                vec![Value::Int(3), Value::Int(8), Value::Int(-1), Value::Null],
            ),
            Expect::Events("evs", vec![(0x1 | 0x4, 7), (0, u64::MAX)]),
        );
        let start = w.open_task(2, false, "t2");
        let mut child = Vec::new();
        line(
            3,
            &mut w,
            &mut child,
            CallLine::new(
                SyscallName::Fcntl,
                vec![
                    Value::Int(4),
                    Value::Const("F_SETFL"),
                    Value::Const("O_NONBLOCK"),
                ],
            ),
            Expect::Ret(0),
        );
        w.comment_line(3, "L9 getpid() = 2");
        body.push(w.close_task(2, start, false, "t2", child));
        let process = w.close_process(starts, "p1", "t1", body);
        let built = w.finish("writer.scn", header, vec![process], Vec::new());
        let parsed = Scenario::parse("writer.scn", &built.text)
            .unwrap_or_else(|e| panic!("{e}\n{}", built.text));
        assert_eq!(parsed.header, built.header);
        assert_eq!(parsed.processes, built.processes, "{}", built.text);
        assert_eq!(parsed, built);
        assert_eq!(parsed.hash(), built.hash());
        assert!(
            built
                .text
                .contains("EPOLLIN|EPOLLET|0x1000000, 0xfffffffffffffffe)"),
            "{}",
            built.text
        );
    }
}
