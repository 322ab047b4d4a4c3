#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The sc-harmonize benchmark's baseline: the same steps in Python with
anndata 0.8 + scipy + numpy, as a user would write them (scDataLoader-style
preprocessing, but summing duplicates instead of dropping them).

usage: harmonize_baseline.py SHARE IN.h5ad OUT.h5ad [MIN_GENES]

read the h5ad; pick the raw counts (raw.X, layers['counts'], X); strip
Ensembl versions and _PAR_Y, map ids and unique symbols through the
CELLxGENE gene list of the species; sum duplicate genes (a sparse
aggregation matrix); per-cell n_genes, total_counts, percent mt/ribo/hb;
drop cells under MIN_GENES genes; write a gzip h5ad with the feature_*
columns. Prints "cells genes total" on stdout."""
import gzip
import os
import re
import sys
import warnings

warnings.filterwarnings("ignore")

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp


def main():
    share, src, dst = sys.argv[1:4]
    min_genes = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    a = anndata.read_h5ad(src)
    if a.raw is not None:
        X, var = a.raw.X, a.raw.var
    elif "counts" in a.layers:
        X, var = a.layers["counts"], a.var
    else:
        X, var = a.X, a.var
    X = sp.csr_matrix(X)
    names = pd.Index(var.index.astype(str))
    human = names.str.startswith("ENSG").sum() >= names.str.startswith("ENSMUSG").sum()
    species = "homo_sapiens" if human else "mus_musculus"
    ref = pd.read_csv(os.path.join(share, "genes/cxg-gencode/schema-7/genes_%s.csv.gz" % species),
                      header=None, names=["id", "name", "version", "length", "type"])
    ids = names.str.replace(r"_PAR_Y$", "", regex=True).str.replace(r"\.\d+$", "", regex=True)
    by_id = pd.Series(np.arange(len(ref)), index=ref["id"])
    counts = ref["name"].value_counts()
    uniq = ref[ref["name"].map(counts) == 1]
    by_name = pd.Series(uniq.index.values, index=uniq["name"].values)
    g = ids.map(by_id)
    g = np.where(pd.isna(g), names.map(by_name), g)
    g = pd.array(g, dtype="Int64")
    mapped = ~pd.isna(g)
    gi = np.asarray(g[mapped], dtype=np.int64)
    uniq_genes, col = np.unique(gi, return_inverse=True)
    # aggregation matrix: input gene -> output gene (sums duplicates)
    rows = np.flatnonzero(np.asarray(mapped))
    A = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, col)), shape=(X.shape[1], len(uniq_genes)))
    Y = (X @ A).tocsr()
    Y.sum_duplicates()
    Y.eliminate_zeros()
    n_genes = np.diff(Y.indptr)
    total = np.asarray(Y.sum(axis=1)).ravel()
    gname = ref["name"].values[uniq_genes].astype(str)
    up = np.char.upper(gname)
    obs = a.obs.copy()
    obs["n_genes"] = n_genes
    obs["total_counts"] = total
    for key, mask in (("mt", np.char.startswith(up, "MT-")),
                      ("ribo", np.char.startswith(up, "RPS") | np.char.startswith(up, "RPL")),
                      ("hb", np.array([u.startswith("HB") and not u.startswith("HBP") for u in up]))):
        part = np.asarray(Y[:, np.flatnonzero(mask)].sum(axis=1)).ravel()
        obs["pct_counts_" + key] = np.where(total > 0, 100 * part / np.maximum(total, 1), 0)
    keep = n_genes >= min_genes
    v = pd.DataFrame({
        "feature_name": pd.Categorical(gname),
        "feature_reference": pd.Categorical(["NCBITaxon:9606" if human else "NCBITaxon:10090"] * len(uniq_genes)),
        "feature_biotype": pd.Categorical(["gene"] * len(uniq_genes)),
        "feature_type": pd.Categorical(ref["type"].values[uniq_genes]),
        "feature_length": ref["length"].values[uniq_genes],
    }, index=pd.Index(ref["id"].values[uniq_genes]))
    out = anndata.AnnData(X=Y[keep].astype(np.float32), obs=obs[keep], var=v, uns=dict(a.uns))
    out.uns["organism_ontology_term_id"] = "NCBITaxon:9606" if human else "NCBITaxon:10090"
    out.write_h5ad(dst, compression="gzip")
    print(out.n_obs, out.n_vars, float(out.X.sum(dtype=np.float64)))


if __name__ == "__main__":
    main()
