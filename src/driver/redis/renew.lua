-- A fleet member's renewal: one atomic round trip that takes in what the
-- member saw and hands it a lease of sends, a slice of the retry budget and
-- the fleet breaker's verdict (see the module docs of src/driver/redis).
--
-- KEYS: window, leases, lease expiries, budget, budget slices, breaker.
-- ARGV: name, value, name, value, ... as `Args::encode` writes them; a
-- group the policy lacks (a reading, the budget, the breaker) is absent.
-- Returns {granted, the fleet window ends in (ms, -1: unknown), budget
-- slice (-1: none), breaker (-1: none, 0 closed, 1 open, 2 half-open), its
-- ms (open for, or ask again in), probes granted}.
local given = {}
for i = 1, #ARGV, 2 do given[ARGV[i]] = ARGV[i + 1] end
local function n(name) return tonumber(given[name]) end

-- Redis's own clock: the members' clocks may disagree.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id, want, ttl = given.member, n('lease_wanted'), n('lease_ttl_ms')
local in_flight, cap = n('in_flight'), n('window_cap_ms')
local quota = given.budget == 'quota'
local dead_members = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  -- A member renewing is alive, however late: what it holds it reports.
  if member ~= id then table.insert(dead_members, member) end
end
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
-- The fleet's window, kept by the rule the process's tracker keeps its own
-- by (src/limits/tracker.rs; a test holds the two together). -1: unknown.
local w = redis.call('HMGET', KEYS[1], 'remaining', 'reset_at', 'limit', 'read_at',
  'longest', 'capped', 'refilled')
local remaining, reset_at = tonumber(w[1]) or -1, tonumber(w[2]) or -1
local limit, read_at = tonumber(w[3]) or -1, tonumber(w[4])
local longest, capped, refilled = tonumber(w[5]) or 0, w[6] == '1', w[7] == '1'
-- The window is over. One whose end was cut to the cap has only stopped
-- being trusted: its count stays, its end becomes unknown. Otherwise the
-- next holds the whole limit, its end unknown until a reading says. Leases
-- stay reserved until their holders renew: what a lease of the old window
-- still sends lands in the new one.
if reset_at >= 0 and reset_at <= now then
  reset_at = -1
  if capped then
    capped = false
  else
    remaining, refilled = limit, limit >= 0
  end
end
-- Within one window the lower count and the later end win; a reading for
-- another window replaces it if it was read later, on Redis's clock. Ends
-- close together are one window (servers round resets to seconds: a
-- second, or half the longest reset seen when windows are shorter, at
-- least 100 ms), and a reading with no end is for the stored window. A
-- reading whose window is over says nothing of this one but its limit.
if given.remaining then
  local seen_at = now - n('reading_age_ms')
  local reset_in, count, lim = n('reset_in_ms'), n('remaining'), n('limit')
  local ends = -1
  if reset_in >= 0 then
    ends = seen_at + math.min(reset_in, cap)
    longest = math.max(longest, math.min(reset_in, cap))
  end
  if reset_in == 0 or (ends >= 0 and ends <= now) then
    if lim >= 0 then limit = lim end
  else
    local tolerance = math.max(100, math.min(1000, math.floor(longest / 2)))
    local same = remaining >= 0 and ((reset_at >= 0
        and (ends < 0 or math.abs(ends - reset_at) <= tolerance))
      or (reset_at < 0 and refilled))
    if same or not read_at or seen_at >= read_at then
      refilled = false
      if lim >= 0 then limit = lim end
      if count >= 0 then
        if same then remaining = math.min(count, remaining) else remaining = count end
      end
      if ends >= 0 and not (same and reset_at > ends) then
        reset_at, capped = ends, reset_in > cap
      end
      read_at = math.max(read_at or seen_at, seen_at)
    end
  end
end
redis.call('HSET', KEYS[1], 'remaining', remaining, 'reset_at', reset_at, 'limit', limit,
  'longest', longest, 'capped', capped and 1 or 0, 'refilled', refilled and 1 or 0)
if read_at then redis.call('HSET', KEYS[1], 'read_at', read_at) end
redis.call('PEXPIRE', KEYS[1], cap * 2)
redis.call('HDEL', KEYS[2], id)
local grant, ends_in = want, -1
if remaining >= 0 then
  local reserved = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[2])) do reserved = reserved + tonumber(v) end
  local free = remaining - reserved - in_flight
  if limit > 0 and free * 1000 < limit * n('warning_permille') then
    want = math.min(want, 1)
  end
  grant = math.max(0, math.min(want, free))
  if reset_at > now then ends_in = reset_at - now end
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
local held, requests, wanted = n('budget_returned'), n('budget_requests'), n('budget_wanted')
if quota then
  local capacity = n('budget_capacity')
  local tokens = tonumber(redis.call('HGET', KEYS[4], 'tokens')) or capacity
  -- What a member returns may be below zero: retries it paid from tokens
  -- an earlier renewal had already handed back.
  tokens = math.min(capacity, tokens + held)
  slice = math.max(0, math.min(tokens, wanted))
  redis.call('HSET', KEYS[4], 'tokens', tokens - slice)
  redis.call('HSET', KEYS[5], id, slice)
  redis.call('PEXPIRE', KEYS[4], math.max(ttl * 2, 60000))
  redis.call('PEXPIRE', KEYS[5], math.max(ttl * 2, 60000))
elseif given.budget == 'percentage' then
  local bp, win = n('budget_basis_points'), n('budget_window_ms')
  local floor = n('budget_min_per_second')
  -- Slots of a tenth of the window, unrounded, as the process counts them.
  local epoch = math.floor(now * 10 / math.max(1, win))
  local req, ret = requests, 0
  local all = redis.call('HGETALL', KEYS[4])
  for i = 1, #all, 2 do
    local field, count = all[i], tonumber(all[i + 1])
    local slot = tonumber(string.sub(field, 3))
    -- Out of the window, or not a slot of this window's (another budget's
    -- field, a Redis clock gone back): forgotten.
    if not slot or slot <= epoch - 10 or slot > epoch then
      redis.call('HDEL', KEYS[4], field)
    elseif string.sub(field, 1, 1) == 'q' then
      req = req + count
    else
      ret = ret + count
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
if given.breaker then
  local ok, failed = n('breaker_ok'), n('breaker_failed')
  local p_ok, p_failed = n('breaker_probes_ok'), n('breaker_probes_failed')
  local p_back, p_want = n('breaker_probes_back'), n('breaker_probes_wanted')
  local ratio, win = n('breaker_failure_ratio'), n('breaker_window_ms')
  local min_outcomes, open_ms = n('breaker_min_outcomes'), n('breaker_open_ms')
  local probes, stale = n('breaker_probes'), n('breaker_stale_ms')
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
    local spell, probes_held = string.match(field or '', '^(%d+):(%d+)$')
    if tonumber(spell) == trip then return tonumber(probes_held) end
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
    -- In doubles, as the process's own breaker compares.
    if failed > 0 and total >= min_outcomes and n_failed / total > ratio then
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
