#!/usr/bin/env bash
# Build the release binaries and run the benchmark against the real server
# binary: on SQLite, on a throwaway PostgreSQL server (scripts/pg.sh: Debian's
# postgresql, on loopback), and on PostgreSQL with three instances behind
# HAProxy (scripts/haproxy.sh), printing a table for each.
# Extra arguments go to keyhouse-bench (e.g. --ops userinfo --concurrency 64).
# BENCH_DATABASES=sqlite (or postgres, or cluster, or a list) runs those only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

cargo build --release --locked -p keyhouse --bins
databases="${BENCH_DATABASES:-sqlite postgres cluster}"
for db in $databases; do
    case "$db" in
        sqlite)
            target/release/keyhouse-bench --server target/release/keyhouse "$@"
            ;;
        postgres | cluster)
            # shellcheck source=scripts/pg.sh
            source scripts/pg.sh
            pg_start
            trap pg_stop EXIT
            instances=1
            [ "$db" = cluster ] && instances=3
            target/release/keyhouse-bench --server target/release/keyhouse \
                --postgres-url "$KEYHOUSE_TEST_PG_URL" --instances "$instances" "$@"
            pg_stop
            trap - EXIT
            ;;
        *)
            echo "BENCH_DATABASES: sqlite, postgres or cluster, not $db" >&2
            exit 2
            ;;
    esac
done
