//! Syscall semantics of the port, on every kernel version (6192bd536f96 = the seed commit's
//! single-pass transfer, 2.6.21 = the three-pass transfer before it): every syscall's
//! success and error paths, LT / ET / ONESHOT, MOD and DEL, dup-then-close, close of
//! watched and epoll fds, fork, nesting. The ready-list order facts are in `order.rs`.
//!
//! Every scenario runs under the canonical schedule and must end `Completed` with no
//! report at all: in particular the leak checker, which runs after every process exited,
//! must find every eventpoll, epitem, eppoll_entry, file and pipe freed.
//!
//! Expectations come from `docs/eventpoll-port-digest.md` (section numbers cited) and the
//! originals. Descriptors 0–2 are the terminal, so a fresh process's first fd is 3.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::{
    buf, datas, ev, live_epoll_objects, on_both, ready_list, single_task_on_both, sleep_ns,
    spawn_in,
};
use kernel_model::eventpoll::EP_MAX_EVENTS;
use kernel_model::objects::O_NONBLOCK;
use kernel_model::poll::*;
use kernel_model::syscalls::{F_GETFL, F_SETFL};
use kernel_model::user::UserBufferSpec;
use kernel_model::{EpollEvent, Errno, Kernel, KernelVersion, Options};
use sim::config::AllocFailure;
use sim::{AccessSteps, CpuId, Granularity, GranularityKind, LockSteps, SyscallSteps};

type K = Rc<Kernel<SyscallSteps>>;

const MS: u64 = 1_000_000;
/// One jiffy at the default HZ = 250.
const TICK: u64 = 4 * MS;

fn opts() -> Options {
    Options::default()
}

fn with_alloc_failure(class: &str, nth: u64) -> Options {
    let mut options = Options::default();
    options.machine.alloc_failures = vec![AllocFailure {
        class: class.into(),
        nth,
    }];
    options
}

async fn add<G: Granularity>(k: &Kernel<G>, ep: i32, fd: i32, events: u32, data: u64) {
    k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, fd, ev(events, data))
        .await
        .unwrap_or_else(|e| panic!("ADD fd {fd} to {ep}: {e}"));
}

/// `epoll_wait(ep, events, max, 0)`, which must succeed.
async fn poll_now<G: Granularity>(k: &Kernel<G>, ep: i32, max: i32) -> Vec<EpollEvent> {
    k.sys_epoll_wait(ep, buf(), max, 0)
        .await
        .unwrap_or_else(|e| panic!("epoll_wait({ep}, {max}, 0): {e}"))
}

fn e(events: u32, data: u64) -> EpollEvent {
    EpollEvent { events, data }
}

fn sorted(mut events: Vec<EpollEvent>) -> Vec<EpollEvent> {
    events.sort();
    events
}

// ---- epoll_create ---------------------------------------------------------------------

#[test]
fn epoll_create_rejects_a_nonpositive_size_and_takes_the_lowest_fd() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        assert_eq!(k.sys_epoll_create(0).await, Err(Errno::EINVAL));
        assert_eq!(k.sys_epoll_create(-1).await, Err(Errno::EINVAL));
        assert_eq!(k.sys_epoll_create(i32::MIN).await, Err(Errno::EINVAL));
        // The size is only a hint: 1 and a huge value both work.
        assert_eq!(k.sys_epoll_create(1).await, Ok(3));
        assert_eq!(k.sys_epoll_create(i32::MAX).await, Ok(4));
        k.sys_close(3).await.unwrap();
        assert_eq!(k.sys_epoll_create(5).await, Ok(3));
        assert_eq!(live_epoll_objects(&k).0, 2);
    });
}

#[test]
fn epoll_create_is_enomem_when_the_eventpoll_allocation_fails() {
    single_task_on_both::<SyscallSteps, _, _>(
        &with_alloc_failure("eventpoll", 1),
        |k: K| async move {
            assert_eq!(k.sys_epoll_create(1).await, Err(Errno::ENOMEM));
            // No descriptor was consumed and nothing was allocated.
            assert_eq!(live_epoll_objects(&k), (0, 0, 0));
            assert_eq!(k.sys_epoll_create(1).await, Ok(3));
            assert_eq!(live_epoll_objects(&k).0, 1);
        },
    );
}

#[test]
fn epoll_create_is_emfile_at_the_fd_limit_and_frees_the_eventpoll() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        k.set_nofile_limit(k.current_process(), 4);
        assert_eq!(k.sys_epoll_create(1).await, Ok(3));
        assert_eq!(k.sys_epoll_create(1).await, Err(Errno::EMFILE));
        // anon_inode_getfd failed: ep_free + kfree, only the first set is left.
        assert_eq!(live_epoll_objects(&k).0, 1);
    });
}

#[test]
fn setrlimit_nofile_moves_the_descriptor_limit_with_the_kernels_checks() {
    use kernel_model::fdtable::NR_OPEN;
    use kernel_model::syscalls::{RLIMIT_NOFILE, RLIM_INFINITY};
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        // The default soft limit, 1024: 510 pipes fill fds 3..=1022, the 511th gets fd
        // 1023 for its read end and none for its write end (EMFILE, the read end closed).
        for _ in 0..510 {
            k.sys_pipe().await.unwrap();
        }
        assert_eq!(k.sys_pipe().await, Err(Errno::EMFILE));
        // Raised as `ulimit -n 1026` would: the pipe fits, the next does not.
        assert_eq!(k.sys_setrlimit(RLIMIT_NOFILE, 1026, 1026).await, Ok(()));
        assert_eq!(k.sys_pipe().await, Ok([1023, 1024]));
        assert_eq!(k.sys_pipe().await, Err(Errno::EMFILE));
        // rlim_cur above rlim_max, and resources the model lacks or that do not exist.
        assert_eq!(
            k.sys_setrlimit(RLIMIT_NOFILE, 2000, 1026).await,
            Err(Errno::EINVAL)
        );
        assert_eq!(k.sys_setrlimit(99, 1, 1).await, Err(Errno::EINVAL));
        // The hard limit went down to 1026: raising it again needs CAP_SYS_RESOURCE.
        assert_eq!(
            k.sys_setrlimit(RLIMIT_NOFILE, 1026, 1027).await,
            Err(Errno::EPERM)
        );
        assert_eq!(
            k.sys_setrlimit(RLIMIT_NOFILE, RLIM_INFINITY, RLIM_INFINITY)
                .await,
            Err(Errno::EPERM)
        );
        // Lowered below what is open: open descriptors stay, new ones are refused, and
        // dup2 to a descriptor at or above the soft limit is EBADF.
        assert_eq!(k.sys_setrlimit(RLIMIT_NOFILE, 10, 1026).await, Ok(()));
        assert_eq!(k.sys_dup(3).await, Err(Errno::EMFILE));
        assert_eq!(k.sys_dup2(3, 10).await, Err(Errno::EBADF));
        assert_eq!(k.sys_close(5).await, Ok(()));
        assert_eq!(k.sys_dup(3).await, Ok(5));
        assert!(k.sys_fcntl(1024, F_GETFL, 0).await.is_ok());
    });
    // A fresh process may raise its soft limit up to NR_OPEN, not past it.
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let nr_open = NR_OPEN as u64;
        assert_eq!(
            k.sys_setrlimit(RLIMIT_NOFILE, nr_open, nr_open).await,
            Ok(())
        );
        assert_eq!(
            k.sys_setrlimit(RLIMIT_NOFILE, nr_open + 1, nr_open + 1)
                .await,
            Err(Errno::EPERM)
        );
    });
}

// ---- epoll_ctl ------------------------------------------------------------------------

#[test]
fn epoll_ctl_is_efault_without_an_event_for_every_op_but_del() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, _w] = k.sys_pipe().await.unwrap();
        // copy_from_user comes first: EFAULT even with bad descriptors (§3.6 step 1).
        assert_eq!(
            k.sys_epoll_ctl(99, EPOLL_CTL_ADD, 98, None).await,
            Err(Errno::EFAULT)
        );
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, r, None).await,
            Err(Errno::EFAULT)
        );
        add(&k, ep, r, EPOLLIN, 1).await;
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r, None).await,
            Err(Errno::EFAULT)
        );
        // ep_op_has_event() is true for an unknown op too.
        assert_eq!(k.sys_epoll_ctl(ep, 0, r, None).await, Err(Errno::EFAULT));
        assert_eq!(k.sys_epoll_ctl(ep, 7, r, None).await, Err(Errno::EFAULT));
        // DEL ignores the pointer.
        assert_eq!(k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await, Ok(()));
        assert_eq!(live_epoll_objects(&k).1, 0);
        // Without an event, a bad epfd gives EBADF only for DEL.
        assert_eq!(
            k.sys_epoll_ctl(99, EPOLL_CTL_DEL, r, None).await,
            Err(Errno::EBADF)
        );
    });
}

#[test]
fn epoll_ctl_is_ebadf_for_a_bad_epfd_or_fd() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        for bad in [-1, 99, 1 << 20] {
            assert_eq!(
                k.sys_epoll_ctl(bad, EPOLL_CTL_ADD, r, ev(EPOLLIN, 0)).await,
                Err(Errno::EBADF),
                "epfd {bad}"
            );
            assert_eq!(
                k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, bad, ev(EPOLLIN, 0))
                    .await,
                Err(Errno::EBADF),
                "fd {bad}"
            );
        }
        // A closed descriptor is bad, on either side.
        k.sys_close(w).await.unwrap();
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, w, ev(EPOLLOUT, 0)).await,
            Err(Errno::EBADF)
        );
        let ep2 = k.sys_epoll_create(1).await.unwrap();
        k.sys_close(ep2).await.unwrap();
        assert_eq!(
            k.sys_epoll_ctl(ep2, EPOLL_CTL_ADD, r, ev(EPOLLIN, 0)).await,
            Err(Errno::EBADF)
        );
        // EBADF on the target is checked before EINVAL on the set (fget(fd) first).
        assert_eq!(
            k.sys_epoll_ctl(r, EPOLL_CTL_ADD, 99, ev(EPOLLIN, 0)).await,
            Err(Errno::EBADF)
        );
        assert_eq!(live_epoll_objects(&k), (1, 0, 0));
    });
}

#[test]
fn epoll_ctl_is_eperm_for_a_regular_file() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let file = k.sys_open("/etc/passwd").await.unwrap();
        let [r, _w] = k.sys_pipe().await.unwrap();
        for op in [EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL, 42] {
            assert_eq!(
                k.sys_epoll_ctl(ep, op, file, ev(EPOLLIN, 0)).await,
                Err(Errno::EPERM),
                "op {op}"
            );
        }
        // The stdio terminal is a regular file in the model as well.
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, 0, ev(EPOLLIN, 0)).await,
            Err(Errno::EPERM)
        );
        // EPERM (target has no poll) is tested before EINVAL (epfd is no epoll fd).
        assert_eq!(
            k.sys_epoll_ctl(r, EPOLL_CTL_ADD, file, ev(EPOLLIN, 0))
                .await,
            Err(Errno::EPERM)
        );
        assert_eq!(
            k.sys_epoll_ctl(file, EPOLL_CTL_ADD, file, ev(EPOLLIN, 0))
                .await,
            Err(Errno::EPERM)
        );
        assert_eq!(live_epoll_objects(&k), (1, 0, 0));
    });
}

#[test]
fn epoll_ctl_is_einval_for_a_non_epoll_epfd_and_for_the_set_itself_or_a_dup_of_it() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        assert_eq!(
            k.sys_epoll_ctl(r, EPOLL_CTL_ADD, w, ev(EPOLLOUT, 0)).await,
            Err(Errno::EINVAL)
        );
        assert_eq!(
            k.sys_epoll_ctl(w, EPOLL_CTL_DEL, r, None).await,
            Err(Errno::EINVAL)
        );
        // file == tfile: the fd itself, a dup and a dup2 of it are the same file.
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, ep, ev(EPOLLIN, 0)).await,
            Err(Errno::EINVAL)
        );
        let dup = k.sys_dup(ep).await.unwrap();
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, dup, ev(EPOLLIN, 0))
                .await,
            Err(Errno::EINVAL)
        );
        assert_eq!(
            k.sys_epoll_ctl(dup, EPOLL_CTL_ADD, ep, ev(EPOLLIN, 0))
                .await,
            Err(Errno::EINVAL)
        );
        assert_eq!(k.sys_dup2(ep, 20).await, Ok(20));
        assert_eq!(
            k.sys_epoll_ctl(20, EPOLL_CTL_ADD, ep, ev(EPOLLIN, 0)).await,
            Err(Errno::EINVAL)
        );
        // ... whereas a different epoll set may be watched (nesting).
        let other = k.sys_epoll_create(1).await.unwrap();
        add(&k, ep, other, EPOLLIN, 0).await;
        assert_eq!(live_epoll_objects(&k), (2, 1, 1));
    });
}

#[test]
fn epoll_ctl_is_einval_for_an_unknown_op_even_on_a_watched_fd() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        for op in [0, 4, -1, i32::MAX] {
            assert_eq!(
                k.sys_epoll_ctl(ep, op, r, ev(EPOLLIN, 0)).await,
                Err(Errno::EINVAL),
                "unwatched, op {op}"
            );
        }
        add(&k, ep, r, EPOLLIN, 5).await;
        for op in [0, 4, -1] {
            // ep_find found the item and took a usecnt reference; it must be dropped
            // (otherwise the item leaks after the DEL below).
            assert_eq!(
                k.sys_epoll_ctl(ep, op, r, ev(EPOLLOUT, 9)).await,
                Err(Errno::EINVAL),
                "watched, op {op}"
            );
        }
        // The item is untouched (mask and data) and still removable.
        k.sys_write(w, b"x").await.unwrap();
        assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 5)]);
        assert_eq!(k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await, Ok(()));
        assert_eq!(live_epoll_objects(&k), (1, 0, 0));
    });
}

#[test]
fn epoll_ctl_is_eexist_for_a_second_add_and_enoent_for_del_or_mod_of_an_unwatched_fd() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await,
            Err(Errno::ENOENT)
        );
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r, ev(EPOLLIN, 0)).await,
            Err(Errno::ENOENT)
        );
        add(&k, ep, r, EPOLLIN, 1).await;
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, r, ev(EPOLLOUT, 2)).await,
            Err(Errno::EEXIST)
        );
        // The other end of the pipe is another file: not watched.
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, w, ev(EPOLLOUT, 0)).await,
            Err(Errno::ENOENT)
        );
        // The failed ADD changed nothing: still EPOLLIN with data 1.
        k.sys_write(w, b"x").await.unwrap();
        assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 1)]);
        k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await.unwrap();
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await,
            Err(Errno::ENOENT)
        );
    });
}

#[test]
fn one_file_through_two_descriptors_is_two_items() {
    // Items are keyed by (file, fd): a dup of a watched fd is a different key.
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        let r2 = k.sys_dup(r).await.unwrap();
        add(&k, ep, r, EPOLLIN, 10).await;
        add(&k, ep, r2, EPOLLIN, 20).await;
        assert_eq!(live_epoll_objects(&k), (1, 2, 2));
        k.sys_write(w, b"x").await.unwrap();
        let mut got = datas(&poll_now(&k, ep, 4).await);
        got.sort();
        assert_eq!(got, vec![10, 20]);
        // Closing one descriptor does not drop the file: both items stay.
        k.sys_close(r).await.unwrap();
        assert_eq!(live_epoll_objects(&k), (1, 2, 2));
        // The last close removes both (eventpoll_release_file walks f_ep_links).
        k.sys_close(r2).await.unwrap();
        assert_eq!(live_epoll_objects(&k), (1, 0, 0));
        assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    });
}

#[test]
fn epoll_ctl_is_enomem_when_the_epitem_allocation_fails() {
    single_task_on_both::<SyscallSteps, _, _>(
        &with_alloc_failure("epitem", 2),
        |k: K| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [r1, w1] = k.sys_pipe().await.unwrap();
            let [r2, w2] = k.sys_pipe().await.unwrap();
            add(&k, ep, r1, EPOLLIN, 1).await;
            assert_eq!(
                k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, r2, ev(EPOLLIN, 2)).await,
                Err(Errno::ENOMEM)
            );
            assert_eq!(live_epoll_objects(&k), (1, 1, 1));
            k.sys_write(w1, b"x").await.unwrap();
            k.sys_write(w2, b"x").await.unwrap();
            assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 1)]);
            // The third allocation succeeds.
            add(&k, ep, r2, EPOLLIN, 2).await;
            assert_eq!(ready_list(&k, ep), vec![1, 2]);
            let mut got = datas(&poll_now(&k, ep, 4).await);
            got.sort();
            assert_eq!(got, vec![1, 2]);
        },
    );
}

#[test]
fn epoll_ctl_is_enomem_when_the_eppoll_entry_allocation_fails_and_nothing_leaks() {
    single_task_on_both::<SyscallSteps, _, _>(
        &with_alloc_failure("eppoll_entry", 1),
        |k: K| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [r, w] = k.sys_pipe().await.unwrap();
            // Already readable: f_op->poll reports POLLIN, but nwait is -1.
            k.sys_write(w, b"x").await.unwrap();
            assert_eq!(
                k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, r, ev(EPOLLIN, 1)).await,
                Err(Errno::ENOMEM)
            );
            // The item was unhooked, unlinked and freed; the set is empty.
            assert_eq!(live_epoll_objects(&k), (1, 0, 0));
            assert_eq!(ready_list(&k, ep), Vec::<u64>::new());
            assert_eq!(poll_now(&k, ep, 4).await, vec![]);
            // Wake-ups of the pipe reach no stale hook.
            k.sys_write(w, b"y").await.unwrap();
            assert_eq!(
                k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await,
                Err(Errno::ENOENT)
            );
            // The fd can be added again, and works.
            add(&k, ep, r, EPOLLIN, 2).await;
            assert_eq!(live_epoll_objects(&k), (1, 1, 1));
            assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 2)]);
        },
    );
}

#[test]
fn epoll_ctl_is_enomem_when_hooking_a_nested_set_fails() {
    // The target is an epoll fd: its poll hooks ep->poll_wait through the same queue proc.
    single_task_on_both::<SyscallSteps, _, _>(
        &with_alloc_failure("eppoll_entry", 2),
        |k: K| async move {
            let outer = k.sys_epoll_create(1).await.unwrap();
            let inner = k.sys_epoll_create(1).await.unwrap();
            let [r, w] = k.sys_pipe().await.unwrap();
            add(&k, inner, r, EPOLLIN, 1).await;
            k.sys_write(w, b"x").await.unwrap();
            assert_eq!(
                k.sys_epoll_ctl(outer, EPOLL_CTL_ADD, inner, ev(EPOLLIN, 2))
                    .await,
                Err(Errno::ENOMEM)
            );
            assert_eq!(live_epoll_objects(&k), (2, 1, 1));
            assert_eq!(poll_now(&k, outer, 4).await, vec![]);
            add(&k, outer, inner, EPOLLIN, 2).await;
            assert_eq!(poll_now(&k, outer, 4).await, vec![e(EPOLLIN, 2)]);
        },
    );
}

// ---- epoll_wait: argument errors -----------------------------------------------------------

#[test]
fn epoll_wait_is_einval_for_maxevents_out_of_range_before_anything_else() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let bad = UserBufferSpec {
            bad_address: true,
            ..UserBufferSpec::default()
        };
        for max in [0, -1, i32::MIN, EP_MAX_EVENTS + 1, i32::MAX] {
            assert_eq!(
                k.sys_epoll_wait(ep, buf(), max, 0).await,
                Err(Errno::EINVAL),
                "maxevents {max}"
            );
            // Checked before the buffer and the descriptor.
            assert_eq!(k.sys_epoll_wait(99, bad, max, 0).await, Err(Errno::EINVAL));
        }
        // EP_MAX_EVENTS = INT_MAX / sizeof(struct epoll_event), 12 bytes on x86-64.
        assert_eq!(EP_MAX_EVENTS, 178_956_970);
        assert_eq!(
            k.sys_epoll_wait(ep, buf(), EP_MAX_EVENTS, 0).await,
            Ok(vec![])
        );
        assert_eq!(k.sys_epoll_wait(ep, buf(), 1, 0).await, Ok(vec![]));
    });
}

#[test]
fn epoll_wait_is_efault_for_an_unwritable_buffer_before_ebadf() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, ep, r, EPOLLIN, 1).await;
        k.sys_write(w, b"x").await.unwrap();
        let bad = UserBufferSpec {
            bad_address: true,
            ..UserBufferSpec::default()
        };
        assert_eq!(k.sys_epoll_wait(ep, bad, 4, 0).await, Err(Errno::EFAULT));
        // access_ok() precedes fget(epfd).
        assert_eq!(k.sys_epoll_wait(99, bad, 4, 0).await, Err(Errno::EFAULT));
        assert_eq!(k.sys_epoll_wait(r, bad, 4, 0).await, Err(Errno::EFAULT));
        // Nothing was consumed.
        assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 1)]);
    });
}

#[test]
fn epoll_wait_is_ebadf_for_a_bad_fd_and_einval_for_a_non_epoll_fd() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        let file = k.sys_open("/tmp/f").await.unwrap();
        for bad in [-1, 99] {
            assert_eq!(k.sys_epoll_wait(bad, buf(), 4, 0).await, Err(Errno::EBADF));
        }
        k.sys_close(ep).await.unwrap();
        assert_eq!(k.sys_epoll_wait(ep, buf(), 4, 0).await, Err(Errno::EBADF));
        for fd in [r, w, file, 0] {
            assert_eq!(
                k.sys_epoll_wait(fd, buf(), 4, -1).await,
                Err(Errno::EINVAL),
                "fd {fd}"
            );
        }
    });
}

// ---- epoll_wait: a fault in the middle of the transfer ------------------------------------

/// Three pipes with data 0, 1, 2, watched with `flags`, all readable, queued in that order.
async fn three_ready<G: Granularity>(k: &Kernel<G>, flags: u32) -> (i32, [i32; 3]) {
    let ep = k.sys_epoll_create(1).await.unwrap();
    let mut writers = [0; 3];
    for (i, writer) in writers.iter_mut().enumerate() {
        let [r, w] = k.sys_pipe().await.unwrap();
        add(k, ep, r, EPOLLIN | flags, i as u64).await;
        *writer = w;
    }
    for w in writers {
        k.sys_write(w, b"x").await.unwrap();
    }
    assert_eq!(ready_list(k, ep), vec![0, 1, 2]);
    (ep, writers)
}

fn fault_at(n: usize) -> UserBufferSpec {
    UserBufferSpec {
        fault_at: Some(n),
        ..UserBufferSpec::default()
    }
}

async fn a_fault_at_the_second_put_user_level_triggered_scenario<G: Granularity>(k: Rc<Kernel<G>>) {
    let (ep, _) = three_ready(&k, 0).await;
    let got = k.sys_epoll_wait(ep, fault_at(1), 4, 0).await;
    match k.version() {
        // §3.24: the copy of item 1 faults; the count so far is returned, and the
        // faulting item with everything after it goes back to the head of the ready
        // list, behind the delivered (re-injected) item 0.
        KernelVersion::Seed => {
            assert_eq!(got, Ok(vec![e(EPOLLIN, 0)]));
            assert_eq!(ready_list(&k, ep), vec![0, 1, 2]);
            assert_eq!(datas(&poll_now(&k, ep, 4).await), vec![0, 1, 2]);
        }
        // §3.28: collect took all three (reversed: 2, 1, 0); 2 was copied, 1
        // faulted: -EFAULT, the count is discarded. Reinject puts every LT item back
        // at the tail, in txlist order — item 0 keeps its revents = interest mask.
        KernelVersion::V2_6_21 => {
            assert_eq!(got, Err(Errno::EFAULT));
            assert_eq!(ready_list(&k, ep), vec![2, 1, 0]);
            assert_eq!(datas(&poll_now(&k, ep, 4).await), vec![0, 1, 2]);
        }
        // Appendix A: item 0 was delivered and put back on the tail; item 1 was taken
        // off the list before its copy faulted and is lost although still readable;
        // the unreached item 2 is spliced back at the head.
        KernelVersion::V2_6_22 => {
            assert_eq!(got, Ok(vec![e(EPOLLIN, 0)]));
            assert_eq!(ready_list(&k, ep), vec![2, 0]);
            assert_eq!(datas(&poll_now(&k, ep, 4).await), vec![2, 0]);
            assert_eq!(datas(&poll_now(&k, ep, 4).await), vec![2, 0]);
        }
    }
}

#[test]
fn a_fault_at_the_second_put_user_level_triggered() {
    single_task_on_both::<SyscallSteps, _, _>(
        &opts(),
        a_fault_at_the_second_put_user_level_triggered_scenario,
    );
}

async fn a_fault_at_the_second_put_user_edge_triggered_scenario<G: Granularity>(k: Rc<Kernel<G>>) {
    let (ep, writers) = three_ready(&k, EPOLLET).await;
    let got = k.sys_epoll_wait(ep, fault_at(1), 4, 0).await;
    match k.version() {
        // Item 0 was delivered (ET: not re-injected); 1 and 2 stay queued.
        KernelVersion::Seed => {
            assert_eq!(got, Ok(vec![e(EPOLLIN, 0)]));
            assert_eq!(ready_list(&k, ep), vec![1, 2]);
            assert_eq!(datas(&poll_now(&k, ep, 4).await), vec![1, 2]);
            assert_eq!(poll_now(&k, ep, 4).await, vec![]);
        }
        // -EFAULT; reinject never re-queues ET items: 1 and 2 are lost although
        // still readable and never reported, until their next wake-up.
        KernelVersion::V2_6_21 => {
            assert_eq!(got, Err(Errno::EFAULT));
            assert_eq!(ready_list(&k, ep), Vec::<u64>::new());
            assert_eq!(poll_now(&k, ep, 4).await, vec![]);
            k.sys_write(writers[1], b"y").await.unwrap();
            assert_eq!(datas(&poll_now(&k, ep, 4).await), vec![1]);
        }
        // Item 0 delivered (ET: not put back); item 1 faulted after it left the list:
        // lost until its next wake-up; item 2, unreached, is spliced back.
        KernelVersion::V2_6_22 => {
            assert_eq!(got, Ok(vec![e(EPOLLIN, 0)]));
            assert_eq!(ready_list(&k, ep), vec![2]);
            assert_eq!(datas(&poll_now(&k, ep, 4).await), vec![2]);
            assert_eq!(poll_now(&k, ep, 4).await, vec![]);
            k.sys_write(writers[1], b"y").await.unwrap();
            assert_eq!(datas(&poll_now(&k, ep, 4).await), vec![1]);
        }
    }
}

#[test]
fn a_fault_at_the_second_put_user_edge_triggered() {
    single_task_on_both::<SyscallSteps, _, _>(
        &opts(),
        a_fault_at_the_second_put_user_edge_triggered_scenario,
    );
}

async fn a_fault_at_the_first_put_user_is_efault_and_keeps_a_oneshot_item_armed_scenario<
    G: Granularity,
>(
    k: Rc<Kernel<G>>,
) {
    let ep = k.sys_epoll_create(1).await.unwrap();
    let [r, w] = k.sys_pipe().await.unwrap();
    add(&k, ep, r, EPOLLIN | EPOLLONESHOT, 7).await;
    k.sys_write(w, b"x").await.unwrap();
    assert_eq!(
        k.sys_epoll_wait(ep, fault_at(0), 4, 0).await,
        Err(Errno::EFAULT)
    );
    match k.version() {
        // The fault came before the ONESHOT disarm: still queued, still armed
        // (6192bd536f96: left on txlist and re-spliced; 2.6.21: revents set, re-injected
        // as LT).
        KernelVersion::Seed | KernelVersion::V2_6_21 => {
            assert_eq!(ready_list(&k, ep), vec![7]);
            assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 7)]);
            assert_eq!(poll_now(&k, ep, 4).await, vec![]);
        }
        // Still armed, but the item left the list (list_del_init) before its copy
        // faulted: lost until the next wake-up, which finds it armed.
        KernelVersion::V2_6_22 => {
            assert_eq!(ready_list(&k, ep), Vec::<u64>::new());
            assert_eq!(poll_now(&k, ep, 4).await, vec![]);
            k.sys_write(w, b"y").await.unwrap();
            assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 7)]);
            assert_eq!(poll_now(&k, ep, 4).await, vec![]);
        }
    }
}

#[test]
fn a_fault_at_the_first_put_user_is_efault_and_keeps_a_oneshot_item_armed() {
    single_task_on_both::<SyscallSteps, _, _>(
        &opts(),
        a_fault_at_the_first_put_user_is_efault_and_keeps_a_oneshot_item_armed_scenario,
    );
}

// ---- epoll_wait: signals and timeouts ------------------------------------------------------

#[test]
fn epoll_wait_is_eintr_when_a_signal_reaches_a_sleeping_waiter() {
    let log = common::log();
    on_both::<SyscallSteps>(&opts(), |world, _| {
        let p = world.process("app");
        let out = log.clone();
        let waiter = world.spawn(p, "waiter", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [r, _w] = k.sys_pipe().await.unwrap();
            add(&k, ep, r, EPOLLIN, 1).await;
            let start = k.cx.now_ns();
            let got = k.sys_epoll_wait(ep, buf(), 4, -1).await;
            let slept = k.cx.now_ns() - start;
            assert_eq!(got, Err(Errno::EINTR));
            assert!(slept >= MS, "returned after {slept} ns, before the signal");
            // Not handled yet: the next wait is interrupted at once (list empty).
            assert_eq!(k.sys_epoll_wait(ep, buf(), 4, -1).await, Err(Errno::EINTR));
            // ...but a zero timeout is tested before the signal.
            assert_eq!(k.sys_epoll_wait(ep, buf(), 4, 0).await, Ok(vec![]));
            k.handle_signal();
            // Handled: a timed wait now runs to its timeout.
            assert_eq!(k.sys_epoll_wait(ep, buf(), 4, 8).await, Ok(vec![]));
            out.borrow_mut().push(("waiter".into(), "done".into()));
        });
        world.spawn(p, "killer", Some(CpuId(1)), move |k| async move {
            sleep_ns(&k, MS).await;
            k.sys_kill(waiter).await.unwrap();
        });
    });
    assert_eq!(
        log.borrow().len(),
        KernelVersion::ALL.len(),
        "{:?}",
        log.borrow()
    );
}

#[test]
fn events_win_over_a_pending_signal() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, ep, r, EPOLLIN, 1).await;
        k.sys_write(w, b"x").await.unwrap();
        let me = k.cx.current().unwrap();
        k.sys_kill(me).await.unwrap();
        assert!(k.cx.signal_pending());
        // The ready-list test precedes the signal test (§3.26).
        assert_eq!(
            k.sys_epoll_wait(ep, buf(), 4, -1).await,
            Ok(vec![e(EPOLLIN, 1)])
        );
        // The same with a timeout.
        assert_eq!(
            k.sys_epoll_wait(ep, buf(), 4, 100).await,
            Ok(vec![e(EPOLLIN, 1)])
        );
        k.sys_read(r, 1).await.unwrap();
        // Nothing ready now: the pending signal interrupts a blocking wait at once.
        let start = k.cx.now_ns();
        assert_eq!(k.sys_epoll_wait(ep, buf(), 4, 100).await, Err(Errno::EINTR));
        assert!(k.cx.now_ns() - start < TICK);
        k.handle_signal();
    });
}

#[test]
fn a_zero_timeout_returns_at_once() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, _w] = k.sys_pipe().await.unwrap();
        add(&k, ep, r, EPOLLIN, 1).await;
        let start = k.cx.now_ns();
        let jiffies = k.cx.jiffies();
        assert_eq!(k.sys_epoll_wait(ep, buf(), 4, 0).await, Ok(vec![]));
        assert!(k.cx.now_ns() - start < 100_000, "{}", k.cx.now_ns() - start);
        assert_eq!(k.cx.jiffies(), jiffies);
    });
}

#[test]
fn a_positive_timeout_returns_no_events_after_the_timeout_rounded_up_to_jiffies() {
    // HZ = 250: jiffies = (ms * 250 + 999) / 1000 (§3.26 step 1), 4 ms each.
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        assert_eq!(k.cx.hz(), 250);
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, _w] = k.sys_pipe().await.unwrap();
        add(&k, ep, r, EPOLLIN, 1).await;
        for (ms, jiffies) in [(1, 1), (4, 1), (5, 2), (10, 3), (100, 25)] {
            let start = k.cx.now_ns();
            assert_eq!(k.sys_epoll_wait(ep, buf(), 4, ms).await, Ok(vec![]));
            let elapsed = k.cx.now_ns() - start;
            // schedule_timeout: expire = jiffies + n, and the timer fires at that tick's
            // boundary, so a call made mid-tick sleeps (n - 1, n] ticks (plus the cost
            // of the code around it).
            assert!(
                elapsed > (jiffies - 1) * TICK && elapsed < jiffies * TICK + TICK / 10,
                "timeout {ms} ms: {elapsed} ns, expected {jiffies} jiffies"
            );
        }
    });
}

#[test]
fn a_timed_wait_returns_early_when_an_event_arrives() {
    let log = common::log();
    on_both::<SyscallSteps>(&opts(), |world, _| {
        let p = world.process("app");
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [r, w] = k.sys_pipe().await.unwrap();
            add(&k, ep, r, EPOLLIN, 1).await;
            k.spawn_thread("writer", Some(CpuId(1)), move |k| async move {
                sleep_ns(&k, 2 * MS).await;
                k.sys_write(w, b"x").await.unwrap();
            });
            let start = k.cx.now_ns();
            let got = k.sys_epoll_wait(ep, buf(), 4, 1000).await;
            let elapsed = k.cx.now_ns() - start;
            assert_eq!(got, Ok(vec![e(EPOLLIN, 1)]));
            assert!((2 * MS..3 * MS).contains(&elapsed), "{elapsed}");
            out.borrow_mut().push(("main".into(), common::show(&got)));
        });
    });
    assert_eq!(log.borrow().len(), KernelVersion::ALL.len());
}

#[test]
fn a_wake_up_with_nothing_to_deliver_retries_with_the_time_left() {
    // §3.26 step 6: a transfer that delivers nothing with time left goes back to sleep
    // for the *remaining* jiffies, not for the whole timeout again.
    let log = common::log();
    on_both::<SyscallSteps>(&opts(), |world, _| {
        let p = world.process("app");
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [r, w] = k.sys_pipe().await.unwrap();
            // The read end is never writable: a write queues the item (the callback
            // does not look at the mask), the transfer's poll then finds nothing.
            add(&k, ep, r, EPOLLOUT, 1).await;
            k.spawn_thread("writer", Some(CpuId(1)), move |k| async move {
                sleep_ns(&k, 10 * MS).await;
                k.sys_write(w, b"x").await.unwrap();
            });
            let transfers = k.counters.transfers.get();
            let start = k.cx.now_ns();
            let got = k.sys_epoll_wait(ep, buf(), 4, 20).await;
            let elapsed = k.cx.now_ns() - start;
            assert_eq!(got, Ok(vec![]));
            assert_eq!(k.counters.transfers.get() - transfers, 1);
            // 20 ms = 5 jiffies in all, ending at the 5th tick boundary after the call;
            // a restarted timeout would end near 30 ms.
            assert!(
                (4 * TICK..5 * TICK + TICK / 10).contains(&elapsed),
                "{elapsed} ns instead of 5 jiffies"
            );
            out.borrow_mut().push(("main".into(), common::show(&got)));
        });
    });
    assert_eq!(log.borrow().len(), KernelVersion::ALL.len());
}

#[test]
fn a_level_triggered_item_reaches_both_waiters_but_an_edge_only_one() {
    // 2.6.21 and the seed tree: sleepers on ep->wq are non-exclusive, a callback wakes
    // them all; 2.6.22: one (exclusive), and the end of its transfer wakes the next if
    // the ready list is not empty. Either way a level-triggered item is put back by the
    // first transfer and reaches the second waiter too; an edge-triggered one reaches
    // only the first (digest §6, epoll9 / epoll10).
    for (flags, expect) in [(0, 2), (EPOLLET, 1)] {
        let got = Rc::new(Cell::new(0u32));
        let seen = got.clone();
        on_both::<SyscallSteps>(&opts(), move |world, _| {
            let p = world.process("app");
            let seen = seen.clone();
            world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
                let ep = k.sys_epoll_create(1).await.unwrap();
                let [r, w] = k.sys_pipe().await.unwrap();
                add(&k, ep, r, EPOLLIN | flags, 1).await;
                for cpu in [1, 0] {
                    let seen = seen.clone();
                    k.spawn_thread("waiter", Some(CpuId(cpu)), move |k| async move {
                        let events = k.sys_epoll_wait(ep, buf(), 4, 20).await.unwrap();
                        seen.set(seen.get() + events.len() as u32);
                    });
                }
                sleep_ns(&k, MS).await;
                k.sys_write(w, b"x").await.unwrap();
            });
        });
        // One run per version.
        let runs = KernelVersion::ALL.len() as u32;
        assert_eq!(got.get(), runs * expect, "flags {flags:#x}");
    }
}

#[test]
fn epoll_pwait_with_signals_blocked_is_not_interrupted_by_a_pending_signal() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, ep, r, EPOLLIN, 1).await;
        let me = k.cx.current().unwrap();
        k.sys_kill(me).await.unwrap();
        let start = k.cx.now_ns();
        assert_eq!(k.sys_epoll_pwait(ep, buf(), 4, 8, true).await, Ok(vec![]));
        // 8 ms = 2 jiffies, ending at the second tick boundary.
        assert!(k.cx.now_ns() - start > TICK);
        // The old mask is restored: the signal is still pending and interrupts epoll_wait
        // and an epoll_pwait that does not block it.
        assert!(k.cx.signal_pending());
        assert_eq!(k.sys_epoll_wait(ep, buf(), 4, 8).await, Err(Errno::EINTR));
        assert_eq!(
            k.sys_epoll_pwait(ep, buf(), 4, 8, false).await,
            Err(Errno::EINTR)
        );
        // With the signal blocked, events are delivered as usual.
        k.sys_write(w, b"x").await.unwrap();
        assert_eq!(
            k.sys_epoll_pwait(ep, buf(), 4, -1, true).await,
            Ok(vec![e(EPOLLIN, 1)])
        );
        k.handle_signal();
    });
}

#[test]
fn epoll_pwait_with_signals_blocked_is_not_interrupted_by_a_signal_sent_during_the_wait() {
    on_both::<SyscallSteps>(&opts(), |world, _| {
        let p = world.process("app");
        let waiter = world.spawn(p, "waiter", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [r, _w] = k.sys_pipe().await.unwrap();
            add(&k, ep, r, EPOLLIN, 1).await;
            let start = k.cx.now_ns();
            // sigprocmask(SIG_SETMASK, {all}) around the wait: the signal stays pending
            // (TIF_SIGPENDING is not set for a blocked signal), the wait times out.
            assert_eq!(k.sys_epoll_pwait(ep, buf(), 4, 20, true).await, Ok(vec![]));
            assert!(k.cx.now_ns() - start > 4 * TICK);
            assert!(k.cx.signal_pending());
            k.handle_signal();
        });
        world.spawn(p, "killer", Some(CpuId(1)), move |k| async move {
            sleep_ns(&k, MS).await;
            k.sys_kill(waiter).await.unwrap();
        });
    });
}

// ---- pipes, descriptors, fcntl -------------------------------------------------------------

#[test]
fn pipe_read_and_write() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let [r, w] = k.sys_pipe().await.unwrap();
        assert_eq!([r, w], [3, 4]);
        assert_eq!(k.sys_write(w, b"hello").await, Ok(5));
        assert_eq!(k.sys_write(w, b" world").await, Ok(6));
        assert_eq!(k.sys_read(r, 3).await, Ok(b"hel".to_vec()));
        // A read returns what is there without waiting for more.
        assert_eq!(k.sys_read(r, 100).await, Ok(b"lo world".to_vec()));
        assert_eq!(k.sys_read(r, 0).await, Ok(vec![]));
        assert_eq!(k.sys_write(w, b"").await, Ok(0));
        // Writer gone: the rest, then end of file.
        k.sys_write(w, b"!").await.unwrap();
        k.sys_close(w).await.unwrap();
        assert_eq!(k.sys_read(r, 10).await, Ok(b"!".to_vec()));
        assert_eq!(k.sys_read(r, 10).await, Ok(vec![]));
        // Reader gone: EPIPE (SIGPIPE is not modelled).
        let [r2, w2] = k.sys_pipe().await.unwrap();
        k.sys_close(r2).await.unwrap();
        assert_eq!(k.sys_write(w2, b"x").await, Err(Errno::EPIPE));
        // Wrong end: the read end is not open for writing and vice versa.
        assert_eq!(k.sys_write(r, b"x").await, Err(Errno::EBADF));
        assert_eq!(k.sys_read(w2, 1).await, Err(Errno::EBADF));
    });
}

#[test]
fn fcntl_sets_o_nonblock_and_an_empty_nonblocking_read_is_eagain() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let [r, w] = k.sys_pipe().await.unwrap();
        let nonblock = |flags: Result<u32, Errno>| flags.map(|f| f & O_NONBLOCK);
        assert_eq!(nonblock(k.sys_fcntl(r, F_GETFL, 0).await), Ok(0));
        assert_eq!(k.sys_fcntl(r, F_SETFL, O_NONBLOCK).await, Ok(0));
        assert_eq!(nonblock(k.sys_fcntl(r, F_GETFL, 0).await), Ok(O_NONBLOCK));
        assert_eq!(k.sys_read(r, 10).await, Err(Errno::EAGAIN));
        k.sys_write(w, b"ab").await.unwrap();
        assert_eq!(k.sys_read(r, 10).await, Ok(b"ab".to_vec()));
        assert_eq!(k.sys_read(r, 10).await, Err(Errno::EAGAIN));
        // The flag belongs to the file: a dup shares it.
        let r2 = k.sys_dup(r).await.unwrap();
        assert_eq!(k.sys_read(r2, 10).await, Err(Errno::EAGAIN));
        // Cleared again; unknown commands are EINVAL, bad fds EBADF.
        assert_eq!(k.sys_fcntl(r2, F_SETFL, 0).await, Ok(0));
        assert_eq!(nonblock(k.sys_fcntl(r, F_GETFL, 0).await), Ok(0));
        assert_eq!(k.sys_fcntl(r, 1234, 0).await, Err(Errno::EINVAL));
        assert_eq!(k.sys_fcntl(99, F_GETFL, 0).await, Err(Errno::EBADF));
        // A full pipe: a non-blocking write is EAGAIN (16 one-page buffers).
        k.sys_fcntl(w, F_SETFL, O_NONBLOCK).await.unwrap();
        let page = vec![0u8; 4096];
        for _ in 0..16 {
            assert_eq!(k.sys_write(w, &page).await, Ok(4096));
        }
        assert_eq!(k.sys_write(w, &page).await, Err(Errno::EAGAIN));
    });
}

#[test]
fn a_small_write_merges_into_the_last_page_only_if_it_fits_after_the_data() {
    // pipe_write's merge test is `buf->offset + buf->len + chars <= PAGE_SIZE`: the bytes
    // a reader consumed from the front of the page are not reclaimed (§5.1 step 3).
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let [r, w] = k.sys_pipe().await.unwrap();
        k.sys_fcntl(w, F_SETFL, O_NONBLOCK).await.unwrap();
        assert_eq!(k.sys_write(w, &[1u8; 4000]).await, Ok(4000));
        assert_eq!(k.sys_read(r, 3990).await.map(|b| b.len()), Ok(3990));
        // 10 bytes left at offset 3990: 3990 + 10 + 100 > 4096, so a second buffer.
        assert_eq!(k.sys_write(w, &[2u8; 100]).await, Ok(100));
        // 96 more fit in that second buffer (100 + 96 <= 4096): merged.
        assert_eq!(k.sys_write(w, &[3u8; 96]).await, Ok(96));
        // Two buffers in use: 14 more pages fill the pipe, the 15th does not fit.
        let page = vec![0u8; 4096];
        for i in 0..14 {
            assert_eq!(k.sys_write(w, &page).await, Ok(4096), "page {i}");
        }
        assert_eq!(k.sys_write(w, &page).await, Err(Errno::EAGAIN));
        let mut data = k.sys_read(r, 206).await.unwrap();
        data.dedup();
        assert_eq!(data, vec![1, 2, 3]);
    });
}

#[test]
fn a_blocking_read_is_woken_by_a_write_from_another_task() {
    let log = common::log();
    on_both::<SyscallSteps>(&opts(), |world, _| {
        let p = world.process("app");
        let out = log.clone();
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let [r, w] = k.sys_pipe().await.unwrap();
            k.spawn_thread("writer", Some(CpuId(1)), move |k| async move {
                sleep_ns(&k, MS).await;
                k.sys_write(w, b"wake").await.unwrap();
            });
            let start = k.cx.now_ns();
            let got = k.sys_read(r, 10).await;
            assert_eq!(got, Ok(b"wake".to_vec()));
            assert!(k.cx.now_ns() - start >= MS);
            out.borrow_mut().push(("main".into(), "read".into()));
        });
    });
    assert_eq!(log.borrow().len(), KernelVersion::ALL.len());
}

#[test]
fn closed_and_unknown_descriptors_are_ebadf() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let [r, w] = k.sys_pipe().await.unwrap();
        k.sys_close(r).await.unwrap();
        assert_eq!(k.sys_close(r).await, Err(Errno::EBADF));
        assert_eq!(k.sys_read(r, 1).await, Err(Errno::EBADF));
        assert_eq!(k.sys_dup(r).await, Err(Errno::EBADF));
        assert_eq!(k.sys_dup2(r, 10).await, Err(Errno::EBADF));
        assert_eq!(k.sys_fcntl(r, F_GETFL, 0).await, Err(Errno::EBADF));
        for bad in [-1, 50, 1 << 20] {
            assert_eq!(k.sys_close(bad).await, Err(Errno::EBADF));
            assert_eq!(k.sys_read(bad, 1).await, Err(Errno::EBADF));
            assert_eq!(k.sys_write(bad, b"x").await, Err(Errno::EBADF));
        }
        assert_eq!(k.sys_write(w, b"x").await, Err(Errno::EPIPE));
        k.sys_close(w).await.unwrap();
        assert_eq!(k.sys_write(w, b"x").await, Err(Errno::EBADF));
    });
}

#[test]
fn dup_takes_the_lowest_free_fd_and_dup2_replaces_the_target() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let [r, w] = k.sys_pipe().await.unwrap();
        let [r2, w2] = k.sys_pipe().await.unwrap();
        assert_eq!([r, w, r2, w2], [3, 4, 5, 6]);
        k.sys_close(4).await.unwrap();
        assert_eq!(k.sys_dup(w2).await, Ok(4));
        assert_eq!(k.sys_dup(w2).await, Ok(7));
        // dup2 onto itself: nothing happens.
        assert_eq!(k.sys_dup2(r, r).await, Ok(r));
        // dup2 closes what the target held: the only reader of pipe 1.
        assert_eq!(k.sys_dup2(w2, 3).await, Ok(3));
        k.sys_write(3, b"x").await.unwrap();
        assert_eq!(k.sys_read(r2, 10).await, Ok(b"x".to_vec()));
        // Pipe 1 lost both ends (its writer at fd 4 was closed before): freed.
        assert_eq!(k.objects.borrow().pipes.live().count(), 1);
        // A target beyond RLIMIT_NOFILE is EBADF; a far one below it is fine.
        assert_eq!(k.sys_dup2(r2, 1024).await, Err(Errno::EBADF));
        assert_eq!(k.sys_dup2(r2, 1023).await, Ok(1023));
        assert_eq!(k.sys_close(1023).await, Ok(()));
    });
}

#[test]
fn descriptors_are_emfile_at_the_limit_and_nothing_leaks() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        k.set_nofile_limit(k.current_process(), 5);
        assert_eq!(k.sys_open("/a").await, Ok(3));
        // One slot left: the pipe's second descriptor does not fit.
        assert_eq!(k.sys_pipe().await, Err(Errno::EMFILE));
        assert_eq!(k.objects.borrow().pipes.live().count(), 0);
        assert_eq!(k.sys_epoll_create(1).await, Ok(4));
        for fd in [3, 4, 0] {
            assert_eq!(k.sys_dup(fd).await, Err(Errno::EMFILE));
        }
        assert_eq!(k.sys_open("/b").await, Err(Errno::EMFILE));
        assert_eq!(k.sys_epoll_create(1).await, Err(Errno::EMFILE));
        assert_eq!(k.sys_pipe().await, Err(Errno::EMFILE));
        assert_eq!(live_epoll_objects(&k).0, 1);
        assert_eq!(k.sys_dup2(3, 5).await, Err(Errno::EBADF));
        // Freeing a slot makes room again.
        k.sys_close(3).await.unwrap();
        assert_eq!(k.sys_dup(4).await, Ok(3));
    });
}

#[test]
fn reading_or_writing_an_epoll_fd_is_einval() {
    // vfs_read: the file is open for reading but epoll has no ->read: EINVAL. vfs_write:
    // an anon-inode file (from da66f7cb0f69) is FMODE_READ|FMODE_WRITE, so EINVAL; the
    // eventpollfs file of 2.6.21 and of the 6192bd536f96 tree is FMODE_READ only, so
    // EBADF (§3.29, §3.30).
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        assert_eq!(k.sys_read(ep, 8).await, Err(Errno::EINVAL));
        let expected = match k.version() {
            KernelVersion::Seed | KernelVersion::V2_6_21 => Errno::EBADF,
            KernelVersion::V2_6_22 => Errno::EINVAL,
        };
        assert_eq!(k.sys_write(ep, b"x").await, Err(expected));
    });
}

// ---- LT / ET / ONESHOT, MOD, DEL -----------------------------------------------------------

#[test]
fn level_triggered_items_are_reported_while_ready() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, ep, r, EPOLLIN, 1).await;
        // The write end is writable from the start: queued by ep_insert itself.
        add(&k, ep, w, EPOLLOUT, 2).await;
        assert_eq!(ready_list(&k, ep), vec![2]);
        assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLOUT, 2)]);
        assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLOUT, 2)]);
        k.sys_write(w, b"xy").await.unwrap();
        for _ in 0..3 {
            assert_eq!(
                sorted(poll_now(&k, ep, 4).await),
                vec![e(EPOLLIN, 1), e(EPOLLOUT, 2)]
            );
        }
        // A partial read leaves it readable; the last byte ends the reports.
        k.sys_read(r, 1).await.unwrap();
        assert_eq!(poll_now(&k, ep, 4).await.len(), 2);
        k.sys_read(r, 1).await.unwrap();
        assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLOUT, 2)]);
        // The interest mask filters: EPOLLRDNORM only if asked for.
        k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r, ev(EPOLLIN | EPOLLRDNORM, 1))
            .await
            .unwrap();
        k.sys_write(w, b"z").await.unwrap();
        assert_eq!(
            sorted(poll_now(&k, ep, 4).await),
            vec![e(EPOLLOUT, 2), e(EPOLLIN | EPOLLRDNORM, 1)]
        );
    });
}

async fn edge_triggered_items_are_reported_once_per_wake_up_scenario<G: Granularity>(
    k: Rc<Kernel<G>>,
) {
    let ep = k.sys_epoll_create(1).await.unwrap();
    let [r, w] = k.sys_pipe().await.unwrap();
    add(&k, ep, r, EPOLLIN | EPOLLET, 1).await;
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    k.sys_write(w, b"a").await.unwrap();
    assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 1)]);
    // Still readable, but no new wake-up: not reported again.
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    assert_eq!(ready_list(&k, ep), Vec::<u64>::new());
    // Two writes, one report: the second callback finds the item linked.
    k.sys_write(w, b"b").await.unwrap();
    k.sys_write(w, b"c").await.unwrap();
    assert_eq!(ready_list(&k, ep), vec![1]);
    assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 1)]);
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    // A partial read of the buffer issues no wake-up: no report.
    assert_eq!(k.sys_read(r, 1).await, Ok(b"a".to_vec()));
    assert_eq!(ready_list(&k, ep), Vec::<u64>::new());
    // The read that empties the buffer wakes the pipe's queue, so the callback
    // queues the item, but the transfer's poll finds nothing to read: not reported.
    assert_eq!(k.sys_read(r, 10).await, Ok(b"bc".to_vec()));
    assert_eq!(ready_list(&k, ep), vec![1]);
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    assert_eq!(ready_list(&k, ep), Vec::<u64>::new());
    k.sys_write(w, b"d").await.unwrap();
    assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 1)]);
}

#[test]
fn edge_triggered_items_are_reported_once_per_wake_up() {
    single_task_on_both::<SyscallSteps, _, _>(
        &opts(),
        edge_triggered_items_are_reported_once_per_wake_up_scenario,
    );
}

async fn oneshot_items_are_disabled_after_one_report_until_mod_rearms_them_scenario<
    G: Granularity,
>(
    k: Rc<Kernel<G>>,
) {
    let ep = k.sys_epoll_create(1).await.unwrap();
    let [r, w] = k.sys_pipe().await.unwrap();
    add(&k, ep, r, EPOLLIN | EPOLLONESHOT, 1).await;
    k.sys_write(w, b"a").await.unwrap();
    assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 1)]);
    // Disabled (mask = private bits): neither re-injected nor queued by callbacks.
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    k.sys_write(w, b"b").await.unwrap();
    assert_eq!(ready_list(&k, ep), Vec::<u64>::new());
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    // MOD re-arms; the file is readable, so ep_modify queues it at once.
    k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r, ev(EPOLLIN | EPOLLONESHOT, 2))
        .await
        .unwrap();
    assert_eq!(ready_list(&k, ep), vec![2]);
    assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 2)]);
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    // Re-armed while not ready: reported at the next wake-up only.
    k.sys_read(r, 10).await.unwrap();
    k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r, ev(EPOLLIN | EPOLLONESHOT, 3))
        .await
        .unwrap();
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    k.sys_write(w, b"c").await.unwrap();
    assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 3)]);
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    // Even the forced POLLHUP is not reported while disabled.
    k.sys_read(r, 10).await.unwrap();
    k.sys_close(w).await.unwrap();
    assert_eq!(ready_list(&k, ep), Vec::<u64>::new());
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    // DEL of a disabled item works.
    k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await.unwrap();
    assert_eq!(live_epoll_objects(&k), (1, 0, 0));
}

#[test]
fn oneshot_items_are_disabled_after_one_report_until_mod_rearms_them() {
    single_task_on_both::<SyscallSteps, _, _>(
        &opts(),
        oneshot_items_are_disabled_after_one_report_until_mod_rearms_them_scenario,
    );
}

async fn mod_changes_the_mask_and_the_data_scenario<G: Granularity>(k: Rc<Kernel<G>>) {
    let ep = k.sys_epoll_create(1).await.unwrap();
    let [r, w] = k.sys_pipe().await.unwrap();
    // The read end is never writable: nothing to report.
    add(&k, ep, r, EPOLLOUT, 1).await;
    k.sys_write(w, b"x").await.unwrap();
    // The callback queued it (its mask has poll bits) but the transfer's poll
    // intersects to nothing, so it is dropped.
    assert_eq!(ready_list(&k, ep), vec![1]);
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r, ev(EPOLLIN, 2))
        .await
        .unwrap();
    assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 2)]);
    // MOD of an item that sits on the ready list: new data, not queued twice.
    assert_eq!(ready_list(&k, ep), vec![2]);
    k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r, ev(EPOLLIN | EPOLLOUT, 3))
        .await
        .unwrap();
    assert_eq!(ready_list(&k, ep), vec![3]);
    assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 3)]);
    // To ET: reported once more (it was queued), then no more.
    k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r, ev(EPOLLIN | EPOLLET, 4))
        .await
        .unwrap();
    assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 4)]);
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
    // MOD on a ready ET item queues it again: a way to re-trigger an edge.
    k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r, ev(EPOLLIN | EPOLLET, 5))
        .await
        .unwrap();
    assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 5)]);
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
}

#[test]
fn mod_changes_the_mask_and_the_data() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), mod_changes_the_mask_and_the_data_scenario);
}

#[test]
fn mod_never_unlinks_a_queued_item_the_transfer_drops_it() {
    // §3.17: the comment promises to unlink an item that is no longer ready; the code
    // does not. The stale entry makes the epoll fd itself look readable.
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let outer = k.sys_epoll_create(1).await.unwrap();
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, ep, r, EPOLLIN, 1).await;
        add(&k, outer, ep, EPOLLIN, 100).await;
        k.sys_write(w, b"x").await.unwrap();
        assert_eq!(ready_list(&k, ep), vec![1]);
        k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r, ev(EPOLLOUT, 2))
            .await
            .unwrap();
        assert_eq!(ready_list(&k, ep), vec![2]);
        assert_eq!(poll_now(&k, outer, 4).await, vec![e(EPOLLIN, 100)]);
        assert_eq!(poll_now(&k, ep, 4).await, vec![]);
        assert_eq!(ready_list(&k, ep), Vec::<u64>::new());
    });
}

#[test]
fn add_and_mod_of_a_ready_fd_wake_a_sleeping_waiter() {
    // ep_insert and ep_modify queue a ready item themselves and wake ep->wq.
    let log = common::log();
    on_both::<SyscallSteps>(&opts(), |world, _| {
        let p = world.process("app");
        let out = log.clone();
        let done = Rc::new(Cell::new(0u32));
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [r, w] = k.sys_pipe().await.unwrap();
            k.sys_write(w, b"x").await.unwrap();
            let (out2, done2) = (out.clone(), done.clone());
            k.spawn_thread("waiter", Some(CpuId(1)), move |k| async move {
                for data in [1, 2] {
                    let got = k.sys_epoll_wait(ep, buf(), 4, -1).await;
                    assert_eq!(got, Ok(vec![e(EPOLLIN, data)]));
                    out2.borrow_mut()
                        .push(("waiter".into(), common::show(&got)));
                    done2.set(done2.get() + 1);
                }
            });
            sleep_ns(&k, MS).await;
            assert_eq!(done.get(), 0);
            add(&k, ep, r, EPOLLIN | EPOLLONESHOT, 1).await;
            sleep_ns(&k, MS).await;
            assert_eq!(done.get(), 1);
            // The waiter sleeps again (the item is disabled); MOD re-arms and wakes it.
            k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r, ev(EPOLLIN | EPOLLONESHOT, 2))
                .await
                .unwrap();
            sleep_ns(&k, MS).await;
            assert_eq!(done.get(), 2);
        });
    });
    assert_eq!(log.borrow().len(), 2 * KernelVersion::ALL.len());
}

#[test]
fn adding_a_ready_fd_to_an_inner_set_wakes_a_waiter_on_the_outer_set() {
    // ep_insert's pwake: ep_poll_safewake(&inner->poll_wait) runs the outer set's callback.
    let log = common::log();
    on_both::<SyscallSteps>(&opts(), |world, _| {
        let p = world.process("app");
        let out = log.clone();
        let done = Rc::new(Cell::new(0u32));
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let outer = k.sys_epoll_create(1).await.unwrap();
            let inner = k.sys_epoll_create(1).await.unwrap();
            let [r, w] = k.sys_pipe().await.unwrap();
            add(&k, outer, inner, EPOLLIN, 100).await;
            k.sys_write(w, b"x").await.unwrap();
            let (out2, done2) = (out.clone(), done.clone());
            k.spawn_thread("waiter", Some(CpuId(1)), move |k| async move {
                let got = k.sys_epoll_wait(outer, buf(), 4, -1).await;
                assert_eq!(got, Ok(vec![e(EPOLLIN, 100)]));
                out2.borrow_mut()
                    .push(("waiter".into(), common::show(&got)));
                done2.set(done2.get() + 1);
            });
            sleep_ns(&k, MS).await;
            assert_eq!(done.get(), 0);
            add(&k, inner, r, EPOLLIN, 1).await;
            sleep_ns(&k, MS).await;
            assert_eq!(done.get(), 1);
        });
    });
    assert_eq!(log.borrow().len(), KernelVersion::ALL.len());
}

#[test]
fn del_stops_the_reports() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, ep, r, EPOLLIN, 1).await;
        k.sys_write(w, b"x").await.unwrap();
        assert_eq!(ready_list(&k, ep), vec![1]);
        k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await.unwrap();
        // ep_unlink took it off the ready list; the hook is gone.
        assert_eq!(ready_list(&k, ep), Vec::<u64>::new());
        assert_eq!(live_epoll_objects(&k), (1, 0, 0));
        assert_eq!(poll_now(&k, ep, 4).await, vec![]);
        k.sys_write(w, b"y").await.unwrap();
        assert_eq!(poll_now(&k, ep, 4).await, vec![]);
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r, ev(EPOLLIN, 1)).await,
            Err(Errno::ENOENT)
        );
        // Added back, it reports again.
        add(&k, ep, r, EPOLLIN, 2).await;
        assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 2)]);
    });
}

#[test]
fn pollerr_and_pollhup_are_always_reported() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        let [r2, w2] = k.sys_pipe().await.unwrap();
        // Interest masks that the ends can never satisfy themselves.
        add(&k, ep, r, 0, 1).await;
        add(&k, ep, w2, EPOLLIN, 2).await;
        assert_eq!(poll_now(&k, ep, 4).await, vec![]);
        // The writer of pipe 1 goes: its reader hangs up (POLLHUP).
        k.sys_close(w).await.unwrap();
        assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLHUP, 1)]);
        // The reader of pipe 2 goes: its writer gets POLLERR (and POLLOUT, not asked).
        k.sys_close(r2).await.unwrap();
        assert_eq!(
            sorted(poll_now(&k, ep, 4).await),
            vec![e(EPOLLERR, 2), e(EPOLLHUP, 1)]
        );
        // Level-triggered: they stay.
        assert_eq!(poll_now(&k, ep, 4).await.len(), 2);
    });
}

// ---- dup, close, fork ------------------------------------------------------------------------

#[test]
fn an_item_survives_closing_one_descriptor_of_a_dup_and_keeps_the_old_fd_in_its_key() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, ep, r, EPOLLIN, r as u64).await;
        let r2 = k.sys_dup(r).await.unwrap();
        k.sys_close(r).await.unwrap();
        assert_eq!(live_epoll_objects(&k), (1, 1, 1));
        k.sys_write(w, b"x").await.unwrap();
        // Still reported, with the data given for the closed descriptor.
        assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, r as u64)]);
        // The key is (file, r): the surviving descriptor does not name it, the closed one
        // is no descriptor at all.
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_MOD, r2, ev(EPOLLIN, 0)).await,
            Err(Errno::ENOENT)
        );
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r2, None).await,
            Err(Errno::ENOENT)
        );
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await,
            Err(Errno::EBADF)
        );
        // The last close removes the item (eventpoll_release_file).
        k.sys_close(r2).await.unwrap();
        assert_eq!(live_epoll_objects(&k), (1, 0, 0));
        assert_eq!(poll_now(&k, ep, 4).await, vec![]);
        assert_eq!(k.sys_write(w, b"x").await, Err(Errno::EPIPE));
    });
}

#[test]
fn the_same_file_back_at_the_old_number_reaches_the_item() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, _w] = k.sys_pipe().await.unwrap();
        add(&k, ep, r, EPOLLIN, 1).await;
        let r2 = k.sys_dup(r).await.unwrap();
        k.sys_close(r).await.unwrap();
        // dup takes the lowest free descriptor: r again, same file, same key.
        assert_eq!(k.sys_dup(r2).await, Ok(r));
        assert_eq!(
            k.sys_epoll_ctl(ep, EPOLL_CTL_ADD, r, ev(EPOLLIN, 2)).await,
            Err(Errno::EEXIST)
        );
        assert_eq!(k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await, Ok(()));
        assert_eq!(live_epoll_objects(&k), (1, 0, 0));
    });
}

async fn closing_a_watched_fd_removes_its_item_even_from_the_ready_list_scenario<G: Granularity>(
    k: Rc<Kernel<G>>,
) {
    let ep = k.sys_epoll_create(1).await.unwrap();
    let [r, w] = k.sys_pipe().await.unwrap();
    let [r2, w2] = k.sys_pipe().await.unwrap();
    add(&k, ep, r, EPOLLIN, 1).await;
    add(&k, ep, r2, EPOLLIN, 2).await;
    add(&k, ep, w2, EPOLLOUT, 3).await;
    k.sys_write(w, b"x").await.unwrap();
    k.sys_write(w2, b"x").await.unwrap();
    assert_eq!(ready_list(&k, ep), vec![3, 1, 2]);
    k.sys_close(r).await.unwrap();
    assert_eq!(ready_list(&k, ep), vec![3, 2]);
    assert_eq!(live_epoll_objects(&k), (1, 2, 2));
    k.sys_close(w2).await.unwrap();
    assert_eq!(ready_list(&k, ep), vec![2]);
    // r2 now sees the data and the hang-up of its writer.
    assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN | EPOLLHUP, 2)]);
    // dup2 over the last descriptor of a watched file closes it too.
    k.sys_dup2(0, r2).await.unwrap();
    assert_eq!(live_epoll_objects(&k), (1, 0, 0));
    assert_eq!(poll_now(&k, ep, 4).await, vec![]);
}

#[test]
fn closing_a_watched_fd_removes_its_item_even_from_the_ready_list() {
    single_task_on_both::<SyscallSteps, _, _>(
        &opts(),
        closing_a_watched_fd_removes_its_item_even_from_the_ready_list_scenario,
    );
}

async fn closing_the_epoll_fd_frees_the_set_and_its_items_scenario<G: Granularity>(
    k: Rc<Kernel<G>>,
) {
    let ep = k.sys_epoll_create(1).await.unwrap();
    let mut ends = Vec::new();
    for i in 0..3 {
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, ep, r, EPOLLIN, i).await;
        add(&k, ep, w, EPOLLOUT | EPOLLET, 10 + i).await;
        ends.push((r, w));
    }
    k.sys_write(ends[0].1, b"x").await.unwrap();
    assert_eq!(live_epoll_objects(&k), (1, 6, 6));
    k.sys_close(ep).await.unwrap();
    // ep_free: every hook unregistered, every item removed, the eventpoll freed.
    assert_eq!(live_epoll_objects(&k), (0, 0, 0));
    // The pipes live on, and their wake-ups reach no stale hook.
    for &(r, w) in &ends {
        k.sys_write(w, b"y").await.unwrap();
        assert!(!k.sys_read(r, 10).await.unwrap().is_empty());
        k.sys_close(w).await.unwrap();
    }
    assert_eq!(k.sys_epoll_wait(ep, buf(), 1, 0).await, Err(Errno::EBADF));
}

#[test]
fn closing_the_epoll_fd_frees_the_set_and_its_items() {
    single_task_on_both::<SyscallSteps, _, _>(
        &opts(),
        closing_the_epoll_fd_frees_the_set_and_its_items_scenario,
    );
}

#[test]
fn closing_an_epoll_fd_while_another_thread_waits_on_it_keeps_the_set_alive() {
    // Design note situation 1: sys_epoll_wait holds a reference to the file, so the set
    // outlives close() until the wait returns.
    let log = common::log();
    on_both::<SyscallSteps>(&opts(), |world, _| {
        let p = world.process("app");
        let out = log.clone();
        let done = Rc::new(Cell::new(0u32));
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [r, w] = k.sys_pipe().await.unwrap();
            add(&k, ep, r, EPOLLIN, 1).await;
            let (out2, done2) = (out.clone(), done.clone());
            k.spawn_thread("waiter", Some(CpuId(1)), move |k| async move {
                let got = k.sys_epoll_wait(ep, buf(), 4, -1).await;
                assert_eq!(got, Ok(vec![e(EPOLLIN, 1)]));
                out2.borrow_mut()
                    .push(("waiter".into(), common::show(&got)));
                done2.set(done2.get() + 1);
            });
            sleep_ns(&k, MS).await;
            k.sys_close(ep).await.unwrap();
            assert_eq!(live_epoll_objects(&k), (1, 1, 1));
            assert_eq!(
                k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await,
                Err(Errno::EBADF)
            );
            // The set still works for the waiter.
            k.sys_write(w, b"x").await.unwrap();
            sleep_ns(&k, MS).await;
            assert_eq!(done.get(), 1);
            // Its fput was the last reference: ep_free ran.
            assert_eq!(live_epoll_objects(&k), (0, 0, 0));
            out.borrow_mut().push(("main".into(), "done".into()));
        });
    });
    assert_eq!(log.borrow().len(), 2 * KernelVersion::ALL.len());
}

#[test]
fn fork_shares_a_watched_file_and_the_set_between_two_processes() {
    let log = common::log();
    on_both::<SyscallSteps>(&opts(), |world, _| {
        let p = world.process("parent");
        let out = log.clone();
        let done = Rc::new(Cell::new(0u32));
        world.spawn(p, "parent", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [r, w] = k.sys_pipe().await.unwrap();
            add(&k, ep, r, EPOLLIN, 42).await;
            let child = k.fork_process(k.current_process(), "child");
            let (out2, done2) = (out.clone(), done.clone());
            spawn_in(&k, child, "child", Some(CpuId(1)), move |k| async move {
                // The same descriptors name the same files in the child.
                let got = k.sys_epoll_wait(ep, buf(), 4, -1).await;
                assert_eq!(got, Ok(vec![e(EPOLLIN, 42)]));
                assert_eq!(k.sys_read(r, 10).await, Ok(b"x".to_vec()));
                // The child's r is the same (file, fd) key: it can remove the item.
                assert_eq!(k.sys_epoll_ctl(ep, EPOLL_CTL_DEL, r, None).await, Ok(()));
                out2.borrow_mut().push(("child".into(), common::show(&got)));
                done2.set(done2.get() + 1);
            });
            // The parent's close leaves the file referenced by the child: item stays.
            k.sys_close(r).await.unwrap();
            assert_eq!(live_epoll_objects(&k), (1, 1, 1));
            k.sys_write(w, b"x").await.unwrap();
            assert_eq!(poll_now(&k, ep, 4).await, vec![e(EPOLLIN, 42)]);
            sleep_ns(&k, MS).await;
            assert_eq!(done.get(), 1);
            assert_eq!(live_epoll_objects(&k), (1, 0, 0));
            assert_eq!(poll_now(&k, ep, 4).await, vec![]);
            out.borrow_mut().push(("parent".into(), "done".into()));
        });
    });
    assert_eq!(log.borrow().len(), 2 * KernelVersion::ALL.len());
}

#[test]
fn one_write_wakes_sets_of_two_processes_watching_the_same_file() {
    let log = common::log();
    on_both::<SyscallSteps>(&opts(), |world, _| {
        let p = world.process("parent");
        let out = log.clone();
        world.spawn(p, "parent", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            let [r, w] = k.sys_pipe().await.unwrap();
            add(&k, ep, r, EPOLLIN | EPOLLET, 1).await;
            let child = k.fork_process(k.current_process(), "child");
            let out2 = out.clone();
            spawn_in(&k, child, "child", Some(CpuId(1)), move |k| async move {
                // The child's table is a copy (0–5 taken): its own set gets fd 6.
                let own = k.sys_epoll_create(1).await.unwrap();
                assert_eq!(own, 6);
                add(&k, own, r, EPOLLIN | EPOLLET, 2).await;
                let got = k.sys_epoll_wait(own, buf(), 4, -1).await;
                assert_eq!(got, Ok(vec![e(EPOLLIN, 2)]));
                out2.borrow_mut().push(("child".into(), common::show(&got)));
            });
            sleep_ns(&k, MS).await;
            // Two items on one file, in two sets of two processes.
            assert_eq!(live_epoll_objects(&k), (2, 2, 2));
            k.sys_write(w, b"x").await.unwrap();
            let got = k.sys_epoll_wait(ep, buf(), 4, -1).await;
            assert_eq!(got, Ok(vec![e(EPOLLIN, 1)]));
            out.borrow_mut().push(("parent".into(), common::show(&got)));
        });
    });
    assert_eq!(log.borrow().len(), 2 * KernelVersion::ALL.len());
}

// ---- nesting ---------------------------------------------------------------------------------

#[test]
fn an_inner_set_with_ready_items_makes_the_outer_set_report_pollin() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let outer = k.sys_epoll_create(1).await.unwrap();
        let inner = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, inner, r, EPOLLIN, 1).await;
        add(&k, outer, inner, EPOLLIN, 100).await;
        assert_eq!(poll_now(&k, outer, 4).await, vec![]);
        k.sys_write(w, b"x").await.unwrap();
        // The pipe's wake queued r in inner, whose poll_wait wake queued inner in outer.
        assert_eq!(ready_list(&k, outer), vec![100]);
        assert_eq!(poll_now(&k, outer, 4).await, vec![e(EPOLLIN, 100)]);
        // ep_eventpoll_poll answers POLLIN|POLLRDNORM; the mask keeps what was asked.
        k.sys_epoll_ctl(outer, EPOLL_CTL_MOD, inner, ev(EPOLLIN | EPOLLRDNORM, 101))
            .await
            .unwrap();
        assert_eq!(
            poll_now(&k, outer, 4).await,
            vec![e(EPOLLIN | EPOLLRDNORM, 101)]
        );
        assert_eq!(poll_now(&k, inner, 4).await, vec![e(EPOLLIN, 1)]);
        // Drained: the inner set empties at its next transfer, then the outer one.
        k.sys_read(r, 1).await.unwrap();
        assert_eq!(poll_now(&k, inner, 4).await, vec![]);
        assert_eq!(poll_now(&k, outer, 4).await, vec![]);
    });
}

#[test]
fn three_levels_of_nesting_wake_a_waiter_on_the_outermost_set() {
    let log = common::log();
    on_both::<SyscallSteps>(&opts(), |world, _| {
        let p = world.process("app");
        let out = log.clone();
        let done = Rc::new(Cell::new(0u32));
        world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
            let e0 = k.sys_epoll_create(1).await.unwrap();
            let e1 = k.sys_epoll_create(1).await.unwrap();
            let e2 = k.sys_epoll_create(1).await.unwrap();
            let [r, w] = k.sys_pipe().await.unwrap();
            add(&k, e2, r, EPOLLIN, 2).await;
            add(&k, e1, e2, EPOLLIN, 1).await;
            add(&k, e0, e1, EPOLLIN, 0).await;
            let (out2, done2) = (out.clone(), done.clone());
            k.spawn_thread("waiter", Some(CpuId(1)), move |k| async move {
                let got = k.sys_epoll_wait(e0, buf(), 4, -1).await;
                assert_eq!(got, Ok(vec![e(EPOLLIN, 0)]));
                out2.borrow_mut()
                    .push(("waiter".into(), common::show(&got)));
                done2.set(done2.get() + 1);
            });
            sleep_ns(&k, MS).await;
            assert_eq!(done.get(), 0);
            k.sys_write(w, b"x").await.unwrap();
            sleep_ns(&k, MS).await;
            assert_eq!(done.get(), 1);
            assert_eq!(poll_now(&k, e1, 4).await, vec![e(EPOLLIN, 1)]);
            assert_eq!(poll_now(&k, e2, 4).await, vec![e(EPOLLIN, 2)]);
            out.borrow_mut().push(("main".into(), "done".into()));
        });
    });
    assert_eq!(log.borrow().len(), 2 * KernelVersion::ALL.len());
}

// §3.23: ep_eventpoll_poll looks at rdllist only, it does not re-poll the items.
async fn an_epoll_fd_polls_readable_while_its_ready_list_holds_nothing_deliverable_scenario<
    G: Granularity,
>(
    k: Rc<Kernel<G>>,
) {
    let outer = k.sys_epoll_create(1).await.unwrap();
    let inner = k.sys_epoll_create(1).await.unwrap();
    let [r, w] = k.sys_pipe().await.unwrap();
    add(&k, inner, r, EPOLLIN, 1).await;
    add(&k, outer, inner, EPOLLIN, 100).await;
    k.sys_write(w, b"x").await.unwrap();
    assert_eq!(k.sys_read(r, 1).await, Ok(b"x".to_vec()));
    // r is no longer readable, yet it is still queued in inner...
    assert_eq!(ready_list(&k, inner), vec![1]);
    // ...so outer reports inner as readable...
    assert_eq!(poll_now(&k, outer, 4).await, vec![e(EPOLLIN, 100)]);
    // ...although inner has nothing to deliver.
    assert_eq!(poll_now(&k, inner, 4).await, vec![]);
    // Now inner's list is empty: outer's re-injected item is dropped.
    assert_eq!(ready_list(&k, outer), vec![100]);
    assert_eq!(poll_now(&k, outer, 4).await, vec![]);
}

#[test]
fn an_epoll_fd_polls_readable_while_its_ready_list_holds_nothing_deliverable() {
    single_task_on_both::<SyscallSteps, _, _>(
        &opts(),
        an_epoll_fd_polls_readable_while_its_ready_list_holds_nothing_deliverable_scenario,
    );
}

// ep_poll_safewake drops a wake once the task already has more than
// EP_MAX_POLLWAKE_NESTS (4) wakes in progress: five nested poll_wait wakes are
// performed, the sixth is dropped. With seven sets chained above a pipe (e1 watches
// the pipe, e(k+1) watches e(k)), the pipe's wake queues the pipe in e1 and wakes
// e1..e5's poll_wait, so e2..e6 queue their child; e6's poll_wait wake is the sixth
// and is dropped: e7 never hears of the event, although its level-triggered item for
// e6 would poll readable. Nothing repairs this by itself until something wakes e6's
// poll_wait again — here, e6's own transfer re-splicing its level-triggered item
// (the pwake of ep_send_events / ep_reinject_items). Same on both versions.
async fn a_nesting_chain_deeper_than_ep_max_pollwake_nests_loses_the_top_wake_scenario<
    G: Granularity,
>(
    k: Rc<Kernel<G>>,
) {
    let mut sets = Vec::new();
    for _ in 0..7 {
        sets.push(k.sys_epoll_create(1).await.unwrap());
    }
    let [r, w] = k.sys_pipe().await.unwrap();
    add(&k, sets[0], r, EPOLLIN, 100).await;
    for level in 1..7 {
        add(&k, sets[level], sets[level - 1], EPOLLIN, level as u64).await;
    }
    k.sys_write(w, b"x").await.unwrap();
    assert_eq!(ready_list(&k, sets[0]), vec![100]);
    for (level, &set) in sets.iter().enumerate().take(6).skip(1) {
        assert_eq!(ready_list(&k, set), vec![level as u64], "e{}", level + 1);
    }
    assert_eq!(ready_list(&k, sets[6]), Vec::<u64>::new(), "e7");
    assert_eq!(poll_now(&k, sets[6], 4).await, vec![]);
    assert_eq!(poll_now(&k, sets[5], 4).await, vec![e(EPOLLIN, 5)]);
    // e6's re-splice woke its poll_wait afresh (one nesting level): e7 hears now.
    assert_eq!(ready_list(&k, sets[6]), vec![6]);
    assert_eq!(poll_now(&k, sets[6], 4).await, vec![e(EPOLLIN, 6)]);
}

#[test]
fn a_nesting_chain_deeper_than_ep_max_pollwake_nests_loses_the_top_wake() {
    single_task_on_both::<SyscallSteps, _, _>(
        &opts(),
        a_nesting_chain_deeper_than_ep_max_pollwake_nests_loses_the_top_wake_scenario,
    );
}

#[test]
fn a_nesting_chain_of_six_sets_is_fully_woken() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let mut sets = Vec::new();
        for _ in 0..6 {
            sets.push(k.sys_epoll_create(1).await.unwrap());
        }
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, sets[0], r, EPOLLIN, 100).await;
        for level in 1..6 {
            add(&k, sets[level], sets[level - 1], EPOLLIN, level as u64).await;
        }
        k.sys_write(w, b"x").await.unwrap();
        assert_eq!(ready_list(&k, sets[5]), vec![5]);
        assert_eq!(poll_now(&k, sets[5], 4).await, vec![e(EPOLLIN, 5)]);
    });
}

// 2.6.22 has no loop check (ELOOP came later): a cycle is accepted, and the wake
// recursion is cut by ep_poll_safewake's same-head test.
async fn an_epoll_fd_cannot_watch_itself_but_two_sets_may_watch_each_other_scenario<
    G: Granularity,
>(
    k: Rc<Kernel<G>>,
) {
    let a = k.sys_epoll_create(1).await.unwrap();
    let b = k.sys_epoll_create(1).await.unwrap();
    assert_eq!(
        k.sys_epoll_ctl(a, EPOLL_CTL_ADD, a, ev(EPOLLIN, 0)).await,
        Err(Errno::EINVAL)
    );
    add(&k, a, b, EPOLLIN, 20).await;
    add(&k, b, a, EPOLLIN, 10).await;
    let [r, w] = k.sys_pipe().await.unwrap();
    add(&k, a, r, EPOLLIN, 1).await;
    k.sys_write(w, b"x").await.unwrap();
    // r queued in a; a's wake queued a in b; b's wake queued b in a; a's second
    // wake of its own poll_wait was dropped (same head already being woken).
    assert_eq!(ready_list(&k, a), vec![1, 20]);
    assert_eq!(ready_list(&k, b), vec![10]);
    assert_eq!(datas(&poll_now(&k, b, 4).await), vec![10]);
}

#[test]
fn an_epoll_fd_cannot_watch_itself_but_two_sets_may_watch_each_other() {
    single_task_on_both::<SyscallSteps, _, _>(
        &opts(),
        an_epoll_fd_cannot_watch_itself_but_two_sets_may_watch_each_other_scenario,
    );
}

#[test]
fn closing_an_inner_epoll_fd_removes_it_from_the_outer_set_first() {
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let outer = k.sys_epoll_create(1).await.unwrap();
        let inner = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        add(&k, inner, r, EPOLLIN, 1).await;
        add(&k, outer, inner, EPOLLIN, 100).await;
        k.sys_write(w, b"x").await.unwrap();
        assert_eq!(ready_list(&k, outer), vec![100]);
        assert_eq!(live_epoll_objects(&k), (2, 2, 2));
        k.sys_close(inner).await.unwrap();
        // eventpoll_release_file (outer's item) runs before ep_free (inner's items).
        assert_eq!(live_epoll_objects(&k), (1, 0, 0));
        assert_eq!(ready_list(&k, outer), Vec::<u64>::new());
        assert_eq!(poll_now(&k, outer, 4).await, vec![]);
        k.sys_write(w, b"x").await.unwrap();
        assert_eq!(poll_now(&k, outer, 4).await, vec![]);
    });
}

// ---- the same at finer granularities ---------------------------------------------------------

fn at(granularity: GranularityKind) -> Options {
    let mut options = Options::default();
    options.machine.granularity = granularity;
    options
}

#[test]
fn transfer_and_nesting_scenarios_give_the_same_results_at_lock_and_access_granularity() {
    // At `access` granularity the list operations take their stepping path and every
    // shared-word access is a step; the canonical schedule must still see the same
    // syscall results.
    let lock = at(GranularityKind::Lock);
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        a_fault_at_the_second_put_user_level_triggered_scenario,
    );
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        a_fault_at_the_second_put_user_edge_triggered_scenario,
    );
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        a_fault_at_the_first_put_user_is_efault_and_keeps_a_oneshot_item_armed_scenario,
    );
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        edge_triggered_items_are_reported_once_per_wake_up_scenario,
    );
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        oneshot_items_are_disabled_after_one_report_until_mod_rearms_them_scenario,
    );
    single_task_on_both::<LockSteps, _, _>(&lock, mod_changes_the_mask_and_the_data_scenario);
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        closing_a_watched_fd_removes_its_item_even_from_the_ready_list_scenario,
    );
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        closing_the_epoll_fd_frees_the_set_and_its_items_scenario,
    );
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        an_epoll_fd_polls_readable_while_its_ready_list_holds_nothing_deliverable_scenario,
    );
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        a_nesting_chain_deeper_than_ep_max_pollwake_nests_loses_the_top_wake_scenario,
    );
    single_task_on_both::<LockSteps, _, _>(
        &lock,
        an_epoll_fd_cannot_watch_itself_but_two_sets_may_watch_each_other_scenario,
    );
    let access = at(GranularityKind::Access);
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        a_fault_at_the_second_put_user_level_triggered_scenario,
    );
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        a_fault_at_the_second_put_user_edge_triggered_scenario,
    );
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        a_fault_at_the_first_put_user_is_efault_and_keeps_a_oneshot_item_armed_scenario,
    );
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        edge_triggered_items_are_reported_once_per_wake_up_scenario,
    );
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        oneshot_items_are_disabled_after_one_report_until_mod_rearms_them_scenario,
    );
    single_task_on_both::<AccessSteps, _, _>(&access, mod_changes_the_mask_and_the_data_scenario);
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        closing_a_watched_fd_removes_its_item_even_from_the_ready_list_scenario,
    );
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        closing_the_epoll_fd_frees_the_set_and_its_items_scenario,
    );
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        an_epoll_fd_polls_readable_while_its_ready_list_holds_nothing_deliverable_scenario,
    );
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        a_nesting_chain_deeper_than_ep_max_pollwake_nests_loses_the_top_wake_scenario,
    );
    single_task_on_both::<AccessSteps, _, _>(
        &access,
        an_epoll_fd_cannot_watch_itself_but_two_sets_may_watch_each_other_scenario,
    );
}

/// F_GETFL reports each file's access mode as its creator set it in the version run
/// (an anonymous-inode epoll fd is O_RDWR, the eventpollfs file of 2.6.21 and of the
/// 6192bd536f96 tree O_RDONLY),
/// and F_SETFL leaves it alone.
#[test]
fn fcntl_getfl_reports_the_access_mode_each_file_was_made_with() {
    use kernel_model::objects::{O_ACCMODE, O_RDONLY, O_RDWR, O_WRONLY};
    single_task_on_both::<SyscallSteps, _, _>(&opts(), |k: K| async move {
        let mode = |flags: Result<u32, Errno>| flags.map(|f| f & O_ACCMODE);
        let [r, w] = k.sys_pipe().await.unwrap();
        assert_eq!(mode(k.sys_fcntl(r, F_GETFL, 0).await), Ok(O_RDONLY));
        assert_eq!(mode(k.sys_fcntl(w, F_GETFL, 0).await), Ok(O_WRONLY));
        let ep = k.sys_epoll_create(1).await.unwrap();
        let epoll_mode = match k.version() {
            KernelVersion::Seed | KernelVersion::V2_6_21 => O_RDONLY,
            KernelVersion::V2_6_22 => O_RDWR,
        };
        assert_eq!(mode(k.sys_fcntl(ep, F_GETFL, 0).await), Ok(epoll_mode));
        let [a, b] = k.sys_socketpair().await.unwrap();
        assert_eq!(mode(k.sys_fcntl(a, F_GETFL, 0).await), Ok(O_RDWR));
        assert_eq!(mode(k.sys_fcntl(b, F_GETFL, 0).await), Ok(O_RDWR));
        if k.version().missing_syscall("eventfd").is_none() {
            let e = k.sys_eventfd(0).await.unwrap();
            assert_eq!(mode(k.sys_fcntl(e, F_GETFL, 0).await), Ok(O_RDWR));
        }
        let f = k.sys_open("/etc/passwd").await.unwrap();
        assert_eq!(mode(k.sys_fcntl(f, F_GETFL, 0).await), Ok(O_RDONLY));
        assert_eq!(mode(k.sys_fcntl(0, F_GETFL, 0).await), Ok(O_RDWR));
        // Setting O_NONBLOCK keeps the access mode.
        k.sys_fcntl(w, F_SETFL, O_NONBLOCK).await.unwrap();
        assert_eq!(k.sys_fcntl(w, F_GETFL, 0).await, Ok(O_WRONLY | O_NONBLOCK));
    });
}
