//! The tower layer around hyper-util's client, end to end against the
//! loopback API: the 503, 503, 201 job, a give-up that hands back the last
//! response, the last error after refused connections, and shared limits
//! left clean when the response future is dropped mid-wait and mid-send.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tower_layer::Layer;
use tower_service::Service;

use steadfast::driver::tower::RetryLayer;
use steadfast::driver::Failure;
use steadfast::driver::RetryInfo;
use steadfast::{Limits, Reason};

use support::fake_api::{FakeApi, Fault};
use support::{
    assert_nothing_held, check, closed_port, contact_json, got, guarded_policy, plain_scenarios,
    policy, serve,
};

type Hyper = Client<HttpConnector, Full<Bytes>>;

fn hyper() -> Hyper {
    Client::builder(TokioExecutor::new()).build_http()
}

fn create(url: &str, ext: &str) -> http::Request<Full<Bytes>> {
    http::Request::post(url)
        .header("Authorization", "Bearer tok-0")
        .header("Content-Type", "application/json")
        // The key makes the create safe to repeat after a timeout.
        .header("Idempotency-Key", ext)
        .body(Full::new(Bytes::from(contact_json(ext))))
        .unwrap()
}

#[tokio::test]
async fn retries_503s_around_hyper() {
    let api = FakeApi::start();
    api.script([Fault::status(503), Fault::status(503)]);
    let mut service = RetryLayer::new(policy()).layer(hyper());
    let response = service
        .call(create(&api.url("/contacts"), "ext-1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(api.log().len(), 3);
    assert_eq!(api.store().len(), 1);
}

#[tokio::test]
async fn a_give_up_on_a_status_hands_back_the_last_response() {
    let api = FakeApi::start();
    api.script(vec![Fault::status(503); 5]);
    let mut service = RetryLayer::new(policy()).layer(hyper());
    let response = service
        .call(create(&api.url("/contacts"), "ext-1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(api.log().len(), 5);
}

#[tokio::test]
async fn refused_connections_end_in_the_last_error() {
    let url = format!("http://127.0.0.1:{}/contacts", closed_port());
    let mut service = RetryLayer::new(policy()).layer(hyper());
    let err = service.call(create(&url, "ext-1")).await.unwrap_err();
    match &err {
        Failure {
            reason,
            last: Some(Err(error)),
        } => {
            assert_eq!(*reason, Reason::RetriesExhausted { retries: 4 });
            assert!(error.is_connect(), "{error}");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().starts_with("retries exhausted"), "{err}");
}

#[tokio::test]
async fn dropping_the_future_leaves_the_shared_limits_clean() {
    let api = FakeApi::start();
    let policy = guarded_policy();
    let limits = Arc::new(Mutex::new(Limits::new(&policy)));
    let mut service = RetryLayer::new(policy)
        .with_limits(limits.clone())
        .layer(hyper());
    // Mid-wait: a 503 asking for a second.
    api.script([Fault::with(503, &[("Retry-After", "1")])]);
    let call = service.call(create(&api.url("/contacts"), "ext-1"));
    assert!(tokio::time::timeout(Duration::from_millis(150), call)
        .await
        .is_err());
    assert_eq!(api.log().len(), 1);
    assert_nothing_held(&limits);
    // Mid-send: the server holds the request.
    api.script([Fault::SlowThenClose(Duration::from_millis(250))]);
    let call = service.call(create(&api.url("/contacts"), "ext-2"));
    assert!(tokio::time::timeout(Duration::from_millis(100), call)
        .await
        .is_err());
    assert_nothing_held(&limits);
}

#[tokio::test]
async fn every_plain_scenario() {
    let mut service = RetryLayer::new(policy()).layer(hyper());
    for s in plain_scenarios() {
        let api = serve(&s);
        let response = service
            .call(create(&api.url("/contacts"), "ext-1"))
            .await
            .unwrap();
        let info = response.extensions().get::<RetryInfo>().copied().unwrap();
        check(&s, &api, got(response.status().as_u16(), info));
    }
}

/// A call refused before any attempt (the breaker the last call opened)
/// fails with the reason and no last error.
#[tokio::test]
async fn a_call_refused_before_any_attempt_fails_with_the_reason() {
    let api = FakeApi::start();
    api.script(vec![Fault::status(503); 5]);
    let policy = guarded_policy();
    let limits = Arc::new(Mutex::new(Limits::new(&policy)));
    let mut service = RetryLayer::new(policy).with_limits(limits).layer(hyper());
    let response = service
        .call(create(&api.url("/contacts"), "ext-1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let sent = api.log().len();
    let err = service
        .call(create(&api.url("/contacts"), "ext-2"))
        .await
        .unwrap_err();
    assert!(matches!(err.reason, Reason::CircuitOpen { .. }), "{err}");
    assert!(err.last.is_none());
    assert_eq!(api.log().len(), sent, "nothing sent");
}
