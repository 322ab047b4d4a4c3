#!/usr/bin/env bats
# sc-stream pack: the shuffled stream written once as a pack (sc-pack(5)),
# read back by sc-stream as a dataset. Values are checked against anndata's
# reads of the source rows (tests/cli/stream_check.py), and what a pack
# gives is compared with what the same options give on the h5ad inputs.
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    load helpers
    stream_corpus
    export SC_STREAM_CACHE=$BATS_FILE_TMPDIR/cache
    # the pack most tests read: the whole corpus, two label columns
    sc-stream pack --join outer -l cell_type,assay_ontology_term_id --seed 5 \
        -o all.scpack "$BATS_FILE_TMPDIR"/corpus/ds*.h5ad
}

setup() {
    cd "$BATS_FILE_TMPDIR"
    export SC_STREAM_CACHE=$BATS_FILE_TMPDIR/cache
    unset RANK WORLD_SIZE SLURM_PROCID SLURM_NTASKS
}

check() { "$BATS_TEST_DIRNAME/stream_check.py" "$@"; }
files() { ls "$BATS_FILE_TMPDIR"/corpus/ds*.h5ad; }
# the cells of a stream (not padding), one "dataset-path row" a line, sorted
cells() {
    sc-stream dump --header "$1" | awk -F'\t' '
        $1 == "#dataset" { ds[$2] = $3; next }
        /^#/ { next }
        $2 == 0 { print ds[$3], $4 }' | sort
}
# per cell (not padding) of a text stream: everything but batch and pad, sorted
keyed() { awk -F'\t' '!/^#/ && $2 == 0' | cut -f3- | sort; }
# the pack's header frame (at 4096, sc-batch(5)) as the Python reader sees it:
# prints "datasets" then the info keys, or KEY's value with an argument
pack_info() {
    $PY - "$SC_ROOT/python" "$@" <<'PY'
import io, struct, sys
sys.path.insert(0, sys.argv[1])
import sc_stream
d = open(sys.argv[2], "rb").read()
w = struct.unpack_from("<16Q", d)
h = sc_stream.Reader(io.BytesIO(d[w[4]:w[4] + w[5]]), sys.argv[2]).header
if len(sys.argv) > 3:
    print(h["info"].get(sys.argv[3], "(none)"))
else:
    print(len(h["datasets"]), *sorted(h["info"]))
PY
}
# the number of label terms in all.scpack's header frame
pack_labels() {
    $PY - "$SC_ROOT/python" <<'PY'
import io, struct, sys
sys.path.insert(0, sys.argv[1])
import sc_stream
d = open("all.scpack", "rb").read()
w = struct.unpack_from("<16Q", d)
h = sc_stream.Reader(io.BytesIO(d[w[4]:w[4] + w[5]]), "all.scpack").header
print(sum(len(t) for t in h["labels"].values()))
PY
}
# no scratch or temporary file left in directory $1
no_scratch() { [[ -z $(find "$1" -maxdepth 1 -name '*.tmp*' -print) ]]; }

@test "sc-stream pack: a pack read over 3 ranks yields every cell once, values and labels as anndata reads them" {
    [[ -s all.scpack ]]
    for r in 0 1 2; do
        RANK=$r WORLD_SIZE=3 sc-stream -l cell_type,assay_ontology_term_id -b 64 --seed 2 -o pr$r.bin all.scpack
    done
    run -0 check values pr0.bin pr1.bin pr2.bin
    [[ $output == '{"cells": 2000, "unique": 2000, "dups": 0, "batches": [11, 11, 11]}' ]]
    # the stream's datasets are the source h5ad files, not the pack
    run -0 bash -c "sc-stream dump --header pr1.bin | awk -F'\t' '\$1 == \"#dataset\" { print \$3 }'"
    [[ $output == "$(files)" ]]
    # the pack's own header frame: the sources and what made it
    run -0 pack_info all.scpack
    [[ $output == "4 pack_block pack_buffer pack_command pack_join pack_matrix pack_seed pack_time pack_tool" ]]
    run -0 pack_info all.scpack pack_seed
    [[ $output == 5 ]]
    run -0 pack_info all.scpack pack_join
    [[ $output == outer ]]
    run -0 pack_info all.scpack pack_command
    [[ $output == "sc-stream pack --join outer -l cell_type,assay_ontology_term_id --seed 5 -o all.scpack $(files | paste -sd' ')" ]]
    # sc-stream dump shows the same
    run -0 sc-stream dump all.scpack
    [[ ${lines[0]} == $'#sc-pack\t2\tcells=2000\tentries='*$'\tdatasets=4\tentry_bytes='* ]]
    [[ $output == *$'\n#info\tpack_join\touter\n'* && $output == *$'\n#dataset\t3\t'"$(files | tail -1)"* ]]
    [[ $(grep -c '^#label' <<< "$output") -eq $(pack_labels) ]]
}

@test "sc-stream pack: index prints a pack's cells and genes" {
    genes=$(sc-stream --join outer -O text -b 10 $(files) | head -1 | sed 's/.*genes=\([0-9]*\).*/\1/')
    [[ $genes -gt 0 ]]
    run -0 sc-stream index all.scpack
    [[ ${lines[0]} == $'path\tn_selected\tn_genes' ]]
    [[ ${lines[1]} == "all.scpack"$'\t'2000$'\t'"$genes" ]]
    [[ ${#lines[@]} -eq 2 ]]
}

@test "sc-stream pack: the same seed gives the same bytes, another seed another order of the same cells" {
    sc-stream pack --no-provenance --join outer --seed 7 -o s1.scpack $(files)
    sc-stream pack --no-provenance --join outer --seed 7 -o s2.scpack $(files)
    sc-stream pack --no-provenance --join outer --seed 8 -o s3.scpack $(files)
    cmp s1.scpack s2.scpack
    ! cmp -s s1.scpack s3.scpack
    run -0 pack_info s1.scpack
    [[ $output == "4 pack_block pack_buffer pack_join pack_matrix pack_seed" ]]
    # the packs' own order, read without shuffling
    sc-stream --no-shuffle -b 100 -o s1.bin s1.scpack
    sc-stream --no-shuffle -b 100 -o s3.bin s3.scpack
    ! cmp -s <(sc-stream dump s1.bin | awk -F'\t' '!/^#/ { print $3, $4 }') \
        <(sc-stream dump s3.bin | awk -F'\t' '!/^#/ { print $3, $4 }')
    diff <(cells s1.bin) <(cells s3.bin)
    [[ $(cells s1.bin | wc -l) -eq 2000 ]]
    # the pack's cells are those of the run it was made from
    sc-stream --join outer --seed 7 -b 100 -o run7.bin $(files)
    diff <(cells run7.bin) <(cells s1.bin)
}

@test "sc-stream pack: reader threads (-@ 1, 2, 3) and --pread give the same bytes" {
    args=(-l cell_type -b 64 --block 4 --buffer 8 --seed 9 --rank 1 --world-size 2)
    sc-stream -@ 1 "${args[@]}" -o t1.bin all.scpack
    for t in 2 3; do
        sc-stream -@ $t "${args[@]}" -o t$t.bin all.scpack
        cmp t1.bin t$t.bin
    done
    sc-stream --pread "${args[@]}" -o tp.bin all.scpack
    cmp t1.bin tp.bin
    sc-stream --pread -@ 3 "${args[@]}" -o tp3.bin all.scpack
    cmp t1.bin tp3.bin
    run -0 check values t1.bin
    [[ $output == '{"cells": 1000, "unique": 1000, "dups": 0, "batches": [16]}' ]]
    # the same over two packs, read together
    sc-stream pack --join outer --datasets ds000,ds001 -o h1.scpack $(files)
    sc-stream pack --join outer --datasets ds002,ds003 -o h2.scpack $(files)
    sc-stream -@ 1 --join outer -b 50 --seed 3 -o u1.bin h1.scpack h2.scpack
    sc-stream -@ 3 --join outer -b 50 --seed 3 -o u3.bin h1.scpack h2.scpack
    sc-stream --pread --join outer -b 50 --seed 3 -o up.bin h1.scpack h2.scpack
    cmp u1.bin u3.bin
    cmp u1.bin up.bin
}

@test "sc-stream pack: batches of a pack through the shared-memory ring equal those through the pipe, torch tensors" {
    run -0 check ring --args="-l cell_type --seed 5 -b 32 -n 20000 --ring-size 1M" \
        --args="-l cell_type --seed 5 -b 2000 --ring-size 1M" --args="-l cell_type --seed 5 -b 64 -@ 3" all.scpack
    [[ $output == ok ]]
    run -0 check torch --args="--seed 5 -b 64" all.scpack
    [[ $output == 2000 ]]
    run -0 check loader --args="-b 64" all.scpack
    [[ $output == 2000 ]]
}

@test "sc-stream pack: a filter on a packed label selects what it selects on the h5ad files" {
    for f in 'cell_type == adipocyte' 'assay_ontology_term_id in EFO:0009899,EFO:0009922' 'cell_type not in adipocyte'; do
        sc-stream -f "$f" -b 64 -o fp.bin all.scpack
        sc-stream --join outer -f "$f" -b 64 -o fh.bin $(files)
        [[ $(cells fp.bin | wc -l) -gt 0 ]]
        diff <(cells fp.bin) <(cells fh.bin)
    done
    want=$(check count --filter cell_type=adipocyte $(files))
    sc-stream -l cell_type -f 'cell_type == adipocyte' -b 64 -o fa.bin all.scpack
    run -0 check values fa.bin
    [[ $output == "{\"cells\": $want, \"unique\": $want, "* ]]
}

@test "sc-stream pack: weighted sampling by a packed label follows the weights (chi-square)" {
    sc-stream -l cell_type -n 20000 --weight-by cell_type --weight-scheme inv -b 500 --seed 3 -o pw.bin all.scpack
    k=$(sc-stream dump --header pw.bin | grep -c '^#label')
    [[ $k -gt 1 ]]
    run -0 check freq --by cell_type --expect "$(yes 1 | head -"$k" | paste -sd,)" pw.bin
    awk -v p="$output" 'BEGIN { exit !(p > 0.001) }'
    run -0 check values pw.bin
    [[ $output == *'"cells": 20000'* ]]
    # by source dataset: the pack's cells count as their sources'
    sc-stream -n 20000 --cell-weight nnz -b 500 -o pn.bin all.scpack
    run -0 check values pn.bin
    [[ $output == *'"cells": 20000'* ]]
}

@test "sc-stream pack: labels are chosen at read time; a label not in the pack is NA" {
    # no -l: no label columns
    run -0 bash -c 'sc-stream -b 10 -O text all.scpack | sed -n 2p'
    [[ $output == $'#batch\tpad\tdataset\trow\tn\tvalues' ]]
    # one of the two, in another order: as the h5ad files give them
    sc-stream -l assay_ontology_term_id -b 100 -O text -o la.txt all.scpack
    sc-stream --join outer -l assay_ontology_term_id -b 100 -O text -o lh.txt $(files)
    diff <(keyed < la.txt) <(keyed < lh.txt)
    sc-stream -l assay_ontology_term_id,cell_type -b 100 -o lb.bin all.scpack
    run -0 check values lb.bin
    [[ $output == *'"cells": 2000, "unique": 2000'* ]]
    # tissue is in the h5ad files but was not packed: every cell NA (as for
    # an h5ad file without the column), with a warning saying why
    run -0 --separate-stderr sc-stream -l tissue -b 2000 -O text all.scpack
    [[ $stderr == "sc-stream: warning: 'all.scpack': no column 'tissue' in this pack (a pack holds the label columns packed with -l)" ]]
    [[ ${lines[1]} == $'#batch\tpad\tdataset\trow\ttissue\tn\tvalues' ]]
    [[ $(awk -F'\t' 'NR > 2 { print $5 }' <<< "$output" | sort -u) == NA ]]
    # while the h5ad files have it
    [[ $(sc-stream --join outer -l tissue -b 2000 -O text $(files) | awk -F'\t' 'NR > 2 && $5 != "NA"' | wc -l) -eq 2000 ]]
    # a filter on it selects nothing
    run -1 --separate-stderr sc-stream -f 'tissue == duodenum' -O text all.scpack
    [[ ${stderr_lines[0]} == "sc-stream: warning: 'all.scpack': no column 'tissue' in this pack"* ]]
    [[ ${stderr_lines[1]} == "sc-stream: error: no cell passes the selection" ]]
}

@test "sc-stream pack: normalize and log1p, top genes and dense rows on a pack as on the h5ad files" {
    for t in "--normalize=1000 --log1p" "--top-genes 5" "--dense"; do
        # shellcheck disable=SC2086
        sc-stream -l cell_type $t -b 100 -O text -o tp.txt all.scpack
        # shellcheck disable=SC2086
        sc-stream --join outer -l cell_type $t -b 100 -O text -o th.txt $(files)
        [[ $(keyed < tp.txt | wc -l) -eq 2000 ]]
        diff <(keyed < tp.txt) <(keyed < th.txt)
    done
    sc-stream --normalize=1000 --log1p -b 100 -o tn.bin all.scpack
    run -0 check values --normalize 1000 --log1p tn.bin
    [[ $output == *'"cells": 2000, "unique": 2000'* ]]
    sc-stream --top-genes 5 -b 100 -o tt.bin all.scpack
    run -0 check values --top 5 tt.bin
    [[ $output == *'"cells": 2000, "unique": 2000'* ]]
}

@test "sc-stream pack: two packs of disjoint datasets read together" {
    sc-stream pack --join outer -l cell_type --datasets ds000,ds002 -o d1.scpack $(files)
    sc-stream pack --join outer -l cell_type --datasets ds001,ds003 -o d2.scpack $(files)
    sc-stream --join outer -l cell_type -b 64 -o dd.bin d1.scpack d2.scpack
    run -0 check values dd.bin
    [[ $output == '{"cells": 2000, "unique": 2000, "dups": 0, "batches": [32]}' ]]
    run -0 bash -c "sc-stream dump --header dd.bin | awk -F'\t' '\$1 == \"#dataset\" { print \$3 }'"
    c=$BATS_FILE_TMPDIR/corpus
    [[ $output == "$c/ds000.h5ad"$'\n'"$c/ds002.h5ad"$'\n'"$c/ds001.h5ad"$'\n'"$c/ds003.h5ad" ]]
    # one h5ad file beside a pack
    sc-stream --join outer -b 64 -o dh.bin d1.scpack corpus/ds001.h5ad
    run -0 check values dh.bin
    n=$(check count corpus/ds000.h5ad corpus/ds002.h5ad corpus/ds001.h5ad)
    [[ $output == "{\"cells\": $n, \"unique\": $n, "* ]]
}

@test "sc-stream pack: an inner join, a filter and --min-genes pack what the run gives" {
    human=$($PY -c 'import anndata,sys; print(" ".join(p for p in sys.argv[1:] if anndata.read_h5ad(p, backed="r").uns["organism_ontology_term_id"] == "NCBITaxon:9606"))' $(files))
    [[ $(wc -w <<< "$human") -ge 2 ]]
    # shellcheck disable=SC2086
    sc-stream pack --join inner -o in.scpack $human
    # shellcheck disable=SC2086
    sc-stream --join inner -b 100 -o in.bin $human
    sc-stream -b 100 -o inp.bin in.scpack
    diff <(cells in.bin) <(cells inp.bin)
    run -0 check values inp.bin
    # shellcheck disable=SC2086
    n=$(check count $human)
    [[ $output == "{\"cells\": $n, \"unique\": $n, "* ]]
    [[ $(sc-stream dump inp.bin | head -1) == *"genes=$(sc-stream dump in.bin | head -1 | sed 's/.*genes=\([0-9]*\).*/\1/')"* ]]
    opts=(--join outer -f 'is_primary_data == True' -f 'assay_ontology_term_id in EFO:0009899,EFO:0009922' --min-genes 40)
    sc-stream pack "${opts[@]}" -o f.scpack $(files)
    sc-stream "${opts[@]}" -b 100 -o f.bin $(files)
    sc-stream -b 100 -o fpk.bin f.scpack
    diff <(cells f.bin) <(cells fpk.bin)
    want=$(check count --filter is_primary_data=True --filter 'assay_ontology_term_id=EFO:0009899,EFO:0009922' --min-genes 40 $(files))
    run -0 check values fpk.bin
    [[ $output == "{\"cells\": $want, \"unique\": $want, "* ]]
    run -0 pack_info f.scpack pack_min_genes
    [[ $output == 40 ]]
}

@test "sc-stream pack: damaged packs are one error line naming the file, exit 1, no output" {
    mkdir -p bad && cd bad
    cp ../all.scpack cut.scpack
    truncate -s -100 cut.scpack
    # a flipped byte in the fixed header (n_cells), caught by its checksum
    cp ../all.scpack crc.scpack
    printf '\x55' | dd of=crc.scpack bs=1 seek=16 conv=notrunc status=none
    # a flipped byte in indptr (its 11th entry), checksum intact
    cp ../all.scpack ip.scpack
    off=$(od -An -t u8 -j 48 -N 8 ip.scpack | tr -d ' ')
    printf '\x7f' | dd of=ip.scpack bs=1 seek=$((off + 8 * 10 + 6)) conv=notrunc status=none
    printf 'SCPACK\0\0' > magic.scpack
    run -0 sc-stream index ../all.scpack
    for f in cut:"$(stat -c %s cut.scpack) bytes, its header says $(stat -c %s ../all.scpack) (cut short?)" \
             crc:"header checksum mismatch" ip:"cell offsets out of order" magic:"the file ends inside its header"; do
        run -1 --separate-stderr sc-stream -b 64 -o out.bin "${f%%:*}.scpack"
        [[ $stderr == "sc-stream: error: '${f%%:*}.scpack': damaged pack: ${f#*:}" ]]
        [[ ${#stderr_lines[@]} -eq 1 && -z $output ]]
        [[ ! -e out.bin ]]
        # packing it again fails the same way, and leaves nothing
        run -1 --separate-stderr sc-stream pack -o out.scpack "${f%%:*}.scpack"
        [[ $stderr == "sc-stream: error: '${f%%:*}.scpack': damaged pack: ${f#*:}" ]]
        [[ ${#stderr_lines[@]} -eq 1 ]]
        [[ ! -e out.scpack ]]
        no_scratch .
    done
    # the matrix of a pack was chosen when it was packed
    run -1 --separate-stderr sc-stream --layer raw -o out.bin ../all.scpack
    [[ $stderr == "sc-stream: error: '../all.scpack' is a pack: the matrix was chosen when it was packed" ]]
    [[ ! -e out.bin ]]
    no_scratch .
}

@test "sc-stream pack: --codec none and varint packs give the same batches; varint is under 3 bytes an entry" {
    sc-stream pack --codec none --join outer -l cell_type,assay_ontology_term_id --seed 5 \
        -o raw.scpack $(files)
    run -0 sc-stream dump raw.scpack
    [[ ${lines[0]} == $'#sc-pack\t1\t'* ]]
    raw_head=$output
    run -0 sc-stream dump all.scpack
    [[ ${lines[0]} == $'#sc-pack\t2\t'* ]]
    # the same header but for the version and the bytes of the entries
    [[ $(sed 1d <<< "$output" | grep -v "^#info") == "$(sed 1d <<< "$raw_head" | grep -v "^#info")" ]]
    entries=$(sed -n '1s/.*entries=\([0-9]*\).*/\1/p' <<< "$output")
    bytes=$(sed -n '1s/.*entry_bytes=\([0-9]*\).*/\1/p' <<< "$output")
    [[ $(sed -n '1s/.*entry_bytes=\([0-9]*\).*/\1/p' <<< "$raw_head") -eq $((8 * entries)) ]]
    (( bytes > 0 && bytes <= 3 * entries ))
    # identical cells out of both, mapped or by pread, any thread count,
    # straight copies or through the transforms
    args=(-l cell_type -b 64 --block 4 --buffer 8 --seed 9)
    for how in "-@ 1" "-@ 2" "--pread" "--pread -@ 3" "-@ 2 --normalize --log1p" "--pread --top 5"; do
        # shellcheck disable=SC2086
        sc-stream $how "${args[@]}" -o c_raw.bin raw.scpack
        # shellcheck disable=SC2086
        sc-stream $how "${args[@]}" -o c_var.bin all.scpack
        cmp c_raw.bin c_var.bin
    done
    run -0 check values c_var.bin
    [[ $output == '{"cells": 2000, "unique": 2000, "dups": 0, "batches": [32]}' ]]
    # --codec belongs to pack; an unknown codec is a usage error
    run -2 --separate-stderr sc-stream --codec none -o x.bin all.scpack
    [[ $stderr == *"--codec is an option of pack"* && ! -e x.bin ]]
    run -2 --separate-stderr sc-stream pack --codec zip -o x.scpack $(files)
    [[ $stderr == *"unknown codec 'zip' (varint, none)"* && ! -e x.scpack ]]
}

@test "sc-stream pack: a damaged record of a compressed pack is one error line naming the pack and the cell" {
    mkdir -p bad2 && cd bad2
    cp ../all.scpack rec.scpack
    recs=$(od -An -t u8 -j 56 -N 8 rec.scpack | tr -d ' ')
    roff=$(od -An -t u8 -j 64 -N 8 rec.scpack | tr -d ' ')
    at=$(od -An -t u8 -j $((roff + 8 * 10)) -N 8 rec.scpack | tr -d ' ')
    # cell 10's first gene index: a gap of 2^32 - 1, past the genes
    printf '\xff\xff\xff\xff\x0f' | dd of=rec.scpack bs=1 seek=$((recs + at + 1)) conv=notrunc status=none
    run -0 sc-stream index rec.scpack
    for how in "" "--pread" "-@ 2" "--normalize"; do
        # shellcheck disable=SC2086
        run -1 --separate-stderr sc-stream $how -b 64 -o out.bin rec.scpack
        [[ $stderr == "sc-stream: error: 'rec.scpack': damaged pack: cell 10: gene index out of range" ]]
        [[ ${#stderr_lines[@]} -eq 1 && -z $output ]]
        [[ ! -e out.bin ]]
    done
    no_scratch .
}

@test "sc-stream pack: reading options are refused when packing: a usage error, exit 2, no file" {
    for o in --normalize=1000:--normalize --log1p:--log1p "--top-genes 5:--top-genes" "--random-genes 5:--random-genes" \
             --dense:--dense "-n 100:--samples" "--samples 100:--samples" "--weight-by cell_type:--weight-by" \
             "--cell-weight nnz:--cell-weight" --dataset-weights:--dataset-weights "--rank 1 --world-size 2:--rank/--world-size" \
             "--world-size 2:--rank/--world-size" "--start-batch 1:--start-batch" "--epoch 1:--epoch" \
             "--ring-fd 1:--ring-fd" "-O text:text output"; do
        # shellcheck disable=SC2086
        run -2 --separate-stderr sc-stream pack --join outer ${o%%:*} -o r.scpack $(files)
        [[ ${stderr_lines[0]} == "sc-stream: pack: ${o#*:} applies when a pack is read, not when it is written" ]]
        [[ ${stderr_lines[1]} == "Try 'sc-stream --help'." && ${#stderr_lines[@]} -eq 2 ]]
        [[ ! -e r.scpack ]]
    done
    for env in "RANK=0 WORLD_SIZE=2" "WORLD_SIZE=3" "SLURM_PROCID=1 SLURM_NTASKS=2"; do
        # shellcheck disable=SC2086
        run -2 --separate-stderr env $env sc-stream pack --join outer -o r.scpack $(files)
        [[ ${stderr_lines[0]} == "sc-stream: pack: --rank/--world-size applies when a pack is read, not when it is written" ]]
        [[ ! -e r.scpack ]]
    done
    # a one-process job (srun of one task, torchrun of one) packs
    for env in "RANK=0 WORLD_SIZE=1" "SLURM_PROCID=0 SLURM_NTASKS=1"; do
        # shellcheck disable=SC2086
        env $env sc-stream pack --join outer -o r.scpack $(files)
        [[ -s r.scpack ]]
        rm r.scpack
    done
    no_scratch .
}

@test "sc-stream pack: no -o, -o -, a missing or read-only directory, a full device" {
    run -2 --separate-stderr sc-stream pack --join outer $(files)
    [[ ${stderr_lines[0]} == "sc-stream: pack: give the output file with -o FILE" && -z $output ]]
    run -2 --separate-stderr sc-stream pack --join outer -o - $(files)
    [[ ${stderr_lines[0]} == "sc-stream: pack: give the output file with -o FILE" && -z $output ]]
    run -1 --separate-stderr sc-stream pack --join outer -o nodir/x.scpack $(files)
    [[ $stderr == "sc-stream: error: cannot create 'nodir/x.scpack': No such file or directory" ]]
    [[ ! -e nodir ]]
    # root writes anywhere: run as nobody then, with a copy of the binary
    # and of the inputs in a directory nobody reaches (the clone itself may
    # sit under a 0700 directory)
    base=$PWD
    as=()
    inputs=$(readlink -f $(files))
    if [[ $(id -u) -eq 0 ]]; then
        base=$(mktemp -d /tmp/sc-pack-ro.XXXXXX)
        chmod 755 "$base"
        mkdir "$base/bin" "$base/in"
        cp "$(command -v sc-stream)" "$base/bin/"
        # shellcheck disable=SC2086
        cp $inputs "$base/in/"
        chmod -R a+rX "$base/bin" "$base/in"
        inputs=$(ls "$base"/in/*)
        as=(setpriv --reuid=65534 --regid=65534 --clear-groups
            env PATH="$base/bin:/usr/bin:/bin" SC_STREAM_CACHE="$base/cache")
    fi
    mkdir -p "$base/ro"
    chmod 555 "$base/ro"
    # shellcheck disable=SC2086
    run -1 --separate-stderr bash -c 'cd "$1" && shift && "$@"' _ "$base" "${as[@]}" \
        sc-stream pack --no-cache --join outer -o ro/x.scpack $inputs
    chmod 755 "$base/ro"
    [[ -z $(ls -A "$base/ro") ]]
    [[ $base == "$PWD" ]] || rm -rf "$base"
    [[ $stderr == "sc-stream: error: cannot create 'ro/x.scpack': Permission denied" ]]
    # not a file: a device is refused before anything is made beside it
    run -1 --separate-stderr sc-stream pack --join outer -o /dev/full $(files)
    [[ $stderr == "sc-stream: error: '/dev/full': a pack must be a regular file" ]]
    [[ -z $(find /dev -maxdepth 1 -name 'full.*tmp*' -print) ]]
    no_scratch .
}

@test "sc-stream pack: -k leaves out a broken dataset, exits 3 and writes the pack" {
    printf 'not hdf5\n' > broken.h5ad
    run -3 --separate-stderr sc-stream pack -k --join outer -o k.scpack corpus/ds000.h5ad broken.h5ad corpus/ds001.h5ad
    [[ $stderr == *"broken.h5ad"* ]]
    [[ -s k.scpack ]]
    n=$(check count corpus/ds000.h5ad corpus/ds001.h5ad)
    run -0 sc-stream index k.scpack
    [[ ${lines[1]} == "k.scpack"$'\t'"$n"$'\t'* ]]
    sc-stream -b 64 -o k.bin k.scpack
    run -0 check values k.bin
    [[ $output == "{\"cells\": $n, \"unique\": $n, "* ]]
    run -0 bash -c "sc-stream dump --header k.bin | grep -c '^#dataset'"
    [[ $output == 2 ]]
    # a broken pack beside a good one, read with -k
    cp all.scpack kb.scpack
    truncate -s -100 kb.scpack
    run -3 --separate-stderr sc-stream -k -b 64 -o kk.bin kb.scpack k.scpack
    [[ $stderr == *"'kb.scpack': damaged pack"* ]]
    run -0 check values kk.bin
    [[ $output == "{\"cells\": $n, \"unique\": $n, "* ]]
}

@test "sc-stream pack: batches of a pack mix its datasets like a random draw" {
    run -0 --separate-stderr sc-stream -v -b 64 -o /dev/null all.scpack
    line=$(grep 'mixing: ' <<< "$stderr")
    [[ $line == "sc-stream: mixing: "*" distinct datasets per batch (fully random: "*"%)" ]]
    pct=$(sed -n 's/.*, \([0-9]*\)%).*/\1/p' <<< "$line")
    [[ -n $pct ]] && (( pct >= 95 ))
}
