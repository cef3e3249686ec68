//! The trace of record. Every step appends one compact record; the run ends with a
//! 64-bit hash over all records, which is what "the same execution" means.
//!
//! Records are hashed always and kept only when asked (`Config::keep_trace`). Narration
//! notes added by the layers above are kept with the records but are not hashed, so the
//! hash does not depend on how much narration was asked for. `tracing` mirrors each
//! record for people (`RUST_LOG=epsim=trace`) with the virtual time on the line.

use std::fmt;

use crate::ids::ContextId;
use crate::ids::{CpuId, EventId, TaskId};
use crate::mem::Word;
use crate::op::Op;
use crate::state::State;

/// What happened in one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    /// A posted op was performed and returned `result`.
    Op { op: Op, result: u64 },
    /// A buffered store became visible in memory.
    Drain { word: Word, value: u64 },
    /// An interrupt was delivered.
    Interrupt { event: EventId, label: &'static str },
    /// The CPU switched tasks.
    Switch { to: Option<TaskId> },
    /// The context slept (its op was a sleeping one).
    Sleep,
    /// A context finished.
    Exit,
    /// An allocation was made to fail.
    AllocFail { class: &'static str },
    /// Narration from a layer above (not hashed).
    Note { text: String },
}

/// One trace record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub step: u64,
    pub time_ns: u64,
    pub cpu: CpuId,
    /// The task whose kernel stack performed the step, or the task an interrupt hit.
    pub task: Option<TaskId>,
    pub in_interrupt: bool,
    pub event: TraceEvent,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:>6} {:>10}ns {}", self.step, self.time_ns, self.cpu)?;
        match self.task {
            Some(task) => write!(f, " {task}")?,
            None => write!(f, " idle")?,
        }
        if self.in_interrupt {
            write!(f, " irq")?;
        }
        write!(f, "] ")?;
        match &self.event {
            TraceEvent::Op { op, result } => write!(f, "{} {:?} -> {result}", op.kind(), op),
            TraceEvent::Drain { word, value } => write!(f, "drain {word} = {value:#x}"),
            TraceEvent::Interrupt { event, label } => write!(f, "interrupt {event} {label}"),
            TraceEvent::Switch { to: Some(task) } => write!(f, "switch to {task}"),
            TraceEvent::Switch { to: None } => write!(f, "switch to idle"),
            TraceEvent::Sleep => write!(f, "sleep"),
            TraceEvent::Exit => write!(f, "exit"),
            TraceEvent::AllocFail { class } => write!(f, "allocation of {class} fails"),
            TraceEvent::Note { text } => write!(f, "{text}"),
        }
    }
}

/// A fast, fixed 64-bit hash over u64 values (Fx-style multiply-rotate with a
/// SplitMix64 finaliser). Fixed forever: trace hashes are compared across versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceHasher {
    state: u64,
}

impl Default for TraceHasher {
    fn default() -> TraceHasher {
        TraceHasher {
            state: 0x243F_6A88_85A3_08D3,
        }
    }
}

impl TraceHasher {
    #[inline]
    pub fn write_u64(&mut self, value: u64) {
        self.state = (self.state.rotate_left(5) ^ value).wrapping_mul(0x517C_C1B7_2722_0A95);
    }

    pub fn write_str(&mut self, text: &str) {
        self.write_u64(text.len() as u64);
        for chunk in text.as_bytes().chunks(8) {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(bytes));
        }
    }

    pub fn finish(&self) -> u64 {
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The trace of one run.
#[derive(Default)]
pub struct Trace {
    hasher: TraceHasher,
    keep: bool,
    mirror: bool,
    records: Vec<Record>,
    /// Per-step hashes kept for divergence search (`--check-determinism`).
    step_hashes: Vec<u64>,
}

impl Trace {
    pub fn new(keep: bool) -> Trace {
        Trace {
            hasher: TraceHasher::default(),
            keep,
            mirror: tracing::enabled!(target: "epsim", tracing::Level::TRACE),
            records: Vec::new(),
            step_hashes: Vec::new(),
        }
    }

    pub fn reset(&mut self) {
        self.hasher = TraceHasher::default();
        self.records.clear();
        self.step_hashes.clear();
    }

    pub fn keeps_records(&self) -> bool {
        self.keep || self.mirror
    }

    pub fn push(&mut self, record: Record) {
        if !matches!(record.event, TraceEvent::Note { .. }) {
            self.hash(&record);
            if self.keep {
                self.step_hashes.push(self.hasher.finish());
            }
        }
        if self.mirror {
            tracing::trace!(target: "epsim", t_ns = record.time_ns, "{record}");
        }
        if self.keep {
            self.records.push(record);
        }
    }

    /// What [`Trace::push`] does with a record that is neither kept nor mirrored (see
    /// [`Trace::keeps_records`]): hashes its fields as they are, without building it.
    /// Inlined always, like `hash_fields`: every step of a run that is not
    /// narrated comes here, and the caller knows the kind of event.
    #[inline(always)]
    pub fn hash_only(
        &mut self,
        step: u64,
        time_ns: u64,
        cpu: CpuId,
        task: Option<TaskId>,
        in_interrupt: bool,
        event: &TraceEvent,
    ) {
        debug_assert!(!self.keeps_records());
        self.hash_fields(step, time_ns, cpu, task, in_interrupt, event);
    }

    fn hash(&mut self, record: &Record) {
        self.hash_fields(
            record.step,
            record.time_ns,
            record.cpu,
            record.task,
            record.in_interrupt,
            &record.event,
        );
    }

    /// Inlined always: every step of every run goes through here, and where the
    /// caller knows the kind of event only that arm remains.
    #[inline(always)]
    fn hash_fields(
        &mut self,
        step: u64,
        time_ns: u64,
        cpu: CpuId,
        task: Option<TaskId>,
        in_interrupt: bool,
        event: &TraceEvent,
    ) {
        let h = &mut self.hasher;
        h.write_u64(step);
        h.write_u64(time_ns);
        h.write_u64(cpu.0 as u64);
        h.write_u64(task.map_or(u64::MAX, |t| t.0 as u64));
        h.write_u64(in_interrupt as u64);
        match event {
            TraceEvent::Op { op, result } => {
                let (code, object) = op.code();
                h.write_u64(code as u64);
                h.write_u64(object);
                h.write_u64(*result);
            }
            TraceEvent::Drain { word, value } => {
                h.write_u64(100);
                h.write_u64(word.0 as u64);
                h.write_u64(*value);
            }
            TraceEvent::Interrupt { event, label } => {
                h.write_u64(101);
                h.write_u64(event.0 as u64);
                h.write_str(label);
            }
            TraceEvent::Switch { to } => {
                h.write_u64(102);
                h.write_u64(to.map_or(u64::MAX, |t| t.0 as u64));
            }
            TraceEvent::Sleep => h.write_u64(103),
            TraceEvent::Exit => h.write_u64(104),
            TraceEvent::AllocFail { class } => {
                h.write_u64(105);
                h.write_str(class);
            }
            TraceEvent::Note { .. } => {}
        }
    }

    /// Mixes a value into the hash that is not a record (e.g. a syscall's result as the
    /// layer above sees it), so that it, too, must match on replay.
    pub fn mix(&mut self, value: u64) {
        self.hasher.write_u64(value);
    }

    pub fn hash_value(&self) -> u64 {
        self.hasher.finish()
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }

    pub fn step_hashes(&self) -> &[u64] {
        &self.step_hashes
    }
}

// ---- recording ------------------------------------------------------------------------

/// Recording as the machine does it: every step's record is hashed; it is built and kept
/// (or mirrored to `tracing`) only when narrating.
impl State {
    /// Whether narration is being kept (trace records kept or mirrored to `tracing`).
    #[inline(always)]
    pub fn narrating(&self) -> bool {
        self.narrating
    }

    pub fn record(&self, cpu: CpuId, context: Option<ContextId>, event: TraceEvent) {
        let (task, in_interrupt) = self.record_identity(cpu, context);
        self.record_as(cpu, task, in_interrupt, event);
    }

    /// The task and interrupt flag a record of `context` (or of `cpu`, without one)
    /// carries (see [`Record`]).
    #[inline]
    pub(crate) fn record_identity(
        &self,
        cpu: CpuId,
        context: Option<ContextId>,
    ) -> (Option<TaskId>, bool) {
        match context {
            Some(c) => {
                let contexts = self.contexts.borrow();
                (
                    contexts[c.index()].task(),
                    contexts[c.index()].in_interrupt(),
                )
            }
            None => (self.cpus.borrow()[cpu.index()].task, false),
        }
    }

    /// [`State::record`] with the record's identity already looked up (the executor
    /// records every step and knows it): inlined, so that a step that only hashes
    /// neither looks the context up again nor moves the event around.
    #[inline(always)]
    pub(crate) fn record_as(
        &self,
        cpu: CpuId,
        task: Option<TaskId>,
        in_interrupt: bool,
        event: TraceEvent,
    ) {
        if !self.narrating {
            // Neither kept nor mirrored: only the hash needs the record's fields.
            let time_ns = self.clock_ns(cpu);
            self.trace.borrow_mut().hash_only(
                self.step.get(),
                time_ns,
                cpu,
                task,
                in_interrupt,
                &event,
            );
            return;
        }
        self.push_record(cpu, task, in_interrupt, event);
    }

    /// Builds and keeps (or mirrors) a record: narration only.
    #[cold]
    #[inline(never)]
    pub(crate) fn push_record(
        &self,
        cpu: CpuId,
        task: Option<TaskId>,
        in_interrupt: bool,
        event: TraceEvent,
    ) {
        let record = Record {
            step: self.step.get(),
            time_ns: self.clock_ns(cpu),
            cpu,
            task,
            in_interrupt,
            event,
        };
        self.trace.borrow_mut().push(record);
        self.observe_if_watching();
    }

    /// Adds narration to the trace if records are kept (the text is built only then).
    /// A watched run also remembers the caller's source location.
    #[inline(always)]
    #[track_caller]
    pub fn note(&self, text: impl FnOnce() -> String) {
        if !self.narrating {
            return;
        }
        self.observe_location(std::panic::Location::caller());
        let current = self.current.get();
        self.record(
            current.cpu,
            Some(current.context),
            TraceEvent::Note { text: text() },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hasher_is_fixed() {
        let mut h = TraceHasher::default();
        h.write_u64(1);
        h.write_str("epoll");
        // Pinned: changing the hash function changes every recorded trace hash.
        assert_eq!(h.finish(), GOLDEN);
    }

    const GOLDEN: u64 = 1489576633614147292;
}
