-- wrk script for bench/gateway.py --auto-unique (load generator wrk): every request a different body.
-- args: BODIES_FILE, one JSON request body per line. Run with one thread (-t1: one Lua state, so one
-- counter for all connections) for a fixed duration; when the bodies run out the thread stops and says
-- so on stderr, and the bench refuses the run (its rate would count idle time). Prints one JSON line
-- at the end.
local bodies = {}
local sent = 0

init = function(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
end

request = function()
  sent = sent + 1
  if sent >= #bodies then
    io.stderr:write("semdns-wrk: out of unique bodies\n")  -- the bench refuses such a run
    wrk.thread:stop()
  end
  return wrk.format("POST", "/v1/chat/completions", { ["Content-Type"] = "application/json" },
    bodies[math.min(sent, #bodies)])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
