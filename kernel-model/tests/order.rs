//! Ready-list order facts (design note, "Event-order facts worth a snapshot"), on every
//! kernel version side by side. They differ because each version puts items back
//! elsewhere after a transfer:
//!
//! - 6192bd536f96 (seed, §3.24 of the digest): `ep_events_transfer` steals the *whole* ready
//!   list; `ep_send_events` delivers in ready-list order up to maxevents, moves delivered
//!   level-triggered items to `injlist`, and at the end `list_splice`s first the unreached
//!   rest of `txlist`, then `injlist`, to the *head* of the ready list. The next ready
//!   list is [delivered LT][unreached][queued by callbacks during the transfer].
//! - 2.6.21 (§3.28): `ep_collect_ready_items` moves at most maxevents items to `txlist`
//!   with `list_add` (head insertion), so each batch is delivered in *reverse* ready-list
//!   order; the unreached items stay where they were; `ep_reinject_items` appends the
//!   delivered LT items to the *tail*, in txlist order, after anything callbacks queued
//!   meanwhile.
//! - 2.6.22 (digest Appendix A): `ep_send_events` steals the whole ready list, puts each
//!   delivered LT item straight back on the *tail* of `rdllist`, chains items whose
//!   callback fires meanwhile on `ovflist` (newest first), and at the end appends that
//!   chain's unlinked items, then splices the unreached rest at the *head*. The next
//!   ready list is [unreached][delivered LT][fired during the transfer, newest first]:
//!   round robin.
//!
//! Every expected sequence below is derived from those rules (the derivation is in the
//! comments), not recorded from a run. Items are pipes whose `data` is their index.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{add_pipes, datas, ev, on_both, ready_list, single_task_on_both, sleep_ns};
use kernel_model::poll::*;
use kernel_model::user::UserBufferSpec;
use kernel_model::{Kernel, KernelVersion, Options};
use sim::{AccessSteps, CpuId, Granularity, GranularityKind, LockSteps, SyscallSteps};

async fn wait<G: Granularity>(k: &Kernel<G>, ep: i32, max: i32) -> Vec<u64> {
    datas(
        &k.sys_epoll_wait(ep, UserBufferSpec::default(), max, 0)
            .await
            .unwrap(),
    )
}

/// Each wait's delivery and the ready list after it, for `rounds` waits.
async fn rounds<G: Granularity>(
    k: &Kernel<G>,
    ep: i32,
    max: i32,
    rounds: usize,
) -> Vec<(Vec<u64>, Vec<u64>)> {
    let mut seen = Vec::new();
    for _ in 0..rounds {
        let got = wait(k, ep, max).await;
        seen.push((got, ready_list(k, ep)));
    }
    seen
}

async fn four_ready_level_triggered_items_and_maxevents_2_scenario<G: Granularity>(
    k: Rc<Kernel<G>>,
) {
    let ep = k.sys_epoll_create(1).await.unwrap();
    let pipes = add_pipes(&k, ep, 4, EPOLLIN).await;
    for &(_, w) in &pipes {
        k.sys_write(w, b"x").await.unwrap();
    }
    assert_eq!(ready_list(&k, ep), vec![0, 1, 2, 3]);
    let seen = rounds(&k, ep, 2, 5).await;
    let expected: Vec<(Vec<u64>, Vec<u64>)> = match k.version() {
        // Steal [0 1 2 3]; deliver 0, 1 (→ injlist [0 1]); maxevents reached with
        // txlist = [2 3]. Splice txlist to the head: [2 3]; then injlist: [0 1 2 3].
        // The ready list is exactly as before, so every wait returns 0 and 1 while
        // they stay readable, and 2 and 3 starve.
        KernelVersion::Seed => vec![(vec![0, 1], vec![0, 1, 2, 3]); 5],
        // Collect 0 then 1 with list_add: txlist [1 0]; rdllist [2 3]. Deliver 1, 0.
        // Reinject 1 then 0 at the tail: [2 3 1 0]. Next: collect 2, 3 → deliver
        // 3, 2 → [1 0 3 2]. Next: 0, 1 → [3 2 0 1]. Next: 2, 3 → [0 1 2 3], which is
        // where it started: every item is served every second wait.
        KernelVersion::V2_6_21 => vec![
            (vec![1, 0], vec![2, 3, 1, 0]),
            (vec![3, 2], vec![1, 0, 3, 2]),
            (vec![0, 1], vec![3, 2, 0, 1]),
            (vec![2, 3], vec![0, 1, 2, 3]),
            (vec![1, 0], vec![2, 3, 1, 0]),
        ],
        // Steal [0 1 2 3]; deliver 0, 1, each put back on the tail: rdllist [0 1];
        // splice the unreached [2 3] at the head: [2 3 0 1]. Next wait: 2, 3 →
        // [0 1 2 3]. Round robin, in order.
        KernelVersion::V2_6_22 => vec![
            (vec![0, 1], vec![2, 3, 0, 1]),
            (vec![2, 3], vec![0, 1, 2, 3]),
            (vec![0, 1], vec![2, 3, 0, 1]),
            (vec![2, 3], vec![0, 1, 2, 3]),
            (vec![0, 1], vec![2, 3, 0, 1]),
        ],
    };
    assert_eq!(seen, expected, "{}", k.version().name());
}

#[test]
fn four_ready_level_triggered_items_and_maxevents_2() {
    single_task_on_both::<SyscallSteps, _, _>(
        &Options::default(),
        four_ready_level_triggered_items_and_maxevents_2_scenario,
    );
}

async fn the_ready_list_is_fifo_in_callback_order_scenario<G: Granularity>(k: Rc<Kernel<G>>) {
    let ep = k.sys_epoll_create(1).await.unwrap();
    // Edge-triggered, so that delivered items leave the list for good.
    let pipes = add_pipes(&k, ep, 4, EPOLLIN | EPOLLET).await;
    for i in [2, 0, 3, 1] {
        k.sys_write(pipes[i].1, b"x").await.unwrap();
    }
    // ep_poll_callback appends (list_add_tail): callback order, on both versions.
    assert_eq!(ready_list(&k, ep), vec![2, 0, 3, 1]);
    // One at a time, the order shows on both: 6192bd536f96 steals all, delivers the first
    // and splices [0 3 1] back to the head; 2.6.21 collects only the first.
    let seen = rounds(&k, ep, 1, 5).await;
    assert_eq!(
        seen,
        vec![
            (vec![2], vec![0, 3, 1]),
            (vec![0], vec![3, 1]),
            (vec![3], vec![1]),
            (vec![1], vec![]),
            (vec![], vec![]),
        ]
    );
    // New edges in the same order; one wait for all of them.
    for i in [2, 0, 3, 1] {
        k.sys_write(pipes[i].1, b"y").await.unwrap();
    }
    assert_eq!(ready_list(&k, ep), vec![2, 0, 3, 1]);
    let expected = match k.version() {
        KernelVersion::Seed | KernelVersion::V2_6_22 => vec![2, 0, 3, 1],
        // One batch of four, collected with list_add: delivered in reverse.
        KernelVersion::V2_6_21 => vec![1, 3, 0, 2],
    };
    assert_eq!(wait(&k, ep, 4).await, expected);
    assert_eq!(ready_list(&k, ep), Vec::<u64>::new());
}

#[test]
fn the_ready_list_is_fifo_in_callback_order() {
    single_task_on_both::<SyscallSteps, _, _>(
        &Options::default(),
        the_ready_list_is_fifo_in_callback_order_scenario,
    );
}

async fn a_whole_batch_of_level_triggered_items_scenario<G: Granularity>(k: Rc<Kernel<G>>) {
    let ep = k.sys_epoll_create(1).await.unwrap();
    let pipes = add_pipes(&k, ep, 4, EPOLLIN).await;
    for i in [3, 1, 0, 2] {
        k.sys_write(pipes[i].1, b"x").await.unwrap();
    }
    assert_eq!(ready_list(&k, ep), vec![3, 1, 0, 2]);
    let seen = rounds(&k, ep, 4, 3).await;
    let expected: Vec<(Vec<u64>, Vec<u64>)> = match k.version() {
        // Delivered in order, all re-injected in delivery order at the head: the
        // order never changes.
        KernelVersion::Seed => vec![(vec![3, 1, 0, 2], vec![3, 1, 0, 2]); 3],
        // Delivered in order, each put back on the tail in delivery order: the same.
        KernelVersion::V2_6_22 => vec![(vec![3, 1, 0, 2], vec![3, 1, 0, 2]); 3],
        // Delivered reversed, re-injected at the tail in txlist (= delivery) order:
        // the list flips at every wait, and so does the delivery.
        KernelVersion::V2_6_21 => vec![
            (vec![2, 0, 1, 3], vec![2, 0, 1, 3]),
            (vec![3, 1, 0, 2], vec![3, 1, 0, 2]),
            (vec![2, 0, 1, 3], vec![2, 0, 1, 3]),
        ],
    };
    assert_eq!(seen, expected, "{}", k.version().name());
}

#[test]
fn a_whole_batch_of_level_triggered_items() {
    single_task_on_both::<SyscallSteps, _, _>(
        &Options::default(),
        a_whole_batch_of_level_triggered_items_scenario,
    );
}

async fn delivered_edge_triggered_items_leave_and_unreached_items_keep_their_place_scenario<
    G: Granularity,
>(
    k: Rc<Kernel<G>>,
) {
    let ep = k.sys_epoll_create(1).await.unwrap();
    let mut pipes = Vec::new();
    for i in 0..4u64 {
        let [r, w] = k.sys_pipe().await.unwrap();
        let flags = if i % 2 == 1 { EPOLLET } else { 0 };
        k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, r, ev(EPOLLIN | flags, i))
            .await
            .unwrap();
        k.sys_write(w, b"x").await.unwrap();
        pipes.push((r, w));
    }
    assert_eq!(ready_list(&k, ep), vec![0, 1, 2, 3]);
    let (got, after) = match k.version() {
        // injlist gets the LT items 0 and 2, in delivery order.
        KernelVersion::Seed => (vec![0, 1, 2, 3], vec![0, 2]),
        // The LT items 0 and 2 are put back on the tail as they are delivered.
        KernelVersion::V2_6_22 => (vec![0, 1, 2, 3], vec![0, 2]),
        // txlist [3 2 1 0]; reinject walks it and appends the LT ones: 2, then 0.
        KernelVersion::V2_6_21 => (vec![3, 2, 1, 0], vec![2, 0]),
    };
    assert_eq!(wait(&k, ep, 4).await, got);
    assert_eq!(ready_list(&k, ep), after);
    // A new LT item 9 becomes ready, then ET item 1 gets a new edge: both appended.
    let [r, w] = k.sys_pipe().await.unwrap();
    k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, r, ev(EPOLLIN, 9))
        .await
        .unwrap();
    k.sys_write(w, b"x").await.unwrap();
    k.sys_write(pipes[1].1, b"x").await.unwrap();
    let mut queued = after.clone();
    queued.extend([9, 1]);
    assert_eq!(ready_list(&k, ep), queued);
    let (first, after) = match k.version() {
        // Steal all; deliver 0 (injlist [0]); the unreached [2 9 1] is spliced back
        // in its order, then [0] in front of it.
        KernelVersion::Seed => (vec![0], vec![0, 2, 9, 1]),
        // Steal all; deliver 0, back on the (empty) list: [0]; the unreached [2 9 1]
        // is spliced at the head: [2 9 1 0].
        KernelVersion::V2_6_22 => (vec![0], vec![2, 9, 1, 0]),
        // Collect only 2; [0 9 1] stay in place; reinject 2 at the tail.
        KernelVersion::V2_6_21 => (vec![2], vec![0, 9, 1, 2]),
    };
    assert_eq!(wait(&k, ep, 1).await, first);
    assert_eq!(ready_list(&k, ep), after);
}

#[test]
fn delivered_edge_triggered_items_leave_and_unreached_items_keep_their_place() {
    single_task_on_both::<SyscallSteps, _, _>(
        &Options::default(),
        delivered_edge_triggered_items_leave_and_unreached_items_keep_their_place_scenario,
    );
}

#[test]
fn items_queued_during_a_transfer_go_after_the_reinjected_ones_except_on_2_6_21() {
    // The waiter's event buffer is not resident: its first __put_user sleeps for
    // `fault_service_ns` (1 ms here) inside the transfer, with ep->sem held for read and
    // no spinlock. Meanwhile main, on the other CPU, writes to pipe 3 (not ready before)
    // and to pipe 0 (which the waiter is transferring).
    let mut options = Options::default();
    options.kernel.fault_service_ns = 1_000_000;
    let log = common::log();
    on_both::<SyscallSteps>(&options, |world, _| {
        let p = world.process("app");
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let pipes = add_pipes(&k, ep, 4, EPOLLIN).await;
            for &(_, w) in &pipes[..3] {
                k.sys_write(w, b"x").await.unwrap();
            }
            assert_eq!(ready_list(&k, ep), vec![0, 1, 2]);
            let got: Rc<RefCell<Option<Vec<u64>>>> = Rc::default();
            let got2 = got.clone();
            let waiter = k.spawn_thread("waiter", Some(CpuId(1)), move |k| async move {
                let buffer = UserBufferSpec {
                    not_resident: true,
                    ..UserBufferSpec::default()
                };
                let events = k.sys_epoll_wait(ep, buffer, 2, -1).await.unwrap();
                *got2.borrow_mut() = Some(datas(&events));
            });
            sleep_ns(&k, 500_000).await;
            // The waiter is inside its transfer, asleep in the page fault.
            assert!(k.objects.borrow().tasks[&waiter].in_transfer.is_some());
            k.sys_write(pipes[3].1, b"x").await.unwrap();
            k.sys_write(pipes[0].1, b"x").await.unwrap();
            let (during, delivered, after) = match k.version() {
                // The whole list was stolen. 3 is appended to the now empty ready list;
                // 0 is on the waiter's txlist, i.e. "linked": not appended (the
                // ep_is_linked test). After the transfer: injlist [0 1] spliced in
                // front of the unreached [2], in front of [3] — delivered LT items
                // first, items that fired during the transfer last.
                KernelVersion::Seed => (vec![3], vec![0, 1], vec![0, 1, 2, 3]),
                // Only 0 and 1 were collected (txlist [1 0]); 2 stayed. Collect
                // re-initialised their rdllinks, so the callback appends 0 again at
                // once: [2 3 0]. Reinject appends 1 at the tail and skips 0 (already
                // linked): re-injected items land *after* those that fired meanwhile.
                KernelVersion::V2_6_21 => (vec![2, 3, 0], vec![1, 0], vec![2, 3, 0, 1]),
                // The whole list was stolen and ovflist set to NULL: both callbacks
                // chain their item on ovflist (0 → 3) and the ready list stays empty.
                // The waiter puts 0 and 1 back on the tail as it delivers them; the
                // chain's 0 is linked (skipped), 3 is appended; the unreached [2] goes
                // to the head: [unreached][delivered LT][fired during the transfer].
                KernelVersion::V2_6_22 => (vec![], vec![0, 1], vec![2, 0, 1, 3]),
            };
            assert_eq!(ready_list(&k, ep), during, "during the transfer");
            sleep_ns(&k, 2_000_000).await;
            assert_eq!(got.borrow().clone(), Some(delivered));
            assert_eq!(ready_list(&k, ep), after, "after the transfer");
            out.borrow_mut().push(("main".into(), "done".into()));
        });
    });
    assert_eq!(log.borrow().len(), KernelVersion::ALL.len());
}

/// Options at a finer granularity (the list operations take their stepping path at
/// `access`), same results expected.
fn at(granularity: GranularityKind) -> Options {
    let mut options = Options::default();
    options.machine.granularity = granularity;
    options
}

#[test]
fn the_single_task_order_facts_hold_at_lock_and_access_granularity() {
    let lock = at(GranularityKind::Lock);
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        four_ready_level_triggered_items_and_maxevents_2_scenario,
    );
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        the_ready_list_is_fifo_in_callback_order_scenario,
    );
    single_task_on_both::<LockSteps, _, _>(&lock, a_whole_batch_of_level_triggered_items_scenario);
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        delivered_edge_triggered_items_leave_and_unreached_items_keep_their_place_scenario,
    );
    let access = at(GranularityKind::Access);
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        four_ready_level_triggered_items_and_maxevents_2_scenario,
    );
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        the_ready_list_is_fifo_in_callback_order_scenario,
    );
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        a_whole_batch_of_level_triggered_items_scenario,
    );
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        delivered_edge_triggered_items_leave_and_unreached_items_keep_their_place_scenario,
    );
}

/// How many `epoll_wait` sleepers one callback wakes: all of them in 2.6.21 and the seed
/// tree (non-exclusive entries), one in 2.6.22 — the one that went to sleep last
/// (WQ_FLAG_EXCLUSIVE, yet head-added by `__add_wait_queue`, and `__wake_up_locked` stops
/// after one exclusive wake). Observed right after the write returns, before any woken
/// task has run. The item is edge-triggered, so the one transfer leaves nothing to
/// wake the other sleeper with.
#[test]
fn one_callback_wakes_every_sleeper_before_2_6_22_and_the_latest_one_on_2_6_22() {
    let mut options = Options::default();
    options.machine.cpus = 3;
    let log = common::log();
    on_both::<SyscallSteps>(&options, |world, version| {
        let p = world.process("app");
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let pipes = add_pipes(&k, ep, 1, EPOLLIN | EPOLLET).await;
            let mut waiters = Vec::new();
            for (cpu, delay_ns) in [(1, 0), (2, 100_000)] {
                waiters.push(
                    k.spawn_thread("waiter", Some(CpuId(cpu)), move |k| async move {
                        sleep_ns(&k, delay_ns).await;
                        let _ = k.sys_epoll_wait(ep, UserBufferSpec::default(), 4, 5).await;
                    }),
                );
            }
            sleep_ns(&k, 1_000_000).await;
            let asleep = |k: &Kernel<SyscallSteps>| -> Vec<bool> {
                let tasks = k.cx.state().tasks.borrow();
                waiters
                    .iter()
                    .map(|t| tasks[t.index()].status == sim::cpu::TaskStatus::Sleeping)
                    .collect()
            };
            assert_eq!(asleep(&k), vec![true, true], "{}", version.name());
            k.sys_write(pipes[0].1, b"x").await.unwrap();
            let expected = match version {
                KernelVersion::Seed | KernelVersion::V2_6_21 => vec![false, false],
                // The second waiter slept last: it sits at the head of ep->wq.
                KernelVersion::V2_6_22 => vec![true, false],
            };
            assert_eq!(asleep(&k), expected, "{}", version.name());
            out.borrow_mut().push(("main".into(), "done".into()));
        });
    });
    assert_eq!(log.borrow().len(), KernelVersion::ALL.len());
}

/// After a transfer on 2.6.22, items whose callback fired while it ran come last and in
/// reverse order of firing (`ovflist` is a LIFO chain walked from its head); on the seed
/// tree they also come last, in firing order (plain `list_add_tail` onto the emptied
/// ready list); on 2.6.21 they sit before the re-injected items.
#[test]
fn items_that_fire_during_a_transfer_come_back_newest_first_on_2_6_22() {
    let mut options = Options::default();
    options.kernel.fault_service_ns = 1_000_000;
    let log = common::log();
    on_both::<SyscallSteps>(&options, |world, version| {
        let p = world.process("app");
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let pipes = add_pipes(&k, ep, 4, EPOLLIN).await;
            for &(_, w) in &pipes[..2] {
                k.sys_write(w, b"x").await.unwrap();
            }
            k.spawn_thread("waiter", Some(CpuId(1)), move |k| async move {
                let buffer = UserBufferSpec {
                    not_resident: true,
                    ..UserBufferSpec::default()
                };
                k.sys_epoll_wait(ep, buffer, 1, -1).await.unwrap();
            });
            sleep_ns(&k, 500_000).await;
            // The waiter sleeps in its first __put_user; 2 fires, then 3.
            k.sys_write(pipes[2].1, b"x").await.unwrap();
            k.sys_write(pipes[3].1, b"x").await.unwrap();
            sleep_ns(&k, 2_000_000).await;
            let expected = match version {
                // Stolen [0 1]; 2 and 3 appended to the empty list as they fire; 0
                // delivered to injlist; splice [1], then [0], at the head.
                KernelVersion::Seed => vec![0, 1, 2, 3],
                // Collected only 0; 2 and 3 appended behind 1; 0 re-injected last.
                KernelVersion::V2_6_21 => vec![1, 2, 3, 0],
                // Stolen [0 1], ovflist chain 3 → 2; 0 back on the tail; the chain
                // appended newest first; the unreached 1 spliced at the head.
                KernelVersion::V2_6_22 => vec![1, 0, 3, 2],
            };
            assert_eq!(ready_list(&k, ep), expected, "{}", version.name());
            out.borrow_mut().push(("main".into(), "done".into()));
        });
    });
    assert_eq!(log.borrow().len(), KernelVersion::ALL.len());
}

/// An edge-triggered item whose callback fires while it still waits on the transfer's
/// private list, and which that transfer then delivers: the seed tree sees it linked and
/// does not queue it again; 2.6.21 (collect re-initialised its link) and 2.6.22 (it is
/// chained on `ovflist`, then found unlinked at the end) queue it again, so the next
/// `epoll_wait` reports the same edge once more (digest Appendix A, "duplicate edge").
#[test]
fn an_edge_that_fires_before_its_delivery_is_reported_again_except_on_the_seed_tree() {
    let mut options = Options::default();
    options.kernel.fault_service_ns = 1_000_000;
    let log = common::log();
    on_both::<SyscallSteps>(&options, |world, version| {
        let p = world.process("app");
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let pipes = add_pipes(&k, ep, 2, EPOLLIN | EPOLLET).await;
            for &(_, w) in &pipes {
                k.sys_write(w, b"x").await.unwrap();
            }
            let got: Rc<RefCell<Option<Vec<u64>>>> = Rc::default();
            let got2 = got.clone();
            k.spawn_thread("waiter", Some(CpuId(1)), move |k| async move {
                let buffer = UserBufferSpec {
                    not_resident: true,
                    ..UserBufferSpec::default()
                };
                let events = k.sys_epoll_wait(ep, buffer, 4, -1).await.unwrap();
                *got2.borrow_mut() = Some(datas(&events));
            });
            sleep_ns(&k, 500_000).await;
            // The waiter sleeps in the page fault of its first copy: item 0's, with item 1
            // unreached (2.6.21 delivers the batch reversed: item 1's own copy).
            k.sys_write(pipes[1].1, b"y").await.unwrap();
            sleep_ns(&k, 2_000_000).await;
            let delivered = match version {
                KernelVersion::V2_6_21 => vec![1, 0],
                KernelVersion::Seed | KernelVersion::V2_6_22 => vec![0, 1],
            };
            assert_eq!(got.borrow().clone(), Some(delivered), "{}", version.name());
            let again = match version {
                KernelVersion::Seed => vec![],
                KernelVersion::V2_6_21 | KernelVersion::V2_6_22 => vec![1],
            };
            assert_eq!(wait(&k, ep, 4).await, again, "{}", version.name());
            assert_eq!(wait(&k, ep, 4).await, Vec::<u64>::new());
            out.borrow_mut().push(("main".into(), "done".into()));
        });
    });
    assert_eq!(log.borrow().len(), KernelVersion::ALL.len());
}
