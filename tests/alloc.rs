//! Zero heap allocations over a whole call once the Call exists, proven with
//! a counting global allocator (counting per thread, so parallel tests in
//! this binary do not disturb each other).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use steadfast::{
    Action, Call, Clock, Jitter, Method, NetworkError, Outcome, Policy, Refresh, Request, Search,
};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a const-initialised thread-local Cell, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

enum Answer<'a> {
    Response(u16, &'a [(&'a str, &'a str)]),
    Network(NetworkError),
    Refresh(Refresh),
    Search(Search),
}

/// Runs a call through `answers`, counting allocations from the first poll
/// to the final action.
fn count(policy: &Policy, request: Request, answers: &[Answer<'_>]) -> (u64, Action) {
    let mut clock = Clock::new(Duration::ZERO, Duration::from_secs(1_800_000_000));
    let mut call = Call::new(policy, request, clock, 99);
    let mut answers = answers.iter();
    let before = allocations();
    let end = loop {
        let action = call.poll(clock, None);
        let outcome = match action {
            Action::Sleep(d) => {
                clock = clock.advanced(d);
                continue;
            }
            Action::Done(_) | Action::GiveUp(_) => break action,
            _ => match answers.next() {
                Some(Answer::Response(s, h)) => Outcome::response(*s, h),
                Some(Answer::Network(e)) => Outcome::Network(*e),
                Some(Answer::Refresh(r)) => Outcome::Refresh(*r),
                Some(Answer::Search(s)) => Outcome::Search(*s),
                None => break action,
            },
        };
        let event = call.observe(outcome, clock, None).expect("answers fit");
        std::hint::black_box(event);
    };
    (allocations() - before, end)
}

const RA: &[(&str, &str)] = &[("Retry-After", "120"), ("Content-Type", "application/json")];
const DATE: &[(&str, &str)] = &[("Retry-After", "Fri, 15 Jan 2027 08:02:00 GMT")];
/// A date only the lenient reader takes: no day name, one-digit day, a
/// numeric zone.
const LENIENT_DATE: &[(&str, &str)] = &[("Retry-After", "5 Jan 2027 09:32:00 +0130")];
const DIALECTS: &[(&str, &str)] = &[
    ("X-Rate-Limit-Limit", "100"),
    ("X-Rate-Limit-Remaining", "0"),
    ("X-Rate-Limit-Reset", "1800000045"),
    ("x-ratelimit-reset", "1800000045000"),
    (
        "RateLimit",
        "\"default\";r=0;t=30, limit=100, remaining=0, reset=3",
    ),
    ("RateLimit-Policy", "\"default\";q=100;w=60"),
    ("RateLimit-Limit", "100, 100;w=60"),
    ("inin-ratelimit-count", "300"),
    ("inin-ratelimit-allowed", "300"),
    ("inin-ratelimit-reset", "35"),
    ("Retry-After", "garbage"),
    ("Authorization", "Bearer secret"),
];

#[test]
fn a_whole_call_allocates_nothing() {
    use Answer::*;
    let guide = Policy::seed_guide();
    let jittered = Policy::seed_guide().with_jitter(Jitter::Decorrelated);
    let genesys = Policy::genesys_sdk();
    let get = Request::new(Method::Get);
    let create = Request::new(Method::Post).with_external_id();
    let rows: Vec<(&str, &Policy, Request, Vec<Answer<'_>>)> = vec![
        (
            "503 x5 to give-up",
            &guide,
            get,
            (0..5).map(|_| Response(503, RA)).collect(),
        ),
        (
            "jittered give-up",
            &jittered,
            get,
            (0..5).map(|_| Response(500, &[])).collect(),
        ),
        (
            "429 with a date",
            &guide,
            get,
            vec![Response(429, DATE), Response(200, &[])],
        ),
        (
            "429 with a lenient date",
            &guide,
            get,
            vec![Response(429, LENIENT_DATE), Response(200, &[])],
        ),
        (
            "429 every dialect",
            &guide,
            get,
            vec![Response(429, DIALECTS), Response(200, DIALECTS)],
        ),
        (
            "401 refresh",
            &guide,
            get,
            vec![
                Response(401, &[]),
                Refresh(steadfast::Refresh::Refreshed),
                Response(401, &[]),
            ],
        ),
        (
            "409 search",
            &guide,
            create,
            vec![
                Response(409, &[]),
                Search(steadfast::Search::NotFound),
                Response(409, &[]),
                Search(steadfast::Search::Found(())),
            ],
        ),
        (
            "network",
            &guide,
            create,
            vec![
                Network(NetworkError::Timeout),
                Network(NetworkError::Dns),
                Network(NetworkError::Tls),
            ],
        ),
        (
            "genesys",
            &genesys,
            get,
            (0..1000).map(|_| Response(503, RA)).collect(),
        ),
    ];
    for (name, policy, request, answers) in rows {
        let (n, end) = count(policy, request, &answers);
        assert!(
            matches!(end, Action::Done(_) | Action::GiveUp(_)),
            "{name}: ended with {end:?}"
        );
        assert_eq!(n, 0, "{name}: {n} allocations");
    }
}

#[test]
fn the_counter_does_count() {
    // Guards the test above against a counter that never moves.
    let before = allocations();
    let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(10));
    std::hint::black_box(&v);
    assert_eq!(allocations() - before, 1);
}
