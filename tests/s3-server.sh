#!/bin/bash
# A throwaway S3-compatible server for the tests and the benchmarks: s3rver
# (vendored in tests/s3rver, run by node) in a new temporary directory,
# listening on a free port of 127.0.0.1; stopped and removed at the end.
# SPDX-License-Identifier: MIT
#
# Usage:
#   tests/s3-server.sh start BUCKET...  start one with these buckets; print
#                                       shell assignments SC_S3_DIR=...
#                                       SC_S3_PORT=... SC_S3_ENDPOINT=...
#   tests/s3-server.sh stop DIR         stop the server of DIR, remove DIR
#   tests/s3-server.sh available        exit 0 when a server can be started
#
# The server takes the access key id S3RVER with the secret S3RVER. It
# checks that a request names a known key id but does not check SigV4
# signatures (s3rver 3.7 does not implement that check). It lives at most
# $SC_S3_LIFETIME seconds (3600), in case the caller dies without stopping it.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
version=3.7.1
tarball=$root/tests/s3rver/s3rver-$version.tar.gz

die() {
    echo "s3-server: $*" >&2
    exit 1
}

start() {
    local dir port b i
    local -a buckets=()
    command -v node > /dev/null || die "no node (install Debian's nodejs)"
    [[ -f $tarball ]] || die "no $tarball"
    (($# > 0)) || die "usage: start BUCKET..."
    for b in "$@"; do
        [[ $b =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "bad bucket name '$b'"
        buckets+=(--configure-bucket "$b")
    done
    dir=$(mktemp -d "${TMPDIR:-/tmp}/sc-s3.XXXXXX") || die "cannot make a directory"
    tar -C "$dir" -xzf "$tarball" || { rm -rf "$dir"; die "cannot unpack $tarball"; }
    mkdir "$dir/data"
    # port 0: the system picks a free port; the server's log names it
    setsid timeout "${SC_S3_LIFETIME:-3600}" node "$dir/node_modules/s3rver/bin/s3rver.js" \
        -d "$dir/data" -a 127.0.0.1 -p 0 "${buckets[@]}" \
        > "$dir/server.log" 2>&1 < /dev/null 3>&- &
    echo $! > "$dir/pid"
    for ((i = 0; i < 300; i++)); do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/server.log" | head -1)
        [[ -n $port ]] && break
        kill -0 "$(cat "$dir/pid")" 2> /dev/null || break
        sleep 0.1
    done
    if [[ -z $port ]]; then
        cat "$dir/server.log" >&2
        stop "$dir"
        die "the server did not start"
    fi
    printf 'SC_S3_DIR=%q\nSC_S3_PORT=%q\nSC_S3_ENDPOINT=%q\n' "$dir" "$port" \
        "http://127.0.0.1:$port"
}

stop() {
    local dir=$1 pid
    [[ -d $dir && $(basename "$dir") == sc-s3.* ]] || die "'$dir' is not a server directory"
    if [[ -f $dir/pid ]]; then
        pid=$(cat "$dir/pid")
        # the session of timeout and node
        kill -- "-$pid" 2> /dev/null || kill "$pid" 2> /dev/null
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2> /dev/null || break
            sleep 0.1
        done
    fi
    rm -rf "$dir"
}

cmd=${1:-}
shift || true
case $cmd in
start) start "$@" ;;
stop) [[ $# -eq 1 ]] || die "usage: stop DIR"; stop "$1" ;;
available) command -v node > /dev/null && [[ -f $tarball ]] ;;
*) die "usage: s3-server.sh start BUCKET...|stop DIR|available" ;;
esac
