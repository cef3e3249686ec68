//! What a run of a scenario produced, as the scenario sees it: each task's system calls
//! in the order they returned, each `expect` evaluated, and which tasks finished — and
//! the checks of the run-level expectations after the run.
//!
//! In-task expectations are checked while the run goes on: a failed one is filed as a
//! report of kind `expectation` (with `file:line:col`) on the machine at once, so that
//! exploration, shrinking and replay see it like any other report. The run-level ones
//! (`expect report KIND`, `expect no reports`, `expect blocked TASK`, and "every task
//! finished") can only be decided after the run: [`Scenario::check_expectations`].

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use kernel_model::poll::mask_to_string;
use kernel_model::{EpollEvent, Errno, Outcome};
use sim::machine::RunEnd;
use sim::{CpuId, Report, ReportKind, TaskId};

use super::Scenario;

/// One system call (or interrupt action) and what it returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallResult {
    /// The task's name (`at 5ms` for an interrupt action).
    pub task: String,
    /// The statement as written, e.g. `evs = epoll_wait(ep, 10, -1)`.
    pub call: String,
    /// The return value: a descriptor, a count, 0, or -1 on error.
    pub ret: i64,
    pub errno: Option<Errno>,
    /// For `epoll_wait`/`epoll_pwait`: the events delivered, in order.
    pub events: Vec<EpollEvent>,
    /// For `read`: the bytes read.
    pub data: Option<Vec<u8>>,
    /// For `pipe`/`socketpair`: the two descriptors made.
    pub fds: Option<[i64; 2]>,
    /// Line of the statement in the scenario.
    pub line: u32,
    /// Virtual time when the call returned (ns, the CPU's clock).
    pub time_ns: u64,
}

impl CallResult {
    /// The same statement of the same task, with the same result (whenever it
    /// returned).
    fn same_as(&self, other: &CallResult) -> bool {
        self.task == other.task
            && self.call == other.call
            && self.line == other.line
            && self.ret == other.ret
            && self.errno == other.errno
            && self.events == other.events
            && self.data == other.data
            && self.fds == other.fds
    }

    /// `3`, `-1 EAGAIN`, `2 [EPOLLIN:3, EPOLLOUT:4]`, `1 "x"`.
    pub fn outcome(&self) -> String {
        let mut out = self.ret.to_string();
        if let Some(errno) = self.errno {
            let _ = write!(out, " {errno}");
        }
        if self.errno.is_none()
            && (self.call.contains("epoll_wait") || self.call.contains("epoll_pwait"))
        {
            let _ = write!(out, " {}", format_events(&self.events));
        }
        if let Some(data) = &self.data {
            let _ = write!(out, " {}", format_bytes(data));
        }
        if let Some([a, b]) = self.fds {
            let _ = write!(out, " [{a}, {b}]");
        }
        out
    }
}

/// `[EPOLLIN:3, EPOLLIN|EPOLLOUT:4]`
pub fn format_events(events: &[EpollEvent]) -> String {
    let items: Vec<String> = events.iter().map(format_event).collect();
    format!("[{}]", items.join(", "))
}

/// `EPOLLIN:3`
pub fn format_event(event: &EpollEvent) -> String {
    format!("{}:{}", mask_to_string(event.events), event.data)
}

/// A byte string as a quoted, escaped literal of the language.
pub fn format_bytes(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

/// One `expect` evaluated in a task (or a scenario error, which fails like one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectationResult {
    pub task: String,
    pub line: u32,
    pub col: u32,
    /// What was expected, as written (`evs == [EPOLLIN:3]`, `EAGAIN`, ...).
    pub text: String,
    pub passed: bool,
    /// For a failure: `file:line:col: ...` — what was expected and what was found.
    pub message: String,
    pub step: u64,
    pub cpu: Option<CpuId>,
    pub task_id: Option<TaskId>,
    /// A failure filed on the machine as it happened (in `outcome.reports()`); false
    /// for one found while building the world, which [`Scenario::check_expectations`]
    /// reports instead.
    pub reported: bool,
}

/// A task the scenario started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRecord {
    pub name: String,
    /// Where the task (or thread, or forked child) is declared.
    pub line: u32,
    pub col: u32,
    pub id: Option<TaskId>,
    /// Its program ran to the end.
    pub finished: bool,
    /// The call it is in, while it is in one (at the end of a run: where it is stuck).
    pub blocked_in: Option<String>,
}

/// Call results a run keeps, counting runs of identical calls as one
/// ([`CallRun`]): past it, calls are counted, not kept, so that a run's memory does not
/// grow with its length (about 25 MB at the limit).
pub const CALL_RUNS_MAX: usize = 100_000;

/// A call and how many times it was made again, right after itself, by the same task
/// with the same result: a loop of identical calls is kept once, with a count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRun {
    /// The first of the calls (its `time_ns` is the first one's).
    pub call: CallResult,
    /// Identical calls that followed it.
    pub repeats: u64,
}

/// Everything recorded in one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Results {
    /// The calls in the order they returned, as runs of identical ones ([`Results::calls`]
    /// lists every call).
    runs: Vec<CallRun>,
    /// Calls made after [`CALL_RUNS_MAX`] runs were kept: counted only.
    calls_not_kept: u64,
    pub expectations: Vec<ExpectationResult>,
    pub tasks: Vec<TaskRecord>,
}

impl Results {
    pub fn passed(&self) -> usize {
        self.expectations.iter().filter(|e| e.passed).count()
    }

    pub fn failed(&self) -> usize {
        self.expectations.iter().filter(|e| !e.passed).count()
    }

    /// Every call kept, in the order they returned (a repeated call once per time).
    pub fn calls(&self) -> impl Iterator<Item = &CallResult> + '_ {
        self.runs
            .iter()
            .flat_map(|run| std::iter::repeat_n(&run.call, run.repeats as usize + 1))
    }

    /// The calls kept, as runs of identical ones.
    pub fn call_runs(&self) -> &[CallRun] {
        &self.runs
    }

    /// Calls made after [`CALL_RUNS_MAX`] runs of them were kept.
    pub fn calls_not_kept(&self) -> u64 {
        self.calls_not_kept
    }

    /// The calls of one task, in order.
    pub fn calls_of<'a>(&'a self, task: &'a str) -> impl Iterator<Item = &'a CallResult> + 'a {
        self.calls().filter(move |c| c.task == task)
    }

    /// Records a call: as one more of the last one if it is the same call by the same
    /// task with the same result.
    /// Once calls are no longer kept, none is (not even as one more of the last kept
    /// run: the calls in between are missing).
    fn push(&mut self, call: CallResult) {
        if self.calls_not_kept > 0 {
            self.calls_not_kept += 1;
            return;
        }
        if let Some(last) = self.runs.last_mut() {
            if last.call.same_as(&call) {
                last.repeats += 1;
                return;
            }
        }
        if self.runs.len() < CALL_RUNS_MAX {
            self.runs.push(CallRun { call, repeats: 0 });
        } else {
            self.calls_not_kept += 1;
        }
    }

    /// One line per kept run of calls, grouped by task in order of first appearance,
    /// with the number of further identical calls: (`main: ep = epoll_create(1) = 3`, 0).
    /// Then, if calls were not kept, a line that says how many.
    pub fn render_runs(&self) -> Vec<(String, u64)> {
        let mut tasks: Vec<&str> = Vec::new();
        for run in &self.runs {
            if !tasks.contains(&run.call.task.as_str()) {
                tasks.push(&run.call.task);
            }
        }
        let mut out = Vec::new();
        for task in tasks {
            for run in self.runs.iter().filter(|r| r.call.task == task) {
                let call = &run.call;
                let line = format!("{task}: {} = {}", call.call, call.outcome());
                out.push((line, run.repeats));
            }
        }
        if self.calls_not_kept > 0 {
            out.push((
                format!(
                    "… and {} more calls, not kept (a run keeps {CALL_RUNS_MAX} runs of identical calls)",
                    self.calls_not_kept
                ),
                0,
            ));
        }
        out
    }

    /// One line per call, grouped by task in order of first appearance:
    /// `main: ep = epoll_create(1) = 3`. Deterministic: what snapshots pin.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (line, repeats) in self.render_runs() {
            for _ in 0..=repeats {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}

/// Collects the results of a run. Cheap to clone (shared); [`Scenario::build`] clears
/// it, so after a run it holds that run's results. Also carries the seed that
/// `random(n)` draws from.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    inner: Rc<RefCell<Results>>,
    seed: u64,
    quiet: bool,
}

impl Recorder {
    /// A recorder whose runs draw `random(n)` from seed 0.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    pub fn with_seed(seed: u64) -> Recorder {
        Recorder {
            seed,
            ..Recorder::default()
        }
    }

    /// Keeps expectations and task states but not the list of calls (for exploration,
    /// where thousands of runs are made and the calls are not shown).
    pub fn quiet(mut self) -> Recorder {
        self.quiet = true;
        self
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn records_calls(&self) -> bool {
        !self.quiet
    }

    /// A copy of what was recorded so far.
    pub fn results(&self) -> Results {
        self.inner.borrow().clone()
    }

    /// What was recorded, taken out (the recorder is left empty): for a run that is over,
    /// without copying every call's result.
    pub fn take_results(&self) -> Results {
        std::mem::take(&mut *self.inner.borrow_mut())
    }

    pub fn clear(&self) {
        *self.inner.borrow_mut() = Results::default();
    }

    pub fn push_call(&self, call: CallResult) {
        if !self.quiet {
            self.inner.borrow_mut().push(call);
        }
    }

    pub fn push_expectation(&self, expectation: ExpectationResult) {
        self.inner.borrow_mut().expectations.push(expectation);
    }

    pub fn task_started(&self, name: &str, span: super::ast::Span, id: Option<TaskId>) {
        self.inner.borrow_mut().tasks.push(TaskRecord {
            name: name.to_string(),
            line: span.line,
            col: span.col,
            id,
            finished: false,
            blocked_in: None,
        });
    }

    fn with_task(&self, name: &str, f: impl FnOnce(&mut TaskRecord)) {
        let mut inner = self.inner.borrow_mut();
        if let Some(task) = inner.tasks.iter_mut().rev().find(|t| t.name == name) {
            f(task);
        }
    }

    pub fn set_task_id(&self, name: &str, id: TaskId) {
        self.with_task(name, |t| t.id = Some(id));
    }

    pub fn enter_call(&self, name: &str, call: &str) {
        self.with_task(name, |t| t.blocked_in = Some(call.to_string()));
    }

    pub fn leave_call(&self, name: &str) {
        self.with_task(name, |t| t.blocked_in = None);
    }

    pub fn task_finished(&self, name: &str) {
        self.with_task(name, |t| {
            t.finished = true;
            t.blocked_in = None;
        });
    }
}

/// Whether a run met the scenario's expectations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Every `expect report KIND` was met (empty list when there are none).
    pub expected_reports_found: Vec<ReportKind>,
    /// Reports of the run that the scenario did not ask for (checker findings and
    /// failed in-task expectations). For a scenario with `expect report KIND`, reports
    /// of other kinds are counted as consequences of the expected one and not listed.
    pub unexpected: Vec<Report>,
    /// Run-level expectation failures ([`Scenario::check_expectations`]).
    pub failed: Vec<Report>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.unexpected.is_empty() && self.failed.is_empty()
    }
}

impl Scenario {
    fn report(
        &self,
        span: super::ast::Span,
        message: String,
        details: Vec<String>,
        outcome: &Outcome,
    ) -> Report {
        Report {
            kind: ReportKind::Expectation,
            step: outcome.result.steps,
            cpu: None,
            task: None,
            message: format!("{}:{}:{}: {message}", self.file, span.line, span.col),
            details,
            schedule: outcome.result.schedule.encode(),
        }
    }

    /// The run-level expectations, checked after a run: `expect report KIND`, `expect no
    /// reports`, `expect blocked TASK`, and — when the run went quiet without any report
    /// — that every other task finished; also scenario errors found while building the
    /// world (a task pinned to a CPU the machine lacks). Failed in-task expectations are
    /// not repeated here: they are already reports of the run (`outcome.reports()`).
    pub fn check_expectations(&self, outcome: &Outcome, results: &Results) -> Vec<Report> {
        let mut failed = Vec::new();
        for e in results
            .expectations
            .iter()
            .filter(|e| !e.passed && !e.reported)
        {
            let mut report = self.report(
                super::ast::Span {
                    line: e.line,
                    col: e.col,
                    start: 0,
                    end: 0,
                },
                String::new(),
                vec![],
                outcome,
            );
            report.message = e.message.clone();
            failed.push(report);
        }
        let checker_reports: Vec<&Report> = outcome
            .reports()
            .iter()
            .filter(|r| r.kind != ReportKind::Expectation)
            .collect();
        for &(kind, span) in &self.header.expect_reports {
            if !outcome.has_report(kind) {
                let found: Vec<String> = outcome
                    .reports()
                    .iter()
                    .map(|r| r.kind.to_string())
                    .collect();
                let found = if found.is_empty() {
                    "none".to_string()
                } else {
                    found.join(", ")
                };
                failed.push(self.report(
                    span,
                    format!("expected a `{kind}` report, the run made none (its reports: {found})"),
                    vec![],
                    outcome,
                ));
            }
        }
        if let Some(span) = self.header.expect_no_reports {
            if !checker_reports.is_empty() {
                let kinds: Vec<String> =
                    checker_reports.iter().map(|r| r.kind.to_string()).collect();
                failed.push(self.report(
                    span,
                    format!("expected no reports, the run made {}", kinds.join(", ")),
                    checker_reports.iter().map(|r| r.message.clone()).collect(),
                    outcome,
                ));
            }
        }
        let quiet_end = matches!(
            outcome.result.end,
            RunEnd::Quiescent { .. } | RunEnd::Completed
        );
        if quiet_end {
            for (name, span) in &self.header.expect_blocked {
                let blocked = results.tasks.iter().any(|t| &t.name == name && !t.finished);
                if !blocked {
                    failed.push(self.report(
                        *span,
                        format!("expected task `{name}` to be blocked at the end of the run, it finished"),
                        vec![],
                        outcome,
                    ));
                }
            }
            if outcome.reports().is_empty() {
                for task in &results.tasks {
                    if task.finished
                        || self
                            .header
                            .expect_blocked
                            .iter()
                            .any(|(n, _)| n == &task.name)
                    {
                        continue;
                    }
                    let at = task
                        .blocked_in
                        .as_ref()
                        .map_or(String::new(), |c| format!(" in `{c}`"));
                    let mut report = self.report(
                        super::ast::Span { line: task.line, col: task.col, start: 0, end: 0 },
                        format!("task `{}` never finished: it is blocked{at} forever (if that is the point, say `expect blocked {}`)", task.name, task.name),
                        vec![],
                        outcome,
                    );
                    report.task = task.id;
                    failed.push(report);
                }
            }
        }
        failed
    }

    /// The kinds of the header's `expect report KIND` lines, in order.
    pub fn expected_reports(&self) -> Vec<ReportKind> {
        self.header.expect_reports.iter().map(|(k, _)| *k).collect()
    }

    /// The verdict of a run: passed when every run-level expectation holds and the run
    /// made no report the scenario did not ask for.
    pub fn verdict(&self, outcome: &Outcome, results: &Results) -> Verdict {
        let failed = self.check_expectations(outcome, results);
        let expected = self.expected_reports();
        let expected_reports_found: Vec<ReportKind> = expected
            .iter()
            .copied()
            .filter(|k| outcome.has_report(*k))
            .collect();
        let unexpected = outcome
            .reports()
            .iter()
            .filter(|r| {
                if expected.contains(&r.kind) {
                    false
                } else if r.kind == ReportKind::Expectation {
                    true
                } else {
                    expected.is_empty()
                }
            })
            .cloned()
            .collect();
        Verdict {
            expected_reports_found,
            unexpected,
            failed,
        }
    }
}
