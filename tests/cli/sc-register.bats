#!/usr/bin/env bats
# sc-register: registration, versions, queries with descendant expansion,
# collections, lineage, verify, concurrency and crashes (issue 6); on
# SQLite, and on PostgreSQL as sc-register-pg.bats, a link to this file
# (issue 21; helpers.bash, reg_is_pg).
# SPDX-License-Identifier: MIT

load helpers

H5AD=$SC_TEST_DATA/h5ad

setup_file() {
    reg_setup_file
    export XDG_CACHE_HOME=$SC_BUILD/cache
    many_datasets 800
}

teardown_file() {
    reg_teardown_file
}

setup() {
    cd "$BATS_TEST_TMPDIR"
    reg_new
}

# n_artifacts: the number of artifacts, every version
n_artifacts() {
    sc-register query --all-versions | tail -n +2 | wc -l
}

integrity() {
    reg_integrity
}

@test "sc-register: --help lists the commands, to stdout" {
    run -0 --separate-stderr sc-register --help
    [[ $output == "Usage: sc-register [options] <command>"* ]]
    for c in init add query show counts lineage run collection verify; do
        [[ $output == *"  $c"* ]]
    done
    [[ -z $stderr ]]
}

@test "sc-register: --version" {
    run -0 sc-register --version
    [[ $output == "sc-register "*sqlite* ]]
}

@test "sc-register: unknown option, command or verb is a usage error" {
    run -2 --separate-stderr sc-register --no-such-flag
    [[ $stderr == "sc-register: "* ]]
    run -2 --separate-stderr sc-register
    [[ $stderr == *"no command"* ]]
    run -2 --separate-stderr sc-register frobnicate
    [[ $stderr == *"unknown command 'frobnicate'"* ]]
    run -2 --separate-stderr sc-register show
    [[ $stderr == *"missing operand"* ]]
    run -2 --separate-stderr sc-register query extra
    [[ $stderr == *"query takes options"*"Try 'sc-register --help'."* ]]
    run -2 --separate-stderr sc-register run start
    [[ $stderr == *"--tool is required"* ]]
    run -2 --separate-stderr sc-register collection frob x
    [[ $stderr == *"unknown verb 'frob'"* ]]
}

@test "sc-register: a missing registry or input fails with status 1" {
    run -1 --separate-stderr sc-register query
    [[ $stderr == *"no registry "*"'$SC_REGISTRY'"* ]]
    sc-register init
    run -1 --separate-stderr sc-register add no-such.h5ad
    [[ $stderr == "sc-register: error: "*"no-such.h5ad"* ]]
    [[ $(n_artifacts) -eq 0 ]]
}

@test "sc-register: real samples are registered once (idempotent)" {
    sc-register init
    run -0 --separate-stderr sc-register add "$H5AD"/*.h5ad
    [[ ${lines[0]} == path$'\t'id$'\t'sha256* ]]
    [[ $(grep -c $'\tnew$' <<< "$output") -eq 7 ]]
    [[ $(n_artifacts) -eq 7 ]]
    run -0 sc-register add "$H5AD"/*.h5ad
    [[ $(grep -c $'\tknown$' <<< "$output") -eq 7 ]]
    [[ $(n_artifacts) -eq 7 ]]
    # the CELLxGENE example: its terms, organism from uns, its genes
    run -0 sc-register show "$H5AD/cellxgene_schema_example_valid.h5ad"
    [[ $output == *$'organism\tNCBITaxon:9606'* ]]
    [[ $output == *$'term\tcell_type\tCL:0000066\t\t2'* ]]
    [[ $output == *$'n_obs\t2'* && $output == *$'genes\t7'* ]]
    # by sha256 prefix, and the same content under another name is known
    sha=$(sha256sum "$H5AD/anndataR_example.h5ad" | cut -c1-12)
    run -0 sc-register show "$sha"
    [[ $output == *anndataR_example.h5ad* ]]
    cp "$H5AD/anndataR_example.h5ad" copy.h5ad
    run -0 sc-register add copy.h5ad
    [[ $output == *$'\tknown' ]]
}

@test "sc-register: a manifest on stdin, -o FILE, and - as input" {
    sc-register init
    printf 'path\tnote\n%s\tfirst\n' "$H5AD/anndataR_example.h5ad" > m.tsv
    run -0 sc-register add -o out.tsv - < m.tsv
    [[ -z $output ]]
    [[ $(head -1 out.tsv) == path$'\t'note$'\t'id$'\t'sha256* ]]
    [[ $(tail -1 out.tsv) == *$'\tfirst\t1\t'*$'\tnew' ]]
    run -0 sc-register query -O manifest -o q.tsv
    [[ $(tail -n +2 q.tsv | cut -f1) == "$H5AD/anndataR_example.h5ad" ]]
}

@test "sc-register: -o /dev/full is an error" {
    sc-register init
    sc-register add "$H5AD/anndataR_example.h5ad" > /dev/null
    run -1 --separate-stderr sc-register query -o /dev/full
    [[ $stderr == *"sc-register: error: "*"No space left on device"* ]]
}

@test "sc-register: changed content at a known path is a new version" {
    sc-register init --root .
    cp "$H5AD/anndataR_example.h5ad" d.h5ad
    run -0 sc-register add d.h5ad
    [[ $output == *$'\tnew' ]]
    printf 'changed' >> d.h5ad
    run -0 sc-register add d.h5ad
    [[ $output == *$'\tversion' ]]
    run -0 sc-register show d.h5ad
    [[ $output == *$'version\t2'* && $output == *$'previous\t1'* ]]
    [[ $output == *$'path\t'"$BATS_TEST_TMPDIR/d.h5ad"* ]]
    [[ $(sc-register query | tail -n +2 | wc -l) -eq 1 ]]
    [[ $(n_artifacts) -eq 2 ]]
    run -0 sc-register show 1
    [[ $output == *$'latest\tno'* ]]
    # relative to the storage root: the tree can move
    [[ $(reg_sql "SELECT path, storage_id FROM artifact ORDER BY id" | tr '\n' ' ') == "d.h5ad|1 d.h5ad|1 " ]]
    run -0 sc-register roots
    [[ $output == 1$'\t'"$BATS_TEST_TMPDIR" ]]
    mkdir moved && mv d.h5ad moved/
    sc-register roots set 1 moved
    run -0 sc-register show moved/d.h5ad -o /dev/null
    run -0 sc-register verify
    [[ $output == ok$'\t'2$'\t'"$BATS_TEST_TMPDIR/moved/d.h5ad" ]]
}

@test "sc-register: the corpus, queries expanded to descendants as the ontology says" {
    corpus=$(test_corpus --datasets 12 --cells 6000 --cells-min 100 --genes 100:200 --nnz 20 --mess 0 --seed 5)
    sc-register init
    sc-register add "$corpus"/ds*.h5ad > /dev/null
    [[ $(n_artifacts) -eq 12 ]]
    # the expected datasets, from the CL guide's ancestor maps
    $PY - "$corpus" "$SC_SHARE" > expected <<'EOF'
import anndata, glob, gzip, json, sys
cl = json.load(gzip.open(glob.glob(sys.argv[2] + "/ontology/cxg-guide/schema-7.0.0/CL-*.json.gz")[0]))
files = sorted(glob.glob(sys.argv[1] + "/ds*.h5ad"))
types = {f: set(anndata.read_h5ad(f, backed="r").obs["cell_type_ontology_term_id"].astype(str)) for f in files}
for t in ["CL:0000084", "CL:0000738", "CL:0000066", "CL:0000540", "CL:0000988"]:
    exp = [f for f in files if any(c == t or t in cl.get(c, {}).get("ancestors", {}) for c in types[f])]
    exact = [f for f in files if t in types[f]]
    print(t, len(exp) - len(exact), " ".join(exp))
EOF
    extra=0
    while read -r term gained paths; do
        got=$(sc-register query --cell-type "$term" | tail -n +2 | cut -f2 | tr '\n' ' ')
        [[ "${got% }" == "$paths" ]] || { echo "$term: got '$got' expected '$paths'"; false; }
        extra=$((extra + gained))
    done < expected
    # expansion mattered: some datasets match through a descendant only
    ((extra > 0))
    # by label, and --no-expand matches the term alone
    [[ $(sc-register query --cell-type leukocyte | tail -n +2 | cut -f2 | tr '\n' ' ') == \
       "$(awk '$1 == "CL:0000738" { $1 = ""; $2 = ""; print }' expected | sed 's/^ *//') " ]]
    run -0 sc-register query --cell-type CL:0000738 --no-expand
    [[ ${#lines[@]} -eq 1 ]]
}

@test "sc-register: organism, assay, min cells, gene, time and counts" {
    corpus=$(test_corpus --datasets 12 --cells 6000 --cells-min 100 --genes 100:200 --nnz 20 --mess 0 --seed 5)
    sc-register init
    sc-register add "$corpus"/ds*.h5ad > /dev/null
    human=$(sc-register query --organism human | tail -n +2 | wc -l)
    mouse=$(sc-register query --organism NCBITaxon:10090 | tail -n +2 | wc -l)
    [[ $((human + mouse)) -eq 12 && $human -gt 0 ]]
    # min cells: every n_match reaches it
    run -0 sc-register query --organism human --min-cells 300
    awk -F'\t' 'NR > 1 && $11 < 300 { exit 1 }' <<< "$output"
    # gene presence: the first gene of ds000 is measured there
    gene=$($PY -c 'import anndata, sys; print(anndata.read_h5ad(sys.argv[1], backed="r").var_names[0])' "$corpus/ds000.h5ad")
    run -0 sc-register query --gene "$gene"
    [[ $output == *"/ds000.h5ad"* ]]
    run -0 sc-register query --gene NO_SUCH_GENE
    [[ ${#lines[@]} -eq 1 ]]
    run -0 sc-register query --since 2000-01-01 --until 2999-01-01
    [[ ${#lines[@]} -eq 13 ]]
    run -0 sc-register query --since @4102444800
    [[ ${#lines[@]} -eq 1 ]]
    run -2 --separate-stderr sc-register query --since yesterday
    # counts over everything add up to the cells
    sc-register counts | awk -F'\t' 'NR > 1 { s += $3 } END { print s }' > total
    [[ $(cat total) -eq $(sc-register query | awk -F'\t' 'NR > 1 { s += $5 } END { print s }') ]]
}

@test "sc-register: collections freeze, diff, export, and stay immutable" {
    sc-register init
    sc-register add "$H5AD"/*.h5ad > /dev/null
    sc-register collection create c --description "test set"
    run -1 --separate-stderr sc-register collection create c
    [[ $stderr == *"collection 'c' exists"* ]]
    sc-register collection add c 1 2 3
    sc-register collection add c 4 --weight 2.5
    # filters that match nothing: a clear error, stdin is not read
    run -1 --separate-stderr sc-register collection add c --min-cells 999999999 <<< "not a manifest"
    [[ $stderr == "sc-register: error: collection: the filters match no artifact" ]]
    run -0 sc-register collection freeze c
    [[ $output == "c@1" ]]
    sc-register collection remove c 2
    sc-register collection add c 5
    sc-register collection add c 4 --weight 1
    run -0 sc-register collection freeze c
    [[ $output == "c@2" ]]
    run -0 sc-register collection diff c@1 c@2
    [[ ${lines[0]} == -$'\t'2$'\t'* && ${lines[1]} == "~"$'\t'4$'\t'*"weight 2.5 -> 1" ]]
    [[ ${lines[2]} == +$'\t'5$'\t'* ]]
    run -0 sc-register collection export c@1
    [[ ${lines[0]} == path$'\t'id$'\t'sha256*$'\tn_obs\t'*$'\tweight' ]]
    [[ ${#lines[@]} -eq 5 && ${lines[4]} == *$'\t2.5' ]]
    run -0 sc-register collection list
    [[ ${lines[1]} == c$'\t'2$'\t'4$'\t'"test set" ]]
    # the manifest of a version is the input of another collection
    sc-register collection export c@2 > c2.tsv
    sc-register collection create d
    sc-register collection add d < c2.tsv
    sc-register collection freeze d
    [[ $(sc-register collection export d | cut -f2 | tail -n +2 | tr '\n' ' ') == "1 3 4 5 " ]]
    # frozen versions refuse changes at the database level
    run ! reg_sql "UPDATE collection_version_member SET weight = 9"
    [[ $output == *"immutable"* ]]
    run ! reg_sql "INSERT INTO collection_version_member SELECT version_id, 5, n_obs, 1
        FROM collection_version_member WHERE version_id = 1 LIMIT 1"
    [[ $output == *"immutable"* ]]
    run -0 sc-register counts c@1
    [[ ${lines[0]} == term$'\t'label$'\t'n_cells$'\t'n_datasets ]]
}

@test "sc-register: lineage from fetch to harmonize to annotate to training" {
    sc-register init
    cp "$H5AD/cellxgene_schema_example_valid.h5ad" raw.h5ad
    # the provenance sc-harmonize and sc-annotate write (sc-register(1))
    $PY - <<'EOF'
import anndata, hashlib
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
a = anndata.read_h5ad("raw.h5ad")
a.uns["provenance"] = {"0": {"tool": "sc-harmonize", "version": "0.1.0",
    "arguments": "sc-harmonize -d h/ raw.h5ad", "time": "2026-01-02T00:00:00Z",
    "input_sha256": sha("raw.h5ad"), "input_path": "raw.h5ad"}}
a.write_h5ad("harm.h5ad")
b = anndata.read_h5ad("harm.h5ad")
p = dict(b.uns["provenance"])
p["1"] = {"tool": "sc-annotate", "version": "0.2.0", "arguments": "sc-annotate harm.h5ad",
          "time": "2026-01-03T00:00:00Z", "input_sha256": sha("harm.h5ad")}
b.uns["provenance"] = p
b.write_h5ad("annot.h5ad")
EOF
    # any order: the annotated file first, the download last
    sc-register add annot.h5ad harm.h5ad > /dev/null
    printf 'path\tsource\tfetched_at\nraw.h5ad\thttps://example.org/raw.h5ad\t2026-01-01T00:00:00Z\n' |
        sc-register add > /dev/null
    sc-register collection create train
    sc-register collection add train annot.h5ad
    sc-register collection freeze train
    run=$(sc-register run start --tool train.py --tool-version 1.0 --input train@1 -- --lr 0.1)
    echo weights > model.pt
    run -0 sc-register run finish "$run" --output-file model.pt
    [[ ${lines[1]} == model.pt$'\t'4$'\t'* ]]
    run -1 --separate-stderr sc-register run finish "$run"
    [[ $stderr == *"is not running"* ]]
    # upstream of the checkpoint reaches the download
    run -0 sc-register lineage model.pt --up
    for s in "train.py 1.0 (ok)" "train@1" annot.h5ad "sc-annotate 0.2.0" harm.h5ad \
             "sc-harmonize 0.1.0" raw.h5ad "sc-fetch" "https://example.org/raw.h5ad"; do
        [[ $output == *"$s"* ]] || { echo "missing $s"; false; }
    done
    # downstream of the download reaches the checkpoint
    run -0 sc-register lineage raw.h5ad --down
    for s in "sc-harmonize 0.1.0" harm.h5ad "sc-annotate 0.2.0" annot.h5ad train@1 \
             "train.py 1.0" model.pt; do
        [[ $output == *"$s"* ]] || { echo "missing $s"; false; }
    done
    run -0 sc-register lineage harm.h5ad --dot
    [[ ${lines[0]} == "digraph lineage {" && $output == *'"r1" -> "a2"'* && $output == *'"a2" -> "r2"'* ]]
    # --dot only prints DOT: it works without graphviz (a dot that fails)
    mkdir -p "$BATS_TEST_TMPDIR/nodot"
    printf '#!/bin/sh\necho "dot was run" >&2\nexit 127\n' > "$BATS_TEST_TMPDIR/nodot/dot"
    chmod +x "$BATS_TEST_TMPDIR/nodot/dot"
    run -0 --separate-stderr env PATH="$BATS_TEST_TMPDIR/nodot:$PATH" sc-register lineage harm.h5ad --dot
    [[ ${lines[0]} == "digraph lineage {" && ${lines[-1]} == "}" && -z $stderr ]]
    # which files went through sc-harmonize 0.1.0?
    run -0 sc-register query --transform sc-harmonize@0.1.0
    [[ ${#lines[@]} -eq 3 && $output == *annot.h5ad* && $output == *harm.h5ad* ]]
    run -0 sc-register query --transform sc-harmonize@0.2.0
    [[ ${#lines[@]} -eq 1 ]]
    run -0 sc-register query --format file
    [[ $output == *model.pt* ]]
}

@test "sc-register: bad input is reported and nothing is half-registered" {
    sc-register init
    echo "not a dataset" > bad.h5ad
    run -1 --separate-stderr sc-register add bad.h5ad
    [[ $stderr == *"'bad.h5ad'"* ]]
    [[ $(n_artifacts) -eq 0 ]]
    # a manifest line with an empty path, and a missing file, under -k
    printf 'path\tx\n%s\ta\n\tb\nmissing.h5ad\tc\n%s\td\n' "$H5AD/anndataR_example.h5ad" \
        bad.h5ad > m.tsv
    run -3 --separate-stderr sc-register add -k < m.tsv
    [[ $stderr == *"line 3"*"empty 'path'"* && $stderr == *missing.h5ad* ]]
    [[ $stderr == *"3 of the datasets failed"* ]]
    [[ $(grep -c $'\tfailed$' <<< "$output") -eq 2 && $output == *$'\ta\t1\t'* ]]
    [[ $(n_artifacts) -eq 1 ]]
    run -0 sc-register verify
    # the same with two worker processes
    reg_new second
    sc-register init
    run -3 --separate-stderr sc-register add -k -@ 2 < m.tsv
    [[ $stderr == *"line 3"*"empty 'path'"* && $stderr == *"3 of the datasets failed"* ]]
    [[ $(grep -c $'\tfailed$' <<< "$output") -eq 2 && $output == *$'\ta\t1\t'* ]]
    [[ $(n_artifacts) -eq 1 ]]
    # without -k the first failure stops the run
    run -1 --separate-stderr sc-register add < m.tsv
    [[ $(n_artifacts) -eq 1 ]]
}

@test "sc-register: verify reports missing, modified and unregistered files" {
    mkdir corpus
    cp "$H5AD/anndataR_example.h5ad" "$H5AD/anndata_archive_v0.7.0_lzf.h5ad" \
       "$H5AD/cellxgene_schema_example_valid.h5ad" corpus/
    sc-register init --root corpus
    sc-register add corpus/*.h5ad > /dev/null
    run -0 sc-register verify
    [[ $(grep -c ^ok <<< "$output") -eq 3 ]]
    rm corpus/anndataR_example.h5ad
    printf x >> corpus/cellxgene_schema_example_valid.h5ad
    cp "$H5AD/scanpy_pbmc68k_reduced_2025.h5ad" corpus/new.h5ad
    run -1 --separate-stderr sc-register verify
    [[ $output == *"missing"$'\t'1$'\t'*anndataR_example.h5ad* ]]
    [[ $output == *"modified"$'\t'3$'\t'*cellxgene_schema_example_valid.h5ad* ]]
    [[ $output == *"unregistered"$'\t-\t'*new.h5ad* ]]
    [[ $stderr == *"1 missing, 1 modified, 1 unregistered"* ]]
}

@test "sc-register: 8 parallel adds of 100 datasets give 800 artifacts" {
    sc-register init
    for p in 0 1 2 3 4 5 6 7; do
        { echo path; for ((j = 0; j < 100; j++)); do
            echo "$BATS_FILE_TMPDIR/many/d$((p * 100 + j)).h5ad"; done; } > m$p.tsv
    done
    for p in 0 1 2 3 4 5 6 7; do
        sc-register add < m$p.tsv > o$p.tsv 2> e$p.txt &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    cat e*.txt
    [[ ! -s e0.txt && -z $(cat e*.txt) ]]
    [[ $(cat o*.tsv | grep -c $'\tnew$') -eq 800 ]]
    [[ $(n_artifacts) -eq 800 ]]
    [[ $(integrity) == ok ]]
}

@test "sc-register: add -@ 4 writes the rows in input order" {
    sc-register init
    ls "$BATS_FILE_TMPDIR"/many/d1??.h5ad > list
    run -0 sc-register add -@ 4 $(cat list)
    [[ $(tail -n +2 <<< "$output" | cut -f1) == "$(cat list)" ]]
    [[ $(grep -c $'\tnew$' <<< "$output") -eq 100 ]]
    run -0 sc-register add -@ 3 $(cat list)
    [[ $(grep -c $'\tknown$' <<< "$output") -eq 100 ]]
    [[ $(n_artifacts) -eq 100 && $(integrity) == ok ]]
}

@test "sc-register: kill -9 during a large add, then verify and a rerun" {
    sc-register init
    { echo path; ls "$BATS_FILE_TMPDIR"/many/*.h5ad; } > m.tsv
    sc-register add < m.tsv > o.tsv 2> /dev/null &
    pid=$!
    # kill it once some datasets are in, well before the end
    for ((i = 0; i < 200; i++)); do
        (($(wc -l < o.tsv) > 50)) && break
        sleep 0.02
    done
    kill -9 "$pid"
    wait "$pid" || true
    before=$(n_artifacts)
    echo "registered before the kill: $before"
    ((before > 0 && before < 800))
    [[ $(integrity) == ok ]]
    run -0 sc-register verify
    [[ $(grep -c ^ok <<< "$output") -eq $before ]]
    run -0 sc-register add < m.tsv
    [[ $(grep -c $'\tknown$' <<< "$output") -eq $before ]]
    [[ $(grep -c $'\tnew$' <<< "$output") -eq $((800 - before)) ]]
    [[ $(n_artifacts) -eq 800 ]]
    run -0 sc-register verify
}

@test "sc-register: a newer schema is refused, sqlite: prefix accepted" {
    sc-register init
    if reg_is_pg; then
        reg_sql "UPDATE meta SET value = '99' WHERE key = 'schema_version'"
    else
        run -0 sc-register --db "sqlite:$SC_REGISTRY" query
        reg_sql "PRAGMA user_version = 99"
    fi
    run -1 --separate-stderr sc-register query
    [[ $stderr == *"schema 99, newer than"* ]]
    run -1 --separate-stderr sc-register --db mysql://host/db query
    [[ $stderr == *"only SQLite"* ]]
}

@test "sc-register: the provenance sc-harmonize and sc-annotate write is lineage" {
    corpus=$(test_corpus --datasets 12 --cells 6000 --cells-min 100 --genes 100:200 --nnz 20 --mess 0 --seed 5)
    cp "$corpus/ds001.h5ad" raw.h5ad
    printf 'path\tsource\tfetched_at\nraw.h5ad\thttps://example.org/ds001.h5ad\t2026-01-01T00:00:00Z\n' > f.tsv
    sc-harmonize -q -d h --min-mapped-genes 10 --min-genes 1 --min-cells 1 raw.h5ad > h.tsv
    [[ $(cut -f2 h.tsv | tail -1) == ok ]]
    sc-annotate annotate -q -d a < h.tsv > a.tsv
    sc-register init
    cat f.tsv | sc-register add > /dev/null
    sc-register add < a.tsv > /dev/null
    sc-register add < h.tsv > /dev/null
    run -0 sc-register lineage a/raw.h5ad --up
    [[ $output == *"sc-annotate "*"h/raw.h5ad"*"sc-harmonize "*"$BATS_TEST_TMPDIR/raw.h5ad"*"sc-fetch"*"https://example.org/ds001.h5ad"* ]]
    # the later tools' source column (their input's path) is not a download
    [[ $(grep -c "sc-fetch" <<< "$output") -eq 1 ]]
    run -0 sc-register lineage raw.h5ad --down
    [[ $output == *"sc-harmonize "*"h/raw.h5ad"*"sc-annotate "*"a/raw.h5ad"* ]]
}

@test "sc-register: a SQLite registry on a network file system is refused unless forced" {
    if reg_is_pg; then
        # a server's registry is not a file: nothing to refuse
        SC_REGISTRY_TEST_FSTYPE=nfs sc-register init
        SC_REGISTRY_TEST_FSTYPE=nfs run -0 sc-register query
        export SC_REGISTRY=$BATS_TEST_TMPDIR/reg.db
    fi
    run -1 --separate-stderr env SC_REGISTRY_TEST_FSTYPE=nfs sc-register init
    [[ $stderr == *"network file system (nfs)"*"PostgreSQL"* ]]
    [[ $(wc -l <<< "$stderr") -eq 1 && ! -e $SC_REGISTRY ]]
    SC_REGISTRY_TEST_FSTYPE=lustre SC_REGISTRY_FORCE_NETWORK_FS=1 sc-register init
    run -0 sc-register query
    # the option does what the variable does
    run -1 --separate-stderr env SC_REGISTRY_TEST_FSTYPE=gpfs sc-register query
    [[ $stderr == *"network file system (gpfs)"*"--force-network-fs"* ]]
    SC_REGISTRY_TEST_FSTYPE=gpfs sc-register --force-network-fs add \
        "$H5AD/anndataR_example.h5ad" > /dev/null
    [[ $(SC_REGISTRY_TEST_FSTYPE=gpfs sc-register --force-network-fs query | wc -l) -eq 2 ]]
}

@test "sc-register: collection add refuses an artifact with one it derives from, unless --allow-derived" {
    corpus=$(test_corpus --datasets 12 --cells 6000 --cells-min 100 --genes 100:200 --nnz 20 --mess 0 --seed 5)
    cp "$corpus/ds001.h5ad" raw.h5ad
    cp "$corpus/ds002.h5ad" other.h5ad
    sc-harmonize -q -d h --min-mapped-genes 10 --min-genes 1 --min-cells 1 raw.h5ad > h.tsv
    sc-annotate annotate -q -d a < h.tsv > a.tsv
    sc-register init
    sc-register add raw.h5ad other.h5ad > /dev/null
    sc-register add < h.tsv > /dev/null
    sc-register add < a.tsv > /dev/null
    sc-register collection create c
    # a filter that matches a download and its annotated copy: one line, both named
    run -1 --separate-stderr sc-register collection add c --format h5ad
    [[ $(wc -l <<< "$stderr") -eq 1 ]]
    [[ $stderr == *"collection 'c': '$PWD/h/raw.h5ad' (artifact "*") derives from '$PWD/raw.h5ad' (artifact "*"the same cells twice"*"--allow-derived"* ]]
    run -0 sc-register collection show c
    [[ $(tail -n +2 <<< "$output" | wc -l) -eq 0 ]]
    # the annotated copies alone, and an unrelated dataset, are fine
    sc-register collection add c --transform sc-annotate
    sc-register collection add c other.h5ad
    # a member's ancestor (two steps up), or a descendant of a member, is refused
    run -1 --separate-stderr sc-register collection add c raw.h5ad
    [[ $stderr == *"'$PWD/a/raw.h5ad' (artifact "*") derives from '$PWD/raw.h5ad'"* ]]
    sc-register collection create d
    sc-register collection add d raw.h5ad
    run -1 --separate-stderr sc-register collection add d h/raw.h5ad
    [[ $stderr == *"'$PWD/h/raw.h5ad' (artifact "*") derives from '$PWD/raw.h5ad'"* ]]
    # unless asked; then adding an unrelated one is not refused for that pair
    sc-register collection add c --allow-derived raw.h5ad h/raw.h5ad
    run -0 sc-register collection show c
    [[ $(tail -n +2 <<< "$output" | wc -l) -eq 4 ]]
    sc-register collection remove c other.h5ad
    sc-register collection add c other.h5ad
    run -0 sc-register --help
    [[ $output == *"--allow-derived"* ]]
}

@test "sc-register: a failed init leaves no registry behind and never touches an existing one" {
    # files made and left by init: SQLite on both passes
    export SC_REGISTRY=$BATS_TEST_TMPDIR/reg.db
    run -1 --separate-stderr sc-register --db new.db init --root "$PWD/no/such/dir"
    [[ $stderr == *"'$PWD/no/such/dir'"* && $(wc -l <<< "$stderr") -eq 1 ]]
    [[ -z $(compgen -G "new.db*") ]]
    # an existing registry: the failure leaves it as it was
    sc-register init --root .
    sc-register add "$H5AD/cellxgene_schema_example_valid.h5ad" > /dev/null
    before=$(sha256sum < reg.db)
    run -1 sc-register init --root "$PWD/no/such/dir"
    [[ $(sha256sum < reg.db) == "$before" ]]
    run -0 sc-register roots
    [[ $output == "1	$PWD" ]]
    [[ $(n_artifacts) -eq 1 ]]
    # an existing file that is not a registry is neither removed nor changed
    echo text > notes.txt
    run -1 sc-register --db notes.txt init
    [[ $(cat notes.txt) == text ]]
    # a registry refused at open (network file system): nothing made
    run -1 env SC_REGISTRY_TEST_FSTYPE=nfs sc-register --db nfs.db init
    [[ ! -e nfs.db && ! -e nfs.db-wal && ! -e nfs.db-journal ]]
    # the sqlite: prefix names the file; a URI is no file
    run -1 sc-register --db sqlite:pre.db init --root "$PWD/no/such/dir"
    [[ -z $(compgen -G "*pre.db*") ]]
    run -0 sc-register --db sqlite:pre.db init
    [[ -s pre.db && ! -e sqlite:pre.db ]]
    run -1 --separate-stderr sc-register --db mysql://host/db init
    [[ $stderr == *"only SQLite"* && ! -e mysql: ]]
}

@test "sc-register: a failed migrate leaves no new registry behind and never touches an existing file" {
    sc-register init
    sc-register add "$H5AD/cellxgene_schema_example_valid.h5ad" > /dev/null
    # a bad source: nothing made
    run -1 --separate-stderr sc-register --db nosuch.db migrate --to new.db
    [[ $stderr == *"nosuch.db"* && $(wc -l <<< "$stderr") -eq 1 ]]
    [[ -z $(compgen -G "new.db*") ]]
    # a source whose rows break a constraint of the copy (a term of an
    # artifact that does not exist, written with the checks off): the copy
    # fails, and the file it made is gone, with SQLite's files beside it
    sc-register --db src.db init
    sc-register --db src.db add "$H5AD/cellxgene_schema_example_valid.h5ad" > /dev/null
    sqlite3 src.db "PRAGMA foreign_keys = OFF;
        INSERT INTO artifact_term VALUES (99, 'cell_type', 'CL:0000000', 'cell', 1)"
    run -1 --separate-stderr sc-register --db src.db migrate --to new.db
    [[ -n $stderr && -z $output ]]
    [[ -z $(compgen -G "new.db*") ]]
    run -1 --separate-stderr sc-register --db src.db migrate --to sqlite:pre.db
    [[ -z $(compgen -G "*pre.db*") ]]
    # an existing file that is not a registry is neither removed nor changed
    echo text > notes.txt
    run -1 sc-register migrate --to notes.txt
    [[ $(cat notes.txt) == text ]]
    # an existing registry that is not empty: refused, left as it was
    sc-register --db full.db init
    sc-register --db full.db add "$H5AD/cellxgene_schema_example_valid.h5ad" > /dev/null
    before=$(sha256sum < full.db)
    run -1 --separate-stderr sc-register migrate --to full.db
    [[ $stderr == *"is not empty"* && $(sha256sum < full.db) == "$before" ]]
    # a good copy: made, complete
    run -0 sc-register migrate --to good.db
    [[ $(sc-register --db good.db query | tail -n +2 | wc -l) -eq 1 ]]
}

@test "sc-register: report works on both backends and gives the page a SQLite copy gives" {
    sc-register init
    sc-register add "$H5AD"/*.h5ad > /dev/null
    run -0 --separate-stderr sc-register report -o rep
    [[ $output == rep/index.html && -z $stderr ]]
    for f in "$H5AD"/*.h5ad; do
        grep -qF "$(basename "$f")" rep/index.html
    done
    grep -q '"Cells per cell_type' rep/index.html
    # the same rows in a SQLite file: the same page, byte for byte (on the
    # PostgreSQL pass: PostgreSQL against SQLite)
    sc-register migrate --to copy.db > /dev/null
    sc-register --db copy.db report -o rep-copy > /dev/null
    cmp rep/index.html rep-copy/index.html
    # query filters select the datasets on both
    sc-register report -o rep-human --organism NCBITaxon:9606 > /dev/null
    sc-register --db copy.db report -o rep-human-copy --organism NCBITaxon:9606 > /dev/null
    grep -q 'cellxgene_schema_example_valid' rep-human/index.html
    ! grep -q 'anndataR_example' rep-human/index.html
    cmp rep-human/index.html rep-human-copy/index.html
}

@test "sc-register: a split file kept with a collection version, shown, exported byte-identical, immutable" {
    local m=$BATS_FILE_TMPDIR/many
    sc-register init
    sc-register add "$m"/d{0,1,2,3,4,5}.h5ad > /dev/null
    sc-register collection create c
    sc-register collection add c "$m"/d{0,1,2,3}.h5ad
    sc-stream split -q -o s.split --split-by dataset --split-fractions 0.5,0.25,0.25 \
        "$m"/d{0,1,2,3}.h5ad
    sha=$(sha256sum < s.split | cut -c1-64)
    # not frozen yet: refused, nothing kept
    run -1 --separate-stderr sc-register collection split c s.split
    [[ $stderr == *"not frozen yet"* && $(wc -l <<< "$stderr") -eq 1 ]]
    sc-register collection freeze c > /dev/null
    # a version without a split: export --split-file is an error, no files
    run -1 --separate-stderr sc-register collection export c@1 --split-file back.split -o c1.tsv
    [[ $stderr == *"c@1 has no split file"* && ! -e back.split && ! -e c1.tsv ]]
    # kept, with its sha256
    run -0 --separate-stderr sc-register collection split c@1 s.split
    [[ $output == "c@1"$'\t'"$sha" ]]
    [[ $(reg_sql "SELECT sha256 FROM collection_version_split") == "$sha" ]]
    # the same bytes again: nothing changes; other bytes: refused
    run -0 sc-register collection split c s.split
    cp s.split t.split
    echo '# edited' >> t.split
    run -1 --separate-stderr sc-register collection split c@1 t.split
    [[ $stderr == *"c@1: the collection version has a split already"* ]]
    # show names it; export gives it back byte for byte
    run -0 sc-register collection show c@1
    [[ ${lines[0]} == "# split"$'\t'"$sha"$'\t'"$(stat -c %s s.split) bytes" ]]
    [[ ${lines[1]} == id$'\t'path* && ${#lines[@]} -eq 6 ]]
    run -0 sc-register collection export c@1 --split-file back.split
    [[ ${lines[0]} == path$'\t'* && ${#lines[@]} -eq 5 ]]
    cmp s.split back.split
    # the split is of the version: used by sc-stream, the same parts
    sc-stream split -q -o again.split --split-file back.split "$m"/d{0,1,2,3}.h5ad
    # the database refuses to change or drop it
    run ! reg_sql "UPDATE collection_version_split SET content = 'x'"
    [[ $output == *"immutable"* ]]
    run ! reg_sql "DELETE FROM collection_version_split"
    [[ $output == *"immutable"* ]]
    # a migrate copies it: the copy exports the same bytes
    sc-register migrate --to copy.db > /dev/null
    sc-register --db copy.db collection export c@1 --split-file copy.split > /dev/null
    cmp s.split copy.split
    # a split of other datasets: refused for this collection
    sc-register collection create d
    sc-register collection add d "$m"/d{0,1,4,5}.h5ad
    sc-register collection freeze d > /dev/null
    run -1 --separate-stderr sc-register collection split d s.split
    [[ $stderr == *"'s.split' does not name dataset 'd4.h5ad' of d"* && $(wc -l <<< "$stderr") -eq 1 ]]
    # not a split file, a missing file, a file with a NUL byte: one line each
    echo 'path' > notsplit.txt
    run -1 --separate-stderr sc-register collection split d notsplit.txt
    [[ $stderr == *"notsplit.txt"* && $(wc -l <<< "$stderr") -eq 1 ]]
    run -1 --separate-stderr sc-register collection split d nosuch.split
    [[ $stderr == *"nosuch.split"* ]]
    sc-stream split -q -o d.split "$m"/d{0,1,4,5}.h5ad
    printf 'x\0y\n' >> d.split
    run -1 --separate-stderr sc-register collection split d d.split
    [[ $(wc -l <<< "$stderr") -eq 1 ]]
    [[ -z $(reg_sql "SELECT version_id FROM collection_version_split WHERE version_id <> 1") ]]
    # usage
    run -2 sc-register collection split d
    run -2 sc-register collection show c@1 --split-file x.split
    [[ ! -e x.split ]]
}

@test "sc-register: a registry of schema 1 gains the split table when opened for writing" {
    sc-register init
    sc-register add "$H5AD/cellxgene_schema_example_valid.h5ad" > /dev/null
    # back to schema 1: the table and the version number of schema 2 gone
    if reg_is_pg; then
        reg_sql "DROP TABLE collection_version_split;
            UPDATE meta SET value = '1' WHERE key = 'schema_version'"
    else
        reg_sql "DROP TABLE collection_version_split; PRAGMA user_version = 1"
    fi
    run -1 --separate-stderr sc-register query
    [[ $stderr == *"has schema 1 and needs a migration to 2"* ]]
    sc-register collection create c
    [[ $(sc-register query | tail -n +2 | wc -l) -eq 1 ]]
    [[ $(reg_sql "SELECT COUNT(*) FROM collection_version_split") -eq 0 ]]
}
