#!/bin/bash
# Benchmark: sc-register report of a registry of 10,000 datasets
# (BENCH_SMALL=1: 200, from 10 templates): the 40 make-corpus templates are
# registered with sc-register add (behind distinct paths, --trust-sha256),
# then copied in one SQL transaction into the other rows (each a distinct
# path and sha256, the template's size, mtime and terms): registering
# 10,000 files one by one costs minutes of probing and is measured by
# register.sh, not here.
#   - writing the report (overview, 10,000 dataset pages, one collection
#     version page of every human dataset): whole command, wall time;
#   - loading the overview in headless Chromium (window 1200x900) from
#     file://: the page's own time from the start of navigation to the
#     charts near the window drawn (the page draws the others when they are
#     scrolled to; performance.now() when the last vega-embed promise
#     resolved, which the page writes into data-rendered-ms), the same with
#     every chart drawn at once (#all), and the wall time of the whole
#     chromium --dump-dom process;
#   - the same for one dataset's page.
# Baseline: a page with the same chart library and no data (the same
#   sc-report.js; its data-rendered-ms once the script ran), loaded in the
#   same runs: what the library alone costs; ratio = baseline / ours.
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

reg=$SC_BUILD/bin/sc-register
tpl=$SC_BUILD/bench-cache/register-templates
if [[ ${BENCH_SMALL:-0} == 1 ]]; then n=200 ntpl=10 tpl=$tpl-10; else n=10000 ntpl=40; fi
runs=$(bench_runs)
long=$(bench_runs long)
work=$(mktemp -d "$SC_BUILD/bench-report.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SC_SHARE=${SC_SHARE:-$SC_ROOT/share}
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$SC_BUILD/cache}
chromium=${CHROMIUM:-chromium}

if [[ ! -x $reg ]]; then
    bench_note "$reg not built"
    exit 1
fi
if ! command -v "$chromium" > /dev/null; then
    bench_note "chromium is not installed (scripts/install-deps.sh)"
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
bench_links "$tpl" "$work" "$n" ds || exit 1
bench_note "registering $n datasets ($ntpl with add, the rest copied in SQL)"
head -n $((ntpl + 1)) "$work/m.tsv" > "$work/m-tpl.tsv"
"$reg" -q --db "$work/r.db" init &&
    "$reg" -q --db "$work/r.db" add -@ "$(nproc)" --trust-sha256 < "$work/m-tpl.tsv" > /dev/null &&
    $PY - "$work/r.db" "$work/m.tsv" "$ntpl" <<'EOF' &&
import sqlite3, sys
db, manifest, ntpl = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [l.rstrip("\n").split("\t") for l in open(manifest)][1:]
con = sqlite3.connect(db)
cols = [r[1] for r in con.execute("PRAGMA table_info(artifact)") if r[1] != "id"]
tpl = {}
for path, sha in rows[:ntpl]:
    tpl[path] = con.execute("SELECT id FROM artifact WHERE sha256 = ?", (sha,)).fetchone()[0]
ids = [tpl[p] for p, _ in rows[:ntpl]]
with con:
    for i, (path, sha) in enumerate(rows[ntpl:], ntpl):
        src = ids[i % ntpl]
        sel = ", ".join("?" if c in ("sha256", "path") else c for c in cols)
        cur = con.execute("INSERT INTO artifact(%s) SELECT %s FROM artifact WHERE id = ?"
                          % (", ".join(cols), sel),
                          tuple(sha if c == "sha256" else path for c in cols
                                if c in ("sha256", "path")) + (src,))
        con.execute("INSERT INTO artifact_term SELECT ?, field, term, label, n_cells "
                    "FROM artifact_term WHERE artifact_id = ?", (cur.lastrowid, src))
n = con.execute("SELECT count(*) FROM artifact").fetchone()[0]
if n != len(rows):
    sys.exit("registered %d datasets, not %d" % (n, len(rows)))
EOF
    "$reg" -q --db "$work/r.db" collection create human &&
    "$reg" -q --db "$work/r.db" collection add human --organism human &&
    "$reg" -q --db "$work/r.db" collection freeze human > /dev/null || exit 1

k=0
write() {
    k=$((k + 1))
    "$reg" -q --db "$work/r.db" report -o "$work/rep$k"
}
bench_note "writing the report, $long runs"
t_write=$(bench_median "$long" write) || exit 1
rep=$work/rep1
[[ $(ls "$rep/d" | wc -l) -eq $n ]] || {
    bench_note "the report does not hold $n dataset pages"
    exit 1
}
mb=$(du -sm "$rep" | cut -f1)
# the baseline: the chart library and a page script with nothing to draw
printf '<!DOCTYPE html><html><head><script src="sc-report.js"></script></head><body><script>document.documentElement.setAttribute("data-rendered-ms", Math.round(performance.now()));</script></body></html>\n' > "$rep/empty.html"

# load PAGE: print "RENDERED_MS WALL_S" of one headless load
load() {
    local t0 t1 dom ms
    t0=$(date +%s.%N)
    dom=$("$chromium" --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" \
        --window-size=1200,900 --virtual-time-budget=30000 --dump-dom "file://$1" 2> /dev/null) || return 1
    t1=$(date +%s.%N)
    ms=$(grep -o 'data-rendered-ms="[0-9]*"' <<< "$dom" | grep -o '[0-9]*') || return 1
    awk -v m="$ms" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s %.3f\n", m, b - a }'
}
# measure PAGE: the medians of $runs loads, "MS WALL"
measure() {
    local i out
    for ((i = 0; i < runs; i++)); do
        load "$1" || return 1
    done > "$work/loads.txt"
    out=$(cut -d' ' -f1 "$work/loads.txt" | median) || return 1
    echo "$out $(cut -d' ' -f2 "$work/loads.txt" | median)"
}
load "$rep/empty.html" > /dev/null # warm the disk cache and the profile
bench_note "loading pages in chromium, $runs runs each"
read -r base_ms base_wall < <(measure "$rep/empty.html") || exit 1
read -r idx_ms idx_wall < <(measure "$rep/index.html") || {
    bench_note "the overview did not render"
    exit 1
}
read -r all_ms all_wall < <(measure "$rep/index.html#all") || exit 1
first=$(ls "$rep/d" | head -1)
read -r ds_ms ds_wall < <(measure "$rep/d/$first") || {
    bench_note "a dataset page did not render"
    exit 1
}
read -r dsall_ms dsall_wall < <(measure "$rep/d/$first#all") || exit 1

bench_row "report of $n datasets: write (overview, $n dataset pages, a collection page; $mb MB)" \
    "$t_write" - s -
bench_row "report: overview usable in chromium (charts near the window drawn; vs the library alone)" \
    "$idx_ms" "$base_ms" ms "$(bench_ratio "$base_ms" "$idx_ms")"
bench_row "report: overview with every chart drawn (#all; vs the library alone)" \
    "$all_ms" "$base_ms" ms "$(bench_ratio "$base_ms" "$all_ms")"
bench_row "report: overview, whole chromium --dump-dom process (vs the library alone)" \
    "$idx_wall" "$base_wall" s "$(bench_ratio "$base_wall" "$idx_wall")"
bench_row "report: a dataset's page usable in chromium (vs the library alone)" \
    "$ds_ms" "$base_ms" ms "$(bench_ratio "$base_ms" "$ds_ms")"
bench_row "report: a dataset's page, every chart and the lineage graph drawn (#all)" \
    "$dsall_ms" "$base_ms" ms "$(bench_ratio "$base_ms" "$dsall_ms")"
bench_row "report: a dataset's page, whole chromium process (vs the library alone)" \
    "$ds_wall" "$base_wall" s "$(bench_ratio "$base_wall" "$ds_wall")"
