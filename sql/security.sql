-- Security: a hostile search_path captures nothing, in the install script
-- or in any function's body; models belong to their owners.
\set VERBOSITY terse
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- A role with CREATE on a schema that comes before pg_catalog plants
-- look-alikes of everything fmrec's SQL calls; each one shouts if called.
DROP ROLE IF EXISTS regress_fm_attacker, regress_fm_alice, regress_fm_bob, regress_fm_carol, regress_fm_dave, regress_fm_team;
CREATE ROLE regress_fm_attacker;
CREATE SCHEMA hostile AUTHORIZATION regress_fm_attacker;
SET ROLE regress_fm_attacker;
CREATE FUNCTION hostile.captured() RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'captured'; END $$;
CREATE FUNCTION hostile.nextval(text) RETURNS bigint LANGUAGE sql AS $$ SELECT 1 WHERE hostile.captured() $$;
CREATE FUNCTION hostile.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT NULL::timestamptz WHERE hostile.captured() $$;
CREATE FUNCTION hostile.octet_length(text) RETURNS integer LANGUAGE sql AS $$ SELECT 1 WHERE hostile.captured() $$;
CREATE FUNCTION hostile.pg_has_role(oid, text) RETURNS boolean LANGUAGE sql AS $$ SELECT hostile.captured() $$;
CREATE FUNCTION hostile.pg_has_role(oid, oid, text) RETURNS boolean LANGUAGE sql AS $$ SELECT hostile.captured() $$;
CREATE FUNCTION hostile.texteq(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT hostile.captured() $$;
CREATE OPERATOR hostile.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.texteq);
CREATE FUNCTION hostile.int8eq(bigint, bigint) RETURNS boolean LANGUAGE sql AS $$ SELECT hostile.captured() $$;
CREATE OPERATOR hostile.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = hostile.int8eq);
CREATE FUNCTION hostile.jsonget(jsonb, text) RETURNS text LANGUAGE sql AS $$ SELECT NULL::text WHERE hostile.captured() $$;
CREATE OPERATOR hostile.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = hostile.jsonget);
CREATE FUNCTION hostile.hashint8extended(bigint, bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint WHERE hostile.captured() $$;
CREATE FUNCTION hostile.int8xor(bigint, bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint WHERE hostile.captured() $$;
CREATE OPERATOR hostile.# (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = hostile.int8xor);
CREATE FUNCTION hostile.int8lt(bigint, bigint) RETURNS boolean LANGUAGE sql AS $$ SELECT hostile.captured() $$;
CREATE OPERATOR hostile.< (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = hostile.int8lt);
RESET ROLE;

-- install and use the extension with the hostile schema first
DROP EXTENSION fmrec;
SET search_path = hostile, pg_catalog, public;
CREATE EXTENSION fmrec SCHEMA public;
CREATE TABLE public.sec_r AS SELECT user_id, item_id, rating FROM public.fm_synthetic_ratings(30, 20, 300, 1, 0.5);
SELECT name, users, items FROM public.fm_train('sec', 'public.sec_r', factors => 4, epochs => 2, quiet => true);
SELECT name, users FROM public.fm_train('sec', 'public.sec_r', factors => 4, epochs => 2, quiet => true);
SELECT round(public.fm_predict('sec', 1, 2)::numeric, 4) IS NOT NULL AS served;
SELECT count(*) FROM public.fm_topn('sec', 1, 5);
UPDATE public.fm_models SET created_at = created_at WHERE name OPERATOR(pg_catalog.=) 'sec';
SELECT public.fm_grant('sec', 'public', 'serve');
SELECT public.fm_revoke('sec', 'public', 'serve');
SELECT count(*) > 0 AS split FROM public.fm_split('public.sec_r', 'user_fraction', 0.3, 1);
SELECT count(*) AS split_rows FROM public.fm_split('public.sec_r', seed => 1);
SELECT ranker, users > 0 AS evaluated FROM public.fm_evaluate('sec', 'public.sec_r');
SELECT public.fm_drop('sec');
-- nothing resolved to the hostile schema: the version default too
SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS version_default
FROM pg_catalog.pg_attrdef d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE d.adrelid = 'public.fm_models'::pg_catalog.regclass AND a.attname = 'version';
RESET search_path;
DROP TABLE sec_r;

-- ---- who may do what with a model ----
CREATE ROLE regress_fm_alice;
CREATE ROLE regress_fm_bob;
CREATE ROLE regress_fm_carol;
CREATE ROLE regress_fm_dave;
CREATE ROLE regress_fm_team;
GRANT regress_fm_team TO regress_fm_bob;
CREATE TABLE alice_ratings AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(30, 20, 300, 2, 0.5);
ALTER TABLE alice_ratings OWNER TO regress_fm_alice;

SET ROLE regress_fm_alice;
SELECT name FROM fm_train('am', 'alice_ratings', factors => 4, epochs => 2, quiet => true);
SELECT name, owner FROM fm_models WHERE name = 'am';
SELECT fm_grant('am', 'regress_fm_carol', 'serve');
SELECT fm_grant('am', 'regress_fm_dave', 'read');
SELECT try($$SELECT fm_grant('am', 'regress_fm_nobody', 'serve')$$);
SELECT try($$SELECT fm_grant('am', 'regress_fm_carol', 'write')$$);
RESET ROLE;

-- bob has no privilege on the model: he cannot use, see, replace, damage or drop it
SET ROLE regress_fm_bob;
SELECT try($$SELECT fm_predict('am', 1, 2)$$);
SELECT try($$SELECT count(*) FROM fm_topn('am', 1, 5)$$);
SELECT count(*) AS rows_bob_sees FROM fm_models WHERE name = 'am';
SELECT try($$UPDATE fm_models SET model = '\x00' WHERE name = 'am'$$);
SELECT try($$DELETE FROM fm_models WHERE name = 'am'$$);
SELECT try($$INSERT INTO fm_models (name, owner, task, solver, hyperparams, metrics, n_rows, n_users, n_items, size_bytes, version, created_at, model) VALUES ('x', 'regress_fm_bob', 'regression', 'sgd', '{}', '{}', 0, 0, 0, 0, 0, now(), '\x00')$$);
SELECT try($$SELECT fm_drop('am')$$);
SELECT try($$SELECT fm_grant('am', 'regress_fm_bob', 'read')$$);
SELECT try($$SELECT 1 FROM fm_train('am', 'SELECT 1::bigint, 1::bigint, 1.0', epochs => 1, quiet => true)$$);
SELECT try($$SELECT count(*) FROM alice_ratings$$);
RESET ROLE;

-- carol may serve, not read the bytes (they hold the seen lists)
SET ROLE regress_fm_carol;
SELECT fm_predict('am', 1, 2) IS NOT NULL AS carol_serves;
SELECT count(*) AS carol_topn FROM fm_topn('am', 1, 5);
SELECT count(*) AS rows_carol_sees FROM fm_models WHERE name = 'am';
SELECT try($$SELECT fm_drop('am')$$);
RESET ROLE;

-- dave may read the row and the bytes, and serve
SET ROLE regress_fm_dave;
SELECT count(*) AS rows_dave_sees, bool_and(octet_length(model) > 0) AS bytes FROM fm_models WHERE name = 'am';
SELECT fm_predict('am', 1, 2) IS NOT NULL AS dave_serves;
SELECT try($$SELECT fm_grant('am', 'regress_fm_bob', 'serve')$$);
RESET ROLE;

-- ownership passes through role membership: a model owned by a group
SET ROLE regress_fm_alice;
SELECT fm_grant('am', 'public', 'serve');
RESET ROLE;
SET ROLE regress_fm_bob;
SELECT fm_predict('am', 1, 2) IS NOT NULL AS bob_serves_public_grant;
RESET ROLE;
SET ROLE regress_fm_alice;
SELECT fm_revoke('am', 'public', 'serve') AS revoked, fm_revoke('am', 'public', 'serve') AS again;
RESET ROLE;
ALTER TABLE alice_ratings OWNER TO regress_fm_team;
SET ROLE regress_fm_bob;
SELECT try($$SELECT fm_predict('am', 1, 2)$$);
SELECT name FROM fm_train('team_model', 'alice_ratings', factors => 2, epochs => 1, quiet => true);
RESET ROLE;
UPDATE fm_models SET owner = 'regress_fm_team' WHERE name = 'team_model';
SET ROLE regress_fm_bob;
SELECT name FROM fm_train('team_model', 'alice_ratings', factors => 2, epochs => 1, quiet => true);
SELECT fm_drop('team_model');
RESET ROLE;

-- the owner drops; grants go with the model
SET ROLE regress_fm_alice;
SELECT fm_drop('am');
RESET ROLE;
SELECT count(*) AS grants_left FROM fm_model_grants WHERE model = 'am';
DROP TABLE alice_ratings;
DROP ROLE regress_fm_alice, regress_fm_bob, regress_fm_carol, regress_fm_dave, regress_fm_team;
DROP FUNCTION try(text);
DROP SCHEMA hostile CASCADE;
DROP ROLE regress_fm_attacker;
