#!lua name=rpcchat
--
-- redis_floor.lua - not a store: the least any rpcchat_batch must make
-- Redis do for a batch of calls, as a yardstick for store_redis.lua
-- (bench/run.py loads it into a Redis of its own after a front end has
-- registered the users there; bench/redis_cost.py replays with it).
--
-- It keeps to the contract of src/store_redis.h and to its keys and runs
-- what no layout of the chat can do without: read the calls, the chat
-- and the callers' records (GET, HMGET), the end of the log (ZRANGE),
-- store each message with one command (ZADD) and their sequence numbers
-- with another (INCRBY), write back the records of the CheckMessages
-- (HSET) and answer each CheckMessages with the last broadcasts, as many
-- as the steady chat delivers to each, bytes as the real ones.  None of
-- the chat's rules: no positions, no drops, limits, tallies, idle clock
-- or freeing, so every answer but the size of each is wrong.  What
-- store_redis.lua costs above this is what its rules cost.

local K = '{rpcchat}:'
local NARGS = { R = 1, C = 1, S = 3, T = 5, Q = 1 }
-- Broadcasts in each CheckMessages' answer: in the steady mix (5% Says,
-- 100 users) a user finds about five since its last poll.
local DELIVER = 5
-- Bytes before the wire text in a log entry: seq, payer (as the store).
local LOG_HEAD = 12
local PAYER = '\0\0\0\0\0\1'

local function f_batch(keys, args)
  local spack = struct.pack
  local nargs, names, n, says, i = #args, {}, 0, 0, 1
  while i <= nargs do
    local t = args[i]
    if not NARGS[t] then
      return redis.error_reply('ERR rpcchat: no call ' .. t)
    end
    n = n + 1
    names[n] = args[i + 1]
    if t == 'S' then says = says + 1 end
    i = i + 1 + NARGS[t]
  end
  redis.call('GET', K .. 'chat')
  local rec = redis.call('HMGET', K .. 'u', unpack(names))
  -- The log's last member is the store's pad (store_redis.lua).
  local tail = redis.call('ZRANGE', K .. 'log', -DELIVER - 1, -2)
  local seq = says > 0 and redis.call('INCRBY', K .. 'floor', says) - says
  local head = string.char(5, 0, #tail, LOG_HEAD)
  local out, set = {}, {}
  i, n = 1, 0
  while i <= nargs do
    local t, name = args[i], args[i + 1]
    n = n + 1
    if t == 'C' then
      if rec[n] then
        set[#set + 1] = name
        set[#set + 1] = rec[n]
      end
      out[#out + 1] = head
      for j = 1, #tail do out[#out + 1] = tail[j] end
    elseif t == 'S' then
      seq = seq + 1
      local text = args[i + 2]
      redis.call('ZADD', K .. 'log', '0',
        spack('>I6', seq) .. PAYER .. spack('>H', #text) .. text)
      out[#out + 1] = '\0'
    elseif t == 'T' then
      redis.call('ZADD', K .. 'q:' .. args[i + 2], '0', args[i + 3])
      out[#out + 1] = '\0'
    else
      out[#out + 1] = '\0'
    end
    i = i + 1 + NARGS[t]
  end
  if #set > 0 then redis.call('HSET', K .. 'u', unpack(set)) end
  return { table.concat(out) }
end

local function f_tidy(keys, args) return { -1 } end
local function f_config(keys, args) return 'OK' end
-- Whether this is what a Redis runs: a front end that connects again
-- loads store_redis.lua over it.
local function f_floor(keys, args) return 1 end

redis.register_function('rpcchat_config', f_config)
redis.register_function('rpcchat_floor', f_floor)
redis.register_function{ function_name = 'rpcchat_batch', callback = f_batch }
redis.register_function{ function_name = 'rpcchat_tidy', callback = f_tidy }
