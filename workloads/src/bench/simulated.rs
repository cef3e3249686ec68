//! The same workloads on the simulated kernel, through the same generic port that
//! `run` and `explore` use, in its fast context (syscall granularity, trace records
//! off, one CPU). Time is measured inside the task around the measured loop only, so
//! setup (creating the pipes) is excluded exactly as on the native side.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use kernel_model::poll::{EPOLLIN, EPOLL_CTL_ADD};
use kernel_model::user::UserBufferSpec;
use kernel_model::{EpollEvent, Kernel, KernelVersion, Options, World};
use sim::strategy::Canonical;
use sim::{CpuId, Granularity, GranularityKind, MemoryModel, Scheduler};

/// What one simulated measurement produced.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimMeasurement {
    pub elapsed: Duration,
    pub delivered: u64,
    /// `f_op->poll` calls during the measured loop (proof of work).
    pub polls: u64,
    /// `ep_poll_callback` runs during the measured loop.
    pub callbacks: u64,
}

fn options(
    granularity: GranularityKind,
    model: MemoryModel,
    kernel: Option<KernelVersion>,
) -> Options {
    let mut options = Options::default();
    if let Some(version) = kernel {
        options.kernel.version = version;
    }
    options.machine.cpus = 1;
    options.machine.granularity = granularity;
    options.machine.model = model;
    options.machine.max_steps = u64::MAX;
    options
}

/// Creates `n` pipes watched LT/EPOLLIN with data = index; returns (epfd, write ends).
async fn make_set<G: Granularity>(k: &Kernel<G>, n: usize) -> (i32, Vec<[i32; 2]>) {
    let ep = k.sys_epoll_create(1).await.expect("epoll_create");
    let mut pipes = Vec::with_capacity(n);
    for i in 0..n {
        let fds = k.sys_pipe().await.expect("pipe");
        k.sys_epoll_ctl(
            ep,
            EPOLL_CTL_ADD,
            fds[0],
            Some(EpollEvent {
                events: EPOLLIN,
                data: i as u64,
            }),
        )
        .await
        .expect("epoll_ctl");
        pipes.push(fds);
    }
    (ep, pipes)
}

/// Runs `body` as the only task of a fresh machine and returns what it measured.
fn measure<G, F, B>(options: &Options, nofile: usize, body: B) -> SimMeasurement
where
    G: Granularity,
    B: FnOnce(Rc<Kernel<G>>, Rc<Cell<SimMeasurement>>) -> F,
    F: std::future::Future<Output = ()> + 'static,
{
    let mut world = World::<G>::new(options, 0xbe9c).expect("bench options are valid");
    let p = world.process("bench");
    world.kernel().set_nofile_limit(p, nofile);
    let result = Rc::new(Cell::new(SimMeasurement::default()));
    let out = result.clone();
    world.spawn(p, "bench", Some(CpuId(0)), move |k| body(k, out));
    let mut strategy = Canonical::default();
    strategy.begin_execution();
    world.run(&mut strategy);
    result.get()
}

/// `calls` × `epoll_wait(ep, max, 0)`, timed, with the work counters.
async fn timed_waits<G: Granularity>(
    k: &Kernel<G>,
    ep: i32,
    max: usize,
    calls: u64,
) -> SimMeasurement {
    let polls = k.counters.f_op_poll.get();
    let callbacks = k.counters.callbacks.get();
    let start = Instant::now();
    let mut delivered = 0;
    for _ in 0..calls {
        let events = k
            .sys_epoll_wait(ep, UserBufferSpec::default(), max as i32, 0)
            .await
            .expect("epoll_wait");
        delivered += events.len() as u64;
    }
    SimMeasurement {
        elapsed: start.elapsed(),
        delivered,
        polls: k.counters.f_op_poll.get() - polls,
        callbacks: k.counters.callbacks.get() - callbacks,
    }
}

/// epwbench: `n` always-readable pipes, `epoll_wait(n, 0)` `calls` times.
/// `kernel`: the version to run (`None`: the default).
pub fn transfer<G: Granularity>(
    n: usize,
    calls: u64,
    model: MemoryModel,
    kernel: Option<KernelVersion>,
) -> SimMeasurement {
    let options = options(G::KIND, model, kernel);
    measure::<G, _, _>(&options, n * 2 + 16, move |k, out| async move {
        let (ep, pipes) = make_set(&k, n).await;
        for fds in &pipes {
            k.sys_write(fds[1], b"x").await.expect("write");
        }
        out.set(timed_waits(&k, ep, n, calls).await);
    })
}

/// The write/wait/read mix over `p` pipes with `k` writes per round.
pub fn mix(
    p: usize,
    writes: usize,
    rounds: u64,
    seed: u64,
    kernel: Option<KernelVersion>,
) -> SimMeasurement {
    let options = options(GranularityKind::Syscall, MemoryModel::Sc, kernel);
    measure::<sim::SyscallSteps, _, _>(&options, p * 2 + 16, move |k, out| async move {
        let (ep, pipes) = make_set(&k, p).await;
        let mut rng = sim::rng::Rng::new(seed);
        let mut chosen = Vec::with_capacity(writes);
        let polls = k.counters.f_op_poll.get();
        let callbacks = k.counters.callbacks.get();
        let start = Instant::now();
        let mut delivered = 0;
        for _ in 0..rounds {
            super::native::pick_distinct(&mut rng, p, writes, &mut chosen);
            for &i in &chosen {
                k.sys_write(pipes[i][1], b"x").await.expect("write");
            }
            let events = k
                .sys_epoll_wait(ep, UserBufferSpec::default(), writes as i32, -1)
                .await
                .expect("epoll_wait");
            for event in &events {
                k.sys_read(pipes[event.data as usize][0], 64)
                    .await
                    .expect("read");
            }
            delivered += events.len() as u64;
        }
        out.set(SimMeasurement {
            elapsed: start.elapsed(),
            delivered,
            polls: k.counters.f_op_poll.get() - polls,
            callbacks: k.counters.callbacks.get() - callbacks,
        });
    })
}

/// Resident-set growth while building a scale set, in two phases.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScaleMemory {
    /// The `watched` pipes, created before any of them is watched (`sys_pipe`: two
    /// `struct file`s and their descriptors, the pipe, its wait queue and mutex).
    pub pipes: u64,
    /// The `epoll_ctl(ADD)`s alone, over those pipes: what watching costs (an epitem,
    /// its eppoll_entry and wait entry, its place in the set), like the kernel's
    /// epitem + eppoll_entry.
    pub watches: u64,
}

/// A set of `watched` pipes of which `ready` are readable; `epoll_wait(ready, 0)`
/// `calls` times. Also returns the resident-memory growth of building the set: first
/// every pipe, then every watch, measured apart.
pub fn scale(
    watched: usize,
    ready: usize,
    calls: u64,
    kernel: Option<KernelVersion>,
) -> (SimMeasurement, ScaleMemory) {
    let options = options(GranularityKind::Syscall, MemoryModel::Sc, kernel);
    fix_mmap_threshold();
    let memory = Rc::new(Cell::new(ScaleMemory::default()));
    let memory_out = memory.clone();
    let measurement =
        measure::<sim::SyscallSteps, _, _>(&options, watched * 2 + 16, move |k, out| async move {
            let ep = k.sys_epoll_create(1).await.expect("epoll_create");
            let before = settled_resident_bytes();
            let mut pipes = Vec::with_capacity(watched);
            for _ in 0..watched {
                pipes.push(k.sys_pipe().await.expect("pipe"));
            }
            let pipes_built = settled_resident_bytes();
            for (i, fds) in pipes.iter().enumerate() {
                let event = EpollEvent {
                    events: EPOLLIN,
                    data: i as u64,
                };
                k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], Some(event))
                    .await
                    .expect("epoll_ctl");
            }
            let watches_built = settled_resident_bytes();
            memory_out.set(ScaleMemory {
                pipes: pipes_built.saturating_sub(before),
                watches: watches_built.saturating_sub(pipes_built),
            });
            for fds in pipes.iter().take(ready) {
                k.sys_write(fds[1], b"x").await.expect("write");
            }
            out.set(timed_waits(&k, ep, ready, calls).await);
        });
    (measurement, memory.get())
}

/// Makes glibc serve every allocation of 128 KiB or more with a mapping of its own, as
/// it does by default until freeing such a mapping makes it raise the threshold. With
/// a raised threshold a large vector that grows is copied within the heap, and what its
/// old copies leave resident made a phase's growth depend on where the doublings fell:
/// 337 to 439 bytes per watch between N = 50k and 150k, where with the threshold fixed
/// the figure is the same at every N. Process-wide and permanent, but it concerns only
/// allocations that large.
fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt has no preconditions.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// [`resident_bytes`] once the allocator has given back the free memory it can
/// (`malloc_trim`): otherwise a phase's garbage (the old buffers of vectors that grew)
/// would be reused by the next phase and hide part of the next phase's growth.
pub fn settled_resident_bytes() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
    resident_bytes()
}

/// Resident set size of this process (Linux `/proc/self/statm`), in bytes.
pub fn resident_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(4096) as u64
}
