#!/usr/bin/python3
"""Compare `sc-inspect --json` with tests/data/EXPECTED.json.

EXPECTED.json is the oracle: what anndata 0.8 / h5py report for each real
sample file. For every entry (or only the KEYs given as arguments) this runs
`sc-inspect --json FILE` and prints "ok KEY" or "not ok KEY: <differences>".
Exits 0 when every file matches, 1 otherwise, 2 on a usage error.

Usage: check_expected.py [--data DIR] [--tool PATH] [KEY...]
  DIR defaults to $SC_TEST_DATA or tests/data; PATH to sc-inspect on $PATH,
  else $SC_BUILD/bin/sc-inspect (SC_BUILD=build by default).
SPDX-License-Identifier: MIT
"""
import json
import math
import os
import shutil
import subprocess
import sys

# numpy sums float32 data in float32 (pairwise), sc-inspect in double.
SUM_RTOL = 1e-5

MAPPINGS = ("obsm", "varm", "obsp", "varp", "layers")


class Diff:
    """Collects the differences found for one file."""

    def __init__(self):
        self.items = []

    def add(self, where, msg):
        self.items.append("%s: %s" % (where, msg))

    def same_set(self, where, got, want):
        got, want = set(got), set(want)
        if got != want:
            self.add(where, "missing %s, unexpected %s"
                     % (js(sorted(want - got)), js(sorted(got - want))))

    def eq(self, where, got, want):
        if got != want:
            self.add(where, "got %s, expected %s" % (js(got), js(want)))
            return False
        return True


def js(v):
    return json.dumps(v, sort_keys=True)


def check_sum(d, where, got, want):
    if want is None:
        d.eq(where, got, None)
        return
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        d.add(where, "got %s, expected %r" % (js(got), want))
        return
    tol = SUM_RTOL * abs(want)
    if not math.isfinite(got) or abs(got - want) > tol:
        d.add(where, "got %r, expected %r (tolerance %.3g)" % (got, want, tol))


def check_matrix(d, where, got, want):
    """A matrix entry: type, dtype, shape, nnz, sum (those EXPECTED has)."""
    if want is None or got is None:
        d.eq(where, got, want)
        return
    if not isinstance(got, dict):
        d.add(where, "not an object: %s" % js(got))
        return
    for k in ("type", "dtype", "shape", "nnz"):
        if k in want:
            d.eq("%s.%s" % (where, k), got.get(k), want[k])
    if "sum" in want:
        check_sum(d, where + ".sum", got.get("sum"), want["sum"])


def check_columns(d, where, got, want):
    """obs/var columns: names in order, then each kind description."""
    if not isinstance(got, dict):
        d.add(where, "missing")
        return
    d.eq(where + " columns", list(got), list(want))
    for name, w in want.items():
        g = got.get(name)
        for k, v in w.items():
            if g is not None:
                d.eq("%s[%s].%s" % (where, name, k), g.get(k), v)


def check_mapping(d, where, got, want):
    if not isinstance(got, dict):
        d.add(where, "missing")
        return
    d.same_set(where + " keys", got, want)
    for name, w in want.items():
        if name in got:
            check_matrix(d, "%s[%s]" % (where, name), got[name], w)


def check_h5ad(d, got, want):
    for k in ("n_obs", "n_vars", "obs_names_head", "var_names_head",
              "obs_index_name", "var_index_name"):
        d.eq(k, got.get(k), want[k])
    check_matrix(d, "X", got.get("X"), want["X"])
    check_columns(d, "obs", got.get("obs"), want["obs"])
    check_columns(d, "var", got.get("var"), want["var"])
    for m in MAPPINGS:
        check_mapping(d, m, got.get(m), want[m])
    wr, gr = want["raw"], got.get("raw")
    if wr is None or gr is None:
        d.eq("raw", gr, wr)
    else:
        check_matrix(d, "raw.X", gr.get("X"), wr["X"])
        d.eq("raw.n_vars", gr.get("n_vars"), wr["n_vars"])
        d.eq("raw.var_columns", gr.get("var_columns"), wr["var_columns"])
    d.same_set("uns_keys", got.get("uns_keys") or [], want["uns_keys"])


def make_unique(names):
    """anndata's var_names_make_unique: A, A, A -> A, A-1, A-2."""
    seen, out = {}, []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append("%s-%d" % (n, seen[n]))
        else:
            seen[n] = 0
            out.append(n)
    return out


def check_head(d, where, got, want):
    """The first names: sc-inspect prints 3, EXPECTED may hold fewer."""
    got = got or []
    n = min(len(got), len(want))
    if n < min(len(want), 3):
        d.add(where, "got %s, expected %s" % (js(got), js(want)))
    else:
        d.eq(where, got[:n], want[:n])


def check_counts(d, got, want, n_features, n_barcodes, dtypes):
    """The parts every imported format shares: X is CSR-like or dense,
    cells x genes, with the file's nnz and sum."""
    d.eq("n_obs", got.get("n_obs"), n_barcodes)
    d.eq("n_vars", got.get("n_vars"), n_features)
    x = got.get("X")
    if not isinstance(x, dict):
        d.add("X", "missing")
        return
    d.eq("X.shape", x.get("shape"), [n_barcodes, n_features])
    if "nnz" in want:
        d.eq("X.nnz", x.get("nnz"), want["nnz"])
    # The dtype stored in the file, or float32 (what scanpy and anndata's
    # read_loom convert to).
    if dtypes and x.get("dtype") not in dtypes:
        d.add("X.dtype", "got %s, expected one of %s"
              % (js(x.get("dtype")), js(sorted(set(dtypes)))))
    check_sum(d, "X.sum", x.get("sum"), want["sum"])


def check_tenx_var(d, got, want_names, want_ids, ids_run, extra_fields=()):
    var = got.get("var") or {}
    for c in ("gene_ids",) + tuple(extra_fields):
        if c not in var:
            d.add("var", "no column %r (columns %s)" % (c, js(list(var))))
    if ids_run is not None:
        check_head(d, "var_names_head (--var-ids)",
                   ids_run.get("var_names_head"), want_ids)
    check_head(d, "var_names_head", got.get("var_names_head"),
               make_unique(want_names))


def check_10x_h5(d, got, want, ids_run, gex_run):
    if want["format"] == "10x-h5-v2":
        genomes = want["genomes"]
        if len(genomes) != 1:
            d.add("genomes", "multi-genome files are not mapped")
            return
        g = next(iter(genomes.values()))
        nf, nb = g["shape_genes_x_barcodes"]
        check_counts(d, got, g, nf, nb, None)
        check_head(d, "obs_names_head", got.get("obs_names_head"),
                   g["barcodes_head"])
        check_tenx_var(d, got, g["gene_names_head"], g["genes_head"],
                       ids_run)
        return
    nf, nb = want["shape_features_x_barcodes"]
    check_counts(d, got, want, nf, nb, [want["data_dtype"], "float32"])
    check_head(d, "obs_names_head", got.get("obs_names_head"),
               want["barcodes_head"])
    extra = [f for f in want["feature_fields"]
             if f not in ("_all_tag_keys", "id", "name", "feature_type")]
    check_tenx_var(d, got, want["feature_names_head"],
                   want["feature_ids_head"], ids_run, ["feature_types"] + extra)
    # --gex-only keeps every feature when all are gene expression.
    if want["feature_types"] == ["Gene Expression"]:
        d.eq("n_vars (--gex-only)", gex_run.get("n_vars"), nf)
    elif gex_run.get("n_vars", nf) >= nf:
        d.add("n_vars (--gex-only)", "got %s, expected fewer than %d"
              % (js(gex_run.get("n_vars")), nf))


def check_10x_mtx(d, got, want, ids_run):
    nf, nb = want["shape_features_x_barcodes"]
    check_counts(d, got, want, nf, nb, None)
    check_head(d, "obs_names_head", got.get("obs_names_head"),
               want["barcodes_head"])
    feats = want["features_head"]
    extra = ["feature_types"] if want["feature_columns"] >= 3 else []
    check_tenx_var(d, got, [f[1] for f in feats], [f[0] for f in feats],
                   ids_run, extra)


def check_loom(d, got, want):
    ng, nc = want["matrix_shape_genes_x_cells"]
    layers = want["layers"]
    check_counts(d, got, want, ng, nc, [want["dtype"], "float32"])
    # anndata: the Gene row attribute becomes var_names, CellID obs_names;
    # every other 1-D attribute becomes a column.
    var = got.get("var") or {}
    for a in want["row_attrs"]:
        if a != "Gene" and a not in var:
            d.add("var", "no column %r for row attribute %r" % (a, a))
    nobs = len(got.get("obs") or {})
    ncol = want["col_attrs_count"]
    if nobs not in (ncol, ncol - 1):
        d.add("obs", "%d columns for %d column attributes" % (nobs, ncol))
    want_layers = set(layers)
    if "spliced" in want_layers:
        want_layers = (want_layers - {"spliced"}) | {"matrix"}
    d.same_set("layers keys", got.get("layers") or {}, want_layers)


def run_json(tool, path, extra=()):
    p = subprocess.run([tool, "--json"] + list(extra) + [path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = p.stderr.decode("utf-8", "replace").strip()
    if p.returncode != 0:
        raise RuntimeError("sc-inspect exited with status %d: %s"
                           % (p.returncode, err))
    lines = p.stdout.decode("utf-8").splitlines()
    if len(lines) != 1:
        raise RuntimeError("expected 1 line of JSON, got %d" % len(lines))
    if err:
        raise RuntimeError("unexpected stderr: %s" % err)
    return json.loads(lines[0])


def check_one(tool, data, key, want):
    d = Diff()
    path = os.path.join(data, key)
    fmt = want.get("format")
    try:
        got = run_json(tool, path)
        ids_run = gex_run = None
        if fmt.startswith("10x"):
            ids_run = run_json(tool, path, ["--var-ids"])
        if fmt == "10x-h5-v3":
            gex_run = run_json(tool, path, ["--gex-only"])
    except (RuntimeError, ValueError, OSError) as e:
        d.add("sc-inspect", str(e))
        return d
    if fmt == "h5ad":
        d.eq("format", got.get("format"), "h5ad")
        check_h5ad(d, got, want)
    elif fmt in ("10x-h5-v2", "10x-h5-v3"):
        d.eq("format", got.get("format"), fmt)
        check_10x_h5(d, got, want, ids_run, gex_run)
    elif fmt == "10x-mtx":
        d.eq("format", got.get("format"), fmt)
        check_10x_mtx(d, got, want, ids_run)
    elif fmt == "loom":
        d.eq("format", got.get("format"), fmt)
        check_loom(d, got, want)
    else:
        d.add("format", "EXPECTED.json has unknown format %r" % fmt)
    return d


def main(argv):
    data = os.environ.get("SC_TEST_DATA", "tests/data")
    tool = shutil.which("sc-inspect") or os.path.join(
        os.environ.get("SC_BUILD", "build"), "bin", "sc-inspect")
    keys = []
    args = iter(argv)
    for a in args:
        if a == "--data":
            data = next(args, None)
        elif a == "--tool":
            tool = next(args, None)
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a.startswith("-"):
            print("check_expected.py: unknown option %r" % a, file=sys.stderr)
            return 2
        else:
            keys.append(a)
    if data is None or tool is None:
        print("check_expected.py: option needs a value", file=sys.stderr)
        return 2
    with open(os.path.join(data, "EXPECTED.json"), encoding="utf-8") as f:
        expected = json.load(f)
    for k in keys:
        if k not in expected:
            print("check_expected.py: no entry %r in EXPECTED.json" % k,
                  file=sys.stderr)
            return 2
    failed = 0
    for key in keys or sorted(expected):
        d = check_one(tool, data, key, expected[key])
        if d.items:
            failed += 1
            print("not ok %s: %s" % (key, "; ".join(d.items)))
        else:
            print("ok %s" % key)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
