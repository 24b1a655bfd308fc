# Models survive pg_dump / restore; another session's committed retrain is
# served by the next statement; parallel workers score like the leader;
# the per-backend cache respects fmrec.cache_size.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use FmrecTest;
use Test::More;

new_db('fmrec_catalog');
psql(q{
CREATE TABLE r AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(300, 200, 8000, 2, 0.5);
SELECT 1 FROM fm_train('a', 'r', factors => 8, epochs => 3, quiet => true);
SELECT 1 FROM fm_train('b', 'r', factors => 8, epochs => 3, task => 'binary', quiet => true);
});
my $sig = q{SELECT string_agg(name || ':' || md5(model) || ':' || task || ':' || (hyperparams->>'factors'), ',' ORDER BY name) FROM fm_models};
my $before = psql($sig);

# --- pg_dump / restore ---
system('dropdb --if-exists fmrec_restored 2>/dev/null') == 0 or die;
system('createdb', 'fmrec_restored') == 0 or die;
is(system("pg_dump -d fmrec_catalog | psql -X -q -v ON_ERROR_STOP=1 -d fmrec_restored >/dev/null"), 0,
	'pg_dump | psql restores');
is(psql($sig, db => 'fmrec_restored'), $before, 'restored models have the same bytes and metadata');
is(psql(q{SELECT fm_predict('a', 1, 2)}, db => 'fmrec_restored'), psql(q{SELECT fm_predict('a', 1, 2)}),
	'a restored model predicts the same');
is(psql(q{SELECT count(*) FROM fm_topn('b', 1, 10)}, db => 'fmrec_restored'), 10, 'and ranks');
psql(q{SELECT 1 FROM fm_train('c', 'r', factors => 4, epochs => 1, quiet => true)}, db => 'fmrec_restored');
my $next = psql(q{SELECT count(DISTINCT version) FROM fm_models}, db => 'fmrec_restored');
is($next, 3, 'versions stay unique after a restore');

# --- another session's retrain, seen by the next statement of this one ---
my $out = psql(q{
SELECT fm_predict('a', 1, 2) AS first \gset
\! psql -X -q -d fmrec_catalog -c "SELECT 1 FROM fm_train('a', 'r', factors => 8, epochs => 3, seed => 5, quiet => true)" >/dev/null
SELECT fm_predict('a', 1, 2) <> :first;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT fm_predict('a', 1, 2) AS second \gset
\! psql -X -q -d fmrec_catalog -c "SELECT fm_drop('a')" >/dev/null
SELECT fm_predict('a', 1, 2) = :second;
COMMIT;
});
is($out, "t\nt", 'a committed retrain elsewhere is served by the next statement; a drop after a repeatable-read snapshot is not seen');
my (undef, undef, $err) = psql_result(q{SELECT fm_predict('a', 1, 2)});
like($err, qr/model "a" does not exist/, 'a dropped model is gone for new statements');

# --- parallel workers score exactly like the leader ---
psql(q{
SELECT 1 FROM fm_train('a', 'r', factors => 8, epochs => 3, quiet => true);
CREATE TABLE pairs AS SELECT u, i FROM generate_series(1, 300) u, generate_series(1, 200) i;
ANALYZE pairs;
});
my $plan = psql(q{
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT sum(fm_predict('a', u, i)) FROM pairs;
});
like($plan, qr/Partial Aggregate/, 'fm_predict runs in a parallel plan');
my $par = psql(q{
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT round(sum(fm_predict('a', u, i))::numeric, 3) FROM pairs;
});
my $ser = psql(q{SET max_parallel_workers_per_gather = 0; SELECT round(sum(fm_predict('a', u, i))::numeric, 3) FROM pairs});
is($par, $ser, 'parallel and serial sums agree');

# --- the cache: many models in a small budget, all served correctly ---
psql(q{SELECT fm_train('m' || g, 'r', factors => 8, epochs => 1, seed => g, quiet => true) FROM generate_series(1, 6) g});
my $direct = psql(q{SELECT string_agg(round(fm_predict(model, 1, 2)::numeric, 6)::text, ',' ORDER BY name)
                    FROM fm_models WHERE name LIKE 'm_'});
my $cached = psql(q{
SET fmrec.cache_size = '64kB';
SELECT string_agg(round(fm_predict(name, 1, 2)::numeric, 6)::text, ',' ORDER BY name) FROM fm_models WHERE name LIKE 'm_';
SELECT string_agg(round(fm_predict(name, 1, 2)::numeric, 6)::text, ',' ORDER BY name) FROM fm_models WHERE name LIKE 'm_';
});
is($cached, "$direct\n$direct", 'a tiny fmrec.cache_size evicts but serves the right models');

done_testing();
