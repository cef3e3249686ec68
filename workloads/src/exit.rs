//! Exit statuses and the error that ends a command with one line on stderr.

use std::fmt;
use std::io::{self, Write};

/// How a command that ran to its end went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Nothing to report (status 0).
    Clean,
    /// A violation was reported or an expectation failed (status 1).
    Failed,
    /// Ctrl-C stopped the command after it reported what it had (status 130,
    /// [`crate::interrupt::EXIT_STATUS`]).
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Clean => 0,
            Exit::Failed => 1,
            Exit::Interrupted => crate::interrupt::EXIT_STATUS,
        }
    }
}

/// Status 2: the command line or an input was wrong.
pub const USAGE: u8 = 2;

/// An error that stops a command. `message` is one line a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// Bad command line or input (status 2).
    Usage(String),
    /// The command ran but could not do what it promised — a replay that diverged from
    /// its recording, a run that is not deterministic (status 1).
    Failed(String),
    /// Standard output went away (a closed pipe): stop quietly with status 0.
    OutputClosed,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::Usage(message.into())
    }

    pub fn failed(message: impl Into<String>) -> CliError {
        CliError::Failed(message.into())
    }

    /// Writes the error's line to `err` and returns the exit status.
    pub fn report(&self, err: &mut dyn Write) -> u8 {
        match self {
            CliError::Usage(message) => {
                let _ = writeln!(err, "error: {}", one_line(message));
                USAGE
            }
            CliError::Failed(message) => {
                let _ = writeln!(err, "error: {}", one_line(message));
                Exit::Failed.code()
            }
            CliError::OutputClosed => 0,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(message) | CliError::Failed(message) => f.write_str(message),
            CliError::OutputClosed => f.write_str("standard output was closed"),
        }
    }
}

/// What a failed write to standard output says before the system's reason.
const STDOUT_WRITE_FAILED: &str = "cannot write standard output: ";

impl CliError {
    /// The error of a write to the file `path` instead of standard output: a reader
    /// that went away is no reason to stop quietly there, and the message names the file.
    pub fn in_file(self, path: &std::path::Path) -> CliError {
        let reason = match &self {
            CliError::OutputClosed => io::Error::from(io::ErrorKind::BrokenPipe).to_string(),
            CliError::Usage(message) | CliError::Failed(message) => message
                .strip_prefix(STDOUT_WRITE_FAILED)
                .unwrap_or(message)
                .to_string(),
        };
        CliError::Usage(format!("cannot write {}: {reason}", path.display()))
    }
}

/// A failed write to standard output. A reader that went away (`epsim litmus all | head`)
/// is not an error; any other failure (a full disk, `> /dev/full`) is one (status 2).
impl From<io::Error> for CliError {
    fn from(error: io::Error) -> CliError {
        if error.kind() == io::ErrorKind::BrokenPipe {
            CliError::OutputClosed
        } else {
            CliError::Usage(format!("{STDOUT_WRITE_FAILED}{error}"))
        }
    }
}

/// Collapses whitespace, newlines included, so an error is always exactly one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
