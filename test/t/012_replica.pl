# Serving from a streaming standby (PostgreSQL's own read replicas).
#  - fm_topn, fm_predict and fm_recommend on the standby return exactly the
#    primary's results;
#  - a retrain committed on the primary is served by the standby once it
#    is replayed (the version the caches key on is replayed with it);
#  - training on the standby fails at once with 25006 and a hint that says
#    to train on the primary.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "fsync = off\n");
$primary->start;
$primary->safe_psql('postgres', q{
CREATE EXTENSION fmrec;
CREATE TABLE ratings AS
  SELECT user_id, item_id, rating FROM fm_synthetic_ratings(300, 200, 10000, 4);
SELECT 1 FROM fm_train('served', 'ratings', factors => 16, quiet => true);
});
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

my $lists = q{SELECT string_agg(u || ':' || item || ':' || score, ',' ORDER BY u, item)
              FROM generate_series(1, 20) u, fm_topn('served', u, 5)};
my $preds = q{SELECT string_agg(fm_predict('served', u, i)::text, ',' ORDER BY u, i)
              FROM generate_series(1, 20) u, generate_series(1, 20) i};
my $recs = q{SELECT md5(string_agg(user_id || ':' || rank || ':' || item || ':' || score, ','
                                   ORDER BY user_id, rank)) FROM fm_recommend('served', 10)};
for my $q ([ 'fm_topn', $lists ], [ 'fm_predict', $preds ], [ 'fm_recommend', $recs ])
{
	my $p = $primary->safe_psql('postgres', $q->[1]);
	my $s = $standby->safe_psql('postgres', $q->[1]);
	ok(length($p) > 0 && $p eq $s, "$q->[0] on the standby returns the primary's results");
}

# a retrain on the primary reaches the standby's cache through replay
my $before = $standby->safe_psql('postgres', $lists);
$primary->safe_psql('postgres',
	q{SELECT 1 FROM fm_train('served', 'ratings', factors => 8, seed => 9, quiet => true)});
$primary->wait_for_catchup($standby);
my $p_after = $primary->safe_psql('postgres', $lists);
isnt($p_after, $before, 'the retrain changed the lists on the primary');
is($standby->safe_psql('postgres', $lists), $p_after, 'the standby serves the retrained model after replay');
is($standby->safe_psql('postgres', q{SELECT version FROM fm_models WHERE name = 'served'}),
   $primary->safe_psql('postgres', q{SELECT version FROM fm_models WHERE name = 'served'}),
   'the standby has the primary\'s version');

# training on the standby is refused before any work
my ($rc, $out, $err) = $standby->psql('postgres',
	q{SELECT 1 FROM fm_train('other', 'ratings', quiet => true)}, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
isnt($rc, 0, 'fm_train on the standby fails');
like($err, qr/25006: cannot run fm_train in a read-only transaction/, 'with SQLSTATE 25006');
like($err, qr/This server is a standby: train on the primary/, 'and a hint to train on the primary');
($rc, $out, $err) = $standby->psql('postgres',
	q{SELECT 1 FROM fm_update('served', 'ratings', options => '{"quiet": true}')});
like($err, qr/cannot run fm_update in a read-only transaction/, 'fm_update on the standby is refused too');

# a read-only transaction on the primary is refused the same way
($rc, $out, $err) = $primary->psql('postgres',
	q{BEGIN READ ONLY; SELECT 1 FROM fm_train('other', 'ratings', quiet => true); COMMIT;});
like($err, qr/cannot run fm_train in a read-only transaction.*\n.*HINT:  Train in a read-write transaction/s,
	 'a read-only transaction on the primary is refused, with its own hint');

$standby->stop;
$primary->stop;
done_testing();
