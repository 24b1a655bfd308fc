#!/bin/bash
# make bench: core and SQL benchmark tables on MovieLens-1M-shaped data.
# Performance lives here, never in timed tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash test/install-deps.sh
make -s all
make -s install >/dev/null
make -s test/bench/bench_core >/dev/null

ML="${FMREC_SHARED_DATA:-$PWD/../shared/data}/ml-latest-small"
echo "## fmrec benchmark ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo
echo "### Core library (no server)"
echo
test/bench/bench_core synth
echo
if [ -d "$ML" ]; then
    echo
    echo "### Solvers side by side on ml-latest-small${LIBFM:+ (libFM: $LIBFM)}"
    echo
    test/bench/bench_core compare "$ML"
fi
echo
echo "### SQL"
echo
source test/cluster.sh start bench 54332
trap 'fmrec_cluster_stop bench' EXIT
psql -X -q -f test/bench/bench.sql
if [ -d "$ML" ]; then
    psql -X -q <<SQL
\\pset tuples_only on
\\pset format unaligned
CREATE TABLE ml (u int, i int, rating float8, ts bigint);
\\copy ml FROM '$ML/ratings.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE ml_train AS SELECT u, i, rating FROM ml WHERE hashint8(u * 1000003 + i) % 10 <> 0;
CREATE TABLE ml_test AS SELECT u, i, rating FROM ml WHERE hashint8(u * 1000003 + i) % 10 = 0;
\\o /dev/null
SELECT fm_train('ml_mcmc', 'ml_train', solver => 'mcmc', threads => 2, quiet => true);
\\o
SELECT format('| fm_train MCMC regression on ml-latest-small (90/10 by hash), end to end, 2 threads | %s s, test RMSE %s |',
              round((metrics->>'seconds')::numeric, 2),
              (SELECT round(sqrt(avg((fm_predict('ml_mcmc', u, i) - rating) ^ 2))::numeric, 4) FROM ml_test))
FROM fm_models WHERE name = 'ml_mcmc';
SQL
fi
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
