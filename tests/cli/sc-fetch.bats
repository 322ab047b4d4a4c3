#!/usr/bin/env bats
# sc-fetch against a mock CELLxGENE API and file server with faults.
# SPDX-License-Identifier: MIT

load helpers
load mock-server

setup_file() {
    mock_start_files
}

teardown_file() {
    mock_stop
}

# Files the mock serves besides the catalogue, made before it starts.
mock_start_files() {
    export MOCK_DIR=$BATS_FILE_TMPDIR/mock
    mkdir -p "$MOCK_DIR/files"
    printf 'not an h5ad file\n' > "$MOCK_DIR/files/junk.h5ad"
    # the HDF5 signature, then nothing of a dataset
    { printf '\211HDF\r\n\032\n'; head -c 2000 /dev/zero; } > "$MOCK_DIR/files/fake.h5ad"
    : > "$MOCK_DIR/files/empty.bin"
    head -c 600000 /dev/urandom > "$MOCK_DIR/files/blob.bin"
    mock_start
}

setup() {
    mock_reset
    OUT=$BATS_TEST_TMPDIR/out
    # Fast retries and stall detection for the fault cases.
    FAST=(--retries 2 --retry-wait 0.05 --timeout 1)
}

# The source file of the fault datasets (the smallest catalogue file).
fault_src() {
    ls -S "$SC_TEST_DATA"/h5ad/*.h5ad | tail -1
}

sha() {
    sha256sum "$1" | cut -d' ' -f1
}

# ds TITLE [COLUMN]: a column (1: dataset_id, 2: dataset_version_id) of the
# catalogue entry with this title.
ds() {
    sc-fetch list | awk -F'\t' -v t="$1" -v c="${2:-1}" '$10 == t { print $c }'
}

# col NAME [ROW]: a column of the manifest in $output (row 1 by default).
col() {
    awk -F'\t' -v n="$1" -v r="${2:-1}" \
        'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next }
         NR == r + 1 { print $c }' <<< "$output"
}

# fault NAME: download the fault dataset NAME into $OUT with -k.
fault() {
    local id
    id=$(ds "Fault $1")
    [[ -n $id ]]
    run --separate-stderr sc-fetch get "${FAST[@]}" -k -d "$OUT" "$id" \
        "${@:2}"
}

# ---- the style.md basics ----

@test "sc-fetch: --help prints usage and commands to stdout" {
    run -0 --separate-stderr sc-fetch --help
    [[ $output == "Usage: sc-fetch <command> "* ]]
    [[ $output == *"  refs "* ]]
    [[ $output == *"--api-url URL"* ]]
    [[ -z $stderr ]]
}

@test "sc-fetch: --version" {
    run -0 sc-fetch --version
    [[ $output == "sc-fetch "*libcurl* ]]
}

@test "sc-fetch: unknown option, command or none is a usage error" {
    run -2 --separate-stderr sc-fetch get --no-such-flag
    [[ $stderr == "sc-fetch: "*"no-such-flag"* ]]
    run -2 --separate-stderr sc-fetch fly
    [[ $stderr == "sc-fetch: unknown command 'fly'"* ]]
    run -2 --separate-stderr sc-fetch
    [[ $stderr == "sc-fetch: no command"* ]]
    run -2 --separate-stderr sc-fetch get --limit-rate 1X
    [[ $stderr == "sc-fetch: option '--limit-rate'"* ]]
}

@test "sc-fetch: a wrong number of operands is a usage error (exit 2)" {
    run -2 --separate-stderr sc-fetch list extra
    [[ $stderr == "sc-fetch: list: too many operands"$'\n'"Try 'sc-fetch --help'." ]]
    [[ -z $output ]]
    run -2 --separate-stderr sc-fetch collections extra
    [[ $stderr == "sc-fetch: collections: too many operands"* ]]
    run -2 --separate-stderr sc-fetch versions
    [[ $stderr == "sc-fetch: versions: expected <id>...: missing operand"* ]]
    run -2 --separate-stderr sc-fetch refs -d "$OUT" extra
    [[ $stderr == "sc-fetch: refs: too many operands"* ]]
    [[ ! -e $OUT ]]
}

@test "sc-fetch: a missing input file fails with its name" {
    run -1 --separate-stderr sc-fetch get -d "$OUT" "$BATS_TEST_TMPDIR/none.h5ad"
    [[ $stderr == "sc-fetch: error: cannot open '$BATS_TEST_TMPDIR/none.h5ad': No such file or directory" ]]
    [[ -z $output ]]
}

@test "sc-fetch: local files and file:// URLs are copied and hashed" {
    local src=$SC_TEST_DATA/h5ad/anndataR_example.h5ad
    run -0 --separate-stderr sc-fetch get -d "$OUT" "$src" \
        "file://$SC_TEST_DATA/h5ad/cellxgene_explorer_fixture_v0.7.h5ad"
    [[ $(col path) == "$OUT/anndataR_example.h5ad" ]]
    [[ $(col status) == downloaded ]]
    [[ $(col sha256) == "$(sha "$src")" ]]
    [[ $(col size) == "$(stat -c %s "$src")" ]]
    cmp "$src" "$OUT/anndataR_example.h5ad"
    [[ -f $OUT/cellxgene_explorer_fixture_v0.7.h5ad ]]
}

@test "sc-fetch: '-' reads a manifest of sources on stdin" {
    local src=$SC_TEST_DATA/h5ad/anndataR_example.h5ad
    run -0 --separate-stderr sc-fetch get -d "$OUT" - \
        < <(printf 'path\tnote\n%s\tkeep me\n' "$src")
    [[ $(col note) == "keep me" ]]
    [[ $(col source) == "file://$src" ]]
    [[ $(col status) == downloaded ]]
}

@test "sc-fetch: -o FILE writes the manifest there, -o /dev/full fails" {
    local src=$SC_TEST_DATA/h5ad/anndataR_example.h5ad
    run -0 sc-fetch get -d "$OUT" -o "$BATS_TEST_TMPDIR/m.tsv" "$src"
    [[ -z $output ]]
    [[ $(head -1 "$BATS_TEST_TMPDIR/m.tsv") == path$'\t'status$'\t'* ]]
    [[ $(wc -l < "$BATS_TEST_TMPDIR/m.tsv") -eq 2 ]]
    run -1 --separate-stderr sc-fetch get -d "$OUT" -o /dev/full "$src"
    [[ $stderr == "sc-fetch: error: cannot write '/dev/full': No space left on device" ]]
    [[ -c /dev/full ]]
}

@test "sc-fetch: -k reports a failed source, goes on and exits 3" {
    local src=$SC_TEST_DATA/h5ad/anndataR_example.h5ad
    run -3 --separate-stderr sc-fetch get -k -d "$OUT" "$src" \
        "$MOCK_URL/files/none.h5ad"
    [[ $(col status 1) == downloaded ]]
    [[ $(col status 2) == failed ]]
    [[ $(col message 2) == "'$MOCK_URL/files/none.h5ad': HTTP 404 Not Found" ]]
    [[ $stderr == *"sc-fetch: error: '$MOCK_URL/files/none.h5ad': HTTP 404 Not Found"* ]]
    [[ $stderr == *"1 of 2 downloads failed"* ]]
    # Without -k: the same failure stops the run with status 1.
    run -1 --separate-stderr sc-fetch get -d "$BATS_TEST_TMPDIR/o2" \
        "$MOCK_URL/files/none.h5ad"
    [[ $stderr == "sc-fetch: error: '$MOCK_URL/files/none.h5ad': HTTP 404 Not Found" ]]
    [[ -z $output ]]
}

# ---- the catalogue ----

@test "sc-fetch list: the index as a table, unknown keys and nulls accepted" {
    run -0 --separate-stderr sc-fetch list
    [[ ${lines[0]} == dataset_id$'\t'dataset_version_id$'\t'* ]]
    [[ ${#lines[@]} -eq 35 ]]   # header, 3 datasets, 19 faults, 12 hostile
    [[ $(mock_requests 'datasets' | wc -l) -eq 1 ]]
}

@test "sc-fetch list: filters by term id or label, schema, cells, collection" {
    n() { sc-fetch list "$@" | tail -n +2 | wc -l; }
    [[ $(n --collection 'tabula mock') -eq 2 ]]
    [[ $(n --organism mouse) -eq 1 ]]
    [[ $(n --organism NCBITaxon:10090) -eq 1 ]]
    [[ $(n --organism 'Mus musculus' --organism human --collection 'Mouse Atlas') -eq 1 ]]
    [[ $(n --assay "10x 3' v2") -eq 1 ]]
    [[ $(n --assay EFO:0009899 --tissue blood --disease COVID-19) -eq 1 ]]
    [[ $(n --cell-type 'T cell' --collection 'Tabula Mock') -eq 1 ]]
    [[ $(n --suspension-type nucleus) -eq 1 ]]
    [[ $(n --schema-version 4) -eq 1 ]]
    [[ $(n --schema-version 4.0.0) -eq 1 ]]
    [[ $(n --min-cells 101 --max-cells 102) -eq 2 ]]
    [[ $(n -f dataset="$(ds 'Fault cut')") -eq 1 ]]
    run -2 --separate-stderr sc-fetch list -f colour=red
    [[ $stderr == *"unknown filter field 'colour'"* ]]
}

@test "sc-fetch list -O manifest: asset URLs and metadata, piped into get" {
    run -0 --separate-stderr sc-fetch list -O manifest --collection 'Tabula Mock'
    [[ ${#lines[@]} -eq 3 ]]
    [[ $(col path) == "$MOCK_URL/files/"*.h5ad ]]
    [[ $(col organism_ontology_term_id) == NCBITaxon:9606 ]]
    local vid
    vid=$(col dataset_version_id)
    run -0 --separate-stderr sc-fetch get -d "$OUT" <<< "$output"
    [[ $(col path) == "$OUT/$vid.h5ad" ]]
    [[ $(col status) == downloaded ]]
    [[ -f $OUT/$vid.h5ad ]]
}

@test "sc-fetch collections and versions" {
    run -0 sc-fetch collections
    [[ ${#lines[@]} -eq 5 ]]
    [[ $output == *$'\t'"Tabula Mock"* ]]
    run -0 sc-fetch versions "$(ds 'Fault cut')"
    [[ ${#lines[@]} -eq 2 ]]
    run -1 --separate-stderr sc-fetch versions 00000000-0000-4000-8000-000000000000
    [[ $stderr == *"HTTP 404 Not Found" ]]
}

# ---- get: downloads, faults and their exact outcomes ----

@test "sc-fetch get: filters download <version>.h5ad files with the manifest columns" {
    run -0 --separate-stderr sc-fetch get -d "$OUT" -@ 2 --collection 'Tabula Mock'
    [[ ${#lines[@]} -eq 3 ]]
    local h
    for h in path status dataset_id dataset_version_id collection_id \
        collection_version_id title organism assay tissue source size sha256; do
        [[ ${lines[0]} == *"$h"* ]]
    done
    local p
    p=$(col path)
    [[ $p == "$OUT/$(col dataset_version_id).h5ad" ]]
    [[ $(col sha256) == "$(sha "$p")" ]]
    [[ $(col size) == "$(stat -c %s "$p")" ]]
    [[ $(col source) == "$MOCK_URL/files/$(col dataset_version_id).h5ad" ]]
    [[ $(col title) == "Dataset 0: "* ]]
    # The state file records each file.
    [[ $(grep -c "$(col dataset_version_id)" "$OUT/.sc-fetch-state.tsv") -eq 1 ]]
    [[ ! -e $p.part ]]
}

@test "sc-fetch get: a rerun downloads nothing (idempotent)" {
    run -0 sc-fetch get -d "$OUT" --collection 'Tabula Mock'
    [[ $(mock_requests '^GET /files/' | wc -l) -eq 2 ]]
    local first=$output
    mock_reset
    run -0 --separate-stderr sc-fetch get -d "$OUT" --collection 'Tabula Mock'
    [[ $(col status 1) == present && $(col status 2) == present ]]
    [[ $(mock_requests '^GET /files/' | wc -l) -eq 0 ]]
    [[ $(cut -f1,3- <<< "$output") == "$(cut -f1,3- <<< "$first")" ]]
    # --check re-hashes; --force downloads again.
    run -0 sc-fetch get -d "$OUT" --check --collection 'Tabula Mock'
    [[ $(mock_requests '^GET /files/' | wc -l) -eq 0 ]]
    run -0 sc-fetch get -d "$OUT" --force --collection 'Tabula Mock'
    [[ $(mock_requests '^GET /files/' | wc -l) -eq 2 ]]
}

@test "sc-fetch get: fetch_version names the sc-fetch that fetched each file; sc-register records it" {
    local v
    v=$(sc-fetch --version | cut -d' ' -f2)
    [[ -n $v ]]
    run -0 --separate-stderr sc-fetch get -d "$OUT" --collection 'Tabula Mock'
    [[ ${lines[0]} == *$'\t'fetched_at$'\t'fetch_version$'\t'* ]]
    [[ $(col fetch_version 1) == "$v" && $(col fetch_version 2) == "$v" ]]
    local first=$output
    # the state keeps it: a rerun reports the version of the download
    sed -i "s/\t$v\$/\t0.0.1-old/" "$OUT/.sc-fetch-state.tsv"
    run -0 --separate-stderr sc-fetch get -d "$OUT" --collection 'Tabula Mock'
    [[ $(col status 1) == present && $(col fetch_version 1) == 0.0.1-old ]]
    # a state file written before the column: unknown, the line kept as is
    cut -f1-7 "$OUT/.sc-fetch-state.tsv" > "$OUT/st" && mv "$OUT/st" "$OUT/.sc-fetch-state.tsv"
    run -0 --separate-stderr sc-fetch get -d "$OUT" --collection 'Tabula Mock'
    [[ $(col status 1) == present && -z $(col fetch_version 1) ]]
    [[ $(col fetched_at 1) == "$(output=$first col fetched_at 1)" ]]
    # list -O manifest downloads nothing: no fetch columns
    run -0 sc-fetch list -O manifest --collection 'Tabula Mock'
    [[ ${lines[0]} != *fetch_version* ]]
    # sc-register add records the download as a run of that sc-fetch version
    sc-register --db "$BATS_TEST_TMPDIR/r.db" init
    sc-register --db "$BATS_TEST_TMPDIR/r.db" add - <<< "$first" > /dev/null
    run -0 sc-register --db "$BATS_TEST_TMPDIR/r.db" lineage "$(output=$first col path 1)" --up
    [[ $output == *"sc-fetch $v"* ]]
}

@test "sc-fetch get: a damaged file present is fetched again with --check" {
    local id p
    id=$(ds 'Dataset 0: '"$(basename "$(fault_src)")")
    run -0 sc-fetch get -d "$OUT" "$id"
    p=$(col path)
    printf 'X' | dd of="$p" bs=1 seek=100 conv=notrunc 2> /dev/null
    mock_reset
    run -0 sc-fetch get -d "$OUT" --check "$id"
    [[ $(col status) == downloaded ]]
    cmp "$p" "$(fault_src)"
}

@test "sc-fetch get: a revised dataset is fetched again and reported" {
    local id old new
    id=$(ds 'Dataset 2: cellxgene_schema_example_valid.h5ad')
    old=$(ds 'Dataset 2: cellxgene_schema_example_valid.h5ad' 2)
    run -0 sc-fetch get -d "$OUT" --organism mouse
    [[ $(col dataset_version_id) == "$old" ]]
    new=$(curl -sf "$MOCK_URL/_control/revise?dataset=$id" | sed 's/.*"dataset_version_id": "\(.*\)"}/\1/')
    [[ -n $new && $new != "$old" ]]
    mock_reset
    run -0 --separate-stderr sc-fetch get -d "$OUT" --organism mouse
    [[ $(col status) == updated ]]
    [[ $(col dataset_version_id) == "$new" ]]
    [[ $(col previous_version_id) == "$old" ]]
    [[ $(col path) == "$OUT/$new.h5ad" ]]
    [[ $stderr == *"dataset '$id' was revised: version '$new' replaces '$old'"* ]]
    [[ -f $OUT/$old.h5ad && -f $OUT/$new.h5ad ]]
    [[ $(mock_requests '^GET /files/' | wc -l) -eq 1 ]]
    # By id: the newest version; and once more: nothing to do.
    run -0 sc-fetch get -d "$OUT" "$id"
    [[ $(col status) == present && $(col dataset_version_id) == "$new" ]]
    # The old version by its version id stays fetchable.
    run -0 sc-fetch get -d "$OUT" "$old"
    [[ $(col status) == present && $(col dataset_version_id) == "$old" ]]
}

@test "sc-fetch get: connection cut mid-transfer: resumed with Range, complete" {
    fault cut -v
    [[ $status -eq 0 ]]
    [[ $(col status) == downloaded ]]
    cmp "$(col path)" "$(fault_src)"
    local half=$(($(stat -c %s "$(fault_src)") / 2))
    run mock_requests '^GET /f/cut/'
    [[ ${lines[0]} == *" - 200" ]]
    [[ ${lines[1]} == *" bytes=$half- 206" ]]
    [[ ${#lines[@]} -eq 2 ]]
}

# part FAULT N FROM: leave the first N bytes of FROM as the part file of the
# fault dataset FAULT in $OUT; set id, vid and src.
part() {
    src=$(fault_src)
    id=$(ds "Fault $1")
    vid=$(ds "Fault $1" 2)
    mkdir -p "$OUT"
    head -c "$2" "$3" > "$OUT/$vid.h5ad.part"
}

@test "sc-fetch get: a part left by an earlier run is resumed" {
    local id vid src
    part cut 5000 "$(fault_src)"
    curl -sf "$MOCK_URL/f/cut/$vid.h5ad" > /dev/null || true   # use up the cut
    : > "$MOCK_LOG"
    run -0 --separate-stderr sc-fetch get -v -d "$OUT" "$id"
    [[ $(col status) == downloaded ]]
    cmp "$OUT/$vid.h5ad" "$src"
    [[ $(col sha256) == "$(sha "$src")" ]]
    [[ $(mock_requests '^GET /f/') == *" bytes=5000- 206" ]]
    # a part from elsewhere has no saved hash: it is read again
    [[ $stderr == *"5000 bytes kept from a part (5000 hashed again), 1 resumed"* ]]
    [[ ! -e $OUT/$vid.h5ad.part ]]
}

# cut_part: a run cut half-way (no retry) leaves the part of the cut fault
# dataset and its hash state in $OUT; set id, vid, src and half.
cut_part() {
    src=$(fault_src)
    id=$(ds "Fault cut")
    vid=$(ds "Fault cut" 2)
    half=$(($(stat -c %s "$src") / 2))
    rm -rf "$OUT"
    mock_reset
    run --separate-stderr sc-fetch get --retries 0 -k -d "$OUT" "$id"
    [[ $status -ne 0 ]]
    [[ $(stat -c %s "$OUT/$vid.h5ad.part") -eq $half ]]
    [[ $(head -c 5 "$OUT/.$vid.h5ad.part.sha256") == "part " ]]
}

@test "sc-fetch get: a part left by sc-fetch keeps its hash: not read again" {
    local id vid src half
    cut_part
    run -0 --separate-stderr sc-fetch get -v -d "$OUT" "$id"
    [[ $(col status) == downloaded ]]
    cmp "$OUT/$vid.h5ad" "$src"
    [[ $(col sha256) == "$(sha "$src")" ]]
    [[ $stderr == *"$half bytes kept from a part (0 hashed again), 1 resumed"* ]]
    [[ $(mock_requests '^GET /f/cut/') == *" bytes=$half- 206" ]]
    [[ ! -e $OUT/$vid.h5ad.part && ! -e $OUT/.$vid.h5ad.part.sha256 ]]
}

@test "sc-fetch get: a saved hash that does not fit the part is not used" {
    local id vid src half st
    # The part cut shorter: resumed from there, hashed again.
    cut_part
    truncate -s -1000 "$OUT/$vid.h5ad.part"
    run -0 --separate-stderr sc-fetch get -v -d "$OUT" "$id"
    cmp "$OUT/$vid.h5ad" "$src"
    [[ $(col sha256) == "$(sha "$src")" ]]
    [[ $stderr == *"($((half - 1000)) hashed again), 1 resumed"* ]]
    [[ ! -e $OUT/.$vid.h5ad.part.sha256 ]]
    # Another file of the same size in its place: its own digest.
    cut_part
    { head -c 8 "$src"; head -c $((half - 8)) /dev/urandom; } > "$OUT/other"
    mv "$OUT/other" "$OUT/$vid.h5ad.part"
    run -0 --separate-stderr sc-fetch get -v -d "$OUT" "$id"
    [[ $stderr == *"($half hashed again), 1 resumed"* ]]
    [[ $(col sha256) == "$(sha "$OUT/$vid.h5ad")" ]]
    ! cmp -s "$OUT/$vid.h5ad" "$src"
    # A damaged state: hashed again.
    cut_part
    st=$OUT/.$vid.h5ad.part.sha256
    sed -i '2s/^sha256 [0-9]*/sha256 12/' "$st"
    run -0 --separate-stderr sc-fetch get -v -d "$OUT" "$id"
    [[ $stderr == *"($half hashed again), 1 resumed"* ]]
    [[ $(col sha256) == "$(sha "$src")" ]]
}

@test "sc-fetch get: a server ignoring Range: the part is dropped, restart from zero" {
    local id vid src
    part norange 3000 /dev/urandom   # not even the same bytes
    run -0 --separate-stderr sc-fetch get -d "$OUT" "$id"
    [[ $(col status) == downloaded ]]
    cmp "$OUT/$vid.h5ad" "$src"
    [[ $(mock_requests '^GET /f/') == *" bytes=3000- 200" ]]
    # Cut, then Range ignored: the same.
    fault cut-norange
    [[ $status -eq 0 ]]
    cmp "$(col path)" "$src"
    run mock_requests '^GET /f/cut-norange/'
    [[ ${#lines[@]} -eq 2 && ${lines[1]} == *" bytes="*"- 200" ]]
}

@test "sc-fetch get: 500 twice then success: retried, complete" {
    fault 500
    [[ $status -eq 0 ]]
    [[ $(col status) == downloaded ]]
    cmp "$(col path)" "$(fault_src)"
    run mock_requests '^GET /f/500/'
    [[ ${#lines[@]} -eq 3 ]]
    [[ ${lines[0]} == *" 500" && ${lines[1]} == *" 500" && ${lines[2]} == *" 200" ]]
}

@test "sc-fetch get: always 500: retries exhausted, reported, nothing left" {
    fault always500
    [[ $status -eq 3 ]]
    [[ $(col status) == failed ]]
    [[ $(col message) == *": HTTP 500 Internal Server Error" ]]
    [[ $(mock_requests '^GET /f/always500/' | wc -l) -eq 3 ]]   # 1 + 2 retries
    [[ ! -e $(col path) && ! -e $(col path).part ]]
}

@test "sc-fetch get: 404, 410 and 403: one request each, reported, skipped" {
    local code
    for code in 404 410 403; do
        mock_reset
        fault $code
        [[ $status -eq 3 ]]
        [[ $(col status) == failed ]]
        [[ $(col message) == *": HTTP $code "* ]]
        [[ $(mock_requests "^GET /f/$code/" | wc -l) -eq 1 ]]
        [[ ! -e $(col path) && ! -e $(col path).part ]]
    done
    [[ $stderr == *"1 of 1 downloads failed"* ]]
}

@test "sc-fetch get: a short Content-Length is rejected, nothing at the final path" {
    fault shortlen
    [[ $status -eq 3 ]]
    local size=$(stat -c %s "$(fault_src)")
    [[ $(col message) == *": got $((size - 100)) bytes, expected $size" ]]
    [[ ! -e $(col path) && ! -e $(col path).part ]]
    ls -A "$OUT" | grep -v '^\.sc-fetch' && false || true
}

@test "sc-fetch get: a too long Content-Length: truncated, resumed, verified" {
    fault longlen
    [[ $status -eq 0 ]]
    cmp "$(col path)" "$(fault_src)"
    run mock_requests '^GET /f/longlen/'
    [[ ${lines[1]} == *" bytes=$(stat -c %s "$(fault_src)")- 416" ]]
}

@test "sc-fetch get: a stalled response times out and is resumed" {
    fault slow
    [[ $status -eq 0 ]]
    cmp "$(col path)" "$(fault_src)"
    run mock_requests '^GET /f/slow/'
    [[ ${#lines[@]} -eq 2 && ${lines[1]} == *" bytes="*"- 206" ]]
}

@test "sc-fetch get: always stalling: fails after the retries, the part is kept" {
    fault slowall
    [[ $status -eq 3 ]]
    [[ $(col message) == *": no data for 1 s" ]]
    [[ ! -e $(col path) ]]
    [[ -s $(col path).part ]]
}

@test "sc-fetch get: redirects are followed, a redirect loop is not" {
    fault redirect
    [[ $status -eq 0 ]]
    cmp "$(col path)" "$(fault_src)"
    [[ $(mock_requests '302') == *"/f/redirect/"* ]]
    fault redirect-loop --max-redirs 3
    [[ $status -eq 3 ]]
    [[ $(col message) == *"Maximum (3) redirects followed" ]]
    [[ $(mock_requests '^GET /f/redirect-loop/' | wc -l) -eq 4 ]]
}

@test "sc-fetch get: hostile names never leave the output directory" {
    mkdir -p "$BATS_TEST_TMPDIR/a/b"
    cd "$BATS_TEST_TMPDIR/a/b"
    run -3 --separate-stderr sc-fetch get -k -d out --collection Hostile
    [[ ${#lines[@]} -eq 13 ]]
    [[ $output != *downloaded* ]]
    [[ $stderr == *"unsafe file name '\$(touch PWNED)': contains '\$', special to the shell"* ]]
    [[ $stderr == *"unsafe file name 'a;touch PWNED': contains ';'"* ]]
    [[ $stderr == *"unsafe file name '\`touch PWNED\`': contains '\`'"* ]]
    [[ $stderr == *"unsafe file name '-rf': starts with '-'"* ]]
    [[ $stderr == *"unsafe file name 'a b': contains ' '"* ]]
    [[ $stderr == *"asset URL 'file:///etc/passwd' is not http(s)"* ]]
    [[ $stderr == *"asset URL 'ftp://127.0.0.1/x.h5ad' is not http(s)"* ]]
    [[ ! -e PWNED && ! -e out/PWNED ]]
    [[ $stderr == *"unsafe file name '../../etc/passwd': contains '/'"* ]]
    [[ $stderr == *"unsafe file name '/etc/passwd': contains '/'"* ]]
    [[ $stderr == *"unsafe file name '.hidden': starts with '.'"* ]]
    [[ $stderr == *"contains control character 0x09"* ]]
    [[ $stderr == *"longer than 200 bytes"* ]]
    [[ $(mock_requests '^GET /files/' | wc -l) -eq 0 ]]
    [[ ! -e $BATS_TEST_TMPDIR/etc && ! -e $BATS_TEST_TMPDIR/a/etc ]]
    [[ -z $(ls out) ]]
    run -3 --separate-stderr sc-fetch get -k -d out \
        "$MOCK_URL/files/..%2F..%2Fetc%2Fpasswd" "$MOCK_URL/files/%2e%2e"
    [[ $stderr == *"unsafe file name '../../etc/passwd'"* ]]
    [[ $stderr == *"unsafe file name '..': starts with '.'"* ]]
    [[ -z $(ls out) ]]
}

@test "sc-fetch get: --sha256 verified; a mismatch leaves nothing" {
    local u=$MOCK_URL/files/blob.bin
    run -0 sc-fetch get -d "$OUT" --sha256 "$(sha "$MOCK_DIR/files/blob.bin")" "$u"
    [[ $(col status) == downloaded ]]
    run -1 --separate-stderr sc-fetch get -d "$BATS_TEST_TMPDIR/o2" \
        --sha256 "$(printf '0%.0s' {1..64})" "$u"
    [[ $stderr == "sc-fetch: error: '$u': sha256 "*", expected 000"* ]]
    [[ ! -e $BATS_TEST_TMPDIR/o2/blob.bin && ! -e $BATS_TEST_TMPDIR/o2/blob.bin.part ]]
}

@test "sc-fetch get: --verify rejects a download that is not a dataset" {
    run -1 --separate-stderr sc-fetch get -d "$OUT" --verify "$MOCK_URL/files/fake.h5ad"
    [[ $stderr == "sc-fetch: error: '$OUT/fake.h5ad' is not a readable dataset: "* ]]
    [[ ! -e $OUT/fake.h5ad ]]
    run -0 sc-fetch get -d "$OUT" --verify "$(ds 'Fault redirect')"
    [[ $(col status) == downloaded ]]
}

@test "sc-fetch get: -n plans without downloading" {
    run -0 --separate-stderr sc-fetch get -n -d "$OUT" --collection 'Tabula Mock'
    [[ $(col status 1) == planned && $(col status 2) == planned ]]
    [[ $(mock_requests '^GET /files/' | wc -l) -eq 0 ]]
}

@test "sc-fetch get: a directory in use by another run is refused" {
    mkdir -p "$OUT"
    run -1 --separate-stderr flock "$OUT/.sc-fetch.lock" \
        sc-fetch get -d "$OUT" "$MOCK_URL/files/blob.bin"
    [[ $stderr == "sc-fetch: error: '$OUT' is in use by another sc-fetch" ]]
}

@test "sc-fetch get: --limit-rate caps the bandwidth" {
    local t0 t1
    t0=$(date +%s%N)
    run -0 sc-fetch get -d "$OUT" --limit-rate 200K "$MOCK_URL/files/blob.bin"
    t1=$(date +%s%N)
    # 600,000 bytes at 200 KiB/s take about three seconds.
    (( (t1 - t0) / 1000000 >= 1000 ))
}

@test "sc-fetch get: an interrupt keeps the part for the next run" {
    local vid=$(ds 'Fault slowall' 2)
    sc-fetch get -d "$OUT" --timeout 60 "$(ds 'Fault slowall')" > /dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 50); do [[ -s $OUT/$vid.h5ad.part ]] && break; sleep 0.1; done
    kill -INT $pid
    local st=0
    wait $pid || st=$?
    [[ $st -eq 130 ]]
    [[ -s $OUT/$vid.h5ad.part && ! -e $OUT/$vid.h5ad ]]
    # with the hash of what it holds
    [[ $(sed -n 's/^sha256 \([0-9]*\) .*/\1/p' "$OUT/.$vid.h5ad.part.sha256") -eq \
        $(stat -c %s "$OUT/$vid.h5ad.part") ]]
}

# ---- refs ----

@test "sc-fetch refs: reference files through a mirror, verified, idempotent" {
    local share=$BATS_TEST_TMPDIR/share
    mkdir -p "$share/ontology/cxg-guide" "$share/genes/cxg/schema-7"
    cat > "$share/ontology/cxg-guide/latest_ontology_info.json" <<'EOF'
{"ontologies": {"CL": {"version": "v2026-03-26", "filename": "cl.owl",
  "source": "https://github.com/obophenotype/cell-ontology/releases/download/{version}/{filename}"},
 "NCBITaxon": {"version": "v1", "filename": "ncbitaxon.owl.gz",
  "source": "https://github.com/x/releases/download/{version}/{filename}"}}}
EOF
    cat > "$share/genes/cxg/schema-7/gene_info.yml" <<'EOF'
human:
  description: homo_sapiens
  url: https://ftp.ebi.ac.uk/pub/gencode/release_{version}/gencode.v{version}.gtf.gz
  version: 48
EOF
    run -0 --separate-stderr sc-fetch refs --share "$share" \
        --mirror "$MOCK_URL/mirror" -d "$OUT"
    [[ ${#lines[@]} -eq 4 ]]
    [[ $(col path 1) == "$OUT/ontology/CL/v2026-03-26/cl.owl" ]]
    [[ $(col status 1) == downloaded && $(col kind 1) == ontology ]]
    [[ $(col path 3) == "$OUT/genes/cxg/schema-7/human/gencode.v48.gtf.gz" ]]
    gzip -t "$OUT/genes/cxg/schema-7/human/gencode.v48.gtf.gz"
    [[ $(head -c 40 "$OUT/ontology/CL/v2026-03-26/cl.owl") == "reference github.com/obophenotype/cell-o"* ]]
    [[ $(mock_requests '^GET /mirror/ftp.ebi.ac.uk/pub/gencode/release_48/gencode.v48.gtf.gz - 200') ]]
    mock_reset
    run -0 sc-fetch refs --share "$share" --mirror "$MOCK_URL/mirror" -d "$OUT"
    [[ $(col status 1) == present && $(col status 3) == present ]]
    [[ ! -s $MOCK_LOG ]]
    # SC_SHARE and SC_FETCH_MIRROR work as well; a missing index is an error.
    run -1 --separate-stderr env SC_SHARE="$BATS_TEST_TMPDIR/none" sc-fetch refs -d "$OUT"
    [[ $stderr == "sc-fetch: error: no reference index under '$BATS_TEST_TMPDIR/none'" ]]
}

@test "sc-fetch refs: a damaged gzip reference is rejected" {
    local share=$BATS_TEST_TMPDIR/share
    mkdir -p "$share/genes/g"
    printf 'x:\n  url: https://h/broken.gz\n' > "$share/genes/g/gene_info.yml"
    run -1 --separate-stderr sc-fetch refs --share "$share" \
        --mirror "$MOCK_URL/mirror" -d "$OUT"
    [[ $stderr == "sc-fetch: error: cannot read '$OUT/genes/g/x/broken.gz': "* ]]
    [[ ! -e $OUT/genes/g/x/broken.gz ]]
}

# ---- hostile servers (issue 15) ----

@test "sc-fetch get: HTML, gzip-encoded and empty 200 answers are refused, nothing kept" {
    local f
    for f in html gzip empty; do
        fault "$f"
        [[ $status -eq 3 ]]
        [[ $(col status) == failed ]]
        [[ -z $(ls "$OUT" | grep -v '^\.' || true) ]]
    done
    # without a declared size to betray them
    run -1 --separate-stderr sc-fetch get -d "$OUT" "$MOCK_URL/f/html/blob.bin"
    [[ $stderr == *"/f/html/blob.bin': an HTML page, not data" ]]
    run -1 --separate-stderr sc-fetch get -d "$OUT" "$MOCK_URL/f/gzip/blob.bin"
    [[ $stderr == *"': the server compressed it on the way (Content-Encoding)" ]]
    run -1 --separate-stderr sc-fetch get -d "$OUT" "$MOCK_URL/f/empty/blob.bin"
    [[ $stderr == *"': empty (0 bytes)" ]]
    run -1 --separate-stderr sc-fetch get -d "$OUT" "$MOCK_URL/files/junk.h5ad"
    [[ $stderr == "sc-fetch: error: '$MOCK_URL/files/junk.h5ad': not an HDF5 file" ]]
    run -1 --separate-stderr sc-fetch get -d "$OUT" "$MOCK_URL/files/empty.bin"
    [[ $stderr == *"empty (0 bytes)" ]]
    [[ ! -e $OUT/junk.h5ad && ! -e $OUT/empty.bin && ! -e $OUT/junk.h5ad.part ]]
}

@test "sc-fetch get: an endless chunked answer is cut at the declared size or --max-size" {
    fault endless
    [[ $status -eq 3 ]]
    [[ $(col message) == *"': more than $(stat -c %s "$(fault_src)") bytes" ]]
    [[ -z $(ls "$OUT" | grep -v '^\.' || true) ]]
    run -1 --separate-stderr sc-fetch get -d "$OUT" --max-size 100K \
        "$MOCK_URL/f/endless/blob.bin"
    [[ $stderr == *"': more than 102400 bytes" ]]
    [[ ! -e $OUT/blob.bin && ! -e $OUT/blob.bin.part ]]
}

@test "sc-fetch get: a slow-drip server is cut by --min-rate" {
    fault drip
    [[ $status -eq 3 ]]
    [[ $(col message) == *"Operation too slow"* ]]
    run -2 --separate-stderr sc-fetch get -d "$OUT" --min-rate 0x "$MOCK_URL/f/drip/blob.bin"
}

@test "sc-fetch list: a JSON object, wrongly typed fields or a huge answer is an error" {
    curl -sf "$MOCK_URL/_control/api?mode=object" > /dev/null
    run -1 --separate-stderr sc-fetch list
    [[ $stderr == "sc-fetch: error: '$MOCK_URL/curation/v1/datasets': expected an array of datasets, got an object" ]]
    [[ -z $output ]]
    curl -sf "$MOCK_URL/_control/api?mode=types" > /dev/null
    run -1 --separate-stderr sc-fetch list
    [[ $stderr == *"/datasets': item 1: 'dataset_id' is a number, not a non-empty string" ]]
    curl -sf "$MOCK_URL/_control/api?mode=huge" > /dev/null
    run -1 --separate-stderr sc-fetch list --max-answer 1M
    [[ $stderr == *"/datasets': answer larger than 1048576 bytes" ]]
}

@test "sc-fetch list: tabs and line breaks inside fields are escaped" {
    run -0 --separate-stderr sc-fetch list --collection Hostile
    [[ ${#lines[@]} -eq 13 ]]
    [[ $output == *$'\t''a\tb'$'\t'* ]]
    run -0 bash -c "sc-fetch list | awk -F'\t' 'NF != 10' | wc -l"
    [[ $output == 0 ]]
}
