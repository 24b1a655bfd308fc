-- Models written by fmrec 0.1.0 (format 1) still decode and score exactly
-- as 0.1.0 scored them.  The fixtures in test/fixtures were made by 0.1.0's
-- own fm_train; this file's expected output was produced by 0.1.0.
\set sgd `cat test/fixtures/sgd.hex`
\set binary `cat test/fixtures/binary.hex`
\set als `cat test/fixtures/als.hex`
\set mcmc `cat test/fixtures/mcmc_side.hex`
\set noseen `cat test/fixtures/noseen.hex`
CREATE TABLE fx (name text PRIMARY KEY, model bytea NOT NULL);
INSERT INTO fx VALUES
    ('sgd', decode(:'sgd', 'hex')),
    ('binary', decode(:'binary', 'hex')),
    ('als', decode(:'als', 'hex')),
    ('mcmc_side', decode(:'mcmc', 'hex')),
    ('noseen', decode(:'noseen', 'hex'));

SELECT name, fm_model_info(model)->>'task' AS task,
       fm_model_info(model)->'factors' AS factors,
       fm_model_info(model)->'users' AS users,
       fm_model_info(model)->'items' AS items,
       fm_model_info(model)->'seen' AS seen,
       fm_model_info(model)->'hyperparams'->>'solver' AS solver
FROM fx ORDER BY name;

-- every pair of a grid, known and unknown ids
SELECT name, u, i, round(fm_predict(model, u, i)::numeric, 6) AS score
FROM fx, generate_series(1, 41, 8) u, generate_series(1, 31, 6) i
ORDER BY name, u, i;

SELECT name, u, t.item, round(t.score::numeric, 6) AS score
FROM fx, generate_series(1, 3) u, fm_topn(model, u, 4) t
ORDER BY name, u, t.score DESC, t.item;

-- side features and context of the MCMC model
SELECT round(fm_predict(model, 3, 5, '{"daypart": "am", "temp": 2}')::numeric, 6) AS ctx,
       round(fm_predict(model, 3, 5, '{"daypart": "pm"}')::numeric, 6) AS pm,
       round(fm_predict(model, 3, 5, '{"flag": "t"}')::numeric, 6) AS flag_t,
       round(fm_predict(model, 3, 5, NULL)::numeric, 6) AS none
FROM fx WHERE name = 'mcmc_side';
SELECT t.item, round(t.score::numeric, 6) AS score
FROM fx, fm_topn(model, 5, user_features => ARRAY['group=1'], items => ARRAY[1, 2, 3]::bigint[]) t
WHERE name = 'mcmc_side' ORDER BY t.score DESC, t.item;


-- Training is unchanged too: the same data, options and seed give the same
-- parameters as the fixtures (the bytes differ only in their format).
CREATE TABLE r AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(users => 40, items => 30, ratings => 600, seed => 7);
CREATE TABLE rc AS SELECT user_id, item_id, rating, 1.0::float8 AS w, (user_id + item_id) % 2 = 0 AS flag,
    CASE WHEN item_id % 3 = 0 THEN 'am' ELSE 'pm' END AS daypart, (item_id % 5)::float8 AS temp FROM r;
CREATE TABLE f AS SELECT id, feature FROM fm_synthetic_features(users => 40, items => 30, seed => 7, genres => 4, groups => 3) WHERE side = 'item';
CREATE TABLE uf AS SELECT id, feature FROM fm_synthetic_features(users => 40, items => 30, seed => 7, genres => 4, groups => 3) WHERE side = 'user';
SELECT name FROM fm_train('sgd', 'r', factors => 4, epochs => 5, quiet => true);
SELECT name FROM fm_train('binary', 'r', task => 'binary', factors => 4, epochs => 5, quiet => true);
SELECT name FROM fm_train('als', 'r', solver => 'als', factors => 3, epochs => 3, quiet => true);
SELECT name FROM fm_train('mcmc_side', 'rc', solver => 'mcmc', factors => 3, epochs => 6, quiet => true, user_features => 'uf', item_features => 'f',
                       options => '{"weight": "w", "context": "*"}');
SELECT name FROM fm_train('noseen', 'r', factors => 2, epochs => 2, store_seen => false, quiet => true);
SELECT fx.name, count(*) AS pairs,
       count(*) FILTER (WHERE fm_predict(fx.model, u, i) = fm_predict(fx.name, u, i)) AS identical
FROM fx, generate_series(0, 41) u, generate_series(0, 31) i
GROUP BY fx.name ORDER BY fx.name;
SELECT count(*) AS contexts_identical FROM fx,
    (VALUES ('{"daypart": "am", "temp": 2}'::jsonb), ('{"daypart": "pm"}'), ('{}')) c(ctx),
    generate_series(1, 40) u
WHERE fx.name = 'mcmc_side' AND fm_predict(fx.model, u, 5, ctx) = fm_predict('mcmc_side', u, 5, ctx);
DROP TABLE fx, r, rc, f, uf;
SELECT fm_drop(name) FROM fm_models
WHERE name IN ('sgd', 'binary', 'als', 'mcmc_side', 'noseen') ORDER BY name;
