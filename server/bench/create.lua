-- wrk script: POST /records with a new record on every request.
-- Each wrk thread gets its own number, so bodies never repeat across threads.
local next_thread = 0
function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

local n = 0
local run = os.time()
request = function()
  n = n + 1
  local body = string.format(
    '{"project_name":"Bench Project %d","registry":"VCS","vintage":2023,' ..
    '"quantity":"%d.5","serial_number":"B-%d-%d-%d"}', tid, n, run, tid, n)
  return wrk.format("POST", "/records", {["Content-Type"] = "application/json"}, body)
end
