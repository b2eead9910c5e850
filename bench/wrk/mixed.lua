-- A customer's whole visit, over and over: look at an event, page its seats, hold two of
-- the best available, extend the hold, then buy (two times in three) or let go. Run with as
-- many threads as connections (-t N -c N): each thread then owns one connection and walks
-- its own customers through the steps in order.
-- Usage: wrk -t N -c N -s mixed.lua ... URL -- customers.txt N eventId,eventId,...
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

function init(args)
  local nthreads = tonumber(args[2])
  tokens = {}
  local n = 0
  for line in io.lines(args[1]) do
    if n % nthreads == index - 1 then table.insert(tokens, line) end
    n = n + 1
  end
  events = {}
  for id in string.gmatch(args[3], "[^,]+") do table.insert(events, id) end
  statuses = {}
  visit = index
  step = "browse"
  hold = nil
end

local function customer()
  return { ["Authorization"] = "Bearer " .. tokens[(visit % #tokens) + 1],
           ["Content-Type"] = "application/json" }
end

function request()
  local event = events[(visit % #events) + 1]
  if step == "browse" then
    return wrk.format("GET", "/events/" .. event)
  elseif step == "seats" then
    return wrk.format("GET", "/events/" .. event .. "/seats?limit=50")
  elseif step == "hold" then
    return wrk.format("POST", "/events/" .. event .. "/holds", customer(),
                      '{"quantity":2,"adjacent":false}')
  elseif step == "extend" then
    return wrk.format("POST", "/holds/" .. hold .. "/extend", customer())
  elseif step == "confirm" then
    return wrk.format("POST", "/holds/" .. hold .. "/reservation", customer())
  else
    return wrk.format("DELETE", "/holds/" .. hold, customer())
  end
end

function response(status, headers, body)
  local key = step .. ":" .. status
  statuses[key] = (statuses[key] or 0) + 1
  if step == "browse" then
    step = "seats"
  elseif step == "seats" then
    step = "hold"
  elseif step == "hold" then
    if status == 201 then
      hold = body:match('"id":"([%x%-]+)"')
      step = "extend"
    else
      visit = visit + 1
      step = "browse"
    end
  elseif step == "extend" then
    if visit % 3 == 2 then step = "release" else step = "confirm" end
  else
    visit = visit + 1
    step = "browse"
  end
end

function done(summary, latency, requests)
  report(summary, latency)
end
