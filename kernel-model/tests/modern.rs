//! What 6.18 has that the 2007 versions do not: `epoll_create1`, `epoll_pwait2`,
//! EPOLLEXCLUSIVE (its EINVAL rules and its one-waker wake-ups), keyed wake-ups filtered
//! by `ep_poll_callback`, `max_user_watches` (ENOSPC), the loop check (ELOOP) and the
//! path limits of `reverse_path_check` (EINVAL). Each test runs on every version, so
//! that what 2.6.22 and 2.6.21 do instead (ENOSYS, no check, every waiter woken) is
//! asserted too.
//!
//! Every scenario runs under the canonical schedule and must end `Completed` with no
//! report at all (the leak checker included).

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::{buf, datas, ev, on_both, ready_list, single_task_on_both, sleep_ns};
use kernel_model::eventpoll_6_18::{Timespec, EPOLL_CLOEXEC};
use kernel_model::poll::*;
use kernel_model::{EpollEvent, Errno, Kernel, KernelVersion, Options};
use sim::{CpuId, Granularity, SyscallSteps};

type K = Rc<Kernel<SyscallSteps>>;

const MS: u64 = 1_000_000;

fn modern<G: Granularity>(k: &Kernel<G>) -> bool {
    k.version() == KernelVersion::V6_18
}

async fn add<G: Granularity>(k: &Kernel<G>, ep: i32, fd: i32, events: u32, data: u64) {
    k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, fd, ev(events, data))
        .await
        .unwrap_or_else(|e| panic!("ADD fd {fd} to {ep}: {e}"));
}

async fn poll_now<G: Granularity>(k: &Kernel<G>, ep: i32) -> Vec<EpollEvent> {
    k.sys_epoll_wait(ep, buf(), 8, 0).await.unwrap()
}

#[test]
fn epoll_create1_takes_only_epoll_cloexec_and_is_enosys_before_2_6_27() {
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        assert_eq!(k.sys_epoll_create(0).await, Err(Errno::EINVAL));
        assert_eq!(k.sys_epoll_create(-1).await, Err(Errno::EINVAL));
        if !modern(&k) {
            assert_eq!(k.sys_epoll_create1(0).await, Err(Errno::ENOSYS));
            assert_eq!(k.sys_epoll_create1(EPOLL_CLOEXEC).await, Err(Errno::ENOSYS));
            return;
        }
        assert_eq!(k.sys_epoll_create1(0).await, Ok(3));
        assert_eq!(k.sys_epoll_create1(EPOLL_CLOEXEC).await, Ok(4));
        for flags in [1, -1, EPOLL_CLOEXEC | 1, 0o4000] {
            assert_eq!(
                k.sys_epoll_create1(flags).await,
                Err(Errno::EINVAL),
                "{flags:#o}"
            );
        }
        // The new sets work like epoll_create's.
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, 4, r, EPOLLIN, 7).await;
        k.sys_write(w, b"x").await.unwrap();
        assert_eq!(datas(&poll_now(&k, 4).await), vec![7]);
    });
}

#[test]
fn epoll_pwait2_reads_a_timespec_and_is_enosys_before_5_11() {
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let ts = |tv_sec, tv_nsec| Some(Timespec { tv_sec, tv_nsec });
        if !modern(&k) {
            assert_eq!(
                k.sys_epoll_pwait2(ep, buf(), 4, ts(0, 0), false).await,
                Err(Errno::ENOSYS)
            );
            return;
        }
        for bad in [ts(-1, 0), ts(0, -1), ts(0, 1_000_000_000)] {
            assert_eq!(
                k.sys_epoll_pwait2(ep, buf(), 4, bad, false).await,
                Err(Errno::EINVAL)
            );
        }
        // The zero timespec does not block.
        let start = k.cx.now_ns();
        assert_eq!(
            k.sys_epoll_pwait2(ep, buf(), 4, ts(0, 0), false).await,
            Ok(vec![])
        );
        assert!(k.cx.now_ns() - start < MS);
        // 10 ms: the deadline, rounded up to the machine's jiffy (4 ms at HZ 250).
        let start = k.cx.now_ns();
        assert_eq!(
            k.sys_epoll_pwait2(ep, buf(), 4, ts(0, 10 * MS as i64), true)
                .await,
            Ok(vec![])
        );
        let elapsed = k.cx.now_ns() - start;
        assert!((10 * MS..15 * MS).contains(&elapsed), "{elapsed} ns");
        // A NULL timespec waits for ever, but a ready item returns at once.
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, ep, r, EPOLLIN, 1).await;
        k.sys_write(w, b"x").await.unwrap();
        assert_eq!(
            k.sys_epoll_pwait2(ep, buf(), 4, None, false).await,
            Ok(vec![EpollEvent {
                events: EPOLLIN,
                data: 1
            }])
        );
    });
}

#[test]
fn epollexclusive_is_einval_with_mod_with_an_epoll_target_or_with_other_bits() {
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let inner = k.sys_epoll_create(1).await.unwrap();
        let [r, _w] = k.sys_pipe().await.unwrap();
        let [r2, _w2] = k.sys_pipe().await.unwrap();
        let ctl = |op, fd, events| {
            let k = k.clone();
            async move { k.sys_epoll_ctl(ep, op, fd, ev(events, 0)).await }
        };
        if !modern(&k) {
            // The bit means nothing to 2.6.x: unknown bits are accepted silently.
            assert_eq!(
                ctl(EPOLL_CTL_ADD, r, EPOLLIN | EPOLLEXCLUSIVE).await,
                Ok(())
            );
            assert_eq!(
                ctl(EPOLL_CTL_MOD, r, EPOLLIN | EPOLLEXCLUSIVE).await,
                Ok(())
            );
            return;
        }
        let x = EPOLLEXCLUSIVE;
        assert_eq!(
            ctl(EPOLL_CTL_ADD, inner, EPOLLIN | x).await,
            Err(Errno::EINVAL)
        );
        for other in [EPOLLONESHOT, EPOLLPRI, EPOLLRDHUP, EPOLLRDNORM] {
            assert_eq!(
                ctl(EPOLL_CTL_ADD, r, EPOLLIN | x | other).await,
                Err(Errno::EINVAL),
                "{}",
                mask_to_string(other)
            );
        }
        // The allowed bits, EPOLLWAKEUP included (stripped without CAP_BLOCK_SUSPEND).
        let ok = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | x;
        assert_eq!(ctl(EPOLL_CTL_ADD, r, ok).await, Ok(()));
        // MOD with the bit is EINVAL; MOD of an exclusive item without it too.
        assert_eq!(ctl(EPOLL_CTL_MOD, r, EPOLLIN | x).await, Err(Errno::EINVAL));
        assert_eq!(ctl(EPOLL_CTL_MOD, r, EPOLLIN).await, Err(Errno::EINVAL));
        // MOD of an ordinary item with the bit: EINVAL before the lookup.
        assert_eq!(ctl(EPOLL_CTL_ADD, r2, EPOLLIN).await, Ok(()));
        assert_eq!(
            ctl(EPOLL_CTL_MOD, r2, EPOLLIN | x).await,
            Err(Errno::EINVAL)
        );
        assert_eq!(ctl(EPOLL_CTL_DEL, r, 0).await, Ok(()));
    });
}

/// Two sets each watch the read end of one pipe, one waiter sleeping on each. With
/// EPOLLEXCLUSIVE, the pipe's `wake_up` (nr_exclusive 1) stops at the first set whose
/// callback found a waiter: one waiter wakes, the other sleeps to its timeout and
/// returns nothing ("wakes at least one"). Without it, both wake. 2.6.x ignores the
/// bit.
#[test]
fn epollexclusive_wakes_one_of_two_sets() {
    for exclusive in [false, true] {
        let woken_early = Rc::new(Cell::new(0u32));
        let results = Rc::new(Cell::new(0u32));
        let (early, all) = (woken_early.clone(), results.clone());
        let outcomes = on_both::<SyscallSteps>(&Options::default(), move |world, version| {
            let p = world.process("app");
            let (early, all) = (early.clone(), all.clone());
            world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
                let [r, w] = k.sys_pipe().await.unwrap();
                let flag = if exclusive { EPOLLEXCLUSIVE } else { 0 };
                let mut sets = Vec::new();
                for data in [1, 2] {
                    let ep = k.sys_epoll_create(1).await.unwrap();
                    add(&k, ep, r, EPOLLIN | flag, data).await;
                    sets.push(ep);
                }
                let done = Rc::new(Cell::new(0u32));
                for &ep in &sets {
                    let (done, all) = (done.clone(), all.clone());
                    k.spawn_thread("waiter", Some(CpuId(1)), move |k| async move {
                        let got = k.sys_epoll_wait(ep, buf(), 4, 50).await.unwrap();
                        done.set(done.get() + 1);
                        all.set(all.get() + got.len() as u32);
                    });
                }
                sleep_ns(&k, MS).await;
                k.sys_write(w, b"x").await.unwrap();
                sleep_ns(&k, MS).await;
                let expected = if exclusive && version == KernelVersion::V6_18 {
                    1
                } else {
                    2
                };
                assert_eq!(done.get(), expected, "{}", version.name());
                early.set(early.get() + done.get());
                sleep_ns(&k, 100 * MS).await;
                assert_eq!(done.get(), 2);
            });
        });
        assert_eq!(outcomes.len(), KernelVersion::ALL.len());
        let versions = KernelVersion::ALL.len() as u32;
        let one_less = u32::from(exclusive);
        assert_eq!(woken_early.get(), 2 * versions - one_less);
        // The set whose waiter was not woken never had its item queued: it times out
        // with nothing although the pipe is readable.
        assert_eq!(results.get(), 2 * versions - one_less);
    }
}

/// A keyed wake-up whose key does not intersect an item's events is ignored by 6.18's
/// `ep_poll_callback`: data arriving on a socket (key IN|PRI|RDNORM|RDBAND) does not
/// queue an edge-triggered EPOLLOUT item again. 2.6.x's wakes carry no key: the item
/// is queued, re-polled, found writable, and reported as a new edge.
#[test]
fn a_keyed_wake_that_misses_the_items_events_is_ignored_on_6_18() {
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [a, b] = k.sys_socketpair().await.unwrap();
        add(&k, ep, a, EPOLLOUT | EPOLLET, 1).await;
        assert_eq!(datas(&poll_now(&k, ep).await), vec![1]);
        assert_eq!(poll_now(&k, ep).await, vec![]);
        k.sys_write(b, b"data").await.unwrap();
        let expected: Vec<u64> = if modern(&k) { vec![] } else { vec![1] };
        assert_eq!(ready_list(&k, ep), expected);
        assert_eq!(datas(&poll_now(&k, ep).await), expected);
        // A wake whose key matches (write space, after a read on the peer's side of
        // the queue) is taken by both.
        let ep2 = k.sys_epoll_create(1).await.unwrap();
        add(&k, ep2, a, EPOLLIN | EPOLLET, 2).await;
        assert_eq!(datas(&poll_now(&k, ep2).await), vec![2]);
        k.sys_write(b, b"more").await.unwrap();
        assert_eq!(datas(&poll_now(&k, ep2).await), vec![2]);
    });
}

#[test]
fn max_user_watches_is_enospc_on_6_18() {
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        k.set_max_user_watches(2);
        let ep = k.sys_epoll_create(1).await.unwrap();
        let mut reads = Vec::new();
        for _ in 0..3 {
            reads.push(k.sys_pipe().await.unwrap()[0]);
        }
        add(&k, ep, reads[0], EPOLLIN, 0).await;
        add(&k, ep, reads[1], EPOLLIN, 1).await;
        let third = k
            .sys_epoll_ctl(ep, EPOLL_CTL_ADD, reads[2], ev(EPOLLIN, 2))
            .await;
        if !modern(&k) {
            assert_eq!(third, Ok(()));
            return;
        }
        assert_eq!(third, Err(Errno::ENOSPC));
        // The limit is per user, across sets; a removal makes room.
        let ep2 = k.sys_epoll_create1(0).await.unwrap();
        assert_eq!(
            k.sys_epoll_ctl(ep2, EPOLL_CTL_ADD, reads[2], ev(EPOLLIN, 2))
                .await,
            Err(Errno::ENOSPC)
        );
        k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, reads[0], None)
            .await
            .unwrap();
        add(&k, ep2, reads[2], EPOLLIN, 2).await;
        // Closing a watched file gives its watch back too.
        k.sys_close(reads[1]).await.unwrap();
        add(&k, ep, reads[0], EPOLLIN, 0).await;
    });
}

#[test]
fn a_cycle_of_three_sets_is_eloop_on_6_18() {
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        let e1 = k.sys_epoll_create(1).await.unwrap();
        let e2 = k.sys_epoll_create(1).await.unwrap();
        let e3 = k.sys_epoll_create(1).await.unwrap();
        add(&k, e1, e2, EPOLLIN, 2).await;
        add(&k, e2, e3, EPOLLIN, 3).await;
        let closing = k.sys_epoll_ctl(e3, EPOLL_CTL_ADD, e1, ev(EPOLLIN, 1)).await;
        if modern(&k) {
            assert_eq!(closing, Err(Errno::ELOOP));
            // A set may still be watched twice without a cycle.
            let e4 = k.sys_epoll_create(1).await.unwrap();
            add(&k, e4, e3, EPOLLIN, 3).await;
            add(&k, e4, e2, EPOLLIN, 2).await;
        } else {
            // 2.6.x has no loop check: the cycle is built.
            assert_eq!(closing, Ok(()));
        }
    });
}

/// `reverse_path_check`: at most 100 wake-up paths of length 3 may lead up from one
/// file (path_limits[2]). A pipe watched by `inner`, itself watched by `middle`: each
/// set that watches `middle` adds one such path; the 101st ADD is EINVAL on 6.18.
#[test]
fn too_many_wake_up_paths_are_einval_on_6_18() {
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        let inner = k.sys_epoll_create(1).await.unwrap();
        let middle = k.sys_epoll_create(1).await.unwrap();
        let [r, _w] = k.sys_pipe().await.unwrap();
        add(&k, inner, r, EPOLLIN, 0).await;
        add(&k, middle, inner, EPOLLIN, 1).await;
        for n in 1..=101 {
            let top = k.sys_epoll_create(1).await.unwrap();
            let got = k
                .sys_epoll_ctl(top, EPOLL_CTL_ADD, middle, ev(EPOLLIN, 2))
                .await;
            if modern(&k) && n == 101 {
                assert_eq!(got, Err(Errno::EINVAL), "path {n}");
            } else {
                assert_eq!(got, Ok(()), "path {n}");
            }
        }
    });
}

/// 6.18's pipes keep writers and readers on separate heads with keyed wake-ups: an
/// edge-triggered EPOLLOUT item on the write end hears only a reader that makes room in
/// a full pipe. 2.6.x's single head wakes it on every write and on every read that
/// empties a buffer, so it reports a new "edge" each time.
#[test]
fn a_write_end_edge_triggered_item_hears_only_room_made_in_a_full_pipe_on_6_18() {
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, ep, w, EPOLLOUT | EPOLLET, 1).await;
        assert_eq!(datas(&poll_now(&k, ep).await), vec![1]);
        let again: Vec<u64> = if modern(&k) { vec![] } else { vec![1] };
        k.sys_write(w, b"x").await.unwrap();
        assert_eq!(datas(&poll_now(&k, ep).await), again);
        assert_eq!(k.sys_read(r, 1).await, Ok(b"x".to_vec()));
        assert_eq!(datas(&poll_now(&k, ep).await), again);
        // Fill all sixteen slots: not writable, nothing to report on either.
        k.sys_fcntl(
            w,
            kernel_model::syscalls::F_SETFL,
            kernel_model::objects::O_NONBLOCK,
        )
        .await
        .unwrap();
        let page = vec![b'p'; 4096];
        for _ in 0..16 {
            assert_eq!(k.sys_write(w, &page).await, Ok(4096));
        }
        assert_eq!(k.sys_write(w, b"y").await, Err(Errno::EAGAIN));
        assert_eq!(poll_now(&k, ep).await, vec![]);
        // Room made in a full pipe: an edge on every version.
        assert_eq!(k.sys_read(r, 4096).await.map(|b| b.len()), Ok(4096));
        assert_eq!(datas(&poll_now(&k, ep).await), vec![1]);
    });
}

/// 6.18's eventfd: `eventfd2` with EFD_NONBLOCK and EFD_SEMAPHORE (ENOSYS before 2.6.27),
/// and keyed wake-ups (a write wakes with EPOLLIN, a read with EPOLLOUT): an
/// edge-triggered EPOLLOUT watcher no longer hears writes.
#[test]
fn eventfd2_flags_semaphore_reads_and_keyed_wakes() {
    use kernel_model::eventfd::{EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE};
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        if !modern(&k) {
            assert_eq!(k.sys_eventfd2(0, 0).await, Err(Errno::ENOSYS));
        } else {
            assert_eq!(k.sys_eventfd2(0, 2).await, Err(Errno::EINVAL));
            let sem = k
                .sys_eventfd2(3, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC)
                .await
                .unwrap();
            for _ in 0..3 {
                assert_eq!(k.sys_read(sem, 8).await, Ok(1u64.to_le_bytes().to_vec()));
            }
            assert_eq!(k.sys_read(sem, 8).await, Err(Errno::EAGAIN));
        }
        if k.version().missing_syscall("eventfd").is_some() {
            assert_eq!(k.sys_eventfd(0).await, Err(Errno::ENOSYS));
            return;
        }
        let efd = k.sys_eventfd(0).await.unwrap();
        let ep = k.sys_epoll_create(1).await.unwrap();
        add(&k, ep, efd, EPOLLOUT | EPOLLET, 1).await;
        assert_eq!(datas(&poll_now(&k, ep).await), vec![1]);
        k.sys_write(efd, &5u64.to_le_bytes()).await.unwrap();
        let again: Vec<u64> = if modern(&k) { vec![] } else { vec![1] };
        assert_eq!(datas(&poll_now(&k, ep).await), again);
        // A read wakes with EPOLLOUT: heard by every version.
        assert_eq!(k.sys_read(efd, 8).await, Ok(5u64.to_le_bytes().to_vec()));
        assert_eq!(datas(&poll_now(&k, ep).await), vec![1]);
    });
}

/// timerfd on virtual time (6.18; ENOSYS on the 2007 versions): creation errors, a
/// one-shot timer that wakes an `epoll_wait` at its expiry, an interval timer whose
/// missed expiries a late read counts, `timerfd_gettime`, and the old setting that
/// `timerfd_settime` returns.
#[test]
fn timerfd_expires_on_virtual_time_and_wakes_epoll() {
    use kernel_model::timerfd::{
        Itimerspec, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC, TFD_NONBLOCK, TFD_TIMER_ABSTIME,
    };
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        if !modern(&k) {
            assert_eq!(
                k.sys_timerfd_create(CLOCK_MONOTONIC, 0).await,
                Err(Errno::ENOSYS)
            );
            return;
        }
        assert_eq!(
            k.sys_timerfd_create(CLOCK_MONOTONIC, 4).await,
            Err(Errno::EINVAL)
        );
        assert_eq!(k.sys_timerfd_create(42, 0).await, Err(Errno::EINVAL));
        assert_eq!(
            k.sys_timerfd_create(CLOCK_BOOTTIME_ALARM, 0).await,
            Err(Errno::EPERM)
        );
        let tfd = k
            .sys_timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK)
            .await
            .unwrap();
        assert_eq!(k.sys_read(tfd, 8).await, Err(Errno::EAGAIN));
        let ep = k.sys_epoll_create1(0).await.unwrap();
        add(&k, ep, tfd, EPOLLIN, 9).await;
        // One shot, 5 ms from now: the wait sleeps until the expiry.
        let start = k.cx.now_ns();
        let none = Itimerspec::default();
        let old = k
            .sys_timerfd_settime(
                tfd,
                0,
                Itimerspec {
                    interval_ns: 0,
                    value_ns: 5 * MS,
                },
            )
            .await;
        assert_eq!(old, Ok(none));
        let left = k.sys_timerfd_gettime(tfd).await.unwrap();
        assert!(
            left.value_ns > 4 * MS && left.value_ns <= 5 * MS,
            "{left:?}"
        );
        assert_eq!(
            datas(&k.sys_epoll_wait(ep, buf(), 4, -1).await.unwrap()),
            vec![9]
        );
        let waited = k.cx.now_ns() - start;
        assert!((5 * MS..6 * MS).contains(&waited), "{waited} ns");
        assert_eq!(k.sys_read(tfd, 8).await, Ok(1u64.to_le_bytes().to_vec()));
        assert_eq!(poll_now(&k, ep).await, vec![]);
        assert_eq!(k.sys_timerfd_gettime(tfd).await, Ok(none));
        // Every 2 ms from an absolute time 2 ms ahead; read 7 ms later: 3 expiries.
        let now = k.cx.now_ns();
        let every = Itimerspec {
            interval_ns: 2 * MS,
            value_ns: now + 2 * MS,
        };
        assert_eq!(
            k.sys_timerfd_settime(tfd, TFD_TIMER_ABSTIME, every).await,
            Ok(none)
        );
        sleep_ns(&k, 7 * MS).await;
        assert_eq!(k.sys_read(tfd, 8).await, Ok(3u64.to_le_bytes().to_vec()));
        // Re-armed at the next interval boundary (9 ms after setting).
        let left = k.sys_timerfd_gettime(tfd).await.unwrap();
        assert_eq!(left.interval_ns, 2 * MS);
        assert!(left.value_ns > 0 && left.value_ns <= 2 * MS, "{left:?}");
        // Disarm: the old setting comes back; nothing fires any more.
        let old = k.sys_timerfd_settime(tfd, 0, none).await.unwrap();
        assert_eq!(old.interval_ns, 2 * MS);
        sleep_ns(&k, 10 * MS).await;
        assert_eq!(k.sys_read(tfd, 8).await, Err(Errno::EAGAIN));
    });
}

/// EPOLLPRI on 6.18 as this host's Linux 6.18.44 answers (`docs/host-check/epollpri-6.18.c`):
/// no file kind the model has reports it — pipes, eventfd, timerfd and unix stream sockets
/// with data — so an item that asks only for EPOLLPRI is never ready, unless EPOLLERR or
/// EPOLLHUP (always reported) comes; with EPOLLIN|EPOLLPRI only EPOLLIN is reported. (The
/// host's one source, out-of-band data on a unix stream socket, `send(MSG_OOB)`, is not
/// modelled.) The 2007 versions answer the same.
#[test]
fn epollpri_is_reported_by_no_modelled_file_kind_as_on_the_host() {
    use kernel_model::timerfd::{Itimerspec, CLOCK_MONOTONIC};
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        let probe = |fd: i32, events: u32| {
            let k = k.clone();
            async move {
                let ep = k.sys_epoll_create(1).await.unwrap();
                add(&k, ep, fd, events, 1).await;
                let got = poll_now(&k, ep).await.first().map_or(0, |e| e.events);
                k.sys_close(ep).await.unwrap();
                got
            }
        };
        let [r, w] = k.sys_pipe().await.unwrap();
        k.sys_write(w, b"x").await.unwrap();
        assert_eq!(probe(r, EPOLLPRI).await, 0, "pipe read end, readable");
        assert_eq!(probe(r, EPOLLIN | EPOLLPRI).await, EPOLLIN);
        assert_eq!(probe(w, EPOLLPRI).await, 0, "pipe write end");
        if k.version().missing_syscall("eventfd").is_none() {
            let efd = k.sys_eventfd(1).await.unwrap();
            assert_eq!(probe(efd, EPOLLPRI).await, 0, "eventfd count 1");
            assert_eq!(probe(efd, EPOLLIN | EPOLLPRI).await, EPOLLIN);
        }
        if modern(&k) {
            let tfd = k.sys_timerfd_create(CLOCK_MONOTONIC, 0).await.unwrap();
            let soon = Itimerspec {
                interval_ns: 0,
                value_ns: 1000,
            };
            k.sys_timerfd_settime(tfd, 0, soon).await.unwrap();
            sleep_ns(&k, MS).await;
            assert_eq!(probe(tfd, EPOLLPRI).await, 0, "timerfd expired");
            assert_eq!(probe(tfd, EPOLLIN | EPOLLPRI).await, EPOLLIN);
        }
        let [a, b] = k.sys_socketpair().await.unwrap();
        k.sys_write(a, b"d").await.unwrap();
        assert_eq!(probe(b, EPOLLPRI).await, 0, "unix stream with data");
        assert_eq!(probe(b, EPOLLIN | EPOLLPRI).await, EPOLLIN);
        let [c, d] = k.sys_socketpair().await.unwrap();
        k.sys_close(c).await.unwrap();
        assert_eq!(
            probe(d, EPOLLPRI).await,
            EPOLLHUP,
            "unix stream, peer closed"
        );
        assert_eq!(probe(d, EPOLLIN | EPOLLPRI).await, EPOLLIN | EPOLLHUP);
        k.sys_close(r).await.unwrap();
        assert_eq!(
            probe(w, EPOLLPRI).await,
            EPOLLERR,
            "pipe write end, reader gone"
        );
    });
}

/// 6.18's `eventfd_signal_mask` refuses to run inside an eventfd wake-up
/// (`WARN_ON_ONCE(current->in_eventfd)`): nothing added, nobody woken. The flag is set by
/// eventfd's own wake-ups only; here the test sets it, standing for a wake-up handler
/// that signals again. 2.6.22 has no such flag.
#[test]
fn eventfd_signal_is_refused_inside_an_eventfd_wake_up_on_6_18() {
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        if k.version().missing_syscall("eventfd").is_some() {
            return;
        }
        let efd = k.sys_eventfd(0).await.unwrap();
        let file = k.eventfd_fget(efd).await.unwrap();
        let ep = k.sys_epoll_create(1).await.unwrap();
        add(&k, ep, efd, EPOLLIN, 5).await;
        k.set_in_eventfd(true);
        let inside = k.eventfd_signal(file, 1).await;
        k.set_in_eventfd(false);
        if modern(&k) {
            assert_eq!(inside, Ok(0));
            assert_eq!(k.eventfd_count_peek(file), Some(0));
            assert_eq!(poll_now(&k, ep).await, vec![]);
        } else {
            assert_eq!(inside, Ok(1));
        }
        assert_eq!(k.eventfd_signal(file, 1).await, Ok(1));
        assert!(!k.in_eventfd());
        assert_eq!(datas(&poll_now(&k, ep).await), vec![5]);
        k.fput(file).await;
    });
}

/// timerfd's flags as 6.18 checks them (this host agrees): TFD_TIMER_CANCEL_ON_SET is
/// accepted on any clock, with or without TFD_TIMER_ABSTIME; other bits are EINVAL. The
/// model's clocks are never set, so a CANCEL_ON_SET timer expires like any other (on the
/// host too, while nobody sets the clock) and `read` never returns ECANCELED.
#[test]
fn timerfd_cancel_on_set_is_accepted_and_never_cancels_on_6_18() {
    use kernel_model::timerfd::{
        Itimerspec, CLOCK_MONOTONIC, CLOCK_REALTIME, TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET,
    };
    single_task_on_both::<SyscallSteps, _, _>(&Options::default(), |k: K| async move {
        if !modern(&k) {
            return;
        }
        let later = Itimerspec {
            interval_ns: 0,
            value_ns: 100 * MS,
        };
        let rt = k.sys_timerfd_create(CLOCK_REALTIME, 0).await.unwrap();
        let mono = k.sys_timerfd_create(CLOCK_MONOTONIC, 0).await.unwrap();
        for (fd, flags) in [
            (rt, TFD_TIMER_CANCEL_ON_SET),
            (rt, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET),
            (mono, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET),
        ] {
            assert!(
                k.sys_timerfd_settime(fd, flags, later).await.is_ok(),
                "{flags}"
            );
        }
        assert_eq!(
            k.sys_timerfd_settime(mono, 4, later).await,
            Err(Errno::EINVAL)
        );
        let soon = Itimerspec {
            interval_ns: 0,
            value_ns: k.cx.now_ns() + MS,
        };
        k.sys_timerfd_settime(rt, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, soon)
            .await
            .unwrap();
        sleep_ns(&k, 2 * MS).await;
        assert_eq!(k.sys_read(rt, 8).await, Ok(1u64.to_le_bytes().to_vec()));
    });
}
