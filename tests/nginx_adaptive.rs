//! Against a server nobody here wrote: nginx's `limit_req` at 50 requests
//! a second, answering the rest 429 with no header (and, in the second
//! run, only `Retry-After: 1`). Twenty threads (then twenty tokio tasks)
//! of ten GETs each share one `Limits` under the recommended policy,
//! scaled down 10x so that its own waits are short; the server's capacity
//! is real. Every request must be done, with at most 1.25 sends per
//! request. The wall time is printed: the goal is 1.5x work / rate (6 s),
//! which the adaptive rate does not reach yet: its first throttle comes
//! after the few sends of nginx's burst, so it starts low and climbs for
//! seconds (10 to 11 s here, either driver).
//!
//! Then a fleet: four OS processes of five threads each against one nginx,
//! each with its own limits and then all through one Redis. The adaptive
//! rate is each process's (Redis shares what the server publishes, and
//! this one publishes nothing), so both runs show processes finding their
//! share on their own.

#[path = "support/nginx_server.rs"]
mod nginx_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nginx_server::Nginx;
use steadfast::driver::blocking;
use steadfast::{Limits, Method, Policy, Request};

const RATE: u32 = 50;
const THREADS: u32 = 20;
const EACH: u32 = 10;

/// The recommended policy, scaled down 10x.
fn policy() -> Policy {
    Policy::recommended()
        .scaled_down(10)
        .expect("a valid policy")
}

/// What one run did: sends, requests done, wall time.
fn drive_blocking(url: &str) -> (u64, u32, Duration) {
    let policy = policy();
    let limits = Mutex::new(Limits::new(&policy));
    drive_threads(url, THREADS, &policy, &limits)
}

/// `threads` threads of ten GETs each through the blocking driver, sharing
/// `limits`.
fn drive_threads<'a, S>(url: &str, threads: u32, policy: &Policy, limits: S) -> (u64, u32, Duration)
where
    S: Into<steadfast::driver::Sharing<'a>> + Copy + Send + Sync,
{
    let sends = AtomicU64::new(0);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let started = Instant::now();
    let done: u32 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = 0;
                    for _ in 0..EACH {
                        let result =
                            blocking::retry(policy, Request::new(Method::Get), limits, |a| {
                                sends.fetch_add(1, Ordering::Relaxed);
                                agent
                                    .get(url)
                                    .config()
                                    .timeout_global(a.timeout)
                                    .build()
                                    .call()
                            });
                        done += u32::from(matches!(result, Ok(ref r) if r.status() == 200));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker"))
            .sum()
    });
    (sends.into_inner(), done, started.elapsed())
}

/// The same through the tokio driver: 20 tasks of 10 GETs, reqwest.
fn drive_tokio(url: &str) -> (u64, u32, Duration) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let policy = Arc::new(policy());
    let limits = Arc::new(Mutex::new(Limits::new(&policy)));
    let sends = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::new();
    let started = Instant::now();
    let done = runtime.block_on(async {
        let tasks: Vec<_> = (0..THREADS)
            .map(|_| {
                let (policy, limits, sends) = (policy.clone(), limits.clone(), sends.clone());
                let (client, url) = (client.clone(), url.to_owned());
                tokio::spawn(async move {
                    let mut done = 0;
                    for _ in 0..EACH {
                        let send = |_| {
                            sends.fetch_add(1, Ordering::Relaxed);
                            client.get(&url).send()
                        };
                        let result = steadfast::driver::tokio::retry(
                            &*policy,
                            Request::new(Method::Get),
                            &limits,
                            send,
                        )
                        .await;
                        done += u32::from(matches!(result, Ok(ref r) if r.status() == 200));
                    }
                    done
                })
            })
            .collect();
        let mut done = 0;
        for t in tasks {
            done += t.await.expect("a task");
        }
        done
    });
    (sends.load(Ordering::Relaxed), done, started.elapsed())
}

/// Every request done, with at most `most` percent of the work in sends.
fn check(what: &str, (sends, done, wall): (u64, u32, Duration), most: u64) {
    let work = THREADS * EACH;
    let ideal = Duration::from_secs_f64(f64::from(work) / f64::from(RATE));
    eprintln!("{what}: {sends} sends for {work} requests, {done} done, {wall:?} (ideal {ideal:?})");
    assert_eq!(done, work, "{what}: every request done");
    assert!(
        sends * 100 <= u64::from(work) * most,
        "{what}: {sends} sends"
    );
}

/// Held by each test while it runs: side by side, their threads would
/// contend for the machine and for each other's timing.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The two servers one after the other.
#[test]
fn both_drivers_finish_the_work_against_limit_req() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let servers = [
        ("bare 429", ""),
        ("Retry-After only", "add_header Retry-After 1 always;"),
    ];
    for (what, extra) in servers {
        let Some(nginx) = Nginx::start(RATE, 5, extra) else {
            return;
        };
        check(
            &format!("{what}, blocking"),
            drive_blocking(&nginx.url),
            125,
        );
        // A second of rest, so that the next run meets a fresh window.
        std::thread::sleep(Duration::from_secs(1));
        check(&format!("{what}, tokio"), drive_tokio(&nginx.url), 125);
    }
}

/// Processes in the fleet, and threads in each.
const MEMBERS: u32 = 4;

/// One process of the fleet: run only by
/// `a_fleet_of_processes_finds_its_share`, which says what to do in the
/// environment and reads the last line of its output.
#[cfg(feature = "redis")]
#[test]
#[ignore = "a fleet member process, started by a_fleet_of_processes_finds_its_share"]
fn fleet_member() {
    let var = |name: &str| std::env::var(name).expect("run by the fleet test");
    let (url, redis) = (var("NGINX_FLEET_URL"), var("NGINX_FLEET_REDIS"));
    let policy = policy();
    let threads = THREADS / MEMBERS;
    let (sends, done, _) = if redis.is_empty() {
        drive_threads(&url, threads, &policy, &Mutex::new(Limits::new(&policy)))
    } else {
        let limits = steadfast::driver::redis::RedisLimits::new(&redis, "nginx-fleet", &policy)
            .expect("redis limits");
        drive_threads(&url, threads, &policy, &limits)
    };
    println!("member: {sends} sends, {done} done");
}

/// Four OS processes against `url`, through Redis at `redis` (empty: each
/// alone): sends, requests done, wall time, summed over the fleet.
#[cfg(feature = "redis")]
fn run_fleet(url: &str, redis: &str) -> (u64, u32, Duration) {
    let exe = std::env::current_exe().expect("the test binary");
    let started = Instant::now();
    let children: Vec<_> = (0..MEMBERS)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["fleet_member", "--exact", "--ignored", "--nocapture"])
                .env("NGINX_FLEET_URL", url)
                .env("NGINX_FLEET_REDIS", redis)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("a member process")
        })
        .collect();
    // Every member is waited for before any is judged: none outlives the
    // test to hammer a stopped server.
    let outputs: Vec<_> = children.into_iter().map(|c| c.wait_with_output()).collect();
    let (mut sends, mut done) = (0, 0);
    for out in outputs {
        let out = out.expect("a member's output");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("member: "))
            .expect(&text);
        let numbers: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        sends += numbers[0];
        done += u32::try_from(numbers[1]).expect("a count");
    }
    (sends, done, started.elapsed())
}

/// Four processes of five threads against one nginx: every request done,
/// at most 1.3 sends per request, each process alone and all through one
/// Redis.
#[cfg(feature = "redis")]
#[test]
fn a_fleet_of_processes_finds_its_share() {
    #[path = "support/redis_server.rs"]
    mod redis_server;

    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(nginx) = Nginx::start(RATE, 5, "") else {
        return;
    };
    let Some(redis) = redis_server::RedisServer::start() else {
        return;
    };
    check("four processes, each alone", run_fleet(&nginx.url, ""), 130);
    std::thread::sleep(Duration::from_secs(1));
    check(
        "four processes, one Redis",
        run_fleet(&nginx.url, &redis.url),
        130,
    );
}
