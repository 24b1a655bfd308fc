# Helpers for fmrec's TAP tests: they talk to the cluster that
# test/run-tests.sh started (PGHOST, PGPORT and PGUSER are set), each test
# in a database of its own.
package FmrecTest;

use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempfile);
use Test::More;

our @EXPORT = qw(new_db psql psql_result shared_data load_movielens);

my $db;

# Creates a fresh database with the extension and makes it the default.
sub new_db
{
	my ($name) = @_;
	$db = $name;
	system("dropdb --if-exists $name 2>/dev/null") == 0 or die "dropdb failed";
	system('createdb', $name) == 0 or die "createdb failed";
	psql('CREATE EXTENSION fmrec');
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
