#!/usr/bin/python3
# Check that anndata 0.8 (Debian's python3-anndata) reads an h5ad written by
# tests/unit/test_h5ad_write.c with the intended dtypes and values.
# SPDX-License-Identifier: MIT
#
# Usage: /usr/bin/python3 tests/interop/write_check.py FILE [MODE]
#   MODE full|empty|zeros|norows|wide: the datasets of test_h5ad_write.c
#   MODE same:ORIGINAL: FILE must read like anndata's reading of ORIGINAL
# Exit status 0 when everything matches, 1 on a mismatch (each one printed),
# 2 on a usage error. Run by the unit test when SC_PYTHON_INTEROP is set:
#   SC_PYTHON_INTEROP=1 tests/run-tests.sh unit
# The expected values are recomputed from the formulas of test_h5ad_write.c.

import math
import sys
import warnings

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp

N_OBS, N_VARS, N_RAW_VARS, N_PCS = 6, 5, 7, 3
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def eq(got, want, what):
    check(got == want, f"{what}: got {got!r}, expected {want!r}")


def x_val(i, j):
    return i * 10 + j + 0.5 if (i + 2 * j) % 3 == 0 else 0


def raw_val(i, j):
    return i + j + 1 if (i + j) % 2 == 0 else 0


def layer_val(i, j):
    return i * 0.25 - j


def conn_val(i, k):
    return 1.0 / (1 + i + k) if i != k and (i + k) % 3 == 0 else 0


def grid(f, rows, cols):
    return np.array([[f(i, j) for j in range(cols)] for i in range(rows)])


def check_matrix(m, f, rows, cols, dtype, sparse, what):
    eq(m.shape, (rows, cols), f"{what} shape")
    eq(str(m.dtype), dtype, f"{what} dtype")
    if sparse:
        check(isinstance(m, sp.csr_matrix), f"{what} is {type(m)}, not csr")
        m = m.toarray()
    check(np.allclose(np.asarray(m), grid(f, rows, cols)), f"{what} values")


def check_categorical(s, cats, values, ordered, what):
    eq(str(s.dtype), "category", f"{what} dtype")
    if str(s.dtype) != "category":
        return
    eq(list(s.cat.categories), cats, f"{what} categories")
    eq(bool(s.cat.ordered), ordered, f"{what} ordered")
    got = [None if pd.isna(v) else v for v in s]
    eq(got, values, f"{what} values")


def check_obs(obs):
    eq(obs.index.name, "cell_id", "obs index name")
    eq(list(obs.index), [f"cell{i}" for i in range(N_OBS)], "obs index")
    eq(list(obs.columns),
       ["cell_type", "n_genes", "score", "is_doublet", "barcode", "batch",
        "flag", "label", "stage"], "obs columns")
    check_categorical(obs["cell_type"], ["T", "B", "NK"],
                      ["T", "B", None, "T", "NK", "B"], False, "cell_type")
    eq(str(obs["n_genes"].dtype), "int64", "n_genes dtype")
    eq(list(obs["n_genes"]), [100 + 7 * i for i in range(N_OBS)], "n_genes")
    eq(str(obs["score"].dtype), "float32", "score dtype")
    eq(list(obs["score"]), [i * 0.5 - 1 for i in range(N_OBS)], "score")
    eq(str(obs["is_doublet"].dtype), "bool", "is_doublet dtype")
    eq(list(obs["is_doublet"]), [i % 3 == 1 for i in range(N_OBS)],
       "is_doublet")
    eq(str(obs["barcode"].dtype), "object", "barcode dtype")
    eq(list(obs["barcode"]), ["AAAC", "AAAG", "été", "AACT", "", "ACGT"],
       "barcode")
    eq(str(obs["batch"].dtype), "Int64", "batch dtype")
    eq([None if pd.isna(v) else int(v) for v in obs["batch"]],
       [0, 2, 4, None, 8, 10], "batch")
    eq(str(obs["flag"].dtype), "boolean", "flag dtype")
    eq([None if pd.isna(v) else bool(v) for v in obs["flag"]],
       [None, True, False, True, False, True], "flag")
    check_categorical(obs["label"], ["early", "late", "mid"],
                      ["early", None, "mid", "early", "late", "mid"], False,
                      "label (nullable strings)")
    check_categorical(obs["stage"], ["early", "late", "mid"],
                      ["early", "late", "mid", "early", "late", "mid"], True,
                      "stage")


def check_var(var):
    eq(var.index.name, None, "var index name")
    eq(list(var.index), [f"gene{i}" for i in range(N_VARS)], "var index")
    eq(str(var["gene_ids"].dtype), "object", "gene_ids dtype")
    eq(list(var["gene_ids"]), [f"ENSG{i + 1}" for i in range(N_VARS)],
       "gene_ids")
    eq(str(var["highly_variable"].dtype), "bool", "highly_variable dtype")
    check_categorical(var["chrom"], [1, 21], [1, 21, 1, 21, None], False,
                      "chrom (numeric categories)")
    if str(var["chrom"].dtype) == "category":
        eq(str(var["chrom"].cat.categories.dtype), "int64",
           "chrom categories dtype")


def check_uns(uns):
    eq(sorted(uns.keys()),
       ["colors", "flag", "matrix2d", "neighbors", "pi", "rank_genes",
        "title", "version"], "uns keys")
    eq(uns.get("title"), "tïtle", "uns title")
    eq(uns.get("version"), 3, "uns version")
    eq(uns.get("pi"), 3.25, "uns pi")
    check(uns.get("flag") is True or uns.get("flag") is np.True_,
          f"uns flag: {uns.get('flag')!r}")
    eq(list(uns.get("colors", [])), ["#1f77b4", "#ff7f0e", "#2ca02c"],
       "uns colors")
    eq(uns.get("neighbors"),
       {"params": {"method": "umap", "n_neighbors": 15}}, "uns neighbors")
    m = uns.get("matrix2d")
    check(m is not None and m.dtype == np.int32 and m.shape == (2, 3) and
          m.tolist() == [[0, 1, 2], [3, 4, 5]], f"uns matrix2d: {m!r}")
    r = uns.get("rank_genes")
    check(r is not None and r.dtype.names == ("names", "scores", "pvals",
                                              "up"),
          f"rank_genes fields: {None if r is None else r.dtype}")
    if r is not None and r.dtype.names:
        eq([str(v) for v in r["names"]], ["CD3E", "MS4A1", "", "GNLY"],
           "rank_genes names")
        eq(str(r["scores"].dtype), "float32", "rank_genes scores dtype")
        eq(list(r["pvals"]), [0.0, 2.0, 4.0, 6.0], "rank_genes pvals")
        eq(list(r["up"]), [False, True, False, True], "rank_genes up")


def check_full(a):
    eq(a.shape, (N_OBS, N_VARS), "shape")
    check_matrix(a.X, x_val, N_OBS, N_VARS, "float32", True, "X")
    check_obs(a.obs)
    check_var(a.var)
    eq(list(a.layers.keys()), ["dense"], "layers")
    if "dense" in a.layers:
        check_matrix(a.layers["dense"], layer_val, N_OBS, N_VARS, "float32",
                     False, "layers/dense")
    eq(sorted(a.obsm.keys()), ["X_pca", "X_umap"], "obsm")
    if "X_pca" in a.obsm:
        p = a.obsm["X_pca"]
        eq((p.shape, str(p.dtype)), ((N_OBS, N_PCS), "float32"), "X_pca")
        check(np.allclose(p.ravel(), np.arange(N_OBS * N_PCS) * 0.5),
              "X_pca values")
    if "X_umap" in a.obsm:
        eq(str(a.obsm["X_umap"].dtype), "float64", "X_umap dtype")
    if "PCs" in a.varm:
        eq(a.varm["PCs"].shape, (N_VARS, N_PCS), "PCs shape")
    else:
        failures.append("varm/PCs missing")
    if "connectivities" in a.obsp:
        check_matrix(a.obsp["connectivities"], conn_val, N_OBS, N_OBS,
                     "float64", True, "obsp/connectivities")
    else:
        failures.append("obsp/connectivities missing")
    check_uns(dict(a.uns))
    check(a.raw is not None, "raw missing")
    if a.raw is not None:
        check_matrix(a.raw.X, raw_val, N_OBS, N_RAW_VARS, "int32", True,
                     "raw/X")
        eq(list(a.raw.var_names), [f"rawgene{i}" for i in range(N_RAW_VARS)],
           "raw var names")
    # anndata's own writer must accept what it read.
    b = anndata.AnnData(a.X, obs=a.obs, var=a.var)
    check(b.shape == a.shape, "re-wrap")


def check_empty(a):
    eq(a.shape, (0, 0), "shape")
    check(a.X is None, f"X: {a.X!r}")


def check_zeros(a):
    eq(a.shape, (3, 2), "shape")
    eq(a.X.nnz, 0, "nnz")
    eq(str(a.X.dtype), "float32", "X dtype")
    eq(list(a.obs.index), ["0", "1", "2"], "obs index")


def check_norows(a):
    eq(a.shape, (0, 2), "shape")
    eq(a.X.shape, (0, 2), "X shape")


def check_wide(a):
    eq(a.shape, (2, 1), "shape")
    eq(len(a.obs.columns), 5000, "number of columns")
    eq(a.obs.columns[4999], "column_number_04999", "last column")
    eq(float(a.obs["column_number_04999"].iloc[1]), 4999.0, "last value")


def to_dense(m):
    return m.toarray() if sp.issparse(m) else np.asarray(m)


def kind_of(dt):
    """numpy dtype for comparison: fixed-length (legacy) and vlen strings
    are the same thing once read."""
    return "str" if dt.kind in "USO" else str(dt)


def same_array(a, b, what):
    a, b = to_dense(a), to_dense(b)
    eq(b.shape, a.shape, f"{what} shape")
    if a.dtype.names or b.dtype.names:
        eq(b.dtype.names, a.dtype.names, f"{what} fields")
        for f in a.dtype.names or ():
            if b.dtype.names and f in b.dtype.names:
                same_array(a[f], b[f], f"{what}.{f}")
        return
    eq(kind_of(b.dtype), kind_of(a.dtype), f"{what} dtype")
    if a.shape != b.shape:
        return
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        check(np.array_equal(a, b, equal_nan=True), f"{what} values")
    else:
        check(np.array_equal(a.astype(object) if a.dtype.kind == "S" else a,
                             b), f"{what} values")


def plain(v):
    """A scalar as a plain Python value (np.str_ -> str, np.int64 -> int)."""
    return v.item() if isinstance(v, np.generic) else v


def same_frame(a, b, what):
    eq(list(b.index), list(a.index), f"{what} index")
    eq(b.index.name, a.index.name, f"{what} index name")
    eq(list(b.columns), list(a.columns), f"{what} columns")
    for c in a.columns:
        if c not in b.columns:
            continue
        x, y = a[c], b[c]
        eq(str(y.dtype), str(x.dtype), f"{what}[{c}] dtype")
        if str(x.dtype) == "category" and str(y.dtype) == "category":
            eq(list(y.cat.categories), list(x.cat.categories),
               f"{what}[{c}] categories")
            eq(y.cat.ordered, x.cat.ordered, f"{what}[{c}] ordered")
        xs = [None if pd.isna(v) else v for v in x]
        ys = [None if pd.isna(v) else v for v in y]
        eq(ys, xs, f"{what}[{c}] values")


def same_value(a, b, what):
    """Recursive comparison of uns-like values."""
    if isinstance(a, dict):
        check(isinstance(b, dict), f"{what}: not a dict")
        if isinstance(b, dict):
            eq(sorted(b.keys()), sorted(a.keys()), f"{what} keys")
            for k in a:
                if k in b:
                    same_value(a[k], b[k], f"{what}/{k}")
    elif isinstance(a, pd.DataFrame):
        check(isinstance(b, pd.DataFrame), f"{what}: not a dataframe")
        if isinstance(b, pd.DataFrame):
            same_frame(a, b, what)
    elif isinstance(a, np.ndarray) or sp.issparse(a):
        check(isinstance(b, np.ndarray) or sp.issparse(b),
              f"{what}: {type(b).__name__}, not an array")
        if isinstance(b, np.ndarray) or sp.issparse(b):
            same_array(a, b, what)
    elif isinstance(a, (pd.api.extensions.ExtensionArray, pd.Series)):
        check(isinstance(b, type(a)), f"{what}: {type(b).__name__}, not "
              f"{type(a).__name__}")
        eq(str(b.dtype), str(a.dtype), f"{what} dtype")
        eq([None if pd.isna(v) else v for v in b],
           [None if pd.isna(v) else v for v in a], f"{what} values")
    else:
        a, b = plain(a), plain(b)
        if isinstance(a, float) and math.isnan(a):
            check(isinstance(b, float) and math.isnan(b), f"{what}: {b!r}")
            return
        eq(type(b).__name__, type(a).__name__, f"{what} type")
        eq(b, a, what)


def check_same(a, original):
    """Our file A against anndata's own reading of ORIGINAL."""
    try:
        with warnings.catch_warnings():  # legacy originals warn, ours must not
            warnings.simplefilter("ignore")
            o = anndata.read_h5ad(original)
    except Exception as e:  # anndata 0.8 cannot read some newer files
        print(f"write_check.py: note: anndata {anndata.__version__} cannot "
              f"read '{original}' ({type(e).__name__}); checked that ours "
              "loads", file=sys.stderr)
        return
    eq(a.shape, o.shape, "shape")
    same_frame(o.obs, a.obs, "obs")
    same_frame(o.var, a.var, "var")
    check((a.X is None) == (o.X is None), "X presence")
    if o.X is not None and a.X is not None:
        same_array(o.X, a.X, "X")
    for slot in ("layers", "obsm", "varm", "obsp", "varp"):
        same_value(dict(getattr(o, slot)), dict(getattr(a, slot)), slot)
    same_value(dict(o.uns), dict(a.uns), "uns")
    check((a.raw is None) == (o.raw is None), "raw presence")
    if o.raw is not None and a.raw is not None:
        same_array(o.raw.X, a.raw.X, "raw/X")
        same_frame(o.raw.var, a.raw.var, "raw/var")


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__ or "usage: write_check.py FILE [MODE]", file=sys.stderr)
        return 2
    path = sys.argv[1]
    mode = sys.argv[2] if len(sys.argv) == 3 else "full"
    checks = {"full": check_full, "empty": check_empty, "zeros": check_zeros,
              "norows": check_norows, "wide": check_wide}
    if mode not in checks and not mode.startswith("same:"):
        print(f"write_check.py: unknown mode '{mode}'", file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            a = anndata.read_h5ad(path)
        for w in caught:  # e.g. a legacy or unknown encoding
            failures.append(f"warning while reading: {w.category.__name__}: "
                            f"{w.message}")
    except Exception as e:  # the point of the test: report, do not crash
        print(f"write_check.py: anndata {anndata.__version__} cannot read "
              f"'{path}': {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    try:
        if mode.startswith("same:"):
            check_same(a, mode[5:])
        else:
            checks[mode](a)
    except Exception as e:  # a missing key or a wrong type is a mismatch too
        failures.append(f"{type(e).__name__}: {e}")
    for f in failures:
        print(f"write_check.py: {path}: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
