//! SB (store buffering) exhausted by loom 0.7 and by epsim's DPOR under tso, side by
//! side: `cargo run --release -p loom-bench`.
//!
//! The program loom checks is the litmus test `epsim litmus SB --model tso` runs: two
//! threads, each stores 1 to its own variable then loads the other's (relaxed atomics, the
//! weakest ordering loom models, under which the weak outcome r0 = r1 = 0 is allowed as
//! under x86-TSO). loom explores every execution its C11 model allows; epsim's DPOR every
//! equivalence class of the tso machine's interleavings. Both find the four outcomes.
//!
//! Both sides are measured the same way: a *sample* is a batch of whole exhaustive
//! explorations run back to back until the batch has lasted at least `BATCH_MS`
//! milliseconds, divided by its size (so that neither side's sample is one scheduler tick
//! on a shared machine). Samples come in `PAIRS` pairs, one of each side back to back,
//! the side that goes first alternating; the figures are the median sample of each side
//! and the median over pairs of the pair's ratio (a pair sees one moment's machine load,
//! so its ratio is what load moves least). The lowest pair's ratio is printed too. The
//! result is also written to `target/loom-bench.json`, where `epsim bench` reads it to
//! print it beside its own.

// A benchmark measures wall-clock time; the determinism lints are for `sim` and `kernel-model`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::sync::Arc;
use loom::thread;
use sim::litmus::{self, LitmusStrategy};
use sim::MemoryModel;

/// Pairs of samples (one per side each).
const PAIRS: usize = 31;
/// The least wall-clock time of one sample's batch.
const BATCH_MS: u64 = 20;
/// The speed-up the issue asks for.
const TARGET: f64 = 50.0;

static EXECUTIONS: StdAtomicUsize = StdAtomicUsize::new(0);
static OUTCOMES: Mutex<BTreeSet<(usize, usize)>> = Mutex::new(BTreeSet::new());

/// One execution of SB under loom.
fn sb() {
    EXECUTIONS.fetch_add(1, StdOrdering::Relaxed);
    let x = Arc::new(AtomicUsize::new(0));
    let y = Arc::new(AtomicUsize::new(0));
    let (x1, y1) = (x.clone(), y.clone());
    let p1 = thread::spawn(move || {
        y1.store(1, Relaxed);
        x1.load(Relaxed)
    });
    x.store(1, Relaxed);
    let r0 = y.load(Relaxed);
    let r1 = p1.join().expect("P1 does not panic");
    OUTCOMES
        .lock()
        .expect("no panic while holding it")
        .insert((r0, r1));
}

/// One exhaustive loom exploration: (executions, outcomes).
fn loom_once() -> (usize, usize) {
    EXECUTIONS.store(0, StdOrdering::Relaxed);
    OUTCOMES.lock().expect("not poisoned").clear();
    loom::model(sb);
    let outcomes = OUTCOMES.lock().expect("not poisoned").len();
    (EXECUTIONS.load(StdOrdering::Relaxed), outcomes)
}

/// One exhaustive epsim DPOR exploration of SB under tso: (executions, outcomes).
fn epsim_once() -> (usize, usize) {
    let test = litmus::find("SB").expect("SB is built in");
    let result = litmus::run(test, MemoryModel::Tso, LitmusStrategy::Dpor);
    (result.executions as usize, result.states.len())
}

/// One sample: explorations back to back until `BATCH_MS` have passed; the seconds per
/// exploration and the last exploration's (executions, outcomes).
fn sample(explore: fn() -> (usize, usize)) -> (f64, (usize, usize)) {
    let start = Instant::now();
    let mut count = 0u32;
    let mut last;
    loop {
        last = explore();
        count += 1;
        if start.elapsed() >= Duration::from_millis(BATCH_MS) {
            break;
        }
    }
    (start.elapsed().as_secs_f64() / f64::from(count), last)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[derive(serde::Serialize)]
struct Figures {
    test: &'static str,
    loom_version: &'static str,
    method: String,
    loom_executions: usize,
    loom_outcomes: usize,
    /// Median sample, µs per exhaustive exploration.
    loom_us: f64,
    epsim_executions: usize,
    epsim_outcomes: usize,
    epsim_us: f64,
    /// Median over pairs of loom's sample over epsim's.
    speedup: f64,
    /// The lowest pair's ratio, and how many pairs reached the target.
    speedup_lowest_pair: f64,
    pairs_at_target: usize,
    pairs: usize,
}

fn main() {
    // Warm both up (allocator, caches) before the first sample.
    sample(loom_once);
    sample(epsim_once);
    let (mut loom_times, mut epsim_times, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut loom_counts, mut epsim_counts) = ((0, 0), (0, 0));
    for pair in 0..PAIRS {
        let (loom, epsim) = if pair % 2 == 0 {
            let loom = sample(loom_once);
            (loom, sample(epsim_once))
        } else {
            let epsim = sample(epsim_once);
            (sample(loom_once), epsim)
        };
        loom_counts = loom.1;
        epsim_counts = epsim.1;
        loom_times.push(loom.0);
        epsim_times.push(epsim.0);
        ratios.push(loom.0 / epsim.0);
    }
    let lowest = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let at_target = ratios.iter().filter(|&&r| r >= TARGET).count();
    let figures = Figures {
        test: "SB",
        loom_version: "0.7",
        method: format!(
            "median of {PAIRS} alternating pairs of samples; a sample is whole explorations \
             back to back for at least {BATCH_MS} ms, divided by their number"
        ),
        loom_executions: loom_counts.0,
        loom_outcomes: loom_counts.1,
        loom_us: median(loom_times) * 1e6,
        epsim_executions: epsim_counts.0,
        epsim_outcomes: epsim_counts.1,
        epsim_us: median(epsim_times) * 1e6,
        speedup: median(ratios),
        speedup_lowest_pair: lowest,
        pairs_at_target: at_target,
        pairs: PAIRS,
    };
    println!(
        "SB exhausted, wall clock per whole exploration ({}):",
        figures.method
    );
    println!(
        "  loom 0.7 (relaxed atomics)   {:>4} executions, {} outcomes, {:>9.1} µs",
        figures.loom_executions, figures.loom_outcomes, figures.loom_us
    );
    println!(
        "  epsim dpor (tso)             {:>4} executions, {} outcomes, {:>9.1} µs",
        figures.epsim_executions, figures.epsim_outcomes, figures.epsim_us
    );
    println!(
        "  epsim is {:.1}× faster (median of pairs; lowest pair {:.1}×; {} of {} pairs ≥ {TARGET}×)",
        figures.speedup, figures.speedup_lowest_pair, figures.pairs_at_target, figures.pairs
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/loom-bench.json");
    match serde_json::to_string_pretty(&figures) {
        Ok(json) => match std::fs::write(path, json + "\n") {
            Ok(()) => println!("(written to target/loom-bench.json, which `epsim bench` reads)"),
            Err(e) => eprintln!("cannot write {path}: {e}"),
        },
        Err(e) => eprintln!("cannot encode the figures: {e}"),
    }
}
