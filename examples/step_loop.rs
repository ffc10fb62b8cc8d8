//! The benches' hot loops, bare, for counting instructions: timings on a
//! shared VM wander, instruction counts do not. `benches/instructions.sh`
//! runs each loop under callgrind at two lengths and prints the difference
//! per iteration.
//!
//! ```text
//! cargo run --release --example step_loop -- step|backon|date|httpdate ITERATIONS
//! ```

use std::hint::black_box;
use std::time::Duration;

use backon::BackoffBuilder;
use steadfast::{Call, Clock, Method, Outcome, Policy, PolicySpec, PressureThresholds, Request};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_default();
    let n: u64 = match args.next().map(|s| s.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: step_loop step|backon|date|httpdate ITERATIONS");
            std::process::exit(2);
        }
    };
    match what.as_str() {
        "step" => step(n),
        "backon" => backon(n),
        "date" => date(n, false),
        "httpdate" => date(n, true),
        other => {
            eprintln!("unknown loop {other:?}: step, backon, date or httpdate");
            std::process::exit(2);
        }
    }
}

/// The decision-step bench: observe a 503 with `Retry-After: 120`, advance
/// the clock by the wait, poll the next send.
fn step(n: u64) {
    let policy = Policy::new(PolicySpec {
        max_retries: u32::MAX,
        ..PolicySpec::default()
    })
    .expect("valid policy");
    let headers = [("Retry-After", "120")];
    let mut clock = Clock::new(Duration::ZERO, Duration::from_secs(1_800_000_000));
    let mut call = Call::new(&policy, Request::new(Method::Get), clock, 1);
    for _ in 0..n {
        let event = call.observe(Outcome::response(503, black_box(&headers)), clock);
        black_box(event.ok());
        clock = clock.advanced(Duration::from_secs(120));
        black_box(call.poll(clock));
    }
}

/// backon's bench: build the jittered 3 s x3 / 300 s / 4-retry backoff and
/// take its four delays (so one iteration is four delays).
fn backon(n: u64) {
    let builder = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(3))
        .with_factor(3.0)
        .with_max_delay(Duration::from_secs(300))
        .with_max_times(4)
        .with_jitter_seed(7);
    for _ in 0..n {
        let mut backoff = black_box(builder).build();
        for _ in 0..4 {
            black_box(backoff.next());
        }
    }
}

/// An HTTP-date `Retry-After`, through steadfast or the date crate alone.
fn date(n: u64, alone: bool) {
    let date = "Fri, 15 Jan 2027 08:02:00 GMT";
    let headers = [("Retry-After", date)];
    let now = Duration::from_secs(1_800_000_000);
    let thresholds = PressureThresholds::default();
    for _ in 0..n {
        if alone {
            black_box(httpdate::parse_http_date(black_box(date)).ok());
        } else {
            black_box(steadfast::headers::read(
                black_box(&headers),
                now,
                &thresholds,
            ));
        }
    }
}
