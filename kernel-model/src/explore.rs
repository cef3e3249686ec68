//! Exploring a scenario: many runs under a strategy, counting distinct traces and
//! reports, and shrinking the first failing schedule so that a person can read it.
//!
//! A scenario is anything that can populate a fresh [`World`] (processes, tasks,
//! interrupts); every run builds it anew, since futures cannot be cloned.
//!
//! Two refinements over running a strategy as is:
//! - **focus** ([`ExploreOptions::focus`]): a decision at which only one CPU can step
//!   (the other enabled actions, if any, being drains of that same CPU's store buffer,
//!   and no interrupt pending) is taken canonically — eager drain, run on — without
//!   asking the strategy. No other context can observe the difference until a second
//!   one becomes runnable, and the kernel paths that make one runnable (`clone`, a
//!   wake-up) order the waker's earlier stores first. The strategy then spends its
//!   randomness, PCT change points and DFS branches on the decisions where CPUs race.
//! - **known findings** ([`explore_classified`]): reports that a classifier recognises
//!   as documented behaviours of the 2007 code are counted apart from new reports, so an
//!   exploration of the unmodified port can assert "nothing but documented findings".

use std::collections::{BTreeMap, BTreeSet};

use sim::footprint::Footprint;
use sim::machine::Action;
use sim::schedule::{Deviation, Schedule};
use sim::strategy::{
    CutBranches, DecisionView, Dfs, Dpor, Pct, Random, RoundRobin, Scheduler, StrategyKind, Timed,
};
use sim::{Granularity, Report, ReportKind};

use crate::kernel::Kernel;
use crate::world::{Options, Outcome, World};

/// How to explore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExploreOptions {
    pub strategy: StrategyKind,
    /// Runs (for dfs and dpor: the most executions to try).
    pub runs: u64,
    /// Seed of run 0; random (and timed) run i uses `seed + i`. PCT keeps one generator
    /// for the whole exploration, seeded with `seed`.
    pub seed: u64,
    /// PCT bug depth.
    pub pct_depth: u32,
    /// DFS bounds.
    pub preemption_bound: Option<u32>,
    pub delay_bound: Option<u32>,
    /// Shrink the first failing schedule.
    pub shrink: bool,
    /// Stop at the first report.
    pub stop_at_first: bool,
    /// Take decisions at which only one CPU can step canonically (see the module
    /// documentation).
    pub focus: bool,
}

impl Default for ExploreOptions {
    fn default() -> ExploreOptions {
        ExploreOptions {
            strategy: StrategyKind::Random,
            runs: 100,
            seed: 0,
            pct_depth: 3,
            preemption_bound: Some(2),
            delay_bound: Some(2),
            shrink: true,
            stop_at_first: false,
            focus: false,
        }
    }
}

/// The first failing run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstReport {
    pub kind: ReportKind,
    pub message: String,
    /// Index of the run, and `seed + run`: the run's own seed for random and timed
    /// exploration (PCT and DFS runs are reproduced by their schedule).
    pub run: u64,
    pub seed: u64,
    pub schedule: Schedule,
    pub shrunk_schedule: Option<Schedule>,
}

/// What an exploration found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExploreSummary {
    pub runs: u64,
    pub distinct_traces: u64,
    /// Runs with at least one report of each kind, known findings excluded.
    pub reports: BTreeMap<ReportKind, u64>,
    /// The first run with a report that is not a known finding (shrunk if asked).
    pub first_report: Option<FirstReport>,
    /// Runs in which each known finding (by the classifier's name) showed.
    pub findings: BTreeMap<&'static str, u64>,
    /// The first run of each known finding (not shrunk).
    pub first_findings: BTreeMap<&'static str, FirstReport>,
    /// True when DFS or DPOR ran out of executions before `runs`: the search is
    /// complete *within its bounds*. (The name is historical: a DFS was exhaustive only
    /// if, besides, `cut_branches` is zero; a DPOR only if, besides, no run was stopped
    /// by its step budget (`step_limited`) and the replay never diverged.)
    pub exhaustive: bool,
    /// Runs stopped by their step budget (a search is not exhaustive past them).
    pub step_limited: u64,
    /// DFS or DPOR: a run did not follow the path the search replayed (the code is not
    /// deterministic), so the search cannot claim to be exhaustive.
    pub diverged: bool,
    /// DPOR: executions that turned out to add nothing (sleep-set blocked).
    pub redundant: u64,
    /// DFS: the branches its bounds cut ([`sim::strategy::Dfs::cut`]).
    pub cut_branches: CutBranches,
}

impl ExploreSummary {
    /// Whether no report other than known findings was made.
    pub fn clean(&self) -> bool {
        self.reports.is_empty()
    }
}

/// Builds a strategy for run `run`. PCT is better served by one instance for the
/// whole exploration (its change points are spread over the longest run it has
/// seen); [`explore`] does that.
pub fn strategy_for(options: &ExploreOptions, run: u64) -> Box<dyn Scheduler> {
    let seed = options.seed.wrapping_add(run);
    match options.strategy {
        StrategyKind::Random => Box::new(Random::new(seed)),
        StrategyKind::Pct => Box::new(Pct::new(seed, options.pct_depth)),
        StrategyKind::RoundRobin => Box::new(RoundRobin),
        StrategyKind::Timed | StrategyKind::Replay => Box::new(Timed::new(seed)),
        StrategyKind::Dfs => Box::new(Dfs::new(options.preemption_bound, options.delay_bound)),
        StrategyKind::Dpor => Box::new(Dpor::new()),
    }
}

/// Whether only one CPU can step at this decision: exactly one `Run`, no interrupt,
/// and every drain belongs to that CPU's own buffer.
pub fn is_solo(view: &DecisionView<'_>) -> bool {
    let mut runner = None;
    for action in view.actions {
        match action.action {
            Action::Run { cpu } => {
                if runner.replace(cpu).is_some() {
                    return false;
                }
            }
            Action::Interrupt { .. } => return false,
            Action::Drain { .. } => {}
        }
    }
    let Some(runner) = runner else {
        return false;
    };
    view.actions
        .iter()
        .all(|a| !matches!(a.action, Action::Drain { cpu, .. } if cpu != runner))
}

/// A strategy that only sees the decisions where CPUs race (see the module
/// documentation); solo decisions are taken canonically.
pub struct Focus<'a> {
    pub inner: &'a mut dyn Scheduler,
}

impl Scheduler for Focus<'_> {
    fn begin_execution(&mut self) -> bool {
        self.inner.begin_execution()
    }

    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        if is_solo(view) {
            0
        } else {
            self.inner.choose(view)
        }
    }

    fn end_execution(&mut self) {
        self.inner.end_execution()
    }

    fn wants_footprints(&self) -> bool {
        self.inner.wants_footprints()
    }

    fn observe(&mut self, footprint: Footprint) {
        self.inner.observe(footprint)
    }
}

/// Runs the scenario `build` makes once under `strategy`.
pub fn run_once<G: Granularity>(
    options: &Options,
    scenario_hash: u64,
    build: &dyn Fn(&mut World<G>),
    strategy: &mut dyn Scheduler,
) -> Outcome {
    let mut world =
        World::<G>::new(options, scenario_hash).expect("options were validated by the caller");
    build(&mut world);
    strategy.begin_execution();
    let outcome = world.run(strategy);
    strategy.end_execution();
    outcome
}

/// Builds a world, runs it under `strategy` (which the caller begins and ends) and
/// returns both, so that a classifier can look at the kernel the run left behind.
pub fn run_world<G: Granularity>(
    options: &Options,
    scenario_hash: u64,
    build: &dyn Fn(&mut World<G>),
    strategy: &mut dyn Scheduler,
) -> (World<G>, Outcome) {
    let mut world =
        World::<G>::new(options, scenario_hash).expect("options were validated by the caller");
    build(&mut world);
    let outcome = world.run(strategy);
    (world, outcome)
}

/// Recognises a report as a documented finding: its name, or `None` for a new report.
/// It sees the kernel as the run left it (all store buffers drained).
pub type Classifier<'a, G> = dyn Fn(&Kernel<G>, &Report) -> Option<&'static str> + 'a;

/// Explores the scenario; every report counts.
pub fn explore<G: Granularity>(
    options: &Options,
    scenario_hash: u64,
    build: &dyn Fn(&mut World<G>),
    explore: &ExploreOptions,
) -> ExploreSummary {
    explore_classified(options, scenario_hash, build, explore, &|_, _| None)
}

/// Explores the scenario, counting the reports `classify` recognises as known findings
/// apart from the others. Only a run with a report that is not a known finding becomes
/// `first_report` (and is shrunk, preserving a report of its kind that is not a known
/// finding).
pub fn explore_classified<G: Granularity>(
    options: &Options,
    scenario_hash: u64,
    build: &dyn Fn(&mut World<G>),
    explore: &ExploreOptions,
    classify: &Classifier<'_, G>,
) -> ExploreSummary {
    let mut summary = ExploreSummary::default();
    let mut hashes = BTreeSet::new();
    let mut dfs = (explore.strategy == StrategyKind::Dfs)
        .then(|| Dfs::new(explore.preemption_bound, explore.delay_bound));
    let mut pct =
        (explore.strategy == StrategyKind::Pct).then(|| Pct::new(explore.seed, explore.pct_depth));
    let mut dpor = (explore.strategy == StrategyKind::Dpor).then(Dpor::new);
    for run in 0..explore.runs {
        let mut fresh;
        let inner: &mut dyn Scheduler = match (dfs.as_mut(), pct.as_mut(), dpor.as_mut()) {
            (Some(dfs), _, _) => dfs,
            (None, Some(pct), _) => pct,
            (None, None, Some(dpor)) => dpor,
            (None, None, None) => {
                fresh = strategy_for(explore, run);
                fresh.as_mut()
            }
        };
        let mut focus = Focus { inner };
        // DPOR sees every decision: it reduces the solo ones itself, and must see every
        // step to know what it touched.
        let strategy: &mut dyn Scheduler =
            if explore.focus && explore.strategy != StrategyKind::Dpor {
                &mut focus
            } else {
                focus.inner
            };
        if !strategy.begin_execution() {
            summary.exhaustive = true;
            break;
        }
        let (world, outcome) = run_world(options, scenario_hash, build, strategy);
        strategy.end_execution();
        summary.runs += 1;
        if outcome.result.end == sim::RunEnd::StepLimit {
            summary.step_limited += 1;
        }
        hashes.insert(outcome.result.trace_hash);
        let kernel = world.kernel();
        let mut kinds = BTreeSet::new();
        let mut known = BTreeSet::new();
        let mut first_new = None;
        for report in outcome.reports() {
            match classify(&kernel, report) {
                Some(name) => {
                    known.insert(name);
                }
                None => {
                    kinds.insert(report.kind);
                    first_new.get_or_insert(report);
                }
            }
        }
        for kind in &kinds {
            *summary.reports.entry(*kind).or_insert(0) += 1;
        }
        let first_of = |report: &Report| FirstReport {
            kind: report.kind,
            message: report.message.clone(),
            run,
            seed: explore.seed.wrapping_add(run),
            schedule: outcome.result.schedule.clone(),
            shrunk_schedule: None,
        };
        for name in known {
            *summary.findings.entry(name).or_insert(0) += 1;
            if !summary.first_findings.contains_key(name) {
                let report = outcome
                    .reports()
                    .iter()
                    .find(|r| classify(&kernel, r) == Some(name))
                    .expect("classified above");
                summary.first_findings.insert(name, first_of(report));
            }
        }
        if summary.first_report.is_none() {
            if let Some(report) = first_new {
                summary.first_report = Some(first_of(report));
                if explore.stop_at_first {
                    break;
                }
            }
        }
    }
    if let (Some(dfs), false) = (dfs.as_mut(), summary.exhaustive) {
        summary.exhaustive = !dfs.begin_execution();
    }
    if let Some(dfs) = &dfs {
        summary.cut_branches = dfs.cut();
        summary.diverged = dfs.diverged;
    }
    if let Some(dpor) = dpor.as_mut() {
        if !summary.exhaustive {
            summary.exhaustive = !dpor.begin_execution();
        }
        summary.diverged = dpor.diverged;
        summary.redundant = dpor.redundant();
    }
    summary.distinct_traces = hashes.len() as u64;
    if explore.shrink {
        if let Some(first) = summary.first_report.as_mut() {
            let kind = first.kind;
            first.shrunk_schedule = Some(shrink_by(
                options,
                scenario_hash,
                build,
                &first.schedule,
                &|kernel, outcome| {
                    outcome
                        .reports()
                        .iter()
                        .any(|r| r.kind == kind && classify(kernel, r).is_none())
                },
            ));
        }
    }
    summary
}

/// One non-default decision as the shrinker edits it: the decision index, the choice
/// made there, and the action that choice named in the run it was recorded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pick {
    decision: u64,
    choice: u32,
    action: Option<Action>,
}

/// Follows a list of picks by decision index, defaulting elsewhere. A pick whose action
/// is still enabled chooses that action (a drain, a CPU, an interrupt keep their
/// identity when an edit shifts the positions of the others); otherwise its choice is
/// clamped to the actions that exist. Lets the shrinker try edited schedules that a
/// strict replay would refuse. Records the picks the run actually made.
struct Deviations {
    picks: Vec<Pick>,
    cursor: usize,
    made: Vec<Pick>,
}

impl Deviations {
    fn new(picks: Vec<Pick>) -> Deviations {
        Deviations {
            picks,
            cursor: 0,
            made: Vec::new(),
        }
    }
}

impl Scheduler for Deviations {
    fn begin_execution(&mut self) -> bool {
        self.cursor = 0;
        self.made.clear();
        true
    }

    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        while self.cursor < self.picks.len() && self.picks[self.cursor].decision < view.decision {
            self.cursor += 1;
        }
        let choice = match self.picks.get(self.cursor) {
            Some(p) if p.decision == view.decision => p
                .action
                .and_then(|a| view.actions.iter().position(|v| v.action == a))
                .unwrap_or((p.choice as usize).min(view.actions.len() - 1)),
            _ => 0,
        };
        if choice != 0 {
            self.made.push(Pick {
                decision: view.decision,
                choice: choice as u32,
                action: Some(view.actions[choice].action),
            });
        }
        choice
    }
}

/// Runs with exactly `deviations` and returns the outcome.
pub fn run_deviations<G: Granularity>(
    options: &Options,
    scenario_hash: u64,
    build: &dyn Fn(&mut World<G>),
    deviations: &[Deviation],
) -> Outcome {
    let mut strategy = Deviations::new(
        deviations
            .iter()
            .map(|d| Pick {
                decision: d.decision,
                choice: d.choice,
                action: None,
            })
            .collect(),
    );
    run_once(options, scenario_hash, build, &mut strategy)
}

/// Shrinks a failing schedule, keeping each edit that still produces a report of
/// `kind`: removes runs of deviations (halves, quarters, … single ones, as delta
/// debugging does), then lowers the choices that remain. Returns the schedule of the
/// smallest failing run found (a strict, replayable recording).
pub fn shrink<G: Granularity>(
    options: &Options,
    scenario_hash: u64,
    build: &dyn Fn(&mut World<G>),
    schedule: &Schedule,
    kind: ReportKind,
) -> Schedule {
    shrink_by(options, scenario_hash, build, schedule, &|_, outcome| {
        outcome.has_report(kind)
    })
}

/// Shrinks a schedule keeping `fails` true of each accepted candidate (see [`shrink`]).
pub fn shrink_by<G: Granularity>(
    options: &Options,
    scenario_hash: u64,
    build: &dyn Fn(&mut World<G>),
    schedule: &Schedule,
    fails: &dyn Fn(&Kernel<G>, &Outcome) -> bool,
) -> Schedule {
    const ATTEMPTS_MAX: usize = 600;
    let try_picks = |picks: &[Pick]| -> Option<(Schedule, Vec<Pick>)> {
        let mut strategy = Deviations::new(picks.to_vec());
        strategy.begin_execution();
        let (world, outcome) = run_world(options, scenario_hash, build, &mut strategy);
        fails(&world.kernel(), &outcome)
            .then(|| (outcome.result.schedule.clone(), strategy.made.clone()))
    };
    let original: Vec<Pick> = schedule
        .deviations
        .iter()
        .map(|d| Pick {
            decision: d.decision,
            choice: d.choice,
            action: None,
        })
        .collect();
    let Some((mut best, mut picks)) = try_picks(&original) else {
        return schedule.clone();
    };
    let mut attempts = 0;
    // Most races need one well-placed deviation: try each alone first.
    if picks.len() > 1 {
        for index in 0..picks.len().min(ATTEMPTS_MAX / 4) {
            attempts += 1;
            if let Some((found, made)) = try_picks(&picks[index..=index]) {
                if made.len() < picks.len() {
                    best = found;
                    picks = made;
                    break;
                }
            }
        }
    }
    let mut changed = true;
    while changed && attempts < ATTEMPTS_MAX {
        changed = false;
        let mut chunk = picks.len().div_ceil(2).max(1);
        loop {
            let mut index = 0;
            while index < picks.len() && attempts < ATTEMPTS_MAX {
                let mut candidate = picks.clone();
                candidate.drain(index..(index + chunk).min(picks.len()));
                attempts += 1;
                match try_picks(&candidate) {
                    Some((found, made)) if made.len() < picks.len() => {
                        best = found;
                        picks = made;
                        changed = true;
                    }
                    _ => index += chunk,
                }
            }
            if chunk == 1 || attempts >= ATTEMPTS_MAX {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
        for index in 0..picks.len() {
            while picks.get(index).is_some_and(|p| p.choice > 1) && attempts < ATTEMPTS_MAX {
                let mut candidate = picks.clone();
                candidate[index].choice -= 1;
                candidate[index].action = None;
                attempts += 1;
                match try_picks(&candidate) {
                    Some((found, made)) if made.len() <= picks.len() => {
                        best = found;
                        picks = made;
                        changed = true;
                    }
                    _ => break,
                }
            }
        }
    }
    best
}

/// Replays a recorded schedule strictly (the machine checks every step against it).
pub fn replay<G: Granularity>(
    options: &Options,
    scenario_hash: u64,
    build: &dyn Fn(&mut World<G>),
    schedule: &Schedule,
) -> Result<Outcome, sim::ScheduleError> {
    let mut world = World::<G>::new(options, scenario_hash).expect("validated options");
    build(&mut world);
    world.machine_mut().set_replay(schedule.clone())?;
    let mut canonical = sim::strategy::Canonical::default();
    canonical.begin_execution();
    Ok(world.run(&mut canonical))
}
