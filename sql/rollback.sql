-- Transactions: a retrain is visible after commit only; failures keep the old model.
CREATE SCHEMA rollback_test;
SET search_path = rollback_test, public;
CREATE TABLE r AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(60, 50, 800, 5, 0.3);
SELECT 1 FROM fm_train('m', 'r', factors => 8, epochs => 3, quiet => true);
CREATE TABLE before AS SELECT model, version, fm_predict('m', 1, 2) AS p FROM fm_models WHERE name = 'm';

-- retrain inside a transaction: served at once inside it, gone after rollback
BEGIN;
SELECT 1 FROM fm_train('m', 'r', factors => 8, epochs => 3, seed => 99, quiet => true);
SELECT fm_predict('m', 1, 2) <> b.p AS new_model_inside FROM before b;
ROLLBACK;
SELECT m.model = b.model AS bytes_restored, m.version = b.version AS version_restored,
       fm_predict('m', 1, 2) = b.p AS old_model_served
FROM fm_models m, before b WHERE m.name = 'm';

-- a savepoint rolled back
BEGIN;
SAVEPOINT s;
SELECT 1 FROM fm_train('m', 'r', factors => 8, epochs => 3, seed => 98, quiet => true);
ROLLBACK TO SAVEPOINT s;
SELECT fm_predict('m', 1, 2) = b.p AS old_after_savepoint FROM before b;
COMMIT;

-- a training that fails half-way (bad row late in the input) leaves the model
SELECT 1 FROM fm_train('m', 'SELECT * FROM r UNION ALL SELECT 1, 2, ''NaN''::float8', quiet => true);
SELECT m.model = b.model AS intact_after_error FROM fm_models m, before b WHERE m.name = 'm';

-- a retrain under statement_timeout that expires leaves the model
-- (terse: the timeout may land while the rows are read, with a CONTEXT line)
\set VERBOSITY terse
SET statement_timeout = '50ms';
SELECT 1 FROM fm_train('m', 'SELECT r.* FROM r, generate_series(1, 200)', epochs => 100000, quiet => true);
RESET statement_timeout;
\set VERBOSITY default
SELECT m.model = b.model AS intact_after_timeout FROM fm_models m, before b WHERE m.name = 'm';

-- a committed retrain is served by the next statement
SELECT 1 FROM fm_train('m', 'r', factors => 8, epochs => 3, seed => 97, quiet => true);
SELECT fm_predict('m', 1, 2) <> b.p AS new_model_served FROM before b;
SELECT m.version > b.version AS version_advanced FROM fm_models m, before b WHERE m.name = 'm';

-- a dropped model is no longer served, in the same session
SELECT fm_drop('m');
\set VERBOSITY terse
SELECT fm_predict('m', 1, 2);

CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- a model larger than fmrec.max_model_size (1 GB at most: one value's
-- limit) is refused before anything is stored; the old model stays
SELECT 1 FROM fm_train('keep', 'r', factors => 8, epochs => 2, quiet => true);
CREATE TABLE kept AS SELECT md5(model) AS md5 FROM fm_models WHERE name = 'keep';
SET fmrec.max_model_size = '16kB';
SELECT split_part(try($$SELECT fm_train('keep', 'SELECT g::bigint, g::bigint, 3.0 FROM generate_series(1, 3000) g', factors => 8, epochs => 1, quiet => true)$$), ' (', 1) AS too_large;
SELECT split_part(try($$SELECT fm_train_agg(g, g, 3.0, '{"quiet": true, "epochs": 1}') FROM generate_series(1, 3000) g$$), ' (', 1) AS agg_too_large;
RESET fmrec.max_model_size;
SELECT md5(m.model) = k.md5 AS kept FROM fm_models m, kept k WHERE m.name = 'keep';
SELECT fm_drop('keep');
SELECT try($$SET fmrec.max_model_size = '2GB'$$) LIKE '22023%' AS capped_at_1gb;
