//! The kernel's objects and their handles. Every struct names, for each field, the lock
//! that protects it (as the eventpoll.c LOCKING comment does), and which fields live in
//! shared `sim` memory because some path touches them without that lock.

use std::collections::BTreeMap;

use sim::arena::{Arena, Handle};
use sim::list::ListHead;
use sim::waitq::WaitEntryId;
use sim::{LockId, TaskId, WaitQueueId, Word};

pub type FileId = Handle<File>;
pub type EventPollId = Handle<EventPoll>;
pub type EpitemId = Handle<Epitem>;
pub type PwqId = Handle<EppollEntry>;
pub type PipeId = Handle<crate::pipe::Pipe>;
pub type EventfdId = Handle<crate::eventfd::EventfdCtx>;
pub type SockId = Handle<crate::socket::Sock>;

/// Which end or kind of object a `struct file` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file: no `f_op->poll` (epoll_ctl ADD gives EPERM).
    Regular,
    PipeRead(PipeId),
    PipeWrite(PipeId),
    /// An epoll file (`is_file_epoll`), `private_data` = the eventpoll.
    Epoll(EventPollId),
    /// An eventfd (`eventfd_fops`), `private_data` = the `eventfd_ctx`.
    Eventfd(EventfdId),
    /// A socket file (`socket_file_ops`); the `struct socket` and its `sock` are one object.
    Socket(SockId),
}

impl FileKind {
    pub fn name(&self) -> &'static str {
        match self {
            FileKind::Regular => "file",
            FileKind::PipeRead(_) => "pipe(r)",
            FileKind::PipeWrite(_) => "pipe(w)",
            FileKind::Epoll(_) => "epoll",
            FileKind::Eventfd(_) => "eventfd",
            FileKind::Socket(_) => "socket",
        }
    }
}

/// `O_NONBLOCK`, the only `f_flags` bit the model uses.
pub const O_NONBLOCK: u32 = 0o4000;

/// `struct file`.
#[derive(Clone, Debug)]
pub struct File {
    /// Stable id; also the file's "address" for the rb-tree key order (`ep_cmp_ffd`).
    pub id: u64,
    pub kind: FileKind,
    /// `f_count` (atomic_t): a shared word, changed by `fget`/`fput` with atomics.
    pub f_count: Word,
    /// `f_flags` (only O_NONBLOCK); changed by fcntl(F_SETFL) under no lock (as 2.6.22's
    /// setfl does under the BKL, which the model does not have).
    pub f_flags: u32,
    /// `f_ep_links`: the epitems watching this file, in `list_add_tail` order.
    /// Protected by `f_ep_lock` (except in `eventpoll_release_file`, see there).
    pub f_ep_links: Vec<EpitemId>,
    /// `f_ep_lock` (spinlock).
    pub f_ep_lock: LockId,
    /// A name for traces: `pipe3(r)`, `ep1`, …
    pub label: String,
}

/// `struct eventpoll`.
#[derive(Clone, Debug)]
pub struct EventPoll {
    pub id: u64,
    /// `ep->lock` (rwlock): protects `rdllist`, `rbr`, `wq`.
    pub lock: LockId,
    /// `ep->sem` (rw_semaphore): read during transfers, write in epoll_ctl and release.
    pub sem: LockId,
    /// `ep->wq`: tasks in `epoll_wait`; manipulated only under `ep->lock`.
    pub wq: WaitQueueId,
    /// `ep->poll_wait`: pollers of the epoll fd itself (parents of nested sets).
    pub poll_wait: WaitQueueId,
    /// `ep->rdllist` (shared words; under `ep->lock`).
    pub rdllist: ListHead,
    /// `ep->rbr`: the items keyed by (file id, fd), `ep_cmp_ffd` order. Under `ep->lock`
    /// (write for insert/erase, read for `ep_find`). The rb-tree itself is an ordered map
    /// here: only ever touched under the lock, it has no lockless reader to model.
    pub rbr: BTreeMap<(u64, i32), EpitemId>,
    /// The epoll file (for labels).
    pub file_label: String,
}

/// Field offsets of an epitem's shared words.
pub const EPITEM_FIELDS: &[&str] = &[
    "rdllink.next",
    "rdllink.prev",
    "event.events",
    "nwait",
    "usecnt",
    "txlink.next",
    "txlink.prev",
    "revents",
];

/// `struct epitem`.
#[derive(Clone, Debug)]
pub struct Epitem {
    pub id: u64,
    /// Base of the shared words, laid out as [`EPITEM_FIELDS`]:
    /// - `rdllink` — under `ep->lock`, but the 2.6.22 transfer loop deletes, re-queues and
    ///   re-initialises it without the lock;
    /// - `event.events` — written without `ep->lock` by `ep_modify` and the ONESHOT disarm;
    /// - `nwait` — xchg'ed without locks by `ep_unregister_pollwait`;
    /// - `usecnt` — atomic;
    /// - `txlink`, `revents` — 2.6.21 only (under `ep->lock`, and by the transferring task).
    pub words: Word,
    /// `ep_rb_linked(&epi->rbn)`: under `ep->lock`.
    pub rb_linked: bool,
    /// `ffd`: immutable.
    pub file: FileId,
    pub fd: i32,
    /// `pwqlist`: the item's owner only (under `ep->sem` write or `epmutex`).
    pub pwqlist: Vec<PwqId>,
    /// `ep`: immutable.
    pub ep: EventPollId,
    /// `event.data`: written under `ep->lock` (and `ep->sem` write) in `ep_modify`, read by
    /// the transfer under `ep->sem` read.
    pub data: u64,
    /// `fllink` is linked (on `file.f_ep_links`).
    pub fllink_linked: bool,
}

impl Epitem {
    pub fn rdllink(&self) -> ListHead {
        ListHead(self.words)
    }
    pub fn events_word(&self) -> Word {
        self.words.offset(2)
    }
    pub fn nwait_word(&self) -> Word {
        self.words.offset(3)
    }
    pub fn usecnt_word(&self) -> Word {
        self.words.offset(4)
    }
    pub fn txlink(&self) -> ListHead {
        ListHead(self.words.offset(5))
    }
    pub fn revents_word(&self) -> Word {
        self.words.offset(7)
    }
}

/// `struct eppoll_entry`: one hook of an epitem on a watched file's wait queue.
#[derive(Clone, Copy, Debug)]
pub struct EppollEntry {
    /// `base`: immutable.
    pub base: EpitemId,
    /// `wait`: linked on `whead` under `whead`'s lock.
    pub wait: WaitEntryId,
    /// `whead`: immutable.
    pub whead: WaitQueueId,
}

/// A node of `psw.wake_task_list` (`struct wake_task_node`, on the waker's stack).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakeTaskNode {
    /// The waking task (in interrupt context, the task the interrupt hit; `None` = idle).
    pub task: Option<TaskId>,
    pub wq: WaitQueueId,
}

/// Identifies a simulated process (a fd table shared by its tasks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessId(pub u32);

/// A process: its fd table. `files_struct->file_lock` serialises changes; lookups are
/// lockless (RCU in 2.6.22), which the model reproduces by reading the table as objects.
#[derive(Clone, Debug)]
pub struct Process {
    pub id: ProcessId,
    pub name: String,
    pub fdtable: crate::fdtable::FdTable,
    /// `files->file_lock`.
    pub file_lock: LockId,
}

/// Per-task kernel state the model needs.
#[derive(Clone, Debug)]
pub struct TaskInfo {
    pub process: ProcessId,
    /// Words on the task's kernel stack: `txlist` and `injlist` of `ep_events_transfer` /
    /// `ep_send_events` (fields txlist.next, txlist.prev, injlist.next, injlist.prev).
    pub stack: Word,
    /// The eventpoll whose `ep_poll` this task is inside, if any (for checkers).
    pub in_ep_poll: Option<EventPollId>,
    /// The eventpoll this task is transferring from (its txlist/injlist are live).
    pub in_transfer: Option<EventPollId>,
}

impl TaskInfo {
    pub fn txlist(&self) -> ListHead {
        ListHead(self.stack)
    }
    pub fn injlist(&self) -> ListHead {
        ListHead(self.stack.offset(2))
    }
}

pub const STACK_FIELDS: &[&str] = &["txlist.next", "txlist.prev", "injlist.next", "injlist.prev"];

/// All kernel objects. Borrowed only briefly, never across an `.await`.
pub struct Objects {
    pub files: Arena<File>,
    pub eventpolls: Arena<EventPoll>,
    pub epitems: Arena<Epitem>,
    pub pwqs: Arena<EppollEntry>,
    pub pipes: Arena<crate::pipe::Pipe>,
    pub eventfds: Arena<crate::eventfd::EventfdCtx>,
    pub socks: Arena<crate::socket::Sock>,
    /// Sockets made by `sys_socket_external`, in creation order (their "network" handles).
    pub external_socks: Vec<SockId>,
    pub processes: Vec<Process>,
    pub tasks: BTreeMap<TaskId, TaskInfo>,
    /// Tasks of each process that have not finished; the last one out closes the files.
    pub live_tasks: BTreeMap<ProcessId, u32>,
    /// `container_of(rdllink)`: the epitem whose `rdllink.next` word is the key.
    pub rdllink_owner: BTreeMap<Word, EpitemId>,
    /// `container_of(txlink)` (2.6.21).
    pub txlink_owner: BTreeMap<Word, EpitemId>,
    /// `psw.wake_task_list`, newest first; under `psw.lock`.
    pub psw_list: Vec<WakeTaskNode>,
    pub next_id: u64,
}

impl Default for Objects {
    fn default() -> Objects {
        Objects {
            files: Arena::new("struct file"),
            eventpolls: Arena::new("struct eventpoll"),
            epitems: Arena::new("struct epitem"),
            pwqs: Arena::new("struct eppoll_entry"),
            pipes: Arena::new("struct pipe_inode_info"),
            eventfds: Arena::new("struct eventfd_ctx"),
            socks: Arena::new("struct unix_sock"),
            external_socks: Vec::new(),
            processes: Vec::new(),
            tasks: BTreeMap::new(),
            live_tasks: BTreeMap::new(),
            rdllink_owner: BTreeMap::new(),
            txlink_owner: BTreeMap::new(),
            psw_list: Vec::new(),
            next_id: 1,
        }
    }
}

impl Objects {
    /// A fresh stable id (objects of every kind share one sequence, so ids order creation).
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}
