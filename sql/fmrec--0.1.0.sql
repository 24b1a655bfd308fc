-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION fmrec" to load this file. \quit

-- ------------------------------------------------------------------
-- Catalog
-- ------------------------------------------------------------------

CREATE SEQUENCE fm_models_version_seq;

CREATE TABLE fm_models (
    name        text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 63),
    task        text NOT NULL,
    solver      text NOT NULL,
    hyperparams jsonb NOT NULL,
    metrics     jsonb NOT NULL,
    n_rows      bigint NOT NULL,
    n_users     bigint NOT NULL,
    n_items     bigint NOT NULL,
    size_bytes  bigint NOT NULL,
    version     bigint NOT NULL DEFAULT nextval('fm_models_version_seq'),
    created_at  timestamptz NOT NULL,
    model       bytea NOT NULL
);
-- model bytes are float arrays: compression gains little and costs time
ALTER TABLE fm_models ALTER COLUMN model SET STORAGE EXTERNAL;

-- Every write of a row gets a new version, also a hand-made UPDATE, so
-- the per-backend caches of decoded models never serve stale bytes.
CREATE FUNCTION fm_models_new_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := nextval('@extschema@.fm_models_version_seq');
    RETURN NEW;
END
$$;

CREATE TRIGGER fm_models_version BEFORE INSERT OR UPDATE ON fm_models
    FOR EACH ROW EXECUTE FUNCTION fm_models_new_version();

COMMENT ON FUNCTION fm_models_new_version() IS 'gives each written fm_models row a new version';

SELECT pg_catalog.pg_extension_config_dump('fm_models', '');
SELECT pg_catalog.pg_extension_config_dump('fm_models_version_seq', '');

COMMENT ON TABLE fm_models IS 'fmrec models: one row per trained model, written by fm_train';
COMMENT ON COLUMN fm_models.version IS 'changes with every retrain; serving caches key on it';
COMMENT ON COLUMN fm_models.model IS 'the model as protobuf bytes (proto/fmrec.proto)';
COMMENT ON SEQUENCE fm_models_version_seq IS 'versions of fm_models rows';

-- ------------------------------------------------------------------
-- Training
-- ------------------------------------------------------------------

CREATE FUNCTION fm_train(
    model text,
    ratings text,
    task text DEFAULT NULL,
    factors integer DEFAULT NULL,
    epochs integer DEFAULT NULL,
    batch_size integer DEFAULT NULL,
    learning_rate float8 DEFAULT NULL,
    reg_bias float8 DEFAULT NULL,
    reg_linear float8 DEFAULT NULL,
    reg_factors float8 DEFAULT NULL,
    init_stdev float8 DEFAULT NULL,
    threshold float8 DEFAULT NULL,
    validation float8 DEFAULT NULL,
    patience integer DEFAULT NULL,
    seed bigint DEFAULT NULL,
    threads integer DEFAULT NULL,
    store_seen boolean DEFAULT NULL,
    quiet boolean DEFAULT NULL,
    solver text DEFAULT NULL,
    burn_in integer DEFAULT NULL,
    user_features text DEFAULT NULL,
    item_features text DEFAULT NULL,
    OUT name text,
    OUT rows_used bigint,
    OUT users bigint,
    OUT items bigint,
    OUT epochs_run integer,
    OUT best_epoch integer,
    OUT train_loss float8,
    OUT valid_rmse float8,
    OUT valid_auc float8,
    OUT valid_logloss float8,
    OUT seconds float8,
    OUT model_bytes bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'fmrec_train'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION fm_train(text, text, text, integer, integer, integer, float8,
    float8, float8, float8, float8, float8, float8, integer, bigint, integer,
    boolean, boolean, text, integer, text, text)
IS 'trains a factorization machine from (user, item, rating [, weight [, context...]]) rows and optional user and item attributes, and stores it in fm_models';

CREATE FUNCTION fm_drop(model text, if_exists boolean DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'fmrec_drop'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION fm_drop(text, boolean) IS 'removes a model from fm_models';

-- aggregate training: fm_train_agg(user, item, rating [, options jsonb]) -> bytea

CREATE FUNCTION fmrec_agg_trans(internal, bigint, bigint, float8, jsonb)
RETURNS internal AS 'MODULE_PATHNAME', 'fmrec_agg_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION fmrec_agg_trans(internal, bigint, bigint, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'fmrec_agg_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION fmrec_agg_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'fmrec_agg_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION fmrec_agg_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'fmrec_agg_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION fmrec_agg_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'fmrec_agg_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION fmrec_agg_final(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'fmrec_agg_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE fm_train_agg(bigint, bigint, float8, jsonb) (
    SFUNC = fmrec_agg_trans,
    STYPE = internal,
    FINALFUNC = fmrec_agg_final,
    COMBINEFUNC = fmrec_agg_combine,
    SERIALFUNC = fmrec_agg_serialize,
    DESERIALFUNC = fmrec_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE fm_train_agg(bigint, bigint, float8) (
    SFUNC = fmrec_agg_trans,
    STYPE = internal,
    FINALFUNC = fmrec_agg_final,
    COMBINEFUNC = fmrec_agg_combine,
    SERIALFUNC = fmrec_agg_serialize,
    DESERIALFUNC = fmrec_agg_deserialize,
    PARALLEL = SAFE
);

COMMENT ON FUNCTION fmrec_agg_trans(internal, bigint, bigint, float8, jsonb) IS 'fm_train_agg support';
COMMENT ON FUNCTION fmrec_agg_trans(internal, bigint, bigint, float8) IS 'fm_train_agg support';
COMMENT ON FUNCTION fmrec_agg_combine(internal, internal) IS 'fm_train_agg support';
COMMENT ON FUNCTION fmrec_agg_serialize(internal) IS 'fm_train_agg support';
COMMENT ON FUNCTION fmrec_agg_deserialize(bytea, internal) IS 'fm_train_agg support';
COMMENT ON FUNCTION fmrec_agg_final(internal) IS 'fm_train_agg support';
COMMENT ON AGGREGATE fm_train_agg(bigint, bigint, float8, jsonb)
IS 'trains a factorization machine over (user, item, rating) rows with jsonb options and returns the model bytes';
COMMENT ON AGGREGATE fm_train_agg(bigint, bigint, float8)
IS 'trains a factorization machine over (user, item, rating) rows with default options and returns the model bytes';

-- ------------------------------------------------------------------
-- Serving
-- ------------------------------------------------------------------

CREATE FUNCTION fm_predict(model text, user_id bigint, item_id bigint)
RETURNS float8
AS 'MODULE_PATHNAME', 'fmrec_predict_name'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION fm_predict(model bytea, user_id bigint, item_id bigint)
RETURNS float8
AS 'MODULE_PATHNAME', 'fmrec_predict_bytes'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION fm_predict(user_id bigint, item_id bigint)
RETURNS float8
AS 'MODULE_PATHNAME', 'fmrec_predict_default'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION fm_predict(model text, user_id bigint, item_id bigint, context jsonb)
RETURNS float8
AS 'MODULE_PATHNAME', 'fmrec_predict_context_name'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION fm_predict(model bytea, user_id bigint, item_id bigint, context jsonb)
RETURNS float8
AS 'MODULE_PATHNAME', 'fmrec_predict_context_bytes'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION fm_predict(text, bigint, bigint, jsonb) IS 'predicted rating or probability of a user for an item in a context, by model name';
COMMENT ON FUNCTION fm_predict(bytea, bigint, bigint, jsonb) IS 'predicted rating or probability of a user for an item in a context, by model bytes';
COMMENT ON FUNCTION fm_predict(text, bigint, bigint) IS 'predicted rating (regression) or probability (binary) of a user for an item, by model name';
COMMENT ON FUNCTION fm_predict(bytea, bigint, bigint) IS 'predicted rating or probability of a user for an item, by model bytes';
COMMENT ON FUNCTION fm_predict(bigint, bigint) IS 'predicted rating or probability of a user for an item, using the model named by fmrec.model';

CREATE FUNCTION fm_topn(model text, user_id bigint, n integer,
    candidates bigint[] DEFAULT NULL, exclude_seen boolean DEFAULT true,
    context jsonb DEFAULT NULL, verbose boolean DEFAULT false)
RETURNS TABLE (item bigint, score float8)
AS 'MODULE_PATHNAME', 'fmrec_topn_name'
LANGUAGE C STABLE PARALLEL SAFE ROWS 10;

CREATE FUNCTION fm_topn(model bytea, user_id bigint, n integer,
    candidates bigint[] DEFAULT NULL, exclude_seen boolean DEFAULT true,
    context jsonb DEFAULT NULL, verbose boolean DEFAULT false)
RETURNS TABLE (item bigint, score float8)
AS 'MODULE_PATHNAME', 'fmrec_topn_bytes'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10;

-- anonymous users: attributes, a session's items (fold-in), or nothing
CREATE FUNCTION fm_topn(model text, n integer,
    user_features text[] DEFAULT NULL, items bigint[] DEFAULT NULL,
    ratings float8[] DEFAULT NULL, candidates bigint[] DEFAULT NULL,
    context jsonb DEFAULT NULL, verbose boolean DEFAULT false)
RETURNS TABLE (item bigint, score float8)
AS 'MODULE_PATHNAME', 'fmrec_topn_anon_name'
LANGUAGE C STABLE PARALLEL SAFE ROWS 10;

CREATE FUNCTION fm_topn(model bytea, n integer,
    user_features text[] DEFAULT NULL, items bigint[] DEFAULT NULL,
    ratings float8[] DEFAULT NULL, candidates bigint[] DEFAULT NULL,
    context jsonb DEFAULT NULL, verbose boolean DEFAULT false)
RETURNS TABLE (item bigint, score float8)
AS 'MODULE_PATHNAME', 'fmrec_topn_anon_bytes'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10;

COMMENT ON FUNCTION fm_topn(text, integer, text[], bigint[], float8[], bigint[], jsonb, boolean) IS 'the n best items for an anonymous user described by attributes and/or a session of items, by model name';
COMMENT ON FUNCTION fm_topn(bytea, integer, text[], bigint[], float8[], bigint[], jsonb, boolean) IS 'the n best items for an anonymous user described by attributes and/or a session of items, by model bytes';

CREATE FUNCTION fm_topn(user_id bigint, n integer,
    candidates bigint[] DEFAULT NULL, exclude_seen boolean DEFAULT true)
RETURNS TABLE (item bigint, score float8)
AS 'MODULE_PATHNAME', 'fmrec_topn_default'
LANGUAGE C STABLE PARALLEL SAFE ROWS 10;

COMMENT ON FUNCTION fm_topn(text, bigint, integer, bigint[], boolean, jsonb, boolean) IS 'the n best items for a user, best first, by model name';
COMMENT ON FUNCTION fm_topn(bytea, bigint, integer, bigint[], boolean, jsonb, boolean) IS 'the n best items for a user, best first, by model bytes';
COMMENT ON FUNCTION fm_topn(bigint, integer, bigint[], boolean) IS 'the n best items for a user, best first, using the model named by fmrec.model';

CREATE FUNCTION fm_model_info(model bytea)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'fmrec_model_info'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION fm_model_info(bytea) IS 'what model bytes hold: task, sizes, hyperparameters and training metrics';

-- ------------------------------------------------------------------
-- Built-in data
-- ------------------------------------------------------------------

CREATE FUNCTION fm_synthetic_ratings(users integer DEFAULT 600,
    items integer DEFAULT 1000, ratings bigint DEFAULT 50000,
    seed bigint DEFAULT 42, noise float8 DEFAULT 0.5,
    genres integer DEFAULT 0, groups integer DEFAULT 0)
RETURNS TABLE (user_id bigint, item_id bigint, rating float8, expected float8)
AS 'MODULE_PATHNAME', 'fmrec_synthetic_ratings'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 50000;

COMMENT ON FUNCTION fm_synthetic_ratings(integer, integer, bigint, bigint, float8, integer, integer)
IS 'MovieLens-shaped ratings with planted structure (optionally driven by item genres and user groups); expected is the noise-free truth';

CREATE FUNCTION fm_synthetic_features(users integer DEFAULT 600,
    items integer DEFAULT 1000, seed bigint DEFAULT 42,
    genres integer DEFAULT 18, groups integer DEFAULT 8)
RETURNS TABLE (side text, id bigint, feature text)
AS 'MODULE_PATHNAME', 'fmrec_synthetic_features'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 2000;

COMMENT ON FUNCTION fm_synthetic_features(integer, integer, bigint, integer, integer)
IS 'the planted item genres and user groups behind fm_synthetic_ratings with the same arguments';
