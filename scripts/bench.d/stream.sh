#!/bin/bash
# Benchmark (issue 9): one shuffled epoch of the whole corpus as batches of
# 256 cells, in both variants (uncompressed, gzip), against the loaders our
# users know.  Every loader is timed by itself without interpreter start-up
# and imports (stream_loaders.py --jobs: one Python process per variant
# runs every loader; each run is a child forked after the imports that
# prints SECONDS CELLS NNZ PEAK_RSS_MB):
#   A  per-cell h5py reads in a torch DataLoader with 2 workers
#      (MappedCollection's pattern), capped at BENCH_CAP seconds
#   B  anndata's AnnLoader over the files opened backed, shuffled, capped
#   C  h5py reads of random 256-row blocks, 16 blocks gathered and their
#      rows shuffled, batches as torch tensors
#   ours  sc-stream -@ 2 --join outer (blocks of 16 cells, 512 blocks per
#      buffer, shuffled: 256 mix 88% as many datasets per batch as fully
#      random sampling on the full corpus, 512 94%; noted on stderr) through
#      python/sc_stream.py into torch CSR tensors ("torch"), and sc-stream
#      alone writing binary batches to /dev/null (wall time); the index cache
#      is built by an untimed first run, which also checks the cell count
#   pack  the same stream written once by `sc-stream pack -@ 2` from the gzip
#      files (the default codec, varint records; pack.sh compares it with raw
#      arrays) (timed, against one epoch of ours from them), then read with the
#      same options into torch and to /dev/null; the pack's content does not
#      depend on the variant it was made from, so both variants' rows read
#      the one pack (its page cache warmed first), each against the
#      baselines of its own variant
# Also: -@ 1 against -@ 2, peak RSS of sc-stream against baseline C's
# Python (medians over their timed runs), and for gzip the MB/s of
# compressed input against the single-thread libdeflate rate (measured
# inside sc-stream -v) times 2.
# BENCH_SMALL=1: the same rows on the small corpus (8,000 cells), A and B
# capped at 1 s, so that the whole script takes seconds.
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

stream=$SC_BUILD/bin/sc-stream
loaders=$SC_ROOT/scripts/bench.d/stream_loaders.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SC_STREAM_CACHE=$tmp/cache SC_STREAM=$stream
cells=$(bench_truth 't["n_cells"]')
cap=${BENCH_CAP:-30}
[[ ${BENCH_SMALL:-0} == 1 ]] && cap=${BENCH_CAP:-0.5}
rc=0
if [[ ! -x $stream ]]; then
    bench_note "$stream not built"
    exit 1
fi

# the pack, from the gzip files (as CELLxGENE distributes them): its build
# time is a row below, against one epoch of the same stream from the files
pack=$tmp/all.scpack
pack_args=(--join outer --seed 1)
bench_warm gzip
pack_secs=$(bench_time "$stream" pack -@ 2 "${pack_args[@]}" -o "$pack" $(bench_files gzip)) || {
    bench_note "sc-stream pack failed"
    pack_secs=FAILED
    rc=1
}

# job NAME ARGS...: add a run of stream_loaders.py ARGS, named NAME, to the
# jobs that one Python process runs after the sc-stream runs of a variant
# (the interpreter and torch start once), in order: baseline C's first,
# before the imports for the others add to the RSS of the runs forked after
job() {
    (IFS=$'\t'; echo "$*") >> "$tmp/jobs"
}

# loader_rate NAME: median cells/s of the runs of job NAME (FAILED when it
# failed); the cells of its first run in $tmp/NAME.cells, the median peak
# RSS (MB) in $tmp/NAME.rss
loader_rate() {
    local name=$1
    awk -v n="$name" '$1 == n { $1 = ""; print }' "$tmp/loaders.out" > "$tmp/$name.out"
    if [[ -s $tmp/$name.out ]] && ! grep -q FAILED "$tmp/$name.out"; then
        awk 'NR == 1 { print $2 }' "$tmp/$name.out" > "$tmp/$name.cells"
        awk '{ print $4 }' "$tmp/$name.out" | median > "$tmp/$name.rss"
        awk '{ if ($1 > 0) print $2 / $1 }' "$tmp/$name.out" | median
    else
        bench_note "$v: $name failed: $(grep -v '^ ' "$tmp/loaders.err" | tail -1)"
        echo FAILED
        return 1
    fi
}

for v in none gzip; do
    files=($(bench_files "$v"))
    runs=$(bench_runs)
    [[ $v == gzip && ${BENCH_SMALL:-0} != 1 ]] && runs=$(bench_runs long)
    bench_warm "$v"
    args=(--join outer -b 256 --buffer 512 --seed 1)

    # untimed first run: index cache, cell count, mixing, inflate rate
    ours_null=FAILED ours1=FAILED ours_torch=FAILED
    if "$stream" -v -@ 2 "${args[@]}" -o /dev/null "${files[@]}" 2> "$tmp/first.err"; then
        got=$(sed -n 's/^sc-stream: \([0-9]*\) cells selected.*/\1/p' "$tmp/first.err")
        bench_note "$v: $(grep -h 'mixing:' "$tmp/first.err" | sed 's/^sc-stream: //')"
        grep -h 'inflate:' "$tmp/first.err" | sed "s/^sc-stream: /bench stream: $v: /" >&2
        if [[ $got != "$cells" ]]; then
            bench_note "$v: sc-stream streamed $got cells, truth $cells"
            got=WRONG
            rc=1
        fi
    else
        bench_note "$v: $(tail -1 "$tmp/first.err")"
        got=FAILED
        rc=1
    fi
    : > "$tmp/jobs"
    job blocks blocks --runs "$runs" "${files[@]}"
    if [[ $got == "$cells" ]]; then
        for t in 2 1; do
            : > "$tmp/ours$t.rss"
            if bench_collect "$runs" "$tmp/ours$t" /usr/bin/time -a -o "$tmp/ours$t.rss" -f %M \
                "$stream" -@ "$t" "${args[@]}" -o /dev/null "${files[@]}" 2> "$tmp/ours.err"; then
                r=$(bench_rate "$cells" "$(median < "$tmp/ours$t.times")")
            else
                bench_note "$v: $(tail -1 "$tmp/ours.err")"
                r=FAILED
                rc=1
            fi
            if [[ $t == 2 ]]; then ours_null=$r; else ours1=$r; fi
        done
        job torch ours --runs "$runs" "${files[@]}" -- -@ 2 "${args[@]}"
    fi
    pack_null=FAILED pack_torch=FAILED
    if [[ $pack_secs != FAILED ]]; then
        cat "$pack" > /dev/null
        if "$stream" -v -@ 2 "${args[@]:2}" -o /dev/null "$pack" 2> "$tmp/pfirst.err"; then
            [[ $v == none ]] && bench_note "pack: $(grep -h 'mixing:' "$tmp/pfirst.err" | sed 's/^sc-stream: //')"
            : > "$tmp/pack.rss"
            if bench_collect "$runs" "$tmp/pack" /usr/bin/time -a -o "$tmp/pack.rss" -f %M \
                "$stream" -@ 2 "${args[@]:2}" -o /dev/null "$pack" 2> "$tmp/pack.err"; then
                pack_null=$(bench_rate "$cells" "$(median < "$tmp/pack.times")")
            else
                bench_note "$v: pack: $(tail -1 "$tmp/pack.err")"
                rc=1
            fi
            job packtorch ours --runs "$runs" "$pack" -- -@ 2 "${args[@]:2}"
        else
            bench_note "$v: pack: $(tail -1 "$tmp/pfirst.err")"
            rc=1
        fi
    fi
    job percell percell --seconds "$cap" "${files[@]}"
    job annloader annloader --seconds "$cap" "${files[@]}"
    $PY "$loaders" --jobs "$tmp/jobs" > "$tmp/loaders.out" 2> "$tmp/loaders.err"

    if [[ $got == "$cells" ]]; then
        ours_torch=$(loader_rate torch) || rc=1
        if [[ $ours_torch != FAILED && $(cat "$tmp/torch.cells") -lt $cells ]]; then
            bench_note "$v: the Python module gave $(cat "$tmp/torch.cells") cells, truth $cells"
            ours_torch=WRONG
            rc=1
        fi
    fi
    if [[ $pack_secs != FAILED ]]; then
        pack_torch=$(loader_rate packtorch) || rc=1
        if [[ $pack_torch != FAILED && $(cat "$tmp/packtorch.cells") -lt $cells ]]; then
            bench_note "$v: the Python module gave $(cat "$tmp/packtorch.cells") cells of the pack, truth $cells"
            pack_torch=WRONG
            rc=1
        fi
    fi
    base_c=$(loader_rate blocks) || rc=1
    if [[ $base_c != FAILED && $(cat "$tmp/blocks.cells") != "$cells" ]]; then
        bench_note "$v: baseline C read $(cat "$tmp/blocks.cells") cells, truth $cells"
        base_c=WRONG
        rc=1
    fi
    base_a=$(loader_rate percell) || rc=1
    [[ $base_a != FAILED ]] && bench_note "$v: baseline A: $(cat "$tmp/percell.cells") cells in the ${cap} s cap"
    base_b=$(loader_rate annloader) || rc=1
    [[ $base_b != FAILED ]] && bench_note "$v: baseline B: $(cat "$tmp/annloader.cells") cells in the ${cap} s cap"

    bench_row "stream to torch (sc_stream.py, -@ 2) vs C: h5py random 256-row blocks + shuffle, $v" \
        "$ours_torch" "$base_c" cells/s "$(bench_ratio "$ours_torch" "$base_c")"
    bench_row "stream to torch vs A: per-cell h5py, DataLoader 2 workers (${cap} s cap), $v" \
        "$ours_torch" "$base_a" cells/s "$(bench_ratio "$ours_torch" "$base_a")"
    bench_row "stream to torch vs B: anndata 0.8 AnnLoader shuffled (${cap} s cap), $v" \
        "$ours_torch" "$base_b" cells/s "$(bench_ratio "$ours_torch" "$base_b")"
    bench_row "pack to torch (sc_stream.py, -@ 2) vs C, $v" \
        "$pack_torch" "$base_c" cells/s "$(bench_ratio "$pack_torch" "$base_c")"
    bench_row "pack to torch vs A: per-cell h5py, DataLoader 2 workers, $v" \
        "$pack_torch" "$base_a" cells/s "$(bench_ratio "$pack_torch" "$base_a")"
    bench_row "sc-stream -@ 2 pack to /dev/null vs C, $v" \
        "$pack_null" "$base_c" cells/s "$(bench_ratio "$pack_null" "$base_c")"
    bench_row "sc-stream -@ 2 to /dev/null vs C, $v" \
        "$ours_null" "$base_c" cells/s "$(bench_ratio "$ours_null" "$base_c")"
    bench_row "sc-stream to /dev/null: -@ 2 vs -@ 1, $v" \
        "$ours_null" "$ours1" cells/s "$(bench_ratio "$ours_null" "$ours1")"
    rss=FAILED rss_c=FAILED
    [[ $ours_null != FAILED ]] && rss=$(awk '{ print $1 / 1024 }' "$tmp/ours2.rss" | median)
    [[ $base_c != FAILED ]] && rss_c=$(cat "$tmp/blocks.rss")
    bench_row "peak RSS: sc-stream -@ 2 vs baseline C's Python, $v" \
        "$rss" "$rss_c" MB "$(bench_ratio "$rss_c" "$rss")"
    if [[ $v == none && $pack_null != FAILED ]]; then
        # mapped pages of the pack count in the RSS (shared page cache)
        prss=$(awk '{ print $1 / 1024 }' "$tmp/pack.rss" | median)
        bench_row "peak RSS: sc-stream -@ 2 from the pack (mapped pages included) vs baseline C's Python" \
            "$prss" "$rss_c" MB "$(bench_ratio "$rss_c" "$prss")"
    fi
    if [[ $v == gzip && $pack_secs != FAILED && $ours_null != FAILED ]]; then
        epoch=$(awk -v c="$cells" -v r="$ours_null" 'BEGIN { printf "%.3f", c / r }')
        bench_row "sc-stream pack -@ 2 of the gzip files vs one epoch of them (-@ 2, /dev/null)" \
            "$pack_secs" "$epoch" s "$(bench_ratio "$epoch" "$pack_secs")"
    fi
    if [[ $v == gzip && $ours_null != FAILED ]]; then
        # compressed MB/s of the -@ 2 run against 2 x one thread's inflate rate
        zin=$(sed -n 's/.*inflate: \([0-9.]*\) MB compressed.*/\1/p' "$tmp/first.err")
        per=$(sed -n 's/.* \([0-9.]*\) MB\/s of input per thread.*/\1/p' "$tmp/first.err")
        mbs=$(awk -v z="$zin" -v c="$cells" -v r="$ours_null" 'BEGIN { if (z > 0) printf "%.1f", z / (c / r) }')
        lim=$(awk -v p="$per" 'BEGIN { if (p > 0) printf "%.1f", 2 * p }')
        bench_row "gzip input MB/s (-@ 2) vs libdeflate 1-thread rate x 2 threads" \
            "${mbs:-n/a}" "${lim:-n/a}" MB/s "$(bench_ratio "${mbs:-n/a}" "${lim:-n/a}")"
    fi
done
exit $rc
