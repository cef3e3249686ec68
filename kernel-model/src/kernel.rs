//! The simulated kernel: options, object tables, and the glue between the port and the
//! machine (object access with use-after-free reports, task registration, wake-up
//! callback dispatch).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use sim::arena::ArenaError;
use sim::{Cx, Granularity, LockId, LockKind, Name, ReportKind, TaskId};

use crate::inject::Injection;
use crate::objects::{
    Epitem, EpitemId, EventPoll, EventPollId, File, FileId, Objects, ProcessId, PwqId, TaskInfo,
    STACK_FIELDS,
};
pub use crate::version::{EpollFileSource, KernelVersion};

/// `MAX_SCHEDULE_TIMEOUT` (LONG_MAX).
pub const MAX_SCHEDULE_TIMEOUT: u64 = i64::MAX as u64;

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
    pub modern: RefCell<crate::objects::EventpollGlobals>,
    /// The kernel's own `Rc`, for code that must hand the machine a future that outlives
    /// the call (a timer's handler).
    self_ref: std::rc::Weak<Kernel<G>>,
}

impl<G: Granularity> Kernel<G> {
    /// Sleeps until woken or until `deadline` (virtual ns; `None`: no deadline); false
    /// when the deadline has passed or its timer fired, true when woken before it. What
    /// 6.18's `schedule_hrtimeout_range` does for `ep_poll` and `poll_schedule_timeout`
    /// for poll(2). Simplified: the hrtimer (and the task's slack) is the machine's
    /// jiffy timer, so the sleep is rounded up to a whole jiffy.
    pub(crate) async fn schedule_until(&self, deadline: Option<u64>) -> bool {
        let cx = &self.cx;
        let Some(deadline) = deadline else {
            cx.schedule().await;
            return true;
        };
        let now = cx.now_ns();
        if deadline <= now {
            return false;
        }
        let jiffy_ns = 1_000_000_000 / u64::from(cx.hz());
        cx.schedule_timeout((deadline - now).div_ceil(jiffy_ns))
            .await
            != 0
    }

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
            modern: RefCell::new(crate::objects::EventpollGlobals::default()),
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
                in_eventfd: false,
                poll_entries: Vec::new(),
                poll_triggered: false,
            },
        );
    }

    /// Marks the current task as inside a transfer on `ep` (for the reachability checker).
    pub(crate) fn set_in_transfer(&self, ep: Option<EventPollId>) {
        if let Some(task) = self.cx.current() {
            if let Some(info) = self.objects.borrow_mut().tasks.get_mut(&task) {
                info.in_transfer = ep;
            }
        }
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

    /// The number that names an epitem in narration and reports (`epitem{N}`): its
    /// object id, the one its block of memory carries (`epitem{N}.rdllink.next` at access
    /// granularity, and in the step-through view), unique over the run — a slot number
    /// would name two items alike once a slot is reused. Reads without reporting; a freed
    /// item keeps its number ([`Objects::freed_epitem_ids`]); should the objects be
    /// borrowed elsewhere, the item is named by its slot, saying so.
    pub fn epitem_id(&self, epi: EpitemId) -> String {
        match self.objects.try_borrow() {
            Ok(objects) => match objects.epitems.get(epi) {
                Ok(item) => item.id.to_string(),
                Err(_) => match objects.freed_epitem_ids.get(&(epi.index, epi.generation)) {
                    Some(id) => id.to_string(),
                    None => format!("(freed, slot {})", epi.index),
                },
            },
            Err(_) => format!("(slot {})", epi.index),
        }
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
