//! Lockdep-style validation by lock class: order inversions (with both acquisition
//! chains), interrupt-unsafe use, and the held-lock stack each context carries.
//!
//! Like the kernel's lockdep, an inversion is reported the first time the second order
//! is *seen*, whether or not the run actually deadlocks. Two differences, both named
//! here: nesting two locks of the same class (nested epoll's wait-queue locks) is not
//! reported — the kernel needs `_nested` annotations for that and 2.6.22 predates them —
//! and re-acquiring the very same lock is reported by the executor as the self-deadlock
//! it is, not here.
//!
//! The class graph is data (`Lockdep`); the checks the machine runs on every acquisition
//! — the order of classes, the irq-safety rule, `might_sleep()` — are the `impl State`
//! block at the end.

use std::collections::BTreeMap;

use std::fmt::Write as _;

use crate::ids::{ContextId, CpuId, LockClassId, LockId};
use crate::lock::LockKind;
use crate::op::LockMode;
use crate::report::ReportKind;
use crate::state::{describe_context, State};

/// One lock a context holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldLock {
    pub lock: LockId,
    pub class: LockClassId,
    pub mode: LockMode,
    pub step: u64,
    pub spins: bool,
}

/// The held-lock stack of one context (a vector: a context keeps its capacity for its
/// whole life, and every acquisition and release reads its length), with its chain key.
///
/// The chain key plays the part of the kernel's `curr->curr_chain_key`: a 64-bit digest
/// of the held classes, kept up to date as locks are pushed and removed. The order check
/// asks whether every held class is known to come before the new one — a property of the
/// *set* of held classes — so the key is a sum of one mixed value per held lock (a
/// multiset digest: holding A twice differs from holding it once), and removing a lock
/// from the middle of the stack only subtracts its value.
#[derive(Clone, Debug, Default)]
pub struct HeldLocks {
    locks: Vec<HeldLock>,
    chain_key: u64,
}

/// One class's part of a chain key (splitmix64's finaliser: classes that differ in one
/// bit give unrelated values).
#[inline]
fn class_key(class: LockClassId) -> u64 {
    let mut z = (class.index() as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl HeldLocks {
    pub fn push(&mut self, held: HeldLock) {
        self.chain_key = self.chain_key.wrapping_add(class_key(held.class));
        self.locks.push(held);
    }

    pub fn pop(&mut self) -> Option<HeldLock> {
        let held = self.locks.pop()?;
        self.chain_key = self.chain_key.wrapping_sub(class_key(held.class));
        Some(held)
    }

    pub fn remove(&mut self, position: usize) -> HeldLock {
        let held = self.locks.remove(position);
        self.chain_key = self.chain_key.wrapping_sub(class_key(held.class));
        held
    }

    /// The digest of the held classes (0 when nothing is held).
    #[inline]
    pub fn chain_key(&self) -> u64 {
        self.chain_key
    }
}

impl std::ops::Deref for HeldLocks {
    type Target = [HeldLock];

    fn deref(&self) -> &[HeldLock] {
        &self.locks
    }
}

/// lockdep's chain cache: (held classes' chain key, new class) pairs whose order check
/// passed — every held class already known to come before the new one — so that the
/// next acquisition of the same chain skips the per-held-lock checks. A direct-mapped
/// table (deterministic, no hashing of host addresses); a collision only evicts, and a
/// miss runs the full check, so the cache changes no report. Like the kernel's cache, a
/// hit trusts the 64-bit key; debug builds check every hit against the full check
/// (the kernel's `check_no_collision`).
#[derive(Clone, Debug, Default)]
pub struct ChainCache {
    /// `entries[i]` holds a validated chain whose combined key maps to `i`; 0 is empty.
    entries: Vec<u64>,
}

impl ChainCache {
    const SLOTS: usize = 1024;

    /// Whether the cache is used: always, except in a build with the
    /// `no-lockdep-chain-cache` feature, which exists only to measure what it saves.
    const ENABLED: bool = !cfg!(feature = "no-lockdep-chain-cache");

    fn combined(chain_key: u64, class: LockClassId) -> u64 {
        // Never 0, the empty slot's mark.
        chain_key
            .wrapping_mul(0x2545_f491_4f6c_dd1d)
            .wrapping_add(class_key(class))
            | 1
    }

    fn slot(key: u64) -> usize {
        (key >> 54) as usize % Self::SLOTS
    }

    /// Whether (chain, class) was validated.
    #[inline]
    pub fn validated(&self, chain_key: u64, class: LockClassId) -> bool {
        let key = Self::combined(chain_key, class);
        self.entries.get(Self::slot(key)) == Some(&key)
    }

    pub fn insert(&mut self, chain_key: u64, class: LockClassId) {
        if self.entries.is_empty() {
            self.entries = vec![0; Self::SLOTS];
        }
        let key = Self::combined(chain_key, class);
        self.entries[Self::slot(key)] = key;
    }

    pub fn clear(&mut self) {
        self.entries.iter_mut().for_each(|e| *e = 0);
    }
}

/// How an order edge was first seen.
#[derive(Clone, Debug)]
pub struct EdgeOrigin {
    /// e.g. "step 12, cpu1 task0: ep1->sem then ep1->lock"
    pub description: String,
}

/// The dependency graph between lock classes.
#[derive(Default)]
pub struct Lockdep {
    edges: BTreeMap<(LockClassId, LockClassId), EdgeOrigin>,
    reported: BTreeMap<(LockClassId, LockClassId), ()>,
    /// The keys of `edges` as a bit matrix (row = held class, bit = acquired class), so
    /// that an acquisition that teaches nothing new costs a bit test per held lock.
    known: Vec<Vec<u64>>,
    /// Chains already validated: an acquisition by a chain seen before costs one lookup.
    chains: ChainCache,
}

/// An inversion found when adding `held -> acquired`.
#[derive(Clone, Debug)]
pub struct Inversion {
    pub new_edge: (LockClassId, LockClassId),
    /// The existing path from `acquired` back to `held`, one origin per edge.
    pub existing_path: Vec<((LockClassId, LockClassId), EdgeOrigin)>,
}

impl Lockdep {
    pub fn reset(&mut self) {
        self.edges.clear();
        self.reported.clear();
        for row in &mut self.known {
            row.clear();
        }
        self.chains.clear();
    }

    /// Whether taking `acquired` while holding `held` teaches nothing: every held class
    /// is `acquired` or known to come before it ([`Lockdep::knows`]). With one lock held
    /// that is one bit test, cheaper than the cache's lookup (measured: docs/benchmarks.md);
    /// with two or more it is answered from the chain cache when this chain was validated
    /// before, and a chain validated now is cached. Edges are only ever added (until
    /// [`Lockdep::reset`], which empties the cache too), so a validated chain stays valid.
    #[inline(always)]
    pub fn chain_known(&mut self, held: &HeldLocks, acquired: LockClassId) -> bool {
        match &held[..] {
            [] => true,
            [only] => self.knows(only.class, acquired),
            _ => self.chain_known_cached(held, acquired),
        }
    }

    /// [`Lockdep::chain_known`] with two or more locks held: through the chain cache.
    #[inline(never)]
    fn chain_known_cached(&mut self, held: &HeldLocks, acquired: LockClassId) -> bool {
        if ChainCache::ENABLED && self.chains.validated(held.chain_key(), acquired) {
            debug_assert!(
                held.iter().all(|h| self.knows(h.class, acquired)),
                "a lockdep chain-key collision"
            );
            return true;
        }
        let known = held.iter().all(|h| self.knows(h.class, acquired));
        if known && ChainCache::ENABLED {
            self.chains.insert(held.chain_key(), acquired);
        }
        known
    }

    /// Whether taking `acquired` while holding `held` would teach nothing: the same
    /// class, or an order already recorded ([`Lockdep::add_edge`] would return `None`
    /// without changing anything).
    #[inline]
    pub fn knows(&self, held: LockClassId, acquired: LockClassId) -> bool {
        if held == acquired {
            return true;
        }
        let (row, bit) = (held.index(), acquired.index());
        self.known
            .get(row)
            .and_then(|r| r.get(bit / 64))
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    fn mark_known(&mut self, held: LockClassId, acquired: LockClassId) {
        let (row, bit) = (held.index(), acquired.index());
        if self.known.len() <= row {
            self.known.resize_with(row + 1, Vec::new);
        }
        let r = &mut self.known[row];
        if r.len() <= bit / 64 {
            r.resize(bit / 64 + 1, 0);
        }
        r[bit / 64] |= 1 << (bit % 64);
    }

    /// Records that `acquired` was taken while `held` was held; returns the inversion if
    /// the opposite order was seen before (directly or through other classes).
    pub fn add_edge(
        &mut self,
        held: LockClassId,
        acquired: LockClassId,
        origin: impl FnOnce() -> String,
    ) -> Option<Inversion> {
        if held == acquired || self.edges.contains_key(&(held, acquired)) {
            return None;
        }
        let inversion = self.path(acquired, held).map(|path| Inversion {
            new_edge: (held, acquired),
            existing_path: path,
        });
        self.edges.insert(
            (held, acquired),
            EdgeOrigin {
                description: origin(),
            },
        );
        self.mark_known(held, acquired);
        match inversion {
            Some(found)
                if self
                    .reported
                    .insert((held.min(acquired), held.max(acquired)), ())
                    .is_none() =>
            {
                Some(found)
            }
            _ => None,
        }
    }

    /// A path of edges from `from` to `to`, if any (breadth-first, deterministic order).
    fn path(
        &self,
        from: LockClassId,
        to: LockClassId,
    ) -> Option<Vec<((LockClassId, LockClassId), EdgeOrigin)>> {
        let mut parent: BTreeMap<LockClassId, LockClassId> = BTreeMap::new();
        let mut frontier = vec![from];
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for &node in &frontier {
                for (&(a, b), _) in self
                    .edges
                    .range((node, LockClassId(0))..=(node, LockClassId(u32::MAX)))
                {
                    debug_assert_eq!(a, node);
                    if b == from || parent.contains_key(&b) {
                        continue;
                    }
                    parent.insert(b, a);
                    if b == to {
                        let mut path = Vec::new();
                        let mut at = to;
                        while at != from {
                            let p = parent[&at];
                            path.push(((p, at), self.edges[&(p, at)].clone()));
                            at = p;
                        }
                        path.reverse();
                        return Some(path);
                    }
                    next.push(b);
                }
            }
            frontier = next;
        }
        None
    }
}

// ---- the checks, as the machine runs them ---------------------------------------------

/// lockdep as the machine runs it: on every acquisition, the order of lock classes and the
/// irq-safety rule; before anything that may sleep, `might_sleep()`. The lock operations
/// ([`crate::lock`]) call these.
impl State {
    pub(crate) fn lockdep_acquire(
        &self,
        cpu: CpuId,
        context: ContextId,
        id: LockId,
        class: crate::ids::LockClassId,
        kind: LockKind,
    ) {
        self.lockdep_order_class(cpu, context, id, class);
        if kind.spins() {
            self.lockdep_irq_state(cpu, context, id, class);
        }
    }

    /// lockdep's order validation of `context` acquiring `id` while holding what it
    /// holds: records the class edges, and reports an inversion (with both chains) the
    /// first time one is seen. Called when an acquisition happens, and by the executor
    /// for the acquisitions that spin forever in a deadlock (lockdep checks before
    /// spinning, so it sees those too).
    pub fn lockdep_order(&self, cpu: CpuId, context: ContextId, id: LockId) {
        let class = self.locks.borrow().get(id).class;
        self.lockdep_order_class(cpu, context, id, class);
    }

    /// [`State::lockdep_order`] with the lock's class known.
    pub(crate) fn lockdep_order_class(
        &self,
        cpu: CpuId,
        context: ContextId,
        id: LockId,
        class: crate::ids::LockClassId,
    ) {
        {
            // Nothing new to learn (the usual case): every held class is already known
            // to come before this one, or is this one.
            let contexts = self.contexts.borrow();
            let held = &contexts[context.index()].held;
            if self.lockdep.borrow_mut().chain_known(held, class) {
                return;
            }
        }
        self.lockdep_order_slow(cpu, context, id);
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn lockdep_order_slow(&self, cpu: CpuId, context: ContextId, id: LockId) {
        let held: Vec<HeldLock> = self.contexts.borrow()[context.index()].held.to_vec();
        if held.is_empty() {
            return;
        }
        let step = self.step.get();
        let who = || describe_context(&self.contexts.borrow()[context.index()]);
        let (lock_name, class) = {
            let locks = self.locks.borrow();
            (locks.name(id), locks.get(id).class)
        };
        for h in &held {
            let held_name = self.locks.borrow().name(h.lock);
            let inversion = self.lockdep.borrow_mut().add_edge(h.class, class, || {
                format!(
                    "step {step}, {cpu} {}: {held_name} (held since step {}) then {lock_name}",
                    who(),
                    h.step
                )
            });
            if let Some(inversion) = inversion {
                let locks = self.locks.borrow();
                let mut details = vec![format!(
                    "new order: {} -> {} (step {step}, {cpu} {}: {held_name} then {lock_name})",
                    locks.classes[h.class.index()].name,
                    locks.classes[class.index()].name,
                    who()
                )];
                for ((a, b), origin) in &inversion.existing_path {
                    details.push(format!(
                        "earlier order: {} -> {} ({})",
                        locks.classes[a.index()].name,
                        locks.classes[b.index()].name,
                        origin.description
                    ));
                }
                drop(locks);
                self.report(
                    ReportKind::LockOrder,
                    format!("lock order inversion: {lock_name} taken while holding {held_name}, the opposite of an order seen before"),
                    details,
                );
            }
        }
    }

    /// lockdep's irq-safety rule: a lock taken in interrupt context must never be taken
    /// with interrupts enabled elsewhere, or an interrupt on that CPU can deadlock on it.
    pub(crate) fn lockdep_irq_state(
        &self,
        cpu: CpuId,
        context: ContextId,
        id: LockId,
        class: crate::ids::LockClassId,
    ) {
        let in_irq = self.contexts.borrow()[context.index()].in_interrupt();
        let irqs_on = self.cpus.borrow()[cpu.index()].irqs_enabled;
        let step = self.step.get();
        let mut locks = self.locks.borrow_mut();
        let seen = &locks.classes[class.index()];
        let unseen = (in_irq && seen.used_in_irq.is_none())
            || (!in_irq && irqs_on && seen.used_with_irqs_enabled.is_none());
        if !unseen {
            return;
        }
        // The name only for what is recorded (most acquisitions return above).
        let name = locks.name(id);
        let entry = &mut locks.classes[class.index()];
        let who = describe_context(&self.contexts.borrow()[context.index()]);
        if in_irq && entry.used_in_irq.is_none() {
            entry.used_in_irq = Some(format!(
                "{name} taken in interrupt context at step {step} on {cpu}"
            ));
        }
        if !in_irq && irqs_on && entry.used_with_irqs_enabled.is_none() {
            entry.used_with_irqs_enabled = Some(format!(
                "{name} taken with interrupts enabled at step {step} on {cpu} by {who}"
            ));
        }
        if let (Some(a), Some(b), false) = (
            &entry.used_in_irq,
            &entry.used_with_irqs_enabled,
            entry.irq_report_made,
        ) {
            let details = vec![a.clone(), b.clone()];
            let class_name = entry.name;
            entry.irq_report_made = true;
            drop(locks);
            self.report(
                ReportKind::IrqUnsafeLock,
                format!("lock class {class_name} is taken in interrupt context and also with interrupts enabled"),
                details,
            );
        }
    }

    /// `might_sleep()`: reports sleeping in atomic context. Returns false if the context
    /// cannot sleep at all (an interrupt handler: the kernel BUG()s), and halts the run.
    pub fn might_sleep(&self, cpu: CpuId, context: ContextId, what: &str) -> bool {
        let (in_irq, holds_spinlock) = {
            let contexts = self.contexts.borrow();
            let c = &contexts[context.index()];
            (c.in_interrupt(), c.held.iter().any(|h| h.spins))
        };
        if !in_irq && !holds_spinlock && self.cpus.borrow()[cpu.index()].irqs_enabled {
            return true;
        }
        self.might_sleep_slow(cpu, context, what)
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn might_sleep_slow(&self, cpu: CpuId, context: ContextId, what: &str) -> bool {
        let (in_irq, spinlocks) = {
            let contexts = self.contexts.borrow();
            let c = &contexts[context.index()];
            let spinlocks: Vec<LockId> =
                c.held.iter().filter(|h| h.spins).map(|h| h.lock).collect();
            (c.in_interrupt(), spinlocks)
        };
        let irqs_off = !self.cpus.borrow()[cpu.index()].irqs_enabled;
        if !in_irq && spinlocks.is_empty() && !irqs_off {
            return true;
        }
        let mut why = String::new();
        if in_irq {
            why.push_str("in interrupt context");
        } else if !spinlocks.is_empty() {
            let locks = self.locks.borrow();
            let names: Vec<String> = spinlocks
                .iter()
                .map(|l| locks.name(*l).to_string())
                .collect();
            let _ = write!(why, "holding {}", names.join(", "));
        } else {
            why.push_str("with interrupts disabled");
        }
        self.report(
            ReportKind::SleepInAtomic,
            format!("{what} may sleep, called {why}"),
            self.lock_holders(),
        );
        if in_irq {
            // There is no task to put to sleep: the run cannot go on.
            self.halt();
        }
        !in_irq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_two_class_inversion_once() {
        let mut lockdep = Lockdep::default();
        let (a, b) = (LockClassId(0), LockClassId(1));
        assert!(lockdep.add_edge(a, b, || "a then b".into()).is_none());
        let inversion = lockdep
            .add_edge(b, a, || "b then a".into())
            .expect("inversion");
        assert_eq!(inversion.existing_path.len(), 1);
        assert_eq!(inversion.existing_path[0].1.description, "a then b");
        assert!(lockdep.add_edge(b, a, || "again".into()).is_none());
    }

    #[test]
    fn finds_an_inversion_through_a_third_class() {
        let mut lockdep = Lockdep::default();
        let (a, b, c) = (LockClassId(0), LockClassId(1), LockClassId(2));
        lockdep.add_edge(a, b, || "ab".into());
        lockdep.add_edge(b, c, || "bc".into());
        let inversion = lockdep.add_edge(c, a, || "ca".into()).expect("inversion");
        assert_eq!(inversion.existing_path.len(), 2);
    }

    fn held(classes: &[u32]) -> HeldLocks {
        let mut held = HeldLocks::default();
        for (i, &class) in classes.iter().enumerate() {
            held.push(HeldLock {
                lock: LockId(i as u32),
                class: LockClassId(class),
                mode: LockMode::Exclusive,
                step: 0,
                spins: true,
            });
        }
        held
    }

    /// The chain cache answers exactly what the per-held-lock check answers, over a
    /// deterministic mix of learned orders, held stacks (pushed, popped, removed from
    /// the middle) and queries; a cached "validated" never outlives a reset.
    #[test]
    fn the_chain_cache_answers_as_the_full_check() {
        let mut lockdep = Lockdep::default();
        let mut rng = crate::rng::Rng::new(14);
        let mut stack = HeldLocks::default();
        let mut hits = 0;
        for round in 0..20_000u32 {
            let class = LockClassId(rng.index(12) as u32);
            match rng.index(6) {
                0 if stack.len() < 6 => stack.push(HeldLock {
                    lock: LockId(round),
                    class,
                    mode: LockMode::Shared,
                    step: 0,
                    spins: false,
                }),
                1 if !stack.is_empty() => {
                    let at = rng.index(stack.len());
                    stack.remove(at);
                }
                2 if !stack.is_empty() => {
                    stack.pop();
                }
                3 => {
                    for h in stack.iter() {
                        lockdep.add_edge(h.class, class, String::new);
                    }
                }
                _ => {}
            }
            if round % 5000 == 4999 {
                lockdep.reset();
            }
            let full = stack.iter().all(|h| lockdep.knows(h.class, class));
            // The cache serves chains of two or more held locks.
            hits +=
                u32::from(stack.len() > 1 && lockdep.chains.validated(stack.chain_key(), class));
            assert_eq!(lockdep.chain_known(&stack, class), full, "round {round}");
            let again: u64 = stack
                .iter()
                .fold(0, |k, h| k.wrapping_add(class_key(h.class)));
            assert_eq!(
                stack.chain_key(),
                again,
                "the key follows pushes and removals"
            );
        }
        // A build without the cache (the measurement feature) has none to hit.
        assert!(
            hits > 500 || !ChainCache::ENABLED,
            "the cache is used: {hits} hits"
        );
    }

    #[test]
    fn a_chain_key_is_of_the_multiset_of_held_classes() {
        assert_eq!(held(&[1, 2]).chain_key(), held(&[2, 1]).chain_key());
        assert_ne!(held(&[1]).chain_key(), held(&[1, 1]).chain_key());
        assert_ne!(held(&[1, 2]).chain_key(), held(&[1, 3]).chain_key());
        assert_eq!(held(&[]).chain_key(), 0);
    }
}
