-- Every bad input gets a clear error with a specific SQLSTATE.
CREATE SCHEMA errors_test;
SET search_path = errors_test, public;
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TABLE good AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(50, 40, 500, 3, 0.3);
SELECT 1 FROM fm_train('keep', 'good', factors => 4, epochs => 2, quiet => true);
CREATE TABLE kept AS SELECT model, version FROM fm_models WHERE name = 'keep';

-- input data
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1::bigint, ''a''::text, 3', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1.5::float8, 2, 3', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, ''x''::text', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3, ''w''::text AS weight', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3, 1 AS weight, ''NaN''::float8 AS temperature', quiet => true, options => '{"context": "temperature"}')$$);
-- columns after the third are read by name only: a timestamp is no weight
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3, 978300760 AS ts', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3', quiet => true, options => '{"weight": "ts"}')$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3, 4 AS ts', quiet => true, options => '{"context": "tz"}')$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3, 4 AS ts', quiet => true, options => '{"context": "a,,b"}')$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3, 1 AS weight, 2 AS weight', quiet => true)$$);
SELECT try($$SELECT fm_train_agg(1, 2, 3.0, '{"weight": "w"}')$$);
-- bound parameters: each given value used, each used one given
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3 WHERE $1 > 0', params => ARRAY['1', '2'], quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3 WHERE $2 > 0', params => ARRAY['1'], quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3 WHERE $1 > 0', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3 WHERE $1 > 0', params => ARRAY['one'], quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3 WHERE $1 > 0', options => '{"params": [[1]]}', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3 WHERE $1 > 0', params => ARRAY['1'], options => '{"params": [1]}', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3 WHERE $1 > 0', params => ARRAY['1'], quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3 WHERE $1 > 0; DELETE FROM fm_models', params => ARRAY['1'], quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT NULL::int, 2, 3', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, NULL::int, 3', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, NULL::float8', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, ''NaN''::float8', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, ''Infinity''::float8', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, ''-Infinity''::numeric', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 1e300::float8', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3, -1.0 AS weight', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3 WHERE false', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'no_such_table', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT * FROM no_such_table', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELEC 1, 2, 3', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'public.no_such_table', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3; SELECT 1, 2, 3', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3 FROM good FOR UPDATE', quiet => true)$$);
SELECT try($$SELECT fm_train('x', 'WITH d AS (DELETE FROM good RETURNING 1, 2, 3) SELECT * FROM d', quiet => true)$$);
SELECT try($$SELECT fm_train('x', NULL)$$);
SELECT try($$SELECT fm_train(NULL, 'good')$$);
SELECT try($$SELECT fm_train('', 'good')$$);
SELECT try($$SELECT fm_train(repeat('m', 64), 'good')$$);

-- hyperparameters, checked before any work
SELECT try($$SELECT fm_train('x', 'good', factors => 0)$$);
SELECT try($$SELECT fm_train('x', 'good', factors => 100000)$$);
SELECT try($$SELECT fm_train('x', 'good', epochs => -1)$$);
SELECT try($$SELECT fm_train('x', 'good', epochs => 2000000000)$$);
SELECT try($$SELECT fm_train('x', 'good', batch_size => 0)$$);
SELECT try($$SELECT fm_train('x', 'good', learning_rate => 'NaN')$$);
SELECT try($$SELECT fm_train('x', 'good', learning_rate => -0.1)$$);
SELECT try($$SELECT fm_train('x', 'good', reg_factors => 'Infinity')$$);
SELECT try($$SELECT fm_train('x', 'good', reg_linear => -1)$$);
SELECT try($$SELECT fm_train('x', 'good', init_stdev => 1e9)$$);
SELECT try($$SELECT fm_train('x', 'good', validation => 0.9)$$);
SELECT try($$SELECT fm_train('x', 'good', threads => 0)$$);
SELECT try($$SELECT fm_train('x', 'good', threads => 1000)$$);
SELECT try($$SELECT fm_train('x', 'good', task => 'ranking')$$);
SELECT try($$SELECT fm_train('x', 'good', threshold => 'NaN')$$);
SELECT try($$SELECT fm_train('x', 'SELECT 1, 2, 3', validation => 0.5, quiet => true)$$);

-- serving
SELECT try($$SELECT fm_predict('nosuch', 1, 2)$$);
SELECT try($$SELECT * FROM fm_topn('nosuch', 1, 2)$$);
SELECT try($$SELECT fm_predict(1, 2)$$);
SET fmrec.model = 'nosuch';
SELECT try($$SELECT fm_predict(1, 2)$$);
RESET fmrec.model;
SELECT try($$SELECT * FROM fm_topn('keep', 1, -1)$$);
SELECT try($$SELECT * FROM fm_topn('keep', 1, 5, candidates => ARRAY[1, NULL])$$);
SELECT try($$SELECT fm_drop('nosuch')$$);
SELECT try($$SELECT fm_drop(NULL)$$);
SELECT try($$SET fmrec.cache_size = -1$$);
SELECT try($$SET fmrec.threads = 0$$);
SELECT try($$SET fmrec.nosuch = 1$$);

-- none of the failures above touched the existing model
SELECT m.model = k.model AS model_intact, m.version = k.version AS version_intact
FROM fm_models m, kept k WHERE m.name = 'keep';
SELECT count(*) AS models FROM fm_models;

-- the generator's taste: the same rows without it, choices driven by it
SELECT count(*) FROM fm_synthetic_ratings(10, 10, 20, taste => 101);
SELECT count(*) FROM fm_synthetic_ratings(10, 10, 20, taste => -1);
SELECT (SELECT array_agg(row(user_id, item_id, rating)) FROM fm_synthetic_ratings(50, 40, 500, 3, 0.3)) =
       (SELECT array_agg(row(user_id, item_id, rating)) FROM fm_synthetic_ratings(50, 40, 500, 3, 0.3, taste => 0))
       AS taste_0_is_0_1;
SELECT avg(expected) FILTER (WHERE t = 19) > avg(expected) FILTER (WHERE t = 0) + 0.3 AS liked_items_chosen
  FROM (SELECT 0 AS t, expected FROM fm_synthetic_ratings(200, 300, 6000, 3, taste => 0)
        UNION ALL SELECT 19, expected FROM fm_synthetic_ratings(200, 300, 6000, 3, taste => 19)) x;
-- fm_synthetic_truth is the model behind the ratings: it gives every row's expected rating
SELECT count(*) AS rows,
       bool_and(abs(r.expected - least(5, greatest(1, 3.6 + u.bias + i.bias +
           (SELECT sum(a * b) FROM unnest(u.factors, i.factors) AS x(a, b))))) < 1e-5) AS truth_agrees
  FROM fm_synthetic_ratings(50, 40, 500, 3, 0.3, 4, 3) r
  JOIN fm_synthetic_truth(50, 40, 3, 4, 3) u ON u.side = 'user' AND u.id = r.user_id
  JOIN fm_synthetic_truth(50, 40, 3, 4, 3) i ON i.side = 'item' AND i.id = r.item_id;
SELECT side, count(*), round(sum(share)::numeric, 6) AS shares FROM fm_synthetic_truth(50, 40, 3) GROUP BY side ORDER BY side;
