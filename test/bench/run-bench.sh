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
    # time to quality: the ranking issue's split (test: hash % 5 = 0,
    # relevant: rating >= 4); each row trains from scratch with that many
    # iterations or epochs, 2 threads, and is measured with fm_evaluate
    ease=0.2938
    psql -X -q <<SQL
CREATE TABLE tq_train AS SELECT u, i, rating FROM ml WHERE abs(hashint8(u::bigint * 1000003 + i)) % 5 <> 0;
CREATE TABLE tq_test AS SELECT u, i, rating FROM ml WHERE abs(hashint8(u::bigint * 1000003 + i)) % 5 = 0;
SQL
    if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
        for t in tq_train tq_test; do
            psql -X -q -c "\\copy $t TO '/tmp/fmrec-bench/$t.csv' CSV"
        done
        t0=$(date +%s.%N)
        ease=$(/usr/bin/python3 test/bench/ease.py /tmp/fmrec-bench/tq_train.csv /tmp/fmrec-bench/tq_test.csv 300 | cut -d' ' -f1)
        t1=$(date +%s.%N)
        echo
        echo "EASE (numpy reference, lambda = 300): NDCG@10 $ease in $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s, fit and its Python evaluation loop"
    fi
    echo
    echo "### Time to reach EASE's NDCG@10 ($ease) on ml-latest-small (the ranking issue's split)"
    echo
    psql -X -q <<SQL
\\pset tuples_only on
\\pset format unaligned
CREATE TABLE tq (model text, iters int, seconds float8, ndcg float8);
DO \$\$
DECLARE
  e int;
  secs float8;
BEGIN
  FOREACH e IN ARRAY ARRAY[1, 2, 3, 5, 8, 15] LOOP
    SELECT seconds INTO secs FROM fm_train('tq', 'SELECT u, i FROM tq_train', task => 'implicit', epochs => e, threads => 2, quiet => true);
    INSERT INTO tq SELECT 'implicit ALS, defaults', e, secs, ndcg_at_k
      FROM fm_evaluate('tq', 'tq_test', k => 10, threshold => 4) WHERE ranker = 'tq';
    SELECT seconds INTO secs FROM fm_train('tq', 'tq_train', task => 'implicit', epochs => e, threads => 2, quiet => true);
    INSERT INTO tq SELECT 'implicit ALS, defaults, ratings as strengths', e, secs, ndcg_at_k
      FROM fm_evaluate('tq', 'tq_test', k => 10, threshold => 4) WHERE ranker = 'tq';
  END LOOP;
  FOREACH e IN ARRAY ARRAY[25, 50, 100, 200] LOOP
    SELECT seconds INTO secs FROM fm_train('tq', 'SELECT u, i FROM tq_train', task => 'implicit', solver => 'sgd', epochs => e,
        factors => 64, learning_rate => 0.05, reg_factors => 0.005, reg_linear => 0.005, threads => 2, quiet => true);
    INSERT INTO tq SELECT 'BPR (sgd), k = 64, lr 0.05', e, secs, ndcg_at_k
      FROM fm_evaluate('tq', 'tq_test', k => 10, threshold => 4) WHERE ranker = 'tq';
  END LOOP;
END \$\$;
SELECT '| model | iterations | training seconds | NDCG@10 |';
SELECT '|---|---|---|---|';
SELECT format('| %s | %s | %s | %s |', model, iters, round(seconds::numeric, 2), round(ndcg::numeric, 4))
  FROM tq ORDER BY model DESC, iters;
SELECT '';
SELECT format('%s: %s', model,
              coalesce((SELECT format('reaches %s after %s s (%s iterations)', $ease, round(seconds::numeric, 2), iters)
                          FROM tq t WHERE t.model = m.model AND ndcg >= $ease ORDER BY iters LIMIT 1),
                       format('does not reach %s; best %s after %s s', $ease,
                              (SELECT round(max(ndcg)::numeric, 4) FROM tq t WHERE t.model = m.model),
                              (SELECT round(seconds::numeric, 2) FROM tq t WHERE t.model = m.model ORDER BY ndcg DESC LIMIT 1))))
  FROM (SELECT DISTINCT model FROM tq) m ORDER BY model DESC;
SQL
    # fm_tune on ml_train (90%): SGD regression, 20 trials, 3 folds, the
    # same space and seed for random search and TPE; the winner's RMSE on
    # ml_test (10%) next to the defaults'
    echo
    echo "### fm_tune on ml-latest-small (SGD regression, 20 trials, 3-fold cross-validation of the 90% training rows, 2 threads)"
    echo
    echo "| search | wall seconds | best CV RMSE (sd over folds) | its options | test RMSE of the winner |"
    echo "|---|---|---|---|---|"
    space='{"factors": [16, 32, 64, 128], "learning_rate": {"min": 0.005, "max": 0.2, "log": true}, "reg_factors": {"min": 0.001, "max": 0.3, "log": true}, "reg_linear": {"min": 0.001, "max": 0.3, "log": true}}'
    for strat in defaults random tpe; do
        if [ $strat = defaults ]; then
            call="CALL fm_tune('tune_$strat', 'ml_train', '{\"factors\": [64]}', strategy => 'grid', options => '{\"threads\": 2}')"
        else
            call="CALL fm_tune('tune_$strat', 'ml_train', '$space', strategy => '$strat', trials => 20, seed => 1, options => '{\"threads\": 2}')"
        fi
        t0=$(date +%s.%N)
        psql -X -q -c "SET client_min_messages = warning" -c "$call"
        t1=$(date +%s.%N)
        psql -X -q -At -F' | ' -c "
SELECT '| ' || CASE WHEN '$strat' = 'defaults' THEN 'fm_train defaults (one trial)' ELSE '$strat' END,
       round(($t1 - $t0)::numeric, 1), round(t.score::numeric, 4) || ' (' || round(t.score_sd::numeric, 4) || ')',
       (SELECT string_agg(key || ' ' || value, ', ') FROM jsonb_each_text(t.options - 'threads')),
       (SELECT round(sqrt(avg((fm_predict('tune_$strat', u, i) - rating) ^ 2))::numeric, 4) FROM ml_test) || ' |'
  FROM fm_tune_trials t WHERE t.model = 'tune_$strat' AND t.status = 'best'"
    done
    # the binary task (rating >= 4) against xLearn's FM on the same files:
    # ml-latest-small's 90/10 split and MovieLens-1M-shaped planted data
    echo
    echo "### Binary task (rating >= 4) against xLearn's FM${XLEARN:+ ($XLEARN)}, test AUC, 2 threads"
    echo
    psql -X -q <<SQL
CREATE TABLE s1m AS SELECT user_id AS u, item_id AS i, rating FROM fm_synthetic_ratings(6040, 3706, 1000209, 7);
CREATE TABLE s1m_train AS SELECT * FROM s1m WHERE hashint8(u * 1000003 + i) % 10 <> 0;
CREATE TABLE s1m_test AS SELECT * FROM s1m WHERE hashint8(u * 1000003 + i) % 10 = 0;
SQL
    echo "| data | fmrec defaults: AUC, s | xLearn defaults (k = 4): AUC, s | xLearn k = 64: AUC, s |"
    echo "|---|---|---|---|"
    for d in "ml:ml-latest-small (90/10 by hash)" "s1m:MovieLens-1M-shaped planted (90/10 by hash)"; do
        t=${d%%:*}
        f=$(psql -X -q -At -c "SELECT 1 FROM fm_train('bin_$t', '${t}_train', task => 'binary', threads => 2, quiet => true)" \
                 -c "SELECT round(auc::numeric, 4) || ', ' || (SELECT round((metrics->>'seconds')::numeric, 2) FROM fm_models WHERE name = 'bin_$t')
                     FROM fm_evaluate('bin_$t', '${t}_test') WHERE ranker = 'bin_$t'" | tail -1)
        x4="(XLEARN not set)"
        x64=""
        if [ -n "${XLEARN:-}" ]; then
            for part in train test; do
                psql -X -q -c "\\copy (SELECT (rating >= 4)::int || ' ' || u || ':1 ' || (1000000 + i) || ':1' FROM ${t}_$part ORDER BY hashint8(u * 7 + i)) TO '/tmp/fmrec-bench/xl_$part.txt'"
            done
            for k in 4 64; do
                t0=$(date +%s.%N)
                USER=${USER:-bench} "$XLEARN" /tmp/fmrec-bench/xl_train.txt -s 1 -k $k -nthread 2 -m /tmp/fmrec-bench/xl.model >/dev/null 2>&1
                t1=$(date +%s.%N)
                USER=${USER:-bench} "$(dirname "$XLEARN")/xlearn_predict" /tmp/fmrec-bench/xl_test.txt /tmp/fmrec-bench/xl.model \
                    -o /tmp/fmrec-bench/xl.out --sigmoid -nthread 2 >/dev/null 2>&1
                r="$(/usr/bin/python3 test/bench/auc.py /tmp/fmrec-bench/xl_test.txt /tmp/fmrec-bench/xl.out), $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")"
                [ $k = 4 ] && x4=$r || x64=$r
            done
        fi
        echo "| ${d#*:} | $f | $x4 | $x64 |"
    done
fi
echo
echo "### The request-time paths through a client (pgbench, 10 s each, random ids)"
echo
cat > /tmp/fmrec-bench/topn.sql <<'SQL'
\set u random(1, 6040)
SELECT * FROM fm_topn('bench1', :u, 10);
SQL
cat > /tmp/fmrec-bench/knn.sql <<'SQL'
\set i random(1, 3000)
SELECT * FROM fm_topn('bench_knn', 10, items => ARRAY[:i, :i + 37, :i + 74, :i + 111, :i + 148]::bigint[]);
SQL
cat > /tmp/fmrec-bench/similar.sql <<'SQL'
\set i random(1, 3706)
SELECT * FROM fm_similar_items('bench_knn', :i, 10);
SQL
echo "| request | clients | transactions/s | mean latency |"
echo "|---|---|---|---|"
for f in "topn:(3) fm_topn(user, 10), FM model" "knn:(2) fm_topn for a 5-item session, item_cosine" "similar:(2) fm_similar_items(item, 10), item_cosine"; do
    for c in 1 2; do
        out=$("$PG_BINDIR/pgbench" -n -c $c -j $c -T 10 -f /tmp/fmrec-bench/${f%%:*}.sql 2>&1)
        tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
        lat=$(echo "$out" | sed -n 's/^latency average = \(.*\)$/\1/p')
        echo "| ${f#*:} | $c | ${tps%.*} | $lat |"
    done
done
