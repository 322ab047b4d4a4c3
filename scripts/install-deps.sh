#!/bin/sh
# Install the Debian packages that the build, tests, demo and benchmarks need.
# SPDX-License-Identifier: MIT
#
# Idempotent: does nothing when every package is already installed.  Uses sudo
# when not run as root.  Usage: scripts/install-deps.sh [--check]
#   --check   only report what is missing (exit 1 if anything is)
set -eu

PKGS="build-essential pkg-config
libhdf5-dev hdf5-tools libsqlite3-dev sqlite3 libyaml-dev zlib1g-dev
libcurl4-openssl-dev libjansson-dev libdeflate-dev liblzf-dev libssl-dev
libpq-dev postgresql postgresql-client chromium
bats groff-base ca-certificates curl nodejs
python3 python3-numpy python3-h5py python3-scipy python3-pandas
python3-anndata python3-torch"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done

if [ -z "$missing" ]; then
    exit 0
fi
if [ "${1:-}" = "--check" ]; then
    echo "missing Debian packages:$missing" >&2
    exit 1
fi

echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
else
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >&2
