//! The opaque file: a stand-in for any pollable file whose inside the model does not
//! have — a listening TCP socket, a signalfd, an inotify descriptor, a timerfd or a tty
//! seen in a recording — and whose readiness only events from outside drive.
//!
//! It exists for replaying recordings (`epsim import`): a recording shows what such a
//! file reported, never why, so the model keeps only what epoll sees of it. A context has
//! a wait-queue head `wqh`, as every pollable file does; `wqh.lock` protects the
//! readiness `mask`, the readable byte count `bytes` and the count of connections
//! waiting to be accepted `pending`. Interrupt handlers change them
//! ([`Kernel::opaque_ready`], [`Kernel::opaque_deliver`], [`Kernel::opaque_incoming`])
//! and wake `wqh` with the new bits as the key, as a driver's `wake_up_poll` does, so
//! `ep_poll_callback` runs in interrupt context. `f_op->poll` is `poll_wait` on `wqh`
//! and the mask under the lock.
//!
//! Simplified, on purpose (the real files are not modelled): a read never blocks (no
//! bytes: EAGAIN) and returns zero bytes as content (a recording gives lengths, strace
//! truncates contents); a write takes every byte; `accept` on an opaque file takes one
//! pending connection and makes an externally fed socket for it
//! ([`Kernel::sys_socket_external`]'s kind), or is EAGAIN.
//!
//! A listening opaque file may also have an address (`listen_on`): a traced client's
//! `connect_to` of that address makes an AF_UNIX stream pair, keeps one end and queues
//! the other here for `accept` — a connection whose both ends are in the model. The
//! queue is one, oldest first, for both kinds of connection. The file exists on every
//! version (it is not a system call of any kernel: `sys_opaque` is how a scenario gets
//! one).

use std::collections::VecDeque;

use sim::waitq::WakeMode;
use sim::{Granularity, Name};

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::objects::{FileId, FileKind, OpaqueFile, OpaqueId, ProcessId, SockId, O_RDWR};
use crate::poll::{PollTable, POLLIN, POLLRDNORM};

/// The most bytes one opaque file may hold readable (a bound on outside input).
pub const OPAQUE_BYTES_MAX: u64 = 1 << 40;
/// The most connections one opaque file may hold waiting for `accept` (more are
/// dropped, as a full backlog drops a SYN).
pub const OPAQUE_PENDING_MAX: usize = 1 << 16;

impl<G: Granularity> Kernel<G> {
    fn opaque(&self, id: OpaqueId) -> Option<OpaqueFile> {
        match self.objects.borrow().opaques.get(id) {
            Ok(o) => Some(o.clone()),
            Err(error) => {
                self.report_stale("opaque file", error);
                None
            }
        }
    }

    fn opaque_update(&self, id: OpaqueId, f: impl FnOnce(&mut OpaqueFile)) {
        if let Ok(o) = self.objects.borrow_mut().opaques.get_mut(id) {
            f(o);
        }
    }

    /// A new opaque file, not ready, installed at the lowest free descriptor of the
    /// current process (EMFILE past the limit).
    pub async fn sys_opaque(&self, label: &str) -> SysResult<i32> {
        self.cx.syscall("opaque").await;
        let id = self.objects.borrow_mut().next_id();
        let wqh = self
            .cx
            .init_waitqueue_head("&opaque->wqh.lock", Name::new("opaque", id, "->wqh"));
        let mask = self.cx.alloc_words("opaque", id, &["mask"]);
        let step = self.cx.step();
        let opaque = self.objects.borrow_mut().opaques.alloc(
            OpaqueFile {
                id,
                label: label.to_string(),
                wqh,
                mask,
                bytes: 0,
                pending: VecDeque::new(),
                address: None,
            },
            step,
        );
        let name = if label.is_empty() {
            format!("opaque{id}")
        } else {
            label.to_string()
        };
        let file = self.alloc_file(FileKind::Opaque(opaque), name.into(), O_RDWR);
        let result = self.install_or_put(file).await;
        self.cx.mix_into_hash(match result {
            Ok(fd) => fd as u64,
            Err(errno) => errno.number() as u64,
        });
        result
    }

    /// `f_op->poll`: `poll_wait` on `wqh`, then the mask under `wqh.lock`.
    pub async fn opaque_poll(&self, id: OpaqueId, pt: PollTable) -> u32 {
        let Some(o) = self.opaque(id) else {
            return 0;
        };
        self.poll_wait(o.wqh, pt).await;
        let cx = &self.cx;
        let lock = cx.waitqueue_lock(o.wqh);
        let flags = cx.spin_lock_irqsave(lock).await;
        let mask = cx.load(o.mask).await;
        cx.spin_unlock_irqrestore(lock, flags).await;
        mask as u32
    }

    /// The mask without steps, for checkers.
    pub fn opaque_poll_peek(&self, id: OpaqueId) -> u32 {
        match self.objects.borrow().opaques.get(id) {
            Ok(o) => self.cx.peek(o.mask) as u32,
            Err(_) => 0,
        }
    }

    /// A read: up to `len` of the readable bytes (as zeros), or EAGAIN when there are
    /// none (never blocks). Taking the last byte clears EPOLLIN unless a connection is
    /// still pending.
    pub async fn opaque_read(&self, id: OpaqueId, len: usize) -> SysResult<Vec<u8>> {
        let o = self.opaque(id).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        let lock = cx.waitqueue_lock(o.wqh);
        cx.spin_lock_irq(lock).await;
        let result = if o.bytes == 0 {
            Err(Errno::EAGAIN)
        } else {
            let taken = o.bytes.min(len as u64);
            self.opaque_update(id, |o| o.bytes -= taken);
            if o.bytes == taken && o.pending.is_empty() {
                let mask = cx.load(o.mask).await;
                cx.store(o.mask, mask & !u64::from(POLLIN | POLLRDNORM))
                    .await;
            }
            Ok(vec![0; taken as usize])
        };
        cx.spin_unlock_irq(lock).await;
        result
    }

    /// One pending connection taken, oldest first (EAGAIN when none is pending): `None`
    /// for one from outside, `Some(sock)` for the server's end of a pair `connect_to`
    /// queued (the caller takes over its reference). Taking the last clears EPOLLIN
    /// unless bytes are readable. `accept` (syscalls.rs) makes the socket's file.
    pub(crate) async fn opaque_take_connection(&self, id: OpaqueId) -> SysResult<Option<SockId>> {
        let o = self.opaque(id).ok_or(Errno::EBADF)?;
        let cx = &self.cx;
        let lock = cx.waitqueue_lock(o.wqh);
        cx.spin_lock_irq(lock).await;
        let result = match o.pending.front() {
            None => Err(Errno::EAGAIN),
            Some(&connection) => {
                self.opaque_update(id, |o| {
                    o.pending.pop_front();
                });
                if o.pending.len() == 1 && o.bytes == 0 {
                    let mask = cx.load(o.mask).await;
                    cx.store(o.mask, mask & !u64::from(POLLIN | POLLRDNORM))
                        .await;
                }
                Ok(connection)
            }
        };
        cx.spin_unlock_irq(lock).await;
        result
    }

    /// Sets the readiness from outside (interrupt context): the mask becomes `mask`, and
    /// `wqh` is woken with it as the key when it is not empty.
    pub async fn opaque_ready(&self, file: FileId, mask: u32) -> bool {
        self.opaque_change(file, "ready", |_, _| mask).await
    }

    /// `bytes` arrive from outside: readable, EPOLLIN|EPOLLRDNORM, `wqh` woken.
    pub async fn opaque_deliver(&self, file: FileId, bytes: u64) -> bool {
        self.opaque_change(file, "deliver", |o, mask| {
            o.bytes = o.bytes.saturating_add(bytes).min(OPAQUE_BYTES_MAX);
            mask | POLLIN | POLLRDNORM
        })
        .await
    }

    /// A connection arrives from outside (an untraced client): one more for `accept`,
    /// EPOLLIN|EPOLLRDNORM, `wqh` woken.
    pub async fn opaque_incoming(&self, file: FileId) -> bool {
        self.opaque_change(file, "incoming", |o, mask| {
            if o.pending.len() < OPAQUE_PENDING_MAX {
                o.pending.push_back(None);
            }
            mask | POLLIN | POLLRDNORM
        })
        .await
    }

    /// A traced client's connection (`connect_to`, process context): `sock`, the
    /// server's end of the pair, is queued for `accept`, EPOLLIN|EPOLLRDNORM, `wqh`
    /// woken — as `unix_stream_connect` queues its skb on the listener and calls the
    /// listener's `sk_data_ready`. Whether it was queued (not when the file is not an
    /// opaque file or its queue is full: the caller then releases `sock`).
    pub(crate) async fn opaque_connect(&self, file: FileId, sock: SockId) -> bool {
        let mut queued = false;
        let changed = self
            .opaque_change(file, "connect", |o, mask| {
                if o.pending.len() < OPAQUE_PENDING_MAX {
                    o.pending.push_back(Some(sock));
                    queued = true;
                }
                mask | POLLIN | POLLRDNORM
            })
            .await;
        changed && queued
    }

    /// Under `wqh.lock` (irqsave): `change` updates the counters and says the new mask;
    /// then the wake-up with the mask as key (`wake_up_locked_poll`). Whether the file
    /// is an opaque file.
    async fn opaque_change(
        &self,
        file: FileId,
        what: &str,
        change: impl FnOnce(&mut OpaqueFile, u32) -> u32,
    ) -> bool {
        let Some(FileKind::Opaque(id)) = self.with_file(file, |f| f.kind) else {
            return false;
        };
        let Some(o) = self.opaque(id) else {
            return false;
        };
        let cx = &self.cx;
        cx.note(|| format!("opaque {what}: {}", self.file_label(file)));
        let lock = cx.waitqueue_lock(o.wqh);
        let flags = cx.spin_lock_irqsave(lock).await;
        let old = cx.load(o.mask).await as u32;
        let mut new = old;
        self.opaque_update(id, |o| new = change(o, old));
        cx.store(o.mask, u64::from(new)).await;
        if new != 0 {
            cx.wake_up_common(self, o.wqh, WakeMode::All, 1, u64::from(new))
                .await;
        }
        cx.spin_unlock_irqrestore(lock, flags).await;
        true
    }

    /// The opaque file's release: its address is free again, connections never accepted
    /// are released (their clients see the connection closed, as a listener's close
    /// aborts its queue), and the context is freed.
    pub async fn opaque_release(&self, id: OpaqueId) {
        let Some(o) = self.opaque(id) else {
            return;
        };
        if let Some(address) = &o.address {
            self.objects.borrow_mut().listen_addresses.remove(address);
        }
        for sock in o.pending.iter().flatten() {
            self.unix_release_sock(*sock).await;
        }
        let step = self.cx.step();
        if let Err(error) = self.objects.borrow_mut().opaques.free(id, step) {
            self.report_stale("opaque file", error);
        }
        self.cx.free_words(o.mask);
    }

    /// The file at descriptor `fd` of `process`, looked up without steps: how an
    /// interrupt handler of a replayed recording names the file an outside event is for
    /// (the recording names it by descriptor).
    pub fn file_of(&self, process: ProcessId, fd: i32) -> Option<FileId> {
        let objects = self.objects.borrow();
        let entry = objects.processes.get(process.0 as usize)?.fdtable.get(fd)?;
        objects.files.get(entry.file).ok()?;
        Some(entry.file)
    }
}
