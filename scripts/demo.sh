#!/bin/bash
# make demo: the whole pipeline on bundled data, with the tools themselves.
# SPDX-License-Identifier: MIT
#
# 1. make a small messy corpus (scripts/make-corpus): a "lab" part on local
#    disk and a "portal" part served by a local mock of the CELLxGENE API
# 2. sc-fetch: the lab files and the bundled real samples (tests/data) from
#    local paths, the portal datasets through the (mock) curation API
# 3. sc-harmonize, 4. sc-annotate, 5. sc-register add
# 6. a collection, frozen and exported; 7. sc-stream into a small PyTorch
#    classifier, one epoch on CPU; 8. the checkpoint registered as the output
#    of a run whose input is the collection version; 9. "which datasets went
#    into this model?" answered from the registry (sc-register lineage).
#
# Every step skips what it already made, so a rerun is fast; remove the
# output directory to start over.
# Environment: BUILD [build], SC_DEMO_DIR [$BUILD/demo], SC_DEMO_SMALL=1
# (a smaller corpus, for the tests), SC_DEMO_THREADS [2].
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$root/$BUILD
export PATH=$BUILD/bin:$root/scripts:$PATH
export SC_SHARE=${SC_SHARE:-$root/share}
export LC_ALL=C
py=/usr/bin/python3
out=${SC_DEMO_DIR:-$BUILD/demo}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$out"
threads=${SC_DEMO_THREADS:-2}
export SC_REGISTRY=$out/registry.db
export SC_STREAM_CACHE=$out/cache/stream
export SC_CORPUS_CACHE=${SC_CORPUS_CACHE:-$BUILD/cache}
# The corpus: genes per dataset are few, so the gene threshold is lowered to
# match (make-corpus writes the expected status with the same threshold).
min_genes=1000
if [[ -n ${SC_DEMO_SMALL:-} ]]; then
    lab=(--datasets 3 --cells 1200 --seed 11)
    portal=(--datasets 3 --cells 900 --seed 12)
else
    lab=(--datasets 8 --cells 8000 --seed 11)
    portal=(--datasets 3 --cells 3000 --seed 12)
fi
common=(--genes 1500:2500 --nnz 400 --mess 2 --min-mapped-genes $min_genes -j "$threads")
data=$root/tests/data
real=("$data"/h5ad/*.h5ad "$data"/10x_h5/*.h5 "$data"/loom/*.loom)
t_start=$(date +%s.%N)

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
skip() { say "   (already done: $*)"; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
# col FILE NAME: the values of column NAME of a manifest, one per line.
col() {
    awk -F'\t' -v k="$2" '/^#/ { next } !h { for (i = 1; i <= NF; i++) if ($i == k) c = i; h = 1; next }
        c { print $c }' "$1"
}
# merge FILE...: manifests under one header (the union of their columns).
merge() {
    awk -F'\t' '/^#/ { next } !(FILENAME in n) { n[FILENAME] = NF;
            for (i = 1; i <= NF; i++) { h[FILENAME, i] = $i;
                if (!($i in c)) { c[$i] = ++nc; name[nc] = $i } } next }
        { r++; for (i = 1; i <= n[FILENAME]; i++) v[r, c[h[FILENAME, i]]] = $i }
        END { s = name[1]; for (j = 2; j <= nc; j++) s = s "\t" name[j]; print s;
            for (k = 1; k <= r; k++) { s = v[k, 1];
                for (j = 2; j <= nc; j++) s = s "\t" v[k, j]; print s } }' "$@"
}
# keep_ok FILE: the lines of a manifest whose status is ok.
keep_ok() {
    awk -F'\t' '/^#/ { next } !h { for (i = 1; i <= NF; i++) if ($i == "status") c = i; h = 1; print; next }
        $c == "ok"' "$1"
}
# tally FILE: "N ok, N refused (reasons)" of a manifest.
tally() {
    awk -F'\t' '!h { for (i = 1; i <= NF; i++) { if ($i == "status") c = i; if ($i == "reason") r = i }
            h = 1; next }
        { n[$c]++; if ($c != "ok" && r && $r != "") why[$r]++ }
        END { s = ""; for (k in n) s = s (s ? ", " : "") n[k] " " k;
            w = ""; for (k in why) w = w (w ? ", " : "") why[k] " " k;
            print s (w ? " (" w ")" : "") }' "$1"
}
# to FILE CMD...: run CMD with stdout to FILE; exit 3 (some datasets failed
# under -k, recorded in the manifest) is fine.
to() {
    local f=$1 rc=0
    shift
    "$@" > "$f" || rc=$?
    [[ $rc -eq 0 || $rc -eq 3 ]] || exit $rc
}
# publish TMP FILE: a step's result, renamed only once it is complete.
publish() { mv -f "$1" "$2"; }

mock_pid=
stop_mock() {
    if [[ -n $mock_pid ]]; then
        kill "$mock_pid" 2> /dev/null || true
        wait "$mock_pid" 2> /dev/null || true
        mock_pid=
    fi
}
trap stop_mock EXIT
trap 'stop_mock; exit 130' INT TERM

say "sc demo: outputs in $out"
say "tools: $(sc-register --version | head -1)"

# ---------------------------------------------------------------------------
step "1. make a small messy corpus (scripts/make-corpus)"
for part in lab portal; do
    if [[ -f corpus/$part/truth.json ]]; then
        skip "corpus/$part"
        continue
    fi
    rm -rf "corpus/$part.tmp"
    declare -n args=$part
    make-corpus -o "corpus/$part.tmp" "${args[@]}" "${common[@]}"
    mv "corpus/$part.tmp" "corpus/$part"
done
"$py" - corpus/lab/truth.json corpus/portal/truth.json <<'EOF'
import json, sys
for p in sys.argv[1:]:
    t = json.load(open(p))
    org = {}
    for d in t["datasets"]:
        org[d["organism"]] = org.get(d["organism"], 0) + 1
    styles = sorted({d["style"] for d in t["datasets"]})
    print("   %-22s %d datasets, %d cells, organisms %s, metadata styles %s"
          % (p.rsplit("/", 1)[0], t["n_datasets"], t["n_cells"],
             ", ".join("%s x%d" % kv for kv in sorted(org.items())), ", ".join(styles)))
EOF
say "   + ${#real[@]} bundled real files (tests/data: h5ad of every AnnData generation, 10x HDF5, loom)"

# ---------------------------------------------------------------------------
step "2. sc-fetch: local files, and the portal datasets through a mock CELLxGENE API"
if [[ -f fetched.tsv ]]; then
    skip "fetched.tsv"
else
    mkdir -p mock
    rm -f mock/port
    "$py" "$root/tests/mock/cxg_server.py" --h5ad corpus/portal --port-file mock/port \
        --log mock/requests.log --lifetime 900 > mock/server.out 2>&1 &
    mock_pid=$!
    echo "$mock_pid" > mock/pid
    for ((i = 0; i < 100; i++)); do
        [[ -s mock/port ]] && break
        sleep 0.1
    done
    [[ -s mock/port ]] || { cat mock/server.out >&2; exit 1; }
    api=http://127.0.0.1:$(cat mock/port)
    say "   mock curation API at $api (tests/mock/cxg_server.py)"
    sc-fetch list --api-url "$api" --collection "Tabula Mock" --collection "Mouse Atlas" |
        awk -F'\t' 'NR > 1 { printf "   portal: %s  %s  %s\n", $1, $7, $NF }'
    to fetch-portal.tsv.tmp sc-fetch get -q -k --api-url "$api" -d raw/portal \
        --collection "Tabula Mock" --collection "Mouse Atlas"
    to fetch-lab.tsv.tmp sc-fetch get -q -k -d raw/lab corpus/lab/*.h5ad
    to fetch-real.tsv.tmp sc-fetch get -q -k -d raw/real "${real[@]}"
    stop_mock
    for f in portal lab real; do publish fetch-$f.tsv.tmp fetch-$f.tsv; done
    merge fetch-portal.tsv fetch-lab.tsv fetch-real.tsv > fetched.tsv.tmp
    publish fetched.tsv.tmp fetched.tsv
fi
say "   $(($(wc -l < fetch-portal.tsv) - 1)) from the API, $(($(wc -l < fetch-lab.tsv) - 1)) lab files," \
    "$(($(wc -l < fetch-real.tsv) - 1)) real samples -> raw/ (manifest: fetched.tsv)"

# ---------------------------------------------------------------------------
step "3. sc-harmonize: Ensembl ids, raw counts, QC, schema-7 layout"
if [[ -f harmonized.tsv ]]; then
    skip "harmonized.tsv"
else
    t=$(date +%s.%N)
    merge fetch-portal.tsv fetch-lab.tsv | to harmonize-corpus.tsv.tmp \
        sc-harmonize -q -k -@ "$threads" --min-mapped-genes $min_genes -d harmonized
    # the real samples are tiny (tens to a thousand cells, a few hundred
    # genes): thresholds to match, and most are still refused, with reasons
    to harmonize-real.tsv.tmp sc-harmonize -q -k -@ "$threads" --min-mapped-genes 100 \
        --min-cells 50 --min-genes 5 -d harmonized < fetch-real.tsv
    merge harmonize-corpus.tsv.tmp harmonize-real.tsv.tmp > harmonized.tsv.tmp
    rm -f harmonize-corpus.tsv.tmp harmonize-real.tsv.tmp
    publish harmonized.tsv.tmp harmonized.tsv
    say "   in $(elapsed "$t")"
fi
say "   $(tally harmonized.tsv) (manifest: harmonized.tsv, reports: harmonized/*.report.json)"

# ---------------------------------------------------------------------------
step "4. sc-annotate: free-text labels -> ontology terms"
# What a user adds after reading the labels reports and `sc-annotate
# validate`: a term for each disease label left ambiguous or weak (HVDRR, a
# short capitals synonym: the human disease; "Wilms' tumor" and the CNS
# germ cell tumour: exact synonyms of a term and of its descendant, the
# wider term), the fields only the authors know for the datasets that lack
# them, and an embedding, which the schema requires.
{ printf 'label\tterm_id\n'; printf '%s\t%s\n' HVDRR MONDO:0019642 "Wilms' tumor" MONDO:0006058 \
    "Central nervous system Mixed germ cell tumor" MONDO:0016742; } > curation.tsv
annotate_opts=(-m curation.tsv --pca 10 --default donor_id=donor-1 --default is_primary_data=true
    --default suspension_type=cell)
if [[ -f annotated.tsv ]]; then
    skip "annotated.tsv"
else
    t=$(date +%s.%N)
    keep_ok harmonized.tsv | to annotated.tsv.tmp sc-annotate annotate -q -k -@ "$threads" "${annotate_opts[@]}" -d annotated
    publish annotated.tsv.tmp annotated.tsv
    say "   in $(elapsed "$t")"
fi
awk -F'\t' '!h { for (i = 1; i <= NF; i++) { if ($i == "n_labels") a = i; if ($i == "n_mapped") b = i }
        h = 1; next }
    { n++; l += $a; m += $b }
    END { printf "   %d datasets, %d distinct labels, %d mapped to terms (reports: annotated/*.annotate.json)\n", n, l, m }' annotated.tsv

# ---------------------------------------------------------------------------
step "5. sc-register: content-addressed registry with lineage"
if [[ -f registered.tsv ]]; then
    skip "registered.tsv"
else
    [[ -f registry.db ]] || sc-register init --root "$out" > /dev/null
    for f in fetched harmonized annotated; do
        to register-$f.tsv.tmp sc-register add -k < $f.tsv
    done
    merge register-{fetched,harmonized,annotated}.tsv.tmp > registered.tsv.tmp
    rm -f register-*.tsv.tmp
    publish registered.tsv.tmp registered.tsv
fi
say "   $(sc-register query --all-versions | tail -n +2 | wc -l) artifacts in registry.db" \
    "($(col registered.tsv registered | sort | uniq -c | awk '{ printf "%s%s %s", s, $1, $2; s = ", " }'))"

# ---------------------------------------------------------------------------
step "6. a collection: annotated datasets with typed cells, frozen and exported"
if sc-register collection show demo@1 > /dev/null 2>&1; then
    skip "collection demo@1"
else
    sc-register collection show demo > /dev/null 2>&1 ||
        sc-register collection create demo --description "make demo: annotated datasets" > /dev/null
    sc-register collection add demo --transform sc-annotate --cell-type cell --min-cells 50 > /dev/null
    sc-register collection freeze demo > /dev/null
fi
if [[ ! -f collection.tsv ]]; then
    sc-register collection export demo@1 > collection.tsv.tmp
    publish collection.tsv.tmp collection.tsv
fi
say "   demo@1: $(($(wc -l < collection.tsv) - 1)) datasets," \
    "$(col collection.tsv n_obs | awk '{ s += $1 } END { print s }') cells -> collection.tsv; top cell types:"
sc-register counts demo@1 | awk -F'\t' 'NR > 1 && NR <= 4 { printf "     %-12s %-40s %5d cells\n", $1, substr($2, 1, 40), $3 }'

# ---------------------------------------------------------------------------
step "6b. the collection's datasets against the CELLxGENE schema (sc-annotate validate)"
# as annotated (with the portal's label columns, which must agree with the
# terms), and in the form an upload takes (annotate --submission: without
# them), which the official validator checks the same way
if [[ -f validated.txt ]]; then
    skip "validated.txt"
else
    col collection.tsv path | sed 's|.*/||' > submission.names
    keep_ok harmonized.tsv | awk -F'\t' 'NR == FNR { want[$1]; next }
        FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "path") c = i; print; next }
        { n = $c; sub(/.*\//, "", n) } n in want' submission.names - |
        to submission.tsv sc-annotate annotate -q -k -@ "$threads" "${annotate_opts[@]}" \
            --submission -d submission
    rm -f submission.names
    # (exit 1 when a dataset is not valid: the counts below say so)
    col collection.tsv path | xargs sc-annotate validate > validated.txt.tmp 2>&1 || true
    col submission.tsv path | xargs sc-annotate validate --submission >> validated.txt.tmp 2>&1 ||
        true
    publish validated.txt.tmp validated.txt
fi
awk '/: (valid|invalid) \([0-9]+ errors/ { k = /(^|\/)submission\// ? "s" : "a"; t[k]++; if (/: valid \(/) ok[k]++ }
    END { printf "   %d of %d valid as annotated, %d of %d as submitted (submission/; messages: validated.txt)\n",
        ok["a"], t["a"], ok["s"], t["s"] }' validated.txt

# ---------------------------------------------------------------------------
step "7. sc-stream -> PyTorch: a cell-type classifier, one epoch on CPU"
if [[ -f model.pt ]]; then
    skip "model.pt"
else
    t=$(date +%s.%N)
    OMP_NUM_THREADS=$threads "$py" "$root/scripts/recipes/train.py" -m collection.tsv -o model.pt \
        --epochs 1 2>&1 | sed 's/^/   /'
    say "   in $(elapsed "$t")"
fi

# ---------------------------------------------------------------------------
step "8. register the checkpoint as the output of a training run"
if [[ -f run.id ]]; then
    skip "run $(cat run.id)"
else
    run=$(sc-register run start --tool scripts/recipes/train.py --tool-version 1 --input demo@1 \
        -- -m collection.tsv -o model.pt --epochs 1)
    sc-register run finish "$run" --output-file model.pt > /dev/null
    echo "$run" > run.id
fi
say "   run $(cat run.id): demo@1 -> model.pt ($(sha256sum model.pt | cut -c1-16)...)"

# ---------------------------------------------------------------------------
step "9. which datasets went into this model? (sc-register lineage model.pt)"
sc-register lineage --up model.pt > lineage.txt
# The members of the collection and, below each, the source it was fetched
# from: an indented tree, "<- collection" then "<- artifact" lines.
awk '
    function depth(s) { match(s, /^ */); return RLENGTH }
    /<- collection/ { cd = depth($0); next }
    cd && /<- artifact/ && depth($0) == cd + 2 { member = $4; next }
    cd && member && /<- source/ { print member "\t" $3; member = "" }
' lineage.txt > answer.tsv
n=$(wc -l < answer.tsv)
say "   model.pt <- run $(cat run.id) <- demo@1 <- $n datasets (annotated <- harmonized <- fetched <- source):"
awk -F'\t' -v o="$out/" '{ sub(o, "", $1); printf "     %-34s <- %s\n", $1, $2 }' answer.tsv
say "   (full tree: lineage.txt; as a graph: sc-register lineage model.pt --dot)"

# ---------------------------------------------------------------------------
step "10. a report to look at (sc-register report)"
rm -rf report
say "   $(sc-register report -o report | sed "s|^|$out/|")  (open it in a browser; works offline)"

printf '\n== demo done in %s: outputs in %s\n' "$(elapsed "$t_start")" "$out"
