#!/usr/bin/env bats
# sc-register add of an http(s) object (the mock file server, with faults of
# one range among several): the object is read in parallel ranged GETs and
# hashed in order; a bad range is one line, exit 1, nothing registered or
# left; --max-size refuses from the HEAD, and no more bytes than the HEAD
# named are read.
# SPDX-License-Identifier: MIT

load helpers
load mock-server

BIG=scanpy_pbmc68k_reduced_2025.h5ad

setup_file() {
    # the server lists its files when it starts
    mkdir -p "$BATS_FILE_TMPDIR/mock/files"
    cp "$SC_TEST_DATA/h5ad/$BIG" "$BATS_FILE_TMPDIR/mock/files/"
    mock_start
}

teardown_file() {
    mock_stop
}

setup() {
    cd "$BATS_TEST_TMPDIR"
    mock_reset
    export SC_REGISTRY=$BATS_TEST_TMPDIR/reg.db TMPDIR=$BATS_TEST_TMPDIR/tmp
    mkdir -p "$TMPDIR"
    sc-register init
}

# col NAME: the column NAME of the first row of the table in $output
col() {
    awk -F'\t' -v c="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i }
                          NR == 2 { print $k }' <<< "$output"
}

# nothing registered, nothing left in $TMPDIR
nothing_left() {
    [[ $(sc-register query | tail -n +2 | wc -l) == 0 ]]
    [[ -z $(ls -A "$TMPDIR") ]]
}

@test "objects: a multi-range object hashes as sha256sum of its bytes; verify reads it again" {
    local url=$MOCK_URL/files/$BIG
    run -0 --separate-stderr sc-register add "$url"
    [[ $(col sha256) == $(sha256sum "$SC_TEST_DATA/h5ad/$BIG" | cut -d' ' -f1) ]]
    [[ $(col registered) == new ]]
    # several ranges, none of them the whole object
    [[ $(mock_requests "^GET /files/$BIG bytes=[0-9]+-[0-9]+ 206" | wc -l) -ge 4 ]]
    [[ -z $(mock_requests "^GET /files/$BIG - ") ]]
    [[ -z $(ls -A "$TMPDIR") ]]
    run -0 sc-register verify
}

@test "objects: a wrong Content-Range on one of the parallel ranges is one line, exit 1, nothing registered" {
    run -1 --separate-stderr sc-register add "$MOCK_URL/f/midrange/$BIG"
    [[ $(grep -c . <<< "$stderr") == 1 ]]
    [[ $stderr == "sc-register: error: '$MOCK_URL/f/midrange/$BIG': server sent bytes "*" for "* ]]
    # the table's header, no row
    [[ $(wc -l <<< "$output") == 1 && $output == path* ]]
    nothing_left
}

@test "objects: a server that ignores Range (200 with the whole object) is refused: one line, exit 1, nothing registered" {
    local url=$MOCK_URL/f/norange/$BIG
    run -1 --separate-stderr sc-register add "$url"
    [[ $(grep -c . <<< "$stderr") == 1 ]]
    [[ $stderr == "sc-register: error: '$url': HTTP 200 to a range request" ||
        $stderr == "sc-register: error: '$url': answer longer than the "*" bytes asked" ]]
    nothing_left
}

@test "objects: a short answer on one range is asked again alone; the hash is still right" {
    run -0 --separate-stderr sc-register add "$MOCK_URL/f/midshort/$BIG"
    [[ $(col sha256) == $(sha256sum "$SC_TEST_DATA/h5ad/$BIG" | cut -d' ' -f1) ]]
    # a range asked twice: short, then whole
    [[ -n $(mock_requests "^GET /f/midshort/$BIG bytes=[1-9][0-9]*-[0-9]+ 206" |
        sort | uniq -d) ]]
}

@test "objects: --max-size refuses an object from its HEAD, before any GET" {
    run -1 --separate-stderr sc-register add --max-size 1M "$MOCK_URL/files/$BIG"
    [[ $stderr == "sc-register: error: '$MOCK_URL/files/$BIG': more than 1048576 bytes" ]]
    [[ -n $(mock_requests "^HEAD /files/$BIG") ]]
    [[ -z $(mock_requests "^GET /files/$BIG") ]]
    nothing_left
    run -0 --separate-stderr sc-register add --max-size 2M "$MOCK_URL/files/$BIG"
    [[ $(col registered) == new ]]
    run -2 sc-register add --max-size 0 "$MOCK_URL/files/$BIG"
    run -2 sc-register add --max-size lots "$MOCK_URL/files/$BIG"
}

@test "objects: a server that names a smaller size in its HEAD is stopped at that size" {
    run -1 --separate-stderr sc-register add --max-size 100K "$MOCK_URL/f/smallhead/$BIG"
    [[ $stderr == *"'$MOCK_URL/f/smallhead/$BIG': the object changed size ($(stat -c %s "$SC_TEST_DATA/h5ad/$BIG") bytes, was 1000)" ]]
    # one GET, of the 1000 bytes the HEAD named
    [[ $(mock_requests "^GET /f/smallhead/$BIG") == "GET /f/smallhead/$BIG bytes=0-999 206" ]]
    nothing_left
}
