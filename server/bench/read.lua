-- wrk script: GET /records/{id} over the ids listed in the file IDS_FILE
-- (set by bench.py), in turn.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do
  ids[#ids + 1] = "/records/" .. line
end
local i = 0
request = function()
  i = i % #ids + 1
  return wrk.format("GET", ids[i])
end
