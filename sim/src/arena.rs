//! Typed arenas with generation-checked handles, for kernel objects (epitems, files,
//! wait-queue entries). A stale handle is a use-after-free and a second free a double
//! free, each reported with the steps that allocated and freed the object, like KASAN.
//! Keys are reused in a deterministic (LIFO) order, and handles print as `name#index`.

use std::fmt;
use std::marker::PhantomData;

use slab::Slab;

/// A handle to an object in an [`Arena`].
pub struct Handle<T> {
    pub index: u32,
    pub generation: u32,
    _type: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    /// A handle no arena ever returns (for "none" fields that must hold a handle).
    pub const DANGLING: Handle<T> = Handle {
        index: u32::MAX,
        generation: u32::MAX,
        _type: PhantomData,
    };
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Handle<T> {}
impl<T> PartialEq for Handle<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.index, self.generation) == (other.index, other.generation)
    }
}
impl<T> Eq for Handle<T> {}
impl<T> PartialOrd for Handle<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Handle<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.index, self.generation).cmp(&(other.index, other.generation))
    }
}
impl<T> std::hash::Hash for Handle<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.index, self.generation).hash(state)
    }
}
impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.index, self.generation)
    }
}

/// What went wrong with a handle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArenaError {
    pub double_free: bool,
    pub arena: &'static str,
    pub index: u32,
    pub allocated_at_step: u64,
    pub freed_at_step: Option<u64>,
}

impl fmt::Display for ArenaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.double_free {
            "double free"
        } else {
            "use after free"
        };
        write!(
            f,
            "{what} of {}#{} (allocated at step {}",
            self.arena, self.index, self.allocated_at_step
        )?;
        match self.freed_at_step {
            Some(step) => write!(f, ", freed at step {step})"),
            None => write!(f, ")"),
        }
    }
}

/// 20 bytes per slot: packed to 4-byte alignment, and the free step a sentinel rather
/// than an `Option` (which would make it 32). Every kernel object has one, so this is
/// per-watch memory. Fields are only ever copied or assigned, never borrowed.
#[derive(Clone, Copy, Debug)]
#[repr(C, packed(4))]
struct SlotHistory {
    generation: u32,
    allocated_at_step: u64,
    /// [`SlotHistory::NOT_FREED`] while the slot's object is live.
    freed_at_step: u64,
}

impl SlotHistory {
    /// The free step of an object never freed (no run reaches step `u64::MAX`).
    const NOT_FREED: u64 = u64::MAX;

    fn freed_at(&self) -> Option<u64> {
        (self.freed_at_step != Self::NOT_FREED).then_some(self.freed_at_step)
    }
}

/// An arena of `T`.
pub struct Arena<T> {
    name: &'static str,
    slots: Slab<T>,
    history: Vec<SlotHistory>,
}

impl<T> Arena<T> {
    pub fn new(name: &'static str) -> Arena<T> {
        Arena {
            name,
            slots: Slab::new(),
            history: Vec::new(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Forgets every object and every slot's history, keeping capacity (for a machine
    /// that is reset to run again): handles from before are meaningless afterwards.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.history.clear();
    }

    pub fn alloc(&mut self, value: T, step: u64) -> Handle<T> {
        let index = self.slots.insert(value);
        if index == self.history.len() {
            self.history.push(SlotHistory {
                generation: 0,
                allocated_at_step: step,
                freed_at_step: SlotHistory::NOT_FREED,
            });
        } else {
            let h = &mut self.history[index];
            h.generation += 1;
            h.allocated_at_step = step;
            h.freed_at_step = SlotHistory::NOT_FREED;
        }
        Handle {
            index: index as u32,
            generation: self.history[index].generation,
            _type: PhantomData,
        }
    }

    #[cold]
    #[inline(never)]
    fn error(&self, handle: Handle<T>, double_free: bool) -> ArenaError {
        let history = self.history.get(handle.index as usize);
        let current = history.is_some_and(|h| h.generation == handle.generation);
        ArenaError {
            double_free,
            arena: self.name,
            index: handle.index,
            allocated_at_step: history.map_or(0, |h| h.allocated_at_step),
            // A reused slot's history describes its new occupant; the stale handle's
            // object was freed at some earlier step we no longer know exactly.
            freed_at_step: if current {
                history.and_then(|h| h.freed_at())
            } else {
                None
            },
        }
    }

    fn is_live(&self, handle: Handle<T>) -> bool {
        let index = handle.index as usize;
        self.slots.contains(index) && self.history[index].generation == handle.generation
    }

    #[inline]
    pub fn get(&self, handle: Handle<T>) -> Result<&T, ArenaError> {
        let index = handle.index as usize;
        match self.slots.get(index) {
            Some(value) if self.history[index].generation == handle.generation => Ok(value),
            _ => Err(self.error(handle, false)),
        }
    }

    #[inline]
    pub fn get_mut(&mut self, handle: Handle<T>) -> Result<&mut T, ArenaError> {
        if !self.is_live(handle) {
            return Err(self.error(handle, false));
        }
        Ok(&mut self.slots[handle.index as usize])
    }

    pub fn free(&mut self, handle: Handle<T>, step: u64) -> Result<T, ArenaError> {
        if !self.is_live(handle) {
            return Err(self.error(handle, true));
        }
        self.history[handle.index as usize].freed_at_step = step;
        Ok(self.slots.remove(handle.index as usize))
    }

    pub fn contains(&self, handle: Handle<T>) -> bool {
        self.is_live(handle)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Live objects in index order, with the step that allocated each (for leak reports).
    pub fn live(&self) -> impl Iterator<Item = (Handle<T>, &T, u64)> + '_ {
        self.slots.iter().map(|(index, value)| {
            let h = self.history[index];
            (
                Handle {
                    index: index as u32,
                    generation: h.generation,
                    _type: PhantomData,
                },
                value,
                h.allocated_at_step,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_handles_and_double_frees_are_caught() {
        let mut arena: Arena<&str> = Arena::new("epitem");
        let a = arena.alloc("a", 1);
        assert_eq!(*arena.get(a).unwrap(), "a");
        arena.free(a, 5).unwrap();
        let error = arena.get(a).unwrap_err();
        assert!(!error.double_free);
        assert_eq!(error.freed_at_step, Some(5));
        let error = arena.free(a, 6).unwrap_err();
        assert!(error.double_free);
        let b = arena.alloc("b", 7);
        assert_eq!(b.index, a.index, "keys are reused deterministically");
        assert!(
            arena.get(a).is_err(),
            "the old handle stays stale after reuse"
        );
        assert_eq!(arena.live().count(), 1);
    }
}
