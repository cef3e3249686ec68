//! Group 1: the ordered results of every syscall of every task, for every shipped
//! scenario, on every kernel version (`KernelVersion::ALL`) side by side. A new scenario file is a new snapshot, no code.
//! The `inject-*` scenarios are pinned by `injections.rs` (their point is the report an
//! exploration finds, not one canonical run).

#[test]
fn event_order_of_every_shipped_scenario() {
    insta::glob!("../../workloads/scenarios", "*.scn", |path| {
        let name = path.file_stem().unwrap().to_str().unwrap();
        if name.starts_with("inject-") {
            return;
        }
        let scenario = snapshots::library_scenario(name);
        insta::assert_snapshot!(snapshots::check_all(&scenario));
    });
}
