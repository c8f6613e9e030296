--[[
  BENCHMARK ONLY: lua/applyBatch-6.lua with the sequence guard taken out, the ceiling for the
  same writes. Same arguments; per event it mutates the state and appends the same stream entry
  (includes/layout.lua), and with ARGV[8] = "totals" keeps the running totals as the guard does
  (includes/runningTotals.lua); the stream is trimmed once per chunk. Nothing else: no cursor,
  no gap ledger, no checkpoint, no layout check, no status per event. Not idempotent (a second
  pass applies everything again). bench/apply-throughput.ts resolves the includes.

  KEYS and ARGV as in lua/applyBatch-6.lua (ARGV[1], ARGV[3] and ARGV[6] unused), plus ARGV[8].
  Returns the number of events.
]]

--- @include "includes/layout"
--- @include "includes/runningTotals"

local metaKey, streamKey = KEYS[5], KEYS[4]
local names = cjson.decode(ARGV[4])
local events = cjson.decode(ARGV[5])
local totals = ARGV[8] == 'totals'
if totals then
  startTotals(names, cjson.decode(ARGV[7]), #events)
end

for _, e in ipairs(events) do
  local stateKey, name = KEYS[6 + e[6]], names[e[6]]
  if e[5] == 'zincrby' then
    redis.call('ZINCRBY', stateKey, e[8], e[7])
  else
    redis.call('HINCRBY', stateKey, e[7], e[8])
  end
  if totals then
    totalsApplied(e[6], e[8])
  end
  redis.call('XADD', streamKey, '*', STREAM_ENTRY_FIELD,
    streamEntryValue(e[1], e[2], e[3], e[4], e[5], name, e[7], e[8], e[10], e[9], ''))
end
if totals then
  flushTotals(metaKey)
end
redis.call('XTRIM', streamKey, 'MAXLEN', '~', ARGV[2])
return #events
