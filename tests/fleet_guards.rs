//! The retry budget and the circuit breaker shared through a real
//! `redis-server` (started by the test on a free 127.0.0.1 port): two fleet
//! members, each with its own connection and its own limits, against the
//! loopback API. Shared, the fleet retries no more than one budget allows,
//! a breaker opened by one member's failures refuses the other member's
//! calls before they are sent, and half-open the fleet sends one probe in
//! all. The same runs with per-member limits are the baseline. A call
//! cancelled while its renewal is on its way loses none of the news the
//! renewal carried.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast::driver::redis::RedisLimits;
use steadfast::driver::tokio::retry;
use steadfast::driver::Sharing;
use steadfast::limits::{BreakerSpec, BudgetSpec};
use steadfast::{Limits, LimitsSpec, Method, Policy, PolicySpec, Reason, Request};

use support::fake_api::{FakeApi, Fault};
use support::{contact_json, fleet_policy, ms, RedisServer};

/// Either kind of member.
enum Member {
    Fleet(Arc<RedisLimits>),
    Alone(Arc<Mutex<Limits>>),
}

/// One create by `member`; `Ok(())` when it was stored, else why not.
async fn create(policy: &Policy, member: &Member, api: &FakeApi, ext: &str) -> Result<(), Reason> {
    let client = reqwest::Client::new();
    let (url, body) = (api.url("/contacts"), contact_json(ext));
    let send = |_| {
        client
            .post(&url)
            .bearer_auth("tok-0")
            .body(body.clone())
            .send()
    };
    let request = Request::new(Method::Post).with_idempotency_key();
    let sharing = match member {
        Member::Fleet(fleet) => Sharing::from(fleet),
        Member::Alone(own) => Sharing::from(own),
    };
    let done = retry(policy, request, sharing, send).await;
    match done {
        Ok(r) if r.status() == 201 => Ok(()),
        Ok(r) => panic!("unexpected {}", r.status()),
        Err(failure) => Err(failure.reason),
    }
}

fn with_limits(limits: LimitsSpec) -> Policy {
    let spec = fleet_policy().spec().clone();
    Policy::new(PolicySpec {
        limits: LimitsSpec {
            pacing: false,
            ..limits
        },
        ..spec
    })
    .expect("valid policy")
}

/// A quota of 40 tokens, 5 a retry: eight retries for everyone together.
fn budget_policy() -> Policy {
    with_limits(LimitsSpec {
        budget: Some(BudgetSpec::Quota {
            capacity: 40,
            retry_cost: 5,
            timeout_cost: 5,
            success_credit: 1,
        }),
        ..LimitsSpec::default()
    })
}

/// Opens when more than half of at least four outcomes in ten seconds
/// failed, for 300 ms; then one probe.
fn breaker_policy() -> Policy {
    with_limits(LimitsSpec {
        breaker: Some(BreakerSpec {
            failure_ratio: 0.5,
            window: Duration::from_secs(10),
            min_outcomes: 4,
            break_for: ms(300),
            probes: 1,
        }),
        ..LimitsSpec::default()
    })
}

/// Retries the API saw: sends beyond the first of each call.
fn retries(api: &FakeApi, calls: usize) -> usize {
    api.log().len() - calls
}

/// Two members, three calls each, against an API that always answers 503.
async fn failing_calls(policy: &Policy, members: [Member; 2]) -> usize {
    let api = FakeApi::start();
    api.random_faults(1, 1.0, vec![Fault::status(503)]);
    let members = Arc::new(members);
    let api = Arc::new(api);
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (policy, members, api) = (policy.clone(), members.clone(), api.clone());
            tokio::spawn(async move {
                let reason = create(&policy, &members[i % 2], &api, &format!("b{i}")).await;
                assert!(reason.is_err(), "the API never succeeds");
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    retries(&api, 6)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_retries_within_one_budget() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let policy = budget_policy();
    let member = || {
        Member::Fleet(Arc::new(
            RedisLimits::new(&redis.url, "budget", &policy).unwrap(),
        ))
    };
    let shared = failing_calls(&policy, [member(), member()]).await;
    let own = || Member::Alone(Arc::new(Mutex::new(Limits::new(&policy))));
    let alone = failing_calls(&policy, [own(), own()]).await;
    eprintln!("retries with one shared budget: {shared}; with a budget per member: {alone}");
    assert!(shared <= 8, "40 tokens at 5 a retry: {shared}");
    assert!(shared >= 6, "the fleet used its budget: {shared}");
    assert_eq!(alone, 16, "each member alone spends its own 40");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_retries_within_one_percentage() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // No share of requests, one retry a second over four seconds: four
    // retries for everyone together.
    let policy = with_limits(LimitsSpec {
        budget: Some(BudgetSpec::Percentage {
            basis_points: 0,
            window: Duration::from_secs(4),
            min_per_second: 1,
        }),
        ..LimitsSpec::default()
    });
    let member = || {
        Member::Fleet(Arc::new(
            RedisLimits::new(&redis.url, "pct", &policy)
                .unwrap()
                .with_prefix("app-7:retries"),
        ))
    };
    let shared = failing_calls(&policy, [member(), member()]).await;
    let mut conn = redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    assert!(
        !keys.is_empty() && keys.iter().all(|k| k.starts_with("{app-7:retries}:")),
        "{keys:?}"
    );
    for key in &keys {
        let ttl: i64 = redis::cmd("PTTL").arg(key).query(&mut conn).unwrap();
        assert!(ttl > 0, "{key} expires: {ttl}");
    }
    let own = || Member::Alone(Arc::new(Mutex::new(Limits::new(&policy))));
    let alone = failing_calls(&policy, [own(), own()]).await;
    eprintln!("retries with one shared percentage: {shared}; with one per member: {alone}");
    assert_eq!(shared, 4);
    assert_eq!(alone, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_members_failures_open_the_fleets_breaker_and_one_probe_closes_it() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let policy = breaker_policy();
    let join = || Arc::new(RedisLimits::new(&redis.url, "breaker", &policy).unwrap());
    let (a, b) = (Member::Fleet(join()), Member::Fleet(join()));
    let api = Arc::new(FakeApi::start());
    api.random_faults(1, 1.0, vec![Fault::status(503)]);

    // A fails until the fleet's breaker opens.
    let mut refused_at = None;
    for i in 0..6 {
        if let Err(Reason::CircuitOpen { .. }) = create(&policy, &a, &api, &format!("a{i}")).await {
            refused_at = Some(i);
            break;
        }
    }
    assert!(refused_at.is_some(), "A's own failures open the breaker");
    let sent = api.log().len();
    assert!(sent >= 4, "at least the minimum of outcomes: {sent}");

    // B, which has seen no failure, is refused without sending.
    let refused = create(&policy, &b, &api, "b0").await;
    assert!(
        matches!(refused, Err(Reason::CircuitOpen { .. })),
        "{refused:?}"
    );
    assert_eq!(api.log().len(), sent, "B sent nothing");
    // Alone, B would have sent.
    let alone = Member::Alone(Arc::new(Mutex::new(Limits::new(&policy))));
    assert!(create(&policy, &alone, &api, "b-alone").await.is_err());
    assert!(api.log().len() > sent, "a member of its own sends");
    let sent = api.log().len();

    // The API heals; after the break the fleet sends one probe in all:
    // while B's (slow) probe is out, A is refused.
    api.random_faults(1, 0.0, Vec::new());
    api.script([Fault::StoreThenStall(ms(200))]);
    tokio::time::sleep(ms(350)).await;
    let probe = {
        let (policy, api) = (policy.clone(), api.clone());
        tokio::spawn(async move { create(&policy, &b, &api, "b1").await })
    };
    tokio::time::sleep(ms(60)).await;
    let refused = create(&policy, &a, &api, "a-wait").await;
    assert!(
        matches!(refused, Err(Reason::CircuitOpen { .. })),
        "the fleet's one probe is B's: {refused:?}"
    );
    assert_eq!(probe.await.unwrap(), Ok(()), "B's probe succeeds");
    assert_eq!(api.log().len(), sent + 1, "one probe in all");
    // B told the fleet as its call ended: closed for everyone.
    tokio::time::sleep(ms(40)).await;
    assert_eq!(create(&policy, &a, &api, "a-after").await, Ok(()));
}

/// A member that holds the fleet's one probe and dies gives it back with
/// its lease (300 ms here), not after the minute a silent probe takes to
/// go stale: another member probes then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_members_probe_comes_back_with_its_lease() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let policy = breaker_policy();
    let a = Arc::new(
        RedisLimits::new(&redis.url, "dead-probe", &policy)
            .unwrap()
            .with_lease_ttl(ms(300)),
    );
    let b = Member::Fleet(Arc::new(
        RedisLimits::new(&redis.url, "dead-probe", &policy).unwrap(),
    ));
    let api = Arc::new(FakeApi::start());
    api.random_faults(1, 1.0, vec![Fault::status(503)]);
    let member_a = Member::Fleet(a.clone());
    for i in 0..6 {
        if let Err(Reason::CircuitOpen { .. }) =
            create(&policy, &member_a, &api, &format!("a{i}")).await
        {
            break;
        }
    }
    // Healed; A takes the probe and dies while it is out.
    api.random_faults(1, 0.0, Vec::new());
    api.script([Fault::StoreThenStall(ms(1_000))]);
    tokio::time::sleep(ms(350)).await;
    let probe = {
        let (policy, api) = (policy.clone(), api.clone());
        tokio::spawn(async move { create(&policy, &member_a, &api, "a-probe").await })
    };
    tokio::time::sleep(ms(100)).await;
    probe.abort();
    assert!(probe.await.is_err(), "cut mid-probe");
    drop(a);
    let refused = create(&policy, &b, &api, "b-early").await;
    assert!(
        matches!(refused, Err(Reason::CircuitOpen { .. })),
        "the probe is still A's: {refused:?}"
    );
    tokio::time::sleep(ms(400)).await;
    assert_eq!(
        create(&policy, &b, &api, "b-late").await,
        Ok(()),
        "B probes"
    );
}

/// Between the member and Redis: passes bytes both ways, or, stalled,
/// swallows what the member sends, so a renewal is never run and never
/// answered (the member's round trip hangs).
struct StallingProxy {
    url: String,
    stalled: Arc<std::sync::atomic::AtomicBool>,
}

impl StallingProxy {
    fn start(redis: &RedisServer) -> Self {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}/", listener.local_addr().unwrap());
        let target = redis
            .url
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        std::thread::spawn(move || {
            for member in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let pump =
                    |mut from: TcpStream, mut to: TcpStream, swallow: Option<Arc<AtomicBool>>| {
                        std::thread::spawn(move || {
                            let mut buf = [0u8; 4096];
                            while let Ok(n @ 1..) = from.read(&mut buf) {
                                if swallow.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                                    continue;
                                }
                                if to.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            let _ = to.shutdown(std::net::Shutdown::Both);
                        });
                    };
                pump(
                    member.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    Some(flag.clone()),
                );
                pump(server, member, None);
            }
        });
        Self { url, stalled }
    }

    fn stall(&self, on: bool) {
        self.stalled.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A call cancelled while its renewal is on its way (Redis never saw it)
/// gives the renewal's news back to the member's limits: the failure it
/// carried reaches the fleet with the next renewal instead of being lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn news_of_a_cancelled_renewal_goes_with_the_next() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let proxy = Arc::new(StallingProxy::start(&redis));
    // One send a call, a breaker that never opens: each 503 is one failure
    // for the fleet to count, told as the call ends.
    let spec = with_limits(LimitsSpec {
        breaker: Some(BreakerSpec {
            failure_ratio: 0.5,
            window: Duration::from_secs(60),
            min_outcomes: 1_000,
            break_for: ms(300),
            probes: 1,
        }),
        ..LimitsSpec::default()
    })
    .spec()
    .clone();
    let policy = Policy::new(PolicySpec {
        max_retries: 0,
        attempt_timeout: Some(Duration::from_secs(2)),
        ..spec
    })
    .unwrap();
    let fleet = Arc::new(RedisLimits::new(&proxy.url, "cancelled", &policy).unwrap());
    let api = Arc::new(FakeApi::start());
    api.random_faults(1, 1.0, vec![Fault::status(503)]);
    let client = reqwest::Client::new();
    // One create; `stall`: Redis stops hearing the member once it sends.
    let create = |ext: &'static str, stall: bool| {
        let (proxy, client, url) = (proxy.clone(), client.clone(), api.url("/contacts"));
        let (policy, fleet) = (policy.clone(), fleet.clone());
        async move {
            let request = Request::new(Method::Post).with_idempotency_key();
            let send = |_| {
                proxy.stall(stall);
                client
                    .post(&url)
                    .bearer_auth("tok-0")
                    .body(contact_json(ext))
                    .send()
            };
            retry(&policy, request, &fleet, send).await
        }
    };
    let failed_in_redis = || {
        let mut conn = redis::Client::open(redis.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let failed: Option<u32> = redis::cmd("HGET")
            .arg("{steadfast:cancelled}:breaker")
            .arg("failed")
            .query(&mut conn)
            .unwrap();
        failed.unwrap_or(0)
    };

    // The call sends and fails; the renewal that tells it hangs, and the
    // call is dropped before the round trip's own timeout (one second).
    let cut = tokio::time::timeout(ms(400), create("c0", true)).await;
    assert!(cut.is_err(), "cancelled mid-renewal");
    assert_eq!(api.log().len(), 1, "its one send went out");
    assert_eq!(failed_in_redis(), 0, "Redis never heard of the failure");
    assert_eq!(
        fleet.failures(),
        0,
        "a cancellation is not a failed round trip"
    );

    // The next call's renewals tell both failures.
    proxy.stall(false);
    assert!(create("c1", false).await.is_err());
    assert_eq!(api.log().len(), 2);
    assert_eq!(
        failed_in_redis(),
        2,
        "the cancelled call's failure reached the fleet"
    );
}
