//! Invariants over random policies and random outcome sequences, 1,000+
//! cases each. The driver answers whatever the call asks for with the next
//! random item, sometimes with a misfit, sometimes with a clock that jumps
//! back, and checks every step.

use std::time::Duration;

use proptest::prelude::*;
use steadfast::classify;
use steadfast::{
    Action, Call, Clock, Event, Jitter, Method, NetworkError, OnConflict, Outcome, Policy,
    PolicySpec, RateLimitRule, Refresh, Request, Rule, Schedule, Search, StatusRule, Waiting,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn schedule() -> impl Strategy<Value = Schedule> {
    prop_oneof![
        prop::collection::vec(1u64..600_000, 1..6).prop_map(|d| Schedule::Explicit {
            delays: d.into_iter().map(ms).collect()
        }),
        (1u64..10_000, 1.0f64..5.0, 1u64..1_000).prop_map(|(b, f, k)| Schedule::Exponential {
            base: ms(b),
            factor: f.floor().max(1.0) + if k % 2 == 0 { 0.0 } else { f.fract() },
            cap: ms(b.saturating_mul(k))
        }),
        (
            1u64..10_000,
            0u32..8,
            1u64..5_000,
            1u32..5,
            1u64..600_000,
            0u32..5
        )
            .prop_map(
                |(first, n, unit, factor, stage, max_power)| Schedule::Staged {
                    first: ms(first),
                    first_retries: n,
                    unit: ms(unit),
                    factor,
                    stage: ms(stage),
                    max_power,
                }
            ),
    ]
}

fn rule() -> impl Strategy<Value = Rule> {
    prop_oneof![
        Just(Rule::Succeed),
        Just(Rule::GiveUp),
        Just(Rule::RefreshToken),
        Just(Rule::SearchExisting),
        Just(Rule::RateLimited),
        (any::<bool>(), 0u32..3).prop_map(|(retry_after, extra_steps)| Rule::Backoff {
            retry_after,
            extra_steps
        }),
    ]
}

prop_compose! {
    fn policy()(
        max_retries in prop_oneof![0u32..8, Just(u32::MAX)],
        schedule in schedule(),
        jitter in prop_oneof![Just(Jitter::None), Just(Jitter::Full), Just(Jitter::Equal), Just(Jitter::Decorrelated)],
        deadline in prop::option::of(0u64..7_200_000),
        cap in 1u64..3_600_000,
        floor_pct in 0u64..=100,
        default_pct in 1u64..=100,
        use_reset in any::<bool>(),
        give_up_above in prop::option::of(0u64..600_000),
        counts in any::<bool>(),
        on_conflict in prop_oneof![Just(OnConflict::ReturnExisting), Just(OnConflict::Update), Just(OnConflict::GiveUp)],
        retry_network_errors in any::<bool>(),
        overrides in prop::collection::btree_map(100u16..600, rule(), 0..4),
        other_server_errors in rule(),
    ) -> Policy {
        // Without a deadline, uncounted 429 waits are refused by validation,
        // so such draws get a deadline instead of being thrown away.
        let deadline = match (counts, deadline) {
            (false, None) => Some(ms(3_600_000)),
            (_, d) => d.map(ms),
        };
        let spec = PolicySpec {
            max_retries,
            schedule,
            jitter,
            deadline,
            attempt_timeout: None,
            retry_after_cap: ms(cap),
            min_server_wait: ms(cap * floor_pct / 100),
            rate_limit: RateLimitRule {
                default_wait: ms((cap * default_pct / 100).max(1)),
                use_reset,
                give_up_above: give_up_above.map(ms),
                counts_as_retry: counts,
            },
            on_conflict,
            retry_network_errors,
            statuses: overrides.into_iter().map(|(status, rule)| StatusRule { status, rule }).collect(),
            other_server_errors,
            pressure: Default::default(),
        };
        Policy::new(spec).expect("the strategy builds valid policies")
    }
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop_oneof![
            Just(Method::Get),
            Just(Method::Put),
            Just(Method::Post),
            Just(Method::Patch),
            Just(Method::Other)
        ],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(m, external_id, idempotency_key)| Request {
            method: m,
            external_id,
            idempotency_key,
        })
}

const NAMES: &[&str] = &[
    "Retry-After",
    "retry-after",
    "X-Rate-Limit-Limit",
    "X-Rate-Limit-Remaining",
    "X-Rate-Limit-Reset",
    "X-RateLimit-Reset",
    "RateLimit",
    "RateLimit-Policy",
    "RateLimit-Reset",
    "inin-ratelimit-count",
    "inin-ratelimit-allowed",
    "inin-ratelimit-reset",
    "Authorization",
];

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0u64..400).prop_map(|n| n.to_string().into_bytes()),
        (1_799_999_000u64..1_800_004_000).prop_map(|n| n.to_string().into_bytes()),
        Just(b"Fri, 15 Jan 2027 08:02:00 GMT".to_vec()),
        Just(b"Thu, 01 Jan 1970 00:00:00 GMT".to_vec()),
        Just(b"\"default\";r=0;t=30".to_vec()),
        Just(b"limit=10, remaining=0, reset=5".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"99999999999999999999999".to_vec()),
        Just(b"1.5".to_vec()),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        prop::sample::select(vec![
            200, 201, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504
        ]),
        any::<u16>(),
    ]
}

/// What the driver answers with at one step; it picks the part that fits
/// what the call is waiting for, unless `misfit` says to send a wrong one.
#[derive(Clone, Debug)]
struct Item {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    network: Option<NetworkError>,
    refresh: Refresh,
    search: Search,
    latency: Duration,
    /// How far the clock jumps back before the next poll.
    back: Duration,
    misfit: bool,
}

fn network() -> impl Strategy<Value = NetworkError> {
    prop::sample::select(vec![
        NetworkError::ConnectionRefused,
        NetworkError::Dns,
        NetworkError::ConnectTimeout,
        NetworkError::Timeout,
        NetworkError::ConnectionReset,
        NetworkError::Tls,
        NetworkError::Protocol,
        NetworkError::Other,
    ])
}

prop_compose! {
    fn item()(
        status in status(),
        headers in prop::collection::vec((prop::sample::select(NAMES), header_value()), 0..4),
        network in prop::option::weighted(0.2, network()),
        refresh in prop_oneof![Just(Refresh::Refreshed), Just(Refresh::Failed)],
        search in prop_oneof![Just(Search::Found), Just(Search::NotFound), Just(Search::Failed)],
        latency in 0u64..200_000,
        back in prop_oneof![4 => Just(0u64), 1 => 0u64..400_000],
        misfit in prop::bool::weighted(0.05),
    ) -> Item {
        Item {
            status,
            headers: headers.into_iter().map(|(n, v)| (n.to_owned(), v)).collect(),
            network,
            refresh,
            search,
            latency: ms(latency),
            back: ms(back),
            misfit,
        }
    }
}

const START: Clock = Clock::new(
    Duration::from_secs(1_000),
    Duration::from_secs(1_800_000_000),
);

/// What a run saw, for the invariants.
#[derive(Debug, PartialEq)]
struct Run {
    events: Vec<Event>,
    actions: Vec<Action>,
    sends: u32,
    refreshes: u32,
    /// (elapsed when decided, length) of every sleep decided.
    sleeps: Vec<(Duration, Duration)>,
    retries: u32,
    /// Statuses whose rule is "give up", and whether a send followed.
    resend_after_fatal: bool,
    uncounted_429_waits: u32,
}

fn run(policy: &Policy, request: Request, seed: u64, items: &[Item]) -> Result<Run, TestCaseError> {
    let mut clock = START;
    let mut call = Call::new(policy, request, clock, seed);
    let mut r = Run {
        events: vec![],
        actions: vec![],
        sends: 0,
        refreshes: 0,
        sleeps: vec![],
        retries: 0,
        resend_after_fatal: false,
        uncounted_429_waits: 0,
    };
    let mut fatal_seen = false;
    let mut items = items.iter();
    loop {
        let action = call.poll(clock);
        prop_assert_eq!(call.poll(clock), action, "polling twice differs");
        r.actions.push(action);
        let item = match action {
            Action::Done(_) | Action::GiveUp(_) => break,
            Action::Sleep(d) => {
                // A clock that jumps back must not lengthen the wait.
                let Some(item) = items.next() else { break };
                let earlier = Clock::new(clock.mono.saturating_sub(item.back), clock.unix);
                match call.poll(earlier) {
                    Action::Sleep(again) => prop_assert!(again <= d, "{:?} grew to {:?}", d, again),
                    other => prop_assert!(false, "sleep turned into {:?} going back", other),
                }
                clock = clock.advanced(d);
                continue;
            }
            Action::Send { .. } => {
                if fatal_seen {
                    r.resend_after_fatal = true;
                }
                r.sends += 1;
                items.next()
            }
            Action::RefreshToken => {
                r.refreshes += 1;
                items.next()
            }
            Action::SearchExisting => items.next(),
        };
        let Some(item) = item else { break };
        clock = clock.advanced(item.latency);
        let fitting = match call.waiting() {
            Waiting::Response => match item.network {
                Some(e) => Outcome::Network(e),
                None => Outcome::response(item.status, &item.headers),
            },
            Waiting::Refresh => Outcome::Refresh(item.refresh),
            Waiting::Search => Outcome::Search(item.search),
            Waiting::SleepEnd | Waiting::Nothing => unreachable!("handled above"),
        };
        if item.misfit {
            let wrong = match call.waiting() {
                Waiting::Response => Outcome::Search(item.search),
                _ => Outcome::response(item.status, &item.headers),
            };
            let before = call.poll(clock);
            prop_assert!(call.observe(wrong, clock).is_err());
            prop_assert_eq!(call.poll(clock), before);
        }
        let event = *call
            .observe(fitting, clock)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Outcome::Response { status, .. } = fitting {
            if classify::status(policy.spec(), status) == Rule::GiveUp {
                fatal_seen = true;
                prop_assert!(matches!(event.action, Action::GiveUp(_)));
            }
            if classify::status(policy.spec(), status) == Rule::RateLimited
                && !policy.spec().rate_limit.counts_as_retry
            {
                r.uncounted_429_waits += 1;
            }
        }
        if let Action::Sleep(d) = event.action {
            r.sleeps.push((event.elapsed, d));
        }
        r.events.push(event);
        clock = Clock::new(clock.mono.saturating_sub(item.back), clock.unix);
    }
    r.retries = call.retries();
    Ok(r)
}

fn items() -> impl Strategy<Value = Vec<Item>> {
    prop::collection::vec(item(), 0..24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn never_more_retries_than_allowed(p in policy(), req in request(), seed in any::<u64>(), items in items()) {
        let r = run(&p, req, seed, &items)?;
        let max = p.spec().max_retries;
        prop_assert!(r.retries <= max);
        // One refresh re-send, one conflict re-create, and uncounted 429
        // waits are the only sends beyond the counted retries.
        let bound = u64::from(max) + 3 + u64::from(r.uncounted_429_waits);
        prop_assert!(u64::from(r.sends) <= bound, "{} sends, bound {}", r.sends, bound);
    }

    #[test]
    fn no_sleep_ends_past_the_deadline(p in policy(), req in request(), seed in any::<u64>(), items in items()) {
        let r = run(&p, req, seed, &items)?;
        if let Some(deadline) = p.spec().deadline {
            for (at, d) in &r.sleeps {
                prop_assert!(at.saturating_add(*d) <= deadline, "{:?} + {:?} > {:?}", at, d, deadline);
            }
        }
    }

    #[test]
    fn every_sleep_is_within_the_cap(p in policy(), req in request(), seed in any::<u64>(), items in items()) {
        let r = run(&p, req, seed, &items)?;
        for (_, d) in &r.sleeps {
            prop_assert!(*d <= p.max_sleep(), "{:?} > {:?}", d, p.max_sleep());
        }
    }

    #[test]
    fn at_most_one_refresh_per_call(p in policy(), req in request(), seed in any::<u64>(), items in items()) {
        let r = run(&p, req, seed, &items)?;
        prop_assert!(r.refreshes <= 1);
    }

    #[test]
    fn a_fatal_status_never_leads_to_another_send(p in policy(), req in request(), seed in any::<u64>(), items in items()) {
        let r = run(&p, req, seed, &items)?;
        prop_assert!(!r.resend_after_fatal);
    }

    #[test]
    fn the_same_seed_gives_the_same_trace(p in policy(), req in request(), seed in any::<u64>(), items in items()) {
        let a = run(&p, req, seed, &items)?;
        let b = run(&p, req, seed, &items)?;
        prop_assert_eq!(a, b);
    }

    #[test]
    fn every_trace_ends_final_or_waiting(p in policy(), req in request(), seed in any::<u64>(), items in items()) {
        // Also: no panic anywhere above, for any statuses, bytes and errors.
        let r = run(&p, req, seed, &items)?;
        let last = r.actions.last().copied();
        let finished = last.is_some_and(|a| a.is_final());
        prop_assert!(finished || r.events.len() <= items.len());
        for e in &r.events {
            let json = serde_json::to_string(e).unwrap();
            prop_assert!(!json.contains("Authorization"));
        }
    }

    #[test]
    fn arbitrary_headers_never_panic(
        headers in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..24), prop::collection::vec(any::<u8>(), 0..64)), 0..8),
        named in prop::collection::vec((prop::sample::select(NAMES), prop::collection::vec(any::<u8>(), 0..64)), 0..8),
        unix in any::<u64>(),
        p in policy(),
        status in any::<u16>(),
    ) {
        let mut all: Vec<(Vec<u8>, Vec<u8>)> = headers;
        all.extend(named.into_iter().map(|(n, v)| (n.as_bytes().to_vec(), v)));
        let clock = Clock::new(Duration::ZERO, Duration::from_secs(unix));
        let mut call = Call::new(&p, Request::new(Method::Get), clock, 0);
        let event = call.observe(Outcome::response(status, &all), clock).unwrap();
        if let Action::Sleep(d) = event.action {
            prop_assert!(d <= p.max_sleep());
        }
    }
}
