--[[
  The data layout inside a shard's keys, in one place: how the guard encodes its stream entries,
  meta fields, version fields and gap members. core/layout/codecs.ts reads and writes
  the same formats (keep the two in step).

  Stream entry, format 3: one field, STREAM_ENTRY_FIELD ("v3"), whose value is
    <scope bytes>,<bytes of each key>,<bytes of each arg but the last>,<seq>,<tp>,<offset>,<ts>,
    <op>,<late>,<refused>,<key count>:<scope><keys…><args…>
  (lengths in bytes; the last arg takes the rest, and a mutation has at least one; late "1" or
  empty; refused the refusal's reason, or empty when applied; tp needs no length, Kafka topic
  names hold only [a-zA-Z0-9._-]; op and reasons are words). Keys are the state names the
  mutation touched, args its arguments, as the registry orders them. Each registered mutation
  builds its own entry in one expression (MUTATIONS[op].entry, core/mutations/registry.ts).
  Formats 2 ("v2": <scope bytes>,<key bytes>,<target bytes>,<seq>,<tp>,<offset>,<ts>,<op>,
  <version>,<late>:<scope><key><target><value>) and 1 (fields scope seq tp offset op key target
  value ts [version] [late]), written before, are still read: their key is the one key, their
  args target, value and, for hsetIfNewer, version.
  Meta hash: META_APPLIED (events applied to the shard), n:<name> (to a state), sum:<name>,
  and the shard's stamp: META_LAYOUT and META_STREAM_FORMAT (includes/checkLayoutVersion.lua).
  A partition ledger holds META_LAYOUT too.
  Versions hash: versionField(name, target).
  Gap ledger member: gapPrefix(cursorField) .. first .. last, each seq padded to 20 digits.
]]

local STREAM_ENTRY_FIELD = 'v3'
local META_APPLIED = 'applied'

-- The key layout and the stream entry format this code writes, and the newest of each it reads
-- (docs/versioning.md; core/layout/versions.ts holds the same numbers). A script that meets a
-- stamp newer than it reads refuses, rather than misreading what a newer version wrote.
local LAYOUT_WRITTEN, LAYOUT_READ = 1, 1
local STREAM_FORMAT_WRITTEN, STREAM_FORMAT_READ = 3, 3
local META_LAYOUT, META_STREAM_FORMAT = 'layout', 'streamFormat'

-- "<byte length>," of a text, kept for the texts that repeat within a chunk (scopes, names):
-- turning a number into text is what costs in Lua.
local lengthPrefixes = {}
local function lengthPrefix(text)
  local prefix = lengthPrefixes[text]
  if not prefix then
    prefix = #text .. ','
    lengthPrefixes[text] = prefix
  end
  return prefix
end

-- A format 3 entry's value as a table (see decodeStreamEntry), or nil.
local function decodeFormat3(text)
  local colon = string.find(text, ':', 1, true)
  if not colon then
    return nil
  end
  local parts = {}
  for part in string.gmatch(string.sub(text, 1, colon - 1) .. ',', '([^,]*),') do
    parts[#parts + 1] = part
  end
  local fixed = #parts - 8 -- the lengths come before the eight fixed fields
  local keyCount = tonumber(parts[#parts] or '')
  if fixed < 1 or not keyCount or keyCount > fixed - 1 then
    return nil
  end
  local texts, at = {}, colon + 1
  for j = 1, fixed do
    local length = tonumber(parts[j])
    if not length or at + length > #text + 1 then
      return nil
    end
    texts[#texts + 1] = string.sub(text, at, at + length - 1)
    at = at + length
  end
  texts[#texts + 1] = string.sub(text, at) -- the last arg
  local entry = { seq = parts[fixed + 1], tp = parts[fixed + 2], offset = parts[fixed + 3],
    ts = parts[fixed + 4], op = parts[fixed + 5], late = parts[fixed + 6] == '1',
    refused = parts[fixed + 7] ~= '' and parts[fixed + 7] or nil, scope = texts[1],
    keys = {}, args = {} }
  for j = 1, keyCount do
    entry.keys[j] = texts[1 + j]
  end
  for j = keyCount + 2, #texts do
    entry.args[#entry.args + 1] = texts[j]
  end
  return entry
end

-- A format 2 or 1 entry (one key; args target, value and an hsetIfNewer's version) in the shape
-- of format 3.
local function fromOneKeyEntry(scope, seq, tp, offset, ts, op, key, target, value, version, late)
  local args = { target, value }
  if op == 'hsetIfNewer' then
    args[3] = version -- absent: the entry has too few args, and no reader can apply it
  end
  return { scope = scope, seq = seq, tp = tp, offset = offset, ts = ts, op = op, late = late,
    keys = { key }, args = args }
end

-- The fields of a stream entry (the flat array XRANGE returns) as a table with scope, seq, tp,
-- offset, ts, op, keys, args, late (boolean) and refused (a reason, or nil), in any of the
-- three formats; nil when it is not an entry the guard writes.
local function decodeStreamEntry(flat)
  if #flat == 2 and flat[1] == STREAM_ENTRY_FIELD then
    return decodeFormat3(flat[2])
  end
  if #flat == 2 and flat[1] == 'v2' then
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
    return fromOneKeyEntry(string.sub(text, colon + 1, keyStart - 1), seq, tp, offset, ts, op,
      string.sub(text, keyStart, targetStart - 1), string.sub(text, targetStart, valueStart - 1),
      string.sub(text, valueStart), version ~= '' and version or nil, late == '1')
  end
  if flat[1] ~= 'scope' then
    return nil
  end
  local f = {}
  for i = 1, #flat, 2 do
    f[flat[i]] = flat[i + 1]
  end
  return fromOneKeyEntry(f.scope, f.seq, f.tp, f.offset, f.ts, f.op, f.key, f.target, f.value,
    f.version, f.late == '1')
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
