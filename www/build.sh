#!/usr/bin/env bash
# Builds the deployable viewer into www/dist/ (index.html, styles.css, main.js, pkg/): copy
# that folder to any static host. Prints the bundle's raw and gzipped sizes (goal: at most
# 300 KB gzipped in all).
#
# Needs the wasm32-unknown-unknown target and wasm-bindgen-cli of exactly the wasm-bindgen
# version in Cargo.lock. WASM_OPT=/path/to/wasm-opt runs wasm-opt -Oz on the result: use the
# one of npm's `binaryen` package (132 works), never Debian's, whose old wasm-opt produces a
# broken module. It is off by default: on this bundle it shrinks the raw size by about 12 %
# but grows the gzipped size by about 8 %.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=wasm-release
out=www/dist
wasm=target/wasm32-unknown-unknown/$profile/cpbench_viewer.wasm

want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "error: wasm-bindgen-cli ${have:-missing}, Cargo.lock has wasm-bindgen $want: cargo install wasm-bindgen-cli --version $want" >&2
  exit 2
fi

echo "== cargo build --profile $profile --target wasm32-unknown-unknown -p cpbench-viewer"
cargo build --locked --profile "$profile" --target wasm32-unknown-unknown -p cpbench-viewer

rm -rf "$out"
mkdir -p "$out/pkg"
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$out/pkg" "$wasm"

wasm_opt=${WASM_OPT:-}
if [ -n "$wasm_opt" ]; then
  echo "== $wasm_opt -Oz"
  "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-reference-types --enable-multivalue --enable-mutable-globals \
    "$out/pkg/cpbench_viewer_bg.wasm" -o "$out/pkg/cpbench_viewer_bg.opt.wasm"
  mv "$out/pkg/cpbench_viewer_bg.opt.wasm" "$out/pkg/cpbench_viewer_bg.wasm"
fi

cp www/index.html www/styles.css www/main.js "$out/"

size() { wc -c < "$1" | tr -d ' '; }
gz() { gzip -9 -c "$1" | wc -c | tr -d ' '; }
total_raw=0
total_gz=0
echo "== bundle ($out)"
for f in "$out"/pkg/cpbench_viewer_bg.wasm "$out"/pkg/cpbench_viewer.js "$out"/main.js "$out"/index.html "$out"/styles.css; do
  r=$(size "$f")
  g=$(gz "$f")
  total_raw=$((total_raw + r))
  total_gz=$((total_gz + g))
  printf '%-40s %8d bytes  %8d gzipped\n' "${f#"$out"/}" "$r" "$g"
done
printf '%-40s %8d bytes  %8d gzipped (goal: at most 307200 gzipped)\n' "total" "$total_raw" "$total_gz"
