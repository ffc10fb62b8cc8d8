//! What the blocking driver adds over the same retry loop written by hand,
//! both against an in-process transport (a request/response round trip to a
//! server thread over channels, as a stand-in for a fast local API).
//!
//! ```text
//! cargo bench --bench driver --features blocking
//! ```

use std::hint::black_box;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use steadfast::driver::blocking::{run, Hooks};
use steadfast::driver::Reply;
use steadfast::driver::Sharing;
use steadfast::{Method, NetworkError, Policy, PolicySpec, Request, Schedule};

/// A server thread answering each request with the next status of a script.
struct Transport {
    to: Sender<u32>,
    from: Receiver<Reply>,
}

fn transport(script: &'static [u16]) -> Transport {
    let (to, rx) = channel::<u32>();
    let (tx, from) = channel();
    thread::spawn(move || {
        for attempt in rx {
            let status = script[(attempt as usize - 1) % script.len()];
            let reply = Reply {
                status,
                headers: vec![("content-type".into(), b"application/json".to_vec())],
                body: br#"{"id":"c-1"}"#.to_vec(),
            };
            if tx.send(reply).is_err() {
                break;
            }
        }
    });
    Transport { to, from }
}

impl Transport {
    fn call(&self, attempt: u32) -> Result<Reply, NetworkError> {
        self.to.send(attempt).map_err(|_| NetworkError::Other)?;
        self.from.recv().map_err(|_| NetworkError::Other)
    }
}

impl Hooks for &Transport {
    type Response = Reply;
    type Id = String;
    fn send(&mut self, attempt: u32, _: Option<Duration>) -> Result<Reply, NetworkError> {
        self.call(attempt)
    }
}

/// The source guide's loop, by hand: retry 5xx/429 after fixed delays.
fn by_hand(t: &Transport, delays: &[Duration]) -> Result<Reply, u16> {
    let mut attempt = 1;
    loop {
        let reply = t.call(attempt).map_err(|_| 0u16)?;
        let retryable = matches!(reply.status, 429 | 500 | 502 | 503 | 504);
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        if !retryable || attempt as usize > delays.len() {
            return Err(reply.status);
        }
        thread::sleep(delays[attempt as usize - 1]);
        attempt += 1;
    }
}

fn bench(c: &mut Criterion) {
    // Waits of 100 µs: both loops really sleep (the driver skips a sleep
    // whose end has already passed, so a 1 ns wait would flatter it), and
    // only the machinery differs.
    let tiny = vec![Duration::from_micros(100); 4];
    let policy = Policy::new(PolicySpec {
        schedule: Schedule::Explicit {
            delays: tiny.clone(),
        },
        ..PolicySpec::default()
    })
    .expect("valid");
    for (name, script) in [
        ("success", &[200u16][..]),
        ("503, 503, 200", &[503, 503, 200][..]),
    ] {
        let script: &'static [u16] = Box::leak(script.to_vec().into_boxed_slice());
        let mut group = c.benchmark_group(format!("driver overhead: {name}"));
        let t = transport(script);
        group.bench_function("hand-written loop", |b| {
            b.iter(|| black_box(by_hand(&t, &tiny).is_ok()))
        });
        let t = transport(script);
        group.bench_function("blocking driver", |b| {
            b.iter(|| {
                let run = run(&policy, Request::new(Method::Get), Sharing::Alone, &mut &t);
                black_box(run.result.is_ok())
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
