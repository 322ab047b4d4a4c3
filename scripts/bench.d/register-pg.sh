#!/bin/bash
# Benchmark: a registry of 100,000 datasets on PostgreSQL against the same on
# SQLite (BENCH_SMALL=1: 2,000), issue 21.
#   The registry: the 40 template datasets of register.sh registered for
#   real, then multiplied in SQL to N artifacts with their terms (each copy
#   its own sha256 and path, sharing its template's gene set), on SQLite;
#   copied to a PostgreSQL server that tests/pg-server.sh starts on a free
#   port (as it does for the tests: fsync off) with sc-register migrate, and
#   multiplied there by the same SQL.
#   Measured on both, each figure the median of several runs:
#   - adding 1,000 new datasets (-@ nproc, --trust-sha256: metadata only)
#     to the registry of N: datasets per second;
#   - a query that expands "T cell" to its descendants (--limit 100: the
#     query, not printing thousands of rows) and the same without a limit;
#   - exporting a frozen collection version of 1,000 datasets.
# Baseline: SQLite (ratio > 1: PostgreSQL is faster).
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/../bench-lib.sh"
set -uo pipefail

reg=$SC_BUILD/bin/sc-register
tpl=$SC_BUILD/bench-cache/register-templates
if [[ ${BENCH_SMALL:-0} == 1 ]]; then n=2000 nadd=200; else n=100000 nadd=1000; fi
runs=$(bench_runs)
long=$(bench_runs long)
export SC_SHARE=${SC_SHARE:-$SC_ROOT/share}
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$SC_BUILD/cache}

if [[ ! -x $reg ]]; then
    bench_note "$reg not built"
    exit 1
fi
if ! "$SC_ROOT/tests/pg-server.sh" available; then
    bench_note "no PostgreSQL server (scripts/install-deps.sh installs it): skipped"
    exit 0
fi
work=$(mktemp -d "$SC_BUILD/bench-register-pg.XXXXXX")
pgdir=
cleanup() {
    [[ -n $pgdir ]] && "$SC_ROOT/tests/pg-server.sh" stop "$pgdir"
    rm -rf "$work"
}
trap cleanup EXIT
if [[ ! -f $tpl/.done ]]; then
    bench_note "making 40 template datasets in $tpl"
    rm -rf "$tpl"
    "$SC_ROOT/scripts/make-corpus" -o "$tpl" --datasets 40 --cells 40000 \
        --cells-min 200 --cells-max 5000 --genes 1000:3000 --nnz 5 --mess 0 \
        --seed 11 --compression none > /dev/null || exit 1
    touch "$tpl/.done"
fi
eval "$("$SC_ROOT/tests/pg-server.sh" start)" || exit 1
pgdir=$SC_PG_DIR
pguri() { printf 'postgresql://postgres@127.0.0.1:%s/%s' "$SC_PG_PORT" "$1"; }
psql_db() { "$SC_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$(pguri "$1")" -c "$2" > /dev/null; }

# the base registry: the templates for real, multiplied in SQL
copies=$((n / 40))
sq=$work/base.db
"$reg" -q --db "$sq" init && "$reg" -q --db "$sq" add "$tpl"/ds*.h5ad > /dev/null || exit 1
# mul FROM SHA: SQL that adds artifacts 1-40 again as copy k (ids k * 1000 +
# id) with their terms, k from FROM; SHA spells the copy's digest
mul() {
    printf '%s' "INSERT INTO artifact(id, sha256, size, mtime, format, n_obs, n_vars,
        organism, assay, schema_version, storage_id, path, geneset_id, created,
        version, previous_id)
      SELECT k * 1000 + a.id, $2, a.size, a.mtime, a.format, a.n_obs, a.n_vars,
        a.organism, a.assay, a.schema_version, a.storage_id,
        '/bench/copy' || k || a.path, a.geneset_id, a.created, 1, NULL
      FROM artifact a, $1 WHERE a.id <= 40;
    INSERT INTO artifact_term SELECT k * 1000 + t.artifact_id, t.field, t.term,
        t.label, t.n_cells FROM artifact_term t, $1 WHERE t.artifact_id <= 40;"
}
bench_note "a registry of $n datasets on PostgreSQL (migrate, then SQL)"
psql_db postgres "CREATE DATABASE base" || exit 1
"$reg" -q --db "$sq" migrate --to "$(pguri base)" -o /dev/null || exit 1
psql_db base "$(mul "generate_series(1, $((copies - 1))) AS k" \
    "lpad(to_hex(k), 16, '0') || lpad(to_hex(a.id), 48, '0')");
    SELECT setval(pg_get_serial_sequence('artifact', 'id'), MAX(id)) FROM artifact" &&
    psql_db base "VACUUM ANALYZE" || exit 1
bench_note "the same on SQLite"
sqlite3 "$sq" "CREATE TEMP TABLE s(k INTEGER);
    WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < $((copies - 1)))
    INSERT INTO s SELECT k FROM c;
    $(mul s "printf('%016x%048x', k, a.id)");
    PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null || exit 1
[[ $("$reg" --db "$(pguri base)" query --limit 1000000 | tail -n +2 | wc -l) -eq $n &&
   $("$reg" --db "$sq" query --limit 1000000 | tail -n +2 | wc -l) -eq $n ]] || {
    bench_note "the registries do not hold $n datasets"
    exit 1
}

# nadd new datasets: paths to the templates, a distinct digest per row
bench_links "$tpl" "$work" "$nadd" new || exit 1
cat "$tpl"/ds*.h5ad > /dev/null

# each add run starts from a fresh copy of the base registry
fresh() {   # fresh BACKEND NAME: make copy NAME, print its registry
    if [[ $1 == pg ]]; then
        psql_db postgres "CREATE DATABASE $2 TEMPLATE base STRATEGY FILE_COPY" || return 1
        pguri "$2"
    else
        cp "$sq" "$work/$2.db" && printf '%s' "$work/$2.db"
    fi
}
add_run() {   # add_run BACKEND NAME: the seconds of one add of nadd datasets
    local db
    db=$(fresh "$1" "$2") || return 1
    bench_time "$reg" -q --db "$db" add -@ "$(nproc)" --trust-sha256 < "$work/m.tsv"
}
for b in sqlite pg; do
    bench_note "adding $nadd datasets to $n on $b, $long runs"
    for ((i = 0; i < long; i++)); do add_run $b "r$i" || exit 1; done | median > "$work/add.$b" || exit 1
done

# queries and an export on the base registries
for b in sqlite pg; do
    if [[ $b == pg ]]; then db=$(pguri base); else db=$sq; fi
    "$reg" -q --db "$db" collection create train &&
        "$reg" -q --db "$db" collection add train --organism human --limit 1000 &&
        "$reg" -q --db "$db" collection freeze train > /dev/null || exit 1
    members=$("$reg" --db "$db" collection export train@1 | tail -n +2 | wc -l)
    hits=$("$reg" --db "$db" query --cell-type "T cell" | tail -n +2 | wc -l)
    echo "$hits" > "$work/hits.$b"
    echo "$members" > "$work/members.$b"
    bench_median "$runs" "$reg" --db "$db" query --cell-type "T cell" --limit 100 > "$work/q100.$b" &&
        bench_median "$runs" "$reg" --db "$db" query --cell-type "T cell" > "$work/q.$b" &&
        bench_median "$runs" "$reg" --db "$db" collection export train@1 > "$work/exp.$b" || exit 1
done
[[ $(cat "$work/hits.sqlite") == $(cat "$work/hits.pg") ]] || {
    bench_note "the query finds $(cat "$work/hits.sqlite") on SQLite, $(cat "$work/hits.pg") on PostgreSQL"
    exit 1
}

ms() { awk -v s="$(cat "$1")" 'BEGIN { printf "%.1f\n", s * 1000 }'; }
# ratio: how many times faster PostgreSQL is (> 1: PostgreSQL wins)
r() { bench_ratio "$(cat "$2")" "$(cat "$1")"; }
rate_pg=$(bench_rate "$nadd" "$(cat "$work/add.pg")")
rate_sq=$(bench_rate "$nadd" "$(cat "$work/add.sqlite")")
bench_row "registry of $n on PostgreSQL vs SQLite: add $nadd datasets (-@ $(nproc))" \
    "$rate_pg" "$rate_sq" datasets/s "$(bench_ratio "$rate_pg" "$rate_sq")"
bench_row "registry of $n on PostgreSQL vs SQLite: query 'T cell' + descendants, first 100" \
    "$(ms "$work/q100.pg")" "$(ms "$work/q100.sqlite")" ms "$(r "$work/q100.pg" "$work/q100.sqlite")"
bench_row "registry of $n on PostgreSQL vs SQLite: the same, all $(cat "$work/hits.pg") hits" \
    "$(ms "$work/q.pg")" "$(ms "$work/q.sqlite")" ms "$(r "$work/q.pg" "$work/q.sqlite")"
bench_row "registry of $n on PostgreSQL vs SQLite: collection export ($(cat "$work/members.pg") datasets)" \
    "$(ms "$work/exp.pg")" "$(ms "$work/exp.sqlite")" ms "$(r "$work/exp.pg" "$work/exp.sqlite")"
