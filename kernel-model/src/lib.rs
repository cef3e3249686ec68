//! # kernel-model — Linux's fs/eventpoll.c and the VFS pieces it touches, on `sim`
//!
//! A faithful port of eventpoll.c as it stood right after Davide Libenzi's May 2007
//! commit 6192bd536f96 ("epoll: optimizations and cleanups", the single-pass transfer),
//! named `6192bd536f96` (alias `seed`), and — selectable per run — as the v2.6.21 tag has
//! it (`2.6.21`, three passes with `txlink`) and as the v2.6.22 tag has it (`2.6.22`:
//! `ep->mtx`, `ovflist`, exclusive waiters) and as the v6.18 tag has it (`6.18`). See
//! [`version::KernelVersion`] for the names.
//! Kernel names, structures, lock order and the comments' reasoning are kept; every simplification is named in the doc comment of the
//! function that makes it. See `docs/eventpoll-port-digest.md` for the function-by-function
//! reading of the originals that the port follows.
//!
//! **Architecture invariant:** `kernel-model` does not parse files or print; it is a
//! library driven through [`world::World`] (and, from `workloads`, through scenarios).
//!
//! Table of contents, bottom layer first. Dependencies point one way: a module names only
//! modules listed before it (`tests/layers.rs` pins this). The only calls that go up are
//! the kernel's calls through function pointers, gathered in [`dispatch`].
//!
//! Definitions:
//! - [`errno`] — error numbers
//! - [`version`] — the four versions by name, which syscalls each tree has, where its
//!   epoll file comes from
//! - [`inject`] — named bug injections, each naming the versions it applies to
//! - [`objects`] — every kernel object (`struct file`, `eventpoll`, `epitem`, pipes,
//!   eventfd and timerfd contexts, sockets, `files_struct`) and which lock protects each
//!   field: the model's headers
//! - [`poll`] — event bits and the poll table
//! - [`user`] — user buffers that fault
//!
//! The kernel value:
//! - [`kernel`] — options, the object table's accessors, task registration
//!
//! Files:
//! - [`fdtable`] — per-process descriptor tables
//! - [`file`](mod@file) — `struct file`, `fget`/`fput`/`__fput`
//! - [`check`] — the checkers (ready-list reachability, lost wake-ups, leaks)
//! - [`wait`] — the wait loop eventfd and timerfd share
//!
//! File kinds:
//! - [`pipe`] — fs/pipe.c of 2.6.22
//! - [`pipe_6_18`] — fs/pipe.c of 6.18: reader and writer heads, keyed wake-ups
//! - [`eventfd`] — fs/eventfd.c (2.6.22's first version; 6.18's flags; `eventfd_signal`)
//! - [`timerfd`] — fs/timerfd.c of 6.18 on virtual time (`timerfd_create`/`settime`/`gettime`)
//! - [`opaque`] — the opaque file of replayed recordings: readiness driven from outside,
//!   `accept` of outside connections
//! - [`socket_dgram`] — AF_UNIX datagram socketpairs (6.18's `unix_dgram_sendmsg`,
//!   `__unix_dgram_recvmsg`).
//! - [`socket`] — AF_UNIX stream socketpairs (net/unix/af_unix.c, net/core/sock.c) and
//!   the externally fed stream socket (`net_deliver`/`net_shutdown`/`net_error` from
//!   interrupt handlers, standing in for softirq receive processing)
//!
//! eventpoll.c, one file per version:
//! - [`eventpoll`] — the 6192bd536f96 (seed) port: `ep_insert`, `ep_remove`, `ep_poll_callback`,
//!   `ep_send_events`, `ep_poll`, `ep_poll_safewake`, …
//! - [`eventpoll_2_6_21`] — the three-pass transfer the seed commit replaced
//! - [`eventpoll_2_6_22`] — the v2.6.22 tag: `ep->mtx`, spinlock `ep->lock`, `ovflist`,
//!   exclusive `ep_poll` waiters
//! - [`eventpoll_6_18`] — fs/eventpoll.c of v6.18, top to bottom in that file's order
//!
//! poll(2):
//! - [`select`] — `poll(2)` on one descriptor (fs/select.c): `__pollwait`, `pollwake`
//!
//! Function pointers:
//! - [`dispatch`] — `f_op->poll/read/write/release`, `poll_wait`'s `_qproc`, wait
//!   entries' `func`, each switched on the file's kind and the version
//!
//! System calls:
//! - [`select`] — `poll(2)` on one descriptor (fs/select.c)
//! - [`syscalls`] — `epoll_create`, `epoll_ctl`, `epoll_wait`, `epoll_pwait`, `pipe`,
//!   `read`, `write`, `close`, `dup`, `dup2`, `fcntl`, `open`, `kill`, `eventfd`,
//!   `socketpair`, `shutdown`, and `socket_external`
//! - [`task`] — a thread's life: `spawn_thread`, `exit_files`
//!
//! For tools that draw the model:
//! - [`view_layout`] — what a step-through view draws of each version's objects
//!
//! The library API:
//! - [`world`] — running programs: processes, tasks, interrupts, one run
//! - [`explore`] — many runs, distinct traces, reports, shrinking, strict replay

#![deny(clippy::disallowed_types, clippy::disallowed_methods)]

pub mod check;
pub mod dispatch;
pub mod errno;
pub mod eventfd;
pub mod eventpoll;
pub mod eventpoll_2_6_21;
pub mod eventpoll_2_6_22;
pub mod eventpoll_6_18;
pub mod explore;
pub mod fdtable;
pub mod file;
pub mod inject;
pub mod kernel;
pub mod objects;
pub mod opaque;
pub mod pipe;
pub mod pipe_6_18;
pub mod poll;
pub mod select;
pub mod socket;
pub mod socket_dgram;
pub mod syscalls;
pub mod task;
pub mod timerfd;
pub mod user;
pub mod version;
pub mod view_layout;
pub mod wait;
pub mod world;

pub use errno::{Errno, SysResult};
pub use inject::Injection;
pub use kernel::{Kernel, KernelOptions, KernelVersion};
pub use poll::EpollEvent;
pub use world::{Options, Outcome, World};
