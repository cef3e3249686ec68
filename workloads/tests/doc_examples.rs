//! Every ```scn example of docs/scenario-language.md parses, runs and passes.

use sim::strategy::Canonical;
use workloads::scenario::{Overrides, Scenario};

fn examples() -> Vec<(usize, String)> {
    let text = include_str!("../../docs/scenario-language.md");
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        match &mut current {
            None if line.trim_start() == "```scn" => current = Some((n + 2, String::new())),
            None => {}
            Some(_) if line.trim_start() == "```" => out.push(current.take().unwrap()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    out
}

#[test]
fn every_example_of_the_reference_page_parses_and_runs() {
    let examples = examples();
    assert!(examples.len() >= 10, "{} examples", examples.len());
    for (line, text) in examples {
        let name = format!("scenario-language.md:{line}");
        let scenario = Scenario::parse(&name, &text).unwrap_or_else(|e| panic!("{e}"));
        let options = scenario.options(&Overrides::default());
        scenario.check_options(&options).unwrap();
        let mut strategy = Canonical::default();
        let out = scenario.run(&options, 0, &mut strategy);
        if std::env::var("SHOW_DOC").is_ok() {
            println!(
                "== {name}: {:?} passed={}",
                out.outcome.result.end,
                out.verdict.passed()
            );
            for r in out.outcome.reports() {
                println!("   report {}", r.message);
            }
            for r in &out.expectation_reports {
                println!("   run-level {}", r.message);
            }
        }
        assert!(out.verdict.passed(), "{name}: {:?}", out.verdict);
    }
}
