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

CREATE OR REPLACE FUNCTION @extschema@.fm_models_new_version() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.version := pg_catalog.nextval('@extschema@.fm_models_version_seq'::pg_catalog.regclass);
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.fm_models_new_version() IS 'internal: gives each written fm_models row a new version';

COMMENT ON COLUMN @extschema@.fm_models.name IS 'the model''s name, 1 to 63 bytes';
COMMENT ON COLUMN @extschema@.fm_models.owner IS 'the role that trained it first; only its members may retrain, drop or grant it';
COMMENT ON COLUMN @extschema@.fm_models.task IS 'regression, binary or implicit';
COMMENT ON COLUMN @extschema@.fm_models.solver IS 'sgd, als or mcmc';
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
CREATE POLICY fm_models_read ON @extschema@.fm_models FOR SELECT
    USING (pg_catalog.pg_has_role(fm_models.owner::pg_catalog.oid, 'USAGE')
           OR EXISTS (SELECT 1 FROM @extschema@.fm_model_grants g
                      WHERE g.model OPERATOR(pg_catalog.=) fm_models.name
                        AND g.privilege OPERATOR(pg_catalog.=) 'read'
                        AND CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN true
                                 ELSE pg_catalog.pg_has_role(g.grantee, 'USAGE') END));
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
    pg_catalog.jsonb)
IS 'trains a factorization machine from (user, item, rating [, weight [, context...]]) rows and optional user and item attributes, and stores it in fm_models';

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
COMMENT ON FUNCTION @extschema@.fm_evaluate(pg_catalog.text, pg_catalog.text, pg_catalog.int4, pg_catalog.float8) IS 'top-N and pointwise metrics of a model on held-out (user, item, rating) rows, with the popularity baseline of its training data';

CREATE FUNCTION @extschema@.fm_evaluate(model pg_catalog.bytea, test pg_catalog.text,
    k pg_catalog.int4 DEFAULT 10, threshold pg_catalog.float8 DEFAULT NULL,
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
COMMENT ON FUNCTION @extschema@.fm_evaluate(pg_catalog.bytea, pg_catalog.text, pg_catalog.int4, pg_catalog.float8) IS 'fm_evaluate for model bytes';

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
