//! The contact sync on the blocking driver against the loopback API on
//! 127.0.0.1, through ureq: the shared scenario list, a closed port, a
//! 230-contact batch through random faults, and concurrent 401s.

use std::sync::Arc;

use steadfast::driver::TokenStore;
use steadfast_contacts::client::UreqContacts;
use steadfast_contacts::contact::Contact;
use steadfast_contacts::sync::{sync_contact, SyncOutcome};
use steadfast_loopback::scenarios::{check, closed_port, policy, scenarios, serve, Got};

fn contact(ext: &str) -> Contact {
    Contact {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: Some(format!("{ext}@example.com")),
        phone_numbers: vec![],
        external_id: ext.into(),
    }
}

fn got(outcome: SyncOutcome) -> Got {
    match outcome {
        SyncOutcome::Created(_) => Got::Created,
        SyncOutcome::Exists(id) => Got::Exists(id),
        SyncOutcome::Failed { reason, .. } => Got::Failed(reason.to_string()),
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
    let base = format!("http://127.0.0.1:{}", closed_port());
    let mut client = UreqContacts::new(base, token);
    let report = sync_contact(&policy(), &mut client, &contact("ext-1"));
    assert_eq!(
        report.outcome,
        SyncOutcome::Failed {
            reason: steadfast::Reason::RetriesExhausted { retries: 4 },
            last: Some("connection refused".to_owned()),
        }
    );
    assert_eq!(report.attempts, 5);
}

mod sync_batch {
    use std::collections::HashSet;
    use std::sync::Arc;

    use steadfast::driver::TokenStore;
    use steadfast::{OnConflict, Policy};
    use steadfast_contacts::client::UreqContacts;
    use steadfast_contacts::contact::{Contact, Phone};
    use steadfast_contacts::sync::{sync_all, Summary, SyncOutcome};
    use steadfast_loopback::scenarios::{ms, policy};
    use steadfast_loopback::{FakeApi, Fault};

    use super::contact;

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
            Fault::with(503, &[("Retry-After", "1")]),
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
        Vec<steadfast_contacts::sync::SyncReport>,
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
            if let SyncOutcome::Failed { reason, .. } = &r.outcome {
                let legit = [
                    steadfast::Reason::ReauthRequired,
                    steadfast::Reason::RetriesExhausted { retries: 4 },
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
            .filter(|r| matches!(r.outcome, SyncOutcome::Failed { .. }))
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
    use steadfast_loopback::{FakeApi, Fault};
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
