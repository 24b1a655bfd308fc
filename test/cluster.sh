#!/bin/bash
# Starts or stops a throwaway PostgreSQL cluster for the demo and tests.
#
#   source test/cluster.sh start NAME PORT   (exports PGHOST, PGPORT, PGUSER)
#   bash test/cluster.sh stop NAME
#   source test/cluster.sh env NAME PORT     (exports only, for a running one)
#
# The cluster lives in /tmp/fmrec-NAME, listens on a Unix socket there
# only, trusts local connections and runs as the postgres user when
# started by root (initdb refuses to run as root).
PG_BINDIR=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)

fmrec_as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

fmrec_cluster_stop() {
    local dir=/tmp/fmrec-$1
    if [ -f "$dir/data/postmaster.pid" ]; then
        fmrec_as_owner "$PG_BINDIR/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
}

fmrec_cluster_start() {
    local name=$1 port=$2 dir=/tmp/fmrec-$1
    fmrec_cluster_stop "$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    fmrec_as_owner "$PG_BINDIR/initdb" -D "$dir/data" -A trust -U postgres \
        --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log"; return 1; }
    fmrec_as_owner "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $port -k $dir -c listen_addresses='' -c fsync=off -c max_worker_processes=8 -c max_parallel_workers_per_gather=2" \
        start >/dev/null || { cat "$dir/server.log"; return 1; }
    export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
}

case "${1:-}" in
    start) fmrec_cluster_start "$2" "$3" ;;
    env) export PGHOST=/tmp/fmrec-$2 PGPORT=$3 PGUSER=postgres PGDATABASE=postgres ;;
    stop) fmrec_cluster_stop "$2" ;;
esac
