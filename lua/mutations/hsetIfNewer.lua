--[[
  @mutation hsetIfNewer
  @keys key
  @args field value version
  HSET only if version is above the version that last set this field (the last writer by
  version wins, whatever order the events arrive in). An older or equal version is applied as a
  no-op, not refused. The versions live in the shard's versions hash, ctx.versions, under
  versionField(name, field). Redis refuses the HSET on another type.
]]

local function applyHsetIfNewer(ctx, key, field, value, version)
  local versionKeyField = versionField(ctx.nameOf[key], field)
  local current = redis.call('HGET', ctx.versions, versionKeyField)
  if current and seqCompare(version, current) <= 0 then
    return nil
  end
  local rejected = rejectionOf(redis.pcall('HSET', key, field, value))
  if rejected then
    return rejected
  end
  redis.call('HSET', ctx.versions, versionKeyField, version)
  return nil
end
