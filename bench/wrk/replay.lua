-- Sends the requests of a file, one line each: METHOD \t PATH \t TOKEN \t BODY (TOKEN and
-- BODY may be empty). Each thread takes every n-th line, so no two threads send the same
-- request; a thread that runs out starts its lines again (and counts it). Prints one JSON
-- line of results. Usage: wrk -t T -s replay.lua ... URL -- requests.tsv T
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  lines = {}
  statuses = {}
  wrapped = 0
  local n = 0
  for line in io.lines(args[1]) do
    if n % nthreads == index - 1 then
      local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = { ["Content-Type"] = "application/json" }
      if token ~= "" then headers["Authorization"] = "Bearer " .. token end
      if body == "" then body = nil end
      table.insert(lines, wrk.format(method, path, headers, body))
    end
    n = n + 1
  end
  at = 0
end

function request()
  at = at + 1
  if at > #lines then
    at = 1
    wrapped = wrapped + 1
  end
  return lines[at]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts, laps = {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[tostring(status)] = (counts[tostring(status)] or 0) + n
    end
    laps = laps + thread:get("wrapped")
  end
  local parts = {}
  for status, n in pairs(counts) do table.insert(parts, string.format('"%s":%d', status, n)) end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.3f,"p50":%d,"p99":%d,"p999":%d,"max":%d,' ..
    '"statuses":{%s},"socket_errors":%d,"wrapped":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max, table.concat(parts, ","),
    e.connect + e.read + e.write + e.timeout, laps))
end
