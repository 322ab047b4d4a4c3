#!/usr/bin/env bats
# sc-register report: the static HTML report, rendered in headless Chromium
# (issue 18).
# SPDX-License-Identifier: MIT

load helpers

setup() {
    cd "$BATS_TEST_TMPDIR"
    export SC_REGISTRY=$BATS_TEST_TMPDIR/reg.db
    sc-register init
    sc-register add "$SC_TEST_DATA"/h5ad/*.h5ad > /dev/null
}

@test "sc-register report: writes a self-contained page with the data and the chart library" {
    run -0 --separate-stderr sc-register report -o rep
    [[ $output == rep/index.html ]]
    # no network: nothing is loaded from elsewhere
    ! grep -q '<script[^>]* src=' rep/index.html
    grep -q 'vegaEmbed' rep/index.html
    # the data: every registered dataset is in the table
    for f in "$SC_TEST_DATA"/h5ad/*.h5ad; do
        grep -qF "$(basename "$f")" rep/index.html
    done
    grep -q '"Cells per cell_type' rep/index.html
}

@test "sc-register report: query filters select the datasets" {
    run -0 --separate-stderr sc-register report -o rep --organism NCBITaxon:9606
    grep -q 'cellxgene_schema_example_valid' rep/index.html
    ! grep -q 'anndataR_example' rep/index.html
}

@test "sc-register report: an existing report is refused, nothing written" {
    mkdir rep && echo keep > rep/index.html
    run -1 --separate-stderr sc-register report -o rep
    [[ $stderr == *"'rep/index.html' exists already"* ]]
    [[ $(cat rep/index.html) == keep ]]
    run -2 --separate-stderr sc-register report extra
}

@test "sc-register report: a missing chart library is one clear error, no page" {
    mkdir share
    run -1 --separate-stderr env SC_SHARE=$BATS_TEST_TMPDIR/share sc-register report -o rep
    [[ $stderr == *"report/vendor/vega.min.js.gz"* ]]
    [[ ! -e rep/index.html ]]
}

@test "sc-register report: every chart renders in headless Chromium, no console error" {
    command -v chromium > /dev/null || skip "chromium is not installed"
    sc-register report -o rep > /dev/null
    run -0 report-check rep/index.html "$SC_BUILD/report-screenshot.png"
    [[ $output == *$'sections\t2'* ]]
    [[ $output == *$'charts\t7'* ]]
    [[ $output == *$'empty_charts\t0'* ]]
    [[ -s $SC_BUILD/report-screenshot.png ]]
}
