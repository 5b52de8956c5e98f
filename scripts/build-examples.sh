#!/usr/bin/env bash
# Builds the browser halves of the examples (examples/*), offline, with the
# pinned tools scripts/setup.sh installs. Their servers are workspace
# members: `cargo build --workspace` (or the test step) builds them.
#
#   bash scripts/build-examples.sh [own-login|csr-trunk|ssr-hydrate|islands ...]
#
#   examples/own-login/dist/        trunk build (the /idp page)
#   examples/csr-trunk/dist/        trunk build (the whole app)
#   examples/ssr-hydrate/target/site/pkg/
#                                   what `cargo leptos build --release` makes:
#                                   the lib for wasm32 with `hydrate`,
#                                   wasm-bindgen --target web, wasm-opt -Oz,
#                                   the stylesheet as <output-name>.css
#   examples/islands/target/site/pkg/   the same, for the islands app (its
#                                   lib's `hydrate` feature turns on
#                                   `leptos/islands`)
#
# Prints each /idp bundle's size (wasm, raw and gzip).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

trunk_example() {
    local name="$1"
    trunk build --release --config "examples/$name/Trunk.toml"
    # Brotli and gzip copies, which the example's server sends to browsers
    # that take them (as the Notes app's does).
    node scripts/precompress.mjs "examples/$name/dist"
}

# leptos_site NAME OUTPUT_NAME: what `cargo leptos build --release` does for
# examples/NAME (the start-axum layout): its lib for wasm32 with `hydrate`,
# then wasm-bindgen, wasm-opt and the stylesheet, into target/site/pkg/.
leptos_site() {
    local name="$1" output="$2"
    local ex="examples/$name" out="examples/$name/target/site"
    local crate="keyhouse_example_${name//-/_}"
    cargo build --locked --lib -p "keyhouse-example-$name" \
        --target wasm32-unknown-unknown --no-default-features --features hydrate \
        --profile wasm-release
    rm -rf "$out"
    mkdir -p "$out/pkg"
    wasm-bindgen --target web --no-typescript --out-dir "$out/pkg" --out-name "$output" \
        "$TARGET/wasm32-unknown-unknown/wasm-release/$crate.wasm"
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
        "$out/pkg/${output}_bg.wasm" -o "$out/pkg/${output}_bg.wasm"
    cp style/keyhouse-idp.css "$out/pkg/$output.css"
    if [ -d "$ex/public" ]; then cp -r "$ex/public/." "$out/"; fi
}

size_of() {
    local wasm="$1"
    printf '  %-12s %8d bytes wasm, %8d gzip  (%s)\n' "$2" "$(stat -c %s "$wasm")" \
        "$(gzip -9 -c "$wasm" | wc -c)" "${wasm#"$ROOT"/}"
}

cargo fetch --locked --quiet
names=("$@")
if [ ${#names[@]} -eq 0 ]; then names=(own-login csr-trunk ssr-hydrate islands); fi
for name in "${names[@]}"; do
    case "$name" in
        own-login | csr-trunk) trunk_example "$name" ;;
        ssr-hydrate) leptos_site ssr-hydrate ssr_hydrate ;;
        islands) leptos_site islands islands ;;
        *) echo "unknown example: $name" >&2; exit 2 ;;
    esac
done
echo "/idp bundle per example:"
for name in "${names[@]}"; do
    case "$name" in
        ssr-hydrate) size_of "$ROOT/examples/ssr-hydrate/target/site/pkg/ssr_hydrate_bg.wasm" "$name" ;;
        islands) size_of "$ROOT/examples/islands/target/site/pkg/islands_bg.wasm" "$name" ;;
        *) size_of "$(ls "$ROOT/examples/$name/dist/"*_bg.wasm)" "$name" ;;
    esac
done
