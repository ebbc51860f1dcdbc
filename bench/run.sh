#!/usr/bin/env bash
# Side-by-side benchmark: wrk, oha and fetchtop (headless, and with the
# dashboard in a 160x45 tmux terminal) against one nginx worker on 127.0.0.1.
# Clients run interleaved (A B C D, A B C D, ...) under GNU time -v; the
# table of medians and the ratios go to stdout (see BENCHMARKS.md).
#
#   bench/run.sh                      3 rounds x 10 s at c=50
#   bench/run.sh --rounds 5 --seconds 20 --concurrency 100
#   bench/run.sh --clients "wrk fetchtop-headless"
#
# Installs what it needs when missing: nginx-light, wrk and time (apt-get),
# tmux (apt-get), oha (cargo install --locked). Stops the nginx it started.
set -euo pipefail

rounds=3
seconds=10
concurrency=50
clients="wrk oha fetchtop-headless fetchtop-tui"
port=18480
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --concurrency) concurrency="$2"; shift 2 ;;
        --clients) clients="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        *) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

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
(cd "$root" && cargo build --release)
fetchtop="$root/target/release/fetchtop"

# --- nginx: one worker, keep-alive, a 199-byte JSON file and /items/<n> ------
work="$(mktemp -d "${TMPDIR:-/tmp}/fetchtop-bench.XXXXXX")"
results="$work/results"
mkdir -p "$work/www" "$work/tmp" "$results"
# 199 bytes exactly, no newline.
printf '%s' '{"id":42,"name":"item-42","sku":"SKU-000042","price_cents":1999,"in_stock":true,"category":"tools","tags":["steel","blue"],"rating":4.5,"updated":"2026-01-01T00:00:00Z","note":"benchmark item 00042"}' \
    > "$work/www/item.json"
size=$(wc -c < "$work/www/item.json")
[ "$size" -eq 199 ] || { echo "bench: item.json is $size bytes, not 199" >&2; exit 1; }
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
    }
}
EOF
"$nginx_bin" -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
nginx_pid=$!
tmux_socket="fetchtop-bench-$$"
cleanup() {
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    tmux -L "$tmux_socket" kill-server 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "bench: raw results kept in $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
url="http://127.0.0.1:$port/item.json"
for _ in $(seq 1 100); do
    curl_ok=$(exec 3<>"/dev/tcp/127.0.0.1/$port" && echo yes || true)
    [ "$curl_ok" = yes ] && break
    sleep 0.05
done

# --- one run of one client -----------------------------------------------------
# run CLIENT ROUND: writes results/CLIENT-ROUND.json and .time
run() {
    local client="$1" round="$2" out="$results/$1-$2"
    case "$client" in
        wrk)
            /usr/bin/time -v -o "$out.time" \
                wrk -t1 -c"$concurrency" -d"${seconds}s" -s "$here/wrk-report.lua" "$url" > "$out.json"
            ;;
        oha)
            /usr/bin/time -v -o "$out.time" \
                oha --no-tui -z "${seconds}s" -c "$concurrency" --output-format json "$url" > "$out.json"
            ;;
        fetchtop-headless)
            /usr/bin/time -v -o "$out.time" \
                "$fetchtop" --no-tui -q --json -z "${seconds}s" -c "$concurrency" "$url" > "$out.json"
            ;;
        fetchtop-tui)
            # A real terminal: the dashboard draws all run long. When the run
            # has finished it waits for q, which is pressed once it shows.
            tmux -L "$tmux_socket" new-session -d -s bench -x 160 -y 45 \
                "LANG=C.UTF-8 TERM=xterm-256color /usr/bin/time -v -o '$out.time' '$fetchtop' -z ${seconds}s -c $concurrency --summary-file '$out.json' '$url'; tmux -L $tmux_socket wait-for -S bench-done"
            local deadline=$((SECONDS + seconds + 60))
            until tmux -L "$tmux_socket" capture-pane -p -t bench 2>/dev/null | grep -q 'finished · q to quit'; do
                [ $SECONDS -lt $deadline ] || { echo "bench: the dashboard run did not finish" >&2; exit 1; }
                sleep 0.2
            done
            tmux -L "$tmux_socket" send-keys -t bench q
            tmux -L "$tmux_socket" wait-for bench-done
            ;;
        *) echo "bench: unknown client $client" >&2; exit 2 ;;
    esac
}

echo "bench: nginx 1 worker on 127.0.0.1:$port, $rounds rounds x ${seconds}s, c=$concurrency: $clients" >&2
for round in $(seq 1 "$rounds"); do
    for client in $clients; do
        echo "bench: round $round, $client" >&2
        run "$client" "$round"
    done
done
python3 "$here/report.py" "$results"
