//! DPOR (`StrategyKind::Dpor`) against unbounded DFS on the seed cases.

mod common;

use std::cell::RefCell;
use std::collections::BTreeSet;

use common::Log;
use kernel_model::check::classify_finding;
use kernel_model::explore::{explore_classified, ExploreOptions, ExploreSummary};
use kernel_model::{KernelVersion, Options, World};
use sim::strategy::StrategyKind;
use sim::{AccessSteps, GranularityKind, MemoryModel};

type Build = fn(&mut World<AccessSteps>, &Log);
type Outcomes = BTreeSet<Vec<(String, String)>>;

fn options(model: MemoryModel) -> Options {
    let mut options = Options::default();
    options.machine.granularity = GranularityKind::Access;
    options.machine.model = model;
    options.kernel.version = KernelVersion::Seed;
    options
}

fn explore(build_case: Build, model: MemoryModel, strategy: StrategyKind, runs: u64) -> (ExploreSummary, Outcomes) {
    explore_with(build_case, model, strategy, runs, false)
}

fn explore_with(build_case: Build, model: MemoryModel, strategy: StrategyKind, runs: u64, focus: bool) -> (ExploreSummary, Outcomes) {
    let logs: RefCell<Vec<Log>> = RefCell::new(Vec::new());
    let build = |world: &mut World<AccessSteps>| {
        let log = common::log();
        build_case(world, &log);
        logs.borrow_mut().push(log);
    };
    let explore = ExploreOptions {
        strategy,
        runs,
        seed: 1,
        preemption_bound: None,
        delay_bound: None,
        shrink: false,
        focus,
        ..ExploreOptions::default()
    };
    let summary = explore_classified(&options(model), 7, &build, &explore, &|k, r| classify_finding(k, r));
    let outcomes = logs
        .borrow()
        .iter()
        .map(|l| {
            let mut sorted = l.borrow().clone();
            sorted.sort();
            sorted
        })
        .collect();
    (summary, outcomes)
}

/// A small scenario unbounded DFS can exhaust at access granularity: a write to a
/// watched pipe on one CPU while another waits on the set with timeout 0.
fn write_while_polling<G: sim::Granularity>(world: &mut World<G>, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(sim::CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [_, w] = common::watched_pipe(&k, ep, common::LT, 1, false).await;
        let l = log.clone();
        k.spawn_thread("waiter", Some(sim::CpuId(0)), move |k| async move {
            let got = k
                .sys_epoll_wait(ep, kernel_model::user::UserBufferSpec::default(), 4, 0)
                .await;
            common::push(&l, "waiter", common::show(&got));
        });
        let l = log.clone();
        k.spawn_thread("writer", Some(sim::CpuId(1)), move |k| async move {
            let got = k.sys_write(w, b"x").await;
            common::push(&l, "writer", format!("{got:?}"));
        });
    });
}

#[test]
#[ignore]
fn experiment_small() {
    for model in [MemoryModel::Sc, MemoryModel::Tso] {
        for strategy in [StrategyKind::Dpor, StrategyKind::Dfs] {
            let t = std::time::Instant::now();
            let (summary, outcomes) = explore_with(write_while_polling, model, strategy, 300_000, strategy == StrategyKind::Dfs);
            eprintln!("{model:?} {strategy:?}: {} runs, exhaustive {}, redundant {}, {} outcomes {:?}, {:?}", summary.runs, summary.exhaustive, summary.redundant, outcomes.len(), outcomes, t.elapsed());
        }
    }
}

#[test]
#[ignore]
fn experiment() {
    let cases: [(&str, Build); 6] = [
        ("case1", common::case1_close_epfd),
        ("case2", common::case2_del),
        ("case3", common::case3_close_watched),
        ("case4", common::case4_two_waiters),
        ("case5", common::case5_callback),
        ("case5-small", common::case5_small),
    ];
    for (name, build) in cases {
        for model in [MemoryModel::Sc, MemoryModel::Tso] {
            let t = std::time::Instant::now();
            let (summary, outcomes) = explore(build, model, StrategyKind::Dpor, 20_000);
            eprintln!("{name} {model:?} dpor: {} runs, exhaustive {}, redundant {}, step-limited {}, diverged {}, {} outcomes, findings {:?}, {:?}", summary.runs, summary.exhaustive, summary.redundant, summary.step_limited, summary.diverged, outcomes.len(), summary.findings, t.elapsed());
        }
    }
}
