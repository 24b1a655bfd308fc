# Cancel and statement_timeout stop a long training within a second, with
# one or two threads; the worker threads are gone afterwards, the server
# never restarts, and the previous model stays exactly as it was.  A long
# fold-in session stops within 100 ms of statement_timeout and of
# pg_terminate_backend.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use FmrecTest;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ':sys_wait_h';

new_db('fmrec_interrupts');
my $started = psql('SELECT pg_postmaster_start_time()');

psql(q{
CREATE TABLE big AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(3000, 2000, 300000, 1, 0.5);
SELECT 1 FROM fm_train('keep', 'SELECT * FROM big LIMIT 1000', factors => 4, epochs => 1, quiet => true);
});
my $before = psql(q{SELECT md5(model) || version FROM fm_models WHERE name = 'keep'});

# progress: one NOTICE per epoch unless quiet
my (undef, undef, $notices) = psql_result(q{SELECT 1 FROM fm_train('progress', 'SELECT * FROM big LIMIT 5000', epochs => 3)});
like($notices, qr/NOTICE:  epoch 1\/3: train rmse [0-9.]+, [0-9.]+ s/, 'a NOTICE for epoch 1');
like($notices, qr/NOTICE:  epoch 3\/3: train rmse/, 'a NOTICE for epoch 3');
like($notices, qr/NOTICE:  training on 5000 rows: \d+ users, \d+ items, solver sgd, task regression, 64 factors, up to 3 epochs, 1 thread\n/,
	'an opening NOTICE says what is trained');
like($notices, qr/NOTICE:  trained in [0-9.]+ s: 3 epochs/, 'a closing NOTICE');
# a long training: every epoch of the first ten, then a steady rate
my (undef, undef, $long) = psql_result(q{SELECT 1 FROM fm_train('progress', 'SELECT * FROM big LIMIT 2000', factors => 2, epochs => 200)});
my $lines = () = $long =~ /NOTICE:  epoch /g;
ok($lines >= 29 && $lines <= 31 && $long =~ /epoch 10\/200/ && $long =~ /epoch 200\/200/ && $long !~ /epoch 11\/200/,
	"200 epochs print $lines epoch NOTICEs: the first ten, every tenth, the last");
my (undef, undef, $quiet) = psql_result(q{SELECT 1 FROM fm_train('progress', 'SELECT * FROM big LIMIT 5000', epochs => 3, quiet => true)});
unlike($quiet, qr/NOTICE/, 'quiet => true prints nothing');

for my $threads (1, 2)
{
	# statement_timeout in the middle of training
	my $t0 = time;
	my ($res, $out, $err) = psql_result(qq{
\\set ON_ERROR_STOP 0
SET statement_timeout = '2s';
SELECT 1 FROM fm_train('keep', 'big', epochs => 100000, threads => $threads, quiet => true);
RESET statement_timeout;
SELECT count(*) FROM pg_ls_dir('/proc/' || pg_backend_pid() || '/task');
});
	my $elapsed = time - $t0;
	like($err, qr/canceling statement due to statement timeout/, "threads=$threads: statement_timeout fires");
	cmp_ok($elapsed, '<', 3.0, sprintf("threads=$threads: stopped within a second of the 2 s timeout (%.2f s)", $elapsed));
	is($out, '1', "threads=$threads: no worker thread is left in the backend");

	# pg_cancel_backend while training runs
	my ($pid, $backend) = psql_background("fmrec_cancel_$threads",
		"SELECT 1 FROM fm_train('keep', 'big', epochs => 100000, threads => $threads, quiet => true)");
	ok($backend, "threads=$threads: training is running");
	sleep 1.5;    # past loading, into the epochs
	like(psql("SELECT query FROM pg_stat_activity WHERE pid = $backend"),
		qr/^fmrec: epoch \d+\/100000, train loss [0-9.]+, [0-9.]+ s \| .*SELECT 1 FROM fm_train/,
		"threads=$threads: pg_stat_activity shows the training's progress");
	$t0 = time;
	psql("SELECT pg_cancel_backend($backend)");
	$elapsed = wait_stopped($backend, $t0, 10, 'active');
	cmp_ok($elapsed, '<', 1.0, sprintf("threads=$threads: cancel took %.3f s", $elapsed));
	waitpid($pid, 0);
	isnt($? >> 8, 0, "threads=$threads: the cancelled statement failed");
}

# the coordinate-wise solvers stop as fast
for my $solver ('als', 'mcmc')
{
	my $t0 = time;
	my ($res, $out, $err) = psql_result(qq{
\\set ON_ERROR_STOP 0
SET statement_timeout = '2s';
SELECT 1 FROM fm_train('keep', 'big', solver => '$solver', epochs => 100000, threads => 2, quiet => true);
RESET statement_timeout;
SELECT count(*) FROM pg_ls_dir('/proc/' || pg_backend_pid() || '/task');
});
	my $elapsed = time - $t0;
	like($err, qr/canceling statement due to statement timeout/, "$solver: statement_timeout fires");
	cmp_ok($elapsed, '<', 3.0, sprintf("$solver: stopped within a second of the 2 s timeout (%.2f s)", $elapsed));
	is($out, '1', "$solver: no worker thread is left in the backend");
}

# fold-in of a long session stops within a step: 100,000 session items at
# k = 1024 are some 10^11 multiply-adds (15 s here), cancelled in a few ms
psql(q{SELECT 1 FROM fm_train('wide', 'SELECT u, i, ((u * i) % 5 + 1)::float8 FROM generate_series(1, 20) u, generate_series(1, 10) i',
                              factors => 1024, epochs => 1, quiet => true)});
{
	my ($res, $out, $err) = psql_result(q{
\set ON_ERROR_STOP 0
\timing on
SET statement_timeout = '100ms';
SELECT count(*) FROM fm_topn('wide', 10, items => array_fill(1::bigint, ARRAY[100000]));
});
	like($err, qr/canceling statement due to statement timeout/, 'fold-in: statement_timeout fires');
	my @times = $out =~ /Time: ([0-9.]+) ms/g;
	my $ms = $times[-1] // 1e9;
	cmp_ok($ms, '<', 200, "fold-in: stopped within 100 ms of the 100 ms timeout ($ms ms)");

	my ($pid, $backend) = psql_background('fmrec_foldin',
		"SELECT count(*) FROM fm_topn('wide', 10, items => array_fill(1::bigint, ARRAY[100000]))");
	ok($backend, 'fold-in is running');
	sleep 0.5;
	my $t0 = time;
	psql("SELECT pg_terminate_backend($backend)");
	my $elapsed = wait_stopped($backend, $t0, 20, 'gone');
	cmp_ok($elapsed, '<', 0.5, sprintf('fold-in: pg_terminate_backend took %.3f s', $elapsed));
	waitpid($pid, 0);
}

is(psql(q{SELECT md5(model) || version FROM fm_models WHERE name = 'keep'}), $before,
	'the previous model is unchanged');
is(psql('SELECT pg_postmaster_start_time()'), $started, 'the server never restarted');

done_testing();
