-- ALTER EXTENSION fmrec UPDATE from 0.1.0: a model stored by 0.1.0 serves
-- the same scores afterwards, and the upgraded objects match 0.2.0's.
DROP EXTENSION fmrec;
CREATE EXTENSION fmrec VERSION '0.1.0';
CREATE TABLE up_r AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(40, 30, 500, 3, 0.5);
SELECT name FROM fm_train('old', 'up_r', factors => 4, epochs => 3, quiet => true);
CREATE TABLE up_scores AS
  SELECT u, i, fm_predict('old', u, i) AS score FROM generate_series(1, 40) u, generate_series(1, 30) i;
CREATE TABLE up_bytes AS SELECT model FROM fm_models WHERE name = 'old';
-- and a model in 0.1.0's own bytes (format 1), as 0.1.0 stored it
\set sgd `cat test/fixtures/sgd.hex`
INSERT INTO fm_models (name, task, solver, hyperparams, metrics, n_rows, n_users, n_items, size_bytes, created_at, model)
VALUES ('fixture', 'regression', 'sgd', '{}', '{}', 600, 40, 30, 0, now(), decode(:'sgd', 'hex'));
CREATE TABLE up_fx AS
  SELECT u, i, fm_predict('fixture', u, i) AS score FROM generate_series(1, 40) u, generate_series(1, 30) i;
ALTER EXTENSION fmrec UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'fmrec';
SELECT count(*) AS pairs, count(*) FILTER (WHERE fm_predict('old', u, i) = score) AS same
FROM up_scores;
SELECT count(*) AS pairs, count(*) FILTER (WHERE fm_predict('fixture', u, i) = score) AS same_format1
FROM up_fx;
SELECT fm_model_info(model)->>'format_version' AS fixture_format FROM fm_models WHERE name = 'fixture';
SELECT (SELECT model FROM fm_models WHERE name = 'old') = (SELECT model FROM up_bytes) AS bytes_kept,
       owner = current_user::regrole AS owned_by_updater
FROM fm_models WHERE name = 'old';
-- retraining writes format 2; the new signature takes options
SELECT name FROM fm_train('old', 'up_r', options => '{"num_factors": 4, "epochs": 3, "quiet": true}');
SELECT substr(encode(model, 'escape'), 1, 4) AS magic, (fm_model_info(model)->>'format_version') AS format
FROM fm_models WHERE name = 'old';
-- the aggregate's arguments have names now
SELECT pg_get_function_arguments('fm_train_agg(bigint, bigint, float8, jsonb)'::regprocedure);
-- the same objects as a fresh 0.2.0 install (functions and their argument lists)
CREATE TEMP TABLE upgraded AS
  SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args, p.provolatile
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
  JOIN pg_extension e ON e.oid = d.refobjid WHERE e.extname = 'fmrec';
DROP TABLE up_scores, up_bytes, up_fx;
SELECT fm_drop('old'), fm_drop('fixture');
DROP EXTENSION fmrec;
CREATE EXTENSION fmrec;
SELECT count(*) AS differences FROM (
  (SELECT proname, args, provolatile FROM upgraded
   EXCEPT SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.provolatile
   FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
   JOIN pg_extension e ON e.oid = d.refobjid WHERE e.extname = 'fmrec')
  UNION ALL
  (SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.provolatile
   FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
   JOIN pg_extension e ON e.oid = d.refobjid WHERE e.extname = 'fmrec'
   EXCEPT SELECT proname, args, provolatile FROM upgraded)) x;
SELECT count(*) AS columns_without_comment FROM pg_attribute a
WHERE a.attrelid IN ('fm_models'::regclass, 'fm_model_grants'::regclass) AND a.attnum > 0
  AND NOT a.attisdropped AND col_description(a.attrelid, a.attnum) IS NULL;
DROP TABLE up_r;
