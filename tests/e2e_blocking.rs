//! The blocking driver against a real HTTP server on 127.0.0.1, through
//! ureq and the contact sync.

mod support;
#[path = "../examples/support/ureq_contacts.rs"]
mod ureq_contacts;

use std::sync::Arc;

use steadfast::driver::blocking::TokenStore;
use steadfast::sync::{sync_contact, SyncOutcome};
use support::{check, contact, policy, scenarios, serve, Got};
use ureq_contacts::UreqContacts;

fn got(outcome: SyncOutcome) -> Got {
    match outcome {
        SyncOutcome::Created(_) => Got::Created,
        SyncOutcome::Exists(id) => Got::Exists(id),
        SyncOutcome::Failed(reason) => Got::Failed(reason),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn every_scenario() {
    let policy = policy();
    for s in scenarios() {
        let api = serve(&s);
        let token = Arc::new(TokenStore::new("tok-0".to_owned()));
        let mut client = UreqContacts::new(api.url(""), token);
        let report = sync_contact(&policy, &mut client, &contact("ext-1"));
        check(&s, &api, got(report.outcome));
    }
}

#[test]
fn a_closed_port_is_refused_and_retried_until_exhausted() {
    let token = Arc::new(TokenStore::new("tok-0".to_owned()));
    let base = format!("http://127.0.0.1:{}", support::closed_port());
    let mut client = UreqContacts::new(base, token);
    let report = sync_contact(&policy(), &mut client, &contact("ext-1"));
    assert_eq!(
        report.outcome,
        SyncOutcome::Failed(steadfast::Reason::RetriesExhausted { retries: 4 }.to_string())
    );
    assert_eq!(report.attempts, 5);
}

mod sync_batch {
    use std::collections::HashSet;
    use std::sync::Arc;

    use steadfast::contact::{Contact, Phone};
    use steadfast::driver::blocking::TokenStore;
    use steadfast::sync::{sync_all, Summary, SyncOutcome};
    use steadfast::{OnConflict, Policy};

    use super::support::fake_api::{FakeApi, Fault};
    use super::support::{contact, ms, policy};
    use super::ureq_contacts::UreqContacts;

    /// 230 contacts: every 10th invalid, every 7th already on the server.
    fn batch() -> (Vec<Contact>, Vec<String>) {
        let mut contacts = Vec::new();
        let mut present = Vec::new();
        for i in 0..230 {
            let ext = format!("sf-{i:03}");
            let mut c = contact(&ext);
            c.phone_numbers = vec![Phone {
                number: format!("+1415555{i:04}"),
                kind: "WORK".into(),
            }];
            if i % 10 == 3 {
                c.first_name = "  ".into();
                c.phone_numbers[0].kind = "PAGER".into();
            } else if i % 7 == 0 {
                present.push(ext);
            }
            contacts.push(c);
        }
        (contacts, present)
    }

    fn faults() -> Vec<Fault> {
        vec![
            Fault::status(503),
            Fault::status(502),
            Fault::status(500),
            Fault::with(503, &[("Retry-After", "0.01")]),
            Fault::with(429, &[("Retry-After", "1")]),
            Fault::with(
                429,
                &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "1")],
            ),
            Fault::ExpireToken,
            Fault::SlowThenClose(ms(400)),
            Fault::StoreThenCloseMidResponse,
            Fault::StoreThenStall(ms(400)),
        ]
    }

    fn run(
        policy: &Policy,
        seed: u64,
    ) -> (
        FakeApi,
        Vec<Contact>,
        Vec<String>,
        Vec<steadfast::sync::SyncReport>,
    ) {
        let (contacts, present) = batch();
        let api = FakeApi::start();
        let present_refs: Vec<&str> = present.iter().map(String::as_str).collect();
        api.preload(&present_refs);
        api.random_faults(seed, 0.25, faults());
        let token = Arc::new(TokenStore::new("tok-0".to_owned()));
        let mut client = UreqContacts::new(api.url(""), token);
        let reports = sync_all(policy, &mut client, &contacts);
        (api, contacts, present, reports)
    }

    #[test]
    fn two_hundred_contacts_through_random_faults() {
        let (api, contacts, present, reports) = run(&policy(), 2026);
        assert_eq!(reports.len(), contacts.len(), "one outcome per contact");
        let s = Summary::of(&reports);
        assert_eq!(s.total(), contacts.len());
        let invalid = contacts.iter().filter(|c| !c.problems().is_empty()).count();
        assert_eq!(s.skipped, invalid);
        assert_eq!(s.created + s.exists + s.failed, contacts.len() - invalid);
        // A random schedule can legitimately defeat a call (two token
        // expiries in one call, five faults in a row): those are reported,
        // never silent, and stay rare.
        for r in &reports {
            if let SyncOutcome::Failed(reason) = &r.outcome {
                let legit = [
                    steadfast::Reason::ReauthRequired.to_string(),
                    steadfast::Reason::RetriesExhausted { retries: 4 }.to_string(),
                ];
                assert!(legit.contains(reason), "{}: {reason}", r.external_id);
            }
        }
        assert!(s.failed * 50 <= contacts.len(), "{s:?}");
        assert!(s.exists >= present.len() - s.failed, "{s:?}");

        // The server's own store: every valid contact exactly once (unless
        // its failure was reported), no invalid one, and nothing else.
        let store = api.store();
        let valid: HashSet<&str> = contacts
            .iter()
            .filter(|c| c.problems().is_empty())
            .map(|c| c.external_id.as_str())
            .collect();
        let failed: HashSet<&str> = reports
            .iter()
            .filter(|r| matches!(r.outcome, SyncOutcome::Failed(_)))
            .map(|r| r.external_id.as_str())
            .collect();
        let stored: HashSet<&str> = store.keys().map(String::as_str).collect();
        assert!(stored.is_subset(&valid), "only valid contacts stored");
        let missing: Vec<_> = valid.difference(&stored).collect();
        assert!(
            missing.iter().all(|m| failed.contains(*m)),
            "lost: {missing:?}"
        );
        let ids: HashSet<&String> = store.values().collect();
        assert_eq!(ids.len(), store.len(), "no record id twice");
        // Invalid contacts were never sent.
        let log = api.log();
        let creates = log
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/contacts")
            .count();
        assert_eq!(
            creates as u64, s.attempts,
            "every attempt reached the server"
        );
        // Each created record was created by exactly one 201.
        let created_201 = log
            .iter()
            .filter(|r| r.method == "POST" && r.status == Some(201))
            .count();
        assert_eq!(created_201, store.len() - present.len());
        // The faults happened, and were survived.
        let faulted = log.iter().filter(|r| r.fault.is_some()).count();
        assert!(faulted > 40, "only {faulted} faults");
        for r in &reports {
            if let SyncOutcome::Exists(id) | SyncOutcome::Created(id) = &r.outcome {
                assert_eq!(store.get(&r.external_id), Some(id), "{}", r.external_id);
            }
        }
        println!("{s}");
    }

    #[test]
    fn existing_records_are_updated_when_the_policy_says_so() {
        let update = Policy::new(steadfast::PolicySpec {
            on_conflict: OnConflict::Update,
            ..policy().spec().clone()
        })
        .unwrap();
        let (api, contacts, present, reports) = run(&update, 7);
        let s = Summary::of(&reports);
        assert!(s.failed * 50 <= contacts.len(), "{s:?}");
        assert!(s.updated >= present.len() - s.failed, "{s:?}");
        assert_eq!(s.exists, 0);
        // Every Updated id got a successful PUT (a retried PUT may land twice:
        // it is idempotent).
        let put_ids: HashSet<String> = api
            .log()
            .iter()
            .filter(|r| r.method == "PUT" && r.status == Some(200))
            .map(|r| r.path["/contacts/".len()..].to_owned())
            .collect();
        let updated: HashSet<String> = reports
            .iter()
            .filter_map(|r| match &r.outcome {
                SyncOutcome::Updated(id) => Some(id.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(put_ids, updated);
        assert_eq!(s.total(), contacts.len());
    }
}

#[test]
fn concurrent_401s_share_one_refresh() {
    use support::fake_api::{FakeApi, Fault};
    let api = FakeApi::start();
    api.script([Fault::ExpireToken]);
    let policy = policy();
    let token = Arc::new(TokenStore::new("tok-0".to_owned()));
    std::thread::scope(|s| {
        for i in 0..8 {
            let (token, policy, base) = (Arc::clone(&token), &policy, api.url(""));
            s.spawn(move || {
                let mut client = UreqContacts::new(base, token);
                let report = sync_contact(policy, &mut client, &contact(&format!("ext-{i}")));
                assert!(
                    matches!(report.outcome, SyncOutcome::Created(_)),
                    "{report:?}"
                );
            });
        }
    });
    assert_eq!(api.refreshes(), 1, "one refresh for every 401");
    assert_eq!(api.store().len(), 8);
}

#[test]
fn http_header_maps_are_read_in_place() {
    use steadfast::driver::Response;
    let response = http::Response::builder()
        .status(503)
        .header("Retry-After", "7")
        .header("X-RateLimit-Remaining", "3")
        .body(())
        .unwrap();
    assert_eq!(Response::status(&response), 503);
    let hints = steadfast::headers::read(
        Response::headers(&response),
        std::time::Duration::ZERO,
        &Default::default(),
    );
    assert_eq!(hints.retry_after, Some(std::time::Duration::from_secs(7)));
    assert_eq!(hints.rate_limit.and_then(|r| r.remaining), Some(3));
}

mod panicking_hooks_through_shared_limits {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use steadfast::driver::blocking::{run_with_limits, Hooks};
    use steadfast::driver::ureq_adapter::network_error;
    use steadfast::driver::Reply;
    use steadfast::{Limits, Method, NetworkError, Request};

    use super::support::fake_api::{FakeApi, Fault};
    use super::support::{assert_nothing_held, guarded_policy, ms};

    /// Creates one contact; panics in attempt `panic_at`, before or after
    /// the request went out.
    struct Flaky {
        agent: ureq::Agent,
        url: String,
        body: String,
        panic_at: Option<(u32, bool)>,
    }

    impl Hooks for Flaky {
        type Response = Reply;
        type Id = ();
        fn send(&mut self, attempt: u32, timeout: Option<Duration>) -> Result<Reply, NetworkError> {
            if self.panic_at == Some((attempt, false)) {
                panic!("hook panicked before sending attempt {attempt}");
            }
            let result = self
                .agent
                .post(&self.url)
                .config()
                .timeout_global(timeout)
                .build()
                .header("Authorization", "Bearer tok-0")
                .header("Content-Type", "application/json")
                .send(&self.body);
            let mut response = result.map_err(|e| network_error(&e))?;
            let body = response
                .body_mut()
                .read_to_vec()
                .map_err(|e| network_error(&e))?;
            if self.panic_at == Some((attempt, true)) {
                panic!("hook panicked after sending attempt {attempt}");
            }
            Ok(Reply {
                status: response.status().as_u16(),
                headers: response
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                    .collect(),
                body,
            })
        }
    }

    fn flaky(api: &FakeApi, ext: &str, panic_at: Option<(u32, bool)>) -> Flaky {
        Flaky {
            agent: ureq::Agent::new_with_config(
                ureq::config::Config::builder()
                    .http_status_as_error(false)
                    .build(),
            ),
            url: api.url("/contacts"),
            body: serde_json::to_string(&super::contact(ext)).unwrap(),
            panic_at,
        }
    }

    #[test]
    fn hooks_that_panic_leave_the_limits_clean() {
        let api = Arc::new(FakeApi::start());
        api.rate_limit(40, ms(200));
        api.random_faults(
            11,
            0.4,
            vec![
                Fault::status(503),
                Fault::status(500),
                Fault::with(429, &[("Retry-After", "0.02")]),
            ],
        );
        let policy = Arc::new(guarded_policy());
        let limits = Arc::new(Mutex::new(Limits::new(&policy)));
        let request = Request::new(Method::Post).with_external_id();
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let (api, policy, limits) =
                    (Arc::clone(&api), Arc::clone(&policy), Arc::clone(&limits));
                std::thread::spawn(move || {
                    let mut rng = fastrand::Rng::with_seed(t);
                    let mut panics = 0;
                    for i in 0..10 {
                        let panic_at = rng.bool().then(|| (rng.u32(1..=3), rng.bool()));
                        let mut hooks = flaky(&api, &format!("p-{t}-{i}"), panic_at);
                        let run = catch_unwind(AssertUnwindSafe(|| {
                            run_with_limits(&*policy, request, Some(&*limits), &mut hooks)
                        }));
                        panics += u32::from(run.is_err());
                    }
                    panics
                })
            })
            .collect();
        let panics: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert!(panics > 2, "only {panics} of 40 calls panicked");
        assert_nothing_held(&limits);

        api.random_faults(0, 0.0, Vec::new());
        std::thread::sleep(ms(300));
        let run = run_with_limits(
            &*policy,
            request,
            Some(&*limits),
            &mut flaky(&api, "healed", None),
        );
        assert!(
            run.result.is_ok(),
            "{:?}",
            run.result.err().map(|f| f.reason)
        );
        assert_nothing_held(&limits);
    }
}
