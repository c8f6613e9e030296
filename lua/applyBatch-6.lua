#!lua
--[[
  Applies a chunk of events to one state shard, exactly once, in one atomic execution.

  For each event, in order:
    1. The sequence guard compares its seq with the cursor of its cursor field:
         offset field ("o:<topic>-<partition>", events without a seq; seq = offset):
           seq <= cursor                 -> DUPLICATE
           otherwise                     -> APPLIED (offset gaps are normal, not recorded)
         sequence field ("s:<scope>"), no cursor yet:
           seq <  firstSeq               -> REJECTED_BELOW_FIRST_SEQ
           seq == firstSeq               -> APPLIED
           seq >  firstSeq               -> GAP_OPENED: applied, firstSeq..seq-1 recorded open
         sequence field with cursor c:
           seq == c + 1                  -> APPLIED
           seq >  c + 1                  -> GAP_OPENED: applied, c+1..seq-1 recorded open
           seq <= c, inside an open gap  -> APPLIED_LATE: applied, the gap shrinks
           seq <= c, otherwise           -> DUPLICATE
    2. An event to apply runs its registered mutation (core/mutations: the bodies and their
       dispatch, MUTATIONS, are put in at the `--- @mutations` line by the registry). First its
       refuse function, if it has one: a business reason (insufficient funds) makes the event
       REFUSED, final: it consumes its seq like an applied event (cursor, gap), its stream entry
       records the reason, and the state and the running totals do not move. Else its apply
       function: if Redis refuses a command (wrong type, not a number), the event is REJECTED_*
       and leaves no trace: no cursor move, no gap change, no stream entry, no totals.
    3. An applied event moves the cursor (late ones do not), appends its entry to the stream,
       and adds to the running totals in meta.
    4. APPLIED*, GAP_OPENED, REFUSED and DUPLICATE events raise the topic-partition's
       checkpoint to their offset. The caller gives each topic-partition's highest offset in
       the chunk (ARGV[8]): that is the raise, unless an event of it was rejected, when the
       offsets of its other events are compared at the end.
  At the end the stream is trimmed once per chunk, by length and by age
  (includes/trimStream.lua), and the running totals are written (includes/runningTotals.lua).
  All keys share the shard's hash tag, so the script runs on one node and one slot. The script is declared with a shebang: Redis then checks the keys it
  declares and rejects the whole script up front under OOM instead of failing half way.

  Seqs, offsets and versions are canonical decimal strings (see includes/seqArithmetic.lua).

  Input:
    KEYS[1] cursors   hash   cursor field -> highest applied seq
    KEYS[2] gaps      zset   open ranges of missing seqs (includes/gapLedger.lua)
    KEYS[3] offsets   hash   "<topic>-<partition>" -> highest offset guarded in this shard
    KEYS[4] stream    stream one entry per applied event (format: includes/layout.lua)
    KEYS[5] meta      hash   applied (count), n:<name>, sum:<name> running totals, and the
                             shard's version stamp (includes/checkLayoutVersion.lua)
    KEYS[6] versions  hash   version of every field written by hsetIfNewer (versionField)
    KEYS[7..] state keys, in the order of the names in ARGV[4]

    ARGV[1] firstSeq        the first seq of a scope that has no cursor yet
    ARGV[2] streamMaxLen    approximate cap on stream entries; "0" = no cap
    ARGV[3] streamMaxAgeMs  entries older than this are trimmed; "0" = keep
    ARGV[4] JSON array of state names; name i is the state key KEYS[6 + i]
    ARGV[5] JSON array of events, each an array:
              [cursorField, seq, topicPartition, offset, timestamp, op, stateIndex…, arg…,
               sum…]
            op names a registered mutation; one stateIndex (1-based into ARGV[4]) per key of
            the mutation, then its args, then per key what an applied event adds to that key's
            running sum (decimal text, or false); timestamp is the record's (ms, decimal text).
    ARGV[6] JSON object "<topic>-<partition>" -> the lowest checkpoint KEYS[3] must hold (the
            partition ledger's record of what was written here); "{}" or absent for none
            (a repair, which fills in what was lost)
    ARGV[7] JSON array, one element per state name: [count, sum], the number of the chunk's
            events that touch that state, and the sum of their sums of that state as exact
            decimal text when all of them are integers, else false (includes/runningTotals.lua)
    ARGV[8] JSON object "<topic>-<partition>" -> the highest offset of the chunk's events on
            it

  Output:
    a string with one letter per event, in order:
      A APPLIED  L APPLIED_LATE  G GAP_OPENED  D DUPLICATE  R REFUSED
      B REJECTED_BELOW_FIRST_SEQ  W REJECTED_WRONG_TYPE  M REJECTED_MUTATION_FAILED
    then, when some event was REFUSED, a newline and their reasons in order, one a line
    or the error "SEQGUARD_LAYOUT <key> holds a <type>" (nothing written) when a bookkeeping
    key has the wrong type, or "SEQGUARD_BEHIND <topic>-<partition> <held|-> <expected>"
    (nothing written) when the shard holds a lower checkpoint than ARGV[6] expects: this node
    lost writes (includes/checkNotBehind.lua), or "SEQGUARD_NEWER_LAYOUT …" (nothing written)
    when the shard's stamp says a newer version wrote it (includes/checkLayoutVersion.lua).
]]

-- A global costs a table lookup at each use; the hot path's is a local.
local tonumber = tonumber
local APPLIED, APPLIED_LATE, GAP_OPENED, REFUSED, DUPLICATE = 1, 2, 3, 4, 0
local REJECTED_BELOW_FIRST_SEQ = -1
-- The reply's letter of each status.
local STATUS_LETTERS = { [1] = 'A', [2] = 'L', [3] = 'G', [4] = 'R', [0] = 'D', [-1] = 'B',
  [-2] = 'W', [-3] = 'M' }
local REJECTED_LETTERS = { B = true, W = true, M = true }

--- @include "includes/seqArithmetic"
--- @include "includes/layout"
--- @include "includes/gapLedger"
--- @include "includes/mutationRejection"
--- @include "includes/int64Text"
--- @include "includes/runningTotals"
--- @include "includes/trimStream"
--- @include "includes/checkLayout"
--- @include "includes/checkNotBehind"
--- @include "includes/checkLayoutVersion"

local cursorsKey, gapsKey, offsetsKey, streamKey, metaKey, versionsKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local firstSeq = ARGV[1]
local streamMaxLen = ARGV[2]
local streamMaxAgeMs = tonumber(ARGV[3])
local names = cjson.decode(ARGV[4])
local events = cjson.decode(ARGV[5])
local eventCount = #events

checkLayout({ [cursorsKey] = 'hash', [gapsKey] = 'zset', [offsetsKey] = 'hash',
  [streamKey] = 'stream', [metaKey] = 'hash', [versionsKey] = 'hash' })
local stampRaise = checkLayoutVersion(metaKey, true)
if ARGV[6] and ARGV[6] ~= '{}' then
  checkNotBehind(offsetsKey, cjson.decode(ARGV[6]))
end
startTotals(names, cjson.decode(ARGV[7]), eventCount)

--- @mutations

-- What a mutation sees of the chunk: the Redis key of each state index, the state name of each
-- key, and the versions hash.
local ctx = { keys = {}, nameOf = {}, versions = versionsKey }
for i = 1, #names do
  ctx.keys[i] = KEYS[6 + i]
  ctx.nameOf[KEYS[6 + i]] = names[i]
end

-- Cursors are read once and written back once per chunk. A cursor below 10^15 is also kept as
-- a Lua number (exact), so that the common question, "is seq the cursor + 1?", is one
-- subtraction (seqCompareNext without the calls).
local cursors, cursorsRead, cursorNumbers, byOffset = {}, {}, {}, {}
local appliedCount = 0
-- Topic-partitions with a rejected event, whose checkpoint is not simply the chunk's highest.
local rejectedIn = {}

-- HSET of field-value pairs (a flat list), a bounded number per call.
local function hsetPairs(key, flat)
  for first = 1, #flat, 1000 do
    redis.call('HSET', key, unpack(flat, first, math.min(first + 999, #flat)))
  end
end

-- The hot path, kept inline: a Lua function call costs as much as the work done here.
local statuses, reasons = {}, {}
for i = 1, eventCount do
  local e = events[i]
  local field, seq = e[1], e[2]
  local cursor = cursors[field]
  if cursor == nil then
    cursor = redis.call('HGET', cursorsKey, field) or false
    cursors[field], cursorsRead[field] = cursor, cursor
    cursorNumbers[field] = cursor and #cursor < 16 and tonumber(cursor)
    byOffset[field] = string.byte(field, 1) == 111 -- 'o'
  end
  local status, seqNumber, gapFirst, gapHit, gapFirstPadded, gapLastPadded, prefix

  if byOffset[field] then
    status = (cursor and seqCompare(seq, cursor) <= 0) and DUPLICATE or APPLIED
  else
    local cursorNumber = cursorNumbers[field]
    seqNumber = #seq < 16 and tonumber(seq)
    if cursorNumber and seqNumber == cursorNumber + 1 then
      status = APPLIED
    else
      local order
      if cursorNumber and seqNumber then
        order = seqNumber - cursorNumber - 1
      elseif cursor then
        order = seqCompareNext(seq, cursor)
      else
        order = seqCompare(seq, firstSeq)
      end
      if order == 0 then
        status = APPLIED
      elseif order > 0 then
        status, gapFirst = GAP_OPENED, cursor and seqIncrement(cursor) or firstSeq
      elseif not cursor then
        status = REJECTED_BELOW_FIRST_SEQ
      else
        prefix = gapPrefix(field)
        gapHit, gapFirstPadded, gapLastPadded = gapFind(gapsKey, prefix, seq)
        status = gapHit and APPLIED_LATE or DUPLICATE
      end
    end
  end

  local mutation = MUTATIONS[e[6]]
  if status > 0 then
    local refused = mutation.refuse and mutation.refuse(ctx, e)
    local rejected = not refused and mutation.apply(ctx, e)
    if rejected then
      status = rejected
    else
      local late = ''
      if status == APPLIED_LATE then
        gapFill(gapsKey, prefix, gapHit, gapFirstPadded, gapLastPadded, seq)
        late = '1'
      else
        if status == GAP_OPENED then
          gapOpen(gapsKey, gapPrefix(field), gapFirst, seqDecrement(seq))
        end
        cursors[field], cursorNumbers[field] = seq, seqNumber
      end
      if refused then
        status = REFUSED
        reasons[#reasons + 1] = refused
        totalsNotApplied(e, mutation.keys, mutation.args)
      elseif totalsPerEvent then
        totalsApplied(e, mutation.keys, mutation.args)
      end
      redis.call('XADD', streamKey, '*', STREAM_ENTRY_FIELD,
        mutation.entry(e, names, late, refused or ''))
      appliedCount = appliedCount + 1
    end
  end
  if status <= 0 then
    totalsNotApplied(e, mutation.keys, mutation.args)
    if status < 0 then
      rejectedIn[e[3]] = true
    end
  end
  statuses[i] = STATUS_LETTERS[status]
end

local changed = {}
for field, cursor in pairs(cursors) do
  if cursor ~= cursorsRead[field] then
    changed[#changed + 1] = field
    changed[#changed + 1] = cursor
  end
end
hsetPairs(cursorsKey, changed)

-- Each topic-partition's checkpoint rises to the highest offset of its events that were not
-- rejected: the chunk's highest (ARGV[8]), unless one of them was.
local highest = cjson.decode(ARGV[8])
if next(rejectedIn) then
  for tp in pairs(rejectedIn) do
    highest[tp] = nil
  end
  for i = 1, eventCount do
    local e = events[i]
    local tp, offset = e[3], e[4]
    if rejectedIn[tp] and not REJECTED_LETTERS[statuses[i]]
      and (highest[tp] == nil or seqCompare(offset, highest[tp]) > 0) then
      highest[tp] = offset
    end
  end
end
local partitions, raised = {}, {}
for tp in pairs(highest) do
  partitions[#partitions + 1] = tp
end
if #partitions > 0 then
  local held = redis.call('HMGET', offsetsKey, unpack(partitions))
  for j, tp in ipairs(partitions) do
    if not held[j] or seqCompare(highest[tp], held[j]) > 0 then
      raised[#raised + 1] = tp
      raised[#raised + 1] = highest[tp]
    end
  end
end
hsetPairs(offsetsKey, raised)
-- A chunk that wrote to the shard stamps it; one whose events were all rejected leaves no trace.
if appliedCount > 0 or #raised > 0 then
  hsetPairs(metaKey, stampRaise)
end
flushTotals(metaKey)
if appliedCount > 0 then
  trimStream(streamKey, streamMaxLen, streamMaxAgeMs)
end

if #reasons > 0 then
  return table.concat(statuses) .. '\n' .. table.concat(reasons, '\n')
end
return table.concat(statuses)
