//! Footprints: the shared objects a step touched, for partial-order reduction.
//!
//! A strategy that asks for them ([`crate::strategy::Scheduler::wants_footprints`]) is
//! shown, after each step, every shared object the step read or wrote — from the op the
//! CPU performed to the op it posted next, including everything performed inline in
//! between, whatever the granularity — as a [`Footprint`]. Two steps of different
//! threads that touch no object in conflicting ways commute: taking them in either order
//! reaches the same state. That is what DPOR ([`crate::strategy::Dpor`]) builds on.
//!
//! What is recorded, and where (nothing here knows of epoll):
//! - memory words: every load and store of a word value, stepped or inline, through the
//!   models or a `MemView` ([`crate::mem`]); the liveness of a word (which every access
//!   checks) changes only when a block is freed, which is global (below);
//! - store buffers: a store buffered by CPU `c` to word `w` ([`Object::Buffer`] push),
//!   a buffered store made visible, by a drain or a fence (pop, and a write of the word),
//!   a load by `c` of `w` (it may be forwarded from the buffer: a read of the buffer);
//!   under pso an `smp_wmb` of `c` ([`BufferOp::Barrier`]: the stores `c` buffers after
//!   it drain only after those it buffered before it — an order DPOR keeps as
//!   happens-before edges between the drains, not as an object they share);
//! - locks: acquisitions (exclusive or shared) and releases ([`Object::Lock`]);
//! - wait queues: linking, unlinking and reading a head's entries ([`Object::WaitQueue`]);
//! - allocation: word blocks, locks, wait-queue heads and entries and allocation-failure
//!   counts are numbered in the order they are made ([`Object::Allocator`]).
//!
//! **Global** steps are dependent with every other step. A step is global when it does
//! anything whose effects this module does not describe object by object: it sleeps,
//! wakes, yields or starts a task, a task exits, a CPU is given a task, an interrupt is
//! delivered, a timer or external event is armed or cancelled, a signal is sent, a block
//! of words is freed, a store buffer overflows, or the op is `schedule()`, a wake-up,
//! a timed sleep or a resume. This is the conservative side: a step that is global when
//! it need not be costs executions, never outcomes.
//!
//! Not recorded (the approximations, each documented in `docs/dpor.md`): the virtual
//! clocks (time is charged to the stepping CPU only; interrupt deliveries, which read
//! other CPUs' clocks, are global), lockdep's lock-order graph (learned in whichever
//! order acquisitions come; its reports are about cycles, not order), interrupt flags
//! of the stepping CPU (only its own steps and interrupt deliveries, which are global,
//! look at them), and whatever the layer above keeps outside simulated memory — which
//! its design keeps to state that is under a lock (ordered by the lock's acquisitions)
//! or private to one task.

use std::cell::{Cell, RefCell};

use smallvec::SmallVec;

use crate::ids::{CpuId, LockId, WaitQueueId};
use crate::mem::Word;

/// A shared object as footprints name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Object {
    /// A word's value in memory.
    Word(Word),
    /// CPU `c`'s buffered stores to one word.
    Buffer(CpuId, Word),
    Lock(LockId),
    WaitQueue(WaitQueueId),
    /// The numbering of new objects (words, locks, wait queues, allocation counts).
    Allocator,
}

/// What a step did to an object, as bits (a step may do several things to one object).
pub mod access {
    pub const READ: u8 = 1;
    pub const WRITE: u8 = 2;
    pub const ACQUIRE_EXCLUSIVE: u8 = 4;
    pub const ACQUIRE_SHARED: u8 = 8;
    pub const RELEASE: u8 = 16;
    /// A store entered a buffer.
    pub const PUSH: u8 = 32;
    /// A buffered store left its buffer.
    pub const POP: u8 = 64;
    /// A load through the memory model by the stepping CPU, which sees its own buffered
    /// store to the word if there is one ([`crate::mem::Memory::load`]): like `READ`,
    /// except that it commutes with the drain of the same CPU's store to the word (the
    /// value is the newest buffered one before the drain, and the same in memory after).
    pub const FORWARDING_READ: u8 = 128;
}

/// How two steps' footprints relate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dependence {
    /// They conflict: the other order may reach another state.
    pub conflict: bool,
    /// The earlier released a lock the later acquired. The later step could not have
    /// come first (it was not enabled), so this orders the two without being a race that
    /// could be reversed; the race to reverse is with the release's own acquisition.
    pub release_acquire: bool,
}

impl Dependence {
    pub const INDEPENDENT: Dependence = Dependence {
        conflict: false,
        release_acquire: false,
    };
    pub const CONFLICT: Dependence = Dependence {
        conflict: true,
        release_acquire: false,
    };
    pub const RELEASE_ACQUIRE: Dependence = Dependence {
        conflict: false,
        release_acquire: true,
    };

    /// Whether the two are ordered at all (happens-before).
    pub fn orders(&self) -> bool {
        self.conflict || self.release_acquire
    }

    fn join(self, other: Dependence) -> Dependence {
        Dependence {
            conflict: self.conflict || other.conflict,
            release_acquire: self.release_acquire || other.release_acquire,
        }
    }
}

/// Every shared object one step touched (sorted by object, one entry per object, once
/// [`Footprint::normalize`]d), and whether the step was global.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Inline for the few objects a step at `access` granularity touches.
    pub accesses: SmallVec<[(Object, u8); 4]>,
    pub global: bool,
    /// Set by the strategy for a store-buffer drain: a step whose effect depends only on
    /// its buffer and its word, whatever else the machine does — so even a global step
    /// commutes with it unless they touch a common object.
    pub drain: bool,
    /// Set by the strategy: the CPU that took the step, or whose buffer drained.
    pub cpu: Option<CpuId>,
    /// The stores this step put into store buffers and took out of them, and the pso
    /// write barriers it performed, in order. DPOR orders each store's drain after the
    /// step that buffered it, and under pso after the drains of the stores its CPU
    /// buffered before an `smp_wmb` that precedes it.
    pub buffer_ops: SmallVec<[BufferOp; 2]>,
}

/// A store entering or leaving CPU `cpu`'s buffer of stores to `word`, or (pso) an
/// `smp_wmb` of `cpu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferOp {
    Push {
        cpu: CpuId,
        word: Word,
    },
    Pop {
        cpu: CpuId,
        word: Word,
    },
    /// `cpu` drained its whole buffer inline (a full fence, an atomic, a locked
    /// instruction), whether or not anything was left in it: the step happens after
    /// every drain of the stores `cpu` buffered before it, as the fence of Abdulla,
    /// Atig, Jonsson, Leonardsson 2015 waits for the buffer to be empty.
    Fence {
        cpu: CpuId,
    },
    /// Under pso, `smp_wmb` by `cpu`, whether or not its buffer held anything: every
    /// store `cpu` buffers later leaves the buffer after every store it buffered
    /// earlier. It touches no object: whichever order it takes with a drain, the
    /// buffer ends alike (an epoch is dropped when the buffer empties), so it commutes
    /// with every step; what it does is order drains, which DPOR records as edges.
    Barrier {
        cpu: CpuId,
    },
}

impl Footprint {
    /// Sorts the accesses and merges those to the same object.
    pub fn normalize(&mut self) {
        self.accesses.sort_unstable_by_key(|(object, _)| *object);
        self.accesses.dedup_by(|later, kept| {
            if later.0 == kept.0 {
                kept.1 |= later.1;
                true
            } else {
                false
            }
        });
    }

    pub fn clear(&mut self) {
        self.accesses.clear();
        self.global = false;
        self.buffer_ops.clear();
    }

    /// How a step with this footprint (earlier) and one with `later` relate. Both must
    /// be normalized.
    pub fn dependence(&self, later: &Footprint) -> Dependence {
        let mut result = Dependence {
            conflict: (self.global && !later.drain) || (later.global && !self.drain),
            release_acquire: false,
        };
        let (mut i, mut j) = (0, 0);
        while i < self.accesses.len() && j < later.accesses.len() {
            let (a, b) = (self.accesses[i], later.accesses[j]);
            match a.0.cmp(&b.0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    // A drain and a load of the drained word by the drain's own CPU
                    // commute (see `access::FORWARDING_READ`).
                    let own_drain = self.drain != later.drain && self.cpu == later.cpu;
                    let step_bits = if self.drain { b.1 } else { a.1 };
                    let forwarding_only = matches!(a.0, Object::Word(_))
                        && step_bits & (access::READ | access::WRITE) == 0;
                    if !(own_drain && forwarding_only) {
                        result = result.join(conflict(a.0, a.1, b.1));
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        result
    }
}

/// How two accesses of one object relate, the `earlier` one first.
fn conflict(object: Object, earlier: u8, later: u8) -> Dependence {
    use access::*;
    let dependent = |yes: bool| Dependence {
        conflict: yes,
        release_acquire: false,
    };
    match object {
        Object::Word(_) | Object::WaitQueue(_) | Object::Allocator => {
            let reads = READ | FORWARDING_READ;
            dependent(
                (earlier & WRITE != 0 && later & (reads | WRITE) != 0)
                    || (earlier & reads != 0 && later & WRITE != 0),
            )
        }
        // A push commutes with everything but the pop of its own entry, which DPOR
        // orders after it by an edge of its own; two pops (a drain, a fence of the
        // buffer's CPU) take entries in turn.
        Object::Buffer(..) => dependent(earlier & POP != 0 && later & POP != 0),
        Object::Lock(_) => {
            let exclusive = |bits: u8| bits & ACQUIRE_EXCLUSIVE != 0;
            let acquires = |bits: u8| bits & (ACQUIRE_EXCLUSIVE | ACQUIRE_SHARED) != 0;
            // Two shared acquisitions (or releases) commute; an exclusive one does not.
            let either_exclusive = exclusive(earlier) || exclusive(later);
            let conflict =
                acquires(earlier) && (acquires(later) || later & RELEASE != 0) && either_exclusive;
            Dependence {
                conflict,
                // Shared releases and acquisitions would commute while no writer waits;
                // conservatively ordered like the rest.
                release_acquire: earlier & RELEASE != 0 && acquires(later),
            }
        }
    }
}

/// Where the machine writes the footprint of the step in progress. Off (one test of a
/// flag per access) unless the run's strategy asked for footprints.
#[derive(Default)]
pub struct FootprintRecorder {
    on: Cell<bool>,
    /// Whether a decision was made since the recorder was turned on (what is recorded
    /// before the first belongs to no step).
    decided: Cell<bool>,
    log: RefCell<Footprint>,
}

impl FootprintRecorder {
    pub fn set_on(&self, on: bool) {
        self.on.set(on);
        self.decided.set(false);
        self.log.borrow_mut().clear();
    }

    /// Notes that a decision is being made; whether one was made before.
    pub fn mark_decided(&self) -> bool {
        self.decided.replace(true)
    }

    #[inline(always)]
    pub fn is_on(&self) -> bool {
        self.on.get()
    }

    /// Records `bits` done to `object`.
    #[inline(always)]
    pub fn access(&self, object: Object, bits: u8) {
        if self.on.get() {
            self.record(object, bits);
        }
    }

    #[inline(never)]
    fn record(&self, object: Object, bits: u8) {
        let mut log = self.log.borrow_mut();
        // Loops touch the same word again and again: merge with the last entry.
        if let Some(last) = log.accesses.last_mut() {
            if last.0 == object {
                last.1 |= bits;
                return;
            }
        }
        log.accesses.push((object, bits));
    }

    /// The step did something not described object by object.
    #[inline(always)]
    pub fn global(&self) {
        if self.on.get() {
            self.log.borrow_mut().global = true;
        }
    }

    /// CPU `cpu` buffered a store to `word`.
    #[inline(always)]
    pub fn push(&self, cpu: CpuId, word: Word) {
        if self.on.get() {
            self.record(Object::Buffer(cpu, word), access::PUSH);
            self.log
                .borrow_mut()
                .buffer_ops
                .push(BufferOp::Push { cpu, word });
        }
    }

    /// CPU `cpu`'s buffered store to `word` became visible.
    #[inline(always)]
    pub fn pop(&self, cpu: CpuId, word: Word) {
        if self.on.get() {
            self.record(Object::Buffer(cpu, word), access::POP);
            self.record(Object::Word(word), access::WRITE);
            if let Some(lock) = word.released_lock() {
                // A plain-store release becoming visible frees the lock for other CPUs.
                self.record(Object::Lock(lock), access::RELEASE);
            }
            self.log
                .borrow_mut()
                .buffer_ops
                .push(BufferOp::Pop { cpu, word });
        }
    }

    /// CPU `cpu` drains its whole buffer inline ([`BufferOp::Fence`]).
    #[inline(always)]
    pub fn fence(&self, cpu: CpuId) {
        if self.on.get() {
            self.log
                .borrow_mut()
                .buffer_ops
                .push(BufferOp::Fence { cpu });
        }
    }

    /// Under pso, CPU `cpu` performed `smp_wmb` ([`BufferOp::Barrier`]).
    #[inline(always)]
    pub fn barrier(&self, cpu: CpuId) {
        if self.on.get() {
            self.log
                .borrow_mut()
                .buffer_ops
                .push(BufferOp::Barrier { cpu });
        }
    }

    /// Takes the footprint recorded since the last take, normalized.
    pub fn take(&self) -> Footprint {
        let mut log = self.log.borrow_mut();
        let mut footprint = Footprint {
            accesses: std::mem::take(&mut log.accesses),
            global: log.global,
            drain: false,
            cpu: None,
            buffer_ops: std::mem::take(&mut log.buffer_ops),
        };
        log.global = false;
        footprint.normalize();
        footprint
    }

    /// Forgets what was recorded since the last take.
    pub fn discard(&self) {
        self.log.borrow_mut().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footprint(accesses: &[(Object, u8)]) -> Footprint {
        let mut f = Footprint {
            accesses: accesses.iter().copied().collect(),
            ..Footprint::default()
        };
        f.normalize();
        f
    }

    #[test]
    fn reads_commute_and_a_write_conflicts() {
        let x = Object::Word(Word(1));
        let y = Object::Word(Word(2));
        let read_x = footprint(&[(x, access::READ)]);
        let write_x = footprint(&[(x, access::WRITE)]);
        let write_y = footprint(&[(y, access::WRITE)]);
        assert_eq!(read_x.dependence(&read_x), Dependence::INDEPENDENT);
        assert_eq!(read_x.dependence(&write_x), Dependence::CONFLICT);
        assert_eq!(write_x.dependence(&read_x), Dependence::CONFLICT);
        assert_eq!(write_x.dependence(&write_y), Dependence::INDEPENDENT);
        let global = Footprint {
            global: true,
            ..Footprint::default()
        };
        assert_eq!(global.dependence(&write_y), Dependence::CONFLICT);
        assert_eq!(
            Footprint::default().dependence(&global),
            Dependence::CONFLICT
        );
    }

    #[test]
    fn a_release_orders_a_later_acquisition_without_a_race() {
        let l = Object::Lock(LockId(0));
        let acquire = footprint(&[(l, access::ACQUIRE_EXCLUSIVE)]);
        let release = footprint(&[(l, access::RELEASE)]);
        let shared = footprint(&[(l, access::ACQUIRE_SHARED)]);
        assert_eq!(acquire.dependence(&acquire), Dependence::CONFLICT);
        assert_eq!(release.dependence(&acquire), Dependence::RELEASE_ACQUIRE);
        assert_eq!(shared.dependence(&shared), Dependence::INDEPENDENT);
        assert_eq!(release.dependence(&release), Dependence::INDEPENDENT);
    }

    #[test]
    fn a_drain_commutes_with_a_push_and_its_own_cpus_load_but_not_anothers() {
        let (cpu0, cpu1) = (CpuId(0), CpuId(1));
        let w = Word(1);
        let buffer = Object::Buffer(cpu0, w);
        let mut drain = footprint(&[(buffer, access::POP), (Object::Word(w), access::WRITE)]);
        drain.drain = true;
        drain.cpu = Some(cpu0);
        let push = footprint(&[(buffer, access::PUSH)]);
        let mut own_load = footprint(&[(Object::Word(w), access::FORWARDING_READ)]);
        own_load.cpu = Some(cpu0);
        let mut other_load = own_load.clone();
        other_load.cpu = Some(cpu1);
        let mut own_sc_load = footprint(&[(Object::Word(w), access::READ)]);
        own_sc_load.cpu = Some(cpu0);
        assert_eq!(push.dependence(&drain), Dependence::INDEPENDENT);
        assert_eq!(drain.dependence(&own_load), Dependence::INDEPENDENT);
        assert_eq!(own_load.dependence(&drain), Dependence::INDEPENDENT);
        assert_eq!(drain.dependence(&other_load), Dependence::CONFLICT);
        assert_eq!(drain.dependence(&own_sc_load), Dependence::CONFLICT);
        let fence = footprint(&[(buffer, access::POP), (Object::Word(w), access::WRITE)]);
        assert_eq!(drain.dependence(&fence), Dependence::CONFLICT);
    }
}
