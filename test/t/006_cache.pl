# The model cache never serves freed memory: inside one PL/pgSQL statement
# two call sites of fm_predict see different versions of a model that
# another session retrains and commits in between; the first call site
# keeps scoring with the version it holds, which stays alive until it
# lets go (0.1.0 freed it and went on reading the freed model).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use FmrecTest;
use Test::More;

new_db('fmrec_cache');
psql(q{
CREATE EXTENSION dblink;
CREATE TABLE r AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(200, 150, 5000, 3, 0.5);
SELECT 1 FROM fm_train('m', 'r', factors => 8, epochs => 2, seed => 1, quiet => true);
});
my $conn = 'dbname=fmrec_cache host=' . fmrec_node()->host . ' port=' . fmrec_node()->port;
my $first = psql(q{SELECT fm_predict('m', 1, 1)});
my $out = psql(qq{
CREATE FUNCTION probe() RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
    a float8[] := '{}';
    b float8[] := '{}';
BEGIN
    -- no writes in here: the command id, and with it the statement key of
    -- both call sites, stays the same, so each keeps the model it holds
    FOR j IN 1..4 LOOP
        a := a || fm_predict('m', 1, 1);       -- call site A
        PERFORM * FROM dblink('$conn', format(
            'SELECT 1 FROM fm_train(%L, %L, factors => 8, epochs => 2, seed => %s, quiet => true)',
            'm', 'r', j + 10)) AS t(x int);
        b := b || fm_predict('m', 1, 1);       -- call site B: sees the first retrain
    END LOOP;
    RETURN (SELECT count(*) FILTER (WHERE x = $first) FROM unnest(a) x) || '|' ||
           (SELECT count(*) FILTER (WHERE x = 'NaN') FROM unnest(a || b) x) || '|' ||
           (SELECT count(*) FILTER (WHERE x <> $first) FROM unnest(b) x) || '|' ||
           (SELECT count(DISTINCT x) FROM unnest(b) x);
END \$\$;
SELECT probe();
});
is($out, '4|0|4|1',
	'call site A keeps its version (4 of 4 equal to the first score, none NaN), B sees the retrain');
my $latest = psql(q{SELECT fm_predict('m', 1, 1) <> } . $first);
is($latest, 't', 'the next statement serves the latest version');
is(psql(q{SELECT pg_postmaster_start_time() = pg_postmaster_start_time()}), 't', 'the server is up');

done_testing();
