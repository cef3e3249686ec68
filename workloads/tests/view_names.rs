//! The names a step-through view shows agree with the narration and hold at each step:
//! an epitem is `epitemN` with one N everywhere (its block of memory, the coarse
//! narration's notes, the checkers' reports), and a wait-queue callback is named by the
//! epitem it was made for, also once that item is freed later in the run.

use std::collections::BTreeSet;

use sim::observe::Change;
use workloads::cli::{CommonOpts, GranularityArg};
use workloads::session::{self, Capture, Executed};

fn watched(scenario: &str, granularity: Option<GranularityArg>) -> Executed {
    let loaded = session::load(scenario).unwrap();
    let common = CommonOpts {
        granularity,
        ..CommonOpts::default()
    };
    let resolved = session::resolve(&loaded, &common).unwrap();
    session::execute_resolved(&loaded, &resolved, Capture::View).unwrap()
}

/// Every `epitemN` in `text`.
fn epitem_names(text: &str) -> Vec<u64> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("epitem") {
        rest = &rest[at + "epitem".len()..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(n) = digits.parse() {
            names.push(n);
        }
    }
    names
}

fn epitem_blocks(run: &Executed) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let observed = run.trace.as_ref().unwrap().observed.as_ref().unwrap();
    let mut allocated = BTreeSet::new();
    let mut starts = Vec::new();
    let mut freed = BTreeSet::new();
    for observation in &observed.observations {
        match &observation.change {
            Change::Alloc {
                start, kind, id, ..
            } if *kind == "epitem" => {
                allocated.insert(*id);
                starts.push((*start, *id));
            }
            Change::Free { start } => {
                if let Some(&(_, id)) = starts.iter().rev().find(|(s, _)| s == start) {
                    freed.insert(id);
                }
            }
            _ => {}
        }
    }
    (allocated, freed)
}

#[test]
fn the_narration_names_each_epitem_as_its_block_of_memory() {
    for granularity in [None, Some(GranularityArg::Access)] {
        let run = watched("seed-case-2-ctl-del", granularity);
        let (blocks, _) = epitem_blocks(&run);
        let lines = &run.trace.as_ref().unwrap().lines;
        let named: BTreeSet<u64> = lines.iter().flat_map(|l| epitem_names(l)).collect();
        assert!(!named.is_empty(), "{granularity:?}: no epitem narrated");
        assert!(
            named.is_subset(&blocks),
            "{granularity:?}: narrated {named:?}, blocks {blocks:?}"
        );
        // The item ep_remove names is the one kmem_cache_free frees.
        let removed = lines
            .iter()
            .find(|l| l.starts_with("ep_remove: "))
            .map(|l| epitem_names(l));
        let freed = lines
            .iter()
            .find(|l| l.contains("kmem_cache_free(epi_cache"))
            .map(|l| epitem_names(l));
        assert!(removed.is_some(), "{granularity:?}: no ep_remove narrated");
        assert_eq!(removed, freed, "{granularity:?}");
    }
}

#[test]
fn a_callback_is_named_by_its_epitem_also_after_the_epitem_is_freed() {
    let run = watched("seed-case-2-ctl-del", None);
    let (_, freed) = epitem_blocks(&run);
    assert!(!freed.is_empty(), "the scenario frees an epitem");
    let observed = run.trace.as_ref().unwrap().observed.as_ref().unwrap();
    let callbacks: Vec<&str> = observed
        .wake_functions
        .iter()
        .map(|(_, name)| name.text.as_str())
        .filter(|text| text.starts_with("ep_poll_callback"))
        .collect();
    assert!(!callbacks.is_empty());
    let mut named_freed = false;
    for (_, name) in &observed.wake_functions {
        if !name.text.starts_with("ep_poll_callback") {
            continue;
        }
        let item = name.item.as_deref().unwrap_or_else(|| panic!("{name:?}"));
        let id: u64 = item.trim_start_matches("epitem").parse().unwrap();
        assert_eq!(name.text, format!("ep_poll_callback({item})"));
        named_freed |= freed.contains(&id);
    }
    assert!(
        named_freed,
        "no callback of a freed epitem was named: {callbacks:?} (freed: {freed:?})"
    );
}
