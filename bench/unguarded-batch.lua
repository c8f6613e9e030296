--[[
  BENCHMARK ONLY: lua/applyBatch-6.lua with the sequence guard taken out, the ceiling for the
  same writes. Same arguments; per event it mutates the state and appends to the stream, and
  with ARGV[6] = "totals" keeps the running totals as the guard does (lua/includes/
  runningTotals.lua, prepended by bench/apply-throughput.ts); the stream is trimmed once per
  chunk. Nothing else: no cursor, no gap ledger, no checkpoint, no layout check. Not
  idempotent (a second pass applies everything again).

  KEYS and ARGV as in lua/applyBatch-6.lua, plus ARGV[6]. Returns the number of events.
]]

local metaKey, streamKey = KEYS[5], KEYS[4]
local names = cjson.decode(ARGV[4])
local events = cjson.decode(ARGV[5])
local totals = ARGV[6] == 'totals'

for _, e in ipairs(events) do
  local stateKey, name = KEYS[6 + e[6]], names[e[6]]
  if e[5] == 'zincrby' then
    redis.call('ZINCRBY', stateKey, e[8], e[7])
  else
    redis.call('HINCRBY', stateKey, e[7], e[8])
  end
  if totals then
    addToTotals(metaKey, name, e[8])
  end
  redis.call('XADD', streamKey, '*', 'scope', e[1], 'seq', e[2], 'tp', e[3], 'offset', e[4],
    'op', e[5], 'key', name, 'target', e[7], 'value', e[8], 'ts', e[10])
end
if totals then
  flushTotals(metaKey)
end
redis.call('XTRIM', streamKey, 'MAXLEN', '~', ARGV[2])
return #events
