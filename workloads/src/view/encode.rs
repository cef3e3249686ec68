//! One run as the page's data: a JSON object of flat tables, small enough for a
//! 100 000-step run (the page rebuilds the machine from it, keeping checkpoints).
//!
//! - `step`, `time` and `change_end` are stored as deltas (each value minus the one
//!   before it); the page adds them up when it loads.
//! - `records`: one column per field (`step`, `time`, `cpu`, `task`, `irq`, `kind`,
//!   `line`: an index into `lines`, each distinct narration line once); `kind` is
//!   [`RecordKind`] as a number.
//! - `changes`: every observed change as numbers in one flat array, and `change_end[i]`
//!   the end of the changes seen by the time `i` records were kept (`change_end[0]`: the
//!   machine as built; the machine after record `c` is the changes before
//!   `change_end[c + 1]`). A change is an opcode and its operands:
//!   `0 start layout id` a block allocated; `1 start` freed; `2 word value` stored;
//!   `3 cpu n (word value)*n` a store buffer; `4 lock n holder*n m waiter*m`;
//!   `5 queue n (function exclusive)*n`; `6 task status cpu`; `7 cpu task interrupt irqs`
//!   (-1 for none); `8 location` the source of the last note.
//! - A value is a number, except that the address of a word is `-(word + 1)` and a value
//!   past 2^53 is a hex string.

use std::fmt::Write as _;

use sim::mem::Word;
use sim::observe::Change;
use sim::trace::TraceEvent;

use crate::session::Executed;
use crate::view::Observed;

/// What a trace record is, as the page sorts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    Op = 0,
    Drain = 1,
    Interrupt = 2,
    Switch = 3,
    Sleep = 4,
    Exit = 5,
    AllocFail = 6,
    Note = 7,
    /// A system call's entry step (`sys_epoll_wait()`).
    SyscallEntry = 8,
    /// The note of a system call's return (`epoll_wait returns 2`).
    SyscallReturn = 9,
}

/// The kind of `event`, given its narration line.
pub fn record_kind(event: &TraceEvent, line: &str) -> RecordKind {
    match event {
        TraceEvent::Op {
            op: sim::op::Op::Syscall { .. },
            ..
        } => RecordKind::SyscallEntry,
        TraceEvent::Op { .. } => RecordKind::Op,
        TraceEvent::Drain { .. } => RecordKind::Drain,
        TraceEvent::Interrupt { .. } => RecordKind::Interrupt,
        TraceEvent::Switch { .. } => RecordKind::Switch,
        TraceEvent::Sleep => RecordKind::Sleep,
        TraceEvent::Exit => RecordKind::Exit,
        TraceEvent::AllocFail { .. } => RecordKind::AllocFail,
        TraceEvent::Note { .. } if is_syscall_return(line) => RecordKind::SyscallReturn,
        TraceEvent::Note { .. } => RecordKind::Note,
    }
}

/// `NAME returns N` or `NAME fails with ERRNO`, as `kernel_model::syscalls` notes a return.
fn is_syscall_return(line: &str) -> bool {
    let mut words = line.split(' ');
    let name = words.next().unwrap_or("");
    let verb = words.next().unwrap_or("");
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && (verb == "returns" || (verb == "fails" && words.next() == Some("with")))
}

/// Each value minus the one before it (the first as it is): steps, times and change
/// offsets move little from record to record, so their deltas take a digit or two.
fn deltas(values: impl Iterator<Item = u64>) -> impl Iterator<Item = i64> {
    let mut previous = 0u64;
    values.map(move |value| {
        let delta = value as i64 - previous as i64;
        previous = value;
        delta
    })
}

/// A JSON string literal that is also safe inside `<script>` (no `</`).
pub fn json_string(text: &str) -> String {
    serde_json::to_string(text)
        .expect("a string serialises")
        .replace("</", "<\\/")
}

fn push_value(out: &mut String, value: u64, words: usize) {
    match Word::from_address(value) {
        Some(word) if (word.0 as usize) < words => {
            let _ = write!(out, "{}", -(word.0 as i64) - 1);
        }
        _ if value < (1u64 << 53) => {
            let _ = write!(out, "{value}");
        }
        _ => {
            let _ = write!(out, "\"{value:#x}\"");
        }
    }
}

/// Interns strings in first-use order.
#[derive(Default)]
struct Interner {
    strings: Vec<String>,
    index: std::collections::HashMap<String, usize>,
}

impl Interner {
    fn intern(&mut self, text: &str) -> usize {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        self.strings.push(text.to_string());
        self.index.insert(text.to_string(), self.strings.len() - 1);
        self.strings.len() - 1
    }
}

fn string_array(out: &mut String, items: impl IntoIterator<Item = impl AsRef<str>>) {
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(item.as_ref()));
    }
    out.push(']');
}

fn number_array<T: std::fmt::Display>(out: &mut String, items: impl IntoIterator<Item = T>) {
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{item}");
    }
    out.push(']');
}

/// Everything a pane shows besides the machine: its title and the run's identity.
pub struct PaneInfo<'a> {
    pub title: &'a str,
    /// `kernel 6192bd536f96, 2 CPUs, ...`
    pub options: &'a str,
    pub scenario: &'a str,
    pub schedule: &'a str,
    pub trace_hash: u64,
    /// The run's results as text (the event order).
    pub results: &'a str,
}

/// One run as the page's JSON. `executed` must carry a trace with observations.
pub fn encode_run(executed: &Executed, info: &PaneInfo<'_>) -> String {
    let trace = executed
        .trace
        .as_ref()
        .expect("a view needs the run's trace");
    let empty = Observed::default();
    let observed = trace.observed.as_ref().unwrap_or(&empty);
    let words = observed
        .observations
        .iter()
        .filter_map(|o| match o.change {
            Change::Alloc { start, fields, .. } => Some(start.0 as usize + fields.len()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let mut out = String::with_capacity(64 * trace.records.len() + 1024);
    out.push('{');
    let _ = write!(
        out,
        "\"title\":{},\"options\":{},\"scenario\":{},\"schedule\":{},\"hash\":\"{:016x}\",\"results\":{},\"cpus\":{},\"words\":{words},",
        json_string(info.title),
        json_string(info.options),
        json_string(info.scenario),
        json_string(info.schedule),
        info.trace_hash,
        json_string(info.results),
        executed.options.machine.cpus,
    );
    // Records, column by column.
    let records = &trace.records;
    out.push_str("\"records\":{\"step\":");
    number_array(&mut out, deltas(records.iter().map(|r| r.step)));
    out.push_str(",\"time\":");
    number_array(&mut out, deltas(records.iter().map(|r| r.time_ns)));
    out.push_str(",\"cpu\":");
    number_array(&mut out, records.iter().map(|r| r.cpu.0));
    out.push_str(",\"task\":");
    number_array(
        &mut out,
        records.iter().map(|r| r.task.map_or(-1, |t| t.0 as i64)),
    );
    out.push_str(",\"irq\":");
    number_array(&mut out, records.iter().map(|r| r.in_interrupt as u8));
    out.push_str(",\"kind\":");
    number_array(
        &mut out,
        records
            .iter()
            .zip(&trace.lines)
            .map(|(r, line)| record_kind(&r.event, line) as u8),
    );
    // Narration repeats itself (the same lock taken again and again): each distinct line
    // once, and the records' lines as indices into that table.
    let mut lines = Interner::default();
    let line_indices: Vec<usize> = trace.lines.iter().map(|l| lines.intern(l)).collect();
    out.push_str(",\"line\":");
    number_array(&mut out, line_indices);
    out.push_str(",\"lines\":");
    string_array(&mut out, &lines.strings);
    out.push_str("},");
    // Changes.
    let mut layouts = Interner::default();
    let mut layout_list: Vec<(&str, &[&str])> = Vec::new();
    let mut locations = Interner::default();
    let mut change_end = vec![0usize; records.len() + 1];
    out.push_str("\"changes\":[");
    let mut first = true;
    let mut count = 0usize;
    for observation in &observed.observations {
        if !first {
            out.push(',');
        }
        first = false;
        let before = out.len();
        match &observation.change {
            Change::Alloc {
                start,
                kind,
                id,
                fields,
            } => {
                let key = format!("{kind}\u{0}{}", fields.join("\u{0}"));
                let layout = layouts.intern(&key);
                if layout == layout_list.len() {
                    layout_list.push((kind, fields));
                }
                let _ = write!(out, "0,{},{layout},{id}", start.0);
            }
            Change::Free { start } => {
                let _ = write!(out, "1,{}", start.0);
            }
            Change::Store { word, value } => {
                let _ = write!(out, "2,{},", word.0);
                push_value(&mut out, *value, words);
            }
            Change::Buffer { cpu, stores } => {
                let _ = write!(out, "3,{},{}", cpu.0, stores.len());
                for store in stores {
                    let _ = write!(out, ",{},", store.word.0);
                    push_value(&mut out, store.value, words);
                }
            }
            Change::Lock {
                lock,
                holders,
                waiters,
            } => {
                let _ = write!(out, "4,{},{}", lock.0, holders.len());
                for holder in holders {
                    let _ = write!(out, ",{}", holder.0);
                }
                let _ = write!(out, ",{}", waiters.len());
                for waiter in waiters {
                    let _ = write!(out, ",{}", waiter.0);
                }
            }
            Change::WaitQueue { queue, entries } => {
                let _ = write!(out, "5,{},{}", queue.0, entries.len());
                for entry in entries {
                    let function = observed
                        .wake_functions
                        .iter()
                        .position(|(f, _)| *f == entry.func)
                        .map_or(-1, |p| p as i64);
                    let _ = write!(out, ",{function},{}", entry.exclusive as u8);
                }
            }
            Change::Task { task, status, cpu } => {
                let status = match status {
                    sim::cpu::TaskStatus::OnCpu => 0,
                    sim::cpu::TaskStatus::Queued => 1,
                    sim::cpu::TaskStatus::Sleeping => 2,
                    sim::cpu::TaskStatus::Exited => 3,
                };
                let _ = write!(out, "6,{},{status},{}", task.0, cpu.0);
            }
            Change::Cpu {
                cpu,
                task,
                interrupt,
                irqs_enabled,
            } => {
                let _ = write!(
                    out,
                    "7,{},{},{},{}",
                    cpu.0,
                    task.map_or(-1, |t| t.0 as i64),
                    interrupt.map_or(-1, |c| c.0 as i64),
                    *irqs_enabled as u8
                );
            }
            Change::Location { location } => {
                let text = format!("{}:{}", location.file(), location.line());
                let index = locations.intern(&text);
                let _ = write!(out, "8,{index}");
            }
        }
        count += out[before..].split(',').count();
        change_end[observation.after_records.min(records.len())] = count;
    }
    for i in 1..change_end.len() {
        change_end[i] = change_end[i].max(change_end[i - 1]);
    }
    out.push_str("],\"change_end\":");
    number_array(&mut out, deltas(change_end.iter().map(|&e| e as u64)));
    out.push_str(",\"layouts\":[");
    for (i, (kind, fields)) in layout_list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "[{},", json_string(kind));
        string_array(&mut out, fields.iter());
        out.push(']');
    }
    out.push_str("],\"locations\":");
    string_array(&mut out, &locations.strings);
    out.push_str(",\"locks\":[");
    for (i, (name, kind)) in observed.locks.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "[{},{}]", json_string(name), json_string(kind));
    }
    out.push_str("],\"contexts\":");
    string_array(&mut out, &observed.contexts);
    out.push_str(",\"tasks\":");
    string_array(&mut out, &observed.tasks);
    out.push_str(",\"waitqueues\":");
    string_array(&mut out, &observed.waitqueues);
    out.push_str(",\"wake_functions\":");
    string_array(&mut out, observed.wake_functions.iter().map(|(_, t)| t));
    out.push_str(",\"lists\":[");
    for (i, list) in observed.lists.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (shape, link, inactive) = match list.shape {
            kernel_model::view_layout::ListShape::Double => ("double", "", String::new()),
            kernel_model::view_layout::ListShape::Chain { link, inactive } => {
                let mut value = String::new();
                push_value(&mut value, inactive, 0);
                ("chain", link, value)
            }
        };
        let _ = write!(
            out,
            "{{\"kind\":{},\"field\":{},\"title\":{},\"shape\":\"{shape}\",\"link\":{},\"inactive\":{}}}",
            json_string(list.kind),
            json_string(list.field),
            json_string(list.title),
            json_string(link),
            if inactive.is_empty() { "null".to_string() } else { inactive }
        );
    }
    out.push(']');
    if let Some(item) = &observed.item {
        let _ = write!(
            out,
            ",\"item\":{{\"kind\":{},\"mask\":{},\"links\":",
            json_string(item.kind),
            json_string(item.mask_field)
        );
        string_array(&mut out, item.links.iter());
        out.push('}');
    }
    // Reports, each at the first record of its step (or the last record).
    out.push_str(",\"reports\":[");
    for (i, report) in executed.violations().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let record = records
            .iter()
            .rposition(|r| r.step <= report.step)
            .unwrap_or(0);
        let _ = write!(
            out,
            "{{\"record\":{record},\"step\":{},\"kind\":{},\"message\":{},\"details\":",
            report.step,
            json_string(&report.kind.to_string()),
            json_string(&report.message)
        );
        string_array(&mut out, &report.details);
        out.push('}');
    }
    out.push_str("]}");
    out
}
