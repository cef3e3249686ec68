//! `epsim bench`: the simulated kernel against the host's, side by side in one run.
//!
//! Each workload runs natively (real epoll through libc) and in the simulator (the same
//! generic port `run` and `explore` use, in its fast context), alternating, several
//! repetitions; medians are reported with the sim/native ratio (below 1 means the
//! simulator is faster). The machine's noise hits both sides alike, so the ratio is the
//! figure to trust; absolute numbers are printed beside it.

pub mod native;
pub mod simulated;

use std::time::{Duration, Instant};

use serde::Serialize;
use sim::{AccessSteps, LockSteps, MemoryModel, SyscallSteps};

/// How much work to do: `full` is the README command, `smoke` what the tests run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchSize {
    pub repetitions: usize,
    pub transfer_calls: u64,
    pub mix_rounds: u64,
    pub scale_calls: u64,
    pub scale_sizes: &'static [usize],
    pub granularity_calls: u64,
    pub litmus_repetitions: usize,
    /// Runs of each explore measurement (jobs 1 and jobs 2, alternating, `repetitions`
    /// times): enough that a measurement lasts a second, so that thread start-up and a
    /// neighbour's burst of work do not decide the speed-up.
    pub explore_runs: u64,
    /// The simulated kernel's version (`None`: the default); the host runs its own.
    pub kernel: Option<kernel_model::KernelVersion>,
}

impl BenchSize {
    pub const FULL: BenchSize = BenchSize {
        repetitions: 7,
        transfer_calls: 5_000,
        mix_rounds: 50_000,
        scale_calls: 20_000,
        scale_sizes: &[10, 1_000, 10_000, 100_000],
        granularity_calls: 200,
        litmus_repetitions: 20,
        explore_runs: 1500,
        kernel: None,
    };

    pub const SMOKE: BenchSize = BenchSize {
        repetitions: 1,
        transfer_calls: 5,
        mix_rounds: 20,
        scale_calls: 5,
        scale_sizes: &[10, 100],
        granularity_calls: 2,
        litmus_repetitions: 1,
        explore_runs: 4,
        kernel: None,
    };
}

#[derive(Clone, Debug, Serialize)]
pub struct TransferResult {
    pub n: usize,
    pub native_us_per_call: f64,
    pub sim_us_per_call: f64,
    pub ratio: f64,
    pub native_us_per_event: f64,
    pub sim_us_per_event: f64,
    /// `f_op->poll` calls per simulated transfer (proof the work was done: = n).
    pub sim_polls_per_call: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct MixResult {
    pub native_events_per_sec: f64,
    pub sim_events_per_sec: f64,
    pub ratio: f64,
    /// Proof of work, per round of K writes, one wait and K reads: `ep_poll_callback`
    /// runs (the 2007 trees' `pipe_read` wakes `pipe->wait` whenever it frees a buffer, so the
    /// reads run callbacks too: 2K; a current host kernel wakes only the writers of a
    /// pipe that was full, so it runs K) and `f_op->poll` calls (the K new items and
    /// the K level-triggered ones re-injected by the previous wait: 2K).
    pub sim_callbacks_per_round: f64,
    pub sim_polls_per_round: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScaleResult {
    pub watched: usize,
    pub sim_us_per_wait: f64,
    /// Resident-set growth of the `epoll_ctl(ADD)`s alone, over pipes made before, per
    /// watch: what watching a file costs (the figure the ≤ 400 bytes target is about).
    pub bytes_per_watch: f64,
    /// Resident-set growth of making the pipes and watching them, per watched pipe.
    pub bytes_per_watched_pipe: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct GranularityResult {
    pub granularity: String,
    pub model: String,
    pub sim_us_per_call: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExploreResult {
    pub jobs1_runs_per_sec: f64,
    pub jobs2_runs_per_sec: f64,
    /// The median over repetitions of jobs 2's rate over jobs 1's, each pair measured
    /// back to back: on a machine whose speed drifts from one second to the next (this
    /// shared 2-core one does, by up to half), a ratio of medians taken at different
    /// moments says more about the drift than about the scaling.
    pub speedup: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LitmusResult {
    pub executions_per_sec: f64,
    /// `--strategy dpor`: executions of one exhaustive exploration of SB under tso, and
    /// its wall-clock time (median over batches of explorations).
    pub dpor_executions: u64,
    pub dpor_us_per_exploration: f64,
    /// loom 0.7's figures for the same test, as `cargo run --release -p loom-bench` last
    /// wrote them to `target/loom-bench.json` (`None` if it has not been run here).
    pub loom: Option<LoomFigures>,
}

/// What `benches/loom-bench` measured (its JSON file): both sides in one alternating
/// run, measured the same way.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct LoomFigures {
    pub loom_executions: u64,
    pub loom_us: f64,
    pub epsim_executions: u64,
    pub epsim_us: f64,
    /// The median over pairs of samples of loom's over epsim's (absent in files written
    /// before pairs were measured: then the ratio of the medians is printed).
    #[serde(default)]
    pub speedup: Option<f64>,
    #[serde(default)]
    pub speedup_lowest_pair: Option<f64>,
    #[serde(default)]
    pub pairs_at_target: Option<u64>,
    #[serde(default)]
    pub pairs: Option<u64>,
}

/// Where `cargo run --release -p loom-bench` writes its figures.
pub const LOOM_FIGURES: &str = "target/loom-bench.json";

fn loom_figures() -> Option<LoomFigures> {
    let text = std::fs::read_to_string(LOOM_FIGURES).ok()?;
    serde_json::from_str(&text).ok()
}

/// Everything `epsim bench --json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// The simulated kernel's version name.
    pub kernel: &'static str,
    pub transfer: Vec<TransferResult>,
    pub mix: MixResult,
    pub scale: Vec<ScaleResult>,
    pub granularity: Vec<GranularityResult>,
    pub explore: Option<ExploreResult>,
    pub litmus: LitmusResult,
    /// Notes such as a smaller N because of the descriptor limit.
    pub notes: Vec<String>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    if values.is_empty() {
        return 0.0;
    }
    values[values.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs the transfer workload for each N, native and simulated, alternating.
pub fn transfer(size: &BenchSize, notes: &mut Vec<String>) -> Vec<TransferResult> {
    let limit = native::raise_nofile_limit(1 << 16);
    let mut results = Vec::new();
    for wanted in [200usize, 2000] {
        let n = wanted.min(limit.saturating_sub(64) as usize / 2);
        if n < wanted {
            notes.push(format!(
                "transfer: N={wanted} needs {} descriptors, the limit is {limit}; measured N={n}",
                wanted * 2
            ));
        }
        let calls = (size.transfer_calls * 200 / n as u64).max(1);
        let mut native_us = Vec::new();
        let mut sim_us = Vec::new();
        let mut polls = 0.0;
        for _ in 0..size.repetitions {
            match native::transfer(n, calls) {
                Ok((per_call, _)) => native_us.push(micros(per_call)),
                Err(error) => notes.push(format!("native transfer failed: {error}")),
            }
            let m = simulated::transfer::<SyscallSteps>(n, calls, MemoryModel::Sc, size.kernel);
            sim_us.push(micros(m.elapsed) / calls as f64);
            polls = m.polls as f64 / calls as f64;
        }
        let (native_us, sim_us) = (median(native_us), median(sim_us));
        results.push(TransferResult {
            n,
            native_us_per_call: native_us,
            sim_us_per_call: sim_us,
            ratio: sim_us / native_us.max(f64::MIN_POSITIVE),
            native_us_per_event: native_us / n as f64,
            sim_us_per_event: sim_us / n as f64,
            sim_polls_per_call: polls,
        });
    }
    results
}

/// The mix workload: P = 500 pipes, K = 10 writes per round.
pub fn mix(size: &BenchSize, notes: &mut Vec<String>) -> MixResult {
    let (p, k, seed) = (500, 10, 7);
    let mut native_rates = Vec::new();
    let mut sim_rates = Vec::new();
    let (mut callbacks, mut polls) = (0, 0);
    for _ in 0..size.repetitions {
        match native::mix(p, k, size.mix_rounds, seed) {
            Ok(rate) => native_rates.push(rate),
            Err(error) => notes.push(format!("native mix failed: {error}")),
        }
        let m = simulated::mix(p, k, size.mix_rounds, seed, size.kernel);
        sim_rates.push(m.delivered as f64 / m.elapsed.as_secs_f64().max(1e-12));
        (callbacks, polls) = (m.callbacks, m.polls);
    }
    let (native, sim) = (median(native_rates), median(sim_rates));
    let rounds = size.mix_rounds.max(1) as f64;
    // Ratio of times, like the others: time per event sim / native = native rate / sim rate.
    MixResult {
        native_events_per_sec: native,
        sim_events_per_sec: sim,
        ratio: native / sim.max(f64::MIN_POSITIVE),
        sim_callbacks_per_round: callbacks as f64 / rounds,
        sim_polls_per_round: polls as f64 / rounds,
    }
}

/// The scale workload: cost per wait with 10 ready among 10 … 100k watched.
pub fn scale(size: &BenchSize) -> Vec<ScaleResult> {
    size.scale_sizes
        .iter()
        .map(|&watched| {
            let (m, memory) =
                simulated::scale(watched, 10.min(watched), size.scale_calls, size.kernel);
            ScaleResult {
                watched,
                sim_us_per_wait: micros(m.elapsed) / size.scale_calls as f64,
                bytes_per_watch: memory.watches as f64 / watched as f64,
                bytes_per_watched_pipe: (memory.pipes + memory.watches) as f64 / watched as f64,
            }
        })
        .collect()
}

/// The transfer workload (N = 200) at lock granularity and at access granularity (tso).
pub fn granularity(size: &BenchSize) -> Vec<GranularityResult> {
    let n = 200;
    let calls = size.granularity_calls;
    let mut out = Vec::new();
    let syscall = simulated::transfer::<SyscallSteps>(n, calls * 10, MemoryModel::Sc, size.kernel);
    out.push(GranularityResult {
        granularity: "syscall".into(),
        model: "sc".into(),
        sim_us_per_call: micros(syscall.elapsed) / (calls * 10) as f64,
    });
    let lock = simulated::transfer::<LockSteps>(n, calls, MemoryModel::Sc, size.kernel);
    out.push(GranularityResult {
        granularity: "lock".into(),
        model: "sc".into(),
        sim_us_per_call: micros(lock.elapsed) / calls as f64,
    });
    let access = simulated::transfer::<AccessSteps>(n, calls, MemoryModel::Tso, size.kernel);
    out.push(GranularityResult {
        granularity: "access".into(),
        model: "tso".into(),
        sim_us_per_call: micros(access.elapsed) / calls as f64,
    });
    out
}

/// Explore runs per second on one and on two threads (`explore_cmd` does the runs),
/// alternating, medians.
pub fn explore(size: &BenchSize) -> ExploreResult {
    let mut jobs1 = Vec::new();
    let mut jobs2 = Vec::new();
    let mut speedups = Vec::new();
    for _ in 0..size.repetitions {
        let one = crate::explore_cmd::bench_runs_per_sec(1, size.explore_runs);
        let two = crate::explore_cmd::bench_runs_per_sec(2, size.explore_runs);
        jobs1.push(one);
        jobs2.push(two);
        speedups.push(two / one.max(f64::MIN_POSITIVE));
    }
    ExploreResult {
        jobs1_runs_per_sec: median(jobs1),
        jobs2_runs_per_sec: median(jobs2),
        speedup: median(speedups),
    }
}

/// The least wall-clock time of one sample of DPOR explorations (loom-bench's `BATCH_MS`).
const LITMUS_BATCH: Duration = Duration::from_millis(20);

/// Exhaustive SB under tso.
pub fn litmus(size: &BenchSize) -> LitmusResult {
    let test = sim::litmus::find("SB").expect("SB is built in");
    let start = Instant::now();
    let mut executions = 0;
    for _ in 0..size.litmus_repetitions {
        executions +=
            sim::litmus::run(test, MemoryModel::Tso, sim::litmus::LitmusStrategy::Dfs).executions;
    }
    let executions_per_sec = executions as f64 / start.elapsed().as_secs_f64();
    // Measured as loom-bench measures both sides: a sample is whole explorations back
    // to back for at least LITMUS_BATCH, divided by their number.
    let mut samples = Vec::new();
    let mut dpor_executions = 0;
    for _ in 0..size.litmus_repetitions.max(1) {
        let start = Instant::now();
        let mut batch = 0u32;
        while batch == 0 || start.elapsed() < LITMUS_BATCH {
            dpor_executions =
                sim::litmus::run(test, MemoryModel::Tso, sim::litmus::LitmusStrategy::Dpor)
                    .executions;
            batch += 1;
        }
        samples.push(micros(start.elapsed()) / f64::from(batch));
    }
    LitmusResult {
        executions_per_sec,
        dpor_executions,
        dpor_us_per_exploration: median(samples),
        loom: loom_figures(),
    }
}

/// The whole benchmark.
pub fn run_all(size: &BenchSize, explore: Option<ExploreResult>) -> BenchReport {
    let mut notes = Vec::new();
    let transfer = transfer(size, &mut notes);
    let mix = mix(size, &mut notes);
    let scale = scale(size);
    let granularity = granularity(size);
    let litmus = litmus(size);
    BenchReport {
        kernel: size
            .kernel
            .unwrap_or(kernel_model::KernelOptions::default().version)
            .name(),
        transfer,
        mix,
        scale,
        granularity,
        explore,
        litmus,
        notes,
    }
}

/// The human table, with each target beside its figure.
pub fn render(report: &BenchReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "epsim bench — simulated kernel vs host kernel (medians; ratio = sim time / native time)"
    );
    let _ = writeln!(out, "simulated eventpoll.c: {}", report.kernel);
    let _ = writeln!(out, "\ntransfer (epwbench: N always-ready LT pipes, epoll_wait(N, 0)); target: sim ≤ 1.0× native per event");
    for t in &report.transfer {
        let _ = writeln!(
            out,
            "  N={:<5} native {:>9.2} µs/call {:>7.3} µs/event | sim {:>9.2} µs/call {:>7.3} µs/event | ratio {:>5.2} | f_op->poll per call {:.0}",
            t.n, t.native_us_per_call, t.native_us_per_event, t.sim_us_per_call, t.sim_us_per_event, t.ratio, t.sim_polls_per_call
        );
    }
    let m = &report.mix;
    let _ = writeln!(out, "\nmix (P=500 pipes, K=10 writes/round, epoll_wait(K, -1), read each); target: sim ≥ 2× native throughput");
    let _ = writeln!(
        out,
        "  native {:>12.0} events/s | sim {:>12.0} events/s | sim/native throughput {:>5.2}× | ratio {:.2}",
        m.native_events_per_sec,
        m.sim_events_per_sec,
        m.sim_events_per_sec / m.native_events_per_sec.max(f64::MIN_POSITIVE),
        m.ratio
    );
    let _ = writeln!(
        out,
        "  sim per round: ep_poll_callback {:.1} (the 2007 trees' pipe_read wakes pipe->wait too; 6.18 and a current host run K={}) | f_op->poll {:.1}",
        m.sim_callbacks_per_round, 10, m.sim_polls_per_round
    );
    let _ = writeln!(out, "\nscale (10 ready among N watched pipes, epoll_wait(10, 0)); targets: ≤ 1.3× growth 10→100k, ≤ 400 bytes/watch");
    let _ = writeln!(
        out,
        "  (bytes/watch: resident growth of the epoll_ctl ADDs alone, the figure the target is about; \
         bytes/watched pipe: the pipe itself as well)"
    );
    for s in &report.scale {
        let _ = writeln!(
            out,
            "  watched {:>7}: {:>8.3} µs/wait  {:>8.0} bytes/watch  {:>8.0} bytes/watched pipe",
            s.watched, s.sim_us_per_wait, s.bytes_per_watch, s.bytes_per_watched_pipe
        );
    }
    if let (Some(first), Some(last)) = (report.scale.first(), report.scale.last()) {
        let _ = writeln!(
            out,
            "  growth {}→{}: {:.2}×",
            first.watched,
            last.watched,
            last.sim_us_per_wait / first.sim_us_per_wait.max(f64::MIN_POSITIVE)
        );
    }
    let _ = writeln!(
        out,
        "\ngranularity (transfer N=200); target: access ≤ 10× syscall"
    );
    for g in &report.granularity {
        let _ = writeln!(
            out,
            "  {:<8} {:<4} {:>10.2} µs/call",
            g.granularity, g.model, g.sim_us_per_call
        );
    }
    if let Some(e) = &report.explore {
        let _ = writeln!(out, "\nexplore (seed-case-5-callback-race, access granularity, tso, random); target: ≥ 1.8× from 1 to 2 jobs");
        let _ = writeln!(
            out,
            "  jobs 1 {:>8.1} runs/s | jobs 2 {:>8.1} runs/s | speed-up {:.2}× (median of back-to-back pairs)",
            e.jobs1_runs_per_sec, e.jobs2_runs_per_sec, e.speedup
        );
    }
    let _ = writeln!(
        out,
        "\nlitmus (exhaustive SB under tso); target: ≥ 180k executions/s (10× loom 0.7)"
    );
    let _ = writeln!(
        out,
        "  {:>10.0} executions/s",
        report.litmus.executions_per_sec
    );
    let litmus = &report.litmus;
    let _ = writeln!(
        out,
        "\nSB under tso exhausted by --strategy dpor beside loom 0.7; target: ≥ 50× faster than loom"
    );
    let _ = writeln!(
        out,
        "  epsim dpor {:>4} executions {:>9.1} µs per exhaustive exploration",
        litmus.dpor_executions, litmus.dpor_us_per_exploration
    );
    match &litmus.loom {
        Some(loom) => {
            let ratio = loom.speedup.unwrap_or(loom.loom_us / loom.epsim_us);
            let _ = writeln!(
                out,
                "  loom-bench's alternating run (both sides measured alike; compare within it, \
                 as load moves figures between runs):\n  \
                 loom 0.7   {:>4} executions {:>9.1} µs | epsim dpor {:>4} executions {:>9.1} µs | \
                 {:.1}× faster{}",
                loom.loom_executions,
                loom.loom_us,
                loom.epsim_executions,
                loom.epsim_us,
                ratio,
                match (loom.speedup_lowest_pair, loom.pairs_at_target, loom.pairs) {
                    (Some(lowest), Some(at), Some(pairs)) => format!(
                        " (median of pairs; lowest pair {lowest:.1}×; {at} of {pairs} pairs ≥ 50×)"
                    ),
                    _ => String::new(),
                }
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  loom 0.7   not measured here: `cargo run --release -p loom-bench` measures it \
                 (beside dpor, alternating) and writes {LOOM_FIGURES}, which this command reads"
            );
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}
