//! Checkers of the kernel model, kept apart from the code they check. They read state
//! with `peek` (no steps, no cost) and return reports; they never change the model.
//!
//! - [`ready_lists`]: every ready list is a well-formed list, and every epitem whose
//!   `rdllink` is linked is on exactly one list — its set's ready list or the
//!   txlist/injlist of one task transferring from that set (`orphaned-item` otherwise).
//! - [`lost_wakeups`]: at quiescence, no task sleeps in `ep_poll` while its set holds an
//!   enabled level-triggered item whose file is ready for the item's mask, or while the
//!   set's ready list is non-empty (`lost-wakeup`).
//! - [`leaks`]: after every process exited (all descriptors closed), nothing of epoll or
//!   the VFS is left allocated (`leak`).

use sim::list::{self, ListHead};
use sim::{Granularity, Report, ReportKind, TaskId};

use crate::kernel::Kernel;
use crate::objects::{EpitemId, EventPollId};
use crate::poll::{EPOLLET, EP_PRIVATE_BITS};

fn report(
    kind: ReportKind,
    task: Option<TaskId>,
    message: String,
    details: Vec<String>,
    step: u64,
) -> Report {
    Report {
        kind,
        step,
        cpu: None,
        task,
        message,
        details,
        schedule: String::new(),
    }
}

/// Whether the ready-list structures of `ep` are stable enough to check now: nobody
/// holds `ep->lock`, nobody is transferring from it, and no store is in flight.
pub fn ready_lists_quiet<G: Granularity>(kernel: &Kernel<G>, ep: EventPollId) -> bool {
    let state = kernel.cx.state();
    let Ok((lock, mtx)) = kernel
        .objects
        .borrow()
        .eventpolls
        .get(ep)
        .map(|e| (e.lock, e.sem))
    else {
        return false;
    };
    if state.locks.borrow().get(lock).holders().next().is_some() {
        return false;
    }
    // 6.18 scans (ep_send_events, and __ep_eventpoll_poll on any level of nesting) hold
    // ep->mtx for as long as items are off the ready list but linked.
    if kernel.version() == crate::kernel::KernelVersion::V6_18
        && state.locks.borrow().get(mtx).holders().next().is_some()
    {
        return false;
    }
    if kernel
        .objects
        .borrow()
        .tasks
        .values()
        .any(|t| t.in_transfer == Some(ep))
    {
        return false;
    }
    (0..state.config.cpus).all(|c| state.mem.buffer_is_empty(sim::CpuId(c as u16)))
}

/// The list-integrity and reachability check of every set that is quiet.
pub fn ready_lists<G: Granularity>(kernel: &Kernel<G>) -> Vec<Report> {
    let mut reports = Vec::new();
    let step = kernel.cx.step();
    let eps: Vec<EventPollId> = kernel
        .objects
        .borrow()
        .eventpolls
        .live()
        .map(|(h, _, _)| h)
        .collect();
    for ep in eps {
        if !ready_lists_quiet(kernel, ep) {
            continue;
        }
        if let Some(r) = check_one_set(kernel, ep, step) {
            reports.push(r);
        }
    }
    reports
}

/// What [`check_one_set`] found wrong first, found without building any text (the
/// check runs after every operation that leaves `ep->lock` at lock and access
/// granularity, so its quiet path must cost little more than the walk).
enum SetProblem {
    Malformed(String),
    NotAnEpitem { link: ListHead, count: usize },
    Orphaned { epi: EpitemId, next: u64 },
    OnManyLists { epi: EpitemId, count: usize },
    SelfLinkedButListed { epi: EpitemId },
}

fn check_one_set<G: Granularity>(kernel: &Kernel<G>, ep: EventPollId, step: u64) -> Option<Report> {
    let cx = &kernel.cx;
    let rdllist = kernel.objects.borrow().eventpolls.get(ep).ok()?.rdllist;
    // Every entry of the ready list, sorted: how many times each link is listed.
    let problem = match list::walk(cx, rdllist) {
        Err(why) => Some(SetProblem::Malformed(why)),
        Ok(mut seen) => {
            seen.sort_unstable();
            find_problem(kernel, ep, &seen)
        }
    }?;
    let (label, items) = {
        let objects = kernel.objects.borrow();
        let e = objects.eventpolls.get(ep).ok()?;
        let items: Vec<EpitemId> = e.rbr.values().copied().collect();
        (e.file_label.clone(), items)
    };
    let listed = |count: usize| vec![format!("{label}.rdllist"); count];
    Some(match problem {
        SetProblem::Malformed(why) => report(
            ReportKind::ListCorruption,
            None,
            format!("{label}.rdllist is not a well-formed list: {why}"),
            describe_items(kernel, &items),
            step,
        ),
        SetProblem::NotAnEpitem { link, count } => report(
            ReportKind::ListCorruption,
            None,
            format!(
                "{label}.rdllist holds {}, which is no live epitem",
                cx.state().mem.name_of(link.0)
            ),
            listed(count),
            step,
        ),
        SetProblem::Orphaned { epi, next } => report(
            ReportKind::OrphanedItem,
            None,
            format!(
                "epitem{} of {label} looks linked (rdllink.next = {}) but is on no list: callbacks will never queue it again",
                kernel.epitem_id(epi),
                list::describe_pointer(next)
            ),
            describe_items(kernel, &items),
            step,
        ),
        SetProblem::OnManyLists { epi, count } => report(
            ReportKind::OrphanedItem,
            None,
            format!(
                "epitem{} of {label} is on {count} lists at once",
                kernel.epitem_id(epi)
            ),
            listed(count),
            step,
        ),
        SetProblem::SelfLinkedButListed { epi } => report(
            ReportKind::ListCorruption,
            None,
            format!(
                "epitem{} of {label} is on the ready list but its rdllink points to itself",
                kernel.epitem_id(epi)
            ),
            describe_items(kernel, &items),
            step,
        ),
    })
}

/// The first problem of the set, in the order the checks are specified: entries of the
/// ready list that are no epitem's link (in link order), then each item of the tree (in
/// tree order) that looks linked but is listed nowhere, is listed more than once, or is
/// listed although it points to itself. `seen` is the ready list's entries, sorted.
fn find_problem<G: Granularity>(
    kernel: &Kernel<G>,
    ep: EventPollId,
    seen: &[ListHead],
) -> Option<SetProblem> {
    let cx = &kernel.cx;
    let objects = kernel.objects.borrow();
    let e = objects.eventpolls.get(ep).ok()?;
    // The items first, noting only their first problem and how many entries of the list
    // are theirs: if all are (the usual case), no entry can be a stranger, and the
    // strangers' check, which comes first in the specification, is skipped.
    let mut listed_items = 0;
    let mut item_problem = None;
    for &epi in e.rbr.values() {
        let Ok(item) = objects.epitems.get(epi) else {
            continue;
        };
        let link = item.rdllink();
        let next = cx.peek(link.next_word());
        let linked = next != link.address();
        let count = match seen.binary_search(&link) {
            Ok(found) => {
                let first = seen[..found]
                    .iter()
                    .rev()
                    .take_while(|&&l| l == link)
                    .count();
                let rest = seen[found..].iter().take_while(|&&l| l == link).count();
                first + rest
            }
            Err(_) => 0,
        };
        listed_items += count;
        if item_problem.is_some() {
            continue;
        }
        if linked && count == 0 {
            item_problem = Some(SetProblem::Orphaned { epi, next });
        } else if count > 1 {
            item_problem = Some(SetProblem::OnManyLists { epi, count });
        } else if !linked && count > 0 {
            item_problem = Some(SetProblem::SelfLinkedButListed { epi });
        }
    }
    if listed_items != seen.len() {
        let mut at = 0;
        while at < seen.len() {
            let link = seen[at];
            let count = seen[at..].iter().take_while(|&&l| l == link).count();
            if !objects.rdllink_owner.contains_key(&link.0) {
                return Some(SetProblem::NotAnEpitem { link, count });
            }
            at += count;
        }
    }
    item_problem
}

fn describe_items<G: Granularity>(kernel: &Kernel<G>, items: &[EpitemId]) -> Vec<String> {
    let cx = &kernel.cx;
    let objects = kernel.objects.borrow();
    items
        .iter()
        .filter_map(|&epi| {
            objects
                .epitems
                .get(epi)
                .ok()
                .map(|e| (e.id, e.rdllink(), e.fd))
        })
        .map(|(id, link, fd)| {
            // Named as traces and the view name it: by its object id, its words' name.
            format!(
                "epitem{id} (fd {fd}): rdllink.next = {}, rdllink.prev = {}",
                describe_word(kernel, cx.peek(link.next_word())),
                describe_word(kernel, cx.peek(link.prev_word()))
            )
        })
        .collect()
}

fn describe_word<G: Granularity>(kernel: &Kernel<G>, value: u64) -> String {
    match sim::Word::from_address(value) {
        Some(word) => kernel.cx.state().mem.name_of(word),
        None => list::describe_pointer(value),
    }
}

/// At quiescence: tasks asleep in `ep_poll` although something they wait for is ready.
pub fn lost_wakeups<G: Granularity>(kernel: &Kernel<G>, sleepers: &[TaskId]) -> Vec<Report> {
    let mut reports = Vec::new();
    let step = kernel.cx.step();
    let waiting: Vec<(TaskId, EventPollId)> = kernel
        .objects
        .borrow()
        .tasks
        .iter()
        .filter_map(|(t, info)| info.in_ep_poll.map(|ep| (t, ep)))
        .filter(|(t, _)| sleepers.contains(t))
        .collect();
    for (task, ep) in waiting {
        let Some((rdllist, label, items)) =
            kernel.objects.borrow().eventpolls.get(ep).ok().map(|e| {
                (
                    e.rdllist,
                    e.file_label.clone(),
                    e.rbr.values().copied().collect::<Vec<_>>(),
                )
            })
        else {
            continue;
        };
        let name = kernel.cx.state().task_name(task);
        if kernel.cx.peek(rdllist.next_word()) != rdllist.address() {
            reports.push(report(
                ReportKind::LostWakeup,
                Some(task),
                format!("{task} ({name}) sleeps in epoll_wait on {label} while its ready list is not empty"),
                describe_items(kernel, &items),
                step,
            ));
            continue;
        }
        for epi in items {
            let Some((file, events_word, fd)) = kernel
                .objects
                .borrow()
                .epitems
                .get(epi)
                .ok()
                .map(|e| (e.file, e.events_word(), e.fd))
            else {
                continue;
            };
            let events = kernel.cx.peek(events_word) as u32;
            if events & !EP_PRIVATE_BITS == 0 || events & EPOLLET != 0 {
                continue;
            }
            // 6.18's EPOLLEXCLUSIVE promises only that *one* of the sets watching a
            // file is woken: the others' items may stay unqueued by design.
            if kernel.version() == crate::kernel::KernelVersion::V6_18
                && events & crate::poll::EPOLLEXCLUSIVE != 0
            {
                continue;
            }
            let Some(mask) = kernel.poll_peek(file) else {
                continue;
            };
            if mask & events != 0 {
                reports.push(report(
                    ReportKind::LostWakeup,
                    Some(task),
                    format!(
                        "{task} ({name}) sleeps in epoll_wait on {label} while fd {fd} ({}) is ready for {} and level-triggered, but not on the ready list",
                        kernel.file_label(file),
                        crate::poll::mask_to_string(mask & events)
                    ),
                    describe_items(kernel, &[epi]),
                    step,
                ));
                break;
            }
        }
    }
    reports
}

/// After every process exited: objects that were never freed.
pub fn leaks<G: Granularity>(kernel: &Kernel<G>) -> Vec<Report> {
    let objects = kernel.objects.borrow();
    let mut details = Vec::new();
    for (h, e, step) in objects.eventpolls.live() {
        details.push(format!(
            "eventpoll {} (#{}) allocated at step {step}",
            e.file_label, h.index
        ));
    }
    for (_, e, step) in objects.epitems.live() {
        details.push(format!(
            "epitem{} (fd {}) allocated at step {step}",
            e.id, e.fd
        ));
    }
    for (h, _, step) in objects.pwqs.live() {
        details.push(format!(
            "eppoll_entry #{} allocated at step {step}",
            h.index
        ));
    }
    for (_, f, step) in objects.files.live() {
        details.push(format!(
            "struct file {} allocated at step {step}",
            f.label.render(&f.kind)
        ));
    }
    for (_, p, step) in objects.pipes.live() {
        details.push(format!("pipe{} allocated at step {step}", p.id));
    }
    for (_, c, step) in objects.eventfds.live() {
        details.push(format!("eventfd_ctx {} allocated at step {step}", c.id));
    }
    for (_, s, step) in objects.socks.live() {
        details.push(format!("sock {} allocated at step {step}", s.label));
    }
    for (_, t, step) in objects.timerfds.live() {
        details.push(format!("timerfd_ctx {} allocated at step {step}", t.id));
    }
    for (_, o, step) in objects.opaques.live() {
        details.push(format!("opaque file {} allocated at step {step}", o.id));
    }
    if details.is_empty() {
        return Vec::new();
    }
    vec![report(
        ReportKind::Leak,
        None,
        format!(
            "{} kernel objects are still allocated after every process exited",
            details.len()
        ),
        details,
        kernel.cx.step(),
    )]
}

// ---- documented findings -----------------------------------------------------------------

/// Names of the documented findings: behaviours of the 2007 code itself that the
/// checkers report on the unmodified port (see `docs/findings.md`). The port keeps them.
pub mod finding {
    /// `INIT_LIST_HEAD(&epi->rdllink)` in `ep_send_events` is two stores; an
    /// `ep_poll_callback` on another CPU that sees `next == self` between them appends
    /// the item, and the transfer CPU's `prev = self` then overwrites the item's `prev`.
    pub const INIT_LIST_HEAD_WINDOW: &str = "init-list-head-window";
    /// `ep_poll_safewake` drops a wake of a head that another task is waking at the
    /// same moment, even though the other task's wake has already passed the pollers
    /// that needed this one: a parent set sleeps while its nested set is ready.
    pub const SAFEWAKE_DROPS_WAKE: &str = "safewake-drops-wake";
    /// 6.18: `__ep_remove` unlinks a file's last epitem under `file->f_lock`; the file's
    /// last close then no longer waits in `eventpoll_release` and frees the file before
    /// the remover's `spin_unlock(&file->f_lock)` (F4; CVE-2026-46242, fixed after 6.18).
    pub const CLOSE_RACE: &str = "close-race";
    /// 2.6.22 and older: `unix_poll`'s `poll_wait` links epoll's hook on `sk_sleep` and
    /// then reads the receive queue with no barrier, while `sock_def_readable` tests
    /// `waitqueue_active(sk_sleep)` without the head's lock; with store buffers both miss
    /// and a level-triggered socket stays ready off the ready list (F6; fixed in 2.6.31
    /// by a57de0b4, `sock_poll_wait` and `sk_has_sleeper`).
    pub const SOCKET_POLL_RACE: &str = "socket-poll-race";
}

/// An epitem whose `rdllink.prev` points at itself while its `next` does not: the
/// mark `INIT_LIST_HEAD`'s second store leaves when a callback linked the item between
/// the two stores. Returns a description of the first such item.
pub fn rdllink_reinit_race<G: Granularity>(kernel: &Kernel<G>) -> Option<String> {
    let objects = kernel.objects.borrow();
    for (_, item, _) in objects.epitems.live() {
        let link = item.rdllink();
        let next = kernel.cx.peek(link.next_word());
        let prev = kernel.cx.peek(link.prev_word());
        if prev == link.address() && next != link.address() {
            return Some(format!(
                "epitem{} (fd {}): rdllink.prev points to itself, rdllink.next = {}",
                item.id,
                item.fd,
                describe_word(kernel, next)
            ));
        }
    }
    None
}

/// For a `lost-wakeup` report: the ready level-triggered item the sleeper's set misses,
/// if its file is an epoll set (a nested set whose wake of its pollers was lost).
pub fn lost_nested_wakeup<G: Granularity>(kernel: &Kernel<G>, task: TaskId) -> Option<String> {
    let ep = kernel.objects.borrow().tasks.get(&task)?.in_ep_poll?;
    let items: Vec<EpitemId> = kernel
        .objects
        .borrow()
        .eventpolls
        .get(ep)
        .ok()?
        .rbr
        .values()
        .copied()
        .collect();
    for epi in items {
        let (file, events_word, fd) = {
            let objects = kernel.objects.borrow();
            let e = objects.epitems.get(epi).ok()?;
            (e.file, e.events_word(), e.fd)
        };
        let events = kernel.cx.peek(events_word) as u32;
        if events & !EP_PRIVATE_BITS == 0 || events & EPOLLET != 0 {
            continue;
        }
        if kernel.file_epoll(file).is_none() {
            continue;
        }
        if kernel
            .poll_peek(file)
            .is_some_and(|mask| mask & events != 0)
        {
            return Some(format!(
                "fd {fd} ({}) is a ready epoll set",
                kernel.file_label(file)
            ));
        }
    }
    None
}

/// Recognises a report of the unmodified port as one of the documented [`finding`]s,
/// looking at the kernel as the run left it. `None` means the report is not explained
/// by a documented finding.
pub fn classify_finding<G: Granularity>(
    kernel: &Kernel<G>,
    report: &Report,
) -> Option<&'static str> {
    match report.kind {
        ReportKind::ListCorruption | ReportKind::OrphanedItem
            if rdllink_reinit_race(kernel).is_some() =>
        {
            Some(finding::INIT_LIST_HEAD_WINDOW)
        }
        ReportKind::LostWakeup
            if report
                .task
                .is_some_and(|t| lost_nested_wakeup(kernel, t).is_some()) =>
        {
            Some(finding::SAFEWAKE_DROPS_WAKE)
        }
        ReportKind::LostWakeup
            if kernel.version() != crate::kernel::KernelVersion::V6_18
                && a_ready_socket_is_off_its_ready_list(kernel) =>
        {
            Some(finding::SOCKET_POLL_RACE)
        }
        ReportKind::UseAfterFree
            if kernel.version() == crate::kernel::KernelVersion::V6_18
                && report.message.starts_with("struct file:")
                && an_ep_mtx_is_held(kernel) =>
        {
            Some(finding::CLOSE_RACE)
        }
        _ => None,
    }
}

/// Whether a level-triggered item watching a socket that polls ready for its events is
/// not on its set's ready list (F6's mark; the nested case F2 is classified first).
fn a_ready_socket_is_off_its_ready_list<G: Granularity>(kernel: &Kernel<G>) -> bool {
    let items: Vec<(crate::objects::FileId, sim::Word, ListHead)> = {
        let objects = kernel.objects.borrow();
        objects
            .epitems
            .live()
            .filter(|(_, item, _)| {
                objects
                    .files
                    .get(item.file)
                    .is_ok_and(|f| matches!(f.kind, crate::objects::FileKind::Socket(_)))
            })
            .map(|(_, item, _)| (item.file, item.events_word(), item.rdllink()))
            .collect()
    };
    items.into_iter().any(|(file, events_word, rdllink)| {
        let events = kernel.cx.peek(events_word) as u32;
        let linked = kernel.cx.peek(rdllink.next_word()) != rdllink.address();
        events & EPOLLET == 0
            && !linked
            && kernel
                .poll_peek(file)
                .is_some_and(|mask| mask & events & !EP_PRIVATE_BITS != 0)
    })
}

/// Whether some eventpoll's `ep->mtx` is held: a 6.18 `struct file` touched after its
/// free while a set's mutex is held is `__ep_remove`'s unlock (F4).
fn an_ep_mtx_is_held<G: Granularity>(kernel: &Kernel<G>) -> bool {
    let mutexes: Vec<sim::LockId> = kernel
        .objects
        .borrow()
        .eventpolls
        .live()
        .map(|(_, e, _)| e.sem)
        .collect();
    let locks = kernel.cx.state().locks.borrow();
    mutexes
        .into_iter()
        .any(|m| locks.get(m).holders().next().is_some())
}
