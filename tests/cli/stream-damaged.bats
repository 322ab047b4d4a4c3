#!/usr/bin/env bats
# sc-stream reading damaged batch streams and packs whose checksums are
# intact (the damage made before the CRC was computed, or the CRC fixed
# after): one line naming the file, exit 1, no crash (issue 15). The
# corrupt inputs are built here from a stream and a pack of a tiny dataset.
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    load helpers
    cd "$BATS_FILE_TMPDIR"
    export SC_STREAM_CACHE=$BATS_FILE_TMPDIR/cache
    cp "$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad" tiny.h5ad
    sc-stream -b 16 -l cell_type --seed 1 -o good.bin tiny.h5ad
    # a version-1 pack (raw arrays at fixed offsets); a varint pack checks
    # its records as it decodes them (sc-stream-pack.bats)
    sc-stream pack --codec none -l cell_type --seed 1 -o good.scpack tiny.h5ad
}

setup() {
    cd "$BATS_FILE_TMPDIR"
    export SC_STREAM_CACHE=$BATS_FILE_TMPDIR/cache
}

# corrupt IN OUT WHAT: OUT is IN with the first batch frame changed (WHAT:
# indptr, index, label, dataset) and its CRC recomputed
corrupt() {
    $PY - "$@" <<'PY'
import struct, sys, zlib
src, dst, what = sys.argv[1:4]
d = bytearray(open(src, "rb").read())
off = 0
while True:
    assert d[off:off + 4] == b"SCBF"
    typ, n = chr(d[off + 4]), struct.unpack_from("<Q", d, off + 8)[0]
    if typ == "B":
        break
    off += 16 + n + 8
p = off + 16
index, cells, pad, nnz, nlab, layout, rowlen, _ = struct.unpack_from("<QIIQIIII", d, p)
assert layout == 0
ip = p + 40
ix = ip + 8 * (cells + 1)
def arr(at, nbytes):  # where the next array starts: each is padded to 8
    return at + nbytes + (8 - nbytes % 8) % 8
vals = arr(ix, 4 * nnz)
lab = arr(vals, 4 * nnz)
ds = arr(lab, 4 * nlab * cells)
if what == "indptr":
    struct.pack_into("<q", d, ip + 8, 1 << 40)
elif what == "index":
    struct.pack_into("<i", d, ix, 1 << 30)
elif what == "label":
    struct.pack_into("<i", d, lab, 1000)
elif what == "dataset":
    struct.pack_into("<i", d, ds, 77)
crc = zlib.crc32(bytes(d[off:p + n])) & 0xffffffff
struct.pack_into("<I", d, p + n, crc)
open(dst, "wb").write(d)
PY
}

@test "stream_damaged_batch_with_valid_crc_is_refused_by_dump" {
    run -0 sc-stream dump good.bin
    for w in indptr:"cell offsets out of order" index:"gene index out of range" \
             label:"label code out of range" dataset:"dataset index out of range"; do
        corrupt good.bin "${w%%:*}.bin" "${w%%:*}"
        run -1 --separate-stderr sc-stream dump -o out.txt "${w%%:*}.bin"
        [[ $stderr == "sc-stream: error: '${w%%:*}.bin': batch "*": ${w#*:}" ]] || { echo "$w: $stderr"; return 1; }
        [[ ${#stderr_lines[@]} -eq 1 && -z $output ]]
        [[ ! -e out.txt ]]
    done
}

@test "stream_damaged_pack_gene_index_is_refused_at_read" {
    local off
    run -0 sc-stream -b 16 -o ok.bin good.scpack
    cp good.scpack gi.scpack
    # the 3rd gene index of the pack set to 2^31-1 (the arrays carry no checksum)
    off=$(od -An -t u8 -j 56 -N 8 gi.scpack | tr -d ' ')
    printf '\xff\xff\xff\x7f' | dd of=gi.scpack bs=1 seek=$((off + 8)) conv=notrunc status=none
    for mode in "" --pread; do
        run -1 --separate-stderr sc-stream $mode -b 16 -o out.bin gi.scpack
        [[ $stderr == "sc-stream: error: 'gi.scpack': damaged pack: a gene index is out of range" ]] || { echo "$mode: $stderr"; return 1; }
        [[ ${#stderr_lines[@]} -eq 1 && ! -e out.bin ]]
    done
}
