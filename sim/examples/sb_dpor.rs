//! Exhausts SB under tso with dpor many times (for profilers): `cargo run --release -p sim --example sb_dpor`.
fn main() {
    let test = sim::litmus::find("SB").expect("SB is built in");
    let mut executions = 0;
    for _ in 0..20_000 {
        executions += sim::litmus::run(
            test,
            sim::MemoryModel::Tso,
            sim::litmus::LitmusStrategy::Dpor,
        )
        .executions;
    }
    println!("{executions}");
}
