#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Train a small cell-type classifier from sc-stream batches, on one process
or on several ranks (torchrun), and save a checkpoint.

    train.py -m collection.tsv -o model.pt [--epochs N] [--label COL]
    torchrun --standalone --nproc_per_node 2 train.py -m c.tsv -o model.pt

Each rank runs its own sc-stream with --rank RANK --world-size WORLD_SIZE:
sc-stream gives every rank a disjoint share of each epoch with the same
number of batches (padding cells are masked out of the loss), so the ranks
never wait for each other at the end of an epoch and nothing is pickled.
With WORLD_SIZE > 1 the model is wrapped in DistributedDataParallel
(gloo on CPU, nccl when --backend nccl and CUDA is there). Rank 0 writes
the checkpoint: the weights, the gene list, the label vocabulary and the
manifest's sha256, so a registry can tie the model to its data.
Each rank prints one line "rank R/W: ..." with the cells and batches it saw.
"""
import argparse
import hashlib
import os
import sys
import time

import torch

try:
    import sc_stream
except ImportError:  # a checkout (python/), or installed (PREFIX/lib/sc/python)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.join(here, "..", "..", "python"),
                    os.path.join(here, "..", "..", "..", "..", "lib", "sc", "python")]
    import sc_stream  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("-m", "--manifest", required=True, help="datasets (sc-register collection export)")
ap.add_argument("-o", "--output", required=True, help="checkpoint to write (rank 0)")
ap.add_argument("--label", default="cell_type_ontology_term_id")
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--batch-size", type=int, default=128)
ap.add_argument("--hidden", type=int, default=64)
ap.add_argument("--lr", type=float, default=1e-2)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--backend", default="gloo", help="gloo (CPU) or nccl (GPUs)")
ap.add_argument("--stream-arg", action="append", default=[],
                help="extra sc-stream argument (repeatable), e.g. --stream-arg=--min-genes=200")
a = ap.parse_args()

rank = int(os.environ.get("RANK", 0))
world = int(os.environ.get("WORLD_SIZE", 1))
distributed = world > 1
device = torch.device("cpu")
if distributed:
    import torch.distributed as dist
    if a.backend == "nccl" and torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    dist.init_process_group(a.backend)

args = ["--join", "outer", "-l", a.label, "--normalize", "--log1p",
        "-b", a.batch_size, "--seed", a.seed] + a.stream_arg
h = sc_stream.header(args=args, manifest=a.manifest)
genes, classes = h["genes"], h["labels"][a.label]
if rank == 0:
    print("train: %d cells, %d datasets, %d genes, %d classes of %s, %d rank(s)"
          % (h["n_cells"], len(h.get("datasets", [])), len(genes), len(classes), a.label, world),
          flush=True)

torch.manual_seed(a.seed)
model = torch.nn.Sequential(torch.nn.Linear(len(genes), a.hidden), torch.nn.ReLU(),
                            torch.nn.Linear(a.hidden, len(classes))).to(device)
net = model
if distributed:
    net = torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)
opt = torch.optim.Adam(net.parameters(), lr=a.lr)
data = sc_stream.ScStreamDataset(args=args, manifest=a.manifest, kind="dense",
                                 rank=rank, world_size=world)
t0 = time.time()
for epoch in range(a.epochs):
    data.set_epoch(epoch)
    cells = labelled = correct = batches = 0
    loss_sum = 0.0
    seen = set()
    for b in torch.utils.data.DataLoader(data, batch_size=None, num_workers=0):
        x, y = b["x"].to(device), b["labels"][a.label].to(device)
        real = torch.arange(len(y), device=device) < len(y) - b["n_pad"]
        keep = real & (y >= 0)  # padding and cells of unknown type: no loss
        logits = net(x)
        # every rank steps on every batch (DDP all-reduces in backward), so a
        # batch of padding only contributes a zero loss
        ce = torch.nn.functional.cross_entropy(logits, y.clamp(min=0), reduction="none")
        loss = (ce * keep).sum() / keep.sum().clamp(min=1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        cells += int(real.sum())
        labelled += int(keep.sum())
        correct += int(((logits.argmax(1) == y) & keep).sum())
        loss_sum += float(loss)
        batches += 1
        seen.update(b["dataset"][real.cpu()].tolist())
    # one write per line: the ranks share stdout, and print() writes the
    # text and its newline apart
    sys.stdout.write("rank %d/%d: epoch %d: %d batches, %d cells (%d labelled) from %d datasets, "
                     "loss %.3f, training accuracy %.3f\n"
                     % (rank, world, epoch, batches, cells, labelled, len(seen),
                        loss_sum / max(batches, 1), correct / max(labelled, 1)))
    sys.stdout.flush()

if rank == 0:
    with open(a.manifest, "rb") as f:
        msha = hashlib.sha256(f.read()).hexdigest()
    tmp = "%s.tmp.%d" % (a.output, os.getpid())
    torch.save({"state_dict": model.state_dict(), "genes": genes, "classes": classes,
                "label": a.label, "manifest": os.path.abspath(a.manifest),
                "manifest_sha256": msha, "epochs": a.epochs, "seed": a.seed,
                "world_size": world}, tmp)
    os.replace(tmp, a.output)
    print("train: wrote %s in %.1f s" % (a.output, time.time() - t0), flush=True)
if distributed:
    dist.barrier()
    dist.destroy_process_group()
