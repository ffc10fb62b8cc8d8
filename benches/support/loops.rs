//! The work the decision and contention benches time, and
//! `benches/instructions.sh` counts instructions of in the decision bench's
//! own binary (`STEADFAST_LOOP=NAME:N`). Each loop body is a function of its
//! own (`inline(never)`), so that what one loop inlines cannot change with
//! the others around it.

use std::hint::black_box;
use std::time::Duration;

use backon::BackoffBuilder;
use steadfast::limits::{BreakerSpec, BudgetSpec};
use steadfast::{
    Action, Call, Clock, Limits, LimitsSpec, Method, Outcome, Policy, PolicySpec, Request,
};

/// The 503's one header in the decision step.
pub const RETRY_AFTER: [(&str, &str); 1] = [("Retry-After", "120")];

/// An HTTP-date `Retry-After`, 2027, ahead of [`start`]'s wall clock.
pub const DATE: &str = "Fri, 15 Jan 2027 08:02:00 GMT";

/// Where every clock starts: monotonic zero, wall clock in 2027.
pub fn start() -> Clock {
    Clock::new(Duration::ZERO, Duration::from_secs(1_800_000_000))
}

/// A call that never runs out of retries, so every step is the same step.
pub fn endless_call(policy: &Policy) -> Call<&Policy> {
    Call::new(policy, steadfast::Request::new(Method::Get), start(), 1)
}

/// The policy [`endless_call`] needs: the guide's, with unlimited retries
/// and no deadline (a loop of 120 s waits would cross it).
pub fn endless_policy() -> Policy {
    Policy::new(PolicySpec {
        max_retries: u32::MAX,
        deadline: None,
        ..PolicySpec::default()
    })
    .expect("valid policy")
}

/// One decision step: observe a 503 with `Retry-After: 120`, let the
/// 120 s pass, poll (which yields the next send).
#[inline(never)]
pub fn decision_step(call: &mut Call<&Policy>, clock: &mut Clock) -> Action {
    let event = call.observe(
        Outcome::response(503, black_box(&RETRY_AFTER)),
        *clock,
        None,
    );
    black_box(event.ok());
    *clock = clock.advanced(Duration::from_secs(120));
    call.poll(*clock, None)
}

/// [`endless_policy`] with the schedule the delay bench compares (3 s × 3
/// up to 300 s) and full jitter.
pub fn jittered_policy() -> Policy {
    Policy::new(PolicySpec {
        schedule: steadfast::Schedule::Exponential {
            base: Duration::from_secs(3),
            factor: 3.0,
            cap: Duration::from_secs(300),
        },
        jitter: steadfast::Jitter::Full,
        max_retries: u32::MAX,
        deadline: None,
        ..PolicySpec::default()
    })
    .expect("valid policy")
}

/// A 503 that says nothing, observed: the call draws its next jittered
/// delay. Then the longest wait passes and a poll yields the next send.
#[inline(never)]
pub fn jittered_step(call: &mut Call<&Policy>, clock: &mut Clock) -> Action {
    let none: [(&str, &str); 0] = [];
    let event = call.observe(Outcome::response(503, black_box(&none)), *clock, None);
    black_box(event.map(|e| e.action).ok());
    *clock = clock.advanced(Duration::from_secs(300));
    call.poll(*clock, None)
}

/// The decision step's observable work, written by hand for this one
/// case: the floor a general engine is measured against. It classifies the
/// status, finds `Retry-After` among the headers and reads its seconds,
/// takes the schedule's wait (3, 9, 27 then 300 s), honours the larger of
/// the two up to a 300 s cap, counts the retry and checks a deadline.
pub struct Baseline {
    retries: u32,
    elapsed: Duration,
}

impl Baseline {
    pub fn new() -> Self {
        Self {
            retries: 0,
            elapsed: Duration::ZERO,
        }
    }
}

/// One step of [`Baseline`]: the wait before the next send, or `None`
/// when it gives up.
#[inline(never)]
pub fn baseline_step(
    state: &mut Baseline,
    status: u16,
    headers: &[(&str, &str)],
) -> Option<Duration> {
    const SCHEDULE: [u64; 4] = [3, 9, 27, 300];
    const CAP: Duration = Duration::from_secs(300);
    const DEADLINE: Duration = Duration::MAX;
    if !matches!(status, 429 | 500 | 502 | 503 | 504) {
        return None;
    }
    let server = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, value)| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let index = usize::try_from(state.retries)
        .unwrap_or(usize::MAX)
        .min(SCHEDULE.len() - 1);
    let scheduled = Duration::from_secs(SCHEDULE[index]);
    let wait = server.map_or(scheduled, |s| s.max(scheduled)).min(CAP);
    state.retries = state.retries.saturating_add(1);
    state.elapsed = state.elapsed.saturating_add(wait);
    (state.elapsed < DEADLINE).then_some(wait)
}

/// reqwest-retry's share of the same step: classify the response
/// (`default_on_request_success`), then ask the policy for the next wait
/// (`should_retry`). It does not read `Retry-After`.
pub struct ReqwestRetry {
    response: reqwest::Response,
    policy: retry_policies::policies::ExponentialBackoff,
    start: std::time::SystemTime,
    retries: u32,
}

impl ReqwestRetry {
    pub fn new() -> Self {
        let response = http::Response::builder()
            .status(503)
            .header("Retry-After", "120")
            .body(Vec::<u8>::new())
            .expect("a response");
        let policy = retry_policies::policies::ExponentialBackoff::builder()
            .retry_bounds(Duration::from_secs(3), Duration::from_secs(300))
            .base(3)
            .build_with_max_retries(u32::MAX);
        Self {
            response: reqwest::Response::from(response),
            policy,
            start: std::time::SystemTime::now(),
            retries: 0,
        }
    }
}

/// One step of [`ReqwestRetry`].
#[inline(never)]
pub fn reqwest_retry_step(state: &mut ReqwestRetry) -> Option<std::time::SystemTime> {
    use retry_policies::{RetryDecision, RetryPolicy};
    let kind = reqwest_retry::default_on_request_success(black_box(&state.response));
    if kind != Some(reqwest_retry::Retryable::Transient) {
        return None;
    }
    let decision = state.policy.should_retry(state.start, state.retries % 4);
    state.retries = state.retries.wrapping_add(1);
    match decision {
        RetryDecision::Retry { execute_after } => Some(execute_after),
        RetryDecision::DoNotRetry => None,
    }
}

/// What an honest server says in the IETF draft's headers over one 10 s
/// window of 1,000 requests, one every 10 ms, under a limit of 100,000: the
/// count goes down with every request, the reset with the time; then the
/// next window.
pub struct Server {
    readings: Vec<(String, String)>,
    sent: usize,
}

impl Server {
    pub fn new() -> Self {
        let readings = (0..1000usize)
            .map(|i| ((99_999 - i).to_string(), (10 - i / 100).to_string()))
            .collect();
        Self { readings, sent: 0 }
    }

    fn answer(&mut self) -> [(&str, &str); 3] {
        let (remaining, reset) = &self.readings[self.sent % self.readings.len()];
        self.sent += 1;
        [
            ("RateLimit-Limit", "100000"),
            ("RateLimit-Remaining", remaining),
            ("RateLimit-Reset", reset),
        ]
    }
}

/// The guide's policy with every shared limit on: pacing, a 20 % retry
/// budget and a circuit breaker.
pub fn limited_policy() -> Policy {
    Policy::new(PolicySpec {
        limits: LimitsSpec {
            budget: Some(BudgetSpec::Percentage {
                basis_points: 2000,
                window: Duration::from_secs(10),
                min_per_second: 1,
            }),
            breaker: Some(BreakerSpec {
                failure_ratio: 0.5,
                window: Duration::from_secs(10),
                min_outcomes: 20,
                break_for: Duration::from_secs(30),
                probes: 2,
            }),
            ..LimitsSpec::default()
        },
        ..PolicySpec::default()
    })
    .expect("valid policy")
}

/// One request cycle through shared limits: a new call is admitted
/// (`poll` with the limits), the server's 200 is observed (`observe` with
/// them: tracker, breaker, budget), and the final poll says done. 10 ms pass between
/// cycles.
#[inline(never)]
pub fn request_cycle(
    policy: &Policy,
    limits: &mut Limits,
    clock: &mut Clock,
    server: &mut Server,
) -> Action {
    *clock = clock.advanced(Duration::from_millis(10));
    let mut call = Call::new(policy, Request::new(Method::Get), *clock, 1);
    black_box(call.poll(*clock, Some(limits)));
    let headers = server.answer();
    let event = call.observe(
        Outcome::response(200, black_box(&headers)),
        *clock,
        Some(limits),
    );
    black_box(event.ok());
    call.poll(*clock, Some(limits))
}

/// One request through limits shared behind a lock, as the drivers run
/// it: admission under the lock, the send (here: none) outside it, the
/// 200's report and the final poll under it again. `clock` was read before.
#[inline(never)]
pub fn admission_cycle(policy: &Policy, limits: &std::sync::Mutex<Limits>, clock: Clock) -> Action {
    let lock = || {
        limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let mut call = Call::new(policy, Request::new(Method::Get), clock, 1);
    black_box(call.poll(clock, Some(&mut lock())));
    let mut shared = lock();
    let event = call.observe(
        Outcome::response(200, black_box(&NO_HEADERS)),
        clock,
        Some(&mut shared),
    );
    black_box(event.ok());
    call.poll(clock, Some(&mut shared))
}

const NO_HEADERS: [(&str, &str); 0] = [];

/// [`limited_policy`] with the adaptive rate on, and limits that pace by
/// it: 200 sends landed in a second, then a bare 429. Pacing lasts for
/// good (`stale_after` of a year); at [`ADMISSION_STEP`] apart, every send
/// finds a token.
pub fn adaptive_limits() -> (Policy, std::sync::Mutex<Limits>) {
    let mut spec = limited_policy().spec().clone();
    spec.limits.adaptive = true;
    spec.limits.stale_after = Duration::from_secs(365 * 24 * 3600);
    let policy = Policy::new(spec).expect("valid policy");
    let mut limits = Limits::new(&policy);
    let mut clock = start();
    for status in std::iter::repeat(200).take(200).chain([429]) {
        let mut call = Call::new(&policy, Request::new(Method::Get), clock, 1);
        call.poll(clock, Some(&mut limits));
        let _ = call.observe(
            Outcome::response(status, &NO_HEADERS),
            clock,
            Some(&mut limits),
        );
        clock = clock.advanced(Duration::from_millis(5));
    }
    assert!(limits.snapshot(clock).send_rate.is_some(), "paced");
    (policy, std::sync::Mutex::new(limits))
}

/// The time between [`admission_cycle`]s, with the adaptive rate or
/// without: the same, so that the two loops differ by the rate alone.
pub const ADMISSION_STEP: Duration = Duration::from_millis(10);

/// A whole call under the guide's policy: five 503s with `Retry-After: 120`
/// to its give-up, the clock jumping over every sleep.
#[inline(never)]
pub fn whole_call(policy: &Policy) -> Action {
    let mut clock = start();
    let mut call = Call::new(policy, Request::new(Method::Get), clock, 1);
    loop {
        match call.poll(clock, None) {
            Action::Send { .. } => {
                let outcome = Outcome::response(503, black_box(&RETRY_AFTER));
                black_box(call.observe(outcome, clock, None).ok());
            }
            Action::Sleep(d) => clock = clock.advanced(d),
            end => break end,
        }
    }
}

/// backon on the benches' schedule: 3 s × 3 up to 300 s, 4 retries, jitter.
pub fn backon_builder() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(3))
        .with_factor(3.0)
        .with_max_delay(Duration::from_secs(300))
        .with_max_times(4)
        .with_jitter_seed(7)
}

/// backon's delays come from an iterator: build it and take its four
/// delays (per delay, divide by four).
#[inline(never)]
pub fn backon_four_delays(builder: &backon::ExponentialBuilder) {
    let mut backoff = black_box(*builder).build();
    for _ in 0..4 {
        black_box(backoff.next());
    }
}

/// The decision step with [`DATE`] as the `Retry-After`: the wall clock
/// stays put while the monotonic one moves on, so the date is 120 s ahead
/// at every step. Less [`decision_step`], it is what reading the date costs.
#[inline(never)]
pub fn decision_step_date(call: &mut Call<&Policy>, clock: &mut Clock) -> Action {
    let headers = [("Retry-After", DATE)];
    let event = call.observe(Outcome::response(503, black_box(&headers)), *clock, None);
    black_box(event.ok());
    *clock = Clock::new(clock.mono + Duration::from_secs(120), start().unix);
    call.poll(*clock, None)
}

/// [`DATE`] through the date crate alone: the floor for the same work.
#[inline(never)]
pub fn date_alone() -> Option<std::time::SystemTime> {
    httpdate::parse_http_date(black_box(DATE)).ok()
}
