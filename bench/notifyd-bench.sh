#!/usr/bin/env bash
#
# bench/notifyd-bench.sh - parsec-notifyd beside a bare libwebsockets
# broadcast server (bench/lws_bare.c), measured in the same run
#
# Reproduce:
#
#     make bench                      # release build into build/
#     bench/notifyd-bench.sh [BUILD]  # BUILD defaults to build
#
# What it measures, for each server:
#   - idle connections held, and the server's resident memory per
#     connection, at 1,000 then 5,000 clients (authenticated ones for
#     notifyd: the handshake, the realm set, the organization index);
#   - latency p50/p99 of one event reaching 1,000 clients (50 events, 20 ms
#     apart; notifyd's events are published with pg_notify() and include
#     PostgreSQL's NOTIFY, the bare server's are lines written to its feed
#     pipe, adopted into its loop as notifyd adopts PostgreSQL's socket);
#   - events per second one instance relays to 100 clients (10,000 events
#     published as fast as possible).
# Then the ratios notifyd / bare.  Everything runs on 127.0.0.1: a private
# PostgreSQL cluster (initdb in a temporary directory, unix socket only),
# the servers, and one client process (bench/notifyd-bench.c) holding every
# websocket.  Bounded: about two minutes; every step has a timeout.
#
# Not a test: it prints figures, it does not judge them.  Numbers from a
# busy 2-core machine move by tens of percent from run to run; the ratios
# move less, which is why the baseline runs in the same invocation.

set -u -o pipefail
BUILD=${1:-build}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$SRC" || exit 2
for f in parsec parsec-notifyd bench/lws_bare bench/notifyd-bench; do
    [ -x "$BUILD/$f" ] || { echo "notifyd-bench: $BUILD/$f missing: run \`make bench\` (O=$BUILD)" >&2; exit 2; }
done

# 5,000 websockets on each side, plus PostgreSQL's and lws's own.
hard=$(ulimit -Hn)
want=20000
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want" || { echo "notifyd-bench: cannot raise ulimit -n to $want" >&2; exit 2; }
[ "$(ulimit -n)" -ge 11000 ] || { echo "notifyd-bench: ulimit -n $(ulimit -n) is below 11000" >&2; exit 2; }

WORK=$(mktemp -d /tmp/notifyd-bench.XXXXXX)
chmod 0755 "$WORK"
PIDS=()
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- PostgreSQL -------------------------------------------------------------
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
PGPORT=$(free_port)
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null ||
    { echo "notifyd-bench: initdb failed" >&2; exit 1; }
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w -o \
    "-p $PGPORT -k $WORK -c listen_addresses='' -c fsync=off -c synchronous_commit=off" start >/dev/null ||
    { echo "notifyd-bench: PostgreSQL did not start" >&2; exit 1; }
DB="postgresql://postgres@/postgres?host=$WORK&port=$PGPORT"
"$BUILD/parsec" backend migrate --db "$DB" >/dev/null || { echo "notifyd-bench: migrate failed" >&2; exit 1; }

# --- servers -------------------------------------------------------------------
# start_server NAME CMD...: start, wait for its ready line, set SPID/SPORT.
start_server() {
    local name=$1
    shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    SPID=$!
    PIDS+=("$SPID")
    for _ in $(seq 1 200); do
        grep -q '^ready' "$WORK/$name.out" 2>/dev/null && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    echo "notifyd-bench: $name did not start:" >&2
    cat "$WORK/$name.err" >&2
    exit 1
}
stop_server() {
    kill -TERM "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
}

# run_target TARGET: every measure against a fresh server of that kind.
run_target() {
    local target=$1 mode
    for mode in idle latency throughput; do
        SPORT=$(free_port)
        if [ "$target" = notifyd ]; then
            start_server notifyd "$BUILD/parsec-notifyd" --db "$DB" --notifyd-port "$SPORT" --log-level ERROR
        else
            rm -f "$WORK/feed" && mkfifo "$WORK/feed"
            start_server bare "$BUILD/bench/lws_bare" "$SPORT" "$WORK/feed"
        fi
        case $mode in
        idle) args=(--clients 1000,5000) ;;
        latency) args=(--clients 1000) ;;
        throughput) args=(--clients 100 --events 10000) ;;
        esac
        timeout 300 "$BUILD/bench/notifyd-bench" --target "$target" --port "$SPORT" --pid "$SPID" \
            --db "$DB" --feed "$WORK/feed" --mode "$mode" "${args[@]}" ||
            echo "mode=$mode target=$target FAILED=1"
        stop_server
    done
}

echo "notifyd-bench: $(nproc) cores, $(uname -r), build $BUILD" >&2
{
    run_target bare
    run_target notifyd
} | tee "$WORK/results"

# --- report ------------------------------------------------------------------------
awk '
function kv(line, key,   n, i, a, p) {
    n = split(line, a, " ")
    for (i = 1; i <= n; i++) { split(a[i], p, "="); if (p[1] == key) return p[2] }
    return ""
}
{
    t = kv($0, "target"); m = kv($0, "mode")
    if (m == "idle") {
        c = kv($0, "clients")
        v["held@" c, t] = kv($0, "held")
        v["rss/conn@" c, t] = kv($0, "per_conn_bytes")
    } else if (m == "latency") {
        v["p50", t] = kv($0, "p50_us"); v["p99", t] = kv($0, "p99_us")
        v["delivered", t] = kv($0, "delivered") "/" kv($0, "expected")
    } else if (m == "throughput") {
        v["eps", t] = kv($0, "events_per_s"); v["dropped", t] = kv($0, "dropped")
    }
}
END {
    n = split("held@1000 rss/conn@1000 held@5000 rss/conn@5000 p50 p99 delivered eps dropped", keys, " ")
    split("idle connections held @1000|resident bytes per connection @1000|idle connections held @5000|resident bytes per connection @5000|latency p50 @1000 clients (us)|latency p99 @1000 clients (us)|latency deliveries|events/s relayed to 100 clients|clients dropped (throughput)", names, "|")
    printf "\n%-44s %14s %14s %10s\n", "measure", "notifyd", "bare lws", "ratio"
    for (i = 1; i <= n; i++) {
        a = v[keys[i], "notifyd"]; b = v[keys[i], "bare"]
        r = (a + 0 > 0 && b + 0 > 0 && a !~ /\// ) ? sprintf("%.2f", a / b) : "-"
        printf "%-44s %14s %14s %10s\n", names[i], a, b, r
    }
    print "\nratio = notifyd / bare (memory and latency: lower is better; events/s: higher is better)"
}' "$WORK/results"
