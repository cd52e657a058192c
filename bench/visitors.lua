-- wrk script: each request is a new visitor (no cookie, and a desktop browser's user agent made
-- unique with a counter), so the tracking redirect counts and records every one.
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
  return wrk.format("GET", nil, {
    ["User-Agent"] = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) " ..
      "Chrome/120.0 Safari/537.36 v" .. thread_tag .. "." .. counter,
  })
end
