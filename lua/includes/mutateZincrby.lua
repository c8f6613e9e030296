--[[
  zincrby: a leaderboard score (sorted-set member) moves by delta. Returns nil, or a rejection
  code when Redis refuses it (another type; a delta or result that is not a number).
]]

--- @include "includes/mutationRejection"

local function mutateZincrby(stateKey, member, delta)
  return rejectionOf(redis.pcall('ZINCRBY', stateKey, delta, member))
end
