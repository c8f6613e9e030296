--[[
  @mutation zmin
  @keys key
  @args member score
  A lowest-score leaderboard (a best lap time): the member's score becomes score only if that is
  lower than the one it has (ZADD LT; a new member is added). A higher score is applied as a
  no-op. Redis refuses another type and a score that is not a number.
]]

local function applyZmin(ctx, key, member, score)
  return rejectionOf(redis.pcall('ZADD', key, 'LT', score, member))
end
