#!/usr/bin/env bats
# sc-stream --orthologs: mouse datasets in a human gene space through the
# one-to-one orthologs sc-harmonize --orthologs uses (issue 19, item 5).
# SPDX-License-Identifier: MIT

load helpers

setup() {
    cd "$BATS_TEST_TMPDIR"
    export SC_STREAM_CACHE=$BATS_TEST_TMPDIR/cache
    # gene j of every cell holds j + 1 counts: Cd74 (1:1 CD74), Trp53 with a
    # version (1:1 TP53), Gapdh (many to one), Actb (1:1 ACTB, not in the
    # list), Abcf2 (one to many), a name of no mouse gene
    $PY - <<'PY'
import anndata as ad, numpy as np, pandas as pd, scipy.sparse as sp
var = ["ENSMUSG00000024610", "ENSMUSG00000059552.9", "ENSMUSG00000057666",
       "Actb", "ENSMUSG00000028953", "NotAGene"]
X = sp.csr_matrix(np.tile(np.arange(1, len(var) + 1, dtype=np.float32), (4, 1)))
a = ad.AnnData(X=X, obs=pd.DataFrame(index=["c%d" % i for i in range(4)]),
               var=pd.DataFrame(index=var))
a.uns["organism_ontology_term_id"] = "NCBITaxon:10090"
a.write_h5ad("mouse.h5ad")
PY
    printf '# human\nENSG00000141510\nENSG00000019582\nENSG00000111640\nENSG00000033050\n' >human.txt
}

@test "sc-stream --orthologs: mouse genes land on their one-to-one human orthologs; the others are dropped and counted" {
    run -0 --separate-stderr sc-stream --genes human=human.txt --orthologs --no-shuffle -b 4 -O text mouse.h5ad
    echo "$output"
    [[ ${lines[0]} == *$'\tgenes=4\t'* ]]
    [[ ${lines[2]} == $'0\t0\t0\t0\t2\t0:2,1:1' ]] # TP53 = Trp53 (2), CD74 = Cd74 (1)
    [[ ${#lines[@]} == 6 ]]
    [[ $stderr == *"'mouse.h5ad': 2 mouse genes projected onto human orthologs; dropped: 2 without a one-to-one ortholog, 1 whose ortholog is not in the gene list, 1 not mouse genes"* ]]
    # an unlabelled list is the human one too
    run -0 --separate-stderr sc-stream --genes human.txt --orthologs --no-shuffle -b 4 -O text mouse.h5ad
    [[ ${lines[2]} == $'0\t0\t0\t0\t2\t0:2,1:1' ]]
    # without --orthologs the mouse ids are not in a human list
    run -1 --separate-stderr sc-stream --genes human=human.txt -O text mouse.h5ad
    [[ $stderr == *"no reference gene list for organism"* ]]
}

@test "sc-stream --orthologs needs a gene list" {
    run -2 --separate-stderr sc-stream --orthologs -O text mouse.h5ad
    [[ $stderr == *"--orthologs needs a human gene list (--genes [human=]FILE)"* ]]
}
