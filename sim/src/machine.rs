//! The machine and its executor.
//!
//! A [`Machine`] owns everything: CPUs, tasks, memory, locks, wait queues, pending
//! events, the trace and the schedule. [`Machine::run`] repeats one loop: give idle CPUs
//! work, list the enabled actions in canonical order, let the strategy (or the schedule
//! being replayed) pick one, apply it. An action is one step: a CPU performs its pending
//! op and runs on to its next one, a buffered store drains, or an interrupt is delivered.

use std::future::Future;
use std::ptr::NonNull;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll, RawWaker, RawWakerVTable, Waker};

use crate::config::{Config, ConfigError, Granularity};
use crate::cpu::{Context, ContextKind, Task, TaskStatus};
use crate::cx::Cx;
use crate::ids::{ContextId, CpuId, EventId, TaskId};
use crate::limits::TASKS_MAX;
use crate::mem::Word;
use crate::op::{IrqMode, Op, TaskState};
use crate::report::{Report, ReportKind};
use crate::schedule::Schedule;
use crate::state::{
    describe_context, Current, Exec, Handler, HandlerFactory, InPlaceExit, LocalFuture, Performed,
    State,
};
use crate::strategy::{ActionView, DecisionView, Scheduler};
use crate::trace::{Record, TraceEvent, TraceHasher};

/// One thing the machine can do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Make the oldest buffered store of `cpu` to `word` visible.
    Drain { cpu: CpuId, word: Word },
    /// Let `cpu` perform its pending op.
    Run { cpu: CpuId },
    /// Deliver `event` as an interrupt on `cpu`.
    Interrupt { event: EventId, cpu: CpuId },
}

impl Action {
    pub fn cpu(&self) -> CpuId {
        match *self {
            Action::Drain { cpu, .. } | Action::Run { cpu } | Action::Interrupt { cpu, .. } => cpu,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// Every task exited and no event is pending.
    Completed,
    /// Nothing can run, no event is pending, and these tasks sleep forever.
    Quiescent { sleepers: Vec<TaskId> },
    /// A fatal report stopped the run.
    Halted,
    /// The step budget ran out (a `step-budget` report was made).
    StepLimit,
    /// The schedule being replayed does not fit this run.
    ReplayMismatch {
        decision: u64,
        step: u64,
        reason: String,
    },
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub end: RunEnd,
    pub steps: u64,
    /// The latest CPU clock at the end.
    pub virtual_time_ns: u64,
    pub trace_hash: u64,
    pub schedule: Schedule,
    pub reports: Vec<Report>,
}

/// A simulated SMP machine.
pub struct Machine {
    state: Rc<State>,
    futures: Vec<Option<LocalFuture>>,
    ran: bool,
}

impl Machine {
    /// A machine with the given options. `scenario_hash` identifies what will run on it
    /// (the layer above hashes its scenario and options); schedules carry both.
    pub fn new(config: Config, scenario_hash: u64) -> Result<Machine, ConfigError> {
        config.validate()?;
        let mut h = TraceHasher::default();
        h.write_u64(scenario_hash);
        h.write_u64(config.fingerprint());
        let state = Rc::new(State::new(config, h.finish()));
        Ok(Machine {
            state,
            futures: Vec::new(),
            ran: false,
        })
    }

    /// The execution context handle that kernel code of granularity `G` uses.
    /// `G` must match `config.granularity`.
    pub fn cx<G: Granularity>(&self) -> Cx<G> {
        assert_eq!(
            G::KIND,
            self.state.config.granularity,
            "Cx granularity must match the machine's"
        );
        Cx::new(self.state.clone())
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// Creates a task that runs `future`, pinned to `pin` or free to migrate. Unpinned
    /// tasks start on CPUs round-robin by creation order.
    pub fn spawn(
        &mut self,
        name: impl Into<String>,
        pin: Option<CpuId>,
        future: impl Future<Output = ()> + 'static,
    ) -> TaskId {
        self.spawn_boxed(name.into(), pin, Box::pin(future))
    }

    fn spawn_boxed(&mut self, name: String, pin: Option<CpuId>, future: LocalFuture) -> TaskId {
        let state = self.state.clone();
        let id = TaskId(state.tasks.borrow().len() as u32);
        assert!(id.index() < TASKS_MAX, "more than {TASKS_MAX} tasks");
        let cpu = pin.unwrap_or(CpuId((id.0 as usize % state.config.cpus) as u16));
        assert!(
            cpu.index() < state.config.cpus,
            "task pinned to a CPU the machine lacks"
        );
        let context = self.new_context(ContextKind::Task(id), future);
        let state_word = state
            .mem
            .alloc_block("task", id.0 as u64, &["state"], state.step.get());
        state.mem.store_sc(state_word, TaskState::Running as u64);
        state.tasks.borrow_mut().push(Task {
            id,
            name,
            context,
            state_word,
            pinned: pin,
            cpu,
            status: TaskStatus::Queued,
            signal_pending: false,
            signals_blocked: false,
            ready_at_ns: 0,
            timer: None,
            irqs_enabled: true,
        });
        state.cpus.borrow_mut()[cpu.index()].runqueue.push_back(id);
        id
    }

    /// Creates the tasks running code queued with `State::queue_spawn`.
    fn start_queued_spawns(&mut self) {
        if self.state.spawn_queue.borrow().is_empty() {
            return;
        }
        let queued = std::mem::take(&mut *self.state.spawn_queue.borrow_mut());
        for spawn in queued {
            let id = self.spawn_boxed(spawn.name, spawn.pin, spawn.future);
            debug_assert_eq!(id, spawn.id);
            self.state.tasks.borrow_mut()[id.index()].ready_at_ns = spawn.ready_at_ns;
        }
    }

    fn new_context(&mut self, kind: ContextKind, future: LocalFuture) -> ContextId {
        let index = self.state.contexts.borrow_mut().insert(Context {
            kind,
            pending: Op::Start,
            resume_value: 0,
            resume_timeout: false,
            held: Default::default(),
            finished: false,
        });
        if index >= self.futures.len() {
            self.futures.resize_with(index + 1, || None);
        }
        self.futures[index] = Some(future);
        ContextId(index as u32)
    }

    /// Schedules an interrupt at virtual time `time_ns` on `cpu` (or any CPU) that runs
    /// the future `factory` builds when it is delivered.
    pub fn add_interrupt(
        &mut self,
        time_ns: u64,
        cpu: Option<CpuId>,
        label: &'static str,
        factory: HandlerFactory,
    ) -> EventId {
        assert!(
            cpu.is_none_or(|c| c.index() < self.state.config.cpus),
            "interrupt pinned to a CPU the machine lacks"
        );
        self.state
            .add_event(time_ns, cpu, label, Handler::External(Some(factory)))
    }

    /// Puts the machine back to the state [`Machine::new`] left it in — no tasks, no
    /// memory, no locks, wait queues or pending events, an empty trace and schedule —
    /// keeping its options, its scenario hash and its allocations, so that a search
    /// that runs a scenario many times (exhaustive DFS) can rebuild it on the same
    /// machine instead of a new one. Every handle from before (words, locks, tasks,
    /// wait queues) is meaningless afterwards; `Cx` handles stay valid. The same
    /// construction after a reset gives the same execution as on a new machine.
    pub fn reset(&mut self) {
        // The futures hold `Cx` handles and may run Drop code: drop them while the
        // state they see is still the old one.
        self.futures.clear();
        self.state.reset();
        self.ran = false;
    }

    /// Replays `schedule` on the next run instead of asking a strategy.
    pub fn set_replay(&mut self, schedule: Schedule) -> Result<(), crate::schedule::ScheduleError> {
        let expected = self.state.decisions.borrow().schedule.config_hash;
        if schedule.config_hash != expected {
            return Err(crate::schedule::ScheduleError::ConfigMismatch {
                expected,
                found: schedule.config_hash,
            });
        }
        self.state.decisions.borrow_mut().replay = Some(schedule);
        Ok(())
    }

    /// Runs until the machine quiesces, halts or exhausts its step budget. The caller
    /// brackets the run with the strategy's `begin_execution` / `end_execution` (see
    /// [`Scheduler`]). A machine runs once; [`Machine::reset`] it (or build a new one)
    /// for the next execution.
    pub fn run(&mut self, strategy: &mut dyn Scheduler) -> RunResult {
        assert!(
            !self.ran,
            "a machine runs once; reset it or build a new one for the next execution"
        );
        self.ran = true;
        let footprints = strategy.wants_footprints();
        let sees_forced = strategy.sees_forced_decisions();
        let drains_eagerly = strategy.drains_eagerly();
        let strategy: NonNull<dyn Scheduler + '_> = NonNull::from(strategy);
        // SAFETY: only the lifetime is erased. The pointer lives in the state for the
        // duration of this call only (the guard clears it, also on unwinding), it is
        // the only way the strategy is reached meanwhile, and each use is one call of
        // `choose` (see `decide`), never two at once: the machine is single-threaded
        // and `choose` cannot reach the machine.
        let strategy: NonNull<dyn Scheduler> = unsafe { std::mem::transmute(strategy) };
        let state = self.state.clone();
        state.strategy.set(Some(strategy));
        state.strategy_sees_forced.set(sees_forced);
        state.strategy_drains_eagerly.set(drains_eagerly);
        state.mem.footprint.set_on(footprints);
        struct Clear<'a>(&'a State);
        impl Drop for Clear<'_> {
            fn drop(&mut self) {
                self.0.strategy.set(None);
                self.0.in_place.armed.set(None);
                self.0.mem.footprint.set_on(false);
            }
        }
        let clear = Clear(&state);
        let end = self.run_loop();
        if footprints {
            // The last step's footprint (it ran on to the end of the run).
            observe_step(&state);
        }
        drop(clear);
        self.finish(end)
    }

    fn run_loop(&mut self) -> RunEnd {
        let state = self.state.clone();
        let mut decided = None;
        loop {
            let choice = match decided.take() {
                Some(choice) => choice,
                None => match self.next_decision(&state) {
                    Ok(choice) => choice,
                    Err(end) => return end,
                },
            };
            let (action, context) = {
                let exec = state.exec.borrow();
                (exec.views[choice].action, exec.run_contexts[choice])
            };
            self.apply(&state, action, context);
            match state.in_place.exit.take() {
                None | Some(InPlaceExit::Applied) => state.step.set(state.step.get() + 1),
                Some(InPlaceExit::Undecided) => {}
                Some(InPlaceExit::Decided(choice)) => decided = Some(choice),
                Some(InPlaceExit::Ended) => {
                    return state
                        .in_place
                        .ended
                        .borrow_mut()
                        .take()
                        .expect("stepping in place ended the run with an end");
                }
            }
        }
    }

    /// The top of the executor loop: everything up to and including the next decision,
    /// or how the run ends.
    fn next_decision(&mut self, state: &State) -> Result<usize, RunEnd> {
        {
            if state.halted.get() {
                return Err(RunEnd::Halted);
            }
            // A mismatch found at an inline decision point (an allocation), which is the
            // last decision recorded.
            let mismatch = state.decisions.borrow_mut().mismatch.take();
            if let Some(reason) = mismatch {
                let decision = state
                    .decisions
                    .borrow()
                    .schedule
                    .decisions
                    .saturating_sub(1);
                return Err(RunEnd::ReplayMismatch {
                    decision,
                    step: state.step.get(),
                    reason,
                });
            }
            // Starting a task runs its code up to its first op (`start_if_new`), and that
            // code may create threads or finish at once, leaving its CPU idle again with
            // work queued: until every CPU that can have a task has one that waits at an
            // op, start and dispatch again (each round starts a task or ends the loop,
            // and tasks are bounded by `TASKS_MAX`).
            loop {
                self.start_queued_spawns();
                self.dispatch_idle_cpus(state);
                if state.halted.get() {
                    // A task that just started may have run into a fatal report.
                    return Err(RunEnd::Halted);
                }
                if state.spawn_queue.borrow().is_empty() && !dispatch_would_act(state) {
                    break;
                }
            }
            let listed = if list_alone(state) {
                Ok(())
            } else {
                collect_actions(state)
            };
            if let Err(SelfDeadlock {
                cpu,
                context,
                lock,
                holder,
            }) = listed
            {
                self.report_self_deadlock(cpu, context, lock, holder);
                return Err(RunEnd::Halted);
            }
            if state.exec.borrow().views.is_empty() {
                return Err(self.quiesce());
            }
            if state.step.get() >= state.config.max_steps {
                self.report_step_budget();
                return Err(RunEnd::StepLimit);
            }
            decide(state)
        }
    }
}

/// A CPU spinning on a lock that another context of the same CPU holds.
struct SelfDeadlock {
    cpu: CpuId,
    context: ContextId,
    lock: crate::ids::LockId,
    holder: ContextId,
}

/// Picks an action: from the replayed schedule if there is one, else the strategy.
fn decide(state: &State) -> Result<usize, RunEnd> {
    let index = {
        let log = state.decisions.borrow();
        if log.replay.is_some() {
            drop(log);
            return decide_replayed(state);
        }
        log.schedule.decisions
    };
    if state.mem.footprint.is_on() {
        observe_step(state);
    }
    let exec = state.exec.borrow();
    // A forced decision (one enabled action) is recorded like any other — the schedule
    // and its fingerprints do not change — but a strategy that would only answer 0 is
    // not asked (see `Scheduler::sees_forced_decisions`).
    let choice = if exec.views.len() == 1 && !state.strategy_sees_forced.get() {
        0
    } else {
        ask_strategy(state, &exec, index)
    };
    // Without a replay there is no window to check (`DecisionLog::record` would only
    // record the decision).
    state
        .decisions
        .borrow_mut()
        .schedule
        .record(choice as u32, exec.fingerprint);
    Ok(choice)
}

/// Hands one decision to the strategy of the running machine.
#[inline]
fn strategy_choose(state: &State, view: &DecisionView<'_>) -> usize {
    let mut strategy = state
        .strategy
        .get()
        .expect("decisions are made while `Machine::run` runs");
    // SAFETY: see `Machine::run`: the strategy outlives the run and this is the only
    // reference to it while `choose` runs; the strategy cannot reach the machine (so
    // not a decision log borrowed meanwhile).
    unsafe { strategy.as_mut() }.choose(view)
}

/// The strategy's choice among the listed actions (decision number `index`).
#[inline]
fn ask_strategy(state: &State, exec: &Exec, index: u64) -> usize {
    let view = DecisionView {
        decision: index,
        step: state.step.get(),
        actions: &exec.views,
        last_cpu: exec.last_cpu,
        model: state.config.model,
    };
    let choice = strategy_choose(state, &view);
    assert!(
        choice < exec.views.len(),
        "strategy chose a disabled action"
    );
    choice
}

/// Shows the strategy the footprint of the step its last decision chose (what happened
/// since; nothing before the first decision).
#[cold]
fn observe_step(state: &State) {
    let footprint = state.mem.footprint.take();
    if !state.mem.footprint.mark_decided() {
        return;
    }
    let mut strategy = state
        .strategy
        .get()
        .expect("decisions are made while `Machine::run` runs");
    // SAFETY: as in `decide`: one call at a time, while `Machine::run` runs.
    unsafe { strategy.as_mut() }.observe(footprint);
}

/// [`decide`] while a schedule is replayed: its choice, checked.
#[inline(never)]
fn decide_replayed(state: &State) -> Result<usize, RunEnd> {
    let exec = state.exec.borrow();
    let mut log = state.decisions.borrow_mut();
    let log = &mut *log;
    let index = log.schedule.decisions;
    let replay = log.replay.as_ref().expect("a schedule is replayed");
    let choice = replay.choice_at(&mut log.replay_cursor, index) as usize;
    let reason = if index >= replay.decisions {
        Some("the run goes on after the schedule's last decision".to_string())
    } else if choice >= exec.views.len() {
        Some(format!(
            "the schedule chooses action {choice}, but only {} are enabled",
            exec.views.len()
        ))
    } else {
        None
    };
    // `record` runs only when the choice itself is acceptable.
    if let Some(reason) = reason.or_else(|| log.record(choice as u32, exec.fingerprint)) {
        return Err(RunEnd::ReplayMismatch {
            decision: index,
            step: state.step.get(),
            reason,
        });
    }
    Ok(choice)
}

/// A 16-bit summary of the enabled set, for replay validation. `collect_actions`
/// computes it as it lists the actions; this is the definition it must agree with.
fn fingerprint(views: &[ActionView]) -> u16 {
    let mut h = TraceHasher::default();
    for view in views {
        hash_action(&mut h, view.action);
    }
    finish_fingerprint(&h)
}

/// One action's part of the enabled set's fingerprint. Fixed forever: recorded
/// schedules carry fingerprints.
#[inline(always)]
fn hash_action(h: &mut TraceHasher, action: Action) {
    match action {
        Action::Drain { cpu, word } => {
            h.write_u64(1);
            h.write_u64(cpu.0 as u64);
            h.write_u64(word.0 as u64);
        }
        Action::Run { cpu } => {
            h.write_u64(2);
            h.write_u64(cpu.0 as u64);
        }
        Action::Interrupt { event, cpu } => {
            h.write_u64(3);
            h.write_u64(event.0 as u64);
            h.write_u64(cpu.0 as u64);
        }
    }
}

/// Folds the hash of an enabled set to its 16-bit fingerprint.
#[inline(always)]
fn finish_fingerprint(h: &TraceHasher) -> u16 {
    let x = h.finish();
    (x ^ (x >> 16) ^ (x >> 32) ^ (x >> 48)) as u16
}

impl Machine {
    /// Gives every CPU without a task the next task of its runqueue, or steals an
    /// unpinned one from another CPU's runqueue (lowest CPU first): deterministic, and
    /// not a scheduling decision.
    fn dispatch_idle_cpus(&mut self, state: &State) {
        let any_idle = state
            .cpus
            .borrow()
            .iter()
            .any(|c| c.task.is_none() && c.interrupt.is_none());
        if !any_idle {
            return;
        }
        for c in 0..state.config.cpus {
            let cpu = CpuId(c as u16);
            let needs_task = {
                let cpus = state.cpus.borrow();
                cpus[c].task.is_none() && cpus[c].interrupt.is_none()
            };
            if !needs_task {
                continue;
            }
            let own = state.cpus.borrow_mut()[c].runqueue.pop_front();
            let next = own.or_else(|| self.steal(cpu));
            let Some(task) = next else {
                continue;
            };
            state.mem.footprint.global();
            let (ready_at, irqs) = {
                let mut tasks = state.tasks.borrow_mut();
                let t = &mut tasks[task.index()];
                t.status = TaskStatus::OnCpu;
                t.cpu = cpu;
                (t.ready_at_ns, t.irqs_enabled)
            };
            {
                let mut cpus = state.cpus.borrow_mut();
                cpus[c].task = Some(task);
                cpus[c].irqs_enabled = irqs;
            }
            state.catch_up(cpu, ready_at);
            state.charge(cpu, state.config.costs.context_switch_ns);
            state.record(cpu, None, TraceEvent::Switch { to: Some(task) });
            self.start_if_new(cpu, task);
        }
    }

    /// Runs a new task's code up to its first op right away: what it does before its
    /// first primitive touches nothing shared, so it needs no step (and exhaustive
    /// search then has no start steps to interleave).
    fn start_if_new(&mut self, cpu: CpuId, task: TaskId) {
        let context = self.state.tasks.borrow()[task.index()].context;
        let is_new = matches!(
            self.state.contexts.borrow()[context.index()].pending,
            Op::Start
        );
        if is_new {
            self.poll(cpu, context);
        }
    }

    fn steal(&self, cpu: CpuId) -> Option<TaskId> {
        let state = &self.state;
        let mut cpus = state.cpus.borrow_mut();
        let tasks = state.tasks.borrow();
        for other in 0..cpus.len() {
            if other == cpu.index() {
                continue;
            }
            let queue = &mut cpus[other].runqueue;
            if let Some(position) = queue.iter().position(|t| tasks[t.index()].pinned.is_none()) {
                return queue.remove(position);
            }
        }
        None
    }
}

/// Fills `Exec::views` with the enabled actions in canonical order: drains (CPU order,
/// oldest first), then runs starting from the CPU that ran last, then interrupts (event
/// order, CPU order) — each as the strategy sees it (the op a run would perform, the
/// time the action would happen at) — `Exec::run_contexts` with the context of each
/// run, and `Exec::fingerprint` with the enabled set's fingerprint. Changes nothing
/// else: a CPU found in self-deadlock is returned for the caller to report.
///
/// This runs before every decision, so it borrows each part of the state once and
/// hashes each action into the fingerprint as it lists it, instead of a second pass
/// over the list (the same values in the same order: see [`fingerprint`]).
fn collect_actions(state: &State) -> Result<(), SelfDeadlock> {
    let mut exec = state.exec.borrow_mut();
    let exec = &mut *exec;
    exec.views.clear();
    exec.run_contexts.clear();
    let mut hasher = TraceHasher::default();
    let cpus_count = state.config.cpus;
    let cpus = state.cpus.borrow();
    match state.config.model {
        crate::mem::MemoryModel::Sc => {}
        crate::mem::MemoryModel::Tso => {
            // Only the oldest store of each buffer may drain: no list to build.
            for (c, cpu_data) in cpus.iter().enumerate() {
                let cpu = CpuId(c as u16);
                if let Some(word) = state.mem.oldest_buffered(cpu) {
                    push_drain(exec, &mut hasher, cpu, word, cpu_data.clock_ns);
                }
            }
        }
        crate::mem::MemoryModel::Pso => {
            for (c, cpu_data) in cpus.iter().enumerate() {
                exec.scratch.clear();
                state.mem.drainable(CpuId(c as u16), &mut exec.scratch);
                for index in 0..exec.scratch.len() {
                    let (cpu, word) = exec.scratch[index];
                    push_drain(exec, &mut hasher, cpu, word, cpu_data.clock_ns);
                }
            }
        }
    }
    // One bit per CPU (CPUS_MAX is 64): spinning on a lock; and spinning in
    // spin_lock_irq/_irqsave, which happens with interrupts already disabled.
    const _: () = assert!(crate::limits::CPUS_MAX <= 64);
    let mut waiting = 0u64;
    let mut masked = 0u64;
    {
        let tasks = state.tasks.borrow();
        let contexts = state.contexts.borrow();
        let mut index = exec.last_cpu.index();
        for _ in 0..cpus_count {
            let cpu = CpuId(index as u16);
            let cpu_data = &cpus[index];
            index += 1;
            if index == cpus_count {
                index = 0;
            }
            let top = match cpu_data.interrupt {
                Some(context) => Some(context),
                None => cpu_data.task.map(|task| tasks[task.index()].context),
            };
            let Some(context) = top else {
                continue;
            };
            let op = contexts[context.index()].pending;
            let enabled = match op {
                Op::Lock { lock, mode, .. } => match state.lock_available(cpu, lock, mode) {
                    Ok(available) => available,
                    Err(holder) => {
                        return Err(SelfDeadlock {
                            cpu,
                            context,
                            lock,
                            holder,
                        });
                    }
                },
                _ => true,
            };
            if enabled {
                push_action(
                    exec,
                    &mut hasher,
                    Action::Run { cpu },
                    Some(op),
                    cpu_data.clock_ns,
                    context,
                );
            } else {
                waiting |= 1 << cpu.index();
                let irqs_off = matches!(
                    op,
                    Op::Lock {
                        irq: IrqMode::DisableEnable | IrqMode::SaveRestore { .. },
                        ..
                    }
                );
                masked |= (irqs_off as u64) << cpu.index();
            }
        }
    }
    let events = state.events.borrow();
    for event in events.iter() {
        for (c, target) in cpus.iter().enumerate() {
            if event.cpu.is_some_and(|p| p.index() != c)
                || !target.irqs_enabled
                || masked & (1 << c) != 0
                || target.interrupt.is_some()
            {
                continue;
            }
            let idle = target.task.is_none();
            if idle || waiting & (1 << c) != 0 || target.clock_ns >= event.time_ns {
                let action = Action::Interrupt {
                    event: event.id,
                    cpu: CpuId(c as u16),
                };
                push_action(
                    exec,
                    &mut hasher,
                    action,
                    None,
                    event.time_ns.max(target.clock_ns),
                    NO_CONTEXT,
                );
            }
        }
    }
    exec.fingerprint = finish_fingerprint(&hasher);
    #[cfg(debug_assertions)]
    assert_eq!(exec.fingerprint, fingerprint(&exec.views));
    Ok(())
}

/// Lists the enabled actions when only one context can act, without the walk of
/// [`collect_actions`]: no other CPU has a context, a queued task or a buffered store, no
/// interrupt or timer is pending, the context's CPU has no task waiting that an idle CPU
/// could steal, and its op is not a lock acquisition (which may spin). Then the list is
/// that CPU's drainable stores and the context's run — the list, contexts and fingerprint
/// `collect_actions` gives (debug builds check it), with nothing for
/// `dispatch_idle_cpus` to do. Returns whether it listed them (else the caller walks).
///
/// This is what makes a forced decision cheap: at `access` granularity with one CPU at
/// work, most decisions have one enabled action, and [`decide`] then does not ask a
/// strategy that would only answer 0.
fn list_alone(state: &State) -> bool {
    if !state.events.borrow().is_empty() {
        return false;
    }
    let cpus = state.cpus.borrow();
    let mut alone = None;
    {
        let tasks = state.tasks.borrow();
        for (c, cpu_data) in cpus.iter().enumerate() {
            let cpu = CpuId(c as u16);
            let top = match cpu_data.interrupt {
                Some(context) => Some(context),
                None => cpu_data.task.map(|task| tasks[task.index()].context),
            };
            match top {
                Some(_) if alone.is_some() => return false,
                Some(context) => alone = Some((cpu, context)),
                None => {
                    if !cpu_data.runqueue.is_empty() || state.mem.oldest_buffered(cpu).is_some() {
                        return false;
                    }
                }
            }
        }
    }
    let Some((cpu, context)) = alone else {
        return false;
    };
    if cpus.len() > 1 && !cpus[cpu.index()].runqueue.is_empty() {
        return false;
    }
    let op = state.contexts.borrow()[context.index()].pending;
    if matches!(op, Op::Lock { .. }) {
        return false;
    }
    let clock_ns = cpus[cpu.index()].clock_ns;
    drop(cpus);
    {
        let mut exec = state.exec.borrow_mut();
        let exec = &mut *exec;
        exec.views.clear();
        exec.run_contexts.clear();
        let mut hasher = TraceHasher::default();
        match state.config.model {
            crate::mem::MemoryModel::Sc => {}
            crate::mem::MemoryModel::Tso => {
                if let Some(word) = state.mem.oldest_buffered(cpu) {
                    push_drain(exec, &mut hasher, cpu, word, clock_ns);
                }
            }
            crate::mem::MemoryModel::Pso => {
                exec.scratch.clear();
                state.mem.drainable(cpu, &mut exec.scratch);
                for index in 0..exec.scratch.len() {
                    let (cpu, word) = exec.scratch[index];
                    push_drain(exec, &mut hasher, cpu, word, clock_ns);
                }
            }
        }
        push_action(
            exec,
            &mut hasher,
            Action::Run { cpu },
            Some(op),
            clock_ns,
            context,
        );
        exec.fingerprint = finish_fingerprint(&hasher);
    }
    #[cfg(debug_assertions)]
    {
        assert!(
            !dispatch_would_act(state),
            "a CPU alone, yet dispatch would act"
        );
        assert_listed_as_by_the_walk(state, "listing alone differs from the walk");
    }
    true
}

/// The context of an action that is not a `Run` (in `Exec::run_contexts`).
const NO_CONTEXT: ContextId = ContextId(u32::MAX);

/// Lists one enabled action and hashes it into the enabled set's fingerprint.
#[inline(always)]
fn push_action(
    exec: &mut Exec,
    hasher: &mut TraceHasher,
    action: Action,
    pending: Option<Op>,
    time_ns: u64,
    context: ContextId,
) {
    hash_action(hasher, action);
    exec.views.push(ActionView {
        action,
        pending,
        time_ns,
    });
    exec.run_contexts.push(context);
}

/// Lists the drain of `cpu`'s buffered store to `word` (no context runs it).
#[inline(always)]
fn push_drain(exec: &mut Exec, hasher: &mut TraceHasher, cpu: CpuId, word: Word, time_ns: u64) {
    push_action(
        exec,
        hasher,
        Action::Drain { cpu, word },
        None,
        time_ns,
        NO_CONTEXT,
    );
}

/// Whether `dispatch_idle_cpus` would give some idle CPU a task.
fn dispatch_would_act(state: &State) -> bool {
    let cpus = state.cpus.borrow();
    let tasks = state.tasks.borrow();
    cpus.iter().enumerate().any(|(c, cpu)| {
        cpu.task.is_none()
            && cpu.interrupt.is_none()
            && (!cpu.runqueue.is_empty()
                || cpus.iter().enumerate().any(|(other, o)| {
                    other != c && o.runqueue.iter().any(|t| tasks[t.index()].pinned.is_none())
                }))
    })
}

/// Makes the oldest buffered store of `cpu` to `word` visible.
#[inline(always)]
fn apply_drain(state: &State, cpu: CpuId, word: Word) {
    let value = state.mem.drain_one(cpu, word).unwrap_or(0);
    let task = state.cpus.borrow()[cpu.index()].task;
    state.record_as(cpu, task, false, TraceEvent::Drain { word, value });
}

/// Stepping in place. While the executor polls a context (after performing its op) the
/// context runs to its next primitive, which posts an op. Instead of returning to the
/// executor loop — unwinding every future of the context's call chain, only to poll
/// them all again down to the same point when the context is chosen again — the posting
/// primitive runs the executor loop itself, the same steps in the same order: it
/// completes the step in progress, and while the decisions made are to drain a store
/// buffer or to step this same context, it applies them right there; stepping this
/// context resumes its code with the op's result, as if the executor had polled it. As
/// soon as anything else is due — another context to step, an interrupt to deliver, a
/// task to start, the run to end, the context to sleep — it hands over: the context is
/// suspended as if it had just posted its op, and the executor loop goes on from where
/// stepping in place got to ([`InPlaceExit`]). Nothing but the host's call stack differs
/// from stepping in the loop: the same decisions, records and effects, in the same order.
pub(crate) fn step_in_place(state: &State, op: Op) -> Poll<u64> {
    let (cpu, context) = state
        .in_place
        .armed
        .get()
        .expect("stepping in place only while armed");
    // What the executor does when the context's poll ends with `op` posted, and at the
    // end of the step.
    state.settle();
    state.observe_if_watching();
    let (task, in_interrupt) = {
        let mut contexts = state.contexts.borrow_mut();
        let c = &mut contexts[context.index()];
        c.pending = op;
        (c.task(), c.in_interrupt())
    };
    state.step.set(state.step.get() + 1);
    if step_alone(state, cpu, context, op) {
        return perform_in_place(state, cpu, context, op, task, in_interrupt);
    }
    // Whether `Exec` lists the enabled actions as they are now (see `relist_after_drain`).
    let mut listed = false;
    loop {
        // The top of the loop, if it has nothing to do: otherwise the loop does it.
        let quiet = if listed {
            // Only a drain happened since the top of the loop found it quiet: that
            // changes none of what the other checks look at.
            !state.exec.borrow().views.is_empty() && state.step.get() < state.config.max_steps
        } else {
            !state.halted.get()
                && state.decisions.borrow().mismatch.is_none()
                && state.spawn_queue.borrow().is_empty()
                && (list_alone(state)
                    || (!dispatch_would_act(state) && collect_actions(state).is_ok()))
                && !state.exec.borrow().views.is_empty()
                && state.step.get() < state.config.max_steps
        };
        if !quiet {
            return hand_over(state, InPlaceExit::Undecided);
        }
        let choice = match decide(state) {
            Ok(choice) => choice,
            Err(end) => {
                *state.in_place.ended.borrow_mut() = Some(end);
                return hand_over(state, InPlaceExit::Ended);
            }
        };
        let (action, run_context) = {
            let exec = state.exec.borrow();
            (exec.views[choice].action, exec.run_contexts[choice])
        };
        match action {
            Action::Drain { cpu, word } => {
                apply_drain(state, cpu, word);
                state.step.set(state.step.get() + 1);
                // A lock's release becoming visible may let a spinner in: list again.
                listed = word.released_lock().is_none() && relist_after_drain(state, choice, cpu);
            }
            Action::Run { cpu: run_cpu } if run_context == context => {
                debug_assert_eq!(run_cpu, cpu);
                return perform_in_place(state, cpu, context, op, task, in_interrupt);
            }
            _ => return hand_over(state, InPlaceExit::Decided(choice)),
        }
    }
}

/// The step of the context stepping in place, chosen: performs its op; the context goes
/// on with the result, or hands over if the op suspended it.
#[inline(always)]
fn perform_in_place(
    state: &State,
    cpu: CpuId,
    context: ContextId,
    op: Op,
    task: Option<TaskId>,
    in_interrupt: bool,
) -> Poll<u64> {
    state.exec.borrow_mut().last_cpu = cpu;
    state.current.set(Current { cpu, context });
    match state.perform(cpu, context, op) {
        Performed::Value(value) => {
            let event = TraceEvent::Op { op, result: value };
            state.record_as(cpu, task, in_interrupt, event);
            state.result.set(value);
            // The executor would poll the context now: it goes on.
            Poll::Ready(value)
        }
        Performed::Sleep => {
            state.record(cpu, Some(context), TraceEvent::Op { op, result: 0 });
            state.record(cpu, Some(context), TraceEvent::Sleep);
            hand_over(state, InPlaceExit::Applied)
        }
        Performed::Yielded => {
            state.record(cpu, Some(context), TraceEvent::Op { op, result: 0 });
            hand_over(state, InPlaceExit::Applied)
        }
        Performed::Halt => {
            state.halt();
            hand_over(state, InPlaceExit::Applied)
        }
    }
}

/// The decisions of a context stepping in place while it is alone, taken without
/// listing. When its CPU is the only one at work — no other CPU has a context, a queued
/// task or a buffered store, no interrupt or timer is pending, its own CPU has no task
/// waiting that an idle CPU could steal, and its op is not a lock acquisition — the
/// enabled set is known without the walk of [`collect_actions`]: the drain of its CPU's
/// oldest buffered store if there is one (`tso`), then its run. Each decision is
/// recorded as the top of the loop would record it (the choice, the fingerprint of that
/// set), and the strategy is asked, with the view it would get, unless it has said what
/// it would answer: 0 at a forced decision (one action:
/// [`Scheduler::sees_forced_decisions`]) or at a drain ([`Scheduler::drains_eagerly`]).
/// Drains chosen are applied as the loop applies them; when the run is chosen, returns
/// `true` and the caller performs the op. Schedules, fingerprints and trace hashes do
/// not change (debug builds compare every set with the walk).
///
/// Returns `false` — the caller lists as usual — when a condition fails, under `pso`
/// with a store buffered (several drains may be enabled), after a lock release drains
/// (the loop lists again then), while a schedule is replayed (its checks read the listed
/// set) and while a strategy records footprints (it observes each step first).
#[inline]
fn step_alone(state: &State, cpu: CpuId, context: ContextId, op: Op) -> bool {
    // Only the debug builds' cross-check reads the context the walk would run.
    let _ = context;
    if matches!(op, Op::Lock { .. }) || state.mem.footprint.is_on() || !alone(state, cpu) {
        return false;
    }
    loop {
        if state.halted.get() || state.step.get() >= state.config.max_steps {
            return false;
        }
        let oldest = state.mem.oldest_buffered(cpu);
        if oldest.is_some() && state.config.model != crate::mem::MemoryModel::Tso {
            return false;
        }
        let mut log = state.decisions.borrow_mut();
        if log.replay.is_some() || log.mismatch.is_some() {
            return false;
        }
        let mut hasher = TraceHasher::default();
        if let Some(word) = oldest {
            hash_action(&mut hasher, Action::Drain { cpu, word });
        }
        hash_action(&mut hasher, Action::Run { cpu });
        let fingerprint = finish_fingerprint(&hasher);
        #[cfg(debug_assertions)]
        {
            assert!(
                !dispatch_would_act(state),
                "a CPU alone, yet dispatch would act"
            );
            assert!(collect_actions(state).is_ok());
            let exec = state.exec.borrow();
            let (actions, count) = actions_alone(state, cpu, op, oldest);
            assert_eq!(&exec.views[..], &actions[..count], "the set alone differs");
            assert_eq!(exec.run_contexts[count - 1], context);
            assert_eq!(exec.fingerprint, fingerprint);
        }
        let asked = match oldest {
            None => state.strategy_sees_forced.get(),
            Some(_) => !state.strategy_drains_eagerly.get(),
        };
        let choice = if asked {
            ask_alone(state, cpu, op, oldest, log.schedule.decisions)
        } else {
            0
        };
        log.schedule.record(choice as u32, fingerprint);
        drop(log);
        match oldest {
            Some(word) if choice == 0 => {
                apply_drain(state, cpu, word);
                state.step.set(state.step.get() + 1);
                if word.released_lock().is_some() {
                    return false;
                }
            }
            _ => return true,
        }
    }
}

/// The enabled set while `cpu` is alone (see [`step_alone`]): the drain of `oldest`, if
/// any, then the run of `op` (the array's first `count` entries).
fn actions_alone(
    state: &State,
    cpu: CpuId,
    op: Op,
    oldest: Option<Word>,
) -> ([ActionView; 2], usize) {
    let time_ns = state.cpus.borrow()[cpu.index()].clock_ns;
    let run = ActionView {
        action: Action::Run { cpu },
        pending: Some(op),
        time_ns,
    };
    match oldest {
        Some(word) => {
            let drain = ActionView {
                action: Action::Drain { cpu, word },
                pending: None,
                time_ns,
            };
            ([drain, run], 2)
        }
        None => ([run, run], 1),
    }
}

/// The strategy's choice (decision number `index`) while `cpu` is alone.
#[inline(never)]
fn ask_alone(state: &State, cpu: CpuId, op: Op, oldest: Option<Word>, index: u64) -> usize {
    let (actions, count) = actions_alone(state, cpu, op, oldest);
    let view = DecisionView {
        decision: index,
        step: state.step.get(),
        actions: &actions[..count],
        last_cpu: state.exec.borrow().last_cpu,
        model: state.config.model,
    };
    let choice = strategy_choose(state, &view);
    assert!(choice < count, "strategy chose a disabled action");
    choice
}

/// Whether `cpu` is the only CPU at work (see [`step_alone`]), its own store buffer
/// aside.
#[inline]
fn alone(state: &State, cpu: CpuId) -> bool {
    if !state.spawn_queue.borrow().is_empty() || !state.events.borrow().is_empty() {
        return false;
    }
    let cpus = state.cpus.borrow();
    if cpus.len() == 1 {
        return true;
    }
    cpus[cpu.index()].runqueue.is_empty()
        && cpus.iter().all(|other| {
            other.id == cpu
                || (other.task.is_none()
                    && other.interrupt.is_none()
                    && other.runqueue.is_empty()
                    && state.mem.oldest_buffered(other.id).is_none())
        })
}

/// After the drain `Exec::views[position]` of `cpu`'s store buffer, updates the list of
/// enabled actions to what `collect_actions` would list now, if that is cheap: under tso
/// a drain of a word (not a lock's release) changes nothing but that buffer — no clock,
/// task, lock or event — so the
/// only action that changes is that buffer's drain (its next oldest store, or none).
/// Returns whether it did (under other models the caller lists them again).
fn relist_after_drain(state: &State, position: usize, cpu: CpuId) -> bool {
    if state.config.model != crate::mem::MemoryModel::Tso {
        return false;
    }
    {
        let mut exec = state.exec.borrow_mut();
        let exec = &mut *exec;
        match state.mem.oldest_buffered(cpu) {
            Some(word) => exec.views[position].action = Action::Drain { cpu, word },
            None => {
                exec.views.remove(position);
                exec.run_contexts.remove(position);
            }
        }
        exec.fingerprint = fingerprint(&exec.views);
    }
    #[cfg(debug_assertions)]
    {
        assert_listed_as_by_the_walk(state, "the drain changed another action");
    }
    true
}

/// Debug builds' cross-check of a shortcut: the enabled actions, their contexts and
/// fingerprint listed without the walk must be exactly what `collect_actions` lists.
#[cfg(debug_assertions)]
fn assert_listed_as_by_the_walk(state: &State, what: &str) {
    let (views, run_contexts, fingerprint) = {
        let exec = state.exec.borrow();
        (
            exec.views.clone(),
            exec.run_contexts.clone(),
            exec.fingerprint,
        )
    };
    assert!(collect_actions(state).is_ok());
    let exec = state.exec.borrow();
    assert_eq!(views, exec.views, "{what}");
    assert_eq!(run_contexts, exec.run_contexts, "{what}");
    assert_eq!(fingerprint, exec.fingerprint, "{what}");
}

/// Suspends the context stepping in place and lets the executor loop go on.
fn hand_over(state: &State, exit: InPlaceExit) -> Poll<u64> {
    state.in_place.armed.set(None);
    state.in_place.exit.set(Some(exit));
    Poll::Pending
}

impl Machine {
    /// The step budget ran out: a report of its own, not a livelock — the machine cannot
    /// tell a run that needs more steps from one that would never end.
    #[cold]
    fn report_step_budget(&self) {
        let budget = self.state.config.max_steps;
        self.state.report_at(
            ReportKind::StepBudget,
            None,
            None,
            format!("the step budget of {budget} steps ran out before the run ended"),
            vec![format!(
                "a run is stopped at its step budget, not judged (this is not a livelock \
                 report): to let it go on, raise the budget above {budget} with a \
                 `max steps N` line in the scenario's header"
            )],
        );
    }

    fn report_self_deadlock(
        &self,
        cpu: CpuId,
        context: ContextId,
        lock: crate::ids::LockId,
        holder: ContextId,
    ) {
        let state = &self.state;
        let name = state.locks.borrow().name(lock);
        let (waiter, owner) = {
            let contexts = state.contexts.borrow();
            (
                describe_context(&contexts[context.index()]),
                describe_context(&contexts[holder.index()]),
            )
        };
        state.current.set(Current { cpu, context });
        if holder == context {
            state.report(
                ReportKind::Deadlock,
                format!("recursive acquisition of {name}: {waiter} already holds it"),
                state.lock_holders(),
            );
            return;
        }
        let mut details = vec![format!(
            "{waiter} spins on {name}, held by {owner} on the same CPU"
        )];
        details.extend(state.lock_holders());
        state.report(
            ReportKind::Deadlock,
            format!("self-deadlock on {cpu}: {waiter} waits for {name}, which {owner} holds and cannot release until the waiter returns"),
            details,
        );
    }

    /// Applies `action`; `context` is the context a `Run` steps (as collected).
    fn apply(&mut self, state: &State, action: Action, context: ContextId) {
        match action {
            Action::Drain { cpu, word } => apply_drain(state, cpu, word),
            Action::Run { cpu } => {
                state.exec.borrow_mut().last_cpu = cpu;
                self.run_cpu(state, cpu, context);
            }
            Action::Interrupt { event, cpu } => self.deliver(event, cpu),
        }
    }

    fn run_cpu(&mut self, state: &State, cpu: CpuId, context: ContextId) {
        debug_assert_eq!(
            top_context(&state.cpus.borrow()[cpu.index()], state),
            Some(context),
            "Run is only enabled with a context, the one collected"
        );
        let op = state.contexts.borrow()[context.index()].pending;
        state.current.set(Current { cpu, context });
        let performed = state.perform(cpu, context, op);
        match performed {
            Performed::Value(value) => {
                if !matches!(op, Op::Start) {
                    state.record(cpu, Some(context), TraceEvent::Op { op, result: value });
                }
                state.result.set(value);
                state.in_place.armed.set(Some((cpu, context)));
                self.poll(cpu, context);
                state.in_place.armed.set(None);
            }
            Performed::Sleep => {
                state.record(cpu, Some(context), TraceEvent::Op { op, result: 0 });
                state.record(cpu, Some(context), TraceEvent::Sleep);
            }
            Performed::Yielded => {
                state.record(cpu, Some(context), TraceEvent::Op { op, result: 0 });
            }
            Performed::Halt => state.halt(),
        }
    }

    /// Runs a context's code from its last op to its next one.
    fn poll(&mut self, cpu: CpuId, context: ContextId) {
        let state = &self.state;
        state.current.set(Current { cpu, context });
        let mut future = self.futures[context.index()]
            .take()
            .expect("a context's future is present while it runs");
        let waker = noop_waker();
        let mut task_context = TaskContext::from_waker(&waker);
        let poll = future.as_mut().poll(&mut task_context);
        state.settle();
        state.observe_if_watching();
        match poll {
            Poll::Ready(()) => {
                assert!(
                    state.posted.take().is_none(),
                    "a finished context posted an op"
                );
                drop(future);
                self.exit_context(cpu, context);
            }
            Poll::Pending if state.in_place.exit.get().is_some() => {
                // Stepping in place handed over: the context is suspended and its pending
                // op set (see `step_in_place`).
                debug_assert!(state.posted.get().is_none());
                self.futures[context.index()] = Some(future);
            }
            Poll::Pending => {
                let op = state.posted.take().expect(
                    "kernel code awaited something that is not a sim primitive (it returned Pending without posting an op)",
                );
                state.contexts.borrow_mut()[context.index()].pending = op;
                self.futures[context.index()] = Some(future);
            }
        }
    }

    fn exit_context(&mut self, cpu: CpuId, context: ContextId) {
        let state = &self.state;
        // Not a global step by itself (footprints): what it changes besides the task's
        // state word (recorded as the store it is) — the task's status, its CPU's
        // current task and interrupt flag — is read only by steps that are global
        // (giving the CPU another task, wake-ups, signals, interrupt deliveries), and
        // cancelling a timer is global.
        state.record(cpu, Some(context), TraceEvent::Exit);
        let (kind, held) = {
            let mut contexts = state.contexts.borrow_mut();
            let c = &mut contexts[context.index()];
            c.finished = true;
            (c.kind, c.held.clone())
        };
        if !held.is_empty() {
            let locks = state.locks.borrow();
            let names: Vec<String> = held
                .iter()
                .map(|h| locks.name(h.lock).to_string())
                .collect();
            drop(locks);
            state.report(
                ReportKind::BadUnlock,
                format!("context exits holding {}", names.join(", ")),
                state.lock_holders(),
            );
        }
        match kind {
            ContextKind::Task(task) => {
                let (word, timer) = {
                    let mut tasks = state.tasks.borrow_mut();
                    let t = &mut tasks[task.index()];
                    t.status = TaskStatus::Exited;
                    (t.state_word, t.timer.take())
                };
                if let Some((event, _)) = timer {
                    state.cancel_event(event);
                }
                state.mem.store_sc(word, TaskState::Dead as u64);
                let mut cpus = state.cpus.borrow_mut();
                cpus[cpu.index()].task = None;
                cpus[cpu.index()].irqs_enabled = true;
            }
            ContextKind::Interrupt {
                saved_irqs_enabled, ..
            } => {
                let mut cpus = state.cpus.borrow_mut();
                cpus[cpu.index()].interrupt = None;
                cpus[cpu.index()].irqs_enabled = saved_irqs_enabled;
            }
        }
        // Contexts are not removed from the slab during a run: their ids stay stable in
        // traces and reports, and lock holders can still be described.
    }

    fn deliver(&mut self, event: EventId, cpu: CpuId) {
        let state = self.state.clone();
        state.mem.footprint.global();
        let pending = {
            let mut events = state.events.borrow_mut();
            let position = events
                .iter()
                .position(|e| e.id == event)
                .expect("event is pending");
            events.remove(position)
        };
        state.catch_up(cpu, pending.time_ns);
        state.charge(cpu, state.config.costs.interrupt_entry_ns);
        state.record(
            cpu,
            None,
            TraceEvent::Interrupt {
                event,
                label: pending.label,
            },
        );
        match pending.handler {
            Handler::Timeout(task) => {
                let current_timer = state.tasks.borrow()[task.index()].timer.map(|(e, _)| e);
                if current_timer == Some(event) {
                    state.try_to_wake_up(cpu, task, false);
                }
            }
            Handler::External(factory) => {
                let factory = factory.expect("an external event is delivered once");
                let (interrupted, saved) = {
                    let cpus = state.cpus.borrow();
                    (cpus[cpu.index()].task, cpus[cpu.index()].irqs_enabled)
                };
                let context = self.new_context(
                    ContextKind::Interrupt {
                        cpu,
                        interrupted,
                        saved_irqs_enabled: saved,
                        label: pending.label,
                    },
                    factory(),
                );
                let mut cpus = state.cpus.borrow_mut();
                cpus[cpu.index()].interrupt = Some(context);
                cpus[cpu.index()].irqs_enabled = false;
            }
        }
    }

    /// Nothing is enabled: decide between completion, quiescence and deadlock.
    fn quiesce(&mut self) -> RunEnd {
        let state = &self.state;
        let mut spinning = Vec::new();
        {
            let cpus = state.cpus.borrow();
            for cpu in cpus.iter() {
                if let Some(context) = top_context(cpu, state) {
                    spinning.push((cpu.id, context));
                }
            }
        }
        let lock_sleepers: Vec<TaskId> = state
            .locks
            .borrow()
            .waiting_queues()
            .flat_map(|(_, queue)| queue.iter().map(|w| w.task))
            .collect();
        if !spinning.is_empty() || !lock_sleepers.is_empty() {
            // Lockdep validates an acquisition before it spins: let it see the ones that
            // will now spin forever (an ABBA deadlock is also an order inversion).
            for &(cpu, context) in &spinning {
                let pending = state.contexts.borrow()[context.index()].pending;
                if let Op::Lock { lock, .. } = pending {
                    state.current.set(Current { cpu, context });
                    state.lockdep_order(cpu, context, lock);
                }
            }
            let mut details = Vec::new();
            {
                let contexts = state.contexts.borrow();
                for (cpu, context) in &spinning {
                    let c = &contexts[context.index()];
                    details.push(format!(
                        "{cpu}: {} spins at {:?}",
                        describe_context(c),
                        c.pending
                    ));
                }
            }
            details.extend(state.lock_holders());
            let (cpu, task) = match spinning.first() {
                Some(&(cpu, context)) => {
                    (Some(cpu), state.contexts.borrow()[context.index()].task())
                }
                None => (None, lock_sleepers.first().copied()),
            };
            state.report_at(
                ReportKind::Deadlock,
                cpu,
                task,
                "no CPU can make progress: every remaining context waits for a lock".into(),
                details,
            );
            return RunEnd::Halted;
        }
        if !state.events.borrow().is_empty() {
            state.report_at(
                ReportKind::Deadlock,
                None,
                None,
                "interrupts are pending but every CPU that could take them has them disabled"
                    .into(),
                vec![],
            );
            return RunEnd::Halted;
        }
        let sleepers: Vec<TaskId> = state
            .tasks
            .borrow()
            .iter()
            .filter(|t| t.status == TaskStatus::Sleeping)
            .map(|t| t.id)
            .collect();
        if sleepers.is_empty() {
            RunEnd::Completed
        } else {
            RunEnd::Quiescent { sleepers }
        }
    }

    fn finish(&mut self, end: RunEnd) -> RunResult {
        if !matches!(end, RunEnd::ReplayMismatch { .. }) {
            if let Some(mismatch) = self.replay_end_mismatch() {
                return self.result(mismatch);
            }
        }
        let state = &self.state;
        for c in 0..state.config.cpus {
            state.mem.drain_all(CpuId(c as u16));
        }
        self.result(end)
    }

    /// At the end of a replay: whether the run and the schedule disagree about the
    /// number of decisions or about the last (partial) fingerprint window, or a mismatch
    /// found at an inline decision point was not reported yet.
    fn replay_end_mismatch(&self) -> Option<RunEnd> {
        let state = &self.state;
        let mut log = state.decisions.borrow_mut();
        let decisions = log.schedule.decisions;
        let (decision, reason) = if let Some(reason) = log.mismatch.take() {
            (decisions.saturating_sub(1), reason)
        } else {
            let replay = log.replay.as_ref()?;
            if replay.decisions != decisions {
                let reason = format!(
                    "the run ended after {decisions} decisions, the schedule has {}",
                    replay.decisions
                );
                (decisions, reason)
            } else if decisions > 0 && !Schedule::closes_window(decisions - 1) {
                let window = Schedule::window_of(decisions - 1);
                (decisions - 1, log.schedule.window_mismatch(replay, window)?)
            } else {
                return None;
            }
        };
        Some(RunEnd::ReplayMismatch {
            decision,
            step: state.step.get(),
            reason,
        })
    }

    fn result(&mut self, end: RunEnd) -> RunResult {
        let state = &self.state;
        // The run is over (a machine runs once until reset, which clears the log): move
        // the decisions out rather than copy them — a long run's deviations are most of
        // what it keeps.
        let schedule = {
            let mut log = state.decisions.borrow_mut();
            let kept = &mut log.schedule;
            Schedule {
                config_hash: kept.config_hash,
                decisions: kept.decisions,
                deviations: std::mem::take(&mut kept.deviations),
                fingerprints: std::mem::take(&mut kept.fingerprints),
            }
        };
        let mut reports = state.reports.borrow().clone();
        if !reports.is_empty() {
            let encoded = schedule.encode();
            for report in &mut reports {
                report.schedule = encoded.clone();
            }
        }
        let virtual_time_ns = state
            .cpus
            .borrow()
            .iter()
            .map(|c| c.clock_ns)
            .max()
            .unwrap_or(0);
        RunResult {
            end,
            steps: state.step.get(),
            virtual_time_ns,
            trace_hash: state.trace.borrow().hash_value(),
            schedule,
            reports,
        }
    }

    /// The trace records of the run (empty unless `keep_trace`).
    /// Every change of the machine's state the run made, for a step-through view
    /// (empty unless the run was watched: [`Config::observe`] with `keep_trace`). Call it
    /// before [`Machine::take_records`].
    pub fn observations(&self) -> Vec<crate::observe::Observation> {
        self.state.observations()
    }

    pub fn take_records(&self) -> Vec<Record> {
        self.state.trace.borrow_mut().take_records()
    }

    /// Per-step hashes (with `keep_trace`), for locating the first divergent step.
    pub fn step_hashes(&self) -> Vec<u64> {
        self.state.trace.borrow().step_hashes().to_vec()
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        // Futures hold `Cx` handles (Rc<State>); drop them first so the cycle-free
        // ownership stays simple and any Drop code in them still sees a live state.
        self.futures.clear();
    }
}

/// The context a CPU would step: its interrupt handler, else its task.
fn top_context(cpu: &crate::cpu::Cpu, state: &State) -> Option<ContextId> {
    if let Some(context) = cpu.interrupt {
        return Some(context);
    }
    cpu.task
        .map(|task| state.tasks.borrow()[task.index()].context)
}

fn noop_waker() -> Waker {
    const VTABLE: RawWakerVTable = RawWakerVTable::new(|_| RAW, |_| {}, |_| {}, |_| {});
    const RAW: RawWaker = RawWaker::new(std::ptr::null(), &VTABLE);
    // SAFETY: every vtable function ignores the (null) data pointer.
    unsafe { Waker::from_raw(RAW) }
}
