--[[
  The gap ledger: open ranges of missing sequence numbers, per cursor field, in one sorted set
  of the shard, ordered by bytes (all scores 0).

  Member = gapMember(gapPrefix(field), seqPad(first), seqPad(last)) (includes/layout.lua): a
  field may contain any bytes. Ranges of one field never overlap: a range opens only above the
  cursor, and the cursor then moves past it.
]]

--- @include "includes/seqArithmetic"
--- @include "includes/layout"

-- The open range of `prefix` that holds seq, as (member, firstPadded, lastPadded), or nil.
local function gapFind(gapsKey, prefix, seq)
  local padded = seqPad(seq)
  -- The last member at or below prefix..padded..(anything): the range with the greatest
  -- first <= seq. Every member in ['[prefix', that bound] starts with prefix.
  local hits = redis.call('ZRANGE', gapsKey, '[' .. prefix .. padded .. '\255', '[' .. prefix,
    'BYLEX', 'REV', 'LIMIT', 0, 1)
  local member = hits[1]
  if not member then
    return nil
  end
  local firstPadded = string.sub(member, #prefix + 1, #prefix + 20)
  local lastPadded = string.sub(member, #prefix + 21, #prefix + 40)
  if lastPadded < padded then
    return nil
  end
  return member, firstPadded, lastPadded
end

-- Records first..last (inclusive, first <= last) as missing.
local function gapOpen(gapsKey, prefix, first, last)
  redis.call('ZADD', gapsKey, 0, gapMember(prefix, seqPad(first), seqPad(last)))
end

-- seq arrived inside the range `member`: remove it from the range, splitting it in two.
local function gapFill(gapsKey, prefix, member, firstPadded, lastPadded, seq)
  redis.call('ZREM', gapsKey, member)
  local padded = seqPad(seq)
  if firstPadded < padded then
    redis.call('ZADD', gapsKey, 0, gapMember(prefix, firstPadded, seqPad(seqDecrement(seq))))
  end
  if padded < lastPadded then
    redis.call('ZADD', gapsKey, 0, gapMember(prefix, seqPad(seqIncrement(seq)), lastPadded))
  end
end
