//! Helpers shared by the integration tests: small programs written as async tasks, and
//! the boilerplate of running a machine under a strategy.

#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use sim::machine::RunResult;
use sim::waitq::{WakeFunction, WakeMode};
use sim::{
    Config, CpuId, Granularity, GranularityKind, LockKind, Machine, MemoryModel, Name, NoCallbacks,
    ReportKind, Scheduler, TaskState,
};

/// Options for a machine of `cpus` CPUs at granularity `G` under `model`.
pub fn config<G: Granularity>(cpus: usize, model: MemoryModel) -> Config {
    Config {
        cpus,
        model,
        granularity: G::KIND,
        ..Config::default()
    }
}

/// Options at `lock` granularity (sequentially consistent memory).
pub fn lock_config(cpus: usize) -> Config {
    Config {
        cpus,
        granularity: GranularityKind::Lock,
        ..Config::default()
    }
}

/// Runs `machine` once under `strategy`, honouring the strategy contract.
pub fn run(machine: &mut Machine, strategy: &mut dyn Scheduler) -> RunResult {
    assert!(strategy.begin_execution(), "strategy refused to start");
    let result = machine.run(strategy);
    strategy.end_execution();
    result
}

/// The kinds of the reports of a run, in order.
pub fn kinds(result: &RunResult) -> Vec<ReportKind> {
    result.reports.iter().map(|r| r.kind).collect()
}

/// The reports of one kind.
pub fn reports_of(result: &RunResult, kind: ReportKind) -> Vec<&sim::Report> {
    result.reports.iter().filter(|r| r.kind == kind).collect()
}

/// A log that tasks append to and the test reads afterwards.
#[derive(Clone)]
pub struct Log<T>(Rc<RefCell<Vec<T>>>);

// Not derived: a log of any `T` starts empty, `T: Default` or not.
impl<T> Default for Log<T> {
    fn default() -> Self {
        Log(Rc::default())
    }
}

impl<T: Clone> Log<T> {
    pub fn push(&self, value: T) {
        self.0.borrow_mut().push(value);
    }
    pub fn items(&self) -> Vec<T> {
        self.0.borrow().clone()
    }
}

/// Rounds of each task of [`demo`].
pub const DEMO_ROUNDS: usize = 5;

/// The scenario hash of [`demo`].
pub const DEMO_SCENARIO: u64 = 0xdead_0001;

/// A small program that exercises most of the machine: three CPUs; a consumer that
/// waits on a wait queue with `schedule_timeout`; two producers that update a counter
/// under an irq-safe spinlock while holding an rw_semaphore (one reads, one writes) and
/// wake the queue; an external interrupt that does the same from interrupt context.
/// Every run completes (the consumer gives up waiting after a few timeouts).
pub fn demo<G: Granularity>(config: Config) -> Machine {
    let mut machine = Machine::new(config, DEMO_SCENARIO).expect("valid config");
    demo_on::<G>(&mut machine);
    machine
}

/// Builds [`demo`] on a new or reset machine.
pub fn demo_on<G: Granularity>(machine: &mut Machine) {
    let cx = machine.cx::<G>();
    let lock = cx.new_lock(LockKind::Spin, "demo->lock", Name::global("demo->lock"));
    let sem = cx.new_lock(LockKind::RwSem, "demo->sem", Name::global("demo->sem"));
    let wq = cx.init_waitqueue_head("demo->wq.lock", Name::global("demo->wq"));
    let words = cx.alloc_words("demo", 0, &["count", "ready", "seen"]);
    let (count, ready, seen) = (words, words.offset(1), words.offset(2));

    let consumer = cx.clone();
    machine.spawn("consumer", Some(CpuId(0)), async move {
        let cx = consumer;
        let me = cx.current().expect("a task");
        let entry = cx.new_wait_entry(WakeFunction::Default(me), false);
        for _ in 0..DEMO_ROUNDS {
            cx.syscall("read").await;
            cx.add_wait_queue(wq, entry).await;
            for _ in 0..3 {
                cx.set_current_state(TaskState::Interruptible).await;
                if cx.read_once(ready).await != 0 {
                    break;
                }
                cx.schedule_timeout(1).await;
            }
            cx.set_current_state(TaskState::Running).await;
            cx.remove_wait_queue(wq, entry).await;
            let flags = cx.spin_lock_irqsave(lock).await;
            cx.write_once(ready, 0).await;
            let value = cx.load(count).await;
            cx.store(seen, value).await;
            cx.spin_unlock_irqrestore(lock, flags).await;
        }
        cx.free_wait_entry(entry);
    });
    for p in 0..2u16 {
        let cx = cx.clone();
        machine.spawn(format!("producer{p}"), Some(CpuId(1 + p)), async move {
            for _ in 0..DEMO_ROUNDS {
                cx.syscall("write").await;
                if p == 0 {
                    cx.down_read(sem).await;
                } else {
                    cx.down_write(sem).await;
                }
                let flags = cx.spin_lock_irqsave(lock).await;
                let value = cx.load(count).await;
                cx.store(count, value + 1).await;
                cx.write_once(ready, 1).await;
                cx.spin_unlock_irqrestore(lock, flags).await;
                if p == 0 {
                    cx.up_read(sem).await;
                } else {
                    cx.up_write(sem).await;
                }
                cx.wake_up_with(&NoCallbacks, wq, WakeMode::All, 1, 0).await;
            }
        });
    }
    let irq = cx.clone();
    machine.add_interrupt(
        30_000,
        None,
        "data arrives",
        Box::new(move || {
            Box::pin(async move {
                let cx = irq;
                let flags = cx.spin_lock_irqsave(lock).await;
                let value = cx.load(count).await;
                cx.store(count, value + 100).await;
                cx.write_once(ready, 1).await;
                cx.spin_unlock_irqrestore(lock, flags).await;
                cx.wake_up_with(&NoCallbacks, wq, WakeMode::All, 1, 0).await;
            })
        }),
    );
}
