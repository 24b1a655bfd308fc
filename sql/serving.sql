-- The serving architectures: lists for many users at once, similar items,
-- item-item models, model versions and continual updates.
CREATE TABLE sv AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(300, 120, 9000, 11);
SELECT name FROM fm_train('sv', 'sv', factors => 8, epochs => 5, quiet => true);
SELECT name FROM fm_train('svi', 'sv', task => 'implicit', factors => 8, epochs => 4, quiet => true);

-- fm_model_info by name: the served version's bytes, as by bytes
SELECT fm_model_info('sv') = (SELECT fm_model_info(model) FROM fm_models WHERE name = 'sv') AS same_info,
       fm_model_info('sv')->>'task' AS task, fm_model_info('svi')->>'task' AS implicit_task;
SELECT fm_model_info('nosuch');

-- factors out: w0 + b_u + b_i + <p_u, q_i> from them is fm_predict's raw score
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE abs((SELECT (fm_model_info('sv')->>'global_bias')::float8) + u.bias + i.bias +
                                  (SELECT sum(a * b) FROM unnest(u.factors, i.factors) t(a, b)) -
                                  fm_predict('sv', u.user_id, i.item_id)) < 1e-4) AS reconstructed
FROM (SELECT * FROM fm_user_factors('sv') WHERE user_id <= 5) u,
     (SELECT * FROM fm_item_factors('sv') WHERE item_id <= 5) i
WHERE fm_predict('sv', u.user_id, i.item_id) > 1 AND fm_predict('sv', u.user_id, i.item_id) < 5;
SELECT count(*) AS items, min(cardinality(factors)) AS k FROM fm_item_factors('sv');
-- a binary model's label
SELECT name FROM fm_train('svb', 'sv', task => 'binary', factors => 8, epochs => 3, quiet => true);
SELECT count(*) FILTER (WHERE fm_predict_label('svb', u, i) = (fm_predict('svb', u, i) >= 0.5)::int) AS agree,
       count(*) FILTER (WHERE fm_predict_label('svb', u, i, 0.0) = 1) AS all_at_zero
FROM generate_series(1, 10) u, generate_series(1, 10) i;
SELECT fm_predict_label('sv', 1, 1);
SELECT fm_predict_label('svb', 1, 1, 2);

-- fm_recommend: the lists of fm_topn, for every user, on any thread count
CREATE TABLE lat AS
  SELECT u AS user_id, t.ord::int AS rank, t.item, t.score
  FROM generate_series(-2, 302) u, fm_topn('sv', u, 7) WITH ORDINALITY t(item, score, ord);
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.item = l.item AND b.score = l.score) AS identical
FROM fm_recommend('sv', 7, users => ARRAY(SELECT generate_series(-2, 302)::bigint)) b
FULL JOIN lat l USING (user_id, rank);
SELECT (SELECT count(*) FROM fm_recommend('sv', 7)) AS all_users,
       (SELECT count(DISTINCT user_id) FROM fm_recommend('sv', 7)) AS distinct_users;
-- threads give the same lists
SELECT count(*) AS differ FROM (
  (SELECT * FROM fm_recommend('svi', 5, threads => 1) EXCEPT SELECT * FROM fm_recommend('svi', 5, threads => 2))
  UNION ALL
  (SELECT * FROM fm_recommend('svi', 5, threads => 2) EXCEPT SELECT * FROM fm_recommend('svi', 5, threads => 1))) d;
-- an implicit model: known users by their vectors, unknown ones by popularity
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.item = l.item AND b.score = l.score) AS identical
FROM fm_recommend('svi', 4, users => ARRAY[1, 2, 999]) b
FULL JOIN (SELECT u AS user_id, t.ord::int AS rank, t.item, t.score
           FROM unnest(ARRAY[1, 2, 999]) u, fm_topn('svi', u, 4) WITH ORDINALITY t(item, score, ord)) l
USING (user_id, rank);
-- candidates, exclusions and exclude_seen, as fm_topn takes them
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.item = l.item AND b.score = l.score) AS identical
FROM fm_recommend('sv', 3, users => ARRAY[1, 5, 5], candidates => ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 500],
                  exclude => ARRAY[3], exclude_seen => false) b
FULL JOIN (SELECT x.user_id, x.rank, t.ord::int AS r2, t.item, t.score
           FROM (VALUES (1, 1), (5, 2), (5, 3)) x(user_id, rank),
                fm_topn('sv', x.user_id, 3, candidates => ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 500],
                        exclude_seen => false, exclude => ARRAY[3]) WITH ORDINALITY t(item, score, ord)) l
ON b.user_id = l.user_id AND b.rank = l.r2 AND b.item = l.item;
SELECT user_id, count(*) FROM fm_recommend('sv', 3, users => ARRAY[1, 5, 5]) GROUP BY user_id ORDER BY user_id;
SELECT count(*) AS none FROM fm_recommend('sv', 0);
SELECT * FROM fm_recommend('sv', -1);
SELECT * FROM fm_recommend('sv', 3, threads => 0);
SELECT * FROM fm_recommend('sv', 3, users => ARRAY[1, NULL]);

-- fm_topn's exclusions
SELECT count(*) AS listed, count(*) FILTER (WHERE item IN (SELECT item FROM fm_topn('sv', 1, 3))) AS excluded_listed
FROM fm_topn('sv', 1, 10, exclude => ARRAY(SELECT item FROM fm_topn('sv', 1, 3)));
SELECT count(*) FROM fm_topn('sv', 10, items => ARRAY[1, 2]::bigint[], exclude => ARRAY[3, 4]::bigint[])
WHERE item IN (1, 2, 3, 4);

-- fm_similar_items: cosines in [-1, 1], best first, the query left out
SELECT count(*) AS n, bool_and(similarity BETWEEN -1 AND 1) AS cosines,
       bool_and(item <> 1) AS query_left_out
FROM fm_similar_items('sv', 1, 10);
SELECT count(*) FILTER (WHERE item = 1) AS with_query, max(similarity) <= 1.0000001 AS bounded
FROM fm_similar_items('sv', 1, 200, include_query => true);
SELECT (SELECT item FROM fm_similar_items('sv', 1, 1, include_query => true)) AS most_like_itself;
SELECT count(*) FROM fm_similar_items('sv', 1, 10, candidates => ARRAY[2, 3, 4, 999]);
SELECT count(*) FROM fm_similar_items('sv', ARRAY[1, 2], 10, exclude => ARRAY[3]) WHERE item IN (1, 2, 3);
SELECT count(*) AS unknown FROM fm_similar_items('sv', 999999, 10);
SELECT * FROM fm_similar_items('sv', 1, -1);

-- An item-item model (item_cosine) on choices whose similarities are
-- known: items 1 and 2 are always chosen together, 3 with half of them.
CREATE TABLE co AS
  SELECT u AS user_id, i AS item_id FROM generate_series(1, 40) u, (VALUES (1), (2)) v(i)
  UNION ALL SELECT u, 3 FROM generate_series(1, 20) u
  UNION ALL SELECT u, 4 FROM generate_series(41, 60) u;
SELECT name, users, items FROM fm_train('co', 'co', task => 'implicit', solver => 'item_cosine', quiet => true);
SELECT item, round(similarity::numeric, 4) AS similarity FROM fm_similar_items('co', 1, 5);
SELECT item, round(score::numeric, 4) AS score FROM fm_topn('co', 3, items => ARRAY[3]::bigint[]);
-- a user who chose item 1 only: 2 first, 3 next, never 4 (no co-occurrence)
INSERT INTO co VALUES (61, 1);
SELECT name FROM fm_train('co', 'co', task => 'implicit', solver => 'item_cosine', quiet => true);
SELECT item, round(score::numeric, 4) AS score FROM fm_topn('co', 61, 3);
SELECT round(fm_predict('co', 61, 2)::numeric, 4) AS predict_2, round(fm_predict('co', 61, 4)::numeric, 4) AS predict_4;
-- nothing known: popularity
SELECT item, score FROM fm_topn('co', 12345, 2);
SELECT fm_model_info(model)->'neighbors' AS neighbors, hyperparams->'neighbors' AS kept
FROM fm_models WHERE name = 'co';
SELECT * FROM fm_item_factors('co');
SELECT * FROM fm_train('co2', 'co', solver => 'item_cosine');
SELECT * FROM fm_update('co', 'co');

-- Versions: each write keeps the row it replaces
SET fmrec.keep_versions = 2;
CREATE TABLE v1 AS SELECT model FROM fm_models WHERE name = 'sv';
SELECT name FROM fm_train('sv', 'sv', factors => 8, epochs => 6, quiet => true);
SELECT name FROM fm_train('sv', 'sv', factors => 8, epochs => 7, quiet => true);
SELECT count(*) AS versions, count(*) FILTER (WHERE serving) AS serving FROM fm_versions('sv');
SELECT fm_rollback('sv', (SELECT min(version) FROM fm_model_versions WHERE name = 'sv')) > 0 AS rolled_back;
SELECT (SELECT model FROM fm_models WHERE name = 'sv') = (SELECT model FROM v1) AS same_bytes,
       (SELECT metrics ? 'restored_from' FROM fm_models WHERE name = 'sv') AS marked;
SELECT count(*) FROM lat l WHERE l.user_id > 0 AND l.score <> fm_predict('sv', l.user_id, l.item);
SELECT count(*) AS versions FROM fm_versions('sv');
SELECT fm_rollback('sv', 1);
SELECT fm_rollback('nosuch');
SET fmrec.keep_versions = 0;
SELECT name FROM fm_train('sv', 'sv', factors => 8, epochs => 4, quiet => true);
SELECT count(*) AS versions FROM fm_versions('sv');
RESET fmrec.keep_versions;
-- deploy rules: the best kept version by a stored metric, the latest trained
SELECT name FROM fm_train('dp', 'sv', factors => 8, epochs => 2, validation => 0.2, quiet => true);
SELECT name FROM fm_train('dp', 'sv', factors => 8, epochs => 30, validation => 0.2, quiet => true);
SELECT name FROM fm_train('dp', 'sv', factors => 8, epochs => 1, validation => 0.2, quiet => true);
SELECT fm_deploy('dp') > 0 AS deployed;
SELECT (SELECT metrics->>'valid_rmse' FROM fm_models WHERE name = 'dp')::float8 =
       (SELECT min((metrics->>'valid_rmse')::float8) FROM fm_versions('dp')) AS best_served;
SELECT fm_deploy('dp') = (SELECT version FROM fm_models WHERE name = 'dp') AS already_served;
SELECT fm_deploy('dp', 'most_recent') > 0 AS deployed;
SELECT (SELECT created_at FROM fm_models WHERE name = 'dp') =
       (SELECT max(created_at) FROM fm_versions('dp')) AS latest_served;
SELECT fm_deploy('dp', 'best', 'no_such_metric');
SELECT fm_deploy('dp', 'sideways');
-- A/B: a fixed variant per user, about even
SELECT fm_variant(7, ARRAY['a', 'b']) = fm_variant(7, ARRAY['a', 'b']) AS stable,
       fm_variant(7, ARRAY['a', 'b'], 'exp2') IN ('a', 'b') AS salted;
SELECT v, count(*) BETWEEN 450 AND 550 AS even FROM (
  SELECT fm_variant(u, ARRAY['a', 'b']) v FROM generate_series(1, 1000) u) x GROUP BY v ORDER BY v;

-- fm_update: new users and items join, known ones are refined, the seen
-- lists and counts grow
CREATE TABLE up_old AS SELECT * FROM sv WHERE user_id <= 250;
CREATE TABLE up_new AS SELECT * FROM sv WHERE user_id > 250 UNION ALL SELECT 1, 1000, 5;
SELECT name FROM fm_train('up', 'up_old', factors => 8, epochs => 5, quiet => true);
SELECT name, new_rows, replayed_rows, users, items, epochs_run
FROM fm_update('up', 'up_new', replay => 'up_old', options => '{"quiet": true}');
SELECT n_rows, n_users, n_items, hyperparams->>'solver' AS solver FROM fm_models WHERE name = 'up';
SELECT count(*) AS old_seen_listed FROM fm_topn('up', 1, 200) t
WHERE t.item IN (SELECT item_id FROM up_old WHERE user_id = 1) OR t.item = 1000;
SELECT fm_predict('up', 300, 5) BETWEEN 1 AND 5 AS new_user_scored;
SELECT name, replayed_rows FROM fm_update('up', 'up_new', replay => 'up_old', replay_rows => 100,
                                         options => '{"quiet": true, "epochs": 1}');
SELECT name, replayed_rows FROM fm_update('up', 'up_new', options => '{"quiet": true, "epochs": 1}');
SELECT * FROM fm_update('up', 'up_new', options => '{"factors": 4}');
SELECT * FROM fm_update('up', 'up_new', options => '{"solver": "als"}');
SELECT * FROM fm_update('svi', 'sv');
SELECT * FROM fm_update('nosuch', 'sv');

-- fm_attach: inserts are queued, fm_refresh trains them in
CREATE TABLE live (user_id int, item_id int, rating numeric, at timestamptz DEFAULT now());
INSERT INTO live (user_id, item_id, rating) SELECT user_id, item_id, rating FROM up_old;
SELECT name FROM fm_train('live', 'SELECT user_id, item_id, rating FROM live', factors => 8, epochs => 5, quiet => true);
SELECT fm_attach('live', 'live');
SELECT name, new_rows FROM fm_refresh('live', '{"quiet": true}');
INSERT INTO live (user_id, item_id, rating) SELECT user_id, item_id, rating FROM up_new;
SELECT count(*) AS queued FROM fm_update_queue WHERE model = 'live';
SELECT version AS before FROM fm_models WHERE name = 'live' \gset
SELECT name, new_rows, replayed_rows, users FROM fm_refresh('live', '{"quiet": true}');
SELECT version > :before AS new_version, n_users FROM fm_models WHERE name = 'live';
SELECT count(*) AS queued FROM fm_update_queue WHERE model = 'live';
SELECT fm_attach('live', 'live');
SELECT fm_attach('up', 'live', user_column => 'nope');
SELECT fm_detach('live'), fm_detach('live');
INSERT INTO live VALUES (1, 1, 1);
SELECT count(*) AS queued FROM fm_update_queue;
SELECT * FROM fm_refresh('live');

DROP TABLE sv, lat, co, v1, up_old, up_new, live;
SELECT fm_drop(name) FROM fm_models WHERE name IN ('sv', 'svi', 'svb', 'co', 'up', 'live', 'dp') ORDER BY name;
SELECT count(*) AS versions_left FROM fm_model_versions;
