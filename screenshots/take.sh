#!/usr/bin/env bash
# Takes the PNG screenshots in this folder from a real terminal:
# fetchtop runs in a detached tmux session, the pane is captured with its
# colours, turned into HTML by aha and photographed by headless Chromium.
#
#   screenshots/take.sh            # all scenarios
#   screenshots/take.sh 02 05      # only the scenarios whose names start so
#
# Needs tmux, aha, chromium and the DejaVu fonts; installs them with apt-get
# when missing. Rerunnable: the PNGs are overwritten.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

# --- tools -----------------------------------------------------------------

need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v aha >/dev/null 2>&1 || need+=(aha)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || need+=(fonts-dejavu-core)
if [ "${#need[@]}" -gt 0 ]; then
    echo "installing: ${need[*]}" >&2
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install ${need[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y "${need[@]}"
fi

# --- build -----------------------------------------------------------------

(cd "$root" && cargo build --release)
bin="${CARGO_TARGET_DIR:-$root/target}/release/fetchtop"
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 1; }

# --- scratch space, a private tmux server, cleanup ---------------------------

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fetchtop-shots.XXXXXX")"
# Each scenario gets its own tmux server on a private socket: the user's tmux
# is never touched, and one scenario's server shutting down cannot race the
# next scenario's start.
session=""

t() { tmux -u -L "fetchtop-shots-$$-$session" "$@"; }

cleanup() {
    if [ -n "$session" ]; then
        t send-keys -t "$session" q 2>/dev/null || true
        sleep 0.2
        t kill-server 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers ---------------------------------------------------------------

cols=160
rows=45

screen() { t capture-pane -p -t "$session"; }

# die_with_screen MESSAGE: shows what the terminal had, then fails.
die_with_screen() {
    echo "take.sh: $1" >&2
    echo "--- screen of $session ---" >&2
    screen >&2 || true
    echo "---" >&2
    exit 1
}

# start NAME ARGS...: runs `fetchtop ARGS...` in a fresh session of cols x rows.
start() {
    session="$1"
    shift
    local cmd
    printf -v cmd '%q ' env -u NO_COLOR -u LC_ALL -u LC_CTYPE LANG=C.UTF-8 TERM=xterm-256color \
        "$bin" "$@"
    # `; sleep` keeps the pane (and its last screen) when fetchtop exits early.
    t new-session -d -s "$session" -x "$cols" -y "$rows" "$cmd; sleep 600"
    # A lone client-less server would resize the window to its default size.
    t set-option -t "$session" window-size manual >/dev/null
    t resize-window -t "$session" -x "$cols" -y "$rows" >/dev/null
}

# wait_for REGEX [SECONDS]: polls the screen until an extended regex matches.
wait_for() {
    local re="$1" limit="${2:-20}"
    local deadline=$((SECONDS + limit))
    until screen | grep -qE -- "$re"; do
        [ "$SECONDS" -lt "$deadline" ] || die_with_screen "timed out after ${limit}s waiting for /$re/"
        sleep 0.1
    done
}

# clock: the run time in the header (mm:ss on the first line) in seconds.
clock() {
    local mmss
    mmss="$(screen | head -n 1 | grep -oE '[0-9]{2}:[0-9]{2}' | tail -n 1 || true)"
    [ -n "$mmss" ] || { echo -1; return; }
    echo $((10#${mmss%%:*} * 60 + 10#${mmss##*:}))
}

# wait_clock N [SECONDS]: polls until the header clock reads N seconds or more.
wait_clock() {
    local want="$1" limit="${2:-$(($1 + 20))}"
    local deadline=$((SECONDS + limit))
    until [ "$(clock)" -ge "$want" ]; do
        [ "$SECONDS" -lt "$deadline" ] || die_with_screen "timed out after ${limit}s waiting for clock ${want}s"
        sleep 0.1
    done
}

# keys KEY...: presses keys (literally, one at a time).
keys() {
    local k
    for k in "$@"; do
        t send-keys -t "$session" -l -- "$k"
    done
}

# settle: lets the next frame reach the screen after a key press.
settle() { sleep 0.4; }

# shoot FILE: captures the screen with colours and renders it to FILE.
shoot() {
    local out="$here/$1"
    local ansi="$tmp/$1.ansi" html="$tmp/$1.html"
    t capture-pane -e -p -t "$session" >"$ansi"
    # line-height:normal keeps box lines joined (1.2 leaves gaps, 1.0 overlaps).
    aha --black --title fetchtop <"$ansi" |
        sed 's#</head>#<style>body{margin:0;padding:8px} pre{font-family:"DejaVu Sans Mono",monospace;font-size:14px;line-height:normal;margin:0}</style></head>#' \
            >"$html"
    # About 8.43 px per column and 16.4 px per row at 14px, plus the padding.
    local w=$(((cols * 843 + 99) / 100 + 16))
    local h=$(((rows * 164 + 9) / 10 + 16))
    rm -f "$out"
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --disable-quic \
        --user-data-dir="$tmp/chromium" --hide-scrollbars \
        --window-size="$w,$h" --screenshot="$out" "file://$html" \
        >"$tmp/chromium.log" 2>&1 || true
    [ -s "$out" ] || { cat "$tmp/chromium.log" >&2; die_with_screen "chromium made no $out"; }
    echo "wrote $out (${w}x${h}, $(du -k "$out" | cut -f1) KB)"
}

# finish: quits fetchtop and stops the scenario's tmux server.
finish() {
    t send-keys -t "$session" q 2>/dev/null || true
    sleep 0.2
    t kill-server 2>/dev/null || true
    session=""
}

# --- scenarios ---------------------------------------------------------------

running='running'

shot_01() {
    start s01 demo
    wait_for "$running"
    wait_clock 1
    shoot 01-start.png
    finish
}

shot_02() {
    start s02 demo --latency 5ms..400ms -c 50
    wait_for "$running"
    wait_clock 8
    keys ']'
    wait_for 'limit 100'
    wait_clock 16
    shoot 02-busy.png
    finish
}

shot_03() {
    start s03 demo --latency 200ms..3s -c 200
    wait_for '200 in flight'
    wait_clock 8
    keys C
    wait_for '⊘ cancelled +[1-9]'
    wait_for 'cancelled all'
    wait_clock 11
    shoot 03-cancel-all.png
    finish
}

shot_04() {
    start s04 demo
    wait_for "$running"
    wait_clock 2
    keys '?'
    wait_for '╭ keys '
    settle
    shoot 04-help.png
    finish
}

shot_05() {
    cols=80 rows=24
    start s05 demo
    wait_for "$running"
    wait_clock 2
    shoot 05-narrow.png
    finish
    cols=160 rows=45
}

all=(01 02 03 04 05)
pick=("$@")
[ "${#pick[@]}" -gt 0 ] || pick=("${all[@]}")
for p in "${pick[@]}"; do
    matched=0
    for s in "${all[@]}"; do
        case "$s" in "$p"*) "shot_$s"; matched=1 ;; esac
    done
    [ "$matched" -eq 1 ] || { echo "no scenario $p (have: ${all[*]})" >&2; exit 2; }
done
