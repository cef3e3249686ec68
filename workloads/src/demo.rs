//! What `epsim` does with no arguments: it runs the built-in `seed-case-4-two-waiters`
//! at lock granularity with its trace kept, and prints the narration — what each CPU
//! did, step by step, in kernel terms — rendered from the run's own trace records by
//! `sim::narrate` (the kernel-function lines are the port's notes, written as it runs).
//! Stretches that repeat with other objects (the 50 `pipe`/`epoll_ctl`/`write` of the
//! set-up, `ep_free` unhooking 50 wait queues) are folded ([`crate::fold`]); then the
//! per-task results and the trace hash.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CommonOpts, GranularityArg};
use crate::exit::{CliError, Exit};
use crate::fold::fold;
use crate::record::hash_hex;
use crate::run_cmd;
use crate::session::{self, Capture};

/// The scenario the demo narrates.
pub const DEMO_SCENARIO: &str = "seed-case-4-two-waiters";

const ABOUT: &str = "\
epsim is a deterministic simulator of Linux epoll: a faithful port of fs/eventpoll.c
(the tree at 6192bd536f96, with v2.6.21 and v2.6.22 selectable) running on a simulated SMP machine with virtual CPUs,
virtual time, locks, wait queues and weak memory (sc, tso, pso). The same inputs and seed
give the same execution, bit for bit, and every run can be replayed from its schedule.";

const HOW_TO_READ: &str = "\
How to read it: one line per step of the machine — step number, the CPU's virtual
clock, the CPU, the task on it, then what it did: a system call entered (sys_...), a
lock taken or released, a wake-up, a sleep. The kernel functions the port passes through
(ep_insert, ep_poll_callback, ep_events_transfer, ep_send_events, ...) are its notes;
indented notes say which list an item goes on, and which wait queue is woken. Stretches
that repeat on other objects are folded (⋮).";

/// `epsim` with no arguments.
pub fn run(out: &mut dyn Write) -> Result<Exit, CliError> {
    let scenario = session::load(DEMO_SCENARIO)?;
    let common = CommonOpts {
        granularity: Some(GranularityArg::Lock),
        ..CommonOpts::default()
    };
    let resolved = session::resolve(&scenario, &common)?;
    let run = session::execute_resolved(&scenario, &resolved, Capture::Trace)?;
    let trace = run.trace.as_ref().expect("the demo keeps its trace");

    writeln!(out, "{ABOUT}\n")?;
    writeln!(
        out,
        "Demo: `epsim run {DEMO_SCENARIO} --granularity lock --trace text`, folded."
    )?;
    writeln!(out, "Scenario: {}", scenario.description())?;
    writeln!(out, "Options:  {}\n", resolved.describe())?;
    writeln!(out, "{HOW_TO_READ}\n")?;

    let lines: Vec<String> = trace
        .prefixes
        .iter()
        .zip(&trace.lines)
        .map(|(prefix, line)| format!("{prefix}  {line}"))
        .collect();
    let steps = |index: usize| trace.records.get(index).map_or(0, |r| r.step);
    let folded = fold(&lines, 64, 4, &|p, more, first, last| {
        format!(
            "     ⋮  the {p} line{} above repeat{} {more} more time{} on other objects (steps {}..{}); the last:",
            if p == 1 { "" } else { "s" },
            if p == 1 { "s" } else { "" },
            if more == 1 { "" } else { "s" },
            steps(first),
            steps(last + p - 1),
        )
    });
    for line in &folded {
        writeln!(out, "{line}")?;
    }

    writeln!(out, "\nResults, per task:")?;
    let results: Vec<String> = run
        .results
        .render()
        .lines()
        .map(|l| format!("  {l}"))
        .collect();
    for line in run_cmd::fold_results(&results, run_cmd::Folding::Repeats) {
        writeln!(out, "{line}")?;
    }
    let (passed, failed) = run_cmd::expectation_counts(&scenario, &run);
    writeln!(out, "Expectations: {passed} passed, {failed} failed")?;
    let violations = run.violations().len();
    writeln!(
        out,
        "Violations: {}",
        if violations == 0 {
            "none".to_string()
        } else {
            violations.to_string()
        }
    )?;
    writeln!(out, "End: {}", run_cmd::describe_end(&run))?;
    writeln!(
        out,
        "Trace hash: {} (the same on every machine, every build, every run)",
        hash_hex(run.outcome.result.trace_hash)
    )?;

    writeln!(out, "\nNext:")?;
    writeln!(
        out,
        "  epsim run {DEMO_SCENARIO} --trace chrome -o trace.json   the same run for ui.perfetto.dev"
    )?;
    writeln!(
        out,
        "  epsim explore {DEMO_SCENARIO} --granularity access --runs 200   many interleavings"
    )?;
    writeln!(
        out,
        "  epsim list                                                 the other scenarios"
    )?;
    writeln!(out, "\nSubcommands:")?;
    let command = Cli::command();
    for sub in command.get_subcommands() {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        writeln!(out, "  {:<8} {about}", sub.get_name())?;
    }
    writeln!(
        out,
        "Run `epsim help SUBCOMMAND` or `epsim SUBCOMMAND --help` for options and examples."
    )?;
    Ok(run_cmd::exit_of(&run))
}
