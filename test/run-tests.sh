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
prove -v test/t/*.pl
