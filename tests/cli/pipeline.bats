#!/usr/bin/env bats
# The pipelines the documentation shows (README "The pipeline", sc(7)'s
# example) run as written on a mock CELLxGENE portal serving a small
# corpus, and give a complete lineage: every output registered with its
# parents, back to the URL it was downloaded from (issue 15).
# SPDX-License-Identifier: MIT

load helpers
load mock-server

setup_file() {
    load helpers
    load mock-server
    # human datasets of 1,000+ cells (the README fetches --min-cells 1000)
    export CORPUS
    CORPUS=$(test_corpus --datasets 4 --cells 6000 --cells-min 1200 --genes 1500:2500 \
        --nnz 300 --mess 1 --organisms human:1 --min-mapped-genes 1000 --seed 31)
    mock_start "$CORPUS" --plain
    # the corpus has few genes: the threshold to match, through the
    # settings file every tool reads (the pipelines' text is not changed)
    export SC_CONFIG=$BATS_FILE_TMPDIR/settings.yaml
    printf 'sc-harmonize:\n  min-mapped-genes: 1000\n' > "$SC_CONFIG"
}

teardown_file() {
    mock_stop
}

setup() {
    cd "$BATS_TEST_TMPDIR"
    unset SC_REGISTRY
    export SC_STREAM_CACHE=$BATS_TEST_TMPDIR/cache
    # the README runs scripts/recipes/... from a checkout
    ln -s "$SC_ROOT/scripts" scripts
}

# col FILE NAME: the values of column NAME of a manifest.
col() {
    awk -F'\t' -v k="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) c = i; next }
        c { print $c }' "$1"
}

# lineage_complete OUT N: lineage output OUT has no unregistered step and
# reaches N sources, each a URL of the mock through sc-fetch, sc-harmonize
# and sc-annotate runs.
lineage_complete() {
    [[ $1 != *"not registered"* ]]
    [[ $(grep -c '<- source  '"$MOCK_URL"'/files/' <<< "$1") -eq $2 ]]
    [[ $(grep -c '<- run [0-9]*  sc-fetch ' <<< "$1") -eq $2 ]]
    [[ $(grep -c '<- run [0-9]*  sc-harmonize ' <<< "$1") -eq $2 ]]
    [[ $(grep -c '<- run [0-9]*  sc-annotate ' <<< "$1") -eq $2 ]]
}

@test "pipeline: the README's pipeline runs as written and the model's lineage reaches every source" {
    awk '/^## The pipeline/ { p = 1 } p && /^```sh$/ { b = 1; next } b && /^```$/ { exit } b' \
        "$SC_ROOT/README.md" > pipeline.sh
    grep -q 'sc-register lineage --up model.pt' pipeline.sh
    run -0 bash -euo pipefail pipeline.sh
    # what the portal has: human lung datasets of 1,000 cells or more
    n=$(sc-fetch list --organism human --tissue lung --min-cells 1000 | tail -n +2 | wc -l)
    [[ $n -ge 2 ]]
    [[ $(col fetched.tsv status | grep -cE '^(downloaded|present)$') -eq $n ]]
    [[ $(col annotated.tsv status | grep -c '^ok$') -eq $n ]]
    # every step registered
    for f in fetched harmonized annotated; do
        [[ $(col registered-$f.tsv registered | grep -c '^new$') -eq $n ]]
    done
    # the collection: the annotated datasets only, each once
    run -0 sc-register --db corpus.db collection export lung@1
    [[ $(col <(echo "$output") path | grep -c '/data/annotated/') -eq $n ]]
    [[ $(tail -n +2 <<< "$output" | wc -l) -eq $n ]]
    # the final artifact's lineage goes back to each download's URL
    run -0 sc-register --db corpus.db lineage --up model.pt
    [[ $output == *"<- collection  lung@1"* ]]
    lineage_complete "$output" "$n"
    for u in $(col fetched.tsv source); do
        [[ $output == *"<- source  $u"* ]]
    done
}

# man_example PAGE PATTERN: the first .EX block after the line matching
# PATTERN in man page PAGE, as shell text.
man_example() {
    awk -v pat="$2" '$0 ~ pat { p = 1 } p && /^\.EX/ { b = 1; next } b && /^\.EE/ { exit } b' \
        "$SC_ROOT/man/$1" |
        sed -e 's/\\-/-/g' -e 's/\\e/\\/g' -e "s/\\\\(aq/'/g" -e 's/\\&//g'
}

@test "pipeline: sc(7)'s example pipeline runs as written and each output's lineage is complete" {
    man_example sc.7 '^A typical pipeline' > pipeline.sh
    grep -q '^sc-fetch get ' pipeline.sh
    run -0 bash -euo pipefail pipeline.sh
    n=$(sc-fetch list --organism human --tissue lung | tail -n +2 | wc -l)
    [[ $n -ge 2 ]]
    # the last line lists the annotated datasets
    [[ $(grep -c '/data/annotated/' <<< "$output") -eq $n ]]
    for f in $(col annotated.tsv path); do
        run -0 sc-register --db registry.db lineage --up "$f"
        lineage_complete "$output" 1
    done
}

@test "pipeline: sc-register(1)'s registered pipeline runs as written and each output's lineage is complete" {
    man_example sc-register.1 '^registered pipeline:' > pipeline.sh
    grep -q '^sc-fetch get ' pipeline.sh
    run -0 bash -euo pipefail pipeline.sh
    n=$(sc-fetch list --tissue lung | tail -n +2 | wc -l)
    [[ $n -ge 2 && $(col registered-annotated.tsv registered | grep -c '^new$') -eq $n ]]
    for f in $(col registered-annotated.tsv path); do
        run -0 sc-register --db reg.db lineage --up "$f"
        lineage_complete "$output" 1
    done
}
