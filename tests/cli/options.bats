#!/usr/bin/env bats
# One dispatch for every tool (sc_cli_dispatch, issue 17 item 5): -@, -c and
# --no-provenance only where a tool or command uses them, neither in its
# --help nor accepted elsewhere; a short option means one thing across the
# tools, and the old spellings still work for one release, hidden from
# --help and documented in the man pages.
# SPDX-License-Identifier: MIT

load helpers

H5AD=$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad

setup() {
    cd "$BATS_TEST_TMPDIR"
}

# lists OPTION: whether the --help in $output has an option line for OPTION.
lists() { grep -qE "^  (-[^ ], )?$1([ =[]|\$)|^      $1([ =[]|\$)" <<< "$output"; }

@test "options: sc-inspect has no -@ and no --no-provenance" {
    run -0 --separate-stderr sc-inspect --help
    lists --config && lists --keep-going && lists --progress
    ! lists --threads
    ! lists --no-provenance
    run -2 --separate-stderr sc-inspect -@ 2 "$H5AD"
    [[ $stderr == *"sc-inspect: "*"unknown option '-@'"* ]]
    run -2 --separate-stderr sc-inspect --threads=2 "$H5AD"
    [[ $stderr == *"unknown option '--threads'"* ]]
    run -2 --separate-stderr sc-inspect --no-provenance "$H5AD"
    [[ $stderr == *"unknown option '--no-provenance'"* ]]
    [[ $stderr == *"Try 'sc-inspect --help'"* ]]
}

@test "options: sc-fetch offers -@ to get and refs only, and no --no-provenance" {
    run -0 --separate-stderr sc-fetch get --help
    lists --threads && lists --config
    ! lists --no-provenance
    run -0 --separate-stderr sc-fetch list --help
    lists --config
    ! lists --threads
    run -2 --separate-stderr sc-fetch list -@ 2
    [[ $stderr == *"unknown option '-@'"* ]]
    run -2 --separate-stderr sc-fetch get --no-provenance -d . x.h5ad
    [[ $stderr == *"unknown option '--no-provenance'"* ]]
    # the tool's own --help: the options of any command, and its commands
    run -0 --separate-stderr sc-fetch --help
    lists --threads
    ! lists --no-provenance
    [[ $output == *"  get "* && $output == *"  refs "* ]]
}

@test "options: sc-register offers -@ to the commands that run threads" {
    run -0 --separate-stderr sc-register add --help
    lists --threads
    ! lists --no-provenance
    run -0 --separate-stderr sc-register show --help
    ! lists --threads
    run -2 --separate-stderr sc-register --db r.db show -@ 2 1
    [[ $stderr == *"unknown option '-@'"* ]]
    [[ ! -e r.db ]]
    run -2 --separate-stderr sc-register --db r.db add --no-provenance "$H5AD"
    [[ $stderr == *"unknown option '--no-provenance'"* ]]
}

@test "options: sc-annotate offers --no-provenance to annotate only" {
    run -0 --separate-stderr sc-annotate annotate --help
    lists --no-provenance && lists --threads && lists --config
    for c in term search map validate export; do
        run -0 --separate-stderr sc-annotate "$c" --help
        lists --threads
        ! lists --no-provenance
    done
    run -2 --separate-stderr sc-annotate term --no-provenance CL:0000236
    [[ $stderr == *"unknown option '--no-provenance'"* ]]
    run -0 --separate-stderr sc-annotate --help
    lists --no-provenance
}

@test "options: sc-stream dump has no -@; pack alone has --no-provenance" {
    run -0 --separate-stderr sc-stream dump --help
    lists --config
    ! lists --threads
    ! lists --no-provenance
    run -2 --separate-stderr sc-stream dump -@ 2 /dev/null
    [[ $stderr == *"unknown option '-@'"* ]]
    run -0 --separate-stderr sc-stream pack --help
    lists --threads && lists --no-provenance
    run -0 --separate-stderr sc-stream index --help
    lists --threads
    ! lists --no-provenance
}

@test "options: sc-stream with no command named refuses --no-provenance (pack only), as run does" {
    run -2 --separate-stderr sc-stream --no-provenance -O text --no-cache "$H5AD"
    [[ $stderr == *"sc-stream: "*"unknown option '--no-provenance'"* ]]
    [[ $stderr == *"Try 'sc-stream --help'"* && -z $output ]]
    run -2 --separate-stderr sc-stream run --no-provenance -O text --no-cache "$H5AD"
    [[ $stderr == *"unknown option '--no-provenance'"* ]]
    # what run offers still works unnamed; the tool's --help lists pack's option
    run -0 --separate-stderr sc-stream -@ 1 -O text --no-cache --seed 1 --samples 5 "$H5AD"
    run -0 --separate-stderr sc-stream --help
    lists --no-provenance
}

@test "options: sc-harmonize keeps every common option" {
    run -0 --separate-stderr sc-harmonize --help
    lists --threads && lists --config && lists --no-provenance
}

@test "options: the deprecated spellings are hidden from --help" {
    run -0 --separate-stderr sc-stream --help
    lists --label && lists --samples
    ! lists -l
    ! lists -n
    [[ $output != *"  -l, "* && $output != *"  -n, "* ]]
    run -0 --separate-stderr sc-annotate search --help
    lists --max
    [[ $output != *"  -n, "* ]]
    run -0 --separate-stderr sc-annotate map --help
    lists --mapping
    [[ $output != *"  -m, "* ]]
}

@test "options: sc-annotate -n and -m still work as --max and --mapping" {
    run -0 --separate-stderr sc-annotate search --max 2 B cell
    local new=$output
    [[ $(wc -l <<< "$new") -eq 2 ]]
    run -0 --separate-stderr sc-annotate search -n 2 B cell
    [[ $output == "$new" ]]
    [[ -z $stderr ]]
    # with -v, the old spelling is named with the new one
    run -0 --separate-stderr sc-annotate search -v -n 2 B cell
    [[ $output == "$new" ]]
    [[ $stderr == *"option '-n' is deprecated"*"use '--max'"* ]]
    printf 'label\tterm_id\nmy odd cells\tCL:0000236\n' > m.tsv
    run -0 --separate-stderr sc-annotate map --mapping m.tsv <<< 'my odd cells'
    new=$output
    [[ $new == *"CL:0000236"* ]]
    run -0 --separate-stderr sc-annotate map -m m.tsv <<< 'my odd cells'
    [[ $output == "$new" ]]
}

@test "options: sc-stream -l and -n still work as --label and --samples" {
    run -0 --separate-stderr sc-stream -O text --no-cache --seed 1 --samples 30 --label cell_type "$H5AD"
    local new=$output
    [[ $new == *"cell_type"* ]]
    run -0 --separate-stderr sc-stream -O text --no-cache --seed 1 -n 30 -l cell_type "$H5AD"
    [[ $output == "$new" ]]
    run -0 --separate-stderr sc-stream -v -O text --no-cache --seed 1 -l cell_type "$H5AD"
    [[ $stderr == *"option '-l' is deprecated"*"use '--label'"* ]]
    run -2 --separate-stderr sc-stream -n 0 "$H5AD"
    [[ $stderr == *"option '--samples'"* ]]
}

@test "options: the man pages document the deprecated spellings" {
    local text
    text=$(sed -E 's/\\-/-/g; s/\\f(\[[^]]*\]|\(..|.)//g' "$SC_ROOT/man/sc-stream.1")
    [[ $text == *$'.B -l\nis a deprecated spelling of\n.BR --label'* ]]
    [[ $text == *$'.B -n\nis a deprecated spelling of\n.BR --samples'* ]]
    text=$(sed -E 's/\\-/-/g; s/\\f(\[[^]]*\]|\(..|.)//g' "$SC_ROOT/man/sc-annotate.1")
    [[ $text == *$'.B -n\nis a deprecated spelling of\n.BR --max'* ]]
    [[ $text == *$'.B -m\nis a deprecated spelling of\n.BR --mapping'* ]]
    text=$(sed -E 's/\\-/-/g' "$SC_ROOT/man/sc.7")
    [[ $text == *'.SH "SHORT OPTIONS"'* ]]
    [[ $text == *$'.B sc-stream -l\n.BR --label'* && $text == *$'.B sc-annotate -m\n.BR --mapping'* ]]
}
