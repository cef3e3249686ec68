//! Turning trace records into sentences in kernel terms: `write_lock_irqsave(ep3->lock)`,
//! `load epitem5.rdllink.next -> ep3.rdllist.next`, `try_to_wake_up(task2 waiter1) -> 1`.
//! Names come from the machine's own tables (lock names, memory blocks, task names), so
//! a narration is rendered from the run, never written by hand.

use std::fmt::Write as _;

use crate::lock::LockKind;
use crate::mem::Word;
use crate::op::{Fence, IrqMode, LockMode, Op};
use crate::state::State;
use crate::trace::{Record, TraceEvent};

/// The C spelling of a lock operation on a lock of `kind`.
pub fn lock_call(kind: LockKind, mode: LockMode, irq: IrqMode, acquire: bool) -> &'static str {
    use IrqMode::*;
    use LockKind::*;
    use LockMode::*;
    match (kind, mode, irq, acquire) {
        (Spin, _, Keep, true) => "spin_lock",
        (Spin, _, Keep, false) => "spin_unlock",
        (Spin, _, DisableEnable, true) => "spin_lock_irq",
        (Spin, _, DisableEnable, false) => "spin_unlock_irq",
        (Spin, _, SaveRestore { .. }, true) => "spin_lock_irqsave",
        (Spin, _, SaveRestore { .. }, false) => "spin_unlock_irqrestore",
        (RwLock, Shared, Keep, true) => "read_lock",
        (RwLock, Shared, Keep, false) => "read_unlock",
        (RwLock, Shared, DisableEnable, true) => "read_lock_irq",
        (RwLock, Shared, DisableEnable, false) => "read_unlock_irq",
        (RwLock, Shared, SaveRestore { .. }, true) => "read_lock_irqsave",
        (RwLock, Shared, SaveRestore { .. }, false) => "read_unlock_irqrestore",
        (RwLock, Exclusive, Keep, true) => "write_lock",
        (RwLock, Exclusive, Keep, false) => "write_unlock",
        (RwLock, Exclusive, DisableEnable, true) => "write_lock_irq",
        (RwLock, Exclusive, DisableEnable, false) => "write_unlock_irq",
        (RwLock, Exclusive, SaveRestore { .. }, true) => "write_lock_irqsave",
        (RwLock, Exclusive, SaveRestore { .. }, false) => "write_unlock_irqrestore",
        (RwSem, Shared, _, true) => "down_read",
        (RwSem, Shared, _, false) => "up_read",
        (RwSem, Exclusive, _, true) => "down_write",
        (RwSem, Exclusive, _, false) => "up_write",
        (Mutex, _, _, true) => "mutex_lock",
        (Mutex, _, _, false) => "mutex_unlock",
    }
}

fn word_name(state: &State, word: Word) -> String {
    match word.released_lock() {
        Some(lock) => format!("{} (release)", state.locks.borrow().name(lock)),
        None => state.mem.name_of(word),
    }
}

/// A value as a person reads it: a word address becomes the word's name.
fn value_name(state: &State, value: u64) -> String {
    match Word::from_address(value) {
        Some(word) if state.mem.block_of(word).is_some() => format!("&{}", word_name(state, word)),
        _ => match value {
            crate::list::LIST_POISON1 => "LIST_POISON1".to_string(),
            crate::list::LIST_POISON2 => "LIST_POISON2".to_string(),
            v if v > 0xffff => format!("{v:#x}"),
            v => v.to_string(),
        },
    }
}

/// One op, as C code would spell it, with its result where it has one.
pub fn describe_op(state: &State, op: &Op, result: u64) -> String {
    let locks = state.locks.borrow();
    match *op {
        Op::Start => "start".to_string(),
        Op::Resume => "resume".to_string(),
        Op::Load { word, once } => format!(
            "{}{}{} -> {}",
            if once { "READ_ONCE(" } else { "load " },
            word_name(state, word),
            if once { ")" } else { "" },
            value_name(state, result)
        ),
        Op::Store { word, value, once } => {
            if once {
                format!(
                    "WRITE_ONCE({}, {})",
                    word_name(state, word),
                    value_name(state, value)
                )
            } else {
                format!("{} = {}", word_name(state, word), value_name(state, value))
            }
        }
        Op::Xchg { word, value } => format!(
            "xchg({}, {}) -> {}",
            word_name(state, word),
            value_name(state, value),
            value_name(state, result)
        ),
        Op::CmpXchg {
            word,
            expected,
            new,
        } => format!(
            "cmpxchg({}, {}, {}) -> {}",
            word_name(state, word),
            value_name(state, expected),
            value_name(state, new),
            value_name(state, result)
        ),
        Op::AddReturn { word, delta } => format!(
            "atomic_add_return({}, {}) -> {}",
            word_name(state, word),
            delta as i64,
            result as i64
        ),
        Op::Fence(Fence::Full) => "smp_mb()".to_string(),
        Op::Fence(Fence::Write) => "smp_wmb()".to_string(),
        Op::Fence(Fence::Read) => "smp_rmb()".to_string(),
        Op::Lock { lock, mode, irq } | Op::Unlock { lock, mode, irq } => {
            let l = locks.get(lock);
            let acquire = matches!(op, Op::Lock { .. });
            let name = locks.name(lock);
            format!("{}({name})", lock_call(l.kind, mode, irq, acquire))
        }
        Op::IrqSave => format!("local_irq_save() -> {result}"),
        Op::IrqRestore { flags } => format!("local_irq_restore({flags})"),
        Op::SetState {
            state: s,
            with_barrier,
        } => format!(
            "{}({})",
            if with_barrier {
                "set_current_state"
            } else {
                "__set_current_state"
            },
            s.name()
        ),
        Op::Schedule {
            timeout_jiffies: None,
        } => "schedule()".to_string(),
        Op::Schedule {
            timeout_jiffies: Some(j),
        } if j == i64::MAX as u64 => "schedule_timeout(MAX_SCHEDULE_TIMEOUT)".to_string(),
        Op::Schedule {
            timeout_jiffies: Some(j),
        } => format!("schedule_timeout({j}) -> {result}"),
        Op::Wake { task, .. } => {
            let name = state
                .tasks
                .borrow()
                .get(task.index())
                .map(|t| t.name.clone())
                .unwrap_or_default();
            format!("try_to_wake_up({task} {name}) -> {result}")
        }
        Op::MayFault => "__put_user (may fault)".to_string(),
        Op::SleepFor { duration_ns } => format!("sleep {duration_ns}ns"),
        Op::Syscall { name } => format!("sys_{name}()"),
        Op::Yield { label } => label.to_string(),
    }
}

/// One record as a line of narration (without the step/time/CPU prefix).
pub fn describe(state: &State, record: &Record) -> String {
    match &record.event {
        TraceEvent::Op { op, result } => describe_op(state, op, *result),
        TraceEvent::Drain { word, .. } if word.released_lock().is_some() => format!(
            "store buffer drains: the release of {} becomes visible (the lock is free for other CPUs)",
            word_name(state, *word).trim_end_matches(" (release)")
        ),
        TraceEvent::Drain { word, value } => format!(
            "store buffer drains: {} = {} becomes visible",
            word_name(state, *word),
            value_name(state, *value)
        ),
        TraceEvent::Interrupt { label, .. } => format!("interrupt: {label}"),
        TraceEvent::Switch { to: Some(task) } => {
            let name = state
                .tasks
                .borrow()
                .get(task.index())
                .map(|t| t.name.clone())
                .unwrap_or_default();
            format!("switch to {task} ({name})")
        }
        TraceEvent::Switch { to: None } => "idle".to_string(),
        TraceEvent::Sleep => "sleeps".to_string(),
        TraceEvent::Exit => "exits".to_string(),
        TraceEvent::AllocFail { class } => format!("kmem_cache_alloc({class}) fails (injected)"),
        TraceEvent::Note { text } => text.clone(),
    }
}

/// The `[step time cpu who]` prefix of a narrated line.
pub fn prefix(state: &State, record: &Record) -> String {
    let who = match record.task {
        Some(task) => state
            .tasks
            .borrow()
            .get(task.index())
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        None => "idle".to_string(),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>6} {:>9.3}us {} {:<10}{}",
        record.step,
        record.time_ns as f64 / 1000.0,
        record.cpu,
        who,
        if record.in_interrupt { " [irq]" } else { "" }
    );
    out
}

/// A whole narration, one line per record; notes (kernel function names from the layer
/// above) are indented under the op that follows them.
pub fn render(state: &State, records: &[Record]) -> String {
    let mut out = String::new();
    for record in records {
        let _ = writeln!(
            out,
            "{}  {}",
            prefix(state, record),
            describe(state, record)
        );
    }
    out
}
