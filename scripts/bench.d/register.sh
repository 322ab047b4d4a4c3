#!/bin/bash
# Benchmark: sc-register on 10,000 datasets (BENCH_SMALL=1: 200, from 10
# templates, so that the templates build and the runs take seconds).
#   The datasets: 40 CELLxGENE-like h5ad files from make-corpus (200-5,000
#   cells, 1,000-3,000 genes, the usual obs term columns with realistic
#   numbers of cell types, tissues, ...) behind 10,000 distinct paths
#   (symlinks), in a manifest whose sha256 column gives each row its own
#   digest.  Registration reads every file's metadata (terms with cell
#   counts, genes, provenance) and writes it, one transaction per dataset;
#   hashing is excluded (--trust-sha256) and reported apart (sha256sum of
#   the same bytes).
#   Then: the median latency of a query that expands "T cell" to its
#   descendants (the whole command: ontology from its cache, the query,
#   the table on stdout), and of exporting a frozen collection version of
#   every human dataset as a manifest.
# Baseline: none; no equivalent tool is installed here (LaminDB is not),
# so the baseline and ratio columns are "-".
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

reg=$SC_BUILD/bin/sc-register
tpl=$SC_BUILD/bench-cache/register-templates
if [[ ${BENCH_SMALL:-0} == 1 ]]; then n=200 ntpl=10 tpl=$tpl-10; else n=10000 ntpl=40; fi
runs=$(bench_runs)
long=$(bench_runs long)
work=$(mktemp -d "$SC_BUILD/bench-register.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SC_SHARE=${SC_SHARE:-$SC_ROOT/share}
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$SC_BUILD/cache}

if [[ ! -x $reg ]]; then
    bench_note "$reg not built"
    exit 1
fi
if [[ ! -f $tpl/.done ]]; then
    bench_note "making $ntpl template datasets in $tpl"
    rm -rf "$tpl"
    "$SC_ROOT/scripts/make-corpus" -o "$tpl" --datasets $ntpl --cells $((ntpl * 1000)) \
        --cells-min 200 --cells-max 5000 --genes 1000:3000 --nnz 5 --mess 0 \
        --seed 11 --compression none > /dev/null || exit 1
    touch "$tpl/.done"
fi
# n paths and a manifest with a distinct digest per row
bench_links "$tpl" "$work" "$n" ds || exit 1
cat "$work"/d/*.h5ad > /dev/null

# each run also appends its CPU seconds (all worker processes) to cpu.txt:
# on a shared machine the wall time depends on the other load, this does not
register() {
    rm -f "$work"/r.db*
    "$reg" -q --db "$work/r.db" init &&
        /usr/bin/time -a -o "$work/cpu.txt" -f "%U %S" \
            "$reg" -q --db "$work/r.db" add -@ "$(nproc)" --trust-sha256 < "$work/m.tsv"
}
bench_note "registering $n datasets, $long runs"
t_add=$(bench_median "$long" register) || exit 1
[[ $("$reg" --db "$work/r.db" query | tail -n +2 | wc -l) -eq $n ]] || {
    bench_note "the registry does not hold $n datasets"
    exit 1
}
t_cpu=$(awk '{ print $1 + $2 }' "$work/cpu.txt" | median)
t_hash=$(bench_median 1 sh -c "cat '$work'/d/*.h5ad | sha256sum") || exit 1
mb=$(cat "$work"/d/*.h5ad | wc -c | awk '{ printf "%.0f", $1 / 1e6 }')

query() {
    "$reg" --db "$work/r.db" query --cell-type "T cell"
}
hits=$(query | tail -n +2 | wc -l)
t_query=$(bench_median "$runs" query) || exit 1

"$reg" -q --db "$work/r.db" collection create human &&
    "$reg" -q --db "$work/r.db" collection add human --organism human &&
    "$reg" -q --db "$work/r.db" collection freeze human > /dev/null || exit 1
export_v() {
    "$reg" --db "$work/r.db" collection export human@1
}
members=$(export_v | tail -n +2 | wc -l)
t_export=$(bench_median "$runs" export_v) || exit 1

ms() { awk -v s="$1" 'BEGIN { printf "%.1f\n", s * 1000 }'; }
bench_row "register $n datasets' metadata, hashing apart (no baseline here)" \
    "$t_add" - s -
bench_row "register: CPU time of those runs (user + sys, all workers)" "$t_cpu" - s -
bench_row "register: datasets per second" "$(bench_rate "$n" "$t_add")" - \
    datasets/s -
bench_row "register: sha256 of the same $mb MB, apart (sha256sum)" "$t_hash" - s -
bench_row "query --cell-type 'T cell' with descendants ($hits of $n hits)" \
    "$(ms "$t_query")" - ms -
bench_row "collection export of a version of $members datasets" \
    "$(ms "$t_export")" - ms -
