//! # The library API: event orders of your own scenarios, for your own tests
//!
//! One entry point for Rust code outside this repository — a test suite that keeps
//! snapshots of the event order its event loop depends on: parse a scenario from text
//! ([`parse`]) or a file ([`load`]), run it with [`RunOptions`] (kernel version, CPUs,
//! memory model, granularity, strategy, seed) and get the results and the rendered
//! event order as a `String` ([`run`], [`event_order()`]), which
//! `insta::assert_snapshot!` then pins:
//!
//! ```
//! use workloads::api;
//!
//! let scenario = api::parse("ready.scn", r#"
//!     description "a pipe becomes readable"
//!     process app {
//!         task main {
//!             ep = epoll_create(1)
//!             p = pipe()
//!             epoll_ctl(ep, EPOLL_CTL_ADD, p.r, EPOLLIN, 7)
//!             write(p.w, "x")
//!             evs = epoll_wait(ep, 10, 0)
//!         }
//!     }
//! "#)?;
//! let kernel = api::kernel_versions()[0];
//! let text = api::event_order(&scenario, &api::RunOptions::new().kernel(kernel))?;
//! assert!(text.contains("main: evs = epoll_wait(ep, 10, 0) = 1 [EPOLLIN:7]\n"));
//! // In your crate's tests: insta::assert_snapshot!(text);
//! # Ok::<(), api::Error>(())
//! ```
//!
//! ## What is stable
//!
//! Stable (kept across releases; a change is announced as a breaking one): the
//! functions [`parse`], [`load`], [`run`], [`event_order()`], [`snapshot_text`],
//! [`unsupported_on`], [`kernel_version`], [`kernel_versions`]; [`RunOptions`] and its builder methods; the fields of [`Run`]
//! `event_order`, `calls`, `passed`, `steps` and `trace_hash`; [`Call`] and [`Event`]; [`Error`] as a `Display`able
//! error. The event-order text itself keeps the guarantees of
//! `docs/snapshot-testing.md`: one line per call (`TASK: CALL = RESULT`, each task's
//! calls in order), the options line first, then expectations, reports and how the
//! run ended. What the simulated kernel *does* is not frozen: a port that is made more
//! faithful can change an event order, and that is what the snapshots are there to show.
//!
//! Not stable: [`Run::details`] and everything reached through it (the
//! [`crate::scenario`] types), and every other module of this crate, which the `epsim`
//! command line uses and may reshape.
//!
//! The run is the one the project's own event-order snapshots and `epsim snapshot`
//! make ([`crate::event_order`]): the same text, byte for byte.

use std::fmt;
use std::path::Path;

pub use kernel_model::KernelVersion;
pub use sim::{GranularityKind, MemoryModel, StrategyKind};

use crate::event_order::{self, RunChoices};
use crate::scenario::RunOutput;
pub use crate::scenario::Scenario;

/// A scenario that cannot be read or parsed, or options it cannot run with: one line
/// (`file:line:col: ...` for a syntax error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Parses scenario text (the language is in `docs/scenario-language.md`); `name` is the file name errors and failed
/// expectations mention, and names the scenario when its header has no `scenario NAME`
/// (without a trailing `.scn`).
///
/// ```
/// let error = workloads::api::parse("bad.scn", "process p { task t { frob() } }").unwrap_err();
/// assert!(error.to_string().starts_with("bad.scn:1:"));
/// ```
pub fn parse(name: &str, text: &str) -> Result<Scenario, Error> {
    Scenario::parse(name, text).map_err(|error| Error::new(error.to_string()))
}

/// Reads and parses a scenario file. Errors name the path as given; once parsed, the
/// scenario is known by its file name alone (failed expectations say `NAME.scn:L:C`),
/// so its event order does not depend on the directory a test runs in.
pub fn load(path: impl AsRef<Path>) -> Result<Scenario, Error> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|error| Error::new(format!("cannot read {shown}: {error}")))?;
    let mut scenario =
        Scenario::parse_bytes(&shown, &bytes).map_err(|error| Error::new(error.to_string()))?;
    if let Some(name) = path.file_name() {
        scenario.file = name.to_string_lossy().into_owned();
    }
    Ok(scenario)
}

/// Every kernel version the simulator has, oldest port first as the project lists them.
pub fn kernel_versions() -> &'static [KernelVersion] {
    &KernelVersion::ALL
}

/// A kernel version by the name the outputs print (`epsim config --help` lists them).
pub fn kernel_version(name: &str) -> Result<KernelVersion, Error> {
    KernelVersion::parse(name).ok_or_else(|| {
        let known: Vec<&str> = KernelVersion::ALL.iter().map(|k| k.name()).collect();
        Error::new(format!(
            "unknown kernel version {name:?}, expected one of {}",
            known.join(", ")
        ))
    })
}

/// How to run a scenario: each option left unset keeps the scenario header's choice
/// (or the simulator's default). Build it with the methods:
///
/// ```
/// use workloads::api::{MemoryModel, GranularityKind, RunOptions, StrategyKind};
/// let options = RunOptions::new()
///     .cpus(2)
///     .model(MemoryModel::Tso)
///     .granularity(GranularityKind::Access)
///     .strategy(StrategyKind::Random)
///     .seed(7);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    choices: RunChoices,
}

impl RunOptions {
    /// The scenario's own options.
    pub fn new() -> RunOptions {
        RunOptions::default()
    }

    pub fn kernel(mut self, kernel: KernelVersion) -> RunOptions {
        self.choices.kernel = Some(kernel);
        self
    }

    /// 1 to 64.
    pub fn cpus(mut self, cpus: usize) -> RunOptions {
        self.choices.cpus = Some(cpus);
        self
    }

    /// `Tso` and `Pso` need `GranularityKind::Access`.
    pub fn model(mut self, model: MemoryModel) -> RunOptions {
        self.choices.model = Some(model);
        self
    }

    pub fn granularity(mut self, granularity: GranularityKind) -> RunOptions {
        self.choices.granularity = Some(granularity);
        self
    }

    /// Which CPU steps next. `Replay` is not a strategy to choose here (it runs as
    /// `Timed`).
    pub fn strategy(mut self, strategy: StrategyKind) -> RunOptions {
        self.choices.strategy = Some(strategy);
        self
    }

    /// Seeds the strategy and the scenario's `random(n)`.
    pub fn seed(mut self, seed: u64) -> RunOptions {
        self.choices.seed = Some(seed);
        self
    }
}

/// One system call of a run, as `epsim run --json` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The task's name (`at 5ms` for an interrupt's action).
    pub task: String,
    /// The statement as written, e.g. `evs = epoll_wait(ep, 10, -1)`.
    pub call: String,
    /// The return value: a descriptor, a count, 0, or -1 on error.
    pub ret: i64,
    /// The errno's name on error (`EAGAIN`).
    pub errno: Option<String>,
    /// What an `epoll_wait` returned, in order.
    pub events: Vec<Event>,
}

/// One `struct epoll_event` an `epoll_wait` returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The mask by name, `EPOLLIN|EPOLLOUT`, as the scenario language writes it.
    pub events: String,
    pub data: u64,
}

/// One run of a scenario.
#[derive(Clone, Debug)]
pub struct Run {
    /// The event order as stable text (what [`event_order()`] returns).
    pub event_order: String,
    /// Every call in the order the calls returned, across tasks — as `epsim run --json`
    /// lists them: up to 100 000 runs of identical calls are kept, and the calls after
    /// those are only counted (in `details`).
    pub calls: Vec<Call>,
    /// Every expectation held and the run made no report the scenario did not expect
    /// (`expect report KIND`).
    pub passed: bool,
    pub steps: u64,
    /// Same scenario, options and seed: same hash, on every machine.
    pub trace_hash: u64,
    /// Everything the run produced (not stable).
    pub details: RunOutput,
}

/// Runs `scenario` once with `options`. Options it cannot run with (a CPU a task is
/// pinned to that the machine lacks, `Tso` at a coarse granularity, ...) are an error.
///
/// ```
/// use workloads::api;
/// let scenario = api::parse("eagain.scn", r#"
///     process app { task main {
///         p = pipe()
///         fcntl(p.r, F_SETFL, O_NONBLOCK)
///         n = read(p.r, 1)
///         expect EAGAIN
///     } }
/// "#)?;
/// let run = api::run(&scenario, &api::RunOptions::new())?;
/// assert!(run.passed);
/// assert!(run.event_order.contains("main: n = read(p.r, 1) = -1 EAGAIN\n"));
/// let read = &run.calls[2];
/// assert_eq!((read.call.as_str(), read.ret, read.errno.as_deref()), ("n = read(p.r, 1)", -1, Some("EAGAIN")));
/// # Ok::<(), api::Error>(())
/// ```
pub fn run(scenario: &Scenario, options: &RunOptions) -> Result<Run, Error> {
    let order = event_order::run(scenario, &options.choices).map_err(Error::new)?;
    let result = &order.output.outcome.result;
    let calls = order
        .output
        .results
        .calls()
        .map(|c| Call {
            task: c.task.clone(),
            call: c.call.clone(),
            ret: c.ret,
            errno: c.errno.map(|e| e.name().to_string()),
            events: c
                .events
                .iter()
                .map(|e| Event {
                    events: kernel_model::poll::mask_to_string(e.events),
                    data: e.data,
                })
                .collect(),
        })
        .collect();
    Ok(Run {
        calls,
        passed: order.output.verdict.passed(),
        steps: result.steps,
        trace_hash: result.trace_hash,
        event_order: order.text,
        details: order.output,
    })
}

/// What `epsim snapshot` keeps for `scenario` run with `options`: a first line
/// `NAME: DESCRIPTION`, then [`event_order()`]'s text. A test that pins this text with
/// `insta::assert_snapshot!` under the name `STEM@VERSION`, in the `snapshots/` folder
/// beside the scenario, shares its `.snap` files with `epsim snapshot --check`
/// (`examples/event-order` does).
///
/// ```
/// use workloads::api;
/// let scenario = api::parse("quiet.scn", r#"
///     description "nothing is ready"
///     process app { task main { ep = epoll_create(1) } }
/// "#)?;
/// let text = api::snapshot_text(&scenario, &api::RunOptions::new())?;
/// assert!(text.starts_with("quiet: nothing is ready\nkernel "));
/// # Ok::<(), api::Error>(())
/// ```
pub fn snapshot_text(scenario: &Scenario, options: &RunOptions) -> Result<String, Error> {
    let text = event_order(scenario, options)?;
    Ok(format!(
        "{}: {}\n{text}",
        scenario.name(),
        scenario.description()
    ))
}

/// Why `scenario` cannot run on `kernel` — a system call it makes that the version's
/// tree does not have — or `None`. `epsim snapshot` skips such a version (and says
/// why); a test should too.
pub fn unsupported_on(scenario: &Scenario, kernel: KernelVersion) -> Option<String> {
    event_order::unsupported_on(scenario, kernel)
}

/// The event order of one run of `scenario` with `options`, as stable text: the
/// options line, each task's calls in order with their results, errnos and returned
/// event lists, the expectations, the reports, and how the run ended.
pub fn event_order(scenario: &Scenario, options: &RunOptions) -> Result<String, Error> {
    run(scenario, options).map(|run| run.event_order)
}
