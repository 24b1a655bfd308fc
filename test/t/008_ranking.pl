# Top-N quality on held-out data, measured with fm_evaluate.
#  - planted choices whose answer is known (each user picks 90% of its
#    items from its own half of the catalogue): implicit ALS at its
#    defaults is within 10% of the planted oracle's NDCG@10 and at least
#    1.5 times popularity's;
#  - ml-latest-small (when ../shared/data has it), the split of the
#    ranking issue (test: abs(hashint8(user * 1000003 + item)) % 5 = 0,
#    relevant: test rating >= 4, the user's training items left out): the
#    implicit task at its defaults, the ratings given as strengths, at
#    least 1.5 times the popularity row of fm_evaluate and at least EASE
#    (Steck 2019, lambda = 300, computed with the same protocol by
#    test/bench/ease.py: NDCG@10 0.2938, Recall@20 0.3436); without the
#    strengths, at least 1.5 times popularity.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use FmrecTest;
use Test::More;

new_db('fmrec_ranking');

# planted: users u choose 20 items, 90% of them from their own half
psql(q{
CREATE TABLE picks AS
  SELECT u, CASE WHEN (u % 2 = 0) = (abs(hashint8(u * 1000003 + c * 7919 + 1)) % 10 < 9)
                 THEN 1 + abs(hashint8(u * 1000003 + c * 7919 + 2)) % 100
                 ELSE 101 + abs(hashint8(u * 1000003 + c * 7919 + 2)) % 100 END AS i
    FROM generate_series(1, 400) u, generate_series(1, 40) c;
CREATE TABLE picks_train AS SELECT * FROM picks WHERE abs(hashint8(u * 1000003 + i)) % 5 <> 0;
CREATE TABLE picks_test AS SELECT * FROM picks WHERE abs(hashint8(u * 1000003 + i)) % 5 = 0;
SELECT 1 FROM fm_train('planted', 'SELECT DISTINCT u, i FROM picks_train', task => 'implicit', quiet => true);
});
my ($m, $p) = split /\n/, psql(q{
SELECT ndcg_at_k FROM fm_evaluate('planted', 'SELECT u, i FROM picks_test', k => 10) ORDER BY ranker = 'popularity'});
# the planted oracle knows each user's half and nothing more: it lists
# the user's own-half items it did not train on, in a fixed random order;
# its NDCG@10 with fm_evaluate's definition
my $oracle = psql(q{
WITH rel AS (SELECT DISTINCT u, i FROM picks_test t
             WHERE NOT EXISTS (SELECT 1 FROM picks_train r WHERE r.u = t.u AND r.i = t.i)),
cand AS (SELECT uu AS u, ii AS i,
                row_number() OVER (PARTITION BY uu ORDER BY abs(hashint8(uu * 13 + ii)), ii) AS rk
           FROM generate_series(1, 400) AS us(uu), generate_series(1, 200) AS its(ii)
          WHERE (ii <= 100) = (uu % 2 = 0)
            AND NOT EXISTS (SELECT 1 FROM picks_train r WHERE r.u = uu AND r.i = ii)),
dcg AS (SELECT c.u, sum(1 / log(2, c.rk + 1.0)) AS dcg FROM cand c JOIN rel USING (u, i)
         WHERE c.rk <= 10 GROUP BY c.u),
cnt AS (SELECT u, least(10, count(*)) AS n FROM rel GROUP BY u),
idcg AS (SELECT c.u, sum(1 / log(2, g + 1.0)) AS idcg FROM cnt c, generate_series(1, c.n) g GROUP BY c.u)
SELECT avg(coalesce(d.dcg, 0) / x.idcg) FROM idcg x LEFT JOIN dcg d USING (u)});
cmp_ok($m, '>=', 1.5 * $p, sprintf('planted: NDCG@10 %.4f at least 1.5 x popularity %.4f', $m, $p));
cmp_ok($m, '>=', 0.9 * $oracle, sprintf("planted: NDCG\@10 %.4f within 10%% of the planted oracle's %.4f", $m, $oracle));

# planted taste (fm_synthetic_ratings' taste: each row's item is the one
# the user likes best of 1 + taste drawn by popularity), 1,000 users x
# 2,000 items x 200,000 rows, a fifth of the pairs held out by fm_split.
# The oracle knows the planted model (fm_synthetic_truth): a row picks item
# i with probability share(i) x G(e_ui)^taste, G(e) the popularity mass of
# the items the user likes at most as much, so it ranks by that.  With taste
# 19 the implicit task at its defaults (its reg_factors chosen on a hold-out
# of the training pairs) is within 10% of the oracle and at least 1.5 times
# popularity; with taste 0 the choice ignores the user, the oracle is
# popularity, and the model must not fall below it.
my %pl;
for my $taste (0, 19)
{
	psql(qq{
CREATE TABLE truth$taste AS SELECT * FROM fm_synthetic_truth(1000, 2000, 5);
CREATE TABLE tsplit$taste AS SELECT * FROM fm_split(
  'SELECT user_id, item_id FROM fm_synthetic_ratings(1000, 2000, 200000, 5, taste => $taste)',
  test_fraction => 0.2, seed => 1);
SELECT 1 FROM fm_train('taste$taste', 'SELECT user_id, item_id FROM tsplit$taste WHERE NOT is_test',
                       task => 'implicit', quiet => true);
});
	($pl{"$taste model"}, $pl{"$taste pop"}) = split /\n/, psql(qq{
SELECT ndcg_at_k FROM fm_evaluate('taste$taste', 'SELECT user_id, item_id FROM tsplit$taste WHERE is_test')
 ORDER BY ranker = 'popularity'});
	my $dot = join(' + ', map { "u.factors[$_] * i.factors[$_]" } 1 .. 8);
	$pl{"$taste oracle"} = psql(qq{
WITH pe AS (SELECT u.id AS u, i.id AS i, i.share AS pop, i.bias + $dot AS e
              FROM truth$taste u, truth$taste i WHERE u.side = 'user' AND i.side = 'item'),
orc AS (SELECT u, i, pop * power(sum(pop) OVER (PARTITION BY u ORDER BY e, i), $taste) AS score FROM pe),
cat AS (SELECT DISTINCT item_id AS i FROM tsplit$taste WHERE NOT is_test),
rel AS (SELECT DISTINCT t.user_id AS u, t.item_id AS i FROM tsplit$taste t JOIN cat ON cat.i = t.item_id
         WHERE t.is_test),
ranked AS (SELECT o.u, o.i, row_number() OVER (PARTITION BY o.u ORDER BY o.score DESC, o.i) AS rk
             FROM orc o JOIN cat USING (i)
            WHERE o.u IN (SELECT u FROM rel)
              AND NOT EXISTS (SELECT 1 FROM tsplit$taste s
                               WHERE NOT s.is_test AND s.user_id = o.u AND s.item_id = o.i)),
dcg AS (SELECT r.u, sum(1 / log(2, r.rk + 1.0)) AS dcg FROM ranked r JOIN rel USING (u, i)
         WHERE r.rk <= 10 GROUP BY r.u),
cnt AS (SELECT u, least(10, count(*)) AS n FROM rel GROUP BY u),
idcg AS (SELECT c.u, sum(1 / log(2, g + 1.0)) AS idcg FROM cnt c, generate_series(1, c.n) g GROUP BY c.u)
SELECT avg(coalesce(d.dcg, 0) / x.idcg) FROM idcg x LEFT JOIN dcg d USING (u)});
}
cmp_ok($pl{'19 model'}, '>=', 0.9 * $pl{'19 oracle'},
	   sprintf("planted, taste 19: NDCG\@10 %.4f within 10%% of the planted oracle's %.4f",
			   $pl{'19 model'}, $pl{'19 oracle'}));
cmp_ok($pl{'19 model'}, '>=', 1.5 * $pl{'19 pop'},
	   sprintf('planted, taste 19: NDCG@10 %.4f at least 1.5 x popularity %.4f',
			   $pl{'19 model'}, $pl{'19 pop'}));
cmp_ok($pl{'0 model'}, '>=', 0.97 * $pl{'0 pop'},
	   sprintf('planted, taste 0: NDCG@10 %.4f not below popularity %.4f (the oracle: %.4f)',
			   $pl{'0 model'}, $pl{'0 pop'}, $pl{'0 oracle'}));
is(psql(q{SELECT hyperparams->>'reg_factors' FROM fm_models WHERE name = 'taste19'}), '1',
   'planted, taste 19: the hold-out chose reg_factors 1');

SKIP:
{
	my $dir = shared_data('ml-latest-small');
	skip 'ml-latest-small is not in ../shared/data', 7 unless $dir;
	psql(qq{
CREATE TABLE ml (user_id int, movie_id int, rating float8, ts bigint);
\\copy ml FROM '$dir/ratings.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE ml_train AS SELECT * FROM ml WHERE abs(hashint8(user_id::bigint * 1000003 + movie_id)) % 5 <> 0;
CREATE TABLE ml_test AS SELECT * FROM ml WHERE abs(hashint8(user_id::bigint * 1000003 + movie_id)) % 5 = 0;
SELECT 1 FROM fm_train('ml', 'SELECT user_id, movie_id, rating FROM ml_train', task => 'implicit', quiet => true);
SELECT 1 FROM fm_train('ml_ids', 'SELECT user_id, movie_id FROM ml_train', task => 'implicit', quiet => true);
});
	my ($n10, $pn10, $users) = split /\|/, psql(q{
SELECT m.ndcg_at_k || '|' || p.ndcg_at_k || '|' || m.users
  FROM fm_evaluate('ml', 'SELECT user_id, movie_id, rating FROM ml_test', k => 10, threshold => 4) m,
       fm_evaluate('ml', 'SELECT user_id, movie_id, rating FROM ml_test', k => 10, threshold => 4) p
 WHERE m.ranker = 'ml' AND p.ranker = 'popularity'});
	my ($r20, $pr20) = split /\|/, psql(q{
SELECT m.recall_at_k || '|' || p.recall_at_k
  FROM fm_evaluate('ml', 'SELECT user_id, movie_id, rating FROM ml_test', k => 20, threshold => 4) m,
       fm_evaluate('ml', 'SELECT user_id, movie_id, rating FROM ml_test', k => 20, threshold => 4) p
 WHERE m.ranker = 'ml' AND p.ranker = 'popularity'});
	is($users, '594', 'ml-latest-small: 594 users with a relevant test item');
	cmp_ok($n10, '>=', 1.5 * $pn10, sprintf('NDCG@10 %.4f at least 1.5 x popularity %.4f', $n10, $pn10));
	cmp_ok($r20, '>=', 1.5 * $pr20, sprintf('Recall@20 %.4f at least 1.5 x popularity %.4f', $r20, $pr20));
	cmp_ok($r20, '>=', 0.3436, sprintf("Recall\@20 %.4f at least EASE's 0.3436", $r20));
	cmp_ok($n10, '>=', 0.2938, sprintf("NDCG\@10 %.4f at least EASE's 0.2938", $n10));
	my ($in10, $ir20) = split /\|/, psql(q{
SELECT n.ndcg_at_k || '|' || r.recall_at_k
  FROM fm_evaluate('ml_ids', 'SELECT user_id, movie_id, rating FROM ml_test', k => 10, threshold => 4) n,
       fm_evaluate('ml_ids', 'SELECT user_id, movie_id, rating FROM ml_test', k => 20, threshold => 4) r
 WHERE n.ranker = 'ml_ids' AND r.ranker = 'ml_ids'});
	cmp_ok($in10, '>=', 1.5 * $pn10,
		   sprintf('ids only: NDCG@10 %.4f at least 1.5 x popularity %.4f', $in10, $pn10));
	cmp_ok($ir20, '>=', 1.5 * $pr20,
		   sprintf('ids only: Recall@20 %.4f at least 1.5 x popularity %.4f', $ir20, $pr20));
}

done_testing();
