//! What `epsim` does with no arguments.
//!
//! Until `run` and the built-in scenarios land in this crate, the demo is the
//! memory-model side of the simulator: it lists the subcommands, then runs
//! `epsim litmus SB --model tso` (store buffering, whose weak outcome x86-TSO allows).
//! When `run` and the scenario library exist, switch this
//! to the narrated run of the built-in `seed-case-4-two-waiters` scenario (issue 4:
//! "`epsim` with no arguments runs the built-in seed-case-4-two-waiters and prints its
//! narrated trace"), and update README.md's description of `cargo run --release`.

use std::io::Write;

use clap::CommandFactory;
use sim::litmus::LitmusStrategy;
use sim::MemoryModel;

use crate::cli::Cli;
use crate::exit::{CliError, Exit};
use crate::litmus_cmd;

const ABOUT: &str = "\
epsim is a deterministic simulator of Linux epoll: a faithful port of fs/eventpoll.c
(2.6.22, with 2.6.21 selectable) running on a simulated SMP machine with virtual CPUs,
virtual time, locks, wait queues and weak memory (sc, tso, pso). The same inputs and seed
give the same execution, bit for bit, and every run can be replayed from its schedule.";

/// `epsim` with no arguments.
pub fn run(out: &mut dyn Write) -> Result<Exit, CliError> {
    writeln!(out, "{ABOUT}\n")?;
    writeln!(out, "Subcommands:")?;
    let command = Cli::command();
    for sub in command.get_subcommands() {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        writeln!(out, "  {:<8} {about}", sub.get_name())?;
    }
    writeln!(
        out,
        "Run `epsim help SUBCOMMAND` or `epsim SUBCOMMAND --help` for options and examples.\n"
    )?;
    writeln!(out, "Demo: `epsim litmus SB --model tso`")?;
    writeln!(out, "{}", "-".repeat(72))?;
    let test = litmus_cmd::find("SB")?;
    let outcome = litmus_cmd::execute(test, MemoryModel::Tso, LitmusStrategy::Dfs);
    litmus_cmd::write_report(out, &outcome)?;
    writeln!(out, "{}", "-".repeat(72))?;
    writeln!(
        out,
        "Each CPU's store waits in its store buffer while its load runs, so both loads can\n\
         read 0: the outcome sequential consistency forbids. Compare `epsim litmus SB --model sc`\n\
         and `epsim litmus SB+mbs --model tso` (smp_mb() drains the buffer)."
    )?;
    Ok(if outcome.disagrees() {
        Exit::Failed
    } else {
        Exit::Clean
    })
}
