#!/bin/bash
# Fail when a tool's --help and its man page list different long options.
# SPDX-License-Identifier: MIT
#
# Usage: scripts/check-man-options.sh [TOOL...]
# Checks every $BUILD/bin/sc-* (BUILD=build by default) that has a
# man/sc-*.1, or only the TOOLs named. The options of --help are those at
# the start of its option lines ("  -o, --output FILE", "      --json");
# the page's are the long options of its OPTIONS section, and every long
# option the page mentions anywhere must exist too. Prints one line per
# difference and exits 1 if there is any.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

# Long options of --help, one per line, sorted.
help_options() {
    "$1" --help | sed -nE 's/^ {2}(-[^ ], )?--([a-zA-Z0-9][a-zA-Z0-9-]*).*/--\2/p;
                           s/^ {6}--([a-zA-Z0-9][a-zA-Z0-9-]*).*/--\1/p' |
        sort -u
}

# The roff page as plain text: \- becomes -, font escapes go.
page_text() {
    sed -E 's/\\-/-/g; s/\\f(\[[^]]*\]|\(..|.)//g; s/\\&//g' "$1"
}

# Long options mentioned in the page's text (all of it, or OPTIONS only).
page_options() {
    local page=$1 section=${2:-}
    if [[ -n $section ]]; then
        page_text "$page" | awk '/^\.SH/ { on = ($0 ~ /^\.SH "?OPTIONS"?$/) } on'
    else
        page_text "$page"
    fi | grep -v '^\.\\"' |
        grep -oE '(^|[^a-zA-Z0-9-])--[a-zA-Z0-9][a-zA-Z0-9-]*' |
        sed -E 's/^[^-]+//' | sort -u
}

status=0 checked=0
tools=("$@")
if [[ ${#tools[@]} -eq 0 ]]; then
    for bin in "$BUILD"/bin/sc-*; do
        [[ -x $bin ]] && tools+=("$(basename "$bin")")
    done
fi
for tool in "${tools[@]}"; do
    bin=$BUILD/bin/$tool page=man/$tool.1
    if [[ ! -x $bin ]]; then
        echo "$tool: no $bin (run make)"
        status=1
        continue
    fi
    [[ -f $page ]] || continue
    checked=$((checked + 1))
    help=$(help_options "$bin") || {
        echo "$tool: --help failed"
        status=1
        continue
    }
    if [[ -z $help ]]; then
        echo "$tool: no long options found in --help"
        status=1
        continue
    fi
    man_opts=$(page_options "$page" OPTIONS)
    all=$(page_options "$page")
    while read -r o; do
        echo "$tool: $o is in --help but not in the OPTIONS of $page"
        status=1
    done < <(comm -23 <(echo "$help") <(echo "$man_opts"))
    while read -r o; do
        echo "$tool: $page mentions $o, which --help does not list"
        status=1
    done < <(comm -13 <(echo "$help") <(echo "$all"))
done
if [[ $checked -eq 0 ]]; then
    echo "no tool with a man page found (BUILD=$BUILD)"
    status=1
fi
exit $status
