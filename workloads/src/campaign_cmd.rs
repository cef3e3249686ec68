//! `epsim campaign`: every scenario of the library and every generated program
//! ([`crate::campaign_programs`]) on every kernel version and memory model asked for, at
//! access granularity; reports by kind per version and model.
//!
//! A *unit* is one program on one version under one model. Each unit is explored by the
//! one strategy switch, `--unit-strategy` ([`UnitStrategy`]): by default DPOR (one
//! execution per equivalence class of interleavings) for at most `--runs` executions, or
//! a bounded depth-first search; and when that search does not finish, `--runs` PCT runs
//! besides.
//! A unit's result depends on the unit and the settings only, never on the wall clock
//! or on which thread or shard ran it: so `--jobs`, `--shard I/N` + `epsim merge` and
//! `--resume` give the same units. `--budget-s` only stops the campaign from starting
//! new units; the output lists how many it did not reach.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kernel_model::KernelVersion;
use serde::{Deserialize, Serialize};
use sim::{MemoryModel, StrategyKind};

use crate::campaign_programs::{self, Program};
use crate::cli::{CampaignArgs, CommonOpts, GranularityArg, KernelArg, ModelArg};
use crate::exit::{CliError, Exit};
use crate::explore_cmd::{self, Found, Job, Progress, Shard, ShardJson, Tally};
use crate::merge_cmd;
use crate::output::{write_json, Table};
use crate::scenario::{self, Scenario};
use crate::session::{self, Plan, Resolved};

/// How a unit is explored: a systematic search for at most `--runs` executions, then,
/// when it did not finish, `--runs` PCT runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitStrategy {
    /// DPOR where it finishes, PCT where it does not (the default).
    DporThenPct,
    /// Bounded dfs (≤ 2 preemptions, ≤ 2 delayed drains), then PCT.
    DfsThenPct,
}

impl UnitStrategy {
    /// The name in the settings (`dpor+pct`, `dfs+pct`).
    pub fn name(self) -> &'static str {
        match self {
            UnitStrategy::DporThenPct => "dpor+pct",
            UnitStrategy::DfsThenPct => "dfs+pct",
        }
    }
}

/// Where a unit's program comes from.
#[derive(Clone, Debug)]
enum Source {
    Library(&'static scenario::BuiltinScenario),
    Generated(Program),
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::Library(b) => b.name.to_string(),
            Source::Generated(p) => p.name(),
        }
    }

    fn text(&self) -> String {
        match self {
            Source::Library(b) => b.text.to_string(),
            Source::Generated(p) => p.text(),
        }
    }

    fn file(&self) -> String {
        match self {
            Source::Library(b) => b.file(),
            Source::Generated(p) => format!("campaign:{}", p.name()),
        }
    }
}

/// One program on one version under one model.
#[derive(Clone, Debug)]
struct Unit {
    index: u64,
    source: Source,
    kernel: KernelVersion,
    model: MemoryModel,
}

/// The settings a campaign's units depend on (a resume file must have the same).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsJson {
    pub kernels: Vec<String>,
    pub models: Vec<String>,
    pub granularity: String,
    /// `dpor+pct` or `dfs+pct`: the search, then PCT when it did not finish.
    pub strategy: String,
    /// dfs: the most executions per unit; PCT: the runs per unit.
    pub runs_per_unit: u64,
    pub preemption_bound: u32,
    pub delay_bound: u32,
    /// Units in the whole campaign (every shard).
    pub units: u64,
    /// `--only`: the program name prefixes run (empty: every program).
    #[serde(default)]
    pub only: Vec<String>,
}

/// The first report of a unit, with the command that replays it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnitReportJson {
    pub kind: String,
    /// `dpor`, `dfs` or `pct`: the phase whose run it was.
    pub strategy: String,
    pub run: u64,
    pub seed: u64,
    pub message: String,
    pub schedule: String,
    pub replay_command: String,
}

/// One unit's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnitJson {
    pub index: u64,
    pub program: String,
    pub kernel: String,
    pub model: String,
    /// Why the unit could not run there (a system call or flag the version lacks).
    pub skipped: Option<String>,
    /// `exhaustive` (the search finished, nothing cut it), `complete within bounds`
    /// (it finished, but bounds, the step budget or a divergence cut some of it),
    /// `search cut, then pct` (it did not finish in
    /// `runs_per_unit` executions; PCT ran as well).
    pub search: String,
    pub runs: u64,
    pub distinct_traces: u64,
    /// Runs with a report of each kind the program does not expect (known findings
    /// apart).
    pub reports: BTreeMap<String, u64>,
    /// Runs with a report of each kind the program expects (`expect report KIND`).
    pub expected_reports: BTreeMap<String, u64>,
    /// Report kinds the program expects that no run made.
    pub expected_missing: Vec<String>,
    /// Runs in which each documented finding showed.
    pub findings: BTreeMap<String, u64>,
    pub first_report: Option<UnitReportJson>,
    /// The first run of each finding.
    pub first_findings: BTreeMap<String, UnitReportJson>,
}

/// One row of the table: one version under one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowJson {
    pub kernel: String,
    pub model: String,
    pub units: u64,
    pub skipped: u64,
    pub runs: u64,
    pub exhaustive: u64,
    pub complete_within_bounds: u64,
    pub cut_then_pct: u64,
    /// Units with an unexpected report of each kind.
    pub reports: BTreeMap<String, u64>,
    /// Units in which each documented finding showed.
    pub findings: BTreeMap<String, u64>,
    /// Units whose program's expected report no run made.
    pub expected_missing: u64,
}

/// The JSON of a campaign (and of `epsim merge` of its shards).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CampaignJson {
    pub campaign: SettingsJson,
    pub shard: Option<ShardJson>,
    /// Units of this shard.
    pub units_planned: u64,
    /// Units finished (run or skipped), those read from a resume file included.
    pub units_done: u64,
    /// `--budget-s` ran out before these units of this shard started.
    pub units_not_reached: u64,
    pub table: Vec<RowJson>,
    /// Units with an unexpected report.
    pub failed_units: u64,
    pub units: Vec<UnitJson>,
}

fn model_arg(model: MemoryModel) -> ModelArg {
    match model {
        MemoryModel::Sc => ModelArg::Sc,
        MemoryModel::Tso => ModelArg::Tso,
        MemoryModel::Pso => ModelArg::Pso,
    }
}

/// Every unit, in order: the library's scenarios, then the pairs, then the triples;
/// for each, every version, and under each version every model.
fn units(kernels: &[KernelVersion], models: &[MemoryModel]) -> Vec<Unit> {
    let sources = scenario::list()
        .iter()
        .map(Source::Library)
        .chain(campaign_programs::all().into_iter().map(Source::Generated));
    let mut units = Vec::new();
    for source in sources {
        for &kernel in kernels {
            for &model in models {
                units.push(Unit {
                    index: units.len() as u64,
                    source: source.clone(),
                    kernel,
                    model,
                });
            }
        }
    }
    units
}

fn settings(
    args: &CampaignArgs,
    kernels: &[KernelVersion],
    models: &[MemoryModel],
) -> SettingsJson {
    SettingsJson {
        kernels: kernels.iter().map(|k| k.name().to_string()).collect(),
        models: models.iter().map(|m| m.name().to_string()).collect(),
        granularity: "access".into(),
        strategy: args.unit_strategy.strategy().name().into(),
        runs_per_unit: args.runs,
        preemption_bound: crate::cli::PREEMPTION_BOUND_DEFAULT,
        delay_bound: crate::cli::DELAY_BOUND_DEFAULT,
        units: units(kernels, models).len() as u64,
        only: args.only.clone(),
    }
}

fn report_json(
    source: &Source,
    resolved: &Resolved,
    strategy: &str,
    found: &Found,
) -> UnitReportJson {
    let schedule = found.schedule.encode();
    let target = match source {
        Source::Library(b) => b.name.to_string(),
        Source::Generated(p) => format!("{}.scn", p.name()),
    };
    let mut replay = session::replay_command(&target, resolved, found.seed, &schedule);
    if let Source::Generated(p) = source {
        replay = format!(
            "epsim campaign --show {} > {}.scn && {replay}",
            p.name(),
            p.name()
        );
    }
    UnitReportJson {
        kind: found.kind.name().to_string(),
        strategy: strategy.to_string(),
        run: found.run,
        seed: found.seed,
        message: found.message.clone(),
        schedule,
        replay_command: replay,
    }
}

fn skipped(unit: &Unit, why: String) -> UnitJson {
    UnitJson {
        index: unit.index,
        program: unit.source.name(),
        kernel: unit.kernel.name().to_string(),
        model: unit.model.name().to_string(),
        skipped: Some(why),
        search: String::new(),
        runs: 0,
        distinct_traces: 0,
        reports: BTreeMap::new(),
        expected_reports: BTreeMap::new(),
        expected_missing: Vec::new(),
        findings: BTreeMap::new(),
        first_report: None,
        first_findings: BTreeMap::new(),
    }
}

/// Explores one unit.
fn run_unit(unit: &Unit, settings: &SettingsJson) -> Result<UnitJson, CliError> {
    let text = unit.source.text();
    let scenario = session::parse(&unit.source.file(), &text)?;
    let why = match &unit.source {
        Source::Generated(p) => p.unsupported_on(unit.kernel),
        Source::Library(_) => None,
    }
    .or_else(|| scenario.unsupported_on(unit.kernel));
    if let Some(why) = why {
        return Ok(skipped(unit, why.to_string()));
    }
    let common = CommonOpts {
        kernel: Some(KernelArg(unit.kernel)),
        model: Some(model_arg(unit.model)),
        granularity: Some(GranularityArg::Access),
        ..CommonOpts::default()
    };
    let resolved = match session::resolve(&scenario, &common) {
        Ok(resolved) => resolved,
        Err(e) => return Ok(skipped(unit, e.to_string())),
    };
    let job = |plan: Plan| Job {
        file: scenario.file.clone(),
        text: scenario.text.clone(),
        options: resolved.options.clone(),
        plan,
        seed: resolved.seed,
        runs: settings.runs_per_unit,
        jobs: 1,
        shard: Shard::ALL,
        time_limit: None,
    };
    let kind = if settings.strategy == UnitStrategy::DfsThenPct.name() {
        StrategyKind::Dfs
    } else {
        StrategyKind::Dpor
    };
    let mut search_plan = Plan::new(kind);
    search_plan.preemption_bound = Some(settings.preemption_bound);
    search_plan.delay_bound = Some(settings.delay_bound);
    let dfs = explore_cmd::explore(&job(search_plan), &Progress::default())?;
    let mut phases = vec![(kind.name(), dfs.clone())];
    let search = if dfs.exhaustive() {
        "exhaustive"
    } else if dfs.search_complete {
        "complete within bounds"
    } else {
        let mut pct_plan = Plan::new(StrategyKind::Pct);
        pct_plan.pct_estimate = session::pct_estimate(&scenario, &resolved.options);
        phases.push((
            "pct",
            explore_cmd::explore(&job(pct_plan), &Progress::default())?,
        ));
        "search cut, then pct"
    };
    Ok(unit_json(unit, &scenario, &resolved, search, &phases))
}

fn unit_json(
    unit: &Unit,
    scenario: &Scenario,
    resolved: &Resolved,
    search: &str,
    phases: &[(&str, Tally)],
) -> UnitJson {
    let expected = scenario.expected_reports();
    let mut json = skipped(unit, String::new());
    json.skipped = None;
    json.search = search.to_string();
    let mut hashes = std::collections::BTreeSet::new();
    let mut found_expected = std::collections::BTreeSet::new();
    for (strategy, tally) in phases {
        json.runs += tally.runs;
        hashes.extend(tally.hashes.iter().copied());
        found_expected.extend(tally.expected_found.iter().copied());
        for (kind, n) in &tally.reports {
            let map = if expected.contains(kind) {
                &mut json.expected_reports
            } else {
                &mut json.reports
            };
            *map.entry(kind.name().to_string()).or_insert(0) += n;
        }
        for (name, n) in &tally.findings {
            *json.findings.entry(name.to_string()).or_insert(0) += n;
            let first = &tally.first_findings[name];
            json.first_findings
                .entry(name.to_string())
                .or_insert_with(|| report_json(&unit.source, resolved, strategy, first));
        }
        if json.first_report.is_none() {
            if let Some(found) = &tally.first_unexpected {
                json.first_report = Some(report_json(&unit.source, resolved, strategy, found));
            }
        }
    }
    json.distinct_traces = hashes.len() as u64;
    json.expected_missing = expected
        .iter()
        .filter(|k| !found_expected.contains(k))
        .map(|k| k.name().to_string())
        .collect();
    json
}

/// The table of `units`: one row per version and model, in the settings' order.
fn table(settings: &SettingsJson, units: &[UnitJson]) -> Vec<RowJson> {
    let mut rows = Vec::new();
    for kernel in &settings.kernels {
        for model in &settings.models {
            let mut row = RowJson {
                kernel: kernel.clone(),
                model: model.clone(),
                units: 0,
                skipped: 0,
                runs: 0,
                exhaustive: 0,
                complete_within_bounds: 0,
                cut_then_pct: 0,
                reports: BTreeMap::new(),
                findings: BTreeMap::new(),
                expected_missing: 0,
            };
            for unit in units
                .iter()
                .filter(|u| &u.kernel == kernel && &u.model == model)
            {
                row.units += 1;
                if unit.skipped.is_some() {
                    row.skipped += 1;
                    continue;
                }
                row.runs += unit.runs;
                match unit.search.as_str() {
                    "exhaustive" => row.exhaustive += 1,
                    "complete within bounds" => row.complete_within_bounds += 1,
                    _ => row.cut_then_pct += 1,
                }
                for kind in unit.reports.keys() {
                    *row.reports.entry(kind.clone()).or_insert(0) += 1;
                }
                for name in unit.findings.keys() {
                    *row.findings.entry(name.clone()).or_insert(0) += 1;
                }
                row.expected_missing += u64::from(!unit.expected_missing.is_empty());
            }
            rows.push(row);
        }
    }
    rows
}

fn finish(
    settings: SettingsJson,
    shard: Option<ShardJson>,
    units_planned: u64,
    mut units: Vec<UnitJson>,
) -> CampaignJson {
    units.sort_by_key(|u| u.index);
    let failed_units = units.iter().filter(|u| !u.reports.is_empty()).count() as u64;
    CampaignJson {
        table: table(&settings, &units),
        campaign: settings,
        shard,
        units_planned,
        units_done: units.len() as u64,
        units_not_reached: units_planned - units.len() as u64,
        failed_units,
        units,
    }
}

/// Exit status: 0 no unit made an unexpected report and every unit was reached; 1 a
/// unit made one; 0 with units not reached is still 0 (the output says so).
pub fn exit_of(json: &CampaignJson) -> Exit {
    if json.failed_units > 0 {
        Exit::Failed
    } else {
        Exit::Clean
    }
}

/// The resume file: a first line with the settings, then one line per finished unit.
struct Resume {
    file: Mutex<std::fs::File>,
}

impl Resume {
    /// Opens (or creates) `path`; returns the units it already has.
    fn open(
        path: &Path,
        settings: &SettingsJson,
        shard: Shard,
    ) -> Result<(Resume, Vec<UnitJson>), CliError> {
        let header = serde_json::json!({ "epsim_campaign_resume": settings, "shard": [shard.index, shard.count] });
        let mut done = Vec::new();
        let exists = path.exists();
        if exists {
            let file = std::fs::File::open(path)
                .map_err(|e| CliError::usage(format!("{}: cannot read: {e}", path.display())))?;
            let mut lines = std::io::BufReader::new(file).lines();
            let first = lines.next().transpose().ok().flatten().unwrap_or_default();
            let theirs: serde_json::Value = serde_json::from_str(&first).unwrap_or_default();
            if theirs != header {
                return Err(CliError::usage(format!(
                    "{}: is the progress of a campaign with other settings (or not a resume file); give another --resume file",
                    path.display()
                )));
            }
            // A last line cut short by a kill is not a unit: it runs again.
            for line in lines.map_while(Result::ok) {
                if let Ok(unit) = serde_json::from_str::<UnitJson>(&line) {
                    done.push(unit);
                }
            }
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| CliError::usage(format!("{}: cannot write: {e}", path.display())))?;
        if !exists {
            writeln!(file, "{header}")?;
        }
        Ok((
            Resume {
                file: Mutex::new(file),
            },
            done,
        ))
    }

    fn record(&self, unit: &UnitJson) -> Result<(), CliError> {
        let line = serde_json::to_string(unit)
            .map_err(|e| CliError::usage(format!("cannot encode JSON: {e}")))?;
        let mut file = self.file.lock().expect("resume file lock");
        writeln!(file, "{line}")?;
        file.flush()?;
        Ok(())
    }
}

/// `epsim campaign`.
pub fn run(
    args: &CampaignArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Exit, CliError> {
    if let Some(name) = &args.show {
        let program = campaign_programs::by_name(name).ok_or_else(|| {
            CliError::usage(format!(
                "no generated program {name:?} (names look like pair-del_wait-1; library scenarios: epsim list --show)"
            ))
        })?;
        write!(out, "{}", program.text())?;
        return Ok(Exit::Clean);
    }
    let _catch = crate::interrupt::Catch::install();
    let kernels: Vec<KernelVersion> = if args.kernels.is_empty() {
        KernelVersion::ALL.to_vec()
    } else {
        args.kernels.iter().map(|k| k.version()).collect()
    };
    let models: Vec<MemoryModel> = if args.models.is_empty() {
        MemoryModel::ALL.to_vec()
    } else {
        args.models.iter().map(|m| m.model()).collect()
    };
    let shard = match &args.shard {
        Some(text) => Shard::parse(text).map_err(CliError::usage)?,
        None => Shard::ALL,
    };
    let settings = settings(args, &kernels, &models);
    let mine: Vec<Unit> = units(&kernels, &models)
        .into_iter()
        .filter(|u| u.index % shard.count == shard.index)
        .filter(|u| {
            let name = u.source.name();
            args.only.is_empty() || args.only.iter().any(|p| name.starts_with(p.as_str()))
        })
        .collect();
    let (resume, mut done) = match &args.resume {
        Some(path) => {
            let (resume, done) = Resume::open(path, &settings, shard)?;
            (Some(resume), done)
        }
        None => (None, Vec::new()),
    };
    let wanted: std::collections::BTreeSet<u64> = mine.iter().map(|u| u.index).collect();
    done.retain(|u| wanted.contains(&u.index));
    let done_indices: std::collections::BTreeSet<u64> = done.iter().map(|u| u.index).collect();
    let todo: Vec<&Unit> = mine
        .iter()
        .filter(|u| !done_indices.contains(&u.index))
        .collect();
    let deadline = args
        .budget_s
        .map(|s| Instant::now() + Duration::from_secs_f64(s));
    let results = Mutex::new(done);
    let next = AtomicUsize::new(0);
    let finished = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let error: Mutex<Option<CliError>> = Mutex::new(None);
    let started = Instant::now();
    let stop = crate::interrupt::flag();
    let all_done = AtomicBool::new(false);
    let work = || loop {
        if stop.load(Ordering::SeqCst) || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(unit) = todo.get(i) else { break };
        let result = run_unit(unit, &settings).and_then(|json| {
            if let Some(resume) = &resume {
                resume.record(&json)?;
            }
            Ok(json)
        });
        match result {
            Ok(json) => {
                failed.fetch_add(u64::from(!json.reports.is_empty()), Ordering::Relaxed);
                results.lock().expect("results lock").push(json);
            }
            Err(e) => {
                error.lock().expect("error lock").get_or_insert(e);
                break;
            }
        }
        finished.fetch_add(1, Ordering::Relaxed);
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::scope(|inner| {
                for _ in 0..args.jobs.clamp(1, todo.len().max(1)) {
                    inner.spawn(work);
                }
            });
            all_done.store(true, Ordering::Relaxed);
        });
        if std::io::stderr().is_terminal() {
            let bar = Bar {
                finished: &finished,
                failed: &failed,
                all_done: &all_done,
                total: todo.len() as u64,
                started,
            };
            bar.draw(err);
        }
    });
    if let Some(e) = error.into_inner().expect("error lock") {
        return Err(e);
    }
    let shard_json = args.shard.is_some().then_some(ShardJson {
        index: shard.index,
        count: shard.count,
    });
    let json = finish(
        settings,
        shard_json,
        mine.len() as u64,
        results.into_inner().expect("results lock"),
    );
    if args.json {
        write_json(out, &json)?;
    } else {
        write_text(out, &json, args, started.elapsed().as_secs_f64())?;
    }
    Ok(if crate::interrupt::requested() {
        Exit::Interrupted
    } else {
        exit_of(&json)
    })
}

/// The progress bar on stderr (a terminal only): units finished of those to do.
struct Bar<'a> {
    finished: &'a AtomicU64,
    failed: &'a AtomicU64,
    all_done: &'a AtomicBool,
    total: u64,
    started: Instant,
}

impl Bar<'_> {
    fn draw(&self, err: &mut dyn Write) {
        const WIDTH: usize = 30;
        while !self.all_done.load(Ordering::Relaxed) {
            let done = self.finished.load(Ordering::Relaxed);
            let filled = (done.min(self.total) as usize * WIDTH)
                .checked_div(self.total as usize)
                .unwrap_or(WIDTH);
            let _ = write!(
                err,
                "\r[{}{}] {done}/{} units, {} with reports, {:.0} s ",
                "#".repeat(filled),
                " ".repeat(WIDTH - filled),
                self.total,
                self.failed.load(Ordering::Relaxed),
                self.started.elapsed().as_secs_f64()
            );
            let _ = err.flush();
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = write!(err, "\r{}\r", " ".repeat(WIDTH + 60));
        let _ = err.flush();
    }
}

fn write_text(
    out: &mut dyn Write,
    json: &CampaignJson,
    args: &CampaignArgs,
    seconds: f64,
) -> Result<(), CliError> {
    let s = &json.campaign;
    writeln!(
        out,
        "campaign: {} units ({} programs x {} versions x {} models), granularity access, each: {} up to {} executions, then {} pct runs if that search did not finish",
        s.units,
        s.units as usize / (s.kernels.len() * s.models.len()).max(1),
        s.kernels.len(),
        s.models.len(),
        if s.strategy == UnitStrategy::DfsThenPct.name() {
            format!("dfs (preemptions ≤ {}, delays ≤ {})", s.preemption_bound, s.delay_bound)
        } else {
            "dpor".to_string()
        },
        s.runs_per_unit,
        s.runs_per_unit
    )?;
    if let Some(shard) = json.shard {
        writeln!(
            out,
            "shard {}/{}: the units i with i mod {} = {}",
            shard.index, shard.count, shard.count, shard.index
        )?;
    }
    writeln!(
        out,
        "done: {} of {} units in {seconds:.0} s{}",
        json.units_done,
        json.units_planned,
        if json.units_not_reached > 0 {
            format!(
                "; the budget{} stopped it: {} units not reached",
                args.budget_s
                    .map(|b| format!(" ({b} s)"))
                    .unwrap_or_default(),
                json.units_not_reached
            )
        } else {
            String::new()
        }
    )?;
    let mut t = Table::new([
        "kernel",
        "model",
        "units",
        "skipped",
        "runs",
        "exhaustive",
        "in-bounds",
        "cut+pct",
        "reports (units)",
        "findings (units)",
    ]);
    let join = |m: &BTreeMap<String, u64>| {
        if m.is_empty() {
            "-".to_string()
        } else {
            m.iter()
                .map(|(k, n)| format!("{k}:{n}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    for row in &json.table {
        t.row([
            row.kernel.clone(),
            row.model.clone(),
            row.units.to_string(),
            row.skipped.to_string(),
            row.runs.to_string(),
            row.exhaustive.to_string(),
            row.complete_within_bounds.to_string(),
            row.cut_then_pct.to_string(),
            join(&row.reports),
            join(&row.findings),
        ]);
    }
    t.write(out, "  ")?;
    for unit in json.units.iter().filter(|u| !u.reports.is_empty()) {
        if let Some(first) = &unit.first_report {
            writeln!(
                out,
                "report: {} on {} {}: {} ({} run {}): {}\n  reproduce: {}",
                unit.program,
                unit.kernel,
                unit.model,
                first.kind,
                first.strategy,
                first.run,
                first.message,
                first.replay_command
            )?;
        }
    }
    if json.failed_units == 0 {
        writeln!(out, "no unexpected report in the units run")?;
    } else {
        writeln!(
            out,
            "FAIL: {} units made unexpected reports",
            json.failed_units
        )?;
    }
    Ok(())
}

/// The shards of one campaign as the JSON of the unsharded campaign.
pub fn merge(parts: Vec<(String, CampaignJson)>) -> Result<CampaignJson, CliError> {
    let shards: Vec<(String, Option<(u64, u64)>)> = parts
        .iter()
        .map(|(file, json)| (file.clone(), json.shard.map(|s| (s.index, s.count))))
        .collect();
    merge_cmd::check_shards(&shards)?;
    let settings = parts[0].1.campaign.clone();
    let mut units = Vec::new();
    let mut planned = 0;
    for (file, json) in parts {
        if json.campaign != settings {
            return Err(CliError::usage(format!(
                "{file}: a campaign with other settings than {}: not shards of one campaign",
                shards[0].0
            )));
        }
        planned += json.units_planned;
        units.extend(json.units);
    }
    Ok(finish(settings, None, planned, units))
}
