#!lua
--[[
  One read of a state key with the shard's checkpoints beside it, in one atomic execution: a
  read with a bound (core/reading/reader.ts) needs the state and the checkpoints that vouch for
  it from the same moment. One round trip, and no transaction to build.

  Ties follow Redis: members of equal score are ordered by member, byte-wise (ZRANK), and the
  other way round for "desc" (ZREVRANK).

  Input:
    KEYS[1] state    the state key: a zset (score, rank, top, around), a hash (field) or a
                     set (member)
    KEYS[2] offsets  hash    the shard's checkpoints, "<topic>-<partition>" -> offset
    ARGV[1] read     score | rank | top | around | field | member
    ARGV[2] order    "desc" (highest first) or "asc", for rank, top and around
    ARGV[3] subject  the member (score, rank, around, member), the field (field), or N (top)
    ARGV[4] n        members on each side (around), else ""
    ARGV[5...]       "<topic>-<partition>" of each checkpoint to read

  Output:
    { checkpoints, answer }: the checkpoints in the order asked (false when absent), then
      score   the score (text) or false
      rank    { rank or false, score or false }
      top     the first N members with their scores, flat (WITHSCORES)
      around  { rank or false, the members from rank - n to rank + n, flat }: the range is
              empty when the member is not in the set
      field   the field's value or false
      member  1 or 0
]]

local stateKey, offsetsKey = KEYS[1], KEYS[2]
local read, order, subject = ARGV[1], ARGV[2], ARGV[3]
local desc = order == 'desc'

local checkpoints = {}
if #ARGV >= 5 then
  checkpoints = redis.call('HMGET', offsetsKey, unpack(ARGV, 5))
end

local function rankOf(member)
  return redis.call(desc and 'ZREVRANK' or 'ZRANK', stateKey, member)
end

local function range(from, to)
  if desc then
    return redis.call('ZRANGE', stateKey, from, to, 'REV', 'WITHSCORES')
  end
  return redis.call('ZRANGE', stateKey, from, to, 'WITHSCORES')
end

local answer
if read == 'score' then
  answer = redis.call('ZSCORE', stateKey, subject)
elseif read == 'rank' then
  answer = { rankOf(subject), redis.call('ZSCORE', stateKey, subject) }
elseif read == 'top' then
  answer = range(0, tonumber(subject) - 1)
elseif read == 'around' then
  local rank = rankOf(subject)
  if not rank then
    answer = { false, {} }
  else
    local n = tonumber(ARGV[4])
    answer = { rank, range(math.max(0, rank - n), rank + n) }
  end
elseif read == 'field' then
  answer = redis.call('HGET', stateKey, subject)
elseif read == 'member' then
  answer = redis.call('SISMEMBER', stateKey, subject)
else
  return error({ err = 'SEQGUARD_READ unknown read ' .. tostring(read) })
end
return { checkpoints, answer }
