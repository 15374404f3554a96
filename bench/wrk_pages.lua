-- wrk script for bench/bench_workers.py: each wrk thread pages through one TAXII
-- collection by following `next`, starting again at the end, like the benchmark's
-- Python clients.
--
--   wrk -t 4 -c 4 -d 5s -s bench/wrk_pages.lua http://127.0.0.1:PORT -- \
--       COLLECTION_ID API_KEY LIMIT RECONNECT
--
-- Run it with as many connections as threads (-c = -t): a thread's `next` token is then
-- the state of its one connection, and a page is requested only once the one before it
-- has been answered. Every RECONNECT requests a thread asks the server to close its
-- connection ("Connection: close"); wrk connects again, so the kernel spreads the
-- connections over the workers as the Python clients' reconnects do.
--
-- Each thread counts pages answered 200, the objects in them (occurrences of `"id":"`:
-- one a top-level object in the benchmark's generated bundles; bench_workers.py checks
-- that on a page read with a JSON parser before it trusts the count), the responses of
-- any other status (the first one's status and body kept), and the pages per worker
-- (X-Thiqa-Worker). done() prints one line of totals, which bench_workers.py parses:
--
--   thiqa-wrk pages=N objects=N bad=N starts=N duration_us=N workers=PID:N,... first_bad=...
--
-- (starts: requests without `next`, the first page of a pass; pages much above starts
-- show that the threads followed `next`.)

local path, headers
local reconnect = 20
local token = nil
local sent = 0
pages, objects, bad, starts, first_bad = 0, 0, 0, 0, ""
workers = {}

local function escape(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", c:byte()) end))
end

function init(args)
  local collection, key, limit = args[1], args[2], args[3]
  reconnect = tonumber(args[4] or "20")
  path = "/api/collections/" .. collection .. "/objects/?limit=" .. limit
  headers = {["Authorization"] = "Bearer " .. key,
             ["Accept"] = "application/taxii+json;version=2.1"}
end

function request()
  sent = sent + 1
  local h = headers
  if sent % reconnect == 0 then
    h = {["Authorization"] = headers["Authorization"], ["Accept"] = headers["Accept"],
         ["Connection"] = "close"}
  end
  local p = path
  if not token then
    starts = starts + 1
  else
    p = p .. "&next=" .. escape(token)
  end
  return wrk.format("GET", p, h)
end

local MORE = '{"more":true'
local NEXT = '"next":"'
local ID = '"id":"'

function response(status, hdrs, body)
  if status ~= 200 then
    bad = bad + 1
    if first_bad == "" then
      first_bad = status .. " " .. body:sub(1, 200)
    end
    token = nil
    return
  end
  pages = pages + 1
  local pos, n = 1, 0
  while true do
    local at = body:find(ID, pos, true)
    if not at then break end
    n = n + 1
    pos = at + #ID
  end
  objects = objects + n
  local w = hdrs["x-thiqa-worker"] or hdrs["X-Thiqa-Worker"] or "-"
  workers[w] = (workers[w] or 0) + 1
  token = nil
  if body:sub(1, #MORE) == MORE then
    -- thiqa writes the envelope's "more" and "next" before its objects.
    local at = body:find(NEXT, 1, true)
    if at then
      token = body:match('^([^"]+)"', at + #NEXT)
    end
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local p, o, b, s, fb = 0, 0, 0, 0, ""
  local spread = {}
  for _, t in ipairs(threads) do
    p = p + t:get("pages")
    o = o + t:get("objects")
    b = b + t:get("bad")
    s = s + t:get("starts")
    if fb == "" then fb = t:get("first_bad") end
    for w, n in pairs(t:get("workers")) do
      spread[w] = (spread[w] or 0) + n
    end
  end
  local parts = {}
  for w, n in pairs(spread) do
    table.insert(parts, w .. ":" .. n)
  end
  io.write(string.format("thiqa-wrk pages=%d objects=%d bad=%d starts=%d duration_us=%d "
                         .. "workers=%s first_bad=%s\n", p, o, b, s, summary.duration,
                         table.concat(parts, ","), (fb:gsub("%s", " "))))
end
