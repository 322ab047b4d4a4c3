#!/bin/bash
# A throwaway PostgreSQL server for the tests and the benchmarks: initdb into
# a new temporary directory, listen on a free port of 127.0.0.1 (and on a
# unix socket inside that directory), stop it and remove everything at the end.
# SPDX-License-Identifier: MIT
#
# Usage:
#   tests/pg-server.sh start        start one; print shell assignments
#                                   SC_PG_DIR=... SC_PG_PORT=... SC_PG_BIN=...
#   tests/pg-server.sh stop DIR     stop the server of DIR and remove DIR
#   tests/pg-server.sh createdb DIR NAME   create database NAME; print its URI
#   tests/pg-server.sh psql DIR [ARGS...]  psql as the superuser (db postgres)
#   tests/pg-server.sh available    exit 0 when a server can be started here
#
# The server binaries are Debian's (/usr/lib/postgresql/N/bin, the newest N),
# or those of $SC_PG_BIN. PostgreSQL refuses to run as root: as root the
# server runs as the unprivileged user $SC_PG_USER (nobody by default) in a
# directory under /tmp that this user owns (the caller's temporary directory
# may be a 0700 directory of root's, as in CI). The superuser role is
# "postgres", authentication "trust" on 127.0.0.1 and the socket: the server
# is for tests only and lives as long as they do. Settings favour speed over
# durability (fsync off): a killed client never loses a committed row, a
# power cut could.
set -u

bindir() {
    local d
    if [[ -n ${SC_PG_BIN:-} ]]; then
        printf '%s\n' "$SC_PG_BIN"
        return 0
    fi
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]] || return 1
    printf '%s\n' "$d"
}

# as_server CMD...: run CMD as the user that runs the server, in DIR
as_server() {
    if [[ $(id -u) -eq 0 ]]; then
        local u=${SC_PG_USER:-nobody}
        (cd "$dir" && setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" \
            --clear-groups -- "$@")
    else
        (cd "$dir" && "$@")
    fi
}

die() {
    echo "pg-server: $*" >&2
    exit 1
}

start() {
    local bin port tries=0 base=${TMPDIR:-/tmp}
    bin=$(bindir) || die "no PostgreSQL server (install Debian's postgresql)"
    # as root: a directory the server's user can reach, whatever TMPDIR is
    [[ $(id -u) -eq 0 ]] && base=/tmp
    dir=$(mktemp -d "$base/sc-pg.XXXXXX") || die "cannot make a directory in $base"
    if [[ $(id -u) -eq 0 ]]; then
        local u=${SC_PG_USER:-nobody}
        chown "$(id -u "$u"):$(id -g "$u")" "$dir" || die "cannot chown $dir"
        chmod 0700 "$dir"
    fi
    if ! as_server "$bin/initdb" -D "$dir/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 --no-sync > "$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        rm -rf "$dir"
        die "initdb failed"
    fi
    # a free port: try one, the server's own bind tells whether it was free
    while :; do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir \
                -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                -c max_connections=150 -c shared_buffers=32MB \
                -c max_locks_per_transaction=256 -c log_min_messages=fatal" \
            start > /dev/null 2>&1; then
            break
        fi
        tries=$((tries + 1))
        if ((tries >= 20)) || ! grep -q "could not bind\|in use" "$dir/server.log" 2>/dev/null; then
            cat "$dir/server.log" >&2 2>/dev/null
            as_server "$bin/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null 2>&1
            rm -rf "$dir"
            die "the server did not start"
        fi
        : > "$dir/server.log"
    done
    printf 'SC_PG_DIR=%q\nSC_PG_PORT=%q\nSC_PG_BIN=%q\n' "$dir" "$port" "$bin"
}

# the port and binaries of the server in DIR
load() {
    dir=$1
    [[ -f $dir/data/postmaster.pid ]] || die "no server in '$dir'"
    port=$(sed -n 4p "$dir/data/postmaster.pid")
    bin=$(bindir) || die "no PostgreSQL server"
}

stop() {
    dir=$1
    [[ -d $dir && $(basename "$dir") == sc-pg.* ]] || die "'$dir' is not a server directory"
    if [[ -f $dir/data/postmaster.pid ]]; then
        bin=$(bindir) || die "no PostgreSQL server"
        as_server "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop > /dev/null 2>&1
    fi
    rm -rf "$dir"
}

psql_as() {
    load "$1"
    shift
    "$bin/psql" -X -q -v ON_ERROR_STOP=1 \
        "postgresql://postgres@127.0.0.1:$port/postgres" "$@"
}

cmd=${1:-}
shift || true
case $cmd in
start) start ;;
stop) [[ $# -eq 1 ]] || die "usage: stop DIR"; stop "$1" ;;
createdb)
    [[ $# -eq 2 && $2 =~ ^[a-z_][a-z0-9_]*$ ]] || die "usage: createdb DIR NAME (a-z, 0-9, _)"
    psql_as "$1" -c "CREATE DATABASE $2" || exit 1
    printf 'postgresql://postgres@127.0.0.1:%s/%s\n' "$port" "$2"
    ;;
psql) [[ $# -ge 1 ]] || die "usage: psql DIR [ARGS...]"; psql_as "$@" ;;
available) bindir > /dev/null ;;
*) die "usage: pg-server.sh start|stop DIR|createdb DIR NAME|psql DIR [ARGS]|available" ;;
esac
