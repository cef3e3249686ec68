//! The program generator: seeded, single-threaded programs over the system calls the
//! 6.18 port models, with every argument chosen so that no call can block (each
//! descriptor is made non-blocking as it is made, and every wait has timeout 0), so the
//! result of each call is determined by the calls before it.
//!
//! The generator keeps its own guess of the descriptor table (the lowest free number,
//! assuming every call succeeds) to pick descriptors that exist most of the time; a
//! wrong guess only makes a call name another descriptor, the same on both sides.

use std::collections::BTreeMap;

use kernel_model::eventfd::{EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE};
use kernel_model::eventpoll_6_18::EPOLL_CLOEXEC;
use kernel_model::objects::{O_CLOEXEC, O_DIRECT, O_NONBLOCK};
use kernel_model::poll::*;
use kernel_model::syscalls::{FD_CLOEXEC, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD};
use kernel_model::timerfd::{CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, TFD_NONBLOCK};
use sim::rng::Rng;

use super::program::{Call, WaitKind};

/// `EP_MAX_EVENTS`: INT_MAX / sizeof(struct epoll_event).
const EP_MAX_EVENTS: i32 = i32::MAX / 12;
/// 6.18's `EPOLL_MAX_NESTS`.
const EPOLL_MAX_NESTS: usize = 4;
/// The descriptors a program may make: well below the 1024 of both sides.
const DESCRIPTORS_MAX: usize = 200;
/// `socketpair`'s types (the low bits of its type argument).
const SOCK_STREAM: i32 = 1;
const SOCK_DGRAM: i32 = 2;

/// What the generator believes a descriptor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Epoll,
    PipeRead,
    PipeWrite,
    /// A stream socketpair end.
    Socket,
    /// A datagram socketpair end.
    Dgram,
    Eventfd,
    Timerfd,
}

/// A program of `calls`, made from `seed`.
pub fn program(seed: u64, calls: usize) -> Vec<Call> {
    let mut g = Generator {
        rng: Rng::new(seed),
        open: BTreeMap::new(),
        peers: BTreeMap::new(),
        out: Vec::with_capacity(calls + 32),
    };
    while g.out.len() < calls {
        g.step();
    }
    g.out
}

struct Generator {
    rng: Rng,
    open: BTreeMap<i32, Kind>,
    /// The other end of each socketpair end made (a guess, as `open` is).
    peers: BTreeMap<i32, i32>,
    out: Vec<Call>,
}

impl Generator {
    fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n)
    }

    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.rng.chance(numerator, denominator)
    }

    /// The lowest free descriptor (the kernel's choice).
    fn next_fd(&self) -> i32 {
        let mut fd = 3;
        while self.open.contains_key(&fd) {
            fd += 1;
        }
        fd
    }

    fn make(&mut self, kind: Kind) -> i32 {
        let fd = self.next_fd();
        self.open.insert(fd, kind);
        fd
    }

    /// An open descriptor of one of `kinds` (any open one if `kinds` is empty), or
    /// sometimes a bad one.
    fn fd_of(&mut self, kinds: &[Kind]) -> i32 {
        if self.chance(1, 25) {
            return self.bad_fd();
        }
        let matching: Vec<i32> = self
            .open
            .iter()
            .filter(|(_, k)| kinds.is_empty() || kinds.contains(k))
            .map(|(fd, _)| *fd)
            .collect();
        if matching.is_empty() {
            let any: Vec<i32> = self.open.keys().copied().collect();
            if any.is_empty() {
                return self.bad_fd();
            }
            return any[self.rng.index(any.len())];
        }
        matching[self.rng.index(matching.len())]
    }

    fn bad_fd(&mut self) -> i32 {
        match self.below(5) {
            0 => -1,
            1 => 1023,
            2 => 1024,
            3 => i32::MAX,
            // A descriptor just past the open ones: closed or never opened.
            _ => self.next_fd() + self.below(3) as i32,
        }
    }

    fn step(&mut self) {
        if self.open.len() >= DESCRIPTORS_MAX {
            let fd = self.fd_of(&[]);
            self.close(fd);
            return;
        }
        match self.below(100) {
            0..=5 => self.epoll_create(),
            6..=11 => self.pipe(),
            12..=15 => self.socketpair(),
            16..=18 => self.eventfd(),
            19..=20 => self.timerfd(),
            21..=42 => self.epoll_ctl(),
            43..=57 => self.wait(),
            58..=67 => self.write(),
            68..=75 => self.read(),
            76..=79 => {
                let fd = self.fd_of(&[]);
                self.close(fd)
            }
            80..=83 => self.dup(),
            84..=86 => self.fcntl(),
            87..=88 => self.shutdown(),
            89..=90 => self.nest_chain(),
            91 => self.path_fan(),
            92 => self.fill(),
            93..=95 => self.fill_socket(),
            96..=97 => self.timerfd_settime(),
            _ => self.oneshot_round(),
        }
    }

    fn close(&mut self, fd: i32) {
        self.open.remove(&fd);
        self.out.push(Call::Close { fd });
    }

    fn setfl_nonblock(&mut self, fd: i32) {
        self.out.push(Call::FcntlSetfl {
            fd,
            flags: O_NONBLOCK,
        });
    }

    fn epoll_create(&mut self) {
        match self.below(10) {
            0 => self.out.push(Call::EpollCreate {
                size: [0, -1, i32::MIN][self.rng.index(3)],
            }),
            1 => self.out.push(Call::EpollCreate1 {
                flags: [1, O_NONBLOCK as i32, -1][self.rng.index(3)],
            }),
            2..=5 => {
                let size = [1, 2, 100, i32::MAX][self.rng.index(4)];
                self.make(Kind::Epoll);
                self.out.push(Call::EpollCreate { size });
            }
            _ => {
                let flags = if self.chance(1, 2) { 0 } else { EPOLL_CLOEXEC };
                self.make(Kind::Epoll);
                self.out.push(Call::EpollCreate1 { flags });
            }
        }
    }

    /// `pipe()`, or `pipe2` with `O_NONBLOCK`, `O_CLOEXEC`, `O_DIRECT` (packet mode)
    /// — each end made non-blocking afterwards when the flags did not — or now and then
    /// an invalid flag (EINVAL).
    fn pipe(&mut self) {
        let flags = match self.below(10) {
            0..=3 => None,
            4 => {
                self.out.push(Call::Pipe2 {
                    flags: [1, 0o100, 0x8000_0000][self.rng.index(3)],
                });
                return;
            }
            _ => {
                let mut flags = 0;
                if self.chance(3, 4) {
                    flags |= O_NONBLOCK;
                }
                if self.chance(1, 3) {
                    flags |= O_CLOEXEC;
                }
                if self.chance(1, 3) {
                    flags |= O_DIRECT;
                }
                Some(flags)
            }
        };
        let r = self.make(Kind::PipeRead);
        let w = self.make(Kind::PipeWrite);
        match flags {
            None => self.out.push(Call::Pipe),
            Some(flags) => {
                self.out.push(Call::Pipe2 { flags });
                if flags & O_NONBLOCK != 0 {
                    return;
                }
            }
        }
        self.setfl_nonblock(r);
        self.setfl_nonblock(w);
    }

    /// A stream or datagram socketpair, non-blocking through `SOCK_NONBLOCK` or
    /// `F_SETFL`, sometimes `SOCK_CLOEXEC`; now and then an invalid flag (EINVAL).
    fn socketpair(&mut self) {
        let dgram = self.chance(1, 2);
        let mut sock_type = if dgram { SOCK_DGRAM } else { SOCK_STREAM };
        if self.chance(1, 25) {
            self.out.push(Call::Socketpair {
                sock_type: sock_type | 0x10,
            });
            return;
        }
        let nonblock = self.chance(1, 2);
        if nonblock {
            sock_type |= O_NONBLOCK as i32;
        }
        if self.chance(1, 4) {
            sock_type |= O_CLOEXEC as i32;
        }
        let kind = if dgram { Kind::Dgram } else { Kind::Socket };
        let a = self.make(kind);
        let b = self.make(kind);
        self.peers.insert(a, b);
        self.peers.insert(b, a);
        self.out.push(Call::Socketpair { sock_type });
        if !nonblock {
            self.setfl_nonblock(a);
            self.setfl_nonblock(b);
        }
    }

    fn eventfd(&mut self) {
        let count = [0, 1, 5, u32::MAX][self.rng.index(4)];
        let mut flags = EFD_NONBLOCK;
        if self.chance(1, 3) {
            flags |= EFD_SEMAPHORE;
        }
        if self.chance(1, 4) {
            flags |= EFD_CLOEXEC;
        }
        if self.chance(1, 20) {
            // An unknown flag: EINVAL, no descriptor.
            self.out.push(Call::Eventfd2 {
                count,
                flags: flags | 0x10,
            });
            return;
        }
        self.make(Kind::Eventfd);
        self.out.push(Call::Eventfd2 { count, flags });
    }

    fn timerfd(&mut self) {
        let clock = [CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME][self.rng.index(3)];
        self.make(Kind::Timerfd);
        self.out.push(Call::TimerfdCreate {
            clock,
            flags: TFD_NONBLOCK,
        });
    }

    /// Disarmed, or armed an hour ahead: never fires during a program, so the result
    /// does not depend on time (expiries are time-dependent on the host).
    fn timerfd_settime(&mut self) {
        let fd = self.fd_of(&[Kind::Timerfd]);
        let value_ns = if self.chance(1, 2) {
            0
        } else {
            3_600_000_000_000
        };
        let flags = if self.chance(1, 10) { 4 } else { 0 };
        self.out.push(Call::TimerfdSettime {
            fd,
            flags,
            value_ns,
        });
    }

    fn mask(&mut self) -> u32 {
        if self.chance(1, 40) {
            return self.rng.next_u64() as u32;
        }
        let mut mask = match self.below(4) {
            0 => EPOLLIN,
            1 => EPOLLOUT,
            2 => EPOLLIN | EPOLLOUT,
            _ => 0,
        };
        for (bit, odds) in [
            (EPOLLRDHUP, 5),
            (EPOLLPRI, 10),
            (EPOLLERR, 10),
            (EPOLLHUP, 10),
            (EPOLLRDNORM, 10),
            (EPOLLWRNORM, 10),
            (EPOLLRDBAND, 15),
            (EPOLLWRBAND, 15),
            (EPOLLMSG, 20),
            (EPOLLET, 3),
            (EPOLLONESHOT, 5),
            (EPOLLEXCLUSIVE, 8),
            (EPOLLWAKEUP, 10),
        ] {
            if self.chance(1, odds) {
                mask |= bit;
            }
        }
        mask
    }

    fn epoll_ctl(&mut self) {
        let epfd = self.fd_of(&[Kind::Epoll]);
        let op = match self.below(20) {
            0 => [0, 4, -1][self.rng.index(3)],
            1..=10 => EPOLL_CTL_ADD,
            11..=15 => EPOLL_CTL_MOD,
            _ => EPOLL_CTL_DEL,
        };
        let fd = if self.chance(1, 8) {
            self.fd_of(&[Kind::Epoll])
        } else {
            self.fd_of(&[])
        };
        let event = if self.chance(1, 30) {
            None
        } else {
            let mask = self.mask();
            Some((mask, fd.max(0) as u64 + 100 * self.below(3)))
        };
        self.out.push(Call::EpollCtl {
            epfd,
            op,
            fd,
            event,
        });
    }

    fn wait_kind(&mut self) -> WaitKind {
        match self.below(8) {
            0..=3 => WaitKind::Wait,
            4 => WaitKind::Pwait { all_signals: false },
            5 => WaitKind::Pwait { all_signals: true },
            6 => WaitKind::Pwait2 { timeout_ns: 0 },
            _ => WaitKind::Pwait2 {
                timeout_ns: if self.chance(1, 3) { -1 } else { 0 },
            },
        }
    }

    fn wait(&mut self) {
        let kind = self.wait_kind();
        let epfd = self.fd_of(&[Kind::Epoll]);
        let maxevents = match self.below(12) {
            0 => 0,
            1 => -1,
            2 => EP_MAX_EVENTS,
            3 => EP_MAX_EVENTS + 1,
            4 => i32::MIN,
            5..=7 => 1 + self.below(3) as i32,
            _ => 64,
        };
        self.out.push(Call::EpollWait {
            kind,
            epfd,
            maxevents,
        });
    }

    fn write_len(&mut self) -> usize {
        match self.below(8) {
            0 => 0,
            1..=3 => 1 + self.below(16) as usize,
            4 => 4096,
            5 => 65536,
            6 => 100_000,
            _ => 8,
        }
    }

    /// A write to a socket: small ones mostly, and sizes around 6.18's skb boundaries
    /// (a 3 776-byte linear head, 16 064 bytes of datagram head, 36 544 bytes of
    /// stream skb) and the datagram limit (`sk_sndbuf` − 32 = 212 960).
    fn socket_write_len(&mut self) -> usize {
        match self.below(12) {
            0..=4 => self.below(17) as usize,
            5 => 192 + self.below(2) as usize,
            6 => [3776, 3777, 4096][self.rng.index(3)],
            7 => [16_064, 16_065, 36_544, 36_545][self.rng.index(4)],
            8 => 65_536,
            9 => 100_000,
            10 => [212_960, 212_961][self.rng.index(2)],
            _ => 1000,
        }
    }

    fn write(&mut self) {
        let fd = self.fd_of(&[
            Kind::PipeWrite,
            Kind::Socket,
            Kind::Dgram,
            Kind::Eventfd,
            Kind::PipeRead,
        ]);
        if self.open.get(&fd) == Some(&Kind::Eventfd) && self.chance(4, 5) {
            let value = [
                1,
                2,
                0xffff_ffff_ffff_fffe,
                u64::MAX,
                0,
                0x7fff_ffff_ffff_ffff,
            ][self.rng.index(6)];
            self.out.push(Call::WriteU64 { fd, value });
            return;
        }
        let len = if matches!(self.open.get(&fd), Some(Kind::Socket | Kind::Dgram)) {
            self.socket_write_len()
        } else {
            self.write_len()
        };
        self.out.push(Call::Write { fd, len });
    }

    fn read(&mut self) {
        let fd = self.fd_of(&[
            Kind::PipeRead,
            Kind::Socket,
            Kind::Dgram,
            Kind::Eventfd,
            Kind::Timerfd,
        ]);
        let len = match self.below(6) {
            0 => 0,
            1 => 1,
            2 | 3 => 8,
            4 => 100,
            _ => 70_000,
        };
        self.out.push(Call::Read { fd, len });
    }

    /// The lowest free descriptor at or above `from` (`F_DUPFD`'s choice).
    fn next_fd_from(&self, from: i32) -> i32 {
        let mut fd = from.max(3);
        while self.open.contains_key(&fd) {
            fd += 1;
        }
        fd
    }

    fn dup(&mut self) {
        let fd = self.fd_of(&[]);
        let kind = self.open.get(&fd).copied();
        match self.below(10) {
            0..=1 => return self.dup3(fd, kind),
            2..=3 => return self.fcntl_dupfd(fd, kind),
            _ => {}
        }
        if self.chance(1, 2) {
            if let Some(kind) = kind {
                self.make(kind);
            }
            self.out.push(Call::Dup { fd });
            return;
        }
        let newfd = match self.below(6) {
            0 => fd,
            1 => -1,
            2 => 1024,
            3 => 1023,
            _ => 3 + self.below(40) as i32,
        };
        if let (Some(kind), true) = (kind, (3..1024).contains(&newfd)) {
            self.open.insert(newfd, kind);
        }
        self.out.push(Call::Dup2 { oldfd: fd, newfd });
    }

    /// `dup3(fd, newfd, flags)`: `O_CLOEXEC` or 0, now and then an invalid flag or
    /// `newfd == fd` (EINVAL where `dup2` succeeds).
    fn dup3(&mut self, fd: i32, kind: Option<Kind>) {
        let newfd = match self.below(6) {
            0 => fd,
            1 => -1,
            2 => 1024,
            _ => 3 + self.below(40) as i32,
        };
        let flags = match self.below(10) {
            0 => [1, O_NONBLOCK][self.rng.index(2)],
            1..=5 => O_CLOEXEC,
            _ => 0,
        };
        let succeeds = flags & !O_CLOEXEC == 0 && newfd != fd && (3..1024).contains(&newfd);
        if let (Some(kind), true) = (kind, succeeds) {
            self.open.insert(newfd, kind);
        }
        self.out.push(Call::Dup3 {
            oldfd: fd,
            newfd,
            flags,
        });
    }

    /// `fcntl(fd, F_DUPFD or F_DUPFD_CLOEXEC, from)`: the lowest free descriptor at or
    /// above `from`; EINVAL at or above the limit (1024) and for a negative `from`.
    fn fcntl_dupfd(&mut self, fd: i32, kind: Option<Kind>) {
        let cmd = if self.chance(1, 2) {
            F_DUPFD
        } else {
            F_DUPFD_CLOEXEC
        };
        let from = match self.below(8) {
            0 => 0,
            1 => 1023,
            2 => 1024,
            3 => -1,
            4 => fd,
            _ => 3 + self.below(30) as i32,
        };
        if let (Some(kind), true) = (kind, (0..1024).contains(&from)) {
            let newfd = self.next_fd_from(from);
            if newfd < 1024 {
                self.open.insert(newfd, kind);
            }
        }
        self.out.push(Call::Fcntl {
            fd,
            cmd,
            arg: from as u32,
        });
    }

    fn fcntl(&mut self) {
        let fd = self.fd_of(&[]);
        match self.below(12) {
            0..=3 => self.out.push(Call::FcntlGetfl { fd }),
            4..=5 => self.out.push(Call::Fcntl {
                fd,
                cmd: F_GETFD,
                arg: 0,
            }),
            6..=7 => self.out.push(Call::Fcntl {
                fd,
                cmd: F_SETFD,
                arg: [0, FD_CLOEXEC, 0xff][self.rng.index(3)],
            }),
            // Packet mode on a pipe (EINVAL on anything else); keeps O_NONBLOCK.
            8 => self.out.push(Call::FcntlSetfl {
                fd,
                flags: O_NONBLOCK | O_DIRECT,
            }),
            9 => self.out.push(Call::Fcntl {
                fd,
                cmd: [1000, 2000, -1][self.rng.index(3)],
                arg: 0,
            }),
            // Never clears O_NONBLOCK: a later read or write must not block.
            _ => self.setfl_nonblock(fd),
        }
    }

    fn shutdown(&mut self) {
        let fd = self.fd_of(&[Kind::Socket, Kind::Dgram]);
        let how = match self.below(10) {
            0 => 3,
            1 => -1,
            _ => self.below(3) as i32,
        };
        self.out.push(Call::Shutdown { fd, how });
    }

    /// Epoll sets nested `depth` deep (up to one past the limit): each set is added to
    /// the next; a pipe at the bottom; sometimes the top added to the bottom (a loop);
    /// then a write and a wait on the top.
    fn nest_chain(&mut self) {
        let depth = 2 + self.below(EPOLL_MAX_NESTS as u64 + 2) as usize;
        let sets: Vec<i32> = (0..depth)
            .map(|_| {
                let fd = self.make(Kind::Epoll);
                self.out.push(Call::EpollCreate1 { flags: 0 });
                fd
            })
            .collect();
        let r = self.next_fd();
        self.pipe();
        let w = r + 1;
        let pipe_mask = if self.chance(1, 2) {
            EPOLLIN
        } else {
            EPOLLIN | EPOLLET
        };
        self.out.push(Call::EpollCtl {
            epfd: sets[0],
            op: EPOLL_CTL_ADD,
            fd: r,
            event: Some((pipe_mask, r as u64)),
        });
        // Bottom up or top down: the checks differ (the bottom set's depth is found
        // from below; a set already watched is found from above).
        let top_down = self.chance(1, 2);
        let mut links: Vec<(i32, i32)> = sets.windows(2).map(|w| (w[1], w[0])).collect();
        if top_down {
            links.reverse();
        }
        for (outer, inner) in links {
            let mask = if self.chance(1, 3) {
                EPOLLIN | EPOLLET
            } else {
                EPOLLIN
            };
            self.out.push(Call::EpollCtl {
                epfd: outer,
                op: EPOLL_CTL_ADD,
                fd: inner,
                event: Some((mask, inner as u64)),
            });
        }
        if self.chance(1, 3) {
            // Close the loop.
            let (top, bottom) = (sets[depth - 1], sets[0]);
            self.out.push(Call::EpollCtl {
                epfd: bottom,
                op: EPOLL_CTL_ADD,
                fd: top,
                event: Some((EPOLLIN, top as u64)),
            });
        }
        self.out.push(Call::Write { fd: w, len: 1 });
        for &set in sets.iter().rev().take(2) {
            self.out.push(Call::EpollWait {
                kind: WaitKind::Wait,
                epfd: set,
                maxevents: 8,
            });
        }
    }

    /// The path limits: one pipe under a chain of sets, and `width` sets on top of it
    /// (the kernel allows 1000, 500, 100, 50, 10 wake-up paths of length 1 to 5).
    fn path_fan(&mut self) {
        let chain = 1 + self.below(4) as usize;
        let width = [9, 10, 11, 12][self.rng.index(4)];
        let r = self.next_fd();
        self.pipe();
        let mut below = r;
        for _ in 0..chain {
            let set = self.make(Kind::Epoll);
            self.out.push(Call::EpollCreate1 { flags: 0 });
            self.out.push(Call::EpollCtl {
                epfd: set,
                op: EPOLL_CTL_ADD,
                fd: below,
                event: Some((EPOLLIN, below as u64)),
            });
            below = set;
        }
        let mut tops = Vec::new();
        for _ in 0..width {
            let set = self.make(Kind::Epoll);
            self.out.push(Call::EpollCreate1 { flags: 0 });
            self.out.push(Call::EpollCtl {
                epfd: set,
                op: EPOLL_CTL_ADD,
                fd: below,
                event: Some((EPOLLIN, below as u64)),
            });
            tops.push(set);
        }
        // Adding the pipe once more, directly, after the paths are there.
        if self.chance(1, 2) {
            let set = tops[self.rng.index(tops.len())];
            self.out.push(Call::EpollCtl {
                epfd: set,
                op: EPOLL_CTL_ADD,
                fd: r,
                event: Some((EPOLLIN, r as u64)),
            });
        }
        self.out.push(Call::Write { fd: r + 1, len: 3 });
        let set = tops[self.rng.index(tops.len())];
        self.out.push(Call::EpollWait {
            kind: WaitKind::Wait,
            epfd: set,
            maxevents: 4,
        });
    }

    /// Writes until a pipe is full (and past), then waits for EPOLLOUT.
    fn fill(&mut self) {
        let fd = self.fd_of(&[Kind::PipeWrite]);
        if self.open.get(&fd) != Some(&Kind::PipeWrite) {
            return;
        }
        let len = [65536, 100_000, 4096][self.rng.index(3)];
        let times = 3 + self.below(6);
        for _ in 0..times {
            self.out.push(Call::Write { fd, len });
        }
        if let Some(epfd) = self
            .open
            .iter()
            .find(|(_, k)| **k == Kind::Epoll)
            .map(|(fd, _)| *fd)
        {
            let mask = self.mask() | EPOLLOUT;
            self.out.push(Call::EpollCtl {
                epfd,
                op: EPOLL_CTL_ADD,
                fd,
                event: Some((mask, fd as u64)),
            });
            self.out.push(Call::EpollWait {
                kind: WaitKind::Wait,
                epfd,
                maxevents: 8,
            });
        }
    }

    /// A socketpair end written past its send buffer's limits: `times` writes of `len`
    /// bytes (crossing the quarter at which EPOLLOUT goes and the whole at which writes
    /// fail with EAGAIN, for some), the end watched for EPOLLOUT (sometimes
    /// edge-triggered) with a wait, then reads on the peer and waits again (EPOLLOUT
    /// comes back once the charge is under a quarter; an edge-triggered item needs
    /// `unix_write_space`'s wake-up for it).
    fn fill_socket(&mut self) {
        let fd = self.fd_of(&[Kind::Socket, Kind::Dgram]);
        let kind = self.open.get(&fd).copied();
        if !matches!(kind, Some(Kind::Socket | Kind::Dgram)) {
            return;
        }
        let len = [1, 100, 1000, 4096, 16_000, 65_536, 100_000][self.rng.index(7)];
        let times = match len {
            1 | 100 => 60 + self.below(230),
            1000 | 4096 => 5 + self.below(60),
            _ => 1 + self.below(8),
        };
        for _ in 0..times {
            self.out.push(Call::Write { fd, len });
        }
        let Some(epfd) = self
            .open
            .iter()
            .find(|(_, k)| **k == Kind::Epoll)
            .map(|(fd, _)| *fd)
        else {
            return;
        };
        let mask = EPOLLOUT | if self.chance(1, 2) { EPOLLET } else { 0 };
        self.out.push(Call::EpollCtl {
            epfd,
            op: EPOLL_CTL_ADD,
            fd,
            event: Some((mask, fd as u64)),
        });
        let wait = Call::EpollWait {
            kind: WaitKind::Wait,
            epfd,
            maxevents: 8,
        };
        self.out.push(wait.clone());
        let peer = self.peers.get(&fd).copied().unwrap_or(fd);
        let reads = 1 + self.below(20);
        let read_len = [1, 100, 4096, 70_000][self.rng.index(4)];
        for _ in 0..reads {
            self.out.push(Call::Read {
                fd: peer,
                len: read_len,
            });
        }
        self.out.push(wait);
    }

    /// A one-shot item's life: ADD, event, wait, wait again (disabled), MOD to re-arm,
    /// wait.
    fn oneshot_round(&mut self) {
        let epfd = self.fd_of(&[Kind::Epoll]);
        let fd = self.fd_of(&[Kind::PipeRead, Kind::Socket, Kind::Dgram, Kind::Eventfd]);
        let mask = EPOLLIN | EPOLLONESHOT | if self.chance(1, 2) { EPOLLET } else { 0 };
        self.out.push(Call::EpollCtl {
            epfd,
            op: EPOLL_CTL_ADD,
            fd,
            event: Some((mask, 7)),
        });
        for _ in 0..2 {
            self.out.push(Call::EpollWait {
                kind: WaitKind::Wait,
                epfd,
                maxevents: 4,
            });
        }
        self.out.push(Call::EpollCtl {
            epfd,
            op: EPOLL_CTL_MOD,
            fd,
            event: Some((mask | EPOLLOUT, 8)),
        });
        self.out.push(Call::EpollWait {
            kind: WaitKind::Wait,
            epfd,
            maxevents: 4,
        });
    }
}
