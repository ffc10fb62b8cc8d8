//! The core's speed: one decision step, and a whole call to give-up.
//!
//! ```text
//! cargo bench --bench decision
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use steadfast::{Action, Call, Clock, Method, Outcome, Policy, PolicySpec, Request};

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

criterion_group!(benches, decision_step, whole_call);
criterion_main!(benches);
