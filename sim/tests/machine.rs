//! Basic executor semantics: time slicing at syscall entry, virtual time, interrupt
//! delivery, queued task creation, the step budget.

mod common;

use common::{config, kinds, lock_config, run, Log};
use sim::strategy::{Canonical, Random, Timed};
use sim::{
    Config, CpuId, GranularityKind, LockSteps, Machine, MemoryModel, ReportKind, RunEnd,
    SyscallSteps, TaskState,
};

#[test]
fn tasks_sharing_a_cpu_take_turns_at_syscall_entry() {
    let config = Config {
        cpus: 1,
        granularity: GranularityKind::Syscall,
        ..Config::default()
    };
    let mut machine = Machine::new(config, 1).unwrap();
    let cx = machine.cx::<SyscallSteps>();
    let log: Log<&str> = Log::default();
    for name in ["a", "b"] {
        let (cx, log) = (cx.clone(), log.clone());
        machine.spawn(name, None, async move {
            for _ in 0..3 {
                cx.syscall("write").await;
                log.push(name);
            }
        });
    }
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed);
    assert_eq!(log.items(), ["a", "b", "a", "b", "a", "b"]);
    // Three syscalls each (100 ns), six context switches (1 µs) — at least.
    assert!(
        result.virtual_time_ns >= 6 * 100 + 6 * 1000,
        "{}",
        result.virtual_time_ns
    );
}

#[test]
fn timed_follows_virtual_time() {
    let mut machine = Machine::new(lock_config(3), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let log: Log<(&str, u64)> = Log::default();
    for (cpu, (name, sleep)) in [("slow", 5_000_000), ("fast", 3_000_000), ("mid", 4_000_000)]
        .into_iter()
        .enumerate()
    {
        let (cx, log) = (cx.clone(), log.clone());
        machine.spawn(name, Some(CpuId(cpu as u16)), async move {
            cx.sleep_for(sleep).await;
            log.push((name, cx.now_ns()));
            cx.yield_point("logged").await;
        });
    }
    let result = run(&mut machine, &mut Timed::new(3));
    assert_eq!(result.end, RunEnd::Completed);
    let items = log.items();
    let names: Vec<&str> = items.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["fast", "mid", "slow"]);
    assert!(
        items[0].1 >= 3_000_000 && items[0].1 < 3_100_000,
        "{items:?}"
    );
    assert!(result.virtual_time_ns >= 5_000_000);
}

#[test]
fn an_interrupt_on_an_idle_cpu_wakes_a_sleeper() {
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let flag = cx.alloc_words("dev", 0, &["ready"]);
    let log: Log<u64> = Log::default();
    let (sleeper_cx, sleeper_log) = (cx.clone(), log.clone());
    let sleeper = machine.spawn("reader", Some(CpuId(0)), async move {
        let cx = sleeper_cx;
        loop {
            cx.set_current_state(TaskState::Interruptible).await;
            if cx.read_once(flag).await != 0 {
                break;
            }
            cx.schedule().await;
        }
        cx.set_current_state(TaskState::Running).await;
        sleeper_log.push(cx.now_ns());
    });
    machine.add_interrupt(
        2_000_000,
        Some(CpuId(1)),
        "rx",
        Box::new(move || {
            Box::pin(async move {
                assert!(cx.in_interrupt());
                assert_eq!(cx.current(), None, "the interrupt hit an idle CPU");
                cx.write_once(flag, 1).await;
                cx.wake_up_process(sleeper).await;
            })
        }),
    );
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed, "{:?}", result.reports);
    let woke_at = log.items()[0];
    assert!(woke_at >= 2_000_000, "causality: woken at {woke_at}");
}

/// One CPU busy with 200 syscalls (100 ns each); an interrupt due at 10 µs.
fn busy_machine() -> (Machine, Log<(&'static str, u64)>) {
    let mut machine = Machine::new(lock_config(1), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let log: Log<(&str, u64)> = Log::default();
    let (irq_cx, irq_log) = (cx.clone(), log.clone());
    machine.add_interrupt(
        10_000,
        None,
        "timer",
        Box::new(move || {
            Box::pin(async move {
                irq_log.push(("irq", irq_cx.now_ns()));
                irq_cx.yield_point("handler").await;
            })
        }),
    );
    let task_log = log.clone();
    machine.spawn("busy", None, async move {
        for _ in 0..200 {
            cx.syscall("getpid").await;
            task_log.push(("task", cx.now_ns()));
        }
    });
    (machine, log)
}

#[test]
fn a_busy_cpu_takes_an_interrupt_once_its_clock_reaches_it() {
    let mut interrupted_the_task = 0;
    for seed in 0..20 {
        let (mut machine, log) = busy_machine();
        let result = run(&mut machine, &mut Random::new(seed));
        assert_eq!(result.end, RunEnd::Completed);
        let items = log.items();
        let at = items
            .iter()
            .position(|(n, _)| *n == "irq")
            .expect("delivered");
        assert!(items[at].1 >= 10_000, "seed {seed}: {:?}", items[at]);
        // Not before the CPU's clock reached it: the task's last step got it there.
        assert!(
            at > 0 && items[at - 1].1 >= 10_000,
            "seed {seed}: {items:?}"
        );
        if at < items.len() - 1 {
            interrupted_the_task += 1;
        }
    }
    assert!(
        interrupted_the_task > 0,
        "the interrupt always waited for the end"
    );
    // The canonical run delivers it only when nothing else can run.
    let (mut machine, log) = busy_machine();
    run(&mut machine, &mut Canonical::default());
    assert_eq!(log.items().last().unwrap().0, "irq");
}

#[test]
fn tasks_created_by_running_code_start_after_their_creator() {
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let log: Log<(String, u64)> = Log::default();
    let parent_log = log.clone();
    machine.spawn("parent", Some(CpuId(0)), async move {
        cx.sleep_for(50_000).await;
        let child_cx = cx.clone();
        let child_log = parent_log.clone();
        let child = cx.spawn_task("child".into(), Some(CpuId(1)), async move {
            child_log.push(("child".into(), child_cx.now_ns()));
        });
        parent_log.push((format!("spawned {child}"), cx.now_ns()));
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed);
    let items = log.items();
    assert_eq!(items[0].0, "spawned task1");
    assert_eq!(items[1].0, "child");
    assert!(
        items[1].1 >= items[0].1,
        "the child cannot start before it was created"
    );
}

/// A task runs its code up to its first op as soon as a CPU picks it up, without a step.
/// Code that creates a thread and finishes there — or just finishes — makes no op at
/// all: the thread it created, and the tasks queued behind it on its CPU, must still run
/// (they were left queued while the run "completed" before any step).
#[test]
fn code_that_finishes_before_its_first_op_leaves_no_task_behind() {
    for cpus in [1, 2] {
        let mut machine = Machine::new(lock_config(cpus), 1).unwrap();
        let cx = machine.cx::<LockSteps>();
        let log: Log<&str> = Log::default();
        let (parent_log, quiet_log) = (log.clone(), log.clone());
        let parent_cx = cx.clone();
        machine.spawn("parent", Some(CpuId(0)), async move {
            let (child_cx, child_log) = (parent_cx.clone(), parent_log.clone());
            parent_cx.spawn_task("child".into(), None, async move {
                child_log.push("child");
                let (grandchild_cx, grandchild_log) = (child_cx.clone(), child_log.clone());
                child_cx.spawn_task("grandchild".into(), None, async move {
                    grandchild_log.push("grandchild");
                    grandchild_cx.syscall("write").await;
                });
            });
            parent_log.push("parent");
        });
        machine.spawn("quiet", Some(CpuId(0)), async move {
            quiet_log.push("quiet");
        });
        let result = run(&mut machine, &mut Canonical::default());
        assert_eq!(result.end, RunEnd::Completed, "{cpus} CPUs");
        let mut items = log.items();
        items.sort();
        assert_eq!(
            items,
            ["child", "grandchild", "parent", "quiet"],
            "{cpus} CPUs"
        );
        assert_eq!(result.steps, 1, "the grandchild's write, {cpus} CPUs");
    }
}

/// The budget stops a run with a report of its own, saying how to raise it: running
/// out of steps is not a livelock (the inline-operation limit below is).
#[test]
fn a_run_that_never_ends_stops_at_the_step_budget() {
    let mut config = lock_config(1);
    config.max_steps = 500;
    let mut machine = Machine::new(config, 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    machine.spawn("spin", None, async move {
        loop {
            cx.yield_point("again").await;
        }
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::StepLimit);
    assert_eq!(result.steps, 500);
    assert_eq!(kinds(&result), [ReportKind::StepBudget]);
    let report = &result.reports[0];
    assert_eq!(
        report.message,
        "the step budget of 500 steps ran out before the run ended"
    );
    assert!(
        report.details[0].contains("`max steps N`") && report.details[0].contains("above 500"),
        "{report}"
    );
}

/// A loop whose every operation runs inline (syscall granularity: its lock and its
/// loads are not steps) never hands back to the executor, so no step budget can stop
/// it; the inline-operation limit does, with a livelock report that halts the run.
#[test]
fn a_loop_that_never_reaches_a_step_is_a_soft_lockup() {
    let mut machine = Machine::new(config::<SyscallSteps>(1, MemoryModel::Sc), 1).unwrap();
    let cx = machine.cx::<SyscallSteps>();
    let lock = cx.new_lock(
        sim::lock::LockKind::Spin,
        "spin",
        sim::lock::Name::new("spin", 0, ""),
    );
    let flag = cx.alloc_words("flag", 0, &["set"]);
    machine.spawn("spin", None, async move {
        cx.syscall("spin").await;
        // while (!flag) { spin_lock(); spin_unlock(); }: nobody will ever set it.
        while cx.load(flag).await == 0 {
            cx.spin_lock(lock).await;
            cx.spin_unlock(lock).await;
        }
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Halted);
    assert_eq!(result.reports.len(), 1, "{:?}", result.reports);
    assert_eq!(result.reports[0].kind, ReportKind::Livelock);
    assert!(
        result.reports[0].message.contains("soft lockup"),
        "{}",
        result.reports[0].message
    );
    assert!(
        result.steps < 10,
        "stopped within the step: {}",
        result.steps
    );
}

#[test]
fn bad_options_are_one_line_errors() {
    for (config, needle) in [
        (
            Config {
                cpus: 0,
                ..Config::default()
            },
            "--cpus",
        ),
        (
            Config {
                cpus: 65,
                ..Config::default()
            },
            "--cpus",
        ),
        (
            Config {
                model: sim::MemoryModel::Tso,
                ..Config::default()
            },
            "--model tso needs --granularity access",
        ),
        (
            Config {
                hz: 0,
                ..Config::default()
            },
            "--hz",
        ),
        (
            Config {
                max_steps: 0,
                ..Config::default()
            },
            "step budget",
        ),
    ] {
        let error = Machine::new(config, 1).err().expect("refused").to_string();
        assert!(error.contains(needle), "{error}");
        assert!(!error.contains('\n'));
    }
}
