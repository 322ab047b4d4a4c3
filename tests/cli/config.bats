#!/usr/bin/env bats
# -c FILE and $SC_CONFIG (sc-config(5)) are read by every tool through the
# one loader (sc_config_load): a missing or unreadable file, or a key the
# tool does not have, is one line naming the file; settings are applied
# and the command line beats them.
# SPDX-License-Identifier: MIT

load helpers

TOOLS="sc-fetch sc-harmonize sc-annotate sc-register sc-stream sc-inspect"
GOOD=$SC_TEST_DATA/h5ad/cellxgene_schema_example_valid.h5ad

# a tool that ignored the settings would write its defaults (sc-registry.db)
# here, never into the checkout
setup() {
    cd "$BATS_TEST_TMPDIR"
}

# a command line of TOOL that would run (and fail later, or succeed) if the
# settings file were ignored
cmd_of() {
    case $1 in
    sc-fetch) echo "sc-fetch --api-url http://127.0.0.1:9 list" ;;
    sc-harmonize) echo "sc-harmonize -d $BATS_TEST_TMPDIR/h $GOOD" ;;
    sc-annotate) echo "sc-annotate term CL:0000236" ;;
    sc-register) echo "sc-register --db $BATS_TEST_TMPDIR/r.db init" ;;
    sc-stream) echo "sc-stream dump $BATS_TEST_TMPDIR/none.bin" ;;
    sc-inspect) echo "sc-inspect $GOOD" ;;
    esac
}

@test "config_missing_file_is_an_error_in_every_tool" {
    local t missing=$BATS_TEST_TMPDIR/no-such.yaml
    for t in $TOOLS; do
        # shellcheck disable=SC2046
        run -2 --separate-stderr $(cmd_of "$t") -c "$missing"
        [[ $stderr == *"'$missing'"* ]] || { echo "$t: $stderr"; return 1; }
        SC_CONFIG=$missing run -2 --separate-stderr $(cmd_of "$t")
        [[ $stderr == *"'$missing'"* ]] || { echo "$t (env): $stderr"; return 1; }
        [[ ${stderr%%$'\n'*} == "$t: "*"cannot open '$missing'"* ]]
    done
}

@test "config_unreadable_file_is_an_error" {
    local d=$BATS_TEST_TMPDIR/dir.yaml
    mkdir "$d"
    run -2 --separate-stderr sc-inspect -c "$d" "$GOOD"
    [[ $stderr == *"'$d'"* ]]
}

@test "config_unknown_key_named_with_file_and_line" {
    local f=$BATS_TEST_TMPDIR/s.yaml t
    printf 'threads: 1\nno-such-option: 3\n' > "$f"
    for t in $TOOLS; do
        # shellcheck disable=SC2046
        run -2 --separate-stderr $(cmd_of "$t") -c "$f"
        [[ $stderr == *"'$f' line 2: unknown key 'no-such-option'"* ]] ||
            { echo "$t: $stderr"; return 1; }
    done
}

@test "config_shared_keys_and_other_sections_accepted_by_every_tool" {
    local f=$BATS_TEST_TMPDIR/s.yaml
    printf 'threads: 2\nno-progress: true\nsc-harmonize:\n  min-genes: 3\n' > "$f"
    run -0 --separate-stderr sc-inspect -c "$f" "$GOOD"
    SC_CONFIG=$f run -0 --separate-stderr sc-register --db "$BATS_TEST_TMPDIR/r.db" init
}

@test "config_settings_applied_by_sc_inspect_and_command_line_wins" {
    local f=$BATS_TEST_TMPDIR/s.yaml
    printf 'sc-inspect:\n  output-fmt: json\n' > "$f"
    run -0 --separate-stderr sc-inspect -c "$f" "$GOOD"
    [[ $output == "{"* ]]
    SC_CONFIG=$f run -0 --separate-stderr sc-inspect "$GOOD"
    [[ $output == "{"* ]]
    SC_CONFIG=$f run -0 --separate-stderr sc-inspect -O text "$GOOD"
    [[ $output != "{"* ]]
}

@test "config_settings_applied_by_sc_register" {
    local f=$BATS_TEST_TMPDIR/s.yaml db=$BATS_TEST_TMPDIR/from-config.db
    printf 'sc-register:\n  db: %s\n' "$db" > "$f"
    run -0 --separate-stderr sc-register -c "$f" init
    [[ -f $db ]]
}
