//! `epsim merge A.json B.json …`: the shards of one exploration (`epsim explore …
//! --shard I/N --json`) or one campaign (`epsim campaign … --shard I/N --json`) made
//! into the JSON the unsharded command prints.
//!
//! Exact, not estimated: run `i` of an exploration is the same run in whichever shard
//! makes it, so counts are sums, distinct traces the size of the union of the shards'
//! trace hashes (a sharded JSON lists them), and the first report the one with the
//! lowest run index — among the unexpected reports if any shard has one, else among all
//! (each shard's `first_report` says which it is). A campaign's units are whole in one
//! shard each, so its merge is their union. Only the wall-clock rate (`runs_per_sec`)
//! is not the unsharded one: the merge gives the rate of one machine making every
//! shard's runs in turn.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use crate::campaign_cmd::{self, CampaignJson};
use crate::cli::MergeArgs;
use crate::exit::{CliError, Exit};
use crate::explore_cmd::{ExploreJson, FindingJson, FirstReportJson};
use crate::output::write_json;

/// One input file, read.
enum Part {
    Explore(ExploreJson),
    Campaign(CampaignJson),
}

fn read(path: &PathBuf) -> Result<Part, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("{}: cannot read: {e}", path.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CliError::usage(format!("{}: not JSON: {e}", path.display())))?;
    let campaign = value.get("campaign").is_some();
    let parsed = if campaign {
        serde_json::from_value(value).map(Part::Campaign)
    } else {
        serde_json::from_value(value).map(Part::Explore)
    };
    parsed.map_err(|e| {
        CliError::usage(format!(
            "{}: not the JSON of `epsim explore --json` or `epsim campaign --json`: {e}",
            path.display()
        ))
    })
}

/// `epsim merge`.
pub fn run(args: &MergeArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let mut explores = Vec::new();
    let mut campaigns = Vec::new();
    for path in &args.files {
        match read(path)? {
            Part::Explore(json) => explores.push((path.display().to_string(), json)),
            Part::Campaign(json) => campaigns.push((path.display().to_string(), json)),
        }
    }
    if !explores.is_empty() && !campaigns.is_empty() {
        return Err(CliError::usage(
            "merge takes the shards of one exploration or of one campaign, not both",
        ));
    }
    if !campaigns.is_empty() {
        let merged = campaign_cmd::merge(campaigns)?;
        write_json(out, &merged)?;
        return Ok(campaign_cmd::exit_of(&merged));
    }
    let merged = merge_explorations(explores)?;
    write_json(out, &merged)?;
    Ok(if merged.interrupted {
        Exit::Interrupted
    } else if merged.passed {
        Exit::Clean
    } else {
        Exit::Failed
    })
}

/// Checks that `shards` (file name, shard index, shard count) are exactly the shards
/// `0..N` of one `N`, each once.
pub fn check_shards(shards: &[(String, Option<(u64, u64)>)]) -> Result<(), CliError> {
    let mut count = None;
    let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
    for (file, shard) in shards {
        let Some((index, n)) = *shard else {
            return Err(CliError::usage(format!(
                "{file}: was not made with --shard I/N; merge joins the shards of one run"
            )));
        };
        if *count.get_or_insert(n) != n {
            return Err(CliError::usage(format!(
                "{file}: is shard {index}/{n}, the others are of {} shards",
                count.unwrap_or(n)
            )));
        }
        if let Some(other) = seen.insert(index, file) {
            return Err(CliError::usage(format!(
                "{file}: shard {index}/{n} again (also {other})"
            )));
        }
    }
    let n = count.unwrap_or(0);
    let missing: Vec<String> = (0..n)
        .filter(|i| !seen.contains_key(i))
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(CliError::usage(format!(
            "shard{} {} missing: the merge would not be the whole run",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )));
    }
    Ok(())
}

fn earliest(reports: impl Iterator<Item = FirstReportJson>) -> Option<FirstReportJson> {
    reports.min_by_key(|r| r.run)
}

/// The shards of one exploration as the JSON of the unsharded exploration.
pub fn merge_explorations(parts: Vec<(String, ExploreJson)>) -> Result<ExploreJson, CliError> {
    let Some((first_file, first)) = parts.first() else {
        return Err(CliError::usage("merge needs at least one JSON file"));
    };
    let shards: Vec<(String, Option<(u64, u64)>)> = parts
        .iter()
        .map(|(file, json)| (file.clone(), json.shard.map(|s| (s.index, s.count))))
        .collect();
    check_shards(&shards)?;
    for (file, json) in &parts {
        if json.scenario != first.scenario || json.options != first.options {
            return Err(CliError::usage(format!(
                "{file}: explores {} ({}), {first_file} {} ({}): not shards of one exploration",
                json.scenario, json.options, first.scenario, first.options
            )));
        }
        if json.trace_hashes.is_none() {
            return Err(CliError::usage(format!(
                "{file}: has no trace_hashes (made by an epsim without merge)"
            )));
        }
    }
    let mut hashes = BTreeSet::new();
    let mut reports: BTreeMap<String, u64> = BTreeMap::new();
    let mut findings: BTreeMap<String, FindingJson> = BTreeMap::new();
    let mut missing: Option<Vec<String>> = None;
    let (mut runs, mut planned, mut cut, mut cut_p, mut cut_d) = (0, 0, 0, 0, 0);
    let mut seconds = 0.0;
    let (mut step_limited, mut redundant) = (0, 0);
    let (mut interrupted, mut complete) = (false, false);
    for (_, json) in &parts {
        hashes.extend(json.trace_hashes.iter().flatten().cloned());
        for (kind, n) in &json.reports {
            *reports.entry(kind.clone()).or_insert(0) += n;
        }
        for (name, finding) in &json.findings {
            let merged = findings.entry(name.clone()).or_insert_with(|| FindingJson {
                runs: 0,
                first: finding.first.clone(),
            });
            merged.runs += finding.runs;
            if finding.first.run < merged.first.run {
                merged.first = finding.first.clone();
            }
        }
        missing = Some(match missing {
            None => json.expected_missing.clone(),
            Some(so_far) => so_far
                .into_iter()
                .filter(|k| json.expected_missing.contains(k))
                .collect(),
        });
        runs += json.runs;
        planned += json.runs_planned;
        cut += json.cut_branches;
        step_limited += json.step_limited_runs;
        redundant += json.redundant_executions;
        cut_p += json.cut_branches_by.preemptions;
        cut_d += json.cut_branches_by.delays;
        if json.runs_per_sec > 0.0 {
            seconds += json.runs as f64 / json.runs_per_sec;
        }
        interrupted |= json.interrupted;
        complete |= json.search_complete;
    }
    let any_unexpected = parts
        .iter()
        .any(|(_, j)| j.first_report.as_ref().is_some_and(|r| r.unexpected));
    let first_report = earliest(
        parts
            .iter()
            .filter_map(|(_, j)| j.first_report.clone())
            .filter(|r| r.unexpected || !any_unexpected),
    );
    let expected_missing = missing.unwrap_or_default();
    let mut merged = first.clone();
    merged.shard = None;
    merged.trace_hashes = None;
    merged.runs = runs;
    merged.runs_planned = planned;
    merged.distinct_traces = hashes.len() as u64;
    merged.reports = reports;
    merged.findings = findings;
    merged.passed = !any_unexpected && expected_missing.is_empty();
    merged.first_report = first_report;
    merged.expected_missing = expected_missing;
    merged.interrupted = interrupted;
    merged.search_complete = complete;
    merged.stopped_early = !interrupted && !complete && runs < planned;
    merged.exhaustive = false;
    merged.cut_branches = cut;
    merged.step_limited_runs = step_limited;
    merged.redundant_executions = redundant;
    merged.cut_branches_by.preemptions = cut_p;
    merged.cut_branches_by.delays = cut_d;
    merged.runs_per_sec = crate::output::per_second(runs, seconds);
    Ok(merged)
}
