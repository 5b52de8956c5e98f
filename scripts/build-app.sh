#!/usr/bin/env bash
# Builds the example app (app/, Leptos compiled to wasm32) into dist/ with
# Trunk, offline, with the pinned tools that scripts/setup.sh installs.
#
#   bash scripts/build-app.sh
#
# Why each setting: ../shared/BUILD.md (Trunk offline needs `cargo fetch`
# first; npm binaryen's wasm-opt, not Debian's; no version check online).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export PATH="$ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true

cargo fetch --locked --quiet
trunk build --release --config Trunk.toml
ls -l dist/*.wasm
