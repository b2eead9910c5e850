-- Shared by the wrk scripts here (loaded with dofile): numbering the threads, and one JSON
-- line of results. Each thread keeps `statuses` (key -> count) and `wrapped` (a number).
threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
  table.insert(threads, thread)
end

function report(summary, latency)
  local counts, laps = {}, 0
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("statuses")) do
      counts[tostring(key)] = (counts[tostring(key)] or 0) + n
    end
    laps = laps + (thread:get("wrapped") or 0)
  end
  local parts = {}
  for key, n in pairs(counts) do table.insert(parts, string.format('"%s":%d', key, n)) end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.3f,"p50":%d,"p99":%d,"p999":%d,"max":%d,' ..
    '"statuses":{%s},"socket_errors":%d,"wrapped":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max, table.concat(parts, ","),
    e.connect + e.read + e.write + e.timeout, laps))
end
