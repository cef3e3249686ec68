//! Delta debugging over calls: remove chunks of calls (halves, quarters, ... single
//! calls) while the program still diverges the same way, re-running both sides for
//! every candidate. "The same way": the host runs to the end (a candidate that blocks
//! on the host is useless as a scenario) and the first divergent call is of the same
//! system call as the original's.

use std::mem::discriminant;

use super::program::Call;
use super::{native, CliError, Sides};

/// Candidates tried at most (each is one fork and one simulated run).
const CANDIDATES_MAX: usize = 5000;

fn diverges_like(sides: &mut Sides, calls: &[Call], like: &Call) -> Result<bool, CliError> {
    let compared = sides.compare(calls)?;
    Ok(compared.host_end == native::HostEnd::Completed
        && compared
            .divergence
            .is_some_and(|d| discriminant(&calls[d.call]) == discriminant(like)))
}

/// A smaller program that diverges like `calls` does (the whole of `calls` when no
/// call can go).
pub fn shrink(sides: &mut Sides, calls: &[Call]) -> Result<Vec<Call>, CliError> {
    let original = sides.compare(calls)?;
    let Some(divergence) = original.divergence else {
        return Ok(calls.to_vec());
    };
    let like = calls[divergence.call].clone();
    // Everything after the divergent call is irrelevant.
    let mut current: Vec<Call> = calls[..=divergence.call].to_vec();
    let mut tried = 0;
    let mut chunk = current.len().div_ceil(2);
    while chunk >= 1 && tried < CANDIDATES_MAX {
        let mut removed_any = false;
        let mut start = 0;
        while start < current.len() && tried < CANDIDATES_MAX {
            let end = (start + chunk).min(current.len());
            let candidate: Vec<Call> = current[..start]
                .iter()
                .chain(&current[end..])
                .cloned()
                .collect();
            tried += 1;
            if !candidate.is_empty() && diverges_like(sides, &candidate, &like)? {
                current = candidate;
                removed_any = true;
            } else {
                start = end;
            }
        }
        if chunk > 1 {
            chunk = chunk.div_ceil(2);
        } else if !removed_any {
            break;
        }
    }
    // Cut the tail after the (possibly moved) divergent call.
    let compared = sides.compare(&current)?;
    if let Some(d) = compared.divergence {
        current.truncate(d.call + 1);
    }
    Ok(current)
}
