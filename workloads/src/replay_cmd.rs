//! `epsim replay RECORD` and `epsim replay SCENARIO --schedule STRING`: the run again,
//! exactly — every decision taken from the schedule and checked against it — and the
//! trace hash verified against the record's (or `--hash`).
//!
//! Status: 0 when the replay reproduced the run and the run passed; 1 when the run it
//! reproduced fails (a violation, a failed expectation — the report says so), or when
//! the replay did not reproduce it: it diverged from the schedule (the machine names the
//! decision and step) or ended with another trace hash (the record's checkpoints name
//! the steps where the traces first differ); 2 when the input cannot be used at all: a
//! missing or malformed record or schedule, a record field with a bad value (the error
//! names the field), a `--hash` that is not 16 hex digits, a scenario that does not
//! parse, or a schedule recorded for another scenario, seed or options (its hash says so
//! before anything runs).
//!
//! A failed run's `reproduce:` command is `epsim replay RECORD` for a record, else the
//! scenario as the user named it with `--schedule`.

use std::io::Write;
use std::path::Path;

use sim::machine::RunEnd;
use sim::{Schedule, StrategyKind};

use crate::cli::{CommonOpts, ReplayArgs};
use crate::exit::{CliError, Exit};
use crate::output::write_json;
use crate::record::{hash_hex, parse_hash, RunRecord};
use crate::run_cmd::{self, Folding, Reproduce, RunJson};
use crate::scenario::Scenario;
use crate::session::{self, Capture, Drive, Executed, Resolved};

/// What to replay, and what it must reproduce.
struct Input {
    scenario: Scenario,
    resolved: Resolved,
    /// The scenario as the user named it, or the record file (for printed commands).
    arg: String,
    /// `arg` is a record file (a command that reproduces the run replays it).
    from_record: bool,
    expected_hash: Option<u64>,
    /// The steps the recorded run took.
    steps: Option<u64>,
    /// `(interval, hashes)` from a record.
    checkpoints: Option<(u64, Vec<u64>)>,
}

/// Replays `input`. A record whose schedule does not belong to its scenario, seed and
/// options cannot be used at all (status 2, naming the field); nor can one whose run,
/// reproduced exactly, takes another number of steps than it says.
fn execute(input: &Input, capture: Capture) -> Result<Executed, CliError> {
    if !input.from_record {
        return session::execute_resolved(&input.scenario, &input.resolved, capture);
    }
    let resolved = &input.resolved;
    let schedule = resolved.schedule.as_ref().expect("a record has a schedule");
    let run = session::execute(
        &input.scenario,
        &resolved.options,
        resolved.seed,
        capture,
        Drive::Replay(schedule),
    )
    .map_err(|error| {
        CliError::usage(format!(
            "{}: schedule: {error} (it does not belong to the record's scenario_text, seed and options)",
            input.arg
        ))
    })?;
    let result = &run.outcome.result;
    let reproduced = !matches!(result.end, RunEnd::ReplayMismatch { .. })
        && input.expected_hash == Some(result.trace_hash);
    if let Some(steps) = input
        .steps
        .filter(|&steps| reproduced && steps != result.steps)
    {
        return Err(CliError::usage(format!(
            "{}: steps: {steps}, but the run it records takes {} steps",
            input.arg, result.steps
        )));
    }
    Ok(run)
}

fn from_record(args: &ReplayArgs, path: &Path) -> Result<Input, CliError> {
    let file = path.display().to_string();
    let given = &args.common;
    let extra = given.seed.is_some()
        || given.cpus.is_some()
        || given.kernel.is_some()
        || given.model.is_some()
        || given.granularity.is_some()
        || given.strategy.is_some()
        || !given.inject.is_empty();
    if extra {
        return Err(CliError::usage(
            "a record carries its own seed and options: give only the record (and --json, --hash, --trace)",
        ));
    }
    let record = RunRecord::read(path)?;
    let mut scenario = session::parse(&format!("{file}: scenario_text"), &record.scenario_text)?;
    match &scenario.header.name {
        Some(name) if *name != record.scenario => {
            return Err(CliError::usage(format!(
                "{file}: scenario: {:?}, but scenario_text is the scenario {name:?}",
                record.scenario
            )))
        }
        Some(_) => {}
        // A scenario without a `scenario` line is named after the file it was run from.
        None => scenario.header.name = Some(record.scenario.clone()),
    }
    let options = scenario.options(&record.overrides(&file)?);
    scenario.check_options(&options).map_err(CliError::usage)?;
    let schedule = Schedule::decode(&record.schedule)
        .map_err(|e| CliError::usage(format!("{file}: schedule: {e}")))?;
    let expected_hash = Some(record.hash(&file)?);
    Ok(Input {
        resolved: Resolved {
            options,
            seed: record.seed,
            strategy: StrategyKind::Replay,
            schedule: Some(schedule),
            json: given.json,
            given: CommonOpts::default(),
        },
        arg: file,
        from_record: true,
        scenario,
        expected_hash,
        steps: Some(record.steps),
        checkpoints: record.checkpoint_hashes(),
    })
}

fn input(args: &ReplayArgs) -> Result<Input, CliError> {
    let expected_hash = match &args.hash {
        Some(text) => Some(
            parse_hash(text.trim()).ok_or_else(|| {
                CliError::usage(format!(
                    "--hash {text:?}: expected a trace hash, 16 hex digits (as `trace hash:` prints it)"
                ))
            })?,
        ),
        None => None,
    };
    if args.common.schedule.is_some() {
        let scenario = session::load(&args.input)?;
        let resolved = session::resolve(&scenario, &args.common)?;
        return Ok(Input {
            scenario,
            resolved,
            arg: args.input.clone(),
            from_record: false,
            expected_hash,
            steps: None,
            checkpoints: None,
        });
    }
    let path = Path::new(&args.input);
    if !path.is_file() {
        if crate::scenario::builtin(&args.input).is_some() {
            return Err(CliError::usage(format!(
                "replaying the scenario {} needs --schedule STRING (or give a record file)",
                args.input
            )));
        }
        return Err(CliError::usage(format!(
            "cannot read {}: no such file",
            args.input
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", args.input)))?;
    if !text.trim_start().starts_with('{') {
        return Err(CliError::usage(format!(
            "{} is not a record (a record is JSON, written by `epsim run --record FILE`); to replay a scenario give --schedule STRING",
            args.input
        )));
    }
    let mut input = from_record(args, path)?;
    if expected_hash.is_some() {
        input.expected_hash = expected_hash;
    }
    Ok(input)
}

/// The input's text when it is an strace recording (`--strace`, or told by content).
fn strace_text(args: &ReplayArgs) -> Result<Option<String>, CliError> {
    let path = Path::new(&args.input);
    if !path.is_file() {
        return if args.strace {
            Err(CliError::usage(format!(
                "cannot read {}: no such file",
                args.input
            )))
        } else {
            Ok(None)
        };
    }
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", args.input)))?;
    // UTF-8 as it is (no copy); a log with other bytes, lossily.
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    if args.strace || crate::strace::looks_like_strace(&text) {
        return Ok(Some(text));
    }
    if args.keep_going {
        return Err(CliError::usage("--keep-going is for strace recordings"));
    }
    if args.place.is_some() {
        return Err(CliError::usage(
            "--place is for strace recordings (a scenario imported with --place has its events placed already)",
        ));
    }
    Ok(None)
}

/// Where two traces first differ, from the record's checkpoints: a phrase.
fn locate(run: &Executed, checkpoints: &Option<(u64, Vec<u64>)>) -> String {
    let (Some((interval, hashes)), Some(trace)) = (checkpoints, run.trace.as_ref()) else {
        return String::new();
    };
    let interval = *interval as usize;
    let ours: Vec<u64> = trace
        .step_hashes
        .iter()
        .skip(interval - 1)
        .step_by(interval)
        .copied()
        .collect();
    let window = ours
        .iter()
        .zip(hashes)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(hashes.len()));
    let first = window * interval;
    let last = first + interval - 1;
    let step = |index: usize| session::hashed_records(trace).nth(index).map(|r| r.step);
    match (step(first), step(last)) {
        (Some(a), Some(b)) if a == b => format!("; the traces first differ at step {a}"),
        (Some(a), Some(b)) => format!("; the traces first differ between steps {a} and {b}"),
        (Some(a), None) => format!("; the traces first differ at or after step {a}"),
        _ => "; the traces agree for as long as this run lasted (the recorded run was longer)"
            .to_string(),
    }
}

/// `epsim replay`.
pub fn run(args: &ReplayArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    if args.trace.is_some() && args.output.is_none() {
        return Err(CliError::usage("--trace needs -o FILE"));
    }
    if let Some(path) = &args.output {
        crate::output::check_output("-o", path, Some(Path::new(&args.input)), &[])?;
    }
    if let Some(path) = &args.view {
        crate::output::check_output("--view", path, Some(Path::new(&args.input)), &[])?;
    }
    if args.common.schedule.is_none() {
        if let Some(text) = strace_text(args)? {
            if args.view.is_some() {
                return Err(CliError::usage(
                    "--view shows a scenario or record run, not an strace recording: \
                     `epsim import FILE -o FILE.scn`, then `epsim view FILE.scn`",
                ));
            }
            return crate::import_cmd::replay(args, &text, out);
        }
    }
    let input = input(args)?;
    let capture = if args.view.is_some() {
        Capture::View
    } else {
        Capture::Trace
    };
    let run = execute(&input, capture)?;
    if let (Some(format), Some(path)) = (args.trace, &args.output) {
        run_cmd::write_trace_file(path, format, &run, &input.scenario.name())?;
    }
    if let Some(path) = &args.view {
        let html = crate::view_cmd::page_of_run(&input.scenario, &input.resolved, &run);
        crate::view_cmd::write_page(path, &html)?;
    }
    let actual = run.outcome.result.trace_hash;
    if input.resolved.json {
        write_json(out, &RunJson::of(&input.scenario, &input.resolved, &run))?;
    } else {
        let reproduce = if input.from_record {
            Reproduce::Record(&input.arg)
        } else {
            Reproduce::Schedule {
                scenario_arg: &input.arg,
                whole: "--json prints it whole",
            }
        };
        run_cmd::write_report_with(
            out,
            reproduce,
            Folding::unless(args.no_fold),
            &input.scenario,
            &input.resolved,
            &run,
        )?;
    }
    run_cmd::replay_mismatch(&run)?;
    if let Some(expected) = input.expected_hash {
        if expected != actual {
            return Err(CliError::failed(format!(
                "the replay did not reproduce the run: trace hash {} instead of the recorded {}{}",
                hash_hex(actual),
                hash_hex(expected),
                locate(&run, &input.checkpoints)
            )));
        }
        if !input.resolved.json {
            writeln!(
                out,
                "replay: reproduced exactly (trace hash {} as recorded)",
                hash_hex(actual)
            )?;
        }
    } else if !input.resolved.json {
        writeln!(
            out,
            "replay: every decision followed the schedule (give --hash HEX to check the trace hash too)"
        )?;
    }
    Ok(run_cmd::exit_of(&run))
}
