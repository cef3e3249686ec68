//! Timers and external events: interrupts waiting for their virtual time — a
//! `schedule_timeout()`'s `process_timeout`, a sleeping fault's wake-up, and events
//! from the layer above (data arriving on a socket, a signal) — kept in time order
//! until the executor delivers them ([`crate::machine`]).

use crate::ids::{CpuId, EventId, TaskId};
use crate::state::{LocalFuture, State};

/// Builds the future of an external interrupt handler when it is delivered.
pub type HandlerFactory = Box<dyn FnOnce() -> LocalFuture>;

/// What an interrupt does.
pub enum Handler {
    /// `process_timeout`: wake the task whose timer expired.
    Timeout(TaskId),
    /// Code from the layer above (data arriving on a socket, a signal).
    External(Option<HandlerFactory>),
}

/// A timer or external event waiting to be delivered as an interrupt.
pub struct PendingEvent {
    pub id: EventId,
    pub time_ns: u64,
    /// The CPU it must run on, or any CPU with interrupts enabled.
    pub cpu: Option<CpuId>,
    pub label: &'static str,
    pub handler: Handler,
}

impl State {
    /// Arms `task`'s timer: a `process_timeout` (or a sleeping fault's wake-up) at
    /// `expiry_ns` on `cpu`, which the task cancels when it resumes
    /// ([`State::resume`]).
    pub(crate) fn arm_timer(&self, cpu: CpuId, task: TaskId, expiry_ns: u64, label: &'static str) {
        self.mem.footprint.global();
        let id = self.add_event(expiry_ns, Some(cpu), label, Handler::Timeout(task));
        self.tasks.borrow_mut()[task.index()].timer = Some((id, expiry_ns));
    }

    /// Queues an interrupt for `time_ns` (on `cpu`, or any CPU with interrupts
    /// enabled), after every event queued for the same time before it.
    pub fn add_event(
        &self,
        time_ns: u64,
        cpu: Option<CpuId>,
        label: &'static str,
        handler: Handler,
    ) -> EventId {
        self.mem.footprint.global();
        let id = EventId(self.next_event.get());
        self.next_event.set(id.0 + 1);
        let mut events = self.events.borrow_mut();
        let position = events
            .iter()
            .position(|e| (e.time_ns, e.id) > (time_ns, id))
            .unwrap_or(events.len());
        events.insert(
            position,
            PendingEvent {
                id,
                time_ns,
                cpu,
                label,
                handler,
            },
        );
        id
    }

    /// Forgets a queued event (`del_timer`).
    pub fn cancel_event(&self, id: EventId) {
        self.mem.footprint.global();
        self.events.borrow_mut().retain(|e| e.id != id);
    }
}
