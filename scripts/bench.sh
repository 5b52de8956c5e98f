#!/usr/bin/env bash
# Build the release binaries and run the benchmark against the real server binary.
# Extra arguments go to keyhouse-bench.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

cargo build --release --locked -p keyhouse --bins
exec target/release/keyhouse-bench --server target/release/keyhouse "$@"
