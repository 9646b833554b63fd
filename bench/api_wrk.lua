-- wrk script for bench/api_load.py: the requests a map or Grafana sends (bearer token,
-- gzip accepted), every answer's status counted, and the figures printed as one JSON line.
--
-- wrk itself counts socket errors and statuses above 399 only; `response` counts every
-- status that is not 200 (a 3xx or 1xx would otherwise pass unseen) and every empty body.
-- Defining it makes wrk hand each body to Lua (a copy of ~75 KB per answer): tens of
-- microseconds against the milliseconds of the Python client it replaces.
--
-- Environment: JAYLYM_BENCH_TOKEN (the bearer token).

local token = os.getenv("JAYLYM_BENCH_TOKEN")
if not token or token == "" then
  error("JAYLYM_BENCH_TOKEN is not set")
end
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Accept-Encoding"] = "gzip"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Per thread (each runs its own Lua state): read back in done() with thread:get.
bad_status = {}
bad = 0
empty = 0
gzipped = 0

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    bad_status[status] = (bad_status[status] or 0) + 1
  elseif body == nil or #body == 0 then
    empty = empty + 1
  end
  if headers["Content-Encoding"] == "gzip" or headers["content-encoding"] == "gzip" then
    gzipped = gzipped + 1
  end
end

function done(summary, latency, requests)
  local bad_total, empty_total, gzip_total = 0, 0, 0
  local statuses = {}
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    empty_total = empty_total + thread:get("empty")
    gzip_total = gzip_total + thread:get("gzipped")
    for status, n in pairs(thread:get("bad_status")) do
      statuses[#statuses + 1] = string.format('"%d": %d', status, n)
    end
  end
  local e = summary.errors
  -- Latencies are in microseconds; one line the bench finds by its prefix.
  io.write(string.format(
    'JAYLYM_WRK {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"timeouts": %d, "status_errors": %d, "not_200": %d, "empty": %d, "gzipped": %d, ' ..
    '"not_200_by_status": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.timeout, e.status, bad_total, empty_total,
    gzip_total, table.concat(statuses, ", ")))
end
