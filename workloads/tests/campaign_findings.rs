//! What `epsim campaign` found that no earlier exploration had, pinned (docs/findings.md):
//! each test replays the pinned schedule strictly and asserts what the finding is, and
//! derives the schedule again from the campaign's run (explore, shrink) so that a change of
//! the port, a scenario or `sim` that moves it prints the new string.

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

fn epsim(args: &[&str]) -> (i32, Value) {
    let output = cargo_bin_cmd!("epsim")
        .env_remove("RUST_LOG")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (output.status.code().unwrap_or(-1), value)
}

/// F5 (`txlist-wake-lost`), 6192bd536f96: the data of the second delivery arrives while
/// the waiter's transfer holds the socket's item on its private `txlist` with nothing to
/// report (a write-space wake queued it); the callback sees the item linked and does not
/// queue it; the transfer drops it; the waiter sleeps forever with the data in the queue.
const F5_OPTIONS: [&str; 8] = [
    "--seed",
    "21",
    "--kernel",
    "6192bd536f96",
    "--model",
    "sc",
    "--granularity",
    "access",
];
const F5_SCHEDULE: &str = "v1.05ec5ac6ce45cb3c.4gEEJgEBAXMBJgEEkYROlv27jCk";

#[test]
fn txlist_wake_lost_replays() {
    let args = [
        &["replay", "external-socket", "--schedule", F5_SCHEDULE][..],
        &F5_OPTIONS,
    ]
    .concat();
    let (code, run) = epsim(&args);
    assert_eq!(code, 1, "{run}");
    // No checker sees it; the scenario's run-level check does.
    let violations = run["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{run}");
    assert_eq!(violations[0]["kind"], "expectation", "{run}");
    let message = violations[0]["message"].as_str().unwrap();
    assert!(message.contains("never finished"), "{message}");
    assert_eq!(run["expectations"]["failed"], 1, "{run}");
    // The second delivery was made; the waiter never got it.
    let results = run["results"].as_array().unwrap();
    let waits: Vec<&Value> = results
        .iter()
        .filter(|r| r["call"].as_str().unwrap().contains("epoll_wait"))
        .collect();
    assert_eq!(waits.len(), 1, "only the first epoll_wait returned: {run}");
    let delivered = results
        .iter()
        .filter(|r| r["call"].as_str().unwrap().starts_with("deliver"))
        .count();
    assert_eq!(delivered, 2, "{run}");
}

#[test]
fn txlist_wake_lost_is_derived_again() {
    let args = [
        &[
            "explore",
            "external-socket",
            "--strategy",
            "pct",
            "--runs",
            "1",
        ][..],
        &F5_OPTIONS,
    ]
    .concat();
    let (code, explored) = epsim(&args);
    assert_eq!(code, 1, "{explored}");
    let first = &explored["first_report"];
    assert_eq!(first["kind"], "expectation", "{explored}");
    assert_eq!(
        first["shrunk_schedule"], F5_SCHEDULE,
        "the shrunk schedule moved: paste the new one here and in docs/findings.md (F5)"
    );
}

#[test]
fn txlist_wake_lost_is_not_in_2_6_22() {
    // d47de16c7221 (2.6.22): the callback chains the item on ovflist while a transfer
    // runs, and the transfer's end queues it again. The same exploration finds nothing.
    let mut args = vec![
        "explore",
        "external-socket",
        "--strategy",
        "pct",
        "--runs",
        "40",
    ];
    args.extend_from_slice(&F5_OPTIONS);
    args[9] = "2.6.22";
    let (code, explored) = epsim(&args);
    assert_eq!(code, 0, "{explored}");
    assert_eq!(explored["reports"], serde_json::json!({}), "{explored}");
}
