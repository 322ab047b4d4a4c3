#!/bin/bash
# Benchmark (issue 16): cells/s into torch for each tensor kind of
# ScStreamDataset (dense, csr, C-dense, padded) with 0 and 2 DataLoader
# workers, each against the dense kind with as many workers, measured in the
# same run (scripts/bench.d/torch_kinds.py: median of BENCH_RUNS_LONG runs,
# each timed from its first batch on and capped at 30,000 cells or 15 s); and a weighted epoch (-n N, blocks drawn by
# weight) against the unweighted epoch of the same files, gzip variant
# (median wall time of sc-stream -o /dev/null).
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

stream=$SC_BUILD/bin/sc-stream
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SC_STREAM_CACHE=$tmp/cache SC_STREAM=$stream
runs=$(bench_runs long)
files=($(bench_files gzip))
cells=$(bench_truth 't["n_cells"]')
cap=30000
[[ ${BENCH_SMALL:-0} == 1 ]] && cap=4000
bench_warm gzip
"$stream" --join outer -b 256 -o /dev/null "${files[@]}" || { bench_note "sc-stream failed"; exit 1; }

$PY "$SC_ROOT/scripts/bench.d/torch_kinds.py" --runs "$runs" --cap "$cap" --seconds 15 "${files[@]}" > "$tmp/kinds" ||
    { bench_note "torch_kinds.py failed"; exit 1; }
for w in 0 2; do
    base=$(awk -v w=$w '$1 == "dense" && $2 == w { print $3 }' "$tmp/kinds")
    for k in dense csr C-dense padded; do
        r=$(awk -v k=$k -v w=$w '$1 == k && $2 == w { print $3 }' "$tmp/kinds")
        bench_row "into torch, $k kind vs dense kind, $w workers, gzip" "$r" "$base" cells/s "$(bench_ratio "$r" "$base")"
    done
done

args=(--join outer -b 256 --seed 1)
unw=$(bench_median "$runs" "$stream" "${args[@]}" -o /dev/null "${files[@]}")
wei=$(bench_median "$runs" "$stream" "${args[@]}" -n "$cells" -o /dev/null "${files[@]}")
ind=$(bench_median "$runs" "$stream" "${args[@]}" -n "$cells" --block-draws 1 -o /dev/null "${files[@]}")
ru=$(bench_rate "$cells" "$unw") rw=$(bench_rate "$cells" "$wei") ri=$(bench_rate "$cells" "$ind")
bench_row "weighted epoch (blocks by weight) vs unweighted epoch, gzip" "$rw" "$ru" cells/s "$(bench_ratio "$rw" "$ru")"
bench_row "weighted epoch, independent draws (--block-draws 1) vs unweighted, gzip" "$ri" "$ru" cells/s "$(bench_ratio "$ri" "$ru")"
