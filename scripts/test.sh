#!/usr/bin/env bash
# The one test command: set-up, formatting, clippy, the whole test suite on SQLite
# (and the server's `otlp` feature), the app built with Trunk and driven in
# Chromium (e2e/), then the integration tests again on a throwaway PostgreSQL server.
#
#   bash scripts/test.sh
#
# Stops at the first failing step; prints a summary either way.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ "${CI:-}" = "true" ]; then
    export CARGO_TERM_COLOR=never
    # A clean clone builds everything once: incremental compilation's
    # bookkeeping only slows the workspace crates down.
    export CARGO_INCREMENTAL=0
fi

# shellcheck source=scripts/pg.sh
source "$ROOT/scripts/pg.sh"

SUMMARY=()
CURRENT=""
STEP_START=0
SCRIPT_START=$SECONDS

banner() {
    printf '\n==> %s\n' "$*"
}

# step NAME CMD [ARGS...] : runs one step, recording it for the summary.
step() {
    local name="$1"
    shift
    CURRENT="$name"
    STEP_START=$SECONDS
    banner "$name"
    "$@"
    SUMMARY+=("ok    $(printf '%4ss' $((SECONDS - STEP_START)))  $name")
    CURRENT=""
}

finish() {
    local rc=$?
    pg_stop
    if [ -n "$CURRENT" ]; then
        SUMMARY+=("FAIL  $(printf '%4ss' $((SECONDS - STEP_START)))  $CURRENT")
    fi
    printf '\n==> summary\n'
    local line
    for line in "${SUMMARY[@]}"; do
        printf '  %s\n' "$line"
    done
    if [ "$rc" -eq 0 ]; then
        printf 'all tests passed in %ss\n' $((SECONDS - SCRIPT_START))
    else
        printf 'FAILED (exit %s) after %ss\n' "$rc" $((SECONDS - SCRIPT_START))
    fi
    exit "$rc"
}
trap finish EXIT
# Interrupted or terminated: exit through the EXIT trap so PostgreSQL is stopped too.
trap 'exit 130' INT
trap 'exit 143' TERM

sqlite_tests() {
    KEYHOUSE_TEST_DB=sqlite cargo test --workspace --locked
}

# The `otlp` feature of the server (traces to an OpenTelemetry collector): its
# unit tests and the collector test (server/tests/it/otlp.rs). `--workspace`
# with `--features keyhouse/otlp` resolves every other crate's features as the
# step above did, so only the feature's crates and the keyhouse targets are
# built (`-p keyhouse` alone would unify fewer features and rebuild much of the
# tree). Measured after the step above: about 45 s, the feature's 8 crates 10 s
# of it.
otlp_tests() {
    KEYHOUSE_TEST_DB=sqlite cargo test --workspace --locked --features keyhouse/otlp --bin keyhouse
    KEYHOUSE_TEST_DB=sqlite cargo test --workspace --locked --features keyhouse/otlp --test it -- otlp::
    # target/debug/keyhouse is now the feature's build: link the default one
    # back (built by the step above, so nothing is compiled) for the e2e tests.
    cargo test --workspace --locked --test it --no-run
}

postgres_tests() {
    pg_start
    KEYHOUSE_TEST_DB=postgres KEYHOUSE_TEST_PG_URL="$KEYHOUSE_TEST_PG_URL" \
        cargo test --workspace --locked --test '*'
    pg_stop
}

e2e_tests() {
    # The SQLite step built target/debug/keyhouse for the binary's own tests;
    # building it again with `-p keyhouse` alone would unify other features
    # and recompile half the dependency tree.
    if [ ! -x "$ROOT/target/debug/keyhouse" ]; then
        cargo build --locked -p keyhouse --bin keyhouse
    fi
    KEYHOUSE_BIN="$ROOT/target/debug/keyhouse" node "$ROOT/e2e/run.mjs"
}

LIBRARIES=(-p keyhouse-types -p keyhouse-core -p keyhouse-store -p keyhouse-axum -p keyhouse-idp-component)

library_docs() {
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked "${LIBRARIES[@]}"
    # The component as docs.rs documents it, its islands included.
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked -p keyhouse-idp-component \
        --features ssr,islands
}

# Contents and manifests. Building each crate from its own tarball, as
# crates.io would, recompiles the dependency tree with each crate's own
# features (6 minutes on a cold machine), so it is left to a release:
#   cargo package --locked -p keyhouse-types -p keyhouse-core -p keyhouse-store \
#       -p keyhouse-axum -p keyhouse-idp-component
library_package() {
    cargo package --no-verify --locked --allow-dirty "${LIBRARIES[@]}"
}

clippy_examples_wasm() {
    cargo clippy --locked --target wasm32-unknown-unknown \
        -p keyhouse-example-own-login -p keyhouse-example-csr-trunk -- -D warnings
    cargo clippy --locked --target wasm32-unknown-unknown --lib -p keyhouse-example-ssr-hydrate \
        --no-default-features --features hydrate -- -D warnings
    # The islands example on its own (its features turn on `leptos/islands`,
    # which must not be unified into the other Leptos crates' builds), both
    # halves: the workspace clippy above saw it with no feature.
    # The component crate with them: its `islands` module exists only then.
    cargo clippy --locked --target wasm32-unknown-unknown --lib -p keyhouse-example-islands \
        -p keyhouse-idp-component --features keyhouse-example-islands/hydrate -- -D warnings
    cargo clippy --locked --all-targets -p keyhouse-example-islands -p keyhouse-idp-component \
        --features keyhouse-example-islands/ssr -- -D warnings
}

examples_tests() {
    # `cargo test` built the examples' code as test harnesses, not their
    # binaries; the keyhouse command (which registers the GPT) is built.
    # The whole workspace's bins and tests, in the `test` profile: exactly
    # the units `cargo test --workspace` built (same features, same profile),
    # so only the six missing binaries are linked. With `-p` each example,
    # or the `dev` profile, Cargo rebuilds the dependency tree, minutes of a
    # cold run. The binaries land in target/debug all the same.
    cargo build --locked --workspace --bins --tests --profile test
    # Alone: its `ssr` feature turns on `leptos/islands`, and without the
    # other members its features differ from the workspace's, so about five
    # minutes of a cold run build its own part of the tree (measured: 296 s;
    # the six binaries above, 43 s).
    cargo build --locked --bins -p keyhouse-example-islands --features ssr --profile test
    KEYHOUSE_BIN="$ROOT/target/debug/keyhouse" node "$ROOT/e2e/examples.mjs"
}

step "set-up (scripts/setup.sh test)" bash "$ROOT/scripts/setup.sh" test
step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
# The server's `otlp` feature (its code is compiled only then); the rest of the
# workspace is already checked with these features, only keyhouse is linted again.
step "cargo clippy (the server's otlp feature)" cargo clippy --workspace --all-targets --locked \
    --features keyhouse/otlp -- -D warnings
# The browser crates again for wasm32: their wasm-only code (mounting, js_sys) is
# not compiled on the host.
step "cargo clippy (wasm32: app, idp-component)" cargo clippy --locked \
    -p keyhouse-app -p keyhouse-idp-component --target wasm32-unknown-unknown -- -D warnings
# The examples' browser halves (their host halves are in the clippy above),
# and the islands example with its features.
step "cargo clippy (examples: wasm32 halves, islands)" clippy_examples_wasm
step "cargo doc (the library crates, warnings denied)" library_docs
step "cargo package (the library crates, --no-verify)" library_package
step "supply chain (cargo deny: licenses, bans, sources)" bash "$ROOT/scripts/deny.sh"
step "tests on SQLite (unit, integration, doc)" sqlite_tests
step "traces over OTLP (the server's otlp feature)" otlp_tests
step "build the app (trunk build --release)" bash "$ROOT/scripts/build-app.sh"
step "end-to-end tests in Chromium (e2e/)" e2e_tests
step "build the examples' browser halves (scripts/build-examples.sh)" bash "$ROOT/scripts/build-examples.sh"
step "the examples end to end in Chromium (e2e/examples.mjs)" examples_tests
step "integration tests on PostgreSQL" postgres_tests
