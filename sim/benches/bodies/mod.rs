//! The bodies of the `sim_micro` benchmarks, shared with `tests/bench_smoke.rs` so
//! that they are compiled and run (a few iterations) by `cargo test` and never rot.
//! Nothing here reads a clock: the benchmark times these calls.

use sim::list::{init_list_head_private, list_add_tail, list_del, ListHead};
use sim::litmus::{self, LitmusResult, LitmusStrategy};
use sim::lock::{LockKind, Name};
use sim::machine::RunResult;
use sim::strategy::Canonical;
use sim::{Config, Granularity, Machine, MemoryModel, RunEnd, Scheduler, SyscallSteps};

/// A one-CPU machine at granularity `G` whose only task does `pairs`
/// `list_add_tail` + `list_del` pairs on simulated words, and nothing else.
pub fn list_pair_machine<G: Granularity>(pairs: u64) -> (Machine, ListHead) {
    let config = Config {
        cpus: 1,
        granularity: G::KIND,
        ..Config::default()
    };
    let mut machine = Machine::new(config, 0x6c69_7374).expect("valid config");
    let cx = machine.cx::<G>();
    let head = ListHead(cx.alloc_words("head", 0, &["next", "prev"]));
    let item = ListHead(cx.alloc_words("item", 0, &["next", "prev"]));
    init_list_head_private(&cx, head);
    init_list_head_private(&cx, item);
    machine.spawn("lister", None, async move {
        for pair in 1..=pairs {
            list_add_tail(&cx, item, head).await;
            list_del(&cx, item).await;
            if pair % PAIRS_PER_SYSCALL == 0 {
                // Kernel code reaches a scheduling point now and then; a loop that never
                // did would be stopped as a soft lockup (limits::INLINE_OPERATIONS_PER_STEP_MAX).
                cx.syscall("list pairs").await;
            }
        }
    });
    (machine, head)
}

/// How many pairs the lister does between two syscall entries.
const PAIRS_PER_SYSCALL: u64 = 1 << 20;

/// Runs a machine from [`list_pair_machine`] (the part the benchmark times) and
/// checks that it did what it should.
pub fn run_list_pairs(machine: &mut Machine, head: ListHead, pairs: u64) -> RunResult {
    let mut strategy = Canonical::default();
    strategy.begin_execution();
    let result = machine.run(&mut strategy);
    assert_eq!(result.end, RunEnd::Completed, "{:?}", result.reports);
    assert!(result.reports.is_empty());
    let mem = &machine.state().mem;
    assert_eq!(
        mem.load_sc(head.next_word()),
        head.address(),
        "list is empty again"
    );
    // 1 load + 4 stores, then 2 loads + 4 stores, at the default costs of 1 ns each.
    let costs = &machine.config().costs;
    let per_pair = 3 * costs.load_ns + 8 * costs.store_ns;
    let start = costs.context_switch_ns;
    let syscalls = pairs / PAIRS_PER_SYSCALL;
    assert_eq!(
        result.virtual_time_ns,
        start + pairs * per_pair + syscalls * costs.syscall_ns
    );
    result
}

/// What a [`primitive_machine`] repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Primitive {
    /// `spin_lock_irqsave` + `spin_unlock_irqrestore` of a free lock, in the fast
    /// context: lockdep's checks, the held-lock stack, the irq flag and the clock.
    SpinLockPair,
    /// `spin_lock(outer)`, `spin_lock(inner)`, and their unlocks, in the fast context:
    /// the second acquisition has a held lock to check against (lockdep's chain path).
    NestedSpinLockPairs,
    /// A syscall entry: a scheduling point even at `syscall` granularity (the
    /// enabled set, the strategy's choice, the schedule and the trace hash).
    SyscallEntry,
}

/// A one-CPU `syscall`-granularity machine whose only task repeats `primitive`
/// `count` times, and nothing else.
pub fn primitive_machine(primitive: Primitive, count: u64) -> Machine {
    let config = Config {
        cpus: 1,
        granularity: SyscallSteps::KIND,
        ..Config::default()
    };
    let mut machine = Machine::new(config, 0x7072_696d).expect("valid config");
    let cx = machine.cx::<SyscallSteps>();
    let lock = cx.new_lock(LockKind::Spin, "bench_lock", Name::new("bench_lock", 0, ""));
    let inner = cx.new_lock(
        LockKind::Spin,
        "bench_inner",
        Name::new("bench_inner", 0, ""),
    );
    machine.spawn("primitive", None, async move {
        for _ in 0..count {
            match primitive {
                Primitive::SpinLockPair => {
                    let flags = cx.spin_lock_irqsave(lock).await;
                    cx.spin_unlock_irqrestore(lock, flags).await;
                }
                Primitive::NestedSpinLockPairs => {
                    let flags = cx.spin_lock_irqsave(lock).await;
                    cx.spin_lock(inner).await;
                    cx.spin_unlock(inner).await;
                    cx.spin_unlock_irqrestore(lock, flags).await;
                }
                Primitive::SyscallEntry => {
                    cx.syscall("bench").await;
                }
            }
        }
    });
    machine
}

/// Runs a machine from [`primitive_machine`] and checks that it did what it should.
pub fn run_primitives(machine: &mut Machine, primitive: Primitive, count: u64) -> RunResult {
    let mut strategy = Canonical::default();
    strategy.begin_execution();
    let result = machine.run(&mut strategy);
    assert_eq!(result.end, RunEnd::Completed, "{:?}", result.reports);
    assert!(result.reports.is_empty());
    let steps = match primitive {
        Primitive::SpinLockPair | Primitive::NestedSpinLockPairs => 0,
        Primitive::SyscallEntry => count,
    };
    assert_eq!(result.steps, steps);
    result
}

/// Exhaustive DFS of litmus SB under TSO; checks the verdict.
pub fn sb_tso_dfs() -> LitmusResult {
    let test = litmus::find("SB").expect("SB is built in");
    let result = litmus::run(test, MemoryModel::Tso, LitmusStrategy::Dfs);
    assert!(result.allowed, "SB's weak outcome is allowed under TSO");
    assert_eq!(result.states.len(), 4);
    result
}
