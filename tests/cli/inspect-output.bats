#!/usr/bin/env bats
# sc-inspect -o never writes what anndata cannot read (issue 15): inputs
# with duplicate or NaN categories, non-UTF-8 strings or a 2-D obs column
# (made here with h5py, past anndata's own checks) are refused in one line
# naming the output, exit 1, no file; what it does write, anndata reads.
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    cd "$BATS_FILE_TMPDIR"
    $PY - <<'PY'
import h5py, numpy as np, anndata as ad, pandas as pd, scipy.sparse as sp

def make(name, tweak):
    a = ad.AnnData(X=sp.csr_matrix(np.arange(12, dtype=np.float32).reshape(4, 3)),
                   obs=pd.DataFrame({"ct": pd.Categorical(["a", "b", "a", "c"]),
                                     "n": [1.0, 2.0, 3.0, 4.0]},
                                    index=["c0", "c1", "c2", "c3"]),
                   var=pd.DataFrame(index=["g0", "g1", "g2"]))
    a.write_h5ad(name)
    with h5py.File(name, "r+") as f:
        tweak(f)

def strings(f, path, values, **kw):
    del f[path]
    f.create_dataset(path, data=np.array(values, dtype=object),
                     dtype=h5py.string_dtype(**kw))
    f[path].attrs["encoding-type"] = "string-array"
    f[path].attrs["encoding-version"] = "0.2.0"

def nan(f):
    del f["obs/ct/categories"]
    f["obs/ct"].create_dataset("categories", data=np.array([1.0, np.nan, 3.0]))

def two_d(f):
    del f["obs/n"]
    f["obs"].create_dataset("n", data=np.ones((4, 2)))
    f["obs/n"].attrs["encoding-type"] = "array"
    f["obs/n"].attrs["encoding-version"] = "0.2.0"

make("dup-categories.h5ad", lambda f: strings(f, "obs/ct/categories", [b"a", b"b", b"a"]))
make("nan-categories.h5ad", nan)
make("non-utf8.h5ad", lambda f: strings(f, "obs/_index", [b"c0", b"c\xff", b"c2", b"c3"], encoding="ascii"))
make("obs-2d.h5ad", two_d)
make("good.h5ad", lambda f: None)
PY
}

setup() {
    cd "$BATS_FILE_TMPDIR"
}

@test "inspect_output_refuses_what_anndata_cannot_read" {
    local c
    for c in dup-categories:"category 'a' appears twice" \
             nan-categories:"category 1 is NaN" \
             non-utf8:"/obs/_index: string 1 is not valid UTF-8" \
             obs-2d:"column 'n' is 2-D"; do
        rm -f out.h5ad
        run -1 --separate-stderr sc-inspect -o out.h5ad "${c%%:*}.h5ad"
        [[ ${#stderr_lines[@]} -eq 1 ]] || { echo "$stderr"; return 1; }
        [[ $stderr == "sc-inspect: error: '${c%%:*}.h5ad': cannot write 'out.h5ad': "*"${c#*:}"* ]] || { echo "$stderr"; return 1; }
        [[ ! -e out.h5ad ]]
        [[ -z $(compgen -G 'out.h5ad.tmp.*') ]]
    done
}

@test "inspect_output_is_read_by_anndata" {
    rm -f out.h5ad
    run -0 sc-inspect -o out.h5ad good.h5ad
    run -0 $PY -c 'import anndata; a = anndata.read_h5ad("out.h5ad"); print(a.shape, list(a.obs["ct"].cat.categories), list(a.obs.index))'
    [[ $output == "(4, 3) ['a', 'b', 'c'] ['c0', 'c1', 'c2', 'c3']" ]]
}
