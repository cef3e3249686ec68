//! Import and replay speed of the shipped strace recordings, in strace lines per second
//! of this process's CPU time (and of wall time), beside the target of 100,000
//! lines/s on one core: `cargo run --release -p workloads --example replay_bench
//! [-- --repeat N] [FILE.strace ...]`.
//!
//! Each recording is replayed `--repeat` times (default 5) as `epsim replay FILE --json`
//! does it (import — the scenario's text and its parsed form written together, so
//! nothing is parsed — run it on its header's kernel, compare every result); the best
//! run is shown, with its phases. CPU time is what one core did for this
//! process, so the figure holds on a loaded machine where wall time does not.

// A benchmark driver: it measures time around the replay.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::{Duration, Instant};

use clap::Parser;
use workloads::cli::{Cli, Command};
use workloads::session::{self, Capture};
use workloads::strace::{self, ImportOptions};

/// The target.
const TARGET_LINES_PER_SEC: f64 = 100_000.0;

/// This process's CPU time (user and system, every thread).
fn cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write; CLOCK_PROCESS_CPUTIME_ID always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

#[derive(Clone, Copy, Default)]
struct Phases {
    import: Duration,
    run: Duration,
    total_cpu: Duration,
    total_wall: Duration,
}

fn measure(path: &str, text: &str) -> Phases {
    let mut p = Phases::default();
    // The phases, one by one (CPU time).
    let t0 = cpu_time();
    let import = strace::import(text, path, &ImportOptions::default()).expect("imports");
    let t2 = cpu_time();
    let scenario = &import.scenario;
    let args = match Cli::parse_from(["epsim", "replay", path, "--json"]).command {
        Some(Command::Replay(args)) => args,
        _ => unreachable!("a replay command"),
    };
    let resolved = session::resolve(scenario, &args.common).expect("resolves");
    let run = session::execute_resolved(scenario, &resolved, Capture::Results).expect("runs");
    let t3 = cpu_time();
    drop((run, import));
    p.import = t2 - t0;
    p.run = t3 - t2;
    // The whole command as `epsim replay FILE --json` runs it.
    let mut sink = Vec::new();
    let wall = Instant::now();
    let c0 = cpu_time();
    workloads::import_cmd::replay(&args, text, &mut sink).expect("replays");
    p.total_cpu = cpu_time() - c0;
    p.total_wall = wall.elapsed();
    p
}

fn main() {
    let mut repeat = 5usize;
    let mut files: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--repeat" {
            repeat = args
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|&n| n > 0)
                .expect("--repeat N (N >= 1)");
        } else {
            files.push(arg);
        }
    }
    if files.is_empty() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/recordings");
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .expect("workloads/recordings")
            .filter_map(|e| e.ok())
            .map(|e| e.path().display().to_string())
            .filter(|p| p.ends_with(".strace"))
            .collect();
        found.sort();
        files = found;
    }
    println!(
        "{:<28} {:>7} {:>9} {:>9} {:>9} {:>12} {:>12} {:>8}",
        "recording", "lines", "import", "run", "replay", "lines/s CPU", "lines/s wall", "target"
    );
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a readable recording");
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        let best = (0..repeat)
            .map(|_| measure(&path, &text))
            .min_by_key(|p| p.total_cpu)
            .expect("at least one run");
        let per_sec = |d: Duration| lines as f64 / d.as_secs_f64().max(1e-9);
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        let cpu_rate = per_sec(best.total_cpu);
        println!(
            "{:<28} {:>7} {:>9} {:>9} {:>9} {:>12.0} {:>12.0} {:>8}",
            path.rsplit('/').next().unwrap_or(&path),
            lines,
            ms(best.import),
            ms(best.run),
            ms(best.total_cpu),
            cpu_rate,
            per_sec(best.total_wall),
            if cpu_rate >= TARGET_LINES_PER_SEC {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    println!(
        "target: {TARGET_LINES_PER_SEC:.0} lines/s of import + replay on one core (CPU time; best of {repeat})"
    );
}
