#!/bin/sh
# Vendor the S3-compatible test server of tests/s3-server.sh: s3rver and its
# dependencies from the npm registry (npm install of the pinned version,
# lock file kept for provenance), as one gzip-compressed tar of
# node_modules, so that the tests need no network.
# SPDX-License-Identifier: MIT
set -eu
cd "$(dirname "$0")/.."
version=3.7.1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=tests/s3rver
mkdir -p "$out"
printf '{"name": "sc-test-s3rver", "private": true}\n' > "$tmp/package.json"
(cd "$tmp" && npm install --silent --no-audit --no-fund --omit=dev \
    "s3rver@$version" > /dev/null)
cp "$tmp/package-lock.json" "$out/package-lock.json"
tar -C "$tmp" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime=2020-01-01 -cf - node_modules | gzip -9n > "$out/s3rver-$version.tar.gz"
