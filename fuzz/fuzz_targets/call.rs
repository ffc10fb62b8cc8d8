//! A Call fed an arbitrary outcome sequence under a policy read from the
//! input: never a panic, and the invariants of the property tests hold.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use steadfast::limits::{BreakerSpec, BudgetSpec};
use steadfast::{
    Action, Call, Clock, Jitter, Limits, Method, NetworkError, Outcome, Policy, PolicySpec,
    Refresh, Request, Schedule, Search,
};

/// Reads bytes off the front of the input, zero when it runs out.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn u8(&mut self) -> u8 {
        let (b, rest) = match self.0.split_first() {
            Some((b, r)) => (*b, r),
            None => (0, &[][..]),
        };
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

fn policy(b: &mut Bytes<'_>) -> Option<Policy> {
    let ms = |n: u32| Duration::from_millis(u64::from(n));
    let schedule = match b.u8() % 4 {
        0 => Schedule::Explicit {
            delays: (0..1 + b.u8() % 5).map(|_| ms(b.u32())).collect(),
        },
        1 => Schedule::Exponential {
            base: ms(b.u32()),
            factor: f64::from(b.u16()) / 100.0,
            cap: ms(b.u32()),
        },
        2 => Schedule::Urllib3 {
            factor: ms(b.u32()),
            max: ms(b.u32()),
        },
        _ => Schedule::Staged {
            first: ms(b.u32()),
            first_retries: u32::from(b.u8()),
            unit: ms(b.u32()),
            factor: u32::from(b.u8()),
            stage: ms(b.u32()),
            max_power: u32::from(b.u8()),
        },
    };
    let mut spec = PolicySpec {
        max_retries: b.u32() % 16,
        schedule,
        jitter: match b.u8() % 5 {
            0 => Jitter::None,
            1 => Jitter::Full,
            2 => Jitter::Equal,
            3 => Jitter::Decorrelated,
            _ => Jitter::Added { max: ms(b.u32()) },
        },
        deadline: (b.u8() % 2 == 0).then(|| ms(b.u32())),
        retry_after_cap: ms(b.u32()),
        min_server_wait: ms(b.u32()),
        ..PolicySpec::default()
    };
    spec.rate_limit.default_wait = ms(b.u32());
    spec.rate_limit.counts_as_retry = b.u8() % 2 == 0;
    spec.limits.pacing = b.u8() % 2 == 0;
    spec.limits.reset_jitter = ms(b.u32());
    spec.limits.budget = match b.u8() % 3 {
        0 => None,
        1 => Some(BudgetSpec::Quota {
            capacity: b.u32() % 1000,
            retry_cost: b.u32() % 20,
            timeout_cost: b.u32() % 40,
            success_credit: b.u32() % 5,
        }),
        _ => Some(BudgetSpec::Percentage {
            basis_points: b.u32() % 20_000,
            window: ms(b.u32()),
            min_per_second: b.u32() % 10,
        }),
    };
    spec.limits.breaker = (b.u8() % 2 == 0).then(|| BreakerSpec {
        failure_ratio: f64::from(b.u8()) / 255.0,
        window: ms(b.u32()),
        min_outcomes: b.u32() % 20,
        break_for: ms(b.u32()),
        probes: b.u32() % 5,
    });
    Policy::new(spec).ok()
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let Some(policy) = policy(&mut b) else { return };
    let request = Request {
        method: Method::from_bytes(b.take(3)),
        external_id: b.u8() % 2 == 0,
        idempotency_key: b.u8() % 2 == 0,
    };
    let mut clock = Clock::new(Duration::ZERO, Duration::from_secs(u64::from(b.u32())));
    let mut call = Call::new(&policy, request, clock, u64::from(b.u32()));
    let mut limits = Limits::new(&policy);
    let (mut sends, mut refreshes, mut uncounted) = (0u64, 0u32, 0u64);
    for _ in 0..64 {
        let action = call.poll(clock, Some(&mut limits));
        assert_eq!(call.poll(clock, Some(&mut limits)), action);
        match action {
            Action::Done(_) | Action::GiveUp(_) => break,
            Action::Sleep(d) => {
                assert!(d <= policy.max_sleep());
                if let Some(deadline) = policy.spec().deadline {
                    assert!(call.elapsed() + d <= deadline);
                }
                clock = clock.advanced(d);
                continue;
            }
            Action::Send { .. } | Action::RefreshToken | Action::SearchExisting => {}
        }
        if b.0.is_empty() {
            break;
        }
        clock = clock.advanced(Duration::from_millis(u64::from(b.u16())));
        let status = b.u16();
        let n = usize::from(b.u8() % 4);
        let mut headers: Vec<(&[u8], &[u8])> = Vec::new();
        for _ in 0..n {
            let name: &[u8] = match b.u8() % 5 {
                0 => b"retry-after",
                1 => b"x-rate-limit-reset",
                2 => b"ratelimit",
                3 => b"inin-ratelimit-reset",
                _ => b"x-rate-limit-remaining",
            };
            let len = usize::from(b.u8() % 32);
            headers.push((name, b.take(len)));
        }
        let kind = b.u8();
        let outcome = match (action, kind % 8) {
            (_, 7) => Outcome::Search(Search::Found(())),
            (Action::RefreshToken, k) => Outcome::Refresh(if k % 2 == 0 { Refresh::Refreshed } else { Refresh::Failed }),
            (Action::SearchExisting, k) => Outcome::Search([Search::Found(()), Search::NotFound, Search::Failed][usize::from(k % 3)]),
            (_, 6) => Outcome::Network([NetworkError::Timeout, NetworkError::Dns, NetworkError::Tls][usize::from(b.u8() % 3)]),
            _ => Outcome::response(status, &headers),
        };
        // A misfit is refused and changes nothing; only accepted outcomes
        // count as sends and refreshes.
        if call.observe(outcome, clock, Some(&mut limits)).is_ok() {
            match outcome {
                Outcome::Response { status, .. } => {
                    sends += 1;
                    if status == 429 && !policy.spec().rate_limit.counts_as_retry {
                        uncounted += 1;
                    }
                }
                Outcome::Network(_) => sends += 1,
                Outcome::Refresh(_) => refreshes += 1,
                Outcome::Search(_) => {}
            }
        } else {
            assert_eq!(call.poll(clock, Some(&mut limits)), action);
        }
    }
    // Whatever the call still holds comes back: nothing stays in flight.
    call.abandon(&mut limits, clock);
    let snapshot = limits.snapshot(clock);
    assert_eq!(snapshot.in_flight, 0);
    if let Some(steadfast::limits::BudgetState::Quota { tokens, capacity }) = snapshot.budget {
        assert!(tokens <= capacity);
    }
    assert!(refreshes <= 1);
    assert!(call.retries() <= policy.spec().max_retries);
    assert!(sends <= u64::from(policy.spec().max_retries) + 3 + uncounted);
});
