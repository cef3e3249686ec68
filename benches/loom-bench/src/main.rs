//! SB (store buffering) exhausted by loom 0.7 and by epsim's DPOR under tso, side by
//! side: `cargo run --release -p loom-bench`.
//!
//! The program loom checks is the litmus test `epsim litmus SB --model tso` runs: two
//! threads, each stores 1 to its own variable then loads the other's (relaxed atomics, the
//! weakest ordering loom models, under which the weak outcome r0 = r1 = 0 is allowed as
//! under x86-TSO). loom explores every execution its C11 model allows; epsim's DPOR every
//! equivalence class of the tso machine's interleavings. Both find the four outcomes.
//!
//! Each figure is the wall-clock time of one whole exhaustive exploration: the median over
//! `REPETITIONS` samples, alternating the two, each sample a batch of explorations lasting
//! a few milliseconds (`LOOM_BATCH`, `EPSIM_BATCH`) divided by its size, so that on a
//! shared machine a sample is not one scheduler tick. The result is also written to
//! `target/loom-bench.json`, where `epsim bench` reads loom's figure to print it beside
//! its own.

// A benchmark measures wall-clock time; the determinism lints are for `sim` and `kernel-model`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::sync::Mutex;
use std::time::Instant;

use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::sync::Arc;
use loom::thread;
use sim::litmus::{self, LitmusStrategy};
use sim::MemoryModel;

const REPETITIONS: usize = 31;
const LOOM_BATCH: usize = 4;
const EPSIM_BATCH: usize = 200;

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

/// One exhaustive loom exploration: (executions, outcomes, seconds).
fn loom_once() -> (usize, usize, f64) {
    EXECUTIONS.store(0, StdOrdering::Relaxed);
    OUTCOMES.lock().expect("not poisoned").clear();
    let start = Instant::now();
    loom::model(sb);
    let seconds = start.elapsed().as_secs_f64();
    let outcomes = OUTCOMES.lock().expect("not poisoned").len();
    (EXECUTIONS.load(StdOrdering::Relaxed), outcomes, seconds)
}

/// One exhaustive epsim DPOR exploration of SB under tso.
fn epsim_once() -> (usize, usize, f64) {
    let test = litmus::find("SB").expect("SB is built in");
    let start = Instant::now();
    let result = litmus::run(test, MemoryModel::Tso, LitmusStrategy::Dpor);
    let seconds = start.elapsed().as_secs_f64();
    (result.executions as usize, result.states.len(), seconds)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[derive(serde::Serialize)]
struct Figures {
    test: &'static str,
    loom_version: &'static str,
    loom_executions: usize,
    loom_outcomes: usize,
    loom_us: f64,
    epsim_executions: usize,
    epsim_outcomes: usize,
    epsim_us: f64,
    speedup: f64,
}

fn main() {
    let (mut loom_times, mut epsim_times) = (Vec::new(), Vec::new());
    let (mut loom_counts, mut epsim_counts) = ((0, 0), (0, 0));
    for _ in 0..REPETITIONS {
        let mut total = 0.0;
        for _ in 0..LOOM_BATCH {
            let (executions, outcomes, seconds) = loom_once();
            loom_counts = (executions, outcomes);
            total += seconds;
        }
        loom_times.push(total / LOOM_BATCH as f64);
        let mut total = 0.0;
        for _ in 0..EPSIM_BATCH {
            let (executions, outcomes, seconds) = epsim_once();
            epsim_counts = (executions, outcomes);
            total += seconds;
        }
        epsim_times.push(total / EPSIM_BATCH as f64);
    }
    let loom_us = median(loom_times) * 1e6;
    let epsim_us = median(epsim_times) * 1e6;
    let figures = Figures {
        test: "SB",
        loom_version: "0.7",
        loom_executions: loom_counts.0,
        loom_outcomes: loom_counts.1,
        loom_us,
        epsim_executions: epsim_counts.0,
        epsim_outcomes: epsim_counts.1,
        epsim_us,
        speedup: loom_us / epsim_us,
    };
    println!(
        "SB exhausted (wall clock per exploration, median of {REPETITIONS} batches of \
         {LOOM_BATCH} (loom) and {EPSIM_BATCH} (epsim)):"
    );
    println!(
        "  loom 0.7 (relaxed atomics)   {:>4} executions, {} outcomes, {:>9.1} µs",
        figures.loom_executions, figures.loom_outcomes, figures.loom_us
    );
    println!(
        "  epsim dpor (tso)             {:>4} executions, {} outcomes, {:>9.1} µs",
        figures.epsim_executions, figures.epsim_outcomes, figures.epsim_us
    );
    println!("  epsim is {:.1}× faster", figures.speedup);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/loom-bench.json");
    match serde_json::to_string_pretty(&figures) {
        Ok(json) => match std::fs::write(path, json + "\n") {
            Ok(()) => println!("(written to target/loom-bench.json, which `epsim bench` reads)"),
            Err(e) => eprintln!("cannot write {path}: {e}"),
        },
        Err(e) => eprintln!("cannot encode the figures: {e}"),
    }
}
