#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Train a tiny cell-type model with sc_datamodule's DataModule.

    examples/train_datamodule.py -m collection.tsv [--label-dir DIR] [--epochs N]

The collection (a manifest, e.g. `sc-register collection export`, or the
demo's build/demo/collection.tsv) is split by cell into train, val and test
(--split-by dataset keeps datasets whole); each cell is given as its most
expressed genes (scDataLoader's how='most expr': sc-stream --top-genes)
after normalisation and log1p (in C), binned into --bins levels per cell by
the collator in the DataLoader workers. Training draws are weighted by cell
type (scDataLoader's scaler scheme) unless --no-weights. With --label-dir
(the output of `sc-annotate export`) the class codes are the export's.
The model: a bag of gene embeddings, each scaled by its bin, then a linear
layer; one line per epoch with the training loss and the validation
accuracy.
"""
import argparse
import os
import sys
import time

import torch

try:
    import sc_datamodule
except ImportError:  # a checkout (python/), or installed (PREFIX/lib/sc/python)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.join(here, "..", "python"),
                    os.path.join(here, "..", "..", "..", "lib", "sc", "python")]
    import sc_datamodule  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("-m", "--manifest", required=True)
ap.add_argument("--label", default="cell_type_ontology_term_id")
ap.add_argument("--label-dir")
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--batch-size", type=int, default=128)
ap.add_argument("--workers", type=int, default=2)
ap.add_argument("--max-len", type=int, default=200)
ap.add_argument("--bins", type=int, default=11)
ap.add_argument("--split-by", default="cell", choices=("cell", "dataset"))
ap.add_argument("--no-weights", action="store_true")
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()

dm = sc_datamodule.DataModule(
    manifest=a.manifest, labels=[a.label], label_dir=a.label_dir, split_by=a.split_by,
    how="most expr", max_len=a.max_len, normalize=1e4, log1p=True, n_bins=a.bins,
    weight_by=[] if a.no_weights else [a.label], batch_size=a.batch_size,
    num_workers=a.workers, seed=a.seed).setup()
enc = dm.encoders[a.label]
n_genes, n_classes = len(dm.gene_names), len(enc)
print("%d genes, %d classes; cells: train %d, val %d, test %d"
      % (n_genes, n_classes, dm.n_cells["train"], dm.n_cells["val"], dm.n_cells["test"]))


class Model(torch.nn.Module):
    def __init__(self, n_genes, n_classes, dim=32):
        super().__init__()
        self.pad = n_genes
        self.emb = torch.nn.EmbeddingBag(n_genes + 1, dim, mode="sum", padding_idx=n_genes)
        self.out = torch.nn.Linear(dim, n_classes)

    def forward(self, genes, x):
        genes = torch.where(genes < 0, torch.full_like(genes, self.pad), genes).long()
        h = self.emb(genes, per_sample_weights=x.float() / a.bins)
        return self.out(torch.relu(h))


torch.manual_seed(a.seed)
model = Model(n_genes, n_classes)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)


def batches(loader):
    for b in loader:
        y = b["class"][:, 0]
        keep = b["mask"] & (y >= 0)
        if keep.any():
            yield b["genes"][keep], b["x"][keep], y[keep]


for epoch in range(a.epochs):
    t0, cells, loss_sum, steps = time.time(), 0, 0.0, 0
    model.train()
    for genes, x, y in batches(dm.train_dataloader(epoch)):
        loss = torch.nn.functional.cross_entropy(model(genes, x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        cells += len(y)
        loss_sum += float(loss)
        steps += 1
    model.eval()
    right = seen = 0
    with torch.no_grad():
        for genes, x, y in batches(dm.val_dataloader()):
            right += int((model(genes, x).argmax(1) == y).sum())
            seen += len(y)
    print("epoch %d: %d training draws, loss %.3f, validation accuracy %.3f on %d cells, %.1f s"
          % (epoch, cells, loss_sum / max(steps, 1), right / max(seen, 1), seen, time.time() - t0))
