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

-- p50 / p99 of fm_topn(model, user, 10) over many users, in milliseconds
CREATE OR REPLACE FUNCTION pg_temp.topn_ms(model text, calls int, users int)
RETURNS TABLE (p50 float8, p99 float8)
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
  lat float8[] := '{}';
BEGIN
  PERFORM * FROM fm_topn(model, 1, 10);        -- load the model into the cache
  FOR j IN 1..calls LOOP
    t0 := clock_timestamp();
    PERFORM * FROM fm_topn(model, 1 + (j * 7919) % users, 10);
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
FROM pg_temp.topn_ms('bench1', 3000, 6040);
SELECT format('| fm_topn(user, 10), %s items | p50 %s ms, p99 %s ms |',
              (SELECT n_items FROM fm_models WHERE name = 'bench100k'),
              round(p50::numeric, 3), round(p99::numeric, 3))
FROM pg_temp.topn_ms('bench100k', 1000, 6040);
SELECT format('| model bytes, %s (users + items) x k = 64, with seen lists | %s |',
              to_char(n_users + n_items, 'FM999,999'), to_char(size_bytes, 'FM999,999,999'))
FROM fm_models WHERE name IN ('bench1', 'bench100k') ORDER BY name;
