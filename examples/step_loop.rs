//! The decision bench's loops, bare, for counting instructions: timings on
//! a shared VM wander, instruction counts do not. `benches/instructions.sh`
//! runs each loop under callgrind at two lengths and prints the difference
//! per iteration. The loop bodies are `examples/support/loops.rs`, which the
//! criterion bench times too.
//!
//! ```text
//! cargo run --release --example step_loop -- step|baseline|reqwest-retry|cycle|admission|call|backon|date|httpdate ITERATIONS
//! ```

use std::hint::black_box;

use steadfast::PressureThresholds;

#[path = "support/loops.rs"]
mod loops;

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_default();
    let Some(Ok(n)) = args.next().map(|s| s.parse::<u64>()) else {
        eprintln!("usage: step_loop step|baseline|reqwest-retry|cycle|admission|call|backon|date|httpdate ITERATIONS");
        std::process::exit(2);
    };
    match what.as_str() {
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
                assert!(action.is_final(), "{action:?}");
            }
        }
        "admission" => {
            let policy = loops::limited_policy();
            let limits = std::sync::Mutex::new(steadfast::Limits::new(&policy));
            let mut clock = loops::start();
            for _ in 0..n {
                clock = clock.advanced(std::time::Duration::from_millis(10));
                let action = loops::admission_cycle(&policy, &limits, clock);
                assert!(action.is_final(), "{action:?}");
            }
        }
        "call" => {
            let policy = steadfast::Policy::seed_guide();
            for _ in 0..n {
                black_box(loops::whole_call(&policy));
            }
        }
        "backon" => {
            let builder = loops::backon_builder();
            for _ in 0..n {
                loops::backon_four_delays(&builder);
            }
        }
        "date" => {
            let thresholds = PressureThresholds::default();
            for _ in 0..n {
                black_box(loops::date_through_steadfast(&thresholds));
            }
        }
        "httpdate" => {
            for _ in 0..n {
                black_box(loops::date_alone());
            }
        }
        other => {
            eprintln!("unknown loop {other:?}: step, baseline, reqwest-retry, cycle, admission, call, backon, date or httpdate");
            std::process::exit(2);
        }
    }
}
