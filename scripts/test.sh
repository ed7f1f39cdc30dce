#!/usr/bin/env bash
# The whole test suite: formatting, lints, native tests, core on wasm32, browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== core builds for wasm32 (no I/O, no clock)"
cargo build --locked -p cpbench-core --target wasm32-unknown-unknown

echo "== native tests"
cargo test --workspace --locked

echo "== core tests on wasm32 (golden workload hashes)"
cargo test --locked -p cpbench-core --target wasm32-unknown-unknown --test golden

echo "== viewer in headless Chromium"
bash scripts/test-browser.sh

echo "== all tests passed"
