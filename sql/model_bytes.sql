-- Model bytes: round trips, user tables, and damaged bytes (SQLSTATE XX001).
CREATE SCHEMA model_bytes_test;
SET search_path = model_bytes_test, public;
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  detail text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' (' || nullif(detail, '') || ')', '');
END $$;
CREATE TABLE r AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(60, 50, 800, 4, 0.3);
SELECT 1 FROM fm_train('m', 'r', factors => 8, epochs => 3, quiet => true);

-- a copy in a user's table serves the same scores and rankings
CREATE TABLE my_models AS SELECT 'copy'::text AS label, model FROM fm_models WHERE name = 'm';
SELECT bool_and(fm_predict(c.model, r.user_id, r.item_id) = fm_predict('m', r.user_id, r.item_id)) AS same
FROM my_models c, r;
SELECT count(*) AS same_topn FROM (
  SELECT t.* FROM my_models c, fm_topn(c.model, 1, 10) t
  INTERSECT SELECT * FROM fm_topn('m', 1, 10)) s;
-- an inline (non-TOAST) value works too
SELECT fm_predict((SELECT model FROM my_models) || ''::bytea, 1, 2) = fm_predict('m', 1, 2) AS inline_same;

-- the envelope: "FMRC", format 2 (then length and CRC-32C)
SELECT encode(substr(model, 1, 5), 'hex') AS header FROM fm_models WHERE name = 'm';

-- damaged bytes: empty, garbage, truncated, flipped, wrong magic, wrong version
SELECT try($$SELECT fm_predict(''::bytea, 1, 2)$$);
SELECT try($$SELECT fm_predict('\xdeadbeef'::bytea, 1, 2)$$);
SELECT try($$SELECT fm_predict(substr(model, 1, octet_length(model) / 2), 1, 2) FROM fm_models$$);
SELECT try($$SELECT fm_predict(substr(model, 1, octet_length(model) - 1), 1, 2) FROM fm_models$$);
SELECT try($$SELECT fm_predict(set_byte(model, 1, 0), 1, 2) FROM fm_models$$);
SELECT try($$SELECT fm_predict(set_byte(model, 4, 9), 1, 2) FROM fm_models$$);
SELECT try($$SELECT t.* FROM fm_models, fm_topn(set_byte(model, 1, 0), 1, 2) t$$);
SELECT try($$SELECT fm_model_info('\x0a'::bytea)$$);
-- a message claiming a huge length, hostile varints
SELECT try($$SELECT fm_predict('\x0dffffffff'::bytea || '\x4affffffff0f'::bytea, 1, 2)$$);
SELECT try($$SELECT fm_predict('\x0d464d5243100118002000'::bytea, 1, 2)$$);

-- many random single-byte corruptions: the checksum rejects every one with XX001
SELECT DISTINCT split_part(try(format('SELECT fm_predict(%L::bytea, 1, 2)',
       set_byte(model, (g * 7919) % octet_length(model),
                get_byte(model, (g * 7919) % octet_length(model)) # (((g * 31) % 255) + 1)))), ':', 1) AS outcome
FROM fm_models, generate_series(1, 300) g
ORDER BY 1;

-- a damaged row in fm_models is reported, not served
UPDATE fm_models SET model = substr(model, 1, 40) WHERE name = 'm';
SELECT try($$SELECT fm_predict('m', 1, 2)$$);
