//! `epsim snapshot`: the event order of every scenario under some paths, on each kernel
//! version, kept as insta snapshots beside the scenarios (`DIR/snapshots/NAME@K.snap`)
//! and checked against them.
//!
//! Three modes: by default a snapshot that is missing or differs is written as
//! `.snap.new` for review (`cargo insta review`, or `--accept`) and the command fails;
//! `--check` (CI) writes nothing and fails on any difference or missing snapshot;
//! `--accept` writes every snapshot as `.snap`. `--across-kernels` instead compares the
//! versions with each other. Every scenario is read and parsed before anything is run
//! or written, so an input error (status 2) leaves the files as they were.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use kernel_model::KernelVersion;
use serde::Serialize;

use crate::cli::SnapshotArgs;
use crate::event_order;
use crate::exit::{CliError, Exit};
use crate::output::write_json;
use crate::scenario::Scenario;
use crate::snapshot_file;

/// The most scenario files one command takes.
pub const SCENARIO_FILES_MAX: usize = 10_000;
/// How deep directories are searched below a path given.
pub const DIRECTORY_DEPTH_MAX: usize = 32;
/// The most lines of one diff printed (the rest are counted).
pub const DIFF_LINES_MAX: usize = 400;
/// The folder beside a scenario that holds its snapshots (insta's convention).
pub const SNAPSHOT_FOLDER: &str = "snapshots";

/// What to do with a snapshot that is missing or differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Write `.snap.new` for review; fail.
    Review,
    /// Write nothing; fail.
    Check,
    /// Write `.snap`.
    Accept,
}

/// A scenario file, read and parsed.
struct Input {
    /// The path as found from the paths given (for messages and output).
    path: PathBuf,
    scenario: Scenario,
}

/// What became of one scenario's snapshot on one version.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotEntry {
    pub scenario: String,
    pub name: String,
    pub kernel: String,
    /// The `.snap` file (`null` when skipped).
    pub snapshot: Option<String>,
    /// `match`, `new` (a `.snap.new` written), `changed` (a `.snap.new` written, or with
    /// `--check` nothing), `missing` (`--check`), `accepted` (`.snap` written), `skipped`,
    /// `unreferenced` (a snapshot of this scenario for a version the simulator no longer
    /// has, by that name: left alone, and no failure).
    pub status: &'static str,
    /// Why a version was skipped.
    pub reason: Option<String>,
    /// The unified diff from the snapshot to the event order now (`changed`, `accepted`
    /// over an older snapshot).
    pub diff: Option<String>,
}

#[derive(Serialize)]
struct SnapshotReport<'a> {
    snapshots: &'a [SnapshotEntry],
    passed: bool,
}

/// Runs `epsim snapshot`.
pub fn run(args: &SnapshotArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let kernels = requested_kernels(&args.kernels)?;
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let inputs = read_inputs(&scenario_files(&paths)?)?;
    if args.across_kernels {
        return across_kernels(&inputs, kernels.as_deref(), args.json, out);
    }
    let mode = if args.check {
        Mode::Check
    } else if args.accept {
        Mode::Accept
    } else {
        Mode::Review
    };
    let mut entries = Vec::new();
    let mut changes = Vec::new();
    for input in &inputs {
        for kernel in kernels_for(kernels.as_deref()) {
            entries.push(snapshot_one(input, kernel, mode, &mut changes)?);
        }
        entries.extend(unreferenced(input));
    }
    for change in &changes {
        change.apply()?;
    }
    let passed = entries
        .iter()
        .all(|e| matches!(e.status, "match" | "accepted" | "skipped" | "unreferenced"));
    if args.json {
        write_json(
            out,
            &SnapshotReport {
                snapshots: &entries,
                passed,
            },
        )?;
    } else {
        write_text(&entries, mode, out)?;
    }
    Ok(if passed { Exit::Clean } else { Exit::Failed })
}

/// The versions `--kernel` names (by name or alias), or `None` for the default.
fn requested_kernels(names: &[String]) -> Result<Option<Vec<KernelVersion>>, CliError> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut kernels = Vec::new();
    for name in names {
        let kernel = KernelVersion::parse(name).ok_or_else(|| {
            let known: Vec<&str> = KernelVersion::ALL.iter().map(|k| k.name()).collect();
            CliError::usage(format!(
                "--kernel {name}: unknown kernel version, expected one of {}",
                known.join(", ")
            ))
        })?;
        if !kernels.contains(&kernel) {
            kernels.push(kernel);
        }
    }
    Ok(Some(kernels))
}

fn kernels_for(requested: Option<&[KernelVersion]>) -> Vec<KernelVersion> {
    requested.map_or_else(|| KernelVersion::ALL.to_vec(), <[_]>::to_vec)
}

/// Every scenario file under `paths`: a file given is taken whatever its name; a
/// directory is searched for `*.scn` files, each directory's entries in sorted order,
/// skipping hidden directories and `target`. A file reached twice counts once.
fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path)
            .map_err(|error| CliError::usage(format!("cannot read {}: {error}", path.display())))?;
        if metadata.is_dir() {
            search(path, 0, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    if files.is_empty() {
        // A CI step pointed at the wrong directory must not pass on nothing.
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(CliError::usage(format!(
            "no .scn scenario files under {}",
            shown.join(" ")
        )));
    }
    let mut seen = BTreeSet::new();
    files.retain(|file| seen.insert(std::fs::canonicalize(file).unwrap_or_else(|_| file.clone())));
    if files.len() > SCENARIO_FILES_MAX {
        return Err(CliError::usage(format!(
            "{} scenario files found, more than the {SCENARIO_FILES_MAX} one command takes; give fewer paths",
            files.len()
        )));
    }
    Ok(files)
}

fn search(dir: &Path, depth: usize, files: &mut Vec<PathBuf>) -> Result<(), CliError> {
    if depth > DIRECTORY_DEPTH_MAX {
        return Err(CliError::usage(format!(
            "{}: directories nested deeper than {DIRECTORY_DEPTH_MAX} levels",
            dir.display()
        )));
    }
    let unreadable =
        |error: std::io::Error| CliError::usage(format!("cannot read {}: {error}", dir.display()));
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        // `epsim snapshot` (the current directory) shows `a.scn`, not `./a.scn`.
        entries.push(if dir == Path::new(".") {
            PathBuf::from(entry.file_name())
        } else {
            entry.path()
        });
    }
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // Symbolic links to directories are not followed (no cycles); to files they are.
        let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        if path.is_dir() {
            if !is_link && !name.starts_with('.') && name != "target" {
                search(&path, depth + 1, files)?;
            }
        } else if path.extension().is_some_and(|e| e == "scn") && path.is_file() {
            files.push(path);
        }
        if files.len() > SCENARIO_FILES_MAX {
            return Err(CliError::usage(format!(
                "more than {SCENARIO_FILES_MAX} scenario files under {}; give fewer paths",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Reads and parses every file before anything runs: an input error is status 2 and
/// nothing is written.
fn read_inputs(files: &[PathBuf]) -> Result<Vec<Input>, CliError> {
    files
        .iter()
        .map(|path| {
            let scenario =
                crate::api::load(path).map_err(|error| CliError::usage(error.to_string()))?;
            Ok(Input {
                path: path.clone(),
                scenario,
            })
        })
        .collect()
}

/// `DIR/snapshots/STEM@VERSION.snap` for the scenario `DIR/STEM.scn`.
pub fn snapshot_path(scenario: &Path, kernel: KernelVersion) -> PathBuf {
    let stem = scenario
        .file_stem()
        .map_or_else(|| "scenario".into(), |s| s.to_string_lossy());
    scenario
        .parent()
        .unwrap_or(Path::new(""))
        .join(SNAPSHOT_FOLDER)
        .join(format!("{stem}@{}.snap", kernel.name()))
}

/// The `.snap.new` beside a `.snap`.
fn pending_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// The body of a snapshot: the scenario's name and description, then its event order
/// on `kernel` ([`crate::api::snapshot_text`]).
pub fn snapshot_body(scenario: &Scenario, kernel: KernelVersion) -> String {
    let options = crate::api::RunOptions::new().kernel(kernel);
    crate::api::snapshot_text(scenario, &options).unwrap_or_else(|error| {
        format!(
            "{}: {}\noptions refused: {error}\n",
            scenario.name(),
            scenario.description()
        )
    })
}

/// A change to the files, made once every snapshot has been compared.
enum FileChange {
    /// Write `text` to the path.
    Write(PathBuf, String),
    /// Remove a stale `.snap.new` if there is one.
    RemoveStale(PathBuf),
}

impl FileChange {
    fn apply(&self) -> Result<(), CliError> {
        match self {
            FileChange::Write(path, text) => write_file(path, text),
            FileChange::RemoveStale(path) => remove_stale(path),
        }
    }
}

/// Compares one scenario's snapshot on one version, saying what to change on disk
/// (nothing is changed here, so a bad snapshot file found later leaves every file as
/// it was).
fn snapshot_one(
    input: &Input,
    kernel: KernelVersion,
    mode: Mode,
    changes: &mut Vec<FileChange>,
) -> Result<SnapshotEntry, CliError> {
    let scenario = &input.scenario;
    let mut entry = SnapshotEntry {
        scenario: input.path.display().to_string(),
        name: scenario.name(),
        kernel: kernel.name().to_string(),
        snapshot: None,
        status: "skipped",
        reason: None,
        diff: None,
    };
    if let Some(reason) = event_order::unsupported_on(scenario, kernel) {
        entry.reason = Some(reason);
        return Ok(entry);
    }
    let path = snapshot_path(&input.path, kernel);
    let pending = pending_path(&path);
    entry.snapshot = Some(path.display().to_string());
    let body = snapshot_body(scenario, kernel);
    let now = snapshot_file::normalize(&body);
    let before = read_snapshot(&path)?;
    if before.as_deref() == Some(now.as_str()) {
        entry.status = "match";
        if mode != Mode::Check {
            changes.push(FileChange::RemoveStale(pending));
        }
        return Ok(entry);
    }
    if let Some(before) = &before {
        entry.diff = Some(unified_diff(before, &now, &path));
    }
    let header = snapshot_file::Header {
        source: input
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        description: scenario.description().to_string(),
        expression: format!("epsim snapshot --kernel {}", kernel.name()),
    };
    let file = snapshot_file::write(&header, &body);
    entry.status = match (mode, before.is_some()) {
        (Mode::Check, true) => "changed",
        (Mode::Check, false) => "missing",
        (Mode::Review, changed) => {
            changes.push(FileChange::Write(pending, file));
            if changed {
                "changed"
            } else {
                "new"
            }
        }
        (Mode::Accept, _) => {
            changes.push(FileChange::Write(path, file));
            changes.push(FileChange::RemoveStale(pending));
            "accepted"
        }
    };
    Ok(entry)
}

/// The snapshots of `input`'s scenario for versions the simulator does not have (by
/// name): what is left of a version renamed or removed. Reported, never removed.
fn unreferenced(input: &Input) -> Vec<SnapshotEntry> {
    let Some(stem) = input
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
    else {
        return Vec::new();
    };
    let folder = input
        .path
        .parent()
        .unwrap_or(Path::new(""))
        .join(SNAPSHOT_FOLDER);
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = name
                .strip_prefix(&stem)?
                .strip_prefix('@')?
                .strip_suffix(".snap")?;
            let known = KernelVersion::ALL.iter().any(|k| k.name() == version);
            (!known && !version.contains('@')).then(|| (version.to_string(), folder.join(&name)))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|(version, path)| SnapshotEntry {
            scenario: input.path.display().to_string(),
            name: input.scenario.name(),
            kernel: version,
            snapshot: Some(path.display().to_string()),
            status: "unreferenced",
            reason: Some("no kernel version has this name now; delete it once its successor's snapshot is accepted".to_string()),
            diff: None,
        })
        .collect()
}

/// The normalized body of the snapshot at `path`, or `None` when there is none.
fn read_snapshot(path: &Path) -> Result<Option<String>, CliError> {
    let bad = |reason: String| CliError::usage(format!("{}: {reason}", path.display()));
    match std::fs::metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(bad(error.to_string())),
        Ok(metadata) if metadata.len() > snapshot_file::FILE_BYTES_MAX => {
            return Err(bad(format!(
                "larger than {} bytes, which no snapshot is",
                snapshot_file::FILE_BYTES_MAX
            )))
        }
        Ok(_) => {}
    }
    let text = std::fs::read_to_string(path).map_err(|error| bad(error.to_string()))?;
    snapshot_file::read_body(&text).map(Some).map_err(bad)
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    let failed = |error: std::io::Error| {
        CliError::usage(format!("cannot write {}: {error}", path.display()))
    };
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(failed)?;
    }
    std::fs::write(path, text).map_err(failed)
}

/// Removes a `.snap.new` that a snapshot now matching (or just accepted) left behind.
fn remove_stale(pending: &Path) -> Result<(), CliError> {
    match std::fs::remove_file(pending) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(CliError::usage(format!(
            "cannot remove {}: {error}",
            pending.display()
        ))),
    }
}

/// A unified diff (3 lines of context) from the snapshot at `path` to the event order
/// now, at most [`DIFF_LINES_MAX`] lines.
fn unified_diff(before: &str, now: &str, path: &Path) -> String {
    let before = format!("{before}\n");
    let now = format!("{now}\n");
    let diff = similar::TextDiff::from_lines(&before, &now);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&path.display().to_string(), "the event order now")
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= DIFF_LINES_MAX {
        return text;
    }
    let mut out = lines[..DIFF_LINES_MAX].join("\n");
    out.push_str(&format!(
        "\n... {} more lines of diff\n",
        lines.len() - DIFF_LINES_MAX
    ));
    out
}

fn write_text(entries: &[SnapshotEntry], mode: Mode, out: &mut dyn Write) -> Result<(), CliError> {
    let mut scenario = None;
    for entry in entries {
        if scenario != Some(&entry.scenario) {
            writeln!(out, "{}", entry.scenario)?;
            scenario = Some(&entry.scenario);
        }
        let what = match (entry.status, &entry.snapshot, &entry.reason) {
            ("skipped", _, reason) => reason.clone().unwrap_or_default(),
            ("unreferenced", Some(path), Some(reason)) => format!("{path}: {reason}"),
            ("new" | "changed", Some(path), _) if mode == Mode::Review => {
                format!("{path}.new written")
            }
            (_, Some(path), _) => path.clone(),
            _ => String::new(),
        };
        writeln!(out, "  {:<14} {:<9} {what}", entry.kernel, entry.status)?;
        if let Some(diff) = &entry.diff {
            for line in diff.lines() {
                writeln!(out, "    {line}")?;
            }
        }
    }
    let count = |status: &str| entries.iter().filter(|e| e.status == status).count();
    let parts: Vec<String> = [
        "match",
        "changed",
        "new",
        "missing",
        "accepted",
        "skipped",
        "unreferenced",
    ]
    .iter()
    .filter(|status| count(status) > 0)
    .map(|status| format!("{} {status}", count(status)))
    .collect();
    writeln!(out, "{} snapshot(s): {}", entries.len(), parts.join(", "))?;
    let pending = count("new") + count("changed");
    if mode == Mode::Review && pending > 0 {
        writeln!(
            out,
            "review the .snap.new files with `cargo insta review` (in the Cargo package that holds them), or accept them all with `epsim snapshot PATHS --accept`"
        )?;
    }
    if mode == Mode::Check && pending + count("missing") > 0 {
        writeln!(
            out,
            "run `epsim snapshot PATHS` to write the new event orders as .snap.new for review"
        )?;
    }
    Ok(())
}

/// How the versions compare on one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Agreement {
    pub scenario: String,
    pub name: String,
    /// Versions with the same event order, grouped, in [`KernelVersion::ALL`] order.
    pub groups: Vec<Vec<String>>,
    pub skipped: Vec<Skipped>,
    /// The first line of the event order where the groups part (`null` when they agree).
    pub first_difference: Option<FirstDifference>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub kernel: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct FirstDifference {
    /// 1-based, counting the lines of results (calls, then expectations and reports).
    pub line: usize,
    /// What each group has there, named by its first version.
    pub lines: Vec<GroupLine>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupLine {
    pub kernel: String,
    /// `null`: that group's event order ended before this line.
    pub line: Option<String>,
}

/// Compares the event order of each scenario across the versions.
pub fn agreement(path: &Path, scenario: &Scenario, kernels: &[KernelVersion]) -> Agreement {
    let mut groups: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let mut skipped = Vec::new();
    for &kernel in kernels {
        if let Some(reason) = event_order::unsupported_on(scenario, kernel) {
            skipped.push(Skipped {
                kernel: kernel.name().to_string(),
                reason,
            });
            continue;
        }
        let text = event_order::render(scenario, kernel);
        let lines: Vec<String> = event_order::results_lines(&text)
            .into_iter()
            .map(str::to_string)
            .collect();
        match groups.iter_mut().find(|(_, l)| *l == lines) {
            Some((names, _)) => names.push(kernel.name().to_string()),
            None => groups.push((vec![kernel.name().to_string()], lines)),
        }
    }
    let first_difference = (groups.len() > 1).then(|| {
        let longest = groups.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
        let index = (0..longest)
            .find(|&i| groups.iter().any(|(_, l)| l.get(i) != groups[0].1.get(i)))
            .unwrap_or(longest);
        FirstDifference {
            line: index + 1,
            lines: groups
                .iter()
                .map(|(names, lines)| GroupLine {
                    kernel: names[0].clone(),
                    line: lines.get(index).cloned(),
                })
                .collect(),
        }
    });
    Agreement {
        scenario: path.display().to_string(),
        name: scenario.name(),
        groups: groups.into_iter().map(|(names, _)| names).collect(),
        skipped,
        first_difference,
    }
}

#[derive(Serialize)]
struct AgreementReport<'a> {
    scenarios: &'a [Agreement],
}

fn across_kernels(
    inputs: &[Input],
    requested: Option<&[KernelVersion]>,
    json: bool,
    out: &mut dyn Write,
) -> Result<Exit, CliError> {
    let kernels = kernels_for(requested);
    let report: Vec<Agreement> = inputs
        .iter()
        .map(|input| agreement(&input.path, &input.scenario, &kernels))
        .collect();
    if json {
        write_json(out, &AgreementReport { scenarios: &report })?;
        return Ok(Exit::Clean);
    }
    for entry in &report {
        let groups: Vec<String> = entry
            .groups
            .iter()
            .map(|names| format!("[{}]", names.join(", ")))
            .collect();
        let verdict = match groups.len() {
            0 => "no version runs it".to_string(),
            1 => format!("the same event order on {}", groups[0]),
            _ => format!("event orders differ; alike: {}", groups.join(" ")),
        };
        writeln!(out, "{} ({}): {verdict}", entry.name, entry.scenario)?;
        for skipped in &entry.skipped {
            writeln!(out, "  skipped on {}: {}", skipped.kernel, skipped.reason)?;
        }
        if let Some(difference) = &entry.first_difference {
            writeln!(
                out,
                "  they part at line {} of the results:",
                difference.line
            )?;
            for group in &difference.lines {
                writeln!(
                    out,
                    "    {:<14} {}",
                    group.kernel,
                    group
                        .line
                        .as_deref()
                        .unwrap_or("(its event order ends before)")
                )?;
            }
        }
    }
    Ok(Exit::Clean)
}
