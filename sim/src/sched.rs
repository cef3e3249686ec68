//! Scheduling: creating a task (`clone()`), what `set_current_state()`, `schedule()`, `schedule_timeout()`, a
//! sleeping fault and a syscall boundary do to a task and its CPU — the task's state
//! word, taking a task off its CPU and putting it on a runqueue, the value a sleeper
//! resumes with, and causality (whatever reaches a task carries its time to it).
//!
//! The data — CPUs with their runqueues, tasks, contexts — is in [`crate::cpu`]; the
//! executor that picks a queued task up when a CPU goes idle is [`crate::machine`].
//! Like 2.6.22 built without `CONFIG_PREEMPT`, a task leaves its CPU only when it
//! sleeps, or at a syscall boundary when others wait for the CPU.

use crate::cpu::TaskStatus;
use crate::ids::{ContextId, CpuId, TaskId};
use crate::op::{Op, TaskState};
use crate::state::{LocalFuture, Performed, QueuedSpawn, State};

impl State {
    /// `clone()` of a thread: the new task's id now, the task itself at the executor's
    /// next decision (it becomes runnable like any freshly created task).
    pub fn queue_spawn(&self, name: String, pin: Option<CpuId>, future: LocalFuture) -> TaskId {
        self.mem.footprint.global();
        let mut queue = self.spawn_queue.borrow_mut();
        let id = TaskId((self.tasks.borrow().len() + queue.len()) as u32);
        let ready_at_ns = self.clock_ns(self.current.get().cpu);
        queue.push(QueuedSpawn {
            id,
            ready_at_ns,
            name,
            pin,
            future,
        });
        id
    }

    pub(crate) fn set_state_word(&self, task: TaskId, state: TaskState) {
        let word = self.tasks.borrow()[task.index()].state_word;
        self.mem.store_sc(word, state as u64);
    }

    pub(crate) fn set_state(
        &self,
        cpu: CpuId,
        context: ContextId,
        state: TaskState,
        with_barrier: bool,
    ) -> Performed {
        let Some(task) = self.contexts.borrow()[context.index()].task() else {
            return Performed::Value(0);
        };
        let word = self.tasks.borrow()[task.index()].state_word;
        if with_barrier {
            // set_mb(): an xchg on x86, a store followed by a full barrier elsewhere.
            self.mem.store(cpu, word, state as u64);
            self.mem.drain_all(cpu);
            self.charge(cpu, self.config.costs.atomic_ns);
        } else {
            self.mem.store(cpu, word, state as u64);
            self.charge(cpu, self.config.costs.store_ns);
        }
        Performed::Value(0)
    }

    /// `schedule()` / `schedule_timeout()`.
    pub(crate) fn schedule(
        &self,
        cpu: CpuId,
        context: ContextId,
        timeout_jiffies: Option<u64>,
    ) -> Performed {
        if !self.might_sleep(cpu, context, "schedule()") {
            return Performed::Halt;
        }
        let task = self.contexts.borrow()[context.index()]
            .task()
            .expect("interrupt contexts were refused by might_sleep");
        // schedule() takes the runqueue lock before it reads prev->state (2.6.22's
        // spin_lock_irq(&rq->lock); 6.18's rq_lock plus smp_mb__after_spinlock): a
        // full barrier on both architectures, whether or not the task then sleeps.
        self.mem.drain_all(cpu);
        let word = self.tasks.borrow()[task.index()].state_word;
        let state = TaskState::from_word(self.mem.load(cpu, word));
        let signal = self.signal_pending(task);
        let remaining = timeout_jiffies.unwrap_or(0);
        if state == TaskState::Running {
            return Performed::Value(remaining);
        }
        if state == TaskState::Interruptible && signal {
            self.mem.store(cpu, word, TaskState::Running as u64);
            return Performed::Value(remaining);
        }
        if let Some(jiffies) = timeout_jiffies {
            // expire = jiffies + timeout: the timer fires at that tick's boundary.
            let expire_jiffies = (self.clock_ns(cpu) / self.tick_ns).saturating_add(jiffies);
            let expiry = expire_jiffies.saturating_mul(self.tick_ns);
            self.arm_timer(cpu, task, expiry, "process_timeout");
            self.contexts.borrow_mut()[context.index()].resume_timeout = true;
        }
        self.charge(cpu, self.config.costs.context_switch_ns);
        self.deschedule(cpu, task);
        Performed::Sleep
    }

    pub(crate) fn sleep_for(&self, cpu: CpuId, context: ContextId, duration_ns: u64) -> Performed {
        if !self.might_sleep(cpu, context, "a sleeping fault") {
            return Performed::Halt;
        }
        let task = self.contexts.borrow()[context.index()]
            .task()
            .expect("interrupt contexts were refused by might_sleep");
        let expiry = self.clock_ns(cpu).saturating_add(duration_ns);
        self.set_state_word(task, TaskState::Uninterruptible);
        self.arm_timer(cpu, task, expiry, "sleep timer");
        self.deschedule(cpu, task);
        Performed::Sleep
    }

    pub(crate) fn resume(&self, cpu: CpuId, context: ContextId) -> Performed {
        let (value, from_timeout, task) = {
            let mut contexts = self.contexts.borrow_mut();
            let c = &mut contexts[context.index()];
            let from_timeout = std::mem::replace(&mut c.resume_timeout, false);
            (c.resume_value, from_timeout, c.task())
        };
        let Some(task) = task else {
            return Performed::Value(value);
        };
        let timer = self.tasks.borrow_mut()[task.index()].timer.take();
        if let Some((event, expiry_ns)) = timer {
            self.cancel_event(event);
            if from_timeout {
                // `expire - jiffies`, never negative.
                let now_jiffies = self.clock_ns(cpu) / self.tick_ns;
                return Performed::Value((expiry_ns / self.tick_ns).saturating_sub(now_jiffies));
            }
        }
        Performed::Value(value)
    }

    /// Takes `task` off `cpu` (it sleeps until woken). It cannot run again earlier than
    /// now, whoever wakes it and whichever CPU then picks it up.
    pub(crate) fn deschedule(&self, cpu: CpuId, task: TaskId) {
        self.mem.footprint.global();
        let now = self.clock_ns(cpu);
        let mut cpus = self.cpus.borrow_mut();
        let irqs = cpus[cpu.index()].irqs_enabled;
        debug_assert_eq!(cpus[cpu.index()].task, Some(task));
        cpus[cpu.index()].task = None;
        cpus[cpu.index()].irqs_enabled = true;
        let mut tasks = self.tasks.borrow_mut();
        tasks[task.index()].status = TaskStatus::Sleeping;
        tasks[task.index()].irqs_enabled = irqs;
        tasks[task.index()].ready_at_ns = now;
        drop(tasks);
        drop(cpus);
        let context = self.tasks.borrow()[task.index()].context;
        let mut contexts = self.contexts.borrow_mut();
        contexts[context.index()].pending = Op::Resume;
        contexts[context.index()].resume_value = 0;
    }

    /// Puts a sleeping task on a runqueue; the waker's clock is the earliest it can run.
    pub fn make_runnable(&self, waker_cpu: CpuId, task: TaskId) {
        self.mem.footprint.global();
        let now = self.clock_ns(waker_cpu);
        let target = {
            let mut tasks = self.tasks.borrow_mut();
            let t = &mut tasks[task.index()];
            if t.status != TaskStatus::Sleeping {
                return;
            }
            t.status = TaskStatus::Queued;
            // Not before it went to sleep either: under a strategy that lets CPUs' clocks
            // drift apart the waker's may be behind the sleeper's.
            t.ready_at_ns = t.ready_at_ns.max(now);
            t.cpu
        };
        self.cpus.borrow_mut()[target.index()]
            .runqueue
            .push_back(task);
    }

    /// Causality: the current context just did something to `task` that the task will
    /// see — woke it (set it `TASK_RUNNING`) or made a signal pending — so the task must
    /// not run, from now on, at a virtual time earlier than that. A sleeping or queued
    /// task carries the time to whichever CPU picks it up (`ready_at_ns`). A task on a
    /// CPU — woken between `set_current_state()` and `schedule()`, or signalled while it
    /// runs — makes that CPU catch up: its next step (the `schedule()` that now returns
    /// at once, the `signal_pending()` that sees the signal) comes after the event in
    /// the execution, and without this its clock, which a strategy other than `timed`
    /// may have left far behind the waker's, would show the task reacting before the
    /// cause. (The real machine has one time; the simulator's per-CPU clocks only have
    /// to agree with every causal edge, as Lamport clocks do.)
    pub fn carry_time_to(&self, task: TaskId, time_ns: u64) {
        let on_cpu = {
            let mut tasks = self.tasks.borrow_mut();
            let t = &mut tasks[task.index()];
            match t.status {
                TaskStatus::OnCpu => Some(t.cpu),
                TaskStatus::Queued | TaskStatus::Sleeping => {
                    t.ready_at_ns = t.ready_at_ns.max(time_ns);
                    None
                }
                TaskStatus::Exited => None,
            }
        };
        if let Some(cpu) = on_cpu {
            self.catch_up(cpu, time_ns);
        }
    }

    /// At a syscall boundary a task yields its CPU if others wait for it (a crude time
    /// slice: 2.6.22 without CONFIG_PREEMPT switches only at such points or when sleeping).
    pub(crate) fn maybe_yield_cpu(&self, cpu: CpuId, context: ContextId) -> Performed {
        let Some(task) = self.contexts.borrow()[context.index()].task() else {
            return Performed::Value(0);
        };
        let mut cpus = self.cpus.borrow_mut();
        let c = &mut cpus[cpu.index()];
        if c.runqueue.is_empty() || c.interrupt.is_some() {
            return Performed::Value(0);
        }
        c.task = None;
        c.runqueue.push_back(task);
        let now = c.clock_ns;
        drop(cpus);
        let mut tasks = self.tasks.borrow_mut();
        tasks[task.index()].status = TaskStatus::Queued;
        tasks[task.index()].ready_at_ns = now;
        drop(tasks);
        let mut contexts = self.contexts.borrow_mut();
        contexts[context.index()].pending = Op::Resume;
        contexts[context.index()].resume_value = 0;
        Performed::Yielded
    }
}
