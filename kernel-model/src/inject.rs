//! Bug injection: named, documented mutations of the port, switched on per run.
//!
//! Each one removes or changes one line that the seed commit's argument (or the
//! kernel's lock order) relies on. They exist to test the checkers and to teach: a
//! student breaks the algorithm on purpose and watches the simulator catch the break.

use std::fmt;

/// One mutation of the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Injection {
    /// Drop the `ep_is_linked` test in `ep_poll_callback`: an item already on a list
    /// (the ready list, or a transferring task's txlist/injlist) is appended again.
    NoLinkedCheck,
    /// Drop the `smp_mb()` before `INIT_LIST_HEAD(&epi->rdllink)` in `ep_send_events`.
    NoSmpMb,
    /// Skip the wake-up of `ep->wq` after re-splicing items into the ready list at the
    /// end of `ep_send_events` (2.6.21: at the end of `ep_reinject_items`).
    NoReinjectWakeup,
    /// Take `ep->lock` with plain `write_lock` (interrupts left enabled) everywhere.
    LockWithoutIrqsave,
    /// `epoll_ctl` does not take `ep->sem` for write.
    CtlWithoutSem,
    /// `ep_events_transfer` splices `rdllist` onto its txlist without `ep->lock`.
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

    /// Whether the mutation names a line of `version`'s eventpoll.c. Every injection
    /// mutates the 2007 code (`ep->sem`, the rwlock, the transfer's `smp_mb`, …), which
    /// 6.18 does not have: none applies there.
    pub fn applies_to(self, version: crate::kernel::KernelVersion) -> bool {
        version != crate::kernel::KernelVersion::V6_18
    }

    /// One sentence: what the mutation removes.
    pub fn description(self) -> &'static str {
        match self {
            Injection::NoLinkedCheck => {
                "ep_poll_callback appends the item to rdllist without testing ep_is_linked(&epi->rdllink)"
            }
            Injection::NoSmpMb => "ep_send_events re-initialises epi->rdllink without the smp_mb() before it",
            Injection::NoReinjectWakeup => {
                "after re-splicing items into rdllist, ep_send_events does not wake ep->wq"
            }
            Injection::LockWithoutIrqsave => "ep->lock is taken without disabling interrupts",
            Injection::CtlWithoutSem => "epoll_ctl runs without taking ep->sem for write",
            Injection::StealWithoutLock => "ep_events_transfer steals rdllist without holding ep->lock",
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
