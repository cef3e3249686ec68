//! `struct file` and the VFS operations epoll touches: allocation (`get_empty_filp` with
//! `eventpoll_init_file`), `fget`/`fput`, `__fput` (which runs `eventpoll_release`
//! before the file's own `release`, as 2.6.22 does), and `f_op` dispatch by file kind.

use sim::{Granularity, LockKind, Name};

use crate::errno::{Errno, SysResult};
use crate::fdtable::FdEntry;
use crate::kernel::Kernel;
use crate::objects::{EventPollId, File, FileId, FileKind, FileLabel, ProcessId};

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
            self.eventpoll_release_file_of_version(file).await;
        }
        self.f_op_release(kind).await;
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

    /// `is_file_epoll(f)` and its eventpoll.
    pub fn file_epoll(&self, file: FileId) -> Option<EventPollId> {
        self.with_file(file, |f| match f.kind {
            FileKind::Epoll(ep) => Some(ep),
            _ => None,
        })
        .flatten()
    }

    /// Whether the file has `f_op->poll`.
    pub fn file_has_poll(&self, file: FileId) -> bool {
        self.with_file(file, |f| !matches!(f.kind, FileKind::Regular))
            .unwrap_or(false)
    }

    /// `get_unused_fd()` + `fd_install()` under `files->file_lock`.
    pub async fn install_fd(&self, process: ProcessId, file: FileId) -> SysResult<i32> {
        self.install_fd_flags(process, file, false).await
    }

    /// `file` at the lowest free descriptor of the current process, with the reference
    /// the caller holds for it (a new file's first, or one `fget` took, as `dup` does);
    /// when none is free (EMFILE) that reference is dropped with `fput`, as the kernel's
    /// error paths do.
    pub async fn install_or_put(&self, file: FileId) -> SysResult<i32> {
        let process = self.current_process();
        match self.install_fd(process, file).await {
            Ok(fd) => Ok(fd),
            Err(errno) => {
                self.fput(file).await;
                Err(errno)
            }
        }
    }

    /// [`Kernel::install_fd`] with `get_unused_fd_flags(O_CLOEXEC)`: `alloc_fd` sets
    /// `FD_CLOEXEC` on the new descriptor under the same `file_lock` section.
    pub async fn install_fd_flags(
        &self,
        process: ProcessId,
        file: FileId,
        close_on_exec: bool,
    ) -> SysResult<i32> {
        self.install_fd_from(process, file, 0, close_on_exec).await
    }

    /// `alloc_fd(from, rlimit, flags)` + `fd_install()` under `files->file_lock`, as
    /// `F_DUPFD` / `F_DUPFD_CLOEXEC` call it: the lowest free descriptor at or above
    /// `from` (EMFILE when none is free below the limit).
    pub async fn install_fd_from(
        &self,
        process: ProcessId,
        file: FileId,
        from: usize,
        close_on_exec: bool,
    ) -> SysResult<i32> {
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
            let fd = table.lowest_free_from(from);
            if let Some(fd) = fd {
                table.install(fd, FdEntry { file, f_count });
                table.set_close_on_exec_bit(fd, close_on_exec);
            }
            fd
        };
        self.cx.spin_unlock(lock).await;
        fd.ok_or(Errno::EMFILE)
    }
}
