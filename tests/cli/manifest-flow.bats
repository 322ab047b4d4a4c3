#!/usr/bin/env bats
# Manifest semantics shared by the tools of a pipeline: lines an earlier
# tool failed or refused are passed on untouched, and a tool that writes a
# new file updates path and size and drops the digest of the old file.

load helpers

setup() {
    sample=$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad
    m=$BATS_TEST_TMPDIR/in.tsv
    printf 'path\tstatus\tsize\tsha256\tnote\n' > "$m"
    printf '%s\trefused\t\t\tkeep me\n' "$BATS_TEST_TMPDIR/never-written.h5ad" >> "$m"
    printf '%s\tok\t1\tdeadbeef\tsecond\n' "$sample" >> "$m"
}

@test "manifest flow: sc-annotate passes refused lines on and renews size and sha256" {
    run -0 --separate-stderr sc-annotate annotate -d "$BATS_TEST_TMPDIR/out" - < "$m"
    [ "${#lines[@]}" -eq 3 ]
    [[ ${lines[1]} == "$BATS_TEST_TMPDIR/never-written.h5ad"$'\t'refused* ]]
    [[ ${lines[1]} == *"keep me"* ]]
    out=$(printf '%s\n' "${lines[2]}" | cut -f1)
    [ -f "$out" ]
    [[ $out == "$BATS_TEST_TMPDIR/out/"* ]]
    size=$(printf '%s\n' "${lines[2]}" | cut -f3)
    sha=$(printf '%s\n' "${lines[2]}" | cut -f4)
    [ "$size" -eq "$(stat -c %s "$out")" ]
    [ -z "$sha" ]
}

@test "manifest flow: sc-harmonize passes refused and failed lines on" {
    sed -i 's/\tok\t1\tdeadbeef/\tfailed\t1\tdeadbeef/' "$m"
    run -0 --separate-stderr sc-harmonize -d "$BATS_TEST_TMPDIR/h" - < "$m"
    [ "${#lines[@]}" -eq 3 ]
    [[ ${lines[1]} == *$'\t'refused$'\t'* ]]
    [[ ${lines[2]} == "$sample"$'\t'failed$'\t'1$'\t'deadbeef* ]]
    [ ! -e "$BATS_TEST_TMPDIR/h/cellxgene_schema_example_valid.h5ad" ]
}

@test "manifest flow: sc-register add skips refused lines" {
    run -0 sc-register --db "$BATS_TEST_TMPDIR/r.db" init
    run -0 --separate-stderr sc-register --db "$BATS_TEST_TMPDIR/r.db" add - < "$m"
    [[ ${lines[1]} == *$'\t'refused$'\t'* && ${lines[1]} == *skipped* ]]
    run -0 --separate-stderr sc-register --db "$BATS_TEST_TMPDIR/r.db" query -O manifest
    [[ $output == *cellxgene_schema_example_valid.h5ad* ]]
    [[ $output != *never-written* ]]
}
