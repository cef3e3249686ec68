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

/// The held-lock stack of one context (a plain vector: a context keeps its capacity
/// for its whole life, and every acquisition and release reads its length).
pub type HeldLocks = Vec<HeldLock>;

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
            let lockdep = self.lockdep.borrow();
            if held.iter().all(|h| lockdep.knows(h.class, class)) {
                return;
            }
        }
        self.lockdep_order_slow(cpu, context, id);
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn lockdep_order_slow(&self, cpu: CpuId, context: ContextId, id: LockId) {
        let held: crate::lockdep::HeldLocks = self.contexts.borrow()[context.index()].held.clone();
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
        let name = locks.name(id);
        let entry = &mut locks.classes[class.index()];
        let unseen = (in_irq && entry.used_in_irq.is_none())
            || (!in_irq && irqs_on && entry.used_with_irqs_enabled.is_none());
        if !unseen {
            return;
        }
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
}
