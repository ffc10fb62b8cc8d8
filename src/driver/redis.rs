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
//! paces on the server's own headers alone (a `tracing` warning says so) and
//! asks Redis again a second later.
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

use core::time::Duration;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use redis::Script;

use crate::limits::{BreakerSpec, BudgetSpec, Limits, StoreAnswer, StoreReport, Verdict};
use crate::outcome::Clock;
use crate::policy::Policy;

/// Limits shared through Redis: hand `&RedisLimits` to any driver's `run`
/// or `retry` as where the call's limits live ([`Sharing`](super::Sharing)),
/// or an `Arc` of it to `with_fleet` on the tower layer or the middleware.
pub struct RedisLimits {
    local: Mutex<Limits>,
    client: redis::Client,
    /// The blocking driver's connection; its lock also makes renewals
    /// one at a time.
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    sync_conn: Mutex<Option<redis::Connection>>,
    script: Script,
    keys: [String; 6],
    id: String,
    lease_size: u32,
    lease_ttl: Duration,
    round_trip_timeout: Duration,
    warning_permille: u32,
    window_cap: Duration,
    budget: Option<BudgetSpec>,
    breaker: Option<BreakerSpec>,
    stale_after: Duration,
    /// The async drivers' connection, made at their first renewal (and
    /// again after a failure); its lock makes renewals one at a time.
    renewing: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// Until when Redis is left alone after a failure (monotonic nanos).
    down_until: AtomicU64,
    round_trips: AtomicU64,
    failures: AtomicU64,
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
            .field("lease_size", &self.lease_size)
            .field("round_trips", &self.round_trips())
            .finish_non_exhaustive()
    }
}

/// The renewal script: see the module docs. KEYS: window, leases, lease
/// expiries, budget, budget slices, breaker. ARGV: lease id, sends wanted,
/// lease ttl (ms), sends in flight, has a reading (0/1), remaining, limit
/// (-1: unknown), reset in (ms, -1: unknown), the reading's age (ms),
/// warning threshold (per mille), longest window trusted (ms); then the
/// budget (kind `-`, `q`uota or `p`ercentage, held, requests, slice
/// wanted, capacity or basis points, window ms, minimum per second); then
/// the breaker (`-` or `b`, outcomes ok, failed, probes ok, failed, given
/// back, probes wanted, failure ratio (ppm), window ms, minimum outcomes,
/// open ms, probes, stale ms). Returns {granted, fleet window ends in (ms,
/// -1: unknown), budget slice (-1: none), breaker (-1: none, 0 closed, 1
/// open, 2 half-open), its ms (open for, or ask again in), probes
/// granted}.
const RENEW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id, want, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local in_flight, cap = tonumber(ARGV[4]), tonumber(ARGV[11])
local quota = ARGV[12] == 'q'
local dead_members = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, dead in ipairs(dead_members) do
  redis.call('HDEL', KEYS[2], dead)
  -- A dead member's budget slice goes back to the fleet.
  local held = redis.call('HGET', KEYS[5], dead)
  if quota and held then
    redis.call('HINCRBY', KEYS[4], 'tokens', tonumber(held))
    redis.call('HDEL', KEYS[5], dead)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local function window()
  local w = redis.call('HMGET', KEYS[1], 'remaining', 'reset_at', 'limit', 'read_at')
  return tonumber(w[1]), tonumber(w[2]), tonumber(w[3]), tonumber(w[4])
end
local remaining, reset_at, limit, read_at = window()
-- The window is over: the next one holds the whole limit, its end unknown
-- until a reading says. Leases stay reserved until their holders renew:
-- what a lease of the old window still sends lands in the new one.
if reset_at and reset_at >= 0 and reset_at <= now then
  if limit and limit > 0 then
    redis.call('HSET', KEYS[1], 'remaining', limit, 'reset_at', -1, 'read_at', now)
  else
    redis.call('DEL', KEYS[1])
  end
  remaining, reset_at, limit, read_at = window()
end
-- A reading for the stored window (its end close to the stored one) can
-- only lower the count; one for another window replaces it if it was read
-- later, on Redis's clock.
-- Servers round resets to seconds: ends a second apart are one window,
-- unless windows are shorter (half the longest reset seen, at least 100 ms).
if ARGV[5] == '1' then
  local seen_at = now - tonumber(ARGV[9])
  local reset_in = tonumber(ARGV[8])
  local ends = -1
  local longest = tonumber(redis.call('HGET', KEYS[1], 'longest')) or 0
  if reset_in >= 0 then
    ends = seen_at + math.min(reset_in, cap)
    longest = math.max(longest, math.min(reset_in, cap))
  end
  local same = math.max(100, math.min(1000, math.floor(longest / 2)))
  local count = tonumber(ARGV[6])
  if remaining and reset_at and reset_at > now and ends >= 0
      and math.abs(ends - reset_at) <= same then
    if count < remaining then
      redis.call('HSET', KEYS[1], 'remaining', count, 'read_at', math.max(seen_at, read_at or 0))
    end
    remaining, reset_at, limit, read_at = window()
  elseif (not read_at or seen_at >= read_at) and (ends < 0 or ends > now) then
    redis.call('HSET', KEYS[1], 'remaining', count, 'reset_at', ends,
      'limit', ARGV[7], 'read_at', seen_at, 'longest', longest)
    remaining, reset_at, limit, read_at = window()
  end
end
redis.call('PEXPIRE', KEYS[1], cap * 2)
redis.call('HDEL', KEYS[2], id)
local grant, ends_in = want, -1
if remaining and remaining >= 0 then
  local reserved = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[2])) do reserved = reserved + tonumber(v) end
  local free = remaining - reserved - in_flight
  if limit and limit > 0 and free * 1000 < limit * tonumber(ARGV[10]) then
    want = math.min(want, 1)
  end
  grant = math.max(0, math.min(want, free))
  if reset_at and reset_at > now then ends_in = reset_at - now end
  -- Nothing free: ask again when the first other lease runs out (its
  -- holder may have died), if that comes before the window's end.
  if grant == 0 then
    local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
    if first[2] then
      local expires_in = math.max(1, tonumber(first[2]) - now)
      if ends_in < 0 or expires_in < ends_in then ends_in = expires_in end
    end
  end
end
redis.call('HSET', KEYS[2], id, in_flight + grant)
redis.call('ZADD', KEYS[3], now + ttl, id)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
redis.call('PEXPIRE', KEYS[3], ttl * 2)

-- The retry budget: a quota's tokens are held by the fleet and lent out
-- in slices; a percentage counts the fleet's requests and retries in ten
-- slots of its window and lends out the retries it allows.
local slice = -1
local held, requests, wanted = tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15])
if quota then
  local capacity = tonumber(ARGV[16])
  local tokens = tonumber(redis.call('HGET', KEYS[4], 'tokens')) or capacity
  -- What a member returns may be below zero: retries it paid from tokens
  -- an earlier renewal had already handed back.
  tokens = math.min(capacity, tokens + held)
  slice = math.max(0, math.min(tokens, wanted))
  redis.call('HSET', KEYS[4], 'tokens', tokens - slice)
  redis.call('HSET', KEYS[5], id, slice)
  redis.call('PEXPIRE', KEYS[4], math.max(ttl * 2, 60000))
  redis.call('PEXPIRE', KEYS[5], math.max(ttl * 2, 60000))
elseif ARGV[12] == 'p' then
  local bp, win, floor = tonumber(ARGV[16]), tonumber(ARGV[17]), tonumber(ARGV[18])
  local epoch = math.floor(now / math.max(1, math.floor(win / 10)))
  local req, ret = requests, 0
  local all = redis.call('HGETALL', KEYS[4])
  for i = 1, #all, 2 do
    local field, n = all[i], tonumber(all[i + 1])
    if tonumber(string.sub(field, 3)) <= epoch - 10 then
      redis.call('HDEL', KEYS[4], field)
    elseif string.sub(field, 1, 1) == 'q' then
      req = req + n
    else
      ret = ret + n
    end
  end
  -- What the member did not spend goes back.
  local back = math.min(held, math.max(ret, 0))
  ret = math.max(ret - back, 0)
  local allowed = math.floor((req * bp + floor * win * 10) / 10000) - ret
  slice = math.max(0, math.min(wanted, allowed))
  redis.call('HINCRBY', KEYS[4], 'q:' .. epoch, requests)
  redis.call('HINCRBY', KEYS[4], 'r:' .. epoch, slice - back)
  redis.call('PEXPIRE', KEYS[4], math.max(win * 2, 1000))
end

-- The breaker: the fleet's outcomes in its window open it; half-open, the
-- fleet lets `probes` probes through in all, and they close it.
local verdict, verdict_ms, probes_given = -1, 0, 0
if ARGV[19] == 'b' then
  local ok, failed = tonumber(ARGV[20]), tonumber(ARGV[21])
  local p_ok, p_failed, p_back = tonumber(ARGV[22]), tonumber(ARGV[23]), tonumber(ARGV[24])
  local p_want, ratio, win = tonumber(ARGV[25]), tonumber(ARGV[26]), tonumber(ARGV[27])
  local min_outcomes, open_ms = tonumber(ARGV[28]), tonumber(ARGV[29])
  local probes, stale = tonumber(ARGV[30]), tonumber(ARGV[31])
  local b = redis.call('HMGET', KEYS[6], 'state', 'since', 'ok', 'failed', 'until',
    'granted', 'succeeded', 'granted_at', 'trip', 'p:' .. id)
  local state = b[1] or 'c'
  local since, n_ok, n_failed = tonumber(b[2]) or now, tonumber(b[3]) or 0, tonumber(b[4]) or 0
  local untl, granted = tonumber(b[5]) or 0, tonumber(b[6]) or 0
  local succeeded, granted_at = tonumber(b[7]) or 0, tonumber(b[8]) or now
  -- Which opening the half-open spell follows, and the probes each member
  -- holds in it ('p:<id>' = 'trip:probes'), so a dead member's come back.
  local trip = tonumber(b[9]) or 0
  local function held(field)
    local spell, n = string.match(field or '', '^(%d+):(%d+)$')
    if tonumber(spell) == trip then return tonumber(n) end
    return 0
  end
  local mine = held(b[10])
  local function open()
    state, untl, granted, succeeded = 'o', now + open_ms, 0, 0
    trip, mine = trip + 1, 0
  end
  if state == 'o' and now >= untl then
    state, granted, succeeded, granted_at = 'h', 0, 0, now
  end
  if state == 'c' and now - since > win then since, n_ok, n_failed = now, 0, 0 end
  if state == 'h' and granted > succeeded and now - granted_at >= stale then
    granted = succeeded
  end
  for _, dead in ipairs(dead_members) do
    local field = 'p:' .. dead
    if state == 'h' then
      granted = math.max(succeeded, granted - held(redis.call('HGET', KEYS[6], field)))
    end
    redis.call('HDEL', KEYS[6], field)
  end
  if state == 'c' then
    n_ok, n_failed = n_ok + ok, n_failed + failed
    local total = n_ok + n_failed
    if failed > 0 and total >= min_outcomes and n_failed * 1000000 > ratio * total then
      open()
    end
  elseif state == 'h' then
    if p_failed > 0 then
      open()
    else
      succeeded = succeeded + p_ok
      granted = math.max(succeeded, granted - p_back)
      mine = math.max(0, mine - p_ok - p_back)
      if succeeded >= probes then state, since, n_ok, n_failed = 'c', now, 0, 0 end
    end
  end
  if state == 'h' and p_want > 0 then
    probes_given = math.max(0, math.min(p_want, probes - granted))
    if probes_given > 0 then granted, granted_at = granted + probes_given, now end
    mine = mine + probes_given
  end
  redis.call('HSET', KEYS[6], 'state', state, 'since', since, 'ok', n_ok, 'failed', n_failed,
    'until', untl, 'granted', granted, 'succeeded', succeeded, 'granted_at', granted_at,
    'trip', trip, 'p:' .. id, trip .. ':' .. mine)
  redis.call('PEXPIRE', KEYS[6], math.max(win, open_ms) * 2 + stale)
  if state == 'c' then
    verdict = 0
  elseif state == 'o' then
    verdict, verdict_ms = 1, untl - now
  else
    -- Probes are elsewhere: ask again when they would go stale, or sooner,
    -- since they may close it first.
    verdict = 2
    verdict_ms = math.min(math.max(1, granted_at + stale - now), math.max(10, math.floor(open_ms / 10)))
  end
end
return {grant, ends_in, slice, verdict, verdict_ms, probes_given}
";

impl RedisLimits {
    /// Limits for calls under `policy` to the API named `api`, shared
    /// through the Redis at `url` under the key prefix `steadfast:{api}`.
    /// Connects at the first renewal (Redis need not be up yet), from the
    /// async drivers or the blocking one; fails only on a malformed URL.
    pub fn new(url: &str, api: &str, policy: &Policy) -> Result<Self, redis::RedisError> {
        let spec = policy.spec();
        let round_trip_timeout = spec
            .attempt_timeout
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        let client = redis::Client::open(url)?;
        Ok(Self {
            local: Mutex::new(Limits::new(policy)),
            client,
            sync_conn: Mutex::new(None),
            script: Script::new(RENEW),
            keys: keys(&format!("steadfast:{api}")),
            id: format!("{:016x}", super::seed()),
            lease_size: 8,
            lease_ttl: Duration::from_secs(10),
            round_trip_timeout,
            warning_permille: (spec.pressure.warning * 1000.0) as u32,
            window_cap: spec.retry_after_cap,
            budget: spec.limits.budget,
            breaker: spec.limits.breaker,
            stale_after: spec.limits.stale_after,
            renewing: tokio::sync::Mutex::new(None),
            down_until: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            latencies: Mutex::new(Vec::new()),
        })
    }

    /// Sends per lease at normal pressure (default 8; at least 1).
    #[must_use]
    pub fn with_lease_size(mut self, sends: u32) -> Self {
        self.lease_size = sends.max(1);
        self
    }

    /// Keys under `prefix` instead of `steadfast:{api}` (Redis shared with
    /// other applications, or an ACL that allows one key pattern). Every
    /// member of a fleet must use the same.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.keys = keys(prefix);
        self
    }

    /// How long an unused lease holds its sends (default 10 s, at least
    /// 1 ms): the most a process that died keeps from the fleet.
    #[must_use]
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.max(Duration::from_millis(1));
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

    /// Whether a renewal is due at `now` (and Redis not left alone).
    fn due(&self, now: Clock) -> bool {
        self.lock().needs_store(now.mono)
            && nanos(now.mono) >= self.down_until.load(Ordering::Relaxed)
    }

    /// The report for a renewal, unless another renewal made it unneeded
    /// or failed (waiters must not each wait on Redis in turn).
    fn begin(&self) -> Option<StoreReport> {
        let now = super::now();
        if nanos(now.mono) < self.down_until.load(Ordering::Relaxed) {
            return None;
        }
        let mut local = self.lock();
        local.needs_store(now.mono).then(|| local.report(now.mono))
    }

    /// Takes in a renewal's outcome; `sent` is when it was sent.
    fn end(&self, answer: Result<Answer, String>, report: &StoreReport, sent: Clock) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let now = super::now();
        match answer {
            Ok(answer) => {
                self.record(now.mono.saturating_sub(sent.mono));
                self.lock().settle(store_answer(answer), report, now.mono);
            }
            Err(why) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    error = %why,
                    "shared limits unreachable: this process's own limits for a second"
                );
                self.lock().go_local();
                let retry_at = now.mono.saturating_add(Duration::from_secs(1));
                self.down_until.store(nanos(retry_at), Ordering::Relaxed);
            }
        }
    }

    /// Makes sure the process holds a usable lease at `now` (and a budget
    /// slice that pays for a retry, and the fleet breaker's word), renewing
    /// from Redis when it does not (one renewal at a time).
    pub(crate) async fn prepare(&self, now: Clock) {
        if !self.due(now) {
            return;
        }
        let mut conn = self.renewing.lock().await;
        // Another task may have renewed it while this one waited.
        let Some(report) = self.begin() else {
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
                None => {
                    let config = AsyncConnectionConfig::new()
                        .set_response_timeout(Some(self.round_trip_timeout))
                        .set_connection_timeout(Some(self.round_trip_timeout));
                    self.client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await?
                }
            };
            let answer = call.invoke_async::<Answer>(&mut c).await?;
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
    pub(crate) fn prepare_blocking(&self, now: Clock) {
        if !self.due(now) {
            return;
        }
        let mut conn = self
            .sync_conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(report) = self.begin() else {
            return;
        };
        let sent = super::now();
        // As above: the connection goes back only after an answer.
        let answer = (|| {
            let mut c = match conn.take() {
                Some(c) => c,
                None => {
                    let timeout = self.round_trip_timeout;
                    let c = self.client.get_connection_with_timeout(timeout)?;
                    c.set_read_timeout(Some(timeout))?;
                    c.set_write_timeout(Some(timeout))?;
                    c
                }
            };
            let answer = self.invocation(&report).invoke::<Answer>(&mut c)?;
            *conn = Some(c);
            Ok::<_, redis::RedisError>(answer)
        })();
        self.end(answer.map_err(|e| e.to_string()), &report, sent);
    }

    /// The renewal script's call for `report`.
    fn invocation(&self, report: &StoreReport) -> redis::ScriptInvocation<'_> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let count = |n: Option<u64>| n.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let mut call = self.script.prepare_invoke();
        for key in &self.keys {
            call.key(key);
        }
        call.arg(&self.id)
            .arg(self.lease_size)
            .arg(ms(self.lease_ttl))
            .arg(report.in_flight);
        match report.reading {
            Some((r, age)) => call
                .arg(1)
                .arg(count(r.remaining))
                .arg(count(r.limit))
                .arg(count(r.reset.map(ms)))
                .arg(ms(age)),
            None => call.arg(0).arg(-1).arg(-1).arg(-1).arg(0),
        };
        call.arg(self.warning_permille).arg(ms(self.window_cap));
        let held = report.budget.map_or(0, |b| b.returned());
        let requests = report.budget.map_or(0, |b| b.requests);
        match self.budget {
            Some(BudgetSpec::Quota {
                capacity,
                retry_cost,
                timeout_cost,
                ..
            }) => {
                // A slice pays for a few retries: few round trips, and
                // little parked in members that stay quiet.
                let slice = retry_cost.max(timeout_cost).saturating_mul(4);
                call.arg("q")
                    .arg(held)
                    .arg(requests)
                    .arg(slice)
                    .arg(capacity);
                call.arg(0).arg(0)
            }
            Some(BudgetSpec::Percentage {
                basis_points,
                window,
                min_per_second,
            }) => {
                call.arg("p")
                    .arg(held)
                    .arg(requests)
                    .arg(4)
                    .arg(basis_points);
                call.arg(ms(window)).arg(min_per_second)
            }
            None => call.arg("-").arg(0).arg(0).arg(0).arg(0).arg(0).arg(0),
        };
        match (self.breaker, report.breaker) {
            (Some(spec), Some(news)) => {
                call.arg("b")
                    .arg(news.ok)
                    .arg(news.failed)
                    .arg(news.probes_ok)
                    .arg(news.probes_failed)
                    .arg(news.probes_released)
                    .arg(news.want);
                // Parts per million: the store compares integers.
                let ppm = (spec.failure_ratio * 1e6) as u64;
                call.arg(ppm)
                    .arg(ms(spec.window))
                    .arg(spec.min_outcomes)
                    .arg(ms(spec.break_for))
                    .arg(spec.probes)
                    .arg(ms(self.stale_after))
            }
            _ => call.arg("-"),
        };
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
            self.fleet.lock().unreport(&report);
        }
    }
}

/// The script's keys under `prefix`, in the order it takes them.
fn keys(prefix: &str) -> [String; 6] {
    [
        "window",
        "leases",
        "lease-expiries",
        "budget",
        "budget-slices",
        "breaker",
    ]
    .map(|key| format!("{prefix}:{key}"))
}

/// The script's answer as it comes.
type Answer = (i64, i64, i64, i64, i64, i64);

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The script's answer, read.
fn store_answer((grant, ends_in, slice, verdict, verdict_ms, probes): Answer) -> StoreAnswer {
    let ms = |n: i64| Duration::from_millis(u64::try_from(n).unwrap_or(0));
    StoreAnswer {
        grant: u64::try_from(grant).unwrap_or(0),
        ends: u64::try_from(ends_in).ok().map(Duration::from_millis),
        budget: u32::try_from(slice).ok(),
        breaker: match verdict {
            0 => Some(Verdict::Closed),
            1 => Some(Verdict::Open {
                for_: ms(verdict_ms),
            }),
            2 => Some(Verdict::HalfOpen {
                granted: u32::try_from(probes).unwrap_or(0),
                ask_in: ms(verdict_ms),
            }),
            _ => None,
        },
    }
}
