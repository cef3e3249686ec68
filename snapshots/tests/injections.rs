//! Group 3: every bug injection. For each `inject-*` scenario of the library: the report
//! kind an exploration finds (by a named checker), the shrunk schedule, and the narrated
//! trace of that schedule — the counter-example a student reads. Where no schedule of the
//! available models exposes the mutation (no-smp-mb), the exhaustive result is pinned
//! instead, beside the same search on the unmodified port.

use std::fmt::Write as _;

use kernel_model::explore::ExploreOptions;
use sim::strategy::StrategyKind;
use workloads::scenario::Overrides;
use workloads::session::Drive;

/// Random schedules tried before giving up (each scenario is built to fail quickly).
const RUNS_MAX: u64 = 400;

fn injection(name: &str) -> String {
    let scenario = snapshots::library_scenario(name);
    let options = scenario.options(&Overrides::default());
    let seed = scenario.seed();
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", scenario.name(), scenario.description());
    let _ = writeln!(
        out,
        "options: {}",
        snapshots::describe_options(&options, "random", seed)
    );
    let expected: Vec<String> = scenario
        .header
        .expect_reports
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    let _ = writeln!(out, "expected report: {}", expected.join(", "));
    let summary = scenario.explore(
        &options,
        seed,
        &ExploreOptions {
            strategy: StrategyKind::Random,
            runs: RUNS_MAX,
            seed,
            stop_at_first: true,
            shrink: true,
            ..ExploreOptions::default()
        },
    );
    let Some(first) = summary.first_report else {
        let _ = writeln!(out, "no report in {} random schedules", summary.runs);
        return out;
    };
    let _ = writeln!(
        out,
        "found: {} after {} schedule(s): {}",
        first.kind,
        first.run + 1,
        first.message
    );
    let shrunk = first.shrunk_schedule.expect("shrinking was asked for");
    let _ = writeln!(
        out,
        "shrunk schedule ({} deviation(s) from the canonical run, {} decisions): {}",
        shrunk.deviations.len(),
        shrunk.decisions,
        shrunk.encode()
    );
    let run = snapshots::traced_run(&scenario, &options, seed, Drive::Replay(&shrunk));
    let _ = writeln!(out, "\n== the shrunk schedule, replayed and narrated ==");
    out.push_str(&snapshots::narration(
        run.trace.as_ref().expect("trace kept"),
    ));
    out.push_str("\nresults:\n");
    out.push_str(&run.results.render());
    out.push_str(&snapshots::reports_text(&run.violations()));

    // The same choices on the unmodified port: the line the injection removes is what
    // keeps this schedule clean. Deleting it from the port turns this section into the
    // one above, so the snapshot fails.
    let unmodified = scenario.options(&Overrides {
        injections: Some(vec![]),
        ..Overrides::default()
    });
    let mut follow = snapshots::FollowDeviations::new(shrunk.deviations.clone());
    let clean = scenario.run(&unmodified, seed, &mut follow);
    let _ = writeln!(out, "\n== the same choices on the unmodified port ==");
    out.push_str(&clean.results.render());
    let reports: Vec<&sim::Report> = clean.outcome.reports().iter().collect();
    out.push_str(&snapshots::reports_text(&reports));
    out
}

#[test]
fn inject_no_linked_check() {
    insta::assert_snapshot!(injection("inject-no-linked-check"));
}

#[test]
fn inject_no_reinject_wakeup() {
    insta::assert_snapshot!(injection("inject-no-reinject-wakeup"));
}

#[test]
fn inject_lock_without_irqsave() {
    insta::assert_snapshot!(injection("inject-lock-without-irqsave"));
}

#[test]
fn inject_ctl_without_sem() {
    insta::assert_snapshot!(injection("inject-ctl-without-sem"));
}

#[test]
fn inject_steal_without_lock() {
    insta::assert_snapshot!(injection("inject-steal-without-lock"));
}

#[test]
fn inject_no_pwake_deferral() {
    insta::assert_snapshot!(injection("inject-no-pwake-deferral"));
}

#[test]
fn inject_unhook_under_lock() {
    insta::assert_snapshot!(injection("inject-unhook-under-lock"));
}

/// no-smp-mb: bounded exhaustive search (one preemption, one delayed store-buffer drain)
/// at access granularity under pso — the weakest model here — with and without the
/// mutation. The argument for why no model here can expose it, and which hardware would,
/// is in docs/findings.md.
#[test]
fn inject_no_smp_mb_exhaustive() {
    let scenario = snapshots::library_scenario("inject-no-smp-mb");
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", scenario.name(), scenario.description());
    for injections in [vec![kernel_model::Injection::NoSmpMb], vec![]] {
        let overrides = Overrides {
            injections: Some(injections.clone()),
            ..Overrides::default()
        };
        let options = scenario.options(&overrides);
        let summary = scenario.explore(
            &options,
            scenario.seed(),
            &ExploreOptions {
                strategy: StrategyKind::Dfs,
                runs: 100_000,
                preemption_bound: Some(1),
                delay_bound: Some(1),
                shrink: false,
                ..ExploreOptions::default()
            },
        );
        let reports: Vec<String> = summary
            .reports
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        let _ = writeln!(
            out,
            "{}: dfs (preemption bound 1, drain-delay bound 1) {} — {} executions, {} distinct traces, reports: {}",
            snapshots::describe_options(&options, "dfs", scenario.seed()),
            if summary.exhaustive { "complete" } else { "cut at the run limit" },
            summary.runs,
            summary.distinct_traces,
            if reports.is_empty() { "none".to_string() } else { reports.join(", ") }
        );
    }
    insta::assert_snapshot!(out);
}
