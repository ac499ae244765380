#!lua name=rpcchat
--
-- store_redis.lua - the chat state of PROTOCOL.md §3-§4 in Redis, one function
-- per call, each one atomic step (store_redis.c loads it with FUNCTION
-- LOAD REPLACE and calls it with FCALL).  It keeps the model of chat.c so
-- that both stores answer byte for byte alike:
--
--   log      ZSET of broadcasts (Say, login and logout notices): message
--            id scored by its seq.  Every user reads it from its own
--            position; an evicted entry leaves a gap its readers count
--            as dropped.  Entries no user still needs are trimmed.
--   pos      ZSET user -> seq of the next broadcast to read; its smallest
--            score says how much of the log is still needed.
--   q:USER   ZSET of private messages ("SEQ:ID", scored by ID: in the
--            order queued), stamped with the log end when queued, so
--            CheckMessages merges them in order; any one removed in
--            O(log n).
--   mtext    HASH message id -> text.
--   mown     HASH message id -> "ACCOUNT:SEQ:OWNER" (OWNER empty for a
--            broadcast): who pays for it and where it is stored.
--   users    ZSET of names with score 0: ZRANGE gives byte order (never
--            sort in Lua, whose comparison follows the locale).
--   idle     ZSET user -> ms of the last Register or CheckMessages, time
--            from Redis (TIME), so every front end agrees.
--   drop     HASH user -> messages dropped since the last notice.
--   meta     HASH next (seq of the next broadcast), mid and aid (the last
--            message and account ids), charged (bytes charged against
--            the budget), listbytes (the List response's size).
--   cfg      HASH of the limits every front end must share.
--
-- The limits (PROTOCOL.md §4.4) follow the policy at the top of chat.c.
-- The account to drop from or evict from is the first of a ZSET of
-- accounts, "NAME\0%016x(ID)" scored by minus its tally: the one with the
-- most, then the smallest name, then the older account.
--
--   aname    HASH account id -> name, while the account exists.
--   uacct    HASH logged-in user -> its account id.
--   a:ID     ZSET of the message ids charged to the account, each scored
--            by itself: oldest first, and any one removed in O(log n).
--   acctz    the accounts with messages, by their message bytes.
--   al:ID    LIST of the account's broadcasts in the log, oldest first.
--   logz     the accounts with broadcasts in the log, by their number.
--   qa:USER:ID  LIST of the account's messages in USER's queue, oldest
--            first.
--   qc:USER  the accounts with messages in USER's queue, by their number.
--
-- A message only ever leaves the log or a queue as the oldest of its
-- payer there (read in order, the oldest of an account evicted, the
-- oldest of the account with the most dropped), so the lists lose only
-- their heads.
--
-- The stateless rules (name checks, message sizes, the texts built from
-- a request) stay in C (rules.c); a function answers with a status of
-- ST, whose names and numbers store_redis.h spells alike (a unit test
-- reads this table).  Errors carry the codes NOCONFIG and MISMATCH.
-- All keys share one hash tag.

local K = '{rpcchat}:'
local ST = {
  DONE = 0,
  NOT_LOGGED_IN = 1,
  TOO_LONG = 2,
  TOO_MANY_USERS = 3,
  REPLACED = 4,         -- Register of a name logged in already
  TAKEN = 5,            -- CheckMessages changed the queue: a change
}
-- The layout of the keys below: front ends of other layouts must not
-- share a chat with these functions.
local FORMAT = '2'
local FRAME_MAX = 65535
local LIST_OVERHEAD = 4

-- Numbers as Redis arguments: never in exponent form.
local function I(n) return string.format('%d', n) end

local function config()
  local v = redis.call('HMGET', K .. 'cfg', 'queue_limit', 'idle_ms',
    'max_users', 'max_memory')
  if not v[1] then
    return redis.error_reply('NOCONFIG rpcchat configuration missing')
  end
  return { ql = tonumber(v[1]), idle = tonumber(v[2]),
    maxu = tonumber(v[3]), mem = tonumber(v[4]) }
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local MSG_CHARGE = 192
local USER_CHARGE = 128

local function meta_num(f)
  return tonumber(redis.call('HGET', K .. 'meta', f) or '0')
end

local function next_seq()
  return meta_num('next')
end

local function charged()
  return meta_num('charged')
end

local function charge_add(n)
  redis.call('HINCRBY', K .. 'meta', 'charged', I(n))
end

local function nusers()
  return redis.call('ZCARD', K .. 'users')
end

-- Every logged-in user has a read position: its score, or nil.
local function position(name)
  local p = redis.call('ZSCORE', K .. 'pos', name)
  if p then return tonumber(p) end
  return nil
end

local function logged_in(name)
  return position(name) ~= nil
end

-- A private message "SEQ:ID": its seq and its id.
local function seq_of(m)
  local i = string.find(m, ':', 1, true)
  return tonumber(string.sub(m, 1, i - 1)), string.sub(m, i + 1)
end

local function mid_of(m)
  local _, mid = seq_of(m)
  return mid
end

-- "ACCOUNT:SEQ:OWNER" of a stored message.
local function owner_of(mid)
  local v = redis.call('HGET', K .. 'mown', mid)
  local i = string.find(v, ':', 1, true)
  local j = string.find(v, ':', i + 1, true)
  return string.sub(v, 1, i - 1), tonumber(string.sub(v, i + 1, j - 1)),
    string.sub(v, j + 1)
end

-- The account's entry in a ZSET of accounts: names hold no NUL, so the
-- name decides before the id, and a name before any longer one it begins.
local function amember(aid, name)
  return name .. '\0' .. string.format('%016x', tonumber(aid))
end

local function acct_new(name)
  local aid = I(redis.call('HINCRBY', K .. 'meta', 'aid', 1))
  redis.call('HSET', K .. 'aname', aid, name)
  redis.call('HSET', K .. 'uacct', name, aid)
  charge_add(#name + USER_CHARGE)
  return aid
end

-- Frees an account nobody is logged in as and nothing is charged to
-- (but not pinned, the one being charged for a new item).
local function acct_maybe_free(aid, pinned)
  if aid == pinned then return end
  local name = redis.call('HGET', K .. 'aname', aid)
  if redis.call('HGET', K .. 'uacct', name) == aid or
    redis.call('ZCARD', K .. 'a:' .. aid) > 0 then
    return
  end
  redis.call('HDEL', K .. 'aname', aid)
  charge_add(-(#name + USER_CHARGE))
end

-- Adds n to the account's tally in the ZSET z, which holds accounts
-- with a tally other than 0.
local function tally(z, aid, name, n)
  local m = amember(aid, name)
  if tonumber(redis.call('ZINCRBY', z, I(-n), m)) == 0 then
    redis.call('ZREM', z, m)
  end
end

-- The account first in the ZSET z: the one to drop or evict from.
local function top(z)
  local m = redis.call('ZRANGE', z, 0, 0)[1]
  return I(tonumber(string.sub(m, -16), 16))
end

-- Stores a new message, queued for owner (or in the log when owner is
-- empty), and charges it to the account.
local function msg_charge(mid, aid, seq, owner, text)
  local name = redis.call('HGET', K .. 'aname', aid)
  redis.call('HSET', K .. 'mtext', mid, text)
  redis.call('HSET', K .. 'mown', mid, aid .. ':' .. I(seq) .. ':' .. owner)
  redis.call('ZADD', K .. 'a:' .. aid, mid, mid)
  tally(K .. 'acctz', aid, name, #text + MSG_CHARGE)
  charge_add(#text + MSG_CHARGE)
  if owner == '' then
    redis.call('RPUSH', K .. 'al:' .. aid, mid)
    tally(K .. 'logz', aid, name, 1)
  else
    redis.call('ZADD', K .. 'q:' .. owner, mid, I(seq) .. ':' .. mid)
    redis.call('RPUSH', K .. 'qa:' .. owner .. ':' .. aid, mid)
    tally(K .. 'qc:' .. owner, aid, name, 1)
  end
end

-- Takes a message out of the log or its queue, where it is its payer's
-- oldest, and frees it.
local function msg_free(mid, pinned)
  local aid, seq, owner = owner_of(mid)
  local name = redis.call('HGET', K .. 'aname', aid)
  local list
  if owner == '' then
    redis.call('ZREM', K .. 'log', mid)
    list = K .. 'al:' .. aid
    tally(K .. 'logz', aid, name, -1)
  else
    redis.call('ZREM', K .. 'q:' .. owner, I(seq) .. ':' .. mid)
    list = K .. 'qa:' .. owner .. ':' .. aid
    tally(K .. 'qc:' .. owner, aid, name, -1)
  end
  if redis.call('LPOP', list) ~= mid then
    error('rpcchat: message ' .. mid .. ' was not its payer\'s oldest')
  end
  local len = redis.call('HSTRLEN', K .. 'mtext', mid)
  redis.call('HDEL', K .. 'mtext', mid)
  redis.call('HDEL', K .. 'mown', mid)
  redis.call('ZREM', K .. 'a:' .. aid, mid)
  tally(K .. 'acctz', aid, name, -(len + MSG_CHARGE))
  charge_add(-(len + MSG_CHARGE))
  acct_maybe_free(aid, pinned)
end

local function new_mid()
  return I(redis.call('HINCRBY', K .. 'meta', 'mid', 1))
end

-- Frees the broadcasts every user has read, dropped or left.
local function collect(pinned)
  local m = redis.call('ZRANGE', K .. 'pos', 0, 0, 'WITHSCORES')
  local lim = '+inf'
  if m[2] then lim = '(' .. m[2] end
  local r = redis.call('ZRANGEBYSCORE', K .. 'log', '-inf', lim)
  for _, mid in ipairs(r) do msg_free(mid, pinned) end
end

-- Evicts the oldest message of the account charged the most.
local function evict_one(pinned)
  local mid = redis.call('ZRANGE', K .. 'a:' .. top(K .. 'acctz'), 0, 0)[1]
  local _, _, owner = owner_of(mid)
  if owner ~= '' then
    redis.call('HINCRBY', K .. 'drop', owner, 1)
  end
  msg_free(mid, pinned)
  collect(pinned)
end

-- Evicts until need more bytes fit in the budget, keeping the account
-- payer; whether they fit.
local function make_room(need, payer, c)
  local ch = charged()
  while (ch > c.mem or need > c.mem - ch) and
    redis.call('ZCARD', K .. 'acctz') > 0 do
    evict_one(payer)
    ch = charged()
  end
  return ch <= c.mem and need <= c.mem - ch
end

-- The log is full: drops the oldest broadcast of the account with the
-- most there.
local function log_drop(pinned)
  msg_free(redis.call('LINDEX', K .. 'al:' .. top(K .. 'logz'), 0), pinned)
  collect(pinned)
end

-- A broadcast for readers users (none: nobody would read it), charged
-- to the account payer.
local function log_append(text, readers, c, payer)
  if readers == 0 then return end
  if redis.call('ZCARD', K .. 'log') >= c.ql then log_drop(payer) end
  make_room(#text + MSG_CHARGE, payer, c)
  local seq = next_seq()
  redis.call('HSET', K .. 'meta', 'next', I(seq + 1))
  local mid = new_mid()
  redis.call('ZADD', K .. 'log', I(seq), mid)
  msg_charge(mid, payer, seq, '', text)
  collect()
end

local function announce(name, what, readers, c, aid)
  log_append('*** ' .. name .. what, readers, c, aid)
end

-- A private message for a logged-in user, charged to the account payer.
-- A full queue first drops the oldest of the account with the most there.
local function user_send(name, text, c, payer)
  if redis.call('ZCARD', K .. 'q:' .. name) >= c.ql then
    local aid = top(K .. 'qc:' .. name)
    redis.call('HINCRBY', K .. 'drop', name, 1)
    msg_free(redis.call('LINDEX', K .. 'qa:' .. name .. ':' .. aid, 0),
      payer)
  end
  make_room(#text + MSG_CHARGE, payer, c)
  msg_charge(new_mid(), payer, next_seq(), name, text)
  collect()
end

-- Lets go of everything the user has not read.
local function release(name)
  local q = redis.call('ZRANGE', K .. 'q:' .. name, 0, -1)
  redis.call('HDEL', K .. 'drop', name)
  redis.call('ZREM', K .. 'pos', name)
  for _, m in ipairs(q) do msg_free(mid_of(m)) end
end

-- Logs the user out, as Quit does, and tells the others.
local function remove(name, c)
  local aid = redis.call('HGET', K .. 'uacct', name)
  release(name)
  redis.call('ZREM', K .. 'users', name)
  redis.call('ZREM', K .. 'idle', name)
  redis.call('HINCRBY', K .. 'meta', 'listbytes', -(2 + #name))
  collect()
  -- The account outlives the user until its notice is charged.
  announce(name, ' has logged out', nusers(), c, aid)
  redis.call('HDEL', K .. 'uacct', name)
  acct_maybe_free(aid)
end

local function listbytes()
  return tonumber(redis.call('HGET', K .. 'meta', 'listbytes') or
    tostring(LIST_OVERHEAD))
end

-- args: queue_limit, idle_ms, max_users, max_memory.  The first front
-- end sets them; a later one must agree.
local function f_config(keys, args)
  local names = { 'queue_limit', 'idle_ms', 'max_users', 'max_memory',
    'format' }
  local what = { 'queue limit', 'idle timeout (ms)', 'max users',
    'max memory', 'the keys\' format' }
  local v = redis.call('HMGET', K .. 'cfg', unpack(names))
  args[5] = FORMAT
  if not v[1] then
    for i = 1, 5 do
      redis.call('HSET', K .. 'cfg', names[i], args[i])
    end
    if not redis.call('HGET', K .. 'meta', 'listbytes') then
      redis.call('HSET', K .. 'meta', 'listbytes', I(LIST_OVERHEAD))
    end
    return 'OK'
  end
  -- A chat kept by front ends that knew no format is of the first.
  v[5] = v[5] or '1'
  for i = 1, 5 do
    if v[i] ~= args[i] then
      return redis.error_reply('MISMATCH ' .. what[i] .. ' is ' ..
        tostring(v[i]) .. ' in the store, ' .. args[i] .. ' here')
    end
  end
  return 'OK'
end

-- args: user
local function f_register(keys, args)
  local c = config()
  if c.err then return c end
  local name = args[1]
  local again = logged_in(name)
  local aid
  if again then
    -- A client that lost its session: a fresh queue.
    release(name)
    aid = redis.call('HGET', K .. 'uacct', name)
  else
    if (c.maxu ~= 0 and nusers() >= c.maxu) or
      listbytes() + 2 + #name > FRAME_MAX or
      not make_room(#name + USER_CHARGE, nil, c) then
      return ST.TOO_MANY_USERS
    end
    redis.call('ZADD', K .. 'users', 0, name)
    redis.call('HINCRBY', K .. 'meta', 'listbytes', 2 + #name)
    aid = acct_new(name)
  end
  redis.call('ZADD', K .. 'idle', I(now_ms()), name)
  -- The others see the notice; the user starts after it.
  announce(name, ' has logged in', nusers() - 1, c, aid)
  redis.call('ZADD', K .. 'pos', I(next_seq()), name)
  collect()
  return again and ST.REPLACED or ST.DONE
end

local function f_list(keys, args)
  return redis.call('ZRANGE', K .. 'users', 0, -1)
end

-- Wire bytes of the drop notice for this count (0 for none).
local function notice_size(dropped)
  if dropped == 0 then return 0 end
  return 2 + #string.format('*** %d messages were dropped', dropped)
end

-- args: user.  Answers { status, message... }: the longest prefix of the
-- queue that fits in one response frame (PROTOCOL.md §4.2), as chat.c builds it.
local function f_check(keys, args)
  local c = config()
  if c.err then return c end
  local name = args[1]
  local orig = position(name)
  if not orig then return { ST.NOT_LOGGED_IN } end
  redis.call('ZADD', K .. 'idle', I(now_ms()), name)
  local pos = orig
  local dropped = tonumber(redis.call('HGET', K .. 'drop', name) or '0')
  local qk = K .. 'q:' .. name
  local pqn = redis.call('ZCARD', qk)
  local le = next_seq()
  local msgs = {}
  local used, n = LIST_OVERHEAD + notice_size(dropped), 0
  local CHUNK = 32
  local priv, ptext, pi = {}, {}, 1   -- priv[pi] is private number taken+1
  local lmid, lseq, ltext, li = {}, {}, {}, 1
  local ldone = false                 -- no stored broadcast after lmid
  local taken = 0                     -- private messages delivered
  while true do
    if pi > #priv and taken < pqn then
      priv = redis.call('ZRANGE', qk, taken, taken + CHUNK - 1)
      local ids = {}
      for j, m in ipairs(priv) do ids[j] = mid_of(m) end
      ptext = redis.call('HMGET', K .. 'mtext', unpack(ids))
      pi = 1
    end
    if li > #lmid and not ldone then
      local r = redis.call('ZRANGEBYSCORE', K .. 'log', I(pos), '+inf',
        'WITHSCORES', 'LIMIT', 0, CHUNK)
      lmid, lseq, li = {}, {}, 1
      for j = 1, #r, 2 do
        lmid[#lmid + 1] = r[j]
        lseq[#lseq + 1] = tonumber(r[j + 1])
      end
      if #lmid < CHUNK then ldone = true end
      if #lmid > 0 then
        ltext = redis.call('HMGET', K .. 'mtext', unpack(lmid))
      end
    end
    local s = lseq[li]
    local is_private = taken < pqn and (not s or seq_of(priv[pi]) <= s)
    local text
    if is_private then
      text = ptext[pi]
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
      text = ltext[li]
    end
    if n + 1 + (dropped > 0 and 1 or 0) > FRAME_MAX or
      2 + #text > FRAME_MAX - used then
      break
    end
    msgs[#msgs + 1] = text
    used = used + 2 + #text
    n = n + 1
    if is_private then
      pi = pi + 1
      taken = taken + 1
    else
      pos = s + 1
      li = li + 1
    end
  end
  if taken > 0 then
    local read = redis.call('ZRANGE', qk, 0, taken - 1)
    for _, m in ipairs(read) do msg_free(mid_of(m)) end
  end
  local out = { ST.DONE }
  if dropped > 0 then
    out[2] = string.format('*** %d messages were dropped', dropped)
    redis.call('HDEL', K .. 'drop', name)
  end
  for _, m in ipairs(msgs) do out[#out + 1] = m end
  if pos ~= orig then
    redis.call('ZADD', K .. 'pos', I(pos), name)
  end
  -- Delivered, dropped or skipped: a failover must not undo it unseen.
  if taken > 0 or dropped > 0 or pos ~= orig then out[1] = ST.TAKEN end
  collect()
  return out
end

-- args: user, target ("" when it can never be a user), the text for the
-- target, the notice for the sender, "1" when the message is too long.
local function f_tell(keys, args)
  local c = config()
  if c.err then return c end
  if not logged_in(args[1]) then return ST.NOT_LOGGED_IN end
  if args[5] == '1' then return ST.TOO_LONG end
  local aid = redis.call('HGET', K .. 'uacct', args[1])
  if args[2] ~= '' and logged_in(args[2]) then
    user_send(args[2], args[3], c, aid)
  else
    user_send(args[1], args[4], c, aid)
  end
  return ST.DONE
end

-- args: user, text, "1" when the message is too long.
local function f_say(keys, args)
  local c = config()
  if c.err then return c end
  if not logged_in(args[1]) then return ST.NOT_LOGGED_IN end
  if args[3] == '1' then return ST.TOO_LONG end
  log_append(args[2], nusers(), c, redis.call('HGET', K .. 'uacct', args[1]))
  return ST.DONE
end

-- args: user
local function f_quit(keys, args)
  local c = config()
  if c.err then return c end
  if not logged_in(args[1]) then return ST.NOT_LOGGED_IN end
  remove(args[1], c)
  return ST.DONE
end

-- Logs out every idle user, once, whichever front end asks first.
-- Answers { ms until the next one falls idle or -1, name... }.
local function f_expire(keys, args)
  local c = config()
  if c.err then return c end
  if c.idle == 0 then return { -1 } end
  local now = now_ms()
  local out = { -1 }
  local idle = redis.call('ZRANGEBYSCORE', K .. 'idle', '-inf',
    I(now - c.idle), 'LIMIT', 0, 1000)
  for _, name in ipairs(idle) do
    remove(name, c)
    out[#out + 1] = name
  end
  local first = redis.call('ZRANGE', K .. 'idle', 0, 0, 'WITHSCORES')
  if first[2] then
    out[1] = math.max(0, tonumber(first[2]) + c.idle - now)
  end
  return out
end

redis.register_function('rpcchat_config', f_config)
redis.register_function('rpcchat_register', f_register)
redis.register_function{ function_name = 'rpcchat_list', callback = f_list,
  flags = { 'no-writes' } }
-- Those that free memory must run when Redis is over its maxmemory.
redis.register_function{ function_name = 'rpcchat_check',
  callback = f_check, flags = { 'allow-oom' } }
redis.register_function('rpcchat_tell', f_tell)
redis.register_function('rpcchat_say', f_say)
redis.register_function{ function_name = 'rpcchat_quit', callback = f_quit,
  flags = { 'allow-oom' } }
redis.register_function{ function_name = 'rpcchat_expire',
  callback = f_expire, flags = { 'allow-oom' } }
