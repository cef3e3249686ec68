//! Records: a run written down so that it can be reproduced anywhere, by anyone, with
//! nothing else (`epsim run --record FILE`, `epsim replay FILE`).
//!
//! A record is JSON: the scenario's text (not its path: the file may change or be
//! gone), its name, every option that affects execution, the seed, the schedule string,
//! the trace hash, and checkpoints of the trace hash every so many hashed records, so
//! that a replay that ends with another hash can say where it first went another way.
//!
//! ```json
//! {
//!   "format": 1,
//!   "epsim_version": "0.1.0",
//!   "scenario": "seed-case-4-two-waiters",
//!   "scenario_text": "scenario seed-case-4-two-waiters\n...",
//!   "options": {"cpus": 2, "kernel": "2.6.22", "model": "sc", "granularity": "lock",
//!               "injections": [], "strategy": "random"},
//!   "seed": 0,
//!   "schedule": "v1.0123456789abcdef.AQID...",
//!   "trace_hash": "89abcdef01234567",
//!   "steps": 2113,
//!   "checkpoints": {"interval": 16, "hashes": ["...", "..."]}
//! }
//! ```

use std::path::Path;

use kernel_model::{Injection, KernelVersion};
use serde::{Deserialize, Serialize};
use sim::{GranularityKind, MemoryModel, StrategyKind};

use crate::exit::CliError;
use crate::scenario::{Overrides, Scenario};
use crate::session::{Executed, Resolved};

/// The record format this build writes and reads.
pub const RECORD_FORMAT: u32 = 1;

/// At most this many checkpoints are kept (the interval grows with the run).
pub const CHECKPOINTS_MAX: usize = 512;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordOptions {
    pub cpus: usize,
    pub kernel: String,
    pub model: String,
    pub granularity: String,
    pub injections: Vec<String>,
    /// The strategy that made the schedule (a replay does not need it).
    pub strategy: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoints {
    /// A checkpoint after every `interval` hashed records.
    pub interval: u64,
    /// The trace hash after hashed records `interval-1`, `2*interval-1`, ... (hex).
    pub hashes: Vec<String>,
}

/// A run, written down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub format: u32,
    pub epsim_version: String,
    pub scenario: String,
    pub scenario_text: String,
    pub options: RecordOptions,
    pub seed: u64,
    pub schedule: String,
    /// 16 hex digits.
    pub trace_hash: String,
    pub steps: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<Checkpoints>,
}

/// Hex form of a trace hash, as every output prints it.
pub fn hash_hex(hash: u64) -> String {
    format!("{hash:016x}")
}

/// A trace hash as [`hash_hex`] writes it: exactly 16 hex digits (either case), else
/// `None` — `12` is not a hash of this format, however it parses as a number.
pub fn parse_hash(text: &str) -> Option<u64> {
    if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

impl RunRecord {
    /// The record of `run` (made with `resolved`'s options).
    pub fn of(scenario: &Scenario, resolved: &Resolved, run: &Executed) -> RunRecord {
        let options = &run.options;
        let checkpoints = run.trace.as_ref().map(|trace| {
            let count = trace.step_hashes.len();
            let interval = count.div_ceil(CHECKPOINTS_MAX).max(1);
            Checkpoints {
                interval: interval as u64,
                hashes: trace
                    .step_hashes
                    .iter()
                    .skip(interval - 1)
                    .step_by(interval)
                    .map(|h| hash_hex(*h))
                    .collect(),
            }
        });
        RunRecord {
            format: RECORD_FORMAT,
            epsim_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: scenario.name(),
            scenario_text: scenario.text.clone(),
            options: RecordOptions {
                cpus: options.machine.cpus,
                kernel: options.kernel.version.name().to_string(),
                model: options.machine.model.name().to_string(),
                granularity: options.machine.granularity.name().to_string(),
                injections: options
                    .kernel
                    .injections
                    .iter()
                    .map(|i| i.name().to_string())
                    .collect(),
                strategy: resolved.strategy.name().to_string(),
            },
            seed: run.seed,
            schedule: run.outcome.result.schedule.encode(),
            trace_hash: hash_hex(run.outcome.result.trace_hash),
            steps: run.outcome.result.steps,
            checkpoints,
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| CliError::usage(format!("cannot encode the record: {e}")))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| CliError::usage(format!("cannot write {}: {e}", path.display())))
    }

    /// Reads a record; anything unreadable is a usage error naming the file.
    pub fn read(path: &Path) -> Result<RunRecord, CliError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
        RunRecord::parse(&path.display().to_string(), &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<RunRecord, CliError> {
        let record: RunRecord = serde_json::from_str(text).map_err(|e| {
            CliError::usage(format!(
                "{file}:{}:{}: not an epsim record: {e}",
                e.line(),
                e.column()
            ))
        })?;
        if record.format != RECORD_FORMAT {
            return Err(CliError::usage(format!(
                "{file}: record format {} (this build reads format {RECORD_FORMAT})",
                record.format
            )));
        }
        Ok(record)
    }

    /// The trace hash, parsed.
    pub fn hash(&self, file: &str) -> Result<u64, CliError> {
        parse_hash(&self.trace_hash).ok_or_else(|| {
            CliError::usage(format!(
                "{file}: trace_hash {:?} is not 16 hex digits",
                self.trace_hash
            ))
        })
    }

    /// The options as overrides of the scenario's header: every one given explicitly,
    /// so the record does not depend on the header's defaults.
    pub fn overrides(&self, file: &str) -> Result<Overrides, CliError> {
        let bad = |what: &str, value: &str| {
            CliError::usage(format!("{file}: unknown {what} {value:?} in the record"))
        };
        let o = &self.options;
        let mut injections = Vec::new();
        for name in &o.injections {
            injections.push(Injection::parse(name).ok_or_else(|| bad("injection", name))?);
        }
        Ok(Overrides {
            cpus: Some(o.cpus),
            kernel: Some(KernelVersion::parse(&o.kernel).ok_or_else(|| bad("kernel", &o.kernel))?),
            model: Some(MemoryModel::parse(&o.model).ok_or_else(|| bad("model", &o.model))?),
            granularity: Some(
                GranularityKind::parse(&o.granularity)
                    .ok_or_else(|| bad("granularity", &o.granularity))?,
            ),
            injections: Some(injections),
            ..Overrides::default()
        })
    }

    pub fn strategy(&self) -> StrategyKind {
        StrategyKind::parse(&self.options.strategy).unwrap_or(StrategyKind::Replay)
    }

    /// The checkpoint hashes, parsed (`None` if absent or unreadable).
    pub fn checkpoint_hashes(&self) -> Option<(u64, Vec<u64>)> {
        let checkpoints = self.checkpoints.as_ref()?;
        let hashes: Option<Vec<u64>> = checkpoints
            .hashes
            .iter()
            .map(|h| u64::from_str_radix(h, 16).ok())
            .collect();
        Some((checkpoints.interval.max(1), hashes?))
    }
}
