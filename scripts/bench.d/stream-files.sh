#!/bin/bash
# Benchmark (issue 22): the same cells split into 20 / 200 / 2,000 / 10,000
# h5ad files (uncompressed, 4 studies with different genes; written at bench
# time by stream_files.py gen into a temp dir), one shuffled epoch of each by
# sc-stream -@ 2 --join outer to /dev/null (index cache warmed by an untimed
# first run, which also checks the cell count): epoch seconds and peak RSS
# (/usr/bin/time), and the seconds to the first batch in Python
# (python/sc_stream.py); 10,000 files under `ulimit -n 256`.  Rows: each
# size against 20 files; -@ 2 against -@ 1 (the scaling of the parallel
# fill); peak RSS against the same run with every open file keeping its
# HDF5 handle (SC_STREAM_KEEP_H5=1, how sc-stream read before
# the handle was closed at open); and against lamindb's MappedCollection in a torch
# DataLoader with 2 workers on the same files (capped at BENCH_CAP seconds;
# its vendored file and stand-ins: lamindb_standins/README; rows left out
# with a note when the file is absent).
# Environment: BENCH_FILES_SIZES [20 200 2000, and 10000 with
# BENCH_FILES_LARGE=1; small: 20 200 2000]: 10,000 files are opt-in, as
# writing them takes about 6 minutes and the first run (every file probed in
# a child process, then indexed) about 15 more on this 2-core machine,
# BENCH_FILES_CELLS [100000; small: 20000], BENCH_FILES_GENES [5000; small:
# 2000] genes per file (scaled down from ~20,000 so that 10,000 files fit
# on disk and are written in minutes), BENCH_FILES_NNZ [300] stored values
# per cell.
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

stream=$SC_BUILD/bin/sc-stream
helper=$SC_ROOT/scripts/bench.d/stream_files.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SC_STREAM_CACHE=$tmp/cache SC_STREAM=$stream
if [[ ${BENCH_SMALL:-0} == 1 ]]; then
    sizes=${BENCH_FILES_SIZES:-20 200 2000} cells=${BENCH_FILES_CELLS:-20000}
    genes=${BENCH_FILES_GENES:-2000} cap=${BENCH_CAP:-5}
else
    large=
    [[ ${BENCH_FILES_LARGE:-0} == 1 ]] && large=" 10000"
    sizes=${BENCH_FILES_SIZES:-20 200 2000$large} cells=${BENCH_FILES_CELLS:-100000}
    genes=${BENCH_FILES_GENES:-5000} cap=${BENCH_CAP:-30}
fi
nnz=${BENCH_FILES_NNZ:-300}
runs=$(bench_runs)
rc=0
if [[ ! -x $stream ]]; then
    bench_note "$stream not built"
    exit 1
fi
mc=${SC_MAPPED_COLLECTION:-${SC_BENCH_CACHE:-$SC_ROOT/build/bench-cache}/lamindb/_mapped_collection.py}
mc_sum=de5fe44fdea69657fe35922ffab341197641e42ae79ec20955f69e875c2f9479
if [[ ! -f $mc ]] || [[ $(sha256sum < "$mc" | cut -d' ' -f1) != "$mc_sum" ]]; then
    bench_note "MappedCollection rows left out: no $mc with sha256 $mc_sum (lamindb_standins/README)"
    mc=
fi
export SC_MAPPED_COLLECTION=$mc

args=(-@ 2 --join outer -b 256 --buffer 512 --seed 1)
declare -A epoch rss first
for n in $sizes; do
    dir=$tmp/f$n
    t0=$(date +%s)
    if ! $PY "$helper" gen "$dir" "$n" "$cells" "$genes" "$nnz" 1 2> "$tmp/gen.err"; then
        bench_note "$n files: generation failed: $(tail -1 "$tmp/gen.err")"
        rc=1
        continue
    fi
    bench_note "$n files: written in $(($(date +%s) - t0)) s ($(du -sm "$dir" | cut -f1) MB)"
    lim=$(ulimit -n)
    [[ $n -ge 10000 ]] && lim=256
    epoch[$n]=FAILED rss[$n]=FAILED first[$n]=FAILED
    t0=$(date +%s)
    if ! (ulimit -n "$lim" && "$stream" -v "${args[@]}" -o /dev/null "$dir"/*.h5ad) 2> "$tmp/first.err"; then
        bench_note "$n files: $(tail -1 "$tmp/first.err")"
        rc=1
        continue
    fi
    got=$(sed -n 's/^sc-stream: \([0-9]*\) cells selected.*/\1/p' "$tmp/first.err")
    bench_note "$n files (ulimit -n $lim): first run, index cache built, in $(($(date +%s) - t0)) s"
    if [[ $got != "$cells" ]]; then
        bench_note "$n files: sc-stream streamed $got cells, truth $cells"
        epoch[$n]=WRONG
        rc=1
        continue
    fi
    : > "$tmp/rss"
    if bench_collect "$runs" "$tmp/ep" /usr/bin/time -a -o "$tmp/rss" -f %M \
        bash -c 'ulimit -n "$1" && shift && exec "$@"' - "$lim" \
        "$stream" "${args[@]}" -o /dev/null "$dir"/*.h5ad 2> "$tmp/ep.err"; then
        epoch[$n]=$(median < "$tmp/ep.times")
        rss[$n]=$(awk '{ print $1 / 1024 }' "$tmp/rss" | median)
    else
        bench_note "$n files: $(tail -1 "$tmp/ep.err")"
        rc=1
    fi
    : > "$tmp/rss"
    if SC_STREAM_KEEP_H5=1 bench_collect "$runs" "$tmp/kp" /usr/bin/time -a -o "$tmp/rss" -f %M \
        bash -c 'ulimit -n "$1" && shift && exec "$@"' - "$lim" \
        "$stream" "${args[@]}" -o /dev/null "$dir"/*.h5ad 2> "$tmp/kp.err"; then
        krss=$(awk '{ print $1 / 1024 }' "$tmp/rss" | median)
        bench_row "sc-stream peak RSS, $n files: HDF5 handles closed at open vs kept (SC_STREAM_KEEP_H5=1)" \
            "${rss[$n]}" "$krss" MB "$(bench_ratio "$krss" "${rss[$n]}")"
        bench_row "sc-stream epoch, $n files: HDF5 handles closed at open vs kept" \
            "${epoch[$n]}" "$(median < "$tmp/kp.times")" s \
            "$(bench_ratio "$(median < "$tmp/kp.times")" "${epoch[$n]}")"
    else
        bench_note "$n files, HDF5 handles kept: $(tail -1 "$tmp/kp.err")"
        rc=1
    fi
    # the scaling 1 -> 2 threads (a buffer's files split across the
    # workers, each file opened once per buffer fill)
    args1=("${args[@]}")
    args1[1]=1
    if bench_collect "$runs" "$tmp/t1" bash -c 'ulimit -n "$1" && shift && exec "$@"' \
        - "$lim" "$stream" "${args1[@]}" -o /dev/null "$dir"/*.h5ad 2> "$tmp/t1.err"; then
        t1=$(median < "$tmp/t1.times")
        bench_row "sc-stream epoch, $n files: -@ 2 vs -@ 1" \
            "${epoch[$n]}" "$t1" s "$(bench_ratio "$t1" "${epoch[$n]}")"
    else
        bench_note "$n files, -@ 1: $(tail -1 "$tmp/t1.err")"
        rc=1
    fi
    if (ulimit -n "$lim" && $PY "$helper" first "$runs" "$dir"/*.h5ad -- "${args[@]}") > "$tmp/fb" 2> "$tmp/fb.err"; then
        first[$n]=$(median < "$tmp/fb")
    else
        bench_note "$n files: first batch: $(tail -1 "$tmp/fb.err")"
        rc=1
    fi
    base=${sizes%% *}
    bench_row "sc-stream epoch, $n files vs $base files ($cells cells, -@ 2, /dev/null)" \
        "${epoch[$n]}" "${epoch[$base]}" s "$(bench_ratio "${epoch[$base]}" "${epoch[$n]}")"
    bench_row "sc-stream first batch in Python, $n files vs $base files" \
        "${first[$n]}" "${first[$base]}" s "$(bench_ratio "${first[$base]}" "${first[$n]}")"
    bench_row "sc-stream peak RSS, $n files vs $base files (ulimit -n $lim)" \
        "${rss[$n]}" "${rss[$base]}" MB "$(bench_ratio "${rss[$base]}" "${rss[$n]}")"
    if [[ -n $mc && $n -lt 10000 ]]; then
        # MappedCollection keeps every file open in each worker: no fd limit
        if $PY "$helper" mapped "$cap" "$dir"/*.h5ad > "$tmp/mc" 2> "$tmp/mc.err"; then
            read -r mfirst msecs mcells mrss < "$tmp/mc"
            mrate=$(bench_rate "$mcells" "$msecs")
            orate=FAILED
            [[ ${epoch[$n]} != FAILED ]] && orate=$(bench_rate "$cells" "${epoch[$n]}")
            bench_note "$n files: MappedCollection: $mcells cells in $msecs s (cap $cap s)"
            bench_row "sc-stream -@ 2 vs MappedCollection + DataLoader(2 workers), $n files" \
                "$orate" "$mrate" cells/s "$(bench_ratio "$orate" "$mrate")"
            bench_row "first batch: sc-stream (Python) vs MappedCollection, $n files" \
                "${first[$n]}" "$mfirst" s "$(bench_ratio "$mfirst" "${first[$n]}")"
            bench_row "peak RSS: sc-stream vs MappedCollection (largest process), $n files" \
                "${rss[$n]}" "$mrss" MB "$(bench_ratio "$mrss" "${rss[$n]}")"
        else
            bench_note "$n files: MappedCollection failed: $(tail -1 "$tmp/mc.err")"
            rc=1
        fi
    fi
    rm -rf "$dir"
done
exit $rc
