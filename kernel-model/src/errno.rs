//! Error numbers, as `include/asm-generic/errno-base.h` numbers them.

use std::fmt;

/// An errno a syscall returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    EINTR = 4,
    EBADF = 9,
    EAGAIN = 11,
    ENOMEM = 12,
    EFAULT = 14,
    EEXIST = 17,
    EINVAL = 22,
    ENFILE = 23,
    EMFILE = 24,
    ENOSPC = 28,
    EPIPE = 32,
    /// The syscall number is not implemented in this version (`sys_ni_syscall`).
    ENOSYS = 38,
    ELOOP = 40,
    ENOTSOCK = 88,
    /// A datagram larger than the send buffer allows (`unix_dgram_sendmsg`).
    EMSGSIZE = 90,
    ECONNRESET = 104,
    /// An address another listening socket has (`listen_on`, as `bind` would say).
    EADDRINUSE = 98,
    ENOBUFS = 105,
    ENOTCONN = 107,
    /// A datagram sent to a peer that has closed (`unix_dgram_sendmsg`, once).
    ECONNREFUSED = 111,
}

impl Errno {
    pub const ALL: [Errno; 22] = [
        Errno::EPERM,
        Errno::ENOENT,
        Errno::EINTR,
        Errno::EBADF,
        Errno::EAGAIN,
        Errno::ENOMEM,
        Errno::EFAULT,
        Errno::EEXIST,
        Errno::EINVAL,
        Errno::ENFILE,
        Errno::EMFILE,
        Errno::ENOSPC,
        Errno::EPIPE,
        Errno::ENOSYS,
        Errno::ELOOP,
        Errno::ENOTSOCK,
        Errno::EMSGSIZE,
        Errno::ECONNRESET,
        Errno::EADDRINUSE,
        Errno::ENOBUFS,
        Errno::ENOTCONN,
        Errno::ECONNREFUSED,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Errno::EPERM => "EPERM",
            Errno::ENOENT => "ENOENT",
            Errno::EINTR => "EINTR",
            Errno::EBADF => "EBADF",
            Errno::EAGAIN => "EAGAIN",
            Errno::ENOMEM => "ENOMEM",
            Errno::EFAULT => "EFAULT",
            Errno::EEXIST => "EEXIST",
            Errno::EINVAL => "EINVAL",
            Errno::ENFILE => "ENFILE",
            Errno::EMFILE => "EMFILE",
            Errno::ENOSPC => "ENOSPC",
            Errno::EPIPE => "EPIPE",
            Errno::ENOSYS => "ENOSYS",
            Errno::ELOOP => "ELOOP",
            Errno::ENOTSOCK => "ENOTSOCK",
            Errno::ECONNRESET => "ECONNRESET",
            Errno::EADDRINUSE => "EADDRINUSE",
            Errno::ENOBUFS => "ENOBUFS",
            Errno::ENOTCONN => "ENOTCONN",
            Errno::EMSGSIZE => "EMSGSIZE",
            Errno::ECONNREFUSED => "ECONNREFUSED",
        }
    }

    pub fn parse(name: &str) -> Option<Errno> {
        Errno::ALL.into_iter().find(|e| e.name() == name)
    }

    pub fn number(self) -> i64 {
        self as i64
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a syscall returns: a value or an errno.
pub type SysResult<T> = Result<T, Errno>;
