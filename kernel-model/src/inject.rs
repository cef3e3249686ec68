//! Bug injection: named, documented mutations of the port, switched on per run.
//!
//! Each one removes or changes one line that the seed commit's argument (or the
//! kernel's lock order) relies on. They exist to test the checkers and to teach: a
//! student breaks the algorithm on purpose and watches the simulator catch the break.
//! Each names the versions it applies to ([`Injection::applies_to`]): one whose line a
//! version does not have is refused for it, with the reason.

use std::fmt;

use crate::version::KernelVersion;

/// One mutation of the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Injection {
    /// Drop the `ep_is_linked` test in `ep_poll_callback`: an item already on a list
    /// (the ready list, or a transferring task's txlist/injlist) is appended again.
    NoLinkedCheck,
    /// Drop the `smp_mb()` before `INIT_LIST_HEAD(&epi->rdllink)` in `ep_send_events`
    /// (6192bd536f96 only: the other versions have no such barrier).
    NoSmpMb,
    /// Skip the wake-up of `ep->wq` after re-splicing items into the ready list at the
    /// end of `ep_send_events` (2.6.21: at the end of `ep_reinject_items`; 2.6.22: the
    /// "if the ready list is not empty" wake at the end of `ep_send_events`).
    NoReinjectWakeup,
    /// Take `ep->lock` with plain `write_lock` (2.6.22: `spin_lock`), interrupts left
    /// enabled, everywhere.
    LockWithoutIrqsave,
    /// `epoll_ctl` does not take `ep->sem` for write (2.6.22: `ep->mtx`).
    CtlWithoutSem,
    /// `ep_events_transfer` splices `rdllist` onto its txlist without `ep->lock` (2.6.22:
    /// `ep_send_events` splices and sets `ovflist` to NULL without it; not 2.6.21,
    /// which never steals the list).
    StealWithoutLock,
    /// Call `ep_poll_safewake` with `ep->lock` still held (no `pwake` deferral).
    NoPwakeDeferral,
    /// `ep_remove` unhooks the wait queues while holding `ep->lock`: the order its
    /// comment warns against (the wake path takes the head lock, then `ep->lock`).
    UnhookUnderLock,
}

impl Injection {
    pub const ALL: [Injection; 8] = [
        Injection::NoLinkedCheck,
        Injection::NoSmpMb,
        Injection::NoReinjectWakeup,
        Injection::LockWithoutIrqsave,
        Injection::CtlWithoutSem,
        Injection::StealWithoutLock,
        Injection::NoPwakeDeferral,
        Injection::UnhookUnderLock,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Injection::NoLinkedCheck => "no-linked-check",
            Injection::NoSmpMb => "no-smp-mb",
            Injection::NoReinjectWakeup => "no-reinject-wakeup",
            Injection::LockWithoutIrqsave => "lock-without-irqsave",
            Injection::CtlWithoutSem => "ctl-without-sem",
            Injection::StealWithoutLock => "steal-without-lock",
            Injection::NoPwakeDeferral => "no-pwake-deferral",
            Injection::UnhookUnderLock => "unhook-under-lock",
        }
    }

    pub fn parse(name: &str) -> Option<Injection> {
        Injection::ALL.into_iter().find(|i| i.name() == name)
    }

    /// Whether the mutation maps onto `version`'s eventpoll.c, and if not, why (asking
    /// for it there is an input error: the line it removes does not exist).
    pub fn applies_to(self, version: KernelVersion) -> Result<(), &'static str> {
        match (self, version) {
            (_, KernelVersion::V6_18) => Err(
                "no injection applies to 6.18: each mutates a line of the 2007 eventpoll.c (ep->sem, the rwlock, the transfer's smp_mb, ...), which 6.18 does not have",
            ),
            (Injection::NoSmpMb, KernelVersion::V2_6_21) => Err(
                "no-smp-mb does not apply to 2.6.21: its transfer re-initialises each link under ep->lock, with no smp_mb() (the barrier came with 6192bd536f96)",
            ),
            (Injection::NoSmpMb, KernelVersion::V2_6_22) => Err(
                "no-smp-mb does not apply to 2.6.22: its eventpoll.c has no memory barrier (d47de16c7221 replaced the lockless re-initialisation the smp_mb() ordered with the ovflist)",
            ),
            (Injection::StealWithoutLock, KernelVersion::V2_6_21) => Err(
                "steal-without-lock does not apply to 2.6.21: it never steals the ready list, it collects at most maxevents items under ep->lock",
            ),
            _ => Ok(()),
        }
    }

    /// The versions the mutation applies to, in [`KernelVersion::ALL`] order.
    pub fn versions(self) -> Vec<KernelVersion> {
        KernelVersion::ALL
            .into_iter()
            .filter(|&version| self.applies_to(version).is_ok())
            .collect()
    }

    /// One sentence: what the mutation removes.
    pub fn description(self) -> &'static str {
        match self {
            Injection::NoLinkedCheck => {
                "ep_poll_callback appends the item to rdllist without testing ep_is_linked(&epi->rdllink)"
            }
            Injection::NoSmpMb => "ep_send_events re-initialises epi->rdllink without the smp_mb() before it",
            Injection::NoReinjectWakeup => {
                "after putting items back on rdllist, the transfer does not wake ep->wq"
            }
            Injection::LockWithoutIrqsave => "ep->lock is taken without disabling interrupts",
            Injection::CtlWithoutSem => {
                "epoll_ctl runs without taking ep->sem for write (2.6.22: ep->mtx)"
            }
            Injection::StealWithoutLock => {
                "the transfer steals rdllist (2.6.22: and sets ep->ovflist) without holding ep->lock"
            }
            Injection::NoPwakeDeferral => "ep_poll_safewake is called with ep->lock held",
            Injection::UnhookUnderLock => "ep_remove unhooks the wait queues while holding ep->lock",
        }
    }
}

impl fmt::Display for Injection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_barrier_injection_applies_to_the_seed_tree_only() {
        assert_eq!(Injection::NoSmpMb.versions(), vec![KernelVersion::Seed]);
        let why = Injection::NoSmpMb
            .applies_to(KernelVersion::V2_6_22)
            .unwrap_err();
        assert!(why.contains("no memory barrier"), "{why}");
        assert_eq!(
            Injection::StealWithoutLock.versions(),
            vec![KernelVersion::Seed, KernelVersion::V2_6_22]
        );
        assert_eq!(
            Injection::NoLinkedCheck.versions(),
            vec![
                KernelVersion::Seed,
                KernelVersion::V2_6_21,
                KernelVersion::V2_6_22
            ]
        );
        assert!(Injection::NoLinkedCheck
            .applies_to(KernelVersion::V6_18)
            .unwrap_err()
            .contains("6.18"));
    }
}
