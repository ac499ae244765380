#!lua name=rpcchat
--
-- store_redis.lua - the chat state of SPEC §3-§4 in Redis, one function
-- per call, each one atomic step (store_redis.c loads it with FUNCTION
-- LOAD REPLACE and calls it with FCALL).  It keeps the model of chat.c so
-- that both stores answer byte for byte alike:
--
--   log      LIST of broadcasts (Say, login and logout notices), read by
--            every user from its own position; head = seq of its first
--            element.  Entries no user still needs are trimmed.
--   pos      ZSET user -> seq of the next broadcast to read; its smallest
--            score says how much of the log is still needed.
--   q:USER   LIST of private messages ("SEQ:TEXT"), stamped with the log
--            end when queued, so CheckMessages merges them in order.
--   users    ZSET of names with score 0: ZRANGE gives byte order (never
--            sort in Lua, whose comparison follows the locale).
--   idle     ZSET user -> ms of the last Register or CheckMessages, time
--            from Redis (TIME), so every front end agrees.
--   drop     HASH user -> messages dropped since the last notice.
--   meta     HASH head, listbytes (the List response's size).
--   cfg      HASH of the limits every front end must share.
--
-- The stateless rules (name checks, message sizes, the texts built from
-- a request) stay in C (rules.c); a function answers with a status:
-- 0 done, 1 user not logged in, 2 message too long, 3 too many users.
-- All keys share one hash tag.

local K = '{rpcchat}:'
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

local function head()
  return tonumber(redis.call('HGET', K .. 'meta', 'head') or '0')
end

local function set_head(h)
  redis.call('HSET', K .. 'meta', 'head', I(h))
end

local function log_len()
  return redis.call('LLEN', K .. 'log')
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

local function seq_of(m)
  local i = string.find(m, ':', 1, true)
  return tonumber(string.sub(m, 1, i - 1)), i
end

local function text_of(m)
  local _, i = seq_of(m)
  return string.sub(m, i + 1)
end

-- Frees the broadcasts every user has read, dropped or left (h and n:
-- the head and the log's length, when the caller has them).
local function collect(h, n)
  if not h then h, n = head(), log_len() end
  local m = redis.call('ZRANGE', K .. 'pos', 0, 0, 'WITHSCORES')
  local minpos = h + n
  if m[2] then minpos = tonumber(m[2]) end
  if minpos > h then
    local k = math.min(minpos - h, n)
    redis.call('LTRIM', K .. 'log', k, -1)
    set_head(h + k)
  end
end

-- A broadcast for readers users (none: nobody would read it).
local function log_append(text, readers, c)
  if readers == 0 then return end
  local n = redis.call('RPUSH', K .. 'log', text)
  -- Beyond every user's limit: gone, whoever has not read it yet.
  if n > c.ql then
    redis.call('LTRIM', K .. 'log', n - c.ql, -1)
    set_head(head() + n - c.ql)
  end
  collect()
end

local function announce(name, what, readers, c)
  log_append('*** ' .. name .. what, readers, c)
end

-- Applies the queue limit to the user (at position pos, or looked up);
-- returns its position, the messages dropped since its last notice, the
-- log's head and end, and the length of its private queue.
local function normalize(name, c, pos)
  local h = head()
  local le = h + log_len()
  pos = pos or position(name)
  local dropped = tonumber(redis.call('HGET', K .. 'drop', name) or '0')
  local before_pos, before_dropped = pos, dropped
  if pos < h then
    dropped = dropped + (h - pos)
    pos = h
  end
  local qk = K .. 'q:' .. name
  local pqn = redis.call('LLEN', qk)
  local excess = (le - pos) + pqn - c.ql
  if excess > 0 then
    local front = redis.call('LRANGE', qk, 0, excess - 1)
    local i, npriv = 1, 0
    for _ = 1, excess do
      if i <= #front and (pos == le or seq_of(front[i]) <= pos) then
        i = i + 1
        npriv = npriv + 1
      else
        pos = pos + 1
      end
      dropped = dropped + 1
    end
    if npriv > 0 then redis.call('LTRIM', qk, npriv, -1) end
    pqn = pqn - npriv
  end
  if pos ~= before_pos then
    redis.call('ZADD', K .. 'pos', I(pos), name)
  end
  if dropped ~= before_dropped then
    redis.call('HSET', K .. 'drop', name, I(dropped))
  end
  return pos, dropped, h, le, pqn
end

-- A private message for a logged-in user.
local function user_send(name, text, c)
  local le = head() + log_len()
  redis.call('RPUSH', K .. 'q:' .. name, I(le) .. ':' .. text)
  normalize(name, c)
  collect()
end

-- Lets go of everything the user has not read.
local function release(name)
  redis.call('DEL', K .. 'q:' .. name)
  redis.call('HDEL', K .. 'drop', name)
  redis.call('ZREM', K .. 'pos', name)
end

-- Logs the user out, as Quit does, and tells the others.
local function remove(name, c)
  release(name)
  redis.call('ZREM', K .. 'users', name)
  redis.call('ZREM', K .. 'idle', name)
  redis.call('HINCRBY', K .. 'meta', 'listbytes', -(2 + #name))
  collect()
  announce(name, ' has logged out', nusers(), c)
end

local function listbytes()
  return tonumber(redis.call('HGET', K .. 'meta', 'listbytes') or
    tostring(LIST_OVERHEAD))
end

-- args: queue_limit, idle_ms, max_users, max_memory.  The first front
-- end sets them; a later one must agree.
local function f_config(keys, args)
  local names = { 'queue_limit', 'idle_ms', 'max_users', 'max_memory' }
  local what = { 'queue limit', 'idle timeout (ms)', 'max users',
    'max memory' }
  local v = redis.call('HMGET', K .. 'cfg', unpack(names))
  if not v[1] then
    for i = 1, 4 do
      redis.call('HSET', K .. 'cfg', names[i], args[i])
    end
    if not redis.call('HGET', K .. 'meta', 'listbytes') then
      redis.call('HSET', K .. 'meta', 'listbytes', I(LIST_OVERHEAD))
    end
    return 'OK'
  end
  for i = 1, 4 do
    if v[i] ~= args[i] then
      return what[i] .. ' is ' .. tostring(v[i]) ..
        ' in the store, ' .. args[i] .. ' here'
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
  if again then
    -- A client that lost its session: a fresh queue.
    release(name)
  else
    if (c.maxu ~= 0 and nusers() >= c.maxu) or
      listbytes() + 2 + #name > FRAME_MAX then
      return 3
    end
    redis.call('ZADD', K .. 'users', 0, name)
    redis.call('HINCRBY', K .. 'meta', 'listbytes', 2 + #name)
  end
  redis.call('ZADD', K .. 'idle', I(now_ms()), name)
  -- The others see the notice; the user starts after it.
  announce(name, ' has logged in', nusers() - 1, c)
  redis.call('ZADD', K .. 'pos', I(head() + log_len()), name)
  collect()
  return again and 4 or 0
end

local function f_list(keys, args)
  return redis.call('ZRANGE', K .. 'users', 0, -1)
end

-- args: user.  Answers { status, message... }: the longest prefix of the
-- queue that fits in one response frame (SPEC §4.2).
local function f_check(keys, args)
  local c = config()
  if c.err then return c end
  local name = args[1]
  local orig = position(name)
  if not orig then return { 1 } end
  redis.call('ZADD', K .. 'idle', I(now_ms()), name)
  local pos, dropped, h, le, pqn = normalize(name, c, orig)
  local start = pos
  local out = { 0 }
  local used, n = LIST_OVERHEAD, 0
  if dropped > 0 then
    local notice = string.format('*** %d messages were dropped', dropped)
    out[#out + 1] = notice
    used = used + 2 + #notice
    n = 1
    redis.call('HDEL', K .. 'drop', name)
  end
  local qk = K .. 'q:' .. name
  local CHUNK = 32
  local priv, pi = {}, 1              -- priv[pi] is private number taken+1
  local logc, li = {}, 1              -- logc[li] is seq pos
  local taken = 0                     -- private messages delivered
  while pos < le or taken < pqn do
    if pi > #priv and taken < pqn then
      priv = redis.call('LRANGE', qk, taken, taken + CHUNK - 1)
      pi = 1
    end
    local is_private = taken < pqn and
      (pos == le or seq_of(priv[pi]) <= pos)
    local text
    if is_private then
      text = text_of(priv[pi])
    else
      if li > #logc then
        logc = redis.call('LRANGE', K .. 'log', pos - h, pos - h + CHUNK - 1)
        li = 1
      end
      text = logc[li]
    end
    if n == FRAME_MAX or 2 + #text > FRAME_MAX - used then break end
    out[#out + 1] = text
    used = used + 2 + #text
    n = n + 1
    if is_private then
      pi = pi + 1
      taken = taken + 1
    else
      li = li + 1
      pos = pos + 1
    end
  end
  if taken > 0 then redis.call('LTRIM', qk, taken, -1) end
  if pos ~= start then
    redis.call('ZADD', K .. 'pos', I(pos), name)
  end
  if pos ~= orig then collect(h, le - h) end
  return out
end

-- args: user, target ("" when it can never be a user), the text for the
-- target, the notice for the sender, "1" when the message is too long.
local function f_tell(keys, args)
  local c = config()
  if c.err then return c end
  if not logged_in(args[1]) then return 1 end
  if args[5] == '1' then return 2 end
  if args[2] ~= '' and logged_in(args[2]) then
    user_send(args[2], args[3], c)
  else
    user_send(args[1], args[4], c)
  end
  return 0
end

-- args: user, text, "1" when the message is too long.
local function f_say(keys, args)
  local c = config()
  if c.err then return c end
  if not logged_in(args[1]) then return 1 end
  if args[3] == '1' then return 2 end
  log_append(args[2], nusers(), c)
  return 0
end

-- args: user
local function f_quit(keys, args)
  local c = config()
  if c.err then return c end
  if not logged_in(args[1]) then return 1 end
  remove(args[1], c)
  return 0
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
