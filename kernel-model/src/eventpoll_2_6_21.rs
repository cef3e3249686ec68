//! The transfer of fs/eventpoll.c as it stood in 2.6.21, right before the seed commit:
//! three passes over at most `maxevents` items, with a second link (`txlink`) per item.
//!
//! 1. `ep_collect_ready_items` moves up to `maxevents` items from `rdllist` to the task's
//!    `txlist` under `ep->lock`, skipping items another task is transferring; it uses
//!    `list_add`, so each batch is delivered in the *reverse* of ready-list order.
//! 2. `ep_send_events` polls each item and copies events out, without locks.
//! 3. `ep_reinject_items` takes `ep->lock` again and puts back on the *tail* of
//!    `rdllist` every item still in the tree, level-triggered, still ready and not already
//!    linked, waking waiters if it re-queued any.
//!
//! Everything else (`ep_poll`, `ep_poll_callback`, ctl, release) is shared with the
//! 6192bd536f96 port; the differences the seed commit made there are cosmetic.

use sim::list::{self, ListHead};
use sim::{Granularity, ReportKind};

use crate::errno::{Errno, SysResult};
use crate::inject::Injection;
use crate::kernel::{Counters, Kernel};
use crate::objects::{EpitemId, EventPollId};
use crate::poll::{EpollEvent, PollTable, EPOLLET, EPOLLONESHOT, EP_PRIVATE_BITS};
use crate::user::UserEvents;

impl<G: Granularity> Kernel<G> {
    /// `ep_events_transfer()` of 2.6.21.
    pub(crate) async fn ep_events_transfer_2_6_21(
        &self,
        ep: EventPollId,
        events: &mut UserEvents,
        maxevents: usize,
    ) -> SysResult<usize> {
        let Some(sem) = self.with_ep(ep, |e| e.sem) else {
            return Err(Errno::EBADF);
        };
        Counters::bump(&self.counters.transfers, 1);
        let txlist = self.current_task_info().txlist();
        list::init_list_head(&self.cx, txlist).await;
        self.cx.down_read(sem).await;
        self.set_in_transfer(Some(ep));
        let mut result = Ok(0);
        if self.ep_collect_ready_items(ep, txlist, maxevents).await > 0 {
            result = self.ep_send_events_2_6_21(txlist, events).await;
            self.ep_reinject_items(ep, txlist).await;
        }
        self.set_in_transfer(None);
        self.cx.up_read(sem).await;
        self.debug_check_ready_lists();
        result
    }

    fn epi_of_txlink(&self, link: ListHead) -> Option<EpitemId> {
        let owner = self.objects.borrow().txlink_owner.get(&link.0).copied();
        if owner.is_none() {
            self.cx.report(
                ReportKind::ListCorruption,
                format!(
                    "{} on a txlist is no epitem's txlink",
                    self.cx.state().mem.name_of(link.0)
                ),
                vec![],
            );
        }
        owner
    }

    /// `ep_collect_ready_items(ep, txlist, maxevents)`.
    async fn ep_collect_ready_items(
        &self,
        ep: EventPollId,
        txlist: ListHead,
        maxevents: usize,
    ) -> usize {
        let Some((lock, rdllist)) = self.with_ep(ep, |e| (e.lock, e.rdllist)) else {
            return 0;
        };
        let cx = &self.cx;
        let flags = self.ep_write_lock(lock).await;
        let mut nepi = 0;
        let mut lnk = cx.load(rdllist.next_word()).await;
        while lnk != rdllist.address() && nepi < maxevents {
            let Some(link) = ListHead::from_address(lnk) else {
                cx.report(
                    ReportKind::ListCorruption,
                    format!("rdllist walk reached {}", list::describe_pointer(lnk)),
                    vec![],
                );
                break;
            };
            let Some(epi) = self.epi_of_rdllink(link) else {
                break;
            };
            lnk = cx.load(link.next_word()).await;
            let Some((txlink, events_word, revents_word)) =
                self.with_epi(epi, |e| (e.txlink(), e.events_word(), e.revents_word()))
            else {
                break;
            };
            if !self.ep_is_linked(txlink).await {
                let events = cx.load(events_word).await;
                cx.store(revents_word, events).await;
                list::list_add(cx, txlink, txlist).await;
                nepi += 1;
                // ep_list_del(): list_del + INIT_LIST_HEAD.
                list::list_del(cx, link).await;
                list::init_list_head(cx, link).await;
                cx.note(|| {
                    format!(
                        "  ep_collect_ready_items: epitem{} to txlist (at its head)",
                        self.epitem_id(epi)
                    )
                });
            }
        }
        self.ep_write_unlock(lock, flags).await;
        nepi
    }

    /// `ep_send_events(ep, txlist, events)` of 2.6.21: no count limit (collect bounded
    /// it); a fault returns EFAULT at once, discarding the count.
    async fn ep_send_events_2_6_21(
        &self,
        txlist: ListHead,
        events: &mut UserEvents,
    ) -> SysResult<usize> {
        let cx = &self.cx;
        let mut eventcnt = 0;
        let mut lnk = cx.load(txlist.next_word()).await;
        while lnk != txlist.address() {
            let Some(link) = ListHead::from_address(lnk) else {
                cx.report(
                    ReportKind::ListCorruption,
                    format!("txlist walk reached {}", list::describe_pointer(lnk)),
                    vec![],
                );
                return Err(Errno::EFAULT);
            };
            let Some(epi) = self.epi_of_txlink(link) else {
                return Err(Errno::EFAULT);
            };
            let Some((file, events_word, revents_word, data)) =
                self.with_epi(epi, |e| (e.file, e.events_word(), e.revents_word(), e.data))
            else {
                return Err(Errno::EFAULT);
            };
            let polled = self.vfs_poll(file, PollTable::Null).await;
            let interest = cx.load(events_word).await as u32;
            let revents = polled & interest;
            cx.store(revents_word, revents as u64).await;
            if revents != 0 {
                events
                    .put_user(
                        cx,
                        eventcnt,
                        EpollEvent {
                            events: revents,
                            data,
                        },
                    )
                    .await?;
                cx.note(|| format!("  ep_send_events: deliver epitem{}", self.epitem_id(epi)));
                // `if (epi->event.events & EPOLLONESHOT) epi->event.events &= EP_PRIVATE_BITS;`
                // reads the mask again: __put_user may have slept since it was last read.
                let events = cx.load(events_word).await as u32;
                if events & EPOLLONESHOT != 0 {
                    cx.store(events_word, (events & EP_PRIVATE_BITS) as u64)
                        .await;
                }
                eventcnt += 1;
            }
            lnk = cx.load(link.next_word()).await;
        }
        Counters::bump(&self.counters.events_delivered, eventcnt as u64);
        Ok(eventcnt)
    }

    /// `ep_reinject_items(ep, txlist)`.
    async fn ep_reinject_items(&self, ep: EventPollId, txlist: ListHead) {
        let Some((lock, _, wq, poll_wait, rdllist)) = self.ep_fields(ep) else {
            return;
        };
        let cx = &self.cx;
        let flags = self.ep_write_lock(lock).await;
        let mut ricnt = 0;
        while !list::list_empty(cx, txlist).await {
            let first = cx.load(txlist.next_word()).await;
            let Some(link) = ListHead::from_address(first) else {
                break;
            };
            let Some(epi) = self.epi_of_txlink(link) else {
                break;
            };
            list::list_del(cx, link).await;
            list::init_list_head(cx, link).await;
            let Some((rb_linked, events_word, revents_word, rdllink)) = self.with_epi(epi, |e| {
                (e.rb_linked, e.events_word(), e.revents_word(), e.rdllink())
            }) else {
                break;
            };
            let events = cx.load(events_word).await as u32;
            let revents = cx.load(revents_word).await as u32;
            if rb_linked
                && events & EPOLLET == 0
                && revents & events != 0
                && !self.ep_is_linked(rdllink).await
            {
                list::list_add_tail(cx, rdllink, rdllist).await;
                cx.note(|| {
                    format!(
                        "  ep_reinject_items: epitem{} back to the tail of rdllist",
                        self.epitem_id(epi)
                    )
                });
                ricnt += 1;
            }
        }
        let mut pwake = false;
        if ricnt > 0 {
            if !self.injected(Injection::NoReinjectWakeup) {
                self.wake_ep_wq_locked(wq).await;
            }
            pwake = cx.waitqueue_active(poll_wait).await;
        }
        self.ep_unlock_and_pwake(lock, flags, pwake, poll_wait)
            .await;
    }
}
