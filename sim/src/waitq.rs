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
//!
//! The operations kernel code calls (`add_wait_queue`, `remove_wait_queue`, `waitqueue_active`,
//! `__wake_up`) are the `impl Cx` block at the end.

use std::future::Future;

use smallvec::SmallVec;

use crate::arena::{Arena, Handle};
use crate::config::Granularity;
use crate::cx::Cx;
use crate::footprint::{access, Object};
use crate::ids::{LockId, TaskId, WaitQueueId};
use crate::lock::{LockKind, Name};
use crate::report::ReportKind;

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

// ---- the wait-queue operations kernel code calls -------------------------------------

/// `wait.h` / `kernel/sched.c` operations on heads and entries, as [`Cx`] methods.
impl<G: Granularity> Cx<G> {
    /// `init_waitqueue_head()`; its lock gets class `class`.
    pub fn init_waitqueue_head(&self, class: &'static str, name: Name) -> WaitQueueId {
        let lock = self.new_lock(LockKind::Spin, class, name);
        self.note_access(Object::Allocator, access::WRITE);
        let mut queues = self.state().waitqueues.borrow_mut();
        let id = WaitQueueId(queues.heads.len() as u32);
        queues.heads.push(WaitQueueHead {
            lock,
            entries: smallvec::SmallVec::new(),
        });
        id
    }

    pub fn waitqueue_lock(&self, head: WaitQueueId) -> LockId {
        self.state().waitqueues.borrow().head(head).lock
    }

    /// Allocates an unlinked entry (`init_waitqueue_entry` / `init_waitqueue_func_entry`).
    pub fn new_wait_entry(&self, func: WakeFunction, exclusive: bool) -> WaitEntryId {
        self.note_access(Object::Allocator, access::WRITE);
        let step = self.state().step.get();
        self.state()
            .waitqueues
            .borrow_mut()
            .entries
            .alloc(WaitEntry::new(func, exclusive), step)
    }

    /// Frees an entry; a stale one is reported as use-after-free or double free.
    pub fn free_wait_entry(&self, entry: WaitEntryId) {
        self.note_access(Object::Allocator, access::WRITE);
        let step = self.state().step.get();
        let result = self
            .state()
            .waitqueues
            .borrow_mut()
            .entries
            .free(entry, step);
        if let Err(error) = result {
            self.state()
                .report(ReportKind::DoubleFree, error.to_string(), vec![]);
        }
    }

    /// `__add_wait_queue` (front) — the caller holds the head's lock.
    pub fn add_wait_queue_locked(&self, head: WaitQueueId, entry: WaitEntryId) {
        self.link_entry(head, entry, false);
    }

    /// `__add_wait_queue_tail` — the caller holds the head's lock.
    pub fn add_wait_queue_tail_locked(&self, head: WaitQueueId, entry: WaitEntryId) {
        self.link_entry(head, entry, true);
    }

    fn link_entry(&self, head: WaitQueueId, entry: WaitEntryId, tail: bool) {
        self.note_access(Object::WaitQueue(head), access::WRITE);
        if !self.state().waitqueues.borrow_mut().link(head, entry, tail) {
            self.state().report(
                ReportKind::UseAfterFree,
                format!("linking freed wait entry {entry:?}"),
                vec![],
            );
        }
    }

    /// `__remove_wait_queue` — the caller holds the head's lock.
    pub fn remove_wait_queue_locked(&self, head: WaitQueueId, entry: WaitEntryId) {
        self.note_access(Object::WaitQueue(head), access::WRITE);
        self.state().waitqueues.borrow_mut().unlink(head, entry);
    }

    /// `add_wait_queue()`: front of the list, under the head's lock with irqs saved.
    pub async fn add_wait_queue(&self, head: WaitQueueId, entry: WaitEntryId) {
        let lock = self.waitqueue_lock(head);
        let flags = self.spin_lock_irqsave(lock).await;
        self.add_wait_queue_locked(head, entry);
        self.spin_unlock_irqrestore(lock, flags).await;
    }

    /// `add_wait_queue_exclusive()`: marks the entry exclusive, tail of the list.
    pub async fn add_wait_queue_exclusive(&self, head: WaitQueueId, entry: WaitEntryId) {
        let lock = self.waitqueue_lock(head);
        let flags = self.spin_lock_irqsave(lock).await;
        self.note_access(Object::WaitQueue(head), access::WRITE);
        if let Ok(e) = self.state().waitqueues.borrow_mut().entries.get_mut(entry) {
            e.exclusive = true;
        }
        self.add_wait_queue_tail_locked(head, entry);
        self.spin_unlock_irqrestore(lock, flags).await;
    }

    /// `remove_wait_queue()`.
    pub async fn remove_wait_queue(&self, head: WaitQueueId, entry: WaitEntryId) {
        let lock = self.waitqueue_lock(head);
        let flags = self.spin_lock_irqsave(lock).await;
        self.remove_wait_queue_locked(head, entry);
        self.spin_unlock_irqrestore(lock, flags).await;
    }

    /// `waitqueue_active()`: a lockless peek at whether anyone waits.
    pub fn waitqueue_active(&self, head: WaitQueueId) -> bool {
        self.note_access(Object::WaitQueue(head), access::READ);
        !self
            .state()
            .waitqueues
            .borrow()
            .head(head)
            .entries
            .is_empty()
    }

    /// `__wake_up_common()`: the caller holds the head's lock. Entries are visited in
    /// list order; an entry removed while the walk runs (by its own callback, as
    /// `list_for_each_safe` allows) is skipped.
    pub async fn wake_up_common<F: WakeCallbacks<G>>(
        &self,
        callbacks: &F,
        head: WaitQueueId,
        mode: WakeMode,
        nr_exclusive: u32,
        key: u64,
    ) {
        let mut remaining = nr_exclusive;
        self.note_access(Object::WaitQueue(head), access::READ);
        let entries = self.state().waitqueues.borrow().snapshot(head);
        for entry in entries {
            self.note_access(Object::WaitQueue(head), access::READ);
            let Some(e) = self.state().waitqueues.borrow().entry_on(head, entry) else {
                continue;
            };
            let woke = match e.func {
                WakeFunction::Default(task) => self.try_to_wake_up(task, mode).await != 0,
                WakeFunction::Callback { kind, data } => {
                    callbacks.call(self, entry, kind, data, mode, key).await
                }
            };
            if woke && e.exclusive && remaining > 0 {
                remaining -= 1;
                if remaining == 0 {
                    break;
                }
            }
        }
    }

    /// `__wake_up()`: takes the head's lock with irqs saved around `__wake_up_common`.
    pub async fn wake_up_with<F: WakeCallbacks<G>>(
        &self,
        callbacks: &F,
        head: WaitQueueId,
        mode: WakeMode,
        nr_exclusive: u32,
        key: u64,
    ) {
        let lock = self.waitqueue_lock(head);
        let flags = self.spin_lock_irqsave(lock).await;
        self.wake_up_common(callbacks, head, mode, nr_exclusive, key)
            .await;
        self.spin_unlock_irqrestore(lock, flags).await;
    }
}

/// Callbacks of wait-queue entries, dispatched by the layer that registered them.
///
/// Contract: `call` runs in the waker's context with the head's lock held, may take
/// other locks (in the kernel's order), must not sleep, and returns whether it woke
/// something (for `nr_exclusive` accounting).
pub trait WakeCallbacks<G: Granularity> {
    fn call(
        &self,
        cx: &Cx<G>,
        entry: WaitEntryId,
        kind: u32,
        data: u64,
        mode: WakeMode,
        key: u64,
    ) -> impl Future<Output = bool>;
}

/// For machines whose wait queues only wake tasks.
pub struct NoCallbacks;

impl<G: Granularity> WakeCallbacks<G> for NoCallbacks {
    async fn call(&self, _: &Cx<G>, _: WaitEntryId, _: u32, _: u64, _: WakeMode, _: u64) -> bool {
        false
    }
}
