//! Scenario builders shared by the kernel-model tests.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use kernel_model::poll::*;
use kernel_model::user::UserBufferSpec;
use kernel_model::{EpollEvent, Errno, World};
use sim::{CpuId, Granularity};

/// What each task saw, in order: (task name, result).
pub type Log = Rc<RefCell<Vec<(String, String)>>>;

pub fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

pub fn show(result: &Result<Vec<EpollEvent>, Errno>) -> String {
    match result {
        Ok(events) => {
            let items: Vec<String> = events
                .iter()
                .map(|e| format!("{}:{}", mask_to_string(e.events), e.data))
                .collect();
            format!("{} [{}]", events.len(), items.join(" "))
        }
        Err(errno) => errno.to_string(),
    }
}

/// Seed case 4: `ready` pipes ready and level-triggered in one set; then two threads
/// each wait once with maxevents `max`.
pub fn two_waiters<G: Granularity>(world: &mut World<G>, ready: usize, max: i32, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        for i in 0..ready {
            let [r, w] = k.sys_pipe().await.unwrap();
            k.sys_epoll_ctl(
                ep,
                EPOLL_CTL_ADD,
                r,
                Some(EpollEvent {
                    events: EPOLLIN,
                    data: i as u64,
                }),
            )
            .await
            .unwrap();
            k.sys_write(w, b"x").await.unwrap();
        }
        for (n, cpu) in [(0, 0u16), (1, 1)] {
            let log = log.clone();
            k.spawn_thread(
                &format!("waiter{n}"),
                Some(CpuId(cpu)),
                move |k| async move {
                    let got = k
                        .sys_epoll_wait(ep, UserBufferSpec::default(), max, -1)
                        .await;
                    log.borrow_mut().push((format!("waiter{n}"), show(&got)));
                },
            );
        }
    });
}

// ---- helpers for the syscall and order tests (tests/syscalls.rs, tests/order.rs) --------

use std::future::Future;

use kernel_model::{Kernel, KernelVersion, Options, Outcome};
use sim::machine::RunEnd;
use sim::strategy::Canonical;

/// Default options on `version`.
pub fn options(version: KernelVersion) -> Options {
    let mut options = Options::default();
    options.kernel.version = version;
    options
}

/// `Some(struct epoll_event { events, data })`.
pub fn ev(events: u32, data: u64) -> Option<EpollEvent> {
    Some(EpollEvent { events, data })
}

/// An ordinary, writable event buffer.
pub fn buf() -> UserBufferSpec {
    UserBufferSpec::default()
}

/// The `data` of each event, in delivery order.
pub fn datas(events: &[EpollEvent]) -> Vec<u64> {
    events.iter().map(|e| e.data).collect()
}

/// Runs `world` under the canonical schedule and insists that it ran to completion
/// (every task returned, every process exited) with no report at all — so the leak
/// checker found every eventpoll, epitem, eppoll_entry, file and pipe freed.
pub fn run_clean<G: Granularity>(world: &mut World<G>, what: &str) -> Outcome {
    let outcome = world.run(&mut Canonical::default());
    assert_eq!(
        outcome.result.end,
        RunEnd::Completed,
        "{what}: {:?}",
        outcome.reports()
    );
    assert!(
        outcome.reports().is_empty(),
        "{what}: {:#?}",
        outcome.reports()
    );
    outcome
}

/// Builds a world with `build` on each kernel version and runs it clean.
pub fn on_both<G: Granularity>(
    options: &Options,
    build: impl Fn(&mut World<G>, KernelVersion),
) -> Vec<Outcome> {
    KernelVersion::ALL
        .into_iter()
        .map(|version| {
            let mut options = options.clone();
            options.kernel.version = version;
            let mut world = World::<G>::new(&options, 0x5ca1ab1e).unwrap();
            build(&mut world, version);
            run_clean(&mut world, version.name())
        })
        .collect()
}

/// One process with one task (`main`, on CPU 0) running `program`, on each version.
pub fn single_task_on_both<G, P, F>(options: &Options, program: P)
where
    G: Granularity,
    P: Fn(Rc<Kernel<G>>) -> F,
    F: Future<Output = ()> + 'static,
{
    on_both::<G>(options, |world, _| {
        let p = world.process("app");
        world.spawn(p, "main", Some(CpuId(0)), &program);
    });
}

/// Starts a task in `process` (not necessarily the caller's: a forked child) from a
/// running task, as `spawn_thread` does for the caller's own process.
pub fn spawn_in<G, P, F>(
    k: &Rc<Kernel<G>>,
    process: kernel_model::objects::ProcessId,
    name: &str,
    pin: Option<CpuId>,
    program: P,
) -> sim::TaskId
where
    G: Granularity,
    P: FnOnce(Rc<Kernel<G>>) -> F,
    F: Future<Output = ()> + 'static,
{
    let body = k.task_body(process, program(k.clone()));
    let task = k.cx.spawn_task(name.to_string(), pin, body);
    k.register_task(task, process);
    task
}

/// The `data` of the items on the ready list of the epoll set behind `epfd` (in the
/// caller's process), head to tail, read without steps.
pub fn ready_list<G: Granularity>(k: &Kernel<G>, epfd: i32) -> Vec<u64> {
    let entry = k.fd_entry(epfd).expect("epfd is open");
    let ep = k.file_epoll(entry.file).expect("epfd is an epoll fd");
    let rdllist = k.with_ep(ep, |e| e.rdllist).expect("live eventpoll");
    let links = sim::list::walk(&k.cx, rdllist).expect("well-formed ready list");
    let objects = k.objects.borrow();
    links
        .into_iter()
        .map(|link| {
            let epi = objects.rdllink_owner[&link.0];
            objects.epitems.get(epi).expect("live epitem").data
        })
        .collect()
}

/// How many (eventpolls, epitems, eppoll_entries) are allocated right now.
pub fn live_epoll_objects<G: Granularity>(k: &Kernel<G>) -> (usize, usize, usize) {
    let objects = k.objects.borrow();
    (
        objects.eventpolls.live().count(),
        objects.epitems.live().count(),
        objects.pwqs.live().count(),
    )
}

/// Sleeps `ns` of virtual time in the calling task (a `nanosleep`; uninterruptible).
pub async fn sleep_ns<G: Granularity>(k: &Kernel<G>, ns: u64) {
    k.cx.sleep_for(ns).await;
}

/// `n` pipes, each read end added to `ep` with `events` and data = its index; returns
/// the (read, write) descriptors.
pub async fn add_pipes<G: Granularity>(
    k: &Kernel<G>,
    ep: i32,
    n: usize,
    events: u32,
) -> Vec<(i32, i32)> {
    let mut pipes = Vec::new();
    for i in 0..n {
        let [r, w] = k.sys_pipe().await.unwrap();
        k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, r, ev(events, i as u64))
            .await
            .unwrap();
        pipes.push((r, w));
    }
    pipes
}
