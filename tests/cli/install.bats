#!/usr/bin/env bats
# make install PREFIX=...: binaries, man pages, reference data and the
# Python reader, usable from the installed tree alone.
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    load helpers
    export PREFIX=$BATS_FILE_TMPDIR/prefix
    # the tools of this build (BUILD may be build/sanitize)
    make -s -C "$SC_ROOT" install PREFIX="$PREFIX" BUILD="${SC_BUILD#$SC_ROOT/}" \
        > "$BATS_FILE_TMPDIR/install.out" 2>&1 ||
        { cat "$BATS_FILE_TMPDIR/install.out" >&2; return 1; }
}

# in_prefix CMD...: run CMD from an unrelated directory with only the
# installed tree on PATH and no SC_SHARE, so the source tree is not reachable
in_prefix() {
    mkdir -p "$BATS_TEST_TMPDIR/elsewhere"
    cd "$BATS_TEST_TMPDIR/elsewhere"
    env -u SC_SHARE PATH="$PREFIX/bin:/usr/bin:/bin" XDG_CACHE_HOME="$BATS_TEST_TMPDIR/cache" \
        PYTHONPATH="$PREFIX/lib/sc/python" "$@"
}

@test "install: every tool, man page, the reference data and the Python reader" {
    local t m
    for t in "$SC_BUILD"/bin/sc-*; do
        [[ -x $PREFIX/bin/$(basename "$t") ]]
    done
    for m in "$SC_ROOT"/man/*.[157]; do
        s=${m##*.}
        [[ -f $PREFIX/share/man/man$s/$(basename "$m") ]]
        ! grep -q '@VERSION@\|@DATE@' "$PREFIX/share/man/man$s/$(basename "$m")"
        grep -q "$(cat "$SC_ROOT/VERSION")" "$PREFIX/share/man/man$s/$(basename "$m")"
    done
    [[ -f $PREFIX/share/sc/SOURCES.md ]]
    [[ -d $PREFIX/share/sc/ontology && -d $PREFIX/share/sc/genes ]]
    [[ -f $PREFIX/lib/sc/python/sc_stream.py && -f $PREFIX/lib/sc/python/sc_datamodule.py ]]
    [[ -x $PREFIX/share/doc/sc/recipes/train-ddp.sh && -f $PREFIX/share/doc/sc/recipes/Makefile ]]
}

@test "install: an installed tool finds the installed reference data" {
    run -0 --separate-stderr in_prefix sc-annotate term CL:0000236
    [[ $output == *"B cell"* ]]
    run -0 --separate-stderr in_prefix sc-annotate --version
    [[ $output == *"reference data: $PREFIX/share/sc"* ]]
    [[ $output == *"CL v"* && $output == *"UBERON v"* ]]
    run -0 --separate-stderr in_prefix sc-annotate lca CL:0000236 CL:0000084
    [[ $output == *"CL:0000542"* ]]
}

@test "install: the installed man pages are well-formed" {
    local m
    for m in "$PREFIX"/share/man/man*/*; do
        run -0 --separate-stderr groff -man -ww -z "$m"
        [[ -z $stderr ]]
    done
}

@test "install: the installed Python reader runs the installed sc-stream" {
    run -0 --separate-stderr in_prefix /usr/bin/python3 -c '
import sys, sc_stream
n = sum(b["n_cells"] for b in sc_stream.stream([sys.argv[1]], ["--no-cache", "-b", "50"]))
print(n, sc_stream.__file__)' "$SC_TEST_DATA/h5ad/scanpy_pbmc68k_reduced_2025.h5ad"
    [[ $output == "700 $PREFIX/lib/sc/python/sc_stream.py" ]]
}

@test "install: the installed Python reader finds its sc-stream without PATH; exe= wins" {
    # no $PREFIX/bin on PATH: the module runs the sc-stream it was installed with
    mkdir -p "$BATS_TEST_TMPDIR/elsewhere"
    cd "$BATS_TEST_TMPDIR/elsewhere"
    run -0 --separate-stderr env -u SC_STREAM -u SC_SHARE PATH=/usr/bin:/bin \
        XDG_CACHE_HOME="$BATS_TEST_TMPDIR/cache" PYTHONPATH="$PREFIX/lib/sc/python" /usr/bin/python3 -c '
import sys, sc_stream
n = sum(b["n_cells"] for b in sc_stream.stream([sys.argv[1]], ["--no-cache", "-b", "50"]))
print(n, sc_stream._exe(None))
try:
    sc_stream.header([sys.argv[1]], exe="/nonexistent/sc-stream")
except FileNotFoundError as e:
    print("exe wins:", e.filename)' "$SC_TEST_DATA/h5ad/scanpy_pbmc68k_reduced_2025.h5ad"
    [[ ${lines[0]} == "700 $PREFIX/bin/sc-stream" ]]
    [[ ${lines[1]} == "exe wins: /nonexistent/sc-stream" ]]
    # the source tree's module is not bound to an install
    grep -q '^_BINDIR = None$' "$SC_ROOT/python/sc_stream.py"
}

@test "install: DESTDIR stages the same tree" {
    run -0 make -s -C "$SC_ROOT" install PREFIX=/opt/sc DESTDIR="$BATS_TEST_TMPDIR/stage" \
        BUILD="${SC_BUILD#$SC_ROOT/}"
    [[ -x $BATS_TEST_TMPDIR/stage/opt/sc/bin/sc-annotate ]]
    [[ -f $BATS_TEST_TMPDIR/stage/opt/sc/share/sc/SOURCES.md ]]
    [[ -f $BATS_TEST_TMPDIR/stage/opt/sc/lib/sc/python/sc_stream.py ]]
}

@test "install: every installed tool's --version names the libraries it was built with" {
    local t
    for t in "$PREFIX"/bin/sc-*; do
        run -0 --separate-stderr in_prefix "$(basename "$t")" --version
        [[ ${lines[0]} == "$(basename "$t") $(cat "$SC_ROOT/VERSION")"*"(hdf5 "*"sqlite "*"zlib "*")" ]]
    done
}
