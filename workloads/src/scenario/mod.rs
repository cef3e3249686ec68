//! The scenario language: text that reads like the system calls a C programmer writes,
//! describing a machine, processes whose tasks make system calls, interrupts at virtual
//! times, and what the results must be. `docs/scenario-language.md` is the reference.
//!
//! One file per concept:
//! - [`lexer`] — text to tokens (numbers, `5ms` durations, strings, `#` comments)
//! - [`ast`] — the parsed form
//! - [`parser`] — tokens to the parsed form, with `file:line:col` errors
//! - [`interp`] — runs a parsed scenario as tasks on a [`kernel_model::World`]
//! - [`results`] — what each task's calls returned, expectations, and the verdict
//! - [`fuzz`] — a fuzz harness for the parser and the interpreter (mutated scenarios)
//! - [`writer`] — text and parsed form written together, for programs that make scenarios
//!
//! The API the command line and the snapshot tests use:
//!
//! ```
//! use kernel_model::World;
//! use sim::{strategy::Canonical, Scheduler, SyscallSteps};
//! use workloads::scenario::{Overrides, Recorder, Scenario};
//!
//! let scenario = Scenario::parse("demo.scn", r#"
//!     description "a pipe becomes readable"
//!     process app {
//!         task main {
//!             ep = epoll_create(1)
//!             p = pipe()
//!             epoll_ctl(ep, EPOLL_CTL_ADD, p.r, EPOLLIN, 7)
//!             write(p.w, "x")
//!             evs = epoll_wait(ep, 10, 0)
//!             expect evs == [EPOLLIN:7]
//!         }
//!     }
//! "#).unwrap();
//! let options = scenario.options(&Overrides::default());
//! let recorder = Recorder::new();
//! let mut world = World::<SyscallSteps>::new(&options, scenario.world_hash(0)).unwrap();
//! scenario.build(&mut world, &recorder);
//! let mut strategy = Canonical::default();
//! strategy.begin_execution();
//! let outcome = world.run(&mut strategy);
//! let results = recorder.results();
//! assert_eq!(results.calls().nth(4).unwrap().call, "evs = epoll_wait(ep, 10, 0)");
//! assert!(scenario.verdict(&outcome, &results).passed());
//! ```

pub mod ast;
pub mod fuzz;
pub mod interp;
pub mod lexer;
pub mod parser;
pub mod results;
pub mod writer;

use std::fmt;

use kernel_model::explore::{ExploreOptions, ExploreSummary};
use kernel_model::{Injection, KernelOptions, KernelVersion, Options, Outcome, World};
use sim::trace::TraceHasher;
use sim::{
    AccessSteps, Config, Granularity, GranularityKind, LockSteps, MemoryModel, Scheduler,
    StrategyKind, SyscallSteps,
};

pub use ast::Header;
pub use results::{CallResult, ExpectationResult, Recorder, Results, TaskRecord, Verdict};

/// A syntax or semantic error in a scenario: `file:line:col: found X, expected Y`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl ParseError {
    pub fn new(file: &str, line: u32, col: u32, message: String) -> ParseError {
        ParseError {
            file: file.to_string(),
            line,
            col,
            message,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// A parsed scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The file name it was parsed from (used in error messages and reports).
    pub file: String,
    pub text: String,
    pub header: Header,
    pub processes: Vec<ast::ProcessDecl>,
    /// Top-level `at` blocks.
    pub interrupts: Vec<ast::AtDecl>,
    hash: u64,
}

/// Run options given on the command line; each one, when set, wins over the header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub cpus: Option<usize>,
    pub kernel: Option<KernelVersion>,
    pub model: Option<MemoryModel>,
    pub granularity: Option<GranularityKind>,
    /// Replaces the header's `inject` lines when set (an empty list runs unmodified).
    pub injections: Option<Vec<Injection>>,
    pub hz: Option<u32>,
    pub max_steps: Option<u64>,
    pub keep_trace: bool,
}

/// What one run of a scenario produced.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub outcome: Outcome,
    pub results: Results,
    /// Run-level expectation failures ([`Scenario::check_expectations`]).
    pub expectation_reports: Vec<sim::Report>,
    pub verdict: Verdict,
}

impl Scenario {
    /// Parses `text`; `file` names it in errors (a path, or `builtin:NAME`).
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ParseError> {
        let parsed = parser::parse(file, text)?;
        let mut h = TraceHasher::default();
        h.write_str(text);
        Ok(Scenario {
            file: file.to_string(),
            text: text.to_string(),
            header: parsed.header,
            processes: parsed.processes,
            interrupts: parsed.interrupts,
            hash: h.finish(),
        })
    }

    /// A scenario written with its parsed form ([`writer::Writer`]): `text` must be what
    /// the parts parse from (the writer's tests and the importer's check it), and the
    /// hash is the text's, as [`Scenario::parse`] makes it.
    pub fn from_parts(
        file: &str,
        text: String,
        header: Header,
        processes: Vec<ast::ProcessDecl>,
        interrupts: Vec<ast::AtDecl>,
    ) -> Scenario {
        let mut h = TraceHasher::default();
        h.write_str(&text);
        Scenario {
            file: file.to_string(),
            text,
            header,
            processes,
            interrupts,
            hash: h.finish(),
        }
    }

    /// Parses a file's bytes: UTF-8 text (a leading byte-order mark is fine); a byte that
    /// is not UTF-8 is an error at its line and column.
    pub fn parse_bytes(file: &str, bytes: &[u8]) -> Result<Scenario, ParseError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Scenario::parse(file, text),
            Err(error) => {
                let at = error.valid_up_to();
                let valid = String::from_utf8_lossy(&bytes[..at]);
                let valid = valid.strip_prefix(lexer::BYTE_ORDER_MARK).unwrap_or(&valid);
                let line = 1 + valid.matches('\n').count();
                let col = 1 + valid.rsplit('\n').next().map_or(0, |l| l.chars().count());
                Err(ParseError::new(
                    file,
                    u32::try_from(line).unwrap_or(u32::MAX),
                    u32::try_from(col).unwrap_or(u32::MAX),
                    format!(
                        "found the byte 0x{:02x}, which is not UTF-8, expected text in UTF-8",
                        bytes[at]
                    ),
                ))
            }
        }
    }

    /// Whether the header's memory model and granularity go together once the command
    /// line's (`model`, `granularity`: `None` where not given) are on top: `model tso`
    /// needs `granularity access`. When a header line is to blame, the error names its
    /// place; a conflict of the command line's own options is left to its own check.
    pub fn check_header(
        &self,
        model: Option<MemoryModel>,
        granularity: Option<GranularityKind>,
    ) -> Result<(), ParseError> {
        let h = &self.header;
        let defaults = Config::default();
        let effective_model = model.or(h.model).unwrap_or(defaults.model);
        let effective_granularity = granularity
            .or(h.granularity)
            .unwrap_or(defaults.granularity);
        if effective_model == MemoryModel::Sc || effective_granularity == GranularityKind::Access {
            return Ok(());
        }
        let (line, found) = if model.is_none() && h.model.is_some() {
            let with = match granularity {
                Some(g) => format!("--granularity {}", g.name()),
                None => format!("granularity {}", effective_granularity.name()),
            };
            (
                "model",
                format!("`model {}` with {with}", effective_model.name()),
            )
        } else if granularity.is_none() && h.granularity.is_some() {
            (
                "granularity",
                format!(
                    "`granularity {}` with --model {}",
                    effective_granularity.name(),
                    effective_model.name()
                ),
            )
        } else {
            return Ok(());
        };
        let (line_number, col) = h.lines.get(line).copied().unwrap_or((1, 1));
        Err(ParseError::new(
            &self.file,
            line_number,
            col,
            format!(
                "found {found}, expected granularity access (at {} granularity memory is sequentially consistent; tso and pso need access)",
                effective_granularity.name()
            ),
        ))
    }

    /// `scenario NAME`, else the file's name without directories and `.scn`.
    pub fn name(&self) -> String {
        if let Some(name) = &self.header.name {
            return name.clone();
        }
        let base = self.file.rsplit(['/', '\\']).next().unwrap_or(&self.file);
        let base = base.strip_prefix("builtin:").unwrap_or(base);
        base.strip_suffix(".scn").unwrap_or(base).to_string()
    }

    pub fn description(&self) -> &str {
        self.header.description.as_deref().unwrap_or("")
    }

    /// A stable hash of the scenario's text ([`TraceHasher`]).
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The hash to give [`World::new`] for a run whose `random(n)` draws from `seed`:
    /// schedules recorded with one seed are refused for another.
    pub fn world_hash(&self, seed: u64) -> u64 {
        let mut h = TraceHasher::default();
        h.write_u64(self.hash);
        h.write_u64(seed);
        h.finish()
    }

    /// The header's defaults with `overrides` on top. Validate the result with
    /// [`Scenario::check_options`] before building a world.
    pub fn options(&self, overrides: &Overrides) -> Options {
        let h = &self.header;
        let defaults = Config::default();
        let machine = Config {
            cpus: overrides.cpus.or(h.cpus).unwrap_or(defaults.cpus),
            model: overrides.model.or(h.model).unwrap_or(defaults.model),
            granularity: overrides
                .granularity
                .or(h.granularity)
                .unwrap_or(defaults.granularity),
            hz: overrides.hz.or(h.hz).unwrap_or(defaults.hz),
            max_steps: overrides
                .max_steps
                .or(h.max_steps)
                .unwrap_or(defaults.max_steps),
            keep_trace: overrides.keep_trace,
            alloc_failures: h.alloc_failures.clone(),
            ..defaults
        };
        let kernel = KernelOptions {
            version: overrides.kernel.or(h.kernel).unwrap_or(KernelVersion::Seed),
            injections: overrides
                .injections
                .clone()
                .unwrap_or_else(|| h.injections.clone()),
            ..KernelOptions::default()
        };
        Options { machine, kernel }
    }

    /// Why this scenario cannot run on `kernel`: an injection of its header that has no
    /// line to mutate there (the reason [`kernel_model::Injection::applies_to`] gives), or
    /// the first system call it makes that the version's tree does not have (the reason
    /// [`KernelVersion::missing_syscall`] gives); `None` when it can run. Scenarios that cannot run are skipped for that
    /// version by `epsim list --kernel`, the snapshots and the library tests.
    pub fn unsupported_on(&self, kernel: KernelVersion) -> Option<&'static str> {
        // An injection of the header that has no line to mutate in this version.
        if let Some(why) = self
            .header
            .injections
            .iter()
            .find_map(|injection| injection.applies_to(kernel).err())
        {
            return Some(why);
        }
        let mut reason = None;
        let mut visit = |stmt: &ast::Stmt| {
            if let ast::StmtKind::Syscall { call, .. } = &stmt.kind {
                if reason.is_none() {
                    reason = kernel.missing_syscall(call.name.name());
                }
            }
        };
        for process in &self.processes {
            for task in &process.tasks {
                ast::walk(&task.body, &mut visit);
            }
        }
        for at in &self.interrupts {
            ast::walk(&at.body, &mut visit);
        }
        reason
    }

    /// The header's strategy, else `timed` (earliest virtual clock first).
    pub fn strategy(&self) -> StrategyKind {
        self.header.strategy.unwrap_or(StrategyKind::Timed)
    }

    /// The header's seed, else 0.
    pub fn seed(&self) -> u64 {
        self.header.seed.unwrap_or(0)
    }

    /// Whether `options` can run this scenario: the machine options are valid and every
    /// pinned task and interrupt names a CPU the machine has. One line on error.
    pub fn check_options(&self, options: &Options) -> Result<(), String> {
        options.machine.validate().map_err(|e| e.to_string())?;
        for injection in &options.kernel.injections {
            injection
                .applies_to(options.kernel.version)
                .map_err(str::to_string)?;
        }
        let cpus = options.machine.cpus;
        for process in &self.processes {
            for task in &process.tasks {
                if let Some(cpu) = task.cpu.filter(|&c| c as usize >= cpus) {
                    return Err(format!(
                        "{}:{}:{}: task `{}` is pinned to cpu {cpu}, but the machine has {cpus} CPUs",
                        self.file, task.span.line, task.span.col, task.name
                    ));
                }
            }
        }
        for at in &self.interrupts {
            if let Some(cpu) = at.cpu.filter(|&c| c as usize >= cpus) {
                return Err(format!(
                    "{}:{}:{}: this `at` block is pinned to cpu {cpu}, but the machine has {cpus} CPUs",
                    self.file, at.span.line, at.span.col
                ));
            }
        }
        let bodies = self
            .processes
            .iter()
            .flat_map(|p| p.tasks.iter().map(|t| &t.body))
            .chain(self.interrupts.iter().map(|a| &a.body));
        for body in bodies {
            self.check_nested_pins(body, cpus)?;
        }
        Ok(())
    }

    /// [`Scenario::check_options`] for the `thread`, `fork` and `at` statements of
    /// `block` (and the blocks inside it) pinned to a CPU by a literal number: such a pin
    /// is known before the run, so a machine without that CPU is refused up front, like
    /// a pinned task. (A pin computed at run time is checked when it is reached.)
    fn check_nested_pins(&self, block: &ast::Block, cpus: usize) -> Result<(), String> {
        use ast::{ExprKind, StmtKind};
        for stmt in block.iter() {
            let (what, cpu) = match &stmt.kind {
                StmtKind::Thread { name, cpu, .. } => (format!("thread `{}`", name.name), cpu),
                StmtKind::Fork { name, cpu, .. } => (format!("forked task `{}`", name.name), cpu),
                StmtKind::At { cpu, .. } => ("this `at` block".to_string(), cpu),
                _ => (String::new(), &None),
            };
            if let Some(ExprKind::Int(pin)) = cpu.as_ref().map(|e| &e.kind) {
                if *pin >= 0 && *pin as u64 >= cpus as u64 {
                    return Err(format!(
                        "{}:{}:{}: {what} is pinned to cpu {pin}, but the machine has {cpus} CPU{}",
                        self.file,
                        stmt.span.line,
                        stmt.span.col,
                        if cpus == 1 { "" } else { "s" }
                    ));
                }
            }
            match &stmt.kind {
                StmtKind::Repeat { body, .. }
                | StmtKind::Until { body, .. }
                | StmtKind::For { body, .. }
                | StmtKind::Thread { body, .. }
                | StmtKind::Fork { body, .. }
                | StmtKind::At { body, .. } => self.check_nested_pins(body, cpus)?,
                StmtKind::If { arms, otherwise } => {
                    for (_, then) in arms {
                        self.check_nested_pins(then, cpus)?;
                    }
                    if let Some(otherwise) = otherwise {
                        self.check_nested_pins(otherwise, cpus)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Populates `world` with the scenario's processes, tasks and interrupts. Results go
    /// to `recorder` (cleared first); `random(n)` draws from `recorder.seed()`. Use it as
    /// the `build` closure of [`kernel_model::explore`]'s functions:
    /// `&|w: &mut World<G>| scenario.build(w, &recorder)`.
    pub fn build<G: Granularity>(&self, world: &mut World<G>, recorder: &Recorder) {
        interp::build(self, world, recorder);
    }

    /// Runs once at the granularity `options` names, with `strategy` (this begins and
    /// ends its execution), and checks the expectations. `seed` seeds `random(n)`.
    /// `options` must have passed [`Scenario::check_options`].
    pub fn run(&self, options: &Options, seed: u64, strategy: &mut dyn Scheduler) -> RunOutput {
        match options.machine.granularity {
            GranularityKind::Syscall => self.run_at::<SyscallSteps>(options, seed, strategy),
            GranularityKind::Lock => self.run_at::<LockSteps>(options, seed, strategy),
            GranularityKind::Access => self.run_at::<AccessSteps>(options, seed, strategy),
        }
    }

    fn run_at<G: Granularity>(
        &self,
        options: &Options,
        seed: u64,
        strategy: &mut dyn Scheduler,
    ) -> RunOutput {
        let recorder = Recorder::with_seed(seed);
        let build = |world: &mut World<G>| self.build(world, &recorder);
        let outcome =
            kernel_model::explore::run_once(options, self.world_hash(seed), &build, strategy);
        let results = recorder.results();
        let verdict = self.verdict(&outcome, &results);
        let expectation_reports = verdict.failed.clone();
        RunOutput {
            outcome,
            results,
            expectation_reports,
            verdict,
        }
    }

    /// Explores many schedules at the granularity `options` names ([`kernel_model::explore`]).
    /// Failed in-task expectations count as `expectation` reports; `seed` seeds `random(n)`.
    pub fn explore(
        &self,
        options: &Options,
        seed: u64,
        explore: &ExploreOptions,
    ) -> ExploreSummary {
        match options.machine.granularity {
            GranularityKind::Syscall => self.explore_at::<SyscallSteps>(options, seed, explore),
            GranularityKind::Lock => self.explore_at::<LockSteps>(options, seed, explore),
            GranularityKind::Access => self.explore_at::<AccessSteps>(options, seed, explore),
        }
    }

    fn explore_at<G: Granularity>(
        &self,
        options: &Options,
        seed: u64,
        explore: &ExploreOptions,
    ) -> ExploreSummary {
        let recorder = Recorder::with_seed(seed).quiet();
        let build = |world: &mut World<G>| self.build(world, &recorder);
        kernel_model::explore::explore(options, self.world_hash(seed), &build, explore)
    }
}

/// A scenario of the library in `workloads/scenarios/`, compiled into the binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltinScenario {
    pub name: &'static str,
    pub text: &'static str,
}

impl BuiltinScenario {
    /// `builtin:NAME`, the file name used in errors and reports.
    pub fn file(&self) -> String {
        format!("builtin:{}", self.name)
    }

    /// Parses it (the tests guarantee that every built-in scenario parses).
    pub fn parse(&self) -> Result<Scenario, ParseError> {
        Scenario::parse(&self.file(), self.text)
    }

    /// The `description` line, read without a full parse.
    pub fn description(&self) -> String {
        self.parse()
            .map(|s| s.description().to_string())
            .unwrap_or_default()
    }
}

macro_rules! library {
    ($($name:literal),* $(,)?) => {
        &[$(BuiltinScenario {
            name: $name,
            text: include_str!(concat!("../../scenarios/", $name, ".scn")),
        }),*]
    };
}

/// Every scenario of the library, sorted by name.
pub const LIBRARY: &[BuiltinScenario] = library![
    "close-race",
    "dup-then-close",
    "et-basics",
    "eventfd-basics",
    "external-socket",
    "finding-2621-busy-loop",
    "finding-init-list-head-window",
    "finding-safewake-drops-wake",
    "finding-socket-poll-race",
    "fork-shared-file",
    "inject-ctl-without-sem",
    "inject-lock-without-irqsave",
    "inject-no-linked-check",
    "inject-no-pwake-deferral",
    "inject-no-reinject-wakeup",
    "inject-no-smp-mb",
    "inject-steal-without-lock",
    "inject-unhook-under-lock",
    "lt-basics",
    "mod-and-del",
    "nested-epoll",
    "oneshot-basics",
    "ready-order-maxevents",
    "seed-case-1-epfd-close",
    "seed-case-2-ctl-del",
    "seed-case-3-file-close",
    "seed-case-4-two-waiters",
    "seed-case-5-callback-race",
    "signals",
    "socketpair-basics",
    "totalmess",
];

/// The conformance suites, one subfolder of `workloads/scenarios/` each, named
/// `FOLDER/FILE`: the kernel's epoll selftests (`selftests/`) and LTP's epoll system
/// call tests (`ltp/`), rewritten as scenarios (docs/conformance.md). Kept apart from
/// [`LIBRARY`] so that the library's exploration tests and pinned trace hashes do not
/// run a hundred more scenarios; their own tests run each on every version.
pub const CONFORMANCE: &[BuiltinScenario] = library![
    "selftests/epoll1",
    "selftests/epoll2",
    "selftests/epoll3",
    "selftests/epoll4",
    "selftests/epoll5",
    "selftests/epoll6",
    "selftests/epoll7",
    "selftests/epoll8",
    "selftests/epoll9",
    "selftests/epoll10",
    "selftests/epoll11",
    "selftests/epoll12",
    "selftests/epoll13",
    "selftests/epoll14",
    "selftests/epoll15",
    "selftests/epoll16",
    "selftests/epoll17",
    "selftests/epoll18",
    "selftests/epoll19",
    "selftests/epoll20",
    "selftests/epoll21",
    "selftests/epoll22",
    "selftests/epoll23",
    "selftests/epoll24",
    "selftests/epoll25",
    "selftests/epoll26",
    "selftests/epoll27",
    "selftests/epoll28",
    "selftests/epoll29",
    "selftests/epoll30",
    "selftests/epoll31",
    "selftests/epoll32",
    "selftests/epoll33",
    "selftests/epoll34",
    "selftests/epoll35",
    "selftests/epoll36",
    "selftests/epoll37",
    "selftests/epoll38",
    "selftests/epoll39",
    "selftests/epoll40",
    "selftests/epoll41",
    "selftests/epoll42",
    "selftests/epoll43",
    "selftests/epoll44",
    "selftests/epoll45",
    "selftests/epoll46",
    "selftests/epoll47",
    "selftests/epoll48",
    "selftests/epoll49",
    "selftests/epoll50",
    "selftests/epoll51",
    "selftests/epoll52",
    "selftests/epoll53",
    "selftests/epoll54",
    "selftests/epoll55",
    "selftests/epoll56",
    "selftests/epoll57",
    "selftests/epoll58",
    "selftests/epoll59",
    "selftests/epoll60",
    "selftests/epoll61",
    "selftests/epoll62",
    "selftests/epoll63",
    "selftests/epoll64",
    "ltp/epoll_create01",
    "ltp/epoll_create02",
    "ltp/epoll_create03",
    "ltp/epoll_create1_01",
    "ltp/epoll_create1_02",
    "ltp/epoll_ctl01",
    "ltp/epoll_ctl02",
    "ltp/epoll_ctl03",
    "ltp/epoll_ctl04",
    "ltp/epoll_ctl05",
    "ltp/epoll_ctl07",
    "ltp/epoll_pwait01",
    "ltp/epoll_pwait01_pwait2",
    "ltp/epoll_pwait02",
    "ltp/epoll_pwait02_pwait2",
    "ltp/epoll_pwait03",
    "ltp/epoll_pwait03_pwait2",
    "ltp/epoll_pwait04",
    "ltp/epoll_pwait04_pwait2",
    "ltp/epoll_pwait05",
    "ltp/epoll_pwait06",
    "ltp/epoll_pwait06_pwait2",
    "ltp/epoll_wait01",
    "ltp/epoll_wait02",
    "ltp/epoll_wait03",
    "ltp/epoll_wait04",
    "ltp/epoll_wait05",
    "ltp/epoll_wait06",
    "ltp/epoll_wait07",
    "ltp/epoll_wait08",
    "ltp/epoll_wait09",
    "ltp/epoll_wait11",
    "ltp/epoll_wait12",
    "ltp/epoll_wait13",
    "ltp/epoll_wait14",
    "ltp/epoll_wait15",
    "ltp/epoll_wait16",
];

/// The built-in scenarios of the library, sorted by name.
pub fn list() -> &'static [BuiltinScenario] {
    LIBRARY
}

/// The conformance scenarios ([`CONFORMANCE`]), in suite order.
pub fn conformance() -> &'static [BuiltinScenario] {
    CONFORMANCE
}

/// Every built-in scenario: the library, then the conformance suites.
pub fn all() -> impl Iterator<Item = &'static BuiltinScenario> {
    LIBRARY.iter().chain(CONFORMANCE)
}

/// The built-in scenario called `name` (`selftests/epoll1` for a suite's).
pub fn builtin(name: &str) -> Option<&'static BuiltinScenario> {
    all().find(|s| s.name == name)
}
