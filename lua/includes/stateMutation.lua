--[[
  The state mutations a guarded event may carry: a small fixed vocabulary, chosen by name and
  never built from data. Each returns nil when applied, or a negative rejection code when Redis
  refused the command. Commands go through redis.pcall: a refused single command has no effect,
  so a rejected event leaves no trace and the script goes on with the next one.

  Needs: seqArithmetic.lua, and the REJECTED_* codes of the calling script.
]]

local function rejectionOf(reply)
  if type(reply) == 'table' and reply.err then
    if string.find(reply.err, 'WRONGTYPE', 1, true) then
      return REJECTED_WRONG_TYPE
    end
    return REJECTED_MUTATION_FAILED
  end
  return nil
end

-- ZINCRBY (a leaderboard score) or HINCRBY (an integer counter field) moves by delta.
local function mutateIncrement(command, stateKey, metaKey, name, target, delta)
  local reply
  if command == 'ZINCRBY' then
    reply = redis.pcall('ZINCRBY', stateKey, delta, target)
  else
    reply = redis.pcall('HINCRBY', stateKey, target, delta)
  end
  local rejected = rejectionOf(reply)
  if rejected then
    return rejected
  end
  -- The drift check compares this running sum with the sum of the state. HINCRBYFLOAT keeps a
  -- long double, so a sum of many int64 deltas cannot overflow and fail half way through.
  redis.call('HINCRBYFLOAT', metaKey, 'sum:' .. name, delta)
  return nil
end

-- HSET only if version is above the version that last set this field (last writer by version
-- wins, whatever order the events arrive in). An older version is a no-op, not a rejection.
local function mutateHsetIfNewer(stateKey, versionsKey, name, field, value, version)
  local versionField = string.format('%04d', #name) .. name .. field
  local current = redis.call('HGET', versionsKey, versionField)
  if current and seqCompare(version, current) <= 0 then
    return nil
  end
  local rejected = rejectionOf(redis.pcall('HSET', stateKey, field, value))
  if rejected then
    return rejected
  end
  redis.call('HSET', versionsKey, versionField, version)
  return nil
end
