# The mock CELLxGENE API and file server for the sc-fetch tests: start it
# once per file (setup_file), reset it per test. Load after helpers.
# SPDX-License-Identifier: MIT

# mock_start [DIR [ARGS...]]: start tests/mock/cxg_server.py on a free port
# of 127.0.0.1, serving the catalogue over DIR [tests/data/h5ad] (ARGS: more
# options, e.g. --plain) plus the files in $MOCK_DIR/files; export MOCK_URL,
# MOCK_LOG and SC_CXG_API_URL.
mock_start() {
    export MOCK_DIR=$BATS_FILE_TMPDIR/mock
    export MOCK_LOG=$MOCK_DIR/requests.log
    mkdir -p "$MOCK_DIR/files"
    "$PY" "$SC_ROOT/tests/mock/cxg_server.py" --h5ad "${1:-$SC_TEST_DATA/h5ad}" "${@:2}" \
        --files "$MOCK_DIR/files" --port-file "$MOCK_DIR/port" \
        --log "$MOCK_LOG" --lifetime 900 \
        > "$MOCK_DIR/server.out" 2>&1 3>&- &
    echo $! > "$MOCK_DIR/pid"
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -s $MOCK_DIR/port ]] && break
        sleep 0.1
    done
    [[ -s $MOCK_DIR/port ]] || { cat "$MOCK_DIR/server.out" >&2; return 1; }
    export MOCK_URL=http://127.0.0.1:$(cat "$MOCK_DIR/port")
    export SC_CXG_API_URL=$MOCK_URL
}

# mock_stop: stop the server started by mock_start.
mock_stop() {
    [[ -f ${MOCK_DIR:-}/pid ]] && kill "$(cat "$MOCK_DIR/pid")" 2>/dev/null
    return 0
}

# mock_reset: forget fault counters and empty the request log.
mock_reset() {
    curl -sf "$MOCK_URL/_control/reset" > /dev/null
    : > "$MOCK_LOG"
}

# mock_requests PATTERN: the logged requests ("GET PATH RANGE STATUS")
# whose line matches the extended regex PATTERN.
mock_requests() {
    grep -E "$1" "$MOCK_LOG" || true
}
