//! Run options that the machine itself understands.

use std::fmt;

use crate::clock::{CostTable, HZ_DEFAULT};
use crate::limits::{CPUS_MAX, STEPS_DEFAULT_MAX};
use crate::mem::MemoryModel;
use crate::trace::TraceHasher;

/// How fine the steps of a run are. See the architecture note: the same kernel code runs
/// at every granularity; what changes is which primitives are scheduling points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GranularityKind {
    /// A syscall runs to completion unless it sleeps.
    Syscall,
    /// Steps at lock operations, sleeps, wake-ups and fault points.
    Lock,
    /// Every shared access is a step, and so is every store-buffer drain.
    Access,
}

impl GranularityKind {
    pub fn name(self) -> &'static str {
        match self {
            GranularityKind::Syscall => "syscall",
            GranularityKind::Lock => "lock",
            GranularityKind::Access => "access",
        }
    }

    pub fn parse(text: &str) -> Option<GranularityKind> {
        match text {
            "syscall" => Some(GranularityKind::Syscall),
            "lock" => Some(GranularityKind::Lock),
            "access" => Some(GranularityKind::Access),
            _ => None,
        }
    }

    pub const ALL: [GranularityKind; 3] = [
        GranularityKind::Syscall,
        GranularityKind::Lock,
        GranularityKind::Access,
    ];
}

/// Compile-time granularity: the kernel code is generic over it, so the coarse contexts
/// compile a shared-word access to plain indexing and an await to a ready future.
pub trait Granularity: 'static {
    const KIND: GranularityKind;
    /// Loads, stores, atomics and fences are steps.
    const STEPS_AT_ACCESS: bool;
    /// Lock operations, interrupt flags, wake-ups and fault points are steps.
    const STEPS_AT_LOCK: bool;
}

/// Marker for [`GranularityKind::Syscall`].
#[derive(Clone, Copy, Debug)]
pub struct SyscallSteps;
/// Marker for [`GranularityKind::Lock`].
#[derive(Clone, Copy, Debug)]
pub struct LockSteps;
/// Marker for [`GranularityKind::Access`].
#[derive(Clone, Copy, Debug)]
pub struct AccessSteps;

impl Granularity for SyscallSteps {
    const KIND: GranularityKind = GranularityKind::Syscall;
    const STEPS_AT_ACCESS: bool = false;
    const STEPS_AT_LOCK: bool = false;
}

impl Granularity for LockSteps {
    const KIND: GranularityKind = GranularityKind::Lock;
    const STEPS_AT_ACCESS: bool = false;
    const STEPS_AT_LOCK: bool = true;
}

impl Granularity for AccessSteps {
    const KIND: GranularityKind = GranularityKind::Access;
    const STEPS_AT_ACCESS: bool = true;
    const STEPS_AT_LOCK: bool = true;
}

/// One allocation the run makes fail: the `nth` (from 1) allocation of `class`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AllocFailure {
    pub class: String,
    pub nth: u64,
}

/// Options of a machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub cpus: usize,
    pub model: MemoryModel,
    pub granularity: GranularityKind,
    pub hz: u32,
    pub costs: CostTable,
    /// Step budget; past it the run ends with a `step-budget` report.
    pub max_steps: u64,
    /// Keep trace records (for output and narration), not only their hash.
    pub keep_trace: bool,
    /// Observe every change of the machine's state for a step-through view
    /// ([`crate::observe`]); needs `keep_trace`. Changes neither the execution nor its
    /// hash.
    pub observe: bool,
    pub alloc_failures: Vec<AllocFailure>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            cpus: 2,
            model: MemoryModel::Sc,
            granularity: GranularityKind::Syscall,
            hz: HZ_DEFAULT,
            costs: CostTable::default(),
            max_steps: STEPS_DEFAULT_MAX,
            keep_trace: false,
            observe: false,
            alloc_failures: Vec::new(),
        }
    }
}

/// A bad option: the message is one line a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cpus == 0 || self.cpus > CPUS_MAX {
            return Err(ConfigError(format!(
                "--cpus must be between 1 and {CPUS_MAX}, got {}",
                self.cpus
            )));
        }
        if self.model != MemoryModel::Sc && self.granularity != GranularityKind::Access {
            return Err(ConfigError(format!(
                "--model {} needs --granularity access (at {} granularity memory is sequentially consistent)",
                self.model.name(),
                self.granularity.name()
            )));
        }
        if self.hz == 0 || self.hz > 10_000 {
            return Err(ConfigError(format!(
                "--hz must be between 1 and 10000, got {}",
                self.hz
            )));
        }
        if self.max_steps == 0 {
            return Err(ConfigError("the step budget must be at least 1".into()));
        }
        Ok(())
    }

    /// Hash of every option that changes execution (not `keep_trace` or `observe`).
    pub fn fingerprint(&self) -> u64 {
        let mut h = TraceHasher::default();
        h.write_u64(self.cpus as u64);
        h.write_str(self.model.name());
        h.write_str(self.granularity.name());
        h.write_u64(self.hz as u64);
        for cost in self.costs.fingerprint() {
            h.write_u64(cost);
        }
        h.write_u64(self.max_steps);
        for failure in &self.alloc_failures {
            h.write_str(&failure.class);
            h.write_u64(failure.nth);
        }
        h.finish()
    }
}
