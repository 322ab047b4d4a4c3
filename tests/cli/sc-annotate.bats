#!/usr/bin/env bats
# sc-annotate: term queries (term, lca, distance, search) on the vendored
# ontologies (issue 5, item 5).
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    # One ontology cache for every test (and the unit tests): the first run
    # parses the files, the others map the cache.
    export XDG_CACHE_HOME=$SC_BUILD/cache
    sc-annotate term CL:0000000 > /dev/null
}

@test "sc-annotate: --help lists the commands, to stdout" {
    run -0 --separate-stderr sc-annotate --help
    [[ $output == "Usage: sc-annotate <command>"* ]]
    for c in term lca distance search; do
        [[ $output == *"  $c "* ]]
    done
    [[ -z $stderr ]]
    run -0 sc-annotate term --help
    [[ $output == "Usage: sc-annotate term [options] <id>..."* ]]
    [[ $output == *"--json"* && $output != *"--ontology"* ]]
    run -0 sc-annotate search -h
    [[ $output == *"--ontology NAME"* ]]
}

@test "sc-annotate: --version names each ontology and its version" {
    run -0 --separate-stderr sc-annotate --version
    [[ ${lines[0]} == "sc-annotate "* ]]
    [[ $output == *"  CL v2025-07-30"* && $output == *"  MONDO v2025-09-02"* ]]
    [[ $output == *"  NCBITaxon 2022-10-06"* ]]
    run -0 sc-annotate lca -V
    [[ $output == *"  UBERON v2025-08-15"* ]]
}

@test "sc-annotate: unknown option, command or ontology is a usage error" {
    run -2 --separate-stderr sc-annotate --no-such-flag
    [[ $stderr == "sc-annotate: "* ]]
    run -2 --separate-stderr sc-annotate term --no-such-flag CL:0000236
    [[ $stderr == "sc-annotate: "* ]]
    run -2 --separate-stderr sc-annotate frobnicate
    [[ $stderr == "sc-annotate: unknown command 'frobnicate'"* ]]
    run -2 --separate-stderr sc-annotate
    [[ $stderr == "sc-annotate: no command given"* ]]
    run -2 --separate-stderr sc-annotate lca CL:0000236
    [[ $stderr == "sc-annotate: lca: expected <id> <id>"* ]]
    run -2 --separate-stderr sc-annotate search --ontology XYZ lung
    [[ $stderr == "sc-annotate: unknown ontology 'XYZ'"* ]]
    [[ -z $output ]]
}

@test "sc-annotate term: B cell" {
    run -0 --separate-stderr sc-annotate term CL:0000236
    [[ -z $stderr ]]
    [[ ${lines[0]} == $'id\tCL:0000236' ]]
    [[ ${lines[1]} == $'label\tB cell' ]]
    [[ ${lines[2]} == $'ontology\tCL\tv2025-07-30' ]]
    [[ $output == *$'\ndeprecated\tfalse\n'* ]]
    [[ $output == *$'\ndepth\t6\n'* ]]
    [[ $output == *$'\nsynonym\tB-lymphocyte\n'* ]]
    [[ $output == *$'\nparent\tCL:0000945\tlymphocyte of B lineage\n'* ]]
    [[ $output == *$'\nancestor\tCL:0000542\t2\tlymphocyte\n'* ]]
    [[ $output == *$'\nancestor\tCL:0000000\t6\tcell\n'* ]]
    [[ $(grep -c $'^ancestor\t' <<< "$output") -eq 10 ]]
}

@test "sc-annotate term: every spelling of an id, and ids from stdin" {
    run -0 sc-annotate term CL:0000236
    local ref=$output
    for id in CL_0000236 cl:0000236 http://purl.obolibrary.org/obo/CL_0000236; do
        run -0 sc-annotate term "$id"
        [[ $output == "$ref" ]]
    done
    run -0 sc-annotate term - <<< $'CL:0000236\n\n# a comment\nUBERON:0002048\tlung'
    [[ $(grep -c $'^id\t' <<< "$output") -eq 2 ]]
    [[ $output == *$'\nlabel\tlung\n'* ]]
    run -0 bash -c 'echo NCBITaxon:9606 | sc-annotate term'
    [[ $output == *$'\nancestor\tNCBITaxon:9605\t1\tHomo\n'* ]]
}

@test "sc-annotate term: obsolete terms and their replacements" {
    run -0 sc-annotate term EFO:0009310
    [[ $output == *$'\ndeprecated\ttrue\n'* ]]
    [[ $output == *$'\nreplaced_by\tEFO:0009899\t10x 3\' v2\n'* ]]
    [[ $output == *$'\nresolves_to\tEFO:0009899\t10x 3\' v2\n'* ]]
    run -0 sc-annotate term MONDO:0000017
    [[ $output == *$'\nresolves_to\tMONDO:0019588\thearing loss, autosomal recessive\n'* ]]
    # a replacement cycle in the real EFO
    run -0 sc-annotate term EFO:0000099
    [[ $output == *$'\nunresolved\treplaced_by cycle: EFO:0000099 -> EFO:0000099\n'* ]]
    run -0 sc-annotate term CL:0000004
    [[ $output == *$'\nconsider\tCL:0000000\tcell\n'* ]]
}

@test "sc-annotate term --json: one object per term" {
    run -0 sc-annotate term --json CL:0000084 EFO:0000972
    [[ ${#lines[@]} -eq 2 ]]
    run -0 jq -r '[.id, .label, .depth, .parents[0].id, .ancestors[0].distance] | @tsv' <<< "${lines[0]}"
    [[ $output == $'CL:0000084\tT cell\t5\tCL:0000542\t1' ]]
    run -0 sc-annotate term -O json EFO:0000972
    run -0 jq -r '[.deprecated, .resolves_to.id, .resolves_to.label] | @tsv' <<< "$output"
    [[ $output == $'true\tCL:0000023\toocyte' ]]
}

@test "sc-annotate term: an unknown id fails with one line" {
    run -1 --separate-stderr sc-annotate term CL:9999999
    [[ $stderr == "sc-annotate: error: unknown term 'CL:9999999'" ]]
    [[ -z $output ]]
    run -1 --separate-stderr sc-annotate term CL:0000236 not-an-id
    [[ $stderr == "sc-annotate: error: not an ontology term id: 'not-an-id'" ]]
}

@test "sc-annotate lca and distance: B cell and T cell meet at lymphocyte" {
    run -0 --separate-stderr sc-annotate lca CL:0000236 CL:0000084
    [[ $output == $'CL:0000542\tlymphocyte\t2\t1' ]]
    [[ -z $stderr ]]
    run -0 sc-annotate distance CL:0000236 CL:0000084
    [[ $output == 3 ]]
    run -0 sc-annotate distance cl_0000084 CL:0000236
    [[ $output == 3 ]]
    run -0 sc-annotate distance CL:0000236 CL:0000236
    [[ $output == 0 ]]
    run -0 sc-annotate distance CL:0000236 CL:0000542
    [[ $output == 2 ]]
    run -0 sc-annotate lca --json CL:0000236 CL:0000084
    run -0 jq -r '[.distance, .lca[0].id, .lca[0].distance_a, .lca[0].distance_b] | @tsv' <<< "$output"
    [[ $output == $'3\tCL:0000542\t2\t1' ]]
}

@test "sc-annotate lca and distance: no common ancestor" {
    run -0 --separate-stderr sc-annotate distance CL:0000236 UBERON:0002048
    [[ $output == -1 ]]
    [[ $stderr == *"warning: 'CL:0000236' and 'UBERON:0002048' have no common ancestor"* ]]
    run -0 --separate-stderr sc-annotate lca CL:0000236 UBERON:0002048
    [[ -z $output ]]
}

@test "sc-annotate search: ranked suggestions with tiers" {
    run -0 sc-annotate search -n 3 B cell
    [[ ${#lines[@]} -eq 3 ]]
    [[ ${lines[0]} == $'1.000\tlabel\tCL:0000236\tB cell\tB cell' ]]
    run -0 sc-annotate search -n 1 --ontology cl b cells
    [[ ${lines[0]} == $'0.800\ttoken\tCL:0000236\tB cell\tB cell' ]]
    run -0 sc-annotate search -n 1 LUNG
    [[ ${lines[0]} == $'0.950\tlabel-ci\tUBERON:0002048\tlung\tlung' ]]
    run -0 sc-annotate search -n 1 type II pneumocyte
    [[ ${lines[0]} == $'0.900\tsynonym\tCL:0002063\tpulmonary alveolar type 2 cell\ttype II pneumocyte' ]]
    run -0 sc-annotate search -n 1 lymphocite
    [[ ${lines[0]} == *$'\tfuzzy\tCL:0000542\tlymphocyte\tlymphocyte' ]]
    run -0 sc-annotate search -n 5 --ontology UBERON lung
    [[ $(cut -f3 <<< "$output" | grep -vc '^UBERON:') -eq 0 ]]
    run -0 sc-annotate search --json -n 2 male
    run -0 jq -r '.[0] | [.id, .tier, .score] | @tsv' <<< "$output"
    [[ $output == $'PATO:0000384\tlabel\t1' ]]
}

@test "sc-annotate: -o FILE writes the file and nothing on stdout" {
    run -0 sc-annotate lca -o "$BATS_TEST_TMPDIR/lca.tsv" CL:0000236 CL:0000084
    [[ -z $output ]]
    [[ $(cat "$BATS_TEST_TMPDIR/lca.tsv") == $'CL:0000542\tlymphocyte\t2\t1' ]]
    [[ -z $(ls "$BATS_TEST_TMPDIR" | grep tmp) ]]
}

@test "sc-annotate: -o /dev/full and a full stdout fail with a message" {
    run -1 --separate-stderr sc-annotate term -o /dev/full CL:0000236
    [[ $stderr == "sc-annotate: error: cannot write '/dev/full': No space left on device" ]]
    [[ -c /dev/full ]]
    run -1 --separate-stderr bash -c 'sc-annotate term CL:0000236 > /dev/full'
    [[ $stderr == *"sc-annotate: error: cannot write to standard output"* ]]
}

@test "sc-annotate: missing reference data is an error naming the place" {
    run -1 --separate-stderr sc-annotate term --share "$BATS_TEST_TMPDIR/none" CL:0000236
    [[ $stderr == "sc-annotate: error: cannot read directory '$BATS_TEST_TMPDIR/none/ontology/"* ]]
    SC_SHARE=$BATS_TEST_TMPDIR/none2 run -1 --separate-stderr sc-annotate term CL:0000236
    [[ $stderr == *"$BATS_TEST_TMPDIR/none2/ontology/"* ]]
}

@test "sc-annotate: the cache is built once, --no-cache leaves none" {
    export XDG_CACHE_HOME=$BATS_TEST_TMPDIR/xdg
    run -0 sc-annotate term --no-cache CL:0000236
    [[ ! -e $XDG_CACHE_HOME ]]
    run -0 --separate-stderr sc-annotate term -v --cache "$BATS_TEST_TMPDIR/c" CL:0000236
    [[ $stderr == *"(0 from the cache)"* ]]
    [[ $(ls "$BATS_TEST_TMPDIR/c" | grep -c '\.onto$') -eq 9 ]]
    run -0 --separate-stderr sc-annotate term -v --cache "$BATS_TEST_TMPDIR/c" CL:0000236
    [[ $stderr == *"(9 from the cache)"* ]]
    # a damaged cache file is rebuilt, and the answer is the same
    for f in "$BATS_TEST_TMPDIR"/c/CL-*.onto; do
        printf 'garbage' | dd of="$f" bs=1 seek=5000 conv=notrunc 2> /dev/null
    done
    run -0 --separate-stderr sc-annotate lca -v --cache "$BATS_TEST_TMPDIR/c" CL:0000236 CL:0000084
    [[ $output == $'CL:0000542\tlymphocyte\t2\t1' ]]
    [[ $stderr == *"(8 from the cache)"* ]]
}

@test "sc-annotate --latest: the newer ontology versions" {
    run -0 sc-annotate term --latest --json CL:0000236
    run -0 jq -r .version <<< "$output"
    [[ $output == v2026-03-26 ]]
}

# ---- annotate, validate, export (issue 5, items 2-4) ----

corpus() {
    test_corpus --datasets 12 --cells 6000 --genes 1500:3000 --nnz 300 \
        --mess 3 --seed 7 --min-mapped-genes 1000
}

@test "sc-annotate: --help lists annotate, validate and export" {
    run -0 sc-annotate --help
    for c in annotate validate export; do
        [[ $output == *"  $c "* ]]
    done
    run -0 sc-annotate annotate --help
    [[ ${lines[0]} == "Usage: sc-annotate annotate [options] -d DIR [<in.h5ad>...]" ]]
    [[ $output == *"--mapping FILE"* && $output == *"--keep-going"* ]]
    run -0 sc-annotate export --help
    [[ $output == *"--fields LIST"* && $output != *"--mapping"* ]]
}

@test "sc-annotate annotate: usage errors and a missing input" {
    run -2 --separate-stderr sc-annotate annotate x.h5ad
    [[ $stderr == "sc-annotate: annotate: no output directory (-d DIR)"* ]]
    run -2 --separate-stderr sc-annotate annotate -d "$BATS_TEST_TMPDIR" --column colour=x x.h5ad
    [[ $stderr == *"unknown field 'colour'"* ]]
    run -1 --separate-stderr sc-annotate annotate -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/missing.h5ad"
    [[ $stderr == "sc-annotate: error: "*"missing.h5ad"* ]]
    [[ ! -e $BATS_TEST_TMPDIR/o/missing.h5ad ]]
}

@test "sc-annotate annotate: the messy corpus maps right or not at all" {
    local c
    c=$(corpus)
    run -0 --separate-stderr sc-annotate annotate --dry-run -d "$BATS_TEST_TMPDIR/r" "$c"/ds*.h5ad
    [[ ${lines[0]} == path$'\t'status* ]]
    run -0 "$PY" "$SC_ROOT/tests/annotate/check_corpus.py" "$c/truth.json" "$BATS_TEST_TMPDIR/r"
    echo "$output" >&2
    [[ $output == *$'\nall\t'* ]]
    [[ $output != *WRONG* ]]
}

@test "sc-annotate annotate: term and label columns, author column, provenance" {
    local c in
    c=$(corpus)
    # an author-style dataset: a free-text cell type column
    in=$("$PY" -c '
import json, sys
t = json.load(open(sys.argv[1]))
print([d["file"] for d in t["datasets"] if d["style"] == "author"][0])' "$c/truth.json")
    export SOURCE_DATE_EPOCH=1700000000
    run -0 --separate-stderr sc-annotate annotate -d "$BATS_TEST_TMPDIR/o" "$c/$in"
    [[ ${#lines[@]} == 2 && ${lines[1]} == "$BATS_TEST_TMPDIR/o/"*$'\tok\t'* ]]
    run -0 "$PY" -c '
import anndata, json, sys
a = anndata.read_h5ad(sys.argv[1])
o = a.obs
assert "cell_type_ontology_term_id" in o and "cell_type" in o, list(o)
assert str(o["cell_type_ontology_term_id"].dtype) == "category"
ids = set(o["cell_type_ontology_term_id"])
assert all(i == "unknown" or i.startswith("CL:") for i in ids), ids
p = a.uns["provenance"]
step = p[str(len(p) - 1)]
assert step["tool"] == "sc-annotate" and len(step["input_sha256"]) == 64, step
assert step["time"] == "2023-11-14T22:13:20Z", step["time"]
assert "CL" in step["references"]
rep = json.load(open(sys.argv[2]))
ct = rep["fields"]["cell_type"]
assert ct["status"] == "mapped" and ct["n_labels"] == len(ct["labels"])
for l in ct["labels"]:
    assert "tier" in l and "n_cells" in l
    if l["term_id"] is None:
        assert l.get("reason"), l
print(ct["column"], ct["n_mapped"], ct["n_labels"])
' "$BATS_TEST_TMPDIR/o/${in%.h5ad}.h5ad" "$BATS_TEST_TMPDIR/o/${in%.h5ad}.annotate.json"
    echo "$output" >&2
}

@test "sc-annotate annotate: a user mapping overrides; the labels TSV is one" {
    local c in
    c=$(corpus)
    in=$("$PY" -c '
import json, sys
t = json.load(open(sys.argv[1]))
print([d["file"] for d in t["datasets"] if d["style"] == "author"][0])' "$c/truth.json")
    run -0 sc-annotate annotate --dry-run -d "$BATS_TEST_TMPDIR/a" "$c/$in"
    labels=$BATS_TEST_TMPDIR/a/${in%.h5ad}.labels.tsv
    [[ $(head -1 "$labels") == $'field\tlabel\tterm_id\tterm_label\ttier\tn_cells\tcandidates\tevidence' ]]
    # a curator fills in every cell type: all to T cell
    awk -F'\t' 'BEGIN{OFS="\t"} NR==1 || $1=="cell_type" {if (NR>1) $3="CL:0000084"; print}' \
        "$labels" > "$BATS_TEST_TMPDIR/fix.tsv"
    run -0 sc-annotate annotate --dry-run -m "$BATS_TEST_TMPDIR/fix.tsv" -d "$BATS_TEST_TMPDIR/b" "$c/$in"
    run -0 awk -F'\t' '$1=="cell_type" && ($3!="CL:0000084" || $5!="user")' \
        "$BATS_TEST_TMPDIR/b/${in%.h5ad}.labels.tsv"
    [[ -z $output ]]
    printf 'cell_type:\n  whatever: CL:0000084\n' > "$BATS_TEST_TMPDIR/m.yaml"
    run -0 sc-annotate annotate --dry-run -m "$BATS_TEST_TMPDIR/m.yaml" -d "$BATS_TEST_TMPDIR/c" "$c/$in"
    printf 'cell_type:\n  whatever: CL:9999999\n' > "$BATS_TEST_TMPDIR/bad.yaml"
    run -1 --separate-stderr sc-annotate annotate --dry-run -m "$BATS_TEST_TMPDIR/bad.yaml" -d "$BATS_TEST_TMPDIR/c" "$c/$in"
    [[ $stderr == *"bad.yaml' line 2"*"CL:9999999"* ]]
}

@test "sc-annotate annotate: a manifest on stdin, -k with a bad dataset, /dev/full" {
    local c
    c=$(corpus)
    printf 'path\tid\n%s\tA\n%s\tB\n' "$c/ds000.h5ad" "$BATS_TEST_TMPDIR/nope.h5ad" > "$BATS_TEST_TMPDIR/m.tsv"
    run -3 --separate-stderr sc-annotate annotate -k --dry-run -d "$BATS_TEST_TMPDIR/k" - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ ${lines[0]} == $'path\tid\tstatus'* ]]
    [[ ${lines[1]} == *$'\tA\tok\t'* ]]
    [[ ${lines[2]} == *$'\tB\tfailed\t'*"nope.h5ad"* ]]
    [[ $stderr == *"1 of 2 datasets failed"* ]]
    run -1 --separate-stderr sc-annotate annotate --dry-run -d "$BATS_TEST_TMPDIR/k" - < "$BATS_TEST_TMPDIR/m.tsv"
    run -1 --separate-stderr sc-annotate annotate --dry-run -d "$BATS_TEST_TMPDIR/f" -o /dev/full "$c/ds000.h5ad"
    [[ $stderr == "sc-annotate: "*"/dev/full"* || $stderr == "sc-annotate: "*"space"* ]]
    run -0 sc-annotate annotate --dry-run -d "$BATS_TEST_TMPDIR/f" -o "$BATS_TEST_TMPDIR/out.tsv" "$c/ds000.h5ad"
    [[ -z $output && $(wc -l < "$BATS_TEST_TMPDIR/out.tsv") == 2 ]]
}

@test "sc-annotate validate: the CELLxGENE sample is valid, broken copies are not" {
    local v=$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad
    run -0 --separate-stderr sc-annotate validate "$v"
    # the zero-observation categories of tissue_type and the short var: the
    # real validator's four warnings
    [[ ${lines[-1]} == "$v: valid (0 errors, 4 warnings)" ]]
    run -0 sc-annotate validate -O json "$v"
    [[ $output == *'"valid":true'* ]]
    "$PY" - "$v" "$BATS_TEST_TMPDIR" <<'PYEOF'
import sys, anndata, pandas as pd
a = anndata.read_h5ad(sys.argv[1]); d = sys.argv[2]
b = a.copy(); b.uns["organism_ontology_term_id"] = "NCBITaxon:10090"
b.obs["self_reported_ethnicity_ontology_term_id"] = pd.Categorical(["na", "na"])
b.write_h5ad(d + "/mouse_hsapdv.h5ad")
c = a.copy()
c.obs["disease_ontology_term_id"] = pd.Categorical(["MONDO:0100096 || MONDO:0005148"] * 2)
c.obs["cell_type_ontology_term_id"] = pd.Categorical(["CL:0000003", "CL:0000255"])
c.obs["cell_type"] = pd.Categorical(["x", "y"])
c.write_h5ad(d + "/bad.h5ad")
PYEOF
    run -1 --separate-stderr sc-annotate validate "$BATS_TEST_TMPDIR/mouse_hsapdv.h5ad"
    [[ $output == *"ERROR: 'HsapDv:0000003' in 'development_stage_ontology_term_id' is not a valid ontology term id of 'MmusDv'."* ]]
    [[ $stderr == "sc-annotate: error: 1 of 1 datasets not valid" ]]
    run -1 sc-annotate validate "$BATS_TEST_TMPDIR/bad.h5ad"
    [[ $output == *"'CL:0000003' in 'cell_type_ontology_term_id' is a deprecated term id of 'CL'."* ]]
    [[ $output == *"'CL:0000255' in 'cell_type_ontology_term_id' is not allowed."* ]]
    [[ $output == *"is not in ascending lexical order."* ]]
    [[ $output == *"WARNING: Column 'cell_type' in dataframe 'obs' has 'x'"* ]]
    run -1 sc-annotate validate --submission "$BATS_TEST_TMPDIR/bad.h5ad"
    [[ $output == *"ERROR: Add labels error: Column 'cell_type' is a reserved column name of 'obs'."* ]]
    run -1 --separate-stderr sc-annotate validate "$BATS_TEST_TMPDIR/missing.h5ad"
    [[ $stderr == "sc-annotate: error: "*"missing.h5ad"* ]]
}

@test "sc-annotate validate: sc-harmonize outputs of schema-7 style datasets" {
    command -v sc-harmonize > /dev/null || skip "sc-harmonize not built"
    local c
    c=$(corpus)
    sc-harmonize --min-cells 1 --min-mapped-genes 1 --min-genes 1 \
        -d "$BATS_TEST_TMPDIR/h" "$c"/ds*.h5ad > "$BATS_TEST_TMPDIR/h.tsv" 2> /dev/null
    for f in "$BATS_TEST_TMPDIR"/h/*.h5ad; do
        sc-annotate validate -O json "$f" >> "$BATS_TEST_TMPDIR/v.json" 2> /dev/null || true
    done
    run -0 "$PY" - "$c/truth.json" "$BATS_TEST_TMPDIR/v.json" <<'PYEOF'
import json, os, sys
t = {d["name"]: d for d in json.load(open(sys.argv[1]))["datasets"]}
n = 0
for line in open(sys.argv[2]):
    v = json.loads(line)
    d = t[os.path.basename(v["path"])[:-5]]
    if d["style"] != "cxg7":
        continue
    # the synthetic corpus has no embedding: the only error allowed
    errs = [e for e in v["errors"] if "embedding" not in e]
    assert not errs, (v["path"], errs)
    n += 1
print(n, "schema-7 style outputs valid but for the embedding")
PYEOF
    echo "$output" >&2
}

@test "sc-annotate export: vocabularies, hierarchy and distances load in Python" {
    local c
    c=$(corpus)
    sc-harmonize --help > /dev/null 2>&1 || true
    run -0 --separate-stderr sc-annotate annotate --dry-run -d "$BATS_TEST_TMPDIR/a" "$c"/ds*.h5ad
    ls "$c"/ds*.h5ad | sed '1i path' > "$BATS_TEST_TMPDIR/m.tsv"
    run -0 --separate-stderr sc-annotate export --coarse --fields cell_type,tissue,sex -d "$BATS_TEST_TMPDIR/x" - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ ${lines[0]} == $'field\tn_terms_used\tn_leaves\tn_parents\tn_cells\tn_unknown' ]]
    [[ ${lines[1]} == cell_type$'\t'* ]]
    run -0 "$PY" - "$BATS_TEST_TMPDIR/x" <<'PYEOF'
import csv, sys, numpy as np
d = sys.argv[1]
for f in ("cell_type", "tissue", "sex"):
    rows = list(csv.DictReader(open("%s/vocab_%s.tsv" % (d, f)), delimiter="\t"))
    assert rows[0]["code"] == "-1" and rows[0]["term_id"] == "unknown"
    codes = [int(r["code"]) for r in rows[1:]]
    assert codes == list(range(len(codes)))
    leaf = [r["is_leaf"] == "1" for r in rows[1:]]
    nl = sum(leaf)
    assert all(leaf[:nl]) and not any(leaf[nl:]), "leaves first"
    D = np.load("%s/distance_%s.npy" % (d, f)); L = np.load("%s/lca_%s.npy" % (d, f))
    H = np.load("%s/hierarchy_%s.npy" % (d, f))
    n = len(codes)
    assert D.shape == (n, n) and D.dtype == np.int16 and (D == D.T).all()
    assert (np.diag(D) == 0).all() and L.dtype == np.int32
    assert H.shape == (n - nl, nl) and H.dtype == np.uint8
    # every leaf has a parent, unless it is a root
    for r in csv.DictReader(open("%s/hierarchy_%s.tsv" % (d, f)), delimiter="\t"):
        assert H[int(r["parent_code"]) - nl, int(r["leaf_code"])] == 1
ids = {r["term_id"]: int(r["code"]) for r in csv.DictReader(open(d + "/vocab_cell_type.tsv"), delimiter="\t")}
print(len(ids), "cell type codes")
PYEOF
    echo "$output" >&2
}

@test "sc-annotate export: B cell and T cell meet at lymphocyte, distance 3" {
    "$PY" - "$BATS_TEST_TMPDIR/bt.h5ad" <<'PYEOF'
import sys, anndata, numpy as np, pandas as pd
obs = pd.DataFrame({"cell_type_ontology_term_id": pd.Categorical(
    ["CL:0000236", "CL:0000084", "CL:0000084", "unknown"])},
    index=["a", "b", "c", "d"])
anndata.AnnData(X=np.zeros((4, 2), dtype=np.float32), obs=obs).write_h5ad(sys.argv[1])
PYEOF
    run -0 sc-annotate export --fields cell_type -d "$BATS_TEST_TMPDIR/x" "$BATS_TEST_TMPDIR/bt.h5ad"
    run -0 cat "$BATS_TEST_TMPDIR/x/distance_cell_type.tsv"
    [[ ${lines[0]} == $'code_a\tcode_b\tdistance\tlca_code\tlca_id' ]]
    [[ ${lines[1]} == $'0\t1\t3\t'*$'\tCL:0000542' ]]
    run -0 grep -c $'\t1\t' "$BATS_TEST_TMPDIR/x/vocab_cell_type.tsv"
    run -0 head -4 "$BATS_TEST_TMPDIR/x/vocab_cell_type.tsv"
    [[ ${lines[1]} == $'-1\tunknown\tunknown\t0\t-1\t1' ]]
    [[ ${lines[2]} == $'0\tCL:0000084\tT cell\t1\t'*$'\t2' ]]
    [[ ${lines[3]} == $'1\tCL:0000236\tB cell\t1\t'*$'\t1' ]]
}

@test "sc-annotate annotate: columns from a YAML settings file; flags win" {
    local c in
    c=$(corpus)
    in=$("$PY" -c '
import json, sys
t = json.load(open(sys.argv[1]))
print([d["file"] for d in t["datasets"] if d["style"] == "author"][0])' "$c/truth.json")
    printf 'sc-annotate:\n  column: [cell_type=leiden, tissue=]\n  suggestions: 0\n' > "$BATS_TEST_TMPDIR/s.yaml"
    run -0 sc-annotate annotate -c "$BATS_TEST_TMPDIR/s.yaml" --dry-run -d "$BATS_TEST_TMPDIR/o" "$c/$in"
    rep=$BATS_TEST_TMPDIR/o/${in%.h5ad}.annotate.json
    run -0 "$PY" -c 'import json,sys; f=json.load(open(sys.argv[1]))["fields"]; print(f["cell_type"]["column"], "tissue" in f)' "$rep"
    [[ $output == "leiden False" ]]
    SC_CONFIG=$BATS_TEST_TMPDIR/s.yaml run -0 sc-annotate annotate --column cell_type=nothing --dry-run -d "$BATS_TEST_TMPDIR/o" "$c/$in"
    run -0 "$PY" -c 'import json,sys; f=json.load(open(sys.argv[1]))["fields"]; print(f["cell_type"]["column"])' "$rep"
    [[ $output != leiden ]]
    printf 'sc-annotate:\n  colour: red\n' > "$BATS_TEST_TMPDIR/bad.yaml"
    run -2 --separate-stderr sc-annotate term -c "$BATS_TEST_TMPDIR/bad.yaml" CL:0000236
    [[ $stderr == *"unknown key 'colour'"* ]]
}

@test "sc-annotate annotate --submission --pca --default: outputs that pass validate --submission" {
    command -v sc-harmonize > /dev/null || skip "sc-harmonize not built"
    local c h=$BATS_TEST_TMPDIR/h s=$BATS_TEST_TMPDIR/s
    c=$(corpus)
    sc-harmonize --min-cells 1 --min-mapped-genes 1 --min-genes 1 \
        -d "$h" "$c"/ds000.h5ad "$c"/ds001.h5ad "$c"/ds002.h5ad > /dev/null 2>&1
    # without them: no embedding, the portal's label columns
    run -0 sc-annotate annotate -q -d "$BATS_TEST_TMPDIR/plain" "$h"/ds000.h5ad
    run -1 sc-annotate validate --submission "$BATS_TEST_TMPDIR/plain/ds000.h5ad"
    [[ $output == *"At least one embedding in 'obsm'"* ]]
    [[ $output == *"Column 'cell_type' is a reserved column name of 'obs'"* ]]
    [[ $output == *"Column 'feature_name' is a reserved column name of 'var'"* ]]
    run -0 sc-annotate annotate -q --pca 5 --submission --default donor_id=donor-1 \
        --default is_primary_data=true --default suspension_type=cell -d "$s" "$h"/ds00[012].h5ad
    run -0 sc-annotate validate --submission "$s/ds000.h5ad"
    # the others keep one error: unmapped disease labels written 'unknown',
    # which the user curates (-m)
    run -1 sc-annotate validate --submission "$s/ds001.h5ad"
    [[ $(printf '%s\n' "$output" | grep -c ERROR) -eq 1 ]]
    [[ $output == *"ERROR: 'unknown' in 'disease_ontology_term_id'"* ]]
    "$PY" - "$h/ds000.h5ad" "$s/ds000.h5ad" "$s/ds000.annotate.json" <<'PYEOF'
import json, sys, anndata, numpy as np
a, b = anndata.read_h5ad(sys.argv[1]), anndata.read_h5ad(sys.argv[2])
rep = json.load(open(sys.argv[3]))
assert rep["embedding"] == {"obsm": "X_pca", "components": 5}, rep.get("embedding")
assert any("obs['cell_type']" in r for r in rep["submission"]), rep["submission"]
for col in ("cell_type", "tissue", "assay"):
    assert col not in b.obs.columns, col
assert "feature_name" not in b.var.columns and "schema_version" not in b.uns
pcs = b.obsm["X_pca"]
assert pcs.shape == (a.n_obs, 5) and pcs.dtype == np.float32
# the same components as numpy's SVD of the log-normalised, centred counts
x = a.X.toarray().astype(np.float64)
x = np.log1p(x / x.sum(axis=1, keepdims=True) * 1e4)
x -= x.mean(axis=0)
u, s, vt = np.linalg.svd(x, full_matrices=False)
for k in range(2):
    r = abs(np.corrcoef(u[:, k] * s[k], pcs[:, k])[0, 1])
    assert r > 0.99, (k, r)
PYEOF
}

@test "sc-annotate annotate: --default sets only what is missing; a suspension_type the assay forbids is replaced" {
    local v=$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad
    "$PY" - "$v" "$BATS_TEST_TMPDIR/in.h5ad" <<'PYEOF'
import sys, anndata, pandas as pd
a = anndata.read_h5ad(sys.argv[1])
a.obs["assay_ontology_term_id"] = pd.Categorical(["EFO:0030059"] * 2)  # 10x multiome
a.obs["suspension_type"] = pd.Categorical(["cell"] * 2)
del a.obs["is_primary_data"]
a.write_h5ad(sys.argv[2])
PYEOF
    run -1 sc-annotate validate "$BATS_TEST_TMPDIR/in.h5ad"
    [[ $output == *"'suspension_type' in dataframe 'obs' contains invalid values 'cell'"* ]]
    run -0 sc-annotate annotate -q --default donor_id=other --default is_primary_data=false \
        -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/in.h5ad"
    run -0 "$PY" -c 'import sys, anndata, json
a = anndata.read_h5ad(sys.argv[1]); r = json.load(open(sys.argv[2]))
print(sorted(set(a.obs.donor_id)), sorted(set(a.obs.suspension_type)), sorted(set(a.obs.is_primary_data)),
      r["filled"]["suspension_type"]["n_cells"], r["filled"]["is_primary_data"]["by"])' \
        "$BATS_TEST_TMPDIR/o/in.h5ad" "$BATS_TEST_TMPDIR/o/in.annotate.json"
    [[ $output == "['donor_1'] ['nucleus'] [False] 2 default" ]]
    run -2 sc-annotate annotate --pca 1 -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/in.h5ad"
    [[ $output == *"--pca"* ]]
}
