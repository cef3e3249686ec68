//! `epsim import`: strace recordings of real programs, as scenarios.
//!
//! [`line`](mod@line) splits a line into prefix, timestamp and call; [`args`] reads the arguments
//! strace prints; [`world`] rebuilds the world the recording implies (processes and
//! threads, descriptor tables, epoll sets, pipes, eventfds, sockets, opaque files) and
//! writes it as a scenario whose every replayed call is followed by an expectation of
//! the recorded result, with what came from outside (bytes arriving, connections, a
//! peer's close, signals) as `at` blocks in interrupt context. `docs/recordings.md` says
//! what is covered and what is approximated.

pub mod args;
pub mod fuzz;
pub mod line;
pub mod placement;
pub mod world;

use std::collections::BTreeMap;

/// An import error: one line, `file:line:col: expected ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError {
    pub message: String,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// How to import.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Skip malformed lines (counted) instead of failing at the first.
    pub keep_going: bool,
    /// Which outside events land while the call that saw them waits instead of before it
    /// (empty: all before).
    pub placement: placement::Placement,
}

/// One replayed call and what the recording says it returned.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// Line of the recording where the call returned (1-based).
    pub strace_line: usize,
    /// Line of the scenario's statement.
    pub scenario_line: u32,
    /// The call as the recording shows it, shortened (`epoll_wait(3, 1023, 0)`).
    pub call: String,
    /// An epoll call (`epoll_create*`, `epoll_ctl`, `epoll_wait`, `epoll_pwait*`).
    pub epoll: bool,
    /// The recorded return value (-1 on error).
    pub ret: i64,
    /// The recorded errno name (ERESTART* read as EINTR).
    pub errno: Option<String>,
    /// For the epoll waits: the events, `(mask, data)` in order.
    pub events: Option<Vec<(u32, u64)>>,
    /// For `pipe`/`socketpair`: the two descriptors.
    pub fds: Option<[i64; 2]>,
    /// Outside events the importer placed for this call (the first call that saw them):
    /// what a [`placement::Placement`] of this call names, in order.
    pub outside_events: usize,
}

/// A recording imported as a scenario.
#[derive(Clone, Debug)]
pub struct Import {
    /// The scenario: its text (`scenario.text`, what `epsim import` writes) and its
    /// parsed form, written together ([`crate::scenario::writer`]): parsing the text gives
    /// the same scenario, with the same hash.
    pub scenario: crate::scenario::Scenario,
    /// Lines of the recording.
    pub lines: usize,
    /// The calls replayed, in the order they returned in the recording.
    pub calls: Vec<Recorded>,
    /// Calls kept as comments (not replayed), by name.
    pub not_replayed: BTreeMap<String, usize>,
    /// Malformed lines skipped with `--keep-going`.
    pub malformed: usize,
    /// The first malformed line's error, when some were skipped.
    pub first_malformed: Option<String>,
    /// Tasks (processes and threads) the recording has.
    pub tasks: usize,
    /// Tasks with at least one replayed call (more than one: the schedule matters).
    pub replaying_tasks: usize,
    /// Outside events (`at` blocks) the scenario has.
    pub outside_events: usize,
}

/// Whether `text` looks like strace output rather than a scenario or an epsim record:
/// the first non-empty line parses as an strace line and names a call, a signal or an
/// exit.
pub fn looks_like_strace(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .is_some_and(|l| {
            !l.starts_with('{')
                && !l.starts_with('#')
                && matches!(line::parse_line(l), Ok(Some(_)))
                && (l.contains('(') || l.contains("+++") || l.contains("---"))
                && l.contains(" = ")
                || l.contains("<unfinished ...>")
        })
}

/// Imports a recording: `file` names it in errors and in the scenario.
pub fn import(text: &str, file: &str, options: &ImportOptions) -> Result<Import, ImportError> {
    let import = world::build(text, file, options)?;
    if import.tasks == 0 {
        // Nothing to rebuild a world from: say so, rather than write a scenario with no
        // task (which would not parse).
        return Err(ImportError {
            message: format!(
                "{file}: no system call in {} line(s), expected strace output \
                 (`strace -f -o FILE PROGRAM`)",
                import.lines
            ),
        });
    }
    Ok(import)
}
