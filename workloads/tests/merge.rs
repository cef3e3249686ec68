//! `epsim merge`: the shards of an exploration or a campaign merge into exactly the
//! JSON of the unsharded command (the wall-clock rate apart).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

fn temp(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("merge-{}-{n}-{name}", std::process::id()))
}

/// Runs epsim; returns its exit status, stdout and stderr.
fn epsim(args: &[&str]) -> (i32, String, String) {
    let output = cargo_bin_cmd!("epsim")
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn without_rate(mut value: Value) -> Value {
    value.as_object_mut().unwrap().remove("runs_per_sec");
    value
}

/// Runs `args` whole and in `shards` shards, merges the shards; returns (whole, merged)
/// and checks that the exit statuses agree.
fn whole_and_merged(args: &[&str], shards: u64) -> (Value, Value) {
    let (code, whole, stderr) = epsim(&[args, &["--json"]].concat());
    assert!(stderr.is_empty(), "{stderr}");
    let mut files = Vec::new();
    for index in 0..shards {
        let shard = format!("{index}/{shards}");
        let (_, json, stderr) = epsim(&[args, &["--json", "--shard", &shard]].concat());
        assert!(stderr.is_empty(), "{stderr}");
        let file = temp("shard.json");
        std::fs::write(&file, json).unwrap();
        files.push(file.display().to_string());
    }
    let mut merge = vec!["merge"];
    merge.extend(files.iter().map(String::as_str));
    let (merged_code, merged, stderr) = epsim(&merge);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(code, merged_code, "exit status of {args:?}");
    (
        serde_json::from_str(&whole).unwrap(),
        serde_json::from_str(&merged).unwrap(),
    )
}

#[test]
fn merged_shards_of_an_exploration_are_the_whole_exploration() {
    let cases: [(&[&str], u64); 4] = [
        // Unexpected reports in several runs: the first is the lowest run index.
        (
            &[
                "explore",
                "seed-case-4-two-waiters",
                "--inject",
                "no-reinject-wakeup",
                "--runs",
                "12",
            ],
            3,
        ),
        // PCT, an expected report (the injection's).
        (
            &[
                "explore",
                "inject-no-linked-check",
                "--strategy",
                "pct",
                "--runs",
                "10",
            ],
            2,
        ),
        // Expected reports and a run-level expectation failure mixed.
        (
            &[
                "explore",
                "seed-case-2-ctl-del",
                "--inject",
                "no-linked-check",
                "--granularity",
                "lock",
                "--runs",
                "9",
                "--no-shrink",
            ],
            4,
        ),
        // No report at all, access granularity under tso.
        (
            &[
                "explore",
                "lt-basics",
                "--granularity",
                "access",
                "--model",
                "tso",
                "--strategy",
                "pct",
                "--runs",
                "8",
            ],
            3,
        ),
    ];
    for (case, (args, shards)) in cases.into_iter().enumerate() {
        let (whole, merged) = whole_and_merged(args, shards);
        if case < 2 {
            assert!(whole["first_report"].is_object(), "{whole}");
        }
        assert_eq!(whole["shard"], Value::Null);
        assert_eq!(without_rate(whole), without_rate(merged), "{args:?}");
    }
}

#[test]
fn merge_refuses_what_is_not_every_shard_of_one_run() {
    let shard = |scenario: &str, shard: &str| {
        let (_, json, _) = epsim(&[
            "explore", scenario, "--runs", "4", "--json", "--shard", shard,
        ]);
        let file = temp("refuse.json");
        std::fs::write(&file, json).unwrap();
        file.display().to_string()
    };
    let a0 = shard("lt-basics", "0/2");
    let a1 = shard("lt-basics", "1/2");
    let b1 = shard("et-basics", "1/2");
    let (_, whole, _) = epsim(&["explore", "lt-basics", "--runs", "4", "--json"]);
    let unsharded = temp("whole.json");
    std::fs::write(&unsharded, whole).unwrap();
    let unsharded = unsharded.display().to_string();
    for (files, says) in [
        (vec![&a0], "1/2 missing"),
        (vec![&a0, &a0], "again"),
        (vec![&a0, &b1], "not shards of one exploration"),
        (vec![&a0, &a1, &unsharded], "--shard"),
    ] {
        let mut args = vec!["merge"];
        args.extend(files.iter().map(|f| f.as_str()));
        let (code, stdout, stderr) = epsim(&args);
        assert_eq!(code, 2, "{files:?}: {stdout}");
        assert!(stderr.contains(says), "{files:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    // dfs is one search: it is not sharded, with a reason.
    let (code, _, stderr) = epsim(&[
        "explore",
        "lt-basics",
        "--strategy",
        "dfs",
        "--shard",
        "0/2",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("dfs is one search"), "{stderr}");
}

#[test]
fn merged_shards_of_a_campaign_are_the_whole_campaign() {
    let args = [
        "campaign",
        "--kernel",
        "2.6.22",
        "--model",
        "tso",
        "--runs",
        "3",
        "--only",
        "pair-del_",
        "--only",
        "lt-basics",
    ];
    let (whole, merged) = whole_and_merged(&args, 3);
    assert_eq!(whole, merged);
    assert!(whole["units_done"].as_u64().unwrap() >= 10, "{whole}");
    assert_eq!(whole["units_not_reached"], 0);
}

#[test]
fn a_resumed_campaign_skips_the_units_done_and_ends_the_same() {
    let args = [
        "campaign",
        "--kernel",
        "6.18",
        "--model",
        "sc",
        "--runs",
        "2",
        "--only",
        "pair-wait-1_",
        "--json",
    ];
    let (_, whole, _) = epsim(&args);
    let resume = temp("progress.jsonl");
    let path = resume.display().to_string();
    let with_resume = [&args[..], &["--resume", &path]].concat();
    let (_, first, _) = epsim(&with_resume);
    assert_eq!(whole, first);
    // Keep the header and two units: the rest run again, and the result is the same.
    let text = std::fs::read_to_string(&resume).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 4, "{text}");
    std::fs::write(
        &resume,
        format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]),
    )
    .unwrap();
    let (_, again, _) = epsim(&with_resume);
    assert_eq!(whole, again);
    assert_eq!(
        std::fs::read_to_string(&resume).unwrap().lines().count(),
        lines.len()
    );
    // Other settings: a clear error, not a silent mix.
    let other = [&args[..5], &["--runs", "3", "--resume", &path]].concat();
    let (code, _, stderr) = epsim(&other);
    assert_eq!(code, 2);
    assert!(stderr.contains("other settings"), "{stderr}");
}
