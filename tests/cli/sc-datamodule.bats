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

@test "sc_datamodule: a vocabulary file sc_vocab_read refuses is refused, naming the file and line" {
    local h='code\tterm_id\tlabel\tis_leaf\tdepth\tn_cells' v=$BATS_TEST_TMPDIR/vocab_cell_type.tsv
    # good: the unknown line skipped, a term whose id and label are the same,
    # the coarse columns (data, not names); no header: every field a name
    printf '%b\tcoarse_id\tcoarse_label\n-1\tunknown\tunknown\t0\t-1\t0\t\t\n0\tCL:1\tT cell\t1\t2\t5\tCL:0\tX\n1\tCL:2\tCL:2\t0\t1\t0\tCL:0\tX\n' "$h" > "$v"
    run -0 check vocab "$v"
    [[ $output == "0=CL:1 1=CL:2" ]]
    printf '# a comment\n0\tCL:1\tT cell\n\n1\tCL:2\n' > "$v"
    run -0 check vocab "$v"
    [[ $output == "0=CL:1 1=CL:2" ]]
    # refused: one name with two codes, codes not 0, 1, 2, ..., an empty
    # term, a short line, no term, bad headers, an empty file (CONTENT|MESSAGE)
    local content msg
    while IFS='|' read -r content msg; do
        printf '%b' "$content" > "$v"
        run -1 check vocab "$v" < /dev/null
        [[ $output == "error: '$v'$msg" ]] || { echo "$content: $output"; false; }
    done <<EOF
$h\n0\tCL:1\tT cell\t1\t1\t3\n1\tCL:2\tT cell\t1\t1\t3\n| line 3: duplicate term 'T cell' (codes 0 and 1)
0\tCL:1\n1\tCL:2\tCL:1\n| line 2: duplicate term 'CL:1' (codes 0 and 1)
$h\n0\tCL:1\tT\t1\t1\t3\n2\tCL:2\tB\t1\t1\t3\n| line 3: code 2, expected 1
$h\n1\tCL:1\tT\t1\t1\t3\n| line 2: code 1, expected 0
$h\nx\tCL:1\tT\t1\t1\t3\n| line 2: not a code: 'x'
$h\n0\t\tT\t1\t1\t3\n| line 2: empty term
$h\n0\tCL:1\tT\t1\n| line 2: 4 fields, header has 6
0\tCL:1\n1\n| line 2: no term after the code
id\tterm_id\n0\tCL:1\n| line 1: bad header: the first column is not 'code' but 'id'
code\tlabel\tlabel\n| line 1: bad header: duplicate column 'label'
code\t\tlabel\n| line 1: bad header: an empty column name
code\tis_leaf\n| line 1: bad header: no column names the term (term_id, label, ...)
# nothing\n\n|: empty vocabulary file (no header, no terms)
EOF
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
