//! User memory the syscalls copy to: the `epoll_wait` event buffer.
//!
//! A buffer can be made to fail `access_ok` (EFAULT before anything happens), to fault
//! at the n-th `__put_user` (EFAULT in the middle of a transfer, the path that keeps the
//! items on the ready list), or to need a page fault serviced on first touch (the
//! transfer sleeps in `__put_user` holding `ep->sem` for read).

use sim::{Cx, Granularity};

use crate::errno::{Errno, SysResult};
use crate::poll::EpollEvent;

/// How a user buffer behaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserBufferSpec {
    /// `access_ok()` fails: EFAULT at syscall entry.
    pub bad_address: bool,
    /// `__put_user` of event number n (from 0) faults with EFAULT.
    pub fault_at: Option<usize>,
    /// The first `__put_user` takes a page fault that sleeps (the page is not resident).
    pub not_resident: bool,
}

/// The `struct epoll_event __user *events` of one `epoll_wait`.
#[derive(Clone, Debug)]
pub struct UserEvents {
    pub spec: UserBufferSpec,
    pub events: Vec<EpollEvent>,
    touched: bool,
    fault_service_ns: u64,
}

impl UserEvents {
    pub fn new(spec: UserBufferSpec, fault_service_ns: u64) -> UserEvents {
        UserEvents {
            spec,
            events: Vec::new(),
            touched: false,
            fault_service_ns,
        }
    }

    /// Two `__put_user`s (events, then data) into slot `index`. A point where the task
    /// may fault and sleep.
    pub async fn put_user<G: Granularity>(
        &mut self,
        cx: &Cx<G>,
        index: usize,
        event: EpollEvent,
    ) -> SysResult<()> {
        cx.may_fault().await;
        if self.spec.not_resident && !self.touched {
            self.touched = true;
            cx.note(|| "  __put_user: page fault, sleeping while it is serviced".to_string());
            cx.sleep_for(self.fault_service_ns).await;
        }
        if self.spec.fault_at == Some(index) {
            return Err(Errno::EFAULT);
        }
        if self.events.len() <= index {
            self.events
                .resize(index + 1, EpollEvent { events: 0, data: 0 });
        }
        self.events[index] = event;
        Ok(())
    }
}
