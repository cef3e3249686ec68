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

fn explore(
    build_case: Build,
    model: MemoryModel,
    strategy: StrategyKind,
    runs: u64,
) -> (ExploreSummary, Outcomes) {
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
        focus: false,
        ..ExploreOptions::default()
    };
    let summary = explore_classified(&options(model), 7, &build, &explore, &|k, r| {
        classify_finding(k, r)
    });
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
