//! `workloads::api` from the outside: what its documentation promises beyond its doc
//! tests — the run is `epsim run`'s for the `timed` strategy, the text is the project's
//! own event-order text, and a file's scenario is known by its file name.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use workloads::api;

fn library(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.scn"))
}

#[test]
fn a_timed_run_is_the_run_epsim_run_makes() {
    let file = library("seed-case-4-two-waiters");
    let scenario = api::load(&file).unwrap();
    for &kernel in api::kernel_versions() {
        if api::unsupported_on(&scenario, kernel).is_some() {
            continue;
        }
        let options = api::RunOptions::new()
            .kernel(kernel)
            .strategy(api::StrategyKind::Timed)
            .seed(3);
        let run = api::run(&scenario, &options).unwrap();
        let output = cargo_bin_cmd!("epsim")
            .env_remove("RUST_LOG")
            .args([
                "run",
                file.to_str().unwrap(),
                "--json",
                "--strategy",
                "timed",
            ])
            .args(["--seed", "3", "--kernel", kernel.name()])
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            json["trace_hash"],
            format!("{:016x}", run.trace_hash),
            "{}",
            kernel.name()
        );
        assert_eq!(json["steps"], run.steps);
        let calls: Vec<&str> = run.calls.iter().map(|c| c.call.as_str()).collect();
        let from_json: Vec<&str> = json["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["call"].as_str().unwrap())
            .collect();
        assert_eq!(calls, from_json);
    }
}

#[test]
fn the_text_is_the_projects_event_order_text_and_names_the_file_alone() {
    let scenario = api::load(library("lt-basics")).unwrap();
    assert_eq!(scenario.file, "lt-basics.scn");
    for &kernel in api::kernel_versions() {
        let text = api::event_order(&scenario, &api::RunOptions::new().kernel(kernel)).unwrap();
        assert_eq!(text, workloads::event_order::render(&scenario, kernel));
        assert!(
            text.starts_with(&format!("kernel {}, ", kernel.name())),
            "{text}"
        );
    }
    // Options the scenario cannot run with are an error, not a panic.
    let error = api::run(&scenario, &api::RunOptions::new().cpus(0)).unwrap_err();
    assert!(!error.to_string().is_empty());
    let error = api::run(
        &scenario,
        &api::RunOptions::new().model(api::MemoryModel::Tso),
    )
    .unwrap_err();
    assert!(error.to_string().contains("granularity"), "{error}");
    assert!(api::kernel_version("no-such-version").is_err());
    for &kernel in api::kernel_versions() {
        assert_eq!(api::kernel_version(kernel.name()), Ok(kernel));
    }
}
