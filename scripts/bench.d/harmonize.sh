#!/bin/bash
# Benchmark: harmonize the corpus' big dataset (ds000 of the gzip variant:
# 500,000 cells x ~30,000 genes, ~1,000 non-zeros per cell; BENCH_SMALL=1:
# 2,000 x 20,000): read, map genes, sum duplicates, QC metrics, filter
# (200 genes per cell), write a gzip (level 4) h5ad.
#   baseline: scripts/bench.d/harmonize_baseline.py (anndata 0.8 + scipy +
#             numpy doing the same steps); whole process
#   ours:     sc-harmonize -@ 2 --no-provenance (it also does the metadata
#             rewrites, MAD flags, the report); whole process
# Rows: wall seconds and peak RSS (MB, /usr/bin/time -v), medians of the
# runs; ratio = baseline / ours. Both outputs are checked to hold the same
# cells and the same total counts.
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

hz=$SC_BUILD/bin/sc-harmonize
share=$SC_ROOT/share
in=$SC_BENCH_CORPUS/gzip/ds000.h5ad
tmp=$(mktemp -d "$SC_BUILD/bench-harmonize.XXXXXX") # not /tmp: big outputs
trap 'rm -rf "$tmp"' EXIT
runs=$(bench_runs long)
[[ ${BENCH_SMALL:-0} == 1 ]] && runs=$(bench_runs)

if [[ ! -x $hz || ! -f $in ]]; then
    bench_note "$hz not built or $in missing"
    exit 1
fi
cat "$in" > /dev/null # warm page cache

# measure NAME CMD...: run CMD RUNS times under /usr/bin/time -v; print the
# median wall seconds and the median peak RSS in MB
measure() {
    local name=$1 i
    shift
    : > "$tmp/$name.t"
    : > "$tmp/$name.m"
    for ((i = 0; i < runs; i++)); do
        /usr/bin/time -v -o "$tmp/$name.tv" "$@" > "$tmp/$name.out" || return
        awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0
                        for (k = 1; k <= n; k++) s = s * 60 + p[k]; print s }' \
            "$tmp/$name.tv" >> "$tmp/$name.t"
        awk -F': ' '/Maximum resident set size/ { print $2 / 1024 }' \
            "$tmp/$name.tv" >> "$tmp/$name.m"
    done
    echo "$(median < "$tmp/$name.t") $(median < "$tmp/$name.m")"
}

read -r bt bm < <(measure base $PY "$SC_ROOT/scripts/bench.d/harmonize_baseline.py" \
    "$share" "$in" "$tmp/base.h5ad" 200) || { bt=FAILED; bm=FAILED; }
read -r ot om < <(measure ours "$hz" -q -@ 2 --no-provenance --share "$share" \
    --min-mapped-genes 1000 -d "$tmp/ours" "$in") || { ot=FAILED; om=FAILED; }

# same cells and counts
if [[ $bt != FAILED && $ot != FAILED ]]; then
    $PY -c '
import anndata, sys, numpy as np
a, b = anndata.read_h5ad(sys.argv[1]), anndata.read_h5ad(sys.argv[2])
assert a.n_obs == b.n_obs, (a.n_obs, b.n_obs)
sa, sb = float(a.X.sum(dtype=np.float64)), float(b.X.sum(dtype=np.float64))
assert sa == sb, (sa, sb)' "$tmp/base.h5ad" "$tmp/ours/ds000.h5ad" ||
        { bench_note "outputs differ"; ot=WRONG; }
fi

cells=$(bench_truth 't["datasets"][0]["n_obs"]')
genes=$(bench_truth 't["datasets"][0]["n_vars"]')
bench_row "harmonize ${cells}x${genes} gzip h5ad: wall time (-@ 2)" "$ot" "$bt" s "$(bench_ratio "$bt" "$ot")"
bench_row "harmonize ${cells}x${genes} gzip h5ad: peak RSS" "$om" "$bm" MB "$(bench_ratio "$bm" "$om")"
