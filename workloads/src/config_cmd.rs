//! `epsim config`: resolve and check the shared run options, and show the machine they
//! configure; with `--schedule`, decode the schedule string too. It is the options half
//! of `run`/`replay`/`explore`, usable on its own to check a command line or to look
//! inside a schedule someone pasted.

use std::io::Write;

use serde::Serialize;

use crate::cli::ConfigArgs;
use crate::exit::{CliError, Exit};
use crate::options::{RunDefaults, RunOptions};
use crate::output::{write_json, Table};

#[derive(Serialize)]
struct JsonConfig {
    cpus: usize,
    kernel: &'static str,
    model: &'static str,
    granularity: &'static str,
    strategy: &'static str,
    seed: u64,
    inject: Vec<String>,
    hz: u32,
    max_steps: u64,
    machine_options_hash: String,
    schedule: Option<JsonSchedule>,
}

#[derive(Serialize)]
struct JsonSchedule {
    config_hash: String,
    decisions: u64,
    deviations: Vec<JsonDeviation>,
    fingerprints: usize,
}

#[derive(Serialize)]
struct JsonDeviation {
    decision: u64,
    choice: u32,
}

impl JsonConfig {
    fn new(options: &RunOptions) -> JsonConfig {
        JsonConfig {
            cpus: options.machine.cpus,
            kernel: options.kernel.name(),
            model: options.machine.model.name(),
            granularity: options.machine.granularity.name(),
            strategy: options.strategy.name(),
            seed: options.seed,
            inject: options
                .injections
                .iter()
                .map(|i| i.name().to_string())
                .collect(),
            hz: options.machine.hz,
            max_steps: options.machine.max_steps,
            machine_options_hash: format!("{:016x}", options.machine.fingerprint()),
            schedule: options.schedule.as_ref().map(|schedule| JsonSchedule {
                config_hash: format!("{:016x}", schedule.config_hash),
                decisions: schedule.decisions,
                deviations: schedule
                    .deviations
                    .iter()
                    .map(|d| JsonDeviation {
                        decision: d.decision,
                        choice: d.choice,
                    })
                    .collect(),
                fingerprints: schedule.fingerprints.len(),
            }),
        }
    }
}

/// `epsim config ...`
pub fn run(args: &ConfigArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let options = args.common.resolve(&RunDefaults::default())?;
    let json = JsonConfig::new(&options);
    if options.json {
        write_json(out, &json)?;
        return Ok(Exit::Clean);
    }
    let mut table = Table::new(["cpus", &json.cpus.to_string()]);
    table.row(["kernel", json.kernel]);
    table.row(["model", json.model]);
    table.row(["granularity", json.granularity]);
    table.row(["strategy", json.strategy]);
    table.row(["seed".to_string(), json.seed.to_string()]);
    let inject = if json.inject.is_empty() {
        "(none)".to_string()
    } else {
        json.inject.join(", ")
    };
    table.row(["inject".to_string(), inject]);
    table.row(["hz".to_string(), json.hz.to_string()]);
    table.row(["max steps".to_string(), json.max_steps.to_string()]);
    table.row([
        "machine options hash".to_string(),
        json.machine_options_hash.clone(),
    ]);
    table.write(out, "")?;
    if let Some(schedule) = &json.schedule {
        writeln!(
            out,
            "schedule: recorded for scenario+options hash {}, {} decisions, {} deviations from the default, {} fingerprints",
            schedule.config_hash,
            schedule.decisions,
            schedule.deviations.len(),
            schedule.fingerprints
        )?;
        for deviation in &schedule.deviations {
            writeln!(
                out,
                "  decision {}: enabled action #{} instead of #0",
                deviation.decision, deviation.choice
            )?;
        }
    }
    writeln!(
        out,
        "Options are valid. (`run`, `replay` and `explore` will take them when they land.)"
    )?;
    Ok(Exit::Clean)
}
