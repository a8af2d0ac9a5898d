-- bench/vlob.lua - the requests of bench/vlob-bench, for wrk run with one
-- connection per thread (wrk -tN -cN), so each thread's requests follow
-- each other and a thread can carry a vlob's version from one to the next.
--
-- Environment: VLOB_MODE (get | read | poll | create | update), VLOB_PATH,
-- RPC_AUTH (the Authorization value), VLOB_BODY (read, poll: the fixed
-- body), VLOB_REALMS and VLOB_BLOB (create, update: the realms, separated
-- by spaces, and the blob in base64): thread i writes into realm i modulo
-- their number, so one realm makes every thread write into it.  create: a fresh random vlob id per request; update: each
-- thread creates its own vlob with its first request, then updates it,
-- version after version.  Timestamps are the next whole second: within
-- the ballpark, after the realm's role certificate, and never decreasing
-- for a vlob.  Every answer that is not HTTP 200 with "status":"ok" (or,
-- for get, not 200) is counted and printed by done() as "BAD <n>".

local threads = {}
local next_tid = 0

function setup(thread)
    thread:set("tid", next_tid)
    next_tid = next_tid + 1
    table.insert(threads, thread)
end

function init(args)
    mode = os.getenv("VLOB_MODE")
    path = os.getenv("VLOB_PATH")
    local realms = {}
    for r in string.gmatch(os.getenv("VLOB_REALMS") or "", "%x+") do
        table.insert(realms, r)
    end
    realm = realms[tid % math.max(#realms, 1) + 1]
    blob = os.getenv("VLOB_BLOB")
    fixed = os.getenv("VLOB_BODY")
    headers = {
        ["Content-Type"] = "application/json",
        ["Api-Version"] = "3.2",
        ["Authorization"] = os.getenv("RPC_AUTH"),
    }
    math.randomseed(os.time() * 1009 + tid * 7919)
    bad = 0
    version = 0 -- update: the vlob's last version answered "ok" (0: not created yet)
end

local function hex32()
    local t = {}
    for i = 1, 8 do
        t[i] = string.format("%04x", math.random(0, 65535))
    end
    return table.concat(t)
end

local function stamp()
    return os.date("!%Y-%m-%dT%H:%M:%S", os.time() + 1) .. ".000000Z"
end

-- The update thread's vlob id, drawn on first use.
local mine

local function create(id)
    return string.format('{"cmd":"vlob_create","realm_id":"%s","encryption_revision":1,'
        .. '"vlob_id":"%s","timestamp":"%s","blob":"%s"}', realm, id, stamp(), blob)
end

function request()
    if mode == "get" then
        return wrk.format("GET", path)
    end
    local body = fixed
    if mode == "create" then
        body = create(hex32())
    elseif mode == "update" and version == 0 then
        mine = mine or hex32()
        body = create(mine)
    elseif mode == "update" then
        body = string.format('{"cmd":"vlob_update","encryption_revision":1,"vlob_id":"%s",'
            .. '"timestamp":"%s","version":%d,"blob":"%s"}', mine, stamp(), version + 1, blob)
    end
    return wrk.format("POST", path, headers, body)
end

-- The version moves on when its write is answered, not when its request is
-- built: wrk may build a request it never sends (a connection reopened).
function response(status, headers, body)
    local ok = status == 200 and (mode == "get" or string.find(body, '"status":"ok"', 1, true))
    if ok and mode == "update" then
        version = version + 1
    end
    if not ok then
        if bad == 0 then
            io.stderr:write(string.format("vlob.lua: %s answered %d %s\n", mode, status, body))
        end
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local n = 0
    for _, t in ipairs(threads) do
        n = n + t:get("bad")
    end
    io.write(string.format("BAD %d\n", n))
end
