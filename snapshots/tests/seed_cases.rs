//! Group 2: the five concurrent situations the seed commit (6192bd536f96) argues about.
//! For each: the narrated trace of one schedule at lock granularity — the argument in
//! action — and a bounded exploration at the scenario's own granularity: how many
//! schedules, which distinct outcomes, and which reports (none expected but documented
//! findings, which are named). The same five on 2.6.22, where d47de16c7221 changed the
//! argument: `ep->mtx` across the transfer, callbacks chained on `ovflist`, one sleeper
//! woken per wake.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kernel_model::explore::ExploreOptions;
use sim::strategy::{Scheduler, StrategyKind};
use sim::GranularityKind;
use workloads::scenario::Overrides;
use workloads::session::{self, Capture, Drive};

/// Schedules explored per case (kept small: the suite runs in the test command).
const RUNS: u64 = 60;

fn case(name: &str) -> String {
    case_on(name, None)
}

fn case_on(name: &str, kernel: Option<kernel_model::KernelVersion>) -> String {
    let scenario = snapshots::library_scenario(name);
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", scenario.name(), scenario.description());

    // One schedule, narrated, at lock granularity.
    let overrides = Overrides {
        granularity: Some(GranularityKind::Lock),
        model: Some(sim::MemoryModel::Sc),
        kernel,
        ..Overrides::default()
    };
    let options = scenario.options(&overrides);
    let seed = scenario.seed();
    let mut strategy = kernel_model::explore::strategy_for(
        &ExploreOptions {
            strategy: StrategyKind::Random,
            seed,
            ..Default::default()
        },
        0,
    );
    let run = snapshots::traced_run(
        &scenario,
        &options,
        seed,
        Drive::Strategy(strategy.as_mut()),
    );
    let _ = writeln!(
        out,
        "\n== one schedule ({}) ==",
        snapshots::describe_options(&options, "random", seed)
    );
    out.push_str(&snapshots::narration(
        run.trace.as_ref().expect("trace kept"),
    ));
    out.push_str("\nresults:\n");
    out.push_str(&run.results.render());
    out.push_str(&snapshots::reports_text(&run.violations()));
    let _ = writeln!(out, "schedule: {}", run.outcome.result.schedule.encode());

    // A bounded exploration at the scenario's own options.
    let options = scenario.options(&Overrides {
        kernel,
        ..Overrides::default()
    });
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut reports: BTreeMap<String, u64> = BTreeMap::new();
    let mut hashes = std::collections::BTreeSet::new();
    for i in 0..RUNS {
        let mut random = sim::strategy::Random::new(seed.wrapping_add(i));
        random.begin_execution();
        let run = session::execute(
            &scenario,
            &options,
            seed,
            Capture::Results,
            Drive::Strategy(&mut random),
        )
        .expect("valid options");
        hashes.insert(run.outcome.result.trace_hash);
        *outcomes.entry(run.results.render()).or_insert(0) += 1;
        for (report, finding) in run.outcome.reports().iter().zip(&run.findings) {
            let label = match finding {
                Some(name) => format!("{} (documented finding {name})", report.kind),
                None => report.kind.to_string(),
            };
            *reports.entry(label).or_insert(0) += 1;
        }
    }
    let _ = writeln!(
        out,
        "\n== exploration: {RUNS} random schedules ({}) ==",
        snapshots::describe_options(&options, "random", seed)
    );
    let _ = writeln!(out, "distinct traces: {}", hashes.len());
    let _ = writeln!(out, "distinct outcomes: {}", outcomes.len());
    for (n, (outcome, count)) in outcomes.iter().enumerate().take(4) {
        let _ = writeln!(out, "-- outcome {} ({count} runs):", n + 1);
        out.push_str(outcome);
    }
    if outcomes.len() > 4 {
        let _ = writeln!(out, "-- ... {} more outcomes", outcomes.len() - 4);
    }
    if reports.is_empty() {
        let _ = writeln!(out, "reports: none");
    }
    for (kind, count) in &reports {
        let _ = writeln!(out, "report {kind}: {count} runs");
    }
    out
}

#[test]
fn seed_case_1_epfd_close() {
    insta::assert_snapshot!(case("seed-case-1-epfd-close"));
}

#[test]
fn seed_case_2_ctl_del() {
    insta::assert_snapshot!(case("seed-case-2-ctl-del"));
}

#[test]
fn seed_case_3_file_close() {
    insta::assert_snapshot!(case("seed-case-3-file-close"));
}

#[test]
fn seed_case_4_two_waiters() {
    insta::assert_snapshot!(case("seed-case-4-two-waiters"));
}

#[test]
fn seed_case_5_callback_race() {
    insta::assert_snapshot!(case("seed-case-5-callback-race"));
}

const V2_6_22: Option<kernel_model::KernelVersion> = Some(kernel_model::KernelVersion::V2_6_22);

#[test]
fn seed_case_1_epfd_close_on_2_6_22() {
    insta::assert_snapshot!(case_on("seed-case-1-epfd-close", V2_6_22));
}

#[test]
fn seed_case_2_ctl_del_on_2_6_22() {
    insta::assert_snapshot!(case_on("seed-case-2-ctl-del", V2_6_22));
}

#[test]
fn seed_case_3_file_close_on_2_6_22() {
    insta::assert_snapshot!(case_on("seed-case-3-file-close", V2_6_22));
}

#[test]
fn seed_case_4_two_waiters_on_2_6_22() {
    insta::assert_snapshot!(case_on("seed-case-4-two-waiters", V2_6_22));
}

#[test]
fn seed_case_5_callback_race_on_2_6_22() {
    insta::assert_snapshot!(case_on("seed-case-5-callback-race", V2_6_22));
}
