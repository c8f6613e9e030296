--[[
  @mutation zincrby
  @keys key
  @args member delta
  A leaderboard score moves by delta: ZINCRBY. Redis refuses another type, and a delta or a
  result that is not a number.
]]

local function applyZincrby(ctx, key, member, delta)
  return rejectionOf(redis.pcall('ZINCRBY', key, delta, member))
end
