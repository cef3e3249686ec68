//! What a watched run leaves for its view besides the trace records: the machine's log
//! of changes (`sim::observe`) and the names the page shows for the ids in it.

use kernel_model::view_layout::{self, ItemDescription, ListDescription, WakeFunctionName};
use kernel_model::World;
use sim::observe::{Change, Observation};
use sim::waitq::WakeFunction;
use sim::{Granularity, LockId, LockKind};

/// A watched run's changes and the names of what they mention.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub observations: Vec<Observation>,
    /// Each lock's name (`ep4->lock`) and kind, by lock id.
    pub locks: Vec<(String, &'static str)>,
    /// Each execution context described (`task1`, `interrupt `data` on cpu0 over task2`),
    /// by context id.
    pub contexts: Vec<String>,
    /// Each task's name, by task id.
    pub tasks: Vec<String>,
    /// Each wait queue's name (its lock's: `pipe6->wait`), by wait-queue id.
    pub waitqueues: Vec<String>,
    /// Every wake function a wait-queue entry had, named as when its entry was made.
    pub wake_functions: Vec<(WakeFunction, WakeFunctionName)>,
    /// The version's lists and items ([`kernel_model::view_layout`]).
    pub lists: &'static [ListDescription],
    pub item: Option<ItemDescription>,
}

fn lock_kind_name(kind: LockKind) -> &'static str {
    match kind {
        LockKind::Spin => "spinlock",
        LockKind::RwLock => "rwlock",
        LockKind::RwSem => "rw_semaphore",
        LockKind::Mutex => "mutex",
    }
}

/// Collects what `world`'s watched run observed, with names. Call it after the run and
/// before the trace records are taken.
pub fn observe_world<G: Granularity>(world: &World<G>) -> Observed {
    let machine = world.machine();
    let observations = machine.observations();
    let state = machine.state();
    let locks = state.locks.borrow();
    let lock_names = (0..locks.locks.len())
        .map(|index| {
            let id = LockId(index as u32);
            (
                locks.name(id).to_string(),
                lock_kind_name(locks.get(id).kind),
            )
        })
        .collect();
    let contexts_slab = state.contexts.borrow();
    let mut contexts = Vec::new();
    for (key, context) in contexts_slab.iter() {
        if contexts.len() <= key {
            contexts.resize(key + 1, String::new());
        }
        contexts[key] = sim::state::describe_context(context);
    }
    let tasks = state
        .tasks
        .borrow()
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let waitqueues = state
        .waitqueues
        .borrow()
        .heads
        .iter()
        .map(|head| locks.name(head.lock).to_string())
        .collect();
    drop(locks);
    drop(contexts_slab);
    let kernel = world.kernel();
    let mut wake_functions: Vec<(WakeFunction, WakeFunctionName)> = Vec::new();
    for observation in &observations {
        if let Change::WaitQueue { entries, .. } = &observation.change {
            for entry in entries {
                if !wake_functions.iter().any(|(f, _)| *f == entry.func) {
                    let name = view_layout::describe_wake_function(&kernel, entry.func);
                    wake_functions.push((entry.func, name));
                }
            }
        }
    }
    let version = kernel.options.version;
    Observed {
        observations,
        locks: lock_names,
        contexts,
        tasks,
        waitqueues,
        wake_functions,
        lists: view_layout::lists(version),
        item: Some(view_layout::item(version)),
    }
}
