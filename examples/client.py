#!/usr/bin/env python3
"""fmrec from an application, with psycopg 3 (Debian: python3-psycopg).

Trains a model of choices, measures its lists on held-out rows against
"most popular", and serves it: top-N per user, a session's top-N, single
scores and lists for many users at once.  Every value goes to the server as
a bound parameter: psycopg binds the function arguments, and fm_train's
`params` binds the ratings query's own $1.

    python3 examples/client.py "dbname=mydb"          # or the PG* variables
    python3 examples/client.py --table my_ratings     # your own (user_id, item_id, rating) table

With no --table it makes the planted table fmrec_example_ratings first.
Exits non-zero when the model does not beat popularity.
"""
import argparse
import statistics
import sys
import time

import psycopg


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dsn", nargs="?", default="", help="libpq connection string")
    ap.add_argument("--table", help="(user_id, item_id, rating) table to use")
    ap.add_argument("--model", default="fmrec_example")
    ap.add_argument("--min-rating", type=float, default=4.0,
                    help="rows with this rating or more are the choices")
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()

    with psycopg.connect(args.dsn, autocommit=True) as conn:
        conn.add_notice_handler(lambda d: print("  server:", d.message_primary))
        table = args.table or make_example_table(conn)

        # a seeded split into a table both training and evaluation read
        split = f"{table}_split"
        conn.execute(psycopg.sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} AS "
            "SELECT * FROM fm_split(%s::text, test_fraction => 0.2, seed => 1)"
        ).format(psycopg.sql.Identifier(split)), [table])

        # train: the function's arguments bound by psycopg, the query's $1
        # bound by fm_train from params
        train_q = f'SELECT user_id, item_id FROM "{split}" WHERE NOT is_test AND rating >= $1'
        row = conn.execute(
            "SELECT rows_used, users, items, epochs_run, seconds "
            "FROM fm_train(%s, %s, task => 'implicit', quiet => true, params => %s)",
            [args.model, train_q, [str(args.min_rating)]]).fetchone()
        print(f"trained {args.model}: {row[0]} rows, {row[1]} users, {row[2]} items, "
              f"{row[3]} iterations, {row[4]} s")

        # evaluate on the held-out rows, against the popularity baseline
        test_q = f'SELECT user_id, item_id, rating FROM "{split}" WHERE is_test'
        scores = {}
        for ranker, users, ndcg, recall in conn.execute(
                "SELECT ranker, users, ndcg_at_k, recall_at_k "
                "FROM fm_evaluate(%s::text, %s, k => %s, threshold => %s)",
                [args.model, test_q, args.k, args.min_rating]):
            label = "model" if ranker == args.model else ranker
            scores[label] = ndcg
            print(f"{label:>10}: NDCG@{args.k} {ndcg:.4f}, recall@{args.k} {recall:.4f}, {users} users")

        # serve: one prepared statement, many requests
        users = [r[0] for r in conn.execute(
            f'SELECT DISTINCT user_id FROM "{split}" ORDER BY user_id LIMIT 200')]
        lat = []
        with conn.cursor() as cur:
            for u in users:
                t0 = time.perf_counter()
                cur.execute("SELECT item, score FROM fm_topn(%s::text, %s, %s)",
                            [args.model, u, args.k], prepare=True)
                top = cur.fetchall()
                lat.append(time.perf_counter() - t0)
            print(f"fm_topn for user {users[-1]}: {[item for item, _ in top]}")
        lat.sort()
        print(f"fm_topn over {len(lat)} requests: p50 {1000 * statistics.median(lat):.3f} ms, "
              f"p99 {1000 * lat[int(0.99 * (len(lat) - 1))]:.3f} ms")

        session = [r[0] for r in conn.execute(
            f'SELECT item_id FROM "{split}" WHERE user_id = %s LIMIT 5', [users[0]])]
        top = conn.execute(
            "SELECT item FROM fm_topn(%s::text, %s, items => %s::bigint[])",
            [args.model, args.k, session]).fetchall()
        print(f"fm_topn for a session of {session}: {[r[0] for r in top]}")

        score = conn.execute("SELECT fm_predict(%s::text, %s, %s)",
                             [args.model, users[0], top[0][0]]).fetchone()[0]
        print(f"fm_predict({users[0]}, {top[0][0]}) = {score:.4f}")

        n = conn.execute(
            "SELECT count(DISTINCT user_id) FROM fm_recommend(%s::text, %s, users => %s::bigint[])",
            [args.model, args.k, users]).fetchone()[0]
        print(f"fm_recommend: lists for {n} users in one call")

    if scores.get("model", 0) <= scores.get("popularity", 0):
        print("the model does not beat popularity", file=sys.stderr)
        return 1
    return 0


def make_example_table(conn):
    name = "fmrec_example_ratings"
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {name} AS "
        "SELECT user_id, item_id, rating "
        "FROM fm_synthetic_ratings(users => %s, items => %s, ratings => %s, seed => 7, taste => %s)",
        [2000, 5000, 100000, 19])
    return name


if __name__ == "__main__":
    sys.exit(main())
