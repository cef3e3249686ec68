//! `epsim snapshot`, driven through the binary: writing `.snap.new`, checking (status 0,
//! or 1 with a unified diff), accepting, what a renamed step and a changed kernel version
//! look like in review, `--across-kernels`, the JSON shape, input errors (status 2, one
//! line, nothing written), and the example crate's snapshots with its shell script.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use assert_cmd::Command;
use kernel_model::KernelVersion;
use serde_json::Value;

fn epsim() -> Command {
    let mut command = cargo_bin_cmd!("epsim");
    command.env_remove("RUST_LOG");
    command
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/event-order")
}

/// A fresh directory with the example crate's scenarios (without their snapshots).
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("epsim-snapshot-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    for name in ["edge-triggered-drain", "event-loop-fairness"] {
        std::fs::copy(
            examples().join(format!("scenarios/{name}.scn")),
            dir.join(format!("{name}.scn")),
        )
        .unwrap();
    }
    std::fs::copy(
        examples().join("scenarios/two-workers.scn"),
        dir.join("nested/two-workers.scn"),
    )
    .unwrap();
    dir
}

/// `epsim snapshot ARGS` in `dir`: (status, stdout, stderr).
fn snapshot(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = epsim()
        .current_dir(dir)
        .arg("snapshot")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn snap(stem: &str, kernel: KernelVersion) -> String {
    format!("snapshots/{stem}@{}.snap", kernel.name())
}

#[test]
fn writes_new_snapshots_checks_and_accepts_them() {
    let dir = scratch("cycle");
    let kernels = KernelVersion::ALL;
    // First run: every snapshot is new, written as .snap.new for review; status 1.
    let (status, out, _) = snapshot(&dir, &[]);
    assert_eq!(status, 1, "{out}");
    let pending: Vec<String> = files(&dir)
        .into_iter()
        .filter(|f| f.ends_with(".snap.new"))
        .collect();
    assert_eq!(pending.len(), 3 * kernels.len(), "{pending:?}");
    assert!(pending.contains(&format!("{}.new", snap("event-loop-fairness", kernels[0]))));
    assert!(pending.contains(&format!("nested/{}.new", snap("two-workers", kernels[0]))));
    assert!(out.contains(&format!("{} new", 3 * kernels.len())), "{out}");
    // The file is insta's format: a YAML header between `---` lines, then the text.
    let text = std::fs::read_to_string(
        dir.join(format!("{}.new", snap("edge-triggered-drain", kernels[0]))),
    )
    .unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("---"));
    assert!(lines.next().unwrap().starts_with("source: "));
    assert!(
        text.contains("\nexpression: epsim snapshot --kernel "),
        "{text}"
    );
    assert!(
        text.contains("\n---\nedge-triggered-drain: EPOLLET"),
        "{text}"
    );
    assert!(text.ends_with(" steps\n"), "{text}");

    // --check writes nothing and fails on the missing snapshots.
    let before = files(&dir);
    let (status, out, _) = snapshot(&dir, &["--check"]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("missing"), "{out}");
    assert_eq!(files(&dir), before);

    // --accept writes .snap and removes the pending .snap.new; then --check passes.
    let (status, out, _) = snapshot(&dir, &["--accept"]);
    assert_eq!(status, 0, "{out}");
    assert!(files(&dir).iter().all(|f| !f.ends_with(".new")));
    let (status, out, _) = snapshot(&dir, &["--check"]);
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains(&format!("{} match", 3 * kernels.len())),
        "{out}"
    );
    // ... and so does a run without --check, writing nothing.
    let before = files(&dir);
    let (status, _, _) = snapshot(&dir, &["."]);
    assert_eq!(status, 0);
    assert_eq!(files(&dir), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_renamed_step_is_a_reviewable_diff() {
    let dir = scratch("rename");
    assert_eq!(snapshot(&dir, &["--accept"]).0, 0);
    let file = dir.join("edge-triggered-drain.scn");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("part = read", "partial = read")).unwrap();
    let (status, out, _) = snapshot(&dir, &["--check", "edge-triggered-drain.scn"]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("--- snapshots/edge-triggered-drain@"), "{out}");
    assert!(out.contains("+++ the event order now"), "{out}");
    assert!(
        out.contains("\n    -main: part = read(p.r, 2) = 2 \"he\"\n"),
        "{out}"
    );
    assert!(
        out.contains("\n    +main: partial = read(p.r, 2) = 2 \"he\"\n"),
        "{out}"
    );
    assert!(out.contains("@@ "), "{out}");
    // Without --check the new text waits in a .snap.new for `cargo insta review`.
    let (status, _, _) = snapshot(&dir, &["edge-triggered-drain.scn"]);
    assert_eq!(status, 1);
    let pending = dir.join(format!(
        "{}.new",
        snap("edge-triggered-drain", KernelVersion::ALL[0])
    ));
    let text = std::fs::read_to_string(pending).unwrap();
    assert!(text.contains("main: partial = read(p.r, 2)"), "{text}");
    // Accepting it takes the new text; the other scenarios were never touched.
    assert_eq!(snapshot(&dir, &["--accept"]).0, 0);
    assert_eq!(snapshot(&dir, &["--check"]).0, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_changed_kernel_version_is_a_reviewable_diff() {
    let (first, second) = match KernelVersion::ALL.as_slice() {
        [first, second, ..] => (*first, *second),
        _ => return, // one version: nothing to change to
    };
    let dir = scratch("kernel");
    let (status, out, _) = snapshot(&dir, &["--accept", "--kernel", first.name()]);
    assert_eq!(status, 0, "{out}");
    // The snapshot kept for `first` stands in for `second`'s: what review shows.
    std::fs::create_dir_all(dir.join("snapshots")).unwrap();
    std::fs::copy(
        dir.join(snap("event-loop-fairness", first)),
        dir.join(snap("event-loop-fairness", second)),
    )
    .unwrap();
    let (status, out, _) = snapshot(
        &dir,
        &[
            "--check",
            "--kernel",
            second.name(),
            "event-loop-fairness.scn",
        ],
    );
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains(&format!("\n    -kernel {}, ", first.name())),
        "{out}"
    );
    assert!(
        out.contains(&format!("\n    +kernel {}, ", second.name())),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_lists_every_snapshot_with_its_status() {
    let dir = scratch("json");
    let output = epsim()
        .current_dir(&dir)
        .args(["snapshot", "--check", "--json", "event-loop-fairness.scn"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["passed"], false);
    let entries = json["snapshots"].as_array().unwrap();
    assert_eq!(entries.len(), KernelVersion::ALL.len());
    for (entry, kernel) in entries.iter().zip(KernelVersion::ALL) {
        assert_eq!(entry["scenario"], "event-loop-fairness.scn");
        assert_eq!(entry["name"], "event-loop-fairness");
        assert_eq!(entry["kernel"], kernel.name());
        assert_eq!(entry["status"], "missing");
        assert_eq!(entry["snapshot"], snap("event-loop-fairness", kernel));
        assert!(entry["reason"].is_null() && entry["diff"].is_null());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn across_kernels_groups_the_versions_and_shows_where_they_part() {
    let dir = scratch("across");
    let output = epsim()
        .current_dir(&dir)
        .args(["snapshot", "--across-kernels", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let scenarios = json["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["edge-triggered-drain", "event-loop-fairness", "two-workers"]
    );
    for scenario in scenarios {
        // Every version is in exactly one group or skipped.
        let mut seen: Vec<&str> = scenario["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g.as_array().unwrap().iter().map(|k| k.as_str().unwrap()))
            .chain(
                scenario["skipped"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["kernel"].as_str().unwrap()),
            )
            .collect();
        seen.sort();
        let mut all: Vec<&str> = KernelVersion::ALL.iter().map(|k| k.name()).collect();
        all.sort();
        assert_eq!(seen, all, "{scenario}");
        let groups = scenario["groups"].as_array().unwrap().len();
        assert_eq!(
            scenario["first_difference"].is_null(),
            groups <= 1,
            "{scenario}"
        );
        if let Some(difference) = scenario["first_difference"].as_object() {
            // The groups' lines at the parting point differ.
            let lines = difference["lines"].as_array().unwrap();
            assert_eq!(lines.len(), groups);
            assert_ne!(lines[0]["line"], lines[1]["line"], "{scenario}");
        }
    }
    // The text form names the versions and, where they part, the call.
    let (status, out, _) = snapshot(&dir, &["--across-kernels"]);
    assert_eq!(status, 0);
    assert!(
        out.starts_with("edge-triggered-drain (edge-triggered-drain.scn): "),
        "{out}"
    );
    if out.contains("event orders differ") {
        assert!(out.contains("they part at line "), "{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Status 2, one line on stderr, nothing on stdout, no file written.
fn input_error(dir: &Path, args: &[&str]) -> String {
    let before = files(dir);
    let (status, out, err) = snapshot(dir, args);
    assert_eq!(status, 2, "{args:?}: {out}{err}");
    assert!(out.is_empty(), "{args:?}: {out}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert_eq!(files(dir), before, "{args:?} wrote files");
    err
}

#[test]
fn input_errors_are_one_line_and_write_nothing() {
    let dir = scratch("errors");
    let error = input_error(&dir, &["--kernel", "9.9.9"]);
    assert!(
        error.contains("--kernel 9.9.9: unknown kernel version, expected one of "),
        "{error}"
    );
    assert!(error.contains(KernelVersion::ALL[0].name()), "{error}");
    let error = input_error(&dir, &["snapshots-of-nothing", "--check"]);
    assert!(
        error.contains("cannot read snapshots-of-nothing"),
        "{error}"
    );
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let error = input_error(&dir, &["empty", "--check"]);
    assert!(
        error.contains("no .scn scenario files under empty"),
        "{error}"
    );
    let error = input_error(&dir, &["no-such-dir"]);
    assert!(error.contains("cannot read no-such-dir"), "{error}");
    // A scenario that does not parse stops everything before any run or write.
    std::fs::write(
        dir.join("nested/broken.scn"),
        "process p { task t { frob() } }\n",
    )
    .unwrap();
    let error = input_error(&dir, &[]);
    assert!(error.starts_with("error: nested/broken.scn:1:"), "{error}");
    std::fs::remove_file(dir.join("nested/broken.scn")).unwrap();
    // A snapshot file that is not insta's format is named — the last scenario's, so that
    // the others' snapshots would be written first if the command wrote as it went.
    std::fs::create_dir_all(dir.join("nested/snapshots")).unwrap();
    std::fs::write(
        dir.join(format!(
            "nested/{}",
            snap("two-workers", KernelVersion::ALL[0])
        )),
        "hello\n",
    )
    .unwrap();
    for mode in ["--check", "--accept"] {
        let error = input_error(&dir, &[mode]);
        assert!(error.contains("not an insta snapshot"), "{error}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_example_crates_snapshots_match_through_the_binary_and_its_script() {
    let scenarios = examples().join("scenarios");
    let (status, out, err) = snapshot(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["--check", scenarios.to_str().unwrap()],
    );
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains(" match"), "{out}");
    let output = std::process::Command::new("sh")
        .arg(examples().join("check-snapshots.sh"))
        .env("EPSIM", assert_cmd::cargo::cargo_bin!("epsim"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn a_version_without_a_scenarios_call_is_skipped_with_the_reason() {
    let dir = scratch("skipped");
    let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/eventfd-basics.scn");
    std::fs::copy(&library, dir.join("eventfd-basics.scn")).unwrap();
    let scenario = workloads::api::load(&library).unwrap();
    let output = epsim()
        .current_dir(&dir)
        .args(["snapshot", "--accept", "--json", "eventfd-basics.scn"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let entries = json["snapshots"].as_array().unwrap();
    assert_eq!(entries.len(), KernelVersion::ALL.len());
    for (entry, kernel) in entries.iter().zip(KernelVersion::ALL) {
        let written = dir.join(snap("eventfd-basics", kernel)).exists();
        match workloads::api::unsupported_on(&scenario, kernel) {
            Some(reason) => {
                assert_eq!(entry["status"], "skipped", "{entry}");
                assert_eq!(entry["reason"], reason.as_str());
                assert!(!written, "{}", kernel.name());
            }
            None => {
                assert_eq!(entry["status"], "accepted", "{entry}");
                assert!(written, "{}", kernel.name());
            }
        }
    }
    // The text says why, and a skipped version does not fail --check.
    let (status, out, _) = snapshot(&dir, &["--check", "eventfd-basics.scn"]);
    assert_eq!(status, 0, "{out}");
    for kernel in KernelVersion::ALL {
        if let Some(reason) = workloads::api::unsupported_on(&scenario, kernel) {
            assert!(out.contains(&format!(" skipped   {reason}")), "{out}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
