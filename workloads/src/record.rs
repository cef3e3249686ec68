//! Records: a run written down so that it can be reproduced anywhere, by anyone, with
//! nothing else (`epsim run --record FILE`, `epsim replay FILE`).
//!
//! A record is JSON: the scenario's text (not its path: the file may change or be
//! gone), its name, every option that affects execution, the seed, the schedule string,
//! the trace hash, and checkpoints of the trace hash every so many hashed records, so
//! that a replay that ends with another hash can say where it first went another way.
//! Reading one checks every field, one by one ([`RunRecord::parse`]): a record is input
//! like a scenario file, and a bad field is one line that names it.
//!
//! ```json
//! {
//!   "format": 1,
//!   "epsim_version": "0.1.0",
//!   "scenario": "seed-case-4-two-waiters",
//!   "scenario_text": "scenario seed-case-4-two-waiters\n...",
//!   "options": {"cpus": 2, "kernel": "6192bd536f96", "model": "sc", "granularity": "lock",
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
use serde_json::{Map, Value};
use sim::{GranularityKind, MemoryModel, Schedule, StrategyKind};

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

    /// Parses a record and checks every field on its own ([`RunRecord::check`]): an
    /// unknown, missing, mistyped or impossible field is a usage error that names it
    /// (`rec.json: options.cpus: ...`). Whether the fields fit together (the schedule
    /// belongs to the scenario, seed and options; the run takes `steps` steps) only the
    /// replay can tell.
    pub fn parse(file: &str, text: &str) -> Result<RunRecord, CliError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            CliError::usage(format!(
                "{file}:{}:{}: not an epsim record: {e}",
                e.line(),
                e.column()
            ))
        })?;
        let fields = Fields::of(file, "", &value, RECORD_FIELDS)?;
        let format: u32 = fields.get("format")?;
        if format != RECORD_FORMAT {
            return Err(CliError::usage(format!(
                "{file}: format: record format {format} (this build reads format {RECORD_FORMAT})"
            )));
        }
        let options = Fields::of(file, "options.", fields.value("options")?, OPTIONS_FIELDS)?;
        let checkpoints = match fields.optional_value("checkpoints") {
            None | Some(Value::Null) => None,
            Some(value) => {
                let checkpoints = Fields::of(file, "checkpoints.", value, CHECKPOINTS_FIELDS)?;
                Some(Checkpoints {
                    interval: checkpoints.get("interval")?,
                    hashes: checkpoints.get("hashes")?,
                })
            }
        };
        let record = RunRecord {
            format,
            epsim_version: fields.get("epsim_version")?,
            scenario: fields.get("scenario")?,
            scenario_text: fields.get("scenario_text")?,
            options: RecordOptions {
                cpus: options.get("cpus")?,
                kernel: options.get("kernel")?,
                model: options.get("model")?,
                granularity: options.get("granularity")?,
                injections: options.get("injections")?,
                strategy: options.get("strategy")?,
            },
            seed: fields.get("seed")?,
            schedule: fields.get("schedule")?,
            trace_hash: fields.get("trace_hash")?,
            steps: fields.get("steps")?,
            checkpoints,
        };
        record.check(file)?;
        Ok(record)
    }

    /// Checks each field's value on its own; one line naming the field on error.
    pub fn check(&self, file: &str) -> Result<(), CliError> {
        let bad = |field: &str, why: String| CliError::usage(format!("{file}: {field}: {why}"));
        let one_line = |field: &str, text: &str| {
            if text.trim().is_empty() || text.contains(['\n', '\r']) {
                Err(bad(field, format!("{text:?} is not a one-line name")))
            } else {
                Ok(())
            }
        };
        one_line("epsim_version", &self.epsim_version)?;
        one_line("scenario", &self.scenario)?;
        let overrides = self.overrides(file)?;
        if let (Some(model), Some(granularity)) = (overrides.model, overrides.granularity) {
            if model != MemoryModel::Sc && granularity != GranularityKind::Access {
                return Err(bad(
                    "options.model",
                    format!(
                        "{} needs granularity access, the record has {}",
                        model.name(),
                        granularity.name()
                    ),
                ));
            }
        }
        if self.options.cpus == 0 || self.options.cpus > sim::limits::CPUS_MAX {
            return Err(bad(
                "options.cpus",
                format!(
                    "{} CPUs, expected 1 to {}",
                    self.options.cpus,
                    sim::limits::CPUS_MAX
                ),
            ));
        }
        if StrategyKind::parse(&self.options.strategy).is_none() {
            let names: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
            return Err(bad(
                "options.strategy",
                format!(
                    "unknown strategy {:?}, expected one of {}",
                    self.options.strategy,
                    names.join(", ")
                ),
            ));
        }
        let schedule =
            Schedule::decode(&self.schedule).map_err(|e| bad("schedule", e.to_string()))?;
        self.hash(file)?;
        if self.steps > schedule.decisions {
            return Err(bad(
                "steps",
                format!(
                    "{} steps, but the schedule has {} decisions (a decision before every step)",
                    self.steps, schedule.decisions
                ),
            ));
        }
        if let Some(checkpoints) = &self.checkpoints {
            if checkpoints.interval == 0 {
                return Err(bad(
                    "checkpoints.interval",
                    "0, expected at least 1".to_string(),
                ));
            }
            if checkpoints.hashes.len() > CHECKPOINTS_MAX {
                return Err(bad(
                    "checkpoints.hashes",
                    format!(
                        "{} checkpoints, a record has at most {CHECKPOINTS_MAX}",
                        checkpoints.hashes.len()
                    ),
                ));
            }
            for (index, hash) in checkpoints.hashes.iter().enumerate() {
                if parse_hash(hash).is_none() {
                    return Err(bad(
                        &format!("checkpoints.hashes[{index}]"),
                        format!("{hash:?} is not 16 hex digits"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The trace hash, parsed.
    pub fn hash(&self, file: &str) -> Result<u64, CliError> {
        parse_hash(&self.trace_hash).ok_or_else(|| {
            CliError::usage(format!(
                "{file}: trace_hash: {:?} is not 16 hex digits",
                self.trace_hash
            ))
        })
    }

    /// The options as overrides of the scenario's header: every one given explicitly,
    /// so the record does not depend on the header's defaults.
    pub fn overrides(&self, file: &str) -> Result<Overrides, CliError> {
        let bad = |field: &str, value: &str| {
            let what = field.strip_suffix('s').unwrap_or(field);
            CliError::usage(format!("{file}: options.{field}: unknown {what} {value:?}"))
        };
        let o = &self.options;
        let mut injections = Vec::new();
        for name in &o.injections {
            injections.push(Injection::parse(name).ok_or_else(|| bad("injections", name))?);
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

    /// The checkpoint hashes, parsed (`None` if absent; [`RunRecord::check`] refuses
    /// unreadable ones).
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

/// The fields of a record, in the order it writes them.
const RECORD_FIELDS: &[&str] = &[
    "format",
    "epsim_version",
    "scenario",
    "scenario_text",
    "options",
    "seed",
    "schedule",
    "trace_hash",
    "steps",
    "checkpoints",
];
const OPTIONS_FIELDS: &[&str] = &[
    "cpus",
    "kernel",
    "model",
    "granularity",
    "injections",
    "strategy",
];
const CHECKPOINTS_FIELDS: &[&str] = &["interval", "hashes"];

/// A JSON object read field by field, so that an error names the field (`options.cpus`:
/// serde's own messages say only `invalid type ... at line 5 column 3`).
struct Fields<'a> {
    file: &'a str,
    /// `options.` for the fields of `options`.
    prefix: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// `value` as an object with no fields but `known`.
    fn of(
        file: &'a str,
        prefix: &'a str,
        value: &'a Value,
        known: &[&str],
    ) -> Result<Fields<'a>, CliError> {
        let Value::Object(map) = value else {
            let what = if prefix.is_empty() {
                "not an epsim record: expected a JSON object".to_string()
            } else {
                format!("{}: expected a JSON object", prefix.trim_end_matches('.'))
            };
            return Err(CliError::usage(format!("{file}: {what}")));
        };
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(CliError::usage(format!(
                "{file}: {prefix}{unknown}: unknown field (the fields are {})",
                known.join(", ")
            )));
        }
        Ok(Fields { file, prefix, map })
    }

    fn optional_value(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name)
    }

    fn value(&self, name: &str) -> Result<&'a Value, CliError> {
        self.map.get(name).ok_or_else(|| {
            CliError::usage(format!(
                "{}: {}{name}: missing field",
                self.file, self.prefix
            ))
        })
    }

    fn get<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, CliError> {
        T::deserialize(self.value(name)?)
            .map_err(|e| CliError::usage(format!("{}: {}{name}: {e}", self.file, self.prefix)))
    }
}
