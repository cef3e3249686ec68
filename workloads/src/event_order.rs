//! The event order of a scenario as stable text: each task's calls in order with their
//! results, errnos and returned event lists, the expectations, the reports and how the
//! run ended — one run on one kernel version under the scenario's own options.
//!
//! This is the text the project's own snapshots (`snapshots/tests/event_order.rs`),
//! `epsim snapshot` and [`crate::api`] pin. It holds no wall-clock times, rates, host
//! paths or pointer values, so it is the same on every machine and build profile.

use std::fmt::Write as _;

use kernel_model::KernelVersion;

use crate::scenario::{Overrides, Scenario};

/// One run of `scenario` under its own header's options (with `kernel` forced), with the
/// scenario's strategy and seed: every task's results in order, the expectations, the
/// reports and how the run ended. Options the scenario cannot run with give one line,
/// `options refused: REASON`.
pub fn render(scenario: &Scenario, kernel: KernelVersion) -> String {
    let overrides = Overrides {
        kernel: Some(kernel),
        ..Overrides::default()
    };
    let options = scenario.options(&overrides);
    if let Err(error) = scenario.check_options(&options) {
        return format!("options refused: {error}\n");
    }
    let seed = scenario.seed();
    let mut strategy = kernel_model::explore::strategy_for(
        &kernel_model::explore::ExploreOptions {
            strategy: scenario.strategy(),
            seed,
            ..Default::default()
        },
        0,
    );
    let output = scenario.run(&options, seed, strategy.as_mut());
    let mut out = String::new();
    let m = &options.machine;
    let _ = writeln!(
        out,
        "kernel {}, cpus {}, granularity {}, model {}, strategy {}, seed {}",
        kernel.name(),
        m.cpus,
        m.granularity.name(),
        m.model.name(),
        scenario.strategy().name(),
        seed
    );
    out.push_str(&output.results.render());
    let _ = writeln!(
        out,
        "expectations: {} passed, {} failed",
        output.results.passed(),
        output.results.failed()
    );
    for failure in output.results.expectations.iter().filter(|e| !e.passed) {
        let _ = writeln!(out, "  failed: {}", failure.message);
    }
    let reports = output.outcome.reports();
    if reports.is_empty() {
        let _ = writeln!(out, "reports: none");
    }
    for report in reports {
        let _ = writeln!(out, "report {}: {}", report.kind, report.message);
    }
    let _ = writeln!(
        out,
        "end: {:?}, {} steps",
        output.outcome.result.end, output.outcome.result.steps
    );
    out
}
