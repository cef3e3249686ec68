//! `epsim list`: the built-in scenarios (the library in `workloads/scenarios/`) with
//! their description lines.

use std::io::Write;

use serde::Serialize;

use crate::cli::ListArgs;
use crate::exit::{CliError, Exit};
use crate::output::{write_json, Table};
use crate::scenario::list;

#[derive(Serialize)]
struct Entry {
    name: &'static str,
    description: String,
}

/// `epsim list`.
pub fn run(args: &ListArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let entries: Vec<Entry> = list()
        .iter()
        .map(|s| Entry {
            name: s.name,
            description: s.description(),
        })
        .collect();
    if args.json {
        write_json(out, &entries)?;
        return Ok(Exit::Clean);
    }
    let mut table = Table::new(["NAME", "DESCRIPTION"]);
    for entry in &entries {
        table.row([entry.name.to_string(), entry.description.clone()]);
    }
    table.write(out, "")?;
    writeln!(
        out,
        "\n{} scenarios. Run one with `epsim run NAME`; see its text with `epsim list --show NAME`.",
        entries.len()
    )?;
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
