#!/usr/bin/env bats
# sc-register report: the static HTML report (overview, a page per dataset
# and per collection version), rendered in headless Chromium (issue 18).
# SPDX-License-Identifier: MIT

load helpers

# one registry of the test files, copied by each test
setup_file() {
    SC_REGISTRY=$BATS_FILE_TMPDIR/reg.db sc-register init
    SC_REGISTRY=$BATS_FILE_TMPDIR/reg.db sc-register add "$SC_TEST_DATA"/h5ad/*.h5ad > /dev/null
}

setup() {
    cd "$BATS_TEST_TMPDIR"
    export SC_REGISTRY=$BATS_TEST_TMPDIR/reg.db
    cp "$BATS_FILE_TMPDIR/reg.db" "$SC_REGISTRY"
}

# The data of report page $1, as JSON.
page_json() {
    sed -n 's/.*<script type="application\/json" id="sc-data">\(.*\)<\/script><script>.*/\1/p' "$1"
}

# The id of the registered dataset whose path ends with $1.
id_of() {
    sc-register query | P=$1 awk -F'\t' '{ p = ENVIRON["P"] } substr($2, length($2) - length(p) + 1) == p { print $1 }'
}

@test "sc-register report: an overview page, the chart library beside it, every dataset linked to its page" {
    run -0 --separate-stderr sc-register report -o rep
    [[ $output == rep/index.html ]]
    # no network: the only script loaded is the report's own file
    [[ $(grep -o '<script[^>]* src="[^"]*"' rep/index.html) == '<script src="sc-report.js"' ]]
    grep -q 'vegaEmbed' rep/sc-report.js
    grep -q 'vegaEmbed' rep/index.html
    page_json rep/index.html > index.json
    # every registered dataset is in the table, linked to its own page
    for f in "$SC_TEST_DATA"/h5ad/*.h5ad; do
        id=$(id_of "/$(basename "$f")")
        [[ $(jq -r --argjson id "$id" '.sections[1].table.rows[] | select(.[0] == $id) | .[1].href' index.json) == "d/$id.html" ]]
        [[ -s rep/d/$id.html ]]
    done
    [[ $(jq -r '.sections[0].charts[].title' index.json) == *"Cells per cell_type"* ]]
    # nothing is left beside the report
    [[ $(ls) == *rep* && $(ls -d rep.tmp.* 2> /dev/null | wc -l) -eq 0 ]]
}

@test "sc-register report: query filters select the datasets" {
    run -0 --separate-stderr sc-register report -o rep --organism NCBITaxon:9606
    grep -q 'cellxgene_schema_example_valid' rep/index.html
    ! grep -q 'anndataR_example' rep/index.html
    [[ ! -e rep/d/$(id_of /anndataR_example.h5ad).html ]]
}

@test "sc-register report: a dataset's page: QC, gene mapping, unmapped labels, provenance" {
    corpus=$(test_corpus --datasets 4 --cells 800 --cells-min 100 --genes 100:200 --nnz 20 --mess 3 --seed 5)
    cp "$corpus/ds000.h5ad" raw.h5ad
    sc-harmonize -q -d h --min-mapped-genes 10 --min-genes 1 --min-cells 1 raw.h5ad > h.tsv
    sc-annotate annotate -q -d a < h.tsv > a.tsv
    sc-register add < h.tsv > /dev/null
    sc-register add < a.tsv > /dev/null
    sc-register report -o rep > /dev/null
    id=$(id_of /a/raw.h5ad)
    page_json "rep/d/$id.html" > p.json
    [[ $(jq -r '.links[0][1]' p.json) == ../index.html ]]
    [[ $(jq -r '[.sections[].title] | join(",")' p.json) == "Dataset,Cell annotations,Quality control,Gene mapping,Label mapping,Unmapped labels,Provenance" ]]
    # QC: the cells of sc-harmonize's report (beside its output, upstream of
    # sc-annotate's) and the distributions of the QC columns it wrote
    qc='.sections[] | select(.title == "Quality control")'
    [[ $(jq "$qc | .charts[0].data.values[0].cells" p.json) == $(jq .qc.n_cells_in h/raw.report.json) ]]
    [[ $(jq -r "[$qc | .charts[1:][].title] | join(\",\")" p.json) == "n_genes,total_counts,pct_counts_mt" ]]
    [[ $(jq "$qc | .charts[1].data.values | length" p.json) == $(jq .n_obs h/raw.report.json) ]]
    gm='.sections[] | select(.title == "Gene mapping") | .table.rows[]'
    [[ $(jq "$gm | select(.[0] == \"n_dropped\") | .[1]" p.json) == $(jq .genes.n_dropped h/raw.report.json) ]]
    # the unmapped labels: every label sc-annotate did not map with confidence
    n=$(jq '[.fields[].labels[]? | select(.confident | not)] | length' a/raw.annotate.json)
    [[ $n -gt 0 ]]
    [[ $(jq '.sections[] | select(.title == "Unmapped labels") | .table.rows | length' p.json) == "$n" ]]
    # ... also a mapping file for sc-annotate -m, linked from the page: one
    # row per unmapped label, term_id empty for the curator
    [[ $(jq -r '.links[1][1]' p.json) == "$id.todo.tsv" ]]
    todo=rep/d/$id.todo.tsv
    [[ $(head -1 "$todo") == $'field\tlabel\tterm_id\tcells\ttier\tsuggestions' ]]
    [[ $(($(wc -l < "$todo") - 1)) == "$n" ]]
    [[ -z $(awk -F'\t' 'NR > 1 && $3 != ""' "$todo") ]]
    # filled in and given back, it decides those labels (tier "user")
    awk -F'\t' 'BEGIN { OFS = "\t"; t["cell_type"] = "CL:0000084"; t["tissue"] = "UBERON:0002048"; t["disease"] = "PATO:0000461" }
        NR == 1 || ($1 in t) { if (NR > 1) $3 = t[$1]; print }' "$todo" > filled.tsv
    [[ $(wc -l < filled.tsv) -gt 1 ]]
    sc-annotate annotate -q --dry-run -m filled.tsv -d b h/raw.h5ad > /dev/null
    run -0 awk -F'\t' 'NR == FNR { if (FNR > 1) want[$1 "\t" $2] = $3; next }
        ($1 "\t" $2) in want && ($3 != want[$1 "\t" $2] || $5 != "user") { print }' filled.tsv b/raw.labels.tsv
    [[ -z $output ]]
    [[ $(awk -F'\t' '$5 == "user"' b/raw.labels.tsv | wc -l) -eq $(($(wc -l < filled.tsv) - 1)) ]]
    # provenance: the runs it came from, the upstream file linked to its page
    prov=$(jq -c '.sections[] | select(.title == "Provenance") | .table.rows' p.json)
    [[ $prov == *'"run","sc-annotate '* && $prov == *'"run","sc-harmonize '* ]]
    [[ $prov == *"\"href\":\"$(id_of /h/raw.h5ad).html\""* ]]
    # a dataset without reports has no such sections
    page_json "rep/d/$(id_of /anndataR_example.h5ad).html" > q.json
    [[ $(jq -r '[.sections[].title] | join(",")' q.json) == "Dataset,Cell annotations,Provenance" ]]
    # and as a graph: the dataset, its ancestors and descendants, each once,
    # the edges from sources to products, the other datasets linked
    hid=$(id_of /h/raw.h5ad)
    page_json "rep/d/$hid.html" > g.json
    g='.sections[] | select(.title == "Provenance") | .graph'
    [[ $(jq -r "$g | .nodes[] | select(.start) | .key + \" \" + .label" g.json) == "a$hid $PWD/h/raw.h5ad" ]]
    [[ $(jq "$g | .nodes | length" g.json) == $(jq "$g | [.nodes[].key] | unique | length" g.json) ]]
    harm=$(jq -r "$g | .nodes[] | select(.label | startswith(\"sc-harmonize \")) | .key" g.json)
    ann=$(jq -r "$g | .nodes[] | select(.label | startswith(\"sc-annotate \")) | .key" g.json)
    [[ -n $harm && -n $ann ]]
    [[ $(jq -c "$g | .edges" g.json) == *"[\"$harm\",\"a$hid\"]"* ]]
    [[ $(jq -c "$g | .edges" g.json) == *"[\"a$hid\",\"$ann\"]"* ]]
    [[ $(jq -c "$g | .edges" g.json) == *"[\"$ann\",\"a$id\"]"* ]]
    [[ $(jq -r "$g | .nodes[] | select(.key == \"a$id\") | .href + \" \" + .label" g.json) == "$id.html $PWD/a/raw.h5ad" ]]
    # the input sc-harmonize read is not registered: a node of its own
    [[ $(jq -r "$g | .nodes[] | select(.kind == \"missing\") | .label" g.json) == "not registered (sha256 $(sha256sum raw.h5ad | cut -c1-12))" ]]
    # and so in sc-register lineage --dot: a node keyed by its sha256
    sha=$(sha256sum raw.h5ad | cut -d' ' -f1)
    run -0 sc-register lineage h/raw.h5ad --dot
    [[ $output == *"\"m_$sha\" [shape=ellipse, label=\"not registered (sha256 ${sha:0:12})\"];"* ]]
    if command -v chromium > /dev/null; then
        run -0 report-check "rep/d/$id.html"
        [[ $output == *$'charts 7\tempty_charts 0'* ]]
        # the graph was laid out and drawn: a box and a text per node
        run -0 report-check "rep/d/$hid.html"
        [[ $output == *$'empty_charts 0\tgraphs 1\tgraph_nodes '$(jq "$g | .nodes | length" g.json)$'\t'* ]]
        [[ $output == *$'console_errors 0'* ]]
    fi
}

@test "sc-register report: a hostile dataset name is text everywhere, never markup" {
    name='<img src=x onerror=console.error(1)><script>console.error(2)<\script>"'"'"'&'
    # in a folder of a one-letter name: the graph shows the last two path
    # parts cut to 40 characters, whatever the test's own folder is called
    mkdir h
    cp "$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad" "h/$name.h5ad"
    # a registry of its own: the same content is not registered twice
    rm "$SC_REGISTRY" && sc-register init
    sc-register add "h/$name.h5ad" > /dev/null
    sc-register report -o rep > /dev/null
    id=$(id_of "/$name.h5ad")
    [[ -n $id ]]
    for f in rep/index.html "rep/d/$id.html"; do
        ! grep -qF '<img' "$f"
        ! grep -qF '<script>console' "$f"
        [[ $(page_json "$f" | jq -r '.. | strings | select(endswith(".h5ad"))' | grep -cF "/$name.h5ad") -ge 1 ]]
    done
    command -v chromium > /dev/null || skip "chromium is not installed"
    # the dataset page's DOM as report-check loaded and checked it
    run -0 report-check -d dom.html "rep/d/$id.html" rep/index.html
    [[ $output == *$'console_errors 0'*$'console_errors 0'* ]]
    grep -qF '&lt;img src=x onerror=console.error(1)&gt;&lt;script&gt;' dom.html
    ! grep -qF '<img' dom.html
    # the lineage graph shows the name as SVG text (its last two path parts,
    # cut to 40 characters)
    [[ $output == *$'graphs 1\tgraph_nodes 1\t'* ]]
    graph=$(grep -o '<div class="graph.*' dom.html)
    grep -o '<text[^>]*>[^<]*</text>' <<< "$graph" | grep -qF '/&lt;img src=x onerror=console.error(1)&gt;&lt;'
    ! grep -qF '<script>console' <<< "$graph"
}

@test "sc-register report: a page per collection version, with the diff to the one before" {
    sc-register collection create c1 > /dev/null
    a=$(id_of /anndataR_example.h5ad) b=$(id_of /cellxgene_schema_example_valid.h5ad)
    c=$(id_of /scanpy_pbmc68k_reduced_2025.h5ad)
    sc-register collection add c1 "$a" "$b" > /dev/null
    sc-register collection freeze c1 > /dev/null
    sc-register collection remove c1 "$a" > /dev/null
    sc-register collection add c1 "$c" > /dev/null
    sc-register collection freeze c1 > /dev/null
    sc-register report -o rep > /dev/null
    page_json rep/index.html > index.json
    [[ $(jq -c '.sections[2].table.rows | map([.[0].text, .[3], .[5], .[6]])' index.json) == '[["c1@1",2,2,0],["c1@2",2,1,1]]' ]]
    v2=$(jq -r '.sections[2].table.rows[1][0].href' index.json)
    page_json "rep/$v2" > v2.json
    cells_a=$(sc-register query | awk -F'\t' -v id="$a" '$1 == id { print $5 }')
    cells_c=$(sc-register query | awk -F'\t' -v id="$c" '$1 == id { print $5 }')
    [[ $(jq -r '.sections[0].text' v2.json) == *"1 datasets added ($cells_c cells), 1 removed ($cells_a cells)"* ]]
    [[ $(jq -c '.sections[0].table.rows | map([.[0], (.[1] | tonumber)])' v2.json) == "[[\"added\",$c],[\"removed\",$a]]" ]]
    [[ $(jq -r '.sections[1].table.rows[][1].href' v2.json | sort) == "$(printf '../d/%s.html\n' "$b" "$c" | sort)" ]]
    if command -v chromium > /dev/null; then
        run -0 report-check "rep/$v2"
    fi
}

@test "sc-register report: an existing report is refused, nothing written" {
    mkdir rep && echo keep > rep/index.html
    run -1 --separate-stderr sc-register report -o rep
    [[ $stderr == *"'rep' exists already and is not an empty directory"* ]]
    [[ $(cat rep/index.html) == keep && $(ls rep) == index.html ]]
    [[ $(ls -d rep.tmp.* 2> /dev/null | wc -l) -eq 0 ]]
    # an empty directory is filled
    mkdir empty
    run -0 --separate-stderr sc-register report -o empty
    [[ -s empty/index.html ]]
    run -2 --separate-stderr sc-register report extra
}

@test "sc-register report: a missing chart library is one clear error, no page" {
    mkdir share
    run -1 --separate-stderr env SC_SHARE=$BATS_TEST_TMPDIR/share sc-register report -o rep
    [[ $stderr == *"report/vendor/vega.min.js.gz"* ]]
    [[ ! -e rep && $(ls -d rep.tmp.* 2> /dev/null | wc -l) -eq 0 ]]
}

@test "sc-register report: a damaged chart library is one clear line naming it, no page" {
    mkdir -p share/report/vendor
    head -c 1000 "$SC_SHARE/report/vendor/vega.min.js.gz" > share/report/vendor/vega.min.js.gz
    run -1 --separate-stderr env SC_SHARE=$BATS_TEST_TMPDIR/share sc-register report -o rep
    [[ $stderr == *"cannot read '"*"report/vendor/vega.min.js.gz': unexpected end of file" ]]
    [[ $(printf '%s\n' "$stderr" | wc -l) -eq 1 ]]
    # a damaged stream: the file named once
    { head -c 10 "$SC_SHARE/report/vendor/vega.min.js.gz"; printf '\377\377 not deflate'; } > share/report/vendor/vega.min.js.gz
    run -1 --separate-stderr env SC_SHARE=$BATS_TEST_TMPDIR/share sc-register report -o rep
    [[ $stderr == *"cannot read '"*"report/vendor/vega.min.js.gz': "* ]]
    [[ $stderr != *"vega.min.js.gz"*"vega.min.js.gz"* && $(printf '%s\n' "$stderr" | wc -l) -eq 1 ]]
    [[ ! -e rep && $(ls -d rep.tmp.* 2> /dev/null | wc -l) -eq 0 ]]
}

@test "sc-register report: every chart renders in headless Chromium, no console error" {
    command -v chromium > /dev/null || skip "chromium is not installed"
    sc-register report -o rep > /dev/null
    run -0 report-check -s "$SC_BUILD/report-screenshot.png" rep/index.html
    [[ $output == *$'sections 3\tcharts 7\tempty_charts 0'* ]]
    [[ $output == *$'broken_links 0\tconsole_errors 0'* ]]
    [[ -s $SC_BUILD/report-screenshot.png ]]
}

@test "sc-register report: charts are drawn when they come near the window, all of them with #all" {
    command -v chromium > /dev/null || skip "chromium is not installed"
    sc-register report -o rep > /dev/null
    n=$(page_json rep/index.html | jq '[.sections[].charts[]] | length')
    [[ $n -eq 7 ]]
    drawn() {
        chromium --headless --no-sandbox --disable-gpu --user-data-dir="$BATS_TEST_TMPDIR/prof" \
            --window-size=800,600 --virtual-time-budget=10000 --dump-dom "file://$PWD/rep/index.html$1" 2> /dev/null > dom.html
        grep -q 'data-rendered-ms="[0-9]' dom.html
        grep -o 'data-drawn="[0-9]*"' dom.html | grep -o '[0-9]*'
    }
    # the first screen: some charts, not all (a chart that the first ones
    # brought near the window once drawn may be drawn by the end)
    first=$(drawn "")
    [[ $first -ge 1 && $first -lt $n ]]
    svgs=$(grep -o '<div class="chart[^"]*"[^>]*><svg' dom.html | wc -l)
    [[ $svgs -ge $first && $svgs -lt $n ]]
    [[ $(drawn "#all") -eq $n ]]
    [[ $(grep -o '<div class="chart[^"]*"[^>]*><svg' dom.html | wc -l) -eq $n ]]
}
