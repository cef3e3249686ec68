//! The trace hashes of the scenario library are pinned: every shipped scenario under a
//! spread of kernel versions, granularities, memory models, strategies and seeds, run as
//! `epsim run` runs it, must end with the hash in `tests/trace_hashes.txt`.
//!
//! The table was written before `sim`'s op semantics moved out of `state.rs` next to
//! their concepts (issue 14, item 0), so that the move can be shown to change no
//! execution. (When main renamed the kernel versions — the seed tree became
//! `6192bd536f96` and `2.6.22` a new port — the table was written again from the sim of
//! before the move, `git checkout 241d879 -- sim/src`, on the merged tree. The four 6.18
//! combinations were added later, written from the tree of 6f881ac before any 6.18 change of
//! issue 11's last items.) A change
//! that is meant to change executions rewrites it:
//!
//! ```text
//! EPSIM_WRITE_TRACE_HASHES=1 cargo test -p workloads --test trace_hashes
//! ```
//!
//! and the diff of the table shows which runs changed.

use kernel_model::KernelVersion;
use workloads::cli::{CommonOpts, GranularityArg, KernelArg, ModelArg, StrategyArg};
use workloads::scenario::list;
use workloads::session::{self, Capture};

/// The pinned table, one run per line.
const TABLE: &str = include_str!("trace_hashes.txt");

/// One pinned run's options.
#[derive(Clone, Copy)]
struct Combination {
    kernel: KernelArg,
    granularity: GranularityArg,
    model: ModelArg,
    strategy: StrategyArg,
    seed: u64,
    /// `None`: the scenario's.
    cpus: Option<usize>,
}

const fn combination(
    kernel: KernelArg,
    granularity: GranularityArg,
    model: ModelArg,
    strategy: StrategyArg,
    seed: u64,
    cpus: Option<usize>,
) -> Combination {
    Combination {
        kernel,
        granularity,
        model,
        strategy,
        seed,
        cpus,
    }
}

/// The pinned runs of every scenario: every granularity, model, strategy and kernel
/// version, several seeds, and a machine with more CPUs than the scenario asks for.
const COMBINATIONS: [Combination; 18] = {
    use GranularityArg::{Access, Lock, Syscall};
    use ModelArg::{Pso, Sc, Tso};
    use StrategyArg::{Pct, Random, RoundRobin, Timed};
    const SEED: KernelArg = KernelArg(KernelVersion::Seed);
    const V2_6_21: KernelArg = KernelArg(KernelVersion::V2_6_21);
    const V2_6_22: KernelArg = KernelArg(KernelVersion::V2_6_22);
    const V6_18: KernelArg = KernelArg(KernelVersion::V6_18);
    [
        combination(SEED, Syscall, Sc, Timed, 0, None),
        combination(SEED, Lock, Sc, Random, 1, None),
        combination(SEED, Lock, Sc, Pct, 2, None),
        combination(SEED, Lock, Sc, Random, 9, Some(4)),
        combination(SEED, Access, Sc, RoundRobin, 3, None),
        combination(SEED, Access, Tso, Random, 4, None),
        combination(SEED, Access, Tso, Random, 10, Some(3)),
        combination(SEED, Access, Pso, Pct, 5, None),
        combination(SEED, Access, Pso, Timed, 8, None),
        combination(SEED, Access, Pso, Random, 11, None),
        combination(V2_6_21, Lock, Sc, Random, 6, None),
        combination(V2_6_21, Access, Tso, Random, 7, None),
        combination(V2_6_22, Lock, Sc, Random, 12, None),
        combination(V2_6_22, Access, Pso, Pct, 13, None),
        combination(V6_18, Syscall, Sc, Timed, 14, None),
        combination(V6_18, Lock, Sc, Random, 15, None),
        combination(V6_18, Access, Tso, Random, 16, None),
        combination(V6_18, Access, Pso, Pct, 17, Some(3)),
    ]
};

fn name<T: clap::ValueEnum>(value: T) -> String {
    value
        .to_possible_value()
        .expect("no skipped values")
        .get_name()
        .to_string()
}

/// One line of the table: the run's options, then its trace hash, steps, virtual time
/// and report kinds, or why the scenario does not take these options.
fn line(scenario_name: &str, combination: Combination) -> String {
    let scenario = workloads::session::load(scenario_name).expect("a shipped scenario");
    let common = CommonOpts {
        seed: Some(combination.seed),
        cpus: combination.cpus,
        kernel: Some(combination.kernel),
        model: Some(combination.model),
        granularity: Some(combination.granularity),
        strategy: Some(combination.strategy),
        ..CommonOpts::default()
    };
    let head = format!(
        "{scenario_name} {} {} {} {} seed {} cpus {}",
        name(combination.kernel),
        name(combination.granularity),
        name(combination.model),
        name(combination.strategy),
        combination.seed,
        combination
            .cpus
            .map_or("-".to_string(), |cpus| cpus.to_string()),
    );
    let result = session::resolve(&scenario, &common)
        .and_then(|resolved| session::execute_resolved(&scenario, &resolved, Capture::Nothing));
    match result {
        Ok(executed) => {
            let result = &executed.outcome.result;
            let kinds: Vec<&str> = executed
                .outcome
                .reports()
                .iter()
                .map(|report| report.kind.name())
                .collect();
            format!(
                "{head}: hash {:016x} steps {} time {} ns reports [{}]",
                result.trace_hash,
                result.steps,
                result.virtual_time_ns,
                kinds.join(" ")
            )
        }
        Err(error) => format!("{head}: refused: {error:?}"),
    }
}

#[test]
fn every_shipped_scenario_ends_with_its_pinned_trace_hash() {
    let mut lines = Vec::new();
    for scenario in list() {
        for combination in COMBINATIONS {
            lines.push(line(scenario.name, combination));
        }
    }
    let table = lines.join("\n") + "\n";
    if std::env::var_os("EPSIM_WRITE_TRACE_HASHES").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/trace_hashes.txt");
        std::fs::write(path, &table).expect("write the table");
        return;
    }
    let pinned: Vec<&str> = TABLE.lines().collect();
    let mut differences = Vec::new();
    for (index, got) in lines.iter().enumerate() {
        match pinned.get(index) {
            Some(want) if want == got => {}
            Some(want) => differences.push(format!("pinned {want}\n   now {got}")),
            None => differences.push(format!("not pinned: {got}")),
        }
    }
    if pinned.len() > lines.len() {
        differences.push(format!(
            "{} pinned runs no longer made",
            pinned.len() - lines.len()
        ));
    }
    assert!(
        differences.is_empty(),
        "{} of {} runs differ from tests/trace_hashes.txt:\n{}",
        differences.len(),
        lines.len(),
        differences.join("\n")
    );
}
