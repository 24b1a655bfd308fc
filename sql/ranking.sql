-- Recommending from choices: the implicit task (implicit ALS) and
-- fm_evaluate, the held-out metrics of a model beside its training data's
-- popularity.
CREATE SCHEMA ranking_test;
SET search_path = ranking_test, public;
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- two tastes: users 1..20 choose among items 1..10, users 21..40 among
-- items 11..20; each user misses two of its ten, and items 1 and 11 are
-- chosen by everyone of their side (the popular ones)
CREATE TABLE picks AS
  SELECT u, i FROM generate_series(1, 40) u, generate_series(1, 20) i
   WHERE (u <= 20) = (i <= 10) AND (i IN (1, 11) OR (u + i) % 5 <> 0);
CREATE TABLE held AS SELECT u, i FROM picks WHERE (u * 7 + i) % 6 = 0 AND i NOT IN (1, 11);
CREATE TABLE kept AS SELECT * FROM picks EXCEPT SELECT * FROM held;
SELECT count(*) AS picks, (SELECT count(*) FROM held) AS held FROM picks;

-- two columns are enough for choices; a third is the strength
SELECT users, items, epochs_run FROM fm_train('taste', 'kept', task => 'implicit', factors => 4, quiet => true);
SELECT task, fm_model_info(model)->'hyperparams'->>'solver' AS solver,
       fm_model_info(model)->'hyperparams'->>'unobserved_weight' AS unobserved_weight,
       fm_model_info(model)->'hyperparams'->>'reg_exponent' AS reg_exponent
  FROM fm_models WHERE name = 'taste';
-- every user's list holds its own taste only, the held-out items first
SELECT count(*) FILTER (WHERE (k.u <= 20) = (t.item <= 10)) AS own_taste, count(*) AS listed
  FROM (SELECT DISTINCT u FROM kept) k, LATERAL fm_topn('taste', k.u, 3) t;
-- an unknown user gets the most chosen items, scored by their training rows
SELECT * FROM fm_topn('taste', 999, 2);
-- a session folds in: two items of the first taste bring the rest of it
SELECT count(*) FILTER (WHERE item <= 10) AS first_taste
  FROM fm_topn('taste', 5, items => ARRAY[2, 3]::bigint[]);

-- fm_evaluate: every held-out row is relevant for an implicit model
SELECT ranker, users, test_rows, round(precision_at_k::numeric, 4) AS precision,
       round(recall_at_k::numeric, 4) AS recall, round(ndcg_at_k::numeric, 4) AS ndcg,
       round(map_at_k::numeric, 4) AS map, round(mrr::numeric, 4) AS mrr,
       round(hit_rate_at_k::numeric, 4) AS hit_rate, round(coverage_at_k::numeric, 4) AS coverage,
       rmse, auc
  FROM fm_evaluate('taste', 'held', k => 3);
-- popularity knows nothing of tastes: at most one of its 3 items is of the
-- user's side, so the model wins
SELECT (SELECT ndcg_at_k FROM fm_evaluate('taste', 'held', k => 3) WHERE ranker = 'taste') >
       2 * (SELECT ndcg_at_k FROM fm_evaluate('taste', 'held', k => 3) WHERE ranker = 'popularity')
       AS beats_popularity;
-- the bytes give the same row as the name
SELECT (SELECT row(users, ndcg_at_k, recall_at_k) FROM fm_evaluate('taste', 'held') WHERE ranker = 'taste') =
       (SELECT row(users, ndcg_at_k, recall_at_k) FROM fm_evaluate((SELECT model FROM fm_models WHERE name = 'taste'), 'held')
         WHERE ranker = 'model') AS bytes_agree;
-- bound parameters in the test query give the rows of the literal query
SELECT (SELECT array_agg(row(ranker, users, ndcg_at_k, recall_at_k) ORDER BY ranker)
          FROM fm_evaluate('taste', 'SELECT * FROM held WHERE u >= $1', params => ARRAY['3'])) =
       (SELECT array_agg(row(ranker, users, ndcg_at_k, recall_at_k) ORDER BY ranker)
          FROM fm_evaluate('taste', 'SELECT * FROM held WHERE u >= 3')) AS params_agree;
SELECT ranker FROM fm_evaluate('taste', 'held', params => ARRAY['3']);

-- strengths: linear confidence, or log-scaled for counts (log_epsilon)
SELECT 1 FROM fm_train('lin', 'SELECT u, i, (u % 7) * 10 FROM kept', task => 'implicit', factors => 4,
                       quiet => true, options => '{"alpha": 1}');
SELECT 1 FROM fm_train('log', 'SELECT u, i, (u % 7) * 10 FROM kept', task => 'implicit', factors => 4,
                       quiet => true, options => '{"alpha": 1, "log_epsilon": 10}');
SELECT fm_model_info(l.model)->'hyperparams'->>'log_epsilon' AS log_epsilon,
       md5(l.model) <> md5(n.model) AS strengths_matter
  FROM fm_models l, fm_models n WHERE l.name = 'log' AND n.name = 'lin';
-- without alpha (the default) a strength scales the pair's confidence:
-- unobserved_weight + (1 - unobserved_weight) x (strength / mean)^1.5.
-- Everyone chose nearly everything, but rated their own side 5 and the
-- other 1: the strengths alone tell the tastes apart
CREATE TABLE rated AS SELECT u, i, CASE WHEN (u <= 20) = (i <= 10) THEN 5 ELSE 1 END AS s
  FROM generate_series(1, 40) u, generate_series(1, 20) i WHERE i NOT IN (1 + u * 3 % 10, 11 + u * 7 % 10);
SELECT 1 FROM fm_train('strong', 'rated', task => 'implicit', factors => 4, reg_factors => 0.1, quiet => true);
SELECT 1 FROM fm_train('flat', 'rated', task => 'implicit', factors => 4, reg_factors => 0.1, quiet => true,
                       options => '{"strength_exponent": 0}');
SELECT 1 FROM fm_train('nostrength', 'SELECT u, i FROM rated', task => 'implicit', factors => 4,
                       reg_factors => 0.1, quiet => true);
SELECT fm_model_info(model)->'hyperparams'->>'strength_exponent' AS strength_exponent
  FROM fm_models WHERE name = 'strong';
-- each user has one item of each side left: the first is its own side's
-- with the strengths, a coin toss without them
SELECT m, count(*) FILTER (WHERE (k.u <= 20) = (t.item <= 10)) AS own_side, count(*) AS listed
  FROM unnest(ARRAY['strong', 'flat']) m, generate_series(1, 40) k(u), LATERAL fm_topn(m, k.u, 1) t
 GROUP BY m ORDER BY m;
-- strength_exponent 0 ignores the strengths: the lists of no strength column
SELECT (SELECT array_agg(row(item, score)) FROM fm_topn('flat', u, 4)) =
       (SELECT array_agg(row(item, score)) FROM fm_topn('nostrength', u, 4)) AS same_lists
  FROM generate_series(1, 3) u;
-- a session's ratings are its strengths
SELECT count(*) FILTER (WHERE item <= 10) AS first_side
  FROM fm_topn('strong', 4, items => ARRAY[1, 2, 11, 12]::bigint[], ratings => ARRAY[5, 5, 1, 1]::float8[]);
SELECT count(*) FILTER (WHERE item <= 10) AS first_side
  FROM fm_topn('strong', 4, items => ARRAY[1, 2, 11, 12]::bigint[], ratings => ARRAY[1, 1, 5, 5]::float8[]);
SELECT try($$SELECT fm_train('x', 'SELECT u, i, 0 FROM rated', task => 'implicit')$$);
SELECT try($$SELECT fm_train('x', 'rated', task => 'implicit', options => '{"strength_exponent": 5}')$$);

-- BPR: the implicit task through the SGD solver, a pairwise loss with one
-- uniformly drawn negative per choice; one thread gives the same bytes
SELECT 1 FROM fm_train('bpr', 'kept', task => 'implicit', solver => 'sgd', factors => 4,
                       epochs => 200, learning_rate => 0.1, quiet => true);
CREATE TABLE bpr1 AS SELECT md5(model) AS h FROM fm_models WHERE name = 'bpr';
SELECT 1 FROM fm_train('bpr', 'kept', task => 'implicit', solver => 'sgd', factors => 4,
                       epochs => 200, learning_rate => 0.1, quiet => true);
SELECT (SELECT h FROM bpr1) = md5(model) AS deterministic FROM fm_models WHERE name = 'bpr';
SELECT count(*) FILTER (WHERE (k.u <= 20) = (t.item <= 10)) >= 0.9 * count(*) AS own_taste
  FROM (SELECT DISTINCT u FROM kept) k, LATERAL fm_topn('bpr', k.u, 3) t;
SELECT (SELECT ndcg_at_k FROM fm_evaluate('bpr', 'held', k => 3) WHERE ranker = 'bpr') >
       (SELECT ndcg_at_k FROM fm_evaluate('bpr', 'held', k => 3) WHERE ranker = 'popularity')
       AS bpr_beats_popularity;

-- explicit models: relevance is rating >= threshold (the model's, 4, by
-- default), and the pointwise metrics of the task are there
CREATE TABLE r AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(100, 80, 3000, 3, 0.3);
CREATE TABLE r_train AS SELECT * FROM r WHERE (user_id * 31 + item_id) % 5 <> 0;
CREATE TABLE r_test AS SELECT * FROM r WHERE (user_id * 31 + item_id) % 5 = 0;
SELECT 1 FROM fm_train('reg', 'r_train', factors => 4, epochs => 5, quiet => true);
SELECT 1 FROM fm_train('bin', 'r_train', task => 'binary', factors => 4, epochs => 5, quiet => true);
SELECT ranker, users = (SELECT count(DISTINCT user_id) FROM r_test WHERE rating >= 4) AS users_ok,
       test_rows, rmse IS NOT NULL AS has_rmse, mae IS NOT NULL AS has_mae, auc IS NOT NULL AS has_auc,
       accuracy IS NOT NULL AS has_accuracy, ndcg_at_k BETWEEN 0 AND 1 AS ndcg_ok
  FROM fm_evaluate('reg', 'r_test') UNION ALL
SELECT ranker, users = (SELECT count(DISTINCT user_id) FROM r_test WHERE rating >= 4),
       test_rows, rmse IS NOT NULL, mae IS NOT NULL, auc IS NOT NULL, accuracy IS NOT NULL,
       ndcg_at_k BETWEEN 0 AND 1
  FROM fm_evaluate('bin', 'r_test') ORDER BY 1;
SELECT users FROM fm_evaluate('reg', 'r_test', threshold => 5) WHERE ranker = 'reg';

-- attributes: implicit coordinate descent over the whole FM.  Items carry
-- their taste, users their side; items 21 and 22 and user 99 appear only
-- in the attribute tables (cold start)
CREATE TABLE item_taste AS
  SELECT i, CASE WHEN i <= 10 OR i = 21 THEN 'taste=a' ELSE 'taste=b' END AS f
    FROM generate_series(1, 22) i;
CREATE TABLE user_side AS
  SELECT u, CASE WHEN u <= 20 OR u = 99 THEN 'side=x' ELSE 'side=y' END AS f
    FROM (SELECT generate_series(1, 40) UNION ALL SELECT 99) AS us(u);
SELECT users, items, epochs_run FROM fm_train('attr', 'kept', task => 'implicit', factors => 4, quiet => true,
       item_features => 'item_taste', user_features => 'user_side');
-- every known user's lists still hold its own taste only
SELECT count(*) FILTER (WHERE (k.u <= 20) = (t.item <= 10 OR t.item = 21)) AS own_taste, count(*) AS listed
  FROM (SELECT DISTINCT u FROM kept) k, LATERAL fm_topn('attr', k.u, 3) t;
-- a cold item scores above the other taste's cold item for every user of its taste
SELECT count(*) FILTER (WHERE (u <= 20) = (fm_predict('attr', u, 21) > fm_predict('attr', u, 22))) AS cold_items_right
  FROM generate_series(1, 40) u;
-- a cold user, known by its side only, gets its side's items
SELECT count(*) FILTER (WHERE item <= 10 OR item = 21) AS side_x_items
  FROM fm_topn('attr', 99, 5);
SELECT count(*) FILTER (WHERE item > 10 AND item <> 21) AS side_y_items
  FROM fm_topn('attr', 5, user_features => ARRAY['side=y']);
-- the attribute model is evaluated like any other and beats popularity
SELECT (SELECT ndcg_at_k FROM fm_evaluate('attr', 'held', k => 3) WHERE ranker = 'attr') >
       2 * (SELECT ndcg_at_k FROM fm_evaluate('attr', 'held', k => 3) WHERE ranker = 'popularity')
       AS attr_beats_popularity;
-- one thread or two: the same model, score for score
SELECT 1 FROM fm_train('attr2', 'kept', task => 'implicit', factors => 4, quiet => true, threads => 2,
       item_features => 'item_taste', user_features => 'user_side');
SELECT count(*) FILTER (WHERE fm_predict('attr', u, i) = fm_predict('attr2', u, i)) AS same_scores
  FROM generate_series(1, 40) u, generate_series(1, 22) i;

-- errors
SELECT try($$SELECT fm_evaluate('taste', 'held', k => 0)$$);
SELECT try($$SELECT fm_evaluate('taste', 'held', k => 1001)$$);
SELECT try($$SELECT fm_evaluate('taste', NULL)$$);
SELECT try($$SELECT fm_evaluate('nosuch', 'held')$$);
SELECT try($$SELECT fm_evaluate('taste', 'SELECT 1')$$);
SELECT try($$SELECT fm_train('x', 'kept', task => 'implicit', validation => 0.1)$$);
SELECT try($$SELECT fm_train('x', 'SELECT u, i, -1 FROM kept', task => 'implicit')$$);
SELECT try($$SELECT fm_train('x', 'kept', task => 'implicit', solver => 'mcmc')$$);
SELECT try($$SELECT fm_train('x', 'SELECT u, i, 1, u % 2 AS half FROM kept', task => 'implicit', options => '{"context": "half"}')$$);
SELECT try($$SELECT fm_train('x', 'kept', task => 'implicit', solver => 'sgd', user_features => 'SELECT 1, ''a''')$$);
SELECT try($$SELECT fm_train('x', 'kept', task => 'implicit', options => '{"unobserved_weight": 0}')$$);
SELECT try($$SELECT fm_train('x', 'kept', task => 'implicit', options => '{"reg_exponent": 2}')$$);
SELECT try($$SELECT fm_train('x', 'kept')$$);

-- fm_split: seeded, per pair, per user, last per user, by a cutoff
CREATE TABLE events AS
  SELECT u AS user_id, i AS item_id, ((u + i) % 5 + 1)::float8 AS rating, u * 100 + i AS ts
    FROM generate_series(1, 30) u, generate_series(1, 12) i WHERE (u * i) % 3 <> 0;
SELECT count(*) AS rows, count(*) FILTER (WHERE is_test) AS test,
       count(*) FILTER (WHERE is_test) BETWEEN 0.1 * count(*) AND 0.3 * count(*) AS near_20_percent
  FROM fm_split('events', 'random', 0.2, 7);
-- the same seed, the same split; duplicate rows of a pair go the same way
SELECT (SELECT array_agg(is_test ORDER BY user_id, item_id) FROM fm_split('events', seed => 7)) =
       (SELECT array_agg(is_test ORDER BY user_id, item_id) FROM fm_split('SELECT * FROM events ORDER BY ts DESC', seed => 7))
       AS same_split,
       (SELECT count(DISTINCT is_test) FROM fm_split('SELECT * FROM events UNION ALL SELECT * FROM events', seed => 7)
         GROUP BY user_id, item_id ORDER BY 1 DESC LIMIT 1) AS ways_per_pair;
-- per user: floor(20% of each user's rows) are test
SELECT bool_and(t = floor(0.2 * n)) AS per_user_fraction
  FROM (SELECT user_id, count(*) FILTER (WHERE is_test) AS t, count(*) AS n
          FROM fm_split('events', 'user_fraction', 0.2) GROUP BY user_id) x;
-- leave-last-out: each user's latest row
SELECT count(*) AS test_rows, bool_and(item_id = last) AS latest
  FROM fm_split('events', 'leave_last_out', time_column => 'ts') s
  JOIN (SELECT user_id, max(item_id) AS last FROM events GROUP BY user_id) l USING (user_id)
 WHERE is_test;
SELECT count(*) FILTER (WHERE is_test) AS after_cutoff, min(rating) AS min_rating
  FROM fm_split('events', 'time', time_column => 'ts', cutoff => '2500');
-- the split feeds training and evaluation directly; two columns are choices
CREATE TABLE sp AS SELECT * FROM fm_split('SELECT user_id, item_id FROM ranking_test.events', seed => 3);
SELECT count(DISTINCT rating) AS ratings FROM sp;
SELECT users > 0 AS trained FROM fm_train('sp', 'SELECT user_id, item_id FROM sp WHERE NOT is_test',
                                          task => 'implicit', factors => 4, quiet => true);
SELECT ranker, users > 0 AS evaluated FROM fm_evaluate('sp', 'SELECT user_id, item_id FROM sp WHERE is_test');
SELECT try($$SELECT fm_split('events', 'bogus')$$);
SELECT try($$SELECT fm_split('events', test_fraction => 1)$$);
SELECT try($$SELECT fm_split('events', 'leave_last_out')$$);
SELECT try($$SELECT fm_split('events', 'time', time_column => 'ts')$$);
SELECT try($$SELECT fm_split('events', 'time', time_column => 'nope', cutoff => '1')$$);
SELECT try($$SELECT fm_split('SELECT 1')$$);
SELECT try($$SELECT fm_split('SELECT ''a''::text, 1')$$);
