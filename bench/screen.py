#!/usr/bin/env python3
"""Watches a dashboard in a tmux session for bench/run.sh.

  screen.py SOCKET SESSION wait PATTERN           ms until PATTERN (a regex) shows
  screen.py SOCKET SESSION press KEY PATTERN      ms from pressing KEY until PATTERN shows

The clock starts inside this process, just before the key is sent, so
Python's start-up is not counted; tmux's own delay (it reads the pane's
output and serves capture-pane) is. The screen is polled every 2 ms; after
30 s it prints "timeout" and exits 1.
"""
import re
import subprocess
import sys
import time


def screen(sock, session):
    return subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", session],
                          capture_output=True, text=True).stdout


def wait(sock, session, pattern, start):
    pattern = re.compile(pattern)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if pattern.search(screen(sock, session)):
            return (time.monotonic_ns() - start) / 1e6
        time.sleep(0.002)
    return None


def main():
    sock, session, verb = sys.argv[1:4]
    start = time.monotonic_ns()
    if verb == "press":
        key, pattern = sys.argv[4:6]
        subprocess.run(["tmux", "-L", sock, "send-keys", "-t", session, key], check=True)
    else:
        pattern = sys.argv[4]
    ms = wait(sock, session, pattern, start)
    if ms is None:
        print("timeout")
        sys.exit(1)
    print(f"{ms:.1f}")


if __name__ == "__main__":
    main()
