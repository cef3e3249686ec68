//! `include/linux/list.h` of 2.6.22, over shared words.
//!
//! A `list_head` is two consecutive words, `next` then `prev`, holding addresses. Every
//! operation is the sequence of loads and stores the kernel's inline functions perform,
//! in the same order, so that at `access` granularity each is a step another CPU can
//! race with, and a missing barrier can matter. `list_del` poisons the entry as the
//! kernel does (`LIST_POISON1`/`LIST_POISON2`), so a stale user dereferences poison and
//! is reported instead of silently working.
//!
//! The CONFIG_DEBUG_LIST checks of `lib/list_debug.c` run as a checker beside the port:
//! they read with [`Cx::peek`] (no step, no cost) and report `list-corruption`.

use crate::config::Granularity;
use crate::cx::Cx;
use crate::mem::Word;
use crate::report::ReportKind;

/// `LIST_POISON1`, stored in `next` by `list_del`.
pub const LIST_POISON1: u64 = 0x0010_0100;
/// `LIST_POISON2`, stored in `prev` by `list_del`.
pub const LIST_POISON2: u64 = 0x0020_0200;

/// Upper bound on the length of any list a checker walks.
pub const LIST_WALK_MAX: usize = 1 << 20;

/// A `struct list_head` embedded at `next` (its `prev` is the following word).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListHead(pub Word);

impl ListHead {
    pub fn next_word(self) -> Word {
        self.0
    }
    pub fn prev_word(self) -> Word {
        self.0.offset(1)
    }
    pub fn address(self) -> u64 {
        self.0.address()
    }
    pub fn from_address(address: u64) -> Option<ListHead> {
        Word::from_address(address).map(ListHead)
    }
}

/// Describes a pointer value for a report.
pub fn describe_pointer(value: u64) -> String {
    match value {
        0 => "NULL".to_string(),
        LIST_POISON1 => "LIST_POISON1 (0x00100100)".to_string(),
        LIST_POISON2 => "LIST_POISON2 (0x00200200)".to_string(),
        other => format!("{other:#x}"),
    }
}

/// Follows a pointer read from a list, reporting a dereference of NULL or poison.
fn deref<G: Granularity>(cx: &Cx<G>, value: u64, what: &str) -> Option<ListHead> {
    match ListHead::from_address(value) {
        Some(head) => Some(head),
        None => {
            cx.report(
                ReportKind::ListCorruption,
                format!("{what} dereferences {}", describe_pointer(value)),
                vec![],
            );
            None
        }
    }
}

/// `INIT_LIST_HEAD`: next = prev = self.
pub async fn init_list_head<G: Granularity>(cx: &Cx<G>, head: ListHead) {
    cx.store(head.next_word(), head.address()).await;
    cx.store(head.prev_word(), head.address()).await;
}

/// Sets up a list head without steps (for objects not yet visible to anyone).
pub fn init_list_head_private<G: Granularity>(cx: &Cx<G>, head: ListHead) {
    cx.state().mem.store_sc(head.next_word(), head.address());
    cx.state().mem.store_sc(head.prev_word(), head.address());
}

/// `__list_add(new, prev, next)`.
async fn list_add_between<G: Granularity>(
    cx: &Cx<G>,
    new: ListHead,
    prev: ListHead,
    next: ListHead,
) {
    debug_list_add(cx, new, prev, next);
    cx.store(next.prev_word(), new.address()).await;
    cx.store(new.next_word(), next.address()).await;
    cx.store(new.prev_word(), prev.address()).await;
    cx.store(prev.next_word(), new.address()).await;
}

/// `list_add(new, head)`: insert after `head` (at the front).
pub async fn list_add<G: Granularity>(cx: &Cx<G>, new: ListHead, head: ListHead) {
    let next = cx.load(head.next_word()).await;
    let Some(next) = deref(cx, next, "list_add: head->next") else {
        return;
    };
    list_add_between(cx, new, head, next).await;
}

/// `list_add_tail(new, head)`: insert before `head` (at the back).
pub async fn list_add_tail<G: Granularity>(cx: &Cx<G>, new: ListHead, head: ListHead) {
    let prev = cx.load(head.prev_word()).await;
    let Some(prev) = deref(cx, prev, "list_add_tail: head->prev") else {
        return;
    };
    list_add_between(cx, new, prev, head).await;
}

/// `__list_del(prev, next)`.
async fn list_del_between<G: Granularity>(cx: &Cx<G>, prev: ListHead, next: ListHead) {
    cx.store(next.prev_word(), prev.address()).await;
    cx.store(prev.next_word(), next.address()).await;
}

/// `list_del(entry)`: unlink and poison.
pub async fn list_del<G: Granularity>(cx: &Cx<G>, entry: ListHead) {
    let prev = cx.load(entry.prev_word()).await;
    let next = cx.load(entry.next_word()).await;
    let Some(prev) = deref(cx, prev, "list_del: entry->prev") else {
        return;
    };
    let Some(next) = deref(cx, next, "list_del: entry->next") else {
        return;
    };
    if !debug_list_del(cx, entry, prev, next) {
        return;
    }
    list_del_between(cx, prev, next).await;
    cx.store(entry.next_word(), LIST_POISON1).await;
    cx.store(entry.prev_word(), LIST_POISON2).await;
}

/// `list_del_init(entry)`: unlink and point at itself.
pub async fn list_del_init<G: Granularity>(cx: &Cx<G>, entry: ListHead) {
    let prev = cx.load(entry.prev_word()).await;
    let next = cx.load(entry.next_word()).await;
    let Some(prev) = deref(cx, prev, "list_del_init: entry->prev") else {
        return;
    };
    let Some(next) = deref(cx, next, "list_del_init: entry->next") else {
        return;
    };
    if !debug_list_del(cx, entry, prev, next) {
        return;
    }
    list_del_between(cx, prev, next).await;
    init_list_head(cx, entry).await;
}

/// `list_empty(head)`: `head->next == head`.
pub async fn list_empty<G: Granularity>(cx: &Cx<G>, head: ListHead) -> bool {
    cx.load(head.next_word()).await == head.address()
}

/// `__list_splice(list, head)`: put `list`'s entries right after `head`.
async fn list_splice_between<G: Granularity>(cx: &Cx<G>, list: ListHead, head: ListHead) {
    let first = cx.load(list.next_word()).await;
    let last = cx.load(list.prev_word()).await;
    let at = cx.load(head.next_word()).await;
    let (Some(first), Some(last), Some(at)) = (
        deref(cx, first, "list_splice: list->next"),
        deref(cx, last, "list_splice: list->prev"),
        deref(cx, at, "list_splice: head->next"),
    ) else {
        return;
    };
    cx.store(first.prev_word(), head.address()).await;
    cx.store(head.next_word(), first.address()).await;
    cx.store(last.next_word(), at.address()).await;
    cx.store(at.prev_word(), last.address()).await;
}

/// `list_splice(list, head)`: join `list` at the front of `head` (list is left stale).
pub async fn list_splice<G: Granularity>(cx: &Cx<G>, list: ListHead, head: ListHead) {
    if !list_empty(cx, list).await {
        list_splice_between(cx, list, head).await;
    }
}

/// `list_splice_init(list, head)`: as `list_splice`, then reinitialise `list`.
pub async fn list_splice_init<G: Granularity>(cx: &Cx<G>, list: ListHead, head: ListHead) {
    if !list_empty(cx, list).await {
        list_splice_between(cx, list, head).await;
        init_list_head(cx, list).await;
    }
}

/// `lib/list_debug.c` `__list_add` checks. Reports and returns false on corruption.
fn debug_list_add<G: Granularity>(
    cx: &Cx<G>,
    new: ListHead,
    prev: ListHead,
    next: ListHead,
) -> bool {
    let next_prev = cx.peek(next.prev_word());
    let prev_next = cx.peek(prev.next_word());
    let name = |w: Word| cx.state().mem.name_of(w);
    if next_prev != prev.address() {
        cx.report(
            ReportKind::ListCorruption,
            format!(
                "list_add corruption: next->prev should be prev ({}), but was {} (next={})",
                name(prev.0),
                describe_pointer(next_prev),
                name(next.0)
            ),
            vec![format!("adding {}", name(new.0))],
        );
        return false;
    }
    if prev_next != next.address() {
        cx.report(
            ReportKind::ListCorruption,
            format!(
                "list_add corruption: prev->next should be next ({}), but was {} (prev={})",
                name(next.0),
                describe_pointer(prev_next),
                name(prev.0)
            ),
            vec![format!("adding {}", name(new.0))],
        );
        return false;
    }
    true
}

/// `lib/list_debug.c` `list_del` checks.
fn debug_list_del<G: Granularity>(
    cx: &Cx<G>,
    entry: ListHead,
    prev: ListHead,
    next: ListHead,
) -> bool {
    let prev_next = cx.peek(prev.next_word());
    let next_prev = cx.peek(next.prev_word());
    let name = |w: Word| cx.state().mem.name_of(w);
    if prev_next != entry.address() {
        cx.report(
            ReportKind::ListCorruption,
            format!(
                "list_del corruption: prev->next should be {}, but was {}",
                name(entry.0),
                describe_pointer(prev_next)
            ),
            vec![],
        );
        return false;
    }
    if next_prev != entry.address() {
        cx.report(
            ReportKind::ListCorruption,
            format!(
                "list_del corruption: next->prev should be {}, but was {}",
                name(entry.0),
                describe_pointer(next_prev)
            ),
            vec![],
        );
        return false;
    }
    true
}

/// The entries of the list at `head`, as the current CPU sees memory, for checkers.
/// Errors describe a broken or cyclic list.
pub fn walk<G: Granularity>(cx: &Cx<G>, head: ListHead) -> Result<Vec<ListHead>, String> {
    let mut entries = Vec::new();
    let mut at = head;
    loop {
        let next = cx.peek(at.next_word());
        let Some(next) = ListHead::from_address(next) else {
            return Err(format!(
                "{} points to {}",
                cx.state().mem.name_of(at.0),
                describe_pointer(next)
            ));
        };
        if next == head {
            return Ok(entries);
        }
        let back = cx.peek(next.prev_word());
        if back != at.address() {
            return Err(format!(
                "{}.prev is {} instead of {}",
                cx.state().mem.name_of(next.0),
                describe_pointer(back),
                cx.state().mem.name_of(at.0)
            ));
        }
        entries.push(next);
        if entries.len() > LIST_WALK_MAX {
            return Err("list does not return to its head".into());
        }
        at = next;
    }
}
