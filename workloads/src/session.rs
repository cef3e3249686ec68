//! What `run`, `replay`, `explore`, `gen --run` and the demo share: finding a scenario
//! (a path or a built-in name), resolving the run options over its header, choosing the
//! strategy, and running it once — at the granularity the options name — keeping what
//! the outputs need (results, verdict, and on request the trace records rendered in
//! kernel terms).
//!
//! One rule ties the commands together: run `i` of `epsim explore --seed S` is exactly
//! `epsim run --seed S+i` with the same strategy. The seed feeds both the strategy and
//! the scenario's `random(n)`, and the seeded strategies (random, pct) are rebuilt for
//! every run from that seed alone, so a run does not depend on the runs before it (which
//! is also what lets `--jobs` and `--shard` split an exploration without changing it).

use std::collections::BTreeMap;
use std::path::Path;

use kernel_model::explore::Focus;
use kernel_model::{Options, Outcome, World};
use sim::machine::Action;
use sim::strategy::{
    ActionView, Canonical, DecisionView, Dfs, Pct, Random, RoundRobin, Scheduler, StrategyKind,
    Timed,
};
use sim::trace::Record;
use sim::{
    AccessSteps, Config, CpuId, Granularity, GranularityKind, LockSteps, Report, Schedule,
    ScheduleError, SyscallSteps, TaskId,
};

use crate::cli::CommonOpts;
use crate::exit::CliError;
use crate::logs::TARGET;
use crate::options::RunDefaults;
use crate::scenario::{builtin, Overrides, Recorder, Results, Scenario, Verdict};

/// PCT's bug depth (the number of priority change points is one less).
pub const PCT_DEPTH: u32 = 3;

/// Reads a scenario: `arg` is a path to a `.scn` file or the name of a built-in one.
/// A missing file, an unknown name and a syntax error (`file:line:col: ...`) are usage
/// errors.
pub fn load(arg: &str) -> Result<Scenario, CliError> {
    let path = Path::new(arg);
    if path.is_file() {
        let bytes = std::fs::read(path)
            .map_err(|error| CliError::usage(format!("cannot read {arg}: {error}")))?;
        return Scenario::parse_bytes(arg, &bytes)
            .map_err(|error| CliError::usage(error.to_string()));
    }
    if let Some(builtin) = builtin(arg) {
        let _span = tracing::info_span!(target: TARGET, "parse", builtin = arg).entered();
        return builtin
            .parse()
            .map_err(|error| CliError::usage(error.to_string()));
    }
    if path.exists() {
        return Err(CliError::usage(format!("{arg} is not a file")));
    }
    if arg.contains(['/', '\\']) || arg.ends_with(".scn") {
        return Err(CliError::usage(format!("cannot read {arg}: no such file")));
    }
    Err(CliError::usage(format!(
        "unknown scenario {arg:?}: no such file and no built-in scenario of that name (`epsim list` shows them)"
    )))
}

/// Parses scenario text; a syntax error is a usage error naming `file:line:col`.
pub fn parse(file: &str, text: &str) -> Result<Scenario, CliError> {
    let _span = tracing::info_span!(target: TARGET, "parse", file, bytes = text.len()).entered();
    Scenario::parse(file, text).map_err(|error| CliError::usage(error.to_string()))
}

/// The run options of one command, resolved over a scenario's header and validated.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// Machine and kernel options (`keep_trace` off; [`execute`] sets it).
    pub options: Options,
    /// Seeds the strategy and the scenario's `random(n)`.
    pub seed: u64,
    pub strategy: StrategyKind,
    /// A schedule to replay (then `strategy` is `Replay`).
    pub schedule: Option<Schedule>,
    pub json: bool,
    /// What the user typed, for the commands we print (`epsim replay ...`).
    pub given: CommonOpts,
}

impl Resolved {
    /// A one-line summary: `kernel 6192bd536f96, 2 CPUs, model sc, granularity lock, strategy
    /// random, seed 0`.
    pub fn describe(&self) -> String {
        let machine = &self.options.machine;
        let mut text = format!(
            "kernel {}, {} CPU{}, model {}, granularity {}, strategy {}, seed {}",
            self.options.kernel.version.name(),
            machine.cpus,
            if machine.cpus == 1 { "" } else { "s" },
            machine.model.name(),
            machine.granularity.name(),
            self.strategy.name(),
            self.seed
        );
        if !self.options.kernel.injections.is_empty() {
            let names: Vec<&str> = self
                .options
                .kernel
                .injections
                .iter()
                .map(|i| i.name())
                .collect();
            text.push_str(&format!(", inject {}", names.join(" ")));
        }
        text
    }
}

/// Resolves `common` over `scenario`'s header: the header gives the defaults, the command
/// line wins. Errors are one line (status 2).
pub fn resolve(scenario: &Scenario, common: &CommonOpts) -> Result<Resolved, CliError> {
    let header = &scenario.header;
    let machine = Config::default();
    let defaults = RunDefaults {
        cpus: header.cpus.unwrap_or(machine.cpus),
        kernel: header.kernel.unwrap_or(kernel_model::KernelVersion::Seed),
        model: header.model.unwrap_or(machine.model),
        granularity: header.granularity.unwrap_or(machine.granularity),
        strategy: scenario.strategy(),
    };
    scenario
        .check_header(
            common.model.map(|m| m.model()),
            common.granularity.map(|g| g.granularity()),
        )
        .map_err(|error| CliError::usage(error.to_string()))?;
    let run = common.resolve(&defaults)?;
    let overrides = Overrides {
        cpus: Some(run.machine.cpus),
        kernel: Some(run.kernel),
        model: Some(run.machine.model),
        granularity: Some(run.machine.granularity),
        injections: (!common.inject.is_empty()).then(|| run.injections.clone()),
        ..Overrides::default()
    };
    let options = scenario.options(&overrides);
    scenario.check_options(&options).map_err(CliError::usage)?;
    Ok(Resolved {
        options,
        seed: common.seed.unwrap_or_else(|| scenario.seed()),
        strategy: run.strategy,
        schedule: run.schedule,
        json: run.json,
        given: common.clone(),
    })
}

/// How a command chooses: the strategy, its seed and bounds. Seeded strategies are built
/// afresh for every run ([`Plan::strategy`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub kind: StrategyKind,
    /// dfs: the most preemptions per execution (`None`: no bound); `explore
    /// --preemption-bound`, by default [`crate::cli::PREEMPTION_BOUND_DEFAULT`].
    pub preemption_bound: Option<u32>,
    /// dfs: the most delayed store-buffer drains per execution (`None`: no bound);
    /// `explore --delay-bound`, by default [`crate::cli::DELAY_BOUND_DEFAULT`].
    pub delay_bound: Option<u32>,
    /// Take decisions at which only one CPU can step canonically
    /// ([`kernel_model::explore::Focus`]). On for random, pct and dfs.
    pub focus: bool,
    /// PCT spreads its change points over this many (focused) decisions: the length of
    /// the scenario's canonical run ([`pct_estimate`]).
    pub pct_estimate: u64,
}

impl Plan {
    pub fn new(kind: StrategyKind) -> Plan {
        Plan {
            kind,
            preemption_bound: Some(crate::cli::PREEMPTION_BOUND_DEFAULT),
            delay_bound: Some(crate::cli::DELAY_BOUND_DEFAULT),
            focus: matches!(
                kind,
                StrategyKind::Random | StrategyKind::Pct | StrategyKind::Dfs
            ),
            pct_estimate: 64,
        }
    }

    /// The plan of a single run of `scenario` with `kind` (calibrates PCT).
    pub fn for_run(scenario: &Scenario, options: &Options, kind: StrategyKind) -> Plan {
        let mut plan = Plan::new(kind);
        if kind == StrategyKind::Pct {
            plan.pct_estimate = pct_estimate(scenario, options);
        }
        plan
    }

    /// The strategy of the run with `seed`. (For dfs, one strategy serves a whole
    /// exploration: [`Dfs`] remembers where it is in the tree.)
    pub fn strategy(&self, seed: u64) -> Box<dyn Scheduler> {
        match self.kind {
            StrategyKind::Random => Box::new(Random::new(seed)),
            StrategyKind::Pct => Box::new(warmed_pct(seed, PCT_DEPTH, self.pct_estimate)),
            StrategyKind::RoundRobin => Box::new(RoundRobin),
            StrategyKind::Timed | StrategyKind::Replay => Box::new(Timed::new(seed)),
            StrategyKind::Dfs => Box::new(Dfs::new(self.preemption_bound, self.delay_bound)),
            StrategyKind::Dpor => Box::new(sim::strategy::Dpor::new()),
        }
    }
}

/// A PCT instance that believes runs are `estimate` decisions long, so its change points
/// fall anywhere in a run — without depending on the runs before it. ([`Pct`] learns the
/// length from the runs it sees; here it is shown one dummy run of that length.)
pub fn warmed_pct(seed: u64, depth: u32, estimate: u64) -> Pct {
    let mut pct = Pct::new(seed, depth);
    pct.begin_execution();
    let actions = [ActionView {
        action: Action::Run { cpu: CpuId(0) },
        pending: None,
        time_ns: 0,
    }];
    for decision in 0..estimate.max(1) {
        pct.choose(&DecisionView {
            decision,
            step: decision,
            actions: &actions,
            last_cpu: CpuId(0),
            model: sim::MemoryModel::Sc,
        });
    }
    pct.end_execution();
    pct
}

/// Counts the decisions its inner strategy is asked.
struct Counting<'a> {
    inner: &'a mut dyn Scheduler,
    count: u64,
}

impl Scheduler for Counting<'_> {
    fn begin_execution(&mut self) -> bool {
        self.inner.begin_execution()
    }

    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        self.count += 1;
        self.inner.choose(view)
    }

    fn end_execution(&mut self) {
        self.inner.end_execution()
    }
}

/// How many racing decisions (those [`Focus`] passes on) the scenario's canonical run
/// takes with its own seed: PCT's estimate of a run's length.
pub fn pct_estimate(scenario: &Scenario, options: &Options) -> u64 {
    let mut canonical = Canonical::default();
    let mut counting = Counting {
        inner: &mut canonical,
        count: 0,
    };
    let mut focus = Focus {
        inner: &mut counting,
    };
    let _ = execute(
        scenario,
        options,
        scenario.seed(),
        Capture::Nothing,
        Drive::Strategy(&mut focus),
    );
    counting.count.max(1)
}

/// What drives a run: a strategy (which [`execute`] begins and ends) or a schedule
/// replayed strictly.
pub enum Drive<'a> {
    Strategy(&'a mut dyn Scheduler),
    Replay(&'a Schedule),
}

/// What to keep of a run besides its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// Calls are not recorded, no trace (exploration).
    Nothing,
    /// Calls, results and expectations (the default for `run`).
    Results,
    /// ... and every trace record, rendered in kernel terms.
    Trace,
    /// ... and every change of the machine's state, for a step-through view.
    View,
}

/// The trace of a run, with each record rendered while the machine was still there.
#[derive(Clone, Debug, Default)]
pub struct TraceCapture {
    pub records: Vec<Record>,
    /// `sim::narrate::describe` of each record.
    pub lines: Vec<String>,
    /// `sim::narrate::prefix` of each record (`step time cpu task`).
    pub prefixes: Vec<String>,
    /// Hash of the trace after each hashed record (not after notes).
    pub step_hashes: Vec<u64>,
    /// What a watched run observed ([`Capture::View`]), for its step-through view.
    pub observed: Option<crate::view::Observed>,
}

/// One run and what came of it.
#[derive(Clone, Debug)]
pub struct Executed {
    pub outcome: Outcome,
    pub results: Results,
    /// Its run-level expectation failures are `verdict.failed`.
    pub verdict: Verdict,
    /// Task names by id (those the run's records and reports mention).
    pub task_names: BTreeMap<u32, String>,
    pub trace: Option<TraceCapture>,
    /// For each report of `outcome`, the documented finding of the 2007 code it is, if
    /// it is one ([`classify_findings`]).
    pub findings: Vec<Option<&'static str>>,
    /// The options the run used (with `keep_trace` as captured).
    pub options: Options,
    pub seed: u64,
}

impl Executed {
    pub fn task_name(&self, task: Option<TaskId>) -> Option<String> {
        let task = task?;
        Some(
            self.task_names
                .get(&task.0)
                .cloned()
                .unwrap_or_else(|| task.to_string()),
        )
    }

    /// Every report of the run: the machine's and the kernel checkers', then the
    /// run-level expectation failures.
    pub fn violations(&self) -> Vec<&Report> {
        self.outcome
            .reports()
            .iter()
            .chain(self.verdict.failed.iter())
            .collect()
    }
}

/// Runs `scenario` once. `seed` seeds `random(n)`; the world is bound to it, so a
/// schedule recorded with one seed is refused ([`ScheduleError::ConfigMismatch`]) for
/// another.
pub fn execute(
    scenario: &Scenario,
    options: &Options,
    seed: u64,
    capture: Capture,
    drive: Drive<'_>,
) -> Result<Executed, ScheduleError> {
    match options.machine.granularity {
        GranularityKind::Syscall => {
            execute_at::<SyscallSteps>(scenario, options, seed, capture, drive)
        }
        GranularityKind::Lock => execute_at::<LockSteps>(scenario, options, seed, capture, drive),
        GranularityKind::Access => {
            execute_at::<AccessSteps>(scenario, options, seed, capture, drive)
        }
    }
}

fn execute_at<G: Granularity>(
    scenario: &Scenario,
    options: &Options,
    seed: u64,
    capture: Capture,
    drive: Drive<'_>,
) -> Result<Executed, ScheduleError> {
    let mut options = options.clone();
    options.machine.keep_trace = matches!(capture, Capture::Trace | Capture::View);
    options.machine.observe = capture == Capture::View;
    let recorder = match capture {
        Capture::Nothing => Recorder::with_seed(seed).quiet(),
        Capture::Results | Capture::Trace | Capture::View => Recorder::with_seed(seed),
    };
    let mut world = World::<G>::new(&options, scenario.world_hash(seed))
        .expect("options were validated by the caller");
    tracing::info_span!(target: TARGET, "build", scenario = %scenario.name())
        .in_scope(|| scenario.build(&mut world, &recorder));
    let span = tracing::info_span!(
        target: TARGET,
        "run",
        scenario = %scenario.name(),
        seed,
        granularity = options.machine.granularity.name(),
        steps = tracing::field::Empty,
    )
    .entered();
    let outcome = match drive {
        Drive::Strategy(strategy) => {
            strategy.begin_execution();
            let outcome = world.run(strategy);
            strategy.end_execution();
            outcome
        }
        Drive::Replay(schedule) => {
            world.machine_mut().set_replay(schedule.clone())?;
            let mut canonical = Canonical::default();
            canonical.begin_execution();
            world.run(&mut canonical)
        }
    };
    span.record("steps", outcome.result.steps);
    drop(span);
    // The run is over: nothing records any more.
    let results = recorder.take_results();
    let verdict = scenario.verdict(&outcome, &results);
    let findings = classify_findings(&world, &options, &outcome);
    let machine = world.machine();
    let state = machine.state();
    let mut task_names = BTreeMap::new();
    let mut name = |task: Option<TaskId>| {
        if let Some(task) = task {
            task_names
                .entry(task.0)
                .or_insert_with(|| state.task_name(task));
        }
    };
    for report in outcome.reports() {
        name(report.task);
    }
    for task in &results.tasks {
        name(task.id);
    }
    let observed = (capture == Capture::View).then(|| crate::view::observe_world(&world));
    let trace = if matches!(capture, Capture::Trace | Capture::View) {
        let records = machine.take_records();
        for record in &records {
            name(record.task);
            if let sim::trace::TraceEvent::Switch { to } = record.event {
                name(to);
            }
        }
        let lines = records
            .iter()
            .map(|r| sim::narrate::describe(state, r))
            .collect();
        let prefixes = records
            .iter()
            .map(|r| sim::narrate::prefix(state, r))
            .collect();
        Some(TraceCapture {
            records,
            lines,
            prefixes,
            step_hashes: machine.step_hashes(),
            observed,
        })
    } else {
        None
    };
    Ok(Executed {
        outcome,
        results,
        verdict,
        task_names,
        trace,
        findings,
        options,
        seed,
    })
}

/// For each report of `outcome`, the documented finding of the 2007 code it is
/// (`kernel_model::check::classify_finding`, which looks at the kernel the run left),
/// or `None`. Only for the unmodified port: with an injection every report is new.
pub fn classify_findings<G: Granularity>(
    world: &World<G>,
    options: &Options,
    outcome: &Outcome,
) -> Vec<Option<&'static str>> {
    if !options.kernel.injections.is_empty() {
        return vec![None; outcome.reports().len()];
    }
    let kernel = world.kernel();
    outcome
        .reports()
        .iter()
        .map(|report| kernel_model::check::classify_finding(&kernel, report))
        .collect()
}

/// Runs `scenario` once as `resolved` says: its schedule strictly if it has one, else
/// its strategy seeded with its seed.
pub fn execute_resolved(
    scenario: &Scenario,
    resolved: &Resolved,
    capture: Capture,
) -> Result<Executed, CliError> {
    let result = match &resolved.schedule {
        Some(schedule) => execute(
            scenario,
            &resolved.options,
            resolved.seed,
            capture,
            Drive::Replay(schedule),
        ),
        None => {
            let plan = Plan::for_run(scenario, &resolved.options, resolved.strategy);
            let mut strategy = plan.strategy(resolved.seed);
            if plan.focus {
                let mut focus = Focus {
                    inner: strategy.as_mut(),
                };
                execute(
                    scenario,
                    &resolved.options,
                    resolved.seed,
                    capture,
                    Drive::Strategy(&mut focus),
                )
            } else {
                execute(
                    scenario,
                    &resolved.options,
                    resolved.seed,
                    capture,
                    Drive::Strategy(strategy.as_mut()),
                )
            }
        }
    };
    result.map_err(|error| schedule_error(&error))
}

/// A schedule that cannot be used at all (malformed, another version, recorded for
/// another scenario or other options) is an input error: status 2.
pub fn schedule_error(error: &ScheduleError) -> CliError {
    match error {
        ScheduleError::ConfigMismatch { .. } => CliError::usage(format!(
            "--schedule: {error}; replay it with the scenario, --seed and options it was recorded with"
        )),
        _ => CliError::usage(format!("--schedule: {error}")),
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The command that replays `schedule` of `scenario_arg` with the options of `resolved`
/// and `seed`: the options the user gave are repeated (the header gives the rest).
pub fn replay_command(
    scenario_arg: &str,
    resolved: &Resolved,
    seed: u64,
    schedule: &str,
) -> String {
    let mut words: Vec<String> = vec![
        "epsim".into(),
        "replay".into(),
        shell_quote(scenario_arg),
        "--schedule".into(),
        schedule.to_string(),
        "--seed".into(),
        seed.to_string(),
    ];
    let machine = &resolved.options.machine;
    let given = &resolved.given;
    if given.cpus.is_some() {
        words.push(format!("--cpus {}", machine.cpus));
    }
    if given.kernel.is_some() {
        words.push(format!(
            "--kernel {}",
            resolved.options.kernel.version.name()
        ));
    }
    if given.model.is_some() {
        words.push(format!("--model {}", machine.model.name()));
    }
    if given.granularity.is_some() {
        words.push(format!("--granularity {}", machine.granularity.name()));
    }
    if !given.inject.is_empty() {
        for injection in &resolved.options.kernel.injections {
            words.push(format!("--inject {}", injection.name()));
        }
    }
    words.join(" ")
}

/// The first step at which two runs' per-step hashes differ: `(index of the hashed
/// record, step number)`, or `None` if one is a prefix of the other and the lengths match.
pub fn first_divergence(a: &TraceCapture, b: &TraceCapture) -> Option<(usize, u64)> {
    let index = a
        .step_hashes
        .iter()
        .zip(&b.step_hashes)
        .position(|(x, y)| x != y)
        .or_else(|| {
            (a.step_hashes.len() != b.step_hashes.len())
                .then(|| a.step_hashes.len().min(b.step_hashes.len()))
        })?;
    let step = hashed_records(a)
        .nth(index)
        .or_else(|| hashed_records(b).nth(index))
        .map_or(index as u64, |r| r.step);
    Some((index, step))
}

/// The records that the trace hash covers (not notes).
pub fn hashed_records(trace: &TraceCapture) -> impl Iterator<Item = &Record> {
    trace
        .records
        .iter()
        .filter(|r| !matches!(r.event, sim::trace::TraceEvent::Note { .. }))
}
