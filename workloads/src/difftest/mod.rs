//! `epsim difftest`: differential testing of the `6.18` port against the host kernel.
//! Random single-threaded programs ([`generate`]) run natively in a forked child
//! ([`native`]) and on the simulated 6.18 kernel ([`simulated`]); every return value,
//! errno and returned event list is compared, in order. The first divergence is shrunk
//! ([`shrink`]) to a minimal program and written as a scenario whose `expect` lines hold
//! the host's results. See docs/difftest.md.

pub mod generate;
pub mod native;
pub mod program;
pub mod shrink;
pub mod simulated;
pub mod thread_generate;
pub mod threads;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::exit::{CliError, Exit};
use program::{Call, CallOutcome};

/// Calls in a generated program: at least this many ...
pub const CALLS_MIN: usize = 4;
/// ... and at most this many (macro steps may add a few past it).
pub const CALLS_MAX: usize = 40;
/// `--programs` when not given (single-threaded programs).
pub const DEFAULT_PROGRAMS: u64 = 10_000;
/// Programs a worker takes at a time.
const CHUNK: u64 = 32;

/// A hook that changes the simulated results before they are compared: how the tests
/// show that a wrong simulated result is caught. `None` in the command.
pub type Perturb = fn(&Call, &mut CallOutcome);

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    pub programs: u64,
    pub seed: u64,
    pub jobs: usize,
    /// Where the shrunk divergence's scenario is written.
    pub scenario_dir: PathBuf,
    pub perturb: Option<Perturb>,
    pub progress: bool,
}

/// The seed of program `index` of a run seeded `seed` (splitmix64 of the pair).
pub fn program_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(index)
        .wrapping_add(0x6a09_e667_f3bc_c909);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Program `index` of a run seeded `seed`.
pub fn program(seed: u64, index: u64) -> Vec<Call> {
    let s = program_seed(seed, index);
    let calls = CALLS_MIN + (s % (CALLS_MAX - CALLS_MIN + 1) as u64) as usize;
    generate::program(s, calls)
}

/// Where host and simulator first differ in one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the call (from 0).
    pub call: usize,
    /// What the host returned (`None`: the host stopped before it).
    pub host: Option<CallOutcome>,
    pub sim: Option<CallOutcome>,
    /// Why a side stopped, if one did.
    pub note: String,
}

/// Runs both sides of one program and compares them.
pub struct Sides {
    host: native::HostRunner,
    options: kernel_model::Options,
    perturb: Option<Perturb>,
}

/// The result of running one program on both sides.
pub struct Compared {
    pub host: Vec<CallOutcome>,
    pub host_end: native::HostEnd,
    pub sim: Vec<CallOutcome>,
    pub divergence: Option<Divergence>,
}

impl Sides {
    pub fn new(perturb: Option<Perturb>) -> Result<Sides, CliError> {
        Ok(Sides {
            host: native::HostRunner::new()
                .map_err(|e| CliError::failed(format!("difftest: cannot map memory: {e}")))?,
            options: simulated::options(),
            perturb,
        })
    }

    pub fn compare(&mut self, calls: &[Call]) -> Result<Compared, CliError> {
        let (host, host_end) = self
            .host
            .run(calls)
            .map_err(|e| CliError::failed(format!("difftest: cannot fork: {e}")))?;
        let (mut sim, sim_end) = simulated::run(&self.options, calls);
        if let Some(perturb) = self.perturb {
            for (call, outcome) in calls.iter().zip(sim.iter_mut()) {
                perturb(call, outcome);
            }
        }
        let divergence = first_difference(&host, &host_end, &sim, &sim_end);
        Ok(Compared {
            host,
            host_end,
            sim,
            divergence,
        })
    }
}

fn first_difference(
    host: &[CallOutcome],
    host_end: &native::HostEnd,
    sim: &[CallOutcome],
    sim_end: &simulated::SimEnd,
) -> Option<Divergence> {
    if let Some(i) = host.iter().zip(sim).position(|(h, s)| h != s) {
        return Some(Divergence {
            call: i,
            host: Some(host[i].clone()),
            sim: Some(sim[i].clone()),
            note: String::new(),
        });
    }
    if host.len() == sim.len() {
        return None;
    }
    let i = host.len().min(sim.len());
    let note = match (host_end, sim_end) {
        (native::HostEnd::Stopped(why), _) if host.len() < sim.len() => format!("host: {why}"),
        (_, simulated::SimEnd::Stopped(why)) => format!("simulator: {why}"),
        _ => "one side made fewer calls".into(),
    };
    Some(Divergence {
        call: i,
        host: host.get(i).cloned(),
        sim: sim.get(i).cloned(),
        note,
    })
}

/// The first divergence, shrunk, as the report gives it.
#[derive(Clone, Debug, Serialize)]
pub struct FirstDivergence {
    /// The program's number in this run (with `--seed`, it is generated again).
    pub program: u64,
    /// The divergent call of the shrunk program, as the scenario writes it.
    pub call: String,
    pub host: String,
    pub sim: String,
    pub scenario_file: String,
}

/// The report (`--json` is exactly this).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub programs: u64,
    pub divergences: u64,
    pub first_divergence: Option<FirstDivergence>,
    pub programs_per_sec: f64,
    pub host_release: String,
    /// Divergent programs by the system call where they first diverged (text only).
    #[serde(skip)]
    pub by_call: BTreeMap<&'static str, u64>,
}

struct Found {
    index: u64,
    calls: Vec<Call>,
}

/// Runs the programs on `config.jobs` threads; shrinks and writes the first (lowest
/// numbered) divergence.
pub fn run(config: &Config, err: &mut dyn Write) -> Result<Report, CliError> {
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let divergences = AtomicU64::new(0);
    let first: Mutex<Option<Found>> = Mutex::new(None);
    let by_call: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());
    let failure: Mutex<Option<CliError>> = Mutex::new(None);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..config.jobs.max(1) {
            scope.spawn(|| {
                let result = worker(config, &next, &done, &divergences, &first, &by_call);
                if let Err(e) = result {
                    failure.lock().expect("not poisoned").get_or_insert(e);
                    next.store(u64::MAX / 2, Ordering::SeqCst);
                }
            });
        }
        if config.progress {
            progress(config.programs, &done, err);
        }
    });
    let elapsed = start.elapsed();
    if let Some(e) = failure.into_inner().expect("not poisoned") {
        return Err(e);
    }
    let programs = done.load(Ordering::SeqCst);
    let first_divergence = match first.into_inner().expect("not poisoned") {
        Some(found) => Some(write_divergence(config, &found)?),
        None => None,
    };
    Ok(Report {
        programs,
        divergences: divergences.load(Ordering::SeqCst),
        first_divergence,
        programs_per_sec: per_sec(programs, elapsed),
        host_release: native::host_release(),
        by_call: by_call.into_inner().expect("not poisoned"),
    })
}

fn per_sec(programs: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64().max(1e-9);
    (programs as f64 / secs * 10.0).round() / 10.0
}

fn worker(
    config: &Config,
    next: &AtomicU64,
    done: &AtomicU64,
    divergences: &AtomicU64,
    first: &Mutex<Option<Found>>,
    by_call: &Mutex<BTreeMap<&'static str, u64>>,
) -> Result<(), CliError> {
    let mut sides = Sides::new(config.perturb)?;
    loop {
        let begin = next.fetch_add(CHUNK, Ordering::SeqCst);
        if begin >= config.programs {
            return Ok(());
        }
        let end = (begin + CHUNK).min(config.programs);
        for index in begin..end {
            let calls = program(config.seed, index);
            let compared = sides.compare(&calls)?;
            if let Some(d) = &compared.divergence {
                divergences.fetch_add(1, Ordering::SeqCst);
                *by_call
                    .lock()
                    .expect("not poisoned")
                    .entry(calls[d.call].name())
                    .or_default() += 1;
                let mut first = first.lock().expect("not poisoned");
                if first.as_ref().is_none_or(|f| f.index > index) {
                    *first = Some(Found { index, calls });
                }
            }
            done.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A bar on stderr, redrawn five times a second until every program is done.
fn progress(total: u64, done: &AtomicU64, err: &mut dyn Write) {
    let start = Instant::now();
    loop {
        let n = done.load(Ordering::SeqCst);
        let width = 40;
        let filled = (n * width / total.max(1)) as usize;
        let rate = per_sec(n, start.elapsed());
        let _ = write!(
            err,
            "\r[{}{}] {n}/{total} programs, {rate:.0}/s ",
            "#".repeat(filled),
            " ".repeat(width as usize - filled)
        );
        let _ = err.flush();
        if n >= total {
            let _ = writeln!(err);
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Shrinks the divergent program, writes its scenario, and describes it.
fn write_divergence(config: &Config, found: &Found) -> Result<FirstDivergence, CliError> {
    let mut sides = Sides::new(config.perturb)?;
    let shrunk = shrink::shrink(&mut sides, &found.calls)?;
    let compared = sides.compare(&shrunk)?;
    let divergence = compared
        .divergence
        .clone()
        .ok_or_else(|| CliError::failed("difftest: the shrunk program no longer diverges"))?;
    let name = format!("difftest-seed{}-program{}", config.seed, found.index);
    let description = format!(
        "epsim difftest --seed {} found it (program {}, shrunk from {} to {} calls); the expectations are the host's ({})",
        config.seed,
        found.index,
        found.calls.len(),
        shrunk.len(),
        native::host_release()
    );
    // The host's results for every call it made; a call it did not return from is left
    // out (the scenario stops before it).
    let kept = compared.host.len().min(shrunk.len());
    let text = program::scenario_text(&name, &description, &shrunk[..kept], &compared.host);
    let path = config.scenario_dir.join(format!("{name}.scn"));
    write_file(&path, &text)?;
    let show = |o: &Option<CallOutcome>| {
        o.as_ref()
            .map_or_else(|| divergence.note.clone(), CallOutcome::describe)
    };
    Ok(FirstDivergence {
        program: found.index,
        call: shrunk[divergence.call].statement(),
        host: show(&divergence.host),
        sim: show(&divergence.sim),
        scenario_file: path.display().to_string(),
    })
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text)
        .map_err(|e| CliError::usage(format!("cannot write {}: {e}", path.display())))
}

/// `epsim difftest`.
pub fn command(
    args: &crate::cli::DifftestArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Exit, CliError> {
    if args.threads {
        let source = match args.programs {
            Some(programs) => threads::Source::Generated {
                programs,
                seed: args.seed,
            },
            None => threads::Source::Corpus,
        };
        return threads::command(source, args.native_runs, args.sim_runs, args.json, out);
    }
    let config = Config {
        programs: args.programs.unwrap_or(DEFAULT_PROGRAMS),
        seed: args.seed,
        jobs: args.jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, usize::from),
            |j| j as usize,
        ),
        scenario_dir: args.out.clone().unwrap_or_else(|| PathBuf::from(".")),
        perturb: None,
        progress: !args.json && std::io::stderr().is_terminal(),
    };
    execute(&config, args.json, out, err)
}

/// Runs `config`, writes the report (JSON or text) and says how it went: clean when no
/// program diverged.
pub fn execute(
    config: &Config,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Exit, CliError> {
    let report = run(config, err)?;
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&report).map_err(|e| CliError::usage(e.to_string()))?
        )?;
    } else {
        write!(out, "{}", render(&report, config))?;
    }
    Ok(if report.divergences == 0 {
        Exit::Clean
    } else {
        Exit::Failed
    })
}

/// The text summary.
pub fn render(report: &Report, config: &Config) -> String {
    let mut text = String::new();
    use std::fmt::Write as _;
    let host = &report.host_release;
    let _ = writeln!(
        text,
        "difftest: {} programs (seed {}), host kernel {host} against the simulator's 6.18 port",
        report.programs, config.seed
    );
    if !host.starts_with("6.18") {
        let _ = writeln!(
            text,
            "note: the host runs {host}, not 6.18: compared all the same, so a divergence may be the host's version"
        );
    }
    let _ = writeln!(
        text,
        "{} divergent program(s); {} programs/s",
        report.divergences, report.programs_per_sec
    );
    if !report.by_call.is_empty() {
        let parts: Vec<String> = report
            .by_call
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        let _ = writeln!(
            text,
            "first divergent call, by system call: {}",
            parts.join(", ")
        );
    }
    if let Some(d) = &report.first_divergence {
        let _ = writeln!(text, "first divergence: program {}", d.program);
        let _ = writeln!(text, "  call: {}", d.call);
        let _ = writeln!(text, "  host: {}", d.host);
        let _ = writeln!(text, "  sim:  {}", d.sim);
        let _ = writeln!(
            text,
            "  shrunk scenario (the host's results as expectations): {}",
            d.scenario_file
        );
        let _ = writeln!(text, "  run it: epsim run {}", d.scenario_file);
    }
    text
}
