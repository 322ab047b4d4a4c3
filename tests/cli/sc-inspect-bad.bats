#!/usr/bin/env bats
# sc-inspect on malformed inputs (tests/data/bad, made by scripts/make-fixtures):
# exit status 1, one line on stderr naming the file and the problem, nothing
# on stdout, no output or temporary file left. Under SANITIZE builds a
# sanitizer report changes the status and stderr, so it fails the test too.
# SPDX-License-Identifier: MIT

load helpers

CASES=$SC_TEST_DATA/bad/CASES.tsv

# case_field CASE N: field N of CASE in CASES.tsv (2 file, 3 fragment).
case_field() {
    awk -F'\t' -v c="$1" -v n="$2" '!/^#/ && $1 == c { print $n }' "$CASES"
}

# expect_one_error FILE FRAGMENT: after `run --separate-stderr`, stdout is
# empty and stderr is one "sc-inspect: error: " line naming FILE and
# containing FRAGMENT.
expect_one_error() {
    local file=$1 fragment=$2

    if [[ -n $output ]]; then
        echo "unexpected stdout: $output"
        return 1
    fi
    if [[ ${#stderr_lines[@]} -ne 1 || $stderr != "sc-inspect: error: "* ]]; then
        echo "expected one 'sc-inspect: error: ' line on stderr, got:"
        echo "$stderr"
        return 1
    fi
    if [[ $stderr != *"$file"* || $stderr != *"$fragment"* ]]; then
        echo "the message should name '$file' and say '$fragment':"
        echo "$stderr"
        return 1
    fi
}

check_bad() {
    local name=$1 file fragment out=$BATS_TEST_TMPDIR/out.h5ad

    fragment=$(case_field "$name" 3)
    file=$(case_field "$name" 2)
    [[ -n $fragment && -n $file ]] || {
        echo "no case '$name' in $CASES"
        return 1
    }
    file=$SC_TEST_DATA/bad/$file
    [[ -e $file ]]

    run -1 --separate-stderr sc-inspect --json "$file"
    expect_one_error "$file" "$fragment"

    run -1 --separate-stderr sc-inspect -o "$out" "$file"
    expect_one_error "$file" "$fragment"
    [[ ! -e $out ]] || { echo "$out was left behind"; return 1; }
    if compgen -G "$out.tmp.*" > /dev/null; then
        echo "temporary files left behind:" "$out".tmp.*
        return 1
    fi
}

@test "sc-inspect-bad: every case of CASES.tsv has a test here" {
    local name missing=()
    while IFS=$'\t' read -r name _; do
        [[ $name == "#"* || -z $name ]] && continue
        grep -q "^    check_bad $name\$" "$BATS_TEST_FILENAME" ||
            missing+=("$name")
    done < "$CASES"
    [[ ${#missing[@]} -eq 0 ]] || {
        echo "no test for: ${missing[*]}"
        return 1
    }
}

@test "sc-inspect-bad: the fixtures are what scripts/make-fixtures writes" {
    /usr/bin/python3 -c 'import h5py, numpy' 2> /dev/null ||
        skip "no python3-h5py"
    run -0 "$SC_ROOT/scripts/make-fixtures" "$BATS_TEST_TMPDIR/data"
    run -0 diff -r "$SC_TEST_DATA/bad" "$BATS_TEST_TMPDIR/data/bad"
    run -0 diff -r "$SC_TEST_DATA/lenient" "$BATS_TEST_TMPDIR/data/lenient"
}

@test "sc-inspect-bad: truncated file" {
    check_bad truncated
}

@test "sc-inspect-bad: text file named .h5ad" {
    check_bad not-hdf5
}

@test "sc-inspect-bad: empty file" {
    check_bad empty
}

@test "sc-inspect-bad: no obs" {
    check_bad missing-obs
}

@test "sc-inspect-bad: no var" {
    check_bad missing-var
}

@test "sc-inspect-bad: indptr not monotone" {
    check_bad indptr-not-monotone
}

@test "sc-inspect-bad: indptr ends beyond the data" {
    check_bad indptr-beyond-data
}

@test "sc-inspect-bad: indptr of the wrong length" {
    check_bad indptr-length
}

@test "sc-inspect-bad: column index >= n_vars" {
    check_bad indices-too-large
}

@test "sc-inspect-bad: negative column index" {
    check_bad indices-negative
}

@test "sc-inspect-bad: X shape does not match var" {
    check_bad x-shape-mismatch
}

@test "sc-inspect-bad: data and indices of different lengths" {
    check_bad data-indices-length
}

@test "sc-inspect-bad: negative shape" {
    check_bad negative-shape
}

@test "sc-inspect-bad: shape of 2^62 rows" {
    check_bad huge-shape
}

@test "sc-inspect-bad: column of 2^62 values" {
    check_bad huge-column
}

@test "sc-inspect-bad: categorical code out of range" {
    check_bad cat-code-out-of-range
}

@test "sc-inspect-bad: categorical code below -1" {
    check_bad cat-code-negative
}

@test "sc-inspect-bad: float categorical codes" {
    check_bad cat-codes-float
}

@test "sc-inspect-bad: column shorter than the index" {
    check_bad column-too-short
}

@test "sc-inspect-bad: dataframe without _index" {
    check_bad no-index-attr
}

@test "sc-inspect-bad: strings in indptr" {
    check_bad indptr-strings
}

@test "sc-inspect-bad: unknown HDF5 filter" {
    check_bad unknown-filter
}

@test "sc-inspect-bad: unknown encoding-type" {
    check_bad unknown-encoding
}

@test "sc-inspect-bad: 10x MEX folder with a bad line" {
    check_bad mtx-bad-line
}

@test "sc-inspect-bad: 10x MEX entry out of range" {
    check_bad mtx-index-range
}

@test "sc-inspect-bad: loom attribute of the wrong length" {
    # loompy refuses such a file; ignoring the attribute would silently
    # turn gene or cell names into 0..n-1.
    check_bad loom-attr-length
}
