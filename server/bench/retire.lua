-- wrk script: POST /records/{id}/retire with the body BODY (set by
-- partial.py) over the ids listed in IDS_FILE, each id once: thread k of n
-- takes the ids k, k + n, k + 2n, … (wrk gives each thread its own state).
local threads = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end

local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do
  ids[#ids + 1] = "/records/" .. line .. "/retire"
end
local body = os.getenv("BODY")
local stride = tonumber(os.getenv("THREADS"))
local i = nil
request = function()
  if i == nil then i = offset end
  i = i + stride
  return wrk.format("POST", ids[(i - 1) % #ids + 1], {["Content-Type"] = "application/json"}, body)
end
