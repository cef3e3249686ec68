//! The simulated kernel: options, object tables, and the glue between the port and the
//! machine (object access with use-after-free reports, task registration, wake-up
//! callback dispatch).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use sim::arena::ArenaError;
use sim::waitq::{WaitEntryId, WakeMode};
use sim::{Cx, Granularity, LockId, LockKind, Name, ReportKind, TaskId, WakeCallbacks};

use crate::inject::Injection;
use crate::objects::{
    Epitem, EpitemId, EventPoll, EventPollId, File, FileId, Objects, ProcessId, PwqId, TaskInfo,
    STACK_FIELDS,
};

/// Which eventpoll.c to run, named after exactly what its text is (docs/eventpoll-history.md
/// §1.2): a release tag, or the tree at a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelVersion {
    /// The tree right after 6192bd536f96 "epoll: optimizations and cleanups" (single-pass
    /// transfer with `injlist`; rwlock `ep->lock`, rw_semaphore `ep->sem`, `usecnt`; the
    /// epoll file still from eventpollfs). Named `6192bd536f96`, alias `seed`; a state of
    /// git between v2.6.21 and v2.6.22-rc1, never a release. The default.
    Seed,
    /// The v2.6.21 tag: collect / send / reinject with `txlink`.
    V2_6_21,
    /// The v2.6.22 tag: the single pass fixed by d47de16c7221 and c7ea76302547
    /// (`ep->mtx`, spinlock `ep->lock`, `ovflist`, exclusive `ep_poll` waiters), the
    /// epoll file from an anonymous inode, eventfd present.
    V2_6_22,
    /// The v6.18 tag: `ep->mtx`, `ep->lock` a spinlock, `ovflist`, keyed wake-ups,
    /// EPOLLEXCLUSIVE, loop and path checks ([`crate::eventpoll_6_18`]).
    V6_18,
}

impl KernelVersion {
    /// The name every output uses.
    pub fn name(self) -> &'static str {
        match self {
            KernelVersion::Seed => "6192bd536f96",
            KernelVersion::V2_6_21 => "2.6.21",
            KernelVersion::V2_6_22 => "2.6.22",
            KernelVersion::V6_18 => "6.18",
        }
    }

    /// Other names accepted on input (never printed).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            KernelVersion::Seed => &["seed"],
            KernelVersion::V2_6_21 | KernelVersion::V2_6_22 => &[],
            KernelVersion::V6_18 => &["modern"],
        }
    }

    /// What the name means, one line (for `--help` and errors).
    pub fn description(self) -> &'static str {
        match self {
            KernelVersion::Seed => {
                "the tree right after 6192bd536f96 \"epoll: optimizations and cleanups\" (alias seed; the default)"
            }
            KernelVersion::V2_6_21 => "the v2.6.21 tag (three-pass transfer with txlink)",
            KernelVersion::V2_6_22 => {
                "the v2.6.22 tag (ep->mtx, spinlock ep->lock, ovflist, exclusive waiters)"
            }
            KernelVersion::V6_18 => {
                "the v6.18 tag (alias modern: ep->mtx, spinlock, ovflist, keyed wake-ups, EPOLLEXCLUSIVE)"
            }
        }
    }

    /// A version by its name or one of its aliases.
    pub fn parse(text: &str) -> Option<KernelVersion> {
        KernelVersion::ALL
            .into_iter()
            .find(|version| version.name() == text || version.aliases().contains(&text))
    }

    /// The accepted names, for error messages: `6192bd536f96 (seed), 2.6.21`.
    pub fn names_for_humans() -> String {
        KernelVersion::ALL
            .iter()
            .map(|version| match version.aliases() {
                [] => version.name().to_string(),
                aliases => format!("{} ({})", version.name(), aliases.join(", ")),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Why the system call `name` does not exist in this version's tree (the call then
    /// fails with ENOSYS, as an unknown syscall number does), or `None` when it exists.
    /// `sys_ni_syscall` is what the real kernel runs for a number it does not implement.
    ///
    /// eventfd came with e1ad7468c77d (v2.6.22-rc1), in the signal/timer/event-fd series
    /// that also brought the anonymous inodes the epoll file moved to in da66f7cb0f69.
    /// The seed tree still made its epoll file on eventpollfs, so it precedes
    /// da66f7cb0f69; that it precedes the whole series is a decision, argued in
    /// docs/eventpoll-port-digest.md §0.3: no eventfd in the seed tree.
    ///
    pub fn missing_syscall(self, name: &str) -> Option<&'static str> {
        match (self, name) {
            (KernelVersion::V2_6_21, "eventfd") => {
                Some("eventfd is not in 2.6.21 (added by e1ad7468c77d for v2.6.22-rc1): ENOSYS")
            }
            (KernelVersion::Seed, "eventfd") => Some(
                "eventfd is not in the 6192bd536f96 tree (e1ad7468c77d came after it; digest §0.3): ENOSYS",
            ),
            (KernelVersion::V6_18, _) => None,
            (_, "epoll_create1" | "eventfd2") => {
                Some("epoll_create1 and eventfd2 came in 2.6.27: ENOSYS")
            }
            (_, "timerfd_create" | "timerfd_settime" | "timerfd_gettime") => {
                Some("timerfd_create/settime/gettime came in 2.6.25: ENOSYS")
            }
            (_, "epoll_pwait2") => Some("epoll_pwait2 came in 5.11: ENOSYS"),
            (_, "sysctl_max_user_watches") => {
                Some("fs.epoll.max_user_watches came in 2.6.28: no such sysctl file (ENOENT)")
            }
            _ => None,
        }
    }

    /// How this version's `sys_epoll_create` makes the epoll file.
    pub fn epoll_file_source(self) -> EpollFileSource {
        match self {
            KernelVersion::Seed | KernelVersion::V2_6_21 => EpollFileSource::Eventpollfs,
            KernelVersion::V2_6_22 | KernelVersion::V6_18 => EpollFileSource::AnonInode,
        }
    }

    /// Every version, in the order snapshots show them side by side.
    pub const ALL: [KernelVersion; 4] = [
        KernelVersion::Seed,
        KernelVersion::V2_6_21,
        KernelVersion::V2_6_22,
        KernelVersion::V6_18,
    ];

    /// Whether the tree has the later syscalls the model knows (`epoll_create1`,
    /// `eventfd2`, `epoll_pwait2`, the timerfd calls, the `max_user_watches` sysctl):
    /// only 6.18 of the versions the model has.
    pub fn is_modern(self) -> bool {
        self == KernelVersion::V6_18
    }
}

/// Where an epoll file comes from (docs/eventpoll-history.md §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpollFileSource {
    /// `ep_getfd()` on eventpollfs (2.6.21 and the 6192bd536f96 tree): a pseudo
    /// superblock, one inode per epoll fd, the file opened read-only (`O_RDONLY`,
    /// `FMODE_READ`), so `write()` on it is EBADF. Failure order: `get_empty_filp` ENFILE,
    /// the inode ENOMEM, `get_unused_fd` EMFILE, the dentry ENOMEM.
    Eventpollfs,
    /// `anon_inode_getfd("[eventpoll]")` (from da66f7cb0f69): the shared anonymous inode,
    /// the file `O_RDWR` (`FMODE_READ|FMODE_WRITE`) with no `write` method, so `write()` is
    /// EINVAL. Failure order: ENODEV (no anon fs), ENFILE, EMFILE, the dentry ENOMEM.
    AnonInode,
}

/// Options of the simulated kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelOptions {
    pub version: KernelVersion,
    pub injections: Vec<Injection>,
    /// Virtual time a page fault in `__put_user` takes to service, when the scenario
    /// marks the event buffer as not yet faulted in.
    pub fault_service_ns: u64,
}

impl Default for KernelOptions {
    fn default() -> KernelOptions {
        KernelOptions {
            version: KernelVersion::Seed,
            injections: Vec::new(),
            fault_service_ns: 20_000,
        }
    }
}

/// Counters that prove work was done (benchmarks print them).
#[derive(Default, Debug)]
pub struct Counters {
    pub f_op_poll: Cell<u64>,
    pub transfers: Cell<u64>,
    pub events_delivered: Cell<u64>,
    pub callbacks: Cell<u64>,
}

impl Counters {
    pub fn bump(cell: &Cell<u64>, by: u64) {
        cell.set(cell.get() + by);
    }
}

/// Wait-queue callback kinds the kernel model registers.
pub const CALLBACK_EP_POLL: u32 = 1;
/// 6.18's `ep_autoremove_wake_function` on an `ep_poll` waiter (data: the task and the
/// word standing for `wait.entry`); only `ep->wq` holds such entries, and only
/// [`crate::eventpoll_6_18`] wakes it, with its own callback table.
pub const CALLBACK_EP_AUTOREMOVE: u32 = 2;
/// 6.18's `pollwake` on a `poll(2)` waiter (data: the events it waits for, high 32 bits,
/// and the task); see [`crate::select`].
pub const CALLBACK_POLLWAKE: u32 = 3;

/// The kernel.
pub struct Kernel<G: Granularity> {
    pub cx: Cx<G>,
    pub options: KernelOptions,
    pub objects: RefCell<Objects>,
    /// `epmutex` (2.6.x): serialises `ep_free` and `eventpoll_release_file`. On 6.18,
    /// which has no `epmutex` (gone in 6.4), this is `epnested_mutex`: taken only by
    /// EPOLL_CTL_ADDs that may build nested topologies.
    pub epmutex: LockId,
    /// `psw.lock`: protects `Objects::psw_list`.
    pub psw_lock: LockId,
    pub counters: Counters,
    /// 6.18's file-scope state of eventpoll.c (loop and path checks, watch limits).
    pub modern: RefCell<crate::eventpoll_6_18::Globals>,
    /// The kernel's own `Rc`, for code that must hand the machine a future that outlives
    /// the call (a timer's handler).
    self_ref: std::rc::Weak<Kernel<G>>,
}

impl<G: Granularity> Kernel<G> {
    /// `eventpoll_init()` and the rest of boot.
    pub fn new(cx: Cx<G>, options: KernelOptions) -> Rc<Kernel<G>> {
        let epmutex = if options.version == KernelVersion::V6_18 {
            cx.new_lock(
                LockKind::Mutex,
                "epnested_mutex",
                Name::global("epnested_mutex"),
            )
        } else {
            cx.new_lock(LockKind::Mutex, "epmutex", Name::global("epmutex"))
        };
        let psw_lock = cx.new_lock(LockKind::Spin, "psw.lock", Name::global("psw.lock"));
        Rc::new_cyclic(|self_ref| Kernel {
            self_ref: self_ref.clone(),
            cx,
            options,
            objects: RefCell::new(Objects::default()),
            epmutex,
            psw_lock,
            counters: Counters::default(),
            modern: RefCell::new(crate::eventpoll_6_18::Globals::default()),
        })
    }

    /// The `Rc` this kernel lives in.
    pub fn self_rc(&self) -> Option<Rc<Kernel<G>>> {
        self.self_ref.upgrade()
    }

    pub fn injected(&self, injection: Injection) -> bool {
        self.options.injections.contains(&injection)
    }

    pub fn version(&self) -> KernelVersion {
        self.options.version
    }

    /// Registers a task of `process` (call before it makes syscalls).
    pub fn register_task(&self, task: TaskId, process: ProcessId) {
        let stack = self.cx.alloc_words("stack", task.0 as u64, STACK_FIELDS);
        self.objects.borrow_mut().tasks.insert(
            task,
            TaskInfo {
                process,
                stack,
                in_ep_poll: None,
                in_transfer: None,
                poll_entries: Vec::new(),
                poll_triggered: false,
            },
        );
    }

    /// Wraps a program so that the task counts as live in `process` until it returns,
    /// and the last task of a process closes its descriptors (`do_exit` → `exit_files`).
    pub fn task_body<F>(
        self: &Rc<Self>,
        process: ProcessId,
        program: F,
    ) -> impl std::future::Future<Output = ()> + 'static
    where
        F: std::future::Future<Output = ()> + 'static,
    {
        *self
            .objects
            .borrow_mut()
            .live_tasks
            .entry(process)
            .or_insert(0) += 1;
        let kernel = self.clone();
        async move {
            program.await;
            let left = {
                let mut objects = kernel.objects.borrow_mut();
                let count = objects.live_tasks.entry(process).or_insert(1);
                *count -= 1;
                *count
            };
            if left == 0 {
                kernel.cx.syscall("exit").await;
                kernel.exit_files(process).await;
            }
        }
    }

    /// `pthread_create()` / `clone(CLONE_FILES|…)`: a new task in the caller's process
    /// running `program`, pinned to `pin` or free to migrate. It starts before the
    /// machine's next step.
    pub fn spawn_thread<F, P>(
        self: &Rc<Self>,
        name: &str,
        pin: Option<sim::CpuId>,
        program: P,
    ) -> TaskId
    where
        P: FnOnce(Rc<Kernel<G>>) -> F,
        F: std::future::Future<Output = ()> + 'static,
    {
        let process = self.current_process();
        let body = self.task_body(process, program(self.clone()));
        let task = self.cx.spawn_task(name.to_string(), pin, body);
        self.register_task(task, process);
        task
    }

    /// The calling task's process.
    pub fn current_process(&self) -> ProcessId {
        let task = self.cx.current().expect("syscalls run in task context");
        self.objects.borrow().tasks[&task].process
    }

    pub fn current_task_info(&self) -> TaskInfo {
        let task = self.cx.current().expect("syscalls run in task context");
        self.objects.borrow().tasks[&task].clone()
    }

    /// Reports a stale handle as the kernel would crash on it (KASAN-style).
    #[cold]
    #[inline(never)]
    pub fn report_stale(&self, what: &str, error: ArenaError) {
        let kind = if error.double_free {
            ReportKind::DoubleFree
        } else {
            ReportKind::UseAfterFree
        };
        self.cx.report(kind, format!("{what}: {error}"), vec![]);
    }

    /// Reads an object of the arena `arena` selects through `f`, reporting a
    /// use-after-free (KASAN-style) if the handle is stale.
    #[inline]
    fn with_object<T, R>(
        &self,
        what: &str,
        arena: impl FnOnce(&Objects) -> &sim::arena::Arena<T>,
        handle: sim::arena::Handle<T>,
        f: impl FnOnce(&T) -> R,
    ) -> Option<R> {
        let objects = self.objects.borrow();
        let result = arena(&objects).get(handle).map(f);
        drop(objects);
        result.map_err(|error| self.report_stale(what, error)).ok()
    }

    /// As [`Kernel::with_object`], mutably.
    #[inline]
    fn with_object_mut<T, R>(
        &self,
        what: &str,
        arena: impl FnOnce(&mut Objects) -> &mut sim::arena::Arena<T>,
        handle: sim::arena::Handle<T>,
        f: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        let mut objects = self.objects.borrow_mut();
        let result = arena(&mut objects).get_mut(handle).map(f);
        drop(objects);
        result.map_err(|error| self.report_stale(what, error)).ok()
    }

    /// Reads an epitem's fields through `f`, reporting a use-after-free if it is gone.
    #[inline]
    pub fn with_epi<R>(&self, epi: EpitemId, f: impl FnOnce(&Epitem) -> R) -> Option<R> {
        self.with_object("epitem", |o| &o.epitems, epi, f)
    }

    #[inline]
    pub fn with_epi_mut<R>(&self, epi: EpitemId, f: impl FnOnce(&mut Epitem) -> R) -> Option<R> {
        self.with_object_mut("epitem", |o| &mut o.epitems, epi, f)
    }

    #[inline]
    pub fn with_ep<R>(&self, ep: EventPollId, f: impl FnOnce(&EventPoll) -> R) -> Option<R> {
        self.with_object("eventpoll", |o| &o.eventpolls, ep, f)
    }

    #[inline]
    pub fn with_ep_mut<R>(
        &self,
        ep: EventPollId,
        f: impl FnOnce(&mut EventPoll) -> R,
    ) -> Option<R> {
        self.with_object_mut("eventpoll", |o| &mut o.eventpolls, ep, f)
    }

    #[inline]
    pub fn with_file<R>(&self, file: FileId, f: impl FnOnce(&File) -> R) -> Option<R> {
        self.with_object("struct file", |o| &o.files, file, f)
    }

    #[inline]
    pub fn with_file_mut<R>(&self, file: FileId, f: impl FnOnce(&mut File) -> R) -> Option<R> {
        self.with_object_mut("struct file", |o| &mut o.files, file, f)
    }

    /// `ep_item_from_wait()`: the epitem behind an eppoll_entry.
    #[inline]
    pub fn pwq_base(&self, pwq: PwqId) -> Option<EpitemId> {
        let objects = self.objects.borrow();
        match objects.pwqs.get(pwq) {
            Ok(p) => Some(p.base),
            Err(error) => {
                drop(objects);
                self.report_stale("eppoll_entry", error);
                None
            }
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

/// Handles travel through a wait entry's `data` as index and generation.
pub fn encode_handle<T>(handle: sim::arena::Handle<T>) -> u64 {
    ((handle.index as u64) << 32) | handle.generation as u64
}

pub fn decode_handle<T>(data: u64) -> sim::arena::Handle<T> {
    let mut handle = sim::arena::Handle::<T>::DANGLING;
    handle.index = (data >> 32) as u32;
    handle.generation = data as u32;
    handle
}
