//! The regression scenarios of the 6.18 port mistakes `epsim difftest` found
//! (`workloads/tests/difftest/*.scn`): each holds the host kernel's results as its
//! expectations, so each passes on `--kernel 6.18` only while the fix stays in.

use std::path::Path;

use kernel_model::KernelVersion;
use workloads::api;

#[test]
fn every_difftest_regression_passes_on_6_18() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/difftest");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the regression directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "the regressions are there: {files:?}");
    for file in files {
        let scenario = api::load(&file).expect("the regression parses");
        let options = api::RunOptions::new().kernel(KernelVersion::V6_18).cpus(1);
        let run = api::run(&scenario, &options).expect("it runs");
        assert!(
            run.passed,
            "{} fails on 6.18:\n{}",
            file.display(),
            run.event_order
        );
    }
}
