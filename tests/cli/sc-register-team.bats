#!/usr/bin/env bats
# sc-register for a team (issue 21): the same sequence gives the same
# registry on SQLite and PostgreSQL, many concurrent writers on PostgreSQL
# lose nothing, writers killed mid-run leave a registry the rerun completes.
# The file starts its own PostgreSQL server (tests/pg-server.sh); without
# Debian's postgresql it is skipped, saying so.
# SPDX-License-Identifier: MIT

load helpers

setup_file() {
    SC_TEST_REGISTRY=postgresql reg_setup_file
    export XDG_CACHE_HOME=$SC_BUILD/cache
    many_datasets 660
}

teardown_file() {
    SC_TEST_REGISTRY=postgresql reg_teardown_file
}

setup() {
    cd "$BATS_TEST_TMPDIR"
    export SC_TEST_REGISTRY=postgresql
}

# manifest FIRST N: a manifest of datasets dFIRST .. dFIRST+N-1
manifest() {
    echo path
    for ((j = $1; j < $1 + $2; j++)); do
        echo "$BATS_FILE_TMPDIR/many/d$j.h5ad"
    done
}

# n_artifacts: the number of artifacts, every version
n_artifacts() {
    sc-register query --all-versions | tail -n +2 | wc -l
}

# sequence DIR: init, 8 concurrent adds, a collection of the human datasets
# created, filled, frozen and exported, a query by organism; the outputs in
# DIR without the ids and times, which concurrent writers race for
sequence() {
    local out=$1 corpus=$2 p pids=()
    mkdir -p "$out"
    sc-register init
    for p in 0 1 2 3 4 5 6 7; do
        # 10 copies each, and the mixed-organism corpus spread over them
        { manifest $((p * 10)) 10; ls "$corpus"/ds*.h5ad | sed -n "$((p + 1))~8p"; } > "$out/m$p.tsv"
        sc-register add < "$out/m$p.tsv" > "$out/o$p.tsv" 2> "$out/e$p.txt" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    cat "$out"/e*.txt >&2
    [[ -z $(cat "$out"/e*.txt) ]]
    sc-register collection create human --description "human datasets"
    sc-register collection add human --organism human
    sc-register collection freeze human > "$out/freeze"
    # export: path id sha256 format n_obs n_vars organism assay version created weight
    sc-register collection export human@1 | cut -f1,3-9,11 | sort > "$out/export"
    sc-register query --organism mouse | cut -f2-9,11 | sort > "$out/mouse"
    sc-register counts human@1 > "$out/counts"
    sc-register collection list > "$out/list"
}

@test "sc-register team: the same sequence gives identical exports on SQLite and PostgreSQL" {
    corpus=$(test_corpus --datasets 12 --cells 6000 --cells-min 100 --genes 100:200 --nnz 20 --mess 0 --seed 5)
    export SC_REGISTRY=$BATS_TEST_TMPDIR/reg.db
    sequence sqlite "$corpus"
    SC_REGISTRY=$(pg_newdb seq)
    sequence pg "$corpus"
    for f in freeze export mouse counts list; do
        diff -u "sqlite/$f" "pg/$f"
    done
    # the comparison compared something: 80 copies and the corpus's humans
    [[ $(cat sqlite/freeze) == "human@1" ]]
    (($(wc -l < sqlite/export) > 80 && $(wc -l < sqlite/mouse) > 1))
    [[ $(wc -l < sqlite/list) -eq 2 ]]
}

@test "sc-register team: 32 concurrent writers on PostgreSQL lose nothing" {
    export SC_REGISTRY
    SC_REGISTRY=$(pg_newdb w32)
    sc-register init
    # 32 writers of 15 datasets each; every writer also adds the same 5
    for p in $(seq 0 31); do
        { manifest $((p * 15)) 15; manifest 600 5 | tail -n +2; } > m$p.tsv
    done
    for p in $(seq 0 31); do
        sc-register add < m$p.tsv > o$p.tsv 2> e$p.txt &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    cat e*.txt
    [[ -z $(cat e*.txt) ]]
    # each dataset exactly once: 480 + 5 new, the 5 shared known 31 times
    [[ $(cat o*.tsv | grep -c $'\tnew$') -eq 485 ]]
    [[ $(cat o*.tsv | grep -c $'\tknown$') -eq 155 ]]
    [[ $(n_artifacts) -eq 485 ]]
    [[ $(reg_sql "SELECT COUNT(DISTINCT sha256) FROM artifact") -eq 485 ]]
    # one gene set and one set of terms for them all
    [[ $(reg_sql "SELECT COUNT(*) FROM geneset") -eq 1 ]]
    [[ $(reg_integrity) == ok ]]
    run -0 sc-register verify
    [[ $(grep -c ^ok <<< "$output") -eq 485 ]]
}

@test "sc-register team: writers killed with kill -9 mid-run, the rerun completes and verify is clean" {
    export SC_REGISTRY
    SC_REGISTRY=$(pg_newdb killed)
    sc-register init
    for p in $(seq 0 31); do
        manifest $((p * 20)) 20 > m$p.tsv
    done
    for p in $(seq 0 31); do
        sc-register add < m$p.tsv > o$p.tsv 2> /dev/null &
        pids+=($!)
    done
    # kill every writer once some datasets are in, well before the end
    for ((i = 0; i < 500; i++)); do
        (($(cat o*.tsv | grep -c $'\tnew$') > 40)) && break
        sleep 0.02
    done
    kill -9 "${pids[@]}" 2> /dev/null || true
    for p in "${pids[@]}"; do wait "$p" || true; done
    before=$(n_artifacts)
    echo "registered before the kill: $before"
    ((before > 0 && before < 640))
    [[ $(reg_integrity) == ok ]]
    run -0 sc-register verify
    [[ $(grep -c ^ok <<< "$output") -eq $before ]]
    # the rerun, concurrent again, completes every dataset exactly once
    pids=()
    for p in $(seq 0 31); do
        sc-register add < m$p.tsv > r$p.tsv 2> e$p.txt &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    [[ -z $(cat e*.txt) ]]
    [[ $(cat r*.tsv | grep -c $'\tknown$') -eq $before ]]
    [[ $(cat r*.tsv | grep -c $'\tnew$') -eq $((640 - before)) ]]
    [[ $(n_artifacts) -eq 640 ]]
    [[ $(reg_integrity) == ok ]]
    run -0 sc-register verify
    [[ $(grep -c ^ok <<< "$output") -eq 640 ]]
}

@test "sc-register team: the registry API's unit test passes on PostgreSQL" {
    run -0 env SC_TEST_REGISTRY_URI="$(pg_newdb unit)" "$SC_BUILD/tests/test_registry"
    [[ $output == *"# on postgresql://"* && $output != *"not ok"* ]]
    [[ $(grep -c "^ok" <<< "$output") -ge 6 ]]
}

# a registry with a bit of everything: roots, versions, terms, gene sets,
# collections of two versions, a run with inputs and an output
rich_registry() {
    local h5ad=$SC_TEST_DATA/h5ad
    mkdir -p data
    cp "$h5ad"/*.h5ad data/
    sc-register init --root data
    sc-register add data/*.h5ad > /dev/null
    printf 'changed' >> data/anndataR_example.h5ad
    sc-register add data/anndataR_example.h5ad > /dev/null
    sc-register collection create c --description "it's a 'quoted' name"
    sc-register collection add c 1 2 3
    sc-register collection add c 4 --weight 2.5
    sc-register collection freeze c > /dev/null
    sc-register collection remove c 2
    sc-register collection freeze c > /dev/null
    sc-register collection create draft
    sc-register collection add draft 5
    run=$(sc-register run start --tool train.py --tool-version 1.0 --input c@2 \
        --input https://example.org/x -- --lr 0.1)
    echo weights > data/model.pt
    sc-register run finish "$run" --output-file data/model.pt > /dev/null
}

# views NAME: what the commands show of the registry, into NAME.*
views() {
    sc-register query --all-versions > "$1.query"
    sc-register collection list > "$1.list"
    sc-register collection export c@1 > "$1.c1"
    sc-register collection export c@2 > "$1.c2"
    sc-register collection show draft > "$1.draft"
    sc-register lineage data/model.pt > "$1.lineage"
    sc-register show 1 > "$1.show"
    sc-register counts c@2 > "$1.counts"
    sc-register roots > "$1.roots"
}

@test "sc-register team: migrate copies a SQLite registry to PostgreSQL with nothing lost, and back" {
    export SC_REGISTRY=$BATS_TEST_TMPDIR/reg.db
    rich_registry
    views sqlite
    pg=$(pg_newdb migrated)
    run -0 --separate-stderr sc-register migrate --to "$pg"
    [[ ${lines[0]} == table$'\t'rows$'\t'sha256$'\t'check ]]
    [[ ${#lines[@]} -eq 15 && $(grep -c $'\tsame$' <<< "$output") -eq 14 ]]
    [[ $output == *$'\nartifact\t9\t'* && $output == *$'\ncollection_version_member\t7\t'* ]]
    # the counts and hashes are the source's: compare with sqlite3's own count
    [[ $(awk -F'\t' '$1 == "artifact_term" { print $2 }' <<< "$output") -eq \
       $(sqlite3 "$SC_REGISTRY" "SELECT COUNT(*) FROM artifact_term") ]]
    echo "$output" > to-pg.tsv
    SC_REGISTRY=$pg views pg
    for v in query list c1 c2 draft lineage show counts roots; do
        diff -u "sqlite.$v" "pg.$v"
    done
    # the copy goes on where the source stopped: new ids follow
    SC_REGISTRY=$pg run -0 sc-register collection create more
    cp "$SC_TEST_DATA/h5ad/anndataR_example.h5ad" data/new.h5ad
    printf 'new' >> data/new.h5ad
    SC_REGISTRY=$pg run -0 sc-register add data/new.h5ad
    [[ $output == *$'\t10\t'*$'\tnew' ]]
    # into a registry that is not empty: refused, one line, nothing written
    run -1 --separate-stderr sc-register migrate --to "$pg"
    [[ $stderr == *"is not empty"* && $(wc -l <<< "$stderr") -eq 1 && -z $output ]]
    # and back: PostgreSQL to a new SQLite file, the same rows and hashes
    back=$(pg_newdb back)
    sc-register migrate --to "$back" > /dev/null
    run -0 sc-register --db "$back" migrate --to back.db
    diff -u to-pg.tsv <(printf '%s\n' "$output")
    SC_REGISTRY=back.db views back
    for v in query list c1 c2 draft lineage show counts roots; do
        diff -u "sqlite.$v" "back.$v"
    done
    # usage errors
    run -2 --separate-stderr sc-register migrate
    [[ $stderr == *"--to DB is required"* ]]
    run -2 --separate-stderr sc-register migrate --to "$SC_REGISTRY"
    [[ $stderr == *"the registry itself"* ]]
}

@test "sc-register team: a role without write rights reads, and its writes fail in one line" {
    export SC_REGISTRY
    SC_REGISTRY=$(pg_newdb ro)
    rich_registry
    views owner
    n=$(sc-register query --all-versions | wc -l)
    pg_psql -c "CREATE ROLE reader_ro LOGIN"
    reg_sql "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader_ro"
    SC_REGISTRY=${SC_REGISTRY/postgres@/reader_ro@}
    views reader
    for v in query list c1 c2 draft lineage show counts roots; do
        diff -u "owner.$v" "reader.$v"
    done
    run -0 sc-register verify
    # known content needs no write: it is reported known
    run -0 sc-register add data/cellxgene_schema_example_valid.h5ad
    [[ $output == *$'\tknown' ]]
    cp data/cellxgene_schema_example_valid.h5ad data/new.h5ad
    printf 'new' >> data/new.h5ad
    for cmd in "add data/new.h5ad" "collection create x" "collection add draft 1" \
               "collection freeze draft" "run start --tool t" "roots set 1 /tmp"; do
        run -1 --separate-stderr sc-register $cmd
        [[ $stderr == *"is read-only here"*"permission denied"* ]] || { echo "$cmd: $stderr"; false; }
        [[ $(wc -l <<< "$stderr") -eq 1 ]]
    done
    [[ $(sc-register query --all-versions | wc -l) -eq $n ]]
}

@test "sc-register team: values reach PostgreSQL bound, never as SQL" {
    export SC_REGISTRY
    SC_REGISTRY=$(pg_newdb bound)
    sc-register init
    sc-register add "$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad" > /dev/null
    evil="x'); DROP TABLE artifact; --"
    sc-register collection create "$evil" --description "$evil"
    sc-register collection add "$evil" 1
    run -0 sc-register collection list
    [[ $output == *"$evil"$'\t0\t1\t'"$evil"* ]]
    run -0 sc-register query --format "$evil" --transform "$evil@$evil"
    [[ ${#lines[@]} -eq 1 ]]
    run -0 sc-register query --gene "$evil' OR '1'='1"
    [[ ${#lines[@]} -eq 1 ]]
    run -1 sc-register show "$evil"
    [[ $(reg_sql "SELECT COUNT(*) FROM artifact") -eq 1 ]]
}
