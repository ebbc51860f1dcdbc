#!/usr/bin/env python3
"""Turns bench/run.sh's raw results into one table of medians and the ratios.

Input: a folder with one `<client>-<round>.json` (the client's own result)
and `<client>-<round>.time` (GNU time -v) per run. Output: a Markdown table.

  report.py [--scenario compare|tls] FOLDER

The scenario (default compare) picks the target check printed at the end.
Clients are whatever the file names say: wrk, oha, fetchtop-headless
(default flags), fetchtop-w1 (--workers 1), fetchtop-tui.
"""
import json
import re
import statistics
import sys
from pathlib import Path


def time_v(path):
    text = path.read_text()
    def field(name):
        m = re.search(rf"{re.escape(name)}: ([0-9.]+)", text)
        return float(m.group(1)) if m else None
    return {
        "cpu_s": (field("User time (seconds)") or 0) + (field("System time (seconds)") or 0),
        "rss_mb": (field("Maximum resident set size (kbytes)") or 0) / 1024,
    }


def parse(client, path):
    text = path.read_text()
    if client == "wrk":
        line = next(l for l in text.splitlines() if l.startswith("WRK_JSON "))
        v = json.loads(line[len("WRK_JSON "):])
        secs = v["duration_us"] / 1e6
        return {"requests": v["requests"], "rps": v["requests"] / secs,
                "p50": v["p50_us"] / 1e3, "p99": v["p99_us"] / 1e3, "p999": v["p999_us"] / 1e3,
                "errors": v["errors"]}
    if client == "oha":
        v = json.loads(text)
        codes = v.get("statusCodeDistribution", {})
        errors = sum(v.get("errorDistribution", {}).values())
        requests = sum(codes.values()) + errors
        lp = v["latencyPercentiles"]
        # Failures for the warning below: non-2xx answers, and errors other than
        # the requests still in flight when -z ran out.
        bad = sum(n for code, n in codes.items() if not str(code).startswith("2")) + sum(
            n for e, n in v.get("errorDistribution", {}).items() if "deadline" not in e)
        return {"requests": requests, "rps": v["summary"]["requestsPerSec"],
                "p50": lp["p50"] * 1e3, "p99": lp["p99"] * 1e3, "p999": lp["p99.9"] * 1e3,
                "errors": bad}
    # fetchtop (headless or dashboard): its --json summary.
    v = json.loads(text.strip().splitlines()[-1])
    lat = v["latency_ms"]
    return {"requests": v["total"], "rps": v["rps"], "p50": lat["p50"], "p99": lat["p99"],
            "p999": lat["p999"], "errors": v["failed"]}


# The targets, per scenario: (name, client, against, measure, op, goal). Each
# is the median over rounds of the ratio measured within a round.
TARGETS = {
    "compare": [
        ("CPU µs/request, headless (default flags), vs oha", "fetchtop-headless", "oha", "cpu_us_per_req", "<=", 0.9),
        ("requests/s, headless (default flags), vs oha", "fetchtop-headless", "oha", "rps", ">=", 1.0),
        ("CPU µs/request, dashboard on, vs oha", "fetchtop-tui", "oha", "cpu_us_per_req", "<=", 1.0),
        ("moonshot: CPU µs/request, headless (default flags), vs wrk", "fetchtop-headless", "wrk", "cpu_us_per_req", "<=", 1.3),
        ("p99, dashboard on, vs wrk", "fetchtop-tui", "wrk", "p99", "<=", 1.5),
        ("requests/s, dashboard on vs off", "fetchtop-tui", "fetchtop-headless", "rps", ">=", 0.97),
    ],
    "tls": [
        ("requests/s, headless (default flags), vs oha", "fetchtop-headless", "oha", "rps", ">=", 1.0),
        ("CPU µs/request, headless (default flags), vs oha", "fetchtop-headless", "oha", "cpu_us_per_req", "<=", 0.9),
    ],
}


def main(folder, scenario="compare"):
    folder = Path(folder)
    runs = {}
    for result in sorted(folder.glob("*.json")):
        client, _round = result.stem.rsplit("-", 1)
        r = parse(client, result)
        r["_file"] = result.name
        r.update(time_v(result.with_suffix(".time")))
        r["cpu_us_per_req"] = r["cpu_s"] / max(r["requests"], 1) * 1e6
        runs.setdefault(client, []).append(r)
    keys = ["rps", "p50", "p99", "p999", "rss_mb", "cpu_us_per_req"]
    rounds = {}
    for result in sorted(folder.glob("*.json")):
        client, rnd = result.stem.rsplit("-", 1)
        rounds.setdefault(client, {})[rnd] = next(
            r for r in runs[client] if r.get("_file") == result.name)
    med = {c: {k: statistics.median(r[k] for r in rs) for k in keys} | {"n": len(rs)}
           for c, rs in runs.items()}
    print("| client | runs | requests/s | p50 ms | p99 ms | p99.9 ms | peak RSS MB | CPU µs/request |")
    print("|---|---|---|---|---|---|---|---|")
    for c, m in med.items():
        print(f"| {c} | {m['n']} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['p999']:.2f} "
              f"| {m['rss_mb']:.1f} | {m['cpu_us_per_req']:.2f} |")
    # wrk counts non-2xx/3xx answers as errors, fetchtop as failed: a run with
    # failures measured something else (a 403 page, a refused connection).
    for c, rs in runs.items():
        bad = sum(r["errors"] for r in rs)
        if bad:
            print(f"\nWARNING: {c}: {bad:,} failed requests over {len(rs)} runs "
                  f"({bad / max(sum(r['requests'] for r in rs), 1):.1%}); its figures are not comparable")
    def ratio(a, b, k):
        if a in med and b in med and med[b][k]:
            return f"{med[a][k] / med[b][k]:.2f}"
        return "n/a"
    print()
    print("| ratio (medians) | requests/s | p99 | CPU µs/request | peak RSS |")
    print("|---|---|---|---|---|")
    # Only the pairs whose clients both ran. fetchtop-w1 (one event loop) is
    # reported beside the default flags, with no target of its own.
    for a, b in [("fetchtop-tui", "wrk"), ("fetchtop-tui", "oha"), ("fetchtop-headless", "wrk"),
                 ("fetchtop-headless", "oha"), ("fetchtop-tui", "fetchtop-headless"),
                 ("fetchtop-w1", "wrk"), ("fetchtop-w1", "oha"), ("fetchtop-headless", "fetchtop-w1")]:
        if a not in med or b not in med:
            continue
        print(f"| {a} / {b} | {ratio(a, b, 'rps')} | {ratio(a, b, 'p99')} "
              f"| {ratio(a, b, 'cpu_us_per_req')} | {ratio(a, b, 'rss_mb')} |")

    # Each target is the median over rounds of the ratio measured within the
    # round (clients run interleaved, so a round's clients saw the same machine).
    def round_ratio(a, b, k):
        if a not in rounds or b not in rounds:
            return None
        common = sorted(set(rounds[a]) & set(rounds[b]))
        vals = [rounds[a][r][k] / rounds[b][r][k] for r in common if rounds[b][r][k]]
        return statistics.median(vals) if vals else None
    targets = TARGETS.get(scenario, [])
    if not targets:
        return
    print()
    print("| target (median of per-round ratios) | measured | goal | met |")
    print("|---|---|---|---|")
    for name, a, b, k, op, goal in targets:
        v = round_ratio(a, b, k)
        if v is None:
            print(f"| {name} | n/a | {op} {goal} | n/a ({a} or {b} did not run) |")
            continue
        ok = v <= goal if op == "<=" else v >= goal
        print(f"| {name} | {v:.2f} | {op} {goal} | {'PASS' if ok else 'FAIL'} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    scenario = "compare"
    if len(args) >= 2 and args[0] == "--scenario":
        scenario, args = args[1], args[2:]
    if len(args) != 1 or scenario not in TARGETS:
        sys.exit(f"usage: report.py [--scenario {'|'.join(TARGETS)}] FOLDER")
    main(args[0], scenario)
