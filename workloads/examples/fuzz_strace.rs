//! Fuzzes the strace importer (`workloads::strace::fuzz`) with mutated recordings of
//! `workloads/recordings/`:
//!
//! ```text
//! cargo run --release -p workloads --example fuzz_strace -- --inputs 20000 --seed 1
//! ```
//!
//! Each input is a recording with one to four mutations (lines deleted, duplicated,
//! swapped or cut; brackets, quotes, markers and numbers inserted; digits changed). It
//! must import into a scenario that parses, or be refused with one line naming
//! `file:line:col`; a panic is a finding. Exit status 0 without findings, 1 with.

// A developer's tool: it reports wall-clock rates.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Instant;

fn main() {
    let mut inputs = 20_000u64;
    let mut seed = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            eprintln!("fuzz_strace: {flag} needs a number (options: --inputs N --seed S)");
            std::process::exit(2)
        });
        match flag.as_str() {
            "--inputs" => inputs = value,
            "--seed" => seed = value,
            _ => {
                eprintln!("fuzz_strace: unknown option {flag} (options: --inputs N --seed S)");
                std::process::exit(2)
            }
        }
    }
    let recordings = [
        (
            "selectors-mix.strace",
            include_str!("../recordings/selectors-mix.strace"),
        ),
        (
            "et-threads.strace",
            include_str!("../recordings/et-threads.strace"),
        ),
        (
            "node-echo.strace",
            include_str!("../recordings/node-echo.strace"),
        ),
        (
            "asyncio-echo.strace",
            include_str!("../recordings/asyncio-echo.strace"),
        ),
        (
            "joined-echo.strace",
            include_str!("../recordings/joined-echo.strace"),
        ),
        (
            "joined-tcp.strace",
            include_str!("../tests/strace/joined-tcp.strace"),
        ),
    ];
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let summary = workloads::strace::fuzz::run(&recordings, inputs, seed);
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} inputs ({:.0}/s): {} imported, {} refused with a one-line error, {} findings",
        summary.inputs,
        summary.inputs as f64 / seconds.max(1e-9),
        summary.imported,
        summary.refused,
        summary.findings.len()
    );
    for finding in summary.findings.iter().take(20) {
        println!("  {finding}");
    }
    std::process::exit(i32::from(!summary.findings.is_empty()));
}
