//! A run's memory does not grow with its length: `epsim run` of a 5M-step scenario
//! (the default step budget) without trace output stays under 100 MB resident. It kept
//! every system call's result, about 250 bytes a step (1.3 GB here); now a run of
//! identical calls is kept once with a count, and at most
//! `workloads::scenario::results::CALL_RUNS_MAX` runs of calls are kept at all.
//!
//! The child's peak resident set comes from `getrusage(RUSAGE_CHILDREN)`. The debug binary
//! takes some seconds for 5M steps — one `fcntl` per step, the cheapest call to
//! interpret — which is why this is the only long run in the tests.

#![cfg(target_os = "linux")]

use std::process::{Command, Stdio};

/// The budget the test holds the run to.
const RESIDENT_MAX_BYTES: u64 = 100 << 20;

/// 5M steps: one system call each, until the default step budget (5 000 000) runs out.
const LONG_RUN: &str = "scenario long-run
description \"a loop of system calls longer than the default step budget\"
cpus 1
process app {
    task main on cpu 0 {
        ep = epoll_create(1)
        repeat 10000000 {
            n = fcntl(ep, F_GETFL)
        }
    }
}
";

/// Runs `epsim ARGS` to the end; returns its exit code, its stdout and its peak
/// resident set in bytes. The peak is `getrusage(RUSAGE_CHILDREN)`'s `ru_maxrss`: the
/// largest of the children waited for, and this test binary has no other child.
fn run_measured(args: &[&str], stdout_path: &std::path::Path) -> (i32, String, u64) {
    let stdout = std::fs::File::create(stdout_path).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_epsim"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .status()
        .unwrap();
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a valid pointer to a rusage.
    let done = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(done, 0, "getrusage failed");
    let output = std::fs::read_to_string(stdout_path).unwrap();
    // ru_maxrss is in kilobytes on Linux.
    let resident_bytes = usage.ru_maxrss as u64 * 1024;
    let code = status
        .code()
        .expect("epsim exited (not killed by a signal)");
    (code, output, resident_bytes)
}

#[test]
fn a_five_million_step_run_stays_under_100_mb_resident() {
    let dir = std::env::temp_dir().join(format!("epsim-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("long-run.scn");
    std::fs::write(&scenario, LONG_RUN).unwrap();
    let (code, output, resident_bytes) =
        run_measured(&["run", scenario.to_str().unwrap()], &dir.join("out.txt"));
    std::fs::remove_dir_all(&dir).ok();
    // It ran 5M steps: the budget ran out, after 4 999 999 `fcntl` calls.
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("the step budget of 5000000 steps ran out")
            && output.contains("the line above repeats 4999998 more times exactly"),
        "{output}"
    );
    assert!(
        resident_bytes < RESIDENT_MAX_BYTES,
        "peak resident set {} MB after 5M steps (at most {} MB)\n{output}",
        resident_bytes >> 20,
        RESIDENT_MAX_BYTES >> 20
    );
}
