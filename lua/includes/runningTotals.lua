--[[
  The running totals of a chunk, kept in Lua and written to the meta hash once at its end:
  per state name the number of applied events that touched it (metaCountField) and the sum of
  what they added to it (metaSumField), which the drift check compares with the state. An event
  row (lua/applyBatch-6.lua) carries, after its keys and args, one sum per key: decimal text, or
  false for a key whose sum its mutation does not move (a value set, a set member). One HINCRBY / HINCRBYFLOAT per
  name and chunk instead of two commands per event. Totals are kept per state index (1-based
  into the chunk's names).

  The caller gives, per state, what the chunk would add if every event applied
  (core/redis/apply-batch.ts): the number of its events that touch the state (an event once,
  however many of its keys name it), and the exact sum of their deltas as decimal text when
  every one of them is an integer (and their sizes add up to less than 2^63), else false. The
  script starts from these and takes off the events it does not apply (duplicates, refusals,
  rejections), so an applied event costs the totals nothing, unless some state's sum is not
  given: then each applied event adds its deltas to that state's sum here (totalsPerEvent).
  In Lua, deltas are added as doubles, exact for integers while the sum stays below 2^52:
  startTotals sets `totalsSmall` = 2^52 / (events in the chunk), and a delta below it in size
  cannot take the chunk's sum past 2^52. A larger delta goes to Redis as its text, where
  HINCRBYFLOAT keeps a long double. Nothing is written for a state none of whose events applied.
]]

--- @include "includes/layout"
--- @include "includes/int64Text"

local TOTALS_EXACT_LIMIT = 4503599627370496 -- 2^52
local totalsNames, totalsCount, totalsSum, totalsGiven, totalsLarge = {}, {}, {}, {}, {}
local totalsSmall = 0
-- Applied events of the chunk: one each, however many states it touched.
local totalsEvents = 0
-- Whether some state's sum is not given, so that each applied event must call totalsApplied.
local totalsPerEvent = false

-- Starts the totals of a chunk of `eventCount` events of the states `names`; given[i] is
-- { count, sum } of state i: its events, and the exact sum of their deltas (text) or false.
local function startTotals(names, given, eventCount)
  totalsNames, totalsEvents = names, eventCount
  for i = 1, #names do
    local count, sum = given[i][1], given[i][2]
    totalsCount[i], totalsSum[i], totalsLarge[i] = count, 0, {}
    totalsGiven[i] = type(sum) == 'string' and sum
    totalsPerEvent = totalsPerEvent or not totalsGiven[i]
  end
  totalsSmall = TOTALS_EXACT_LIMIT / math.max(eventCount, 1)
end

-- Adds the delta text, or its negation (sign -1), to the sum of state `index`.
local function addToSum(index, delta, sign)
  local d = tonumber(delta)
  if d and d < totalsSmall and d > -totalsSmall then
    totalsSum[index] = totalsSum[index] + sign * d
  elseif sign > 0 then
    table.insert(totalsLarge[index], delta)
  elseif string.byte(delta, 1) == 45 then -- '-'
    table.insert(totalsLarge[index], string.sub(delta, 2))
  else
    table.insert(totalsLarge[index], '-' .. delta)
  end
end

-- The event row e (keyCount keys, argCount args) was applied: the states whose sums are not
-- given take its deltas. Called only when totalsPerEvent.
local function totalsApplied(e, keyCount, argCount)
  for j = 1, keyCount do
    local index = e[6 + j]
    local delta = e[6 + keyCount + argCount + j]
    if delta and not totalsGiven[index] then
      addToSum(index, delta, 1)
    end
  end
end

-- The event row e was not applied (a duplicate, a refusal or a rejection): it comes off the
-- given counts (once per state it touched) and off the given sums.
local function totalsNotApplied(e, keyCount, argCount)
  totalsEvents = totalsEvents - 1
  for j = 1, keyCount do
    local index = e[6 + j]
    local repeated = false
    for earlier = 1, j - 1 do
      repeated = repeated or e[6 + earlier] == index
    end
    if not repeated then
      totalsCount[index] = totalsCount[index] - 1
    end
    local delta = e[6 + keyCount + argCount + j]
    if delta and totalsGiven[index] then
      local d = tonumber(delta)
      if d < totalsSmall and d > -totalsSmall then
        totalsSum[index] = totalsSum[index] - d
      else
        -- Off the given sum itself, exactly in text (its deltas are all integers): in and out
        -- again through HINCRBYFLOAT, a delta near 2^63 would round away a fraction the total
        -- already holds, as the long double has 64 bits of mantissa.
        totalsGiven[index] = int64Difference(totalsGiven[index], delta)
      end
    end
  end
end

-- Writes the chunk's totals, and the applied count of the shard.
local function flushTotals(metaKey)
  for i = 1, #totalsNames do
    local count = totalsCount[i]
    if count > 0 then
      local name = totalsNames[i]
      local sumField = metaSumField(name)
      redis.call('HINCRBY', metaKey, metaCountField(name), count)
      local given = totalsGiven[i]
      if given and given ~= '0' then
        redis.call('HINCRBYFLOAT', metaKey, sumField, given)
      end
      for _, delta in ipairs(totalsLarge[i]) do
        redis.call('HINCRBYFLOAT', metaKey, sumField, delta)
      end
      local sum = totalsSum[i]
      if sum ~= 0 then
        redis.call('HINCRBYFLOAT', metaKey, sumField, string.format('%.17g', sum))
      end
    end
  end
  if totalsEvents > 0 then
    redis.call('HINCRBY', metaKey, META_APPLIED, totalsEvents)
  end
end
