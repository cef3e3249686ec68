//! Fuzzes the scenario parser and interpreter (`workloads::scenario::fuzz`):
//!
//! ```text
//! cargo run --release -p workloads --example fuzz_scenarios -- --inputs 100000 --seed 1
//! ```
//!
//! Options: `--inputs N` (100000), `--seed S` (1: the same seed gives the same inputs),
//! `--max-steps N` (20000, each run's step budget), `--save-dir DIR`
//! (target/fuzz-scenarios: inputs with a finding, and the input running), `--timeout-secs
//! N` (60: longer on one input is a hang). Prints inputs/s and the counts of outcomes;
//! exit status 0 without findings, 1 with findings, 2 on a usage error, 3 on a hang.

// A developer's tool: it reports wall-clock rates and runs a watchdog thread.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Duration;

use workloads::scenario::fuzz::{self, FuzzOptions};

fn usage(message: &str) -> ! {
    eprintln!("fuzz_scenarios: {message} (options: --inputs N --seed S --max-steps N --save-dir DIR --timeout-secs N)");
    std::process::exit(2);
}

fn main() {
    let mut options = FuzzOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            usage(&format!("{flag} needs a value"));
        };
        let number = || -> u64 {
            value
                .parse()
                .unwrap_or_else(|_| usage(&format!("{flag} takes a number, found {value:?}")))
        };
        match flag.as_str() {
            "--inputs" => options.inputs = number(),
            "--seed" => options.seed = number(),
            "--max-steps" => options.max_steps = number().max(1),
            "--timeout-secs" => options.input_timeout = Duration::from_secs(number().max(1)),
            "--save-dir" => options.save_dir = value.into(),
            _ => usage(&format!("unknown option {flag}")),
        }
    }
    println!(
        "fuzzing the scenario parser and interpreter: {} inputs, seed {}, max steps {}",
        options.inputs, options.seed, options.max_steps
    );
    let summary = fuzz::run(&options, &mut |so_far| {
        eprintln!(
            "  ... {} inputs, {:.0}/s, {} findings",
            so_far.inputs,
            so_far.inputs_per_second(),
            so_far.findings.len()
        )
    })
    .unwrap_or_else(|error| {
        eprintln!("fuzz_scenarios: {}: {error}", options.save_dir.display());
        std::process::exit(2);
    });
    println!("{}", summary.describe());
    std::process::exit(if summary.findings.is_empty() { 0 } else { 1 });
}
