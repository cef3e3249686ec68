//! Lockdep-style reports, found by running small programs: lock-order inversion,
//! sleeping in atomic context, interrupt-unsafe locks, self-deadlock, ABBA deadlock,
//! bad unlocks.

mod common;

use common::{kinds, lock_config, reports_of, run};
use sim::strategy::{Canonical, DecisionView, RoundRobin};
use sim::{
    Action, CpuId, LockKind, LockSteps, Machine, Name, ReportKind, RunEnd, Scheduler, TaskState,
};

/// Delivers an interrupt as soon as the task on CPU 0 is inside its critical section
/// (its pending op is a `yield` point), else takes the default.
struct InterruptInsideCriticalSection;

impl Scheduler for InterruptInsideCriticalSection {
    fn begin_execution(&mut self) -> bool {
        true
    }
    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        let inside = view.actions.iter().any(|a| {
            matches!(a.action, Action::Run { cpu: CpuId(0) })
                && matches!(a.pending, Some(sim::op::Op::Yield { .. }))
        });
        if inside {
            if let Some(i) = view
                .actions
                .iter()
                .position(|a| matches!(a.action, Action::Interrupt { .. }))
            {
                return i;
            }
        }
        0
    }
}

#[test]
fn lock_order_inversion_is_reported_with_both_chains() {
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let a = cx.new_lock(LockKind::Spin, "class_a", Name::new("obj", 1, "->a"));
    let b = cx.new_lock(LockKind::Mutex, "class_b", Name::new("obj", 1, "->b"));
    let first = cx.clone();
    machine.spawn("ab", Some(CpuId(0)), async move {
        first.spin_lock(a).await;
        first.spin_unlock(a).await;
        first.mutex_lock(b).await;
        first.spin_lock(a).await;
        first.spin_unlock(a).await;
        first.mutex_unlock(b).await;
    });
    let second = cx.clone();
    machine.spawn("ba", Some(CpuId(1)), async move {
        second.yield_point("after ab").await;
        // Takes the mutex while holding the spinlock: also a sleep-in-atomic report.
        second.spin_lock(a).await;
        second.mutex_lock(b).await;
        second.mutex_unlock(b).await;
        second.spin_unlock(a).await;
    });
    // The canonical run executes task0 to the end first: no deadlock, only the order.
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed);
    let inversions = reports_of(&result, ReportKind::LockOrder);
    assert_eq!(inversions.len(), 1, "{:#?}", result.reports);
    let report = inversions[0];
    assert_eq!(report.task, Some(sim::TaskId(1)));
    assert!(
        report
            .message
            .contains("obj1->b taken while holding obj1->a"),
        "{}",
        report.message
    );
    let details = report.details.join("\n");
    assert!(
        details.contains("new order: class_a -> class_b"),
        "{details}"
    );
    assert!(
        details.contains("earlier order: class_b -> class_a"),
        "{details}"
    );
    assert!(
        details.contains("task0"),
        "the earlier chain names its task: {details}"
    );
    assert!(
        details.contains("task1"),
        "the new chain names its task: {details}"
    );
    assert!(!report.schedule.is_empty(), "a report carries its schedule");
    assert!(kinds(&result).contains(&ReportKind::SleepInAtomic));
}

#[test]
fn a_consistent_order_is_not_reported() {
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let a = cx.new_lock(LockKind::Mutex, "a", Name::global("a"));
    let b = cx.new_lock(LockKind::Mutex, "b", Name::global("b"));
    for cpu in 0..2 {
        let cx = cx.clone();
        machine.spawn("t", Some(CpuId(cpu)), async move {
            cx.mutex_lock(a).await;
            cx.mutex_lock(b).await;
            cx.mutex_unlock(b).await;
            cx.mutex_unlock(a).await;
        });
    }
    let result = run(&mut machine, &mut RoundRobin);
    assert_eq!(result.end, RunEnd::Completed);
    assert!(result.reports.is_empty(), "{:#?}", result.reports);
}

#[test]
fn schedule_with_a_spinlock_held_is_sleep_in_atomic() {
    let mut machine = Machine::new(lock_config(1), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let lock = cx.new_lock(LockKind::Spin, "ep->lock", Name::new("ep", 3, "->lock"));
    machine.spawn("t", None, async move {
        cx.spin_lock(lock).await;
        // TASK_RUNNING: schedule() returns at once, but the check is at its entry.
        cx.schedule().await;
        cx.spin_unlock(lock).await;
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed, "not fatal in a task");
    let reports = reports_of(&result, ReportKind::SleepInAtomic);
    assert_eq!(reports.len(), 1, "{:#?}", result.reports);
    assert!(
        reports[0]
            .message
            .contains("schedule() may sleep, called holding ep3->lock"),
        "{}",
        reports[0].message
    );
}

#[test]
fn down_read_in_an_interrupt_handler_is_sleep_in_atomic_and_halts() {
    let mut machine = Machine::new(lock_config(1), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let sem = cx.new_lock(LockKind::RwSem, "mm->mmap_sem", Name::global("mmap_sem"));
    machine.add_interrupt(
        0,
        None,
        "bad handler",
        Box::new(move || {
            Box::pin(async move {
                cx.down_read(sem).await;
                cx.up_read(sem).await;
            })
        }),
    );
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Halted);
    assert_eq!(kinds(&result), vec![ReportKind::SleepInAtomic]);
    assert!(result.reports[0].message.contains("in interrupt context"));
    assert!(
        result.steps < 10,
        "halted at once, not retried: {} steps",
        result.steps
    );
}

#[test]
fn schedule_in_an_interrupt_handler_halts() {
    let mut machine = Machine::new(lock_config(1), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    machine.add_interrupt(
        0,
        None,
        "sleepy handler",
        Box::new(move || {
            Box::pin(async move {
                cx.set_current_state(TaskState::Uninterruptible).await;
                cx.schedule().await;
            })
        }),
    );
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Halted);
    assert_eq!(kinds(&result), vec![ReportKind::SleepInAtomic]);
}

#[test]
fn a_lock_taken_in_irq_and_with_irqs_enabled_is_irq_unsafe() {
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let lock = cx.new_lock(LockKind::Spin, "dev->lock", Name::global("dev->lock"));
    let irq = cx.clone();
    machine.add_interrupt(
        0,
        Some(CpuId(1)),
        "rx",
        Box::new(move || {
            Box::pin(async move {
                irq.spin_lock(lock).await;
                irq.spin_unlock(lock).await;
            })
        }),
    );
    machine.spawn("t", Some(CpuId(0)), async move {
        cx.yield_point("let the interrupt come first").await;
        cx.spin_lock(lock).await;
        cx.spin_unlock(lock).await;
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed);
    let reports = reports_of(&result, ReportKind::IrqUnsafeLock);
    assert_eq!(reports.len(), 1, "{:#?}", result.reports);
    let details = reports[0].details.join("\n");
    assert!(details.contains("taken in interrupt context"), "{details}");
    assert!(
        details.contains("taken with interrupts enabled"),
        "{details}"
    );
}

#[test]
fn the_same_lock_with_irqsave_in_the_task_is_fine() {
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let lock = cx.new_lock(LockKind::Spin, "dev->lock", Name::global("dev->lock"));
    let irq = cx.clone();
    machine.add_interrupt(
        0,
        Some(CpuId(1)),
        "rx",
        Box::new(move || {
            Box::pin(async move {
                irq.spin_lock(lock).await;
                irq.spin_unlock(lock).await;
            })
        }),
    );
    machine.spawn("t", Some(CpuId(0)), async move {
        let flags = cx.spin_lock_irqsave(lock).await;
        cx.spin_unlock_irqrestore(lock, flags).await;
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed);
    assert!(result.reports.is_empty(), "{:#?}", result.reports);
}

/// A task takes `lock` on CPU 0 (with `spin_lock`, or `spin_lock_irqsave` when
/// `irqsave`) and stays in its critical section for a few steps; an interrupt pinned to
/// CPU 0 wants the same lock.
fn task_and_handler_on_one_cpu(irqsave: bool) -> Machine {
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let lock = cx.new_lock(LockKind::Spin, "ep->lock", Name::new("ep", 1, "->lock"));
    let irq = cx.clone();
    machine.add_interrupt(
        0,
        Some(CpuId(0)),
        "ep_poll_callback",
        Box::new(move || {
            Box::pin(async move {
                let flags = irq.spin_lock_irqsave(lock).await;
                irq.spin_unlock_irqrestore(lock, flags).await;
            })
        }),
    );
    machine.spawn("epoll_wait", Some(CpuId(0)), async move {
        let flags = if irqsave {
            cx.spin_lock_irqsave(lock).await
        } else {
            cx.spin_lock(lock).await;
            1
        };
        for _ in 0..3 {
            cx.yield_point("inside").await;
        }
        if irqsave {
            cx.spin_unlock_irqrestore(lock, flags).await;
        } else {
            cx.spin_unlock(lock).await;
        }
    });
    machine
}

#[test]
fn an_interrupt_wanting_a_lock_its_cpu_holds_is_a_self_deadlock() {
    let mut machine = task_and_handler_on_one_cpu(false);
    let result = run(&mut machine, &mut InterruptInsideCriticalSection);
    assert_eq!(result.end, RunEnd::Halted);
    let deadlocks = reports_of(&result, ReportKind::Deadlock);
    assert_eq!(deadlocks.len(), 1, "{:#?}", result.reports);
    let report = deadlocks[0];
    assert!(
        report.message.starts_with("self-deadlock on cpu0"),
        "{}",
        report.message
    );
    assert!(report.message.contains("ep1->lock"), "{}", report.message);
    let details = report.details.join("\n");
    assert!(
        details.contains("interrupt `ep_poll_callback` on cpu0 over task0"),
        "{details}"
    );
    assert!(details.contains("ep1->lock held by task0"), "{details}");
}

#[test]
fn with_irqsave_the_interrupt_waits_and_nothing_deadlocks() {
    let mut machine = task_and_handler_on_one_cpu(true);
    let result = run(&mut machine, &mut InterruptInsideCriticalSection);
    assert_eq!(result.end, RunEnd::Completed);
    assert!(result.reports.is_empty(), "{:#?}", result.reports);
}

#[test]
fn abba_between_two_cpus_is_a_deadlock_at_quiescence() {
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let a = cx.new_lock(LockKind::Spin, "lock_a", Name::global("A"));
    let b = cx.new_lock(LockKind::Spin, "lock_b", Name::global("B"));
    for (cpu, first, second) in [(0, a, b), (1, b, a)] {
        let cx = cx.clone();
        machine.spawn("t", Some(CpuId(cpu)), async move {
            cx.spin_lock(first).await;
            cx.yield_point("between").await;
            cx.spin_lock(second).await;
            cx.spin_unlock(second).await;
            cx.spin_unlock(first).await;
        });
    }
    // Alternating CPUs takes both first locks before either second one.
    let result = run(&mut machine, &mut RoundRobin);
    assert_eq!(result.end, RunEnd::Halted);
    let deadlocks = reports_of(&result, ReportKind::Deadlock);
    assert_eq!(deadlocks.len(), 1, "{:#?}", result.reports);
    let details = deadlocks[0].details.join("\n");
    assert!(details.contains("cpu0: task0 spins"), "{details}");
    assert!(details.contains("cpu1: task1 spins"), "{details}");
    assert!(details.contains("A held by task0"), "{details}");
    assert!(details.contains("B held by task1"), "{details}");
    // Lockdep, which checks an acquisition before it spins, sees the inversion too.
    let inversions = reports_of(&result, ReportKind::LockOrder);
    assert_eq!(inversions.len(), 1, "{:#?}", result.reports);
    // The canonical run does not deadlock.
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let a = cx.new_lock(LockKind::Spin, "lock_a", Name::global("A"));
    let b = cx.new_lock(LockKind::Spin, "lock_b", Name::global("B"));
    for (cpu, first, second) in [(0, a, b), (1, b, a)] {
        let cx = cx.clone();
        machine.spawn("t", Some(CpuId(cpu)), async move {
            cx.spin_lock(first).await;
            cx.spin_lock(second).await;
            cx.spin_unlock(second).await;
            cx.spin_unlock(first).await;
        });
    }
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed);
}

#[test]
fn abba_on_sleeping_locks_is_a_deadlock_at_quiescence() {
    let mut machine = Machine::new(lock_config(2), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let a = cx.new_lock(LockKind::Mutex, "mutex_a", Name::global("MA"));
    let b = cx.new_lock(LockKind::Mutex, "mutex_b", Name::global("MB"));
    for (cpu, first, second) in [(0, a, b), (1, b, a)] {
        let cx = cx.clone();
        machine.spawn("t", Some(CpuId(cpu)), async move {
            cx.mutex_lock(first).await;
            cx.yield_point("between").await;
            cx.mutex_lock(second).await;
            cx.mutex_unlock(second).await;
            cx.mutex_unlock(first).await;
        });
    }
    let result = run(&mut machine, &mut RoundRobin);
    assert_eq!(result.end, RunEnd::Halted);
    let deadlocks = reports_of(&result, ReportKind::Deadlock);
    assert_eq!(deadlocks.len(), 1, "{:#?}", result.reports);
    let details = deadlocks[0].details.join("\n");
    assert!(details.contains("MA waited for by task1"), "{details}");
    assert!(details.contains("MB waited for by task0"), "{details}");
    assert_eq!(reports_of(&result, ReportKind::LockOrder).len(), 1);
}

#[test]
fn unlocking_an_unheld_lock_and_exiting_with_one_are_bad_unlocks() {
    let mut machine = Machine::new(lock_config(1), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let a = cx.new_lock(LockKind::Spin, "a", Name::global("A"));
    let b = cx.new_lock(LockKind::Mutex, "b", Name::global("B"));
    machine.spawn("t", None, async move {
        cx.spin_unlock(a).await;
        cx.mutex_lock(b).await;
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed);
    let bad = reports_of(&result, ReportKind::BadUnlock);
    assert_eq!(bad.len(), 2, "{:#?}", result.reports);
    assert!(bad[0]
        .message
        .contains("release of A, which this context does not hold"));
    assert!(
        bad[1].message.contains("context exits holding B"),
        "{}",
        bad[1].message
    );
}

#[test]
fn taking_a_spinlock_twice_is_a_recursive_deadlock() {
    let mut machine = Machine::new(lock_config(1), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let a = cx.new_lock(LockKind::Spin, "a", Name::global("A"));
    machine.spawn("t", None, async move {
        cx.spin_lock(a).await;
        cx.spin_lock(a).await;
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Halted);
    assert_eq!(kinds(&result), vec![ReportKind::Deadlock]);
    assert!(
        result.reports[0]
            .message
            .contains("recursive acquisition of A"),
        "{}",
        result.reports[0].message
    );
}

#[test]
fn rwlock_readers_may_recurse_but_writers_may_not() {
    let mut machine = Machine::new(lock_config(1), 1).unwrap();
    let cx = machine.cx::<LockSteps>();
    let rw = cx.new_lock(
        LockKind::RwLock,
        "tasklist_lock",
        Name::global("tasklist_lock"),
    );
    let task = cx.clone();
    machine.spawn("reader", None, async move {
        task.read_lock(rw).await;
        task.read_lock(rw).await;
        task.read_unlock(rw).await;
        task.read_unlock(rw).await;
        assert!(!task.holds(rw));
        task.write_lock(rw).await;
        task.read_lock(rw).await;
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Halted);
    assert_eq!(
        kinds(&result),
        vec![ReportKind::Deadlock],
        "{:#?}",
        result.reports
    );
}

/// Explores every execution with DFS and counts the decisions at which CPU 0 spins (its
/// task cannot step) while an interrupt could be delivered to it.
struct SpinningInterrupts {
    dfs: sim::strategy::Dfs,
    seen: u64,
    /// Set by the waiter while it is in its lock call.
    locking: std::rc::Rc<std::cell::Cell<bool>>,
}

impl Scheduler for SpinningInterrupts {
    fn begin_execution(&mut self) -> bool {
        self.dfs.begin_execution()
    }
    fn choose(&mut self, view: &DecisionView<'_>) -> usize {
        let cpu0_steps = view
            .actions
            .iter()
            .any(|a| a.action == Action::Run { cpu: CpuId(0) });
        let interrupt_on_cpu0 = view
            .actions
            .iter()
            .any(|a| matches!(a.action, Action::Interrupt { cpu: CpuId(0), .. }));
        if self.locking.get() && !cpu0_steps && interrupt_on_cpu0 {
            self.seen += 1;
        }
        self.dfs.choose(view)
    }
    fn end_execution(&mut self) {
        self.dfs.end_execution()
    }
}

/// Task 1 holds `lock` for a while; task 0 on CPU 0 wants it (`irqsave` or plain); an
/// interrupt for CPU 0 is due from the start.
fn spins_for_a_lock(irqsave: bool) -> u64 {
    let mut strategy = SpinningInterrupts {
        dfs: sim::strategy::Dfs::new(None, None),
        seen: 0,
        locking: Default::default(),
    };
    let mut executions = 0;
    while strategy.begin_execution() {
        let mut machine = Machine::new(lock_config(2), 1).unwrap();
        let cx = machine.cx::<LockSteps>();
        let lock = cx.new_lock(LockKind::Spin, "l", Name::global("l"));
        let irq = cx.clone();
        machine.add_interrupt(
            0,
            Some(CpuId(0)),
            "irq",
            Box::new(move || {
                Box::pin(async move {
                    irq.yield_point("handler").await;
                })
            }),
        );
        let holder = cx.clone();
        machine.spawn("holder", Some(CpuId(1)), async move {
            holder.spin_lock(lock).await;
            holder.yield_point("hold").await;
            holder.yield_point("hold").await;
            holder.spin_unlock(lock).await;
        });
        let locking = strategy.locking.clone();
        machine.spawn("waiter", Some(CpuId(0)), async move {
            cx.yield_point("first").await;
            locking.set(true);
            let flags = if irqsave {
                cx.spin_lock_irqsave(lock).await
            } else {
                cx.spin_lock(lock).await;
                0
            };
            locking.set(false);
            if irqsave {
                cx.spin_unlock_irqrestore(lock, flags).await;
            } else {
                cx.spin_unlock(lock).await;
            }
        });
        let result = machine.run(&mut strategy);
        strategy.end_execution();
        assert_eq!(result.end, RunEnd::Completed, "{:?}", result.reports);
        executions += 1;
    }
    assert!(executions > 10);
    strategy.seen
}

#[test]
fn a_cpu_spinning_in_spin_lock_irqsave_takes_no_interrupt() {
    assert_eq!(spins_for_a_lock(true), 0);
    assert!(
        spins_for_a_lock(false) > 0,
        "plain spin_lock spins with interrupts on"
    );
}
