-- wrk hook: one machine-readable line per run (latency in microseconds).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d mean_us=%.2f p50_us=%.2f p99_us=%.2f\n",
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status,
    latency.mean, latency:percentile(50), latency:percentile(99)))
end
