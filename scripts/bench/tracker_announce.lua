-- wrk script for scripts/bench-tracker.sh: HTTP announces with a random
-- infohash from the file $HASHES (hex, one a line), a random peer id and
-- port per request, over keep-alive connections.
local hashes = {}

local function pct(hex)
  return (hex:gsub("..", function(b) return "%" .. b end))
end

for line in io.lines(os.getenv("HASHES")) do
  hashes[#hashes + 1] = pct(line)
end

local counter = 0

function setup(thread)
  thread:set("salt", math.random(1, 1000000))
end

function request()
  counter = counter + 1
  local ih = hashes[math.random(1, #hashes)]
  local pid = string.format("-WK0001-%012d", (counter * 7919 + (salt or 0)) % 1000000000000)
  local port = math.random(1024, 65535)
  local path = "/announce?info_hash=" .. ih .. "&peer_id=" .. pid ..
    "&port=" .. port .. "&uploaded=0&downloaded=0&left=" .. (counter % 2) ..
    "&compact=1&numwant=50"
  return wrk.format("GET", path)
end
