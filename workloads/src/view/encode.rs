//! One run as the page's data, small and quick to unpack for a 100 000-step run (the page
//! rebuilds the machine from it, keeping checkpoints): a JSON header of names and texts
//! and columns of numbers, packed into bytes, deflated (zlib) and put in the page as
//! base64. The page inflates it with the browser's own `DecompressionStream` and views
//! each column in place as a typed array: no number is parsed from text.
//!
//! - The bytes: the header's length (u32, little-endian), the header (UTF-8 JSON), then
//!   each column at the next multiple of 8 bytes, little-endian `i32` or `f64`; the
//!   header's `columns` lists them in order as `[name, "i32" | "f64", length]`.
//! - Records, one column per field: `step`, `time` (as deltas: each value minus the one
//!   before it), `cpu`, `task` (-1: none), `irq`, `kind` ([`RecordKind`] as a number),
//!   `line` (an index into the header's `lines`, each distinct narration line once).
//! - `changes`: every observed change as numbers in one column, and `change_end[i]` (as
//!   deltas) the end of the changes seen by the time `i` records were kept
//!   (`change_end[0]`: the machine as built; the machine after record `c` is the changes
//!   before `change_end[c + 1]`). A change is an opcode and its operands: `2 word value`
//!   stored; `3 cpu n (word value)*n` a store buffer; `4 lock n holder*n m waiter*m`;
//!   `5 queue n (function exclusive)*n` (a function: an index into `wake_functions`);
//!   `6 task status cpu`; `7 cpu task interrupt irqs` (-1 for none); `8 location` the
//!   source of the last note.
//! - `blocks`: five numbers a block of memory: its first word, its layout (an index into
//!   `layouts`: kind and field names), its id, the record after which it was allocated
//!   (-1: as built) and the one after which it was freed (-2: never).
//! - A value (a stored word, a block's id) is one `i32`: `-(word + 1)` for the address of
//!   a word, the value itself below 2^30, else `2^30 + i` for the `i`-th entry of the
//!   header's `big` (a number, or past 2^53 a hex string).

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

/// Each value minus the one before it (the first as it is): steps and change offsets
/// move little from record to record, so their deltas are small numbers that compress well.
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

/// The first code of a value kept in [`Values::big`]: codes below it are the value itself
/// (or, negative, a word's address).
const BIG_VALUE_BASE: i64 = 1 << 30;

/// How the page gets a 64-bit value in one 32-bit number: `-(word + 1)` for the address
/// of a word, the value itself below 2^30, else `2^30 + i` for the `i`-th entry of a
/// table of the larger values (a JSON number below 2^53, a hex string above).
struct Values {
    words: usize,
    big: Vec<u64>,
    index: std::collections::BTreeMap<u64, usize>,
}

impl Values {
    fn new(words: usize) -> Values {
        Values {
            words,
            big: Vec::new(),
            index: std::collections::BTreeMap::new(),
        }
    }

    fn code(&mut self, value: u64) -> i32 {
        match Word::from_address(value) {
            Some(word) if (word.0 as usize) < self.words && (word.0 as i64) < BIG_VALUE_BASE => {
                -(word.0 as i32) - 1
            }
            _ if (value as i64) >= 0 && (value as i64) < BIG_VALUE_BASE => value as i32,
            _ => {
                let next = self.big.len();
                let i = *self.index.entry(value).or_insert(next);
                if i == next {
                    self.big.push(value);
                }
                (BIG_VALUE_BASE + i as i64) as i32
            }
        }
    }

    fn json(&self) -> String {
        let mut out = String::from("[");
        for (i, &value) in self.big.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_value(&mut out, value);
        }
        out.push(']');
        out
    }
}

/// A value as the page shows it when it is not an address: a number, or past 2^53 (where
/// JavaScript numbers lose digits) a hex string.
fn push_json_value(out: &mut String, value: u64) {
    if value < (1u64 << 53) {
        let _ = write!(out, "{value}");
    } else {
        let _ = write!(out, "\"{value:#x}\"");
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

/// One column of numbers of the binary part.
enum Column {
    Int32(Vec<i32>),
    Float64(Vec<f64>),
}

/// A pane's data: a JSON header and numeric columns, packed as the page unpacks them
/// (see the module comment).
struct Packed {
    header: String,
    columns: Vec<(&'static str, Column)>,
}

impl Packed {
    /// The header (with the columns' table appended) and the columns, deflated (zlib)
    /// and in base64.
    fn finish(mut self) -> String {
        self.header.push_str(",\"columns\":[");
        for (i, (name, column)) in self.columns.iter().enumerate() {
            if i > 0 {
                self.header.push(',');
            }
            let (kind, len) = match column {
                Column::Int32(v) => ("i32", v.len()),
                Column::Float64(v) => ("f64", v.len()),
            };
            let _ = write!(self.header, "[\"{name}\",\"{kind}\",{len}]");
        }
        self.header.push_str("]}");
        let mut bytes = Vec::with_capacity(
            8 + self.header.len()
                + self
                    .columns
                    .iter()
                    .map(|(_, c)| match c {
                        Column::Int32(v) => 4 * v.len() + 8,
                        Column::Float64(v) => 8 * v.len() + 8,
                    })
                    .sum::<usize>(),
        );
        bytes.extend_from_slice(&(self.header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(self.header.as_bytes());
        for (_, column) in &self.columns {
            // Each column starts at a multiple of 8 bytes, so that the page can view it
            // in place as a typed array.
            bytes.resize(bytes.len().next_multiple_of(8), 0);
            match column {
                Column::Int32(values) => {
                    for value in values {
                        bytes.extend_from_slice(&value.to_le_bytes());
                    }
                }
                Column::Float64(values) => {
                    for value in values {
                        bytes.extend_from_slice(&value.to_le_bytes());
                    }
                }
            }
        }
        let deflated = miniz_oxide::deflate::compress_to_vec_zlib(&bytes, COMPRESSION_LEVEL);
        base64(&deflated)
    }
}

/// zlib's level: 6 (its default) takes twice as long as 3 on a 100 000-step run's 20 MB
/// of columns and makes the file about a tenth smaller; the page's time to open depends
/// on the file's size far less than on the work of decoding it.
const COMPRESSION_LEVEL: u8 = 3;

/// Standard base64 with padding (what `atob` and `Uint8Array.fromBase64` read).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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

/// One run as the page's data (see the module comment): base64 text to put in the page.
/// `executed` must carry a trace with observations.
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
    let mut values = Values::new(words);
    let records = &trace.records;
    let mut header = String::with_capacity(info.results.len() + 256 * 1024);
    let _ = write!(
        header,
        "{{\"title\":{},\"options\":{},\"scenario\":{},\"schedule\":{},\"hash\":\"{:016x}\",\"results\":{},\"cpus\":{},\"words\":{words}",
        json_string(info.title),
        json_string(info.options),
        json_string(info.scenario),
        json_string(info.schedule),
        info.trace_hash,
        json_string(info.results),
        executed.options.machine.cpus,
    );
    let mut columns: Vec<(&'static str, Column)> = Vec::new();
    let int32 = |values: Vec<i64>| Column::Int32(values.into_iter().map(|v| v as i32).collect());
    columns.push((
        "step",
        int32(deltas(records.iter().map(|r| r.step)).collect()),
    ));
    // Times as deltas too, in doubles: a sleep can jump further than 2^31 ns.
    columns.push((
        "time",
        Column::Float64(
            deltas(records.iter().map(|r| r.time_ns))
                .map(|d| d as f64)
                .collect(),
        ),
    ));
    columns.push((
        "cpu",
        Column::Int32(records.iter().map(|r| r.cpu.0 as i32).collect()),
    ));
    columns.push((
        "task",
        Column::Int32(
            records
                .iter()
                .map(|r| r.task.map_or(-1, |t| t.0 as i32))
                .collect(),
        ),
    ));
    columns.push((
        "irq",
        Column::Int32(records.iter().map(|r| r.in_interrupt as i32).collect()),
    ));
    columns.push((
        "kind",
        Column::Int32(
            records
                .iter()
                .zip(&trace.lines)
                .map(|(r, line)| record_kind(&r.event, line) as i32)
                .collect(),
        ),
    ));
    // Narration repeats itself (the same lock taken again and again): each distinct line
    // once, and the records' lines as indices into that table.
    let mut lines = Interner::default();
    columns.push((
        "line",
        Column::Int32(trace.lines.iter().map(|l| lines.intern(l) as i32).collect()),
    ));
    header.push_str(",\"lines\":");
    string_array(&mut header, &lines.strings);
    let log = encode_changes(observed, records.len(), &mut values);
    columns.push(("changes", Column::Int32(log.changes)));
    columns.push((
        "change_end",
        int32(deltas(log.change_end.iter().map(|&e| e as u64)).collect()),
    ));
    columns.push(("blocks", Column::Int32(log.blocks)));
    header.push_str(",\"layouts\":[");
    for (i, (kind, fields)) in log.layouts.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        let _ = write!(header, "[{},", json_string(kind));
        string_array(&mut header, fields.iter());
        header.push(']');
    }
    header.push_str("],\"locations\":");
    string_array(&mut header, &log.locations);
    header.push_str(",\"locks\":[");
    for (i, (name, kind)) in observed.locks.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        let _ = write!(header, "[{},{}]", json_string(name), json_string(kind));
    }
    header.push_str("],\"contexts\":");
    string_array(&mut header, &observed.contexts);
    header.push_str(",\"tasks\":");
    string_array(&mut header, &observed.tasks);
    header.push_str(",\"waitqueues\":");
    string_array(&mut header, &observed.waitqueues);
    header.push_str(",\"wake_functions\":[");
    for (i, (_, function)) in observed.wake_functions.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        let _ = write!(
            header,
            "[{},{}]",
            json_string(&function.text),
            function
                .item
                .as_deref()
                .map_or("null".to_string(), json_string)
        );
    }
    header.push_str("],\"lists\":[");
    for (i, list) in observed.lists.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        let (shape, link, inactive) = match list.shape {
            kernel_model::view_layout::ListShape::Double => ("double", "", "null".to_string()),
            kernel_model::view_layout::ListShape::Chain { link, inactive } => {
                let mut value = String::new();
                push_json_value(&mut value, inactive);
                ("chain", link, value)
            }
        };
        let _ = write!(
            header,
            "{{\"kind\":{},\"field\":{},\"title\":{},\"shape\":\"{shape}\",\"link\":{},\"inactive\":{inactive}}}",
            json_string(list.kind),
            json_string(list.field),
            json_string(list.title),
            json_string(link),
        );
    }
    header.push(']');
    if let Some(item) = &observed.item {
        let _ = write!(
            header,
            ",\"item\":{{\"kind\":{},\"mask\":{},\"links\":",
            json_string(item.kind),
            json_string(item.mask_field)
        );
        string_array(&mut header, item.links.iter());
        header.push('}');
    }
    // Reports, each at the last record of its step or before it.
    header.push_str(",\"reports\":[");
    for (i, report) in executed.violations().iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        let record = records
            .iter()
            .rposition(|r| r.step <= report.step)
            .unwrap_or(0);
        let _ = write!(
            header,
            "{{\"record\":{record},\"step\":{},\"kind\":{},\"message\":{},\"details\":",
            report.step,
            json_string(&report.kind.to_string()),
            json_string(&report.message)
        );
        string_array(&mut header, &report.details);
        header.push('}');
    }
    header.push(']');
    let _ = write!(header, ",\"big\":{}", values.json());
    Packed { header, columns }.finish()
}

/// The change log as the page reads it.
struct ChangeLog {
    /// Opcodes and operands (see the module comment).
    changes: Vec<i32>,
    /// `change_end[i]`: the length of `changes` once `i` records were kept.
    change_end: Vec<usize>,
    /// Five numbers a block: start word, layout, id (a value code), the record after
    /// which it was allocated (-1: as built), the record after which it was freed
    /// (-2: never).
    blocks: Vec<i32>,
    layouts: Vec<(&'static str, &'static [&'static str])>,
    locations: Vec<String>,
}

fn encode_changes(observed: &Observed, records: usize, values: &mut Values) -> ChangeLog {
    let mut log = ChangeLog {
        changes: Vec::with_capacity(4 * observed.observations.len()),
        change_end: vec![0usize; records + 1],
        blocks: Vec::new(),
        layouts: Vec::new(),
        locations: Vec::new(),
    };
    let mut layouts = Interner::default();
    let mut locations = Interner::default();
    // The block that starts at a word (the last allocated there).
    let mut block_at: std::collections::BTreeMap<u32, usize> = std::collections::BTreeMap::new();
    let c = &mut log.changes;
    for observation in &observed.observations {
        let after = observation.after_records.min(records);
        match &observation.change {
            Change::Alloc {
                start,
                kind,
                id,
                fields,
            } => {
                let key = format!("{kind}\u{0}{}", fields.join("\u{0}"));
                let layout = layouts.intern(&key);
                if layout == log.layouts.len() {
                    log.layouts.push((kind, fields));
                }
                block_at.insert(start.0, log.blocks.len() / 5);
                log.blocks.extend([
                    start.0 as i32,
                    layout as i32,
                    values.code(*id),
                    after as i32 - 1,
                    -2,
                ]);
            }
            Change::Free { start } => {
                if let Some(&block) = block_at.get(&start.0) {
                    log.blocks[5 * block + 4] = after as i32 - 1;
                }
            }
            Change::Store { word, value } => {
                c.extend([2, word.0 as i32, values.code(*value)]);
            }
            Change::Buffer { cpu, stores } => {
                c.extend([3, cpu.0 as i32, stores.len() as i32]);
                for store in stores {
                    c.extend([store.word.0 as i32, values.code(store.value)]);
                }
            }
            Change::Lock {
                lock,
                holders,
                waiters,
            } => {
                c.extend([4, lock.0 as i32, holders.len() as i32]);
                c.extend(holders.iter().map(|h| h.0 as i32));
                c.push(waiters.len() as i32);
                c.extend(waiters.iter().map(|w| w.0 as i32));
            }
            Change::WaitQueue { queue, entries } => {
                c.extend([5, queue.0 as i32, entries.len() as i32]);
                for entry in entries {
                    let function = observed
                        .wake_functions
                        .iter()
                        .position(|(f, _)| *f == entry.func)
                        .map_or(-1, |p| p as i32);
                    c.extend([function, entry.exclusive as i32]);
                }
            }
            Change::Task { task, status, cpu } => {
                let status = match status {
                    sim::cpu::TaskStatus::OnCpu => 0,
                    sim::cpu::TaskStatus::Queued => 1,
                    sim::cpu::TaskStatus::Sleeping => 2,
                    sim::cpu::TaskStatus::Exited => 3,
                };
                c.extend([6, task.0 as i32, status, cpu.0 as i32]);
            }
            Change::Cpu {
                cpu,
                task,
                interrupt,
                irqs_enabled,
            } => {
                c.extend([
                    7,
                    cpu.0 as i32,
                    task.map_or(-1, |t| t.0 as i32),
                    interrupt.map_or(-1, |x| x.0 as i32),
                    *irqs_enabled as i32,
                ]);
            }
            Change::Location { location } => {
                let text = format!("{}:{}", location.file(), location.line());
                c.extend([8, locations.intern(&text) as i32]);
            }
        }
        log.change_end[after] = c.len();
    }
    for i in 1..log.change_end.len() {
        log.change_end[i] = log.change_end[i].max(log.change_end[i - 1]);
    }
    log.locations = locations.strings;
    log
}
