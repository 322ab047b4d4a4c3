#!/usr/bin/env bats
# sc-inspect: the common CLI cases (style.md §7), the sample files against
# EXPECTED.json (tests/interop/check_expected.py) and conversion with -o.
# Malformed inputs: sc-inspect-bad.bats.
# SPDX-License-Identifier: MIT

load helpers

CHECK=$SC_ROOT/tests/interop/check_expected.py
COMPARE=$SC_ROOT/tests/interop/compare_summaries.py
GOOD=$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad
BAD=$SC_TEST_DATA/bad/indptr-not-monotone.h5ad

# expected KEY: what sc-inspect reports for the sample KEY (a path under
# tests/data) matches EXPECTED.json.
expected() {
    run -0 /usr/bin/python3 "$CHECK" --data "$SC_TEST_DATA" "$1"
    [[ $output == "ok $1" ]]
}

# converts KEY: `-o` writes an h5ad whose summary is the input's (the same
# n_obs, n_vars, X, columns, names, mappings and uns keys), with no stdout
# and no temporary file left.
converts() {
    local in=$SC_TEST_DATA/$1 out=$BATS_TEST_TMPDIR/out.h5ad
    run -0 --separate-stderr sc-inspect --json "$in"
    printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/in.json"
    run -0 --separate-stderr sc-inspect -o "$out" "$in"
    [[ -z $output ]]
    [[ $stderr != *error* ]]
    [[ -f $out ]]
    if compgen -G "$out.tmp.*"; then return 1; fi
    run -0 --separate-stderr sc-inspect --json "$out"
    printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/out.json"
    run -0 /usr/bin/python3 "$COMPARE" "$BATS_TEST_TMPDIR/in.json" \
        "$BATS_TEST_TMPDIR/out.json"
}

# ---- common options ----

@test "sc-inspect: --help prints the usage to stdout" {
    run -0 --separate-stderr sc-inspect --help
    [[ ${lines[0]} == "Usage: sc-inspect [options] <file>..." ]]
    [[ $output == *"--json"* && $output == *"--output FILE"* ]]
    [[ -z $stderr ]]
    local line
    for line in "${lines[@]}"; do
        [[ ${#line} -le 80 ]] || {
            echo "longer than 80 columns: $line"
            return 1
        }
    done
}

@test "sc-inspect: -h is --help" {
    run -0 sc-inspect --help
    local help=$output
    run -0 sc-inspect -h
    [[ $output == "$help" ]]
}

@test "sc-inspect: --version" {
    run -0 --separate-stderr sc-inspect --version
    [[ ${#lines[@]} -eq 1 ]]
    [[ $output == "sc-inspect $(cat "$SC_ROOT/VERSION")"*" (hdf5 "* ]]
    [[ -z $stderr ]]
}

@test "sc-inspect: unknown option is a usage error" {
    run -2 --separate-stderr sc-inspect --no-such-flag "$GOOD"
    [[ -z $output ]]
    [[ ${stderr_lines[0]} == "sc-inspect: unknown option '--no-such-flag'" ]]
    [[ ${stderr_lines[1]} == "Try 'sc-inspect --help'." ]]
}

@test "sc-inspect: unknown short option is a usage error" {
    run -2 --separate-stderr sc-inspect -Z "$GOOD"
    [[ -z $output ]]
    [[ $stderr == "sc-inspect: "*"'-Z'"* ]]
}

@test "sc-inspect: bad option values are usage errors" {
    run -2 --separate-stderr sc-inspect -O xml "$GOOD"
    [[ $stderr == "sc-inspect: "*xml* ]]
    run -2 --separate-stderr sc-inspect -l 10 "$GOOD"
    [[ $stderr == "sc-inspect: "* ]]
    run -2 --separate-stderr sc-inspect -o
    [[ $stderr == "sc-inspect: "*"requires an argument"* ]]
}

@test "sc-inspect: no input is a usage error" {
    run -2 --separate-stderr sc-inspect < /dev/null
    [[ -z $output ]]
    [[ $stderr == "sc-inspect: "* ]]
}

@test "sc-inspect: missing input file" {
    local f=$BATS_TEST_TMPDIR/no-such.h5ad
    run -1 --separate-stderr sc-inspect --json "$f"
    [[ -z $output ]]
    [[ $stderr == "sc-inspect: error: cannot open '$f': No such file or directory" ]]
}

@test "sc-inspect: '-' as input is a usage error (HDF5 needs a seekable file)" {
    run -2 --separate-stderr sc-inspect - < "$GOOD"
    [[ -z $output ]]
    [[ ${stderr_lines[0]} == "sc-inspect: "*"'-'"* ]]
    [[ ${stderr_lines[1]} == "Try 'sc-inspect --help'." ]]
}

@test "sc-inspect: '--' ends the options" {
    cp "$GOOD" "$BATS_TEST_TMPDIR/-k.h5ad"
    cd "$BATS_TEST_TMPDIR"
    run -0 --separate-stderr sc-inspect --json -- -k.h5ad
    [[ ${#lines[@]} -eq 1 && $output == '{"path":"-k.h5ad",'* ]]
}

# ---- output ----

@test "sc-inspect: text summary" {
    cd "$SC_TEST_DATA"
    run -0 --separate-stderr sc-inspect h5ad/anndataR_example.h5ad
    [[ -z $stderr ]]
    golden anndataR_example.txt
}

@test "sc-inspect: --json prints one JSON object per input, one per line" {
    local other=$SC_TEST_DATA/loom/loompy_test.loom
    run -0 --separate-stderr sc-inspect --json "$GOOD" "$other"
    [[ ${#lines[@]} -eq 2 && -z $stderr ]]
    run -0 /usr/bin/python3 -c '
import json, sys
for line, path in zip(sys.stdin, sys.argv[1:]):
    assert json.loads(line)["path"] == path, line
' "$GOOD" "$other" <<< "$output"
}

@test "sc-inspect: -O json is --json" {
    run -0 sc-inspect --json "$GOOD"
    local json=$output
    run -0 sc-inspect -O json "$GOOD"
    [[ $output == "$json" ]]
}

@test "sc-inspect: --no-sums leaves out the sums" {
    run -0 sc-inspect --json --no-sums "$GOOD"
    [[ $output != *'"sum"'* && $output == *'"nnz":14'* ]]
}

@test "sc-inspect: -o FILE converts, and the result reads back the same" {
    converts h5ad/cellxgene_schema_example_valid.h5ad
}

@test "sc-inspect: -o - is a usage error (HDF5 needs a file)" {
    run -2 --separate-stderr sc-inspect -o - "$GOOD"
    [[ -z $output && $stderr == "sc-inspect: "* ]]
    [[ ! -e - ]]
}

@test "sc-inspect: -o with two inputs is a usage error" {
    run -2 --separate-stderr sc-inspect -o "$BATS_TEST_TMPDIR/o.h5ad" \
        "$GOOD" "$GOOD"
    [[ $stderr == "sc-inspect: "* ]]
    [[ ! -e $BATS_TEST_TMPDIR/o.h5ad ]]
}

@test "sc-inspect: -o into a missing directory fails and leaves nothing" {
    local out=$BATS_TEST_TMPDIR/no-dir/out.h5ad
    run -1 --separate-stderr sc-inspect -o "$out" "$GOOD"
    [[ -z $output ]]
    [[ ${#stderr_lines[@]} -eq 1 ]]
    [[ $stderr == "sc-inspect: error: "*"$out"* ]]
    [[ ! -e $BATS_TEST_TMPDIR/no-dir ]]
}

@test "sc-inspect: -o replaces an existing file" {
    local out=$BATS_TEST_TMPDIR/out.h5ad
    echo old > "$out"
    run -0 sc-inspect -o "$out" "$GOOD"
    run -0 sc-inspect --json --no-sums "$out"
    [[ $output == *'"n_obs":2,"n_vars":7,'* ]]
}

@test "sc-inspect: --json to a full disk (/dev/full) fails with a message" {
    run -1 --separate-stderr bash -c 'sc-inspect --json "$1" > /dev/full' \
        _ "$GOOD"
    [[ ${#stderr_lines[@]} -eq 1 ]]
    [[ $stderr == "sc-inspect: error: "*"No space left on device" ]]
}

@test "sc-inspect: the text summary to /dev/full fails with a message" {
    run -1 --separate-stderr bash -c 'sc-inspect "$1" > /dev/full' _ "$GOOD"
    [[ $stderr == "sc-inspect: error: "*"No space left on device" ]]
}

@test "sc-inspect: -k goes on after a failed input and exits 3" {
    run -3 --separate-stderr sc-inspect -k --json "$GOOD" "$BAD" "$GOOD"
    [[ ${#lines[@]} -eq 2 ]]
    [[ ${lines[0]} == '{"path":"'"$GOOD"'",'* ]]
    [[ ${lines[1]} == '{"path":"'"$GOOD"'",'* ]]
    [[ ${#stderr_lines[@]} -eq 2 ]]
    [[ ${stderr_lines[0]} == "sc-inspect: error: '$BAD': X: indptr is not monotone"* ]]
    [[ ${stderr_lines[1]} == "sc-inspect: warning: 1 of 3 inputs failed" ]]
}

@test "sc-inspect: without -k the first failed input stops the run" {
    run -1 --separate-stderr sc-inspect --json "$GOOD" "$BAD" "$GOOD"
    [[ ${#lines[@]} -eq 1 && ${lines[0]} == '{"path":"'"$GOOD"'",'* ]]
    [[ ${#stderr_lines[@]} -eq 1 && $stderr == "sc-inspect: error: '$BAD'"* ]]
}

@test "sc-inspect: -q keeps the -k failure count quiet, not the errors" {
    run -3 --separate-stderr sc-inspect -q -k --json "$BAD" "$GOOD"
    [[ ${#lines[@]} -eq 1 ]]
    [[ ${#stderr_lines[@]} -eq 1 && $stderr == "sc-inspect: error: "* ]]
}

# ---- lenient inputs ----

@test "sc-inspect: an indptr not starting at 0 is read as anndata reads it" {
    local in=$SC_TEST_DATA/lenient/indptr-offset.h5ad
    local out=$BATS_TEST_TMPDIR/out.h5ad
    run -0 sc-inspect --json "$in"
    [[ $output == *'"X":{"type":"csr","dtype":"float32","shape":[4,3],"nnz":5,"sum":20.0}'* ]]
    run -0 sc-inspect -o "$out" "$in"
    run -0 /usr/bin/python3 -W ignore -c '
import sys, anndata, numpy as np
a, b = (anndata.read_h5ad(p) for p in sys.argv[1:])
assert b.X.indptr[0] == 0, b.X.indptr
assert np.array_equal(a.X.toarray(), b.X.toarray())
print(b.X.sum())
' "$in" "$out"
    [[ $output == 20.0 ]]
}

# ---- every sample file: what anndata reports (EXPECTED.json), and -o ----

# sample KEY: sc-inspect reads the sample KEY (a path under tests/data) as
# EXPECTED.json says, and converts it with -o.
sample() {
    expected "$1"
    converts "$1"
}

@test "sc-inspect: every EXPECTED.json entry has a test here" {
    local key missing=()
    while read -r key; do
        grep -qxF "    sample $key" "$BATS_TEST_FILENAME" || missing+=("$key")
    done < <(/usr/bin/python3 -c '
import json, sys
print("\n".join(json.load(open(sys.argv[1]))))' "$SC_TEST_DATA/EXPECTED.json")
    [[ ${#missing[@]} -eq 0 ]] || {
        echo "no test for: ${missing[*]}"
        return 1
    }
}

@test "sc-inspect: h5ad/anndataR_example.h5ad as EXPECTED.json, and -o" {
    sample h5ad/anndataR_example.h5ad
}

@test "sc-inspect: h5ad/anndata_archive_v0.11.4_noX.h5ad as EXPECTED.json, and -o" {
    sample h5ad/anndata_archive_v0.11.4_noX.h5ad
}

@test "sc-inspect: h5ad/anndata_archive_v0.7.0_lzf.h5ad as EXPECTED.json, and -o" {
    sample h5ad/anndata_archive_v0.7.0_lzf.h5ad
}

@test "sc-inspect: h5ad/cellxgene_explorer_fixture_v0.7.h5ad as EXPECTED.json, and -o" {
    sample h5ad/cellxgene_explorer_fixture_v0.7.h5ad
}

@test "sc-inspect: h5ad/cellxgene_schema_example_valid.h5ad as EXPECTED.json, and -o" {
    sample h5ad/cellxgene_schema_example_valid.h5ad
}

@test "sc-inspect: h5ad/scanpy_pbmc68k_reduced_2025.h5ad as EXPECTED.json, and -o" {
    sample h5ad/scanpy_pbmc68k_reduced_2025.h5ad
}

@test "sc-inspect: h5ad/scanpy_pbmc68k_reduced_legacy_v0.6.h5ad as EXPECTED.json, and -o" {
    sample h5ad/scanpy_pbmc68k_reduced_legacy_v0.6.h5ad
}

@test "sc-inspect: 10x_h5/cellranger2_filtered_gene_bc_matrices_h5.h5 as EXPECTED.json, and -o" {
    sample 10x_h5/cellranger2_filtered_gene_bc_matrices_h5.h5
}

@test "sc-inspect: 10x_h5/cellranger3_filtered_feature_bc_matrix.h5 as EXPECTED.json, and -o" {
    sample 10x_h5/cellranger3_filtered_feature_bc_matrix.h5
}

@test "sc-inspect: 10x_mtx/cellranger2_hg19_chr21/ as EXPECTED.json, and -o" {
    sample 10x_mtx/cellranger2_hg19_chr21/
}

@test "sc-inspect: 10x_mtx/cellranger3_filtered_feature_bc_matrix/ as EXPECTED.json, and -o" {
    sample 10x_mtx/cellranger3_filtered_feature_bc_matrix/
}

@test "sc-inspect: loom/loompy_test.loom as EXPECTED.json, and -o" {
    sample loom/loompy_test.loom
}
