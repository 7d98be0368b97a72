//! The two Lua scripts: each runs atomically on one key (a hash), so a
//! sync is one round trip and the scripts work on Redis Cluster unchanged.
//!
//! Both keep rolling windows as series of 32 slots of `(epoch, count)`
//! fields (`NAME:eSLOT`, `NAME:nSLOT`), bucketed by the server's own clock
//! (`TIME`), so the processes' clocks never have to agree. A reading at
//! epoch `e` sums the buckets `e - span ..= e`: like the local windows,
//! an event counts for at least the window and at most one bucket more.
//! Counts arrive with their age, so what a process gathered while the
//! store was unreachable lands in the buckets it happened in.

use std::sync::LazyLock;

/// Shared helpers: the server's time in milliseconds, and the series.
const PRELUDE: &str = r#"
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local SLOTS = 32

local function fields(s)
  local list = {}
  for slot = 0, SLOTS - 1 do
    list[#list + 1] = s .. ':e' .. slot
    list[#list + 1] = s .. ':n' .. slot
  end
  return list
end

-- Counts n events of epoch `epoch` in series s; events older than the
-- window (or from a clock that went back past a newer bucket) are dropped.
local function add(s, epoch, current, span, n)
  if n <= 0 or epoch < current - span then return end
  if epoch > current then epoch = current end
  local slot = epoch % SLOTS
  local ef, nf = s .. ':e' .. slot, s .. ':n' .. slot
  local held = tonumber(redis.call('HGET', key, ef) or '-1')
  if held == epoch then
    redis.call('HINCRBY', key, nf, n)
  elseif held < epoch then
    redis.call('HSET', key, ef, epoch, nf, n)
  end
end

local function sum(s, current, span)
  local v = redis.call('HMGET', key, unpack(fields(s)))
  local total = 0
  for slot = 0, SLOTS - 1 do
    local e = tonumber(v[2 * slot + 1] or '-1')
    if e >= current - span and e <= current then
      total = total + tonumber(v[2 * slot + 2] or '0')
    end
  end
  return total
end

local function clear(s)
  redis.call('HDEL', key, unpack(fields(s)))
end
"#;

/// The breaker's sync. ARGV: client id, known generation, bucket width
/// (ms), span (buckets), failure threshold, recovery (ms), probe lease
/// (ms), key TTL (ms), flags, trip age (ms), the number of classes with a
/// threshold of their own and for each its name and threshold, the number
/// of failure entries and for each its age (ms), total and per-class
/// counts.
///
/// Flags: 1 this process opened its breaker (in the known generation),
/// 2 its probe succeeded, 4 its probe failed, 8 it wants (or keeps) the
/// probe token, 16 it gives the token back.
///
/// Reply: state (0 closed, 1 open, 2 half-open), generation, time until
/// half-open (ms, when open), whether this process holds the probe token,
/// the transition this sync made (0 none, 1 opened, 2 closed), then the
/// window's failure count and each class's.
const BREAKER_BODY: &str = r#"
local client = ARGV[1]
local known = tonumber(ARGV[2])
local width = tonumber(ARGV[3])
local span = tonumber(ARGV[4])
local threshold = tonumber(ARGV[5])
local recovery = tonumber(ARGV[6])
local lease = tonumber(ARGV[7])
local keyttl = tonumber(ARGV[8])
local flags = tonumber(ARGV[9])
local trip_age = tonumber(ARGV[10])
local nclasses = tonumber(ARGV[11])
local series = {'f'}
local limits = {threshold}
local i = 12
for k = 1, nclasses do
  series[k + 1] = 'c:' .. ARGV[i]
  limits[k + 1] = tonumber(ARGV[i + 1])
  i = i + 2
end
local nentries = tonumber(ARGV[i])
i = i + 1
local current = math.floor(now / width)

local function has(bit) return math.floor(flags / bit) % 2 == 1 end
local function clear_all() for k = 1, #series do clear(series[k]) end end

local v = redis.call('HMGET', key, 'g', 's', 'o', 'p', 'x')
local gen, state, opened, holder, expiry
if v[1] then
  gen = tonumber(v[1])
  state = tonumber(v[2] or '0')
  opened = tonumber(v[3] or '0')
  holder = v[4] or ''
  expiry = tonumber(v[5] or '0')
else
  -- A new key, or one the server lost (a restart without persistence):
  -- the first process to sync seeds it with its own view.
  gen = known
  state = 0
  opened = 0
  holder = ''
  expiry = 0
end

if state == 1 and now >= opened + recovery then
  state = 2
  holder = ''
  expiry = 0
end
if state == 2 and holder ~= '' and expiry <= now then
  holder = ''
end

local transition = 0
if state == 2 and (holder == client or holder == '') then
  if has(2) then
    state = 0
    gen = gen + 1
    holder = ''
    expiry = 0
    clear_all()
    transition = 2
    known = gen
  elseif has(4) then
    state = 1
    opened = now
    holder = ''
    expiry = 0
    transition = 1
  end
end

if state == 0 and gen == known then
  if has(1) then
    state = 1
    opened = now - math.min(trip_age, recovery)
    clear_all()
    transition = 1
  else
    for e = 1, nentries do
      local epoch = math.floor((now - tonumber(ARGV[i])) / width)
      for k = 1, #series do
        add(series[k], epoch, current, span, tonumber(ARGV[i + k]))
      end
      i = i + 1 + #series
    end
  end
end

local sums = {}
for k = 1, #series do sums[k] = 0 end
if state == 0 then
  local trip = false
  for k = 1, #series do
    sums[k] = sum(series[k], current, span)
    if sums[k] >= limits[k] then trip = true end
  end
  if trip then
    state = 1
    opened = now
    clear_all()
    transition = 1
  end
end

if state == 2 then
  if holder == client and has(16) then
    holder = ''
    expiry = 0
  elseif has(8) and (holder == '' or holder == client) then
    holder = client
    expiry = now + lease
  end
end

redis.call('HSET', key, 'g', gen, 's', state, 'o', opened, 'p', holder, 'x', expiry)
redis.call('PEXPIRE', key, keyttl)
local remaining = 0
if state == 1 then remaining = opened + recovery - now end
local mine = 0
if state == 2 and holder == client then mine = 1 end
local reply = {state, gen, remaining, mine, transition}
for k = 1, #series do reply[5 + k] = sums[k] end
return reply
"#;

/// The budget's sync. ARGV: bucket width (ms), span (buckets), kind (0
/// rolling, 1 ratio), the cap (rolling) or reserve (ratio), the ratio,
/// tokens wanted, key TTL (ms), the number of entries and for each its age
/// (ms), retries already granted (counted whatever the room) and calls.
///
/// Reply: tokens granted, room left after them (negative when retries
/// granted on credit overshot), the allowance.
const BUDGET_BODY: &str = r#"
local width = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local kind = tonumber(ARGV[3])
local base = tonumber(ARGV[4])
local ratio = tonumber(ARGV[5])
local want = tonumber(ARGV[6])
local keyttl = tonumber(ARGV[7])
local nentries = tonumber(ARGV[8])
local current = math.floor(now / width)
local i = 9
for e = 1, nentries do
  local epoch = math.floor((now - tonumber(ARGV[i])) / width)
  add('r', epoch, current, span, tonumber(ARGV[i + 1]))
  add('c', epoch, current, span, tonumber(ARGV[i + 2]))
  i = i + 3
end
local spent = sum('r', current, span)
local allowance = base
if kind == 1 then
  allowance = base + math.floor(ratio * sum('c', current, span))
end
local room = allowance - spent
local grant = 0
if want > 0 and room > 0 then
  grant = math.min(want, room)
  add('r', current, current, span, grant)
  room = room - grant
end
redis.call('PEXPIRE', key, keyttl)
return {grant, room, allowance}
"#;

pub(crate) static BREAKER: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(&format!("{PRELUDE}{BREAKER_BODY}")));

pub(crate) static BUDGET: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(&format!("{PRELUDE}{BUDGET_BODY}")));
