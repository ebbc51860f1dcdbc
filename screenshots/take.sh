#!/usr/bin/env bash
# Takes the PNG screenshots in this folder from a real terminal:
# fetchtop runs in a detached tmux session, the pane is captured with its
# colours, turned into HTML by aha and photographed by headless Chromium.
#
#   screenshots/take.sh            # all scenarios
#   screenshots/take.sh 02 05      # only the scenarios whose names start so
#
# Needs tmux, aha, chromium, perl and the DejaVu fonts; installs them with apt-get
# when missing. Rerunnable: the PNGs are overwritten.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

# --- tools -----------------------------------------------------------------

need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v aha >/dev/null 2>&1 || need+=(aha)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v perl >/dev/null 2>&1 || need+=(perl)
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

# FETCHTOP_BIN=path uses a binary already built (as bench/run.sh does).
if [ -n "${FETCHTOP_BIN:-}" ]; then
    bin="$FETCHTOP_BIN"
else
    (cd "$root" && cargo build --release)
    bin="${CARGO_TARGET_DIR:-$root/target}/release/fetchtop"
fi
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 1; }

# --- scratch space, a private tmux server, cleanup ---------------------------

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fetchtop-shots.XXXXXX")"
# Each scenario gets its own tmux server on a private socket, without the
# user's tmux.conf: the user's tmux is never touched, and one scenario's
# server shutting down cannot race the next scenario's start.
session=""
pid=""         # fetchtop's pid in the current session
sockpath=""    # the session's tmux socket

t() { tmux -u -f /dev/null -L "fetchtop-shots-$$-$session" "$@"; }

alive() { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

# gone_within SECONDS: waits for fetchtop to exit; false if it is still there.
gone_within() {
    local deadline=$((SECONDS + $1))
    while alive; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# stop: ends fetchtop while its terminal is still there (q, as a user would),
# then the session, so every run ends the way it would for a person.
stop() {
    [ -n "$session" ] || return 0
    if alive; then
        t send-keys -t "$session" q 2>/dev/null || true      # finish in-flight, quit
        gone_within 5 || t send-keys -t "$session" q 2>/dev/null || true  # abort
        gone_within 3 || kill -TERM "$pid" 2>/dev/null || true
        gone_within 2 || kill -KILL "$pid" 2>/dev/null || true
    fi
    t kill-server 2>/dev/null || true
    [ -z "$sockpath" ] || rm -f "$sockpath"     # tmux leaves it behind
    session="" pid="" sockpath=""
}

cleanup() {
    stop
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
    # remain-on-exit keeps the pane, and its last screen, if fetchtop exits
    # early; the command is run directly (no shell), so the pane's pid is
    # fetchtop's.
    t start-server \; set-option -g remain-on-exit on \; \
        new-session -d -s "$session" -x "$cols" -y "$rows" \
        env -u NO_COLOR -u LC_ALL -u LC_CTYPE LANG=C.UTF-8 TERM=xterm-256color "$bin" "$@"
    pid="$(t display-message -p -t "$session" '#{pane_pid}')"
    sockpath="$(t display-message -p -t "$session" '#{socket_path}')"
    # A lone client-less server would resize the window to its default size.
    t set-option -t "$session" window-size manual >/dev/null
    t resize-window -t "$session" -x "$cols" -y "$rows" >/dev/null
}

# wait_for REGEX [SECONDS]: polls the screen until an extended regex matches.
wait_for() {
    local re="$1" limit="${2:-20}"
    local deadline=$((SECONDS + limit))
    until screen | grep -E -- "$re" >/dev/null; do
        alive || die_with_screen "fetchtop exited while waiting for /$re/"
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
        alive || die_with_screen "fetchtop exited while waiting for clock ${want}s"
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

# The pane goes through three steps on its way to HTML:
# 1. sgr.pl rewrites tmux's colour codes into plain ones: aha 0.5 gets
#    reverse video wrong (the selected table row), draws colour 8 (the
#    borders) in two different greys and ignores dim.
# 2. aha turns the ANSI into HTML.
# 3. palette.sed swaps aha's harsh named colours (lime, fuchsia, a
#    brightness filter for the bright ones) for a terminal palette.
cat >"$tmp/sgr.pl" <<'EOF'
use strict; use warnings;
my @pal = ([0,0,0],[205,0,0],[0,205,0],[205,205,0],[0,0,238],[205,0,205],[0,205,205],[229,229,229],
           [127,127,127],[255,0,0],[0,255,0],[255,255,0],[92,92,255],[255,0,255],[0,255,255],[255,255,255]);
my %s;
sub reset_all { %s = (b => 0, d => 0, u => 0, r => 0, fg => -1, bg => -1) }
reset_all();
# The nearest of the 16 ANSI colours to an RGB triple.
sub nearest {
    my ($r, $g, $b) = @_;
    my ($best, $bd) = (0, 1e9);
    for my $i (0 .. 15) {
        my $d = ($pal[$i][0] - $r)**2 + ($pal[$i][1] - $g)**2 + ($pal[$i][2] - $b)**2;
        ($best, $bd) = ($i, $d) if $d < $bd;
    }
    $best
}
# A 256-colour index reduced to the 16 ANSI colours.
sub idx {
    my $n = shift;
    return $n if $n < 16;
    if ($n >= 232) { my $v = 8 + 10 * ($n - 232); return nearest($v, $v, $v) }
    $n -= 16;
    nearest(map { $_ ? 55 + 40 * $_ : 0 } (int($n / 36), int($n / 6) % 6, $n % 6))
}
# The colour after 38 or 48: 5;N or 2;R;G;B.
sub colour {
    my $p = shift;
    my $m = shift @$p // 0;
    return idx(shift @$p // 0) if $m == 5;
    return nearest(map { shift @$p // 0 } 1 .. 3) if $m == 2;
    -1
}
sub sgr {
    my @p = map { $_ eq '' ? 0 : $_ } split /[;:]/, shift, -1;
    @p = (0) unless @p;
    while (@p) {
        my $p = shift @p;
        if    ($p == 0)  { reset_all() }
        elsif ($p == 1)  { $s{b} = 1 }
        elsif ($p == 2)  { $s{d} = 1 }
        elsif ($p == 22) { $s{b} = $s{d} = 0 }
        elsif ($p == 4)  { $s{u} = 1 }
        elsif ($p == 24) { $s{u} = 0 }
        elsif ($p == 7)  { $s{r} = 1 }
        elsif ($p == 27) { $s{r} = 0 }
        elsif ($p >= 30 && $p <= 37)   { $s{fg} = $p - 30 }
        elsif ($p >= 90 && $p <= 97)   { $s{fg} = $p - 82 }
        elsif ($p >= 40 && $p <= 47)   { $s{bg} = $p - 40 }
        elsif ($p >= 100 && $p <= 107) { $s{bg} = $p - 92 }
        elsif ($p == 39) { $s{fg} = -1 }
        elsif ($p == 49) { $s{bg} = -1 }
        elsif ($p == 38) { $s{fg} = colour(\@p) }
        elsif ($p == 48) { $s{bg} = colour(\@p) }
    }
    my ($f, $b) = ($s{fg}, $s{bg});
    $f = 8 if $s{d} && ($f == -1 || $f == 7 || $f == 15);
    # Reversed: the default background becomes black text, the default
    # foreground a light background.
    ($f, $b) = ($b == -1 ? 0 : $b, $f == -1 ? 7 : $f) if $s{r};
    my @o = (0);
    push @o, 1 if $s{b};
    push @o, 4 if $s{u};
    push @o, $f < 8 ? 30 + $f : 82 + $f if $f >= 0;
    push @o, 40 + $b % 8 if $b >= 0;    # aha has no bright backgrounds
    "\e[" . join(';', @o) . 'm'
}
while (<STDIN>) { s/\e\[([0-9;:]*)m/sgr($1)/ge; print }
EOF
bright='filter: contrast\(70%\) brightness\(190%\);'
cat >"$tmp/palette.sed" <<EOF
s/<body style="[^"]*">/<body>/
s/${bright}color:dimgray;/color:#767676;/g
s/${bright}color:red;/color:#f14c4c;/g
s/${bright}color:lime;/color:#23d18b;/g
s/${bright}color:yellow;/color:#f5f543;/g
s/${bright}color:#3333FF;/color:#3b8eea;/g
s/${bright}color:fuchsia;/color:#d670d6;/g
s/${bright}color:aqua;/color:#29b8db;/g
s/${bright}color:white;/color:#ffffff;/g
s/${bright}//g
s/([";])color:dimgray;/\1color:#000000;/g
s/([";])color:red;/\1color:#cd3131;/g
s/([";])color:lime;/\1color:#0dbc79;/g
s/([";])color:yellow;/\1color:#e5e510;/g
s/([";])color:#3333FF;/\1color:#2472c8;/g
s/([";])color:fuchsia;/\1color:#bc3fbc;/g
s/([";])color:aqua;/\1color:#11a8cd;/g
s/([";])color:white;/\1color:#c8c8c8;/g
s/background-color:black;/background-color:#000000;/g
s/background-color:red;/background-color:#cd3131;/g
s/background-color:lime;/background-color:#0dbc79;/g
s/background-color:yellow;/background-color:#e5e510;/g
s/background-color:#3333FF;/background-color:#2472c8;/g
s/background-color:fuchsia;/background-color:#bc3fbc;/g
s/background-color:aqua;/background-color:#11a8cd;/g
s/background-color:white;/background-color:#d4d4d4;/g
EOF

# The font: DejaVu Sans Mono advances 1233/2048 em, so at this size a column
# is exactly 9 px (fractional columns leave seams in bars and box lines).
# Its glyphs are 1.164 em tall (17.4 px): 17 px rows overlap them a little,
# which keeps box lines and block bars joined (taller rows leave gaps).
font_px=14.9489
col_px=9
row_px=17
# Runs of horizontal lines and block elements (bars, charts) get a faint
# sideways shadow of their own colour, which closes the hairline seams left
# between neighbouring glyphs by anti-aliasing.
style="<style>html,body{margin:0;background:#000;color:#e0e0e0} body{padding:8px} pre{font-family:\"DejaVu Sans Mono\",monospace;font-size:${font_px}px;line-height:${row_px}px;margin:0} .j{text-shadow:0.6px 0 0 currentColor}</style>"

# shoot FILE: captures the screen with colours and renders it to FILE.
shoot() {
    local out="$here/$1"
    local ansi="$tmp/$1.ansi" html="$tmp/$1.html"
    t capture-pane -e -p -t "$session" >"$ansi"
    perl "$tmp/sgr.pl" <"$ansi" |
        aha --black --title fetchtop |
        sed -E -f "$tmp/palette.sed" |
        perl -CSD -pe 's/([\x{2500}\x{2501}\x{2580}-\x{259F}]+)/<span class="j">$1<\/span>/g' |
        sed "s|</head>|${style}</head>|" >"$html"
    local w=$((cols * col_px + 16))
    local h=$((rows * row_px + 16))
    rm -f "$out"
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --disable-quic \
        --user-data-dir="$tmp/chromium" --hide-scrollbars \
        --window-size="$w,$h" --screenshot="$out" "file://$html" \
        >"$tmp/chromium.log" 2>&1 || true
    [ -s "$out" ] || { cat "$tmp/chromium.log" >&2; die_with_screen "chromium made no $out"; }
    echo "wrote $out (${w}x${h}, $(du -k "$out" | cut -f1) KB)"
}

# finish: quits fetchtop (q) and stops the scenario's tmux server.
finish() {
    alive || die_with_screen "fetchtop exited before the end of the scenario"
    stop
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
    local t0
    t0="$(clock)"
    keys C
    wait_for '⊘ cancelled +[1-9]'
    wait_for 'cancelled all'
    # A second or two on, so the charts have a sample after the cancel; the
    # footer notice lasts 3 s, so it is still there.
    wait_clock $((t0 + 2))
    wait_for 'cancelled all' 1
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

shot_06() {
    start s06 demo --scenario blocking --workers 1
    wait_for "$running"
    wait_for 'the executor is blocked' 30
    wait_clock 6
    shoot 06-blocking.png
    finish
}

# A recorded demo run, replayed: paused a few seconds in, then stepped.
shot_07() {
    "$bin" demo -z 12s --no-tui --record "$tmp/run.rec" >/dev/null
    start s07 replay "$tmp/run.rec"
    wait_for 'replay'
    keys ' '
    sleep 5
    keys ' ' '.' '.'
    wait_for 'replay ⏸'
    settle
    shoot 07-replay.png
    finish
}

# A page of the HTML report, in the same headless Chromium.
shot_08() {
    "$bin" demo -z 15s --no-tui -c 20 --latency 5ms..200ms \
        --report "$tmp/report.html" >/dev/null || true
    [ -s "$tmp/report.html" ] || { echo "take.sh: no report written" >&2; exit 1; }
    local out="$here/08-report.png"
    rm -f "$out"
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --disable-quic \
        --user-data-dir="$tmp/chromium" --hide-scrollbars \
        --window-size=1280,2000 --screenshot="$out" "file://$tmp/report.html" \
        >"$tmp/chromium.log" 2>&1 || true
    [ -s "$out" ] || { cat "$tmp/chromium.log" >&2; exit 1; }
    echo "wrote $out (1280x2000, $(du -k "$out" | cut -f1) KB)"
}

all=(01 02 03 04 05 06 07 08)
pick=("$@")
[ "${#pick[@]}" -gt 0 ] || pick=("${all[@]}")
for p in "${pick[@]}"; do
    matched=0
    for s in "${all[@]}"; do
        case "$s" in "$p"*) "shot_$s"; matched=1 ;; esac
    done
    [ "$matched" -eq 1 ] || { echo "no scenario $p (have: ${all[*]})" >&2; exit 2; }
done
