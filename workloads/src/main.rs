//! `epsim`: the deterministic simulator of Linux epoll. All the work is in the
//! `workloads` library; this only connects it to the process.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{self, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = std::env::args_os().collect();
    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut err = stderr.lock();
    let code = workloads::run(args, &mut out, &mut err);
    // A reader that went away (`epsim litmus all | head`) is not an error.
    let _ = out.flush();
    ExitCode::from(code)
}
