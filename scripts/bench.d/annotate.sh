#!/bin/bash
# Benchmark: sc-annotate annotate (loading the ontologies is onto.sh's).
#   labels/s: the distinct labels of one dataset mapped per second: one
#       author-style string for each live CL label and synonym (~5,800:
#       case, plurals, '_' and '-' variants, 10% misspelt and 10% cluster
#       names, which nothing matches);
#       ours: the "map" time of the report of `annotate --dry-run
#       --suggestions 0` (every tier), and a second row with the default 3
#       fuzzy suggestions for each label nothing matches (no baseline);
#       baseline: Python dicts over the CL guide file (label, label in any
#       case, synonym in any case: bionty's tiers, no normalised form, no
#       suggestions), the mapping loop only.
#       BENCH_SMALL=1: the strings of the first 1,000 of those (CL id order),
#       so that the runs with suggestions take a fraction of a second.
#   1M cells: one author-style dataset of 1,000,000 cells x 2,000 genes,
#       100 non-zeros per cell (BENCH_SMALL=1: 20,000 cells), made once with
#       make-corpus and cached; annotated end to end (read, map every label
#       field, write an uncompressed h5ad: -l 0) against anndata 0.8 reading,
#       mapping the cell type column with the dicts above and writing;
#       whole process wall time, plus ours' read / map / write split from
#       the report.
# Rows: labels/s (ratio ours / baseline) and seconds (ratio baseline / ours),
# medians of the runs.
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

annotate=$SC_BUILD/bin/sc-annotate
share=$SC_ROOT/share
base=$SC_ROOT/scripts/bench.d/annotate_baseline.py
cache=${SC_BENCH_CACHE:-$SC_BUILD/bench-cache}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
runs=$(bench_runs long)
[[ ${BENCH_SMALL:-0} == 1 ]] && runs=$(bench_runs)
if [[ ${BENCH_SMALL:-0} == 1 ]]; then ncells=20000 nlabels=1000; else ncells=1000000 nlabels=20000; fi
# the ontology cache, built once (by the first run of this or register.sh)
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$SC_BUILD/cache}

if [[ ! -x $annotate ]]; then
    bench_note "$annotate not built"
    exit 1
fi

# ---- labels per second ----
$PY - "$share" "$tmp/labels.h5ad" "$nlabels" <<'PYEOF' || { bench_note "cannot make the label set"; exit 1; }
import gzip, json, os, random, sys
import anndata, numpy as np, pandas as pd, scipy.sparse as sp
share, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = os.path.join(share, "ontology/cxg-guide/schema-7.0.0")
f = [x for x in os.listdir(d) if x.startswith("CL-")][0]
t = json.load(gzip.open(os.path.join(d, f)))
rng = random.Random(1)
strings = []
for k, v in sorted(t.items()):
    if v.get("deprecated"):
        continue
    strings.append(v["label"])
    strings.extend(v.get("synonyms") or [])
seen, labels = set(), []
def add(s):
    if s not in seen:
        seen.add(s); labels.append(s)
for s in strings:
    r = rng.random()
    if r < 0.3: add(s)
    elif r < 0.45: add(s.capitalize())
    elif r < 0.6: add(s + "s")
    elif r < 0.7: add(s.replace(" ", "_"))
    elif r < 0.8: add(s.replace(" ", "-").title())
    elif r < 0.9 and len(s) > 8:
        i = rng.randrange(2, len(s) - 2); add(s[:i] + s[i + 1:])
    else: add("cluster_%d" % len(labels))
    if len(labels) >= limit: break
n = len(labels)
obs = pd.DataFrame({"cell_type": pd.Categorical(labels)}, index=[str(i) for i in range(n)])
X = sp.csr_matrix((n, 1), dtype=np.float32)
anndata.AnnData(X=X, obs=obs, uns={"organism_ontology_term_id": "NCBITaxon:9606"}).write_h5ad(out)
PYEOF
"$annotate" term CL:0000236 > /dev/null # build the ontology cache if need be
# labels_per_s FILE ARGS...: one run of ours, appending its labels/s
labels_per_s() {
    local f=$1
    shift
    "$annotate" annotate --dry-run "$@" -d "$tmp/l" "$tmp/labels.h5ad" > /dev/null || return
    $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["fields"]["cell_type"]["n_labels"] / r["seconds"]["map"])' \
        "$tmp/l/labels.annotate.json" >> "$f"
}
: > "$tmp/lab.ours"
: > "$tmp/lab.sugg"
for ((i = 0; i < runs; i++)); do
    labels_per_s "$tmp/lab.ours" --suggestions 0 || break
    labels_per_s "$tmp/lab.sugg" || break
done
ours_lps=$(median < "$tmp/lab.ours") || ours_lps=FAILED
sugg_lps=$(median < "$tmp/lab.sugg") || sugg_lps=FAILED
: > "$tmp/lab.base"
for ((i = 0; i < runs; i++)); do
    $PY "$base" labels "$share" "$tmp/labels.h5ad" | awk '{ print $1 / $2 }' >> "$tmp/lab.base" || break
done
base_lps=$(median < "$tmp/lab.base") || base_lps=FAILED
nlab=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["fields"]["cell_type"]["n_labels"])' "$tmp/l/labels.annotate.json" 2>/dev/null)
bench_row "annotate: distinct labels mapped per second ($(bench_fmt "${nlab:-0}") labels)" \
    "$ours_lps" "$base_lps" labels/s "$(bench_ratio "$ours_lps" "$base_lps")"
bench_row "annotate: the same, with 3 fuzzy suggestions per unmapped label" \
    "$sugg_lps" n/a labels/s n/a

# ---- one big dataset, end to end ----
big=$cache/annotate-$ncells
if [[ ! -f $big/.done ]]; then
    bench_note "making a $ncells-cell dataset in $big (once)"
    rm -rf "$big"
    "$SC_ROOT/scripts/make-corpus" -o "$big" --datasets 1 --cells $((ncells + 200)) \
        --cells-min 200 --cells-max 200 --add-dataset "$ncells:2000:human" --nnz 100 \
        --mess 3 --seed 11 > /dev/null && touch "$big/.done" || {
        bench_note "cannot make the dataset"
        exit 1
    }
fi
in=$big/ds000.h5ad
col=$($PY -c '
import json, sys
d = json.load(open(sys.argv[1]))["datasets"][0]
print([f["column"] for f in d["obs_fields"] if f["field"] == "cell_type"][0])' "$big/truth.json")
cat "$in" > /dev/null # warm page cache
: > "$tmp/e2e.ours"
: > "$tmp/split.ours"
for ((i = 0; i < runs; i++)); do
    rm -rf "$tmp/o"
    t=$(bench_time "$annotate" annotate --no-provenance -l 0 -d "$tmp/o" "$in") || break
    echo "$t" >> "$tmp/e2e.ours"
    $PY -c 'import json,sys; s=json.load(open(sys.argv[1]))["seconds"]; print(s["read"], s["map"], s["write"])' \
        "$tmp/o/ds000.annotate.json" >> "$tmp/split.ours"
done
: > "$tmp/e2e.base"
: > "$tmp/split.base"
for ((i = 0; i < runs; i++)); do
    t0=$(date +%s.%N)
    $PY "$base" annotate "$share" "$in" "$tmp/base.h5ad" "$col" >> "$tmp/split.base" || break
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >> "$tmp/e2e.base"
done
eo=$(median < "$tmp/e2e.ours") || eo=FAILED
eb=$(median < "$tmp/e2e.base") || eb=FAILED
label="annotate: $(bench_fmt "$ncells") cells end to end"
bench_row "$label" "$eo" "$eb" s "$(bench_ratio "$eb" "$eo")"
for k in 1 2 3; do
    name=$(echo read map write | cut -d' ' -f$k)
    so=$(cut -d' ' -f$k "$tmp/split.ours" | median) || so=FAILED
    sb=$(cut -d' ' -f$k "$tmp/split.base" | median) || sb=FAILED
    bench_row "$label: $name" "$so" "$sb" s "$(bench_ratio "$sb" "$so")"
done
