//! The versions of fs/eventpoll.c the model runs, by exactly what their text is, and what
//! each version's tree around eventpoll.c has (its syscalls, where its epoll file comes
//! from). The bottom of kernel-model: it names nothing else of the crate.

/// Which eventpoll.c to run, named after exactly what its text is (docs/eventpoll-history.md
/// §1.2): a release tag, or the tree at a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelVersion {
    /// The tree right after 6192bd536f96 "epoll: optimizations and cleanups" (single-pass
    /// transfer with `injlist`; rwlock `ep->lock`, rw_semaphore `ep->sem`, `usecnt`; the
    /// epoll file still from eventpollfs). Named `6192bd536f96`, alias `seed`; a state of
    /// git between v2.6.21 and v2.6.22-rc1, never a release. The default.
    Seed,
    /// The v2.6.21 tag: collect / send / reinject with `txlink`.
    V2_6_21,
    /// The v2.6.22 tag: the single pass fixed by d47de16c7221 and c7ea76302547
    /// (`ep->mtx`, spinlock `ep->lock`, `ovflist`, exclusive `ep_poll` waiters), the
    /// epoll file from an anonymous inode, eventfd present.
    V2_6_22,
    /// The v6.18 tag: `ep->mtx`, `ep->lock` a spinlock, `ovflist`, keyed wake-ups,
    /// EPOLLEXCLUSIVE, loop and path checks ([`crate::eventpoll_6_18`]).
    V6_18,
}

impl KernelVersion {
    /// The name every output uses.
    pub fn name(self) -> &'static str {
        match self {
            KernelVersion::Seed => "6192bd536f96",
            KernelVersion::V2_6_21 => "2.6.21",
            KernelVersion::V2_6_22 => "2.6.22",
            KernelVersion::V6_18 => "6.18",
        }
    }

    /// Other names accepted on input (never printed).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            KernelVersion::Seed => &["seed"],
            KernelVersion::V2_6_21 | KernelVersion::V2_6_22 => &[],
            KernelVersion::V6_18 => &["modern"],
        }
    }

    /// What the name means, one line (for `--help` and errors).
    pub fn description(self) -> &'static str {
        match self {
            KernelVersion::Seed => {
                "the tree right after 6192bd536f96 \"epoll: optimizations and cleanups\" (alias seed; the default)"
            }
            KernelVersion::V2_6_21 => "the v2.6.21 tag (three-pass transfer with txlink)",
            KernelVersion::V2_6_22 => {
                "the v2.6.22 tag (ep->mtx, spinlock ep->lock, ovflist, exclusive waiters)"
            }
            KernelVersion::V6_18 => {
                "the v6.18 tag (alias modern: ep->mtx, spinlock, ovflist, keyed wake-ups, EPOLLEXCLUSIVE)"
            }
        }
    }

    /// A version by its name or one of its aliases.
    pub fn parse(text: &str) -> Option<KernelVersion> {
        KernelVersion::ALL
            .into_iter()
            .find(|version| version.name() == text || version.aliases().contains(&text))
    }

    /// The accepted names, for error messages: `6192bd536f96 (seed), 2.6.21`.
    pub fn names_for_humans() -> String {
        KernelVersion::ALL
            .iter()
            .map(|version| match version.aliases() {
                [] => version.name().to_string(),
                aliases => format!("{} ({})", version.name(), aliases.join(", ")),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Why the system call `name` does not exist in this version's tree (the call then
    /// fails with ENOSYS, as an unknown syscall number does), or `None` when it exists.
    /// `sys_ni_syscall` is what the real kernel runs for a number it does not implement.
    ///
    /// eventfd came with e1ad7468c77d (v2.6.22-rc1), in the signal/timer/event-fd series
    /// that also brought the anonymous inodes the epoll file moved to in da66f7cb0f69.
    /// The seed tree still made its epoll file on eventpollfs, so it precedes
    /// da66f7cb0f69; that it precedes the whole series is a decision, argued in
    /// docs/eventpoll-port-digest.md §0.3: no eventfd in the seed tree.
    ///
    pub fn missing_syscall(self, name: &str) -> Option<&'static str> {
        match (self, name) {
            (KernelVersion::V2_6_21, "eventfd") => {
                Some("eventfd is not in 2.6.21 (added by e1ad7468c77d for v2.6.22-rc1): ENOSYS")
            }
            (KernelVersion::Seed, "eventfd") => Some(
                "eventfd is not in the 6192bd536f96 tree (e1ad7468c77d came after it; digest §0.3): ENOSYS",
            ),
            (KernelVersion::V6_18, _) => None,
            (_, "epoll_create1" | "eventfd2" | "dup3" | "pipe2") => {
                Some("epoll_create1, eventfd2, dup3 and pipe2 came in 2.6.27: ENOSYS")
            }
            (_, "timerfd_create" | "timerfd_settime" | "timerfd_gettime") => {
                Some("timerfd_create/settime/gettime came in 2.6.25: ENOSYS")
            }
            (_, "epoll_pwait2") => Some("epoll_pwait2 came in 5.11: ENOSYS"),
            (_, "sysctl_max_user_watches") => {
                Some("fs.epoll.max_user_watches came in 2.6.28: no such sysctl file (ENOENT)")
            }
            _ => None,
        }
    }

    /// How this version's `sys_epoll_create` makes the epoll file.
    pub fn epoll_file_source(self) -> EpollFileSource {
        match self {
            KernelVersion::Seed | KernelVersion::V2_6_21 => EpollFileSource::Eventpollfs,
            KernelVersion::V2_6_22 | KernelVersion::V6_18 => EpollFileSource::AnonInode,
        }
    }

    /// Every version, in the order snapshots show them side by side.
    pub const ALL: [KernelVersion; 4] = [
        KernelVersion::Seed,
        KernelVersion::V2_6_21,
        KernelVersion::V2_6_22,
        KernelVersion::V6_18,
    ];

    /// Whether the tree has the later syscalls the model knows (`epoll_create1`,
    /// `eventfd2`, `epoll_pwait2`, the timerfd calls, the `max_user_watches` sysctl):
    /// only 6.18 of the versions the model has.
    pub fn is_modern(self) -> bool {
        self == KernelVersion::V6_18
    }
}

/// Where an epoll file comes from (docs/eventpoll-history.md §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpollFileSource {
    /// `ep_getfd()` on eventpollfs (2.6.21 and the 6192bd536f96 tree): a pseudo
    /// superblock, one inode per epoll fd, the file opened read-only (`O_RDONLY`,
    /// `FMODE_READ`), so `write()` on it is EBADF. Failure order: `get_empty_filp` ENFILE,
    /// the inode ENOMEM, `get_unused_fd` EMFILE, the dentry ENOMEM.
    Eventpollfs,
    /// `anon_inode_getfd("[eventpoll]")` (from da66f7cb0f69): the shared anonymous inode,
    /// the file `O_RDWR` (`FMODE_READ|FMODE_WRITE`) with no `write` method, so `write()` is
    /// EINVAL. Failure order: ENODEV (no anon fs), ENFILE, EMFILE, the dentry ENOMEM.
    AnonInode,
}
