#!/usr/bin/env bats
# The pipeline without back-and-forth (issue 17, item 4): sc-annotate copies
# the matrices it does not change as the input stores them (no inflating and
# deflating of X), and the tools take the manifest's sha256 of their input
# while its size and mtime_ns match the file (sc-manifest(5)).
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    export XDG_CACHE_HOME=$SC_BUILD/cache
    sc-annotate term CL:0000000 > /dev/null
}

# mk_input OUT COMPRESSION FORMAT: a small dataset with a free-text cell type
# column, X (FORMAT csr, csc or dense), layers/counts and raw, written by
# anndata 0.8 with COMPRESSION (lzf, gzip or none)
mk_input() {
    "$PY" - "$@" <<'EOF'
import sys
import anndata, numpy as np, pandas as pd, scipy.sparse as sp
out, comp, fmt = sys.argv[1], sys.argv[2], sys.argv[3]
rng = np.random.default_rng(7)
X = sp.random(400, 120, density=0.2, format="csr", dtype=np.float32, random_state=3)
X.data = np.floor(X.data * 20) + 1
obs = pd.DataFrame({"cell_type": pd.Categorical(rng.choice(["T cell", "B cell", "monocyte"], 400))},
                   index=["c%d" % i for i in range(400)])
var = pd.DataFrame(index=["g%d" % i for i in range(120)])
Xf = {"csr": X, "csc": X.tocsc(), "dense": X.toarray()}[fmt]
a = anndata.AnnData(X=Xf, obs=obs, var=var, layers={"counts": X.copy()},
                    uns={"organism_ontology_term_id": "NCBITaxon:9606"})
a.raw = a.copy()
a.write_h5ad(out, compression=None if comp == "none" else comp)
EOF
}

# same_matrices IN OUT: X, layers/counts and raw/X have the same values in
# both (anndata), and every dataset of each keeps its filters and chunks, and
# its values' chunks their very bytes (h5py): copied, not decoded and
# encoded again
same_matrices() {
    "$PY" - "$@" <<'EOF'
import sys
import anndata, h5py, numpy as np, scipy.sparse as sp
a, b = anndata.read_h5ad(sys.argv[1]), anndata.read_h5ad(sys.argv[2])
def dense(m):
    return m.toarray() if sp.issparse(m) else np.asarray(m)
assert "cell_type_ontology_term_id" in b.obs, list(b.obs)
for x, y in ((a.X, b.X), (a.layers["counts"], b.layers["counts"]), (a.raw.X, b.raw.X)):
    assert x.dtype == y.dtype, (x.dtype, y.dtype)
    assert np.array_equal(dense(x), dense(y))
fi, fo = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
for m in ("X", "layers/counts", "raw/X"):
    names += [m + "/data", m + "/indices", m + "/indptr"] if isinstance(fi[m], h5py.Group) else [m]
for n in names:
    di, do = fi[n], fo[n]
    assert di.compression == do.compression and di.chunks == do.chunks, (n, di.compression, do.compression)
    assert di.dtype == do.dtype, n
    # indptr was read whole when the input was opened: HDF5 copies a chunk
    # it holds decoded by encoding it again, so only its values are compared
    if di.chunks and not n.endswith("indptr"):
        k = di.id.get_num_chunks()
        assert k == do.id.get_num_chunks()
        for i in range(k):
            ci, co = di.id.get_chunk_info(i), do.id.get_chunk_info(i)
            assert ci.chunk_offset == co.chunk_offset
            assert di.id.read_direct_chunk(ci.chunk_offset) == do.id.read_direct_chunk(co.chunk_offset), (n, i)
    assert np.array_equal(di[()], do[()]), n
print(fo["X"].attrs["encoding-type"], fi[names[0]].compression)
EOF
}

# copied_as_stored NAME COMPRESSION FORMAT LEVEL WANT: annotate an input
# made by mk_input with -l LEVEL; its matrices must be copied as stored, and
# same_matrices print WANT
copied_as_stored() {
    mk_input "$BATS_TEST_TMPDIR/$1.h5ad" "$2" "$3"
    run -0 --separate-stderr sc-annotate annotate -l "$4" -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/$1.h5ad"
    run -0 same_matrices "$BATS_TEST_TMPDIR/$1.h5ad" "$BATS_TEST_TMPDIR/o/$1.h5ad"
    [[ $output == "$5" ]] || { echo "$output"; return 1; }
}

@test "annotate: X, layers and raw/X of an lzf h5ad are copied as stored (same chunks, same bytes)" {
    copied_as_stored in lzf csr 4 "csr_matrix lzf"
}

@test "annotate: a dense gzip X is copied as stored; an uncompressed one stays uncompressed under -l 9" {
    copied_as_stored in gzip dense 4 "array gzip"
    copied_as_stored raw none csr 9 "csr_matrix None"
}

@test "annotate: a CSC X is not copied but written as CSR with the same values" {
    mk_input "$BATS_TEST_TMPDIR/in.h5ad" gzip csc
    run -0 --separate-stderr sc-annotate annotate -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/in.h5ad"
    run -0 "$PY" - "$BATS_TEST_TMPDIR/in.h5ad" "$BATS_TEST_TMPDIR/o/in.h5ad" <<'EOF'
import sys
import anndata, h5py, numpy as np
a, b = anndata.read_h5ad(sys.argv[1]), anndata.read_h5ad(sys.argv[2])
assert np.array_equal(a.X.toarray(), b.X.toarray())
f = h5py.File(sys.argv[2], "r")
assert f["X"].attrs["encoding-type"] == "csr_matrix", f["X"].attrs["encoding-type"]
EOF
}

# manifest_of FILE SHA: a one-line manifest for FILE with sha256 SHA and the
# file's size and mtime_ns as the tool before would have written them
manifest_of() {
    printf 'path\tsha256\tsize\tmtime_ns\n%s\t%s\t%s\t%s\n' "$1" "$2" \
        "$(stat -c %s "$1")" "$(stat -c %.9Y "$1" | tr -d .)"
}

# prov_sha FILE: the input_sha256 of the last provenance step of FILE
prov_sha() {
    "$PY" -c '
import sys, anndata
p = anndata.read_h5ad(sys.argv[1], backed="r").uns["provenance"]
print(p[str(len(p) - 1)]["input_sha256"])' "$1"
}

FAKE=abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789

@test "annotate: a matrix that does not decode is refused, not copied (a damaged chunk, an index out of range)" {
    mk_input "$BATS_TEST_TMPDIR/in.h5ad" gzip csr
    # one damaged chunk of X/data: its bytes overwritten in the middle
    run -0 "$PY" - "$BATS_TEST_TMPDIR/in.h5ad" <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    d = f["X/data"]
    c = d.id.get_chunk_info(d.id.get_num_chunks() // 2)
with open(sys.argv[1], "r+b") as f:
    f.seek(c.byte_offset + c.size // 2)
    f.write(b"\xff" * 8)
EOF
    run -1 --separate-stderr sc-annotate annotate -d "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/in.h5ad"
    [[ ${#stderr_lines[@]} == 1 && $stderr == *"o/in.h5ad"*"does not inflate"* ]] || { echo "$stderr"; return 1; }
    [[ ! -e $BATS_TEST_TMPDIR/o/in.h5ad ]]
    # an uncompressed X whose first column index is past the last gene
    mk_input "$BATS_TEST_TMPDIR/ix.h5ad" none csr
    "$PY" -c 'import sys, h5py; f = h5py.File(sys.argv[1], "r+"); f["X/indices"][0] = 100000' "$BATS_TEST_TMPDIR/ix.h5ad"
    run -1 --separate-stderr sc-annotate annotate -d "$BATS_TEST_TMPDIR/o2" "$BATS_TEST_TMPDIR/ix.h5ad"
    [[ ${#stderr_lines[@]} == 1 && $stderr == *"o2/ix.h5ad"*"out of range"* ]] || { echo "$stderr"; return 1; }
    [[ ! -e $BATS_TEST_TMPDIR/o2/ix.h5ad ]]
}

@test "annotate: the manifest's sha256 is taken while size and mtime_ns match, else the file is hashed" {
    local in=$BATS_TEST_TMPDIR/in.h5ad real
    mk_input "$in" lzf csr
    real=$(sha256sum "$in" | cut -d' ' -f1)
    # a digest that is not the file's, with the file's size and mtime: taken
    # (which shows the file was not hashed)
    manifest_of "$in" "$FAKE" > "$BATS_TEST_TMPDIR/m.tsv"
    run -0 --separate-stderr sc-annotate annotate -v -d "$BATS_TEST_TMPDIR/o" - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ $stderr == *"'$in': sha256 from the manifest (size and mtime_ns unchanged)"* ]]
    run -0 prov_sha "$BATS_TEST_TMPDIR/o/in.h5ad"
    [[ $output == "$FAKE" ]]
    # the next tool's record: the new file, its size and mtime, no digest
    run -0 sc-annotate annotate -d "$BATS_TEST_TMPDIR/o2" - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ $(cut -f2,3 <<< "${lines[1]}") == $'\t'"$(stat -c %s "$BATS_TEST_TMPDIR/o2/in.h5ad")" ]]
    [[ -n $(cut -f4 <<< "${lines[1]}") ]]
    # the mtime changed, same size: hashed
    touch -d '2020-01-01 00:00:00.5' "$in"
    run -0 --separate-stderr sc-annotate annotate -v -d "$BATS_TEST_TMPDIR/o3" - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ $stderr == *"'$in': hashing it: its size or mtime_ns differs from the manifest's"* ]]
    run -0 prov_sha "$BATS_TEST_TMPDIR/o3/in.h5ad"
    [[ $output == "$real" ]]
    # changed with the mtime put back, another size: hashed
    manifest_of "$in" "$FAKE" > "$BATS_TEST_TMPDIR/m.tsv"
    local stamp
    stamp=$(stat -c %y "$in")
    printf '\0' >> "$in"
    touch -d "$stamp" "$in"
    [[ $(stat -c %y "$in") == "$stamp" ]]
    run -0 --separate-stderr sc-annotate annotate -v -d "$BATS_TEST_TMPDIR/o4" - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ $stderr == *"'$in': hashing it: its size or mtime_ns differs from the manifest's"* ]]
    run -0 prov_sha "$BATS_TEST_TMPDIR/o4/in.h5ad"
    [[ $output == "$(sha256sum "$in" | cut -d' ' -f1)" ]]
    # a manifest without mtime_ns (written before it existed): hashed
    printf 'path\tsha256\tsize\n%s\t%s\t%s\n' "$in" "$FAKE" "$(stat -c %s "$in")" > "$BATS_TEST_TMPDIR/m.tsv"
    run -0 --separate-stderr sc-annotate annotate -v -d "$BATS_TEST_TMPDIR/o5" - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ $stderr == *"'$in': hashing it: the manifest has no size and mtime_ns"* ]]
    run -0 prov_sha "$BATS_TEST_TMPDIR/o5/in.h5ad"
    [[ $output != "$FAKE" && ${#output} -eq 64 ]]
}

@test "annotate: a file changed in place with its size and mtime_ns put back keeps the manifest's sha256 (the documented limit)" {
    local in=$BATS_TEST_TMPDIR/in.h5ad old size stamp
    mk_input "$in" none csr
    old=$(sha256sum "$in" | cut -d' ' -f1)
    manifest_of "$in" "$old" > "$BATS_TEST_TMPDIR/m.tsv"
    size=$(stat -c %s "$in")
    stamp=$(stat -c %y "$in")
    # one value of X changed where it is stored: same size, other content
    "$PY" -c '
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    f["X/data"][0] = f["X/data"][0] + 1' "$in"
    touch -d "$stamp" "$in"
    [[ $(stat -c %s "$in") == "$size" && $(stat -c %y "$in") == "$stamp" ]]
    [[ $(sha256sum "$in" | cut -d' ' -f1) != "$old" ]]
    run -0 --separate-stderr sc-annotate annotate -v -d "$BATS_TEST_TMPDIR/o" - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ $stderr == *"'$in': sha256 from the manifest (size and mtime_ns unchanged)"* ]]
    # provenance names the digest of the file as it was, not as it is
    run -0 prov_sha "$BATS_TEST_TMPDIR/o/in.h5ad"
    [[ $output == "$old" ]]
}

@test "fetch records size and mtime_ns of the file; annotate then takes its sha256 without hashing" {
    local src=$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad f
    f=$BATS_TEST_TMPDIR/f/cellxgene_schema_example_valid.h5ad
    run -0 --separate-stderr sc-fetch get -d "$BATS_TEST_TMPDIR/f" "$src"
    printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/m.tsv"
    run -0 awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { print $c["path"], $c["size"], $c["mtime_ns"], $c["sha256"] }' "$BATS_TEST_TMPDIR/m.tsv"
    [[ $output == "$f $(stat -c %s "$f") $(stat -c %.9Y "$f" | tr -d .) $(sha256sum "$f" | cut -d' ' -f1)" ]]
    run -0 --separate-stderr sc-annotate annotate -v -d "$BATS_TEST_TMPDIR/o" - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ $stderr == *"'$f': sha256 from the manifest (size and mtime_ns unchanged)"* ]]
    run -0 prov_sha "$BATS_TEST_TMPDIR/o/cellxgene_schema_example_valid.h5ad"
    [[ $output == "$(sha256sum "$src" | cut -d' ' -f1)" ]]
}

@test "harmonize and register add take the manifest's sha256 while size and mtime_ns match" {
    local in=$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad f
    f=$BATS_TEST_TMPDIR/in.h5ad
    cp "$in" "$f"
    manifest_of "$f" "$FAKE" > "$BATS_TEST_TMPDIR/m.tsv"
    run -0 --separate-stderr sc-harmonize -v -d "$BATS_TEST_TMPDIR/h" - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ $stderr == *"'$f': sha256 from the manifest (size and mtime_ns unchanged)"* ]]
    run -0 "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["input_sha256"])' "$BATS_TEST_TMPDIR/h/in.report.json"
    [[ $output == "$FAKE" ]]
    # register add: the registry records the manifest's digest
    export SC_REGISTRY=$BATS_TEST_TMPDIR/r.db
    sc-register init
    run -0 --separate-stderr sc-register add -v - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ $stderr == *"'$f': sha256 from the manifest (size and mtime_ns unchanged)"* ]]
    [[ $output == *"$FAKE"* ]]
    # touched: hashed by both
    touch -d '2020-01-01' "$f"
    export SC_REGISTRY=$BATS_TEST_TMPDIR/r2.db
    sc-register init
    run -0 --separate-stderr sc-register add -v - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ $stderr == *"hashing it: its size or mtime_ns differs"* ]]
    [[ $output == *"$(sha256sum "$f" | cut -d' ' -f1)"* && $output != *"$FAKE"* ]]
    run -0 --separate-stderr sc-harmonize -v -d "$BATS_TEST_TMPDIR/h2" - < "$BATS_TEST_TMPDIR/m.tsv"
    [[ $stderr == *"hashing it: its size or mtime_ns differs"* ]]
    run -0 "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["input_sha256"])' "$BATS_TEST_TMPDIR/h2/in.report.json"
    [[ $output == "$(sha256sum "$f" | cut -d' ' -f1)" ]]
}
