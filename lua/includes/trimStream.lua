--[[
  Trims a shard's stream once per chunk: by length (MAXLEN ~ maxLen; "0" keeps every entry) and
  by age (MINID ~, entries older than maxAgeMs by the server's clock; 0 or nil keeps them). The
  "~" lets Redis drop whole radix-tree nodes only, which costs little.
]]

local function trimStream(streamKey, maxLen, maxAgeMs)
  if maxLen ~= '0' then
    redis.call('XTRIM', streamKey, 'MAXLEN', '~', maxLen)
  end
  if maxAgeMs and maxAgeMs > 0 then
    local now = redis.call('TIME')
    local minMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - maxAgeMs
    if minMs > 0 then
      redis.call('XTRIM', streamKey, 'MINID', '~', string.format('%d', minMs))
    end
  end
end
