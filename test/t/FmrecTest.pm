# Helpers for fmrec's TAP tests.  Each test file gets a PostgreSQL node of
# its own (PostgreSQL::Test::Cluster, from PGXS), started by new_db() with
# the settings the file asks for; PGHOST and PGPORT then point at it, so
# the file's psql, pg_dump and createdb calls reach that node only.  The
# node is stopped when the file ends.  test/run-tests.sh runs prove as the
# postgres user when started by root (initdb refuses root).
package FmrecTest;

use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempfile);
use PostgreSQL::Test::Cluster;
use Test::More;
use Time::HiRes ();

our @EXPORT = qw(new_db psql psql_result psql_background wait_stopped shared_data load_movielens fmrec_node);

my $db;
my $node;

# The node of this test file (after new_db).
sub fmrec_node { return $node; }

# Starts this file's node (once; extra postgresql.conf lines in %opt{conf}),
# creates a fresh database with the extension (unless %opt{extension} is
# false) and makes it the default.
sub new_db
{
	my ($name, %opt) = @_;
	if (!$node)
	{
		$node = PostgreSQL::Test::Cluster->new('fmrec');
		$node->init;
		$node->append_conf('postgresql.conf',
			"fsync = off\nmax_worker_processes = 8\nmax_parallel_workers_per_gather = 2\n" .
			($opt{conf} // ''));
		$node->start;
		$ENV{PGHOST} = $node->host;
		$ENV{PGPORT} = $node->port;
		delete $ENV{PGUSER};
		$ENV{PGDATABASE} = 'postgres';
	}
	$db = $name;
	system("dropdb --if-exists $name 2>/dev/null") == 0 or die "dropdb failed";
	system('createdb', $name) == 0 or die "createdb failed";
	psql('CREATE EXTENSION fmrec') if $opt{extension} // 1;
	return $name;
}

# Runs SQL, dies on error; returns stdout (unaligned, tuples only).
sub psql
{
	my ($sql, %opt) = @_;
	my ($res, $out, $err) = psql_result($sql, %opt);
	die "psql failed: $err\nSQL: $sql\n" if $res != 0;
	return $out;
}

# Runs SQL; returns (exit code, stdout, stderr).
sub psql_result
{
	my ($sql, %opt) = @_;
	my ($fh, $file) = tempfile(UNLINK => 1);
	print $fh $sql;
	close $fh;
	my $dbname = $opt{db} // $db;
	my $errfile = "$file.err";
	my $out = `psql -X -q -At -v ON_ERROR_STOP=1 -d $dbname -f $file 2>$errfile`;
	my $res = $? >> 8;
	open my $eh, '<', $errfile or die;
	my $err = do { local $/; <$eh> };
	close $eh;
	unlink $errfile;
	chomp $out;
	return ($res, $out, $err);
}

# Runs SQL in a psql of its own in the background, under application_name
# $app, and waits (up to 10 s) until its backend is active.  Returns the
# child's pid (to waitpid) and the backend's pid ('' if it never ran).
sub psql_background
{
	my ($app, $sql) = @_;
	my $child = fork();
	if ($child == 0)
	{
		exec('psql', '-X', '-q', '-d', $db, '-c', "SET application_name = '$app'; $sql")
		  or exit 99;
	}
	my $backend = '';
	for (1 .. 200)
	{
		$backend = psql(qq{SELECT pid FROM pg_stat_activity
		                   WHERE application_name = '$app' AND state = 'active'});
		last if $backend;
		Time::HiRes::sleep(0.05);
	}
	return ($child, $backend);
}

# Waits (up to $limit seconds from $t0, a Time::HiRes time) until backend
# $backend has stopped running a statement ($how 'active') or has exited
# ($how 'gone'); returns the seconds from $t0.
sub wait_stopped
{
	my ($backend, $t0, $limit, $how) = @_;
	my $cond = $how eq 'active' ? " AND state = 'active'" : '';
	while (Time::HiRes::time() - $t0 < $limit)
	{
		last unless psql("SELECT count(*) FROM pg_stat_activity WHERE pid = $backend$cond");
		Time::HiRes::sleep(0.01);
	}
	return Time::HiRes::time() - $t0;
}

# The shared data directory (../shared/data next to the checkout), or undef.
sub shared_data
{
	my ($what) = @_;
	my $dir = $ENV{FMREC_SHARED_DATA} // "$ENV{FMREC_ROOT}/../shared/data";
	return -d "$dir/$what" ? "$dir/$what" : undef;
}

# Loads ml-latest-small's ratings into ml(u, i, rating, ts) and the fixed
# 90/10 split ml_train / ml_test (by a hash of user and movie).
sub load_movielens
{
	my ($dir) = @_;
	psql(qq{
CREATE TABLE ml (u int, i int, rating float8, ts bigint);
\\copy ml FROM '$dir/ratings.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE ml_test AS SELECT u, i, rating FROM ml WHERE hashint8(u * 1000003 + i) % 10 = 0;
CREATE TABLE ml_train AS SELECT u, i, rating FROM ml WHERE hashint8(u * 1000003 + i) % 10 <> 0;
});
}

1;
