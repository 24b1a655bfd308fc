# The programs in examples/ run and do what they say.
#  - examples/nightly_retrain.sql: the procedure trains, evaluates and
#    serves a model from the last days of an events table; a run whose
#    candidate is worse (trained on one day only) leaves the served model's
#    bytes exactly as they were, and every run is logged;
#  - examples/client.py (psycopg 3, when /usr/bin/python3 has it): trains,
#    evaluates and serves with bound parameters, and exits 0 only when
#    the model's lists beat popularity's.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use FmrecTest;
use Test::More;

my $db = new_db('fmrec_examples');
my $root = $ENV{FMREC_ROOT};

# events over the last 40 days, choices with a planted taste
psql(q{
CREATE TABLE events AS
  SELECT user_id, item_id,
         now() - make_interval(secs => abs(hashint8(user_id * 1000003 + item_id)) % (40 * 86400)) AS at
  FROM fm_synthetic_ratings(2000, 5000, 100000, 3, taste => 19);
});
psql("\\i $root/examples/nightly_retrain.sql");

psql(q{CALL nightly_retrain('picks', 'events')});
my ($served, $old, $new, $rows) = split /\|/, psql(q{
SELECT served, coalesce(old_ndcg::text, 'none'), new_ndcg, train_rows FROM nightly_retrain_log});
is($served, 't', 'first run: the model is served');
is($old, 'none', 'first run: nothing was served before');
# the events are spread evenly over 40 days: 30 of them are 3/4 of the rows
cmp_ok(abs($rows - 75000), '<', 1000, "first run: trained on the 30 days before the last ($rows rows)");
cmp_ok($new, '>', 0, "first run: NDCG\@10 $new");

my $before = psql(q{SELECT md5(model) || ' ' || version FROM fm_models WHERE name = 'picks'});
psql(q{CALL nightly_retrain('picks', 'events', days => 1)});
my ($served2, $old2, $new2, $ver2) = split /\|/, psql(q{
SELECT served, old_ndcg, new_ndcg, version FROM nightly_retrain_log ORDER BY ran_at DESC LIMIT 1});
is($served2, 'f', "one day of training is worse ($new2 against $old2): not served");
my ($md5_after, $ver_after) = split / /, psql(q{SELECT md5(model) || ' ' || version FROM fm_models WHERE name = 'picks'});
my ($md5_before) = split / /, $before;
is($md5_after, $md5_before, 'the served bytes are those served before the run');
is($ver_after, $ver2, 'the log has the version served');
is(psql(q{SELECT count(*) FROM fm_model_versions WHERE name = 'picks'}) >= 1 ? 'kept' : 'lost',
   'kept', 'the rejected candidate is kept among the versions');

my ($res, $out, $err) = psql_result(q{CALL nightly_retrain('picks', 'events', days => 0)});
like($err, qr/days and test_days must be at least 1/, 'days => 0 is refused');

SKIP:
{
	skip 'python3-psycopg is not installed', 3
	  unless system('/usr/bin/python3 -c "import psycopg" 2>/dev/null') == 0;
	my $output = `/usr/bin/python3 $root/examples/client.py "dbname=$db" 2>&1`;
	my $rc = $? >> 8;
	is($rc, 0, 'client.py exits 0: the model beats popularity') or diag($output);
	like($output, qr/^\s*model: NDCG\@10 [0-9.]+/m, 'client.py reports the model\'s NDCG@10');
	like($output, qr/^fm_topn for user \d+: \[\d+(, \d+){9}\]$/m, 'client.py serves a list of 10');
	note($output);
}

done_testing();
