--[[
  Fails the script before its first write when a bookkeeping key holds another type than the
  one the script keeps there: a write that failed half way through would leave the chunk
  partly applied. Missing keys are fine.
]]

local function checkLayout(expectedTypes)
  for key, expected in pairs(expectedTypes) do
    local actual = redis.call('TYPE', key)['ok']
    if actual ~= 'none' and actual ~= expected then
      return error({ err = 'SEQGUARD_LAYOUT ' .. key .. ' holds a ' .. actual })
    end
  end
end
