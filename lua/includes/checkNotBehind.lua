--[[
  Fails the script before its first write when a checkpoint hash holds less than the partition
  ledger says was written to it: Redis lost writes on this node (a restart, a failover that
  dropped acknowledged writes, a restore) while the ledger, on another node, kept them. Going on
  would move cursors past records that must be applied again first.

  expected: a table topicPartition -> the lowest checkpoint this key must hold (decimal text).
]]

--- @include "includes/seqArithmetic"

local function checkNotBehind(checkpointsKey, expected)
  for topicPartition, lowest in pairs(expected) do
    local held = redis.call('HGET', checkpointsKey, topicPartition)
    if not held or seqCompare(held, lowest) < 0 then
      return error({ err = 'SEQGUARD_BEHIND ' .. topicPartition .. ' ' .. (held or '-') .. ' ' .. lowest })
    end
  end
end
