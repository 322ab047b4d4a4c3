#!/usr/bin/env bats
# Object storage (issue 21): s3:// locations against a local S3-compatible
# server (s3rver, tests/s3-server.sh): sc-fetch get to and from a bucket,
# credentials, errors. Skipped only without node.
# SPDX-License-Identifier: MIT

load helpers

H5AD=$SC_TEST_DATA/h5ad

setup_file() {
    if ! "$SC_ROOT/tests/s3-server.sh" available; then
        return 0
    fi
    local vars
    vars=$("$SC_ROOT/tests/s3-server.sh" start bkt other) || return 1
    eval "$vars"
    export SC_S3_DIR SC_S3_PORT SC_S3_ENDPOINT
}

teardown_file() {
    if [[ -n ${SC_S3_DIR:-} ]]; then
        "$SC_ROOT/tests/s3-server.sh" stop "$SC_S3_DIR"
    fi
}

setup() {
    [[ -n ${SC_S3_DIR:-} ]] || skip "no node: the S3 test server cannot run"
    cd "$BATS_TEST_TMPDIR"
    unset AWS_ENDPOINT_URL AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION
    export HOME=$BATS_TEST_TMPDIR/home AWS_ACCESS_KEY_ID=S3RVER \
        AWS_SECRET_ACCESS_KEY=S3RVER TMPDIR=$BATS_TEST_TMPDIR/tmp
    mkdir -p "$HOME" "$TMPDIR"
    SRC=$H5AD/anndataR_example.h5ad
}

sha() {
    sha256sum "$1" | cut -d' ' -f1
}

# col NAME: the column NAME of the first row of the manifest in $output
col() {
    awk -F'\t' -v c="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i }
                          NR == 2 { print $k }' <<< "$output"
}

@test "s3: get -d s3://bucket/prefix/ uploads the verified file; get reads it back" {
    run -0 --separate-stderr sc-fetch get "$SRC" -d s3://bkt/t1/
    [[ $(col path) == s3://bkt/t1/anndataR_example.h5ad ]]
    [[ $(col sha256) == $(sha "$SRC") ]]
    [[ $(col status) == downloaded ]]
    # the staging directory is gone
    [[ -z $(ls -A "$TMPDIR") ]]
    run -0 --separate-stderr sc-fetch get s3://bkt/t1/anndataR_example.h5ad -d back --verify \
        --sha256 "$(sha "$SRC")"
    cmp "$SRC" back/anndataR_example.h5ad
    [[ $(col source) == s3://bkt/t1/anndataR_example.h5ad ]]
    [[ $(col size) == $(stat -c %s "$SRC") ]]
    # present the second time, by the state of the directory
    run -0 --separate-stderr sc-fetch get s3://bkt/t1/anndataR_example.h5ad -d back
    [[ $(col status) == present ]]
}

@test "s3: an s3:// to s3:// copy goes through the staging directory" {
    run -0 --separate-stderr sc-fetch get "$SRC" -d s3://bkt/t2/
    run -0 --separate-stderr sc-fetch get s3://bkt/t2/anndataR_example.h5ad -d s3://other/copy/
    [[ $(col path) == s3://other/copy/anndataR_example.h5ad ]]
    run -0 --separate-stderr sc-fetch get s3://other/copy/anndataR_example.h5ad -d back
    cmp "$SRC" back/anndataR_example.h5ad
}

@test "s3: a wrong digest, a missing object or bucket: one line, exit 1, no file" {
    run -0 --separate-stderr sc-fetch get "$SRC" -d s3://bkt/t3/
    run -1 --separate-stderr sc-fetch get s3://bkt/t3/anndataR_example.h5ad -d back \
        --sha256 0000000000000000000000000000000000000000000000000000000000000000
    [[ $stderr == *"'s3://bkt/t3/anndataR_example.h5ad': sha256 "*", expected 0000"* ]]
    [[ -z $(ls -A back | grep -v '^\.sc-fetch') ]]
    run -1 --separate-stderr sc-fetch get s3://bkt/t3/none.h5ad -d back
    [[ $stderr == "sc-fetch: error: 's3://bkt/t3/none.h5ad': HTTP 404" ]]
    run -1 --separate-stderr sc-fetch get s3://nobucket/x.h5ad -d back
    [[ $stderr == *"'s3://nobucket/x.h5ad': HTTP 404" ]]
    run -1 --separate-stderr sc-fetch get "$SRC" -d s3://nobucket/p/
    [[ $stderr == *"'s3://nobucket/p/anndataR_example.h5ad': HTTP 404" ]]
    [[ -z $(ls -A "$TMPDIR") ]]
}

@test "s3: bad locations and credentials are refused with one line" {
    run -1 --separate-stderr sc-fetch get "$SRC" -d s3://bkt/noslash
    [[ $stderr == *"-d 's3://bkt/noslash': an object store prefix is s3://BUCKET/PREFIX/"* ]]
    run -1 --separate-stderr sc-fetch get "$SRC" -d s3://Bad_Bucket/p/
    [[ $stderr == *"not a valid bucket name"* ]]
    AWS_ACCESS_KEY_ID=NOSUCHKEY run -1 --separate-stderr sc-fetch get "$SRC" -d s3://bkt/p/
    [[ $stderr == *"'s3://bkt/p/anndataR_example.h5ad': HTTP 403" ]]
    unset AWS_SECRET_ACCESS_KEY
    run -1 --separate-stderr sc-fetch get "$SRC" -d s3://bkt/p/
    [[ $stderr == *"AWS_ACCESS_KEY_ID is set, AWS_SECRET_ACCESS_KEY is not"* ]]
    SC_S3_ENDPOINT=ftp://x run -1 --separate-stderr sc-fetch get s3://bkt/p/x.h5ad -d back
    [[ $stderr == *"endpoint 'ftp://x': not an http(s) URL"* ]]
}

@test "s3: credentials from ~/.aws/credentials and AWS_PROFILE; AWS_ENDPOINT_URL" {
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    mkdir -p "$HOME/.aws"
    printf '[default]\naws_access_key_id = NOSUCHKEY\naws_secret_access_key = x\n[team]\naws_access_key_id=S3RVER\naws_secret_access_key = S3RVER\n' \
        > "$HOME/.aws/credentials"
    run -1 --separate-stderr sc-fetch get "$SRC" -d s3://bkt/t5/
    [[ $stderr == *"HTTP 403" ]]
    AWS_PROFILE=team run -0 --separate-stderr sc-fetch get "$SRC" -d s3://bkt/t5/
    AWS_PROFILE=team AWS_ENDPOINT_URL=$SC_S3_ENDPOINT SC_S3_ENDPOINT= \
        run -0 --separate-stderr sc-fetch get s3://bkt/t5/anndataR_example.h5ad -d back
    cmp "$SRC" back/anndataR_example.h5ad
}

@test "s3: sc-register add s3://bucket/key registers the object (sha256 of its bytes, the location kept); verify hashes it again" {
    export SC_REGISTRY=$BATS_TEST_TMPDIR/reg.db
    sc-register init
    run -0 --separate-stderr sc-fetch get "$SRC" -d s3://bkt/r1/
    obj=s3://bkt/r1/anndataR_example.h5ad
    run -0 --separate-stderr sc-register add "$obj"
    [[ $(col registered) == new && $(col sha256) == $(sha "$SRC") ]]
    [[ $(col n_obs) == $(sc-register add "$SRC" | awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "n_obs") k = i } NR == 2 { print $k }') ]]
    # the copy it was read from is gone
    [[ -z $(ls -A "$TMPDIR") ]]
    run -0 sc-register show "$obj"
    [[ $output == *"$obj"* && $output == *"$(sha "$SRC")"* ]]
    run -0 sc-register query
    [[ $output == *$'\t'"$obj"$'\t'* ]]
    # the same object again is known; verify reads it again
    run -0 --separate-stderr sc-register add "$obj"
    [[ $(col registered) == known ]]
    run -0 sc-register verify
    [[ $output == *$'ok\t'*$'\t'"$obj"* ]]
    # other bytes under the same key: modified; the object removed: missing
    cp "$H5AD/cellxgene_schema_example_valid.h5ad" anndataR_example.h5ad
    run -0 --separate-stderr sc-fetch get anndataR_example.h5ad -d s3://bkt/r1/ --force
    run -1 sc-register verify
    [[ $output == *$'modified\t'*$'\t'"$obj"* ]]
    # a damaged object is one line naming the object, not the local copy
    head -c 4096 "$SRC" > junk.h5ad
    run -0 --separate-stderr sc-fetch get junk.h5ad -d s3://bkt/r2/
    run -1 --separate-stderr sc-register add s3://bkt/r2/junk.h5ad
    [[ $(wc -l <<< "$stderr") -eq 1 && $stderr == *"s3://bkt/r2/junk.h5ad"* && $stderr != *"$TMPDIR"* ]]
    [[ -z $(ls -A "$TMPDIR") ]]
    run -1 --separate-stderr sc-register add s3://bkt/r2/nosuch.h5ad
    [[ $stderr == *"s3://bkt/r2/nosuch.h5ad"*"404"* ]]
}

@test "s3: sc-register add of a multi-range s3 object: sha256 of its bytes, verify agrees; --max-size refuses it from its HEAD" {
    export SC_REGISTRY=$BATS_TEST_TMPDIR/reg.db
    sc-register init
    big=$H5AD/scanpy_pbmc68k_reduced_2025.h5ad # 4 ranges of 512 KiB
    run -0 --separate-stderr sc-fetch get "$big" -d s3://bkt/r3/
    obj=s3://bkt/r3/scanpy_pbmc68k_reduced_2025.h5ad
    run -1 --separate-stderr sc-register add --max-size 1M "$obj"
    [[ $stderr == "sc-register: error: '$obj': more than 1048576 bytes" ]]
    [[ -z $(ls -A "$TMPDIR") ]]
    run -0 --separate-stderr sc-register add "$obj"
    [[ $(col registered) == new && $(col sha256) == $(sha "$big") ]]
    [[ -z $(ls -A "$TMPDIR") ]]
    run -0 sc-register verify
    [[ $output == *$'ok\t'*$'\t'"$obj"* ]]
}
