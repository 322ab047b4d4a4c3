#!/bin/bash
# Benchmark: load every ontology of the CELLxGENE schema set (the CL, UBERON,
# EFO, MONDO, HsapDv, MmusDv, PATO and HANCESTRO guide files, 9.4 MB gzip /
# 37 MB of JSON, plus the NCBITaxon slim OBO for ours).
#   baseline: /usr/bin/python3 json.load(gzip.open(f)) of the 8 guide files,
#             what bionty-style Python tools do before their first query;
#             whole process, wall time
#   ours:     sc-annotate term CL:0000236 (load all, then one query); whole
#             process, wall time:
#             cold, --no-cache: every file parsed (-@ 1, then -@ 2)
#             warm: from the binary cache (built once before the runs)
# Rows: seconds, each the median of the runs; ratio = baseline / ours.
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

annotate=$SC_BUILD/bin/sc-annotate
share=$SC_ROOT/share
guide=$share/ontology/cxg-guide/schema-7.0.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
runs=$(bench_runs)

if [[ ! -x $annotate ]]; then
    bench_note "$annotate not built"
    exit 1
fi
files=("$guide"/*.json.gz)
cat "${files[@]}" "$share"/ontology/obo/*.obo.gz > /dev/null # warm page cache

base=$(bench_median "$runs" $PY -c '
import gzip, json, sys
for f in sys.argv[1:]:
    with gzip.open(f) as fp:
        json.load(fp)' "${files[@]}") || base=FAILED

ours() {
    "$annotate" term --share "$share" "$@" CL:0000236
}
# small mode (under a minute in all): the one-thread cold load is left out
cold1=SKIPPED
if [[ ${BENCH_SMALL:-0} != 1 ]]; then
    cold1=$(bench_median "$runs" ours --no-cache -@ 1) || cold1=FAILED
fi
cold2=$(bench_median "$runs" ours --no-cache -@ 2) || cold2=FAILED
# this run parses every file and writes the cache
ours --cache "$tmp/cache" > "$tmp/parsed" || bench_note "cannot build the cache"
warm=$(bench_median "$runs" ours --cache "$tmp/cache") || warm=FAILED
# the cached answer must be the parsed one
if ! cmp -s "$tmp/parsed" <(ours --cache "$tmp/cache"); then
    bench_note "cached and parsed answers differ"
    warm=WRONG
fi

[[ $cold1 != SKIPPED ]] && bench_row "ontologies: load the schema set, cold (-@ 1)" "$cold1" "$base" s \
    "$(bench_ratio "$base" "$cold1")"
bench_row "ontologies: load the schema set, cold (-@ 2)" "$cold2" "$base" s \
    "$(bench_ratio "$base" "$cold2")"
bench_row "ontologies: load the schema set, warm (cache)" "$warm" "$base" s \
    "$(bench_ratio "$base" "$warm")"
