#!/bin/bash
# make bench: build (or reuse) the benchmark corpora, run every
# scripts/bench.d/*.sh, and print one table: what was measured, our figure,
# the baseline's figure measured in the same run, the unit and the ratio
# (how many times better ours is; > 1 means ours wins).
# SPDX-License-Identifier: MIT
#
# Environment:
#   BUILD            build directory [build]
#   BENCH_SMALL=1    the small corpus (8,000 cells) and smaller inputs and caps:
#                    meant to take under a minute on 2 idle CPUs, the corpus
#                    build on a clean clone included
#   SC_BENCH_CACHE   corpus cache [build/bench-cache] (see scripts/bench-corpus)
#   BENCH_RUNS       runs per row [5; 3 with BENCH_SMALL=1]
#   BENCH_RUNS_LONG  runs per row for long measurements [3]
#   BENCH_ONLY       run only the bench.d scripts whose name matches this regex
#   BENCH_TSV        also write the rows to this file
# Usage: scripts/bench.sh     (or: make bench [BENCH_SMALL=1])
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export SC_ROOT=$PWD
BUILD=${BUILD:-build}
export SC_BUILD=$PWD/$BUILD
export BENCH_SMALL=${BENCH_SMALL:-0}
export LC_ALL=C
. scripts/bench-lib.sh

rows=$(mktemp)
cpu=$(mktemp)
trap 'rm -f "$rows" "$cpu"' EXIT
# took NAME T0: say how long NAME took since T0: wall seconds, and the CPU
# seconds (user + sys, children included) that /usr/bin/time wrote last in
# $cpu; on a shared machine the wall time depends on the other load, the CPU
# time much less
took() {
    echo "bench: $1 took $(( $(date +%s) - $2 )) s (CPU $(awk 'END { printf "%.1f", $1 + $2 }' "$cpu") s)" >&2
}

start=$(date +%s)
corpus=$(/usr/bin/time -f '%U %S' -o "$cpu" scripts/bench-corpus) ||
    { echo "bench: cannot build the benchmark corpus" >&2; exit 1; }
took corpus "$start"
export SC_BENCH_CORPUS=$corpus
failed=0
for s in scripts/bench.d/*.sh; do
    [[ -e $s ]] || continue
    n=$(basename "$s" .sh)
    if [[ -n ${BENCH_ONLY:-} && ! $n =~ $BENCH_ONLY ]]; then
        continue
    fi
    echo "bench: running $n" >&2
    t0=$(date +%s)
    out=$(/usr/bin/time -f '%U %S' -o "$cpu" bash "$s")
    rc=$?
    took "$n" "$t0"
    # keep only well-formed rows (5 tab-separated fields)
    printf '%s\n' "$out" | awk -F'\t' 'NF == 5' >> "$rows"
    if [[ $rc -ne 0 ]]; then
        printf '%s\tFAILED (exit %d)\t-\t-\t-\n' "$n" "$rc" >> "$rows"
        failed=1
    fi
done
[[ -n ${BENCH_TSV:-} ]] && cp "$rows" "$BENCH_TSV"

info() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$corpus/build.txt"; }
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
echo
printf 'sc benchmarks  %s  %s CPUs (%s)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "${cpu:-unknown CPU}"
printf 'corpus: %s: %s cells, %s datasets, %s non-zeros; %s MB uncompressed, %s MB gzip (built in %s s)\n' \
    "$corpus" "$(info cells)" "$(info datasets)" "$(info nnz)" \
    "$(( $(info bytes_none) / 1000000 ))" "$(( $(info bytes_gzip) / 1000000 ))" "$(info seconds)"
printf 'each figure: median of %s runs (%s for long ones), warm page cache; ratio > 1: ours is better\n\n' \
    "$(bench_runs)" "$(bench_runs long)"
{
    printf 'what\tours\tbaseline\tunit\tratio\n'
    cat "$rows"
} | awk -F'\t' '
    { for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR }
    END {
        for (r = 1; r <= n; r++) {
            line = sprintf("%-" w[1] "s", c[r, 1])
            for (i = 2; i <= 5; i++) {
                f = (i == 4) ? "%-" w[i] "s" : "%" w[i] "s"
                line = line "  " sprintf(f, c[r, i])
            }
            sub(/ +$/, "", line)
            print line
            if (r == 1) { s = ""; for (i = 1; i <= 5; i++) s = s sprintf("%" w[i] "s", "") ; gsub(/ /, "-", s); print substr(s "--------", 1, length(s) + 8) }
        }
    }'
echo
echo "bench: done in $(( $(date +%s) - start )) s" >&2
exit $failed
