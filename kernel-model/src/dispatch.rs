//! What the lower layers of the model call above them, gathered in one place: the calls
//! the kernel makes through function pointers — `file->f_op->poll/read/write/release`, the
//! poll table's `_qproc` (`poll_wait`), a wait entry's `func` — and the one direct call
//! from the VFS into eventpoll.c (`eventpoll_release`, an inline of
//! `include/linux/eventpoll.h`), each switched on the file's kind and the tree's version.
//!
//! Every other module names only modules below it (the layer table in
//! `tests/layers.rs`); a file kind or the VFS that needs the code above it calls one of
//! these functions, as kernel code calls through `f_op` without including the file that
//! fills it in. Nothing here does work of its own: each function picks the version's or
//! the kind's function and awaits it.

use sim::waitq::{WaitEntryId, WakeMode};
use sim::{Cx, Granularity, WaitQueueId, WakeCallbacks};

use crate::errno::{Errno, SysResult};
use crate::kernel::{
    decode_handle, Counters, EpollFileSource, Kernel, KernelVersion, CALLBACK_EP_POLL,
    CALLBACK_POLLWAKE,
};
use crate::objects::{EventPollId, FileId, FileKind, PipeId, SockType, O_NONBLOCK};
use crate::poll::{PollTable, POLLIN, POLLRDNORM};
use crate::user::UserEvents;

impl<G: Granularity> Kernel<G> {
    /// `eventpoll_release(file)`'s slow path, `eventpoll_release_file`, of this version
    /// (`__fput` calls it when the file is on some epoll set).
    pub(crate) async fn eventpoll_release_file_of_version(&self, file: FileId) {
        match self.version() {
            KernelVersion::V2_6_22 => self.eventpoll_release_file_2_6_22(file).await,
            KernelVersion::V6_18 => self.eventpoll_release_file_6_18(file).await,
            KernelVersion::Seed | KernelVersion::V2_6_21 => self.eventpoll_release_file(file).await,
        }
    }

    /// `file->f_op->release`, as `__fput` calls it after `eventpoll_release`.
    pub(crate) async fn f_op_release(&self, kind: FileKind) {
        match kind {
            FileKind::Regular => {}
            FileKind::PipeRead(pipe) => self.pipe_release_of_version(pipe, 1, 0).await,
            FileKind::PipeWrite(pipe) => self.pipe_release_of_version(pipe, 0, 1).await,
            FileKind::Epoll(ep) => match self.version() {
                KernelVersion::V2_6_22 => self.ep_free_2_6_22(ep).await,
                KernelVersion::V6_18 => self.ep_eventpoll_release(ep).await,
                KernelVersion::Seed | KernelVersion::V2_6_21 => self.ep_eventpoll_close(ep).await,
            },
            FileKind::Eventfd(ctx) => self.eventfd_release(ctx).await,
            // sock_close() → sock_release() → unix_release().
            FileKind::Socket(sock) => self.unix_release_sock(sock).await,
            FileKind::Timerfd(ctx) => self.timerfd_release(ctx).await,
            FileKind::Opaque(id) => self.opaque_release(id).await,
        }
    }

    /// `file->f_op->poll(file, pt)`.
    pub async fn vfs_poll(&self, file: FileId, pt: PollTable) -> u32 {
        Counters::bump(&self.counters.f_op_poll, 1);
        let Some(kind) = self.with_file(file, |f| f.kind) else {
            return 0;
        };
        match kind {
            FileKind::Regular => 0,
            FileKind::PipeRead(pipe) => self.pipe_poll_of_version(pipe, true, pt).await,
            FileKind::PipeWrite(pipe) => self.pipe_poll_of_version(pipe, false, pt).await,
            FileKind::Epoll(ep) => match self.version() {
                KernelVersion::V2_6_22 => self.ep_eventpoll_poll_2_6_22(ep, pt).await,
                KernelVersion::V6_18 => self.ep_eventpoll_poll_6_18(ep, pt).await,
                KernelVersion::Seed | KernelVersion::V2_6_21 => {
                    self.ep_eventpoll_poll(ep, pt).await
                }
            },
            FileKind::Eventfd(ctx) => self.eventfd_poll(ctx, pt).await,
            // sock_poll() → unix_poll().
            FileKind::Socket(sock) => self.unix_poll(sock, pt).await,
            FileKind::Timerfd(ctx) => self.timerfd_poll(ctx, pt).await,
            FileKind::Opaque(id) => self.opaque_poll(id, pt).await,
        }
    }

    /// The poll mask as the current CPU's view of memory shows it, without steps: for
    /// checkers only. `None` for files without `f_op->poll`.
    pub fn poll_peek(&self, file: FileId) -> Option<u32> {
        let kind = self.objects.borrow().files.get(file).ok()?.kind;
        match kind {
            FileKind::Regular => None,
            FileKind::PipeRead(pipe) => Some(self.pipe_poll_peek(pipe, true)),
            FileKind::PipeWrite(pipe) => Some(self.pipe_poll_peek(pipe, false)),
            FileKind::Epoll(ep) => {
                let rdllist = self.objects.borrow().eventpolls.get(ep).ok()?.rdllist;
                let next = self.cx.peek(rdllist.next_word());
                Some(if next != rdllist.address() {
                    POLLIN | POLLRDNORM
                } else {
                    0
                })
            }
            FileKind::Eventfd(ctx) => Some(self.eventfd_poll_peek(ctx)),
            FileKind::Socket(sock) => Some(self.unix_poll_peek(sock)),
            FileKind::Timerfd(ctx) => Some(self.timerfd_poll_peek(ctx)),
            FileKind::Opaque(id) => Some(self.opaque_poll_peek(id)),
        }
    }

    /// `vfs_read()`.
    pub async fn vfs_read(&self, file: FileId, len: usize) -> SysResult<Vec<u8>> {
        let (kind, flags) = self
            .with_file(file, |f| (f.kind, f.f_flags))
            .ok_or(Errno::EBADF)?;
        let nonblock = flags & O_NONBLOCK != 0;
        match kind {
            FileKind::PipeRead(pipe) => match self.version() {
                KernelVersion::V6_18 => self.pipe_read_6_18(pipe, len, nonblock).await,
                _ => self.pipe_read(pipe, len, nonblock).await,
            },
            FileKind::Eventfd(ctx) => self.eventfd_read(ctx, len, nonblock).await,
            // sock_aio_read() → the type's recvmsg, MSG_DONTWAIT if O_NONBLOCK.
            FileKind::Socket(sock) => match self.sock_type(sock) {
                SockType::Stream => self.unix_stream_recvmsg(sock, len, nonblock).await,
                SockType::Dgram => self.unix_dgram_recvmsg(sock, len, nonblock).await,
            },
            FileKind::Timerfd(ctx) => self.timerfd_read(ctx, len, nonblock).await,
            FileKind::Opaque(id) => self.opaque_read(id, len).await,
            FileKind::Regular => Ok(Vec::new()),
            FileKind::PipeWrite(_) => Err(Errno::EBADF),
            // Open for reading, but eventpoll_fops has no ->read: EINVAL.
            FileKind::Epoll(_) => Err(Errno::EINVAL),
        }
    }

    /// `vfs_write()`.
    pub async fn vfs_write(&self, file: FileId, data: &[u8]) -> SysResult<usize> {
        let (kind, flags) = self
            .with_file(file, |f| (f.kind, f.f_flags))
            .ok_or(Errno::EBADF)?;
        let nonblock = flags & O_NONBLOCK != 0;
        match kind {
            FileKind::PipeWrite(pipe) => match self.version() {
                KernelVersion::V6_18 => {
                    let packetized = flags & crate::objects::O_DIRECT != 0;
                    self.pipe_write_6_18(pipe, data, nonblock, packetized).await
                }
                _ => self.pipe_write(pipe, data, nonblock).await,
            },
            FileKind::Eventfd(ctx) => self.eventfd_write(ctx, data, nonblock).await,
            // sock_aio_write() → the type's sendmsg, MSG_DONTWAIT if O_NONBLOCK.
            FileKind::Socket(sock) => match self.sock_type(sock) {
                SockType::Stream => self.unix_stream_sendmsg(sock, data, nonblock).await,
                SockType::Dgram => self.unix_dgram_sendmsg(sock, data, nonblock).await,
            },
            FileKind::Regular | FileKind::Opaque(_) => Ok(data.len()),
            FileKind::PipeRead(_) => Err(Errno::EBADF),
            // timerfd_fops has no .write; the file is open for writing (O_RDWR).
            FileKind::Timerfd(_) => Err(Errno::EINVAL),
            // vfs_write tests FMODE_WRITE before the missing ->write: the eventpollfs file
            // (2.6.21, 6192bd536f96) is FMODE_READ only: EBADF; the anon-inode file
            // (from da66f7cb0f69) is FMODE_READ|FMODE_WRITE without ->write: EINVAL.
            FileKind::Epoll(_) => match self.version().epoll_file_source() {
                EpollFileSource::AnonInode => Err(Errno::EINVAL),
                EpollFileSource::Eventpollfs => Err(Errno::EBADF),
            },
        }
    }

    /// `pipefifo_fops.poll` of this version: 6.18's pipes have a head per direction.
    async fn pipe_poll_of_version(&self, pipe: PipeId, readable: bool, pt: PollTable) -> u32 {
        match self.version() {
            KernelVersion::V6_18 => self.pipe_poll_6_18(pipe, readable, pt).await,
            _ => self.pipe_poll(pipe, readable, pt).await,
        }
    }

    /// `pipefifo_fops.release` of this version.
    async fn pipe_release_of_version(&self, pipe: PipeId, decr: u64, decw: u64) {
        match self.version() {
            KernelVersion::V6_18 => self.pipe_release_6_18(pipe, decr, decw).await,
            _ => self.pipe_release(pipe, decr, decw).await,
        }
    }

    /// The transfer the seed port's `ep_poll` runs: the 2.6.21 tree is the seed port but
    /// for its three-pass `ep_events_transfer` (`eventpoll_2_6_21.rs`).
    pub(crate) async fn ep_events_transfer_of_version(
        &self,
        ep: EventPollId,
        events: &mut UserEvents,
        maxevents: usize,
    ) -> SysResult<usize> {
        match self.version() {
            KernelVersion::V2_6_21 => self.ep_events_transfer_2_6_21(ep, events, maxevents).await,
            _ => self.ep_events_transfer(ep, events, maxevents).await,
        }
    }

    /// `poll_wait(file, whead, pt)`: with epoll's table, `ep_ptable_queue_proc`; with
    /// poll(2)'s, `__pollwait`.
    pub async fn poll_wait(&self, whead: WaitQueueId, pt: PollTable) {
        match pt {
            PollTable::Null => {}
            PollTable::Epoll(epi) => {
                if self.version() == KernelVersion::V6_18 {
                    self.ep_ptable_queue_proc_6_18(whead, epi).await;
                } else {
                    self.ep_ptable_queue_proc(whead, epi).await;
                }
            }
            PollTable::Poll { task, key } => self.pollwait(whead, task, key).await,
        }
    }
}

/// Wait-queue callbacks of the kernel model: `ep_poll_callback` on an eppoll_entry.
impl<G: Granularity> WakeCallbacks<G> for Kernel<G> {
    async fn call(
        &self,
        _cx: &Cx<G>,
        _entry: WaitEntryId,
        kind: u32,
        data: u64,
        _mode: WakeMode,
        _key: u64,
    ) -> bool {
        match kind {
            CALLBACK_EP_POLL => {
                let pwq = decode_handle(data);
                match self.version() {
                    KernelVersion::V2_6_22 => {
                        Counters::bump(&self.counters.callbacks, 1);
                        match self.pwq_base(pwq) {
                            Some(epi) => self.ep_poll_callback_2_6_22(epi).await,
                            None => false,
                        }
                    }
                    KernelVersion::Seed | KernelVersion::V2_6_21 => {
                        self.ep_poll_callback(pwq).await
                    }
                    KernelVersion::V6_18 => self.ep_poll_callback_6_18(pwq, _key as u32).await,
                }
            }
            CALLBACK_POLLWAKE => self.pollwake(data, _mode, _key).await,
            _ => false,
        }
    }
}
