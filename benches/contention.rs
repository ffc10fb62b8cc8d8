//! Shared limits under contention: request cycles through one
//! `Mutex<Limits>` on 1, 2, 4 and 16 threads, the way the drivers run them
//! (the clock read before the lock; admission under it, the send outside
//! it, the 200's report under it again), beside `governor`'s lock-free
//! `check()` on the same threads, in one run. Times are per request across
//! all threads (throughput: lower is better).
//!
//! ```text
//! cargo bench --bench contention
//! ```

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use steadfast::{Clock, Limits};

// The cycle is shared with benches/decision.rs (which counts its
// instructions too); this bench uses one of its loops.
#[allow(dead_code)]
#[path = "support/loops.rs"]
mod loops;

/// Runs `per_thread` iterations of `f` on each of `threads` threads at
/// once; how long the slowest took.
fn on_threads(threads: u64, iters: u64, f: &(dyn Fn() + Sync)) -> Duration {
    let per_thread = iters.div_ceil(threads);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per_thread {
                    f();
                }
            });
        }
    });
    started.elapsed()
}

fn contention(c: &mut Criterion) {
    let policy = loops::limited_policy();
    let limits = Mutex::new(Limits::new(&policy));
    let epoch = Instant::now();
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let cycle = || {
        let clock = Clock::new(epoch.elapsed(), unix + epoch.elapsed());
        black_box(loops::admission_cycle(&policy, &limits, clock));
    };
    let quota = governor::Quota::per_second(NonZeroU32::MAX);
    let governor = governor::RateLimiter::direct(quota);
    let check = || {
        black_box(governor.check().is_ok());
    };
    let mut group = c.benchmark_group("shared limits, per request");
    for threads in [1u64, 2, 4, 16] {
        group.bench_with_input(
            BenchmarkId::new("steadfast cycle", threads),
            &threads,
            |b, &t| b.iter_custom(|iters| on_threads(t, iters, &cycle)),
        );
        group.bench_with_input(
            BenchmarkId::new("governor check", threads),
            &threads,
            |b, &t| b.iter_custom(|iters| on_threads(t, iters, &check)),
        );
    }
    group.finish();
}

criterion_group!(benches, contention);
criterion_main!(benches);
