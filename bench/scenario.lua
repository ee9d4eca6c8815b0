-- One benchmark scenario for wrk, driven by bench/bench.py.
--
--   wrk ... -s bench/scenario.lua URL -- METHOD PATH API_KEY MODE [BODY] [KEY]
--
-- MODE is one of:
--   none    no Idempotency-Key header
--   unique  a fresh Idempotency-Key on every request: KEY is a prefix unique to this run,
--           followed by the wrk thread number and a per-thread counter
--   fixed   the same Idempotency-Key (KEY) on every request: the replay path
-- BODY ("-" for none) is sent as application/json.
--
-- done() prints one line "BENCH_RESULT {json}" that bench.py parses.

local counter = 0
local thread_no = 0
local method, path, api_key, mode, body, key
local static_request

local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   method, path, api_key, mode = args[1], args[2], args[3], args[4]
   body = args[5]
   key = args[6]
   if body == "-" then body = nil end
   thread_no = tonumber(wrk.thread:get("tid")) or 0
   if mode ~= "unique" then
      static_request = wrk.format(method, path, headers_with(key), body)
   end
end

function headers_with(idempotency_key)
   local headers = { ["X-API-Key"] = api_key }
   if body then headers["Content-Type"] = "application/json" end
   if idempotency_key and mode ~= "none" then headers["Idempotency-Key"] = idempotency_key end
   return headers
end

function request()
   if static_request then return static_request end
   counter = counter + 1
   return wrk.format(method, path, headers_with(key .. thread_no .. "-" .. counter), body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
      '"p99_us": %d, "mean_us": %.1f, "max_us": %d, "errors_connect": %d, "errors_read": %d, ' ..
      '"errors_write": %d, "errors_status": %d, "errors_timeout": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.mean, latency.max, e.connect, e.read, e.write, e.status,
      e.timeout))
end
