--[[
  Exact int64 arithmetic on decimal strings.

  Kafka offsets and producer sequences are int64, but a Lua number is a double that holds
  integers exactly only up to 2^53. Every seq and offset therefore travels as a canonical
  decimal string (digits only, no sign, no leading zeros; "0" is zero) and is compared and
  stepped here as a string, never through tonumber().
]]

-- -1, 0 or 1 as a is below, equal to or above b.
local function seqCompare(a, b)
  if #a ~= #b then
    return #a < #b and -1 or 1
  end
  if a == b then
    return 0
  end
  return a < b and -1 or 1
end

-- a + 1
local function seqIncrement(a)
  local i = #a
  while i > 0 and string.byte(a, i) == 57 do -- '9' carries
    i = i - 1
  end
  if i == 0 then
    return '1' .. string.rep('0', #a)
  end
  return string.sub(a, 1, i - 1) .. string.char(string.byte(a, i) + 1) .. string.rep('0', #a - i)
end

-- a - 1, for a >= 1
local function seqDecrement(a)
  local i = #a
  while string.byte(a, i) == 48 do -- '0' borrows
    i = i - 1
  end
  local r = string.sub(a, 1, i - 1) .. string.char(string.byte(a, i) - 1) .. string.rep('9', #a - i)
  if #r > 1 and string.byte(r, 1) == 48 then
    r = string.sub(r, 2)
  end
  return r
end

-- Fixed width, so that byte order equals numeric order (2^63 has 19 digits).
local function seqPad(a)
  return string.rep('0', 20 - #a) .. a
end

local function seqUnpad(p)
  local s = string.gsub(p, '^0+', '')
  if s == '' then
    return '0'
  end
  return s
end

-- seqCompare(a, b + 1) without building b + 1: the guard's question for every event. Below
-- 10^15 both are exact as Lua numbers, so the common case is one subtraction.
local function seqCompareNext(a, b)
  if #a < 16 and #b < 16 then
    local d = tonumber(a) - tonumber(b) - 1
    return d < 0 and -1 or (d > 0 and 1 or 0)
  end
  return seqCompare(a, seqIncrement(b))
end
