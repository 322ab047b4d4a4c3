#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Baseline reader for the benchmarks: read X of h5ad files with h5py in
blocks of B rows (CSR: indptr once, then data and indices of each block;
dense: row slices), as a Python loader does.  --random SEED reads the blocks
of all files in a random order ("baseline C" of issue 9 without the in-buffer
shuffle), otherwise sequentially.  Prints one line after the work:
    SECONDS CELLS NNZ SUM
where SECONDS excludes interpreter start-up and imports."""
import argparse
import time

import h5py
import numpy as np

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("-b", "--block", type=int, default=256, help="rows per read (default 256)")
ap.add_argument("--random", type=int, metavar="SEED", help="read blocks in random order")
ap.add_argument("files", nargs="+")
a = ap.parse_args()

t0 = time.perf_counter()
handles = []
blocks = []
for fi, p in enumerate(a.files):
    f = h5py.File(p, "r")
    X = f["X"]
    if isinstance(X, h5py.Group):
        ent = (X["indptr"][:], X["data"], X["indices"])
        n = len(ent[0]) - 1
    else:
        ent = (None, X, None)
        n = X.shape[0]
    handles.append((f, ent))
    blocks.extend((fi, s, min(n, s + a.block)) for s in range(0, n, a.block))
if a.random is not None:
    order = np.random.default_rng(a.random).permutation(len(blocks))
    blocks = [blocks[i] for i in order]
total = 0.0
cells = 0
nnz = 0
for fi, s, e in blocks:
    indptr, data, indices = handles[fi][1]
    if indptr is None:
        d = data[s:e]
        nnz += int(np.count_nonzero(d))
    else:
        lo, hi = int(indptr[s]), int(indptr[e])
        d = data[lo:hi]
        ix = indices[lo:hi]
        nnz += len(ix)
    total += float(d.sum(dtype=np.float64))
    cells += e - s
for f, _ in handles:
    f.close()
print("%.6f %d %d %r" % (time.perf_counter() - t0, cells, nnz, total))
