#!/usr/bin/env bash
# Installs what Rekomi's build, app and tests need on a Debian machine, skipping whatever is present.
# Sourced by run.sh and test.sh; safe to run any number of times. Versions: ../shared/NOTES-toolchain.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"
# One target dir outside the clone, so a fresh clone on the same machine builds incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rekomi-target}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

command -v cargo >/dev/null || { echo "setup: Rust is missing; install it with rustup (https://rustup.rs)" >&2; exit 1; }
apt_install ca-certificates pkg-config curl
# Node may come from elsewhere (NodeSource bundles npm); only fall back to Debian's when absent.
command -v npm >/dev/null || apt_install nodejs npm
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
cargo-leptos --version 2>/dev/null | grep -q ' 0.3.10$' ||
  cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads
wasm-bindgen --version 2>/dev/null | grep -q ' 0.2.129$' ||
  cargo install wasm-bindgen-cli --version 0.2.129 --locked --force
# wasm-opt from npm: Debian's binaryen 108 produces wasm that silently fails to hydrate.
[ -x .tools/node_modules/.bin/wasm-opt ] || npm install --prefix .tools --no-save --no-audit --no-fund binaryen@123 >/dev/null

# The fake Klaviyo's own binary (crate fakes/; the production server contains none of it), for the
# demo and the browser tests. Run after `cargo leptos build --release`, into the same target dir.
# cargo-leptos compiles with LEPTOS_OUTPUT_NAME set to the site name, and leptos reads it at compile
# time: the same value here reuses those release artifacts, where a plain `cargo build` would rebuild
# leptos, app and server, and the next `cargo leptos build` would rebuild them back.
build_fake_klaviyo() {
  LEPTOS_OUTPUT_NAME=rekomi cargo build --release -p fakes --bin fake-klaviyo --bin fake-shopify
}
