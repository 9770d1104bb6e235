#!/usr/bin/env bash
# A throwaway PostgreSQL server for one test run, sourced by scripts/test.sh:
#   pg_test_server_start   initdb + pg_ctl in a mktemp folder, as the unprivileged `postgres` user when
#                          run as root, on 127.0.0.1 at a free port; exports AGENTSHOP_PG_URL
#   pg_test_server_stop    stops it and removes the folder (call it from an EXIT trap)
# The tests make one database per test on it (Tests/TestSupport/PostgresServer.swift).

pg_test_server_bin() {
    if [ -n "${AGENTSHOP_PG_BIN:-}" ]; then echo "$AGENTSHOP_PG_BIN"; return; fi
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
    command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}

pg_test_server_as_user() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_test_server_start() {
    local bin port password
    bin=$(pg_test_server_bin)
    if [ -z "$bin" ]; then
        echo "pg_test_server: no initdb found (apt-get install postgresql)" >&2
        return 1
    fi
    PG_TEST_FOLDER=$(mktemp -d /tmp/agentshop-pg.XXXXXX)
    PG_TEST_BIN=$bin
    password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$password" > "$PG_TEST_FOLDER/pwfile"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
        chown -R postgres: "$PG_TEST_FOLDER"
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    pg_test_server_as_user "$bin/initdb" -D "$PG_TEST_FOLDER/data" -U agentshop --auth=scram-sha-256 \
        --pwfile="$PG_TEST_FOLDER/pwfile" --no-sync -E UTF8 --no-locale >/dev/null
    pg_test_server_as_user "$bin/pg_ctl" -D "$PG_TEST_FOLDER/data" -l "$PG_TEST_FOLDER/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$PG_TEST_FOLDER -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=100" \
        start >/dev/null
    export AGENTSHOP_PG_URL="postgres://agentshop:$password@127.0.0.1:$port/postgres"
    echo "pg_test_server: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($PG_TEST_FOLDER)" >&2
}

pg_test_server_stop() {
    [ -n "${PG_TEST_FOLDER:-}" ] && [ -d "$PG_TEST_FOLDER" ] || return 0
    pg_test_server_as_user "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_FOLDER/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_TEST_FOLDER"
    PG_TEST_FOLDER=
}
