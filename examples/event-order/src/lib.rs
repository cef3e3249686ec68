//! # event-order-example — epsim's snapshots from the outside
//!
//! A crate laid out as a user's would be: its scenarios in `scenarios/`, each one's event
//! order on every kernel version pinned in `scenarios/snapshots/NAME@VERSION.snap`.
//! Two ways check the same files:
//!
//! - `tests/event_order.rs`: insta tests through [`workloads::api`]
//!   (`cargo test -p event-order-example`);
//! - `check-snapshots.sh`: `epsim snapshot scenarios --check`, for a CI step outside Rust.
//!
//! `tests/options.rs` pins runs with options other than the scenario's own (strategy
//! and seed) in `tests/snapshots/`. `docs/snapshot-testing.md` is the guide.

use std::path::PathBuf;

/// The scenario files of this crate, sorted by path.
pub fn scenario_files() -> Vec<PathBuf> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    files
}
