//! DPOR against unbounded DFS on generated programs: two CPUs, each running a few ops
//! drawn from plain stores and loads of three words, `smp_wmb`, `smp_mb`, `xchg` and a
//! spinlock's critical sections, under tso and pso at access granularity. Every program
//! must reach exactly the final states (registers and memory) DFS reaches. The programs
//! come from a fixed seed, so the tests are deterministic; the ignored one runs 300 (or
//! `DPOR_RANDOM_PROGRAMS`) of them under tso and pso.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use sim::strategy::{Dfs, Dpor, Scheduler};
use sim::{AccessSteps, Config, CpuId, LockKind, Machine, MemoryModel, Name, Word};

#[derive(Clone, Copy, Debug)]
enum Step {
    Store(usize, u64),
    Load(usize),
    WriteBarrier,
    FullBarrier,
    Exchange(usize, u64),
    /// Lock, store, load of another word, unlock.
    Locked(usize, u64, usize),
}

type Program = [Vec<Step>; 2];

/// A small deterministic generator (xorshift).
struct Generator(u64);

impl Generator {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }

    fn step(&mut self, value: u64) -> Step {
        let word = self.next(3) as usize;
        match self.next(10) {
            0..=2 => Step::Store(word, value),
            3..=5 => Step::Load(word),
            6 => Step::WriteBarrier,
            7 => Step::FullBarrier,
            8 => Step::Exchange(word, value),
            _ => Step::Locked(word, value, self.next(3) as usize),
        }
    }

    fn program(&mut self) -> Program {
        let mut value = 0;
        [0, 1].map(|_| {
            let length = 2 + self.next(3);
            (0..length)
                .map(|_| {
                    value += 1;
                    self.step(value)
                })
                .collect()
        })
    }
}

type Final = (Vec<Vec<u64>>, [u64; 3]);

fn explore(program: &Program, model: MemoryModel, strategy: &mut dyn Scheduler) -> BTreeSet<Final> {
    let config = Config {
        cpus: 2,
        model,
        granularity: sim::GranularityKind::Access,
        ..Config::default()
    };
    let mut machine = Machine::new(config, 0x5eed).expect("valid config");
    let mut states = BTreeSet::new();
    while strategy.begin_execution() {
        machine.reset();
        let cx = machine.cx::<AccessSteps>();
        let base = cx.alloc_words("test", 0, &["a", "b", "c"]);
        let words: [Word; 3] = [base, base.offset(1), base.offset(2)];
        let lock = cx.new_lock(LockKind::Spin, "test->lock", Name::global("test->lock"));
        let registers: Rc<RefCell<Vec<Vec<u64>>>> = Rc::new(RefCell::new(vec![Vec::new(); 2]));
        for (cpu, steps) in program.iter().enumerate() {
            let cx = cx.clone();
            let steps = steps.clone();
            let out = registers.clone();
            machine.spawn(["P0", "P1"][cpu], Some(CpuId(cpu as u16)), async move {
                for step in steps {
                    let seen = match step {
                        Step::Store(w, v) => {
                            cx.write_once(words[w], v).await;
                            None
                        }
                        Step::Load(w) => Some(cx.read_once(words[w]).await),
                        Step::WriteBarrier => {
                            cx.smp_wmb().await;
                            None
                        }
                        Step::FullBarrier => {
                            cx.smp_mb().await;
                            None
                        }
                        Step::Exchange(w, v) => Some(cx.xchg(words[w], v).await),
                        Step::Locked(w, v, r) => {
                            cx.spin_lock(lock).await;
                            cx.write_once(words[w], v).await;
                            let seen = cx.read_once(words[r]).await;
                            cx.spin_unlock(lock).await;
                            Some(seen)
                        }
                    };
                    if let Some(value) = seen {
                        out.borrow_mut()[cpu].push(value);
                    }
                }
            });
        }
        let result = machine.run(strategy);
        strategy.end_execution();
        assert!(result.reports.is_empty(), "{:?}", result.reports);
        let memory = words.map(|w| machine.state().mem.load_sc(w));
        states.insert((registers.borrow().clone(), memory));
    }
    states
}

/// Compares DPOR with DFS on the programs of the given indices (in generation order).
fn compare_on_generated_programs(models: &[MemoryModel], indices: &[u64]) {
    let programs = indices.iter().max().map_or(0, |last| last + 1);
    let mut generator = Generator(0x9e37_79b9_7f4a_7c15);
    let mut raced = 0;
    let mut failures = Vec::new();
    for index in 0..programs {
        let program = generator.program();
        if !indices.contains(&index) {
            continue;
        }
        for &model in models {
            let mut dfs = Dfs::new(None, None).with_sleep_sets();
            let by_dfs = explore(&program, model, &mut dfs);
            let mut dpor = Dpor::new();
            let by_dpor = explore(&program, model, &mut dpor);
            assert!(!dpor.diverged);
            if by_dpor != by_dfs {
                let missed: Vec<_> = by_dfs.difference(&by_dpor).collect();
                eprintln!(
                    "program {index} {program:?} under {model:?}: dpor {} executions missed {missed:?} of dfs's {} states ({} executions)",
                    dpor.executions(),
                    by_dfs.len(),
                    dfs.executions()
                );
                failures.push((index, model));
            }
            if by_dfs.len() > 1 {
                raced += 1;
            }
        }
    }
    assert!(raced > 0, "no generated program races");
    assert!(
        failures.is_empty(),
        "dpor missed final states: {failures:?}"
    );
}

fn programs_from_environment(default: u64) -> Vec<u64> {
    let count = std::env::var("DPOR_RANDOM_PROGRAMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    (0..count).collect()
}

#[test]
fn dpor_reaches_what_unbounded_dfs_reaches_on_generated_programs_under_sc() {
    compare_on_generated_programs(&[MemoryModel::Sc], &programs_from_environment(60));
}

/// Programs on which a version of DPOR missed final states while it was developed, and
/// cheap for unbounded DFS (at most a few thousand executions): without fences ordered
/// after the drains of their CPU's stores (`BufferOp::Fence`), programs 38 and 199 miss
/// states under both models (a fence, an atomic or a lock acquisition that found the
/// buffer empty in one execution was taken as independent of the drains before it).
#[test]
fn dpor_reaches_what_unbounded_dfs_reaches_on_generated_programs_under_tso_and_pso() {
    compare_on_generated_programs(
        &[MemoryModel::Tso, MemoryModel::Pso],
        &[9, 33, 36, 38, 108, 162, 168, 187, 199, 240, 242, 252, 255],
    );
}

/// The first 300 programs (or `DPOR_RANDOM_PROGRAMS`) under tso and pso: about three
/// minutes in a release build (unbounded DFS needs up to 3 million executions for one),
/// `cargo test --release -p sim --test dpor_random_programs -- --ignored`.
#[test]
#[ignore]
fn dpor_reaches_what_unbounded_dfs_reaches_on_many_generated_programs() {
    compare_on_generated_programs(
        &[MemoryModel::Tso, MemoryModel::Pso],
        &programs_from_environment(300),
    );
}
