#!/usr/bin/env bats
# The recipes users copy (scripts/recipes/): the Makefile under make -j2
# with an incremental rerun, the Slurm array job, and the multi-rank
# training launch with 2 CPU ranks (gloo).
# SPDX-License-Identifier: MIT

load helpers

R=$SC_ROOT/scripts/recipes
# the corpus datasets have few genes: lower the threshold to match
HARM="--min-mapped-genes 1000"

setup_file() {
    load helpers
    export CORPUS
    CORPUS=$(test_corpus --datasets 3 --cells 900 --genes 1500:2500 --nnz 400 --mess 2 \
        --min-mapped-genes 1000 --seed 21)
}

# raw DIR: the corpus, plus a bundled 10x file that sc-harmonize refuses
raw() {
    mkdir -p "$1"
    cp "$CORPUS"/*.h5ad "$1/"
    cp "$SC_TEST_DATA/10x_h5/cellranger3_filtered_feature_bc_matrix.h5" "$1/"
}

@test "recipes: Makefile harmonizes and annotates with make -j2, then only what changed" {
    cd "$BATS_TEST_TMPDIR"
    raw raw
    run -0 make -f "$R/Makefile" -j2 HARMONIZE="$HARM"
    [[ $(grep -c '^sc-harmonize ' <<< "$output") -eq 4 ]]
    [[ $output == *"out/manifest.tsv: 4 datasets, 3 ok"* ]]
    [[ $(ls out/annotated/*.h5ad | wc -l) -eq 3 ]]
    # one manifest, one header, the refused dataset with its reason
    run -0 awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "status") s = i; if ($i == "reason") r = i } next }
        { print $s, $r }' out/manifest.tsv
    [[ $output == *"refused too_few_genes"* ]]
    [[ $(grep -c '^ok' <<< "$output") -eq 3 ]]
    # nothing changed: nothing runs
    run -0 make -f "$R/Makefile" -j2 HARMONIZE="$HARM"
    [[ $output == *"Nothing to be done"* ]]
    # one input changes: only it is harmonized and annotated again
    first=$(ls raw/*.h5ad | head -1)
    name=$(basename "$first" .h5ad)
    touch "$first"
    run -0 make -f "$R/Makefile" -j2 HARMONIZE="$HARM"
    [[ $(grep -c '^sc-harmonize ' <<< "$output") -eq 1 ]]
    [[ $output == *"sc-harmonize "*"$first"* ]]
    [[ $(grep -c 'sc-annotate annotate' <<< "$output") -eq 1 ]]
    [[ $output == *"'out/annotated' $(printf '<') 'out/harmonized/$name.tsv'"* ]]
    # register: every step, so the lineage of each annotated dataset is
    # complete, down to its input
    run -0 sc-register --db reg.db init
    run -0 make -f "$R/Makefile" register REGISTER="--db reg.db"
    [[ $(grep -c $'\tnew$' out/registered-inputs.tsv) -eq 4 ]]
    [[ $(grep -c $'\tnew$' out/registered-harmonized.tsv) -eq 3 ]]
    [[ $(grep -c $'\tnew$' out/registered-annotated.tsv) -eq 3 ]]
    for f in out/annotated/*.h5ad; do
        n=$(basename "$f")
        run -0 sc-register --db reg.db lineage --up "$f"
        [[ $output != *"not registered"* ]]
        [[ $output == *"sc-annotate "*"<- artifact "*"/out/harmonized/$n"*"sc-harmonize "*"<- artifact "*"/raw/$n"* ]]
    done
    # and again: all known, nothing new
    run -0 make -f "$R/Makefile" register REGISTER="--db reg.db"
    [[ $(grep -c $'\tnew$' out/registered-*.tsv | grep -vc ':0$') -eq 0 ]]
    # a name the shell could run is refused before anything runs
    mkdir bad
    cp "$first" 'bad/x;touch PWNED.h5ad'
    cp "$first" 'bad/$(touch PWNED).h5ad'
    run -2 make -f "$R/Makefile" IN=bad OUT=badout HARMONIZE="$HARM"
    [[ $output == *"unsafe input file names in bad (rename them)"* ]]
    [[ ! -e PWNED && ! -e badout ]]
}

@test "recipes: the Slurm array script parses, dry-runs and runs one task" {
    run -0 bash -n "$R/harmonize-array.sbatch"
    cd "$BATS_TEST_TMPDIR"
    raw raw
    ls "$PWD"/raw/* > list.txt
    # without a task id it refuses
    run -1 env LIST=list.txt "$R/harmonize-array.sbatch"
    # dry run of task 1 with 2 datasets per task: the 3rd and 4th lines
    run -0 env SLURM_ARRAY_TASK_ID=1 PER_TASK=2 LIST=list.txt OUT=out DRY_RUN=1 \
        HARMONIZE="$HARM" "$R/harmonize-array.sbatch"
    [[ $(grep -c '^sc-harmonize ' <<< "$output") -eq 2 ]]
    [[ $output == *"$(sed -n 3p list.txt)"* && $output == *"$(sed -n 4p list.txt)"* ]]
    [[ $output == *"--min-mapped-genes 1000"* ]]
    [[ -z $(ls out/harmonized 2>/dev/null) ]]
    # task 0 for real, then again: up to date
    run -0 env SLURM_ARRAY_TASK_ID=0 SLURM_CPUS_PER_TASK=2 PER_TASK=2 LIST=list.txt OUT=out \
        HARMONIZE="$HARM" "$R/harmonize-array.sbatch"
    for f in $(sed -n 1,2p list.txt); do
        n=$(basename "$f"); n=${n%.*}
        n=$n-$(printf '%s' "$f" | sha256sum | cut -c1-8)
        [[ -s out/annotated/$n.tsv ]]
    done
    run -0 env SLURM_ARRAY_TASK_ID=0 PER_TASK=2 LIST=list.txt OUT=out \
        HARMONIZE="$HARM" "$R/harmonize-array.sbatch"
    [[ $(grep -c 'up to date' <<< "$output") -eq 2 ]]
    # register what the tasks did (task 1 not run: its inputs are left
    # out): the 10x file refused, a corpus dataset with a complete lineage
    sc-register --db reg.db init
    run -0 --separate-stderr env LIST=list.txt OUT=out REGISTER="--db reg.db" \
        "$R/harmonize-array.sbatch" register
    [[ $(grep -c $'\tnew$' <<< "$output") -eq 1 && $(grep -c $'\tskipped$' <<< "$output") -eq 1 ]]
    [[ $(sc-register --db reg.db query | tail -n +2 | wc -l) -eq 4 ]]
    for f in out/annotated/*/*.h5ad; do
        k=$(basename "$(dirname "$f")")
        run -0 sc-register --db reg.db lineage --up "$f"
        [[ $output != *"not registered"* ]]
        [[ $output == *"sc-annotate "*"/out/harmonized/$k/"*"sc-harmonize "*"<- artifact "*"/raw/"* ]]
    done
    # same-named inputs from two directories: two keys, two outputs
    mkdir -p twin/a twin/b
    cp "$(sed -n 1p list.txt)" twin/a/x.h5ad
    cp "$(sed -n 1p list.txt)" twin/b/x.h5ad
    printf '%s\n' "$PWD/twin/a/x.h5ad" "$PWD/twin/b/x.h5ad" '/tmp/$(touch PWNED).h5ad' > twin.txt
    run -1 env SLURM_ARRAY_TASK_ID=0 PER_TASK=3 LIST=twin.txt OUT=tw \
        HARMONIZE="$HARM" "$R/harmonize-array.sbatch"
    [[ $output == *"unsafe file name (rename it)"* && ! -e PWNED ]]
    [[ $(ls tw/annotated/x-*.tsv | wc -l) -eq 2 ]]
    [[ $(ls tw/harmonized/x-*/x.* | wc -l) -ge 2 ]]
}

teardown() {
    pg_stop    # the server of the PostgreSQL test, if it started one
}

# fake_sbatch DIR: an executable DIR/sbatch standing in for Slurm's: it
# runs every task of --array=FIRST-LAST[%N] here, all at once, with the
# variables of --export=ALL,K=V,... and waits for them (as --wait does)
fake_sbatch() {
    mkdir -p "$1"
    cat > "$1/sbatch" <<'SH'
#!/bin/bash
arr= exp=ALL
while [[ $1 == --* ]]; do
    case $1 in
    --array=*) arr=${1#--array=} ;;
    --export=*) exp=${1#--export=} ;;
    esac
    shift
done
range=${arr%%\%*}
IFS=, read -r -a kv <<< "$exp"
vars=()
for x in "${kv[@]}"; do [[ $x == ALL ]] || vars+=("$x"); done
pids=()
for ((t = ${range%-*}; t <= ${range#*-}; t++)); do
    env "${vars[@]}" SLURM_ARRAY_TASK_ID=$t "$@" > "slurm-$t.out" 2>&1 &
    pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
SH
    chmod +x "$1/sbatch"
}

@test "recipes: with SC_REGISTRY a postgresql:// URI, the array tasks (the README's team set-up) and the Makefile register into PostgreSQL" {
    "$SC_ROOT/tests/pg-server.sh" available ||
        skip "PostgreSQL is not installed (scripts/install-deps.sh installs it)"
    pg_start
    cd "$BATS_TEST_TMPDIR"
    mkdir data
    raw data/raw
    ln -s "$SC_ROOT/scripts" scripts
    fake_sbatch bin
    # the README's block as written, on this test's server, with /data here
    # and one dataset per task: 3 corpus datasets, 3 concurrent tasks
    uri=$(pg_newdb registry)
    awk '/^- \*\*Team set-up/ { p = 1 } p && /^  ```sh$/ { b = 1; next } b && /^  ```$/ { exit }
        b { sub(/^  /, ""); print }' "$SC_ROOT/README.md" |
        sed -e "s|postgresql://db.example.org/registry|$uri|" -e "s|/data/|$PWD/data/|g" \
            -e 's/per=10/per=1/' > team.sh
    grep -q 'sbatch --wait' team.sh
    grep -q 'collection export lung@1' team.sh
    run -0 env PATH="$PWD/bin:$PATH" HARMONIZE="$HARM" bash -euo pipefail team.sh
    export SC_REGISTRY=$uri
    cat slurm-*.out
    [[ $(ls slurm-*.out | wc -l) -eq 3 ]]
    [[ $(cat slurm-*.out | grep -c $'\tnew$') -eq 3 ]]
    # inputs, harmonized and annotated: 9 artifacts; the collection holds
    # the 3 annotated ones, each with its lineage down to its input
    [[ $(sc-register query | tail -n +2 | wc -l) -eq 9 ]]
    [[ $(tail -n +2 lung1.tsv | wc -l) -eq 3 ]]
    for f in $(tail -n +2 lung1.tsv | cut -f1); do
        [[ $f == "$PWD/data/work/annotated/"* ]]
        run -0 sc-register lineage --up "$f"
        [[ $output == *"sc-annotate "*"/data/work/harmonized/"*"sc-harmonize "*"<- artifact "*"/data/raw/"* ]]
    done
    # "register" afterwards: everything known already
    ls "$PWD"/data/raw/*.h5ad > list.txt
    run -0 --separate-stderr env LIST=list.txt OUT=data/work "$R/harmonize-array.sbatch" register
    [[ $(grep -c $'\tnew$' <<< "$output") -eq 0 && $(grep -c $'\tknown$' <<< "$output") -eq 3 ]]
    # --db in REGISTER wins over SC_REGISTRY: the refused 10x file's task
    other=$(pg_newdb other)
    sc-register --db "$other" init
    ls "$PWD"/data/raw/*.h5 > tenx.txt
    run -0 env SLURM_ARRAY_TASK_ID=0 LIST=tenx.txt OUT=tenx HARMONIZE="$HARM" \
        REGISTER="--db $other" "$R/harmonize-array.sbatch"
    [[ $output == *$'\tskipped'* ]]
    [[ $(sc-register --db "$other" query | tail -n +2 | wc -l) -eq 1 ]]
    [[ $(sc-register query | tail -n +2 | wc -l) -eq 9 ]]
    # the Makefile's register step, into another database through SC_REGISTRY
    SC_REGISTRY=$(pg_newdb mk)
    sc-register init
    run -0 make -f "$R/Makefile" -j2 HARMONIZE="$HARM" IN=data/raw OUT=mk all register
    [[ $(grep -c $'\tnew$' mk/registered-inputs.tsv) -eq 4 ]]
    [[ $(grep -c $'\tnew$' mk/registered-annotated.tsv) -eq 3 ]]
    [[ $(sc-register query | tail -n +2 | wc -l) -eq 10 ]]
    [[ -z $(compgen -G "*.db") ]]
}

@test "recipes: 2 CPU ranks (gloo) each stream their own share and train" {
    cd "$BATS_TEST_TMPDIR"
    sc-register --db reg.db init > /dev/null
    sc-harmonize -q $HARM -d h "$CORPUS"/*.h5ad | sc-annotate annotate -q -d a |
        sc-register --db reg.db add > /dev/null
    sc-register --db reg.db collection create c > /dev/null
    sc-register --db reg.db collection add c --transform sc-annotate > /dev/null
    sc-register --db reg.db collection freeze c > /dev/null
    sc-register --db reg.db collection export c@1 > c.tsv
    total=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "n_obs") k = i; next } { s += $k } END { print s }' c.tsv)
    run -0 --separate-stderr env NPROC=2 BACKEND=gloo SC_STREAM_CACHE=$PWD/cache \
        "$R/train-ddp.sh" c.tsv model.pt --batch-size 64
    echo "$output" "$stderr"
    [[ $stderr == *"2 ranks, backend gloo"* ]]
    [[ -s model.pt ]]
    # each rank saw the same number of batches and a disjoint share: the
    # cells add up to the collection's
    r0=$(grep '^rank 0/2: epoch 0:' <<< "$output")
    r1=$(grep '^rank 1/2: epoch 0:' <<< "$output")
    b0=$(sed -E 's/.*: ([0-9]+) batches.*/\1/' <<< "$r0")
    b1=$(sed -E 's/.*: ([0-9]+) batches.*/\1/' <<< "$r1")
    c0=$(sed -E 's/.*batches, ([0-9]+) cells.*/\1/' <<< "$r0")
    c1=$(sed -E 's/.*batches, ([0-9]+) cells.*/\1/' <<< "$r1")
    [[ $b0 -eq $b1 && $b0 -gt 0 ]]
    [[ $((c0 + c1)) -eq $total ]]
    run -0 $PY -c 'import sys, torch; c = torch.load(sys.argv[1]); print(c["world_size"], len(c["genes"]) > 0)' model.pt
    [[ $output == "2 True" ]]
    # and the run is registered with the collection as input
    run=$(sc-register --db reg.db run start --tool train.py --input c@1)
    sc-register --db reg.db run finish "$run" --output-file model.pt > /dev/null
    run -0 sc-register --db reg.db lineage --up model.pt
    [[ $output == *"collection  c@1"* ]]
}
