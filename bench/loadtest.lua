-- wrk script used by bench/loadtest.py: one request shape per run, one token
-- per thread, and a one-line JSON summary on stdout.
--
-- wrk gives every thread its own Lua state: setup() numbers the threads in
-- the main state, init() builds each thread's request from the environment,
-- response() counts statuses per thread, and done() adds the threads up.
--
-- Environment (set by loadtest.py):
--   LOADTEST_METHOD       GET (default) or POST
--   LOADTEST_TOKENS       comma-separated JWT access tokens; thread i sends token i mod n (none: anonymous)
--   LOADTEST_CODE_PREFIX  POST: purchase codes are <prefix>-<thread>-<n>, unique per run and reseller
--   LOADTEST_DATE         POST: the purchase date, YYYY-MM-DD
--   LOADTEST_VALUE        POST: the purchase value (default 123.45)

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("thread_index", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

function init(args)
   local tokens = {}
   for token in string.gmatch(os.getenv("LOADTEST_TOKENS") or "", "[^,]+") do
      table.insert(tokens, token)
   end
   method = os.getenv("LOADTEST_METHOD") or "GET"
   headers = { ["Accept"] = "application/json" }
   if #tokens > 0 then
      headers["Authorization"] = "Bearer " .. tokens[(thread_index % #tokens) + 1]
   end
   if method == "POST" then
      headers["Content-Type"] = "application/json"
      code_prefix = (os.getenv("LOADTEST_CODE_PREFIX") or "LT") .. "-" .. thread_index .. "-"
      purchase_date = os.getenv("LOADTEST_DATE")
      purchase_value = os.getenv("LOADTEST_VALUE") or "123.45"
   else
      -- The same bytes every time: built once.
      fixed_request = wrk.format(method, nil, headers)
   end
   sent = 0
   non2xx = 0
   statuses = {}
   sample = ""
end

function request()
   if fixed_request then
      return fixed_request
   end
   sent = sent + 1
   local body = string.format(
      '{"code":"%s%d","value":"%s","date":"%s"}', code_prefix, sent, purchase_value, purchase_date
   )
   return wrk.format(method, nil, headers, body)
end

function response(status, response_headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if sample == "" then
         sample = status .. " " .. string.sub(body or "", 1, 300)
      end
   end
end

local function json_string(value)
   value = string.gsub(value, '[%c"\\]', function(char)
      return string.format("\\u%04x", string.byte(char))
   end)
   return '"' .. value .. '"'
end

function done(summary, latency, requests)
   local non2xx_total, counts, first_sample = 0, {}, ""
   for _, thread in ipairs(threads) do
      non2xx_total = non2xx_total + (thread:get("non2xx") or 0)
      for status, count in pairs(thread:get("statuses") or {}) do
         counts[status] = (counts[status] or 0) + count
      end
      if first_sample == "" then
         first_sample = thread:get("sample") or ""
      end
   end
   local status_parts = {}
   for status, count in pairs(counts) do
      table.insert(status_parts, string.format('"%d":%d', status, count))
   end
   local errors = summary.errors
   io.write(string.format(
      'LOADTEST_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},'
         .. '"non2xx":%d,"statuses":{%s},"sample":%s,'
         .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f,"stdev":%.1f}}\n',
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.timeout, errors.status,
      non2xx_total, table.concat(status_parts, ","), json_string(first_sample),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean, latency.stdev
   ))
end
