#!/bin/bash
# make demo: installs what is missing, builds, starts a throwaway cluster,
# trains on built-in MovieLens-shaped data and shows recommendations.
# The cluster keeps running afterwards for exploring; `make demo-stop`
# stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/install-deps.sh
make -s all
make -s install >/dev/null
source test/cluster.sh start demo 54330

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION fmrec;
-- new sessions load the library at once, so SHOW fmrec.threads works before any fmrec call
ALTER DATABASE postgres SET session_preload_libraries = 'fmrec';
\echo
\echo '== Built-in data: 200,000 MovieLens-shaped ratings (2,000 users x 1,500 movies), planted structure'
CREATE TABLE ratings AS
  SELECT user_id, item_id AS movie_id, round(rating::numeric, 1) AS rating
  FROM fm_synthetic_ratings(users => 2000, items => 1500, ratings => 200000, seed => 1);

\echo
\echo '== Training: regression, k = 64, 10% hold-out with early stopping'
\pset footer off
SELECT name, rows_used, users, items, epochs_run, best_epoch,
       round(train_loss::numeric, 4) AS train_rmse, round(valid_rmse::numeric, 4) AS valid_rmse,
       round(seconds::numeric, 2) AS seconds, model_bytes
FROM fm_train('movies', 'SELECT user_id, movie_id, rating FROM ratings',
              factors => 64, epochs => 40, validation => 0.1, quiet => true);

\echo
\echo '== Training: binary (rating >= 4), as in the SageMaker walk-through'
SELECT name, epochs_run, round(valid_auc::numeric, 4) AS valid_auc,
       round(valid_logloss::numeric, 4) AS valid_logloss, round(seconds::numeric, 2) AS seconds
FROM fm_train('liked', 'ratings', task => 'binary', threshold => 4, validation => 0.1, quiet => true);

\echo
\echo '== Top-10 for users 1, 2 and 3 (movies they rated are left out)'
SELECT u AS user_id, t.rank, t.item AS movie_id, round(t.score::numeric, 3) AS predicted_rating,
       round(fm_predict('liked', u, t.item)::numeric, 3) AS p_like
FROM generate_series(1, 3) u,
     LATERAL fm_topn('movies', u, 10) WITH ORDINALITY AS t(item, score, rank)
ORDER BY u, t.rank;

\echo
\echo '== A user nobody has seen: ranked by what the model learned about movies alone (cold start)'
SELECT t.item AS movie_id, round(t.score::numeric, 3) AS predicted_rating
FROM fm_topn('movies', 999999, 5) t;

\echo
\echo '== An anonymous session that just rated three movies: folded in, no retraining'
SELECT t.item AS movie_id, round(t.score::numeric, 3) AS predicted_rating
FROM fm_topn('movies', 5, items => ARRAY[1, 2, 3], ratings => ARRAY[5, 1, 5], verbose => true) t;

\echo
\echo '== Bayesian FM by MCMC: no learning rate or regularization to tune'
SELECT name, epochs_run, round(valid_rmse::numeric, 4) AS valid_rmse, round(seconds::numeric, 2) AS seconds
FROM fm_train('movies_mcmc', 'ratings', solver => 'mcmc', epochs => 40, validation => 0.1,
              threads => 2, quiet => true);

\echo
\echo '== The serving architectures: lists for every user at once, similar movies, updates as rows arrive'
CREATE TABLE recs AS SELECT * FROM fm_recommend('movies', 10, threads => 2);
SELECT count(*) AS lists_rows, count(DISTINCT user_id) AS users FROM recs;
SELECT name FROM fm_train('picks', 'SELECT user_id, movie_id FROM ratings', task => 'implicit', solver => 'item_cosine', quiet => true);
SELECT s.item AS like_movie_1, round(s.similarity::numeric, 3) AS similarity FROM fm_similar_items('picks', 1, 5) s;
SELECT fm_attach('movies', 'ratings', item_column => 'movie_id');
INSERT INTO ratings SELECT user_id + 2000, item_id, rating FROM fm_synthetic_ratings(50, 1500, 1000, 9);
SELECT name, version, new_rows, replayed_rows, users FROM fm_refresh('movies', '{"quiet": true}');
SELECT version, serving, solver, n_rows FROM fm_versions('movies');
SELECT fm_detach('movies');

\echo
\echo '== fm_predict for a few pairs, and the catalog'
SELECT user_id, movie_id, rating, round(fm_predict('movies', user_id, movie_id)::numeric, 3) AS predicted
FROM ratings ORDER BY user_id, movie_id LIMIT 5;
SELECT name, task, solver, n_rows, n_users, n_items, size_bytes, hyperparams->>'factors' AS factors,
       metrics->>'valid_rmse' AS valid_rmse, metrics->>'valid_auc' AS valid_auc
FROM fm_models ORDER BY name;
SQL

echo
echo "The demo cluster is still running. Explore it with:"
echo "    psql -h /tmp/fmrec-demo -p 54330 -U postgres"
echo "Stop it with: make demo-stop"
