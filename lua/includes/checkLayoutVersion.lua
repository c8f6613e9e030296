--[[
  The version stamp of a shard (its meta hash) or of a partition ledger: META_LAYOUT, the newest
  key layout written to it, and for a shard META_STREAM_FORMAT, the newest stream entry format
  written to its stream (includes/layout.lua). During a rolling deploy the old code and the new
  run side by side on the same keys; a version that meets a stamp newer than it reads fails the
  script before its first write, so its caller retries the records (the newer version takes
  them) instead of misreading what that version wrote. A stamp that is not a number is treated
  as newer (digits only, as this code writes it): nothing this code wrote.

  checkLayoutVersion(stampKey, withStreamFormat) raises the error
    "SEQGUARD_NEWER_LAYOUT <key> layout <stamp|-> stream format <stamp|-> reads <layout> <format>"
  or returns the fields to write when the script writes: the stamps that are absent or older
  than what this code writes (a stamp is only ever raised), as a flat field/value list.
]]

--- @include "includes/layout"

local function stampIsNewer(stamp, newestRead)
  if not stamp then
    return false
  end
  return not string.find(stamp, '^%d+$') or tonumber(stamp) > newestRead
end

local function stampIsOlder(stamp, written)
  return not stamp or tonumber(stamp) < written
end

local function checkLayoutVersion(stampKey, withStreamFormat)
  local stamp = redis.call('HMGET', stampKey, META_LAYOUT, META_STREAM_FORMAT)
  local layout, format = stamp[1], withStreamFormat and stamp[2] or false
  if stampIsNewer(layout, LAYOUT_READ) or stampIsNewer(format, STREAM_FORMAT_READ) then
    return error({ err = 'SEQGUARD_NEWER_LAYOUT ' .. stampKey .. ' layout ' .. (layout or '-')
      .. ' stream format ' .. (format or '-') .. ' reads ' .. LAYOUT_READ .. ' '
      .. STREAM_FORMAT_READ })
  end
  local raise = {}
  if stampIsOlder(layout, LAYOUT_WRITTEN) then
    raise[#raise + 1] = META_LAYOUT
    raise[#raise + 1] = tostring(LAYOUT_WRITTEN)
  end
  if withStreamFormat and stampIsOlder(format, STREAM_FORMAT_WRITTEN) then
    raise[#raise + 1] = META_STREAM_FORMAT
    raise[#raise + 1] = tostring(STREAM_FORMAT_WRITTEN)
  end
  return raise
end
