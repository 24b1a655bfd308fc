-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fmrec UPDATE TO '0.2.0'" to load this file. \quit

-- fmrec 0.1.0 -> 0.2.0: qualified references and a pinned search_path
-- (0.1.0's unqualified nextval could be captured), model owners and
-- grants, options jsonb, named aggregate arguments.  Models stored by
-- 0.1.0 keep their bytes (format 1, still read) and get the role running
-- this update as their owner.

ALTER TABLE @extschema@.fm_models ALTER COLUMN version
    SET DEFAULT pg_catalog.nextval('@extschema@.fm_models_version_seq'::pg_catalog.regclass);
ALTER TABLE @extschema@.fm_models DROP CONSTRAINT fm_models_name_check;
ALTER TABLE @extschema@.fm_models ADD CONSTRAINT fm_models_name_check
    CHECK (pg_catalog.octet_length(name) OPERATOR(pg_catalog.>=) 1
           AND pg_catalog.octet_length(name) OPERATOR(pg_catalog.<=) 63);
ALTER TABLE @extschema@.fm_models ADD COLUMN owner pg_catalog.regrole;
UPDATE @extschema@.fm_models SET owner = CURRENT_USER::pg_catalog.regrole;
ALTER TABLE @extschema@.fm_models ALTER COLUMN owner SET NOT NULL;

-- internal functions are named fmrec_*, out of \df fm_*'s way
ALTER FUNCTION @extschema@.fm_models_new_version() RENAME TO fmrec_new_version;
CREATE OR REPLACE FUNCTION @extschema@.fmrec_new_version() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.version := pg_catalog.nextval('@extschema@.fm_models_version_seq'::pg_catalog.regclass);
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.fmrec_new_version() IS 'internal: gives each written fm_models row a new version';

COMMENT ON COLUMN @extschema@.fm_models.name IS 'the model''s name, 1 to 63 bytes';
COMMENT ON COLUMN @extschema@.fm_models.owner IS 'the role that trained it first; only its members may retrain, drop or grant it';
COMMENT ON COLUMN @extschema@.fm_models.task IS 'regression, binary or implicit';
COMMENT ON COLUMN @extschema@.fm_models.solver IS 'sgd, als, mcmc or item_cosine';
COMMENT ON COLUMN @extschema@.fm_models.hyperparams IS 'the options it was trained with, defaults filled in';
COMMENT ON COLUMN @extschema@.fm_models.metrics IS 'training results: rows, epochs, losses, validation metrics, seconds';
COMMENT ON COLUMN @extschema@.fm_models.n_rows IS 'rating rows it was trained on';
COMMENT ON COLUMN @extschema@.fm_models.n_users IS 'users in the model, with ratings or attributes';
COMMENT ON COLUMN @extschema@.fm_models.n_items IS 'items in the model, with ratings or attributes';
COMMENT ON COLUMN @extschema@.fm_models.size_bytes IS 'length of the model bytes';
COMMENT ON COLUMN @extschema@.fm_models.version IS 'changes with every write of the row; serving caches key on it';
COMMENT ON COLUMN @extschema@.fm_models.created_at IS 'when this version was trained';
COMMENT ON COLUMN @extschema@.fm_models.model IS 'the model as bytes (proto/fmrec.proto, format 2; 0.1.0 wrote format 1)';

-- Who may serve or read a model besides its owner's members.
CREATE TABLE @extschema@.fm_model_grants (
    model       pg_catalog.text NOT NULL
                REFERENCES @extschema@.fm_models (name) ON DELETE CASCADE ON UPDATE CASCADE,
    grantee     pg_catalog.oid NOT NULL,
    privilege   pg_catalog.text NOT NULL
                CHECK (privilege OPERATOR(pg_catalog.=) ANY (ARRAY['serve', 'read']::pg_catalog.text[])),
    PRIMARY KEY (model, grantee, privilege)
);
COMMENT ON TABLE @extschema@.fm_model_grants IS 'privileges on models granted by their owners with fm_grant';
COMMENT ON COLUMN @extschema@.fm_model_grants.model IS 'the model''s name';
COMMENT ON COLUMN @extschema@.fm_model_grants.grantee IS 'the role (its oid), or 0 for PUBLIC';
COMMENT ON COLUMN @extschema@.fm_model_grants.privilege IS 'serve (fm_predict, fm_topn by name) or read (the bytes, seen lists included)';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.fm_models', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fm_models_version_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fm_model_grants', '');

-- Roles read the rows of the models they own or may read; all writes go
-- through fm_train, fm_drop, fm_grant and fm_revoke, which check ownership.
ALTER TABLE @extschema@.fm_models ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON @extschema@.fm_models FROM PUBLIC;
GRANT SELECT ON @extschema@.fm_models TO PUBLIC;
-- Whether the current role may read a model's rows: a member of its owner,
-- or granted 'read' (itself or through PUBLIC); the policies of the model
-- tables use it.
CREATE FUNCTION @extschema@.fmrec_model_readable(owner pg_catalog.regrole, model pg_catalog.text)
RETURNS pg_catalog.bool
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.pg_has_role($1::pg_catalog.oid, 'USAGE')
           OR EXISTS (SELECT 1 FROM @extschema@.fm_model_grants g
                      WHERE g.model OPERATOR(pg_catalog.=) $2
                        AND g.privilege OPERATOR(pg_catalog.=) 'read'
                        AND CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN true
                                 ELSE pg_catalog.pg_has_role(g.grantee, 'USAGE') END)
$$;
COMMENT ON FUNCTION @extschema@.fmrec_model_readable(pg_catalog.regrole, pg_catalog.text) IS 'internal: whether the current role may read a model''s rows (its owner''s members, or a read grant)';

CREATE POLICY fm_models_read ON @extschema@.fm_models FOR SELECT
    USING (@extschema@.fmrec_model_readable(fm_models.owner, fm_models.name));
-- Grants are public knowledge, as relation ACLs in pg_class are.
REVOKE ALL ON @extschema@.fm_model_grants FROM PUBLIC;
GRANT SELECT ON @extschema@.fm_model_grants TO PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.fm_models_version_seq FROM PUBLIC;

CREATE FUNCTION @extschema@.fm_grant(model pg_catalog.text, role pg_catalog.text,
    privilege pg_catalog.text DEFAULT 'serve')
RETURNS void
AS 'MODULE_PATHNAME', 'fmrec_grant'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.fm_grant(pg_catalog.text, pg_catalog.text, pg_catalog.text)
IS 'lets a role (or public) serve or read a model; only the model''s owner may grant';

CREATE FUNCTION @extschema@.fm_revoke(model pg_catalog.text, role pg_catalog.text,
    privilege pg_catalog.text DEFAULT 'serve')
RETURNS boolean
AS 'MODULE_PATHNAME', 'fmrec_revoke'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.fm_revoke(pg_catalog.text, pg_catalog.text, pg_catalog.text)
IS 'takes back a privilege given with fm_grant; true when there was one';

DROP FUNCTION @extschema@.fm_train(text, text, text, integer, integer, integer, float8,
    float8, float8, float8, float8, float8, float8, integer, bigint, integer,
    boolean, boolean, text, integer, text, text);

-- The named options of 0.1.0 stay; every option, also those added later,
-- is accepted in options (the names of fm_train_agg's jsonb, SageMaker's
-- too), so this signature does not change when an option is added.
CREATE FUNCTION @extschema@.fm_train(
    model pg_catalog.text,
    ratings pg_catalog.text,
    task pg_catalog.text DEFAULT NULL,
    factors pg_catalog.int4 DEFAULT NULL,
    epochs pg_catalog.int4 DEFAULT NULL,
    batch_size pg_catalog.int4 DEFAULT NULL,
    learning_rate pg_catalog.float8 DEFAULT NULL,
    reg_bias pg_catalog.float8 DEFAULT NULL,
    reg_linear pg_catalog.float8 DEFAULT NULL,
    reg_factors pg_catalog.float8 DEFAULT NULL,
    init_stdev pg_catalog.float8 DEFAULT NULL,
    threshold pg_catalog.float8 DEFAULT NULL,
    validation pg_catalog.float8 DEFAULT NULL,
    patience pg_catalog.int4 DEFAULT NULL,
    seed pg_catalog.int8 DEFAULT NULL,
    threads pg_catalog.int4 DEFAULT NULL,
    store_seen pg_catalog.bool DEFAULT NULL,
    quiet pg_catalog.bool DEFAULT NULL,
    solver pg_catalog.text DEFAULT NULL,
    burn_in pg_catalog.int4 DEFAULT NULL,
    user_features pg_catalog.text DEFAULT NULL,
    item_features pg_catalog.text DEFAULT NULL,
    options pg_catalog.jsonb DEFAULT NULL,
    params pg_catalog.text[] DEFAULT NULL,
    OUT name pg_catalog.text,
    OUT rows_used pg_catalog.int8,
    OUT users pg_catalog.int8,
    OUT items pg_catalog.int8,
    OUT epochs_run pg_catalog.int4,
    OUT best_epoch pg_catalog.int4,
    OUT train_loss pg_catalog.float8,
    OUT valid_rmse pg_catalog.float8,
    OUT valid_auc pg_catalog.float8,
    OUT valid_logloss pg_catalog.float8,
    OUT seconds pg_catalog.float8,
    OUT model_bytes pg_catalog.int8)
RETURNS record
AS 'MODULE_PATHNAME', 'fmrec_train'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.fm_train(pg_catalog.text, pg_catalog.text, pg_catalog.text,
    pg_catalog.int4, pg_catalog.int4, pg_catalog.int4, pg_catalog.float8, pg_catalog.float8,
    pg_catalog.float8, pg_catalog.float8, pg_catalog.float8, pg_catalog.float8,
    pg_catalog.float8, pg_catalog.int4, pg_catalog.int8, pg_catalog.int4, pg_catalog.bool,
    pg_catalog.bool, pg_catalog.text, pg_catalog.int4, pg_catalog.text, pg_catalog.text,
    pg_catalog.jsonb, pg_catalog.text[])
IS 'trains a factorization machine from (user, item, rating [, weight] [, context...]) rows and optional user and item attributes, and stores it in fm_models';

COMMENT ON FUNCTION @extschema@.fm_drop(pg_catalog.text, pg_catalog.bool) IS 'removes a model from fm_models; only its owner may';

-- the aggregates, again with named arguments
DROP AGGREGATE @extschema@.fm_train_agg(bigint, bigint, float8, jsonb);
DROP AGGREGATE @extschema@.fm_train_agg(bigint, bigint, float8);
CREATE AGGREGATE @extschema@.fm_train_agg(user_id pg_catalog.int8, item_id pg_catalog.int8,
    rating pg_catalog.float8, options pg_catalog.jsonb) (
    SFUNC = @extschema@.fmrec_agg_trans,
    STYPE = internal,
    FINALFUNC = @extschema@.fmrec_agg_final,
    COMBINEFUNC = @extschema@.fmrec_agg_combine,
    SERIALFUNC = @extschema@.fmrec_agg_serialize,
    DESERIALFUNC = @extschema@.fmrec_agg_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.fm_train_agg(pg_catalog.int8, pg_catalog.int8, pg_catalog.float8, pg_catalog.jsonb)
IS 'trains a factorization machine over (user, item, rating) rows with jsonb options, on one thread, and returns the model bytes';

CREATE AGGREGATE @extschema@.fm_train_agg(user_id pg_catalog.int8, item_id pg_catalog.int8,
    rating pg_catalog.float8) (
    SFUNC = @extschema@.fmrec_agg_trans,
    STYPE = internal,
    FINALFUNC = @extschema@.fmrec_agg_final,
    COMBINEFUNC = @extschema@.fmrec_agg_combine,
    SERIALFUNC = @extschema@.fmrec_agg_serialize,
    DESERIALFUNC = @extschema@.fmrec_agg_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.fm_train_agg(pg_catalog.int8, pg_catalog.int8, pg_catalog.float8)
IS 'trains a factorization machine over (user, item, rating) rows with default options, on one thread, and returns the model bytes';

-- ------------------------------------------------------------------
-- Evaluation
-- ------------------------------------------------------------------

CREATE FUNCTION @extschema@.fm_evaluate(model pg_catalog.text, test pg_catalog.text,
    k pg_catalog.int4 DEFAULT 10, threshold pg_catalog.float8 DEFAULT NULL,
    params pg_catalog.text[] DEFAULT NULL,
    OUT ranker pg_catalog.text, OUT users pg_catalog.int8, OUT test_rows pg_catalog.int8,
    OUT precision_at_k pg_catalog.float8, OUT recall_at_k pg_catalog.float8,
    OUT ndcg_at_k pg_catalog.float8, OUT map_at_k pg_catalog.float8,
    OUT mrr pg_catalog.float8, OUT hit_rate_at_k pg_catalog.float8,
    OUT coverage_at_k pg_catalog.float8, OUT rmse pg_catalog.float8,
    OUT mae pg_catalog.float8, OUT auc pg_catalog.float8,
    OUT log_loss pg_catalog.float8, OUT accuracy pg_catalog.float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fmrec_evaluate_name'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.fm_evaluate(pg_catalog.text, pg_catalog.text, pg_catalog.int4, pg_catalog.float8, pg_catalog.text[]) IS 'top-N and pointwise metrics of a model on held-out (user, item, rating) rows, with the popularity baseline of its training data';

CREATE FUNCTION @extschema@.fm_evaluate(model pg_catalog.bytea, test pg_catalog.text,
    k pg_catalog.int4 DEFAULT 10, threshold pg_catalog.float8 DEFAULT NULL,
    params pg_catalog.text[] DEFAULT NULL,
    OUT ranker pg_catalog.text, OUT users pg_catalog.int8, OUT test_rows pg_catalog.int8,
    OUT precision_at_k pg_catalog.float8, OUT recall_at_k pg_catalog.float8,
    OUT ndcg_at_k pg_catalog.float8, OUT map_at_k pg_catalog.float8,
    OUT mrr pg_catalog.float8, OUT hit_rate_at_k pg_catalog.float8,
    OUT coverage_at_k pg_catalog.float8, OUT rmse pg_catalog.float8,
    OUT mae pg_catalog.float8, OUT auc pg_catalog.float8,
    OUT log_loss pg_catalog.float8, OUT accuracy pg_catalog.float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fmrec_evaluate_bytes'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.fm_evaluate(pg_catalog.bytea, pg_catalog.text, pg_catalog.int4, pg_catalog.float8, pg_catalog.text[]) IS 'fm_evaluate for model bytes';

CREATE FUNCTION @extschema@.fm_split(source pg_catalog.text,
    method pg_catalog.text DEFAULT 'random', test_fraction pg_catalog.float8 DEFAULT 0.2,
    seed pg_catalog.int8 DEFAULT 0, time_column pg_catalog.text DEFAULT NULL,
    cutoff pg_catalog.text DEFAULT NULL,
    OUT user_id pg_catalog.int8, OUT item_id pg_catalog.int8,
    OUT rating pg_catalog.float8, OUT is_test pg_catalog.bool)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fmrec_split'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.fm_split(pg_catalog.text, pg_catalog.text, pg_catalog.float8, pg_catalog.int8, pg_catalog.text, pg_catalog.text) IS 'the rows of a ratings source marked as training or test: random, user_fraction, leave_last_out or time';

-- fm_topn takes exclude (more item ids to leave out); its forms are
-- created again with it
DROP FUNCTION @extschema@.fm_topn(text, bigint, integer, bigint[], boolean, jsonb, boolean);
DROP FUNCTION @extschema@.fm_topn(bytea, bigint, integer, bigint[], boolean, jsonb, boolean);
DROP FUNCTION @extschema@.fm_topn(text, integer, text[], bigint[], float8[], bigint[], jsonb, boolean);
DROP FUNCTION @extschema@.fm_topn(bytea, integer, text[], bigint[], float8[], bigint[], jsonb, boolean);

CREATE FUNCTION @extschema@.fm_topn(model text, user_id bigint, n integer,
    candidates bigint[] DEFAULT NULL, exclude_seen boolean DEFAULT true,
    context jsonb DEFAULT NULL, verbose boolean DEFAULT false,
    exclude bigint[] DEFAULT NULL)
RETURNS TABLE (item bigint, score float8)
AS 'MODULE_PATHNAME', 'fmrec_topn_name'
LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION @extschema@.fm_topn(text, bigint, integer, bigint[], boolean, jsonb, boolean, bigint[]) IS 'the n best items for a user, best first, by model name';

CREATE FUNCTION @extschema@.fm_topn(model bytea, user_id bigint, n integer,
    candidates bigint[] DEFAULT NULL, exclude_seen boolean DEFAULT true,
    context jsonb DEFAULT NULL, verbose boolean DEFAULT false,
    exclude bigint[] DEFAULT NULL)
RETURNS TABLE (item bigint, score float8)
AS 'MODULE_PATHNAME', 'fmrec_topn_bytes'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION @extschema@.fm_topn(bytea, bigint, integer, bigint[], boolean, jsonb, boolean, bigint[]) IS 'the n best items for a user, best first, by model bytes';

-- anonymous users: attributes, a session's items (fold-in), or nothing
CREATE FUNCTION @extschema@.fm_topn(model text, n integer,
    user_features text[] DEFAULT NULL, items bigint[] DEFAULT NULL,
    ratings float8[] DEFAULT NULL, candidates bigint[] DEFAULT NULL,
    context jsonb DEFAULT NULL, verbose boolean DEFAULT false,
    exclude bigint[] DEFAULT NULL)
RETURNS TABLE (item bigint, score float8)
AS 'MODULE_PATHNAME', 'fmrec_topn_anon_name'
LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION @extschema@.fm_topn(text, integer, text[], bigint[], float8[], bigint[], jsonb, boolean, bigint[]) IS 'the n best items for an anonymous user described by attributes and/or a session of items, by model name';

CREATE FUNCTION @extschema@.fm_topn(model bytea, n integer,
    user_features text[] DEFAULT NULL, items bigint[] DEFAULT NULL,
    ratings float8[] DEFAULT NULL, candidates bigint[] DEFAULT NULL,
    context jsonb DEFAULT NULL, verbose boolean DEFAULT false,
    exclude bigint[] DEFAULT NULL)
RETURNS TABLE (item bigint, score float8)
AS 'MODULE_PATHNAME', 'fmrec_topn_anon_bytes'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION @extschema@.fm_topn(bytea, integer, text[], bigint[], float8[], bigint[], jsonb, boolean, bigint[]) IS 'the n best items for an anonymous user described by attributes and/or a session of items, by model bytes';


-- ------------------------------------------------------------------
-- Serving many users at once, and similar items
-- ------------------------------------------------------------------

CREATE FUNCTION @extschema@.fm_recommend(model pg_catalog.text, n pg_catalog.int4,
    users pg_catalog.int8[] DEFAULT NULL, candidates pg_catalog.int8[] DEFAULT NULL,
    exclude pg_catalog.int8[] DEFAULT NULL, exclude_seen pg_catalog.bool DEFAULT true,
    threads pg_catalog.int4 DEFAULT NULL)
RETURNS TABLE (user_id pg_catalog.int8, rank pg_catalog.int4, item pg_catalog.int8,
    score pg_catalog.float8)
AS 'MODULE_PATHNAME', 'fmrec_recommend_name'
LANGUAGE C STABLE PARALLEL UNSAFE ROWS 100000;
COMMENT ON FUNCTION @extschema@.fm_recommend(pg_catalog.text, pg_catalog.int4, pg_catalog.int8[], pg_catalog.int8[], pg_catalog.int8[], pg_catalog.bool, pg_catalog.int4) IS 'fm_topn''s lists for many users at once (all the model''s users, or an array), by model name';

CREATE FUNCTION @extschema@.fm_recommend(model pg_catalog.bytea, n pg_catalog.int4,
    users pg_catalog.int8[] DEFAULT NULL, candidates pg_catalog.int8[] DEFAULT NULL,
    exclude pg_catalog.int8[] DEFAULT NULL, exclude_seen pg_catalog.bool DEFAULT true,
    threads pg_catalog.int4 DEFAULT NULL)
RETURNS TABLE (user_id pg_catalog.int8, rank pg_catalog.int4, item pg_catalog.int8,
    score pg_catalog.float8)
AS 'MODULE_PATHNAME', 'fmrec_recommend_bytes'
LANGUAGE C IMMUTABLE PARALLEL UNSAFE ROWS 100000;
COMMENT ON FUNCTION @extschema@.fm_recommend(pg_catalog.bytea, pg_catalog.int4, pg_catalog.int8[], pg_catalog.int8[], pg_catalog.int8[], pg_catalog.bool, pg_catalog.int4) IS 'fm_topn''s lists for many users at once, by model bytes';

CREATE FUNCTION @extschema@.fm_similar_items(model pg_catalog.text, item pg_catalog.int8,
    n pg_catalog.int4 DEFAULT 10, candidates pg_catalog.int8[] DEFAULT NULL,
    exclude pg_catalog.int8[] DEFAULT NULL, include_query pg_catalog.bool DEFAULT false)
RETURNS TABLE (item pg_catalog.int8, similarity pg_catalog.float8)
AS 'MODULE_PATHNAME', 'fmrec_similar_name'
LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION @extschema@.fm_similar_items(pg_catalog.text, pg_catalog.int8, pg_catalog.int4, pg_catalog.int8[], pg_catalog.int8[], pg_catalog.bool) IS 'the items most like an item, by the cosine of the model''s item representations, by model name';

CREATE FUNCTION @extschema@.fm_similar_items(model pg_catalog.bytea, item pg_catalog.int8,
    n pg_catalog.int4 DEFAULT 10, candidates pg_catalog.int8[] DEFAULT NULL,
    exclude pg_catalog.int8[] DEFAULT NULL, include_query pg_catalog.bool DEFAULT false)
RETURNS TABLE (item pg_catalog.int8, similarity pg_catalog.float8)
AS 'MODULE_PATHNAME', 'fmrec_similar_bytes'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION @extschema@.fm_similar_items(pg_catalog.bytea, pg_catalog.int8, pg_catalog.int4, pg_catalog.int8[], pg_catalog.int8[], pg_catalog.bool) IS 'the items most like an item, by model bytes';

CREATE FUNCTION @extschema@.fm_similar_items(model pg_catalog.text, items pg_catalog.int8[],
    n pg_catalog.int4 DEFAULT 10, candidates pg_catalog.int8[] DEFAULT NULL,
    exclude pg_catalog.int8[] DEFAULT NULL, include_query pg_catalog.bool DEFAULT false)
RETURNS TABLE (item pg_catalog.int8, similarity pg_catalog.float8)
AS 'MODULE_PATHNAME', 'fmrec_similar_set_name'
LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION @extschema@.fm_similar_items(pg_catalog.text, pg_catalog.int8[], pg_catalog.int4, pg_catalog.int8[], pg_catalog.int8[], pg_catalog.bool) IS 'the items most like a set of items (the sum of their unit vectors), by model name';

CREATE FUNCTION @extschema@.fm_similar_items(model pg_catalog.bytea, items pg_catalog.int8[],
    n pg_catalog.int4 DEFAULT 10, candidates pg_catalog.int8[] DEFAULT NULL,
    exclude pg_catalog.int8[] DEFAULT NULL, include_query pg_catalog.bool DEFAULT false)
RETURNS TABLE (item pg_catalog.int8, similarity pg_catalog.float8)
AS 'MODULE_PATHNAME', 'fmrec_similar_set_bytes'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION @extschema@.fm_similar_items(pg_catalog.bytea, pg_catalog.int8[], pg_catalog.int4, pg_catalog.int8[], pg_catalog.int8[], pg_catalog.bool) IS 'the items most like a set of items, by model bytes';

-- ------------------------------------------------------------------
-- Model versions
-- ------------------------------------------------------------------

-- Each write of an fm_models row (a retrain, fm_update, fm_refresh,
-- fm_rollback) first keeps the row it replaces here, newest
-- fmrec.keep_versions of them per model.
CREATE TABLE @extschema@.fm_model_versions (
    name        pg_catalog.text NOT NULL
                REFERENCES @extschema@.fm_models (name) ON DELETE CASCADE ON UPDATE CASCADE,
    version     pg_catalog.int8 NOT NULL,
    owner       pg_catalog.regrole NOT NULL,
    task        pg_catalog.text NOT NULL,
    solver      pg_catalog.text NOT NULL,
    hyperparams pg_catalog.jsonb NOT NULL,
    metrics     pg_catalog.jsonb NOT NULL,
    n_rows      pg_catalog.int8 NOT NULL,
    n_users     pg_catalog.int8 NOT NULL,
    n_items     pg_catalog.int8 NOT NULL,
    size_bytes  pg_catalog.int8 NOT NULL,
    created_at  pg_catalog.timestamptz NOT NULL,
    replaced_at pg_catalog.timestamptz NOT NULL,
    model       pg_catalog.bytea NOT NULL,
    PRIMARY KEY (name, version)
);
ALTER TABLE @extschema@.fm_model_versions ALTER COLUMN model SET STORAGE EXTERNAL;
COMMENT ON TABLE @extschema@.fm_model_versions IS 'earlier versions of fmrec models, newest fmrec.keep_versions per model; fm_rollback serves one again';
COMMENT ON COLUMN @extschema@.fm_model_versions.name IS 'the model''s name';
COMMENT ON COLUMN @extschema@.fm_model_versions.version IS 'the version it had while it was served';
COMMENT ON COLUMN @extschema@.fm_model_versions.owner IS 'the model''s owner then';
COMMENT ON COLUMN @extschema@.fm_model_versions.task IS 'regression, binary or implicit';
COMMENT ON COLUMN @extschema@.fm_model_versions.solver IS 'the solver it was trained with';
COMMENT ON COLUMN @extschema@.fm_model_versions.hyperparams IS 'the options it was trained with';
COMMENT ON COLUMN @extschema@.fm_model_versions.metrics IS 'its training results';
COMMENT ON COLUMN @extschema@.fm_model_versions.n_rows IS 'rating rows it was trained on';
COMMENT ON COLUMN @extschema@.fm_model_versions.n_users IS 'users in it';
COMMENT ON COLUMN @extschema@.fm_model_versions.n_items IS 'items in it';
COMMENT ON COLUMN @extschema@.fm_model_versions.size_bytes IS 'length of its bytes';
COMMENT ON COLUMN @extschema@.fm_model_versions.created_at IS 'when it was trained';
COMMENT ON COLUMN @extschema@.fm_model_versions.replaced_at IS 'when a newer version replaced it';
COMMENT ON COLUMN @extschema@.fm_model_versions.model IS 'its bytes, exactly as they were served';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fm_model_versions', '');
ALTER TABLE @extschema@.fm_model_versions ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON @extschema@.fm_model_versions FROM PUBLIC;
GRANT SELECT ON @extschema@.fm_model_versions TO PUBLIC;
CREATE POLICY fm_model_versions_read ON @extschema@.fm_model_versions FOR SELECT
    USING (@extschema@.fmrec_model_readable(fm_model_versions.owner, fm_model_versions.name));

CREATE FUNCTION @extschema@.fmrec_keep_version() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    keep pg_catalog.int4 := COALESCE(
        NULLIF(pg_catalog.current_setting('fmrec.keep_versions', true), '')::pg_catalog.int4, 3);
BEGIN
    IF keep OPERATOR(pg_catalog.>) 0 THEN
        INSERT INTO @extschema@.fm_model_versions
            (name, version, owner, task, solver, hyperparams, metrics, n_rows, n_users,
             n_items, size_bytes, created_at, replaced_at, model)
        VALUES (OLD.name, OLD.version, OLD.owner, OLD.task, OLD.solver, OLD.hyperparams,
                OLD.metrics, OLD.n_rows, OLD.n_users, OLD.n_items, OLD.size_bytes,
                OLD.created_at, pg_catalog.now(), OLD.model)
        ON CONFLICT DO NOTHING;
    END IF;
    -- the newest keep stay
    DELETE FROM @extschema@.fm_model_versions v
    WHERE v.name OPERATOR(pg_catalog.=) OLD.name
      AND v.version OPERATOR(pg_catalog.<>) ALL (ARRAY(
          SELECT w.version FROM @extschema@.fm_model_versions w
          WHERE w.name OPERATOR(pg_catalog.=) OLD.name
          ORDER BY w.version DESC LIMIT GREATEST(keep, 0)));
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.fmrec_keep_version() IS 'internal: keeps the fm_models row an update replaces in fm_model_versions';
CREATE TRIGGER fm_models_keep BEFORE UPDATE ON @extschema@.fm_models
    FOR EACH ROW WHEN (OLD.model IS DISTINCT FROM NEW.model)
    EXECUTE FUNCTION @extschema@.fmrec_keep_version();

CREATE FUNCTION @extschema@.fm_versions(model pg_catalog.text)
RETURNS TABLE (version pg_catalog.int8, serving pg_catalog.bool,
    created_at pg_catalog.timestamptz, replaced_at pg_catalog.timestamptz,
    solver pg_catalog.text, n_rows pg_catalog.int8, size_bytes pg_catalog.int8,
    metrics pg_catalog.jsonb)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.version, true, m.created_at, NULL::pg_catalog.timestamptz, m.solver, m.n_rows,
           m.size_bytes, m.metrics
    FROM @extschema@.fm_models m WHERE m.name OPERATOR(pg_catalog.=) $1
    UNION ALL
    SELECT v.version, false, v.created_at, v.replaced_at, v.solver, v.n_rows, v.size_bytes,
           v.metrics
    FROM @extschema@.fm_model_versions v WHERE v.name OPERATOR(pg_catalog.=) $1
    ORDER BY 1 DESC
$$;
COMMENT ON FUNCTION @extschema@.fm_versions(pg_catalog.text) IS 'the versions of a model: the one served and the earlier ones kept';

CREATE FUNCTION @extschema@.fm_rollback(model pg_catalog.text, version pg_catalog.int8 DEFAULT NULL)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'fmrec_rollback'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.fm_rollback(pg_catalog.text, pg_catalog.int8) IS 'serves an earlier version of a model again (default: the one before the current), with its exact bytes; returns its new version number';

CREATE FUNCTION @extschema@.fm_deploy(model pg_catalog.text, strategy pg_catalog.text DEFAULT 'best',
    metric pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.int8
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cur pg_catalog.int8;
    pick pg_catalog.int8;
    m pg_catalog.text := metric;
    higher pg_catalog.bool;
BEGIN
    SELECT v.version INTO cur FROM @extschema@.fm_versions($1) v WHERE v.serving;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '42704',
            MESSAGE = pg_catalog.format('model "%s" does not exist', $1);
    END IF;
    IF strategy OPERATOR(pg_catalog.=) 'most_recent' THEN
        SELECT v.version INTO pick FROM @extschema@.fm_versions($1) v
        ORDER BY v.created_at DESC, v.serving DESC, v.version DESC LIMIT 1;
    ELSIF strategy OPERATOR(pg_catalog.=) 'best' THEN
        IF m IS NULL THEN
            SELECT CASE WHEN t.task OPERATOR(pg_catalog.=) 'binary' THEN 'valid_auc' ELSE 'valid_rmse' END
            INTO m FROM @extschema@.fm_models t WHERE t.name OPERATOR(pg_catalog.=) $1;
        END IF;
        higher := m OPERATOR(pg_catalog.~) '(auc|accuracy|ndcg|recall|precision|map|mrr|hit)';
        SELECT v.version INTO pick FROM @extschema@.fm_versions($1) v
        WHERE pg_catalog.jsonb_typeof(v.metrics OPERATOR(pg_catalog.->) m) OPERATOR(pg_catalog.=) 'number'
        ORDER BY CASE WHEN higher THEN -((v.metrics OPERATOR(pg_catalog.->>) m)::pg_catalog.float8)
                      ELSE (v.metrics OPERATOR(pg_catalog.->>) m)::pg_catalog.float8 END,
                 v.serving DESC, v.version DESC
        LIMIT 1;
        IF pick IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = pg_catalog.format('no version of model "%s" has the metric "%s"', $1, m),
                HINT = 'Metrics are the keys of fm_versions(model).metrics, such as valid_rmse with validation > 0.';
        END IF;
    ELSE
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = pg_catalog.format('unrecognized deploy strategy "%s"', strategy),
            HINT = 'Use "best" (by a stored metric) or "most_recent" (the latest trained).';
    END IF;
    IF pick OPERATOR(pg_catalog.=) cur THEN
        RETURN cur;             -- already served: nothing to write
    END IF;
    RETURN @extschema@.fm_rollback($1, pick);
END
$$;
COMMENT ON FUNCTION @extschema@.fm_deploy(pg_catalog.text, pg_catalog.text, pg_catalog.text) IS 'serves the best kept version of a model by a stored metric, or the most recently trained one; returns the version served';

CREATE FUNCTION @extschema@.fm_variant(user_id pg_catalog.int8, variants pg_catalog.text[],
    salt pg_catalog.text DEFAULT '')
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT $2[1 OPERATOR(pg_catalog.+) ((pg_catalog.hashtextextended(
               $3 OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) $1::pg_catalog.text, 0)
               OPERATOR(pg_catalog.%) pg_catalog.cardinality($2)
               OPERATOR(pg_catalog.+) pg_catalog.cardinality($2))
              OPERATOR(pg_catalog.%) pg_catalog.cardinality($2))::pg_catalog.int4]
$$;
COMMENT ON FUNCTION @extschema@.fm_variant(pg_catalog.int8, pg_catalog.text[], pg_catalog.text) IS 'A/B testing: the variant (a model name) of a user, by a hash of the user and salt: the same user always gets the same variant';

-- ------------------------------------------------------------------
-- Continual updates
-- ------------------------------------------------------------------

CREATE FUNCTION @extschema@.fm_update(model pg_catalog.text, ratings pg_catalog.text,
    replay pg_catalog.text DEFAULT NULL, replay_rows pg_catalog.int8 DEFAULT NULL,
    options pg_catalog.jsonb DEFAULT NULL,
    OUT name pg_catalog.text, OUT version pg_catalog.int8, OUT new_rows pg_catalog.int8,
    OUT replayed_rows pg_catalog.int8, OUT users pg_catalog.int8, OUT items pg_catalog.int8,
    OUT epochs_run pg_catalog.int4, OUT train_loss pg_catalog.float8,
    OUT seconds pg_catalog.float8, OUT model_bytes pg_catalog.int8)
RETURNS record
AS 'MODULE_PATHNAME', 'fmrec_update'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.fm_update(pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.int8, pg_catalog.jsonb) IS 'trains a stored model further on new rows (warm start, sgd), with a replayed sample of older rows, and stores it as its next version';

-- A model attached to a ratings table: a trigger queues the rows inserted
-- into it, fm_refresh(model) trains them in.
CREATE TABLE @extschema@.fm_attachments (
    model         pg_catalog.text PRIMARY KEY
                  REFERENCES @extschema@.fm_models (name) ON DELETE CASCADE ON UPDATE CASCADE,
    source        pg_catalog.regclass NOT NULL,
    user_column   pg_catalog.text NOT NULL,
    item_column   pg_catalog.text NOT NULL,
    rating_column pg_catalog.text,
    replay_rows   pg_catalog.int8,
    trigger_name  pg_catalog.text NOT NULL
);
COMMENT ON TABLE @extschema@.fm_attachments IS 'models kept current from a ratings table (fm_attach): its inserted rows are queued for fm_refresh';
COMMENT ON COLUMN @extschema@.fm_attachments.model IS 'the model''s name';
COMMENT ON COLUMN @extschema@.fm_attachments.source IS 'the ratings table whose inserts are queued';
COMMENT ON COLUMN @extschema@.fm_attachments.user_column IS 'its user id column';
COMMENT ON COLUMN @extschema@.fm_attachments.item_column IS 'its item id column';
COMMENT ON COLUMN @extschema@.fm_attachments.rating_column IS 'its rating or strength column; NULL: each row is one choice (strength 1)';
COMMENT ON COLUMN @extschema@.fm_attachments.replay_rows IS 'older rows of the table fm_refresh replays with the new ones; NULL: as many as new rows, 0: none';
COMMENT ON COLUMN @extschema@.fm_attachments.trigger_name IS 'the statement trigger on source that queues the rows';

CREATE TABLE @extschema@.fm_update_queue (
    id          pg_catalog.int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model       pg_catalog.text NOT NULL,
    user_id     pg_catalog.int8 NOT NULL,
    item_id     pg_catalog.int8 NOT NULL,
    rating      pg_catalog.float8 NOT NULL,
    queued_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX fm_update_queue_model ON @extschema@.fm_update_queue (model, id);
COMMENT ON TABLE @extschema@.fm_update_queue IS 'rows inserted into attached tables, waiting for fm_refresh; no foreign key, so an insert never waits for a model being written';
COMMENT ON COLUMN @extschema@.fm_update_queue.id IS 'arrival order';
COMMENT ON COLUMN @extschema@.fm_update_queue.model IS 'the model they are for';
COMMENT ON COLUMN @extschema@.fm_update_queue.user_id IS 'the row''s user';
COMMENT ON COLUMN @extschema@.fm_update_queue.item_id IS 'the row''s item';
COMMENT ON COLUMN @extschema@.fm_update_queue.rating IS 'its rating or strength';
COMMENT ON COLUMN @extschema@.fm_update_queue.queued_at IS 'when it was inserted';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fm_attachments', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fm_update_queue', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fm_update_queue_id_seq', '');

-- Owners' members see, queue and remove the rows of their models only.
ALTER TABLE @extschema@.fm_attachments ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.fm_update_queue ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON @extschema@.fm_attachments FROM PUBLIC;
REVOKE ALL ON @extschema@.fm_update_queue FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON @extschema@.fm_attachments TO PUBLIC;
GRANT SELECT, DELETE ON @extschema@.fm_update_queue TO PUBLIC;
CREATE POLICY fm_attachments_owner ON @extschema@.fm_attachments
    USING (EXISTS (SELECT 1 FROM @extschema@.fm_models m
                   WHERE m.name OPERATOR(pg_catalog.=) fm_attachments.model
                     AND pg_catalog.pg_has_role(m.owner::pg_catalog.oid, 'USAGE')));
CREATE POLICY fm_update_queue_owner ON @extschema@.fm_update_queue
    USING (EXISTS (SELECT 1 FROM @extschema@.fm_models m
                   WHERE m.name OPERATOR(pg_catalog.=) fm_update_queue.model
                     AND pg_catalog.pg_has_role(m.owner::pg_catalog.oid, 'USAGE')));

-- The statement trigger of an attached table: one INSERT ... SELECT from
-- the transition table, run as the extension's owner (the inserting role
-- needs no privilege on the queue).
CREATE FUNCTION @extschema@.fmrec_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
BEGIN
    SELECT * INTO a FROM @extschema@.fm_attachments t
    WHERE t.model OPERATOR(pg_catalog.=) TG_ARGV[0] AND t.source OPERATOR(pg_catalog.=) TG_RELID;
    IF NOT FOUND THEN
        RETURN NULL;            -- detached, or the model dropped: queue nothing
    END IF;
    EXECUTE pg_catalog.format(
        'INSERT INTO @extschema@.fm_update_queue (model, user_id, item_id, rating) '
        'SELECT $1, %I, %I, %s FROM fmrec_new', a.user_column, a.item_column,
        CASE WHEN a.rating_column IS NULL THEN '1'
             ELSE pg_catalog.quote_ident(a.rating_column) END)
    USING a.model;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.fmrec_enqueue() IS 'internal: queues the rows inserted into a table attached with fm_attach';

CREATE FUNCTION @extschema@.fm_attach(model pg_catalog.text, source pg_catalog.regclass,
    user_column pg_catalog.text DEFAULT 'user_id', item_column pg_catalog.text DEFAULT 'item_id',
    rating_column pg_catalog.text DEFAULT 'rating', replay_rows pg_catalog.int8 DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tg pg_catalog.text := 'fmrec_queue_' OPERATOR(pg_catalog.||)
        pg_catalog.left(pg_catalog.md5($1), 16);
    c pg_catalog.text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM @extschema@.fm_models m WHERE m.name OPERATOR(pg_catalog.=) $1
                   AND pg_catalog.pg_has_role(m.owner::pg_catalog.oid, 'USAGE')) THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = pg_catalog.format('must be owner of model "%s"', $1),
            HINT = 'Train the model first; only members of its owner may attach it.';
    END IF;
    IF EXISTS (SELECT 1 FROM @extschema@.fm_attachments t WHERE t.model OPERATOR(pg_catalog.=) $1) THEN
        RAISE EXCEPTION USING ERRCODE = '42710',
            MESSAGE = pg_catalog.format('model "%s" is already attached', $1),
            HINT = 'A model is kept current from one table; fm_detach it first.';
    END IF;
    FOREACH c IN ARRAY ARRAY[user_column, item_column, rating_column] LOOP
        IF c IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                WHERE a.attrelid OPERATOR(pg_catalog.=) $2 AND a.attname OPERATOR(pg_catalog.=) c
                  AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION USING ERRCODE = '42703',
                MESSAGE = pg_catalog.format('column "%s" of %s does not exist', c, $2);
        END IF;
    END LOOP;
    INSERT INTO @extschema@.fm_attachments
        VALUES ($1, $2, user_column, item_column, rating_column, replay_rows, tg);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS fmrec_new '
        'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.fmrec_enqueue(%L)', tg, $2, $1);
END
$$;
COMMENT ON FUNCTION @extschema@.fm_attach(pg_catalog.text, pg_catalog.regclass, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.int8) IS 'keeps a model current from a ratings table: rows inserted into it are queued for fm_refresh';

CREATE FUNCTION @extschema@.fm_detach(model pg_catalog.text)
RETURNS pg_catalog.bool
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
BEGIN
    DELETE FROM @extschema@.fm_attachments t WHERE t.model OPERATOR(pg_catalog.=) $1
    RETURNING * INTO a;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', a.trigger_name, a.source);
    DELETE FROM @extschema@.fm_update_queue q WHERE q.model OPERATOR(pg_catalog.=) $1;
    RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.fm_detach(pg_catalog.text) IS 'stops queueing a table''s rows for a model and forgets the rows queued';

CREATE FUNCTION @extschema@.fm_refresh(model pg_catalog.text, options pg_catalog.jsonb DEFAULT NULL,
    OUT name pg_catalog.text, OUT version pg_catalog.int8, OUT new_rows pg_catalog.int8,
    OUT replayed_rows pg_catalog.int8, OUT users pg_catalog.int8, OUT items pg_catalog.int8,
    OUT epochs_run pg_catalog.int4, OUT train_loss pg_catalog.float8,
    OUT seconds pg_catalog.float8, OUT model_bytes pg_catalog.int8)
RETURNS record
AS 'MODULE_PATHNAME', 'fmrec_refresh'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.fm_refresh(pg_catalog.text, pg_catalog.jsonb) IS 'trains the rows queued for an attached model into it (fm_update) and removes them from the queue; for any scheduler, such as pg_cron';

CREATE FUNCTION @extschema@.fm_model_info(model pg_catalog.text)
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'fmrec_model_info_name'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.fm_model_info(pg_catalog.text) IS 'what a stored model holds, by name: task, sizes, hyperparameters and training metrics';

CREATE FUNCTION @extschema@.fm_item_factors(model pg_catalog.text)
RETURNS TABLE (item_id pg_catalog.int8, bias pg_catalog.float8, factors pg_catalog.float4[])
AS 'MODULE_PATHNAME', 'fmrec_item_factors'
LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 10000;
COMMENT ON FUNCTION @extschema@.fm_item_factors(pg_catalog.text) IS 'each item''s bias and factors (with its attributes'') as scoring uses them, for export or an ANN index (pgvector)';

CREATE FUNCTION @extschema@.fm_user_factors(model pg_catalog.text)
RETURNS TABLE (user_id pg_catalog.int8, bias pg_catalog.float8, factors pg_catalog.float4[])
AS 'MODULE_PATHNAME', 'fmrec_user_factors'
LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 10000;
COMMENT ON FUNCTION @extschema@.fm_user_factors(pg_catalog.text) IS 'each user''s bias (with w0 not included) and factors as scoring uses them';

CREATE FUNCTION @extschema@.fm_predict_label(model pg_catalog.text, user_id pg_catalog.int8,
    item_id pg_catalog.int8, threshold pg_catalog.float8 DEFAULT 0.5)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'fmrec_predict_label_name'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.fm_predict_label(pg_catalog.text, pg_catalog.int8, pg_catalog.int8, pg_catalog.float8) IS 'a binary model''s predicted label: 1 when the probability is at least threshold (0.5, as SageMaker), else 0';

CREATE FUNCTION @extschema@.fm_predict_label(model pg_catalog.bytea, user_id pg_catalog.int8,
    item_id pg_catalog.int8, threshold pg_catalog.float8 DEFAULT 0.5)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'fmrec_predict_label_bytes'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.fm_predict_label(pg_catalog.bytea, pg_catalog.int8, pg_catalog.int8, pg_catalog.float8) IS 'fm_predict_label for model bytes';

-- interop: SageMaker's RecordIO-protobuf and libFM's text format, both ways
CREATE FUNCTION @extschema@.fm_export_recordio(ratings pg_catalog.text, users pg_catalog.int8,
    items pg_catalog.int8)
RETURNS pg_catalog.bytea
AS 'MODULE_PATHNAME', 'fmrec_export_recordio'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.fm_export_recordio(pg_catalog.text, pg_catalog.int8, pg_catalog.int8)
IS 'writes (user, item, rating) rows as SageMaker factorization-machine records (application/x-recordio-protobuf): keys user_id and users + item_id';

CREATE FUNCTION @extschema@.fm_export_libfm(ratings pg_catalog.text, users pg_catalog.int8,
    items pg_catalog.int8, OUT line pg_catalog.text)
RETURNS SETOF pg_catalog.text
AS 'MODULE_PATHNAME', 'fmrec_export_libfm'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE ROWS 1000;
COMMENT ON FUNCTION @extschema@.fm_export_libfm(pg_catalog.text, pg_catalog.int8, pg_catalog.int8)
IS 'writes (user, item, rating) rows as libFM lines "rating user_id:1 users+item_id:1"';

CREATE FUNCTION @extschema@.fm_export_libfm(model pg_catalog.text, ratings pg_catalog.text,
    OUT line pg_catalog.text)
RETURNS SETOF pg_catalog.text
AS 'MODULE_PATHNAME', 'fmrec_export_libfm_model'
LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION @extschema@.fm_export_libfm(pg_catalog.text, pg_catalog.text)
IS 'writes (user, item, rating) rows as libFM lines numbered as the model numbers its users and items';

CREATE FUNCTION @extschema@.fm_import_recordio(data pg_catalog.bytea, users pg_catalog.int8,
    OUT user_id pg_catalog.int8, OUT item_id pg_catalog.int8, OUT rating pg_catalog.float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fmrec_import_recordio'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION @extschema@.fm_import_recordio(pg_catalog.bytea, pg_catalog.int8)
IS 'reads SageMaker factorization-machine records (one user key below users, one item key) as (user_id, item_id, rating) rows';

CREATE FUNCTION @extschema@.fm_import_libfm(data pg_catalog.text, users pg_catalog.int8,
    OUT user_id pg_catalog.int8, OUT item_id pg_catalog.int8, OUT rating pg_catalog.float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fmrec_import_libfm'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION @extschema@.fm_import_libfm(pg_catalog.text, pg_catalog.int8)
IS 'reads libFM lines of one user key (below users) and one item key as (user_id, item_id, rating) rows';

-- fm_synthetic_ratings: choices driven by taste (a new last argument)
DROP FUNCTION @extschema@.fm_synthetic_ratings(integer, integer, bigint, bigint, float8, integer, integer);
CREATE FUNCTION @extschema@.fm_synthetic_ratings(users integer DEFAULT 600,
    items integer DEFAULT 1000, ratings bigint DEFAULT 50000,
    seed bigint DEFAULT 42, noise float8 DEFAULT 0.5,
    genres integer DEFAULT 0, groups integer DEFAULT 0, taste integer DEFAULT 0)
RETURNS TABLE (user_id bigint, item_id bigint, rating float8, expected float8)
AS 'MODULE_PATHNAME', 'fmrec_synthetic_ratings'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 50000;
COMMENT ON FUNCTION @extschema@.fm_synthetic_ratings(integer, integer, bigint, bigint, float8, integer, integer, integer)
IS 'MovieLens-shaped ratings with planted structure (optionally driven by item genres and user groups, and choices driven by taste); expected is the noise-free truth';

CREATE FUNCTION @extschema@.fm_synthetic_truth(users integer DEFAULT 600,
    items integer DEFAULT 1000, seed bigint DEFAULT 42,
    genres integer DEFAULT 0, groups integer DEFAULT 0)
RETURNS TABLE (side text, id bigint, bias float8, factors real[], share float8)
AS 'MODULE_PATHNAME', 'fmrec_synthetic_truth'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1600;
COMMENT ON FUNCTION @extschema@.fm_synthetic_truth(integer, integer, bigint, integer, integer)
IS 'the planted model behind fm_synthetic_ratings with the same arguments: biases, factors and draw shares of users and items';

-- ------------------------------------------------------------------
-- Hyperparameter tuning: fm_tune and its trials
-- ------------------------------------------------------------------

CREATE SEQUENCE @extschema@.fm_tune_seq;
CREATE TABLE @extschema@.fm_tune_trials (
    tune pg_catalog.int8 NOT NULL,
    model pg_catalog.text NOT NULL,
    trial pg_catalog.int4 NOT NULL,
    strategy pg_catalog.text NOT NULL,
    metric pg_catalog.text NOT NULL,
    options pg_catalog.jsonb NOT NULL,
    fold_scores pg_catalog.float8[],
    score pg_catalog.float8,
    score_sd pg_catalog.float8,
    seconds pg_catalog.float8,
    status pg_catalog.text NOT NULL,          -- done, pruned, failed or best
    error pg_catalog.text,
    owner pg_catalog.regrole NOT NULL DEFAULT CURRENT_USER::pg_catalog.regrole,
    finished_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (tune, trial)
);
COMMENT ON TABLE @extschema@.fm_tune_trials IS 'every trial of fm_tune: its options, fold scores, seconds and status (done, pruned, failed, best)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fm_tune_trials', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fm_tune_seq', '');
ALTER TABLE @extschema@.fm_tune_trials ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON @extschema@.fm_tune_trials FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.fm_tune_trials TO PUBLIC;
GRANT USAGE ON SEQUENCE @extschema@.fm_tune_seq TO PUBLIC;
-- a role sees and writes the trials of its own tunings (and of the roles it is a member of)
CREATE POLICY fm_tune_trials_owner ON @extschema@.fm_tune_trials
    USING (pg_catalog.pg_has_role(owner::pg_catalog.oid, 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(owner::pg_catalog.oid, 'USAGE'));

CREATE FUNCTION @extschema@.fmrec_tune_open(model pg_catalog.text, ratings pg_catalog.text,
    space pg_catalog.jsonb, strategy pg_catalog.text, trials pg_catalog.int4,
    folds pg_catalog.int4, metric pg_catalog.text, seed pg_catalog.int8,
    options pg_catalog.jsonb, params pg_catalog.text[], k pg_catalog.int4, prune pg_catalog.bool)
RETURNS pg_catalog.int4 AS 'MODULE_PATHNAME', 'fmrec_tune_open' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION @extschema@.fmrec_tune_next(handle pg_catalog.int4)
RETURNS pg_catalog.jsonb AS 'MODULE_PATHNAME', 'fmrec_tune_next' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION @extschema@.fmrec_tune_run(handle pg_catalog.int4,
    OUT fold_scores pg_catalog.float8[], OUT score pg_catalog.float8,
    OUT score_sd pg_catalog.float8, OUT pruned pg_catalog.bool)
RETURNS record AS 'MODULE_PATHNAME', 'fmrec_tune_run' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION @extschema@.fmrec_tune_store(handle pg_catalog.int4, model pg_catalog.text, tune pg_catalog.int8)
RETURNS pg_catalog.int4 AS 'MODULE_PATHNAME', 'fmrec_tune_store' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION @extschema@.fmrec_tune_minimize(handle pg_catalog.int4)
RETURNS pg_catalog.bool AS 'MODULE_PATHNAME', 'fmrec_tune_minimize' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION @extschema@.fmrec_tune_metric(handle pg_catalog.int4)
RETURNS pg_catalog.text AS 'MODULE_PATHNAME', 'fmrec_tune_metric' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION @extschema@.fmrec_tune_close(handle pg_catalog.int4)
RETURNS void AS 'MODULE_PATHNAME', 'fmrec_tune_close' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.fmrec_tune_open(pg_catalog.text, pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.int4, pg_catalog.int4, pg_catalog.text, pg_catalog.int8, pg_catalog.jsonb, pg_catalog.text[], pg_catalog.int4, pg_catalog.bool) IS 'internal: fm_tune''s session (rows loaded once, folds)';

CREATE PROCEDURE @extschema@.fm_tune(model pg_catalog.text, ratings pg_catalog.text,
    space pg_catalog.jsonb, strategy pg_catalog.text DEFAULT 'tpe',
    trials pg_catalog.int4 DEFAULT 20, folds pg_catalog.int4 DEFAULT 3,
    metric pg_catalog.text DEFAULT NULL, seconds pg_catalog.float8 DEFAULT NULL,
    seed pg_catalog.int8 DEFAULT 0, options pg_catalog.jsonb DEFAULT NULL,
    params pg_catalog.text[] DEFAULT NULL, k pg_catalog.int4 DEFAULT 10,
    prune pg_catalog.bool DEFAULT true)
LANGUAGE plpgsql
-- no SET search_path: a procedure with one cannot COMMIT, and the caller's
-- search_path must resolve the ratings query; every reference below is
-- qualified instead
AS $$
#variable_conflict use_variable
DECLARE
    h pg_catalog.int4;
    tune_id pg_catalog.int8;
    trial_options pg_catalog.jsonb;
    run record;
    started pg_catalog.timestamptz := pg_catalog.clock_timestamp();
    trial_start pg_catalog.timestamptz;
    n pg_catalog.int4 := 0;
    status_name pg_catalog.text;
    -- run: the trial's fold_scores, score, score_sd and whether it was pruned
    metric_name pg_catalog.text;
    strategy_name pg_catalog.text := COALESCE(strategy, 'tpe');
    best pg_catalog.int4;
    best_score pg_catalog.float8;
    err pg_catalog.text;
    secs pg_catalog.float8;
BEGIN
    IF seconds IS NOT NULL AND NOT seconds OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'seconds must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    h := @extschema@.fmrec_tune_open(model, ratings, space, strategy, trials, folds, metric,
                                     seed, options, params, k, prune);
    metric_name := @extschema@.fmrec_tune_metric(h);
    tune_id := pg_catalog.nextval('@extschema@.fm_tune_seq'::pg_catalog.regclass);
    RAISE NOTICE 'tuning % (tune %): % trials at most, % % by % over % fold(s)',
        model, tune_id, COALESCE(trials, 20), strategy_name,
        CASE WHEN @extschema@.fmrec_tune_minimize(h) THEN 'minimizing' ELSE 'maximizing' END,
        metric_name, COALESCE(folds, 3);
    COMMIT;
    LOOP
        EXIT WHEN seconds IS NOT NULL AND
            pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started)
                OPERATOR(pg_catalog.>=) seconds;
        trial_options := @extschema@.fmrec_tune_next(h);
        EXIT WHEN trial_options IS NULL;
        n := n OPERATOR(pg_catalog.+) 1;
        trial_start := pg_catalog.clock_timestamp();
        err := NULL;
        BEGIN
            SELECT * INTO run FROM @extschema@.fmrec_tune_run(h);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS err = MESSAGE_TEXT;
            SELECT NULL::pg_catalog.float8[] AS fold_scores, NULL::pg_catalog.float8 AS score,
                   NULL::pg_catalog.float8 AS score_sd, false AS pruned INTO run;
        END;
        secs := pg_catalog.round(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()
                    OPERATOR(pg_catalog.-) trial_start)::pg_catalog.numeric, 3)::pg_catalog.float8;
        status_name := CASE WHEN err IS NOT NULL THEN 'failed' WHEN run.pruned THEN 'pruned' ELSE 'done' END;
        INSERT INTO @extschema@.fm_tune_trials
            (tune, model, trial, strategy, metric, options, fold_scores, score, score_sd,
             seconds, status, error)
        VALUES (tune_id, model, n, strategy_name, metric_name, trial_options, run.fold_scores,
                run.score, run.score_sd, secs, status_name, err);
        IF status_name OPERATOR(pg_catalog.=) 'pruned' THEN
            RAISE NOTICE 'trial %: stopped after % fold(s), % % is worse than the median, % s, %', n,
                pg_catalog.cardinality(run.fold_scores), metric_name,
                pg_catalog.round(run.score::pg_catalog.numeric, 4), secs, trial_options;
        ELSIF status_name OPERATOR(pg_catalog.=) 'done' THEN
            RAISE NOTICE 'trial %: % % (sd %), % s, %', n, metric_name,
                pg_catalog.round(run.score::pg_catalog.numeric, 4),
                pg_catalog.round(run.score_sd::pg_catalog.numeric, 4), secs, trial_options;
        ELSE
            RAISE NOTICE 'trial % failed: %, %', n, err, trial_options;
        END IF;
        COMMIT;
    END LOOP;
    best := @extschema@.fmrec_tune_store(h, model, tune_id);
    PERFORM @extschema@.fmrec_tune_close(h);
    UPDATE @extschema@.fm_tune_trials t SET status = 'best'
     WHERE t.tune OPERATOR(pg_catalog.=) tune_id AND t.trial OPERATOR(pg_catalog.=) best
    RETURNING t.score INTO best_score;
    RAISE NOTICE 'stored %: trial % of %, % % (cross-validated), retrained on all rows',
        model, best, n, metric_name, pg_catalog.round(best_score::pg_catalog.numeric, 4);
    COMMIT;
END
$$;
COMMENT ON PROCEDURE @extschema@.fm_tune(pg_catalog.text, pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.int4, pg_catalog.int4, pg_catalog.text, pg_catalog.float8, pg_catalog.int8, pg_catalog.jsonb, pg_catalog.text[], pg_catalog.int4, pg_catalog.bool)
IS 'search fm_train''s options by cross-validation (grid, random or tpe), keep every trial in fm_tune_trials, store the best retrained on all rows';
