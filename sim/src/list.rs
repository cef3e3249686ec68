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
//! they read without a step or a cost (as [`Cx::peek`] does) and report
//! `list-corruption`; like the kernel's `BUG()`, a failed check stops the operation.
//! Following a pointer that is NULL, poison or no object is a `list-corruption` report,
//! and one into a freed object a `use-after-free` report, never a panic.
//!
//! At `syscall` and `lock` granularity no access is a step, so every operation takes a
//! synchronous path instead (`Inline`): the same loads and stores in the same order on
//! (sequentially consistent) memory, the same checks, the same virtual time charged, but
//! no future that could suspend and no op posted. This is what makes a
//! `list_add_tail` + `list_del` pair cost a few nanoseconds there.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use crate::config::Granularity;
use crate::cx::Cx;
use crate::mem::{AccessError, MemView, Word};
use crate::report::ReportKind;
use crate::state::State;

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

/// Follows a pointer read from a list: the `list_head` it points to, if both of its
/// words are live. Otherwise reports (a fatal report, so the run halts) and gives `None`.
#[inline(always)]
fn deref(state: &State, value: u64, what: &'static str) -> Option<ListHead> {
    if let Some(head) = ListHead::from_address(value) {
        if state.mem.is_live(head.next_word()) && state.mem.is_live(head.prev_word()) {
            return Some(head);
        }
    }
    bad_pointer(state, value, what);
    None
}

#[cold]
#[inline(never)]
fn bad_pointer(state: &State, value: u64, what: &'static str) {
    let Some(head) = ListHead::from_address(value) else {
        state.report(
            ReportKind::ListCorruption,
            format!("{what} dereferences {}", describe_pointer(value)),
            vec![],
        );
        return;
    };
    let bad = if state.mem.is_live(head.next_word()) {
        head.prev_word()
    } else {
        head.next_word()
    };
    match state.mem.check(bad) {
        Err(AccessError::UseAfterFree { block }) => {
            let field = block.fields[(bad.0 - block.start.0) as usize];
            state.report(
                ReportKind::UseAfterFree,
                format!(
                    "{what} points into {}{}.{}, which was freed",
                    block.kind, block.id, field
                ),
                vec![
                    format!("allocated at step {}", block.allocated_at_step),
                    format!("freed at step {}", block.freed_at_step.unwrap_or(0)),
                ],
            );
        }
        _ => state.report(
            ReportKind::ListCorruption,
            format!(
                "{what} dereferences {}, which is no object",
                describe_pointer(value)
            ),
            vec![],
        ),
    }
}

// ---- the operations ------------------------------------------------------------------

/// The future of a list operation. At a granularity without access steps the operation
/// was performed when the function was called (as a [`Cx`] primitive is) and the future
/// is ready at once; otherwise (or if the operation stopped the run with a fatal
/// report) it runs the stepping version when polled.
#[must_use = "a list operation does nothing at access granularity unless awaited"]
pub enum ListFuture<F: Future>
where
    F::Output: Copy,
{
    Done(F::Output),
    Stepping(F),
}

impl<F: Future> Future for ListFuture<F>
where
    F::Output: Copy,
{
    type Output = F::Output;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, context: &mut TaskContext<'_>) -> Poll<F::Output> {
        // SAFETY: the `Stepping` future is never moved out of the pinned enum, and the
        // enum never changes variant after construction.
        match unsafe { self.get_unchecked_mut() } {
            ListFuture::Done(value) => Poll::Ready(*value),
            ListFuture::Stepping(future) => unsafe { Pin::new_unchecked(future) }.poll(context),
        }
    }
}

/// `INIT_LIST_HEAD`: next = prev = self.
#[inline(always)]
pub fn init_list_head<G: Granularity>(
    cx: &Cx<G>,
    head: ListHead,
) -> ListFuture<impl Future<Output = ()> + '_> {
    if let Some(mut inline) = Inline::new(cx) {
        let result = inline.init_list_head(head);
        if let Some(done) = inline.finish(result) {
            return ListFuture::Done(done);
        }
    }
    ListFuture::Stepping(stepping::init_list_head(cx, head))
}

/// Sets up a list head without steps (for objects not yet visible to anyone).
pub fn init_list_head_private<G: Granularity>(cx: &Cx<G>, head: ListHead) {
    cx.state().mem.store_sc(head.next_word(), head.address());
    cx.state().mem.store_sc(head.prev_word(), head.address());
}

/// `list_add(new, head)`: insert after `head` (at the front).
#[inline(always)]
pub fn list_add<G: Granularity>(
    cx: &Cx<G>,
    new: ListHead,
    head: ListHead,
) -> ListFuture<impl Future<Output = ()> + '_> {
    if let Some(mut inline) = Inline::new(cx) {
        let result = inline.list_add(new, head);
        if let Some(done) = inline.finish(result) {
            return ListFuture::Done(done);
        }
    }
    ListFuture::Stepping(stepping::list_add(cx, new, head))
}

/// `list_add_tail(new, head)`: insert before `head` (at the back).
#[inline(always)]
pub fn list_add_tail<G: Granularity>(
    cx: &Cx<G>,
    new: ListHead,
    head: ListHead,
) -> ListFuture<impl Future<Output = ()> + '_> {
    if let Some(mut inline) = Inline::new(cx) {
        let result = inline.list_add_tail(new, head);
        if let Some(done) = inline.finish(result) {
            return ListFuture::Done(done);
        }
    }
    ListFuture::Stepping(stepping::list_add_tail(cx, new, head))
}

/// `list_del(entry)`: unlink and poison.
#[inline(always)]
pub fn list_del<G: Granularity>(
    cx: &Cx<G>,
    entry: ListHead,
) -> ListFuture<impl Future<Output = ()> + '_> {
    if let Some(mut inline) = Inline::new(cx) {
        let result = inline.list_del(entry);
        if let Some(done) = inline.finish(result) {
            return ListFuture::Done(done);
        }
    }
    ListFuture::Stepping(stepping::list_del(cx, entry))
}

/// `list_del_init(entry)`: unlink and point at itself.
#[inline(always)]
pub fn list_del_init<G: Granularity>(
    cx: &Cx<G>,
    entry: ListHead,
) -> ListFuture<impl Future<Output = ()> + '_> {
    if let Some(mut inline) = Inline::new(cx) {
        let result = inline.list_del_init(entry);
        if let Some(done) = inline.finish(result) {
            return ListFuture::Done(done);
        }
    }
    ListFuture::Stepping(stepping::list_del_init(cx, entry))
}

/// `list_empty(head)`: `head->next == head`.
#[inline(always)]
pub fn list_empty<G: Granularity>(
    cx: &Cx<G>,
    head: ListHead,
) -> ListFuture<impl Future<Output = bool> + '_> {
    if let Some(mut inline) = Inline::new(cx) {
        let result = inline.list_empty(head);
        if let Some(empty) = inline.finish(result) {
            return ListFuture::Done(empty);
        }
    }
    ListFuture::Stepping(stepping::list_empty(cx, head))
}

/// `list_splice(list, head)`: join `list` at the front of `head` (list is left stale).
#[inline(always)]
pub fn list_splice<G: Granularity>(
    cx: &Cx<G>,
    list: ListHead,
    head: ListHead,
) -> ListFuture<impl Future<Output = ()> + '_> {
    if let Some(mut inline) = Inline::new(cx) {
        let result = inline.list_splice(list, head, false);
        if let Some(done) = inline.finish(result) {
            return ListFuture::Done(done);
        }
    }
    ListFuture::Stepping(stepping::list_splice(cx, list, head, false))
}

/// `list_splice_init(list, head)`: as `list_splice`, then reinitialise `list`.
#[inline(always)]
pub fn list_splice_init<G: Granularity>(
    cx: &Cx<G>,
    list: ListHead,
    head: ListHead,
) -> ListFuture<impl Future<Output = ()> + '_> {
    if let Some(mut inline) = Inline::new(cx) {
        let result = inline.list_splice(list, head, true);
        if let Some(done) = inline.finish(result) {
            return ListFuture::Done(done);
        }
    }
    ListFuture::Stepping(stepping::list_splice(cx, list, head, true))
}

// ---- the stepping path (access granularity; also the fallback once a run halted) ----

mod stepping {
    use super::*;

    pub(super) async fn init_list_head<G: Granularity>(cx: &Cx<G>, head: ListHead) {
        cx.store(head.next_word(), head.address()).await;
        cx.store(head.prev_word(), head.address()).await;
    }

    /// `__list_add(new, prev, next)`.
    async fn list_add_between<G: Granularity>(
        cx: &Cx<G>,
        new: ListHead,
        prev: ListHead,
        next: ListHead,
    ) {
        let state = cx.state();
        let peek = |w: Word| state.mem.peek(cx.cpu(), w);
        if !debug_list_add(state, new, prev, next, peek) {
            return;
        }
        cx.store(next.prev_word(), new.address()).await;
        cx.store(new.next_word(), next.address()).await;
        cx.store(new.prev_word(), prev.address()).await;
        cx.store(prev.next_word(), new.address()).await;
    }

    pub(super) async fn list_add<G: Granularity>(cx: &Cx<G>, new: ListHead, head: ListHead) {
        let next = cx.load(head.next_word()).await;
        if let Some(next) = deref(cx.state(), next, "list_add: head->next") {
            list_add_between(cx, new, head, next).await;
        }
        // A failed check stops the task here (see `Cx::halt_point`).
        cx.halt_point().await;
    }

    pub(super) async fn list_add_tail<G: Granularity>(cx: &Cx<G>, new: ListHead, head: ListHead) {
        let prev = cx.load(head.prev_word()).await;
        if let Some(prev) = deref(cx.state(), prev, "list_add_tail: head->prev") {
            list_add_between(cx, new, prev, head).await;
        }
        cx.halt_point().await;
    }

    /// Loads `entry`'s neighbours, runs the `list_del` debug checks on them, and unlinks
    /// the entry (`__list_del(entry->prev, entry->next)`).
    async fn unlink<G: Granularity>(
        cx: &Cx<G>,
        entry: ListHead,
        prev_what: &'static str,
        next_what: &'static str,
    ) -> bool {
        let prev = cx.load(entry.prev_word()).await;
        let next = cx.load(entry.next_word()).await;
        let state = cx.state();
        let Some(prev) = deref(state, prev, prev_what) else {
            return false;
        };
        let Some(next) = deref(state, next, next_what) else {
            return false;
        };
        let peek = |w: Word| state.mem.peek(cx.cpu(), w);
        if !debug_list_del(state, entry, prev, next, peek) {
            return false;
        }
        cx.store(next.prev_word(), prev.address()).await;
        cx.store(prev.next_word(), next.address()).await;
        true
    }

    pub(super) async fn list_del<G: Granularity>(cx: &Cx<G>, entry: ListHead) {
        if unlink(cx, entry, "list_del: entry->prev", "list_del: entry->next").await {
            cx.store(entry.next_word(), LIST_POISON1).await;
            cx.store(entry.prev_word(), LIST_POISON2).await;
        }
        cx.halt_point().await;
    }

    pub(super) async fn list_del_init<G: Granularity>(cx: &Cx<G>, entry: ListHead) {
        let unlinked = unlink(
            cx,
            entry,
            "list_del_init: entry->prev",
            "list_del_init: entry->next",
        )
        .await;
        if unlinked {
            init_list_head(cx, entry).await;
        }
        cx.halt_point().await;
    }

    pub(super) async fn list_empty<G: Granularity>(cx: &Cx<G>, head: ListHead) -> bool {
        cx.load(head.next_word()).await == head.address()
    }

    /// `list_splice` / `list_splice_init`: `__list_splice(list, head)` unless `list`
    /// is empty, then (with `init`) `INIT_LIST_HEAD(list)`.
    pub(super) async fn list_splice<G: Granularity>(
        cx: &Cx<G>,
        list: ListHead,
        head: ListHead,
        init: bool,
    ) {
        if list_empty(cx, list).await {
            return;
        }
        if splice_between(cx, list, head).await && init {
            init_list_head(cx, list).await;
        }
        cx.halt_point().await;
    }

    /// `__list_splice(list, head)`; false if a pointer could not be followed.
    async fn splice_between<G: Granularity>(cx: &Cx<G>, list: ListHead, head: ListHead) -> bool {
        let first = cx.load(list.next_word()).await;
        let last = cx.load(list.prev_word()).await;
        let at = cx.load(head.next_word()).await;
        let state = cx.state();
        let Some(first) = deref(state, first, "list_splice: list->next") else {
            return false;
        };
        let Some(last) = deref(state, last, "list_splice: list->prev") else {
            return false;
        };
        let Some(at) = deref(state, at, "list_splice: head->next") else {
            return false;
        };
        cx.store(first.prev_word(), head.address()).await;
        cx.store(head.next_word(), first.address()).await;
        cx.store(last.next_word(), at.address()).await;
        cx.store(at.prev_word(), last.address()).await;
        true
    }
}

// ---- the inline path (syscall and lock granularity) ----------------------------------

/// The list operations of a granularity at which no access is a step: plain indexing
/// into memory (which is sequentially consistent there), each access checked as the
/// stepping path checks it, and the virtual time of the loads and stores charged to
/// the current CPU when the operation ends ([`Inline::finish`]).
struct Inline<'a> {
    state: &'a State,
    mem: MemView<'a>,
    loads: u64,
    stores: u64,
}

impl<'a> Inline<'a> {
    /// The inline path, if this granularity has one and the run has not halted (once it
    /// has, the stepping path posts an op, and the executor stops the run there) or been
    /// stopped for never reaching a step ([`State::may_run_inline`]).
    #[inline(always)]
    fn new<G: Granularity>(cx: &'a Cx<G>) -> Option<Inline<'a>> {
        let state = cx.state();
        if G::STEPS_AT_ACCESS || !state.may_run_inline() {
            return None;
        }
        Some(Inline {
            state,
            // SAFETY: an `Inline` lives for one synchronous list operation, which
            // allocates and frees nothing and stores to memory only through the view.
            mem: unsafe { state.mem.view() },
            loads: 0,
            stores: 0,
        })
    }

    #[inline(always)]
    fn load(&mut self, word: Word) -> Option<u64> {
        if !self.mem.is_live(word) {
            return self.fault(word);
        }
        self.loads += 1;
        // SAFETY: checked just above.
        Some(unsafe { self.mem.load(word) })
    }

    #[inline(always)]
    fn store(&mut self, word: Word, value: u64) -> Option<()> {
        if !self.mem.is_live(word) {
            return self.fault(word);
        }
        self.stores += 1;
        // SAFETY: checked just above.
        unsafe { self.mem.store(word, value) };
        Some(())
    }

    /// A store to a word of a `list_head` that [`Inline::deref`] (or an earlier access
    /// in the same operation) found live. Nothing frees memory during an operation.
    #[inline(always)]
    fn store_checked(&mut self, word: Word, value: u64) {
        self.stores += 1;
        // SAFETY: the caller names a word already checked on this view.
        unsafe { self.mem.store(word, value) }
    }

    /// A checker's read of a word already known to be live (see `store_checked`).
    #[inline(always)]
    fn peek(&self, word: Word) -> u64 {
        // SAFETY: as for `store_checked`.
        unsafe { self.mem.load(word) }
    }

    /// [`deref()`], on the view.
    #[inline(always)]
    fn deref(&mut self, value: u64, what: &'static str) -> Option<ListHead> {
        match self.mem.pair_at(value) {
            Some(word) => Some(ListHead(word)),
            None => {
                bad_pointer(self.state, value, what);
                None
            }
        }
    }

    /// An access to a word that is not live: reports it (use-after-free, or a wild
    /// pointer as list corruption; both halt the run).
    #[inline(always)]
    fn fault<T>(&self, word: Word) -> Option<T> {
        fault(self.state, word);
        None
    }

    /// Charges the virtual time of the accesses made (the caller's last act: the
    /// struct is consumed so that it can live in registers throughout) and passes the
    /// operation's result on. `None` means that the operation made a fatal report (every
    /// failure does): then the run must stop right here, as the kernel stops at its
    /// `BUG()`, and the caller returns the stepping future instead, whose first access
    /// posts an op that never resumes, because the executor sees the halted run first.
    #[inline(always)]
    fn finish<T>(self, result: Option<T>) -> Option<T> {
        let costs = &self.state.config.costs;
        let cost = self.loads * costs.load_ns + self.stores * costs.store_ns;
        self.state.charge_current(cost);
        debug_assert_eq!(result.is_none(), self.state.halted.get());
        result
    }

    #[inline(always)]
    fn init_list_head(&mut self, head: ListHead) -> Option<()> {
        self.store(head.next_word(), head.address())?;
        self.store(head.prev_word(), head.address())
    }

    #[inline(always)]
    fn add_between(&mut self, new: ListHead, prev: ListHead, next: ListHead) -> Option<()> {
        if !debug_list_add(self.state, new, prev, next, |w| self.peek(w)) {
            return None;
        }
        // `next->prev` and `prev->next` were read already (by the caller's load or by
        // `deref`), so only `new` can be stale. (A stale `new` is reported before the
        // first store rather than at the second, as the stepping path does: the run
        // halts either way.)
        if !self.mem.is_live_pair(new.0) {
            let stale = if self.mem.is_live(new.next_word()) {
                new.prev_word()
            } else {
                new.next_word()
            };
            return self.fault(stale);
        }
        self.store_checked(next.prev_word(), new.address());
        self.store_checked(new.next_word(), next.address());
        self.store_checked(new.prev_word(), prev.address());
        self.store_checked(prev.next_word(), new.address());
        Some(())
    }

    #[inline(always)]
    fn list_add(&mut self, new: ListHead, head: ListHead) -> Option<()> {
        let next = self.load(head.next_word())?;
        let next = self.deref(next, "list_add: head->next")?;
        self.add_between(new, head, next)
    }

    #[inline(always)]
    fn list_add_tail(&mut self, new: ListHead, head: ListHead) -> Option<()> {
        let prev = self.load(head.prev_word())?;
        let prev = self.deref(prev, "list_add_tail: head->prev")?;
        self.add_between(new, prev, head)
    }

    #[inline(always)]
    fn unlink(
        &mut self,
        entry: ListHead,
        prev_what: &'static str,
        next_what: &'static str,
    ) -> Option<()> {
        if !self.mem.is_live_pair(entry.0) {
            let stale = if self.mem.is_live(entry.prev_word()) {
                entry.next_word()
            } else {
                entry.prev_word()
            };
            return self.fault(stale);
        }
        self.loads += 2;
        // SAFETY: both words were checked just above.
        let (prev, next) = unsafe {
            (
                self.mem.load(entry.prev_word()),
                self.mem.load(entry.next_word()),
            )
        };
        let prev = self.deref(prev, prev_what)?;
        let next = self.deref(next, next_what)?;
        if !debug_list_del(self.state, entry, prev, next, |w| self.peek(w)) {
            return None;
        }
        self.store_checked(next.prev_word(), prev.address());
        self.store_checked(prev.next_word(), next.address());
        Some(())
    }

    #[inline(always)]
    fn list_del(&mut self, entry: ListHead) -> Option<()> {
        self.unlink(entry, "list_del: entry->prev", "list_del: entry->next")?;
        // Both words of `entry` were loaded by `unlink`.
        self.store_checked(entry.next_word(), LIST_POISON1);
        self.store_checked(entry.prev_word(), LIST_POISON2);
        Some(())
    }

    #[inline(always)]
    fn list_del_init(&mut self, entry: ListHead) -> Option<()> {
        self.unlink(
            entry,
            "list_del_init: entry->prev",
            "list_del_init: entry->next",
        )?;
        self.store_checked(entry.next_word(), entry.address());
        self.store_checked(entry.prev_word(), entry.address());
        Some(())
    }

    #[inline(always)]
    fn list_empty(&mut self, head: ListHead) -> Option<bool> {
        Some(self.load(head.next_word())? == head.address())
    }

    fn list_splice(&mut self, list: ListHead, head: ListHead, init: bool) -> Option<()> {
        // list_empty(list), then __list_splice reads list->next again.
        if self.load(list.next_word())? == list.address() {
            return Some(());
        }
        let first = self.load(list.next_word())?;
        let last = self.load(list.prev_word())?;
        let at = self.load(head.next_word())?;
        let first = self.deref(first, "list_splice: list->next")?;
        let last = self.deref(last, "list_splice: list->prev")?;
        let at = self.deref(at, "list_splice: head->next")?;
        self.store(first.prev_word(), head.address())?;
        self.store(head.next_word(), first.address())?;
        self.store(last.next_word(), at.address())?;
        self.store(at.prev_word(), last.address())?;
        if init {
            self.init_list_head(list)?;
        }
        Some(())
    }
}

#[cold]
#[inline(never)]
fn fault(state: &State, word: Word) {
    state.check_word(word);
}

// ---- CONFIG_DEBUG_LIST ----------------------------------------------------------------

/// `lib/list_debug.c` `__list_add` checks. Reports and returns false on corruption.
#[inline(always)]
fn debug_list_add(
    state: &State,
    new: ListHead,
    prev: ListHead,
    next: ListHead,
    peek: impl Fn(Word) -> u64,
) -> bool {
    let next_prev = peek(next.prev_word());
    let prev_next = peek(prev.next_word());
    if next_prev != prev.address() || prev_next != next.address() {
        list_add_corrupt(state, new, prev, next, next_prev, prev_next);
        return false;
    }
    true
}

#[cold]
#[inline(never)]
fn list_add_corrupt(
    state: &State,
    new: ListHead,
    prev: ListHead,
    next: ListHead,
    next_prev: u64,
    prev_next: u64,
) {
    let name = |w: Word| state.mem.name_of(w);
    let message = if next_prev != prev.address() {
        format!(
            "list_add corruption: next->prev should be prev ({}), but was {} (next={})",
            name(prev.0),
            describe_pointer(next_prev),
            name(next.0)
        )
    } else {
        format!(
            "list_add corruption: prev->next should be next ({}), but was {} (prev={})",
            name(next.0),
            describe_pointer(prev_next),
            name(prev.0)
        )
    };
    state.report(
        ReportKind::ListCorruption,
        message,
        vec![format!("adding {}", name(new.0))],
    );
}

/// `lib/list_debug.c` `list_del` checks.
#[inline(always)]
fn debug_list_del(
    state: &State,
    entry: ListHead,
    prev: ListHead,
    next: ListHead,
    peek: impl Fn(Word) -> u64,
) -> bool {
    let prev_next = peek(prev.next_word());
    let next_prev = peek(next.prev_word());
    if prev_next != entry.address() || next_prev != entry.address() {
        list_del_corrupt(state, entry, prev_next, next_prev);
        return false;
    }
    true
}

#[cold]
#[inline(never)]
fn list_del_corrupt(state: &State, entry: ListHead, prev_next: u64, next_prev: u64) {
    let name = state.mem.name_of(entry.0);
    let message = if prev_next != entry.address() {
        format!(
            "list_del corruption: prev->next should be {name}, but was {}",
            describe_pointer(prev_next)
        )
    } else {
        format!(
            "list_del corruption: next->prev should be {name}, but was {}",
            describe_pointer(next_prev)
        )
    };
    state.report(ReportKind::ListCorruption, message, vec![]);
}

/// The entries of the list at `head`, as the current CPU sees memory, for checkers.
/// Errors describe a broken or cyclic list.
pub fn walk<G: Granularity>(cx: &Cx<G>, head: ListHead) -> Result<Vec<ListHead>, String> {
    let mem = &cx.state().mem;
    let mut entries = Vec::new();
    let mut at = head;
    loop {
        let next = cx.peek(at.next_word());
        let Some(next) = ListHead::from_address(next) else {
            return Err(format!(
                "{} points to {}",
                mem.name_of(at.0),
                describe_pointer(next)
            ));
        };
        if next == head {
            return Ok(entries);
        }
        if !mem.is_live(next.next_word()) || !mem.is_live(next.prev_word()) {
            return Err(format!(
                "{} points to {}, which is freed or no object",
                mem.name_of(at.0),
                mem.name_of(next.0)
            ));
        }
        let back = cx.peek(next.prev_word());
        if back != at.address() {
            return Err(format!(
                "{}.prev is {} instead of {}",
                mem.name_of(next.0),
                describe_pointer(back),
                mem.name_of(at.0)
            ));
        }
        entries.push(next);
        if entries.len() > LIST_WALK_MAX {
            return Err("list does not return to its head".into());
        }
        at = next;
    }
}
