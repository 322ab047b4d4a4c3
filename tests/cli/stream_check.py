#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks of sc-stream output for tests/cli/sc-stream.bats, against anndata.

  stream_check.py values [--normalize T] [--log1p] [--top N] STREAM...
      read the binary streams (one per rank), compare every cell's values and
      labels with anndata's reads of the same row, print a JSON summary:
      cells (not padding), unique cells, duplicates, batches per stream.
  stream_check.py count FILE... [--filter COL=V] [--min-genes N]
      the number of cells anndata selects with these filters.
  stream_check.py freq STREAM --by dataset|LABEL --expect W1,W2,...
                 [--every G --offset R]
      chi-square test of the draw frequencies against weights (in the order
      of the datasets, or of the label's vocabulary); prints the p-value.
      With --every G only the draws at positions p with p % G == R count
      (one per group of G draws that share a block, when sc-stream ran with
      --block-draws G --no-shuffle: independent draws).
  stream_check.py ring --args=ARGS [--args=ARGS ...] PATH...
      for each set of sc-stream ARGS, the batches through the Python module's
      shared-memory ring equal those through the pipe; prints "ok".
  stream_check.py torch --args=ARGS PATH...
      every batch as torch tensors holds the batch's values; prints the
      cells (padding left out).
  stream_check.py loader --args=ARGS PATH...
      ScStreamDataset in a DataLoader with 2 workers (dense rows); prints the
      distinct (dataset, row) pairs seen.
  stream_check.py epochs --args=ARGS PATH...
      every tensor kind (csr, dense, padded, C-dense) x DataLoader workers
      (0, 1, 2, 4, with and without pin_memory) x ranks (world 1 and 2)
      delivers every selected cell exactly once; prints the cells.
  stream_check.py warn --args=ARGS PATH...
      stream under ARGS, print each StreamWarning's path, then the cells.
  stream_check.py fail --args=ARGS PATH...
      stream under ARGS must raise StreamError; prints its message.
  stream_check.py early --args=ARGS PATH...
      stop after one batch (stream, then a DataLoader with 2 workers):
      no process whose command line holds ARGS's last word remains.
  stream_check.py killed --args=ARGS [--workers N] PATH...
      read one batch (through a DataLoader with N workers), print "read"
      and kill this process (SIGKILL).
"""
import argparse
import json
import os
import shlex
import signal
import sys
import time
import warnings

import anndata
import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import sc_stream  # noqa: E402

_cache = {}


def adata(path):
    """anndata's view of a dataset: the AnnData, X as CSR, the var names and
    the column of each name's first occurrence."""
    if path not in _cache:
        a = anndata.read_h5ad(path)
        X = sp.csr_matrix(a.X if sp.issparse(a.X) else sp.csr_matrix(a.X))
        var = list(a.var_names)
        first = {}
        for j, g in enumerate(var):
            first.setdefault(g, j)
        obs = {c: a.obs[c].astype(object).to_numpy() for c in a.obs.columns}
        _cache[path] = (a, X, var, first, obs)
    return _cache[path]


def expected_row(path, row, gset):
    """{gene: value} of the row over the genes in GSET, as float32, with a
    duplicated gene name taken from its first column."""
    a, X, var, first, _ = adata(path)
    lo, hi = X.indptr[row], X.indptr[row + 1]
    vals = dict(zip(X.indices[lo:hi].tolist(), X.data[lo:hi].tolist()))
    exp = {}
    for j in vals:
        g = var[j]
        if g in gset and g not in exp and first[g] in vals:
            exp[g] = float(np.float32(vals[first[g]]))
    return exp, float(X.data[lo:hi].sum())


def batches(path):
    with open(path, "rb") as f:
        r = sc_stream.Reader(f, path)
        for b in r:
            yield r.header, b
        if r.end is None:
            raise SystemExit("%s: no end frame" % path)


def cmd_values(a):
    seen = {}
    cells = 0
    nb = []
    for path in a.streams:
        n = 0
        for h, b in batches(path):
            n += 1
            genes = h["genes"]
            gset = set(genes)
            real = b["n_cells"] - b["n_pad"]
            for i in range(b["n_cells"]):
                ds = h["datasets"][b["dataset"][i]]
                row = int(b["row"][i])
                if i < real:
                    cells += 1
                    seen[(ds, row)] = seen.get((ds, row), 0) + 1
                exp, total = expected_row(ds, row, gset)
                if a.normalize:
                    exp = {g: v * a.normalize / total for g, v in exp.items()}
                if a.log1p:
                    exp = {g: float(np.log1p(v)) for g, v in exp.items()}
                if b["layout"] == sc_stream.CSR:
                    lo, hi = b["indptr"][i], b["indptr"][i + 1]
                    if np.any(np.diff(b["indices"][lo:hi]) <= 0):
                        raise SystemExit("columns not ascending: %s row %d" % (ds, row))
                    got = {genes[k]: float(v) for k, v in zip(b["indices"][lo:hi], b["values"][lo:hi])}
                elif b["layout"] == sc_stream.DENSE:
                    got = {genes[k]: float(v) for k, v in enumerate(b["values"][i]) if v != 0}
                    exp = {g: v for g, v in exp.items() if v != 0}
                else:
                    got = {genes[k]: float(v) for k, v in zip(b["indices"][i], b["values"][i]) if k >= 0}
                    if a.top:
                        want = sorted(exp.values(), reverse=True)[:a.top]
                        if sorted(got.values(), reverse=True) != pytest_approx(want):
                            raise SystemExit("top genes differ: %s row %d" % (ds, row))
                    exp = {g: exp[g] for g in got if g in exp}
                if set(got) != set(exp) or any(abs(got[g] - exp[g]) > 1e-5 * max(1, abs(exp[g])) for g in got):
                    raise SystemExit("values differ: %s row %d\n got %s\n want %s"
                                     % (ds, row, sorted(got.items())[:8], sorted(exp.items())[:8]))
                obs = adata(ds)[4]
                for col, codes in b["labels"].items():
                    code = int(codes[i])
                    v = obs[col][row] if col in obs else None
                    if isinstance(v, (bool, np.bool_)):
                        want = str(bool(v))
                    elif v is None or (isinstance(v, float) and np.isnan(v)) or str(v) == "unknown":
                        want = None
                    else:
                        want = str(v)
                    gotl = h["labels"][col][code] if code >= 0 else None
                    if want != gotl:
                        raise SystemExit("label %s differs: %s row %d: %r, want %r" % (col, ds, row, gotl, want))
        nb.append(n)
    dups = sum(c - 1 for c in seen.values())
    print(json.dumps({"cells": cells, "unique": len(seen), "dups": dups, "batches": nb}))


def pytest_approx(v):
    return [float(np.float32(x)) for x in v]


def cmd_count(a):
    n = 0
    for p in a.files:
        ad, X = adata(p)[:2]
        keep = np.ones(ad.n_obs, bool)
        for f in a.filter or []:
            col, val = f.split("=", 1)
            vals = val.split(",")
            keep &= ad.obs[col].astype(str).isin(vals).to_numpy()
        if a.min_genes:
            keep &= np.diff(X.indptr) >= a.min_genes
        n += int(keep.sum())
    print(n)


def cmd_freq(a):
    from scipy.stats import chisquare
    w = np.array([float(x) for x in a.expect.split(",")])
    counts = np.zeros(len(w))
    pos = 0
    for h, b in batches(a.stream):
        real = b["n_cells"] - b["n_pad"]
        v = b["dataset"][:real] if a.by == "dataset" else b["labels"][a.by][:real]
        if a.every > 1:
            v = v[(np.arange(pos, pos + real) % a.every) == a.offset]
        pos += real
        counts += np.bincount(v, minlength=len(w))[:len(w)]
    exp = w / w.sum() * counts.sum()
    keep = exp > 0
    if counts[~keep].sum():
        raise SystemExit("draws where the weight is zero")
    p = chisquare(counts[keep], exp[keep]).pvalue
    print("%.6g" % p)


def arrays(paths, args, ring):
    """The batches of sc-stream ARGS PATHS as copies (ring batches are valid
    until the next one is asked for)."""
    out = []
    for b in sc_stream.stream(paths, args, ring=ring):
        d = {k: np.array(b[k]) for k in ("indptr", "indices", "values", "dataset", "row")}
        d.update({"label " + k: np.array(v) for k, v in b["labels"].items()})
        out.append(d)
    return out


def cmd_ring(a):
    for extra in a.args:
        args = shlex.split(extra)
        x, y = arrays(a.paths, args, False), arrays(a.paths, args, True)
        assert len(x) == len(y) > 0, (len(x), len(y))
        for p, q in zip(x, y):
            for k in p:
                assert np.array_equal(p[k], q[k]), k
    print("ok")


def cmd_torch(a):
    import torch
    n = 0
    for b in sc_stream.stream(a.paths, shlex.split(a.args[0])):
        t = sc_stream.to_torch(b)
        assert isinstance(t["x"], torch.Tensor)
        ref = sp.csr_matrix((b["values"], b["indices"], b["indptr"]),
                            shape=(b["n_cells"], len(b["header"]["genes"]))).toarray()
        assert np.array_equal(t["x"].to_dense().numpy(), ref)
        n += b["n_cells"] - b["n_pad"]
    print(n)


def cmd_loader(a):
    import torch
    ds = sc_stream.ScStreamDataset(a.paths, shlex.split(a.args[0]), kind="dense", rank=0, world_size=1)
    seen = set()
    for b in torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2):
        real = b["x"].shape[0] - b["n_pad"]
        assert b["x"].dim() == 2
        seen.update(zip(b["dataset"][:real].tolist(), b["row"][:real].tolist()))
    print(len(seen))


def epoch_cells(paths, args, kind, workers, world, pin, sparse):
    """The (dataset, row) of every real cell of an epoch over all ranks."""
    import torch
    cells = []
    for rank in range(world):
        ds = sc_stream.ScStreamDataset(paths, args, kind=kind, rank=rank, world_size=world)
        with warnings.catch_warnings():  # pin_memory without an accelerator
            warnings.simplefilter("ignore", UserWarning)
            dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers,
                                             pin_memory=pin)
            for b in dl:
                x, n = b["x"], len(b["dataset"])
                if sparse:
                    assert x.layout == torch.sparse_csr, x.layout
                    assert x.crow_indices()[-1] == x.values().numel()
                else:
                    assert x.layout == torch.strided and x.dim() == 2, x.layout
                assert x.shape[0] == n, (x.shape, n)
                if "genes" in b:
                    assert b["genes"].shape == x.shape
                real = n - b["n_pad"]
                cells += zip(b["dataset"][:real].tolist(), b["row"][:real].tolist())
    return cells


def cmd_epochs(a):
    base = shlex.split(a.args[0])
    kinds = [("csr", []), ("dense", []), ("csr", ["--top-genes", "20"]), ("csr", ["--dense"])]
    ref = None
    for kind, extra in kinds:
        for workers, world in [(0, 1), (1, 1), (2, 1), (4, 1), (0, 2), (2, 2)]:
            pin = workers % 2 == 0
            cells = epoch_cells(a.paths, base + extra, kind, workers, world, pin,
                                kind == "csr" and not extra)
            what = "kind %s %s, %d workers, world %d" % (kind, " ".join(extra), workers, world)
            if len(set(cells)) != len(cells):
                raise SystemExit("%s: %d cells twice" % (what, len(cells) - len(set(cells))))
            ref = set(cells) if ref is None else ref
            if set(cells) != ref:
                raise SystemExit("%s: %d cells, not the %d of the first" % (what, len(cells), len(ref)))
    print(len(ref))


def cmd_warn(a):
    n = 0
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        for b in sc_stream.stream(a.paths, shlex.split(a.args[0])):
            n += b["n_cells"] - b["n_pad"]
    for w in got:
        assert issubclass(w.category, sc_stream.StreamWarning), w
        print(w.message.path if w.message.path else "-", str(w.message), sep="\t")
    print(n)


def cmd_fail(a):
    try:
        for _ in sc_stream.stream(a.paths, shlex.split(a.args[0])):
            pass
    except sc_stream.StreamError as e:
        print(e)
        return
    raise SystemExit("no StreamError")


def running(marker):
    """Processes (not this one) whose command line holds MARKER."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in (os.getpid(), os.getppid()):
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if marker.encode() in f.read():
                    out.append(int(pid))
        except OSError:
            pass
    return out


def gone(marker, what):
    for _ in range(100):
        left = running(marker)
        if not left:
            return
        time.sleep(0.05)
    raise SystemExit("%s: processes left: %s" % (what, left))


def cmd_early(a):
    import torch
    args = shlex.split(a.args[0])
    for b in sc_stream.stream(a.paths, args):
        break
    gone(args[-1], "stream, break")
    g = sc_stream.stream(a.paths, args)
    next(g)
    g.close()
    gone(args[-1], "stream, close")
    ds = sc_stream.ScStreamDataset(a.paths, args, kind="csr", rank=0, world_size=1)
    for b in torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2):
        break
    gone(args[-1], "DataLoader, break")
    print("ok")


def cmd_killed(a):
    if a.workers:
        import torch
        ds = sc_stream.ScStreamDataset(a.paths, shlex.split(a.args[0]), kind="csr",
                                       rank=0, world_size=1)
        batches = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=a.workers)
    else:
        batches = sc_stream.stream(a.paths, shlex.split(a.args[0]))
    for b in batches:
        print("read", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


ap = argparse.ArgumentParser()
sub = ap.add_subparsers(dest="cmd", required=True)
v = sub.add_parser("values")
v.add_argument("--normalize", type=float)
v.add_argument("--log1p", action="store_true")
v.add_argument("--top", type=int)
v.add_argument("streams", nargs="+")
c = sub.add_parser("count")
c.add_argument("--filter", action="append")
c.add_argument("--min-genes", type=int)
c.add_argument("files", nargs="+")
f = sub.add_parser("freq")
f.add_argument("--by", required=True)
f.add_argument("--expect", required=True)
f.add_argument("--every", type=int, default=1)
f.add_argument("--offset", type=int, default=0)
f.add_argument("stream")
for name in ("ring", "torch", "loader", "epochs", "warn", "fail", "early", "killed"):
    r = sub.add_parser(name)
    r.add_argument("--args", action="append", required=True, help="sc-stream arguments, shell-quoted")
    r.add_argument("--workers", type=int, default=0)
    r.add_argument("paths", nargs="+")
args = ap.parse_args()
{"values": cmd_values, "count": cmd_count, "freq": cmd_freq, "ring": cmd_ring,
 "torch": cmd_torch, "loader": cmd_loader, "epochs": cmd_epochs, "warn": cmd_warn,
 "fail": cmd_fail, "early": cmd_early, "killed": cmd_killed}[args.cmd](args)
