//! # snapshots — epsim's memory of what the simulated kernel does
//!
//! A test-only crate: the tests in `tests/` pin, in insta snapshots a reviewer can read,
//! the event order of every shipped scenario on every kernel version side by side, the seed commit's
//! five cases (narrated, and their bounded explorations), every bug injection's
//! counter-example, the litmus table, and the findings about the 2007 code. A change
//! that alters any of them shows up as a snapshot diff.
//!
//! This file holds the helpers the tests share; each renders deterministic text: no
//! wall-clock times, rates, host paths or pointer values.

use std::fmt::Write as _;

use kernel_model::KernelVersion;
use workloads::scenario::Scenario;

/// The scenario file `name` of the library (`workloads/scenarios/NAME.scn`).
pub fn library_scenario(name: &str) -> Scenario {
    workloads::scenario::builtin(name)
        .unwrap_or_else(|| panic!("no built-in scenario {name}"))
        .parse()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// One run of `scenario` under its own header's options (with `kernel` forced), with the
/// scenario's strategy and seed: every task's results in order, the expectations, the
/// reports and how the run ended ([`workloads::event_order::render`], which `epsim
/// snapshot` and `workloads::api` share).
pub fn check(scenario: &Scenario, kernel: KernelVersion) -> String {
    workloads::event_order::render(scenario, kernel)
}

/// `check` on every kernel version of [`KernelVersion::ALL`], side by side in that
/// order, after a line saying which versions give the same results. A version on which
/// the scenario makes a call its tree does not have is shown as skipped, with the reason.
pub fn check_all(scenario: &Scenario) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", scenario.name(), scenario.description());
    let mut sections = Vec::new();
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for kernel in KernelVersion::ALL {
        let body = match scenario.unsupported_on(kernel) {
            Some(reason) => format!("skipped: {reason}\n"),
            None => {
                let body = check(scenario, kernel);
                let results = strip_header(&body);
                match groups.iter_mut().find(|(r, _)| *r == results) {
                    Some((_, names)) => names.push(kernel.name()),
                    None => groups.push((results, vec![kernel.name()])),
                }
                body
            }
        };
        sections.push(format!("== {} ==\n{body}", kernel.name()));
    }
    let agreement: Vec<String> = groups
        .iter()
        .map(|(_, names)| format!("[{}]", names.join(", ")))
        .collect();
    let _ = writeln!(
        out,
        "{}",
        match groups.len() {
            0 => "no version runs it.".to_string(),
            1 => format!("same results on {}.", agreement[0]),
            _ => format!(
                "results differ; alike: {} (the scenario's comment says why).",
                agreement.join(" ")
            ),
        }
    );
    for section in sections {
        let _ = write!(out, "\n{section}");
    }
    out
}

fn strip_header(text: &str) -> String {
    text.lines()
        .skip(1)
        .filter(|l| !l.starts_with("end:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A run's trace, narrated in kernel terms and folded where it repeats on other objects
/// (the same rendering as `epsim run --trace text`, folded like the demo).
pub fn narration(trace: &workloads::session::TraceCapture) -> String {
    let lines: Vec<String> = trace
        .prefixes
        .iter()
        .zip(&trace.lines)
        .map(|(prefix, line)| format!("{prefix}  {line}"))
        .collect();
    let steps = |index: usize| trace.records.get(index).map_or(0, |r| r.step);
    let folded = workloads::fold::fold(&lines, 64, 4, &|p, more, first, last| {
        format!(
            "     ⋮  the {p} line(s) above repeat {more} more time(s) on other objects (steps {}..{}); the last:",
            steps(first),
            steps(last + p - 1),
        )
    });
    let mut out = String::new();
    for line in folded {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Runs `scenario` once with its header's options under `drive`, keeping the trace.
pub fn traced_run(
    scenario: &Scenario,
    options: &kernel_model::Options,
    seed: u64,
    drive: workloads::session::Drive<'_>,
) -> workloads::session::Executed {
    workloads::session::execute(
        scenario,
        options,
        seed,
        workloads::session::Capture::Trace,
        drive,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", scenario.name()))
}

/// The reports of a run, one line each (kind, step, message), then their details.
pub fn reports_text(reports: &[&sim::Report]) -> String {
    let mut out = String::new();
    if reports.is_empty() {
        out.push_str("reports: none\n");
    }
    for report in reports {
        let _ = writeln!(
            out,
            "report {} at step {}: {}",
            report.kind, report.step, report.message
        );
        for detail in &report.details {
            let _ = writeln!(out, "    {detail}");
        }
    }
    out
}

/// The options line of a snapshot header.
pub fn describe_options(options: &kernel_model::Options, strategy: &str, seed: u64) -> String {
    let m = &options.machine;
    let injections: Vec<&str> = options.kernel.injections.iter().map(|i| i.name()).collect();
    format!(
        "kernel {}, cpus {}, granularity {}, model {}, strategy {strategy}, seed {seed}{}",
        options.kernel.version.name(),
        m.cpus,
        m.granularity.name(),
        m.model.name(),
        if injections.is_empty() {
            String::new()
        } else {
            format!(", inject {}", injections.join(","))
        }
    )
}

/// A strategy that takes the choices of a schedule's deviations by decision index and
/// the default elsewhere, clamping choices that do not exist: runs a schedule's choices
/// on a port that differs from the one it was recorded on (which a strict replay would
/// refuse).
pub struct FollowDeviations {
    deviations: Vec<sim::schedule::Deviation>,
    cursor: usize,
}

impl FollowDeviations {
    pub fn new(deviations: Vec<sim::schedule::Deviation>) -> FollowDeviations {
        FollowDeviations {
            deviations,
            cursor: 0,
        }
    }
}

impl sim::Scheduler for FollowDeviations {
    fn begin_execution(&mut self) -> bool {
        self.cursor = 0;
        true
    }

    fn choose(&mut self, view: &sim::strategy::DecisionView<'_>) -> usize {
        while self.cursor < self.deviations.len()
            && self.deviations[self.cursor].decision < view.decision
        {
            self.cursor += 1;
        }
        match self.deviations.get(self.cursor) {
            Some(d) if d.decision == view.decision => {
                (d.choice as usize).min(view.actions.len() - 1)
            }
            _ => 0,
        }
    }
}
