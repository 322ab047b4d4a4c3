#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Cells/s into torch for each tensor kind of ScStreamDataset, with 0 and 2
DataLoader workers (scripts/bench.d/stream-kinds.sh).

    torch_kinds.py --runs N --cap CELLS --seconds S FILE...

Kinds: dense (CSR batches made dense by torch: the path the examples used
first), csr (sparse CSR tensors), C-dense (sc-stream --dense), padded
(--top-genes 256). Each run is a child process forked after the imports;
it times the batches after the first (the processes' start and the first
buffer's fill are left out), stops after CAP cells or S seconds and prints
SECONDS CELLS. Prints one line per (kind, workers): KIND WORKERS
MEDIAN_CELLS_PER_S.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import sc_stream  # noqa: E402

KINDS = [("dense", "dense", []), ("csr", "csr", []), ("C-dense", "csr", ["--dense"]),
         ("padded", "csr", ["--top-genes", "256"])]


def one(files, kind, extra, workers, cap, secs):
    args = ["--join", "outer", "-b", "256", "--seed", "1"] + extra
    ds = sc_stream.ScStreamDataset(files, args, kind=kind, rank=0, world_size=1)
    t0 = n = None
    for b in torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers):
        if t0 is None:  # from the first batch on: not the start of the processes
            t0, n = time.time(), 0
            continue
        n += len(b["dataset"]) - b["n_pad"]
        if n >= cap or time.time() - t0 >= secs:
            break
    return time.time() - t0, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cap", type=int, default=30000)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    torch.set_num_threads(1)
    for name, kind, extra in KINDS:
        for workers in (0, 2):
            rates = []
            for _ in range(a.runs):
                r, w = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(r)
                    try:
                        s, n = one(a.files, kind, extra, workers, a.cap, a.seconds)
                        os.write(w, ("%f %d" % (s, n)).encode())
                    finally:
                        os._exit(0)
                os.close(w)
                out = os.read(r, 100).decode().split()
                os.close(r)
                os.waitpid(pid, 0)
                if len(out) != 2:
                    print(name, workers, "FAILED", flush=True)
                    break
                rates.append(int(out[1]) / float(out[0]))
            else:
                rates.sort()
                print(name, workers, "%.0f" % rates[len(rates) // 2], flush=True)


main()
