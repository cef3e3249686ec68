//! The `epsim` binary, driven as a user would: outputs, JSON shapes, exit statuses.

use assert_cmd::cargo::cargo_bin_cmd;
use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

/// The binary, without a `RUST_LOG` of the environment (logs would go to stderr).
fn epsim() -> Command {
    let mut command = cargo_bin_cmd!("epsim");
    command.env_remove("RUST_LOG");
    command
}

/// Runs `epsim args`, expects status 2 and exactly one line on stderr starting with
/// `error: `; returns that line.
fn usage_error(args: &[&str]) -> String {
    let output = epsim().args(args).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "epsim {args:?}: {output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.lines().count(),
        1,
        "epsim {args:?}: stderr is not one line:\n{stderr}"
    );
    assert!(stderr.starts_with("error: "), "epsim {args:?}: {stderr}");
    assert!(output.stdout.is_empty(), "epsim {args:?}: wrote to stdout");
    stderr.trim_end().to_string()
}

fn litmus_json(args: &[&str]) -> Value {
    let output = epsim()
        .arg("litmus")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn no_arguments_narrates_seed_case_4() {
    let output = epsim().output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "deterministic simulator of Linux epoll",
        "seed-case-4-two-waiters",
        "granularity lock",
        // Rendered from the run's trace records, in kernel terms:
        "sys_epoll_wait()",
        "write_lock_irqsave(ep",
        "ep_events_transfer: steal the ready list onto txlist",
        "ep_poll: nothing ready, sleep on ep->wq",
        "try_to_wake_up(task2 waiter1) -> 1",
        "ep_send_events: re-splice txlist and injlist to the head of rdllist",
        // Repetitive set-up folded, then results and the hash:
        "repeat 49 more times",
        "waiter0: evs = epoll_wait(ep, 10, -1) = 10",
        "waiter1: evs = epoll_wait(ep, 10, -1) = 10",
        "Trace hash: ",
        "litmus",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(text.lines().count() < 400, "the demo should stay readable");
}

#[test]
fn litmus_human_output_is_herd_like() {
    epsim()
        .args(["litmus", "SB", "--model", "tso"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("Test SB Allowed"))
        .stdout(predicate::str::contains(
            "Condition exists (0:r0=0 /\\ 1:r0=0)",
        ))
        .stdout(predicate::str::contains("States 4"))
        .stdout(predicate::str::is_match(r"(?m)^ +\d+ \*>0:r0=0; 1:r0=0; x=1; y=1;$").unwrap())
        .stdout(predicate::str::is_match(r"(?m)^ +\d+ :>0:r0=1; 1:r0=1; x=1; y=1;$").unwrap())
        .stdout(predicate::str::contains(
            "Observation SB Sometimes  Allowed",
        ))
        .stdout(predicate::str::is_match(r"(?m)^Executions \d+ ").unwrap());
    epsim()
        .args(["litmus", "sb", "--model", "sc"])
        .assert()
        .success()
        .stdout(predicate::str::contains("States 3"))
        .stdout(predicate::str::contains("Observation SB Never  Forbidden"));
}

#[test]
fn litmus_json_has_the_stable_shape() {
    let json = litmus_json(&["SB", "--model", "tso"]);
    let object = json.as_object().unwrap();
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    let mut expected = [
        "test",
        "model",
        "strategy",
        "runs",
        "states",
        "condition",
        "verdict",
        "executions_per_sec",
    ];
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted, expected);
    assert_eq!(json["test"], "SB");
    assert_eq!(json["model"], "tso");
    assert_eq!(json["strategy"], "dfs");
    assert_eq!(json["condition"], "exists (0:r0=0 /\\ 1:r0=0)");
    assert_eq!(json["verdict"], "Allowed");
    assert!(json["executions_per_sec"].as_f64().unwrap() >= 0.0);
    let states = json["states"].as_array().unwrap();
    assert_eq!(states.len(), 4);
    let total: u64 = states.iter().map(|s| s["count"].as_u64().unwrap()).sum();
    assert_eq!(total, json["runs"].as_u64().unwrap());
    let weak = states
        .iter()
        .find(|s| s["state"]["0:r0"] == 0 && s["state"]["1:r0"] == 0)
        .expect("the SB weak outcome is reached under tso");
    assert_eq!(weak["state"]["x"], 1);
    assert!(weak["count"].as_u64().unwrap() > 0);

    let json = litmus_json(&["SB+mbs", "--model", "tso"]);
    assert_eq!(json["test"], "SB+mbs");
    assert_eq!(json["verdict"], "Forbidden");
}

#[test]
fn litmus_random_samples_the_requested_runs() {
    let json = litmus_json(&[
        "MP",
        "--model",
        "pso",
        "--strategy",
        "random",
        "--runs",
        "300",
        "--seed",
        "5",
    ]);
    assert_eq!(json["strategy"], "random");
    assert_eq!(json["runs"], 300);
    // Same seed, same states: the sample is deterministic.
    let again = litmus_json(&[
        "MP",
        "--model",
        "pso",
        "--strategy",
        "random",
        "--runs",
        "300",
        "--seed",
        "5",
    ]);
    assert_eq!(json["states"], again["states"]);
}

#[test]
fn litmus_all_agrees_with_the_expected_table() {
    let output = epsim().args(["litmus", "all"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("24 of 24 agree"), "{stdout}");
    assert!(!stdout.contains("DISAGREES"), "{stdout}");
    let rows = stdout
        .lines()
        .filter(|l| l.contains(" sc ") || l.contains(" tso ") || l.contains(" pso "))
        .count();
    assert_eq!(rows, 24, "{stdout}");

    let output = epsim()
        .args(["litmus", "all", "--model", "pso", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = json.as_array().unwrap();
    assert_eq!(results.len(), 8);
    assert!(results.iter().all(|r| r["model"] == "pso"));
}

#[test]
fn litmus_list_names_every_test() {
    let assert = epsim().args(["litmus", "--list"]).assert().success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    for name in ["SB", "SB+mbs", "MP", "MP+wmb+rmb", "LB", "2+2W", "R", "S"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name} missing from:\n{stdout}"
        );
    }
}

#[test]
fn unknown_litmus_test_lists_the_names() {
    let line = usage_error(&["litmus", "XYZ", "--model", "sc"]);
    assert!(line.contains("XYZ"), "{line}");
    assert!(line.contains("SB+mbs") && line.contains("2+2W"), "{line}");
}

#[test]
fn bad_litmus_options_exit_2_with_one_line() {
    let line = usage_error(&["litmus", "SB", "--model", "arm"]);
    assert!(
        line.contains("arm") && line.contains("sc, tso, pso"),
        "{line}"
    );
    let line = usage_error(&[
        "litmus",
        "SB",
        "--model",
        "tso",
        "--strategy",
        "random",
        "--runs",
        "0",
    ]);
    assert!(line.contains("--runs"), "{line}");
    usage_error(&["litmus", "SB"]);
    usage_error(&["litmus"]);
    usage_error(&["litmus", "SB", "--model", "tso", "--runs", "5"]);
    usage_error(&["litmus", "SB", "--model", "tso", "--strategy", "pct"]);
    usage_error(&[
        "litmus",
        "SB",
        "--model",
        "tso",
        "--runs",
        "-1",
        "--strategy",
        "random",
    ]);
}

#[test]
fn bad_run_options_exit_2_with_one_line() {
    let line = usage_error(&["config", "--model", "x86"]);
    assert!(line.contains("x86"), "{line}");
    let line = usage_error(&["config", "--cpus", "0"]);
    assert!(line.contains("--cpus"), "{line}");
    usage_error(&["config", "--cpus", "65"]);
    let line = usage_error(&["config", "--model", "tso"]);
    assert!(line.contains("--granularity access"), "{line}");
    usage_error(&["config", "--model", "pso", "--granularity", "lock"]);
    let line = usage_error(&["config", "--schedule", "not-a-schedule"]);
    assert!(line.contains("malformed schedule"), "{line}");
    usage_error(&["config", "--schedule", "v1.0123456789abcdef.!!!"]);
    usage_error(&["config", "--strategy", "replay"]);
    usage_error(&["config", "--kernel", "2.6.20"]);
    usage_error(&["config", "--granularity", "instruction"]);
    usage_error(&["config", "--strategy", "bfs"]);
    let line = usage_error(&["config", "--inject", "no-such-injection"]);
    assert!(line.contains("no-linked-check"), "{line}");
    usage_error(&["config", "--seed", "minus-one"]);
}

#[test]
fn clap_usage_errors_exit_2_with_one_line() {
    usage_error(&["no-such-subcommand"]);
    usage_error(&["--no-such-option"]);
    usage_error(&["litmus", "SB", "--model", "tso", "--no-such-option"]);
    usage_error(&["litmus", "--list", "SB"]);
}

#[test]
fn valid_run_options_are_shown() {
    epsim()
        .args([
            "config",
            "--cpus",
            "4",
            "--model",
            "tso",
            "--granularity",
            "access",
        ])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^cpus +4$").unwrap())
        .stdout(predicate::str::is_match(r"(?m)^model +tso$").unwrap())
        .stdout(predicate::str::is_match(r"(?m)^strategy +timed$").unwrap());
    let output = epsim()
        .args([
            "config",
            "--kernel",
            "2.6.21",
            "--strategy",
            "pct",
            "--seed",
            "9",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["kernel"], "2.6.21");
    assert_eq!(json["strategy"], "pct");
    assert_eq!(json["seed"], 9);
    assert_eq!(json["cpus"], 2);
    assert_eq!(json["model"], "sc");
    assert_eq!(json["granularity"], "syscall");
    assert_eq!(json["inject"], serde_json::json!([]));

    let output = epsim()
        .args([
            "config",
            "--inject",
            "no-linked-check",
            "--inject",
            "no-smp-mb",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        json["inject"],
        serde_json::json!(["no-linked-check", "no-smp-mb"])
    );
}

#[test]
fn a_schedule_string_is_decoded() {
    let schedule = sim::Schedule::new(0x0123_4567_89ab_cdef).encode();
    let output = epsim()
        .args(["config", "--schedule", &schedule, "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["strategy"], "replay");
    assert_eq!(json["schedule"]["config_hash"], "0123456789abcdef");
    assert_eq!(json["schedule"]["decisions"], 0);
}

#[test]
fn every_subcommand_has_help_with_examples() {
    for args in [
        vec!["--help"],
        vec!["litmus", "--help"],
        vec!["config", "--help"],
        vec!["help", "litmus"],
        vec!["help", "config"],
        vec!["run", "--help"],
        vec!["replay", "--help"],
        vec!["explore", "--help"],
        vec!["list", "--help"],
        vec!["gen", "--help"],
        vec!["gen", "stress", "--help"],
        vec!["gen", "bench", "--help"],
        vec!["bench", "--help"],
        vec!["campaign", "--help"],
        vec!["merge", "--help"],
    ] {
        epsim()
            .args(&args)
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage: epsim"))
            .stdout(predicate::str::contains("Examples:"));
    }
    epsim()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("epsim "));
}

/// Every numeric option of every subcommand, given a value outside its range (or no
/// number at all), is a one-line usage error naming the option and saying the valid
/// range — never a panic (`--time-limit 1e19` overflowed a Duration), an abort
/// (`--jobs 99999999999` tried to start that many threads) or a silent wrap.
#[test]
fn every_numeric_option_is_range_checked() {
    let huge = "99999999999999999999999"; // above u64::MAX
    #[rustfmt::skip]
    let cases: &[(&[&str], &str, &[&str])] = &[
        (&["explore", "lt-basics"], "--runs", &["0", "1000000000001", "-3", "x", huge]),
        (&["explore", "lt-basics"], "--jobs", &["0", "257", "99999999999", "-1", huge]),
        (&["explore", "lt-basics"], "--time-limit", &["0", "-1", "1e19", "nan", "inf", "31536001"]),
        (&["explore", "lt-basics"], "--preemption-bound", &["-1", "1001", "x", "nones", huge]),
        (&["explore", "lt-basics"], "--delay-bound", &["-1", "100001", "x", huge]),
        (&["explore", "lt-basics"], "--seed", &["-1", "18446744073709551616", "1.5"]),
        (&["explore", "lt-basics"], "--cpus", &["0", "65", "-2", huge]),
        (&["run", "lt-basics"], "--seed", &["-1", huge]),
        (&["run", "lt-basics"], "--cpus", &["0", "65"]),
        (&["replay", "lt-basics", "--schedule", "v1.0000000000000000.AA"], "--cpus", &["0", "65"]),
        (&["config"], "--cpus", &["0", "65", huge]),
        (&["config"], "--seed", &["-5", huge]),
        (&["gen", "stress"], "--pipes", &["0", "10001", "-1"]),
        (&["gen", "stress"], "--threads", &["0", "257"]),
        (&["gen", "stress"], "--tokens", &["65537", "-1", huge]),
        (&["gen", "stress"], "--maxevents", &["0", "100001"]),
        (&["gen", "stress"], "--duration-ms", &["0", "60001", "99999999999999"]),
        (&["gen", "stress"], "--timeout-ms", &["60001", "-1"]),
        (&["gen", "stress"], "--cpus", &["0", "65"]),
        (&["gen", "stress"], "--seed", &["-1"]),
        (&["gen", "bench"], "--pipes", &["0", "100001"]),
        (&["gen", "bench"], "--writes", &["0", "100001"]),
        (&["gen", "bench"], "--loops", &["0", "1000001"]),
        (&["litmus", "SB", "--model", "tso", "--strategy", "random"], "--runs", &["0", "1000000000001", "-1"]),
        (&["litmus", "SB", "--model", "tso", "--strategy", "random"], "--seed", &["-1", huge]),
        (&["campaign"], "--runs", &["0", "1000000000001", "-1", huge]),
        (&["campaign"], "--jobs", &["0", "257", huge]),
        (&["campaign"], "--budget-s", &["0", "-1", "1e19", "nan"]),
    ];
    for (command, option, values) in cases {
        for value in *values {
            let args = [*command, &[*option, *value]].concat();
            let line = usage_error(&args);
            assert!(line.contains(option), "epsim {args:?}: {line}");
            assert!(
                line.contains(" from ") || line.contains(" at most "),
                "epsim {args:?}: the message does not say the range: {line}"
            );
        }
    }
    for shard in ["1/0", "2/2", "x/2", "0/99999999999999999999999", "1"] {
        let line = usage_error(&["explore", "lt-basics", "--shard", shard]);
        assert!(line.contains("--shard") && line.contains('N'), "{line}");
        let line = usage_error(&["campaign", "--shard", shard]);
        assert!(line.contains("--shard") && line.contains('N'), "{line}");
    }
}
