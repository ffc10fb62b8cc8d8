//! The circuit breaker: when too many calls to one API fail, stop calling it
//! for a while, then let a few probes find out whether it is back.

use core::time::Duration;

use serde::{Deserialize, Serialize};

/// When the breaker opens and how it recovers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Open when failures exceed this fraction of the outcomes in the
    /// window (0 < ratio <= 1)...
    pub failure_ratio: f64,
    /// ...counted over this window...
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// ...once it holds at least this many outcomes.
    pub min_outcomes: u32,
    /// How long it stays open.
    #[serde(with = "humantime_serde")]
    pub break_for: Duration,
    /// How many sends it lets through half-open; all must succeed to close.
    pub probes: u32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Closed {
        since: Duration,
        ok: u32,
        failed: u32,
    },
    Open {
        until: Duration,
    },
    HalfOpen {
        admitted: u32,
        succeeded: u32,
    },
}

/// Where a breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Sends flow; outcomes are counted.
    Closed,
    /// Every send is refused for this long yet.
    Open {
        /// Time until probes are let through.
        retry_after: Duration,
    },
    /// A few probes may go; all must succeed to close.
    HalfOpen {
        /// Probes not yet let through.
        probes_left: u32,
    },
}

/// The breaker's state. Plain data: no clock, no lock.
#[derive(Clone, Debug, PartialEq)]
pub struct CircuitBreaker {
    spec: BreakerSpec,
    state: State,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(spec: BreakerSpec) -> Self {
        Self {
            spec,
            state: State::Closed {
                since: Duration::ZERO,
                ok: 0,
                failed: 0,
            },
        }
    }

    /// Where the breaker stands at `now`.
    pub fn state(&mut self, now: Duration) -> BreakerState {
        self.tick(now);
        match self.state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } => BreakerState::Open {
                retry_after: until.saturating_sub(now),
            },
            State::HalfOpen { admitted, .. } => BreakerState::HalfOpen {
                probes_left: self.spec.probes.saturating_sub(admitted),
            },
        }
    }

    /// Whether it is open (refusing every send) at `now`.
    pub fn is_open(&mut self, now: Duration) -> bool {
        self.tick(now);
        matches!(self.state, State::Open { .. })
    }

    fn tick(&mut self, now: Duration) {
        match self.state {
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen {
                    admitted: 0,
                    succeeded: 0,
                };
            }
            State::Closed { since, .. } if now.saturating_sub(since) > self.spec.window => {
                self.state = State::Closed {
                    since: now,
                    ok: 0,
                    failed: 0,
                };
            }
            _ => {}
        }
    }

    /// Lets a send through, or says how long until it could.
    pub fn admit(&mut self, now: Duration) -> Result<(), Duration> {
        self.tick(now);
        match &mut self.state {
            State::Closed { .. } => Ok(()),
            State::Open { until } => Err(until.saturating_sub(now)),
            State::HalfOpen { admitted, .. } if *admitted < self.spec.probes => {
                *admitted += 1;
                Ok(())
            }
            // Every probe is out: wait for their verdict.
            State::HalfOpen { .. } => Err(self.spec.break_for),
        }
    }

    /// Records how a send ended: `ok` unless the server failed (5xx, 429,
    /// a network error).
    pub fn record(&mut self, now: Duration, ok: bool) {
        self.tick(now);
        let open = State::Open {
            until: now.saturating_add(self.spec.break_for),
        };
        self.state = match self.state {
            State::Closed {
                since,
                ok: good,
                failed,
            } => {
                let (good, failed) = if ok {
                    (good.saturating_add(1), failed)
                } else {
                    (good, failed.saturating_add(1))
                };
                let total = good.saturating_add(failed);
                let ratio = f64::from(failed) / f64::from(total.max(1));
                if total >= self.spec.min_outcomes && ratio > self.spec.failure_ratio {
                    open
                } else {
                    State::Closed {
                        since,
                        ok: good,
                        failed,
                    }
                }
            }
            State::HalfOpen { .. } if !ok => open,
            State::HalfOpen {
                admitted,
                succeeded,
            } => {
                let succeeded = succeeded.saturating_add(1);
                if succeeded >= self.spec.probes {
                    State::Closed {
                        since: now,
                        ok: 0,
                        failed: 0,
                    }
                } else {
                    State::HalfOpen {
                        admitted,
                        succeeded,
                    }
                }
            }
            // An outcome of a send admitted before the breaker opened.
            State::Open { until } => State::Open { until },
        };
    }
}
