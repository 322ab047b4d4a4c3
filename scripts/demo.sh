#!/bin/bash
# make demo: run the toolkit end to end on the bundled data.
# SPDX-License-Identifier: MIT
# Today: every bundled real file (h5ad of every AnnData generation, 10x
# HDF5 and MTX, loom) is inspected, converted to h5ad, and the conversion
# is opened with the real anndata 0.8.  The tool issues extend this script.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export PATH=$PWD/$BUILD/bin:$PATH
out=${SC_DEMO_DIR:-$BUILD/demo}
mkdir -p "$out"
data=tests/data
inputs=("$data"/h5ad/*.h5ad "$data"/10x_h5/*.h5 "$data"/10x_mtx/*/ "$data"/loom/*.loom)

echo "== 1. inspect every bundled real file"
sc-inspect "${inputs[0]}"
sc-inspect --json --no-sums "${inputs[@]}" |
    /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    x = d["X"]
    xs = "%s %s" % (x["type"], x["dtype"]) if x else "no X"
    print("  %-58s %-10s %-8s %7d x %-5d %s" % (d["path"][-58:], d["format"],
          d["generation"] or "", d["n_obs"], d["n_vars"], xs))'

echo "== 2. convert each to h5ad (gzip 4, row-block chunks) and open it in anndata 0.8"
for f in "${inputs[@]}"; do
    name=$(basename "${f%/}"); name=${name%.*}
    sc-inspect -o "$out/$name.h5ad" "$f"
    echo "$out/$name.h5ad"
done | /usr/bin/python3 -c '
import sys, warnings
warnings.filterwarnings("ignore")
import anndata
for p in sys.stdin.read().split():
    a = anndata.read_h5ad(p)
    print("  anndata %s reads %-40s %6d x %-5d X=%s" % (anndata.__version__,
          p.split("/")[-1], a.n_obs, a.n_vars, type(a.X).__name__ if a.X is not None else None))'
echo "== demo done: outputs in $out"
