//! DPOR against unbounded DFS on a small program of the machine's own primitives —
//! a spinlock-protected counter, a flag read without the lock, atomics, a mutex (whose
//! contended acquisition sleeps and whose release hands it over) and a wait-queue
//! wake-up — under sc, tso and pso at access granularity and under sc at lock granularity:
//! DPOR reaches exactly the final states DFS reaches, with fewer executions.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::rc::Rc;

use sim::strategy::{Dfs, Dpor, Scheduler};
use sim::waitq::{WakeFunction, WakeMode};
use sim::{
    AccessSteps, Config, CpuId, Granularity, GranularityKind, LockKind, LockSteps, Machine,
    MemoryModel, Name, NoCallbacks, TaskState,
};

/// Registers of the two tasks and the final memory.
type Final = ([u64; 4], [u64; 4]);

/// The program; `full` adds the mutex and the wait queue (at access granularity that makes
/// more executions than unbounded DFS can try in a test).
fn program<G: Granularity>(
    machine: &mut Machine,
    registers: &Rc<Cell<[u64; 4]>>,
    full: bool,
) -> [sim::Word; 4] {
    let cx = machine.cx::<G>();
    let x = cx.alloc_words("test", 0, &["x", "flag", "z", "y"]);
    let (flag, z, y) = (x.offset(1), x.offset(2), x.offset(3));
    let lock = cx.new_lock(LockKind::Spin, "test->lock", Name::global("test->lock"));
    let mutex = cx.new_lock(LockKind::Mutex, "test->mutex", Name::global("test->mutex"));
    let wq = cx.init_waitqueue_head("test->wq.lock", Name::global("test->wq"));
    let cx0 = cx.clone();
    let out = registers.clone();
    machine.spawn("P0", Some(CpuId(0)), async move {
        let cx = cx0;
        cx.spin_lock(lock).await;
        let old = cx.read_once(x).await;
        cx.write_once(x, old + 1).await;
        cx.spin_unlock(lock).await;
        cx.write_once(flag, 1).await;
        let r = cx.xchg(z, 2).await;
        let mut regs = out.get();
        regs[3] = r;
        out.set(regs);
        if !full {
            return;
        }
        cx.mutex_lock(mutex).await;
        cx.write_once(y, 1).await;
        cx.mutex_unlock(mutex).await;
        if cx.waitqueue_active(wq).await {
            cx.wake_up_with(&NoCallbacks, wq, WakeMode::Interruptible, 1, 0)
                .await;
        }
    });
    let out = registers.clone();
    machine.spawn("P1", Some(CpuId(1)), async move {
        let r0 = cx.read_once(flag).await;
        cx.spin_lock(lock).await;
        let old = cx.read_once(x).await;
        cx.write_once(x, old + 10).await;
        cx.spin_unlock(lock).await;
        let r2 = cx.xchg(z, 1).await;
        let mut regs = out.get();
        regs[0] = r0;
        regs[2] = r2;
        out.set(regs);
        if !full {
            return;
        }
        cx.mutex_lock(mutex).await;
        let r1 = cx.read_once(y).await;
        cx.mutex_unlock(mutex).await;
        if r1 == 0 {
            // Wait (with a timeout as a backstop) for P0's wake-up after its store.
            let me = cx.current().expect("a task");
            let entry = cx.new_wait_entry(WakeFunction::Default(me), false);
            cx.add_wait_queue(wq, entry).await;
            cx.set_current_state(TaskState::Interruptible).await;
            cx.schedule_timeout(10).await;
            cx.set_current_state(TaskState::Running).await;
            cx.remove_wait_queue(wq, entry).await;
            cx.free_wait_entry(entry);
        }
        let mut regs = out.get();
        regs[1] = r1;
        out.set(regs);
    });
    [x, flag, z, y]
}

/// Every final state the strategy reaches, and its executions.
fn explore<G: Granularity>(
    model: MemoryModel,
    full: bool,
    strategy: &mut dyn Scheduler,
) -> (BTreeSet<Final>, u64) {
    let config = Config {
        cpus: 2,
        model,
        granularity: G::KIND,
        ..Config::default()
    };
    let mut machine = Machine::new(config, 0xd905).expect("valid config");
    let registers = Rc::new(Cell::new([0; 4]));
    let mut states = BTreeSet::new();
    let mut executions = 0;
    while strategy.begin_execution() {
        machine.reset();
        registers.set([0; 4]);
        let words = program::<G>(&mut machine, &registers, full);
        let result = machine.run(strategy);
        strategy.end_execution();
        assert!(result.reports.is_empty(), "{:?}", result.reports);
        let memory = words.map(|w| machine.state().mem.load_sc(w));
        states.insert((registers.get(), memory));
        executions += 1;
    }
    (states, executions)
}

fn compare<G: Granularity>(model: MemoryModel, full: bool) {
    let mut dfs = Dfs::new(None, None);
    let (by_dfs, dfs_runs) = explore::<G>(model, full, &mut dfs);
    assert!(!dfs.diverged);
    let mut dpor = Dpor::new();
    let (by_dpor, dpor_runs) = explore::<G>(model, full, &mut dpor);
    assert!(!dpor.diverged);
    assert_eq!(by_dpor, by_dfs, "{model:?} at {:?}", G::KIND);
    assert!(
        dpor_runs * 10 < dfs_runs,
        "{model:?} at {:?}: dpor {dpor_runs} executions, dfs {dfs_runs}",
        G::KIND
    );
    assert!(by_dfs.len() > 1, "the program races");
}

#[test]
fn dpor_reaches_what_unbounded_dfs_reaches_under_sc() {
    compare::<AccessSteps>(MemoryModel::Sc, false);
}

#[test]
fn dpor_reaches_what_unbounded_dfs_reaches_under_tso() {
    compare::<AccessSteps>(MemoryModel::Tso, false);
}

#[test]
fn dpor_reaches_what_unbounded_dfs_reaches_under_pso() {
    compare::<AccessSteps>(MemoryModel::Pso, false);
}

#[test]
fn dpor_reaches_what_unbounded_dfs_reaches_at_lock_granularity() {
    compare::<LockSteps>(MemoryModel::Sc, true);
}

#[test]
fn a_granularity_kind_is_what_the_marker_says() {
    assert_eq!(LockSteps::KIND, GranularityKind::Lock);
}
