//! Watching a run for a step-through view (`epsim view`): what changed in the machine
//! between two points of the trace — every word of memory that was allocated, freed or
//! stored to, every store buffer, lock, wait queue, task and CPU that changed — as a log
//! of [`Change`]s, each tagged with the number of trace records kept before it.
//!
//! Off by default ([`crate::Config::observe`], which needs `keep_trace`): a run that does
//! not observe pays one predictable branch per step (`State::observe_if_watching`) and
//! nothing per memory access. Observing does not change the execution or its trace hash:
//! it only reads the machine, between steps and at narration points.
//!
//! How changes are found: not by hooking every store (the coarse granularities store
//! through a raw `MemView` of memory, with no room for a hook), but by comparing the
//! machine with a shadow copy at each observation point — after each trace record
//! (an op performed, a drain, a narration note) and when a context's code has run on to
//! its next op. So the stores a step's code makes after its op are seen at the next note
//! of that code, or at the end of the step. The comparison of memory goes 64 words at a
//! time (a `memcmp`), so a run with many words and few stores per step stays cheap.
//!
//! Names stay generic here: a block's kind and field names are whatever the layer above
//! allocated it with (`sim` knows nothing of epoll).

use std::panic::Location;

use smallvec::SmallVec;

use crate::cpu::TaskStatus;
use crate::ids::{ContextId, CpuId, LockId, TaskId, WaitQueueId};
use crate::mem::{BufferedStore, Word};
use crate::op::{LockMode, Op};
use crate::state::State;
use crate::waitq::WaitEntry;

/// One change of the machine's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A block of words was allocated (all zero), with its kind and field names.
    Alloc {
        start: Word,
        kind: &'static str,
        id: u64,
        fields: &'static [&'static str],
    },
    /// The block that starts at `start` was freed (its words keep their last values).
    Free { start: Word },
    /// A word's value in memory (what every CPU without a buffered store to it sees).
    Store { word: Word, value: u64 },
    /// A CPU's store buffer, oldest store first (the whole buffer, when it changed).
    Buffer {
        cpu: CpuId,
        stores: Vec<BufferedStore>,
    },
    /// A lock's holders (the writer, or the readers) and the contexts waiting for it:
    /// sleeping in its queue, first in line first, then spinning on it.
    Lock {
        lock: LockId,
        holders: SmallVec<[ContextId; 2]>,
        waiters: Vec<ContextId>,
    },
    /// A wait queue's entries, in list order.
    WaitQueue {
        queue: WaitQueueId,
        entries: Vec<WaitEntry>,
    },
    /// Where a task is.
    Task {
        task: TaskId,
        status: TaskStatus,
        cpu: CpuId,
    },
    /// What a CPU runs: a task's kernel stack, an interrupt handler on top of it, and its
    /// interrupt flag.
    Cpu {
        cpu: CpuId,
        task: Option<TaskId>,
        interrupt: Option<ContextId>,
        irqs_enabled: bool,
    },
    /// The source location of the narration note just recorded (the layer above's code
    /// that called `Cx::note`).
    Location {
        location: &'static Location<'static>,
    },
}

/// A change, and how many trace records were kept when it was seen: it happened after
/// record `after_records - 1` (and before record `after_records`, if there is one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub after_records: usize,
    pub change: Change,
}

/// What a lock looked like at the last observation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct LockShadow {
    holders: SmallVec<[ContextId; 2]>,
    waiters: Vec<ContextId>,
}

/// The machine as the last observation saw it, and the log of changes since the start.
#[derive(Default)]
pub struct Observer {
    values: Vec<u64>,
    liveness: Vec<u8>,
    blocks: usize,
    buffers: Vec<Vec<BufferedStore>>,
    locks: Vec<LockShadow>,
    waitqueues: Vec<Vec<WaitEntry>>,
    tasks: Vec<(TaskStatus, CpuId)>,
    cpus: Vec<(Option<TaskId>, Option<ContextId>, bool)>,
    /// The location of the last note, not yet logged.
    pending_location: Option<&'static Location<'static>>,
    log: Vec<Observation>,
}

impl Observer {
    /// The changes seen so far, in order.
    pub fn log(&self) -> &[Observation] {
        &self.log
    }

    fn push(&mut self, after_records: usize, change: Change) {
        self.log.push(Observation {
            after_records,
            change,
        });
    }
}

/// Words compared at once: a block of memory equal to its shadow is skipped whole.
const CHUNK_WORDS: usize = 64;

impl State {
    /// Observes the machine if this run is watched (see the module comment); a no-op
    /// otherwise.
    #[inline(always)]
    pub(crate) fn observe_if_watching(&self) {
        if self.observer.is_some() {
            self.observe();
        }
    }

    /// Whether this run is watched ([`crate::Config::observe`] with narration): the layer
    /// above may then keep names its view will need that the machine's memory does not
    /// hold (which epitem a wait-queue callback belongs to).
    pub fn is_watched(&self) -> bool {
        self.observer.is_some()
    }

    /// Remembers where the note being recorded was written (watched runs only).
    pub(crate) fn observe_location(&self, location: &'static Location<'static>) {
        if let Some(observer) = &self.observer {
            if let Ok(mut observer) = observer.try_borrow_mut() {
                observer.pending_location = Some(location);
            }
        }
    }

    /// Compares the machine with the observer's shadow and logs what changed.
    #[cold]
    #[inline(never)]
    pub(crate) fn observe(&self) {
        let Some(observer) = &self.observer else {
            return;
        };
        let Ok(mut observer) = observer.try_borrow_mut() else {
            return;
        };
        let after = self.trace.borrow().records().len();
        let observer = &mut *observer;
        self.observe_blocks(observer, after);
        self.observe_memory(observer, after);
        self.observe_buffers(observer, after);
        self.observe_locks(observer, after);
        self.observe_waitqueues(observer, after);
        self.observe_tasks(observer, after);
        if let Some(location) = observer.pending_location.take() {
            observer.push(after, Change::Location { location });
        }
    }

    fn observe_blocks(&self, observer: &mut Observer, after: usize) {
        let count = self.mem.block_count();
        for index in observer.blocks..count {
            let block = self.mem.block_at(index);
            observer.push(
                after,
                Change::Alloc {
                    start: block.start,
                    kind: block.kind,
                    id: block.id,
                    fields: block.fields,
                },
            );
        }
        observer.blocks = count;
    }

    fn observe_memory(&self, observer: &mut Observer, after: usize) {
        let Observer {
            values: shadow_values,
            liveness: shadow_liveness,
            log,
            ..
        } = observer;
        self.mem.with_words(|values, liveness| {
            let known = shadow_values.len();
            // New words start as zero and live (their Alloc says so); a store before the
            // observation shows as a difference from zero.
            shadow_values.resize(values.len(), 0);
            shadow_liveness.resize(liveness.len(), 1);
            let mut base = 0;
            for (chunk, shadow) in values
                .chunks(CHUNK_WORDS)
                .zip(shadow_values.chunks_mut(CHUNK_WORDS))
            {
                if chunk != shadow {
                    for (offset, (&value, old)) in chunk.iter().zip(shadow.iter_mut()).enumerate() {
                        if value != *old {
                            *old = value;
                            log.push(Observation {
                                after_records: after,
                                change: Change::Store {
                                    word: Word((base + offset) as u32),
                                    value,
                                },
                            });
                        }
                    }
                }
                base += CHUNK_WORDS;
            }
            let _ = known;
            if liveness != shadow_liveness.as_slice() {
                for (index, (&now, old)) in
                    liveness.iter().zip(shadow_liveness.iter_mut()).enumerate()
                {
                    if now != *old {
                        *old = now;
                        if now == 2 && self.mem.block_starts_at(Word(index as u32)) {
                            log.push(Observation {
                                after_records: after,
                                change: Change::Free {
                                    start: Word(index as u32),
                                },
                            });
                        }
                    }
                }
            }
        });
    }

    fn observe_buffers(&self, observer: &mut Observer, after: usize) {
        let cpus = self.config.cpus;
        observer.buffers.resize(cpus, Vec::new());
        for index in 0..cpus {
            let cpu = CpuId(index as u16);
            let now = self.mem.buffered(cpu);
            if now != observer.buffers[index] {
                observer.buffers[index] = now.clone();
                observer.push(after, Change::Buffer { cpu, stores: now });
            }
        }
    }

    fn observe_locks(&self, observer: &mut Observer, after: usize) {
        let (Ok(locks), Ok(contexts)) = (self.locks.try_borrow(), self.contexts.try_borrow())
        else {
            return;
        };
        observer
            .locks
            .resize(locks.locks.len(), LockShadow::default());
        // Spinning (or about to take a lock another context holds): a context whose
        // next op is that lock's acquisition.
        let mut spinning: SmallVec<[(LockId, LockMode, ContextId); 4]> = SmallVec::new();
        for (key, context) in contexts.iter() {
            if let Op::Lock { lock, mode, .. } = context.pending {
                if !context.finished {
                    spinning.push((lock, mode, ContextId(key as u32)));
                }
            }
        }
        for (index, lock) in locks.locks.iter().enumerate() {
            let id = LockId(index as u32);
            let holders: SmallVec<[ContextId; 2]> = lock.holders().collect();
            let mut waiters: Vec<ContextId> = locks.waiters(id).map(|w| w.context).collect();
            for &(_, mode, context) in spinning.iter().filter(|(l, _, _)| *l == id) {
                if !lock.is_free_for(mode) && !waiters.contains(&context) {
                    waiters.push(context);
                }
            }
            let shadow = &mut observer.locks[index];
            if shadow.holders != holders || shadow.waiters != waiters {
                shadow.holders = holders.clone();
                shadow.waiters = waiters.clone();
                observer.log.push(Observation {
                    after_records: after,
                    change: Change::Lock {
                        lock: id,
                        holders,
                        waiters,
                    },
                });
            }
        }
    }

    fn observe_waitqueues(&self, observer: &mut Observer, after: usize) {
        let Ok(queues) = self.waitqueues.try_borrow() else {
            return;
        };
        observer.waitqueues.resize(queues.heads.len(), Vec::new());
        for (index, head) in queues.heads.iter().enumerate() {
            let shadow = &mut observer.waitqueues[index];
            let same = shadow.len() == head.entries.len()
                && head
                    .entries
                    .iter()
                    .zip(shadow.iter())
                    .all(|(&id, old)| queues.entries.get(id).ok() == Some(old));
            if same {
                continue;
            }
            let entries: Vec<WaitEntry> = head
                .entries
                .iter()
                .filter_map(|&id| queues.entries.get(id).ok().copied())
                .collect();
            *shadow = entries.clone();
            observer.log.push(Observation {
                after_records: after,
                change: Change::WaitQueue {
                    queue: WaitQueueId(index as u32),
                    entries,
                },
            });
        }
    }

    fn observe_tasks(&self, observer: &mut Observer, after: usize) {
        if let Ok(tasks) = self.tasks.try_borrow() {
            for (index, task) in tasks.iter().enumerate() {
                let now = (task.status, task.cpu);
                if observer.tasks.get(index) != Some(&now) {
                    if index < observer.tasks.len() {
                        observer.tasks[index] = now;
                    } else {
                        observer.tasks.push(now);
                    }
                    observer.push(
                        after,
                        Change::Task {
                            task: TaskId(index as u32),
                            status: task.status,
                            cpu: task.cpu,
                        },
                    );
                }
            }
        }
        if let Ok(cpus) = self.cpus.try_borrow() {
            for (index, cpu) in cpus.iter().enumerate() {
                let now = (cpu.task, cpu.interrupt, cpu.irqs_enabled);
                if observer.cpus.get(index) != Some(&now) {
                    if index < observer.cpus.len() {
                        observer.cpus[index] = now;
                    } else {
                        observer.cpus.push(now);
                    }
                    observer.push(
                        after,
                        Change::Cpu {
                            cpu: cpu.id,
                            task: cpu.task,
                            interrupt: cpu.interrupt,
                            irqs_enabled: cpu.irqs_enabled,
                        },
                    );
                }
            }
        }
    }

    /// The changes observed so far, after a last observation (watched runs only).
    pub fn observations(&self) -> Vec<Observation> {
        self.observe();
        match &self.observer {
            Some(observer) => observer.borrow().log().to_vec(),
            None => Vec::new(),
        }
    }
}
