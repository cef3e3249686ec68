//! The command tree. Each subcommand has its own `Args` struct and examples in its
//! `--help`. [`CommonOpts`] are the run options shared by every subcommand that runs a
//! scenario (`run`, `replay`, `explore`, `gen --run`); [`crate::options`] and
//! [`crate::session`] resolve and validate them.

use std::io::Write;

use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::{CliError, Exit};

/// The most runs one exploration (or one `litmus --strategy random`) may be asked for:
/// at a million runs a second, eleven days.
pub const RUNS_MAX: u64 = 1_000_000_000_000;

/// The most exploration threads (`--jobs`); an exploration never starts more threads
/// than it has runs either.
pub const JOBS_MAX: usize = 256;

/// The longest `--time-limit`: a year, in seconds.
pub const TIME_LIMIT_MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// The largest dfs `--preemption-bound` (other than `none`).
pub const PREEMPTION_BOUND_MAX: u32 = 1000;

/// The largest dfs `--delay-bound` (other than `none`): each step another CPU takes
/// while a store waits in a buffer counts one, so a useful bound can be in the tens.
pub const DELAY_BOUND_MAX: u32 = 100_000;

/// dfs `--preemption-bound` when none is given.
pub const PREEMPTION_BOUND_DEFAULT: u32 = 2;

/// dfs `--delay-bound` when none is given.
pub const DELAY_BOUND_DEFAULT: u32 = 2;

/// `gen stress --pipes` at most (and `gen bench --pipes`, [`GEN_BENCH_PIPES_MAX`]).
pub const GEN_STRESS_PIPES_MAX: u64 = 10_000;
/// `gen stress --threads` at most.
pub const GEN_STRESS_THREADS_MAX: u64 = 256;
/// `gen stress --tokens` at most: a pipe holds `PIPE_BUFFERS * PAGE_SIZE` bytes, so even
/// if every token ends up in one pipe, no token's write can fail for want of room.
pub const GEN_STRESS_TOKENS_MAX: u64 =
    kernel_model::pipe::PIPE_BUFFERS * kernel_model::pipe::PAGE_SIZE as u64;
/// `gen --maxevents`, `--writes` at most.
pub const GEN_EVENTS_MAX: u64 = 100_000;
/// `gen stress --duration-ms` and `--timeout-ms` at most: a minute of virtual time.
pub const GEN_MS_MAX: u64 = 60_000;
/// `gen bench --pipes` at most.
pub const GEN_BENCH_PIPES_MAX: u64 = 100_000;
/// `gen bench --loops` at most.
pub const GEN_LOOPS_MAX: u64 = 1_000_000;

/// A value parser for a whole number in `low..=high`, whose error says the range (clap
/// puts the option's name in front; [`condense_clap_error`] makes it one line).
fn whole<T>(
    low: u64,
    high: u64,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: TryFrom<u64>,
{
    move |text: &str| {
        let out_of_range = || format!("expected a whole number from {low} to {high}");
        let value: u64 = text.trim().parse().map_err(|_| out_of_range())?;
        if !(low..=high).contains(&value) {
            return Err(out_of_range());
        }
        T::try_from(value).map_err(|_| out_of_range())
    }
}

/// A dfs bound as given: a whole number, or `none` (`Bound(None)`: no bound).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound(pub Option<u32>);

/// A value parser for a dfs bound: a whole number in `0..=high`, or `none`.
fn bound(high: u32) -> impl Fn(&str) -> Result<Bound, String> + Clone + Send + Sync + 'static {
    move |text: &str| {
        if text.trim() == "none" {
            return Ok(Bound(None));
        }
        whole::<u32>(0, u64::from(high))(text)
            .map(|value| Bound(Some(value)))
            .map_err(|_| format!("expected a whole number from 0 to {high}, or none"))
    }
}

/// `--time-limit`: seconds, more than 0 and at most [`TIME_LIMIT_MAX_SECONDS`].
fn seconds(text: &str) -> Result<f64, String> {
    let message =
        || format!("expected a number of seconds above 0 and at most {TIME_LIMIT_MAX_SECONDS}");
    let value: f64 = text.trim().parse().map_err(|_| message())?;
    if value > 0.0 && value <= TIME_LIMIT_MAX_SECONDS {
        Ok(value)
    } else {
        Err(message())
    }
}

const TOP_EXAMPLES: &str = "\
Examples:
  epsim                                   narrated run of seed-case-4-two-waiters (see below)
  epsim list                              the built-in scenarios
  epsim run seed-case-5-callback-race     run one: results, expectations, violations, hash
  epsim run my.scn --trace chrome -o t.json   the trace, for Perfetto (ui.perfetto.dev)
  epsim run seed-case-4-two-waiters --record r.json && epsim replay r.json
  epsim explore inject-no-linked-check --runs 1000 --jobs 2
  epsim gen stress --threads 4 --pipes 16 --tokens 4 --run
  epsim snapshot tests/scenarios --check  event-order snapshots of your scenarios, for CI
  epsim litmus SB --model tso             store buffering under x86-TSO
  epsim config --cpus 4 --model tso --granularity access

With no arguments, epsim runs the built-in seed-case-4-two-waiters at lock granularity
and narrates it: what each CPU did, step by step, in kernel terms.

Exit status: 0 clean, 1 violation or failed expectation (or a replay that did not
reproduce its run), 2 usage or input error (one line on stderr).";

const RUN_EXAMPLES: &str = "\
Examples:
  epsim run seed-case-4-two-waiters                 a built-in scenario (`epsim list`)
  epsim run path/to/my.scn --cpus 4 --seed 7        a file; options override its header
  epsim run seed-case-5-callback-race --granularity access --model tso --strategy pct
  epsim run lt-basics --inject no-linked-check      run it with a bug injected
  epsim run seed-case-4-two-waiters --trace text    narrate every step (kernel terms)
  epsim run seed-case-4-two-waiters --trace chrome -o trace.json   open in ui.perfetto.dev
  epsim run seed-case-4-two-waiters --trace jsonl -o trace.jsonl
  epsim run seed-case-4-two-waiters --check-determinism
  epsim run seed-case-4-two-waiters --record run.json   then: epsim replay run.json
  epsim run seed-case-2-ctl-del --json

SCENARIO is a path to a scenario file or the name of a built-in scenario. Options given
here win over the scenario's header (cpus, kernel, model, granularity, strategy, seed,
inject); --seed seeds both the strategy and the scenario's random(n).

The chrome trace has one track per CPU: the task on the CPU, its system calls (entry to
return) and the kernel functions the port names as nested slices, lock-level steps as
instants, and wake-ups as flow arrows from try_to_wake_up to the woken task (at lock and
access granularity, where a wake-up is a step of its own).

Exit status: 0 the run met its expectations and made no unexpected report; 1 it did not
(or --check-determinism found two runs that differ); 2 usage or input error (missing
file, syntax error as file:line:col, unknown scenario or injection, bad options).";

const REPLAY_EXAMPLES: &str = "\
Examples:
  epsim replay run.json                     a record written by `epsim run --record`
  epsim replay seed-case-4-two-waiters --schedule v1.0123456789abcdef.AQID... --seed 17
  epsim replay run.json --trace chrome -o trace.json
  epsim replay my.scn --schedule STRING --hash 89abcdef01234567   also check the hash
  epsim replay server.strace --kernel 6.18    an strace recording: imported, run, compared
  epsim replay server.strace --kernel 2.6.22 --json   which results another version changes

A replay follows every decision of the schedule and checks the run against it (the
schedule carries fingerprints of what could run at every point), then compares the
trace hash with the record's (or --hash). A schedule is bound to its scenario, seed and
options: give the same --seed and options it was recorded with (`epsim explore` prints
the exact command).

Exit status: 0 reproduced, and the run passed; 1 the run it reproduced fails (the report
shows why), or the replay did not reproduce it: it diverged from the schedule or ended
with another trace hash (the error names the first divergent step); 2 the input cannot
be used: a missing or malformed record or schedule, a scenario with a syntax error, or a
schedule recorded for another scenario, seed or options.";

const EXPLORE_EXAMPLES: &str = "\
Examples:
  epsim explore seed-case-5-callback-race --runs 1000
  epsim explore inject-no-linked-check --runs 500 --jobs 2     expects its report
  epsim explore seed-case-4-two-waiters --strategy pct --granularity access --runs 200
  epsim explore seed-case-2-ctl-del --strategy dfs --preemption-bound 2 --runs 100000
  epsim explore finding-init-list-head-window --model tso --strategy dfs --preemption-bound 0 --delay-bound 1
  epsim explore totalmess --runs 100000 --time-limit 60 --json
  epsim explore my.scn --runs 1000000 --shard 3/8                machine 3 of 8

--strategy defaults to the scenario's when it is random, pct or dfs, else random.
Run i uses seed S+i (S = --seed, else the scenario's): it is exactly `epsim run
SCENARIO --strategy K --seed S+i`. So --jobs J (J threads) gives the same counts as
--jobs 1, and --shard I/N (the runs i with i mod N = I) splits one exploration across
machines: `epsim merge` of every shard's --json gives the unsharded JSON (counts add up,
distinct traces are a union, the first report is the lowest run index; docs/scaling.md).
dfs is one depth-first search: it runs on one thread whatever --jobs says, cannot be
sharded, and stops early when the search is complete. It is bounded by default: at most
2 preemptions (--preemption-bound) and 2 delayed store-buffer drains (--delay-bound) per
execution; `none` lifts a bound. The output says \"exhaustive\" only when the search
finished and no bound cut a branch; otherwise \"complete within bounds (preemptions ≤ P,
delays ≤ D), B branches cut\", or how far it got. The bounds apply to dfs only: giving
one with another strategy is a usage error. A progress bar is drawn on stderr when
stderr is a terminal.

The first run with a report has its schedule shrunk (fewer preemptions, fewer steps)
and printed with the `epsim replay` command that reproduces it. Reports of the
unmodified port that are documented findings of the 2007 code (kernel_model::check::finding) are
named and counted apart, and do not fail the exploration; a scenario written to show one
(the finding-* scenarios: `expect report KIND` without an injection) passes when it shows.

Ctrl-C stops the workers after the run each is in and prints the tally so far, the first
report and its replay command (no shrinking); a second Ctrl-C ends epsim at once.
--jobs is at most 256, and no more threads start than there are runs.

Exit status: 0 no run made a report the scenario does not expect (and, for a scenario
with `expect report KIND`, some run made one of KIND); 1 otherwise; 2 usage or input
error; 130 stopped by Ctrl-C.";

const LIST_EXAMPLES: &str = "\
Examples:
  epsim list
  epsim list --json
  epsim list --show seed-case-4-two-waiters     the scenario's text

Each built-in scenario is also a file in workloads/scenarios/.";

const GEN_EXAMPLES: &str = "\
Examples:
  epsim gen stress                                  totalmess.c: 2 threads, 8 pipes, 2 tokens
  epsim gen stress --threads 4 --pipes 32 --tokens 8 --et -o stress.scn
  epsim gen stress --threads 4 --cpus 4 --run       generate and run it
  epsim gen bench                                   epwbench.c: 200 always-ready LT pipes
  epsim gen bench --workload mix --pipes 500 --writes 10 --loops 100 --run

The run options (--cpus, --granularity, --seed, ...) are written into the generated
header; with --run they also apply to the run.

Exit status: 0; with --run, the run's status (1 a violation or failed expectation);
2 usage error.";

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

const SNAPSHOT_EXAMPLES: &str = "\
Examples:
  epsim snapshot tests/scenarios              write .snap.new where a snapshot is missing or differs
  epsim snapshot tests/scenarios --accept     write (accept) them as .snap files
  epsim snapshot tests/scenarios --check      CI: compare only, write nothing
  epsim snapshot my.scn --kernel K --check    only kernel version K (repeatable)
  epsim snapshot tests/scenarios --across-kernels   which versions agree, and where they part

Each .scn file under the paths (recursively, in sorted order; hidden directories and
`target` are not searched) is run once per kernel version — every version that has all
the system calls the scenario makes, unless --kernel says which — and its event order is
kept in an insta snapshot beside it: DIR/snapshots/NAME@VERSION.snap, which `cargo insta
review` and `cargo insta accept` also work on. docs/snapshot-testing.md says what the
text keeps stable.

Exit status: 0 when every snapshot matches (or was accepted); 1 when one is missing or
differs (the diff is printed; without --check a .snap.new is written for review); 2 on a
usage or input error (a missing path, no .scn file under the paths, a scenario that
does not parse, an unknown version, a snapshot file not in insta's format).";

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

/// epsim — a deterministic simulator of Linux epoll (fs/eventpoll.c of 2007: the tree at 6192bd536f96, v2.6.21 and v2.6.22) on a
/// simulated SMP machine with weak memory.
#[derive(Parser, Debug)]
#[command(
    name = "epsim",
    version,
    about = "A deterministic simulator of Linux epoll (fs/eventpoll.c of 2007: 6192bd536f96, 2.6.21, 2.6.22) on a simulated SMP machine",
    after_help = TOP_EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario once: results, expectations, violations, trace hash
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Replay a recorded run exactly and verify its trace hash
    #[command(after_help = REPLAY_EXAMPLES)]
    Replay(ReplayArgs),
    /// Import an strace recording as a scenario (replay it with `epsim replay FILE`)
    #[command(after_help = IMPORT_EXAMPLES)]
    Import(ImportArgs),
    /// Run a scenario under many schedules; shrink the first report
    #[command(after_help = EXPLORE_EXAMPLES)]
    Explore(ExploreArgs),
    /// List the built-in scenarios
    #[command(after_help = LIST_EXAMPLES)]
    List(ListArgs),
    /// Keep, check and accept snapshots of the event order of a directory of scenarios
    #[command(after_help = SNAPSHOT_EXAMPLES)]
    Snapshot(SnapshotArgs),
    /// Generate a scenario: the seed's totalmess.c (stress) or epwbench.c (bench)
    #[command(after_help = GEN_EXAMPLES)]
    Gen(GenArgs),
    /// Run a memory-model litmus test (SB, MP, LB, ...) on the simulated machine
    #[command(after_help = LITMUS_EXAMPLES)]
    Litmus(LitmusArgs),
    /// Check run options and show the machine they configure; decode a schedule string
    #[command(after_help = CONFIG_EXAMPLES)]
    Config(ConfigArgs),
    /// Benchmark the simulated kernel against the host's epoll, side by side
    #[command(after_help = BENCH_EXAMPLES)]
    Bench(BenchArgs),
    /// Explore every scenario and generated program on every version and model
    #[command(after_help = CAMPAIGN_EXAMPLES)]
    Campaign(CampaignArgs),
    /// Merge the JSON of the shards of one exploration or campaign (--shard I/N)
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
    /// Differential test of the 6.18 port against the host kernel: random programs, both sides compared
    #[command(after_help = DIFFTEST_EXAMPLES)]
    Difftest(DifftestArgs),
    /// Write a run as a self-contained HTML page to step through (lists, locks, buffers)
    #[command(after_help = VIEW_EXAMPLES)]
    View(ViewArgs),
    /// Two runs of a scenario side by side, aligned by system call; the first divergence
    #[command(after_help = DIFF_EXAMPLES)]
    Diff(DiffArgs),
    /// The seed commit's argument as step-through pages, one per claim
    #[command(after_help = TOUR_EXAMPLES)]
    Tour(TourArgs),
}

const TOUR_EXAMPLES: &str = "\
Examples:
  epsim tour                  writes epsim-tour/index.html and one page per claim
  epsim tour -o /tmp/tour

Pages: the single-pass transfer; the commit's five cases, each on a schedule that
exercises it; the smp_mb() before INIT_LIST_HEAD (the injection) and the window it does
not close (finding F1, its counter-example); the ready order on 6192bd536f96 and 2.6.22.

Exit status: 0; 2 on a usage error.";

/// `epsim tour`.
#[derive(Args, Debug, Clone)]
pub struct TourArgs {
    /// The directory the pages go to [default: epsim-tour]
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<std::path::PathBuf>,
}

const DIFF_EXAMPLES: &str = "\
Examples:
  epsim diff seed-case-4-two-waiters \"--kernel 2.6.22\"               seed against 2.6.22
  epsim diff \"seed-case-4-two-waiters --kernel 2.6.21\" \"seed-case-4-two-waiters\"
  epsim diff finding-init-list-head-window \"--model tso --inject no-smp-mb\" -o mb.html
  epsim diff seed-case-5-callback-race \"--seed 7\"                    two schedules

Each run is what `epsim view` takes, as one word: a scenario and its run options; a run
that starts with an option takes the first run's scenario. The text shows both runs'
results side by side (| marks lines that differ) and the first call, in the first run's
order, that returned differently; -o writes both runs as one page, two panes with linked
cursors (the first divergence marked; d jumps to it).

Exit status: 0; 2 on a usage error.";

/// `epsim diff`.
#[derive(Args, Debug, Clone)]
pub struct DiffArgs {
    /// The first run: a scenario and its run options, as one word
    #[arg(value_name = "A")]
    pub a: String,
    /// The second run (starting with an option: the first run's scenario)
    #[arg(value_name = "B", allow_hyphen_values = true)]
    pub b: String,
    /// Write both runs as one step-through page with two panes
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

const VIEW_EXAMPLES: &str = "\
Examples:
  epsim view seed-case-4-two-waiters -o run.html
  epsim view seed-case-5-callback-race --granularity access --model tso -o race.html
  epsim view finding-init-list-head-window --model tso --inject no-smp-mb -o mb.html

The page is one file (script, style and data inline; no network): CPUs as lanes on the
virtual-time axis, a cursor (slider, arrow keys, a click on a mark), and at the cursor
each eventpoll's lists drawn from their real link words, the epitems, locks, wait
queues, store buffers and tasks. Press ? on the page for the keys (docs/teaching.md).

Exit status: 0; 2 on a usage error.";

/// `epsim view`.
#[derive(Args, Debug, Clone)]
pub struct ViewArgs {
    /// A scenario file, or the name of a built-in scenario (`epsim list`)
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    #[command(flatten)]
    pub common: CommonOpts,
    /// Where the page goes [default: SCENARIO-NAME.html]
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

const CAMPAIGN_EXAMPLES: &str = "\
Examples:
  epsim campaign --budget-s 1800 --resume progress.jsonl        half an hour, resumable
  epsim campaign --kernel 6.18 --model tso --runs 50 --json
  epsim campaign --shard 3/8 --json > shard-3.json               machine 3 of 8; then epsim merge
  epsim campaign --show pair-del_wait-1                           a generated program's text

Units: every library scenario (epsim list) and every generated program — every pair and
every triple of the operations epoll_ctl ADD (LT, ET, ONESHOT, EXCLUSIVE on 6.18), MOD,
DEL, epoll_wait (maxevents 1, or 2 with a 1 ms timeout), close and dup+close of a watched
fd, close of the epoll fd, read and write on a pipe, an eventfd and a socket, epoll_wait
on and EPOLL_CTL_DEL from an outer set — on each --kernel (default every version) under
each --model (default sc, tso, pso), at access granularity. A unit that needs what a
version lacks (eventfd before 2.6.22, EPOLLEXCLUSIVE before 6.18) is skipped there.

Each unit: DPOR (--unit-strategy dpor, the default; or dfs: preemptions ≤ 2, delays ≤ 2)
for up to --runs executions; if that search does not finish, --runs PCT runs as well. A
unit's result depends only on the unit and the settings: --jobs, --shard and --resume
give the same units. --budget-s stops
starting new units (the output says how many it did not reach). --resume FILE writes
each finished unit to FILE as it goes and skips those already there.

Exit status: 0 no unit made a report it does not expect; 1 one did; 2 usage error; 130
Ctrl-C.";

const MERGE_EXAMPLES: &str = "\
Examples:
  epsim merge shard-0.json shard-1.json shard-2.json      explore or campaign shards
  epsim merge shards/*.json > merged.json

The inputs are the JSON of `epsim explore ... --shard I/N --json` (or `epsim campaign
... --shard I/N --json`) for every I of one N, from one command line otherwise. The
output is the JSON the unsharded command prints: counts are sums, distinct traces the
union of the shards' trace hashes, the first report the one with the lowest run index
(an unexpected one first). Only runs_per_sec differs: the rate of one machine making
every shard's runs in turn. See docs/scaling.md.

Exit status: as the unsharded command's (0 passed, 1 failed, 130 a shard was
interrupted); 2 when the files are not every shard of one run.";

const DIFFTEST_EXAMPLES: &str = "\
Examples:
  epsim difftest                              10 000 programs, seed 0, on every core
  epsim difftest --programs 1000000 --jobs 2  the figure in docs/difftest.md
  epsim difftest --seed 7 --json              {\"programs\", \"divergences\", \"first_divergence\", ...}
  epsim difftest --threads --native-runs 200  threaded programs: host outcomes the simulator must reach
  epsim difftest --threads --programs 50 --seed 1   50 generated threaded programs

Each program runs natively in a forked child and on the simulated 6.18 kernel; every
return value, errno and event list is compared in order. The first divergence is shrunk
and written as a scenario (in --out DIR, default .) whose expectations are the host's
results. Exit status: 0 no divergence, 1 a divergence, 2 a usage error.
";

const BENCH_EXAMPLES: &str = "\
Examples:
  epsim bench                 the full run (a few minutes): every workload, medians of 5
  epsim bench --smoke         a few iterations of each workload (what the tests run)
  epsim bench --json          the figures as JSON

Workloads: transfer (the seed's epwbench, N = 200 and 2000), mix (P = 500 pipes, K = 10
writes per round), scale (10 ready among 10 .. 100k watched pipes; with the resident
memory per watch, the epoll_ctl ADDs alone, and per watched pipe, the pipe as well),
granularity (transfer at lock and access/tso granularity), explore (seed-case-5-callback-race at
access/tso, --jobs 1 and 2),
litmus (exhaustive SB under tso). Native runs use the host kernel's epoll through libc;
ratios are sim time over native time (below 1 means the simulator is faster).

Exit status: 0; 2 on a usage error.";

/// `epsim run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// A scenario file, or the name of a built-in scenario (`epsim list`)
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    #[command(flatten)]
    pub common: CommonOpts,
    /// Write the full trace in this format (text: narrated in kernel terms; jsonl: one
    /// record per line; chrome: trace event JSON for Perfetto)
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub trace: Option<crate::trace_out::TraceFormat>,
    /// Where --trace goes (the text narration may go to the terminal)
    #[arg(short = 'o', long = "output", value_name = "FILE", requires = "trace")]
    pub output: Option<std::path::PathBuf>,
    /// Run twice and compare the traces step by step; report the first divergent step
    #[arg(long)]
    pub check_determinism: bool,
    /// Write a self-contained record of the run (JSON) that `epsim replay FILE` reproduces
    #[arg(long, value_name = "FILE")]
    pub record: Option<std::path::PathBuf>,
    /// List every call's result on its own line (by default calls that repeat are folded)
    #[arg(long)]
    pub no_fold: bool,
}

const IMPORT_EXAMPLES: &str = "\
Examples:
  strace -f -yy -o server.strace ./server      make a recording (any strace 5.x/6.x style)
  epsim import server.strace -o server.scn     the recording as a scenario to read and edit
  epsim replay server.strace                   import and run it: every result compared
  epsim replay server.strace --kernel 2.6.22 --json   which results another version changes

The scenario rebuilds the world the recording implies (processes, threads, descriptors,
epoll sets, pipes, eventfds, sockets, opaque files) and follows each replayed call with an
expectation of its recorded result; what came from outside (bytes, connections, a peer's
close, signals) becomes `at` blocks. Calls it does not replay are kept as `# L<n>`
comments. See docs/recordings.md.

Exit status: 0; 2 on a usage error or a malformed line (file:line:col; --keep-going skips
and counts them).";

/// `epsim import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// An strace log (`strace -f -yy -o FILE ...`)
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Write the scenario here (else to standard output) and print a summary
    #[arg(short = 'o', long = "output", value_name = "FILE.scn")]
    pub output: Option<std::path::PathBuf>,
    /// Skip malformed lines (and count them) instead of stopping at the first
    #[arg(long)]
    pub keep_going: bool,
    /// Land these outside events while their call waits instead of before it
    /// (`LINE=PHASES,...`, as `epsim replay` of the recording prints it)
    #[arg(long, value_name = "PLACEMENT")]
    pub place: Option<String>,
}

/// `epsim replay`.
#[derive(Args, Debug, Clone)]
pub struct ReplayArgs {
    /// A record file (`epsim run --record`), or a scenario with --schedule
    #[arg(value_name = "RECORD|SCENARIO")]
    pub input: String,
    #[command(flatten)]
    pub common: CommonOpts,
    /// The trace hash the replay must end with (16 hex digits; a record has its own)
    #[arg(long, value_name = "HEX")]
    pub hash: Option<String>,
    /// Write the full trace of the replay in this format
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub trace: Option<crate::trace_out::TraceFormat>,
    /// Where --trace goes
    #[arg(short = 'o', long = "output", value_name = "FILE", requires = "trace")]
    pub output: Option<std::path::PathBuf>,
    /// Also write the replayed run as a step-through HTML page (as `epsim view` does)
    #[arg(long, value_name = "FILE")]
    pub view: Option<std::path::PathBuf>,
    /// List every call's result on its own line (by default calls that repeat are folded)
    #[arg(long)]
    pub no_fold: bool,
    /// The input is an strace recording (else told by its content)
    #[arg(long)]
    pub strace: bool,
    /// An strace recording: skip malformed lines (and count them)
    #[arg(long)]
    pub keep_going: bool,
    /// An strace recording: land these outside events while their call waits (as the
    /// placement search prints it); no search is made
    #[arg(long, value_name = "PLACEMENT")]
    pub place: Option<String>,
}

/// `epsim explore`.
#[derive(Args, Debug, Clone)]
pub struct ExploreArgs {
    /// A scenario file, or the name of a built-in scenario (`epsim list`)
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    #[command(flatten)]
    pub common: CommonOpts,
    /// Runs to make (dfs: the most executions to try)
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = whole::<u64>(1, RUNS_MAX), allow_negative_numbers = true)]
    pub runs: u64,
    /// dfs only: the most preemptions per execution, 0 to 1000, or none [default: 2]
    #[arg(long, value_name = "N|none",
          value_parser = bound(PREEMPTION_BOUND_MAX), allow_negative_numbers = true)]
    pub preemption_bound: Option<Bound>,
    /// dfs only: the most delayed store-buffer drains per execution (tso, pso: each step
    /// taken while a store the default would drain waits in its buffer), 0 to 100000, or
    /// none [default: 2]
    #[arg(long, value_name = "N|none",
          value_parser = bound(DELAY_BOUND_MAX), allow_negative_numbers = true)]
    pub delay_bound: Option<Bound>,
    /// Threads to run seeds on, 1 to 256, at most one per run (results are identical to
    /// --jobs 1; dfs uses one)
    #[arg(long, value_name = "J", default_value_t = 1, value_parser = whole::<usize>(1, JOBS_MAX as u64), allow_negative_numbers = true)]
    pub jobs: usize,
    /// Stop starting runs after this many seconds (at most a year)
    #[arg(long, value_name = "SECONDS", value_parser = seconds, allow_negative_numbers = true)]
    pub time_limit: Option<f64>,
    /// Only the runs i with i mod N = I (shards are numbered from 0)
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Do not shrink the first report's schedule
    #[arg(long)]
    pub no_shrink: bool,
    /// Write the first report's (shrunk) counter-example as a step-through HTML page (the
    /// first documented finding's, when there is no report)
    #[arg(long, value_name = "FILE")]
    pub view: Option<std::path::PathBuf>,
}

/// `epsim list`.
#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Print JSON: [{"name", "description"}] (with --kernel also "kernel", "runs", "reason")
    #[arg(long)]
    pub json: bool,
    /// Print the text of one built-in scenario
    #[arg(long, value_name = "NAME", conflicts_with = "json")]
    pub show: Option<String>,
    /// Say which scenarios run on this kernel version (and why the others cannot)
    #[arg(long, value_enum, value_name = "VERSION", conflicts_with = "show")]
    pub kernel: Option<KernelArg>,
}

/// `epsim snapshot`.
#[derive(Args, Debug, Clone)]
pub struct SnapshotArgs {
    /// Scenario files, or directories searched for `.scn` files [default: .]
    #[arg(value_name = "PATH")]
    pub paths: Vec<std::path::PathBuf>,
    /// A kernel version to snapshot, named as `epsim run --kernel` takes it (repeatable)
    /// [default: every version that has the scenario's system calls]
    #[arg(long = "kernel", value_name = "K")]
    pub kernels: Vec<String>,
    /// Compare only (for CI): write nothing; exit 1 on a missing or different snapshot
    #[arg(long, conflicts_with = "accept")]
    pub check: bool,
    /// Write every snapshot as .snap (accept what the scenarios do now)
    #[arg(long)]
    pub accept: bool,
    /// Print JSON (the shape is in README.md)
    #[arg(long)]
    pub json: bool,
    /// Report which kernel versions agree on each scenario's event order, and the first
    /// call where they part (writes and checks nothing)
    #[arg(long, conflicts_with_all = ["check", "accept"])]
    pub across_kernels: bool,
}

/// `epsim gen`.
#[derive(Args, Debug, Clone)]
pub struct GenArgs {
    #[command(subcommand)]
    pub kind: GenKind,
}

#[derive(Subcommand, Debug, Clone)]
pub enum GenKind {
    /// The seed's totalmess.c: T threads pass A tokens around P non-blocking pipes
    #[command(after_help = GEN_EXAMPLES)]
    Stress(StressArgs),
    /// The seed's epwbench.c (transfer), or a write/wait/read mix
    #[command(after_help = GEN_EXAMPLES)]
    Bench(BenchGenArgs),
}

/// `epsim gen stress`.
#[derive(Args, Debug, Clone)]
pub struct StressArgs {
    /// Pipes in the shared epoll set (P)
    #[arg(long, value_name = "P", default_value_t = 8, value_parser = whole::<u64>(1, GEN_STRESS_PIPES_MAX), allow_negative_numbers = true)]
    pub pipes: u64,
    /// Threads waiting on the set (T)
    #[arg(long, value_name = "T", default_value_t = 2, value_parser = whole::<u64>(1, GEN_STRESS_THREADS_MAX), allow_negative_numbers = true)]
    pub threads: u64,
    /// Tokens (bytes) circulating among the pipes (A; at most what one pipe holds)
    #[arg(long, value_name = "A", default_value_t = 2, value_parser = whole::<u64>(0, GEN_STRESS_TOKENS_MAX), allow_negative_numbers = true)]
    pub tokens: u64,
    /// maxevents of each epoll_wait [default: P/5 + 1, as totalmess.c]
    #[arg(long, value_name = "M", value_parser = whole::<u64>(1, GEN_EVENTS_MAX), allow_negative_numbers = true)]
    pub maxevents: Option<u64>,
    /// Register the pipes edge-triggered (EPOLLIN|EPOLLET)
    #[arg(long)]
    pub et: bool,
    /// How long the threads run, in ms of virtual time
    #[arg(long, value_name = "MS", default_value_t = 20, value_parser = whole::<u64>(1, GEN_MS_MAX), allow_negative_numbers = true)]
    pub duration_ms: u64,
    /// The epoll_wait timeout, in ms
    #[arg(long, value_name = "MS", default_value_t = 5, value_parser = whole::<u64>(0, GEN_MS_MAX), allow_negative_numbers = true)]
    pub timeout_ms: u64,
    /// Write the scenario to FILE instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Run the scenario instead of printing it
    #[arg(long)]
    pub run: bool,
    #[command(flatten)]
    pub common: CommonOpts,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchWorkload {
    /// N always-readable LT pipes, repeated epoll_wait(N, 0)
    Transfer,
    /// P pipes, K one-byte writes per round, epoll_wait(K, -1), read each ready pipe
    Mix,
}

/// `epsim gen bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchGenArgs {
    /// Which workload
    #[arg(long, value_enum, default_value_t = BenchWorkload::Transfer)]
    pub workload: BenchWorkload,
    /// Pipes [default: 200 for transfer, 500 for mix]
    #[arg(long, value_name = "N", value_parser = whole::<u64>(1, GEN_BENCH_PIPES_MAX), allow_negative_numbers = true)]
    pub pipes: Option<u64>,
    /// Writes per round (mix; at most what one pipe holds: the writes block)
    #[arg(long, value_name = "K", default_value_t = 10, value_parser = whole::<u64>(1, GEN_STRESS_TOKENS_MAX), allow_negative_numbers = true)]
    pub writes: u64,
    /// epoll_wait calls (transfer) or rounds (mix)
    #[arg(long, value_name = "L", default_value_t = 100, value_parser = whole::<u64>(1, GEN_LOOPS_MAX), allow_negative_numbers = true)]
    pub loops: u64,
    /// Write the scenario to FILE instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Run the scenario instead of printing it
    #[arg(long)]
    pub run: bool,
    #[command(flatten)]
    pub common: CommonOpts,
}

/// `epsim campaign`.
#[derive(Args, Debug, Clone)]
pub struct CampaignArgs {
    /// A kernel version to run (repeatable) [default: every version]
    #[arg(long = "kernel", value_enum, value_name = "VERSION")]
    pub kernels: Vec<KernelArg>,
    /// A memory model to run (repeatable) [default: sc, tso, pso]
    #[arg(long = "model", value_enum, value_name = "MODEL")]
    pub models: Vec<ModelArg>,
    /// Per unit: the most dfs executions, and the PCT runs when dfs does not finish
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = whole::<u64>(1, RUNS_MAX), allow_negative_numbers = true)]
    pub runs: u64,
    /// Start no new unit after this many seconds
    #[arg(long, value_name = "SECONDS", value_parser = seconds, allow_negative_numbers = true)]
    pub budget_s: Option<f64>,
    /// The systematic search each unit starts with (PCT follows where it does not finish)
    #[arg(long, value_enum, default_value_t = UnitStrategyArg::Dpor)]
    pub unit_strategy: UnitStrategyArg,
    /// Units run at once, 1 to 256
    #[arg(long, value_name = "J", default_value_t = 1, value_parser = whole::<usize>(1, JOBS_MAX as u64), allow_negative_numbers = true)]
    pub jobs: usize,
    /// Write each finished unit to FILE as it goes; skip the units FILE has already
    #[arg(long, value_name = "FILE")]
    pub resume: Option<std::path::PathBuf>,
    /// Only the units i with i mod N = I (shards are numbered from 0)
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Print JSON (every unit, and the table)
    #[arg(long)]
    pub json: bool,
    /// Only the programs whose name starts with PREFIX (repeatable); units keep their
    /// index in the whole campaign
    #[arg(long, value_name = "PREFIX")]
    pub only: Vec<String>,
    /// Print the scenario text of a generated program and exit
    #[arg(long, value_name = "PROGRAM")]
    pub show: Option<String>,
}

/// `epsim campaign --unit-strategy`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitStrategyArg {
    /// DPOR: one execution per equivalence class of interleavings
    Dpor,
    /// Bounded dfs: at most 2 preemptions and 2 delayed drains per execution
    Dfs,
}

impl UnitStrategyArg {
    pub fn strategy(self) -> crate::campaign_cmd::UnitStrategy {
        match self {
            UnitStrategyArg::Dpor => crate::campaign_cmd::UnitStrategy::DporThenPct,
            UnitStrategyArg::Dfs => crate::campaign_cmd::UnitStrategy::DfsThenPct,
        }
    }
}

/// `epsim merge`.
#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// The JSON files of every shard
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<std::path::PathBuf>,
}

/// `epsim bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// A few iterations of each workload: checks that the benchmark runs, measures little
    #[arg(long)]
    pub smoke: bool,
    /// The simulated kernel's eventpoll.c (the host runs its own) [default: 2.6.22]
    #[arg(long, value_enum)]
    pub kernel: Option<KernelArg>,
    /// Print JSON instead of the table
    #[arg(long)]
    pub json: bool,
}

/// `epsim difftest`.
#[derive(Args, Debug, Clone)]
pub struct DifftestArgs {
    /// Programs to generate and run (1 to 100000000) [default: 10000; with --threads, the
    /// six hand-written programs unless given]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub programs: Option<u64>,
    /// Seed of the generator: program i of seed S is the same on every machine
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (1 to 256) [default: the machine's cores]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub jobs: Option<u64>,
    /// Directory the shrunk divergence's scenario is written to
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
    /// The multi-threaded programs instead: each run natively --native-runs times, then
    /// explored on the simulator until every host outcome is seen (or --sim-runs); the
    /// six hand-written ones, or --programs N generated ones of --seed S
    #[arg(long)]
    pub threads: bool,
    /// With --threads: native runs of each program (1 to 100000)
    #[arg(long, default_value_t = 200, requires = "threads", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub native_runs: u64,
    /// With --threads: at most this many simulated schedules per program (1 to 1000000)
    #[arg(long, default_value_t = 2000, requires = "threads", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub sim_runs: u64,
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
    #[arg(long, value_name = "N", value_parser = whole::<u64>(1, RUNS_MAX), allow_negative_numbers = true)]
    pub runs: Option<u64>,
    /// Seed of the first sampled execution (--strategy random only) [default: 0]
    #[arg(long, value_name = "S", value_parser = whole::<u64>(0, u64::MAX), allow_negative_numbers = true)]
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
/// [`CommonOpts::resolve`].
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct CommonOpts {
    /// Seeds the strategy and the scenario's random(n) [default: the scenario's, else 0]
    #[arg(long, value_name = "SEED", value_parser = whole::<u64>(0, u64::MAX), allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Number of virtual CPUs, 1 to 64 [default: the scenario's, else 2]
    #[arg(long, value_name = "N", value_parser = whole::<usize>(1, sim::limits::CPUS_MAX as u64), allow_negative_numbers = true)]
    pub cpus: Option<usize>,
    /// Kernel version of fs/eventpoll.c [default: the scenario's, else 6192bd536f96]
    #[arg(long, value_enum, value_name = "VERSION")]
    pub kernel: Option<KernelArg>,
    /// Memory model; tso and pso need --granularity access [default: sc]
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// What is one step of the machine [default: syscall]
    #[arg(long, value_enum)]
    pub granularity: Option<GranularityArg>,
    /// Who steps next [default: the scenario's, else timed; replay with --schedule]
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

/// `--kernel`: one of [`kernel_model::KernelVersion::ALL`] by its name or an alias, so a
/// version added to `ALL` is accepted (and listed by `--help`) with no change here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelArg(pub kernel_model::KernelVersion);

impl KernelArg {
    pub fn version(self) -> kernel_model::KernelVersion {
        self.0
    }
}

impl ValueEnum for KernelArg {
    fn value_variants<'a>() -> &'a [KernelArg] {
        const VARIANTS: [KernelArg; kernel_model::KernelVersion::ALL.len()] = {
            let mut variants = [KernelArg(kernel_model::KernelVersion::ALL[0]);
                kernel_model::KernelVersion::ALL.len()];
            let mut index = 0;
            while index < variants.len() {
                variants[index] = KernelArg(kernel_model::KernelVersion::ALL[index]);
                index += 1;
            }
            variants
        };
        &VARIANTS
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(
            clap::builder::PossibleValue::new(self.0.name())
                .aliases(self.0.aliases().iter().copied())
                .help(self.0.description()),
        )
    }
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
    /// Dynamic partial-order reduction: one execution per class of equivalent interleavings
    Dpor,
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
            StrategyArg::Dpor => sim::StrategyKind::Dpor,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LitmusStrategyArg {
    /// Every execution once: the set of final states is complete
    Dfs,
    /// One execution per class of equivalent interleavings: the set of final states is complete
    Dpor,
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
