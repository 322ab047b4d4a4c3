#!/usr/bin/env bats
# The man pages: roff without warnings, and the same long options as --help.
# SPDX-License-Identifier: MIT

load helpers

@test "man pages: groff -man -ww -z reports nothing" {
    local page
    for page in "$SC_ROOT"/man/*.[157]; do
        [[ -e $page ]] || continue
        run -0 --separate-stderr groff -man -ww -z "$page"
        [[ -z $stderr ]] || {
            echo "$page: $stderr"
            return 1
        }
    done
}

@test "man pages: each tool's --help and man page list the same long options" {
    BUILD=$SC_BUILD run -0 "$SC_ROOT/scripts/check-man-options.sh"
}

@test "man pages: sc-inspect has one" {
    [[ -f $SC_ROOT/man/sc-inspect.1 ]]
    BUILD=$SC_BUILD run -0 "$SC_ROOT/scripts/check-man-options.sh" sc-inspect
}
