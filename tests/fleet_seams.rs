//! Every seam takes a fleet: the async closure API, the reqwest middleware,
//! the tower layer, the blocking closure API and blocking hooks (on threads,
//! with ureq),
//! each running 50 concurrent creates through `RedisLimits` (a real
//! `redis-server`) against one quota, keep to it after the first window.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower_layer::Layer;
use tower_service::Service;

use steadfast::driver::middleware::RetryMiddleware;
use steadfast::driver::redis::RedisLimits;
use steadfast::driver::tokio::retry;
use steadfast::driver::tower::RetryLayer;
use steadfast::Completion;
use steadfast::{Method, Policy, Request};

use support::fake_api::FakeApi;
use support::{contact_json, fleet_policy as policy, RedisServer};

const CALLS: usize = 50;
const QUOTA: u32 = 40;
const WINDOW: Duration = Duration::from_secs(2);

fn late_429s(api: &FakeApi) -> usize {
    api.log()
        .iter()
        .filter(|s| s.status == Some(429) && s.at >= WINDOW)
        .count()
}

/// A rate-limited API and a fleet member on its own key prefix.
fn setup(redis: &RedisServer, name: &str, policy: &Policy) -> (FakeApi, Arc<RedisLimits>) {
    let api = FakeApi::start();
    api.rate_limit(QUOTA, WINDOW);
    let fleet = RedisLimits::new(&redis.url, name, policy).unwrap();
    (api, Arc::new(fleet))
}

fn check(api: &FakeApi, fleet: &RedisLimits, created: usize) {
    assert_eq!(created, CALLS, "every call completes");
    assert_eq!(api.store().len(), CALLS, "each record once");
    assert!(fleet.round_trips() > 0, "the leases came from Redis");
    assert_eq!(late_429s(api), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_closure_api_the_middleware_and_the_tower_layer_take_a_fleet() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let policy = Arc::new(policy());

    // The closure API.
    let (api, fleet) = setup(&redis, "closure", &policy);
    let tasks: Vec<_> = (0..CALLS)
        .map(|i| {
            let (policy, fleet) = (policy.clone(), fleet.clone());
            let (url, body) = (api.url("/contacts"), contact_json(&format!("c{i}")));
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let create = Request::new(Method::Post).with_idempotency_key();
                let send = |_| {
                    client
                        .post(&url)
                        .bearer_auth("tok-0")
                        .body(body.clone())
                        .send()
                };
                retry(&*policy, create, &fleet, send).await.is_ok()
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        created += usize::from(t.await.unwrap());
    }
    check(&api, &fleet, created);

    // The reqwest middleware.
    let (api, fleet) = setup(&redis, "middleware", &policy);
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new((*policy).clone()).with_fleet(fleet.clone()))
        .build();
    let tasks: Vec<_> = (0..CALLS)
        .map(|i| {
            let request = client
                .post(api.url("/contacts"))
                .bearer_auth("tok-0")
                .header("Idempotency-Key", format!("m{i}"))
                .body(contact_json(&format!("m{i}")));
            tokio::spawn(async move { request.send().await.is_ok_and(|r| r.status() == 201) })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        created += usize::from(t.await.unwrap());
    }
    check(&api, &fleet, created);

    // The tower layer around hyper-util's client.
    let (api, fleet) = setup(&redis, "tower", &policy);
    let hyper = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let service = RetryLayer::new((*policy).clone())
        .with_fleet(fleet.clone())
        .layer(hyper);
    let tasks: Vec<_> = (0..CALLS)
        .map(|i| {
            let mut service = service.clone();
            let request = http::Request::post(api.url("/contacts"))
                .header("Authorization", "Bearer tok-0")
                .header("Idempotency-Key", format!("t{i}"))
                .body(Full::new(Bytes::from(contact_json(&format!("t{i}")))))
                .unwrap();
            tokio::spawn(
                async move { service.call(request).await.is_ok_and(|r| r.status() == 201) },
            )
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        created += usize::from(t.await.unwrap());
    }
    check(&api, &fleet, created);
}

/// One blocking create: through the fleet, with this agent, to this URL,
/// with this body; whether it created the record.
type BlockingCreate = fn(&Policy, &RedisLimits, &ureq::Agent, &str, &str) -> bool;

/// Runs the creates on a thread each, all through one fleet member named
/// `name`, and checks they kept to the quota.
fn blocking_creates(name: &str, create: BlockingCreate) {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let policy = Arc::new(policy());
    let (api, fleet) = setup(&redis, name, &policy);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let threads: Vec<_> = (0..CALLS)
        .map(|i| {
            let (policy, fleet, agent) = (policy.clone(), fleet.clone(), agent.clone());
            let (url, body) = (api.url("/contacts"), contact_json(&format!("{name}{i}")));
            std::thread::spawn(move || create(&policy, &fleet, &agent, &url, &body))
        })
        .collect();
    let created = threads
        .into_iter()
        .map(|t| usize::from(t.join().unwrap()))
        .sum();
    check(&api, &fleet, created);
}

#[test]
fn the_blocking_closure_api_takes_a_fleet() {
    blocking_creates("blocking", |policy, fleet, agent, url, body| {
        let create = Request::new(Method::Post).with_idempotency_key();
        let created = steadfast::driver::blocking::retry(policy, create, fleet, |a| {
            let request = agent.post(url).config().timeout_global(a.timeout).build();
            request.header("Authorization", "Bearer tok-0").send(body)
        });
        created.is_ok_and(|r| r.status() == 201)
    });
}

/// The blocking hooks: a create through ureq.
struct Create<'a> {
    agent: &'a ureq::Agent,
    url: &'a str,
    body: &'a str,
}

impl steadfast::driver::blocking::Hooks for Create<'_> {
    type Response = steadfast::driver::Reply;
    type Id = String;
    fn send(
        &mut self,
        _: u32,
        timeout: Option<Duration>,
    ) -> Result<Self::Response, steadfast::NetworkError> {
        let request = self
            .agent
            .post(self.url)
            .config()
            .timeout_global(timeout)
            .build();
        let sent = request
            .header("Authorization", "Bearer tok-0")
            .send(self.body);
        steadfast::driver::Reply::from_ureq(sent)
    }
}

#[test]
fn blocking_hooks_take_a_fleet() {
    blocking_creates("hooks", |policy, fleet, agent, url, body| {
        let create = Request::new(Method::Post).with_idempotency_key();
        let mut hooks = Create { agent, url, body };
        let run = steadfast::driver::blocking::run(policy, create, fleet, &mut hooks);
        matches!(run.result, Ok(Completion::Success(r)) if r.status == 201)
    });
}
