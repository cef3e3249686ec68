//! The full trace of a run in three formats (`epsim run --trace FORMAT -o FILE`):
//!
//! - `text` — the narration: one line per record, `step time cpu task  what`, in kernel
//!   terms (`sim::narrate`);
//! - `jsonl` — one JSON object per record: `{"step", "time_ns", "cpu", "task", "irq",
//!   "event", "text"}` (`event` is `op`, `drain`, `interrupt`, `switch`, `sleep`,
//!   `exit`, `alloc-fail` or `note`; notes are narration and are not hashed);
//! - `chrome` — Chrome trace event JSON, which Perfetto (ui.perfetto.dev) and
//!   chrome://tracing open: one track per CPU; on it, the task that occupies the CPU as
//!   a slice, its system calls as nested slices (from the syscall entry to the note of
//!   its return), and the kernel functions the port names in its notes
//!   (`ep_poll_callback: epitem3`) as slices nested in those — a function's slice lasts
//!   until the next function note of the same call or the call's return, the closest
//!   duration the trace gives; detail notes and the lock-level steps are instant events;
//!   interrupts are slices above the task they hit; every successful
//!   `try_to_wake_up` is a flow arrow from the waker to the woken task's next step
//!   (wake-ups are steps of their own at `lock` and `access` granularity; at `syscall`
//!   granularity the trace has no `try_to_wake_up` records, so no arrows).
//!   A task that sleeps leaves its CPU's track and its open slices close; they open
//!   again, on whichever CPU runs it, when it is woken (the names say `(cont.)`).

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;
use serde_json::{json, Value};
use sim::op::Op;
use sim::trace::{Record, TraceEvent};

use crate::exit::CliError;
use crate::session::{Executed, TraceCapture};

/// The formats of `--trace`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    /// The narration, one line per step, in kernel terms
    Text,
    /// One JSON object per record
    Jsonl,
    /// Chrome trace event JSON (open it in Perfetto: one track per CPU)
    Chrome,
}

/// Writes the trace of `run` in `format`.
pub fn write(
    out: &mut dyn Write,
    format: TraceFormat,
    run: &Executed,
    title: &str,
) -> Result<(), CliError> {
    let trace = run.trace.as_ref().expect("the run kept its trace");
    match format {
        TraceFormat::Text => write_text(out, trace),
        TraceFormat::Jsonl => write_jsonl(out, trace, run),
        TraceFormat::Chrome => {
            let value = chrome(trace, run, title);
            serde_json::to_writer(&mut *out, &value)
                .map_err(|e| CliError::usage(format!("cannot write the trace: {e}")))?;
            writeln!(out)?;
            Ok(())
        }
    }
}

/// The narration, one line per record.
pub fn write_text(out: &mut dyn Write, trace: &TraceCapture) -> Result<(), CliError> {
    for (prefix, line) in trace.prefixes.iter().zip(&trace.lines) {
        writeln!(out, "{prefix}  {line}")?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonRecord<'a> {
    step: u64,
    time_ns: u64,
    cpu: u16,
    task: Option<String>,
    irq: bool,
    event: &'static str,
    text: &'a str,
}

fn event_kind(event: &TraceEvent) -> &'static str {
    match event {
        TraceEvent::Op { .. } => "op",
        TraceEvent::Drain { .. } => "drain",
        TraceEvent::Interrupt { .. } => "interrupt",
        TraceEvent::Switch { .. } => "switch",
        TraceEvent::Sleep => "sleep",
        TraceEvent::Exit => "exit",
        TraceEvent::AllocFail { .. } => "alloc-fail",
        TraceEvent::Note { .. } => "note",
    }
}

fn write_jsonl(out: &mut dyn Write, trace: &TraceCapture, run: &Executed) -> Result<(), CliError> {
    for (record, line) in trace.records.iter().zip(&trace.lines) {
        let value = JsonRecord {
            step: record.step,
            time_ns: record.time_ns,
            cpu: record.cpu.0,
            task: run.task_name(record.task),
            irq: record.in_interrupt,
            event: event_kind(&record.event),
            text: line.trim(),
        };
        let text = serde_json::to_string(&value)
            .map_err(|e| CliError::usage(format!("cannot write the trace: {e}")))?;
        writeln!(out, "{text}")?;
    }
    Ok(())
}

/// Who a record belongs to on its CPU's track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Task(u32),
    Irq(u16),
}

/// One slice a context has open: its name and whether it is a system call.
#[derive(Clone, Debug)]
struct Frame {
    name: String,
    kind: FrameKind,
    args: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FrameKind {
    Task,
    Irq,
    Syscall,
    Function,
}

/// Builds the B/E events of properly nested slices on per-CPU tracks.
struct Chrome<'a> {
    run: &'a Executed,
    events: Vec<Value>,
    /// What each CPU's track shows: its owner and how many of its frames are open there.
    shown: Vec<Vec<(Owner, usize)>>,
    /// Each context's logical stack of frames.
    stacks: BTreeMap<Owner, Vec<Frame>>,
    /// Last timestamp written on each track (they must not go back).
    last_ts: Vec<f64>,
    /// Woken tasks → the flow id that ends at their next step.
    pending_flows: BTreeMap<u32, u64>,
    next_flow: u64,
}

fn ts_of(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl<'a> Chrome<'a> {
    fn ts(&mut self, cpu: usize, ns: u64) -> f64 {
        let ts = ts_of(ns).max(self.last_ts[cpu]);
        self.last_ts[cpu] = ts;
        ts
    }

    fn begin(&mut self, cpu: usize, ts: f64, frame: &Frame, cont: bool) {
        let name = if cont {
            format!("{} (cont.)", frame.name)
        } else {
            frame.name.clone()
        };
        let cat = match frame.kind {
            FrameKind::Task => "task",
            FrameKind::Irq => "irq",
            FrameKind::Syscall => "syscall",
            FrameKind::Function => "function",
        };
        self.events.push(json!({
            "name": name, "cat": cat, "ph": "B", "ts": ts, "pid": 0, "tid": cpu,
            "args": frame.args,
        }));
    }

    fn end(&mut self, cpu: usize, ts: f64) {
        self.events
            .push(json!({"ph": "E", "ts": ts, "pid": 0, "tid": cpu}));
    }

    fn instant(&mut self, cpu: usize, ts: f64, name: &str, cat: &str) {
        self.events.push(json!({
            "name": name, "cat": cat, "ph": "i", "s": "t", "ts": ts, "pid": 0, "tid": cpu,
        }));
    }

    /// Closes every frame shown on `cpu` above depth `keep` entries of the show list.
    fn hide_from(&mut self, cpu: usize, ts: f64, keep: usize) {
        while self.shown[cpu].len() > keep {
            let (_, open) = self.shown[cpu].pop().expect("non-empty");
            for _ in 0..open {
                self.end(cpu, ts);
            }
        }
    }

    /// Makes `owner` the top of `cpu`'s track, opening its frames there.
    fn show(&mut self, cpu: usize, ts: f64, owner: Owner) {
        if self.shown[cpu].last().map(|(o, _)| *o) == Some(owner) {
            return;
        }
        match owner {
            Owner::Task(_) => {
                // A task runs alone on its CPU: whatever was shown goes.
                if let Some(position) = self.shown[cpu].iter().position(|(o, _)| *o == owner) {
                    self.hide_from(cpu, ts, position + 1);
                    return;
                }
                self.hide_from(cpu, ts, 0);
                // Shown elsewhere (it migrated while asleep)? Close it there.
                for other in 0..self.shown.len() {
                    if let Some(position) = self.shown[other].iter().position(|(o, _)| *o == owner)
                    {
                        let other_ts = self.last_ts[other];
                        self.hide_from(other, other_ts, position);
                    }
                }
            }
            Owner::Irq(_) => {}
        }
        let frames = self.stacks.get(&owner).cloned().unwrap_or_default();
        for frame in &frames {
            // Only the task's own frame is open before its first step: anything else
            // shown here is a call it was in when it last left a CPU.
            let cont = matches!(frame.kind, FrameKind::Syscall | FrameKind::Function);
            self.begin(cpu, ts, frame, cont);
        }
        self.shown[cpu].push((owner, frames.len()));
    }

    fn push_frame(&mut self, cpu: usize, ts: f64, owner: Owner, frame: Frame) {
        self.show(cpu, ts, owner);
        self.begin(cpu, ts, &frame, false);
        self.stacks.entry(owner).or_default().push(frame);
        if let Some(top) = self.shown[cpu].last_mut() {
            top.1 += 1;
        }
    }

    /// Pops frames of `owner` down to `depth` (it is shown on `cpu`).
    fn pop_to(&mut self, cpu: usize, ts: f64, owner: Owner, depth: usize) {
        while self.stacks.get(&owner).map_or(0, Vec::len) > depth {
            self.stacks.get_mut(&owner).expect("present").pop();
            if let Some(top) = self.shown[cpu].last_mut() {
                if top.0 == owner && top.1 > 0 {
                    top.1 -= 1;
                    self.end(cpu, ts);
                }
            }
        }
    }

    fn depth_of(&self, owner: Owner, kind: FrameKind) -> Option<usize> {
        self.stacks
            .get(&owner)?
            .iter()
            .rposition(|f| f.kind == kind)
    }

    fn record(&mut self, record: &Record, line: &str) {
        let cpu = record.cpu.index();
        let ts = self.ts(cpu, record.time_ns);
        let owner = if record.in_interrupt {
            Owner::Irq(record.cpu.0)
        } else {
            match (&record.event, record.task) {
                (TraceEvent::Interrupt { .. }, _) => Owner::Irq(record.cpu.0),
                (TraceEvent::Switch { to: Some(task) }, _) => Owner::Task(task.0),
                (TraceEvent::Switch { to: None }, _) => {
                    self.hide_from(cpu, ts, 0);
                    return;
                }
                (_, Some(task)) => Owner::Task(task.0),
                (_, None) => {
                    self.instant(cpu, ts, line.trim(), "machine");
                    return;
                }
            }
        };
        if let Owner::Task(task) = owner {
            if !self.stacks.contains_key(&owner) {
                let name = self
                    .run
                    .task_name(Some(sim::TaskId(task)))
                    .unwrap_or_default();
                self.stacks.insert(
                    owner,
                    vec![Frame {
                        name,
                        kind: FrameKind::Task,
                        args: json!({"task": task}),
                    }],
                );
            }
        }
        self.show(cpu, ts, owner);
        if !matches!(record.event, TraceEvent::Note { .. }) {
            if let Owner::Task(task) = owner {
                if let Some(id) = self.pending_flows.remove(&task) {
                    self.events.push(json!({
                        "name": "wake-up", "cat": "wakeup", "ph": "f", "bp": "e", "id": id,
                        "ts": ts, "pid": 0, "tid": cpu,
                    }));
                }
            }
        }
        match &record.event {
            TraceEvent::Interrupt { label, .. } => {
                self.stacks.insert(owner, Vec::new());
                self.push_frame(
                    cpu,
                    ts,
                    owner,
                    Frame {
                        name: format!("irq: {label}"),
                        kind: FrameKind::Irq,
                        args: json!({}),
                    },
                );
            }
            TraceEvent::Op {
                op: Op::Syscall { name },
                ..
            } => {
                self.push_frame(
                    cpu,
                    ts,
                    owner,
                    Frame {
                        name: (*name).to_string(),
                        kind: FrameKind::Syscall,
                        args: json!({"step": record.step}),
                    },
                );
            }
            TraceEvent::Op {
                op: Op::Wake { task, .. },
                result,
            } => {
                self.instant(cpu, ts, line.trim(), "wakeup");
                if *result != 0 {
                    let id = self.next_flow;
                    self.next_flow += 1;
                    self.events.push(json!({
                        "name": "wake-up", "cat": "wakeup", "ph": "s", "id": id,
                        "ts": ts, "pid": 0, "tid": cpu,
                    }));
                    self.pending_flows.insert(task.0, id);
                }
            }
            TraceEvent::Note { text } => self.note(cpu, ts, owner, text),
            TraceEvent::Sleep => {
                self.instant(cpu, ts, "sleeps", "sched");
                if let Some(position) = self.shown[cpu].iter().position(|(o, _)| *o == owner) {
                    self.hide_from(cpu, ts, position);
                }
            }
            TraceEvent::Exit => {
                self.pop_to(cpu, ts, owner, 0);
                self.stacks.remove(&owner);
                if let Some(position) = self.shown[cpu].iter().position(|(o, _)| *o == owner) {
                    self.hide_from(cpu, ts, position);
                }
            }
            TraceEvent::Switch { .. } => {}
            _ => self.instant(cpu, ts, line.trim(), "step"),
        }
    }

    fn note(&mut self, cpu: usize, ts: f64, owner: Owner, text: &str) {
        let syscall = self.depth_of(owner, FrameKind::Syscall);
        if let Some(depth) = syscall {
            let name = self.stacks[&owner][depth].name.clone();
            let returns = text.strip_prefix(name.as_str()).is_some_and(|rest| {
                rest.starts_with(" returns ") || rest.starts_with(" fails with ")
            });
            if returns {
                self.instant(cpu, ts, text, "return");
                self.pop_to(cpu, ts, owner, depth);
                return;
            }
        }
        let top_level = !text.starts_with(' ');
        let base = syscall.or_else(|| self.depth_of(owner, FrameKind::Irq));
        match (top_level, base) {
            (true, Some(base)) => {
                // A new kernel function of the same call ends the previous one.
                self.pop_to(cpu, ts, owner, base + 1);
                let name = function_name(text);
                self.push_frame(
                    cpu,
                    ts,
                    owner,
                    Frame {
                        name,
                        kind: FrameKind::Function,
                        args: json!({"note": text}),
                    },
                );
            }
            _ => self.instant(cpu, ts, text.trim(), "note"),
        }
    }
}

/// `ep_poll_callback: epitem3` → `ep_poll_callback`; `__fput: last ...` → `__fput`.
fn function_name(text: &str) -> String {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    if end == 0 {
        text.to_string()
    } else {
        text[..end].to_string()
    }
}

/// The Chrome trace event JSON of a run.
pub fn chrome(trace: &TraceCapture, run: &Executed, title: &str) -> Value {
    let cpus = run.options.machine.cpus;
    let mut chrome = Chrome {
        run,
        events: Vec::new(),
        shown: vec![Vec::new(); cpus],
        stacks: BTreeMap::new(),
        last_ts: vec![0.0; cpus],
        pending_flows: BTreeMap::new(),
        next_flow: 1,
    };
    chrome.events.push(json!({
        "name": "process_name", "ph": "M", "pid": 0, "tid": 0,
        "args": {"name": title},
    }));
    for cpu in 0..cpus {
        chrome.events.push(json!({
            "name": "thread_name", "ph": "M", "pid": 0, "tid": cpu,
            "args": {"name": format!("CPU {cpu}")},
        }));
        chrome.events.push(json!({
            "name": "thread_sort_index", "ph": "M", "pid": 0, "tid": cpu,
            "args": {"sort_index": cpu},
        }));
    }
    for (record, line) in trace.records.iter().zip(&trace.lines) {
        chrome.record(record, line);
    }
    for cpu in 0..cpus {
        let ts = chrome.last_ts[cpu];
        chrome.hide_from(cpu, ts, 0);
    }
    json!({
        "traceEvents": chrome.events,
        "displayTimeUnit": "ns",
        "otherData": {
            "scenario": title,
            "trace_hash": format!("{:016x}", run.outcome.result.trace_hash),
        },
    })
}
