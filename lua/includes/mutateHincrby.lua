--[[
  hincrby: an integer counter (hash field) moves by delta. Returns nil, or a rejection code when
  Redis refuses it (another type; a stored value that is not an integer; int64 overflow).
]]

--- @include "includes/mutationRejection"

local function mutateHincrby(stateKey, field, delta)
  return rejectionOf(redis.pcall('HINCRBY', stateKey, field, delta))
end
