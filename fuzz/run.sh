#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ for a while each (see the README's "Fuzzing").
#
# Usage: bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]   (default: 60 s, every target)
#
# Needs cargo-fuzz (cargo install cargo-fuzz) and a nightly toolchain (rustup toolchain install
# nightly), which builds with AddressSanitizer; without nightly it builds on stable with
# RUSTC_BOOTSTRAP=1 and no sanitizer. Each target starts from its committed seeds
# (fuzz/seeds/<target>/) and the inputs earlier runs kept (fuzz/corpus/<target>/, not
# committed); a crash is written to fuzz/artifacts/<target>/ and stops the script.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
if rustup run nightly rustc --version >/dev/null 2>&1; then
  fuzz=(cargo +nightly fuzz)
  sanitizer=()
else
  echo "no nightly toolchain: building on stable with RUSTC_BOOTSTRAP=1, without a sanitizer" >&2
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
  sanitizer=(--sanitizer none)
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <("${fuzz[@]}" list)
fi
for t in "${targets[@]}"; do
  echo "== $t: ${secs} s"
  mkdir -p "fuzz/corpus/$t"
  "${fuzz[@]}" run "${sanitizer[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
