//! Findings: reports the checkers make on the *unmodified* port that are behaviours of
//! the 2007 code itself, kept (the port stays faithful) and documented in
//! `docs/findings.md`. Each is pinned here by its schedule string: replaying it must
//! give the same report, recognised by `check::classify_finding`. A second test per
//! finding derives the schedule again (by exploration or a directed strategy) and
//! checks that it is still the pinned one — if the port, the scenario or `sim` changes
//! the schedule, that test prints the new string to put here and in the document.

mod common;

use common::{Directed, Log, Until};
use kernel_model::check::{classify_finding, finding, lost_nested_wakeup, rdllink_reinit_race};
use kernel_model::explore::{explore_classified, replay, shrink_by, ExploreOptions};
use kernel_model::{Options, World};
use sim::machine::RunEnd;
use sim::strategy::StrategyKind;
use sim::{
    AccessSteps, CpuId, Granularity, GranularityKind, LockSteps, MemoryModel, ReportKind, Schedule,
    Scheduler,
};

// ---- finding 1: the two stores of INIT_LIST_HEAD --------------------------------------------

const INIT_WINDOW_HASH: u64 = 0x5eed_0005;

/// The shrunk schedule of the first DFS execution (one preemption) that shows the
/// window on `common::case5_small`, `access` granularity, `sc`.
const INIT_WINDOW_SC: &str = "v1.03643cdf780da865.rwEBfQEDTpbbGkrO";

/// The same under `tso`, with the window opened by the store buffer instead of a
/// preemption between the two stores: see [`TsoWindow`].
const INIT_WINDOW_TSO: &str = "v1.223d1d15f48462c5.3wE5oAEBAgIBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQQPNopqL1pqmA";

fn access(model: MemoryModel) -> Options {
    let mut options = Options::default();
    options.machine.granularity = GranularityKind::Access;
    options.machine.model = model;
    options
}

fn build_case5_small(world: &mut World<AccessSteps>) {
    common::case5_small(world, &common::log());
}

/// Finds the window on `case5_small` with `strategy` and returns the shrunk schedule.
fn derive_init_window(model: MemoryModel, delays: u32) -> Schedule {
    let options = access(model);
    let summary = explore_classified(
        &options,
        INIT_WINDOW_HASH,
        &build_case5_small,
        &ExploreOptions {
            strategy: StrategyKind::Dfs,
            runs: 3_000,
            seed: 1,
            preemption_bound: Some(1),
            delay_bound: Some(delays),
            shrink: false,
            stop_at_first: false,
            focus: true,
            ..ExploreOptions::default()
        },
        &|k, r| classify_finding(k, r),
    );
    assert!(summary.clean(), "{:?}", summary.first_report);
    let first = &summary.first_findings[finding::INIT_LIST_HEAD_WINDOW];
    shrink_by(
        &options,
        INIT_WINDOW_HASH,
        &build_case5_small,
        &first.schedule,
        &|k, outcome| {
            outcome
                .reports()
                .iter()
                .any(|r| classify_finding(k, r) == Some(finding::INIT_LIST_HEAD_WINDOW))
        },
    )
}

fn replay_init_window(model: MemoryModel, pinned: &str) {
    let options = access(model);
    let schedule = Schedule::decode(pinned).expect("a well-formed schedule");
    let mut world = World::<AccessSteps>::new(&options, INIT_WINDOW_HASH).unwrap();
    build_case5_small(&mut world);
    world.machine_mut().set_replay(schedule).unwrap();
    let mut canonical = sim::strategy::Canonical::default();
    canonical.begin_execution();
    let outcome = world.run(&mut canonical);
    assert!(
        !matches!(outcome.result.end, RunEnd::ReplayMismatch { .. }),
        "{:?}",
        outcome.result.end
    );
    let kernel = world.kernel();
    let report = outcome
        .reports()
        .iter()
        .find(|r| r.kind == ReportKind::ListCorruption)
        .unwrap_or_else(|| panic!("no list-corruption: {:?}", outcome.reports()));
    assert_eq!(
        classify_finding(&kernel, report),
        Some(finding::INIT_LIST_HEAD_WINDOW)
    );
    let item = rdllink_reinit_race(&kernel).unwrap();
    assert!(item.starts_with("epitem"), "{item}");
    assert_eq!(outcome.result.schedule.encode(), pinned);
}

#[test]
fn init_list_head_window_replays_sc() {
    replay_init_window(MemoryModel::Sc, INIT_WINDOW_SC);
}

#[test]
fn init_list_head_window_replays_tso() {
    replay_init_window(MemoryModel::Tso, INIT_WINDOW_TSO);
}

#[test]
fn init_list_head_window_is_found_again() {
    let sc = derive_init_window(MemoryModel::Sc, 0);
    assert_eq!(sc.deviations.len(), 1);
    assert_eq!(sc.encode(), INIT_WINDOW_SC, "re-pin INIT_WINDOW_SC");
    let tso = derive_tso_window();
    assert_eq!(tso.encode(), INIT_WINDOW_TSO, "re-pin INIT_WINDOW_TSO");
}

/// The x86 form of the window. CPU 0 runs (drains eager) until it is about to
/// re-initialise an item's `rdllink`; it then executes both stores of `INIT_LIST_HEAD`
/// into its store buffer; the older one (`next = self`) drains; CPU 1 then runs the
/// writer to its end — its callback sees the item unlinked and appends it — while
/// CPU 0's `prev = self` waits in the buffer; then everything runs on by default, and
/// the buffered store lands on the item the callback linked.
struct TsoWindow {
    kernel: std::rc::Rc<kernel_model::Kernel<AccessSteps>>,
    phase: u8,
    next_word: Option<sim::Word>,
}

impl Scheduler for TsoWindow {
    fn begin_execution(&mut self) -> bool {
        self.phase = 0;
        true
    }

    fn choose(&mut self, view: &sim::strategy::DecisionView<'_>) -> usize {
        use sim::op::Op;
        use sim::Action;
        let run = |cpu: u16| {
            view.actions
                .iter()
                .position(|a| a.action == Action::Run { cpu: CpuId(cpu) })
        };
        let pending0 = view
            .actions
            .iter()
            .find(|a| a.action == Action::Run { cpu: CpuId(0) })
            .and_then(|a| a.pending);
        loop {
            match self.phase {
                // Until CPU 0 is about to store `next = self` into an item's rdllink.
                0 => match pending0 {
                    Some(Op::Store { word, value, .. })
                        if value == word.address()
                            && self
                                .kernel
                                .objects
                                .borrow()
                                .rdllink_owner
                                .contains_key(&word) =>
                    {
                        self.next_word = Some(word);
                        self.phase = 1;
                    }
                    _ => return 0,
                },
                // Both stores of INIT_LIST_HEAD go into the buffer.
                1 | 2 => {
                    let index = run(0).expect("CPU 0 runs");
                    self.phase += 1;
                    return index;
                }
                // The older one, `next = self`, drains.
                3 => {
                    self.phase = 4;
                    let word = self.next_word.unwrap();
                    return view
                        .actions
                        .iter()
                        .position(|a| matches!(a.action, Action::Drain { cpu: CpuId(0), word: w } if w == word))
                        .expect("next = self is the oldest buffered store");
                }
                // CPU 1 runs the writer to its end (its own stores drain eagerly).
                4 => {
                    if common::exited(&self.kernel, "writer") {
                        self.phase = 5;
                        continue;
                    }
                    if let Some(i) = view
                        .actions
                        .iter()
                        .position(|a| matches!(a.action, Action::Drain { cpu: CpuId(1), .. }))
                    {
                        return i;
                    }
                    return run(1).unwrap_or(0);
                }
                _ => return 0,
            }
        }
    }
}

fn derive_tso_window() -> Schedule {
    let options = access(MemoryModel::Tso);
    let mut world = World::<AccessSteps>::new(&options, INIT_WINDOW_HASH).unwrap();
    build_case5_small(&mut world);
    let mut strategy = TsoWindow {
        kernel: world.kernel(),
        phase: 0,
        next_word: None,
    };
    strategy.begin_execution();
    let outcome = world.run(&mut strategy);
    assert_eq!(strategy.phase, 5, "the window was not reached");
    let kernel = world.kernel();
    assert!(
        outcome
            .reports()
            .iter()
            .any(|r| classify_finding(&kernel, r) == Some(finding::INIT_LIST_HEAD_WINDOW)),
        "{:?}",
        outcome.reports()
    );
    outcome.result.schedule
}

// ---- finding 2: ep_poll_safewake drops a concurrent wake of the same head ---------------------

const SAFEWAKE_HASH: u64 = 0x5eed_0a0e;

/// The directed schedule of [`derive_safewake`] (`lock` granularity, three CPUs).
const SAFEWAKE_LOCK: &str = "v1.5df2ec56c81e41e0.cANCAgICHwEC6L-B-w";

/// The same directed schedule on 2.6.22, whose `ep_poll_safewake` is the seed tree's.
const SAFEWAKE_LOCK_2_6_22: &str = "v1.3e7c5a0d786f00b8.bgM8AgICIwECXRViOA";

fn lock3() -> Options {
    lock3_on(kernel_model::KernelVersion::Seed)
}

fn lock3_on(version: kernel_model::KernelVersion) -> Options {
    let mut options = Options::default();
    options.machine.granularity = GranularityKind::Lock;
    options.machine.cpus = 3;
    options.kernel.version = version;
    options
}

fn w_results(log: &Log) -> usize {
    log.borrow().iter().filter(|(w, _)| w == "W").count()
}

/// The schedule that shows the dropped wake: `W` goes to sleep on `P`; `w1`'s write
/// runs until its wake of `C`'s pollers has queued `C` on `P` and woken `W` (`w1` is
/// still inside `ep_poll_safewake`, its node on `psw`); `W` takes the event, drains `C`
/// and sleeps on `P` again (its transfer found `C` empty and dropped it); `w2`'s write
/// makes `C` ready again, and its `ep_poll_safewake(&psw, &C->poll_wait)` finds `w1`'s
/// node for the same head and returns without waking anybody; then everything runs out.
fn derive_safewake() -> (Schedule, Log) {
    derive_safewake_on(kernel_model::KernelVersion::Seed)
}

fn derive_safewake_on(version: kernel_model::KernelVersion) -> (Schedule, Log) {
    let options = lock3_on(version);
    let log = common::log();
    let mut world = World::<LockSteps>::new(&options, SAFEWAKE_HASH).unwrap();
    common::nested_two_writers(&mut world, &log);
    let l = log.clone();
    let phases: Vec<(CpuId, Until<LockSteps>)> = vec![
        (CpuId(0), Box::new(|k| common::asleep_in_ep_poll(k, "W"))),
        (
            CpuId(1),
            Box::new(|k| !k.objects.borrow().psw_list.is_empty() && !common::sleeping(k, "W")),
        ),
        (
            CpuId(0),
            Box::new(move |k| w_results(&l) == 2 && common::asleep_in_ep_poll(k, "W")),
        ),
        (CpuId(2), Box::new(|k| common::exited(k, "w2"))),
    ];
    let mut strategy = Directed::new(world.kernel(), phases);
    strategy.begin_execution();
    let outcome = world.run(&mut strategy);
    assert_eq!(strategy.done, 4, "not every phase ended");
    (outcome.result.schedule, log)
}

fn build_nested(world: &mut World<LockSteps>) {
    common::nested_two_writers(world, &common::log());
}

#[test]
fn safewake_drop_replays() {
    let options = lock3();
    let schedule = Schedule::decode(SAFEWAKE_LOCK).expect("a well-formed schedule");
    let log = common::log();
    let mut world = World::<LockSteps>::new(&options, SAFEWAKE_HASH).unwrap();
    common::nested_two_writers(&mut world, &log);
    world.machine_mut().set_replay(schedule).unwrap();
    let mut canonical = sim::strategy::Canonical::default();
    canonical.begin_execution();
    let outcome = world.run(&mut canonical);
    let sleepers = match &outcome.result.end {
        RunEnd::Quiescent { sleepers } => sleepers.clone(),
        other => panic!("{other:?}"),
    };
    let kernel = world.kernel();
    let w = common::task_named(&kernel, "W");
    assert_eq!(sleepers, vec![w]);
    let report = outcome
        .reports()
        .iter()
        .find(|r| r.kind == ReportKind::LostWakeup)
        .unwrap_or_else(|| panic!("no lost-wakeup: {:?}", outcome.reports()));
    assert_eq!(
        classify_finding(&kernel, report),
        Some(finding::SAFEWAKE_DROPS_WAKE)
    );
    assert!(lost_nested_wakeup(&kernel, w).is_some());
    assert_eq!(
        *log.borrow(),
        vec![
            ("W".to_string(), "P: 1 [EPOLLIN:100]".to_string()),
            ("W".to_string(), "C: 1 [EPOLLIN:1]".to_string()),
            ("w2".to_string(), "Ok(1)".to_string()),
            ("w1".to_string(), "Ok(1)".to_string()),
        ]
    );
}

#[test]
fn safewake_drop_is_derived_again() {
    let (schedule, _) = derive_safewake();
    assert_eq!(schedule.encode(), SAFEWAKE_LOCK, "re-pin SAFEWAKE_LOCK");
    // Same scenario, same schedule strictly replayed: same report.
    let outcome = replay::<LockSteps>(&lock3(), SAFEWAKE_HASH, &build_nested, &schedule).unwrap();
    assert!(outcome.has_report(ReportKind::LostWakeup));
}

/// F2 on 2.6.22: d47de16c7221 and c7ea76302547 left `ep_poll_safewake` as it was, so
/// the same directed schedule drops the same wake and `W` sleeps for ever (found again
/// by `epsim explore finding-safewake-drops-wake --kernel 2.6.22`, 9 of 2 000 PCT runs).
#[test]
fn safewake_drop_on_2_6_22_is_derived_again_and_replays() {
    let version = kernel_model::KernelVersion::V2_6_22;
    let (schedule, log) = derive_safewake_on(version);
    assert_eq!(
        schedule.encode(),
        SAFEWAKE_LOCK_2_6_22,
        "re-pin SAFEWAKE_LOCK_2_6_22"
    );
    assert_eq!(w_results(&log), 2);
    let pinned = Schedule::decode(SAFEWAKE_LOCK_2_6_22).expect("a well-formed schedule");
    let options = lock3_on(version);
    let mut world = World::<LockSteps>::new(&options, SAFEWAKE_HASH).unwrap();
    build_nested(&mut world);
    world.machine_mut().set_replay(pinned).unwrap();
    let mut canonical = sim::strategy::Canonical::default();
    canonical.begin_execution();
    let outcome = world.run(&mut canonical);
    let kernel = world.kernel();
    let w = common::task_named(&kernel, "W");
    assert_eq!(outcome.result.end, RunEnd::Quiescent { sleepers: vec![w] });
    let report = outcome
        .reports()
        .iter()
        .find(|r| r.kind == ReportKind::LostWakeup)
        .unwrap_or_else(|| panic!("no lost-wakeup: {:?}", outcome.reports()));
    assert_eq!(
        classify_finding(&kernel, report),
        Some(finding::SAFEWAKE_DROPS_WAKE)
    );
}

/// Without the concurrent wake — `w1` allowed to finish its write before `w2` writes —
/// the same three syscalls of `W` end with `W` woken: the dropped wake is the cause.
#[test]
fn safewake_without_overlap_wakes_the_parent() {
    let options = lock3();
    let log = common::log();
    let mut world = World::<LockSteps>::new(&options, SAFEWAKE_HASH).unwrap();
    common::nested_two_writers(&mut world, &log);
    let l = log.clone();
    let phases: Vec<(CpuId, Until<LockSteps>)> = vec![
        (CpuId(0), Box::new(|k| common::asleep_in_ep_poll(k, "W"))),
        (CpuId(1), Box::new(|k| common::exited(k, "w1"))),
        (
            CpuId(0),
            Box::new(move |k| w_results(&l) == 2 && common::asleep_in_ep_poll(k, "W")),
        ),
        (CpuId(2), Box::new(|k| common::exited(k, "w2"))),
    ];
    let mut strategy = Directed::new(world.kernel(), phases);
    strategy.begin_execution();
    let outcome = world.run(&mut strategy);
    assert_eq!(strategy.done, 4);
    assert_eq!(
        outcome.result.end,
        RunEnd::Completed,
        "{:?}",
        outcome.reports()
    );
    assert!(outcome.reports().is_empty(), "{:?}", outcome.reports());
    assert_eq!(
        log.borrow().last().unwrap(),
        &("W".to_string(), "P: 1 [EPOLLIN:100]".to_string())
    );
}

#[allow(dead_code)]
fn granularity_name<G: Granularity>() -> &'static str {
    G::KIND.name()
}

// ---- finding 3 (2.6.21): the busy loop of a second waiter, on one CPU -------------------------

const BUSY_LOOP_HASH: u64 = 0x5eed_0b05;

/// The canonical schedule of `common::two_waiters_one_cpu_fault` on 2.6.21, `lock`
/// granularity, a 2 000-step budget: no deviation at all.
const BUSY_LOOP_2_6_21: &str =
    "v1.653e11177a15c6cd.0A8AIF9eDxhOlk6WTpZOlk6WTpZOlk6WTpZOlk6WTpaLPhk4o1_ryRk4o1_ryRk4o1_ryRk4o1_ryRk4o1_ryRk4ivc";

fn busy_options(version: kernel_model::KernelVersion) -> Options {
    let mut options = Options::default();
    options.machine.granularity = GranularityKind::Lock;
    options.machine.max_steps = 2_000;
    options.kernel.version = version;
    options
}

fn build_busy(world: &mut World<LockSteps>) {
    common::two_waiters_one_cpu_fault(world, &common::log());
}

#[test]
fn busy_loop_2_6_21_replays_to_the_step_budget() {
    let options = busy_options(kernel_model::KernelVersion::V2_6_21);
    let schedule = Schedule::decode(BUSY_LOOP_2_6_21).unwrap();
    assert!(schedule.deviations.is_empty());
    let outcome = replay::<LockSteps>(&options, BUSY_LOOP_HASH, &build_busy, &schedule).unwrap();
    assert_eq!(outcome.result.end, RunEnd::StepLimit);
    assert_eq!(
        outcome.reports().iter().map(|r| r.kind).collect::<Vec<_>>(),
        vec![ReportKind::StepBudget]
    );
}

#[test]
fn busy_loop_is_derived_again_and_absent_from_the_later_versions() {
    for version in kernel_model::KernelVersion::ALL {
        let options = busy_options(version);
        let mut world = World::<LockSteps>::new(&options, BUSY_LOOP_HASH).unwrap();
        build_busy(&mut world);
        let mut canonical = sim::strategy::Canonical::default();
        canonical.begin_execution();
        let outcome = world.run(&mut canonical);
        match version {
            kernel_model::KernelVersion::V2_6_21 => assert_eq!(
                outcome.result.schedule.encode(),
                BUSY_LOOP_2_6_21,
                "re-pin BUSY_LOOP_2_6_21"
            ),
            // The later versions steal the whole ready list: the second waiter finds it
            // empty and sleeps.
            kernel_model::KernelVersion::Seed
            | kernel_model::KernelVersion::V2_6_22
            | kernel_model::KernelVersion::V6_18 => {
                assert_eq!(outcome.result.end, RunEnd::Completed);
                assert!(outcome.reports().is_empty(), "{:?}", outcome.reports());
            }
        }
    }
}
