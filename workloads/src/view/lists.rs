//! The lists at a record, rebuilt in Rust from a watched run's log of changes: what the
//! page draws, computed apart from the page (the browser tests compare the two), and the
//! text `epsim view --at` could print.

use sim::mem::Word;
use sim::observe::Change;

use crate::view::Observed;

/// Memory as it was after some record: every word's value and its block.
#[derive(Clone, Debug, Default)]
pub struct MemoryImage {
    pub values: Vec<u64>,
    /// (start, kind, id, fields, freed)
    pub blocks: Vec<(Word, &'static str, u64, &'static [&'static str], bool)>,
}

impl MemoryImage {
    /// Memory after `records` trace records (0: as built, before any).
    pub fn after(observed: &Observed, records: usize) -> MemoryImage {
        let mut image = MemoryImage::default();
        for observation in &observed.observations {
            if observation.after_records > records {
                break;
            }
            match &observation.change {
                Change::Alloc {
                    start,
                    kind,
                    id,
                    fields,
                } => {
                    let end = start.0 as usize + fields.len();
                    if image.values.len() < end {
                        image.values.resize(end, 0);
                    }
                    image.blocks.push((*start, kind, *id, fields, false));
                }
                Change::Free { start } => {
                    if let Some(block) = image.blocks.iter_mut().find(|b| b.0 == *start) {
                        block.4 = true;
                    }
                }
                Change::Store { word, value } => {
                    let index = word.0 as usize;
                    if image.values.len() <= index {
                        image.values.resize(index + 1, 0);
                    }
                    image.values[index] = *value;
                }
                _ => {}
            }
        }
        image
    }

    /// The block holding `word` and the word's field name.
    pub fn field_of(&self, word: Word) -> Option<(&'static str, u64, &'static str)> {
        self.blocks
            .iter()
            .find_map(|&(start, kind, id, fields, _)| {
                let offset = word.0.checked_sub(start.0)? as usize;
                fields.get(offset).map(|field| (kind, id, *field))
            })
    }

    /// The word of field `field` of the block (`kind`, `id`).
    pub fn word_of(&self, kind: &str, id: u64, field: &str) -> Option<Word> {
        self.blocks.iter().find_map(|&(start, k, i, fields, _)| {
            if k != kind || i != id {
                return None;
            }
            let offset = fields.iter().position(|f| *f == field)?;
            Some(start.offset(offset as u32))
        })
    }

    /// The items on the doubly linked list whose head is `kind id`'s `field`, in `next`
    /// order, as `epitem3` (at most `limit`; a cycle that misses the head stops there).
    pub fn list_items(&self, kind: &str, id: u64, field: &str, limit: usize) -> Vec<String> {
        let Some(head) = self.word_of(kind, id, &format!("{field}.next")) else {
            return Vec::new();
        };
        let mut items = Vec::new();
        let mut next = self.values[head.0 as usize];
        while items.len() < limit {
            let Some(word) = Word::from_address(next) else {
                break;
            };
            if word == head {
                break;
            }
            let Some((kind, id, _)) = self.field_of(word) else {
                break;
            };
            items.push(format!("{kind}{id}"));
            next = self.values.get(word.0 as usize).copied().unwrap_or(0);
        }
        items
    }
}
