//! fs/eventpoll.c at the v6.18 tag, ported function by function in the file's own order.
//!
//! **Which text.** No stored copy of the file at the tag exists (docs/eventpoll-history.md
//! §3.1). The port follows `gregkh/linux` `fs/eventpoll.c` @ 0229c2f26289 (a few fixes
//! after v6.18) with every post-6.18 change the history doc lists undone:
//! - 07712db80857 (RCU-deferred `ep_free`, the `rcu` member): v6.18 frees the eventpoll
//!   at once — here `ep_free_6_18` frees it when the last reference goes;
//! - fdcfce93073d (loop marker `EP_MAX_NESTS + 1`): v6.18 marks a loop with `INT_MAX`
//!   and adds one to what the recursion returns, wrapping (the kernel builds with
//!   `-fno-strict-overflow`), and truncates the cached depth to a `u8` — ported as such
//!   in `ep_loop_check_proc`;
//! - the 6.19 `FD_PREPARE` conversion of `do_epoll_create`: v6.18 reserves the
//!   descriptor with `get_unused_fd_flags`, then makes the file — see
//!   `do_epoll_create`;
//! - `hlist_is_singular_node` / `kzalloc_obj`: spelling only.
//!
//! v6.18's `ep->lock` is a **spinlock** (0c43094f8cc9, "eventpoll: Replace rwlock with
//! spinlock", merged for 6.18): `ep_poll_callback` takes it with interrupts saved and
//! appends with a plain `list_add_tail`; there is no `list_add_tail_lockless` /
//! `chain_epi_lockless` and no cmpxchg/xchg in the file. Lock order (the LOCKING
//! comment): `epnested_mutex` → `ep->mtx` (outermost set first when sets nest) →
//! `ep->lock`; a watched file's wait-queue head lock is held around `ep_poll_callback`,
//! so `ep->lock` nests inside every watched head's lock; `file->f_lock` protects a
//! file's epitem list and `epi->dying`.
//!
//! Shared words (everything some path touches without its lock): `ep->rdllist`
//! (`list_empty_careful` in `ep_events_available`), `ep->ovflist` (READ_ONCE/WRITE_ONCE),
//! `ep->refcount` (atomic), `epi->rdllink`, `epi->event.events` (stored without
//! `ep->lock` by `ep_modify`, ordered by its `smp_mb`), `epi->next`, and an `ep_poll`
//! waiter's `wait.entry` (the `list_del_init_careful` / `list_empty_careful` pair).
//! `ep->mtx` serialises everything else: the rb-tree (an ordered map, as in the seed
//! port), `epi->event.data`, `pwqlist`.
//!
//! Not modelled, each said where it would act:
//! - busy polling (CONFIG_NET_RX_BUSY_POLL: `ep_busy_loop`, `ep_set_busy_poll_napi_id`,
//!   the EPIOCSPARAMS/EPIOCGPARAMS ioctl, NAPI irq suspension): `ep_busy_loop` returns
//!   false, as with the option off;
//! - io_uring (`epoll_sendevents`, `EPOLL_URING_WAKE`, `do_epoll_ctl`'s non-blocking
//!   trylock path): no caller exists in the model;
//! - wakeup sources (EPOLLWAKEUP): every task lacks CAP_BLOCK_SUSPEND, so
//!   `ep_take_care_of_epollwakeup` strips the bit and no wakeup source is ever made;
//! - POLLFREE: sent only by files the model does not have (signalfd, binder, …), so
//!   `pwq->whead` never changes after `ep_ptable_queue_proc` and the
//!   `smp_store_release`/`smp_load_acquire` pair on it has nothing to order (the read in
//!   `ep_remove_wait_queue` is named there);
//! - RCU: `kfree_rcu` frees at once; the RCU walks (`reverse_path_check_proc`,
//!   `ep_get_upwards_depth_proc`) take no step, so nothing can be freed under them;
//! - `epitems_head` (the per-file head of non-epoll files and `tfile_check_list`'s
//!   links): the list of a file's epitems is [`crate::objects::File::f_ep_links`] and the
//!   check list a vector of files; the head's allocation can fail (ENOMEM) as in
//!   `attach_epitem`;
//! - the `sync` hint of `wake_up_sync` (as in the seed port), lockdep subclasses
//!   (the machine's lockdep does not report same-class nesting), `cond_resched`.

use sim::list::{self, ListHead};
use sim::waitq::{WaitEntryId, WakeFunction, WakeMode};
use sim::{Granularity, LockKind, Name, TaskState, WaitQueueId, Word};

use crate::errno::{Errno, SysResult};
use crate::kernel::{Counters, Kernel, CALLBACK_EP_AUTOREMOVE};
use crate::objects::{
    EpFields, Epitem, EpitemId, EppollEntry, EventPoll, EventPollId, FileId, FileKind, RbKey,
};
use crate::poll::{
    EpollEvent, PollTable, EPOLLERR, EPOLLET, EPOLLEXCLUSIVE, EPOLLHUP, EPOLLIN, EPOLLONESHOT,
    EPOLLOUT, EPOLLRDNORM, EPOLLWAKEUP, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD,
};
use crate::user::{UserBufferSpec, UserEvents};

/// The file-scope state (`max_user_watches`, `loop_check_gen`, `path_count`, …) is
/// defined with the other objects, since the kernel value holds it.
pub use crate::objects::{
    EventpollGlobals, EP_ITEM_COST, LOWMEM_BYTES, MAX_USER_WATCHES_DEFAULT, PATH_ARR_SIZE,
};

// ---- constants and file-scope state --------------------------------------------------------

/// `EP_PRIVATE_BITS`: an item whose mask has no other bit is disabled.
pub const EP_PRIVATE_BITS: u32 = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
/// `EPOLLINOUT_BITS`.
pub const EPOLLINOUT_BITS: u32 = EPOLLIN | EPOLLOUT;
/// `EPOLLEXCLUSIVE_OK_BITS`: the only bits an EPOLLEXCLUSIVE item may ask for.
pub const EPOLLEXCLUSIVE_OK_BITS: u32 =
    EPOLLINOUT_BITS | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/// `EP_MAX_NESTS`.
pub const EP_MAX_NESTS: i32 = 4;
/// `EP_UNACTIVE_PTR` (`(void *) -1L`), as stored in `ovflist` and `epi->next`.
pub const EP_UNACTIVE_PTR: u64 = u64::MAX;
/// `EPOLL_CLOEXEC` (= `O_CLOEXEC`).
pub const EPOLL_CLOEXEC: i32 = 0o2000000;
const PATH_LIMITS: [u32; PATH_ARR_SIZE] = [1000, 500, 100, 50, 10];

/// Shared words of a 6.18 epitem: `rdllink` (next, prev), `event.events`, `next` (the
/// `ovflist` chain). The offsets of the first three are those of
/// [`crate::objects::EPITEM_FIELDS`], so [`Epitem::rdllink`] and [`Epitem::events_word`]
/// serve both layouts.
pub const EPITEM_FIELDS: &[&str] = &["rdllink.next", "rdllink.prev", "event.events", "next"];
/// Shared words of a 6.18 eventpoll: `rdllist` (next, prev), `ovflist`, `refcount`.
const EVENTPOLL_FIELDS: &[&str] = &["rdllist.next", "rdllist.prev", "ovflist", "refcount"];

/// `epi->next`.
fn next_word(epi: &Epitem) -> Word {
    epi.words.offset(3)
}

/// `ep->ovflist`.
fn ovflist_word(rdllist: ListHead) -> Word {
    rdllist.0.offset(2)
}

/// `ep->refcount`.
fn refcount_word(rdllist: ListHead) -> Word {
    rdllist.0.offset(3)
}

/// A timeout as `ep_poll` receives it: `None` waits forever, `Some(0)` is the zero
/// timespec (do not block), `Some(t)` an absolute virtual-time deadline in ns.
pub type Deadline = Option<u64>;

/// The wake functions found on `ep->wq`: only `ep_poll`'s autoremoving entries (a
/// table of its own, so that waking `ep->wq` from inside `ep_poll_callback` is no
/// recursion into the callbacks of watched files).
struct EpWaiters<'a, G: Granularity>(&'a Kernel<G>);

impl<G: Granularity> sim::WakeCallbacks<G> for EpWaiters<'_, G> {
    async fn call(
        &self,
        _cx: &sim::Cx<G>,
        entry: WaitEntryId,
        kind: u32,
        data: u64,
        mode: WakeMode,
        _key: u64,
    ) -> bool {
        match kind {
            CALLBACK_EP_AUTOREMOVE => self.0.ep_autoremove_wake_function(entry, data, mode).await,
            _ => false,
        }
    }
}

/// `struct timespec` as `epoll_pwait2` reads it from user memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}

impl<G: Granularity> Kernel<G> {
    /// Sets `fs.epoll.max_user_watches` (a harness writing the sysctl before the
    /// program starts).
    pub fn set_max_user_watches(&self, watches: u64) {
        self.modern.borrow_mut().max_user_watches = watches;
    }

    fn ep_fields_6_18(&self, ep: EventPollId) -> Option<EpFields> {
        self.with_ep(ep, EventPoll::fields)
    }

    /// `list_file(file)`: put the file on `tfile_check_list` unless it is there.
    fn list_file(&self, file: FileId) {
        let mut globals = self.modern.borrow_mut();
        if !globals.tfile_check_list.contains(&file) {
            globals.tfile_check_list.insert(0, file);
        }
    }

    /// `ep_events_available(ep)`: lockless — the ready list not empty
    /// (`list_empty_careful`: next, then prev) or a scan running (`ovflist` read once).
    async fn ep_events_available(&self, rdllist: ListHead) -> bool {
        let cx = &self.cx;
        let next = cx.load(rdllist.next_word()).await;
        let empty = next == rdllist.address() && next == cx.read_once(rdllist.prev_word()).await;
        !empty || cx.read_once(ovflist_word(rdllist)).await != EP_UNACTIVE_PTR
    }

    // ---- busy poll: not modelled (see the module comment) -------------------------------------

    // ---- ep_poll_safewake ------------------------------------------------------------------------

    /// `ep_poll_safewake(ep, epi, pollflags)`: `wake_up_poll(&ep->poll_wait, EPOLLIN |
    /// pollflags)` — since 5.x a plain keyed wake; the lockdep variant only annotates the
    /// nesting depth. The depth is bounded by the loop check (EP_MAX_NESTS). Nested epoll
    /// is the wake path's one recursion: boxed here only.
    async fn ep_poll_safewake_6_18(&self, poll_wait: WaitQueueId, pollflags: u32) {
        self.cx
            .note(|| "  ep_poll_safewake: wake_up_poll(&ep->poll_wait, EPOLLIN)".to_string());
        let wake: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>> =
            Box::pin(self.cx.wake_up_with(
                self,
                poll_wait,
                WakeMode::All,
                1,
                u64::from(EPOLLIN | pollflags),
            ));
        wake.await;
    }

    // ---- unhooking ---------------------------------------------------------------------------------

    /// `ep_remove_wait_queue(pwq)`: `whead = smp_load_acquire(&pwq->whead)`, then
    /// `remove_wait_queue`. `whead` is never cleared here (no file sends POLLFREE), so the
    /// acquire reads the value `ep_ptable_queue_proc` stored.
    async fn ep_remove_wait_queue(&self, entry: EppollEntry) {
        self.cx.remove_wait_queue(entry.whead, entry.wait).await;
        self.cx.free_wait_entry(entry.wait);
    }

    /// `ep_unregister_pollwait(ep, epi)` — caller holds `ep->mtx`. `pwqlist` is a
    /// singly linked list built by head insertion: newest entry first.
    async fn ep_unregister_pollwait_6_18(&self, epi: EpitemId) {
        loop {
            let newest = self.with_epi_mut(epi, |e| e.pwqlist.pop()).flatten();
            let Some(pwq) = newest else {
                break;
            };
            let entry = self.objects.borrow().pwqs.get(pwq).ok().copied();
            if let Some(entry) = entry {
                self.ep_remove_wait_queue(entry).await;
            }
            let step = self.cx.step();
            if let Err(error) = self.objects.borrow_mut().pwqs.free(pwq, step) {
                self.report_stale("eppoll_entry", error);
            }
        }
    }

    // ---- EPOLLWAKEUP: not modelled (the bit is stripped in epoll_ctl) --------------------------

    // ---- the scan ----------------------------------------------------------------------------------

    /// `ep_start_scan(ep, txlist)` — caller holds `ep->mtx`: under `ep->lock` (irq) steal
    /// the ready list and publish `ovflist = NULL`, so callbacks chain there meanwhile.
    async fn ep_start_scan(&self, ep: EventPollId, txlist: ListHead) {
        let Some((lock, _, _, _, rdllist)) = self.ep_fields_6_18(ep) else {
            return;
        };
        let cx = &self.cx;
        cx.spin_lock_irq(lock).await;
        list::list_splice_init(cx, rdllist, txlist).await;
        cx.write_once(ovflist_word(rdllist), 0).await;
        cx.note(|| "ep_start_scan: steal rdllist, ovflist = NULL".to_string());
        cx.spin_unlock_irq(lock).await;
    }

    /// `ep_done_scan(ep, txlist)`: under `ep->lock`, walk the `ovflist` chain (LIFO),
    /// resetting each `next` to EP_UNACTIVE_PTR and head-inserting every item not
    /// already linked (which restores FIFO order); publish `ovflist = EP_UNACTIVE_PTR`;
    /// splice what is left of `txlist` at the head; wake `ep->wq` if anything is ready.
    async fn ep_done_scan(&self, ep: EventPollId, txlist: ListHead) {
        let Some((lock, _, wq, _, rdllist)) = self.ep_fields_6_18(ep) else {
            return;
        };
        let cx = &self.cx;
        cx.spin_lock_irq(lock).await;
        let mut nepi = cx.read_once(ovflist_word(rdllist)).await;
        while nepi != 0 {
            let Some(link) = ListHead::from_address(nepi) else {
                cx.report(
                    sim::ReportKind::ListCorruption,
                    format!("ovflist chain holds {}", list::describe_pointer(nepi)),
                    vec![],
                );
                break;
            };
            let Some(epi) = self.epi_of_rdllink(link) else {
                break;
            };
            let Some(next) = self.with_epi(epi, next_word) else {
                break;
            };
            nepi = cx.load(next).await;
            cx.store(next, EP_UNACTIVE_PTR).await;
            if !self.ep_is_linked(link).await {
                list::list_add(cx, link, rdllist).await;
                cx.note(|| {
                    format!(
                        "  ep_done_scan: epitem{} from ovflist to the head of rdllist",
                        self.epitem_id(epi)
                    )
                });
            }
        }
        cx.write_once(ovflist_word(rdllist), EP_UNACTIVE_PTR).await;
        list::list_splice(cx, txlist, rdllist).await;
        if !list::list_empty(cx, rdllist).await && cx.waitqueue_active(wq).await {
            self.ep_wake_wq(wq).await;
        }
        cx.spin_unlock_irq(lock).await;
    }

    /// `wake_up(&ep->wq)`: one exclusive `ep_poll` waiter, under `ep->wq`'s own lock
    /// (6.18's `ep->wq` is no longer protected by `ep->lock`); the caller holds
    /// `ep->lock`, which every adder of `ep->wq` holds too.
    async fn ep_wake_wq(&self, wq: WaitQueueId) {
        self.cx
            .note(|| "  wake_up(&ep->wq): one epoll_wait sleeper".to_string());
        self.cx
            .wake_up_with(&EpWaiters(self), wq, WakeMode::All, 1, 0)
            .await;
    }

    // ---- reference counting and freeing ---------------------------------------------------------

    /// `ep_get(ep)`: `refcount_inc(&ep->refcount)`.
    async fn ep_get(&self, rdllist: ListHead) {
        self.cx.atomic_add_return(refcount_word(rdllist), 1).await;
    }

    /// `ep_refcount_dec_and_test(ep)`: true when the eventpoll can be disposed (the file
    /// warns if the tree is not empty then).
    async fn ep_refcount_dec_and_test(&self, ep: EventPollId) -> bool {
        let Some((.., rdllist)) = self.ep_fields_6_18(ep) else {
            return false;
        };
        if !self.cx.atomic_dec_and_test(refcount_word(rdllist)).await {
            return false;
        }
        let empty = self.with_ep(ep, |e| e.rbr.is_empty()).unwrap_or(true);
        if !empty {
            self.cx.report(
                sim::ReportKind::Leak,
                "ep_refcount_dec_and_test: last reference dropped with items in the tree"
                    .to_string(),
                vec![],
            );
        }
        true
    }

    /// `ep_free(ep)`: v6.18 `kfree`s the eventpoll at once (the RCU deferral came after
    /// the tag). Its shared words go with it.
    async fn ep_free_6_18(&self, ep: EventPollId) {
        let step = self.cx.step();
        let freed = self.objects.borrow_mut().eventpolls.free(ep, step);
        match freed {
            Ok(e) => {
                self.cx.note(|| format!("ep_free: {}", e.file_label));
                self.cx.free_words(e.rdllist.0);
            }
            Err(error) => self.report_stale("eventpoll", error),
        }
    }

    /// `__ep_remove(ep, epi, force)` — caller holds `ep->mtx`. Unhooks the wait queues,
    /// takes the item off its file's list under `f_lock` (unless it is dying and this is
    /// not the forced removal of `eventpoll_release_file`), erases it from the tree,
    /// unlinks it from the ready list under `ep->lock`, frees it. True when this dropped a
    /// reference that may have been the last (the caller decides whether to free).
    async fn __ep_remove(&self, ep: EventPollId, epi: EpitemId, force: bool) -> bool {
        let Some((lock, ..)) = self.ep_fields_6_18(ep) else {
            return false;
        };
        let Some((file, file_id, fd, link)) =
            self.with_epi(epi, |e| (e.file, e.file_id, e.fd, e.rdllink()))
        else {
            return false;
        };
        self.cx
            .note(|| format!("__ep_remove: epitem{}", self.epitem_id(epi)));
        self.ep_unregister_pollwait_6_18(epi).await;

        let Some(f_lock) = self.with_file(file, |f| f.f_ep_lock) else {
            return false;
        };
        self.cx.spin_lock(f_lock).await;
        let dying = self.with_epi(epi, |e| e.dying).unwrap_or(false);
        if dying && !force {
            self.cx.spin_unlock(f_lock).await;
            self.cx.note(|| {
                format!(
                    "  epitem{} is dying: eventpoll_release_file removes it",
                    self.epitem_id(epi)
                )
            });
            return false;
        }
        // hlist_del_rcu(&epi->fllink); WRITE_ONCE(file->f_ep, NULL) if it was the last.
        self.with_file_mut(file, |f| f.f_ep_links.retain(|e| *e != epi));
        self.with_epi_mut(epi, |e| e.fllink_linked = false);
        self.cx.spin_unlock(f_lock).await;
        // spin_unlock(&file->f_lock) goes through the file pointer: the unlock's store
        // lands in the struct file. Once f_ep is NULL a concurrent last __fput no longer
        // waits for this removal (`eventpoll_release` sees nothing to do) and frees the
        // file at once (6.18's filp cache may hand it out again at once:
        // SLAB_TYPESAFE_BY_RCU), so the unlock can write a freed struct file — finding F4
        // (docs/findings.md), fixed after the tag. The access is checked where the unlock
        // was performed.
        let _ = self.with_file(file, |_| ());

        // rb_erase_cached(&epi->rbn, &ep->rbr): under ep->mtx.
        self.with_ep_mut(ep, |e| e.rbr.remove(&RbKey::new(file_id, fd)));
        self.with_epi_mut(epi, |e| e.rb_linked = false);

        self.cx.spin_lock_irq(lock).await;
        if self.ep_is_linked(link).await {
            list::list_del_init(&self.cx, link).await;
        }
        self.cx.spin_unlock_irq(lock).await;

        // kfree_rcu(epi, rcu): freed at once (see the module comment).
        self.free_epitem(epi);
        let mut globals = self.modern.borrow_mut();
        globals.epoll_watches = globals.epoll_watches.saturating_sub(1);
        true
    }

    /// `ep_remove_safe(ep, epi)`: for callers that own another reference to `ep`, so
    /// the count cannot reach zero here (the file warns if it does).
    async fn ep_remove_safe(&self, ep: EventPollId, epi: EpitemId) {
        if self.__ep_remove(ep, epi, false).await && self.ep_refcount_dec_and_test(ep).await {
            self.cx.report(
                sim::ReportKind::UseAfterFree,
                "ep_remove_safe dropped the last reference to the eventpoll".to_string(),
                vec![],
            );
        }
    }

    /// `ep_clear_and_put(ep)`: the last close of an epoll file. Wake its pollers; under
    /// `ep->mtx` unhook every item, then remove every item that is not dying (a racing
    /// `eventpoll_release_file` removes those); drop the file's reference and free the
    /// eventpoll if it was the last.
    async fn ep_clear_and_put(&self, ep: EventPollId) {
        let Some((_, mtx, _, poll_wait, _)) = self.ep_fields_6_18(ep) else {
            return;
        };
        self.cx.note(|| {
            let label = self
                .with_ep(ep, |e| e.file_label.clone())
                .unwrap_or_default();
            format!("ep_clear_and_put: {label}")
        });
        if self.cx.waitqueue_active(poll_wait).await {
            self.ep_poll_safewake_6_18(poll_wait, 0).await;
        }
        self.cx.mutex_lock(mtx).await;
        let items: Vec<EpitemId> = self
            .with_ep(ep, |e| e.rbr.values().copied().collect())
            .unwrap_or_default();
        for &epi in &items {
            self.ep_unregister_pollwait_6_18(epi).await;
        }
        for &epi in &items {
            if self.with_epi(epi, |e| e.rb_linked) == Some(true) {
                self.ep_remove_safe(ep, epi).await;
            }
        }
        self.cx.mutex_unlock(mtx).await;
        if self.ep_refcount_dec_and_test(ep).await {
            self.ep_free_6_18(ep).await;
        }
    }

    /// `ep_eventpoll_release(inode, file)`: `.release` of epoll files.
    pub async fn ep_eventpoll_release(&self, ep: EventPollId) {
        self.ep_clear_and_put(ep).await;
    }

    // ---- poll on an epoll file ------------------------------------------------------------------------

    /// `__ep_eventpoll_poll(file, wait, depth)`: hook `ep->poll_wait`, then under
    /// `ep->mtx` scan the ready list, re-polling each item: the first really ready one
    /// makes the set readable; items that are not are dropped from the list. The scan's
    /// `txlist` is on this frame's stack (two words allocated for the call).
    async fn __ep_eventpoll_poll(&self, ep: EventPollId, pt: PollTable, depth: i32) -> u32 {
        let Some((_, mtx, _, poll_wait, _)) = self.ep_fields_6_18(ep) else {
            return 0;
        };
        self.poll_wait(poll_wait, pt).await;
        let cx = &self.cx;
        let task_index = cx.current().map_or(0, |t| t.0 as u64);
        let txlist = ListHead(cx.alloc_words("stack", task_index, &["txlist.next", "txlist.prev"]));
        list::init_list_head_private(cx, txlist);
        cx.mutex_lock(mtx).await;
        self.ep_start_scan(ep, txlist).await;
        let mut res = 0;
        while !list::list_empty(cx, txlist).await {
            let first = cx.load(txlist.next_word()).await;
            let Some(link) = ListHead::from_address(first) else {
                break;
            };
            let Some(epi) = self.epi_of_rdllink(link) else {
                break;
            };
            let polled: std::pin::Pin<Box<dyn std::future::Future<Output = u32> + '_>> =
                Box::pin(self.ep_item_poll(epi, PollTable::Null, depth + 1));
            if polled.await != 0 {
                res = EPOLLIN | EPOLLRDNORM;
                break;
            }
            list::list_del_init(cx, link).await;
        }
        self.ep_done_scan(ep, txlist).await;
        cx.mutex_unlock(mtx).await;
        cx.free_words(txlist.0);
        self.debug_check_ready_lists();
        res
    }

    /// `epi_fget(epi)` + `fput`: a reference on the watched file unless its count is
    /// already zero (it is being closed: "poll didn't happen"). Simplified: the count is
    /// read but not raised. The file cannot be freed meanwhile — its `__fput` must first
    /// get through `eventpoll_release_file`, which needs the `ep->mtx` every caller holds
    /// — and the kernel's matching `fput` defers any final `__fput` to task work, which
    /// the model does not have.
    async fn epi_fget(&self, file: FileId) -> bool {
        let Some(f_count) = self.with_file(file, |f| f.f_count) else {
            return false;
        };
        self.cx.load(f_count).await != 0
    }

    /// `ep_item_poll(epi, pt, depth)`: poll the watched file (an epoll file through
    /// `__ep_eventpoll_poll` at `depth`), masked with the item's events.
    async fn ep_item_poll(&self, epi: EpitemId, pt: PollTable, depth: i32) -> u32 {
        let Some((file, events_word)) = self.with_epi(epi, |e| (e.file, e.events_word())) else {
            return 0;
        };
        if !self.epi_fget(file).await {
            return 0;
        }
        let res = match self.file_epoll(file) {
            None => self.vfs_poll(file, pt).await,
            Some(tep) => self.__ep_eventpoll_poll(tep, pt, depth).await,
        };
        res & self.cx.load(events_word).await as u32
    }

    /// `ep_eventpoll_poll(file, wait)`: `f_op->poll` of epoll files.
    pub async fn ep_eventpoll_poll_6_18(&self, ep: EventPollId, pt: PollTable) -> u32 {
        self.__ep_eventpoll_poll(ep, pt, 0).await
    }

    // ---- release of watched files -----------------------------------------------------------------

    /// `eventpoll_release_file(file)`: the last close of a watched file. Under `f_lock`
    /// mark the first item dying (so a concurrent `ep_clear_and_put` leaves it alone),
    /// drop `f_lock`, remove it under its set's `ep->mtx`, and free the set if that was
    /// its last reference (after unlocking: 8c2e52ebbe88); again until none is left.
    pub async fn eventpoll_release_file_6_18(&self, file: FileId) {
        let Some(f_lock) = self.with_file(file, |f| f.f_ep_lock) else {
            return;
        };
        loop {
            self.cx.spin_lock(f_lock).await;
            let first = self
                .with_file(file, |f| f.f_ep_links.first().copied())
                .flatten();
            let Some(epi) = first else {
                self.cx.spin_unlock(f_lock).await;
                return;
            };
            self.with_epi_mut(epi, |e| e.dying = true);
            self.cx.spin_unlock(f_lock).await;
            let Some(ep) = self.with_epi(epi, |e| e.ep) else {
                return;
            };
            let Some((_, mtx, ..)) = self.ep_fields_6_18(ep) else {
                return;
            };
            self.cx.note(|| {
                format!(
                    "eventpoll_release_file: epitem{} dying, remove it from its set",
                    self.epitem_id(epi)
                )
            });
            self.cx.mutex_lock(mtx).await;
            let dispose = self.__ep_remove(ep, epi, true).await;
            self.cx.mutex_unlock(mtx).await;
            if dispose && self.ep_refcount_dec_and_test(ep).await {
                self.ep_free_6_18(ep).await;
            }
        }
    }

    // ---- creation ------------------------------------------------------------------------------------

    /// `ep_alloc()`: `ep->mtx`, the `ep->lock` spinlock, both wait queues, the empty
    /// ready list, `ovflist = EP_UNACTIVE_PTR`, one reference.
    pub(crate) fn ep_alloc_6_18(&self, file_label: &str) -> SysResult<EventPollId> {
        if self.cx.alloc_fails("eventpoll") {
            return Err(Errno::ENOMEM);
        }
        let id = self.objects.borrow_mut().next_id();
        let cx = &self.cx;
        let mtx = cx.new_lock(LockKind::Mutex, "&ep->mtx", Name::new("ep", id, "->mtx"));
        let lock = cx.new_lock(LockKind::Spin, "&ep->lock", Name::new("ep", id, "->lock"));
        let wq = cx.init_waitqueue_head("&ep->wq.lock", Name::new("ep", id, "->wq"));
        let poll_wait =
            cx.init_waitqueue_head("&ep->poll_wait.lock", Name::new("ep", id, "->poll_wait"));
        let words = cx.alloc_words("ep", id, EVENTPOLL_FIELDS);
        let rdllist = ListHead(words);
        list::init_list_head_private(cx, rdllist);
        let mem = &cx.state().mem;
        mem.store_sc(ovflist_word(rdllist), EP_UNACTIVE_PTR);
        mem.store_sc(refcount_word(rdllist), 1);
        let step = cx.step();
        let ep = self.objects.borrow_mut().eventpolls.alloc(
            EventPoll {
                id,
                lock,
                sem: mtx,
                wq,
                poll_wait,
                rdllist,
                ovflist: Some(ovflist_word(rdllist)),
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

    /// `ep_find(ep, file, fd)` — caller holds `ep->mtx`: a tree lookup, no reference.
    fn ep_find_6_18(&self, ep: EventPollId, file: FileId, fd: i32) -> Option<EpitemId> {
        let file_id = self.with_file(file, |f| f.id)?;
        self.with_ep(ep, |e| e.rbr.get(&RbKey::new(file_id, fd)).copied())
            .flatten()
    }

    // ---- the wake-up callback ----------------------------------------------------------------------

    /// `ep_poll_callback(wait, mode, sync, key)`: runs in the waker's `wake_up` with the
    /// watched head's lock held, perhaps in interrupt context. Under `ep->lock`
    /// (irqsave): a disabled item is ignored; **a keyed wake whose key does not intersect
    /// the item's events is ignored**; during a scan the item is chained on `ovflist`
    /// (READ_ONCE/WRITE_ONCE, under the lock) unless already chained, otherwise appended
    /// to `rdllist` unless linked; then one `ep_poll` waiter is woken, and the epoll
    /// fd's pollers after the unlock. The return value ends an exclusive walk of the
    /// waker's `__wake_up_common`: an EPOLLEXCLUSIVE item counts as woken only if the
    /// key's direction is one it asked for (or the key is empty) and a waiter was there.
    pub async fn ep_poll_callback_6_18(&self, pwq: crate::objects::PwqId, key: u32) -> bool {
        Counters::bump(&self.counters.callbacks, 1);
        let Some(epi) = self.pwq_base(pwq) else {
            return false;
        };
        let Some((link, events_word, next, ep)) =
            self.with_epi(epi, |e| (e.rdllink(), e.events_word(), next_word(e), e.ep))
        else {
            return false;
        };
        let Some((lock, _, wq, poll_wait, rdllist)) = self.ep_fields_6_18(ep) else {
            return false;
        };
        let cx = &self.cx;
        let pollflags = key;
        cx.note(|| {
            format!(
                "ep_poll_callback: epitem{} (key {})",
                self.epitem_id(epi),
                crate::poll::mask_to_string(pollflags)
            )
        });
        let flags = cx.spin_lock_irqsave(lock).await;
        let mut ewake = false;
        let mut pwake = false;
        let events = cx.load(events_word).await as u32;
        if events & !EP_PRIVATE_BITS == 0 {
            cx.note(|| {
                format!(
                    "  epitem{} is disabled (ONESHOT fired): ignored",
                    self.epitem_id(epi)
                )
            });
        } else if pollflags != 0 && pollflags & events == 0 {
            cx.note(|| {
                format!(
                    "  key does not intersect epitem{}'s events: ignored",
                    self.epitem_id(epi)
                )
            });
        } else {
            let ovflist = ovflist_word(rdllist);
            if cx.read_once(ovflist).await != EP_UNACTIVE_PTR {
                if cx.load(next).await == EP_UNACTIVE_PTR {
                    let head = cx.read_once(ovflist).await;
                    cx.store(next, head).await;
                    cx.write_once(ovflist, link.address()).await;
                    cx.note(|| {
                        format!(
                            "  scan running: epitem{} chained on ovflist",
                            self.epitem_id(epi)
                        )
                    });
                }
            } else if !self.ep_is_linked(link).await {
                list::list_add_tail(cx, link, rdllist).await;
                cx.note(|| {
                    format!(
                        "  list_add_tail(epitem{}.rdllink, &ep->rdllist)",
                        self.epitem_id(epi)
                    )
                });
            }
            if cx.waitqueue_active(wq).await {
                let events = cx.load(events_word).await as u32;
                if events & EPOLLEXCLUSIVE != 0 {
                    ewake = match pollflags & EPOLLINOUT_BITS {
                        EPOLLIN => events & EPOLLIN != 0,
                        EPOLLOUT => events & EPOLLOUT != 0,
                        0 => true,
                        _ => false,
                    };
                }
                self.ep_wake_wq(wq).await;
            }
            pwake = cx.waitqueue_active(poll_wait).await;
        }
        cx.spin_unlock_irqrestore(lock, flags).await;
        if pwake {
            self.ep_poll_safewake_6_18(poll_wait, 0).await;
        }
        self.debug_check_ready_lists();
        // `if (!(epi->event.events & EPOLLEXCLUSIVE)) ewake = 1;` — a read after the
        // unlock (the item cannot go: its remover must take this head's lock first).
        if cx.load(events_word).await as u32 & EPOLLEXCLUSIVE == 0 {
            ewake = true;
        }
        ewake
    }

    /// `ep_ptable_queue_proc(file, whead, pt)`: hook a new `eppoll_entry` on `whead` —
    /// exclusive at the tail for EPOLLEXCLUSIVE items, at the head otherwise — and push
    /// it on `epi->pwqlist`. An allocation failure is remembered (`epq->epi = NULL`) and
    /// makes later calls of the same insert do nothing.
    pub(crate) async fn ep_ptable_queue_proc_6_18(&self, whead: WaitQueueId, epi: EpitemId) {
        let Some((failed, events_word)) =
            self.with_epi(epi, |e| (e.pqueue_failed, e.events_word()))
        else {
            return;
        };
        if failed {
            return;
        }
        if self.cx.alloc_fails("eppoll_entry") {
            self.with_epi_mut(epi, |e| e.pqueue_failed = true);
            return;
        }
        let (pwq, wait) = self.new_eppoll_entry(epi, whead);
        let events = self.cx.load(events_word).await as u32;
        if events & EPOLLEXCLUSIVE != 0 {
            self.cx.add_wait_queue_exclusive(whead, wait).await;
        } else {
            self.cx.add_wait_queue(whead, wait).await;
        }
        self.with_epi_mut(epi, |e| e.pwqlist.push(pwq));
    }

    // ---- path limits ------------------------------------------------------------------------------------

    /// `path_count_inc(nests)`: paths of length 1 are unlimited.
    fn path_count_inc(&self, nests: usize) -> bool {
        if nests == 0 {
            return true;
        }
        let mut globals = self.modern.borrow_mut();
        globals.path_count[nests] += 1;
        globals.path_count[nests] <= PATH_LIMITS[nests]
    }

    /// `reverse_path_check_proc(refs, depth)`: count the wake-up paths from the items
    /// on `refs` up through the sets that hold them. An RCU walk: no steps.
    fn reverse_path_check_proc(&self, refs: &[EpitemId], depth: i32) -> bool {
        if depth > EP_MAX_NESTS {
            return false;
        }
        for &epi in refs {
            let Some(ep) = self.with_epi(epi, |e| e.ep) else {
                continue;
            };
            let up = self.ep_refs(ep);
            let ok = if up.is_empty() {
                self.path_count_inc(depth as usize)
            } else {
                self.reverse_path_check_proc(&up, depth + 1)
            };
            if !ok {
                return false;
            }
        }
        true
    }

    /// `ep->refs`: the items of other sets watching this set's file.
    fn ep_refs(&self, ep: EventPollId) -> Vec<EpitemId> {
        let file = self.with_ep(ep, |e| e.file).flatten();
        file.and_then(|f| self.with_file(f, |f| f.f_ep_links.to_vec()))
            .unwrap_or_default()
    }

    /// `reverse_path_check()`: every file on `tfile_check_list` within the path limits.
    fn reverse_path_check(&self) -> bool {
        let files = self.modern.borrow().tfile_check_list.clone();
        for file in files {
            self.modern.borrow_mut().path_count = [0; PATH_ARR_SIZE];
            let refs = self
                .with_file(file, |f| f.f_ep_links.to_vec())
                .unwrap_or_default();
            if !self.reverse_path_check_proc(&refs, 0) {
                return false;
            }
        }
        true
    }

    // ---- insertion --------------------------------------------------------------------------------------

    /// `attach_epitem(file, epi)`: add the item at the head of the file's epitem list
    /// under `f_lock`. A file that is not an epoll file and has no list yet needs an
    /// `epitems_head` first (ENOMEM).
    async fn attach_epitem(&self, file: FileId, epi: EpitemId) -> SysResult<()> {
        let (f_lock, is_epoll, watched) = self
            .with_file(file, |f| {
                (
                    f.f_ep_lock,
                    matches!(f.kind, FileKind::Epoll(_)),
                    !f.f_ep_links.is_empty(),
                )
            })
            .ok_or(Errno::EBADF)?;
        if !is_epoll && !watched && self.cx.alloc_fails("ep_head") {
            return Err(Errno::ENOMEM);
        }
        self.cx.spin_lock(f_lock).await;
        self.with_file_mut(file, |f| f.f_ep_links.insert(0, epi));
        self.with_epi_mut(epi, |e| e.fllink_linked = true);
        self.cx.spin_unlock(f_lock).await;
        Ok(())
    }

    /// `ep_insert(ep, event, tfile, fd, full_check)` — caller holds `ep->mtx`. ENOSPC at
    /// the watch limit; the item goes on the file's list (under the target set's
    /// `ep->mtx` if the target is an epoll file) and in the tree, takes a reference on
    /// `ep`, passes the path check (EINVAL), hooks the file's wait queues while polling it
    /// (ENOMEM), and is queued at once if the file is ready.
    async fn ep_insert_6_18(
        &self,
        ep: EventPollId,
        event: EpollEvent,
        tfile: FileId,
        fd: i32,
        full_check: bool,
    ) -> SysResult<()> {
        let (lock, _, wq, poll_wait, rdllist) = self.ep_fields_6_18(ep).ok_or(Errno::EBADF)?;
        let tep = self.file_epoll(tfile);
        {
            let mut globals = self.modern.borrow_mut();
            if globals.epoll_watches >= globals.max_user_watches {
                return Err(Errno::ENOSPC);
            }
            globals.epoll_watches += 1;
        }
        if self.cx.alloc_fails("epitem") {
            self.modern.borrow_mut().epoll_watches -= 1;
            return Err(Errno::ENOMEM);
        }
        let epi = self.alloc_epitem_6_18(ep, event, tfile, fd);
        self.cx
            .note(|| format!("ep_insert: epitem{} for fd {fd}", self.epitem_id(epi)));
        let link = self.with_epi(epi, |e| e.rdllink()).ok_or(Errno::ENOMEM)?;

        let tep_mtx = tep.and_then(|tep| self.with_ep(tep, |e| e.sem));
        if let Some(mtx) = tep_mtx {
            self.cx.mutex_lock(mtx).await;
        }
        if let Err(errno) = self.attach_epitem(tfile, epi).await {
            if let Some(mtx) = tep_mtx {
                self.cx.mutex_unlock(mtx).await;
            }
            self.free_epitem(epi);
            self.modern.borrow_mut().epoll_watches -= 1;
            return Err(errno);
        }
        if full_check && tep.is_none() {
            self.list_file(tfile);
        }
        self.ep_rbtree_insert(ep, epi);
        if let Some(mtx) = tep_mtx {
            self.cx.mutex_unlock(mtx).await;
        }
        self.ep_get(rdllist).await;

        if full_check && !self.reverse_path_check() {
            self.cx
                .note(|| "  reverse_path_check: too many wake-up paths".to_string());
            self.ep_remove_safe(ep, epi).await;
            return Err(Errno::EINVAL);
        }
        // EPOLLWAKEUP never reaches here (stripped without CAP_BLOCK_SUSPEND).

        let revents = self.ep_item_poll(epi, PollTable::Epoll(epi), 1).await;
        if self.with_epi(epi, |e| e.pqueue_failed) == Some(true) {
            self.ep_remove_safe(ep, epi).await;
            return Err(Errno::ENOMEM);
        }

        self.cx.spin_lock_irq(lock).await;
        let mut pwake = false;
        if revents != 0 && !self.ep_is_linked(link).await {
            list::list_add_tail(&self.cx, link, rdllist).await;
            self.cx.note(|| {
                format!(
                    "  ep_insert: already ready, epitem{} appended to rdllist",
                    self.epitem_id(epi)
                )
            });
            if self.cx.waitqueue_active(wq).await {
                self.ep_wake_wq(wq).await;
            }
            pwake = self.cx.waitqueue_active(poll_wait).await;
        }
        self.cx.spin_unlock_irq(lock).await;
        if pwake {
            self.ep_poll_safewake_6_18(poll_wait, 0).await;
        }
        self.debug_check_ready_lists();
        Ok(())
    }

    /// `kmem_cache_zalloc(epi_cache)` and the item's initialisation (private until
    /// attached): empty `rdllink`, the event, `next = EP_UNACTIVE_PTR`.
    fn alloc_epitem_6_18(
        &self,
        ep: EventPollId,
        event: EpollEvent,
        tfile: FileId,
        fd: i32,
    ) -> EpitemId {
        let item = self.new_epitem(EPITEM_FIELDS, ep, event, tfile, fd);
        let words = item.words;
        let cx = &self.cx;
        list::init_list_head_private(cx, item.rdllink());
        let mem = &cx.state().mem;
        mem.store_sc(item.events_word(), u64::from(event.events));
        mem.store_sc(next_word(&item), EP_UNACTIVE_PTR);
        let step = cx.step();
        let mut objects = self.objects.borrow_mut();
        let epi = objects.epitems.alloc(item, step);
        objects.rdllink_owner.insert(words, epi);
        epi
    }

    // ---- modification -------------------------------------------------------------------------------------

    /// `ep_modify(ep, epi, event)` — caller holds `ep->mtx`. The new mask is stored
    /// without `ep->lock`, then **`smp_mb()`**: either the callback sees the new mask or
    /// the poll below sees the event (it pairs with the barrier of `wq_has_sleeper` on
    /// the waker's side). Ready → queued under `ep->lock` unless linked.
    async fn ep_modify_6_18(
        &self,
        ep: EventPollId,
        epi: EpitemId,
        event: EpollEvent,
    ) -> SysResult<()> {
        let (lock, _, wq, poll_wait, rdllist) = self.ep_fields_6_18(ep).ok_or(Errno::EBADF)?;
        let (events_word, link) = self
            .with_epi(epi, |e| (e.events_word(), e.rdllink()))
            .ok_or(Errno::ENOENT)?;
        let cx = &self.cx;
        cx.store(events_word, u64::from(event.events)).await;
        self.with_epi_mut(epi, |e| e.data = event.data);
        cx.smp_mb().await;
        let mut pwake = false;
        if self.ep_item_poll(epi, PollTable::Null, 1).await != 0 {
            cx.spin_lock_irq(lock).await;
            if !self.ep_is_linked(link).await {
                list::list_add_tail(cx, link, rdllist).await;
                cx.note(|| {
                    format!(
                        "  ep_modify: ready, epitem{} appended to rdllist",
                        self.epitem_id(epi)
                    )
                });
                if cx.waitqueue_active(wq).await {
                    self.ep_wake_wq(wq).await;
                }
                pwake = cx.waitqueue_active(poll_wait).await;
            }
            cx.spin_unlock_irq(lock).await;
        }
        if pwake {
            self.ep_poll_safewake_6_18(poll_wait, 0).await;
        }
        self.debug_check_ready_lists();
        Ok(())
    }

    // ---- the transfer --------------------------------------------------------------------------------------

    /// `ep_send_events(ep, events, maxevents)`: under `ep->mtx`, steal the ready list
    /// (`ep_start_scan`) and walk it without `ep->lock` (callbacks go to `ovflist`, ctl is
    /// excluded by the mutex): unlink each item, re-poll it, copy out what is ready; a
    /// fault puts the item back at the head of the private list (EFAULT if nothing was
    /// delivered); ONESHOT disarms; a level-triggered item goes straight back to the tail
    /// of `rdllist`. `ep_done_scan` then merges the rest. (`fatal_signal_pending` is
    /// never true: the model's signals are not fatal.)
    async fn ep_send_events_6_18(
        &self,
        ep: EventPollId,
        events: &mut UserEvents,
        maxevents: usize,
    ) -> SysResult<usize> {
        let Some((_, mtx, _, _, rdllist)) = self.ep_fields_6_18(ep) else {
            return Err(Errno::EBADF);
        };
        Counters::bump(&self.counters.transfers, 1);
        let txlist = self.current_task_info().txlist();
        let cx = &self.cx;
        list::init_list_head(cx, txlist).await;
        cx.mutex_lock(mtx).await;
        self.set_in_transfer(Some(ep));
        self.ep_start_scan(ep, txlist).await;
        let mut res: SysResult<usize> = Ok(0);
        let mut count = 0;
        while !list::list_empty(cx, txlist).await {
            if count >= maxevents {
                break;
            }
            let first = cx.load(txlist.next_word()).await;
            let Some(link) = ListHead::from_address(first) else {
                cx.report(
                    sim::ReportKind::ListCorruption,
                    format!("txlist.next is {}", list::describe_pointer(first)),
                    vec![],
                );
                break;
            };
            let Some(epi) = self.epi_of_rdllink(link) else {
                break;
            };
            list::list_del_init(cx, link).await;
            let revents = self.ep_item_poll(epi, PollTable::Null, 1).await;
            if revents == 0 {
                continue;
            }
            let Some((events_word, data)) = self.with_epi(epi, |e| (e.events_word(), e.data))
            else {
                break;
            };
            let put = events
                .put_user(
                    cx,
                    count,
                    EpollEvent {
                        events: revents,
                        data,
                    },
                )
                .await;
            if put.is_err() {
                list::list_add(cx, link, txlist).await;
                if count == 0 {
                    res = Err(Errno::EFAULT);
                }
                break;
            }
            cx.note(|| {
                format!(
                    "  ep_send_events: deliver epitem{} ({})",
                    self.epitem_id(epi),
                    crate::poll::mask_to_string(revents)
                )
            });
            count += 1;
            res = Ok(count);
            let mask = cx.load(events_word).await as u32;
            if mask & EPOLLONESHOT != 0 {
                cx.store(events_word, u64::from(mask & EP_PRIVATE_BITS))
                    .await;
            } else if mask & EPOLLET == 0 {
                list::list_add_tail(cx, link, rdllist).await;
            }
        }
        Counters::bump(&self.counters.events_delivered, count as u64);
        self.ep_done_scan(ep, txlist).await;
        self.set_in_transfer(None);
        cx.mutex_unlock(mtx).await;
        self.debug_check_ready_lists();
        res
    }

    /// `ep_timeout_to_timespec(to, ms)`: negative → no timeout; zero → the zero
    /// timespec; otherwise now + ms on the monotonic (here: virtual) clock.
    pub fn ep_timeout_to_timespec(&self, ms: i32) -> Deadline {
        match ms {
            ms if ms < 0 => None,
            0 => Some(0),
            ms => Some(self.cx.now_ns() + ms as u64 * 1_000_000),
        }
    }

    /// `ep_autoremove_wake_function(wq_entry, mode, sync, key)`: wake the task, then
    /// take the entry off the queue whether or not that woke it
    /// (`list_del_init_careful`: the unlink, then a release store that `ep_poll`'s
    /// lockless `list_empty_careful` pairs with). Modelled: the entry's `next` is the word
    /// in `data`, 1 while queued; release = `smp_wmb` + WRITE_ONCE (on `tso`/`pso` loads
    /// are never reordered with later stores).
    pub async fn ep_autoremove_wake_function(
        &self,
        entry: WaitEntryId,
        data: u64,
        mode: WakeMode,
    ) -> bool {
        let task = sim::TaskId(data as u32);
        let word = Word((data >> 32) as u32);
        let woke = self.cx.try_to_wake_up(task, mode).await != 0;
        let head = self
            .cx
            .state()
            .waitqueues
            .borrow()
            .entries
            .get(entry)
            .ok()
            .and_then(|e| e.head());
        if let Some(head) = head {
            self.cx.remove_wait_queue_locked(head, entry).await;
        }
        self.cx.smp_wmb().await;
        self.cx.write_once(word, 0).await;
        woke
    }

    /// `ep_try_send_events`: `ep_send_events` (the NAPI irq suspension after a harvest
    /// belongs to busy polling, not modelled).
    async fn ep_try_send_events(
        &self,
        ep: EventPollId,
        events: &mut UserEvents,
        maxevents: usize,
    ) -> SysResult<usize> {
        self.ep_send_events_6_18(ep, events, maxevents).await
    }

    /// `ep_poll(ep, events, maxevents, timeout)`: loop — if events may be available,
    /// try to send (return on a result or an error); a zero timeout returns 0; a pending
    /// signal EINTR; otherwise queue an autoremoving wait entry **exclusively at the
    /// head** of `ep->wq` under `ep->lock` after a last check, sleep until woken or the
    /// deadline, and go round assuming events. If the entry is still queued afterwards,
    /// remove it under the lock; after a timeout, a wake that emptied it in between means
    /// events to harvest.
    ///
    /// Simplified: the hrtimer (`schedule_hrtimeout_range`, with the task's timer slack)
    /// is the machine's jiffy timer, the deadline rounded up to a whole jiffy, no slack.
    pub(crate) async fn ep_poll_6_18(
        &self,
        ep: EventPollId,
        events: &mut UserEvents,
        maxevents: usize,
        timeout: Deadline,
    ) -> SysResult<usize> {
        let Some((lock, _, wq, _, rdllist)) = self.ep_fields_6_18(ep) else {
            return Err(Errno::EBADF);
        };
        let cx = &self.cx;
        let task = cx.current().expect("epoll_wait runs in task context");
        let mut timed_out = timeout == Some(0);
        let mut eavail = self.ep_events_available(rdllist).await;
        loop {
            if eavail {
                let res = self.ep_try_send_events(ep, events, maxevents).await;
                if res != Ok(0) {
                    return res;
                }
            }
            if timed_out {
                return Ok(0);
            }
            // ep_busy_loop(ep): false (busy polling is not modelled).
            if cx.signal_pending() {
                return Err(Errno::EINTR);
            }
            let entry_word = cx.alloc_words("wait", u64::from(task.0), &["entry.next"]);
            let wait = cx.new_wait_entry(
                WakeFunction::Callback {
                    kind: CALLBACK_EP_AUTOREMOVE,
                    data: (u64::from(entry_word.0) << 32) | u64::from(task.0),
                },
                true,
            );
            cx.spin_lock_irq(lock).await;
            cx.set_current_state_plain(TaskState::Interruptible).await;
            eavail = self.ep_events_available(rdllist).await;
            if !eavail {
                // __add_wait_queue_exclusive: WQ_FLAG_EXCLUSIVE, head of the queue.
                cx.add_wait_queue_locked(wq, wait).await;
                cx.store(entry_word, 1).await;
            }
            cx.spin_unlock_irq(lock).await;
            if !eavail {
                self.set_in_ep_poll(task, Some(ep));
                cx.note(|| "ep_poll: nothing ready, sleep on ep->wq".to_string());
                timed_out = !self.ep_schedule_timeout(timeout).await;
                self.set_in_ep_poll(task, None);
            }
            cx.set_current_state_plain(TaskState::Running).await;
            eavail = true;
            // list_empty_careful(&wait.entry): pairs with the release store of the
            // autoremove wake function.
            if cx.read_once(entry_word).await != 0 {
                cx.spin_lock_irq(lock).await;
                if timed_out {
                    eavail = cx.load(entry_word).await == 0;
                }
                cx.remove_wait_queue_locked(wq, wait).await;
                cx.store(entry_word, 0).await;
                cx.spin_unlock_irq(lock).await;
            }
            cx.free_wait_entry(wait);
            cx.free_words(entry_word);
        }
    }

    /// `ep_schedule_timeout(to)` and `schedule_hrtimeout_range(to, …)`: false when the
    /// deadline has passed or the timer fired, true when woken before it.
    async fn ep_schedule_timeout(&self, timeout: Deadline) -> bool {
        self.schedule_until(timeout).await
    }

    // ---- loop check --------------------------------------------------------------------------------------

    /// `ep_loop_check_proc(ep, depth)`: the depth of the tree of sets below `ep`, or more
    /// than EP_MAX_NESTS if it reaches `inserting_into` or goes too deep; memoised per
    /// check generation; non-epoll leaves go on `tfile_check_list`. As v6.18 has it: a
    /// loop is `INT_MAX`, the parent adds one to a child's result with wrap-around, and
    /// the cached depth is a `u8` (fdcfce93073d, after the tag, fixed the overflow).
    fn ep_loop_check_proc(
        &self,
        ep: EventPollId,
        depth: i32,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = i32> + '_>> {
        Box::pin(async move {
            let loop_check_gen = self.modern.borrow().loop_check_gen;
            let Some((gen, cached, mtx)) = self.with_ep(ep, |e| (e.gen, e.loop_check_depth, e.sem))
            else {
                return 0;
            };
            if gen == loop_check_gen {
                return i32::from(cached);
            }
            self.cx.mutex_lock(mtx).await;
            self.with_ep_mut(ep, |e| e.gen = loop_check_gen);
            let items: Vec<EpitemId> = self
                .with_ep(ep, |e| e.rbr.values().copied().collect())
                .unwrap_or_default();
            let inserting_into = self.modern.borrow().inserting_into;
            let mut result: i32 = 0;
            for epi in items {
                let Some(file) = self.with_epi(epi, |e| e.file) else {
                    continue;
                };
                match self.file_epoll(file) {
                    Some(ep_tovisit) => {
                        if Some(ep_tovisit) == inserting_into || depth > EP_MAX_NESTS {
                            result = i32::MAX;
                        } else {
                            let below = self.ep_loop_check_proc(ep_tovisit, depth + 1).await;
                            result = result.max(below.wrapping_add(1));
                        }
                        if result > EP_MAX_NESTS {
                            break;
                        }
                    }
                    None => self.list_file(file),
                }
            }
            self.with_ep_mut(ep, |e| e.loop_check_depth = result as u8);
            self.cx.mutex_unlock(mtx).await;
            result
        })
    }

    /// `ep_get_upwards_depth_proc(ep, depth)`: how far up the sets holding `ep` reach
    /// (an RCU walk over `ep->refs`; no steps), memoised like the downward walk.
    // The kernel's function carries `depth` and, like this port, only passes it on.
    #[allow(clippy::only_used_in_recursion)]
    fn ep_get_upwards_depth_proc(&self, ep: EventPollId, depth: i32) -> i32 {
        let loop_check_gen = self.modern.borrow().loop_check_gen;
        let Some((gen, cached)) = self.with_ep(ep, |e| (e.gen, e.loop_check_depth)) else {
            return 0;
        };
        if gen == loop_check_gen {
            return i32::from(cached);
        }
        let mut result: i32 = 0;
        for epi in self.ep_refs(ep) {
            if let Some(up) = self.with_epi(epi, |e| e.ep) {
                let above = self.ep_get_upwards_depth_proc(up, depth + 1);
                result = result.max(above.wrapping_add(1));
            }
        }
        self.with_ep_mut(ep, |e| {
            e.gen = loop_check_gen;
            e.loop_check_depth = result as u8;
        });
        result
    }

    /// `ep_loop_check(ep, to)`: adding `to` into `ep` must neither close a loop nor make
    /// a chain deeper than EP_MAX_NESTS (down from `to` + 1 + up from `ep`).
    async fn ep_loop_check(&self, ep: EventPollId, to: EventPollId) -> bool {
        self.modern.borrow_mut().inserting_into = Some(ep);
        let depth = self.ep_loop_check_proc(to, 0).await;
        if depth > EP_MAX_NESTS {
            return false;
        }
        let upwards_depth = self.ep_get_upwards_depth_proc(ep, 0);
        depth.wrapping_add(1).wrapping_add(upwards_depth) <= EP_MAX_NESTS
    }

    /// `clear_tfile_check_list()`.
    fn clear_tfile_check_list(&self) {
        self.modern.borrow_mut().tfile_check_list.clear();
    }

    // ---- the system calls ------------------------------------------------------------------------------

    /// `do_epoll_create(flags)`: flags other than EPOLL_CLOEXEC are EINVAL; `ep_alloc`
    /// (ENOMEM); then v6.18 reserves a descriptor (EMFILE) and makes the anonymous-inode
    /// file `O_RDWR` (ENFILE/ENOMEM), releasing the eventpoll through `ep_clear_and_put`
    /// on failure. Simplified as in the seed port: the file is made first and installed
    /// after, so a failed install drops the file, whose release runs the same
    /// `ep_clear_and_put`. EPOLL_CLOEXEC marks the descriptor `FD_CLOEXEC` (read back
    /// by `fcntl(F_GETFD)`; the model has no exec to act on it).
    pub(crate) async fn do_epoll_create(&self, flags: i32) -> SysResult<i32> {
        if flags & !EPOLL_CLOEXEC != 0 {
            return Err(Errno::EINVAL);
        }
        let label = format!("ep{}", self.objects.borrow().next_id);
        let ep = self.ep_alloc_6_18(&label)?;
        let file = self.alloc_file(FileKind::Epoll(ep), label.into(), crate::objects::O_RDWR);
        self.with_ep_mut(ep, |e| e.file = Some(file));
        let process = self.current_process();
        match self
            .install_fd_flags(process, file, flags & EPOLL_CLOEXEC != 0)
            .await
        {
            Ok(fd) => Ok(fd),
            Err(errno) => {
                self.fput(file).await;
                Err(errno)
            }
        }
    }

    /// `ep_take_care_of_epollwakeup(epev)`: without CAP_BLOCK_SUSPEND (no simulated task
    /// has it) EPOLLWAKEUP is silently dropped.
    fn ep_take_care_of_epollwakeup(event: &mut EpollEvent) {
        event.events &= !EPOLLWAKEUP;
    }

    /// `do_epoll_ctl(epfd, op, fd, epds)` after the two `fget`s: EPERM for a file without
    /// poll; EPOLLWAKEUP stripped; EINVAL for the set itself or a non-epoll `epfd`; the
    /// EPOLLEXCLUSIVE rules (EINVAL with MOD, with an epoll target, with bits outside
    /// EPOLLEXCLUSIVE_OK_BITS); `ep->mtx`; an ADD that may nest (the set is watched, a
    /// check generation is current, or the target is an epoll file) retakes the locks as
    /// `epnested_mutex` → `ep->mtx` with a full check (ELOOP from the loop check); then
    /// ADD (EEXIST), DEL (ENOENT), MOD (ENOENT; EINVAL for an EPOLLEXCLUSIVE item); other
    /// ops EINVAL.
    pub(crate) async fn do_epoll_ctl(
        &self,
        file: FileId,
        tfile: FileId,
        op: i32,
        fd: i32,
        mut epds: EpollEvent,
    ) -> SysResult<()> {
        if !self.file_has_poll(tfile) {
            return Err(Errno::EPERM);
        }
        let has_event = op != EPOLL_CTL_DEL;
        if has_event {
            Self::ep_take_care_of_epollwakeup(&mut epds);
        }
        let ep = match self.file_epoll(file) {
            Some(ep) if file != tfile => ep,
            _ => return Err(Errno::EINVAL),
        };
        let target_is_epoll = self.file_epoll(tfile);
        if has_event && epds.events & EPOLLEXCLUSIVE != 0 {
            if op == EPOLL_CTL_MOD {
                return Err(Errno::EINVAL);
            }
            if op == EPOLL_CTL_ADD
                && (target_is_epoll.is_some() || epds.events & !EPOLLEXCLUSIVE_OK_BITS != 0)
            {
                return Err(Errno::EINVAL);
            }
        }
        let mtx = self.with_ep(ep, |e| e.sem).ok_or(Errno::EBADF)?;
        self.cx.mutex_lock(mtx).await;
        let mut full_check = false;
        if op == EPOLL_CTL_ADD {
            let watched = self
                .with_file(file, |f| !f.f_ep_links.is_empty())
                .unwrap_or(false);
            let gen_current =
                self.with_ep(ep, |e| e.gen) == Some(self.modern.borrow().loop_check_gen);
            if watched || gen_current || target_is_epoll.is_some() {
                self.cx.mutex_unlock(mtx).await;
                self.cx.mutex_lock(self.epmutex).await;
                self.modern.borrow_mut().loop_check_gen += 1;
                full_check = true;
                if let Some(tep) = target_is_epoll {
                    if !self.ep_loop_check(ep, tep).await {
                        self.cx
                            .note(|| "  ep_loop_check: a loop or too deep: ELOOP".to_string());
                        self.ctl_full_check_done().await;
                        return Err(Errno::ELOOP);
                    }
                }
                self.cx.mutex_lock(mtx).await;
            }
        }
        let epi = self.ep_find_6_18(ep, tfile, fd);
        let result = match op {
            EPOLL_CTL_ADD => match epi {
                None => {
                    epds.events |= EPOLLERR | EPOLLHUP;
                    self.ep_insert_6_18(ep, epds, tfile, fd, full_check).await
                }
                Some(_) => Err(Errno::EEXIST),
            },
            EPOLL_CTL_DEL => match epi {
                Some(epi) => {
                    self.ep_remove_safe(ep, epi).await;
                    Ok(())
                }
                None => Err(Errno::ENOENT),
            },
            EPOLL_CTL_MOD => match epi {
                Some(epi) => {
                    let events_word = self.with_epi(epi, |e| e.events_word());
                    let exclusive = match events_word {
                        Some(word) => self.cx.load(word).await as u32 & EPOLLEXCLUSIVE != 0,
                        None => false,
                    };
                    if exclusive {
                        Err(Errno::EINVAL)
                    } else {
                        epds.events |= EPOLLERR | EPOLLHUP;
                        self.ep_modify_6_18(ep, epi, epds).await
                    }
                }
                None => Err(Errno::ENOENT),
            },
            _ => Err(Errno::EINVAL),
        };
        self.cx.mutex_unlock(mtx).await;
        if full_check {
            self.ctl_full_check_done().await;
        }
        result
    }

    /// `error_tgt_fput` with `full_check`: clear the check list, advance the generation,
    /// drop `epnested_mutex`.
    async fn ctl_full_check_done(&self) {
        self.clear_tfile_check_list();
        self.modern.borrow_mut().loop_check_gen += 1;
        self.cx.mutex_unlock(self.epmutex).await;
    }

    /// `ep_check_params(file, evs, maxevents)` and `do_epoll_wait(epfd, events,
    /// maxevents, to)`: EBADF, then EINVAL for maxevents out of range, EFAULT for a buffer
    /// `access_ok` refuses, EINVAL for a file that is not an epoll file; then `ep_poll`.
    pub(crate) async fn do_epoll_wait(
        &self,
        epfd: i32,
        buffer: UserBufferSpec,
        maxevents: i32,
        timeout: Deadline,
    ) -> SysResult<Vec<EpollEvent>> {
        let file = self.fget(epfd).await.ok_or(Errno::EBADF)?;
        let checked = if maxevents <= 0 || maxevents > crate::eventpoll::EP_MAX_EVENTS {
            Err(Errno::EINVAL)
        } else if buffer.bad_address {
            Err(Errno::EFAULT)
        } else {
            self.file_epoll(file).ok_or(Errno::EINVAL)
        };
        let result = match checked {
            Ok(ep) => {
                let mut events = UserEvents::new(buffer, self.options.fault_service_ns);
                self.ep_poll_6_18(ep, &mut events, maxevents as usize, timeout)
                    .await
                    .map(|count| {
                        events.events.truncate(count);
                        events.events
                    })
            }
            Err(errno) => Err(errno),
        };
        self.fput(file).await;
        result
    }

    /// `epoll_pwait2`'s timeout: a NULL pointer waits forever; a negative or
    /// out-of-range timespec is EINVAL (`poll_select_set_timeout`); zero does not block;
    /// otherwise now + the timespec.
    pub fn epoll_pwait2_deadline(&self, timeout: Option<Timespec>) -> SysResult<Deadline> {
        let Some(ts) = timeout else {
            return Ok(None);
        };
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        if ts.tv_sec == 0 && ts.tv_nsec == 0 {
            return Ok(Some(0));
        }
        let ns = (ts.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec as u64);
        Ok(Some(self.cx.now_ns().saturating_add(ns)))
    }
}
