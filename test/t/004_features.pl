# Evidence that side features help: items held out of training entirely
# (present only in item_features) are ranked far better with attributes
# than without; sessions folded in rank better than popularity.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use FmrecTest;
use Test::More;

new_db('fmrec_features');

# per-user AUC of a model's scores on rows of $test(u, i, rating), label
# rating >= 4, averaged over users with both labels; ties get average ranks
psql(q{
CREATE FUNCTION user_auc(model text, test regclass) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE result numeric;
BEGIN
  EXECUTE format($q$
    WITH s AS (SELECT u, fm_predict(%L, u, i) AS p, rating >= 4 AS y FROM %s),
    r AS (SELECT u, y, rank() OVER (PARTITION BY u ORDER BY p)
                       + (count(*) OVER (PARTITION BY u, p) - 1) / 2.0 AS rk FROM s),
    c AS (SELECT u, count(*) FILTER (WHERE y) AS pos, count(*) FILTER (WHERE NOT y) AS neg,
                 sum(rk) FILTER (WHERE y) AS rsum FROM r GROUP BY u)
    SELECT round(avg((rsum - pos * (pos + 1) / 2.0) / (pos * neg))::numeric, 4)
    FROM c WHERE pos > 0 AND neg > 0$q$, model, test) INTO result;
  RETURN result;
END $$;
});

# --- planted: genres and groups drive the ratings; 20% of items held out ---
psql(q{
CREATE TABLE r AS SELECT user_id AS u, item_id AS i, rating
  FROM fm_synthetic_ratings(1000, 500, 100000, 3, 0.5, 18, 8);
CREATE TABLE f AS SELECT * FROM fm_synthetic_features(1000, 500, 3, 18, 8);
CREATE TABLE cold AS SELECT DISTINCT i FROM r WHERE i % 5 = 0;
CREATE TABLE train AS SELECT * FROM r WHERE i NOT IN (SELECT i FROM cold);
CREATE TABLE cold_test AS SELECT * FROM r WHERE i IN (SELECT i FROM cold);
});
psql(q{SELECT 1 FROM fm_train('plain', 'train', quiet => true)});
psql(q{SELECT 1 FROM fm_train('feat', 'train', quiet => true,
       user_features => $$SELECT id, feature FROM f WHERE side = 'user'$$,
       item_features => $$SELECT id, feature FROM f WHERE side = 'item'$$)});
my $n_cold = psql(q{SELECT count(*) || ' items, ' || (SELECT count(*) FROM cold_test) || ' ratings' FROM cold});
my $without = psql(q{SELECT user_auc('plain', 'cold_test')});
my $with = psql(q{SELECT user_auc('feat', 'cold_test')});
note("planted: cold items ($n_cold) per-user AUC without features $without, with features $with");
is($without, '0.5000', 'planted: without features cold items are indistinguishable');
cmp_ok($with, '>=', $without + 0.25, "planted: features rank cold items far better ($with vs $without)");

# the same with NDCG@10 over each user's cold items
psql(q{
CREATE FUNCTION cold_ndcg(model text) RETURNS numeric LANGUAGE sql AS $$
  WITH users AS (SELECT u FROM cold_test GROUP BY u HAVING count(*) >= 10),
  ranked AS (SELECT c.u, c.rating,
                    row_number() OVER (PARTITION BY c.u ORDER BY fm_predict(model, c.u, c.i) DESC, c.i) AS pos,
                    row_number() OVER (PARTITION BY c.u ORDER BY c.rating DESC, c.i) AS ideal
             FROM cold_test c JOIN users USING (u)),
  g AS (SELECT u, sum((2 ^ rating - 1) / log(2, pos + 1)) FILTER (WHERE pos <= 10) AS dcg,
               (SELECT sum((2 ^ r2.rating - 1) / log(2, r2.ideal + 1)) FROM ranked r2
                WHERE r2.u = ranked.u AND r2.ideal <= 10) AS idcg
        FROM ranked GROUP BY u)
  SELECT round(avg(dcg / idcg)::numeric, 4) FROM g $$;
});
my $ndcg_without = psql(q{SELECT cold_ndcg('plain')});
my $ndcg_with = psql(q{SELECT cold_ndcg('feat')});
note("planted: cold items NDCG\@10 without features $ndcg_without, with features $ndcg_with");
cmp_ok($ndcg_with, '>', $ndcg_without + 0.05, "planted: NDCG\@10 better with features");

# --- fold-in: users held out of training, half their ratings given as a session ---
psql(q{
CREATE TABLE new_users AS SELECT DISTINCT u FROM r WHERE hashint8(u * 13) % 10 = 0;
CREATE TABLE train2 AS SELECT * FROM r WHERE u NOT IN (SELECT u FROM new_users);
CREATE TABLE sess AS SELECT * FROM r WHERE u IN (SELECT u FROM new_users) AND hashint8(i * 17 + u) % 2 = 0;
CREATE TABLE sess_test AS SELECT * FROM r WHERE u IN (SELECT u FROM new_users) AND hashint8(i * 17 + u) % 2 <> 0;
SELECT 1 FROM fm_train('known', 'train2', quiet => true);
CREATE FUNCTION session_auc(use_session boolean) RETURNS numeric LANGUAGE sql AS $$
  WITH s AS (
    SELECT t.u, x.item AS i, x.score AS p, t.rating >= 4 AS y
    FROM (SELECT u, array_agg(i) AS items, array_agg(rating) AS ratings FROM sess GROUP BY u) q
    JOIN LATERAL (SELECT * FROM fm_topn('known', 100000,
                     items => CASE WHEN use_session THEN q.items END,
                     ratings => CASE WHEN use_session THEN q.ratings END,
                     candidates => (SELECT array_agg(i) FROM sess_test WHERE u = q.u))) x ON true
    JOIN sess_test t ON t.u = q.u AND t.i = x.item),
  r AS (SELECT u, y, rank() OVER (PARTITION BY u ORDER BY p)
                     + (count(*) OVER (PARTITION BY u, p) - 1) / 2.0 AS rk FROM s),
  c AS (SELECT u, count(*) FILTER (WHERE y) AS pos, count(*) FILTER (WHERE NOT y) AS neg,
               sum(rk) FILTER (WHERE y) AS rsum FROM r GROUP BY u)
  SELECT round(avg((rsum - pos * (pos + 1) / 2.0) / (pos * neg))::numeric, 4)
  FROM c WHERE pos > 0 AND neg > 0 $$;
});
my $pop = psql(q{SELECT session_auc(false)});
my $fold = psql(q{SELECT session_auc(true)});
note("planted: new users, per-user AUC popularity $pop, fold-in from half their ratings $fold");
cmp_ok($fold, '>', $pop + 0.05, "fold-in ranks a new user's other items better than popularity ($fold vs $pop)");

# --- ml-latest-small: genres from movies.csv as item features ---
SKIP:
{
	my $dir = shared_data('ml-latest-small');
	skip 'ml-latest-small is not in ../shared/data', 2 unless $dir;
	psql(qq{
CREATE TABLE ml (u int, i int, rating float8, ts bigint);
\\copy ml FROM '$dir/ratings.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE movies (movie_id int, title text, genres text);
\\copy movies FROM '$dir/movies.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE movie_genres AS
  SELECT movie_id, 'genre=' || g AS feature FROM movies, unnest(string_to_array(genres, '|')) g;
CREATE TABLE ml_cold AS SELECT DISTINCT i FROM ml WHERE hashint8(i * 7) % 5 = 0;
CREATE TABLE ml_train AS SELECT u, i, rating FROM ml WHERE i NOT IN (SELECT i FROM ml_cold);
CREATE TABLE ml_cold_test AS SELECT u, i, rating FROM ml WHERE i IN (SELECT i FROM ml_cold);
});
	psql(q{SELECT 1 FROM fm_train('ml_plain', 'ml_train', quiet => true)});
	psql(q{SELECT 1 FROM fm_train('ml_genres', 'ml_train', quiet => true,
	       item_features => 'SELECT movie_id, feature FROM movie_genres')});
	my $counts = psql(q{SELECT (SELECT count(*) FROM ml_cold) || ' movies, ' || (SELECT count(*) FROM ml_cold_test) || ' ratings'});
	my $mw = psql(q{SELECT user_auc('ml_plain', 'ml_cold_test')});
	my $mf = psql(q{SELECT user_auc('ml_genres', 'ml_cold_test')});
	note("ml-latest-small: cold movies ($counts) per-user AUC without features $mw, with genres $mf");
	is($mw, '0.5000', 'ml-latest-small: without features cold movies are indistinguishable');
	cmp_ok($mf, '>=', $mw + 0.05, "ml-latest-small: genres rank cold movies better ($mf vs $mw)");
}

done_testing();
