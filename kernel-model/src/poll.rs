//! Poll and epoll event bits (`include/asm-generic/poll.h`, `include/linux/eventpoll.h`
//! of 2.6.22) and the poll table that `f_op->poll` receives.

use crate::objects::EpitemId;

pub const POLLIN: u32 = 0x0001;
pub const POLLPRI: u32 = 0x0002;
pub const POLLOUT: u32 = 0x0004;
pub const POLLERR: u32 = 0x0008;
pub const POLLHUP: u32 = 0x0010;
pub const POLLNVAL: u32 = 0x0020;
pub const POLLRDNORM: u32 = 0x0040;
pub const POLLRDBAND: u32 = 0x0080;
pub const POLLWRNORM: u32 = 0x0100;
pub const POLLWRBAND: u32 = 0x0200;
pub const POLLMSG: u32 = 0x0400;
pub const POLLREMOVE: u32 = 0x1000;
pub const POLLRDHUP: u32 = 0x2000;

pub const EPOLLIN: u32 = POLLIN;
pub const EPOLLPRI: u32 = POLLPRI;
pub const EPOLLOUT: u32 = POLLOUT;
pub const EPOLLERR: u32 = POLLERR;
pub const EPOLLHUP: u32 = POLLHUP;
pub const EPOLLRDNORM: u32 = POLLRDNORM;
pub const EPOLLRDBAND: u32 = POLLRDBAND;
pub const EPOLLWRNORM: u32 = POLLWRNORM;
pub const EPOLLWRBAND: u32 = POLLWRBAND;
pub const EPOLLMSG: u32 = POLLMSG;
pub const EPOLLRDHUP: u32 = POLLRDHUP;
/// `EPOLLEXCLUSIVE` (4.5; 6.18 only in the model).
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
/// `EPOLLWAKEUP` (3.5; 6.18 only in the model).
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;

/// `EP_PRIVATE_BITS`: an item whose mask has no other bit is disabled.
pub const EP_PRIVATE_BITS: u32 = EPOLLONESHOT | EPOLLET;

/// `epoll_ctl` operations.
pub const EPOLL_CTL_ADD: i32 = 1;
pub const EPOLL_CTL_DEL: i32 = 2;
pub const EPOLL_CTL_MOD: i32 = 3;

/// Names of the event bits, for parsing and printing masks.
pub const EVENT_NAMES: &[(&str, u32)] = &[
    ("EPOLLIN", EPOLLIN),
    ("EPOLLPRI", EPOLLPRI),
    ("EPOLLOUT", EPOLLOUT),
    ("EPOLLERR", EPOLLERR),
    ("EPOLLHUP", EPOLLHUP),
    ("EPOLLRDNORM", EPOLLRDNORM),
    ("EPOLLRDBAND", EPOLLRDBAND),
    ("EPOLLWRNORM", EPOLLWRNORM),
    ("EPOLLWRBAND", EPOLLWRBAND),
    ("EPOLLMSG", EPOLLMSG),
    ("EPOLLRDHUP", EPOLLRDHUP),
    ("EPOLLEXCLUSIVE", EPOLLEXCLUSIVE),
    ("EPOLLWAKEUP", EPOLLWAKEUP),
    ("EPOLLONESHOT", EPOLLONESHOT),
    ("EPOLLET", EPOLLET),
];

/// `EPOLLIN|EPOLLRDNORM`, or `0`.
pub fn mask_to_string(mask: u32) -> String {
    if mask == 0 {
        return "0".to_string();
    }
    let mut parts = Vec::new();
    let mut rest = mask;
    for &(name, bit) in EVENT_NAMES {
        if mask & bit != 0 {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

/// Parses `EPOLLIN|EPOLLET`, a number, or a mix.
pub fn parse_mask(text: &str) -> Option<u32> {
    let mut mask = 0;
    for part in text.split('|') {
        let part = part.trim();
        if let Some(&(_, bit)) = EVENT_NAMES.iter().find(|(n, _)| *n == part) {
            mask |= bit;
        } else if let Some(hex) = part.strip_prefix("0x") {
            mask |= u32::from_str_radix(hex, 16).ok()?;
        } else {
            mask |= part.parse::<u32>().ok()?;
        }
    }
    Some(mask)
}

/// `struct epoll_event`: events and 64-bit user data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpollEvent {
    pub events: u32,
    pub data: u64,
}

/// The `poll_table` passed to `f_op->poll`: NULL (just report the mask) or epoll's
/// table, whose queue procedure is `ep_ptable_queue_proc` for one epitem, or `poll(2)`'s
/// (`__pollwait` for the polling task; `key` is the events it waits for, with POLLERR and
/// POLLHUP). select's table is not modelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollTable {
    Null,
    Epoll(EpitemId),
    Poll { task: sim::TaskId, key: u32 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_round_trip() {
        let mask = EPOLLIN | EPOLLET | EPOLLONESHOT;
        assert_eq!(mask_to_string(mask), "EPOLLIN|EPOLLONESHOT|EPOLLET");
        assert_eq!(parse_mask("EPOLLIN|EPOLLET|EPOLLONESHOT"), Some(mask));
        assert_eq!(parse_mask("EPOLLIN|0x10"), Some(EPOLLIN | EPOLLHUP));
        assert_eq!(parse_mask("EPOLLBOGUS"), None);
    }
}
