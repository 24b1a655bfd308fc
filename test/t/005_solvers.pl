# The ALS and MCMC solvers: accuracy targets on ml-latest-small and on
# planted data, and MCMC with side features.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use FmrecTest;
use Test::More;

new_db('fmrec_solvers');

psql(q{
CREATE FUNCTION auc(model text, test regclass) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE result numeric;
BEGIN
  EXECUTE format($q$
    WITH s AS (SELECT fm_predict(%L, u, i) AS p, (rating >= 4) AS y FROM %s),
    r AS (SELECT y, rank() OVER (ORDER BY p) + (count(*) OVER (PARTITION BY p) - 1) / 2.0 AS rk FROM s),
    c AS (SELECT count(*) FILTER (WHERE y) AS pos, count(*) FILTER (WHERE NOT y) AS neg,
                 sum(rk) FILTER (WHERE y) AS rsum FROM r)
    SELECT round(((rsum - pos * (pos + 1) / 2.0) / (pos * neg))::numeric, 4) FROM c$q$, model, test)
  INTO result;
  RETURN result;
END $$;
CREATE FUNCTION rmse(model text, test regclass) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE result numeric;
BEGIN
  EXECUTE format('SELECT round(sqrt(avg((fm_predict(%L, u, i) - rating) ^ 2))::numeric, 4) FROM %s',
                 model, test) INTO result;
  RETURN result;
END $$;
});

# --- planted data: MCMC and ALS near the noise level ---
psql(q{
CREATE TABLE planted AS
  SELECT user_id AS u, item_id AS i, rating, expected FROM fm_synthetic_ratings(1000, 500, 150000, 5, 0.5);
CREATE TABLE planted_test AS SELECT * FROM planted WHERE hashint8(u * 1000003 + i) % 10 = 0;
CREATE TABLE planted_train AS SELECT u, i, rating FROM planted WHERE hashint8(u * 1000003 + i) % 10 <> 0;
SELECT 1 FROM fm_train('p_mcmc', 'planted_train', solver => 'mcmc', threads => 2, quiet => true);
SELECT 1 FROM fm_train('p_als', 'planted_train', solver => 'als', threads => 2, quiet => true);
});
my $noise = psql(q{SELECT round(sqrt(avg((expected - rating) ^ 2))::numeric, 4) FROM planted_test});
my $pm = psql(q{SELECT rmse('p_mcmc', 'planted_test')});
my $pa = psql(q{SELECT rmse('p_als', 'planted_test')});
note("planted: noise floor $noise, MCMC test RMSE $pm, ALS test RMSE $pa");
cmp_ok($pm, '<=', 1.10 * $noise, "planted: MCMC RMSE $pm within 10% of the noise level $noise");
cmp_ok($pa, '<=', 1.15 * $noise, "planted: ALS RMSE $pa within 15% of the noise level $noise");

# --- MCMC with side features: cold items ranked through their genres ---
psql(q{
CREATE TABLE fr AS SELECT user_id AS u, item_id AS i, rating FROM fm_synthetic_ratings(1000, 500, 100000, 3, 0.5, 18, 8);
CREATE TABLE ff AS SELECT * FROM fm_synthetic_features(1000, 500, 3, 18, 8);
CREATE TABLE fr_train AS SELECT * FROM fr WHERE i % 5 <> 0;
CREATE TABLE fr_cold AS SELECT * FROM fr WHERE i % 5 = 0;
SELECT 1 FROM fm_train('f_mcmc', 'fr_train', solver => 'mcmc', threads => 2, quiet => true,
       item_features => $$SELECT id, feature FROM ff WHERE side = 'item'$$,
       user_features => $$SELECT id, feature FROM ff WHERE side = 'user'$$);
});
my $fc = psql(q{SELECT auc('f_mcmc', 'fr_cold')});
note("planted with attributes: MCMC global AUC on cold items $fc");
cmp_ok($fc, '>=', 0.75, "MCMC ranks cold items through their attributes (AUC $fc)");

SKIP:
{
	my $dir = shared_data('ml-latest-small');
	skip 'ml-latest-small is not in ../shared/data', 4 unless $dir;
	load_movielens($dir);
	my $secs = psql(q{SELECT round(seconds::numeric, 2) FROM fm_train('ml_mcmc', 'ml_train', solver => 'mcmc', threads => 2, quiet => true)});
	my $m = psql(q{SELECT rmse('ml_mcmc', 'ml_test')});
	note("ml-latest-small: MCMC regression (k = 64, 100 iterations) test RMSE $m in $secs s (fm_train, 2 threads)");
	cmp_ok($m, '<=', 0.832, "ml-latest-small: MCMC test RMSE $m <= 0.832");

	$secs = psql(q{SELECT round(seconds::numeric, 2) FROM fm_train('ml_mcmc_b', 'ml_train', solver => 'mcmc', task => 'binary', threads => 2, quiet => true)});
	my $b = psql(q{SELECT auc('ml_mcmc_b', 'ml_test')});
	note("ml-latest-small: MCMC binary (200 iterations) test AUC $b in $secs s");
	cmp_ok($b, '>=', 0.802, "ml-latest-small: MCMC binary test AUC $b >= 0.802");

	$secs = psql(q{SELECT round(seconds::numeric, 2) FROM fm_train('ml_als', 'ml_train', solver => 'als', threads => 2, quiet => true)});
	my $a = psql(q{SELECT rmse('ml_als', 'ml_test')});
	note("ml-latest-small: ALS (15 iterations, reg 10) test RMSE $a in $secs s");
	cmp_ok($a, '<=', 0.87, "ml-latest-small: ALS test RMSE $a <= 0.87");

	my $same = psql(q{SELECT 1 FROM fm_train('ml_mcmc1', 'ml_train', solver => 'mcmc', threads => 1, quiet => true);
	                  SELECT a.model = b.model FROM fm_models a, fm_models b WHERE a.name = 'ml_mcmc' AND b.name = 'ml_mcmc1'});
	like($same, qr/t$/, 'MCMC gives the same bytes with one and two threads');
}

done_testing();
