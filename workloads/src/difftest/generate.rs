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
use kernel_model::objects::O_NONBLOCK;
use kernel_model::poll::*;
use kernel_model::timerfd::{CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, TFD_NONBLOCK};
use sim::rng::Rng;

use super::program::{Call, WaitKind};

/// `EP_MAX_EVENTS`: INT_MAX / sizeof(struct epoll_event).
const EP_MAX_EVENTS: i32 = i32::MAX / 12;
/// 6.18's `EPOLL_MAX_NESTS`.
const EPOLL_MAX_NESTS: usize = 4;
/// The descriptors a program may make: well below the 1024 of both sides.
const DESCRIPTORS_MAX: usize = 200;

/// What the generator believes a descriptor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Epoll,
    PipeRead,
    PipeWrite,
    Socket,
    Eventfd,
    Timerfd,
}

/// A program of `calls`, made from `seed`.
pub fn program(seed: u64, calls: usize) -> Vec<Call> {
    let mut g = Generator {
        rng: Rng::new(seed),
        open: BTreeMap::new(),
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
            89..=91 => self.nest_chain(),
            92 => self.path_fan(),
            93..=95 => self.fill(),
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

    fn pipe(&mut self) {
        let r = self.make(Kind::PipeRead);
        let w = self.make(Kind::PipeWrite);
        self.out.push(Call::Pipe);
        self.setfl_nonblock(r);
        self.setfl_nonblock(w);
    }

    fn socketpair(&mut self) {
        let a = self.make(Kind::Socket);
        let b = self.make(Kind::Socket);
        self.out.push(Call::Socketpair);
        self.setfl_nonblock(a);
        self.setfl_nonblock(b);
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

    fn write(&mut self) {
        let fd = self.fd_of(&[Kind::PipeWrite, Kind::Socket, Kind::Eventfd, Kind::PipeRead]);
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
        // A socket's send buffer accounting is a modelling limit (docs/difftest.md):
        // only small writes, far from the thresholds, go to sockets.
        let len = if self.open.get(&fd) == Some(&Kind::Socket) {
            self.below(17) as usize
        } else {
            self.write_len()
        };
        self.out.push(Call::Write { fd, len });
    }

    fn read(&mut self) {
        let fd = self.fd_of(&[Kind::PipeRead, Kind::Socket, Kind::Eventfd, Kind::Timerfd]);
        let len = match self.below(6) {
            0 => 0,
            1 => 1,
            2 | 3 => 8,
            4 => 100,
            _ => 70_000,
        };
        self.out.push(Call::Read { fd, len });
    }

    fn dup(&mut self) {
        let fd = self.fd_of(&[]);
        let kind = self.open.get(&fd).copied();
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

    fn fcntl(&mut self) {
        let fd = self.fd_of(&[]);
        if self.chance(2, 3) {
            self.out.push(Call::FcntlGetfl { fd });
        } else {
            // Never clears O_NONBLOCK: a later read or write must not block.
            self.setfl_nonblock(fd);
        }
    }

    fn shutdown(&mut self) {
        let fd = self.fd_of(&[Kind::Socket]);
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

    /// A one-shot item's life: ADD, event, wait, wait again (disabled), MOD to re-arm,
    /// wait.
    fn oneshot_round(&mut self) {
        let epfd = self.fd_of(&[Kind::Epoll]);
        let fd = self.fd_of(&[Kind::PipeRead, Kind::Socket, Kind::Eventfd]);
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
