//! `epsim difftest`: a smoke run against the host kernel, a deliberately wrong
//! simulated result caught and shrunk to a scenario that carries the host's results,
//! the JSON shape and the exit statuses.

use std::collections::BTreeSet;
use std::path::PathBuf;

use assert_cmd::Command;
use kernel_model::KernelVersion;
use workloads::api;
use workloads::difftest::program::{Call, CallOutcome};
use workloads::difftest::{self, Config, Sides};
use workloads::Exit;

fn config(programs: u64, seed: u64, dir: PathBuf) -> Config {
    Config {
        programs,
        seed,
        jobs: 2,
        scenario_dir: dir,
        perturb: None,
        progress: false,
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("epsim-difftest-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

#[test]
fn smoke_two_thousand_programs_agree_with_the_host() {
    let dir = temp_dir("smoke");
    let report = difftest::run(&config(2000, 0, dir.clone()), &mut Vec::new()).expect("runs");
    assert_eq!(report.programs, 2000);
    assert_eq!(
        report.divergences, 0,
        "the 6.18 port diverges from the host {}: {:?}",
        report.host_release, report.first_divergence
    );
    assert!(report.first_divergence.is_none());
    let _ = std::fs::remove_dir_all(dir);
}

/// The generator reaches the corners it is meant to: each of these results is seen on
/// the host in the first 400 programs.
#[test]
fn the_generated_programs_reach_errors_events_and_the_nesting_limits() {
    let mut sides = Sides::new(None).expect("sides");
    let mut seen: BTreeSet<(&'static str, i32)> = BTreeSet::new();
    let mut waits_with_events = 0;
    for index in 0..400 {
        let calls = difftest::program(0, index);
        let compared = sides.compare(&calls).expect("runs");
        for (call, outcome) in calls.iter().zip(&compared.host) {
            seen.insert((call.name(), outcome.errno));
            if matches!(call, Call::EpollWait { .. }) && !outcome.events.is_empty() {
                waits_with_events += 1;
            }
        }
    }
    for wanted in [
        ("epoll_ctl", 40),  // ELOOP: too deep or a loop
        ("epoll_ctl", 22),  // EINVAL
        ("epoll_ctl", 17),  // EEXIST
        ("epoll_ctl", 2),   // ENOENT
        ("epoll_ctl", 9),   // EBADF
        ("epoll_ctl", 14),  // EFAULT
        ("epoll_wait", 22), // EINVAL
        ("epoll_pwait2", 22),
        ("write", 11), // EAGAIN: a full pipe
        ("write", 32), // EPIPE
        ("read", 11),
        ("shutdown", 0),
        ("dup2", 0),
        ("eventfd2", 0),
        ("timerfd_settime", 0),
    ] {
        assert!(seen.contains(&wanted), "never seen on the host: {wanted:?}");
    }
    assert!(
        waits_with_events > 100,
        "{waits_with_events} waits returned events"
    );
}

/// The surface added for issue 12's last items is reached too: `pipe2`, `dup3`,
/// `F_DUPFD*`, `F_GETFD`, datagram socketpairs (EMSGSIZE, ECONNREFUSED then ENOTCONN
/// after the peer closed), sockets written full (EAGAIN) and waits that see EPOLLOUT
/// on a socket.
#[test]
fn the_generated_programs_reach_the_descriptor_calls_and_datagram_sockets() {
    let mut sides = Sides::new(None).expect("sides");
    let mut seen: BTreeSet<(&'static str, i32)> = BTreeSet::new();
    let mut dupfd_above = 0;
    let mut cloexec_read = 0;
    let mut dgram_pairs = 0;
    for index in 0..1000 {
        let calls = difftest::program(0, index);
        let compared = sides.compare(&calls).expect("runs");
        for (call, outcome) in calls.iter().zip(&compared.host) {
            seen.insert((call.name(), outcome.errno));
            match call {
                Call::Fcntl { cmd, arg, .. }
                    if *cmd == kernel_model::syscalls::F_DUPFD_CLOEXEC
                        && outcome.ret >= i64::from(*arg)
                        && *arg > 3 =>
                {
                    dupfd_above += 1
                }
                Call::Fcntl { cmd, .. }
                    if *cmd == kernel_model::syscalls::F_GETFD && outcome.ret == 1 =>
                {
                    cloexec_read += 1
                }
                Call::Socketpair { sock_type } if sock_type & 0xf == 2 && outcome.errno == 0 => {
                    dgram_pairs += 1
                }
                _ => {}
            }
        }
    }
    let missing: Vec<_> = [
        ("pipe2", 0),
        ("pipe2", 22),
        ("dup3", 0),
        ("dup3", 22), // flags, or oldfd == newfd
        ("dup3", 9),
        ("socketpair", 0),
        ("socketpair", 22),
        ("write", 90),  // EMSGSIZE: a datagram over sk_sndbuf - 32
        ("write", 111), // ECONNREFUSED: the datagram peer closed
        ("write", 107), // ENOTCONN: and after that
        ("write", 11),
        ("fcntl", 22),
    ]
    .into_iter()
    .filter(|wanted| !seen.contains(wanted))
    .collect();
    assert!(missing.is_empty(), "never seen on the host: {missing:?}");
    assert!(dupfd_above > 0 && cloexec_read > 0 && dgram_pairs > 20);
}

/// Drops the last event of every wait that returned some: the simulator "loses" one.
fn lose_an_event(call: &Call, outcome: &mut CallOutcome) {
    if matches!(call, Call::EpollWait { .. }) && outcome.events.pop().is_some() {
        outcome.ret -= 1;
    }
}

#[test]
fn a_wrong_simulated_result_is_caught_shrunk_and_written_with_the_hosts_results() {
    let dir = temp_dir("perturbed");
    let mut config = config(40, 3, dir.clone());
    config.perturb = Some(lose_an_event);
    let mut out = Vec::new();
    let exit = difftest::execute(&config, true, &mut out, &mut Vec::new()).expect("runs");
    assert_eq!(exit, Exit::Failed, "a divergence is exit status 1");
    let report: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    assert!(report["divergences"].as_u64().expect("a count") > 0);
    let first = &report["first_divergence"];
    let call = first["call"].as_str().expect("the call");
    assert!(call.starts_with("epoll_"), "{call}");
    let file = first["scenario_file"].as_str().expect("the file");
    let text = std::fs::read_to_string(file).expect("the scenario was written");
    // The expectations are the host's: the event the "simulator" dropped is there.
    let host = first["host"].as_str().expect("host");
    let host_events = &host[host.find('[').expect("events")..];
    assert!(
        text.contains(&format!("expect evs == {host_events}")),
        "{text}\nlacks the host's {host_events}"
    );
    // The perturbed simulator's answer is not what the scenario expects, so the scenario
    // fails on it; it is the host's answer that the scenario carries.
    let sim = first["sim"].as_str().expect("sim");
    assert_ne!(sim, host);
    if let Some(open) = sim.find('[') {
        assert!(
            !text.contains(&format!("expect evs == {}", &sim[open..])),
            "{text}"
        );
    }
    // Shrunk: fewer calls than the generated program had ("shrunk from A to B calls").
    let words: Vec<&str> = text.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "shrunk")
        .expect("the description says");
    let from: usize = words[at + 2].parse().expect("A");
    let to: usize = words[at + 4].parse().expect("B");
    assert!(to < from, "not shrunk: {from} -> {to}\n{text}");
    let expects = text
        .lines()
        .filter(|l| l.trim_start().starts_with("expect"))
        .count();
    assert_eq!(expects, to, "one expectation per call");
    // The scenario holds the host's results, and the real port agrees with the host, so
    // it passes on the simulator; the perturbed "simulator" is what failed.
    let scenario = api::load(file).expect("the scenario parses");
    let run = api::run(
        &scenario,
        &api::RunOptions::new().kernel(KernelVersion::V6_18).cpus(1),
    )
    .expect("runs");
    assert!(run.passed, "{}", run.event_order);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn json_has_exactly_the_documented_fields_and_a_clean_run_exits_0() {
    let dir = temp_dir("json");
    let output = Command::cargo_bin("epsim")
        .expect("binary")
        .args([
            "difftest",
            "--programs",
            "30",
            "--seed",
            "5",
            "--jobs",
            "1",
            "--json",
        ])
        .arg("--out")
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let keys: BTreeSet<&str> = report
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "programs",
            "divergences",
            "first_divergence",
            "programs_per_sec",
            "host_release"
        ])
    );
    assert_eq!(report["programs"], 30);
    assert_eq!(report["divergences"], 0);
    assert!(report["first_divergence"].is_null());
    assert!(report["programs_per_sec"].as_f64().expect("a rate") > 0.0);
    assert!(!report["host_release"]
        .as_str()
        .expect("a release")
        .is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_options_are_usage_errors() {
    for args in [
        vec!["difftest", "--programs", "0"],
        vec!["difftest", "--jobs", "0"],
        vec!["difftest", "--seed", "x"],
    ] {
        let output = Command::cargo_bin("epsim")
            .expect("binary")
            .args(&args)
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr).lines().count(),
            1,
            "one line on stderr"
        );
    }
}

/// The threaded programs: the host's outcomes of an edge-triggered pair of waiters
/// (exactly one of them gets the event) are all reached by the simulator's schedules.
#[test]
fn threaded_host_outcomes_are_reached_by_the_simulator() {
    use workloads::difftest::threads;
    let programs: Vec<_> = threads::programs()
        .into_iter()
        .filter(|p| p.name == "et-two-waiters")
        .collect();
    let reports = threads::run(10, 400, &programs).expect("runs");
    let report = &reports[0];
    assert!(!report.host_outcomes.is_empty());
    for outcome in &report.host_outcomes {
        assert!(
            outcome.contains("main: 1"),
            "the write went through: {outcome}"
        );
    }
    assert!(report.unreached.is_empty(), "{report:?}");
}

#[test]
fn threaded_options_need_threads() {
    let output = Command::cargo_bin("epsim")
        .expect("binary")
        .args(["difftest", "--native-runs", "5"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

/// Generated threaded programs (a smoke run): the same seed gives the same programs, and
/// every outcome the host shows in a few runs of three of them is reached by the
/// simulator's schedules.
#[test]
fn generated_threaded_programs_smoke() {
    use workloads::difftest::threads::{self, Source};
    let source = Source::Generated {
        programs: 3,
        seed: 0,
    };
    let programs = source.programs();
    let again = source.programs();
    assert_eq!(programs.len(), 3);
    for (p, q) in programs.iter().zip(&again) {
        assert_eq!(p.scenario_text(), q.scenario_text(), "deterministic");
        assert!(p.name.starts_with("gen-s0-p"), "{}", p.name);
    }
    let reports = threads::run(10, 1000, &programs).expect("runs");
    let totals = threads::totals(&reports);
    assert_eq!(totals.programs, 3);
    assert_eq!(totals.native_runs, 30);
    assert!(totals.host_outcomes >= 3, "{totals:?}");
    for report in &reports {
        assert!(report.unreached.is_empty(), "{report:?}");
    }
    assert_eq!(totals.reached, totals.host_outcomes);
}

/// `--threads --programs N --seed S --json`: N generated programs, their totals.
#[test]
fn generated_threaded_programs_from_the_command_line() {
    let output = Command::cargo_bin("epsim")
        .expect("binary")
        .args([
            "difftest",
            "--threads",
            "--programs",
            "2",
            "--seed",
            "5",
            "--native-runs",
            "5",
            "--sim-runs",
            "1000",
            "--json",
        ])
        .output()
        .expect("runs");
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(value["totals"]["programs"], 2, "{value}");
    assert_eq!(value["totals"]["native_runs"], 10, "{value}");
    let names: Vec<&str> = value["programs"]
        .as_array()
        .expect("programs")
        .iter()
        .map(|p| p["program"].as_str().expect("name"))
        .collect();
    assert!(names[0].starts_with("gen-s5-p0-"), "{names:?}");
    assert!(names[1].starts_with("gen-s5-p1-"), "{names:?}");
    let unreached = value["unreached"].as_u64().expect("unreached");
    assert_eq!(
        output.status.code(),
        Some(if unreached == 0 { 0 } else { 1 }),
        "exit 1 exactly when a host outcome is unreached: {value}"
    );
}
