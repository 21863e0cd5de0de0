-- wrk script: POST /records with a new record on every request.
-- Each wrk thread gets its own number, so bodies never repeat across threads;
-- BENCH_PROCESS (set by bench.py, one per wrk when several run at once) keeps
-- them apart across wrk processes too.
-- BENCH_TOKEN: sent as `Authorization: Bearer …`; BENCH_IDEMPOTENCY=1: a new
-- `Idempotency-Key` on every request (SPEC §8).
local next_thread = 0
function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

local n = 0
local run = os.time()
local process = os.getenv("BENCH_PROCESS") or "0"
local token = os.getenv("BENCH_TOKEN")
local keyed = os.getenv("BENCH_IDEMPOTENCY") == "1"
request = function()
  n = n + 1
  local body = string.format(
    '{"project_name":"Bench Project %s-%d","registry":"VCS","vintage":2023,' ..
    '"quantity":"%d.5","serial_number":"B-%d-%s-%d-%d"}', process, tid, n, run, process, tid, n)
  local headers = {["Content-Type"] = "application/json"}
  if token then
    headers["Authorization"] = "Bearer " .. token
  end
  if keyed then
    headers["Idempotency-Key"] = string.format("bench-%d-%s-%d-%d", run, process, tid, n)
  end
  return wrk.format("POST", "/records", headers, body)
end
