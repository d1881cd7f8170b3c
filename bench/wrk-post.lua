-- wrk script for bench/http-load.ts: POSTs PNG files round-robin and reports one machine-readable line.
--   wrk -t1 -c<C> -d<S>s -s bench/wrk-post.lua http://127.0.0.1:<port> -- <dir> <count> <path>
-- <dir> holds 0.png .. <count-1>.png; <path> is the request target, e.g. /v1/classify?model=fashion-mnist.
-- Optional 4th and 5th arguments: the files' extension and a value for Inference-Header-Content-Length (the KServe v2
-- binary tensor extension: <dir>/<k>.bin = JSON header + FP32 bytes, posted to /v2/models/<name>/infer).
local requests_ = {}
local n, i = 0, 0

-- Runs once per wrk thread. Requests are formatted here, not in request(), so the per-request cost on the
-- load generator is a table lookup (its CPU shares the machine's 2 cores with the server).
function init(args)
  local dir, count, path, ext, hlen = args[1], tonumber(args[2]), args[3], args[4] or "png", args[5]
  local headers = { ["Content-Type"] = ext == "png" and "image/png" or "application/octet-stream" }
  if hlen then headers["Inference-Header-Content-Length"] = hlen end
  for k = 0, count - 1 do
    local f = assert(io.open(dir .. "/" .. k .. "." .. ext, "rb"))
    local body = f:read("*a")
    f:close()
    requests_[k + 1] = wrk.format("POST", path, headers, body)
  end
  n = count
end

function request()
  i = i % n + 1
  return requests_[i]
end

-- wrk's own report is meant for people (units vary: "1.23ms", "2.00k"), so the benchmark parses this line
-- instead. Times are microseconds. non2xx is wrk's errors.status, which counts responses with status > 399.
function done(summary, latency, requests)
  local e = summary.errors
  local int = function(x) return math.floor(tonumber(x) or 0) end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    int(summary.requests), int(summary.duration), int(latency:percentile(50)), int(latency:percentile(90)),
    int(latency:percentile(99)), int(latency.max), int(e.status), int(e.connect), int(e.read), int(e.write),
    int(e.timeout)))
end
