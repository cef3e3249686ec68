//! The host kernel's epoll doing the same work as the simulated one: the baseline of
//! every ratio `epsim bench` prints. Linux only (real epoll through libc).

use std::io;
use std::time::{Duration, Instant};

/// Raises the soft `RLIMIT_NOFILE` towards the hard limit; returns the new soft limit.
pub fn raise_nofile_limit(wanted: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        let target = wanted.min(limit.rlim_max);
        if target > limit.rlim_cur {
            let raised = libc::rlimit {
                rlim_cur: target,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return target;
            }
        }
        limit.rlim_cur
    }
}

/// Pipes and an epoll set, closed on drop.
pub struct EpollSet {
    pub epfd: i32,
    pub pipes: Vec<[i32; 2]>,
}

impl Drop for EpollSet {
    fn drop(&mut self) {
        // SAFETY: closing descriptors this value owns.
        unsafe {
            for p in &self.pipes {
                libc::close(p[0]);
                libc::close(p[1]);
            }
            libc::close(self.epfd);
        }
    }
}

fn check(ret: i32, what: &str) -> io::Result<i32> {
    if ret < 0 {
        Err(io::Error::new(
            io::Error::last_os_error().kind(),
            format!("{what}: {}", io::Error::last_os_error()),
        ))
    } else {
        Ok(ret)
    }
}

impl EpollSet {
    /// `n` non-blocking pipes whose read ends are in one set, level-triggered, EPOLLIN,
    /// data = index.
    pub fn new(n: usize) -> io::Result<EpollSet> {
        // SAFETY: plain syscalls on descriptors this function creates.
        unsafe {
            let epfd = check(libc::epoll_create1(0), "epoll_create1")?;
            let mut set = EpollSet {
                epfd,
                pipes: Vec::with_capacity(n),
            };
            for i in 0..n {
                let mut fds = [0i32; 2];
                check(libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK), "pipe2")?;
                set.pipes.push(fds);
                let mut event = libc::epoll_event {
                    events: libc::EPOLLIN as u32,
                    u64: i as u64,
                };
                check(
                    libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fds[0], &mut event),
                    "epoll_ctl",
                )?;
            }
            Ok(set)
        }
    }

    pub fn write_byte(&self, index: usize) -> io::Result<()> {
        // SAFETY: writing one byte from a local buffer to an owned descriptor.
        unsafe {
            check(
                libc::write(self.pipes[index][1], b"x".as_ptr().cast(), 1) as i32,
                "write",
            )?;
        }
        Ok(())
    }

    pub fn drain(&self, index: usize) -> io::Result<usize> {
        let mut buf = [0u8; 64];
        // SAFETY: reading into a local buffer from an owned descriptor.
        let n = unsafe { libc::read(self.pipes[index][0], buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// One `epoll_wait`; returns the data of the events delivered.
    pub fn wait(
        &self,
        events: &mut Vec<libc::epoll_event>,
        maxevents: usize,
        timeout_ms: i32,
    ) -> io::Result<usize> {
        events.resize(maxevents, libc::epoll_event { events: 0, u64: 0 });
        // SAFETY: the buffer has room for maxevents events.
        let n = unsafe {
            libc::epoll_wait(self.epfd, events.as_mut_ptr(), maxevents as i32, timeout_ms)
        };
        check(n, "epoll_wait").map(|n| n as usize)
    }
}

/// The seed's epwbench: `n` always-readable LT pipes, `epoll_wait(n, 0)` `calls` times.
/// Returns the time per call and the events delivered.
pub fn transfer(n: usize, calls: u64) -> io::Result<(Duration, u64)> {
    let set = EpollSet::new(n)?;
    for i in 0..n {
        set.write_byte(i)?;
    }
    let mut events = Vec::new();
    let mut delivered = 0;
    let start = Instant::now();
    for _ in 0..calls {
        delivered += set.wait(&mut events, n, 0)? as u64;
    }
    Ok((start.elapsed() / calls as u32, delivered))
}

/// The write/wait/read mix: `p` pipes; each round writes one byte to each of `k`
/// distinct pseudo-random pipes, then `epoll_wait(k, -1)` and reads every ready pipe.
/// Returns events per second.
pub fn mix(p: usize, k: usize, rounds: u64, seed: u64) -> io::Result<f64> {
    let set = EpollSet::new(p)?;
    let mut rng = sim::rng::Rng::new(seed);
    let mut events = Vec::new();
    let mut delivered = 0u64;
    let mut chosen = Vec::with_capacity(k);
    let start = Instant::now();
    for _ in 0..rounds {
        pick_distinct(&mut rng, p, k, &mut chosen);
        for &i in &chosen {
            set.write_byte(i)?;
        }
        let n = set.wait(&mut events, k, -1)?;
        for event in &events[..n] {
            set.drain(event.u64 as usize)?;
        }
        delivered += n as u64;
    }
    Ok(delivered as f64 / start.elapsed().as_secs_f64())
}

/// `k` distinct indices below `p`, pseudo-random (the same sequence for sim and native).
pub fn pick_distinct(rng: &mut sim::rng::Rng, p: usize, k: usize, out: &mut Vec<usize>) {
    out.clear();
    while out.len() < k.min(p) {
        let i = rng.index(p);
        if !out.contains(&i) {
            out.push(i);
        }
    }
}
