//! `epsim view`: a run as a self-contained HTML page to step through (see [`crate::view`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::ViewArgs;
use crate::exit::{CliError, Exit};
use crate::scenario::Scenario;
use crate::session::{self, Capture, Executed, Resolved};
use crate::view::encode::{encode_run, PaneInfo};
use crate::view::page::{render, PageExtras};

/// One watched run of `scenario` as `resolved` says.
pub fn watch(scenario: &Scenario, resolved: &Resolved) -> Result<Executed, CliError> {
    session::execute_resolved(scenario, resolved, Capture::View)
}

/// One run's pane data, titled `title`.
pub fn pane(scenario: &Scenario, resolved: &Resolved, executed: &Executed, title: &str) -> String {
    let schedule = executed.outcome.result.schedule.encode();
    let options = resolved.describe();
    let results = executed.results.render();
    encode_run(
        executed,
        &PaneInfo {
            title,
            options: &options,
            scenario: &scenario.name(),
            schedule: &schedule,
            trace_hash: executed.outcome.result.trace_hash,
            results: &results,
        },
    )
}

/// Writes `html` to `path`; a failed write names the file.
pub fn write_page(path: &Path, html: &str) -> Result<(), CliError> {
    std::fs::write(path, html)
        .map_err(|e| CliError::usage(format!("cannot write {}: {e}", path.display())))
}

/// The page of one run.
pub fn page_of_run(scenario: &Scenario, resolved: &Resolved, executed: &Executed) -> String {
    let title = format!(
        "{} on {}",
        scenario.name(),
        resolved.options.kernel.version.name()
    );
    let pane = pane(scenario, resolved, executed, &title);
    render(&title, &[pane], &PageExtras::default())
}

/// `epsim view SCENARIO [run options] [-o FILE]`.
pub fn run(args: &ViewArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let scenario = session::load(&args.scenario)?;
    let resolved = session::resolve(&scenario, &args.common)?;
    let executed = watch(&scenario, &resolved)?;
    let html = page_of_run(&scenario, &resolved, &executed);
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.html", scenario.name())));
    write_page(&path, &html)?;
    let records = executed.trace.as_ref().map_or(0, |t| t.records.len());
    writeln!(
        out,
        "wrote {} ({} steps, {} records, {} bytes): open it in a browser; ? lists the keys",
        path.display(),
        executed.outcome.result.steps,
        records,
        html.len()
    )?;
    Ok(Exit::Clean)
}

/// One side of `epsim diff`: what `epsim view` would take, as one shell word
/// (`"seed-case-4-two-waiters --kernel 2.6.22"`); a side that starts with an option takes
/// the other side's scenario (`"--inject no-smp-mb"`).
fn parse_side(spec: &str, scenario_of_a: Option<&str>) -> Result<crate::cli::ViewArgs, CliError> {
    let mut words: Vec<String> = spec.split_whitespace().map(String::from).collect();
    if words.first().is_some_and(|w| w.starts_with('-')) {
        let Some(scenario) = scenario_of_a else {
            return Err(CliError::usage(format!("diff: {spec:?} names no scenario")));
        };
        words.insert(0, scenario.to_string());
    }
    let mut argv = vec!["epsim".to_string(), "view".to_string()];
    argv.extend(words);
    use clap::Parser;
    match crate::cli::Cli::try_parse_from(&argv) {
        Ok(crate::cli::Cli {
            command: Some(crate::cli::Command::View(args)),
        }) => Ok(args),
        Ok(_) => Err(CliError::usage(format!(
            "diff: cannot read the run {spec:?}"
        ))),
        Err(error) => Err(CliError::usage(format!(
            "diff: the run {spec:?}: {}",
            error.to_string().lines().next().unwrap_or("bad options")
        ))),
    }
}

/// A run's system calls as they returned: (task, ordinal of the task's calls, the
/// return note, the record of the call's entry).
fn calls_of(executed: &Executed) -> Vec<(String, usize, String, usize)> {
    let trace = executed
        .trace
        .as_ref()
        .expect("a watched run keeps its trace");
    let mut entries: std::collections::BTreeMap<Option<u32>, Vec<usize>> = Default::default();
    let mut counts: std::collections::BTreeMap<Option<u32>, usize> = Default::default();
    let mut calls = Vec::new();
    for (index, (record, line)) in trace.records.iter().zip(&trace.lines).enumerate() {
        let task = record.task.map(|t| t.0);
        match crate::view::encode::record_kind(&record.event, line) {
            crate::view::encode::RecordKind::SyscallEntry => {
                entries.entry(task).or_default().push(index)
            }
            crate::view::encode::RecordKind::SyscallReturn => {
                let ordinal = counts.entry(task).or_default();
                let entry = entries.get(&task).and_then(|e| e.get(*ordinal)).copied();
                *ordinal += 1;
                let name = executed
                    .task_name(record.task)
                    .unwrap_or_else(|| "idle".into());
                calls.push((name, *ordinal, line.clone(), entry.unwrap_or(index)));
            }
            _ => {}
        }
    }
    calls
}

/// The first call (in A's order) whose result differs in B, or that B does not make;
/// else B's first call A does not make: the record of its entry in each run.
pub fn first_divergence(a: &Executed, b: &Executed) -> Option<(usize, usize, String)> {
    let (calls_a, calls_b) = (calls_of(a), calls_of(b));
    let find = |calls: &[(String, usize, String, usize)], task: &str, ordinal: usize| {
        calls
            .iter()
            .find(|c| c.0 == task && c.1 == ordinal)
            .cloned()
    };
    for call in &calls_a {
        match find(&calls_b, &call.0, call.1) {
            Some(other) if other.2 == call.2 => {}
            Some(other) => {
                return Some((
                    call.3,
                    other.3,
                    format!(
                        "{}'s call {}: A: {} / B: {}",
                        call.0, call.1, call.2, other.2
                    ),
                ))
            }
            None => {
                let last = b
                    .trace
                    .as_ref()
                    .map_or(0, |t| t.records.len().saturating_sub(1));
                return Some((
                    call.3,
                    last,
                    format!(
                        "{}'s call {}: A: {} / B: no such call",
                        call.0, call.1, call.2
                    ),
                ));
            }
        }
    }
    calls_b
        .iter()
        .find(|c| find(&calls_a, &c.0, c.1).is_none())
        .map(|call| {
            let last = a
                .trace
                .as_ref()
                .map_or(0, |t| t.records.len().saturating_sub(1));
            (
                last,
                call.3,
                format!(
                    "{}'s call {}: A: no such call / B: {}",
                    call.0, call.1, call.2
                ),
            )
        })
}

/// Two texts side by side, a `|` between lines that differ.
fn side_by_side(a: &str, b: &str) -> String {
    let (left, right): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let width = left
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(20, 60);
    let mut out = String::new();
    for i in 0..left.len().max(right.len()) {
        let (l, r) = (
            left.get(i).copied().unwrap_or(""),
            right.get(i).copied().unwrap_or(""),
        );
        let mark = if l == r { ' ' } else { '|' };
        let l: String = l.chars().take(width).collect();
        out.push_str(&format!("  {l:<width$} {mark} {r}\n"));
    }
    out
}

/// `epsim diff A B [-o FILE]`.
pub fn diff(args: &crate::cli::DiffArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let side_a = parse_side(&args.a, None)?;
    let side_b = parse_side(&args.b, Some(&side_a.scenario))?;
    let mut runs = Vec::new();
    for side in [&side_a, &side_b] {
        let scenario = session::load(&side.scenario)?;
        let resolved = session::resolve(&scenario, &side.common)?;
        let executed = watch(&scenario, &resolved)?;
        runs.push((scenario, resolved, executed));
    }
    let (a, b) = (&runs[0], &runs[1]);
    let divergence = first_divergence(&a.2, &b.2);
    for (label, (scenario, resolved, executed)) in ["A", "B"].iter().zip(&runs) {
        writeln!(
            out,
            "{label}: {} · {} · {} steps · trace hash {:016x}",
            scenario.name(),
            resolved.describe(),
            executed.outcome.result.steps,
            executed.outcome.result.trace_hash
        )?;
    }
    writeln!(
        out,
        "\nresults and event orders, A | B (aligned by task and call):"
    )?;
    write!(
        out,
        "{}",
        side_by_side(&a.2.results.render(), &b.2.results.render())
    )?;
    match &divergence {
        Some((record_a, record_b, what)) => {
            let step = |run: &Executed, record: usize| {
                run.trace
                    .as_ref()
                    .and_then(|t| t.records.get(record))
                    .map_or(0, |r| r.step)
            };
            writeln!(
                out,
                "\nfirst divergence: {what} (the call starts at step {} in A, {} in B)",
                step(&a.2, *record_a),
                step(&b.2, *record_b)
            )?;
        }
        None => writeln!(
            out,
            "\nno divergence: every call returned the same in both runs"
        )?,
    }
    if let Some(path) = &args.output {
        let title = format!("{} — A | B", a.0.name());
        let panes = [
            pane(&a.0, &a.1, &a.2, &format!("A: {}", args.a)),
            pane(&b.0, &b.1, &b.2, &format!("B: {}", args.b)),
        ];
        let extras = PageExtras {
            divergence: divergence.as_ref().map(|(x, y, _)| (*x, *y)),
            ..PageExtras::default()
        };
        write_page(path, &render(&title, &panes, &extras))?;
        writeln!(out, "view: {} (two panes, linked cursors)", path.display())?;
    }
    Ok(Exit::Clean)
}
