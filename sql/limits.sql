-- Bounded resources, told before the work starts: training memory is
-- estimated and refused past fmrec.max_training_memory (a superuser
-- setting), loading stops as soon as the rows outgrow it, fold-in
-- sessions and candidate lists are capped, values past the range of
-- real are refused instead of turning into NaN, and the training query
-- runs read-only.
CREATE SCHEMA limits_test;
SET search_path = limits_test, public;
CREATE TABLE syn AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(200, 100, 4000, 7, 0.3);
SELECT 1 FROM fm_train('keep', 'syn', factors => 4, epochs => 2, quiet => true);
CREATE TABLE kept AS SELECT md5(model) AS md5, version FROM fm_models WHERE name = 'keep';
SHOW fmrec.max_training_memory;

-- the training estimate: refused before anything is allocated, the
-- previous model of that name untouched
SELECT 1 FROM fm_train('keep', 'SELECT g, g, (g % 5 + 1)::float8 FROM generate_series(1, 131072) g',
                       factors => 1024, epochs => 1, store_seen => false, quiet => true);
SET fmrec.max_training_memory = '4MB';
SELECT 1 FROM fm_train('keep', 'syn', factors => 1024, epochs => 1, quiet => true);
SELECT 1 FROM fm_train('keep', 'syn', factors => 256, solver => 'als', epochs => 1, quiet => true);
SELECT fm_train_agg(user_id, item_id, rating, '{"factors": 1024, "quiet": true}') IS NULL FROM syn;
-- rows that outgrow the limit while they are read
SELECT 1 FROM fm_train('keep', 'SELECT g % 1000, g % 77, 3.0 FROM generate_series(1, 1000000) g', quiet => true);
SELECT fm_train_agg(g % 1000, g % 77, 3.0) IS NULL FROM generate_series(1, 1000000) g;
-- under the limit, training goes on
SELECT users, items FROM fm_train('small', 'syn', factors => 4, epochs => 1, quiet => true);
RESET fmrec.max_training_memory;
SELECT k.md5 = md5(m.model) AND k.version = m.version AS previous_model_kept
  FROM kept k, fm_models m WHERE m.name = 'keep';
SELECT count(*) FROM fm_synthetic_ratings(users => 268435456, items => 100, ratings => 1000);
-- only a superuser (or a role granted SET on it) may change the limit
CREATE ROLE regress_fm_limits;
GRANT USAGE ON SCHEMA limits_test TO regress_fm_limits;
SET ROLE regress_fm_limits;
SET fmrec.max_training_memory = '100GB';
RESET ROLE;

-- fold-in sessions and candidate lists are capped before they are used
SELECT count(*) FROM fm_topn('keep', 10, items => pg_catalog.array_fill(1::bigint, ARRAY[100001]));
SELECT count(*) FROM fm_topn('keep', 10, items => ARRAY[1]::bigint[],
                             ratings => pg_catalog.array_fill(1::float8, ARRAY[100001]));
SELECT count(*) FROM fm_topn('keep', 1, 10, candidates => pg_catalog.array_fill(1::bigint, ARRAY[1000001]));
-- at the caps they work, duplicates and all
SELECT count(*) FROM fm_topn('keep', 10, items => pg_catalog.array_fill(1::bigint, ARRAY[100000]));
SELECT count(*) FROM fm_topn('keep', 1, 2000000000, exclude_seen => false,
                             candidates => pg_catalog.array_fill(1::bigint, ARRAY[1000000]));

-- values past the range of real are errors, not NaN
SELECT * FROM fm_topn('keep', 3, items => ARRAY[1, 2]::bigint[], ratings => ARRAY[5, 1e300]);
SELECT 1 FROM fm_train('ctx', 'SELECT user_id, item_id, rating, (user_id % 7)::float8 AS temp FROM syn',
                       factors => 4, epochs => 1, quiet => true, options => '{"context": "temp"}');
SELECT fm_predict('ctx', 1, 1, '{"temp": 1e300}');
SELECT pg_catalog.round(fm_predict('ctx', 1, 1, '{"temp": 3}')::numeric, 6) IS NOT NULL AS finite;
SELECT 1 FROM fm_train('x', 'SELECT 1, 2, 3, 1e300::float8 AS weight', quiet => true);

-- the training query runs read-only: a function it calls cannot write
CREATE TABLE sink (x int);
CREATE FUNCTION leak(bigint) RETURNS bigint LANGUAGE plpgsql VOLATILE
  AS $$BEGIN INSERT INTO limits_test.sink VALUES ($1); RETURN $1; END$$;
SELECT 1 FROM fm_train('x', 'SELECT limits_test.leak(user_id), item_id, rating FROM limits_test.syn', quiet => true);
SELECT count(*) AS rows_written FROM sink;
-- and the session is read-write again afterwards, in or out of a transaction
SHOW transaction_read_only;
BEGIN;
SELECT 1 FROM fm_train('x', 'syn', factors => 2, epochs => 1, quiet => true);
SHOW transaction_read_only;
INSERT INTO sink VALUES (1);
COMMIT;
SELECT count(*) AS rows_written FROM sink;

-- weight 0 everywhere is nothing to learn, said as such
SELECT 1 FROM fm_train('x', 'SELECT user_id, item_id, rating, 0 AS weight FROM limits_test.syn', quiet => true);

SELECT fm_drop(name) FROM fm_models WHERE name IN ('small', 'ctx', 'x') ORDER BY name;
REVOKE USAGE ON SCHEMA limits_test FROM regress_fm_limits;
DROP ROLE regress_fm_limits;
