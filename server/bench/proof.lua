-- wrk script: GET /events/{id}/proof over the event ids listed in IDS_FILE
-- (set by log.py), in turn.
local paths = {}
for line in io.lines(os.getenv("IDS_FILE")) do
  paths[#paths + 1] = "/events/" .. line .. "/proof"
end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
