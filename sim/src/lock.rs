//! Locks: spinlocks and rwlocks (plain, `_irq`, `_irqsave`), rw_semaphores and mutexes.
//!
//! Lock state is object-level (only lock operations touch it); what the memory model
//! needs from a lock is its ordering, which the executor provides: an acquisition or a
//! release drains the CPU's store buffer. On x86 an acquisition is a locked instruction
//! (a full barrier) and a release a plain store that stays FIFO behind earlier stores;
//! draining at release is slightly stronger than TSO (it also makes the release itself
//! visible at once), which only removes executions in which another CPU spins a while
//! longer on a lock that was already free.
//!
//! A spinning CPU is modelled as "not enabled" rather than as a loop of steps: the
//! strategy simply cannot pick it until the lock is free. Sleeping locks queue FIFO and
//! hand the lock over on release, as 2.6.22's `lib/rwsem-spinlock.c` does (readers queue
//! behind a waiting writer; a release wakes either the first writer or every reader at
//! the head of the queue). 2.6.22 mutexes let a woken waiter race for the lock again;
//! here they hand it over, which loses no interleaving of interest to epoll.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use smallvec::SmallVec;

use crate::ids::{ContextId, LockClassId, LockId, TaskId};
use crate::op::LockMode;

/// What kind of lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockKind {
    Spin,
    RwLock,
    RwSem,
    Mutex,
}

impl LockKind {
    /// Whether waiting for it spins (true) or sleeps (false).
    pub fn spins(self) -> bool {
        matches!(self, LockKind::Spin | LockKind::RwLock)
    }
}

/// A person-readable object name built without allocating: `ep1->lock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name {
    pub prefix: &'static str,
    pub id: u64,
    pub suffix: &'static str,
}

impl Name {
    pub const fn new(prefix: &'static str, id: u64, suffix: &'static str) -> Name {
        Name { prefix, id, suffix }
    }

    /// A name with no instance number (a global such as `epmutex`).
    pub const fn global(name: &'static str) -> Name {
        Name {
            prefix: name,
            id: u64::MAX,
            suffix: "",
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.id == u64::MAX {
            write!(f, "{}{}", self.prefix, self.suffix)
        } else {
            write!(f, "{}{}{}", self.prefix, self.id, self.suffix)
        }
    }
}

/// A task waiting for a sleeping lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockWaiter {
    pub context: ContextId,
    pub task: TaskId,
    pub mode: LockMode,
}

/// One lock instance: what every acquisition and release reads and writes, laid out
/// (and aligned) to fill exactly one cache line. What is rarely used lives in the
/// [`LockTable`] beside it: the queue of sleeping waiters (only while there is one) and
/// the name (for reports and narration), so that a lock costs 64 bytes plus its name's
/// 16 — a pipe has four.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct Lock {
    pub writer: Option<ContextId>,
    pub kind: LockKind,
    pub class: LockClassId,
    /// Virtual time of the last release, for causality on the next acquisition.
    pub released_at_ns: u64,
    /// Step of the current (last) acquisition, for reports.
    pub acquired_at_step: u64,
    pub readers: SmallVec<[ContextId; 2]>,
    /// How many tasks wait in this lock's queue (`LockTable::waiters`): whether a
    /// reader must queue behind a waiting writer, and whether a release hands over,
    /// are decided from this without looking the queue up.
    waiting: u32,
}

impl Lock {
    #[inline]
    pub fn is_free_for(&self, mode: LockMode) -> bool {
        match mode {
            LockMode::Exclusive => self.writer.is_none() && self.readers.is_empty(),
            // rwlocks let readers in while a writer spins; rwsems queue them behind it.
            LockMode::Shared => {
                self.writer.is_none() && (self.kind == LockKind::RwLock || self.waiting == 0)
            }
        }
    }

    /// Whether some task waits in this lock's queue.
    #[inline]
    pub fn has_waiters(&self) -> bool {
        self.waiting != 0
    }

    #[inline]
    pub fn is_held_by(&self, context: ContextId) -> bool {
        self.writer == Some(context) || self.readers.contains(&context)
    }

    pub fn holders(&self) -> impl Iterator<Item = ContextId> + '_ {
        self.writer
            .iter()
            .copied()
            .chain(self.readers.iter().copied())
    }

    #[inline]
    pub fn take(&mut self, context: ContextId, mode: LockMode, step: u64) {
        match mode {
            LockMode::Exclusive => self.writer = Some(context),
            LockMode::Shared => self.readers.push(context),
        }
        self.acquired_at_step = step;
    }

    /// Releases; returns false if `context` did not hold it in `mode`.
    #[inline]
    pub fn release(&mut self, context: ContextId, mode: LockMode) -> bool {
        match mode {
            LockMode::Exclusive if self.writer == Some(context) => {
                self.writer = None;
                true
            }
            LockMode::Shared => match self.readers.iter().position(|&r| r == context) {
                Some(position) => {
                    self.readers.remove(position);
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    fn is_free_for_granting(&self, mode: LockMode) -> bool {
        match mode {
            LockMode::Exclusive => self.writer.is_none() && self.readers.is_empty(),
            LockMode::Shared => self.writer.is_none(),
        }
    }
}

/// A lock class (lockdep's unit), with the irq-safety facts lockdep tracks.
#[derive(Clone, Debug)]
pub struct LockClass {
    pub name: &'static str,
    pub kind: LockKind,
    /// First acquisition in interrupt context: a description for reports.
    pub used_in_irq: Option<String>,
    /// First acquisition in process context with interrupts enabled.
    pub used_with_irqs_enabled: Option<String>,
    pub irq_report_made: bool,
}

/// How the table keeps a lock's [`Name`]: its prefix and suffix as an index into
/// `LockTable::name_parts` (a few dozen distinct pairs per machine), and its instance
/// number — 16 bytes where the name takes 40.
#[derive(Clone, Copy, Debug)]
struct StoredName {
    parts: u32,
    id: u64,
}

/// All locks and classes of a machine.
#[derive(Default)]
pub struct LockTable {
    pub locks: Vec<Lock>,
    pub classes: Vec<LockClass>,
    class_by_name: BTreeMap<&'static str, LockClassId>,
    /// Each lock's name, by lock id.
    names: Vec<StoredName>,
    /// Every distinct (prefix, suffix) of a name, in first-use order; kept across
    /// `reset`, since they are facts of the code.
    name_parts: Vec<(&'static str, &'static str)>,
    /// The FIFO queues of sleeping locks that have waiters, by lock id; a queue goes
    /// when it empties, so a lock nobody waits for costs nothing here.
    waiters: BTreeMap<LockId, VecDeque<LockWaiter>>,
}

impl LockTable {
    pub fn reset(&mut self) {
        self.locks.clear();
        self.classes.clear();
        self.class_by_name.clear();
        self.names.clear();
        self.waiters.clear();
    }

    pub fn class(&mut self, name: &'static str, kind: LockKind) -> LockClassId {
        if let Some(&id) = self.class_by_name.get(name) {
            return id;
        }
        let id = LockClassId(self.classes.len() as u32);
        self.classes.push(LockClass {
            name,
            kind,
            used_in_irq: None,
            used_with_irqs_enabled: None,
            irq_report_made: false,
        });
        self.class_by_name.insert(name, id);
        id
    }

    pub fn create(&mut self, kind: LockKind, class_name: &'static str, name: Name) -> LockId {
        let class = self.class(class_name, kind);
        let id = LockId(self.locks.len() as u32);
        self.locks.push(Lock {
            kind,
            class,
            writer: None,
            readers: SmallVec::new(),
            released_at_ns: 0,
            acquired_at_step: 0,
            waiting: 0,
        });
        let parts = self.name_parts_index(name.prefix, name.suffix);
        self.names.push(StoredName { parts, id: name.id });
        id
    }

    /// The index of (`prefix`, `suffix`) in `name_parts`, added on first use.
    fn name_parts_index(&mut self, prefix: &'static str, suffix: &'static str) -> u32 {
        let same = |&(p, s): &(&'static str, &'static str)| p == prefix && s == suffix;
        if let Some(position) = self.name_parts.iter().rposition(same) {
            return position as u32;
        }
        self.name_parts.push((prefix, suffix));
        (self.name_parts.len() - 1) as u32
    }

    pub fn get(&self, id: LockId) -> &Lock {
        &self.locks[id.index()]
    }

    pub fn get_mut(&mut self, id: LockId) -> &mut Lock {
        &mut self.locks[id.index()]
    }

    /// The lock's name, such as `ep1->lock`.
    pub fn name(&self, id: LockId) -> Name {
        let stored = self.names[id.index()];
        let (prefix, suffix) = self.name_parts[stored.parts as usize];
        Name {
            prefix,
            id: stored.id,
            suffix,
        }
    }

    /// Queues a task behind the lock's other waiters.
    pub fn queue_waiter(&mut self, id: LockId, waiter: LockWaiter) {
        self.waiters.entry(id).or_default().push_back(waiter);
        self.locks[id.index()].waiting += 1;
    }

    /// The tasks waiting for the lock, first in line first.
    pub fn waiters(&self, id: LockId) -> impl Iterator<Item = &LockWaiter> + '_ {
        self.waiters.get(&id).into_iter().flatten()
    }

    /// Every lock that has waiters, with its queue, in lock-id order.
    pub fn waiting_queues(&self) -> impl Iterator<Item = (LockId, &VecDeque<LockWaiter>)> + '_ {
        self.waiters.iter().map(|(&id, queue)| (id, queue))
    }

    /// Hands a free sleeping lock to the waiters at the head of its queue, FIFO: the
    /// first writer alone, or every reader before the first writer.
    pub fn grant_waiters(&mut self, id: LockId, step: u64) -> SmallVec<[LockWaiter; 4]> {
        let mut granted = SmallVec::new();
        let Some(queue) = self.waiters.get_mut(&id) else {
            return granted;
        };
        let lock = &mut self.locks[id.index()];
        while let Some(&waiter) = queue.front() {
            if !lock.is_free_for_granting(waiter.mode) {
                break;
            }
            queue.pop_front();
            lock.waiting -= 1;
            lock.take(waiter.context, waiter.mode, step);
            granted.push(waiter);
            if waiter.mode == LockMode::Exclusive {
                break;
            }
        }
        if queue.is_empty() {
            self.waiters.remove(&id);
        }
        granted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rwsem_readers_queue_behind_a_waiting_writer_and_are_granted_together() {
        let mut table = LockTable::default();
        let sem = table.create(LockKind::RwSem, "sem", Name::new("ep", 1, "->sem"));
        assert_eq!(table.name(sem).to_string(), "ep1->sem");
        table.get_mut(sem).take(ContextId(0), LockMode::Shared, 1);
        for (i, mode) in [LockMode::Exclusive, LockMode::Shared, LockMode::Shared]
            .into_iter()
            .enumerate()
        {
            table.queue_waiter(
                sem,
                LockWaiter {
                    context: ContextId(i as u32 + 1),
                    task: TaskId(i as u32 + 1),
                    mode,
                },
            );
        }
        assert!(
            !table.get(sem).is_free_for(LockMode::Shared),
            "a reader must queue behind the writer"
        );
        assert!(table.get_mut(sem).release(ContextId(0), LockMode::Shared));
        let granted = table.grant_waiters(sem, 2);
        assert_eq!(granted.len(), 1);
        assert_eq!(table.get(sem).writer, Some(ContextId(1)));
        assert!(table
            .get_mut(sem)
            .release(ContextId(1), LockMode::Exclusive));
        let granted = table.grant_waiters(sem, 3);
        assert_eq!(granted.len(), 2);
        assert_eq!(table.get(sem).readers.len(), 2);
        assert!(!table.get(sem).has_waiters());
        assert_eq!(table.waiting_queues().count(), 0);
    }

    #[test]
    fn rwlock_readers_enter_while_a_reader_holds() {
        let mut table = LockTable::default();
        let id = table.create(LockKind::RwLock, "rw", Name::global("rw"));
        let lock = table.get_mut(id);
        lock.take(ContextId(0), LockMode::Shared, 1);
        assert!(lock.is_free_for(LockMode::Shared));
        assert!(!lock.is_free_for(LockMode::Exclusive));
        assert!(!lock.release(ContextId(1), LockMode::Shared));
    }
}
