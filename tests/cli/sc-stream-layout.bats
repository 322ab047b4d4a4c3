#!/usr/bin/env bats
# sc-stream: the reader layout of each file kept in its index cache entry
# (issue 22), so that a warm run opens files with open(2) and pread alone,
# never through HDF5; a changed file or a damaged entry is read again.
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    load helpers
    stream_corpus
    # the same files with gzip chunks (a chunk table in the layout)
    gzip_copies gzd 300 corpus/ds*.h5ad
}

setup() {
    cd "$BATS_FILE_TMPDIR"
    export SC_STREAM_CACHE=$BATS_FILE_TMPDIR/cache
}

# The entry beside FILE with a field of its layout set to VALUE and its
# CRC made right again: FIELD is "last" (indptr's last entry) or "prev"
# (the one before it).
damage() {
    $PY - "$1.scidx" "$2" "$3" <<'PY'
import struct, sys, zlib
f, field, value = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = bytearray(open(f, "rb").read())
# the var list's length (8 bytes) is followed by the CRC and the list
p = next(p for p in range(len(b) - 12, 0, -1)
         if struct.unpack_from("<q", b, p)[0] == len(b) - p - 12)
end = p - 64  # the layout ends before the list's digest
at = end - 8 if field == "last" else end - 16
struct.pack_into("<q", b, at, value)
struct.pack_into("<I", b, p + 8, zlib.crc32(bytes(b[:p + 8])) & 0xffffffff)
open(f, "wb").write(b)
PY
}

@test "sc-stream layout: a warm cache opens no file through HDF5 and gives the same batches, plain and gzip, 1 and 2 threads" {
    for set in plain gz; do
        if [[ $set == plain ]]; then in=$(ls corpus/ds*.h5ad); else in=$(ls gzd/*.h5ad); fi
        for t in 1 2; do
            # --max-open 2 over 4 files: every buffer re-opens files
            a="-@ $t --max-open 2 --join outer --seed 6 -b 64 --block 8 --buffer 4"
            rm -rf lc-$set-$t
            run -0 --separate-stderr sc-stream -v --cache-dir lc-$set-$t $a -o cold-$set-$t.bin $in
            [[ $stderr == *"0 from the cache"* ]]
            run -0 --separate-stderr sc-stream -v --cache-dir lc-$set-$t $a -o warm-$set-$t.bin $in
            [[ $stderr == *"4 from the cache"* ]]
            [[ $stderr == *"files opened: 0 through HDF5, "[1-9]*" from their layout"* ]]
            cmp cold-$set-$t.bin warm-$set-$t.bin
            SC_STREAM_NO_RAW=1 sc-stream --no-cache $a -o h5-$set-$t.bin $in
            cmp h5-$set-$t.bin warm-$set-$t.bin
        done
    done
}

@test "sc-stream layout: an entry written without the layout is rewritten with it" {
    a="--max-open 2 --join outer --seed 6 -b 64 --block 8 --buffer 4"
    rm -rf nr
    run -0 --separate-stderr env SC_STREAM_NO_RAW=1 sc-stream -v --cache-dir nr $a -o nr1.bin corpus/ds*.h5ad
    [[ $stderr == *"0 from the cache"* ]]
    # the layout can be known now: the entries are rebuilt, then used
    run -0 --separate-stderr sc-stream -v --cache-dir nr $a -o nr2.bin corpus/ds*.h5ad
    [[ $stderr == *"0 from the cache"* ]]
    run -0 --separate-stderr sc-stream -v --cache-dir nr $a -o nr3.bin corpus/ds*.h5ad
    [[ $stderr == *"4 from the cache"* && $stderr == *"files opened: 0 through HDF5"* ]]
    cmp nr1.bin nr2.bin
    cmp nr1.bin nr3.bin
}

@test "sc-stream layout: a file changed after caching has its layout read again" {
    mkdir -p ch
    cp corpus/ds000.h5ad ch/a.h5ad
    cp corpus/ds001.h5ad ch/b.h5ad
    a="--max-open 1 --join outer --seed 2 -b 32 --block 8 --buffer 4"
    sc-stream --cache-beside $a -o ch1.bin ch/a.h5ad ch/b.h5ad
    # another file's bytes: its stamp changed
    cp corpus/ds002.h5ad ch/a.h5ad
    run -0 --separate-stderr sc-stream -v --cache-beside $a -o ch2.bin ch/a.h5ad ch/b.h5ad
    [[ $stderr == *"1 from the cache"* && $stderr == *"files opened: 0 through HDF5"* ]]
    sc-stream --no-cache $a -o ch2-ref.bin ch/a.h5ad ch/b.h5ad
    cmp ch2.bin ch2-ref.bin
    run -1 cmp -s ch1.bin ch2.bin
    # the same size and mtime, another inode: the layout is not trusted
    cp -p ch/b.h5ad ch/b.new && mv ch/b.new ch/b.h5ad
    run -0 --separate-stderr sc-stream -v --cache-beside $a -o ch3.bin ch/a.h5ad ch/b.h5ad
    [[ $stderr == *"1 from the cache"* ]]
    cmp ch2.bin ch3.bin
}

@test "sc-stream layout: a damaged or hostile entry is refused and rebuilt, never trusted" {
    mkdir -p bad
    for f in corpus/ds000.h5ad gzd/ds001.h5ad; do
        g=bad/${f//\//-}
        cp "$f" "$g"
        a="--max-open 1 -b 32 --block 8 --buffer 4 --seed 3"
        sc-stream --no-cache $a -o "$g.ref" "$g"
        for how in "last 1099511627776" "prev 1099511627776" "last -1" "prev -5"; do
            sc-stream --cache-beside $a -o /dev/null "$g"
            damage "$g" $how
            run -0 --separate-stderr sc-stream -v --cache-beside $a -o "$g.out" "$g"
            [[ $stderr == *"0 from the cache"* ]]
            cmp "$g.ref" "$g.out"
            # rebuilt: used again
            run -0 --separate-stderr sc-stream -v --cache-beside $a -o "$g.out" "$g"
            [[ $stderr == *"1 from the cache"* && $stderr == *"files opened: 0 through HDF5"* ]]
            cmp "$g.ref" "$g.out"
        done
        # a byte changed without fixing the CRC
        $PY -c 'import sys; f = sys.argv[1]; b = bytearray(open(f, "rb").read()); b[len(b) // 2] ^= 1; open(f, "wb").write(b)' "$g.scidx"
        run -0 --separate-stderr sc-stream -v --cache-beside $a -o "$g.out" "$g"
        [[ $stderr == *"0 from the cache"* ]]
        cmp "$g.ref" "$g.out"
    done
}

@test "sc-stream layout: contiguous arrays (no chunk tables) are indexed and read warm, also with an indptr that does not start at 0" {
    mkdir -p lw
    cp "$SC_TEST_DATA/lenient/indptr-offset.h5ad" lw/
    a="-b 2 --seed 4"
    sc-stream --no-cache $a -o lw/ref.bin lw/indptr-offset.h5ad
    run -0 --separate-stderr sc-stream index --cache-dir lw/c lw/indptr-offset.h5ad
    run -0 --separate-stderr sc-stream -v --cache-beside $a -o lw/cold.bin lw/indptr-offset.h5ad
    run -0 --separate-stderr sc-stream -v --cache-beside $a -o lw/warm.bin lw/indptr-offset.h5ad
    [[ $stderr == *"1 from the cache"* ]]
    cmp lw/ref.bin lw/cold.bin
    cmp lw/ref.bin lw/warm.bin
}
