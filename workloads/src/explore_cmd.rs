//! `epsim explore SCENARIO`: many runs under a strategy; counts runs, distinct traces
//! and reports by kind; shrinks the first report's schedule and prints the `epsim
//! replay` command that reproduces it.
//!
//! Run `i` is exactly `epsim run SCENARIO --strategy K --seed S+i` (see
//! [`crate::session`]): its strategy and the scenario's `random(n)` are seeded with
//! `S+i` and nothing else, so runs can be spread over threads (`--jobs`) and machines
//! (`--shard`) and the merged result is the same: counts are sums, distinct traces a
//! union of trace hashes, and the first report the one of the lowest run index. DFS is
//! one search through one tree: it runs on one thread, whatever `--jobs` says, and
//! cannot be sharded; every DFS run uses the seed `S`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kernel_model::explore::{run_world, shrink_by, Focus};
use kernel_model::{Options, Outcome, World};
use serde::{Deserialize, Serialize};
use sim::strategy::{CutBranches, Dfs, Dpor, Scheduler, StrategyKind};
use sim::{
    AccessSteps, Granularity, GranularityKind, LockSteps, ReportKind, Schedule, SyscallSteps,
};

use crate::cli::{CommonOpts, ExploreArgs};
use crate::exit::{CliError, Exit};
use crate::logs::TARGET;
use crate::output::{per_second, write_json};
use crate::run_cmd;
use crate::scenario::{Recorder, Results, Scenario};
use crate::session::{self, Plan, Resolved};

/// Threads get big stacks: kernel futures nest deeply in debug builds.
const WORKER_STACK: usize = 64 << 20;

/// `--shard I/N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("--shard {text:?}: expected I/N, e.g. 0/4"))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| format!("--shard {text:?}: I must be a whole number from 0 to N-1"))?;
        let count: u64 = n.trim().parse().map_err(|_| {
            format!(
                "--shard {text:?}: N must be a whole number from 1 to {}",
                u64::MAX
            )
        })?;
        if count == 0 || index >= count {
            return Err(format!(
                "--shard {text:?}: needs 0 <= I < N, N at least 1 (shards are numbered from 0)"
            ));
        }
        Ok(Shard { index, count })
    }

    /// How many of the run indices `0..runs` are this shard's.
    pub fn len(&self, runs: u64) -> u64 {
        if runs <= self.index {
            0
        } else {
            (runs - self.index).div_ceil(self.count)
        }
    }

    /// The run index of this shard's `position`-th run.
    pub fn run_index(&self, position: u64) -> u64 {
        self.index + position * self.count
    }
}

/// A run with a report, as the exploration remembers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub run: u64,
    pub seed: u64,
    pub kind: ReportKind,
    pub message: String,
    pub schedule: Schedule,
    /// The failure is a run-level expectation (no machine report to look for).
    pub run_level: bool,
}

/// What a set of runs found; tallies of disjoint sets of runs merge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub runs: u64,
    pub hashes: BTreeSet<u64>,
    /// Runs with at least one report of each kind.
    pub reports: BTreeMap<ReportKind, u64>,
    /// Kinds the scenario expects (`expect report KIND`) that some run made.
    pub expected_found: BTreeSet<ReportKind>,
    /// The lowest-index run with a report the scenario does not expect.
    pub first_unexpected: Option<Found>,
    /// The lowest-index run with any report.
    pub first_any: Option<Found>,
    /// Runs in which each documented finding of the 2007 code showed
    /// (`kernel_model::check::classify_finding`; only without injections).
    pub findings: BTreeMap<&'static str, u64>,
    /// The lowest-index run of each finding.
    pub first_findings: BTreeMap<&'static str, Found>,
    /// DFS ran out of executions: every execution within its bounds was tried. It was
    /// exhaustive only if, besides, `cut` is zero.
    pub search_complete: bool,
    /// DFS: the branches its bounds cut.
    pub cut: CutBranches,
    /// Runs stopped by their step budget (`max steps`): a search is not exhaustive
    /// past one.
    pub step_limited: u64,
    /// DPOR: a run did not follow the path the search replayed.
    pub diverged: bool,
    /// DPOR: executions that added nothing (sleep-set blocked).
    pub redundant: u64,
}

fn earlier(a: Option<Found>, b: Option<Found>) -> Option<Found> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.run < a.run { b } else { a }),
        (a, b) => a.or(b),
    }
}

impl Tally {
    pub fn merge(mut self, other: Tally) -> Tally {
        self.runs += other.runs;
        self.hashes.extend(other.hashes);
        for (kind, n) in other.reports {
            *self.reports.entry(kind).or_insert(0) += n;
        }
        self.expected_found.extend(other.expected_found);
        self.first_unexpected = earlier(self.first_unexpected, other.first_unexpected);
        self.first_any = earlier(self.first_any, other.first_any);
        for (name, n) in other.findings {
            *self.findings.entry(name).or_insert(0) += n;
        }
        for (name, found) in other.first_findings {
            let mine = self.first_findings.remove(name);
            if let Some(first) = earlier(mine, Some(found)) {
                self.first_findings.insert(name, first);
            }
        }
        self.search_complete |= other.search_complete;
        self.cut.by_preemption_bound += other.cut.by_preemption_bound;
        self.cut.by_delay_bound += other.cut.by_delay_bound;
        self.step_limited += other.step_limited;
        self.diverged |= other.diverged;
        self.redundant += other.redundant;
        self
    }

    /// DFS or DPOR was exhaustive: it finished, no bound cut a branch (every reachable
    /// outcome was reached; sleep sets try interleavings that only reorder independent
    /// steps once), and — DPOR — no run was stopped by its step budget and no replay
    /// diverged.
    pub fn exhaustive(&self) -> bool {
        self.search_complete && self.cut.total() == 0 && self.step_limited == 0 && !self.diverged
    }

    /// The report to show: the first unexpected one, else the first of any kind.
    pub fn first(&self) -> Option<&Found> {
        self.first_unexpected.as_ref().or(self.first_any.as_ref())
    }
}

/// The scenario without its `expect report` lines: its run-level checks are what a
/// single run must pass whether or not it made the expected report.
fn loose(scenario: &Scenario) -> Scenario {
    let mut loose = scenario.clone();
    loose.header.expect_reports.clear();
    loose
}

/// Files one run into `tally`. `known[i]` names the documented finding that report `i`
/// of the run is, if it is one: such reports are counted apart, and the expectation
/// failures of a run that made one are taken as its consequences.
#[allow(clippy::too_many_arguments)]
fn classify(
    scenario: &Scenario,
    loose: &Scenario,
    run: u64,
    seed: u64,
    outcome: &Outcome,
    results: &Results,
    known: &[Option<&'static str>],
    tally: &mut Tally,
) {
    tally.runs += 1;
    tally.hashes.insert(outcome.result.trace_hash);
    let found = |kind: ReportKind, message: String, run_level: bool| Found {
        run,
        seed,
        kind,
        message,
        schedule: outcome.result.schedule.clone(),
        run_level,
    };
    let expected = scenario.expected_reports();
    let mut findings = BTreeSet::new();
    for (report, name) in outcome.reports().iter().zip(known) {
        if let Some(name) = name {
            // A scenario written to show a finding (`finding-*.scn`) expects its kind:
            // the report is what it asks for, and is still counted as the finding.
            if expected.contains(&report.kind) {
                tally.expected_found.insert(report.kind);
            }
            if findings.insert(*name) {
                *tally.findings.entry(name).or_insert(0) += 1;
                tally
                    .first_findings
                    .entry(name)
                    .or_insert_with(|| found(report.kind, report.message.clone(), false));
            }
        }
    }
    let mut kinds = BTreeSet::new();
    let mut unexpected: Option<(ReportKind, String, bool)> = None;
    let mut any: Option<(ReportKind, String, bool)> = None;
    for (index, report) in outcome.reports().iter().enumerate() {
        if known.get(index).copied().flatten().is_some()
            || (!findings.is_empty() && report.kind == ReportKind::Expectation)
        {
            continue;
        }
        kinds.insert(report.kind);
        let bad = if report.kind == ReportKind::Expectation {
            true
        } else if expected.contains(&report.kind) {
            tally.expected_found.insert(report.kind);
            false
        } else {
            expected.is_empty()
        };
        if bad && unexpected.is_none() {
            unexpected = Some((report.kind, report.message.clone(), false));
        }
        if any.is_none() || (expected.contains(&report.kind) && unexpected.is_none()) {
            any = Some((report.kind, report.message.clone(), false));
        }
    }
    if findings.is_empty() {
        if let Some(failure) = loose.check_expectations(outcome, results).first() {
            kinds.insert(ReportKind::Expectation);
            if unexpected.is_none() {
                unexpected = Some((ReportKind::Expectation, failure.message.clone(), true));
            }
            any.get_or_insert((ReportKind::Expectation, failure.message.clone(), true));
        }
    }
    for kind in kinds {
        *tally.reports.entry(kind).or_insert(0) += 1;
    }
    if tally.first_unexpected.is_none() {
        tally.first_unexpected = unexpected.map(|(k, m, r)| found(k, m, r));
    }
    if tally.first_any.is_none() {
        tally.first_any = any.map(|(k, m, r)| found(k, m, r));
    }
}

/// What one exploration is asked to do.
#[derive(Clone, Debug)]
pub struct Job {
    /// The scenario's file name (for errors) and text: every thread parses its own
    /// (scenarios and worlds are not `Send`).
    pub file: String,
    pub text: String,
    pub options: Options,
    pub plan: Plan,
    /// Seed of run 0.
    pub seed: u64,
    pub runs: u64,
    pub jobs: usize,
    pub shard: Shard,
    pub time_limit: Option<Duration>,
}

/// Runs done so far, for a progress bar; and the flag that stops the workers.
#[derive(Default)]
pub struct Progress {
    pub done: AtomicU64,
    pub finished: AtomicBool,
    /// When set (by Ctrl-C: [`crate::interrupt::flag`]), workers start no new run; each
    /// finishes the run it is in.
    pub stop: Option<&'static AtomicBool>,
}

impl Progress {
    /// Whether the workers must start no new run.
    pub fn stopping(&self) -> bool {
        self.stop.is_some_and(|flag| flag.load(Ordering::SeqCst))
    }
}

/// Explores: random, pct, timed and round-robin runs spread over `job.jobs` threads;
/// dfs and dpor on one thread.
pub fn explore(job: &Job, progress: &Progress) -> Result<Tally, CliError> {
    if matches!(job.plan.kind, StrategyKind::Dfs | StrategyKind::Dpor) {
        return std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(WORKER_STACK)
                .spawn_scoped(s, || dfs_worker(job, progress))
                .map_err(|e| CliError::usage(format!("cannot start a thread: {e}")))?
                .join()
                .expect("the exploration thread panicked")
        });
    }
    let next = AtomicU64::new(0);
    let deadline = job.time_limit.map(|limit| Instant::now() + limit);
    let tallies: Vec<Result<Tally, CliError>> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for _ in 0..worker_count(job.jobs, job.shard.len(job.runs)) {
            let next = &next;
            let handle = std::thread::Builder::new()
                .stack_size(WORKER_STACK)
                .spawn_scoped(s, move || seeded_worker(job, next, deadline, progress));
            match handle {
                Ok(handle) => handles.push(handle),
                Err(e) => return vec![Err(CliError::usage(format!("cannot start a thread: {e}")))],
            }
        }
        handles
            .into_iter()
            .map(|h| h.join().expect("an exploration thread panicked"))
            .collect()
    });
    let mut total = Tally::default();
    for tally in tallies {
        total = total.merge(tally?);
    }
    Ok(total)
}

fn seeded_worker(
    job: &Job,
    next: &AtomicU64,
    deadline: Option<Instant>,
    progress: &Progress,
) -> Result<Tally, CliError> {
    let _span =
        tracing::info_span!(target: TARGET, "explore worker", strategy = job.plan.kind.name())
            .entered();
    let scenario = session::parse(&job.file, &job.text)?;
    Ok(match job.options.machine.granularity {
        GranularityKind::Syscall => {
            seeded_runs::<SyscallSteps>(&scenario, job, next, deadline, progress)
        }
        GranularityKind::Lock => seeded_runs::<LockSteps>(&scenario, job, next, deadline, progress),
        GranularityKind::Access => {
            seeded_runs::<AccessSteps>(&scenario, job, next, deadline, progress)
        }
    })
}

/// One run on a fresh world; the strategy is begun and ended by the caller. Also says,
/// for each report, which documented finding it is (without injections only: the
/// findings are behaviours of the unmodified port).
fn one_run<G: Granularity>(
    scenario: &Scenario,
    options: &Options,
    seed: u64,
    strategy: &mut dyn Scheduler,
) -> (Outcome, Results, Vec<Option<&'static str>>) {
    let _span = tracing::debug_span!(target: TARGET, "run", seed).entered();
    let recorder = Recorder::with_seed(seed).quiet();
    let build = |world: &mut World<G>| {
        tracing::debug_span!(target: TARGET, "build").in_scope(|| scenario.build(world, &recorder))
    };
    let (world, outcome) = run_world(options, scenario.world_hash(seed), &build, strategy);
    let known = session::classify_findings(&world, options, &outcome);
    (outcome, recorder.results(), known)
}

fn seeded_runs<G: Granularity>(
    scenario: &Scenario,
    job: &Job,
    next: &AtomicU64,
    deadline: Option<Instant>,
    progress: &Progress,
) -> Tally {
    let loose = loose(scenario);
    let mut tally = Tally::default();
    let count = job.shard.len(job.runs);
    loop {
        if progress.stopping() || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let position = next.fetch_add(1, Ordering::Relaxed);
        if position >= count {
            break;
        }
        let run = job.shard.run_index(position);
        let seed = job.seed.wrapping_add(run);
        let mut inner = job.plan.strategy(seed);
        let mut focus = Focus {
            inner: inner.as_mut(),
        };
        let strategy: &mut dyn Scheduler = if job.plan.focus {
            &mut focus
        } else {
            focus.inner
        };
        strategy.begin_execution();
        let (outcome, results, known) = one_run::<G>(scenario, &job.options, seed, strategy);
        strategy.end_execution();
        classify(
            scenario, &loose, run, seed, &outcome, &results, &known, &mut tally,
        );
        progress.done.fetch_add(1, Ordering::Relaxed);
    }
    tally
}

fn dfs_worker(job: &Job, progress: &Progress) -> Result<Tally, CliError> {
    let _span =
        tracing::info_span!(target: TARGET, "explore worker", strategy = job.plan.kind.name())
            .entered();
    let scenario = session::parse(&job.file, &job.text)?;
    Ok(match job.options.machine.granularity {
        GranularityKind::Syscall => dfs_runs::<SyscallSteps>(&scenario, job, progress),
        GranularityKind::Lock => dfs_runs::<LockSteps>(&scenario, job, progress),
        GranularityKind::Access => dfs_runs::<AccessSteps>(&scenario, job, progress),
    })
}

/// The search of a dfs or dpor exploration.
enum Search {
    Dfs(Dfs),
    Dpor(Dpor),
}

fn dfs_runs<G: Granularity>(scenario: &Scenario, job: &Job, progress: &Progress) -> Tally {
    let loose = loose(scenario);
    let deadline = job.time_limit.map(|limit| Instant::now() + limit);
    let mut tally = Tally::default();
    let mut search = if job.plan.kind == StrategyKind::Dpor {
        Search::Dpor(Dpor::new())
    } else {
        Search::Dfs(Dfs::new(job.plan.preemption_bound, job.plan.delay_bound).with_sleep_sets())
    };
    let inner: &mut dyn Scheduler = match &mut search {
        Search::Dfs(dfs) => dfs,
        Search::Dpor(dpor) => dpor,
    };
    let mut focus = Focus { inner };
    let strategy: &mut dyn Scheduler = if job.plan.focus {
        &mut focus
    } else {
        focus.inner
    };
    for run in 0..job.runs {
        if progress.stopping() || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if !strategy.begin_execution() {
            tally.search_complete = true;
            break;
        }
        let (outcome, results, known) = one_run::<G>(scenario, &job.options, job.seed, strategy);
        strategy.end_execution();
        if outcome.result.end == sim::RunEnd::StepLimit {
            tally.step_limited += 1;
        }
        classify(
            scenario, &loose, run, job.seed, &outcome, &results, &known, &mut tally,
        );
        progress.done.fetch_add(1, Ordering::Relaxed);
    }
    if !tally.search_complete && tally.runs == job.runs && !progress.stopping() {
        tally.search_complete = !strategy.begin_execution();
    }
    match &search {
        Search::Dfs(dfs) => tally.cut = dfs.cut(),
        Search::Dpor(dpor) => {
            tally.diverged = dpor.diverged;
            tally.redundant = dpor.redundant();
        }
    }
    tally
}

/// Shrinks the schedule of `found` (fewer deviations, fewer steps), keeping a report of
/// its kind (or, for a run-level expectation, the failure; for a documented finding,
/// a report that is that finding).
pub fn shrink(
    scenario: &Scenario,
    options: &Options,
    found: &Found,
    finding: Option<&'static str>,
) -> Schedule {
    let _span = tracing::info_span!(
        target: TARGET,
        "shrink",
        kind = found.kind.name(),
        finding,
        deviations = found.schedule.deviation_count()
    )
    .entered();
    match options.machine.granularity {
        GranularityKind::Syscall => shrink_at::<SyscallSteps>(scenario, options, found, finding),
        GranularityKind::Lock => shrink_at::<LockSteps>(scenario, options, found, finding),
        GranularityKind::Access => shrink_at::<AccessSteps>(scenario, options, found, finding),
    }
}

fn shrink_at<G: Granularity>(
    scenario: &Scenario,
    options: &Options,
    found: &Found,
    finding: Option<&'static str>,
) -> Schedule {
    let loose = loose(scenario);
    let recorder = Recorder::with_seed(found.seed).quiet();
    let build = |world: &mut World<G>| scenario.build(world, &recorder);
    let kind = found.kind;
    let run_level = found.run_level;
    let fails = |kernel: &kernel_model::Kernel<G>, outcome: &Outcome| {
        if let Some(name) = finding {
            outcome
                .reports()
                .iter()
                .any(|r| kernel_model::check::classify_finding(kernel, r) == Some(name))
        } else if run_level {
            !loose
                .check_expectations(outcome, &recorder.results())
                .is_empty()
        } else {
            outcome.has_report(kind)
        }
    };
    shrink_by(
        options,
        scenario.world_hash(found.seed),
        &build,
        &found.schedule,
        &fails,
    )
}

/// The strategy an exploration uses: `--strategy`, else the header's if it is one that
/// explores (random, pct, dfs), else random.
fn explore_strategy(scenario: &Scenario, common: &CommonOpts) -> Result<StrategyKind, CliError> {
    if common.schedule.is_some() {
        return Err(CliError::usage(
            "explore makes its own schedules; replay one with `epsim replay SCENARIO --schedule STRING`",
        ));
    }
    let kind = match common.strategy {
        Some(arg) => arg.kind(),
        None => match scenario.header.strategy {
            Some(
                k @ (StrategyKind::Random
                | StrategyKind::Pct
                | StrategyKind::Dfs
                | StrategyKind::Dpor),
            ) => k,
            _ => StrategyKind::Random,
        },
    };
    if kind == StrategyKind::Replay {
        return Err(CliError::usage(
            "--strategy replay follows one schedule; use `epsim replay`",
        ));
    }
    Ok(kind)
}

/// `first_report` of the JSON output.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FirstReportJson {
    pub kind: String,
    /// The scenario does not expect this report: it fails the exploration. The first
    /// report is the lowest-index unexpected one if there is one, else the lowest-index
    /// one of any kind (so shards' first reports merge: `epsim merge`).
    #[serde(default)]
    pub unexpected: bool,
    /// The run's index (its seed is the exploration's seed plus it; dfs: the execution).
    pub run: u64,
    pub seed: u64,
    /// The report's one-line message.
    pub message: String,
    pub schedule: String,
    pub shrunk_schedule: Option<String>,
    pub replay_command: String,
}

/// One documented finding of the 2007 code in the JSON output (`findings`, keyed by the
/// finding's name): what the text's `known finding` lines say.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FindingJson {
    /// Runs in which it showed.
    pub runs: u64,
    /// Its lowest-index run (`kind`: the report kind it shows as, e.g.
    /// `list-corruption`), with the command that reproduces it.
    pub first: FirstReportJson,
}

/// The JSON of an exploration (a stable shape: scripts depend on it; fields are only
/// ever added).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExploreJson {
    pub scenario: String,
    /// The options of the runs (`options:` of the text), seed and strategy included.
    #[serde(default)]
    pub options: String,
    /// `--shard I/N`, or `null`: every run.
    #[serde(default)]
    pub shard: Option<ShardJson>,
    /// With `--shard` only: the trace hash of every distinct trace (16 hex digits,
    /// sorted), so that `epsim merge` counts the distinct traces of the union exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_hashes: Option<Vec<String>>,
    /// Runs made.
    pub runs: u64,
    /// Runs this exploration (this shard) was asked to make; more than `runs` when the
    /// time limit or Ctrl-C stopped it, or a dfs search was complete.
    pub runs_planned: u64,
    pub distinct_traces: u64,
    pub reports: BTreeMap<String, u64>,
    pub findings: BTreeMap<String, FindingJson>,
    pub first_report: Option<FirstReportJson>,
    /// The report kinds the scenario expects (`expect report KIND`) that no run made.
    #[serde(default)]
    pub expected_missing: Vec<String>,
    /// No run made a report the scenario does not expect, and every report it expects
    /// was made (the exit status's verdict, as far as the runs went).
    pub passed: bool,
    /// Ctrl-C stopped the exploration (exit status 130).
    pub interrupted: bool,
    /// The time limit stopped the exploration before its runs were done.
    pub stopped_early: bool,
    /// dfs: every execution within the bounds was tried.
    pub search_complete: bool,
    /// dfs: exhaustive — the search is complete and no bound cut a
    /// branch (`cut_branches` is 0). Always false for the seeded strategies.
    pub exhaustive: bool,
    /// dfs: the bounds per execution (`null`: none; the seeded strategies have none).
    pub bounds: BoundsJson,
    /// dfs: the branches of the decision tree the bounds cut, in the part explored.
    pub cut_branches: u64,
    /// `cut_branches` by the bound that cut them.
    pub cut_branches_by: CutBranchesJson,
    /// Runs stopped by their step budget (`max steps`): a dfs or dpor search is not
    /// exhaustive when there is one.
    pub step_limited_runs: u64,
    /// dpor: executions that added nothing (sleep-set blocked); 0 for the others.
    pub redundant_executions: u64,
    pub runs_per_sec: f64,
}

/// `shard` of the JSON output: the runs i with i mod `count` = `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardJson {
    pub index: u64,
    pub count: u64,
}

/// `bounds` of the JSON output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundsJson {
    /// The most preemptions per execution, or `null`.
    pub preemptions: Option<u32>,
    /// The most delayed store-buffer drains per execution, or `null`.
    pub delays: Option<u32>,
}

impl BoundsJson {
    fn of(plan: &Plan) -> BoundsJson {
        if plan.kind == StrategyKind::Dfs {
            BoundsJson {
                preemptions: plan.preemption_bound,
                delays: plan.delay_bound,
            }
        } else {
            BoundsJson {
                preemptions: None,
                delays: None,
            }
        }
    }
}

/// `cut_branches_by` of the JSON output: an alternative over both bounds counts as cut
/// by the preemption bound.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutBranchesJson {
    pub preemptions: u64,
    pub delays: u64,
}

/// Sets the dfs bounds of `plan` from `--preemption-bound` and `--delay-bound` (their
/// defaults when not given). They bound dfs only: given with another strategy, they
/// would seem to apply and do not, so that is a usage error.
fn set_bounds(plan: &mut Plan, args: &ExploreArgs) -> Result<(), CliError> {
    if plan.kind != StrategyKind::Dfs {
        for (given, option) in [
            (args.preemption_bound.is_some(), "--preemption-bound"),
            (args.delay_bound.is_some(), "--delay-bound"),
        ] {
            if given {
                return Err(CliError::usage(format!(
                    "{option} bounds the dfs search only; this exploration uses --strategy {} (add --strategy dfs)",
                    plan.kind.name()
                )));
            }
        }
    }
    plan.preemption_bound = args
        .preemption_bound
        .map_or(Some(crate::cli::PREEMPTION_BOUND_DEFAULT), |b| b.0);
    plan.delay_bound = args
        .delay_bound
        .map_or(Some(crate::cli::DELAY_BOUND_DEFAULT), |b| b.0);
    Ok(())
}

/// `preemptions ≤ 2, delays ≤ 0` (`unbounded` for no bound).
fn bounds_text(plan: &Plan) -> String {
    let one = |name: &str, bound: Option<u32>| match bound {
        Some(b) => format!("{name} ≤ {b}"),
        None => format!("{name} unbounded"),
    };
    format!(
        "{}, {}",
        one("preemptions", plan.preemption_bound),
        one("delays", plan.delay_bound)
    )
}

/// `14 branches cut (14 by the delay bound)`.
fn cut_text(cut: &CutBranches) -> String {
    let mut by = Vec::new();
    if cut.by_preemption_bound > 0 {
        by.push(format!(
            "{} by the preemption bound",
            cut.by_preemption_bound
        ));
    }
    if cut.by_delay_bound > 0 {
        by.push(format!("{} by the delay bound", cut.by_delay_bound));
    }
    let total = cut.total();
    let branches = if total == 1 { "branch" } else { "branches" };
    if by.is_empty() {
        format!("{total} {branches} cut")
    } else {
        format!("{total} {branches} cut ({})", by.join(", "))
    }
}

/// Draws the progress bar until the runs are done (only on a terminal).
fn progress_bar(err: &mut dyn Write, progress: &Progress, total: u64, started: Instant) {
    const WIDTH: usize = 30;
    while !progress.finished.load(Ordering::Relaxed) {
        let done = progress.done.load(Ordering::Relaxed);
        let filled = if total == 0 {
            0
        } else {
            (done.min(total) as usize * WIDTH) / total as usize
        };
        let rate = per_second(done, started.elapsed().as_secs_f64());
        let _ = write!(
            err,
            "\r[{}{}] {done}/{total} runs, {rate:.0} runs/s ",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled)
        );
        let _ = err.flush();
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = write!(err, "\r{}\r", " ".repeat(WIDTH + 48));
    let _ = err.flush();
}

/// Explores with a progress bar on `err` when stderr is a terminal.
fn explore_with_progress(
    job: &Job,
    err: &mut dyn Write,
    total: u64,
) -> Result<(Tally, f64), CliError> {
    let _span =
        tracing::info_span!(target: TARGET, "explore", runs = total, jobs = job.jobs).entered();
    let progress = Progress {
        stop: Some(crate::interrupt::flag()),
        ..Progress::default()
    };
    let started = Instant::now();
    let show = std::io::stderr().is_terminal();
    let tally = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let tally = explore(job, &progress);
            progress.finished.store(true, Ordering::Relaxed);
            tally
        });
        if show {
            progress_bar(err, &progress, total, started);
        }
        worker.join().expect("the exploration panicked")
    })?;
    Ok((tally, started.elapsed().as_secs_f64()))
}

/// What a report found becomes in the output: the schedule to replay (shrunk unless
/// `--no-shrink` or Ctrl-C) and the command that replays it.
fn report_json(
    args: &ExploreArgs,
    scenario: &Scenario,
    resolved: &Resolved,
    found: &Found,
    finding: Option<&'static str>,
    unexpected: bool,
    shrink_it: bool,
) -> FirstReportJson {
    let schedule = found.schedule.encode();
    let shrunk = shrink_it.then(|| shrink(scenario, &resolved.options, found, finding).encode());
    let replay_with = shrunk.clone().unwrap_or_else(|| schedule.clone());
    FirstReportJson {
        kind: found.kind.name().to_string(),
        unexpected,
        run: found.run,
        seed: found.seed,
        message: found.message.clone(),
        replay_command: session::replay_command(&args.scenario, resolved, found.seed, &replay_with),
        schedule,
        shrunk_schedule: shrunk,
    }
}

/// Writes the step-through view of `first`'s counter-example (its shrunk schedule when
/// there is one), replayed strictly.
fn write_view(
    path: &std::path::Path,
    scenario: &Scenario,
    resolved: &Resolved,
    first: &FirstReportJson,
) -> Result<(), CliError> {
    let text = first.shrunk_schedule.as_ref().unwrap_or(&first.schedule);
    let schedule = sim::Schedule::decode(text).map_err(|e| session::schedule_error(&e))?;
    let replay = Resolved {
        seed: first.seed,
        strategy: StrategyKind::Replay,
        schedule: Some(schedule),
        ..resolved.clone()
    };
    let run = crate::view_cmd::watch(scenario, &replay)?;
    let html = crate::view_cmd::page_of_run(scenario, &replay, &run);
    crate::view_cmd::write_page(path, &html)
}

/// `epsim explore`.
pub fn run(args: &ExploreArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, CliError> {
    // Ctrl-C from here on stops the workers and reports what they found.
    let _catch = crate::interrupt::Catch::install();
    let scenario = session::load(&args.scenario)?;
    let kind = explore_strategy(&scenario, &args.common)?;
    let mut common = args.common.clone();
    common.strategy = None;
    let resolved = session::resolve(&scenario, &common)?;
    let resolved = Resolved {
        strategy: kind,
        ..resolved
    };
    let shard = match &args.shard {
        Some(text) => Shard::parse(text).map_err(CliError::usage)?,
        None => Shard::ALL,
    };
    if matches!(kind, StrategyKind::Dfs | StrategyKind::Dpor) && shard != Shard::ALL {
        return Err(CliError::usage(format!(
            "--shard splits seeded runs; {} is one search and cannot be sharded",
            kind.name()
        )));
    }
    // The parser took --time-limit only in (0, TIME_LIMIT_MAX_SECONDS], so neither the
    // Duration nor the deadline (Instant + Duration) can overflow.
    let time_limit = args.time_limit.map(Duration::from_secs_f64);
    let planned = shard.len(args.runs);
    let jobs = worker_count(args.jobs, planned);
    let mut plan = Plan::new(kind);
    set_bounds(&mut plan, args)?;
    if kind == StrategyKind::Pct {
        plan.pct_estimate = session::pct_estimate(&scenario, &resolved.options);
    }
    let job = Job {
        file: scenario.file.clone(),
        text: scenario.text.clone(),
        options: resolved.options.clone(),
        plan,
        seed: resolved.seed,
        runs: args.runs,
        jobs,
        shard,
        time_limit,
    };
    let (tally, seconds) = explore_with_progress(&job, err, planned)?;
    let interrupted = crate::interrupt::requested();
    // Shrinking replays the scenario many times: not after Ctrl-C.
    let shrink_it = !args.no_shrink && !interrupted;
    let first_json = tally.first().map(|found| {
        let unexpected = tally.first_unexpected.is_some();
        report_json(
            args, &scenario, &resolved, found, None, unexpected, shrink_it,
        )
    });
    let findings: BTreeMap<String, FindingJson> = tally
        .findings
        .iter()
        .map(|(name, count)| {
            let found = &tally.first_findings[name];
            let first = report_json(
                args,
                &scenario,
                &resolved,
                found,
                Some(name),
                false,
                shrink_it,
            );
            let finding = FindingJson {
                runs: *count,
                first,
            };
            (name.to_string(), finding)
        })
        .collect();
    let expected = scenario.expected_reports();
    let missing: Vec<ReportKind> = expected
        .iter()
        .copied()
        .filter(|k| !tally.expected_found.contains(k))
        .collect();
    let failed = tally.first_unexpected.is_some() || !missing.is_empty();
    let sharded = shard != Shard::ALL || args.shard.is_some();
    let json = ExploreJson {
        scenario: scenario.name(),
        options: resolved.describe(),
        shard: args.shard.is_some().then_some(ShardJson {
            index: shard.index,
            count: shard.count,
        }),
        trace_hashes: sharded.then(|| tally.hashes.iter().map(|h| format!("{h:016x}")).collect()),
        runs: tally.runs,
        runs_planned: planned,
        distinct_traces: tally.hashes.len() as u64,
        reports: tally
            .reports
            .iter()
            .map(|(k, n)| (k.name().to_string(), *n))
            .collect(),
        findings,
        first_report: first_json,
        expected_missing: missing.iter().map(|k| k.name().to_string()).collect(),
        passed: !failed,
        interrupted,
        stopped_early: !interrupted && !tally.search_complete && tally.runs < planned,
        search_complete: tally.search_complete,
        exhaustive: tally.exhaustive(),
        bounds: BoundsJson::of(&job.plan),
        cut_branches: tally.cut.total(),
        cut_branches_by: CutBranchesJson {
            preemptions: tally.cut.by_preemption_bound,
            delays: tally.cut.by_delay_bound,
        },
        step_limited_runs: tally.step_limited,
        redundant_executions: tally.redundant,
        runs_per_sec: per_second(tally.runs, seconds),
    };
    // The first report's counter-example; without one, the first documented finding's.
    let shown = json
        .first_report
        .as_ref()
        .or_else(|| json.findings.values().next().map(|finding| &finding.first));
    let view = match (&args.view, shown) {
        (Some(path), Some(first)) => Some(write_view(path, &scenario, &resolved, first)?),
        _ => None,
    };
    if resolved.json {
        write_json(out, &json)?;
    } else {
        let text = Text {
            scenario: &scenario,
            resolved: &resolved,
            plan: &job.plan,
            shard,
            jobs,
            tally: &tally,
            json: &json,
            missing: &missing,
        };
        text.write(out)?;
        match (&args.view, view) {
            (Some(path), Some(())) => writeln!(
                out,
                "view: {} steps through the {} {} counter-example",
                path.display(),
                if json.first_report.is_some() {
                    "first report's"
                } else {
                    "first finding's"
                },
                if shown.is_some_and(|f| f.shrunk_schedule.is_some()) {
                    "shrunk"
                } else {
                    "unshrunk"
                }
            )?,
            (Some(path), None) => writeln!(
                out,
                "view: no report or finding, so {} was not written",
                path.display()
            )?,
            _ => {}
        }
    }
    Ok(if interrupted {
        Exit::Interrupted
    } else if failed {
        Exit::Failed
    } else {
        Exit::Clean
    })
}

/// The human output of an exploration: everything the JSON has, as sentences.
struct Text<'a> {
    scenario: &'a Scenario,
    resolved: &'a Resolved,
    plan: &'a Plan,
    shard: Shard,
    jobs: usize,
    tally: &'a Tally,
    json: &'a ExploreJson,
    missing: &'a [ReportKind],
}

impl Text<'_> {
    fn write(&self, out: &mut dyn Write) -> Result<(), CliError> {
        self.write_how(out)?;
        self.write_reports(out)?;
        self.write_verdict(out)
    }

    fn write_how(&self, out: &mut dyn Write) -> Result<(), CliError> {
        let (scenario, json) = (self.scenario, self.json);
        let description = scenario.description();
        if description.is_empty() {
            writeln!(out, "explore {}", scenario.name())?;
        } else {
            writeln!(out, "explore {} — {description}", scenario.name())?;
        }
        writeln!(out, "options: {}", self.resolved.describe())?;
        let mut how = format!("runs: {} ({:.0} runs/s", json.runs, json.runs_per_sec);
        if self.plan.kind == StrategyKind::Dfs {
            how.push_str(", depth-first on one thread, ");
            how.push_str(&bounds_text(self.plan));
        } else if self.plan.kind == StrategyKind::Dpor {
            how.push_str(", optimal DPOR (wake-up trees, sleep sets) on one thread, no bounds");
        } else {
            let jobs = self.jobs;
            how.push_str(&format!(
                ", seeds {}+i, {jobs} job{}",
                self.resolved.seed,
                if jobs == 1 { "" } else { "s" }
            ));
            let shard = self.shard;
            if shard != Shard::ALL {
                how.push_str(&format!(
                    ", shard {}/{}: runs i ≡ {} mod {}",
                    shard.index, shard.count, shard.index, shard.count
                ));
            }
        }
        how.push(')');
        writeln!(out, "{how}")?;
        if json.interrupted {
            writeln!(
                out,
                "  (interrupted by Ctrl-C: {} of {} runs completed; the tally is of those runs)",
                json.runs, json.runs_planned
            )?;
        } else if json.stopped_early
            && !matches!(self.plan.kind, StrategyKind::Dfs | StrategyKind::Dpor)
        {
            writeln!(out, "  (the time limit stopped the exploration early)")?;
        }
        if self.plan.kind == StrategyKind::Dfs {
            writeln!(out, "search: {}", self.search_text())?;
        } else if self.plan.kind == StrategyKind::Dpor {
            writeln!(out, "search: {}", self.dpor_text())?;
        }
        writeln!(out, "distinct traces: {}", json.distinct_traces)?;
        Ok(())
    }

    /// What the dfs search covered: exhaustive only when it finished and no bound cut
    /// a branch.
    fn search_text(&self) -> String {
        let (json, cut) = (self.json, &self.tally.cut);
        if json.exhaustive {
            // Sleep sets skip executions that only reorder independent steps, and
            // focus takes solo decisions canonically: every outcome, not every order.
            return "exhaustive: no bound cut a branch, every reachable outcome was reached \
                    (interleavings that only reorder independent steps are tried once)"
                .into();
        }
        if json.search_complete {
            return format!(
                "complete within bounds ({}), {}: not exhaustive",
                bounds_text(self.plan),
                cut_text(cut)
            );
        }
        let runs = runs_text(json.runs);
        let why = if json.interrupted {
            format!("interrupted after {runs}")
        } else if json.stopped_early {
            format!("the time limit stopped it after {runs}")
        } else {
            format!("stopped after {runs}, the --runs limit")
        };
        format!("not complete: {why}; {} so far", cut_text(cut))
    }

    /// What the dpor search covered: exhaustive only when it finished, no run was cut
    /// by its step budget and every replay followed its path.
    fn dpor_text(&self) -> String {
        let (json, tally) = (self.json, self.tally);
        let redundant = format!(
            "{} of the executions added nothing (sleep-set blocked)",
            tally.redundant
        );
        if json.exhaustive {
            return format!(
                "exhaustive: every equivalence class of interleavings (steps that touch no \
                 common object commute) was executed, so every reachable outcome was reached; \
                 {redundant}"
            );
        }
        let mut cuts = Vec::new();
        if tally.step_limited > 0 {
            cuts.push(format!(
                "{} run{} stopped by the step budget",
                tally.step_limited,
                if tally.step_limited == 1 { "" } else { "s" }
            ));
        }
        if tally.diverged {
            cuts.push("a replay did not follow its recorded path (nondeterministic code)".into());
        }
        if json.search_complete {
            return format!("complete, but not exhaustive: {}", cuts.join(", "));
        }
        let runs = runs_text(json.runs);
        cuts.insert(
            0,
            if json.interrupted {
                format!("interrupted after {runs}")
            } else if json.stopped_early {
                format!("the time limit stopped it after {runs}")
            } else {
                format!("stopped after {runs}, the --runs limit")
            },
        );
        format!("not complete: {}", cuts.join("; "))
    }

    fn write_reports(&self, out: &mut dyn Write) -> Result<(), CliError> {
        let json = self.json;
        if json.reports.is_empty() {
            writeln!(out, "reports: none")?;
        } else {
            let parts: Vec<String> = json
                .reports
                .iter()
                .map(|(k, n)| format!("{k} in {n} run{}", if *n == 1 { "" } else { "s" }))
                .collect();
            writeln!(out, "reports: {}", parts.join(", "))?;
        }
        for (name, finding) in &json.findings {
            let first = &finding.first;
            writeln!(
                out,
                "known finding {name} in {} (a documented behaviour of the kernel code, not counted as a report); first in run {} (seed {}): {}",
                runs_text(finding.runs),
                first.run,
                first.seed,
                first.message
            )?;
            let replayed = first.shrunk_schedule.as_ref().unwrap_or(&first.schedule);
            run_cmd::write_command(
                out,
                "  reproduce: ",
                &first.replay_command,
                replayed,
                "--json prints it whole",
            )?;
        }
        if let Some(first) = &json.first_report {
            writeln!(
                out,
                "first report: {} in run {} (seed {}): {}",
                first.kind, first.run, first.seed, first.message
            )?;
            let whole = "--json prints it whole";
            let show = |text: &str| {
                let deviations = Schedule::decode(text).map_or(0, |s| s.deviation_count());
                match run_cmd::shortened(text) {
                    None => format!("{text} ({deviations} deviations)"),
                    Some(shown) => format!(
                        "{shown} ({deviations} deviations, {} characters; {whole})",
                        text.len()
                    ),
                }
            };
            writeln!(out, "  schedule:        {}", show(&first.schedule))?;
            if let Some(shrunk) = &first.shrunk_schedule {
                writeln!(out, "  shrunk schedule: {}", show(shrunk))?;
            }
            let replayed = first.shrunk_schedule.as_ref().unwrap_or(&first.schedule);
            run_cmd::write_command(out, "  reproduce: ", &first.replay_command, replayed, whole)?;
        }
        Ok(())
    }

    fn write_verdict(&self, out: &mut dyn Write) -> Result<(), CliError> {
        let (json, tally) = (self.json, self.tally);
        let expected = self.scenario.expected_reports();
        if json.interrupted {
            let so_far = if tally.first_unexpected.is_some() {
                "runs made reports the scenario does not expect".to_string()
            } else if !self.missing.is_empty() {
                let names: Vec<&str> = self.missing.iter().map(|k| k.name()).collect();
                format!("no run made the expected {} report yet", names.join(", "))
            } else {
                "no unexpected report so far".to_string()
            };
            writeln!(
                out,
                "INTERRUPTED after {} of {}: {so_far}",
                runs_text(json.runs),
                json.runs_planned
            )?;
        } else if json.passed {
            if expected.is_empty() && tally.findings.is_empty() {
                writeln!(out, "PASS: no report in {}", runs_text(tally.runs))?;
            } else if expected.is_empty() {
                writeln!(
                    out,
                    "PASS: no report in {} but the known findings",
                    runs_text(tally.runs)
                )?;
            } else {
                let names: Vec<&str> = expected.iter().map(|k| k.name()).collect();
                let as_findings: Vec<&str> = tally
                    .first_findings
                    .iter()
                    .filter(|(_, found)| expected.contains(&found.kind))
                    .map(|(name, _)| *name)
                    .collect();
                writeln!(
                    out,
                    "PASS: the expected {} report was found{}",
                    names.join(", "),
                    if as_findings.is_empty() {
                        String::new()
                    } else {
                        format!(" (the known finding {})", as_findings.join(", "))
                    }
                )?;
            }
        } else if !self.missing.is_empty() {
            let names: Vec<&str> = self.missing.iter().map(|k| k.name()).collect();
            writeln!(
                out,
                "FAIL: the scenario expects a {} report and no run made one{}",
                names.join(", "),
                if tally.first_unexpected.is_some() {
                    " (and some runs made reports it does not expect)"
                } else {
                    ""
                }
            )?;
        } else {
            writeln!(out, "FAIL: runs made reports the scenario does not expect")?;
        }
        Ok(())
    }
}

/// The threads an exploration starts: what `--jobs` asked for (at most
/// [`crate::cli::JOBS_MAX`], which the parser enforces), but never more than it has runs.
pub fn worker_count(jobs: usize, runs: u64) -> usize {
    let jobs = jobs.clamp(1, crate::cli::JOBS_MAX);
    usize::try_from(runs).map_or(jobs, |runs| jobs.min(runs.max(1)))
}

fn runs_text(runs: u64) -> String {
    format!("{runs} run{}", if runs == 1 { "" } else { "s" })
}

/// Runs per second exploring `seed-case-5-callback-race` at access granularity under
/// tso with the random strategy on `jobs` threads (for `epsim bench`).
pub fn bench_runs_per_sec(jobs: usize, runs: u64) -> f64 {
    let Some(builtin) = crate::scenario::builtin("seed-case-5-callback-race") else {
        return 0.0;
    };
    let Ok(scenario) = builtin.parse() else {
        return 0.0;
    };
    let common = CommonOpts {
        granularity: Some(crate::cli::GranularityArg::Access),
        model: Some(crate::cli::ModelArg::Tso),
        ..CommonOpts::default()
    };
    let Ok(resolved) = session::resolve(&scenario, &common) else {
        return 0.0;
    };
    let job = Job {
        file: scenario.file.clone(),
        text: scenario.text.clone(),
        options: resolved.options,
        plan: Plan::new(StrategyKind::Random),
        seed: 0,
        runs,
        jobs,
        shard: Shard::ALL,
        time_limit: None,
    };
    let started = Instant::now();
    match explore(&job, &Progress::default()) {
        Ok(tally) => per_second(tally.runs, started.elapsed().as_secs_f64()),
        Err(_) => 0.0,
    }
}
