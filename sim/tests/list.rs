//! `list.h` over shared words, at a granularity where every access is a step and at
//! one where the operations run inline: the same results, the same virtual time, and
//! corruption reported instead of a panic.

mod common;

use common::{config, run, Log};
use sim::list::{
    self, init_list_head, list_add, list_add_tail, list_del, list_del_init, list_empty,
    list_splice, list_splice_init, walk, ListHead, LIST_POISON1, LIST_POISON2,
};
use sim::machine::RunResult;
use sim::strategy::Canonical;
use sim::{
    AccessSteps, Cx, Granularity, LockSteps, Machine, MemoryModel, ReportKind, RunEnd, SyscallSteps,
};

fn new_head<G: Granularity>(cx: &Cx<G>, id: u64) -> ListHead {
    ListHead(cx.alloc_words("node", id, &["next", "prev"]))
}

/// Runs `body` as the only task of a one-CPU machine at granularity `G`.
fn run_list<G, F, Fut>(body: F) -> RunResult
where
    G: Granularity,
    F: FnOnce(Cx<G>) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let mut machine = Machine::new(config::<G>(1, MemoryModel::Sc), 1).unwrap();
    let cx = machine.cx::<G>();
    machine.spawn("t", None, body(cx));
    run(&mut machine, &mut Canonical::default())
}

/// The ids of the nodes on the list at `head`, front to back.
fn ids<G: Granularity>(cx: &Cx<G>, head: ListHead, nodes: &[ListHead]) -> Vec<usize> {
    walk(cx, head)
        .expect("a well-formed list")
        .into_iter()
        .map(|entry| {
            nodes
                .iter()
                .position(|n| *n == entry)
                .expect("a known node")
        })
        .collect()
}

/// Every operation, checked as it goes; the log gets one line per check.
async fn operations<G: Granularity>(cx: Cx<G>, log: Log<String>) {
    let head = new_head(&cx, 0);
    let other = new_head(&cx, 100);
    let nodes: Vec<ListHead> = (0..6).map(|i| new_head(&cx, i)).collect();
    init_list_head(&cx, head).await;
    init_list_head(&cx, other).await;
    assert!(list_empty(&cx, head).await);
    list_add_tail(&cx, nodes[1], head).await;
    list_add_tail(&cx, nodes[2], head).await;
    list_add(&cx, nodes[3], head).await;
    assert!(!list_empty(&cx, head).await);
    assert_eq!(ids(&cx, head, &nodes), [3, 1, 2]);
    log.push("add".into());

    list_del(&cx, nodes[1]).await;
    assert_eq!(ids(&cx, head, &nodes), [3, 2]);
    assert_eq!(cx.peek(nodes[1].next_word()), LIST_POISON1);
    assert_eq!(cx.peek(nodes[1].prev_word()), LIST_POISON2);
    log.push("del".into());

    list_del_init(&cx, nodes[3]).await;
    assert_eq!(ids(&cx, head, &nodes), [2]);
    assert!(
        list_empty(&cx, nodes[3]).await,
        "list_del_init leaves it self-linked"
    );
    log.push("del_init".into());

    // splice [4, 5] to the front of [2]: the source is left stale.
    list_add_tail(&cx, nodes[4], other).await;
    list_add_tail(&cx, nodes[5], other).await;
    list_splice(&cx, other, head).await;
    assert_eq!(ids(&cx, head, &nodes), [4, 5, 2]);
    assert_eq!(cx.peek(other.next_word()), nodes[4].address(), "stale");
    log.push("splice".into());

    // splice_init moves [0, 1] in front and leaves the source empty.
    init_list_head(&cx, other).await;
    list_splice(&cx, other, head).await;
    assert_eq!(
        ids(&cx, head, &nodes),
        [4, 5, 2],
        "splicing an empty list is a no-op"
    );
    list_add(&cx, nodes[1], other).await;
    list_add(&cx, nodes[0], other).await;
    list_splice_init(&cx, other, head).await;
    assert_eq!(ids(&cx, head, &nodes), [0, 1, 4, 5, 2]);
    assert!(list_empty(&cx, other).await);
    log.push("splice_init".into());
}

fn check_operations<G: Granularity>() -> RunResult {
    let log = Log::default();
    let task_log = log.clone();
    let result = run_list::<G, _, _>(move |cx| operations(cx, task_log));
    assert_eq!(result.end, RunEnd::Completed, "{:?}", result.reports);
    assert!(result.reports.is_empty(), "{:?}", result.reports);
    assert_eq!(
        log.items(),
        ["add", "del", "del_init", "splice", "splice_init"]
    );
    result
}

#[test]
fn operations_at_every_granularity() {
    let syscall = check_operations::<SyscallSteps>();
    let lock = check_operations::<LockSteps>();
    let access = check_operations::<AccessSteps>();
    // Inline at syscall and lock granularity, one step per access at access granularity.
    assert_eq!(syscall.steps, 0);
    assert!(access.steps > 50, "{}", access.steps);
    // Virtual time is charged per primitive, never per step.
    assert_eq!(syscall.virtual_time_ns, access.virtual_time_ns);
    assert_eq!(lock.virtual_time_ns, access.virtual_time_ns);
}

/// `list_del` twice: the second dereferences the poison the first left.
async fn double_del<G: Granularity>(cx: Cx<G>) {
    let head = new_head(&cx, 0);
    let node = new_head(&cx, 1);
    init_list_head(&cx, head).await;
    list_add_tail(&cx, node, head).await;
    list_del(&cx, node).await;
    list_del(&cx, node).await;
    unreachable!("the run halts at the second list_del");
}

fn check_double_del<G: Granularity>() {
    let result = run_list::<G, _, _>(double_del);
    assert_eq!(result.end, RunEnd::Halted);
    assert_eq!(result.reports.len(), 1, "{:?}", result.reports);
    let report = &result.reports[0];
    assert_eq!(report.kind, ReportKind::ListCorruption);
    assert!(
        report
            .message
            .contains("list_del: entry->prev dereferences LIST_POISON2"),
        "{}",
        report.message
    );
}

#[test]
fn list_del_twice_is_list_corruption_not_a_panic() {
    check_double_del::<SyscallSteps>();
    check_double_del::<AccessSteps>();
}

/// A neighbour's link no longer points back at the entry being deleted.
async fn corrupt_neighbour<G: Granularity>(cx: Cx<G>) {
    let head = new_head(&cx, 0);
    let a = new_head(&cx, 1);
    let b = new_head(&cx, 2);
    init_list_head(&cx, head).await;
    list_add_tail(&cx, a, head).await;
    list_add_tail(&cx, b, head).await;
    // A wild write: a->next now skips b.
    cx.store(a.next_word(), head.address()).await;
    list_del(&cx, b).await;
}

fn check_corrupt_neighbour<G: Granularity>() {
    let result = run_list::<G, _, _>(corrupt_neighbour);
    assert_eq!(result.end, RunEnd::Halted);
    let report = &result.reports[0];
    assert_eq!(report.kind, ReportKind::ListCorruption);
    // The task's state word is word 0, so the head (node0) is word 1.
    assert_eq!(
        report.message,
        format!(
            "list_del corruption: prev->next should be node2.next, but was {:#x}",
            sim::Word(1).address()
        )
    );
}

#[test]
fn a_broken_neighbour_link_is_caught_by_the_debug_checks() {
    check_corrupt_neighbour::<SyscallSteps>();
    check_corrupt_neighbour::<AccessSteps>();
}

/// Adding to a list whose head was freed.
async fn add_to_freed_head<G: Granularity>(cx: Cx<G>) {
    let head = new_head(&cx, 0);
    let node = new_head(&cx, 1);
    init_list_head(&cx, head).await;
    cx.free_words(head.0);
    list_add_tail(&cx, node, head).await;
}

/// Adding through a head whose `next` holds an address that is no object.
async fn add_through_a_wild_pointer<G: Granularity>(cx: Cx<G>) {
    let head = new_head(&cx, 0);
    let node = new_head(&cx, 1);
    init_list_head(&cx, head).await;
    cx.store(head.next_word(), sim::Word(1 << 20).address())
        .await;
    list_add(&cx, node, head).await;
}

fn check_bad_pointers<G: Granularity>() {
    let result = run_list::<G, _, _>(add_to_freed_head);
    assert_eq!(result.end, RunEnd::Halted);
    assert_eq!(result.reports[0].kind, ReportKind::UseAfterFree);
    assert!(
        result.reports[0]
            .message
            .contains("node0.prev after it was freed"),
        "{}",
        result.reports[0].message
    );
    let result = run_list::<G, _, _>(add_through_a_wild_pointer);
    assert_eq!(result.end, RunEnd::Halted);
    assert_eq!(result.reports.len(), 1, "{:?}", result.reports);
    assert_eq!(result.reports[0].kind, ReportKind::ListCorruption);
    assert!(
        result.reports[0]
            .message
            .contains("list_add: head->next dereferences 0xffff810000800000, which is no object"),
        "{}",
        result.reports[0].message
    );
}

#[test]
fn freed_and_wild_pointers_are_reported() {
    check_bad_pointers::<SyscallSteps>();
    check_bad_pointers::<AccessSteps>();
}

#[test]
fn walk_describes_a_broken_list() {
    let mut machine = Machine::new(config::<SyscallSteps>(1, MemoryModel::Sc), 1).unwrap();
    let cx = machine.cx::<SyscallSteps>();
    let head = new_head(&cx, 0);
    let node = new_head(&cx, 1);
    list::init_list_head_private(&cx, head);
    machine.spawn("t", None, async move {
        list_add_tail(&cx, node, head).await;
        assert_eq!(walk(&cx, head).unwrap(), vec![node]);
        cx.free_words(node.0);
        let error = walk(&cx, head).unwrap_err();
        assert!(error.contains("freed or no object"), "{error}");
        cx.store(head.next_word(), 0).await;
        assert_eq!(walk(&cx, head).unwrap_err(), "node0.next points to NULL");
    });
    let result = run(&mut machine, &mut Canonical::default());
    assert_eq!(result.end, RunEnd::Completed);
}
