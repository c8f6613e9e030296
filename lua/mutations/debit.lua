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
  return counterFallsBelow(key, field, amount, floor) and 'insufficient' or nil
end

local function applyDebit(ctx, key, field, amount, floor)
  return rejectionOf(redis.pcall('HINCRBY', key, field, int64Negate(amount)))
end
