#!/usr/bin/env bash
# The viewer's browser tests: lints the viewer for wasm32, builds the bundle (www/build.sh),
# then sage-cp-bench (which embeds that bundle in its single-file HTML reports) and the native
# workload-hash example, installs the tests' npm packages from the committed
# lockfile, and runs them with node's test runner in headless Chromium (/usr/bin/chromium, or
# CHROMIUM=...). Needs: the wasm32-unknown-unknown target, wasm-bindgen-cli matching
# Cargo.lock, node >= 18, npm, Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

echo "== cargo clippy (viewer, wasm32)"
cargo clippy --locked --target wasm32-unknown-unknown -p cpbench-viewer -p cpbench-viewer-preview \
  --features cpbench-viewer-preview/module --all-targets -- -D warnings

echo "== viewer bundle"
bash www/build.sh

echo "== sage-cp-bench, with the bundle built in (the single-file report)"
cargo build --locked -q -p sage-cp-bench --bin sage-cp-bench

echo "== native workload hash (the preview must match it)"
cargo build --locked -q -p cpbench-core --example workload_hash

echo "== npm ci (tests/browser)"
(cd tests/browser && npm ci --no-audit --no-fund)

echo "== node --test (headless Chromium)"
cd tests/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium} \
  WORKLOAD_HASH_BIN="$root/target/debug/examples/workload_hash" \
  SAGE_CP_BENCH_BIN="$root/target/debug/sage-cp-bench" \
  node --test --test-concurrency=1 viewer.test.mjs attribution.test.mjs single-file.test.mjs
