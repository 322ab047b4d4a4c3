#!/bin/bash
# Run the unit tests (TAP from each tests/unit binary) and the bats CLI
# tests, then print one closing line "N passed, N failed".
# SPDX-License-Identifier: MIT
# Usage: tests/run-tests.sh [all|unit|cli]   (BUILD=build by default)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
what=${1:-all}
export LC_ALL=C TZ=UTC
export SC_TEST_DATA=$PWD/tests/data
export SC_BUILD=$PWD/$BUILD
export SC_SHARE=$PWD/share
# Interop checks with the real anndata 0.8 (Debian python3-anndata).
export SC_PYTHON_INTEROP=${SC_PYTHON_INTEROP:-1}
export PATH=$PWD/$BUILD/bin:$PATH
# The sanitizers write their reports to files in $san, not to the tested
# program's stderr: a report is then never lost where a test sends stderr
# to /dev/null (or the probe server's /dev/null), and the sanitizer's own
# notes cannot make a test that compares stderr fail (LeakSanitizer's
# "Unable to get registers from thread N", printed when a thread is still
# ending as the process exits, did). Every report is a failure (below).
san=$(mktemp -d)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}:log_path=$san/asan:log_exe_name=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}:log_path=$san/ubsan:log_exe_name=1
wrapper=${SC_TEST_WRAPPER:-}

pass=0 fail=0
log=$(mktemp)
trap 'rm -f "$log"; rm -rf "$san"' EXIT

count() {   # count TAP lines of the output in $log
    local p f
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    pass=$((pass + p)); fail=$((fail + f))
    echo "$p passed, $f failed" > /dev/null
}

if [[ $what == all || $what == unit ]]; then
    for t in "$BUILD"/tests/test_*; do
        [[ -x $t ]] || continue
        echo "# unit: $(basename "$t")"
        $wrapper "$t" > "$log" 2>&1
        rc=$?
        grep -E '^(not ok|#)' "$log"
        count
        if [[ $rc -ne 0 ]] && ! grep -q '^not ok ' "$log"; then
            echo "not ok - $(basename "$t") exited with status $rc"
            tail -20 "$log"
            fail=$((fail + 1))
        fi
    done
fi

if [[ $what == all || $what == cli ]]; then
    if compgen -G "tests/cli/*.bats" > /dev/null; then
        echo "# cli: bats tests/cli"
        bats --tap tests/cli/*.bats > "$log" 2>&1
        grep -E '^(not ok|#)' "$log"
        count
        if ! grep -qE '^(ok|not ok) ' "$log"; then
            cat "$log"
            fail=$((fail + 1))
        fi
    fi
fi

# Sanitizer reports: an error report (ASan, LSan, UBSan) fails the run
# whatever the test said; other lines are notes, shown once.
for f in "$san"/*; do
    [[ -f $f ]] || continue
    if grep -qE 'ERROR: |runtime error|SUMMARY: ' "$f"; then
        echo "not ok - sanitizer report ${f##*/}"
        sed -n '1,60p' "$f"
        fail=$((fail + 1))
    else
        sed "s|^|# sanitizer note (${f##*/}): |" "$f" | sort -u
    fi
done

echo "$pass passed, $fail failed"
[[ $fail -eq 0 && $pass -gt 0 ]]
