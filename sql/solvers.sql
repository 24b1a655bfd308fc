-- Solvers: sgd (default), als and mcmc.
CREATE SCHEMA solvers_test;
SET search_path = solvers_test, public;
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TABLE r AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(200, 150, 6000, 11, 0.3);

-- ALS: least squares, regularization as the weight of squared norms
SELECT name, rows_used, epochs_run, train_loss < 1 AS learned
FROM fm_train('als', 'r', solver => 'als', factors => 8, epochs => 5, quiet => true);
SELECT solver, hyperparams->>'solver' AS s, hyperparams->>'reg_factors' AS reg_factors,
       hyperparams->>'epochs' AS epochs
FROM fm_models WHERE name = 'als';

-- MCMC: Gibbs sampling, no learning rate or regularization to tune
SELECT name, epochs_run, train_loss < 1 AS learned
FROM fm_train('mcmc', 'r', solver => 'mcmc', factors => 8, epochs => 20, burn_in => 5, quiet => true);
SELECT solver, hyperparams->>'burn_in' AS burn_in, hyperparams->>'init_stdev' AS init_stdev
FROM fm_models WHERE name = 'mcmc';
SELECT fm_model_info(model)->'hyperparams'->>'solver' AS solver_in_bytes FROM fm_models WHERE name = 'mcmc';
SELECT name, valid_rmse IS NOT NULL AS validated
FROM fm_train('mcmc_v', 'r', solver => 'mcmc', factors => 8, epochs => 20, validation => 0.1, quiet => true);
SELECT hyperparams->>'burn_in' AS default_burn_in FROM fm_models WHERE name = 'mcmc_v';
-- binary MCMC: probit link, served as probabilities
SELECT name FROM fm_train('mcmc_b', 'r', solver => 'mcmc', task => 'binary', factors => 8, epochs => 20, quiet => true);
SELECT bool_and(p > 0 AND p < 1) AS probabilities
FROM (SELECT fm_predict('mcmc_b', user_id, item_id) AS p FROM r LIMIT 200) s;
SELECT count(*) FROM fm_topn('mcmc', 1, 10);

-- determinism: same seed, same bytes; for ALS and MCMC also across thread counts
CREATE TABLE snap AS SELECT name, model FROM fm_models WHERE name IN ('als', 'mcmc');
SELECT 1 FROM fm_train('als', 'SELECT * FROM r ORDER BY rating', solver => 'als', factors => 8, epochs => 5,
                       threads => 2, quiet => true);
SELECT 1 FROM fm_train('mcmc', 'r', solver => 'mcmc', factors => 8, epochs => 20, burn_in => 5,
                       threads => 2, quiet => true);
SELECT m.name, s.model = m.model AS identical FROM snap s JOIN fm_models m USING (name) ORDER BY 1;

-- the aggregate takes the solver too
SELECT fm_model_info(fm_train_agg(user_id, item_id, rating,
         '{"solver": "als", "factors": 4, "epochs": 2, "quiet": true}'))->'hyperparams'->>'solver'
FROM r;

-- divergence: an absurd learning rate stops training with an error, the
-- previous model stays
CREATE TABLE before AS SELECT model, version FROM fm_models WHERE name = 'als';
SELECT split_part(try($$SELECT fm_train('als', 'r', learning_rate => 10, init_stdev => 10, epochs => 5, quiet => true)$$), ' (', 1) AS diverged;
SELECT m.model = b.model AND m.version = b.version AS kept FROM fm_models m, before b WHERE m.name = 'als';

-- errors
SELECT try($$SELECT fm_train('x', 'r', solver => 'newton')$$);
SELECT try($$SELECT fm_train('x', 'r', solver => 'als', task => 'binary')$$);
SELECT try($$SELECT fm_train('x', 'r', solver => 'mcmc', epochs => 10, burn_in => 10)$$);
SELECT try($$SELECT fm_train('x', 'r', solver => 'mcmc', burn_in => -1)$$);
SELECT try($$SELECT fm_train_agg(user_id, item_id, rating, '{"solver": 3}') FROM r$$);
