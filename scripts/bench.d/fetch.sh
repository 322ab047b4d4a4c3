#!/bin/bash
# Benchmark: download 20 files (1 GB; BENCH_SMALL=1: 40 MB) from the local
# mock server (tests/mock/cxg_server.py on 127.0.0.1) with 4 transfers at a
# time.
#   baseline: curl -Z --parallel-max 4 on the same URLs, in the same run
#   ours:     sc-fetch get -@ 4 (hashes every file, fsyncs, renames)
# Rows: MB/s for the whole download, and for resuming 20 parts cut at half
# (sc-fetch continuing its .part files vs curl -C - on the same parts).
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

fetch=$SC_BUILD/bin/sc-fetch
n_files=20
if [[ ${BENCH_SMALL:-0} == 1 ]]; then mb=2; else mb=50; fi
runs=$(bench_runs long)
src=$SC_BUILD/bench-cache/fetch-$mb
work=$(mktemp -d "$SC_BUILD/bench-fetch.XXXXXX")
pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT

if [[ ! -x $fetch ]]; then
    bench_note "$fetch not built"
    exit 1
fi
# The files: random bytes, made once and kept in the bench cache.
if [[ ! -f $src/.done ]]; then
    bench_note "making $n_files files of $mb MB in $src"
    rm -rf "$src"
    mkdir -p "$src"
    for ((i = 1; i <= n_files; i++)); do
        head -c $((mb * 1000000)) /dev/urandom > "$src/f$i.bin" || exit 1
    done
    touch "$src/.done"
fi
bytes=$(cat "$src"/f*.bin | wc -c)
$PY "$SC_ROOT/tests/mock/cxg_server.py" --files "$src" --port-file "$work/port" \
    --lifetime 3600 > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat "$work/port")/files
urls=()
for ((i = 1; i <= n_files; i++)); do urls+=("$url/f$i.bin"); done
bench_warm() { cat "$src"/f*.bin > /dev/null; }
bench_warm

# Each timed run starts with no dirty pages left by the one before.
fresh() {
    rm -rf "$work/ours" "$work/curl"
    mkdir -p "$work/curl"
    sync
}
ours() {
    "$fetch" get -q --no-progress -@ 4 -d "$work/ours" "${urls[@]}"
}
theirs() {
    curl -sfZ --no-progress-meter --parallel-max 4 --remote-name-all --output-dir "$work/curl" "${urls[@]}"
}
# Parts cut at half, for both tools: ours are NAME.part, curl's NAME.
cut_parts() {
    local f b
    rm -rf "$work/ours" "$work/curl"
    mkdir -p "$work/ours" "$work/curl"
    for f in "$src"/f*.bin; do
        b=$(basename "$f")
        head -c $((mb * 500000)) "$f" > "$work/ours/$b.part"
        cp "$work/ours/$b.part" "$work/curl/$b"
    done
    sync
}
ours_resume() {
    "$fetch" get -q --no-progress -@ 4 -d "$work/ours" "${urls[@]}"
}
theirs_resume() {
    local args=() i
    for ((i = 1; i <= n_files; i++)); do
        args+=(-C - -o "$work/curl/f$i.bin" "$url/f$i.bin")
    done
    curl -sfZ --no-progress-meter --parallel-max 4 "${args[@]}"
}

# Correctness first: every file whole, and sc-fetch's digests right.
rc=0
fresh
ours > "$work/manifest.tsv" || rc=1
theirs || rc=1
for f in "$src"/f*.bin; do
    b=$(basename "$f")
    cmp -s "$f" "$work/ours/$b" || { bench_note "sc-fetch: $b differs"; rc=1; }
    cmp -s "$f" "$work/curl/$b" || { bench_note "curl: $b differs"; rc=1; }
done
want=$(cd "$src" && sha256sum f*.bin | awk '{ print $1 }' | sort)
got=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "sha256") c = i; next } { print $c }' \
    "$work/manifest.tsv" | sort)
[[ $want == "$got" ]] || { bench_note "sc-fetch: wrong sha256 in the manifest"; rc=1; }
[[ $rc -eq 0 ]] || exit 1

t_ours=$(for ((r = 0; r < runs; r++)); do fresh; bench_time ours; done | median)
t_curl=$(for ((r = 0; r < runs; r++)); do fresh; bench_time theirs; done | median)
mbs_ours=$(bench_rate "$((bytes / 1000000))" "$t_ours")
mbs_curl=$(bench_rate "$((bytes / 1000000))" "$t_curl")
bench_row "fetch: $n_files files, $((bytes / 1000000)) MB, 4 at a time vs curl -Z" \
    "$mbs_ours" "$mbs_curl" MB/s "$(bench_ratio "$mbs_ours" "$mbs_curl")"

r_ours=$(for ((r = 0; r < runs; r++)); do cut_parts; bench_time ours_resume; done | median)
for f in "$src"/f*.bin; do
    cmp -s "$f" "$work/ours/$(basename "$f")" || { bench_note "resume: $f differs"; exit 1; }
done
r_curl=$(for ((r = 0; r < runs; r++)); do cut_parts; bench_time theirs_resume; done | median)
half=$((bytes / 2000000))
rs_ours=$(bench_rate "$half" "$r_ours")
rs_curl=$(bench_rate "$half" "$r_curl")
bench_row "fetch: resume $n_files half-done parts vs curl -C -" \
    "$rs_ours" "$rs_curl" MB/s "$(bench_ratio "$rs_ours" "$rs_curl")"
bench_note "whole: ours $t_ours s, curl $t_curl s; resume: ours $r_ours s" \
    "(hashes the kept halves), curl $r_curl s"
exit 0
