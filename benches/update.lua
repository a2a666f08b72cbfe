-- wrk script for scripts/bench.sh: dyndns2 updates, one hostname and one credential per
-- connection. Run wrk with as many threads as connections (-t N -c N), so each thread owns
-- exactly one connection and its Lua state is that connection's state.
--
-- Environment (set by bench.sh; nothing secret on the command line):
--   BENCH_FLOW  file with one line per connection: FQDN <TAB> KIND <TAB> VALUE <TAB> ADDRESS
--               KIND is `basic` (VALUE: the whole Authorization header value), `token` (VALUE:
--               the token, sent as the `token` query parameter) or `none`; ADDRESS is the
--               `myip` of nochg and badauth requests. Lines are reused when there are more
--               connections than lines (the one-hostname flows have a single line).
--   BENCH_MODE  good | nochg | badauth | static | page (the expected answer)
--   BENCH_PATH  request path (default /nic/update); `static` and `page` send it as it is
--   BENCH_PAGE_COOKIE  (page) the Cookie header to send, e.g. a console session; optional
--   BENCH_PAGE_TEXT    (page) text the body must contain (a 200 without it is unexpected)
--   BENCH_SEED  where the `good` addresses of this flow start counting
--
-- Every answer is checked: status and body must be what the mode expects (a `good` answer must
-- name the address this connection just sent). done() prints one RESULT line with requests/s,
-- p50/p99 and the counts of unexpected answers, `911` answers and socket errors.

local threads = {}
local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("id", next_id)
   table.insert(threads, thread)
end

local mode, path, host, kind, cred, fixed_addr, page_cookie, page_text
local counter = 0
local last_addr = ""
responses, unexpected, n911, non2xx = 0, 0, 0, 0
sample = ""

local function split(line)
   local fields = {}
   for f in string.gmatch(line, "([^\t]*)\t?") do
      if #fields < 4 then table.insert(fields, f) end
   end
   return fields
end

function init(args)
   mode = os.getenv("BENCH_MODE") or "nochg"
   counter = tonumber(os.getenv("BENCH_SEED") or "0") or 0
   path = os.getenv("BENCH_PATH") or "/nic/update"
   if mode == "static" then return end
   if mode == "page" then
      page_cookie = os.getenv("BENCH_PAGE_COOKIE")
      page_text = os.getenv("BENCH_PAGE_TEXT") or ""
      return
   end
   local lines = {}
   local f = assert(io.open(assert(os.getenv("BENCH_FLOW"), "BENCH_FLOW is not set"), "r"))
   for line in f:lines() do
      if line ~= "" then table.insert(lines, line) end
   end
   f:close()
   local fields = split(lines[(id - 1) % #lines + 1])
   host, kind, cred, fixed_addr = fields[1], fields[2], fields[3], fields[4]
end

-- 10.ID.x.y with x.y counting up: never the address this host had a request ago, and never
-- another connection's (ID is the connection), so every `good` request changes the record.
local function next_addr()
   counter = counter % 65000 + 1
   return string.format("10.%d.%d.%d", id % 256, math.floor(counter / 256), counter % 256)
end

function request()
   if mode == "static" then
      return wrk.format("GET", path)
   end
   if mode == "page" then
      local headers = {}
      if page_cookie and page_cookie ~= "" then headers["Cookie"] = page_cookie end
      return wrk.format("GET", path, headers)
   end
   last_addr = (mode == "good") and next_addr() or fixed_addr
   local query = "hostname=" .. host .. "&myip=" .. last_addr
   local headers = {}
   if kind == "basic" then
      headers["Authorization"] = cred
   elseif kind == "token" then
      query = query .. "&token=" .. cred
   end
   return wrk.format("GET", path .. "?" .. query, headers)
end

local function expected(status, body)
   if mode == "good" then
      return status == 200 and body == "good " .. last_addr .. "\n"
   elseif mode == "nochg" then
      return status == 200 and string.sub(body, 1, 5) == "nochg"
   elseif mode == "badauth" then
      return status == 401 and string.sub(body, 1, 7) == "badauth"
   elseif mode == "page" then
      return status == 200 and string.find(body, page_text, 1, true) ~= nil
   else
      return status == 200 and body == "nochg\n"
   end
end

function response(status, headers, body)
   responses = responses + 1
   body = body or ""
   if status < 200 or status > 299 then non2xx = non2xx + 1 end
   if string.sub(body, 1, 3) == "911" then n911 = n911 + 1 end
   if not expected(status, body) then
      unexpected = unexpected + 1
      if sample == "" then
         sample = string.format("%d %q", status, string.sub(body, 1, 80))
      end
   end
end

function done(summary, latency, requests)
   local total = { responses = 0, unexpected = 0, n911 = 0, non2xx = 0 }
   local samples = {}
   for _, t in ipairs(threads) do
      for k, _ in pairs(total) do total[k] = total[k] + (t:get(k) or 0) end
      local s = t:get("sample")
      if s and s ~= "" then table.insert(samples, s) end
   end
   local e = summary.errors
   local seconds = summary.duration / 1e6
   io.write(string.format(
      "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f non2xx=%d unexpected=%d n911=%d socket_errors=%d\n",
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      total.non2xx, total.unexpected, total.n911, e.connect + e.read + e.write + e.timeout))
   for i, s in ipairs(samples) do
      if i > 3 then break end
      io.write("SAMPLE " .. s .. "\n")
   end
end
