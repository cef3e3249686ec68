mod common;

use kernel_model::explore::{explore, ExploreOptions};
use kernel_model::Options;
use sim::strategy::StrategyKind;
use sim::{GranularityKind, LockSteps};

#[test]
fn case_4_two_waiters_get_ten_each_and_no_report() {
    let mut options = Options::default();
    options.machine.granularity = GranularityKind::Lock;
    let build = |world: &mut kernel_model::World<LockSteps>| {
        let log = common::log();
        common::two_waiters(world, 50, 10, &log);
    };
    let summary = explore::<LockSteps>(
        &options,
        4,
        &build,
        &ExploreOptions {
            strategy: StrategyKind::Random,
            runs: 200,
            ..ExploreOptions::default()
        },
    );
    assert!(summary.reports.is_empty(), "{summary:?}");
    assert!(summary.distinct_traces > 10, "{summary:?}");
}
