//! The five concurrent situations the seed commit's message argues about (see
//! `/work/shared/design/eventpoll-2.6.22.md`, "The five concurrent situations"), each
//! shown holding on one directed schedule at `lock` granularity, and explored at
//! `access` granularity under `sc`, `tso` and `pso` with random, PCT and bounded DFS
//! schedules on the unmodified port: every run must end without a report other than a
//! documented finding (`docs/findings.md`), with one of the outcomes the argument allows.
//!
//! The default runs are sized for `cargo test` in debug (a few hundred schedules per
//! case and model, DFS on reduced instances). The long campaigns — thousands of random
//! and PCT schedules per case and model, and DFS with two preemptions on the full
//! instances — are `#[ignore]`d; run them with
//!
//! ```text
//! cargo test --release -p kernel-model --test seed_cases -- --ignored --nocapture
//! ```

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use common::{Directed, Log, Until};
use kernel_model::check::{classify_finding, finding};
use kernel_model::explore::{explore_classified, replay, ExploreOptions, ExploreSummary};
use kernel_model::{KernelVersion, Options, World};
use sim::machine::RunEnd;
use sim::strategy::StrategyKind;
use sim::{AccessSteps, CpuId, GranularityKind, LockSteps, MemoryModel, Scheduler};

type Build = fn(&mut World<AccessSteps>, &Log);
type Outcomes = BTreeSet<Vec<(String, String)>>;
/// What the tasks logged, the trace notes (task, text), and the run's result.
type DirectedRun = (Vec<(String, String)>, Vec<(String, String)>, sim::RunResult);

/// One seed case: its builders and what its runs may end with.
struct Case {
    name: &'static str,
    hash: u64,
    build: Build,
    /// A reduced instance for exhaustive search.
    small: Build,
    /// Checks the log of one run (the threads' results, in completion order).
    check: fn(KernelVersion, &[(String, String)]),
    /// Documented findings this case may show.
    findings: &'static [&'static str],
    /// The drain-delay bound of the quick DFS under tso and pso (0 keeps drains eager:
    /// the quick run then only covers the interleavings; the campaign covers delays).
    quick_delays: u32,
}

/// The waiter of cases 2 and 3 gets both items (the removal waited for the
/// transfer; 2.6.21 delivers a batch in reverse order) or only the second (the removal
/// came before the ready list was taken).
fn assert_one_or_both(version: KernelVersion, waiter: &str, log: &[(String, String)]) {
    let both = match version {
        KernelVersion::Seed | KernelVersion::V2_6_22 => "2 [EPOLLIN:1 EPOLLIN:2]",
        KernelVersion::V2_6_21 => "2 [EPOLLIN:2 EPOLLIN:1]",
    };
    assert!(waiter == both || waiter == "1 [EPOLLIN:2]", "{log:?}");
}

fn result_of<'a>(log: &'a [(String, String)], who: &str) -> &'a str {
    log.iter()
        .find(|(w, _)| w == who)
        .map(|(_, r)| r.as_str())
        .unwrap_or_else(|| panic!("{who} did not finish: {log:?}"))
}

const CASE1: Case = Case {
    name: "case 1 (close of the epoll fd during a wait)",
    hash: 0x5eed_0001,
    build: common::case1_close_epfd,
    small: common::case1_close_epfd,
    check: |_, log| {
        assert_eq!(result_of(log, "closer"), "Ok(())");
        let waiter = result_of(log, "waiter");
        // Before the waiter's fget the descriptor may already be gone; after it, the
        // set lives until the waiter's fput and the wait succeeds.
        assert!(waiter == "1 [EPOLLIN:1]" || waiter == "EBADF", "{log:?}");
    },
    findings: &[],
    quick_delays: 1,
};

const CASE2: Case = Case {
    name: "case 2 (EPOLL_CTL_DEL during a transfer)",
    hash: 0x5eed_0002,
    build: common::case2_del,
    small: common::case2_del,
    check: |version, log| {
        assert_eq!(result_of(log, "deleter"), "Ok(())");
        assert_one_or_both(version, result_of(log, "waiter"), log);
    },
    findings: &[],
    quick_delays: 0,
};

const CASE3: Case = Case {
    name: "case 3 (close of a watched file during a transfer)",
    hash: 0x5eed_0003,
    build: common::case3_close_watched,
    small: common::case3_close_watched,
    check: |version, log| {
        assert_eq!(result_of(log, "closer"), "Ok(())");
        assert_one_or_both(version, result_of(log, "waiter"), log);
    },
    findings: &[],
    quick_delays: 0,
};

const CASE4: Case = Case {
    name: "case 4 (two waiters, 3 ready, maxevents 1)",
    hash: 0x5eed_0004,
    build: common::case4_two_waiters,
    small: common::case4_two_waiters,
    check: |version, log| {
        let mut got = [result_of(log, "waiter0"), result_of(log, "waiter1")];
        got.sort();
        match version {
            // Level-triggered items that stay ready are re-injected at the head of the
            // ready list: both waiters get the first item.
            KernelVersion::Seed => assert_eq!(got, ["1 [EPOLLIN:0]"; 2], "{log:?}"),
            // An item on one waiter's txlist is skipped by the other, and delivered
            // items go back to the tail: the waiters get the first two items.
            KernelVersion::V2_6_21 => {
                assert_eq!(got, ["1 [EPOLLIN:0]", "1 [EPOLLIN:1]"], "{log:?}")
            }
            // The second waiter waits for the first one's ep->mtx (or sleeps until its
            // end-of-transfer wake); delivered LT items go back on the tail and the
            // unreached ones at the head: the waiters get the first two items.
            KernelVersion::V2_6_22 => {
                assert_eq!(got, ["1 [EPOLLIN:0]", "1 [EPOLLIN:1]"], "{log:?}")
            }
        }
    },
    findings: &[],
    quick_delays: 0,
};

const CASE5: Case = Case {
    name: "case 5 (ep_poll_callback on another CPU during the transfer loop)",
    hash: 0x5eed_0005,
    build: common::case5_callback,
    small: common::case5_small,
    check: |_, log| {
        let writer = result_of(log, "writer");
        assert!(writer.starts_with("Ok(1) Ok(1)"), "{log:?}");
        // The ready items are always delivered (the reduced instance has only item
        // 1); the idle one only if its callback came before the ready list was stolen.
        let waiter = result_of(log, "waiter");
        assert!(waiter.contains("EPOLLIN:1"), "{log:?}");
    },
    findings: &[finding::INIT_LIST_HEAD_WINDOW],
    quick_delays: 1,
};

fn access_options(model: MemoryModel, version: KernelVersion) -> Options {
    let mut options = Options::default();
    options.machine.granularity = GranularityKind::Access;
    options.machine.model = model;
    options.kernel.version = version;
    options
}

/// Budgets of one exploration of one case under one model.
struct Budget {
    random: u64,
    pct: u64,
    /// (preemption bound, drain-delay bound, most executions), on the case's small
    /// instance unless `dfs_full`.
    dfs: (u32, u32, u64),
    dfs_full: bool,
}

const QUICK: Budget = Budget {
    random: 100,
    pct: 100,
    dfs: (1, 1, 3_000),
    dfs_full: false,
};

const CAMPAIGN: Budget = Budget {
    random: 5_000,
    pct: 5_000,
    dfs: (2, 1, 200_000),
    dfs_full: true,
};

/// What the explorations of one case under one model found.
#[derive(Default)]
struct Found {
    runs: u64,
    outcomes: Outcomes,
    findings: BTreeMap<&'static str, u64>,
    dfs_exhaustive: bool,
}

fn explore_case(case: &Case, model: MemoryModel, version: KernelVersion, budget: &Budget) -> Found {
    let options = access_options(model, version);
    let mut found = Found::default();
    let plans = [
        (StrategyKind::Random, budget.random, case.build),
        (StrategyKind::Pct, budget.pct, case.build),
        (
            StrategyKind::Dfs,
            budget.dfs.2,
            if budget.dfs_full {
                case.build
            } else {
                case.small
            },
        ),
    ];
    for (strategy, runs, build_case) in plans {
        let logs: RefCell<Vec<Log>> = RefCell::new(Vec::new());
        let build = |world: &mut World<AccessSteps>| {
            let log = common::log();
            build_case(world, &log);
            logs.borrow_mut().push(log);
        };
        let explore = ExploreOptions {
            strategy,
            runs,
            seed: case.hash,
            pct_depth: 3,
            preemption_bound: Some(budget.dfs.0),
            delay_bound: Some(if budget.dfs_full {
                budget.dfs.1
            } else {
                budget.dfs.1.min(case.quick_delays)
            }),
            shrink: true,
            stop_at_first: false,
            focus: true,
        };
        let summary: ExploreSummary =
            explore_classified(&options, case.hash, &build, &explore, &|k, r| {
                classify_finding(k, r)
            });
        eprintln!(
            "{} {} {:?} {}: {} runs, {} traces, findings {:?}{}",
            case.name,
            version.name(),
            model,
            strategy.name(),
            summary.runs,
            summary.distinct_traces,
            summary.findings,
            if strategy == StrategyKind::Dfs {
                format!(", exhaustive {}", summary.exhaustive)
            } else {
                String::new()
            }
        );
        assert!(
            summary.clean(),
            "{}: a report that is not a documented finding: {:?}",
            case.name,
            summary.first_report
        );
        for name in summary.findings.keys() {
            assert!(
                case.findings.contains(name),
                "{}: finding {name} was not expected here: {:?}",
                case.name,
                summary.first_findings[name]
            );
        }
        // Runs that ended with a finding's report stopped early; check the others.
        let finished: Vec<Vec<(String, String)>> = logs
            .borrow()
            .iter()
            .map(|l| l.borrow().clone())
            .filter(|l| l.len() == 2)
            .collect();
        for log in &finished {
            (case.check)(version, log);
            let mut sorted = log.clone();
            sorted.sort();
            found.outcomes.insert(sorted);
        }
        if strategy == StrategyKind::Dfs {
            found.dfs_exhaustive = summary.exhaustive;
        }
        found.runs += summary.runs;
        for (name, n) in summary.findings {
            *found.findings.entry(name).or_insert(0) += n;
        }
    }
    found
}

// ---- explorations on the unmodified port ----------------------------------------------------

macro_rules! quick {
    ($name:ident, $case:expr, $model:expr) => {
        quick!($name, $case, $model, KernelVersion::Seed);
    };
    ($name:ident, $case:expr, $model:expr, $version:expr) => {
        #[test]
        fn $name() {
            let found = explore_case(&$case, $model, $version, &QUICK);
            assert!(!found.outcomes.is_empty());
        }
    };
}

quick!(case1_explored_sc, CASE1, MemoryModel::Sc);
quick!(case1_explored_tso, CASE1, MemoryModel::Tso);
quick!(case1_explored_pso, CASE1, MemoryModel::Pso);
quick!(case2_explored_sc, CASE2, MemoryModel::Sc);
quick!(case2_explored_tso, CASE2, MemoryModel::Tso);
quick!(case2_explored_pso, CASE2, MemoryModel::Pso);
quick!(case3_explored_sc, CASE3, MemoryModel::Sc);
quick!(case3_explored_tso, CASE3, MemoryModel::Tso);
quick!(case3_explored_pso, CASE3, MemoryModel::Pso);
quick!(case4_explored_sc, CASE4, MemoryModel::Sc);
quick!(case4_explored_tso, CASE4, MemoryModel::Tso);
quick!(case4_explored_pso, CASE4, MemoryModel::Pso);
quick!(case5_explored_sc, CASE5, MemoryModel::Sc);
quick!(case5_explored_tso, CASE5, MemoryModel::Tso);
quick!(case5_explored_pso, CASE5, MemoryModel::Pso);
quick!(
    case1_explored_tso_2_6_22,
    CASE1,
    MemoryModel::Tso,
    KernelVersion::V2_6_22
);
quick!(
    case1_explored_pso_2_6_22,
    CASE1,
    MemoryModel::Pso,
    KernelVersion::V2_6_22
);
quick!(
    case2_explored_tso_2_6_22,
    CASE2,
    MemoryModel::Tso,
    KernelVersion::V2_6_22
);
quick!(
    case2_explored_pso_2_6_22,
    CASE2,
    MemoryModel::Pso,
    KernelVersion::V2_6_22
);
quick!(
    case3_explored_tso_2_6_22,
    CASE3,
    MemoryModel::Tso,
    KernelVersion::V2_6_22
);
quick!(
    case3_explored_pso_2_6_22,
    CASE3,
    MemoryModel::Pso,
    KernelVersion::V2_6_22
);
quick!(
    case4_explored_sc_2_6_22,
    CASE4,
    MemoryModel::Sc,
    KernelVersion::V2_6_22
);
quick!(
    case4_explored_tso_2_6_22,
    CASE4,
    MemoryModel::Tso,
    KernelVersion::V2_6_22
);
quick!(
    case5_explored_sc_2_6_22,
    CASE5,
    MemoryModel::Sc,
    KernelVersion::V2_6_22
);
quick!(
    case5_explored_tso_2_6_22,
    CASE5,
    MemoryModel::Tso,
    KernelVersion::V2_6_22
);
quick!(
    case5_explored_pso_2_6_22,
    CASE5,
    MemoryModel::Pso,
    KernelVersion::V2_6_22
);

/// Both outcomes of case 2 and 3 (the removal before the steal, or after the transfer)
/// show up, and case 1's close lands both before and during the wait.
#[test]
fn cases_1_to_3_reach_every_allowed_outcome() {
    for case in [&CASE1, &CASE2, &CASE3] {
        let found = explore_case(case, MemoryModel::Sc, KernelVersion::Seed, &QUICK);
        let waiter: BTreeSet<String> = found
            .outcomes
            .iter()
            .flat_map(|o| {
                o.iter()
                    .filter(|(w, _)| w == "waiter")
                    .map(|(_, r)| r.clone())
            })
            .collect();
        assert_eq!(waiter.len(), 2, "{}: {waiter:?}", case.name);
    }
}

/// The 2.6.22 part of the campaign below, under tso and pso only (docs/findings.md,
/// "2.6.22"). Run with
/// `cargo test --release -p kernel-model --test seed_cases -- --ignored --nocapture campaign_2_6_22`.
#[test]
#[ignore]
fn campaign_2_6_22_tso_pso() {
    for case in [&CASE1, &CASE2, &CASE3, &CASE4, &CASE5] {
        for model in [MemoryModel::Tso, MemoryModel::Pso] {
            let found = explore_case(case, model, KernelVersion::V2_6_22, &CAMPAIGN);
            eprintln!(
                "== {} 2.6.22 {:?}: {} runs, {} outcomes, findings {:?}, dfs exhaustive {}",
                case.name,
                model,
                found.runs,
                found.outcomes.len(),
                found.findings,
                found.dfs_exhaustive
            );
        }
    }
}

/// The long campaigns: thousands of random and PCT schedules per case and model, and
/// DFS with two preemptions and one delayed drain on the full instances, on every kernel
/// version. Run with
/// `cargo test --release -p kernel-model --test seed_cases -- --ignored --nocapture`.
#[test]
#[ignore]
fn campaign_all_cases_all_models_every_version() {
    for version in KernelVersion::ALL {
        for case in [&CASE1, &CASE2, &CASE3, &CASE4, &CASE5] {
            for model in MemoryModel::ALL {
                let found = explore_case(case, model, version, &CAMPAIGN);
                eprintln!(
                    "== {} {} {:?}: {} runs, {} outcomes, findings {:?}, dfs exhaustive {}",
                    case.name,
                    version.name(),
                    model,
                    found.runs,
                    found.outcomes.len(),
                    found.findings,
                    found.dfs_exhaustive
                );
            }
        }
    }
}

// ---- one directed schedule per case, at lock granularity --------------------------------------

fn lock_options() -> Options {
    let mut options = Options::default();
    options.machine.granularity = GranularityKind::Lock;
    options.machine.keep_trace = true;
    options
}

/// Runs `build` under the phases `phases(kernel)` and returns the world, the log, the
/// notes of the trace and whether every phase ended. Also checks that the recorded
/// schedule replays to the same trace.
fn directed(
    hash: u64,
    build: fn(&mut World<LockSteps>, &Log),
    phases: impl Fn() -> Vec<(CpuId, Until<LockSteps>)>,
) -> DirectedRun {
    let options = lock_options();
    let log = common::log();
    let mut world = World::<LockSteps>::new(&options, hash).unwrap();
    build(&mut world, &log);
    let mut strategy = Directed::new(world.kernel(), phases());
    strategy.begin_execution();
    let outcome = world.run(&mut strategy);
    let count = phases().len();
    assert_eq!(
        strategy.done, count,
        "not every phase of the directed schedule ended"
    );
    let notes = common::notes(&world);
    let replayed = replay::<LockSteps>(
        &options,
        hash,
        &|w: &mut World<LockSteps>| build(w, &common::log()),
        &outcome.result.schedule,
    )
    .unwrap();
    assert_eq!(replayed.result.trace_hash, outcome.result.trace_hash);
    let result = log.borrow().clone();
    (result, notes, outcome.result)
}

fn until(f: impl Fn(&kernel_model::Kernel<LockSteps>) -> bool + 'static) -> Until<LockSteps> {
    Box::new(f)
}

/// Case 1: the closer's `close()` returns while the waiter is inside its transfer; the
/// set is freed by the waiter's own `fput` at the end of `sys_epoll_wait`, after the
/// transfer, so the wait completes normally.
#[test]
fn case1_ep_free_runs_only_after_the_wait_returns() {
    let (log, notes, result) = directed(CASE1.hash, common::case1_close_epfd, || {
        vec![
            (CpuId(0), until(|k| common::in_transfer(k, "waiter"))),
            (CpuId(1), until(|k| common::exited(k, "closer"))),
        ]
    });
    assert_eq!(result.end, RunEnd::Completed);
    assert!(result.reports.is_empty(), "{:?}", result.reports);
    assert_eq!(result_of(&log, "closer"), "Ok(())");
    assert_eq!(result_of(&log, "waiter"), "1 [EPOLLIN:1]");
    // The close happened first (the closer finished during the transfer) …
    assert_eq!(log[0].0, "closer", "{log:?}");
    // … but the last reference, and so ep_free, went with the waiter, after it stole
    // the ready list and sent the event.
    let steal = common::find_note(&notes, 0, "waiter", "steal the ready list").unwrap();
    let fput = common::find_note(&notes, steal, "waiter", "__fput: last reference to ep").unwrap();
    let free = common::find_note(&notes, fput, "waiter", "ep_free").unwrap();
    assert!(common::find_note(&notes, 0, "closer", "ep_free").is_none());
    assert!(steal < fput && fput < free);
}

/// Case 2: the DEL waits for `ep->sem` while the transfer holds it for read; it runs
/// only after the transfer, which delivered both items.
#[test]
fn case2_del_blocks_on_sem_until_the_transfer_ends() {
    let (log, notes, result) = directed(CASE2.hash, common::case2_del, || {
        vec![
            (CpuId(0), until(|k| common::stolen(k, "waiter"))),
            (
                CpuId(1),
                until(|k| {
                    common::waits_for(k, "deleter")
                        .iter()
                        .any(|l| l.ends_with("->sem"))
                }),
            ),
            (CpuId(0), until(|k| common::exited(k, "waiter"))),
        ]
    });
    assert_eq!(result.end, RunEnd::Completed);
    assert!(result.reports.is_empty(), "{:?}", result.reports);
    assert_eq!(result_of(&log, "waiter"), "2 [EPOLLIN:1 EPOLLIN:2]");
    assert_eq!(result_of(&log, "deleter"), "Ok(())");
    let sent = common::find_note(&notes, 0, "waiter", "ep_send_events: deliver epitem").unwrap();
    let removed = common::find_note(&notes, 0, "deleter", "ep_remove").unwrap();
    assert!(sent < removed);
}

/// Case 3: `close()` of a watched pipe end: `__fput` → `eventpoll_release_file` holds
/// `epmutex` and waits for `ep->sem` until the transfer is over.
#[test]
fn case3_release_file_blocks_on_sem_until_the_transfer_ends() {
    let (log, notes, result) = directed(CASE3.hash, common::case3_close_watched, || {
        vec![
            (CpuId(0), until(|k| common::stolen(k, "waiter"))),
            (
                CpuId(1),
                until(|k| {
                    common::waits_for(k, "closer")
                        .iter()
                        .any(|l| l.ends_with("->sem"))
                        && k.cx
                            .state()
                            .locks
                            .borrow()
                            .get(k.epmutex)
                            .holders()
                            .next()
                            .is_some()
                }),
            ),
            (CpuId(0), until(|k| common::exited(k, "waiter"))),
        ]
    });
    assert_eq!(result.end, RunEnd::Completed);
    assert!(result.reports.is_empty(), "{:?}", result.reports);
    assert_eq!(result_of(&log, "waiter"), "2 [EPOLLIN:1 EPOLLIN:2]");
    assert_eq!(result_of(&log, "closer"), "Ok(())");
    let sent = common::find_note(&notes, 0, "waiter", "ep_send_events: deliver epitem").unwrap();
    let release = common::find_note(&notes, 0, "closer", "eventpoll_release_file").unwrap();
    let removed = common::find_note(&notes, release, "closer", "ep_remove").unwrap();
    assert!(release < sent && sent < removed, "{notes:?}");
}

/// Case 4 with the commit message's numbers: 50 ready level-triggered items, two
/// waiters with maxevents 10. The first steals all 50; the second finds the ready list
/// empty and sleeps; the re-splice at the end of the first transfer wakes it, and it
/// gets the same first ten (they are still ready and were re-injected at the head).
#[test]
fn case4_first_steals_all_second_sleeps_reinjection_wakes_it() {
    fn build(world: &mut World<LockSteps>, log: &Log) {
        common::two_waiters(world, 50, 10, log);
    }
    let (log, notes, result) = directed(0x5eed_0450, build, || {
        vec![
            (CpuId(0), until(|k| common::stolen(k, "waiter0"))),
            (CpuId(1), until(|k| common::asleep_in_ep_poll(k, "waiter1"))),
            (CpuId(0), until(|k| common::exited(k, "waiter0"))),
        ]
    });
    assert_eq!(result.end, RunEnd::Completed);
    assert!(result.reports.is_empty(), "{:?}", result.reports);
    let ten: Vec<String> = (0..10).map(|i| format!("EPOLLIN:{i}")).collect();
    let expected = format!("10 [{}]", ten.join(" "));
    assert_eq!(result_of(&log, "waiter0"), expected);
    assert_eq!(result_of(&log, "waiter1"), expected);

    let steal0 = common::find_note(&notes, 0, "waiter0", "steal the ready list").unwrap();
    let sleep1 = common::find_note(&notes, steal0, "waiter1", "nothing ready, sleep").unwrap();
    let resplice = common::find_note(&notes, sleep1, "waiter0", "re-splice").unwrap();
    let wake = common::find_note(&notes, resplice, "waiter0", "__wake_up_locked(&ep->wq)").unwrap();
    let steal1 = common::find_note(&notes, wake, "waiter1", "steal the ready list").unwrap();
    // The first transfer took all 50: the second waiter stole nothing before it slept.
    assert!(common::find_note(&notes, 0, "waiter1", "steal the ready list") == Some(steal1));
    let delivered_by_0 = notes[steal0..resplice]
        .iter()
        .filter(|(t, n)| t == "waiter0" && n.contains("deliver"))
        .count();
    assert_eq!(delivered_by_0, 10);
}

/// Case 5 at lock granularity: the writer's three callbacks run on CPU 1 while CPU 0
/// is in the transfer loop (at the first `__put_user`). The items on the stolen list
/// look linked and are not queued again; the idle one is queued; the waiter still
/// delivers both ready items.
#[test]
fn case5_callbacks_during_the_loop_see_the_items_linked() {
    fn build(world: &mut World<LockSteps>, log: &Log) {
        common::case5_callback(world, log);
    }
    let (log, notes, result) = directed(CASE5.hash, build, || {
        vec![
            (CpuId(0), until(|k| common::stolen(k, "waiter"))),
            (CpuId(1), until(|k| common::exited(k, "writer"))),
        ]
    });
    assert_eq!(result.end, RunEnd::Completed);
    assert!(result.reports.is_empty(), "{:?}", result.reports);
    assert_eq!(result_of(&log, "writer"), "Ok(1) Ok(1) Ok(1)");
    assert_eq!(result_of(&log, "waiter"), "2 [EPOLLIN:1 EPOLLIN:2]");
    let steal = common::find_note(&notes, 0, "waiter", "steal the ready list").unwrap();
    let linked: Vec<&String> = notes[steal..]
        .iter()
        .filter(|(t, n)| t == "writer" && n.contains("already linked"))
        .map(|(_, n)| n)
        .collect();
    assert_eq!(linked.len(), 2, "{notes:?}");
    assert!(notes[steal..]
        .iter()
        .any(|(t, n)| t == "writer" && n.contains("list_add_tail(epitem")));
}
