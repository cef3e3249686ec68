//! A fuzz harness for the scenario parser and interpreter: mutations of the shipped
//! scenarios and of the reference page's examples — byte flips, token deletions,
//! duplications and swaps, splices, huge numbers, deep nesting, long lines, invalid
//! UTF-8 — drawn from our own seeded generator ([`sim::rng::Rng`]), so a campaign is
//! reproducible from its seed. Each input is parsed, checked against its options, built
//! and run in-process with a small step budget, under `catch_unwind`.
//!
//! What must hold for every input ([`Finding`] when it does not): no panic; an input
//! error is one line that names `file:line:col`, what was found and what was expected;
//! every report a run files about the scenario itself (a scenario error or a failed
//! expectation) is one line that names `file:line:col`; a run replays from its own
//! schedule to the same trace hash (one run in eight is replayed). An abort (a stack overflow) or a
//! hang cannot be caught in-process, so the input about to run is written to
//! `save_dir/current.scn` first, and a watchdog thread ends the process (status 3)
//! naming that file when one input runs longer than `input_timeout`.
//!
//! It is a library module so that the test suite runs a smoke campaign
//! (`fuzz_smoke` in `workloads/tests/scenario_input.rs`) with the very code of the long
//! one, which is
//! `cargo run --release -p workloads --example fuzz_scenarios -- --inputs 100000 --seed 1`
//! (an example rather than an `epsim` subcommand: a developer's tool, not part of the
//! command line users learn, and no hunk in the command tree).

use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sim::rng::Rng;
use sim::strategy::{Canonical, Random};
use sim::{ReportKind, Scheduler};

use super::{list, Overrides, Scenario};
use crate::session::{execute, Capture, Drive};

/// The file name inputs are parsed under (every position must name it).
pub const FILE: &str = "fuzz.scn";

/// How a campaign runs.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    pub inputs: u64,
    pub seed: u64,
    /// The step budget of each run (the smaller of this and the scenario's own).
    pub max_steps: u64,
    /// Where the input about to run and every input with a finding are written.
    pub save_dir: PathBuf,
    /// Longer than this on one input is a hang: the watchdog ends the process.
    pub input_timeout: Duration,
}

impl Default for FuzzOptions {
    fn default() -> FuzzOptions {
        FuzzOptions {
            inputs: 100_000,
            seed: 1,
            max_steps: 20_000,
            save_dir: PathBuf::from("target/fuzz-scenarios"),
            input_timeout: Duration::from_secs(60),
        }
    }
}

/// An input that broke a rule: which input, what happened, where it was saved.
#[derive(Clone, Debug)]
pub struct Finding {
    pub input: u64,
    pub what: String,
    pub saved: PathBuf,
}

/// The counts of a campaign.
#[derive(Clone, Debug, Default)]
pub struct FuzzSummary {
    pub inputs: u64,
    /// Refused by the parser (a syntax or semantic error, invalid UTF-8, nothing to run).
    pub input_errors: u64,
    /// Parsed, but its header's options cannot run (e.g. `model tso` without access).
    pub option_errors: u64,
    /// Built and run.
    pub ran: u64,
    /// ... and passed (every expectation held, no unexpected report).
    pub passed: u64,
    /// ... of the failed runs, those with a scenario error (stopped a task).
    pub scenario_errors: u64,
    /// ... runs that ended on the step budget.
    pub step_budget: u64,
    pub findings: Vec<Finding>,
    pub elapsed: Duration,
}

impl FuzzSummary {
    pub fn inputs_per_second(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A few lines: the counts and the rate.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} inputs in {:.1}s ({:.0} inputs/s)",
            self.inputs,
            self.elapsed.as_secs_f64(),
            self.inputs_per_second()
        );
        let _ = writeln!(
            out,
            "  input errors {}, option errors {}, ran {} (passed {}, failed {}: {} with a scenario error, {} on the step budget)",
            self.input_errors,
            self.option_errors,
            self.ran,
            self.passed,
            self.ran - self.passed,
            self.scenario_errors,
            self.step_budget
        );
        let _ = write!(out, "  findings {}", self.findings.len());
        for finding in &self.findings {
            let _ = write!(
                out,
                "\n  input {}: {} (saved as {})",
                finding.input,
                finding.what,
                finding.saved.display()
            );
        }
        out
    }
}

/// What one input did.
#[derive(Clone, Debug)]
pub enum Verdict {
    InputError(String),
    OptionError(String),
    Ran {
        passed: bool,
        scenario_error: bool,
        step_budget: bool,
    },
    /// A rule broken: a panic, a message of two lines or without its place.
    Broken(String),
}

/// The seeds of the mutations: every shipped scenario and every `scn` example of the
/// reference page.
pub fn corpus() -> Vec<String> {
    let mut texts: Vec<String> = list().iter().map(|b| b.text.to_string()).collect();
    let page = include_str!("../../../docs/scenario-language.md");
    let mut current: Option<String> = None;
    for line in page.lines() {
        match &mut current {
            None if line.trim_start() == "```scn" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_start() == "```" => texts.extend(current.take()),
            Some(body) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    texts
}

/// Words a mutation may insert.
const SNIPPETS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\n",
    ";",
    ",",
    "=",
    "==",
    "+",
    "-",
    "<<",
    ">>",
    "*",
    "/",
    "%",
    "&&",
    "||",
    "!",
    "~",
    ".",
    ".r",
    "[0]",
    ":",
    "#",
    "\"",
    "\\",
    "process p { task t { ",
    "task",
    "thread w { ",
    "thread w[i] { ",
    "fork f { ",
    "at 1ms { ",
    "repeat 3 as i { ",
    "until 1ms { ",
    "for e in evs { ",
    "if x { ",
    "} else { ",
    "} else if x { ",
    "break",
    "continue",
    "expect ",
    "expect EAGAIN",
    "expect ok",
    "expect report lost-wakeup",
    "expect blocked main",
    "sleep 1ms",
    "note \"n\"",
    "x",
    "x = 1",
    "evs",
    "ep",
    "p",
    "main",
    "kill(main)",
    "signal(main)",
    "deliver(0, \"x\")",
    "epoll_wait(ep, 10, -1)",
    "epoll_ctl(ep, EPOLL_CTL_ADD, p.r, EPOLLIN, 1)",
    "pipe()",
    "read(p.r, 1)",
    "write(p.w, \"x\")",
    "close(3)",
    "array(",
    "len(",
    "random(",
    "sorted(",
    "u64(",
    "as_u64(",
    "now()",
    "min(1, 2)",
    "FAULT_AT(1)",
    "timespec(0, -1)",
    "F_GETFD",
    "FD_CLOEXEC",
    "NULL",
    "BAD_ADDRESS",
    "ALL_SIGNALS",
    "EPOLLIN",
    "EPOLLET",
    "ret",
    "errno",
    "in {0, 1}",
    "bytes",
    "on cpu 1",
    "on cpu 63",
    "cpus 1",
    "cpus 64",
    "model tso",
    "granularity access",
    "granularity lock",
    "kernel 2.6.21",
    "strategy dfs",
    "seed 7",
    "hz 1",
    "max steps 1",
    "fail alloc epitem nth 1",
    "inject no-linked-check",
    "scenario check-2cpu",
    "é",
    "$",
    "\t",
    " ",
    "\r\n",
    "\u{feff}",
    "\r",
    "(x +\n 1)",
    " +\n ",
    " ==\n ",
    "\"a\rb\"",
    "x = 1 / (0 *\n 1)",
    "expect (ret +\n 1) == 7",
];

/// Whole lines: statements and header lines, some fine and some not, some making values
/// the interpreter must refuse at run time.
const STATEMENTS: &[&str] = &[
    "x = 1",
    "x = 9223372036854775807 + 0\n y = x + 1",
    "n = 64\n y = 1 << n",
    "y = -(-9223372036854775807 - 1 + 0)",
    "a = 0\n repeat 100 { a = [a] }",
    "thread w { x = 1 }",
    "thread w { }\n thread w { }",
    "repeat 2 { thread t { } }",
    "repeat 2 as i { fork c[i % 1] { } }",
    "fork f { close(0) }",
    "at 1ms { signal(main) }",
    "at 0 { note \"irq\" }",
    "kill(main)",
    "expect (1 +\n 1) == 3",
    "x = 0\n y = 1 / (x *\n 1)",
    "x = array(3)\n x[5] = 1",
    "p = pipe()\n x = p.events",
    "ep = epoll_create(1)\n evs = epoll_wait(ep, 10, 0)\n expect evs == [EPOLLIN:1]",
    "sleep 1ms",
    "until 1ms { x = 1 }",
    "evs = epoll_wait(3, 1, -1)",
    "write(1, 100 bytes)",
    "x = random(0)",
    "model tso",
    "model pso\ngranularity lock",
    "granularity lock",
    "cpus 1",
    "max steps 10",
    "expect blocked main",
    "expect no reports",
    "process extra { task extra_main { x = 1 } }",
    "process copy fork of app { task copy_main { close(0) } }",
    "at 2ms on cpu 1 { deliver(0, 10 bytes) }",
    "# a comment",
    "setrlimit(RLIMIT_NOFILE, 4)\n p = pipe()\n q = pipe()",
    "setrlimit(RLIMIT_NOFILE, RLIM_INFINITY, 0)",
    "setrlimit(RLIMIT_NOFILE, 9223372036854775807)",
    "",
];

/// Numbers at and past the edges of 64 bits.
const HUGE: &[&str] = &[
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775807 - 1",
    "18446744073709551615",
    "99999999999999999999999999",
    "0xffffffffffffffff",
    "0x8000000000000000",
    "0x1ffffffffffffffff",
    "1 << 63",
    "1 << 64",
    "1 << -1",
    "4294967296",
    "2147483648",
    "-2147483649",
    "9223372036854775807 + 1",
    "3 * 0x4000000000000000",
    "-(-9223372036854775807 - 1)",
    "9999999999999s",
    "0",
    "-1",
];

/// Byte sequences that are not UTF-8 (and a byte-order mark, which is).
const NOT_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xc3",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x80",
    b"\xef\xbb\xbf",
    b"\xe2\x82",
];

/// The byte ranges of `text`'s rough tokens: runs of letters, digits and `_`, runs of
/// spaces, and single other bytes.
fn tokens(text: &[u8]) -> Vec<(usize, usize)> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let start = i;
        if word(text[i]) {
            while i < text.len() && word(text[i]) {
                i += 1;
            }
        } else if text[i] == b' ' {
            while i < text.len() && text[i] == b' ' {
                i += 1;
            }
        } else {
            i += 1;
        }
        out.push((start, i));
    }
    out
}

/// A size for long and deep mutations: mostly small, sometimes at the limits, rarely huge.
fn size(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0 => 100_000 + rng.index(100_000),
        1..=5 => 1_000 + rng.index(10_000),
        6..=40 => 40 + rng.index(20),
        _ => 1 + rng.index(100),
    }
}

/// One input: 1 to 4 mutations (mostly one: most of a scenario stays valid, so the
/// interpreter sees it) of a corpus text.
pub fn mutate(rng: &mut Rng, corpus: &[String]) -> Vec<u8> {
    let mut text = corpus[rng.index(corpus.len())].as_bytes().to_vec();
    let mutations = if rng.chance(1, 2) {
        1
    } else {
        2 + rng.below(3)
    };
    for _ in 0..mutations {
        mutate_once(rng, corpus, &mut text);
    }
    text
}

fn mutate_once(rng: &mut Rng, corpus: &[String], text: &mut Vec<u8>) {
    let spans = tokens(text);
    let pick = |rng: &mut Rng| -> (usize, usize) {
        if spans.is_empty() {
            (0, 0)
        } else {
            spans[rng.index(spans.len())]
        }
    };
    let at = rng.index(text.len() + 1);
    match rng.below(13) {
        // A flipped bit, or a byte set to anything.
        0 if !text.is_empty() => {
            let i = rng.index(text.len());
            if rng.chance(1, 2) {
                text[i] ^= 1 << rng.below(8);
            } else {
                text[i] = rng.below(256) as u8;
            }
        }
        // A token deleted, duplicated, or swapped with another.
        1 => {
            let (s, e) = pick(rng);
            text.drain(s..e);
        }
        2 => {
            let (s, e) = pick(rng);
            let copy = text[s..e].to_vec();
            text.splice(e..e, copy);
        }
        3 => {
            let (a, b) = (pick(rng), pick(rng));
            let (first, second) = if a.0 <= b.0 { (a, b) } else { (b, a) };
            if first.1 <= second.0 {
                let mut out = text[..first.0].to_vec();
                out.extend_from_slice(&text[second.0..second.1]);
                out.extend_from_slice(&text[first.1..second.0]);
                out.extend_from_slice(&text[first.0..first.1]);
                out.extend_from_slice(&text[second.1..]);
                *text = out;
            }
        }
        // A piece of another scenario spliced in.
        4 => {
            let other = corpus[rng.index(corpus.len())].as_bytes();
            let from = rng.index(other.len() + 1);
            let len = rng.index(400.min(other.len() - from) + 1);
            text.splice(at..at, other[from..from + len].iter().copied());
        }
        // A number at the edge of 64 bits, in place of a token or inserted.
        5 => {
            let huge = HUGE[rng.index(HUGE.len())].as_bytes().to_vec();
            let (s, e) = pick(rng);
            text.splice(s..e, huge);
        }
        // Deep nesting: parentheses, lists, blocks, unary operators.
        6 => {
            let depth = size(rng);
            let (open, close): (&[u8], &[u8]) = match rng.below(6) {
                0 => (b"(", b")"),
                1 => (b"[", b"]"),
                2 => (b"if 1 { ", b" }"),
                3 => (b"-", b""),
                4 => (b"repeat 1 { ", b"\n}"),
                _ => (b"{", b"}"),
            };
            let (s, e) = pick(rng);
            let mut nested = open.repeat(depth);
            nested.extend_from_slice(&text[s..e]);
            nested.extend(close.repeat(depth));
            text.splice(s..e, nested);
        }
        // A long line: a chain of operators, a long list, string or else-if chain.
        7 => {
            let n = size(rng);
            let line = match rng.below(5) {
                0 => format!("\nx = 1{}\n", " + 1".repeat(n)),
                1 => format!("\nx = [{}]\n", "1, ".repeat(n)),
                2 => format!("\nx = \"{}\"\n", "a".repeat(n)),
                3 => format!("\nif 0 {{ }}{}\n", " else if 0 { }".repeat(n)),
                _ => format!("\nx = 1{}\n", " && 1 || 0".repeat(n)),
            };
            text.splice(at..at, line.into_bytes());
        }
        // Bytes that are not UTF-8.
        8 => {
            let bytes = NOT_UTF8[rng.index(NOT_UTF8.len())];
            let at = if rng.chance(1, 8) { 0 } else { at };
            text.splice(at..at, bytes.iter().copied());
        }
        // The text cut short.
        9 => text.truncate(at),
        // A word of the language inserted anywhere, or a line of it at a line's start.
        10 => {
            let snippet = SNIPPETS[rng.index(SNIPPETS.len())].as_bytes();
            text.splice(at..at, snippet.iter().copied());
        }
        _ => {
            let starts: Vec<usize> = (0..text.len()).filter(|&i| text[i] == b'\n').collect();
            let at = if starts.is_empty() {
                0
            } else {
                starts[rng.index(starts.len())] + 1
            };
            let mut line = STATEMENTS[rng.index(STATEMENTS.len())].as_bytes().to_vec();
            line.push(b'\n');
            text.splice(at..at, line);
        }
    }
}

/// The rules for a message the user sees about the scenario: one line, naming
/// `fuzz.scn:LINE:COL:` with both numbers at least 1.
fn check_message(message: &str) -> Result<(), String> {
    if message.contains(['\n', '\r']) {
        return Err(format!("a message of more than one line: {message:?}"));
    }
    let place = message
        .strip_prefix(FILE)
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|rest| {
            let mut parts = rest.splitn(3, ':');
            let line: u32 = parts.next()?.parse().ok()?;
            let col: u32 = parts.next()?.parse().ok()?;
            parts.next()?;
            (line >= 1 && col >= 1).then_some(())
        });
    match place {
        Some(()) => Ok(()),
        None => Err(format!("a message without {FILE}:line:col: {message:?}")),
    }
}

/// Parses, checks, builds and runs one input (no `catch_unwind` here: see [`run`]).
pub fn check_input(bytes: &[u8], seed: u64, max_steps: u64) -> Verdict {
    let scenario = match Scenario::parse_bytes(FILE, bytes) {
        Ok(scenario) => scenario,
        Err(error) => {
            let message = error.to_string();
            if let Err(broken) = check_message(&message) {
                return Verdict::Broken(broken);
            }
            if !error.message.starts_with("found ") || !error.message.contains(", expected ") {
                return Verdict::Broken(format!(
                    "an input error that does not say what was found and expected: {message:?}"
                ));
            }
            return Verdict::InputError(message);
        }
    };
    let options_error = scenario.check_header(None, None).map_err(|e| e.to_string());
    let options = scenario.options(&Overrides {
        max_steps: Some(
            scenario
                .header
                .max_steps
                .unwrap_or(max_steps)
                .min(max_steps),
        ),
        ..Overrides::default()
    });
    if let Err(message) = options_error.and_then(|()| scenario.check_options(&options)) {
        if let Err(broken) = check_message(&message) {
            return Verdict::Broken(broken);
        }
        return Verdict::OptionError(message);
    }
    // As `epsim run` runs it (its results, task names, and for one input in four its
    // trace rendered in kernel terms), under the canonical or a random schedule.
    let mut strategy: Box<dyn Scheduler> = if seed % 2 == 0 {
        Box::new(Canonical::default())
    } else {
        Box::new(Random::new(seed))
    };
    let capture = if seed % 4 < 2 {
        Capture::Results
    } else {
        Capture::Trace
    };
    let out = match execute(
        &scenario,
        &options,
        seed,
        capture,
        Drive::Strategy(strategy.as_mut()),
    ) {
        Ok(out) => out,
        Err(error) => return Verdict::Broken(format!("the run failed: {error}")),
    };
    let mut scenario_error = false;
    for report in out
        .outcome
        .reports()
        .iter()
        .chain(&out.verdict.failed)
        .filter(|r| r.kind == ReportKind::Expectation)
    {
        scenario_error |= report.message.contains(": scenario error in ");
        if let Err(broken) = check_message(&report.message) {
            return Verdict::Broken(broken);
        }
    }
    // One run in eight is replayed from its own schedule: same trace hash, same results.
    if seed % 8 == 1 {
        let schedule = out.outcome.result.schedule.clone();
        match execute(&scenario, &options, seed, Capture::Results, Drive::Replay(&schedule)) {
            Ok(again) if again.outcome.result.trace_hash == out.outcome.result.trace_hash => {}
            Ok(again) => {
                return Verdict::Broken(format!(
                    "the replay of the run's own schedule ended with trace hash {:016x}, the run with {:016x}",
                    again.outcome.result.trace_hash, out.outcome.result.trace_hash
                ))
            }
            Err(error) => {
                return Verdict::Broken(format!(
                    "the run's own schedule did not replay: {error}"
                ))
            }
        }
    }
    let step_budget = out
        .outcome
        .reports()
        .iter()
        .any(|r| r.kind == ReportKind::StepBudget);
    Verdict::Ran {
        passed: out.verdict.passed(),
        scenario_error,
        step_budget,
    }
}

thread_local! {
    /// Set while this thread runs an input: its panics are recorded, not printed.
    static FUZZING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Installs (once) a panic hook that records the panics of inputs (with where) and
/// leaves every other panic to the hook that was there.
fn install_panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if FUZZING.with(|f| f.get()) {
            let place = info
                .location()
                .map_or(String::new(), |l| format!(" at {}:{}", l.file(), l.line()));
            PANIC.with(|p| *p.borrow_mut() = Some(format!("panic{place}: {info}")));
        } else {
            previous(info);
        }
    }));
}

/// One input under `catch_unwind`: a panic is a [`Verdict::Broken`] naming it.
fn check_caught(bytes: &[u8], seed: u64, max_steps: u64) -> Verdict {
    FUZZING.with(|f| f.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| check_input(bytes, seed, max_steps)));
    FUZZING.with(|f| f.set(false));
    match result {
        Ok(verdict) => verdict,
        Err(_) => Verdict::Broken(
            PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "a panic".to_string())
                .replace('\n', " "),
        ),
    }
}

/// A watchdog: ends the process when one input runs longer than `timeout`.
struct Watchdog {
    /// The input running (u64::MAX: none) and since when, in ms from `epoch`.
    input: Arc<AtomicU64>,
    started_ms: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    epoch: Instant,
}

impl Watchdog {
    fn start(timeout: Duration, current: PathBuf) -> Watchdog {
        let watchdog = Watchdog {
            input: Arc::new(AtomicU64::new(u64::MAX)),
            started_ms: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
            epoch: Instant::now(),
        };
        let (input, started_ms, stop, epoch) = (
            watchdog.input.clone(),
            watchdog.started_ms.clone(),
            watchdog.stop.clone(),
            watchdog.epoch,
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                let i = input.load(Ordering::SeqCst);
                let since = started_ms.load(Ordering::SeqCst);
                let now = epoch.elapsed().as_millis() as u64;
                if i != u64::MAX && now.saturating_sub(since) > timeout.as_millis() as u64 {
                    eprintln!(
                        "fuzz: input {i} ran for more than {:?}: a hang (the input is {})",
                        timeout,
                        current.display()
                    );
                    std::process::exit(3);
                }
            }
        });
        watchdog
    }

    fn begin(&self, input: u64) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.started_ms.store(now, Ordering::SeqCst);
        self.input.store(input, Ordering::SeqCst);
    }

    fn end(&self) {
        self.input.store(u64::MAX, Ordering::SeqCst);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn save(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Runs a campaign. `progress` is called every 10,000 inputs with the summary so far.
pub fn run(
    options: &FuzzOptions,
    progress: &mut dyn FnMut(&FuzzSummary),
) -> std::io::Result<FuzzSummary> {
    install_panic_hook();
    std::fs::create_dir_all(&options.save_dir)?;
    let current = options.save_dir.join("current.scn");
    let watchdog = Watchdog::start(options.input_timeout, current.clone());
    let corpus = corpus();
    let mut rng = Rng::new(options.seed);
    let mut summary = FuzzSummary::default();
    let start = Instant::now();
    for i in 0..options.inputs {
        let input = mutate(&mut rng, &corpus);
        save(&current, &input)?;
        watchdog.begin(i);
        let verdict = check_caught(&input, options.seed.wrapping_add(i), options.max_steps);
        watchdog.end();
        summary.inputs += 1;
        match verdict {
            Verdict::InputError(_) => summary.input_errors += 1,
            Verdict::OptionError(_) => summary.option_errors += 1,
            Verdict::Ran {
                passed,
                scenario_error,
                step_budget,
            } => {
                summary.ran += 1;
                summary.passed += passed as u64;
                summary.scenario_errors += scenario_error as u64;
                summary.step_budget += step_budget as u64;
            }
            Verdict::Broken(what) => {
                let saved = options
                    .save_dir
                    .join(format!("finding-{}-{i}.scn", options.seed));
                save(&saved, &input)?;
                summary.findings.push(Finding {
                    input: i,
                    what,
                    saved,
                });
            }
        }
        if (i + 1) % 10_000 == 0 {
            summary.elapsed = start.elapsed();
            progress(&summary);
        }
    }
    summary.elapsed = start.elapsed();
    drop(watchdog);
    std::fs::remove_file(&current)?;
    Ok(summary)
}
