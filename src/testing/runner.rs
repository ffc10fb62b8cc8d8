//! Driving a call through answers in virtual time.

use core::time::Duration;

use crate::action::Action;
use crate::call::Waiting;
use crate::classify;
use crate::event::Event;
use crate::limits::Limits;
use crate::outcome::{Clock, NetworkError, Outcome, Refresh, Request, Search};
use crate::policy::{Policy, Rule};
use crate::replay::runner::{self, Script, Session};
use crate::replay::End;

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
            search: Search::Found,
            latency: Duration::ZERO,
            back: Duration::ZERO,
            misfit: false,
        }
    }
}

/// Everything a run saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// One event per accepted outcome.
    pub events: Vec<Event>,
    /// Every action polled, in order (each poll once).
    pub actions: Vec<Action>,
    /// Sends made.
    pub sends: u32,
    /// Token refreshes asked for.
    pub refreshes: u32,
    /// `(elapsed when asked for, length)` of every sleep the call asked
    /// for, backoff and pacing alike.
    pub sleeps: Vec<(Duration, Duration)>,
    /// Retries the call counted against `max_retries`.
    pub retries: u32,
    /// 429 waits the policy does not count as retries.
    pub uncounted_waits: u32,
    /// A send happened after a status whose rule is "give up".
    pub sent_after_fatal: bool,
    /// Contract breaches seen on the way (a poll that changed on a second
    /// poll, a sleep that grew when the clock went back, a misfit accepted
    /// or one that changed the call). Empty when all is well.
    pub breaches: Vec<String>,
    /// Virtual time from start to end.
    pub elapsed: Duration,
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
) -> Run {
    let start = Clock::new(
        Duration::from_secs(1_000),
        Duration::from_secs(1_800_000_000),
    );
    let mut checks = Checks {
        answers: answers.iter(),
        sleeps: Vec::new(),
        uncounted_waits: 0,
        fatal_seen: false,
        sent_after_fatal: false,
        breaches: Vec::new(),
    };
    let trace = runner::run(policy, request, start, seed, &mut checks, limits);
    if let End::Rejected(e) = trace.end {
        checks
            .breaches
            .push(format!("a fitting outcome was refused: {e}"));
    }
    let count = |f: fn(&Action) -> bool| trace.actions.iter().filter(|a| f(a)).count();
    Run {
        sends: trace.sends,
        refreshes: u32::try_from(count(|a| matches!(a, Action::RefreshToken))).unwrap_or(u32::MAX),
        events: trace.events,
        actions: trace.actions,
        sleeps: checks.sleeps,
        retries: trace.retries,
        uncounted_waits: checks.uncounted_waits,
        sent_after_fatal: checks.sent_after_fatal,
        breaches: checks.breaches,
        elapsed: trace.elapsed,
    }
}

/// The answers as the runner's script, checking the call's contract where
/// the runner lets it look.
struct Checks<'a> {
    answers: core::slice::Iter<'a, Answer>,
    sleeps: Vec<(Duration, Duration)>,
    uncounted_waits: u32,
    fatal_seen: bool,
    sent_after_fatal: bool,
    breaches: Vec<String>,
}

impl<'a> Script for Checks<'a> {
    type Step = &'a Answer;

    fn next(&mut self, asked: Action) -> Option<&'a Answer> {
        if matches!(asked, Action::Send { .. }) {
            self.sent_after_fatal |= self.fatal_seen;
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

    /// Records every sleep the call asks for, backoff and pacing alike, and
    /// checks that a clock going back never lengthens it. Each sleep uses
    /// up an answer (for its `back`).
    fn sleeping(&mut self, run: &mut Session<'_, '_>, clock: Clock, d: Duration) -> bool {
        self.sleeps.push((run.call.elapsed(), d));
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
            match classify::response(policy.spec(), a.status, None, &a.headers) {
                Rule::GiveUp => self.fatal_seen = true,
                Rule::RateLimited if !policy.spec().rate_limit.counts_as_retry => {
                    self.uncounted_waits += 1;
                }
                _ => {}
            }
        }
        Clock::new(clock.mono.saturating_sub(a.back), clock.unix)
    }
}
