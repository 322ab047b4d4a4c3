#!/usr/bin/env bats
# Every h5ad writer (sc_h5ad_write: sc-inspect -o, sc-harmonize,
# sc-annotate annotate) on a full disk: one line naming the output, exit 1,
# no crash in HDF5's shutdown, no partial or temporary file left (issue 15).
# A file size limit stands in for the full disk (no root needed): with
# SIGXFSZ ignored, write() fails with EFBIG past `ulimit -f` KiB.
# SPDX-License-Identifier: MIT

load helpers

BIG=$SC_TEST_DATA/h5ad/scanpy_pbmc68k_reduced_2025.h5ad
SMALL=$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad

# limited KIB CMD...: run CMD with SIGXFSZ ignored, files limited to KIB
# KiB and no core dumps
limited() {
    local kib=$1
    shift
    run --separate-stderr bash -c 'trap "" XFSZ; ulimit -c 0; ulimit -f "$0"; exec "$@"' "$kib" "$@"
}

# the outcome every writer must give: status 1, one line naming OUT, and
# nothing but the input files left in the directory
one_clean_error() {
    local out=$1
    [[ $status -eq 1 ]] || { echo "status $status: $stderr"; return 1; }
    [[ ${#stderr_lines[@]} -eq 1 ]] || { echo "$stderr"; return 1; }
    [[ $stderr == *"cannot write '$out'"*"File too large" ]] || { echo "$stderr"; return 1; }
    [[ -z $(ls -A "$BATS_TEST_TMPDIR/o") ]] || { ls -la "$BATS_TEST_TMPDIR/o"; return 1; }
}

@test "write_disk_full_sc_inspect_clean_error_no_crash_no_leftover" {
    local lim
    mkdir "$BATS_TEST_TMPDIR/o"
    # the limit reached in the data writes, and in the final flush
    for lim in 8 200; do
        limited "$lim" sc-inspect -l 0 -o "$BATS_TEST_TMPDIR/o/x.h5ad" "$BIG"
        one_clean_error "$BATS_TEST_TMPDIR/o/x.h5ad"
    done
    for lim in 8 50; do
        limited "$lim" sc-inspect -l 0 -o "$BATS_TEST_TMPDIR/o/x.h5ad" "$SMALL"
        one_clean_error "$BATS_TEST_TMPDIR/o/x.h5ad"
    done
    # no limit: written
    run -0 sc-inspect -o "$BATS_TEST_TMPDIR/o/x.h5ad" "$SMALL"
    [[ -f $BATS_TEST_TMPDIR/o/x.h5ad ]]
}

@test "write_disk_full_sc_harmonize_clean_error_no_crash_no_leftover" {
    local in=$SC_TEST_DATA/10x_h5/cellranger3_filtered_feature_bc_matrix.h5
    mkdir "$BATS_TEST_TMPDIR/o"
    limited 50 sc-harmonize --min-cells 1 --min-mapped-genes 1 --min-genes 1 \
        -d "$BATS_TEST_TMPDIR/o" "$in"
    [[ $status -eq 1 && ${#stderr_lines[@]} -eq 1 ]] || { echo "status $status: $stderr"; return 1; }
    [[ $stderr == "sc-harmonize: error: "*"File too large" ]]
    [[ -z $(find "$BATS_TEST_TMPDIR/o" -name '*.h5ad*') ]]
    # -k: the failure is that dataset's, and the run goes on to exit 3
    limited 50 sc-harmonize -k --min-cells 1 --min-mapped-genes 1 --min-genes 1 \
        -d "$BATS_TEST_TMPDIR/o" "$in"
    [[ $status -eq 3 && $stderr == *"File too large"* ]] || { echo "status $status: $stderr"; return 1; }
    [[ -z $(find "$BATS_TEST_TMPDIR/o" -name '*.h5ad*') ]]
}
