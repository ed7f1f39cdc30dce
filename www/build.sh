#!/usr/bin/env bash
# Builds the deployable viewer into www/dist/ (index.html, styles.css, main.js, pkg/ with the
# viewer, preview/ with the workload-preview module that the page loads when the preview tab
# is first opened): copy that folder to any static host. Building sage-cp-bench after this
# embeds the viewer in its HTML reports (native/build.rs). Prints raw and gzipped sizes of what
# a visit loads (goal: at most 300 KB gzipped) and of the preview module.
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
wasm_dir=target/wasm32-unknown-unknown/$profile

want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "error: wasm-bindgen-cli ${have:-missing}, Cargo.lock has wasm-bindgen $want: cargo install wasm-bindgen-cli --version $want" >&2
  exit 2
fi

# Two builds, so that the viewer's does not carry the preview module's export (features are
# resolved per invocation).
echo "== cargo build --profile $profile --target wasm32-unknown-unknown -p cpbench-viewer"
cargo build --locked --profile "$profile" --target wasm32-unknown-unknown -p cpbench-viewer
echo "== cargo build --profile $profile --target wasm32-unknown-unknown -p cpbench-viewer-preview --features module"
cargo build --locked --profile "$profile" --target wasm32-unknown-unknown -p cpbench-viewer-preview --features module

rm -rf "$out"
mkdir -p "$out/pkg" "$out/preview"
bindgen() {
  wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$2" "$1"
  local bg
  bg="$2/$(basename "$1" .wasm)_bg.wasm"
  if [ -n "${WASM_OPT:-}" ]; then
    echo "== $WASM_OPT -Oz $bg"
    "$WASM_OPT" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-reference-types --enable-multivalue --enable-mutable-globals "$bg" -o "$bg.opt"
    mv "$bg.opt" "$bg"
  fi
}
bindgen "$wasm_dir/cpbench_viewer.wasm" "$out/pkg"
bindgen "$wasm_dir/cpbench_viewer_preview.wasm" "$out/preview"
# The gzipped viewer module that sage-cp-bench builds into its single-file HTML reports
# (native/build.rs embeds this folder when it exists at build time). A static host needs
# only the plain .wasm.
gzip -9 -n -c "$out/pkg/cpbench_viewer_bg.wasm" > "$out/pkg/cpbench_viewer_bg.wasm.gz"

cp www/index.html www/styles.css www/main.js "$out/"

size() { wc -c < "$1" | tr -d ' '; }
gz() { gzip -9 -c "$1" | wc -c | tr -d ' '; }
report() {
  local title=$1
  shift
  local raw=0 zipped=0 r g f
  for f in "$@"; do
    r=$(size "$f")
    g=$(gz "$f")
    raw=$((raw + r))
    zipped=$((zipped + g))
    printf '  %-52s %8d bytes  %8d gzipped\n' "${f#"$out"/}" "$r" "$g"
  done
  printf '  %-52s %8d bytes  %8d gzipped\n' "$title" "$raw" "$zipped"
}
echo "== bundle ($out)"
echo "what a visit loads (goal: at most 307200 bytes gzipped):"
mapfile -t snippets < <(find "$out/pkg/snippets" -name '*.js' | sort)
report "total" "$out"/index.html "$out"/styles.css "$out"/main.js "$out"/pkg/cpbench_viewer.js "${snippets[@]}" \
  "$out"/pkg/cpbench_viewer_bg.wasm
echo "loaded when the workload preview is first opened:"
report "total" "$out"/preview/cpbench_viewer_preview.js "$out"/preview/cpbench_viewer_preview_bg.wasm
