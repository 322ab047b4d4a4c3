#!/bin/bash
# Benchmark: a pack streamed from a local S3-compatible server (s3rver,
# tests/s3-server.sh, on 127.0.0.1) against plain curl ranged GETs of the
# same bytes from the same server in the same run (issue 21), and the rate
# of the same pack from the local disk.
#   ours: sc-stream reading s3://bench/p/all.scpack to /dev/null (8 MiB
#   blocks, 4 in flight, signed by libcurl's SigV4, through an empty block
#   cache each run);
#   baseline: curl --parallel --parallel-max 4 fetching every 8 MiB range of
#   the object (signed the same way) to /dev/null;
#   local: sc-stream reading the pack file (mapped) to /dev/null.
# Figures in MB/s of the pack's bytes, each the median of several runs.
# Nothing here is measured against real S3 (see the README).
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

stream=$SC_BUILD/bin/sc-stream
fetch=$SC_BUILD/bin/sc-fetch
runs=$(bench_runs)
block=$((8 << 20))
if [[ ! -x $stream || ! -x $fetch ]]; then
    bench_note "sc-stream or sc-fetch not built"
    exit 1
fi
bench_s3_tmp s3
export SC_STREAM_CACHE=$tmp/cache
mapfile -t files < <(bench_files none)
"$stream" pack -@ 2 --join outer --seed 1 -o "$tmp/all.scpack" "${files[@]}" || {
    bench_note "sc-stream pack failed"
    exit 1
}
size=$(stat -c %s "$tmp/all.scpack")
bench_s3_start
"$fetch" get "$tmp/all.scpack" -d s3://bench/p/ > /dev/null || exit 1
bench_note "pack of $size bytes on s3rver at $SC_S3_ENDPOINT"

# the curl baseline: every block of the object, 4 at once. Each range is a
# transfer of its own ("next"): curl's range option is not per URL, so
# without it every URL would get the last range. With "check", each
# transfer also prints its size, to show that the bytes add up.
curl_cfg() {
    for ((off = 0; off < size; off += block)); do
        end=$((off + block - 1 < size - 1 ? off + block - 1 : size - 1))
        if ((off > 0)); then echo 'next'; fi
        echo 'aws-sigv4 = "aws:amz:us-east-1:s3"'
        echo 'user = "S3RVER:S3RVER"'
        echo 'header = "x-amz-content-sha256: UNSIGNED-PAYLOAD"'
        echo 'fail'
        echo "url = \"$SC_S3_ENDPOINT/bench/p/all.scpack\""
        echo "range = \"$off-$end\""
        echo 'output = "/dev/null"'
        if [[ ${1:-} == check ]]; then
            echo 'write-out = "%{size_download}\n"'
        fi
    done
}
curl_cfg > "$tmp/curl.cfg"
curl_cfg check > "$tmp/curl-check.cfg"
ours_run() {
    rm -rf "$tmp/objects"
    "$stream" -@ 2 -b 256 --seed 1 --object-cache "$tmp/objects" \
        --object-cache-size 64G -o /dev/null s3://bench/p/all.scpack
}
curl_run() {
    curl -s --parallel --parallel-max 4 -K "$tmp/curl.cfg" 2> /dev/null
}
local_run() {
    "$stream" -@ 2 -b 256 --seed 1 -o /dev/null "$tmp/all.scpack"
}
ours_run > /dev/null && curl_run > /dev/null && local_run > /dev/null || {
    bench_note "a first run failed"
    exit 1
}
got=$(curl -s --parallel --parallel-max 4 -K "$tmp/curl-check.cfg" 2> /dev/null |
    awk '{ s += $1 } END { print s + 0 }')
if [[ $got != "$size" ]]; then
    bench_note "the curl baseline fetched $got bytes, not $size"
    exit 1
fi
: > "$tmp/t.ours"
: > "$tmp/t.curl"
: > "$tmp/t.local"
# interleaved, so that a change of load hits both alike
for ((i = 0; i < runs; i++)); do
    bench_time ours_run >> "$tmp/t.ours" || exit 1
    bench_time curl_run >> "$tmp/t.curl" || exit 1
    bench_time local_run >> "$tmp/t.local" || exit 1
done
mbs() { bench_mbs "$size" "$tmp/t.$1"; }
a=$(mbs ours) b=$(mbs curl) c=$(mbs local)
bench_row "pack from local s3rver (sc-stream, 4 ranged GETs in flight) vs curl --parallel ranged GETs of the same bytes" \
    "$a" "$b" MB/s "$(bench_ratio "$a" "$b")"
bench_row "the same pack from the local disk (sc-stream, mapped) vs from s3rver" \
    "$c" "$a" MB/s "$(bench_ratio "$c" "$a")"
