--[[
  @mutation sadd
  @keys key
  @args member
  Set membership (an inventory, badges): the member is in the set afterwards (SADD). Adding a
  member already there is applied as a no-op. Redis refuses another type.
]]

local function applySadd(ctx, key, member)
  return rejectionOf(redis.pcall('SADD', key, member))
end
