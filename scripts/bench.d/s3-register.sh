#!/bin/bash
# Benchmark: sc-register add and verify of a ~200 MB object on a local
# S3-compatible server (s3rver, tests/s3-server.sh, on 127.0.0.1), read in
# parallel ranged GETs (4 in flight, 8 MiB each) and hashed in order,
# against curl fetching the same object (one signed GET) to /dev/null in
# the same run. add also copies the object to $TMPDIR and reads it as a
# dataset; verify only hashes it.
#   SC_BENCH_BASE_REGISTER=PATH adds the rows of another sc-register (an
#   older build: the figures before a change), run interleaved.
# Figures in MB/s of the object's bytes, each the median of several runs.
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

reg=$SC_BUILD/bin/sc-register
fetch=$SC_BUILD/bin/sc-fetch
base=${SC_BENCH_BASE_REGISTER:-}
runs=$(bench_runs)
if [[ ! -x $reg || ! -x $fetch ]]; then
    bench_note "sc-register or sc-fetch not built"
    exit 1
fi
bench_s3_tmp s3reg
# a dense 5000 x 10000 float32 matrix: 200 MB that do not compress
$PY - "$tmp/big.h5ad" <<'PYEOF' || { bench_note "cannot write the object"; exit 1; }
import sys, numpy as np, anndata as ad
rng = np.random.default_rng(1)
ad.AnnData(X=rng.random((5000, 10000), dtype=np.float32)).write_h5ad(sys.argv[1])
PYEOF
size=$(stat -c %s "$tmp/big.h5ad")
bench_s3_start
export TMPDIR=$tmp/t
mkdir -p "$TMPDIR"
"$fetch" get "$tmp/big.h5ad" -d s3://bench/p/ > /dev/null || exit 1
obj=s3://bench/p/big.h5ad
bench_note "object of $size bytes on s3rver at $SC_S3_ENDPOINT"

add_run() { # add_run BINARY: a new registry each time
    rm -f "$tmp/r.db"
    SC_REGISTRY=$tmp/r.db "$1" init && SC_REGISTRY=$tmp/r.db "$1" add "$obj"
}
verify_run() {
    SC_REGISTRY=$tmp/v.db "$1" verify
}
curl_run() {
    curl -sf --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -o /dev/null \
        "$SC_S3_ENDPOINT/bench/p/big.h5ad"
}
SC_REGISTRY=$tmp/v.db "$reg" init && SC_REGISTRY=$tmp/v.db "$reg" add "$obj" > /dev/null || {
    bench_note "a first add failed"
    exit 1
}
curl_run || { bench_note "curl failed"; exit 1; }
names=(add verify curl)
[[ -n $base ]] && names+=(base_add base_verify)
for n in "${names[@]}"; do : > "$tmp/t.$n"; done
# interleaved, so that a change of load hits all alike
for ((i = 0; i < runs; i++)); do
    bench_time add_run "$reg" >> "$tmp/t.add" || exit 1
    bench_time verify_run "$reg" >> "$tmp/t.verify" || exit 1
    bench_time curl_run >> "$tmp/t.curl" || exit 1
    if [[ -n $base ]]; then
        bench_time add_run "$base" >> "$tmp/t.base_add" || exit 1
        bench_time verify_run "$base" >> "$tmp/t.base_verify" || exit 1
    fi
done
mbs() { bench_mbs "$size" "$tmp/t.$1"; }
a=$(mbs add) v=$(mbs verify) c=$(mbs curl)
bench_row "sc-register add s3:// of a 200 MB object (copy, read, hash) vs curl GET of it" \
    "$a" "$c" MB/s "$(bench_ratio "$a" "$c")"
bench_row "sc-register verify of that object (hash in 4 parallel ranged GETs) vs curl GET of it" \
    "$v" "$c" MB/s "$(bench_ratio "$v" "$c")"
if [[ -n $base ]]; then
    b=$(mbs base_add) w=$(mbs base_verify)
    bench_row "sc-register add s3://: this build vs SC_BENCH_BASE_REGISTER" \
        "$a" "$b" MB/s "$(bench_ratio "$a" "$b")"
    bench_row "sc-register verify: this build vs SC_BENCH_BASE_REGISTER" \
        "$v" "$w" MB/s "$(bench_ratio "$v" "$w")"
fi
