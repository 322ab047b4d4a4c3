#!/usr/bin/env bats
# sc-annotate map, inspect, children, descendants (issue 20): labels from
# the shell, each with its tier and evidence; the refusals.
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    export XDG_CACHE_HOME=$SC_BUILD/cache
    sc-annotate term CL:0000000 > /dev/null
}

@test "sc-annotate map: a healthy control is normal, never a disease" {
    run -0 --separate-stderr sc-annotate map --field disease <<< $'HC\nhealthy control\nctrl\nCOVID-19'
    [[ ${lines[0]} == $'label\tterm_id\tterm_label\ttier\tconfident\tevidence\tcandidates' ]]
    [[ ${lines[1]} == $'HC\tPATO:0000461\tnormal\tcontrol\tyes\t'* ]]
    [[ ${lines[2]} == $'healthy control\tPATO:0000461\tnormal\tcontrol\tyes\t'* ]]
    [[ ${lines[3]} == $'ctrl\tPATO:0000461\t'* ]]
    [[ ${lines[4]} == $'COVID-19\tMONDO:0100096\t'* ]]
    [[ $output != *MONDO:*$'\tcontrol\t'* ]]
}

@test "sc-annotate map: a short all-capital synonym is only a suggestion" {
    run -0 sc-annotate map <<< 'MEP'
    [[ ${lines[1]} == $'MEP\t\t\tweak\tno\texact synonym \'MEP\'\tCL:'* ]]
}

@test "sc-annotate map: structured labels, crosswalk, evidence" {
    run -0 sc-annotate map <<< $'Club cells (lung)\nMicroglia_2\nCD4 CTL\nB cell\nhepatocitte'
    [[ ${lines[1]} == $'Club cells (lung)\tCL:0000158\tclub cell\tstructured\tyes\thead \'Club cells\' + context \'lung\''* ]]
    [[ ${lines[2]} == $'Microglia_2\tCL:0000129\t'*$'\tstructured\tyes\t'* ]]
    [[ ${lines[3]} == $'CD4 CTL\tCL:0000934\t'*$'\tcrosswalk\tyes\tcrosswalk \'cd4ctl\' (Azimuth '* ]]
    [[ ${lines[4]} == $'B cell\tCL:0000236\tB cell\tlabel\tyes\tlabel \'B cell\'\t' ]]
    [[ ${lines[5]} == $'hepatocitte\t\t\tnone\tno\t\tCL:0000182'* ]]
    # --no-crosswalk: the crosswalk label is left out
    run -0 sc-annotate map --no-crosswalk <<< 'CD4 CTL'
    [[ ${lines[1]} != *CL:0000934* ]]
}

@test "sc-annotate map: a misspelt word (tier fuzzy), never for a control" {
    run -0 sc-annotate map <<< $'Hepatocites\nMonocyts\nASTROCYTOMMA'
    [[ ${lines[1]} == $'Hepatocites\tCL:0000182\thepatocyte\tfuzzy\tyes\t\'Hepatocites\' read as \'hepatocyte\': label \'hepatocyte\'\t' ]]
    [[ ${lines[2]} != *$'\tfuzzy\t'* && ${lines[3]} != *$'\tfuzzy\t'* ]]
    run -0 sc-annotate map --field disease <<< $'pancreatic adenocarcinmoa\nhealthy contrl\nhelthy'
    [[ ${lines[1]} == $'pancreatic adenocarcinmoa\tMONDO:0006047\t'*$'\tfuzzy\tyes\t'* ]]
    [[ ${lines[2]} == $'healthy contrl\t\t'* && ${lines[3]} == $'helthy\t\t'* ]]
}

@test "sc-annotate map: a registry's organ + histology disease name" {
    run -0 sc-annotate map --field disease <<< $'liver hepatocellular carcinoma\nEsophageal squamous cancer\nknee hepatocellular carcinoma'
    [[ ${lines[1]} == $'liver hepatocellular carcinoma\tMONDO:0007256\t'*$'\tstructured\tyes\torgan \'liver\' + histology \'hepatocellular carcinoma\'\t' ]]
    [[ ${lines[2]} == $'Esophageal squamous cancer\tMONDO:0005580\t'*$'\tstructured\tyes\t'* ]]
    [[ ${lines[3]} == $'knee hepatocellular carcinoma\t\t\tweak\tno\t'*$'\tMONDO:0007256' ]]
}

@test "sc-annotate map: a TSV column, JSON, files" {
    printf 'id\ttissue\n1\tLiver\n2\trenal cortices\n' > "$BATS_TEST_TMPDIR/t.tsv"
    run -0 sc-annotate map --field tissue --in-column tissue "$BATS_TEST_TMPDIR/t.tsv"
    [[ ${lines[1]} == $'Liver\tUBERON:0002107\t'* ]]
    [[ ${lines[2]} == $'renal cortices\tUBERON:0001225\t'*$'\tstructured\t'* ]]
    [[ ${#lines[@]} == 3 ]]
    run -0 sc-annotate map --json --field tissue --in-column tissue "$BATS_TEST_TMPDIR/t.tsv"
    /usr/bin/python3 - "$output" <<'PY'
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines()]
assert rows[0]["term_id"] == "UBERON:0002107" and rows[0]["confident"], rows
assert rows[1]["tier"] == "structured" and rows[1]["evidence"], rows
PY
    run -1 --separate-stderr sc-annotate map --in-column nope "$BATS_TEST_TMPDIR/t.tsv"
    [[ $stderr == *"no column 'nope'"* && ${#stderr_lines[@]} == 1 ]]
    run -2 --separate-stderr sc-annotate map --field colour
    [[ $stderr == *"unknown field 'colour'"* ]]
}

@test "sc-annotate inspect: validated, mapped, suggested, unmapped" {
    run -0 --separate-stderr sc-annotate inspect <<< $'B cell\nB cells\nMEP\nzzzz qqqq'
    [[ ${lines[1]} == $'B cell\tvalidated\tCL:0000236\tlabel\t' ]]
    [[ ${lines[2]} == $'B cells\tmapped\tCL:0000236\tnormalized\t' ]]
    [[ ${lines[3]} == $'MEP\tsuggested\t\tweak\tCL:'* ]]
    [[ ${lines[4]} == $'zzzz qqqq\t'* ]]
    [[ $stderr == *"4 labels: 1 validated, 1 mapped, "* ]]
}

@test "sc-annotate children and descendants: listings, not counts" {
    run -0 sc-annotate children CL:0000236
    [[ $output == *$'CL:4033068\tcycling B cell'* ]]
    n=${#lines[@]}
    run -0 sc-annotate term CL:0000236
    [[ $output == *$'children\t'$n* ]]
    run -0 sc-annotate descendants CL:0000236
    [[ $output == *$'CL:0000785\t2\tmature B cell'* ]]
    [[ $output == *$'CL:4033068\t1\tcycling B cell'* ]]
    run -0 sc-annotate descendants --json CL:0000785
    [[ $output == '[{"id":'* ]]
    run -1 --separate-stderr sc-annotate children CL:9999999
    [[ $stderr == *"unknown term"* ]]
}

# the corpus of sc-annotate.bats (the same arguments: one cached copy)
corpus() {
    test_corpus --datasets 12 --cells 6000 --genes 1500:3000 --nnz 300 \
        --mess 3 --seed 7 --min-mapped-genes 1000
}

@test "sc-annotate annotate --set, --set-file and the fill rules" {
    local c in
    c=$(corpus)
    in=$("$PY" -c '
import json, sys
t = json.load(open(sys.argv[1]))
print([d["file"] for d in t["datasets"] if d["style"] == "author"][0])' "$c/truth.json")
    name=${in%.h5ad}
    printf '%s:\n  donor_id: D7\n"*":\n  title: T\n' "$name" > "$BATS_TEST_TMPDIR/set.yaml"
    run -0 --separate-stderr sc-annotate annotate -d "$BATS_TEST_TMPDIR/o" \
        --set is_primary_data=false --set-file "$BATS_TEST_TMPDIR/set.yaml" "$c/$in"
    run -0 "$PY" -c '
import anndata, json, sys
a = anndata.read_h5ad(sys.argv[1])
o = a.obs
assert set(o["donor_id"]) == {"D7"}, set(o["donor_id"])
assert o["is_primary_data"].dtype == bool and not o["is_primary_data"].any()
assert a.uns["title"] == "T"
r = json.load(open(sys.argv[2]))
f = r["filled"]
assert f["donor_id"]["by"] == "set-file" and f["is_primary_data"]["by"] == "set", f
if "tissue_ontology_term_id" in o:
    assert "tissue_type" in o and f["tissue_type"]["by"].startswith("rule"), f
' "$BATS_TEST_TMPDIR/o/$name.h5ad" "$BATS_TEST_TMPDIR/o/$name.annotate.json"
    run -2 --separate-stderr sc-annotate annotate -d "$BATS_TEST_TMPDIR/p" --set is_primary_data=maybe "$c/$in"
    [[ $stderr == *"is_primary_data: expected true or false"* ]]
    run -2 --separate-stderr sc-annotate annotate -d "$BATS_TEST_TMPDIR/p" --set novalue "$c/$in"
    [[ $stderr == *"expected KEY=VALUE"* ]]
}
