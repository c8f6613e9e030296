--[[
  @mutation transfer
  @keys key toKey
  @args from to amount floor
  @refuses insufficient
  Moves amount from the counter `from` of key to the counter `to` of toKey (the same key, or
  another of the shard), both or neither. Refused "insufficient" when `from` would fall below
  floor. Both sides are checked before either is written: another type, a value that is not an
  integer, or a result beyond int64 on either side rejects the event and changes nothing.
]]

local function refuseTransfer(ctx, key, toKey, from, to, amount, floor)
  return counterFallsBelow(key, from, amount, floor) and 'insufficient' or nil
end

local function applyTransfer(ctx, key, toKey, from, to, amount, floor)
  local source = redis.pcall('HGET', key, from)
  local target = redis.pcall('HGET', toKey, to)
  if type(source) == 'table' or type(target) == 'table' then
    return REJECTED_WRONG_TYPE
  end
  source, target = source or '0', target or '0'
  if not int64Valid(source) or not int64Valid(target)
    or int64CompareDifference(source, amount, INT64_MIN_TEXT) < 0
    or int64CompareDifference(INT64_MAX_TEXT, amount, target) < 0 then
    return REJECTED_MUTATION_FAILED
  end
  redis.call('HINCRBY', key, from, int64Negate(amount))
  redis.call('HINCRBY', toKey, to, amount)
  return nil
end
