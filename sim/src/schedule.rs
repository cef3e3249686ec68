//! Schedules: every decision a run took, as one plain value with a compact, versioned,
//! printable encoding.
//!
//! A decision is an index into the canonically ordered list of enabled actions (see
//! [`crate::machine::Action`]); index 0 is always the canonical default (eager drain,
//! then run on, no preemption). A schedule stores only the deviations from the default,
//! plus one 16-bit fingerprint per window of [`FINGERPRINT_INTERVAL`] decisions: a hash
//! of every enabled set in the window and of every choice made from it. A replay checks
//! each window as it closes (and the last, partial one when the run ends), so a replay
//! under changed code or options — or of a schedule whose choices were edited — is
//! caught within one window of the first divergent decision instead of being followed
//! silently. A choice that does not exist (past the enabled set) is caught at once.
//!
//! Text form: `v1.<16 hex digits: hash of scenario and options>.<base64url payload>`,
//! where the payload is LEB128 varints: decision count, deviation count, then for each
//! deviation the gap since the previous one and the choice, then fingerprint count and
//! the fingerprints.

use std::fmt;

use crate::limits::FINGERPRINT_INTERVAL;

/// The encoding version this build writes and reads.
pub const SCHEDULE_VERSION: u8 = 1;

/// One non-default decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deviation {
    /// Index of the decision in the run, from 0.
    pub decision: u64,
    /// Index into the enabled actions (never 0: that is the default).
    pub choice: u32,
}

/// A recorded schedule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Hash of the scenario and every option that affects execution.
    pub config_hash: u64,
    /// Total number of decisions the run took.
    pub decisions: u64,
    pub deviations: Vec<Deviation>,
    /// Fingerprint of each window of decisions `kN .. kN+N-1` (N = FINGERPRINT_INTERVAL,
    /// the last window possibly shorter): see [`Schedule::record`].
    pub fingerprints: Vec<u16>,
}

/// Why a schedule string could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleError {
    Malformed(String),
    Version(u8),
    /// The schedule was recorded for another scenario or other options.
    ConfigMismatch {
        expected: u64,
        found: u64,
    },
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::Malformed(why) => write!(f, "malformed schedule: {why}"),
            ScheduleError::Version(v) => write!(
                f,
                "schedule has encoding version {v}, this build reads version {SCHEDULE_VERSION}"
            ),
            ScheduleError::ConfigMismatch { expected, found } => write!(
                f,
                "schedule was recorded for another scenario or other options \
                 (its hash is {found:016x}, this run's is {expected:016x})"
            ),
        }
    }
}

impl Schedule {
    pub fn new(config_hash: u64) -> Schedule {
        Schedule {
            config_hash,
            ..Schedule::default()
        }
    }

    /// Records decision number `self.decisions`, with the fingerprint of its enabled set,
    /// and folds both into the fingerprint of the decision's window.
    #[inline]
    pub fn record(&mut self, choice: u32, fingerprint: u16) {
        if self.decisions.is_multiple_of(FINGERPRINT_INTERVAL) {
            self.fingerprints
                .push(fold_fingerprint(0, fingerprint, choice));
        } else {
            let last = self.fingerprints.last_mut().expect("a window is open");
            *last = fold_fingerprint(*last, fingerprint, choice);
        }
        if choice != 0 {
            self.deviations.push(Deviation {
                decision: self.decisions,
                choice,
            });
        }
        self.decisions += 1;
    }

    /// Number of deviations from the default (preemptions, delayed drains, interrupts
    /// delivered early, chosen allocation failures).
    pub fn deviation_count(&self) -> usize {
        self.deviations.len()
    }

    /// The window that decision `index` belongs to, as an index into `fingerprints`.
    pub fn window_of(index: u64) -> usize {
        (index / FINGERPRINT_INTERVAL) as usize
    }

    /// Whether decision `index` is the last of its window.
    pub fn closes_window(index: u64) -> bool {
        index % FINGERPRINT_INTERVAL == FINGERPRINT_INTERVAL - 1
    }

    /// Compares the fingerprint of `window` with `recorded`'s (a replay's check):
    /// a person-readable reason if they differ.
    pub fn window_mismatch(&self, recorded: &Schedule, window: usize) -> Option<String> {
        let ours = self.fingerprints.get(window)?;
        let theirs = recorded.fingerprints.get(window)?;
        if ours == theirs {
            return None;
        }
        let first = window as u64 * FINGERPRINT_INTERVAL;
        let last = (first + FINGERPRINT_INTERVAL).min(self.decisions) - 1;
        Some(format!(
            "the enabled actions or the choices of decisions {first}..={last} differ from \
             those recorded (window fingerprint {ours:04x}, recorded {theirs:04x})"
        ))
    }

    pub fn encode(&self) -> String {
        let mut payload = Vec::new();
        put_varint(&mut payload, self.decisions);
        put_varint(&mut payload, self.deviations.len() as u64);
        let mut previous = 0;
        for deviation in &self.deviations {
            put_varint(&mut payload, deviation.decision - previous);
            put_varint(&mut payload, deviation.choice as u64);
            previous = deviation.decision;
        }
        put_varint(&mut payload, self.fingerprints.len() as u64);
        for fingerprint in &self.fingerprints {
            payload.extend_from_slice(&fingerprint.to_le_bytes());
        }
        format!(
            "v{SCHEDULE_VERSION}.{:016x}.{}",
            self.config_hash,
            base64url_encode(&payload)
        )
    }

    pub fn decode(text: &str) -> Result<Schedule, ScheduleError> {
        let text = text.trim();
        let mut parts = text.splitn(3, '.');
        let version = parts.next().unwrap_or("");
        let hash = parts
            .next()
            .ok_or_else(|| ScheduleError::Malformed("expected `v1.<hash>.<payload>`".into()))?;
        let payload = parts
            .next()
            .ok_or_else(|| ScheduleError::Malformed("expected `v1.<hash>.<payload>`".into()))?;
        let version: u8 = version
            .strip_prefix('v')
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ScheduleError::Malformed(format!("bad version field `{version}`")))?;
        if version != SCHEDULE_VERSION {
            return Err(ScheduleError::Version(version));
        }
        if hash.len() != 16 {
            return Err(ScheduleError::Malformed(
                "hash field must be 16 hex digits".into(),
            ));
        }
        let config_hash = u64::from_str_radix(hash, 16)
            .map_err(|_| ScheduleError::Malformed("hash field must be 16 hex digits".into()))?;
        let bytes = base64url_decode(payload)
            .ok_or_else(|| ScheduleError::Malformed("payload is not base64url".into()))?;
        let mut reader = Reader {
            bytes: &bytes,
            at: 0,
        };
        let decisions = reader.varint()?;
        let count = reader.varint()?;
        if count > decisions {
            return Err(ScheduleError::Malformed(
                "more deviations than decisions".into(),
            ));
        }
        let mut deviations = Vec::with_capacity(count as usize);
        let mut decision = 0u64;
        for index in 0..count {
            let gap = reader.varint()?;
            if index > 0 && gap == 0 {
                return Err(ScheduleError::Malformed("deviations out of order".into()));
            }
            decision = decision
                .checked_add(gap)
                .filter(|d| *d < decisions)
                .ok_or_else(|| {
                    ScheduleError::Malformed("deviation past the last decision".into())
                })?;
            let choice = reader.varint()?;
            if choice == 0 || choice > u32::MAX as u64 {
                return Err(ScheduleError::Malformed("deviation with choice 0".into()));
            }
            deviations.push(Deviation {
                decision,
                choice: choice as u32,
            });
        }
        let fingerprint_count = reader.varint()?;
        let expected = decisions.div_ceil(FINGERPRINT_INTERVAL);
        if fingerprint_count != expected {
            return Err(ScheduleError::Malformed(format!(
                "{fingerprint_count} fingerprints for {decisions} decisions (expected {expected})"
            )));
        }
        let mut fingerprints = Vec::with_capacity(fingerprint_count as usize);
        for _ in 0..fingerprint_count {
            fingerprints.push(reader.u16()?);
        }
        if reader.at != bytes.len() {
            return Err(ScheduleError::Malformed("trailing bytes".into()));
        }
        Ok(Schedule {
            config_hash,
            decisions,
            deviations,
            fingerprints,
        })
    }

    /// The choice at decision `index` (0 where no deviation is recorded).
    pub fn choice_at(&self, cursor: &mut usize, index: u64) -> u32 {
        while *cursor < self.deviations.len() && self.deviations[*cursor].decision < index {
            *cursor += 1;
        }
        match self.deviations.get(*cursor) {
            Some(d) if d.decision == index => d.choice,
            _ => 0,
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// Folds one decision (its enabled set's fingerprint and its choice) into a window's
/// fingerprint. Fixed forever: recorded schedules carry its output.
fn fold_fingerprint(window: u16, fingerprint: u16, choice: u32) -> u16 {
    let x = ((window as u64) << 48) | ((fingerprint as u64) << 32) | choice as u64;
    let x = (x ^ (x >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 48) as u16
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> Result<u64, ScheduleError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.at)
                .ok_or_else(|| ScheduleError::Malformed("payload ends early".into()))?;
            self.at += 1;
            value |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ScheduleError::Malformed("varint too long".into()))
    }

    fn u16(&mut self) -> Result<u16, ScheduleError> {
        let bytes = self
            .bytes
            .get(self.at..self.at + 2)
            .ok_or_else(|| ScheduleError::Malformed("payload ends early".into()))?;
        self.at += 2;
        Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let symbols: Vec<u8> = text
        .bytes()
        .map(|c| ALPHABET.iter().position(|&a| a == c).map(|p| p as u8))
        .collect::<Option<_>>()?;
    for chunk in symbols.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, &s) in chunk.iter().enumerate() {
            n |= (s as u32) << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut schedule = Schedule::new(0xdead_beef_0123_4567);
        for i in 0..200u32 {
            schedule.record(if i % 17 == 3 { i % 5 + 1 } else { 0 }, (i * 31) as u16);
        }
        let text = schedule.encode();
        assert!(text.starts_with("v1.deadbeef01234567."));
        assert_eq!(Schedule::decode(&text).unwrap(), schedule);
    }

    #[test]
    fn empty_round_trip() {
        let schedule = Schedule::new(1);
        assert_eq!(Schedule::decode(&schedule.encode()).unwrap(), schedule);
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        for text in [
            "",
            "v1",
            "v1.zz",
            "v2.0000000000000001.AA",
            "v1.000000000000000g.AA",
            "v1.0000000000000001.!!",
            "v1.0000000000000001.A",
            "v1.0000000000000001.",
            "v1.0000000000000001.____",
        ] {
            assert!(Schedule::decode(text).is_err(), "{text}");
        }
    }

    #[test]
    fn base64_round_trips_every_length() {
        for len in 0..10 {
            let bytes: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(97)).collect();
            assert_eq!(base64url_decode(&base64url_encode(&bytes)).unwrap(), bytes);
        }
    }
}
