//! The event order of a scenario as stable text: each task's calls in order with their
//! results, errnos and returned event lists, the expectations, the reports and how the
//! run ended — one run on one kernel version.
//!
//! This is the text the project's own snapshots (`snapshots/tests/event_order.rs`),
//! `epsim snapshot` and [`crate::api`] pin. It holds no wall-clock times, rates, host
//! paths or pointer values, so it is the same on every machine and build profile.
//!
//! The run's strategy is built as [`kernel_model::explore::strategy_for`] builds run 0
//! of an exploration, seeded with the seed, without `epsim run`'s focus on racing
//! decisions: for `timed` and `round-robin` (and scenarios on one CPU) it is the run
//! `epsim run` makes; for `random`, `pct` and `dfs` it can be another interleaving.

use std::fmt::Write as _;

use kernel_model::{KernelVersion, Options};
use sim::{GranularityKind, MemoryModel, StrategyKind};

use crate::scenario::{Overrides, RunOutput, Scenario};

/// What to change of a scenario's own header for one run; `None` keeps the header's
/// choice (or the default where the header has none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunChoices {
    pub kernel: Option<KernelVersion>,
    pub cpus: Option<usize>,
    pub model: Option<MemoryModel>,
    pub granularity: Option<GranularityKind>,
    pub strategy: Option<StrategyKind>,
    /// Seeds the strategy and the scenario's `random(n)`.
    pub seed: Option<u64>,
}

/// One run and its event order.
#[derive(Clone, Debug)]
pub struct EventOrder {
    /// The stable text ([`render`]'s).
    pub text: String,
    /// What the run produced: results, outcome (reports, end, steps, trace hash), verdict.
    pub output: RunOutput,
    /// The options the run used.
    pub options: Options,
    pub strategy: StrategyKind,
    pub seed: u64,
}

/// Runs `scenario` once as `choices` say over its header. Options it cannot run with
/// (a pinned CPU the machine lacks, a memory model without `granularity access`) are
/// an error of one line.
pub fn run(scenario: &Scenario, choices: &RunChoices) -> Result<EventOrder, String> {
    if choices.model.is_some() || choices.granularity.is_some() {
        // Names the header line a changed model or granularity conflicts with.
        scenario
            .check_header(choices.model, choices.granularity)
            .map_err(|error| error.to_string())?;
    }
    let overrides = Overrides {
        kernel: choices.kernel,
        cpus: choices.cpus,
        model: choices.model,
        granularity: choices.granularity,
        ..Overrides::default()
    };
    let options = scenario.options(&overrides);
    scenario.check_options(&options)?;
    let seed = choices.seed.unwrap_or_else(|| scenario.seed());
    let strategy_kind = choices.strategy.unwrap_or_else(|| scenario.strategy());
    let mut strategy = kernel_model::explore::strategy_for(
        &kernel_model::explore::ExploreOptions {
            strategy: strategy_kind,
            seed,
            ..Default::default()
        },
        0,
    );
    let output = scenario.run(&options, seed, strategy.as_mut());
    let text = text_of(&output, &options, strategy_kind, seed);
    Ok(EventOrder {
        text,
        output,
        options,
        strategy: strategy_kind,
        seed,
    })
}

/// One run of `scenario` under its own header's options (with `kernel` forced), with the
/// scenario's strategy and seed: every task's results in order, the expectations, the
/// reports and how the run ended. Options the scenario cannot run with give one line,
/// `options refused: REASON`.
pub fn render(scenario: &Scenario, kernel: KernelVersion) -> String {
    let choices = RunChoices {
        kernel: Some(kernel),
        ..RunChoices::default()
    };
    match run(scenario, &choices) {
        Ok(order) => order.text,
        Err(error) => format!("options refused: {error}\n"),
    }
}

/// The text of a run: the options line, each task's calls, expectations, reports, end.
fn text_of(output: &RunOutput, options: &Options, strategy: StrategyKind, seed: u64) -> String {
    let mut out = String::new();
    let m = &options.machine;
    let _ = writeln!(
        out,
        "kernel {}, cpus {}, granularity {}, model {}, strategy {}, seed {}",
        options.kernel.version.name(),
        m.cpus,
        m.granularity.name(),
        m.model.name(),
        strategy.name(),
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

/// The lines of an event order that say what the calls returned: all but the options
/// line and the `end:` line (whose step count follows each version's costs). Two
/// versions agree on the event order when these are equal.
pub fn results_lines(text: &str) -> Vec<&str> {
    text.lines()
        .skip(1)
        .filter(|line| !line.starts_with("end:"))
        .collect()
}

/// Why `scenario` cannot run on `kernel` — the first system call it makes that the
/// version's tree does not have ([`Scenario::unsupported_on`]) — or `None`.
pub fn unsupported_on(scenario: &Scenario, kernel: KernelVersion) -> Option<String> {
    scenario.unsupported_on(kernel).map(str::to_string)
}
