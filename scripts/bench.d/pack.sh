#!/bin/bash
# Benchmark (issue 22): packs with compressed records (sc-stream pack
# --codec varint, version 2, the default) against raw arrays (--codec none,
# version 1), both written from the same stream of the uncompressed corpus
# in this run, then read back in alternation (raw, varint, raw, ...) with the
# read settings of stream.sh:
#   size   bytes per stored entry: the records alone, and the whole file
#          (index, gene names and padding included)
#   rate   cells/s of sc-stream -@ 2 to /dev/null (wall time), mapped and
#          with --pread, and -@ 1 mapped; also cells per CPU second (user +
#          sys), which a busy machine disturbs much less than wall time
#   RSS    peak resident set of the mapped reads (mapped pages included)
# Each figure is the median of the runs; ratio > 1: the varint pack wins
# (for the rates, the target is >= 0.8 of the raw pack).
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

stream=$SC_BUILD/bin/sc-stream
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SC_STREAM_CACHE=$tmp/cache
cells=$(bench_truth 't["n_cells"]')
runs=$(bench_runs)
if [[ ! -x $stream ]]; then
    bench_note "$stream not built"
    exit 1
fi
mapfile -t files < <(bench_files none)
args=(-b 256 --buffer 512 --seed 1)

bench_warm none
declare -A psecs
for c in none varint; do
    psecs[$c]=$(bench_time "$stream" pack -@ 2 --join outer --seed 1 --codec "$c" \
        -o "$tmp/$c.scpack" "${files[@]}") || {
        bench_note "sc-stream pack --codec $c failed"
        exit 1
    }
done
# entries and the bytes they take, from sc-stream dump's first line
field() { "$stream" dump "$tmp/$1.scpack" | sed -n "1s/.*[[:space:]]$2=\([0-9]*\).*/\1/p"; }
entries=$(field none entries)
if [[ $entries != "$(field varint entries)" ]]; then
    bench_note "the packs hold different numbers of entries"
    exit 1
fi
per() { awk -v b="$1" -v e="$entries" 'BEGIN { printf "%.3f\n", b / e }'; }
rec_none=$(per "$(field none entry_bytes)")
rec_var=$(per "$(field varint entry_bytes)")
file_none=$(per "$(stat -c %s "$tmp/none.scpack")")
file_var=$(per "$(stat -c %s "$tmp/varint.scpack")")

# the same batches out of both
if ! cmp -s <("$stream" "${args[@]}" -o - "$tmp/none.scpack") \
    <("$stream" "${args[@]}" -o - "$tmp/varint.scpack"); then
    bench_note "the two packs give different batches"
    exit 1
fi

# run NAME ARGS...: one timed read, "wall cpu rss_kb" appended to $tmp/NAME
run() {
    local name=$1
    shift
    /usr/bin/time -o "$tmp/t" -f '%e %U %S %M' "$stream" "$@" -o /dev/null || return
    awk '{ print $1, $2 + $3, $4 }' "$tmp/t" >> "$tmp/$name"
}
cat "$tmp/none.scpack" "$tmp/varint.scpack" > /dev/null
for how in map2 pread2 map1; do
    case $how in
        map2) opt=(-@ 2) ;;
        pread2) opt=(-@ 2 --pread) ;;
        map1) opt=(-@ 1) ;;
    esac
    for ((i = 0; i < runs; i++)); do
        for c in none varint; do
            run "$how.$c" "${opt[@]}" "${args[@]}" "$tmp/$c.scpack" || {
                bench_note "reading the $c pack ($how) failed"
                exit 1
            }
        done
    done
done
# col NAME K: the median of column K of NAME's runs
col() { awk -v k="$2" '{ print $k }' "$tmp/$1" | median; }
rate() { bench_rate "$cells" "$(col "$1" "$2")"; }

bench_row "pack size: varint records vs raw arrays (entries only)" \
    "$rec_var" "$rec_none" B/entry "$(bench_ratio "$rec_none" "$rec_var")"
bench_row "pack size: varint vs raw, whole file" \
    "$file_var" "$file_none" B/entry "$(bench_ratio "$file_none" "$file_var")"
for how in map2 pread2 map1; do
    case $how in
        map2) what="-@ 2, mapped" ;;
        pread2) what="-@ 2 --pread" ;;
        map1) what="-@ 1, mapped" ;;
    esac
    a=$(rate "$how.varint" 1) b=$(rate "$how.none" 1)
    bench_row "sc-stream $what to /dev/null: varint pack vs raw pack" \
        "$a" "$b" cells/s "$(bench_ratio "$a" "$b")"
    a=$(rate "$how.varint" 2) b=$(rate "$how.none" 2)
    bench_row "sc-stream $what: varint vs raw, per CPU second (user + sys)" \
        "$a" "$b" cells/cpu-s "$(bench_ratio "$a" "$b")"
done
a=$(awk '{ print $3 / 1024 }' "$tmp/map2.varint" | median)
b=$(awk '{ print $3 / 1024 }' "$tmp/map2.none" | median)
bench_row "peak RSS: sc-stream -@ 2 from the varint pack vs the raw pack (mapped pages included)" \
    "$a" "$b" MB "$(bench_ratio "$b" "$a")"
a=$(awk '{ print $3 / 1024 }' "$tmp/pread2.varint" | median)
bench_row "peak RSS: sc-stream -@ 2 --pread from the varint pack vs mapped" \
    "$a" "$(awk '{ print $3 / 1024 }' "$tmp/map2.varint" | median)" MB \
    "$(bench_ratio "$(awk '{ print $3 / 1024 }' "$tmp/map2.varint" | median)" "$a")"
bench_row "sc-stream pack -@ 2 --codec varint vs --codec none (uncompressed files, one run each)" \
    "${psecs[varint]}" "${psecs[none]}" s "$(bench_ratio "${psecs[none]}" "${psecs[varint]}")"
