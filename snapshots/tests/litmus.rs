//! Group 4: every litmus test under every model, exhaustively: final states, herd-style
//! observation and verdict, and the expected verdict beside it.

use std::fmt::Write as _;

use sim::litmus::{self, LitmusStrategy};
use sim::MemoryModel;

#[test]
fn litmus_table() {
    let mut out = String::new();
    for test in litmus::TESTS {
        let _ = writeln!(out, "{} — {}", test.name, test.summary);
        let _ = writeln!(out, "  {}", litmus::condition_text(test));
        for model in MemoryModel::ALL {
            let result = litmus::run(test, model, LitmusStrategy::Dfs);
            let expected = litmus::expected_allowed(test.name, model).unwrap();
            let states: Vec<String> = result
                .states
                .keys()
                .map(|s| {
                    s.entries(test)
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            let _ = writeln!(
                out,
                "  {:<3} {:<9} {:<9} (expected {}) states: {}",
                model.name(),
                result.observation,
                result.verdict(),
                if expected { "Allowed" } else { "Forbidden" },
                states.join(" | ")
            );
        }
    }
    insta::assert_snapshot!(out);
}
