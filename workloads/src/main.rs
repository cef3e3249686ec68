//! `epsim`: the deterministic simulator of Linux epoll. All the work is in the
//! `workloads` library; this only connects it to the process.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{self, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = std::env::args_os().collect();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    // Not locked for the whole run: `explore`'s threads log to stderr too (RUST_LOG).
    let mut err = io::stderr();
    if let Err(error) = workloads::logs::install() {
        return ExitCode::from(error.report(&mut err));
    }
    let code = workloads::run(args, &mut out, &mut err);
    // What is still buffered is written now: a failure here (a full disk, `> /dev/full`)
    // is an error like any other write error, unless the command already reported one.
    let flushed = out.flush().map_err(workloads::CliError::from);
    let code = match flushed {
        Err(error) if code != workloads::exit::USAGE => error.report(&mut err),
        _ => code,
    };
    ExitCode::from(code)
}
