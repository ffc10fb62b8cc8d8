//! Driving a call through answers in virtual time.

use core::time::Duration;

use crate::action::Action;
use crate::call::{Call, Waiting};
use crate::classify;
use crate::event::Event;
use crate::limits::Limits;
use crate::outcome::{Clock, NetworkError, Outcome, Refresh, Request, Search};
use crate::policy::{Policy, Rule};

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
pub fn drive(policy: &Policy, request: Request, seed: u64, answers: &[Answer]) -> Run {
    drive_inner(policy, request, seed, answers, None)
}

/// [`drive`], with the call consulting and feeding `limits` (pacing, retry
/// budget, circuit breaker) as it would when sharing them with other calls.
/// When the run ends, the call gives back what the limits still hold for it,
/// as a driver's call does when dropped.
pub fn drive_with_limits(
    policy: &Policy,
    request: Request,
    seed: u64,
    answers: &[Answer],
    limits: &mut Limits,
) -> Run {
    drive_inner(policy, request, seed, answers, Some(limits))
}

fn drive_inner(
    policy: &Policy,
    request: Request,
    seed: u64,
    answers: &[Answer],
    mut limits: Option<&mut Limits>,
) -> Run {
    let start = Clock::new(
        Duration::from_secs(1_000),
        Duration::from_secs(1_800_000_000),
    );
    let mut clock = start;
    let mut call = Call::new(policy, request, clock, seed);
    let mut run = Run {
        events: Vec::new(),
        actions: Vec::new(),
        sends: 0,
        refreshes: 0,
        sleeps: Vec::new(),
        retries: 0,
        uncounted_waits: 0,
        sent_after_fatal: false,
        breaches: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let mut fatal_seen = false;
    let mut answers = answers.iter();
    loop {
        let mut poll = |call: &mut Call<&Policy>, clock: Clock| match limits.as_deref_mut() {
            Some(l) => call.poll_with(l, clock),
            None => call.poll(clock),
        };
        let action = poll(&mut call, clock);
        if poll(&mut call, clock) != action {
            run.breaches
                .push(format!("a second poll changed {action:?}"));
        }
        run.actions.push(action);
        let answer = match action {
            Action::Done(_) | Action::GiveUp(_) => break,
            Action::Sleep(d) => {
                // Every sleep the call asks for, backoff and pacing alike.
                run.sleeps.push((call.elapsed(), d));
                let Some(a) = answers.next() else { break };
                let earlier = Clock::new(clock.mono.saturating_sub(a.back), clock.unix);
                match call.poll(earlier) {
                    Action::Sleep(again) if again <= d => {}
                    other => run.breaches.push(format!(
                        "sleep {d:?} became {other:?} as the clock went back"
                    )),
                }
                clock = clock.advanced(d);
                continue;
            }
            Action::Send { .. } => {
                run.sent_after_fatal |= fatal_seen;
                run.sends += 1;
                answers.next()
            }
            Action::RefreshToken => {
                run.refreshes += 1;
                answers.next()
            }
            Action::SearchExisting => answers.next(),
        };
        let Some(a) = answer else { break };
        clock = clock.advanced(a.latency);
        let waiting = call.waiting();
        let fitting = match waiting {
            Waiting::Response => match a.network {
                Some(e) => Outcome::Network(e),
                None => Outcome::response(a.status, &a.headers),
            },
            Waiting::Refresh => Outcome::Refresh(a.refresh),
            Waiting::Search => Outcome::Search(a.search),
            Waiting::SleepEnd | Waiting::Nothing => break,
        };
        if a.misfit {
            let wrong = match waiting {
                Waiting::Response => Outcome::Search(a.search),
                _ => Outcome::response(a.status, &a.headers),
            };
            let before = call.poll(clock);
            if call.observe(wrong, clock).is_ok() || call.poll(clock) != before {
                run.breaches
                    .push(format!("a misfit {wrong:?} changed the call"));
            }
        }
        let observed = match limits.as_deref_mut() {
            Some(l) => call.observe_with(l, fitting, clock),
            None => call.observe(fitting, clock),
        };
        let event = match observed {
            Ok(event) => *event,
            Err(e) => {
                run.breaches
                    .push(format!("a fitting outcome was refused: {e}"));
                break;
            }
        };
        if let Outcome::Response { status, .. } = fitting {
            match classify::status(policy.spec(), status) {
                Rule::GiveUp => fatal_seen = true,
                Rule::RateLimited if !policy.spec().rate_limit.counts_as_retry => {
                    run.uncounted_waits += 1;
                }
                _ => {}
            }
        }
        run.events.push(event);
        clock = Clock::new(clock.mono.saturating_sub(a.back), clock.unix);
    }
    // The run is over: like a driver dropping its call, give back whatever
    // the limits still hold for it (answers may run out mid-send).
    if let Some(l) = limits {
        call.abandon(l, clock);
    }
    run.retries = call.retries();
    run.elapsed = clock.mono.saturating_sub(start.mono);
    run
}
