# The promises of fm_models under crashes and concurrency:
#  - kill -9 of a backend in the middle of training (the server restarts
#    every session) leaves the previous model byte for byte;
#  - pgbench read load while the model is retrained again and again: no
#    failed or aborted transaction, and every answer comes from one
#    consistent version (two call sites and the catalog row agree);
#  - two sessions training one name at the same time both succeed and the
#    stored model is exactly one of the two trainings;
#  - a cursor that reads a model keeps reading it after another session
#    drops the model; later statements see that it is gone.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use FmrecTest;
use Test::More;
use Time::HiRes qw(time sleep);

# restart_after_crash is off in PostgreSQL::Test::Cluster; a server is on
new_db('fmrec_durability', conf => "restart_after_crash = on\n");
my $node = fmrec_node();
my $conn = 'dbname=fmrec_durability host=' . $node->host . ' port=' . $node->port;

psql(q{
CREATE EXTENSION dblink;
CREATE TABLE big AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(3000, 2000, 300000, 1, 0.5);
SELECT 1 FROM fm_train('keep', 'SELECT * FROM big LIMIT 2000', factors => 4, epochs => 1, quiet => true);
});

# ---- kill -9 during training
my $before = psql(q{SELECT md5(model) || ' ' || version FROM fm_models WHERE name = 'keep'});
sub slurp_log
{
	open(my $lh, '<', $node->logfile) or die;
	local $/;
	return <$lh>;
}
my ($pid, $backend) = psql_background('fmrec_crash',
	"SELECT 1 FROM fm_train('keep', 'big', epochs => 100000, quiet => true)");
ok($backend, 'training is running');
sleep 1.5;    # into the epochs
kill 'KILL', $backend;
waitpid($pid, 0);
isnt($? >> 8, 0, 'the killed training failed');
my $up = 0;
for (1 .. 300)
{
	my ($res) = psql_result('SELECT 1');
	if ($res == 0) { $up = 1; last; }
	sleep 0.1;
}
ok($up, 'the server is back after crash recovery');
like(slurp_log(), qr/all server processes terminated; reinitializing/,
	'the server did restart every session');
is(psql(q{SELECT md5(model) || ' ' || version FROM fm_models WHERE name = 'keep'}), $before,
	'the previous model is there, byte for byte, with its version');
is(psql(q{SELECT fm_predict('keep', 1, 1) IS NOT NULL}), 't', 'and it serves');

# ---- pgbench reads while the model is retrained
# Training j has every rating equal to j, so every prediction is exactly j
# (regression clips to the rating range); versions maps version -> j in the
# training's own transaction.
psql(q{
CREATE TABLE versions (version bigint PRIMARY KEY, j int);
BEGIN;
SELECT 1 FROM fm_train('m', 'SELECT u, i, 1.0 FROM generate_series(1, 300) u, generate_series(1, 200) i WHERE (u + i) % 3 = 0',
                       factors => 8, epochs => 1, quiet => true);
INSERT INTO versions SELECT version, 1 FROM fm_models WHERE name = 'm';
COMMIT;
});
my $script = "$ENV{TESTDIR}/fmrec_read.sql";
open(my $fh, '>', $script) or die "$script: $!";
print $fh <<'SQL';
SELECT CASE WHEN v.j = fm_predict('m', 1, 2) AND v.j = fm_predict('m', 7, 5)
             AND v.j = (SELECT max(score) FROM fm_topn('m', 3, 2)) THEN 1 ELSE 0 END AS ok
  FROM fm_models f JOIN versions v USING (version) WHERE f.name = 'm' \gset
\if :ok = 0
SELECT 'inconsistent answer'::int;
\endif
SQL
close($fh);
my $retrains = fork();
if ($retrains == 0)
{
	my $sql = '';
	for my $n (1 .. 12)
	{
		my $j = 1 + $n % 5;
		$sql .= "BEGIN; SELECT 1 FROM fm_train('m', 'SELECT u, i, $j.0 FROM generate_series(1, 300) u, "
		  . "generate_series(1, 200) i WHERE (u + i) % 3 = 0', factors => 8, epochs => 1, seed => $n, quiet => true); "
		  . "INSERT INTO versions SELECT version, $j FROM fm_models WHERE name = 'm'; COMMIT; "
		  . "SELECT pg_sleep(0.3);\n";
	}
	exec('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'fmrec_durability', '-c', $sql) or exit 99;
}
my $bench = `pgbench -n -c 4 -j 2 -T 6 -f $script fmrec_durability 2>&1`;
my $bench_rc = $? >> 8;
waitpid($retrains, 0);
is($? >> 8, 0, 'the retrains succeeded');
is($bench_rc, 0, 'pgbench ran to the end') or diag($bench);
my ($done) = $bench =~ /number of transactions actually processed: (\d+)/;
my ($failed) = $bench =~ /number of failed transactions: (\d+)/;
cmp_ok($done // 0, '>', 100, 'pgbench processed ' . ($done // 0) . ' transactions');
is($failed, '0', 'no failed transaction');
unlike($bench, qr/aborted|inconsistent/, 'no client aborted on an inconsistent answer');
cmp_ok(psql('SELECT count(*) FROM versions'), '>=', 13, 'all retrains committed during the load');

# ---- two sessions train one name at once
psql(q{
SELECT 1 FROM fm_train('c4', 'SELECT * FROM big LIMIT 60000', factors => 4, epochs => 3, seed => 4, quiet => true);
SELECT 1 FROM fm_train('c6', 'SELECT * FROM big LIMIT 60000', factors => 6, epochs => 3, seed => 6, quiet => true);
});
my @kids;
for my $k (4, 6)
{
	my $kid = fork();
	if ($kid == 0)
	{
		exec('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'fmrec_durability', '-c',
			"SELECT 1 FROM fm_train('c', 'SELECT * FROM big LIMIT 60000', factors => $k, epochs => 3, seed => $k, quiet => true)")
		  or exit 99;
	}
	push @kids, $kid;
}
my $both = 1;
for my $kid (@kids)
{
	waitpid($kid, 0);
	$both &&= ($? >> 8) == 0;
}
ok($both, 'both concurrent trainings of one name succeeded');
is(psql(q{SELECT count(*) FROM fm_models WHERE name = 'c'}), '1', 'one row for the name');
my $winner = psql(q{SELECT fm_model_info(model)->>'factors' FROM fm_models WHERE name = 'c'});
is(psql(qq{SELECT (SELECT md5(model) FROM fm_models WHERE name = 'c') = (SELECT md5(model) FROM fm_models WHERE name = 'c$winner')}),
	't', "the stored model is exactly the factors => $winner training");

# ---- drop while a cursor reads the model
psql(q{
CREATE TABLE expect AS SELECT u, fm_predict('keep', u, 1) AS p FROM generate_series(1, 200) u;
});
my $cursor = psql(qq{
SELECT dblink_connect('a', '$conn');
SELECT dblink_open('a', 'cur', 'SELECT u, fm_predict(''keep'', u, 1) FROM generate_series(1, 200) u');
SELECT count(*) FROM dblink_fetch('a', 'cur', 50) AS t(u int, p float8);
SELECT fm_drop('keep');
SELECT count(*) FILTER (WHERE t.p = e.p) || '/' || count(*)
  FROM dblink_fetch('a', 'cur', 150) AS t(u int, p float8) JOIN expect e USING (u);
SELECT dblink_close('a', 'cur');
SELECT count(*) FROM dblink('a', 'SELECT name FROM fm_models WHERE name = ''keep''') AS t(n text);
});
my @lines = split /\n/, $cursor;
is($lines[-3], '150/150', 'after the drop, the open cursor goes on with the same scores');
is($lines[-1], '0', 'the dropped model is gone for the next statement');
my ($res, $out, $err) = psql_result(q{SELECT fm_predict('keep', 1, 1)});
like($err, qr/model "keep" does not exist/, 'and scoring it is an error');
is(psql(q{SELECT pg_postmaster_start_time() = pg_postmaster_start_time()}), 't', 'the server is up');

done_testing();
