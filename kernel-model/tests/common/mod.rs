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

// ---- the seed commit's five concurrent situations -------------------------------------

/// Interest masks: level-triggered and edge-triggered readability.
pub const LT: u32 = EPOLLIN;
pub const ET: u32 = EPOLLIN | EPOLLET;

/// `pipe()`, then `epoll_ctl(ADD)` of its read end with `events` and `data`, and (if
/// `ready`) one byte written so that it is readable. Returns `[read, write]`.
pub async fn watched_pipe<G: Granularity>(
    k: &kernel_model::Kernel<G>,
    ep: i32,
    events: u32,
    data: u64,
    ready: bool,
) -> [i32; 2] {
    let [r, w] = k.sys_pipe().await.unwrap();
    k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, r, Some(EpollEvent { events, data }))
        .await
        .unwrap();
    if ready {
        k.sys_write(w, b"x").await.unwrap();
    }
    [r, w]
}

/// What the threads of a seed case log.
pub fn push(log: &Log, who: &str, what: String) {
    log.borrow_mut().push((who.to_string(), what));
}

/// Case 1: `close(epfd)` while another thread of the process is in `epoll_wait` on it
/// (one ready level-triggered pipe). `sys_epoll_wait` holds a reference to the epoll
/// file from `fget` to `fput`, so the close only drops the descriptor's reference and
/// `ep_free` runs at the waiter's `fput`, after its transfer.
pub fn case1_close_epfd<G: Granularity>(world: &mut World<G>, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        watched_pipe(&k, ep, LT, 1, true).await;
        let l = log.clone();
        k.spawn_thread("waiter", Some(CpuId(0)), move |k| async move {
            let got = k.sys_epoll_wait(ep, UserBufferSpec::default(), 4, -1).await;
            push(&l, "waiter", show(&got));
        });
        let l = log.clone();
        k.spawn_thread("closer", Some(CpuId(1)), move |k| async move {
            let got = k.sys_close(ep).await;
            push(&l, "closer", format!("{got:?}"));
        });
    });
}

/// Case 2: `epoll_ctl(EPOLL_CTL_DEL)` of one of two ready level-triggered pipes while a
/// thread transfers: the DEL needs `ep->sem` for write and waits for the transfer.
pub fn case2_del<G: Granularity>(world: &mut World<G>, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [a, _] = watched_pipe(&k, ep, LT, 1, true).await;
        watched_pipe(&k, ep, LT, 2, true).await;
        let l = log.clone();
        k.spawn_thread("waiter", Some(CpuId(0)), move |k| async move {
            let got = k.sys_epoll_wait(ep, UserBufferSpec::default(), 4, -1).await;
            push(&l, "waiter", show(&got));
        });
        let l = log.clone();
        k.spawn_thread("deleter", Some(CpuId(1)), move |k| async move {
            let got = k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, a, None).await;
            push(&l, "deleter", format!("{got:?}"));
        });
    });
}

/// Case 3: `close()` of the last descriptor of a watched pipe end while a thread
/// transfers: `__fput` → `eventpoll_release_file` takes `epmutex`, then waits for
/// `ep->sem` (write) until the transfer is done.
pub fn case3_close_watched<G: Granularity>(world: &mut World<G>, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [a, _] = watched_pipe(&k, ep, LT, 1, true).await;
        watched_pipe(&k, ep, LT, 2, true).await;
        let l = log.clone();
        k.spawn_thread("waiter", Some(CpuId(0)), move |k| async move {
            let got = k.sys_epoll_wait(ep, UserBufferSpec::default(), 4, -1).await;
            push(&l, "waiter", show(&got));
        });
        let l = log.clone();
        k.spawn_thread("closer", Some(CpuId(1)), move |k| async move {
            let got = k.sys_close(a).await;
            push(&l, "closer", format!("{got:?}"));
        });
    });
}

/// Case 5: `ep_poll_callback` on another CPU during the transfer loop. A ready
/// edge-triggered pipe `a` (it leaves the loop through `smp_mb(); INIT_LIST_HEAD()`), a
/// ready level-triggered pipe `b` (it leaves through `injlist`) and an edge-triggered
/// pipe `c` that is not ready; a second thread on CPU 1 writes a byte into `c`, `a` and
/// `b`, in that order, so that their callbacks run on CPU 1 while CPU 0 transfers: an
/// item still on the txlist or `injlist`, or poisoned by `list_del`, looks linked and is
/// not queued again; once re-initialised it may be.
pub fn case5_callback<G: Granularity>(world: &mut World<G>, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [_, a] = watched_pipe(&k, ep, ET, 1, true).await;
        let [_, b] = watched_pipe(&k, ep, LT, 2, true).await;
        let [_, c] = watched_pipe(&k, ep, ET, 3, false).await;
        let l = log.clone();
        k.spawn_thread("waiter", Some(CpuId(0)), move |k| async move {
            let got = k.sys_epoll_wait(ep, UserBufferSpec::default(), 4, -1).await;
            push(&l, "waiter", show(&got));
        });
        let l = log.clone();
        k.spawn_thread("writer", Some(CpuId(1)), move |k| async move {
            let x = k.sys_write(c, b"y").await;
            let y = k.sys_write(a, b"y").await;
            let z = k.sys_write(b, b"y").await;
            push(&l, "writer", format!("{x:?} {y:?} {z:?}"));
        });
    });
}

/// Case 4 at a size for `access` granularity: `ready` level-triggered pipes, two
/// threads waiting with `max` (see [`two_waiters`]).
pub fn case4_two_waiters<G: Granularity>(world: &mut World<G>, log: &Log) {
    two_waiters(world, 3, 1, log);
}

/// Case 5 reduced for exhaustive search: one ready edge-triggered pipe and one that is
/// not ready; the writer writes the idle one, then the ready one.
pub fn case5_small<G: Granularity>(world: &mut World<G>, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [_, a] = watched_pipe(&k, ep, ET, 1, true).await;
        let [_, c] = watched_pipe(&k, ep, ET, 3, false).await;
        let l = log.clone();
        k.spawn_thread("waiter", Some(CpuId(0)), move |k| async move {
            let got = k.sys_epoll_wait(ep, UserBufferSpec::default(), 4, -1).await;
            push(&l, "waiter", show(&got));
        });
        let l = log.clone();
        k.spawn_thread("writer", Some(CpuId(1)), move |k| async move {
            let x = k.sys_write(c, b"y").await;
            let y = k.sys_write(a, b"y").await;
            push(&l, "writer", format!("{x:?} {y:?}"));
        });
    });
}

// ---- directed schedules ------------------------------------------------------------------

/// A condition on the kernel (and the machine under it) that ends a phase.
pub type Until<G> = Box<dyn Fn(&kernel_model::Kernel<G>) -> bool>;

/// A strategy that follows phases: in each, the named CPU steps whenever it can, until
/// the phase's condition holds; after the last phase, the canonical default. Used to
/// build the one schedule that shows an argument (the recorded schedule replays it).
pub struct Directed<G: Granularity> {
    kernel: Rc<kernel_model::Kernel<G>>,
    phases: Vec<(CpuId, Until<G>)>,
    /// How many phases have ended.
    pub done: usize,
}

impl<G: Granularity> Directed<G> {
    pub fn new(kernel: Rc<kernel_model::Kernel<G>>, phases: Vec<(CpuId, Until<G>)>) -> Self {
        Directed {
            kernel,
            phases,
            done: 0,
        }
    }
}

impl<G: Granularity> sim::Scheduler for Directed<G> {
    fn begin_execution(&mut self) -> bool {
        self.done = 0;
        true
    }

    fn choose(&mut self, view: &sim::strategy::DecisionView<'_>) -> usize {
        while self.done < self.phases.len() && (self.phases[self.done].1)(&self.kernel) {
            self.done += 1;
        }
        let Some((cpu, _)) = self.phases.get(self.done) else {
            return 0;
        };
        // Drains stay eager; then the phase's CPU.
        if matches!(view.actions[0].action, sim::Action::Drain { .. }) {
            return 0;
        }
        view.actions
            .iter()
            .position(|a| a.action == sim::Action::Run { cpu: *cpu })
            .unwrap_or(0)
    }
}

/// The task named `name`.
pub fn task_named<G: Granularity>(k: &kernel_model::Kernel<G>, name: &str) -> sim::TaskId {
    k.cx.state()
        .tasks
        .borrow()
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.id)
        .unwrap_or_else(|| panic!("no task {name}"))
}

/// Whether a task named `name` exists yet.
pub fn task_exists<G: Granularity>(k: &kernel_model::Kernel<G>, name: &str) -> bool {
    k.cx.state().tasks.borrow().iter().any(|t| t.name == name)
}

pub fn status_of<G: Granularity>(
    k: &kernel_model::Kernel<G>,
    name: &str,
) -> Option<sim::cpu::TaskStatus> {
    let tasks = k.cx.state().tasks.borrow();
    tasks.iter().find(|t| t.name == name).map(|t| t.status)
}

/// Whether the task has finished.
pub fn exited<G: Granularity>(k: &kernel_model::Kernel<G>, name: &str) -> bool {
    status_of(k, name) == Some(sim::cpu::TaskStatus::Exited)
}

/// Whether the task sleeps (on a wait queue, a lock or a timer).
pub fn sleeping<G: Granularity>(k: &kernel_model::Kernel<G>, name: &str) -> bool {
    status_of(k, name) == Some(sim::cpu::TaskStatus::Sleeping)
}

/// Whether the task is inside `ep_events_transfer` (its txlist is live).
pub fn in_transfer<G: Granularity>(k: &kernel_model::Kernel<G>, name: &str) -> bool {
    if !task_exists(k, name) {
        return false;
    }
    let task = task_named(k, name);
    k.objects
        .borrow()
        .tasks
        .get(&task)
        .is_some_and(|t| t.in_transfer.is_some())
}

/// Whether the task is inside `ep_events_transfer` and has stolen a non-empty ready
/// list (its txlist holds items).
pub fn stolen<G: Granularity>(k: &kernel_model::Kernel<G>, name: &str) -> bool {
    if !in_transfer(k, name) {
        return false;
    }
    let task = task_named(k, name);
    let txlist = k.objects.borrow().tasks[&task].txlist();
    k.cx.peek(txlist.next_word()) != txlist.address()
}

/// Whether the task sleeps inside `ep_poll` (on `ep->wq`).
pub fn asleep_in_ep_poll<G: Granularity>(k: &kernel_model::Kernel<G>, name: &str) -> bool {
    if !task_exists(k, name) {
        return false;
    }
    let task = task_named(k, name);
    sleeping(k, name)
        && k.objects
            .borrow()
            .tasks
            .get(&task)
            .is_some_and(|t| t.in_ep_poll.is_some())
}

/// The names of the locks the task waits for (sleeping locks: semaphores, mutexes).
pub fn waits_for<G: Granularity>(k: &kernel_model::Kernel<G>, name: &str) -> Vec<String> {
    if !task_exists(k, name) {
        return Vec::new();
    }
    let task = task_named(k, name);
    let state = k.cx.state();
    let locks = state.locks.borrow();
    locks
        .waiting_queues()
        .filter(|(_, queue)| queue.iter().any(|w| w.task == task))
        .map(|(id, _)| locks.name(id).to_string())
        .collect()
}

/// The narration notes of a kept trace, with the name of the task that made each.
pub fn notes<G: Granularity>(world: &World<G>) -> Vec<(String, String)> {
    let state = world.machine().state();
    world
        .machine()
        .take_records()
        .into_iter()
        .filter_map(|r| match r.event {
            sim::trace::TraceEvent::Note { text } => Some((
                r.task.map_or("idle".to_string(), |t| state.task_name(t)),
                text,
            )),
            _ => None,
        })
        .collect()
}

/// The index of the first note by `task` containing `text` at or after `from`.
pub fn find_note(notes: &[(String, String)], from: usize, task: &str, text: &str) -> Option<usize> {
    notes
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, (t, n))| t == task && n.contains(text))
        .map(|(i, _)| i)
}

/// Nested sets and two writers, for `ep_poll_safewake`: a child set `C` watches pipe 1
/// (edge-triggered, data 1) and pipe 2 (level-triggered, data 2); a parent set `P`
/// watches `C` (level-triggered, data 100). Thread `W` (CPU 0) waits on `P`, then takes
/// `C`'s events with a zero timeout, then waits on `P` again. Thread `w1` (CPU 1) writes
/// pipe 1, thread `w2` (CPU 2) writes pipe 2. Each write's callback on `C` wakes `C`'s
/// pollers — `P`'s callback — through `ep_poll_safewake(&psw, &C->poll_wait)`. Needs
/// three CPUs.
pub fn nested_two_writers<G: Granularity>(world: &mut World<G>, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let c = k.sys_epoll_create(1).await.unwrap();
        let parent = k.sys_epoll_create(1).await.unwrap();
        let [_, w1] = watched_pipe(&k, c, ET, 1, false).await;
        let [_, w2] = watched_pipe(&k, c, LT, 2, false).await;
        k.sys_epoll_ctl(
            parent,
            EPOLL_CTL_ADD,
            c,
            Some(EpollEvent {
                events: LT,
                data: 100,
            }),
        )
        .await
        .unwrap();
        let l = log.clone();
        k.spawn_thread("W", Some(CpuId(0)), move |k| async move {
            let got = k
                .sys_epoll_wait(parent, UserBufferSpec::default(), 4, -1)
                .await;
            push(&l, "W", format!("P: {}", show(&got)));
            let got = k.sys_epoll_wait(c, UserBufferSpec::default(), 4, 0).await;
            push(&l, "W", format!("C: {}", show(&got)));
            let got = k
                .sys_epoll_wait(parent, UserBufferSpec::default(), 4, -1)
                .await;
            push(&l, "W", format!("P: {}", show(&got)));
        });
        let l = log.clone();
        k.spawn_thread("w1", Some(CpuId(1)), move |k| async move {
            let got = k.sys_write(w1, b"1").await;
            push(&l, "w1", format!("{got:?}"));
        });
        let l = log.clone();
        k.spawn_thread("w2", Some(CpuId(2)), move |k| async move {
            let got = k.sys_write(w2, b"2").await;
            push(&l, "w2", format!("{got:?}"));
        });
    });
}

// ---- scenarios of the injection tests ----------------------------------------------------

/// A set watching an externally fed socket; a thread on CPU 0 waits on it, and data
/// arrives at 50 µs as an interrupt on CPU 0 (`net_deliver` in interrupt context), so
/// `ep_poll_callback` takes `ep->lock` in interrupt context on the CPU whose task takes
/// it in process context.
pub fn irq_socket<G: Granularity>(world: &mut World<G>, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let s = k.sys_socket_external().await.unwrap();
        k.sys_epoll_ctl(
            ep,
            EPOLL_CTL_ADD,
            s,
            Some(EpollEvent {
                events: LT,
                data: 7,
            }),
        )
        .await
        .unwrap();
        let l = log.clone();
        k.spawn_thread("waiter", Some(CpuId(0)), move |k| async move {
            let got = k.sys_epoll_wait(ep, UserBufferSpec::default(), 4, -1).await;
            push(&l, "waiter", show(&got));
        });
    });
    world.interrupt(50_000, Some(CpuId(0)), "net:rx", |k| async move {
        if let Some(sock) = k.external_socket(0) {
            k.net_deliver(sock, b"x").await;
        }
    });
}

/// `epoll_ctl(EPOLL_CTL_DEL)` of a pipe on CPU 0 while a thread on CPU 1 writes into
/// it: the DEL unhooks the item from the pipe's wait queue while the write's wake-up
/// may be calling its `ep_poll_callback`.
pub fn del_while_writing<G: Granularity>(world: &mut World<G>, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = watched_pipe(&k, ep, LT, 1, false).await;
        let l = log.clone();
        k.spawn_thread("deleter", Some(CpuId(0)), move |k| async move {
            let got = k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await;
            push(&l, "deleter", format!("{got:?}"));
        });
        let l = log.clone();
        k.spawn_thread("writer", Some(CpuId(1)), move |k| async move {
            let got = k.sys_write(w, b"y").await;
            push(&l, "writer", format!("{got:?}"));
        });
    });
}

/// A parent set `P` watching a child set `C` that watches a pipe; a thread waits on
/// `P` (CPU 0) while another writes the pipe (CPU 1): the write's callback on `C` wakes
/// `C`'s pollers, `P`'s callback among them, through `ep_poll_safewake`.
pub fn nested_one_writer<G: Granularity>(world: &mut World<G>, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let c = k.sys_epoll_create(1).await.unwrap();
        let parent = k.sys_epoll_create(1).await.unwrap();
        let [_, w] = watched_pipe(&k, c, LT, 1, false).await;
        k.sys_epoll_ctl(
            parent,
            EPOLL_CTL_ADD,
            c,
            Some(EpollEvent {
                events: LT,
                data: 100,
            }),
        )
        .await
        .unwrap();
        let l = log.clone();
        k.spawn_thread("waiter", Some(CpuId(0)), move |k| async move {
            let got = k
                .sys_epoll_wait(parent, UserBufferSpec::default(), 4, -1)
                .await;
            push(&l, "waiter", show(&got));
        });
        let l = log.clone();
        k.spawn_thread("writer", Some(CpuId(1)), move |k| async move {
            let got = k.sys_write(w, b"y").await;
            push(&l, "writer", format!("{got:?}"));
        });
    });
}

/// Case 5 with a ONESHOT item: a ready level-triggered ONESHOT pipe `a` (delivered,
/// then disarmed — its mask keeps only the private bits — and re-initialised after
/// `smp_mb()`), and a writer on CPU 1 that writes `a` during the transfer. The waiter
/// then looks again with a zero timeout.
pub fn oneshot_callback<G: Granularity>(world: &mut World<G>, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [_, a] = watched_pipe(&k, ep, EPOLLIN | EPOLLONESHOT, 1, true).await;
        let l = log.clone();
        k.spawn_thread("waiter", Some(CpuId(0)), move |k| async move {
            let got = k.sys_epoll_wait(ep, UserBufferSpec::default(), 4, -1).await;
            let again = k.sys_epoll_wait(ep, UserBufferSpec::default(), 4, 0).await;
            push(
                &l,
                "waiter",
                format!("{} then {}", show(&got), show(&again)),
            );
        });
        let l = log.clone();
        k.spawn_thread("writer", Some(CpuId(1)), move |k| async move {
            let got = k.sys_write(a, b"y").await;
            push(&l, "writer", format!("{got:?}"));
        });
    });
}

/// Two waiters on one CPU and an externally fed socket (the 2.6.21 busy loop, digest
/// §3.28). Data arrives at 5 µs and again at 15 µs (interrupts on CPU 1); `main` waits
/// for the first before it starts the waiters, so the item is on the ready list (a
/// level-triggered item stays there). `waiter0` waits with an event buffer whose page
/// is not resident: its first `__put_user` sleeps for a fault while it holds the item
/// it took; `waiter1`, on the same CPU, then waits too. The second data's callback
/// queues the item again while `waiter0` still has it.
pub fn two_waiters_one_cpu_fault<G: Granularity>(world: &mut World<G>, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let s = k.sys_socket_external().await.unwrap();
        k.sys_epoll_ctl(
            ep,
            EPOLL_CTL_ADD,
            s,
            Some(EpollEvent {
                events: LT,
                data: 7,
            }),
        )
        .await
        .unwrap();
        let first = k.sys_epoll_wait(ep, UserBufferSpec::default(), 1, -1).await;
        push(&log, "main", show(&first));
        let l = log.clone();
        k.spawn_thread("waiter0", Some(CpuId(0)), move |k| async move {
            let buffer = UserBufferSpec {
                not_resident: true,
                ..UserBufferSpec::default()
            };
            let got = k.sys_epoll_wait(ep, buffer, 1, -1).await;
            push(&l, "waiter0", show(&got));
        });
        let l = log.clone();
        k.spawn_thread("waiter1", Some(CpuId(0)), move |k| async move {
            let got = k.sys_epoll_wait(ep, UserBufferSpec::default(), 1, -1).await;
            push(&l, "waiter1", show(&got));
        });
    });
    for (time, label) in [(5_000, "net:rx1"), (15_000, "net:rx2")] {
        world.interrupt(time, Some(CpuId(1)), label, |k| async move {
            if let Some(sock) = k.external_socket(0) {
                k.net_deliver(sock, b"x").await;
            }
        });
    }
}
