//! Typed identifiers. Every object in a machine is named by a small integer that is
//! stable for the run (allocation order), so traces and reports never show pointers.

use std::fmt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $inner:ty, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $inner);

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// A virtual CPU, `0..cpus`.
    CpuId, u16, "cpu"
);
id_type!(
    /// A task, numbered in spawn order from 0.
    TaskId, u32, "task"
);
id_type!(
    /// An execution context: a task's kernel stack or one interrupt handler invocation.
    ContextId, u32, "ctx"
);
id_type!(
    /// A lock instance (spinlock, rwlock, rw_semaphore or mutex).
    LockId, u32, "lock"
);
id_type!(
    /// A lock class, in lockdep's sense: locks created at the same place share one.
    LockClassId, u32, "class"
);
id_type!(
    /// A pending timer or external event.
    EventId, u32, "event"
);
id_type!(
    /// A wait queue head.
    WaitQueueId, u32, "wq"
);
