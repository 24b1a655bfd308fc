-- A nightly retrain as a stored procedure, for pg_cron or any scheduler.
--
--   psql -d mydb -f examples/nightly_retrain.sql
--   CALL nightly_retrain('picks', 'events');            -- by hand
--   SELECT cron.schedule('retrain-picks', '30 3 * * *',  -- every night at 03:30
--                        $$CALL nightly_retrain('picks', 'events')$$);
--
-- nightly_retrain(model, source, days, test_days, k) trains the implicit
-- model `model` on the (user_id, item_id, at) rows of `source` from the
-- `days` days before the last `test_days`, and measures its top-k lists on
-- those last days against the lists of the model served until then.  A
-- candidate whose NDCG@k falls short of the served model's by more than
-- `tolerance` is not served: fm_rollback serves the previous bytes again (the
-- candidate stays in fm_model_versions for a look).  Every run is logged in
-- nightly_retrain_log.
--
-- The time window is passed as bound parameters ($1, $2): no value is
-- spliced into SQL text.  The table name is an identifier, which a parameter
-- cannot be; format('%s', regclass) quotes it.
--
-- Everything runs in the caller's transaction: a failure (or a cancel)
-- leaves the served model and the log as they were.

CREATE TABLE IF NOT EXISTS nightly_retrain_log (
    model        text NOT NULL,
    ran_at       timestamptz NOT NULL DEFAULT now(),
    train_rows   bigint,
    test_users   bigint,
    old_ndcg     float8,          -- NULL: nothing was served before
    new_ndcg     float8,
    served       boolean NOT NULL,
    version      bigint NOT NULL, -- the version served after the run
    seconds      float8
);

CREATE OR REPLACE PROCEDURE nightly_retrain(
    model text,
    source regclass,
    days integer DEFAULT 30,
    test_days integer DEFAULT 1,
    k integer DEFAULT 10,
    tolerance float8 DEFAULT 0.005)
LANGUAGE plpgsql
AS $$
#variable_conflict use_variable
DECLARE
    test_from  timestamptz := now() - make_interval(days => test_days);
    train_from timestamptz := test_from - make_interval(days => days);
    train_q    text := format('SELECT user_id, item_id FROM %s WHERE at >= $1 AND at < $2', source);
    test_q     text := format('SELECT user_id, item_id FROM %s WHERE at >= $1', source);
    old_ndcg   float8;
    new_ndcg   float8;
    users      bigint;
    trained    record;
    keep       boolean;
    served     bigint;
BEGIN
    IF days < 1 OR test_days < 1 THEN
        RAISE EXCEPTION 'days and test_days must be at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- the served model's lists on the test days, before it is replaced
    IF EXISTS (SELECT 1 FROM fm_models m WHERE m.name = model) THEN
        SELECT e.ndcg_at_k INTO old_ndcg
        FROM fm_evaluate(model, test_q, k => k, params => ARRAY[test_from::text]) e
        WHERE e.ranker = model;
    END IF;

    SELECT * INTO trained
    FROM fm_train(model, train_q, task => 'implicit', quiet => true,
                  params => ARRAY[train_from::text, test_from::text]);

    SELECT e.ndcg_at_k, e.users INTO new_ndcg, users
    FROM fm_evaluate(model, test_q, k => k, params => ARRAY[test_from::text]) e
    WHERE e.ranker = model;

    keep := old_ndcg IS NULL OR new_ndcg >= old_ndcg - tolerance;
    IF keep THEN
        SELECT m.version INTO served FROM fm_models m WHERE m.name = model;
        RAISE NOTICE 'serving the new %: NDCG@% % (was %), % training rows',
            model, k, round(new_ndcg::numeric, 4),
            coalesce(round(old_ndcg::numeric, 4)::text, 'none'), trained.rows_used;
    ELSE
        served := fm_rollback(model);
        RAISE NOTICE 'kept the served %: the new one has NDCG@% %, the served one %',
            model, k, round(new_ndcg::numeric, 4), round(old_ndcg::numeric, 4);
    END IF;

    INSERT INTO nightly_retrain_log
        (model, train_rows, test_users, old_ndcg, new_ndcg, served, version, seconds)
    VALUES (model, trained.rows_used, users, old_ndcg, new_ndcg, keep, served, trained.seconds);
END
$$;
