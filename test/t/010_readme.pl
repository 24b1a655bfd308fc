# The README runs as pasted.
#  - Every ```sql block of README.md, in order, in one fresh database with
#    no extension yet (the first block creates it), through psql: a block
#    may raise exactly the errors it shows as "-- ERROR:  ..." comment
#    lines, in that order, and each DETAIL and HINT it shows after one
#    ("-- HINT:  ...", continued on "--        ..." lines) must be the
#    server's, word for word.  Any other error fails the block.
#  - psql runs in a folder holding the clone's examples/ and the entries
#    of the shared data folder.  A block with a line "-- needs <path>"
#    reads that file: it is skipped, and says so, when the file is not
#    there.
#  - META.json (PGXN) is valid and agrees with fmrec.control.
#  - The Reference section lists every function of the extension (but the
#    internal fmrec_* ones) with the name of each of its arguments, every
#    fm_train argument is in the Options table, and every fmrec.* setting
#    is in the Settings table with its default.
use strict;
use warnings;
use Cwd qw(getcwd);
use File::Temp qw(tempfile tempdir);
use FindBin;
use lib $FindBin::Bin;
use FmrecTest;
use Test::More;
use Time::HiRes ();

my $readme_path = "$ENV{FMREC_ROOT}/README.md";
open my $fh, '<', $readme_path or die "cannot read $readme_path: $!";
my @lines = <$fh>;
close $fh;

# the ```sql blocks: (first line number, text)
my @blocks;
{
	my ($in, $start, $text) = (0, 0, '');
	for my $n (0 .. $#lines)
	{
		my $l = $lines[$n];
		if (!$in && $l =~ /^```sql\s*$/)
		{
			($in, $start, $text) = (1, $n + 2, '');
		}
		elsif ($in && $l =~ /^```\s*$/)
		{
			push @blocks, [ $start, $text ];
			$in = 0;
		}
		elsif ($in)
		{
			$text .= $l;
		}
	}
	die "README.md: a ```sql block is not closed" if $in;
}
ok(@blocks >= 20, 'README.md has ' . scalar(@blocks) . ' SQL blocks');

# What a block expects: a list of { ERROR => ..., DETAIL => ..., HINT => ... }.
sub expected_errors
{
	my ($text) = @_;
	my (@exp, $field);
	for my $l (split /\n/, $text)
	{
		if ($l =~ /^-- (ERROR|DETAIL|HINT):  (.*)$/)
		{
			push @exp, {} if $1 eq 'ERROR';
			die "README.md: a $1 line before any ERROR line" unless @exp;
			$field = $1;
			$exp[-1]{$field} = $2;
		}
		elsif (defined $field && $l =~ /^--\s{4,}(\S.*)$/)
		{
			$exp[-1]{$field} .= " $1";
		}
		else
		{
			undef $field;
		}
	}
	return @exp;
}

# What psql printed: the same list, from its stderr.
sub actual_errors
{
	my ($err) = @_;
	my (@got, $field);
	for my $l (split /\n/, $err)
	{
		if ($l =~ /^psql:[^:]*:\d+: ERROR:  (.*)$/)
		{
			push @got, { ERROR => $1 };
			$field = 'ERROR';
		}
		elsif (@got && defined $field && $l =~ /^(DETAIL|HINT|CONTEXT):  (.*)$/)
		{
			$field = $1;
			$got[-1]{$field} = $2;
		}
		elsif (@got && defined $field && $l !~ /^psql:/ && $l =~ /^\s*(\S.*)$/
			   && $field ne 'CONTEXT')
		{
			$got[-1]{$field} .= "\n$1";
		}
		else
		{
			undef $field;
		}
	}
	return @got;
}

my $db = new_db('fmrec_readme', extension => 0);
# psql's working directory: the clone's examples/ and what the shared data
# folder holds, side by side (a reader runs \i examples/... from the clone
# and \copy from the folder of the download)
my $datadir = $ENV{FMREC_SHARED_DATA} // "$ENV{FMREC_ROOT}/../shared/data";
my $workdir = tempdir(CLEANUP => 1);
symlink("$ENV{FMREC_ROOT}/examples", "$workdir/examples") or die "symlink: $!";
if (opendir(my $dh, $datadir))
{
	for my $e (grep { !/^\./ } readdir $dh)
	{
		symlink("$datadir/$e", "$workdir/$e") or die "symlink: $!";
	}
	closedir $dh;
}
my $total = 0;

for my $b (@blocks)
{
	my ($line, $text) = @$b;
	my @needs = $text =~ /^-- needs (\S+)/mg;
	my @missing = grep { !-e "$workdir/$_" } @needs;
	if (@missing)
	{
		note("README.md line $line: skipped, $missing[0] is not in $workdir");
		next;
	}
	my ($sf, $sqlfile) = tempfile(SUFFIX => '.sql', UNLINK => 1);
	print $sf $text;
	close $sf;
	my $errfile = "$sqlfile.err";
	my $cwd = getcwd();
	chdir $workdir or die "cannot enter $workdir: $!";
	my $t0 = [Time::HiRes::gettimeofday];
	system("psql -X -q -v ON_ERROR_STOP=0 -v VERBOSITY=default -d $db -f $sqlfile"
		   . " >/dev/null 2>$errfile");
	my $secs = Time::HiRes::tv_interval($t0);
	chdir $cwd;
	$total += $secs;
	open my $eh, '<', $errfile or die;
	my $err = do { local $/; <$eh> };
	close $eh;
	unlink $errfile;

	my @exp = expected_errors($text);
	my @got = actual_errors($err);
	my $ok = @exp == @got;
	my @why;
	for my $i (0 .. ($#exp > $#got ? $#exp : $#got))
	{
		my ($e, $g) = ($exp[$i], $got[$i]);
		if (!$e)
		{
			push @why, "unexpected ERROR: $g->{ERROR}"
			  . ($g->{DETAIL} ? "\nDETAIL: $g->{DETAIL}" : '')
			  . ($g->{HINT} ? "\nHINT: $g->{HINT}" : '');
			$ok = 0;
			next;
		}
		if (!$g)
		{
			push @why, "the README shows ERROR: $e->{ERROR}, the server raised none";
			$ok = 0;
			next;
		}
		for my $f (sort keys %$e)
		{
			my $want = $e->{$f};
			my $have = defined $g->{$f} ? $g->{$f} : '(none)';
			$have =~ s/\n/ /g;
			next if $want eq $have;
			push @why, "$f: README has \"$want\", the server said \"$have\"";
			$ok = 0;
		}
	}
	ok($ok, sprintf('README.md line %d runs as shown (%.2f s)', $line, $secs))
	  or diag(join("\n", @why));
}
note(sprintf('all blocks: %.1f s', $total));

# --- the Reference section against the catalog
my $readme = join('', @lines);
my ($reference) = $readme =~ /^## Reference\n(.*?)^## /ms;
ok(defined $reference, 'README.md has a Reference section');
$reference //= '';
my ($functions) = $reference =~ /^### Functions\n(.*?)(?=^### |\z)/ms;
my ($settings) = $reference =~ /^### Settings\n(.*?)(?=^### |\z)/ms;
my ($options) = $readme =~ /^### Options\n(.*?)^### /ms;
$functions //= '';
$settings //= '';
$options //= '';

my $procs = psql(q{
SELECT p.proname || '|' ||
       coalesce(array_to_string(ARRAY(
         SELECT a FROM unnest(p.proargnames, coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[pg_catalog.cardinality(p.proargnames)]))) AS x(a, m)
         WHERE m IN ('i', 'b', 'v')), ','), '')
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'fmrec'
WHERE p.proname NOT LIKE 'fmrec\_%'
ORDER BY 1});
my ($nfunc, %args_of, %rows_of) = (0);
for my $row (split /\n/, $procs)
{
	my ($name, $args) = split /\|/, $row, 2;
	my @rows = grep { /^\| `\Q$name\E\(/ } split /\n/, $functions;
	if (!@rows)
	{
		fail("Reference lists $name");
		next;
	}
	$nfunc++;
	push @{ $args_of{$name} }, grep { length } split /,/, $args;
	$rows_of{$name} = join("\n", @rows);
}
for my $name (sort keys %rows_of)
{
	my %seen;
	my @args = grep { !$seen{$_}++ } @{ $args_of{$name} };
	my @missing;
	for my $arg (@args)
	{
		# fm_train's options are the Options table's rows
		my $where = ($name eq 'fm_train' && $arg ne 'model' && $arg ne 'ratings')
		  ? $options : $rows_of{$name};
		push @missing, $arg unless $where =~ /\b\Q$arg\E\b/;
	}
	ok(!@missing, "Reference documents the arguments of $name (" . scalar(@args) . ')')
	  or diag("not documented: @missing");
}
ok($nfunc >= 30, "Reference lists all $nfunc functions");

my $gucs = psql(q{LOAD 'fmrec';
SELECT name || '|' || current_setting(name) FROM pg_catalog.pg_settings
WHERE name LIKE 'fmrec.%' ORDER BY 1});
for my $row (split /\n/, $gucs)
{
	my ($name, $value) = split /\|/, $row, 2;
	my ($default) = $settings =~ /^\| `\Q$name\E` \| ([^|]*?) \|/m;
	ok(defined $default, "Settings lists $name");
	next unless defined $default;
	$default = '' if $default eq 'empty';
	ok($default eq $value || $default =~ /^\Q$value\E \(/,
	   "Settings gives $name the default $value (README: $default)");
}

# --- META.json (PGXN) against the control file and the tree
{
	require JSON::PP;
	open my $mf, '<', "$ENV{FMREC_ROOT}/META.json" or die "cannot read META.json: $!";
	my $meta = JSON::PP::decode_json(do { local $/; <$mf> });
	close $mf;
	open my $cf, '<', "$ENV{FMREC_ROOT}/fmrec.control" or die;
	my ($version) = do { local $/; <$cf> } =~ /default_version\s*=\s*'([^']+)'/;
	close $cf;
	is($meta->{version}, $version, "META.json's version is the control file's ($version)");
	is($meta->{provides}{fmrec}{version}, $version, 'META.json provides fmrec at that version');
	ok(-e "$ENV{FMREC_ROOT}/$meta->{provides}{fmrec}{file}", "META.json's file $meta->{provides}{fmrec}{file} exists");
	is($meta->{'meta-spec'}{version}, '1.0.0', 'META.json follows PGXN meta spec 1.0.0');
	ok(-e "$ENV{FMREC_ROOT}/LICENSE" && $meta->{license} eq 'postgresql', 'META.json names the LICENSE');
}

done_testing();
