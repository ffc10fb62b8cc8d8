//! Invariants over random policies and random step sequences, 1,000 cases
//! each, written with the crate's own testing kit: the runner answers what
//! the call asks with the next step that fits, offering the ones it passes
//! over as misfits, with a clock that sometimes jumps back, and the checks
//! judge the run.

use proptest::prelude::*;

use super::policies::{policy, request};
use crate::action::Action;
use crate::call::Call;
use crate::limits::Limits;
use crate::outcome::{Clock, Method, Outcome, Request};
use crate::policy::Policy;
use crate::replay::Step;
use crate::replay::Trace;
use crate::testing::drive;
use crate::testing::invariants::{
    at_most_one_refresh, bounded_retries, contract_kept, no_sleep_past_deadline, sleeps_within_cap,
};
use crate::testing::strategies::{header_value, NAMES};

type Check = fn(&Policy, &Trace) -> Result<(), String>;

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(any::<Step>(), 0..=24)
}

fn holds(
    check: Check,
    p: &Policy,
    req: Request,
    seed: u64,
    a: &[Step],
) -> Result<(), TestCaseError> {
    let run = drive(p, req, seed, a, None);
    check(p, &run).map_err(TestCaseError::fail)?;
    contract_kept(p, &run).map_err(TestCaseError::fail)
}

proptest! {
    // 1,000 cases, or more when PROPTEST_CASES asks for more (a long hunt).
    #![proptest_config(ProptestConfig::with_cases(ProptestConfig::default().cases.max(1000)))]

    #[test]
    fn never_more_retries_than_allowed(p in policy(), req in request(), seed in any::<u64>(), a in steps()) {
        holds(bounded_retries, &p, req, seed, &a)?;
    }

    #[test]
    fn no_sleep_ends_past_the_deadline(p in policy(), req in request(), seed in any::<u64>(), a in steps()) {
        holds(no_sleep_past_deadline, &p, req, seed, &a)?;
    }

    #[test]
    fn every_sleep_is_within_the_cap(p in policy(), req in request(), seed in any::<u64>(), a in steps()) {
        holds(sleeps_within_cap, &p, req, seed, &a)?;
    }

    #[test]
    fn at_most_one_refresh_per_call(p in policy(), req in request(), seed in any::<u64>(), a in steps()) {
        holds(at_most_one_refresh, &p, req, seed, &a)?;
    }

    #[test]
    fn a_fatal_status_never_leads_to_another_send(p in policy(), req in request(), seed in any::<u64>(), a in steps()) {
        let run = drive(&p, req, seed, &a, None);
        let after_fatal = run.breaches.iter().find(|b| b.contains("non-retryable"));
        prop_assert!(after_fatal.is_none(), "{:?}", after_fatal);
    }

    #[test]
    fn the_same_seed_gives_the_same_trace(p in policy(), req in request(), seed in any::<u64>(), a in steps()) {
        prop_assert_eq!(drive(&p, req, seed, &a, None), drive(&p, req, seed, &a, None));
    }

    #[test]
    fn every_check_at_once_and_no_header_leaks(p in policy(), req in request(), seed in any::<u64>(), a in steps()) {
        let run = drive(&p, req, seed, &a, None);
        run.check(&p).map_err(TestCaseError::fail)?;
        let finished = run.actions.last().is_some_and(Action::is_final);
        prop_assert!(finished || run.events.len() <= a.len());
        for e in &run.events {
            let json = serde_json::to_string(e).unwrap();
            prop_assert!(!json.contains("Authorization"));
        }
    }

    #[test]
    fn every_check_holds_with_shared_limits_too(p in policy(), req in request(), seed in any::<u64>(), a in steps()) {
        // Pacing, budget and breaker add waits and give-ups of their own;
        // none may break an invariant.
        let mut limits = Limits::new(&p);
        let run = drive(&p, req, seed, &a, Some(&mut limits));
        run.check(&p).map_err(TestCaseError::fail)?;
        // However the run ended, the call gave back what it held.
        let end = Clock::default();
        prop_assert_eq!(limits.snapshot(end).in_flight, 0);
    }

    #[test]
    fn pacing_after_an_exhausted_window_keeps_every_invariant(
        p in policy(), req in request(), seed in any::<u64>(),
        status in prop::sample::select(vec![200u16, 429, 500, 503]),
        reset in 0u64..10_000_000,
    ) {
        // The reading pacing reacts to, made likely rather than left to luck.
        let exhausted = Step::status(status)
            .header("X-RateLimit-Remaining", "0")
            .header("RateLimit-Reset", reset.to_string());
        let answers = [exhausted, Step::status(503), Step::status(200)];
        let mut limits = Limits::new(&p);
        let run = drive(&p, req, seed, &answers, Some(&mut limits));
        run.check(&p).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn arbitrary_headers_never_panic(
        headers in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..24), prop::collection::vec(any::<u8>(), 0..64)), 0..8),
        named in prop::collection::vec((prop::sample::select(NAMES), header_value()), 0..8),
        unix in any::<u64>(),
        p in policy(),
        status in any::<u16>(),
    ) {
        let mut all: Vec<(Vec<u8>, Vec<u8>)> = headers;
        all.extend(named.into_iter().map(|(n, v)| (n.as_bytes().to_vec(), v)));
        let clock = Clock::new(std::time::Duration::ZERO, std::time::Duration::from_secs(unix));
        let mut call = Call::new(&p, Request::new(Method::Get), clock, 0);
        let event = call.observe(Outcome::response(status, &all), clock, None).unwrap();
        if let Action::Sleep(d) = event.action {
            prop_assert!(d <= p.max_sleep());
        }
    }
}
