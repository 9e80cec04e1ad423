# shellcheck shell=bash
# Sourced (not run) by scripts/test.sh: finds or starts a PostgreSQL and gives the test run a
# fresh, throw-away database in it, so the suite runs against SQLite *and* a real PostgreSQL.
#
#   omega_ensure_postgres  exports OMEGA_TEST_POSTGRES_URL=postgresql+psycopg://USER@HOST:PORT/DB
#                          where DB is a new database omega_test_<random hex>. Where it gets a server,
#                          in order:
#                            1. one already answering on 127.0.0.1:5432 (user $PGUSER, root, postgres);
#                            2. the system cluster /etc/postgresql/*/main, started with pg_ctlcluster;
#                            3. a private cluster made with initdb in .omega_test/ on a free port.
#                          With none of these it prints a loud SKIPPED line, leaves
#                          OMEGA_TEST_POSTGRES_URL unset, sets OMEGA_PG_SKIPPED to the reason and
#                          returns 0. It returns 1 only when a server is there but broken (a cluster
#                          that will not start, a database that cannot be created).
#   omega_drop_test_db     drops that database and stops (and deletes) the private cluster of step 3.
#                          Safe to call twice, or when nothing was set up. The caller sets the trap:
#                            trap omega_drop_test_db EXIT
#
# Knobs: PGUSER (the first user tried); OMEGA_PG_FORCE_INITDB=1 skips steps 1 and 2 (to test step 3
# while a server runs on :5432).

_OMEGA_PG_REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

# State shared by the two functions; empty means "nothing to clean up".
_OMEGA_PG_HOST='' _OMEGA_PG_PORT='' _OMEGA_PG_USER='' _OMEGA_PG_MAINTDB=''
_OMEGA_PG_DB=''      # the test database we created
_OMEGA_PG_DESC=''    # which PostgreSQL we use, for the one-line report
_OMEGA_PG_WHY=''     # why no PostgreSQL can be had (for the SKIPPED line)
_OMEGA_PG_BINDIR='' _OMEGA_PG_DATADIR=''   # set while our private cluster (step 3) may be running
_OMEGA_PG_TMPBASE='' # private cluster placed in a temp dir (repo unreachable for 'postgres')

_omega_pg_say() { printf 'PostgreSQL: %s\n' "$*"; }
_omega_pg_warn() { printf 'PostgreSQL: WARNING: %s\n' "$*" >&2; }

# psql that reads no ~/.psqlrc, never waits at a password prompt and gives up quickly.
_omega_psql() { # host port user db psql-args...
    local host=$1 port=$2 user=$3 db=$4
    shift 4
    PGCONNECT_TIMEOUT=5 psql -X -w -q -A -t -v ON_ERROR_STOP=1 \
        -h "$host" -p "$port" -U "$user" -d "$db" "$@"
}

# Pick the first candidate user that logs in without a password and may create databases.
_omega_pg_pick_user() { # host port
    local host=$1 port=$2 user db ok
    command -v psql >/dev/null 2>&1 || return 1
    for user in ${PGUSER:+"$PGUSER"} root postgres; do
        for db in postgres template1; do
            ok=$(_omega_psql "$host" "$port" "$user" "$db" \
                -c 'select rolsuper or rolcreatedb from pg_roles where rolname = current_user' \
                2>/dev/null) || continue
            if [[ $ok == t ]]; then
                _OMEGA_PG_HOST=$host _OMEGA_PG_PORT=$port _OMEGA_PG_USER=$user _OMEGA_PG_MAINTDB=$db
                return 0
            fi
            break # logged in, but may not create databases: try the next user
        done
    done
    return 1
}

_omega_pg_answers() { # host port
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -t 3 -h "$1" -p "$2"
    else
        _omega_pg_pick_user "$1" "$2"
    fi
}

_omega_pg_wait() { # host port seconds
    local i
    for ((i = 0; i < $3; i++)); do
        if _omega_pg_answers "$1" "$2"; then return 0; fi
        sleep 1
    done
    return 1
}

# Directory of the newest initdb (PATH first) with its pg_ctl beside it, so versions match.
_omega_pg_find_bindir() {
    local initdb dir
    initdb=$(command -v initdb 2>/dev/null) ||
        initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    [[ -x $initdb ]] || return 1
    dir=$(dirname -- "$(readlink -f -- "$initdb")")
    [[ -x $dir/pg_ctl ]] || return 1
    printf '%s\n' "$dir"
}

# initdb and postgres refuse to run as root: as root, run them as the OS user 'postgres'.
# 'cd /' so that user is not left in a directory it may not read.
_omega_pg_as_owner() {
    if ((EUID != 0)); then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && su -s /bin/bash postgres -c "$(printf '%q ' "$@")")
    fi
}

# Step 2: the Debian/Ubuntu system cluster (newest version first).
_omega_pg_start_system_cluster() {
    local dir ver port status
    command -v pg_ctlcluster >/dev/null 2>&1 || return 1
    command -v pg_lsclusters >/dev/null 2>&1 || return 1
    while IFS= read -r dir; do
        [[ -d $dir ]] || continue
        ver=$(basename -- "$(dirname -- "$dir")")
        port='' status=''
        read -r port status < <(pg_lsclusters -h 2>/dev/null |
            awk -v v="$ver" '$1 == v && $2 == "main" { print $3, $4; exit }') || true
        [[ -n $port ]] || continue
        if [[ $status != online* ]]; then
            _omega_pg_say "starting system cluster $ver/main (pg_ctlcluster) ..."
            if ! pg_ctlcluster --skip-systemctl-redirect "$ver" main start; then
                _omega_pg_warn "pg_ctlcluster could not start $ver/main"
                continue
            fi
        fi
        if ! _omega_pg_wait 127.0.0.1 "$port" 30; then
            _omega_pg_warn "system cluster $ver/main does not answer on 127.0.0.1:$port after 30 s"
            continue
        fi
        if _omega_pg_pick_user 127.0.0.1 "$port"; then
            _OMEGA_PG_DESC="system cluster $ver/main on 127.0.0.1:$port"
            return 0
        fi
        _omega_pg_warn "system cluster $ver/main answers, but no user (\$PGUSER, root, postgres) can log in without a password and create databases"
    done < <(printf '%s\n' /etc/postgresql/*/main | sort -rV)
    return 1
}

# Step 3: a private, throw-away cluster. Returns 0 started, 1 unavailable (reason in
# _OMEGA_PG_WHY), 2 broken (initdb or start failed).
_omega_pg_start_private_cluster() {
    local bindir base data sock log port
    if ! bindir=$(_omega_pg_find_bindir); then
        if [[ -n $_OMEGA_PG_WHY ]]; then # steps 1-2 found something they could not use
            _OMEGA_PG_WHY+=', and initdb is not installed'
        else
            _OMEGA_PG_WHY='no server answers on 127.0.0.1:5432 and neither pg_ctlcluster nor initdb is installed'
        fi
        return 1
    fi
    if ((EUID == 0)) && ! id -u postgres >/dev/null 2>&1; then
        _OMEGA_PG_WHY="initdb refuses to run as root and there is no OS user 'postgres' to run it as"
        return 1
    fi
    base=$_OMEGA_PG_REPO/.omega_test
    mkdir -p -- "$base"
    # As root the cluster belongs to 'postgres', which must reach it; a repo under /root, say,
    # is out of its reach, so go to a temp dir then.
    if ((EUID == 0)) && ! _omega_pg_as_owner test -x "$base"; then
        base=$(mktemp -d "${TMPDIR:-/tmp}/omega_test_pg.XXXXXX")
        chmod 755 "$base"
        _OMEGA_PG_TMPBASE=$base
    fi
    data=$base/pgdata sock=$base/pgsock log=$base/postgres.log

    # A server left running from an interrupted run would hold the data dir: stop it.
    if [[ -f $data/postmaster.pid ]] &&
        _omega_pg_as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        _omega_pg_say "stopping a private cluster left over from an earlier run"
        _omega_pg_as_owner "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    # A fresh cluster every run (initdb --no-sync takes about half a second): no stale state.
    rm -rf -- "$data" "$sock" "$log"
    mkdir -p -- "$data" "$sock"
    chmod 700 "$data"
    : >"$log"
    if ((EUID == 0)); then chown postgres "$data" "$sock" "$log"; fi

    if ! _omega_pg_as_owner "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 \
        --locale=C --no-sync >"$base/initdb.log" 2>&1; then
        _omega_pg_warn "initdb failed; its output ($base/initdb.log):"
        tail -n 20 "$base/initdb.log" >&2
        return 2
    fi

    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # Settings go into postgresql.conf rather than pg_ctl -o, which a shell re-splits (paths
    # with spaces). A unix socket path must stay under ~107 bytes: use TCP only if it is longer.
    if ((${#sock} > 90)); then sock=''; fi
    {
        printf '\n# omega_jupyter test cluster (scripts/pg.sh)\n'
        printf "listen_addresses = '127.0.0.1'\nport = %s\n" "$port"
        printf "unix_socket_directories = '%s'\n" "${sock//\'/\'\'}"
        # Scratch data: durability only costs time here.
        printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
    } >>"$data/postgresql.conf"

    # From here on cleanup must stop it, even if the start below half-fails.
    _OMEGA_PG_BINDIR=$bindir _OMEGA_PG_DATADIR=$data
    _omega_pg_say "starting a private cluster in $data on 127.0.0.1:$port ..."
    if ! _omega_pg_as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 30 start >/dev/null ||
        ! _omega_pg_wait 127.0.0.1 "$port" 30; then
        _omega_pg_warn "the private cluster did not start; its log ($log):"
        tail -n 20 "$log" >&2
        return 2
    fi
    if ! _omega_pg_pick_user 127.0.0.1 "$port"; then
        _omega_pg_warn "the private cluster runs, but user postgres cannot log in"
        return 2
    fi
    _OMEGA_PG_DESC="private cluster in $data on 127.0.0.1:$port (initdb + pg_ctl)"
    return 0
}

omega_ensure_postgres() {
    local rc=0 bindir user_enc
    unset OMEGA_TEST_POSTGRES_URL OMEGA_PG_SKIPPED
    _OMEGA_PG_DESC='' _OMEGA_PG_WHY=''

    # Server packages without the client wrappers in PATH: use the clients beside initdb.
    if ! command -v psql >/dev/null 2>&1 && bindir=$(_omega_pg_find_bindir) &&
        [[ -x $bindir/psql ]]; then
        PATH=$bindir:$PATH
    fi

    if [[ -z ${OMEGA_PG_FORCE_INITDB:-} ]]; then
        if _omega_pg_pick_user 127.0.0.1 5432; then
            _OMEGA_PG_DESC='the server already running on 127.0.0.1:5432'
        elif _omega_pg_answers 127.0.0.1 5432; then
            # Likely the system cluster itself, so skip step 2.
            _OMEGA_PG_WHY="a server answers on 127.0.0.1:5432, but no user (\$PGUSER, root, postgres) can log in to it without a password and create databases"
            _omega_pg_warn "$_OMEGA_PG_WHY; trying a private cluster"
        elif ! _omega_pg_start_system_cluster && command -v pg_ctlcluster >/dev/null 2>&1; then
            _OMEGA_PG_WHY='no server answers on 127.0.0.1:5432 and no system cluster could be started with pg_ctlcluster'
        fi
    fi
    if [[ -z $_OMEGA_PG_DESC ]]; then
        _omega_pg_start_private_cluster || rc=$?
        if ((rc == 2)); then return 1; fi
        if ((rc == 1)); then
            export OMEGA_PG_SKIPPED=$_OMEGA_PG_WHY
            printf '\n%s\n%s\n%s\n\n' '################################################################' \
                "SKIPPED: PostgreSQL tests — $_OMEGA_PG_WHY; tests run on SQLite only" \
                '################################################################' >&2
            return 0
        fi
    fi

    _OMEGA_PG_DB=omega_test_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    if ! _omega_psql "$_OMEGA_PG_HOST" "$_OMEGA_PG_PORT" "$_OMEGA_PG_USER" "$_OMEGA_PG_MAINTDB" \
        -c "CREATE DATABASE \"$_OMEGA_PG_DB\"" >/dev/null; then
        _omega_pg_warn "could not create database $_OMEGA_PG_DB as user $_OMEGA_PG_USER"
        _OMEGA_PG_DB=''
        return 1
    fi
    user_enc=$_OMEGA_PG_USER
    if [[ $user_enc == *[!A-Za-z0-9._-]* ]]; then # a $PGUSER like "a@b" must be %-encoded
        user_enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$user_enc")
    fi
    export OMEGA_TEST_POSTGRES_URL="postgresql+psycopg://$user_enc@$_OMEGA_PG_HOST:$_OMEGA_PG_PORT/$_OMEGA_PG_DB"
    _omega_pg_say "using $_OMEGA_PG_DESC as user $_OMEGA_PG_USER; fresh test database $_OMEGA_PG_DB"
}

# Runs from an EXIT trap, possibly under set -e: nothing in here may fail or change the exit code.
omega_drop_test_db() {
    if [[ -n $_OMEGA_PG_DB ]]; then
        # WITH (FORCE) (PostgreSQL 13+) ends sessions a killed test run left behind.
        if _omega_psql "$_OMEGA_PG_HOST" "$_OMEGA_PG_PORT" "$_OMEGA_PG_USER" "$_OMEGA_PG_MAINTDB" \
            -c "DROP DATABASE IF EXISTS \"$_OMEGA_PG_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
            _omega_psql "$_OMEGA_PG_HOST" "$_OMEGA_PG_PORT" "$_OMEGA_PG_USER" "$_OMEGA_PG_MAINTDB" \
                -c "DROP DATABASE IF EXISTS \"$_OMEGA_PG_DB\"" >/dev/null 2>&1; then
            _omega_pg_say "dropped test database $_OMEGA_PG_DB"
        else
            _omega_pg_warn "could not drop test database $_OMEGA_PG_DB"
        fi
        _OMEGA_PG_DB=''
    fi
    if [[ -n $_OMEGA_PG_DATADIR ]]; then
        if _omega_pg_as_owner "$_OMEGA_PG_BINDIR/pg_ctl" -D "$_OMEGA_PG_DATADIR" -m fast -w -t 30 \
            stop >/dev/null 2>&1; then
            _omega_pg_say "stopped the private cluster"
            rm -rf -- "$_OMEGA_PG_DATADIR" "$(dirname -- "$_OMEGA_PG_DATADIR")/pgsock" || true
        else
            _omega_pg_warn "could not stop the private cluster in $_OMEGA_PG_DATADIR"
        fi
        _OMEGA_PG_DATADIR=''
    fi
    if [[ -n $_OMEGA_PG_TMPBASE ]]; then
        rm -rf -- "$_OMEGA_PG_TMPBASE" || true
        _OMEGA_PG_TMPBASE=''
    fi
    unset OMEGA_TEST_POSTGRES_URL
    return 0
}
