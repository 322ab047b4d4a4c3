#!/usr/bin/env bats
# sc-annotate validate --submission against the real CELLxGENE validator:
# mutations of the schema example and bundled samples, whose verdicts and
# error classes the real validator (cellxgene-schema 7.0.0) gave once and
# tests/data/cxg-validator/verdicts.tsv records (how: its header and
# SOURCES.md). The mutated files are made again here from the vendored
# example by the same deterministic script (scripts/cxg-mutations).
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    export XDG_CACHE_HOME=$SC_BUILD/cache
    export MUT=$BATS_FILE_TMPDIR/mut
    "$PY" "$SC_ROOT/scripts/cxg-mutations" make \
        "$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad" "$MUT"
}

# ours NAME SOURCE: "verdict<TAB>classes" of sc-annotate validate --submission
ours() {
    local f
    if [[ $2 == mutation ]]; then f=$MUT/$1.h5ad; else f=$SC_TEST_DATA/h5ad/$1.h5ad; fi
    sc-annotate validate --submission --json "$f" 2> /dev/null |
        "$PY" -c 'import json, sys
r = json.load(sys.stdin)
print("%s\t%s" % ("valid" if r["valid"] else "invalid",
                  ",".join(sorted(set(r["error_classes"]))) or "-"))'
}

@test "cxg: every recorded mutation and sample gets the real validator's verdict and error classes" {
    local n=0 bad=0 name src verdict classes compare got
    while IFS=$'\t' read -r name src verdict classes compare; do
        [[ $name == \#* || $name == name ]] && continue
        got=$(ours "$name" "$src")
        n=$((n + 1))
        if [[ $compare == both && $got != "$verdict"$'\t'"$classes" ]] ||
            [[ $compare == verdict && ${got%%$'\t'*} != "$verdict" ]]; then
            echo "$name: real validator: $verdict $classes; sc-annotate: $got" >&2
            bad=$((bad + 1))
        fi
    done < "$SC_TEST_DATA/cxg-validator/verdicts.tsv"
    echo "$n compared, $bad differ" >&2
    [[ $n -ge 30 && $bad -eq 0 ]]
    # every mutation of the script is recorded
    for name in $("$PY" "$SC_ROOT/scripts/cxg-mutations" list); do
        grep -q "^$name	mutation	" "$SC_TEST_DATA/cxg-validator/verdicts.tsv"
    done
}

@test "cxg: the mutations are made the same way twice" {
    "$PY" "$SC_ROOT/scripts/cxg-mutations" make \
        "$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad" "$BATS_TEST_TMPDIR/again"
    for f in "$MUT"/*.h5ad; do
        h5diff "$f" "$BATS_TEST_TMPDIR/again/${f##*/}"
    done
}

@test "cxg: feature ids must be genes of the dataset's organism" {
    run -1 sc-annotate validate --submission "$MUT/feature_id_unknown.h5ad"
    [[ $output == *"Could not infer organism from feature ID 'ENSG00000999999' in 'var'"* ]]
    [[ $output == *"Could not infer organism from feature ID 'ENSG00000999999' in 'raw.var'"* ]]
    run -1 sc-annotate validate "$MUT/feature_id_symbol.h5ad"
    [[ $output == *"feature ID 'BRCA2' in 'var'"* ]]
    run -1 sc-annotate validate "$MUT/feature_id_mouse.h5ad"
    [[ $output == *"uns['organism_ontology_term_id'] is 'NCBITaxon:9606' but feature_ids are from NCBITaxon:10090 (mouse)."* ]]
    [[ $output != *"Could not infer"* ]]
    run -0 sc-annotate validate "$MUT/feature_id_spike_in.h5ad"
    # fly genes in a human dataset; SARS-CoV-2 genes go with any organism
    run -1 sc-annotate validate "$MUT/feature_id_fly.h5ad"
    [[ $output == *"feature_ids are from NCBITaxon:7227 (fruit fly)."* ]]
    run -0 sc-annotate validate "$MUT/feature_id_sars_cov_2.h5ad"
}

@test "cxg: raw counts must be positive integers stored as float32, one non-zero per row, no duplicated rows" {
    run -1 sc-annotate validate "$MUT/raw_float64.h5ad"
    [[ $output == *"Raw matrix values must have type numpy.float32 (raw.X has float64)."* ]]
    run -1 sc-annotate validate "$MUT/raw_non_integer.h5ad"
    [[ $output == *"must be positive integers of type numpy.float32 (1 values of raw.X are not)."* ]]
    [[ $output == *"Raw data may be missing: data in 'raw.X' does not meet schema requirements."* ]]
    run -1 sc-annotate validate "$MUT/raw_negative.h5ad"
    [[ $output == *"must be positive integers"* ]]
    run -1 sc-annotate validate "$MUT/raw_zero_row.h5ad"
    [[ $output == *"(1 rows of raw.X have none)"* ]]
    run -1 sc-annotate validate "$MUT/raw_duplicate_rows.h5ad"
    [[ $output == *"Found 2 duplicated raw counts in obs adata.raw.X."* ]]
    run -1 sc-annotate validate "$MUT/no_raw_normalized_x.h5ad"
    [[ $output == *"Raw data is missing: there is only a normalized matrix in X and no raw.X"* ]]
    # counts in X without raw: valid, with the validator's warning
    run -0 sc-annotate validate "$MUT/no_raw_count_x.h5ad"
    [[ $output == *"WARNING: Only raw data was found"* ]]
    # raw values are checked only on a dataset without other errors, as the
    # validator does
    run -1 sc-annotate validate "$MUT/uns_missing_organism.h5ad"
    [[ $output != *"Raw data"* ]]
}

@test "cxg: reserved columns: the portal's labels of var, raw.var, obs and uns when submitting" {
    run -1 sc-annotate validate --submission "$MUT/var_feature_name.h5ad"
    [[ $output == *"Add labels error: Column 'feature_name' is a reserved column name of 'var'."* ]]
    run -1 sc-annotate validate --submission "$MUT/raw_var_feature_biotype.h5ad"
    [[ $output == *"Column 'feature_biotype' is a reserved column name of 'raw.var'."* ]]
    # a label column without its term id is reserved too; the term id column
    # itself may be absent before analysis (the schema's pre_analysis keys)
    run -1 sc-annotate validate --submission "$MUT/obs_cell_type_label_no_id.h5ad"
    [[ $output == *"Column 'cell_type' is a reserved column name of 'obs'."* ]]
    [[ $output == *"WARNING: Dataframe 'obs' has no column 'cell_type_ontology_term_id' (allowed before analysis)."* ]]
    # outside submission mode the label columns are the portal's outputs
    run -0 sc-annotate validate "$MUT/var_feature_name.h5ad"
}

@test "cxg: a nullable obs column with missing values holds mixed types" {
    run -1 sc-annotate validate "$MUT/obs_nullable_int_missing.h5ad"
    [[ $output == *"Column 'n_counts_na' in dataframe 'obs' cannot contain mixed types (int64 and missing values)."* ]]
    run -0 sc-annotate validate "$MUT/obs_bool_categories.h5ad"
}

@test "cxg: --json gives the class of each error" {
    run -1 --separate-stderr sc-annotate validate --json "$MUT/raw_zero_row.h5ad"
    [[ $output == *'"error_classes":["raw_zero_row","raw_missing"]'* ]]
}
