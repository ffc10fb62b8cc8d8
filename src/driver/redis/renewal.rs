//! One renewal's exchange with the store: the script, the arguments it is
//! handed (one struct, written by name), and its answer read back.

use core::time::Duration;

use redis::ScriptInvocation;

use super::mirror::{FleetBreaker, StoreAnswer, StoreReport};
use crate::limits::{BreakerSpec, BudgetSpec};
use crate::policy::Policy;

#[cfg(test)]
mod tests;

/// The renewal script (see the module docs); it reads Redis's clock.
pub(super) const SCRIPT: &str = include_str!("renew.lua");

/// What every renewal of one member hands the store besides its report:
/// read from the policy once.
#[derive(Clone, Copy, Debug)]
pub(super) struct Settings {
    pub(super) lease_size: u32,
    pub(super) lease_ttl: Duration,
    warning_permille: u32,
    window_cap: Duration,
    budget: Option<BudgetSpec>,
    breaker: Option<BreakerSpec>,
    stale_after: Duration,
}

impl Settings {
    pub(super) fn new(policy: &Policy) -> Self {
        let spec = policy.spec();
        Self {
            lease_size: 8,
            lease_ttl: Duration::from_secs(10),
            warning_permille: (spec.pressure.warning * 1000.0) as u32,
            window_cap: spec.retry_after_cap,
            budget: spec.limits.budget,
            breaker: spec.limits.breaker,
            stale_after: spec.limits.stale_after,
        }
    }
}

/// The script's arguments, named as it names them.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Args<'a> {
    member: &'a str,
    lease_wanted: u32,
    lease_ttl_ms: u64,
    in_flight: u64,
    reading: Option<Reading>,
    warning_permille: u32,
    window_cap_ms: u64,
    budget: Option<Budget>,
    breaker: Option<Breaker>,
}

/// The latest server reading the member kept; -1 for what it did not say.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Reading {
    remaining: i64,
    limit: i64,
    reset_in_ms: i64,
    reading_age_ms: u64,
}

/// The member's budget slice: what it hands back, the first attempts it
/// counted, and the slice it wants, of a budget of `kind`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Budget {
    returned: i64,
    requests: u64,
    wanted: u32,
    kind: BudgetKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum BudgetKind {
    Quota {
        capacity: u32,
    },
    Percentage {
        basis_points: u32,
        window_ms: u64,
        min_per_second: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Breaker {
    ok: u32,
    failed: u32,
    probes_ok: u32,
    probes_failed: u32,
    probes_back: u32,
    probes_wanted: u32,
    /// Written in full (shortest round-trip digits), so that the store
    /// compares the very double the process does.
    failure_ratio: f64,
    window_ms: u64,
    min_outcomes: u32,
    open_ms: u64,
    probes: u32,
    stale_ms: u64,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn count(n: Option<u64>) -> i64 {
    n.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl<'a> Args<'a> {
    /// What member `member` hands the store with `report`.
    pub(super) fn new(settings: &Settings, member: &'a str, report: &StoreReport) -> Self {
        let returned = report.budget.map_or(0, |b| b.returned());
        let requests = report.budget.map_or(0, |b| b.requests);
        Self {
            member,
            lease_wanted: settings.lease_size,
            lease_ttl_ms: ms(settings.lease_ttl),
            in_flight: report.in_flight,
            reading: report.reading.map(|(r, age)| Reading {
                remaining: count(r.remaining),
                limit: count(r.limit),
                reset_in_ms: count(r.reset.map(ms)),
                reading_age_ms: ms(age),
            }),
            warning_permille: settings.warning_permille,
            window_cap_ms: ms(settings.window_cap),
            budget: settings.budget.map(|spec| match spec {
                BudgetSpec::Quota {
                    capacity,
                    retry_cost,
                    timeout_cost,
                    ..
                } => Budget {
                    returned,
                    requests,
                    // A slice pays for a few retries: few round trips, and
                    // little parked in members that stay quiet.
                    wanted: retry_cost.max(timeout_cost).saturating_mul(4),
                    kind: BudgetKind::Quota { capacity },
                },
                BudgetSpec::Percentage {
                    basis_points,
                    window,
                    min_per_second,
                } => Budget {
                    returned,
                    requests,
                    wanted: 4,
                    kind: BudgetKind::Percentage {
                        basis_points,
                        window_ms: ms(window),
                        min_per_second,
                    },
                },
            }),
            breaker: settings
                .breaker
                .zip(report.breaker)
                .map(|(spec, news)| Breaker {
                    ok: news.ok,
                    failed: news.failed,
                    probes_ok: news.probes_ok,
                    probes_failed: news.probes_failed,
                    probes_back: news.probes_released,
                    probes_wanted: news.want,
                    failure_ratio: spec.failure_ratio,
                    window_ms: ms(spec.window),
                    min_outcomes: spec.min_outcomes,
                    open_ms: ms(spec.break_for),
                    probes: spec.probes,
                    stale_ms: ms(settings.stale_after),
                }),
        }
    }

    /// Writes the arguments into `call`, each after its name.
    pub(super) fn encode(&self, call: &mut ScriptInvocation<'_>) {
        call.arg("member").arg(self.member);
        call.arg("lease_wanted").arg(self.lease_wanted);
        call.arg("lease_ttl_ms").arg(self.lease_ttl_ms);
        call.arg("in_flight").arg(self.in_flight);
        call.arg("warning_permille").arg(self.warning_permille);
        call.arg("window_cap_ms").arg(self.window_cap_ms);
        if let Some(r) = self.reading {
            call.arg("remaining").arg(r.remaining);
            call.arg("limit").arg(r.limit);
            call.arg("reset_in_ms").arg(r.reset_in_ms);
            call.arg("reading_age_ms").arg(r.reading_age_ms);
        }
        if let Some(b) = self.budget {
            call.arg("budget_returned").arg(b.returned);
            call.arg("budget_requests").arg(b.requests);
            call.arg("budget_wanted").arg(b.wanted);
            match b.kind {
                BudgetKind::Quota { capacity } => {
                    call.arg("budget").arg("quota");
                    call.arg("budget_capacity").arg(capacity);
                }
                BudgetKind::Percentage {
                    basis_points,
                    window_ms,
                    min_per_second,
                } => {
                    call.arg("budget").arg("percentage");
                    call.arg("budget_basis_points").arg(basis_points);
                    call.arg("budget_window_ms").arg(window_ms);
                    call.arg("budget_min_per_second").arg(min_per_second);
                }
            }
        }
        if let Some(b) = self.breaker {
            call.arg("breaker").arg(1);
            call.arg("breaker_ok").arg(b.ok);
            call.arg("breaker_failed").arg(b.failed);
            call.arg("breaker_probes_ok").arg(b.probes_ok);
            call.arg("breaker_probes_failed").arg(b.probes_failed);
            call.arg("breaker_probes_back").arg(b.probes_back);
            call.arg("breaker_probes_wanted").arg(b.probes_wanted);
            call.arg("breaker_failure_ratio").arg(b.failure_ratio);
            call.arg("breaker_window_ms").arg(b.window_ms);
            call.arg("breaker_min_outcomes").arg(b.min_outcomes);
            call.arg("breaker_open_ms").arg(b.open_ms);
            call.arg("breaker_probes").arg(b.probes);
            call.arg("breaker_stale_ms").arg(b.stale_ms);
        }
    }
}

/// The script's answer as it comes.
pub(super) type Answer = (i64, i64, i64, i64, i64, i64);

/// The script's answer, read.
pub(super) fn read((grant, ends_in, slice, verdict, verdict_ms, probes): Answer) -> StoreAnswer {
    let ms = |n: i64| Duration::from_millis(u64::try_from(n).unwrap_or(0));
    StoreAnswer {
        grant: u64::try_from(grant).unwrap_or(0),
        ends: u64::try_from(ends_in).ok().map(Duration::from_millis),
        budget: u32::try_from(slice).ok(),
        breaker: match verdict {
            0 => Some(FleetBreaker::Closed),
            1 => Some(FleetBreaker::Open {
                for_: ms(verdict_ms),
            }),
            2 => Some(FleetBreaker::HalfOpen {
                granted: u32::try_from(probes).unwrap_or(0),
                ask_in: ms(verdict_ms),
            }),
            _ => None,
        },
    }
}
