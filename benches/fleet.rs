//! What a fleet admission costs: calls through `tokio::run` in a fleet with a lease
//! of one send, so every call makes one round trip to a `redis-server` the
//! bench starts on a free 127.0.0.1 port (quiet: nothing else runs), beside
//! the same calls with leases of eight; then the same on a six-node Redis
//! Cluster the bench starts. The round trips' median and p99 are printed
//! after each.
//!
//! ```text
//! cargo bench --bench fleet --features redis
//! ```

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use steadfast::driver::redis::RedisLimits;
use steadfast::driver::tokio::{run, AsyncHooks};
use steadfast::driver::Reply;
use steadfast::{Method, NetworkError, Policy, Request};

#[path = "../tests/support/redis_server.rs"]
mod redis_server;
use redis_server::{RedisCluster, RedisServer};

/// Answers at once, with a reading that leaves plenty of room.
struct Instant200;

impl AsyncHooks for Instant200 {
    type Response = Reply;
    type Id = ();
    async fn send(&mut self, _attempt: u32) -> Result<Reply, NetworkError> {
        Ok(reply())
    }
}

fn reply() -> Reply {
    Reply {
        status: 200,
        headers: vec![
            ("RateLimit-Limit".into(), b"1000000".to_vec()),
            ("RateLimit-Remaining".into(), b"900000".to_vec()),
            ("RateLimit-Reset".into(), b"60".to_vec()),
        ],
        body: Vec::new(),
    }
}

impl steadfast::driver::blocking::Hooks for Instant200 {
    type Response = Reply;
    type Id = ();
    fn send(&mut self, _attempt: u32, _timeout: Option<Duration>) -> Result<Reply, NetworkError> {
        Ok(reply())
    }
}

fn bench(c: &mut Criterion) {
    let Some(server) = RedisServer::start() else {
        eprintln!("redis-server is not installed: the fleet bench needs it");
        return;
    };
    let Some(cluster) = RedisCluster::start(None) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let policy = Policy::seed_guide();
    let request = Request::new(Method::Get);
    let mut group = c.benchmark_group("fleet admission");
    for (store, url) in [("one node", server.url.clone()), ("cluster", cluster.url())] {
        for lease in [1, 8] {
            let fleet = runtime.block_on(async {
                RedisLimits::new(&url, &format!("bench-{lease}"), &policy)
                    .expect("a client")
                    .with_lease_size(lease)
            });
            group.bench_function(format!("{store}: a call, leases of {lease}"), |b| {
                b.iter(|| {
                    runtime.block_on(async { run(&policy, request, &fleet, &mut Instant200).await })
                })
            });
            report(&format!("{store}, leases of {lease}"), &fleet);
        }
        // The blocking driver's renewals: a plain connection, no runtime.
        let fleet = RedisLimits::new(&url, "bench-blocking", &policy)
            .expect("a client")
            .with_lease_size(1);
        group.bench_function(format!("{store}: a blocking call, leases of 1"), |b| {
            b.iter(|| steadfast::driver::blocking::run(&policy, request, &fleet, &mut Instant200))
        });
        report(&format!("{store}, blocking, leases of 1"), &fleet);
    }
    group.finish();
}

fn report(what: &str, fleet: &RedisLimits) {
    eprintln!(
        "{what}: {} round trips, median {:?}, p99 {:?} (the latest 1,024)",
        fleet.round_trips(),
        fleet.round_trip_percentile(50),
        fleet.round_trip_percentile(99)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
