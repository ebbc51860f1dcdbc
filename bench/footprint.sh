#!/usr/bin/env bash
# Memory footprint of a 1,000,000-URL list job against the built-in demo API
# on loopback (started by the test itself). Prints time, rate and peak RSS;
# fails if peak RSS reaches 100 MB or any item is missing.
# Usage: bench/footprint.sh [LINES]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
export FETCHTOP_FOOTPRINT_LINES="${1:-1000000}"
cargo test --release --test footprint -- --ignored --nocapture 2>&1 | grep -E "URLs from a list|test result|panicked|assert"
