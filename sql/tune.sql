-- fm_tune: the search space's checks, a grid that finds the planted rank,
-- reproducible searches, the trials table and the stored winner
SET client_min_messages = warning;
CREATE TABLE tr AS
  SELECT user_id, item_id, rating FROM fm_synthetic_ratings(1000, 800, 60000, 3, noise => 0.3);

-- the space, checked before any row is read
CALL fm_tune('t', 'tr', '{"factorz": [8]}');
CALL fm_tune('t', 'tr', '{"factors": []}');
CALL fm_tune('t', 'tr', '{"reg_factors": {"min": 0, "max": 1, "log": true}}');
CALL fm_tune('t', 'tr', '{"reg_factors": {"min": 2, "max": 1}}');
CALL fm_tune('t', 'tr', '{"reg_factors": {"min": 1}}');
CALL fm_tune('t', 'tr', '{"reg_factors": {"min": 0.1, "max": 1, "scale": "log"}}');
CALL fm_tune('t', 'tr', '{"factors": 8}');
CALL fm_tune('t', 'tr', '{"task": ["binary", "regression"]}');
CALL fm_tune('t', 'tr', '{"factors": [8, 16], "epochs": [5, 10, 20]}', strategy => 'grid', trials => 5);
CALL fm_tune('t', 'tr', '{"reg_factors": {"min": 0.1, "max": 1}}', strategy => 'grid');
CALL fm_tune('t', 'tr', '{"factors": [8, 2000]}');
CALL fm_tune('t', 'tr', '{"factors": [8]}', strategy => 'bayes');
CALL fm_tune('t', 'tr', '{"factors": [8]}', metric => 'auc');
CALL fm_tune('t', 'tr', '{"factors": [8]}', metric => 'ndcg');
CALL fm_tune('t', 'tr', '{"factors": [8]}', folds => 0);
CALL fm_tune('t', 'tr', '{"factors": [8]}', trials => 0);
CALL fm_tune('t', 'tr', '{"factors": [8]}', seconds => 0);
CALL fm_tune('t', 'missing_table', '{"factors": [8]}');
SELECT count(*) AS no_trials_after_errors FROM fm_tune_trials;
SELECT count(*) AS no_model_after_errors FROM fm_models WHERE name = 't';

-- the planted rank is 8: a grid over factors finds it (ALS, fixed regularization)
CALL fm_tune('rank', 'tr', '{"factors": [2, 4, 8, 16, 32]}', strategy => 'grid',
             options => '{"solver": "als", "reg_factors": 0.5, "reg_linear": 0.5}');
SELECT trial, status, options->>'factors' AS factors, array_length(fold_scores, 1) AS folds,
       score < 0.45 AS near_noise
  FROM fm_tune_trials WHERE model = 'rank' ORDER BY trial;
SELECT hyperparams->>'factors' AS factors, metrics->'tune'->>'trial' AS trial,
       metrics->'tune'->>'metric' AS metric, (metrics->'tune'->>'sd')::float8 < 0.02 AS small_spread
  FROM fm_models WHERE name = 'rank';
-- the winner is retrained on all rows: the same model fm_train makes with its options
SELECT 1 FROM fm_train('rank_again', 'tr', options => '{"solver": "als", "reg_factors": 0.5, "reg_linear": 0.5, "factors": 8, "quiet": true}');
SELECT (SELECT model FROM fm_models WHERE name = 'rank') =
       (SELECT model FROM fm_models WHERE name = 'rank_again') AS same_bytes;

-- median stopping: after three complete trials, a trial worse than their
-- median after its first fold stops there (and is never the best)
CALL fm_tune('pruned', 'tr', '{"factors": [8, 16, 32, 1, 2]}', strategy => 'grid',
             options => '{"solver": "als", "reg_factors": 0.5, "reg_linear": 0.5}');
SELECT trial, status, options->>'factors' AS factors, cardinality(fold_scores) AS folds_run
  FROM fm_tune_trials WHERE model = 'pruned' ORDER BY trial;
CALL fm_tune('unpruned', 'tr', '{"factors": [8, 16, 32, 1, 2]}', strategy => 'grid', prune => false,
             options => '{"solver": "als", "reg_factors": 0.5, "reg_linear": 0.5}');
SELECT string_agg(status || ':' || cardinality(fold_scores), ', ' ORDER BY trial) AS unpruned
  FROM fm_tune_trials WHERE model = 'unpruned';

-- the same seed, the same search, trial for trial (tpe; its first five trials are random)
CALL fm_tune('a', 'tr', '{"factors": [4, 8, 16], "reg_factors": {"min": 0.001, "max": 1, "log": true}}',
             trials => 7, folds => 2, seed => 5, options => '{"epochs": 10}');
CALL fm_tune('b', 'tr', '{"factors": [4, 8, 16], "reg_factors": {"min": 0.001, "max": 1, "log": true}}',
             trials => 7, folds => 2, seed => 5, options => '{"epochs": 10}');
SELECT bool_and(a.options = b.options AND a.fold_scores = b.fold_scores) AS reproducible, count(*)
  FROM fm_tune_trials a JOIN fm_tune_trials b USING (trial)
 WHERE a.model = 'a' AND b.model = 'b';
SELECT count(DISTINCT options) > 1 AS explores FROM fm_tune_trials WHERE model = 'a';
-- every proposed value lies in the space
SELECT bool_and((options->>'reg_factors')::float8 BETWEEN 0.001 AND 1
                AND options->>'factors' IN ('4', '8', '16')) AS in_space
  FROM fm_tune_trials WHERE model = 'a';

-- the budget in seconds stops before the trials run out; holding out with one fold
CALL fm_tune('timed', 'tr', '{"factors": [4, 8]}', strategy => 'random', trials => 100,
             folds => 1, seconds => 0.3, options => '{"epochs": 5}');
SELECT count(*) BETWEEN 1 AND 99 AS stopped_by_time, bool_and(array_length(fold_scores, 1) = 1) AS one_fold
  FROM fm_tune_trials WHERE model = 'timed';

-- implicit: NDCG@10 by default; binary: AUC
CREATE TABLE picks AS SELECT user_id, item_id FROM fm_synthetic_ratings(300, 200, 6000, 2, taste => 9);
CALL fm_tune('p', 'picks', '{"reg_factors": [0.3, 1]}', strategy => 'grid',
             options => '{"task": "implicit", "factors": 16}');
SELECT DISTINCT metric FROM fm_tune_trials WHERE model = 'p';
CALL fm_tune('bin', 'tr', '{"factors": [4, 8]}', strategy => 'grid', folds => 2,
             options => '{"task": "binary", "epochs": 5}');
SELECT DISTINCT metric, bool_and(score BETWEEN 0.5 AND 1) AS auc_range FROM fm_tune_trials WHERE model = 'bin' GROUP BY 1;

-- CALL inside a transaction block cannot commit its trials
BEGIN;
CALL fm_tune('tx', 'tr', '{"factors": [4]}', trials => 1);
ROLLBACK;
SELECT count(*) AS none_from_the_block FROM fm_tune_trials WHERE model = 'tx';
