--[[
  How a state mutation reports that Redis refused it: nil when the command was applied, or a
  negative rejection code. Commands go through redis.pcall: a refused single command has no
  effect, so a rejected event leaves no trace and the script goes on with the next one.
]]

local REJECTED_WRONG_TYPE, REJECTED_MUTATION_FAILED = -2, -3

local function rejectionOf(reply)
  if type(reply) == 'table' and reply.err then
    if string.find(reply.err, 'WRONGTYPE', 1, true) then
      return REJECTED_WRONG_TYPE
    end
    return REJECTED_MUTATION_FAILED
  end
  return nil
end
