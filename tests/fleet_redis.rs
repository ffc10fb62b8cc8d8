//! Limits shared through a real `redis-server` (started by the test on a
//! free 127.0.0.1 port): four fleet members — each with its own Redis
//! connection and its own limits — run 25 concurrent creates each against
//! the loopback API enforcing one quota, first as tasks of this process,
//! then as four OS processes (this test binary, run again as
//! `fleet_member`). With shared limits no 429 comes after the first window;
//! the same run with per-member limits is the baseline. Another run stops
//! Redis half way: the members go on with their own limits and nothing is
//! lost.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast::driver::redis::RedisLimits;
use steadfast::driver::tokio::{run, AsyncHooks};
use steadfast::driver::Reply;
use steadfast::Completion;
use steadfast::{Limits, Method, NetworkError, Policy, Request};

use support::fake_api::FakeApi;
use support::{captured, contact_json, fleet_policy as policy, RedisCluster, RedisServer};

const MEMBERS: usize = 4;
const CALLS: usize = 25;
/// Creates the API accepts per two-second window.
const QUOTA: u32 = 40;
const WINDOW: Duration = Duration::from_secs(2);

struct Create {
    client: reqwest::Client,
    url: String,
    body: String,
}

impl AsyncHooks for Create {
    type Response = Reply;
    type Id = ();
    async fn send(&mut self, _attempt: u32) -> Result<Reply, NetworkError> {
        let sent = self
            .client
            .post(&self.url)
            .bearer_auth("tok-0")
            .body(self.body.clone())
            .send()
            .await;
        let r = sent.map_err(|e| NetworkError::from(&e))?;
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect();
        Ok(Reply {
            status,
            headers,
            body: Vec::new(),
        })
    }
}

/// How each member shares: through Redis, or on its own.
enum Members {
    Fleet(Vec<Arc<RedisLimits>>),
    Alone(Vec<Arc<Mutex<Limits>>>),
}

/// Runs every member's calls at once; how many were created.
async fn run_fleet(api: &FakeApi, policy: &Arc<Policy>, sharing: &Members) -> usize {
    let members: Vec<usize> = (0..MEMBERS).collect();
    run_members(&api.url("/contacts"), policy, sharing, &members).await
}

/// Runs the calls of `members` at once (`sharing` holds one entry per
/// member listed, in order); how many were created.
async fn run_members(
    url: &str,
    policy: &Arc<Policy>,
    sharing: &Members,
    members: &[usize],
) -> usize {
    let mut tasks = Vec::new();
    for (slot, &member) in members.iter().enumerate() {
        for call in 0..CALLS {
            let ext = format!("m{member}-c{call}");
            let mut hooks = Create {
                client: reqwest::Client::new(),
                url: url.to_owned(),
                body: contact_json(&ext),
            };
            let policy = policy.clone();
            let request = Request::new(Method::Post).with_idempotency_key();
            let task = match sharing {
                Members::Fleet(fleet) => {
                    let fleet = fleet[slot].clone();
                    tokio::spawn(
                        async move { run(&*policy, request, &fleet, &mut hooks).await.result },
                    )
                }
                Members::Alone(own) => {
                    let own = own[slot].clone();
                    tokio::spawn(
                        async move { run(&*policy, request, &own, &mut hooks).await.result },
                    )
                }
            };
            tasks.push(task);
        }
    }
    let mut created = 0;
    for task in tasks {
        if let Ok(Completion::Success(r)) = task.await.unwrap() {
            assert_eq!(r.status, 201);
            created += 1;
        }
    }
    created
}

/// 429s the server answered after its first window (in the first, the
/// fleet knows nothing of the quota yet).
fn late_429s(api: &FakeApi) -> usize {
    late_429s_after(api, WINDOW)
}

fn late_429s_after(api: &FakeApi, window: Duration) -> usize {
    api.log()
        .iter()
        .filter(|s| s.status == Some(429) && s.at >= window)
        .count()
}

fn every_record_once(api: &FakeApi) {
    let stored: HashSet<String> = api.store().into_keys().collect();
    assert_eq!(
        stored.len(),
        MEMBERS * CALLS,
        "no create lost or duplicated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_keeps_to_one_quota_through_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    keeps_to_one_quota(&redis.url).await;
}

/// The same on a Redis Cluster: the API's keys share one slot, which the
/// cluster client finds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_keeps_to_one_quota_on_a_cluster() {
    let Some(cluster) = RedisCluster::start(None) else {
        return;
    };
    keeps_to_one_quota(&cluster.url()).await;
}

/// Four members sharing through the Redis at `url` keep to one quota that
/// four members alone overrun.
async fn keeps_to_one_quota(url: &str) {
    let policy = Arc::new(policy());

    let api = FakeApi::start();
    api.rate_limit(QUOTA, WINDOW);
    let fleet: Vec<_> = (0..MEMBERS)
        .map(|_| Arc::new(RedisLimits::new(url, "fleet-test", &policy).unwrap()))
        .collect();
    let created = run_fleet(&api, &policy, &Members::Fleet(fleet.clone())).await;
    assert_eq!(created, MEMBERS * CALLS, "every call completes");
    every_record_once(&api);
    let shared_429s = late_429s(&api);
    let trips: u64 = fleet.iter().map(|f| f.round_trips()).sum();
    let failures: u64 = fleet.iter().map(|f| f.failures()).sum();
    assert_eq!(failures, 0);

    let baseline = FakeApi::start();
    baseline.rate_limit(QUOTA, WINDOW);
    let own = (0..MEMBERS)
        .map(|_| Arc::new(Mutex::new(Limits::new(&policy))))
        .collect();
    let created = run_fleet(&baseline, &policy, &Members::Alone(own)).await;
    assert_eq!(created, MEMBERS * CALLS);
    let alone_429s = late_429s(&baseline);
    let p99 = fleet
        .iter()
        .filter_map(|f| f.round_trip_percentile(99))
        .max()
        .unwrap();
    eprintln!(
        "429s after the first window: {shared_429s} shared, {alone_429s} per member; \
         {trips} round trips for {} sends, p99 round trip {p99:?}",
        api.log().len()
    );
    assert_eq!(shared_429s, 0, "shared limits keep to the quota");
}

/// A Redis that accepts connections and never answers: each call waits on
/// it at most once (the round-trip timeout, 300 ms here), not once per
/// call queued behind the renewal in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_silent_redis_delays_calls_once_not_in_turn() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", silent.local_addr().unwrap());
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for conn in silent.incoming().flatten() {
            keep.lock().unwrap().push(conn);
        }
    });
    calls_go_on_alone(&url).await;
}

/// One member's calls through the unanswering Redis at `url` complete on
/// its own limits, delayed at most once by the round-trip timeout.
async fn calls_go_on_alone(url: &str) {
    let policy = Arc::new(policy());
    let api = FakeApi::start();
    let member = Arc::new(RedisLimits::new(url, "alone", &policy).unwrap());
    let started = std::time::Instant::now();
    let created = run_members(
        &api.url("/contacts"),
        &policy,
        &Members::Fleet(vec![member.clone()]),
        &[0],
    )
    .await;
    let took = started.elapsed();
    assert_eq!(created, CALLS);
    assert!(member.failures() >= 1);
    assert!(
        took < Duration::from_secs(2),
        "{CALLS} calls took {took:?} beside a Redis that does not answer"
    );
}

/// Windows of half a second: readings a few hundred milliseconds apart
/// belong to different windows, and the fleet tells them apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sub_second_windows_are_kept_to_as_well() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let policy = Arc::new(policy());
    let window = Duration::from_millis(500);
    let api = FakeApi::start();
    api.rate_limit(40, window);
    let fleet: Vec<_> = (0..MEMBERS)
        .map(|_| Arc::new(RedisLimits::new(&redis.url, "half-second", &policy).unwrap()))
        .collect();
    let created = run_fleet(&api, &policy, &Members::Fleet(fleet)).await;
    assert_eq!(created, MEMBERS * CALLS, "every call completes");
    every_record_once(&api);
    let late = late_429s_after(&api, window);
    eprintln!("500 ms windows: {late} 429s after the first window");
    assert_eq!(late, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_normal_pressure_leases_save_round_trips() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    leases_save_round_trips(&redis.url, "standalone").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_normal_pressure_leases_save_round_trips_on_a_cluster() {
    let Some(cluster) = RedisCluster::start(None) else {
        return;
    };
    leases_save_round_trips(&cluster.url(), "cluster").await;
}

/// At most 0.2 round trips per request to the Redis at `url` while the
/// quota leaves room for everyone.
async fn leases_save_round_trips(url: &str, what: &str) {
    let policy = Arc::new(policy());
    let api = FakeApi::start();
    // Room for everyone: pressure stays normal.
    api.rate_limit(10_000, Duration::from_secs(10));
    let fleet: Vec<_> = (0..MEMBERS)
        .map(|_| Arc::new(RedisLimits::new(url, "roomy", &policy).unwrap()))
        .collect();
    let created = run_fleet(&api, &policy, &Members::Fleet(fleet.clone())).await;
    assert_eq!(created, MEMBERS * CALLS);
    let trips: u64 = fleet.iter().map(|f| f.round_trips()).sum();
    let per_request = trips as f64 / (MEMBERS * CALLS) as f64;
    let p99 = fleet
        .iter()
        .filter_map(|f| f.round_trip_percentile(99))
        .max()
        .unwrap();
    let p50 = fleet
        .iter()
        .filter_map(|f| f.round_trip_percentile(50))
        .max()
        .unwrap();
    eprintln!(
        "{what}: {trips} round trips for {} requests: {per_request:.3} each; \
         round trip p50 {p50:?}, p99 {p99:?} (the first opens the connection)",
        MEMBERS * CALLS
    );
    assert!(per_request <= 0.2, "{per_request}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_redis_dies_the_fleet_goes_on_alone() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let policy = Arc::new(policy());
    let api = Arc::new(FakeApi::start());
    api.rate_limit(QUOTA, WINDOW);
    let fleet: Vec<_> = (0..MEMBERS)
        .map(|_| Arc::new(RedisLimits::new(&redis.url, "dies", &policy).unwrap()))
        .collect();
    let sharing = Members::Fleet(fleet.clone());
    let run = run_fleet(&api, &policy, &sharing);
    let kill = async {
        tokio::time::sleep(WINDOW * 2).await;
        redis.kill();
    };
    let (created, ()) = tokio::join!(run, kill);
    assert_eq!(created, MEMBERS * CALLS, "every call completes");
    every_record_once(&api);
    let failures: u64 = fleet.iter().map(|f| f.failures()).sum();
    assert!(failures > 0, "the fleet noticed Redis was gone");
}

/// One member of a fleet of OS processes: run only by
/// `a_fleet_of_processes_keeps_to_one_quota`, which passes what to do in
/// the environment.
#[test]
#[ignore = "a fleet member process, started by a_fleet_of_processes_keeps_to_one_quota"]
fn fleet_member() {
    let var = |name: &str| std::env::var(name).expect("run by the fleet test");
    let member: usize = var("FLEET_MEMBER").parse().unwrap();
    let (url, redis) = (var("FLEET_API"), var("FLEET_REDIS"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let created = runtime.block_on(async {
        let policy = Arc::new(policy());
        let sharing = if redis.is_empty() {
            Members::Alone(vec![Arc::new(Mutex::new(Limits::new(&policy)))])
        } else {
            let limits = RedisLimits::new(&redis, "processes", &policy).unwrap();
            Members::Fleet(vec![Arc::new(limits)])
        };
        let created = run_members(&url, &policy, &sharing, &[member]).await;
        let failures = match &sharing {
            Members::Fleet(fleet) => fleet[0].failures(),
            Members::Alone(_) => 0,
        };
        (created, failures)
    });
    println!("created {} failures {}", created.0, created.1);
}

/// Four OS processes share one quota; `redis` empty means each alone.
fn run_processes(api: &FakeApi, redis: &str) {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..MEMBERS)
        .map(|member| {
            std::process::Command::new(&exe)
                .args(["fleet_member", "--exact", "--ignored", "--nocapture"])
                .env("FLEET_MEMBER", member.to_string())
                .env("FLEET_API", api.url("/contacts"))
                .env("FLEET_REDIS", redis)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("created {CALLS} failures 0")),
            "{text}"
        );
    }
}

#[test]
fn a_fleet_of_processes_keeps_to_one_quota() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let api = FakeApi::start();
    api.rate_limit(QUOTA, WINDOW);
    run_processes(&api, &redis.url);
    every_record_once(&api);
    let shared = late_429s(&api);

    let baseline = FakeApi::start();
    baseline.rate_limit(QUOTA, WINDOW);
    run_processes(&baseline, "");
    every_record_once(&baseline);
    eprintln!(
        "four OS processes, 429s after the first window: {shared} shared, {} each alone",
        late_429s(&baseline)
    );
    assert_eq!(shared, 0, "shared limits keep to the quota");
}

/// The same on a Redis Cluster that requires a password, given in the URL.
#[test]
fn a_fleet_of_processes_keeps_to_one_quota_on_a_cluster_with_a_password() {
    let Some(cluster) = RedisCluster::start(Some("fleet-s3cret")) else {
        return;
    };
    let api = FakeApi::start();
    api.rate_limit(QUOTA, WINDOW);
    run_processes(&api, &cluster.url());
    every_record_once(&api);
    let shared = late_429s(&api);
    eprintln!("four OS processes on a cluster, 429s after the first window: {shared}");
    assert_eq!(shared, 0, "shared limits keep to the quota");
}

/// Redis gone, then back on the same port: the member paces alone while it
/// is gone and goes back to leases once it answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_redis_comes_back_the_member_uses_it_again() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let policy = Arc::new(policy());
    let api = FakeApi::start();
    let member = Arc::new(RedisLimits::new(&redis.url, "back", &policy).unwrap());
    let sharing = Members::Fleet(vec![member.clone()]);
    let url = api.url("/contacts");

    assert_eq!(run_members(&url, &policy, &sharing, &[0]).await, CALLS);
    assert_eq!(member.failures(), 0);

    redis.kill();
    assert_eq!(run_members(&url, &policy, &sharing, &[1]).await, CALLS);
    let failures = member.failures();
    assert!(failures > 0, "it noticed");

    redis.restart();
    // Asked again a second after the last failure, at the latest.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let trips = member.round_trips();
    assert_eq!(run_members(&url, &policy, &sharing, &[2]).await, CALLS);
    assert!(member.round_trips() > trips, "leases again");
    assert!(member.round_trip_percentile(50).is_some());
    // The connection manager reconnects: at most the first try fails.
    assert!(
        member.failures() <= failures + 1,
        "{} then {}",
        failures,
        member.failures()
    );
}

/// A member that took a large lease and died holds it only until its lease
/// runs out: a member granted nothing meanwhile asks again then, not at the
/// end of the (ten-second) window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_members_lease_runs_out() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let policy = Arc::new(policy());
    let api = FakeApi::start();
    api.rate_limit(40, Duration::from_secs(10));
    let url = api.url("/contacts");
    let one = |size, ttl| {
        let member = RedisLimits::new(&redis.url, "dead", &policy)
            .unwrap()
            .with_lease_size(size)
            .with_lease_ttl(ttl);
        Members::Fleet(vec![Arc::new(member)])
    };
    let steady = one(1, Duration::from_secs(30));
    let create = |sharing: &Members, ext: &str| {
        let mut hooks = Create {
            client: reqwest::Client::new(),
            url: url.clone(),
            body: contact_json(ext),
        };
        let Members::Fleet(fleet) = sharing else {
            unreachable!()
        };
        let (policy, fleet) = (policy.clone(), fleet[0].clone());
        async move {
            let request = Request::new(Method::Post).with_idempotency_key();
            run(&*policy, request, &fleet, &mut hooks).await.result
        }
    };
    // Two creates: Redis now knows the window (38 left of 40).
    for ext in ["s1", "s2"] {
        assert!(create(&steady, ext).await.is_ok());
    }
    // A member leases everything that is free, sends once and dies.
    let greedy = one(39, Duration::from_millis(300));
    assert!(create(&greedy, "g1").await.is_ok());
    drop(greedy);
    // The steady member may take the one send the dead lease left over
    // (Redis counted its own last send twice, erring towards waiting);
    // then it is granted nothing until the dead lease runs out.
    assert!(create(&steady, "s3").await.is_ok());
    let started = std::time::Instant::now();
    assert!(create(&steady, "s4").await.is_ok());
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    assert!(
        waited >= Duration::from_millis(150),
        "it did wait: {waited:?}"
    );
    assert_eq!(api.store().len(), 5);
}

/// What the process logs (DEBUG and up) while `f` runs on a runtime of
/// the test's thread.
fn logged<T>(f: impl std::future::Future<Output = T>) -> (T, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    captured(|| runtime.block_on(f))
}

/// With `right` (a Redis URL holding the password `PASSWORD`) the fleet
/// shares; with the password wrong it goes on alone and says why, once;
/// neither password reaches the log, a `Debug` or an error.
fn credentials_are_used_and_never_shown(right: &str) {
    const PASSWORD: &str = "pw-s3cret";
    const WRONG: &str = "wr0ng-s3cret";
    let wrong = right.replace(PASSWORD, WRONG);
    let policy = Arc::new(policy());
    let api = FakeApi::start();
    let url = api.url("/contacts");
    let member = |redis: &str| Arc::new(RedisLimits::new(redis, "secret", &policy).unwrap());
    let (good, bad) = (member(right), member(&wrong));

    let (created, log) = logged(run_members(
        &url,
        &policy,
        &Members::Fleet(vec![good.clone()]),
        &[0],
    ));
    assert_eq!(created, CALLS);
    assert_eq!(good.failures(), 0, "{log}");
    assert!(good.round_trips() > 0);

    let (created, bad_log) = logged(run_members(
        &url,
        &policy,
        &Members::Fleet(vec![bad.clone()]),
        &[1],
    ));
    assert_eq!(created, CALLS, "calls go on without shared limits");
    assert!(bad.failures() > 0);
    let told: Vec<&str> = bad_log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    eprintln!("a wrong password: {told:?}");
    assert_eq!(told.len(), 1, "{bad_log}");
    assert!(
        told[0].contains("ERROR") && told[0].contains("refused the credentials"),
        "{bad_log}"
    );

    let malformed = format!("{right}?protocol={PASSWORD}");
    let error = RedisLimits::new(&malformed, "secret", &policy).unwrap_err();
    let shown = format!("{log}{bad_log}{good:?}{bad:?}{error}{error:?}");
    for secret in [PASSWORD, WRONG] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn a_password_in_the_url_is_used_and_never_shown() {
    let Some(redis) = RedisServer::start_with_password("pw-s3cret") else {
        return;
    };
    credentials_are_used_and_never_shown(&redis.url);
    // An ACL user allowed the API's keys alone.
    let acl = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "-a",
            "pw-s3cret",
            "--no-auth-warning",
        ])
        .args(["ACL", "SETUSER", "fleet"])
        .args(["on", ">pw-s3cret", "resetkeys", "~{steadfast:secret}:*"])
        .arg("+@all")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&acl.stdout).trim(), "OK");
    let user = redis.url.replace("redis://:", "redis://fleet:");
    credentials_are_used_and_never_shown(&user);
}

#[test]
fn a_clusters_password_in_the_url_is_used_and_never_shown() {
    let Some(cluster) = RedisCluster::start(Some("pw-s3cret")) else {
        return;
    };
    credentials_are_used_and_never_shown(&cluster.url());
}

/// Mid-run the primary holding the API's slot dies, and the cluster (node
/// timeout 1 s) promotes its replica. Meanwhile the members pace on their
/// own, each saying so at most once; then they find the promoted replica
/// through the cluster client and share again. Every create happens once, and from
/// `SETTLED` after the promotion no 429 comes.
#[test]
fn when_a_clusters_primary_dies_its_replica_takes_over() {
    const SETTLED: Duration = Duration::from_secs(3);
    let Some(mut cluster) = RedisCluster::start(None) else {
        return;
    };
    let policy = Arc::new(policy());
    let api = FakeApi::start();
    let started = std::time::Instant::now();
    // 10 creates a second: the 100 creates take about ten seconds.
    api.rate_limit(QUOTA / 2, WINDOW);
    let fleet: Vec<_> = (0..MEMBERS)
        .map(|_| Arc::new(RedisLimits::new(&cluster.url(), "failover", &policy).unwrap()))
        .collect();
    let killer = Joined(Some(std::thread::spawn(move || {
        // Just before a window starts, when every waiting member renews.
        std::thread::sleep(WINDOW * 2 - Duration::from_millis(100));
        let killed = started.elapsed();
        cluster.fail_over("{steadfast:failover}:window", Duration::from_secs(15));
        (killed, started.elapsed(), cluster)
    })));
    let sharing = Members::Fleet(fleet.clone());
    let after = FakeApi::start();
    let (created, log) = logged(async {
        let created = run_fleet(&api, &policy, &sharing).await;
        // Each member shows that it shares again: a second after any
        // failure, its limits start over (so its next call must renew),
        // and that renewal is answered.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        for (i, member) in fleet.iter().enumerate() {
            member.local().lock().unwrap().reset();
            let answered = member.round_trips() - member.failures();
            let mut hooks = Create {
                client: reqwest::Client::new(),
                url: after.url("/contacts"),
                body: contact_json(&format!("after-{i}")),
            };
            let request = Request::new(Method::Post).with_idempotency_key();
            let done = run(&*policy, request, &**member, &mut hooks).await;
            assert!(done.result.is_ok());
            assert!(
                member.round_trips() - member.failures() > answered,
                "member {i} shares again after the failover"
            );
        }
        created
    });
    let (killed, promoted, cluster) = killer.join();
    let late: Vec<Duration> = api
        .log()
        .iter()
        .filter(|s| s.status == Some(429) && s.at >= WINDOW)
        .map(|s| s.at)
        .collect();
    let warned = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("shared limits unreachable"))
        .count();
    let failures: Vec<u64> = fleet.iter().map(|f| f.failures()).collect();
    eprintln!(
        "primary killed at {killed:?}, replica promoted at {promoted:?}; \
         429s after the first window at {late:?}; failures {failures:?}; \
         {warned} warnings; the run ended at {:?}",
        api.log().last().map(|s| s.at)
    );
    drop(cluster);
    assert_eq!(created, MEMBERS * CALLS, "every call completes");
    every_record_once(&api);
    assert!(failures.iter().sum::<u64>() > 0, "the fleet noticed");
    // The record is read through a scoped subscriber, which other tests'
    // threads may race for a callsite's interest: at most once per member
    // is the claim.
    assert!(warned <= MEMBERS, "once per member:\n{log}");
    assert!(
        late.iter().all(|&at| at < promoted + SETTLED),
        "429s at {late:?}, promoted at {promoted:?}"
    );
}

/// A thread owning a cluster, joined also when the test fails before it
/// would be: the cluster's servers stop with it, not with the process.
struct Joined<T>(Option<std::thread::JoinHandle<T>>);

impl<T> Joined<T> {
    fn join(mut self) -> T {
        let thread = self.0.take().expect("joined once");
        thread.join().unwrap()
    }
}

impl<T> Drop for Joined<T> {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take() {
            let _ = thread.join();
        }
    }
}

/// A cluster in odd states still serves the fleet: a node listed in the
/// URL is down from the start, the script is flushed from every node
/// (`SCRIPT FLUSH`), and the API's slot moves to another primary while
/// calls run. Every call completes; the fleet shares again after each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_in_odd_states_still_serves_the_fleet() {
    let Some(cluster) = RedisCluster::start(None) else {
        return;
    };
    let cluster = Arc::new(cluster);
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let url = cluster
        .url()
        .replacen("redis+cluster://", &format!("redis+cluster://{down},"), 1);
    let policy = Arc::new(policy());
    let api = FakeApi::start();
    api.rate_limit(10_000, Duration::from_secs(10));
    let member = Arc::new(RedisLimits::new(&url, "odd", &policy).unwrap());
    let sharing = Members::Fleet(vec![member.clone()]);
    let calls = api.url("/contacts");
    let shared = |m: &RedisLimits| m.round_trips() - m.failures();

    assert_eq!(run_members(&calls, &policy, &sharing, &[0]).await, CALLS);
    assert_eq!(
        member.failures(),
        0,
        "a node down at the start is passed over"
    );
    assert!(shared(&member) > 0);

    for node in &cluster.nodes {
        let said = cluster.cli(node.port, &["script".into(), "flush".into()]);
        assert!(said.contains("OK"), "{said}");
    }
    let before = shared(&member);
    assert_eq!(run_members(&calls, &policy, &sharing, &[1]).await, CALLS);
    assert_eq!(member.failures(), 0, "a flushed script is loaded again");
    assert!(shared(&member) > before);

    let slot_of = "{steadfast:odd}:window";
    let was = cluster.primary_for(0, slot_of);
    let mover = cluster.clone();
    let moving = tokio::task::spawn_blocking(move || mover.move_slot(slot_of));
    assert_eq!(run_members(&calls, &policy, &sharing, &[2]).await, CALLS);
    moving.await.unwrap();
    assert_ne!(cluster.primary_for(0, slot_of), was, "the slot moved");
    let failures = member.failures();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let before = shared(&member);
    assert_eq!(run_members(&calls, &policy, &sharing, &[3]).await, CALLS);
    eprintln!(
        "odd states: {failures} failed round trips while the slot moved, {} round trips in all",
        member.round_trips()
    );
    assert!(shared(&member) > before, "shares on the slot's new primary");
    assert_eq!(api.store().len(), MEMBERS * CALLS);
}

/// A cluster URL naming no node that answers: calls go on with the
/// process's own limits, each delayed at most once by the round-trip
/// timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_url_naming_no_live_node_leaves_calls_their_own_limits() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
    };
    calls_go_on_alone(&format!("redis+cluster://{},{}/", free(), free())).await;
}
