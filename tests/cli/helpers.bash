# Shared helpers for the bats CLI tests (tests/cli/*.bats).  Load with
#   load helpers
# tests/run-tests.sh exports SC_BUILD, SC_TEST_DATA and SC_SHARE; the
# defaults below let `bats tests/cli/foo.bats` work from a checkout too.
# SPDX-License-Identifier: MIT

# shellcheck shell=bash disable=SC2034,SC2154  # PY is for the tests; bats sets $output
bats_require_minimum_version 1.5.0

SC_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
export SC_BUILD=${SC_BUILD:-$SC_ROOT/build}
export SC_TEST_DATA=${SC_TEST_DATA:-$SC_ROOT/tests/data}
export SC_SHARE=${SC_SHARE:-$SC_ROOT/share}
export PATH="$SC_BUILD/bin:$SC_ROOT/scripts:$PATH"
export LC_ALL=C TZ=UTC
# Debian's interpreter, the one with anndata 0.8, h5py, numpy, scipy.
PY=/usr/bin/python3
# make-corpus caches its parsed reference data here (a few seconds to build).
export SC_CORPUS_CACHE=${SC_CORPUS_CACHE:-$SC_BUILD/cache}

# golden NAME: compare $output with tests/data/expected/<tool>/NAME, where
# <tool> is the name of the .bats file (override with GOLDEN_TOOL).  With
# SC_UPDATE_GOLDEN=1 (make check-update) the file is rewritten instead; review
# the diff before committing.
golden() {
    local tool=${GOLDEN_TOOL:-$(basename "$BATS_TEST_FILENAME" .bats)}
    local file="$SC_TEST_DATA/expected/$tool/$1"
    if [[ -n ${SC_UPDATE_GOLDEN:-} ]]; then
        mkdir -p "$(dirname "$file")"
        printf '%s\n' "$output" > "$file"
        return 0
    fi
    if [[ ! -f $file ]]; then
        echo "golden file $file is missing (make check-update writes it)" >&2
        return 1
    fi
    diff -u "$file" <(printf '%s\n' "$output") >&2
}

# test_corpus ARGS...: print the directory of a corpus made by
# scripts/make-corpus with these arguments (for example
# `--datasets 10 --cells 20000 --mess 3 --seed 7`), building it on first use
# under $SC_BUILD/test-corpora/ and reusing it afterwards.  The directory
# holds ds*.h5ad and truth.json (see the top of scripts/make-corpus).
test_corpus() {
    local key dir tmp
    key=$(printf '%s\n' "$@" "$(sha1sum < "$SC_ROOT/scripts/make-corpus")" | sha1sum | cut -c1-16)
    dir="$SC_BUILD/test-corpora/$key"
    if [[ ! -f $dir/.done ]]; then
        tmp="$dir.tmp.$$"
        rm -rf "$tmp"
        mkdir -p "$tmp"
        make-corpus -o "$tmp" "$@" >&2 || { rm -rf "$tmp"; return 1; }
        printf '%s\n' "$@" > "$tmp/.args"
        touch "$tmp/.done"
        rm -rf "$dir"
        mv "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"   # lost a race: the other copy is as good
    fi
    printf '%s\n' "$dir"
}

# stream_corpus: the corpus the sc-stream suites share (4 datasets, 2,000
# cells, 200 to 400 genes, no mess; test_corpus builds it once), linked as
# corpus in $BATS_FILE_TMPDIR, which becomes the working directory.  For
# setup_file.
stream_corpus() {
    local c
    c=$(test_corpus --datasets 4 --cells 2000 --genes 200:400 --nnz 50 --mess 0 \
        --seed 3 --cells-min 100 -j 2) || return 1
    cd "$BATS_FILE_TMPDIR" || return 1
    ln -sf "$c" corpus
}

# gzip_copies DIR CHUNK FILE...: copies of the h5ad FILEs in DIR (made if
# needed), X's data and indices rewritten by h5py in gzip chunks of CHUNK
# entries.
gzip_copies() {
    local dir=$1 chunk=$2
    shift 2
    mkdir -p "$dir" || return 1
    $PY - "$dir" "$chunk" "$@" <<'EOF'
import h5py, shutil, sys
out, chunk = sys.argv[1], int(sys.argv[2])
for src in sys.argv[3:]:
    dst = out + "/" + src.rsplit("/", 1)[1]
    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        for k in ("data", "indices"):
            v = f["X"][k][:]
            del f["X"][k]
            f["X"].create_dataset(k, data=v, chunks=(chunk,), compression="gzip")
EOF
}

# ---- the registry's backend ----
# The registry tests run on SQLite, and on PostgreSQL when SC_TEST_REGISTRY
# is "postgresql" or the test file's name ends in "-pg.bats" (a link to the
# SQLite file: `bats tests/cli` runs both). The PostgreSQL pass starts its
# own server (tests/pg-server.sh) in reg_setup_file and stops it in
# reg_teardown_file; without Debian's postgresql it is skipped, saying so.

# reg_is_pg: true on the PostgreSQL pass
reg_is_pg() {
    [[ ${SC_TEST_REGISTRY:-} == postgresql ||
       ( -z ${SC_TEST_REGISTRY:-} && $BATS_TEST_FILENAME == *-pg.bats ) ]]
}

# pg_start / pg_stop: a server for this file (SC_PG_DIR, SC_PG_PORT, SC_PG_BIN)
pg_start() {
    local vars
    vars=$("$SC_ROOT/tests/pg-server.sh" start) || return 1
    eval "$vars"
    export SC_PG_DIR SC_PG_PORT SC_PG_BIN
}

pg_stop() {
    if [[ -n ${SC_PG_DIR:-} ]]; then
        "$SC_ROOT/tests/pg-server.sh" stop "$SC_PG_DIR"
    fi
}

# pg_psql ARGS...: psql as the superuser on database postgres
pg_psql() {
    "$SC_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        "postgresql://postgres@127.0.0.1:$SC_PG_PORT/postgres" "$@"
}

# pg_newdb NAME: create database NAME and print its URI
pg_newdb() {
    pg_psql -c "CREATE DATABASE $1 STRATEGY FILE_COPY" || return 1
    printf 'postgresql://postgres@127.0.0.1:%s/%s\n' "$SC_PG_PORT" "$1"
}

reg_setup_file() {
    if reg_is_pg; then
        if ! "$SC_ROOT/tests/pg-server.sh" available; then
            skip "PostgreSQL is not installed (scripts/install-deps.sh installs it)"
        fi
        pg_start
    fi
}

reg_teardown_file() {
    if reg_is_pg; then
        pg_stop
    fi
}

# reg_new [NAME]: point SC_REGISTRY at a new, empty registry location (a
# file in the test's directory, or a new database) named NAME [reg]
reg_new() {
    local name=${1:-reg}
    if reg_is_pg; then
        SC_REGISTRY=$(pg_newdb "t${BATS_TEST_NUMBER}_$name") || return 1
    else
        SC_REGISTRY=$BATS_TEST_TMPDIR/$name.db
    fi
    export SC_REGISTRY
}

# reg_sql SQL: run SQL on the registry $SC_REGISTRY; rows as "a|b"
reg_sql() {
    if [[ $SC_REGISTRY == postgresql://* ]]; then
        "$SC_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$SC_REGISTRY" -c "$1"
    else
        sqlite3 -batch -bail "$SC_REGISTRY" "$1"
    fi
}

# reg_integrity: "ok" when the database's own checks pass (SQLite's
# integrity_check; PostgreSQL's amcheck over every index of the registry)
reg_integrity() {
    if [[ $SC_REGISTRY == postgresql://* ]]; then
        reg_sql "CREATE EXTENSION IF NOT EXISTS amcheck;
            SELECT COUNT(bt_index_check(c.oid, true)) FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_am a ON a.oid = c.relam
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE a.amname = 'btree' AND n.nspname = 'public'" > /dev/null &&
            echo ok
    else
        reg_sql "PRAGMA integrity_check"
    fi
}

# many_datasets N: N distinct small datasets $BATS_FILE_TMPDIR/many/d$i.h5ad,
# one real h5ad with 11 different bytes appended to each copy (HDF5 ignores
# what follows the file's end); one process, not N copies
many_datasets() {
    mkdir -p "$BATS_FILE_TMPDIR/many"
    $PY - "$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad" \
        "$BATS_FILE_TMPDIR/many" "$1" <<'EOF'
import sys
src = open(sys.argv[1], "rb").read()
for i in range(int(sys.argv[3])):
    with open("%s/d%d.h5ad" % (sys.argv[2], i), "xb") as f:
        f.write(src + b"pad%08d" % i)
EOF
}
