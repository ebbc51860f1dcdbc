#!/usr/bin/env bash
# Fuzzes the parsers that read untrusted input: the {a..b} template parser
# and the list reader. Not run by CI: fuzzing needs a nightly toolchain and
# cargo-fuzz, and runs for as long as you give it.
#
#   fuzz/run.sh                 each target for 60 s
#   fuzz/run.sh 600 list        the list reader for 10 minutes
#   fuzz/run.sh --check         only build the targets (no fuzzing)
#
# Starts from fuzz/seeds/<target>/ (committed; add each crash you fix there)
# and keeps what it learns in fuzz/corpus/<target>/ (not committed).
# Crashes land in fuzz/artifacts/<target>/; rerun one with
#   cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")"

check_only=false
if [[ "${1:-}" == "--check" ]]; then
    check_only=true
    shift
fi
secs="${1:-60}"
[[ $# -gt 0 ]] && shift
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(template list)

if ! command -v rustup >/dev/null 2>&1; then
    echo "fuzz/run.sh: rustup is not installed; cargo-fuzz needs rustup's nightly toolchain." >&2
    exit 1
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz/run.sh: no nightly toolchain: 'rustup toolchain list' shows none." >&2
    echo "  cargo-fuzz needs nightly (sanitizer flags). Install it with:" >&2
    echo "    rustup toolchain install nightly" >&2
    echo "  The same properties are checked on stable by the proptest tests:" >&2
    echo "    cargo test --lib -- template source::props" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz is not installed. Install it with:" >&2
    echo "    cargo install cargo-fuzz --locked" >&2
    exit 1
fi

for t in "${targets[@]}"; do
    if $check_only; then
        echo "== building fuzz target $t"
        cargo +nightly fuzz build "$t"
    else
        echo "== fuzzing $t for ${secs}s"
        # New inputs go to corpus/ (not committed); seeds/ is read only.
        mkdir -p "corpus/$t"
        cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$secs" -rss_limit_mb=2048
    fi
done
