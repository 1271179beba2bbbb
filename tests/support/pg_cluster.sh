#!/usr/bin/env bash
# tests/support/pg_cluster.sh: a throwaway PostgreSQL 15 cluster on a free 127.0.0.1 port.
#
#   pg_cluster.sh start DIR [--durable]   initdb (once) + start; writes DIR/env with PG_URL=...
#   pg_cluster.sh standby DIR PRIMARY_DIR a hot standby of the cluster started in PRIMARY_DIR
#                                         (pg_basebackup, streaming replication), then start
#   pg_cluster.sh stop DIR                stop (the data stays until DIR is removed)
#   pg_cluster.sh destroy DIR             stop and remove DIR's cluster data
#
# As root, initdb/pg_ctl run as the postgres user (PostgreSQL refuses root).
# Without --durable the server runs with fsync off: fine for tests, which
# crash our process, never the machine.
set -euo pipefail

cmd=${1:?usage: pg_cluster.sh start|standby|stop|restart|destroy DIR [--durable|PRIMARY_DIR]}
dir=${2:?usage: pg_cluster.sh start|standby|stop|restart|destroy DIR [--durable|PRIMARY_DIR]}
durable=${3:-}

pg_bin() {
    local candidate
    for candidate in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [[ -x $candidate/pg_ctl ]]; then
            echo "$candidate"
            return 0
        fi
    done
    echo "pg_cluster.sh: no PostgreSQL server binaries found; install postgresql-15" >&2
    return 1
}

# Runs a command as the cluster owner: postgres when we are root, ourselves otherwise.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
env_file=$dir/env

data_dir_for() {
    # The data directory must be reachable by the owner; a checkout under a
    # private home (e.g. /root) is not, so fall back to a directory in /tmp.
    if [[ -f $dir/data_dir ]]; then
        cat "$dir/data_dir"
        return
    fi
    local data=$dir/data
    if [[ $(id -u) -eq 0 ]]; then
        mkdir -p "$data"
        chown postgres:postgres "$data"
        if ! runuser -u postgres -- test -w "$data"; then
            rmdir "$data" 2>/dev/null || true
            data=$(mktemp -d /tmp/orders-pipeline-pg.XXXXXX)
            chown postgres:postgres "$data"
        fi
    fi
    echo "$data" >"$dir/data_dir"
    echo "$data"
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    local bin data port log attempt
    bin=$(pg_bin)
    data=$(data_dir_for)
    log=$dir/postgres.log
    if [[ ! -f $data/PG_VERSION ]]; then
        as_owner "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log"
    fi
    if as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        echo "pg_cluster.sh: already running ($(cat "$env_file" 2>/dev/null))"
        return 0
    fi
    touch "$log"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$log"
    local opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=100"
    if [[ $durable != --durable ]]; then
        opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        port_in_use "$port" && continue
        if as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $port $opts" start >/dev/null; then
            printf 'PG_URL=postgresql://postgres@127.0.0.1:%s/postgres\nPG_PORT=%s\nPG_DATA=%s\n' \
                "$port" "$port" "$data" >"$env_file"
            echo "pg_cluster.sh: PostgreSQL running on 127.0.0.1:$port (data $data)"
            return 0
        fi
        echo "pg_cluster.sh: start on port $port failed (attempt $attempt); see $log" >&2
    done
    tail -20 "$log" >&2
    return 1
}

stop() {
    local bin data
    bin=$(pg_bin)
    [[ -f $dir/data_dir ]] || return 0
    data=$(cat "$dir/data_dir")
    if [[ -f $data/postmaster.pid ]]; then
        as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
    fi
    rm -f "$env_file"
    echo "pg_cluster.sh: stopped"
}

restart() {
    # Fast shutdown (sessions get 57P01) and start again on the same port.
    local bin data
    bin=$(pg_bin)
    data=$(cat "$dir/data_dir")
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 60 restart >/dev/null
    echo "pg_cluster.sh: restarted"
}

standby() {
    # A copy of the primary taken with pg_basebackup -R (standby.signal and
    # primary_conninfo), then started like any cluster: a hot standby.
    local bin data primary_port
    bin=$(pg_bin)
    primary_port=$(sed -n 's/^PG_PORT=//p' "${durable:?standby needs PRIMARY_DIR}/env")
    data=$(data_dir_for)
    if [[ ! -f $data/PG_VERSION ]]; then
        as_owner chmod 0700 "$data"
        as_owner "$bin/pg_basebackup" -D "$data" -R -X stream -c fast -h 127.0.0.1 \
            -p "$primary_port" -U postgres >"$dir/basebackup.log" 2>&1
    fi
    durable=
    start
}

case $cmd in
    start) start ;;
    standby) standby ;;
    restart) restart ;;
    stop) stop ;;
    destroy)
        stop
        if [[ -f $dir/data_dir ]]; then
            rm -rf "$(cat "$dir/data_dir")"
            rm -f "$dir/data_dir"
        fi
        ;;
    *)
        echo "usage: pg_cluster.sh start|stop|restart|destroy DIR [--durable]" >&2
        exit 2
        ;;
esac
