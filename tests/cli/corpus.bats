#!/usr/bin/env bats
# scripts/make-corpus: deterministic corpora whose truth file agrees with the
# files (issue 3).
# SPDX-License-Identifier: MIT

load helpers

ARGS=(--datasets 10 --cells 20000 --genes 1500:3000 --nnz 250 --mess 3 --min-mapped-genes 1000)

setup_file() {
    load helpers
    cd "$BATS_FILE_TMPDIR"
    # a first (it may have to build the reference cache), then b and c side
    # by side; b uses two worker processes: the output must not depend on it
    make-corpus -o a "${ARGS[@]}" --seed 7 -j 1
    make-corpus -o b "${ARGS[@]}" --seed 7 -j 2 &
    local pb=$!
    make-corpus -o c "${ARGS[@]}" --seed 8 -j 1
    wait $pb
}

@test "make-corpus: --help describes the options and the truth file" {
    run -0 --separate-stderr make-corpus --help
    [[ $output == *"--mess"* && $output == *"--compression"* && $output == *"truth"* ]]
    [[ -z $stderr ]]
}

@test "make-corpus: unknown option is a usage error" {
    run -2 --separate-stderr make-corpus --no-such-flag
    [[ $stderr == *"make-corpus: error"* ]]
    run -2 --separate-stderr make-corpus -o "$BATS_TEST_TMPDIR/x" --compression lzf
    [[ $stderr == "make-corpus: bad --compression"* ]]
}

@test "make-corpus: 10 datasets, 20,000 cells" {
    run -0 $PY -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["n_datasets"], t["n_cells"], len(t["datasets"]))' \
        "$BATS_FILE_TMPDIR/a/truth.json"
    [[ $output == "10 20000 10" ]]
    [[ $(ls "$BATS_FILE_TMPDIR"/a/*.h5ad | wc -l) -eq 10 ]]
}

@test "make-corpus: same seed gives the same truth and the same matrices" {
    cmp "$BATS_FILE_TMPDIR/a/truth.json" "$BATS_FILE_TMPDIR/b/truth.json"
    run -0 make-corpus --compare "$BATS_FILE_TMPDIR/a" "$BATS_FILE_TMPDIR/b"
    # no timestamps in the files: byte-identical
    for f in "$BATS_FILE_TMPDIR"/a/*.h5ad; do
        cmp "$f" "$BATS_FILE_TMPDIR/b/${f##*/}"
    done
}

@test "make-corpus: another seed gives another corpus" {
    ! cmp -s "$BATS_FILE_TMPDIR/a/truth.json" "$BATS_FILE_TMPDIR/c/truth.json"
    run -1 --separate-stderr make-corpus --compare "$BATS_FILE_TMPDIR/a" "$BATS_FILE_TMPDIR/c"
    [[ $stderr == *"differ"* ]]
}

@test "make-corpus: every file opens in anndata and agrees with the truth" {
    run -0 --separate-stderr make-corpus --check "$BATS_FILE_TMPDIR/a" --deep
    [[ -z $stderr ]]
    # and --check does notice a wrong truth
    sed 's/"total_counts_mapped": \([0-9]*\)/"total_counts_mapped": 1\1/' \
        "$BATS_FILE_TMPDIR/a/truth.json" > "$BATS_TEST_TMPDIR/t.json"
    mkdir "$BATS_TEST_TMPDIR/bad"
    cp "$BATS_TEST_TMPDIR/t.json" "$BATS_TEST_TMPDIR/bad/truth.json"
    ln -s "$BATS_FILE_TMPDIR"/a/*.h5ad "$BATS_TEST_TMPDIR/bad/"
    run -1 --separate-stderr make-corpus --check "$BATS_TEST_TMPDIR/bad"
    [[ $stderr == *"mapped total"* ]]
}

@test "make-corpus: mess level 3 covers every kind of mess" {
    run -0 $PY - "$BATS_FILE_TMPDIR/a/truth.json" <<'PYEOF'
import json, sys
t = json.load(open(sys.argv[1]))
ds = t["datasets"]
kinds = {k for d in ds for k in d["genes"]["kind"]}
need = {"id", "id_versioned", "symbol", "unknown", "par_y", "ambiguous_symbol"}
assert kinds & {"retired", "retired_dropped"}, kinds
assert need <= kinds, need - kinds
assert kinds & {"alias", "prev"} and kinds & {"ambiguous_alias", "shadowed_alias"}, kinds
assert any(d["genes"]["duplicates"] for d in ds)
assert any(d["genes"]["column"] == "gene_ids" for d in ds)
locs = {d["counts"]["location"] for d in ds}
assert {"X", None} <= locs and locs & {"raw/X", "layers/counts"}, locs
assert {d["x"]["kind"] for d in ds} == {"counts", "normalized"}
reasons = {r for d in ds for r in d["refusal_reasons"]}
assert reasons == {"no_raw_counts", "too_few_cells", "too_few_genes", "mixed_species"}, reasons
assert {d["style"] for d in ds} == {"cxg7", "old", "author"}
assert {d["organism"] for d in ds} == {"NCBITaxon:9606", "NCBITaxon:10090", "mixed"}
rules = {v.get("rule") for d in ds for f in d["obs_fields"] for v in f["values"].values()}
assert {"valid", "organism_to_uns", "curie_spelling"} <= rules, rules
tiers = {v.get("tier") for d in ds for f in d["obs_fields"] for v in f["values"].values()}
assert {"label", "label_ci", "synonym", "normalized"} <= tiers, tiers
reasons = {v.get("reason") for d in ds for f in d["obs_fields"] for v in f["values"].values()}
assert {"unknown", "misspelling"} <= reasons, reasons
cols = {f["column"] for d in ds for f in d["obs_fields"] if f["field"] == "cell_type"}
assert len(cols) >= 3, cols
PYEOF
}

@test "make-corpus: the truth agrees with the reference data in share/" {
    run -0 $PY - "$BATS_FILE_TMPDIR/a/truth.json" "$SC_SHARE" <<'PYEOF'
import csv, gzip, json, os, re, sys
t = json.load(open(sys.argv[1])); share = sys.argv[2]
def genes(f):
    with gzip.open(os.path.join(share, f), "rt") as fh:
        return {r[0]: r[1] for r in csv.reader(fh) if r}
h7 = genes("genes/cxg-gencode/schema-7/genes_homo_sapiens.csv.gz")
m7 = genes("genes/cxg-gencode/schema-7/genes_mus_musculus.csv.gz")
h5 = genes("genes/cxg-gencode/schema-5/genes_homo_sapiens.csv.gz")
m5 = genes("genes/cxg-gencode/schema-5/genes_mus_musculus.csv.gz")
cur = {**h7, **m7}
names_of = {}
for org, ref in (("NCBITaxon:9606", h7), ("NCBITaxon:10090", m7)):
    names_of[org] = {}
    for g, nm in ref.items():
        names_of[org].setdefault(nm, set()).add(g)
onto = {}
for f in ("CL-ontology-v2025-07-30", "UBERON-ontology-v2025-08-15", "PATO-ontology-v2025-05-14",
          "EFO-ontology-v3.82.0", "MONDO-ontology-v2025-09-02", "HsapDv-ontology-v2025-01-23",
          "MmusDv-ontology-v2025-01-23", "HANCESTRO-ontology-v2025-04-01"):
    with gzip.open(os.path.join(share, "ontology/cxg-guide/schema-7.0.0", f + ".json.gz"), "rt") as fh:
        onto.update(json.load(fh))
# aliases: checked against HGNC directly
def split(s):
    return [x for x in s.strip('"').split("|") if x]
alias_of, approved = {}, {}
with gzip.open(os.path.join(share, "genes/hgnc_complete_set_2024-02-01.tsv.gz"), "rt") as fh:
    for r in csv.DictReader(fh, delimiter="\t"):
        approved[r["symbol"].upper()] = r["ensembl_gene_id"]
        for a in split(r["alias_symbol"]) + split(r["prev_symbol"]):
            alias_of.setdefault(a.upper(), set()).add(r["ensembl_gene_id"] or r["hgnc_id"])
any_name = {nm.upper() for ref in (h7, h5, m7, m5) for nm in ref.values()}
n = 0
for d in t["datasets"]:
    g = d["genes"]
    names = names_of.get(d["organism"], {})
    for o, e, k in zip(g["original"], g["expected"], g["kind"]):
        u = o.upper()
        if k in ("alias", "prev"):
            assert alias_of.get(u) == {e} and u not in approved and u not in any_name, (o, e)
        elif k == "ambiguous_alias":
            assert len(alias_of.get(u, ())) > 1 and u not in approved and u not in any_name, o
        elif k == "shadowed_alias":
            assert u in alias_of and u in approved and u not in any_name and approved[u] not in cur, o
    for o, e, k in zip(g["original"], g["expected"], g["kind"]):
        n += 1
        if k == "id":
            assert o == e and e in cur, (o, e)
        elif k == "id_versioned":
            assert re.fullmatch(re.escape(e) + r"\.\d+", o) and e in cur, (o, e)
        elif k == "par_y":
            assert o.startswith(e) and o.endswith("_PAR_Y") and e in cur, (o, e)
        elif k in ("retired", "retired_dropped"):
            rid = o.split(".")[0]
            assert rid not in cur and (rid in h5 or rid in m5), (o, e)
            assert (e is None) == (k == "retired_dropped") and (e is None or e in cur), (o, e)
        elif k == "symbol":
            assert names.get(o) == {e}, (o, e)
        elif k == "ambiguous_symbol":
            assert len(names.get(o, ())) > 1 and e is None, o
        elif k in ("alias", "prev", "unknown", "ambiguous_alias", "shadowed_alias"):
            assert o not in names, o
    for f in d["obs_fields"]:
        for v, x in f["values"].items():
            e = x["expect"]
            if f["kind"] == "label" and e is not None:
                lab, syn = onto[e]["label"], onto[e].get("synonyms") or []
                assert not onto[e].get("deprecated"), e
                tier = x["tier"]
                if tier == "label": assert v == lab, (v, e)
                if tier == "label_ci": assert v.lower() == lab.lower() and v != lab, (v, e)
                if tier == "synonym": assert v in syn, (v, e)
            if f["kind"] == "term_id" and x["rule"] == "valid" and e not in ("na", "unknown"):
                assert v == e and e in onto and not onto[e].get("deprecated"), (v, e)
            if f["kind"] == "term_id" and x["rule"] == "replaced_by":
                assert onto[v].get("deprecated") and x["chain"][0] == v and x["chain"][-1] == e
                assert not onto[e].get("deprecated")
print(n)
PYEOF
    (( output > 10000 ))
}

@test "make-corpus: gzip level 4 with auto chunks; the h5py writer writes the same contents" {
    cd "$BATS_TEST_TMPDIR"
    small=(--datasets 2 --cells 600 --genes 300:500 --nnz 60 --mess 2 --seed 3 -j 1)
    make-corpus -o g "${small[@]}" --compression none,gzip &
    local pg=$!
    make-corpus -o h "${small[@]}" --compression gzip --writer h5py
    wait $pg
    run -0 --separate-stderr make-corpus --check g/gzip
    run -0 make-corpus --compare g/gzip h
    cmp g/gzip/truth.json <(sed 's/"writer": "h5py"/"writer": "anndata"/' h/truth.json)
    run -0 make-corpus --compare g/none g/gzip
    run -0 $PY -c '
import h5py, sys
with h5py.File(sys.argv[1]) as f:
    d = f["X/data"] if isinstance(f["X"], h5py.Group) else f["X"]
    print(d.compression, d.compression_opts, d.chunks is not None)
with h5py.File(sys.argv[2]) as f:
    d = f["X/data"] if isinstance(f["X"], h5py.Group) else f["X"]
    print(d.compression)' g/gzip/ds000.h5ad g/none/ds000.h5ad
    [[ ${lines[0]} == "gzip 4 True" && ${lines[1]} == "None" ]]
}

@test "test_corpus builds a corpus once and reuses it" {
    export SC_BUILD=$BATS_TEST_TMPDIR/build
    run -0 test_corpus --datasets 2 --cells 400 --genes 200:300 --nnz 40 --mess 1 -j 1
    dir=$output
    [[ -f $dir/truth.json && -f $dir/ds000.h5ad && -f $dir/ds001.h5ad ]]
    touch -d '2000-01-01' "$dir/truth.json"
    run -0 test_corpus --datasets 2 --cells 400 --genes 200:300 --nnz 40 --mess 1 -j 1
    [[ $output == "$dir" && $(stat -c %Y "$dir/truth.json") == 946684800 ]]
}

@test "bench-lib: median, ratio and number formatting" {
    . "$SC_ROOT/scripts/bench-lib.sh"
    [[ $(printf '3\n1\n2\n' | median) == 2 ]]
    [[ $(printf '4\n1\n2\n3\n' | median) == 2.5 ]]
    [[ $(bench_ratio 3 2) == 1.50 && $(bench_ratio n/a 2) == n/a ]]
    [[ $(bench_fmt 277123.4) == 277,000 && $(bench_fmt 0.012345) == 0.0123 && $(bench_fmt n/a) == n/a ]]
    [[ $(bench_rate 1000 4) == 250 ]]
    printf '2\n4\n3\n' > "$BATS_TEST_TMPDIR/times"
    [[ $(bench_mbs 6000000 "$BATS_TEST_TMPDIR/times") == 2 ]]
    run -0 bench_row "what" 1234567 0.5 cells/s 2.00
    [[ $output == $'what\t1,230,000\t0.5\tcells/s\t2.00' ]]
}

@test "bench-corpus: parameters of the small and the full corpus" {
    run -0 env BENCH_SMALL=1 "$SC_ROOT/scripts/bench-corpus" --params
    [[ $output == *"--cells 8000"* && $output == *"--compression none,gzip"* && $output == *"--writer anndata"* ]]
    run -0 env BENCH_SMALL=0 "$SC_ROOT/scripts/bench-corpus" --params
    [[ $output == *"--add-dataset 500000:30000:human --datasets 40 --cells 1000000"* ]]
}
