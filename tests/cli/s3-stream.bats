#!/usr/bin/env bats
# sc-stream reads a pack from s3:// (a local s3rver, tests/s3-server.sh) and
# from http(s):// (the mock file server, with its faults): the same stream
# as from the file, a bounded block cache, hostile answers refused.
# Skipped only without node.
# SPDX-License-Identifier: MIT

load helpers
load mock-server

CORPUS_ARGS=(--datasets 4 --cells 2000 --genes 200:400 --nnz 50 --mess 0 --seed 3 --cells-min 100 -j 2)

setup_file() {
    "$SC_ROOT/tests/s3-server.sh" available || return 0
    local c vars
    c=$(test_corpus "${CORPUS_ARGS[@]}")
    cd "$BATS_FILE_TMPDIR"
    export SC_STREAM_CACHE=$BATS_FILE_TMPDIR/cache
    sc-stream pack --join outer -l cell_type --seed 5 -o all.scpack "$c"/ds*.h5ad
    # a damaged copy: one byte of the fixed header changed
    cp all.scpack bad.scpack
    printf '\377' | dd of=bad.scpack bs=1 seek=40 conv=notrunc status=none
    head -c 100000 all.scpack > cut.scpack
    mkdir -p mock/files
    cp all.scpack mock/files/
    mock_start
    vars=$("$SC_ROOT/tests/s3-server.sh" start bkt) || return 1
    eval "$vars"
    export SC_S3_DIR SC_S3_PORT SC_S3_ENDPOINT AWS_ACCESS_KEY_ID=S3RVER \
        AWS_SECRET_ACCESS_KEY=S3RVER
    for f in all bad cut; do
        sc-fetch get "$f.scpack" -d s3://bkt/p/ > /dev/null
    done
}

teardown_file() {
    mock_stop
    if [[ -n ${SC_S3_DIR:-} ]]; then
        "$SC_ROOT/tests/s3-server.sh" stop "$SC_S3_DIR"
    fi
}

setup() {
    [[ -n ${SC_S3_DIR:-} ]] || skip "no node: the S3 test server cannot run"
    cd "$BATS_FILE_TMPDIR"
    export SC_STREAM_CACHE=$BATS_FILE_TMPDIR/cache
    export SC_OBJECT_CACHE=$BATS_TEST_TMPDIR/objects
    unset RANK WORLD_SIZE SLURM_PROCID SLURM_NTASKS
    ARGS=(-l cell_type -b 64 --seed 2 -O text)
}

@test "s3-stream: a pack from s3:// streams exactly as from the file" {
    sc-stream "${ARGS[@]}" -o "$BATS_TEST_TMPDIR/local.txt" all.scpack
    run -0 --separate-stderr sc-stream "${ARGS[@]}" -o "$BATS_TEST_TMPDIR/s3.txt" \
        --object-block 64K s3://bkt/p/all.scpack
    cmp "$BATS_TEST_TMPDIR/local.txt" "$BATS_TEST_TMPDIR/s3.txt"
    # the blocks are in the cache, and a second run reads them from there
    [[ $(ls "$SC_OBJECT_CACHE"/*/ | wc -l) -eq $(( ($(stat -c %s all.scpack) + 65535) / 65536 )) ]]
    n=$(grep -c 'all.scpack 206' "$SC_S3_DIR/server.log")
    [[ $n -gt 0 ]]
    run -0 sc-stream "${ARGS[@]}" -o "$BATS_TEST_TMPDIR/s3b.txt" --object-block 64K s3://bkt/p/all.scpack
    cmp "$BATS_TEST_TMPDIR/local.txt" "$BATS_TEST_TMPDIR/s3b.txt"
    [[ $(grep -c 'all.scpack 206' "$SC_S3_DIR/server.log") -eq $n ]]
    # by https:// (plain http here) too, and the dump of its header
    run -0 --separate-stderr sc-stream "${ARGS[@]}" -o "$BATS_TEST_TMPDIR/http.txt" \
        "$MOCK_URL/files/all.scpack"
    cmp "$BATS_TEST_TMPDIR/local.txt" "$BATS_TEST_TMPDIR/http.txt"
    run -0 sc-stream dump s3://bkt/p/all.scpack
    [[ ${lines[0]} == $'#sc-pack\t2\tcells=2000\t'* ]]
}

@test "s3-stream: the cache stays within --object-cache-size, least recently used dropped" {
    sc-stream "${ARGS[@]}" -o "$BATS_TEST_TMPDIR/local.txt" all.scpack
    run -0 --separate-stderr sc-stream "${ARGS[@]}" -o "$BATS_TEST_TMPDIR/s3.txt" \
        --object-block 64K --object-cache-size 128K --object-requests 1 s3://bkt/p/all.scpack
    cmp "$BATS_TEST_TMPDIR/local.txt" "$BATS_TEST_TMPDIR/s3.txt"
    [[ $(ls "$SC_OBJECT_CACHE"/*/ | wc -l) -le 2 ]]
    [[ $(stat -c %s all.scpack) -gt $((3 * 65536)) ]]
    # the option's bounds
    run -2 sc-stream --object-requests 0 all.scpack
    run -2 sc-stream --object-block 1K all.scpack
}

@test "s3-stream: a damaged, cut or missing pack is one line, exit 1" {
    run -1 --separate-stderr sc-stream "${ARGS[@]}" -o out.txt s3://bkt/p/bad.scpack
    [[ $stderr == *"'s3://bkt/p/bad.scpack': damaged pack: header checksum mismatch"* ]]
    run -1 --separate-stderr sc-stream "${ARGS[@]}" -o out.txt s3://bkt/p/cut.scpack
    [[ $stderr == *"'s3://bkt/p/cut.scpack': damaged pack: 100000 bytes, its header says"* ]]
    run -1 --separate-stderr sc-stream "${ARGS[@]}" -o out.txt s3://bkt/p/none.scpack
    [[ $stderr == *"'s3://bkt/p/none.scpack': HTTP 404"* ]]
    [[ ! -e out.txt ]]
}

@test "s3-stream: hostile range answers are refused, a passing 500 is retried" {
    # Range ignored: the whole file for a block
    run -1 --separate-stderr sc-stream "${ARGS[@]}" -o out.txt --object-block 64K \
        "$MOCK_URL/f/norange/all.scpack"
    # (several blocks are in flight: the first refused may be the last,
    # shorter block, so the size asked is not always 65536)
    [[ $stderr == *"answer longer than the "*" bytes asked"* ]]
    # fewer bytes than Content-Range says
    run -1 --separate-stderr sc-stream "${ARGS[@]}" -o out.txt --object-block 64K \
        "$MOCK_URL/f/shortlen/all.scpack"
    [[ $stderr == *"short answer"* || $stderr == *"HTTP 4"* || $stderr == *"bytes"* ]]
    [[ $(grep -c . <<< "$stderr") -le 4 ]]
    [[ ! -e out.txt ]]
    # two 500s, then the data
    sc-stream "${ARGS[@]}" -o "$BATS_TEST_TMPDIR/local.txt" all.scpack
    run -0 --separate-stderr sc-stream "${ARGS[@]}" -o "$BATS_TEST_TMPDIR/r.txt" \
        "$MOCK_URL/f/500/all.scpack"
    cmp "$BATS_TEST_TMPDIR/local.txt" "$BATS_TEST_TMPDIR/r.txt"
}
