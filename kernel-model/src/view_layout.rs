//! What a step-through view (`epsim view`) draws of the port's objects: the description
//! table that names, for each kernel version, the list heads worth drawing (which block
//! kind holds them, under which field name) and what an item's words mean. `sim` records
//! memory by block kind and field name only (it knows nothing of epoll); this table is
//! where those names become `ep->rdllist`, a transfer's `txlist` or `ep->ovflist`.
//!
//! The view follows the real link words from a head: a pointer's word names its block
//! and field (`epitem3.rdllink.next`), so the link an item is on is read from memory,
//! never assumed — an item on `txlist` through its `rdllink` (the seed's single pass)
//! and one through its `txlink` (2.6.21's three passes) are both drawn as they are.

use sim::waitq::WakeFunction;

use crate::kernel::{
    decode_handle, Kernel, KernelVersion, CALLBACK_EP_AUTOREMOVE, CALLBACK_EP_POLL,
};
use crate::objects::PwqId;
use sim::Granularity;

/// How a list's head links its items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListShape {
    /// A `struct list_head` (`FIELD.next`, `FIELD.prev`), circular through the items'
    /// own `list_head`s.
    Double,
    /// One word holding the first item's link address, each item's `link` word the
    /// next one's, NULL-terminated; `inactive` is the head's value when the chain is
    /// not in use (2.6.22's `EP_UNACTIVE_PTR`).
    Chain { link: &'static str, inactive: u64 },
}

/// One list head the view draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListDescription {
    /// The kind of block the head is a field of (`ep`, `stack`).
    pub kind: &'static str,
    /// The head's field name (without `.next`/`.prev` for a `Double` list).
    pub field: &'static str,
    /// What the kernel calls it.
    pub title: &'static str,
    pub shape: ListShape,
}

/// What an item's words mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemDescription {
    pub kind: &'static str,
    /// The word holding the event mask (`event.events`).
    pub mask_field: &'static str,
    /// The item's `list_head`s, by field name (whether each is linked is read from it).
    pub links: &'static [&'static str],
}

const RDLLIST: ListDescription = ListDescription {
    kind: "ep",
    field: "rdllist",
    title: "ep->rdllist (ready list)",
    shape: ListShape::Double,
};

const TXLIST: ListDescription = ListDescription {
    kind: "stack",
    field: "txlist",
    title: "txlist (on the transferring task's stack)",
    shape: ListShape::Double,
};

const INJLIST: ListDescription = ListDescription {
    kind: "stack",
    field: "injlist",
    title: "injlist (re-injection, on the task's stack)",
    shape: ListShape::Double,
};

const OVFLIST: ListDescription = ListDescription {
    kind: "ep",
    field: "ovflist",
    title: "ep->ovflist (callbacks during a transfer)",
    shape: ListShape::Chain {
        link: "next",
        inactive: crate::eventpoll_2_6_22::EP_UNACTIVE_PTR,
    },
};

/// The list heads each version has, in the order the view draws them.
pub fn lists(version: KernelVersion) -> &'static [ListDescription] {
    match version {
        KernelVersion::Seed => &[RDLLIST, TXLIST, INJLIST],
        KernelVersion::V2_6_21 => &[RDLLIST, TXLIST],
        KernelVersion::V2_6_22 | KernelVersion::V6_18 => &[RDLLIST, OVFLIST, TXLIST],
    }
}

/// The items every version's lists hold.
pub fn item(version: KernelVersion) -> ItemDescription {
    match version {
        KernelVersion::V2_6_21 => ItemDescription {
            kind: "epitem",
            mask_field: "event.events",
            links: &["rdllink", "txlink"],
        },
        _ => ItemDescription {
            kind: "epitem",
            mask_field: "event.events",
            links: &["rdllink"],
        },
    }
}

/// A wait-queue entry's function as a view names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WakeFunctionName {
    /// In kernel terms: `default_wake_function(task2)`, `ep_poll_callback(epitem3)`.
    pub text: String,
    /// The block of the epitem an `ep_poll_callback` entry belongs to (`epitem3`), for
    /// the view to say whether it is freed at the step it shows.
    pub item: Option<String>,
}

/// Names `func` as it was when its entry was made: an `ep_poll_callback`'s epitem is the
/// one its `eppoll_entry` was made for, which a watched run keeps
/// ([`crate::objects::Objects::pwq_items`]) — looked up in the live objects, a callback
/// whose item is freed by the end of the run would have no name at any step.
pub fn describe_wake_function<G: Granularity>(
    kernel: &Kernel<G>,
    func: WakeFunction,
) -> WakeFunctionName {
    match func {
        WakeFunction::Default(task) => WakeFunctionName {
            text: format!("default_wake_function({task})"),
            item: None,
        },
        WakeFunction::Callback { kind, data } if kind == CALLBACK_EP_POLL => {
            let objects = kernel.objects.borrow();
            let id = objects.pwq_items.get(&data).copied().or_else(|| {
                let pwq: PwqId = decode_handle(data);
                objects
                    .pwqs
                    .get(pwq)
                    .ok()
                    .and_then(|entry| objects.epitems.get(entry.base).ok())
                    .map(|epi| epi.id)
            });
            match id {
                Some(id) => WakeFunctionName {
                    text: format!("ep_poll_callback(epitem{id})"),
                    item: Some(format!("epitem{id}")),
                },
                None => WakeFunctionName {
                    text: "ep_poll_callback(an epitem this run did not name)".to_string(),
                    item: None,
                },
            }
        }
        WakeFunction::Callback { kind, .. } if kind == CALLBACK_EP_AUTOREMOVE => WakeFunctionName {
            text: "ep_autoremove_wake_function".to_string(),
            item: None,
        },
        WakeFunction::Callback { kind, data } => WakeFunctionName {
            text: format!("callback {kind} ({data:#x})"),
            item: None,
        },
    }
}
