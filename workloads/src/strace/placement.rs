//! Where the outside events a call saw land, relative to that call.
//!
//! The importer places every outside event just before the first call that saw it (the
//! latest point consistent with the calls on its own file). Data from a real network
//! can also land *inside* that call: after an epoll wait's first scan found nothing
//! ready and the task went to sleep, an arrival is added at the tail of an empty ready
//! list — so the wait reports the arrivals in the order they came, ahead of any
//! level-triggered item the first scan dropped and that became ready again later. A
//! [`Placement`] says, for the calls it names, which of their outside events land while
//! the call waits instead of before it; `epsim replay` searches for one under which
//! every recorded result is matched (`crate::import_cmd`), and `epsim import --place`
//! writes the scenario it found.
//!
//! Text form: `LINE=PHASES[,LINE=PHASES...]`, `LINE` the recording's line where the call
//! returned, `PHASES` one letter per outside event the call saw, in the order the
//! importer lists them in the call's `at` block: `b` before the call, `w` while it
//! waits. Example: `31371=wwb,31381=wwww`.

use std::collections::BTreeMap;

/// Where one outside event lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Before the call (at its time minus [`super::world::OUTSIDE_LEAD_NS`]): the default.
    Before,
    /// While the call runs: [`WAIT_OFFSET_NS`] after it starts. A call that sleeps
    /// (an epoll wait whose first scan found nothing ready) is woken by it; a call that
    /// does not sleep has returned by then, so the event lands after it.
    Waiting,
}

impl Phase {
    fn letter(self) -> char {
        match self {
            Phase::Before => 'b',
            Phase::Waiting => 'w',
        }
    }

    fn from_letter(letter: char) -> Option<Phase> {
        match letter {
            'b' => Some(Phase::Before),
            'w' => Some(Phase::Waiting),
            _ => None,
        }
    }
}

/// How long after a call's time its [`Phase::Waiting`] events are due. The task wakes
/// from its `sleep until` and enters the call about 1.6 µs after that time (the timer,
/// a context switch); at `syscall` granularity the call then runs to completion or to
/// its first sleep in one step, so an event due after the entry lands after the first
/// scan, even on the other (idle) CPU. It stays below the lead of the next call's own
/// events ([`super::world::OUTSIDE_LEAD_NS`] before a call at least
/// [`super::world::LINE_NS`] later), so it never passes them.
pub const WAIT_OFFSET_NS: u64 = 4_000;

/// The most outside events one call's placement may name.
pub const EVENTS_PER_CALL_MAX: usize = 64;

/// The most calls a placement may name.
pub const CALLS_MAX: usize = 100_000;

/// Phases of the outside events of some calls, by the recording's line where each call
/// returned. A call not named has every event [`Phase::Before`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    calls: BTreeMap<usize, Vec<Phase>>,
}

impl Placement {
    /// Whether every event is before its call.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The phase of event `index` of the call that returned on line `line`.
    pub fn phase(&self, line: usize, index: usize) -> Phase {
        self.calls
            .get(&line)
            .and_then(|phases| phases.get(index))
            .copied()
            .unwrap_or(Phase::Before)
    }

    /// The phases named for the call that returned on `line`, if any.
    pub fn phases(&self, line: usize) -> Option<&[Phase]> {
        self.calls.get(&line).map(Vec::as_slice)
    }

    /// Sets the phases of one call's events (all `Before` removes the entry).
    pub fn set(&mut self, line: usize, phases: Vec<Phase>) {
        if phases.iter().all(|p| *p == Phase::Before) {
            self.calls.remove(&line);
        } else {
            self.calls.insert(line, phases);
        }
    }

    /// Calls named.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Reads the text form (module documentation); an error says what was expected.
    pub fn parse(text: &str) -> Result<Placement, String> {
        let mut placement = Placement::default();
        let text = text.trim();
        if text.is_empty() {
            return Ok(placement);
        }
        for (position, item) in text.split(',').enumerate() {
            let item = item.trim();
            let Some((line, phases)) = item.split_once('=') else {
                return Err(format!(
                    "placement item {} `{item}`: expected LINE=PHASES (such as 31371=wwb)",
                    position + 1
                ));
            };
            let line: usize = line.trim().parse().map_err(|_| {
                format!(
                    "placement item {} `{item}`: expected a line number before `=`",
                    position + 1
                )
            })?;
            let phases: Option<Vec<Phase>> =
                phases.trim().chars().map(Phase::from_letter).collect();
            let Some(phases) = phases.filter(|p| !p.is_empty() && p.len() <= EVENTS_PER_CALL_MAX)
            else {
                return Err(format!(
                    "placement item {} `{item}`: expected 1 to {EVENTS_PER_CALL_MAX} letters b (before the call) or w (while it waits) after `=`",
                    position + 1
                ));
            };
            if placement.calls.contains_key(&line) {
                return Err(format!(
                    "placement item {} `{item}`: line {line} is named twice",
                    position + 1
                ));
            }
            if placement.calls.len() == CALLS_MAX {
                return Err(format!("a placement names at most {CALLS_MAX} calls"));
            }
            placement.set(line, phases);
        }
        Ok(placement)
    }
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (position, (line, phases)) in self.calls.iter().enumerate() {
            if position > 0 {
                f.write_str(",")?;
            }
            write!(f, "{line}=")?;
            for phase in phases {
                write!(f, "{}", phase.letter())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_all_before_is_no_entry() {
        let p = Placement::parse("31381=wwww, 31371=wwb").unwrap();
        assert_eq!(p.to_string(), "31371=wwb,31381=wwww");
        assert_eq!(p.phase(31371, 2), Phase::Before);
        assert_eq!(p.phase(31371, 0), Phase::Waiting);
        assert_eq!(p.phase(5, 0), Phase::Before);
        assert!(Placement::parse("7=bb").unwrap().is_empty());
        assert!(Placement::parse("").unwrap().is_empty());
    }

    #[test]
    fn malformed_text_names_the_item() {
        for bad in ["x=w", "7", "7=", "7=wq", "7=w,7=b"] {
            let e = Placement::parse(bad).unwrap_err();
            assert!(e.starts_with("placement item"), "{bad}: {e}");
        }
    }
}
