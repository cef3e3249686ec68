//! Runs with options other than a scenario's own: the two workers of
//! `scenarios/two-workers.scn` under random schedules, seeds 0 to 3, on the default
//! kernel version. The snapshot names no version, so a new default version, or a
//! change of what it does, shows up as a diff of this one file (its `kernel` lines).

use workloads::api::{self, StrategyKind};

#[test]
fn two_workers_under_random_schedules() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/two-workers.scn");
    let scenario = api::load(file).unwrap();
    let mut text = String::new();
    for seed in 0..4 {
        let options = api::RunOptions::new()
            .strategy(StrategyKind::Random)
            .seed(seed);
        let run = api::run(&scenario, &options).unwrap();
        assert!(run.passed, "{}", run.event_order);
        text.push_str(&run.event_order);
        text.push('\n');
    }
    insta::assert_snapshot!(text);
}
