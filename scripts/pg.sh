#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests: a fresh cluster in a temporary
# directory, trust auth, listening on 127.0.0.1 only on a free port, its unix
# socket inside the temporary directory.
#
# Sourced (the usual way):
#   source scripts/pg.sh; pg_start; trap pg_stop EXIT
#   # now KEYHOUSE_TEST_PG_URL=postgres://postgres@127.0.0.1:PORT/postgres and PG_TMPDIR are exported
#
# Executed:
#   eval "$(scripts/pg.sh start)"        prints `export ...` lines for the variables above
#   scripts/pg.sh stop [PG_TMPDIR]       stops that server and removes its directory
#   scripts/pg.sh exec CMD [ARGS...]     starts a server, runs CMD with the variables set, stops it
#
# Settings: PG_PORT_BASE (first port tried, default 55432), PG_BINDIR (default: the
# newest /usr/lib/postgresql/*/bin).

# Directory that holds the server binaries: the newest /usr/lib/postgresql/*/bin.
_pg_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        printf '%s\n' "$PG_BINDIR"
        return 0
    fi
    local d best="" bestv=-1 v
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/postgres" ] || continue
        v="${d#/usr/lib/postgresql/}"
        v="${v%/bin}"
        v="${v%%.*}"
        case "$v" in *[!0-9]* | "") continue ;; esac
        if [ "$v" -gt "$bestv" ]; then
            bestv="$v"
            best="$d"
        fi
    done
    if [ -z "$best" ]; then
        echo "pg.sh: no /usr/lib/postgresql/*/bin/postgres (run scripts/setup.sh test)" >&2
        return 1
    fi
    printf '%s\n' "$best"
}

# Run a command as the `postgres` OS user when we are root (initdb and postgres
# refuse to run as root), otherwise as ourselves.
_pg_as_owner() {
    if [ "$(id -u)" -ne 0 ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u postgres -- "$@"
    else
        local q
        q="$(printf '%q ' "$@")"
        su postgres -s /bin/sh -c "$q"
    fi
}

# True when something already accepts connections on 127.0.0.1:$1.
_pg_port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pg_start() {
    local bindir
    bindir="$(_pg_bindir)" || return 1

    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "pg.sh: running as root but there is no 'postgres' OS user" >&2
        return 1
    fi

    PG_TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/keyhouse-pg.XXXXXX")" || return 1
    export PG_TMPDIR
    mkdir -p "$PG_TMPDIR/data" "$PG_TMPDIR/sock"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres: "$PG_TMPDIR"
    fi
    chmod 700 "$PG_TMPDIR"

    if ! _pg_as_owner "$bindir/initdb" -D "$PG_TMPDIR/data" -U postgres -A trust \
            -E UTF8 --locale=C --no-sync >"$PG_TMPDIR/initdb.log" 2>&1; then
        echo "pg.sh: initdb failed:" >&2
        cat "$PG_TMPDIR/initdb.log" >&2
        rm -rf "$PG_TMPDIR"
        unset PG_TMPDIR
        return 1
    fi

    # Try ports from PG_PORT_BASE upward; skip busy ones, and if the server still
    # fails to start (a race, or a port taken on another address) try the next one.
    local port="${PG_PORT_BASE:-55432}" last=$(( ${PG_PORT_BASE:-55432} + 100 )) started=0
    while [ "$port" -lt "$last" ]; do
        if _pg_port_busy "$port"; then
            port=$((port + 1))
            continue
        fi
        if _pg_as_owner "$bindir/pg_ctl" -D "$PG_TMPDIR/data" -l "$PG_TMPDIR/server.log" \
                -w -t 60 -o "-p $port -k $PG_TMPDIR/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
                start >/dev/null 2>&1; then
            started=1
            break
        fi
        # Only a port clash is worth another try.
        grep -qE 'could not bind|Address already in use|could not create any TCP/IP sockets' \
            "$PG_TMPDIR/server.log" 2>/dev/null || break
        port=$((port + 1))
    done
    if [ "$started" -ne 1 ]; then
        echo "pg.sh: PostgreSQL did not start; server log:" >&2
        tail -n 30 "$PG_TMPDIR/server.log" >&2 2>/dev/null || true
        rm -rf "$PG_TMPDIR"
        unset PG_TMPDIR
        return 1
    fi

    export PG_PORT="$port"
    export KEYHOUSE_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "pg.sh: PostgreSQL ($(basename "$(dirname "$bindir")")) on 127.0.0.1:$port, data in $PG_TMPDIR" >&2
}

# Stop the server started by pg_start (or the one in directory $1) and remove its
# directory. Safe to call twice or when nothing was started.
pg_stop() {
    local dir="${1:-${PG_TMPDIR:-}}"
    [ -n "$dir" ] || return 0
    if [ -d "$dir/data" ]; then
        local bindir
        if bindir="$(_pg_bindir 2>/dev/null)"; then
            _pg_as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
        fi
    fi
    case "$dir" in
        */keyhouse-pg.*) rm -rf "$dir" ;;
        *) echo "pg.sh: not removing unexpected directory '$dir'" >&2 ;;
    esac
    if [ "$dir" = "${PG_TMPDIR:-}" ]; then
        unset PG_TMPDIR PG_PORT KEYHOUSE_TEST_PG_URL
    fi
    return 0
}

# Executed rather than sourced: a small command-line interface.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
        start)
            pg_start
            printf 'export PG_TMPDIR=%q\n' "$PG_TMPDIR"
            printf 'export PG_PORT=%q\n' "$PG_PORT"
            printf 'export KEYHOUSE_TEST_PG_URL=%q\n' "$KEYHOUSE_TEST_PG_URL"
            ;;
        stop)
            pg_stop "${2:-${PG_TMPDIR:-}}"
            ;;
        exec)
            shift
            [ "$#" -gt 0 ] || { echo "usage: $0 exec CMD [ARGS...]" >&2; exit 2; }
            pg_start
            trap pg_stop EXIT
            "$@"
            ;;
        *)
            echo "usage: $0 start | stop [PG_TMPDIR] | exec CMD [ARGS...]   (or: source $0; pg_start; trap pg_stop EXIT)" >&2
            exit 2
            ;;
    esac
fi
