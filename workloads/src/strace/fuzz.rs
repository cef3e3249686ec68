//! Fuzzing the importer with mutated recordings: every input either imports into a
//! scenario whose text parses to exactly the scenario the importer built (what replay
//! runs), or is refused with one line naming `file:line:col`; nothing
//! panics. `examples/fuzz_strace.rs` runs it at length; the tests run a smoke version.

use std::panic::{catch_unwind, AssertUnwindSafe};

use sim::rng::Rng;

use super::{import, ImportOptions};
use crate::scenario::Scenario;

/// What a fuzz run found.
#[derive(Clone, Debug, Default)]
pub struct FuzzSummary {
    pub inputs: u64,
    /// Inputs imported into a scenario whose text parses to the one built.
    pub imported: u64,
    /// Inputs refused with a one-line error.
    pub refused: u64,
    /// Inputs that broke a rule: a panic, an error not on one line or without its
    /// place, an imported scenario that does not parse or parses to another one than the
    /// importer built. With the input's first line.
    pub findings: Vec<String>,
}

const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "<",
    ">",
    "\"",
    "\\",
    ",",
    " = ",
    " = -1 ",
    "...",
    "<unfinished ...>",
    "<... read resumed>",
    "--- SIGINT {si_signo=SIGINT} ---",
    "+++ exited with 0 +++",
    "0x",
    "-",
    "EAGAIN",
    "?",
    "/*",
    "*/",
    "\n",
    "99999999999999999999",
    "[pid 7] ",
    "12:00:00.000001 ",
    " <0.1>",
];

/// One mutation of `text`.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    for _ in 0..1 + rng.below(4) {
        let i = rng.index(lines.len());
        match rng.below(7) {
            0 => {
                lines.remove(i);
                if lines.is_empty() {
                    lines.push(String::new());
                }
            }
            1 => {
                let copy = lines[i].clone();
                let j = rng.index(lines.len());
                lines.insert(j, copy);
            }
            2 => {
                let j = rng.index(lines.len());
                lines.swap(i, j);
            }
            3 | 4 => {
                let line = &mut lines[i];
                let mut cut = rng.index(line.len() + 1);
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                let token = TOKENS[rng.index(TOKENS.len())];
                line.insert_str(cut, token);
            }
            5 => {
                let line = &mut lines[i];
                let mut cut = rng.index(line.len() + 1);
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
            }
            _ => {
                // A digit changed: another fd, pid, count or data word.
                let line = &mut lines[i];
                let digits: Vec<usize> = line
                    .char_indices()
                    .filter(|(_, c)| c.is_ascii_digit())
                    .map(|(k, _)| k)
                    .collect();
                if !digits.is_empty() {
                    let k = digits[rng.index(digits.len())];
                    let d = char::from(b'0' + rng.below(10) as u8);
                    line.replace_range(k..k + 1, &d.to_string());
                }
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Imports `inputs` mutations of the `recordings` (name, text), seeded by `seed`.
pub fn run(recordings: &[(&str, &str)], inputs: u64, seed: u64) -> FuzzSummary {
    let mut rng = Rng::new(seed);
    let mut summary = FuzzSummary::default();
    for _ in 0..inputs {
        let (name, text) = recordings[rng.index(recordings.len())];
        let input = mutate(text, &mut rng);
        let keep_going = rng.chance(1, 4);
        summary.inputs += 1;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let result = import(
                &input,
                name,
                &ImportOptions {
                    keep_going,
                    ..ImportOptions::default()
                },
            );
            match result {
                Ok(imported) => match Scenario::parse(name, &imported.scenario.text) {
                    Ok(parsed) if parsed == imported.scenario => Ok(true),
                    Ok(_) => Err(format!(
                        "the imported scenario's text parses to another scenario than the one the importer built, from a mutation of {name}"
                    )),
                    Err(e) => Err(format!("the imported scenario does not parse: {e}")),
                },
                Err(e) => {
                    let place = format!("{name}:");
                    if e.message.contains('\n') || !e.message.starts_with(&place) {
                        Err(format!(
                            "an error that is not one line at file:line:col: {}",
                            e.message
                        ))
                    } else {
                        Ok(false)
                    }
                }
            }
        }));
        match outcome {
            Ok(Ok(true)) => summary.imported += 1,
            Ok(Ok(false)) => summary.refused += 1,
            Ok(Err(finding)) => summary.findings.push(finding),
            Err(_) => summary
                .findings
                .push(format!("the importer panicked on a mutation of {name}")),
        }
    }
    summary
}
