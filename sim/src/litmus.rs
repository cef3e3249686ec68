//! Memory-model litmus tests, run on the machine itself: the acceptance test of the
//! memory models, and a way to teach what a barrier buys.
//!
//! Each test is a few CPUs doing ONCE accesses to shared `x` and `y`. The condition is the
//! test's classic weak outcome, as in the kernel's `tools/memory-model/litmus-tests`.
//! Run with [`Dfs`] and no bounds, the set of final states is complete, and the verdict
//! — Allowed/Forbidden, Never/Sometimes/Always in herd's terms — comes from it.
//!
//! Expected verdicts of the condition (SC; x86-TSO as herdtools7's x86 model states it;
//! SPARC PSO as defined in [`crate::mem`]):
//!
//! | test        | sc        | tso       | pso       |
//! |-------------|-----------|-----------|-----------|
//! | SB          | Forbidden | Allowed   | Allowed   |
//! | SB+mbs      | Forbidden | Forbidden | Forbidden |
//! | MP          | Forbidden | Forbidden | Allowed   |
//! | MP+wmb+rmb  | Forbidden | Forbidden | Forbidden |
//! | LB          | Forbidden | Forbidden | Forbidden |
//! | 2+2W        | Forbidden | Forbidden | Allowed   |
//! | R           | Forbidden | Allowed   | Allowed   |
//! | S           | Forbidden | Forbidden | Allowed   |
//!
//! LB is forbidden in all three because none of them lets a load be satisfied after a
//! later store of the same CPU became visible (they buffer stores, never loads).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use crate::config::{AccessSteps, Config, GranularityKind};
use crate::ids::CpuId;
use crate::machine::Machine;
use crate::mem::{MemoryModel, Word};
use crate::strategy::{Dfs, Dpor, Random, Scheduler};
use crate::trace::TraceHasher;

/// A shared variable of a litmus test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Var {
    X,
    Y,
}

impl Var {
    fn name(self) -> &'static str {
        match self {
            Var::X => "x",
            Var::Y => "y",
        }
    }
}

/// One instruction of a litmus thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instr {
    /// `WRITE_ONCE(var, value)`
    Store(Var, u64),
    /// `r<reg> = READ_ONCE(var)`
    Load(Var, usize),
    Mb,
    Wmb,
    Rmb,
}

/// One conjunct of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Atom {
    /// `thread:r<reg> = value`
    Register {
        thread: usize,
        reg: usize,
        value: u64,
    },
    /// final `var = value`
    Final { var: Var, value: u64 },
}

/// A litmus test.
#[derive(Clone, Copy, Debug)]
pub struct LitmusTest {
    pub name: &'static str,
    pub threads: &'static [&'static [Instr]],
    /// `exists (a /\ b /\ …)`
    pub condition: &'static [Atom],
    pub summary: &'static str,
}

use Instr::*;
use Var::*;

const fn reg(thread: usize, reg: usize, value: u64) -> Atom {
    Atom::Register { thread, reg, value }
}

const fn fin(var: Var, value: u64) -> Atom {
    Atom::Final { var, value }
}

/// The built-in tests.
pub const TESTS: &[LitmusTest] = &[
    LitmusTest {
        name: "SB",
        threads: &[&[Store(X, 1), Load(Y, 0)], &[Store(Y, 1), Load(X, 0)]],
        condition: &[reg(0, 0, 0), reg(1, 0, 0)],
        summary: "store buffering: each CPU stores, then loads the other's variable",
    },
    LitmusTest {
        name: "SB+mbs",
        threads: &[
            &[Store(X, 1), Mb, Load(Y, 0)],
            &[Store(Y, 1), Mb, Load(X, 0)],
        ],
        condition: &[reg(0, 0, 0), reg(1, 0, 0)],
        summary: "store buffering with smp_mb() between store and load",
    },
    LitmusTest {
        name: "MP",
        threads: &[&[Store(X, 1), Store(Y, 1)], &[Load(Y, 0), Load(X, 1)]],
        condition: &[reg(1, 0, 1), reg(1, 1, 0)],
        summary: "message passing: data then flag; reader sees flag without data?",
    },
    LitmusTest {
        name: "MP+wmb+rmb",
        threads: &[
            &[Store(X, 1), Wmb, Store(Y, 1)],
            &[Load(Y, 0), Rmb, Load(X, 1)],
        ],
        condition: &[reg(1, 0, 1), reg(1, 1, 0)],
        summary: "message passing with smp_wmb() and smp_rmb()",
    },
    LitmusTest {
        name: "LB",
        threads: &[&[Load(X, 0), Store(Y, 1)], &[Load(Y, 0), Store(X, 1)]],
        condition: &[reg(0, 0, 1), reg(1, 0, 1)],
        summary: "load buffering: each load sees the other CPU's later store?",
    },
    LitmusTest {
        name: "2+2W",
        threads: &[&[Store(X, 1), Store(Y, 2)], &[Store(Y, 1), Store(X, 2)]],
        condition: &[fin(X, 1), fin(Y, 1)],
        summary: "two CPUs each store twice in opposite orders; both first stores win?",
    },
    LitmusTest {
        name: "R",
        threads: &[&[Store(X, 1), Store(Y, 1)], &[Store(Y, 2), Load(X, 0)]],
        condition: &[fin(Y, 2), reg(1, 0, 0)],
        summary: "a store ordered after another CPU's store, then a load that misses",
    },
    LitmusTest {
        name: "S",
        threads: &[&[Store(X, 2), Store(Y, 1)], &[Load(Y, 0), Store(X, 1)]],
        condition: &[fin(X, 2), reg(1, 0, 1)],
        summary: "a load that sees a flag, then a store that loses to the data before it",
    },
];

/// Looks a test up by name (case-insensitive).
pub fn find(name: &str) -> Option<&'static LitmusTest> {
    TESTS.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

/// A final state: registers per thread, then `x` and `y`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FinalState {
    pub registers: Vec<[u64; 2]>,
    pub x: u64,
    pub y: u64,
}

impl FinalState {
    /// `(name, value)` pairs in a fixed order: `0:r0`, …, `x`, `y`.
    pub fn entries(&self, test: &LitmusTest) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for (thread, instrs) in test.threads.iter().enumerate() {
            let mut regs: Vec<usize> = instrs
                .iter()
                .filter_map(|i| if let Load(_, r) = i { Some(*r) } else { None })
                .collect();
            regs.sort_unstable();
            for r in regs {
                out.push((format!("{thread}:r{r}"), self.registers[thread][r]));
            }
        }
        out.push(("x".to_string(), self.x));
        out.push(("y".to_string(), self.y));
        out
    }

    fn satisfies(&self, condition: &[Atom]) -> bool {
        condition.iter().all(|atom| match *atom {
            Atom::Register { thread, reg, value } => self.registers[thread][reg] == value,
            Atom::Final { var: X, value } => self.x == value,
            Atom::Final { var: Y, value } => self.y == value,
        })
    }
}

/// herd's observation of the condition over all final states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    Never,
    Sometimes,
    Always,
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Observation::Never => "Never",
            Observation::Sometimes => "Sometimes",
            Observation::Always => "Always",
        })
    }
}

/// How to explore a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LitmusStrategy {
    /// Exhaustive: every execution once.
    Dfs,
    /// Exhaustive: one execution per equivalence class of interleavings ([`Dpor`]).
    Dpor,
    /// `runs` seeded random executions.
    Random { runs: u64, seed: u64 },
}

/// The outcome of a litmus run.
#[derive(Clone, Debug)]
pub struct LitmusResult {
    pub test: &'static LitmusTest,
    pub model: MemoryModel,
    pub executions: u64,
    /// Final states with how many executions reached each.
    pub states: BTreeMap<FinalState, u64>,
    pub observation: Observation,
    /// "Allowed" if some execution satisfies the condition, else "Forbidden".
    pub allowed: bool,
}

impl LitmusResult {
    pub fn verdict(&self) -> &'static str {
        if self.allowed {
            "Allowed"
        } else {
            "Forbidden"
        }
    }

    /// Condition in herd syntax, e.g. `exists (0:r0=0 /\ 1:r0=0)`.
    pub fn condition_text(&self) -> String {
        condition_text(self.test)
    }
}

pub fn condition_text(test: &LitmusTest) -> String {
    let atoms: Vec<String> = test
        .condition
        .iter()
        .map(|atom| match *atom {
            Atom::Register { thread, reg, value } => format!("{thread}:r{reg}={value}"),
            Atom::Final { var, value } => format!("{}={value}", var.name()),
        })
        .collect();
    format!("exists ({})", atoms.join(" /\\ "))
}

/// Registers of every thread, shared with the threads' code (reused across runs).
type Registers = Vec<Rc<Cell<[u64; 2]>>>;

/// Task names of the threads.
const THREAD_NAMES: [&str; 4] = ["P0", "P1", "P2", "P3"];

/// One execution of `test` on `machine` (reset first) under `strategy`. Returns its
/// final state.
fn execute(
    test: &'static LitmusTest,
    machine: &mut Machine,
    registers: &Registers,
    strategy: &mut dyn Scheduler,
) -> FinalState {
    machine.reset();
    let cx = machine.cx::<AccessSteps>();
    let x = cx.alloc_words("litmus", 0, &["x", "y"]);
    let y = x.offset(1);
    for (thread, instrs) in test.threads.iter().enumerate() {
        let cx = cx.clone();
        let out = registers[thread].clone();
        out.set([0; 2]);
        machine.spawn(
            THREAD_NAMES[thread],
            Some(CpuId(thread as u16)),
            async move {
                run_thread(&cx, instrs, x, y, &out).await;
            },
        );
    }
    machine.run(strategy);
    let state = machine.state();
    FinalState {
        registers: registers.iter().map(|r| r.get()).collect(),
        x: state.mem.load_sc(x),
        y: state.mem.load_sc(y),
    }
}

async fn run_thread(
    cx: &crate::Cx<AccessSteps>,
    instrs: &[Instr],
    x: Word,
    y: Word,
    out: &Cell<[u64; 2]>,
) {
    let word = |v: Var| if v == X { x } else { y };
    for instr in instrs {
        match *instr {
            Store(v, value) => {
                cx.write_once(word(v), value).await;
            }
            Load(v, r) => {
                let value = cx.read_once(word(v)).await;
                let mut regs = out.get();
                regs[r] = value;
                out.set(regs);
            }
            Mb => {
                cx.smp_mb().await;
            }
            Wmb => {
                cx.smp_wmb().await;
            }
            Rmb => {
                cx.smp_rmb().await;
            }
        }
    }
}

fn scenario_hash(test: &LitmusTest) -> u64 {
    let mut h = TraceHasher::default();
    h.write_str("litmus");
    h.write_str(test.name);
    h.finish()
}

/// The machine options a litmus test runs with.
pub fn config(test: &LitmusTest, model: MemoryModel) -> Config {
    Config {
        cpus: test.threads.len(),
        model,
        granularity: GranularityKind::Access,
        ..Config::default()
    }
}

/// Runs `test` under `model`.
pub fn run(
    test: &'static LitmusTest,
    model: MemoryModel,
    strategy: LitmusStrategy,
) -> LitmusResult {
    assert!(test.threads.len() <= THREAD_NAMES.len(), "too many threads");
    let mut machine =
        Machine::new(config(test, model), scenario_hash(test)).expect("litmus config is valid");
    let registers: Registers = test
        .threads
        .iter()
        .map(|_| Rc::new(Cell::new([0; 2])))
        .collect();
    let mut states: BTreeMap<FinalState, u64> = BTreeMap::new();
    let mut executions = 0;
    match strategy {
        LitmusStrategy::Dfs => {
            let mut dfs = Dfs::new(None, None).with_sleep_sets();
            while dfs.begin_execution() {
                let state = execute(test, &mut machine, &registers, &mut dfs);
                dfs.end_execution();
                *states.entry(state).or_insert(0) += 1;
                executions += 1;
            }
        }
        LitmusStrategy::Dpor => {
            let mut dpor = Dpor::new();
            while dpor.begin_execution() {
                let state = execute(test, &mut machine, &registers, &mut dpor);
                dpor.end_execution();
                *states.entry(state).or_insert(0) += 1;
                executions += 1;
            }
        }
        LitmusStrategy::Random { runs, seed } => {
            for run in 0..runs {
                let mut random = Random::new(seed.wrapping_add(run));
                random.begin_execution();
                let state = execute(test, &mut machine, &registers, &mut random);
                *states.entry(state).or_insert(0) += 1;
                executions += 1;
            }
        }
    }
    let satisfying: u64 = states
        .iter()
        .filter(|(s, _)| s.satisfies(test.condition))
        .map(|(_, n)| n)
        .sum();
    let observation = if satisfying == 0 {
        Observation::Never
    } else if satisfying == executions {
        Observation::Always
    } else {
        Observation::Sometimes
    };
    LitmusResult {
        test,
        model,
        executions,
        states,
        observation,
        allowed: satisfying > 0,
    }
}

/// The expected verdict of every test under every model (the table above).
pub fn expected_allowed(test: &str, model: MemoryModel) -> Option<bool> {
    let row: [bool; 3] = match test {
        "SB" => [false, true, true],
        "SB+mbs" => [false, false, false],
        "MP" => [false, false, true],
        "MP+wmb+rmb" => [false, false, false],
        "LB" => [false, false, false],
        "2+2W" => [false, false, true],
        "R" => [false, true, true],
        "S" => [false, false, true],
        _ => return None,
    };
    Some(row[model as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every final state of `test` under `model` by DFS, with or without sleep sets.
    fn dfs_states(
        test: &'static LitmusTest,
        model: MemoryModel,
        sleep_sets: bool,
    ) -> (std::collections::BTreeSet<FinalState>, u64) {
        let mut machine = Machine::new(config(test, model), scenario_hash(test)).unwrap();
        let registers: Registers = test
            .threads
            .iter()
            .map(|_| Rc::new(Cell::new([0; 2])))
            .collect();
        let mut dfs = Dfs::new(None, None);
        if sleep_sets {
            dfs = dfs.with_sleep_sets();
        }
        let mut states = std::collections::BTreeSet::new();
        while dfs.begin_execution() {
            states.insert(execute(test, &mut machine, &registers, &mut dfs));
            dfs.end_execution();
        }
        assert!(!dfs.diverged);
        (states, dfs.executions())
    }

    #[test]
    fn sleep_sets_keep_every_final_state_with_fewer_executions() {
        let mut saved = 0;
        for test in TESTS {
            for model in MemoryModel::ALL {
                let (full, all) = dfs_states(test, model, false);
                let (reduced, fewer) = dfs_states(test, model, true);
                assert_eq!(reduced, full, "{} under {}", test.name, model.name());
                assert!(fewer <= all, "{} under {}", test.name, model.name());
                saved += all - fewer;
            }
        }
        assert!(saved > 0, "sleep sets never pruned anything");
    }

    #[test]
    fn dpor_reaches_every_final_state_of_unbounded_dfs_with_fewer_executions() {
        for test in TESTS {
            for model in MemoryModel::ALL {
                let (full, all) = dfs_states(test, model, false);
                let result = run(test, model, LitmusStrategy::Dpor);
                let reached: std::collections::BTreeSet<FinalState> =
                    result.states.keys().cloned().collect();
                assert_eq!(reached, full, "{} under {}", test.name, model.name());
                assert!(
                    result.executions < all,
                    "{} under {}: dpor {} executions, dfs {all}",
                    test.name,
                    model.name(),
                    result.executions
                );
            }
        }
    }

    #[test]
    fn every_test_under_every_model_matches_the_table() {
        for test in TESTS {
            for model in MemoryModel::ALL {
                let result = run(test, model, LitmusStrategy::Dfs);
                let expected = expected_allowed(test.name, model).unwrap();
                assert_eq!(
                    result.allowed,
                    expected,
                    "{} under {}: {} executions, states {:?}",
                    test.name,
                    model.name(),
                    result.executions,
                    result.states
                );
            }
        }
    }

    #[test]
    fn sc_sb_has_exactly_the_three_sc_outcomes() {
        let result = run(find("SB").unwrap(), MemoryModel::Sc, LitmusStrategy::Dfs);
        let outcomes: Vec<[u64; 2]> = result
            .states
            .keys()
            .map(|s| [s.registers[0][0], s.registers[1][0]])
            .collect();
        assert_eq!(outcomes, vec![[0, 1], [1, 0], [1, 1]]);
    }

    #[test]
    fn random_finds_the_sb_weak_outcome_under_tso() {
        let result = run(
            find("SB").unwrap(),
            MemoryModel::Tso,
            LitmusStrategy::Random { runs: 500, seed: 1 },
        );
        assert!(result.allowed);
        assert_eq!(result.observation, Observation::Sometimes);
    }
}
