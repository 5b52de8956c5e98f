#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine that has rustup, Node and npm.
#
#   scripts/setup.sh run    what running the server needs
#   scripts/setup.sh test   what scripts/test.sh needs (rustfmt, clippy, wasm target, PostgreSQL, cargo-deny)
#   scripts/setup.sh all    both (the default; KEYHOUSE_SETUP=run|test|all also works)
#   scripts/setup.sh deny   cargo-deny alone; `audit`: cargo-audit alone (scripts/deny.sh uses both)
#
# Every step checks first and does nothing when its tool is already there in the
# right version, so a warm machine pays (almost) nothing. Tools come only from apt,
# rustup, `cargo install` and npm; nothing is downloaded from GitHub, and Playwright
# never downloads a browser (Debian's chromium is used instead).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Pinned tool versions (see docs/building.md for why each one).
TRUNK_VERSION="0.21.14"          # 0.22 needs a newer rustc
WASM_BINDGEN_VERSION="0.2.130"   # must equal the wasm-bindgen crate in Cargo.lock
BINARYEN_VERSION="132"           # Debian's binaryen 108 miscompiles wasm-bindgen 0.2.130 output
PLAYWRIGHT_CORE_VERSION="1.65"   # never its browser download
MCP_SDK_VERSION="1.32.2"         # @modelcontextprotocol/sdk, e2e/package.json
MCP_PY_VERSION="2.3.0"           # the Python MCP SDK (e2e/requirements.txt), in e2e/.venv
CARGO_DENY_VERSION="0.20.2"      # supply-chain checks (deny.toml, scripts/deny.sh)
CARGO_AUDIT_VERSION="0.22.2"     # only installed where the RustSec database can be fetched
WASM_TARGET="wasm32-unknown-unknown"

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, through sudo when it exists.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

APT_UPDATED=0
apt_update_once() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update
        APT_UPDATED=1
    fi
}

# apt_install PKG... : installs the packages that are not installed yet.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    apt_update_once
    log "apt-get install ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

# ---------------------------------------------------------------------------
# Parts used now
# ---------------------------------------------------------------------------

ensure_cargo() {
    command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup first"
    command -v rustup >/dev/null 2>&1 || die "rustup not found: install Rust with rustup first"
}

ensure_rust_components() {
    local installed missing=() comp
    installed="$(rustup component list --installed 2>/dev/null)"
    for comp in rustfmt clippy; do
        if ! grep -q "^${comp}\(-\|$\)" <<<"$installed"; then
            missing+=("$comp")
        fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "rustup component add ${missing[*]}"
        rustup component add "${missing[@]}"
    fi
}

ensure_wasm_target() {
    if ! rustup target list --installed 2>/dev/null | grep -qx "$WASM_TARGET"; then
        log "rustup target add $WASM_TARGET"
        rustup target add "$WASM_TARGET"
    fi
}

ensure_postgres() {
    if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
        apt_update_once
        log "apt-get install postgresql"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
    fi
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null \
        || die "PostgreSQL server binaries still missing under /usr/lib/postgresql/*/bin"
}

# HAProxy for the cluster tests and benchmark (scripts/haproxy.sh): Debian's
# package, run in the foreground by the tests as the current user. Its
# system service (if the package starts one) has no frontend and is left alone.
ensure_haproxy() {
    [ -x /usr/sbin/haproxy ] || apt_install haproxy
    [ -x /usr/sbin/haproxy ] || die "/usr/sbin/haproxy missing after apt-get install haproxy"
}

# A real SMTP server for the mail tests: each test starts its own aiosmtpd
# on a loopback port and reads what it received (crates/keyhouse-axum/tests/it/common/smtp.rs).
# Debian's own python3 (/usr/bin/python3), whatever python3 is first on PATH.
ensure_smtp_server() {
    /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || apt_install python3-aiosmtpd
    /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 \
        || die "/usr/bin/python3 cannot import aiosmtpd after apt-get install python3-aiosmtpd"
}

# ---------------------------------------------------------------------------
# Front-end and browser tools: Trunk builds the app (scripts/build-app.sh),
# Playwright drives Debian's chromium (e2e/).
# ---------------------------------------------------------------------------

# trunk, pinned: `cargo install --locked trunk` would pick 0.22, which needs a newer rustc.
ensure_trunk() {
    if [ "$(trunk --version 2>/dev/null || true)" != "trunk $TRUNK_VERSION" ]; then
        log "cargo install trunk@$TRUNK_VERSION"
        cargo install --locked "trunk@$TRUNK_VERSION"
    fi
}

# wasm-bindgen-cli, without --locked: its lock pins a crate the registry no longer serves.
ensure_wasm_bindgen_cli() {
    if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
        log "cargo install wasm-bindgen-cli@$WASM_BINDGEN_VERSION"
        cargo install --force "wasm-bindgen-cli@$WASM_BINDGEN_VERSION"
    fi
}

# wasm-opt from npm binaryen in the repo root's node_modules (put node_modules/.bin
# first on PATH when running trunk). Add further root npm tools (e.g. sass) to the
# same install command: a later `npm install --no-save X` prunes unsaved packages.
ensure_binaryen() {
    local have
    have="$("$ROOT/node_modules/.bin/wasm-opt" --version 2>/dev/null || true)"
    case "$have" in
        *"version $BINARYEN_VERSION"*) return 0 ;;
    esac
    log "npm install binaryen@$BINARYEN_VERSION (in $ROOT)"
    npm install --prefix "$ROOT" --no-save --no-audit --no-fund "binaryen@$BINARYEN_VERSION"
}

# Debian's chromium, for Playwright (executablePath /usr/bin/chromium).
ensure_chromium() {
    apt_install chromium
    [ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing after apt-get install chromium"
}

# The installed version of an npm package in e2e/node_modules, or nothing.
e2e_npm_version() {
    local pkg="$ROOT/e2e/node_modules/$1/package.json"
    [ -f "$pkg" ] && node -p "require(process.argv[1]).version" "$pkg" 2>/dev/null || true
}

# playwright-core (never with its browser download) and the MCP TypeScript SDK
# in e2e/.
ensure_playwright_core() {
    local have sdk
    have="$(e2e_npm_version playwright-core)"
    sdk="$(e2e_npm_version @modelcontextprotocol/sdk)"
    case "$have" in
        "$PLAYWRIGHT_CORE_VERSION" | "$PLAYWRIGHT_CORE_VERSION".*)
            [ "$sdk" = "$MCP_SDK_VERSION" ] && return 0 ;;
    esac
    mkdir -p "$ROOT/e2e"
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
    if [ -f "$ROOT/e2e/package-lock.json" ]; then
        log "npm ci (in e2e/)"
        npm ci --prefix "$ROOT/e2e" --no-audit --no-fund
    elif [ -f "$ROOT/e2e/package.json" ]; then
        log "npm install (in e2e/)"
        npm install --prefix "$ROOT/e2e" --no-audit --no-fund
    else
        log "npm install playwright-core@$PLAYWRIGHT_CORE_VERSION (in e2e/)"
        npm install --prefix "$ROOT/e2e" --no-save --no-audit --no-fund \
            "playwright-core@$PLAYWRIGHT_CORE_VERSION"
    fi
}

# The official Python MCP SDK for the e2e MCP spec, in a virtual environment
# (e2e/.venv) from Debian's python3 and PyPI.
ensure_python_mcp() {
    local venv="$ROOT/e2e/.venv" have=""
    if [ -x "$venv/bin/python" ]; then
        have="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))' 2>/dev/null || true)"
    fi
    [ "$have" = "$MCP_PY_VERSION" ] && return 0
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        apt_install python3 python3-venv
    fi
    if [ ! -x "$venv/bin/python" ]; then
        log "python3 -m venv e2e/.venv"
        python3 -m venv "$venv"
    fi
    log "pip install mcp==$MCP_PY_VERSION (in e2e/.venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/e2e/requirements.txt"
}

# openssl makes the e2e run's test CA (e2e/run.mjs).
ensure_openssl() {
    command -v openssl >/dev/null 2>&1 || apt_install openssl
}

# ---------------------------------------------------------------------------
# Supply-chain tools (scripts/deny.sh). Both build from source with
# `cargo install --locked` (a few minutes each on a cold machine).
# ---------------------------------------------------------------------------

# cargo-deny, pinned: licenses, bans and sources in every test run.
ensure_cargo_deny() {
    if [ "$(cargo-deny --version 2>/dev/null || true)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
        log "cargo install cargo-deny@$CARGO_DENY_VERSION"
        cargo install --locked "cargo-deny@$CARGO_DENY_VERSION"
    fi
}

# cargo-audit, pinned. Not part of `test`: it only runs where the RustSec advisory
# database can be had (scripts/deny.sh installs it then), which is not this
# project's machines.
ensure_cargo_audit() {
    if [ "$(cargo-audit --version 2>/dev/null || true)" != "cargo-audit $CARGO_AUDIT_VERSION" ]; then
        log "cargo install cargo-audit@$CARGO_AUDIT_VERSION"
        cargo install --locked "cargo-audit@$CARGO_AUDIT_VERSION"
    fi
}

# ---------------------------------------------------------------------------
# Parts
# ---------------------------------------------------------------------------

part_run() {
    ensure_cargo
    ensure_wasm_target
    ensure_trunk
    ensure_wasm_bindgen_cli
    ensure_binaryen
}

part_test() {
    ensure_cargo
    ensure_rust_components
    ensure_cargo_deny
    ensure_wasm_target
    ensure_postgres
    ensure_haproxy
    ensure_smtp_server
    ensure_trunk
    ensure_wasm_bindgen_cli
    ensure_binaryen
    ensure_chromium
    ensure_playwright_core
    ensure_openssl
    ensure_python_mcp
}

main() {
    local parts=("$@")
    if [ "${#parts[@]}" -eq 0 ]; then
        # shellcheck disable=SC2206 # word splitting of the env value is intended
        parts=(${KEYHOUSE_SETUP:-all})
    fi
    local part
    for part in "${parts[@]}"; do
        case "$part" in
            run) part_run ;;
            test) part_test ;;
            all) part_run; part_test ;;
            deny) ensure_cargo; ensure_cargo_deny ;;
            audit) ensure_cargo; ensure_cargo_audit ;;
            -h | --help) sed -n '2,7p' "${BASH_SOURCE[0]}"; return 0 ;;
            *) die "unknown part '$part' (expected run, test, all, deny or audit)" ;;
        esac
    done
    log "ok (${parts[*]})"
}

main "$@"
