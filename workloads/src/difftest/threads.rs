//! `epsim difftest --threads`: programs of two or three threads whose outcome is a set.
//! Each program runs natively many times (a forked child per run, threads made in the
//! child) to collect the outcomes the host produced; then the simulator explores the
//! same program as a scenario (`--kernel 6.18`, `tso`, timed, random and PCT schedules in
//! turn at access and syscall granularity: `SCHEDULES`) until it has seen every host outcome, or its budget runs out — an
//! outcome the host produced and the simulator never reached is reported by name: it
//! would show the simulated machine stronger than the hardware, or an interleaving the
//! port cannot make.

use std::collections::BTreeSet;
use std::io::Write;

use kernel_model::KernelVersion;
use serde::Serialize;
use sim::{GranularityKind, MemoryModel, StrategyKind};

use super::program::{errno_name, Call};
use crate::api;
use crate::exit::{CliError, Exit};

/// A step of one thread.
#[derive(Clone, Debug)]
pub enum Step {
    /// A call whose result is part of the outcome.
    Call(Call),
    /// `epoll_wait(epfd, maxevents, timeout_ms)`, blocking up to the timeout.
    Wait {
        epfd: i32,
        maxevents: i32,
        timeout_ms: i32,
    },
    /// Sleep (not part of the outcome).
    Sleep { ms: u64 },
}

/// A program: setup calls in `main` (not part of the outcome), then the threads, which
/// start together; `main`'s own steps run beside them.
#[derive(Clone, Debug)]
pub struct ThreadProgram {
    pub name: String,
    pub description: String,
    pub setup: Vec<Call>,
    /// (name, steps); the last is `main` itself.
    pub threads: Vec<(&'static str, Vec<Step>)>,
}

/// Every thread's results in a run, threads by name: `a: 1 [EPOLLIN:4]; b: 0; main: 1`.
pub type Outcome = String;

fn add(epfd: i32, fd: i32, mask: u32, data: u64) -> Call {
    Call::EpollCtl {
        epfd,
        op: kernel_model::poll::EPOLL_CTL_ADD,
        fd,
        event: Some((mask, data)),
    }
}

/// The fixed corpus, six programs written by hand (fds: 3 the first set, 4 and 5 the
/// pipe, 6 a second set): `epsim difftest --threads` without `--programs`. The generated
/// programs are [`super::thread_generate`]'s.
pub fn programs() -> Vec<ThreadProgram> {
    use kernel_model::poll::{EPOLLET, EPOLLEXCLUSIVE, EPOLLIN, EPOLL_CTL_DEL, EPOLL_CTL_MOD};
    let wait = |epfd| Step::Wait {
        epfd,
        maxevents: 1,
        timeout_ms: 30,
    };
    let write = Step::Call(Call::Write { fd: 5, len: 1 });
    let base = vec![Call::EpollCreate1 { flags: 0 }, Call::Pipe];
    vec![
        ThreadProgram {
            name: "lt-two-waiters".into(),
            description: "two threads wait on one set for a level-triggered pipe; main writes one byte".into(),
            setup: [base.clone(), vec![add(3, 4, EPOLLIN, 4)]].concat(),
            threads: vec![
                ("a", vec![wait(3)]),
                ("b", vec![wait(3)]),
                ("main", vec![Step::Sleep { ms: 5 }, write.clone()]),
            ],
        },
        ThreadProgram {
            name: "et-two-waiters".into(),
            description: "two threads wait on one set for an edge-triggered pipe; main writes one byte".into(),
            setup: [base.clone(), vec![add(3, 4, EPOLLIN | EPOLLET, 4)]].concat(),
            threads: vec![
                ("a", vec![wait(3)]),
                ("b", vec![wait(3)]),
                ("main", vec![Step::Sleep { ms: 5 }, write.clone()]),
            ],
        },
        ThreadProgram {
            name: "exclusive-two-sets".into(),
            description: "two sets watch one pipe with EPOLLEXCLUSIVE, a thread waits on each; main writes one byte".into(),
            setup: [
                base.clone(),
                vec![
                    Call::EpollCreate1 { flags: 0 },
                    add(3, 4, EPOLLIN | EPOLLEXCLUSIVE, 3),
                    add(6, 4, EPOLLIN | EPOLLEXCLUSIVE, 6),
                ],
            ]
            .concat(),
            threads: vec![
                ("a", vec![wait(3)]),
                ("b", vec![wait(6)]),
                ("main", vec![Step::Sleep { ms: 5 }, write.clone()]),
            ],
        },
        ThreadProgram {
            name: "write-races-mod".into(),
            description: "a write races an EPOLL_CTL_MOD of an edge-triggered item; then main waits without blocking".into(),
            setup: [base.clone(), vec![add(3, 4, EPOLLIN | EPOLLET, 4)]].concat(),
            threads: vec![
                ("a", vec![write.clone()]),
                (
                    "b",
                    vec![Step::Call(Call::EpollCtl {
                        epfd: 3,
                        op: EPOLL_CTL_MOD,
                        fd: 4,
                        event: Some((EPOLLIN | EPOLLET, 40)),
                    })],
                ),
                (
                    "main",
                    vec![
                        Step::Sleep { ms: 5 },
                        Step::Call(Call::EpollWait {
                            kind: super::program::WaitKind::Wait,
                            epfd: 3,
                            maxevents: 4,
                        }),
                    ],
                ),
            ],
        },
        ThreadProgram {
            name: "write-races-del".into(),
            description: "a waiter, a write and an EPOLL_CTL_DEL of the item race".into(),
            setup: [base.clone(), vec![add(3, 4, EPOLLIN, 4)]].concat(),
            threads: vec![
                ("a", vec![wait(3)]),
                (
                    "b",
                    vec![Step::Call(Call::EpollCtl {
                        epfd: 3,
                        op: EPOLL_CTL_DEL,
                        fd: 4,
                        event: None,
                    })],
                ),
                ("main", vec![write.clone()]),
            ],
        },
        ThreadProgram {
            name: "close-races-wait".into(),
            description: "a thread waits while another closes the watched descriptor and main writes".into(),
            setup: [base, vec![add(3, 4, EPOLLIN, 4)]].concat(),
            threads: vec![
                ("a", vec![wait(3)]),
                ("b", vec![Step::Call(Call::Close { fd: 4 })]),
                ("main", vec![Step::Sleep { ms: 1 }, write]),
            ],
        },
    ]
}

impl ThreadProgram {
    /// The program as a scenario (no expectations: its outcome is a set).
    pub fn scenario_text(&self) -> String {
        let mut text = format!(
            "scenario {}\ndescription \"{}\"\nkernel 6.18\ncpus 3\n\nprocess app {{\n    task main {{\n",
            self.name, self.description
        );
        for call in &self.setup {
            text.push_str(&format!("        {}\n", call.statement()));
        }
        let step_text = |step: &Step| match step {
            Step::Call(c) => format!("r = {}", c.statement()),
            Step::Wait {
                epfd,
                maxevents,
                timeout_ms,
            } => format!("evs = epoll_wait({epfd}, {maxevents}, {timeout_ms})"),
            Step::Sleep { ms } => format!("sleep {ms}ms"),
        };
        for (name, steps) in &self.threads {
            if *name == "main" {
                continue;
            }
            text.push_str(&format!("        thread {name} {{\n"));
            for step in steps {
                text.push_str(&format!("            {}\n", step_text(step)));
            }
            text.push_str("        }\n");
        }
        if let Some((_, steps)) = self.threads.iter().find(|(n, _)| *n == "main") {
            for step in steps {
                text.push_str(&format!("        {}\n", step_text(step)));
            }
        }
        text.push_str("    }\n}\n");
        text
    }
}

fn result_text(ret: i64, errno: Option<&str>, events: &[(String, u64)]) -> String {
    match errno {
        Some(e) => format!("-1 {e}"),
        None if events.is_empty() => ret.to_string(),
        None => {
            let items: Vec<String> = events.iter().map(|(m, d)| format!("{m}:{d}")).collect();
            format!("{ret} [{}]", items.join(", "))
        }
    }
}

/// The outcome of one simulated run: each thread's observed calls, threads by name.
fn sim_outcome(program: &ThreadProgram, run: &api::Run) -> Outcome {
    let mut parts = Vec::new();
    let mut names: Vec<&str> = program.threads.iter().map(|(n, _)| *n).collect();
    names.sort();
    for name in names {
        let mut calls: Vec<&api::Call> = run.calls.iter().filter(|c| c.task == name).collect();
        if name == "main" {
            calls.drain(..program.setup.len().min(calls.len()));
        }
        let texts: Vec<String> = calls
            .iter()
            .map(|c| {
                let events: Vec<(String, u64)> = c
                    .events
                    .iter()
                    .map(|e| (e.events.clone(), e.data))
                    .collect();
                result_text(c.ret, c.errno.as_deref(), &events)
            })
            .collect();
        parts.push(format!("{name}: {}", texts.join(", ")));
    }
    parts.join("; ")
}

/// What one program gave on both sides.
#[derive(Clone, Debug, Serialize)]
pub struct ProgramReport {
    pub program: String,
    pub host_outcomes: Vec<String>,
    pub sim_outcomes: Vec<String>,
    /// Host outcomes the simulator never reached within its budget.
    pub unreached: Vec<String>,
    pub native_runs: u64,
    pub sim_runs: u64,
}

/// The schedules a program's simulated runs take in turn (run `i` has seed `i`). Timed
/// (earliest clock first, ties broken by the seed) is the host's timeline with the
/// sleeps honoured; random and PCT schedules also delay a task past the others' sleeps
/// and timeouts, as a loaded host does. At access granularity they interleave every
/// shared-memory access (what a memory model stronger than the hardware would hide); at
/// syscall granularity (sequentially consistent: nothing finer to reorder) a run has far
/// fewer decisions, so PCT's change points land on the windows between two system calls
/// of one thread far more often.
const SCHEDULES: [(StrategyKind, GranularityKind, MemoryModel); 5] = [
    (
        StrategyKind::Timed,
        GranularityKind::Access,
        MemoryModel::Tso,
    ),
    (
        StrategyKind::Random,
        GranularityKind::Access,
        MemoryModel::Tso,
    ),
    (StrategyKind::Pct, GranularityKind::Access, MemoryModel::Tso),
    (
        StrategyKind::Random,
        GranularityKind::Syscall,
        MemoryModel::Sc,
    ),
    (StrategyKind::Pct, GranularityKind::Syscall, MemoryModel::Sc),
];

/// Runs every program: `native_runs` times on the host, then up to `sim_runs` schedules.
pub fn run(
    native_runs: u64,
    sim_runs: u64,
    programs: &[ThreadProgram],
) -> Result<Vec<ProgramReport>, CliError> {
    let mut reports = Vec::new();
    for program in programs {
        let mut host = BTreeSet::new();
        for _ in 0..native_runs {
            host.insert(native::run(program)?);
        }
        let scenario = api::parse(&format!("{}.scn", program.name), &program.scenario_text())
            .map_err(|e| CliError::failed(format!("difftest --threads: {e}")))?;
        let mut sim = BTreeSet::new();
        let mut runs = 0;
        while runs < sim_runs && !host.is_subset(&sim) {
            let (strategy, granularity, model) =
                SCHEDULES[(runs % SCHEDULES.len() as u64) as usize];
            let options = api::RunOptions::new()
                .kernel(KernelVersion::V6_18)
                .cpus(3)
                .granularity(granularity)
                .model(model)
                .strategy(strategy)
                .seed(runs);
            let run = api::run(&scenario, &options)
                .map_err(|e| CliError::failed(format!("difftest --threads: {e}")))?;
            sim.insert(sim_outcome(program, &run));
            runs += 1;
        }
        reports.push(ProgramReport {
            program: program.name.to_string(),
            unreached: host.difference(&sim).cloned().collect(),
            host_outcomes: host.into_iter().collect(),
            sim_outcomes: sim.into_iter().collect(),
            native_runs,
            sim_runs: runs,
        });
    }
    Ok(reports)
}

/// Which threaded programs to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The six programs written by hand ([`programs`]).
    Corpus,
    /// `programs` generated programs of seed `seed` ([`super::thread_generate`]).
    Generated { programs: u64, seed: u64 },
}

impl Source {
    pub fn programs(self) -> Vec<ThreadProgram> {
        match self {
            Source::Corpus => programs(),
            Source::Generated { programs, seed } => (0..programs)
                .map(|i| super::thread_generate::program(seed, i))
                .collect(),
        }
    }
}

/// The totals over every program of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub programs: usize,
    pub native_runs: u64,
    pub host_outcomes: usize,
    pub reached: usize,
    pub unreached: usize,
    pub sim_runs: u64,
}

pub fn totals(reports: &[ProgramReport]) -> Totals {
    let mut t = Totals {
        programs: reports.len(),
        ..Totals::default()
    };
    for r in reports {
        t.native_runs += r.native_runs;
        t.host_outcomes += r.host_outcomes.len();
        t.unreached += r.unreached.len();
        t.sim_runs += r.sim_runs;
    }
    t.reached = t.host_outcomes - t.unreached;
    t
}

/// `epsim difftest --threads [--programs N --seed S]`. With the corpus every program's
/// outcomes are listed; with generated programs one line a program, the outcomes only of
/// a program with an unreached one (and its scenario text, to run it again).
pub fn command(
    source: Source,
    native_runs: u64,
    sim_runs: u64,
    json: bool,
    out: &mut dyn Write,
) -> Result<Exit, CliError> {
    let programs = source.programs();
    let reports = run(native_runs, sim_runs, &programs)?;
    let totals = totals(&reports);
    if json {
        let value = serde_json::json!({
            "programs": reports,
            "unreached": totals.unreached,
            "totals": totals,
        });
        writeln!(out, "{value}")?;
    } else {
        let listed = source == Source::Corpus;
        for (r, program) in reports.iter().zip(&programs) {
            writeln!(
                out,
                "{}: {} host outcome(s) in {} native runs; the simulator reached {} of them in {} runs ({} outcome(s) in all)",
                r.program,
                r.host_outcomes.len(),
                r.native_runs,
                r.host_outcomes.len() - r.unreached.len(),
                r.sim_runs,
                r.sim_outcomes.len()
            )?;
            if !listed && r.unreached.is_empty() {
                continue;
            }
            if !listed {
                writeln!(out, "  {}", program.description)?;
            }
            for o in &r.host_outcomes {
                let mark = if r.unreached.contains(o) {
                    "NOT REACHED"
                } else {
                    "reached"
                };
                writeln!(out, "  host  {o}   ({mark})")?;
            }
            for o in r
                .sim_outcomes
                .iter()
                .filter(|o| !r.host_outcomes.contains(o))
            {
                writeln!(out, "  sim   {o}   (not seen on the host)")?;
            }
            if !listed {
                for line in program.scenario_text().lines() {
                    writeln!(out, "  | {line}")?;
                }
            }
        }
        writeln!(
            out,
            "{} program(s), {} native runs, {} host outcome(s): {} reached, {} not reached ({} simulated runs)",
            totals.programs,
            totals.native_runs,
            totals.host_outcomes,
            totals.reached,
            totals.unreached,
            totals.sim_runs
        )?;
    }
    Ok(if totals.unreached == 0 {
        Exit::Clean
    } else {
        Exit::Failed
    })
}

/// The host side of a threaded program.
mod native {
    use super::*;
    use std::sync::Barrier;

    const SHARED_BYTES: usize = 1 << 16;

    fn errno() -> i32 {
        // SAFETY: the thread's errno location.
        unsafe { *libc::__errno_location() }
    }

    /// One step on the host; `None` for a sleep.
    fn step(step: &Step) -> Option<String> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: plain system calls on the child's own descriptors and buffers.
        let (ret, n) = unsafe {
            match step {
                Step::Sleep { ms } => {
                    std::thread::sleep(std::time::Duration::from_millis(*ms));
                    return None;
                }
                Step::Wait {
                    epfd,
                    maxevents,
                    timeout_ms,
                } => {
                    let r = libc::epoll_wait(*epfd, events.as_mut_ptr(), *maxevents, *timeout_ms);
                    (r as i64, r.max(0) as usize)
                }
                Step::Call(Call::EpollWait {
                    epfd, maxevents, ..
                }) => {
                    let r = libc::epoll_wait(*epfd, events.as_mut_ptr(), *maxevents, 0);
                    (r as i64, r.max(0) as usize)
                }
                Step::Call(Call::EpollCtl {
                    epfd,
                    op,
                    fd,
                    event,
                }) => {
                    let (mask, data) = event.unwrap_or((0, 0));
                    let mut ev = libc::epoll_event {
                        events: mask,
                        u64: data,
                    };
                    let ptr = if event.is_some() {
                        &mut ev as *mut libc::epoll_event
                    } else {
                        std::ptr::null_mut()
                    };
                    (libc::epoll_ctl(*epfd, *op, *fd, ptr) as i64, 0)
                }
                Step::Call(Call::Write { fd, len }) => {
                    let bytes = vec![b'x'; *len];
                    (libc::write(*fd, bytes.as_ptr().cast(), *len) as i64, 0)
                }
                Step::Call(Call::Close { fd }) => (libc::close(*fd) as i64, 0),
                Step::Call(Call::Read { fd, len }) => {
                    let mut bytes = vec![0u8; *len];
                    (libc::read(*fd, bytes.as_mut_ptr().cast(), *len) as i64, 0)
                }
                Step::Call(other) => unreachable!("not a threaded step: {other:?}"),
            }
        };
        let errno = (ret < 0).then(|| errno_name(errno()));
        let list: Vec<(String, u64)> = events[..n]
            .iter()
            .map(|e| {
                let (mask, data) = (e.events, e.u64);
                (kernel_model::poll::mask_to_string(mask), data)
            })
            .collect();
        Some(result_text(ret.max(-1), errno.as_deref(), &list))
    }

    /// A setup call (a set, a pipe, an ADD), its result unchecked: the threaded steps'
    /// results show what it did.
    unsafe fn setup_call(call: &Call) {
        match *call {
            Call::EpollCreate1 { flags } => {
                libc::epoll_create1(flags);
            }
            Call::Pipe => {
                let mut fds = [0i32; 2];
                libc::pipe2(fds.as_mut_ptr(), 0);
            }
            Call::FcntlSetfl { fd, flags } => {
                libc::fcntl(fd, libc::F_SETFL, flags as libc::c_int);
            }
            Call::EpollCtl {
                epfd,
                op,
                fd,
                event,
            } => {
                let (mask, data) = event.unwrap_or((0, 0));
                let mut ev = libc::epoll_event {
                    events: mask,
                    u64: data,
                };
                libc::epoll_ctl(epfd, op, fd, &mut ev);
            }
            ref other => unreachable!("not a setup call: {other:?}"),
        }
    }

    /// One run in a fresh child: setup, then the threads together.
    pub fn run(program: &ThreadProgram) -> Result<Outcome, CliError> {
        // Unmapped below.
        let shared = crate::difftest::native::map_shared(SHARED_BYTES)
            .map_err(|_| CliError::failed("difftest --threads: cannot map memory"))?;
        // SAFETY: the child runs the program and _exits; only this thread exists in the
        // parent while `--threads` runs.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: in the child.
            unsafe {
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
                for call in &program.setup {
                    setup_call(call);
                }
            }
            let barrier = Barrier::new(program.threads.len());
            let outcome = std::thread::scope(|scope| {
                let handles: Vec<_> = program
                    .threads
                    .iter()
                    .map(|(name, steps)| {
                        let barrier = &barrier;
                        scope.spawn(move || {
                            barrier.wait();
                            let texts: Vec<String> = steps.iter().filter_map(step).collect();
                            (*name, texts.join(", "))
                        })
                    })
                    .collect();
                let mut parts: Vec<(&str, String)> = handles
                    .into_iter()
                    .map(|h| h.join().expect("a thread"))
                    .collect();
                parts.sort();
                parts
                    .into_iter()
                    .map(|(n, t)| format!("{n}: {t}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            let bytes = outcome.as_bytes();
            let len = bytes.len().min(SHARED_BYTES - 4);
            // SAFETY: within the mapping.
            unsafe {
                std::ptr::copy_nonoverlapping((len as u32).to_le_bytes().as_ptr(), shared, 4);
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), shared.add(4), len);
                libc::_exit(0);
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our child; then reading what it wrote and unmapping.
        let outcome = unsafe {
            libc::waitpid(pid, &mut status, 0);
            let mut len = [0u8; 4];
            std::ptr::copy_nonoverlapping(shared, len.as_mut_ptr(), 4);
            let len = u32::from_le_bytes(len) as usize;
            let text = std::slice::from_raw_parts(shared.add(4), len.min(SHARED_BYTES - 4));
            let text = String::from_utf8_lossy(text).into_owned();
            libc::munmap(shared.cast(), SHARED_BYTES);
            text
        };
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            return Err(CliError::failed(format!(
                "difftest --threads: the host run of {} ended with status {status:#x}",
                program.name
            )));
        }
        Ok(outcome)
    }
}
