//! Wait queues, as `kernel/sched.c` and `include/linux/wait.h` of 2.6.22 have them.
//!
//! A head has a spinlock and a list of entries. An entry either wakes a task
//! (`default_wake_function`) or calls a callback that a higher layer registered — an
//! enum value (`kind`, `data`) that the layer above dispatches through
//! [`crate::WakeCallbacks`], never a boxed closure. `__wake_up_common` runs the callbacks in the
//! waker's context with the head's lock held, counting exclusive wake-ups against
//! `nr_exclusive` (0 = wake everyone), exactly as the kernel does.
//!
//! The entry lists are object-level: every path touches them with the head's lock held.

use smallvec::SmallVec;

use crate::arena::{Arena, Handle};
use crate::ids::{LockId, TaskId, WaitQueueId};

/// What waking an entry does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeFunction {
    /// `default_wake_function`: `try_to_wake_up(task)`.
    Default(TaskId),
    /// A callback of the layer above, e.g. epoll's `ep_poll_callback` with its epitem.
    Callback { kind: u32, data: u64 },
}

/// A `wait_queue_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitEntry {
    /// `WQ_FLAG_EXCLUSIVE`.
    pub exclusive: bool,
    pub func: WakeFunction,
    /// The index of the head it is linked on, or [`WaitEntry::UNLINKED`]: a `u32`
    /// rather than an `Option<WaitQueueId>`, which would make the entry 32 bytes
    /// instead of 24 (a watch has one).
    linked_on: u32,
}

impl WaitEntry {
    const UNLINKED: u32 = u32::MAX;

    /// An entry on no head.
    pub fn new(func: WakeFunction, exclusive: bool) -> WaitEntry {
        WaitEntry {
            exclusive,
            func,
            linked_on: Self::UNLINKED,
        }
    }

    /// The head it is linked on, if any.
    pub fn head(&self) -> Option<WaitQueueId> {
        (self.linked_on != Self::UNLINKED).then_some(WaitQueueId(self.linked_on))
    }
}

pub type WaitEntryId = Handle<WaitEntry>;

/// A `wait_queue_head_t`.
#[derive(Clone, Debug)]
pub struct WaitQueueHead {
    /// `q->lock` (a spinlock, always taken with interrupts saved).
    pub lock: LockId,
    /// Entries in list order: `__add_wait_queue` inserts at the front, `_tail` at the back.
    /// Inline up to two (in the space a `Vec` takes): most heads have one or two
    /// entries, and a watched file's head would otherwise cost an allocation per watch.
    pub entries: SmallVec<[WaitEntryId; 2]>,
}

/// Which sleepers a wake-up may end (the `mode` argument of `__wake_up`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeMode {
    /// TASK_UNINTERRUPTIBLE | TASK_INTERRUPTIBLE (`wake_up`).
    All,
    /// TASK_INTERRUPTIBLE only (`wake_up_interruptible`).
    Interruptible,
}

/// All wait queues of a machine.
pub struct WaitQueues {
    pub heads: Vec<WaitQueueHead>,
    pub entries: Arena<WaitEntry>,
}

impl Default for WaitQueues {
    fn default() -> WaitQueues {
        WaitQueues {
            heads: Vec::new(),
            entries: Arena::new("wait_queue_t"),
        }
    }
}

impl WaitQueues {
    /// Drops every head and entry, keeping capacity (for `Machine::reset`).
    pub fn reset(&mut self) {
        self.heads.clear();
        self.entries.clear();
    }

    pub fn head(&self, id: WaitQueueId) -> &WaitQueueHead {
        &self.heads[id.index()]
    }

    /// Links `entry` on `head`, at the front (`__add_wait_queue`) or the back
    /// (`__add_wait_queue_tail`). Returns false if the entry is stale.
    pub fn link(&mut self, head: WaitQueueId, entry: WaitEntryId, tail: bool) -> bool {
        let Ok(e) = self.entries.get_mut(entry) else {
            return false;
        };
        debug_assert!(e.head().is_none(), "wait entry linked twice");
        e.linked_on = head.0;
        let entries = &mut self.heads[head.index()].entries;
        if tail {
            entries.push(entry);
        } else {
            entries.insert(0, entry);
        }
        true
    }

    /// `__remove_wait_queue`. Returns false if the entry was not on `head`.
    pub fn unlink(&mut self, head: WaitQueueId, entry: WaitEntryId) -> bool {
        let entries = &mut self.heads[head.index()].entries;
        let Some(position) = entries.iter().position(|&e| e == entry) else {
            return false;
        };
        entries.remove(position);
        if let Ok(e) = self.entries.get_mut(entry) {
            e.linked_on = WaitEntry::UNLINKED;
        }
        true
    }

    /// The entries to visit in a wake-up, in list order.
    pub fn snapshot(&self, head: WaitQueueId) -> SmallVec<[WaitEntryId; 8]> {
        SmallVec::from_slice(&self.heads[head.index()].entries)
    }

    /// The entry's flags and function, if it is still linked on `head`.
    pub fn entry_on(&self, head: WaitQueueId, entry: WaitEntryId) -> Option<WaitEntry> {
        self.entries
            .get(entry)
            .ok()
            .filter(|e| e.head() == Some(head))
            .copied()
    }
}
