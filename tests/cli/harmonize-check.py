#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""harmonize-check CORPUS OUTDIR: compare sc-harmonize's outputs and reports
in OUTDIR with the truth file CORPUS/truth.json written by make-corpus.

Checks per dataset: status and refusal reasons; the gene column chosen and
every entry's mapping (id or dropped); the mapped-counts total; the cells
passing QC; the metadata rewrites; and, for written files, that anndata 0.8
opens them, var is the mapped ids, X holds the counts of the kept cells
(summed duplicates preserve the totals exactly) and the schema-7 layout
(organism in uns, no obs organism, *_ontology_term_id columns categorical).
Prints one line of accuracy figures; exits 1 on any difference."""
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")


def main():
    import anndata
    import numpy as np
    import scipy.sparse as sp

    corpus, outdir = sys.argv[1], sys.argv[2]
    truth = json.load(open(os.path.join(corpus, "truth.json")))
    errs = []
    n_genes = n_genes_ok = n_rw = n_rw_ok = n_status_ok = 0

    def err(d, msg):
        errs.append("%s: %s" % (d["name"], msg))

    for d in truth["datasets"]:
        rep_path = os.path.join(outdir, d["name"] + ".report.json")
        if not os.path.exists(rep_path):
            err(d, "no report")
            continue
        rep = json.load(open(rep_path))
        ok = True
        if rep["status"] != d["expected_status"]:
            err(d, "status %s, truth %s" % (rep["status"], d["expected_status"]))
            ok = False
        if sorted(rep.get("refusal_reasons", [])) != sorted(d["refusal_reasons"]):
            err(d, "reasons %s, truth %s" % (rep.get("refusal_reasons"), d["refusal_reasons"]))
            ok = False
        n_status_ok += ok
        g, tg = rep.get("genes"), d["genes"]
        if g is None:
            err(d, "no gene mapping in the report")
            continue
        if (g["table"], g["column"]) != (tg["table"], tg["column"]):
            err(d, "gene column %s/%s, truth %s/%s" % (g["table"], g["column"], tg["table"], tg["column"]))
        if g["original"] != tg["original"]:
            err(d, "gene entries differ from the truth's")
        else:
            for i, (a, b) in enumerate(zip(g["mapped"], tg["expected"])):
                n_genes += 1
                if a == b:
                    n_genes_ok += 1
                elif len([e for e in errs if "gene" in e]) < 20:
                    err(d, "gene %r -> %s (%s), truth %s (%s)" % (
                        tg["original"][i], a, g["kind"][i], b, tg["kind"][i]))
        if g["n_mapped"] != tg["n_mapped"]:
            err(d, "n_mapped %d, truth %d" % (g["n_mapped"], tg["n_mapped"]))
        # rewrites
        mine = sorted((r["column"], r["rule"], r["from"], r["to"], r["n_cells"]) for r in rep["rewrites"])
        theirs = sorted((r["column"], r["rule"], r["from"], r["to"], r["n_cells"]) for r in d["rewrites"])
        n_rw += len(theirs)
        n_rw_ok += len(set(mine) & set(theirs))
        if mine != theirs:
            err(d, "rewrites differ: extra %s, missing %s" % (
                sorted(set(mine) - set(theirs)), sorted(set(theirs) - set(mine))))
        if d["expected_status"] != "ok" or rep["status"] != "ok":
            continue
        if abs(rep["total_counts_mapped"] - tg["total_counts_mapped"]) > 0.5:
            err(d, "mapped counts %s, truth %s" % (rep["total_counts_mapped"], tg["total_counts_mapped"]))
        if rep["qc"]["n_cells_pass"] != d["qc"]["n_cells_pass"]:
            err(d, "cells passing QC %d, truth %d" % (rep["qc"]["n_cells_pass"], d["qc"]["n_cells_pass"]))
        # the written file
        a = anndata.read_h5ad(rep["output"])
        ids = [x for x in tg["expected"] if x is not None]
        if list(a.var_names) != list(dict.fromkeys(ids)):
            err(d, "var names are not the mapped ids in first-seen order")
        if a.n_obs != rep["n_obs"]:
            err(d, "n_obs %d, report %d" % (a.n_obs, rep["n_obs"]))
        X = a.X
        if not sp.isspmatrix_csr(X) or X.dtype != np.float32:
            err(d, "X is not float32 CSR")
        tot = float(X.sum(dtype=np.float64))
        if abs(tot - rep["total_counts_out"]) > 0.5:
            err(d, "X sums to %s, report %s" % (tot, rep["total_counts_out"]))
        # duplicates summed exactly: compare with the input's columns
        if tg["duplicates"]:
            src = anndata.read_h5ad(os.path.join(corpus, d["file"]))
            loc = d["counts"]["location"]
            M = src.raw.X if loc == "raw/X" else (src.layers["counts"] if loc == "layers/counts" else src.X)
            M = sp.csr_matrix(M)
            keep = np.array([src.obs_names.get_loc(c) for c in a.obs_names])
            Mk = M[keep]
            for gid, ent in tg["duplicates"].items():
                want = float(Mk[:, ent].sum(dtype=np.float64))
                got = float(X[:, a.var_names.get_loc(gid)].sum(dtype=np.float64))
                if want != got:
                    err(d, "duplicate %s: %s counts, input %s" % (gid, got, want))
        if "organism_ontology_term_id" not in a.uns or "organism_ontology_term_id" in a.obs:
            err(d, "organism is not in uns only")
        for c in a.obs.columns:
            if c.endswith("_ontology_term_id") and a.obs[c].dtype.name != "category":
                err(d, "obs %s is not categorical" % c)
        for c in ("feature_name", "feature_reference", "feature_biotype", "feature_type", "feature_length"):
            if c not in a.var:
                err(d, "var has no %s" % c)
    acc = 100.0 * n_genes_ok / n_genes if n_genes else 100.0
    racc = 100.0 * n_rw_ok / n_rw if n_rw else 100.0
    print("datasets %d (status right %d); gene entries %d, mapped as the truth %d (%.2f%%); "
          "rewrites %d, found %d (%.2f%%)" % (len(truth["datasets"]), n_status_ok, n_genes, n_genes_ok,
                                             acc, n_rw, n_rw_ok, racc))
    for e in errs:
        print("  " + e, file=sys.stderr)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
