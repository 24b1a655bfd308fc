-- fmrec SQL benchmark, MovieLens-1M-shaped synthetic data (see run-bench.sh)
\set ON_ERROR_STOP 1
\pset tuples_only on
\pset format unaligned
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS fmrec;
DROP TABLE IF EXISTS ml1m;
CREATE TABLE ml1m AS
  SELECT user_id, item_id, rating FROM fm_synthetic_ratings(6040, 3706, 1000209, 1, 0.5);
VACUUM ANALYZE ml1m;
SET max_parallel_workers_per_gather = 0;

-- best wall time of a query over reps runs, in milliseconds
CREATE OR REPLACE FUNCTION pg_temp.best_ms(q text, reps int) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
  best float8 := 'Infinity';
BEGIN
  FOR j IN 1..reps LOOP
    t0 := clock_timestamp();
    EXECUTE q;
    best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1000);
  END LOOP;
  RETURN best;
END $$;

-- p50 / p99 of a serving statement with $1 a user (or item) id, in ms
CREATE OR REPLACE FUNCTION pg_temp.stmt_ms(q text, calls int, ids int)
RETURNS TABLE (p50 float8, p99 float8)
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
  lat float8[] := '{}';
BEGIN
  EXECUTE q USING 1;                           -- load the model into the cache
  FOR j IN 1..calls LOOP
    t0 := clock_timestamp();
    EXECUTE q USING 1 + (j * 7919) % ids;
    lat := lat || extract(epoch FROM clock_timestamp() - t0) * 1000;
  END LOOP;
  RETURN QUERY SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x),
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY x)
               FROM unnest(lat) x;
END $$;

\o /dev/null
SELECT 1 FROM fm_train('bench1', 'ml1m', epochs => 10, threads => 1, quiet => true);
SELECT 1 FROM fm_train('bench2', 'ml1m', epochs => 10, threads => 2, quiet => true);
SELECT 1 FROM fm_train('bench100k',
  'SELECT user_id, item_id, rating FROM fm_synthetic_ratings(6040, 100000, 1000000, 2, 0.5)',
  epochs => 2, quiet => true);
\o

\echo '| measure (SQL, 1,000,209 ratings, 6,040 users, 3,706 items, k = 64) | value |'
\echo '|---|---|'
SELECT format('| rows/s loaded from the table (fm_train, SPI cursor) | %s |',
              to_char((metrics->>'rows_per_second_load')::float8, 'FM999,999,999,999'))
FROM fm_models WHERE name = 'bench1';
SELECT format('| seconds per SGD epoch, threads = %s | %s ms |', hyperparams->>'threads',
              round((metrics->>'seconds_per_epoch')::numeric * 1000, 1))
FROM fm_models WHERE name IN ('bench1', 'bench2') ORDER BY name;
SELECT format('| fm_train total, 10 epochs, threads = 1 (load + train + store) | %s s |',
              round((metrics->>'seconds')::numeric, 2))
FROM fm_models WHERE name = 'bench1';

SELECT pg_temp.best_ms('SELECT sum(rating) FROM ml1m', 5) AS scan_ms \gset
SELECT pg_temp.best_ms('SELECT sum(fm_predict(''bench1'', user_id, item_id)) FROM ml1m', 5) AS predict_ms \gset
SELECT pg_temp.best_ms('SELECT sum(fm_predict(m.model, r.user_id, r.item_id)) FROM ml1m r, fm_models m WHERE m.name = ''bench1''', 5) AS predict_bytes_ms \gset
SELECT format('| plain scan: SELECT sum(rating) over 1M rows | %s ms |', round(:scan_ms::numeric, 1));
SELECT format('| fm_predict(name, user, item) over 1M rows | %s ms (%sx the scan) |',
              round(:predict_ms::numeric, 1), round((:predict_ms / :scan_ms)::numeric, 2));
SELECT format('| fm_predict(model bytea, user, item) over 1M rows | %s ms (%sx the scan) |',
              round(:predict_bytes_ms::numeric, 1), round((:predict_bytes_ms / :scan_ms)::numeric, 2));

SELECT format('| fm_topn(user, 10), %s items | p50 %s ms, p99 %s ms |', 3706,
              round(p50::numeric, 3), round(p99::numeric, 3))
FROM pg_temp.stmt_ms('SELECT * FROM fm_topn(''bench1'', $1, 10)', 3000, 6040);
SELECT format('| fm_topn(user, 10), %s items | p50 %s ms, p99 %s ms |',
              (SELECT n_items FROM fm_models WHERE name = 'bench100k'),
              round(p50::numeric, 3), round(p99::numeric, 3))
FROM pg_temp.stmt_ms('SELECT * FROM fm_topn(''bench100k'', $1, 10)', 1000, 6040);
SELECT format('| model bytes, %s (users + items) x k = 64, with seen lists | %s |',
              to_char(n_users + n_items, 'FM999,999'), to_char(size_bytes, 'FM999,999,999'))
FROM fm_models WHERE name IN ('bench1', 'bench100k') ORDER BY name;

-- The serving architectures (README, "Serving architectures")
\o /dev/null
SELECT 1 FROM fm_train('bench_knn', 'ml1m', task => 'implicit', solver => 'item_cosine', threads => 2, quiet => true);
CREATE TEMP TABLE ml1m_test AS SELECT * FROM ml1m WHERE abs(hashint8(user_id * 1000003 + item_id)) % 10 = 0;
CREATE TEMP TABLE ml1m_train AS SELECT * FROM ml1m WHERE abs(hashint8(user_id * 1000003 + item_id)) % 10 <> 0;
CREATE TEMP TABLE ml1m_late AS SELECT * FROM ml1m_train
  WHERE user_id > 5920 OR abs(hashint8(user_id * 7 + item_id)) % 100 < 3;
CREATE TEMP TABLE ml1m_early AS SELECT * FROM ml1m_train EXCEPT ALL SELECT * FROM ml1m_late;
SELECT 1 FROM fm_train('bench_full', 'ml1m_train', quiet => true);
SELECT 1 FROM fm_train('bench_inc', 'ml1m_early', quiet => true);
SELECT 1 FROM fm_update('bench_inc', 'ml1m_late', replay => 'ml1m_early', options => '{"quiet": true}');
CREATE TEMP TABLE recs (user_id bigint, rank int, item bigint, score float8);
\o


\echo ''
\echo '| serving (SQL, the same 1M ratings) | value |'
\echo '|---|---|'
SELECT pg_temp.best_ms('SELECT count(*) FROM fm_recommend(''bench1'', 20, threads => 1)', 5) AS rec1_ms \gset
SELECT pg_temp.best_ms('SELECT count(*) FROM fm_recommend(''bench1'', 20, threads => 2)', 5) AS rec2_ms \gset
SELECT pg_temp.best_ms('SELECT * FROM fm_recommend(''bench1'', 20, threads => 2) LIMIT 1', 5) AS made2_ms \gset
SELECT pg_temp.best_ms('SELECT count(*) FROM generate_series(1, 6040) u, LATERAL fm_topn(''bench1'', u, 20)', 3) AS lat_ms \gset
SELECT pg_temp.best_ms('TRUNCATE recs; INSERT INTO recs SELECT * FROM fm_recommend(''bench1'', 20, threads => 2)', 3) AS ins_ms \gset
SELECT format('| (1) top-20 for all 6,040 users: fm_recommend, 1 / 2 threads | %s / %s ms |',
              round(:rec1_ms::numeric, 1), round(:rec2_ms::numeric, 1));
SELECT format('| (1) the same, 2 threads, until all lists are made (... LIMIT 1: the function returns its rows at once) | %s ms |',
              round(:made2_ms::numeric, 1));
SELECT format('| (1) the same with LATERAL fm_topn per user | %s ms (%sx fm_recommend on 2 threads) |',
              round(:lat_ms::numeric, 1), round((:lat_ms / :rec2_ms)::numeric, 1));
SELECT format('| (1) INSERT INTO recs SELECT * FROM fm_recommend(...): 120,800 rows written | %s ms |',
              round(:ins_ms::numeric, 1));
SELECT format('| (2) item_cosine model: training (co-occurrence of 1M rows, 20 neighbors), 2 threads | %s s, %s bytes |',
              round((metrics->>'seconds')::numeric, 2), to_char(size_bytes, 'FM999,999,999'))
FROM fm_models WHERE name = 'bench_knn';
SELECT format('| (2) item_cosine fm_topn(user, 10) from the user''s history, 3,706 items | p50 %s ms, p99 %s ms |',
              round(p50::numeric, 3), round(p99::numeric, 3))
FROM pg_temp.stmt_ms('SELECT * FROM fm_topn(''bench_knn'', $1, 10)', 2000, 6040);
SELECT format('| (2) item_cosine fm_topn for a session of 10 items | p50 %s ms, p99 %s ms |',
              round(p50::numeric, 3), round(p99::numeric, 3))
FROM pg_temp.stmt_ms('SELECT * FROM fm_topn(''bench_knn'', 10, items => ARRAY(SELECT $1 + g * 37 FROM generate_series(0, 9) g)::bigint[])', 2000, 3000);
SELECT format('| (2) fm_similar_items(item, 10): item_cosine / FM (cosine of 64 factors) | p50 %s / %s ms |',
              round((SELECT p50 FROM pg_temp.stmt_ms('SELECT * FROM fm_similar_items(''bench_knn'', $1::bigint, 10)', 2000, 3706))::numeric, 3),
              round((SELECT p50 FROM pg_temp.stmt_ms('SELECT * FROM fm_similar_items(''bench1'', $1::bigint, 10)', 2000, 3706))::numeric, 3));
SELECT format('| (3) fm_update on %s late rows (5%%, 120 new users) + %s replayed, vs fm_train on all %s | %s s vs %s s (%s%%) |',
              (SELECT count(*) FROM ml1m_late), 2 * (SELECT count(*) FROM ml1m_late), f.metrics->>'rows',
              round((u.metrics->>'seconds')::numeric, 3), round((f.metrics->>'seconds')::numeric, 2),
              round(100 * (u.metrics->>'seconds')::numeric / (f.metrics->>'seconds')::numeric, 1))
FROM fm_models u, fm_models f WHERE u.name = 'bench_inc' AND f.name = 'bench_full';
SELECT format('| (3) test RMSE (a tenth by hash): updated / retrained / before the update | %s / %s / %s |',
              round(sqrt(avg((fm_predict('bench_inc', user_id, item_id) - rating) ^ 2))::numeric, 4),
              round(sqrt(avg((fm_predict('bench_full', user_id, item_id) - rating) ^ 2))::numeric, 4),
              round(sqrt(avg((fm_predict((SELECT model FROM fm_model_versions WHERE name = 'bench_inc'), user_id, item_id) - rating) ^ 2))::numeric, 4))
FROM ml1m_test;
