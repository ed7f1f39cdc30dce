#!/usr/bin/env bash
# The whole test suite: formatting, lints, native tests, core on wasm32, browser tests.
#
# First installs what the suite needs and is missing:
# - rustup's rustfmt and clippy components and the wasm32-unknown-unknown target;
# - wasm-bindgen-cli of exactly the wasm-bindgen version in Cargo.lock (cargo install; it
#   runs core's tests on wasm32 and builds the viewer);
# - Debian's chromium and chromium-driver, and nodejs and npm, with apt-get (through sudo when
#   not root), for the viewer's tests in headless Chromium, and faketime (libfaketime), for
#   the sharded end-to-end test's shard with a shifted clock;
# - kubernetes-validate from PyPI, in a virtual environment under target/tools (python3's venv,
#   from Debian's python3-venv when missing), to check deploy/kubernetes against the schemas.
# The browser tests' npm packages are installed from the committed lockfile by
# scripts/test-browser.sh.
#
# Usage: bash scripts/test.sh [--no-install]
# --no-install (or CPBENCH_NO_INSTALL=1) installs nothing: a missing tool is an error that
# names it and how to install it.
set -euo pipefail
cd "$(dirname "$0")/.."

install=1
for arg in "$@"; do
  case "$arg" in
    --no-install) install=0 ;;
    -h | --help)
      sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "error: unknown argument '$arg'; accepted: --no-install" >&2
      exit 2
      ;;
  esac
done
case "${CPBENCH_NO_INSTALL:-}" in
  "" | 0) ;;
  *) install=0 ;;
esac

# ---- what is needed, and what is missing ---------------------------------------------------

# The wasm-bindgen version in Cargo.lock; wasm-bindgen-cli must be exactly this version.
wb_want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if [ -z "$wb_want" ]; then
  echo "error: no wasm-bindgen package in Cargo.lock" >&2
  exit 2
fi

has_component() { # rustfmt | clippy
  case "$1" in
    rustfmt) cargo fmt --version >/dev/null 2>&1 ;;
    *) cargo "$1" --version >/dev/null 2>&1 ;;
  esac
}

has_wasm_target() {
  [ -d "$(rustc --print sysroot)/lib/rustlib/wasm32-unknown-unknown" ]
}

has_wasm_bindgen() {
  [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" = "$wb_want" ] &&
    [ "$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{print $2}')" = "$wb_want" ]
}

# The browser tests run ${CHROMIUM:-/usr/bin/chromium}; without CHROMIUM, a chromium found
# elsewhere on PATH is used.
if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ] && command -v chromium >/dev/null 2>&1; then
  CHROMIUM=$(command -v chromium)
  export CHROMIUM
fi
has_chromium() {
  [ -x "${CHROMIUM:-/usr/bin/chromium}" ]
}

has_node() { # node >= 18 and npm
  command -v npm >/dev/null 2>&1 || return 1
  local major
  major=$(node --version 2>/dev/null | sed -n 's/^v\([0-9]*\)\..*/\1/p')
  [ -n "$major" ] && [ "$major" -ge 18 ]
}

has_faketime() { command -v faketime >/dev/null 2>&1; }

# kubernetes-validate, pinned: it ships the Kubernetes schemas the manifests are checked against.
kv_want=1.37.0
kv_venv=target/tools/kubernetes-validate
kv_bin=$kv_venv/bin/kubernetes-validate
has_kubernetes_validate() {
  [ -x "$kv_bin" ] && [ "$("$kv_bin" --version 2>/dev/null | awk '{print $NF}')" = "$kv_want" ]
}

# Prints one line per missing tool: what it is, and the command that installs it.
missing() {
  has_component rustfmt || echo "rustfmt: rustup component add rustfmt"
  has_component clippy || echo "clippy: rustup component add clippy"
  has_wasm_target || echo "the wasm32-unknown-unknown target: rustup target add wasm32-unknown-unknown"
  has_wasm_bindgen || echo "wasm-bindgen-cli $wb_want (have: $(wasm-bindgen --version 2>/dev/null || echo none)): cargo install wasm-bindgen-cli --version $wb_want"
  has_chromium || echo "Chromium (${CHROMIUM:-/usr/bin/chromium}): apt-get install chromium chromium-driver, or set CHROMIUM=/path/to/chromium"
  has_node || echo "node >= 18 and npm (have: node $(node --version 2>/dev/null || echo none), npm $(npm --version 2>/dev/null || echo none)): apt-get install nodejs npm"
  has_faketime || echo "faketime (libfaketime): apt-get install faketime"
  has_kubernetes_validate || echo "kubernetes-validate $kv_want in $kv_venv: python3 -m venv $kv_venv && $kv_venv/bin/pip install kubernetes-validate==$kv_want"
}

fail_missing() { # $1: what was (not) done
  echo "error: $1; missing:" >&2
  missing | sed 's/^/  - /' >&2
  exit 2
}

# Runs a command as root: directly, or through sudo when available.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "error: not root and no sudo, cannot run: $*" >&2
    return 1
  fi
}

# ---- install what is missing ---------------------------------------------------------------

if [ -n "$(missing)" ]; then
  if [ "$install" = 0 ]; then
    fail_missing "nothing installed (--no-install or CPBENCH_NO_INSTALL)"
  fi

  if ! has_component rustfmt || ! has_component clippy || ! has_wasm_target; then
    if ! command -v rustup >/dev/null 2>&1; then
      fail_missing "rustup not found, so rustfmt, clippy and the wasm32 target cannot be installed (see https://rustup.rs)"
    fi
    has_component rustfmt || { echo "== rustup component add rustfmt"; rustup component add rustfmt; }
    has_component clippy || { echo "== rustup component add clippy"; rustup component add clippy; }
    has_wasm_target || {
      echo "== rustup target add wasm32-unknown-unknown"
      rustup target add wasm32-unknown-unknown
    }
  fi

  if ! has_wasm_bindgen; then
    echo "== cargo install wasm-bindgen-cli --version $wb_want"
    cargo install wasm-bindgen-cli --version "$wb_want"
  fi

  apt_packages=()
  has_chromium || apt_packages+=(chromium chromium-driver)
  has_node || apt_packages+=(nodejs npm)
  has_faketime || apt_packages+=(faketime)
  if ! has_kubernetes_validate; then
    if ! command -v python3 >/dev/null 2>&1; then
      apt_packages+=(python3 python3-venv)
    elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
      apt_packages+=(python3-venv)
    fi
  fi
  if [ "${#apt_packages[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
      fail_missing "no apt-get to install ${apt_packages[*]} with"
    fi
    echo "== apt-get install ${apt_packages[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
      fail_missing "apt-get update failed"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null ||
      fail_missing "apt-get install ${apt_packages[*]} failed"
  fi

  if ! has_kubernetes_validate; then
    echo "== pip install kubernetes-validate==$kv_want (in $kv_venv)"
    rm -rf "$kv_venv"
    python3 -m venv "$kv_venv" || fail_missing "python3 -m venv $kv_venv failed"
    "$kv_venv/bin/pip" install -q "kubernetes-validate==$kv_want" ||
      fail_missing "pip install kubernetes-validate==$kv_want failed"
  fi

  if [ -n "$(missing)" ]; then
    fail_missing "still missing after installing (is ~/.cargo/bin on PATH?)"
  fi
fi

# ---- the tests -----------------------------------------------------------------------------

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== core builds for wasm32 (no I/O, no clock)"
cargo build --locked -p cpbench-core --target wasm32-unknown-unknown

echo "== Kubernetes manifests against the schemas"
"$kv_bin" --strict --quiet --kubernetes-version "$kv_want" deploy/kubernetes/*.yaml

echo "== native tests"
cargo test --workspace --locked

echo "== core tests on wasm32 (golden workload hashes)"
cargo test --locked -p cpbench-core --target wasm32-unknown-unknown --test golden

echo "== viewer in headless Chromium"
bash scripts/test-browser.sh

echo "== all tests passed"
