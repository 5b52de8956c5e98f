#!/usr/bin/env bash
# Supply-chain checks against deny.toml, for the whole workspace and Cargo.lock:
#
#   bash scripts/deny.sh
#
# - cargo deny: licenses, bans, sources. Always; any error fails the run.
# - cargo deny: advisories, and cargo audit. Both need the RustSec advisory
#   database, a git repository on GitHub. With KEYHOUSE_ADVISORY_FETCH=1 the
#   database is fetched (updated) first; otherwise a copy already at cargo-deny's location,
#   $CARGO_HOME/advisory-dbs/advisory-db-*, is used offline. With neither, this
#   part is skipped with a line that says so (the run does not fail, and does not
#   pretend to have passed). Advisories found fail the run; ignored ones are the
#   `ignore` list in deny.toml, which cargo audit gets too.
#
# cargo-deny (and, when needed, cargo-audit) are installed in their pinned
# versions by scripts/setup.sh (parts `deny`, `audit`); a warm machine pays nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ADVISORY_DB_HOST="github.com"
CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"

log() { printf 'deny: %s\n' "$*" >&2; }

bash "$ROOT/scripts/setup.sh" deny

# --- licenses, bans, sources ------------------------------------------------

out="$(cargo deny --locked check --hide-inclusion-graph --show-stats licenses bans sources 2>&1)" || {
    printf '%s\n' "$out"
    log "cargo deny found problems (above); see deny.toml and docs/building.md"
    exit 1
}
# On success print the per-check counts and the duplicate crates (warnings only,
# see [bans] in deny.toml) instead of several hundred lines of warnings.
grep -E '^ *(bans|licenses|sources) (ok|FAILED)' <<<"$out" || true
dups="$(grep -o "duplicate entries for crate '[^']*'" <<<"$out" | cut -d"'" -f2 | paste -sd' ' - || true)"
if [ -n "$dups" ]; then
    printf 'duplicate versions (warnings, allowed): %s\n' "$dups"
fi

# --- advisories ---------------------------------------------------------------

local_db() {
    local d
    for d in "$CARGO_HOME"/advisory-dbs/advisory-db-*; do
        if [ -d "$d/crates" ]; then
            printf '%s\n' "$d"
            return 0
        fi
    done
    return 1
}

# The IDs ignored in deny.toml's [advisories] section, as --ignore flags for cargo audit.
audit_ignores() {
    sed -n '/^\[advisories\]/,/^\[/p' "$ROOT/deny.toml" \
        | grep -v '^ *#' \
        | grep -oE 'RUSTSEC-[0-9]{4}-[0-9]{4}' \
        | sort -u \
        | sed 's/^/--ignore=/'
}

online=0
# Fetching is opt-in (KEYHOUSE_ADVISORY_FETCH=1, where the network reaches
# GitHub): the test command sends nothing, not even a name lookup, to hosts
# other than the package registries.
if [ "${KEYHOUSE_ADVISORY_FETCH:-0}" = "1" ]; then
    if timeout 300 cargo deny fetch db; then
        online=1
    else
        log "fetching the RustSec database from $ADVISORY_DB_HOST failed; falling back to a local copy, if any"
    fi
fi

if ! db="$(local_db)"; then
    printf 'advisories: skipped, the RustSec database cannot be fetched from this machine\n'
    exit 0
fi

if [ "$online" -eq 1 ]; then
    printf 'advisories: RustSec database fetched, last commit %s\n' "$(git -C "$db" log -1 --format=%cs 2>/dev/null || echo '?')"
else
    printf 'advisories: using the local RustSec database at %s (last commit %s; not updated)\n' \
        "$db" "$(git -C "$db" log -1 --format=%cs 2>/dev/null || echo '?')"
fi

if [ "$online" -eq 1 ]; then
    cargo deny --locked check --show-stats advisories
else
    cargo deny --locked --offline check --show-stats advisories
fi

bash "$ROOT/scripts/setup.sh" audit
mapfile -t ignores < <(audit_ignores)
cargo audit --db "$db" --no-fetch "${ignores[@]}"
