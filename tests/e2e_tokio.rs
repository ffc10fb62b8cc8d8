//! The tokio driver against a real HTTP server on 127.0.0.1, through
//! reqwest: the same scenarios as the blocking driver, plus concurrency
//! (single-flight refresh) and cancellation.

mod support;

use std::sync::Arc;
use std::time::Duration;

use steadfast::driver::tokio::{run, AsyncHooks};
use steadfast::driver::Reply;
use steadfast::driver::Sharing;
use steadfast::driver::TokenStore;
use steadfast::Completion;
use steadfast::{Method, NetworkError, Refresh, Request, Search};
use support::fake_api::{FakeApi, Fault};
use support::{check, ms, policy, scenarios, serve, Got};

struct Create {
    http: reqwest::Client,
    base: String,
    body: String,
    token: Arc<TokenStore<String>>,
    generation: u64,
}

impl Create {
    fn new(base: String, token: Arc<TokenStore<String>>, ext: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base,
            body: support::contact_json(ext),
            token,
            generation: 0,
        }
    }
}

fn id_of(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(v.get("id")?.as_str()?.to_owned())
}

impl AsyncHooks for Create {
    type Response = Reply;
    type Id = String;

    /// Reads the whole body inside the attempt: a connection cut mid-body is
    /// then a failed attempt (and retried), not a success without its body.
    async fn send(&mut self, _attempt: u32) -> Result<Reply, NetworkError> {
        let (generation, token) = self.token.current();
        self.generation = generation;
        let response = self
            .http
            .post(format!("{}/contacts", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .body(self.body.clone())
            .send()
            .await
            .map_err(|e| NetworkError::from(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let body = response
            .bytes()
            .await
            .map_err(|e| NetworkError::from(&e))?
            .to_vec();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    async fn refresh_token(&mut self) -> Refresh {
        let url = format!("{}/oauth/token", self.base);
        let http = self.http.clone();
        let fetch = async move {
            let body = http.post(url).send().await.ok()?.text().await.ok()?;
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            Some(v.get("access_token")?.as_str()?.to_owned())
        };
        self.token.refresh_async(self.generation, fetch).await
    }

    async fn find_existing(&mut self) -> Search<String> {
        let ext: serde_json::Value = serde_json::from_str(&self.body).unwrap();
        let url = format!(
            "{}/contacts?externalId={}",
            self.base,
            ext["externalId"].as_str().unwrap()
        );
        let (_, token) = self.token.current();
        let Ok(r) = self
            .http
            .get(url)
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
        else {
            return Search::Failed;
        };
        match r.status().as_u16() {
            404 => Search::NotFound,
            200 => r
                .text()
                .await
                .ok()
                .and_then(|b| id_of(&b))
                .map_or(Search::Failed, Search::Found),
            _ => Search::Failed,
        }
    }

    fn endpoint(&self) -> &str {
        "/contacts"
    }
}

fn create_request() -> Request {
    Request::new(Method::Post).with_external_id()
}

fn got<R>(result: Result<Completion<R, String>, steadfast::driver::Failure<R>>) -> Got {
    match result {
        Ok(Completion::Success(_)) => Got::Created,
        Ok(Completion::Existing(id)) => Got::Exists(id),
        Ok(Completion::Update(id)) => panic!("update of {id} not expected"),
        Err(f) => Got::Failed(f.reason.to_string()),
    }
}

#[tokio::test]
async fn every_scenario() {
    let policy = policy();
    for s in scenarios() {
        let api = serve(&s);
        let token = Arc::new(TokenStore::new("tok-0".to_owned()));
        let mut hooks = Create::new(api.url(""), token, "ext-1");
        let run = run(&policy, create_request(), Sharing::Alone, &mut hooks).await;
        check(&s, &api, got(run.result));
    }
}

#[tokio::test]
async fn a_closed_port_is_refused_and_retried_until_exhausted() {
    let token = Arc::new(TokenStore::new("tok-0".to_owned()));
    let base = format!("http://127.0.0.1:{}", support::closed_port());
    let mut hooks = Create::new(base, token, "ext-1");
    let run = run(&policy(), create_request(), Sharing::Alone, &mut hooks).await;
    assert_eq!(
        got(run.result),
        Got::Failed(steadfast::Reason::RetriesExhausted { retries: 4 }.to_string())
    );
    assert_eq!(run.attempts, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_401s_share_one_refresh() {
    let api = Arc::new(FakeApi::start());
    api.script([Fault::ExpireToken]);
    let policy = Arc::new(policy());
    let token = Arc::new(TokenStore::new("tok-0".to_owned()));
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let (policy, token, base) = (Arc::clone(&policy), Arc::clone(&token), api.url(""));
            tokio::spawn(async move {
                let mut hooks = Create::new(base, token, &format!("ext-{i}"));
                run(&*policy, create_request(), Sharing::Alone, &mut hooks).await
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().result.is_ok());
    }
    assert_eq!(api.refreshes(), 1, "one refresh for every 401");
    assert_eq!(api.store().len(), 12);
}

#[tokio::test]
async fn dropping_the_future_cancels_everything() {
    let api = FakeApi::start();
    // Three 503s with long waits: the call will be mid-sleep when dropped.
    api.script(vec![Fault::with(503, &[("Retry-After", "1")]); 3]);
    let slow = steadfast::Policy::new(steadfast::PolicySpec {
        retry_after_cap: Duration::from_secs(1),
        ..policy().spec().clone()
    })
    .unwrap();
    let token = Arc::new(TokenStore::new("tok-0".to_owned()));
    let mut hooks = Create::new(api.url(""), token, "ext-1");
    let cut = tokio::time::timeout(
        ms(200),
        run(&slow, create_request(), Sharing::Alone, &mut hooks),
    )
    .await;
    assert!(cut.is_err(), "the call was still sleeping");
    let seen = api.log().len();
    tokio::time::sleep(ms(1500)).await;
    assert_eq!(
        api.log().len(),
        seen,
        "no request after the future was dropped"
    );
    assert_eq!(seen, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_calls_draw_no_429_once_the_tracker_has_seen_the_headers() {
    use steadfast::driver::tokio::run;
    use steadfast::{Limits, LimitsSpec};

    let api = Arc::new(FakeApi::start());
    // 10 requests per 400 ms window: 51 creates need six windows.
    api.rate_limit(10, ms(400));
    let policy = Arc::new(
        steadfast::Policy::new(steadfast::PolicySpec {
            limits: LimitsSpec {
                reset_jitter: ms(40),
                ..LimitsSpec::default()
            },
            // The tracker trusts a window for at most this long: pacing can
            // only be exact when it covers the server's 400 ms window.
            retry_after_cap: ms(1000),
            ..policy().spec().clone()
        })
        .unwrap(),
    );
    let limits = Arc::new(std::sync::Mutex::new(Limits::new(&policy)));
    let token = Arc::new(TokenStore::new("tok-0".to_owned()));

    // One call first: after it the tracker knows the window.
    let mut first = Create::new(api.url(""), Arc::clone(&token), "ext-first");
    let ran = run(&*policy, create_request(), &limits, &mut first).await;
    assert!(ran.result.is_ok());

    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (policy, limits, token, base) = (
                Arc::clone(&policy),
                Arc::clone(&limits),
                Arc::clone(&token),
                api.url(""),
            );
            tokio::spawn(async move {
                let mut hooks = Create::new(base, token, &format!("ext-{i}"));
                run(&*policy, create_request(), &limits, &mut hooks).await
            })
        })
        .collect();
    for t in tasks {
        let ran = t.await.unwrap();
        assert!(
            ran.result.is_ok(),
            "{:?}",
            ran.result.err().map(|f| f.reason)
        );
    }
    let log = api.log();
    let rejected = log.iter().filter(|r| r.status == Some(429)).count();
    assert_eq!(rejected, 0, "no request drew a 429: {log:#?}");
    assert_eq!(api.store().len(), 51);
    assert_eq!(log.len(), 51, "one request per call");
}

mod cancelled_through_shared_limits {
    use std::sync::{Arc, Mutex};

    use steadfast::driver::tokio::run;
    use steadfast::driver::TokenStore;
    use steadfast::limits::BreakerState;
    use steadfast::{Limits, Reason};

    use super::support::fake_api::{FakeApi, Fault};
    use super::support::{assert_nothing_held, flaky_api, guarded_policy, ms};
    use super::{create_request, Create};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_probe_cut_by_a_timeout_gives_its_slot_back() {
        let api = FakeApi::start();
        let policy = guarded_policy();
        let limits = Mutex::new(Limits::new(&policy));
        let token = Arc::new(TokenStore::new("tok-0".to_owned()));
        let create = |ext: &str| Create::new(api.url(""), Arc::clone(&token), ext);

        // Four 503s open the breaker in the middle of one call.
        api.script(vec![Fault::status(503); 4]);
        let ran = run(&policy, create_request(), &limits, &mut create("a")).await;
        let reason = ran.result.err().map(|f| f.reason);
        assert!(
            matches!(reason, Some(Reason::CircuitOpen { .. })),
            "{reason:?}"
        );

        // After the break, the one probe stalls and its caller gives up.
        tokio::time::sleep(ms(120)).await;
        api.script([Fault::StoreThenStall(ms(600))]);
        let cut = tokio::time::timeout(
            ms(80),
            run(&policy, create_request(), &limits, &mut create("b")),
        )
        .await;
        assert!(cut.is_err(), "the probe was still waiting for its answer");
        assert_nothing_held(&limits);
        let snapshot = limits.lock().unwrap().snapshot(steadfast::driver::now());
        assert_eq!(
            snapshot.breaker,
            Some(BreakerState::HalfOpen { probes_left: 1 })
        );

        // The next call is the probe at once, and closes the breaker.
        let ran = run(&policy, create_request(), &limits, &mut create("c")).await;
        assert!(
            ran.result.is_ok(),
            "{:?}",
            ran.result.err().map(|f| f.reason)
        );
        let snapshot = limits.lock().unwrap().snapshot(steadfast::driver::now());
        assert_eq!(snapshot.breaker, Some(BreakerState::Closed));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_cut_at_random_points_leave_the_limits_clean() {
        let api = flaky_api(
            2026,
            &[Fault::SlowThenClose(ms(40)), Fault::StoreThenStall(ms(60))],
        );
        let policy = Arc::new(guarded_policy());
        let limits = Arc::new(Mutex::new(Limits::new(&policy)));
        let token = Arc::new(TokenStore::new("tok-0".to_owned()));
        let mut rng = fastrand::Rng::with_seed(7);
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let (policy, limits) = (Arc::clone(&policy), Arc::clone(&limits));
                let mut hooks = Create::new(api.url(""), Arc::clone(&token), &format!("r-{i}"));
                let cut_after = ms(rng.u64(0..150));
                tokio::spawn(async move {
                    let ran = run(&*policy, create_request(), &*limits, &mut hooks);
                    tokio::time::timeout(cut_after, ran).await.is_err()
                })
            })
            .collect();
        let mut cut = 0;
        for t in tasks {
            cut += u32::from(t.await.unwrap());
        }
        assert!(cut > 2, "only {cut} of 40 calls were cut");
        assert_nothing_held(&limits);

        // The API heals: within the break and one window, a call gets through.
        api.random_faults(0, 0.0, Vec::new());
        tokio::time::sleep(ms(300)).await;
        let mut hooks = Create::new(api.url(""), Arc::clone(&token), "healed");
        let ran = run(&*policy, create_request(), &*limits, &mut hooks).await;
        assert!(
            ran.result.is_ok(),
            "{:?}",
            ran.result.err().map(|f| f.reason)
        );
        assert_nothing_held(&limits);
    }
}
