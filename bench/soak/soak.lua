-- wrk script for `make soak`: 70% reads, 30% writes, each write with its own Idempotency-Key.
-- The message content is the key, so a 201's body tells which request it answers; keys sent
-- but never answered (cut off when the run ends) are written to SOAK_PENDING for a retry.
-- Globals, not locals: wrk's thread:set/get reach only globals of each thread's Lua state.
threads_list = {}
counter = 0
id = 0
paths = {}
counts = {}
pending = {}

function setup(thread)
  thread:set("id", #threads_list + 1)
  table.insert(threads_list, thread)
end

function init(args)
  for p in string.gmatch(os.getenv("SOAK_PATHS"), "[^,]+") do
    table.insert(paths, p)
  end
  math.randomseed(os.time() * 1000 + id)
  wrk.headers["X-API-Key"] = os.getenv("SOAK_KEY")
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local index = (counter % #paths) + 1
  if counter % 10 < 3 then
    local key = string.format("soak-%d-%d-%d-%d", index, id, counter, math.random(1, 1e9))
    pending[key] = true
    -- wrk.format takes the headers given in place of wrk.headers, not on top of them.
    local headers = { ["Idempotency-Key"] = key }
    for name, value in pairs(wrk.headers) do headers[name] = value end
    return wrk.format("POST", paths[index], headers, '{"content":"' .. key .. '"}')
  end
  return wrk.format("GET", paths[index] .. "?order=desc&limit=20", nil, nil)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if status == 201 then
    local key = string.match(body, '"content":"(soak%-[%d%-]+)"')
    if key then pending[key] = nil end
  end
end

function done(summary, latency, requests)
  local by_class = { ["2xx"] = 0, ["4xx"] = 0, ["5xx"] = 0, ["other"] = 0 }
  local created = 0
  local out = io.open(os.getenv("SOAK_PENDING"), "w")
  for _, thread in ipairs(threads_list) do
    for status, n in pairs(thread:get("counts")) do
      local class = math.floor(status / 100) .. "xx"
      if by_class[class] == nil then class = "other" end
      by_class[class] = by_class[class] + n
      if status == 201 then created = created + n end
    end
    for key, _ in pairs(thread:get("pending")) do out:write(key .. "\n") end
  end
  out:close()
  local e = summary.errors
  io.write(string.format("SOAK requests=%d 2xx=%d 4xx=%d 5xx=%d other=%d created_201=%d\n",
    summary.requests, by_class["2xx"], by_class["4xx"], by_class["5xx"], by_class["other"], created))
  io.write(string.format("SOAK socket_errors connect=%d read=%d write=%d timeout=%d\n",
    e.connect, e.read, e.write, e.timeout))
  io.write(string.format("SOAK p50_ms=%.2f p99_ms=%.2f rps=%.1f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6)))
end
