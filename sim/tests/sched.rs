//! Sleeping and waking, driven through small programs: wait queues, timeouts, signals,
//! the lost-wakeup race that `set_current_state`'s barrier prevents, rw_semaphore
//! hand-off order, and what the exploring strategies find.

mod common;

use common::{config, kinds, lock_config, run, Log};
use sim::strategy::{Canonical, Dfs, Pct};
use sim::waitq::{WaitEntryId, WakeFunction, WakeMode};
use sim::{
    AccessSteps, CpuId, Cx, Granularity, LockKind, LockSteps, Machine, MemoryModel, Name,
    NoCallbacks, RunEnd, Scheduler, TaskId, TaskState, WakeCallbacks,
};

/// Wait-queue callbacks that log `(data, key, head lock held)` and report a wake-up
/// unless `data` is in `refuse`.
struct Recorder {
    log: Log<(u64, u64, bool)>,
    head_lock: sim::LockId,
    refuse: Vec<u64>,
}

impl<G: Granularity> WakeCallbacks<G> for Recorder {
    async fn call(
        &self,
        cx: &Cx<G>,
        _entry: WaitEntryId,
        kind: u32,
        data: u64,
        mode: WakeMode,
        key: u64,
    ) -> bool {
        assert_eq!(kind, 7);
        assert_eq!(mode, WakeMode::Interruptible);
        self.log.push((data, key, cx.holds(self.head_lock)));
        cx.yield_point("in a callback").await;
        !self.refuse.contains(&data)
    }
}

fn callback_order(nr_exclusive: u32, refuse: Vec<u64>) -> Vec<u64> {
    let mut machine = Machine::new(lock_config(1), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let wq = cx.init_waitqueue_head("wq", Name::global("wq"));
    let log = Log::default();
    let callbacks = Recorder {
        log: log.clone(),
        head_lock: cx.waitqueue_lock(wq),
        refuse,
    };
    machine.spawn("waker", None, async move {
        let entry = |data: u64, exclusive: bool| {
            cx.new_wait_entry(WakeFunction::Callback { kind: 7, data }, exclusive)
        };
        // add_wait_queue puts entries at the front, add_wait_queue_exclusive at the
        // back: the list becomes 5 2 1 3 4.
        cx.add_wait_queue(wq, entry(1, false)).await;
        cx.add_wait_queue(wq, entry(2, false)).await;
        cx.add_wait_queue_exclusive(wq, entry(3, true)).await;
        cx.add_wait_queue_exclusive(wq, entry(4, true)).await;
        cx.add_wait_queue(wq, entry(5, false)).await;
        assert!(cx.waitqueue_active(wq).await);
        cx.wake_up_with(&callbacks, wq, WakeMode::Interruptible, nr_exclusive, 99)
            .await;
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed);
    let items = log.items();
    assert!(items.iter().all(|&(_, key, held)| key == 99 && held));
    items.into_iter().map(|(data, _, _)| data).collect()
}

#[test]
fn wake_up_visits_entries_in_list_order_and_counts_exclusive_wakeups() {
    // Every non-exclusive entry, then exclusive ones until nr_exclusive have woken.
    assert_eq!(callback_order(1, vec![]), vec![5, 2, 1, 3]);
    assert_eq!(callback_order(2, vec![]), vec![5, 2, 1, 3, 4]);
    // nr_exclusive 0 wakes everyone.
    assert_eq!(callback_order(0, vec![]), vec![5, 2, 1, 3, 4]);
    // An exclusive entry whose callback woke nothing does not count.
    assert_eq!(callback_order(1, vec![3]), vec![5, 2, 1, 3, 4]);
}

#[test]
fn exclusive_waiters_are_woken_one_at_a_time() {
    let mut machine = Machine::new(lock_config(5), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let wq = cx.init_waitqueue_head("wq", Name::global("wq"));
    let log: Log<String> = Log::default();
    let waiters = [
        ("shared-a", false),
        ("excl-1", true),
        ("shared-b", false),
        ("excl-2", true),
    ];
    for (i, (name, exclusive)) in waiters.into_iter().enumerate() {
        let (cx, log) = (cx.clone(), log.clone());
        machine.spawn(name, Some(CpuId(1 + i as u16)), async move {
            let me = cx.current().unwrap();
            let entry = cx.new_wait_entry(WakeFunction::Default(me), exclusive);
            if exclusive {
                cx.add_wait_queue_exclusive(wq, entry).await;
            } else {
                cx.add_wait_queue(wq, entry).await;
            }
            cx.set_current_state(TaskState::Uninterruptible).await;
            cx.schedule().await;
            log.push(name.to_string());
            cx.remove_wait_queue(wq, entry).await;
            cx.free_wait_entry(entry);
        });
    }
    let waker_log = log.clone();
    machine.spawn("waker", Some(CpuId(0)), async move {
        cx.sleep_for(10_000).await;
        cx.wake_up_with(&NoCallbacks, wq, WakeMode::All, 1, 0).await;
        cx.sleep_for(10_000).await;
        waker_log.push("second wake-up".to_string());
        cx.wake_up_with(&NoCallbacks, wq, WakeMode::All, 1, 0).await;
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed, "{:?}", result.reports);
    let items = log.items();
    let (first, second) = items.split_at(3);
    let mut first = first.to_vec();
    first.sort();
    assert_eq!(first, ["excl-1", "shared-a", "shared-b"]);
    assert_eq!(second, ["second wake-up", "excl-2"]);
}

#[test]
fn schedule_timeout_returns_zero_on_timeout_and_the_jiffies_left_when_woken() {
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let log: Log<(&str, u64)> = Log::default();
    let sleeper_log = log.clone();
    let sleeper_cx = cx.clone();
    let sleeper = machine.spawn("sleeper", Some(CpuId(0)), async move {
        let cx = sleeper_cx;
        let start = cx.jiffies();
        cx.set_current_state(TaskState::Interruptible).await;
        let left = cx.schedule_timeout(10).await;
        sleeper_log.push(("timed out", left));
        sleeper_log.push(("elapsed", cx.jiffies() - start));
        cx.set_current_state(TaskState::Interruptible).await;
        let left = cx.schedule_timeout(10).await;
        sleeper_log.push(("woken", left));
        // Still RUNNING: returns at once with everything left.
        let left = cx.schedule_timeout(10).await;
        sleeper_log.push(("running", left));
    });
    machine.spawn("waker", Some(CpuId(1)), async move {
        // Past the first timeout (10 jiffies = 40 ms at HZ=250), then 2 jiffies into
        // the second sleep.
        let tick = 1_000_000_000 / cx.hz() as u64;
        cx.sleep_for(10 * tick + 2 * tick + tick / 2).await;
        assert_eq!(cx.wake_up_process(sleeper).await, 1);
        assert_eq!(cx.wake_up_process(sleeper).await, 0, "already running");
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed, "{:?}", result.reports);
    let items = log.items();
    assert_eq!(items[0], ("timed out", 0));
    assert!(items[1].1 >= 10, "{items:?}");
    assert_eq!(items[2], ("woken", 8), "{items:?}");
    assert_eq!(items[3], ("running", 10));
}

#[test]
fn a_signal_ends_an_interruptible_sleep_but_not_an_uninterruptible_one() {
    let mut machine = Machine::new(lock_config(3), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let log: Log<(&str, u64, bool)> = Log::default();
    let mut sleepers = Vec::new();
    for (name, state) in [
        ("interruptible", TaskState::Interruptible),
        ("uninterruptible", TaskState::Uninterruptible),
    ] {
        let (cx, log) = (cx.clone(), log.clone());
        let cpu = CpuId(sleepers.len() as u16);
        sleepers.push(machine.spawn(name, Some(cpu), async move {
            cx.set_current_state(state).await;
            let left = cx.schedule_timeout(50).await;
            log.push((name, left, cx.signal_pending()));
            // With a signal pending an interruptible schedule() does not sleep.
            cx.set_current_state(TaskState::Interruptible).await;
            let again = cx.schedule_timeout(50).await;
            log.push((name, again, cx.signal_pending()));
            cx.clear_signal();
            assert!(!cx.signal_pending());
        }));
    }
    machine.spawn("kill", Some(CpuId(2)), async move {
        cx.sleep_for(1_000_000).await;
        for &task in &sleepers {
            cx.send_signal(task).await;
        }
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed, "{:?}", result.reports);
    let items = log.items();
    let of = |name: &str| -> Vec<(u64, bool)> {
        items
            .iter()
            .filter(|(n, _, _)| *n == name)
            .map(|&(_, left, signal)| (left, signal))
            .collect()
    };
    // Woken after 1 ms of a 200 ms sleep: most of it is left, and EINTR is due.
    let interruptible = of("interruptible");
    assert!(interruptible[0].0 > 40 && interruptible[0].1, "{items:?}");
    assert_eq!(interruptible[1], (50, true));
    // The uninterruptible sleeper sleeps its full timeout despite the signal.
    let uninterruptible = of("uninterruptible");
    assert_eq!(uninterruptible[0], (0, true), "{items:?}");
    assert_eq!(uninterruptible[1], (50, true));
}

/// The classic sleeper/waker pair. The sleeper announces its sleep, checks the
/// condition, and sleeps if it is false; the waker sets the condition and wakes it.
fn lost_wakeup_machine(with_barrier: bool) -> (Machine, TaskId) {
    let mut machine = Machine::new(config::<AccessSteps>(2, MemoryModel::Tso), 1).unwrap();
    let cx = machine.cx::<AccessSteps>();
    let condition = cx.alloc_words("cond", 0, &["done"]);
    let sleeper_cx = cx.clone();
    let sleeper = machine.spawn("sleeper", Some(CpuId(0)), async move {
        let cx = sleeper_cx;
        if with_barrier {
            cx.set_current_state(TaskState::Uninterruptible).await;
        } else {
            cx.set_current_state_plain(TaskState::Uninterruptible).await;
        }
        if cx.read_once(condition).await == 0 {
            cx.schedule().await;
        }
        cx.set_current_state_plain(TaskState::Running).await;
    });
    machine.spawn("waker", Some(CpuId(1)), async move {
        cx.write_once(condition, 1).await;
        cx.wake_up_process(sleeper).await;
    });
    (machine, sleeper)
}

/// Every execution of the pair: how many, and how many left the sleeper asleep.
fn explore_lost_wakeup(with_barrier: bool) -> (u64, u64) {
    let (executions, lost) = explore_lost_wakeup_with(with_barrier, Dfs::new(None, None));
    // Sleep sets prune executions but not outcomes.
    let (fewer, lost_too) =
        explore_lost_wakeup_with(with_barrier, Dfs::new(None, None).with_sleep_sets());
    assert!(fewer <= executions, "{fewer} vs {executions}");
    assert_eq!(lost_too > 0, lost > 0);
    (executions, lost)
}

fn explore_lost_wakeup_with(with_barrier: bool, mut dfs: Dfs) -> (u64, u64) {
    let (mut executions, mut lost) = (0, 0);
    while dfs.begin_execution() {
        let (mut machine, sleeper) = lost_wakeup_machine(with_barrier);
        let result = machine.run(&mut dfs);
        dfs.end_execution();
        executions += 1;
        match result.end {
            RunEnd::Completed => {}
            RunEnd::Quiescent { sleepers } => {
                assert_eq!(sleepers, vec![sleeper]);
                lost += 1;
            }
            other => panic!("unexpected end {other:?}: {:?}", result.reports),
        }
    }
    assert!(!dfs.diverged);
    (executions, lost)
}

#[test]
fn without_the_barrier_a_wakeup_can_be_lost_under_tso() {
    let (executions, lost) = explore_lost_wakeup(false);
    assert!(executions > 10, "{executions}");
    assert!(lost > 0, "no execution of {executions} lost the wake-up");
    assert!(lost < executions);
}

#[test]
fn with_set_current_states_barrier_no_wakeup_is_lost() {
    let (executions, lost) = explore_lost_wakeup(true);
    assert!(executions > 10, "{executions}");
    assert_eq!(
        lost, 0,
        "{lost} of {executions} executions lost the wake-up"
    );
}

#[test]
fn rwsem_hands_off_fifo_and_readers_queue_behind_a_waiting_writer() {
    let mut machine = Machine::new(lock_config(6), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let sem = cx.new_lock(LockKind::RwSem, "sem", Name::global("sem"));
    let log: Log<(&str, usize)> = Log::default();
    // (name, arrival time, writer, hold time)
    let tasks = [
        ("W1", 0, true, 10_000),
        ("R1", 100, false, 1_000),
        ("W2", 200, true, 0),
        ("R3", 300, false, 500),
        // Arrives while R1 holds the semaphore for reading and W2 waits: it must not
        // join R1 but queue behind W2.
        ("R5", 10_500, false, 500),
    ];
    for (i, (name, arrival, writer, hold)) in tasks.into_iter().enumerate() {
        let (cx, log) = (cx.clone(), log.clone());
        machine.spawn(name, Some(CpuId(i as u16)), async move {
            if arrival > 0 {
                cx.sleep_for(arrival).await;
            }
            if writer {
                cx.down_write(sem).await;
            } else {
                cx.down_read(sem).await;
            }
            let readers = cx.state().locks.borrow().get(sem).readers.len();
            log.push((name, readers));
            if hold > 0 {
                cx.sleep_for(hold).await;
            }
            if writer {
                cx.up_write(sem).await;
            } else {
                cx.up_read(sem).await;
            }
        });
    }
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed, "{:?}", result.reports);
    assert!(result.reports.is_empty(), "{:?}", result.reports);
    let items = log.items();
    let order: Vec<&str> = items.iter().map(|(name, _)| *name).collect();
    assert_eq!(order[..3], ["W1", "R1", "W2"], "{items:?}");
    // R3 and R5 are granted together when W2 releases.
    let mut last: Vec<&str> = order[3..].to_vec();
    last.sort();
    assert_eq!(last, ["R3", "R5"]);
    assert!(
        items[3..].iter().all(|&(_, readers)| readers == 2),
        "{items:?}"
    );
}

/// Two CPUs each increment a shared counter with a load, a scheduling point, and a
/// store: an update is lost only if one CPU's load falls between the other's load and
/// store, and the other's store comes first (a bug of depth 2).
fn lost_update_machine() -> (Machine, sim::Word) {
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let counter = cx.alloc_words("counter", 0, &["value"]);
    for cpu in 0..2 {
        let cx = cx.clone();
        machine.spawn("incr", Some(CpuId(cpu)), async move {
            for _ in 0..4 {
                cx.yield_point("work").await;
            }
            let value = cx.load(counter).await;
            cx.yield_point("between load and store").await;
            cx.store(counter, value + 1).await;
        });
    }
    (machine, counter)
}

#[test]
fn pct_finds_a_depth_two_bug_that_the_canonical_run_misses() {
    let (mut machine, counter) = lost_update_machine();
    run(&mut machine, &mut Canonical::default());
    assert_eq!(
        machine.state().mem.load_sc(counter),
        2,
        "canonical run is correct"
    );
    let mut pct = Pct::new(1, 2);
    let mut found = None;
    for attempt in 0..200 {
        let (mut machine, counter) = lost_update_machine();
        run(&mut machine, &mut pct);
        if machine.state().mem.load_sc(counter) == 1 {
            found = Some(attempt);
            break;
        }
    }
    assert!(
        found.is_some(),
        "PCT did not find the lost update in 200 runs"
    );
}

/// Three tasks on two CPUs (so that one CPU switches tasks), a lock, and a wake-up,
/// but no store buffers.
fn small_locked_program() -> Machine {
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let lock = cx.new_lock(LockKind::Spin, "l", Name::global("l"));
    let sleeper_cx = cx.clone();
    let sleeper = machine.spawn("sleeper", Some(CpuId(0)), async move {
        let cx = sleeper_cx;
        cx.set_current_state(TaskState::Interruptible).await;
        cx.schedule_timeout(1).await;
    });
    for cpu in [0, 1] {
        let cx = cx.clone();
        machine.spawn("locker", Some(CpuId(cpu)), async move {
            for _ in 0..2 {
                cx.spin_lock(lock).await;
                cx.yield_point("inside").await;
                cx.spin_unlock(lock).await;
            }
            cx.wake_up_process(sleeper).await;
        });
    }
    machine
}

fn count_dfs(preemption_bound: Option<u32>) -> u64 {
    finish_dfs(preemption_bound).0
}

/// Runs a DFS over `small_locked_program` to its end: (executions, branches cut).
fn finish_dfs(preemption_bound: Option<u32>) -> (u64, sim::strategy::CutBranches) {
    let mut dfs = Dfs::new(preemption_bound, None);
    let mut executions = 0;
    while dfs.begin_execution() {
        let mut machine = small_locked_program();
        let result = machine.run(&mut dfs);
        dfs.end_execution();
        assert_eq!(result.end, RunEnd::Completed, "{:?}", kinds(&result));
        executions += 1;
    }
    assert_eq!(executions, dfs.executions());
    (executions, dfs.cut())
}

/// A bounded search says what its bound cut, so that "complete" is never mistaken for
/// "exhaustive": bound 0 cuts every preemption, a larger bound cuts fewer, no bound
/// cuts none — and a bound no execution reaches cuts none either (then the search is
/// exhaustive whatever it was asked).
#[test]
fn dfs_counts_the_branches_its_bound_cut() {
    let (_, zero) = finish_dfs(Some(0));
    let (_, one) = finish_dfs(Some(1));
    let (all, none) = finish_dfs(None);
    assert!(zero.by_preemption_bound > 0, "{zero:?}");
    assert_eq!(zero.by_delay_bound, 0, "sc: no drains to delay");
    assert!(one.total() > 0, "{one:?}");
    assert_eq!(none.total(), 0, "{none:?}");
    let roomy = u32::try_from(all).expect("a small tree");
    let (executions, cut) = finish_dfs(Some(roomy));
    assert_eq!(
        cut.total(),
        0,
        "a bound above every path cuts nothing: {cut:?}"
    );
    assert_eq!(executions, all);
}

#[test]
fn dfs_with_preemption_bound_zero_runs_exactly_one_execution() {
    assert_eq!(count_dfs(Some(0)), 1);
    let one = count_dfs(Some(1));
    let all = count_dfs(None);
    assert!(one > 1, "bound 1 explores preemptions: {one}");
    assert!(all > one, "unbounded explores more: {all} vs {one}");
}
