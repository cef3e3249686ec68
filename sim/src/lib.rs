//! # sim — the deterministic SMP machine under epsim
//!
//! A discrete-event simulation of a small SMP machine: virtual CPUs with their own
//! clocks, tasks, interrupts, per-CPU store buffers, locks, wait queues. Kernel code runs
//! on it as `async fn`s taking a [`Cx`]; every `.await` on a primitive is a potential
//! step, and a [`Scheduler`] strategy decides which CPU takes the next one. Same code,
//! options and seed give the same execution, bit for bit; every run records a
//! [`Schedule`] that replays it exactly.
//!
//! **Architecture invariant:** `sim` knows nothing of epoll, files or syscalls.
//!
//! Table of contents:
//! - [`config`] — run options, granularities (compile-time markers and names)
//! - [`machine`] — the [`Machine`] and its executor loop, actions, run results
//! - [`cx`] — [`Cx`], the primitives kernel code awaits
//! - [`state`] — the shared state and the dispatcher of ops (each op's semantics is in
//!   its concept's module below, as an `impl State` block)
//! - [`op`] — the ops (steps) kernel code posts
//! - [`cpu`] — CPUs, tasks, execution contexts; interrupt flags
//! - [`clock`] — virtual time, cost table, jiffies; charging time
//! - [`mem`] — shared words and the sc / tso / pso memory models; loads, stores,
//!   fences, atomics
//! - [`footprint`] — the shared objects each step touched, for partial-order reduction
//! - [`list`] — `list.h` over shared words, with CONFIG_DEBUG_LIST checks
//! - [`lock`] — spinlocks, rwlocks, rw_semaphores, mutexes; acquisition and release
//! - [`lockdep`] — lock-order, irq-safety and sleep-in-atomic validation
//! - [`sched`] — `set_current_state`, `schedule()`, runqueues, causality
//! - [`wake`] — `try_to_wake_up()`
//! - [`signal`] — pending and blocked signals
//! - [`timer`] — timers and external events waiting for their time
//! - [`waitq`] — wait queue heads and entries; adding, removing, waking (`__wake_up_common`)
//! - [`arena`] — generation-checked arenas for kernel objects
//! - [`strategy`] — the [`Scheduler`] contract and the strategies
//! - [`schedule`] — recorded schedules and their text encoding
//! - [`trace`] — trace records and the trace hash; recording
//! - [`narrate`] — trace records rendered in kernel terms
//! - [`observe`] — every change of the machine's state, for a step-through view
//! - [`report`] — violation reports and their stable kind names; filing them
//! - [`rng`] — the machine's own PRNG
//! - [`litmus`] — memory-model litmus tests run on the machine
//! - [`limits`] — bounds on everything

#![deny(clippy::disallowed_types, clippy::disallowed_methods)]

pub mod arena;
pub mod clock;
pub mod config;
pub mod cpu;
pub mod cx;
pub mod footprint;
pub mod ids;
pub mod limits;
pub mod list;
pub mod litmus;
pub mod lock;
pub mod lockdep;
pub mod machine;
pub mod mem;
pub mod narrate;
pub mod observe;
pub mod op;
pub mod report;
pub mod rng;
pub mod sched;
pub mod schedule;
pub mod signal;
pub mod state;
pub mod strategy;
pub mod timer;
pub mod trace;
pub mod waitq;
pub mod wake;

pub use config::{
    AccessSteps, Config, ConfigError, Granularity, GranularityKind, LockSteps, SyscallSteps,
};
pub use cx::Cx;
pub use ids::{ContextId, CpuId, EventId, LockId, TaskId, WaitQueueId};
pub use lock::{LockKind, Name};
pub use machine::{Action, Machine, RunEnd, RunResult};
pub use mem::{MemoryModel, Word};
pub use op::TaskState;
pub use report::{Report, ReportKind};
pub use schedule::{Schedule, ScheduleError};
pub use strategy::{Scheduler, StrategyKind};
pub use waitq::{NoCallbacks, WakeCallbacks};
