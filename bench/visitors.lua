-- wrk script: each request is a new visitor (its own rk_v cookie) with a desktop browser's user
-- agent, so the tracking redirect counts and records every one.
local counter = 0
local thread_tag = 0

function setup(thread)
  thread:set("tag", math.random(1, 1000000000))
end

function init(args)
  thread_tag = tag or math.random(1, 1000000000)
end

function request()
  counter = counter + 1
  local visitor = string.format("%016x%016x", thread_tag, counter)
  return wrk.format("GET", nil, {
    ["Cookie"] = "rk_v=" .. visitor,
    ["User-Agent"] = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
  })
end
