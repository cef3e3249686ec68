//! `Cx`: the handle through which kernel code touches the machine.
//!
//! Every primitive returns an [`OpFuture`]. At a granularity where the primitive is a
//! step, the future posts its op and yields to the executor; otherwise it performs the
//! op in place and is ready at once, and since `Cx` is generic over the granularity the
//! compiler removes the step machinery entirely from the coarse contexts: a shared-word
//! load becomes a bounds-checked index into the memory vector.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll};

use crate::config::Granularity;
use crate::footprint::{access, Object};
use crate::ids::{CpuId, LockId, TaskId};
use crate::lock::{LockKind, Name};
use crate::mem::Word;
use crate::op::{Fence, IrqMode, LockMode, Op, OpClass, TaskState};
use crate::report::ReportKind;
use crate::state::State;
use crate::waitq::WakeMode;

/// Execution context of kernel code at granularity `G`.
pub struct Cx<G> {
    state: Rc<State>,
    _granularity: PhantomData<G>,
}

impl<G> Clone for Cx<G> {
    fn clone(&self) -> Self {
        Cx {
            state: self.state.clone(),
            _granularity: PhantomData,
        }
    }
}

/// The future of one primitive.
pub struct OpFuture<'a> {
    inner: Inner<'a>,
}

enum Inner<'a> {
    Ready(u64),
    Posted {
        state: &'a State,
        op: Op,
        posted: bool,
    },
}

impl Future for OpFuture<'_> {
    type Output = u64;

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<u64> {
        match &mut self.inner {
            Inner::Ready(value) => Poll::Ready(*value),
            Inner::Posted { state, op, posted } => {
                if *posted {
                    return Poll::Ready(state.result.get());
                }
                *posted = true;
                if state.in_place.armed.get().is_some() {
                    return crate::machine::step_in_place(state, *op);
                }
                let previous = state.posted.replace(Some(*op));
                assert!(
                    previous.is_none(),
                    "two sim ops posted in one poll (do not join sim futures)"
                );
                Poll::Pending
            }
        }
    }
}

impl<G: Granularity> Cx<G> {
    pub(crate) fn new(state: Rc<State>) -> Cx<G> {
        Cx {
            state,
            _granularity: PhantomData,
        }
    }

    /// The machine state, for checkers and object creation.
    pub fn state(&self) -> &State {
        &self.state
    }

    #[inline(always)]
    fn post(&self, op: Op) -> OpFuture<'_> {
        OpFuture {
            inner: Inner::Posted {
                state: &self.state,
                op,
                posted: false,
            },
        }
    }

    #[inline(always)]
    fn op(&self, op: Op) -> OpFuture<'_> {
        let steps = match op.class() {
            OpClass::Access => G::STEPS_AT_ACCESS,
            OpClass::Lock => G::STEPS_AT_LOCK,
            OpClass::Always => true,
        };
        if !steps {
            if let Some(value) = self.state.perform_inline(op) {
                return OpFuture {
                    inner: Inner::Ready(value),
                };
            }
        }
        self.post(op)
    }

    // ---- identity and time ------------------------------------------------------------

    pub fn cpu(&self) -> CpuId {
        self.state.current.get().cpu
    }

    /// `current`: the running task, or in interrupt context the task the interrupt hit.
    pub fn current(&self) -> Option<TaskId> {
        self.state.current_task()
    }

    pub fn in_interrupt(&self) -> bool {
        self.state.in_interrupt()
    }

    pub fn now_ns(&self) -> u64 {
        self.state.clock_ns(self.cpu())
    }

    pub fn jiffies(&self) -> u64 {
        self.state.jiffies(self.cpu())
    }

    pub fn hz(&self) -> u32 {
        self.state.config.hz
    }

    pub fn step(&self) -> u64 {
        self.state.step.get()
    }

    // ---- memory -------------------------------------------------------------------------

    /// Records an access to `object` in the step's footprint ([`crate::footprint`]).
    #[inline(always)]
    pub(crate) fn note_access(&self, object: Object, bits: u8) {
        self.state.mem.footprint.access(object, bits);
    }

    /// Allocates a block of shared words named `kind<id>.<field>`.
    pub fn alloc_words(
        &self,
        kind: &'static str,
        id: u64,
        fields: &'static [&'static str],
    ) -> Word {
        self.state
            .mem
            .alloc_block(kind, id, fields, self.state.step.get())
    }

    /// Frees a block. A second free is reported as `double-free`.
    pub fn free_words(&self, start: Word) {
        if let Err(Some(block)) = self.state.mem.free_block(start, self.state.step.get()) {
            self.state.report(
                ReportKind::DoubleFree,
                format!("second free of {}{}", block.kind, block.id),
                vec![
                    format!("allocated at step {}", block.allocated_at_step),
                    format!("first freed at step {}", block.freed_at_step.unwrap_or(0)),
                ],
            );
        }
    }

    #[inline(always)]
    fn access(&self, op: Op, word: Word) -> OpFuture<'_> {
        if !G::STEPS_AT_ACCESS && self.state.may_run_inline() && self.state.mem.is_live(word) {
            let costs = &self.state.config.costs;
            let value = match op {
                Op::Load { .. } => {
                    self.state.charge_current(costs.load_ns);
                    self.state.mem.load_sc(word)
                }
                Op::Store { value, .. } => {
                    self.state.charge_current(costs.store_ns);
                    self.state.mem.store_sc(word, value);
                    0
                }
                _ => return self.op(op),
            };
            return OpFuture {
                inner: Inner::Ready(value),
            };
        }
        self.post(op)
    }

    /// A plain load.
    #[inline(always)]
    pub fn load(&self, word: Word) -> OpFuture<'_> {
        self.access(Op::Load { word, once: false }, word)
    }

    /// A plain store.
    #[inline(always)]
    pub fn store(&self, word: Word, value: u64) -> OpFuture<'_> {
        self.access(
            Op::Store {
                word,
                value,
                once: false,
            },
            word,
        )
    }

    /// `READ_ONCE` (the same access; marked for traces and race views).
    #[inline(always)]
    pub fn read_once(&self, word: Word) -> OpFuture<'_> {
        self.access(Op::Load { word, once: true }, word)
    }

    /// `WRITE_ONCE`.
    #[inline(always)]
    pub fn write_once(&self, word: Word, value: u64) -> OpFuture<'_> {
        self.access(
            Op::Store {
                word,
                value,
                once: true,
            },
            word,
        )
    }

    /// A read by a checker: no step, no cost, as the current CPU would see it. A word
    /// that was never allocated reads as 0; a freed one keeps its last value.
    pub fn peek(&self, word: Word) -> u64 {
        self.state.mem.peek(self.cpu(), word)
    }

    pub fn smp_mb(&self) -> OpFuture<'_> {
        self.op(Op::Fence(Fence::Full))
    }

    pub fn smp_wmb(&self) -> OpFuture<'_> {
        self.op(Op::Fence(Fence::Write))
    }

    pub fn smp_rmb(&self) -> OpFuture<'_> {
        self.op(Op::Fence(Fence::Read))
    }

    /// `xchg()`: returns the old value; a full barrier.
    pub fn xchg(&self, word: Word, value: u64) -> OpFuture<'_> {
        self.op(Op::Xchg { word, value })
    }

    /// `cmpxchg()`: returns the old value; a full barrier.
    pub fn cmpxchg(&self, word: Word, expected: u64, new: u64) -> OpFuture<'_> {
        self.op(Op::CmpXchg {
            word,
            expected,
            new,
        })
    }

    /// `atomic_add_return()`: returns the new value; a full barrier.
    pub fn atomic_add_return(&self, word: Word, delta: i64) -> OpFuture<'_> {
        self.op(Op::AddReturn {
            word,
            delta: delta as u64,
        })
    }

    /// `atomic_dec_and_test()`.
    pub async fn atomic_dec_and_test(&self, word: Word) -> bool {
        self.atomic_add_return(word, -1).await == 0
    }

    // ---- interrupts ----------------------------------------------------------------------

    pub fn local_irq_save(&self) -> OpFuture<'_> {
        self.op(Op::IrqSave)
    }

    pub fn local_irq_restore(&self, flags: u64) -> OpFuture<'_> {
        self.op(Op::IrqRestore { flags })
    }

    // ---- locks ----------------------------------------------------------------------------

    /// Creates a lock of class `class` (lockdep's unit: same class, same rules).
    pub fn new_lock(&self, kind: LockKind, class: &'static str, name: Name) -> LockId {
        self.note_access(Object::Allocator, access::WRITE);
        self.state.locks.borrow_mut().create(kind, class, name)
    }

    pub fn lock_name(&self, lock: LockId) -> Name {
        self.state.locks.borrow().name(lock)
    }

    fn lock_op(&self, lock: LockId, mode: LockMode, irq: IrqMode) -> OpFuture<'_> {
        self.op(Op::Lock { lock, mode, irq })
    }

    fn unlock_op(&self, lock: LockId, mode: LockMode, irq: IrqMode) -> OpFuture<'_> {
        self.op(Op::Unlock { lock, mode, irq })
    }

    pub fn spin_lock(&self, lock: LockId) -> OpFuture<'_> {
        self.lock_op(lock, LockMode::Exclusive, IrqMode::Keep)
    }
    pub fn spin_unlock(&self, lock: LockId) -> OpFuture<'_> {
        self.unlock_op(lock, LockMode::Exclusive, IrqMode::Keep)
    }
    pub fn spin_lock_irq(&self, lock: LockId) -> OpFuture<'_> {
        self.lock_op(lock, LockMode::Exclusive, IrqMode::DisableEnable)
    }
    pub fn spin_unlock_irq(&self, lock: LockId) -> OpFuture<'_> {
        self.unlock_op(lock, LockMode::Exclusive, IrqMode::DisableEnable)
    }
    /// Returns the saved interrupt flags.
    pub fn spin_lock_irqsave(&self, lock: LockId) -> OpFuture<'_> {
        self.lock_op(lock, LockMode::Exclusive, IrqMode::SaveRestore { flags: 0 })
    }
    pub fn spin_unlock_irqrestore(&self, lock: LockId, flags: u64) -> OpFuture<'_> {
        self.unlock_op(lock, LockMode::Exclusive, IrqMode::SaveRestore { flags })
    }
    pub fn read_lock_irqsave(&self, lock: LockId) -> OpFuture<'_> {
        self.lock_op(lock, LockMode::Shared, IrqMode::SaveRestore { flags: 0 })
    }
    pub fn read_unlock_irqrestore(&self, lock: LockId, flags: u64) -> OpFuture<'_> {
        self.unlock_op(lock, LockMode::Shared, IrqMode::SaveRestore { flags })
    }
    pub fn write_lock_irqsave(&self, lock: LockId) -> OpFuture<'_> {
        self.lock_op(lock, LockMode::Exclusive, IrqMode::SaveRestore { flags: 0 })
    }
    pub fn write_unlock_irqrestore(&self, lock: LockId, flags: u64) -> OpFuture<'_> {
        self.unlock_op(lock, LockMode::Exclusive, IrqMode::SaveRestore { flags })
    }
    /// `write_lock` without touching interrupts (what `lock-without-irqsave` injects).
    pub fn write_lock(&self, lock: LockId) -> OpFuture<'_> {
        self.lock_op(lock, LockMode::Exclusive, IrqMode::Keep)
    }
    pub fn write_unlock(&self, lock: LockId) -> OpFuture<'_> {
        self.unlock_op(lock, LockMode::Exclusive, IrqMode::Keep)
    }
    pub fn read_lock(&self, lock: LockId) -> OpFuture<'_> {
        self.lock_op(lock, LockMode::Shared, IrqMode::Keep)
    }
    pub fn read_unlock(&self, lock: LockId) -> OpFuture<'_> {
        self.unlock_op(lock, LockMode::Shared, IrqMode::Keep)
    }
    pub fn down_read(&self, sem: LockId) -> OpFuture<'_> {
        self.lock_op(sem, LockMode::Shared, IrqMode::Keep)
    }
    pub fn up_read(&self, sem: LockId) -> OpFuture<'_> {
        self.unlock_op(sem, LockMode::Shared, IrqMode::Keep)
    }
    pub fn down_write(&self, sem: LockId) -> OpFuture<'_> {
        self.lock_op(sem, LockMode::Exclusive, IrqMode::Keep)
    }
    pub fn up_write(&self, sem: LockId) -> OpFuture<'_> {
        self.unlock_op(sem, LockMode::Exclusive, IrqMode::Keep)
    }
    pub fn mutex_lock(&self, mutex: LockId) -> OpFuture<'_> {
        self.lock_op(mutex, LockMode::Exclusive, IrqMode::Keep)
    }
    pub fn mutex_unlock(&self, mutex: LockId) -> OpFuture<'_> {
        self.unlock_op(mutex, LockMode::Exclusive, IrqMode::Keep)
    }

    /// Whether the current context holds `lock` (for assertions in ported code).
    pub fn holds(&self, lock: LockId) -> bool {
        let context = self.state.current.get().context;
        self.state.locks.borrow().get(lock).is_held_by(context)
    }

    // ---- scheduling ----------------------------------------------------------------------

    /// `set_current_state()`: store plus full barrier.
    pub fn set_current_state(&self, state: TaskState) -> OpFuture<'_> {
        self.op(Op::SetState {
            state,
            with_barrier: true,
        })
    }

    /// `__set_current_state()`: a plain store.
    pub fn set_current_state_plain(&self, state: TaskState) -> OpFuture<'_> {
        self.op(Op::SetState {
            state,
            with_barrier: false,
        })
    }

    /// `schedule()`: sleeps unless the task's state is RUNNING (or a signal is pending
    /// in TASK_INTERRUPTIBLE).
    pub fn schedule(&self) -> OpFuture<'_> {
        self.op(Op::Schedule {
            timeout_jiffies: None,
        })
    }

    /// `schedule_timeout(jiffies)`: returns the jiffies left (0 if it timed out).
    pub fn schedule_timeout(&self, jiffies: u64) -> OpFuture<'_> {
        self.op(Op::Schedule {
            timeout_jiffies: Some(jiffies),
        })
    }

    /// `wake_up_process()`: returns 1 if the task was woken.
    pub fn wake_up_process(&self, task: TaskId) -> OpFuture<'_> {
        self.op(Op::Wake {
            task,
            interruptible_only: false,
        })
    }

    pub fn try_to_wake_up(&self, task: TaskId, mode: WakeMode) -> OpFuture<'_> {
        self.op(Op::Wake {
            task,
            interruptible_only: mode == WakeMode::Interruptible,
        })
    }

    /// `clone()`: creates a task running `future` (pinned to `pin`, or free), which
    /// becomes runnable before the next step. Returns its id.
    pub fn spawn_task(
        &self,
        name: String,
        pin: Option<CpuId>,
        future: impl Future<Output = ()> + 'static,
    ) -> TaskId {
        self.state.queue_spawn(name, pin, Box::pin(future))
    }

    /// `signal_pending(current)`.
    pub fn signal_pending(&self) -> bool {
        self.current().is_some_and(|t| self.state.signal_pending(t))
    }

    /// Delivers a signal to `task` (`kill()`): marks it pending and wakes the task if it
    /// sleeps interruptibly.
    pub async fn send_signal(&self, task: TaskId) {
        let blocked = self.state.mark_signal_pending(self.cpu(), task);
        if !blocked {
            self.try_to_wake_up(task, WakeMode::Interruptible).await;
        }
    }

    /// `sigprocmask()` for the current task: blocks or unblocks every signal; returns the
    /// previous setting. Unblocking leaves a pending signal pending (it now counts).
    pub fn set_signals_blocked(&self, blocked: bool) -> bool {
        match self.current() {
            Some(task) => self.state.set_signals_blocked(task, blocked),
            None => false,
        }
    }

    /// The signal was handled (returning to user space with EINTR runs the handler).
    pub fn clear_signal(&self) {
        if let Some(task) = self.current() {
            self.state.clear_signal(task);
        }
    }

    /// A point where the code may fault and sleep (`__put_user`).
    pub fn may_fault(&self) -> OpFuture<'_> {
        self.op(Op::MayFault)
    }

    /// Sleeps `duration_ns` of virtual time (a fault being serviced).
    pub fn sleep_for(&self, duration_ns: u64) -> OpFuture<'_> {
        self.op(Op::SleepFor { duration_ns })
    }

    /// System call entry: a scheduling point at every granularity.
    pub fn syscall(&self, name: &'static str) -> OpFuture<'_> {
        self.op(Op::Syscall { name })
    }

    /// A bare labelled scheduling point (granularity `lock` and finer).
    pub fn yield_point(&self, label: &'static str) -> OpFuture<'_> {
        self.op(Op::Yield { label })
    }

    /// Where code stops once the run has halted: after a fatal report (its own, or one
    /// made by a checker it called) code that carries on would act on broken state, as
    /// the kernel would not after a `BUG()`. Ready at once while the run goes on;
    /// otherwise it posts an op that the executor never performs (the run is over).
    /// Every other primitive does this too, so only code that reports and then would
    /// return without touching the machine again needs it.
    pub fn halt_point(&self) -> OpFuture<'_> {
        if self.state.halted.get() {
            return self.post(Op::Yield { label: "halted" });
        }
        OpFuture {
            inner: Inner::Ready(0),
        }
    }

    /// Whether this allocation of `class` fails (an injected `ENOMEM`).
    pub fn alloc_fails(&self, class: &'static str) -> bool {
        self.state.alloc_fails(class)
    }

    // ---- trace and reports --------------------------------------------------------------

    /// Narration for people; the text is built only when the trace is kept.
    #[inline(always)]
    #[track_caller]
    pub fn note(&self, text: impl FnOnce() -> String) {
        self.state.note(text)
    }

    /// Whether narration is being kept (to skip building expensive descriptions).
    #[inline(always)]
    pub fn narrating(&self) -> bool {
        self.state.narrating()
    }

    pub fn report(&self, kind: ReportKind, message: String, details: Vec<String>) {
        self.state.report(kind, message, details)
    }

    /// Mixes a value into the trace hash (e.g. a syscall result as user space sees it).
    pub fn mix_into_hash(&self, value: u64) {
        self.state.trace.borrow_mut().mix(value)
    }

    pub fn halted(&self) -> bool {
        self.state.halted.get()
    }
}
