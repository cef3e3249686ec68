//! Same program, options and strategy seed ⇒ the same execution, bit for bit; a recorded
//! schedule replays it exactly; a schedule that does not fit is refused or reported at
//! a clear decision.

mod common;

use std::collections::BTreeSet;

use common::{demo, run, DEMO_SCENARIO};
use sim::machine::RunResult;
use sim::schedule::{Deviation, ScheduleError};
use sim::strategy::{Canonical, Pct, Random, RoundRobin, Timed};
use sim::{
    AccessSteps, Config, Granularity, LockSteps, Machine, MemoryModel, RunEnd, Schedule, Scheduler,
    StrategyKind,
};

const SEEDS: u64 = 200;

fn strategy(kind: StrategyKind, seed: u64) -> Box<dyn Scheduler> {
    match kind {
        StrategyKind::Random => Box::new(Random::new(seed)),
        StrategyKind::Pct => Box::new(Pct::new(seed, 3)),
        StrategyKind::Timed => Box::new(Timed::new(seed)),
        StrategyKind::RoundRobin => Box::new(RoundRobin),
        other => panic!("not a seeded strategy: {other:?}"),
    }
}

fn lock_config() -> Config {
    common::config::<LockSteps>(3, MemoryModel::Sc)
}

fn tso_config() -> Config {
    common::config::<AccessSteps>(3, MemoryModel::Tso)
}

fn run_demo<G: Granularity>(config: &Config, kind: StrategyKind, seed: u64) -> RunResult {
    let mut machine = demo::<G>(config.clone());
    run(&mut machine, strategy(kind, seed).as_mut())
}

/// Runs every seed twice and checks that both runs agree on everything; returns how
/// many distinct executions the seeds produced.
fn check_determinism<G: Granularity>(config: &Config, kind: StrategyKind) -> usize {
    let mut hashes = BTreeSet::new();
    for seed in 0..SEEDS {
        let first = run_demo::<G>(config, kind, seed);
        let second = run_demo::<G>(config, kind, seed);
        assert_eq!(
            first.end,
            RunEnd::Completed,
            "{kind:?} seed {seed}: {:?}",
            first.reports
        );
        assert!(
            first.reports.is_empty(),
            "{kind:?} seed {seed}: {:?}",
            first.reports
        );
        assert_eq!(
            first.trace_hash, second.trace_hash,
            "{kind:?} seed {seed}: trace hashes differ"
        );
        assert_eq!(first.schedule, second.schedule, "{kind:?} seed {seed}");
        assert_eq!(first.steps, second.steps);
        assert_eq!(first.virtual_time_ns, second.virtual_time_ns);
        hashes.insert(first.trace_hash);
    }
    hashes.len()
}

#[test]
fn random_pct_and_timed_are_deterministic_at_lock_granularity() {
    for kind in [StrategyKind::Random, StrategyKind::Pct, StrategyKind::Timed] {
        let distinct = check_determinism::<LockSteps>(&lock_config(), kind);
        // The seeds must matter, or the test above proves nothing.
        assert!(
            distinct > 10,
            "{kind:?}: only {distinct} distinct executions"
        );
    }
}

#[test]
fn random_pct_and_timed_are_deterministic_at_access_granularity_under_tso() {
    for kind in [StrategyKind::Random, StrategyKind::Pct, StrategyKind::Timed] {
        let distinct = check_determinism::<AccessSteps>(&tso_config(), kind);
        assert!(
            distinct > 10,
            "{kind:?}: only {distinct} distinct executions"
        );
    }
}

#[test]
fn round_robin_and_canonical_are_deterministic() {
    let config = lock_config();
    let a = run_demo::<LockSteps>(&config, StrategyKind::RoundRobin, 0);
    let b = run_demo::<LockSteps>(&config, StrategyKind::RoundRobin, 1);
    assert_eq!(a.trace_hash, b.trace_hash);
    let mut m1 = demo::<LockSteps>(config.clone());
    let mut m2 = demo::<LockSteps>(config);
    let c1 = run(&mut m1, &mut Canonical::default());
    let c2 = run(&mut m2, &mut Canonical::default());
    assert_eq!(c1.trace_hash, c2.trace_hash);
    assert_eq!(c1.end, RunEnd::Completed);
    assert!(
        c1.schedule.deviations.is_empty(),
        "the canonical run is the schedule with no deviations"
    );
}

/// Records a run, encodes and decodes its schedule, and replays it on a fresh machine.
fn replay<G: Granularity>(config: &Config, schedule: &Schedule) -> RunResult {
    let mut machine = demo::<G>(config.clone());
    machine
        .set_replay(schedule.clone())
        .expect("the schedule fits");
    // Replay ignores the strategy; give it one that would do something else.
    run(&mut machine, &mut Random::new(0xbad))
}

#[test]
fn a_recorded_schedule_replays_to_the_same_execution() {
    for (config, access) in [(lock_config(), false), (tso_config(), true)] {
        for seed in 0..50 {
            for kind in [StrategyKind::Random, StrategyKind::Pct, StrategyKind::Timed] {
                let recorded = if access {
                    run_demo::<AccessSteps>(&config, kind, seed)
                } else {
                    run_demo::<LockSteps>(&config, kind, seed)
                };
                let text = recorded.schedule.encode();
                let decoded = Schedule::decode(&text).expect("a recorded schedule decodes");
                assert_eq!(decoded, recorded.schedule);
                let replayed = if access {
                    replay::<AccessSteps>(&config, &decoded)
                } else {
                    replay::<LockSteps>(&config, &decoded)
                };
                assert_eq!(replayed.end, recorded.end, "{kind:?} seed {seed}");
                assert_eq!(
                    replayed.trace_hash, recorded.trace_hash,
                    "{kind:?} seed {seed}"
                );
                assert_eq!(replayed.schedule, recorded.schedule, "{kind:?} seed {seed}");
                assert_eq!(replayed.steps, recorded.steps);
            }
        }
    }
}

/// A recorded TSO schedule with many decisions and deviations, to tamper with.
fn recorded_tso() -> (Config, RunResult) {
    let config = tso_config();
    let recorded = run_demo::<AccessSteps>(&config, StrategyKind::Random, 7);
    assert!(
        recorded.schedule.decisions > 3 * 64,
        "want several windows: {} decisions, {} steps",
        recorded.schedule.decisions,
        recorded.steps
    );
    assert!(recorded.schedule.deviations.len() > 10);
    (config, recorded)
}

fn mismatch(result: &RunResult) -> (u64, String) {
    match &result.end {
        RunEnd::ReplayMismatch {
            decision, reason, ..
        } => (*decision, reason.clone()),
        other => panic!("expected a replay mismatch, got {other:?}"),
    }
}

/// Re-encodes a tampered schedule, as a person pasting an edited string would.
fn via_text(schedule: &Schedule) -> Schedule {
    Schedule::decode(&schedule.encode()).expect("still well-formed")
}

#[test]
fn a_choice_past_the_enabled_set_is_a_mismatch_at_that_decision() {
    let (config, recorded) = recorded_tso();
    let mut tampered = recorded.schedule.clone();
    let target = tampered.deviations[5].decision;
    tampered.deviations[5].choice = 999;
    let result = replay::<AccessSteps>(&config, &via_text(&tampered));
    let (decision, reason) = mismatch(&result);
    assert_eq!(decision, target);
    assert!(reason.contains("chooses action 999"), "{reason}");
}

#[test]
fn a_changed_choice_that_exists_is_caught_by_the_window_fingerprint() {
    let (config, recorded) = recorded_tso();
    let mut caught = 0;
    // Turn deviations into defaults and defaults into deviations, one at a time.
    for k in 0..8 {
        let mut tampered = recorded.schedule.clone();
        let deviation = tampered.deviations.remove(k * 3);
        let result = replay::<AccessSteps>(&config, &via_text(&tampered));
        let (decision, _) = mismatch(&result);
        assert!(
            decision >= deviation.decision,
            "reported at {decision}, before the change at {}",
            deviation.decision
        );
        let window_end = (deviation.decision / 64 + 1) * 64 - 1;
        assert!(
            decision <= window_end.min(recorded.schedule.decisions),
            "reported at {decision}, after the window of the change ({window_end})"
        );
        caught += 1;
    }
    assert_eq!(caught, 8);
    // A default decision made into a deviation to action 1 (which always exists when
    // there is a choice) is caught too.
    let mut tampered = recorded.schedule.clone();
    let free = (0..recorded.schedule.decisions)
        .find(|d| tampered.deviations.iter().all(|x| x.decision != *d) && *d > 100)
        .unwrap();
    let at = tampered
        .deviations
        .iter()
        .position(|d| d.decision > free)
        .unwrap_or(tampered.deviations.len());
    tampered.deviations.insert(
        at,
        Deviation {
            decision: free,
            choice: 1,
        },
    );
    let result = replay::<AccessSteps>(&config, &via_text(&tampered));
    let (decision, _) = mismatch(&result);
    assert!(decision >= free);
}

#[test]
fn a_truncated_schedule_is_a_mismatch_where_it_ends() {
    let (config, recorded) = recorded_tso();
    let mut tampered = recorded.schedule.clone();
    let keep = tampered.decisions - 70;
    tampered.decisions = keep;
    tampered.deviations.retain(|d| d.decision < keep);
    tampered
        .fingerprints
        .truncate(keep.div_ceil(sim::limits::FINGERPRINT_INTERVAL) as usize);
    let result = replay::<AccessSteps>(&config, &via_text(&tampered));
    let (decision, reason) = mismatch(&result);
    assert_eq!(decision, keep);
    assert!(
        reason.contains("after the schedule's last decision"),
        "{reason}"
    );
}

#[test]
fn a_schedule_longer_than_the_run_is_a_mismatch_at_the_end() {
    let (config, recorded) = recorded_tso();
    let mut tampered = recorded.schedule.clone();
    tampered.decisions += 5;
    let result = replay::<AccessSteps>(&config, &via_text(&tampered));
    let (decision, reason) = mismatch(&result);
    assert_eq!(decision, recorded.schedule.decisions);
    assert!(reason.contains("the run ended after"), "{reason}");
}

#[test]
fn a_flipped_fingerprint_is_a_mismatch_at_the_end_of_its_window() {
    let (config, recorded) = recorded_tso();
    for window in [0usize, 1, recorded.schedule.fingerprints.len() - 1] {
        let mut tampered = recorded.schedule.clone();
        tampered.fingerprints[window] ^= 0x0100;
        let result = replay::<AccessSteps>(&config, &via_text(&tampered));
        let (decision, reason) = mismatch(&result);
        let expected = ((window as u64 + 1) * 64 - 1).min(recorded.schedule.decisions - 1);
        assert_eq!(decision, expected, "window {window}");
        assert!(reason.contains("differ from those recorded"), "{reason}");
    }
}

#[test]
fn a_schedule_for_other_options_or_another_scenario_is_refused() {
    let (_, recorded) = recorded_tso();
    // Another configuration: PSO instead of TSO.
    let mut pso = demo::<AccessSteps>(common::config::<AccessSteps>(3, MemoryModel::Pso));
    match pso.set_replay(recorded.schedule.clone()) {
        Err(ScheduleError::ConfigMismatch { expected, found }) => {
            assert_ne!(expected, found);
            assert_eq!(found, recorded.schedule.config_hash);
        }
        other => panic!("expected a config mismatch, got {other:?}"),
    }
    // Another scenario on the same options.
    let mut other = Machine::new(tso_config(), DEMO_SCENARIO + 1).unwrap();
    assert!(matches!(
        other.set_replay(recorded.schedule.clone()),
        Err(ScheduleError::ConfigMismatch { .. })
    ));
    let message = other
        .set_replay(recorded.schedule.clone())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("another scenario or other options"),
        "{message}"
    );
}

#[test]
fn malformed_schedule_strings_are_errors() {
    let (_, recorded) = recorded_tso();
    let text = recorded.schedule.encode();
    let mut cut = text.clone();
    cut.truncate(text.len() - 3);
    for bad in [
        "",
        "hello",
        "v9.0000000000000000.AAAA",
        &text.replace('.', ","),
        &cut,
    ] {
        assert!(Schedule::decode(bad).is_err(), "{bad:?} decoded");
    }
}

#[test]
fn the_demo_exercises_interrupts_timeouts_sleeps_and_drains() {
    use sim::trace::TraceEvent;
    let mut config = tso_config();
    config.keep_trace = true;
    let (mut interrupts, mut timeouts, mut sleeps, mut drains, mut switches) = (0, 0, 0, 0, 0);
    for seed in 0..20 {
        let mut machine = demo::<AccessSteps>(config.clone());
        let result = run(&mut machine, &mut Random::new(seed));
        assert_eq!(result.end, RunEnd::Completed);
        let records = machine.take_records();
        assert_eq!(
            records.len() as u64,
            machine.step_hashes().len() as u64,
            "one hash per hashed record"
        );
        for record in &records {
            match &record.event {
                TraceEvent::Interrupt { label, .. } if *label == "data arrives" => interrupts += 1,
                TraceEvent::Interrupt { label, .. } if *label == "process_timeout" => timeouts += 1,
                TraceEvent::Sleep => sleeps += 1,
                TraceEvent::Drain { .. } => drains += 1,
                TraceEvent::Switch { .. } => switches += 1,
                _ => {}
            }
        }
    }
    assert_eq!(
        interrupts, 20,
        "the external interrupt is delivered once per run"
    );
    assert!(timeouts > 0 && sleeps > 0 && drains > 0 && switches > 0);
}

#[test]
fn a_reset_machine_runs_exactly_like_a_new_one() {
    let config = tso_config();
    let mut reused = demo::<AccessSteps>(config.clone());
    let mut last_end = None;
    for seed in 0..30 {
        let fresh = run_demo::<AccessSteps>(&config, StrategyKind::Random, seed);
        if seed > 0 {
            reused.reset();
            common::demo_on::<AccessSteps>(&mut reused);
        }
        let again = run(&mut reused, &mut Random::new(seed));
        assert_eq!(again.trace_hash, fresh.trace_hash, "seed {seed}");
        assert_eq!(again.schedule, fresh.schedule, "seed {seed}");
        assert_eq!(again.virtual_time_ns, fresh.virtual_time_ns);
        // A replay set before a reset does not survive it.
        reused.reset();
        common::demo_on::<AccessSteps>(&mut reused);
        reused.set_replay(fresh.schedule.clone()).unwrap();
        let replayed = run(&mut reused, &mut Canonical::default());
        assert_eq!(replayed.trace_hash, fresh.trace_hash);
        last_end = Some(replayed.end);
        reused.reset();
        common::demo_on::<AccessSteps>(&mut reused);
        let canonical = run(&mut reused, &mut Canonical::default());
        assert!(canonical.schedule.deviations.is_empty());
    }
    assert_eq!(last_end, Some(RunEnd::Completed));
}

/// A task that allocates five `epitem`s and logs which allocations failed.
fn allocator(config: Config) -> (Machine, common::Log<bool>) {
    let mut machine = Machine::new(config, 77).unwrap();
    let cx = machine.cx::<LockSteps>();
    let log = common::Log::default();
    let out = log.clone();
    machine.spawn("alloc", None, async move {
        for _ in 0..5 {
            cx.yield_point("before kmalloc").await;
            out.push(cx.alloc_fails("epitem"));
            // Allocations of a class without a rule never fail and are no decision.
            assert!(!cx.alloc_fails("file"));
        }
    });
    (machine, log)
}

#[test]
fn allocation_failures_are_decisions_that_replay() {
    let mut config = lock_config();
    config.alloc_failures = vec![sim::config::AllocFailure {
        class: "epitem".into(),
        nth: 2,
    }];
    let (mut machine, log) = allocator(config.clone());
    let recorded = run(&mut machine, &mut Canonical::default());
    assert_eq!(log.items(), [false, true, false, false, false]);
    assert_eq!(recorded.schedule.decisions, 10, "5 steps + 5 allocations");
    assert_eq!(
        recorded.schedule.deviations,
        vec![Deviation {
            decision: 3,
            choice: 1
        }]
    );
    // Replay: the schedule, not the rule, decides; make the 4th allocation fail too.
    let mut edited = recorded.schedule.clone();
    edited.deviations.push(Deviation {
        decision: 7,
        choice: 1,
    });
    let (mut machine, log) = allocator(config.clone());
    machine.set_replay(edited).unwrap();
    let replayed = run(&mut machine, &mut Canonical::default());
    assert_eq!(log.items(), [false, true, false, true, false]);
    // The edit changed a choice inside the last window: caught when the run ends.
    assert!(matches!(
        replayed.end,
        RunEnd::ReplayMismatch { decision: 9, .. }
    ));
    // Faithful replay.
    let (mut machine, log) = allocator(config.clone());
    machine.set_replay(recorded.schedule.clone()).unwrap();
    let replayed = run(&mut machine, &mut Canonical::default());
    assert_eq!(replayed.end, RunEnd::Completed);
    assert_eq!(replayed.trace_hash, recorded.trace_hash);
    assert_eq!(log.items(), [false, true, false, false, false]);
    // An allocation decision with a choice that does not exist.
    let mut bad = recorded.schedule.clone();
    bad.deviations[0].choice = 5;
    let (mut machine, _) = allocator(config);
    machine.set_replay(bad).unwrap();
    let result = run(&mut machine, &mut Canonical::default());
    match result.end {
        RunEnd::ReplayMismatch {
            decision, reason, ..
        } => {
            assert_eq!(decision, 3);
            assert!(reason.contains("allocation of epitem"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// Forwards to a strategy and counts the calls; `declares` says whether it forwards the
/// strategy's declarations (`sees_forced_decisions`, `drains_eagerly`) or insists on
/// being asked at every decision.
struct Counting {
    inner: Box<dyn Scheduler>,
    declares: bool,
    asked: u64,
}

impl Scheduler for Counting {
    fn begin_execution(&mut self) -> bool {
        self.inner.begin_execution()
    }
    fn choose(&mut self, view: &sim::strategy::DecisionView<'_>) -> usize {
        self.asked += 1;
        self.inner.choose(view)
    }
    fn sees_forced_decisions(&self) -> bool {
        !self.declares || self.inner.sees_forced_decisions()
    }
    fn drains_eagerly(&self) -> bool {
        self.declares && self.inner.drains_eagerly()
    }
}

/// The decisions a strategy is not asked (one CPU at work: a forced run, or a drain
/// that comes first for a strategy that drains eagerly) are the ones it would have
/// answered with 0: the same trace, schedule and fingerprints as when it is asked at
/// every decision — and it is asked fewer times, so the shortcut was taken.
#[test]
fn a_strategy_not_asked_when_one_cpu_is_at_work_runs_the_same() {
    for kind in [StrategyKind::Timed, StrategyKind::RoundRobin] {
        for seed in 0..20 {
            let mut results = Vec::new();
            for declares in [false, true] {
                let mut strategy = Counting {
                    inner: strategy(kind, seed),
                    declares,
                    asked: 0,
                };
                let mut machine = demo::<AccessSteps>(tso_config());
                let result = run(&mut machine, &mut strategy);
                results.push((result, strategy.asked));
            }
            let ((asked_always, every), (declared, fewer)) = (&results[0], &results[1]);
            assert_eq!(asked_always.end, RunEnd::Completed, "{kind:?} seed {seed}");
            assert_eq!(
                asked_always.trace_hash, declared.trace_hash,
                "{kind:?} seed {seed}"
            );
            assert_eq!(
                asked_always.schedule, declared.schedule,
                "{kind:?} seed {seed}"
            );
            assert_eq!(asked_always.steps, declared.steps);
            assert_eq!(
                *every, asked_always.schedule.decisions,
                "asked at every decision"
            );
            assert!(
                fewer < every,
                "{kind:?} seed {seed}: asked {fewer} of {every} times"
            );
        }
    }
}
