--[[
  @mutation debit
  @keys key
  @args field amount floor
  @refuses insufficient
  Takes amount from a counter (a hash field) unless the result would fall below floor: a payout
  that must not overdraw. Refused "insufficient" otherwise, and nothing changes. A field that
  cannot be judged (another type, not an integer) is not refused: HINCRBY then says why Redis
  refuses it.
]]

local function refuseDebit(ctx, key, field, amount, floor)
  local current = redis.pcall('HGET', key, field)
  if type(current) == 'table' then
    return nil
  end
  current = current or '0'
  if int64Valid(current) and int64CompareDifference(current, amount, floor) < 0 then
    return 'insufficient'
  end
  return nil
end

local function applyDebit(ctx, key, field, amount, floor)
  return rejectionOf(redis.pcall('HINCRBY', key, field, int64Negate(amount)))
end
