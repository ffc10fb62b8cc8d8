//! The reqwest-middleware seam end to end against the loopback API: the
//! 503, 503, 201 job in three lines, a give-up that hands back the last
//! response and says why, the last error after network failures, a
//! streaming body sent once with the reason visible, and shared limits
//! left clean when the caller drops the request mid-wait.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast::driver::middleware::RetryMiddleware;
use steadfast::driver::{RetryInfo, TokenStore};
use steadfast::{Limits, Reason};

use support::fake_api::{FakeApi, Fault};
use support::{
    assert_nothing_held, check, closed_port, contact_json, got, guarded_policy, plain_scenarios,
    policy, scenarios, serve, Got,
};

fn client(middleware: RetryMiddleware) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .build()
}

/// Creates contact `ext` through `client`; the response and its RetryInfo.
async fn create(
    client: &reqwest_middleware::ClientWithMiddleware,
    api: &FakeApi,
    ext: &str,
) -> (reqwest::Response, RetryInfo) {
    let response = client
        .post(api.url("/contacts"))
        .bearer_auth("tok-0")
        .body(contact_json(ext))
        .send()
        .await
        .unwrap();
    let info = response.extensions().get::<RetryInfo>().copied().unwrap();
    (response, info)
}

#[tokio::test]
async fn retries_503s_then_hands_back_the_success() {
    let api = FakeApi::start();
    api.script([Fault::status(503), Fault::status(503)]);
    let client = client(RetryMiddleware::new(policy()));
    let response = client
        .post(api.url("/contacts"))
        .bearer_auth("tok-0")
        .body(contact_json("ext-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let info = response.extensions().get::<RetryInfo>().copied().unwrap();
    assert_eq!((info.attempts, info.gave_up), (3, None));
    assert_eq!(api.log().len(), 3);
}

#[tokio::test]
async fn a_give_up_on_a_status_hands_back_the_last_response_and_why() {
    let api = FakeApi::start();
    api.script(vec![Fault::status(503); 5]);
    let (response, info) = create(&client(RetryMiddleware::new(policy())), &api, "ext-1").await;
    assert_eq!(response.status(), 503);
    assert_eq!(info.attempts, 5);
    assert_eq!(info.gave_up, Some(Reason::RetriesExhausted { retries: 4 }));
    // A 400 is not retried at all.
    api.script([Fault::status(400)]);
    let (_, info) = create(&client(RetryMiddleware::new(policy())), &api, "ext-2").await;
    assert_eq!(info.gave_up, Some(Reason::NotRetryable { status: 400 }));
    assert_eq!(info.attempts, 1);
}

#[tokio::test]
async fn network_failures_end_in_the_last_error() {
    let url = format!("http://127.0.0.1:{}/contacts", closed_port());
    let err = client(RetryMiddleware::new(policy()))
        .get(url)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err}");
}

#[tokio::test]
async fn a_streaming_body_is_sent_once_and_says_why() {
    let api = FakeApi::start();
    api.script([Fault::status(503)]);
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(contact_json("ext-1"))]);
    let response = client(RetryMiddleware::new(policy()))
        .post(api.url("/contacts"))
        .bearer_auth("tok-0")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let info = response.extensions().get::<RetryInfo>().copied().unwrap();
    assert!(info.body_not_cloneable);
    assert_eq!(info.attempts, 1);
    assert_eq!(api.log().len(), 1);
}

#[tokio::test]
async fn dropping_a_request_mid_wait_leaves_the_shared_limits_clean() {
    let api = FakeApi::start();
    api.script(vec![Fault::with(503, &[("Retry-After", "1")]); 3]);
    let policy = guarded_policy();
    let limits = Arc::new(Mutex::new(Limits::new(&policy)));
    let client = client(RetryMiddleware::new(policy.clone()).with_limits(limits.clone()));
    let request = client
        .post(api.url("/contacts"))
        .bearer_auth("tok-0")
        .body(contact_json("ext-1"))
        .send();
    // Long enough for the first 503 and into the wait; short of the end.
    let cut = tokio::time::timeout(Duration::from_millis(150), request).await;
    assert!(cut.is_err(), "the request was still retrying");
    assert!(!api.log().is_empty());
    assert_nothing_held(&limits);
    // Dropped mid-send: the send in flight is given back at once.
    api.script([Fault::SlowThenClose(Duration::from_millis(250))]);
    let request = client
        .post(api.url("/contacts"))
        .bearer_auth("tok-0")
        .body(contact_json("ext-2"))
        .send();
    let cut = tokio::time::timeout(Duration::from_millis(100), request).await;
    assert!(cut.is_err(), "the request was still being sent");
    assert_nothing_held(&limits);
}

/// A middleware that fetches tokens from the loopback API's token route.
fn with_token(api: &FakeApi) -> RetryMiddleware {
    let store = Arc::new(TokenStore::new("tok-0".to_owned()));
    let url = api.url("/oauth/token");
    RetryMiddleware::new(policy()).with_token(store, move || {
        let url = url.clone();
        async move {
            let reply = reqwest::Client::new().post(url).send().await.ok()?;
            let v: serde_json::Value = serde_json::from_slice(&reply.bytes().await.ok()?).ok()?;
            Some(v.get("access_token")?.as_str()?.to_owned())
        }
    })
}

/// Every scenario but the conflict searches (a middleware cannot search
/// for a record), the token refresh included.
#[tokio::test]
async fn every_scenario_but_conflict_searches() {
    let runs = scenarios()
        .into_iter()
        .filter(|s| !matches!(s.want, Got::Exists(_)));
    let mut refreshed = false;
    for s in runs {
        let api = serve(&s);
        let client = client(with_token(&api));
        refreshed |= s.refreshes > 0;
        // The key makes the create safe to repeat after a timeout.
        let response = client
            .post(api.url("/contacts"))
            .header("Idempotency-Key", "ext-1")
            .body(contact_json("ext-1"))
            .send()
            .await
            .unwrap();
        let info = response.extensions().get::<RetryInfo>().copied().unwrap();
        check(&s, &api, got(response.status().as_u16(), info));
    }
    assert!(refreshed, "the list has a token refresh");
    assert!(plain_scenarios().len() < scenarios().len());
}

#[tokio::test]
async fn without_a_token_a_401_is_given_up_on() {
    let api = FakeApi::start();
    api.script([Fault::ExpireToken]);
    let (response, info) = create(&client(RetryMiddleware::new(policy())), &api, "ext-1").await;
    assert_eq!(response.status(), 401);
    assert_eq!(info.gave_up, Some(Reason::ReauthRequired));
    assert_eq!(api.refreshes(), 0);
}

/// A call refused before any attempt (the breaker the last call opened)
/// fails with a `driver::Failure` that says why and carries nothing else.
#[tokio::test]
async fn a_call_refused_before_any_attempt_fails_with_the_reason() {
    let api = FakeApi::start();
    api.script(vec![Fault::status(503); 5]);
    let policy = guarded_policy();
    let limits = Arc::new(Mutex::new(Limits::new(&policy)));
    let client = client(RetryMiddleware::new(policy).with_limits(limits));
    let (response, info) = create(&client, &api, "ext-1").await;
    assert_eq!(response.status(), 503);
    assert!(
        matches!(info.gave_up, Some(Reason::CircuitOpen { .. })),
        "{info:?}"
    );
    let sent = api.log().len();
    let err = client
        .post(api.url("/contacts"))
        .bearer_auth("tok-0")
        .body(contact_json("ext-2"))
        .send()
        .await
        .unwrap_err();
    let reqwest_middleware::Error::Middleware(err) = err else {
        panic!("not the middleware's own error: {err}");
    };
    let failure = err
        .downcast_ref::<steadfast::driver::Failure<std::convert::Infallible, std::convert::Infallible>>()
        .expect("a driver::Failure");
    assert!(
        matches!(failure.reason, Reason::CircuitOpen { .. }),
        "{failure}"
    );
    assert!(failure.last.is_none());
    assert_eq!(api.log().len(), sent, "nothing sent");
}
