#!/usr/bin/env bats
# The regression corpus tests/data/fuzz (made by scripts/make-fuzz-cases,
# one guard per case in CASES.tsv): every reader gives exit status 1 and one
# error line naming the file; no crash, no sanitizer report (which would
# change the status and stderr), no hang.
# SPDX-License-Identifier: MIT

load helpers

FUZZ=$SC_TEST_DATA/fuzz
# global-heap-loop.h5ad sends libhdf5 into an endless loop: the probe ends
# it after this many seconds (120 s and more by default)
export SC_PROBE_TIMEOUT=5

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

@test "x guard: out-of-range or negative X indices and an uninflatable X chunk are reported by sc-inspect" {
    for f in x-indices-out-of-range x-indices-negative x-chunk-uninflatable; do
        run --separate-stderr sc-inspect "$FUZZ/$f.h5ad"
        one_line_naming "$FUZZ/$f.h5ad"
        [[ -z $output ]] # nothing printed before the check
    done
    run --separate-stderr sc-inspect "$FUZZ/x-indices-out-of-range.h5ad"
    [[ $stderr == *"column index 7 out of range"* ]]
    run --separate-stderr sc-inspect "$FUZZ/x-chunk-uninflatable.h5ad"
    [[ $stderr == *"chunk 1 does not inflate"* ]]
}

@test "x guard: sc-register add refuses bad X indices and chunks, registers nothing, -k goes on" {
    export SC_REGISTRY=$BATS_TEST_TMPDIR/reg.db XDG_CACHE_HOME=$SC_BUILD/cache
    sc-register init
    for f in x-indices-out-of-range x-indices-negative x-chunk-uninflatable; do
        run --separate-stderr sc-register add "$FUZZ/$f.h5ad"
        one_line_naming "$FUZZ/$f.h5ad"
    done
    [[ $(sc-register query --all-versions | tail -n +2 | wc -l) -eq 0 ]]
    run -3 --separate-stderr sc-register add -k "$FUZZ/x-chunk-uninflatable.h5ad" \
        "$SC_TEST_DATA/h5ad/anndataR_example.h5ad"
    [[ $(grep -c $'\tnew$' <<< "$output") -eq 1 ]]
    [[ $(grep -c $'\tfailed$' <<< "$output") -eq 1 ]]
}

# A crash inside libhdf5 is simulated with the test hook SC_PROBE_CRASH (the
# probe child of a file whose path contains it dies of SIGSEGV, as libhdf5
# 1.10 does on some byte-mutated files); the tools must report that dataset
# in one line and go on with the others under -k.
probe_files() {
    P=$BATS_TEST_TMPDIR/p
    mkdir -p "$P"
    cp "$SC_TEST_DATA/h5ad/anndataR_example.h5ad" "$P/crashme.h5ad"
    cp "$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad" "$P/good.h5ad"
    export SC_PROBE_CRASH=crashme XDG_CACHE_HOME=$BATS_TEST_TMPDIR/cache
}

crash_line() {
    [[ $(grep -c "'$P/crashme.h5ad': libhdf5 crashed reading it (signal 11)" <<< "$stderr") -eq 1 ]]
}

@test "probe guard: a libhdf5 crash on one file is its error in sc-inspect -k and sc-harmonize -k" {
    probe_files
    run -3 --separate-stderr sc-inspect -k "$P/crashme.h5ad" "$P/good.h5ad"
    crash_line
    [[ $output == *"good.h5ad (h5ad"* && $output != *crashme* ]]
    run -1 --separate-stderr sc-inspect "$P/crashme.h5ad"
    one_line_naming "$P/crashme.h5ad"
    run -3 --separate-stderr sc-harmonize -k -d "$BATS_TEST_TMPDIR/h" "$P/crashme.h5ad" "$P/good.h5ad"
    crash_line
    [[ $output == *$'crashme.h5ad\tfailed\t'* && $output == *$'good.h5ad\trefused'* ]]
}

@test "probe guard: a libhdf5 crash on one file is its error in sc-annotate annotate -k, sc-register add -k, sc-stream index -k" {
    probe_files
    run -3 --separate-stderr sc-annotate annotate -k -d "$BATS_TEST_TMPDIR/a" "$P/crashme.h5ad" "$P/good.h5ad"
    crash_line
    [[ $output == *$'good.h5ad\tok'* ]]
    export SC_REGISTRY=$BATS_TEST_TMPDIR/reg.db
    sc-register init
    run -3 --separate-stderr sc-register add -k "$P/crashme.h5ad" "$P/good.h5ad"
    crash_line
    [[ $output == *$'crashme.h5ad\t\t\t\t\t\tfailed'* && $output == *$'\tnew'* ]]
    run -3 --separate-stderr sc-stream index -k --cache-dir "$BATS_TEST_TMPDIR/c" "$P/crashme.h5ad" "$P/good.h5ad"
    crash_line
    [[ $output == *good.h5ad* && $output != *crashme* ]]
}

@test "probe guard: without the hook the same files are read (the probe changes no result)" {
    probe_files
    unset SC_PROBE_CRASH
    run -0 --separate-stderr sc-inspect "$P/crashme.h5ad" "$P/good.h5ad"
    [[ -z $stderr && $output == *"crashme.h5ad (h5ad"*"good.h5ad (h5ad"* ]]
}

@test "probe guard: a file that sends libhdf5 into an endless loop is its error after the time limit; -k goes on" {
    run --separate-stderr timeout 60 sc-inspect "$FUZZ/global-heap-loop.h5ad"
    one_line_naming "$FUZZ/global-heap-loop.h5ad"
    [[ $stderr == *"libhdf5 hung reading it (no answer in 5 s)"* ]]
    run -3 --separate-stderr timeout 60 sc-inspect -k "$FUZZ/global-heap-loop.h5ad" \
        "$SC_TEST_DATA/h5ad/anndataR_example.h5ad"
    [[ $output == *"anndataR_example.h5ad (h5ad"* ]]
}

# The probe server (one per tool process, forking a child per file) ends
# with the tool: no process of the run is left once the tool has exited,
# and a tool's output pipe is not held open by it.
@test "probe guard: the probe server ends with the tool (no process left, the output pipe closes)" {
    probe_files
    unset SC_PROBE_CRASH
    export SC_PROBE_MARK=$BATS_TEST_TMPDIR/mark
    run -0 --separate-stderr bash -c 'sc-inspect "$1" "$2" | cat' _ \
        "$P/crashme.h5ad" "$P/good.h5ad"
    [[ $output == *"crashme.h5ad (h5ad"*"good.h5ad (h5ad"* ]]
    left=0
    for e in /proc/[0-9]*/environ; do
        if tr '\0' '\n' < "$e" 2> /dev/null | grep -qxF "SC_PROBE_MARK=$SC_PROBE_MARK"; then
            left=$((left + 1))
        fi
    done
    [[ $left -eq 0 ]]
}
