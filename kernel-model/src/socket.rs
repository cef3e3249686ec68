//! Stream sockets: AF_UNIX `SOCK_STREAM` socketpairs (net/unix/af_unix.c with the
//! net/core/sock.c default callbacks, as of 2.6.22) and a **stream socket fed from
//! outside** whose peer is "the network".
//!
//! # Objects
//!
//! One [`Sock`] stands for `struct socket` + `struct sock` + `struct unix_sock`. Each end
//! has **one** wait-queue head, `sk_sleep` (= `&socket->wait`; the RCU `socket_wq` came
//! in 2.6.35), on which readers, writers and pollers (epoll's hooks) all wait. What
//! `unix_poll` reads without a lock — `sk_shutdown`, `sk_err`, `sk_state`,
//! `sk_wmem_alloc`, the receive queue's length — are shared `sim` words; the queued
//! data (`sk_receive_queue`'s skbs) is object-level under the queue's lock.
//!
//! Lock order (as in the originals): `u->readlock` (mutex) → `unix_state_lock` (`u->lock`)
//! → `sk_receive_queue.lock` and `sk_sleep`'s lock → (wake-up callbacks) `ep->lock`.
//!
//! # Byte semantics
//!
//! A write becomes one skb per chunk of at most `min(sk_sndbuf/2 - 64, SKB_MAX_ALLOC)`
//! bytes, queued on the **peer's** receive queue and charged (its `truesize`) to the
//! **sender's** `sk_wmem_alloc`. `sock_alloc_send_skb` blocks (or fails with EAGAIN)
//! while `sk_wmem_alloc >= sk_sndbuf`, but `unix_poll` reports POLLOUT only while
//! `4 * sk_wmem_alloc <= sk_sndbuf` (`unix_writable`), and freeing an skb wakes the
//! sender only when that 25 % rule holds afterwards (`unix_write_space`) — so a blocked
//! writer sleeps until three quarters of its budget have been read.
//!
//! The constants, chosen for a generic x86-64 build of 2.6.22:
//! - `sk_sndbuf` = [`SYSCTL_WMEM_DEFAULT`] = 112 640 = `SK_WMEM_MAX` =
//!   `(sizeof(struct sk_buff) + 256) * 256` with `sizeof(struct sk_buff)` = 184, the
//!   `net.core.wmem_default` such a kernel boots with. The struct size depends on the
//!   configuration; the value is the one the project settled on, not measured here.
//! - `truesize` of an skb for `n` bytes = `SKB_DATA_ALIGN(n) + sizeof(struct sk_buff)`
//!   (2.6.22's `alloc_skb`), with `SMP_CACHE_BYTES` = 128 (`X86_L1_CACHE_BYTES` of a
//!   `GENERIC_CPU` x86-64 build).
//! - `SKB_MAX_ALLOC` = `(PAGE_SIZE << 2) - sizeof(struct skb_shared_info)` = 16 384 − 312.
//!
//! # Simplifications (each also named where it happens)
//!
//! - `SIGPIPE` is not delivered: a write that gets EPIPE just returns it (as for a
//!   program ignoring SIGPIPE), as pipes do here. `-ERESTARTSYS` surfaces as EINTR.
//! - `sk_callback_lock` (read side in every default callback) is not modelled: its only
//!   writers are `sock_orphan`/`sock_graft` (`write_lock_bh`), readers never exclude
//!   each other, and the sim has no bottom-half level to take it at. `sock_orphan`'s
//!   effect — `SOCK_DEAD` and `sk_sleep = NULL`, so later callbacks wake nobody — is
//!   the object-level [`Sock::dead`] flag, set under `unix_state_lock`.
//! - fasync (`sk_wake_async`, SIGIO) and the `SOCK_NOSPACE`/`SOCK_ASYNC_*` bits that
//!   only serve it are not modelled; neither are credentials, passed descriptors (and
//!   so the unix garbage collector), `MSG_PEEK`, `MSG_OOB`, `SO_RCVTIMEO`/`SO_SNDTIMEO`
//!   (reads and writes wait forever unless non-blocking), `peer_wait` (datagram flow
//!   control; no stream-socket waiter is ever on it) and the socket hash tables.
//! - `DEFINE_WAIT`'s `autoremove_wake_function` entries are plain task entries removed
//!   by `finish_wait`, as in [`crate::pipe`]: same wake order, the entry just stays
//!   linked until its task runs.
//! - `skb_queue_empty(&sk->sk_receive_queue)` (a lockless read of `next`) is modelled as
//!   a lockless read of the queue length word.
//! - The 2.6.22 `unix_stream_recvmsg` dequeues an skb, copies, and puts a partly read
//!   skb back at the head (`skb_queue_head`); the later peek/unlink form is not used.
//!   So, as in 2.6.22, a concurrent `unix_poll` can see an empty queue while a read of
//!   a partly consumed skb is in progress. (The digest marks this detail unverified
//!   against the exact 2.6.22 text.)
//!
//! # The externally fed socket
//!
//! [`Kernel::sys_socket_external`](crate::kernel::Kernel::sys_socket_external) makes a
//! connected stream socket whose peer is "the network" ([`Peer::Network`]). It **stands
//! in for a TCP socket and softirq receive processing**: [`Kernel::net_deliver`],
//! [`Kernel::net_shutdown`] and [`Kernel::net_error`] are meant to run inside
//! `World::interrupt(...)` handlers, so data, shutdowns and errors arrive at virtual
//! times in interrupt context, and the wake-up they issue runs `ep_poll_callback` in
//! interrupt context on whatever CPU took the interrupt — as `tcp_v4_rcv` →
//! `sk_data_ready` does from the network softirq. Differences from real TCP, all
//! deliberate: the local end keeps AF_UNIX stream semantics (poll masks, shutdown bits,
//! EPIPE); its socket lock (class `&sk->sk_lock.slock`) is taken with interrupts saved
//! in process context, standing in for `lock_sock`/`spin_lock_bh` excluding the
//! softirq (the sim has no bottom-half level); data written to it is taken by the
//! network at once — the skb is freed in the write itself, which, as a TCP ACK would
//! later, runs `sk_write_space` on the writer (a wake of its own head); there is no
//! window, retransmission or receive-memory accounting.

use std::collections::VecDeque;

use sim::waitq::{WaitEntryId, WakeFunction, WakeMode};
use sim::{Granularity, LockId, LockKind, Name, TaskState, WaitQueueId, Word};

use crate::errno::{Errno, SysResult};
use crate::kernel::{Kernel, MAX_SCHEDULE_TIMEOUT};
use crate::objects::SockId;
use crate::poll::{
    PollTable, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRBAND, POLLWRNORM,
};

pub use crate::objects::{Peer, Skb, Sock, SockType};

/// `sk_shutdown` bits.
pub const RCV_SHUTDOWN: u64 = 1;
pub const SEND_SHUTDOWN: u64 = 2;
pub const SHUTDOWN_MASK: u64 = 3;

/// `sk_state` values used by stream sockets.
pub const TCP_ESTABLISHED: u64 = 1;
pub const TCP_CLOSE: u64 = 7;

/// `sysctl_wmem_default` = `SK_WMEM_MAX` on a generic x86-64 2.6.22 (see the module
/// documentation for the derivation).
pub const SYSCTL_WMEM_DEFAULT: u64 = 112_640;
/// `sizeof(struct sk_buff)` implied by [`SYSCTL_WMEM_DEFAULT`].
pub const SIZEOF_SK_BUFF: u64 = 184;
/// `SMP_CACHE_BYTES` (`SKB_DATA_ALIGN`'s alignment).
pub const SMP_CACHE_BYTES: u64 = 128;
/// `SKB_MAX_ALLOC` = `SKB_MAX_ORDER(0, 2)`.
pub const SKB_MAX_ALLOC: usize = (4096 << 2) - 312;

/// `skb->truesize` of an skb allocated for `size` bytes of data.
pub fn skb_truesize(size: usize) -> u64 {
    (size as u64).div_ceil(SMP_CACHE_BYTES) * SMP_CACHE_BYTES + SIZEOF_SK_BUFF
}

/// `unix_writable(sk)`: at most a quarter of the send budget is in flight.
/// `wmem_alloc` is the reading of `sk->sk_wmem_alloc` itself: on 6.18 a refcount
/// that starts at 1 (see [`Kernel::sk_wmem_alloc_read`]).
pub fn unix_writable(wmem_alloc: u64, sndbuf: u64) -> bool {
    wmem_alloc << 2 <= sndbuf
}

// ---- 6.18's send-buffer accounting --------------------------------------------------------------
//
// What 6.18 charges a sender for an skb is its `truesize`: the slab object behind the skb's
// head (`kmalloc_reserve` rounds `SKB_DATA_ALIGN(header) + SKB_DATA_ALIGN(sizeof(struct
// skb_shared_info))` up to a kmalloc bucket — a power of two here, `kmalloc_large`'s page
// orders above 8 KiB), plus `SKB_DATA_ALIGN(sizeof(struct sk_buff))`, plus a whole page
// for every page of paged data (`alloc_skb_with_frags`). The sizes depend on the build;
// these are the ones of the hosts this project runs on (x86-64 Linux 6.18.44), read off
// with `ioctl(SIOCOUTQ)` (`unix_outq_len` = `sk_wmem_alloc_get`) after one write of each
// size from 0 to 212 961 bytes on a stream and a datagram socketpair (docs/difftest.md):
// every measured size matches [`skb_truesize_6_18`].

/// `net.core.wmem_default` of 6.18 (`SK_WMEM_MAX` = `SK_WMEM_DEFAULT` = 212 992 on
/// x86-64), which `sock_init_data` gives `sk_sndbuf`.
pub const SYSCTL_WMEM_DEFAULT_6_18: u64 = 212_992;
/// `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))` (320 with `MAX_SKB_FRAGS` 17).
pub const SKB_SHARED_INFO_6_18: usize = 320;
/// `SKB_DATA_ALIGN(sizeof(struct sk_buff))`.
pub const SK_BUFF_ALIGNED_6_18: u64 = 256;
/// `SMP_CACHE_BYTES` of x86-64 (`SKB_DATA_ALIGN`).
pub const SMP_CACHE_BYTES_6_18: usize = 64;
/// `SKB_MAX_HEAD(0)`: the most linear bytes in an order-0 head (4096 − 320).
pub const SKB_MAX_HEAD_0_6_18: usize = 4096 - SKB_SHARED_INFO_6_18;
/// `UNIX_SKB_FRAGS_SZ`: the paged bytes of one stream skb at most.
pub const UNIX_SKB_FRAGS_SZ: usize = 32_768;
/// `SKB_MAX_ALLOC` of 6.18 (`SKB_MAX_ORDER(0, 2)` = 16 384 − 320).
pub const SKB_MAX_ALLOC_6_18: usize = (4096 << 2) - SKB_SHARED_INFO_6_18;
/// `MAX_SKB_FRAGS` (the default 17).
pub const MAX_SKB_FRAGS: usize = 17;

/// `skb->truesize` on 6.18 of an skb with `header` linear bytes and `data_len` paged
/// bytes (`sock_alloc_send_pskb(sk, header, data_len, ...)`).
pub fn skb_truesize_6_18(header: usize, data_len: usize) -> u64 {
    let head = header.div_ceil(SMP_CACHE_BYTES_6_18) * SMP_CACHE_BYTES_6_18 + SKB_SHARED_INFO_6_18;
    let pages = data_len.div_ceil(crate::objects::PAGE_SIZE) * crate::objects::PAGE_SIZE;
    head.next_power_of_two() as u64 + SK_BUFF_ALIGNED_6_18 + pages as u64
}

/// How 6.18's `unix_stream_sendmsg` cuts the next skb from `left` bytes: (linear,
/// paged) bytes. "Keep two messages in the pipe so it schedules better" (half the send
/// buffer less 64), "allow fallback to order-0 allocations" (an order-0 head and 32 KiB
/// of pages at most).
pub fn unix_stream_skb_split_6_18(left: usize, sndbuf: u64) -> (usize, usize) {
    let size = left
        .min((sndbuf >> 1) as usize - 64)
        .min(SKB_MAX_HEAD_0_6_18 + UNIX_SKB_FRAGS_SZ);
    let paged = size.saturating_sub(SKB_MAX_HEAD_0_6_18);
    let data_len = size.min(paged.div_ceil(crate::objects::PAGE_SIZE) * crate::objects::PAGE_SIZE);
    (size - data_len, data_len)
}

/// How 6.18's `unix_dgram_sendmsg` lays out a datagram of `len` bytes: (linear, paged)
/// bytes — paged only past `SKB_MAX_ALLOC`, at most `MAX_SKB_FRAGS` pages.
pub fn unix_dgram_skb_split_6_18(len: usize) -> (usize, usize) {
    if len <= SKB_MAX_ALLOC_6_18 {
        return (len, 0);
    }
    let paged = (len - SKB_MAX_ALLOC_6_18).min(MAX_SKB_FRAGS * crate::objects::PAGE_SIZE);
    let data_len = paged.div_ceil(crate::objects::PAGE_SIZE) * crate::objects::PAGE_SIZE;
    (len - data_len, data_len)
}

/// Field offsets of a socket's shared words.
pub const SOCK_FIELDS: &[&str] = &[
    "sk_shutdown",
    "sk_err",
    "sk_state",
    "sk_wmem_alloc",
    "sk_receive_queue.qlen",
    "sk_refcnt",
];

/// The handle fields of a socket (copied out so no borrow is held across an await).
#[derive(Clone, Copy, Debug)]
pub struct SockRef {
    pub id: u64,
    pub sk_sleep: WaitQueueId,
    pub lock: LockId,
    pub readlock: LockId,
    pub rcvq_lock: LockId,
    pub words: Word,
    pub sk_sndbuf: u64,
    pub external: bool,
    pub sk_type: SockType,
}

impl SockRef {
    pub fn sk_shutdown(&self) -> Word {
        self.words
    }
    pub fn sk_err(&self) -> Word {
        self.words.offset(1)
    }
    pub fn sk_state(&self) -> Word {
        self.words.offset(2)
    }
    pub fn sk_wmem_alloc(&self) -> Word {
        self.words.offset(3)
    }
    pub fn qlen(&self) -> Word {
        self.words.offset(4)
    }
    pub fn sk_refcnt(&self) -> Word {
        self.words.offset(5)
    }
}

impl Sock {
    fn sock_ref(&self) -> SockRef {
        SockRef {
            id: self.id,
            sk_sleep: self.sk_sleep,
            lock: self.lock,
            readlock: self.readlock,
            rcvq_lock: self.rcvq_lock,
            words: self.words,
            sk_sndbuf: self.sk_sndbuf,
            external: self.external,
            sk_type: self.sk_type,
        }
    }
}

/// The mask `unix_poll` computes from the lockless state it reads.
pub fn unix_poll_mask(
    err: u64,
    shutdown: u64,
    qlen: u64,
    state: u64,
    wmem: u64,
    sndbuf: u64,
) -> u32 {
    let mut mask = 0;
    // exceptional events?
    if err != 0 {
        mask |= POLLERR;
    }
    if shutdown == SHUTDOWN_MASK {
        mask |= POLLHUP;
    }
    if shutdown & RCV_SHUTDOWN != 0 {
        mask |= POLLRDHUP;
    }
    // readable?
    if qlen != 0 || shutdown & RCV_SHUTDOWN != 0 {
        mask |= POLLIN | POLLRDNORM;
    }
    // connection-based: termination
    if state == TCP_CLOSE {
        mask |= POLLHUP;
    }
    // writable also when the other side has shut down, to avoid stuck sockets
    if unix_writable(wmem, sndbuf) {
        mask |= POLLOUT | POLLWRNORM | POLLWRBAND;
    }
    mask
}

/// The mask 6.18's `unix_dgram_poll` computes for a datagram socket of a socketpair:
/// POLLERR if `sk_err`; POLLRDHUP|POLLIN|POLLRDNORM if RCV_SHUTDOWN; POLLHUP if both
/// directions are shut; POLLIN|POLLRDNORM if the queue is non-empty; and — when the
/// poller asks for writability — POLLOUT|POLLWRNORM|POLLWRBAND if `unix_writable`.
///
/// Simplified: the second writability test (the peer is not connected back to us and
/// its receive queue is over `sk_max_ack_backlog`, `net.unix.max_dgram_qlen`) can never
/// hold for a socketpair — each end is the other's peer until it closes, and a closed
/// end's queue was purged — so it is left out, and with it the `peer_wait` relay
/// (`unix_dgram_peer_wake_me`) that only serves it. The model has no `connect(2)` that
/// could make the asymmetric association that test is for. The "no write status
/// requested" shortcut only drops bits every caller masks out anyway.
pub fn unix_dgram_poll_mask(err: u64, shutdown: u64, qlen: u64, wmem: u64, sndbuf: u64) -> u32 {
    let mut mask = 0;
    if err != 0 {
        mask |= POLLERR;
    }
    if shutdown & RCV_SHUTDOWN != 0 {
        mask |= POLLRDHUP | POLLIN | POLLRDNORM;
    }
    if shutdown == SHUTDOWN_MASK {
        mask |= POLLHUP;
    }
    if qlen != 0 {
        mask |= POLLIN | POLLRDNORM;
    }
    if unix_writable(wmem, sndbuf) {
        mask |= POLLOUT | POLLWRNORM | POLLWRBAND;
    }
    mask
}

impl<G: Granularity> Kernel<G> {
    // ---- creation and lifetime -----------------------------------------------------------

    /// `sock_create(PF_UNIX, SOCK_STREAM, 0)`: see [`Kernel::sock_create_typed`].
    pub fn sock_create(&self, external: bool) -> SysResult<SockId> {
        self.sock_create_typed(external, SockType::Stream)
    }

    /// `sock_create(PF_UNIX, type, 0)`: `sock_alloc()` (its failure is ENFILE —
    /// "not exactly a match, but the closest posix thing", says `__sock_create`), then
    /// `unix_create1` → `sk_alloc` from the `UNIX` slab (ENOMEM) and `sock_init_data`
    /// (`sk_state` TCP_CLOSE, `sk_sndbuf` = `sysctl_wmem_default`, `sk_refcnt` 1,
    /// `sk_sleep` = the socket's head). External sockets allocate from the `TCP` slab.
    /// 6.18's `sk_sndbuf` is its `wmem_default` ([`SYSCTL_WMEM_DEFAULT_6_18`]).
    pub fn sock_create_typed(&self, external: bool, sk_type: SockType) -> SysResult<SockId> {
        if self.cx.alloc_fails("sock_inode_cache") {
            return Err(Errno::ENFILE);
        }
        if self.cx.alloc_fails(if external { "TCP" } else { "UNIX" }) {
            return Err(Errno::ENOMEM);
        }
        let id = self.objects.borrow_mut().next_id();
        let cx = &self.cx;
        let (kind, lock_class) = if external {
            ("net", "&sk->sk_lock.slock")
        } else {
            ("unix", "&u->lock")
        };
        let sk_sleep =
            cx.init_waitqueue_head("&sock->wait.lock", Name::new(kind, id, "->sk_sleep"));
        let lock = cx.new_lock(LockKind::Spin, lock_class, Name::new(kind, id, "->lock"));
        let readlock = cx.new_lock(
            LockKind::Mutex,
            "&u->readlock",
            Name::new(kind, id, "->readlock"),
        );
        let rcvq_lock = cx.new_lock(
            LockKind::Spin,
            "&sk->sk_receive_queue.lock",
            Name::new(kind, id, "->sk_receive_queue.lock"),
        );
        let words = cx.alloc_words(kind, id, SOCK_FIELDS);
        let mem = &cx.state().mem;
        mem.store_sc(words.offset(2), TCP_CLOSE);
        mem.store_sc(words.offset(5), 1);
        let step = cx.step();
        Ok(self.objects.borrow_mut().socks.alloc(
            Sock {
                id,
                label: format!("{kind}{id}"),
                sk_sleep,
                dead: false,
                lock,
                readlock,
                rcvq_lock,
                words,
                sk_sndbuf: if self.version().is_modern() {
                    SYSCTL_WMEM_DEFAULT_6_18
                } else {
                    SYSCTL_WMEM_DEFAULT
                },
                sk_type,
                peer: Peer::None,
                receive_queue: VecDeque::new(),
                external,
                net_tx: Vec::new(),
            },
            step,
        ))
    }

    /// The socket's handle fields, reporting a use-after-free if it is gone.
    pub fn sock_ref(&self, sock: SockId) -> Option<SockRef> {
        let objects = self.objects.borrow();
        match objects.socks.get(sock) {
            Ok(s) => Some(s.sock_ref()),
            Err(error) => {
                drop(objects);
                self.report_stale("sock", error);
                None
            }
        }
    }

    /// The socket's label (`unix7`, `net9`).
    pub fn sock_label(&self, sock: SockId) -> String {
        self.objects
            .borrow()
            .socks
            .get(sock)
            .map(|s| s.label.clone())
            .unwrap_or_else(|_| "a freed sock".to_string())
    }

    /// `sk->sk_type` (a freed socket reads as a stream: its calls fail on the handle).
    pub fn sock_type(&self, sock: SockId) -> SockType {
        self.objects
            .borrow()
            .socks
            .get(sock)
            .map_or(SockType::Stream, |s| s.sk_type)
    }

    pub(crate) fn sock_peer(&self, sock: SockId) -> Peer {
        self.objects
            .borrow()
            .socks
            .get(sock)
            .map_or(Peer::None, |s| s.peer)
    }

    pub(crate) fn sock_dead(&self, sock: SockId) -> bool {
        self.objects
            .borrow()
            .socks
            .get(sock)
            .map_or(true, |s| s.dead)
    }

    /// `unix_socketpair(socka, sockb)`: each end holds a reference on the other and
    /// points at it; both become TCP_ESTABLISHED (and `SS_CONNECTED`). No locks: nobody
    /// else can see the sockets yet.
    pub async fn unix_socketpair(&self, a: SockId, b: SockId) {
        let (Some(ra), Some(rb)) = (self.sock_ref(a), self.sock_ref(b)) else {
            return;
        };
        self.sock_hold(&ra).await;
        self.sock_hold(&rb).await;
        {
            let mut objects = self.objects.borrow_mut();
            if let Ok(s) = objects.socks.get_mut(a) {
                s.peer = Peer::Sock(b);
            }
            if let Ok(s) = objects.socks.get_mut(b) {
                s.peer = Peer::Sock(a);
            }
        }
        self.cx.store(ra.sk_state(), TCP_ESTABLISHED).await;
        self.cx.store(rb.sk_state(), TCP_ESTABLISHED).await;
    }

    /// `sock_hold(sk)`.
    pub(crate) async fn sock_hold(&self, s: &SockRef) {
        self.cx.atomic_add_return(s.sk_refcnt(), 1).await;
    }

    /// `sock_put(sk)`: the last reference runs `sk_free`.
    pub async fn sock_put(&self, sock: SockId) {
        let Some(s) = self.sock_ref(sock) else {
            return;
        };
        if self.cx.atomic_dec_and_test(s.sk_refcnt()).await {
            self.sk_free(sock, &s).await;
        }
    }

    /// `sk_free(sk)` with `unix_sock_destructor`, whose `skb_queue_purge` finds the
    /// receive queue empty: `unix_release_sock` purged it and nothing queues onto a dead
    /// socket. A non-empty queue here would be a mistake of the port (reported as a
    /// leak). The kernel WARNs if `sk_wmem_alloc` is not zero; the model notes it.
    async fn sk_free(&self, sock: SockId, s: &SockRef) {
        let left = self
            .objects
            .borrow()
            .socks
            .get(sock)
            .map_or(0, |sk| sk.receive_queue.len());
        if left != 0 {
            self.cx.report(
                sim::ReportKind::Leak,
                format!(
                    "{left} skbs left on {} when it is freed",
                    self.sock_label(sock)
                ),
                vec![],
            );
        }
        let wmem = self.cx.load(s.sk_wmem_alloc()).await;
        if wmem != 0 {
            self.cx
                .note(|| format!("  sk_free: WARN_ON sk_wmem_alloc = {wmem}"));
        }
        self.cx
            .note(|| format!("  sk_free({})", self.sock_label(sock)));
        let step = self.cx.step();
        if let Err(error) = self.objects.borrow_mut().socks.free(sock, step) {
            self.report_stale("sock", error);
        }
        self.cx.free_words(s.words);
    }

    // ---- locks and queues ----------------------------------------------------------------

    /// `unix_state_lock(sk)` (`spin_lock(&unix_sk(sk)->lock)`). For an external socket the
    /// lock is also taken in interrupt context, so process context takes it with
    /// interrupts saved (standing in for TCP's `spin_lock_bh`); returns the flags.
    pub(crate) async fn unix_state_lock(&self, s: &SockRef) -> u64 {
        if s.external {
            self.cx.spin_lock_irqsave(s.lock).await
        } else {
            self.cx.spin_lock(s.lock).await;
            0
        }
    }

    pub(crate) async fn unix_state_unlock(&self, s: &SockRef, flags: u64) {
        if s.external {
            self.cx.spin_unlock_irqrestore(s.lock, flags).await;
        } else {
            self.cx.spin_unlock(s.lock).await;
        }
    }

    /// `skb_queue_tail(&sk->sk_receive_queue, skb)`.
    pub(crate) async fn skb_queue_tail(&self, sock: SockId, s: &SockRef, skb: Skb) {
        let cx = &self.cx;
        let flags = cx.spin_lock_irqsave(s.rcvq_lock).await;
        let qlen = cx.load(s.qlen()).await;
        if let Ok(sk) = self.objects.borrow_mut().socks.get_mut(sock) {
            sk.receive_queue.push_back(skb);
        }
        cx.store(s.qlen(), qlen + 1).await;
        cx.spin_unlock_irqrestore(s.rcvq_lock, flags).await;
    }

    /// `skb_queue_head(&sk->sk_receive_queue, skb)`: a partly read skb goes back.
    async fn skb_queue_head(&self, sock: SockId, s: &SockRef, skb: Skb) {
        let cx = &self.cx;
        let flags = cx.spin_lock_irqsave(s.rcvq_lock).await;
        let qlen = cx.load(s.qlen()).await;
        if let Ok(sk) = self.objects.borrow_mut().socks.get_mut(sock) {
            sk.receive_queue.push_front(skb);
        }
        cx.store(s.qlen(), qlen + 1).await;
        cx.spin_unlock_irqrestore(s.rcvq_lock, flags).await;
    }

    /// `skb_dequeue(&sk->sk_receive_queue)`.
    pub(crate) async fn skb_dequeue(&self, sock: SockId, s: &SockRef) -> Option<Skb> {
        let cx = &self.cx;
        let flags = cx.spin_lock_irqsave(s.rcvq_lock).await;
        let qlen = cx.load(s.qlen()).await;
        let skb = if qlen > 0 {
            let skb = self
                .objects
                .borrow_mut()
                .socks
                .get_mut(sock)
                .ok()
                .and_then(|sk| sk.receive_queue.pop_front());
            cx.store(s.qlen(), qlen - 1).await;
            skb
        } else {
            None
        };
        cx.spin_unlock_irqrestore(s.rcvq_lock, flags).await;
        skb
    }

    /// `kfree_skb(skb)`: runs the destructor, `sock_wfree`, for an owned skb.
    pub(crate) async fn kfree_skb(&self, skb: Skb) {
        if let Some(owner) = skb.owner {
            self.sock_wfree(owner, skb.truesize).await;
        }
    }

    /// `sock_wfree(skb)`: un-charge the sender's `sk_wmem_alloc`, call its
    /// `sk_write_space` (for unix sockets `unix_write_space`, on **every** free), drop
    /// the skb's reference on it.
    async fn sock_wfree(&self, owner: SockId, truesize: u64) {
        let Some(s) = self.sock_ref(owner) else {
            return;
        };
        self.cx
            .atomic_add_return(s.sk_wmem_alloc(), -(truesize as i64))
            .await;
        self.unix_write_space(owner, &s).await;
        self.sock_put(owner).await;
    }

    // ---- the default callbacks -----------------------------------------------------------

    /// `wake_up_interruptible{,_all}(sk->sk_sleep)` if the socket is not orphaned and
    /// someone waits (`sk->sk_sleep && waitqueue_active(sk->sk_sleep)`). 2.6.x wakes
    /// without a key; 6.18's callbacks pass `key` (`wake_up_interruptible_sync_poll`,
    /// `_poll`), which `ep_poll_callback` compares with an item's events. Simplified on
    /// 6.18: the head is still `sk_sleep` (6.18's `sk_wq` under RCU) and the lockless
    /// `skwq_has_sleeper` test is `waitqueue_active` as in 2.6.22 (its barrier not
    /// modelled).
    ///
    /// The lockless test is `wq_has_sleeper` on both trees in effect: 6.18 calls
    /// `skwq_has_sleeper` (`smp_mb` then `waitqueue_active`); 2.6.22 calls plain
    /// `waitqueue_active`, but inside `read_lock(&sk->sk_callback_lock)`, whose
    /// acquisition is a full barrier on x86 (`lock subl`) and SPARC (`cas` then
    /// `membar #StoreLoad`). The lock itself is not modelled (see the module notes); its
    /// barrier is.
    pub(crate) async fn sk_wake(
        &self,
        sock: SockId,
        s: &SockRef,
        all: bool,
        what: &'static str,
        key: u32,
    ) {
        if self.sock_dead(sock) || !self.cx.wq_has_sleeper(s.sk_sleep).await {
            return;
        }
        self.cx.note(|| {
            format!(
                "  {what}({}): wake_up_interruptible{}(sk->sk_sleep)",
                self.sock_label(sock),
                if all { "_all" } else { "" }
            )
        });
        self.cx
            .wake_up_with(
                self,
                s.sk_sleep,
                WakeMode::Interruptible,
                if all { 0 } else { 1 },
                if self.version() == crate::kernel::KernelVersion::V6_18 {
                    u64::from(key)
                } else {
                    0
                },
            )
            .await;
    }

    /// What `refcount_read(&sk->sk_wmem_alloc)` reads, from the model's word, which
    /// holds the bytes charged (`sk_wmem_alloc_get`). 2.6.22's `sk_wmem_alloc` is a plain
    /// count from 0; since 2.6.x's 2b85a34e911b (4.x: "net: no longer hold a refcount on
    /// sk in skb_set_owner_w") it starts at 1 and the last `sock_wfree` frees the socket,
    /// so 6.18's `unix_writable` compares the bytes charged **plus one**. The one is kept
    /// out of the word so that the word means the same on every version.
    ///
    /// Simplified: 6.18's `sock_wfree` runs `sk_write_space` while still holding one
    /// more unit (it subtracts `truesize - 1`, calls it, then subtracts the last 1), so
    /// the kernel's test there reads the charge plus two. Every charge is a multiple of
    /// 64 and a quarter of the send buffer is a multiple of 64 too, so plus one and plus
    /// two decide alike.
    pub fn sk_wmem_alloc_read(&self, charged: u64) -> u64 {
        charged + u64::from(self.version().is_modern())
    }

    /// `unix_write_space(sk)`: if `unix_writable(sk)`, wake the socket's head.
    pub(crate) async fn unix_write_space(&self, sock: SockId, s: &SockRef) {
        let wmem = self.sk_wmem_alloc_read(self.cx.load(s.sk_wmem_alloc()).await);
        if unix_writable(wmem, s.sk_sndbuf) {
            self.sk_wake(
                sock,
                s,
                false,
                "unix_write_space",
                POLLOUT | POLLWRNORM | POLLWRBAND,
            )
            .await;
        }
    }

    /// `sock_def_readable(sk, len)` (`sk_data_ready`).
    pub(crate) async fn sock_def_readable(&self, sock: SockId, s: &SockRef) {
        self.sk_wake(
            sock,
            s,
            false,
            "sock_def_readable",
            POLLIN | crate::poll::POLLPRI | POLLRDNORM | crate::poll::POLLRDBAND,
        )
        .await;
    }

    /// `sock_def_wakeup(sk)` (`sk_state_change`): wakes everyone.
    async fn sock_def_wakeup(&self, sock: SockId, s: &SockRef) {
        self.sk_wake(sock, s, true, "sock_def_wakeup", 0).await;
    }

    /// `sock_def_error_report(sk)` (`sk_error_report`).
    async fn sock_def_error_report(&self, sock: SockId, s: &SockRef) {
        self.sk_wake(sock, s, false, "sock_def_error_report", POLLERR)
            .await;
    }

    /// `sock_error(sk)`: fetch **and clear** `sk_err` (an `xchg`).
    pub(crate) async fn sock_error(&self, s: &SockRef) -> Option<Errno> {
        if self.cx.load(s.sk_err()).await == 0 {
            return None;
        }
        let err = self.cx.xchg(s.sk_err(), 0).await;
        Errno::ALL.into_iter().find(|e| e.number() as u64 == err)
    }

    // ---- waiting -------------------------------------------------------------------------

    /// `prepare_to_wait(q, &wait, TASK_INTERRUPTIBLE)`: link the entry at the head of
    /// the queue if it is not linked yet, set the task state, under the head's lock.
    pub(crate) async fn prepare_to_wait(
        &self,
        head: WaitQueueId,
        wait: WaitEntryId,
        linked: &mut bool,
    ) {
        let lock = self.cx.waitqueue_lock(head);
        let flags = self.cx.spin_lock_irqsave(lock).await;
        if !*linked {
            self.cx.add_wait_queue_locked(head, wait).await;
            *linked = true;
        }
        self.cx.set_current_state(TaskState::Interruptible).await;
        self.cx.spin_unlock_irqrestore(lock, flags).await;
    }

    /// `finish_wait(q, &wait)`.
    pub(crate) async fn finish_wait(&self, head: WaitQueueId, wait: WaitEntryId, linked: bool) {
        self.cx.set_current_state_plain(TaskState::Running).await;
        if linked {
            self.cx.remove_wait_queue(head, wait).await;
        }
        self.cx.free_wait_entry(wait);
    }

    pub(crate) fn new_task_wait_entry(&self) -> WaitEntryId {
        let task = self.cx.current().expect("socket waits run in task context");
        self.cx.new_wait_entry(WakeFunction::Default(task), false)
    }

    /// `schedule_timeout(timeo)` for the two timeouts the model has: forever, or none.
    pub(crate) async fn sock_schedule_timeout(&self, timeo: u64) -> u64 {
        if timeo == MAX_SCHEDULE_TIMEOUT {
            self.cx.schedule().await;
            timeo
        } else {
            self.cx.schedule_timeout(timeo).await
        }
    }

    /// `unix_stream_data_wait(sk, timeo)`: under `unix_state_lock`, loop
    /// { `prepare_to_wait`; stop if the queue is non-empty, `sk_err`, RCV_SHUTDOWN, a
    /// signal or no time left; unlock; `schedule_timeout`; relock }; `finish_wait`.
    async fn unix_stream_data_wait(&self, s: &SockRef, mut timeo: u64) -> u64 {
        let cx = &self.cx;
        let wait = self.new_task_wait_entry();
        let mut linked = false;
        let mut flags = self.unix_state_lock(s).await;
        loop {
            self.prepare_to_wait(s.sk_sleep, wait, &mut linked).await;
            if cx.load(s.qlen()).await != 0
                || cx.load(s.sk_err()).await != 0
                || cx.load(s.sk_shutdown()).await & RCV_SHUTDOWN != 0
                || cx.signal_pending()
                || timeo == 0
            {
                break;
            }
            self.unix_state_unlock(s, flags).await;
            timeo = self.sock_schedule_timeout(timeo).await;
            flags = self.unix_state_lock(s).await;
        }
        self.finish_wait(s.sk_sleep, wait, linked).await;
        self.unix_state_unlock(s, flags).await;
        timeo
    }

    /// `sock_wait_for_wmem(sk, timeo)`: wait on `sk_sleep` until `sk_wmem_alloc <
    /// sk_sndbuf`, SEND_SHUTDOWN, `sk_err`, a signal or the timeout. No socket lock.
    async fn sock_wait_for_wmem(&self, s: &SockRef, mut timeo: u64) -> u64 {
        let cx = &self.cx;
        let wait = self.new_task_wait_entry();
        let mut linked = false;
        loop {
            if timeo == 0 || cx.signal_pending() {
                break;
            }
            self.prepare_to_wait(s.sk_sleep, wait, &mut linked).await;
            if cx.load(s.sk_wmem_alloc()).await < s.sk_sndbuf
                || cx.load(s.sk_shutdown()).await & SEND_SHUTDOWN != 0
                || cx.load(s.sk_err()).await != 0
            {
                break;
            }
            timeo = self.sock_schedule_timeout(timeo).await;
        }
        self.finish_wait(s.sk_sleep, wait, linked).await;
        timeo
    }

    /// `sock_alloc_send_skb(sk, size, noblock)` → `sock_alloc_send_pskb`: loop
    /// { `sock_error` (fetch-and-clear) fails; SEND_SHUTDOWN is EPIPE; if
    /// `sk_wmem_alloc < sk_sndbuf` allocate (ENOBUFS on failure, slab
    /// `skbuff_head_cache`) and charge it with `skb_set_owner_w` (`sock_hold` +
    /// `sk_wmem_alloc += truesize`); else EAGAIN without a timeout, EINTR on a signal,
    /// or `sock_wait_for_wmem` }.
    pub(crate) async fn sock_alloc_send_skb(
        &self,
        sock: SockId,
        s: &SockRef,
        data: &[u8],
        truesize: u64,
        nonblock: bool,
    ) -> SysResult<Skb> {
        let cx = &self.cx;
        let mut timeo = if nonblock { 0 } else { MAX_SCHEDULE_TIMEOUT };
        loop {
            if let Some(err) = self.sock_error(s).await {
                return Err(err);
            }
            if cx.load(s.sk_shutdown()).await & SEND_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
            if cx.load(s.sk_wmem_alloc()).await < s.sk_sndbuf {
                if cx.alloc_fails("skbuff_head_cache") {
                    return Err(Errno::ENOBUFS);
                }
                let skb = Skb {
                    data: data.to_vec(),
                    truesize,
                    owner: Some(sock),
                };
                self.sock_hold(s).await;
                cx.atomic_add_return(s.sk_wmem_alloc(), skb.truesize as i64)
                    .await;
                return Ok(skb);
            }
            if timeo == 0 {
                return Err(Errno::EAGAIN);
            }
            if cx.signal_pending() {
                return Err(Errno::EINTR);
            }
            timeo = self.sock_wait_for_wmem(s, timeo).await;
        }
    }

    // ---- poll ----------------------------------------------------------------------------

    /// `sock_poll` → `unix_poll(file, sock, wait)`: `poll_wait` on `sk_sleep`, then,
    /// from lockless reads: POLLERR if `sk_err`; POLLHUP if both directions are shut;
    /// POLLRDHUP if RCV_SHUTDOWN; POLLIN|POLLRDNORM if the queue is non-empty or
    /// RCV_SHUTDOWN; POLLHUP if TCP_CLOSE; POLLOUT|POLLWRNORM|POLLWRBAND if
    /// `unix_writable` — also after the peer shut down, "to avoid stuck sockets".
    pub async fn unix_poll(&self, sock: SockId, pt: PollTable) -> u32 {
        let Some(s) = self.sock_ref(sock) else {
            return 0;
        };
        self.poll_wait(s.sk_sleep, pt).await;
        let cx = &self.cx;
        if self.version() == crate::kernel::KernelVersion::V6_18 && pt != PollTable::Null {
            // sock_poll_wait(): poll_wait then smp_mb(), "paired in the wq_has_sleeper"
            // (2.6.31's a57de0b4 added it; 2.6.22's unix_poll has a bare poll_wait).
            cx.smp_mb().await;
        }
        let err = cx.load(s.sk_err()).await;
        let shutdown = cx.load(s.sk_shutdown()).await;
        let qlen = cx.load(s.qlen()).await;
        let state = cx.load(s.sk_state()).await;
        let wmem = self.sk_wmem_alloc_read(cx.load(s.sk_wmem_alloc()).await);
        match s.sk_type {
            SockType::Stream => unix_poll_mask(err, shutdown, qlen, state, wmem, s.sk_sndbuf),
            SockType::Dgram => unix_dgram_poll_mask(err, shutdown, qlen, wmem, s.sk_sndbuf),
        }
    }

    /// `unix_poll` without steps, for checkers.
    pub fn unix_poll_peek(&self, sock: SockId) -> u32 {
        let Ok((words, sndbuf, sk_type)) = self
            .objects
            .borrow()
            .socks
            .get(sock)
            .map(|s| (s.words, s.sk_sndbuf, s.sk_type))
        else {
            return 0;
        };
        let cx = &self.cx;
        let wmem = self.sk_wmem_alloc_read(cx.peek(words.offset(3)));
        match sk_type {
            SockType::Stream => unix_poll_mask(
                cx.peek(words.offset(1)),
                cx.peek(words),
                cx.peek(words.offset(4)),
                cx.peek(words.offset(2)),
                wmem,
                sndbuf,
            ),
            SockType::Dgram => unix_dgram_poll_mask(
                cx.peek(words.offset(1)),
                cx.peek(words),
                cx.peek(words.offset(4)),
                wmem,
                sndbuf,
            ),
        }
    }

    // ---- send and receive ----------------------------------------------------------------

    /// `sock_aio_write` → `unix_stream_sendmsg(sock, msg, len)` for `write(2)`
    /// (`MSG_DONTWAIT` iff the file is O_NONBLOCK). A zero-length write returns 0 first
    /// ("match SYS5 behaviour") on 2.6.22, not on 6.18. No peer is ENOTCONN (unreachable for a socketpair end:
    /// only its own release clears the pointer); own SEND_SHUTDOWN is EPIPE. Then per
    /// chunk: `sock_alloc_send_skb` (may block or fail: EAGAIN, EPIPE, ENOBUFS, EINTR, a
    /// pending `sk_err`); lock the peer; a dead peer or one with RCV_SHUTDOWN is EPIPE;
    /// `skb_queue_tail` on the peer's queue; unlock; `sk_data_ready(peer)` wakes the
    /// peer's head. An error after a partial send returns the bytes sent. SIGPIPE is not
    /// delivered (see the module documentation).
    pub async fn unix_stream_sendmsg(
        &self,
        sock: SockId,
        data: &[u8],
        nonblock: bool,
    ) -> SysResult<usize> {
        // 2.6.22's sock_aio_write returns 0 for an empty write before the protocol is
        // asked; 6.18's sock_write_iter has no such test (only sock_read_iter does), so
        // an empty write reaches unix_stream_sendmsg's checks (ENOTCONN, EPIPE) and its
        // loop sends nothing (found by `epsim difftest`).
        if data.is_empty() && self.version() != crate::kernel::KernelVersion::V6_18 {
            return Ok(0);
        }
        let s = self.sock_ref(sock).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        let other = self.sock_peer(sock);
        if other == Peer::None {
            return Err(Errno::ENOTCONN);
        }
        if cx.load(s.sk_shutdown()).await & SEND_SHUTDOWN != 0 {
            return Err(Errno::EPIPE);
        }
        let mut sent = 0;
        let chunk_max = ((s.sk_sndbuf >> 1) - 64) as usize;
        let modern = self.version().is_modern();
        while sent < data.len() {
            let (size, truesize) = if modern {
                let (header, data_len) = unix_stream_skb_split_6_18(data.len() - sent, s.sk_sndbuf);
                (header + data_len, skb_truesize_6_18(header, data_len))
            } else {
                let size = (data.len() - sent).min(chunk_max).min(SKB_MAX_ALLOC);
                (size, skb_truesize(size))
            };
            let skb = match self
                .sock_alloc_send_skb(sock, &s, &data[sent..sent + size], truesize, nonblock)
                .await
            {
                Ok(skb) => skb,
                Err(errno) if sent == 0 => return Err(errno),
                Err(_) => return Ok(sent),
            };
            match other {
                Peer::Sock(peer) => {
                    let Some(o) = self.sock_ref(peer) else {
                        return Err(Errno::EPIPE);
                    };
                    let flags = self.unix_state_lock(&o).await;
                    if self.sock_dead(peer) || cx.load(o.sk_shutdown()).await & RCV_SHUTDOWN != 0 {
                        self.unix_state_unlock(&o, flags).await;
                        self.kfree_skb(skb).await;
                        return if sent == 0 {
                            Err(Errno::EPIPE)
                        } else {
                            Ok(sent)
                        };
                    }
                    cx.note(|| {
                        format!(
                            "  unix_stream_sendmsg: {size} bytes queued on {}",
                            self.sock_label(peer)
                        )
                    });
                    self.skb_queue_tail(peer, &o, skb).await;
                    self.unix_state_unlock(&o, flags).await;
                    self.sock_def_readable(peer, &o).await;
                }
                Peer::Network => self.net_xmit(sock, skb).await,
                Peer::None => unreachable!("checked above"),
            }
            sent += size;
        }
        Ok(sent)
    }

    /// `sock_aio_read` → `unix_stream_recvmsg(sock, msg, size, flags)` for `read(2)`.
    /// Zero-length reads return 0 first. Not TCP_ESTABLISHED is EINVAL. Under
    /// `u->readlock`: loop while bytes are wanted { `skb_dequeue`; if none: stop once
    /// something was copied; `sock_error` (fetch-and-clear) is returned; RCV_SHUTDOWN
    /// is EOF (0); EAGAIN when non-blocking; else drop the readlock,
    /// `unix_stream_data_wait`, EINTR on a signal, retake it. Else copy from the skb; a
    /// partly read skb goes back to the head and the read stops; a consumed skb is
    /// freed, which un-charges the **sender** and may wake its head
    /// (`unix_write_space`) }. Returns the bytes copied, else the error.
    pub async fn unix_stream_recvmsg(
        &self,
        sock: SockId,
        size: usize,
        nonblock: bool,
    ) -> SysResult<Vec<u8>> {
        if size == 0 {
            return Ok(Vec::new());
        }
        let s = self.sock_ref(sock).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        if cx.load(s.sk_state()).await != TCP_ESTABLISHED {
            return Err(Errno::EINVAL);
        }
        let target = 1;
        let mut timeo = if nonblock { 0 } else { MAX_SCHEDULE_TIMEOUT };
        let mut copied: Vec<u8> = Vec::new();
        let mut err = None;
        cx.mutex_lock(s.readlock).await;
        loop {
            let Some(mut skb) = self.skb_dequeue(sock, &s).await else {
                if copied.len() >= target {
                    break;
                }
                // POSIX 1003.1g mandates this order.
                if let Some(e) = self.sock_error(&s).await {
                    err = Some(e);
                    break;
                }
                if cx.load(s.sk_shutdown()).await & RCV_SHUTDOWN != 0 {
                    break;
                }
                err = Some(Errno::EAGAIN);
                if timeo == 0 {
                    break;
                }
                cx.mutex_unlock(s.readlock).await;
                timeo = self.unix_stream_data_wait(&s, timeo).await;
                if cx.signal_pending() {
                    // sock_intr_errno(timeo); "goto out": the readlock is not held.
                    return Err(Errno::EINTR);
                }
                cx.mutex_lock(s.readlock).await;
                continue;
            };
            let chunk = skb.data.len().min(size - copied.len());
            copied.extend(skb.data.drain(..chunk));
            if !skb.data.is_empty() {
                self.skb_queue_head(sock, &s, skb).await;
                break;
            }
            self.kfree_skb(skb).await;
            if copied.len() == size {
                break;
            }
        }
        cx.mutex_unlock(s.readlock).await;
        match err {
            Some(errno) if copied.is_empty() => Err(errno),
            _ => Ok(copied),
        }
    }

    // ---- shutdown and release ------------------------------------------------------------

    /// `unix_shutdown(sock, how)`: `mode = (how + 1) & 3` (SHUT_RD → RCV_SHUTDOWN,
    /// SHUT_WR → SEND_SHUTDOWN, SHUT_RDWR → both; 2.6.22 has no EINVAL for other
    /// values, they fold into 0..3, and 0 does nothing). Under the own lock set the bits
    /// and take a reference on the peer; `sk_state_change` wakes **all** on the own
    /// head; then under the peer's lock set the mirrored bits (RCV ⇄ SEND) and wake all
    /// on the peer's head. Returns 0 — on 2.6.22; 6.18's `unix_shutdown` first refuses a
    /// `how` outside `SHUT_RD..=SHUT_RDWR` with EINVAL (found by `epsim difftest`).
    pub async fn unix_shutdown(&self, sock: SockId, how: i32) -> SysResult<()> {
        if self.version() == crate::kernel::KernelVersion::V6_18 && !(0..=2).contains(&how) {
            return Err(Errno::EINVAL);
        }
        let mode = (how.wrapping_add(1) & 3) as u64;
        if mode == 0 {
            return Ok(());
        }
        let s = self.sock_ref(sock).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        cx.note(|| format!("unix_shutdown({}, mode {mode})", self.sock_label(sock)));
        let flags = self.unix_state_lock(&s).await;
        let shutdown = cx.load(s.sk_shutdown()).await;
        cx.store(s.sk_shutdown(), shutdown | mode).await;
        let other = self.sock_peer(sock);
        let o = match other {
            Peer::Sock(peer) => match self.sock_ref(peer) {
                Some(o) => {
                    self.sock_hold(&o).await;
                    Some((peer, o))
                }
                None => None,
            },
            _ => None,
        };
        self.unix_state_unlock(&s, flags).await;
        self.sock_def_wakeup(sock, &s).await;
        let mut peer_mode = 0;
        if mode & RCV_SHUTDOWN != 0 {
            peer_mode |= SEND_SHUTDOWN;
        }
        if mode & SEND_SHUTDOWN != 0 {
            peer_mode |= RCV_SHUTDOWN;
        }
        if let Some((peer, o)) = o {
            if s.sk_type == SockType::Dgram {
                // "other && (sk->sk_type == SOCK_STREAM || SOCK_SEQPACKET)": a
                // datagram peer keeps its own bits.
                self.sock_put(peer).await;
                return Ok(());
            }
            let flags = self.unix_state_lock(&o).await;
            let shutdown = cx.load(o.sk_shutdown()).await;
            cx.store(o.sk_shutdown(), shutdown | peer_mode).await;
            self.unix_state_unlock(&o, flags).await;
            self.sock_def_wakeup(peer, &o).await;
            self.sock_put(peer).await;
        } else if other == Peer::Network {
            cx.note(|| format!("  the network sees shutdown mode {peer_mode}"));
        }
        Ok(())
    }

    /// `sock_close` → `sock_release` → `unix_release` → `unix_release_sock(sk, 0)`: the
    /// last close of one end (after `__fput`'s `eventpoll_release`). Under the own lock:
    /// orphan (`SOCK_DEAD`, `sk_sleep = NULL`), `sk_shutdown = SHUTDOWN_MASK`, state
    /// TCP_CLOSE. Then, for a peer: under its lock `sk_shutdown = SHUTDOWN_MASK`, and
    /// `sk_err = ECONNRESET` if this end still had unread data; `sk_state_change(peer)`
    /// wakes all on the peer's head; drop the reference and the pointer. Then purge the
    /// own receive queue — each freed skb was sent by the peer, so `unix_write_space`
    /// may wake the peer's head again — and drop the own reference.
    pub async fn unix_release_sock(&self, sock: SockId) {
        let Some(s) = self.sock_ref(sock) else {
            return;
        };
        let cx = &self.cx;
        cx.note(|| format!("unix_release_sock({})", self.sock_label(sock)));
        let flags = self.unix_state_lock(&s).await;
        if let Ok(sk) = self.objects.borrow_mut().socks.get_mut(sock) {
            sk.dead = true;
        }
        cx.store(s.sk_shutdown(), SHUTDOWN_MASK).await;
        cx.store(s.sk_state(), TCP_CLOSE).await;
        self.unix_state_unlock(&s, flags).await;
        let skpair = self.sock_peer(sock);
        match skpair {
            Peer::Sock(peer) if s.sk_type == SockType::Dgram => {
                // Only connection-based peers are told (shutdown bits, ECONNRESET, a
                // state change); a datagram peer learns of it on its next send
                // (ECONNREFUSED, `unix_dgram_sendmsg`).
                self.sock_put(peer).await;
            }
            Peer::Sock(peer) => {
                if let Some(o) = self.sock_ref(peer) {
                    let flags = self.unix_state_lock(&o).await;
                    cx.store(o.sk_shutdown(), SHUTDOWN_MASK).await;
                    if cx.load(s.qlen()).await != 0 {
                        cx.note(|| "  unread data is lost: the peer gets ECONNRESET".to_string());
                        cx.store(o.sk_err(), Errno::ECONNRESET.number() as u64)
                            .await;
                    }
                    self.unix_state_unlock(&o, flags).await;
                    self.sock_def_wakeup(peer, &o).await;
                    self.sock_put(peer).await;
                }
            }
            Peer::Network => cx.note(|| "  the network sees the connection closed".to_string()),
            Peer::None => {}
        }
        if let Ok(sk) = self.objects.borrow_mut().socks.get_mut(sock) {
            sk.peer = Peer::None;
        }
        while let Some(skb) = self.skb_dequeue(sock, &s).await {
            self.kfree_skb(skb).await;
        }
        self.sock_put(sock).await;
    }

    // ---- the externally fed socket -------------------------------------------------------

    /// The `index`-th socket made by `sys_socket_external` in this run (0-based), for
    /// interrupt handlers to address. `None` if it does not exist (yet).
    pub fn external_socket(&self, index: usize) -> Option<SockId> {
        self.objects.borrow().external_socks.get(index).copied()
    }

    /// The bytes the network has taken from an external socket so far.
    pub fn net_sent(&self, sock: SockId) -> Vec<u8> {
        self.objects
            .borrow()
            .socks
            .get(sock)
            .map(|s| s.net_tx.clone())
            .unwrap_or_default()
    }

    /// The network takes a written skb at once: its bytes are recorded and the skb is
    /// freed (`sock_wfree` → `unix_write_space` on the writer, as a TCP ACK would do
    /// later from softirq).
    async fn net_xmit(&self, sock: SockId, skb: Skb) {
        if let Ok(s) = self.objects.borrow_mut().socks.get_mut(sock) {
            s.net_tx.extend_from_slice(&skb.data);
        }
        let len = skb.data.len();
        self.cx
            .note(|| format!("  net_xmit: the network takes {len} bytes"));
        self.kfree_skb(skb).await;
    }

    /// The live, external socket behind `sock`, or `None` (a stale handle means the
    /// socket was closed: the network finds nothing, as a lookup in the socket hash
    /// would).
    fn net_lookup(&self, sock: SockId) -> Option<SockRef> {
        let objects = self.objects.borrow();
        let s = objects.socks.get(sock).ok()?;
        if !s.external {
            return None;
        }
        Some(s.sock_ref())
    }

    /// Data arriving from the network on an external socket: **stands in for softirq
    /// receive processing** (`tcp_v4_rcv` → queue → `sk_data_ready`). Meant to run in a
    /// `World::interrupt` handler, so the wake-up — and `ep_poll_callback` — runs in
    /// interrupt context. Allocates an skb (`skbuff_head_cache`, GFP_ATOMIC: a failure
    /// drops the data), takes the socket lock, drops the data if the socket is closed or
    /// has RCV_SHUTDOWN (an AF_UNIX sender would get EPIPE), queues it as one skb,
    /// unlocks and calls `sock_def_readable`. Returns whether the data was queued.
    pub async fn net_deliver(&self, sock: SockId, data: &[u8]) -> bool {
        let cx = &self.cx;
        let Some(s) = self.net_lookup(sock) else {
            cx.note(|| "net_deliver: no such socket; dropped".to_string());
            return false;
        };
        cx.note(|| {
            format!(
                "net_deliver({}, {} bytes){}",
                self.sock_label(sock),
                data.len(),
                if cx.in_interrupt() {
                    " in interrupt context"
                } else {
                    ""
                }
            )
        });
        if data.is_empty() {
            return false;
        }
        if cx.alloc_fails("skbuff_head_cache") {
            cx.note(|| "  skb allocation failed: dropped".to_string());
            return false;
        }
        let flags = self.unix_state_lock(&s).await;
        if self.sock_dead(sock) || cx.load(s.sk_shutdown()).await & RCV_SHUTDOWN != 0 {
            self.unix_state_unlock(&s, flags).await;
            cx.note(|| "  the socket no longer receives: dropped".to_string());
            return false;
        }
        let skb = Skb {
            data: data.to_vec(),
            truesize: skb_truesize(data.len()),
            owner: None,
        };
        self.skb_queue_tail(sock, &s, skb).await;
        self.unix_state_unlock(&s, flags).await;
        self.sock_def_readable(sock, &s).await;
        true
    }

    /// The remote end shuts down direction(s) `how` (SHUT_WR: a FIN; SHUT_RDWR: it is
    /// gone): the local socket gets the mirrored bits under its lock, as `unix_shutdown`
    /// gives a peer, and `sk_state_change` wakes all on its head. Interrupt context, like
    /// [`Kernel::net_deliver`]. Returns whether a socket was found.
    pub async fn net_shutdown(&self, sock: SockId, how: i32) -> bool {
        let cx = &self.cx;
        let Some(s) = self.net_lookup(sock) else {
            return false;
        };
        let mode = (how.wrapping_add(1) & 3) as u64;
        let mut peer_mode = 0;
        if mode & RCV_SHUTDOWN != 0 {
            peer_mode |= SEND_SHUTDOWN;
        }
        if mode & SEND_SHUTDOWN != 0 {
            peer_mode |= RCV_SHUTDOWN;
        }
        cx.note(|| format!("net_shutdown({}, mode {peer_mode})", self.sock_label(sock)));
        if peer_mode == 0 {
            return true;
        }
        let flags = self.unix_state_lock(&s).await;
        let shutdown = cx.load(s.sk_shutdown()).await;
        cx.store(s.sk_shutdown(), shutdown | peer_mode).await;
        self.unix_state_unlock(&s, flags).await;
        self.sock_def_wakeup(sock, &s).await;
        true
    }

    /// An error reported by the network (e.g. ECONNRESET for a reset): `sk_err` is set
    /// under the socket lock and `sk_error_report` wakes the head. Interrupt context.
    /// The next read (once the queue is empty) or write fetches and clears it.
    pub async fn net_error(&self, sock: SockId, errno: Errno) -> bool {
        let cx = &self.cx;
        let Some(s) = self.net_lookup(sock) else {
            return false;
        };
        cx.note(|| format!("net_error({}, {errno})", self.sock_label(sock)));
        let flags = self.unix_state_lock(&s).await;
        cx.store(s.sk_err(), errno.number() as u64).await;
        self.unix_state_unlock(&s, flags).await;
        self.sock_def_error_report(sock, &s).await;
        true
    }
}
