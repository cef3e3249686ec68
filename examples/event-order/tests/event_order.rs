//! The event order of every scenario in `scenarios/` on every kernel version the
//! simulator has, pinned in `scenarios/snapshots/STEM@VERSION.snap` — the files
//! `epsim snapshot scenarios --check` checks too. A new scenario file is a new snapshot
//! (missing snapshots fail in CI, where INSTA_UPDATE=no); a changed event order is a
//! diff to review with `cargo insta review`.

use workloads::api;

#[test]
fn event_order_of_every_scenario_on_every_kernel_version() {
    let files = event_order_example::scenario_files();
    assert!(!files.is_empty(), "no scenario files in scenarios/");
    for file in files {
        let scenario = api::load(&file).unwrap_or_else(|error| panic!("{error}"));
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        for &kernel in api::kernel_versions() {
            if api::unsupported_on(&scenario, kernel).is_some() {
                continue;
            }
            let options = api::RunOptions::new().kernel(kernel);
            let text = api::snapshot_text(&scenario, &options).unwrap();
            insta::with_settings!({
                snapshot_path => "../scenarios/snapshots",
                prepend_module_to_snapshot => false,
            }, {
                insta::assert_snapshot!(format!("{stem}@{}", kernel.name()), text);
            });
        }
    }
}
