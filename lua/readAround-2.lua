#!lua
--[[
  Reads the members around one member of a leaderboard, and the shard's checkpoints beside
  them, in one atomic execution: a read with a bound (core/reading/reader.ts) needs the state
  and the checkpoints that vouch for it from the same moment, and the range depends on the
  member's rank, which a transaction (MULTI) cannot feed into its next command.

  Ties follow Redis: members of equal score are ordered by member, byte-wise (ZRANK), and the
  other way round for "desc" (ZREVRANK).

  Input:
    KEYS[1] state    zset    the leaderboard
    KEYS[2] offsets  hash    the shard's checkpoints, "<topic>-<partition>" -> offset
    ARGV[1] member
    ARGV[2] n        members on each side of it (0 or more)
    ARGV[3] order    "desc" (highest first) or "asc"
    ARGV[4...]       "<topic>-<partition>" of each checkpoint to read (none without a bound)

  Output:
    { checkpoints, rank, range }: the checkpoints in the order asked (false when absent), the
    member's 0-based rank in that order (false when it is not a member; range is then empty),
    and the members from rank - n to rank + n with their scores, flat (WITHSCORES).
]]

--- @include "includes/checkLayout"

local stateKey, offsetsKey = KEYS[1], KEYS[2]
local member, n, order = ARGV[1], tonumber(ARGV[2]), ARGV[3]

checkLayout({ [stateKey] = 'zset', [offsetsKey] = 'hash' })

local checkpoints = {}
for i = 4, #ARGV do
  checkpoints[#checkpoints + 1] = redis.call('HGET', offsetsKey, ARGV[i])
end

local rank = redis.call(order == 'desc' and 'ZREVRANK' or 'ZRANK', stateKey, member)
if not rank then
  return { checkpoints, false, {} }
end
local from = rank - n
if from < 0 then
  from = 0
end
local range
if order == 'desc' then
  range = redis.call('ZRANGE', stateKey, from, rank + n, 'REV', 'WITHSCORES')
else
  range = redis.call('ZRANGE', stateKey, from, rank + n, 'WITHSCORES')
end
return { checkpoints, rank, range }
