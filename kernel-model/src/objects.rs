//! The kernel's objects and their handles. Every struct names, for each field, the lock
//! that protects it (as the eventpoll.c LOCKING comment does), and which fields live in
//! shared `sim` memory because some path touches them without that lock.

use std::collections::{BTreeMap, VecDeque};

use sim::arena::{Arena, Handle};
use sim::list::ListHead;
use sim::waitq::WaitEntryId;
use sim::{EventId, LockId, TaskId, WaitQueueId, Word};
use smallvec::SmallVec;

pub type FileId = Handle<File>;
pub type EventPollId = Handle<EventPoll>;
pub type EpitemId = Handle<Epitem>;
pub type PwqId = Handle<EppollEntry>;
pub type PipeId = Handle<Pipe>;
pub type EventfdId = Handle<EventfdCtx>;
pub type SockId = Handle<Sock>;
pub type TimerfdId = Handle<TimerfdCtx>;
pub type OpaqueId = Handle<OpaqueFile>;

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
    /// A timerfd (6.18; `timerfd_fops`), `private_data` = the `timerfd_ctx`.
    Timerfd(TimerfdId),
    /// An opaque file (a recording's file the model does not have), `private_data` = its
    /// context; readiness driven from outside (`opaque.rs`).
    Opaque(OpaqueId),
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
            FileKind::Timerfd(_) => "timerfd",
            FileKind::Opaque(_) => "opaque",
        }
    }
}

/// What a file is called in traces: `pipe3(r)`, `eventfd4`, `ep1`, a path. A pipe end's
/// or an eventfd's name is its kind and the number of the object behind it, so only the
/// number is kept and the name is written out when asked for ([`FileLabel::render`]):
/// no allocation per file. 16 bytes, as a boxed string alone takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileLabel {
    /// The number of the object behind the file, named by the file's kind.
    Numbered(u64),
    /// Any other name, as given.
    Text(Box<str>),
}

impl FileLabel {
    /// The name of a file of `kind` with this label.
    pub fn render(&self, kind: &FileKind) -> String {
        match (self, kind) {
            (FileLabel::Text(text), _) => text.to_string(),
            (FileLabel::Numbered(n), FileKind::PipeRead(_)) => format!("pipe{n}(r)"),
            (FileLabel::Numbered(n), FileKind::PipeWrite(_)) => format!("pipe{n}(w)"),
            (FileLabel::Numbered(n), FileKind::Eventfd(_)) => format!("eventfd{n}"),
            (FileLabel::Numbered(n), FileKind::Epoll(_)) => format!("ep{n}"),
            (FileLabel::Numbered(n), _) => format!("{}{n}", kind.name()),
        }
    }
}

impl From<String> for FileLabel {
    fn from(text: String) -> FileLabel {
        FileLabel::Text(text.into_boxed_str())
    }
}

/// `O_NONBLOCK`: a status bit of `f_flags` (`F_SETFL` changes it).
pub const O_NONBLOCK: u32 = 0o4000;
/// `O_DIRECT` (x86): the other status bit the model keeps — on a 6.18 pipe's write end,
/// packet mode (3.4's 9883035ae7ed).
pub const O_DIRECT: u32 = 0o40000;
/// `O_CLOEXEC` (x86; 2.6.23): not an `f_flags` bit but the descriptor's close-on-exec
/// bit, as `pipe2`, `dup3`, `SOCK_CLOEXEC`, `EPOLL_CLOEXEC`, ... ask for it.
pub const O_CLOEXEC: u32 = 0o2000000;
/// `O_NOTIFICATION_PIPE` (= `O_EXCL`, 5.8): a watch-queue pipe, not modelled.
pub const O_NOTIFICATION_PIPE: u32 = 0o200;
/// The access modes in `f_flags` (`O_ACCMODE` bits), as each file's creator sets them in
/// 2.6.22: `do_pipe` gives the read end `O_RDONLY` and the write end `O_WRONLY`;
/// `anon_inode_getfd` (the 2.6.22 epoll fd, eventfd) and sockets get `O_RDWR`; 2.6.21's
/// `ep_getfd` made its eventpollfs file `O_RDONLY`. `F_SETFL` never changes them.
pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_ACCMODE: u32 = 3;

/// `struct file`.
#[derive(Clone, Debug)]
pub struct File {
    /// Stable id; also the file's "address" for the rb-tree key order (`ep_cmp_ffd`).
    pub id: u64,
    pub kind: FileKind,
    /// `f_count` (atomic_t): a shared word, changed by `fget`/`fput` with atomics.
    pub f_count: Word,
    /// `f_flags`: the access mode and O_NONBLOCK; O_NONBLOCK is changed by
    /// fcntl(F_SETFL) under no lock (as 2.6.22's setfl does under the BKL, which the
    /// model does not have).
    pub f_flags: u32,
    /// `f_ep_links`: the epitems watching this file, in `list_add_tail` order.
    /// Protected by `f_ep_lock` (except in `eventpoll_release_file`, see there).
    /// A file is rarely watched by more than two sets: inline up to two, in the
    /// space a `Vec` takes, so that watching costs no allocation here.
    pub f_ep_links: SmallVec<[EpitemId; 2]>,
    /// `f_ep_lock` (spinlock).
    pub f_ep_lock: LockId,
    /// A name for traces: `pipe3(r)`, `ep1`, …
    pub label: FileLabel,
}

/// `struct eventpoll`.
#[derive(Clone, Debug)]
pub struct EventPoll {
    pub id: u64,
    /// `ep->lock`: protects `rdllist`, `wq` (and `rbr` before 2.6.22). An rwlock in
    /// 2.6.21 and the seed tree; a spinlock in 2.6.22 (c7ea76302547), where it also
    /// protects `ovflist` and every item's `next`.
    pub lock: LockId,
    /// `ep->sem` (rw_semaphore: read during transfers, write in epoll_ctl and release)
    /// in 2.6.21 and the seed tree; in 2.6.22 this slot holds `ep->mtx` (a mutex,
    /// d47de16c7221: held across a whole transfer, every ctl operation and
    /// `eventpoll_release_file`, and protecting `rbr`). The lock's kind tells them apart.
    pub sem: LockId,
    /// `ep->wq`: tasks in `epoll_wait`; manipulated only under `ep->lock`.
    pub wq: WaitQueueId,
    /// `ep->poll_wait`: pollers of the epoll fd itself (parents of nested sets).
    pub poll_wait: WaitQueueId,
    /// `ep->rdllist` (shared words; under `ep->lock`).
    pub rdllist: ListHead,
    /// `ep->ovflist` (2.6.22 only; a shared word under `ep->lock`): EP_UNACTIVE_PTR when
    /// no transfer runs, else the head of the chain (through `epi->next`) of the items
    /// whose callback fired during the transfer, NULL-terminated.
    pub ovflist: Option<Word>,
    /// `ep->rbr`: the items keyed by (file id, fd), `ep_cmp_ffd` order. Under `ep->lock`
    /// (write for insert/erase, read for `ep_find`). The rb-tree itself is an ordered map
    /// here: only ever touched under the lock, it has no lockless reader to model.
    pub rbr: BTreeMap<RbKey, EpitemId>,
    /// The epoll file (for labels).
    pub file_label: String,
    /// 6.18 `ep->file`: set once by `do_epoll_create`; `ep->refs` is that file's
    /// `f_ep_links` (the items of other sets watching this one).
    pub file: Option<FileId>,
    /// 6.18 `ep->gen` and `ep->loop_check_depth`: under `epnested_mutex`.
    pub gen: u64,
    pub loop_check_depth: u8,
}

/// `ep->lock`, `ep->sem`, `ep->wq`, `ep->poll_wait` and `ep->rdllist` of an eventpoll:
/// what the port's functions read of it on entry.
pub type EpFields = (LockId, LockId, WaitQueueId, WaitQueueId, ListHead);

impl EventPoll {
    pub fn fields(&self) -> EpFields {
        (self.lock, self.sem, self.wq, self.poll_wait, self.rdllist)
    }
}

/// A key of `ep->rbr`: (file id, fd), packed into one `u64` in the same order, so that
/// a tree node holds its keys in half the space a `(u64, i32)` pair takes (a watch
/// costs a tree entry). File ids count objects, each of which takes at least one word
/// of the machine's memory (at most `sim::limits::WORDS_MAX`, 2^26), so they fit in 32
/// bits; descriptors are never negative, so `fd as u32` keeps their order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RbKey(u64);

impl RbKey {
    pub fn new(file_id: u64, fd: i32) -> RbKey {
        assert!(
            file_id <= u64::from(u32::MAX),
            "file id {file_id} past 32 bits"
        );
        RbKey((file_id << 32) | u64::from(fd as u32))
    }
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

/// Field offsets of a 2.6.22 epitem's shared words: `next` (the `ovflist` chain link,
/// under `ep->lock`) where the seed's `usecnt` was; no `txlink`, no `revents`.
pub const EPITEM_FIELDS_2_6_22: &[&str] = &[
    "rdllink.next",
    "rdllink.prev",
    "event.events",
    "nwait",
    "next",
];

/// `struct epitem`.
#[derive(Clone, Debug)]
pub struct Epitem {
    pub id: u64,
    /// Base of the shared words, laid out as [`EPITEM_FIELDS`]:
    /// - `rdllink` — under `ep->lock`, but the 6192bd536f96 transfer loop deletes, re-queues and
    ///   re-initialises it without the lock;
    /// - `event.events` — written without `ep->lock` by `ep_modify` and the ONESHOT disarm;
    /// - `nwait` — xchg'ed without locks by `ep_unregister_pollwait`;
    /// - `usecnt` — atomic;
    /// - `txlink`, `revents` — 2.6.21 only (under `ep->lock`, and by the transferring task).
    ///
    /// A 2.6.22 item is laid out as [`EPITEM_FIELDS_2_6_22`]: the same first four, then
    /// `next` (the `ovflist` link, under `ep->lock`); its `rdllink` is written without
    /// `ep->lock` only by the transfer holding `ep->mtx`, while callbacks divert to
    /// `ovflist`; there is no `usecnt`.
    pub words: Word,
    /// `ep_rb_linked(&epi->rbn)`: under `ep->lock` (2.6.22: under `ep->mtx`).
    pub rb_linked: bool,
    /// `ffd`: immutable.
    pub file: FileId,
    /// `ffd.file` as the rb-tree compares it: the file's stable id, a pointer value that
    /// is compared and never dereferenced (so removing the item after the file is gone,
    /// as the kernel's `rb_erase` may, touches no freed file).
    pub file_id: u64,
    pub fd: i32,
    /// `pwqlist`: the item's owner only (under `ep->sem` write or `epmutex`).
    /// Most files have one wait queue, a few two: inline up to two, in the space a
    /// `Vec` takes, so that a watch costs no allocation here.
    pub pwqlist: SmallVec<[PwqId; 2]>,
    /// `ep`: immutable.
    pub ep: EventPollId,
    /// `event.data`: written under `ep->lock` (and `ep->sem` write) in `ep_modify`, read by
    /// the transfer under `ep->sem` read (2.6.22: both under `ep->mtx`).
    pub data: u64,
    /// `fllink` is linked (on `file.f_ep_links`).
    pub fllink_linked: bool,
    /// 6.18 `epi->dying`: under the watched file's `f_lock` (`f_ep_lock` here).
    pub dying: bool,
    /// 6.18 `epq.epi == NULL`: an `eppoll_entry` allocation failed while `ep_insert`
    /// polled the file. Private to the inserting task.
    pub pqueue_failed: bool,
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
    /// `epi->next` — 2.6.22 items only ([`EPITEM_FIELDS_2_6_22`]).
    pub fn next_word(&self) -> Word {
        self.words.offset(4)
    }
    /// `usecnt` — 2.6.21 and seed items only ([`EPITEM_FIELDS`]).
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
    pub fdtable: FdTable,
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
    /// 6.18 `current->in_eventfd`: set by eventfd's read, write and `eventfd_signal_mask`
    /// around their wake-ups (with `wqh.lock` held, interrupts off), so that a wake-up
    /// handler that signals an eventfd again is refused. Only the task writes it.
    pub in_eventfd: bool,
    /// The wait entries of the task's `poll(2)` in progress and the heads they are on
    /// (`struct poll_wqueues`; only the task itself touches them, the wake-up callback
    /// only [`TaskInfo::poll_triggered`]).
    pub poll_entries: Vec<(sim::WaitQueueId, sim::waitq::WaitEntryId)>,
    /// `pwq->triggered` (6.18's `pollwake` sets it; the sleeping poller clears it).
    pub poll_triggered: bool,
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
    pub pipes: Arena<Pipe>,
    pub eventfds: Arena<EventfdCtx>,
    pub socks: Arena<Sock>,
    pub timerfds: Arena<TimerfdCtx>,
    pub opaques: Arena<OpaqueFile>,
    /// Sockets made by `sys_socket_external`, in creation order (their "network" handles).
    pub external_socks: Vec<SockId>,
    /// Listening addresses (`listen_on`): the opaque file `connect_to` of that address
    /// queues its connection on — the model's stand-in for the kernel's tables of bound
    /// and listening sockets (`unix_find_other`, `inet_lookup_listener`). An entry goes
    /// with its file. Under no lock: only system calls change or read it, each in one
    /// step.
    pub listen_addresses: BTreeMap<String, FileId>,
    pub processes: Vec<Process>,
    pub tasks: TaskTable,
    /// Tasks of each process that have not finished; the last one out closes the files.
    pub live_tasks: BTreeMap<ProcessId, u32>,
    /// `container_of(rdllink)`: the epitem whose `rdllink.next` word is the key.
    pub rdllink_owner: LinkOwners,
    /// `container_of(txlink)` (2.6.21).
    pub txlink_owner: LinkOwners,
    /// `psw.wake_task_list`, newest first; under `psw.lock`.
    pub psw_list: Vec<WakeTaskNode>,
    /// Watched runs only (`sim::State::is_watched`): each `eppoll_entry`'s handle (as its
    /// wait entry's callback data holds it) and the id of the epitem it was made for,
    /// kept when the entry is made and never dropped, so that a step-through view names
    /// the callback as it was at each step, also after the entry and its item are freed.
    /// Simulator bookkeeping, not kernel state: no lock.
    pub pwq_items: BTreeMap<u64, u64>,
    /// Narrating runs only: each freed epitem's handle (slot, generation) and its id, so
    /// that narration about a stale handle (a use after free) names the item as it was
    /// named while live ([`crate::kernel::Kernel::epitem_id`]). Simulator bookkeeping: no lock.
    pub freed_epitem_ids: BTreeMap<(u32, u32), u64>,
    pub next_id: u64,
    /// Pipe buffer pages released by readers, reused by writers (host allocations only:
    /// nothing of the model depends on it).
    pub spare_pages: PagePool,
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
            timerfds: Arena::new("struct timerfd_ctx"),
            opaques: Arena::new("opaque file"),
            external_socks: Vec::new(),
            listen_addresses: BTreeMap::new(),
            processes: Vec::new(),
            tasks: TaskTable::default(),
            live_tasks: BTreeMap::new(),
            rdllink_owner: LinkOwners::default(),
            txlink_owner: LinkOwners::default(),
            psw_list: Vec::new(),
            pwq_items: BTreeMap::new(),
            freed_epitem_ids: BTreeMap::new(),
            next_id: 1,
            spare_pages: PagePool::default(),
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

/// `container_of()` for the list links embedded in epitems: which epitem a link word
/// belongs to. A map from word to epitem, kept as a vector sorted by word — words are
/// allocated in increasing order, so an insertion is a push — with removed entries left
/// in place as tombstones until they are the majority: a lookup is a binary search over
/// a contiguous array, and a watched fd costs 12 bytes here.
#[derive(Clone, Debug, Default)]
pub struct LinkOwners {
    entries: Vec<(Word, EpitemId)>,
    removed: usize,
}

impl LinkOwners {
    /// Where `word` is (or would go). Link words of epitems made one after the other
    /// are usually evenly spaced, so the search starts where the word would be if they
    /// all were, and narrows down by bisection from there.
    #[inline]
    fn position(&self, word: Word) -> Result<usize, usize> {
        let entries = &self.entries;
        let (Some(&(first, _)), Some(&(last, _))) = (entries.first(), entries.last()) else {
            return Err(0);
        };
        if word <= first || word >= last {
            return if word == first {
                Ok(0)
            } else if word < first {
                Err(0)
            } else if word == last {
                Ok(entries.len() - 1)
            } else {
                Err(entries.len())
            };
        }
        let span = (last.0 - first.0) as u64;
        let guess = ((word.0 - first.0) as u64 * (entries.len() - 1) as u64 / span) as usize;
        match entries[guess].0.cmp(&word) {
            std::cmp::Ordering::Equal => Ok(guess),
            std::cmp::Ordering::Less => entries[guess + 1..]
                .binary_search_by_key(&word, |&(w, _)| w)
                .map(|p| p + guess + 1)
                .map_err(|p| p + guess + 1),
            std::cmp::Ordering::Greater => {
                entries[..guess].binary_search_by_key(&word, |&(w, _)| w)
            }
        }
    }

    pub fn get(&self, word: &Word) -> Option<&EpitemId> {
        let position = self.position(*word).ok()?;
        let owner = &self.entries[position].1;
        (*owner != Handle::DANGLING).then_some(owner)
    }

    pub fn contains_key(&self, word: &Word) -> bool {
        self.get(word).is_some()
    }

    /// Sets the owner of `word`; returns the previous one.
    pub fn insert(&mut self, word: Word, owner: EpitemId) -> Option<EpitemId> {
        if self.entries.last().is_none_or(|&(last, _)| last < word) {
            self.entries.push((word, owner));
            return None;
        }
        match self.position(word) {
            Ok(position) => {
                let old = std::mem::replace(&mut self.entries[position].1, owner);
                if old == Handle::DANGLING {
                    self.removed -= 1;
                    None
                } else {
                    Some(old)
                }
            }
            Err(position) => {
                self.entries.insert(position, (word, owner));
                None
            }
        }
    }

    /// Forgets the owner of `word`; returns it.
    pub fn remove(&mut self, word: &Word) -> Option<EpitemId> {
        let position = self.position(*word).ok()?;
        let old = std::mem::replace(&mut self.entries[position].1, Handle::DANGLING);
        if old == Handle::DANGLING {
            return None;
        }
        self.removed += 1;
        if self.removed > 64 && self.removed * 2 > self.entries.len() {
            self.entries.retain(|&(_, owner)| owner != Handle::DANGLING);
            self.removed = 0;
        }
        Some(old)
    }

    pub fn len(&self) -> usize {
        self.entries.len() - self.removed
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries in word order.
    pub fn iter(&self) -> impl Iterator<Item = (&Word, &EpitemId)> + '_ {
        self.entries
            .iter()
            .filter(|(_, owner)| *owner != Handle::DANGLING)
            .map(|(word, owner)| (word, owner))
    }
}

impl std::ops::Index<&Word> for LinkOwners {
    type Output = EpitemId;

    fn index(&self, word: &Word) -> &EpitemId {
        self.get(word).expect("no epitem owns this link")
    }
}

/// A few emptied pipe buffers kept for reuse, so that a write and the read that drains
/// it do not each go to the host allocator.
#[derive(Debug, Default)]
pub struct PagePool {
    pages: Vec<Vec<u8>>,
}

impl PagePool {
    const KEPT: usize = 64;

    /// An empty buffer.
    pub fn take(&mut self) -> Vec<u8> {
        self.pages.pop().unwrap_or_default()
    }

    /// Returns a buffer that is no longer used.
    pub fn give(&mut self, mut page: Vec<u8>) {
        if self.pages.len() < Self::KEPT && page.capacity() <= PAGE_SIZE {
            page.clear();
            self.pages.push(page);
        }
    }
}

/// The registered tasks, indexed by task number (task ids are small and dense: the
/// machine hands them out in order), so that `current`'s process — looked up by every
/// syscall — is one index away. Iterates in task order, as a map keyed by id would.
#[derive(Clone, Debug, Default)]
pub struct TaskTable {
    slots: Vec<Option<TaskInfo>>,
}

impl TaskTable {
    pub fn insert(&mut self, task: TaskId, info: TaskInfo) {
        let index = task.index();
        if self.slots.len() <= index {
            self.slots.resize(index + 1, None);
        }
        self.slots[index] = Some(info);
    }

    #[inline]
    pub fn get(&self, task: &TaskId) -> Option<&TaskInfo> {
        self.slots.get(task.index())?.as_ref()
    }

    #[inline]
    pub fn get_mut(&mut self, task: &TaskId) -> Option<&mut TaskInfo> {
        self.slots.get_mut(task.index())?.as_mut()
    }

    pub fn iter(&self) -> impl Iterator<Item = (TaskId, &TaskInfo)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| Some((TaskId(index as u32), slot.as_ref()?)))
    }

    pub fn values(&self) -> impl Iterator<Item = &TaskInfo> {
        self.slots.iter().flatten()
    }
}

impl std::ops::Index<&TaskId> for TaskTable {
    type Output = TaskInfo;

    fn index(&self, task: &TaskId) -> &TaskInfo {
        self.get(task).expect("a registered task")
    }
}

// ---- struct pipe_inode_info (include/linux/pipe_fs_i.h); its code is in `pipe.rs` and `pipe_6_18.rs` ---

/// `PIPE_BUFFERS`.
pub const PIPE_BUFFERS: u64 = 16;
/// `PAGE_SIZE` on x86.
pub const PAGE_SIZE: usize = 4096;

/// `struct pipe_inode_info` and its inode's `i_mutex`.
#[derive(Clone, Debug)]
pub struct Pipe {
    pub id: u64,
    /// `pipe->wait`.
    pub wait: WaitQueueId,
    /// `inode->i_mutex`.
    pub mutex: sim::LockId,
    /// Shared words: `nrbufs`, `readers`, `writers`, `waiting_writers` (written under
    /// `i_mutex`, read by `pipe_poll` without it).
    pub words: Word,
    /// The buffers' contents, oldest first; under `i_mutex`.
    pub bufs: VecDeque<Vec<u8>>,
    /// `bufs[curbuf].offset`: bytes already read from the oldest buffer's page (every
    /// newer buffer starts at offset 0). Under `i_mutex`. At most `PAGE_SIZE`: a `u32`
    /// keeps the pipe in 64 bytes.
    pub offset: u32,
    /// 6.18: which buffers are packets (`PIPE_BUF_FLAG_PACKET`, written through a write
    /// end with `O_DIRECT`): bit `i` is `bufs[i]`. Under `i_mutex`. Always 0 on 2.6.x.
    pub packet_bufs: u32,
    /// `w_counter` (anonymous pipes: 1 from creation); under `i_mutex`.
    pub w_counter: u64,
    /// 6.18 only ([`crate::pipe_6_18`]): `pipe->wr_wait`, the writers' head; `wait`
    /// is then `pipe->rd_wait`. `None` on the 2.6.x versions (one head).
    pub wr_wait: Option<WaitQueueId>,
    /// 6.18 `pipe->poll_usage`: set by `pipe_poll`, never cleared.
    pub poll_usage: bool,
}

impl Pipe {
    pub fn nrbufs(&self) -> Word {
        self.words
    }
    pub fn readers(&self) -> Word {
        self.words.offset(1)
    }
    pub fn writers(&self) -> Word {
        self.words.offset(2)
    }
    pub fn waiting_writers(&self) -> Word {
        self.words.offset(3)
    }
}

// ---- struct eventfd_ctx (fs/eventfd.c); its code is in `eventfd.rs` -------------------------

/// `struct eventfd_ctx`.
#[derive(Clone, Copy, Debug)]
pub struct EventfdCtx {
    /// Stable id (labels and word names).
    pub id: u64,
    /// `ctx->wqh`; its lock protects `count`.
    pub wqh: WaitQueueId,
    /// `ctx->count` (a shared word; always accessed under `wqh.lock` by the port).
    pub count: Word,
    /// 6.18 `EFD_SEMAPHORE` (in `ctx->flags`): a read takes 1, not the whole count.
    pub semaphore: bool,
}

// ---- struct socket, struct unix_sock, struct sk_buff; their code is in `socket.rs` ----------

/// What `unix_peer(sk)` points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    None,
    /// The other end of a socketpair (a reference is held on it).
    Sock(SockId),
    /// The network (external sockets).
    Network,
}

/// `sk->sk_type` of an AF_UNIX socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockType {
    /// `SOCK_STREAM` (`unix_stream_ops`); external sockets are streams too.
    Stream,
    /// `SOCK_DGRAM` (`unix_dgram_ops`; 6.18 only in the model).
    Dgram,
}

/// A `struct sk_buff` on a receive queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skb {
    pub data: Vec<u8>,
    pub truesize: u64,
    /// `skb->sk` with `sock_wfree` as destructor: the sending socket, charged in its
    /// `sk_wmem_alloc` and holding a reference on it (`skb_set_owner_w` does
    /// `sock_hold` in 2.6.22). `None` for data from the network.
    pub owner: Option<SockId>,
}

/// `struct socket` + `struct unix_sock` (with its `struct sock`).
#[derive(Clone, Debug)]
pub struct Sock {
    pub id: u64,
    pub label: String,
    /// `sk->sk_sleep` = `&sock->wait`.
    pub sk_sleep: WaitQueueId,
    /// `SOCK_DEAD` / `sk_sleep == NULL` after `sock_orphan` (under `unix_state_lock`).
    pub dead: bool,
    /// `u->lock` (`unix_state_lock`); for external sockets a stand-in for the TCP socket
    /// lock, taken with interrupts saved.
    pub lock: LockId,
    /// `u->readlock`: one reader at a time.
    pub readlock: LockId,
    /// `sk->sk_receive_queue.lock` (always irqsave, as `skb_queue_*` take it).
    pub rcvq_lock: LockId,
    /// Shared words, laid out as [`crate::socket::SOCK_FIELDS`].
    pub words: Word,
    /// `sk->sk_sndbuf` (no setsockopt in the model).
    pub sk_sndbuf: u64,
    /// `sk->sk_type`, fixed at creation.
    pub sk_type: SockType,
    /// `unix_peer(sk)`: read under `unix_state_lock` or by the owner's own syscalls.
    pub peer: Peer,
    /// `sk->sk_receive_queue`'s skbs, under `rcvq_lock`.
    pub receive_queue: VecDeque<Skb>,
    /// Made by `sys_socket_external`.
    pub external: bool,
    /// Bytes the network took from this (external) socket, in order.
    pub net_tx: Vec<u8>,
}

// ---- struct timerfd_ctx (fs/timerfd.c); its code is in `timerfd.rs` -------------------------

/// `struct itimerspec` in nanoseconds: `interval` 0 is a one-shot timer, `value` 0
/// disarms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Itimerspec {
    pub interval_ns: u64,
    pub value_ns: u64,
}

/// `struct timerfd_ctx`.
#[derive(Clone, Copy, Debug)]
pub struct TimerfdCtx {
    pub id: u64,
    /// `ctx->wqh`; its lock protects everything below.
    pub wqh: WaitQueueId,
    /// `ctx->ticks` (a word, for checkers' lockless reads).
    pub ticks: Word,
    /// `ctx->expired`.
    pub expired: bool,
    /// `ctx->tintv`.
    pub interval_ns: u64,
    /// The timer's expiry (absolute virtual time), when armed.
    pub expires_ns: Option<u64>,
    /// The machine event that will deliver the expiry.
    pub event: Option<EventId>,
}

// ---- struct files_struct; its code is in `fdtable.rs` ---------------------------------------

/// One open descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdEntry {
    pub file: FileId,
    pub f_count: Word,
}

/// A process's descriptor table.
#[derive(Clone, Debug, Default)]
pub struct FdTable {
    pub entries: Vec<Option<FdEntry>>,
    /// `RLIMIT_NOFILE`'s `rlim_cur`: descriptors from it up are refused (EMFILE from
    /// `get_unused_fd`, EBADF from `dup2`). The kernel keeps the limits in
    /// `current->signal->rlim` (per thread group, copied by fork) and reads `rlim_cur`
    /// without a lock; the model keeps them here, per process, copied by fork too.
    pub limit: usize,
    /// `RLIMIT_NOFILE`'s `rlim_max`: the most `setrlimit` may raise `limit` to.
    pub hard_limit: usize,
    /// `files->next_fd`: every descriptor below it is open, so the search for the
    /// lowest free one starts there (a hint only: it never changes the answer).
    pub(crate) next_fd: usize,
    /// `fdt->close_on_exec`: the descriptors marked `FD_CLOEXEC` (by `EPOLL_CLOEXEC`,
    /// `EFD_CLOEXEC`, `TFD_CLOEXEC` or `fcntl(F_SETFD)`), indexed by descriptor. The
    /// model has no `exec`, so the bit is only ever read back by `fcntl(F_GETFD)`.
    /// Protected by `files->file_lock` for writes, as the kernel's bitmap is.
    pub(crate) close_on_exec: Vec<bool>,
}

// ---- 6.18 eventpoll.c's file-scope state (held by the kernel value); its code is in `eventpoll_6_18.rs` ---

/// `EP_ITEM_COST`: `sizeof(struct epitem)` (128 on 64-bit, the size the file's
/// BUILD_BUG_ON holds it to) + `sizeof(struct eppoll_entry)` (next, base, a 40-byte
/// wait entry, whead: 64).
pub const EP_ITEM_COST: u64 = 128 + 64;
/// Low memory of the simulated machine, for `eventpoll_init`'s default: 1 GiB.
pub const LOWMEM_BYTES: u64 = 1 << 30;
/// `max_user_watches` as `eventpoll_init` computes it: 4 % of low memory over
/// `EP_ITEM_COST` (223 696 on the simulated 1 GiB). Scenarios may set another value
/// ([`crate::kernel::Kernel::set_max_user_watches`], the `fs.epoll.max_user_watches` sysctl).
pub const MAX_USER_WATCHES_DEFAULT: u64 = (LOWMEM_BYTES / 25) / EP_ITEM_COST;
/// `PATH_ARR_SIZE`: wake-up paths of length 1..5 are counted per file.
pub const PATH_ARR_SIZE: usize = 5;
/// The file-scope variables of eventpoll.c that the model needs. Every field is under
/// `epnested_mutex` except the watch counter (a per-user `percpu_counter`).
#[derive(Clone, Debug)]
pub struct EventpollGlobals {
    /// `max_user_watches` (sysctl `fs.epoll.max_user_watches`).
    pub max_user_watches: u64,
    /// `user->epoll_watches`. Simplified: every simulated task runs as one user, so
    /// there is one counter; `percpu_counter_compare` is exact at the model's sizes.
    pub epoll_watches: u64,
    /// `loop_check_gen`.
    pub loop_check_gen: u64,
    /// `inserting_into`.
    pub inserting_into: Option<EventPollId>,
    /// `tfile_check_list`: the files whose wake-up paths `reverse_path_check` counts,
    /// newest first as `list_file` pushes them.
    pub tfile_check_list: Vec<FileId>,
    /// `path_count`.
    pub(crate) path_count: [u32; PATH_ARR_SIZE],
}

impl Default for EventpollGlobals {
    fn default() -> EventpollGlobals {
        EventpollGlobals {
            max_user_watches: MAX_USER_WATCHES_DEFAULT,
            epoll_watches: 0,
            loop_check_gen: 0,
            inserting_into: None,
            tfile_check_list: Vec::new(),
            path_count: [0; PATH_ARR_SIZE],
        }
    }
}

/// An opaque file's context (`opaque.rs`): a recording's file whose readiness only
/// events from outside drive.
#[derive(Clone, Debug)]
pub struct OpaqueFile {
    pub id: u64,
    /// What the recording called it (`TCPv4:[0.0.0.0:6379]`, `anon_inode:[signalfd]`).
    pub label: String,
    /// `wqh`; its lock protects everything below.
    pub wqh: WaitQueueId,
    /// The readiness `f_op->poll` reports (a word, for checkers' lockless reads).
    pub mask: Word,
    /// Bytes a read may take.
    pub bytes: u64,
    /// Connections an `accept` may take, oldest first: `None` for one from outside
    /// (`incoming`: its socket is made when it is accepted), `Some(sock)` for the
    /// server's end of a pair a traced client made with `connect_to` (a reference held).
    pub pending: VecDeque<Option<SockId>>,
    /// The address `listen_on` gave it (an entry of [`Objects::listen_addresses`]).
    pub address: Option<String>,
}
