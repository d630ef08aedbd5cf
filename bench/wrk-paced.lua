-- wrk script of npm run bench:api (bench/api.ts): each connection is a client that sends a request picked at
-- random from a file, waits for the answer, then thinks for an exponentially distributed time, so that the
-- connections together approach a Poisson stream of requests at the rate asked for (wrk itself would send
-- back to back). Arguments after `--`: the requests file (one request a line: METHOD<TAB>PATH<TAB>BODY, the
-- body possibly empty) and the mean think time in milliseconds. done() prints the figures as one JSON line.

local requests = {}
local mean_ms = 100

function init(args)
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    if body == "" then body = nil end
    requests[#requests + 1] = wrk.format(method, path, nil, body)
  end
  mean_ms = tonumber(args[2])
  -- Each thread its own sequence (wrk runs one Lua state a thread).
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
  return requests[math.random(#requests)]
end

function delay()
  return -math.log(1 - math.random()) * mean_ms
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"non2xx":%d,"errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write, e.timeout))
end
