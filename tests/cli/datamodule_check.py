#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks of python/sc_datamodule.py for tests/cli/sc-datamodule.bats.

  datamodule_check.py flags
      every DataModule option gives its sc-stream flag; prints "ok".
  datamodule_check.py splits PATH...
      by dataset: train, val and test hold disjoint whole datasets and all
      cells together; the training loader (2 workers) gives every training
      cell once; the validation loader gives the same cells in the same
      order twice; two ranks share the training cells of one; a loader left
      early leaves no process; prints the cells per part.
  datamodule_check.py labels DIR PATH...
      with DIR from `sc-annotate export`, every cell's class code is the
      LabelEncoder's code of its obs term; prints the cells checked.
  datamodule_check.py genes MANIFEST HUMAN MOUSE
      two reference lists (organism offsets): the mouse datasets' columns
      are in the mouse list's range, the others in the human list's; prints
      the cells per organism.
  datamodule_check.py collate PATH...
      top-k genes with binning: bins in 1..n_bins-1 where a gene is,
      non-increasing along a row (top genes come largest first), 0 in the
      padding; weighted training draws; prints "ok".
  datamodule_check.py zeros PATH...
      add_zero_genes and downsample (scDataLoader's semantics): against
      every cell's whole row, the top genes are its largest values, the
      added genes are distinct genes it does not express; the same for a
      seed and epoch whatever the workers, another epoch draws others;
      downsampling lowers integer counts, 0 changes nothing, normalize and
      log1p come after it; prints "ok".
  datamodule_check.py vocab FILE
      LabelEncoder.from_export on a vocabulary file: prints its codes and
      terms ("0=T" ...), or the error it raised and exits 1.
"""
import argparse
import collections
import csv
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import sc_datamodule  # noqa: E402
from sc_datamodule import DataModule, GeneVocab, binning  # noqa: E402


def running(marker):
    """Processes (not this one) whose command line holds MARKER."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if marker.encode() in f.read():
                    out.append(int(pid))
        except OSError:
            pass
    return out


def cells(loader):
    out = []
    for b in loader:
        m = b["mask"]
        out += list(zip(b["dataset"][m].tolist(), b["row"][m].tolist()))
    return out


def cmd_flags(a):
    def has(args, *want):
        s = " ".join(args)
        for w in want:
            assert w in s, "%r not in %r" % (w, s)

    dm = DataModule(["a.h5ad"], labels=["cell_type"], how="most expr", max_len=50,
                    log1p=True, normalize=1e4, split_by="cell", split_fractions=(0.7, 0.2, 0.1),
                    split_seed=4, weight_by=["cell_type", "assay"], scaler=20,
                    cell_weight="nnz", n_samples=500, batch_size=64, seed=9)
    has(dm.stream_args("train"), "-l cell_type", "--top-genes 50", "--log1p", "--normalize=10000",
        "--split train --split-by cell --split-fractions 0.7,0.2,0.1 --split-seed 4",
        "--weight-by cell_type,assay --weight-scheme scaler --scaler 20", "--cell-weight nnz",
        "-n 500", "-b 64", "--seed 9")
    v = dm.stream_args("val")
    assert "-n" not in v and "--weight-by" not in v and "--split val" in " ".join(v), v
    dm = DataModule(["a.h5ad"], how="random expr", max_len=7, split_file="s.tsv")
    has(dm.stream_args("test"), "--random-genes 7", "--split test --split-file s.tsv")
    dm = DataModule(["a.h5ad"], dense=True)
    has(dm.stream_args("train"), "--dense", "--join outer")
    assert "-n" not in dm.stream_args("train")
    try:
        DataModule(["a.h5ad"], how="best")
        raise AssertionError("how='best' accepted")
    except ValueError:
        pass
    # binning: per cell quantiles of the stored values, zero stays zero
    b = binning(np.array([[0, 1, 2, 3, 4, 0], [5, 5, 0, 0, 0, 0]], dtype=np.float32), 5)
    assert (b[0] == [0, 1, 2, 3, 4, 0]).all() and (b[1][2:] == 0).all() and b[1][0] == b[1][1] > 0, b
    assert set(sc_datamodule.DataModule.FLAGS)
    print("ok")


def cmd_splits(a):
    dm = DataModule(a.paths, split_fractions=(0.5, 0.25, 0.25), num_workers=2, batch_size=100,
                    how="random expr", max_len=10).setup()
    parts = {}
    for part, loader in (("train", dm.train_dataloader(0)), ("val", dm.val_dataloader()),
                         ("test", dm.test_dataloader())):
        got = cells(loader)
        assert len(got) == len(set(got)) == dm.n_cells[part], (part, len(got), dm.n_cells[part])
        parts[part] = got
    sets = {k: set(v) for k, v in parts.items()}
    assert not (sets["train"] & sets["val"] or sets["train"] & sets["test"] or sets["val"] & sets["test"])
    import anndata
    total = sum(anndata.read_h5ad(p, backed="r").n_obs for p in a.paths)
    assert sum(len(s) for s in sets.values()) == total
    ds = {k: {d for d, _ in v} for k, v in sets.items()}
    assert not (ds["train"] & ds["val"] or ds["train"] & ds["test"] or ds["val"] & ds["test"]), ds
    assert cells(dm.val_dataloader()) == parts["val"], "validation order changed"
    # the parts do not depend on the world size: two ranks share the same
    # training cells
    ranks = [cells(DataModule(a.paths, split_fractions=(0.5, 0.25, 0.25), num_workers=2,
                              batch_size=100, rank=r, world_size=2).train_dataloader(0))
             for r in (0, 1)]
    assert not set(ranks[0]) & set(ranks[1]) and set(ranks[0]) | set(ranks[1]) == sets["train"]
    # a loader left early ends its workers and their sc-streams
    marker = os.path.abspath("cache-early-dm")
    dm2 = DataModule(a.paths, num_workers=2, batch_size=16, extra_args=["--cache-dir", marker])
    for b in dm2.train_dataloader(0):
        break
    for _ in range(100):
        if not running(marker):
            break
        time.sleep(0.05)
    assert not running(marker), "processes left after a break"
    print(" ".join("%s=%d" % (k, len(v)) for k, v in parts.items()))


def cmd_labels(a):
    import anndata
    col = "cell_type_ontology_term_id"
    dm = DataModule(a.paths, labels=[col], label_dir=a.dir, num_workers=2, batch_size=128,
                    split_by="cell").setup()
    enc = dm.encoders[col]
    assert enc.n_leaves > 0 and enc.hierarchy is not None and enc.hierarchy.shape[1] == enc.n_leaves
    terms = [anndata.read_h5ad(p, backed="r").obs[col].astype(str).tolist() for p in a.paths]
    n = 0
    for b in dm.train_dataloader(0):
        m = b["mask"]
        for d, r, c in zip(b["dataset"][m].tolist(), b["row"][m].tolist(), b["class"][m, 0].tolist()):
            assert c == enc.encode(terms[d][r]), (d, r, c, terms[d][r])
            assert c < 0 or enc.decode(c) == terms[d][r]
            n += 1
    assert n == dm.n_cells["train"]
    print(n)


def cmd_genes(a):
    with open(a.manifest, newline="") as f:
        org = [r["organism"] for r in csv.DictReader(f, delimiter="\t")]
    gv = GeneVocab([("human", a.human), ("mouse", a.mouse)])
    dm = DataModule(manifest=a.manifest, genes=gv, num_workers=2, batch_size=100,
                    split_fractions=(1, 0, 0), split_by="cell").setup()
    assert dm.n_cells["val"] == dm.n_cells["test"] == 0
    lo, hi = gv.offsets["mouse"]
    assert lo > 0 and hi == len(gv) == len(dm.gene_names)
    per = collections.Counter()
    for b in dm.train_dataloader(0):
        x = b["x"]
        crow, col = x.crow_indices().numpy(), x.col_indices().numpy()
        for i in np.nonzero(b["mask"].numpy())[0]:
            cols = col[crow[i]:crow[i + 1]]
            o = org[int(b["dataset"][i])]
            assert len(cols) and all(gv.organism(int(c)) == o for c in (cols.min(), cols.max())), o
            per[o] += 1
    print(" ".join("%s=%d" % kv for kv in sorted(per.items())))


def cmd_collate(a):
    nb = 7
    dm = DataModule(a.paths, labels=["cell_type"], how="most expr", max_len=12, log1p=True,
                    n_bins=nb, num_workers=2, batch_size=100, split_by="cell",
                    weight_by=["cell_type"], weight_scheme="inv").setup()
    n = 0
    for b in dm.train_dataloader(1):
        x, g = b["x"].numpy(), b["genes"].numpy()
        assert x.dtype == np.int64 and x.shape == g.shape == (100, 12)
        assert ((x > 0) == (g >= 0)).all() and x.max() <= nb - 1
        assert (np.diff(x, axis=1)[g[:, 1:] >= 0] <= 0).all(), "bins rise along a row"
        assert b["class"].shape == (100, 1)
        n += int(b["mask"].sum())
    assert n == dm.n_cells["train"], (n, dm.n_cells)
    print("ok")


def by_cell(loader):
    """{(dataset, row): (x row, genes row)} of a loader's real cells."""
    out = {}
    for b in loader:
        x = b["x"]
        x = (x.to_dense() if x.layout != __import__("torch").strided else x).numpy()
        g = b["genes"].numpy() if "genes" in b else np.zeros(0)
        for i in np.nonzero(b["mask"].numpy())[0]:
            key = (int(b["dataset"][i]), int(b["row"][i]))
            assert key not in out, key
            out[key] = (x[i].copy(), g[i].copy() if g.ndim == 2 else g)
    return out


def cmd_zeros(a):
    common = dict(num_workers=2, batch_size=100, split_by="cell", split_fractions=(1, 0, 0))
    full = by_cell(DataModule(a.paths, dense=True, **common).setup().train_dataloader(0))
    assert len(full) > 1000
    k, z = 12, 5
    dm = DataModule(a.paths, how="most expr", max_len=k, add_zero_genes=z, **common).setup()
    assert "--top-genes" not in dm.stream_args("train")
    one = by_cell(dm.train_dataloader(1))
    assert one.keys() == full.keys()
    filled = 0
    for key, (x, g) in one.items():
        row = full[key][0]
        nz = np.nonzero(row > 0)[0]
        ne = min(k, len(nz))
        assert x.shape == g.shape == (k + z,)
        real = g[g >= 0]
        assert len(set(real.tolist())) == len(real), "a gene twice"
        top, zero = g[:ne], g[ne:][g[ne:] >= 0]
        assert (x[:ne] == row[top]).all() and (row[top] > 0).all()
        rest = np.setdiff1d(nz, top)
        assert not len(rest) or row[rest].max() <= row[top].min(), "not the largest"
        assert (row[zero] == 0).all() and (x[ne:] == 0).all(), "an added gene is expressed"
        assert len(zero) == min(z + k - ne, len(row) - len(nz))
        filled += ne < k
    assert filled > 0, "no cell with fewer expressed genes than max_len: the test checks little"
    # the same for the seed and epoch, with 0 workers or 2; another epoch: other genes
    dm0 = DataModule(a.paths, how="most expr", max_len=k, add_zero_genes=z,
                     **dict(common, num_workers=0)).setup()
    again = by_cell(dm0.train_dataloader(1))
    assert all((again[c][1] == one[c][1]).all() and (again[c][0] == one[c][0]).all()
               for c in one)
    other = by_cell(dm.train_dataloader(2))
    assert any((other[c][1] != one[c][1]).any() for c in one)
    # random expressed genes: expressed, distinct, then unexpressed ones
    rnd = by_cell(DataModule(a.paths, how="random expr", max_len=k, add_zero_genes=z,
                             **common).setup().train_dataloader(0))
    for key, (x, g) in rnd.items():
        row = full[key][0]
        ne = min(k, int((row > 0).sum()))
        assert (row[g[:ne]] > 0).all() and (x[:ne] == row[g[:ne]]).all()
        assert (row[g[ne:][g[ne:] >= 0]] == 0).all()
    # downsampling the counts: integers, never more, fewer in all; 0: unchanged
    down = by_cell(DataModule(a.paths, downsample=0.5, **common).setup().train_dataloader(0))
    tot_in = tot_out = 0
    for key, (x, _) in down.items():
        row = full[key][0]
        assert (x == np.round(x)).all() and (x >= 0).all() and (x <= row).all()
        tot_in, tot_out = tot_in + row.sum(), tot_out + x.sum()
    assert tot_out < 0.8 * tot_in, (tot_out, tot_in)
    same = by_cell(DataModule(a.paths, downsample=0.0, **common).setup().train_dataloader(0))
    assert all((same[c][0] == full[c][0]).all() for c in full)
    twice = by_cell(DataModule(a.paths, downsample=0.5, **common).setup().train_dataloader(0))
    assert all((twice[c][0] == down[c][0]).all() for c in down)
    # normalize and log1p after the downsampling, in the collator
    dm = DataModule(a.paths, downsample=0.5, normalize=1e4, log1p=True, **common).setup()
    assert "--log1p" not in dm.stream_args("train")
    for key, (x, _) in by_cell(dm.train_dataloader(0)).items():
        d = down[key][0]
        if d.sum() > 0:
            assert abs(np.expm1(x.astype(np.float64)).sum() - 1e4) < 1, key
            assert ((x > 0) == (d > 0)).all()
    for bad in (dict(add_zero_genes=3), dict(how="most expr", add_zero_genes=-1),
                dict(downsample=1.0)):
        try:
            DataModule(a.paths, **bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (bad,))
    print("ok")


def cmd_vocab(a):
    try:
        enc = sc_datamodule.LabelEncoder.from_export(a.file)
    except ValueError as e:
        print("error: %s" % e)
        sys.exit(1)
    print(" ".join("%d=%s" % (c, t) for c, t in enumerate(enc.terms)))


ap = argparse.ArgumentParser()
sub = ap.add_subparsers(dest="cmd", required=True)
sub.add_parser("flags")
for name in ("splits", "collate", "zeros"):
    sub.add_parser(name).add_argument("paths", nargs="+")
p = sub.add_parser("labels")
p.add_argument("dir")
p.add_argument("paths", nargs="+")
p = sub.add_parser("genes")
p.add_argument("manifest")
p.add_argument("human")
p.add_argument("mouse")
sub.add_parser("vocab").add_argument("file")
args = ap.parse_args()
{"flags": cmd_flags, "splits": cmd_splits, "labels": cmd_labels, "genes": cmd_genes,
 "collate": cmd_collate, "zeros": cmd_zeros, "vocab": cmd_vocab}[args.cmd](args)
