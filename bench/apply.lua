-- wrk script: posts the public application form with a new email each time.
-- Each wrk thread has its own Lua state, so the thread id keeps emails distinct across threads.
local counter = 0
local thread_tag = ""

function setup(thread)
  thread:set("tag", tostring(math.random(1, 1000000000)))
end

function init(args)
  thread_tag = tag or tostring(math.random(1, 1000000000))
end

function request()
  counter = counter + 1
  local body = "name=Ana+van+der+Berg&email=bench-" .. thread_tag .. "-" .. counter ..
    "%40example.com&website=%40ana&message=hi&accept_terms=on"
  return wrk.format("POST", nil, { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end
