//! The scenario commands through the binary: run, replay, explore, list, gen — outputs,
//! JSON shapes, traces, records, exit statuses and bad input.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use assert_cmd::cargo::cargo_bin_cmd;
use assert_cmd::Command;
use serde_json::Value;
use workloads::scenario::list;

fn epsim() -> Command {
    cargo_bin_cmd!("epsim")
}

/// A fresh path in the test's temporary directory.
fn temp(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("commands-{}-{n}-{name}", std::process::id()))
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Output {
    let output = epsim().args(args).output().unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn json(args: &[&str]) -> (i32, Value) {
    let output = run(args);
    let value = serde_json::from_str(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "epsim {args:?}: not JSON ({e}): {}\n{}",
            output.stdout, output.stderr
        )
    });
    (output.code, value)
}

/// Status 2 with one `error: ` line on stderr and nothing on stdout; returns the line.
fn usage_error(args: &[&str]) -> String {
    let output = run(args);
    assert_eq!(
        output.code, 2,
        "epsim {args:?}: {}{}",
        output.stdout, output.stderr
    );
    assert_eq!(
        output.stderr.lines().count(),
        1,
        "epsim {args:?}: {}",
        output.stderr
    );
    assert!(output.stderr.starts_with("error: "), "{}", output.stderr);
    assert!(
        output.stdout.is_empty(),
        "epsim {args:?}: wrote {}",
        output.stdout
    );
    output.stderr.trim_end().to_string()
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn sorted<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut names = names.to_vec();
    names.sort_unstable();
    names
}

// ---- list ------------------------------------------------------------------------------

#[test]
fn list_names_every_builtin_with_its_description() {
    let output = run(&["list"]);
    assert_eq!(output.code, 0);
    for scenario in list() {
        assert!(output.stdout.contains(scenario.name), "{}", scenario.name);
        let description = scenario.description();
        assert!(
            !description.is_empty(),
            "{} has no description",
            scenario.name
        );
        assert!(output.stdout.contains(&description), "{}", scenario.name);
    }
    let (code, value) = json(&["list", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(value.as_array().unwrap().len(), list().len());
    assert_eq!(keys(&value[0]), ["description", "name"]);
    let shown = run(&["list", "--show", "seed-case-4-two-waiters"]);
    assert_eq!(shown.code, 0);
    assert!(shown.stdout.contains("scenario seed-case-4-two-waiters"));
    usage_error(&["list", "--show", "no-such-scenario"]);
}

// ---- run -------------------------------------------------------------------------------

#[test]
fn run_reports_results_expectations_and_the_hash() {
    let output = run(&["run", "seed-case-2-ctl-del"]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    for needle in [
        "scenario seed-case-2-ctl-del",
        "options: kernel 2.6.22",
        "results:",
        "expectations: ",
        "violations: none",
        "trace hash: ",
        "schedule: v1.",
        "PASS",
    ] {
        assert!(
            output.stdout.contains(needle),
            "{needle}: {}",
            output.stdout
        );
    }
}

#[test]
fn run_json_has_the_stable_shape() {
    let (code, value) = json(&["run", "seed-case-4-two-waiters", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        keys(&value),
        sorted(&[
            "scenario",
            "kernel",
            "model",
            "granularity",
            "strategy",
            "seed",
            "steps",
            "virtual_time_ns",
            "trace_hash",
            "schedule",
            "violations",
            "expectations",
            "results"
        ])
    );
    assert_eq!(value["scenario"], "seed-case-4-two-waiters");
    assert_eq!(value["kernel"], "2.6.22");
    assert_eq!(value["model"], "sc");
    assert_eq!(value["granularity"], "lock");
    assert_eq!(value["strategy"], "random");
    assert_eq!(value["seed"], 0);
    assert!(value["steps"].as_u64().unwrap() > 0);
    assert!(value["virtual_time_ns"].as_u64().unwrap() > 0);
    assert_eq!(value["trace_hash"].as_str().unwrap().len(), 16);
    assert!(value["schedule"].as_str().unwrap().starts_with("v1."));
    assert_eq!(value["violations"], serde_json::json!([]));
    assert_eq!(keys(&value["expectations"]), ["failed", "passed"]);
    assert_eq!(value["expectations"]["failed"], 0);
    let results = value["results"].as_array().unwrap();
    assert_eq!(
        keys(&results[0]),
        ["call", "errno", "events", "ret", "task"]
    );
    let wait = results
        .iter()
        .find(|r| r["task"] == "waiter0")
        .expect("waiter0's epoll_wait");
    assert_eq!(wait["ret"], 10);
    assert_eq!(wait["errno"], Value::Null);
    let events = wait["events"].as_array().unwrap();
    assert_eq!(events.len(), 10);
    assert_eq!(keys(&events[0]), ["data", "events"]);
    assert_eq!(events[0]["events"], "EPOLLIN");
}

#[test]
fn violations_in_json_carry_kind_place_and_schedule() {
    let (code, value) = json(&[
        "run",
        "seed-case-4-two-waiters",
        "--inject",
        "no-reinject-wakeup",
        "--json",
    ]);
    assert_eq!(code, 1);
    let violations = value["violations"].as_array().unwrap();
    let lost = violations
        .iter()
        .find(|v| v["kind"] == "lost-wakeup")
        .expect("a lost-wakeup report");
    assert_eq!(
        keys(lost),
        sorted(&["kind", "step", "cpu", "task", "message", "details", "schedule"])
    );
    assert_eq!(lost["task"], "waiter1");
    assert_eq!(lost["schedule"], value["schedule"]);
    assert!(value["expectations"]["failed"].as_u64().unwrap() > 0);
}

#[test]
fn chrome_trace_has_a_track_per_cpu_slices_and_wakeup_flows() {
    let path = temp("trace.json");
    let output = run(&[
        "run",
        "seed-case-4-two-waiters",
        "--trace",
        "chrome",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let events = value["traceEvents"].as_array().unwrap();
    let tracks: Vec<&Value> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .collect();
    assert_eq!(tracks.len(), 2, "one track per CPU");
    assert!(events.iter().all(|e| e["tid"].as_u64().unwrap() < 2));
    // Slices nest properly on every track.
    let mut depth = [0i64; 2];
    for event in events {
        let tid = event["tid"].as_u64().unwrap() as usize;
        match event["ph"].as_str().unwrap() {
            "B" => depth[tid] += 1,
            "E" => {
                depth[tid] -= 1;
                assert!(depth[tid] >= 0, "an E without a B on track {tid}");
            }
            _ => {}
        }
    }
    assert_eq!(depth, [0, 0]);
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "B")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for name in [
        "epoll_wait",
        "ep_events_transfer",
        "ep_poll_callback",
        "waiter0",
    ] {
        assert!(names.contains(&name), "no {name} slice");
    }
    let starts = events.iter().filter(|e| e["ph"] == "s").count();
    let ends = events.iter().filter(|e| e["ph"] == "f").count();
    assert!(starts >= 1, "no wake-up flow");
    assert_eq!(starts, ends);
    std::fs::remove_file(path).ok();
}

#[test]
fn text_and_jsonl_traces() {
    let output = run(&["run", "seed-case-1-epfd-close", "--trace", "text"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(output.stdout.contains("sys_epoll_wait()"));
    assert!(output.stdout.contains("trace hash: "));
    let path = temp("trace.jsonl");
    let output = run(&[
        "run",
        "seed-case-1-epfd-close",
        "--trace",
        "jsonl",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut events = Vec::new();
    for line in text.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            keys(&record),
            ["cpu", "event", "irq", "step", "task", "text", "time_ns"]
        );
        events.push(record["event"].as_str().unwrap().to_string());
    }
    assert!(events.iter().any(|e| e == "op"));
    assert!(events.iter().any(|e| e == "note"));
    std::fs::remove_file(path).ok();
    // Only the text narration may go to the terminal.
    usage_error(&["run", "lt-basics", "--trace", "chrome"]);
}

#[test]
fn check_determinism_compares_two_runs() {
    let output = run(&["run", "seed-case-5-callback-race", "--check-determinism"]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert!(
        output.stdout.contains("deterministic: two runs"),
        "{}",
        output.stdout
    );
}

// ---- record and replay -----------------------------------------------------------------

/// Records a run with `extra` options, replays the record, and checks the replay
/// reproduced it bit for bit (same hash, same status).
fn round_trip(scenario: &str, extra: &[&str]) {
    let record = temp("record.json");
    let record_arg = record.to_str().unwrap();
    let mut args = vec!["run", scenario, "--json", "--record", record_arg];
    args.extend_from_slice(extra);
    let (run_code, ran) = json(&args);
    assert!(run_code == 0 || run_code == 1, "epsim {args:?}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    for key in [
        "scenario",
        "scenario_text",
        "options",
        "seed",
        "schedule",
        "trace_hash",
        "epsim_version",
    ] {
        assert!(saved.get(key).is_some(), "the record has no {key}");
    }
    assert_eq!(saved["trace_hash"], ran["trace_hash"]);
    assert_eq!(saved["schedule"], ran["schedule"]);
    let replay = run(&["replay", record_arg, "--json"]);
    assert_eq!(
        replay.code, run_code,
        "{scenario} {extra:?}: replay status differs: {}",
        replay.stderr
    );
    assert!(
        replay.stderr.is_empty(),
        "{scenario} {extra:?}: {}",
        replay.stderr
    );
    let replayed: Value = serde_json::from_str(&replay.stdout).unwrap();
    assert_eq!(
        replayed["trace_hash"], ran["trace_hash"],
        "{scenario} {extra:?}"
    );
    assert_eq!(
        replayed["schedule"], ran["schedule"],
        "{scenario} {extra:?}"
    );
    assert_eq!(replayed["results"], ran["results"], "{scenario} {extra:?}");
    assert_eq!(replayed["strategy"], "replay");
    std::fs::remove_file(record).ok();
}

#[test]
fn every_shipped_scenario_round_trips_at_syscall_granularity() {
    for scenario in list() {
        if scenario.name == "finding-2621-busy-loop" {
            // 2.6.21's busy loop (finding F3) takes no step at syscall granularity (its
            // locks are free and taken inline), so the step budget cannot end the run;
            // at its own granularity (lock) the budget ends it with a step-budget report.
            round_trip(scenario.name, &[]);
            continue;
        }
        round_trip(
            scenario.name,
            &["--granularity", "syscall", "--model", "sc"],
        );
    }
}

#[test]
fn round_trips_at_lock_and_access_granularity() {
    round_trip("seed-case-4-two-waiters", &["--granularity", "lock"]);
    round_trip(
        "seed-case-5-callback-race",
        &["--granularity", "access", "--model", "tso"],
    );
    round_trip("seed-case-3-file-close", &["--granularity", "access"]);
}

#[test]
fn round_trips_for_every_strategy() {
    for strategy in ["random", "pct", "dfs", "timed", "round-robin"] {
        round_trip(
            "seed-case-2-ctl-del",
            &[
                "--granularity",
                "lock",
                "--strategy",
                strategy,
                "--seed",
                "5",
            ],
        );
    }
}

/// Finding F3 at syscall granularity: the spinning waiter's locks and loads are not
/// steps there, so no step budget can stop it; the inline-operation limit does — a
/// livelock report ("soft lockup") with the schedule, not a simulator that never
/// returns. The schedule is one `explore --granularity syscall` found (seed 9). The
/// scenario expects what its own granularity (lock) shows, the step budget running out,
/// so here the run fails: a livelock where a step-budget report was expected.
#[test]
fn a_busy_loop_that_reaches_no_step_is_reported_not_hung() {
    let output = run(&[
        "replay",
        "finding-2621-busy-loop",
        "--schedule",
        "v1.953ce5495b7a28cf.EQABmVE",
        "--seed",
        "9",
        "--granularity",
        "syscall",
    ]);
    assert_eq!(output.code, 1, "{}{}", output.stdout, output.stderr);
    assert!(
        output.stdout.contains("livelock at step 16")
            && output.stdout.contains("soft lockup")
            && output.stdout.contains(
                "expected a `step-budget` report, the run made none (its reports: livelock)"
            ),
        "{}",
        output.stdout
    );
}

#[test]
fn replay_with_a_schedule_and_a_hash() {
    let (_, ran) = json(&["run", "seed-case-5-callback-race", "--seed", "3", "--json"]);
    let schedule = ran["schedule"].as_str().unwrap();
    let hash = ran["trace_hash"].as_str().unwrap();
    let output = run(&[
        "replay",
        "seed-case-5-callback-race",
        "--schedule",
        schedule,
        "--seed",
        "3",
        "--hash",
        hash,
    ]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert!(
        output.stdout.contains("reproduced exactly"),
        "{}",
        output.stdout
    );
    // The same schedule with another expected hash: not reproduced, status 1.
    let output = run(&[
        "replay",
        "seed-case-5-callback-race",
        "--schedule",
        schedule,
        "--seed",
        "3",
        "--hash",
        "0123456789abcdef",
    ]);
    assert_eq!(output.code, 1);
    assert!(
        output.stderr.contains("did not reproduce"),
        "{}",
        output.stderr
    );
}

#[test]
fn a_record_whose_hash_differs_names_the_first_divergent_steps() {
    let record = temp("tampered.json");
    let output = run(&[
        "run",
        "seed-case-4-two-waiters",
        "--record",
        record.to_str().unwrap(),
    ]);
    assert_eq!(output.code, 0);
    let mut saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    saved["trace_hash"] = Value::from("0123456789abcdef");
    // Pretend the recorded run went another way from its 100th hashed record on.
    let interval = saved["checkpoints"]["interval"].as_u64().unwrap() as usize;
    let hashes = saved["checkpoints"]["hashes"].as_array_mut().unwrap();
    let from = 100 / interval;
    for hash in hashes.iter_mut().skip(from) {
        *hash = Value::from("0000000000000000");
    }
    std::fs::write(&record, serde_json::to_string(&saved).unwrap()).unwrap();
    let output = run(&["replay", record.to_str().unwrap()]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    assert_eq!(output.stderr.lines().count(), 1);
    assert!(
        output.stderr.contains("did not reproduce"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("first differ"), "{}", output.stderr);
    std::fs::remove_file(record).ok();
}

#[test]
fn a_schedule_that_does_not_fit_its_run_is_a_divergence() {
    let (_, ran) = json(&[
        "run",
        "seed-case-2-ctl-del",
        "--json",
        "--strategy",
        "random",
    ]);
    let mut schedule = sim::Schedule::decode(ran["schedule"].as_str().unwrap()).unwrap();
    // Edit one decision: the machine notices at that decision or when its window of
    // fingerprints closes.
    let at = schedule.decisions / 2;
    schedule.deviations.retain(|d| d.decision != at);
    schedule.deviations.push(sim::schedule::Deviation {
        decision: at,
        choice: 7,
    });
    schedule.deviations.sort_by_key(|d| d.decision);
    let output = run(&[
        "replay",
        "seed-case-2-ctl-del",
        "--schedule",
        &schedule.encode(),
    ]);
    assert_eq!(output.code, 1, "{}{}", output.stdout, output.stderr);
    assert_eq!(output.stderr.lines().count(), 1, "{}", output.stderr);
    assert!(
        output.stderr.contains("replay diverged"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("(step "), "{}", output.stderr);
}

// ---- bad input -------------------------------------------------------------------------

#[test]
fn bad_input_exits_2_with_one_line() {
    let line = usage_error(&["run", "no/such/file.scn"]);
    assert!(line.contains("cannot read no/such/file.scn"), "{line}");
    let line = usage_error(&["run", "no-such-scenario"]);
    assert!(line.contains("unknown scenario"), "{line}");
    assert!(line.contains("epsim list"), "{line}");
    let line = usage_error(&["run", "lt-basics", "--inject", "no-such-bug"]);
    assert!(line.contains("no-linked-check"), "{line}");
    let line = usage_error(&["explore", "lt-basics", "--inject", "nope"]);
    assert!(line.contains("unknown injection"), "{line}");

    let path = temp("bad.scn");
    std::fs::write(
        &path,
        "scenario bad\nprocess app {\n    task main {\n        ep = epoll_create(1\n    }\n}\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    for command in ["run", "explore"] {
        let line = usage_error(&[command, file]);
        let at = format!("{file}:");
        assert!(line.contains(&at), "{line}");
        let rest = &line[line.find(&at).unwrap() + at.len()..];
        let mut parts = rest.splitn(3, ':');
        let line_no: u32 = parts.next().unwrap().parse().expect("a line number");
        let col: u32 = parts.next().unwrap().parse().expect("a column");
        assert!(line_no >= 4 && col >= 1, "{line}");
    }
    std::fs::remove_file(path).ok();

    // A schedule recorded for another scenario (or seed, or options) cannot be used.
    let (_, ran) = json(&["run", "lt-basics", "--json"]);
    let schedule = ran["schedule"].as_str().unwrap();
    let line = usage_error(&["replay", "et-basics", "--schedule", schedule]);
    assert!(line.contains("another scenario"), "{line}");
    let line = usage_error(&["replay", "lt-basics", "--schedule", schedule, "--seed", "9"]);
    assert!(line.contains("another scenario or other options"), "{line}");
    let line = usage_error(&["run", "et-basics", "--schedule", schedule]);
    assert!(line.contains("another scenario"), "{line}");
    usage_error(&["replay", "lt-basics", "--schedule", "v1.nonsense"]);
    usage_error(&["replay", "lt-basics"]);
    usage_error(&["replay", "missing-record.json"]);
    usage_error(&["explore", "lt-basics", "--runs", "0"]);
    usage_error(&["explore", "lt-basics", "--shard", "2/2"]);
    usage_error(&[
        "explore",
        "lt-basics",
        "--strategy",
        "dfs",
        "--shard",
        "0/2",
    ]);

    let not_json = temp("record.json");
    std::fs::write(&not_json, "{ not json").unwrap();
    let line = usage_error(&["replay", not_json.to_str().unwrap()]);
    assert!(line.contains("not an epsim record"), "{line}");
    std::fs::remove_file(not_json).ok();
}

// ---- explore ---------------------------------------------------------------------------

fn explore_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["explore"];
    all.extend_from_slice(args);
    all.push("--json");
    json(&all)
}

fn without_rate(mut value: Value) -> Value {
    value.as_object_mut().unwrap().remove("runs_per_sec");
    value
}

#[test]
fn explore_json_shape_and_the_first_report_replays() {
    let (code, value) = explore_json(&[
        "seed-case-4-two-waiters",
        "--inject",
        "no-reinject-wakeup",
        "--runs",
        "12",
    ]);
    assert_eq!(code, 1, "{value}");
    assert_eq!(
        keys(&value),
        sorted(&[
            "scenario",
            "runs",
            "distinct_traces",
            "reports",
            "first_report",
            "runs_per_sec"
        ])
    );
    assert_eq!(value["runs"], 12);
    assert!(value["reports"]["lost-wakeup"].as_u64().unwrap() >= 1);
    let first = &value["first_report"];
    assert_eq!(
        keys(first),
        sorted(&[
            "kind",
            "seed",
            "schedule",
            "shrunk_schedule",
            "replay_command"
        ])
    );
    assert_eq!(first["kind"], "lost-wakeup");
    let command = first["replay_command"].as_str().unwrap();
    assert!(command.starts_with("epsim replay seed-case-4-two-waiters --schedule v1."));
    let words: Vec<&str> = command.split_whitespace().skip(1).collect();
    let output = run(&words);
    assert_eq!(output.code, 1, "{command}: {}", output.stderr);
    assert!(output.stderr.is_empty(), "{}", output.stderr);
    assert!(output.stdout.contains("lost-wakeup"), "{}", output.stdout);
}

#[test]
fn explore_jobs_2_gives_the_counts_of_jobs_1() {
    for strategy in ["random", "pct"] {
        let args = [
            "seed-case-4-two-waiters",
            "--inject",
            "no-reinject-wakeup",
            "--strategy",
            strategy,
            "--runs",
            "16",
            "--no-shrink",
        ];
        let (code1, one) = explore_json(&[&args[..], &["--jobs", "1"]].concat());
        let (code2, two) = explore_json(&[&args[..], &["--jobs", "2"]].concat());
        assert_eq!(code1, code2);
        assert_eq!(without_rate(one), without_rate(two), "{strategy}");
    }
}

#[test]
fn explore_shards_add_up_to_the_whole() {
    let args = [
        "seed-case-4-two-waiters",
        "--inject",
        "no-reinject-wakeup",
        "--runs",
        "9",
        "--no-shrink",
    ];
    let (_, whole) = explore_json(&args);
    let (_, a) = explore_json(&[&args[..], &["--shard", "0/2"]].concat());
    let (_, b) = explore_json(&[&args[..], &["--shard", "1/2"]].concat());
    assert_eq!(a["runs"], 5);
    assert_eq!(b["runs"], 4);
    let count = |v: &Value| v["reports"]["lost-wakeup"].as_u64().unwrap_or(0);
    assert_eq!(count(&a) + count(&b), count(&whole));
    // The whole exploration's first report is the shard 0's run 0 when run 0 fails.
    if whole["first_report"]["seed"] == 0 {
        assert_eq!(a["first_report"]["seed"], 0);
    }
}

#[test]
fn explore_human_output_and_dfs() {
    let output = run(&["explore", "seed-case-2-ctl-del", "--runs", "20"]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    for needle in ["runs: 20", "distinct traces: ", "reports: none", "PASS"] {
        assert!(
            output.stdout.contains(needle),
            "{needle}: {}",
            output.stdout
        );
    }
    let output = run(&[
        "explore",
        "lt-basics",
        "--strategy",
        "dfs",
        "--granularity",
        "lock",
        "--runs",
        "50",
        "--jobs",
        "2",
    ]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert!(
        output.stdout.contains("depth-first on one thread"),
        "{}",
        output.stdout
    );
}

#[test]
fn explore_a_scenario_that_expects_a_report() {
    let text = list()
        .iter()
        .find(|s| s.name == "seed-case-4-two-waiters")
        .unwrap()
        .text
        .replace(
            "expect no reports",
            "expect report lost-wakeup\ninject no-reinject-wakeup",
        );
    let path = temp("expects-lost-wakeup.scn");
    std::fs::write(&path, &text).unwrap();
    let file = path.to_str().unwrap();
    let output = run(&["explore", file, "--runs", "8", "--no-shrink"]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert!(output
        .stdout
        .contains("PASS: the expected lost-wakeup report was found"));
    // Without the injection the expected report never comes: status 1.
    let output = run(&["explore", file, "--runs", "4", "--inject", "no-smp-mb"]);
    assert_eq!(output.code, 1, "{}{}", output.stdout, output.stderr);
    assert!(
        output.stdout.contains("no run made one"),
        "{}",
        output.stdout
    );
    std::fs::remove_file(path).ok();
}

#[test]
fn documented_findings_are_named_and_counted_apart() {
    // Seed 823 of seed case 5 at access granularity under TSO hits the documented
    // INIT_LIST_HEAD window of the 2007 code (kernel-model's findings).
    let args = [
        "seed-case-5-callback-race",
        "--granularity",
        "access",
        "--model",
        "tso",
        "--seed",
        "823",
    ];
    let output = run(&[&["run"][..], &args, &["--strategy", "random"]].concat());
    assert_eq!(output.code, 1, "{}", output.stdout);
    assert!(
        output.stdout.contains("list-corruption"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("known finding init-list-head-window"),
        "{}",
        output.stdout
    );
    let output = run(&[&["explore"][..], &args, &["--runs", "1"]].concat());
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("reports: none"), "{}", output.stdout);
    assert!(
        output
            .stdout
            .contains("known finding init-list-head-window in 1 run"),
        "{}",
        output.stdout
    );
    // The printed command reproduces it.
    let command = output
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("reproduce: "))
        .expect("a reproduce line");
    let words: Vec<&str> = command.split_whitespace().skip(1).collect();
    let replay = run(&words);
    assert_eq!(replay.code, 1, "{command}: {}", replay.stderr);
    assert!(
        replay.stdout.contains("init-list-head-window"),
        "{}",
        replay.stdout
    );
}

#[test]
fn a_finding_scenario_passes_when_its_finding_shows() {
    // It expects the report of a documented finding on the unmodified port: the report is
    // named as the known finding and is what the scenario asks for.
    let output = run(&["explore", "finding-safewake-drops-wake", "--runs", "200"]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert!(
        output
            .stdout
            .contains("known finding safewake-drops-wake in "),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains(
            "PASS: the expected lost-wakeup report was found (the known finding safewake-drops-wake)"
        ),
        "{}",
        output.stdout
    );
    // 2.6.21 has no INIT_LIST_HEAD window: the scenario of F1 fails there.
    let output = run(&[
        "explore",
        "finding-init-list-head-window",
        "--kernel",
        "2.6.21",
        "--runs",
        "50",
    ]);
    assert_eq!(output.code, 1, "{}{}", output.stdout, output.stderr);
    assert!(
        output.stdout.contains("no run made one"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_time_limit_stops_an_exploration() {
    // A hundred million runs would take hours: the limit must stop it.
    let output = run(&[
        "explore",
        "seed-case-4-two-waiters",
        "--runs",
        "100000000",
        "--time-limit",
        "0.3",
        "--jobs",
        "2",
    ]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert!(
        output.stdout.contains("stopped the exploration early"),
        "{}",
        output.stdout
    );
}

// ---- gen -------------------------------------------------------------------------------

#[test]
fn generated_stress_scenarios_parse_and_run_without_losing_tokens() {
    let path = temp("stress.scn");
    let output = run(&[
        "gen",
        "stress",
        "--threads",
        "3",
        "--pipes",
        "6",
        "--tokens",
        "3",
        "--duration-ms",
        "2",
        "--timeout-ms",
        "1",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("expect tokens == 3"));
    assert!(text.contains("expect no reports"));
    assert!(text.contains("EPOLL_CTL_DEL"));
    let (code, value) = json(&["run", path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{value}");
    assert_eq!(value["expectations"]["failed"], 0);
    assert!(value["expectations"]["passed"].as_u64().unwrap() >= 2);
    std::fs::remove_file(path).ok();
    // Edge-triggered, run directly.
    let output = run(&[
        "gen",
        "stress",
        "--et",
        "--duration-ms",
        "2",
        "--timeout-ms",
        "1",
        "--run",
    ]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("PASS"));
    // Printed to stdout, it is a scenario.
    let output = run(&["gen", "stress"]);
    assert_eq!(output.code, 0);
    assert!(output.stdout.contains("scenario stress-p8-t2-a2"));
}

#[test]
fn generated_bench_scenarios_parse_and_run() {
    let output = run(&["gen", "bench", "--pipes", "20", "--loops", "3", "--run"]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("bench-transfer-n20"));
    assert!(
        output.stdout.contains("= 20 [EPOLLIN:0"),
        "{}",
        output.stdout
    );
    let output = run(&[
        "gen",
        "bench",
        "--workload",
        "mix",
        "--pipes",
        "30",
        "--writes",
        "4",
        "--loops",
        "5",
        "--run",
        "--json",
    ]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    let value: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(value["scenario"], "bench-mix-p30-k4");
    assert_eq!(value["expectations"]["failed"], 0);
    let output = run(&["gen", "bench", "--workload", "mix"]);
    assert!(output.stdout.contains("repeat 10 {"), "{}", output.stdout);
    usage_error(&["gen", "stress", "--pipes", "0"]);
}

// ---- bench -----------------------------------------------------------------------------

/// `bench --smoke` runs every workload a little, natively and simulated, so the
/// benchmark cannot rot: the JSON has the documented shape, and the simulated side's
/// proof-of-work counters say that it did the work (no figure is judged: timings
/// belong to the full run).
#[test]
fn bench_smoke_runs_every_workload_with_proof_of_work() {
    let (code, value) = json(&["bench", "--smoke", "--json"]);
    assert_eq!(code, 0, "{value}");
    assert_eq!(
        keys(&value),
        sorted(&[
            "transfer",
            "mix",
            "scale",
            "granularity",
            "explore",
            "litmus",
            "notes"
        ])
    );
    let positive = |v: &Value| v.as_f64().is_some_and(|x| x > 0.0 && x.is_finite());
    let transfer = value["transfer"].as_array().unwrap();
    assert_eq!(transfer.len(), 2);
    for (t, n) in transfer.iter().zip([200.0, 2000.0]) {
        assert_eq!(t["n"].as_f64(), Some(n));
        // epoll_wait(N, 0) over N always-ready LT pipes polls every one of them.
        assert_eq!(t["sim_polls_per_call"].as_f64(), Some(n), "{t}");
        assert!(positive(&t["sim_us_per_call"]), "{t}");
    }
    let mix = &value["mix"];
    // K = 10 writes and 10 reads per round, each waking pipe->wait: 20 callbacks.
    assert_eq!(mix["sim_callbacks_per_round"].as_f64(), Some(20.0), "{mix}");
    let polls = mix["sim_polls_per_round"].as_f64().unwrap();
    assert!((10.0..=20.0).contains(&polls), "{mix}");
    assert!(positive(&mix["sim_events_per_sec"]), "{mix}");
    let scale = value["scale"].as_array().unwrap();
    let watched: Vec<f64> = scale
        .iter()
        .map(|s| s["watched"].as_f64().unwrap())
        .collect();
    assert_eq!(watched, [10.0, 100.0]);
    assert!(scale.iter().all(|s| positive(&s["sim_us_per_wait"])));
    let granularity: Vec<(&str, &str)> = value["granularity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["granularity"].as_str().unwrap(),
                g["model"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        granularity,
        [("syscall", "sc"), ("lock", "sc"), ("access", "tso")]
    );
    assert!(positive(&value["explore"]["jobs1_runs_per_sec"]));
    assert!(positive(&value["explore"]["jobs2_runs_per_sec"]));
    assert!(positive(&value["explore"]["speedup"]));
    assert!(positive(&value["litmus"]["executions_per_sec"]));
    // The native side too, unless a note says why it could not run here.
    if value["notes"].as_array().unwrap().is_empty() {
        assert!(transfer.iter().all(|t| positive(&t["native_us_per_call"])));
        assert!(positive(&mix["native_events_per_sec"]), "{mix}");
    }
}
