//! `struct file` and the VFS operations epoll touches: allocation (`get_empty_filp` with
//! `eventpoll_init_file`), `fget`/`fput`, `__fput` (which runs `eventpoll_release`
//! before the file's own `release`, as 2.6.22 does), and `f_op` dispatch by file kind.

use sim::{Granularity, LockKind, Name};

use crate::errno::{Errno, SysResult};
use crate::fdtable::FdEntry;
use crate::kernel::{Counters, Kernel, KernelVersion};
use crate::objects::{File, FileId, FileKind, FileLabel, ProcessId};
use crate::poll::PollTable;

impl<G: Granularity> Kernel<G> {
    /// `get_empty_filp()` + `eventpoll_init_file()`: a file with one reference.
    pub fn alloc_file(&self, kind: FileKind, label: FileLabel, f_flags: u32) -> FileId {
        let id = self.objects.borrow_mut().next_id();
        let f_count = self.cx.alloc_words("file", id, &["f_count"]);
        self.cx.state().mem.store_sc(f_count, 1);
        let f_ep_lock = self.cx.new_lock(
            LockKind::Spin,
            "&file->f_ep_lock",
            Name::new("file", id, "->f_ep_lock"),
        );
        let step = self.cx.step();
        self.objects.borrow_mut().files.alloc(
            File {
                id,
                kind,
                f_count,
                f_flags,
                f_ep_links: smallvec::SmallVec::new(),
                f_ep_lock,
                label,
            },
            step,
        )
    }

    /// The current process's entry for `fd`.
    pub fn fd_entry(&self, fd: i32) -> Option<FdEntry> {
        let process = self.current_process();
        self.objects.borrow().processes[process.0 as usize]
            .fdtable
            .get(fd)
    }

    /// `fget(fd)`: lockless lookup, then `atomic_inc_not_zero(&file->f_count)`.
    pub async fn fget(&self, fd: i32) -> Option<FileId> {
        let entry = self.fd_entry(fd)?;
        loop {
            let count = self.cx.load(entry.f_count).await;
            if count == 0 {
                return None;
            }
            if self.cx.cmpxchg(entry.f_count, count, count + 1).await == count {
                return Some(entry.file);
            }
        }
    }

    /// `get_file()`: another reference on a file the caller already holds.
    pub async fn get_file(&self, file: FileId) {
        if let Some(word) = self.with_file(file, |f| f.f_count) {
            self.cx.atomic_add_return(word, 1).await;
        }
    }

    /// `fput(file)`: the last reference runs `__fput`.
    pub async fn fput(&self, file: FileId) {
        let Some(word) = self.with_file(file, |f| f.f_count) else {
            return;
        };
        if self.cx.atomic_dec_and_test(word).await {
            self.fput_final(file).await;
        }
    }

    /// `__fput(file)`: `eventpoll_release` first, then `f_op->release`, then free.
    async fn fput_final(&self, file: FileId) {
        let Some((kind, linked)) = self.with_file(file, |f| (f.kind, !f.f_ep_links.is_empty()))
        else {
            return;
        };
        self.cx
            .note(|| format!("__fput: last reference to {}", self.file_label(file)));
        // eventpoll_release(): the lockless fast check, then the slow path.
        if linked {
            match self.version() {
                KernelVersion::V2_6_22 => self.eventpoll_release_file_2_6_22(file).await,
                KernelVersion::V6_18 => self.eventpoll_release_file_6_18(file).await,
                KernelVersion::Seed | KernelVersion::V2_6_21 => {
                    self.eventpoll_release_file(file).await
                }
            }
        }
        match kind {
            FileKind::Regular => {}
            FileKind::PipeRead(pipe) => self.pipe_release(pipe, 1, 0).await,
            FileKind::PipeWrite(pipe) => self.pipe_release(pipe, 0, 1).await,
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
        let step = self.cx.step();
        // file_free(): the arena slot goes; the f_count word stays (RCU, see fdtable).
        if let Err(error) = self.objects.borrow_mut().files.free(file, step) {
            self.report_stale("struct file", error);
        }
    }

    pub fn file_label(&self, file: FileId) -> String {
        self.objects
            .borrow()
            .files
            .get(file)
            .map(|f| f.label.render(&f.kind))
            .unwrap_or_else(|_| "a freed file".to_string())
    }

    /// Whether the file has `f_op->poll`.
    pub fn file_has_poll(&self, file: FileId) -> bool {
        self.with_file(file, |f| !matches!(f.kind, FileKind::Regular))
            .unwrap_or(false)
    }

    /// `file->f_op->poll(file, pt)`.
    pub async fn vfs_poll(&self, file: FileId, pt: PollTable) -> u32 {
        Counters::bump(&self.counters.f_op_poll, 1);
        let Some(kind) = self.with_file(file, |f| f.kind) else {
            return 0;
        };
        match kind {
            FileKind::Regular => 0,
            FileKind::PipeRead(pipe) => self.pipe_poll(pipe, true, pt).await,
            FileKind::PipeWrite(pipe) => self.pipe_poll(pipe, false, pt).await,
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
                    crate::poll::POLLIN | crate::poll::POLLRDNORM
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
        let nonblock = flags & crate::objects::O_NONBLOCK != 0;
        match kind {
            FileKind::PipeRead(pipe) => self.pipe_read(pipe, len, nonblock).await,
            FileKind::Eventfd(ctx) => self.eventfd_read(ctx, len, nonblock).await,
            // sock_aio_read() → unix_stream_recvmsg(), MSG_DONTWAIT if O_NONBLOCK.
            FileKind::Socket(sock) => self.unix_stream_recvmsg(sock, len, nonblock).await,
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
        let nonblock = flags & crate::objects::O_NONBLOCK != 0;
        match kind {
            FileKind::PipeWrite(pipe) => self.pipe_write(pipe, data, nonblock).await,
            FileKind::Eventfd(ctx) => self.eventfd_write(ctx, data, nonblock).await,
            // sock_aio_write() → unix_stream_sendmsg(), MSG_DONTWAIT if O_NONBLOCK.
            FileKind::Socket(sock) => self.unix_stream_sendmsg(sock, data, nonblock).await,
            FileKind::Regular | FileKind::Opaque(_) => Ok(data.len()),
            FileKind::PipeRead(_) => Err(Errno::EBADF),
            // timerfd_fops has no .write; the file is open for writing (O_RDWR).
            FileKind::Timerfd(_) => Err(Errno::EINVAL),
            // vfs_write tests FMODE_WRITE before the missing ->write: the eventpollfs file
            // (2.6.21, 6192bd536f96) is FMODE_READ only: EBADF; the anon-inode file
            // (from da66f7cb0f69) is FMODE_READ|FMODE_WRITE without ->write: EINVAL.
            FileKind::Epoll(_) => match self.version().epoll_file_source() {
                crate::kernel::EpollFileSource::AnonInode => Err(Errno::EINVAL),
                crate::kernel::EpollFileSource::Eventpollfs => Err(Errno::EBADF),
            },
        }
    }

    /// `get_unused_fd()` + `fd_install()` under `files->file_lock`.
    pub async fn install_fd(&self, process: ProcessId, file: FileId) -> SysResult<i32> {
        let (lock, f_count) = {
            let objects = self.objects.borrow();
            let lock = objects.processes[process.0 as usize].file_lock;
            let f_count = objects
                .files
                .get(file)
                .map(|f| f.f_count)
                .map_err(|_| Errno::EBADF)?;
            (lock, f_count)
        };
        self.cx.spin_lock(lock).await;
        let fd = {
            let mut objects = self.objects.borrow_mut();
            let table = &mut objects.processes[process.0 as usize].fdtable;
            let fd = table.lowest_free();
            if let Some(fd) = fd {
                table.install(fd, FdEntry { file, f_count });
            }
            fd
        };
        self.cx.spin_unlock(lock).await;
        fd.ok_or(Errno::EMFILE)
    }
}
