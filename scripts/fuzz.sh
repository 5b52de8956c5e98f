#!/usr/bin/env bash
# Bounded fuzzing of the protocol parsers: the cargo-fuzz targets in fuzz/
# (libFuzzer), one after the other, each for a fixed time.
#
#   scripts/fuzz.sh                      every target, FUZZ_SECONDS each
#   scripts/fuzz.sh scope_parse return_to only these targets
#
# Environment:
#   FUZZ_SECONDS    seconds of fuzzing per target (default 60)
#   FUZZ_MAX_LEN    longest input libFuzzer generates, bytes (default 8192)
#   FUZZ_SANITIZER  address (default) or none (faster, no ASan)
#   FUZZ_NICE       niceness of the build and the fuzzers (default 19)
#   FUZZ_TOOLCHAIN  rustup toolchain (default nightly)
#
# Installs what it needs first (a nightly toolchain, cargo-fuzz pinned below),
# skipping whatever is already there. Replays fuzz/regressions/<target>/ (the
# kept reproducers of fixed crashes) before fuzzing. The seed corpus in
# fuzz/corpus/<target>/ is read only; what libFuzzer finds goes to
# fuzz/target/corpus/<target>/ (ignored by git) and crashes to
# fuzz/artifacts/<target>/. Prints a table (target, seconds, executions,
# crashes) and exits non-zero if any target crashed.
#
# Not part of scripts/test.sh. See docs/building.md, "Fuzzing".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CARGO_FUZZ_VERSION="0.13.2"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_MAX_LEN="${FUZZ_MAX_LEN:-8192}"
FUZZ_SANITIZER="${FUZZ_SANITIZER:-address}"
FUZZ_NICE="${FUZZ_NICE:-19}"

log() { printf 'fuzz: %s\n' "$*" >&2; }
die() { printf 'fuzz: error: %s\n' "$*" >&2; exit 1; }

[[ "$FUZZ_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "FUZZ_SECONDS must be a positive integer"
[[ "$FUZZ_MAX_LEN" =~ ^[1-9][0-9]*$ ]] || die "FUZZ_MAX_LEN must be a positive integer"

run_nice() { nice -n "$FUZZ_NICE" "$@"; }

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------

ensure_toolchain() {
    command -v rustup >/dev/null 2>&1 || die "rustup not found: install Rust with rustup first"
    if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
        log "rustup toolchain install $TOOLCHAIN --profile minimal"
        if ! run_nice rustup toolchain install "$TOOLCHAIN" --profile minimal; then
            log "no $TOOLCHAIN toolchain to be had; falling back to stable"
            TOOLCHAIN=stable
        fi
    fi
    # cargo-fuzz passes -Z flags (-Zsanitizer=…), which only nightly takes;
    # any other toolchain takes them with RUSTC_BOOTSTRAP=1.
    case "$(rustup run "$TOOLCHAIN" rustc --version 2>/dev/null)" in
        *nightly*) ;;
        "") die "toolchain $TOOLCHAIN is not installed" ;;
        *)
            log "$TOOLCHAIN is not a nightly toolchain: building with RUSTC_BOOTSTRAP=1"
            export RUSTC_BOOTSTRAP=1
            ;;
    esac
}

ensure_cargo_fuzz() {
    if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
        log "cargo install --locked cargo-fuzz@$CARGO_FUZZ_VERSION"
        run_nice cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
    fi
}

# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

# The flags of every cargo-fuzz build and run: the same each time, so `run`
# reuses what `build` compiled. Debug assertions and overflow checks on.
FUZZ_FLAGS=()

# count_artifacts TARGET : crash, oom, timeout and leak files kept so far.
count_artifacts() {
    local dir="$ROOT/fuzz/artifacts/$1"
    [ -d "$dir" ] || { echo 0; return; }
    find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' \
        -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l
}

# replay TARGET : runs the kept reproducers once; returns non-zero if one fails.
replay() {
    local target="$1" dir="$ROOT/fuzz/regressions/$1"
    [ -d "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ] || return 0
    log "$target: replaying $(find "$dir" -maxdepth 1 -type f | wc -l) reproducer(s) from fuzz/regressions/$target"
    run_nice cargo "+$TOOLCHAIN" fuzz run "${FUZZ_FLAGS[@]}" "$target" "$dir" -- -runs=0 \
        >"$LOG_DIR/$target.replay.log" 2>&1
}

ROWS=()
FAILED=0

# fuzz_one TARGET : fuzzes one target for FUZZ_SECONDS and records a row.
fuzz_one() {
    local target="$1"
    local seeds="$ROOT/fuzz/corpus/$target"
    local work="$ROOT/fuzz/target/corpus/$target"
    local logf="$LOG_DIR/$target.log"
    local before after crashes start elapsed rc=0 execs secs

    mkdir -p "$work" "$seeds"
    if ! replay "$target"; then
        log "$target: a kept reproducer fails again (see $LOG_DIR/$target.replay.log)"
        grep -m1 -A2 -E "panicked at|ERROR: (AddressSanitizer|libFuzzer)" \
            "$LOG_DIR/$target.replay.log" >&2 || true
        ROWS+=("$(printf '%-18s %8s %14s %8s' "$target" 0 0 'replay')")
        FAILED=1
        return 0
    fi

    before="$(count_artifacts "$target")"
    log "$target: fuzzing for ${FUZZ_SECONDS}s (log: ${logf#"$ROOT"/})"
    start="$(date +%s)"
    run_nice cargo "+$TOOLCHAIN" fuzz run "${FUZZ_FLAGS[@]}" "$target" "$work" "$seeds" -- \
        -max_total_time="$FUZZ_SECONDS" -max_len="$FUZZ_MAX_LEN" -timeout=10 \
        -print_final_stats=1 >"$logf" 2>&1 || rc=$?
    elapsed=$(($(date +%s) - start))
    after="$(count_artifacts "$target")"
    crashes=$((after - before))
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        # libFuzzer stopped without writing an artifact: count it anyway.
        crashes=1
    fi

    # libFuzzer's own figures: "Done N runs in S second(s)" on a clean end,
    # stat::number_of_executed_units either way; the last "#N" status line
    # and the wall time as fallbacks.
    execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$logf" | tail -1)"
    [ -n "$execs" ] || execs="$(sed -n 's/^Done \([0-9]*\) runs in.*/\1/p' "$logf" | tail -1)"
    [ -n "$execs" ] || execs="$(sed -n 's/^#\([0-9]*\)[[:space:]].*/\1/p' "$logf" | tail -1)"
    [ -n "$execs" ] || execs="?"
    secs="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$logf" | tail -1)"
    [ -n "$secs" ] || secs="$elapsed"

    if [ "$crashes" -gt 0 ]; then
        FAILED=1
        log "$target: CRASH (exit $rc); artifacts in fuzz/artifacts/$target/, log $logf"
        grep -m1 -A2 -E "panicked at|ERROR: (AddressSanitizer|libFuzzer)" "$logf" >&2 || true
        grep -m1 "Test unit written to" "$logf" >&2 || true
    fi
    ROWS+=("$(printf '%-18s %8s %14s %8s' "$target" "$secs" "$execs" "$crashes")")
}

main() {
    ensure_toolchain
    ensure_cargo_fuzz
    FUZZ_FLAGS=(--sanitizer "$FUZZ_SANITIZER" --debug-assertions)

    local targets=("$@")
    if [ "${#targets[@]}" -eq 0 ]; then
        mapfile -t targets < <(cargo fuzz list)
    fi
    [ "${#targets[@]}" -gt 0 ] || die "no fuzz targets found under fuzz/"

    LOG_DIR="$ROOT/fuzz/target/logs"
    mkdir -p "$LOG_DIR"

    log "building ${#targets[@]} target(s) with cargo +$TOOLCHAIN fuzz build (sanitizer: $FUZZ_SANITIZER)"
    run_nice cargo "+$TOOLCHAIN" fuzz build "${FUZZ_FLAGS[@]}"

    local t
    for t in "${targets[@]}"; do
        fuzz_one "$t"
    done

    printf '\n%-18s %8s %14s %8s\n' target seconds executions crashes
    printf '%s\n' "${ROWS[@]}"
    printf '\n(%s; %s; cargo-fuzz %s; FUZZ_SECONDS=%s)\n' \
        "$(rustc "+$TOOLCHAIN" --version)" "sanitizer $FUZZ_SANITIZER" \
        "$CARGO_FUZZ_VERSION" "$FUZZ_SECONDS"
    if [ "$FAILED" -ne 0 ]; then
        log "crashes found: reproduce with cargo +$TOOLCHAIN fuzz run <target> fuzz/artifacts/<target>/<file>"
        exit 1
    fi
}

main "$@"
