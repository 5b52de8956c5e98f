#!/usr/bin/env bash
# Builds the example app (app/, Leptos compiled to wasm32) into dist/ with
# Trunk, offline, with the pinned tools that scripts/setup.sh installs.
#
#   bash scripts/build-app.sh
#
# Three bundles, so the user-facing pages and the consent screen never
# download the organization pages or the operator dashboard:
#   dist/          app/index.html  (keyhouse-app:   /, /login, /signup, /account, /idp)
#   dist/org/      app/org.html    (keyhouse-org:   /org/...)
#   dist/admin/    app/admin.html  (keyhouse-admin: /admin/...)
#
# Then every asset gets a brotli and a gzip copy (scripts/precompress.mjs).
#
# Why each setting: docs/building.md (Trunk offline needs `cargo fetch`
# first; npm binaryen's wasm-opt, not Debian's; no version check online).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export PATH="$ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true

cargo fetch --locked --quiet
trunk build --release --config Trunk.toml
# The other bundles, each served under its path: the organization pages, the
# dashboard, and the two consent pages (their own small bundles; /org/idp's
# lives inside /org's folder, so it is built after it).
for bundle in org:org admin:admin idp:idp org-idp:org/idp; do
    name="${bundle%%:*}"
    under="${bundle#*:}"
    # Each Trunk build replaces its dist directory: build aside, then move in.
    out="$ROOT/target/trunk-$name"
    trunk build --release --config Trunk.toml --dist "$out" --public-url "/$under/" "app/$name.html"
    rm -rf "dist/$under"
    cp -r "$out" "dist/$under"
    if [ -f "dist/$under/$name.html" ]; then
        mv "dist/$under/$name.html" "dist/$under/index.html"
    fi
done
# Brotli and gzip copies beside each asset, sent to browsers that accept
# them (server/src/web.rs).
node scripts/precompress.mjs dist
ls -l dist/*.wasm dist/org/*.wasm dist/admin/*.wasm dist/idp/*.wasm dist/org/idp/*.wasm
