--[[
  The running totals of a chunk, kept in Lua and written to the meta hash once at its end:
  per state name the number of applied events (metaCountField) and the sum of their deltas
  (metaSumField), which the drift check compares with the state. One HINCRBY / HINCRBYFLOAT per
  name and chunk instead of two commands per event.

  Sums are added as doubles while that is exact for integers (below 2^52); a delta beyond that,
  or a sum about to pass it, goes to Redis on its own, where HINCRBYFLOAT keeps a long double.
]]

--- @include "includes/layout"

local totalsCount, totalsSum = {}, {}
local TOTALS_EXACT_LIMIT = 4503599627370496 -- 2^52

local function flushSum(metaKey, name)
  local sum = totalsSum[name]
  if sum and sum ~= 0 then
    redis.call('HINCRBYFLOAT', metaKey, metaSumField(name), string.format('%.17g', sum))
  end
  totalsSum[name] = nil
end

-- Counts one applied event of `name`; delta is the event's delta text, or nil (hsetIfNewer).
local function addToTotals(metaKey, name, delta)
  totalsCount[name] = (totalsCount[name] or 0) + 1
  if not delta then
    return
  end
  local d = tonumber(delta)
  local sum = (totalsSum[name] or 0) + d
  if sum < TOTALS_EXACT_LIMIT and sum > -TOTALS_EXACT_LIMIT
    and d < TOTALS_EXACT_LIMIT and d > -TOTALS_EXACT_LIMIT then
    totalsSum[name] = sum
    return
  end
  if d >= TOTALS_EXACT_LIMIT or d <= -TOTALS_EXACT_LIMIT then
    redis.call('HINCRBYFLOAT', metaKey, metaSumField(name), delta)
    return
  end
  flushSum(metaKey, name)
  totalsSum[name] = d
end

-- Writes the chunk's totals, and the applied count of the shard.
local function flushTotals(metaKey)
  local applied = 0
  for name, count in pairs(totalsCount) do
    redis.call('HINCRBY', metaKey, metaCountField(name), count)
    flushSum(metaKey, name)
    applied = applied + count
  end
  if applied > 0 then
    redis.call('HINCRBY', metaKey, META_APPLIED, applied)
  end
end
