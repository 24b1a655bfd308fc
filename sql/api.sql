-- The SQL API on a small planted data set.
CREATE SCHEMA api_test;
SET search_path = api_test, public;
SET extra_float_digits = 0;
CREATE TABLE ratings AS
  SELECT user_id, item_id, rating FROM fm_synthetic_ratings(200, 150, 6000, 1, 0.3);
SELECT count(*), count(DISTINCT user_id) AS users, count(DISTINCT item_id) AS items,
       min(rating) >= 1 AND max(rating) <= 5 AS in_range
FROM ratings;

-- train from a table name
SELECT name, rows_used, users, items, epochs_run, best_epoch, valid_rmse IS NULL AS no_validation,
       train_loss < 1 AS learned, model_bytes > 0 AS has_bytes
FROM fm_train('movies', 'ratings', factors => 16, epochs => 10, quiet => true);

-- the catalog row
SELECT name, task, solver, n_rows, n_users, n_items, size_bytes = octet_length(model) AS size_ok,
       hyperparams->>'factors' AS factors, hyperparams->>'epochs' AS epochs,
       hyperparams->>'seed' AS seed, metrics->>'epochs_run' AS epochs_run,
       metrics ? 'train_rmse' AS has_rmse, version > 0 AS versioned, created_at <= now() AS dated
FROM fm_models;

-- one score, three ways: by name, by setting, by bytes
SELECT round(fm_predict('movies', 1, 2)::numeric, 4) = round(fm_predict(model, 1, 2)::numeric, 4) AS same
FROM fm_models WHERE name = 'movies';
SET fmrec.model = 'movies';
SELECT fm_predict(1, 2) = fm_predict('movies', 1, 2) AS same_by_setting;
SELECT bool_and(p BETWEEN 1 AND 5) AS clipped_to_range
FROM (SELECT fm_predict('movies', user_id, item_id) AS p FROM ratings) s;

-- top-n: n rows, best first, ties by item id, seen items left out
SELECT count(*) AS n FROM fm_topn('movies', 1, 10);
SELECT bool_and(score >= next_score) AS best_first
FROM (SELECT score, lead(score, 1, '-Infinity') OVER (ORDER BY ord) AS next_score
      FROM fm_topn('movies', 1, 20) WITH ORDINALITY AS t(item, score, ord)) s;
SELECT count(*) AS seen_in_topn
FROM fm_topn('movies', 1, 1000) t JOIN ratings r ON r.user_id = 1 AND r.item_id = t.item;
SELECT (SELECT count(*) FROM fm_topn('movies', 1, 1000))
     + (SELECT count(DISTINCT item_id) FROM ratings WHERE user_id = 1) AS all_items;
SELECT count(*) AS with_seen FROM fm_topn('movies', 1, 1000, exclude_seen => false);
SELECT count(*) AS zero FROM fm_topn('movies', 1, 0);
SELECT count(*) AS two_argument_form FROM fm_topn(1, 5);
-- the reported score is fm_predict's
SELECT bool_and(abs(score - fm_predict('movies', 1, item)) < 1e-5) AS score_is_predict
FROM fm_topn('movies', 1, 10);

-- candidates: only those, deduplicated, unknown ones scored by the user side
SELECT count(*) AS candidates FROM fm_topn('movies', 1, 10, candidates => ARRAY[2, 3, 3, 4, 999999]);
SELECT item FROM fm_topn('movies', 1, 10, candidates => ARRAY[999999]);
SELECT count(*) AS empty_candidates FROM fm_topn('movies', 1, 10, candidates => '{}');

-- unknown ids are not errors: unknown user = item bias ranking (cold start)
SELECT fm_predict('movies', -42, 2) IS NOT NULL AS unknown_user,
       fm_predict('movies', 1, -42) IS NOT NULL AS unknown_item,
       fm_predict('movies', -42, -42) IS NOT NULL AS both_unknown;
SELECT count(*) AS cold_start_items FROM fm_topn('movies', 9223372036854775807, 10);
SELECT bool_and(t.score = fm_predict('movies', 9223372036854775807, t.item)) AS cold_scores
FROM fm_topn('movies', 9223372036854775807, 10) t;
-- NULL arguments: STRICT functions return NULL, fm_topn returns no rows
SELECT fm_predict('movies', NULL, 2) IS NULL AS null_user;
SELECT count(*) FROM fm_topn('movies', NULL, 10);

-- a query source with other integer and numeric types, and a weight column
SELECT name, rows_used, users, items
FROM fm_train('typed', $$WITH r AS (SELECT user_id::int AS u, item_id::smallint AS i,
                                    rating::numeric(4,2) AS y, 2.0::real AS w FROM ratings)
                        SELECT u, i, y, w AS weight FROM r$$, factors => 4, epochs => 2, quiet => true);

-- the weight is the column named weight, or the one the weight option
-- names; the same weights give the same model, and they change it
SELECT 1 FROM fm_train('w_named', 'SELECT user_id, item_id, rating, (user_id % 3)::float8 AS weight FROM ratings',
                       factors => 4, epochs => 3, quiet => true);
SELECT 1 FROM fm_train('w_option', 'SELECT user_id, item_id, rating, (user_id % 3)::float8 AS w FROM ratings',
                       factors => 4, epochs => 3, quiet => true, options => '{"weight": "w"}');
SELECT 1 FROM fm_train('w_none', 'SELECT user_id, item_id, rating FROM ratings', factors => 4, epochs => 3, quiet => true);
SELECT a.model = b.model AS same_weights_same_model, a.model <> c.model AS weights_count
FROM fm_models a, fm_models b, fm_models c
WHERE a.name = 'w_named' AND b.name = 'w_option' AND c.name = 'w_none';

-- bound parameters: $1..$n take the types the query gives them, and the
-- rows (and so the model) are the literal query's
SELECT rows_used FROM fm_train('lit', 'SELECT user_id, item_id, rating FROM ratings WHERE user_id <= 100 AND rating >= 2.5',
                               factors => 4, epochs => 3, quiet => true);
SELECT rows_used FROM fm_train('par', 'SELECT user_id, item_id, rating FROM ratings WHERE user_id <= $1 AND rating >= $2',
                               params => ARRAY['100', '2.5'], factors => 4, epochs => 3, quiet => true);
SELECT rows_used FROM fm_train('par_json', 'SELECT user_id, item_id, rating FROM ratings WHERE user_id <= $1 AND rating >= $2',
                               options => '{"params": [100, "2.5"]}', factors => 4, epochs => 3, quiet => true);
SELECT a.model = b.model AND a.model = c.model AS params_same_model
FROM fm_models a, fm_models b, fm_models c WHERE a.name = 'lit' AND b.name = 'par' AND c.name = 'par_json';
SELECT fm_drop(n) FROM unnest(ARRAY['w_named', 'w_option', 'w_none', 'lit', 'par', 'par_json']) n;

-- huge and negative ids are just ids
SELECT users, items FROM fm_train('extreme', $$VALUES (-9223372036854775808, 9223372036854775807, 1.0),
                                                      (9223372036854775807, -1, 5.0),
                                                      (0, 0, 3.0)$$, epochs => 50, quiet => true);
SELECT item FROM fm_topn('extreme', -9223372036854775808, 5, exclude_seen => false) ORDER BY item;

-- binary task: probabilities, label = rating >= threshold
SELECT name, users FROM fm_train('liked', 'ratings', task => 'binary', threshold => 4,
                                 factors => 8, epochs => 5, quiet => true);
SELECT bool_and(p > 0 AND p < 1) AS probabilities
FROM (SELECT fm_predict('liked', user_id, item_id) AS p FROM ratings LIMIT 500) s;
SELECT task, metrics ? 'train_logloss' AS logloss FROM fm_models WHERE name = 'liked';

-- validation hold-out and early stopping
SELECT valid_rmse IS NOT NULL AS validated, best_epoch <= epochs_run AS best_kept
FROM fm_train('validated', 'ratings', validation => 0.2, epochs => 30, factors => 8, quiet => true);
SELECT valid_auc > 0.5 AS auc_better_than_chance, valid_logloss IS NOT NULL AS logloss
FROM fm_train('validated_binary', 'ratings', task => 'binary', validation => 0.2, epochs => 10,
              factors => 8, quiet => true);

-- determinism: same data + seed + one thread = identical bytes
CREATE TABLE snapshot AS SELECT model FROM fm_models WHERE name = 'movies';
SELECT 1 FROM fm_train('movies', 'SELECT * FROM ratings ORDER BY rating, item_id DESC',
                       factors => 16, epochs => 10, quiet => true);
SELECT s.model = m.model AS identical FROM snapshot s, fm_models m WHERE m.name = 'movies';
SELECT 1 FROM fm_train('movies', 'ratings', factors => 16, epochs => 10, seed => 7, quiet => true);
SELECT s.model <> m.model AS other_seed_differs FROM snapshot s, fm_models m WHERE m.name = 'movies';

-- retraining replaces the row and the next statement serves the new model
SELECT count(*) FROM fm_models WHERE name = 'movies';
SELECT fm_predict('movies', 1, 2) <> fm_predict(s.model, 1, 2) AS serves_new FROM snapshot s;

-- model info from bytes
SELECT i->>'task' AS task, i->'factors' AS factors, i->'users' AS users, i->'items' AS items,
       i->'hyperparams'->>'seed' AS seed, (i->'metrics'->>'rows')::int AS rows
FROM (SELECT fm_model_info(model) AS i FROM fm_models WHERE name = 'movies') s;

-- store_seen => false keeps no seen lists: nothing is excluded
SELECT 1 FROM fm_train('unseen', 'ratings', factors => 4, epochs => 1, store_seen => false, quiet => true);
SELECT count(*) AS all_items FROM fm_topn('unseen', 1, 1000);

-- dropping
SELECT fm_drop('unseen');
SELECT fm_drop('unseen', if_exists => true);
SELECT count(*) FROM fm_models WHERE name = 'unseen';
SELECT name FROM fm_models ORDER BY name;
