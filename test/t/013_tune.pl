# fm_tune while it runs and when it is cancelled.
#  - another session sees the finished trials in fm_tune_trials while the
#    search runs (each trial is committed);
#  - a cancel stops the search within a second, leaves the finished trials
#    and the model as it was, and the backend can tune again;
#  - a role sees only its own trials.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use FmrecTest;
use Test::More;
use Time::HiRes qw(time sleep);

new_db('fmrec_tune');
psql(q{
CREATE TABLE tr AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(2000, 1500, 200000, 7);
SELECT 1 FROM fm_train('tuned', 'tr', factors => 8, epochs => 3, quiet => true);
});
my $before = psql(q{SELECT md5(model) || ' ' || version FROM fm_models WHERE name = 'tuned'});

# the CALL on its own (psql_background's SET before it would make one
# implicit transaction block, in which fm_tune cannot commit)
my $pid = fork();
if ($pid == 0)
{
	$ENV{PGAPPNAME} = 'fmrec_tune_cancel';
	exec('psql', '-X', '-q', '-d', 'fmrec_tune', '-c', q{
CALL fm_tune('tuned', 'tr', '{"factors": [8, 16, 32], "reg_factors": {"min": 0.001, "max": 1, "log": true}}',
             trials => 1000, options => '{"epochs": 30}')}) or exit 99;
}
my $backend = '';
for (1 .. 200)
{
	$backend = psql(q{SELECT pid FROM pg_stat_activity
	                  WHERE application_name = 'fmrec_tune_cancel' AND state = 'active'});
	last if $backend;
	sleep 0.05;
}
ok($backend, 'the search is running');
my $seen = 0;
for (1 .. 600)
{
	$seen = psql(q{SELECT count(*) FROM fm_tune_trials WHERE model = 'tuned'});
	last if $seen >= 2;
	sleep 0.1;
}
cmp_ok($seen, '>=', 2, "another session sees $seen finished trials while the search runs");
# between trainings (evaluating a fold, writing a trial) it shows the CALL
my $activity = '';
for (1 .. 100)
{
	$activity = psql(qq{SELECT query FROM pg_stat_activity WHERE pid = $backend});
	last if $activity =~ /^fmrec: epoch/;
	sleep 0.02;
}
like($activity, qr/^fmrec: epoch \d+\/30, train loss [0-9.]+, [0-9.]+ s \| \s*CALL fm_tune/,
	 'pg_stat_activity shows the running trial\'s training');

my $t0 = time;
psql("SELECT pg_cancel_backend($backend)");
my $elapsed = wait_stopped($backend, $t0, 10, 'active');
cmp_ok($elapsed, '<', 1.0, sprintf('the cancel took %.3f s', $elapsed));
waitpid($pid, 0);
isnt($? >> 8, 0, 'the cancelled CALL failed');
my $after = psql(q{SELECT count(*) FROM fm_tune_trials WHERE model = 'tuned'});
cmp_ok($after, '>=', $seen, "the $after finished trials are kept");
is(psql(q{SELECT count(*) FROM fm_tune_trials WHERE model = 'tuned' AND status = 'best'}), '0',
   'no trial is marked best');
is(psql(q{SELECT md5(model) || ' ' || version FROM fm_models WHERE name = 'tuned'}), $before,
   'the model is as it was');

# a new search in one session after the other: nothing is left behind
psql(q{CALL fm_tune('tuned', 'tr', '{"factors": [4, 8]}', strategy => 'grid', folds => 2,
                    options => '{"epochs": 3}')});
is(psql(q{SELECT count(*) FROM fm_tune_trials WHERE model = 'tuned' AND status = 'best'}), '1',
   'a later search stores its best');
isnt(psql(q{SELECT md5(model) || ' ' || version FROM fm_models WHERE name = 'tuned'}), $before,
     'and replaces the model');

# trials are the tuning role's own
psql(q{CREATE ROLE tuner_b LOGIN; GRANT SELECT ON tr TO tuner_b;});
is(psql(q{SET ROLE tuner_b; SELECT count(*) FROM fm_tune_trials}), '0', 'another role sees none of the trials');
my ($res, $out, $err) = psql_result(q{SET ROLE tuner_b; UPDATE fm_tune_trials SET score = 0});
is(psql(q{SELECT count(*) FROM fm_tune_trials WHERE score = 0}), '0', 'nor can change them');

# another role's model is refused before any row is read or trained on
($res, $out, $err) = psql_result(q{SET ROLE tuner_b;
CALL fm_tune('tuned', 'tr', '{"factors": [4, 8]}', strategy => 'grid')});
like($err, qr/must be owner of model "tuned"/, 'tuning into a model of another role fails at once');
is(psql(q{SELECT count(*) FROM fm_tune_trials WHERE model = 'tuned' AND owner = 'tuner_b'::regrole}), '0',
   'and runs no trial');

done_testing();
