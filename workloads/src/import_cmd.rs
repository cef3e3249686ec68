//! `epsim import FILE [-o FILE.scn] [--place P]` and `epsim replay FILE` of an strace
//! recording: the recording as a scenario ([`crate::strace`]), run on a kernel version,
//! every replayed call's simulated result compared with the recorded one.
//!
//! A recording whose run with the default (timed) strategy does not match every
//! recorded result is searched twice over. First where its outside events landed
//! ([`crate::replay_search`]: before the call that saw them, or while it waits). Then,
//! for a multi-task recording, its schedule: runs of the random strategy with seeds 1,
//! 2, ... (run `i` is `epsim run --strategy random --seed i`, as `explore` makes them), at
//! most [`SEARCH_RUNS`], each checked against every recorded result. The first run that
//! matches all gives the consistent placement and schedule, printed with the command
//! that replays them. If none does, the run that matched the longest prefix of the
//! recording (in the order the calls returned) is reported, with its first mismatch and
//! why.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde_json::json;
use sim::StrategyKind;

use crate::cli::{CommonOpts, ImportArgs, ReplayArgs};
use crate::exit::{CliError, Exit};
use crate::output::write_json;
use crate::replay_search::{PlacementSearch, PLACEMENT_RUNS};
use crate::scenario::results::CallResult;
use crate::scenario::Scenario;
use crate::session::{self, Capture, Executed, Resolved};
use crate::strace::placement::Placement;
use crate::strace::{self, Import, ImportOptions, Recorded};

/// The most runs the schedule search makes.
pub const SEARCH_RUNS: u64 = 200;

/// `epsim import`.
pub fn import(args: &ImportArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let path = Path::new(&args.file);
    if let Some(output) = &args.output {
        crate::output::check_output("-o", output, Some(path), &[])?;
    }
    let text = read(&args.file)?;
    let placement = parse_placement(args.place.as_deref())?.unwrap_or_default();
    let import = strace::import(
        &text,
        &args.file,
        &ImportOptions {
            keep_going: args.keep_going,
            placement,
        },
    )
    .map_err(|e| CliError::usage(e.message))?;
    // What the importer wrote must parse, and parse to the scenario `epsim replay` runs
    // without parsing it: a failure here is the importer's bug, said so.
    let text = &import.scenario.text;
    let parsed = session::parse(&args.file, text).map_err(|e| {
        CliError::usage(format!(
            "{}: the imported scenario does not parse (an importer bug): {e}",
            args.file
        ))
    })?;
    if parsed != import.scenario {
        return Err(CliError::usage(format!(
            "{}: the imported scenario's text parses to another scenario than the one the importer built (an importer bug)",
            args.file
        )));
    }
    match &args.output {
        Some(output) => {
            std::fs::write(output, text)
                .map_err(|e| CliError::usage(format!("cannot write {}: {e}", output.display())))?;
            write_summary(out, &args.file, &import)?;
        }
        None => {
            out.write_all(text.as_bytes()).map_err(CliError::from)?;
        }
    }
    Ok(Exit::Clean)
}

fn parse_placement(text: Option<&str>) -> Result<Option<Placement>, CliError> {
    text.map(|t| Placement::parse(t).map_err(|e| CliError::usage(format!("--place: {e}"))))
        .transpose()
}

fn read(file: &str) -> Result<String, CliError> {
    let bytes =
        std::fs::read(file).map_err(|e| CliError::usage(format!("cannot read {file}: {e}")))?;
    String::from_utf8(bytes).or_else(|e| {
        // strace escapes non-ASCII bytes in strings, but a log may still carry some.
        Ok(String::from_utf8_lossy(e.as_bytes()).into_owned())
    })
}

fn write_summary(out: &mut dyn Write, file: &str, import: &Import) -> Result<(), CliError> {
    let epoll = import.calls.iter().filter(|c| c.epoll).count();
    let not_replayed: usize = import.not_replayed.values().sum();
    writeln!(
        out,
        "{file}: {} lines, {} tasks; {} calls replayed ({epoll} epoll), {not_replayed} kept as comments, {} outside events",
        import.lines,
        import.tasks,
        import.calls.len(),
        import.outside_events
    )
    .map_err(CliError::from)?;
    if import.malformed > 0 {
        writeln!(
            out,
            "skipped {} malformed lines (--keep-going); the first: {}",
            import.malformed,
            import.first_malformed.as_deref().unwrap_or("?")
        )
        .map_err(CliError::from)?;
    }
    Ok(())
}

/// What one run of the imported scenario says about the recording.
pub(crate) struct Comparison {
    pub(crate) matched: usize,
    pub(crate) mismatched: usize,
    pub(crate) epoll_mismatched: usize,
    /// The first mismatch in the recording's order: (recorded, simulated text, why).
    pub(crate) first: Option<(Recorded, String, String)>,
    /// Recorded calls (in order) matched before the first mismatch.
    pub(crate) prefix: usize,
    /// The first [`MISMATCHES_SHOWN`] mismatches after the first.
    pub(crate) more: Vec<(Recorded, String, String)>,
}

/// The recording imported under one placement, run once with the options given, and
/// compared with the recording.
pub(crate) struct Attempt {
    pub(crate) placement: Placement,
    pub(crate) import: Import,
    pub(crate) scenario: Scenario,
    pub(crate) resolved: Resolved,
    pub(crate) run: Executed,
    pub(crate) comparison: Comparison,
}

impl Attempt {
    pub(crate) fn make(
        text: &str,
        args: &ReplayArgs,
        placement: Placement,
        common: &CommonOpts,
    ) -> Result<Attempt, CliError> {
        let import = strace::import(
            text,
            &args.input,
            &ImportOptions {
                keep_going: args.keep_going,
                placement: placement.clone(),
            },
        )
        .map_err(|e| CliError::usage(e.message))?;
        // Built with its text, not parsed from it (the same scenario: `epsim import`
        // checks, and so do the tests, for every shipped recording).
        let scenario = import.scenario.clone();
        let resolved = session::resolve(&scenario, common)?;
        let run = session::execute_resolved(&scenario, &resolved, Capture::Results)?;
        let comparison = compare(&import, &run);
        Ok(Attempt {
            placement,
            import,
            scenario,
            resolved,
            run,
            comparison,
        })
    }
}

/// How many mismatches the text report lists.
pub const MISMATCHES_SHOWN: usize = 10;

pub(crate) fn compare(import: &Import, run: &Executed) -> Comparison {
    // The first result of each scenario line, by line number (lines are dense: the
    // scenario's, a few per recorded call).
    let mut by_line: Vec<Option<&CallResult>> = Vec::new();
    for call in run.results.calls() {
        let line = call.line as usize;
        if by_line.len() <= line {
            by_line.resize(line + 1, None);
        }
        by_line[line].get_or_insert(call);
    }
    let mut c = Comparison {
        matched: 0,
        mismatched: 0,
        epoll_mismatched: 0,
        first: None,
        prefix: 0,
        more: Vec::new(),
    };
    for recorded in &import.calls {
        let verdict = match by_line
            .get(recorded.scenario_line as usize)
            .copied()
            .flatten()
        {
            None => Err(("not made".to_string(), never_made_why(run, recorded))),
            Some(sim) => matches(recorded, sim),
        };
        match verdict {
            Ok(()) => {
                c.matched += 1;
                if c.first.is_none() {
                    c.prefix += 1;
                }
            }
            Err((simulated, why)) => {
                c.mismatched += 1;
                if recorded.epoll {
                    c.epoll_mismatched += 1;
                }
                if c.first.is_none() {
                    c.first = Some((recorded.clone(), simulated, why));
                } else if c.more.len() < MISMATCHES_SHOWN - 1 {
                    c.more.push((recorded.clone(), simulated, why));
                }
            }
        }
    }
    c
}

fn never_made_why(run: &Executed, recorded: &Recorded) -> String {
    let blocked: Vec<String> = run
        .results
        .tasks
        .iter()
        .filter_map(|t| {
            t.blocked_in
                .as_ref()
                .map(|b| format!("{} is blocked in `{b}`", t.name))
        })
        .collect();
    if !blocked.is_empty() {
        return format!(
            "the simulated run never made this call (line {} of the scenario): {}",
            recorded.scenario_line,
            blocked.join("; ")
        );
    }
    format!(
        "the simulated run never made this call (line {} of the scenario)",
        recorded.scenario_line
    )
}

fn outcome_text(
    ret: i64,
    errno: Option<&str>,
    events: Option<&[(u32, u64)]>,
    fds: Option<[i64; 2]>,
) -> String {
    let mut text = match errno {
        Some(e) => format!("-1 {e}"),
        None => ret.to_string(),
    };
    if let Some(events) = events {
        let items: Vec<String> = events
            .iter()
            .map(|&(m, d)| format!("{}:{d}", kernel_model::poll::mask_to_string(m)))
            .collect();
        text.push_str(&format!(" [{}]", items.join(", ")));
    }
    if let Some([a, b]) = fds {
        text.push_str(&format!(" [{a}, {b}]"));
    }
    text
}

fn recorded_text(r: &Recorded) -> String {
    outcome_text(r.ret, r.errno.as_deref(), r.events.as_deref(), r.fds)
}

fn matches(recorded: &Recorded, sim: &CallResult) -> Result<(), (String, String)> {
    let sim_errno = sim.errno.map(|e| e.name());
    let sim_events =
        || -> Vec<(u32, u64)> { sim.events.iter().map(|e| (e.events, e.data)).collect() };
    // The simulated outcome as text, made only for a mismatch (most calls match).
    let simulated = || {
        outcome_text(
            sim.ret,
            sim_errno,
            recorded.events.as_ref().map(|_| sim_events()).as_deref(),
            recorded.fds.and(sim.fds),
        )
    };
    if sim_errno != recorded.errno.as_deref() {
        let why = match (&recorded.errno, &sim_errno) {
            (Some(r), Some(s)) => {
                format!("the recording failed with {r}, the simulated kernel with {s}")
            }
            (Some(r), None) => {
                format!("the recording failed with {r}; the simulated call succeeded")
            }
            (None, Some(s)) => {
                format!("the simulated call failed with {s}; the recorded one succeeded")
            }
            (None, None) => String::new(),
        };
        return Err((simulated(), why));
    }
    if let Some(events) = &recorded.events {
        let same = events.len() == sim.events.len()
            && events
                .iter()
                .zip(&sim.events)
                .all(|(&recorded, e)| recorded == (e.events, e.data));
        if !same {
            let why = if events.len() != sim.events.len() {
                format!(
                    "{} events recorded, {} simulated: the simulated kernel saw other files ready",
                    events.len(),
                    sim.events.len()
                )
            } else {
                "the same number of events, but other masks, data or order".to_string()
            };
            return Err((simulated(), why));
        }
        return Ok(());
    }
    if let Some(fds) = recorded.fds {
        if sim.fds != Some(fds) {
            return Err((simulated(), "other descriptors were made".to_string()));
        }
        return Ok(());
    }
    if recorded.errno.is_none() && sim.ret != recorded.ret {
        return Err((
            simulated(),
            format!(
                "the recording returned {}, the simulated kernel {}",
                recorded.ret, sim.ret
            ),
        ));
    }
    Ok(())
}

/// `epsim replay FILE` of an strace recording.
pub fn replay(args: &ReplayArgs, text: &str, out: &mut dyn Write) -> Result<Exit, CliError> {
    if args.common.schedule.is_some() {
        return Err(CliError::usage(
            "a recording is replayed by importing it: give no --schedule (to replay a schedule the search printed, run the `replay it:` command it printed: `epsim import FILE --place P -o FILE.scn`, then `epsim replay FILE.scn --schedule S`)",
        ));
    }
    let started = Instant::now();
    let given = parse_placement(args.place.as_deref())?;
    let mut attempt = Attempt::make(text, args, given.clone().unwrap_or_default(), &args.common)?;
    // The speed is that of one import and one replay, whatever the searches add.
    let elapsed = started.elapsed().as_secs_f64();
    let mut placed = None;
    if attempt.comparison.mismatched > 0
        && given.is_none()
        && args.common.strategy.is_none()
        && attempt.import.outside_events > 0
    {
        // Where the events landed is a fact of the recording, made on the header's kernel
        // (6.18): the search runs there, and another version replays what it found.
        let recorded_kernel = CommonOpts {
            kernel: None,
            ..args.common.clone()
        };
        let same_kernel = args.common.kernel.is_none()
            || attempt.resolved.options.kernel.version
                == session::resolve(&attempt.scenario, &recorded_kernel)?
                    .options
                    .kernel
                    .version;
        let base = if same_kernel {
            attempt
        } else {
            Attempt::make(text, args, Placement::default(), &recorded_kernel)?
        };
        let (found, mut search) =
            crate::replay_search::search_placement(text, args, base, &recorded_kernel)?;
        if !same_kernel {
            search.stuck = search
                .stuck
                .map(|why| format!("on the recording's kernel (the header's): {why}"));
        }
        attempt = if same_kernel {
            found
        } else {
            Attempt::make(text, args, found.placement, &args.common)?
        };
        placed = Some(search);
    }
    let Attempt {
        placement,
        import,
        scenario,
        resolved,
        run,
        mut comparison,
    } = attempt;
    let mut chosen = run;
    let mut chosen_seed = None;
    let mut searched = 0;
    if comparison.mismatched > 0 && import.replaying_tasks > 1 && args.common.strategy.is_none() {
        let (seed, run, c, runs) = search(&scenario, &resolved, &import, comparison)?;
        searched = runs;
        comparison = c;
        if let Some(run) = run {
            chosen = run;
            chosen_seed = seed;
        }
    }
    if let (Some(stuck), Some((_, _, why))) = (
        placed
            .as_ref()
            .and_then(|p: &PlacementSearch| p.stuck.as_ref()),
        comparison.first.as_mut(),
    ) {
        why.push_str(&format!("; {stuck}"));
    }
    let lines_per_sec = if elapsed > 0.0 {
        (import.lines as f64 / elapsed).round() as u64
    } else {
        0
    };
    let schedule = chosen.outcome.result.schedule.encode();
    let epoll_calls = import.calls.iter().filter(|c| c.epoll).count();
    let kernel = resolved.options.kernel.version.name();
    if resolved.json {
        let first = comparison.first.as_ref().map(|(r, simulated, why)| {
            json!({
                "line": r.strace_line,
                "call": r.call,
                "recorded": recorded_text(r),
                "simulated": simulated,
                "why": why,
            })
        });
        write_json(
            out,
            &json!({
                "recording": args.input,
                "kernel": kernel,
                "lines": import.lines,
                "calls": import.calls.len(),
                "epoll_calls": epoll_calls,
                "matched": comparison.matched,
                "mismatched": comparison.mismatched,
                "first_mismatch": first,
                "schedule": schedule,
                "placement": placement.to_string(),
                "placement_runs": placed.as_ref().map_or(0, |p| p.runs),
                "seed": chosen_seed,
                "lines_per_sec": lines_per_sec,
            }),
        )?;
    } else {
        write_report(
            out,
            args,
            &import,
            &resolved,
            &comparison,
            &schedule,
            &placement,
            placed.as_ref(),
            chosen_seed,
            searched,
            lines_per_sec,
            epoll_calls,
        )
        .map_err(CliError::from)?;
    }
    Ok(if comparison.mismatched == 0 {
        Exit::Clean
    } else {
        Exit::Failed
    })
}

type Found = (Option<u64>, Option<Executed>, Comparison, u64);

/// Random schedules, seeds 1.., until one matches every recorded result; else the one
/// that matched the longest prefix.
fn search(
    scenario: &Scenario,
    resolved: &Resolved,
    import: &Import,
    timed: Comparison,
) -> Result<Found, CliError> {
    let mut best: (Option<u64>, Option<Executed>, Comparison) = (None, None, timed);
    let mut runs = 0;
    for seed in 1..=SEARCH_RUNS {
        runs += 1;
        let mut options = resolved.clone();
        options.strategy = StrategyKind::Random;
        options.seed = seed;
        let run = session::execute_resolved(scenario, &options, Capture::Results)?;
        let c = compare(import, &run);
        let done = c.mismatched == 0;
        if c.prefix > best.2.prefix || done {
            best = (Some(seed), Some(run), c);
        }
        if done {
            break;
        }
    }
    Ok((best.0, best.1, best.2, runs))
}

#[allow(clippy::too_many_arguments)]
fn write_report(
    out: &mut dyn Write,
    args: &ReplayArgs,
    import: &Import,
    resolved: &Resolved,
    c: &Comparison,
    schedule: &str,
    placement: &Placement,
    placed: Option<&PlacementSearch>,
    seed: Option<u64>,
    searched: u64,
    lines_per_sec: u64,
    epoll_calls: usize,
) -> std::io::Result<()> {
    let kernel = resolved.options.kernel.version.name();
    writeln!(
        out,
        "recording: {} ({} lines, {} tasks, {} outside events)",
        args.input, import.lines, import.tasks, import.outside_events
    )?;
    writeln!(out, "kernel: {kernel}")?;
    writeln!(
        out,
        "replayed: {} calls ({epoll_calls} epoll): {} matched, {} mismatched ({} of them epoll)",
        import.calls.len(),
        c.matched,
        c.mismatched,
        c.epoll_mismatched
    )?;
    let not_replayed: usize = import.not_replayed.values().sum();
    let mut names: Vec<(&String, &usize)> = import.not_replayed.iter().collect();
    names.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = names
        .iter()
        .take(6)
        .map(|(n, k)| format!("{n} {k}"))
        .collect();
    writeln!(
        out,
        "kept as comments: {not_replayed} calls ({}{})",
        top.join(", "),
        if names.len() > 6 { ", ..." } else { "" }
    )?;
    if import.malformed > 0 {
        writeln!(
            out,
            "skipped: {} malformed lines (--keep-going)",
            import.malformed
        )?;
    }
    if let Some((r, simulated, why)) = &c.first {
        writeln!(out, "first mismatch: line {}: {}", r.strace_line, r.call)?;
        writeln!(out, "  recorded:  {}", recorded_text(r))?;
        writeln!(out, "  simulated: {simulated}")?;
        writeln!(out, "  why: {why}")?;
    }
    for (r, simulated, why) in &c.more {
        writeln!(
            out,
            "also: line {}: {}: recorded {}, simulated {simulated} ({why})",
            r.strace_line,
            r.call,
            recorded_text(r)
        )?;
    }
    if let Some(p) = placed {
        writeln!(
            out,
            "placement search: {} runs (at most {PLACEMENT_RUNS}); {} calls have outside events landing while they wait{}",
            p.runs,
            placement.len(),
            match (&p.stuck, c.mismatched) {
                (_, 0) => ": every recorded result matches".to_string(),
                (Some(_), _) => ": stopped at the first mismatch (why, above)".to_string(),
                (None, _) => String::new(),
            }
        )?;
    }
    if !placement.is_empty() {
        writeln!(out, "placement: {placement}")?;
    }
    match (seed, searched) {
        (_, 0) => {}
        (Some(seed), _) if c.mismatched == 0 => writeln!(
            out,
            "schedule search: run {seed} of at most {SEARCH_RUNS} (random, seed {seed}) matches every recorded result"
        )?,
        _ => writeln!(
            out,
            "schedule search: none of {searched} runs (random, seeds 1 to {searched}) matches every recorded result; the one shown matched the longest prefix"
        )?,
    }
    writeln!(out, "schedule: {schedule}")?;
    let file = session::shell_quote(&args.input);
    let place = if placement.is_empty() {
        String::new()
    } else {
        format!(" --place {placement}")
    };
    let kernel = if args.common.kernel.is_some() {
        format!(" --kernel {kernel}")
    } else {
        String::new()
    };
    writeln!(
        out,
        "replay it: epsim import {file}{place} -o R.scn && epsim replay R.scn{kernel} --schedule {schedule}{}",
        seed.map_or(String::new(), |s| format!(" --seed {s} --strategy random"))
    )?;
    writeln!(out, "speed: {lines_per_sec} lines/s (import and replay)")?;
    writeln!(
        out,
        "{}",
        if c.mismatched == 0 {
            "MATCHED"
        } else {
            "MISMATCHED"
        }
    )?;
    Ok(())
}
