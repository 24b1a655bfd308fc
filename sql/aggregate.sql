-- fm_train_agg: a model from an aggregate, equal to fm_train's for the same data and seed.
CREATE SCHEMA aggregate_test;
SET search_path = aggregate_test, public;
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TABLE ratings AS
  SELECT user_id, item_id, rating FROM fm_synthetic_ratings(100, 80, 2000, 9, 0.3);

CREATE TABLE my_models AS
  SELECT fm_train_agg(user_id, item_id, rating, '{"factors": 8, "epochs": 5, "task": "binary", "quiet": true}') AS model
  FROM ratings;
SELECT 1 FROM fm_train('same', 'ratings', factors => 8, epochs => 5, task => 'binary', quiet => true);
SELECT a.model = m.model AS identical_to_fm_train FROM my_models a, fm_models m WHERE m.name = 'same';
SELECT fm_model_info(model)->>'task' AS task FROM my_models;

-- serving from the user's table
SELECT round(fm_predict(model, 1, 2)::numeric, 6) = round(fm_predict('same', 1, 2)::numeric, 6) AS same_score
FROM my_models;
SELECT count(*) FROM my_models, fm_topn(model, 1, 10) t;

-- input order does not matter
SELECT (SELECT fm_train_agg(user_id, item_id, rating, '{"factors": 8, "epochs": 5, "task": "binary", "quiet": true}'
                            ORDER BY rating DESC, item_id) FROM ratings)
     = (SELECT model FROM my_models) AS order_independent;

-- SageMaker's option names are accepted
SELECT i->>'task' AS task, i->'factors' AS factors, i->'hyperparams'->'batch_size' AS batch_size
FROM (SELECT fm_model_info(fm_train_agg(user_id, item_id, rating,
         '{"num_factors": 4, "mini_batch_size": 100, "predictor_type": "regressor", "epochs": 1, "quiet": true}')) AS i
      FROM ratings) s;
SELECT fm_model_info(fm_train_agg(user_id, item_id, rating,
         '{"num_factors": 3, "predictor_type": "binary_classifier", "epochs": 1, "quiet": true}'))->>'task'
FROM ratings;
-- the three-argument form uses the defaults (and reports progress: hidden here)
SET client_min_messages = warning;
SELECT fm_model_info(fm_train_agg(user_id, item_id, rating))->'factors' AS default_factors
FROM (SELECT * FROM ratings LIMIT 100) r;
RESET client_min_messages;

-- over no rows: NULL, like sum()
SELECT fm_train_agg(user_id, item_id, rating, '{}') IS NULL AS null_on_empty FROM ratings WHERE false;

-- errors
SELECT try($$SELECT fm_train_agg(user_id, item_id, rating, '{"factorz": 3}') FROM ratings$$);
SELECT try($$SELECT fm_train_agg(user_id, item_id, rating, '{"factors": "many"}') FROM ratings$$);
SELECT try($$SELECT fm_train_agg(user_id, item_id, rating, '{"factors": 2.5}') FROM ratings$$);
SELECT try($$SELECT fm_train_agg(user_id, item_id, rating, '{"factors": 0}') FROM ratings$$);
SELECT try($$SELECT fm_train_agg(user_id, item_id, rating, '[1, 2]') FROM ratings$$);
SELECT try($$SELECT fm_train_agg(user_id, NULL, rating, '{}') FROM ratings$$);
SELECT try($$SELECT fm_train_agg(user_id, item_id, 'NaN', '{}') FROM ratings$$);

-- a parallel plan: partial aggregates in workers, combined, same model
CREATE TABLE big AS SELECT * FROM ratings, generate_series(1, 3) AS copy;
ANALYZE big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT fm_train_agg(user_id, item_id, rating, '{"factors": 4, "epochs": 2, "quiet": true}') FROM big;
CREATE TABLE parallel_model AS
  SELECT fm_train_agg(user_id, item_id, rating, '{"factors": 4, "epochs": 2, "quiet": true}') AS model FROM big;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
SET max_parallel_workers_per_gather = 0;
SELECT p.model = (SELECT fm_train_agg(user_id, item_id, rating, '{"factors": 4, "epochs": 2, "quiet": true}') FROM big)
  AS parallel_equals_serial
FROM parallel_model p;

-- the aggregate always trains on one thread: fmrec.threads does not change
-- its bytes (IMMUTABLE is honest), and a threads option other than 1 is refused
SET fmrec.threads = 2;
-- (the options refer to g, so each of the four is a training of its own)
SELECT count(*) AS trainings, count(DISTINCT md5(m)) AS distinct_models FROM (
  SELECT (SELECT fm_train_agg(user_id, item_id, rating,
                 jsonb_build_object('factors', 4, 'epochs', 3, 'quiet', true, 'seed', 42 + 0 * g))
          FROM big) AS m
  FROM generate_series(1, 4) g) x;
RESET fmrec.threads;
-- the same bytes as fm_train with one thread
SELECT 1 FROM fm_train('agg_ref', 'SELECT user_id, item_id, rating FROM big', factors => 4, epochs => 3, threads => 1, quiet => true);
SET fmrec.threads = 2;
SELECT (SELECT fm_train_agg(user_id, item_id, rating, '{"factors": 4, "epochs": 3, "quiet": true}') FROM big) =
       (SELECT model FROM fm_models WHERE name = 'agg_ref') AS same_as_fm_train_one_thread;
RESET fmrec.threads;
SELECT fm_drop('agg_ref');
DO $$
BEGIN
  PERFORM fm_train_agg(user_id, item_id, rating, '{"threads": 2, "quiet": true}') FROM big;
EXCEPTION WHEN invalid_parameter_value THEN
  RAISE NOTICE 'refused: %', SQLERRM;
END $$;
DO $$
BEGIN
  PERFORM fm_train_agg(user_id, item_id, rating, '{"item_features": "SELECT 1, ''g''", "quiet": true}') FROM big;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'refused: %', SQLERRM;
END $$;
