--[[
  Exact signed int64 arithmetic on decimal text, for the mutations that bound a counter (a
  floor, an overflow check) before they write. A Lua number holds integers exactly only up to
  2^53, so each value is split into (hi, lo) with value = hi * 1e9 + lo and 0 <= lo < 1e9: both
  parts stay far below 2^53, and so do their differences.

  Texts are canonical, as HINCRBY writes and reads them: "0", or an optional "-" then digits
  without leading zeros, from -9223372036854775808 to 9223372036854775807.
]]

local INT64_MAX_TEXT, INT64_MIN_TEXT = '9223372036854775807', '-9223372036854775808'

-- Whether text is an int64 as HINCRBY accepts it in a hash field.
local function int64Valid(text)
  if text == '0' then
    return true
  end
  local negative = string.byte(text, 1) == 45 -- '-'
  local digits = negative and string.sub(text, 2) or text
  if not string.find(digits, '^[1-9]%d*$') or #digits > 19 then
    return false
  end
  return #digits < 19 or digits <= (negative and '9223372036854775808' or INT64_MAX_TEXT)
end

-- (hi, lo) of a canonical int64 text.
local function int64Parts(text)
  local negative = string.byte(text, 1) == 45
  local digits = negative and string.sub(text, 2) or text
  local n = #digits
  local hi = n > 9 and tonumber(string.sub(digits, 1, n - 9)) or 0
  local lo = tonumber(string.sub(digits, n > 9 and n - 8 or 1))
  if not negative then
    return hi, lo
  end
  if lo > 0 then
    return -hi - 1, 1e9 - lo
  end
  return -hi, 0
end

-- (hi, lo) of a - b, with 0 <= lo < 1e9 (int64 texts; a - b may leave int64).
local function int64PartsOfDifference(a, b)
  local ah, al = int64Parts(a)
  local bh, bl = int64Parts(b)
  local h, l = ah - bh, al - bl
  if l < 0 then
    h, l = h - 1, l + 1e9
  end
  return h, l
end

-- -1, 0 or 1 as a - b is below, equal to or above c (all int64 texts; a - b may leave int64).
local function int64CompareDifference(a, b, c)
  local h, l = int64PartsOfDifference(a, b)
  local ch, cl = int64Parts(c)
  if h ~= ch then
    return h < ch and -1 or 1
  end
  if l ~= cl then
    return l < cl and -1 or 1
  end
  return 0
end

-- The canonical text of a - b, for int64 texts (leading zeros and "-0" read too) whose
-- difference is an int64.
local function int64Difference(a, b)
  local h, l = int64PartsOfDifference(a, b)
  local sign = ''
  if h < 0 then -- the value is h * 1e9 + l; its size is (-h - 1) * 1e9 + (1e9 - l), or -h * 1e9
    sign = '-'
    if l > 0 then
      h, l = -h - 1, 1e9 - l
    else
      h = -h
    end
  end
  if h == 0 then
    return l == 0 and '0' or sign .. string.format('%d', l)
  end
  return sign .. string.format('%d', h) .. string.format('%09d', l)
end

-- The text of -a, for a non-negative a ("0" stays "0": HINCRBY refuses "-0").
local function int64Negate(a)
  if a == '0' then
    return '0'
  end
  return '-' .. a
end

-- Whether taking amount from the integer counter `field` of the hash `key` would leave it below
-- floor (a missing field counts as 0). False also when the counter cannot be judged (another
-- type, not an integer): the write that follows then reports why Redis refuses it.
local function counterFallsBelow(key, field, amount, floor)
  local current = redis.pcall('HGET', key, field)
  if type(current) == 'table' then
    return false
  end
  current = current or '0'
  return int64Valid(current) and int64CompareDifference(current, amount, floor) < 0
end
