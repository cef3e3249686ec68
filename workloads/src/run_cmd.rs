//! `epsim run SCENARIO`: one run, its results, expectations, violations and trace hash;
//! optionally the full trace, a determinism check and a record of the run.
//!
//! The human report and the JSON shape are shared with `epsim replay`.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use sim::machine::RunEnd;
use sim::Report;

use crate::cli::RunArgs;
use crate::exit::{CliError, Exit};
use crate::fold::fold;
use crate::output::{check_output, write_json};
use crate::record::{hash_hex, RunRecord};
use crate::scenario::Scenario;
use crate::session::{self, Capture, Executed, Resolved};
use crate::trace_out::{self, TraceFormat};

/// `epsim run`.
pub fn run(args: &RunArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let input = Path::new(&args.scenario);
    if let Some(path) = &args.output {
        check_output("-o", path, Some(input), &[])?;
    }
    if let Some(path) = &args.record {
        let others: Vec<(&str, &Path)> = args.output.iter().map(|o| ("-o", o.as_path())).collect();
        check_output("--record", path, Some(input), &others)?;
    }
    let scenario = session::load(&args.scenario)?;
    let resolved = session::resolve(&scenario, &args.common)?;
    let inline_text = match (args.trace, &args.output) {
        (Some(TraceFormat::Text), None) if !resolved.json => true,
        (Some(format), None) => {
            return Err(CliError::usage(format!(
                "--trace {} needs -o FILE (only the text narration can go to the terminal, and not with --json)",
                format_name(format)
            )))
        }
        _ => false,
    };
    let capture = if args.trace.is_some() || args.check_determinism || args.record.is_some() {
        Capture::Trace
    } else {
        Capture::Results
    };
    let executed = session::execute_resolved(&scenario, &resolved, capture)?;
    let mut determinism = None;
    if args.check_determinism {
        let again = session::execute_resolved(&scenario, &resolved, capture)?;
        determinism = Some(check_determinism(&executed, &again)?);
    }
    if let (Some(format), Some(path)) = (args.trace, &args.output) {
        write_trace_file(path, format, &executed, &scenario.name())?;
    }
    if let Some(path) = &args.record {
        RunRecord::of(&scenario, &resolved, &executed).write(path)?;
    }
    if resolved.json {
        write_json(out, &RunJson::of(&scenario, &resolved, &executed))?;
    } else {
        if inline_text {
            trace_out::write_text(out, executed.trace.as_ref().expect("kept"))?;
            writeln!(out)?;
        }
        let whole = match &args.record {
            Some(path) => format!(
                "`epsim replay {}` replays the record of this run, and --json prints it whole",
                session::shell_quote(&path.display().to_string())
            ),
            None => "--json prints it whole, and --record FILE writes a record that `epsim replay FILE` reproduces".to_string(),
        };
        let reproduce = Reproduce::Schedule {
            scenario_arg: &args.scenario,
            whole: &whole,
        };
        let folding = Folding::unless(args.no_fold);
        write_report_with(out, reproduce, folding, &scenario, &resolved, &executed)?;
        if let Some(line) = determinism {
            writeln!(out, "{line}")?;
        }
        if let Some(path) = &args.record {
            writeln!(
                out,
                "record: {} (replay it with `epsim replay {}`)",
                path.display(),
                session::shell_quote(&path.display().to_string())
            )?;
        }
    }
    replay_mismatch(&executed)?;
    Ok(exit_of(&executed))
}

fn format_name(format: TraceFormat) -> &'static str {
    match format {
        TraceFormat::Text => "text",
        TraceFormat::Jsonl => "jsonl",
        TraceFormat::Chrome => "chrome",
    }
}

/// Writes the trace of `run` to `path` in `format`.
pub fn write_trace_file(
    path: &Path,
    format: TraceFormat,
    run: &Executed,
    title: &str,
) -> Result<(), CliError> {
    let file = std::fs::File::create(path)
        .map_err(|e| CliError::usage(format!("cannot write {}: {e}", path.display())))?;
    let mut writer = std::io::BufWriter::new(file);
    trace_out::write(&mut writer, format, run, title)
        .and_then(|()| writer.flush().map_err(CliError::from))
        .map_err(|error| error.in_file(path))
}

/// Compares two runs of the same options step by step: a line to print if they agree,
/// an error naming the first divergent step if not.
pub fn check_determinism(first: &Executed, second: &Executed) -> Result<String, CliError> {
    let (a, b) = (
        first.trace.as_ref().expect("kept"),
        second.trace.as_ref().expect("kept"),
    );
    let (h1, h2) = (
        first.outcome.result.trace_hash,
        second.outcome.result.trace_hash,
    );
    match session::first_divergence(a, b) {
        None if h1 == h2 => Ok(format!(
            "deterministic: two runs, {} steps each, the same trace hash {} at every step",
            first.outcome.result.steps,
            hash_hex(h1)
        )),
        None => Err(CliError::failed(format!(
            "not deterministic: every step agrees but the trace hashes differ ({} and {}): a value mixed into the hash differs",
            hash_hex(h1),
            hash_hex(h2)
        ))),
        Some((index, step)) => {
            let show = |t: &session::TraceCapture| {
                let mut hashed = t
                    .records
                    .iter()
                    .zip(&t.lines)
                    .filter(|(r, _)| !matches!(r.event, sim::trace::TraceEvent::Note { .. }));
                hashed
                    .nth(index)
                    .map_or("(the run had ended)".to_string(), |(r, l)| {
                        format!("{} {}: {}", r.cpu, r.time_ns, l.trim())
                    })
            };
            Err(CliError::failed(format!(
                "not deterministic: the runs first differ at step {step}: first run: {}; second run: {}",
                show(a),
                show(b)
            )))
        }
    }
}

/// A replay that did not fit its run is an error with the divergent step (status 1).
pub fn replay_mismatch(run: &Executed) -> Result<(), CliError> {
    if let RunEnd::ReplayMismatch {
        decision,
        step,
        reason,
    } = &run.outcome.result.end
    {
        return Err(CliError::failed(format!(
            "replay diverged from the schedule at decision {decision} (step {step}): {reason}"
        )));
    }
    Ok(())
}

/// 0 when the run met the scenario's expectations and made no report it did not ask
/// for, else 1.
pub fn exit_of(run: &Executed) -> Exit {
    if run.verdict.passed() {
        Exit::Clean
    } else {
        Exit::Failed
    }
}

/// How a run ended, in words.
pub fn describe_end(run: &Executed) -> String {
    let result = &run.outcome.result;
    let how = match &result.end {
        RunEnd::Completed => "every task finished".to_string(),
        RunEnd::Quiescent { sleepers } => {
            let names: Vec<String> = sleepers
                .iter()
                .map(|t| run.task_name(Some(*t)).unwrap_or_default())
                .collect();
            format!("quiescent: {} asleep forever", names.join(", "))
        }
        RunEnd::Halted => "halted by a fatal report".to_string(),
        RunEnd::StepLimit => "the step budget ran out".to_string(),
        RunEnd::ReplayMismatch { decision, step, .. } => {
            format!("replay diverged at decision {decision} (step {step})")
        }
    };
    format!(
        "{how} after {} steps, {:.3} µs of virtual time",
        result.steps,
        result.virtual_time_ns as f64 / 1000.0
    )
}

/// Counts of expectations held and failed: the tasks' `expect` lines, plus the run-level
/// ones (`expect report`, `expect no reports`, `expect blocked`, every task finishing).
pub fn expectation_counts(scenario: &Scenario, run: &Executed) -> (usize, usize) {
    let header = &scenario.header;
    let declared = header.expect_reports.len()
        + usize::from(header.expect_no_reports.is_some())
        + header.expect_blocked.len();
    let failed_run_level = run.verdict.failed.len();
    (
        run.results.passed() + declared.saturating_sub(failed_run_level),
        run.results.failed() + failed_run_level,
    )
}

fn write_violation(out: &mut dyn Write, run: &Executed, report: &Report) -> Result<(), CliError> {
    let mut place = format!("at step {}", report.step);
    if let Some(cpu) = report.cpu {
        place.push_str(&format!(" on {cpu}"));
    }
    if let Some(task) = run.task_name(report.task) {
        place.push_str(&format!(", task {task}"));
    }
    writeln!(out, "  {} {place}: {}", report.kind, report.message)?;
    for detail in &report.details {
        writeln!(out, "      {detail}")?;
    }
    Ok(())
}

/// How the text report shows the results of calls that repeat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Folding {
    /// Blocks of calls that repeat exactly are folded; when the results are longer than
    /// [`SCREEN_LINES`], so are blocks that repeat with other values, with a line that
    /// says so and where every value is (the default).
    #[default]
    Repeats,
    /// Every call on its own line (`--no-fold`).
    Never,
}

impl Folding {
    /// The folding of a command with `--no-fold` given or not.
    pub fn unless(no_fold: bool) -> Folding {
        if no_fold {
            Folding::Never
        } else {
            Folding::Repeats
        }
    }
}

/// Results longer than this many lines are folded by shape as well as exactly: below
/// it, no value is hidden behind "other values".
pub const SCREEN_LINES: usize = 40;

/// The rendered results (`  task: call = ret`), folded as `folding` says.
pub fn fold_results(lines: &[String], folding: Folding) -> Vec<String> {
    let summary = |p: usize, more: usize, first: usize, last: usize| {
        let how = if crate::fold::repeats_exactly(lines, p, first, last) {
            "exactly"
        } else {
            "with other values (--no-fold or --json lists every call)"
        };
        format!(
            "  ⋮  the {p} line{} above repeat{} {more} more time{} {how}; the last:",
            if p == 1 { "" } else { "s" },
            if p == 1 { "s" } else { "" },
            if more == 1 { "" } else { "s" },
        )
    };
    match folding {
        Folding::Never => lines.to_vec(),
        Folding::Repeats if lines.len() <= SCREEN_LINES => {
            crate::fold::fold_identical(lines, 8, 4, &summary)
        }
        Folding::Repeats => fold(lines, 8, 4, &summary),
    }
}

/// How the human report says to reproduce a failed run.
#[derive(Clone, Copy, Debug)]
pub enum Reproduce<'a> {
    /// `epsim replay SCENARIO --schedule ...` with the options the user gave; `whole`
    /// says where the schedule is whole when the screen shows it abbreviated.
    Schedule {
        scenario_arg: &'a str,
        whole: &'a str,
    },
    /// `epsim replay RECORD`: the record has the schedule, the seed and the options.
    Record(&'a str),
    /// A scenario that exists only in memory (`gen --run`): `regenerate` writes it to
    /// `file`, and then `epsim replay file --schedule ...` replays the run.
    Generated {
        regenerate: &'a str,
        file: &'a str,
        whole: &'a str,
    },
}

/// The human report of a run (shared with `replay` and `gen --run`), with the
/// scenario as the user named it for the `reproduce:` command.
pub fn write_report(
    out: &mut dyn Write,
    scenario_arg: &str,
    scenario: &Scenario,
    resolved: &Resolved,
    run: &Executed,
) -> Result<(), CliError> {
    let reproduce = Reproduce::Schedule {
        scenario_arg,
        whole: "--json prints it whole",
    };
    write_report_with(out, reproduce, Folding::Repeats, scenario, resolved, run)
}

/// The human report of a run, saying how to reproduce it as `reproduce` says, its
/// results folded as `folding` says.
pub fn write_report_with(
    out: &mut dyn Write,
    reproduce: Reproduce<'_>,
    folding: Folding,
    scenario: &Scenario,
    resolved: &Resolved,
    run: &Executed,
) -> Result<(), CliError> {
    let description = scenario.description();
    if description.is_empty() {
        writeln!(out, "scenario {}", scenario.name())?;
    } else {
        writeln!(out, "scenario {} — {description}", scenario.name())?;
    }
    writeln!(out, "options: {}", resolved.describe())?;
    writeln!(out)?;
    // A run of identical calls is kept once with a count (so that a long run's memory
    // does not grow with it): it is folded here as `fold` folds a line repeated that
    // often, without writing it out that often first; `--no-fold` writes it out.
    let mut rendered: Vec<String> = Vec::new();
    let mut calls = 0usize;
    for (line, repeats) in run.results.render_runs() {
        let line = format!("  {line}");
        let repeats = repeats as usize;
        calls += repeats + 1;
        if repeats >= 3 && folding != Folding::Never {
            rendered.push(line.clone());
            rendered.push(format!(
                "  ⋮  the line above repeats {repeats} more time{} exactly; the last:",
                if repeats == 1 { "" } else { "s" }
            ));
            rendered.push(line);
        } else {
            rendered.extend(std::iter::repeat_n(line, repeats + 1));
        }
    }
    if calls == 0 {
        writeln!(out, "results: no system calls returned")?;
    } else {
        writeln!(out, "results:")?;
        for line in fold_results(&rendered, folding) {
            writeln!(out, "{line}")?;
        }
    }
    for task in &run.results.tasks {
        if let Some(call) = task.blocked_in.as_ref().filter(|_| !task.finished) {
            writeln!(out, "  {}: still in `{call}` at the end", task.name)?;
        }
    }
    let (passed, failed) = expectation_counts(scenario, run);
    writeln!(out, "expectations: {passed} passed, {failed} failed")?;
    for expectation in run.results.expectations.iter().filter(|e| !e.passed) {
        writeln!(out, "  FAILED {}", expectation.message)?;
    }
    for report in &run.verdict.failed {
        writeln!(out, "  FAILED {}", report.message)?;
    }
    let reports = run.outcome.reports();
    let checker: Vec<&Report> = reports
        .iter()
        .filter(|r| r.kind != sim::ReportKind::Expectation)
        .collect();
    if checker.is_empty() {
        writeln!(out, "violations: none")?;
    } else {
        writeln!(out, "violations: {}", checker.len())?;
        for report in checker {
            write_violation(out, run, report)?;
        }
        let mut names: Vec<&str> = run.findings.iter().flatten().copied().collect();
        names.dedup();
        for name in names {
            writeln!(
                out,
                "  this is the known finding {name}: a documented behaviour of the 2007 code (kernel_model::check::finding), not a bug of the simulator"
            )?;
        }
    }
    writeln!(out, "end: {}", describe_end(run))?;
    writeln!(
        out,
        "trace hash: {}",
        hash_hex(run.outcome.result.trace_hash)
    )?;
    let schedule = run.outcome.result.schedule.encode();
    let whole = match reproduce {
        Reproduce::Schedule { whole, .. } | Reproduce::Generated { whole, .. } => whole.to_string(),
        Reproduce::Record(path) => format!("the record {path} has it whole"),
    };
    writeln!(out, "schedule: {}", abbreviate(&schedule, &whole))?;
    let verdict = &run.verdict;
    if verdict.passed() {
        if verdict.expected_reports_found.is_empty() {
            writeln!(out, "PASS")?;
        } else {
            let kinds: Vec<&str> = verdict
                .expected_reports_found
                .iter()
                .map(|k| k.name())
                .collect();
            writeln!(
                out,
                "PASS (the expected {} report was made)",
                kinds.join(", ")
            )?;
        }
    } else {
        writeln!(out, "FAIL")?;
        match reproduce {
            Reproduce::Schedule { scenario_arg, .. } => {
                let command = session::replay_command(scenario_arg, resolved, run.seed, &schedule);
                write_command(out, "reproduce: ", &command, &schedule, &whole)?;
            }
            Reproduce::Generated {
                regenerate, file, ..
            } => {
                let replay = session::replay_command(file, resolved, run.seed, &schedule);
                let command = format!("{regenerate} && {replay}");
                write_command(out, "reproduce: ", &command, &schedule, &whole)?;
            }
            Reproduce::Record(path) => writeln!(
                out,
                "reproduce: epsim replay {}",
                session::shell_quote(path)
            )?,
        }
    }
    Ok(())
}

/// Schedules longer than this many characters are abbreviated on screen (a long run's
/// schedule can be hundreds of kilobytes); `--json` and records have them whole.
pub const SCHEDULE_SHOWN_MAX: usize = 160;

/// A schedule longer than [`SCHEDULE_SHOWN_MAX`] characters as the text outputs show
/// it: its first and last characters around `…`; `None` for one shown whole.
pub fn shortened(schedule: &str) -> Option<String> {
    const HEAD: usize = 112;
    const TAIL: usize = 32;
    if schedule.len() <= SCHEDULE_SHOWN_MAX {
        return None;
    }
    let head = schedule.get(..HEAD)?;
    let tail = schedule.get(schedule.len() - TAIL..)?;
    Some(format!("{head}…{tail}"))
}

/// A schedule as the text outputs show it: whole, or [`shortened`] with its length and
/// `whole`, where to find it whole.
pub fn abbreviate(schedule: &str, whole: &str) -> String {
    match shortened(schedule) {
        None => schedule.to_string(),
        Some(shown) => format!("{shown} ({} characters; {whole})", schedule.len()),
    }
}

/// Writes `label` and `command`, a command line that contains `schedule`. A long
/// schedule is abbreviated in it, and a second line says that the command as shown
/// cannot be run and where `whole` it is.
pub fn write_command(
    out: &mut dyn Write,
    label: &str,
    command: &str,
    schedule: &str,
    whole: &str,
) -> Result<(), CliError> {
    if let Some(shown) = shortened(schedule) {
        writeln!(out, "{label}{}", command.replacen(schedule, &shown, 1))?;
        let indent = label.len() - label.trim_start().len();
        writeln!(
            out,
            "{:indent$}  (the schedule is abbreviated: {} characters; {whole})",
            "",
            schedule.len()
        )?;
    } else {
        writeln!(out, "{label}{command}")?;
    }
    Ok(())
}

/// `violations[]` of the JSON output.
#[derive(Serialize)]
pub struct ViolationJson {
    pub kind: String,
    pub step: u64,
    pub cpu: Option<u16>,
    pub task: Option<String>,
    pub message: String,
    pub details: Vec<String>,
    pub schedule: String,
}

#[derive(Serialize)]
pub struct ExpectationsJson {
    pub passed: usize,
    pub failed: usize,
}

#[derive(Serialize)]
pub struct EventJson {
    /// The mask by name, `EPOLLIN|EPOLLOUT`, as the scenario language writes it.
    pub events: String,
    pub data: u64,
}

#[derive(Serialize)]
pub struct ResultJson {
    pub task: String,
    pub call: String,
    pub ret: i64,
    pub errno: Option<String>,
    pub events: Vec<EventJson>,
}

/// The JSON of a run or a replay (a stable shape: scripts depend on it).
#[derive(Serialize)]
pub struct RunJson {
    pub scenario: String,
    pub kernel: String,
    pub model: String,
    pub granularity: String,
    pub strategy: String,
    pub seed: u64,
    pub steps: u64,
    pub virtual_time_ns: u64,
    /// 16 hex digits.
    pub trace_hash: String,
    pub schedule: String,
    pub violations: Vec<ViolationJson>,
    pub expectations: ExpectationsJson,
    pub results: Vec<ResultJson>,
    /// Calls made after `results` had kept `CALL_RUNS_MAX` runs of identical calls
    /// (present only when some were not kept).
    #[serde(skip_serializing_if = "is_zero")]
    pub results_not_kept: u64,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

impl RunJson {
    pub fn of(scenario: &Scenario, resolved: &Resolved, run: &Executed) -> RunJson {
        let result = &run.outcome.result;
        let (passed, failed) = expectation_counts(scenario, run);
        RunJson {
            scenario: scenario.name(),
            kernel: run.options.kernel.version.name().to_string(),
            model: run.options.machine.model.name().to_string(),
            granularity: run.options.machine.granularity.name().to_string(),
            strategy: resolved.strategy.name().to_string(),
            seed: run.seed,
            steps: result.steps,
            virtual_time_ns: result.virtual_time_ns,
            trace_hash: hash_hex(result.trace_hash),
            schedule: result.schedule.encode(),
            violations: run
                .violations()
                .into_iter()
                .map(|r| ViolationJson {
                    kind: r.kind.name().to_string(),
                    step: r.step,
                    cpu: r.cpu.map(|c| c.0),
                    task: run.task_name(r.task),
                    message: r.message.clone(),
                    details: r.details.clone(),
                    schedule: r.schedule.clone(),
                })
                .collect(),
            expectations: ExpectationsJson { passed, failed },
            results: run
                .results
                .calls()
                .map(|c| ResultJson {
                    task: c.task.clone(),
                    call: c.call.clone(),
                    ret: c.ret,
                    errno: c.errno.map(|e| e.name().to_string()),
                    events: c
                        .events
                        .iter()
                        .map(|e| EventJson {
                            events: kernel_model::poll::mask_to_string(e.events),
                            data: e.data,
                        })
                        .collect(),
                })
                .collect(),
            results_not_kept: run.results.calls_not_kept(),
        }
    }
}
