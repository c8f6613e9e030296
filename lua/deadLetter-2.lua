#!lua
--[[
  Appends records that cannot be applied to the dead-letter stream, each once.

  A redelivered batch brings its malformed records again; the per-topic-partition high-water
  mark keeps them from being appended twice. The caller only sends records below the first
  failed offset of their partition, so every offset under the mark has been dealt with and a
  record skipped here is one that is already in the stream. The comparison is against the mark
  as stored before this call, so the entries of one call may come in any order.
  The stream is never trimmed: nothing in it may be lost. Its depth is watched instead.

  Input:
    KEYS[1] stream   stream  one entry per dead-lettered record
    KEYS[2] offsets  hash    "<topic>-<partition>" -> highest offset dead-lettered
    ARGV[1] JSON array of entries, each an array:
              [topicPartition, offset, reason, key, value, headers, timestamp]
            key and value as the Lambda event carried them (base64, "" when absent),
            headers as JSON, timestamp in ms; offset a canonical decimal string.
    ARGV[2] JSON object "<topic>-<partition>" -> the lowest mark KEYS[2] must hold (what the
            partition ledger recorded as dead-lettered); "{}" or absent for none (a repair)

  Output:
    an array with 1 (appended) or 0 (already there) per entry, or the error
    "SEQGUARD_BEHIND <topic>-<partition> <held|-> <expected>" (nothing written) when this node
    lost dead letters: they must be appended again before the mark moves past them.
]]

--- @include "includes/seqArithmetic"
--- @include "includes/checkLayout"
--- @include "includes/checkNotBehind"

local streamKey, offsetsKey = KEYS[1], KEYS[2]
local entries = cjson.decode(ARGV[1])

checkLayout({ [streamKey] = 'stream', [offsetsKey] = 'hash' })
if ARGV[2] and ARGV[2] ~= '{}' then
  checkNotBehind(offsetsKey, cjson.decode(ARGV[2]))
end

local stored, raised = {}, {}
local statuses = {}
for i, e in ipairs(entries) do
  local topicPartition, offset = e[1], e[2]
  if stored[topicPartition] == nil then
    stored[topicPartition] = redis.call('HGET', offsetsKey, topicPartition) or false
  end
  local mark = stored[topicPartition]
  if mark and seqCompare(offset, mark) <= 0 then
    statuses[i] = 0
  else
    redis.call('XADD', streamKey, '*', 'tp', topicPartition, 'offset', offset, 'reason', e[3],
      'key', e[4], 'value', e[5], 'headers', e[6], 'ts', e[7])
    local high = raised[topicPartition]
    if not high or seqCompare(offset, high) > 0 then
      raised[topicPartition] = offset
    end
    statuses[i] = 1
  end
end

for topicPartition, offset in pairs(raised) do
  redis.call('HSET', offsetsKey, topicPartition, offset)
end

return statuses
