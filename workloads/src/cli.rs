//! The command tree. Subcommands grow here; each has its own `Args` struct and examples
//! in its `--help`. [`CommonOpts`] are the run options shared by every subcommand that
//! runs a scenario (`run`, `replay`, `explore` when they land); [`crate::options`]
//! resolves and validates them.

use std::io::Write;

use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::{CliError, Exit};

const TOP_EXAMPLES: &str = "\
Examples:
  epsim                                   built-in demo (see below)
  epsim litmus --list                     the memory-model litmus tests
  epsim litmus SB --model tso             store buffering under x86-TSO
  epsim litmus all                        every test under every model, checked
  epsim config --cpus 4 --model tso --granularity access

With no arguments, epsim prints its subcommands and runs `epsim litmus SB --model tso`.

Exit status: 0 clean, 1 violation or failed expectation, 2 usage or input error.";

const LITMUS_EXAMPLES: &str = "\
Examples:
  epsim litmus --list
  epsim litmus SB --model sc              the weak outcome is Forbidden
  epsim litmus SB --model tso             ... and Allowed under TSO
  epsim litmus SB+mbs --model tso         smp_mb() forbids it again
  epsim litmus MP --model pso --strategy random --runs 10000 --seed 7
  epsim litmus MP+wmb+rmb --model pso --json
  epsim litmus all                        every test x every model vs the expected table

With --strategy dfs (the default) every execution is explored once, so the set of final
states is complete and the verdict is exact. With --strategy random, --runs seeded
executions are sampled: a weak outcome may be missed (Never), never invented.

The condition is each test's classic weak outcome, as in the kernel's
tools/memory-model litmus tests. A state marked *> satisfies it; :> does not.

Exit status: 0 if the verdict agrees with the expected table (sim::litmus), 1 if not,
2 on a usage error (unknown test, unknown model, --runs 0, ...).";

const CONFIG_EXAMPLES: &str = "\
Examples:
  epsim config                                        the defaults
  epsim config --cpus 4 --model tso --granularity access --strategy pct --seed 9
  epsim config --kernel 2.6.21 --json
  epsim config --inject no-linked-check --inject no-smp-mb
  epsim config --schedule v1.0123456789abcdef.AAAA    decode a schedule string

These are the run options that `run`, `replay` and `explore` will take. Bad options give
one line on stderr and exit status 2: --cpus outside 1..=64, --model tso or pso without
--granularity access, --strategy replay without --schedule, a malformed schedule, an
unknown --inject name (the error lists the known ones).";

/// epsim — a deterministic simulator of Linux epoll (2.6.22 fs/eventpoll.c) on a
/// simulated SMP machine with weak memory.
#[derive(Parser, Debug)]
#[command(
    name = "epsim",
    version,
    about = "A deterministic simulator of Linux epoll (fs/eventpoll.c, 2.6.22) on a simulated SMP machine",
    after_help = TOP_EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a memory-model litmus test (SB, MP, LB, ...) on the simulated machine
    #[command(after_help = LITMUS_EXAMPLES)]
    Litmus(LitmusArgs),
    /// Check run options and show the machine they configure; decode a schedule string
    #[command(after_help = CONFIG_EXAMPLES)]
    Config(ConfigArgs),
    /// Benchmark the simulated kernel against the host's epoll, side by side
    #[command(after_help = BENCH_EXAMPLES)]
    Bench(BenchArgs),
}

const BENCH_EXAMPLES: &str = "\
Examples:
  epsim bench                 the full run (a few minutes): every workload, medians of 5
  epsim bench --smoke         a few iterations of each workload (what the tests run)
  epsim bench --json          the figures as JSON

Workloads: transfer (the seed's epwbench, N = 200 and 2000), mix (P = 500 pipes, K = 10
writes per round), scale (10 ready among 10 .. 100k watched), granularity (transfer at
lock and access/tso granularity), explore (seed-case-4-two-waiters, --jobs 1 and 2),
litmus (exhaustive SB under tso). Native runs use the host kernel's epoll through libc;
ratios are sim time over native time (below 1 means the simulator is faster).

Exit status: 0; 2 on a usage error.";

/// `epsim bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// A few iterations of each workload: checks that the benchmark runs, measures little
    #[arg(long)]
    pub smoke: bool,
    /// Print JSON instead of the table
    #[arg(long)]
    pub json: bool,
}

/// `epsim litmus`.
#[derive(Args, Debug, Clone)]
pub struct LitmusArgs {
    /// Test name (case-insensitive), or `all` for every test under every model
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// List the built-in tests
    #[arg(long, conflicts_with_all = ["name", "model", "strategy", "runs", "seed", "json"])]
    pub list: bool,
    /// Memory model (required for one test; restricts `all` to one model)
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// dfs: every execution once (exact); random: --runs seeded samples
    #[arg(long, value_enum, default_value_t = LitmusStrategyArg::Dfs)]
    pub strategy: LitmusStrategyArg,
    /// Executions to sample (--strategy random only) [default: 1000]
    #[arg(long, value_name = "N")]
    pub runs: Option<u64>,
    /// Seed of the first sampled execution (--strategy random only) [default: 0]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Print JSON instead of the herd-style report
    #[arg(long)]
    pub json: bool,
}

/// `epsim config`.
#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub common: CommonOpts,
}

/// The run options shared by every subcommand that runs a machine. Each is optional so
/// that a scenario's own defaults apply when it is not given; see
/// [`crate::options::CommonOpts::resolve`].
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct CommonOpts {
    /// Seed of the strategy's PRNG [default: 0]
    #[arg(long, value_name = "SEED")]
    pub seed: Option<u64>,
    /// Number of virtual CPUs, 1 to 64 [default: the scenario's, else 2]
    #[arg(long, value_name = "N")]
    pub cpus: Option<usize>,
    /// Kernel version of fs/eventpoll.c [default: 2.6.22]
    #[arg(long, value_enum, value_name = "VERSION")]
    pub kernel: Option<KernelArg>,
    /// Memory model; tso and pso need --granularity access [default: sc]
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// What is one step of the machine [default: syscall]
    #[arg(long, value_enum)]
    pub granularity: Option<GranularityArg>,
    /// Who steps next [default: timed, or replay with --schedule]
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// A named bug injection into the port, e.g. no-linked-check (repeatable)
    #[arg(long, value_name = "NAME")]
    pub inject: Vec<String>,
    /// A recorded schedule string (`v1.<hash>.<payload>`) to follow exactly
    #[arg(long, value_name = "STRING")]
    pub schedule: Option<String>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelArg {
    /// Linux 2.6.22: right after 6192bd536f96 "epoll: optimizations and cleanups"
    #[value(name = "2.6.22")]
    V2_6_22,
    /// Linux 2.6.21: before it
    #[value(name = "2.6.21")]
    V2_6_21,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelArg {
    /// Sequential consistency
    Sc,
    /// x86-TSO: a FIFO store buffer per CPU
    Tso,
    /// SPARC PSO: stores to different addresses may also be reordered
    Pso,
}

impl ModelArg {
    pub fn model(self) -> sim::MemoryModel {
        match self {
            ModelArg::Sc => sim::MemoryModel::Sc,
            ModelArg::Tso => sim::MemoryModel::Tso,
            ModelArg::Pso => sim::MemoryModel::Pso,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GranularityArg {
    /// A syscall runs to completion unless it sleeps
    Syscall,
    /// Steps at lock operations, sleeps, wake-ups and fault points
    Lock,
    /// Every shared access and every store-buffer drain is a step
    Access,
}

impl GranularityArg {
    pub fn granularity(self) -> sim::GranularityKind {
        match self {
            GranularityArg::Syscall => sim::GranularityKind::Syscall,
            GranularityArg::Lock => sim::GranularityKind::Lock,
            GranularityArg::Access => sim::GranularityKind::Access,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrategyArg {
    /// Uniformly random among enabled actions, seeded
    Random,
    /// Probabilistic concurrency testing
    Pct,
    /// Rotate among CPUs
    RoundRobin,
    /// Earliest virtual clock first, seeded tie-break
    Timed,
    /// Follow --schedule exactly
    Replay,
    /// Exhaustive depth-first search
    Dfs,
}

impl StrategyArg {
    pub fn kind(self) -> sim::StrategyKind {
        match self {
            StrategyArg::Random => sim::StrategyKind::Random,
            StrategyArg::Pct => sim::StrategyKind::Pct,
            StrategyArg::RoundRobin => sim::StrategyKind::RoundRobin,
            StrategyArg::Timed => sim::StrategyKind::Timed,
            StrategyArg::Replay => sim::StrategyKind::Replay,
            StrategyArg::Dfs => sim::StrategyKind::Dfs,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LitmusStrategyArg {
    /// Every execution once: the set of final states is complete
    Dfs,
    /// --runs seeded random executions
    Random,
}

/// Handles an error from clap: `--help` and `--version` print to `out` (status 0);
/// anything else becomes one line on stderr with status 2.
pub fn clap_error(error: &clap::Error, out: &mut dyn Write) -> Result<Exit, CliError> {
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            write!(out, "{}", error.render())?;
            Ok(Exit::Clean)
        }
        _ => Err(CliError::Usage(condense_clap_error(
            &error.render().to_string(),
        ))),
    }
}

/// Turns clap's multi-line usage error into one line: the message and its details
/// (missing arguments, possible values, tips) without the usage block.
pub fn condense_clap_error(rendered: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let mut in_usage = false;
    for line in rendered.lines() {
        let line = line.trim();
        if line.is_empty() {
            in_usage = false;
            continue;
        }
        if line.starts_with("Usage:") {
            in_usage = true;
            continue;
        }
        if in_usage || line.starts_with("For more information") {
            continue;
        }
        parts.push(line);
    }
    let text = parts.join(" ");
    let text = text.strip_prefix("error:").unwrap_or(&text).trim();
    format!("{text} (see --help)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn clap_errors_become_one_line() {
        let error = Cli::try_parse_from(["epsim", "litmus", "SB", "--model", "arm"]).unwrap_err();
        let line = condense_clap_error(&error.render().to_string());
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("'arm'"), "{line}");
        assert!(line.contains("sc, tso, pso"), "{line}");
    }
}
