//! Limits on everything. A machine that would exceed one reports it instead of growing
//! without bound; the numbers are deliberately small multiples of what scenarios need.

/// Virtual CPUs per machine.
pub const CPUS_MAX: usize = 64;
/// Tasks per machine over its whole life (exited tasks count).
pub const TASKS_MAX: usize = 4096;
/// Default step budget: a run that takes more steps is stopped with a `step-budget`
/// report (not a livelock: a long run and an endless one look the same at the budget).
pub const STEPS_DEFAULT_MAX: u64 = 5_000_000;
/// Operations one step may perform inline (locks and accesses that the granularity does
/// not make steps of) before the run is reported as a livelock: a loop in kernel code
/// that never reaches a scheduling point would otherwise never return to the executor,
/// so no step budget could stop it. Far above what any syscall does (an `epoll_wait`
/// over 100k ready items is about 2M); about a tenth of a second of host time.
pub const INLINE_OPERATIONS_PER_STEP_MAX: u32 = 1 << 24;
/// Locks a single context may hold at once (lockdep's MAX_LOCK_DEPTH is 48).
pub const HELD_LOCKS_MAX: usize = 48;
/// Shared memory words per machine (8 bytes each).
pub const WORDS_MAX: usize = 1 << 26;
/// Entries in one CPU's store buffer before the CPU must drain (x86 has a few dozen).
pub const STORE_BUFFER_MAX: usize = 64;
/// Interrupt nesting per CPU (a handler runs with interrupts off, so 1 is all we use).
pub const IRQ_NESTING_MAX: usize = 1;
/// Decisions per fingerprint window of a recorded schedule (each window's fingerprint
/// hashes its enabled sets and choices; a replay checks it when the window closes).
pub const FINGERPRINT_INTERVAL: u64 = 64;
