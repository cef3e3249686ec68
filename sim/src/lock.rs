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
//!
//! The lock table is data; what each lock op does — acquisition (a fast path for the
//! free, already-validated case and the fully checked one), release and hand-off, the
//! interrupt flag of the `_irq`/`_irqsave` variants — is the `impl State` block at the
//! end, which [`State::perform`] dispatches to.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use smallvec::SmallVec;

use crate::cpu::{ContextKind, Cpu};
use crate::ids::{ContextId, CpuId, LockClassId, LockId, TaskId};
use crate::lockdep::HeldLock;
use crate::op::{IrqMode, LockMode, TaskState};
use crate::report::ReportKind;
use crate::state::{describe_context, Performed, State};

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

// ---- the semantics of lock operations ---------------------------------------------------

/// Lock acquisition and release as ops of the machine: the lock table above, the holding
/// context's held-lock stack, lockdep's checks ([`crate::lockdep`]), the CPU's interrupt
/// flag for the `_irq`/`_irqsave` variants, the store-buffer drain that stands for the
/// ordering of each, and the time each costs. [`State::perform`] dispatches here.
impl State {
    /// Whether the context on `cpu` could take `lock` now. A spinning context whose lock
    /// is held by another context of the same CPU can never get it: that is a
    /// self-deadlock (an interrupt handler wanting a lock its CPU's task holds).
    pub fn lock_available(
        &self,
        cpu: CpuId,
        lock: LockId,
        mode: LockMode,
    ) -> Result<bool, ContextId> {
        let locks = self.locks.borrow();
        let lock = locks.get(lock);
        if lock.is_free_for(mode) || !lock.kind.spins() {
            return Ok(true);
        }
        let contexts = self.contexts.borrow();
        let cpus = self.cpus.borrow();
        for holder in lock.holders() {
            let same_cpu = match contexts.get(holder.index()).map(|c| c.kind) {
                Some(ContextKind::Task(task)) => cpus[cpu.index()].task == Some(task),
                Some(ContextKind::Interrupt { cpu: c, .. }) => c == cpu,
                None => false,
            };
            if same_cpu {
                return Err(holder);
            }
        }
        Ok(false)
    }

    pub(crate) fn lock(
        &self,
        cpu: CpuId,
        context: ContextId,
        id: LockId,
        mode: LockMode,
        irq: IrqMode,
    ) -> Performed {
        match self.lock_quiet(cpu, context, id, mode, irq) {
            Some(flags) => Performed::Value(flags),
            None => self.lock_checked(cpu, context, id, mode, irq),
        }
    }

    /// The acquisition of a free lock that no check has anything to say about — the
    /// usual case — with every borrow taken once: the same effects as
    /// [`State::lock_checked`] in that case. `None` (having changed nothing) when the
    /// lock is taken, or when some check would report or learn something (a recursive
    /// or sleeping-in-atomic acquisition, a new lock order, a first use of a class in or
    /// outside interrupts): then the full path runs.
    #[inline]
    pub(crate) fn lock_quiet(
        &self,
        cpu: CpuId,
        context: ContextId,
        id: LockId,
        mode: LockMode,
        irq: IrqMode,
    ) -> Option<u64> {
        let mut locks = self.locks.borrow_mut();
        let mut contexts = self.contexts.borrow_mut();
        let mut cpus = self.cpus.borrow_mut();
        let c = &mut contexts[context.index()];
        let lock = &locks.locks[id.index()];
        if !lock.is_free_for(mode)
            || c.held.len() >= crate::limits::HELD_LOCKS_MAX
            || c.held.iter().any(|h| h.lock == id)
        {
            return None;
        }
        let (kind, class, released_at) = (lock.kind, lock.class, lock.released_at_ns);
        let in_irq = c.in_interrupt();
        let irqs_on = cpus[cpu.index()].irqs_enabled;
        let disables = kind.spins() && !matches!(irq, IrqMode::Keep);
        if kind.spins() {
            // lockdep_irq_state sees the flag as it is after the acquisition disabled
            // interrupts.
            let entry = &locks.classes[class.index()];
            let seen = if in_irq {
                entry.used_in_irq.is_some()
            } else {
                !irqs_on || disables || entry.used_with_irqs_enabled.is_some()
            };
            if !seen {
                return None;
            }
        } else if in_irq || !irqs_on || c.held.iter().any(|h| h.spins) {
            // might_sleep() has something to say.
            return None;
        }
        if !self.lockdep.borrow_mut().chain_known(&c.held, class) {
            return None;
        }
        // Commit: as lock_checked does, in one go.
        let step = self.step.get();
        let mut flags = 0;
        if disables {
            flags = irqs_on as u64;
            cpus[cpu.index()].irqs_enabled = false;
        }
        locks.locks[id.index()].take(context, mode, step);
        // catch_up(cpu, released_at): what inline primitives charged first.
        debug_assert_eq!(self.current.get().cpu, cpu);
        let clock = &mut cpus[cpu.index()].clock_ns;
        *clock += self.unsettled_ns.replace(0);
        *clock = (*clock).max(released_at);
        c.held.push(HeldLock {
            lock: id,
            class,
            mode,
            step,
            spins: kind.spins(),
        });
        drop((locks, contexts, cpus));
        self.mem.drain_all(cpu);
        self.charge_current(self.config.costs.lock_ns);
        Some(flags)
    }

    /// `lock` with every check (lockdep, recursion, sleeping in atomic context), and the
    /// sleeping path of a sleeping lock that is taken.
    pub(crate) fn lock_checked(
        &self,
        cpu: CpuId,
        context: ContextId,
        id: LockId,
        mode: LockMode,
        irq: IrqMode,
    ) -> Performed {
        let costs = &self.config.costs;
        let (kind, class) = {
            let locks = self.locks.borrow();
            let lock = locks.get(id);
            (lock.kind, lock.class)
        };
        let mut flags = 0;
        if kind.spins() {
            match irq {
                IrqMode::Keep => {}
                IrqMode::DisableEnable | IrqMode::SaveRestore { .. } => {
                    let mut cpus = self.cpus.borrow_mut();
                    flags = cpus[cpu.index()].irqs_enabled as u64;
                    cpus[cpu.index()].irqs_enabled = false;
                }
            }
        } else if !self.might_sleep(cpu, context, "down/mutex_lock") {
            return Performed::Halt;
        }
        // A reader may take an rwlock it already reads (rwlock_t readers are recursive,
        // which is what lets an interrupt read-lock what its CPU's task read-holds);
        // any other re-acquisition by the same context never succeeds.
        let (held, write_held) = self.held_as(context, id);
        let may_recurse = kind == LockKind::RwLock && mode == LockMode::Shared && !write_held;
        if !may_recurse && held {
            let name = self.locks.borrow().name(id);
            self.report(
                ReportKind::Deadlock,
                format!("recursive acquisition of {name}: this context already holds it"),
                self.lock_holders(),
            );
            return Performed::Halt;
        }
        self.lockdep_acquire(cpu, context, id, class, kind);
        let step = self.step.get();
        let available = self.locks.borrow().get(id).is_free_for(mode);
        if !available {
            // Only sleeping locks get here (the executor does not run a spinner early).
            debug_assert!(!kind.spins());
            let task = self.contexts.borrow()[context.index()]
                .task()
                .expect("a sleeping lock in interrupt context was reported above");
            self.locks.borrow_mut().queue_waiter(
                id,
                LockWaiter {
                    context,
                    task,
                    mode,
                },
            );
            self.set_state_word(task, TaskState::Uninterruptible);
            self.deschedule(cpu, task);
            self.charge(cpu, costs.lock_ns);
            return Performed::Sleep;
        }
        let released_at = {
            let mut locks = self.locks.borrow_mut();
            let lock = locks.get_mut(id);
            lock.take(context, mode, step);
            lock.released_at_ns
        };
        self.catch_up(cpu, released_at);
        self.mem.drain_all(cpu);
        self.charge_current(costs.lock_ns);
        self.push_held(context, id, class, mode, kind.spins());
        Performed::Value(flags)
    }

    /// Whether `context` holds `id` at all, and whether exclusively.
    pub(crate) fn held_as(&self, context: ContextId, id: LockId) -> (bool, bool) {
        let contexts = self.contexts.borrow();
        let mut held = false;
        let mut exclusive = false;
        for h in contexts[context.index()]
            .held
            .iter()
            .filter(|h| h.lock == id)
        {
            held = true;
            exclusive |= h.mode == LockMode::Exclusive;
        }
        (held, exclusive)
    }

    pub(crate) fn push_held(
        &self,
        context: ContextId,
        lock: LockId,
        class: crate::ids::LockClassId,
        mode: LockMode,
        spins: bool,
    ) {
        let step = self.step.get();
        let mut contexts = self.contexts.borrow_mut();
        let held = &mut contexts[context.index()].held;
        assert!(
            held.len() < crate::limits::HELD_LOCKS_MAX,
            "a context holds more than {} locks",
            crate::limits::HELD_LOCKS_MAX
        );
        held.push(HeldLock {
            lock,
            class,
            mode,
            step,
            spins,
        });
    }

    pub(crate) fn unlock(
        &self,
        cpu: CpuId,
        context: ContextId,
        id: LockId,
        mode: LockMode,
        irq: IrqMode,
    ) -> Performed {
        if self.unlock_quiet(cpu, context, id, mode, irq) {
            return Performed::Value(0);
        }
        let costs = &self.config.costs;
        let step = self.step.get();
        let now = self.clock_ns(cpu);
        let (released, kind) = {
            let mut locks = self.locks.borrow_mut();
            let lock = locks.get_mut(id);
            let released = lock.release(context, mode);
            if released {
                lock.released_at_ns = now;
            }
            (released, lock.kind)
        };
        if !released {
            let name = self.locks.borrow().name(id);
            self.report(
                ReportKind::BadUnlock,
                format!("release of {name}, which this context does not hold"),
                self.lock_holders(),
            );
            return Performed::Value(0);
        }
        {
            let mut contexts = self.contexts.borrow_mut();
            let held = &mut contexts[context.index()].held;
            if let Some(position) = held.iter().rposition(|h| h.lock == id) {
                held.remove(position);
            }
        }
        self.mem.drain_all(cpu);
        self.charge_current(costs.unlock_ns);
        if !kind.spins() && self.locks.borrow().get(id).has_waiters() {
            let granted = self.locks.borrow_mut().grant_waiters(id, step);
            for waiter in granted {
                let class = self.locks.borrow().get(id).class;
                self.push_held(waiter.context, id, class, waiter.mode, false);
                self.set_state_word(waiter.task, TaskState::Running);
                self.make_runnable(cpu, waiter.task);
            }
        }
        if kind.spins() {
            restore_irqs(&mut self.cpus.borrow_mut()[cpu.index()], irq);
        }
        Performed::Value(0)
    }

    /// The release of a lock this context holds with nobody waiting for it — the usual
    /// case — with every borrow taken once: the same effects as the full path of
    /// [`State::unlock`] then. False (having changed nothing) otherwise.
    #[inline]
    pub(crate) fn unlock_quiet(
        &self,
        cpu: CpuId,
        context: ContextId,
        id: LockId,
        mode: LockMode,
        irq: IrqMode,
    ) -> bool {
        let mut locks = self.locks.borrow_mut();
        let lock = &mut locks.locks[id.index()];
        let holds = match mode {
            LockMode::Exclusive => lock.writer == Some(context),
            LockMode::Shared => lock.readers.contains(&context),
        };
        if !holds || lock.has_waiters() {
            return false;
        }
        let mut cpus = self.cpus.borrow_mut();
        // now = clock_ns(cpu): what inline primitives charged first.
        debug_assert_eq!(self.current.get().cpu, cpu);
        let clock = &mut cpus[cpu.index()].clock_ns;
        *clock += self.unsettled_ns.replace(0);
        let now = *clock;
        let released = lock.release(context, mode);
        debug_assert!(released);
        lock.released_at_ns = now;
        let kind = lock.kind;
        {
            let mut contexts = self.contexts.borrow_mut();
            let held = &mut contexts[context.index()].held;
            if held.last().is_some_and(|h| h.lock == id) {
                held.pop();
            } else if let Some(position) = held.iter().rposition(|h| h.lock == id) {
                held.remove(position);
            }
        }
        if kind.spins() {
            restore_irqs(&mut cpus[cpu.index()], irq);
        }
        drop((locks, cpus));
        self.mem.drain_all(cpu);
        self.charge_current(self.config.costs.unlock_ns);
        true
    }

    pub(crate) fn waits_for_lock(&self, task: TaskId) -> bool {
        self.locks
            .borrow()
            .waiting_queues()
            .any(|(_, queue)| queue.iter().any(|w| w.task == task))
    }

    /// Lines describing who holds every lock that is held, for reports.
    pub fn lock_holders(&self) -> Vec<String> {
        let locks = self.locks.borrow();
        let contexts = self.contexts.borrow();
        let mut lines = Vec::new();
        for (index, lock) in locks.locks.iter().enumerate() {
            let name = locks.name(LockId(index as u32));
            for holder in lock.holders() {
                let who = contexts
                    .get(holder.index())
                    .map(describe_context)
                    .unwrap_or_else(|| "a finished context".into());
                lines.push(format!(
                    "{name} held by {who} since step {}",
                    lock.acquired_at_step
                ));
            }
            for waiter in locks.waiters(LockId(index as u32)) {
                lines.push(format!("{name} waited for by {}", waiter.task));
            }
        }
        lines
    }
}

/// What a spinlock's release does to the CPU's interrupt flag: `spin_unlock_irq`
/// enables interrupts, `spin_unlock_irqrestore` puts back the saved flag, a plain
/// unlock leaves it alone.
#[inline(always)]
fn restore_irqs(cpu: &mut Cpu, irq: IrqMode) {
    match irq {
        IrqMode::Keep => {}
        IrqMode::DisableEnable => cpu.irqs_enabled = true,
        IrqMode::SaveRestore { flags } => cpu.irqs_enabled = flags != 0,
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
