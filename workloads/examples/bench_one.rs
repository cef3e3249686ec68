//! One simulated bench workload, for profilers: `cargo run --release -p workloads
//! --example bench_one -- transfer|transfer2000|mix|lock|access|explore1|explore2|scale [count]`.

// A benchmark driver: it measures wall-clock time around the simulated workloads.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use sim::{AccessSteps, LockSteps, MemoryModel, SyscallSteps};
use workloads::bench::simulated;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map(String::as_str).unwrap_or("mix");
    let count: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let start = std::time::Instant::now();
    match which {
        "transfer" => {
            let calls = if count == 0 { 20_000 } else { count };
            let m = simulated::transfer::<SyscallSteps>(200, calls, MemoryModel::Sc, None);
            println!(
                "{:.3} us/call",
                m.elapsed.as_secs_f64() * 1e6 / calls as f64
            );
        }
        "transfer2000" => {
            let calls = if count == 0 { 2_000 } else { count };
            let m = simulated::transfer::<SyscallSteps>(2000, calls, MemoryModel::Sc, None);
            println!(
                "{:.3} us/call",
                m.elapsed.as_secs_f64() * 1e6 / calls as f64
            );
        }
        "mix" => {
            let rounds = if count == 0 { 200_000 } else { count };
            let pipes = std::env::var("MIX_PIPES")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(500);
            let m = simulated::mix(pipes, 10, rounds, 7, None);
            println!(
                "{:.0} events/s",
                m.delivered as f64 / m.elapsed.as_secs_f64()
            );
        }
        "lock" => {
            let calls = if count == 0 { 2_000 } else { count };
            let m = simulated::transfer::<LockSteps>(200, calls, MemoryModel::Sc, None);
            println!(
                "{:.3} us/call",
                m.elapsed.as_secs_f64() * 1e6 / calls as f64
            );
        }
        "access" => {
            let calls = if count == 0 { 500 } else { count };
            let m = simulated::transfer::<AccessSteps>(200, calls, MemoryModel::Tso, None);
            println!(
                "{:.3} us/call",
                m.elapsed.as_secs_f64() * 1e6 / calls as f64
            );
        }
        "explore1" | "explore2" => {
            let jobs = if which == "explore1" { 1 } else { 2 };
            let runs = if count == 0 { 400 } else { count };
            let rate = workloads::explore_cmd::bench_runs_per_sec(jobs, runs);
            println!("{rate:.1} runs/s");
        }
        "scale" => {
            let watched = if count == 0 { 100_000 } else { count as usize };
            let calls = 20_000;
            let (m, memory) = simulated::scale(watched, 10.min(watched), calls, None);
            // The ≤ 400 bytes target is about the watch alone (the epoll_ctl ADDs over
            // pipes made before); the watched pipe adds the pipe itself.
            println!(
                "{:.3} us/wait, {:.0} bytes/watch (target ≤ 400), {:.0} bytes/watched pipe",
                m.elapsed.as_secs_f64() * 1e6 / calls as f64,
                memory.watches as f64 / watched as f64,
                (memory.pipes + memory.watches) as f64 / watched as f64
            );
        }
        other => panic!("unknown workload {other}"),
    }
    eprintln!("total {:.2}s", start.elapsed().as_secs_f64());
}
