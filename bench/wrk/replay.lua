-- Sends the requests of a file, one line each: METHOD \t PATH \t TOKEN \t BODY (TOKEN and
-- BODY may be empty), each taking gzip as browsers and HTTP libraries do. Each thread takes every n-th line, so no two threads send the same
-- request; a thread that runs out starts its lines again (and counts it). Prints one JSON
-- line of results. Usage: wrk -t T -s replay.lua ... URL -- requests.tsv T
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

function init(args)
  local nthreads = tonumber(args[2])
  lines = {}
  statuses = {}
  wrapped = 0
  local n = 0
  for line in io.lines(args[1]) do
    if n % nthreads == index - 1 then
      local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = { ["Content-Type"] = "application/json", ["Accept-Encoding"] = "gzip" }
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
  report(summary, latency)
end
