//! AF_UNIX datagram socketpairs (`socketpair(AF_UNIX, SOCK_DGRAM, 0, sv)`) as
//! net/unix/af_unix.c of v6.18 has them: `unix_dgram_sendmsg`, `__unix_dgram_recvmsg`
//! (with net/core/datagram.c's `__skb_try_recv_datagram` and
//! `__skb_wait_for_more_packets`); `unix_dgram_poll` is
//! [`crate::socket::unix_dgram_poll_mask`], and creation, shutdown and release are
//! [`crate::socket`]'s, which switch on `sk_type` where 6.18 does.
//!
//! A datagram is one skb on the peer's receive queue, charged (its `truesize`,
//! [`crate::socket::skb_truesize_6_18`]) to the sender until it is read, as stream
//! data is; unlike a stream, a read takes at most one datagram and discards what does
//! not fit (`MSG_TRUNC`), an empty write queues an empty datagram, and a closed peer is
//! not announced: the survivor's next send fails with ECONNREFUSED, which also
//! disconnects it (`unix_peer(sk) = NULL`, TCP_CLOSE, its own unread datagrams purged:
//! `unix_dgram_disconnected`), and every send after that with ENOTCONN.
//!
//! Datagram sockets are modelled on 6.18 only: the scenario language refuses
//! `socketpair(SOCK_DGRAM)` on the older versions (their af_unix.c is not ported).
//!
//! Simplifications (beyond [`crate::socket`]'s): `peer_wait` and its wake-ups are not
//! modelled (only senders blocked on a peer's full queue wait there, which a socketpair
//! never has, see [`crate::socket::unix_dgram_poll_mask`]); `__skb_wait_for_more_packets`'
//! "did the queue's tail move" test is "is the queue non-empty", the same for one reader.

use sim::waitq::WakeFunction;
use sim::{Granularity, TaskState};

use crate::errno::{Errno, SysResult};
use crate::kernel::{Kernel, MAX_SCHEDULE_TIMEOUT};
use crate::objects::SockId;
use crate::poll::{POLLOUT, POLLWRBAND, POLLWRNORM};
use crate::socket::{
    skb_truesize_6_18, unix_dgram_skb_split_6_18, Peer, SockRef, RCV_SHUTDOWN, TCP_CLOSE,
};

/// What one sleep of `__skb_wait_for_more_packets` ended with.
enum Waited {
    /// Look at the queue again.
    Again,
    /// RCV_SHUTDOWN: the read returns 0.
    Eof,
    Failed(Errno),
}

impl<G: Granularity> Kernel<G> {
    /// `unix_dgram_sendmsg(sock, msg, len)` for `write(2)` on a socketpair end, in
    /// 6.18's order: a datagram over `sk_sndbuf - 32` bytes is EMSGSIZE; then
    /// `sock_alloc_send_pskb` (a pending `sk_err`, SEND_SHUTDOWN: EPIPE, no room:
    /// EAGAIN or a wait); no peer: ENOTCONN; under the peer's lock a dead peer
    /// disconnects us (ECONNREFUSED), a peer with RCV_SHUTDOWN is EPIPE; else the skb
    /// is queued on the peer and `sk_data_ready` wakes it. Returns `len`.
    pub async fn unix_dgram_sendmsg(
        &self,
        sock: SockId,
        data: &[u8],
        nonblock: bool,
    ) -> SysResult<usize> {
        let s = self.sock_ref(sock).ok_or(Errno::EBADF)?;
        if data.len() as u64 > s.sk_sndbuf - 32 {
            return Err(Errno::EMSGSIZE);
        }
        let (header, data_len) = unix_dgram_skb_split_6_18(data.len());
        let truesize = skb_truesize_6_18(header, data_len);
        let skb = self
            .sock_alloc_send_skb(sock, &s, data, truesize, nonblock)
            .await?;
        // unix_peer_get(sk), under the own lock.
        let flags = self.unix_state_lock(&s).await;
        let other = self.sock_peer(sock);
        let other = match other {
            Peer::Sock(peer) => self.sock_ref(peer).map(|o| (peer, o)),
            Peer::None | Peer::Network => None,
        };
        if let Some((_, o)) = &other {
            self.sock_hold(o).await;
        }
        self.unix_state_unlock(&s, flags).await;
        let Some((peer, o)) = other else {
            self.kfree_skb(skb).await;
            return Err(Errno::ENOTCONN);
        };
        let cx = &self.cx;
        let flags = self.unix_state_lock(&o).await;
        if self.sock_dead(peer) {
            self.unix_state_unlock(&o, flags).await;
            self.unix_dgram_peer_gone(sock, &s, peer).await;
            self.sock_put(peer).await;
            self.kfree_skb(skb).await;
            return Err(Errno::ECONNREFUSED);
        }
        if cx.load(o.sk_shutdown()).await & RCV_SHUTDOWN != 0 {
            self.unix_state_unlock(&o, flags).await;
            self.sock_put(peer).await;
            self.kfree_skb(skb).await;
            return Err(Errno::EPIPE);
        }
        let len = data.len();
        cx.note(|| {
            format!(
                "  unix_dgram_sendmsg: a datagram of {len} bytes queued on {}",
                self.sock_label(peer)
            )
        });
        self.skb_queue_tail(peer, &o, skb).await;
        self.unix_state_unlock(&o, flags).await;
        self.sock_def_readable(peer, &o).await;
        self.sock_put(peer).await;
        Ok(len)
    }

    /// The dead-peer branch of `unix_dgram_sendmsg` ("Check with 1003.1g - what should
    /// datagram error"): under the own lock, if `unix_peer(sk)` is still the dead peer,
    /// forget it, wake the own head with POLLOUT (`unix_dgram_peer_wake_disconnect_wakeup`),
    /// TCP_CLOSE; then `unix_dgram_disconnected` purges the own receive queue (datagrams
    /// from the old peer) and `unix_peer`'s reference is dropped.
    async fn unix_dgram_peer_gone(&self, sock: SockId, s: &SockRef, peer: SockId) {
        let cx = &self.cx;
        let flags = self.unix_state_lock(s).await;
        if self.sock_peer(sock) != Peer::Sock(peer) {
            self.unix_state_unlock(s, flags).await;
            return;
        }
        if let Ok(sk) = self.objects.borrow_mut().socks.get_mut(sock) {
            sk.peer = Peer::None;
        }
        cx.note(|| {
            format!(
                "  {}: the peer is dead: disconnected",
                self.sock_label(sock)
            )
        });
        // wake_up_interruptible_poll(sk_sleep(sk), ...): an unconditional wake-up; the
        // model's sk_wake tests for sleepers first, which finds the same entries.
        self.sk_wake(
            sock,
            s,
            false,
            "unix_dgram_peer_wake_disconnect_wakeup",
            POLLOUT | POLLWRNORM | POLLWRBAND,
        )
        .await;
        cx.store(s.sk_state(), TCP_CLOSE).await;
        self.unix_state_unlock(s, flags).await;
        // unix_dgram_disconnected(sk, other): the other is dead, so no ECONNRESET for it.
        while let Some(skb) = self.skb_dequeue(sock, s).await {
            self.kfree_skb(skb).await;
        }
        self.sock_put(peer).await;
    }

    /// `__unix_dgram_recvmsg(sk, msg, size, flags)` for `read(2)` (a zero-length read
    /// returns 0 before, in `sock_read_iter`). Under `u->iolock`:
    /// `__skb_try_recv_datagram` — a pending `sk_err` is returned (fetch-and-clear)
    /// **before** the queue is looked at, then one skb is dequeued, else EAGAIN; a
    /// blocking reader sleeps (`__skb_wait_for_more_packets`) and tries again, and reads
    /// 0 once RCV_SHUTDOWN is set — a non-blocking one gets EAGAIN even then (only
    /// SOCK_SEQPACKET turns that into EOF). The datagram's first `size` bytes are
    /// returned, the rest discarded; freeing the skb un-charges the sender
    /// (`unix_write_space`).
    pub async fn unix_dgram_recvmsg(
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
        let mut timeo = if nonblock { 0 } else { MAX_SCHEDULE_TIMEOUT };
        let skb = loop {
            cx.mutex_lock(s.readlock).await;
            if let Some(errno) = self.sock_error(&s).await {
                cx.mutex_unlock(s.readlock).await;
                return Err(errno);
            }
            if let Some(skb) = self.skb_dequeue(sock, &s).await {
                break skb;
            }
            cx.mutex_unlock(s.readlock).await;
            if timeo == 0 {
                return Err(Errno::EAGAIN);
            }
            match self.skb_wait_for_more_packets(&s, &mut timeo).await {
                Waited::Again => {}
                Waited::Eof => return Ok(Vec::new()),
                Waited::Failed(errno) => return Err(errno),
            }
        };
        let taken = skb.data.len().min(size);
        let bytes = skb.data[..taken].to_vec();
        self.kfree_skb(skb).await;
        cx.mutex_unlock(s.readlock).await;
        Ok(bytes)
    }

    /// `__skb_wait_for_more_packets(sk, queue, err, timeo, last)`: an exclusive sleep on
    /// `sk_sleep` (`prepare_to_wait_exclusive`: at the tail), unless an error (fetched),
    /// data, RCV_SHUTDOWN or a signal is there already.
    async fn skb_wait_for_more_packets(&self, s: &SockRef, timeo: &mut u64) -> Waited {
        let cx = &self.cx;
        let task = cx.current().expect("socket reads run in task context");
        let wait = cx.new_wait_entry(WakeFunction::Default(task), true);
        let lock = cx.waitqueue_lock(s.sk_sleep);
        let flags = cx.spin_lock_irqsave(lock).await;
        cx.add_wait_queue_tail_locked(s.sk_sleep, wait).await;
        cx.set_current_state(TaskState::Interruptible).await;
        cx.spin_unlock_irqrestore(lock, flags).await;
        let waited = if let Some(errno) = self.sock_error(s).await {
            Waited::Failed(errno)
        } else if cx.load(s.qlen()).await != 0 {
            Waited::Again
        } else if cx.load(s.sk_shutdown()).await & RCV_SHUTDOWN != 0 {
            Waited::Eof
        } else if cx.signal_pending() {
            Waited::Failed(Errno::EINTR)
        } else {
            *timeo = self.sock_schedule_timeout(*timeo).await;
            Waited::Again
        };
        self.finish_wait(s.sk_sleep, wait, true).await;
        waited
    }
}
