#!/bin/bash
# Benchmark: download 20 files (1 GB; BENCH_SMALL=1: 40 MB) from the local
# mock server (tests/mock/cxg_server.py on 127.0.0.1) with 4 transfers at a
# time.
#   ours:      sc-fetch get -@ 4 (hashes every file as it arrives, fsyncs,
#              renames)
#   baselines: curl -Z --parallel-max 4 on the same URLs; and the same
#              followed by sha256sum of the files (what a user runs to get
#              the digests sc-fetch gives)
# Resuming: 20 transfers cut at half by the server (sc-fetch --retries 0
# keeps the parts, and their hash state), then continued, against curl -C -
# on copies of the same parts; and parts made by something else (copied in,
# so sc-fetch reads them again to hash them).
# Runs of ours and the baselines alternate, so that load from elsewhere
# falls on both alike; each figure is the median.
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

fetch=$SC_BUILD/bin/sc-fetch
n_files=20
if [[ ${BENCH_SMALL:-0} == 1 ]]; then mb=2; else mb=50; fi
runs=$(bench_runs long)
src=${SC_BENCH_CACHE:-$SC_BUILD/bench-cache}/fetch-$mb
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
base=http://127.0.0.1:$(cat "$work/port")
url=$base/files
urls=() cut_urls=()
for ((i = 1; i <= n_files; i++)); do
    urls+=("$url/f$i.bin")
    cut_urls+=("$base/f/cut/f$i.bin")
done
bench_warm() { cat "$src"/f*.bin > /dev/null; }
bench_warm

# fresh DIR: an empty DIR, and no dirty pages left by the run before.
fresh() {
    rm -rf "$1"
    mkdir -p "$1"
    sync
}
ours() {
    "$fetch" get -q --no-progress -@ 4 -d "$work/ours" "${urls[@]}" > "$work/manifest.tsv"
}
theirs() {
    curl -sfZ --no-progress-meter --parallel-max 4 --remote-name-all --output-dir "$work/curl" "${urls[@]}"
}
theirs_sha() {
    (cd "$work/curl" && sha256sum f*.bin > "$work/curl.sha256")
}
# Parts cut at half by the server, left by sc-fetch (with their hash
# state); curl gets copies as NAME.
cut_parts() {
    local i
    rm -rf "$work/ours" "$work/curl"
    mkdir -p "$work/curl"
    curl -sf "$base/_control/reset" > /dev/null || return
    "$fetch" get -q --no-progress -k --retries 0 -@ 4 -d "$work/ours" \
        "${cut_urls[@]}" > /dev/null 2>&1
    for ((i = 1; i <= n_files; i++)); do
        [[ -f $work/ours/.f$i.bin.part.sha256 ]] || return
        cp "$work/ours/f$i.bin.part" "$work/curl/f$i.bin" || return
    done
    sync
}
# The same parts made by something else (no hash state): copies of curl's.
copied_parts() {
    local i
    rm -rf "$work/ours"
    mkdir -p "$work/ours"
    for ((i = 1; i <= n_files; i++)); do
        cp "$work/parts/f$i.bin" "$work/ours/f$i.bin.part" || return
    done
    sync
}
theirs_resume() {
    local args=() i
    for ((i = 1; i <= n_files; i++)); do
        args+=(-C - -o "$work/curl/f$i.bin" "$url/f$i.bin")
    done
    curl -sfZ --no-progress-meter --parallel-max 4 "${args[@]}"
}
# check WHAT DIR: the files in DIR are the sources, and sc-fetch's manifest
# has their digests (those sha256sum gave for curl's copies, once checked).
check() {
    local f got
    for f in "$src"/f*.bin; do
        cmp -s "$f" "$2/$(basename "$f")" || { bench_note "$1: $(basename "$f") differs"; return 1; }
    done
    [[ $1 == curl ]] && return 0
    got=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "sha256") c = i; next } { print $c }' \
        "$work/manifest.tsv" | sort)
    [[ $want == "$got" ]] || { bench_note "$1: wrong sha256 in the manifest"; return 1; }
}

# Runs alternate, ours then the baselines, and the first one checks every
# result. curl + sha256sum: the curl run, then sha256sum of its files.
for t in t_ours t_curl t_sha r_ours r_curl r_copied; do : > "$work/$t"; done
for ((r = 0; r < runs; r++)); do
    fresh "$work/ours"
    bench_time ours >> "$work/t_ours" || exit 1
    fresh "$work/curl"
    t=$(bench_time theirs) || exit 1
    echo "$t" >> "$work/t_curl"
    s=$(bench_time theirs_sha) || exit 1
    echo "$t $s" | awk '{ print $1 + $2 }' >> "$work/t_sha"
    if ((r == 0)); then
        check curl "$work/curl" || exit 1
        want=$(awk '{ print $1 }' "$work/curl.sha256" | sort)
        check sc-fetch "$work/ours" || exit 1
    fi

    cut_parts || { bench_note "sc-fetch left no part with its hash"; exit 1; }
    if ((r == 0)); then
        kept=$(cat "$work"/curl/f*.bin | wc -c)
        mkdir -p "$work/parts"
        cp "$work"/curl/f*.bin "$work/parts/"
    fi
    bench_time ours >> "$work/r_ours" || exit 1
    ((r)) || check "sc-fetch resume" "$work/ours" || exit 1
    bench_time theirs_resume >> "$work/r_curl" || exit 1
    ((r)) || check "curl resume" "$work/curl" || exit 1
    copied_parts || exit 1
    bench_time ours >> "$work/r_copied" || exit 1
    ((r)) || check "sc-fetch resume of copied parts" "$work/ours" || exit 1
done
total=$((bytes / 1000000))
left=$(((bytes - kept) / 1000000))
# row WHAT MB OURS BASE: MB/s from the medians of the run times in the files
# OURS and BASE
row() {
    local a b
    a=$(bench_rate "$2" "$(median < "$work/$3")")
    b=$(bench_rate "$2" "$(median < "$work/$4")")
    bench_row "$1" "$a" "$b" MB/s "$(bench_ratio "$a" "$b")"
}
row "fetch: $n_files files, $total MB, 4 at a time vs curl -Z" "$total" t_ours t_curl
row "fetch: the same vs curl -Z, then sha256sum of the files" "$total" t_ours t_sha
row "fetch: resume $n_files transfers cut at half vs curl -C -" "$left" r_ours r_curl
row "fetch: resume $n_files half parts copied in (hashed again) vs curl -C -" \
    "$left" r_copied r_curl
# The times of every run, and the median of the ratios of runs side by side.
for t in t_ours t_curl t_sha r_ours r_curl r_copied; do
    bench_note "$t (s): $(tr '\n' ' ' < "$work/$t")"
done
paired() { paste "$work/$1" "$work/$2" | awk '{ printf "%.3f\n", $2 / $1 }' | median; }
bench_note "paired ratios (baseline time / ours): curl $(paired t_ours t_curl)," \
    "curl + sha256sum $(paired t_ours t_sha), resume $(paired r_ours r_curl)," \
    "resume of copied parts $(paired r_copied r_curl)"
exit 0
