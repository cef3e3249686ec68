//! Lockdep-style validation by lock class: order inversions (with both acquisition
//! chains), interrupt-unsafe use, and the held-lock stack each context carries.
//!
//! Like the kernel's lockdep, an inversion is reported the first time the second order
//! is *seen*, whether or not the run actually deadlocks. Two differences, both named
//! here: nesting two locks of the same class (nested epoll's wait-queue locks) is not
//! reported — the kernel needs `_nested` annotations for that and 2.6.22 predates them —
//! and re-acquiring the very same lock is reported by the executor as the self-deadlock
//! it is, not here.

use std::collections::BTreeMap;

use crate::ids::{LockClassId, LockId};
use crate::op::LockMode;

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
