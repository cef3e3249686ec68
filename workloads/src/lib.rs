//! # workloads — the `epsim` command line and everything that talks to the outside world
//!
//! `sim` is the machine, `kernel-model` the port of fs/eventpoll.c that runs on it; this
//! crate is the only one that reads files, prints, measures wall-clock time or decides a
//! process exit status. The binary (`src/main.rs`) is a thin shell around [`run`].
//!
//! Rust code outside this repository starts at [`api`]: parse and run a scenario, get its
//! event order as text to keep in a snapshot (the stable part of this crate).
//!
//! One file per concept:
//! - [`api`] — the library API for users' own tests (stable)
//! - [`cli`] — the clap command tree, the shared run options, clap errors made one line
//! - [`options`] — the shared run options resolved and validated into a [`sim::Config`]
//! - [`session`] — what the scenario commands share: loading, options, one run
//! - [`run_cmd`] — `epsim run`: one run, its report, trace, record, determinism check
//! - [`replay_cmd`] — `epsim replay`: a record or schedule reproduced and verified
//! - [`explore_cmd`] — `epsim explore`: many schedules, on threads or shards
//! - [`campaign_cmd`] — `epsim campaign`: every scenario and generated program, every
//!   version and model
//! - [`campaign_programs`] — the small concurrent programs the campaign generates
//! - [`merge_cmd`] — `epsim merge`: shards' JSON made into the unsharded JSON
//! - [`list_cmd`] — `epsim list`
//! - [`snapshot_cmd`] — `epsim snapshot`: event-order snapshots of a directory of scenarios
//! - [`snapshot_file`] — insta's `.snap` file format, read and written
//! - [`gen_cmd`] — `epsim gen`: totalmess.c and epwbench.c as scenarios
//! - [`import_cmd`] — `epsim import` and `epsim replay` of strace recordings; [`replay_search`]
//!   — where the outside events of a recording landed (the placement search)
//! - [`strace`] — strace output read, and the world it implies written as a scenario
//! - [`event_order`] — a scenario's event order as the stable text snapshots pin
//! - [`fold`] — folding repetitive stretches of narration
//! - [`trace_out`] — the trace as text, JSON lines or Chrome trace events
//! - [`record`] — self-contained records of runs
//! - [`litmus_cmd`] — `epsim litmus`
//! - [`config_cmd`] — `epsim config`: check run options, decode a schedule
//! - [`mod@bench`] — `epsim bench`: the simulated kernel against the host's epoll
//! - [`difftest`] — `epsim difftest`: the 6.18 port against the host kernel, program by program
//! - [`demo`] — what `epsim` with no arguments does
//! - [`output`] — tables, JSON, and writing that tolerates a closed pipe
//! - [`logs`] — `RUST_LOG`: spans and the trace records on stderr through `tracing`
//! - [`exit`] — exit statuses and the one-line error type
//! - [`interrupt`] — Ctrl-C: stop and report, a second one ends the process
//! - [`scenario`] — the scenario language, its interpreter and the built-in library
//! - [`view`] — the step-through HTML view of a run (and of two runs side by side)
//! - [`view_cmd`] — `epsim view` and `epsim diff`
//! - [`tour_cmd`] — `epsim tour`: the seed commit's argument as step-through pages

// workloads talks to the outside world: wall-clock timing of runs, and (later) host
// collections and threads for parallel exploration are allowed here, unlike in sim and
// kernel-model (see clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod api;
pub mod bench;
pub mod campaign_cmd;
pub mod campaign_programs;
pub mod cli;
pub mod config_cmd;
pub mod demo;
pub mod difftest;
pub mod event_order;
pub mod exit;
pub mod explore_cmd;
pub mod fold;
pub mod gen_cmd;
pub mod import_cmd;
pub mod interrupt;
pub mod list_cmd;
pub mod litmus_cmd;
pub mod logs;
pub mod merge_cmd;
pub mod options;
pub mod output;
pub mod record;
pub mod replay_cmd;
pub mod replay_search;
pub mod run_cmd;
pub mod scenario;
pub mod session;
pub mod snapshot_cmd;
pub mod snapshot_file;
pub mod strace;
pub mod tour_cmd;
pub mod trace_out;
pub mod view;
pub mod view_cmd;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

pub use exit::{CliError, Exit};

/// Runs `epsim` with `args` (the first is the program name), writing to `out` and `err`.
/// Returns the process exit status: 0 clean, 1 violation or failed expectation, 2 usage
/// or input error.
pub fn run(args: Vec<OsString>, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let result = if args.len() <= 1 {
        demo::run(out)
    } else {
        match cli::Cli::try_parse_from(&args) {
            Ok(cli) => dispatch(cli, &args, out, err),
            Err(error) => cli::clap_error(&error, out),
        }
    };
    match result {
        Ok(exit) => exit.code(),
        Err(error) => error.report(err),
    }
}

fn bench_cmd(args: &cli::BenchArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let size = bench::BenchSize {
        kernel: args.kernel.map(cli::KernelArg::version),
        ..if args.smoke {
            bench::BenchSize::SMOKE
        } else {
            bench::BenchSize::FULL
        }
    };
    let explore = bench::explore(&size);
    let report = bench::run_all(&size, Some(explore));
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| CliError::usage(e.to_string()))?
        )?;
    } else {
        write!(out, "{}", bench::render(&report))?;
    }
    Ok(Exit::Clean)
}

/// `argv` is the command line as given: `gen --run` quotes it back in the command that
/// reproduces a failed run.
fn dispatch(
    cli: cli::Cli,
    argv: &[OsString],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Exit, CliError> {
    match cli.command {
        None => demo::run(out),
        Some(cli::Command::Litmus(args)) => litmus_cmd::run(&args, out, err),
        Some(cli::Command::Config(args)) => config_cmd::run(&args, out),
        Some(cli::Command::Bench(args)) => bench_cmd(&args, out),
        Some(cli::Command::Difftest(args)) => difftest::command(&args, out, err),
        Some(cli::Command::View(args)) => view_cmd::run(&args, out),
        Some(cli::Command::Diff(args)) => view_cmd::diff(&args, out),
        Some(cli::Command::Tour(args)) => tour_cmd::run(&args, out),
        Some(cli::Command::Run(args)) => run_cmd::run(&args, out),
        Some(cli::Command::Replay(args)) => replay_cmd::run(&args, out),
        Some(cli::Command::Import(args)) => import_cmd::import(&args, out),
        Some(cli::Command::Explore(args)) => explore_cmd::run(&args, out, err),
        Some(cli::Command::Campaign(args)) => campaign_cmd::run(&args, out, err),
        Some(cli::Command::Merge(args)) => merge_cmd::run(&args, out),
        Some(cli::Command::List(args)) => match &args.show {
            Some(name) => list_cmd::show(name, out),
            None => list_cmd::run(&args, out),
        },
        Some(cli::Command::Gen(args)) => gen_cmd::run(&args, argv, out),
        Some(cli::Command::Snapshot(args)) => snapshot_cmd::run(&args, out),
    }
}
