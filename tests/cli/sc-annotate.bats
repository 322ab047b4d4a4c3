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
