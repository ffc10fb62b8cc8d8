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
