//! Per-process file descriptor tables (`struct files_struct`).
//!
//! Lookups (`fget`) are lockless, as RCU made them in 2.6.22; changes (install, close,
//! dup) take `files->file_lock`. An entry remembers its file's `f_count` word, which is
//! never freed, so that a lookup racing with the last `fput` reads a count of zero and
//! fails — what RCU's grace period guarantees for the real `struct file`.

pub use crate::objects::{FdEntry, FdTable};

/// The default `RLIMIT_NOFILE` soft limit (`rlim_cur`) of 2.6.22: `INR_OPEN`.
pub const NOFILE_DEFAULT: usize = 1024;

/// `NR_OPEN` of 2.6.22 (`include/linux/fs.h`, 1024 * 1024): no process may have more
/// descriptors; `setrlimit(RLIMIT_NOFILE)` refuses a hard limit above it (EPERM).
pub const NR_OPEN: usize = 1024 * 1024;

/// The default `RLIMIT_NOFILE` hard limit (`rlim_max`) of a simulated process.
///
/// Simplified: 2.6.22's `INIT_RLIMITS` has `INR_OPEN` (1024) for both limits, and only a
/// process with `CAP_SYS_RESOURCE` may raise `rlim_max`. The model's processes are
/// unprivileged but start with the hard limit at [`NR_OPEN`], as distributions configure
/// it (pam_limits, systemd), so a program can raise its soft limit the way real ones do.
pub const NOFILE_HARD_DEFAULT: usize = NR_OPEN;

impl FdTable {
    pub fn new(limit: usize) -> FdTable {
        FdTable {
            entries: Vec::new(),
            limit,
            hard_limit: limit.max(NOFILE_HARD_DEFAULT),
            next_fd: 0,
            close_on_exec: Vec::new(),
        }
    }

    pub fn get(&self, fd: i32) -> Option<FdEntry> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.entries.get(i).copied().flatten())
    }

    /// `get_unused_fd()`: the lowest free descriptor, or `None` at the limit (EMFILE).
    pub fn lowest_free(&self) -> Option<i32> {
        let start = self.next_fd.min(self.entries.len());
        let free = self.entries[start..]
            .iter()
            .position(|e| e.is_none())
            .map_or(self.entries.len(), |p| start + p);
        (free < self.limit).then_some(free as i32)
    }

    /// `fd_install()`, after `alloc_fd`'s `__clear_close_on_exec` (a new descriptor
    /// starts without `FD_CLOEXEC`; [`FdTable::set_close_on_exec_bit`] sets it).
    pub fn install(&mut self, fd: i32, entry: FdEntry) {
        let index = fd as usize;
        if self.entries.len() <= index {
            self.entries.resize(index + 1, None);
        }
        self.entries[index] = Some(entry);
        self.set_close_on_exec_bit(fd, false);
        if index == self.next_fd {
            self.next_fd += 1;
        }
    }

    /// Clears a slot; returns what was there (closing also clears `FD_CLOEXEC`:
    /// `__clear_close_on_exec` in `pick_file`).
    pub fn take(&mut self, fd: i32) -> Option<FdEntry> {
        let index = usize::try_from(fd).ok()?;
        let taken = self.entries.get_mut(index)?.take();
        if taken.is_some() {
            self.next_fd = self.next_fd.min(index);
            self.set_close_on_exec_bit(fd, false);
        }
        taken
    }

    /// `__set_close_on_exec(fd)` / `__clear_close_on_exec(fd)`.
    pub fn set_close_on_exec_bit(&mut self, fd: i32, on: bool) {
        let Ok(index) = usize::try_from(fd) else {
            return;
        };
        if self.close_on_exec.len() <= index {
            if !on {
                return;
            }
            self.close_on_exec.resize(index + 1, false);
        }
        self.close_on_exec[index] = on;
    }

    /// `close_on_exec(fd, fdt)`: whether `FD_CLOEXEC` is set.
    pub fn close_on_exec(&self, fd: i32) -> bool {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.close_on_exec.get(i).copied())
            .unwrap_or(false)
    }

    /// Open descriptors in ascending order.
    pub fn open_fds(&self) -> Vec<(i32, FdEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.map(|e| (i as i32, e)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::arena::Handle;
    use sim::Word;

    #[test]
    fn lowest_free_descriptor_is_reused() {
        let mut table = FdTable::new(8);
        let entry = FdEntry {
            file: Handle::DANGLING,
            f_count: Word(0),
        };
        for fd in 0..4 {
            assert_eq!(table.lowest_free(), Some(fd));
            table.install(fd, entry);
        }
        table.take(1);
        assert_eq!(table.lowest_free(), Some(1));
        let mut full = FdTable::new(1);
        full.install(0, entry);
        assert_eq!(full.lowest_free(), None);
    }
}
