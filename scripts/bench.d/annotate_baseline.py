#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Baseline for scripts/bench.d/annotate.sh, what a Python user does.

labels SHARE LABELS.h5ad: map the distinct cell type labels with dicts over
    the CL guide file (label, label in any case, exact synonym in any case:
    bionty's standardize tiers); print "<n_labels> <seconds>" for the
    mapping only (the dicts are built before the clock starts).
annotate SHARE IN.h5ad OUT.h5ad COLUMN: read with anndata, map COLUMN's
    distinct labels the same way, add cell_type_ontology_term_id and
    cell_type, write (no compression); print "read map write" seconds."""
import gzip
import json
import os
import sys
import time


def cl_dicts(share):
    d = os.path.join(share, "ontology/cxg-guide/schema-7.0.0")
    f = [x for x in os.listdir(d) if x.startswith("CL-")][0]
    with gzip.open(os.path.join(d, f)) as fp:
        t = json.load(fp)
    lab, lab_ci, syn_ci = {}, {}, {}
    for k, v in t.items():
        if v.get("deprecated"):
            continue
        lab.setdefault(v["label"], set()).add(k)
        lab_ci.setdefault(v["label"].lower(), set()).add(k)
        for s in v.get("synonyms") or []:
            syn_ci.setdefault(s.lower(), set()).add(k)
    return t, lab, lab_ci, syn_ci


def map_labels(labels, dicts):
    _, lab, lab_ci, syn_ci = dicts
    out = {}
    for s in labels:
        for d, key in ((lab, s), (lab_ci, s.lower()), (syn_ci, s.lower())):
            hit = d.get(key)
            if hit:
                out[s] = sorted(hit)[0] if len(hit) == 1 else None
                break
        else:
            out[s] = None
    return out


def main():
    import anndata
    mode, share = sys.argv[1], sys.argv[2]
    dicts = cl_dicts(share)
    if mode == "labels":
        a = anndata.read_h5ad(sys.argv[3], backed="r")
        labels = list(a.obs["cell_type"].cat.categories)
        t0 = time.perf_counter()
        map_labels(labels, dicts)
        print(len(labels), time.perf_counter() - t0)
        return
    t0 = time.perf_counter()
    a = anndata.read_h5ad(sys.argv[3])
    t1 = time.perf_counter()
    col = a.obs[sys.argv[5]].astype("category")
    m = map_labels(list(col.cat.categories), dicts)
    ids = col.map(lambda s: m.get(s) or "unknown").astype("category")
    a.obs["cell_type_ontology_term_id"] = ids
    a.obs["cell_type"] = ids.map(lambda i: dicts[0][i]["label"] if i in dicts[0] else "unknown").astype("category")
    t2 = time.perf_counter()
    a.write_h5ad(sys.argv[4])
    t3 = time.perf_counter()
    print(t1 - t0, t2 - t1, t3 - t2)


if __name__ == "__main__":
    main()
