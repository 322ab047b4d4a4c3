#!/bin/sh
# Print build/sc_version.h: VERSION plus `git describe` when in a checkout.
# SPDX-License-Identifier: MIT
set -eu
cd "$(dirname "$0")/.."
v=$(cat VERSION)
if g=$(git describe --always --dirty 2>/dev/null); then
    v="$v-$g"
fi
printf '#define SC_VERSION "%s"\n' "$v"
