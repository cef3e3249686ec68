//! `epsim view`: a run as a self-contained HTML page to step through (see [`crate::view`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::ViewArgs;
use crate::exit::{CliError, Exit};
use crate::scenario::Scenario;
use crate::session::{self, Capture, Executed, Resolved};
use crate::view::encode::{encode_run, PaneInfo};
use crate::view::page::{render, PageExtras};

/// One watched run of `scenario` as `resolved` says.
pub fn watch(scenario: &Scenario, resolved: &Resolved) -> Result<Executed, CliError> {
    session::execute_resolved(scenario, resolved, Capture::View)
}

/// One run's pane data, titled `title`.
pub fn pane(scenario: &Scenario, resolved: &Resolved, executed: &Executed, title: &str) -> String {
    let schedule = executed.outcome.result.schedule.encode();
    let options = resolved.describe();
    let results = executed.results.render();
    encode_run(
        executed,
        &PaneInfo {
            title,
            options: &options,
            scenario: &scenario.name(),
            schedule: &schedule,
            trace_hash: executed.outcome.result.trace_hash,
            results: &results,
        },
    )
}

/// Writes `html` to `path`; a failed write names the file.
pub fn write_page(path: &Path, html: &str) -> Result<(), CliError> {
    std::fs::write(path, html)
        .map_err(|e| CliError::usage(format!("cannot write {}: {e}", path.display())))
}

/// The page of one run.
pub fn page_of_run(scenario: &Scenario, resolved: &Resolved, executed: &Executed) -> String {
    let title = format!(
        "{} on {}",
        scenario.name(),
        resolved.options.kernel.version.name()
    );
    let pane = pane(scenario, resolved, executed, &title);
    render(&title, &[pane], &PageExtras::default())
}

/// `epsim view SCENARIO [run options] [-o FILE]`.
pub fn run(args: &ViewArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let scenario = session::load(&args.scenario)?;
    let resolved = session::resolve(&scenario, &args.common)?;
    let executed = watch(&scenario, &resolved)?;
    let html = page_of_run(&scenario, &resolved, &executed);
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.html", scenario.name())));
    write_page(&path, &html)?;
    let records = executed.trace.as_ref().map_or(0, |t| t.records.len());
    writeln!(
        out,
        "wrote {} ({} steps, {} records, {} bytes): open it in a browser; ? lists the keys",
        path.display(),
        executed.outcome.result.steps,
        records,
        html.len()
    )?;
    Ok(Exit::Clean)
}
