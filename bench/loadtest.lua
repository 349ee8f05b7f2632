-- wrk script used by bench/loadtest.py: every thread sends the requests of
-- its own pre-generated file, in order, and writes one record per answer.
--
-- wrk gives every thread its own Lua state: setup() numbers the threads in
-- the main state; init() reads the thread's request file and the tokens and
-- formats every request once (nothing is built while measuring); request()
-- sends the next one; response() appends a record; done() prints wrk's own
-- summary (socket errors, requests counted inside the measured seconds) as
-- JSON for loadtest.py, which computes everything else from the records.
--
-- Environment (set by loadtest.py):
--   LOADTEST_REQUESTS  file prefix: thread i reads <prefix>-<i>.tsv, lines of
--                      route <TAB> method <TAB> token number (0: none) <TAB> path <TAB> body
--   LOADTEST_TOKENS    a file of JWT access tokens, one a line (token number n is line n)
--   LOADTEST_RECORDS   file prefix: thread i writes <prefix>-<i>.tsv, a line per answer:
--                      route <TAB> status <TAB> latency in microseconds <TAB> X-Bench-Probe header
--
-- A thread that reaches the end of its file starts it again and counts it
-- (the report flags it: repeated writes may then answer 404 or 409).

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } loadtest_timespec;
int clock_gettime(int clock_id, loadtest_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local now_spec = ffi.new("loadtest_timespec")

local function now_us()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, now_spec)
   return tonumber(now_spec.tv_sec) * 1000000 + math.floor(tonumber(now_spec.tv_nsec) / 1000)
end

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("thread_index", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

local function split_tabs(line)
   local fields = {}
   for field in string.gmatch(line .. "\t", "([^\t]*)\t") do
      table.insert(fields, field)
   end
   return fields
end

function init(args)
   local tokens = {}
   local token_file = os.getenv("LOADTEST_TOKENS")
   if token_file and token_file ~= "" then
      for token in io.lines(token_file) do
         table.insert(tokens, token)
      end
   end
   local path = os.getenv("LOADTEST_REQUESTS") .. "-" .. thread_index .. ".tsv"
   requests, routes = {}, {}
   for line in io.lines(path) do
      local fields = split_tabs(line)
      local route, method, token, target, body = fields[1], fields[2], tonumber(fields[3]), fields[4], fields[5]
      local headers = { ["Accept"] = "application/json" }
      if token > 0 then
         headers["Authorization"] = "Bearer " .. tokens[token]
      end
      if body ~= nil and body ~= "" then
         headers["Content-Type"] = "application/json"
      else
         body = nil
      end
      table.insert(requests, wrk.format(method, target, headers, body))
      table.insert(routes, route)
   end
   if #requests == 0 then
      error("no requests in " .. path)
   end
   position, current_route, sent_at, wraps = 0, nil, 0, 0
   records = io.open(os.getenv("LOADTEST_RECORDS") .. "-" .. thread_index .. ".tsv", "w")
   -- A record reaches the file as soon as it is written: wrk ends its
   -- threads without a hook where a buffer could be flushed.
   records:setvbuf("line")
end

function request()
   position = position + 1
   if position > #requests then
      position = 1
      wraps = wraps + 1
   end
   current_route = routes[position]
   sent_at = now_us()
   return requests[position]
end

function response(status, headers, body)
   records:write(
      current_route, "\t", status, "\t", now_us() - sent_at, "\t", headers["X-Bench-Probe"] or "", "\n"
   )
end

function done(summary, latency, requests)
   local wrapped = 0
   for _, thread in ipairs(threads) do
      wrapped = wrapped + (thread:get("wraps") or 0)
   end
   local errors = summary.errors
   io.write(string.format(
      'LOADTEST_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},"wraps":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.timeout, errors.status, wrapped
   ))
end
