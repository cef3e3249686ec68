//! Logs on stderr through `tracing`, for whoever wants to see what `epsim` is doing
//! and where the time goes. Off unless `RUST_LOG` is set (then nothing is installed
//! and the `tracing` macros cost one relaxed load each); `RUST_LOG` is an
//! [`EnvFilter`] (`RUST_LOG=epsim=info`, `RUST_LOG=epsim=trace`, ...).
//!
//! Everything epsim logs has the target [`TARGET`]:
//! - INFO: spans for what a user waits on, each logged when it closes with its busy
//!   and idle time — `parse` (a scenario file), `build` (a world from it), `run` (one
//!   run), `explore` (all its runs) and `explore worker` (one thread of it), `shrink`
//!   (a report's schedule);
//! - DEBUG: a span for each run of `explore` and the `build` in it, and each report the
//!   machine makes, as it makes it (`sim::state`);
//! - TRACE: every trace record of every run as it happens (`sim::trace`'s mirror:
//!   `t_ns=... step cpu task event`). A run decides once, when it starts, whether to
//!   mirror its records: with TRACE off for `epsim` it formats nothing.
//!
//! Standard output is the same with or without logs.

use std::io::IsTerminal;

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::EnvFilter;

use crate::exit::CliError;

/// The target of every span and event epsim logs (the trace mirror in `sim::trace`
/// uses it too).
pub const TARGET: &str = "epsim";

/// Installs the stderr subscriber if `RUST_LOG` is set and not empty. A filter that
/// does not parse is a usage error (one line, status 2).
pub fn install() -> Result<(), CliError> {
    let Some(value) = std::env::var_os(EnvFilter::DEFAULT_ENV) else {
        return Ok(());
    };
    let Some(text) = value.to_str() else {
        return Err(CliError::usage("RUST_LOG is not valid UTF-8"));
    };
    if text.trim().is_empty() {
        return Ok(());
    }
    let filter = EnvFilter::builder()
        .parse(text)
        .map_err(|error| CliError::usage(format!("RUST_LOG={text:?}: {error}")))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_span_events(FmtSpan::CLOSE)
        .try_init()
        .map_err(|error| CliError::usage(format!("cannot install the RUST_LOG logger: {error}")))
}
