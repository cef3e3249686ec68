//! Runs each `sim_micro` benchmark body for a few iterations, so that the benchmarks
//! compile and stay correct under `cargo test` (no timing here).

#[path = "../benches/bodies/mod.rs"]
mod bodies;

use sim::{AccessSteps, LockSteps, SyscallSteps};

#[test]
fn list_pairs_in_the_fast_and_lock_contexts() {
    for pairs in [0, 1, 1000] {
        let (mut machine, head) = bodies::list_pair_machine::<SyscallSteps>(pairs);
        let result = bodies::run_list_pairs(&mut machine, head, pairs);
        assert_eq!(result.steps, 0, "no steps in the fast context");
        let (mut machine, head) = bodies::list_pair_machine::<LockSteps>(pairs);
        bodies::run_list_pairs(&mut machine, head, pairs);
    }
}

#[test]
fn list_pairs_at_access_granularity_take_the_same_virtual_time() {
    // The stepping path: one step per access, the same time charged.
    let (mut machine, head) = bodies::list_pair_machine::<AccessSteps>(50);
    let result = bodies::run_list_pairs(&mut machine, head, 50);
    assert_eq!(result.steps, 50 * 11);
}

#[test]
fn sb_under_tso_exhaustively() {
    for _ in 0..3 {
        let result = bodies::sb_tso_dfs();
        assert!(result.executions > 10);
    }
}

#[test]
fn lock_pairs_and_syscall_entries() {
    for primitive in [
        bodies::Primitive::SpinLockPair,
        bodies::Primitive::NestedSpinLockPairs,
        bodies::Primitive::SyscallEntry,
    ] {
        for count in [0, 1, 1000] {
            let mut machine = bodies::primitive_machine(primitive, count);
            bodies::run_primitives(&mut machine, primitive, count);
        }
    }
}
