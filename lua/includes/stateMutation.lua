--[[
  The state mutations a guarded event may carry: a small fixed vocabulary, chosen by name and
  never built from data, one include each. Used by lua/applyBatch-6.lua (the guard) and
  lua/swapRebuilt-5.lua (the tail of a rebuild), so both apply an event the same way.

  mutateState returns nil when applied (a stale hsetIfNewer included), or a negative rejection
  code (includes/mutationRejection.lua) when Redis refused the command or the op is unknown.
]]

--- @include "includes/mutationRejection"
--- @include "includes/mutateZincrby"
--- @include "includes/mutateHincrby"
--- @include "includes/mutateHsetIfNewer"

local function mutateState(op, stateKey, versionsKey, name, target, value, version)
  if op == 'zincrby' then
    return mutateZincrby(stateKey, target, value)
  elseif op == 'hincrby' then
    return mutateHincrby(stateKey, target, value)
  elseif op == 'hsetIfNewer' and version then
    return mutateHsetIfNewer(stateKey, versionsKey, name, target, value, version)
  end
  return REJECTED_MUTATION_FAILED
end
