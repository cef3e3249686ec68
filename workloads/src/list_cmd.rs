//! `epsim list`: the built-in scenarios (the library in `workloads/scenarios/`, then the
//! conformance suites in its subfolders, named `selftests/epoll1`) with their description lines; with `--kernel K`, whether each runs on K (a scenario that
//! makes a call K's tree does not have cannot, and the reason is shown).

use std::io::Write;

use serde::Serialize;

use crate::cli::ListArgs;
use crate::exit::{CliError, Exit};
use crate::output::{write_json, Table};
use crate::scenario::{all, list};

#[derive(Serialize)]
struct Entry {
    name: &'static str,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kernel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<bool>,
    /// Why it does not run on `kernel` (absent when it does).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// `epsim list`.
pub fn run(args: &ListArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let kernel = args.kernel.map(|k| k.version());
    let mut entries = Vec::new();
    for builtin in all() {
        let scenario = builtin
            .parse()
            .map_err(|e| CliError::usage(format!("built-in scenario: {e}")))?;
        let reason = kernel.and_then(|k| scenario.unsupported_on(k));
        entries.push(Entry {
            name: builtin.name,
            description: scenario.description().to_string(),
            kernel: kernel.map(|k| k.name()),
            runs: kernel.map(|_| reason.is_none()),
            reason,
        });
    }
    if args.json {
        write_json(out, &entries)?;
        return Ok(Exit::Clean);
    }
    // The library first, with its summary line; then the conformance suites.
    let (entries, suites) = entries.split_at(list().len());
    match kernel {
        None => {
            let mut table = Table::new(["NAME", "DESCRIPTION"]);
            for entry in entries {
                table.row([entry.name.to_string(), entry.description.clone()]);
            }
            table.write(out, "")?;
            writeln!(
                out,
                "\n{} scenarios. Run one with `epsim run NAME`; see its text with `epsim list --show NAME`.",
                entries.len()
            )?;
            let mut table = Table::new(["CONFORMANCE", "DESCRIPTION"]);
            for entry in suites {
                table.row([entry.name.to_string(), entry.description.clone()]);
            }
            writeln!(out)?;
            table.write(out, "")?;
            writeln!(
                out,
                "\n{} conformance scenarios: the kernel's epoll selftests and LTP's epoll tests (docs/conformance.md).",
                suites.len()
            )?;
        }
        Some(kernel) => {
            let mut table = Table::new(["NAME", &format!("ON {}", kernel.name()), "DESCRIPTION"]);
            for entry in entries.iter().chain(suites) {
                table.row([
                    entry.name.to_string(),
                    entry
                        .reason
                        .map_or("runs".to_string(), |r| format!("skipped: {r}")),
                    entry.description.clone(),
                ]);
            }
            table.write(out, "")?;
            let runs = entries.iter().filter(|e| e.reason.is_none()).count();
            writeln!(
                out,
                "\n{runs} of {} scenarios run on {}. Run one with `epsim run NAME --kernel {}`.",
                entries.len(),
                kernel.name(),
                kernel.name()
            )?;
            let suite_runs = suites.iter().filter(|e| e.reason.is_none()).count();
            writeln!(
                out,
                "{suite_runs} of {} conformance scenarios run on {}.",
                suites.len(),
                kernel.name()
            )?;
        }
    }
    Ok(Exit::Clean)
}

/// `epsim list --show NAME`: the scenario's text.
pub fn show(name: &str, out: &mut dyn Write) -> Result<Exit, CliError> {
    let scenario = crate::scenario::builtin(name).ok_or_else(|| {
        CliError::usage(format!(
            "unknown scenario {name:?}: `epsim list` shows the built-in ones"
        ))
    })?;
    write!(out, "{}", scenario.text)?;
    Ok(Exit::Clean)
}
