--[[
  @mutation zmax
  @keys key
  @args member score
  A best-score leaderboard: the member's score becomes score only if that is higher than the
  one it has (ZADD GT; a new member is added). A lower score is applied as a no-op. Redis
  refuses another type and a score that is not a number.
]]

local function applyZmax(ctx, key, member, score)
  return rejectionOf(redis.pcall('ZADD', key, 'GT', score, member))
end
