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
//!
//! A recording whose replay needs the placement search (`redis-clients`) is shown twice:
//! as `epsim replay FILE` runs it (the search's runs included: each imports and runs the
//! whole recording again; not what the target counts), and with the placement the
//! search found given (`--place P`): import and one replay, which is what the target is.

// A benchmark driver: it measures time around the replay.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::{Duration, Instant};

use clap::Parser;
use workloads::cli::{Cli, Command};
use workloads::session::{self, Capture};
use workloads::strace::placement::Placement;
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

fn measure(path: &str, text: &str, place: Option<&str>) -> (Phases, String) {
    let mut p = Phases::default();
    // The phases, one by one (CPU time).
    let t0 = cpu_time();
    let options = ImportOptions {
        placement: place
            .map(|p| Placement::parse(p).expect("a placement"))
            .unwrap_or_default(),
        ..ImportOptions::default()
    };
    let import = strace::import(text, path, &options).expect("imports");
    let t2 = cpu_time();
    let scenario = &import.scenario;
    let mut argv = vec!["epsim", "replay", path, "--json"];
    if let Some(place) = place {
        argv.extend(["--place", place]);
    }
    let args = match Cli::parse_from(argv).command {
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
    (p, String::from_utf8(sink).expect("JSON is UTF-8"))
}

/// The placement and the number of search runs in `epsim replay --json`'s output, when
/// the replay searched (more than one run).
fn searched_placement(json: &str) -> Option<(String, u64)> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let runs = value.get("placement_runs")?.as_u64()?;
    let placement = value.get("placement")?.as_str()?;
    (runs > 1).then(|| (placement.to_string(), runs))
}

/// The best of `repeat` measurements, and the JSON of one.
fn best_of(repeat: usize, path: &str, text: &str, place: Option<&str>) -> (Phases, String) {
    let runs: Vec<(Phases, String)> = (0..repeat).map(|_| measure(path, text, place)).collect();
    let json = runs[0].1.clone();
    let best = runs
        .into_iter()
        .map(|(p, _)| p)
        .min_by_key(|p| p.total_cpu)
        .expect("at least one run");
    (best, json)
}

fn print_row(name: &str, lines: usize, best: &Phases, counted: bool) {
    let per_sec = |d: Duration| lines as f64 / d.as_secs_f64().max(1e-9);
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    let cpu_rate = per_sec(best.total_cpu);
    let verdict = match (counted, cpu_rate >= TARGET_LINES_PER_SEC) {
        (false, _) => "-",
        (true, true) => "met",
        (true, false) => "MISSED",
    };
    println!(
        "{:<40} {:>7} {:>9} {:>9} {:>9} {:>12.0} {:>12.0} {:>8}",
        name,
        lines,
        ms(best.import),
        ms(best.run),
        ms(best.total_cpu),
        cpu_rate,
        per_sec(best.total_wall),
        verdict
    );
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
        "{:<40} {:>7} {:>9} {:>9} {:>9} {:>12} {:>12} {:>8}",
        "recording", "lines", "import", "run", "replay", "lines/s CPU", "lines/s wall", "target"
    );
    let mut searched = false;
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a readable recording");
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        let (best, json) = best_of(repeat, &path, &text, None);
        match searched_placement(&json) {
            None => print_row(&name, lines, &best, true),
            Some((placement, runs)) => {
                searched = true;
                print_row(
                    &format!("{name} (search, {runs} runs)"),
                    lines,
                    &best,
                    false,
                );
                let (placed, _) = best_of(repeat, &path, &text, Some(&placement));
                print_row(&format!("{name} (--place given)"), lines, &placed, true);
            }
        }
    }
    if searched {
        println!(
            "(search: `epsim replay FILE` with its placement search, each run an import and a replay; \
             --place given: the placement it found, one import and one replay)"
        );
    }
    println!(
        "target: {TARGET_LINES_PER_SEC:.0} lines/s of import + replay on one core (CPU time; best of {repeat})"
    );
}
