#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Helpers of stream-files.sh (issue 22: many files of the same cells).
  gen DIR N CELLS GENES NNZ SEED
      write the same CELLS cells (about NNZ stored counts each, CSR float32,
      uncompressed) split into N h5ad files DIR/f00000.h5ad...: file i has
      the var of the study its cells belong to (4 studies of CELLS / 4
      cells, each with GENES genes drawn from 1.5 x GENES ids, in its own
      order; N a multiple of 4), as different studies measure different
      genes; the cells are generated once per seed, so every N holds the
      same cells, values and genes.  Written with h5py as anndata 0.8 writes them;
      each file is a copy of its study's template (var and empty groups) with
      its own obs and X added, so the files are distinct datasets (distinct
      cells and contents) at a fraction of the cost of writing each var.
  first N_RUNS FILE... -- ARGS
      seconds from starting sc-stream ARGS FILE... through python/sc_stream.py
      to its first batch in Python, one line per run (each run a new process)
  mapped SECONDS FILE...
      baseline: lamindb's MappedCollection (join outer, X as float32 rows)
      in a torch DataLoader (batch 256, shuffled, num_workers=2, its
      torch_worker_init_fn) until the epoch ends or SECONDS pass; prints
      FIRST_BATCH_S SECONDS CELLS PEAK_RSS_MB (SECONDS and CELLS after the
      first batch when there were more) (the largest of this process
      and its workers).  The vendored _mapped_collection.py is taken from
      $SC_MAPPED_COLLECTION (see lamindb_standins/README)."""
import os
import shutil
import sys
import time

import h5py
import numpy as np

STUDIES = 4


def str_attr(obj, name, value):
    obj.attrs.create(name, value, dtype=h5py.string_dtype("utf-8"))


def strings(group, name, values):
    d = group.create_dataset(name, data=np.array(values, dtype=object), dtype=h5py.string_dtype("utf-8"))
    str_attr(d, "encoding-type", "string-array")
    str_attr(d, "encoding-version", "0.2.0")


def frame(f, name, index):
    g = f.create_group(name)
    str_attr(g, "encoding-type", "dataframe")
    str_attr(g, "encoding-version", "0.2.0")
    str_attr(g, "_index", "_index")
    g.attrs.create("column-order", np.array([], dtype=object), dtype=h5py.string_dtype("utf-8"))
    strings(g, "_index", index)


def gen(out, n, cells, genes, nnz, seed):
    rng = np.random.default_rng(seed)
    universe = np.array(["ENSG%011d" % i for i in range(genes * 3 // 2)], dtype=object)
    varsets = [rng.permutation(rng.choice(len(universe), genes, replace=False)) for _ in range(STUDIES)]
    counts = np.clip(rng.poisson(nnz, cells), 1, genes).astype(np.int64)
    rows = np.repeat(np.arange(cells), counts)
    cols = rng.integers(0, genes, len(rows)).astype(np.int32)
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    keep = np.ones(len(rows), dtype=bool)  # distinct sorted columns per cell
    keep[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols = rows[keep], cols[keep]
    indptr = np.zeros(cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=cells), out=indptr[1:])
    vals = (rng.geometric(0.5, indptr[-1])).astype(np.float32)
    if n % STUDIES:
        sys.exit("stream_files.py: N must be a multiple of %d" % STUDIES)
    per = n // STUDIES
    study = np.linspace(0, cells, STUDIES + 1).astype(np.int64)
    bounds = np.concatenate([np.linspace(study[s], study[s + 1], per + 1).astype(np.int64)[:-1]
                             for s in range(STUDIES)] + [[cells]])
    os.makedirs(out, exist_ok=True)
    # one template per study holds what its files share (var, the empty
    # groups); each file is a byte copy of it with its own obs and X added,
    # which is much cheaper than encoding GENES strings per file
    templates = []
    for s in range(STUDIES):
        t = os.path.join(out, ".study%d.h5" % s)
        with h5py.File(t, "w-") as f:
            str_attr(f, "encoding-type", "anndata")
            str_attr(f, "encoding-version", "0.1.0")
            frame(f, "var", list(universe[varsets[s]]))
            for g in ("layers", "obsm", "obsp", "varm", "varp", "uns"):
                e = f.create_group(g)
                str_attr(e, "encoding-type", "dict")
                str_attr(e, "encoding-version", "0.1.0")
        templates.append(t)
    for i in range(n):
        r0, r1 = bounds[i], bounds[i + 1]
        path = os.path.join(out, "f%05d.h5ad" % i)
        shutil.copyfile(templates[i // per], path)
        with h5py.File(path, "r+") as f:
            frame(f, "obs", ["c%d" % c for c in range(r0, r1)])
            x = f.create_group("X")
            str_attr(x, "encoding-type", "csr_matrix")
            str_attr(x, "encoding-version", "0.1.0")
            x.attrs["shape"] = np.array([r1 - r0, genes], dtype=np.int64)
            x.create_dataset("data", data=vals[indptr[r0]:indptr[r1]])
            x.create_dataset("indices", data=cols[indptr[r0]:indptr[r1]])
            x.create_dataset("indptr", data=indptr[r0:r1 + 1] - indptr[r0])
    for t in templates:
        os.unlink(t)

def first(runs, files, args):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import sc_stream
    for _ in range(runs):
        t0 = time.perf_counter()
        it = sc_stream.stream(files, args, exe=os.environ.get("SC_STREAM"))
        next(it)
        print("%.6f" % (time.perf_counter() - t0), flush=True)
        it.close()


def mapped(seconds, files):
    import resource
    import torch
    from torch.utils.data import DataLoader
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "lamindb_standins"))
    import lamindb_mc
    MappedCollection = lamindb_mc.load(os.environ.get("SC_MAPPED_COLLECTION", ""))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # it keeps every file open
    t0 = time.perf_counter()
    mc = MappedCollection(files, join="outer", dtype="float32", parallel=True)
    loader = DataLoader(mc, batch_size=256, shuffle=True, num_workers=2,
                        worker_init_fn=MappedCollection.torch_worker_init_fn,
                        generator=torch.Generator().manual_seed(1))
    n = n1 = 0
    t_first = None
    for b in loader:
        n += b["X"].shape[0]
        if t_first is None:
            t_first = time.perf_counter() - t0
            n1 = n
        if time.perf_counter() - t0 > seconds:
            break
    secs = time.perf_counter() - t0
    if n > n1:  # the rate after the first batch (workers started)
        secs, n = secs - t_first, n - n1
    del loader
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    print("%.6f %.6f %d %.1f" % (t_first, secs, n, rss))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["gen"] and len(a) == 7:
        gen(a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]), int(a[6]))
    elif a[:1] == ["first"] and "--" in a:
        k = a.index("--")
        first(int(a[1]), a[2:k], a[k + 1:])
    elif a[:1] == ["mapped"] and len(a) > 2:
        mapped(float(a[1]), a[2:])
    else:
        sys.exit(__doc__)
