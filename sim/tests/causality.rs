//! Virtual-time causality of wake-ups: whatever makes a task runnable or interrupts its
//! sleep — `wake_up_process`, a wait-queue `wake_up`, a signal from a task or from an
//! interrupt handler, a timer, an interrupt handler's wake-up, the hand-off of a mutex,
//! rw_semaphore or spinlock — happened at some virtual time, and the task that sees it
//! must not see a clock earlier than that, under every strategy. Strategies other than
//! `timed` let the CPUs' clocks drift far apart (a CPU can be at 2 µs while another is at
//! 1 ms), so this is a property of the machine, not of the scheduling order. Nor does a
//! woken task go back in time when it moves to a CPU whose clock is behind its own.
//!
//! Each program has one cause — logged with the causing context's clock just before it
//! acts — and one task that logs its own clock whenever it has observed that cause (a
//! sleep cut short, a pending signal, a flag its waker set before the hand-off). Every
//! observation must be at or after the cause.

mod common;

use common::Log;
use sim::strategy::{Dfs, Pct, Random, RoundRobin, Timed};
use sim::waitq::{WakeFunction, WakeMode};
use sim::{
    Config, CpuId, Cx, GranularityKind, LockId, LockKind, LockSteps, Machine, Name, NoCallbacks,
    RunEnd, Scheduler, TaskId, TaskState,
};

/// One entry of a program's log, in execution order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    /// The cause, at the causing context's clock just before it acted.
    Cause(u64),
    /// The task saw the cause, at its clock then.
    Observed(u64),
}

/// A wake-up kind: builds its program on a new machine and returns its log.
type Program = fn(&mut Machine, Log<Mark>);

/// Long enough never to expire before the cause (4 s at HZ=250).
const LONG_TIMEOUT_JIFFIES: u64 = 1000;

/// When the causes happen: far ahead of where the observing task starts.
const CAUSE_AT_NS: u64 = 1_000_000;

const KINDS: [(&str, Program); 11] = [
    ("wake_up_process", wake_up_process),
    ("wait-queue wake_up", wait_queue_wake_up),
    ("signal from a task to a sleeper", signal_to_sleeper),
    (
        "signal from a task to a running task",
        signal_to_running_task,
    ),
    ("signal from an interrupt handler", signal_from_interrupt),
    ("timer", timer),
    ("interrupt handler's wake-up", wake_up_from_interrupt),
    ("mutex hand-off", |m, log| {
        sleeping_lock_hand_off(m, log, LockKind::Mutex)
    }),
    ("rw_semaphore hand-off", |m, log| {
        sleeping_lock_hand_off(m, log, LockKind::RwSem)
    }),
    ("spinlock hand-off", spinlock_hand_off),
    (
        "wake-up of a sleeper that moves to a CPU behind it",
        wake_up_and_move_to_a_cpu_behind,
    ),
];

fn machine() -> Machine {
    let config = Config {
        cpus: 2,
        granularity: GranularityKind::Lock,
        ..Config::default()
    };
    Machine::new(config, 0xca05a1).expect("valid config")
}

/// Sleeps interruptibly (with a timeout as a backstop) and logs when it was woken early.
async fn sleep_until_woken(cx: &Cx<LockSteps>, log: &Log<Mark>) {
    cx.set_current_state(TaskState::Interruptible).await;
    let left = cx.schedule_timeout(LONG_TIMEOUT_JIFFIES).await;
    cx.set_current_state(TaskState::Running).await;
    if left > 0 {
        log.push(Mark::Observed(cx.now_ns()));
    }
}

fn wake_up_process(machine: &mut Machine, log: Log<Mark>) {
    let cx = machine.cx::<LockSteps>();
    let (wakee_cx, wakee_log) = (cx.clone(), log.clone());
    let wakee = machine.spawn("wakee", Some(CpuId(0)), async move {
        sleep_until_woken(&wakee_cx, &wakee_log).await;
    });
    machine.spawn("waker", Some(CpuId(1)), async move {
        cx.sleep_for(CAUSE_AT_NS).await;
        log.push(Mark::Cause(cx.now_ns()));
        cx.wake_up_process(wakee).await;
    });
}

fn wait_queue_wake_up(machine: &mut Machine, log: Log<Mark>) {
    let cx = machine.cx::<LockSteps>();
    let wq = cx.init_waitqueue_head("test->wq.lock", Name::global("test->wq"));
    let (wakee_cx, wakee_log) = (cx.clone(), log.clone());
    machine.spawn("wakee", Some(CpuId(0)), async move {
        let cx = wakee_cx;
        let me = cx.current().expect("a task");
        let entry = cx.new_wait_entry(WakeFunction::Default(me), false);
        cx.add_wait_queue(wq, entry).await;
        sleep_until_woken(&cx, &wakee_log).await;
        cx.remove_wait_queue(wq, entry).await;
        cx.free_wait_entry(entry);
    });
    machine.spawn("waker", Some(CpuId(1)), async move {
        cx.sleep_for(CAUSE_AT_NS).await;
        log.push(Mark::Cause(cx.now_ns()));
        cx.wake_up_with(&NoCallbacks, wq, WakeMode::Interruptible, 1, 0)
            .await;
    });
}

/// Logs a pending signal once it sees one (and takes it).
fn observe_signal(cx: &Cx<LockSteps>, log: &Log<Mark>) -> bool {
    if !cx.signal_pending() {
        return false;
    }
    log.push(Mark::Observed(cx.now_ns()));
    cx.clear_signal();
    true
}

/// A task that sends a signal to `target` at [`CAUSE_AT_NS`].
fn signaller(machine: &mut Machine, log: Log<Mark>, target: TaskId) {
    let cx = machine.cx::<LockSteps>();
    machine.spawn("killer", Some(CpuId(1)), async move {
        cx.sleep_for(CAUSE_AT_NS).await;
        log.push(Mark::Cause(cx.now_ns()));
        cx.send_signal(target).await;
    });
}

fn signal_to_sleeper(machine: &mut Machine, log: Log<Mark>) {
    let cx = machine.cx::<LockSteps>();
    let wakee_log = log.clone();
    let wakee = machine.spawn("wakee", Some(CpuId(0)), async move {
        cx.set_current_state(TaskState::Interruptible).await;
        cx.schedule_timeout(LONG_TIMEOUT_JIFFIES).await;
        cx.set_current_state(TaskState::Running).await;
        observe_signal(&cx, &wakee_log);
    });
    signaller(machine, log, wakee);
}

/// A task that keeps making system calls, checking for a signal after each — as a task
/// that has not reached `epoll_wait` yet does on its way there.
async fn busy_until_signalled(cx: &Cx<LockSteps>, log: &Log<Mark>) {
    for _ in 0..200 {
        cx.syscall("getpid").await;
        if observe_signal(cx, log) {
            return;
        }
    }
}

fn signal_to_running_task(machine: &mut Machine, log: Log<Mark>) {
    let cx = machine.cx::<LockSteps>();
    let wakee_log = log.clone();
    let wakee = machine.spawn("wakee", Some(CpuId(0)), async move {
        busy_until_signalled(&cx, &wakee_log).await;
    });
    signaller(machine, log, wakee);
}

/// `at 1ms { signal(task) }`: the case of the `signals` scenario.
fn signal_from_interrupt(machine: &mut Machine, log: Log<Mark>) {
    let cx = machine.cx::<LockSteps>();
    let (wakee_cx, wakee_log) = (cx.clone(), log.clone());
    let wakee = machine.spawn("wakee", Some(CpuId(0)), async move {
        busy_until_signalled(&wakee_cx, &wakee_log).await;
    });
    machine.add_interrupt(
        CAUSE_AT_NS,
        None,
        "signal",
        Box::new(move || {
            Box::pin(async move {
                log.push(Mark::Cause(cx.now_ns()));
                cx.send_signal(wakee).await;
            })
        }),
    );
}

fn wake_up_from_interrupt(machine: &mut Machine, log: Log<Mark>) {
    let cx = machine.cx::<LockSteps>();
    let (wakee_cx, wakee_log) = (cx.clone(), log.clone());
    let wakee = machine.spawn("wakee", Some(CpuId(0)), async move {
        sleep_until_woken(&wakee_cx, &wakee_log).await;
    });
    machine.add_interrupt(
        CAUSE_AT_NS,
        None,
        "data arrives",
        Box::new(move || {
            Box::pin(async move {
                log.push(Mark::Cause(cx.now_ns()));
                cx.wake_up_process(wakee).await;
            })
        }),
    );
}

/// A task runs ahead on CPU 0 (sharing it with a task that keeps it busy), sleeps,
/// and is woken by a task on CPU 1 whose clock is behind; the waker then exits, so idle
/// CPU 1 takes the woken task. Its own time when it went to sleep is the cause here: it
/// must not run earlier than that on the CPU it moved to.
fn wake_up_and_move_to_a_cpu_behind(machine: &mut Machine, log: Log<Mark>) {
    let cx = machine.cx::<LockSteps>();
    let (wakee_cx, hog_cx) = (cx.clone(), cx.clone());
    let wakee = machine.spawn("wakee", None, async move {
        let cx = wakee_cx;
        for _ in 0..100 {
            cx.syscall("getpid").await;
        }
        log.push(Mark::Cause(cx.now_ns()));
        sleep_until_woken(&cx, &log).await;
    });
    machine.spawn("hog", Some(CpuId(0)), async move {
        for _ in 0..300 {
            hog_cx.syscall("getpid").await;
        }
    });
    machine.spawn("waker", Some(CpuId(1)), async move {
        for _ in 0..300 {
            cx.syscall("getpid").await;
            if cx.wake_up_process(wakee).await == 1 {
                break;
            }
        }
    });
}

/// The task's own timers: a sleep and a `schedule_timeout` that expires. The cause is
/// the earliest the timer can fire (a timeout of `j` jiffies fires at the boundary of
/// the `j`-th tick from now, so more than `j - 1` ticks from now).
fn timer(machine: &mut Machine, log: Log<Mark>) {
    let cx = machine.cx::<LockSteps>();
    let other = cx.clone();
    machine.spawn("sleeper", Some(CpuId(0)), async move {
        log.push(Mark::Cause(cx.now_ns() + CAUSE_AT_NS));
        cx.sleep_for(CAUSE_AT_NS).await;
        log.push(Mark::Observed(cx.now_ns()));
        let tick_ns = 1_000_000_000 / cx.hz() as u64;
        log.push(Mark::Cause(cx.now_ns() + tick_ns));
        cx.set_current_state(TaskState::Uninterruptible).await;
        cx.schedule_timeout(2).await;
        log.push(Mark::Observed(cx.now_ns()));
    });
    machine.spawn("other", Some(CpuId(1)), async move {
        for _ in 0..20 {
            other.syscall("getpid").await;
        }
    });
}

/// `mutex_lock` or `down_write`.
async fn take(cx: &Cx<LockSteps>, kind: LockKind, lock: LockId) {
    match kind {
        LockKind::Mutex => cx.mutex_lock(lock).await,
        _ => cx.down_write(lock).await,
    };
}

/// `mutex_unlock` or `up_write`.
async fn release(cx: &Cx<LockSteps>, kind: LockKind, lock: LockId) {
    match kind {
        LockKind::Mutex => cx.mutex_unlock(lock).await,
        _ => cx.up_write(lock).await,
    };
}

/// The holder sets `flag` under the lock, logs the cause and releases it; the waiter
/// logs when it finds the flag set once it has the lock (it got the lock from the
/// holder's release).
fn sleeping_lock_hand_off(machine: &mut Machine, log: Log<Mark>, kind: LockKind) {
    let cx = machine.cx::<LockSteps>();
    let lock = cx.new_lock(kind, "test->lock", Name::global("test->lock"));
    let flag = cx.alloc_words("test", 0, &["released"]);
    let (waiter_cx, waiter_log) = (cx.clone(), log.clone());
    machine.spawn("holder", Some(CpuId(1)), async move {
        take(&cx, kind, lock).await;
        cx.sleep_for(CAUSE_AT_NS).await;
        cx.store(flag, 1).await;
        log.push(Mark::Cause(cx.now_ns()));
        release(&cx, kind, lock).await;
    });
    machine.spawn("waiter", Some(CpuId(0)), async move {
        let cx = waiter_cx;
        cx.syscall("lock").await;
        take(&cx, kind, lock).await;
        if cx.load(flag).await == 1 {
            waiter_log.push(Mark::Observed(cx.now_ns()));
        }
        release(&cx, kind, lock).await;
    });
}

fn spinlock_hand_off(machine: &mut Machine, log: Log<Mark>) {
    let cx = machine.cx::<LockSteps>();
    let lock = cx.new_lock(LockKind::Spin, "test->lock", Name::global("test->lock"));
    let flag = cx.alloc_words("test", 0, &["released"]);
    let (waiter_cx, waiter_log) = (cx.clone(), log.clone());
    machine.spawn("holder", Some(CpuId(1)), async move {
        cx.sleep_for(CAUSE_AT_NS).await;
        cx.spin_lock(lock).await;
        cx.store(flag, 1).await;
        log.push(Mark::Cause(cx.now_ns()));
        cx.spin_unlock(lock).await;
    });
    machine.spawn("waiter", Some(CpuId(0)), async move {
        let cx = waiter_cx;
        for _ in 0..50 {
            cx.syscall("poll").await;
            cx.spin_lock(lock).await;
            let released = cx.load(flag).await == 1;
            if released {
                waiter_log.push(Mark::Observed(cx.now_ns()));
            }
            cx.spin_unlock(lock).await;
            if released {
                return;
            }
        }
    });
}

/// Every observation comes at or after every cause logged before it. Returns the
/// number of observations, or the first that came too early.
fn check(log: &[Mark]) -> Result<usize, String> {
    let mut cause_ns = 0;
    let mut observed = 0;
    for mark in log {
        match *mark {
            Mark::Cause(at_ns) => cause_ns = cause_ns.max(at_ns),
            Mark::Observed(at_ns) if at_ns < cause_ns => {
                return Err(format!(
                    "observed at {at_ns} ns, caused at {cause_ns} ns: {log:?}"
                ));
            }
            Mark::Observed(_) => observed += 1,
        }
    }
    Ok(observed)
}

/// Runs `program` once under `strategy` (begun by the caller) and checks its log.
fn run_once(program: Program, strategy: &mut dyn Scheduler) -> Result<usize, String> {
    let mut machine = machine();
    let log = Log::default();
    program(&mut machine, log.clone());
    let result = machine.run(strategy);
    if result.end != RunEnd::Completed {
        return Err(format!("{:?} {:?}", result.end, result.reports));
    }
    check(&log.items())
}

/// Runs `program` under every strategy; returns how many observations were made.
fn under_every_strategy(program: Program) -> Result<usize, String> {
    const SEEDS: u64 = 60;
    const DFS_EXECUTIONS_MAX: usize = 300;
    let mut observed = 0;
    for seed in 0..SEEDS {
        let strategies: [(&str, Box<dyn Scheduler>); 4] = [
            ("random", Box::new(Random::new(seed))),
            ("pct", Box::new(Pct::new(seed, 3))),
            ("timed", Box::new(Timed::new(seed))),
            ("round-robin", Box::new(RoundRobin)),
        ];
        for (name, mut strategy) in strategies {
            if name == "round-robin" && seed > 0 {
                continue;
            }
            assert!(strategy.begin_execution());
            observed += run_once(program, strategy.as_mut())
                .map_err(|e| format!("{name} (seed {seed}): {e}"))?;
            strategy.end_execution();
        }
    }
    let mut dfs = Dfs::new(Some(2), None);
    let mut executions = 0;
    while executions < DFS_EXECUTIONS_MAX && dfs.begin_execution() {
        observed += run_once(program, &mut dfs)
            .map_err(|e| format!("dfs (execution {executions}): {e}"))?;
        dfs.end_execution();
        executions += 1;
    }
    Ok(observed)
}

#[test]
fn no_task_sees_a_time_before_what_woke_it_under_any_strategy() {
    let mut failures = Vec::new();
    for (kind, program) in KINDS {
        match under_every_strategy(program) {
            Ok(0) => failures.push(format!("{kind}: no run observed its cause")),
            Ok(_) => {}
            Err(error) => failures.push(format!("{kind}: {error}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
