#!/bin/bash
# make test: installs what is missing, builds, runs the core unit tests,
# starts a throwaway cluster, runs pg_regress and the TAP tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export FMREC_ROOT=$PWD

bash test/install-deps.sh
make -s all
make -s install >/dev/null
echo "== core unit tests"
make -s unittest

echo "== starting a throwaway cluster"
source test/cluster.sh start test 54329
trap 'fmrec_cluster_stop test' EXIT

echo "== pg_regress"
if ! make -s installcheck; then
    cat regression.diffs
    exit 1
fi

echo "== TAP"
# each test file starts a node of its own (PostgreSQL::Test::Cluster)
PG_BIN=$(/usr/lib/postgresql/15/bin/pg_config --bindir)
PGXS_PERL=$(dirname "$(/usr/lib/postgresql/15/bin/pg_config --pgxs)")/../../src/test/perl
TAPDIR=/tmp/fmrec-tap
rm -rf "$TAPDIR"
mkdir -p "$TAPDIR"
tap=(env PATH="$PG_BIN:$PATH" TESTDIR="$TAPDIR" FMREC_ROOT="$FMREC_ROOT"
     PG_REGRESS="$PGXS_PERL/../regress/pg_regress"
     FMREC_SHARED_DATA="${FMREC_SHARED_DATA:-$FMREC_ROOT/../shared/data}"
     prove -v -I "$PGXS_PERL" test/t/*.pl)
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$TAPDIR"
    runuser -u postgres -- "${tap[@]}"
else
    "${tap[@]}"
fi
