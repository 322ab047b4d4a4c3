# shellcheck shell=bash
# bench-lib.sh: helpers shared by the benchmark scripts (scripts/bench.d/*.sh).
# Source it:   . "$(dirname "$0")/../bench-lib.sh"
# SPDX-License-Identifier: MIT
#
# scripts/bench.sh runs every scripts/bench.d/*.sh with this environment:
#   SC_ROOT           repository root
#   SC_BUILD          build directory (binaries in $SC_BUILD/bin)
#   SC_BENCH_CORPUS   benchmark corpus: none/ and gzip/ hold the same ds*.h5ad
#                     (uncompressed; gzip level 4 auto chunks) + truth.json
#   BENCH_SMALL       1 for the small corpus
#   BENCH_RUNS        runs per measurement [5; 3 with BENCH_SMALL=1];
#   BENCH_RUNS_LONG   runs for long measurements [3]
# A benchmark script prints one TSV row per measurement on stdout:
#   what <TAB> ours <TAB> baseline <TAB> unit <TAB> ratio
# where ratio says how many times better ours is than the baseline (> 1: ours
# wins), each figure the median of several runs measured in the same run of
# `make bench`.  Progress and notes go to stderr.  Use bench_row to print.

PY=/usr/bin/python3
SC_ROOT=${SC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SC_BUILD=${SC_BUILD:-$SC_ROOT/build}

# bench_runs [long]: how many runs a measurement takes
bench_runs() {
    if [[ ${1:-} == long ]]; then
        echo "${BENCH_RUNS_LONG:-3}"
    elif [[ ${BENCH_SMALL:-0} == 1 ]]; then
        echo "${BENCH_RUNS:-3}"     # the small mode must finish in under a minute
    else
        echo "${BENCH_RUNS:-5}"
    fi
}

# median: the median of the numbers on stdin (one per line)
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_time CMD...: run CMD once (stdout to /dev/null), print its wall time in
# seconds; fails when CMD fails
bench_time() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" > /dev/null || return
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }'
}

# bench_median N CMD...: run CMD N times, print the median wall time (seconds)
bench_median() {
    local n=$1 i
    shift
    for ((i = 0; i < n; i++)); do
        bench_time "$@" || return
    done | median
}


# bench_collect N PREFIX CMD...: run CMD N times and keep what it said: the
# wall seconds of each run in PREFIX.times, the last stdout line of each run in
# PREFIX.last, the whole stdout of the first run in PREFIX.out (to check the
# result without a separate run).  Fails when CMD fails.
bench_collect() {
    local n=$1 prefix=$2 i t0 t1
    shift 2
    : > "$prefix.times"
    : > "$prefix.last"
    for ((i = 0; i < n; i++)); do
        t0=$(date +%s.%N)
        "$@" > "$prefix.cur" || return
        t1=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >> "$prefix.times"
        tail -1 "$prefix.cur" >> "$prefix.last"
        if ((i == 0)); then mv "$prefix.cur" "$prefix.out"; fi
    done
    rm -f "$prefix.cur"
}

# bench_rate COUNT SECONDS: COUNT / SECONDS
bench_rate() {
    awk -v c="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.6g\n", c / s; else print "n/a" }'
}

# bench_ratio A B: A / B with two decimals, or n/a
bench_ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 == a && b + 0 == b && b != 0) printf "%.2f\n", a / b; else print "n/a" }'
}

# bench_fmt X: three significant digits, thousands grouped (n/a kept)
bench_fmt() {
    awk -v x="$1" 'BEGIN {
        if (x + 0 != x) { print x; exit }
        if (x >= 1000) {
            s = sprintf("%.0f", sprintf("%.3g", x) + 0); out = ""
            while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
            print s out
        } else printf "%.3g\n", x }'
}

# bench_row WHAT OURS BASELINE UNIT RATIO: print one result row
bench_row() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$(bench_fmt "$2")" "$(bench_fmt "$3")" "$4" "$5"
}

# bench_files VARIANT: the corpus files of one variant (none or gzip), in order
bench_files() {
    ls "$SC_BENCH_CORPUS/$1"/ds*.h5ad
}

# bench_truth EXPR: evaluate a Python expression over the corpus truth (t)
bench_truth() {
    $PY -c 'import json,sys; t=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$SC_BENCH_CORPUS/none/truth.json" "$1"
}

# bench_links TEMPLATES WORK N NAME: N paths WORK/d/NAME00000.h5ad... linked
# to the ds*.h5ad of TEMPLATES in turn, and the manifest WORK/m.tsv of them
# with a distinct sha256 column per row (for add --trust-sha256)
bench_links() {
    $PY - "$@" <<'EOF'
import glob, hashlib, os, sys
tpl, work, n, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
files = sorted(glob.glob(os.path.join(tpl, "ds*.h5ad")))
os.makedirs(os.path.join(work, "d"))
with open(os.path.join(work, "m.tsv"), "w") as f:
    f.write("path\tsha256\n")
    for i in range(n):
        p = os.path.join(work, "d", "%s%05d.h5ad" % (name, i))
        os.symlink(files[i % len(files)], p)
        f.write("%s\t%s\n" % (p, hashlib.sha256(b"%s-%d" % (name.encode(), i)).hexdigest()))
EOF
}

# bench_note MESSAGE: a line on stderr, prefixed with the script name
bench_note() {
    echo "bench $(basename "${BASH_SOURCE[1]:-$0}" .sh): $*" >&2
}

# bench_warm VARIANT: read the files once so that runs start with a warm page cache
bench_warm() {
    local f
    bench_files "$1" | while read -r f; do cat "$f"; done > /dev/null
}

# bench_s3_tmp NAME: a temporary folder for an S3 benchmark in $tmp, removed
# at exit with the S3 test server that bench_s3_start starts; exits 0 with a
# note when the server cannot run here (no node)
bench_s3_tmp() {
    if ! "$SC_ROOT/tests/s3-server.sh" available; then
        bench_note "no node (the S3 test server): skipped"
        exit 0
    fi
    tmp=$(mktemp -d "$SC_BUILD/bench-$1.XXXXXX")
    s3dir=
    trap bench_s3_cleanup EXIT
}
bench_s3_cleanup() {
    [[ -n $s3dir ]] && "$SC_ROOT/tests/s3-server.sh" stop "$s3dir"
    rm -rf "$tmp"
}

# bench_mbs BYTES FILE: MB/s of BYTES read in the median of the times in FILE
bench_mbs() {
    bench_rate "$(awk -v s="$1" 'BEGIN { printf "%.6f\n", s / 1e6 }')" "$(median < "$2")"
}

# bench_s3_start: the S3 test server on 127.0.0.1 (s3dir, SC_S3_ENDPOINT and
# its credentials exported); exits 1 when it does not start
bench_s3_start() {
    local vars
    vars=$("$SC_ROOT/tests/s3-server.sh" start bench) || exit 1
    eval "$vars"
    s3dir=$SC_S3_DIR
    export SC_S3_ENDPOINT AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
}
