#!lua
--[[
  Records in a partition's ledger what one invocation (or one repair) handled, so that Redis
  losing acknowledged writes can be told from Redis never having had them.

  The ledger of a topic-partition says:
    through   every record of the partition at or below this offset was handled (applied,
              found a duplicate, or dead-lettered), in one contiguous run from `start`;
    start     where that run begins (the first offset the pipeline handled, or the log start
              once a repair filled in what came before);
    s:<shard> the highest offset of the partition written to that shard: the shard's own
              checkpoint must be at least this (lua/includes/checkNotBehind.lua);
    d         the highest offset of the partition dead-lettered: likewise for the dead letters.
    layout    the newest key layout written to it (includes/checkLayoutVersion.lua).
  It lives under its own hash tag, apart from the shards, so a failover or restore of a shard's
  node can be seen against it, and a loss of its own node against Kafka's committed offsets.

  `through` only moves when the range handled joins the run: a batch that starts past
  through + 1 means records in between were committed by Kafka but never handled here (lost
  with a failover or restore, or given up on by the trigger). The sink refuses such a batch;
  the drift check replays the hole, and the repair's call here closes it.

  Input:
    KEYS[1] ledger   hash  the partition's ledger
    ARGV[1] from     the first offset of the range handled (decimal)
    ARGV[2] to       the last offset of its handled prefix, or "" when none of it was handled
    ARGV[3] JSON object shard -> the highest offset written to that shard
    ARGV[4] the highest offset dead-lettered, or ""

  Output:
    1 when `through` now covers `to` (or nothing was to be covered), 0 when the range does not
    join the run (a hole before `from`): the shard and dead-letter marks are raised either way;
    or the error "SEQGUARD_NEWER_LAYOUT …" (nothing written) when the ledger's stamp says a
    newer version wrote it (includes/checkLayoutVersion.lua).
]]

--- @include "includes/seqArithmetic"
--- @include "includes/checkLayout"
--- @include "includes/checkLayoutVersion"

local ledgerKey = KEYS[1]
local from, to = ARGV[1], ARGV[2]
local shards = cjson.decode(ARGV[3])
local deadLettered = ARGV[4]

checkLayout({ [ledgerKey] = 'hash' })
local stampRaise = checkLayoutVersion(ledgerKey, false)
if #stampRaise > 0 then
  redis.call('HSET', ledgerKey, unpack(stampRaise))
end

local function raise(field, offset)
  local current = redis.call('HGET', ledgerKey, field)
  if not current or seqCompare(offset, current) > 0 then
    redis.call('HSET', ledgerKey, field, offset)
  end
end

for shard, offset in pairs(shards) do
  raise('s:' .. shard, offset)
end
if deadLettered ~= '' then
  raise('d', deadLettered)
end

if to == '' then
  return 1
end
local through = redis.call('HGET', ledgerKey, 'through')
if not through then
  redis.call('HSET', ledgerKey, 'through', to, 'start', from)
  return 1
end
if seqCompare(from, seqIncrement(through)) > 0 then
  return 0
end
if seqCompare(to, through) > 0 then
  redis.call('HSET', ledgerKey, 'through', to)
end
local start = redis.call('HGET', ledgerKey, 'start')
if start and seqCompare(from, start) < 0 and seqCompare(seqIncrement(to), start) >= 0 then
  redis.call('HSET', ledgerKey, 'start', from)
end
return 1
