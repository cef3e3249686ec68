//! fs/eventpoll.c, ported function by function.
//!
//! Primary target: the tree right after 6192bd536f96 ("epoll: optimizations and
//! cleanups", May 2007), named `6192bd536f96` (alias `seed`): a single pass over a stolen
//! ready list, with delivered level-triggered items re-injected through the private
//! `injlist`. Selectable per run: 2.6.21, three passes with `txlink` (see
//! [`crate::eventpoll_2_6_21`]). Lock order, from the LOCKING comment: `epmutex` →
//! `ep->sem` → `ep->lock`; the wake path holds a watched file's wait-queue head lock
//! when it takes `ep->lock`, which is why `ep_remove` unhooks before locking.
//!
//! Simplifications, each named where it happens: the rb-tree is an ordered map keyed by
//! (file id, fd) — it is only touched under `ep->lock`/`ep->sem`; `struct file`'s pointer
//! order is its creation order; the anonymous inode and dentry of an epoll file are not
//! modelled (only the file). Every field some path touches without its lock is a shared
//! word (see [`crate::objects::Epitem`]).

use sim::list::{self, ListHead};
use sim::waitq::{WakeFunction, WakeMode};
use sim::{Granularity, LockKind, Name, ReportKind, TaskState, WaitQueueId};

use crate::errno::{Errno, SysResult};
use crate::inject::Injection;
use crate::kernel::{
    encode_handle, Counters, Kernel, KernelVersion, CALLBACK_EP_POLL, MAX_SCHEDULE_TIMEOUT,
};
use crate::objects::{
    EpFields, Epitem, EpitemId, EppollEntry, EventPoll, EventPollId, FileId, RbKey, WakeTaskNode,
    EPITEM_FIELDS,
};
use crate::poll::{
    EpollEvent, PollTable, EPOLLET, EPOLLONESHOT, EP_PRIVATE_BITS, POLLIN, POLLRDNORM,
};
use crate::user::UserEvents;

/// `EP_MAX_POLLWAKE_NESTS`.
pub const EP_MAX_POLLWAKE_NESTS: usize = 4;
/// `EP_MAX_EVENTS` = INT_MAX / sizeof(struct epoll_event) (12 bytes on x86-64, packed).
pub const EP_MAX_EVENTS: i32 = i32::MAX / 12;

impl<G: Granularity> Kernel<G> {
    // ---- ep->lock, with the lock-without-irqsave injection -------------------------------

    /// `write_lock_irqsave(&ep->lock, flags)`.
    pub(crate) async fn ep_write_lock(&self, lock: sim::LockId) -> u64 {
        if self.injected(Injection::LockWithoutIrqsave) {
            self.cx.write_lock(lock).await;
            1
        } else {
            self.cx.write_lock_irqsave(lock).await
        }
    }

    /// `write_unlock_irqrestore(&ep->lock, flags)`.
    pub(crate) async fn ep_write_unlock(&self, lock: sim::LockId, flags: u64) {
        if self.injected(Injection::LockWithoutIrqsave) {
            self.cx.write_unlock(lock).await;
        } else {
            self.cx.write_unlock_irqrestore(lock, flags).await;
        }
    }

    pub(crate) async fn ep_read_lock(&self, lock: sim::LockId) -> u64 {
        if self.injected(Injection::LockWithoutIrqsave) {
            self.cx.read_lock(lock).await;
            1
        } else {
            self.cx.read_lock_irqsave(lock).await
        }
    }

    pub(crate) async fn ep_read_unlock(&self, lock: sim::LockId, flags: u64) {
        if self.injected(Injection::LockWithoutIrqsave) {
            self.cx.read_unlock(lock).await;
        } else {
            self.cx.read_unlock_irqrestore(lock, flags).await;
        }
    }

    pub(crate) fn ep_fields(&self, ep: EventPollId) -> Option<EpFields> {
        self.with_ep(ep, EventPoll::fields)
    }

    /// An epitem's `rdllink` and `event.events` word with its eventpoll's fields, in one
    /// look at the objects (the callback's `epi->ep` dereference); `None` (reported) if
    /// either is gone.
    fn epi_and_ep_fields(&self, epi: EpitemId) -> Option<(ListHead, sim::Word, EpFields)> {
        let found = {
            let objects = self.objects.borrow();
            objects.epitems.get(epi).map(|e| {
                let fields = objects.eventpolls.get(e.ep).map(EventPoll::fields);
                (e.rdllink(), e.events_word(), fields)
            })
        };
        match found {
            Ok((link, events_word, Ok(fields))) => Some((link, events_word, fields)),
            Ok((_, _, Err(error))) => {
                self.report_stale("eventpoll", error);
                None
            }
            Err(error) => {
                self.report_stale("epitem", error);
                None
            }
        }
    }

    /// `list_del_init(&epi->fllink)`: off its file's `f_ep_links` (the caller holds
    /// `f_ep_lock`, or is `eventpoll_release_file`, the file's last user).
    pub(crate) fn fllink_del_init(&self, file: FileId, epi: EpitemId) {
        self.with_file_mut(file, |f| f.f_ep_links.retain(|e| *e != epi));
        self.with_epi_mut(epi, |e| e.fllink_linked = false);
    }

    /// `ep_is_linked(p)`: `!list_empty(p)`.
    pub(crate) async fn ep_is_linked(&self, link: ListHead) -> bool {
        !list::list_empty(&self.cx, link).await
    }

    /// Runs the ready-list checker ([`crate::check::ready_lists`]) on every set that is
    /// quiet now — nobody holds its `ep->lock`, nobody is transferring from it, no store
    /// is buffered — and files what it finds, each distinct report once. Called where
    /// the port leaves `ep->lock` for good (end of a callback, insert, modify, remove, a
    /// transfer), so a broken list is reported where it was broken, not at teardown.
    /// Like CONFIG_DEBUG_LIST it only reads (no step, no cost), and like a debug option
    /// it is off at `syscall` granularity, which benchmarks use.
    pub(crate) fn debug_check_ready_lists(&self) {
        if !G::STEPS_AT_LOCK || self.cx.halted() {
            return;
        }
        for report in crate::check::ready_lists(self) {
            let seen = self
                .cx
                .state()
                .reports
                .borrow()
                .iter()
                .any(|r| r.kind == report.kind && r.message == report.message);
            if !seen {
                self.cx.report(report.kind, report.message, report.details);
            }
        }
    }

    /// The epitem whose `rdllink` is `link` (`list_entry(..., rdllink)`).
    pub fn epi_of_rdllink(&self, link: ListHead) -> Option<EpitemId> {
        let owner = self.objects.borrow().rdllink_owner.get(&link.0).copied();
        if owner.is_none() {
            self.cx.report(
                ReportKind::ListCorruption,
                format!(
                    "{} on a ready list is no epitem's rdllink",
                    self.cx.state().mem.name_of(link.0)
                ),
                vec![],
            );
        }
        owner
    }

    /// Wakes `ep->wq` with the caller holding `ep->lock` (`__wake_up_locked`). Only
    /// `ep_poll` queues on `ep->wq`, always with a task entry, so no callback can run.
    pub(crate) async fn wake_ep_wq_locked(&self, wq: WaitQueueId) {
        if self.cx.waitqueue_active(wq).await {
            self.cx
                .note(|| "  __wake_up_locked(&ep->wq): wake the epoll_wait sleepers".to_string());
            self.cx
                .wake_up_common(&sim::NoCallbacks, wq, WakeMode::All, 1, 0)
                .await;
        }
    }

    // ---- ep_poll_safewake ------------------------------------------------------------------

    /// `ep_poll_safewake(&psw, wq)`: wakes the pollers of an epoll fd unless this task
    /// is already waking the same head, or is nested deeper than
    /// `EP_MAX_POLLWAKE_NESTS`. Like the original, a wake of a head some *other* task is
    /// already waking is dropped too (the test ignores the task for the same-head case).
    pub async fn ep_poll_safewake(&self, wq: WaitQueueId) {
        let this_task = self.cx.current();
        let flags = self.cx.spin_lock_irqsave(self.psw_lock).await;
        let abort = {
            let objects = self.objects.borrow();
            let mut wake_nests = 0;
            objects
                .psw_list
                .iter()
                .find(|node| {
                    node.wq == wq
                        || (node.task == this_task && {
                            wake_nests += 1;
                            wake_nests > EP_MAX_POLLWAKE_NESTS
                        })
                })
                .copied()
        };
        if let Some(node) = abort {
            self.cx.spin_unlock_irqrestore(self.psw_lock, flags).await;
            self.cx.note(|| {
                let why = if node.wq != wq {
                    "nesting limit reached".to_string()
                } else if node.task == this_task {
                    "this task is already waking this head (a loop)".to_string()
                } else {
                    let who = node.task.map_or("the idle task".to_string(), |t| {
                        self.cx.state().task_name(t)
                    });
                    format!("{who} is already waking this head")
                };
                format!("  ep_poll_safewake: {why}: wake dropped")
            });
            return;
        }
        let node = WakeTaskNode {
            task: this_task,
            wq,
        };
        self.objects.borrow_mut().psw_list.insert(0, node);
        self.cx.spin_unlock_irqrestore(self.psw_lock, flags).await;

        // Nested epoll is the one recursion of the wake path: box it here only.
        let wake: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>> =
            Box::pin(self.cx.wake_up_with(self, wq, WakeMode::All, 1, 0));
        wake.await;

        let flags = self.cx.spin_lock_irqsave(self.psw_lock).await;
        {
            let mut objects = self.objects.borrow_mut();
            if let Some(position) = objects.psw_list.iter().position(|n| *n == node) {
                objects.psw_list.remove(position);
            }
        }
        self.cx.spin_unlock_irqrestore(self.psw_lock, flags).await;
    }

    // ---- release of watched files -------------------------------------------------------------

    /// `eventpoll_release_file(file)`: the last close of a watched file removes its items
    /// from every set. `f_ep_lock` is not taken: the file is being destroyed and `ep_free`
    /// is excluded by `epmutex`.
    pub async fn eventpoll_release_file(&self, file: FileId) {
        self.cx.mutex_lock(self.epmutex).await;
        loop {
            let first = self
                .with_file(file, |f| f.f_ep_links.first().copied())
                .flatten();
            let Some(epi) = first else {
                break;
            };
            let Some(ep) = self.with_epi(epi, |e| e.ep) else {
                break;
            };
            self.fllink_del_init(file, epi);
            let Some((_, sem, ..)) = self.ep_fields(ep) else {
                break;
            };
            self.cx.note(|| {
                format!(
                    "eventpoll_release_file: remove epitem{} from its set",
                    self.epitem_id(epi)
                )
            });
            self.cx.down_write(sem).await;
            let _ = self.ep_remove(ep, epi).await;
            self.cx.up_write(sem).await;
        }
        self.cx.mutex_unlock(self.epmutex).await;
    }

    // ---- creation and destruction ---------------------------------------------------------------

    /// `ep_alloc()`: a new eventpoll with its locks, queues and empty ready list.
    pub(crate) fn ep_alloc(&self, file_label: &str) -> SysResult<EventPollId> {
        if self.cx.alloc_fails("eventpoll") {
            return Err(Errno::ENOMEM);
        }
        let id = self.objects.borrow_mut().next_id();
        let cx = &self.cx;
        let lock = cx.new_lock(LockKind::RwLock, "&ep->lock", Name::new("ep", id, "->lock"));
        let sem = cx.new_lock(LockKind::RwSem, "&ep->sem", Name::new("ep", id, "->sem"));
        let wq = cx.init_waitqueue_head("&ep->wq.lock", Name::new("ep", id, "->wq"));
        let poll_wait =
            cx.init_waitqueue_head("&ep->poll_wait.lock", Name::new("ep", id, "->poll_wait"));
        let rdllist = ListHead(cx.alloc_words("ep", id, &["rdllist.next", "rdllist.prev"]));
        list::init_list_head_private(cx, rdllist);
        let step = cx.step();
        let ep = self.objects.borrow_mut().eventpolls.alloc(
            EventPoll {
                id,
                lock,
                sem,
                wq,
                poll_wait,
                rdllist,
                ovflist: None,
                rbr: Default::default(),
                file_label: file_label.to_string(),
                file: None,
                gen: 0,
                loop_check_depth: 0,
            },
            step,
        );
        Ok(ep)
    }

    /// `ep_free(ep)`: the last close of an epoll file. Wakes its pollers, then under
    /// `epmutex` unhooks every item's wait queues and removes every item. `ep->sem` is not
    /// taken (the comment: nobody else references the file any more).
    pub async fn ep_free(&self, ep: EventPollId) {
        let Some((_, _, _, poll_wait, _)) = self.ep_fields(ep) else {
            return;
        };
        self.cx.note(|| {
            let label = self
                .with_ep(ep, |e| e.file_label.clone())
                .unwrap_or_default();
            format!("ep_free: {label}")
        });
        if self.cx.waitqueue_active(poll_wait).await {
            self.ep_poll_safewake(poll_wait).await;
        }
        self.cx.mutex_lock(self.epmutex).await;
        let items: Vec<EpitemId> = self
            .with_ep(ep, |e| e.rbr.values().copied().collect())
            .unwrap_or_default();
        for &epi in &items {
            self.ep_unregister_pollwait(ep, epi).await;
        }
        loop {
            let first = self
                .with_ep(ep, |e| e.rbr.values().next().copied())
                .flatten();
            let Some(epi) = first else {
                break;
            };
            if self.ep_remove(ep, epi).await.is_err() {
                break;
            }
        }
        self.cx.mutex_unlock(self.epmutex).await;
    }

    /// `ep_eventpoll_close()`: `.release` of epoll files — `ep_free(ep)`, then
    /// `kfree(ep)` (in the seed commit the caller frees; later kernels moved the
    /// `kfree` into `ep_free`).
    pub async fn ep_eventpoll_close(&self, ep: EventPollId) {
        let Some((_, _, _, _, rdllist)) = self.ep_fields(ep) else {
            return;
        };
        self.ep_free(ep).await;
        // kfree(ep): the shared words go with it.
        let step = self.cx.step();
        let freed = self.objects.borrow_mut().eventpolls.free(ep, step);
        match freed {
            Ok(_) => self.cx.free_words(rdllist.0),
            Err(error) => self.report_stale("eventpoll", error),
        }
    }

    // ---- lookup and reference counting -------------------------------------------------------------

    /// `ep_find(ep, file, fd)`: tree lookup under `ep->lock` (read); takes a `usecnt`
    /// reference on the item found.
    pub(crate) async fn ep_find(&self, ep: EventPollId, file: FileId, fd: i32) -> Option<EpitemId> {
        let (lock, ..) = self.ep_fields(ep)?;
        let file_id = self.with_file(file, |f| f.id)?;
        let flags = self.ep_read_lock(lock).await;
        let found = self
            .with_ep(ep, |e| e.rbr.get(&RbKey::new(file_id, fd)).copied())
            .flatten();
        if let Some(epi) = found {
            self.ep_use_epitem(epi).await;
        }
        self.ep_read_unlock(lock, flags).await;
        found
    }

    /// `ep_use_epitem()`: `atomic_inc(&epi->usecnt)`.
    async fn ep_use_epitem(&self, epi: EpitemId) {
        if let Some(word) = self.with_epi(epi, |e| e.usecnt_word()) {
            self.cx.atomic_add_return(word, 1).await;
        }
    }

    /// `ep_release_epitem()`: drop a reference; the last one frees the item.
    pub(crate) async fn ep_release_epitem(&self, epi: EpitemId) {
        let Some(word) = self.with_epi(epi, |e| e.usecnt_word()) else {
            return;
        };
        if self.cx.atomic_dec_and_test(word).await {
            self.free_epitem(epi);
        }
    }

    /// `kmem_cache_free(epi_cache, epi)`.
    pub(crate) fn free_epitem(&self, epi: EpitemId) {
        let step = self.cx.step();
        let freed = {
            let mut objects = self.objects.borrow_mut();
            let freed = objects.epitems.free(epi, step);
            if let Ok(item) = &freed {
                objects.rdllink_owner.remove(&item.words);
                objects.txlink_owner.remove(&item.words.offset(5));
                if self.cx.narrating() {
                    objects
                        .freed_epitem_ids
                        .insert((epi.index, epi.generation), item.id);
                }
            }
            freed
        };
        match freed {
            Ok(item) => {
                self.cx
                    .note(|| format!("  kmem_cache_free(epi_cache, epitem{})", item.id));
                self.cx.free_words(item.words);
            }
            Err(error) => self.report_stale("epitem", error),
        }
    }

    // ---- insertion ------------------------------------------------------------------------------

    /// The `eppoll_entry` every version's `ep_ptable_queue_proc` makes alike, once its
    /// `kmem_cache_alloc(pwq_cache)` succeeded: `init_waitqueue_func_entry(&pwq->wait,
    /// ep_poll_callback)`, `pwq->whead = whead`, `pwq->base = epi` (the same lines in the
    /// 6192bd536f96, v2.6.22 and v6.18 texts). Queueing it on `whead` is each version's own.
    pub(crate) fn new_eppoll_entry(
        &self,
        epi: EpitemId,
        whead: WaitQueueId,
    ) -> (crate::objects::PwqId, sim::waitq::WaitEntryId) {
        let step = self.cx.step();
        let pwq = self.objects.borrow_mut().pwqs.alloc(
            EppollEntry {
                base: epi,
                wait: sim::arena::Handle::DANGLING,
                whead,
            },
            step,
        );
        let wait = self.cx.new_wait_entry(
            WakeFunction::Callback {
                kind: CALLBACK_EP_POLL,
                data: encode_handle(pwq),
            },
            false,
        );
        if let Ok(entry) = self.objects.borrow_mut().pwqs.get_mut(pwq) {
            entry.wait = wait;
        }
        if self.cx.state().is_watched() {
            if let Some(id) = self.with_epi(epi, |e| e.id) {
                self.objects
                    .borrow_mut()
                    .pwq_items
                    .insert(encode_handle(pwq), id);
            }
        }
        (pwq, wait)
    }

    /// `ep_ptable_queue_proc(file, whead, pt)`: hooks an eppoll_entry whose callback is
    /// `ep_poll_callback` on `whead`, or marks the item with `nwait = -1` when the entry
    /// cannot be allocated.
    pub(crate) async fn ep_ptable_queue_proc(&self, whead: WaitQueueId, epi: EpitemId) {
        let Some(nwait_word) = self.with_epi(epi, |e| e.nwait_word()) else {
            return;
        };
        let nwait = self.cx.load(nwait_word).await as i64;
        if nwait >= 0 && !self.cx.alloc_fails("eppoll_entry") {
            let (pwq, wait) = self.new_eppoll_entry(epi, whead);
            self.cx.add_wait_queue(whead, wait).await;
            self.with_epi_mut(epi, |e| e.pwqlist.push(pwq));
            self.cx.store(nwait_word, (nwait + 1) as u64).await;
        } else {
            self.cx.store(nwait_word, (-1i64) as u64).await;
        }
    }

    /// `ep_insert(ep, event, tfile, fd)` — the caller holds `ep->sem` for write.
    pub(crate) async fn ep_insert(
        &self,
        ep: EventPollId,
        event: EpollEvent,
        tfile: FileId,
        fd: i32,
    ) -> SysResult<()> {
        let (lock, _, wq, poll_wait, rdllist) = self.ep_fields(ep).ok_or(Errno::EBADF)?;
        if self.cx.alloc_fails("epitem") {
            return Err(Errno::ENOMEM);
        }
        let epi = self.alloc_epitem(ep, event, tfile, fd);
        self.cx
            .note(|| format!("ep_insert: epitem{} for fd {fd}", self.epitem_id(epi)));
        // Where the new item's words are, and the target file's f_ep_lock: plain
        // pointers in the kernel, read here once, before any lock is taken, so that no
        // path below can fail where the kernel's cannot (the caller's fget() keeps the
        // file alive; the item is ours).
        let (nwait_word, link) = self
            .with_epi(epi, |e| (e.nwait_word(), e.rdllink()))
            .ok_or(Errno::ENOMEM)?;
        let f_ep_lock = self.with_file(tfile, |f| f.f_ep_lock).ok_or(Errno::EBADF)?;

        // Attach the item to the poll hooks and get the current event bits.
        let revents = self.vfs_poll(tfile, PollTable::Epoll(epi)).await;

        if (self.cx.load(nwait_word).await as i64) < 0 {
            // eexit_2: an eppoll_entry allocation failed.
            self.ep_unregister_pollwait(ep, epi).await;
            let flags = self.ep_write_lock(lock).await;
            if self.ep_is_linked(link).await {
                list::list_del_init(&self.cx, link).await;
            }
            self.ep_write_unlock(lock, flags).await;
            self.free_epitem(epi);
            return Err(Errno::ENOMEM);
        }

        // Add the current item to the list of active epoll hooks for this file.
        self.cx.spin_lock(f_ep_lock).await;
        self.with_file_mut(tfile, |f| f.f_ep_links.push(epi));
        self.with_epi_mut(epi, |e| e.fllink_linked = true);
        self.cx.spin_unlock(f_ep_lock).await;

        let flags = self.ep_write_lock(lock).await;
        self.ep_rbtree_insert(ep, epi);
        let mut pwake = false;
        if revents & event.events != 0 && !self.ep_is_linked(link).await {
            list::list_add_tail(&self.cx, link, rdllist).await;
            self.cx.note(|| {
                format!(
                    "  ep_insert: already ready, epitem{} appended to rdllist",
                    self.epitem_id(epi)
                )
            });
            self.wake_ep_wq_locked(wq).await;
            pwake = self.cx.waitqueue_active(poll_wait).await;
        }
        self.ep_unlock_and_pwake(lock, flags, pwake, poll_wait)
            .await;
        self.debug_check_ready_lists();
        Ok(())
    }

    /// The part of `kmem_cache_alloc(epi_cache)` and `ep_insert`'s initialisation that
    /// every version does alike: a fresh object with the shared words of `layout`, the
    /// item's own tree key (`ffd`: the file is not looked up again later, when it may be
    /// gone), not yet linked anywhere. Each version then initialises the words it has.
    pub(crate) fn new_epitem(
        &self,
        layout: &'static [&'static str],
        ep: EventPollId,
        event: EpollEvent,
        tfile: FileId,
        fd: i32,
    ) -> Epitem {
        let id = self.objects.borrow_mut().next_id();
        let words = self.cx.alloc_words("epitem", id, layout);
        let file_id = self.with_file(tfile, |f| f.id).unwrap_or(0);
        Epitem {
            id,
            words,
            rb_linked: false,
            file: tfile,
            file_id,
            fd,
            pwqlist: smallvec::SmallVec::new(),
            ep,
            data: event.data,
            fllink_linked: false,
            dying: false,
            pqueue_failed: false,
        }
    }

    /// Allocates and initialises an epitem (the item is private until inserted).
    fn alloc_epitem(&self, ep: EventPollId, event: EpollEvent, tfile: FileId, fd: i32) -> EpitemId {
        let item = self.new_epitem(EPITEM_FIELDS, ep, event, tfile, fd);
        let words = item.words;
        let cx = &self.cx;
        list::init_list_head_private(cx, item.rdllink());
        list::init_list_head_private(cx, item.txlink());
        let mem = &cx.state().mem;
        mem.store_sc(item.events_word(), event.events as u64);
        mem.store_sc(item.nwait_word(), 0);
        mem.store_sc(item.usecnt_word(), 1);
        let step = cx.step();
        let mut objects = self.objects.borrow_mut();
        let epi = objects.epitems.alloc(item, step);
        objects.rdllink_owner.insert(words, epi);
        // Only 2.6.21's transfer looks a txlink's owner up: seed items need no entry.
        if self.version() == KernelVersion::V2_6_21 {
            objects.txlink_owner.insert(words.offset(5), epi);
        }
        epi
    }

    /// `ep_rbtree_insert()` — caller holds `ep->lock` for write.
    pub(crate) fn ep_rbtree_insert(&self, ep: EventPollId, epi: EpitemId) {
        let Some((file, fd)) = self.with_epi_mut(epi, |e| {
            e.rb_linked = true;
            (e.file, e.fd)
        }) else {
            return;
        };
        let Some(file_id) = self.with_file(file, |f| f.id) else {
            return;
        };
        self.with_ep_mut(ep, |e| e.rbr.insert(RbKey::new(file_id, fd), epi));
    }

    /// Drops `ep->lock`, then — outside the lock, as the `pwake` counters are for — wakes
    /// the pollers of the epoll fd. With `no-pwake-deferral` the wake happens first.
    pub(crate) async fn ep_unlock_and_pwake(
        &self,
        lock: sim::LockId,
        flags: u64,
        pwake: bool,
        poll_wait: WaitQueueId,
    ) {
        if pwake && self.injected(Injection::NoPwakeDeferral) {
            self.ep_poll_safewake(poll_wait).await;
            self.ep_write_unlock(lock, flags).await;
            return;
        }
        self.ep_write_unlock(lock, flags).await;
        if pwake {
            self.ep_poll_safewake(poll_wait).await;
        }
    }

    // ---- modification --------------------------------------------------------------------------

    /// `ep_modify(ep, epi, event)` — the caller holds `ep->sem` for write. The new mask is
    /// stored *before* `f_op->poll`, outside `ep->lock`: otherwise an event arriving
    /// between the poll and the store would be lost (the comment's race). It never
    /// unlinks an item that is no longer ready.
    pub(crate) async fn ep_modify(
        &self,
        ep: EventPollId,
        epi: EpitemId,
        event: EpollEvent,
    ) -> SysResult<()> {
        let (lock, _, wq, poll_wait, rdllist) = self.ep_fields(ep).ok_or(Errno::EBADF)?;
        let (events_word, file, link) = self
            .with_epi(epi, |e| (e.events_word(), e.file, e.rdllink()))
            .ok_or(Errno::ENOENT)?;
        self.cx.store(events_word, event.events as u64).await;
        let revents = self.vfs_poll(file, PollTable::Null).await;

        let flags = self.ep_write_lock(lock).await;
        let rb_linked = self
            .with_epi_mut(epi, |e| {
                e.data = event.data;
                e.rb_linked
            })
            .unwrap_or(false);
        let mut pwake = false;
        if rb_linked && revents & event.events != 0 && !self.ep_is_linked(link).await {
            list::list_add_tail(&self.cx, link, rdllist).await;
            self.cx.note(|| {
                format!(
                    "  ep_modify: ready, epitem{} appended to rdllist",
                    self.epitem_id(epi)
                )
            });
            self.wake_ep_wq_locked(wq).await;
            pwake = self.cx.waitqueue_active(poll_wait).await;
        }
        self.ep_unlock_and_pwake(lock, flags, pwake, poll_wait)
            .await;
        self.debug_check_ready_lists();
        Ok(())
    }

    // ---- removal ----------------------------------------------------------------------------------

    /// `ep_unregister_pollwait(ep, epi)`: unhooks every eppoll_entry. Called without
    /// locks, so `xchg(&epi->nwait, 0)` guards against a second unregister.
    pub(crate) async fn ep_unregister_pollwait(&self, _ep: EventPollId, epi: EpitemId) {
        let Some(nwait_word) = self.with_epi(epi, |e| e.nwait_word()) else {
            return;
        };
        let nwait = self.cx.xchg(nwait_word, 0).await;
        if nwait == 0 {
            return;
        }
        loop {
            let first = self
                .with_epi_mut(epi, |e| {
                    (!e.pwqlist.is_empty()).then(|| e.pwqlist.remove(0))
                })
                .flatten();
            let Some(pwq) = first else {
                break;
            };
            let entry = self.objects.borrow().pwqs.get(pwq).ok().copied();
            let Some(entry) = entry else {
                continue;
            };
            self.cx.remove_wait_queue(entry.whead, entry.wait).await;
            self.cx.free_wait_entry(entry.wait);
            let step = self.cx.step();
            if let Err(error) = self.objects.borrow_mut().pwqs.free(pwq, step) {
                self.report_stale("eppoll_entry", error);
            }
        }
    }

    /// `ep_unlink(ep, epi)` — the caller holds `ep->lock` for write. ENOENT if the item
    /// was already erased from the tree (the check that prevents a double unlink).
    async fn ep_unlink(&self, ep: EventPollId, epi: EpitemId) -> SysResult<()> {
        let (rb_linked, events_word, link, file_id, fd) = self
            .with_epi(epi, |e| {
                (e.rb_linked, e.events_word(), e.rdllink(), e.file_id, e.fd)
            })
            .ok_or(Errno::ENOENT)?;
        if !rb_linked {
            return Err(Errno::ENOENT);
        }
        // Clear the mask: no notification after the unlink from inside the transfer loop.
        self.cx.store(events_word, 0).await;
        self.with_ep_mut(ep, |e| e.rbr.remove(&RbKey::new(file_id, fd)));
        self.with_epi_mut(epi, |e| e.rb_linked = false);
        if self.ep_is_linked(link).await {
            list::list_del_init(&self.cx, link).await;
        }
        Ok(())
    }

    /// `ep_remove(ep, epi)`: unhook the wait queues (before taking `ep->lock`: the wake
    /// path takes the head lock and then `ep->lock`), unlink from the file, unlink under
    /// `ep->lock`, drop the reference.
    pub(crate) async fn ep_remove(&self, ep: EventPollId, epi: EpitemId) -> SysResult<()> {
        let (lock, ..) = self.ep_fields(ep).ok_or(Errno::ENOENT)?;
        let file = self.with_epi(epi, |e| e.file).ok_or(Errno::ENOENT)?;
        self.cx
            .note(|| format!("ep_remove: epitem{}", self.epitem_id(epi)));
        let unhook_under_lock = self.injected(Injection::UnhookUnderLock);
        if !unhook_under_lock {
            self.ep_unregister_pollwait(ep, epi).await;
        }

        if let Some(f_ep_lock) = self.with_file(file, |f| f.f_ep_lock) {
            self.cx.spin_lock(f_ep_lock).await;
            let linked = self.with_epi(epi, |e| e.fllink_linked).unwrap_or(false);
            if linked {
                self.fllink_del_init(file, epi);
            }
            self.cx.spin_unlock(f_ep_lock).await;
        }

        let flags = self.ep_write_lock(lock).await;
        if unhook_under_lock {
            self.ep_unregister_pollwait(ep, epi).await;
        }
        let result = self.ep_unlink(ep, epi).await;
        self.ep_write_unlock(lock, flags).await;
        self.debug_check_ready_lists();
        result?;
        self.ep_release_epitem(epi).await;
        Ok(())
    }

    // ---- the wake-up callback -------------------------------------------------------------------------

    /// `ep_poll_callback(wait, mode, sync, key)`: runs inside the waker's `wake_up`
    /// (possibly in interrupt context) with the watched head's lock held. A disabled item
    /// (mask without poll bits) is ignored; an item already linked — on the ready list, or
    /// on a transferring task's private list — is not appended again (**the `ep_is_linked`
    /// test the seed commit relies on**); either way the epoll_wait sleepers are woken.
    pub async fn ep_poll_callback(&self, pwq: crate::objects::PwqId) -> bool {
        Counters::bump(&self.counters.callbacks, 1);
        let Some(epi) = self.pwq_base(pwq) else {
            return false;
        };
        let Some((link, events_word, (lock, _, wq, poll_wait, rdllist))) =
            self.epi_and_ep_fields(epi)
        else {
            return false;
        };
        self.cx
            .note(|| format!("ep_poll_callback: epitem{}", self.epitem_id(epi)));
        let flags = self.ep_write_lock(lock).await;
        let events = self.cx.load(events_word).await as u32;
        let mut pwake = false;
        if events & !EP_PRIVATE_BITS == 0 {
            self.cx.note(|| {
                format!(
                    "  epitem{} is disabled (ONESHOT fired): ignored",
                    self.epitem_id(epi)
                )
            });
        } else {
            let linked = if self.injected(Injection::NoLinkedCheck) {
                false
            } else {
                self.ep_is_linked(link).await
            };
            if linked {
                self.cx.note(|| {
                    format!(
                        "  epitem{} is already linked: not queued again",
                        self.epitem_id(epi)
                    )
                });
            } else {
                list::list_add_tail(&self.cx, link, rdllist).await;
                self.cx.note(|| {
                    format!(
                        "  list_add_tail(epitem{}.rdllink, &ep->rdllist)",
                        self.epitem_id(epi)
                    )
                });
            }
            self.wake_ep_wq_locked(wq).await;
            pwake = self.cx.waitqueue_active(poll_wait).await;
        }
        self.ep_unlock_and_pwake(lock, flags, pwake, poll_wait)
            .await;
        self.debug_check_ready_lists();
        true
    }

    // ---- poll on the epoll fd itself --------------------------------------------------------------------

    /// `ep_eventpoll_poll(file, wait)`: hook `ep->poll_wait`, report POLLIN|POLLRDNORM when
    /// the ready list is non-empty — without re-polling the items, so a nested set can
    /// look ready when nothing in it is deliverable.
    pub async fn ep_eventpoll_poll(&self, ep: EventPollId, pt: PollTable) -> u32 {
        let Some((lock, _, _, poll_wait, rdllist)) = self.ep_fields(ep) else {
            return 0;
        };
        self.poll_wait(poll_wait, pt).await;
        let flags = self.ep_read_lock(lock).await;
        let ready = !list::list_empty(&self.cx, rdllist).await;
        self.ep_read_unlock(lock, flags).await;
        if ready {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }

    // ---- the transfer (6192bd536f96: the seed commit's single pass) ---------------------------------------------

    /// `ep_send_events(ep, txlist, events, maxevents)` — 6192bd536f96. Runs with `ep->sem` held
    /// for read and no spinlock: `__put_user` may fault and sleep, and `f_op->poll` may
    /// re-enable interrupts. Delivered level-triggered items that are still ready go to
    /// `injlist`; everything else is `list_del`'d (leaving `next` poisoned, so the
    /// callback still sees it linked) and only re-initialised after `smp_mb()`. At the end
    /// the unreached rest of `txlist`, then `injlist`, are spliced to the *head* of the
    /// ready list and the sleepers woken.
    async fn ep_send_events(
        &self,
        ep: EventPollId,
        txlist: ListHead,
        injlist: ListHead,
        events: &mut UserEvents,
        maxevents: usize,
    ) -> SysResult<usize> {
        let Some((lock, _, wq, poll_wait, rdllist)) = self.ep_fields(ep) else {
            return Err(Errno::EBADF);
        };
        let cx = &self.cx;
        list::init_list_head(cx, injlist).await;
        let mut eventcnt = 0;
        let mut error = Err(Errno::EFAULT);
        let mut faulted = false;
        while eventcnt < maxevents && !list::list_empty(cx, txlist).await {
            let first = cx.load(txlist.next_word()).await;
            let Some(link) = ListHead::from_address(first) else {
                cx.report(
                    ReportKind::ListCorruption,
                    format!("txlist.next is {}", list::describe_pointer(first)),
                    vec![],
                );
                return Err(Errno::EFAULT);
            };
            let Some(epi) = self.epi_of_rdllink(link) else {
                return Err(Errno::EFAULT);
            };
            let Some((file, events_word, data)) =
                self.with_epi(epi, |e| (e.file, e.events_word(), e.data))
            else {
                return Err(Errno::EFAULT);
            };
            let polled = self.vfs_poll(file, PollTable::Null).await;
            let interest = cx.load(events_word).await as u32;
            let revents = polled & interest;
            if revents != 0 {
                if events
                    .put_user(
                        cx,
                        eventcnt,
                        EpollEvent {
                            events: revents,
                            data,
                        },
                    )
                    .await
                    .is_err()
                {
                    faulted = true;
                    break;
                }
                cx.note(|| {
                    format!(
                        "  ep_send_events: deliver epitem{} ({})",
                        self.epitem_id(epi),
                        crate::poll::mask_to_string(revents)
                    )
                });
                // `if (epi->event.events & EPOLLONESHOT) epi->event.events &= EP_PRIVATE_BITS;`
                // reads the mask again: __put_user may have slept since it was last read.
                let events = cx.load(events_word).await as u32;
                if events & EPOLLONESHOT != 0 {
                    cx.store(events_word, (events & EP_PRIVATE_BITS) as u64)
                        .await;
                }
                eventcnt += 1;
            }
            list::list_del(cx, link).await;
            let interest = cx.load(events_word).await as u32;
            if interest & EPOLLET == 0 && revents & interest != 0 {
                list::list_add_tail(cx, link, injlist).await;
            } else {
                if !self.injected(Injection::NoSmpMb) {
                    cx.smp_mb().await;
                }
                list::init_list_head(cx, link).await;
            }
        }
        if !faulted {
            error = Ok(0);
        }
        Counters::bump(&self.counters.events_delivered, eventcnt as u64);

        if !list::list_empty(cx, injlist).await || !list::list_empty(cx, txlist).await {
            let flags = self.ep_write_lock(lock).await;
            list::list_splice(cx, txlist, rdllist).await;
            list::list_splice(cx, injlist, rdllist).await;
            cx.note(|| {
                "  ep_send_events: re-splice txlist and injlist to the head of rdllist".to_string()
            });
            if !self.injected(Injection::NoReinjectWakeup) {
                self.wake_ep_wq_locked(wq).await;
            }
            let pwake = cx.waitqueue_active(poll_wait).await;
            self.ep_unlock_and_pwake(lock, flags, pwake, poll_wait)
                .await;
        }
        if eventcnt == 0 {
            error
        } else {
            Ok(eventcnt)
        }
    }

    /// `ep_events_transfer(ep, events, maxevents)` — 6192bd536f96: with `ep->sem` held for read,
    /// steal the whole ready list under `ep->lock` ("steal the ready list") and send.
    pub(crate) async fn ep_events_transfer(
        &self,
        ep: EventPollId,
        events: &mut UserEvents,
        maxevents: usize,
    ) -> SysResult<usize> {
        let Some((lock, sem, _, _, rdllist)) = self.ep_fields(ep) else {
            return Err(Errno::EBADF);
        };
        Counters::bump(&self.counters.transfers, 1);
        let info = self.current_task_info();
        let (txlist, injlist) = (info.txlist(), info.injlist());
        let cx = &self.cx;
        list::init_list_head(cx, txlist).await;
        cx.down_read(sem).await;
        self.set_in_transfer(Some(ep));
        let steal_locked = !self.injected(Injection::StealWithoutLock);
        let flags = if steal_locked {
            self.ep_write_lock(lock).await
        } else {
            0
        };
        list::list_splice(cx, rdllist, txlist).await;
        list::init_list_head(cx, rdllist).await;
        cx.note(|| "ep_events_transfer: steal the ready list onto txlist".to_string());
        if steal_locked {
            self.ep_write_unlock(lock, flags).await;
        }
        let result = self
            .ep_send_events(ep, txlist, injlist, events, maxevents)
            .await;
        self.set_in_transfer(None);
        cx.up_read(sem).await;
        self.debug_check_ready_lists();
        result
    }

    /// `ep_poll(ep, events, maxevents, timeout)`: sleep on `ep->wq` until the ready list is
    /// non-empty, the timeout expires or a signal arrives; then transfer, and retry if the
    /// transfer found nothing and time is left.
    pub(crate) async fn ep_poll(
        &self,
        ep: EventPollId,
        events: &mut UserEvents,
        maxevents: usize,
        timeout_ms: i32,
    ) -> SysResult<usize> {
        let Some((lock, _, wq, _, rdllist)) = self.ep_fields(ep) else {
            return Err(Errno::EBADF);
        };
        let cx = &self.cx;
        let mut jtimeout = self.ep_jtimeout(timeout_ms);
        let task = cx.current().expect("epoll_wait runs in task context");
        loop {
            let flags = self.ep_write_lock(lock).await;
            let mut res: SysResult<usize> = Ok(0);
            if list::list_empty(cx, rdllist).await {
                let wait = cx.new_wait_entry(WakeFunction::Default(task), false);
                cx.add_wait_queue_locked(wq, wait).await;
                self.set_in_ep_poll(task, Some(ep));
                let mut flags_now = flags;
                loop {
                    cx.set_current_state(TaskState::Interruptible).await;
                    if !list::list_empty(cx, rdllist).await || jtimeout == 0 {
                        break;
                    }
                    if cx.signal_pending() {
                        res = Err(Errno::EINTR);
                        break;
                    }
                    self.ep_write_unlock(lock, flags_now).await;
                    cx.note(|| "ep_poll: nothing ready, sleep on ep->wq".to_string());
                    // schedule_timeout(MAX_SCHEDULE_TIMEOUT) is schedule() with no timer,
                    // which is what it does inside; the machine's schedule_timeout arms one.
                    jtimeout = if jtimeout == MAX_SCHEDULE_TIMEOUT {
                        cx.schedule().await;
                        MAX_SCHEDULE_TIMEOUT
                    } else {
                        cx.schedule_timeout(jtimeout).await
                    };
                    flags_now = self.ep_write_lock(lock).await;
                }
                self.set_in_ep_poll(task, None);
                cx.remove_wait_queue_locked(wq, wait).await;
                cx.free_wait_entry(wait);
                cx.set_current_state(TaskState::Running).await;
                let eavail = !list::list_empty(cx, rdllist).await;
                self.ep_write_unlock(lock, flags_now).await;
                if let Some(result) = self
                    .after_wait(ep, res, eavail, jtimeout, events, maxevents)
                    .await
                {
                    return result;
                }
                continue;
            }
            let eavail = !list::list_empty(cx, rdllist).await;
            self.ep_write_unlock(lock, flags).await;
            if let Some(result) = self
                .after_wait(ep, res, eavail, jtimeout, events, maxevents)
                .await
            {
                return result;
            }
        }
    }

    /// `ep_poll`'s timeout in jiffies: MAX_SCHEDULE_TIMEOUT for "infinite" (-1) and on
    /// overflow, else (t * HZ + 999) / 1000. The same text in every 2007 version.
    pub(crate) fn ep_jtimeout(&self, timeout_ms: i32) -> u64 {
        let hz = self.cx.hz() as i64;
        // EP_MAX_MSTIMEO is min(1000ULL * MAX_SCHEDULE_TIMEOUT / HZ, (LONG_MAX - 999ULL) /
        // HZ); on a 64-bit kernel the first product wraps, so the second is the one that
        // counts, and it alone is kept.
        let max_mstimeo = (i64::MAX - 999) / hz;
        if timeout_ms < 0 || timeout_ms as i64 >= max_mstimeo {
            MAX_SCHEDULE_TIMEOUT
        } else {
            ((timeout_ms as i64 * hz + 999) / 1000) as u64
        }
    }

    /// The tail of `ep_poll`: transfer if worth it; `None` means `goto retry`.
    async fn after_wait(
        &self,
        ep: EventPollId,
        res: SysResult<usize>,
        eavail: bool,
        jtimeout: u64,
        events: &mut UserEvents,
        maxevents: usize,
    ) -> Option<SysResult<usize>> {
        if res == Ok(0) && eavail {
            let transferred = self
                .ep_events_transfer_of_version(ep, events, maxevents)
                .await;
            if transferred == Ok(0) && jtimeout != 0 {
                return None;
            }
            return Some(transferred);
        }
        Some(res)
    }

    pub(crate) fn set_in_ep_poll(&self, task: sim::TaskId, ep: Option<EventPollId>) {
        if let Some(info) = self.objects.borrow_mut().tasks.get_mut(&task) {
            info.in_ep_poll = ep;
        }
    }
}
