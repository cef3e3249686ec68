//! fs/eventpoll.c as the v2.6.22 tag has it: the seed commit's single pass, fixed by
//! Davide Libenzi's d47de16c7221 ("fix epoll single pass code and add wait-exclusive
//! flag") and c7ea76302547 ("epoll locks changes and cleanups"), both committed for
//! v2.6.22-rc2 (docs/eventpoll-history.md §1.1). Read from the "OVF" text (index id
//! 186122581, digest Appendix A); the functions below follow that file top to bottom.
//!
//! What changed against the seed tree ([`crate::eventpoll`]), as a user can see it:
//! - LOCKING is `epmutex` → `ep->mtx` (a mutex: held across the whole transfer, every
//!   ctl operation and `eventpoll_release_file`) → `ep->lock` (a spinlock, irqsave).
//!   No `usecnt`: everything that could free an item runs under `ep->mtx`.
//! - The transfer steals `rdllist` under `ep->lock` and sets `ep->ovflist` to NULL; while
//!   it runs without `ep->lock`, `ep_poll_callback` chains items on `ovflist` through
//!   `epi->next` (LIFO, each at most once: `next == EP_UNACTIVE_PTR` means unchained)
//!   **and wakes nobody**. Delivered level-triggered items go straight back on the tail
//!   of `rdllist` without `ep->lock` (only the transfer can touch it then). At the end,
//!   under `ep->lock`, the chain is walked and each unlinked, enabled item appended;
//!   `ovflist` becomes EP_UNACTIVE_PTR again; the unreached rest of the private list is
//!   spliced at the head. Next ready order: [unreached][delivered LT][fired during the
//!   transfer, newest first].
//! - `ep_poll`'s wait entry is WQ_FLAG_EXCLUSIVE yet head-added (`__add_wait_queue`), and
//!   `__wake_up_locked` wakes one exclusive entry: one sleeper per wake, the most recent.
//! - The epoll file comes from `anon_inode_getfd` (`O_RDWR`), and eventfd exists.
//! - The file has no memory barrier at all: every access of `rdllist`, `ovflist`,
//!   `epi->next` and `rdllink` is under `ep->lock` or `ep->mtx` except the transfer's, and
//!   the transfer excludes every other writer by the protocol above.
//!
//! Shared with the seed port because the text is the same: `ep_poll_safewake` (the psw
//! walker), `ep_unregister_pollwait` (the `xchg` of `nwait`), `ep_ptable_queue_proc`,
//! `ep_rbtree_insert` (a map here), the epitem's slab free, and `ep_poll`'s timeout
//! arithmetic (`Kernel::ep_jtimeout`).
//!
//! Simplifications, each named where it happens, as in the seed port: the rb-tree is an
//! ordered map; the anonymous inode and dentry are not modelled (only the file).

use sim::list::{self, ListHead};
use sim::waitq::WakeFunction;
use sim::{Granularity, LockKind, Name, ReportKind, TaskState, WaitQueueId, Word};

use crate::errno::{Errno, SysResult};
use crate::inject::Injection;
use crate::kernel::MAX_SCHEDULE_TIMEOUT;
use crate::kernel::{Counters, Kernel};
use crate::objects::{EpitemId, EventPoll, EventPollId, FileId, RbKey, EPITEM_FIELDS_2_6_22};
use crate::poll::{
    EpollEvent, PollTable, EPOLLET, EPOLLONESHOT, EP_PRIVATE_BITS, POLLIN, POLLRDNORM,
};
use crate::user::UserEvents;

/// `EP_UNACTIVE_PTR`, `(void *) -1L`: in `ep->ovflist`, "no transfer is running"; in
/// `epi->next`, "not chained on `ovflist`".
pub const EP_UNACTIVE_PTR: u64 = u64::MAX;

/// NULL, the end of the `ovflist` chain (and `ovflist` while a transfer runs and nothing
/// has fired yet).
const NULL: u64 = 0;

impl<G: Granularity> Kernel<G> {
    // ---- ep->lock: spin_lock_irqsave, with the lock-without-irqsave injection ---------

    /// `spin_lock_irqsave(&ep->lock, flags)`.
    async fn ep_spin_lock(&self, lock: sim::LockId) -> u64 {
        if self.injected(Injection::LockWithoutIrqsave) {
            self.cx.spin_lock(lock).await;
            1
        } else {
            self.cx.spin_lock_irqsave(lock).await
        }
    }

    /// `spin_unlock_irqrestore(&ep->lock, flags)`.
    async fn ep_spin_unlock(&self, lock: sim::LockId, flags: u64) {
        if self.injected(Injection::LockWithoutIrqsave) {
            self.cx.spin_unlock(lock).await;
        } else {
            self.cx.spin_unlock_irqrestore(lock, flags).await;
        }
    }

    /// Drops `ep->lock`, then calls `ep_poll_safewake(&psw, &ep->poll_wait)` if `pwake`
    /// ("we have to call this outside the lock"); with `no-pwake-deferral`, inside it.
    async fn ep_spin_unlock_and_pwake(
        &self,
        lock: sim::LockId,
        flags: u64,
        pwake: bool,
        poll_wait: WaitQueueId,
    ) {
        if pwake && self.injected(Injection::NoPwakeDeferral) {
            self.ep_poll_safewake(poll_wait).await;
            self.ep_spin_unlock(lock, flags).await;
            return;
        }
        self.ep_spin_unlock(lock, flags).await;
        if pwake {
            self.ep_poll_safewake(poll_wait).await;
        }
    }

    /// `ep->ovflist`'s word (2.6.22 sets only).
    fn ovflist_word(&self, ep: EventPollId) -> Option<Word> {
        self.with_ep(ep, |e| e.ovflist).flatten()
    }

    /// The "pointer" an `ovflist` chain holds for an item: its `rdllink` address (the
    /// item's first word), resolved back through the `rdllink` owners, as `container_of`.
    fn epi_pointer(&self, epi: EpitemId) -> Option<u64> {
        self.with_epi(epi, |e| e.rdllink().address())
    }

    fn epi_from_pointer(&self, pointer: u64) -> Option<EpitemId> {
        match ListHead::from_address(pointer) {
            Some(link) => self.epi_of_rdllink(link),
            None => {
                self.cx.report(
                    ReportKind::ListCorruption,
                    format!("an ovflist chain holds {}", list::describe_pointer(pointer)),
                    vec![],
                );
                None
            }
        }
    }

    // ---- ep_remove, ep_free, release -----------------------------------------------------

    /// `ep_remove(ep, epi)` — "must be called with `mtx` held". Unhooks the wait queues
    /// first and without `ep->lock` (the wake path holds a head's lock when it takes
    /// `ep->lock`), takes the item off its file's list under `f_ep_lock`, erases it from
    /// the tree (under `ep->mtx` only, unlike the seed tree), takes it off the ready list
    /// under `ep->lock`, and frees it at once: there is no `usecnt` any more.
    pub(crate) async fn ep_remove_2_6_22(&self, ep: EventPollId, epi: EpitemId) -> SysResult<()> {
        let (lock, ..) = self.ep_fields(ep).ok_or(Errno::ENOENT)?;
        let (file, file_id, fd, link) = self
            .with_epi(epi, |e| (e.file, e.file_id, e.fd, e.rdllink()))
            .ok_or(Errno::ENOENT)?;
        self.cx
            .note(|| format!("ep_remove: epitem{}", self.epitem_id(epi)));
        let unhook_under_lock = self.injected(Injection::UnhookUnderLock);
        if !unhook_under_lock {
            self.ep_unregister_pollwait(ep, epi).await;
        }

        if let Some(f_ep_lock) = self.with_file(file, |f| f.f_ep_lock) {
            self.cx.spin_lock(f_ep_lock).await;
            if self.with_epi(epi, |e| e.fllink_linked).unwrap_or(false) {
                self.fllink_del_init(file, epi);
            }
            self.cx.spin_unlock(f_ep_lock).await;
        }

        // ep_rb_erase if ep_rb_linked: a tree operation, under ep->mtx.
        // The key is the item's own copy of `ffd`: the file may already be gone.
        if self.with_epi(epi, |e| e.rb_linked).unwrap_or(false) {
            self.with_ep_mut(ep, |e| e.rbr.remove(&RbKey::new(file_id, fd)));
            self.with_epi_mut(epi, |e| e.rb_linked = false);
        }

        let flags = self.ep_spin_lock(lock).await;
        if unhook_under_lock {
            self.ep_unregister_pollwait(ep, epi).await;
        }
        if self.ep_is_linked(link).await {
            list::list_del_init(&self.cx, link).await;
        }
        self.ep_spin_unlock(lock, flags).await;
        self.debug_check_ready_lists();

        self.free_epitem(epi);
        Ok(())
    }

    /// `ep_free(ep)` — 2.6.22: wakes the epoll fd's pollers, then under `epmutex` (not
    /// `ep->mtx`: nobody else references the file any more) unhooks every item, removes
    /// every item, and frees the eventpoll itself (`mutex_destroy` + `kfree`).
    pub(crate) async fn ep_free_2_6_22(&self, ep: EventPollId) {
        let Some((_, _, _, poll_wait, rdllist)) = self.ep_fields(ep) else {
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
            if self.ep_remove_2_6_22(ep, epi).await.is_err() {
                break;
            }
        }
        self.cx.mutex_unlock(self.epmutex).await;
        // mutex_destroy(&ep->mtx); kfree(ep): the shared words go with it.
        let ovflist = self.ovflist_word(ep);
        let step = self.cx.step();
        let freed = self.objects.borrow_mut().eventpolls.free(ep, step);
        match freed {
            Ok(_) => {
                self.cx.free_words(rdllist.0);
                if let Some(word) = ovflist {
                    self.cx.free_words(word);
                }
            }
            Err(error) => self.report_stale("eventpoll", error),
        }
    }

    /// `ep_eventpoll_poll(file, wait)` — 2.6.22: hook `ep->poll_wait`, and under
    /// `ep->lock` report POLLIN|POLLRDNORM if the ready list is not empty. While a
    /// transfer runs the stolen items are not on it, and items that fired meanwhile are
    /// on `ovflist`: a poller sees only the level-triggered items the transfer has put
    /// back so far (written without `ep->lock`).
    pub(crate) async fn ep_eventpoll_poll_2_6_22(&self, ep: EventPollId, pt: PollTable) -> u32 {
        let Some((lock, _, _, poll_wait, rdllist)) = self.ep_fields(ep) else {
            return 0;
        };
        self.poll_wait(poll_wait, pt).await;
        let flags = self.ep_spin_lock(lock).await;
        let ready = !list::list_empty(&self.cx, rdllist).await;
        self.ep_spin_unlock(lock, flags).await;
        if ready {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }

    /// `eventpoll_release_file(file)` — 2.6.22: under `epmutex`, for each item still on
    /// the dying file's list, take it off (no `f_ep_lock`: nobody else can use the file),
    /// then remove it from its set under that set's `ep->mtx`.
    pub(crate) async fn eventpoll_release_file_2_6_22(&self, file: FileId) {
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
            let Some((_, mtx, ..)) = self.ep_fields(ep) else {
                break;
            };
            self.cx.note(|| {
                format!(
                    "eventpoll_release_file: remove epitem{} from its set",
                    self.epitem_id(epi)
                )
            });
            self.cx.mutex_lock(mtx).await;
            let _ = self.ep_remove_2_6_22(ep, epi).await;
            self.cx.mutex_unlock(mtx).await;
        }
        self.cx.mutex_unlock(self.epmutex).await;
    }

    /// `ep_alloc()` — 2.6.22: `ep->lock` a spinlock, `ep->mtx` a mutex (kept in the
    /// `sem` slot of [`EventPoll`], whose lock kind tells them apart), `ovflist` =
    /// EP_UNACTIVE_PTR.
    pub(crate) fn ep_alloc_2_6_22(&self, file_label: &str) -> SysResult<EventPollId> {
        if self.cx.alloc_fails("eventpoll") {
            return Err(Errno::ENOMEM);
        }
        let id = self.objects.borrow_mut().next_id();
        let cx = &self.cx;
        let lock = cx.new_lock(LockKind::Spin, "&ep->lock", Name::new("ep", id, "->lock"));
        let mtx = cx.new_lock(LockKind::Mutex, "&ep->mtx", Name::new("ep", id, "->mtx"));
        let wq = cx.init_waitqueue_head("&ep->wq.lock", Name::new("ep", id, "->wq"));
        let poll_wait =
            cx.init_waitqueue_head("&ep->poll_wait.lock", Name::new("ep", id, "->poll_wait"));
        let rdllist = ListHead(cx.alloc_words("ep", id, &["rdllist.next", "rdllist.prev"]));
        list::init_list_head_private(cx, rdllist);
        let ovflist = cx.alloc_words("ep", id, &["ovflist"]);
        cx.state().mem.store_sc(ovflist, EP_UNACTIVE_PTR);
        let step = cx.step();
        let ep = self.objects.borrow_mut().eventpolls.alloc(
            EventPoll {
                id,
                lock,
                sem: mtx,
                wq,
                poll_wait,
                rdllist,
                ovflist: Some(ovflist),
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

    /// `ep_find(ep, file, fd)` — 2.6.22: a plain tree lookup, "called with `mtx` held";
    /// no lock of its own and no reference taken.
    pub(crate) fn ep_find_2_6_22(
        &self,
        ep: EventPollId,
        file: FileId,
        fd: i32,
    ) -> Option<EpitemId> {
        let file_id = self.with_file(file, |f| f.id)?;
        self.with_ep(ep, |e| e.rbr.get(&RbKey::new(file_id, fd)).copied())
            .flatten()
    }

    // ---- the wake-up callback --------------------------------------------------------------

    /// `ep_poll_callback(wait, mode, sync, key)` — 2.6.22, under `ep->lock` (irqsave):
    /// a disabled item (no poll bits: ONESHOT fired) is ignored; **while a transfer runs
    /// (`ovflist != EP_UNACTIVE_PTR`) the item is chained on `ovflist` unless already
    /// chained, and nobody is woken**; otherwise it is appended to `rdllist` unless
    /// linked, and one `epoll_wait` sleeper is woken (exclusive entries), the pollers of
    /// the epoll fd after the unlock. Returns 1 in every case.
    pub(crate) async fn ep_poll_callback_2_6_22(&self, epi: EpitemId) -> bool {
        let Some((link, events_word, next_word, ep)) =
            self.with_epi(epi, |e| (e.rdllink(), e.events_word(), e.next_word(), e.ep))
        else {
            return false;
        };
        let (Some((lock, _, wq, poll_wait, rdllist)), Some(ovflist)) =
            (self.ep_fields(ep), self.ovflist_word(ep))
        else {
            return false;
        };
        self.cx
            .note(|| format!("ep_poll_callback: epitem{}", self.epitem_id(epi)));
        let cx = &self.cx;
        let flags = self.ep_spin_lock(lock).await;
        let mut pwake = false;
        let events = cx.load(events_word).await as u32;
        if events & !EP_PRIVATE_BITS == 0 {
            cx.note(|| {
                format!(
                    "  epitem{} is disabled (ONESHOT fired): ignored",
                    self.epitem_id(epi)
                )
            });
        } else {
            let chain = cx.load(ovflist).await;
            if chain != EP_UNACTIVE_PTR {
                if cx.load(next_word).await == EP_UNACTIVE_PTR {
                    cx.store(next_word, chain).await;
                    if let Some(pointer) = self.epi_pointer(epi) {
                        cx.store(ovflist, pointer).await;
                    }
                    cx.note(|| {
                        format!(
                            "  a transfer runs: epitem{} chained on ep->ovflist (no wake-up)",
                            self.epitem_id(epi)
                        )
                    });
                } else {
                    cx.note(|| {
                        format!("  epitem{} is already on ep->ovflist", self.epitem_id(epi))
                    });
                }
            } else {
                let linked = if self.injected(Injection::NoLinkedCheck) {
                    false
                } else {
                    self.ep_is_linked(link).await
                };
                if linked {
                    cx.note(|| {
                        format!(
                            "  epitem{} is already linked: not queued again",
                            self.epitem_id(epi)
                        )
                    });
                } else {
                    list::list_add_tail(cx, link, rdllist).await;
                    cx.note(|| {
                        format!(
                            "  list_add_tail(epitem{}.rdllink, &ep->rdllist)",
                            self.epitem_id(epi)
                        )
                    });
                }
                self.wake_ep_wq_locked(wq).await;
                pwake = cx.waitqueue_active(poll_wait).await;
            }
        }
        self.ep_spin_unlock_and_pwake(lock, flags, pwake, poll_wait)
            .await;
        self.debug_check_ready_lists();
        true
    }

    // ---- insertion and modification --------------------------------------------------------

    /// `ep_insert(ep, event, tfile, fd)` — 2.6.22, "must be called with `mtx` held":
    /// allocate and initialise the item (`next` = EP_UNACTIVE_PTR), hook it with
    /// `f_op->poll`, undo on an `eppoll_entry` allocation failure, link it on the file,
    /// insert it in the tree (under `mtx` only), and under `ep->lock` queue it and wake
    /// one sleeper if it is already ready.
    pub(crate) async fn ep_insert_2_6_22(
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
        let epi = self.alloc_epitem_2_6_22(ep, event, tfile, fd);
        self.cx
            .note(|| format!("ep_insert: epitem{} for fd {fd}", self.epitem_id(epi)));
        // Plain pointers in the kernel, read once before any lock (see the seed port).
        let (nwait_word, link) = self
            .with_epi(epi, |e| (e.nwait_word(), e.rdllink()))
            .ok_or(Errno::ENOMEM)?;
        let f_ep_lock = self.with_file(tfile, |f| f.f_ep_lock).ok_or(Errno::EBADF)?;

        let revents = self.vfs_poll(tfile, PollTable::Epoll(epi)).await;

        if (self.cx.load(nwait_word).await as i64) < 0 {
            // error_unregister: ovflist needs no care, it is used only under mtx.
            self.ep_unregister_pollwait(ep, epi).await;
            let flags = self.ep_spin_lock(lock).await;
            if self.ep_is_linked(link).await {
                list::list_del_init(&self.cx, link).await;
            }
            self.ep_spin_unlock(lock, flags).await;
            self.free_epitem(epi);
            return Err(Errno::ENOMEM);
        }

        self.cx.spin_lock(f_ep_lock).await;
        self.with_file_mut(tfile, |f| f.f_ep_links.push(epi));
        self.with_epi_mut(epi, |e| e.fllink_linked = true);
        self.cx.spin_unlock(f_ep_lock).await;

        self.ep_rbtree_insert(ep, epi);

        let flags = self.ep_spin_lock(lock).await;
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
        self.ep_spin_unlock_and_pwake(lock, flags, pwake, poll_wait)
            .await;
        self.debug_check_ready_lists();
        Ok(())
    }

    /// `kmem_cache_alloc(epi_cache)` and the initialisation of `ep_insert`: the 2.6.22
    /// `struct epitem` has `next` (EP_UNACTIVE_PTR) where the seed's had `usecnt`, and no
    /// `txlink`/`revents` (layout [`EPITEM_FIELDS_2_6_22`]).
    fn alloc_epitem_2_6_22(
        &self,
        ep: EventPollId,
        event: EpollEvent,
        tfile: FileId,
        fd: i32,
    ) -> EpitemId {
        let item = self.new_epitem(EPITEM_FIELDS_2_6_22, ep, event, tfile, fd);
        let words = item.words;
        let cx = &self.cx;
        list::init_list_head_private(cx, item.rdllink());
        let mem = &cx.state().mem;
        mem.store_sc(item.events_word(), event.events as u64);
        mem.store_sc(item.nwait_word(), 0);
        mem.store_sc(item.next_word(), EP_UNACTIVE_PTR);
        let step = cx.step();
        let mut objects = self.objects.borrow_mut();
        let epi = objects.epitems.alloc(item, step);
        objects.rdllink_owner.insert(words, epi);
        epi
    }

    /// `ep_modify(ep, epi, event)` — 2.6.22, under `mtx`: store the new mask before
    /// `f_op->poll` and without `ep->lock` (the comment's race), then under `ep->lock`
    /// set the data and queue the item if it is ready and not linked. No barrier between
    /// the store and the poll, in this version as in the seed's.
    pub(crate) async fn ep_modify_2_6_22(
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

        let flags = self.ep_spin_lock(lock).await;
        self.with_epi_mut(epi, |e| e.data = event.data);
        let mut pwake = false;
        if revents & event.events != 0 && !self.ep_is_linked(link).await {
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
        self.ep_spin_unlock_and_pwake(lock, flags, pwake, poll_wait)
            .await;
        self.debug_check_ready_lists();
        Ok(())
    }

    // ---- the transfer -------------------------------------------------------------------------

    /// `ep_send_events(ep, events, maxevents)` — 2.6.22. Under `ep->mtx`: steal
    /// `rdllist` onto the private `txlist` and set `ovflist` = NULL under `ep->lock`;
    /// then, without `ep->lock`, for each item up to `maxevents`: `list_del_init` it,
    /// poll it, copy the event out (a fault ends the loop — the faulting item, already
    /// off every list, loses its ready state), disarm ONESHOT, and put a level-triggered
    /// item that is still ready straight back on the tail of `rdllist`. Then, under
    /// `ep->lock`: append the `ovflist` chain's unlinked, enabled items (newest first,
    /// resetting each `next`), reset `ovflist` to EP_UNACTIVE_PTR, splice the unreached
    /// rest of `txlist` at the head of `rdllist`, and wake one sleeper if anything is
    /// ready; the epoll fd's pollers after the unlock.
    async fn ep_send_events_2_6_22(
        &self,
        ep: EventPollId,
        events: &mut UserEvents,
        maxevents: usize,
    ) -> SysResult<usize> {
        let (Some((lock, mtx, wq, poll_wait, rdllist)), Some(ovflist)) =
            (self.ep_fields(ep), self.ovflist_word(ep))
        else {
            return Err(Errno::EBADF);
        };
        Counters::bump(&self.counters.transfers, 1);
        let cx = &self.cx;
        let txlist = self.current_task_info().txlist();
        list::init_list_head(cx, txlist).await;

        cx.mutex_lock(mtx).await;
        self.set_in_transfer(Some(ep));
        let steal_locked = !self.injected(Injection::StealWithoutLock);
        let flags = if steal_locked {
            self.ep_spin_lock(lock).await
        } else {
            0
        };
        list::list_splice(cx, rdllist, txlist).await;
        list::init_list_head(cx, rdllist).await;
        cx.store(ovflist, NULL).await;
        cx.note(|| "ep_send_events: steal the ready list; ep->ovflist = NULL".to_string());
        if steal_locked {
            self.ep_spin_unlock(lock, flags).await;
        }

        let (eventcnt, error) = self
            .ep_send_events_loop(txlist, rdllist, events, maxevents)
            .await;
        Counters::bump(&self.counters.events_delivered, eventcnt as u64);

        // errxit:
        let flags = self.ep_spin_lock(lock).await;
        self.ep_requeue_ovflist(ovflist, rdllist).await;
        cx.store(ovflist, EP_UNACTIVE_PTR).await;
        list::list_splice(cx, txlist, rdllist).await;
        let mut pwake = false;
        if !list::list_empty(cx, rdllist).await {
            if !self.injected(Injection::NoReinjectWakeup) {
                self.wake_ep_wq_locked(wq).await;
            }
            pwake = cx.waitqueue_active(poll_wait).await;
        }
        self.ep_spin_unlock(lock, flags).await;
        self.set_in_transfer(None);
        cx.mutex_unlock(mtx).await;
        self.debug_check_ready_lists();
        if pwake {
            self.ep_poll_safewake(poll_wait).await;
        }
        if eventcnt == 0 {
            error
        } else {
            Ok(eventcnt)
        }
    }

    /// The delivery loop of `ep_send_events` (no lock but `ep->mtx`): the number of
    /// events copied out, and the error to return if that is 0 (`-EFAULT` if the loop
    /// ended on a fault, else 0).
    async fn ep_send_events_loop(
        &self,
        txlist: ListHead,
        rdllist: ListHead,
        events: &mut UserEvents,
        maxevents: usize,
    ) -> (usize, SysResult<usize>) {
        let cx = &self.cx;
        let mut eventcnt = 0;
        while eventcnt < maxevents && !list::list_empty(cx, txlist).await {
            let first = cx.load(txlist.next_word()).await;
            let Some(link) = ListHead::from_address(first) else {
                cx.report(
                    ReportKind::ListCorruption,
                    format!("txlist.next is {}", list::describe_pointer(first)),
                    vec![],
                );
                return (eventcnt, Err(Errno::EFAULT));
            };
            let Some(epi) = self.epi_of_rdllink(link) else {
                return (eventcnt, Err(Errno::EFAULT));
            };
            let Some((file, events_word, data)) =
                self.with_epi(epi, |e| (e.file, e.events_word(), e.data))
            else {
                return (eventcnt, Err(Errno::EFAULT));
            };
            list::list_del_init(cx, link).await;
            let polled = self.vfs_poll(file, PollTable::Null).await;
            let revents = polled & cx.load(events_word).await as u32;
            if revents != 0 {
                let event = EpollEvent {
                    events: revents,
                    data,
                };
                if events.put_user(cx, eventcnt, event).await.is_err() {
                    cx.note(|| {
                        format!(
                            "  ep_send_events: __put_user faulted: epitem{} is off every list",
                            self.epitem_id(epi)
                        )
                    });
                    return (eventcnt, Err(Errno::EFAULT));
                }
                cx.note(|| {
                    format!(
                        "  ep_send_events: deliver epitem{} ({})",
                        self.epitem_id(epi),
                        crate::poll::mask_to_string(revents)
                    )
                });
                // Read again: __put_user may have slept since the mask was read.
                let interest = cx.load(events_word).await as u32;
                if interest & EPOLLONESHOT != 0 {
                    cx.store(events_word, (interest & EP_PRIVATE_BITS) as u64)
                        .await;
                }
                eventcnt += 1;
            }
            // Only the transfer may touch rdllist now: ctl is locked out by mtx, the
            // callback diverts to ovflist. So: no ep->lock.
            let interest = cx.load(events_word).await as u32;
            if interest & EPOLLET == 0 && revents & interest != 0 {
                list::list_add_tail(cx, link, rdllist).await;
            }
        }
        (eventcnt, Ok(0))
    }

    /// The `ovflist` walk at the end of `ep_send_events` (under `ep->lock`): for each
    /// chained item, newest first, append it to `rdllist` unless it is linked (still
    /// unreached on `txlist`, or re-queued as level-triggered) or disabled; then, as the
    /// loop's increment, follow `next` and reset it to EP_UNACTIVE_PTR.
    async fn ep_requeue_ovflist(&self, ovflist: Word, rdllist: ListHead) {
        let cx = &self.cx;
        let mut nepi = cx.load(ovflist).await;
        while nepi != NULL {
            let Some(epi) = self.epi_from_pointer(nepi) else {
                return;
            };
            let Some((link, events_word, next_word)) =
                self.with_epi(epi, |e| (e.rdllink(), e.events_word(), e.next_word()))
            else {
                return;
            };
            let linked = self.ep_is_linked(link).await;
            let events = cx.load(events_word).await as u32;
            if !linked && events & !EP_PRIVATE_BITS != 0 {
                list::list_add_tail(cx, link, rdllist).await;
                cx.note(|| {
                    format!(
                        "  ep_send_events: epitem{} fired during the transfer: appended",
                        self.epitem_id(epi)
                    )
                });
            }
            // The loop's increment: nepi = epi->next, epi->next = EP_UNACTIVE_PTR.
            nepi = cx.load(next_word).await;
            cx.store(next_word, EP_UNACTIVE_PTR).await;
        }
    }

    /// `ep_poll(ep, events, maxevents, timeout)` — 2.6.22: as the seed's, except that the
    /// wait entry is WQ_FLAG_EXCLUSIVE and still added at the head (`__add_wait_queue`),
    /// so each `__wake_up_locked(&ep->wq)` wakes only the most recent sleeper.
    pub(crate) async fn ep_poll_2_6_22(
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
            // retry:
            let mut flags = self.ep_spin_lock(lock).await;
            let mut res: SysResult<usize> = Ok(0);
            if list::list_empty(cx, rdllist).await {
                let wait = cx.new_wait_entry(WakeFunction::Default(task), true);
                cx.add_wait_queue_locked(wq, wait).await;
                self.set_in_ep_poll(task, Some(ep));
                loop {
                    cx.set_current_state(TaskState::Interruptible).await;
                    if !list::list_empty(cx, rdllist).await || jtimeout == 0 {
                        break;
                    }
                    if cx.signal_pending() {
                        res = Err(Errno::EINTR);
                        break;
                    }
                    self.ep_spin_unlock(lock, flags).await;
                    cx.note(|| "ep_poll: nothing ready, sleep on ep->wq (exclusive)".to_string());
                    // As in the seed port: MAX_SCHEDULE_TIMEOUT is schedule() without a timer.
                    jtimeout = if jtimeout == MAX_SCHEDULE_TIMEOUT {
                        cx.schedule().await;
                        MAX_SCHEDULE_TIMEOUT
                    } else {
                        cx.schedule_timeout(jtimeout).await
                    };
                    flags = self.ep_spin_lock(lock).await;
                }
                self.set_in_ep_poll(task, None);
                cx.remove_wait_queue_locked(wq, wait).await;
                cx.free_wait_entry(wait);
                cx.set_current_state(TaskState::Running).await;
            }
            let eavail = !list::list_empty(cx, rdllist).await;
            self.ep_spin_unlock(lock, flags).await;
            if res.is_err() || !eavail {
                return res;
            }
            let sent = self.ep_send_events_2_6_22(ep, events, maxevents).await;
            if sent == Ok(0) && jtimeout != 0 {
                continue;
            }
            return sent;
        }
    }
}
