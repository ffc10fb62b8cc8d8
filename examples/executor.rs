//! Embedding steadfast in an event loop of your own: one thread, no async
//! runtime, 20,000 concurrent calls against an in-process simulated API, and
//! a timer heap for their sleeps. Time is simulated (the loop jumps to the
//! next timer when nothing is ready), as in a discrete-event simulation; a
//! real loop would read its clock instead.
//!
//! ```text
//! cargo run --release --example executor
//! ```
//!
//! The pattern: `poll` a call; do what it says (send, sleep, refresh,
//! search); `observe` what happened; poll again. The clock and the seed come
//! from the loop, which is why it needs no runtime and allocates nothing per
//! decision — a counting allocator below proves it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use steadfast::{
    Action, Call, Clock, Completion, Method, NetworkError, Outcome, Policy, Reason, Refresh,
    Request, Search,
};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call unchanged to the system allocator; it only
// counts allocations.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CALLS: usize = 20_000;

type Headers = &'static dyn steadfast::Headers;

const NONE: [(&str, &str); 0] = [];

/// The simulated API: each answer drawn from a seeded RNG, weighted like a
/// struggling service.
struct Api {
    rng: fastrand::Rng,
}

impl Api {
    fn answer(&mut self) -> Result<(u16, Headers), NetworkError> {
        Ok(match self.rng.u32(0..100) {
            0..=59 => (201, &NONE),
            60..=71 => (503, &NONE),
            72..=75 => (503, &[("Retry-After", "7")]),
            76..=81 => (429, &[("Retry-After", "2")]),
            82..=84 => (
                429,
                &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "5")],
            ),
            85..=88 => (500, &NONE),
            89..=90 => (504, &NONE),
            91..=92 => (401, &NONE),
            93..=94 => (409, &NONE),
            95..=96 => (400, &NONE),
            _ => return Err(NetworkError::Timeout),
        })
    }
}

#[derive(Default, Debug)]
struct Tally {
    created: u32,
    existing: u32,
    gave_up_retries: u32,
    gave_up_fatal: u32,
    gave_up_other: u32,
    sends: u64,
    decisions: u64,
}

fn main() {
    let policy = Policy::seed_guide();
    let request = Request::new(Method::Post).with_external_id();
    let mut now = Clock::new(Duration::ZERO, Duration::from_secs(1_800_000_000));
    let mut api = Api {
        rng: fastrand::Rng::with_seed(2026),
    };

    // Everything the loop needs, allocated up front: each call has at most
    // one timer and one place in the ready queue.
    let mut calls: Vec<Call<&Policy>> = (0..CALLS)
        .map(|i| Call::new(&policy, request, now, i as u64))
        .collect();
    let mut ready: VecDeque<usize> = (0..CALLS).collect();
    let mut timers: BinaryHeap<Reverse<(Duration, usize)>> = BinaryHeap::with_capacity(CALLS);
    let mut tally = Tally::default();

    let wall = Instant::now();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    loop {
        let Some(i) = ready.pop_front() else {
            // Nothing ready: jump to the next timer, wake everything due.
            let Some(Reverse((at, i))) = timers.pop() else {
                break;
            };
            now = now.advanced(at.saturating_sub(now.mono));
            ready.push_back(i);
            while let Some(Reverse((at, j))) = timers.peek().copied() {
                if at > now.mono {
                    break;
                }
                timers.pop();
                ready.push_back(j);
            }
            continue;
        };
        let call = &mut calls[i];
        tally.decisions += 1;
        let outcome = match call.poll(now, None) {
            Action::Send { .. } => {
                tally.sends += 1;
                match api.answer() {
                    Ok((status, headers)) => Outcome::response(status, headers),
                    Err(e) => Outcome::Network(e),
                }
            }
            Action::Sleep(d) => {
                timers.push(Reverse((now.mono.saturating_add(d), i)));
                continue;
            }
            Action::RefreshToken => Outcome::Refresh(Refresh::Refreshed),
            Action::SearchExisting => Outcome::Search(if api.rng.bool() {
                Search::Found(())
            } else {
                Search::NotFound
            }),
            Action::Done(Completion::Success(_)) => {
                tally.created += 1;
                continue;
            }
            Action::Done(_) => {
                tally.existing += 1;
                continue;
            }
            Action::GiveUp(Reason::RetriesExhausted { .. }) => {
                tally.gave_up_retries += 1;
                continue;
            }
            Action::GiveUp(Reason::NotRetryable { .. } | Reason::ReauthRequired) => {
                tally.gave_up_fatal += 1;
                continue;
            }
            Action::GiveUp(_) => {
                tally.gave_up_other += 1;
                continue;
            }
        };
        // The loop only ever answers what the call asked for.
        if call.observe(outcome, now, None).is_ok() {
            ready.push_back(i);
        }
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let wall = wall.elapsed();

    println!("{CALLS} calls on one thread, simulated API, timer heap");
    println!("  created               {:>6}", tally.created);
    println!("  already existed       {:>6}", tally.existing);
    println!("  gave up: retries out  {:>6}", tally.gave_up_retries);
    println!("  gave up: fatal status {:>6}", tally.gave_up_fatal);
    println!("  gave up: other        {:>6}", tally.gave_up_other);
    println!(
        "  {} sends, {} decisions, {} simulated, {:.1} ms wall ({:.0} ns per decision)",
        tally.sends,
        tally.decisions,
        humantime::format_duration(Duration::from_secs(now.mono.as_secs())),
        wall.as_secs_f64() * 1e3,
        wall.as_nanos() as f64 / tally.decisions as f64
    );
    println!("  heap allocations in the loop: {allocations}");
    let finished = tally.created
        + tally.existing
        + tally.gave_up_retries
        + tally.gave_up_fatal
        + tally.gave_up_other;
    assert_eq!(finished as usize, CALLS, "every call finished exactly once");
    assert_eq!(allocations, 0, "the hot loop allocates nothing");
}
