-- wrk script for the storm of scripts/bench.sh and scripts/soak.sh: thousands of hosts, each
-- with its own token, all reporting a new address in the same minute (a provider's forced
-- reconnect), over many keep-alive connections, a fixed number of times each. Unlike
-- benches/update.lua a thread drives many connections (wrk -t T -c C, C a multiple of T):
-- thread t owns the hosts of lines t, t + T, t + 2T... of the flow file and sends each in
-- turn, so consecutive requests of a connection are different hosts, and a host's next
-- request comes only after the thread has sent every other host of its share once.
--
-- Environment (nothing secret on the command line):
--   BENCH_FLOW    file with one line per host: FQDN <TAB> TOKEN (the token is sent as the
--                 `token` query parameter)
--   BENCH_ROUNDS  requests per host (each with a new address)
--   BENCH_SEED    the second octet of this run's first round (0..255): a host's addresses are
--                 10.(SEED + round).(i / 254).(i % 254 + 1), i its line (from 0), so every
--                 request changes the record, also against an earlier run with another seed
--   BENCH_THREADS wrk's -t (how the hosts are shared out)
--   BENCH_DONE    file to which each thread appends a line when it has its answers: the
--                 script stops wrk (SIGINT) when all are there, since wrk itself runs for -d
--
-- Every answer must be `200 good ADDRESS` with ADDRESS one of the thread's own hosts'. done()
-- prints one RESULT line: the rate over the storm's span (first request to last expected
-- answer, measured in the threads, so the wait for the SIGINT does not count), p50/p99/max,
-- and the counts of unexpected answers, `911` answers and socket errors.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } storm_timespec;
int clock_gettime(int clk_id, storm_timespec *tp);
]])
local ts = ffi.new("storm_timespec")
local function now() -- CLOCK_MONOTONIC, in seconds
   ffi.C.clock_gettime(1, ts)
   return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local threads = {}
local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("id", next_id)
   table.insert(threads, thread)
end

local hosts, tokens, index = {}, {}, {}
local rounds, seed, done_file
local sent, quota = 0, 0
responses, unexpected, n911, non2xx = 0, 0, 0, 0
t_first, t_last = 0, 0
sample = ""

function init(args)
   rounds = tonumber(os.getenv("BENCH_ROUNDS") or "1") or 1
   seed = tonumber(os.getenv("BENCH_SEED") or "0") or 0
   done_file = os.getenv("BENCH_DONE")
   local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1") or 1
   local f = assert(io.open(assert(os.getenv("BENCH_FLOW"), "BENCH_FLOW is not set"), "r"))
   local i = 0
   for line in f:lines() do
      if line ~= "" then
         if i % nthreads == id - 1 then
            local fqdn, token = string.match(line, "^([^\t]+)\t([^\t]+)")
            table.insert(hosts, fqdn)
            table.insert(tokens, token)
            index[#hosts] = i
         end
         i = i + 1
      end
   end
   f:close()
   quota = #hosts * rounds
end

local function addr(i, round)
   return string.format("10.%d.%d.%d", (seed + round) % 256, math.floor(i / 254), i % 254 + 1)
end

-- Which of this thread's hosts an address belongs to, or nil.
local owned = {}
function request()
   if t_first == 0 then t_first = now() end
   local n = #hosts
   if n == 0 then return wrk.format("GET", "/") end
   local slot = sent % n + 1
   local round = math.floor(sent / n)
   sent = sent + 1
   local a = addr(index[slot], round)
   owned[a] = true
   return wrk.format("GET", "/nic/update?hostname=" .. hosts[slot] .. "&myip=" .. a .. "&token=" .. tokens[slot])
end

function response(status, headers, body)
   responses = responses + 1
   body = body or ""
   if status < 200 or status > 299 then non2xx = non2xx + 1 end
   if string.sub(body, 1, 3) == "911" then n911 = n911 + 1 end
   local a = string.match(body, "^good (%d+%.%d+%.%d+%.%d+)\n$")
   if status ~= 200 or not a or not owned[a] then
      unexpected = unexpected + 1
      if sample == "" then sample = string.format("%d %q", status, string.sub(body, 1, 80)) end
   end
   if responses == quota then
      t_last = now()
      if done_file then
         local f = io.open(done_file, "a")
         if f then
            f:write(id, "\n")
            f:close()
         end
      end
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local total = { responses = 0, unexpected = 0, n911 = 0, non2xx = 0 }
   local samples = {}
   local first, last = math.huge, 0
   for _, t in ipairs(threads) do
      for k, _ in pairs(total) do total[k] = total[k] + (t:get(k) or 0) end
      local f, l = t:get("t_first") or 0, t:get("t_last") or 0
      if f > 0 and f < first then first = f end
      if l > last then last = l end
      local s = t:get("sample")
      if s and s ~= "" then table.insert(samples, s) end
   end
   local e = summary.errors
   -- A thread that never had all its answers leaves its t_last at 0: then wrk's own duration.
   local seconds = summary.duration / 1e6
   local complete = 1
   for _, t in ipairs(threads) do
      if (t:get("t_last") or 0) == 0 then complete = 0 end
   end
   if complete == 1 and last > first then seconds = last - first end
   io.write(string.format(
      "RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx=%d unexpected=%d n911=%d socket_errors=%d complete=%d\n",
      total.responses, seconds, total.responses / seconds,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
      total.non2xx, total.unexpected, total.n911, e.connect + e.read + e.write + e.timeout, complete))
   for i, s in ipairs(samples) do
      if i > 3 then break end
      io.write("SAMPLE " .. s .. "\n")
   end
end
