#!/usr/bin/env bash
# The run command: set up, build and start Keyhouse on http://127.0.0.1:3000.
# The SQLite database defaults to ./data/keyhouse.db (relative to the repo root).
# Extra arguments go to `keyhouse serve`, e.g. `bash scripts/run.sh --issuer https://id.example.com`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh run
bash scripts/build-app.sh
cargo build --release --locked -p keyhouse
mkdir -p data
exec target/release/keyhouse serve --bind 127.0.0.1:3000 --static-dir "$ROOT/dist" "$@"
