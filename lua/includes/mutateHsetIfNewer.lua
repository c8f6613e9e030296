--[[
  hsetIfNewer: HSET only if version is above the version that last set this field (last writer
  by version wins, whatever order the events arrive in). An older or equal version is a no-op,
  not a rejection. The versions live in versionsKey under versionField(name, field). Returns nil,
  or a rejection code when Redis refuses the HSET (another type).
]]

--- @include "includes/seqArithmetic"
--- @include "includes/layout"
--- @include "includes/mutationRejection"

local function mutateHsetIfNewer(stateKey, versionsKey, name, field, value, version)
  local versionKeyField = versionField(name, field)
  local current = redis.call('HGET', versionsKey, versionKeyField)
  if current and seqCompare(version, current) <= 0 then
    return nil
  end
  local rejected = rejectionOf(redis.pcall('HSET', stateKey, field, value))
  if rejected then
    return rejected
  end
  redis.call('HSET', versionsKey, versionKeyField, version)
  return nil
end
