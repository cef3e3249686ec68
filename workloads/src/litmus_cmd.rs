//! `epsim litmus`: memory-model litmus tests run on the machine (see `sim::litmus`).
//!
//! Human output follows herd7/litmus7: the test, its condition, every final state with
//! its count (`*>` marks states that satisfy the condition), then
//! `Observation NAME Never|Sometimes|Always  Allowed|Forbidden`. `--json` prints the
//! stable shape `{"test", "model", "strategy", "runs", "states", "condition", "verdict",
//! "executions_per_sec"}`.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::Write;
use std::time::Instant;

use serde::ser::{Serialize, SerializeMap, Serializer};
use sim::litmus::{self, Instr, LitmusResult, LitmusStrategy, LitmusTest, Var};
use sim::MemoryModel;

use crate::cli::{LitmusArgs, LitmusStrategyArg};
use crate::exit::{CliError, Exit};
use crate::output::{per_second, write_json, Table};

/// Sampled executions when `--strategy random` is given without `--runs`.
pub const DEFAULT_RUNS: u64 = 1000;

/// A litmus run with its wall-clock rate.
pub struct Outcome {
    pub result: LitmusResult,
    pub strategy: LitmusStrategy,
    pub executions_per_sec: f64,
}

impl Outcome {
    /// Whether the verdict contradicts the expected table. A random sample that never
    /// hit an allowed outcome does not contradict it; reaching a forbidden one does.
    pub fn disagrees(&self) -> bool {
        let expected = expected(&self.result);
        match self.strategy {
            LitmusStrategy::Dfs | LitmusStrategy::Dpor => self.result.allowed != expected,
            LitmusStrategy::Random { .. } => self.result.allowed && !expected,
        }
    }
}

fn expected(result: &LitmusResult) -> bool {
    litmus::expected_allowed(result.test.name, result.model)
        .expect("every built-in test has a row in the expected table")
}

fn strategy_name(strategy: LitmusStrategy) -> &'static str {
    match strategy {
        LitmusStrategy::Dfs => "dfs",
        LitmusStrategy::Dpor => "dpor",
        LitmusStrategy::Random { .. } => "random",
    }
}

fn verdict_name(allowed: bool) -> &'static str {
    if allowed {
        "Allowed"
    } else {
        "Forbidden"
    }
}

/// Runs `test` under `model`, timing it with the wall clock.
pub fn execute(test: &'static LitmusTest, model: MemoryModel, strategy: LitmusStrategy) -> Outcome {
    let start = Instant::now();
    let result = litmus::run(test, model, strategy);
    let seconds = start.elapsed().as_secs_f64();
    Outcome {
        executions_per_sec: per_second(result.executions, seconds),
        result,
        strategy,
    }
}

/// `epsim litmus ...`
pub fn run(args: &LitmusArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit, CliError> {
    if args.list {
        write_list(out)?;
        return Ok(Exit::Clean);
    }
    let strategy = strategy(args)?;
    let Some(name) = args.name.as_deref() else {
        return Err(CliError::usage(format!(
            "litmus: name a test ({}), `all`, or use --list",
            test_names()
        )));
    };
    if name.eq_ignore_ascii_case("all") {
        let models: Vec<MemoryModel> = match args.model {
            Some(model) => vec![model.model()],
            None => MemoryModel::ALL.to_vec(),
        };
        return run_all(&models, strategy, args.json, out, err);
    }
    let test = find(name)?;
    let Some(model) = args.model else {
        return Err(CliError::usage(format!(
            "litmus {}: choose a memory model with --model sc, tso or pso",
            test.name
        )));
    };
    let outcome = execute(test, model.model(), strategy);
    if args.json {
        write_json(out, &JsonResult::new(&outcome))?;
    } else {
        write_report(out, &outcome)?;
    }
    if outcome.disagrees() {
        writeln!(
            err,
            "error: {} under {}: {}, but the expected table says {}",
            test.name,
            model.model().name(),
            verdict_name(outcome.result.allowed),
            verdict_name(expected(&outcome.result))
        )?;
        return Ok(Exit::Failed);
    }
    Ok(Exit::Clean)
}

fn strategy(args: &LitmusArgs) -> Result<LitmusStrategy, CliError> {
    match args.strategy {
        LitmusStrategyArg::Dfs | LitmusStrategyArg::Dpor => {
            let (name, exact) = match args.strategy {
                LitmusStrategyArg::Dfs => ("dfs", LitmusStrategy::Dfs),
                _ => ("dpor", LitmusStrategy::Dpor),
            };
            if args.runs.is_some() || args.seed.is_some() {
                return Err(CliError::usage(format!(
                    "--runs and --seed apply to --strategy random; {name} explores every execution once"
                )));
            }
            Ok(exact)
        }
        LitmusStrategyArg::Random => Ok(LitmusStrategy::Random {
            runs: args.runs.unwrap_or(DEFAULT_RUNS),
            seed: args.seed.unwrap_or(0),
        }),
    }
}

/// Looks a test up by name; an unknown name is a usage error listing the known ones.
pub fn find(name: &str) -> Result<&'static LitmusTest, CliError> {
    litmus::find(name).ok_or_else(|| {
        CliError::usage(format!(
            "unknown litmus test {name:?}; the tests are {} (or `all`)",
            test_names()
        ))
    })
}

fn test_names() -> String {
    let names: Vec<&str> = litmus::TESTS.iter().map(|t| t.name).collect();
    names.join(", ")
}

fn write_list(out: &mut dyn Write) -> Result<(), CliError> {
    let mut table = Table::new(["TEST", "CPUS", "CONDITION", "WHAT IT ASKS"]);
    for test in litmus::TESTS {
        table.row([
            test.name.to_string(),
            test.threads.len().to_string(),
            litmus::condition_text(test),
            test.summary.to_string(),
        ]);
    }
    table.write(out, "")?;
    writeln!(
        out,
        "\nRun one with `epsim litmus NAME --model sc|tso|pso`, or all of them with `epsim litmus all`."
    )?;
    Ok(())
}

fn var(v: Var) -> &'static str {
    match v {
        Var::X => "x",
        Var::Y => "y",
    }
}

fn instruction(instr: &Instr) -> String {
    match *instr {
        Instr::Store(v, value) => format!("WRITE_ONCE({}, {value});", var(v)),
        Instr::Load(v, reg) => format!("r{reg} = READ_ONCE({});", var(v)),
        Instr::Mb => "smp_mb();".to_string(),
        Instr::Wmb => "smp_wmb();".to_string(),
        Instr::Rmb => "smp_rmb();".to_string(),
        Instr::SpinLock(l) => format!("spin_lock(s{l});"),
        Instr::SpinUnlock(l) => format!("spin_unlock(s{l});"),
        Instr::WriteLock(l) => format!("write_lock(rw{l});"),
        Instr::WriteUnlock(l) => format!("write_unlock(rw{l});"),
        Instr::ReadLock(l) => format!("read_lock(rw{l});"),
        Instr::ReadUnlock(l) => format!("read_unlock(rw{l});"),
        Instr::MutexLock(l) => format!("mutex_lock(m{l});"),
        Instr::MutexUnlock(l) => format!("mutex_unlock(m{l});"),
        Instr::Xchg(v, value, reg) => format!("r{reg} = xchg({}, {value});", var(v)),
        Instr::CmpXchg(v, value, reg) => format!("r{reg} = cmpxchg({}, 0, {value});", var(v)),
        Instr::AddReturn(v, reg) => format!("r{reg} = atomic_add_return(1, {});", var(v)),
        Instr::SetStateMb => "set_current_state(TASK_INTERRUPTIBLE);".to_string(),
        Instr::SetStatePlain => "__set_current_state(TASK_INTERRUPTIBLE);".to_string(),
        Instr::WakeP0(reg) => format!("r{reg} = try_to_wake_up(P0);"),
        Instr::Schedule => "schedule();".to_string(),
        Instr::AddWait => "add_wait_queue(wq, &wait);".to_string(),
        Instr::WaitqueueActive(reg) => format!("r{reg} = waitqueue_active(wq);"),
        Instr::WqHasSleeper(reg) => format!("r{reg} = wq_has_sleeper(wq);"),
    }
}

/// The program, one column per CPU, as herd prints a litmus test.
fn write_program(out: &mut dyn Write, test: &LitmusTest) -> Result<(), CliError> {
    let mut table = Table::new((0..test.threads.len()).map(|t| format!("P{t}")));
    let length = test.threads.iter().map(|t| t.len()).max().unwrap_or(0);
    for i in 0..length {
        table.row(
            test.threads
                .iter()
                .map(|thread| thread.get(i).map(instruction).unwrap_or_default()),
        );
    }
    table.write(out, "  ")
}

fn state_text(result: &LitmusResult, state: &litmus::FinalState) -> String {
    state
        .entries(result.test)
        .iter()
        .map(|(name, value)| format!("{name}={value};"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The herd-style report of one test under one model.
pub fn write_report(out: &mut dyn Write, outcome: &Outcome) -> Result<(), CliError> {
    let result = &outcome.result;
    let test = result.test;
    writeln!(
        out,
        "Test {} {} (model {}, strategy {})",
        test.name,
        verdict_name(result.allowed),
        result.model.name(),
        strategy_name(outcome.strategy)
    )?;
    writeln!(out, "  {}", test.summary)?;
    write_program(out, test)?;
    writeln!(out, "Condition {}", result.condition_text())?;
    writeln!(out, "States {}", result.states.len())?;
    let width = result
        .states
        .values()
        .map(|count| count.to_string().len())
        .max()
        .unwrap_or(1);
    let mut positive = 0;
    for (state, count) in &result.states {
        let satisfies = satisfies(result, state);
        if satisfies {
            positive += count;
        }
        let mark = if satisfies { "*>" } else { ":>" };
        writeln!(
            out,
            "{count:>width$} {mark}{}",
            state_text(result, state),
            width = width.max(6)
        )?;
    }
    writeln!(
        out,
        "Witnesses Positive: {positive} Negative: {}",
        result.executions - positive
    )?;
    writeln!(
        out,
        "Observation {} {}  {}",
        test.name,
        result.observation,
        verdict_name(result.allowed)
    )?;
    let how = match outcome.strategy {
        LitmusStrategy::Dfs => {
            "dfs: every execution once, so the states above are complete".to_string()
        }
        LitmusStrategy::Dpor => "dpor: one execution per class of equivalent interleavings, \
                                 so the states above are complete (counts are per class)"
            .to_string(),
        LitmusStrategy::Random { runs, seed } => format!(
            "random: {runs} seeded samples from seed {seed}; an allowed outcome may be missed"
        ),
    };
    writeln!(out, "Executions {} ({how})", result.executions)?;
    let expected = expected(result);
    let agreement = if outcome.disagrees() {
        "DISAGREES"
    } else if result.allowed == expected {
        "agrees"
    } else {
        "not seen in this sample"
    };
    writeln!(
        out,
        "Expected {} under {} ({agreement})",
        verdict_name(expected),
        result.model.name()
    )?;
    writeln!(
        out,
        "Rate {} executions/s (wall clock)",
        outcome.executions_per_sec
    )?;
    Ok(())
}

/// Whether a final state satisfies the test's condition.
fn satisfies(result: &LitmusResult, state: &litmus::FinalState) -> bool {
    let entries = state.entries(result.test);
    let value_of = |name: &str| entries.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    result.test.condition.iter().all(|atom| match *atom {
        litmus::Atom::Register { thread, reg, value } => {
            value_of(&format!("{thread}:r{reg}")) == Some(value)
        }
        litmus::Atom::Final { var: v, value } => value_of(var(v)) == Some(value),
    })
}

fn run_all(
    models: &[MemoryModel],
    strategy: LitmusStrategy,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Exit, CliError> {
    let mut outcomes = Vec::new();
    for test in litmus::TESTS {
        for &model in models {
            outcomes.push(execute(test, model, strategy));
        }
    }
    let disagreements = outcomes.iter().filter(|o| o.disagrees()).count();
    if json {
        let results: Vec<JsonResult> = outcomes.iter().map(JsonResult::new).collect();
        write_json(out, &results)?;
    } else {
        let mut table = Table::new([
            "TEST",
            "MODEL",
            "OBSERVATION",
            "VERDICT",
            "EXPECTED",
            "EXECUTIONS",
            "",
        ]);
        for outcome in &outcomes {
            let result = &outcome.result;
            table.row([
                result.test.name.to_string(),
                result.model.name().to_string(),
                result.observation.to_string(),
                verdict_name(result.allowed).to_string(),
                verdict_name(expected(result)).to_string(),
                result.executions.to_string(),
                if outcome.disagrees() {
                    "<-- DISAGREES".to_string()
                } else {
                    String::new()
                },
            ]);
        }
        table.write(out, "")?;
        writeln!(
            out,
            "{} of {} agree with the expected table (strategy {}).",
            outcomes.len() - disagreements,
            outcomes.len(),
            strategy_name(strategy)
        )?;
    }
    if disagreements > 0 {
        writeln!(
            err,
            "error: {disagreements} of {} results disagree with the expected table",
            outcomes.len()
        )?;
        return Ok(Exit::Failed);
    }
    Ok(Exit::Clean)
}

/// The stable `--json` shape of one result.
#[derive(serde::Serialize)]
pub struct JsonResult {
    test: &'static str,
    model: &'static str,
    strategy: &'static str,
    runs: u64,
    states: Vec<JsonState>,
    condition: String,
    verdict: &'static str,
    executions_per_sec: f64,
}

impl JsonResult {
    pub fn new(outcome: &Outcome) -> JsonResult {
        let result = &outcome.result;
        JsonResult {
            test: result.test.name,
            model: result.model.name(),
            strategy: strategy_name(outcome.strategy),
            runs: result.executions,
            states: result
                .states
                .iter()
                .map(|(state, &count)| JsonState {
                    state: StateMap(state.entries(result.test)),
                    count,
                })
                .collect(),
            condition: result.condition_text(),
            verdict: result.verdict(),
            executions_per_sec: outcome.executions_per_sec,
        }
    }
}

#[derive(serde::Serialize)]
struct JsonState {
    state: StateMap,
    count: u64,
}

/// `{"0:r0": 0, ..., "x": 1, "y": 1}` in the order of `FinalState::entries`.
struct StateMap(Vec<(String, u64)>);

impl Serialize for StateMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}
