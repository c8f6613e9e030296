--[[
  @mutation srem
  @keys key
  @args member
  Set membership: the member is not in the set afterwards (SREM; the last one out deletes the
  key, as Redis does). Removing a member not there is applied as a no-op. Redis refuses another
  type.
]]

local function applySrem(ctx, key, member)
  return rejectionOf(redis.pcall('SREM', key, member))
end
