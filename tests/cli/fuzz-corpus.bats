#!/usr/bin/env bats
# The regression corpus tests/data/fuzz (made by scripts/make-fuzz-cases,
# one guard per case in CASES.tsv): every reader gives exit status 1 and one
# error line naming the file; no crash, no sanitizer report (which would
# change the status and stderr), no hang.
# SPDX-License-Identifier: MIT

load helpers

FUZZ=$SC_TEST_DATA/fuzz

# cases: the file column of CASES.tsv (cases marked "accepted" excluded).
cases() {
    awk -F'\t' 'NR > 1 && $2 !~ /^accepted/ { print $1 }' "$FUZZ/CASES.tsv"
}

# one_line_naming FILE: after `run --separate-stderr`, status 1 and
# exactly one stderr line that names FILE.
one_line_naming() {
    if [[ $status -ne 1 ]]; then
        echo "$1: status $status"; echo "$stderr"; return 1
    fi
    if [[ ${#stderr_lines[@]} -ne 1 || $stderr != *"$1"* ]]; then
        echo "$1: expected one error line naming it, got:"; echo "$stderr"
        return 1
    fi
}

@test "fuzz corpus: CASES.tsv lists every case file and names its guard" {
    [[ $(cases | wc -l) -ge 8 ]]
    while read -r f; do
        [[ -f $FUZZ/$f ]] || { echo "missing $f"; return 1; }
    done < <(cases)
}

@test "fuzz corpus: sc-inspect refuses every case with one line naming it" {
    while read -r f; do
        run --separate-stderr timeout 60 sc-inspect "$FUZZ/$f"
        one_line_naming "$FUZZ/$f"
        [[ -z $output ]]
    done < <(cases)
}

@test "fuzz corpus: sc-inspect --json refuses every case" {
    while read -r f; do
        run --separate-stderr timeout 60 sc-inspect --json "$FUZZ/$f"
        one_line_naming "$FUZZ/$f"
    done < <(cases)
}

@test "fuzz corpus: sc-harmonize reports every case as failed and writes nothing" {
    while read -r f; do
        rm -rf "$BATS_TEST_TMPDIR/out"
        run --separate-stderr timeout 60 sc-harmonize -d "$BATS_TEST_TMPDIR/out" "$FUZZ/$f"
        one_line_naming "$FUZZ/$f"
        [[ -z $(find "$BATS_TEST_TMPDIR/out" -name '*.h5ad' 2>/dev/null) ]]
    done < <(cases)
}

@test "hdf5 guard: an external link is refused, not followed" {
    run --separate-stderr sc-inspect "$FUZZ/external-link-x.h5ad"
    [[ $status -eq 1 && $stderr == *"external link"* ]]
}

@test "hdf5 guard: a hard or soft link cycle in uns is an error, not a stack overflow" {
    for f in link-cycle-hard link-cycle-soft; do
        run --separate-stderr sc-inspect "$FUZZ/$f.h5ad"
        [[ $status -eq 1 && $stderr == *"link cycle"* ]]
    done
}

@test "input guard: FIFOs and devices are refused, not read forever" {
    mkfifo "$BATS_TEST_TMPDIR/fifo"
    for p in /dev/zero "$BATS_TEST_TMPDIR/fifo"; do
        run --separate-stderr timeout 20 sc-inspect "$p"
        one_line_naming "$p"
        run --separate-stderr timeout 20 sc-harmonize -d "$BATS_TEST_TMPDIR/o" "$p"
        one_line_naming "$p"
    done
}

@test "size guard: a 3 KB loom declaring a 2^31 x 2^31 fill-value matrix is refused at open" {
    run --separate-stderr timeout 20 sc-inspect "$FUZZ/loom-fill-bomb.loom"
    one_line_naming "$FUZZ/loom-fill-bomb.loom"
    [[ $stderr == *"more than a"*"-byte file can hold"* ]]
    # an empty matrix declaring 2^40 cells: its names would not fit
    run --separate-stderr timeout 20 sc-inspect "$FUZZ/loom-empty-huge.loom"
    one_line_naming "$FUZZ/loom-empty-huge.loom"
    [[ $stderr == *"more than the memory"* ]]
}

@test "size guard: an obs column declaring 16 GB of fill value is refused before allocating" {
    run --separate-stderr timeout 20 sc-inspect "$FUZZ/obs-column-fill-bomb.h5ad"
    one_line_naming "$FUZZ/obs-column-fill-bomb.h5ad"
    [[ $stderr == *"obs/n: declares"* ]]
}

@test "size guard: MTX gzip bombs (a lying size line, 2e6 identical lines) are refused at the size line" {
    for d in mtx-declared-bomb mtx-gzip-bomb; do
        run --separate-stderr timeout 20 sc-inspect "$FUZZ/$d"
        one_line_naming "$FUZZ/$d/matrix.mtx.gz"
        [[ $stderr == *"gzip file can hold"* ]]
    done
}

@test "size guard: a gzip'd features.tsv of one endless line stops at the line limit" {
    d=$BATS_TEST_TMPDIR/mex
    mkdir "$d"
    cp "$FUZZ/mtx-declared-bomb/barcodes.tsv.gz" "$FUZZ/mtx-declared-bomb/matrix.mtx.gz" "$d/"
    head -c 300000000 /dev/zero | tr '\0' a | gzip -1 > "$d/features.tsv.gz"
    run --separate-stderr timeout 60 sc-inspect "$d"
    one_line_naming "$d/features.tsv.gz"
    [[ $stderr == *"longer than 256 MiB"* ]]
}
