#!/usr/bin/env bash
# Builds the page into web/dist: the library for WebAssembly (hpnum-web, the GPU through
# WebGPU), wasm-bindgen's JavaScript glue (wasm-bindgen-cli from crates.io, the version
# Cargo.lock pins for the library side, installed once), and the page's own files.
# Serve it with `python3 -m http.server -d web/dist` and open http://localhost:8000/.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$version" ]; then
  cargo install wasm-bindgen-cli --version "$version"
fi
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true

cargo build --release --target wasm32-unknown-unknown -p hpnum-web --lib
rm -rf web/dist
mkdir -p web/dist
wasm-bindgen --target web --no-typescript --out-dir web/dist \
  target/wasm32-unknown-unknown/release/hpnum_web.wasm
cp web/index.html web/app.js web/style.css web/dist/
echo "built web/dist ($(gzip -c web/dist/hpnum_web_bg.wasm | wc -c) bytes of WebAssembly, gzipped)"
