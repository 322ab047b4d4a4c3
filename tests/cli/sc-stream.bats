#!/usr/bin/env bats
# sc-stream: many datasets as one shuffled, weighted, sharded stream of cell
# batches (issue 8). Values and labels are checked against anndata's reads
# of the same rows (tests/cli/stream_check.py).
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    load helpers
    stream_corpus
    export SC_STREAM_CACHE=$BATS_FILE_TMPDIR/cache
    # a tiny dataset, for the many-files test
    $PY -c '
import anndata as ad, numpy as np, pandas as pd, scipy.sparse as sp
X = sp.random(10, 20, density=0.3, format="csr", random_state=1, dtype=np.float32)
X.data = np.ceil(X.data * 10)
obs = pd.DataFrame({"ct": pd.Categorical(["a", "b"] * 5)}, index=["c%d" % i for i in range(10)])
ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=["g%d" % i for i in range(20)])).write_h5ad("tiny.h5ad")'
}

setup() {
    cd "$BATS_FILE_TMPDIR"
    export SC_STREAM_CACHE=$BATS_FILE_TMPDIR/cache
    unset RANK WORLD_SIZE SLURM_PROCID SLURM_NTASKS
}

check() { "$BATS_TEST_DIRNAME/stream_check.py" "$@"; }
files() { ls "$BATS_FILE_TMPDIR"/corpus/ds*.h5ad; }

@test "sc-stream: --help lists the options on stdout" {
    run -0 --separate-stderr sc-stream --help
    [[ $output == "Usage: sc-stream"* && $output == *"--world-size"* && $output == *"--top-genes"* ]]
    [[ -z $stderr ]]
}

@test "sc-stream: --version" {
    run -0 sc-stream --version
    [[ $output == "sc-stream "* ]]
}

@test "sc-stream: unknown option and bad values are usage errors" {
    run -2 --separate-stderr sc-stream --no-such-flag
    [[ $stderr == "sc-stream: "* ]]
    run -2 --separate-stderr sc-stream --join sideways corpus/ds000.h5ad
    [[ $stderr == *"unknown join"* ]]
    run -2 --separate-stderr sc-stream - < /dev/null
    [[ $stderr == *"seekable"* ]]
}

@test "sc-stream: a missing input fails with its name" {
    run -1 --separate-stderr sc-stream -O text nosuch.h5ad
    [[ $stderr == "sc-stream: error: "*"nosuch.h5ad"* ]]
}

@test "sc-stream: a bad filter or rank fails clearly" {
    run -1 --separate-stderr sc-stream -O text -f 'assay' corpus/ds000.h5ad
    [[ $stderr == *"no operator"* ]]
    run -1 --separate-stderr sc-stream -O text --rank 3 --world-size 2 corpus/ds000.h5ad
    [[ $stderr == *"rank 3"* ]]
    run -1 --separate-stderr sc-stream -O text $(files)
    [[ $stderr == *"--join"* ]]
}

@test "sc-stream: -o FILE, and -o /dev/full fails" {
    run -0 sc-stream --join outer -o out.bin $(files)
    [[ -s out.bin ]]
    run -0 sc-stream dump out.bin
    [[ ${lines[0]} == "#sc-batch"*"cells=2000"* ]]
    run -1 --separate-stderr sc-stream --join outer -o /dev/full $(files)
    [[ $stderr == *"No space left on device"* ]]
}

@test "sc-stream: -k leaves out a broken dataset and exits 3" {
    printf 'not hdf5\n' > broken.h5ad
    run -3 --separate-stderr sc-stream -k --join outer -o k.bin corpus/ds000.h5ad broken.h5ad corpus/ds001.h5ad
    [[ $stderr == *"broken.h5ad"* ]]
    run -0 sc-stream dump --header k.bin
    [[ $output == *"datasets=2"* ]]
}

@test "sc-stream: a manifest on stdin, text output under head" {
    { printf 'path\tid\n'; for f in $(files); do printf '%s\t%s\n' "$f" "$(basename "$f" .h5ad)"; done; } > m.tsv
    run -0 bash -c 'sc-stream --join outer -O text -b 8 --datasets ds001,2 < m.tsv | head -3'
    [[ ${lines[0]} == "#sc-batch"* && ${lines[1]} == "#batch"* ]]
    run -0 bash -c 'sc-stream --join outer -b 8 --datasets ds001,2 -m m.tsv | sc-stream dump --header'
    [[ $(grep -c '^#dataset' <<< "$output") -eq 2 ]]
}

@test "sc-stream: an epoch over 3 ranks yields every cell once, values as anndata reads them" {
    for r in 0 1 2; do
        RANK=$r WORLD_SIZE=3 sc-stream --join outer -l cell_type,assay_ontology_term_id,is_primary_data \
            -b 64 --block 8 --buffer 4 --seed 5 -o r$r.bin $(files)
    done
    run -0 check values r0.bin r1.bin r2.bin
    [[ $output == '{"cells": 2000, "unique": 2000, "dups": 0, "batches": [11, 11, 11]}' ]]
}

@test "sc-stream: ranks are disjoint with equal batch counts, padded or dropped" {
    for r in 0 1 2 3; do
        SLURM_PROCID=$r SLURM_NTASKS=4 sc-stream --join outer -b 96 --uneven drop -o d$r.bin $(files)
    done
    run -0 check values d0.bin d1.bin d2.bin d3.bin
    # 500 cells per rank: 5 full batches each, 20 cells per rank dropped
    [[ $output == '{"cells": 1920, "unique": 1920, "dups": 0, "batches": [5, 5, 5, 5]}' ]]
    for r in 0 1 2 3; do
        sc-stream --rank $r --world-size 4 --join outer -b 96 -o p$r.bin $(files)
    done
    run -0 check values p0.bin p1.bin p2.bin p3.bin
    [[ $output == '{"cells": 2000, "unique": 2000, "dups": 0, "batches": [6, 6, 6, 6]}' ]]
    # more ranks (16) than cells (10): one padded batch each all the same
    for r in $(seq 0 15); do
        sc-stream --rank $r --world-size 16 -b 4 -o t$r.bin tiny.h5ad
    done
    run -0 check values $(for r in $(seq 0 15); do echo t$r.bin; done)
    [[ $output == '{"cells": 10, "unique": 10, "dups": 0, "batches": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}' ]]
}

@test "sc-stream: same seed and epoch give the same stream, another epoch another order" {
    sc-stream --join outer --seed 9 --epoch 1 -o a.bin $(files)
    sc-stream --join outer --seed 9 --epoch 1 -o b.bin $(files)
    sc-stream --join outer --seed 9 --epoch 2 -o c.bin $(files)
    cmp a.bin b.bin
    ! cmp -s a.bin c.bin
    # the same cells in another order
    diff <(sc-stream dump a.bin | awk -F'\t' '$2 == 0 { print $3, $4 }' | sort) \
        <(sc-stream dump c.bin | awk -F'\t' '$2 == 0 { print $3, $4 }' | sort)
}

@test "sc-stream: reader threads (-@ 2, 3, 4) give the same stream, also on gzip chunks" {
    sc-stream --join outer --seed 9 -b 64 --block 4 --buffer 8 --rank 1 --world-size 2 -o s1.bin $(files)
    for t in 2 3 4; do
        sc-stream -@ $t --join outer --seed 9 -b 64 --block 4 --buffer 8 --rank 1 --world-size 2 -o s$t.bin $(files)
        cmp s1.bin s$t.bin
    done
    # the same datasets with their values in small gzip chunks
    gzip_copies gz 500 $(files)
    sc-stream --join outer --seed 9 -b 64 --buffer 8 -o g1.bin gz/*.h5ad
    run -0 check values g1.bin
    for t in 2 3; do
        sc-stream -@ $t --join outer --seed 9 -b 64 --buffer 8 -o g$t.bin gz/*.h5ad
        cmp g1.bin g$t.bin
    done
    sc-stream --join outer -n 3000 --weight-by cell_type -b 100 --block 8 --buffer 4 -o w1.bin $(files)
    sc-stream -@ 0 --join outer -n 3000 --weight-by cell_type -b 100 --block 8 --buffer 4 -o w2.bin $(files)
    cmp w1.bin w2.bin
}

@test "sc-stream: resuming at --start-batch gives the tail of the full run" {
    sc-stream --join outer --rank 1 --world-size 2 -b 50 --seed 4 -O text $(files) | grep -v '^#' > full.txt
    sc-stream --join outer --rank 1 --world-size 2 -b 50 --seed 4 --start-batch 7 -O text $(files) | grep -v '^#' > tail.txt
    diff <(awk -F'\t' '$1 >= 7' full.txt) tail.txt
    # 1,000 cells per rank: 20 batches, 13 after the first 7
    [[ $(wc -l < tail.txt) -eq $((50 * 13)) ]]
}

@test "sc-stream: sequential order without shuffling" {
    run -0 bash -c "sc-stream --join outer --no-shuffle -O text -b 1000 $(files | head -1) | awk -F'\t' 'NR > 2 { print \$4 }' | head -5"
    [[ $output == $'0\n1\n2\n3\n4' ]]
}

@test "sc-stream: inner join and identical genes put values in the right columns" {
    # datasets of one organism share genes
    human=$($PY -c 'import anndata,sys; print(" ".join(p for p in sys.argv[1:] if anndata.read_h5ad(p, backed="r").uns["organism_ontology_term_id"] == "NCBITaxon:9606"))' $(files))
    sc-stream --join inner -b 100 -o inner.bin $human
    run -0 check values inner.bin
    n=$($PY -c 'import anndata,sys; print(sum(anndata.read_h5ad(p, backed="r").n_obs for p in sys.argv[1:]))' $human)
    [[ $output == *"\"cells\": $n, \"unique\": $n"* ]]
    run -0 sc-stream dump inner.bin
    [[ ${lines[0]} == *"genes="* ]]
    # one dataset twice: identical genes, no join needed
    sc-stream -b 100 -o same.bin corpus/ds001.h5ad corpus/ds001.h5ad
    run -0 check values same.bin
}

@test "sc-stream: reference gene lists per organism with offsets" {
    # human and mouse lists from the corpus's genes, in another order, with
    # genes no dataset has
    $PY - <<'PY'
import anndata, glob
org = {}
for p in sorted(glob.glob("corpus/ds*.h5ad")):
    a = anndata.read_h5ad(p, backed="r")
    org.setdefault(a.uns["organism_ontology_term_id"], set()).update(a.var_names)
for o, name in (("NCBITaxon:9606", "human"), ("NCBITaxon:10090", "mouse")):
    genes = sorted(org.get(o, ()), reverse=True)[::2] + ["ENSFAKE%05d" % i for i in range(5)]
    open(name + ".txt", "w").write("# %s\n" % o + "\n".join(genes) + "\n")
PY
    sc-stream --genes NCBITaxon:9606=human.txt --genes mouse=mouse.txt -b 100 -o ref.bin $(files)
    run -0 check values ref.bin
    [[ $output == *'"cells": 2000, "unique": 2000'* ]]
    run -0 bash -c 'sc-stream dump --header ref.bin | grep -c "^#gene"'
    [[ $output -eq $(( $(grep -vc '^#' human.txt) + $(grep -vc '^#' mouse.txt) )) ]]
    run -1 --separate-stderr sc-stream --genes mouse=mouse.txt -O text $(files)
    [[ $stderr == *"no reference gene list for organism"* ]]
}

@test "sc-stream: filters and minimum genes select what anndata selects" {
    want=$(check count --filter is_primary_data=True --filter 'assay_ontology_term_id=EFO:0009899,EFO:0009922' --min-genes 40 $(files))
    sc-stream --join outer -f 'is_primary_data == True' -f 'assay_ontology_term_id in EFO:0009899,EFO:0009922' \
        --min-genes 40 -b 32 -o f.bin $(files)
    run -0 check values f.bin
    [[ $output == "{\"cells\": $want, \"unique\": $want, "* ]]
    all=$(check count $(files))
    v2=$(check count --filter assay_ontology_term_id=EFO:0009899 $(files))
    sc-stream --join outer -f 'assay_ontology_term_id not in EFO:0009899' -O text -b 5000 -o not.txt $(files)
    [[ $(awk -F'\t' 'NR > 2 && $2 == 0' not.txt | wc -l) -eq $((all - v2)) ]]
}

@test "sc-stream: labels from a vocabulary file, unknown terms are -1" {
    printf 'code\tterm_id\tlabel\n0\tEFO:0009922\t10x 3'"'"' v3\n1\tEFO:0009899\t10x 3'"'"' v2\n' > assay.tsv
    sc-stream --join outer -l assay_ontology_term_id,assay --vocab assay_ontology_term_id=assay.tsv --vocab assay=assay.tsv \
        -b 2000 -o v.bin $(files)
    run -0 bash -c 'sc-stream dump v.bin | awk -F"\t" "NR > 2 { print \$5 \"|\" \$6 }" | sort -u'
    for l in "${lines[@]}"; do
        case $l in
        "EFO:0009922|EFO:0009922"|"EFO:0009899|EFO:0009899"|"NA|NA") ;;
        *) echo "unexpected: $l"; return 1 ;;
        esac
    done
}

@test "sc-stream: an export's vocabulary file, and a damaged one fails naming it" {
    # the export's layout: the unknown line is skipped, one term
    printf 'code\tterm_id\tlabel\tis_leaf\tdepth\tn_cells\n-1\tunknown\tunknown\t0\t-1\t0\n0\tEFO:0009922\tv3\t1\t1\t5\n' > ex.tsv
    sc-stream --join outer -l assay_ontology_term_id --vocab assay_ontology_term_id=ex.tsv -b 2000 -o ex.bin $(files)
    run -0 bash -c "sc-stream dump --header ex.bin | grep '^#label'"
    [[ ${#lines[@]} -eq 1 && ${lines[0]} == *EFO:0009922* ]]
    printf 'code\tterm_id\n0\tEFO:0009922\n1\tEFO:0009922\n' > dup.tsv
    run -1 --separate-stderr sc-stream --join outer -l assay_ontology_term_id --vocab assay_ontology_term_id=dup.tsv -O text -o x.txt $(files)
    [[ $stderr == *"'dup.tsv' line 3: duplicate term 'EFO:0009922' (codes 0 and 1)"* ]]
    : > empty.tsv
    run -1 --separate-stderr sc-stream --join outer -l assay_ontology_term_id --vocab assay_ontology_term_id=empty.tsv -O text -o x.txt $(files)
    [[ $stderr == *"'empty.tsv': empty vocabulary file"* ]]
    printf 'id\tterm_id\n0\tEFO:0009922\n' > hdr.tsv
    run -1 --separate-stderr sc-stream --join outer -l assay_ontology_term_id --vocab assay_ontology_term_id=hdr.tsv -O text -o x.txt $(files)
    [[ $stderr == *"'hdr.tsv' line 1: bad header"* ]]
}

@test "sc-stream: weighted sampling by class follows the weights (chi-square)" {
    # inverse class frequency: every cell type equally often
    sc-stream --join outer -l cell_type -n 20000 --weight-by cell_type --weight-scheme inv -b 500 --seed 3 -o w.bin $(files)
    k=$(sc-stream dump --header w.bin | grep -c '^#label')
    run -0 check freq --by cell_type --expect "$(yes 1 | head -"$k" | paste -sd,)" w.bin
    awk -v p="$output" 'BEGIN { exit !(p > 0.001) }'
    # and the values are still the rows anndata reads
    run -0 check values w.bin
    [[ $output == *'"cells": 20000'* ]]
}

@test "sc-stream: dataset weights from the manifest and the scaler scheme" {
    { printf 'path\tweight\n'; i=0; for f in $(files); do i=$((i + 1)); printf '%s\t%d\n' "$f" $i; done; } > wm.tsv
    sc-stream --join outer -m wm.tsv --dataset-weights -n 20000 -b 500 --seed 8 -o dw.bin
    n=$($PY -c 'import anndata,sys; print(",".join(str(anndata.read_h5ad(p, backed="r").n_obs * (i + 1)) for i, p in enumerate(sys.argv[1:])))' $(files))
    run -0 check freq --by dataset --expect "$n" dw.bin
    awk -v p="$output" 'BEGIN { exit !(p > 0.001) }'
    # scaler: a class of n cells gets s*n/(n+s) of the mass
    sc-stream --join outer -l cell_type -n 20000 --weight-by cell_type --scaler 50 -b 500 --seed 3 -o sw.bin $(files)
    w=$(sc-stream dump --header sw.bin | awk -F'\t' '$1 == "#label" { print $4 }' | $PY -c '
import sys, glob, anndata, collections
c = collections.Counter()
for p in sorted(glob.glob("corpus/ds*.h5ad")):
    c.update(map(str, anndata.read_h5ad(p, backed="r").obs["cell_type"]))
print(",".join(repr(50 * c[t] / (c[t] + 50)) for t in sys.stdin.read().split("\n") if t))')
    run -0 check freq --by cell_type --expect "$w" sw.bin
    awk -v p="$output" 'BEGIN { exit !(p > 0.001) }'
}

@test "sc-stream: weighted draws by block from gzip chunks: every draw follows the weights (chi-square)" {
    gz=$(test_corpus --datasets 3 --cells 3000 --genes 200:300 --nnz 50 --mess 0 --seed 4 --cells-min 500 --compression gzip -j 2)
    # by default the draws of a group share a drawn block of chunks
    sc-stream --join outer -l cell_type -n 40000 --weight-by cell_type --weight-scheme inv -b 500 --seed 3 -o gw.bin "$gz"/ds*.h5ad
    g=$(sc-stream dump --header gw.bin | awk -F'\t' '$2 == "block_draws" { print $3 }')
    [[ $g -gt 1 ]]
    run -0 check values gw.bin
    [[ $output == *'"cells": 40000'* ]]
    # unshuffled groups of 8: the draws at one place in every group are
    # independent, and each must follow the weights
    k=$(sc-stream dump --header gw.bin | grep -c '^#label')
    sc-stream --join outer -l cell_type -n 40000 --weight-by cell_type --weight-scheme inv --block-draws 8 --no-shuffle \
        -b 500 --seed 3 -o g8.bin "$gz"/ds*.h5ad
    for r in 0 7; do
        run -0 check freq --by cell_type --expect "$(yes 1 | head -"$k" | paste -sd,)" --every 8 --offset "$r" g8.bin
        awk -v p="$output" 'BEGIN { exit !(p > 0.0005) }'
    done
    # the test has power: the unweighted class sizes are rejected
    n=$($PY -c 'import anndata,sys,collections
c = collections.Counter()
for p in sys.argv[2:]: c.update(map(str, anndata.read_h5ad(p, backed="r").obs["cell_type"]))
print(",".join(str(c[t]) for t in open(sys.argv[1]).read().split("\n") if t))' <(sc-stream dump --header g8.bin | awk -F'\t' '$1 == "#label" { print $4 }') "$gz"/ds*.h5ad)
    run -0 check freq --by cell_type --expect "$n" --every 8 --offset 0 g8.bin
    awk -v p="$output" 'BEGIN { exit !(p < 1e-6) }'
    # dataset weights: a group's draws all come from one dataset
    { printf 'path\tweight\n'; i=0; for f in "$gz"/ds*.h5ad; do i=$((i + 1)); printf '%s\t%d\n' "$f" $i; done; } > gm.tsv
    sc-stream --join outer -m gm.tsv --dataset-weights -n 40000 --block-draws 8 --no-shuffle -b 500 --seed 8 -o gd.bin
    n=$($PY -c 'import anndata,sys; print(",".join(str(anndata.read_h5ad(p, backed="r").n_obs * (i + 1)) for i, p in enumerate(sys.argv[1:])))' "$gz"/ds*.h5ad)
    run -0 check freq --by dataset --expect "$n" --every 8 --offset 3 gd.bin
    awk -v p="$output" 'BEGIN { exit !(p > 0.001) }'
    # the same stream for any number of threads and across ranks
    sc-stream -@ 0 --join outer -l cell_type -n 40000 --weight-by cell_type --weight-scheme inv -b 500 --seed 3 -o gw0.bin "$gz"/ds*.h5ad
    cmp gw.bin gw0.bin
    for r in 0 1; do
        sc-stream --rank $r --world-size 2 --join outer -l cell_type -n 40000 --weight-by cell_type --weight-scheme inv \
            -b 500 --seed 3 -O text -o gr$r.txt "$gz"/ds*.h5ad
    done
    sc-stream dump gw.bin > gw.txt
    diff <(grep -v '^#' gw.txt | cut -f3,4 | sort) <(cat gr0.txt gr1.txt | grep -v '^#' | cut -f3,4 | sort)
}

@test "sc-stream: per-cell weights by expressed genes" {
    sc-stream --join outer -n 5000 --cell-weight nnz -b 500 -o nnz.bin $(files)
    run -0 check values nnz.bin
    [[ $output == *'"cells": 5000'* ]]
}

@test "sc-stream: normalize and log1p in C match anndata's values transformed" {
    sc-stream --join outer --normalize=1000 --log1p -b 100 -o n.bin $(files)
    run -0 check values --normalize 1000 --log1p n.bin
    [[ $output == *'"cells": 2000'* ]]
}

@test "sc-stream: top and random expressed genes per cell, padded; dense rows" {
    sc-stream --join outer --top-genes 20 -b 100 -o top.bin $(files)
    run -0 check values --top 20 top.bin
    sc-stream --join outer --random-genes 20 -b 100 -o rnd.bin $(files)
    run -0 check values rnd.bin
    run -0 bash -c 'sc-stream dump rnd.bin | awk -F"\t" "NR > 2 { print \$5 }" | sort -u'
    [[ $output == "20" ]]
    sc-stream --dense -b 100 -o dense.bin corpus/ds001.h5ad
    run -0 check values dense.bin
    # dense over a gene subset: a reference list of every 7th of its genes
    $PY -c 'import anndata; print("\n".join(anndata.read_h5ad("corpus/ds001.h5ad", backed="r").var_names[::7]))' > sub.txt
    sc-stream --genes sub.txt --dense -b 100 -o sub.bin corpus/ds001.h5ad
    run -0 check values sub.bin
    run -0 bash -c 'sc-stream dump sub.bin | awk -F"\t" "NR == 3 { print split(\$6, v, \",\") }"'
    [[ $output == $(wc -l < sub.txt) ]]
}

@test "sc-stream: datasets whose gene orders disagree: values right, columns ascending" {
    # a shared order, its reverse, a shuffle with some genes of its own, and
    # a file whose rows store their columns in descending order
    $PY -c '
import anndata as ad, numpy as np, pandas as pd, scipy.sparse as sp
rng = np.random.default_rng(4)
genes = ["G%03d" % i for i in range(300)]
orders = [genes[:250], genes[::-1][:200], list(rng.permutation(genes[50:])) + ["X1", "X2"], genes[::3]]
for k, var in enumerate(orders):
    X = sp.random(60, len(var), density=0.2, format="csr", random_state=k, dtype=np.float32)
    X.data = np.ceil(X.data * 9)
    if k == 3:
        X.sort_indices()
        for r in range(X.shape[0]):
            lo, hi = X.indptr[r], X.indptr[r + 1]
            X.indices[lo:hi] = X.indices[lo:hi][::-1].copy()
            X.data[lo:hi] = X.data[lo:hi][::-1].copy()
        X.has_sorted_indices = False
    obs = pd.DataFrame(index=["c%d" % i for i in range(60)])
    ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=var)).write_h5ad("ord%d.h5ad" % k)'
    run -0 sc-stream --join outer -b 16 -o ord.bin ord0.h5ad ord1.h5ad ord2.h5ad ord3.h5ad
    run -0 check values ord.bin
    [[ $output == *'"cells": 240'* ]]
    run -0 sc-stream --join inner -b 16 -o ordi.bin ord0.h5ad ord1.h5ad ord2.h5ad
    run -0 check values ordi.bin
}

@test "sc-stream: gzip chunks: blocks end at chunk boundaries, each chunk inflated about once" {
    # 300-entry chunks, rows of about 40 entries that straddle them
    $PY -c '
import anndata as ad, numpy as np, pandas as pd, scipy.sparse as sp, h5py
X = sp.random(400, 500, density=0.08, format="csr", random_state=5, dtype=np.float32)
X.data = np.ceil(X.data * 20)
obs = pd.DataFrame(index=["c%d" % i for i in range(400)])
ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=["g%d" % i for i in range(500)])).write_h5ad("z.h5ad")
with h5py.File("z.h5ad", "a") as f:
    for k in ("data", "indices"):
        v = f["X"][k][:]
        del f["X"][k]
        f["X"].create_dataset(k, data=v, chunks=(300,), compression="gzip", compression_opts=4)'
    run -0 --separate-stderr sc-stream -v -b 16 --block 3 --buffer 4 --seed 2 -o z.bin z.h5ad
    run -0 check values z.bin
    [[ $output == *'"cells": 400'* && $output == *'"unique": 400'* ]]
    # every chunk inflated about once: nearly all inflated bytes are used
    run -0 --separate-stderr sc-stream -v -b 16 --block 3 --buffer 4 --seed 2 -o /dev/null z.h5ad
    used=$(sed -n 's/.*inflate:.*(\([0-9]*\)% used).*/\1/p' <<< "$stderr")
    [[ -n $used ]] && (( used >= 90 ))
}

@test "sc-stream: 10x, MTX and loom inputs, raw.X, rows in ascending gene order" {
    d=$SC_TEST_DATA
    for f in 10x_h5/cellranger3_filtered_feature_bc_matrix.h5:1107 10x_mtx/cellranger3_filtered_feature_bc_matrix:1107 \
             loom/loompy_test.loom:200; do
        run -0 sc-stream --no-cache -O text -b 100 "$d/${f%:*}"
        [[ $(awk -F'\t' 'NR > 2 && $2 == 0' <<< "$output" | wc -l) -eq ${f##*:} ]]
    done
    # raw.X of this file stores descending column indices within rows
    sc-stream --layer raw -b 100 -o raw.bin "$d/h5ad/scanpy_pbmc68k_reduced_2025.h5ad"
    run -0 $PY - raw.bin "$SC_ROOT/python" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
import numpy as np, sc_stream
n = 0
for b in sc_stream.Reader(open(sys.argv[1], "rb")):
    for i in range(b["n_cells"]):
        ix = b["indices"][b["indptr"][i]:b["indptr"][i + 1]]
        assert np.all(np.diff(ix) > 0)
    n += b["n_cells"] - b["n_pad"]
print(n)
PY
    [[ $output == 700 ]]
}

@test "sc-stream: a torn or damaged stream is detected" {
    sc-stream --join outer -b 100 -o t.bin $(files)
    head -c $(( $(stat -c %s t.bin) - 100 )) t.bin > torn.bin
    run -1 --separate-stderr sc-stream dump torn.bin
    [[ $stderr == *"torn.bin"*"stream ends"* ]]
    run -1 --separate-stderr sc-stream dump corpus/ds000.h5ad
    [[ $stderr == *"not an sc-batch stream"* ]]
}

@test "sc-stream: the index cache is used, and a changed file invalidates it" {
    cp corpus/ds000.h5ad c0.h5ad
    run -0 --separate-stderr sc-stream -v --cache-dir cc -O text -b 10000 c0.h5ad
    [[ $stderr == *"0 from the cache"* ]]
    run -0 --separate-stderr sc-stream -v --cache-dir cc -O text -b 10000 c0.h5ad
    [[ $stderr == *"1 from the cache"* ]]
    [[ $stderr == *"mixing: "*"distinct datasets per batch"* ]]
    cp corpus/ds001.h5ad c0.h5ad
    run -0 --separate-stderr sc-stream -v --cache-dir cc -O text -b 10000 c0.h5ad
    [[ $stderr == *"0 from the cache"* ]]
    run -0 sc-stream --no-cache -O text -b 10000 c0.h5ad
    [[ $(awk -F'\t' 'NR > 2 && $2 == 0' <<< "$output" | wc -l) -eq $($PY -c 'import anndata; print(anndata.read_h5ad("c0.h5ad", backed="r").n_obs)') ]]
    run -0 --separate-stderr sc-stream -v --cache-beside -O text c0.h5ad
    [[ -s c0.h5ad.scidx && $stderr == *"0 from the cache"* ]]
    run -0 --separate-stderr sc-stream -v --cache-beside -O text c0.h5ad
    [[ $stderr == *"1 from the cache"* ]]
    run -0 sc-stream index --cache-dir cc c0.h5ad
    [[ ${lines[0]} == $'path\tn_selected\tn_genes' ]]
    [[ ${lines[1]} == "c0.h5ad"$'\t'* ]]
}

@test "sc-stream: 10,000 small files with 256 open files at most" {
    mkdir -p many
    $PY -c '
import os
with open("many.tsv", "w") as m:
    m.write("path\n")
    for i in range(10000):
        p = "many/f%05d.h5ad" % i
        if not os.path.exists(p):
            os.link("tiny.h5ad", p)
        m.write(p + "\n")'
    run -0 --separate-stderr bash -c 'ulimit -n 256 && sc-stream -v --cache-dir mc -m many.tsv -l ct -b 64 -o many.bin'
    [[ $stderr == *"100000 cells selected"* ]]
    run -0 bash -c 'sc-stream dump many.bin | awk -F"\t" "NR > 2 && \$2 == 0 { print \$3, \$4 }" | sort -u | wc -l'
    [[ $output -eq 100000 ]]
}

@test "sc-stream: 300 files under ulimit -n 64 give the bytes of an unlimited run, one or two threads" {
    mkdir -p few
    for i in $(seq -w 1 300); do
        [[ -e few/f$i.h5ad ]] || ln tiny.h5ad few/f$i.h5ad
    done
    run -0 --separate-stderr sc-stream -v --cache-dir fc -l ct -b 32 --seed 4 -o few-all.bin few/f*.h5ad
    [[ $stderr == *"3000 cells selected"* ]]
    for t in 1 2; do
        rm -f few-$t.bin
        run -0 bash -c "ulimit -n 64 && sc-stream -@ $t --cache-dir fc -l ct -b 32 --seed 4 -o few-$t.bin few/f*.h5ad"
        cmp few-all.bin few-$t.bin
    done
}

@test "sc-stream: files read through their fd alone (HDF5 closed at open) give the bytes of reads through HDF5, plain and gzip, with re-opens" {
    gzip_copies gzd 300 $(files)
    for set in plain gz; do
        if [[ $set == plain ]]; then in=$(files); else in=$(ls gzd/*.h5ad); fi
        for t in 1 2 3; do
            # --max-open 2 over 4 files: every buffer re-opens files
            a="-@ $t --max-open 2 --join outer --seed 6 -b 64 --block 8 --buffer 4"
            SC_STREAM_KEEP_H5=1 sc-stream $a -o k-$set-$t.bin $in
            sc-stream $a -o d-$set-$t.bin $in
            cmp k-$set-$t.bin d-$set-$t.bin
            cmp d-$set-1.bin d-$set-$t.bin
        done
    done
    run -0 check values d-gz-2.bin
}

@test "sc-stream: the Python module yields numpy and torch batches, split over DataLoader workers" {
    args="--join outer -l cell_type -b 64 --seed 2"
    run -0 check torch --args="$args" $(files)
    [[ $output == 2000 ]]
    run -0 check loader --args="$args" $(files)
    [[ $output == 2000 ]]
}

@test "sc-stream: batches through the shared-memory ring equal those through the pipe" {
    # small batches in a 1 MiB ring: it wraps around many times; then batches
    # larger than half the ring, which go through the pipe
    run -0 check ring --args="--join outer --seed 5 -b 32 -n 20000 --ring-size 1M" \
        --args="--join outer --seed 5 -b 2000 --ring-size 1M" $(files)
    [[ $output == ok ]]
    # torch tensors made from ring views hold the batch's values
    run -0 check torch --args="--join outer --seed 5 -b 64" $(files)
    [[ $output == 2000 ]]
    # the ring needs a pipe, not a file
    run -1 --separate-stderr sc-stream --ring-fd 0 --join outer -o ring.bin $(files)
    [[ $stderr == *"pipe"* ]]
    [[ ! -e ring.bin ]]
    # a ring that cannot be reserved (files limited to 8 MB here): one line,
    # exit 1, no batch, and the ring file given back
    run -0 bash -c 'trap "" XFSZ; ulimit -f 8192
        sc-stream --ring-fd 3 --ring-size 64M --join outer $0 3<> big.ring 2> err | wc -c
        echo "${PIPESTATUS[0]}"' "$(files | head -1)"
    [[ ${lines[0]} == 0 && ${lines[1]} == 1 ]]
    [[ $(wc -l < err) == 1 && $(cat err) == *"cannot reserve"*"--ring-size"* ]]
    [[ ! -s big.ring ]]
}

@test "sc-stream: the example trains a classifier for one epoch" {
    run -0 $PY "$SC_ROOT/examples/train_classifier.py" --epochs 1 $(files)
    [[ $output == *"epoch 0"*"accuracy"* ]]
}

@test "sc-stream: every tensor kind, with DataLoader workers 0-4 and 2 ranks, delivers every cell once" {
    # csr batches from workers travel as their three arrays (torch cannot
    # pickle a sparse CSR tensor: the main process used to wait forever)
    run -0 timeout 600 "$BATS_TEST_DIRNAME/stream_check.py" epochs --args="--join outer -l cell_type -b 64 --seed 4" $(files)
    [[ $output == 2000 ]]
}

@test "sc-stream: the Python module turns warnings of -k into StreamWarnings naming the file, and failures into StreamError" {
    mkdir -p broken
    echo "not an h5ad" > broken/b0000.h5ad
    # 2000 broken files: more warnings than a pipe holds (the reader used to
    # stop reading stderr and wait for batches while sc-stream waited for it)
    $PY -c '
import os
for i in range(1, 2000):
    p = "broken/b%04d.h5ad" % i
    if not os.path.exists(p):
        os.link("broken/b0000.h5ad", p)'
    run -0 timeout 120 "$BATS_TEST_DIRNAME/stream_check.py" warn --args="-k --no-cache -b 64" \
        corpus/ds000.h5ad broken/b0000.h5ad
    [[ ${lines[0]} == "broken/b0000.h5ad	'broken/b0000.h5ad' is not an HDF5 file"* ]]
    [[ ${lines[1]} == "-	1 datasets failed and were left out" ]]
    [[ ${#lines[@]} == 3 && ${lines[2]} -gt 0 ]]
    run -0 timeout 120 "$BATS_TEST_DIRNAME/stream_check.py" warn --args="-k --no-cache -b 64" \
        corpus/ds000.h5ad broken/*.h5ad
    [[ ${#lines[@]} == 2002 && ${lines[1999]} == "broken/b1999.h5ad	"* ]]
    [[ ${lines[2000]} == "-	2000 datasets failed and were left out" ]]
    # without -k the first broken file ends the stream: StreamError with
    # sc-stream's message
    run -0 "$BATS_TEST_DIRNAME/stream_check.py" fail --args="--no-cache" corpus/ds000.h5ad broken/b0000.h5ad
    [[ $output == *"'broken/b0000.h5ad'"* && $output != *Traceback* ]]
    run -0 "$BATS_TEST_DIRNAME/stream_check.py" fail --args="--join sideways" corpus/ds000.h5ad
    [[ $output == *"unknown join 'sideways'"* ]]
}

@test "sc-stream: a Python consumer that stops early or is killed leaves no process and no ring file" {
    marker=$BATS_TEST_TMPDIR/cache-early
    run -0 timeout 120 "$BATS_TEST_DIRNAME/stream_check.py" early --args="--join outer -b 16 --cache-dir $marker" $(files)
    [[ $output == ok ]]
    mkdir -p "$BATS_TEST_TMPDIR/tmp"
    marker=$BATS_TEST_TMPDIR/cache-killed
    run -137 env TMPDIR="$BATS_TEST_TMPDIR/tmp" "$BATS_TEST_DIRNAME/stream_check.py" killed \
        --args="--join outer -b 16 --cache-dir $marker" $(files)
    [[ $output == read ]]
    for i in $(seq 100); do
        pgrep -f -- "$marker" > /dev/null || break
        sleep 0.05
    done
    run -1 pgrep -f -- "$marker"
    # the ring is an unnamed file (O_TMPFILE): nothing left behind
    [[ -z $(ls -A "$BATS_TEST_TMPDIR/tmp") ]]
}

@test "sc-stream: a DataLoader killed mid-epoch leaves no worker, no sc-stream and no ring file" {
    mkdir -p "$BATS_TEST_TMPDIR/tmp"
    marker=$BATS_TEST_TMPDIR/cache-killed-workers
    run -137 env TMPDIR="$BATS_TEST_TMPDIR/tmp" "$BATS_TEST_DIRNAME/stream_check.py" killed --workers 2 \
        --args="--join outer -b 16 --cache-dir $marker" $(files)
    [[ $output == read ]]
    # the workers notice their parent's end (torch checks every 5 s), and
    # their sc-stream its reader's
    for i in $(seq 300); do
        pgrep -f -- "$marker" > /dev/null || break
        sleep 0.1
    done
    run -1 pgrep -f -- "$marker"
    # the rings are unnamed files (O_TMPFILE) in /dev/shm or TMPDIR
    [[ -z $(ls -A "$BATS_TEST_TMPDIR/tmp") ]]
}

# split_cells PART WORLD ARGS...: "dataset row" of the real cells of PART over
# all ranks of WORLD
split_cells() {
    local part=$1 world=$2 r
    shift 2
    for ((r = 0; r < world; r++)); do
        sc-stream --join outer --split "$part" --rank $r --world-size "$world" -b 50 -O text "$@" |
            awk -F'\t' '$1 !~ /^#/ && $2 == 0 { print $3, $4 }'
    done | sort
}

@test "sc-stream: --split parts are disjoint, cover every cell, and do not depend on the world size" {
    local by p
    for by in cell dataset; do
        for p in train val test; do
            split_cells $p 1 --split-by $by --split-seed 7 $(files) > $p.1
            split_cells $p 3 --split-by $by --split-seed 7 $(files) > $p.3
            cmp $p.1 $p.3
            [[ -z $(uniq -d $p.1) ]]
        done
        [[ $(cat train.1 val.1 test.1 | sort -u | wc -l) == 2000 ]]
        [[ -s train.1 ]]
    done
    # by cell: about the fractions; another seed, another split
    split_cells val 1 --split-seed 7 $(files) > v7
    split_cells val 1 --split-seed 8 $(files) > v8
    [[ $(wc -l < v7) -gt 100 && $(wc -l < v7) -lt 300 ]]
    ! cmp -s v7 v8
    # by dataset: whole datasets
    split_cells test 1 --split-by dataset --split-fractions 0.5,0.25,0.25 $(files) > t
    [[ $(cut -d' ' -f1 t | sort -u | wc -l) -ge 1 ]]
    split_cells train 1 --split-by dataset --split-fractions 0.5,0.25,0.25 $(files) > tr
    [[ -z $(comm -12 <(cut -d' ' -f1 t | sort -u) <(cut -d' ' -f1 tr | sort -u)) ]]
    # the header records it
    run -0 bash -c "sc-stream --join outer --split val --split-seed 7 -b 50 $(files | tr '\n' ' ') | sc-stream dump --header | grep '^#info	split'"
    [[ $output == *"split	val"* && $output == *"split_by	cell"* && $output == *"split_seed	7"* ]]
    run -2 --separate-stderr sc-stream --split nope $(files)
    [[ $stderr == *"unknown split 'nope'"* ]]
    run -2 --separate-stderr sc-stream --split-fractions 0.9,0.9 $(files)
    [[ $stderr == *"bad split fractions"* ]]
}

@test "sc-stream split: a split file gives the same parts; a dataset it lacks is an error" {
    run -0 --separate-stderr sc-stream split --join outer --split-seed 7 -o split.tsv $(files)
    [[ $(head -1 split.tsv) == "#sc-split	1" ]]
    for p in train val test; do
        split_cells $p 1 --split-seed 7 $(files) > $p.rule
        split_cells $p 2 --split-file split.tsv $(files) > $p.file
        cmp $p.rule $p.file
    done
    run -1 --separate-stderr sc-stream --join outer --split val --split-file split.tsv $(files) tiny.h5ad
    [[ $stderr == *"'tiny.h5ad' is not in the split file"* ]]
    printf '#sc-split\t1\nds000.h5ad\tval\tx\n' > bad.tsv
    run -1 --separate-stderr sc-stream --join outer --split val --split-file bad.tsv $(files)
    [[ $stderr == *"'bad.tsv' line 2"* ]]
}
