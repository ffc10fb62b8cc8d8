//! Driving a call through answers in virtual time.

use core::time::Duration;

use crate::action::Action;
use crate::call::Waiting;
use crate::classify;
use crate::limits::Limits;
use crate::outcome::{Clock, NetworkError, Outcome, Refresh, Request, Search};
use crate::policy::{Policy, Rule};
use crate::replay::runner::{self, Script, Session};
use crate::replay::{End, Trace};

/// One answer to whatever the call asks next: the runner picks the part
/// that fits (a response or network error for a send, a refresh result, a
/// search result), or a wrong kind when `misfit` is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The status of a response.
    pub status: u16,
    /// The headers of a response.
    pub headers: Vec<(String, Vec<u8>)>,
    /// When set, the send fails with this instead of a response.
    pub network: Option<NetworkError>,
    /// The answer to a token refresh.
    pub refresh: Refresh,
    /// The answer to a search.
    pub search: Search,
    /// How long the attempt takes.
    pub latency: Duration,
    /// How far the monotonic clock jumps back afterwards (a misbehaving
    /// clock); the call must neither panic nor wait longer.
    pub back: Duration,
    /// Offer a wrong kind of outcome first: the call must refuse it and stay
    /// unchanged.
    pub misfit: bool,
}

impl Answer {
    /// A plain response, instantly.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            network: None,
            refresh: Refresh::Refreshed,
            search: Search::Found(()),
            latency: Duration::ZERO,
            back: Duration::ZERO,
            misfit: false,
        }
    }
}

/// Drives a call under `policy` through `answers` in virtual time, until it
/// finishes or the answers run out. Never sleeps, never panics on any input.
///
/// With `limits`, the call consults and feeds them (pacing, retry budget,
/// circuit breaker) as it would when sharing them with other calls; when
/// the run ends, it gives back what the limits still hold for it, as a
/// driver's call does when dropped.
pub fn drive(
    policy: &Policy,
    request: Request,
    seed: u64,
    answers: &[Answer],
    limits: Option<&mut Limits>,
) -> Trace {
    let start = Clock::new(
        Duration::from_secs(1_000),
        Duration::from_secs(1_800_000_000),
    );
    let mut checks = Checks {
        answers: answers.iter(),
        fatal_seen: false,
        breaches: Vec::new(),
    };
    let mut trace = runner::run(policy, request, start, seed, &mut checks, limits);
    if let End::Rejected(e) = trace.end {
        checks
            .breaches
            .push(format!("a fitting outcome was refused: {e}"));
    }
    trace.breaches = checks.breaches;
    trace
}

/// The answers as the runner's script, checking the call's contract where
/// the runner lets it look.
struct Checks<'a> {
    answers: core::slice::Iter<'a, Answer>,
    /// A status whose rule is "give up" was observed.
    fatal_seen: bool,
    breaches: Vec<String>,
}

impl<'a> Script for Checks<'a> {
    type Step = &'a Answer;

    fn next(&mut self, asked: Action) -> Option<&'a Answer> {
        if matches!(asked, Action::Send { .. }) && core::mem::take(&mut self.fatal_seen) {
            self.breaches
                .push("a send followed a non-retryable status".into());
        }
        self.answers.next()
    }

    /// The part of the answer that fits what the call waits for.
    fn outcome<'s>(a: &'s &'a Answer, waiting: Waiting) -> Option<Outcome<'s>> {
        Some(match waiting {
            Waiting::Response => match a.network {
                Some(e) => Outcome::Network(e),
                None => Outcome::response(a.status, &a.headers),
            },
            Waiting::Refresh => Outcome::Refresh(a.refresh),
            Waiting::Search => Outcome::Search(a.search),
            Waiting::SleepEnd | Waiting::Nothing => return None,
        })
    }

    fn arrival(a: &&'a Answer, _start: Clock, sent: Clock) -> Clock {
        sent.advanced(a.latency)
    }

    fn polled(&mut self, run: &mut Session<'_, '_>, clock: Clock, action: Action) {
        if run.poll(clock) != action {
            self.breaches
                .push(format!("a second poll changed {action:?}"));
        }
    }

    /// Checks that a clock going back never lengthens a sleep. Each sleep
    /// uses up an answer (for its `back`).
    fn sleeping(&mut self, run: &mut Session<'_, '_>, clock: Clock, d: Duration) -> bool {
        let Some(a) = self.answers.next() else {
            return false;
        };
        let earlier = Clock::new(clock.mono.saturating_sub(a.back), clock.unix);
        match run.call.poll(earlier, None) {
            Action::Sleep(again) if again <= d => {}
            other => self.breaches.push(format!(
                "sleep {d:?} became {other:?} as the clock went back"
            )),
        }
        true
    }

    /// Offers a wrong kind of outcome first when the answer says so: the
    /// call must refuse it and stay as it was.
    fn observing(&mut self, run: &mut Session<'_, '_>, a: &&'a Answer, clock: Clock) {
        if !a.misfit {
            return;
        }
        let wrong = match run.call.waiting() {
            Waiting::Response => Outcome::Search(a.search),
            _ => Outcome::response(a.status, &a.headers),
        };
        let before = run.call.poll(clock, None);
        if run.call.observe(wrong, clock, None).is_ok() || run.call.poll(clock, None) != before {
            self.breaches
                .push(format!("a misfit {wrong:?} changed the call"));
        }
    }

    fn observed(
        &mut self,
        policy: &Policy,
        a: &&'a Answer,
        waiting: Waiting,
        clock: Clock,
    ) -> Clock {
        if waiting == Waiting::Response && a.network.is_none() {
            let rule = classify::response(policy.spec(), a.status, None, &a.headers);
            self.fatal_seen |= rule == Rule::GiveUp;
        }
        Clock::new(clock.mono.saturating_sub(a.back), clock.unix)
    }
}
