#!lua name=rpcchat
--
-- store_redis.lua - the chat state of PROTOCOL.md §3-§4 in Redis (store_redis.c
-- loads it with FUNCTION LOAD REPLACE).  It keeps the model of chat.c, so
-- that both stores answer byte for byte alike.
--
-- rpcchat_batch runs the calls a front end received together, in order,
-- as one atomic step; each answers as if it had run alone.  rpcchat_tidy
-- logs out idle users and frees what every user has read.  rpcchat_config
-- stores the limits every front end must share.
--
-- What it costs decides the layout: a CheckMessages that finds nothing
-- writes nothing, and the CheckMessages of a batch read their users'
-- records and the end of the log once, together, and write back only
-- the records that changed.  Numbers are stored packed (struct) rather
-- than as text, which Lua would format and parse; integers as 6 bytes,
-- big-endian, so that bytes order them.  Texts are stored as they go on
-- the wire.
--
--   chat     the limits and counters: FORMAT, then doubles: queue limit,
--            idle ms, max users, max memory, next (seq of the next
--            broadcast), mid and aid (the last message and account ids),
--            charged (bytes charged against the budget), nlog (broadcasts
--            stored), nusers, listbytes (the List response's size).
--   u        HASH of the logged-in users, NAME -> record: pos (seq of
--            the next broadcast to read), last (ms of the idle clock),
--            dropped (since the last notice), pqn (private messages
--            queued), its account.
--   users    ZSET of names with score 0: ZRANGE gives byte order (never
--            sort in Lua, whose comparison follows the locale).
--            store_redis.c answers List from it.
--   idle     ZSET name -> last, time from Redis (TIME), so every front end
--            agrees.  The idle clock moves in steps (idle_step).
--   pos      ZSET name -> a lower bound of its pos (below).
--   log      ZSET of broadcasts, all scored 0 and ordered by their bytes:
--            seq, payer, wire text.  Each user reads it from its pos; an
--            entry evicted leaves a gap its readers count as dropped.
--   q:NAME   ZSET of NAME's private messages, ordered alike by their bytes:
--            mid, stamp (the log end when queued: CheckMessages merges
--            by it), payer, wire text.
--
-- The limits (PROTOCOL.md §4.4) follow the policy at the top of chat.c.  The
-- account to drop from or evict from is the first of a ZSET of accounts,
-- "NAME\0ID" scored by minus its tally: the one with the most, then the
-- smallest name, then the older account.
--
--   a:ID     the account's name, while the account exists.
--   acctz    the accounts with messages, by their message bytes.
--   al:ID    LIST of the account's broadcasts in the log (mid, seq),
--            oldest first.
--   logz     the accounts with broadcasts in the log, by their number.
--   ap:ID    ZSET of the account's private messages (mid, owner), oldest
--            first.
--   qa:ID.NAME  LIST of the mids of the account's messages in NAME's
--            queue, oldest first.
--   qc:NAME  the accounts with messages in NAME's queue, by their number.
--
-- acctz and logz also hold PAD, scored +inf (after every account), log
-- holds LOG_END .. PAD (after every entry) and u holds PAD as the value
-- of "" (no name), from the chat's start: a value longer than
-- zset-max-listpack-value or hash-max-listpack-value (64 by default)
-- makes a ZSET a skiplist and a HASH a hash table for good, loaded again
-- included.  A batch reads and writes some fifty fields of u; as a
-- listpack each is found by a scan.  As a listpack, as
-- Redis keeps a ZSET under 128 members, every ZINCRBY scans it from the
-- start to find the member and again to put it back in order: with 100
-- accounts, some 15,000 instructions (callgrind), for each message
-- stored and freed; and every read of the log from a seq scans it up to
-- there.  A skiplist finds a member by its hash, a seq in a few steps.
--
-- A message only ever leaves the log or a queue as the oldest of its
-- payer there (read in order, the oldest of an account evicted, the
-- oldest of the account with the most dropped), so the lists lose only
-- their heads.
--
-- Freeing what every user has read is lazy.  chat.c frees a broadcast as
-- soon as no user stands at or before it; that needs the smallest pos,
-- which a ZSET of positions would give at the cost of a write in every
-- CheckMessages.  Here pos only bounds each user's position from below,
-- and a broadcast is freed later, by rpcchat_tidy or by a call that needs
-- it: only the limits can tell a freed broadcast from one kept (nobody
-- reads behind their position), so a call that might drop or evict -
-- the log near queue_limit, the charges near the budget, at its start -
-- first frees exactly what chat.c would have freed, then keeps to chat.c
-- step by step (exact).  Any other call cannot reach a limit, so what it
-- would have freed makes no difference to it.  min_pos makes the bound of
-- the first user exact before it is trusted.
--
-- The stateless rules (name checks, message sizes, the texts built from a
-- request) stay in C (rules.c); each call answers with a status of ST,
-- whose names and numbers store_redis.h spells alike (a unit test reads
-- this table).  Errors carry the codes NOCONFIG and MISMATCH.  All keys
-- share one hash tag.

local K = '{rpcchat}:'
local ST = {
  DONE = 0,
  NOT_LOGGED_IN = 1,
  TOO_LONG = 2,
  TOO_MANY_USERS = 3,
  REPLACED = 4,         -- Register of a name logged in already
  TAKEN = 5,            -- CheckMessages changed the queue: a change
}
-- A status as its answer, and a CheckMessages that found nothing.
local STB = { [0] = '\0', '\1', '\2', '\3', '\4', '\5' }
local NOTHING = '\0\0\0\0'
-- The layout of the keys above: front ends of other layouts must not
-- share a chat with these functions.
local FORMAT = '5'
local FRAME_MAX = 65535
local LIST_OVERHEAD = 4
local MSG_CHARGE = 192
local USER_CHARGE = 128
-- The idle clock's step at most (idle_step), as chat.c's IDLE_STEP_MAX_MS.
local IDLE_STEP_MAX = 5000
-- Messages fetched at once by a CheckMessages; the end of the log the
-- CheckMessages of a batch share.
local CHUNK = 32
local TAIL = 64
local TAIL_BEHIND = 16
-- Redis formats each number given to redis.call with snprintf, some two
-- thousand instructions (callgrind): the constants of the calls made
-- for most requests, and the small counts and ranks (num), go as
-- strings made once, as Redis would have formatted them.
local TAIL_ARG = '' .. TAIL
local NUM = {}
for i = -64, 255 do NUM[i] = '' .. i end
local function num(n) return NUM[n] or n end
-- Bytes before the wire text in a log entry: seq, payer.
local LOG_HEAD = 12
-- Work of one rpcchat_tidy: positions made exact, broadcasts freed.
local TIDY_FIX = 256
local TIDY_FREE = 512
-- Pieces of rpcchat_batch's answer joined in each string it answers:
-- some 4 KB, within table.concat's buffer.
local PARTS = 64
-- The 80 bytes that keep acctz, logz and log skiplists (see the top):
-- no account's member, as it holds no NUL.
local PAD = '~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~' ..
  '~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~'
-- After the seq of every broadcast (2^48 - 1, never reached): reads of
-- the log end before it, not at '+'.
local LOG_END = '\255\255\255\255\255\255'
-- Arguments of each call of a batch, by its type.
local NARGS = { R = 1, C = 1, S = 3, T = 5, Q = 1 }

-- The libraries are not reachable while the library loads: taken at
-- every call.
local spack, sunpack, sub, char, concat, format
local function libs()
  spack, sunpack = struct.pack, struct.unpack
  sub, char, concat, format = string.sub, string.char, table.concat,
    string.format
end

-- The state of one function call, read once and written back once.
-- Lua's tables and strings cost their allocation and, for a table that
-- grows, a rehash at every power of two: the records stay packed.
local M         -- the chat record, or nil
local U         -- user records read: name -> packed record, or false
local Uchanged  -- names whose record changed, in order
local Udirty
local AN        -- account names: ID -> name
local NOW       -- ms, from TIME, once per function call
local STEP      -- the idle clock's step (idle_step)
local O         -- the pieces of rpcchat_batch's answer
local exact     -- this call frees as chat.c does (see the top)
-- The end of the log as a batch's CheckMessages read it: its entries
-- from seq tail_from, valid while the log is at version logv.
local logv, tail, tail_from, tail_v
-- tail_size[j]: the wire bytes of tail's first j entries (their heads
-- left out), so that a CheckMessages sizes its part of the tail at once.
local tail_size
-- The packed seq end_at, as a CheckMessages that read up to it stores.
local end_p6, end_at

local function P6(n) return spack('>I6', n) end
local function U6(s, at) return (sunpack('>I6', s, at)) end
local function wire(text) return spack('>H', #text) .. text end

-- cmd key item..., in pieces: unpack takes a few thousand at most.
local function call_each(cmd, key, items)
  for i = 1, #items, 1000 do
    if key then
      redis.call(cmd, key, unpack(items, i, math.min(i + 999, #items)))
    else
      redis.call(cmd, unpack(items, i, math.min(i + 999, #items)))
    end
  end
end

local META = '>ddddddddddd'

local function meta_decode(s)
  if sub(s, 1, 1) ~= FORMAT then return nil end
  local ql, idle, maxu, mem, nxt, mid, aid, charged, nlog, nusers,
    listbytes = sunpack(META, s, 2)
  return { ql = ql, idle = idle, maxu = maxu, mem = mem, next = nxt,
    mid = mid, aid = aid, charged = charged, nlog = nlog, nusers = nusers,
    listbytes = listbytes, dirty = false }
end

local function meta_encode(m)
  return FORMAT .. spack(META, m.ql, m.idle, m.maxu, m.mem, m.next, m.mid,
    m.aid, m.charged, m.nlog, m.nusers, m.listbytes)
end

-- A CheckMessages moves the idle clock only when it moved by this much
-- since: polls in between write nothing.  The timeout acts up to one
-- step late, never early (chat.c's idle_step).
local function idle_step()
  return math.min(IDLE_STEP_MAX, math.floor(M.idle / 10))
end

local function begin(chat)
  libs()
  M = chat and meta_decode(chat)
  U, Uchanged, Udirty, AN, NOW, exact = {}, {}, {}, {}, nil, false
  STEP = M and idle_step()
  logv, tail, tail_size, end_at = 0, nil, nil, nil
end

local function noconfig()
  return redis.error_reply('NOCONFIG rpcchat configuration missing')
end

local function clock()
  if not NOW then
    local t = redis.call('TIME')
    NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return NOW
end

-- -- users -------------------------------------------------------------------

local REC = '>I6I6I6I6c6'

-- The packed record of a user, or false when not logged in.
local function record(name)
  local r = U[name]
  if r == nil then
    r = redis.call('HGET', K .. 'u', name)
    U[name] = r
  end
  return r
end

-- The record of a logged-in user: pos, last, dropped, pqn, account; or
-- nothing.
local function user(name)
  local r = record(name)
  if r then return sunpack(REC, r) end
end

-- Reads the records not read yet, in one command.
local function users_fetch(names)
  local keys, want = {}, {}
  for _, name in ipairs(names) do
    if U[name] == nil and not want[name] then
      want[name] = true
      keys[#keys + 1] = name
    end
  end
  if #keys == 0 then return end
  local v = redis.call('HMGET', K .. 'u', unpack(keys))
  for i, name in ipairs(keys) do U[name] = v[i] end
end

-- The user's record changed, to r (false: logged out).
local function user_set(name, r)
  U[name] = r
  if not Udirty[name] then
    Udirty[name] = true
    Uchanged[#Uchanged + 1] = name
  end
end

-- The user's record changed; without pos, logged out.
local function user_put(name, pos, last, dropped, pqn, A)
  user_set(name, pos and spack(REC, pos, last, dropped, pqn, A) or false)
end

-- Writes back what changed.
local function save()
  local set, del = {}, {}
  for _, name in ipairs(Uchanged) do
    local r = U[name]
    if r then
      set[#set + 1] = name
      set[#set + 1] = r
    else
      del[#del + 1] = name
    end
  end
  call_each('HDEL', K .. 'u', del)
  call_each('HSET', K .. 'u', set)
  if M.dirty then
    redis.call('SET', K .. 'chat', meta_encode(M))
    M.dirty = false
  end
  Uchanged, Udirty = {}, {}
end

-- -- accounts ----------------------------------------------------------------

-- The account's entry in a ZSET of accounts: names hold no NUL, so the
-- name decides before the id, and a name before any longer one it begins.
local function amember(A, name) return name .. '\0' .. A end

local function acct_name(A)
  local name = AN[A]
  if not name then
    name = redis.call('GET', K .. 'a:' .. A)
    AN[A] = name
  end
  return name
end

local function charge(n)
  M.charged = M.charged + n
  M.dirty = true
end

local function acct_new(name)
  M.aid = M.aid + 1
  local A = P6(M.aid)
  redis.call('SET', K .. 'a:' .. A, name)
  AN[A] = name
  charge(#name + USER_CHARGE)
  return A
end

-- Adds n to the account's tally in the ZSET z, which holds accounts
-- with a tally other than 0; whether it went to 0.
local function tally(z, m, n)
  if redis.call('ZINCRBY', z, num(-n), m) == '0' then
    redis.call('ZREM', z, m)
    return true
  end
  return false
end

-- Adds to the tallies of several accounts in the ZSET z at once: d maps
-- each one's entry to what to add.  Which went to 0.
local function tallies(z, d, order)
  local have = redis.call('ZMSCORE', z, unpack(order))
  local set, gone = {}, {}
  for i, m in ipairs(order) do
    local v = (tonumber(have[i]) or 0) - d[m]
    if v == 0 then
      gone[#gone + 1] = m
    else
      set[#set + 1] = v
      set[#set + 1] = m
    end
  end
  if #set > 0 then redis.call('ZADD', z, unpack(set)) end
  if #gone > 0 then redis.call('ZREM', z, unpack(gone)) end
  return gone
end

-- The account first in the ZSET z: the one to drop or evict from.
local function top(z)
  return sub(redis.call('ZRANGE', z, '0', '0')[1], -6)
end

-- Frees an account nobody is logged in as and nothing is charged to
-- (but not pinned, the one being charged for a new item); empty: it is
-- known to have nothing charged.
local function acct_maybe_free(A, pinned, empty)
  if A == pinned then return end
  local name = acct_name(A)
  local pos, _, _, _, UA = user(name)
  if (pos and UA == A) or (not empty and
    redis.call('ZSCORE', K .. 'acctz', amember(A, name))) then
    return
  end
  redis.call('DEL', K .. 'a:' .. A)
  charge(-(#name + USER_CHARGE))
end

-- -- freeing -----------------------------------------------------------------

-- Messages taken from the log or a queue, each the oldest of its payer
-- there and in their order: per payer, how many, their bytes and ids.
local function by_payer(members, payer_at, id_at, id_len)
  local g, order = {}, {}
  for _, m in ipairs(members) do
    local A = sub(m, payer_at, payer_at + 5)
    local p = g[A]
    if not p then
      p = { n = 0, bytes = 0, ids = {} }
      g[A] = p
      order[#order + 1] = A
    end
    p.n = p.n + 1
    p.bytes = p.bytes + #m - payer_at - 7 + MSG_CHARGE
    p.ids[p.n] = sub(m, id_at, id_at + id_len - 1)
  end
  return g, order
end

-- The head of a payer's list must be what is taken.
local function pop_heads(key, ids, from)
  local got = redis.call('LPOP', key, num(#ids))
  for i, id in ipairs(ids) do
    if not got or sub(got[i] or '', from) ~= id then
      error('rpcchat: a message was not its payer\'s oldest in ' .. key)
    end
  end
end

-- Frees broadcasts taken out of the log (log members, in log order).
local function log_free(members, pinned)
  local g, order = by_payer(members, 7, 1, 6)
  logv = logv + 1
  local names = {}
  for i, A in ipairs(order) do
    if not AN[A] then names[#names + 1] = A end
  end
  if #names > 0 then
    local k = {}
    for i, A in ipairs(names) do k[i] = K .. 'a:' .. A end
    local v = redis.call('MGET', unpack(k))
    for i, A in ipairs(names) do AN[A] = v[i] end
  end
  local bytes, count, ms, of = {}, {}, {}, {}
  for i, A in ipairs(order) do
    local p = g[A]
    local m = amember(A, AN[A])
    ms[i], of[m] = m, A
    bytes[m], count[m] = -p.bytes, -p.n
    pop_heads(K .. 'al:' .. A, p.ids, 7)
    charge(-p.bytes)
    M.nlog = M.nlog - p.n
  end
  tallies(K .. 'logz', count, ms)
  for _, m in ipairs(tallies(K .. 'acctz', bytes, ms)) do
    acct_maybe_free(of[m], pinned, true)
  end
end

-- Frees private messages taken out of owner's queue (q members, in
-- queue order).
local function queue_free(owner, members, pinned)
  local g, order = by_payer(members, 13, 1, 6)
  for _, A in ipairs(order) do
    local p, name = g[A], acct_name(A)
    local ap = {}
    for i, mid in ipairs(p.ids) do ap[i] = mid .. owner end
    local m = amember(A, name)
    pop_heads(K .. 'qa:' .. A .. owner, p.ids, 1)
    tally(K .. 'qc:' .. owner, m, -p.n)
    call_each('ZREM', K .. 'ap:' .. A, ap)
    charge(-p.bytes)
    if tally(K .. 'acctz', m, -p.bytes) then
      acct_maybe_free(A, pinned, true)
    end
  end
  local pos, last, dropped, pqn, A = user(owner)
  user_put(owner, pos, last, dropped, pqn - #members, A)
end

-- The range of members of a ZSET ordered by bytes that begin with the
-- 6-byte id.
local function id_range(id)
  return '[' .. id, '(' .. P6(U6(id) + 1)
end

-- Takes one broadcast out of the log and frees it.
local function log_free_one(seq, pinned)
  local lo, hi = id_range(seq)
  local m = redis.call('ZRANGE', K .. 'log', lo, hi, 'BYLEX')
  redis.call('ZREMRANGEBYLEX', K .. 'log', lo, hi)
  log_free(m, pinned)
end

-- Takes one private message out of owner's queue and frees it.
local function queue_free_one(owner, mid, pinned)
  local lo, hi = id_range(mid)
  local q = K .. 'q:' .. owner
  local m = redis.call('ZRANGE', q, lo, hi, 'BYLEX')
  redis.call('ZREMRANGEBYLEX', q, lo, hi)
  queue_free(owner, m, pinned)
end

-- The smallest position of a logged-in user (M.next if none), and
-- whether it is exact: each user's lower bound in pos is made exact from
-- the smallest up until the smallest is, or limit of them were.
local function min_pos(limit)
  local fixed = 0
  while true do
    local r = redis.call('ZRANGE', K .. 'pos', 0, 31, 'WITHSCORES')
    if #r == 0 then return M.next, true end
    local names = {}
    for i = 1, #r, 2 do names[#names + 1] = r[i] end
    users_fetch(names)
    local args = {}
    for i = 1, #r, 2 do
      local p = user(r[i])
      if p ~= tonumber(r[i + 1]) then
        args[#args + 1] = p
        args[#args + 1] = r[i]
      elseif i == 1 then
        return p, true
      end
    end
    if limit and fixed >= limit then return tonumber(r[2]), false end
    redis.call('ZADD', K .. 'pos', unpack(args))
    fixed = fixed + #args / 2
  end
end

-- Frees the broadcasts before seq (at most max of them); how many.
local function free_before(seq, max, pinned)
  local m = redis.call('ZRANGE', K .. 'log', '-', '(' .. P6(seq), 'BYLEX',
    'LIMIT', 0, max or -1)
  if #m == 0 then return 0 end
  redis.call('ZREMRANGEBYLEX', K .. 'log', '-',
    '(' .. P6(U6(m[#m]) + 1))
  log_free(m, pinned)
  return #m
end

-- Frees the broadcasts every user has read, left or lost: chat.c's
-- log_collect, where it matters (exact; see the top).
local function collect(pinned)
  if exact then free_before(min_pos(), nil, pinned) end
end

-- -- limits ------------------------------------------------------------------

-- A call about to store need more bytes and add nlog broadcasts: whether
-- it could reach a limit, and if so the state chat.c would have.
local function begin_call(need, nlog)
  exact = M.nlog + nlog > M.ql or M.charged + need > M.mem
  if exact then collect() end
end

-- Evicts the oldest message of the account charged the most.
local function evict_one(pinned)
  local A = top(K .. 'acctz')
  local b = redis.call('LINDEX', K .. 'al:' .. A, 0)
  local p = redis.call('ZRANGE', K .. 'ap:' .. A, 0, 0)[1]
  if p and (not b or sub(p, 1, 6) < sub(b, 1, 6)) then
    local owner = sub(p, 7)
    local pos, last, dropped, pqn, UA = user(owner)
    user_put(owner, pos, last, dropped + 1, pqn, UA)
    queue_free_one(owner, sub(p, 1, 6), pinned)
  else
    log_free_one(sub(b, 7), pinned)
  end
  collect(pinned)
end

-- Evicts until need more bytes fit in the budget, keeping the account
-- payer; whether they fit.
local function make_room(need, payer)
  while (M.charged > M.mem or need > M.mem - M.charged) and
    redis.call('ZCARD', K .. 'acctz') > 1 do
    evict_one(payer)
  end
  return M.charged <= M.mem and need <= M.mem - M.charged
end

-- The log is full: drops the oldest broadcast of the account with the
-- most there.
local function log_drop(pinned)
  local b = redis.call('LINDEX', K .. 'al:' .. top(K .. 'logz'), 0)
  log_free_one(sub(b, 7), pinned)
  collect(pinned)
end

-- -- storing -----------------------------------------------------------------

-- A broadcast for readers users (none: nobody would read it), charged
-- to the account A of name.
local function log_append(text, readers, A, name)
  if readers == 0 then return end
  if M.nlog >= M.ql then log_drop(A) end
  make_room(#text + MSG_CHARGE, A)
  local seq = P6(M.next)
  local entry = seq .. A .. wire(text)
  -- The batch's end of the log, whole up to here, takes the entry too:
  -- the CheckMessages after it need not read the end again.
  local keep = tail and tail_v == logv and tail_from + #tail == M.next
  M.next = M.next + 1
  M.mid = M.mid + 1
  logv = logv + 1
  redis.call('ZADD', K .. 'log', '0', entry)
  if keep then
    local j = #tail + 1
    tail[j] = entry
    tail_size[j] = tail_size[j - 1] + #entry - LOG_HEAD
    tail_v = logv
  end
  redis.call('RPUSH', K .. 'al:' .. A, P6(M.mid) .. seq)
  local m = amember(A, name)
  tally(K .. 'acctz', m, #text + MSG_CHARGE)
  tally(K .. 'logz', m, 1)
  charge(#text + MSG_CHARGE)
  M.nlog = M.nlog + 1
  collect()
end

local function announce(name, what, readers, A)
  log_append('*** ' .. name .. what, readers, A, name)
end

-- A private message for the logged-in owner, charged to the account A
-- of name.  A full queue first drops the oldest of the account with the
-- most there.
local function user_send(owner, text, A, name)
  local pos, last, dropped, pqn, OA = user(owner)
  if pqn >= M.ql then
    local top_A = top(K .. 'qc:' .. owner)
    user_put(owner, pos, last, dropped + 1, pqn, OA)
    queue_free_one(owner,
      redis.call('LINDEX', K .. 'qa:' .. top_A .. owner, 0), A)
  end
  make_room(#text + MSG_CHARGE, A)
  M.mid = M.mid + 1
  local mid = P6(M.mid)
  redis.call('ZADD', K .. 'q:' .. owner, '0',
    mid .. P6(M.next) .. A .. wire(text))
  redis.call('RPUSH', K .. 'qa:' .. A .. owner, mid)
  local m = amember(A, name)
  tally(K .. 'qc:' .. owner, m, 1)
  redis.call('ZADD', K .. 'ap:' .. A, '0', mid .. owner)
  tally(K .. 'acctz', m, #text + MSG_CHARGE)
  charge(#text + MSG_CHARGE)
  -- As drops and evictions left it.
  pos, last, dropped, pqn, OA = user(owner)
  user_put(owner, pos, last, dropped, pqn + 1, OA)
  collect()
end

-- Lets go of everything the user has not read; it stands nowhere.
local function release(name)
  local q = K .. 'q:' .. name
  local pos, last, _, pqn, A = user(name)
  local m = pqn > 0 and redis.call('ZRANGE', q, 0, -1) or {}
  user_put(name, pos, last, 0, pqn, A)
  redis.call('ZREM', K .. 'pos', name)
  if #m > 0 then
    redis.call('DEL', q)
    queue_free(name, m)
  end
end

-- Logs the user out, as Quit does, and tells the others.
local function remove(name)
  local _, _, _, _, A = user(name)
  release(name)
  redis.call('ZREM', K .. 'users', name)
  redis.call('ZREM', K .. 'idle', name)
  M.listbytes = M.listbytes - (2 + #name)
  M.nusers = M.nusers - 1
  M.dirty = true
  collect()
  -- The account outlives the user until its notice is charged.
  AN[A] = name
  announce(name, ' has logged out', M.nusers, A)
  user_put(name)
  acct_maybe_free(A)
end

-- -- the calls ---------------------------------------------------------------
--
-- Each takes the batch's arguments and where its own begin; it returns
-- its answer, or puts it at the end of O itself.

local function c_register(args, i)
  local name = args[i]
  local again = user(name) ~= nil
  local notice = ' has logged in'
  begin_call((again and 0 or #name + USER_CHARGE) +
    4 + #name + #notice + MSG_CHARGE, 1)
  local A
  if again then
    -- A client that lost its session: a fresh queue.
    release(name)
    A = select(5, user(name))
  else
    if (M.maxu ~= 0 and M.nusers >= M.maxu) or
      M.listbytes + 2 + #name > FRAME_MAX or
      not make_room(#name + USER_CHARGE, nil) then
      return STB[ST.TOO_MANY_USERS]
    end
    redis.call('ZADD', K .. 'users', 0, name)
    M.listbytes = M.listbytes + 2 + #name
    M.nusers = M.nusers + 1
    A = acct_new(name)
  end
  local last = clock()
  redis.call('ZADD', K .. 'idle', last, name)
  -- The others see the notice; the user starts after it.
  announce(name, notice, M.nusers - 1, A)
  local pos = M.next
  redis.call('ZADD', K .. 'pos', pos, name)
  user_put(name, pos, last, 0, 0, A)
  collect()
  return STB[again and ST.REPLACED or ST.DONE]
end

-- Wire bytes of the drop notice for this count (0 for none).
local function notice(dropped)
  return format('*** %d messages were dropped', dropped)
end

local function notice_size(dropped)
  if dropped == 0 then return 0 end
  return 2 + #notice(dropped)
end

-- The head of the answer of a CheckMessages that takes n broadcasts
-- from the tail, made once for each n: in Redis's Lua a call of a C
-- function (char, math.floor) costs as much as ten of its instructions,
-- and most CheckMessages take a few.
local HEADS = {}
local function tail_head(n)
  local h = char(ST.TAKEN, math.floor(n / 256), n % 256, LOG_HEAD)
  if n < 256 then HEADS[n] = h end
  return h
end

-- Broadcasts alone, none lost, all in the frame: the entries of the
-- log's end as they are, each after its header of LOG_HEAD bytes; the
-- new pos, or nil when it is not so simple.
local function check_tail(pos, le)
  if not tail or tail_v ~= logv or pos < tail_from then
    -- From a little before this user: the others of the batch stand
    -- about where it does, and one further behind costs another read
    -- (at worst one a CheckMessages, as the path below would make).
    local from = math.max(0, pos - TAIL_BEHIND)
    tail = redis.call('ZRANGE', K .. 'log', '[' .. P6(from), '(' .. LOG_END,
      'BYLEX', 'LIMIT', '0', TAIL_ARG)
    tail_from, tail_v = #tail > 0 and U6(tail[1]) or from, logv
    -- Entries at consecutive seqs from tail_from, or none of use.
    if #tail > 0 and U6(tail[#tail]) ~= tail_from + #tail - 1 then
      tail = {}
    end
    tail_size = { [0] = 0 }
    for j = 1, #tail do
      tail_size[j] = tail_size[j - 1] + #tail[j] - LOG_HEAD
    end
  end
  local a, n = pos - tail_from, le - pos
  if a < 0 or a + n > #tail or
    tail_size[a + n] - tail_size[a] > FRAME_MAX - LIST_OVERHEAD then
    return nil
  end
  -- The entries go into the answer as they are: a string made of them
  -- here would be hashed once more, as every new Lua string is.
  local at = #O
  O[at + 1] = HEADS[n] or tail_head(n)
  for j = 1, n do O[at + 1 + j] = tail[a + j] end
  return le
end

-- Answers the status, then the longest prefix of the queue that fits in
-- one response frame (PROTOCOL.md §4.2) as a string list, as chat.c builds it:
-- its count, the size of a header before each string, the strings; all
-- but NOT_LOGGED_IN put in O.
local function check(name)
  -- The most frequent call: its record as user() would unpack it, but
  -- without the function calls, which cost more than the rest of it.
  local r = U[name]
  if r == nil then r = record(name) end
  if not r then return STB[ST.NOT_LOGGED_IN] end
  local pos, last, dropped, pqn, A = sunpack(REC, r)
  local moved = false
  if M.idle > 0 and NOW - last >= STEP then
    last = NOW
    redis.call('ZADD', K .. 'idle', NOW, name)
    moved = true
  end
  local orig, le = pos, M.next
  if pqn == 0 and dropped == 0 then
    if pos == le then
      if moved then user_put(name, pos, last, dropped, pqn, A) end
      return NOTHING
    end
    local p = check_tail(pos, le)
    if p and moved then
      user_put(name, p, last, dropped, pqn, A)
      return
    elseif p then
      -- Only pos changed, the record's first bytes: the log's end is
      -- packed once for the batch, not every record again.
      if end_at ~= p then end_p6, end_at = P6(p), p end
      user_set(name, end_p6 .. sub(r, 7))
      return
    end
  end
  local out, n = { '' }, 0           -- out[1]: the notice, if any
  local used = LIST_OVERHEAD + notice_size(dropped)
  local q = K .. 'q:' .. name
  local priv, pi, took = {}, 1, {}     -- priv[pi] is private number #took+1
  local logm, li = {}, 1
  local lnext, ldone = pos, pos >= le  -- ldone: no stored broadcast after
  while true do
    if pi > #priv and #took < pqn then
      priv = redis.call('ZRANGE', q, num(#took), num(#took + CHUNK - 1))
      pi = 1
    end
    if li > #logm and not ldone then
      if logm ~= tail and tail and tail_v == logv and lnext >= tail_from and
        lnext < tail_from + #tail then
        -- The batch's end of the log has it, and all after it.
        logm, li = tail, lnext - tail_from + 1
        ldone = #tail < TAIL or tail_from + #tail == M.next
        lnext = tail_from + #tail
      else
        logm = redis.call('ZRANGE', K .. 'log', '[' .. P6(lnext),
          '(' .. LOG_END, 'BYLEX', 'LIMIT', '0', num(CHUNK))
        li = 1
        if #logm < CHUNK then ldone = true end
        if #logm > 0 then lnext = U6(logm[#logm]) + 1 end
      end
    end
    local lm = logm[li]
    local s = lm and U6(lm)
    local pm = #took < pqn and priv[pi]
    local is_private = pm and (not s or U6(pm, 7) <= s)
    local w
    if is_private then
      w = sub(pm, 19)
    else
      -- Evicted before the next: more for the notice.
      local gap = (s or le) - pos
      if gap > 0 then
        local grow = notice_size(dropped + gap) - notice_size(dropped)
        if (dropped == 0 and n >= FRAME_MAX) or grow > FRAME_MAX - used then
          break
        end
        used = used + grow
        dropped = dropped + gap
        pos = pos + gap
      end
      if not s then break end
      w = sub(lm, 13)
    end
    if n + 1 + (dropped > 0 and 1 or 0) > FRAME_MAX or
      #w > FRAME_MAX - used then
      break
    end
    n = n + 1
    out[n + 1] = w
    used = used + #w
    if is_private then
      took[#took + 1] = pm
      pi = pi + 1
    else
      pos = s + 1
      li = li + 1
    end
  end
  if #took > 0 then
    redis.call('ZREMRANGEBYRANK', q, '0', num(#took - 1))
    queue_free(name, took)
  end
  if dropped > 0 then
    out[1] = wire(notice(dropped))
    n = n + 1
  end
  -- Delivered, dropped or skipped: a failover must not undo it unseen.
  local st = ST.DONE
  if #took > 0 or dropped > 0 or pos ~= orig then
    st = ST.TAKEN
    moved = true
  end
  if moved then
    user_put(name, pos, last, 0, pqn - #took, A)
  end
  out[1] = spack('>BHB', st, n, 0) .. out[1]
  local at = #O
  for i = 1, #out do O[at + i] = out[i] end
end

-- user, target ("" when it can never be a user), the text for the
-- target, the notice for the sender, "1" when the message is too long.
local function c_tell(args, i)
  local name, target, text = args[i], args[i + 1], args[i + 2]
  local _, _, _, _, A = user(name)
  if not A then return STB[ST.NOT_LOGGED_IN] end
  if args[i + 4] == '1' then return STB[ST.TOO_LONG] end
  local owner = name
  if target ~= '' and user(target) then
    owner = target
  else
    text = args[i + 3]
  end
  begin_call(#text + MSG_CHARGE, 0)
  AN[A] = name
  user_send(owner, text, A, name)
  return STB[ST.DONE]
end

-- user, text, "1" when the message is too long.
local function c_say(args, i)
  local name, text = args[i], args[i + 1]
  local _, _, _, _, A = user(name)
  if not A then return STB[ST.NOT_LOGGED_IN] end
  if args[i + 2] == '1' then return STB[ST.TOO_LONG] end
  begin_call(#text + MSG_CHARGE, 1)
  AN[A] = name
  log_append(text, M.nusers, A, name)
  return STB[ST.DONE]
end

local function c_quit(args, i)
  local name = args[i]
  if not user(name) then return STB[ST.NOT_LOGGED_IN] end
  begin_call(4 + #name + #' has logged out' + MSG_CHARGE, 1)
  remove(name)
  return STB[ST.DONE]
end

local CALLS = { R = c_register, S = c_say, T = c_tell, Q = c_quit }

-- args: for each call, its type (R, C, S, T or Q) and its arguments.
-- Answers the calls' answers one after the other, in a few strings
-- (store_redis.h): table.concat builds in a buffer of 8 KB and, past it,
-- makes a string of each part and of their joins, every one hashed by
-- Redis's Lua; an answer of a few parts of PARTS pieces each is hashed
-- once (callgrind: the single concat was a twelfth of Redis's work).
local function f_batch(keys, args)
  libs()
  local nargs, k, n, i = #args, {}, 0, 1
  while i <= nargs do
    local t = args[i]
    if not NARGS[t] then
      return redis.error_reply('ERR rpcchat: no call ' .. t)
    end
    n = n + 1
    k[n] = args[i + 1]
    if t == 'T' and args[i + 2] ~= '' then
      n = n + 1
      k[n] = args[i + 2]
    end
    i = i + 1 + NARGS[t]
  end
  begin(redis.call('GET', K .. 'chat'))
  if not M then return noconfig() end
  -- NOW, by which the CheckMessages move the idle clock.
  if M.idle > 0 then clock() end
  local v = n > 0 and redis.call('HMGET', K .. 'u', unpack(k)) or {}
  O = {}
  i, n = 1, 0
  while i <= nargs do
    local t, name = args[i], args[i + 1]
    -- The records as read, unless a call before changed them.
    n = n + 1
    if U[name] == nil then U[name] = v[n] end
    if t == 'T' and args[i + 2] ~= '' then
      n = n + 1
      if U[args[i + 2]] == nil then U[args[i + 2]] = v[n] end
    end
    exact = false
    local a
    if t == 'C' then
      a = check(name)
    else
      a = CALLS[t](args, i + 1)
    end
    if a then O[#O + 1] = a end
    i = i + 1 + NARGS[t]
  end
  save()
  local parts = {}
  for j = 1, #O, PARTS do
    parts[#parts + 1] = concat(O, '', j, math.min(j + PARTS - 1, #O))
  end
  return parts
end

-- Logs out every idle user, once, whichever front end asks first, then
-- frees some of what every user has read.  Answers { ms until this is
-- wanted again or -1, name of each user logged out... }.
local function f_tidy(keys, args)
  begin(redis.call('GET', K .. 'chat'))
  if not M then return noconfig() end
  local out = { -1 }
  if M.idle > 0 then
    local late = M.idle + STEP
    local idle = redis.call('ZRANGEBYSCORE', K .. 'idle', '-inf',
      clock() - late, 'LIMIT', 0, 1000)
    for _, name in ipairs(idle) do
      exact = true
      collect()
      remove(name)
      out[#out + 1] = name
    end
    local first = redis.call('ZRANGE', K .. 'idle', 0, 0, 'WITHSCORES')
    if first[2] then
      out[1] = math.max(0, tonumber(first[2]) + late - NOW)
    end
  end
  exact = false
  local p, all = min_pos(TIDY_FIX)
  if free_before(p, TIDY_FREE) == TIDY_FREE or not all then
    out[1] = 0
  end
  save()
  return out
end

-- args: queue_limit, idle_ms, max_users, max_memory.  The first front
-- end sets them; a later one must agree.
local function f_config(keys, args)
  libs()
  local what = { 'queue limit', 'idle timeout (ms)', 'max users',
    'max memory' }
  local function mismatch(w, stored, here)
    return redis.error_reply('MISMATCH ' .. w .. ' is ' .. stored ..
      ' in the store, ' .. here .. ' here')
  end
  -- A chat kept by front ends of an earlier layout (which knew no format:
  -- the first).
  local old = redis.call('HGET', K .. 'cfg', 'format')
  if old or redis.call('EXISTS', K .. 'cfg') == 1 then
    return mismatch('the keys\' format', old or '1', FORMAT)
  end
  local s = redis.call('GET', K .. 'chat')
  if not s then
    M = { ql = tonumber(args[1]), idle = tonumber(args[2]),
      maxu = tonumber(args[3]), mem = tonumber(args[4]), next = 0, mid = 0,
      aid = 0, charged = 0, nlog = 0, nusers = 0, listbytes = LIST_OVERHEAD }
    redis.call('SET', K .. 'chat', meta_encode(M))
    redis.call('HSET', K .. 'u', '', PAD)
    redis.call('ZADD', K .. 'acctz', 'inf', PAD)
    redis.call('ZADD', K .. 'logz', 'inf', PAD)
    redis.call('ZADD', K .. 'log', '0', LOG_END .. PAD)
    return 'OK'
  end
  local m = meta_decode(s)
  if not m then
    return mismatch('the keys\' format', sub(s, 1, 1), FORMAT)
  end
  local v = { m.ql, m.idle, m.maxu, m.mem }
  for i = 1, 4 do
    if v[i] ~= tonumber(args[i]) then
      return mismatch(what[i], format('%d', v[i]), args[i])
    end
  end
  return 'OK'
end

redis.register_function('rpcchat_config', f_config)
-- Those that free memory must run when Redis is over its maxmemory.
redis.register_function{ function_name = 'rpcchat_batch',
  callback = f_batch, flags = { 'allow-oom' } }
redis.register_function{ function_name = 'rpcchat_tidy',
  callback = f_tidy, flags = { 'allow-oom' } }
