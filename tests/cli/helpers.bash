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
