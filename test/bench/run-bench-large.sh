#!/bin/bash
# make bench-large: how fmrec's cost grows with the ratings, on
# MovieLens-25M-shaped planted data (162,541 users, 59,047 items) at 1M,
# 5M and 25M ratings, k = 64.  Runs for several minutes; prints tables.
#  - load rows/s (fm_train's SPI cursor), seconds per SGD epoch, ALS and
#    MCMC iteration and implicit ALS iteration at 1 and 2 threads (each
#    training two epochs or iterations; reg_factors given to the implicit
#    task, so no hold-out search is timed), the backend's peak memory
#    (VmHWM) after each training and how much of it is shared buffers
#    (RssShmem), model bytes; a training past fmrec.max_training_memory
#    is refused before it allocates, and the table says so;
#  - fm_topn p50 / p99 at 59,047 items and at 1,000,000 items.
# fmrec.max_training_memory is raised to 3GB, the target at 25M ratings.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash test/install-deps.sh
make -s all
make -s install >/dev/null
SIZES="${FMREC_BENCH_SIZES:-1000000 5000000 25000000}"

source test/cluster.sh start benchlarge 54333
trap 'fmrec_cluster_stop benchlarge' EXIT
psql -X -q -c "CREATE EXTENSION fmrec"
psql -X -q -c "LOAD 'fmrec'" -c "ALTER SYSTEM SET fmrec.max_training_memory = '3GB'" -c "SELECT pg_reload_conf()" >/dev/null

echo "## fmrec at scale ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GB)"
echo
echo "MovieLens-25M-shaped planted ratings: 162,541 users, 59,047 items, k = 64. Seconds per epoch or iteration from two of them; peak memory is the backend's VmHWM after the training (a new backend each)."
echo
echo "| ratings | generate + insert s | solver | threads | load rows/s | s per epoch / iteration | s per epoch per 1M ratings | peak backend memory (VmHWM) | of it shared buffers (RssShmem) | model bytes |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in $SIZES; do
    t0=$(date +%s.%N)
    psql -X -q -c "DROP TABLE IF EXISTS r" \
         -c "CREATE TABLE r AS SELECT user_id::int, item_id::int, rating::real FROM fm_synthetic_ratings(162541, 59047, $n, 1)"
    t1=$(date +%s.%N)
    gen=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
    for cfg in "sgd:regression" "als:regression" "mcmc:regression" "als:implicit"; do
        solver=${cfg%%:*}
        task=${cfg#*:}
        for threads in 1 2; do
            if [ "$task" = implicit ]; then
                q="SELECT user_id, item_id FROM r"
                extra=", reg_factors => 0.3"
            else
                q="r"
                extra=""
            fi
            psql -X -q -c "SELECT fm_drop('large', if_exists => true)" >/dev/null
            psql -X -q -At -F' | ' 2>/tmp/fmrec-bench-large.err <<SQL || true
\\o /dev/null
SELECT fm_train('large', '$q', task => '$task', solver => '$solver', factors => 64, epochs => 2,
                threads => $threads, quiet => true$extra);
\\o
SELECT '| ' || $n, '$gen', '$solver' || CASE WHEN '$task' = 'implicit' THEN ' (implicit)' ELSE '' END, $threads,
       to_char((metrics->>'rows_per_second_load')::float8, 'FM999,999,999'),
       round((metrics->>'seconds_per_epoch')::numeric, 3),
       round((metrics->>'seconds_per_epoch')::numeric / ($n / 1e6), 4),
       (SELECT pg_size_pretty(1024 * substring(l FROM '([0-9]+) kB')::bigint)
          FROM regexp_split_to_table(pg_read_file('/proc/' || pg_backend_pid() || '/status'), E'\\n') l
         WHERE l LIKE 'VmHWM:%'),
       (SELECT pg_size_pretty(1024 * substring(l FROM '([0-9]+) kB')::bigint)
          FROM regexp_split_to_table(pg_read_file('/proc/' || pg_backend_pid() || '/status'), E'\\n') l
         WHERE l LIKE 'RssShmem:%'),
       to_char(size_bytes, 'FM999,999,999,999') || ' |'
  FROM fm_models WHERE name = 'large';
SQL
            if grep -q ERROR /tmp/fmrec-bench-large.err; then
                label=$solver
                [ "$task" = implicit ] && label="$solver (implicit)"
                echo "| $n | $gen | $label | $threads | refused: $(sed -n 's/^.*ERROR:  //p' /tmp/fmrec-bench-large.err | head -1) ||||||"
            fi
        done
    done
done

echo
echo "| fm_topn(user, 10) | p50 | p99 |"
echo "|---|---|---|"
topn() {
    psql -X -q -At -F' | ' <<SQL
DO \$\$
DECLARE t0 timestamptz; ms float8[] := '{}'; u int;
BEGIN
  PERFORM count(*) FROM fm_topn('$1', 1, 10);   -- the model decoded once
  FOR j IN 1..500 LOOP
    u := 1 + (j * 7919) % $2;
    t0 := clock_timestamp();
    PERFORM count(*) FROM fm_topn('$1', u, 10);
    ms := ms || extract(epoch FROM clock_timestamp() - t0) * 1000;
  END LOOP;
  CREATE TEMP TABLE IF NOT EXISTS lat (model text, ms float8);
  INSERT INTO lat SELECT '$1', unnest(ms);
END \$\$;
SELECT '| $3', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3) || ' ms',
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3) || ' ms |'
  FROM lat WHERE model = '$1';
SQL
}
psql -X -q -c "SELECT 1 FROM fm_train('large_sgd', 'r', factors => 64, epochs => 1, quiet => true)" >/dev/null
topn large_sgd 162541 "59,047 items (SGD, the largest size)"
psql -X -q -c "DROP TABLE IF EXISTS r" \
     -c "CREATE TABLE r AS SELECT user_id::int, item_id::int, rating::real FROM fm_synthetic_ratings(100000, 1000000, 3000000, 2)" \
     -c "SELECT 1 FROM fm_train('million', 'r', factors => 64, epochs => 1, quiet => true)" >/dev/null
topn million 100000 "1,000,000 items (100,000 users, 3M ratings)"
