//! Against a server nobody here wrote: nginx's `limit_req` at 50 requests
//! a second, answering the rest 429 with no header (and, in the second
//! test, only `Retry-After: 1`). Twenty threads (then twenty tokio tasks)
//! of ten GETs each share one
//! `Limits` under the recommended policy (its adaptive rate's bucket
//! holding a tenth of a second, as suits a leaky bucket), scaled down 10x
//! so that its own waits are short; the server's capacity is real. Every request must be
//! done, with at most 1.25 sends per request. The wall time is printed:
//! the goal is 1.5x work / rate (6 s), which the adaptive rate does not
//! reach yet — it starts from its floor after the first throttle and grows
//! only as sends land (8.6 to 11 s here, either driver).

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

/// The recommended policy, its adaptive rate's bucket holding a tenth of
/// a second (a leaky bucket with a burst of 5 turns a second's burst
/// away), scaled down 10x.
fn policy() -> Policy {
    let mut spec = Policy::recommended().spec().clone();
    spec.limits.adaptive_burst = Duration::from_millis(100);
    Policy::new(spec)
        .and_then(|p| p.scaled_down(10))
        .expect("a valid policy")
}

/// What one run did: sends, requests done, wall time.
fn drive_blocking(url: &str) -> (u64, u32, Duration) {
    let policy = policy();
    let limits = Mutex::new(Limits::new(&policy));
    let sends = AtomicU64::new(0);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let started = Instant::now();
    let done: u32 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    let mut done = 0;
                    for _ in 0..EACH {
                        let result =
                            blocking::retry(&policy, Request::new(Method::Get), &limits, |a| {
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

fn check(what: &str, (sends, done, wall): (u64, u32, Duration)) {
    let work = THREADS * EACH;
    let ideal = Duration::from_secs_f64(f64::from(work) / f64::from(RATE));
    eprintln!("{what}: {sends} sends for {work} requests, {done} done, {wall:?} (ideal {ideal:?})");
    assert_eq!(done, work, "{what}: every request done");
    assert!(
        sends * 100 <= u64::from(work) * 125,
        "{what}: {sends} sends"
    );
}

/// One test, the two servers one after the other: run side by side, their
/// threads would contend for the machine and for each other's timing.
#[test]
fn both_drivers_finish_the_work_against_limit_req() {
    let servers = [
        ("bare 429", ""),
        ("Retry-After only", "add_header Retry-After 1 always;"),
    ];
    for (what, extra) in servers {
        let Some(nginx) = Nginx::start(RATE, 5, extra) else {
            return;
        };
        check(&format!("{what}, blocking"), drive_blocking(&nginx.url));
        // A second of rest, so that the next run meets a fresh window.
        std::thread::sleep(Duration::from_secs(1));
        check(&format!("{what}, tokio"), drive_tokio(&nginx.url));
    }
}
