#!/bin/sh
# Vendor the chart library of sc-register report into share/report/vendor:
# the minified bundles of vega, vega-lite and vega-embed, and of the graph
# layout library dagre (the lineage graph), from the npm registry (npm
# pack), gzip-compressed, with their licences. Prints the sha256 of each
# package tarball (for share/SOURCES.md).
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=share/report/vendor
mkdir -p "$out"
# package@version, the bundle's path in the package, the name it gets here
while read -r spec file name; do
    tgz=$(cd "$tmp" && npm pack --silent "$spec")
    mkdir -p "$tmp/$name"
    tar xzf "$tmp/$tgz" -C "$tmp/$name"
    (cd "$tmp" && sha256sum "$tgz")
    gzip -9n <"$tmp/$name/package/$file" >"$out/$name.min.js.gz"
    grep '"license"' "$tmp/$name/package/package.json" >"$out/$name.LICENSE"
    if [ -f "$tmp/$name/package/LICENSE" ]; then
        cat "$tmp/$name/package/LICENSE" >>"$out/$name.LICENSE"
    fi
done <<EOF
vega@5.33.1 build/vega.min.js vega
vega-lite@5.23.0 build/vega-lite.min.js vega-lite
vega-embed@6.29.0 build/vega-embed.min.js vega-embed
@dagrejs/dagre@3.1.4 dist/dagre.min.js dagre
EOF
# The vega package ships no LICENSE file; it is BSD-3-Clause by the same
# copyright holder as vega-lite, whose text is that licence.
if [ "$(wc -l <"$out/vega.LICENSE")" -le 1 ]; then
    tail -n +2 "$out/vega-lite.LICENSE" >>"$out/vega.LICENSE"
fi
