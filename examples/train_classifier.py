#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Train a small cell-type classifier on CPU from sc-stream batches.

    examples/train_classifier.py [--epochs N] [--label COL] <in.h5ad>...

sc-stream reads the datasets (outer join of their genes), normalizes each
cell to 10,000 counts and takes log1p in C, and emits shuffled batches with
the label as integer codes; the Python side only turns them into tensors.
Two DataLoader workers each run their own share of every epoch. Cells with
an unknown label (code -1) and padding cells are left out of the loss.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import sc_stream  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--label", default="cell_type")
ap.add_argument("--batch-size", type=int, default=128)
ap.add_argument("--workers", type=int, default=2)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("files", nargs="+")
a = ap.parse_args()

args = ["--join", "outer", "-l", a.label, "--normalize", "--log1p",
        "-b", a.batch_size, "--seed", a.seed]
h = sc_stream.header(a.files, args)
n_genes, classes = len(h["genes"]), h["labels"][a.label]
print("%d cells, %d genes, %d classes of %s" % (h["n_cells"], n_genes, len(classes), a.label))

torch.manual_seed(a.seed)
model = torch.nn.Sequential(torch.nn.Linear(n_genes, 64), torch.nn.ReLU(),
                            torch.nn.Linear(64, len(classes)))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
data = sc_stream.ScStreamDataset(a.files, args, kind="dense")
for epoch in range(a.epochs):
    data.set_epoch(epoch)
    loader = torch.utils.data.DataLoader(data, batch_size=None, num_workers=a.workers)
    t0, cells, correct, total_loss, steps = time.time(), 0, 0, 0.0, 0
    for b in loader:
        y = b["labels"][a.label]
        keep = torch.arange(len(y)) < len(y) - b["n_pad"]
        keep &= y >= 0
        if not keep.any():
            continue
        logits = model(b["x"][keep])
        loss = torch.nn.functional.cross_entropy(logits, y[keep])
        opt.zero_grad()
        loss.backward()
        opt.step()
        cells += int(keep.sum())
        correct += int((logits.argmax(1) == y[keep]).sum())
        total_loss += float(loss)
        steps += 1
    dt = time.time() - t0
    print("epoch %d: %d cells, loss %.3f, training accuracy %.3f, %.0f cells/s"
          % (epoch, cells, total_loss / max(steps, 1), correct / max(cells, 1), cells / dt))
