--[[
  The data layout inside a shard's keys, in one place: how the guard encodes its stream entries,
  meta fields, version fields and gap members. core/layout/codecs.ts reads and writes
  the same formats (keep the two in step).

  Stream entry, format 2: one field, STREAM_ENTRY_FIELD, whose value is
    <scope bytes>,<key bytes>,<target bytes>,<seq>,<tp>,<offset>,<ts>,<op>,<version>,<late>:
    <scope><key><target><value>
  (lengths in bytes; the value takes the rest; version empty unless op is hsetIfNewer; late "1"
  or empty; tp needs no length, Kafka topic names hold only [a-zA-Z0-9._-]). Format 1, written
  before, has the fields scope seq tp offset op key target value ts [version] [late]: readers
  take both.
  Meta hash: META_APPLIED (events applied to the shard), n:<name> (to a state), sum:<name>.
  Versions hash: versionField(name, target).
  Gap ledger member: gapPrefix(cursorField) .. first .. last, each seq padded to 20 digits.
]]

local STREAM_ENTRY_FIELD = 'v2'
local META_APPLIED = 'applied'

-- "<byte length>," of a text, kept for the texts that repeat within a chunk (scopes, names).
local lengthPrefixes = {}
local function lengthPrefix(text)
  local prefix = lengthPrefixes[text]
  if not prefix then
    prefix = #text .. ','
    lengthPrefixes[text] = prefix
  end
  return prefix
end

-- The value of an applied event's stream entry. version is '' unless op is hsetIfNewer; late is
-- '1' or ''.
local function streamEntryValue(scope, seq, tp, offset, op, key, target, value, ts, version, late)
  return lengthPrefix(scope) .. lengthPrefix(key) .. #target .. ',' .. seq .. ',' .. tp .. ','
    .. offset .. ',' .. ts .. ',' .. op .. ',' .. version .. ',' .. late .. ':' .. scope .. key
    .. target .. value
end

-- The fields of a stream entry (the flat array XRANGE returns) as a table with scope, seq, tp,
-- offset, op, key, target, value, ts, version (nil unless set) and late (boolean), in either
-- format; nil when it is not an entry the guard writes.
local function decodeStreamEntry(flat)
  if flat[1] == STREAM_ENTRY_FIELD and #flat == 2 then
    local text = flat[2]
    local colon = string.find(text, ':', 1, true)
    if not colon then
      return nil
    end
    local scopeBytes, keyBytes, targetBytes, seq, tp, offset, ts, op, version, late =
      string.match(string.sub(text, 1, colon - 1),
        '^(%d+),(%d+),(%d+),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$')
    if not scopeBytes then
      return nil
    end
    local keyStart = colon + 1 + tonumber(scopeBytes)
    local targetStart = keyStart + tonumber(keyBytes)
    local valueStart = targetStart + tonumber(targetBytes)
    if valueStart > #text + 1 then
      return nil
    end
    return {
      scope = string.sub(text, colon + 1, keyStart - 1), seq = seq, tp = tp, offset = offset,
      ts = ts, op = op, version = version ~= '' and version or nil, late = late == '1',
      key = string.sub(text, keyStart, targetStart - 1),
      target = string.sub(text, targetStart, valueStart - 1), value = string.sub(text, valueStart),
    }
  end
  if flat[1] ~= 'scope' then
    return nil
  end
  local entry = {}
  for i = 1, #flat, 2 do
    entry[flat[i]] = flat[i + 1]
  end
  entry.late = entry.late == '1'
  return entry
end

local function metaCountField(name)
  return 'n:' .. name
end

local function metaSumField(name)
  return 'sum:' .. name
end

-- The versions hash field of (state name, target): the name's byte length keeps pairs apart.
local function versionField(name, target)
  return string.format('%04d', #name) .. name .. target
end

-- The part of a gap member that names its cursor field: the 4-digit byte length of the field,
-- then the field, so that prefixes of different fields are never prefixes of one another.
local function gapPrefix(cursorField)
  return string.format('%04d', #cursorField) .. cursorField
end

-- A gap member from its prefix and its first and last seqs, padded (seqPad).
local function gapMember(prefix, firstPadded, lastPadded)
  return prefix .. firstPadded .. lastPadded
end
