//! The core's speed, beside the peers, in one criterion run: one decision
//! step beside the same work written by hand and reqwest-retry's share of
//! it, a whole call to give-up, the next-delay computation against backon
//! and retry-policies on the same schedule, and HTTP-date Retry-After parsing
//! against the date crate alone.
//!
//! ```text
//! cargo bench --bench decision
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, Criterion};
use steadfast::Policy;

// The measured bodies, shared with benches/contention.rs.
#[path = "support/loops.rs"]
mod loops;

fn decision_step(c: &mut Criterion) {
    // Unlimited retries keep the call in its steady state: every iteration
    // is the same step.
    let policy = loops::endless_policy();
    let mut call = loops::endless_call(&policy);
    let mut clock = loops::start();
    let mut group = c.benchmark_group("decision step (503 + Retry-After: 120)");
    group.bench_function("steadfast observe + poll", |b| {
        b.iter(|| loops::decision_step(&mut call, &mut clock))
    });
    let mut baseline = loops::Baseline::new();
    group.bench_function("hand-written, the same work", |b| {
        b.iter(|| {
            loops::baseline_step(
                &mut baseline,
                black_box(503),
                black_box(&loops::RETRY_AFTER),
            )
        })
    });
    let mut peer = loops::ReqwestRetry::new();
    group.bench_function("reqwest-retry classify + should_retry", |b| {
        b.iter(|| loops::reqwest_retry_step(&mut peer))
    });
    group.finish();
}

fn request_cycle(c: &mut Criterion) {
    let policy = loops::limited_policy();
    let mut limits = steadfast::Limits::new(&policy);
    let mut clock = loops::start();
    let mut server = loops::Server::new();
    c.bench_function(
        "request cycle through shared limits: admit, observe 200, done",
        |b| b.iter(|| loops::request_cycle(&policy, &mut limits, &mut clock, &mut server)),
    );
}

fn whole_call(c: &mut Criterion) {
    let policy = Policy::seed_guide();
    c.bench_function("whole call: 5 x 503 to give-up", |b| {
        b.iter(|| loops::whole_call(&policy))
    });
}

/// The same schedule everywhere: 3 s × 3 up to 300 s, 4 retries, jitter on.
fn next_delay(c: &mut Criterion) {
    use retry_policies::RetryPolicy;

    let mut group = c.benchmark_group("next delay (3s x3 cap 300s, jittered)");
    let policy = loops::jittered_policy();
    let mut call = loops::endless_call(&policy);
    let mut clock = loops::start();
    group.bench_function("steadfast observe 503 + poll, full jitter", |b| {
        b.iter(|| loops::jittered_step(&mut call, &mut clock))
    });
    let builder = loops::backon_builder();
    group.bench_function("backon ExponentialBuilder (4 delays)", |b| {
        b.iter(|| loops::backon_four_delays(&builder))
    });
    let mut step = 0u32;
    let policy = retry_policies::policies::ExponentialBackoff::builder()
        .retry_bounds(Duration::from_secs(3), Duration::from_secs(300))
        .base(3)
        .build_with_max_retries(4);
    let start = std::time::SystemTime::now();
    group.bench_function("retry-policies ExponentialBackoff::should_retry", |b| {
        b.iter(|| {
            step = (step + 1) % 4;
            black_box(black_box(&policy).should_retry(start, black_box(step)))
        })
    });
    group.finish();
}

/// The decision step with an HTTP-date `Retry-After` (less the step with
/// seconds, what reading the date costs), and the date crate alone parsing
/// the same date (the floor for that work).
fn retry_after_date(c: &mut Criterion) {
    let mut group = c.benchmark_group("Retry-After HTTP-date");
    let policy = loops::endless_policy();
    let mut call = loops::endless_call(&policy);
    let mut clock = loops::start();
    group.bench_function("steadfast observe + poll, date", |b| {
        b.iter(|| loops::decision_step_date(&mut call, &mut clock))
    });
    group.bench_function("httpdate::parse_http_date alone", |b| {
        b.iter(|| black_box(loops::date_alone()))
    });
    group.finish();
}

criterion_group!(
    benches,
    decision_step,
    request_cycle,
    whole_call,
    next_delay,
    retry_after_date
);

/// `STEADFAST_LOOP=NAME:ITERATIONS` runs one loop bare instead of the
/// benchmarks, for `benches/instructions.sh` to count under callgrind: the
/// very machine code criterion times, in the same binary.
fn main() {
    if let Ok(spec) = std::env::var("STEADFAST_LOOP") {
        let (what, n) = spec.split_once(':').unwrap_or((spec.as_str(), "100000"));
        let Ok(n) = n.parse::<u64>() else {
            eprintln!("STEADFAST_LOOP=NAME:ITERATIONS, got {spec:?}");
            std::process::exit(2);
        };
        return bare(what, n);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

fn bare(what: &str, n: u64) {
    match what {
        "step" => {
            let policy = loops::endless_policy();
            let mut call = loops::endless_call(&policy);
            let mut clock = loops::start();
            for _ in 0..n {
                black_box(loops::decision_step(&mut call, &mut clock));
            }
        }
        "baseline" => {
            let mut state = loops::Baseline::new();
            for _ in 0..n {
                black_box(loops::baseline_step(
                    &mut state,
                    black_box(503),
                    black_box(&loops::RETRY_AFTER),
                ));
            }
        }
        "reqwest-retry" => {
            let mut state = loops::ReqwestRetry::new();
            for _ in 0..n {
                black_box(loops::reqwest_retry_step(&mut state));
            }
        }
        "cycle" => {
            let policy = loops::limited_policy();
            let mut limits = steadfast::Limits::new(&policy);
            let mut clock = loops::start();
            let mut server = loops::Server::new();
            for _ in 0..n {
                let action = loops::request_cycle(&policy, &mut limits, &mut clock, &mut server);
                assert!(
                    matches!(
                        action,
                        steadfast::Action::Done(_) | steadfast::Action::GiveUp(_)
                    ),
                    "{action:?}"
                );
            }
        }
        "admission" => {
            let policy = loops::limited_policy();
            let limits = std::sync::Mutex::new(steadfast::Limits::new(&policy));
            let mut clock = loops::start();
            for _ in 0..n {
                clock = clock.advanced(loops::ADMISSION_STEP);
                let action = loops::admission_cycle(&policy, &limits, clock);
                assert!(
                    matches!(
                        action,
                        steadfast::Action::Done(_) | steadfast::Action::GiveUp(_)
                    ),
                    "{action:?}"
                );
            }
        }
        "admission-adaptive" => {
            let (policy, limits) = loops::adaptive_limits();
            let mut clock = loops::start().advanced(std::time::Duration::from_secs(2));
            for _ in 0..n {
                clock = clock.advanced(loops::ADMISSION_STEP);
                let action = loops::admission_cycle(&policy, &limits, clock);
                assert!(matches!(action, steadfast::Action::Done(_)), "{action:?}");
            }
        }
        "call" => {
            let policy = steadfast::Policy::seed_guide();
            for _ in 0..n {
                black_box(loops::whole_call(&policy));
            }
        }
        "jittered" => {
            let policy = loops::jittered_policy();
            let mut call = loops::endless_call(&policy);
            let mut clock = loops::start();
            for _ in 0..n {
                black_box(loops::jittered_step(&mut call, &mut clock));
            }
        }
        "backon" => {
            let builder = loops::backon_builder();
            for _ in 0..n {
                loops::backon_four_delays(&builder);
            }
        }
        "step-date" => {
            let policy = loops::endless_policy();
            let mut call = loops::endless_call(&policy);
            let mut clock = loops::start();
            for _ in 0..n {
                black_box(loops::decision_step_date(&mut call, &mut clock));
            }
        }
        "httpdate" => {
            for _ in 0..n {
                black_box(loops::date_alone());
            }
        }
        other => {
            eprintln!("unknown loop {other:?}: step, baseline, reqwest-retry, cycle, admission, admission-adaptive, call, jittered, backon, step-date or httpdate");
            std::process::exit(2);
        }
    }
}
