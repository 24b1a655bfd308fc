# Quality thresholds on data whose answer is known.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use FmrecTest;
use Test::More;

new_db('fmrec_quality');

# AUC of fm_predict(model) on test(u, i, rating), label rating >= 4:
# Mann-Whitney with tied scores given their average rank.
sub auc_sql
{
	my ($model, $test) = @_;
	return qq{
WITH s AS (SELECT fm_predict('$model', u, i) AS p, (rating >= 4) AS y FROM $test),
r AS (SELECT y, rank() OVER (ORDER BY p) + (count(*) OVER (PARTITION BY p) - 1) / 2.0 AS rk FROM s),
c AS (SELECT count(*) FILTER (WHERE y) AS pos, count(*) FILTER (WHERE NOT y) AS neg,
             sum(rk) FILTER (WHERE y) AS rsum FROM r)
SELECT round(((rsum - pos * (pos + 1) / 2.0) / (pos * neg))::numeric, 4) FROM c};
}

# --- planted synthetic data: test RMSE near the noise level ---
psql(q{
CREATE TABLE planted AS
  SELECT user_id AS u, item_id AS i, rating, expected FROM fm_synthetic_ratings(1000, 500, 150000, 5, 0.5);
CREATE TABLE planted_test AS SELECT * FROM planted WHERE hashint8(u * 1000003 + i) % 10 = 0;
CREATE TABLE planted_train AS SELECT u, i, rating FROM planted WHERE hashint8(u * 1000003 + i) % 10 <> 0;
});
psql(q{SELECT 1 FROM fm_train('planted', 'planted_train', quiet => true)});
my ($rmse, $noise, $mean_rmse) = split /\|/, psql(q{
SELECT round(sqrt(avg((fm_predict('planted', u, i) - rating) ^ 2))::numeric, 4),
       round(sqrt(avg((expected - rating) ^ 2))::numeric, 4),
       round(sqrt(avg((rating - (SELECT avg(rating) FROM planted_train)) ^ 2))::numeric, 4)
FROM planted_test});
note("planted: test RMSE $rmse, noise floor $noise, global mean $mean_rmse");
cmp_ok($rmse, '<=', 1.10 * $noise, "planted data: test RMSE $rmse within 10% of the noise level $noise");
cmp_ok($rmse, '<', 0.7 * $mean_rmse, "planted data: far better than the global mean ($mean_rmse)");

# the binary task ranks liked pairs above the rest on planted data too
psql(q{SELECT 1 FROM fm_train('planted_b', 'planted_train', task => 'binary', quiet => true)});
my $pauc = psql(auc_sql('planted_b', 'planted_test'));
note("planted: binary test AUC $pauc");
cmp_ok($pauc, '>=', 0.85, "planted data: binary AUC $pauc >= 0.85");

# --- ml-latest-small: fixed 90/10 split ---
SKIP:
{
	my $dir = shared_data('ml-latest-small');
	skip 'ml-latest-small is not in ../shared/data', 4 unless $dir;
	load_movielens($dir);
	my $counts = psql(q{SELECT (SELECT count(*) FROM ml_train) || '/' || (SELECT count(*) FROM ml_test)});
	note("ml-latest-small train/test rows: $counts");

	psql(q{SELECT 1 FROM fm_train('ml', 'ml_train', quiet => true)});
	my $ml_rmse = psql(q{SELECT round(sqrt(avg((fm_predict('ml', u, i) - rating) ^ 2))::numeric, 4) FROM ml_test});
	note("ml-latest-small: regression test RMSE $ml_rmse (defaults)");
	cmp_ok($ml_rmse, '<=', 0.87, "ml-latest-small: regression test RMSE $ml_rmse <= 0.87");

	psql(q{SELECT 1 FROM fm_train('ml_b', 'ml_train', task => 'binary', quiet => true)});
	my $ml_auc = psql(auc_sql('ml_b', 'ml_test'));
	note("ml-latest-small: binary (rating >= 4) test AUC $ml_auc (defaults)");
	cmp_ok($ml_auc, '>=', 0.79, "ml-latest-small: binary test AUC $ml_auc >= 0.79");

	# early stopping on a hold-out keeps a model at least as good
	psql(q{SELECT 1 FROM fm_train('ml_v', 'ml_train', validation => 0.1, epochs => 200, quiet => true)});
	my $v_rmse = psql(q{SELECT round(sqrt(avg((fm_predict('ml_v', u, i) - rating) ^ 2))::numeric, 4) FROM ml_test});
	my $epochs = psql(q{SELECT metrics->>'epochs_run' || '/' || (metrics->>'best_epoch') FROM fm_models WHERE name = 'ml_v'});
	note("ml-latest-small: with validation 0.1 and early stopping: test RMSE $v_rmse, epochs run/best $epochs");
	cmp_ok($v_rmse, '<=', 0.87, "ml-latest-small: early-stopped model RMSE $v_rmse <= 0.87");

	# a known user's top-10 never contains what the user rated
	my $seen = psql(q{SELECT count(*) FROM fm_topn('ml', 1, 10) t JOIN ml_train r ON r.u = 1 AND r.i = t.item});
	is($seen, 0, 'ml-latest-small: top-10 leaves out rated movies');
}

done_testing();
