//! The placement search of `epsim replay FILE.strace`: where did the outside events land?
//!
//! The importer places every outside event just before the first call that saw it. Real
//! data can land inside a call instead — typically while an epoll wait sleeps after its
//! first scan dropped the level-triggered items that were no longer ready — and then the
//! ready list holds the arrivals in another order than the replay's. The search is
//! greedy over the recording, in the order the calls returned: while some recorded
//! result is not matched, it takes the first such call and the calls before it that saw
//! outside events (at most [`CALLS_BACK`], nearest first), and for each tries the
//! placements of that call's events ([`crate::strace::placement`]: each event before the
//! call or while it waits), fewest moved first; a placement is kept as soon as one
//! makes the run match a longer prefix of the recording. Every try is one import and one
//! run with the run options given (the scenario's `timed` strategy by default), so the
//! placement found, the scenario it gives and the run's schedule replay bit for bit.
//! When no placement of those calls within the bound ([`PLACEMENT_RUNS`] runs in all)
//! gets past a call, the search stops there and says so.

use crate::cli::ReplayArgs;
use crate::exit::CliError;
use crate::import_cmd::Attempt;
use crate::strace::placement::Phase;

/// The most runs the placement search makes.
pub const PLACEMENT_RUNS: u64 = 1_000;
/// How many calls that saw outside events, back from the first unmatched call, have
/// their placements tried.
pub const CALLS_BACK: usize = 3;
/// Up to this many events one call saw, every placement of them is tried (2^n − 1);
/// past it only the ones that move a first or a last run of them.
pub const EVERY_PLACEMENT_EVENTS_MAX: usize = 6;

/// What the placement search did.
#[derive(Clone, Debug, Default)]
pub struct PlacementSearch {
    /// Runs made (not counting the first, unplaced one).
    pub runs: u64,
    /// When it stopped at a call it could not get past: why, in words.
    pub stuck: Option<String>,
}

/// Searches placements from `attempt` (the import under the empty placement and its
/// run): the attempt that matched the longest prefix, and what the search did.
pub(crate) fn search_placement(
    text: &str,
    args: &ReplayArgs,
    mut attempt: Attempt,
) -> Result<(Attempt, PlacementSearch), CliError> {
    let mut search = PlacementSearch::default();
    while attempt.comparison.first.is_some() {
        let first = attempt.comparison.prefix;
        let targets: Vec<(usize, usize)> = attempt.import.calls[..=first]
            .iter()
            .rev()
            .filter(|c| c.outside_events > 0)
            .take(CALLS_BACK)
            .map(|c| (c.strace_line, c.outside_events))
            .collect();
        let mut improved = None;
        'targets: for &(line, events) in &targets {
            let current: Vec<Phase> = (0..events)
                .map(|k| attempt.placement.phase(line, k))
                .collect();
            for phases in candidates(events) {
                if phases == current {
                    continue;
                }
                if search.runs >= PLACEMENT_RUNS {
                    break 'targets;
                }
                search.runs += 1;
                let mut placement = attempt.placement.clone();
                placement.set(line, phases);
                let next = Attempt::make(text, args, placement, &args.common)?;
                if next.comparison.prefix > first {
                    improved = Some(next);
                    break 'targets;
                }
            }
        }
        match improved {
            Some(next) => attempt = next,
            None => {
                let events: usize = targets.iter().map(|t| t.1).sum();
                search.stuck = Some(if search.runs >= PLACEMENT_RUNS {
                    format!("the placement search reached its bound of {PLACEMENT_RUNS} runs here")
                } else if targets.is_empty() {
                    "no outside event before it could be placed otherwise".to_string()
                } else {
                    format!(
                        "no placement of the {events} outside events of the {} calls up to it that saw some \
                         (each before its call or while the call waits) makes it match",
                        targets.len()
                    )
                });
                break;
            }
        }
    }
    Ok((attempt, search))
}

/// The placements tried for a call that saw `events` outside events: all before (the
/// importer's, skipped by the caller when current), all while the call waits, then the
/// others, fewest moved first.
fn candidates(events: usize) -> Vec<Vec<Phase>> {
    let of_mask = |mask: u64| -> Vec<Phase> {
        (0..events)
            .map(|k| {
                if mask >> k & 1 == 1 {
                    Phase::Waiting
                } else {
                    Phase::Before
                }
            })
            .collect()
    };
    if events <= EVERY_PLACEMENT_EVENTS_MAX {
        let all = (1u64 << events) - 1;
        let mut masks: Vec<u64> = (0..1u64 << events).collect();
        // All of them while the call waits first: a batch of replies that came back
        // while the server slept is the common case.
        masks.sort_by_key(|m| (*m != 0, *m != all, m.count_ones(), *m));
        return masks.into_iter().map(of_mask).collect();
    }
    let mut out = vec![vec![Phase::Before; events], vec![Phase::Waiting; events]];
    for moved in 1..events {
        let first_run: Vec<Phase> = (0..events)
            .map(|k| {
                if k < moved {
                    Phase::Waiting
                } else {
                    Phase::Before
                }
            })
            .collect();
        let last_run: Vec<Phase> = (0..events)
            .map(|k| {
                if k >= events - moved {
                    Phase::Waiting
                } else {
                    Phase::Before
                }
            })
            .collect();
        out.push(first_run.clone());
        if last_run != first_run {
            out.push(last_run);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_move_fewest_first_and_cover_every_split_of_few_events() {
        let c = candidates(3);
        assert_eq!(c.len(), 8);
        assert_eq!(c[0], vec![Phase::Before; 3]);
        assert_eq!(c[1], vec![Phase::Waiting; 3]);
        assert_eq!(c[2], vec![Phase::Waiting, Phase::Before, Phase::Before]);
        assert_eq!(c[7], vec![Phase::Before, Phase::Waiting, Phase::Waiting]);
        let many = candidates(EVERY_PLACEMENT_EVENTS_MAX + 2);
        assert!(many.len() < 1 << (EVERY_PLACEMENT_EVENTS_MAX + 2));
        assert!(many.contains(&vec![Phase::Waiting; EVERY_PLACEMENT_EVENTS_MAX + 2]));
    }
}
