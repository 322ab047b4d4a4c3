#!/bin/bash
# Benchmark: one shuffled epoch of the whole corpus as batches of 256 cells.
#   baseline: h5py reads of random 256-row blocks of X (read_blocks.py
#             --random; "baseline C" of issue 9 without its in-buffer
#             shuffle), its own timing without interpreter start-up
#   ours:     sc-stream --join outer (blocks of 16 cells, 256 blocks per
#             buffer, shuffled; the mixing statistic is noted on stderr)
#             writing binary batches to /dev/null, wall time, with the index
#             cache built by an untimed first run (which also checks that
#             every cell of the corpus was streamed)
# Rows: cells/s for the uncompressed and the gzip variant.
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

stream=$SC_BUILD/bin/sc-stream
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SC_STREAM_CACHE=$tmp/cache
cells=$(bench_truth 't["n_cells"]')
rc=0
if [[ ! -x $stream ]]; then
    bench_note "$stream not built"
    exit 1
fi
for v in none gzip; do
    files=($(bench_files "$v"))
    runs=$(bench_runs)
    [[ $v == gzip && ${BENCH_SMALL:-0} != 1 ]] && runs=$(bench_runs long)
    bench_warm "$v"
    base_rate=FAILED
    if bench_collect "$runs" "$tmp/base" $PY "$SC_ROOT/scripts/bench.d/read_blocks.py" \
        --random 1 "${files[@]}"; then
        got=$(awk '{ print $2 }' "$tmp/base.out")
        if [[ $got == "$cells" ]]; then
            base_rate=$(bench_rate "$cells" "$(awk '{ print $1 }' "$tmp/base.last" | median)")
        else
            bench_note "$v: h5py baseline read $got cells, truth $cells"
            base_rate=WRONG
            rc=1
        fi
    else
        rc=1
    fi
    ours=FAILED
    args=(--join outer -b 256 --seed 1 -o /dev/null "${files[@]}")
    if "$stream" -v "${args[@]}" 2> "$tmp/first.err"; then
        got=$(sed -n 's/^sc-stream: \([0-9]*\) cells selected.*/\1/p' "$tmp/first.err")
        bench_note "$v: $(grep -h 'mixing:' "$tmp/first.err" | sed 's/^sc-stream: //')"
        if [[ $got != "$cells" ]]; then
            bench_note "$v: sc-stream streamed $got cells, truth $cells"
            ours=WRONG
            rc=1
        elif bench_collect "$runs" "$tmp/ours" "$stream" "${args[@]}" 2> "$tmp/ours.err"; then
            ours=$(bench_rate "$cells" "$(median < "$tmp/ours.times")")
        else
            bench_note "$v: $(tail -1 "$tmp/ours.err")"
            rc=1
        fi
    else
        bench_note "$v: $(tail -1 "$tmp/first.err")"
        rc=1
    fi
    bench_row "stream an epoch (shuffled, batches of 256) vs h5py random 256-row blocks, $v" \
        "$ours" "$base_rate" cells/s "$(bench_ratio "$ours" "$base_rate")"
done
exit $rc
