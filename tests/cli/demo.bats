#!/usr/bin/env bats
# make demo (scripts/demo.sh) at a small size: the whole pipeline runs, its
# final answer names the right datasets, and a rerun skips every step.
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    load helpers
    export DEMO=$BATS_FILE_TMPDIR/demo
    # what `make demo` runs once the tools are built
    BUILD=$SC_BUILD SC_DEMO_SMALL=1 SC_DEMO_DIR=$DEMO \
        "$SC_ROOT/scripts/demo.sh" > "$BATS_FILE_TMPDIR/run1.out" 2>&1 ||
        { cat "$BATS_FILE_TMPDIR/run1.out" >&2; return 1; }
}

@test "demo: every step reports, and the demo ends" {
    run -0 cat "$BATS_FILE_TMPDIR/run1.out"
    for i in 1 2 3 4 5 6 7 8 9; do
        [[ $output == *"== $i. "* ]]
    done
    [[ $output == *"mock curation API at http://127.0.0.1:"* ]]
    [[ $output == *"rank 0/1: epoch 0:"* ]]
    [[ $output == *"== demo done in "* ]]
    # the collection's datasets pass the schema checks, as annotated and in
    # the upload form (annotate --submission)
    [[ $output =~ "== 6b. "[^$'\n']*$'\n'"   "([0-9]+)" of "([0-9]+)" valid as annotated, "([0-9]+)" of "([0-9]+)" as submitted" ]]
    [[ ${BASH_REMATCH[1]} -gt 0 && ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]]
    [[ ${BASH_REMATCH[3]} == "${BASH_REMATCH[2]}" && ${BASH_REMATCH[4]} == "${BASH_REMATCH[2]}" ]]
    [[ $(grep -c ': valid (0 errors' "$DEMO/validated.txt") -eq $((2 * BASH_REMATCH[2])) ]]
    # the mock server was stopped
    ! kill -0 "$(cat "$DEMO/mock/pid")" 2>/dev/null
}

@test "demo: which datasets went into the model, from the registry" {
    # expected: every lab dataset the truth says harmonizes, plus the three
    # portal datasets of the mock API; none of the tiny real samples
    run -0 $PY - "$DEMO" <<'PY'
import json, sys
d = sys.argv[1]
lab = json.load(open(d + "/corpus/lab/truth.json"))
want = {"file://%s/corpus/lab/%s" % (d, x["file"]) for x in lab["datasets"]
        if x["expected_status"] == "ok"}
got = [l.rstrip("\n").split("\t") for l in open(d + "/answer.tsv")]
src = {s for _, s in got}
http = {s for s in src if s.startswith("http://127.0.0.1:")}
missing = want - src
extra = src - want - http
print("want", len(want), "got", len(src), "http", len(http), "missing", sorted(missing),
      "extra", sorted(extra))
sys.exit(0 if not missing and not extra and len(http) == 3 and len(got) == len(src) else 1)
PY
    # and the same list, as printed
    run -0 cat "$BATS_FILE_TMPDIR/run1.out"
    while IFS=$'\t' read -r member source; do
        [[ $output == *"<- $source"* ]]
    done < "$DEMO/answer.tsv"
    [[ $output == *"model.pt <- run "*" <- demo@1 <- $(wc -l < "$DEMO/answer.tsv") datasets"* ]]
}

@test "demo: the registry holds the run, the collection and the lineage" {
    export SC_REGISTRY=$DEMO/registry.db
    run -0 sc-register lineage --up "$DEMO/model.pt"
    [[ $output == *"<- collection  demo@1"* ]]
    [[ $output == *"sc-harmonize"* && $output == *"sc-annotate"* ]]
    run -0 sc-register collection export demo@1
    [[ $(($(wc -l <<< "$output") - 1)) -eq $(wc -l < "$DEMO/answer.tsv") ]]
    run -0 $PY -c 'import sys, torch; c = torch.load(sys.argv[1]); print(len(c["genes"]), len(c["classes"]))' \
        "$DEMO/model.pt"
}

@test "demo: examples/train_datamodule.py trains on the demo collection with 2 workers" {
    export SC_STREAM_CACHE=$DEMO/cache/stream XDG_CACHE_HOME=$SC_BUILD/cache
    sc-annotate export --fields cell_type -d "$BATS_TEST_TMPDIR/labels" - < "$DEMO/collection.tsv" > /dev/null
    run -0 env OMP_NUM_THREADS=2 $PY "$SC_ROOT/examples/train_datamodule.py" -m "$DEMO/collection.tsv" \
        --label-dir "$BATS_TEST_TMPDIR/labels" --workers 2 --epochs 1
    [[ ${lines[0]} =~ ^[0-9]+\ genes,\ [0-9]+\ classes\;\ cells:\ train\ [1-9] ]]
    [[ ${lines[1]} =~ ^epoch\ 0:\ [1-9][0-9]*\ training\ draws,\ loss\ [0-9.]+,\ validation\ accuracy\ [0-9.]+\ on\ [1-9] ]]
}

@test "demo: a rerun skips every step and gives the same answer" {
    cp "$DEMO/answer.tsv" "$BATS_TEST_TMPDIR/answer1.tsv"
    SECONDS=0
    run -0 env BUILD=$SC_BUILD SC_DEMO_SMALL=1 SC_DEMO_DIR=$DEMO "$SC_ROOT/scripts/demo.sh"
    [[ $SECONDS -lt 30 ]]
    [[ $(grep -c "(already done: " <<< "$output") -ge 9 ]]
    [[ $output != *"mock curation API"* ]]
    diff "$BATS_TEST_TMPDIR/answer1.tsv" "$DEMO/answer.tsv"
}

@test "demo: make demo runs this script" {
    run -0 make -n -C "$SC_ROOT" demo
    [[ $output == *"scripts/demo.sh"* ]]
}
