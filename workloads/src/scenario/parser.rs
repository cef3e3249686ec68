//! The parser: tokens to [`ast`](super::ast) nodes, with every error naming the place,
//! what was found and what was expected.
//!
//! Besides the grammar it checks what can be checked before a run: header values
//! (kernel versions, models, injection names, report kinds, allocation classes),
//! argument counts, that a variable is assigned before it is read, that system calls
//! appear only in tasks and interrupt actions only in `at` blocks, that `break` is in a
//! loop, and that pinned CPUs exist. Nesting is bounded, so no input can exhaust the
//! stack: every input gives a scenario or an error, never a panic.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use kernel_model::poll::{EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EVENT_NAMES};
use kernel_model::syscalls::{
    FD_CLOEXEC, F_GETFD, F_GETFL, F_SETFD, F_SETFL, SHUT_RD, SHUT_RDWR, SHUT_WR,
};
use kernel_model::{Errno, Injection, KernelVersion};
use sim::config::AllocFailure;
use sim::{GranularityKind, MemoryModel, ReportKind, StrategyKind};

use super::ast::*;
use super::interp::arithmetic;
use super::lexer::{lex, Tok, Token};
use super::ParseError;

/// How deeply blocks and expressions may nest.
pub const NESTING_MAX: usize = 48;

/// The allocation classes a scenario can make fail (`fail alloc CLASS nth N`): the slab
/// caches the kernel model allocates from.
pub const ALLOC_CLASSES: &[&str] = &[
    "eventpoll",
    "epitem",
    "eppoll_entry",
    "pipe_inode_info",
    "eventfd_ctx",
    "sock_inode_cache",
    "UNIX",
    "TCP",
    "skbuff_head_cache",
];

const KEYWORDS: &[&str] = &[
    "expect", "repeat", "until", "for", "if", "else", "sleep", "thread", "fork", "at", "note",
    "break", "continue", "in", "as", "on", "task", "process", "ok", "true", "false",
];

const STATEMENTS: &str =
    "a statement (a system call, `name = ...`, expect, repeat, until, for, if, sleep, thread, fork, at, note)";

/// The precedence level of the comparison operators (0 is `||`, the loosest).
const COMPARISONS: usize = 2;

const FIELDS: &[&str] = &["r", "w", "a", "b", "events", "data"];

/// The named numbers of the language.
pub fn constant(name: &str) -> Option<i64> {
    if let Some(&(_, bit)) = EVENT_NAMES.iter().find(|(n, _)| *n == name) {
        return Some(bit as i64);
    }
    if let Some(errno) = Errno::parse(name) {
        return Some(errno.number());
    }
    Some(match name {
        "POLLIN" => kernel_model::poll::POLLIN as i64,
        "POLLOUT" => kernel_model::poll::POLLOUT as i64,
        "POLLPRI" => kernel_model::poll::POLLPRI as i64,
        "POLLERR" => kernel_model::poll::POLLERR as i64,
        "POLLHUP" => kernel_model::poll::POLLHUP as i64,
        "POLLNVAL" => kernel_model::poll::POLLNVAL as i64,
        "EPOLL_CTL_ADD" => EPOLL_CTL_ADD as i64,
        "EPOLL_CTL_DEL" => EPOLL_CTL_DEL as i64,
        "EPOLL_CTL_MOD" => EPOLL_CTL_MOD as i64,
        "EPOLL_CLOEXEC" => kernel_model::eventpoll_6_18::EPOLL_CLOEXEC as i64,
        "EFD_SEMAPHORE" => kernel_model::eventfd::EFD_SEMAPHORE as i64,
        "CLOCK_REALTIME" => kernel_model::timerfd::CLOCK_REALTIME as i64,
        "CLOCK_MONOTONIC" => kernel_model::timerfd::CLOCK_MONOTONIC as i64,
        "CLOCK_BOOTTIME" => kernel_model::timerfd::CLOCK_BOOTTIME as i64,
        "TFD_NONBLOCK" => kernel_model::timerfd::TFD_NONBLOCK as i64,
        "TFD_CLOEXEC" => kernel_model::timerfd::TFD_CLOEXEC as i64,
        "TFD_TIMER_ABSTIME" => kernel_model::timerfd::TFD_TIMER_ABSTIME as i64,
        "EFD_CLOEXEC" => kernel_model::eventfd::EFD_CLOEXEC as i64,
        "EFD_NONBLOCK" => kernel_model::eventfd::EFD_NONBLOCK as i64,
        "F_GETFD" => F_GETFD as i64,
        "F_SETFD" => F_SETFD as i64,
        "FD_CLOEXEC" => FD_CLOEXEC as i64,
        "F_GETFL" => F_GETFL as i64,
        "F_DUPFD" => kernel_model::syscalls::F_DUPFD as i64,
        "F_DUPFD_CLOEXEC" => kernel_model::syscalls::F_DUPFD_CLOEXEC as i64,
        "O_CLOEXEC" => kernel_model::objects::O_CLOEXEC as i64,
        "O_DIRECT" => kernel_model::objects::O_DIRECT as i64,
        "SOCK_STREAM" => 1,
        "SOCK_DGRAM" => 2,
        "SOCK_NONBLOCK" => kernel_model::objects::O_NONBLOCK as i64,
        "SOCK_CLOEXEC" => kernel_model::objects::O_CLOEXEC as i64,
        "F_SETFL" => F_SETFL as i64,
        "O_NONBLOCK" => kernel_model::objects::O_NONBLOCK as i64,
        "O_RDONLY" => kernel_model::objects::O_RDONLY as i64,
        "O_WRONLY" => kernel_model::objects::O_WRONLY as i64,
        "O_RDWR" => kernel_model::objects::O_RDWR as i64,
        "O_ACCMODE" => kernel_model::objects::O_ACCMODE as i64,
        "SHUT_RD" => SHUT_RD as i64,
        "SHUT_WR" => SHUT_WR as i64,
        "SHUT_RDWR" => SHUT_RDWR as i64,
        "RLIMIT_NOFILE" => kernel_model::syscalls::RLIMIT_NOFILE as i64,
        // ~0UL: as a 64-bit number, -1.
        "RLIM_INFINITY" => kernel_model::syscalls::RLIM_INFINITY as i64,
        _ => return None,
    })
}

fn special(name: &str) -> Option<Special> {
    Some(match name {
        "NULL" => Special::Null,
        "BAD_ADDRESS" => Special::BadAddress,
        "NOT_RESIDENT" => Special::NotResident,
        "ALL_SIGNALS" => Special::AllSignals,
        "ret" => Special::Ret,
        "errno" => Special::Errno,
        _ => return None,
    })
}

/// What a parsed file holds.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub header: Header,
    pub processes: Vec<ProcessDecl>,
    pub interrupts: Vec<AtDecl>,
}

/// Parses a whole scenario file.
pub fn parse(file: &str, text: &str) -> Result<Parsed, ParseError> {
    let tokens = lex(file, text)?;
    let mut parser = Parser {
        file,
        text,
        tokens,
        pos: 0,
        depth: 0,
        parsed: Parsed::default(),
        seen: BTreeMap::new(),
        scope: BTreeSet::new(),
        ctx: Ctx::default(),
        task_names: Vec::new(),
        declared: BTreeMap::new(),
        task_refs: Vec::new(),
    };
    parser.file_items()?;
    parser.finish()?;
    parser.something_to_run()?;
    parser.parsed.header.lines = parser.seen;
    Ok(parser.parsed)
}

#[derive(Clone, Copy, Debug, Default)]
struct Ctx {
    /// In an `at` block: interrupt context.
    irq: bool,
    /// Loops around this point in the current body.
    loops: usize,
}

struct Parser<'a> {
    file: &'a str,
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    parsed: Parsed,
    /// Header directives seen, with where.
    seen: BTreeMap<&'static str, (u32, u32)>,
    /// Variables assigned so far in the current body.
    scope: BTreeSet<String>,
    ctx: Ctx,
    /// Tasks, threads and forked children declared anywhere.
    task_names: Vec<String>,
    /// The names declared without an index (tasks, `thread NAME`, `fork NAME`), with
    /// where: each names one task, so each is declared once.
    declared: BTreeMap<String, (u32, u32)>,
    /// Task names used by kill/signal, checked at the end.
    task_refs: Vec<(String, Span)>,
}

type R<T> = Result<T, ParseError>;

impl Parser<'_> {
    // ---- tokens ------------------------------------------------------------------------

    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Token {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    /// Moves past the current token (without copying it, as [`Parser::next`] does) and
    /// returns where it was.
    fn advance(&mut self) -> Span {
        let span = Self::span_of(self.peek());
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        span
    }

    fn previous_end(&self) -> usize {
        self.pos.checked_sub(1).map_or(0, |p| self.tokens[p].end)
    }

    fn span_of(token: &Token) -> Span {
        Span {
            line: token.line,
            col: token.col,
            start: token.start,
            end: token.end,
        }
    }

    fn span_from(&self, start: Span) -> Span {
        Span {
            end: self.previous_end().max(start.start),
            ..start
        }
    }

    fn error_at(&self, token: &Token, message: String) -> ParseError {
        ParseError::new(self.file, token.line, token.col, message)
    }

    fn error_span(&self, span: Span, message: String) -> ParseError {
        ParseError::new(self.file, span.line, span.col, message)
    }

    /// "found X, expected WHAT" at the current token.
    fn expected(&self, what: &str) -> ParseError {
        let token = self.peek();
        self.error_at(
            token,
            format!("found {}, expected {what}", token.describe(self.text)),
        )
    }

    fn skip_newlines(&mut self) {
        while self.peek().tok == Tok::Newline {
            self.advance();
        }
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.peek().is_punct(p) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str, what: &str) -> R<Token> {
        if self.peek().is_punct(p) {
            Ok(self.next())
        } else {
            Err(self.expected(what))
        }
    }

    fn eat_ident(&mut self, name: &str) -> bool {
        if self.peek().is_ident(name) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect_ident(&mut self, name: &str, what: &str) -> R<Token> {
        if self.peek().is_ident(name) {
            Ok(self.next())
        } else {
            Err(self.expected(what))
        }
    }

    fn ident(&mut self, what: &str) -> R<(String, Span)> {
        match &self.peek().tok {
            Tok::Ident(name) => {
                let name = name.clone();
                Ok((name, self.advance()))
            }
            _ => Err(self.expected(what)),
        }
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > NESTING_MAX {
            return Err(self.expected(&format!(
                "at most {NESTING_MAX} levels of nesting (blocks, parentheses, lists, indices, fields)"
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// A header value written as one word: `2.6.21`, `no-linked-check`, `seed-case-1`.
    /// Tokens that touch each other (no space between) are joined.
    /// A [`Parser::word`] that `parse` must accept: "found `x`, expected {what}" if not.
    fn parsed_word<T>(
        &mut self,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> R<(T, Span)> {
        let (text, span) = self.word(what)?;
        match parse(&text) {
            Some(value) => Ok((value, span)),
            None => Err(self.error_span(span, format!("found `{text}`, expected {what}"))),
        }
    }

    fn word(&mut self, what: &str) -> R<(String, Span)> {
        let first = self.peek().clone();
        match &first.tok {
            Tok::Ident(_) | Tok::Int(_) | Tok::DigitWord(_) => {}
            Tok::Str(bytes) => {
                self.advance();
                return Ok((
                    String::from_utf8_lossy(bytes).into_owned(),
                    Self::span_of(&first),
                ));
            }
            _ => return Err(self.expected(what)),
        }
        self.advance();
        let mut end = first.end;
        loop {
            let t = self.peek();
            let joins = t.start == end
                && matches!(
                    &t.tok,
                    Tok::Ident(_)
                        | Tok::Int(_)
                        | Tok::DigitWord(_)
                        | Tok::Punct("-")
                        | Tok::Punct(".")
                );
            if !joins {
                break;
            }
            end = t.end;
            self.advance();
        }
        let span = Span {
            line: first.line,
            col: first.col,
            start: first.start,
            end,
        };
        Ok((self.text[first.start..end].to_string(), span))
    }

    fn integer(&mut self, what: &str) -> R<(i64, Span)> {
        match self.peek().tok {
            Tok::Int(v) => Ok((v, self.advance())),
            Tok::DigitWord(_) => Err(self.not_a_number()),
            _ => Err(self.expected(what)),
        }
    }

    /// At a [`Tok::DigitWord`] where a value is expected: what a number must look like.
    fn not_a_number(&self) -> ParseError {
        let token = self.peek();
        let expected = match &token.tok {
            Tok::DigitWord(expected) => expected.as_str(),
            _ => "a number",
        };
        self.error_at(
            token,
            format!("found {}, expected {expected}", token.describe(self.text)),
        )
    }

    fn end_of_line(&mut self) -> R<()> {
        match self.peek().tok {
            Tok::Newline => {
                self.advance();
                Ok(())
            }
            Tok::Eof => Ok(()),
            _ => Err(self.expected("end of line")),
        }
    }

    fn end_of_statement(&mut self) -> R<()> {
        match self.peek().tok {
            Tok::Newline => {
                self.advance();
                Ok(())
            }
            Tok::Eof => Ok(()),
            _ if self.peek().is_punct("}") => Ok(()),
            _ => Err(self.expected("end of line (one statement per line, or `;` between)")),
        }
    }

    // ---- the file ----------------------------------------------------------------------

    fn file_items(&mut self) -> R<()> {
        loop {
            self.skip_newlines();
            let token = self.peek().clone();
            let Tok::Ident(word) = &token.tok else {
                if token.tok == Tok::Eof {
                    return Ok(());
                }
                return Err(self.expected(
                    "a header line (scenario, description, cpus, kernel, model, granularity, strategy, seed, hz, max steps, fail alloc, inject, expect), `process` or `at`",
                ));
            };
            match word.as_str() {
                "process" => self.process()?,
                "at" => self.top_level_at()?,
                "task" => {
                    return Err(self.expected(
                        "a header line, `process` or `at` (a `task` goes inside `process NAME { ... }`)",
                    ))
                }
                _ => self.header_line()?,
            }
            self.end_of_line()?;
        }
    }

    fn once(&mut self, directive: &'static str, token: &Token) -> R<()> {
        if let Some(&(line, col)) = self.seen.get(directive) {
            return Err(self.error_at(
                token,
                format!("found a second `{directive}` line, expected each header line once (the first is at {line}:{col})"),
            ));
        }
        self.seen.insert(directive, (token.line, token.col));
        Ok(())
    }

    fn header_line(&mut self) -> R<()> {
        let token = self.peek().clone();
        let Tok::Ident(word) = token.tok.clone() else {
            unreachable!("checked by the caller")
        };
        match word.as_str() {
            "scenario" => {
                self.once("scenario", &token)?;
                self.advance();
                let (name, _) = self.word("the scenario's name")?;
                self.parsed.header.name = Some(name);
            }
            "description" => {
                self.once("description", &token)?;
                self.advance();
                match &self.peek().tok {
                    Tok::Str(bytes) => {
                        self.parsed.header.description =
                            Some(String::from_utf8_lossy(bytes).into_owned());
                        self.advance();
                    }
                    _ => return Err(self.expected("a one-line description in quotes")),
                }
            }
            "cpus" => {
                self.once("cpus", &token)?;
                self.advance();
                let (n, span) = self.integer("the number of CPUs")?;
                if n < 1 || n as usize > sim::limits::CPUS_MAX {
                    return Err(self.error_span(
                        span,
                        format!("found {n}, expected a number of CPUs from 1 to {}", sim::limits::CPUS_MAX),
                    ));
                }
                self.parsed.header.cpus = Some(n as usize);
            }
            "kernel" => {
                self.once("kernel", &token)?;
                self.advance();
                let expected = format!(
                    "a kernel version: {}",
                    KernelVersion::names_for_humans()
                );
                let (version, _) = self.parsed_word(&expected, KernelVersion::parse)?;
                self.parsed.header.kernel = Some(version);
            }
            "model" => {
                self.once("model", &token)?;
                self.advance();
                let (model, _) =
                    self.parsed_word("a memory model: sc, tso or pso", MemoryModel::parse)?;
                self.parsed.header.model = Some(model);
            }
            "granularity" => {
                self.once("granularity", &token)?;
                self.advance();
                let (granularity, _) = self
                    .parsed_word("a granularity: syscall, lock or access", GranularityKind::parse)?;
                self.parsed.header.granularity = Some(granularity);
            }
            "strategy" => {
                self.once("strategy", &token)?;
                self.advance();
                let (strategy, _) =
                    self.parsed_word("a strategy: timed, random, pct, round-robin or dfs", |text| {
                        StrategyKind::parse(text).filter(|s| *s != StrategyKind::Replay)
                    })?;
                self.parsed.header.strategy = Some(strategy);
            }
            "seed" => {
                self.once("seed", &token)?;
                self.advance();
                let (n, _) = self.integer("a seed (a number)")?;
                self.parsed.header.seed = Some(n as u64);
            }
            "hz" => {
                self.once("hz", &token)?;
                self.advance();
                let (n, span) = self.integer("the timer frequency (HZ), e.g. 250")?;
                if !(1..=10_000).contains(&n) {
                    return Err(self.error_span(
                        span,
                        format!("found {n}, expected a timer frequency from 1 to 10000"),
                    ));
                }
                self.parsed.header.hz = Some(n as u32);
            }
            "max" => {
                self.once("max steps", &token)?;
                self.advance();
                self.expect_ident("steps", "`steps` (as in `max steps 100000`)")?;
                let (n, span) = self.integer("the step budget (a number)")?;
                if n < 1 {
                    return Err(self.error_span(span, format!("found {n}, expected a step budget of at least 1")));
                }
                self.parsed.header.max_steps = Some(n as u64);
            }
            "fail" => {
                self.advance();
                self.expect_ident("alloc", "`alloc` (as in `fail alloc epitem nth 2`)")?;
                let what = format!("an allocation class: {}", ALLOC_CLASSES.join(", "));
                let (class, _) = self.parsed_word(&what, |class| {
                    ALLOC_CLASSES.contains(&class).then(|| class.to_string())
                })?;
                self.expect_ident("nth", "`nth` (as in `fail alloc epitem nth 2`)")?;
                let (nth, span) = self.integer("which allocation fails (1 is the first)")?;
                if nth < 1 {
                    return Err(self.error_span(
                        span,
                        format!("found {nth}, expected which allocation fails, counting from 1"),
                    ));
                }
                self.parsed.header.alloc_failures.push(AllocFailure {
                    class,
                    nth: nth as u64,
                });
            }
            "inject" => {
                self.advance();
                let names: Vec<&str> = Injection::ALL.iter().map(|i| i.name()).collect();
                let what = format!("an injection: {}", names.join(", "));
                let (injection, _) = self.parsed_word(&what, Injection::parse)?;
                if !self.parsed.header.injections.contains(&injection) {
                    self.parsed.header.injections.push(injection);
                }
            }
            "expect" => {
                self.advance();
                let what = "`report KIND`, `no reports` or `blocked TASK` (task expectations go inside a task)";
                if self.eat_ident("report") {
                    let names: Vec<&str> = ReportKind::ALL.iter().map(|k| k.name()).collect();
                    let what = format!("a report kind: {}", names.join(", "));
                    let (kind, span) = self.parsed_word(&what, ReportKind::parse)?;
                    self.parsed.header.expect_reports.push((kind, span));
                } else if self.peek().is_ident("no") {
                    let span = Self::span_of(&token);
                    self.advance();
                    self.expect_ident("reports", "`reports` (as in `expect no reports`)")?;
                    self.parsed.header.expect_no_reports = Some(span);
                } else if self.eat_ident("blocked") {
                    let (name, span) = self.ident("the name of a task")?;
                    self.task_refs.push((name.clone(), span));
                    self.parsed.header.expect_blocked.push((name, span));
                } else {
                    return Err(self.expected(what));
                }
            }
            _ => {
                return Err(self.expected(
                    "a header line (scenario, description, cpus, kernel, model, granularity, strategy, seed, hz, max steps, fail alloc, inject, expect), `process` or `at`",
                ))
            }
        }
        Ok(())
    }

    fn process(&mut self) -> R<()> {
        let start = self.advance();
        let (name, name_span) = self.ident("the process's name")?;
        if self.parsed.processes.iter().any(|p| p.name == name) {
            return Err(self.error_span(
                name_span,
                format!("found `{name}` again, expected a new process name"),
            ));
        }
        let mut fork_of = None;
        if self.eat_ident("fork") {
            self.expect_ident("of", "`of` (as in `process child fork of app { ... }`)")?;
            let (parent, span) = self.ident("the name of an earlier process")?;
            if !self.parsed.processes.iter().any(|p| p.name == parent) {
                return Err(self.error_span(
                    span,
                    format!("found `{parent}`, expected the name of a process declared above"),
                ));
            }
            fork_of = Some(parent);
        }
        let open = self.expect_punct("{", "`{` to start the process's tasks")?;
        let mut tasks: Vec<TaskDecl> = Vec::new();
        loop {
            self.skip_newlines();
            if self.eat_punct("}") {
                break;
            }
            if self.peek().tok == Tok::Eof {
                return Err(self.expected(&format!(
                    "`}}` to close the process opened at {}:{}",
                    open.line, open.col
                )));
            }
            if !self.peek().is_ident("task") {
                return Err(self.expected("`task NAME { ... }` or `}`"));
            }
            let task_start = self.advance();
            let (task, task_span) = self.ident("the task's name")?;
            self.declare(&task, task_span, false)?;
            self.check_new_name(&task, task_span)?;
            let cpu = self.top_level_pin()?;
            self.scope = BTreeSet::new();
            self.ctx = Ctx::default();
            let body = self.block()?;
            tasks.push(TaskDecl {
                name: task,
                cpu,
                body,
                span: self.span_from(task_start),
            });
            if !self.peek().is_punct("}") {
                self.end_of_line()?;
            }
        }
        if tasks.is_empty() && fork_of.is_none() {
            return Err(self.error_span(
                name_span,
                format!("found process `{name}` without tasks, expected at least one `task NAME {{ ... }}`"),
            ));
        }
        self.parsed.processes.push(ProcessDecl {
            name,
            fork_of,
            tasks,
            span: self.span_from(start),
        });
        Ok(())
    }

    /// `on cpu N` with a constant N, or nothing.
    fn top_level_pin(&mut self) -> R<Option<u16>> {
        if !self.eat_ident("on") {
            return Ok(None);
        }
        self.expect_ident("cpu", "`cpu` (as in `on cpu 1`)")?;
        let start = Self::span_of(self.peek());
        if matches!(&self.peek().tok, Tok::Ident(n) if constant(n).is_none()) {
            return Err(self.expected(
                "a CPU number (tasks declared in a process are pinned to a constant CPU)",
            ));
        }
        let expr = self.expr()?;
        match self.constant_value(&expr, "a constant CPU number")? {
            Some(n) if (0..sim::limits::CPUS_MAX as i64).contains(&n) => Ok(Some(n as u16)),
            Some(n) => Err(self.error_span(
                start,
                format!(
                    "found cpu {n}, expected a CPU number from 0 to {}",
                    sim::limits::CPUS_MAX - 1
                ),
            )),
            None => Err(self.error_span(
                start,
                "found an expression with variables, expected a constant CPU number here".into(),
            )),
        }
    }

    /// [`const_eval`], with an overflow as a parse error: "found integer overflow: ...,
    /// expected {what}".
    fn constant_value(&self, expr: &Expr, what: &str) -> R<Option<i64>> {
        const_eval(expr).map_err(|(span, message)| {
            self.error_span(span, format!("found {message}, expected {what}"))
        })
    }

    fn top_level_at(&mut self) -> R<()> {
        let start = self.advance();
        let time_span = Self::span_of(self.peek());
        if matches!(&self.peek().tok, Tok::Ident(n) if constant(n).is_none()) {
            return Err(
                self.expected("a virtual time such as `5ms` (a top-level `at` has no variables)")
            );
        }
        self.scope = BTreeSet::new();
        let time = self.expr()?;
        let time_ns = match self.constant_value(&time, "a constant time (e.g. `5ms`)")? {
            Some(t) if t >= 0 => t as u64,
            Some(t) => {
                return Err(self.error_span(
                    time_span,
                    format!("found time {t}, expected a virtual time of 0 or more (e.g. `5ms`)"),
                ))
            }
            None => {
                return Err(self.error_span(
                    time_span,
                    "found an expression with variables, expected a constant time (e.g. `5ms`)"
                        .into(),
                ))
            }
        };
        let cpu = self.top_level_pin()?;
        self.ctx = Ctx {
            irq: true,
            loops: 0,
        };
        let body = self.block()?;
        self.ctx = Ctx::default();
        self.parsed.interrupts.push(AtDecl {
            time_ns,
            cpu,
            body,
            span: self.span_from(start),
        });
        Ok(())
    }

    /// Checks that were left for the end (names can be used before they are declared).
    fn finish(&mut self) -> R<()> {
        for (name, span) in &self.task_refs {
            if !self.task_names.contains(name) {
                let known = if self.task_names.is_empty() {
                    "none is declared".to_string()
                } else {
                    self.task_names.join(", ")
                };
                return Err(self.error_span(
                    *span,
                    format!("found `{name}`, expected the name of a task or thread ({known})"),
                ));
            }
        }
        let cpus = self
            .parsed
            .header
            .cpus
            .unwrap_or(sim::Config::default().cpus);
        let pins = self
            .parsed
            .processes
            .iter()
            .flat_map(|p| {
                p.tasks
                    .iter()
                    .map(|t| (t.cpu, t.span, format!("task `{}`", t.name)))
            })
            .chain(
                self.parsed
                    .interrupts
                    .iter()
                    .map(|a| (a.cpu, a.span, "this `at` block".to_string())),
            );
        for (cpu, span, what) in pins {
            if let Some(cpu) = cpu {
                if cpu as usize >= cpus {
                    return Err(self.error_span(
                        span,
                        format!(
                            "found {what} on cpu {cpu}, expected a CPU below {cpus} (add `cpus {}` to the header)",
                            cpu + 1
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    // ---- statements --------------------------------------------------------------------

    fn block(&mut self) -> R<Block> {
        let open = self.expect_punct("{", "`{` to start a block")?;
        self.enter()?;
        let mut statements = Vec::new();
        loop {
            self.skip_newlines();
            if self.eat_punct("}") {
                break;
            }
            if self.peek().tok == Tok::Eof {
                return Err(self.expected(&format!(
                    "`}}` to close the block opened at {}:{}",
                    open.line, open.col
                )));
            }
            statements.push(self.statement()?);
            self.end_of_statement()?;
        }
        self.leave();
        Ok(Rc::new(statements))
    }

    /// A body with its own context: a task, thread, forked child or `at` block. It sees
    /// the variables assigned before it; what it assigns stays inside.
    fn body(&mut self, irq: bool) -> R<Block> {
        let saved_scope = self.scope.clone();
        let saved_ctx = self.ctx;
        self.ctx = Ctx { irq, loops: 0 };
        let body = self.block();
        self.scope = saved_scope;
        self.ctx = saved_ctx;
        body
    }

    fn loop_body(&mut self) -> R<Block> {
        self.ctx.loops += 1;
        let body = self.block();
        self.ctx.loops -= 1;
        body
    }

    fn statement(&mut self) -> R<Stmt> {
        let token = self.peek().clone();
        let start = Self::span_of(&token);
        let Tok::Ident(word) = &token.tok else {
            return Err(self.expected(STATEMENTS));
        };
        let kind = match word.as_str() {
            "expect" => self.expect_statement()?,
            "repeat" => {
                self.advance();
                let count = self.expr()?;
                let var = if self.eat_ident("as") {
                    let (name, span) = self.ident("a loop variable name")?;
                    self.check_new_name(&name, span)?;
                    self.scope.insert(name.clone());
                    Some(name)
                } else {
                    None
                };
                let body = self.loop_body()?;
                StmtKind::Repeat { count, var, body }
            }
            "until" => {
                self.advance();
                let time = self.expr()?;
                let body = self.loop_body()?;
                StmtKind::Until { time, body }
            }
            "for" => {
                self.advance();
                let (var, span) = self.ident("a loop variable name (as in `for e in evs`)")?;
                self.check_new_name(&var, span)?;
                self.expect_ident("in", "`in` (as in `for e in evs`)")?;
                let list = self.expr()?;
                self.scope.insert(var.clone());
                let body = self.loop_body()?;
                StmtKind::For { var, list, body }
            }
            "if" => self.if_statement()?,
            "else" => {
                return Err(self.expected("a statement (`else` must follow the `}` of an `if`)"))
            }
            "sleep" => {
                if self.ctx.irq {
                    return Err(
                        self.expected("an interrupt-context action (an `at` block cannot sleep)")
                    );
                }
                self.advance();
                if matches!(&self.peek().tok, Tok::Ident(w) if w == "until") {
                    self.advance();
                    StmtKind::SleepUntil(self.expr()?)
                } else {
                    StmtKind::Sleep(self.expr()?)
                }
            }
            "thread" | "fork" => {
                if self.ctx.irq {
                    return Err(self.expected(
                        "an interrupt-context action (an `at` block cannot create tasks)",
                    ));
                }
                let is_thread = word == "thread";
                self.advance();
                let name = self.task_name(true)?;
                let cpu = self.pin()?;
                let body = self.body(false)?;
                if is_thread {
                    StmtKind::Thread { name, cpu, body }
                } else {
                    StmtKind::Fork { name, cpu, body }
                }
            }
            "at" => {
                if self.ctx.irq {
                    return Err(
                        self.expected("an interrupt-context action (`at` blocks do not nest)")
                    );
                }
                self.advance();
                let time = self.expr()?;
                let cpu = self.pin()?;
                let body = self.body(true)?;
                StmtKind::At { time, cpu, body }
            }
            "note" => {
                self.advance();
                StmtKind::Note(self.expr()?)
            }
            "break" | "continue" => {
                if self.ctx.loops == 0 {
                    return Err(self.expected(&format!(
                        "a statement (`{word}` belongs inside repeat, until or for)"
                    )));
                }
                self.advance();
                if word == "break" {
                    StmtKind::Break
                } else {
                    StmtKind::Continue
                }
            }
            name if self.peek_at(1).is_punct("(") => {
                if SyscallName::parse(name).is_some() {
                    if self.ctx.irq {
                        return Err(self.expected(
                            "an interrupt-context action (deliver, remote_shutdown, remote_error, signal, note): system calls run in tasks, not in `at` blocks",
                        ));
                    }
                    let call = self.syscall()?;
                    StmtKind::Syscall {
                        target: None,
                        call,
                        text: self.statement_text(start),
                    }
                } else if IrqName::parse(name).is_some() {
                    if !self.ctx.irq {
                        return Err(self.expected(&format!(
                            "{STATEMENTS}: `{name}` is an interrupt-context action, allowed only inside an `at` block"
                        )));
                    }
                    let (name, args, task) = self.irq_call()?;
                    StmtKind::Irq(IrqCall {
                        name,
                        args,
                        task,
                        text: self.statement_text(start),
                    })
                } else if Builtin::parse(name).is_some() {
                    return Err(self.expected(&format!(
                        "{STATEMENTS}: `{name}(...)` computes a value; assign it (`x = {name}(...)`)"
                    )));
                } else {
                    return Err(
                        self.expected(&format!("{STATEMENTS}: there is no system call `{name}`"))
                    );
                }
            }
            _ if self.peek_at(1).is_punct("=") || self.peek_at(1).is_punct("[") => {
                self.assignment(start)?
            }
            _ => return Err(self.expected(STATEMENTS)),
        };
        Ok(Stmt {
            kind,
            span: self.span_from(start),
        })
    }

    /// The statement's text as written, on one line.
    fn statement_text(&self, start: Span) -> String {
        let end = self.previous_end().max(start.start);
        let raw = &self.text[start.start..end];
        let mut out = String::with_capacity(raw.len());
        // A lone `\r` breaks a line on a terminal too.
        let mut lines = raw.split(['\n', '\r']);
        if let Some(first) = lines.next() {
            out.push_str(first.trim_end());
        }
        for line in lines.map(str::trim).filter(|l| !l.is_empty()) {
            if !(out.ends_with('(')
                || out.ends_with('[')
                || line.starts_with(')')
                || line.starts_with(']'))
            {
                out.push(' ');
            }
            out.push_str(line);
        }
        out
    }

    /// Names that a variable may not take.
    fn check_new_name(&self, name: &str, span: Span) -> R<()> {
        let why = if KEYWORDS.contains(&name) {
            "a keyword"
        } else if constant(name).is_some() || special(name).is_some() {
            "a built-in constant"
        } else if SyscallName::parse(name).is_some() {
            "a system call"
        } else if IrqName::parse(name).is_some() || Builtin::parse(name).is_some() {
            "a built-in function"
        } else {
            return Ok(());
        };
        Err(self.error_span(
            span,
            format!("found `{name}`, which is {why}, expected a name of your own"),
        ))
    }

    fn assignment(&mut self, start: Span) -> R<StmtKind> {
        let (name, span) = self.ident("a variable name")?;
        self.check_new_name(&name, span)?;
        let mut indices = Vec::new();
        while self.eat_punct("[") {
            self.skip_newlines();
            indices.push(self.expr()?);
            self.skip_newlines();
            self.expect_punct("]", "`]` to close the index")?;
        }
        if !indices.is_empty() && !self.scope.contains(&name) {
            return Err(self.error_span(
                span,
                format!("found `{name}[...]`, expected a variable assigned before this point (e.g. `{name} = array(10)`)"),
            ));
        }
        self.expect_punct("=", "`=`")?;
        let target = Place { name, indices };
        let is_call = matches!(&self.peek().tok, Tok::Ident(n) if SyscallName::parse(n).is_some())
            && self.peek_at(1).is_punct("(");
        let kind = if is_call {
            if self.ctx.irq {
                return Err(
                    self.expected("an expression (system calls run in tasks, not in `at` blocks)")
                );
            }
            let call = self.syscall()?;
            StmtKind::Syscall {
                target: Some(target.clone()),
                call,
                text: self.statement_text(start),
            }
        } else {
            let value = self.expr()?;
            StmtKind::Assign {
                target: target.clone(),
                value,
            }
        };
        self.scope.insert(target.name);
        Ok(kind)
    }

    fn expect_statement(&mut self) -> R<StmtKind> {
        self.advance();
        let token = self.peek().clone();
        if let Tok::Ident(word) = &token.tok {
            let ends = matches!(self.peek_at(1).tok, Tok::Newline | Tok::Eof)
                || self.peek_at(1).is_punct("}");
            if word == "ok" && ends {
                self.advance();
                return Ok(StmtKind::Expect(Expectation::Ok));
            }
            if ends {
                if let Some(errno) = Errno::parse(word) {
                    self.advance();
                    return Ok(StmtKind::Expect(Expectation::Errno(errno)));
                }
            }
            if (word == "report" || word == "no" || word == "blocked") && !self.scope.contains(word)
            {
                return Err(self.expected(
                    "a condition, `ok` or an errno: `expect report ...`, `expect no reports` and `expect blocked ...` are header lines, outside processes",
                ));
            }
        }
        let start = Self::span_of(&token);
        let expr = self.expr()?;
        let text = self.statement_text(start);
        Ok(StmtKind::Expect(Expectation::Cond { expr, text }))
    }

    /// `if C { ... } else if C { ... } else { ... }`: the `else if` arms in one flat list,
    /// however many there are.
    fn if_statement(&mut self) -> R<StmtKind> {
        let mut arms = Vec::new();
        loop {
            self.advance();
            let cond = self.expr()?;
            let then = self.block()?;
            arms.push((cond, then));
            // `else` may follow on the same line or the next.
            let mut look = 0;
            while self.peek_at(look).tok == Tok::Newline {
                look += 1;
            }
            if !self.peek_at(look).is_ident("else") {
                return Ok(StmtKind::If {
                    arms,
                    otherwise: None,
                });
            }
            for _ in 0..=look {
                self.advance();
            }
            if !self.peek().is_ident("if") {
                let otherwise = self.block()?;
                return Ok(StmtKind::If {
                    arms,
                    otherwise: Some(otherwise),
                });
            }
        }
    }

    /// `on cpu EXPR` or nothing.
    fn pin(&mut self) -> R<Option<Expr>> {
        if !self.eat_ident("on") {
            return Ok(None);
        }
        self.expect_ident("cpu", "`cpu` (as in `on cpu 1`)")?;
        Ok(Some(self.expr()?))
    }

    /// `NAME` or `NAME[index]`; `declare` for thread and fork statements.
    fn task_name(&mut self, declare: bool) -> R<TaskName> {
        let (name, span) = self.ident("a task name")?;
        let index = if self.eat_punct("[") {
            let index = self.expr()?;
            self.expect_punct("]", "`]` to close the task's index")?;
            Some(index)
        } else {
            None
        };
        if declare {
            if KEYWORDS.contains(&name.as_str()) {
                return Err(self.error_span(
                    span,
                    format!("found `{name}`, which is a keyword, expected a task name"),
                ));
            }
            self.declare(&name, span, index.is_some())?;
        } else {
            self.task_refs.push((name.clone(), span));
        }
        Ok(TaskName { name, index })
    }

    /// Declares a task name: a task's, or a thread's or forked child's. Names are unique:
    /// a name without an index may be declared once; `worker[i]` may be declared again
    /// (`worker[0]`, `worker[1]`, ...: the run checks that each index is new), but not
    /// beside a plain `worker`.
    fn declare(&mut self, name: &str, span: Span, indexed: bool) -> R<()> {
        let known = self.task_names.iter().any(|n| n == name);
        let first = match self.declared.get(name) {
            Some((line, col)) => Some(format!("the first is at {line}:{col}")),
            None if known && !indexed => Some("it names threads made with an index".into()),
            None => None,
        };
        if let Some(first) = first {
            return Err(self.error_span(
                span,
                format!("found `{name}` again, expected a new task name ({first})"),
            ));
        }
        if !indexed {
            self.declared
                .insert(name.to_string(), (span.line, span.col));
        }
        if !known {
            self.task_names.push(name.to_string());
        }
        Ok(())
    }

    /// A scenario with no task and no interrupt (empty, only comments, only header
    /// lines) has nothing to run: an error, not a run that trivially passes.
    fn something_to_run(&self) -> R<()> {
        let tasks: usize = self.parsed.processes.iter().map(|p| p.tasks.len()).sum();
        if tasks > 0 || !self.parsed.interrupts.is_empty() {
            return Ok(());
        }
        let end = &self.tokens[self.tokens.len() - 1];
        Err(self.error_at(
            end,
            "found end of file, expected `process NAME { task NAME { ... } }`: the scenario has no task, so nothing to run".into(),
        ))
    }

    fn call_args(&mut self, allow_bytes: bool) -> R<Vec<Expr>> {
        let open = self.expect_punct("(", "`(`")?;
        self.enter()?;
        let mut args = Vec::new();
        self.skip_newlines();
        if !self.eat_punct(")") {
            loop {
                self.skip_newlines();
                let start = Self::span_of(self.peek());
                let mut arg = self.expr()?;
                if allow_bytes && self.peek().is_ident("bytes") {
                    self.advance();
                    arg = Expr {
                        kind: ExprKind::Bytes(Box::new(arg)),
                        span: self.span_from(start),
                    };
                }
                args.push(arg);
                self.skip_newlines();
                if self.eat_punct(")") {
                    break;
                }
                if self.peek().tok == Tok::Eof {
                    return Err(self.expected(&format!(
                        "`)` to close the `(` at {}:{}",
                        open.line, open.col
                    )));
                }
                self.expect_punct(",", "`,` or `)`")?;
            }
        }
        self.leave();
        Ok(args)
    }

    fn arity(&self, name: &str, at: Span, count: usize, lo: usize, hi: usize) -> R<()> {
        if count >= lo && count <= hi {
            return Ok(());
        }
        let takes = if lo == hi {
            format!("{lo} argument{}", if lo == 1 { "" } else { "s" })
        } else {
            format!("{lo} to {hi} arguments")
        };
        Err(self.error_span(
            at,
            format!(
                "found {name}() with {count} argument{}, expected {takes}",
                if count == 1 { "" } else { "s" }
            ),
        ))
    }

    fn syscall(&mut self) -> R<Syscall> {
        let Tok::Ident(name) = &self.peek().tok else {
            unreachable!("checked by the caller")
        };
        let (which, lo, hi) = SyscallName::parse(name).expect("checked by the caller");
        let name = which.name();
        let start = self.advance();
        let (args, task) = if matches!(which, SyscallName::Kill | SyscallName::Join) {
            let open = self.expect_punct("(", "`(`")?;
            let task = self.task_name(false)?;
            if !self.peek().is_punct(")") {
                return Err(self.expected(&format!(
                    "`)` to close the `(` at {}:{}: {name} takes one task name, as in `{name}(waiter)`",
                    open.line, open.col
                )));
            }
            self.advance();
            (Vec::new(), Some(task))
        } else {
            let args = self.call_args(which == SyscallName::Write)?;
            self.arity(name, start, args.len(), lo, hi)?;
            (args, None)
        };
        Ok(Syscall {
            name: which,
            args,
            task,
            span: self.span_from(start),
        })
    }

    fn irq_call(&mut self) -> R<(IrqName, Vec<Expr>, Option<TaskName>)> {
        let Tok::Ident(name) = &self.peek().tok else {
            unreachable!("checked by the caller")
        };
        let (which, lo, hi) = IrqName::parse(name).expect("checked by the caller");
        let name = which.name();
        let start = self.advance();
        if which == IrqName::Signal {
            let open = self.expect_punct("(", "`(`")?;
            let task = self.task_name(false)?;
            if !self.peek().is_punct(")") {
                return Err(self.expected(&format!(
                    "`)` to close the `(` at {}:{}: signal takes one task name, as in `signal(waiter)`",
                    open.line, open.col
                )));
            }
            self.advance();
            return Ok((which, Vec::new(), Some(task)));
        }
        let args = self.call_args(which == IrqName::Deliver)?;
        self.arity(name, start, args.len(), lo, hi)?;
        Ok((which, args, None))
    }

    // ---- expressions -------------------------------------------------------------------

    fn expr(&mut self) -> R<Expr> {
        self.enter()?;
        let e = self.binary(0);
        self.leave();
        e
    }

    fn binary(&mut self, level: usize) -> R<Expr> {
        const LEVELS: &[&[(&str, BinOp)]] = &[
            &[("||", BinOp::LogOr)],
            &[("&&", BinOp::LogAnd)],
            &[
                ("==", BinOp::Eq),
                ("!=", BinOp::Ne),
                ("<=", BinOp::Le),
                (">=", BinOp::Ge),
                ("<", BinOp::Lt),
                (">", BinOp::Gt),
            ],
            &[("|", BinOp::Or)],
            &[("^", BinOp::Xor)],
            &[("&", BinOp::And)],
            &[("<<", BinOp::Shl), (">>", BinOp::Shr)],
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Rem)],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let start = Self::span_of(self.peek());
        let first = self.binary(level + 1)?;
        // What ends most operands (a newline, `,`, `)`, a name) is no operator: no level
        // need look at it. `in` is the one word that continues an expression.
        if !matches!(self.peek().tok, Tok::Punct(_)) && !self.peek().is_ident("in") {
            return Ok(first);
        }
        if level == COMPARISONS {
            return self.comparison(first, start, LEVELS[level]);
        }
        // Left to right in a flat list, however long the chain.
        let mut links = Vec::new();
        while let Some(&(_, op)) = LEVELS[level].iter().find(|(p, _)| self.peek().is_punct(p)) {
            let at = self.advance();
            self.skip_newlines();
            let operand = self.binary(level + 1)?;
            links.push(Link { op, at, operand });
        }
        if links.is_empty() {
            return Ok(first);
        }
        Ok(Expr {
            kind: ExprKind::Chain(Box::new(first), links),
            span: self.span_from(start),
        })
    }

    /// What may follow the left side of a comparison: one comparison, `in { ... }`, or
    /// nothing. Comparisons do not chain: `a < b < c` is an error.
    fn comparison(&mut self, lhs: Expr, start: Span, operators: &[(&str, BinOp)]) -> R<Expr> {
        if self.peek().is_ident("in") {
            self.advance();
            let items = self.set()?;
            return Ok(Expr {
                kind: ExprKind::In(Box::new(lhs), items),
                span: self.span_from(start),
            });
        }
        let Some(&(_, op)) = operators.iter().find(|(p, _)| self.peek().is_punct(p)) else {
            return Ok(lhs);
        };
        self.advance();
        self.skip_newlines();
        let rhs = self.binary(COMPARISONS + 1)?;
        if operators.iter().any(|(p, _)| self.peek().is_punct(p)) {
            return Err(self.expected("end of the comparison (comparisons do not chain; use `&&`)"));
        }
        Ok(Expr {
            kind: ExprKind::Compare(op, Box::new(lhs), Box::new(rhs)),
            span: self.span_from(start),
        })
    }

    /// `{ a, b, ... }` after `in`.
    fn set(&mut self) -> R<Vec<Expr>> {
        let open = self.expect_punct("{", "`{` and the allowed values (as in `n in {0, 1}`)")?;
        self.enter()?;
        let mut items = Vec::new();
        self.skip_newlines();
        if !self.eat_punct("}") {
            loop {
                self.skip_newlines();
                items.push(self.expr()?);
                self.skip_newlines();
                if self.eat_punct("}") {
                    break;
                }
                if self.peek().tok == Tok::Eof {
                    return Err(self.expected(&format!(
                        "`}}` to close the `{{` at {}:{}",
                        open.line, open.col
                    )));
                }
                self.expect_punct(",", "`,` or `}`")?;
            }
        }
        self.leave();
        Ok(items)
    }

    fn unary(&mut self) -> R<Expr> {
        let start = Self::span_of(self.peek());
        let op = if self.peek().is_punct("-") {
            Some(UnOp::Neg)
        } else if self.peek().is_punct("!") {
            Some(UnOp::Not)
        } else if self.peek().is_punct("~") {
            Some(UnOp::BitNot)
        } else {
            None
        };
        if let Some(op) = op {
            self.advance();
            self.enter()?;
            let operand = self.unary();
            self.leave();
            let operand = operand?;
            // Fold `-5` so that negative literals stay literals.
            if let (UnOp::Neg, ExprKind::Int(v)) = (op, &operand.kind) {
                let span = self.span_from(start);
                let Some(negated) = v.checked_neg() else {
                    return Err(self.error_span(
                        span,
                        format!(
                            "found `{}`, expected a number that fits in 64 bits (at most {})",
                            self.text.get(span.start..span.end).unwrap_or("?"),
                            i64::MAX
                        ),
                    ));
                };
                return Ok(Expr {
                    kind: ExprKind::Int(negated),
                    span,
                });
            }
            return Ok(Expr {
                kind: ExprKind::Unary(op, Box::new(operand)),
                span: self.span_from(start),
            });
        }
        self.postfix()
    }

    /// A primary and its fields and indices. Each `.f` or `[i]` counts as a level of
    /// nesting: the tree they make is as deep as the chain is long.
    fn postfix(&mut self) -> R<Expr> {
        let start = Self::span_of(self.peek());
        let e = self.primary()?;
        let mut links = 0;
        let e = self.postfix_links(e, start, &mut links);
        for _ in 0..links {
            self.leave();
        }
        e
    }

    fn postfix_links(&mut self, mut e: Expr, start: Span, links: &mut usize) -> R<Expr> {
        loop {
            if self.peek().is_punct(".") || self.peek().is_punct("[") {
                self.enter()?;
                *links += 1;
            }
            if self.eat_punct(".") {
                let what =
                    "a field: .r or .w (pipe), .a or .b (socketpair), .events or .data (event)";
                let (field, span) = match &self.peek().tok {
                    Tok::Ident(f) if FIELDS.contains(&f.as_str()) => {
                        let f = f.clone();
                        (f, self.advance())
                    }
                    _ => return Err(self.expected(what)),
                };
                let _ = span;
                e = Expr {
                    kind: ExprKind::Field(Box::new(e), field),
                    span: self.span_from(start),
                };
            } else if self.eat_punct("[") {
                self.skip_newlines();
                let index = self.expr()?;
                self.skip_newlines();
                self.expect_punct("]", "`]` to close the index")?;
                e = Expr {
                    kind: ExprKind::Index(Box::new(e), Box::new(index)),
                    span: self.span_from(start),
                };
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> R<Expr> {
        let token = self.peek().clone();
        let start = Self::span_of(&token);
        let kind = match &token.tok {
            Tok::Int(v) => {
                self.advance();
                ExprKind::Int(*v)
            }
            Tok::Str(bytes) => {
                self.advance();
                ExprKind::Str(bytes.clone())
            }
            Tok::DigitWord(_) => return Err(self.not_a_number()),
            Tok::Punct("(") => {
                self.advance();
                self.skip_newlines();
                let inner = self.expr()?;
                self.skip_newlines();
                if !self.peek().is_punct(")") {
                    return Err(self.expected(&format!(
                        "`)` to close the `(` at {}:{}",
                        token.line, token.col
                    )));
                }
                self.advance();
                return Ok(Expr {
                    kind: inner.kind,
                    span: self.span_from(start),
                });
            }
            Tok::Punct("[") => {
                self.advance();
                self.enter()?;
                let mut items = Vec::new();
                self.skip_newlines();
                if !self.eat_punct("]") {
                    loop {
                        self.skip_newlines();
                        let item_start = Self::span_of(self.peek());
                        let mut item = self.expr()?;
                        if self.eat_punct(":") {
                            let data = self.expr()?;
                            item = Expr {
                                kind: ExprKind::Event(Box::new(item), Box::new(data)),
                                span: self.span_from(item_start),
                            };
                        }
                        items.push(item);
                        self.skip_newlines();
                        if self.eat_punct("]") {
                            break;
                        }
                        if self.peek().tok == Tok::Eof {
                            return Err(self.expected(&format!(
                                "`]` to close the `[` at {}:{}",
                                token.line, token.col
                            )));
                        }
                        self.expect_punct(",", "`,` or `]`")?;
                    }
                }
                self.leave();
                ExprKind::List(items)
            }
            Tok::Ident(name) => {
                let name = name.clone();
                let call = self.peek_at(1).is_punct("(");
                if call {
                    if let Some((builtin, lo, hi)) = Builtin::parse(&name) {
                        self.advance();
                        let args = self.call_args(false)?;
                        self.arity(&name, Self::span_of(&token), args.len(), lo, hi)?;
                        return Ok(Expr {
                            kind: ExprKind::Call(builtin, args),
                            span: self.span_from(start),
                        });
                    }
                    if SyscallName::parse(&name).is_some() {
                        return Err(self.expected(&format!(
                            "an expression: system calls are statements, assign the result first (`x = {name}(...)`)"
                        )));
                    }
                    if IrqName::parse(&name).is_some() {
                        return Err(self.expected(&format!(
                            "an expression: `{name}(...)` is an action of an `at` block, not a value"
                        )));
                    }
                }
                if name == "true" || name == "false" {
                    self.advance();
                    ExprKind::Int((name == "true") as i64)
                } else if let Some(value) = constant(&name) {
                    self.advance();
                    ExprKind::Const(name, value)
                } else if let Some(s) = special(&name) {
                    self.advance();
                    ExprKind::Special(s)
                } else if KEYWORDS.contains(&name.as_str()) {
                    return Err(self.expected("an expression"));
                } else if self.scope.contains(&name) {
                    self.advance();
                    ExprKind::Var(name)
                } else if call {
                    return Err(self.expected(
                        "an expression: there is no function by that name (built-ins: random, len, array, u64, as_u64, sorted, now, min, max, sent, FAULT_AT)",
                    ));
                } else {
                    return Err(self.expected(
                        "an expression: a variable assigned before this point, a number, or a constant such as EPOLLIN or EAGAIN",
                    ));
                }
            }
            _ => return Err(self.expected("an expression")),
        };
        Ok(Expr {
            kind,
            span: self.span_from(start),
        })
    }
}

/// Evaluates an expression made of numbers and constants only: `Ok(None)` if it has
/// anything else (a variable, a call, a comparison), an error (where, and what went
/// wrong) if its arithmetic overflows or divides by zero.
pub fn const_eval(expr: &Expr) -> Result<Option<i64>, (Span, String)> {
    Ok(Some(match &expr.kind {
        ExprKind::Int(v) | ExprKind::Const(_, v) => *v,
        ExprKind::Unary(op, e) => {
            let Some(v) = const_eval(e)? else {
                return Ok(None);
            };
            match op {
                UnOp::Neg => v.checked_neg().ok_or_else(|| {
                    (
                        expr.span,
                        format!("integer overflow: -({v}) does not fit in 64 bits"),
                    )
                })?,
                UnOp::BitNot => !v,
                UnOp::Not => (v == 0) as i64,
            }
        }
        ExprKind::Chain(first, links) => {
            let Some(mut value) = const_eval(first)? else {
                return Ok(None);
            };
            for link in links {
                if matches!(link.op, BinOp::LogAnd | BinOp::LogOr) {
                    return Ok(None);
                }
                let Some(operand) = const_eval(&link.operand)? else {
                    return Ok(None);
                };
                value = arithmetic(link.op, value, operand).map_err(|e| (link.at, e))?;
            }
            value
        }
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error names file:line:col, what was found and what was expected.
    #[test]
    fn each_error_message() {
        let cases: &[(&str, &str)] = &[
        ("bogus 1", "t.scn:1:1: found `bogus`, expected a header line (scenario, description, cpus, kernel, model, granularity, strategy, seed, hz, max steps, fail alloc, inject, expect), `process` or `at`"),
        ("task x { }", "t.scn:1:1: found `task`, expected a header line, `process` or `at` (a `task` goes inside `process NAME { ... }`)"),
        ("cpus 2\ncpus 3", "t.scn:2:1: found a second `cpus` line, expected each header line once (the first is at 1:1)"),
        ("cpus 0", "t.scn:1:6: found 0, expected a number of CPUs from 1 to 64"),
        ("cpus x", "t.scn:1:6: found `x`, expected the number of CPUs"),
        ("kernel 2.6.23", "t.scn:1:8: found `2.6.23`, expected a kernel version: 6192bd536f96 (seed), 2.6.21, 2.6.22, 6.18 (modern)"),
        ("model weak", "t.scn:1:7: found `weak`, expected a memory model: sc, tso or pso"),
        ("granularity step", "t.scn:1:13: found `step`, expected a granularity: syscall, lock or access"),
        ("strategy replay", "t.scn:1:10: found `replay`, expected a strategy: timed, random, pct, round-robin or dfs"),
        ("hz 0", "t.scn:1:4: found 0, expected a timer frequency from 1 to 10000"),
        ("max steps 0", "t.scn:1:11: found 0, expected a step budget of at least 1"),
        ("max 5", "t.scn:1:5: found number `5`, expected `steps` (as in `max steps 100000`)"),
        ("fail alloc dentry nth 1", "t.scn:1:12: found `dentry`, expected an allocation class: eventpoll, epitem, eppoll_entry, pipe_inode_info, eventfd_ctx, sock_inode_cache, UNIX, TCP, skbuff_head_cache"),
        ("fail alloc epitem nth 0", "t.scn:1:23: found 0, expected which allocation fails, counting from 1"),
        ("fail epitem", "t.scn:1:6: found `epitem`, expected `alloc` (as in `fail alloc epitem nth 2`)"),
        ("inject no-such-thing", "t.scn:1:8: found `no-such-thing`, expected an injection: no-linked-check, no-smp-mb, no-reinject-wakeup, lock-without-irqsave, ctl-without-sem, steal-without-lock, no-pwake-deferral, unhook-under-lock"),
        ("expect report nothing", "t.scn:1:15: found `nothing`, expected a report kind: list-corruption, orphaned-item, use-after-free, double-free, lock-order, sleep-in-atomic, irq-unsafe-lock, deadlock, livelock, step-budget, lost-wakeup, leak, expectation, bad-unlock"),
        ("expect something", "t.scn:1:8: found `something`, expected `report KIND`, `no reports` or `blocked TASK` (task expectations go inside a task)"),
        ("expect no report", "t.scn:1:11: found `report`, expected `reports` (as in `expect no reports`)"),
        ("expect blocked ghost\nprocess a { task main { } }", "t.scn:1:16: found `ghost`, expected the name of a task or thread (main)"),
        ("description nope", "t.scn:1:13: found `nope`, expected a one-line description in quotes"),
        ("process app { }", "t.scn:1:9: found process `app` without tasks, expected at least one `task NAME { ... }`"),
        ("process app { task main { } }\nprocess app { task other { } }", "t.scn:2:9: found `app` again, expected a new process name"),
        ("process app { thread x { } }", "t.scn:1:15: found `thread`, expected `task NAME { ... }` or `}`"),
        ("process app { task main { }", "t.scn:1:28: found end of file, expected `}` to close the process opened at 1:13"),
        ("process c fork of ghost { task main { } }", "t.scn:1:19: found `ghost`, expected the name of a process declared above"),
        ("process app { task main on cpu 2 { } }", "t.scn:1:15: found task `main` on cpu 2, expected a CPU below 2 (add `cpus 3` to the header)"),
        ("cpus 4\nprocess app { task main on cpu 64 { } }", "t.scn:2:32: found cpu 64, expected a CPU number from 0 to 63"),
        ("process app { task main on cpu n { } }", "t.scn:1:32: found `n`, expected a CPU number (tasks declared in a process are pinned to a constant CPU)"),
        ("process app { task main { x = } }", "t.scn:1:31: found `}`, expected an expression"),
        ("process app { task main { x = y } }", "t.scn:1:31: found `y`, expected an expression: a variable assigned before this point, a number, or a constant such as EPOLLIN or EAGAIN"),
        ("process app { task main { EPOLLIN = 1 } }", "t.scn:1:27: found `EPOLLIN`, which is a built-in constant, expected a name of your own"),
        ("process app { task main { pipe = 1 } }", "t.scn:1:27: found `pipe`, which is a system call, expected a name of your own"),
        ("process app { task main { repeat = 1 } }", "t.scn:1:34: found `=`, expected an expression"),
        ("process app { task main { a[0] = 1 } }", "t.scn:1:27: found `a[...]`, expected a variable assigned before this point (e.g. `a = array(10)`)"),
        ("process app { task main { epoll_ctl(1, 2) } }", "t.scn:1:27: found epoll_ctl() with 2 arguments, expected 3 to 5 arguments"),
        ("process app { task main { frobnicate(1) } }", "t.scn:1:27: found `frobnicate`, expected a statement (a system call, `name = ...`, expect, repeat, until, for, if, sleep, thread, fork, at, note): there is no system call `frobnicate`"),
        ("process app { task main { n = 1 + read(3, 1) } }", "t.scn:1:35: found `read`, expected an expression: system calls are statements, assign the result first (`x = read(...)`)"),
        ("process app { task main { deliver(1, \"x\") } }", "t.scn:1:27: found `deliver`, expected a statement (a system call, `name = ...`, expect, repeat, until, for, if, sleep, thread, fork, at, note): `deliver` is an interrupt-context action, allowed only inside an `at` block"),
        ("process app { task main { at 1ms { x = read(3, 1) } } }", "t.scn:1:40: found `read`, expected an expression (system calls run in tasks, not in `at` blocks)"),
        ("process app { task main { at 1ms { read(3, 1) } } }", "t.scn:1:36: found `read`, expected an interrupt-context action (deliver, remote_shutdown, remote_error, signal, note): system calls run in tasks, not in `at` blocks"),
        ("process app { task main { at 1ms { sleep 1ms } } }", "t.scn:1:36: found `sleep`, expected an interrupt-context action (an `at` block cannot sleep)"),
        ("process app { task main { at 1ms { thread t { } } } }", "t.scn:1:36: found `thread`, expected an interrupt-context action (an `at` block cannot create tasks)"),
        ("process app { task main { break } }", "t.scn:1:27: found `break`, expected a statement (`break` belongs inside repeat, until or for)"),
        ("process app { task main { else { } } }", "t.scn:1:27: found `else`, expected a statement (`else` must follow the `}` of an `if`)"),
        ("process app { task main { x = 1 2 } }", "t.scn:1:33: found number `2`, expected end of line (one statement per line, or `;` between)"),
        ("process app { task main { x = (1 + 2 } }", "t.scn:1:38: found `}`, expected `)` to close the `(` at 1:31"),
        ("process app { task main { x = [1, 2 } }", "t.scn:1:37: found `}`, expected `,` or `]`"),
        ("process app { task main { x = 1 < 2 < 3 } }", "t.scn:1:37: found `<`, expected end of the comparison (comparisons do not chain; use `&&`)"),
        ("process app { task main { x = 1 in [1] } }", "t.scn:1:36: found `[`, expected `{` and the allowed values (as in `n in {0, 1}`)"),
        ("process app { task main { p = pipe()\n x = p.q } }", "t.scn:2:8: found `q`, expected a field: .r or .w (pipe), .a or .b (socketpair), .events or .data (event)"),
        ("process app { task main { x = random(1, 2) } }", "t.scn:1:31: found random() with 2 arguments, expected 1 argument"),
        ("process app { task main { kill(ghost) } }", "t.scn:1:32: found `ghost`, expected the name of a task or thread (main)"),
        ("process app { task main { kill(1) } }", "t.scn:1:32: found number `1`, expected a task name"),
        ("process app { task main { expect report lost-wakeup } }", "t.scn:1:34: found `report`, expected a condition, `ok` or an errno: `expect report ...`, `expect no reports` and `expect blocked ...` are header lines, outside processes"),
        ("process app { task main { x = nosuch(1) } }", "t.scn:1:31: found `nosuch`, expected an expression: there is no function by that name (built-ins: random, len, array, u64, as_u64, sorted, now, min, max, sent, FAULT_AT)"),
        ("process app { task main { random(3) } }", "t.scn:1:27: found `random`, expected a statement (a system call, `name = ...`, expect, repeat, until, for, if, sleep, thread, fork, at, note): `random(...)` computes a value; assign it (`x = random(...)`)"),
        ("process app { task main { for 3 in x { } } }", "t.scn:1:31: found number `3`, expected a loop variable name (as in `for e in evs`)"),
        ("process app { task main { x = 1\n for e of x { } } }", "t.scn:2:8: found `of`, expected `in` (as in `for e in evs`)"),
        ("process app { task main { repeat 3 as EPOLLIN { } } }", "t.scn:1:39: found `EPOLLIN`, which is a built-in constant, expected a name of your own"),
        ("process app { task main { x = 1 } } junk", "t.scn:1:37: found `junk`, expected end of line"),
        ("at n { }", "t.scn:1:4: found `n`, expected a virtual time such as `5ms` (a top-level `at` has no variables)"),
        ("at -1 { }", "t.scn:1:4: found time -1, expected a virtual time of 0 or more (e.g. `5ms`)"),
        ("process app { task main { thread repeat { } } }", "t.scn:1:34: found `repeat`, which is a keyword, expected a task name"),
        ("process app { task main { x = ((((((((((((((((((((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))))))))))))))))))) } }", "t.scn:1:78: found `(`, expected at most 48 levels of nesting (blocks, parentheses, lists, indices, fields)"),
        ("process app { task main { x = 1 +\n } }", "t.scn:2:2: found `}`, expected an expression"),
        ("process app { task main { x = 1 }", "t.scn:1:34: found end of file, expected `}` to close the process opened at 1:13"),
        ("process app {\n  task main { }\n  task main { }\n}", "t.scn:3:8: found `main` again, expected a new task name (the first is at 2:8)"),
        // Nothing to run.
        ("", "t.scn:1:1: found end of file, expected `process NAME { task NAME { ... } }`: the scenario has no task, so nothing to run"),
        (" \t\n\n  ", "t.scn:3:3: found end of file, expected `process NAME { task NAME { ... } }`: the scenario has no task, so nothing to run"),
        ("# only\n# comments", "t.scn:2:11: found end of file, expected `process NAME { task NAME { ... } }`: the scenario has no task, so nothing to run"),
        ("cpus 2\nseed 3\n", "t.scn:3:1: found end of file, expected `process NAME { task NAME { ... } }`: the scenario has no task, so nothing to run"),
        // Numbers: literals that do not fit are errors where they are written.
        ("process app { task main { x = 9223372036854775808 } }", "t.scn:1:31: found `9223372036854775808`, expected a number that fits in 64 bits (at most 9223372036854775807)"),
        ("process app { task main { x = 18446744073709551615 } }", "t.scn:1:31: found `18446744073709551615`, expected a number that fits in 64 bits (at most 9223372036854775807)"),
        ("cpus 18446744073709551615", "t.scn:1:6: found `18446744073709551615`, expected a number that fits in 64 bits (at most 9223372036854775807)"),
        ("seed 99999999999999999999", "t.scn:1:6: found `99999999999999999999`, expected a number that fits in 64 bits (at most 9223372036854775807)"),
        ("process app { task main { x = -0x8000000000000000 } }", "t.scn:1:31: found `-0x8000000000000000`, expected a number that fits in 64 bits (at most 9223372036854775807)"),
        ("process app { task main { x = 5q } }", "t.scn:1:31: found `5q`, expected a number, or a duration with a unit: ns, us, ms or s (e.g. `5ms`)"),
        ("process app { task main { sleep 99999999999s } }", "t.scn:1:33: found `99999999999s`, expected a duration that fits in 64 bits of nanoseconds"),
        ("process app { task main { x = 0x } }", "t.scn:1:31: found `0x`, expected hex digits after `0x`"),
        ("at 9223372036854775807 + 1 { }", "t.scn:1:24: found integer overflow: 9223372036854775807 + 1 does not fit in 64 bits, expected a constant time (e.g. `5ms`)"),
        ("at 1 << 64 { }", "t.scn:1:6: found shift count out of range: 1 << 64 (a shift count is 0 to 63), expected a constant time (e.g. `5ms`)"),
        ("at 1 / 0 { }", "t.scn:1:6: found division by zero: 1 / 0, expected a constant time (e.g. `5ms`)"),
        ("process app { task main on cpu 3 * 0x4000000000000000 { } }", "t.scn:1:34: found integer overflow: 3 * 4611686018427387904 does not fit in 64 bits, expected a constant CPU number"),
        // Task names are unique.
        ("process app { task main { thread w { }\n thread w { } } }", "t.scn:2:9: found `w` again, expected a new task name (the first is at 1:34)"),
        ("process app { task main { fork main { } } }", "t.scn:1:32: found `main` again, expected a new task name (the first is at 1:20)"),
        ("process app { task main { thread w[1] { }\n fork w { } } }", "t.scn:2:7: found `w` again, expected a new task name (it names threads made with an index)"),
        ("process app { task main { thread w { }\n thread w[1] { } } }", "t.scn:2:9: found `w` again, expected a new task name (the first is at 1:34)"),
        ("process a { task main { } }\nprocess b { task main { } }", "t.scn:2:18: found `main` again, expected a new task name (the first is at 1:18)"),
        ("process app { task main { p = pipe()\n x = p.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.r } }", "t.scn:2:99: found `.`, expected at most 48 levels of nesting (blocks, parentheses, lists, indices, fields)"),
        ];
        let mut wrong = Vec::new();
        for (text, expected) in cases {
            match parse("t.scn", text) {
                Ok(_) => wrong.push(format!("{text:?}: parsed, expected the error {expected:?}")),
                Err(error) if error.to_string() != *expected => {
                    wrong.push(format!("{text:?}:\n   got {error}\n  want {expected}"))
                }
                Err(error) => {
                    assert!(error.message.starts_with("found "), "{error}");
                    assert!(error.message.contains(", expected "), "{error}");
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_scenario_with_every_construct_parses() {
        let text = r#"
            scenario all-of-it          # a name
            description "every construct"
            cpus 2
            kernel 2.6.21
            model sc
            granularity lock
            strategy pct
            seed 7
            hz 250
            max steps 100000
            fail alloc epitem nth 2
            inject no-linked-check
            expect report orphaned-item
            expect no reports
            expect blocked waiter

            process app {
                task main on cpu 0 {
                    ep = epoll_create(1); p = pipe()
                    s = socketpair()
                    e = eventfd(0)
                    net = socket_external()
                    epoll_ctl(ep, EPOLL_CTL_ADD, p.r, EPOLLIN|EPOLLET, 0xffffffffffffffff)
                    epoll_ctl(ep, EPOLL_CTL_DEL, p.r)
                    epoll_ctl(ep, EPOLL_CTL_ADD, s.a, NULL)
                    evs = epoll_wait(ep, 10, -1, NOT_RESIDENT, FAULT_AT(1))
                    evs = epoll_pwait(ep, 10, 0, ALL_SIGNALS, BAD_ADDRESS)
                    n = read(p.r, 10)
                    write(p.w, "x\n"); write(p.w, 3 * 2 bytes); write(e, u64(1))
                    close(p.w); d = dup(p.r); dup2(d, 9)
                    fcntl(p.r, F_SETFL, O_NONBLOCK); fcntl(p.r, F_GETFL)
                    shutdown(s.a, SHUT_WR)
                    f = open("/etc/passwd")
                    expect EAGAIN
                    expect ok
                    expect evs == [EPOLLIN:3, EPOLLIN|EPOLLOUT:4]
                    expect sorted(evs) in {[], [EPOLLIN:1]}
                    expect ret >= 0 && errno != EBADF || !(n < 1)
                    table = array(4, -1)
                    table[0] = 5
                    repeat 3 as i {
                        if i % 2 == 0 { continue } else if i > 5 { break } else {
                            x = (i + 1) * 2 / 3 - 1 | 4 & ~1 ^ 2 << 1 >> 1
                        }
                    }
                    until 10ms {
                        sleep 1ms
                    }
                    for ev in evs {
                        if ev.events & EPOLLIN { n = read(table[ev.data], 1) }
                    }
                    thread waiter on cpu 1 {
                        evs = epoll_wait(ep, 1, -1)
                    }
                    thread worker[2] { kill(waiter) }
                    fork child on cpu 1 { close(p.r) }
                    at 5ms on cpu 1 {
                        deliver(net, "data"); remote_shutdown(net, SHUT_WR)
                        remote_error(net, ECONNRESET); signal(waiter); note "irq"
                    }
                    note "done"
                    y = min(now(), max(random(3), len(evs))) + as_u64(u64(2)) + len(sent(net))
                }
            }
            process other fork of app {
                task t { sleep 1us }
            }
            at 2ms { signal(main) }
        "#;
        let parsed = parse("all.scn", text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.header.name.as_deref(), Some("all-of-it"));
        assert_eq!(parsed.header.cpus, Some(2));
        assert_eq!(parsed.header.kernel, Some(KernelVersion::V2_6_21));
        assert_eq!(parsed.header.hz, Some(250));
        assert_eq!(parsed.header.max_steps, Some(100_000));
        assert_eq!(parsed.header.alloc_failures.len(), 1);
        assert_eq!(parsed.header.injections, vec![Injection::NoLinkedCheck]);
        assert_eq!(parsed.processes.len(), 2);
        assert_eq!(parsed.processes[1].fork_of.as_deref(), Some("app"));
        assert_eq!(parsed.interrupts[0].time_ns, 2_000_000);
    }

    /// Name segments may start with a digit; `worker[i]` may be declared in a loop and
    /// again; an `else if` chain is flat however long; a byte-order mark is skipped.
    #[test]
    fn names_indexed_threads_and_long_else_if_chains_parse() {
        let parsed = parse("t.scn", "\u{feff}scenario check-2cpu-4x\nprocess app { task main {\n repeat 2 as i { thread w[i] { } }\n thread w[2] { } } }").unwrap();
        assert_eq!(parsed.header.name.as_deref(), Some("check-2cpu-4x"));
        let mut text = String::from("process app { task main {\n x = 3\n if x == 0 { y = 0 }");
        for i in 1..5000 {
            text.push_str(&format!(" else if x == {i} {{ y = {i} }}"));
        }
        text.push_str(" else { y = -1 }\n} }");
        let parsed = parse("t.scn", &text).unwrap();
        let StmtKind::If { arms, otherwise } = &parsed.processes[0].tasks[0].body[1].kind else {
            panic!("not an if");
        };
        assert_eq!((arms.len(), otherwise.is_some()), (5000, true));
    }

    /// Constant expressions (pins, top-level times) fold with checked arithmetic.
    #[test]
    fn constants_fold_without_wrapping() {
        let parsed = parse(
            "t.scn",
            "at 1 << 62 { }\nat 3 * 2 - 1 { }\nat 0x7fffffffffffffff { }",
        )
        .unwrap();
        let times: Vec<u64> = parsed.interrupts.iter().map(|a| a.time_ns).collect();
        assert_eq!(times, [1 << 62, 5, i64::MAX as u64]);
    }

    #[test]
    fn statements_keep_their_text_on_one_line() {
        let parsed = parse(
            "t.scn",
            "process a {\n task m {\n  ep = epoll_create(1)\n  epoll_ctl(ep,\n     EPOLL_CTL_ADD,\n     0, EPOLLIN, 1)\n }\n}",
        )
        .unwrap();
        let body = &parsed.processes[0].tasks[0].body;
        let texts: Vec<&str> = body
            .iter()
            .map(|s| match &s.kind {
                StmtKind::Syscall { text, .. } => text.as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(
            texts,
            [
                "ep = epoll_create(1)",
                "epoll_ctl(ep, EPOLL_CTL_ADD, 0, EPOLLIN, 1)"
            ]
        );
    }
}
