#!/usr/bin/env bash
# Side-by-side benchmark: wrk, oha and fetchtop (headless, and with the
# dashboard in a 160x45 tmux terminal) against one nginx worker on 127.0.0.1.
# Clients run interleaved (A B C D, A B C D, ...) under GNU time -v; the
# table of medians and the ratios go to stdout (see BENCHMARKS.md).
#
#   bench/run.sh                      3 rounds x 10 s at c=50 (scenario compare)
#   bench/run.sh --rounds 5 --seconds 20 --concurrency 100
#   bench/run.sh --clients "wrk fetchtop-headless"
#   bench/run.sh --scenario tls       compare's clients over HTTPS (nginx, self-signed EC P-256)
#   bench/run.sh --scenario list      1,000,000 URLs from a list vs a template, c=500
#   bench/run.sh --scenario soak      10,000,000 requests with the dashboard: RSS over time
#   bench/run.sh --scenario inflight  18,000 in flight against `fetchtop serve --latency 1s`
#   bench/run.sh --scenario keys      key press to screen, under load
#   bench/run.sh --scenario all       every scenario above, in that order
#
# Clients (--clients): wrk, oha, fetchtop-headless (fetchtop's default flags,
# or FETCHTOP_FLAGS), fetchtop-w1 (headless with --workers 1: one event loop,
# as wrk -t1), fetchtop-tui (the dashboard, with FETCHTOP_FLAGS too).
#
# Installs what it needs when missing: nginx-light, wrk and time (apt-get),
# tmux (apt-get), oha (cargo install --locked). Stops the servers it started.
# FETCHTOP_BIN=/path/to/fetchtop uses that binary and skips the cargo build.
set -euo pipefail

rounds=3
seconds=10
concurrency=50
clients=
compare_clients="wrk oha fetchtop-headless fetchtop-w1 fetchtop-tui"
tls_clients="wrk oha fetchtop-headless fetchtop-w1"
port=18480
scenario=compare
soak_requests=10000000
list_lines=1000000
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --concurrency) concurrency="$2"; shift 2 ;;
        --clients) clients="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        --scenario) scenario="$2"; shift 2 ;;
        --soak-requests) soak_requests="$2"; shift 2 ;;
        --list-lines) list_lines="$2"; shift 2 ;;
        *) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
case "$scenario" in
    compare|tls|list|soak|inflight|keys|all) ;;
    *) echo "bench/run.sh: unknown scenario $scenario (compare, tls, list, soak, inflight, keys, all)" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

# --- tools -------------------------------------------------------------------
need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
[ -x /usr/bin/time ] || need+=(time)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi
command -v oha >/dev/null 2>&1 || cargo install oha --locked
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
if [ -n "${FETCHTOP_BIN:-}" ]; then
    fetchtop="$FETCHTOP_BIN"
    [ -x "$fetchtop" ] || { echo "bench: FETCHTOP_BIN=$fetchtop is not an executable file" >&2; exit 1; }
else
    (cd "$root" && cargo build --release)
    fetchtop="$root/target/release/fetchtop"
fi
# fetchtop runs with its default flags (a worker thread per core); FETCHTOP_FLAGS
# adds flags (e.g. FETCHTOP_FLAGS="--workers 2") to every fetchtop run except
# fetchtop-w1, which is always exactly --workers 1.
read -r -a ft_flags <<< "${FETCHTOP_FLAGS:-}"
# The same flags as one shell-quoted string, for the command lines run in tmux.
ft_flags_str=
for f in "${ft_flags[@]+"${ft_flags[@]}"}"; do ft_flags_str+="$(printf '%q' "$f") "; done

# --- nginx: one worker, keep-alive, a 199-byte JSON file and /items/<n> ------
work="$(mktemp -d "${TMPDIR:-/tmp}/fetchtop-bench.XXXXXX")"
results="$work/results"
mkdir -p "$work/www" "$work/tmp" "$results"
# mktemp -d makes the folder 0700: run as root, nginx's worker (user nobody)
# could not read www/ and would answer 403 to everything. The key stays 0600
# (the master reads it as root).
chmod 755 "$work"
# 199 bytes exactly, no newline.
printf '%s' '{"id":42,"name":"item-42","sku":"SKU-000042","price_cents":1999,"in_stock":true,"category":"tools","tags":["steel","blue"],"rating":4.5,"updated":"2026-01-01T00:00:00Z","note":"benchmark item 00042"}' \
    > "$work/www/item.json"
size=$(wc -c < "$work/www/item.json")
[ "$size" -eq 199 ] || { echo "bench: item.json is $size bytes, not 199" >&2; exit 1; }
# --- tls: a throw-away self-signed EC P-256 certificate for 127.0.0.1 (1 day),
# and a second server on port+2 with the same files over HTTPS: http/1.1 only
# (no http2 on the listener, so ALPN offers http/1.1), keep-alive as above,
# session cache and tickets on.
tls_port=$((port + 2))
tls_server=
case "$scenario" in
    tls|all)
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
            -keyout "$work/key.pem" -out "$work/cert.pem" 2> "$work/openssl.log" \
            || { cat "$work/openssl.log" >&2; echo "bench: openssl could not make the certificate" >&2; exit 1; }
        tls_server="
    server {
        listen 127.0.0.1:$tls_port ssl;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:1m;
        ssl_session_tickets on;
        root $work/www;
        location = /item.json { }
    }"
        ;;
esac
cat > "$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    default_type application/json;
    client_body_temp_path $work/tmp;
    proxy_temp_path $work/tmp;
    fastcgi_temp_path $work/tmp;
    uwsgi_temp_path $work/tmp;
    scgi_temp_path $work/tmp;
    server {
        listen 127.0.0.1:$port;
        root $work/www;
        location = /item.json { }
        location ~ ^/items/([0-9]+)\$ {
            return 200 '{"id":\$1,"name":"item-\$1","price_cents":1999,"in_stock":true}';
        }
    }$tls_server
}
EOF
"$nginx_bin" -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
nginx_pid=$!
serve_pid=
tmux_socket="fetchtop-bench-$$"
cleanup() {
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    if [ -n "$serve_pid" ]; then
        kill "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
    tmux -L "$tmux_socket" kill-server 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then echo "bench: raw results kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
url="http://127.0.0.1:$port/item.json"
tls_url="https://127.0.0.1:$tls_port/item.json"
# wait_port PORT: until something accepts on 127.0.0.1:PORT (5 s at most).
wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "bench: nothing listens on 127.0.0.1:$1 (see $work/error.log)" >&2
    cat "$work/error.log" >&2 2>/dev/null || true
    exit 1
}
wait_port "$port"
[ -z "$tls_server" ] || wait_port "$tls_port"

# --- one run of one client -----------------------------------------------------
# run CLIENT ROUND DIR URL: writes DIR/CLIENT-ROUND.json and .time. An https://
# URL adds each client's flag for accepting the self-signed certificate (wrk
# does not verify certificates).
run() {
    local client="$1" round="$2" out="$3/$1-$2" target="$4"
    local insecure=() insecure_str=
    case "$target" in https://*) insecure=(--insecure); insecure_str="--insecure " ;; esac
    case "$client" in
        wrk)
            /usr/bin/time -v -o "$out.time" \
                wrk -t1 -c"$concurrency" -d"${seconds}s" -s "$here/wrk-report.lua" "$target" > "$out.json"
            ;;
        oha)
            /usr/bin/time -v -o "$out.time" \
                oha --no-tui "${insecure[@]+"${insecure[@]}"}" -z "${seconds}s" -c "$concurrency" \
                --output-format json "$target" > "$out.json"
            ;;
        fetchtop-headless)
            /usr/bin/time -v -o "$out.time" \
                "$fetchtop" "${ft_flags[@]+"${ft_flags[@]}"}" "${insecure[@]+"${insecure[@]}"}" \
                --no-tui -q --json -z "${seconds}s" -c "$concurrency" "$target" > "$out.json"
            ;;
        fetchtop-w1)
            /usr/bin/time -v -o "$out.time" \
                "$fetchtop" --workers 1 "${insecure[@]+"${insecure[@]}"}" \
                --no-tui -q --json -z "${seconds}s" -c "$concurrency" "$target" > "$out.json"
            ;;
        fetchtop-tui)
            # A real terminal: the dashboard draws all run long. When the run
            # has finished it waits for q, which is pressed once it shows.
            tmux -L "$tmux_socket" new-session -d -s bench -x 160 -y 45 \
                "LANG=C.UTF-8 TERM=xterm-256color /usr/bin/time -v -o '$out.time' '$fetchtop' $ft_flags_str$insecure_str-z ${seconds}s -c $concurrency --summary-file '$out.json' '$target'"
            local deadline=$((SECONDS + seconds + 60))
            until tmux -L "$tmux_socket" capture-pane -p -t bench 2>/dev/null | grep -q 'finished · q to quit'; do
                [ $SECONDS -lt $deadline ] || { echo "bench: the dashboard run did not finish" >&2; exit 1; }
                sleep 0.2
            done
            tmux -L "$tmux_socket" send-keys -t bench q
            # Wait for the session to end, not on `wait-for bench-done`: when
            # the session ends first, the tmux server exits with it and a
            # late `wait-for` fails ("server exited unexpectedly") or hangs.
            while tmux -L "$tmux_socket" has-session -t bench 2>/dev/null; do
                [ $SECONDS -lt $deadline ] || { echo "bench: the dashboard did not quit" >&2; exit 1; }
                sleep 0.1
            done
            ;;
        *) echo "bench: unknown client $client" >&2; exit 2 ;;
    esac
}

# --- scenarios ------------------------------------------------------------------
# rounds_of NAME URL CLIENTS: the clients interleaved, round after round, into
# results/NAME, then bench/report.py's table, ratios and target check.
rounds_of() {
    local name="$1" target="$2" list="$3" dir="$results/$1"
    mkdir -p "$dir"
    echo "bench: $name: nginx 1 worker, $target, $rounds rounds x ${seconds}s, c=$concurrency: $list" >&2
    for round in $(seq 1 "$rounds"); do
        for client in $list; do
            echo "bench: $name, round $round, $client" >&2
            run "$client" "$round" "$dir" "$target"
        done
    done
    echo "## $name: $rounds rounds x ${seconds}s, c=$concurrency, $target"
    echo
    python3 "$here/report.py" --scenario "$name" "$dir"
}

compare() { rounds_of compare "$url" "${clients:-$compare_clients}"; }

# The same over HTTPS: nginx terminates TLS (http/1.1, keep-alive), so a
# client's CPU per request includes its TLS record work.
tls() { rounds_of tls "$tls_url" "${clients:-$tls_clients}"; }

# A dashboard run in tmux, in the background: tui_start NAME 'ARGS...'
tui_start() {
    local name="$1" args="$2"
    tmux -L "$tmux_socket" new-session -d -s "$name" -x 160 -y 45 \
        "LANG=C.UTF-8 TERM=xterm-256color /usr/bin/time -v -o '$work/$name.time' '$fetchtop' $ft_flags_str$args; tmux -L $tmux_socket wait-for -S $name-done"
}

# q stops the run (in-flight requests end first); a second q after 5 s aborts.
tui_quit() {
    tmux -L "$tmux_socket" send-keys -t "$1" q
    for _ in $(seq 1 50); do
        tmux -L "$tmux_socket" has-session -t "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    tmux -L "$tmux_socket" send-keys -t "$1" q 2>/dev/null || true
    for _ in $(seq 1 100); do
        tmux -L "$tmux_socket" has-session -t "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "bench: the dashboard in $1 did not quit" >&2
    exit 1
}

# fetchtop's pid under /usr/bin/time in tmux session NAME.
tui_pid() {
    local pane
    pane=$(tmux -L "$tmux_socket" display -p -t "$1" '#{pane_pid}')
    for _ in $(seq 1 100); do
        local p
        p=$(pgrep -P "$pane" -x fetchtop | head -1 || true)
        [ -n "$p" ] && { echo "$p"; return; }
        p=$(pgrep -P "$(pgrep -P "$pane" | head -1)" -x fetchtop 2>/dev/null | head -1 || true)
        [ -n "$p" ] && { echo "$p"; return; }
        sleep 0.05
    done
    echo "bench: cannot find fetchtop under tmux" >&2
    exit 1
}

list() {
    local file="$work/urls.txt"
    python3 -c "
import sys
with open(sys.argv[1], 'w') as f:
    for n in range(1, int(sys.argv[2]) + 1):
        f.write(f'http://127.0.0.1:$port/items/{n}\\n')
" "$file" "$list_lines"
    echo "## list: $list_lines URLs, c=500, headless"
    echo
    echo "| source | requests/s | time s | peak RSS MB | items out |"
    echo "|---|---|---|---|---|"
    for kind in list template list template; do
        local src
        if [ "$kind" = list ]; then src=(-i "$file"); else src=("http://127.0.0.1:$port/items/{1..$list_lines}"); fi
        "$fetchtop" "${ft_flags[@]+"${ft_flags[@]}"}" --no-tui -q --json -c 500 -o "$work/$kind.jsonl" "${src[@]}" > "$work/$kind.json"
        python3 - "$work/$kind.json" "$work/$kind.jsonl" "$kind" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
lines = sum(1 for _ in open(sys.argv[2]))
print(f"| {sys.argv[3]} | {s['rps']:,.0f} | {s['elapsed_s']:.1f} | {s['peak_rss_mb']:.1f} | {lines:,} |")
PY
    done
}

soak() {
    echo "## soak: $soak_requests requests with the dashboard, c=$concurrency"
    tui_start soak "-c $concurrency -n $soak_requests --summary-file '$work/soak.json' '$url'"
    local pid samples="$work/soak.rss" start=$SECONDS
    pid=$(tui_pid soak)
    : > "$samples"
    while kill -0 "$pid" 2>/dev/null; do
        if tmux -L "$tmux_socket" capture-pane -p -t soak | grep -q 'finished · q to quit'; then break; fi
        local rss
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        echo "$((SECONDS - start)) $rss" >> "$samples"
        sleep 5
    done
    tui_quit soak
    python3 - "$samples" "$work/soak.json" <<'PY'
import json, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
s = json.loads(open(sys.argv[2]).read())
print()
print(f"requests {s['total']:,} in {s['elapsed_s']:.0f} s ({s['rps']:,.0f}/s), peak RSS {s['peak_rss_mb']:.1f} MB, "
      f"dashboard {s.get('dashboard', {}).get('fps', 0):.1f} fps")
print()
print("| t s | RSS MB |")
print("|---|---|")
step = max(1, len(rows) // 12)
for t, kb in rows[::step] + ([rows[-1]] if rows and rows[-1] not in rows[::step] else []):
    print(f"| {t} | {kb / 1024:.1f} |")
PY
}

# screen_wait NAME PATTERN: ms until PATTERN shows; screen_press NAME KEY PATTERN:
# ms from KEY to PATTERN (bench/screen.py).
screen_wait() { python3 "$here/screen.py" "$tmux_socket" "$1" wait "$2"; }
screen_press() { python3 "$here/screen.py" "$tmux_socket" "$1" press "$2" "$3"; }

keys() {
    echo "## keys: key press to screen, dashboard at c=$concurrency against nginx"
    tui_start keys "-c $concurrency -z 60s --summary-file '$work/keys.json' '$url'"
    screen_wait keys "in flight / limit $concurrency" > /dev/null
    local limit=$concurrency times=()
    for _ in $(seq 1 10); do
        limit=$((limit + 1))
        times+=("$(screen_press keys + "in flight / limit $limit\\b")")
        sleep 0.3
    done
    tui_quit keys
    python3 - "$work/keys.json" "${times[@]}" <<'PY'
import json, statistics, sys
s = json.loads(open(sys.argv[1]).read())
ms = [float(t) for t in sys.argv[2:] if t != "timeout"]
fps = s.get("dashboard", {}).get("fps", 0)
print()
print(f"+ pressed {len(sys.argv) - 2} times; screen showed the new limit after "
      f"median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms "
      f"(a frame is {1000 / fps:.1f} ms at the {fps:.1f} fps drawn; tmux's own polling is included)")
PY
}

inflight() {
    local sport=$((port + 1)) n=18000
    echo "## inflight: $n in flight against fetchtop serve --latency 1s (its own process)"
    "$fetchtop" serve --addr "127.0.0.1:$sport" --latency 1s --error-rate 0 > /dev/null 2>&1 &
    serve_pid=$!
    sleep 0.5
    tui_start inflight "-c $n -z 120s -t 60s --summary-file '$work/inflight.json' 'http://127.0.0.1:$sport/items/{1..1000000}'"
    local reached
    reached=$(screen_wait inflight "(1[7-9]),[0-9]{3} in flight / limit")
    echo
    echo "- reached 17,000+ in flight after $reached ms"
    sleep 5
    echo "- key '-' shown after $(screen_press inflight - "in flight / limit 17,999\\b") ms"
    screen_press inflight p "limit 17,999 · paused" > /dev/null
    local cancel
    cancel=$(screen_press inflight C "│limit .* 0 in flight / limit" || true)
    echo "- cancel-all (paused first, so nothing refills): 0 in flight on screen after $cancel ms"
    tui_quit inflight
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=
    python3 - "$work/inflight.json" "$work/inflight.time" "$cancel" <<'PY'
import json, re, sys
s = json.loads(open(sys.argv[1]).read())
d = s.get("dashboard", {})
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(sys.argv[2]).read()).group(1)) / 1024
fps = d.get("fps", 0)
print(f"- max in flight {s['max_in_flight']:,}; dashboard {fps:.1f} fps, longest gap between frames "
      f"{d.get('longest_gap_ms', 0):.0f} ms; errors {s['errors']}; peak RSS {rss:.1f} MB")
try:
    cancel = float(sys.argv[3])
except ValueError:
    cancel = None  # "timeout" (or nothing): the screen never showed 0 in flight
print()
print("| target | measured | goal | met |")
print("|---|---|---|---|")
for name, v, op, goal, unit in [("dashboard frames/s at 18,000 in flight", fps, ">=", 28, ""),
                                ("cancel-all to 0 in flight on screen", cancel, "<=", 100, " ms"),
                                ("peak RSS", rss, "<=", 200, " MB")]:
    if v is None:
        print(f"| {name} | {sys.argv[3] or 'n/a'} | {op} {goal}{unit} | FAIL |")
        continue
    ok = v >= goal if op == ">=" else v <= goal
    print(f"| {name} | {v:.1f}{unit} | {op} {goal}{unit} | {'PASS' if ok else 'FAIL'} |")
PY
}

case "$scenario" in
    compare) compare ;;
    tls) tls ;;
    list) list ;;
    soak) soak ;;
    inflight) inflight ;;
    keys) keys ;;
    all) compare; tls; list; soak; inflight; keys ;;
esac
