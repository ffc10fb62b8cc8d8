//! The core's speed, beside the peers, in one criterion run: one decision
//! step, a whole call to give-up, the next-delay computation against backon
//! and retry-policies on the same schedule, and HTTP-date Retry-After parsing
//! against the date crate alone.
//!
//! ```text
//! cargo bench --bench decision
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use steadfast::schedule::Rng;
use steadfast::{
    Action, Call, Clock, Jitter, Method, Outcome, Policy, PolicySpec, PressureThresholds, Request,
    Schedule,
};

const RA: [(&str, &str); 1] = [("Retry-After", "120")];

fn decision_step(c: &mut Criterion) {
    // Unlimited retries keep the call in its steady state: every iteration
    // observes a 503 with Retry-After: 120, decides a 120 s sleep, and polls
    // at the end of it, which yields the next send.
    let policy = Policy::new(PolicySpec {
        max_retries: u32::MAX,
        ..PolicySpec::default()
    })
    .expect("valid policy");
    let mut clock = Clock::new(Duration::ZERO, Duration::from_secs(1_800_000_000));
    let mut call = Call::new(&policy, Request::new(Method::Get), clock, 1);
    let step = Duration::from_secs(120);
    c.bench_function("decision step: observe 503 + Retry-After: 120, poll", |b| {
        b.iter(|| {
            let event = call.observe(Outcome::response(503, black_box(&RA)), clock);
            clock = clock.advanced(step);
            black_box(event.ok());
            black_box(call.poll(clock))
        })
    });
}

fn whole_call(c: &mut Criterion) {
    let policy = Policy::seed_guide();
    let start = Clock::new(Duration::ZERO, Duration::from_secs(1_800_000_000));
    c.bench_function("whole call: 5 x 503 to give-up", |b| {
        b.iter(|| {
            let mut clock = start;
            let mut call = Call::new(&policy, Request::new(Method::Get), clock, 1);
            loop {
                match call.poll(clock) {
                    Action::Send { .. } => {
                        let _ = call.observe(Outcome::response(503, black_box(&RA)), clock);
                    }
                    Action::Sleep(d) => clock = clock.advanced(d),
                    end => break black_box(end),
                }
            }
        })
    });
}

/// The same schedule everywhere: 3 s × 3 up to 300 s, 4 retries, jitter on.
fn next_delay(c: &mut Criterion) {
    use backon::BackoffBuilder;
    use retry_policies::RetryPolicy;

    let mut group = c.benchmark_group("next delay (3s x3 cap 300s, jittered)");
    let schedule = Schedule::Exponential {
        base: Duration::from_secs(3),
        factor: 3.0,
        cap: Duration::from_secs(300),
    };
    let (base, cap) = (schedule.base(), schedule.cap());
    let mut rng = Rng::with_seed(7);
    let mut step = 0u32;
    group.bench_function("steadfast Schedule::delay + Jitter::Full", |b| {
        b.iter(|| {
            step = (step + 1) % 4;
            let d = black_box(&schedule).delay(black_box(step), Duration::ZERO);
            black_box(Jitter::Full.apply(d, d, base, cap, &mut rng))
        })
    });
    let builder = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(3))
        .with_factor(3.0)
        .with_max_delay(Duration::from_secs(300))
        .with_max_times(4)
        .with_jitter_seed(7);
    // backon's delays come from an iterator: one iteration builds it and
    // takes its four delays, reported per delay below by dividing by four.
    group.bench_function("backon ExponentialBuilder (4 delays)", |b| {
        b.iter(|| {
            let mut backoff = black_box(builder).build();
            for _ in 0..4 {
                black_box(backoff.next());
            }
        })
    });
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

/// Parsing an HTTP-date Retry-After: through steadfast's header reader, and
/// with the date crate alone (the floor for the same work).
fn retry_after_date(c: &mut Criterion) {
    let mut group = c.benchmark_group("Retry-After HTTP-date");
    let date = "Fri, 15 Jan 2027 08:02:00 GMT";
    let headers = [("Retry-After", date)];
    let now = Duration::from_secs(1_800_000_000);
    let t = PressureThresholds::default();
    group.bench_function("steadfast headers::read", |b| {
        b.iter(|| black_box(steadfast::headers::read(black_box(&headers), now, &t)))
    });
    group.bench_function("httpdate::parse_http_date alone", |b| {
        b.iter(|| black_box(httpdate::parse_http_date(black_box(date))))
    });
    group.finish();
}

criterion_group!(
    benches,
    decision_step,
    whole_call,
    next_delay,
    retry_after_date
);
criterion_main!(benches);
