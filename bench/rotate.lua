-- wrk script: POST request bodies rotated from a file (one JSON body per line), every response
-- checked, and a JSON summary on one line at the end.
--
--   wrk ... -s bench/rotate.lua URL -- BODIES MUST_CONTAIN [MUST_NOT_CONTAIN] [BEARER_TOKEN]
--
-- A response counts as bad unless its status is 200, its body contains MUST_CONTAIN and (when
-- given, "-" for none) does not contain MUST_NOT_CONTAIN. Each wrk thread starts at its own
-- offset in the bodies, so threads do not walk the same items in step.

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(args[1]) do
    if #line > 0 then
      bodies[#bodies + 1] = line
    end
  end
  must_contain = args[2]
  must_not_contain = args[3]
  if must_not_contain == "-" then
    must_not_contain = nil
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if args[4] and args[4] ~= "-" then
    wrk.headers["Authorization"] = "Bearer " .. args[4]
  end
  counter = (thread_number or 0) * 7919 % #bodies
  responses = 0
  bad = 0
  first_bad = ""
end

function request()
  counter = counter % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[counter])
end

function response(status, headers, body)
  responses = responses + 1
  local ok = status == 200 and string.find(body, must_contain, 1, true) ~= nil
  if ok and must_not_contain then
    ok = string.find(body, must_not_contain, 1, true) == nil
  end
  if not ok then
    bad = bad + 1
    if first_bad == "" then
      first_bad = tostring(status) .. " " .. string.sub(body, 1, 300)
    end
  end
end

local function json_string(text)
  return '"' .. string.gsub(text, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

function done(summary, latency, requests)
  local checked, bad_total, example = 0, 0, ""
  for _, thread in ipairs(threads) do
    checked = checked + (thread:get("responses") or 0)
    bad_total = bad_total + (thread:get("bad") or 0)
    if example == "" then
      example = thread:get("first_bad") or ""
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_SUMMARY {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"max_us":%d,"mean_us":%.1f,"connect_errors":%d,"read_errors":%d,"write_errors":%d,'
      .. '"status_errors":%d,"timeouts":%d,"checked":%d,"bad":%d,"first_bad":%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status,
    e.timeout, checked, bad_total, json_string(example)
  ))
end
