//! Rate-limit header dialects, merged into one conservative reading.
//!
//! | dialect | limit | remaining | reset |
//! | --- | --- | --- | --- |
//! | the guide's `X-Rate-Limit-*` | `-Limit` | `-Remaining` | `-Reset`, Unix epoch seconds |
//! | `X-RateLimit-*` (GitHub, X) | `-Limit` | `-Remaining` | `-Reset`, Unix epoch seconds |
//! | IETF draft, older fields | `RateLimit-Limit` | `RateLimit-Remaining` | `RateLimit-Reset`, seconds until |
//! | IETF draft, structured | `RateLimit-Policy` (`q=` or a bare integer) | `RateLimit` (`r=` / `remaining=`) | `RateLimit` (`t=` / `reset=`), seconds until |
//! | Genesys Cloud | `inin-ratelimit-allowed` | allowed − `inin-ratelimit-count` | `inin-ratelimit-reset`, seconds until |
//!
//! Rules:
//! - when several headers (repeated, list members, several dialects) give a
//!   value, the most cautious wins: the lowest limit and remaining, the
//!   longest wait until reset;
//! - a reset's unit is the dialect's, except where that is impossible:
//!   a value of 10^12 or more is epoch *milliseconds* (no delta is 31,000
//!   years), 10^9 or more is epoch seconds (no delta is 31 years), anything
//!   smaller is seconds until (no epoch reset is in 2001). Switching a
//!   dialect's unit is noted;
//! - a reset in the past means "now": zero, noted;
//! - unusable values are skipped and noted.

use core::time::Duration;

use serde::{Deserialize, Serialize};

use super::{number, HintNotes};

/// Fractions of the rate limit remaining at which pressure rises.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PressureThresholds {
    /// Below this fraction remaining: warning (the guide: 20 %).
    pub warning: f64,
    /// Below this fraction remaining: critical (the guide: 5 %).
    pub critical: f64,
}

impl Default for PressureThresholds {
    fn default() -> Self {
        Self {
            warning: 0.20,
            critical: 0.05,
        }
    }
}

/// What the rate-limit headers of one response said, merged across dialects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: Option<u64>,
    /// Requests left in the window.
    pub remaining: Option<u64>,
    /// Time until the window resets.
    #[serde(with = "humantime_serde")]
    pub reset: Option<Duration>,
    /// How close the client is to the limit, from `limit` and `remaining`.
    pub pressure: Option<Pressure>,
}

/// How close a client is to its rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pressure {
    /// Plenty left.
    Normal,
    /// Below the warning fraction (20 % by default).
    Warning,
    /// Below the critical fraction (5 % by default).
    Critical,
    /// Nothing left until the reset.
    Exhausted,
}

impl Pressure {
    /// The pressure for `remaining` of `limit`. Zero remaining is exhausted
    /// whatever the limit; a zero limit with requests remaining is unknown.
    pub(crate) fn of(limit: Option<u64>, remaining: u64, t: &PressureThresholds) -> Option<Self> {
        if remaining == 0 {
            return Some(Self::Exhausted);
        }
        let limit = limit.filter(|&l| l > 0)?;
        // f64 is exact enough here: thresholds are fractions, not counts.
        let left = remaining as f64 / limit as f64;
        Some(if left < t.critical {
            Self::Critical
        } else if left < t.warning {
            Self::Warning
        } else {
            Self::Normal
        })
    }
}

/// Which unit a dialect documents for its reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResetUnit {
    Epoch,
    Delta,
}

/// Accumulates rate-limit values as headers are read; the reader makes one
/// at the first rate-limit header, so a reading with no usable value is none.
#[derive(Default)]
pub(crate) struct Acc {
    limit: Option<u64>,
    remaining: Option<u64>,
    reset: Option<Duration>,
    inin_count: Option<u64>,
    inin_allowed: Option<u64>,
}

fn min_in(slot: &mut Option<u64>, v: u64) {
    *slot = Some(slot.map_or(v, |o| o.min(v)));
}

impl Acc {
    pub(crate) fn limit(&mut self, v: &[u8], notes: &mut HintNotes) {
        // The older IETF fields allow a list: `100, 100;w=60, 1000;w=3600`.
        if !self.bare_limits(v) {
            *notes |= HintNotes::RATE_LIMIT_INVALID;
        }
    }

    /// Takes the leading integer of every list member as a limit; whether
    /// any member had one.
    fn bare_limits(&mut self, v: &[u8]) -> bool {
        let mut any = false;
        for member in v.split(|&b| b == b',') {
            let bare = member.split(|&b| b == b';').next().unwrap_or_default();
            if let Some(n) = number::count(bare) {
                min_in(&mut self.limit, n);
                any = true;
            }
        }
        any
    }

    pub(crate) fn remaining(&mut self, v: &[u8], notes: &mut HintNotes) {
        match number::count(v) {
            Some(n) => min_in(&mut self.remaining, n),
            None => *notes |= HintNotes::RATE_LIMIT_INVALID,
        }
    }

    pub(crate) fn reset(
        &mut self,
        v: &[u8],
        unit: ResetUnit,
        now: Duration,
        notes: &mut HintNotes,
    ) {
        match number::seconds(v) {
            Some(raw) => self.reset_value(raw, unit, now, notes),
            None => *notes |= HintNotes::RESET_INVALID,
        }
    }

    fn reset_value(
        &mut self,
        raw: Duration,
        unit: ResetUnit,
        now: Duration,
        notes: &mut HintNotes,
    ) {
        const EPOCH_MILLIS: Duration = Duration::from_secs(1_000_000_000_000);
        const EPOCH_SECS: Duration = Duration::from_secs(1_000_000_000);
        let (at, read_as) = if raw >= EPOCH_MILLIS {
            (Some(raw / 1000), None)
        } else if raw >= EPOCH_SECS {
            (Some(raw), Some(ResetUnit::Epoch))
        } else {
            (None, Some(ResetUnit::Delta))
        };
        if read_as != Some(unit) {
            *notes |= HintNotes::RESET_UNIT_GUESSED;
        }
        let wait = match at {
            Some(at) => {
                if at <= now {
                    *notes |= HintNotes::RESET_PAST;
                }
                at.saturating_sub(now)
            }
            None => raw,
        };
        self.reset = Some(self.reset.map_or(wait, |w| w.max(wait)));
    }

    /// `RateLimit: limit=100, remaining=50, reset=30` (draft ≤ 07) or
    /// `RateLimit: "default";r=50;t=30` (draft ≥ 08).
    pub(crate) fn structured(&mut self, v: &[u8], now: Duration, notes: &mut HintNotes) {
        let mut any = false;
        for (key, value) in params(v) {
            match key {
                b"r" | b"remaining" => match number::count(value) {
                    Some(n) => {
                        min_in(&mut self.remaining, n);
                        any = true;
                    }
                    None => *notes |= HintNotes::RATE_LIMIT_INVALID,
                },
                b"t" | b"reset" => {
                    any = true;
                    self.reset(value, ResetUnit::Delta, now, notes);
                }
                b"limit" | b"q" => match number::count(value) {
                    Some(n) => {
                        min_in(&mut self.limit, n);
                        any = true;
                    }
                    None => *notes |= HintNotes::RATE_LIMIT_INVALID,
                },
                _ => {}
            }
        }
        if !any {
            *notes |= HintNotes::RATE_LIMIT_INVALID;
        }
    }

    /// `RateLimit-Policy: 100;w=60` (draft ≤ 07) or `"default";q=100;w=60`.
    pub(crate) fn policy(&mut self, v: &[u8], notes: &mut HintNotes) {
        let mut any = self.bare_limits(v);
        for (key, value) in params(v) {
            if key == b"q" {
                if let Some(n) = number::count(value) {
                    min_in(&mut self.limit, n);
                    any = true;
                }
            }
        }
        if !any {
            *notes |= HintNotes::RATE_LIMIT_INVALID;
        }
    }

    pub(crate) fn inin_count(&mut self, v: &[u8], notes: &mut HintNotes) {
        match number::count(v) {
            Some(n) => self.inin_count = Some(self.inin_count.map_or(n, |o| o.max(n))),
            None => *notes |= HintNotes::RATE_LIMIT_INVALID,
        }
    }

    pub(crate) fn inin_allowed(&mut self, v: &[u8], notes: &mut HintNotes) {
        match number::count(v) {
            Some(n) => min_in(&mut self.inin_allowed, n),
            None => *notes |= HintNotes::RATE_LIMIT_INVALID,
        }
    }

    pub(crate) fn finish(mut self, thresholds: &PressureThresholds) -> Option<RateLimit> {
        if let Some(allowed) = self.inin_allowed {
            min_in(&mut self.limit, allowed);
            if let Some(count) = self.inin_count {
                min_in(&mut self.remaining, allowed.saturating_sub(count));
            }
        }
        if (self.limit, self.remaining, self.reset) == (None, None, None) {
            return None;
        }
        Some(RateLimit {
            limit: self.limit,
            remaining: self.remaining,
            reset: self.reset,
            pressure: self
                .remaining
                .and_then(|r| Pressure::of(self.limit, r, thresholds)),
        })
    }
}

/// Every `key=value` parameter of a structured-field list or dictionary
/// (RFC 8941 keys are lowercase, so they are compared as they are). Enough of RFC 8941 for integers; a
/// full parser would allocate on every response.
fn params(v: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    v.split(|&b| b == b',' || b == b';').filter_map(|part| {
        let eq = part.iter().position(|&b| b == b'=')?;
        let key = part[..eq].trim_ascii();
        Some((key, &part[eq + 1..]))
    })
}

#[cfg(test)]
mod tests {
    use super::{Pressure, PressureThresholds};

    #[test]
    fn pressure_thresholds() {
        let t = PressureThresholds::default();
        let rows = [
            (Some(100), 100, Some(Pressure::Normal)),
            (Some(100), 20, Some(Pressure::Normal)),
            (Some(100), 19, Some(Pressure::Warning)),
            (Some(100), 5, Some(Pressure::Warning)),
            (Some(100), 4, Some(Pressure::Critical)),
            (Some(100), 1, Some(Pressure::Critical)),
            (Some(100), 0, Some(Pressure::Exhausted)),
            (None, 0, Some(Pressure::Exhausted)),
            (None, 10, None),
            (Some(0), 10, None),
            (Some(10), 50, Some(Pressure::Normal)),
        ];
        for (limit, remaining, want) in rows {
            assert_eq!(
                Pressure::of(limit, remaining, &t),
                want,
                "{remaining}/{limit:?}"
            );
        }
    }
}
