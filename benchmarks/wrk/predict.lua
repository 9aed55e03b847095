-- wrk script for switchyard-server's POST /predict (docs/server.md, "Throughput"):
--   wrk -t2 -c64 -d10s -s benchmarks/wrk/predict.lua http://127.0.0.1:PORT
wrk.method = "POST"
wrk.path = "/predict"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text": "Great product!"}'

-- Counts answers other than 200 (wrk's summary only counts 4xx/5xx as "non-2xx").
local bad = 0
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
