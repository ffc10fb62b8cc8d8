//! Limits a fleet of processes shares through Redis (feature `redis`): the
//! server's latest rate-limit reading and the sends each process holds, so
//! that processes calling one API under one quota pace together instead of
//! each overrunning it on its own.
//!
//! Each process paces its calls with its own [`Limits`], as usual, but
//! against a *lease* rather than the server's headers: a number of sends it
//! may make before the fleet's window ends, taken from Redis in one atomic
//! script (one round trip) that also hands Redis the latest reading the
//! process saw. At normal pressure a lease covers several sends, so most
//! sends need no round trip; when the fleet is down to its last fraction
//! (the policy's warning threshold) leases shrink to one send. The script
//! reads Redis's own clock, so the processes' clocks may disagree, and every
//! key it writes expires: a process that dies holds its lease at most
//! `lease_ttl`, and a process granted nothing asks again when the first
//! other lease runs out (or the window ends, if sooner).
//!
//! When Redis cannot be reached within the round-trip timeout, the process
//! paces on the server's own headers alone (a `tracing` warning says so,
//! once per outage; an error if Redis refused the URL's credentials) and
//! asks Redis again a second later.
//!
//! The URL names one server (`redis://[user:password@]host:port/`) or a
//! Redis Cluster (`redis+cluster://[user:password@]host:port,host:port/`,
//! any of its nodes): the same type then runs on the `redis` crate's
//! cluster client, which follows slots, redirections and failovers. One
//! API's keys share a hash tag, so the renewal script runs on one slot.
//!
//! The same round trip shares the policy's retry budget and circuit
//! breaker, when it has them. A quota's tokens stay with the fleet and are
//! lent out in slices of four retries' worth (a percentage: the fleet's
//! requests and retries are counted, and four allowed retries lent at a
//! time); a process renews its slice when it cannot pay for one more retry,
//! at most once a second while the fleet has nothing, and a dead process's
//! slice returns to the fleet with its lease. The breaker counts the
//! fleet's outcomes: a process tells the store of a failure before its next
//! send and of its successes with its next lease, so a breaker opened by
//! one process's failures refuses every process's next call; half-open,
//! the fleet lets the policy's number of probes through in all, and their
//! successes close it for everyone (a dead process's probes come back with
//! its lease).
//!
//! ```no_run
//! # async fn demo() -> Result<(), redis::RedisError> {
//! use steadfast::driver::redis::RedisLimits;
//! use steadfast::Policy;
//!
//! let policy = Policy::seed_guide();
//! let fleet = RedisLimits::new("redis://127.0.0.1:6379/", "contacts-api", &policy)?;
//! // steadfast::driver::tokio::run(&policy, request, &fleet, &mut hooks).await
//! # Ok(())
//! # }
//! ```

mod mirror;
mod renewal;
mod store;

use core::time::Duration;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use redis::Script;

use crate::limits::Limits;
use crate::outcome::Clock;
use crate::policy::Policy;
use mirror::StoreReport;
use renewal::{Answer, Args, Settings};
use store::{Connection, Store};

/// Limits shared through Redis: hand `&RedisLimits` to any driver's `run`
/// or `retry` as where the call's limits live ([`Sharing`](super::Sharing)),
/// or an `Arc` of it to `with_fleet` on the tower layer or the middleware.
pub struct RedisLimits {
    local: Mutex<Limits>,
    store: Store,
    /// The blocking driver's connection; its lock also makes renewals
    /// one at a time.
    #[cfg(feature = "blocking")]
    sync_conn: Mutex<Option<store::BlockingConnection>>,
    script: Script,
    keys: [String; 6],
    id: String,
    settings: Settings,
    round_trip_timeout: Duration,
    /// The async drivers' connection, made at their first renewal (and
    /// again after a failure); its lock makes renewals one at a time.
    renewing: tokio::sync::Mutex<Option<Connection>>,
    /// Until when Redis is left alone after a failure (monotonic nanos).
    down_until: AtomicU64,
    round_trips: AtomicU64,
    failures: AtomicU64,
    /// Whether the latest round trip failed.
    unreachable: AtomicBool,
    /// The latest round trips' durations in microseconds, a ring of
    /// `LATENCIES` entries.
    latencies: Mutex<Vec<u32>>,
}

const LATENCIES: usize = 1024;

impl core::fmt::Debug for RedisLimits {
    // No URL: it may hold a password.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RedisLimits")
            .field("prefix", &self.keys[0])
            .field("cluster", &self.store.is_cluster())
            .field("lease_size", &self.settings.lease_size)
            .field("round_trips", &self.round_trips())
            .finish_non_exhaustive()
    }
}

impl RedisLimits {
    /// Limits for calls under `policy` to the API named `api`, shared
    /// through the Redis at `url` under the key prefix `steadfast:<api>`.
    /// Connects at the first renewal (Redis need not be up yet), from the
    /// async drivers or the blocking one; fails only on a malformed URL.
    pub fn new(url: &str, api: &str, policy: &Policy) -> Result<Self, redis::RedisError> {
        let round_trip_timeout = policy
            .spec()
            .attempt_timeout
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        Ok(Self {
            local: Mutex::new(Limits::new(policy)),
            store: Store::open(url, round_trip_timeout)?,
            #[cfg(feature = "blocking")]
            sync_conn: Mutex::new(None),
            script: Script::new(renewal::SCRIPT),
            keys: keys(&format!("steadfast:{api}")),
            id: format!("{:016x}", super::seed()),
            settings: Settings::new(policy),
            round_trip_timeout,
            renewing: tokio::sync::Mutex::new(None),
            down_until: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            unreachable: AtomicBool::new(false),
            latencies: Mutex::new(Vec::new()),
        })
    }

    /// Sends per lease at normal pressure (default 8; at least 1).
    #[must_use]
    pub fn with_lease_size(mut self, sends: u32) -> Self {
        self.settings.lease_size = sends.max(1);
        self
    }

    /// Keys under `prefix` instead of `steadfast:<api>` (Redis shared with
    /// other applications, or an ACL that allows one key pattern): they
    /// are `{prefix}:window` and so on, the braces making the prefix their
    /// hash tag on a cluster. A prefix that cannot be a hash tag (empty, or
    /// starting with `}`) gets the tag `{steadfast}` before it instead.
    /// Every member of a fleet must use the same.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.keys = keys(prefix);
        self
    }

    /// How long an unused lease holds its sends (default 10 s, at least
    /// 1 ms): the most a process that died keeps from the fleet.
    #[must_use]
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.settings.lease_ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// The process's own limits, which pace on the leases (and on the
    /// server's headers while Redis is out of reach).
    pub fn local(&self) -> &Mutex<Limits> {
        &self.local
    }

    /// Round trips to Redis so far.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Round trips that failed or timed out (each switched the process to
    /// its own limits for a second).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The `q`-th percentile (0 to 100) of the latest 1,024 answered round
    /// trips' durations; `None` before the first.
    pub fn round_trip_percentile(&self, q: u8) -> Option<Duration> {
        let mut micros = self
            .latencies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        micros.sort_unstable();
        let at = (micros.len().checked_sub(1)?) * usize::from(q.min(100)) / 100;
        micros
            .get(at)
            .map(|&us| Duration::from_micros(u64::from(us)))
    }

    fn record(&self, took: Duration) {
        let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        let mut ring = self
            .latencies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let n = self.round_trips.load(Ordering::Relaxed);
        if ring.len() < LATENCIES {
            ring.push(us);
        } else if let Ok(i) = usize::try_from(n % LATENCIES as u64) {
            ring[i] = us;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Limits> {
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a renewal is due at `now` (and Redis not left alone);
    /// `sending`: a send is about to be admitted.
    fn due(&self, now: Clock, sending: bool) -> bool {
        mirror::needs_store(&mut self.lock(), now.mono, sending)
            && nanos(now.mono) >= self.down_until.load(Ordering::Relaxed)
    }

    /// The report for a renewal, unless another renewal made it unneeded
    /// or failed (waiters must not each wait on Redis in turn).
    fn begin(&self, sending: bool) -> Option<StoreReport> {
        let now = super::now();
        if nanos(now.mono) < self.down_until.load(Ordering::Relaxed) {
            return None;
        }
        let mut local = self.lock();
        mirror::needs_store(&mut local, now.mono, sending)
            .then(|| mirror::report(&mut local, now.mono, sending))
    }

    /// Takes in a renewal's outcome; `sent` is when it was sent.
    fn end(&self, answer: Result<Answer, String>, report: &StoreReport, sent: Clock) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let now = super::now();
        match answer {
            Ok(answer) => {
                self.record(now.mono.saturating_sub(sent.mono));
                mirror::settle(&mut self.lock(), renewal::read(answer), report, now.mono);
                if self.unreachable.swap(false, Ordering::Relaxed) {
                    tracing::info!("shared limits reachable again");
                }
            }
            Err(why) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                // Once per outage: it is asked again every second.
                if self.unreachable.swap(true, Ordering::Relaxed) {
                    tracing::debug!(error = %why, "shared limits still unreachable");
                } else if refused(&why) {
                    tracing::error!(
                        error = %why,
                        "Redis refused the credentials in its URL: this process's own limits until it accepts them"
                    );
                } else {
                    tracing::warn!(
                        error = %why,
                        "shared limits unreachable: this process's own limits until they answer"
                    );
                }
                mirror::go_local(&mut self.lock());
                let retry_at = now.mono.saturating_add(Duration::from_secs(1));
                self.down_until.store(nanos(retry_at), Ordering::Relaxed);
            }
        }
    }

    /// Makes sure the process holds a usable lease at `now` (and a budget
    /// slice that pays for a retry, and the fleet breaker's word, with a
    /// probe when half-open and `sending`: the call's next step is a send),
    /// renewing from Redis when it does not (one renewal at a time).
    pub(crate) async fn prepare(&self, now: Clock, sending: bool) {
        if !self.due(now, sending) {
            return;
        }
        let mut conn = self.renewing.lock().await;
        // Another task may have renewed it while this one waited.
        let Some(report) = self.begin(sending) else {
            return;
        };
        let call = self.invocation(&report);
        // Dropped before the answer is taken in (the call was cancelled),
        // this gives the report's news back to the limits.
        let mut unanswered = Unanswered {
            fleet: self,
            report: Some(report),
        };
        let sent = super::now();
        // The connection is put back only after an answer: one that failed
        // or timed out is not trusted again.
        let answer = tokio::time::timeout(self.round_trip_timeout, async {
            let mut c = match conn.take() {
                Some(c) => c,
                None => self.store.connect(self.round_trip_timeout).await?,
            };
            let answer = c.invoke(&call).await?;
            *conn = Some(c);
            Ok::<_, redis::RedisError>(answer)
        })
        .await;
        let answer = match answer {
            Ok(answer) => answer.map_err(|e| e.to_string()),
            Err(_) => Err("no answer within the round-trip timeout".to_owned()),
        };
        if let Some(report) = unanswered.report.take() {
            self.end(answer, &report, sent);
        }
    }

    /// [`prepare`](Self::prepare) for the blocking driver: the same renewal
    /// on a plain connection with read and write timeouts.
    #[cfg(feature = "blocking")]
    pub(crate) fn prepare_blocking(&self, now: Clock, sending: bool) {
        if !self.due(now, sending) {
            return;
        }
        let mut conn = self
            .sync_conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(report) = self.begin(sending) else {
            return;
        };
        let sent = super::now();
        // As above: the connection goes back only after an answer.
        let answer = (|| {
            let mut c = match conn.take() {
                Some(c) => c,
                None => self.store.connect_blocking(self.round_trip_timeout)?,
            };
            let answer = self.invocation(&report).invoke::<Answer>(&mut *c)?;
            *conn = Some(c);
            Ok::<_, redis::RedisError>(answer)
        })();
        self.end(answer.map_err(|e| e.to_string()), &report, sent);
    }

    /// The renewal script's call for `report`.
    fn invocation(&self, report: &StoreReport) -> redis::ScriptInvocation<'_> {
        let mut call = self.script.prepare_invoke();
        for key in &self.keys {
            call.key(key);
        }
        Args::new(&self.settings, &self.id, report).encode(&mut call);
        call
    }
}

/// A renewal on its way; see [`RedisLimits::prepare`].
struct Unanswered<'a> {
    fleet: &'a RedisLimits,
    report: Option<StoreReport>,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Some(report) = self.report.take() {
            mirror::unreport(&mut self.fleet.lock(), &report);
        }
    }
}

/// The script's keys under `prefix`, in the order it takes them.
/// The keys of one API's shared state, `{prefix}:window` and so on: the
/// prefix is their hash tag, so that on a Redis Cluster all of them live in
/// one slot, where the renewal script that touches them all can run.
fn keys(prefix: &str) -> [String; 6] {
    [
        "window",
        "leases",
        "lease-expiries",
        "budget",
        "budget-slices",
        "breaker",
    ]
    .map(|key| {
        if prefix.is_empty() || prefix.starts_with('}') {
            format!("{{steadfast}}{prefix}:{key}")
        } else {
            format!("{{{prefix}}}:{key}")
        }
    })
}

/// Whether a failed round trip's error says Redis refused the URL's
/// credentials (the cluster client wraps the node's error in its own, so
/// the kind alone does not tell).
fn refused(why: &str) -> bool {
    ["AuthenticationFailed", "WRONGPASS", "NOAUTH", "NOPERM"]
        .iter()
        .any(|code| why.contains(code))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::keys;

    /// The part of `key` a Redis Cluster hashes: the first `{…}` with
    /// something in it, else the whole key (the cluster specification's
    /// rule).
    fn hashed(key: &str) -> &str {
        key.find('{')
            .and_then(|open| {
                let rest = &key[open + 1..];
                rest.find('}')
                    .filter(|&close| close > 0)
                    .map(|close| &rest[..close])
            })
            .unwrap_or(key)
    }

    #[test]
    fn one_apis_keys_share_a_cluster_slot() {
        for prefix in [
            "steadfast:contacts",
            "app-7:retries",
            "a{b",
            "x}y",
            "",
            "}",
            "}x{y}",
        ] {
            let keys = keys(prefix);
            let tag = hashed(&keys[0]);
            assert!(
                !tag.is_empty() && keys.iter().all(|k| hashed(k) == tag),
                "{keys:?}"
            );
            assert!(keys.iter().all(|k| k.contains(prefix)));
        }
        assert_eq!(hashed(&keys("steadfast:contacts")[0]), "steadfast:contacts");
        assert_eq!(keys("")[0], "{steadfast}:window");
        assert_eq!(keys("}x")[0], "{steadfast}}x:window");
    }
}
