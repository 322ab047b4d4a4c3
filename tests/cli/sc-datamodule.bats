#!/usr/bin/env bats
# python/sc_datamodule.py: the DataModule over sc-stream (issue 16, item 6):
# its options as sc-stream flags, splits, label encoders from sc-annotate
# export, organism gene offsets and the collator, through DataLoader workers.
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    load helpers
    local c
    c=$(test_corpus --datasets 4 --cells 2000 --genes 200:400 --nnz 50 --mess 0 --seed 3 --cells-min 100 -j 2)
    cd "$BATS_FILE_TMPDIR"
    ln -sf "$c" corpus
}

setup() {
    cd "$BATS_FILE_TMPDIR"
    export SC_STREAM_CACHE=$BATS_FILE_TMPDIR/cache
    unset RANK WORLD_SIZE SLURM_PROCID SLURM_NTASKS
}

check() { "$BATS_TEST_DIRNAME/datamodule_check.py" "$@"; }
files() { ls "$BATS_FILE_TMPDIR"/corpus/ds*.h5ad; }

@test "sc_datamodule: every option is an sc-stream flag; binning by quantiles" {
    run -0 check flags
    [[ $output == ok ]]
}

@test "sc_datamodule: train, val and test by dataset are disjoint and whole, each cell once through workers" {
    run -0 check splits $(files)
    [[ $output == "train="*" val="*" test="* ]]
}

@test "sc_datamodule: class codes are those of sc-annotate export's vocabulary" {
    export XDG_CACHE_HOME=$SC_BUILD/cache
    files | sed '1i path' > m.tsv
    sc-annotate export --fields cell_type -d labels - < m.tsv > /dev/null
    run -0 check labels labels $(files)
    [[ $output -gt 1000 ]]
}

@test "sc_datamodule: one gene list per organism, each dataset at its organism's offset" {
    { printf 'path\torganism\n'; i=0; for f in $(files); do
        i=$((i + 1)); [[ $i == 2 ]] && o=mouse || o=human; printf '%s\t%s\n' "$f" "$o"; done; } > org.tsv
    $PY - org.tsv <<'PY'
import csv, sys, anndata
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
genes = {"human": [], "mouse": []}
for r in rows:
    genes[r["organism"]] += [g for g in anndata.read_h5ad(r["path"], backed="r").var_names if g not in genes[r["organism"]]]
mouse = set(genes["mouse"])
open("human.txt", "w").write("# human\n" + "".join(g + "\n" for g in genes["human"] if g not in mouse))
open("mouse.txt", "w").write("".join(g + "\n" for g in genes["mouse"]))
PY
    run -0 check genes org.tsv human.txt mouse.txt
    [[ $output == "human="*" mouse="* ]]
}

@test "sc_datamodule: top genes binned in the workers, weighted training draws" {
    run -0 check collate $(files)
    [[ $output == ok ]]
}

@test "sc_datamodule: add_zero_genes and downsampling as scDataLoader's, deterministic for a seed" {
    run -0 check zeros $(files)
    [[ $output == ok ]]
}
