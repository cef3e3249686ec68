//! Dynamic partial-order reduction: one execution per equivalence class of
//! interleavings, where two interleavings are equivalent when they order every pair of
//! dependent steps alike (Mazurkiewicz traces).
//!
//! The algorithm is optimal DPOR: source sets, sleep sets and wake-up trees (Abdulla,
//! Aronis, Jonsson, Sagonas, "Optimal dynamic partial order reduction", POPL 2014,
//! Algorithm 2), stateless: every execution re-runs the machine from the start,
//! replaying the path to the node where it branches. After each step the machine
//! reports the step's [`Footprint`] (every shared object it touched,
//! [`crate::footprint`]); the search keeps the executed sequence with a vector clock per
//! step (happens-before), and for each new step `e` finds the earlier steps of other
//! threads it races with: dependent, and not already ordered before `e` by something
//! else. When the execution is over, for each race `(e', e)` it takes
//! `v = notdep(e').e` — the steps after `e'` that do not happen after it, then `e` — and,
//! unless a thread asleep at the node before `e'` is a weak initial of `v` (that
//! reversal is covered by an execution explored before), inserts `v` into the node's
//! *wake-up tree*: the sequences still to explore from there, sharing the prefixes they
//! have in common up to equivalence. An execution that branches at a node follows its
//! branch of the tree step by step, so it performs the reversal it was made for rather
//! than wandering into a state where every thread sleeps. A node's sleep set holds the
//! threads whose subtrees from an equivalent state have been explored; a new node
//! inherits those independent of the step taken.
//!
//! # Threads
//!
//! Each CPU is a thread (its steps, whichever task or interrupt handler it runs, are in
//! program order). Store buffers are handled as in Abdulla, Atig, Jonsson, Leonardsson,
//! "Stateless model checking for TSO and PSO" (TACAS 2015): each buffer is an auxiliary
//! thread whose steps are the drains of its stores — one per CPU under tso (drains in
//! FIFO order), one per CPU and word under pso — and each drain happens after the step
//! that buffered its store; under pso after the drains of the stores its CPU buffered
//! before an `smp_wmb` that precedes it ([`BufferOp::Barrier`]); and a step that drains
//! its CPU's whole buffer inline (a fence) after every drain of that CPU's stores, as the
//! paper's fence waits for an empty buffer. Each pending interrupt delivery is a thread
//! of one step.
//!
//! # Blocking
//!
//! A CPU waiting for a lock is not enabled. A race between a release and a later
//! acquisition of the same lock cannot be reversed (the acquisition was not enabled
//! before the release); the race that matters is with the earlier acquisition, so a
//! release orders a later acquisition without hiding that acquisition's own races (see
//! [`crate::footprint::Dependence::release_acquire`]). When the initial a race asks for
//! is not enabled at its node, every enabled thread there is added instead (the
//! conservative fallback of classic DPOR).
//!
//! # Executions that add nothing
//!
//! When every enabled thread at a node sleeps, the execution is redundant (sleep-set
//! blocked). The machine cannot abandon a run, so it runs to its end with the default
//! choice; its steps add no races and no nodes. [`Dpor::redundant`] counts them. With
//! wake-up trees this happens only where the theorem's assumptions do not hold here:
//! threads that are not enabled (waiting for a lock), for which every enabled thread is
//! added instead. (A fence drains what is still buffered, so its footprint depends on
//! whether the drains came first; it is ordered after every drain of its CPU's stores —
//! [`BufferOp::Fence`] — so no reversal puts it before them.)
//!
//! # When the search is exhaustive
//!
//! When [`Scheduler::begin_execution`] returns false, every equivalence class under the
//! dependence relation of [`crate::footprint`] has been executed at least once: every
//! reachable final state was reached — provided the runs were not cut by their step
//! budget and the replay never diverged ([`Dpor::diverged`]).

use smallvec::SmallVec;

use super::{DecisionView, Scheduler};
use crate::footprint::{BufferOp, Footprint};
use crate::ids::{CpuId, EventId};
use crate::machine::Action;
use crate::mem::{MemoryModel, Word};

/// Who takes a step, as DPOR sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Thread {
    Cpu(CpuId),
    /// A store buffer's drains: the CPU's whole buffer (tso) or its stores to one word
    /// (pso).
    Buffer(CpuId, Option<Word>),
    Interrupt(EventId, CpuId),
}

/// A thread's index in [`Dpor::thread_ids`] order of first appearance.
type ThreadIndex = u32;

/// Happens-before as a vector clock: entry `t` is how many of thread `t`'s steps
/// happen before or are the step (missing entries are 0).
type Clock = SmallVec<[u32; 8]>;

fn clock_get(clock: &Clock, thread: ThreadIndex) -> u32 {
    clock.get(thread as usize).copied().unwrap_or(0)
}

fn clock_join(into: &mut Clock, other: &Clock) {
    if into.len() < other.len() {
        into.resize(other.len(), 0);
    }
    for (a, b) in into.iter_mut().zip(other.iter()) {
        *a = (*a).max(*b);
    }
}

/// One executed step.
#[derive(Clone, Debug)]
struct Event {
    thread: ThreadIndex,
    /// Its position among its thread's steps, from 1 (= `clock[thread]`).
    seq: u32,
    clock: Clock,
    footprint: Footprint,
}

/// The backward scan of the steps before a new one: its clock, what is known to happen
/// before it without the races found so far, and the races (latest first).
struct Scan {
    clock: Clock,
    covered: Clock,
    races: SmallVec<[usize; 4]>,
}

impl Scan {
    /// Looks at step `j` (`earlier`); true when the scan can stop there (a global step
    /// ordered before the new one: every earlier step but the drains happens before it).
    fn visit(&mut self, earlier: &Event, j: usize, thread: ThreadIndex, later: &Footprint) -> bool {
        if earlier.thread == thread {
            return false;
        }
        let dependence = earlier.footprint.dependence(later);
        if !dependence.orders() {
            return false;
        }
        clock_join(&mut self.clock, &earlier.clock);
        if clock_get(&self.covered, earlier.thread) >= earlier.seq {
            return earlier.footprint.global;
        }
        if dependence.conflict {
            self.races.push(j);
        }
        if dependence.release_acquire {
            // Not covered: the release's own acquisition may race with the new step.
            return false;
        }
        clock_join(&mut self.covered, &earlier.clock);
        earlier.footprint.global
    }
}

/// A store in a buffer, as DPOR follows it.
#[derive(Clone, Copy, Debug)]
struct Buffered {
    cpu: CpuId,
    word: Word,
    /// The step that buffered it.
    step: usize,
    /// How many pso write barriers its CPU had performed before it.
    epoch: u32,
}

/// Under pso, the order `smp_wmb` puts on one CPU's drains. A store buffered after the
/// CPU's `n`th barrier leaves its buffer only once every store buffered before that
/// barrier has left (`Memory::drainable`), in every execution — whether the earlier
/// store drained before the barrier or after it — so the store's drain (or the fence
/// that takes it out) happens after those drains. Stores leave the buffer in
/// nondecreasing epoch order, so two clocks are enough: the drains of the latest epoch
/// seen, and those of all the epochs before it.
#[derive(Clone, Debug, Default)]
struct BarrierEpochs {
    /// Barriers performed so far: the epoch of the next store buffered.
    barriers: u32,
    /// The latest epoch of which a store has left the buffer.
    epoch: u32,
    /// The steps that took stores of `epoch` out of the buffer, joined.
    latest: Clock,
    /// The steps that took stores of the epochs before `epoch` out, joined.
    earlier: Clock,
}

impl BarrierEpochs {
    /// What a store of `epoch` leaving the buffer happens after: the drains of every
    /// earlier epoch.
    fn before(&self, epoch: u32) -> Clock {
        let mut clock = self.earlier.clone();
        if epoch > self.epoch {
            clock_join(&mut clock, &self.latest);
        }
        clock
    }

    /// A store of `epoch` left the buffer in a step with `clock`.
    fn drained(&mut self, epoch: u32, clock: &Clock) {
        if epoch > self.epoch {
            let latest = std::mem::take(&mut self.latest);
            clock_join(&mut self.earlier, &latest);
            self.epoch = epoch;
        }
        clock_join(&mut self.latest, clock);
    }
}

/// A decision on the current path.
#[derive(Clone, Debug)]
struct Node {
    /// The enabled threads, in the view's (canonical) order.
    threads: SmallVec<[ThreadIndex; 8]>,
    /// Which of them are store-buffer drains, and the CPU of each.
    drains: SmallVec<[bool; 8]>,
    cpus: SmallVec<[CpuId; 8]>,
    /// Index into `threads` of the thread taken.
    chosen: usize,
    /// The wake-up tree: the sequences still to explore from here (each branch's
    /// first step is a thread to take here, its children what to take after it), in
    /// the order they will be explored. The branch being explored is not in it.
    wakeup: Vec<Branch>,
    /// Threads explored from here, with the footprint of the step they took.
    done: SmallVec<[(ThreadIndex, Footprint); 2]>,
    /// Threads asleep on entry, with the footprint of their next step.
    sleep: SmallVec<[(ThreadIndex, Footprint); 2]>,
}

impl Node {
    fn asleep(&self, thread: ThreadIndex) -> bool {
        self.sleep.iter().any(|(t, _)| *t == thread) || self.done.iter().any(|(t, _)| *t == thread)
    }

    /// Every thread that sleeps here (asleep on entry, or explored from here), with
    /// the footprint of its next step.
    fn sleeping(&self) -> impl Iterator<Item = &(ThreadIndex, Footprint)> {
        self.sleep.iter().chain(self.done.iter())
    }
}

/// A node of a wake-up tree (Abdulla, Aronis, Jonsson, Sagonas 2014, section 6): a
/// thread's step, with the footprint it had in the execution the sequence came from,
/// and the steps to take after it.
#[derive(Clone, Debug)]
struct Branch {
    thread: ThreadIndex,
    footprint: Footprint,
    children: Vec<Branch>,
}

impl Default for Dpor {
    fn default() -> Dpor {
        Dpor::new()
    }
}

/// Optimal DPOR: source sets, sleep sets and wake-up trees. See the module
/// documentation.
#[derive(Clone, Debug)]
pub struct Dpor {
    /// The machine's, as the first decision shows it.
    model: MemoryModel,
    /// Every thread seen, indexed by [`ThreadIndex`] (a handful: a linear search).
    thread_ids: Vec<Thread>,
    path: Vec<Node>,
    /// `events[i]` is the step taken at `path[i]`.
    events: Vec<Event>,
    /// Decisions made in the current execution.
    depth: usize,
    /// The current execution reached a node where every enabled thread sleeps.
    blocked: bool,
    started: bool,
    executions: u64,
    redundant: u64,
    /// Per execution: each thread's last step, and each buffer's stores not yet drained
    /// (the step that buffered each).
    last_of_thread: Vec<Option<usize>>,
    /// The stores not yet drained, in the order they were buffered (a handful at a time).
    buffered: Vec<Buffered>,
    /// Per CPU (by index): its pso write barriers so far, and the drains of its stores
    /// by barrier epoch (see [`BarrierEpochs`]).
    epochs: Vec<BarrierEpochs>,
    /// The drains among the steps, in order.
    drains: Vec<usize>,
    /// The races found in the current execution, (earlier step, later step): their
    /// reversals are put into the wake-up trees when the execution is over, when
    /// `notdep` can be taken over the whole execution (Algorithm 2 of the paper).
    races: Vec<(usize, usize)>,
    /// The rest of the wake-up (sub)tree the current execution follows: the branches
    /// to take at the next new node.
    subtree: Vec<Branch>,
    /// Set when a run did not follow the path it was replaying (nondeterministic code):
    /// the search can then no longer claim to be exhaustive.
    pub diverged: bool,
}

impl Dpor {
    pub fn new() -> Dpor {
        Dpor {
            model: MemoryModel::Sc,
            thread_ids: Vec::new(),
            path: Vec::new(),
            events: Vec::new(),
            depth: 0,
            blocked: false,
            started: false,
            executions: 0,
            redundant: 0,
            last_of_thread: Vec::new(),
            buffered: Vec::new(),
            epochs: Vec::new(),
            drains: Vec::new(),
            races: Vec::new(),
            subtree: Vec::new(),
            diverged: false,
        }
    }

    /// Executions begun so far.
    pub fn executions(&self) -> u64 {
        self.executions
    }

    /// Executions that turned out to be redundant (sleep-set blocked): they ran, but
    /// every state they reached had been reached before. With exact dependence and
    /// every thread always enabled, wake-up trees make this 0; the approximations of
    /// [`crate::footprint`] and threads waiting for a lock can still cause a few.
    pub fn redundant(&self) -> u64 {
        self.redundant
    }

    fn thread_of(&mut self, action: Action) -> ThreadIndex {
        let thread = match action {
            Action::Run { cpu } => Thread::Cpu(cpu),
            Action::Drain { cpu, word } => {
                Thread::Buffer(cpu, (self.model == MemoryModel::Pso).then_some(word))
            }
            Action::Interrupt { event, cpu } => Thread::Interrupt(event, cpu),
        };
        match self.thread_ids.iter().position(|&t| t == thread) {
            Some(index) => index as ThreadIndex,
            None => {
                self.thread_ids.push(thread);
                (self.thread_ids.len() - 1) as ThreadIndex
            }
        }
    }

    /// The per-execution bookkeeping for the steps kept from the last execution.
    fn rebuild(&mut self) {
        self.last_of_thread.clear();
        self.buffered.clear();
        self.epochs.clear();
        self.drains.clear();
        for i in 0..self.events.len() {
            let thread = self.events[i].thread as usize;
            if self.last_of_thread.len() <= thread {
                self.last_of_thread.resize(thread + 1, None);
            }
            self.last_of_thread[thread] = Some(i);
            if self.events[i].footprint.drain {
                self.drains.push(i);
            }
            let mut ignored = Clock::new();
            let ops = self.events[i].footprint.buffer_ops.clone();
            let pops = self.follow_buffer_ops(&ops, i, &mut ignored);
            self.record_pops(&pops, i);
        }
    }

    /// Follows the buffer ops of step `i`: joins into `clock` what each store it takes
    /// out of a buffer waits for — the step that buffered it and, under pso, the drains
    /// of the stores its CPU buffered before an `smp_wmb` that precedes it — and what a
    /// fence waits for (every drain of its CPU's stores so far), and returns
    /// each such store's CPU and barrier epoch, for [`Dpor::record_pops`].
    fn follow_buffer_ops(
        &mut self,
        ops: &[BufferOp],
        i: usize,
        clock: &mut Clock,
    ) -> SmallVec<[(CpuId, u32); 2]> {
        let mut pops = SmallVec::new();
        for &op in ops {
            match op {
                BufferOp::Push { cpu, word } => {
                    let epoch = self.epochs_of(cpu).barriers;
                    self.buffered.push(Buffered {
                        cpu,
                        word,
                        step: i,
                        epoch,
                    });
                }
                BufferOp::Barrier { cpu } => self.epochs_of(cpu).barriers += 1,
                BufferOp::Fence { cpu } => {
                    // It waits for every store buffered before it to leave the buffer.
                    let epochs = self.epochs_of(cpu);
                    clock_join(clock, &epochs.earlier);
                    clock_join(clock, &epochs.latest);
                }
                BufferOp::Pop { cpu, word } => {
                    let Some(at) = self
                        .buffered
                        .iter()
                        .position(|b| (b.cpu, b.word) == (cpu, word))
                    else {
                        continue;
                    };
                    let store = self.buffered.remove(at);
                    if store.step != i {
                        clock_join(clock, &self.events[store.step].clock);
                    }
                    let epochs = &self.epochs[cpu.index()];
                    debug_assert!(
                        store.epoch >= epochs.epoch,
                        "drained before an earlier epoch"
                    );
                    clock_join(clock, &epochs.before(store.epoch));
                    pops.push((cpu, store.epoch));
                }
            }
        }
        pops
    }

    /// The barrier epochs of `cpu`'s stores, made on first use.
    fn epochs_of(&mut self, cpu: CpuId) -> &mut BarrierEpochs {
        if self.epochs.len() <= cpu.index() {
            self.epochs
                .resize(cpu.index() + 1, BarrierEpochs::default());
        }
        &mut self.epochs[cpu.index()]
    }

    /// Notes that step `i` (whose clock is final) took stores of the given CPUs and
    /// barrier epochs out of their buffers.
    fn record_pops(&mut self, pops: &[(CpuId, u32)], i: usize) {
        for &(cpu, epoch) in pops {
            let clock = self.events[i].clock.clone();
            self.epochs_of(cpu).drained(epoch, &clock);
        }
    }

    /// Records step `i` (the one `path[i]` chose), and the races it completes.
    fn add_event(&mut self, mut footprint: Footprint) {
        let i = self.events.len();
        let node = &self.path[i];
        let thread = node.threads[node.chosen];
        footprint.drain = node.drains[node.chosen];
        footprint.cpu = Some(node.cpus[node.chosen]);
        let mut clock = match self.last_of_thread.get(thread as usize).copied().flatten() {
            Some(k) => self.events[k].clock.clone(),
            None => Clock::new(),
        };
        // A drain happens after the step that buffered its store (and under pso after
        // the drains of the stores before an `smp_wmb` before it).
        let ops = footprint.buffer_ops.clone();
        let pops = self.follow_buffer_ops(&ops, i, &mut clock);
        if clock.len() <= thread as usize {
            clock.resize(thread as usize + 1, 0);
        }
        let seq = clock[thread as usize] + 1;
        clock[thread as usize] = seq;
        // What is known to happen before the step without the races found below, and
        // the races: latest first.
        let mut scan = Scan {
            covered: clock.clone(),
            clock,
            races: SmallVec::new(),
        };
        let mut stopped_at = None;
        for j in (0..i).rev() {
            if scan.visit(&self.events[j], j, thread, &footprint) {
                // Every step before a global one that is not a drain happens before it:
                // only the drains before it remain to be looked at.
                stopped_at = Some(j);
                break;
            }
        }
        if let Some(stop) = stopped_at {
            for &j in self.drains.iter().rev().filter(|&&j| j < stop) {
                scan.visit(&self.events[j], j, thread, &footprint);
            }
        }
        let Scan { clock, races, .. } = scan;
        let event = Event {
            thread,
            seq,
            clock,
            footprint,
        };
        self.races.extend(races.iter().map(|&j| (j, i)));
        if self.last_of_thread.len() <= thread as usize {
            self.last_of_thread.resize(thread as usize + 1, None);
        }
        self.last_of_thread[thread as usize] = Some(i);
        if event.footprint.drain {
            self.drains.push(i);
        }
        self.events.push(event);
        self.record_pops(&pops, i);
    }

    /// Puts the reversal of every race found in the execution just over into the
    /// wake-up tree of the node before the race's earlier step.
    fn insert_races(&mut self) {
        let races = std::mem::take(&mut self.races);
        for (j, k) in races {
            self.reverse(j, k);
        }
    }

    /// The race of step `j` with the later step `k`: makes sure the wake-up tree of
    /// `path[j]` holds a sequence that starts like `v = notdep(j).k` (the steps after
    /// `j` that do not happen after it, then `k`), unless a thread asleep there is a
    /// weak initial of `v` (every execution from here that starts with a sleeping
    /// thread is equivalent to one explored before: what a sleep set means).
    fn reverse(&mut self, j: usize, k: usize) {
        let (racer_thread, racer_seq) = (self.events[j].thread, self.events[j].seq);
        let mut v: Vec<usize> = (j + 1..self.events.len())
            .filter(|&x| x != k && clock_get(&self.events[x].clock, racer_thread) < racer_seq)
            .collect();
        v.push(k);
        let node = &self.path[j];
        if node
            .sleeping()
            .any(|(t, f)| weak_initial(&self.events, *t, f, &v).is_some())
        {
            return;
        }
        let first = self.events[v[0]].thread;
        if !node.threads.contains(&first) {
            // The reversal's first step is not enabled there (a lock held): explore
            // every thread that is.
            let global = Footprint {
                global: true,
                ..Footprint::default()
            };
            let node = &mut self.path[j];
            for t in node.threads.clone() {
                if !node.asleep(t) && !node.wakeup.iter().any(|b| b.thread == t) {
                    node.wakeup.push(Branch {
                        thread: t,
                        footprint: global.clone(),
                        children: Vec::new(),
                    });
                }
            }
            return;
        }
        insert(&mut self.path[j].wakeup, &self.events, v);
    }

    /// The sleep set of a new node after `path[d - 1]`: what slept or was done there
    /// and is independent of the step taken.
    fn child_sleep(&self, d: usize) -> SmallVec<[(ThreadIndex, Footprint); 2]> {
        let Some(parent) = d.checked_sub(1).map(|p| &self.path[p]) else {
            return SmallVec::new();
        };
        let Some(taken) = self.events.get(d - 1) else {
            return SmallVec::new();
        };
        parent
            .sleep
            .iter()
            .chain(parent.done.iter())
            .filter(|(t, f)| {
                *t != taken.thread
                    && !f.dependence(&taken.footprint).orders()
                    && !taken.footprint.dependence(f).orders()
            })
            .cloned()
            .collect()
    }
}

impl Scheduler for Dpor {
    fn begin_execution(&mut self) -> bool {
        self.depth = 0;
        self.blocked = false;
        self.subtree.clear();
        if !self.started {
            self.started = true;
            self.executions = 1;
            self.rebuild();
            return true;
        }
        self.insert_races();
        while let Some(last) = self.path.len().checked_sub(1) {
            let node = &mut self.path[last];
            let taken = node.threads[node.chosen];
            if !node.done.iter().any(|(t, _)| *t == taken) {
                let footprint = self
                    .events
                    .get(last)
                    .map(|e| e.footprint.clone())
                    .unwrap_or_else(|| Footprint {
                        global: true,
                        ..Footprint::default()
                    });
                node.done.push((taken, footprint));
            }
            // The leftmost branch whose thread is enabled and awake.
            let mut next = None;
            while !node.wakeup.is_empty() {
                let branch = node.wakeup.remove(0);
                if !node.asleep(branch.thread) {
                    if let Some(at) = node.threads.iter().position(|&t| t == branch.thread) {
                        next = Some((at, branch.children));
                        break;
                    }
                }
            }
            match next {
                Some((at, children)) => {
                    node.chosen = at;
                    self.subtree = children;
                    self.events.truncate(last);
                    self.executions += 1;
                    self.rebuild();
                    return true;
                }
                None => {
                    self.path.pop();
                    self.events.truncate(last);
                }
            }
        }
        false
    }

    fn wants_footprints(&self) -> bool {
        true
    }

    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        let d = self.depth;
        self.depth += 1;
        self.model = view.model;
        if self.blocked {
            return 0;
        }
        let threads: SmallVec<[ThreadIndex; 8]> = view
            .actions
            .iter()
            .map(|a| self.thread_of(a.action))
            .collect();
        if d < self.path.len() {
            let node = &self.path[d];
            if node.threads == threads {
                return node.chosen;
            }
            // The run does not follow the recorded path: cut the path here.
            self.diverged = true;
            self.path.truncate(d);
            self.events.truncate(d);
            self.races.retain(|&(_, k)| k < d);
            self.rebuild();
        }
        let sleep = self.child_sleep(d);
        let asleep = |t: &ThreadIndex| sleep.iter().any(|(s, _)| s == t);
        // The wake-up subtree's leftmost branch that can be taken; the other branches
        // stay to be explored from this node.
        let mut wakeup = std::mem::take(&mut self.subtree);
        let mut guided = None;
        while !wakeup.is_empty() {
            let branch = wakeup.remove(0);
            if let Some(at) = threads
                .iter()
                .position(|t| *t == branch.thread && !asleep(t))
            {
                guided = Some(at);
                self.subtree = branch.children;
                break;
            }
        }
        let Some(chosen) = guided.or_else(|| threads.iter().position(|t| !asleep(t))) else {
            // Every enabled thread was explored from an equivalent state.
            self.blocked = true;
            self.redundant += 1;
            return 0;
        };
        wakeup.retain(|b| b.thread != threads[chosen]);
        let drains = view
            .actions
            .iter()
            .map(|a| matches!(a.action, Action::Drain { .. }))
            .collect();
        let cpus = view.actions.iter().map(|a| a.action.cpu()).collect();
        self.path.push(Node {
            drains,
            cpus,
            threads,
            chosen,
            wakeup,
            done: SmallVec::new(),
            sleep,
        });
        chosen
    }

    fn observe(&mut self, footprint: Footprint) {
        if self.blocked {
            return;
        }
        let i = self.depth.wrapping_sub(1);
        // Steps of the replayed prefix are known already; a step is recorded once, when
        // its node is the last on the path.
        if i < self.events.len() || i >= self.path.len() || i != self.events.len() {
            return;
        }
        self.add_event(footprint);
    }
}

/// Whether `thread` (whose next step has `footprint`) is a weak initial of the sequence
/// `v` of steps of `events`: its first step in `v` has no step of `v` before it that
/// happens before it, or it has no step in `v` and its next step is independent of
/// every step of `v`. If so, the rest of `v` once that step is taken first.
fn weak_initial(
    events: &[Event],
    thread: ThreadIndex,
    footprint: &Footprint,
    v: &[usize],
) -> Option<Vec<usize>> {
    match v.iter().position(|&x| events[x].thread == thread) {
        Some(at) => {
            let step = &events[v[at]];
            let initial = v[..at].iter().all(|&x| {
                let before = &events[x];
                clock_get(&step.clock, before.thread) < before.seq
            });
            initial.then(|| {
                let mut rest = v.to_vec();
                rest.remove(at);
                rest
            })
        }
        None => v
            .iter()
            .all(|&x| {
                let other = &events[x].footprint;
                !footprint.dependence(other).orders() && !other.dependence(footprint).orders()
            })
            .then(|| v.to_vec()),
    }
}

/// Inserts `v` into the wake-up tree `tree` (the operation `insert` of the paper):
/// follows the branches whose step is a weak initial of what is left of `v`, leftmost
/// first; when one of them ends (a leaf) or `v` runs out, an execution already planned
/// covers `v`; otherwise the rest of `v` becomes a new branch, explored last.
fn insert(mut tree: &mut Vec<Branch>, events: &[Event], mut v: Vec<usize>) {
    loop {
        let mut next = None;
        for (at, branch) in tree.iter().enumerate() {
            if let Some(rest) = weak_initial(events, branch.thread, &branch.footprint, &v) {
                next = Some((at, rest));
                break;
            }
        }
        let Some((at, rest)) = next else {
            break;
        };
        if tree[at].children.is_empty() || rest.is_empty() {
            return;
        }
        v = rest;
        tree = &mut tree[at].children;
    }
    // The rest of v, as a chain.
    let mut chain: Option<Branch> = None;
    for &x in v.iter().rev() {
        chain = Some(Branch {
            thread: events[x].thread,
            footprint: events[x].footprint.clone(),
            children: chain.into_iter().collect(),
        });
    }
    tree.extend(chain);
}
