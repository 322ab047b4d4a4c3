#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Loaders compared with sc-stream in the benchmarks (issue 9), each
yielding torch tensors of shuffled 256-cell batches until the epoch ends or
a cap is reached.  Each run (--runs, default 1) is done by a child process
forked after the imports, so that runs share no state and the interpreter
starts once; each prints one line after its work:
    SECONDS CELLS NNZ PEAK_RSS_MB
where SECONDS excludes interpreter start-up and imports, and PEAK_RSS_MB is
the child's peak resident set (the imports included, as in a process of its
own).
  percell    baseline A: MappedCollection's access pattern, one h5py read of
             indptr, then data and indices, per cell, in a torch DataLoader
             with 2 workers over a random permutation of all cells
  annloader  baseline B: anndata's AnnLoader (AnnCollection of the files
             opened backed, inner join of var), shuffled
  blocks     baseline C: h5py reads of random 256-row blocks gathered K at a
             time, rows shuffled in the buffer, batches of 256 as torch CSR
  ours       sc-stream through python/sc_stream.py (to_torch), extra sc-stream
             arguments after --
stream_loaders.py --jobs FILE runs the jobs of FILE in one process, one a
line: a NAME, then arguments as above, all separated by tabs; each output
line starts with the job's NAME; a job that fails prints "NAME FAILED" and
the next jobs still run (exit status 1)."""
import argparse
import os
import sys
import time
import traceback

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("mode", choices=["percell", "annloader", "blocks", "ours"])
ap.add_argument("--seconds", type=float, default=1e9, help="stop after this many seconds")
ap.add_argument("--cells", type=int, default=1 << 62, help="stop after this many cells")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--runs", type=int, default=1, help="runs, each in a forked child (default 1)")
ap.add_argument("--buffer", type=int, default=16, help="blocks: blocks per shuffle buffer")
ap.add_argument("files", nargs="+")


def parse(argv):
    """The options of one job, and the sc-stream arguments after --."""
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    return ap.parse_args(argv[:len(argv) - len(rest) - (1 if "--" in argv else 0)]), rest


# every job's arguments are checked before any work
if sys.argv[1:2] == ["--jobs"] and len(sys.argv) == 3:
    with open(sys.argv[2]) as f:
        jobs = [ln.rstrip("\n").split("\t") for ln in f if ln.strip()]
    jobs = [(j[0] + " ",) + parse(j[1:]) for j in jobs]
else:
    jobs = [("",) + parse(sys.argv[1:])]

import resource  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402



def prepare(mode):
    """Import what MODE needs beyond the above, in this process before its
    first run (out of the timed runs); the children forked later inherit
    it, so it counts in their peak RSS: jobs whose RSS matters come first."""
    global anndata, AnnCollection, AnnLoader, sc_stream
    if mode == "annloader":
        import anndata
        from anndata.experimental import AnnCollection, AnnLoader
    elif mode == "ours":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
        import sc_stream

B = 256
t0 = 0.0
cells = nnz = 0


def done():
    return cells >= a.cells or time.perf_counter() - t0 >= a.seconds


def to_csr(datas, idxs):
    lens = np.fromiter((len(d) for d in datas), dtype=np.int64, count=len(datas))
    indptr = np.zeros(len(datas) + 1, dtype=np.int64)
    np.cumsum(lens, out=indptr[1:])
    return torch.from_numpy(indptr), torch.from_numpy(np.concatenate(idxs)), torch.from_numpy(np.concatenate(datas))


def epoch():
    """One run of the loader a.mode, counting cells and nnz."""
    global cells, nnz
    if a.mode == "percell":
        sizes = []
        for p in a.files:
            with h5py.File(p, "r") as f:
                sizes.append(len(f["X/indptr"]) - 1)
        starts = np.concatenate([[0], np.cumsum(sizes)])

        class PerCell(Dataset):
            def __init__(self):
                self.h = {}

            def __len__(self):
                return int(starts[-1])

            def __getitem__(self, g):
                fi = int(np.searchsorted(starts, g, side="right") - 1)
                if fi not in self.h:
                    self.h[fi] = h5py.File(a.files[fi], "r")["X"]
                X = self.h[fi]
                r = g - int(starts[fi])
                lo, hi = X["indptr"][r:r + 2]
                return X["data"][lo:hi], X["indices"][lo:hi]

        def collate(items):
            return to_csr([d for d, _ in items], [i for _, i in items])

        g = torch.Generator()
        g.manual_seed(a.seed)
        dl = DataLoader(PerCell(), batch_size=B, shuffle=True, generator=g, num_workers=2, collate_fn=collate)
        for indptr, idx, val in dl:
            cells += len(indptr) - 1
            nnz += len(idx)
            if done():
                break
    elif a.mode == "annloader":
        ads = [anndata.read_h5ad(p, backed="r") for p in a.files]
        dl = AnnLoader(AnnCollection(ads, join_vars="inner"), batch_size=B, shuffle=True)
        for b in dl:
            x = b.X
            cells += x.shape[0]
            nnz += int((x != 0).sum())
            if done():
                break
    elif a.mode == "blocks":
        ents = []
        blocks = []
        for fi, p in enumerate(a.files):
            X = h5py.File(p, "r")["X"]
            ents.append((X["indptr"][:], X["data"], X["indices"]))
            n = len(ents[-1][0]) - 1
            blocks.extend((fi, s, min(n, s + B)) for s in range(0, n, B))
        rng = np.random.default_rng(a.seed)
        order = rng.permutation(len(blocks))
        for k0 in range(0, len(order), a.buffer):
            datas, idxs = [], []
            for k in order[k0:k0 + a.buffer]:
                fi, s, e = blocks[k]
                indptr, data, indices = ents[fi]
                lo = int(indptr[s])
                d = data[lo:int(indptr[e])]
                ix = indices[lo:int(indptr[e])]
                off = indptr[s:e + 1] - lo
                datas.extend(np.split(d, off[1:-1]))
                idxs.extend(np.split(ix, off[1:-1]))
            perm = rng.permutation(len(datas))
            for b0 in range(0, len(perm), B):
                sel = perm[b0:b0 + B]
                indptr, idx, val = to_csr([datas[i] for i in sel], [idxs[i] for i in sel])
                cells += len(sel)
                nnz += len(idx)
            if done():
                break
    else:
        for b in sc_stream.stream(a.files, rest):
            t = sc_stream.to_torch(b)
            cells += len(b["indptr"]) - 1
            nnz += len(b["indices"])
            if done():
                break


def run(prefix):
    """One timed run in a forked child: print its line, exit."""
    global t0, cells, nnz
    try:
        t0 = time.perf_counter()
        cells = nnz = 0
        epoch()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("%s%.6f %d %d %.1f" % (prefix, time.perf_counter() - t0, cells, nnz, rss), flush=True)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)


failed = 0
for prefix, a, rest in jobs:
    prepare(a.mode)
    for _ in range(a.runs):
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            run(prefix)
        if os.waitpid(pid, 0)[1] != 0:
            if not prefix:
                sys.exit(1)
            print(prefix + "FAILED", flush=True)
            failed = 1
            break
sys.exit(failed)
