--[[
  @mutation hincrby
  @keys key
  @args field delta
  An integer counter (a hash field) moves by delta: HINCRBY. Redis refuses another type, a
  stored value that is not an integer, and a result beyond int64.
]]

local function applyHincrby(ctx, key, field, delta)
  return rejectionOf(redis.pcall('HINCRBY', key, field, delta))
end
