#!/bin/sh
# Vendor the chart library of sc-register report into share/report/vendor:
# the minified bundles of vega, vega-lite and vega-embed from the npm
# registry (npm pack), gzip-compressed, with their licences.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=share/report/vendor
mkdir -p "$out"
for spec in vega@5.33.1 vega-lite@5.23.0 vega-embed@6.29.0; do
    name=${spec%@*}
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
    mkdir -p "$tmp/$name"
    tar xzf "$tmp/$name-${spec#*@}.tgz" -C "$tmp/$name"
    gzip -9n <"$tmp/$name/package/build/$name.min.js" >"$out/$name.min.js.gz"
    grep '"license"' "$tmp/$name/package/package.json" >"$out/$name.LICENSE"
    if [ -f "$tmp/$name/package/LICENSE" ]; then
        cat "$tmp/$name/package/LICENSE" >>"$out/$name.LICENSE"
    fi
done
# The vega package ships no LICENSE file; it is BSD-3-Clause by the same
# copyright holder as vega-lite, whose text is that licence.
if [ "$(wc -l <"$out/vega.LICENSE")" -le 1 ]; then
    tail -n +2 "$out/vega-lite.LICENSE" >>"$out/vega.LICENSE"
fi
