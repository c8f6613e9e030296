--[[
  The state mutations a guarded event may carry: a small fixed vocabulary, chosen by name and
  never built from data. Each returns nil when applied, or a negative rejection code when Redis
  refused the command. Commands go through redis.pcall: a refused single command has no effect,
  so a rejected event leaves no trace and the script goes on with the next one.

  The caller adds applied increments to the running totals (runningTotals.lua).

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

-- ZINCRBY (a leaderboard score) moves by delta.
local function mutateZincrby(stateKey, member, delta)
  return rejectionOf(redis.pcall('ZINCRBY', stateKey, delta, member))
end

-- HINCRBY (an integer counter field) moves by delta.
local function mutateHincrby(stateKey, field, delta)
  return rejectionOf(redis.pcall('HINCRBY', stateKey, field, delta))
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
