//! The machine's shared state, and the dispatcher of ops.
//!
//! `State` sits behind an `Rc` that the executor and every context's [`crate::Cx`]
//! share. It is only ever borrowed for the duration of one method call, never across an
//! `.await`, so the futures that kernel code compiles to can hold a `Cx` freely.
//!
//! Here are the data, the inline-operation budget (the soft-lockup watchdog), the
//! decisions made inline (allocation failures) and the two dispatchers,
//! [`State::perform`] and [`State::perform_inline`]. What each op does is an `impl
//! State` block beside its concept: memory ops in [`crate::mem`], lock operations in
//! [`crate::lock`] and their checks in [`crate::lockdep`], scheduling in
//! [`crate::sched`], wake-ups in [`crate::wake`], signals in [`crate::signal`], timers
//! in [`crate::timer`], interrupt flags and who is running in [`crate::cpu`], time charging in
//! [`crate::clock`], recording in [`crate::trace`] and reports in [`crate::report`].

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use slab::Slab;

use crate::clock::tick_ns;
use crate::config::Config;
use crate::cpu::{Context, Cpu, Task};
use crate::ids::{ContextId, CpuId, TaskId};
use crate::lock::LockTable;
use crate::lockdep::Lockdep;
use crate::mem::{Memory, Word};
use crate::op::Op;
use crate::report::{Report, ReportKind};
use crate::schedule::Schedule;
use crate::strategy::ActionView;
use crate::trace::{Trace, TraceEvent, TraceHasher};
use crate::waitq::WaitQueues;

pub use crate::cpu::describe_context;

pub use crate::timer::{Handler, HandlerFactory, PendingEvent};

/// A boxed, single-threaded future: a context's code.
pub type LocalFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// The outcome of performing an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Performed {
    /// Done; resume the context with this value.
    Value(u64),
    /// The context went to sleep; it resumes when woken or granted.
    Sleep,
    /// The task gave its CPU to the next one on the runqueue and stays runnable.
    Yielded,
    /// The run cannot go on (a fatal report was made, or the op was impossible, such as
    /// sleeping in an interrupt handler); the executor stops it.
    Halt,
}

/// A task that running code asked to create (see [`State::queue_spawn`]).
pub struct QueuedSpawn {
    pub id: TaskId,
    /// The creator's clock: the new task cannot run earlier (causality).
    pub ready_at_ns: u64,
    pub name: String,
    pub pin: Option<CpuId>,
    pub future: LocalFuture,
}

/// Which context the executor is running, so that inline ops know where they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Current {
    pub cpu: CpuId,
    pub context: ContextId,
}

/// The log of decisions, shared with inline decision points (allocation failures).
#[derive(Default)]
pub struct DecisionLog {
    pub schedule: Schedule,
    pub replay: Option<Schedule>,
    pub replay_cursor: usize,
    pub mismatch: Option<String>,
    alloc_counts: BTreeMap<&'static str, u64>,
}

impl DecisionLog {
    /// Records the next decision. When a schedule is being replayed and the decision
    /// closes a fingerprint window, checks the window: the reason of a mismatch, if any.
    pub fn record(&mut self, choice: u32, fingerprint: u16) -> Option<String> {
        let index = self.schedule.decisions;
        self.schedule.record(choice, fingerprint);
        let replay = self.replay.as_ref()?;
        if !Schedule::closes_window(index) {
            return None;
        }
        self.schedule
            .window_mismatch(replay, Schedule::window_of(index))
    }
}

/// The executor's data for one decision: the enabled actions in canonical order as the
/// strategy sees them, the context each `Run` steps, the CPU that ran last. Kept in the
/// state (not in [`crate::Machine`]) so that stepping in place reaches it.
pub(crate) struct Exec {
    pub views: Vec<ActionView>,
    /// For each `Run` in `views`, the context it steps (unused for other actions).
    pub run_contexts: Vec<ContextId>,
    pub scratch: Vec<(CpuId, Word)>,
    pub last_cpu: CpuId,
    /// The fingerprint of `views` (see `collect_actions`).
    pub fingerprint: u16,
}

impl Default for Exec {
    fn default() -> Exec {
        Exec {
            views: Vec::new(),
            run_contexts: Vec::new(),
            scratch: Vec::new(),
            last_cpu: CpuId(0),
            fingerprint: 0,
        }
    }
}

/// How stepping in place (see [`crate::machine`]) handed the run back to the executor
/// loop, having suspended the context it ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InPlaceExit {
    /// The steps so far are complete; the loop goes on from its top.
    Undecided,
    /// The steps so far are complete and this decision (an index into `Exec::views`)
    /// was made: the loop applies it next.
    Decided(usize),
    /// The context's own op was performed and suspended it (it slept, yielded its CPU
    /// or halted the run): the loop completes that step.
    Applied,
    /// The decision ended the run (`InPlace::ended`).
    Ended,
}

/// Stepping in place: while the executor polls a context, the steps that context takes
/// itself run inside its poll (see [`crate::machine`]).
#[derive(Default)]
pub(crate) struct InPlace {
    /// The CPU and context the executor is polling, while it may step in place.
    pub armed: Cell<Option<(CpuId, ContextId)>>,
    pub exit: Cell<Option<InPlaceExit>>,
    pub ended: RefCell<Option<crate::machine::RunEnd>>,
}

/// Everything a machine is, except the futures themselves.
pub struct State {
    pub config: Config,
    pub mem: Memory,
    pub cpus: RefCell<Vec<Cpu>>,
    pub tasks: RefCell<Vec<Task>>,
    pub contexts: RefCell<Slab<Context>>,
    pub locks: RefCell<LockTable>,
    pub lockdep: RefCell<Lockdep>,
    pub waitqueues: RefCell<WaitQueues>,
    pub events: RefCell<Vec<PendingEvent>>,
    pub next_event: Cell<u32>,
    pub trace: RefCell<Trace>,
    pub reports: RefCell<Vec<Report>>,
    pub decisions: RefCell<DecisionLog>,
    pub current: Cell<Current>,
    pub posted: Cell<Option<Op>>,
    pub result: Cell<u64>,
    pub step: Cell<u64>,
    /// Set only through [`State::halt`], which also empties the inline budget.
    pub(crate) halted: Cell<bool>,
    /// Time charged to the current CPU by inline primitives and not yet added to its
    /// clock (see [`State::charge_current`]); always 0 while no code runs.
    pub(crate) unsettled_ns: Cell<u64>,
    /// Inline operations left before [`State::may_run_inline`] looks at whether the
    /// run still takes steps, and the step at which it last looked (`u64::MAX`: never).
    pub(crate) inline_budget: Cell<u32>,
    pub(crate) inline_budget_step: Cell<u64>,
    /// Tasks created by running code (`clone()`), started by the executor before its
    /// next decision.
    pub spawn_queue: RefCell<Vec<QueuedSpawn>>,
    pub(crate) tick_ns: u64,
    /// Whether trace records are kept or mirrored ([`Trace::keeps_records`], fixed for
    /// the machine's life): narration is built only then.
    pub(crate) narrating: bool,
    pub(crate) exec: RefCell<Exec>,
    pub(crate) in_place: InPlace,
    /// The strategy of the run in progress (set by [`crate::Machine::run`] for its
    /// duration only; see there).
    pub(crate) strategy: Cell<Option<std::ptr::NonNull<dyn crate::strategy::Scheduler>>>,
    /// Whether the run's strategy is asked at forced decisions
    /// ([`crate::strategy::Scheduler::sees_forced_decisions`]; set with `strategy`).
    pub(crate) strategy_sees_forced: Cell<bool>,
    /// Whether the run's strategy is asked when a drain comes first
    /// ([`crate::strategy::Scheduler::drains_eagerly`]; set with `strategy`).
    pub(crate) strategy_drains_eagerly: Cell<bool>,
    /// The observer of a watched run ([`Config::observe`] with narration), else `None`.
    pub(crate) observer: Option<RefCell<crate::observe::Observer>>,
}

impl State {
    pub fn new(config: Config, config_hash: u64) -> State {
        let cpus = (0..config.cpus)
            .map(|i| Cpu::new(CpuId(i as u16)))
            .collect();
        let mem = Memory::new(config.model, config.cpus);
        let trace = Trace::new(config.keep_trace);
        let narrating = trace.keeps_records();
        let tick = tick_ns(config.hz);
        State {
            mem,
            cpus: RefCell::new(cpus),
            tasks: RefCell::new(Vec::new()),
            contexts: RefCell::new(Slab::new()),
            locks: RefCell::new(LockTable::default()),
            lockdep: RefCell::new(Lockdep::default()),
            waitqueues: RefCell::new(WaitQueues::default()),
            events: RefCell::new(Vec::new()),
            next_event: Cell::new(0),
            trace: RefCell::new(trace),
            reports: RefCell::new(Vec::new()),
            decisions: RefCell::new(DecisionLog {
                schedule: Schedule::new(config_hash),
                ..DecisionLog::default()
            }),
            current: Cell::new(Current {
                cpu: CpuId(0),
                context: ContextId(0),
            }),
            posted: Cell::new(None),
            result: Cell::new(0),
            step: Cell::new(0),
            halted: Cell::new(false),
            unsettled_ns: Cell::new(0),
            inline_budget: Cell::new(0),
            inline_budget_step: Cell::new(u64::MAX),
            spawn_queue: RefCell::new(Vec::new()),
            tick_ns: tick,
            narrating,
            exec: RefCell::new(Exec::default()),
            in_place: InPlace::default(),
            strategy: Cell::new(None),
            strategy_sees_forced: Cell::new(true),
            strategy_drains_eagerly: Cell::new(false),
            observer: (config.observe && narrating)
                .then(|| RefCell::new(crate::observe::Observer::default())),
            config,
        }
    }

    /// Back to the state [`State::new`] made, keeping the options and the allocations
    /// (see [`crate::Machine::reset`]).
    pub fn reset(&self) {
        self.mem.reset();
        if let Some(observer) = &self.observer {
            *observer.borrow_mut() = crate::observe::Observer::default();
        }
        for cpu in self.cpus.borrow_mut().iter_mut() {
            cpu.clock_ns = 0;
            cpu.irqs_enabled = true;
            cpu.task = None;
            cpu.interrupt = None;
            cpu.runqueue.clear();
        }
        self.tasks.borrow_mut().clear();
        self.contexts.borrow_mut().clear();
        self.locks.borrow_mut().reset();
        self.lockdep.borrow_mut().reset();
        self.waitqueues.borrow_mut().reset();
        self.events.borrow_mut().clear();
        self.next_event.set(0);
        self.trace.borrow_mut().reset();
        self.reports.borrow_mut().clear();
        {
            let mut log = self.decisions.borrow_mut();
            log.schedule.decisions = 0;
            log.schedule.deviations.clear();
            log.schedule.fingerprints.clear();
            log.replay = None;
            log.replay_cursor = 0;
            log.mismatch = None;
            log.alloc_counts.clear();
        }
        self.current.set(Current {
            cpu: CpuId(0),
            context: ContextId(0),
        });
        self.posted.set(None);
        self.result.set(0);
        self.step.set(0);
        self.halted.set(false);
        self.unsettled_ns.set(0);
        self.inline_budget.set(0);
        self.inline_budget_step.set(u64::MAX);
        self.spawn_queue.borrow_mut().clear();
        {
            let mut exec = self.exec.borrow_mut();
            exec.views.clear();
            exec.run_contexts.clear();
            exec.scratch.clear();
            exec.last_cpu = CpuId(0);
        }
        self.in_place.armed.set(None);
        self.in_place.exit.set(None);
        self.in_place.ended.borrow_mut().take();
    }

    // ---- inline operations --------------------------------------------------------

    /// Whether running code may perform its next operation inline (without a step):
    /// not once the run has halted, and not once the current step has performed
    /// [`crate::limits::INLINE_OPERATIONS_PER_STEP_MAX`] of them. That second case is a loop
    /// that never reaches a scheduling point at this granularity (2.6.21's `ep_poll`
    /// retry at `syscall` granularity, a walk round a corrupted list): like the
    /// kernel's soft-lockup watchdog it is reported — as a livelock, which halts the
    /// run — instead of running forever. A plain countdown on the hot path; the step is
    /// looked at only when the countdown runs out.
    #[inline(always)]
    pub fn may_run_inline(&self) -> bool {
        let left = self.inline_budget.get();
        if left == 0 {
            return self.renew_inline_budget();
        }
        self.inline_budget.set(left - 1);
        // Halting empties the budget (`State::halt`), so a halted run gets here never.
        debug_assert!(!self.halted.get());
        true
    }

    /// Stops the run: nothing more is performed, inline or stepped.
    pub fn halt(&self) {
        self.halted.set(true);
        self.inline_budget.set(0);
    }

    #[cold]
    #[inline(never)]
    fn renew_inline_budget(&self) -> bool {
        if self.halted.get() {
            return false;
        }
        let step = self.step.get();
        if self.inline_budget_step.get() != step {
            self.inline_budget_step.set(step);
            self.inline_budget
                .set(crate::limits::INLINE_OPERATIONS_PER_STEP_MAX - 1);
            return true;
        }
        let cpu = self.current.get().cpu;
        self.report(
            ReportKind::Livelock,
            format!(
                "soft lockup: CPU#{} performed {} operations in step {step} without reaching \
                 a scheduling point",
                cpu.0,
                crate::limits::INLINE_OPERATIONS_PER_STEP_MAX
            ),
            vec![
                "at this granularity the loop's locks and accesses are not steps; run it at \
                 `lock` or `access` granularity to watch it step by step"
                    .to_string(),
            ],
        );
        false
    }

    // ---- decisions made inline --------------------------------------------------------

    /// Whether this allocation of `class` fails: the scenario's rule decides, or the
    /// schedule being replayed. Recorded as a decision only for classes with a rule.
    pub fn alloc_fails(&self, class: &'static str) -> bool {
        self.mem.footprint.access(
            crate::footprint::Object::Allocator,
            crate::footprint::access::WRITE,
        );
        let nth = {
            let mut log = self.decisions.borrow_mut();
            let count = log.alloc_counts.entry(class).or_insert(0);
            *count += 1;
            *count
        };
        let ruled = self.config.alloc_failures.iter().any(|f| f.class == class);
        if !ruled {
            return false;
        }
        let by_rule = self
            .config
            .alloc_failures
            .iter()
            .any(|f| f.class == class && f.nth == nth);
        let mut fingerprint = TraceHasher::default();
        fingerprint.write_str("alloc");
        fingerprint.write_str(class);
        let fingerprint = fingerprint.finish() as u16;
        let fails = {
            let mut log = self.decisions.borrow_mut();
            let index = log.schedule.decisions;
            let choice = match log.replay.take() {
                Some(replay) => {
                    let mut cursor = log.replay_cursor;
                    let choice = replay.choice_at(&mut cursor, index);
                    log.replay_cursor = cursor;
                    if log.mismatch.is_none() {
                        if index >= replay.decisions {
                            log.mismatch =
                                Some("the run goes on after the schedule's last decision".into());
                        } else if choice > 1 {
                            log.mismatch = Some(format!(
                                "decision {index} is an allocation of {class} with 2 choices, the schedule says choice {choice}"
                            ));
                        }
                    }
                    log.replay = Some(replay);
                    choice
                }
                None => by_rule as u32,
            };
            if let Some(reason) = log.record(choice, fingerprint) {
                log.mismatch.get_or_insert(reason);
            }
            choice == 1
        };
        if fails {
            let current = self.current.get();
            self.record(
                current.cpu,
                Some(current.context),
                TraceEvent::AllocFail { class },
            );
        }
        fails
    }

    // ---- performing ops ---------------------------------------------------------------

    /// Performs `op` for the context on top of `cpu`. Plain loads and stores, most of the
    /// steps at access granularity, are performed inline; the rest in
    /// `perform_recorded`.
    #[inline(always)]
    pub fn perform(&self, cpu: CpuId, context: ContextId, op: Op) -> Performed {
        if !self.mem.footprint.is_on() {
            match op {
                Op::Load { word, .. } => return self.perform_load(cpu, word),
                Op::Store { word, value, .. } => return self.perform_store(cpu, word, value),
                _ => {}
            }
        }
        self.perform_recorded(cpu, context, op)
    }

    /// [`State::perform`] of any op, with its footprint recorded when footprints are on.
    #[inline(never)]
    fn perform_recorded(&self, cpu: CpuId, context: ContextId, op: Op) -> Performed {
        if self.mem.footprint.is_on() {
            self.footprint_of(op);
        }
        let performed = self.perform_op(cpu, context, op);
        if matches!(performed, Performed::Sleep | Performed::Yielded) {
            self.mem.footprint.global();
        }
        performed
    }

    /// What performing `op` touches beyond the memory words, locks' holders and wait
    /// queues its code records as it goes ([`crate::footprint`]): the lock it takes or
    /// releases, or nothing but the whole machine for the ops that (may) sleep, wake or
    /// resume a task.
    #[cold]
    fn footprint_of(&self, op: Op) {
        use crate::footprint::{access, Object};
        let footprint = &self.mem.footprint;
        match op {
            Op::Lock { lock, mode, .. } => {
                let bits = match mode {
                    crate::op::LockMode::Exclusive => access::ACQUIRE_EXCLUSIVE,
                    crate::op::LockMode::Shared => access::ACQUIRE_SHARED,
                };
                footprint.access(Object::Lock(lock), bits);
            }
            Op::Unlock { lock, .. } => footprint.access(Object::Lock(lock), access::RELEASE),
            Op::Start
            | Op::Resume
            | Op::Schedule { .. }
            | Op::Wake { .. }
            | Op::SleepFor { .. } => footprint.global(),
            _ => {}
        }
    }

    #[inline(always)]
    fn perform_op(&self, cpu: CpuId, context: ContextId, op: Op) -> Performed {
        let costs = &self.config.costs;
        match op {
            Op::Start => Performed::Value(0),
            Op::Resume => self.resume(cpu, context),
            Op::Load { word, .. } => self.perform_load(cpu, word),
            Op::Store { word, value, .. } => self.perform_store(cpu, word, value),
            Op::Xchg { word, value } => self.atomic(cpu, word, |_| value, |old, _| old),
            Op::CmpXchg {
                word,
                expected,
                new,
            } => self.atomic(
                cpu,
                word,
                |old| if old == expected { new } else { old },
                |old, _| old,
            ),
            Op::AddReturn { word, delta } => {
                self.atomic(cpu, word, |old| old.wrapping_add(delta), |_, new| new)
            }
            Op::Fence(fence) => self.perform_fence(cpu, fence),
            Op::Lock { lock, mode, irq } => self.lock(cpu, context, lock, mode, irq),
            Op::Unlock { lock, mode, irq } => self.unlock(cpu, context, lock, mode, irq),
            Op::IrqSave => self.irq_save(cpu),
            Op::IrqRestore { flags } => self.irq_restore(cpu, flags),
            Op::SetState {
                state,
                with_barrier,
            } => self.set_state(cpu, context, state, with_barrier),
            Op::Schedule { timeout_jiffies } => self.schedule(cpu, context, timeout_jiffies),
            Op::Wake {
                task,
                interruptible_only,
            } => self.wake(cpu, task, interruptible_only),
            Op::MayFault => {
                self.might_sleep(cpu, context, "a fault point (__put_user)");
                Performed::Value(0)
            }
            Op::SleepFor { duration_ns } => self.sleep_for(cpu, context, duration_ns),
            Op::Syscall { .. } => {
                self.charge(cpu, costs.syscall_ns);
                self.maybe_yield_cpu(cpu, context)
            }
            Op::Yield { .. } => {
                self.charge_current(costs.step_point_ns);
                Performed::Value(0)
            }
        }
    }

    /// Ops that a coarse granularity performs without a step. `None` means "post it":
    /// the op would block, or something is wrong and the posted path will report it.
    ///
    /// Inlined into each primitive of [`crate::Cx`], where `op` is a constant variant, so
    /// that the dispatch folds away and each primitive calls its op's code directly.
    #[inline(always)]
    pub fn perform_inline(&self, op: Op) -> Option<u64> {
        if !self.may_run_inline() {
            return None;
        }
        let Current { cpu, context } = self.current.get();
        let performed = match op {
            Op::Schedule { .. }
            | Op::SleepFor { .. }
            | Op::Syscall { .. }
            | Op::Start
            | Op::Resume => return None,
            // A word that is not live is posted: the stepping path reports it.
            Op::Load { word, .. } | Op::Store { word, .. } => {
                if !self.mem.is_live(word) {
                    return None;
                }
                self.perform(cpu, context, op)
            }
            Op::Xchg { word, value } => {
                if !self.mem.is_live(word) {
                    return None;
                }
                self.atomic_live(cpu, word, |_| value, |old, _| old)
            }
            Op::CmpXchg {
                word,
                expected,
                new,
            } => {
                if !self.mem.is_live(word) {
                    return None;
                }
                self.atomic_live(
                    cpu,
                    word,
                    |old| if old == expected { new } else { old },
                    |old, _| old,
                )
            }
            Op::AddReturn { word, delta } => {
                if !self.mem.is_live(word) {
                    return None;
                }
                self.atomic_live(cpu, word, |old| old.wrapping_add(delta), |_, new| new)
            }
            Op::Lock { lock, mode, irq } => match self.lock_quiet(cpu, context, lock, mode, irq) {
                Some(flags) => {
                    if self.mem.footprint.is_on() {
                        self.footprint_of(op);
                    }
                    Performed::Value(flags)
                }
                None => {
                    if !self.locks.borrow().get(lock).is_free_for(mode) {
                        return None;
                    }
                    if self.mem.footprint.is_on() {
                        self.footprint_of(op);
                    }
                    self.lock_checked(cpu, context, lock, mode, irq)
                }
            },
            Op::Unlock { .. } => self.perform(cpu, context, op),
            _ => self.perform(cpu, context, op),
        };
        match performed {
            Performed::Value(value) => Some(value),
            // Cannot happen for the ops that reach here (they never sleep once the lock
            // was seen free), but a report may have halted the run.
            Performed::Sleep | Performed::Yielded | Performed::Halt => None,
        }
    }
}
