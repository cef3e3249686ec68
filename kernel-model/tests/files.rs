//! eventfd, AF_UNIX stream socketpairs and the externally fed socket, through `World`
//! runs: poll masks in each state, blocking and non-blocking reads and writes, wake-ups
//! reaching epoll waiters on another CPU, ET versus LT, shutdown and close masks, and
//! interrupt-context delivery — on every kernel version.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use kernel_model::eventfd::ULLONG_MAX;
use kernel_model::kernel::Kernel;
use kernel_model::objects::{FileId, O_NONBLOCK};
use kernel_model::poll::*;
use kernel_model::socket::{skb_truesize, unix_writable, SYSCTL_WMEM_DEFAULT};
use kernel_model::syscalls::{F_SETFL, SHUT_RD, SHUT_RDWR, SHUT_WR};
use kernel_model::user::UserBufferSpec;
use kernel_model::world::Outcome;
use kernel_model::{Errno, KernelVersion, Options, World};
use sim::config::AllocFailure;
use sim::machine::RunEnd;
use sim::strategy::Canonical;
use sim::trace::TraceEvent;
use sim::{CpuId, Granularity, SyscallSteps, TaskId};

type Log = Rc<RefCell<Vec<String>>>;

fn options(version: KernelVersion) -> Options {
    let mut options = Options::default();
    options.kernel.version = version;
    options
}

/// The versions whose tree has eventfd (e1ad7468c77d): 2.6.22 of the 2007 ones.
fn versions_with_eventfd() -> impl Iterator<Item = KernelVersion> {
    KernelVersion::ALL
        .into_iter()
        .filter(|version| version.missing_syscall("eventfd").is_none())
}

/// Runs to the end and asserts a clean finish (the leak checker ran).
fn run_clean<G: Granularity>(world: &mut World<G>) -> Outcome {
    let outcome = world.run(&mut Canonical::default());
    assert_eq!(
        outcome.result.end,
        RunEnd::Completed,
        "{:?}",
        outcome.reports()
    );
    assert!(outcome.reports().is_empty(), "{:?}", outcome.reports());
    outcome
}

/// `f_op->poll(file, NULL)` through the descriptor; the checkers' step-free
/// `poll_peek` must agree with it.
async fn poll_mask<G: Granularity>(k: &Kernel<G>, fd: i32) -> u32 {
    let file = k.fget(fd).await.expect("open descriptor");
    let mask = k.vfs_poll(file, PollTable::Null).await;
    assert_eq!(
        k.poll_peek(file),
        Some(mask),
        "poll_peek disagrees with f_op->poll"
    );
    k.fput(file).await;
    mask
}

async fn add<G: Granularity>(k: &Kernel<G>, ep: i32, fd: i32, events: u32, data: u64) {
    k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, fd, Some(EpollEvent { events, data }))
        .await
        .unwrap();
}

async fn wait<G: Granularity>(k: &Kernel<G>, ep: i32, timeout: i32) -> Vec<EpollEvent> {
    k.sys_epoll_wait(ep, UserBufferSpec::default(), 8, timeout)
        .await
        .unwrap()
}

fn one(events: u32, data: u64) -> Vec<EpollEvent> {
    vec![EpollEvent { events, data }]
}

async fn set_nonblock<G: Granularity>(k: &Kernel<G>, fd: i32) {
    k.sys_fcntl(fd, F_SETFL, O_NONBLOCK).await.unwrap();
}

fn u64_bytes(value: u64) -> [u8; 8] {
    value.to_le_bytes()
}

const OUT: u32 = POLLOUT | POLLWRNORM | POLLWRBAND;
const IN: u32 = POLLIN | POLLRDNORM;

// ---- eventfd -----------------------------------------------------------------------------

/// 2.6.21 and the 6192bd536f96 tree have no eventfd (e1ad7468c77d came after both; the
/// seed's side is a documented decision, digest §0.3): the number runs
/// `sys_ni_syscall`, ENOSYS, and no descriptor is made. 2.6.22 has it.
#[test]
fn eventfd_is_enosys_where_the_tree_has_none() {
    for version in KernelVersion::ALL {
        let mut world = World::<SyscallSteps>::new(&options(version), 100).unwrap();
        let p = world.process("app");
        world.spawn(p, "main", None, move |k| async move {
            let result = k.sys_eventfd(0).await;
            let has_eventfd = match version {
                KernelVersion::V2_6_21 | KernelVersion::Seed => false,
                KernelVersion::V2_6_22 | KernelVersion::V6_18 => true,
            };
            match has_eventfd {
                false => assert_eq!(result, Err(Errno::ENOSYS), "{version:?}"),
                true => assert_eq!(result, Ok(3), "{version:?}"),
            }
            let next_fd = if has_eventfd { 4 } else { 3 };
            assert_eq!(k.sys_epoll_create(1).await, Ok(next_fd));
        });
        run_clean(&mut world);
    }
}

#[test]
fn eventfd_masks_counter_and_error_paths() {
    for version in versions_with_eventfd() {
        let mut world = World::<SyscallSteps>::new(&options(version), 101).unwrap();
        let p = world.process("app");
        let done = Rc::new(Cell::new(false));
        let flag = done.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let efd = k.sys_eventfd(0).await.unwrap();
            assert_eq!(poll_mask(&k, efd).await, POLLOUT);
            set_nonblock(&k, efd).await;
            assert_eq!(k.sys_read(efd, 8).await, Err(Errno::EAGAIN));
            assert_eq!(k.sys_read(efd, 7).await, Err(Errno::EINVAL));
            assert_eq!(k.sys_write(efd, &[1, 0, 0, 0]).await, Err(Errno::EINVAL));
            assert_eq!(
                k.sys_write(efd, &u64_bytes(ULLONG_MAX)).await,
                Err(Errno::EINVAL)
            );
            // Writes add; a longer buffer uses its first 8 bytes on 2.6.22 and is EINVAL
            // on 6.18 (`count != sizeof(ucnt)`, as this host's 6.18.44 answers).
            assert_eq!(k.sys_write(efd, &u64_bytes(2)).await, Ok(8));
            let mut long = u64_bytes(3).to_vec();
            long.extend_from_slice(&[9; 8]);
            if version == KernelVersion::V6_18 {
                assert_eq!(k.sys_write(efd, &long).await, Err(Errno::EINVAL));
                assert_eq!(k.sys_write(efd, &long[..9]).await, Err(Errno::EINVAL));
                assert_eq!(k.sys_write(efd, &u64_bytes(3)).await, Ok(8));
            } else {
                assert_eq!(k.sys_write(efd, &long).await, Ok(8));
            }
            assert_eq!(poll_mask(&k, efd).await, POLLIN | POLLOUT);
            assert_eq!(k.sys_read(efd, 16).await, Ok(u64_bytes(5).to_vec()));
            assert_eq!(poll_mask(&k, efd).await, POLLOUT);
            // Through write(2) the counter reaches at most ULLONG_MAX - 1: no POLLOUT.
            assert_eq!(k.sys_write(efd, &u64_bytes(ULLONG_MAX - 1)).await, Ok(8));
            assert_eq!(poll_mask(&k, efd).await, POLLIN);
            assert_eq!(k.sys_write(efd, &u64_bytes(1)).await, Err(Errno::EAGAIN));
            // A write of 0 still fits (ULLONG_MAX - count = 1 > 0).
            assert_eq!(k.sys_write(efd, &u64_bytes(0)).await, Ok(8));
            // eventfd_signal saturates: POLLERR becomes reachable. 6.18's adds exactly 1
            // (no count argument: any other n is EINVAL here).
            let file = k.eventfd_fget(efd).await.unwrap();
            assert_eq!(k.eventfd_signal(file, -1).await, Err(Errno::EINVAL));
            let n = if version == KernelVersion::V6_18 {
                assert_eq!(k.eventfd_signal(file, 5).await, Err(Errno::EINVAL));
                1
            } else {
                5
            };
            assert_eq!(k.eventfd_signal(file, n).await, Ok(1));
            assert_eq!(k.eventfd_count_peek(file), Some(ULLONG_MAX));
            assert_eq!(poll_mask(&k, efd).await, POLLIN | POLLERR);
            assert_eq!(k.eventfd_signal(file, n).await, Ok(0));
            k.fput(file).await;
            assert_eq!(k.sys_read(efd, 8).await, Ok(u64_bytes(ULLONG_MAX).to_vec()));
            assert_eq!(poll_mask(&k, efd).await, POLLOUT);
            // eventfd_fget's type check; the initial value.
            let [r, w] = k.sys_pipe().await.unwrap();
            assert_eq!(k.eventfd_fget(r).await, Err(Errno::EINVAL));
            assert_eq!(k.eventfd_fget(99).await, Err(Errno::EBADF));
            let efd2 = k.sys_eventfd(7).await.unwrap();
            assert_eq!(k.sys_read(efd2, 8).await, Ok(u64_bytes(7).to_vec()));
            for fd in [r, w, efd, efd2] {
                k.sys_close(fd).await.unwrap();
            }
            assert_eq!(k.sys_read(efd, 8).await, Err(Errno::EBADF));
            flag.set(true);
        });
        run_clean(&mut world);
        assert!(done.get());
    }
}

#[test]
fn eventfd_allocation_failure_is_enomem_without_leaks() {
    for version in versions_with_eventfd() {
        let mut options = options(version);
        options.machine.alloc_failures = vec![AllocFailure {
            class: "eventfd_ctx".into(),
            nth: 2,
        }];
        let mut world = World::<SyscallSteps>::new(&options, 102).unwrap();
        let p = world.process("app");
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let v = k.sys_eventfd(0).await;
            out.borrow_mut().push(format!("{v:?}"));
            let v = k.sys_eventfd(0).await;
            out.borrow_mut().push(format!("{v:?}"));
            let v = k.sys_eventfd(0).await;
            out.borrow_mut().push(format!("{v:?}"));
        });
        run_clean(&mut world);
        assert_eq!(*log.borrow(), vec!["Ok(3)", "Err(ENOMEM)", "Ok(4)"]);
    }
}

#[test]
fn eventfd_blocking_read_and_write_are_woken() {
    for version in versions_with_eventfd() {
        let mut world = World::<SyscallSteps>::new(&options(version), 103).unwrap();
        let p = world.process("app");
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let efd = k.sys_eventfd(0).await.unwrap();
            let out2 = out.clone();
            k.spawn_thread("reader", Some(CpuId(1)), move |k| async move {
                // Blocks: the count is 0 and the file is blocking.
                let got = k.sys_read(efd, 8).await.unwrap();
                out2.borrow_mut().push(format!(
                    "read {} at {}",
                    u64::from_le_bytes(got.try_into().unwrap()),
                    k.cx.now_ns() >= 1_000_000
                ));
                // Fill to ULLONG_MAX - 1, then a blocking write of 1 must wait for a read.
                k.sys_write(efd, &u64_bytes(ULLONG_MAX - 1)).await.unwrap();
                k.sys_write(efd, &u64_bytes(1)).await.unwrap();
                out2.borrow_mut()
                    .push(format!("write done at {}", k.cx.now_ns() >= 2_000_000));
            });
            k.cx.sleep_for(1_000_000).await;
            k.sys_write(efd, &u64_bytes(3)).await.unwrap();
            k.cx.sleep_for(1_000_000).await;
            let got = k.sys_read(efd, 8).await.unwrap();
            out.borrow_mut().push(format!(
                "drained {}",
                u64::from_le_bytes(got.try_into().unwrap()) == ULLONG_MAX - 1
            ));
            k.cx.sleep_for(1_000_000).await;
            let got = k.sys_read(efd, 8).await.unwrap();
            out.borrow_mut().push(format!(
                "then {}",
                u64::from_le_bytes(got.try_into().unwrap())
            ));
        });
        run_clean(&mut world);
        assert_eq!(
            *log.borrow(),
            vec![
                "read 3 at true",
                "drained true",
                "write done at true",
                "then 1"
            ],
            "{version:?}"
        );
    }
}

/// A task asleep in `epoll_wait(-1)` on CPU 1 is woken by a write on CPU 0.
#[test]
fn eventfd_write_wakes_an_epoll_waiter_on_another_cpu() {
    for version in versions_with_eventfd() {
        let mut world = World::<SyscallSteps>::new(&options(version), 104).unwrap();
        let p = world.process("app");
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let efd = k.sys_eventfd(0).await.unwrap();
            add(&k, ep, efd, EPOLLIN, 5).await;
            let out2 = out.clone();
            k.spawn_thread("waiter", Some(CpuId(1)), move |k| async move {
                let events = wait(&k, ep, -1).await;
                out2.borrow_mut()
                    .push(format!("{events:?} slept={}", k.cx.now_ns() >= 1_000_000));
            });
            k.cx.sleep_for(1_000_000).await;
            k.sys_write(efd, &u64_bytes(1)).await.unwrap();
        });
        run_clean(&mut world);
        assert_eq!(
            *log.borrow(),
            vec![format!("{:?} slept=true", one(EPOLLIN, 5))],
            "{version:?}"
        );
    }
}

/// The 2.6.22 eventfd wakes everyone on a write of 0 although the count did not change:
/// an edge for an EPOLLET watcher. Level-triggered, the item is reported every time.
#[test]
fn eventfd_write_of_zero_is_an_edge_and_lt_repeats() {
    for version in versions_with_eventfd() {
        let mut world = World::<SyscallSteps>::new(&options(version), 105).unwrap();
        let p = world.process("app");
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let et = k.sys_eventfd(0).await.unwrap();
            let lt = k.sys_eventfd(0).await.unwrap();
            add(&k, ep, et, EPOLLIN | EPOLLET, 1).await;
            add(&k, ep, lt, EPOLLIN, 2).await;
            assert!(wait(&k, ep, 0).await.is_empty());
            k.sys_write(et, &u64_bytes(1)).await.unwrap();
            k.sys_write(lt, &u64_bytes(1)).await.unwrap();
            let mut rounds = Vec::new();
            for step in 0..4 {
                if step == 2 {
                    // Nothing changes: the count stays 1 and POLLIN stays set.
                    k.sys_write(et, &u64_bytes(0)).await.unwrap();
                }
                let mut datas: Vec<u64> = wait(&k, ep, 0).await.iter().map(|e| e.data).collect();
                datas.sort();
                rounds.push(datas);
            }
            out.borrow_mut().push(format!("{rounds:?}"));
        });
        run_clean(&mut world);
        assert_eq!(
            *log.borrow(),
            vec!["[[1, 2], [2], [1, 2], [2]]".to_string()],
            "{version:?}"
        );
    }
}

/// `eventfd_signal` from an interrupt handler: the epoll callback runs in interrupt
/// context and wakes the sleeper; saturation shows as EPOLLERR.
#[test]
fn eventfd_signal_from_an_interrupt_wakes_epoll_and_can_reach_pollerr() {
    for version in versions_with_eventfd() {
        let mut options = options(version);
        options.machine.keep_trace = true;
        let mut world = World::<SyscallSteps>::new(&options, 106).unwrap();
        let p = world.process("app");
        let file: Rc<Cell<Option<FileId>>> = Rc::new(Cell::new(None));
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let (slot, out) = (file.clone(), log.clone());
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let efd = k.sys_eventfd(0).await.unwrap();
            add(&k, ep, efd, EPOLLIN | EPOLLET, 9).await;
            // A kernel user holds the file to signal it later (from the interrupt).
            let f = k.eventfd_fget(efd).await.unwrap();
            slot.set(Some(f));
            let first = wait(&k, ep, -1).await;
            out.borrow_mut()
                .push(format!("{first:?} at {}", k.cx.now_ns() >= 1_000_000));
            // count = 1 + (ULLONG_MAX - 3): still below ULLONG_MAX - 1. Its edge is
            // consumed here; the next wait sleeps until the second interrupt.
            k.sys_write(efd, &u64_bytes(ULLONG_MAX - 3)).await.unwrap();
            let edge = wait(&k, ep, 0).await;
            out.borrow_mut().push(format!("{edge:?}"));
            let second = wait(&k, ep, -1).await;
            out.borrow_mut().push(format!("{second:?}"));
            k.fput(f).await;
        });
        let irq_file = file.clone();
        world.interrupt(
            1_000_000,
            Some(CpuId(1)),
            "irq:eventfd",
            move |k| async move {
                let f = irq_file.get().expect("set before the interrupt");
                assert_eq!(k.eventfd_signal(f, 1).await, Ok(1));
            },
        );
        let irq_file = file.clone();
        world.interrupt(
            5_000_000,
            Some(CpuId(1)),
            "irq:eventfd2",
            move |k| async move {
                let f = irq_file.get().expect("set before the interrupt");
                // count = 1 + (ULLONG_MAX - 3) = ULLONG_MAX - 2; 10 saturates at +2. On
                // 6.18 each signal adds 1: twice reaches ULLONG_MAX, a third adds nothing.
                if version == KernelVersion::V6_18 {
                    assert_eq!(k.eventfd_signal(f, 1).await, Ok(1));
                    assert_eq!(k.eventfd_signal(f, 1).await, Ok(1));
                    assert_eq!(k.eventfd_signal(f, 1).await, Ok(0));
                } else {
                    assert_eq!(k.eventfd_signal(f, 10).await, Ok(2));
                }
            },
        );
        run_clean(&mut world);
        assert_eq!(
            *log.borrow(),
            vec![
                format!("{:?} at true", one(EPOLLIN, 9)),
                format!("{:?}", one(EPOLLIN, 9)),
                format!("{:?}", one(EPOLLIN | EPOLLERR, 9)),
            ],
            "{version:?}"
        );
        let records = world.machine().take_records();
        let in_irq = records.iter().any(|r| {
            r.in_interrupt
                && r.cpu == CpuId(1)
                && matches!(&r.event, TraceEvent::Note { text } if text.starts_with("ep_poll_callback"))
        });
        assert!(in_irq, "no ep_poll_callback in interrupt context on cpu1");
    }
}

// ---- AF_UNIX stream socketpairs ----------------------------------------------------------

#[test]
fn socketpair_carries_bytes_both_ways_with_stream_semantics() {
    for version in KernelVersion::ALL {
        let mut world = World::<SyscallSteps>::new(&options(version), 201).unwrap();
        let p = world.process("app");
        let done = Rc::new(Cell::new(false));
        let flag = done.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let [a, b] = k.sys_socketpair().await.unwrap();
            assert_eq!((a, b), (3, 4));
            assert_eq!(poll_mask(&k, a).await, OUT);
            assert_eq!(poll_mask(&k, b).await, OUT);
            assert_eq!(k.sys_write(a, b"hello").await, Ok(5));
            assert_eq!(poll_mask(&k, b).await, IN | OUT);
            assert_eq!(poll_mask(&k, a).await, OUT);
            // A partly read skb goes back to the head of the queue.
            assert_eq!(k.sys_read(b, 3).await, Ok(b"hel".to_vec()));
            assert_eq!(poll_mask(&k, b).await, IN | OUT);
            assert_eq!(k.sys_read(b, 10).await, Ok(b"lo".to_vec()));
            assert_eq!(poll_mask(&k, b).await, OUT);
            // Several skbs in one read; the other direction.
            k.sys_write(b, b"ab").await.unwrap();
            k.sys_write(b, b"cd").await.unwrap();
            assert_eq!(k.sys_read(a, 10).await, Ok(b"abcd".to_vec()));
            // Zero-length operations; non-blocking read of an empty socket.
            assert_eq!(k.sys_read(a, 0).await, Ok(Vec::new()));
            assert_eq!(k.sys_write(a, b"").await, Ok(0));
            set_nonblock(&k, a).await;
            assert_eq!(k.sys_read(a, 10).await, Err(Errno::EAGAIN));
            // Shutdown of a non-socket and of a bad descriptor.
            let [r, w] = k.sys_pipe().await.unwrap();
            assert_eq!(k.sys_shutdown(r, SHUT_WR).await, Err(Errno::ENOTSOCK));
            assert_eq!(k.sys_shutdown(77, SHUT_WR).await, Err(Errno::EBADF));
            // A `how` folding to mode 0 does nothing, successfully (2.6.22: no EINVAL).
            assert_eq!(k.sys_shutdown(a, 3).await, Ok(()));
            assert_eq!(poll_mask(&k, a).await, OUT);
            assert_eq!(poll_mask(&k, b).await, OUT);
            for fd in [r, w] {
                k.sys_close(fd).await.unwrap();
            }
            flag.set(true);
        });
        run_clean(&mut world);
        assert!(done.get());
    }
}

/// `unix_shutdown`'s masks: SHUT_WR on A gives B RCV_SHUTDOWN (IN|RDHUP, no HUP) and A
/// only SEND_SHUTDOWN (nothing visible, writes EPIPE); both directions on one socket is
/// POLLHUP.
#[test]
fn shutdown_masks_follow_unix_poll() {
    for version in KernelVersion::ALL {
        let mut world = World::<SyscallSteps>::new(&options(version), 202).unwrap();
        let p = world.process("app");
        let done = Rc::new(Cell::new(false));
        let flag = done.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [a, b] = k.sys_socketpair().await.unwrap();
            add(&k, ep, b, EPOLLIN | EPOLLRDHUP, 2).await;
            assert!(wait(&k, ep, 0).await.is_empty());
            k.sys_shutdown(a, SHUT_WR).await.unwrap();
            assert_eq!(poll_mask(&k, a).await, OUT);
            assert_eq!(poll_mask(&k, b).await, IN | POLLRDHUP | OUT);
            assert_eq!(wait(&k, ep, 0).await, one(EPOLLIN | EPOLLRDHUP, 2));
            assert_eq!(k.sys_write(a, b"x").await, Err(Errno::EPIPE));
            assert_eq!(k.sys_read(b, 10).await, Ok(Vec::new()), "EOF");
            // B may still write to A.
            assert_eq!(k.sys_write(b, b"y").await, Ok(1));
            assert_eq!(k.sys_read(a, 10).await, Ok(b"y".to_vec()));
            // SHUT_WR on B too: both directions shut on each socket -> POLLHUP.
            k.sys_shutdown(b, SHUT_WR).await.unwrap();
            assert_eq!(poll_mask(&k, a).await, POLLHUP | POLLRDHUP | IN | OUT);
            assert_eq!(poll_mask(&k, b).await, POLLHUP | POLLRDHUP | IN | OUT);
            assert_eq!(
                wait(&k, ep, 0).await,
                one(EPOLLIN | EPOLLRDHUP | EPOLLHUP, 2)
            );
            // SHUT_RD: the own socket gets RCV_SHUTDOWN, the peer SEND_SHUTDOWN.
            let [c, d] = k.sys_socketpair().await.unwrap();
            k.sys_shutdown(c, SHUT_RD).await.unwrap();
            assert_eq!(poll_mask(&k, c).await, POLLRDHUP | IN | OUT);
            assert_eq!(poll_mask(&k, d).await, OUT);
            assert_eq!(k.sys_write(d, b"z").await, Err(Errno::EPIPE));
            // SHUT_RDWR: both ends see everything shut.
            let [e, f] = k.sys_socketpair().await.unwrap();
            k.sys_shutdown(e, SHUT_RDWR).await.unwrap();
            assert_eq!(poll_mask(&k, e).await, POLLHUP | POLLRDHUP | IN | OUT);
            assert_eq!(poll_mask(&k, f).await, POLLHUP | POLLRDHUP | IN | OUT);
            flag.set(true);
        });
        run_clean(&mut world);
        assert!(done.get());
    }
}

/// Peer close: HUP|RDHUP|IN (+OUT); ECONNRESET (POLLERR, fetched once by a read) only
/// when the closing end had unread data; writes get EPIPE.
#[test]
fn peer_close_gives_hup_rdhup_in_and_econnreset_for_lost_data() {
    for version in KernelVersion::ALL {
        let mut world = World::<SyscallSteps>::new(&options(version), 203).unwrap();
        let p = world.process("app");
        let done = Rc::new(Cell::new(false));
        let flag = done.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [a, b] = k.sys_socketpair().await.unwrap();
            add(&k, ep, b, EPOLLIN | EPOLLRDHUP, 2).await;
            k.sys_write(a, b"last").await.unwrap();
            k.sys_close(a).await.unwrap();
            assert_eq!(poll_mask(&k, b).await, POLLHUP | POLLRDHUP | IN | OUT);
            assert_eq!(
                wait(&k, ep, 0).await,
                one(EPOLLIN | EPOLLRDHUP | EPOLLHUP, 2)
            );
            // Data already queued is still read, then EOF; writes fail.
            assert_eq!(k.sys_read(b, 10).await, Ok(b"last".to_vec()));
            assert_eq!(k.sys_read(b, 10).await, Ok(Vec::new()));
            assert_eq!(k.sys_write(b, b"x").await, Err(Errno::EPIPE));

            // Unread data in the closing end: the peer gets ECONNRESET.
            let [c, d] = k.sys_socketpair().await.unwrap();
            k.sys_write(d, b"never read").await.unwrap();
            let before = poll_mask(&k, d).await;
            assert_eq!(before, OUT);
            k.sys_close(c).await.unwrap();
            assert_eq!(
                poll_mask(&k, d).await,
                POLLERR | POLLHUP | POLLRDHUP | IN | OUT
            );
            assert_eq!(k.sys_write(d, b"x").await, Err(Errno::EPIPE));
            assert_eq!(k.sys_read(d, 10).await, Err(Errno::ECONNRESET));
            assert_eq!(poll_mask(&k, d).await, POLLHUP | POLLRDHUP | IN | OUT);
            assert_eq!(k.sys_read(d, 10).await, Ok(Vec::new()));
            flag.set(true);
        });
        run_clean(&mut world);
        assert!(done.get());
    }
}

/// A task asleep in `epoll_wait(-1)` on CPU 1 is woken by a write, a shutdown or a
/// close done on CPU 0.
#[test]
fn socket_write_shutdown_and_close_wake_an_epoll_waiter_on_another_cpu() {
    #[derive(Clone, Copy, Debug)]
    enum Act {
        Write,
        ShutWr,
        Close,
    }
    for version in KernelVersion::ALL {
        for act in [Act::Write, Act::ShutWr, Act::Close] {
            let mut world = World::<SyscallSteps>::new(&options(version), 204).unwrap();
            let p = world.process("app");
            let log: Log = Rc::new(RefCell::new(Vec::new()));
            let out = log.clone();
            world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
                let ep = k.sys_epoll_create(1).await.unwrap();
                let [a, b] = k.sys_socketpair().await.unwrap();
                add(&k, ep, b, EPOLLIN | EPOLLRDHUP, 2).await;
                let out2 = out.clone();
                k.spawn_thread("waiter", Some(CpuId(1)), move |k| async move {
                    let events = wait(&k, ep, -1).await;
                    out2.borrow_mut().push(format!(
                        "{} slept={}",
                        mask_to_string(events[0].events),
                        k.cx.now_ns() >= 1_000_000
                    ));
                });
                k.cx.sleep_for(1_000_000).await;
                match act {
                    Act::Write => {
                        k.sys_write(a, b"x").await.unwrap();
                    }
                    Act::ShutWr => k.sys_shutdown(a, SHUT_WR).await.unwrap(),
                    Act::Close => k.sys_close(a).await.unwrap(),
                }
            });
            run_clean(&mut world);
            let expected = match act {
                Act::Write => "EPOLLIN",
                Act::ShutWr => "EPOLLIN|EPOLLRDHUP",
                Act::Close => "EPOLLIN|EPOLLHUP|EPOLLRDHUP",
            };
            assert_eq!(
                *log.borrow(),
                vec![format!("{expected} slept=true")],
                "{version:?} {act:?}"
            );
        }
    }
}

/// ET reports a socket again only on a new wake-up (a new skb); LT reports it until the
/// data is read.
#[test]
fn socket_et_versus_lt() {
    for version in KernelVersion::ALL {
        let mut world = World::<SyscallSteps>::new(&options(version), 205).unwrap();
        let p = world.process("app");
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [a, b] = k.sys_socketpair().await.unwrap();
            let [c, d] = k.sys_socketpair().await.unwrap();
            add(&k, ep, b, EPOLLIN | EPOLLET, 1).await;
            add(&k, ep, d, EPOLLIN, 2).await;
            k.sys_write(a, b"1").await.unwrap();
            k.sys_write(c, b"1").await.unwrap();
            let mut rounds = Vec::new();
            for step in 0..4 {
                if step == 2 {
                    k.sys_write(a, b"2").await.unwrap();
                }
                let mut datas: Vec<u64> = wait(&k, ep, 0).await.iter().map(|e| e.data).collect();
                datas.sort();
                rounds.push(datas);
            }
            k.sys_read(d, 10).await.unwrap();
            rounds.push(wait(&k, ep, 0).await.iter().map(|e| e.data).collect());
            out.borrow_mut().push(format!("{rounds:?}"));
        });
        run_clean(&mut world);
        assert_eq!(
            *log.borrow(),
            vec!["[[1, 2], [2], [1, 2], [2], []]".to_string()],
            "{version:?}"
        );
    }
}

/// Send-buffer accounting: one skb per small write, charged `truesize` to the sender.
/// POLLOUT disappears once a quarter of `sk_sndbuf` is in flight, long before writes
/// fail with EAGAIN (at `sk_wmem_alloc >= sk_sndbuf`); reading gives POLLOUT back only
/// when the quarter rule holds again.
#[test]
fn sndbuf_accounting_pollout_and_eagain() {
    let truesize = skb_truesize(1);
    // Writes while POLLOUT stays: n * truesize <= sndbuf / 4.
    let writable_after = (SYSCTL_WMEM_DEFAULT / 4 / truesize) as usize;
    // A write succeeds while the charge before it is below sndbuf.
    let successes = (SYSCTL_WMEM_DEFAULT.div_ceil(truesize)) as usize;
    assert!(unix_writable(
        writable_after as u64 * truesize,
        SYSCTL_WMEM_DEFAULT
    ));
    let mut world = World::<SyscallSteps>::new(&options(KernelVersion::Seed), 206).unwrap();
    let p = world.process("app");
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    let out = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let [a, b] = k.sys_socketpair().await.unwrap();
        set_nonblock(&k, a).await;
        let mut first_not_writable = None;
        let mut written = 0;
        loop {
            match k.sys_write(a, b"x").await {
                Ok(1) => written += 1,
                Err(Errno::EAGAIN) => break,
                other => panic!("unexpected {other:?}"),
            }
            if first_not_writable.is_none() && poll_mask(&k, a).await & POLLOUT == 0 {
                first_not_writable = Some(written);
            }
        }
        out.borrow_mut()
            .push(format!("{first_not_writable:?} {written}"));
        // Reading one byte frees one skb: still above the quarter, still no POLLOUT.
        k.sys_read(b, 1).await.unwrap();
        assert_eq!(poll_mask(&k, a).await & POLLOUT, 0);
        // Read until the quarter rule holds again.
        let mut read = 1;
        while poll_mask(&k, a).await & POLLOUT == 0 {
            k.sys_read(b, 1).await.unwrap();
            read += 1;
        }
        out.borrow_mut().push(format!("{}", written - read));
    });
    run_clean(&mut world);
    assert_eq!(
        *log.borrow(),
        vec![
            format!("Some({}) {successes}", writable_after + 1),
            format!("{writable_after}"),
        ]
    );
}

/// `unix_write_space` runs on every skb freed by a read and wakes the sender's head
/// whenever the sender is writable afterwards — also when it was writable all along —
/// so an EPOLLOUT|EPOLLET watcher of the sender gets an edge per consumed skb.
#[test]
fn every_consumed_skb_is_a_pollout_edge_for_the_sender() {
    for version in KernelVersion::ALL {
        let mut world = World::<SyscallSteps>::new(&options(version), 207).unwrap();
        let p = world.process("app");
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [a, b] = k.sys_socketpair().await.unwrap();
            add(&k, ep, a, EPOLLOUT | EPOLLET, 1).await;
            let mut counts = vec![wait(&k, ep, 0).await.len()];
            k.sys_write(a, b"1").await.unwrap();
            k.sys_write(a, b"2").await.unwrap();
            // Writing does not wake the writer's own head.
            counts.push(wait(&k, ep, 0).await.len());
            // Each read consumes one skb: an edge although A was writable throughout.
            k.sys_read(b, 1).await.unwrap();
            counts.push(wait(&k, ep, 0).await.len());
            counts.push(wait(&k, ep, 0).await.len());
            k.sys_read(b, 1).await.unwrap();
            counts.push(wait(&k, ep, 0).await.len());
            out.borrow_mut().push(format!("{counts:?}"));
        });
        run_clean(&mut world);
        assert_eq!(*log.borrow(), vec!["[1, 0, 1, 0, 1]"], "{version:?}");
    }
}

/// Blocking writes sleep in `sock_alloc_send_skb` until the reader frees enough; a
/// blocking read sleeps in `unix_stream_data_wait` until data arrives. All bytes arrive
/// in order.
#[test]
fn blocking_reader_and_writer_move_every_byte_in_order() {
    const TOTAL: usize = 300_000;
    for version in KernelVersion::ALL {
        let mut world = World::<SyscallSteps>::new(&options(version), 208).unwrap();
        let p = world.process("app");
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let [a, b] = k.sys_socketpair().await.unwrap();
            let out2 = out.clone();
            k.spawn_thread("reader", Some(CpuId(1)), move |k| async move {
                let mut got = Vec::new();
                while got.len() < TOTAL {
                    let chunk = k.sys_read(b, 50_000).await.unwrap();
                    assert!(!chunk.is_empty());
                    got.extend(chunk);
                    k.cx.sleep_for(10_000).await;
                }
                let ok = got.iter().enumerate().all(|(i, &v)| v == (i % 251) as u8);
                out2.borrow_mut()
                    .push(format!("read {} in order={ok}", got.len()));
            });
            let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
            let n = k.sys_write(a, &data).await.unwrap();
            out.borrow_mut().push(format!("wrote {n}"));
        });
        run_clean(&mut world);
        let mut lines = log.borrow().clone();
        lines.sort();
        assert_eq!(
            lines,
            vec![
                format!("read {TOTAL} in order=true"),
                format!("wrote {TOTAL}")
            ],
            "{version:?}"
        );
    }
}

/// A signal ends a blocking socket read with EINTR.
#[test]
fn a_signal_interrupts_a_blocking_socket_read() {
    let mut world = World::<SyscallSteps>::new(&options(KernelVersion::Seed), 209).unwrap();
    let p = world.process("app");
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    let out = log.clone();
    let reader: Rc<Cell<Option<TaskId>>> = Rc::new(Cell::new(None));
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let [_a, b] = k.sys_socketpair().await.unwrap();
        let out2 = out.clone();
        let task = k.spawn_thread("reader", Some(CpuId(1)), move |k| async move {
            let r = k.sys_read(b, 10).await;
            k.handle_signal();
            out2.borrow_mut().push(format!("{r:?}"));
        });
        reader.set(Some(task));
        k.cx.sleep_for(1_000_000).await;
        k.sys_kill(reader.get().unwrap()).await.unwrap();
    });
    run_clean(&mut world);
    assert_eq!(*log.borrow(), vec!["Err(EINTR)"]);
}

#[test]
fn socket_allocation_failures_are_enfile_enomem_and_enobufs() {
    for (class, nth, expected) in [
        ("sock_inode_cache", 2, "Err(ENFILE)"),
        ("UNIX", 1, "Err(ENOMEM)"),
        ("UNIX", 2, "Err(ENOMEM)"),
    ] {
        let mut options = options(KernelVersion::Seed);
        options.machine.alloc_failures = vec![AllocFailure {
            class: class.into(),
            nth,
        }];
        let mut world = World::<SyscallSteps>::new(&options, 210).unwrap();
        let p = world.process("app");
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let v = k.sys_socketpair().await;
            out.borrow_mut().push(format!("{v:?}"));
            let v = k.sys_socketpair().await.is_ok();
            out.borrow_mut().push(format!("{v:?}"));
        });
        run_clean(&mut world);
        assert_eq!(*log.borrow(), vec![expected, "true"], "{class} {nth}");
    }
    let mut options = options(KernelVersion::Seed);
    options.machine.alloc_failures = vec![AllocFailure {
        class: "skbuff_head_cache".into(),
        nth: 2,
    }];
    let mut world = World::<SyscallSteps>::new(&options, 211).unwrap();
    let p = world.process("app");
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    let out = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let [a, b] = k.sys_socketpair().await.unwrap();
        for _ in 0..3 {
            let v = k.sys_write(a, b"x").await;
            out.borrow_mut().push(format!("{v:?}"));
        }
        let v = k.sys_read(b, 10).await;
        out.borrow_mut().push(format!("{v:?}"));
    });
    run_clean(&mut world);
    assert_eq!(
        *log.borrow(),
        vec!["Ok(1)", "Err(ENOBUFS)", "Ok(1)", "Ok([120, 120])"]
    );
}

/// The same wake-up scenario, explored at access granularity: no schedule loses the
/// wake-up or trips lockdep.
#[test]
fn socket_and_eventfd_wakeups_survive_random_schedules_at_access_granularity() {
    use kernel_model::explore::{explore, ExploreOptions};
    use sim::strategy::StrategyKind;
    use sim::{AccessSteps, GranularityKind};
    for version in versions_with_eventfd() {
        let mut options = options(version);
        options.machine.granularity = GranularityKind::Access;
        let build = |world: &mut World<AccessSteps>| {
            let p = world.process("app");
            world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
                let ep = k.sys_epoll_create(1).await.unwrap();
                let [a, b] = k.sys_socketpair().await.unwrap();
                let efd = k.sys_eventfd(0).await.unwrap();
                add(&k, ep, b, EPOLLIN, 1).await;
                add(&k, ep, efd, EPOLLIN, 2).await;
                k.spawn_thread("waiter", Some(CpuId(1)), move |k| async move {
                    let mut seen = 0;
                    while seen != 3 {
                        for e in wait(&k, ep, -1).await {
                            seen |= e.data;
                            if e.data == 1 {
                                k.sys_read(b, 10).await.unwrap();
                            } else {
                                k.sys_read(efd, 8).await.unwrap();
                            }
                        }
                    }
                });
                k.sys_write(a, b"x").await.unwrap();
                k.sys_write(efd, &u64_bytes(1)).await.unwrap();
            });
        };
        let summary = explore::<AccessSteps>(
            &options,
            212,
            &build,
            &ExploreOptions {
                strategy: StrategyKind::Random,
                runs: 150,
                ..ExploreOptions::default()
            },
        );
        assert!(summary.reports.is_empty(), "{version:?} {summary:?}");
        assert!(summary.distinct_traces > 10, "{version:?} {summary:?}");
    }
}

// ---- the externally fed socket -----------------------------------------------------------

/// Data arriving from "the network" at a virtual time wakes a task asleep in
/// `epoll_wait(-1)`, and `ep_poll_callback` ran in interrupt context on the CPU that took
/// the interrupt.
#[test]
fn external_data_at_a_virtual_time_wakes_epoll_from_interrupt_context() {
    for version in KernelVersion::ALL {
        let mut options = options(version);
        options.machine.keep_trace = true;
        let mut world = World::<SyscallSteps>::new(&options, 301).unwrap();
        let p = world.process("server");
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let s = k.sys_socket_external().await.unwrap();
            add(&k, ep, s, EPOLLIN | EPOLLRDHUP, 7).await;
            assert!(wait(&k, ep, 0).await.is_empty());
            let events = wait(&k, ep, -1).await;
            out.borrow_mut().push(format!(
                "{} at>=2ms={}",
                mask_to_string(events[0].events),
                k.cx.now_ns() >= 2_000_000
            ));
            let v = k.sys_read(s, 100).await;
            out.borrow_mut().push(format!("{v:?}"));
            k.sys_write(s, b"pong").await.unwrap();
            let sock = k.external_socket(0).unwrap();
            out.borrow_mut()
                .push(String::from_utf8(k.net_sent(sock)).unwrap());
        });
        world.interrupt(2_000_000, Some(CpuId(1)), "net:rx", |k| async move {
            let sock = k.external_socket(0).expect("created before");
            assert!(k.cx.in_interrupt());
            assert!(k.net_deliver(sock, b"ping").await);
        });
        run_clean(&mut world);
        assert_eq!(
            *log.borrow(),
            vec![
                "EPOLLIN at>=2ms=true".to_string(),
                "Ok([112, 105, 110, 103])".to_string(),
                "pong".to_string(),
            ],
            "{version:?}"
        );
        let records = world.machine().take_records();
        let callback = records
            .iter()
            .find(|r| {
                matches!(&r.event, TraceEvent::Note { text } if text.starts_with("ep_poll_callback"))
            })
            .expect("a callback ran");
        assert!(callback.in_interrupt, "{callback}");
        assert_eq!(callback.cpu, CpuId(1));
        assert!(callback.time_ns >= 2_000_000);
    }
}

/// Shutdown and errors from the network, in interrupt context: FIN (SHUT_WR) is
/// EPOLLIN|EPOLLRDHUP and EOF; an error is EPOLLERR, fetched once by a read; a full
/// shutdown is EPOLLHUP and makes writes fail with EPIPE. Data after the local close is
/// dropped quietly.
#[test]
fn external_shutdown_and_error_arrive_as_interrupts() {
    for version in KernelVersion::ALL {
        let mut world = World::<SyscallSteps>::new(&options(version), 302).unwrap();
        let p = world.process("client");
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let s = k.sys_socket_external().await.unwrap();
            let t = k.sys_socket_external().await.unwrap();
            add(&k, ep, s, EPOLLIN | EPOLLRDHUP | EPOLLET, 1).await;
            add(&k, ep, t, EPOLLIN | EPOLLRDHUP | EPOLLET, 2).await;
            for _ in 0..3 {
                let events = wait(&k, ep, -1).await;
                for e in events {
                    out.borrow_mut()
                        .push(format!("{}:{}", e.data, mask_to_string(e.events)));
                }
            }
            let v = k.sys_read(s, 10).await;
            out.borrow_mut().push(format!("{v:?}"));
            let v = k.sys_read(s, 10).await;
            out.borrow_mut().push(format!("{v:?}"));
            let v = k.sys_read(t, 10).await;
            out.borrow_mut().push(format!("{v:?}"));
            let v = k.sys_read(t, 10).await;
            out.borrow_mut().push(format!("{v:?}"));
            let v = k.sys_write(t, b"x").await;
            out.borrow_mut().push(format!("{v:?}"));
            k.sys_close(s).await.unwrap();
        });
        world.interrupt(1_000_000, None, "net:fin", |k| async move {
            assert!(k.net_shutdown(k.external_socket(0).unwrap(), SHUT_WR).await);
        });
        world.interrupt(2_000_000, None, "net:err", |k| async move {
            assert!(
                k.net_error(k.external_socket(1).unwrap(), Errno::ECONNRESET)
                    .await
            );
        });
        world.interrupt(3_000_000, None, "net:gone", |k| async move {
            assert!(
                k.net_shutdown(k.external_socket(1).unwrap(), SHUT_RDWR)
                    .await
            );
        });
        world.interrupt(9_000_000, None, "net:late", |k| async move {
            // The local end of socket 0 is closed by now: nothing finds it.
            assert!(!k.net_deliver(k.external_socket(0).unwrap(), b"late").await);
        });
        run_clean(&mut world);
        assert_eq!(
            *log.borrow(),
            vec![
                "1:EPOLLIN|EPOLLRDHUP",
                "2:EPOLLERR",
                "2:EPOLLIN|EPOLLERR|EPOLLHUP|EPOLLRDHUP",
                "Ok([])",
                "Ok([])",
                "Err(ECONNRESET)",
                "Ok([])",
                "Err(EPIPE)",
            ],
            "{version:?}"
        );
    }
}

/// Network data delivered by interrupts on CPU 0 while the reader runs on CPU 1, explored
/// at access granularity: every byte arrives, nothing is reported (lockdep's irq-safety
/// rule included: the socket lock is taken with interrupts saved in process context).
#[test]
fn external_delivery_survives_random_schedules_at_access_granularity() {
    use kernel_model::explore::{explore, ExploreOptions};
    use sim::strategy::StrategyKind;
    use sim::{AccessSteps, GranularityKind};
    for version in KernelVersion::ALL {
        let mut options = options(version);
        options.machine.granularity = GranularityKind::Access;
        let build = |world: &mut World<AccessSteps>| {
            let p = world.process("server");
            world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
                let ep = k.sys_epoll_create(1).await.unwrap();
                let s = k.sys_socket_external().await.unwrap();
                set_nonblock(&k, s).await;
                add(&k, ep, s, EPOLLIN, 1).await;
                k.spawn_thread("reader", Some(CpuId(1)), move |k| async move {
                    let mut got = 0;
                    while got < 6 {
                        for _ in wait(&k, ep, -1).await {
                            got += k.sys_read(s, 10).await.unwrap().len();
                        }
                    }
                    assert_eq!(got, 6);
                });
                // CPU 0 goes idle: the interrupts below may now land anywhere in the
                // reader's steps.
                k.cx.sleep_for(2_000_000).await;
            });
            for (label, bytes) in [("net:rx1", b"abc"), ("net:rx2", b"def")] {
                world.interrupt(1_000_000, Some(CpuId(0)), label, move |k| async move {
                    let sock = k.external_socket(0).expect("created before");
                    assert!(k.net_deliver(sock, bytes).await);
                });
            }
        };
        let summary = explore::<AccessSteps>(
            &options,
            303,
            &build,
            &ExploreOptions {
                strategy: StrategyKind::Random,
                runs: 150,
                ..ExploreOptions::default()
            },
        );
        assert!(summary.reports.is_empty(), "{version:?} {summary:?}");
        assert!(summary.distinct_traces > 10, "{version:?} {summary:?}");
    }
}
