//! Shared memory: 64-bit words with typed handles, and the memory models.
//!
//! Fields of kernel objects that some path touches without the lock that protects them
//! elsewhere live here, as words, so that the order in which their stores become visible
//! to other CPUs is something the machine decides. Everything else may stay an ordinary
//! Rust field of an object owned by the layer above.
//!
//! Models (selected per run, effective only at `access` granularity):
//! - `sc`: every store is visible to every CPU at once.
//! - `tso`: x86-TSO as Owens, Sarkar and Sewell state it ("A better x86 memory model:
//!   x86-TSO", TPHOLs 2009), which is also herdtools7's x86 model: one FIFO store buffer
//!   per CPU; a load reads the newest buffered store of its own CPU to that address, else
//!   memory; locked instructions and `mfence` drain the buffer.
//! - `pso`: SPARC v8 Partial Store Order, operationally ("The SPARC Architecture Manual,
//!   Version 8", appendix K): per-CPU store buffers that are FIFO per address but may
//!   drain stores to different addresses in any order; `smp_wmb` (STBAR) orders all
//!   earlier stores before all later ones; loads are performed in program order, so
//!   `smp_rmb` has nothing to do; atomics and `smp_mb` drain the buffer.
//!
//! Draining one buffered store is a step the scheduler chooses, so weak outcomes are
//! reachable by every strategy.

use std::cell::{RefCell, UnsafeCell};
use std::fmt;

use crate::footprint::{access, FootprintRecorder, Object};
use crate::ids::{CpuId, LockId};
use crate::limits::{STORE_BUFFER_MAX, WORDS_MAX};
use crate::op::Fence;
use crate::report::ReportKind;
use crate::state::{Performed, State};

/// Where word 0 lives. Addresses are what list heads store in each other, so they look
/// like a kernel's direct map and can never be mistaken for `LIST_POISON1`/`2` or NULL.
pub const ADDRESS_BASE: u64 = 0xffff_8100_0000_0000;

/// A shared 64-bit word. Copyable; the handle is the word's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Word(pub u32);

impl Word {
    /// The word's address, as stored in pointer fields such as `list_head.next`.
    pub fn address(self) -> u64 {
        ADDRESS_BASE + 8 * self.0 as u64
    }

    /// The word at `address`, if it is a well-formed word address (not NULL or poison).
    pub fn from_address(address: u64) -> Option<Word> {
        if address < ADDRESS_BASE || !(address - ADDRESS_BASE).is_multiple_of(8) {
            return None;
        }
        let index = (address - ADDRESS_BASE) / 8;
        u32::try_from(index).ok().map(Word)
    }

    /// The word `n` places after this one (a field of the same block).
    pub fn offset(self, n: u32) -> Word {
        Word(self.0 + n)
    }

    /// The word a release of `lock` stores to when the release is a plain store (see
    /// [`crate::lock`]: `spin_unlock` on x86, `spin_unlock`/`write_unlock` on SPARC).
    /// Lock state is object-level, so this word holds no value: it stands in the
    /// releasing CPU's store buffer, FIFO behind the critical section's stores, and
    /// while it is there other CPUs still see the lock held. Past every memory word.
    pub fn lock_release(lock: LockId) -> Word {
        Word(LOCK_WORDS_BASE + lock.0)
    }

    /// The lock whose release word this is, if it is one.
    #[inline(always)]
    pub fn released_lock(self) -> Option<LockId> {
        (self.0 >= LOCK_WORDS_BASE).then(|| LockId(self.0 - LOCK_WORDS_BASE))
    }
}

/// Where [`Word::lock_release`] words start: past [`WORDS_MAX`], so no allocated word.
const LOCK_WORDS_BASE: u32 = WORDS_MAX as u32;

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}", self.0)
    }
}

/// Memory model of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemoryModel {
    Sc,
    Tso,
    Pso,
}

impl MemoryModel {
    pub fn name(self) -> &'static str {
        match self {
            MemoryModel::Sc => "sc",
            MemoryModel::Tso => "tso",
            MemoryModel::Pso => "pso",
        }
    }

    pub fn parse(text: &str) -> Option<MemoryModel> {
        match text {
            "sc" => Some(MemoryModel::Sc),
            "tso" => Some(MemoryModel::Tso),
            "pso" => Some(MemoryModel::Pso),
            _ => None,
        }
    }

    pub const ALL: [MemoryModel; 3] = [MemoryModel::Sc, MemoryModel::Tso, MemoryModel::Pso];
}

/// A named, contiguous block of words: one kernel object's shared fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub start: Word,
    pub fields: &'static [&'static str],
    pub kind: &'static str,
    pub id: u64,
    pub allocated_at_step: u64,
    pub freed_at_step: Option<u64>,
}

/// The kind and field names of a block, shared by every block of that shape.
#[derive(Clone, Copy, Debug)]
struct BlockLayout {
    kind: &'static str,
    fields: &'static [&'static str],
}

/// What memory keeps per block: 32 bytes, where a [`Block`] would take 72 (its two
/// `&'static` slices and the `Option` of its free step). A watched file costs a block
/// or more, so this is per-watch memory; the full [`Block`] is rebuilt when asked for.
#[derive(Clone, Copy, Debug)]
struct BlockRecord {
    start: Word,
    /// Index into `Memory::layouts`.
    layout: u32,
    id: u64,
    allocated_at_step: u64,
    /// [`BlockRecord::LIVE`] until the block is freed.
    freed_at_step: u64,
}

impl BlockRecord {
    /// The free step of a block never freed (no run reaches step `u64::MAX`).
    const LIVE: u64 = u64::MAX;

    fn is_freed(&self) -> bool {
        self.freed_at_step != Self::LIVE
    }
}

/// A growable vector of `Copy` values behind `&self`.
///
/// SAFETY argument: the type is `!Sync` (UnsafeCell), and no method hands out a
/// reference into the vector or calls back into user code while it touches the vector,
/// so no two accesses can overlap even though `push` may reallocate.
struct CellVec<T: Copy> {
    items: UnsafeCell<Vec<T>>,
}

impl<T: Copy> CellVec<T> {
    fn new() -> Self {
        CellVec {
            items: UnsafeCell::new(Vec::new()),
        }
    }

    #[inline(always)]
    fn get(&self, index: usize) -> T {
        // SAFETY: see the type's comment; the shared borrow ends before we return.
        unsafe { (&*self.items.get())[index] }
    }

    #[inline(always)]
    fn set(&self, index: usize, value: T) {
        // SAFETY: see the type's comment; the exclusive borrow ends before we return.
        unsafe { (&mut *self.items.get())[index] = value }
    }

    fn len(&self) -> usize {
        // SAFETY: see the type's comment.
        unsafe { (*self.items.get()).len() }
    }

    fn push(&self, value: T) {
        // SAFETY: see the type's comment.
        unsafe { (*self.items.get()).push(value) }
    }

    fn clear(&self) {
        // SAFETY: see the type's comment.
        unsafe { (*self.items.get()).clear() }
    }

    /// A pointer to the items with write permission, valid until the vector next grows
    /// or is cleared.
    fn as_mut_ptr(&self) -> *mut T {
        // SAFETY: see the type's comment; the exclusive borrow ends before we return.
        unsafe { (*self.items.get()).as_mut_ptr() }
    }
}

/// Direct access to memory for a run of sequentially consistent accesses that no
/// allocation or free can interleave with: what the coarse granularities' synchronous
/// paths (such as the inline list operations) compile to — a bounds and liveness check
/// and a plain load or store, with nothing reloaded between accesses.
pub(crate) struct MemView<'a> {
    values: *mut u64,
    liveness: *const u8,
    len: usize,
    footprint: &'a FootprintRecorder,
    _memory: std::marker::PhantomData<&'a Memory>,
}

impl MemView<'_> {
    /// Whether `word` is allocated and not freed.
    #[inline(always)]
    pub fn is_live(&self, word: Word) -> bool {
        let index = word.0 as usize;
        // SAFETY: `index < len`, and the view's contract keeps both vectors `len` long.
        index < self.len && unsafe { *self.liveness.add(index) } == 1
    }

    /// Whether `word` and the word after it (a `list_head`) are both live.
    #[inline(always)]
    pub fn is_live_pair(&self, word: Word) -> bool {
        let index = word.0 as usize;
        // SAFETY: `index + 1 < len`; see `is_live`. Both liveness bytes in one load.
        index + 1 < self.len
            && unsafe { self.liveness.add(index).cast::<[u8; 2]>().read_unaligned() } == [1, 1]
    }

    /// The two live words of a `list_head` at `address` (`next`, then `prev`), if the
    /// address is one and both are live.
    #[inline(always)]
    pub fn pair_at(&self, address: u64) -> Option<Word> {
        // A misaligned offset rotates its low bits to the top: out of range, like an
        // address below the base (which wraps) or past the end.
        let index = address.wrapping_sub(ADDRESS_BASE).rotate_right(3);
        if index >= self.len.saturating_sub(1) as u64 {
            return None;
        }
        // SAFETY: `index + 1 < len`; see `is_live`. Both liveness bytes in one load.
        let live = unsafe {
            self.liveness
                .add(index as usize)
                .cast::<[u8; 2]>()
                .read_unaligned()
        };
        (live == [1, 1]).then_some(Word(index as u32))
    }

    /// Loads `word`.
    ///
    /// # Safety
    ///
    /// `word` was found live by [`MemView::is_live`] or [`MemView::pair_at`] on this view.
    #[inline(always)]
    pub unsafe fn load(&self, word: Word) -> u64 {
        let index = word.0 as usize;
        debug_assert!(index < self.len);
        self.footprint.access(Object::Word(word), access::READ);
        // SAFETY: in bounds (the caller's check); no reference to the items exists while
        // the view lives.
        unsafe { *self.values.add(index) }
    }

    /// Stores to `word`.
    ///
    /// # Safety
    ///
    /// As for [`MemView::load`].
    #[inline(always)]
    pub unsafe fn store(&self, word: Word, value: u64) {
        let index = word.0 as usize;
        debug_assert!(index < self.len);
        self.footprint.access(Object::Word(word), access::WRITE);
        // SAFETY: as in `load`; the pointer came from `as_mut_ptr`, so it may write.
        unsafe { *self.values.add(index) = value }
    }
}

/// One buffered store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferedStore {
    pub word: Word,
    pub value: u64,
    /// PSO only: stores separated by an `smp_wmb` carry different epochs, and a store
    /// may drain only once every store of an earlier epoch has drained.
    pub epoch: u32,
}

#[derive(Clone, Debug, Default)]
struct StoreBuffer {
    entries: Vec<BufferedStore>,
    epoch: u32,
}

/// The machine's memory.
pub struct Memory {
    model: MemoryModel,
    values: CellVec<u64>,
    /// 0 = never allocated (a wild pointer), 1 = live, 2 = freed.
    liveness: CellVec<u8>,
    /// Blocks in address order (words are never reused, so allocation order).
    blocks: RefCell<Vec<BlockRecord>>,
    /// Every distinct (kind, fields) a block was allocated with, in first-use order. A
    /// handful per machine; kept across `reset`, since a layout is a fact of the code.
    layouts: RefCell<Vec<BlockLayout>>,
    buffers: RefCell<Vec<StoreBuffer>>,
    /// What the step in progress touched, when a strategy asked ([`crate::footprint`]).
    pub footprint: FootprintRecorder,
}

/// Why a word access is invalid. The layer above turns this into a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessError {
    /// The word's block was freed at the given step.
    UseAfterFree { block: Block },
    /// The address is not any allocated word (NULL, poison, out of range).
    Wild { address: u64 },
}

impl Memory {
    pub fn new(model: MemoryModel, cpus: usize) -> Memory {
        Memory {
            model,
            values: CellVec::new(),
            liveness: CellVec::new(),
            blocks: RefCell::new(Vec::new()),
            layouts: RefCell::new(Vec::new()),
            buffers: RefCell::new(vec![StoreBuffer::default(); cpus]),
            footprint: FootprintRecorder::default(),
        }
    }

    pub fn model(&self) -> MemoryModel {
        self.model
    }

    /// A [`MemView`] of sequentially consistent memory.
    ///
    /// # Safety
    ///
    /// While the view lives, no word may be allocated, freed or reset (the vectors must
    /// not move or change length), and no other method may store to memory.
    #[inline(always)]
    pub(crate) unsafe fn view(&self) -> MemView<'_> {
        debug_assert_eq!(self.values.len(), self.liveness.len());
        MemView {
            values: self.values.as_mut_ptr(),
            liveness: self.liveness.as_mut_ptr(),
            len: self.values.len(),
            footprint: &self.footprint,
            _memory: std::marker::PhantomData,
        }
    }

    /// Drops every word and block, keeping capacity (machines are reused by exhaustive search).
    pub fn reset(&self) {
        self.values.clear();
        self.liveness.clear();
        self.blocks.borrow_mut().clear();
        for buffer in self.buffers.borrow_mut().iter_mut() {
            buffer.entries.clear();
            buffer.epoch = 0;
        }
    }

    /// Allocates a block of `fields.len()` words, all zero. Panics past [`WORDS_MAX`],
    /// which is a limit of the machine, not a kernel behaviour.
    pub fn alloc_block(
        &self,
        kind: &'static str,
        id: u64,
        fields: &'static [&'static str],
        step: u64,
    ) -> Word {
        let start = Word(self.values.len() as u32);
        self.footprint.access(Object::Allocator, access::WRITE);
        assert!(
            self.values.len() + fields.len() <= WORDS_MAX,
            "machine memory limit of {WORDS_MAX} words reached"
        );
        for _ in fields {
            self.values.push(0);
            self.liveness.push(1);
        }
        let layout = self.layout_index(kind, fields);
        self.blocks.borrow_mut().push(BlockRecord {
            start,
            layout,
            id,
            allocated_at_step: step,
            freed_at_step: BlockRecord::LIVE,
        });
        start
    }

    /// The index of the layout (`kind`, `fields`), added on first use. Most blocks of
    /// a kind are made by the same line, so the same static slice: compare addresses
    /// first, contents only when they differ.
    fn layout_index(&self, kind: &'static str, fields: &'static [&'static str]) -> u32 {
        let mut layouts = self.layouts.borrow_mut();
        let same = |l: &BlockLayout| {
            (std::ptr::eq(l.fields, fields) || l.fields == fields) && l.kind == kind
        };
        if let Some(position) = layouts.iter().rposition(same) {
            return position as u32;
        }
        layouts.push(BlockLayout { kind, fields });
        (layouts.len() - 1) as u32
    }

    /// The full description of a block record.
    fn describe(&self, record: &BlockRecord) -> Block {
        let layout = self.layouts.borrow()[record.layout as usize];
        Block {
            start: record.start,
            fields: layout.fields,
            kind: layout.kind,
            id: record.id,
            allocated_at_step: record.allocated_at_step,
            freed_at_step: record.is_freed().then_some(record.freed_at_step),
        }
    }

    /// Marks the block that starts at `start` freed. Words are never reused, so a later
    /// access through a stale pointer is always detected (like KASAN's quarantine).
    /// Returns the block as it was, or `None` when no block starts there or it was freed.
    pub fn free_block(&self, start: Word, step: u64) -> Result<Block, Option<Block>> {
        // Every access checks liveness: a free is dependent with everything.
        self.footprint.global();
        let mut blocks = self.blocks.borrow_mut();
        let Ok(position) = blocks.binary_search_by_key(&start, |b| b.start) else {
            return Err(None);
        };
        let record = &mut blocks[position];
        if record.is_freed() {
            return Err(Some(self.describe(record)));
        }
        record.freed_at_step = step;
        let block = self.describe(record);
        for offset in 0..block.fields.len() {
            self.liveness.set(start.0 as usize + offset, 2);
        }
        Ok(block)
    }

    /// The block that contains `word`.
    pub fn block_of(&self, word: Word) -> Option<Block> {
        let blocks = self.blocks.borrow();
        let position = match blocks.binary_search_by_key(&word, |b| b.start) {
            Ok(p) => p,
            Err(0) => return None,
            Err(p) => p - 1,
        };
        let block = self.describe(&blocks[position]);
        (word.0 < block.start.0 + block.fields.len() as u32).then_some(block)
    }

    /// A person-readable name, such as `epitem3.rdllink.next`.
    pub fn name_of(&self, word: Word) -> String {
        if let Some(lock) = word.released_lock() {
            return format!("{lock} (release)");
        }
        match self.block_of(word) {
            Some(block) => {
                let field = block.fields[(word.0 - block.start.0) as usize];
                format!("{}{}.{}", block.kind, block.id, field)
            }
            None => format!("{:#x}", word.address()),
        }
    }

    /// Checks that `word` may be accessed.
    #[inline(always)]
    pub fn check(&self, word: Word) -> Result<(), AccessError> {
        if self.is_live(word) {
            return Ok(());
        }
        Err(self.explain(word))
    }

    /// Whether `word` belongs to a block that is allocated and not freed.
    #[inline(always)]
    pub fn is_live(&self, word: Word) -> bool {
        let index = word.0 as usize;
        index < self.liveness.len() && self.liveness.get(index) == 1
    }

    #[cold]
    fn explain(&self, word: Word) -> AccessError {
        match self.block_of(word) {
            Some(block) => AccessError::UseAfterFree { block },
            None => AccessError::Wild {
                address: word.address(),
            },
        }
    }

    /// Sequentially consistent load: the value in memory. The fast path of the
    /// non-stepping granularities compiles to exactly this indexing.
    #[inline(always)]
    pub fn load_sc(&self, word: Word) -> u64 {
        self.footprint.access(Object::Word(word), access::READ);
        self.values.get(word.0 as usize)
    }

    /// Sequentially consistent store.
    #[inline(always)]
    pub fn store_sc(&self, word: Word, value: u64) {
        self.footprint.access(Object::Word(word), access::WRITE);
        self.values.set(word.0 as usize, value)
    }

    /// What a checker sees at `word` from `cpu`, like [`Memory::load`], except that a word
    /// that was never allocated reads as 0 instead of being out of range (freed words
    /// keep their last value).
    pub fn peek(&self, cpu: CpuId, word: Word) -> u64 {
        if word.0 as usize >= self.values.len() {
            return 0;
        }
        self.load(cpu, word)
    }

    /// Load as seen by `cpu`: its newest buffered store to `word`, else memory.
    #[inline(always)]
    pub fn load(&self, cpu: CpuId, word: Word) -> u64 {
        if self.model != MemoryModel::Sc {
            self.footprint
                .access(Object::Word(word), access::FORWARDING_READ);
            let buffers = self.buffers.borrow();
            if let Some(entry) = buffers[cpu.index()]
                .entries
                .iter()
                .rev()
                .find(|e| e.word == word)
            {
                return entry.value;
            }
            return self.values.get(word.0 as usize);
        }
        self.load_sc(word)
    }

    /// Store by `cpu`: into its buffer under tso/pso, to memory under sc. A full buffer
    /// ([`STORE_BUFFER_MAX`]) first makes its oldest store visible, as a CPU stalls
    /// until one drains.
    #[inline(always)]
    pub fn store(&self, cpu: CpuId, word: Word, value: u64) {
        if self.model == MemoryModel::Sc {
            self.store_sc(word, value);
            return;
        }
        let mut buffers = self.buffers.borrow_mut();
        let buffer = &mut buffers[cpu.index()];
        if buffer.entries.len() >= STORE_BUFFER_MAX {
            self.stall_until_oldest_drains(cpu, buffer);
        }
        self.footprint.push(cpu, word);
        let epoch = buffer.epoch;
        buffer.entries.push(BufferedStore { word, value, epoch });
    }

    /// A store into `cpu`'s full buffer: a real CPU stalls until its oldest store
    /// drains; do exactly that. Which store that is depends on the buffer's whole
    /// history: global.
    #[cold]
    #[inline(never)]
    fn stall_until_oldest_drains(&self, cpu: CpuId, buffer: &mut StoreBuffer) {
        // A real CPU stalls until its oldest store drains; do exactly that. Which
        // store that is depends on the buffer's whole history: global.
        let oldest = buffer.entries.remove(0);
        self.footprint.global();
        self.footprint.pop(cpu, oldest.word);
        self.write_drained(oldest);
    }

    /// `smp_wmb` under pso: later stores may not overtake earlier ones.
    pub fn write_barrier(&self, cpu: CpuId) {
        if self.model == MemoryModel::Pso {
            let mut buffers = self.buffers.borrow_mut();
            let buffer = &mut buffers[cpu.index()];
            self.footprint.barrier(cpu);
            if !buffer.entries.is_empty() {
                buffer.epoch += 1;
            }
        }
    }

    /// Drains `cpu`'s whole buffer in order (a full fence or locked instruction).
    #[inline(always)]
    pub fn drain_all(&self, cpu: CpuId) {
        if self.model != MemoryModel::Sc {
            self.footprint.fence(cpu);
            self.drain_buffer(cpu);
        }
    }

    fn drain_buffer(&self, cpu: CpuId) {
        let mut buffers = self.buffers.borrow_mut();
        let buffer = &mut buffers[cpu.index()];
        for entry in buffer.entries.drain(..) {
            self.footprint.pop(cpu, entry.word);
            self.write_drained(entry);
        }
        buffer.epoch = 0;
    }

    /// Makes a drained store visible: its value in memory, or for a lock's release word
    /// nothing (the lock is free for everyone once the word has left the buffer).
    #[inline(always)]
    fn write_drained(&self, entry: BufferedStore) {
        if entry.word.released_lock().is_none() {
            self.values.set(entry.word.0 as usize, entry.value);
        }
    }

    /// A release of `lock` by `cpu` as the plain store it is (`spin_unlock` on x86): its
    /// [`Word::lock_release`] word joins the buffer. Under pso the caller first orders
    /// it after earlier stores ([`Memory::write_barrier`]), as SPARC's
    /// `membar #StoreStore|#LoadStore` before the store does.
    pub fn store_release(&self, cpu: CpuId, lock: LockId) {
        self.store(cpu, Word::lock_release(lock), 0);
    }

    /// Whether a CPU other than `cpu` still holds a release of `lock` in its store
    /// buffer: then, to `cpu`, the lock still looks held.
    #[inline]
    pub fn release_pending(&self, cpu: CpuId, lock: LockId) -> bool {
        if self.model == MemoryModel::Sc {
            return false;
        }
        let word = Word::lock_release(lock);
        self.buffers
            .borrow()
            .iter()
            .enumerate()
            .any(|(c, b)| c != cpu.index() && b.entries.iter().any(|e| e.word == word))
    }

    /// How many blocks were ever allocated (freed ones included).
    pub fn block_count(&self) -> usize {
        self.blocks.borrow().len()
    }

    /// The `index`th block allocated.
    pub fn block_at(&self, index: usize) -> Block {
        self.describe(&self.blocks.borrow()[index])
    }

    /// Whether a block starts at `word`.
    pub fn block_starts_at(&self, word: Word) -> bool {
        self.blocks
            .borrow()
            .binary_search_by_key(&word, |b| b.start)
            .is_ok()
    }

    /// Calls `read` with every word's value in memory and its liveness byte (0 never
    /// allocated, 1 live, 2 freed), for an observer comparing them with its copy.
    pub fn with_words<R>(&self, read: impl FnOnce(&[u64], &[u8]) -> R) -> R {
        // SAFETY: `read` gets shared slices of the two vectors; it is given no access to
        // `self`, so nothing can store, allocate or free while they are borrowed (the
        // `CellVec` argument: no two accesses overlap).
        unsafe { read(&*self.values.items.get(), &*self.liveness.items.get()) }
    }

    pub fn buffer_is_empty(&self, cpu: CpuId) -> bool {
        self.buffers.borrow()[cpu.index()].entries.is_empty()
    }

    pub fn buffered(&self, cpu: CpuId) -> Vec<BufferedStore> {
        self.buffers.borrow()[cpu.index()].entries.clone()
    }

    /// The word of `cpu`'s oldest buffered store, if any: under tso the only store that
    /// may drain next (what [`Memory::drainable`] lists, without a list).
    #[inline]
    pub fn oldest_buffered(&self, cpu: CpuId) -> Option<Word> {
        self.buffers.borrow()[cpu.index()]
            .entries
            .first()
            .map(|entry| entry.word)
    }

    /// The buffered stores of `cpu` that may drain next, as positions in its buffer:
    /// under tso only the oldest; under pso the oldest store to each address among the
    /// stores of the oldest epoch.
    pub fn drainable(&self, cpu: CpuId, out: &mut Vec<(CpuId, Word)>) {
        let buffers = self.buffers.borrow();
        let entries = &buffers[cpu.index()].entries;
        let Some(first) = entries.first() else {
            return;
        };
        match self.model {
            MemoryModel::Sc => {}
            MemoryModel::Tso => out.push((cpu, first.word)),
            MemoryModel::Pso => {
                let oldest_epoch = first.epoch;
                for (position, entry) in entries.iter().enumerate() {
                    if entry.epoch != oldest_epoch {
                        break;
                    }
                    let earlier_same_word =
                        entries[..position].iter().any(|e| e.word == entry.word);
                    if !earlier_same_word {
                        out.push((cpu, entry.word));
                    }
                }
            }
        }
    }

    /// Drains the oldest buffered store of `cpu` to `word` (tso: `word` is the oldest
    /// entry's). Returns the value written, or `None` if nothing matched.
    #[inline(always)]
    pub fn drain_one(&self, cpu: CpuId, word: Word) -> Option<u64> {
        let mut buffers = self.buffers.borrow_mut();
        let buffer = &mut buffers[cpu.index()];
        // Under tso the drained store is always the oldest: find it without the search.
        let position = if buffer.entries.first().is_some_and(|e| e.word == word) {
            0
        } else {
            buffer.entries.iter().position(|e| e.word == word)?
        };
        // Usually the buffer holds just this store: take it without shifting the rest.
        let entry = if position + 1 == buffer.entries.len() {
            buffer.entries.pop().expect("the position is in the buffer")
        } else {
            buffer.entries.remove(position)
        };
        self.footprint.pop(cpu, entry.word);
        self.write_drained(entry);
        if buffer.entries.is_empty() {
            buffer.epoch = 0;
        }
        Some(entry.value)
    }
}

// ---- the semantics of memory ops -------------------------------------------------------

/// The memory ops as the machine performs them: the liveness check of the accessed word
/// (use-after-free, wild pointers), loads and stores through the model, fences, and
/// atomic read-modify-writes (full barriers), each charged its cost. [`State::perform`]
/// dispatches here.
impl State {
    /// A plain or ONCE load.
    #[inline(always)]
    pub(crate) fn perform_load(&self, cpu: CpuId, word: Word) -> Performed {
        if !self.check_word(word) {
            return Performed::Halt;
        }
        self.charge_current(self.config.costs.load_ns);
        Performed::Value(self.mem.load(cpu, word))
    }

    /// A plain or ONCE store: into the CPU's store buffer under `tso`/`pso`.
    #[inline(always)]
    pub(crate) fn perform_store(&self, cpu: CpuId, word: Word, value: u64) -> Performed {
        if !self.check_word(word) {
            return Performed::Halt;
        }
        self.charge_current(self.config.costs.store_ns);
        self.mem.store(cpu, word, value);
        Performed::Value(0)
    }

    /// `smp_mb()` drains the store buffer; `smp_wmb()` orders earlier stores before later
    /// ones; `smp_rmb()` has nothing to order in these models (loads are performed in
    /// program order) and only costs its time.
    #[inline(always)]
    pub(crate) fn perform_fence(&self, cpu: CpuId, fence: Fence) -> Performed {
        let costs = &self.config.costs;
        match fence {
            Fence::Full => {
                self.mem.drain_all(cpu);
                self.charge_current(costs.full_fence_ns);
            }
            Fence::Write => {
                self.mem.write_barrier(cpu);
                self.charge_current(costs.light_fence_ns);
            }
            Fence::Read => self.charge_current(costs.light_fence_ns),
        }
        Performed::Value(0)
    }

    /// Checks a word access, reporting `use-after-free` (or a wild access as
    /// `list-corruption`: in kernel code it is a poisoned or garbage pointer).
    /// Inlined: every access at access granularity checks its word, and a live word is
    /// one comparison and one byte load.
    #[inline(always)]
    pub fn check_word(&self, word: Word) -> bool {
        self.mem.is_live(word) || self.report_bad_access(word)
    }

    /// [`State::check_word`] for a word that is not live: reports the bad access and
    /// answers, like `check_word`, whether the access may go on.
    #[cold]
    #[inline(never)]
    fn report_bad_access(&self, word: Word) -> bool {
        match self.mem.check(word) {
            Ok(()) => true,
            Err(AccessError::UseAfterFree { block }) => {
                let field = block.fields[(word.0 - block.start.0) as usize];
                self.report(
                    ReportKind::UseAfterFree,
                    format!(
                        "access to {}{}.{} after it was freed",
                        block.kind, block.id, field
                    ),
                    vec![
                        format!("allocated at step {}", block.allocated_at_step),
                        format!("freed at step {}", block.freed_at_step.unwrap_or(0)),
                    ],
                );
                false
            }
            Err(AccessError::Wild { address }) => {
                self.report(
                    ReportKind::ListCorruption,
                    format!(
                        "dereference of {address:#x}, which is no object (NULL, poison or garbage)"
                    ),
                    vec![],
                );
                false
            }
        }
    }

    #[inline(always)]
    pub(crate) fn atomic(
        &self,
        cpu: CpuId,
        word: Word,
        update: impl FnOnce(u64) -> u64,
        result: impl FnOnce(u64, u64) -> u64,
    ) -> Performed {
        if !self.check_word(word) {
            return Performed::Halt;
        }
        self.atomic_live(cpu, word, update, result)
    }

    /// [`State::atomic`] on a word already known to be live.
    #[inline(always)]
    pub(crate) fn atomic_live(
        &self,
        cpu: CpuId,
        word: Word,
        update: impl FnOnce(u64) -> u64,
        result: impl FnOnce(u64, u64) -> u64,
    ) -> Performed {
        self.mem.drain_all(cpu);
        self.charge_current(self.config.costs.atomic_ns);
        let old = self.mem.load_sc(word);
        let new = update(old);
        self.mem.store_sc(word, new);
        Performed::Value(result(old, new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["a", "b"];

    #[test]
    fn tso_forwards_own_stores_and_hides_them_from_others() {
        let memory = Memory::new(MemoryModel::Tso, 2);
        let x = memory.alloc_block("obj", 0, FIELDS, 0);
        memory.store(CpuId(0), x, 7);
        assert_eq!(memory.load(CpuId(0), x), 7);
        assert_eq!(memory.load(CpuId(1), x), 0);
        memory.drain_all(CpuId(0));
        assert_eq!(memory.load(CpuId(1), x), 7);
    }

    #[test]
    fn pso_lets_different_addresses_drain_out_of_order_unless_fenced() {
        let memory = Memory::new(MemoryModel::Pso, 1);
        let x = memory.alloc_block("obj", 0, FIELDS, 0);
        let y = x.offset(1);
        memory.store(CpuId(0), x, 1);
        memory.store(CpuId(0), y, 1);
        let mut out = Vec::new();
        memory.drainable(CpuId(0), &mut out);
        assert_eq!(out, vec![(CpuId(0), x), (CpuId(0), y)]);
        memory.drain_all(CpuId(0));
        memory.store(CpuId(0), x, 2);
        memory.write_barrier(CpuId(0));
        memory.store(CpuId(0), y, 2);
        out.clear();
        memory.drainable(CpuId(0), &mut out);
        assert_eq!(out, vec![(CpuId(0), x)]);
    }

    #[test]
    fn freed_words_are_detected_and_named() {
        let memory = Memory::new(MemoryModel::Sc, 1);
        let x = memory.alloc_block("epitem", 3, FIELDS, 5);
        assert_eq!(memory.name_of(x.offset(1)), "epitem3.b");
        assert!(memory.check(x).is_ok());
        memory.free_block(x, 9).unwrap();
        match memory.check(x) {
            Err(AccessError::UseAfterFree { block }) => assert_eq!(block.freed_at_step, Some(9)),
            other => panic!("{other:?}"),
        }
        assert!(memory.free_block(x, 10).is_err());
        assert!(matches!(
            memory.check(Word(99)),
            Err(AccessError::Wild { .. })
        ));
    }

    #[test]
    fn poison_is_not_an_address() {
        assert_eq!(Word::from_address(0x0010_0100), None);
        assert_eq!(Word::from_address(0), None);
        assert_eq!(Word::from_address(Word(5).address()), Some(Word(5)));
    }
}
