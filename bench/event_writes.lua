-- POST a message to one of several threads, round-robin per wrk thread: for
-- bench/event_positions.py.
--
--   wrk ... -s bench/event_writes.lua URL -- API_KEY PATH[,PATH...]
--
-- done() prints one line "BENCH_RESULT {json}", as bench/scenario.lua does.

local api_key, paths
local next_path = 0
local body = '{"content": "a message for the event log benchmark"}'

function init(args)
   api_key = args[1]
   paths = {}
   for path in string.gmatch(args[2], "[^,]+") do
      table.insert(paths, path)
   end
   next_path = math.random(#paths) - 1
end

function request()
   next_path = next_path % #paths + 1
   return wrk.format("POST", paths[next_path],
      { ["X-API-Key"] = api_key, ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
      '"errors": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.connect + e.read + e.write + e.status + e.timeout))
end
