//! The step-through view of a run (`epsim view`, `replay --view`, `explore --view`,
//! `diff`, `tour`): one self-contained HTML file that rebuilds, at any step, what the
//! simulated machine held — each eventpoll's lists drawn from their real link words,
//! each epitem, lock, wait queue, store buffer and task — from a compact log of changes.
//!
//! - [`observed`] — what a watched run leaves besides its trace: `sim`'s log of changes
//!   and the names a page needs (locks, contexts, wait queues, the version's lists)
//! - [`encode`] — one run as the page's data: records and changes as flat tables
//! - [`lists`] — the lists at a record, rebuilt in Rust from the same log (what the
//!   browser tests compare the page with)
//! - [`page`] — the HTML (inline CSS and script, no network)
//! - [`browser`] — a headless Chromium driven over the DevTools protocol (tests,
//!   benchmark, screenshots)

pub mod browser;
pub mod encode;
pub mod lists;
pub mod observed;
pub mod page;

pub use observed::{observe_world, Observed};
