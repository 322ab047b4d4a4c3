#!/bin/bash
# Benchmark: read the whole of X of every corpus file.
#   baseline: h5py, contiguous 256-row blocks in order (scripts/bench.d/read_blocks.py;
#             "baseline C" of issue 9 without the shuffle); its own timing,
#             without interpreter start-up
#   ours:     sc-inspect --json on all files (it reads X to sum it), wall time;
#             n/a until built
# Rows: cells/s for the uncompressed and the gzip variant.  The X sums both
# readers report (first run) are checked against the corpus truth.
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

inspect=$SC_BUILD/bin/sc-inspect
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cells=$(bench_truth 't["n_cells"]')
want=$(bench_truth 'repr(sum(d["x"]["sum"] for d in t["datasets"]))')

sum_baseline() { awk '{ print $4 }'; }
sum_inspect() { $PY -c 'import json,sys; print(repr(sum(json.loads(l)["X"]["sum"] for l in sys.stdin if l.strip())))'; }

# measure NAME SUMFN reported|wall CMD...: cells/s of CMD over $runs runs,
# after checking the X sum its first run reports; prints FAILED or WRONG instead
measure() {
    local name=$1 sumfn=$2 timing=$3 got secs
    shift 3
    bench_collect "$runs" "$tmp/$name" "$@" || { echo FAILED; return 1; }
    got=$($sumfn < "$tmp/$name.out")
    if ! awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a + 0 == a && d <= 1e-6 * b) }'; then
        bench_note "$v: $name X sum $got, truth $want"
        echo WRONG
        return 1
    fi
    if [[ $timing == reported ]]; then
        secs=$(awk '{ print $1 }' "$tmp/$name.last" | median)
    else
        secs=$(median < "$tmp/$name.times")
    fi
    bench_rate "$cells" "$secs"
}

rc=0
for v in none gzip; do
    mapfile -t files < <(bench_files "$v")
    runs=$(bench_runs)
    [[ $v == gzip && ${BENCH_SMALL:-0} != 1 ]] && runs=$(bench_runs long)
    bench_warm "$v"
    base=$(measure h5py sum_baseline reported $PY "$SC_ROOT/scripts/bench.d/read_blocks.py" "${files[@]}") || rc=1
    ours=n/a
    if [[ -x $inspect ]]; then
        ours=$(measure sc-inspect sum_inspect wall "$inspect" --json "${files[@]}") || rc=1
    else
        bench_note "$inspect not built: ours is n/a"
    fi
    bench_row "read X: h5py contiguous 256-row blocks, $v" "$ours" "$base" cells/s "$(bench_ratio "$ours" "$base")"
done
exit $rc
