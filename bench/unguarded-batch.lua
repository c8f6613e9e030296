--[[
  BENCHMARK ONLY: lua/applyBatch-6.lua with the sequence guard taken out, the ceiling for the
  same writes. Same arguments, and the same registered mutations: the registry puts their bodies
  and their dispatch (MUTATIONS) in at the `--- @mutations` line, as it does in the guard. Per
  event, as the guard does for an event it applies: the mutation's refuse function (if it has
  one), then, unless refused, its apply function; an event Redis refuses leaves no trace, any
  other appends the same stream entry (includes/layout.lua, with the reason of a refused one).
  With ARGV[9] = "totals" it also keeps the running totals as the guard does
  (includes/runningTotals.lua). The stream is trimmed once per chunk, as the guard trims it.
  Nothing else: no cursor, no gap ledger, no checkpoint, no layout check, no status per event.
  Not idempotent (a second pass applies everything again). bench/apply-throughput.ts resolves
  the includes and passes the text through the registry (withMutations).

  KEYS and ARGV as in lua/applyBatch-6.lua (ARGV[1], ARGV[6] and ARGV[8] unused), plus ARGV[9].
  Returns the number of events.
]]

--- @include "includes/seqArithmetic"
--- @include "includes/layout"
--- @include "includes/mutationRejection"
--- @include "includes/int64Text"
--- @include "includes/runningTotals"
--- @include "includes/trimStream"

local streamKey, metaKey, versionsKey = KEYS[4], KEYS[5], KEYS[6]
local streamMaxLen = ARGV[2]
local streamMaxAgeMs = tonumber(ARGV[3])
local names = cjson.decode(ARGV[4])
local events = cjson.decode(ARGV[5])
local eventCount = #events
local totals = ARGV[9] == 'totals'
if totals then
  startTotals(names, cjson.decode(ARGV[7]), eventCount)
end

--- @mutations

-- What a mutation sees of the chunk, built as the guard builds it.
local ctx = { keys = {}, nameOf = {}, versions = versionsKey }
for i = 1, #names do
  ctx.keys[i] = KEYS[6 + i]
  ctx.nameOf[KEYS[6 + i]] = names[i]
end

local written = 0
for i = 1, eventCount do
  local e = events[i]
  local mutation = MUTATIONS[e[6]]
  local keyCount, argCount = mutation.keys, mutation.args
  local refused = mutation.refuse and mutation.refuse(ctx, e)
  local rejected = not refused and mutation.apply(ctx, e)
  if not rejected then
    if totals and totalsPerEvent and not refused then
      totalsApplied(e, keyCount, argCount)
    end
    redis.call('XADD', streamKey, '*', STREAM_ENTRY_FIELD,
      mutation.entry(e, names, '', refused or ''))
    written = written + 1
  end
  if totals and (rejected or refused) then
    totalsNotApplied(e, keyCount, argCount)
  end
end

if totals then
  flushTotals(metaKey)
end
if written > 0 then
  trimStream(streamKey, streamMaxLen, streamMaxAgeMs)
end
return eventCount
