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

/// One lock instance, in exactly one cache line: what every acquisition and release
/// reads and writes, and in the rest of the line the lock's name in compact form (for
/// reports and narration; [`LockTable::name`] writes it out). The queue of sleeping
/// waiters lives in the [`LockTable`], only while there is one. A lock costs 64 bytes —
/// a pipe has four.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct Lock {
    pub writer: Option<ContextId>,
    pub class: LockClassId,
    /// How many tasks wait in this lock's queue (`LockTable::waiters`): whether a
    /// reader must queue behind a waiting writer, and whether a release hands over,
    /// are decided from this without looking the queue up.
    waiting: u32,
    /// Virtual time of the last release, for causality on the next acquisition.
    pub released_at_ns: u64,
    /// Step of the current (last) acquisition, for reports.
    pub acquired_at_step: u64,
    pub readers: SmallVec<[ContextId; 2]>,
    /// The name's instance number, or [`Lock::NAME_NUMBER_ELSEWHERE`] when it does not
    /// fit in 32 bits (a global's `u64::MAX`): then `LockTable::long_name_numbers` has it.
    name_number: u32,
    /// The name's prefix and suffix: an index into `LockTable::name_parts`.
    name_parts: u16,
    pub kind: LockKind,
}

// What the layout above is for: one line per lock.
const _: () = assert!(std::mem::size_of::<Lock>() == 64);

impl Lock {
    const NAME_NUMBER_ELSEWHERE: u32 = u32::MAX;

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

/// All locks and classes of a machine.
#[derive(Default)]
pub struct LockTable {
    pub locks: Vec<Lock>,
    pub classes: Vec<LockClass>,
    class_by_name: BTreeMap<&'static str, LockClassId>,
    /// Every distinct (prefix, suffix) of a lock name, in first-use order (a few dozen
    /// per machine); kept across `reset`, since they are facts of the code.
    name_parts: Vec<(&'static str, &'static str)>,
    /// The instance numbers of names that do not fit in a lock's 32 bits (globals).
    long_name_numbers: BTreeMap<LockId, u64>,
    /// The FIFO queues of sleeping locks that have waiters, by lock id; a queue goes
    /// when it empties, so a lock nobody waits for costs nothing here.
    waiters: BTreeMap<LockId, VecDeque<LockWaiter>>,
}

impl LockTable {
    pub fn reset(&mut self) {
        self.locks.clear();
        self.classes.clear();
        self.class_by_name.clear();
        self.long_name_numbers.clear();
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
        let name_parts = self.name_parts_index(name.prefix, name.suffix);
        let name_number = match u32::try_from(name.id) {
            Ok(number) if number != Lock::NAME_NUMBER_ELSEWHERE => number,
            _ => {
                self.long_name_numbers.insert(id, name.id);
                Lock::NAME_NUMBER_ELSEWHERE
            }
        };
        self.locks.push(Lock {
            kind,
            class,
            writer: None,
            readers: SmallVec::new(),
            released_at_ns: 0,
            acquired_at_step: 0,
            waiting: 0,
            name_number,
            name_parts,
        });
        id
    }

    /// The index of (`prefix`, `suffix`) in `name_parts`, added on first use.
    fn name_parts_index(&mut self, prefix: &'static str, suffix: &'static str) -> u16 {
        let same = |&(p, s): &(&'static str, &'static str)| p == prefix && s == suffix;
        if let Some(position) = self.name_parts.iter().rposition(same) {
            return position as u16;
        }
        assert!(
            self.name_parts.len() < usize::from(u16::MAX),
            "more distinct lock name parts than a lock can index"
        );
        self.name_parts.push((prefix, suffix));
        (self.name_parts.len() - 1) as u16
    }

    pub fn get(&self, id: LockId) -> &Lock {
        &self.locks[id.index()]
    }

    pub fn get_mut(&mut self, id: LockId) -> &mut Lock {
        &mut self.locks[id.index()]
    }

    /// The lock's name, such as `ep1->lock`.
    pub fn name(&self, id: LockId) -> Name {
        let lock = &self.locks[id.index()];
        let (prefix, suffix) = self.name_parts[usize::from(lock.name_parts)];
        let number = match lock.name_number {
            Lock::NAME_NUMBER_ELSEWHERE => self.long_name_numbers[&id],
            number => u64::from(number),
        };
        Name {
            prefix,
            id: number,
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
    fn names_round_trip_through_the_compact_form() {
        let mut table = LockTable::default();
        let names = [
            Name::new("pipe", 7, "->wait"),
            Name::global("epmutex"),
            Name::new("file", u64::from(u32::MAX) + 5, "->f_ep_lock"),
            Name::new("file", 8, "->f_ep_lock"),
        ];
        let ids: Vec<LockId> = names
            .iter()
            .map(|&name| table.create(LockKind::Spin, "class", name))
            .collect();
        for (&id, name) in ids.iter().zip(names) {
            assert_eq!(table.name(id), name);
        }
        assert_eq!(table.name(ids[1]).to_string(), "epmutex");
        assert_eq!(table.name(ids[3]).to_string(), "file8->f_ep_lock");
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
