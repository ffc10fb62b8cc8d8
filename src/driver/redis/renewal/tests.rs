//! The fleet's rules against the process's own. The breaker's state machine
//! runs inside Redis (a fleet must open, probe and close as one, atomically)
//! and in the process (alone, or out of the store's reach): two copies of
//! one rule. A fleet of one member must decide as a process alone, so the
//! same random sequences of sends, outcomes and clock ticks go to `Limits`
//! alone and to `Limits` renewing through the script on a real
//! `redis-server` (started here on a free 127.0.0.1 port), on a clock the
//! test sets for both, and every admission and every snapshot must agree.

#[path = "../../../../tests/support/redis_server.rs"]
mod redis_server;

use core::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::super::keys;
use super::super::mirror;
use super::{read, Answer, Args, BudgetKind, Settings, SCRIPT};
use crate::headers::RateLimit;
use crate::limits::{
    Admission, BreakerSpec, BudgetSpec, Grant, Health, Limits, LimitsSpec, Resend,
};
use crate::outcome::Clock;
use crate::policy::{Policy, PolicySpec};
use redis_server::RedisServer;

/// Where the script reads Redis's clock; the test's clock stands in.
const REDIS_CLOCK: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
";

/// The script on the test's clock, run by one member.
struct Store {
    conn: redis::Connection,
    script: redis::Script,
    keys: [String; 6],
    settings: Settings,
}

impl Store {
    fn new(server: &RedisServer) -> Self {
        assert_eq!(
            SCRIPT.matches(REDIS_CLOCK).count(),
            1,
            "the script reads Redis's clock in one place"
        );
        let script = SCRIPT.replacen(REDIS_CLOCK, "local now = n('test_now_ms')\n", 1);
        let client = redis::Client::open(server.url.as_str()).expect("a valid URL");
        Self {
            conn: client.get_connection().expect("the test's redis-server"),
            script: redis::Script::new(&script),
            keys: keys("differential"),
            settings: Settings::new(&Policy::seed_guide()),
        }
    }

    /// Empty, for the next sequence.
    fn clear(&mut self) {
        redis::cmd("FLUSHDB").exec(&mut self.conn).expect("FLUSHDB");
    }

    /// One renewal of `member` at `now`, as `RedisLimits` makes it. With
    /// `wants`, it asks for what one send needs (a probe; one retry of a
    /// percentage, so that every retry lent is spent at once); without, for
    /// nothing.
    fn renew(&mut self, member: &mut Limits, now: Duration, wants: bool) {
        let report = mirror::report(member, now, wants);
        let mut args = Args::new(&self.settings, "member", &report);
        if let Some(budget) = args.budget.as_mut() {
            if let BudgetKind::Percentage { .. } = budget.kind {
                budget.wanted = u32::from(wants);
            }
        }
        let mut call = self.script.prepare_invoke();
        for key in &self.keys {
            call.key(key);
        }
        args.encode(&mut call);
        call.arg("test_now_ms").arg(now.as_millis() as u64);
        let answer: Answer = call.invoke(&mut self.conn).expect("the script runs");
        mirror::settle(member, read(answer), &report, now);
    }
}

/// Runs `case` over `strategy`'s values against one `redis-server` of the
/// test's own (1,024 cases); does nothing, with a line on stderr, where
/// `redis-server` is not installed.
fn against_redis<S: Strategy>(
    strategy: S,
    case: impl Fn(&mut Store, S::Value) -> Result<(), TestCaseError>,
) {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut runner = TestRunner::new(Config {
        cases: 1024,
        ..Config::default()
    });
    let store = std::cell::RefCell::new(Store::new(&server));
    if let Err(e) = runner.run(&strategy, |value| case(&mut store.borrow_mut(), value)) {
        panic!("{e}");
    }
}

#[derive(Clone, Copy, Debug)]
enum Step {
    /// The clock moves on this many milliseconds.
    Tick(u64),
    /// A send asks for admission.
    Send { first_attempt: bool },
    /// The `which`-th send still out lands (counted from the oldest).
    Land { which: usize, health: Health },
    /// The `which`-th send still out is dropped without a word.
    Abandon { which: usize },
    /// The member's driver goes round without sending (its call sleeps):
    /// it renews if it needs to, asking for no probe.
    Idle,
}

/// Steps for a breaker whose window, opening and staleness last `spans`
/// milliseconds: the clock often moves by one of them, give or take a
/// millisecond, to land on the rules' boundaries.
fn step(spans: [u64; 3]) -> impl Strategy<Value = Step> {
    let health = prop_oneof![
        3 => Just(Health::Ok),
        3 => Just(Health::Failed),
        1 => Just(Health::Unknown),
    ];
    prop_oneof![
        2 => (0u64..3_000).prop_map(Step::Tick),
        1 => (proptest::sample::select(spans.to_vec()), 0u64..3)
            .prop_map(|(span, nudge)| Step::Tick((span + nudge).saturating_sub(1))),
        4 => any::<bool>().prop_map(|first_attempt| Step::Send { first_attempt }),
        4 => (any::<usize>(), health).prop_map(|(which, health)| Step::Land { which, health }),
        1 => any::<usize>().prop_map(|which| Step::Abandon { which }),
        1 => Just(Step::Idle),
    ]
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Any ratio, and often one just above a fraction of few outcomes (where
/// rounding it would open the breaker one failure early).
fn failure_ratio() -> impl Strategy<Value = f64> {
    prop_oneof![
        (1u64..=1 << 53).prop_map(|n| n as f64 / (1u64 << 53) as f64),
        (1u32..6, 1u32..7, 0u32..4).prop_map(|(k, n, nudge)| {
            (f64::from(k.min(n)) / f64::from(n) + f64::from(nudge) * 1e-7).min(1.0)
        }),
    ]
}

/// A policy with only a breaker (no pacing, no budget), on whole
/// milliseconds as the store counts.
fn breaker_policy() -> impl Strategy<Value = Policy> {
    (
        failure_ratio(),
        1u64..5_000,
        1u32..6,
        1u64..5_000,
        1u32..4,
        1u64..5_000,
    )
        .prop_map(
            |(failure_ratio, window, min_outcomes, break_for, probes, stale)| {
                Policy::new(PolicySpec {
                    limits: LimitsSpec {
                        pacing: false,
                        budget: None,
                        breaker: Some(BreakerSpec {
                            failure_ratio,
                            window: ms(window),
                            min_outcomes,
                            break_for: ms(break_for),
                            probes,
                        }),
                        stale_after: ms(stale),
                        ..LimitsSpec::default()
                    },
                    ..PolicySpec::default()
                })
                .expect("a valid breaker")
            },
        )
}

/// Runs `steps` on a process alone and on a fleet of one; the first
/// disagreement fails.
fn agree(store: &mut Store, policy: &Policy, steps: &[Step]) -> Result<(), TestCaseError> {
    store.clear();
    let mut alone = Limits::new(policy);
    let mut member = Limits::new(policy);
    let mut rng = fastrand::Rng::with_seed(0);
    let mut out: Vec<(Grant, Grant)> = Vec::new();
    let mut now = Duration::ZERO;
    // Both count their first window from the same instant: the process
    // from its clock's origin, the store from the member's first renewal.
    store.renew(&mut member, now, false);
    for (i, &step) in steps.iter().enumerate() {
        if let Step::Tick(n) = step {
            now += ms(n);
        }
        // The store sees the instants the process alone counts from: the
        // member renews before each send (asking for the probe it needs,
        // as the drivers' renewals do) and after each outcome (asking for
        // none). A send given back is told with the next renewal.
        if let Step::Send { .. } = step {
            mirror::needs_store(&mut member, now, true);
            store.renew(&mut member, now, true);
        }
        match step {
            Step::Tick(_) => {}
            Step::Idle => {
                if mirror::needs_store(&mut member, now, false) {
                    store.renew(&mut member, now, false);
                }
            }
            Step::Send { first_attempt } => {
                let (mut a, mut m) = (Grant::default(), Grant::default());
                let by_alone = alone.admit(&mut a, now, first_attempt, &mut rng);
                let by_member = member.admit(&mut m, now, first_attempt, &mut rng);
                prop_assert_eq!(
                    by_alone == Admission::Granted,
                    by_member == Admission::Granted,
                    "step {} {:?}: alone {:?}, fleet of one {:?}",
                    i,
                    step,
                    by_alone,
                    by_member
                );
                if by_alone == Admission::Granted {
                    out.push((a, m));
                }
            }
            Step::Land { which, health } if !out.is_empty() => {
                let (mut a, mut m) = out.remove(which % out.len());
                alone.landed(&mut a, None, health, now);
                member.landed(&mut m, None, health, now);
                mirror::needs_store(&mut member, now, false);
                store.renew(&mut member, now, false);
            }
            Step::Abandon { which } if !out.is_empty() => {
                let (mut a, mut m) = out.remove(which % out.len());
                alone.release(&mut a, now);
                member.release(&mut m, now);
            }
            Step::Land { .. } | Step::Abandon { .. } => {}
        }
        let clock = Clock::new(now, Duration::ZERO);
        prop_assert_eq!(
            alone.snapshot(clock).breaker,
            member.snapshot(clock).breaker,
            "after step {} {:?} at {:?}",
            i,
            step,
            now
        );
    }
    Ok(())
}

#[test]
fn a_fleet_of_one_breaks_as_a_process_alone() {
    let policy_and_steps = breaker_policy().prop_flat_map(|policy| {
        let limits = policy.spec().limits;
        let breaker = limits.breaker.expect("a breaker");
        let spans =
            [breaker.window, breaker.break_for, limits.stale_after].map(|d| d.as_millis() as u64);
        (Just(policy), proptest::collection::vec(step(spans), 1..80))
    });
    against_redis(policy_and_steps, |store, (policy, steps)| {
        store.settings = Settings::new(&policy);
        agree(store, &policy, &steps)
    });
}

#[derive(Clone, Copy, Debug)]
enum Spend {
    /// The clock moves on this many milliseconds.
    Tick(u64),
    /// A first attempt is sent.
    Request,
    /// A call asks the budget to pay for a retry.
    Retry { after_timeout: bool },
    /// The `which`-th call still paying ends (or a call that needed no
    /// retry, when none is).
    Finish { which: usize, succeeded: bool },
}

fn spend(window: u64) -> impl Strategy<Value = Spend> {
    prop_oneof![
        2 => (0u64..=window / 4).prop_map(Spend::Tick),
        1 => (proptest::sample::select(vec![window / 10, window]), 0u64..3)
            .prop_map(|(span, nudge)| Spend::Tick((span + nudge).saturating_sub(1))),
        4 => Just(Spend::Request),
        4 => any::<bool>().prop_map(|after_timeout| Spend::Retry { after_timeout }),
        2 => (any::<usize>(), any::<bool>())
            .prop_map(|(which, succeeded)| Spend::Finish { which, succeeded }),
    ]
}

/// A policy with only a budget, a quota or a percentage, on whole
/// milliseconds as the store counts.
fn budget_policy() -> impl Strategy<Value = (Policy, u64)> {
    let quota = (1u32..60, 1u32..10, 1u32..20, 0u32..5).prop_map(
        |(capacity, retry_cost, timeout_cost, success_credit)| BudgetSpec::Quota {
            capacity,
            retry_cost,
            timeout_cost,
            success_credit,
        },
    );
    let percentage =
        (1u32..=10_000, 1u64..5_000, 0u32..3).prop_map(|(basis_points, window, min_per_second)| {
            BudgetSpec::Percentage {
                basis_points,
                window: ms(window),
                min_per_second,
            }
        });
    prop_oneof![quota, percentage].prop_map(|budget| {
        let window = match budget {
            BudgetSpec::Percentage { window, .. } => window.as_millis() as u64,
            BudgetSpec::Quota { .. } => 1_000,
        };
        let policy = Policy::new(PolicySpec {
            limits: LimitsSpec {
                pacing: false,
                budget: Some(budget),
                breaker: None,
                ..LimitsSpec::default()
            },
            ..PolicySpec::default()
        })
        .expect("a valid budget");
        (policy, window)
    })
}

/// Runs `spends` on a process alone and on a fleet of one; the first
/// disagreement fails.
fn pay_alike(store: &mut Store, policy: &Policy, spends: &[Spend]) -> Result<(), TestCaseError> {
    store.clear();
    let mut alone = Limits::new(policy);
    let mut member = Limits::new(policy);
    let mut rng = fastrand::Rng::with_seed(0);
    let mut paying: Vec<(Grant, Grant)> = Vec::new();
    let mut now = Duration::ZERO;
    store.renew(&mut member, now, false);
    for (i, &spend) in spends.iter().enumerate() {
        match spend {
            Spend::Tick(n) => now += ms(n),
            // The store hears of a request when it is made, and lends a
            // retry right before it is paid for.
            Spend::Request => {
                let (mut a, mut m) = (Grant::default(), Grant::default());
                alone.admit(&mut a, now, true, &mut rng);
                member.admit(&mut m, now, true, &mut rng);
                alone.landed(&mut a, None, Health::Ok, now);
                member.landed(&mut m, None, Health::Ok, now);
                store.renew(&mut member, now, false);
            }
            Spend::Retry { after_timeout } => {
                store.renew(&mut member, now, true);
                let (mut a, mut m) = (Grant::default(), Grant::default());
                let by_alone = alone.charge(&mut a, Resend::Retry, now, after_timeout);
                let by_member = member.charge(&mut m, Resend::Retry, now, after_timeout);
                prop_assert_eq!(
                    by_alone,
                    by_member,
                    "step {} {:?} at {:?}: alone pays {}, the fleet of one {}",
                    i,
                    spend,
                    now,
                    by_alone,
                    by_member
                );
                if by_alone {
                    paying.push((a, m));
                }
            }
            Spend::Finish { which, succeeded } => {
                let (mut a, mut m) = if paying.is_empty() {
                    (Grant::default(), Grant::default())
                } else {
                    paying.remove(which % paying.len())
                };
                alone.finish(&mut a, succeeded);
                member.finish(&mut m, succeeded);
            }
        }
    }
    Ok(())
}

#[test]
fn a_fleet_of_one_pays_for_retries_as_a_process_alone() {
    let policy_and_spends = budget_policy().prop_flat_map(|(policy, window)| {
        (
            Just(policy),
            proptest::collection::vec(spend(window), 1..100),
        )
    });
    against_redis(policy_and_spends, |store, (policy, spends)| {
        store.settings = Settings::new(&policy);
        pay_alike(store, &policy, &spends)
    });
}

#[derive(Clone, Copy, Debug)]
enum Read {
    /// The clock moves on this many milliseconds.
    Tick(u64),
    /// A response carries this reading.
    Reading(RateLimit),
}

fn read_step() -> impl Strategy<Value = Read> {
    let reading = (
        proptest::option::weighted(0.8, 0u64..100),
        proptest::option::weighted(0.8, 0u64..100),
        proptest::option::weighted(0.8, prop_oneof![0u64..6_000, 900u64..1_100, 0u64..300]),
    )
        .prop_map(|(limit, remaining, reset)| RateLimit {
            limit,
            remaining,
            reset: reset.map(ms),
            pressure: None,
        });
    prop_oneof![
        1 => (0u64..1_500).prop_map(Read::Tick),
        3 => reading.prop_map(Read::Reading),
    ]
}

/// The fleet's window as the store keeps it: remaining, limit and the time
/// to its end, as a reading at `now`.
fn window(store: &mut Store, now: Duration) -> Option<RateLimit> {
    let (remaining, reset_at, limit): (Option<i64>, Option<i64>, Option<i64>) = redis::cmd("HMGET")
        .arg(&store.keys[0])
        .arg("remaining")
        .arg("reset_at")
        .arg("limit")
        .query(&mut store.conn)
        .expect("HMGET");
    let known = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
    known(remaining).map(|remaining| RateLimit {
        limit: known(limit),
        remaining: Some(remaining),
        reset: known(reset_at).map(|at| ms(at).saturating_sub(now)),
        pressure: None,
    })
}

/// Runs `reads` through a process alone and a fleet of one; the first
/// disagreement on the window fails.
fn window_alike(store: &mut Store, policy: &Policy, reads: &[Read]) -> Result<(), TestCaseError> {
    store.clear();
    let mut alone = Limits::new(policy);
    let mut member = Limits::new(policy);
    let mut now = Duration::ZERO;
    store.renew(&mut member, now, false);
    for (i, &read) in reads.iter().enumerate() {
        match read {
            Read::Tick(n) => now += ms(n),
            Read::Reading(reading) => {
                for limits in [&mut alone, &mut member] {
                    limits.landed(&mut Grant::default(), Some(&reading), Health::Ok, now);
                }
            }
        }
        // The store hears of each reading as it comes.
        store.renew(&mut member, now, false);
        let by_alone = alone
            .snapshot(Clock::new(now, Duration::ZERO))
            .rate_limit
            .filter(|r| r.remaining.is_some())
            .map(|r| RateLimit {
                pressure: None,
                ..r
            });
        prop_assert_eq!(
            by_alone,
            window(store, now),
            "after step {} {:?} at {:?}",
            i,
            read,
            now
        );
    }
    Ok(())
}

#[test]
fn a_fleet_of_one_keeps_the_window_a_process_alone_keeps() {
    let spec = PolicySpec::default();
    let policy = Policy::new(PolicySpec {
        retry_after_cap: ms(4_000),
        rate_limit: crate::policy::RateLimitRule {
            default_wait: ms(1_000),
            ..spec.rate_limit
        },
        ..spec
    })
    .expect("a valid policy");
    against_redis(
        proptest::collection::vec(read_step(), 1..40),
        |store, reads| {
            store.settings = Settings::new(&policy);
            window_alike(store, &policy, &reads)
        },
    );
}

/// A member that renews after its lease ran out is late, not dead: what it
/// holds comes back once, with its report, and not a second time as a dead
/// member's slice.
#[test]
fn a_late_member_is_not_counted_dead() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let policy = Policy::new(PolicySpec {
        limits: LimitsSpec {
            budget: Some(BudgetSpec::Quota {
                capacity: 40,
                retry_cost: 5,
                timeout_cost: 5,
                success_credit: 0,
            }),
            ..LimitsSpec::default()
        },
        ..PolicySpec::default()
    })
    .expect("a valid quota");
    let mut store = Store::new(&server);
    store.settings = Settings::new(&policy);
    let mut member = Limits::new(&policy);
    store.renew(&mut member, Duration::ZERO, true);
    store.renew(&mut member, Duration::ZERO, true); // a slice of 20 of the 40
    for _ in 0..2 {
        assert!(member.charge(&mut Grant::default(), Resend::Retry, Duration::ZERO, false));
    }
    // Past the lease's 10 s: it hands back the 10 it has left, and takes
    // another slice of 20 from the 30 the fleet then holds.
    store.renew(&mut member, Duration::from_secs(11), true);
    let tokens: Option<i64> = redis::cmd("HGET")
        .arg(&store.keys[3])
        .arg("tokens")
        .query(&mut store.conn)
        .expect("HGET");
    assert_eq!(tokens, Some(10));
}
