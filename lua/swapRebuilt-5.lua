#!lua
--[[
  Swaps a rebuilt state in for the live one, in one atomic execution.

  rebuildState (tools/rebuild/rebuild.ts) folded the shard's stream, up to and
  including the entry lastId, into a fresh key. Events the guard applied since then are in the
  live key and in the stream after lastId, but not in the fresh key. In one execution, so that
  no event can slip in between:
    1. Reads the stream entries after lastId that the guard applied to the state name (the
       tail; refused entries changed nothing and are left out). An entry the guard did not
       write (no format of includes/layout.lua) refuses the rebuild.
    2. Checks that the stream held every applied event of the name: the entries folded plus the
       tail must equal meta n:<name>. Fewer means the stream was trimmed (by length or age) and
       the state cannot be rebuilt from it; more means the running totals were reset. Either way
       nothing is swapped. A name with no recorded event is never rebuilt into an empty state
       over a live key that exists: its bookkeeping is more likely lost than its state wrong.
    3. Applies the tail to the fresh key in stream order with the guard's own mutations (the
       registered apply functions, put in at `--- @mutations` as in lua/applyBatch-6.lua),
       without judging refusals again: they were applied. The other keys an entry touches (the
       far side of a transfer) are scratch keys, ARGV[5] .. name, deleted at the end. A
       mutation Redis refuses (the entries mix types under one name) refuses the rebuild.
    4. Compares the fresh and the live value of every target the tail touched. The caller
       compares all other targets itself, against the state it folded: no pipeline event
       touched them since lastId, so that comparison needs no atomicity with the swap.
    5. UNLINKs the live key (a large value is freed off the main thread) and RENAMEs the fresh
       key to it, then PERSISTs it: the fresh key carries a safety TTL in case its rebuild dies.
       An empty rebuilt state only UNLINKs the live key.
  Every refusal UNLINKs the fresh keys and leaves the live key as it was.

  Input:
    KEYS[1] stream          stream  the shard's applied events (includes/layout.lua)
    KEYS[2] meta            hash    n:<name> = number of applied events of the state name
    KEYS[3] live            zset | hash  the state key the readers use
    KEYS[4] fresh           zset | hash  the state folded up to lastId (absent when empty)
    KEYS[5] freshVersions   hash    versionField(name, field) -> version the fold kept, for
                                    hsetIfNewer fields (as in the guard's versions hash)

    ARGV[1] name            the state name (the stream's `key` field)
    ARGV[2] lastId          the last stream id the fold read; "0-0" when it read none
    ARGV[3] foldedEntries   number of entries of the name at or before lastId
    ARGV[4] foldedTargets   number of targets written to the fresh key (0: it must not exist)
    ARGV[5] scratchPrefix   the prefix of the scratch keys (in the shard's hash slot)

  Output:
    { status, tailEntries, appliedEvents, stateTargets, touched }
      status         1 SWAPPED   2 DELETED (the rebuilt state is empty, the live key is gone)
                    -1 REFUSED_STREAM_TRIMMED     -2 REFUSED_STREAM_AHEAD_OF_META
                    -3 REFUSED_UNFOLDABLE         -4 REFUSED_FRESH_MISSING (its TTL lapsed)
                    -5 REFUSED_NOTHING_RECORDED
      tailEntries    entries of the name after lastId
      appliedEvents  meta n:<name> (0 when absent)
      stateTargets   members or fields of the swapped-in state (0 on refusal)
      touched        flat array target, differs (1 when the live value was not the rebuilt
                     one), for each target the tail touched; empty on refusal
    or the error "SEQGUARD_LAYOUT <key> holds a <type>" (nothing written) when the stream or
    meta key has the wrong type, or "SEQGUARD_NEWER_LAYOUT …" (nothing written) when the
    shard's stamp says a newer version wrote it (includes/checkLayoutVersion.lua).
]]

local SWAPPED, DELETED = 1, 2
local REFUSED_STREAM_TRIMMED, REFUSED_STREAM_AHEAD_OF_META = -1, -2
local REFUSED_UNFOLDABLE, REFUSED_FRESH_MISSING, REFUSED_NOTHING_RECORDED = -3, -4, -5

--- @include "includes/seqArithmetic"
--- @include "includes/layout"
--- @include "includes/mutationRejection"
--- @include "includes/int64Text"
--- @include "includes/checkLayout"
--- @include "includes/checkLayoutVersion"

--- @mutations

local streamKey, metaKey, liveKey, freshKey, freshVersionsKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local name, lastId = ARGV[1], ARGV[2]
local foldedEntries, foldedTargets = tonumber(ARGV[3]), tonumber(ARGV[4])
local scratchPrefix = ARGV[5]

checkLayout({ [streamKey] = 'stream', [metaKey] = 'hash' })
-- Only read here: the fold must understand every entry format the stream may hold.
checkLayoutVersion(metaKey, true)

-- Whether an entry the guard applied touched the name.
local function touches(entry)
  if entry.refused then
    return false
  end
  for _, key in ipairs(entry.keys) do
    if key == name then
      return true
    end
  end
  return false
end

local tail, undecodable = {}, false
for _, entry in ipairs(redis.call('XRANGE', streamKey, '(' .. lastId, '+')) do
  local fields = decodeStreamEntry(entry[2])
  if not fields then
    undecodable = true
  elseif touches(fields) then
    tail[#tail + 1] = fields
  end
end

local recorded = redis.call('HGET', metaKey, metaCountField(name))
local appliedEvents = tonumber(recorded or '0')

-- The keys the tail's mutations write: the fresh key for the name, a scratch key for any other.
local ctx = { keys = { freshKey }, nameOf = { [freshKey] = name }, versions = freshVersionsKey }
local indexOf, scratchKeys = { [name] = 1 }, {}

local function unlinkScratch()
  if #scratchKeys > 0 then
    redis.call('UNLINK', unpack(scratchKeys))
  end
end

local function refuse(status)
  redis.call('UNLINK', freshKey, freshVersionsKey)
  unlinkScratch()
  return { status, #tail, appliedEvents, 0, {} }
end

local held = foldedEntries + #tail
if held < appliedEvents then
  return refuse(REFUSED_STREAM_TRIMMED)
end
if held > appliedEvents then
  return refuse(REFUSED_STREAM_AHEAD_OF_META)
end
if foldedTargets > 0 and redis.call('EXISTS', freshKey) == 0 then
  return refuse(REFUSED_FRESH_MISSING)
end
if not recorded and redis.call('EXISTS', liveKey) == 1 then
  return refuse(REFUSED_NOTHING_RECORDED)
end

if undecodable then
  return refuse(REFUSED_UNFOLDABLE)
end

-- The row of an entry as applyBatch-6.lua builds it: [_, _, _, _, _, op, key indexes…, args…].
local function rowOf(entry)
  local row = { '', '', '', '', '', entry.op }
  for _, key in ipairs(entry.keys) do
    local index = indexOf[key]
    if not index then
      index = #ctx.keys + 1
      local scratch = scratchPrefix .. key
      ctx.keys[index], ctx.nameOf[scratch], indexOf[key] = scratch, key, index
      scratchKeys[#scratchKeys + 1] = scratch
    end
    row[#row + 1] = index
  end
  for _, arg in ipairs(entry.args) do
    row[#row + 1] = arg
  end
  return row
end

local touched, touchedOrder = {}, {}
for _, e in ipairs(tail) do
  local mutation = MUTATIONS[e.op]
  if not mutation or #e.keys ~= mutation.keys or #e.args ~= mutation.args
    or mutation.apply(ctx, rowOf(e)) then
    return refuse(REFUSED_UNFOLDABLE)
  end
  for j, key in ipairs(e.keys) do
    local target = e.args[mutation.targets[j]]
    if key == name and not touched[target] then
      touched[target] = true
      touchedOrder[#touchedOrder + 1] = target
    end
  end
end
unlinkScratch()

local freshType = redis.call('TYPE', freshKey)['ok']
local liveType = redis.call('TYPE', liveKey)['ok']
local compared = {}
for _, target in ipairs(touchedOrder) do
  local differs = 1
  if freshType == liveType then
    local rebuilt, current
    if freshType == 'zset' then
      rebuilt = redis.call('ZSCORE', freshKey, target)
      current = redis.call('ZSCORE', liveKey, target)
    elseif freshType == 'set' then
      rebuilt = redis.call('SISMEMBER', freshKey, target)
      current = redis.call('SISMEMBER', liveKey, target)
    else
      rebuilt = redis.call('HGET', freshKey, target)
      current = redis.call('HGET', liveKey, target)
    end
    if rebuilt == current then
      differs = 0
    end
  end
  compared[#compared + 1] = target
  compared[#compared + 1] = differs
end

redis.call('UNLINK', liveKey, freshVersionsKey)
if freshType == 'none' then
  return { DELETED, #tail, appliedEvents, 0, compared }
end
local stateTargets
if freshType == 'zset' then
  stateTargets = redis.call('ZCARD', freshKey)
elseif freshType == 'set' then
  stateTargets = redis.call('SCARD', freshKey)
else
  stateTargets = redis.call('HLEN', freshKey)
end
redis.call('RENAME', freshKey, liveKey)
redis.call('PERSIST', liveKey)
return { SWAPPED, #tail, appliedEvents, stateTargets, compared }
