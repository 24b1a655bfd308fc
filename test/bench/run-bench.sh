#!/bin/bash
# make bench: core and SQL benchmark tables on MovieLens-1M-shaped data.
# Performance lives here, never in timed tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash test/install-deps.sh
make -s all
make -s install >/dev/null
make -s test/bench/bench_core >/dev/null

echo "## fmrec benchmark ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo
echo "### Core library (no server)"
echo
test/bench/bench_core synth
echo
echo "### SQL"
echo
source test/cluster.sh start bench 54332
trap 'fmrec_cluster_stop bench' EXIT
psql -X -q -f test/bench/bench.sql
echo
echo "### fm_topn through a client (pgbench, 10 s, random users)"
echo
cat > /tmp/fmrec-bench/topn.sql <<'SQL'
\set u random(1, 6040)
SELECT * FROM fm_topn('bench1', :u, 10);
SQL
echo "| clients | transactions/s | mean latency |"
echo "|---|---|---|"
for c in 1 2; do
    out=$("$PG_BINDIR/pgbench" -n -c $c -j $c -T 10 -f /tmp/fmrec-bench/topn.sql 2>&1)
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    lat=$(echo "$out" | sed -n 's/^latency average = \(.*\)$/\1/p')
    echo "| $c | ${tps%.*} | $lat |"
done
