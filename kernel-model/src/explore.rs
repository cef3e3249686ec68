//! Exploring a scenario: many runs under a strategy, counting distinct traces and
//! reports, and shrinking the first failing schedule so that a person can read it.
//!
//! A scenario is anything that can populate a fresh [`World`] (processes, tasks,
//! interrupts); every run builds it anew, since futures cannot be cloned.

use std::collections::{BTreeMap, BTreeSet};

use sim::schedule::{Deviation, Schedule};
use sim::strategy::{DecisionView, Dfs, Pct, Random, RoundRobin, Scheduler, StrategyKind, Timed};
use sim::{Granularity, ReportKind};

use crate::world::{Options, Outcome, World};

/// How to explore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExploreOptions {
    pub strategy: StrategyKind,
    /// Runs (for dfs: the most executions to try).
    pub runs: u64,
    /// Seed of run 0; run i uses `seed + i`.
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
        }
    }
}

/// The first failing run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstReport {
    pub kind: ReportKind,
    pub message: String,
    /// Index of the run (and, for seeded strategies, `seed + run` is its seed).
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
    pub reports: BTreeMap<ReportKind, u64>,
    pub first_report: Option<FirstReport>,
    /// True when DFS ran out of executions before `runs` (the search is complete).
    pub exhaustive: bool,
}

/// Builds a strategy for run `run`.
pub fn strategy_for(options: &ExploreOptions, run: u64) -> Box<dyn Scheduler> {
    let seed = options.seed.wrapping_add(run);
    match options.strategy {
        StrategyKind::Random => Box::new(Random::new(seed)),
        StrategyKind::Pct => Box::new(Pct::new(seed, options.pct_depth)),
        StrategyKind::RoundRobin => Box::new(RoundRobin),
        StrategyKind::Timed | StrategyKind::Replay => Box::new(Timed::new(seed)),
        StrategyKind::Dfs => Box::new(Dfs::new(options.preemption_bound, options.delay_bound)),
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

/// Explores the scenario.
pub fn explore<G: Granularity>(
    options: &Options,
    scenario_hash: u64,
    build: &dyn Fn(&mut World<G>),
    explore: &ExploreOptions,
) -> ExploreSummary {
    let mut summary = ExploreSummary::default();
    let mut hashes = BTreeSet::new();
    let mut dfs = (explore.strategy == StrategyKind::Dfs)
        .then(|| Dfs::new(explore.preemption_bound, explore.delay_bound));
    for run in 0..explore.runs {
        let outcome = match dfs.as_mut() {
            Some(dfs) => {
                if !dfs.begin_execution() {
                    summary.exhaustive = true;
                    break;
                }
                let mut world = World::<G>::new(options, scenario_hash).expect("validated options");
                build(&mut world);
                let outcome = world.run(dfs);
                dfs.end_execution();
                outcome
            }
            None => {
                let mut strategy = strategy_for(explore, run);
                run_once(options, scenario_hash, build, strategy.as_mut())
            }
        };
        summary.runs += 1;
        hashes.insert(outcome.result.trace_hash);
        let mut kinds = BTreeSet::new();
        for report in outcome.reports() {
            kinds.insert(report.kind);
        }
        for kind in &kinds {
            *summary.reports.entry(*kind).or_insert(0) += 1;
        }
        if summary.first_report.is_none() {
            if let Some(report) = outcome.reports().first() {
                summary.first_report = Some(FirstReport {
                    kind: report.kind,
                    message: report.message.clone(),
                    run,
                    seed: explore.seed.wrapping_add(run),
                    schedule: outcome.result.schedule.clone(),
                    shrunk_schedule: None,
                });
                if explore.stop_at_first {
                    break;
                }
            }
        }
    }
    if let (Some(dfs), false) = (dfs.as_mut(), summary.exhaustive) {
        summary.exhaustive = !dfs.begin_execution();
    }
    summary.distinct_traces = hashes.len() as u64;
    if explore.shrink {
        if let Some(first) = summary.first_report.as_mut() {
            first.shrunk_schedule = Some(shrink(
                options,
                scenario_hash,
                build,
                &first.schedule,
                first.kind,
            ));
        }
    }
    summary
}

/// Follows a list of deviations by decision index, defaulting elsewhere and clamping
/// choices that no longer exist: lets the shrinker try edited schedules that a strict
/// replay would refuse.
struct Deviations {
    deviations: Vec<Deviation>,
    cursor: usize,
}

impl Scheduler for Deviations {
    fn begin_execution(&mut self) -> bool {
        self.cursor = 0;
        true
    }

    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        while self.cursor < self.deviations.len()
            && self.deviations[self.cursor].decision < view.decision
        {
            self.cursor += 1;
        }
        match self.deviations.get(self.cursor) {
            Some(d) if d.decision == view.decision => {
                (d.choice as usize).min(view.actions.len() - 1)
            }
            _ => 0,
        }
    }
}

/// Runs with exactly `deviations` and returns the outcome.
pub fn run_deviations<G: Granularity>(
    options: &Options,
    scenario_hash: u64,
    build: &dyn Fn(&mut World<G>),
    deviations: &[Deviation],
) -> Outcome {
    let mut strategy = Deviations {
        deviations: deviations.to_vec(),
        cursor: 0,
    };
    run_once(options, scenario_hash, build, &mut strategy)
}

/// Shrinks a failing schedule: drops deviations one at a time, then lowers the choices
/// that remain, keeping each change that still produces a report of `kind`. Returns the
/// schedule of the smallest failing run found (a strict, replayable recording).
pub fn shrink<G: Granularity>(
    options: &Options,
    scenario_hash: u64,
    build: &dyn Fn(&mut World<G>),
    schedule: &Schedule,
    kind: ReportKind,
) -> Schedule {
    const ATTEMPTS_MAX: usize = 400;
    let fails = |deviations: &[Deviation]| -> Option<Schedule> {
        let outcome = run_deviations(options, scenario_hash, build, deviations);
        outcome
            .reports()
            .iter()
            .any(|r| r.kind == kind)
            .then(|| outcome.result.schedule.clone())
    };
    let Some(mut best) = fails(&schedule.deviations) else {
        return schedule.clone();
    };
    let mut attempts = 0;
    let mut changed = true;
    while changed && attempts < ATTEMPTS_MAX {
        changed = false;
        let mut index = 0;
        while index < best.deviations.len() && attempts < ATTEMPTS_MAX {
            let mut candidate = best.deviations.clone();
            candidate.remove(index);
            attempts += 1;
            match fails(&candidate) {
                Some(found) if found.deviations.len() < best.deviations.len() => {
                    best = found;
                    changed = true;
                }
                _ => index += 1,
            }
        }
        for index in 0..best.deviations.len() {
            while best.deviations.get(index).is_some_and(|d| d.choice > 1)
                && attempts < ATTEMPTS_MAX
            {
                let mut candidate = best.deviations.clone();
                candidate[index].choice -= 1;
                attempts += 1;
                match fails(&candidate) {
                    Some(found) if found.deviations.len() <= best.deviations.len() => {
                        best = found;
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
