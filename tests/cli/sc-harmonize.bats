#!/usr/bin/env bats
# sc-harmonize: the common CLI cases (style.md §7), the messy corpus against
# its truth file (tests/cli/harmonize-check.py), the real samples,
# idempotence, settings files, bad input and -k.
# SPDX-License-Identifier: MIT

load helpers

CHECK=$SC_ROOT/tests/cli/harmonize-check.py
SAMPLE=$SC_TEST_DATA/10x_h5/cellranger3_filtered_feature_bc_matrix.h5
# thresholds small enough for the tiny real samples
SMALL=(--min-cells 1 --min-mapped-genes 1 --min-genes 1)

# A messy corpus (every kind of gene and metadata mess, and refusals); the
# truth was computed with --min-mapped-genes 1000.
corpus() {
    test_corpus --datasets 12 --cells 6000 --genes 1500:3000 --nnz 300 \
        --mess 3 --seed 7 --min-mapped-genes 1000
}

# ---- common options ----

@test "sc-harmonize: --help prints the usage to stdout" {
    run -0 --separate-stderr sc-harmonize --help
    [[ ${lines[0]} == "Usage: sc-harmonize [options] [<file>...]" ]]
    [[ $output == *"--min-genes N"* && $output == *"[200]"* ]]
    [[ $output == *"--min-mapped-genes N"* && $output == *"[10000]"* ]]
    [[ -z $stderr ]]
    local line
    for line in "${lines[@]}"; do
        [[ ${#line} -le 80 ]] || {
            echo "longer than 80 columns: $line"
            return 1
        }
    done
}

@test "sc-harmonize: --version" {
    run -0 sc-harmonize --version
    [[ $output == "sc-harmonize "* ]]
    [[ $output == *"genes homo_sapiens GENCODE 48"* ]]
    [[ $output == *"genes mus_musculus GENCODE M37"* ]]
    [[ $output == *"CL v"* ]]
}

@test "sc-harmonize: one ontology set per run, the same as sc-annotate's (the schema's pins unless SC_ONTOLOGIES=latest)" {
    local tool v
    for tool in sc-harmonize sc-annotate sc-register; do
        run -0 "$tool" --version
        v=$(grep '^  CL v' <<< "$output")
        [[ $v == "  CL v2025-07-30" ]]
        SC_ONTOLOGIES=latest run -0 "$tool" --version
        v=$(grep '^  CL v' <<< "$output")
        [[ $v == "  CL v2026-03-26" ]]
    done
    SC_ONTOLOGIES=latest run -0 sc-annotate term --json CL:0000236
    run -0 jq -r .version <<< "$output"
    [[ $output == v2026-03-26 ]]
}

@test "sc-harmonize: an unknown option is a usage error" {
    run -2 --separate-stderr sc-harmonize --no-such-flag
    [[ $stderr == "sc-harmonize: "* ]]
    [[ $stderr == *"Try 'sc-harmonize --help'."* ]]
}

@test "sc-harmonize: a bad number is a usage error" {
    run -2 --separate-stderr sc-harmonize --min-genes lots x.h5ad
    [[ $stderr == *"min-genes"* ]]
}

@test "sc-harmonize: a missing input fails with its name" {
    run -1 --separate-stderr sc-harmonize -d "$BATS_TEST_TMPDIR" \
        "$BATS_TEST_TMPDIR/nope.h5ad"
    [[ $stderr == "sc-harmonize: error: "*"nope.h5ad"* ]]
}

@test "sc-harmonize: '-' reads a manifest on stdin and keeps its columns" {
    printf 'path\tid\n%s\tX1\n' "$SAMPLE" > "$BATS_TEST_TMPDIR/in.tsv"
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR/o" - \
        < "$BATS_TEST_TMPDIR/in.tsv"
    [[ ${lines[0]} == "path	id	status	reason	organism	n_obs	n_vars	report	source" ]]
    [[ ${lines[1]} == "$BATS_TEST_TMPDIR/o/cellranger3_filtered_feature_bc_matrix.h5ad	X1	ok		NCBITaxon:9606	1107	482	"* ]]
    # no operand and stdin not a terminal: the same
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR/o" \
        < "$BATS_TEST_TMPDIR/in.tsv"
    [[ ${lines[1]} == *"	X1	ok	"* ]]
}

@test "sc-harmonize: writing the manifest to /dev/full fails" {
    run -1 --separate-stderr bash -c 'sc-harmonize "$@" > /dev/full' _ \
        "${SMALL[@]}" -d "$BATS_TEST_TMPDIR" "$SAMPLE"
    [[ $stderr == "sc-harmonize: error: "* ]]
}

@test "sc-harmonize: an unwritable output directory fails" {
    run -1 --separate-stderr sc-harmonize -d /proc/no/such "$SAMPLE"
    [[ $stderr == "sc-harmonize: error: "* ]]
}

@test "sc-harmonize: -k records a failed dataset, goes on, exits 3" {
    local bad=$SC_TEST_DATA/bad/indptr-not-monotone.h5ad
    run -3 --separate-stderr sc-harmonize -k "${SMALL[@]}" -d "$BATS_TEST_TMPDIR" \
        "$bad" "$SAMPLE"
    [[ ${lines[1]} == "$bad	failed	"* ]]
    [[ ${lines[2]} == *"	ok	"* ]]
    [[ $stderr == *"1 dataset failed"* ]]
    # without -k the run stops at the failure
    run -1 --separate-stderr sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR/2" \
        "$bad" "$SAMPLE"
    [[ ${#lines[@]} -eq 2 ]]
    [[ $stderr == "sc-harmonize: error: "*"indptr"* ]]
    [[ ! -e $BATS_TEST_TMPDIR/2/cellranger3_filtered_feature_bc_matrix.h5ad ]]
}

@test "sc-harmonize: every malformed sample fails cleanly, nothing left" {
    local f
    for f in "$SC_TEST_DATA"/bad/*.h5ad; do
        run -1 --separate-stderr sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR" "$f"
        [[ $stderr == "sc-harmonize: error: "* ]] || { echo "$f: $stderr"; return 1; }
    done
    if compgen -G "$BATS_TEST_TMPDIR/*.tmp.*"; then return 1; fi
}

# ---- settings files ----

@test "sc-harmonize: settings file, flags beat it, unknown keys exit 2" {
    printf 'min-genes: 100000\n' > "$BATS_TEST_TMPDIR/s.yaml"
    run -0 --separate-stderr sc-harmonize -c "$BATS_TEST_TMPDIR/s.yaml" \
        --min-cells 1 --min-mapped-genes 1 -d "$BATS_TEST_TMPDIR" "$SAMPLE"
    [[ ${lines[1]} == *"	refused	no_cells_pass_qc	"* ]]
    run -0 --separate-stderr sc-harmonize -c "$BATS_TEST_TMPDIR/s.yaml" \
        "${SMALL[@]}" -d "$BATS_TEST_TMPDIR" "$SAMPLE"
    [[ ${lines[1]} == *"	ok	"* ]]
    # $SC_CONFIG, with a section for the tool
    printf 'sc-harmonize:\n  min_cells: 5000\nsc-fetch:\n  x: 1\n' > "$BATS_TEST_TMPDIR/e.yaml"
    SC_CONFIG=$BATS_TEST_TMPDIR/e.yaml run -0 --separate-stderr sc-harmonize \
        --min-mapped-genes 1 -d "$BATS_TEST_TMPDIR" "$SAMPLE"
    [[ ${lines[1]} == *"	refused	too_few_cells	"* ]]
    printf 'min-genes: 1\nmin-gene: 2\n' > "$BATS_TEST_TMPDIR/bad.yaml"
    run -2 --separate-stderr sc-harmonize -c "$BATS_TEST_TMPDIR/bad.yaml" "$SAMPLE"
    [[ $stderr == *"line 2: unknown key 'min-gene'"* ]]
    [[ -z $output ]]
}

# ---- the messy corpus ----

@test "sc-harmonize: the messy corpus matches its truth file" {
    local c
    c=$(corpus)
    run -0 --separate-stderr sc-harmonize -@ 2 --min-mapped-genes 1000 \
        -d "$BATS_TEST_TMPDIR/out" "$c"/ds*.h5ad
    [[ ${#lines[@]} -eq 13 ]]
    run -0 --separate-stderr /usr/bin/python3 "$CHECK" "$c" "$BATS_TEST_TMPDIR/out"
    echo "$output"
    [[ $output == *"(100.00%); rewrites"*"(100.00%)" ]]
}

@test "sc-harmonize: harmonizing a harmonized file changes nothing" {
    local c
    c=$(corpus)
    run -0 sc-harmonize --no-provenance --min-mapped-genes 1000 \
        -d "$BATS_TEST_TMPDIR/a" "$c"/ds003.h5ad "$c"/ds006.h5ad "$c"/ds001.h5ad
    run -0 sc-harmonize --no-provenance --min-mapped-genes 1000 \
        -d "$BATS_TEST_TMPDIR/b" "$BATS_TEST_TMPDIR"/a/*.h5ad
    run -0 make-corpus --compare "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
    # with provenance, a second run adds one row and nothing else
    run -0 sc-harmonize --min-mapped-genes 1000 -d "$BATS_TEST_TMPDIR/c" \
        "$BATS_TEST_TMPDIR/a/ds003.h5ad"
    run -0 sc-harmonize --min-mapped-genes 1000 -d "$BATS_TEST_TMPDIR/d" \
        "$BATS_TEST_TMPDIR/c/ds003.h5ad"
    run -0 /usr/bin/python3 -c '
import anndata, sys
a, b = (anndata.read_h5ad(p) for p in sys.argv[1:3])
assert (a.X != b.X).nnz == 0 and a.obs.equals(b.obs) and a.var.equals(b.var)
assert list(a.uns["provenance"]) == ["0"] and list(b.uns["provenance"]) == ["0", "1"]
assert b.uns["provenance"]["0"] == a.uns["provenance"]["0"]
print(b.uns["provenance"]["1"]["tool"])' "$BATS_TEST_TMPDIR/c/ds003.h5ad" \
        "$BATS_TEST_TMPDIR/d/ds003.h5ad"
    [[ $output == "sc-harmonize" ]]
}

@test "sc-harmonize: provenance honours SOURCE_DATE_EPOCH and records the input" {
    SOURCE_DATE_EPOCH=86400 run -0 sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR" "$SAMPLE"
    local sha
    sha=$(sha256sum "$SAMPLE" | cut -c1-64)
    run -0 /usr/bin/python3 -c '
import anndata, sys
p = anndata.read_h5ad(sys.argv[1]).uns["provenance"]["0"]
print(p["time"], p["input_sha256"], p["tool"], "GENCODE" in p["references"]["genes_homo_sapiens"],
      p["arguments"].startswith("sc-harmonize "), p["input_path"].endswith(".h5"))' \
        "$BATS_TEST_TMPDIR/cellranger3_filtered_feature_bc_matrix.h5ad"
    [[ $output == "1970-01-02T00:00:00Z $sha sc-harmonize True True True" ]]
}

# ---- the real samples ----

@test "sc-harmonize: real samples harmonize or are refused for the right reason" {
    local out=$BATS_TEST_TMPDIR/real
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" -d "$out" \
        "$SC_TEST_DATA"/h5ad/*.h5ad "$SC_TEST_DATA"/10x_h5/cellranger3_filtered_feature_bc_matrix.h5 \
        "$SC_TEST_DATA"/10x_mtx/cellranger2_hg19_chr21 "$SC_TEST_DATA"/loom/*.loom
    printf '%s\n' "$output" | cut -f2,3 | tail -n +2 > "$BATS_TEST_TMPDIR/got"
    # the analysed scanpy files hold scaled X and log-normalised raw: no
    # counts; the noX archive has no matrix; anndataR's and the v0.7
    # explorer fixture's genes are made-up names; loompy's matrix is random
    # floats
    printf '%s\n' 'refused	too_few_genes' 'refused	no_raw_counts' 'ok	' \
        'refused	too_few_genes' 'ok	' 'refused	no_raw_counts' \
        'refused	no_raw_counts' 'ok	' 'ok	' 'refused	no_raw_counts' \
        > "$BATS_TEST_TMPDIR/want"
    diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
    run -0 /usr/bin/python3 -c '
import anndata, sys, glob
for p in sorted(glob.glob(sys.argv[1] + "/*.h5ad")):
    a = anndata.read_h5ad(p)
    assert "organism_ontology_term_id" in a.uns, p
    assert {"n_genes", "total_counts", "pct_counts_mt", "qc_outlier"} <= set(a.obs), p
    assert {"feature_name", "feature_type", "feature_length"} <= set(a.var), p
    assert all(v.startswith("ENSG") for v in a.var_names), p
print("ok")' "$out"
    [[ $output == ok ]]
}

@test "sc-harmonize: --keep-normalized keeps a dataset without counts, marked" {
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" --keep-normalized \
        -d "$BATS_TEST_TMPDIR" "$SC_TEST_DATA/h5ad/scanpy_pbmc68k_reduced_2025.h5ad"
    [[ ${lines[1]} == *"	ok	"* ]]
    run -0 /usr/bin/python3 -c '
import anndata, sys
print(anndata.read_h5ad(sys.argv[1]).uns["harmonize"]["X"])' \
        "$BATS_TEST_TMPDIR/scanpy_pbmc68k_reduced_2025.h5ad"
    [[ $output == normalized ]]
}

@test "sc-harmonize: --gene-space, --normalize and --orthologs" {
    # the sample's genes reversed, after a gene it does not have
    run -0 sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR/plain" "$SAMPLE"
    run -0 /usr/bin/python3 -c '
import anndata, sys
a = anndata.read_h5ad(sys.argv[1])
print("# panel\nENSG00000000003")
print("\n".join(reversed(list(a.var_names))))' \
        "$BATS_TEST_TMPDIR/plain/cellranger3_filtered_feature_bc_matrix.h5ad"
    printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/space.txt"
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" --normalize \
        --gene-space "$BATS_TEST_TMPDIR/space.txt" -d "$BATS_TEST_TMPDIR" "$SAMPLE"
    run -0 /usr/bin/python3 -c '
import anndata, sys, numpy as np
a = anndata.read_h5ad(sys.argv[1])
b = anndata.read_h5ad(sys.argv[2])
assert list(a.var_names[1:]) == list(reversed(b.var_names))
assert a.X[:, 0].sum() == 0 and a.X.sum() == b.X.sum()
n = a.layers["log1p_norm"]
assert abs(np.expm1(n[0].toarray()).sum() - 1e4) < 1
print(a.var_names[0], a.n_vars)' \
        "$BATS_TEST_TMPDIR/cellranger3_filtered_feature_bc_matrix.h5ad" \
        "$BATS_TEST_TMPDIR/plain/cellranger3_filtered_feature_bc_matrix.h5ad"
    [[ $output == "ENSG00000000003 483" ]]
    # mouse onto human
    local c
    c=$(corpus)
    run -0 --separate-stderr sc-harmonize --min-mapped-genes 500 --orthologs \
        -d "$BATS_TEST_TMPDIR/m" "$c/ds000.h5ad"
    [[ ${lines[1]} == *"	ok	"* ]]
    run -0 /usr/bin/python3 -c '
import anndata, sys
a = anndata.read_h5ad(sys.argv[1])
print(a.uns["organism_ontology_term_id"], a.var_names[0][:4], a.n_vars > 1000)' \
        "$BATS_TEST_TMPDIR/m/ds000.h5ad"
    [[ $output == "NCBITaxon:10090 ENSG True" ]]
}

@test "sc-harmonize: outputs pass sc-annotate's schema checks but the embedding" {
    sc-annotate validate --help > /dev/null 2>&1 || skip "no sc-annotate validate"
    local c
    c=$(corpus)
    # schema-7 and older-schema datasets (the author ones have free-text
    # labels only: mapping them is sc-annotate's job)
    run -0 sc-harmonize --min-mapped-genes 1000 -d "$BATS_TEST_TMPDIR" \
        "$c"/ds000.h5ad "$c"/ds003.h5ad "$c"/ds005.h5ad "$c"/ds006.h5ad
    run -1 --separate-stderr sc-annotate validate "$BATS_TEST_TMPDIR"/ds00*.h5ad
    printf '%s\n' "$output" | grep ERROR | grep -v "embedding in 'obsm'" && return 1
    [[ $(printf '%s\n' "$output" | grep -c ERROR) -eq 4 ]]
    # the inputs had the old-layout errors that were fixed
    run -1 --separate-stderr sc-annotate validate "$c"/ds003.h5ad
    [[ $output == *"deprecated"* ]]
}

# ---- per-term schema checks and the schema-7 HANCESTRO mapping ----

# A human corpus dataset with terms the schema rejects: IN.h5ad in $1.
bad_terms() {
    local c
    c=$(corpus)
    /usr/bin/python3 -c '
import anndata, sys
a = anndata.read_h5ad(sys.argv[1])
o = a.obs
def put(col, rows, v):
    s = o[col].astype(str).values.copy()
    s[rows] = v
    o[col] = s
put("cell_type_ontology_term_id", slice(0, 5), "UBERON:0002048")   # wrong ontology
put("cell_type_ontology_term_id", slice(5, 10), "CL:0000255")      # forbidden
put("disease_ontology_term_id", slice(0, 4), "CL:0000236")         # no unknown
put("sex_ontology_term_id", slice(0, 6), "PATO:0000461")           # not a sex
put("development_stage_ontology_term_id", slice(0, 3), "MmusDv:0000001")
put("self_reported_ethnicity_ontology_term_id", slice(0, 20), "HANCESTRO:0005")
put("assay_ontology_term_id", slice(0, 2), "efo_0002772")          # a root
a.write_h5ad(sys.argv[2])' "$c/ds003.h5ad" "$1/in.h5ad"
}

@test "sc-harmonize: terms the schema rejects become unknown, or are reported" {
    bad_terms "$BATS_TEST_TMPDIR"
    run -0 --separate-stderr sc-harmonize --min-mapped-genes 1000 \
        -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/in.h5ad"
    [[ ${lines[1]} == *"	ok	"* ]]
    run -0 /usr/bin/python3 -c '
import anndata, json, sys
r = json.load(open(sys.argv[1]))
s = r["schema"]
rw = sorted((x["column"].split("_ontology")[0], x["from"], x["to"], x["n_cells"])
            for x in r["rewrites"] if x["rule"] == "schema_invalid")
for x in rw: print(*x)
print(s["n_values_invalid"], s["n_cells_replaced"], s["n_cells_invalid_kept"], s["valid"])
print(sorted((e["column"].split("_ontology")[0], e["value"], e["n_cells_kept"]) for e in s["errors"]
             if e["n_cells_kept"]))
assert all(e["message"] for e in s["errors"])
a = anndata.read_h5ad(sys.argv[2])
o = a.obs
# every changed value keeps its input
bad = ["UBERON:0002048", "CL:0000255", "PATO:0000461", "MmusDv:0000001", "HANCESTRO:0005"]
for col in ("cell_type", "sex", "development_stage", "self_reported_ethnicity"):
    c = col + "_ontology_term_id"
    was = o[c + "__original"].astype(str).isin(bad)
    assert was.any() and (o[c][was] == "unknown").all(), col
assert "CL:0000236" in set(o["disease_ontology_term_id"])
assert "EFO:0002772" in set(o["assay_ontology_term_id"])
print("ok")' "$BATS_TEST_TMPDIR/o/in.report.json" "$BATS_TEST_TMPDIR/o/in.h5ad"
    echo "$output"
    [[ ${lines[0]} == "cell_type CL:0000255 unknown 5" ]]
    [[ ${lines[1]} == "cell_type UBERON:0002048 unknown 5" ]]
    [[ ${lines[2]} == "development_stage MmusDv:0000001 unknown 3" ]]
    [[ ${lines[3]} == "self_reported_ethnicity HANCESTRO:0005 unknown 20" ]]
    [[ ${lines[4]} == "sex PATO:0000461 unknown 6" ]]
    [[ ${lines[5]} == "7 39 6 False" ]]
    [[ ${lines[6]} == "[('assay', 'EFO:0002772', 2), ('disease', 'CL:0000236', 4)]" ]]
    [[ ${lines[7]} == ok ]]
}

@test "sc-harmonize: the schema-7 HANCESTRO mapping of a CELLxGENE dataset id" {
    bad_terms "$BATS_TEST_TMPDIR"
    # a dataset of the mapping: HANCESTRO:0005 -> HANCESTRO:0590 there
    printf 'path\tdataset_id\n%s\te4c9ed14-e560-4900-a3bf-b0f8d2ce6a10\n' \
        "$BATS_TEST_TMPDIR/in.h5ad" > "$BATS_TEST_TMPDIR/m.tsv"
    run -0 --separate-stderr sc-harmonize --min-mapped-genes 1000 \
        -d "$BATS_TEST_TMPDIR/o" - < "$BATS_TEST_TMPDIR/m.tsv"
    run -0 /usr/bin/python3 -c '
import anndata, json, sys
r = json.load(open(sys.argv[1]))
print(r["hancestro_mapping"])
for x in r["rewrites"]:
    if x["from"] == "HANCESTRO:0005":
        print(x["rule"], x["from"], x["to"], x["n_cells"])
o = anndata.read_h5ad(sys.argv[2]).obs
c = "self_reported_ethnicity_ontology_term_id"
print(sorted(set(o[c + "__original"][o[c] == "HANCESTRO:0590"])))' \
        "$BATS_TEST_TMPDIR/o/in.report.json" "$BATS_TEST_TMPDIR/o/in.h5ad"
    echo "$output"
    [[ ${lines[0]} == "e4c9ed14-e560-4900-a3bf-b0f8d2ce6a10" ]]
    [[ ${lines[1]} == "schema7_hancestro_mapping HANCESTRO:0005 HANCESTRO:0590 20" ]]
    [[ ${#lines[@]} -eq 3 ]]
    [[ ${lines[2]} == "['HANCESTRO:0005']" ]]
    # an id the mapping does not know: the schema check applies
    printf 'path\tdataset_id\n%s\tnot-a-known-id\n' "$BATS_TEST_TMPDIR/in.h5ad" \
        > "$BATS_TEST_TMPDIR/m.tsv"
    run -0 --separate-stderr sc-harmonize --min-mapped-genes 1000 \
        -d "$BATS_TEST_TMPDIR/o2" - < "$BATS_TEST_TMPDIR/m.tsv"
    run -0 /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["hancestro_mapping"], [x["to"] for x in r["rewrites"] if x["from"] == "HANCESTRO:0005"])' \
        "$BATS_TEST_TMPDIR/o2/in.report.json"
    [[ $output == "None ['unknown']" ]]
}

@test "sc-harmonize: a term invalid for a non-human dataset becomes na where unknown is not allowed" {
    local c
    c=$(corpus)
    # ds000 is mouse: ethnicity must be "na" there, "unknown" is not allowed
    /usr/bin/python3 -c '
import anndata, sys
a = anndata.read_h5ad(sys.argv[1])
a.obs["self_reported_ethnicity_ontology_term_id"] = "HANCESTRO:0005"
a.write_h5ad(sys.argv[2])' "$c/ds000.h5ad" "$BATS_TEST_TMPDIR/mouse.h5ad"
    run -0 --separate-stderr sc-harmonize --min-mapped-genes 500 \
        -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/mouse.h5ad"
    run -0 /usr/bin/python3 -c '
import anndata, json, sys
r = json.load(open(sys.argv[1]))
print([(x["from"], x["to"]) for x in r["rewrites"] if x["rule"] == "schema_invalid"],
      r["schema"]["organism"], r["schema"]["valid"])
o = anndata.read_h5ad(sys.argv[2]).obs
print(sorted(set(o["self_reported_ethnicity_ontology_term_id"])))' \
        "$BATS_TEST_TMPDIR/o/mouse.report.json" "$BATS_TEST_TMPDIR/o/mouse.h5ad"
    [[ ${lines[0]} == "[('HANCESTRO:0005', 'na')] NCBITaxon:10090 True" ]]
    [[ ${lines[1]} == "['na']" ]]
}

# ---- the mapped-gene threshold by assay ----

@test "sc-harmonize: the mapped-gene threshold depends on the assay" {
    local c
    c=$(corpus)
    # ds003 is 10x 3' v2 (EFO:0009899); MERFISH is a targeted assay
    /usr/bin/python3 -c '
import anndata, sys
a = anndata.read_h5ad(sys.argv[1])
a.obs["assay_ontology_term_id"] = "EFO:0008992"
a.write_h5ad(sys.argv[2])' "$c/ds003.h5ad" "$BATS_TEST_TMPDIR/merfish.h5ad"
    run -0 --separate-stderr sc-harmonize --min-mapped-genes 100000 \
        -d "$BATS_TEST_TMPDIR/o" "$c/ds003.h5ad" "$BATS_TEST_TMPDIR/merfish.h5ad"
    [[ ${lines[1]} == *"	refused	too_few_genes	"* ]]
    [[ ${lines[2]} == *"	ok	"* ]]
    run -0 /usr/bin/python3 -c '
import json, sys
for p in sys.argv[1:]:
    t = json.load(open(p))["mapped_genes_threshold"]
    print(t["assay_class"], t["min_mapped_genes"], t["n_cells_targeted_assay"], t["n_cells_with_assay"])' \
        "$BATS_TEST_TMPDIR/o/ds003.report.json" "$BATS_TEST_TMPDIR/o/merfish.report.json"
    [[ ${lines[0]} == "full_transcriptome 100000 0 386" ]]
    [[ ${lines[1]} == "targeted 1 386 386" ]]
    # the targeted threshold, and the list of targeted assays (descendants
    # count: EFO:0009899 is below 10x technology, EFO:0030080), in a file
    run -0 --separate-stderr sc-harmonize --min-mapped-genes-targeted 100000 \
        -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/merfish.h5ad"
    [[ ${lines[1]} == *"	refused	too_few_genes	"* ]]
    printf 'targeted-assays: efo_0030080\nmin-mapped-genes: 100000\n' > "$BATS_TEST_TMPDIR/s.yaml"
    run -0 --separate-stderr sc-harmonize -c "$BATS_TEST_TMPDIR/s.yaml" \
        -d "$BATS_TEST_TMPDIR/o" "$c/ds003.h5ad"
    [[ ${lines[1]} == *"	ok	"* ]]
    run -2 --separate-stderr sc-harmonize --targeted-assays 'EFO:1,not a term' "$c/ds003.h5ad"
    [[ $stderr == *"not a term"* ]]
}

# ---- layers, obsp, varm, varp ----

@test "sc-harmonize: layers, obsp, varm and varp follow the kept cells and genes" {
    local c
    c=$(corpus)
    # ds006: human, with version and PAR_Y duplicates to sum
    /usr/bin/python3 -c '
import anndata, numpy as np, scipy.sparse as sp, sys
a = anndata.read_h5ad(sys.argv[1])
rng = np.random.default_rng(1)
X = sp.csr_matrix(a.X)
a.layers["spliced"] = X.copy()                      # counts: kept, summed
a.layers["lognorm"] = X.copy(); a.layers["lognorm"].data = np.log1p(X.data) + 0.5
g = sp.random(a.n_obs, a.n_obs, density=0.02, format="csr", random_state=2, dtype=np.float32)
a.obsp["connectivities"] = g
a.obsp["dense"] = g.toarray()
a.varm["PCs"] = rng.normal(size=(a.n_vars, 3)).astype(np.float32)
a.varp["corr"] = sp.random(a.n_vars, a.n_vars, density=0.001, format="csr", random_state=3)
a.write_h5ad(sys.argv[2])' "$c/ds006.h5ad" "$BATS_TEST_TMPDIR/in.h5ad"
    run -0 --separate-stderr sc-harmonize --min-mapped-genes 1000 \
        -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/in.h5ad"
    [[ ${lines[1]} == *"	ok	"* ]]
    [[ $stderr == *"layers['lognorm'] not kept: not raw counts"* ]]
    run -0 /usr/bin/python3 -c '
import anndata, json, numpy as np, sys
a = anndata.read_h5ad(sys.argv[1])
b = anndata.read_h5ad(sys.argv[2])
r = json.load(open(sys.argv[3]))
print(sorted(r["kept"].items()), [d["name"] for d in r["dropped"]])
assert (b.layers["spliced"] != b.X).nnz == 0 and r["genes"]["n_duplicate_entries"] > 0
cells = a.obs_names.get_indexer(b.obs_names)
assert (cells >= 0).all() and len(cells) < a.n_obs
want = a.obsp["connectivities"][cells][:, cells]
assert abs(b.obsp["connectivities"] - want).max() == 0
assert abs(b.obsp["dense"] - want).max() < 1e-6
# the first input entry of each output gene
mapped = r["genes"]["mapped"]
first = {}
for i, g in enumerate(mapped):
    if g is not None and g not in first:
        first[g] = i
rows = [first[g] for g in b.var_names]
assert np.array_equal(b.varm["PCs"], a.varm["PCs"][rows])
assert abs(b.varp["corr"] - a.varp["corr"][rows][:, rows]).max() < 1e-12
print("ok")' "$BATS_TEST_TMPDIR/in.h5ad" "$BATS_TEST_TMPDIR/o/in.h5ad" \
        "$BATS_TEST_TMPDIR/o/in.report.json"
    echo "$output"
    [[ ${lines[0]} == "[('layers', ['spliced']), ('obsp', ['connectivities', 'dense']), ('varm', ['PCs']), ('varp', ['corr'])] ['lognorm']" ]]
    [[ ${lines[1]} == ok ]]
    # genes the input lacks (--gene-space): NaN rows in varm, empty in varp
    run -0 /usr/bin/python3 -c '
import anndata, sys
b = anndata.read_h5ad(sys.argv[1])
print("ENSG00000000003")
print("\n".join(b.var_names[:50]))' "$BATS_TEST_TMPDIR/o/in.h5ad"
    printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/space.txt"
    run -0 --separate-stderr sc-harmonize --min-mapped-genes 1 --min-genes 1 \
        --gene-space "$BATS_TEST_TMPDIR/space.txt" -d "$BATS_TEST_TMPDIR/s" \
        "$BATS_TEST_TMPDIR/in.h5ad"
    run -0 /usr/bin/python3 -c '
import anndata, numpy as np, sys
a = anndata.read_h5ad(sys.argv[1])
b = anndata.read_h5ad(sys.argv[2])
assert b.var_names[0] == "ENSG00000000003" and "ENSG00000000003" not in a.var_names
assert np.isnan(b.varm["PCs"][0]).all() and b.varp["corr"][0].nnz == 0
assert np.array_equal(b.varm["PCs"][1:], a.varm["PCs"][:50])
assert abs(b.varp["corr"][1:, 1:] - a.varp["corr"][:50, :50]).max() < 1e-12
print("ok")' "$BATS_TEST_TMPDIR/o/in.h5ad" "$BATS_TEST_TMPDIR/s/in.h5ad"
    [[ $output == ok ]]
}

@test "sc-harmonize: two inputs of one name: the second is refused in one line, the first kept" {
    cd "$BATS_TEST_TMPDIR"
    mkdir -p a b
    cp "$SAMPLE" a/x.h5
    cp "$SAMPLE" b/x.h5
    run -1 --separate-stderr sc-harmonize "${SMALL[@]}" -d out a/x.h5 b/x.h5
    [[ ${lines[1]} == "out/x.h5ad"$'\t'ok$'\t'* ]]
    [[ ${lines[2]} == "b/x.h5"$'\t'failed$'\t'* ]]
    [[ $stderr == *"sc-harmonize: error: 'b/x.h5': its output 'out/x.h5ad' is also that of 'a/x.h5'" ]]
    [[ $(grep -c "'b/x.h5': its output" <<< "$stderr") -eq 1 ]]
    [[ -s out/x.h5ad ]]
}

@test "sc-harmonize: retired gene ids are dropped unless --keep-retired" {
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR/a" "$SAMPLE"
    [[ $(cut -f6 <<<"${lines[1]}") == 482 ]]
    run -0 $PY -c 'import json,sys; g=json.load(open(sys.argv[1]))["genes"]; print(g["kinds"].get("retired_dropped"))' \
        "$BATS_TEST_TMPDIR/a/cellranger3_filtered_feature_bc_matrix.report.json"
    [[ $output == 10 ]]
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" --keep-retired -d "$BATS_TEST_TMPDIR/k" "$SAMPLE"
    [[ $(cut -f6 <<<"${lines[1]}") == 492 ]]
}

@test "sc-harmonize: an alias, another case or a damaged name never adds into a gene already present" {
    $PY - "$BATS_TEST_TMPDIR/m.h5ad" <<'PYEOF'
import sys, numpy as np, scipy.sparse as sp, anndata, pandas as pd
names = ["TP53", "LFS1", "CD4", "cd4", "7-Sep", "DAC", "1-Mar", "Cd74"]
X = sp.csr_matrix(np.ones((30, len(names)), dtype=np.float32))
a = anndata.AnnData(X=X, var=pd.DataFrame(index=names), obs=pd.DataFrame(index=["c%d" % i for i in range(30)]))
a.write_h5ad(sys.argv[1])
PYEOF
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" --organism human -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/m.h5ad"
    run -0 $PY -c 'import json,sys; g=json.load(open(sys.argv[1]))["genes"]; print(" ".join(g["kind"])); print(g["n_mapped"])' \
        "$BATS_TEST_TMPDIR/o/m.report.json"
    echo "$output"
    [[ ${lines[0]} == "symbol collision symbol collision restored ambiguous_alias ambiguous_restored case" ]]
    [[ ${lines[1]} == 4 ]]
}

# ---- the gene report (DIR/<name>.genes.tsv) and --gene-map ----

# A small human dataset whose entries reach every tier; column j of every
# cell holds j + 1 counts, so the sums in X show which entries were added.
gene_report_input() {
    $PY - "$1" <<'PYEOF'
import sys, numpy as np, scipy.sparse as sp, anndata, pandas as pd
names = ["TP53", "LFS1", "CD4", "cd4", "7-Sep", "DAC", "1-Mar", "Cd74",
         "ENSG00000141510.5", "FOO\tBAR", "ACTB", "ACTB"]
X = sp.csr_matrix(np.tile(np.arange(1, len(names) + 1, dtype=np.float32), (30, 1)))
a = anndata.AnnData(X=X, var=pd.DataFrame(index=pd.Index(names, dtype=object)),
                    obs=pd.DataFrame(index=["c%d" % i for i in range(30)]))
a.write_h5ad(sys.argv[1])
PYEOF
}

# var ids and the column sums of X of the h5ad $1, one line each
ids_and_sums() {
    $PY -c 'import sys, anndata, numpy as np
a = anndata.read_h5ad(sys.argv[1])
print(" ".join(a.var_names)); print(" ".join("%g" % v for v in np.asarray(a.X.sum(0)).ravel()))' "$1"
}

@test "sc-harmonize: the gene report gives each entry its tier, candidates and collisions" {
    gene_report_input "$BATS_TEST_TMPDIR/m.h5ad"
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" --organism human -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/m.h5ad"
    local t=$BATS_TEST_TMPDIR/o/m.genes.tsv
    [[ -f $t ]]
    run -0 grep -v '^#' "$t"
    echo "$output"
    [[ ${lines[0]} == $'input\tgene_id\tfeature_name\ttier\tcandidates\tnote' ]]
    [[ ${lines[1]} == $'TP53\t-\t\tcollision\t\tsame gene as \'ENSG00000141510.5\' (entry 9, ENSG00000141510), which is kept' ]]
    [[ ${lines[3]} == $'CD4\tENSG00000010610\tCD4\tsymbol\t\t' ]]
    [[ ${lines[4]} == $'cd4\t-\t\tcollision\t\tsame gene as \'CD4\' (entry 3, ENSG00000010610), which is kept' ]]
    [[ ${lines[5]} == $'7-Sep\tENSG00000122545\tSEPTIN7\trestored\t\t' ]]
    [[ ${lines[6]} == $'DAC\t-\t\tambiguous_alias\tAADAC|FBXW4\t' ]]
    [[ ${lines[7]} == $'1-Mar\t-\t\tambiguous_restored\tMARCHF1|RTL1|SETMAR\t' ]]
    [[ ${lines[8]} == $'Cd74\tENSG00000019582\tCD74\tcase\t\t' ]]
    [[ ${lines[9]} == $'ENSG00000141510.5\tENSG00000141510\tTP53\tid_versioned\t\t' ]]
    [[ ${lines[10]} == $'FOO\\tBAR\t-\t\tunknown\t\t' ]]
    [[ ${lines[11]} == $'ACTB\tENSG00000075624\tACTB\tsymbol\t\t' ]]
    [[ ${#lines[@]} == 13 ]]
    run -0 $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["gene_report"])' "$BATS_TEST_TMPDIR/o/m.report.json"
    [[ $output == "$t" ]]
}

@test "sc-harmonize: --gene-map with the gene report unchanged gives the same output; edited, the map wins" {
    gene_report_input "$BATS_TEST_TMPDIR/m.h5ad"
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" --organism human -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/m.h5ad"
    run -0 ids_and_sums "$BATS_TEST_TMPDIR/o/m.h5ad"
    local before=$output
    [[ ${lines[1]} == "90 150 240 270 690" ]] # ACTB twice: 11 + 12
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" --organism human --gene-map "$BATS_TEST_TMPDIR/o/m.genes.tsv" \
        -d "$BATS_TEST_TMPDIR/r" "$BATS_TEST_TMPDIR/m.h5ad"
    run -0 ids_and_sums "$BATS_TEST_TMPDIR/r/m.h5ad"
    [[ $output == "$before" ]]
    run -0 $PY -c 'import sys, anndata, json
print(anndata.read_h5ad(sys.argv[1]).uns["harmonize"]["gene_map"]); print(json.load(open(sys.argv[2]))["gene_map"])' \
        "$BATS_TEST_TMPDIR/r/m.h5ad" "$BATS_TEST_TMPDIR/r/m.report.json"
    [[ ${lines[0]} == "$BATS_TEST_TMPDIR/o/m.genes.tsv" && ${lines[1]} == "$BATS_TEST_TMPDIR/o/m.genes.tsv" ]]
    run -0 cut -f1,2,4 "$BATS_TEST_TMPDIR/r/m.genes.tsv"
    [[ $output == *$'\nDAC\t-\tgene_map_dropped\n'* && $output == *$'\nCD4\tENSG00000010610\tgene_map\n'* ]]
    # the curator keeps DAC as AADAC, drops CD4 and restores FOO<TAB>BAR as GAPDH
    sed -e $'s/^DAC\t-/DAC\tENSG00000114771/' -e $'s/^CD4\tENSG00000010610/CD4\t-/' \
        -e $'s/^FOO\\\\tBAR\t-/FOO\\\\tBAR\tENSG00000111640/' "$BATS_TEST_TMPDIR/o/m.genes.tsv" >"$BATS_TEST_TMPDIR/e.tsv"
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" --organism human --gene-map "$BATS_TEST_TMPDIR/e.tsv" \
        -d "$BATS_TEST_TMPDIR/e" "$BATS_TEST_TMPDIR/m.h5ad"
    run -0 ids_and_sums "$BATS_TEST_TMPDIR/e/m.h5ad"
    echo "$output"
    [[ ${lines[0]} == "ENSG00000122545 ENSG00000114771 ENSG00000019582 ENSG00000141510 ENSG00000111640 ENSG00000075624" ]]
    [[ ${lines[1]} == "150 180 240 270 300 690" ]]
    # a plain two-column map of some entries; the rules map the others
    printf 'LFS1\tENSG00000141510\n' >"$BATS_TEST_TMPDIR/p.tsv"
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" --organism human --gene-map "$BATS_TEST_TMPDIR/p.tsv" \
        -d "$BATS_TEST_TMPDIR/p" "$BATS_TEST_TMPDIR/m.h5ad"
    run -0 cut -f1,2,4 "$BATS_TEST_TMPDIR/p/m.genes.tsv"
    [[ $output == *$'\nLFS1\tENSG00000141510\tgene_map\n'* && $output == *$'\nCD4\tENSG00000010610\tsymbol\n'* ]]
}

@test "sc-harmonize: --gene-map refuses an id not in the organism's schema-7 list, naming the file and line" {
    gene_report_input "$BATS_TEST_TMPDIR/m.h5ad"
    local m=$BATS_TEST_TMPDIR/map.tsv
    printf '# curated\nTP53\tENSG00000141510\nCD4\tENSG00000000000\n' >"$m"
    run -1 --separate-stderr sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR/o" --gene-map "$m" "$BATS_TEST_TMPDIR/m.h5ad"
    [[ $stderr == "sc-harmonize: error: '$m' line 3: 'ENSG00000000000' is not in the homo_sapiens gene list of schema 7 (unknown id)" ]]
    [[ ! -e $BATS_TEST_TMPDIR/o && -z $output ]]
    # a retired id (schema 5 only)
    printf 'TP53\tENSG00000002079\n' >"$m"
    run -1 --separate-stderr sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR/o" --gene-map "$m" "$BATS_TEST_TMPDIR/m.h5ad"
    [[ $stderr == *"'$m' line 1: 'ENSG00000002079' is not in the homo_sapiens gene list of schema 7 (a retired id)" ]]
    # no id at all, a symbol instead of an id, one input given two ids
    printf 'TP53\n' >"$m"
    run -1 --separate-stderr sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR/o" --gene-map "$m" "$BATS_TEST_TMPDIR/m.h5ad"
    [[ $stderr == *"'$m' line 1: expected 'input<TAB>gene_id'"* ]]
    printf 'TP53\tTP53\n' >"$m"
    run -1 --separate-stderr sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR/o" --gene-map "$m" "$BATS_TEST_TMPDIR/m.h5ad"
    [[ $stderr == *"'$m' line 1: 'TP53' is not an Ensembl gene id"* ]]
    printf 'TP53\tENSG00000141510\nTP53\t-\n' >"$m"
    run -1 --separate-stderr sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR/o" --gene-map "$m" "$BATS_TEST_TMPDIR/m.h5ad"
    [[ $stderr == *"'$m' line 2: 'TP53' is also mapped to 'ENSG00000141510' at line 1" ]]
    [[ ! -e $BATS_TEST_TMPDIR/o/m.h5ad ]]
    # an id of another organism than the dataset's: the dataset fails
    printf 'TP53\tENSMUSG00000059552\n' >"$m"
    run -1 --separate-stderr sc-harmonize "${SMALL[@]}" --organism human -d "$BATS_TEST_TMPDIR/o" --gene-map "$m" "$BATS_TEST_TMPDIR/m.h5ad"
    [[ $stderr == *"'$m' line 1: 'ENSMUSG00000059552' is not a gene of homo_sapiens, the organism of this dataset" ]]
    [[ ! -e $BATS_TEST_TMPDIR/o/m.h5ad && ! -e $BATS_TEST_TMPDIR/o/m.genes.tsv ]]
}

@test "sc-harmonize: the evaluation set as two datasets: no entry lands on a gene other than its expected one" {
    # tests/data/genes-eval (scripts/make-gene-eval): every human and every
    # mouse input as one dataset each; the gene report says where each
    # entry went, which must be its expected gene or nowhere
    $PY - "$SC_TEST_DATA/genes-eval/eval.tsv.gz" "$BATS_TEST_TMPDIR" <<'PYEOF'
import gzip, sys, numpy as np, scipy.sparse as sp, anndata, pandas as pd
rows = [l.rstrip("\n").split("\t") for l in gzip.open(sys.argv[1], "rt") if not l.startswith(("#", "part\t"))]
for org, taxon in (("human", "NCBITaxon:9606"), ("mouse", "NCBITaxon:10090")):
    names = [r[3] for r in rows if r[1] == org]
    X = sp.csr_matrix(np.ones((20, len(names)), dtype=np.float32))
    a = anndata.AnnData(X=X, var=pd.DataFrame(index=pd.Index(names, dtype=object)),
                        obs=pd.DataFrame(index=["c%d" % i for i in range(20)]))
    a.uns["organism_ontology_term_id"] = taxon
    a.write_h5ad("%s/%s.h5ad" % (sys.argv[2], org))
PYEOF
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/human.h5ad" "$BATS_TEST_TMPDIR/mouse.h5ad"
    run -0 $PY - "$SC_TEST_DATA/genes-eval/eval.tsv.gz" "$BATS_TEST_TMPDIR/o" <<'PYEOF'
import gzip, sys, collections
exp = {}
for l in gzip.open(sys.argv[1], "rt"):
    if not l.startswith(("#", "part\t")):
        r = l.rstrip("\n").split("\t")
        exp[(r[1], r[3])] = (r[2], r[4])
wrong, n = 0, collections.Counter()
for org in ("human", "mouse"):
    for l in open("%s/%s.genes.tsv" % (sys.argv[2], org)):
        if l.startswith(("#", "input\t")):
            continue
        name, gid, _, tier = l.split("\t")[:4]
        name = name.replace("\\t", "\t").replace("\\\\", "\\")
        cat, want = exp[(org, name)]
        n[(org, cat, "right" if gid == want else "left" if gid == "-" else "wrong")] += 1
        if gid not in ("-", want):
            wrong += 1
            print("wrong:", org, name, gid, tier, "expected", want)
for k in sorted(n):
    print(*k, n[k])
print("wrong", wrong)
PYEOF
    echo "$output"
    [[ ${lines[-1]} == "wrong 0" ]]
}

@test "sc-harmonize --orthologs: the gene report gives the mouse id and names the ortholog; fed back, the same output" {
    $PY - "$BATS_TEST_TMPDIR/mouse.h5ad" <<'PYEOF'
import sys, anndata as ad, numpy as np, pandas as pd, scipy.sparse as sp
var = ["ENSMUSG00000024610", "ENSMUSG00000059552.9", "ENSMUSG00000057666", "Actb", "NotAGene"]
X = sp.csr_matrix(np.tile(np.arange(1, len(var) + 1, dtype=np.float32), (4, 1)))
a = ad.AnnData(X=X, obs=pd.DataFrame(index=["c%d" % i for i in range(4)]), var=pd.DataFrame(index=var))
a.uns["organism_ontology_term_id"] = "NCBITaxon:10090"
a.write_h5ad(sys.argv[1])
PYEOF
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" --orthologs -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/mouse.h5ad"
    run -0 grep -v '^#' "$BATS_TEST_TMPDIR/o/mouse.genes.tsv"
    echo "$output"
    [[ ${lines[1]} == $'ENSMUSG00000024610\tENSMUSG00000024610\tCd74\tid\t\tortholog ENSG00000019582 CD74' ]]
    [[ ${lines[3]} == $'ENSMUSG00000057666\tENSMUSG00000057666\tGapdh\tno_ortholog\t\t' ]]
    [[ ${lines[4]} == $'Actb\tENSMUSG00000029580\tActb\tsymbol\t\tortholog ENSG00000075624 ACTB' ]]
    run -0 ids_and_sums "$BATS_TEST_TMPDIR/o/mouse.h5ad"
    local before=$output
    [[ ${lines[0]} == "ENSG00000019582 ENSG00000141510 ENSG00000075624" && ${lines[1]} == "4 8 16" ]]
    run -0 --separate-stderr sc-harmonize "${SMALL[@]}" --orthologs --gene-map "$BATS_TEST_TMPDIR/o/mouse.genes.tsv" \
        -d "$BATS_TEST_TMPDIR/r" "$BATS_TEST_TMPDIR/mouse.h5ad"
    run -0 ids_and_sums "$BATS_TEST_TMPDIR/r/mouse.h5ad"
    [[ $output == "$before" ]]
}
