//! The state machine's contract: idempotent polls, sleeps that only shrink,
//! outcomes that fit or are refused, clocks that misbehave, and events that
//! never carry a secret.

use std::sync::Arc;
use std::time::Duration;

use steadfast::{
    Action, Call, Clock, Method, NetworkError, Outcome, Policy, Refresh, Request, Search,
};

/// Monotonic zero; wall clock 2027-01-15 08:00:00 UTC.
const START: steadfast::Clock =
    steadfast::Clock::new(Duration::ZERO, Duration::from_secs(1_800_000_000));
/// Every call's jitter seed.
const SEED: u64 = 0x5eed;

const GET: Request = Request::new(Method::Get);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn polling_twice_returns_the_same_action_in_every_state() {
    let p = Policy::seed_guide();
    let create = Request::new(Method::Post).with_external_id();
    let setups: Vec<(Request, Vec<Outcome<'static>>)> = vec![
        (GET, vec![]),
        (GET, vec![Outcome::status(503)]),
        (GET, vec![Outcome::status(401)]),
        (create, vec![Outcome::status(409)]),
        (GET, vec![Outcome::status(200)]),
        (GET, vec![Outcome::status(400)]),
    ];
    for (request, outcomes) in setups {
        let mut call = Call::new(&p, request, START, SEED);
        for o in &outcomes {
            call.observe(*o, START, None).unwrap();
        }
        let first = call.poll(START, None);
        assert_eq!(call.poll(START, None), first, "{outcomes:?}");
        assert_eq!(call.poll(START, None), first, "{outcomes:?}");
    }
}

#[test]
fn a_sleep_shrinks_with_the_clock_then_turns_into_the_send() {
    let p = Policy::seed_guide();
    let mut call = Call::new(&p, GET, START, SEED);
    let event = call.observe(Outcome::status(503), START, None).unwrap();
    assert_eq!(event.action, Action::Sleep(secs(3)));
    assert_eq!(
        call.poll(START.advanced(secs(1)), None),
        Action::Sleep(secs(2))
    );
    assert_eq!(
        call.poll(START.advanced(Duration::from_millis(2999)), None),
        Action::Sleep(Duration::from_millis(1))
    );
    assert_eq!(
        call.poll(START.advanced(secs(3)), None),
        Action::Send { attempt: 2 }
    );
    // Late wake-ups are fine too.
    let mut late = Call::new(&p, GET, START, SEED);
    late.observe(Outcome::status(503), START, None).unwrap();
    assert_eq!(
        late.poll(START.advanced(secs(3600)), None),
        Action::Send { attempt: 2 }
    );
}

#[test]
fn a_clock_going_backwards_never_lengthens_a_wait() {
    let p = Policy::seed_guide();
    let t10 = START.advanced(secs(10));
    let mut call = Call::new(&p, GET, t10, SEED);
    call.observe(Outcome::status(503), t10, None).unwrap();
    assert_eq!(
        call.poll(t10.advanced(secs(1)), None),
        Action::Sleep(secs(2))
    );
    // Back to before the call began: the call holds its latest reading.
    assert_eq!(call.poll(START, None), Action::Sleep(secs(2)));
    assert_eq!(call.elapsed(), secs(1));
    let back = Clock::new(Duration::ZERO, Duration::ZERO);
    assert_eq!(call.poll(back, None), Action::Sleep(secs(2)));
    assert_eq!(
        call.poll(t10.advanced(secs(3)), None),
        Action::Send { attempt: 2 }
    );
}

/// A monotonic clock a second before the end of `Duration`: the 3 s wait
/// cannot end in time, so it is what is left of time, in the event and at
/// every poll, and the clock reaching the end sends.
#[test]
fn a_wait_past_the_end_of_time_is_what_is_left_of_it() {
    let p = Policy::new(steadfast::PolicySpec {
        deadline: None,
        ..Policy::seed_guide().spec().clone()
    })
    .unwrap();
    let late = Clock::new(Duration::MAX - secs(1), START.unix);
    let mut call = Call::new(&p, GET, late, SEED);
    let event = *call.observe(Outcome::status(503), late, None).unwrap();
    assert_eq!(event.action, Action::Sleep(secs(1)));
    assert_eq!(call.poll(late, None), Action::Sleep(secs(1)));
    let nearly = Clock::new(Duration::MAX - Duration::from_millis(1), START.unix);
    assert_eq!(
        call.poll(nearly, None),
        Action::Sleep(Duration::from_millis(1))
    );
    let end = Clock::new(Duration::MAX, START.unix);
    assert_eq!(call.poll(end, None), Action::Send { attempt: 2 });
}
#[test]
fn outcomes_that_answer_nothing_are_refused_and_change_nothing() {
    let p = Policy::seed_guide();
    let create = Request::new(Method::Post).with_external_id();
    let refresh = Outcome::Refresh(Refresh::Refreshed);
    let search = Outcome::Search(Search::Found(()));
    let response = Outcome::status(200);
    // (earlier outcomes, the misfit, what the call was waiting for)
    let rows: Vec<(Vec<Outcome<'static>>, Outcome<'static>, &str)> = vec![
        (vec![], refresh, "waiting for a response"),
        (vec![], search, "waiting for a response"),
        (
            vec![Outcome::status(503)],
            response,
            "sleeping (poll once the sleep is over)",
        ),
        (
            vec![Outcome::status(503)],
            Outcome::Network(NetworkError::Dns),
            "sleeping (poll once the sleep is over)",
        ),
        (
            vec![Outcome::status(401)],
            response,
            "waiting for a token refresh result",
        ),
        (
            vec![Outcome::status(401)],
            search,
            "waiting for a token refresh result",
        ),
        (
            vec![Outcome::status(409)],
            refresh,
            "waiting for a search result",
        ),
        (
            vec![Outcome::status(409)],
            response,
            "waiting for a search result",
        ),
        (vec![Outcome::status(200)], response, "already finished"),
        (vec![Outcome::status(400)], refresh, "already finished"),
    ];
    for (before, misfit, waiting) in rows {
        let mut call = Call::new(&p, create, START, SEED);
        for o in &before {
            call.observe(*o, START, None).unwrap();
        }
        let action = call.poll(START, None);
        let err = call.observe(misfit, START, None).unwrap_err();
        assert!(
            err.to_string().ends_with(waiting),
            "{before:?} then {misfit:?}: {err}"
        );
        assert_eq!(call.poll(START, None), action, "unchanged after {misfit:?}");
    }
    let mut call = Call::new(&p, create, START, SEED);
    let err = call.observe(search, START, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the call got search: found while waiting for a response"
    );
}

#[test]
fn the_policy_may_be_borrowed_shared_or_owned() {
    let shared = Arc::new(Policy::seed_guide());
    let mut a = Call::new(Arc::clone(&shared), GET, START, SEED);
    let mut b = Call::new(Policy::seed_guide(), GET, START, SEED);
    let mut c = Call::new(&*shared, GET, START, SEED);
    a.observe(Outcome::status(503), START, None).unwrap();
    b.observe(Outcome::status(503), START, None).unwrap();
    c.observe(Outcome::status(503), START, None).unwrap();
    assert_eq!(a.poll(START, None), b.poll(START, None));
    assert_eq!(b.poll(START, None), c.poll(START, None));
    assert_eq!(a.policy(), &*shared);
}

#[test]
fn counters_follow_the_call() {
    let p = Policy::seed_guide();
    let mut call = Call::new(&p, GET, START, SEED);
    assert_eq!((call.attempts(), call.retries()), (1, 0));
    assert_eq!(call.last_event(), None, "nothing decided yet");
    call.poll(START, None);
    assert_eq!(call.last_event(), None, "a poll decides nothing");
    call.observe(Outcome::status(503), START, None).unwrap();
    assert_eq!((call.attempts(), call.retries()), (2, 1));
    assert_eq!(call.last_event().map(|e| e.attempt), Some(1));
    let debug = format!("{call:?}");
    for part in ["Call", "request", "Sleep", "attempt: 2", "retries: 1"] {
        assert!(debug.contains(part), "{part} in {debug}");
    }
    call.poll(START.advanced(secs(3)), None);
    call.observe(Outcome::status(401), START.advanced(secs(3)), None)
        .unwrap();
    call.observe(
        Outcome::Refresh(Refresh::Refreshed),
        START.advanced(secs(4)),
        None,
    )
    .unwrap();
    assert_eq!((call.attempts(), call.retries()), (3, 1));
    assert_eq!(call.elapsed(), secs(4));
    assert_eq!(call.request(), &GET);
}

/// An event carries the rate-limit reading of its own outcome only: after a
/// response that had one, a network error, a refresh result and a response
/// without such headers each record none.
#[test]
fn an_event_never_carries_an_earlier_responses_reading() {
    const READING: [(&str, &str); 3] = [
        ("RateLimit-Limit", "100"),
        ("RateLimit-Remaining", "0"),
        ("RateLimit-Reset", "2"),
    ];
    let p = Policy::seed_guide();
    let mut clock = START;
    let mut call = Call::new(&p, GET, clock, SEED);
    let mut step = |outcome: Outcome<'_>| {
        let event = *call.observe(outcome, clock, None).unwrap();
        if let Action::Sleep(d) = call.poll(clock, None) {
            clock = clock.advanced(d);
            call.poll(clock, None);
        }
        event.rate_limit
    };
    assert!(step(Outcome::response(429, &READING)).is_some());
    assert_eq!(
        step(Outcome::Network(NetworkError::ConnectionRefused)),
        None
    );
    assert!(step(Outcome::response(401, &READING)).is_some());
    assert_eq!(step(Outcome::Refresh(Refresh::Refreshed)), None);
    assert!(step(Outcome::response(503, &READING)).is_some());
    assert_eq!(step(Outcome::status(503)), None);
}

const SECRET_HEADERS: [(&str, &str); 7] = [
    ("Authorization", "Bearer SECRET-token-1"),
    ("Proxy-Authorization", "Basic SECRET-2"),
    ("Cookie", "session=SECRET-3"),
    ("Set-Cookie", "session=SECRET-4; HttpOnly"),
    ("X-Api-Key", "SECRET-5"),
    ("X-Auth-Token", "SECRET-6"),
    ("Retry-After", "SECRET-7"),
];

#[test]
fn no_header_value_ever_reaches_an_event() {
    let p = Policy::seed_guide();
    let create = Request::new(Method::Post).with_external_id();
    for status in [200, 401, 409, 429, 500, 503, 504] {
        let mut call = Call::new(&p, create, START, SEED);
        let event = *call
            .observe(Outcome::response(status, &SECRET_HEADERS), START, None)
            .unwrap();
        let json = serde_json::to_string(&event).unwrap();
        let text = format!("{event} {event:?} {call:?}");
        for shown in [&json, &text] {
            assert!(!shown.contains("SECRET"), "{status}: {shown}");
        }
        let outcome = format!("{:?}", Outcome::response(status, &SECRET_HEADERS));
        assert!(!outcome.contains("SECRET"), "{outcome}");
    }
}

#[test]
#[cfg(target_pointer_width = "64")]
fn sizes_stated_in_the_readme() {
    // benches/README.md states these; a change here must change it too.
    assert_eq!(std::mem::size_of::<Call<&Policy>>(), 272);
    assert_eq!(std::mem::size_of::<steadfast::Event>(), 120);
    assert_eq!(std::mem::size_of::<Action>(), 24);
}

#[test]
fn a_replay_trace_holds_every_action_asked_for() {
    use steadfast::{replay, Completion, Step};
    let policy = steadfast::Policy::seed_guide();
    let steps = [
        Step::status(503),
        Step::status(401),
        Step::Refresh(Refresh::Refreshed),
        Step::status(200),
    ];
    let trace = replay(&policy, GET, START, SEED, steps);
    let done = Action::Done(Completion::Success(200));
    assert_eq!(
        trace.actions,
        [
            Action::Send { attempt: 1 },
            Action::Sleep(secs(3)),
            Action::Send { attempt: 2 },
            Action::RefreshToken,
            // The re-send after a refresh comes at once: no sleep before it.
            Action::Send { attempt: 3 },
            done,
        ]
    );
    assert_eq!(trace.end, Some(done));
    assert_eq!(trace.events.len(), 4, "one event per observed outcome");
}
