-- Side features, context and cold start.
CREATE SCHEMA features_test;
SET search_path = features_test, public;
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- planted data where item genres and user groups drive the ratings
CREATE TABLE r AS SELECT user_id, item_id, rating FROM fm_synthetic_ratings(200, 150, 6000, 7, 0.3, 6, 3);
CREATE TABLE f AS SELECT * FROM fm_synthetic_features(200, 150, 7, 6, 3);
SELECT side, count(*), count(DISTINCT feature) AS distinct_features FROM f GROUP BY side ORDER BY side;
-- user 9999 and item 9998 exist only in the attribute sources
CREATE TABLE uf AS SELECT id, feature FROM f WHERE side = 'user' UNION ALL SELECT 9999, 'group=1';
CREATE TABLE itf AS SELECT id, feature, 1.0 AS value FROM f WHERE side = 'item'
  UNION ALL SELECT 9998, 'genre=2', 1.0;

SELECT name, rows_used, users, items
FROM fm_train('feat', 'r', factors => 8, epochs => 20, quiet => true,
              user_features => 'uf', item_features => 'SELECT * FROM itf');
SELECT metrics->'user_features' AS user_features, metrics->'item_features' AS item_features,
       metrics->'context_features' AS context_features,
       metrics->'users_without_ratings' AS users_without_ratings,
       metrics->'items_without_ratings' AS items_without_ratings
FROM fm_models WHERE name = 'feat';

-- (a) a known id with attributes but no ratings: scored through them
SELECT count(*) FROM fm_topn('feat', 9999, 5, verbose => true);
SELECT fm_predict('feat', 9999, 2) <> fm_predict('feat', -1, 2) AS user_by_features;
SELECT fm_predict('feat', 1, 9998) <> fm_predict('feat', 1, -1) AS item_by_features;
SELECT count(*) AS cold_item_ranked FROM fm_topn('feat', 1, 1000) WHERE item = 9998;
-- its score is what its attributes give an anonymous user
SELECT (SELECT array_agg(item) FROM fm_topn('feat', 9999, 5))
     = (SELECT array_agg(item) FROM fm_topn('feat', 5, user_features => ARRAY['group=1'])) AS same_as_anonymous;

-- (b) an anonymous user given as attributes; unknown names are ignored and counted
SELECT count(*) FROM fm_topn('feat', 5, user_features => ARRAY['group=1', 'group=unheard'], verbose => true);

-- (c) an anonymous session given as items, with or without ratings: fold-in
SELECT count(*) FROM fm_topn('feat', 5, items => ARRAY[1, 2, 3], ratings => ARRAY[5, 4, 5], verbose => true);
SELECT count(*) AS session_items_left_out
FROM fm_topn('feat', 1000, items => ARRAY[1, 2, 3]) WHERE item IN (1, 2, 3);
SELECT (SELECT array_agg(item) FROM fm_topn('feat', 5, items => ARRAY[1, 2, 3], ratings => ARRAY[5, 5, 5]))
    <> (SELECT array_agg(item) FROM fm_topn('feat', 5, items => ARRAY[1, 2, 3], ratings => ARRAY[1, 1, 1]))
    AS ratings_matter;
SELECT count(*) FROM fm_topn('feat', 5, user_features => ARRAY['group=0'], items => ARRAY[4, 5, 424242], verbose => true);

-- (d) nothing known: item bias, the same as for an unknown user id
SELECT (SELECT array_agg(item) FROM fm_topn('feat', 5, verbose => true))
     = (SELECT array_agg(item) FROM fm_topn('feat', -5, 5)) AS popularity;

-- the same from model bytes
SELECT (SELECT array_agg(item ORDER BY item) FROM fm_models m, fm_topn(m.model, 5, user_features => ARRAY['group=2']) t WHERE m.name = 'feat')
     = (SELECT array_agg(item ORDER BY item) FROM fm_topn('feat', 5, user_features => ARRAY['group=2'])) AS bytes_form;
SELECT bool_and(fm_predict(m.model, r.user_id, r.item_id) = fm_predict('feat', r.user_id, r.item_id)) AS bytes_predict
FROM fm_models m, r WHERE m.name = 'feat';

-- determinism with attributes: input order does not matter
CREATE TABLE snap AS SELECT model FROM fm_models WHERE name = 'feat';
SELECT 1 FROM fm_train('feat', 'SELECT * FROM r ORDER BY rating DESC, user_id', factors => 8, epochs => 20,
                       quiet => true, user_features => 'SELECT * FROM uf ORDER BY feature DESC, id',
                       item_features => 'SELECT * FROM itf ORDER BY id DESC');
SELECT s.model = m.model AS identical FROM snap s, fm_models m WHERE m.name = 'feat';

-- context: the columns the context option lists; text/integer columns are categorical,
-- float columns real-valued.  Planted: in the evening even items gain a
-- point and odd items lose one, in the morning the other way round.
SELECT name, rows_used FROM fm_train('ctx',
  $$SELECT user_id, item_id,
           rating + CASE WHEN (item_id % 2 = 0) = (daypart = 'evening') THEN 1 ELSE -1 END, 1 AS weight,
           daypart, (user_id % 3)::int AS slot, (item_id % 5)::float8 / 5 AS x
    FROM (SELECT *, CASE WHEN hashint8(user_id * 31 + item_id) % 2 = 0 THEN 'evening' ELSE 'morning' END AS daypart
          FROM r) s$$, factors => 8, epochs => 30, quiet => true,
  options => '{"context": "daypart, slot, x"}');
SELECT metrics->'context_features' AS context_features FROM fm_models WHERE name = 'ctx';
SELECT fm_predict('ctx', 1, 2, '{"daypart": "evening", "slot": 1, "x": 0.4}') >
       fm_predict('ctx', 1, 2, '{"daypart": "morning", "slot": 1, "x": 0.4}') AS context_learned;
SELECT fm_predict('ctx', 1, 2, NULL) = fm_predict('ctx', 1, 2) AS null_context_is_none;
SELECT fm_predict('ctx', 1, 2, '{"weather": "rain"}') = fm_predict('ctx', 1, 2) AS unknown_context_ignored;
SELECT count(*) FROM fm_topn('ctx', 1, 5, context => '{"daypart": "evening", "nonsense": true}', verbose => true);
SELECT (SELECT count(*) FROM fm_topn('ctx', 1, 10, context => '{"daypart": "evening"}') WHERE item % 2 = 0) >= 8
   AND (SELECT count(*) FROM fm_topn('ctx', 1, 10, context => '{"daypart": "morning"}') WHERE item % 2 = 1) >= 8
   AS context_ranks;

-- damaged bytes of a model with attributes are rejected, never served wrongly or crashing
SELECT DISTINCT split_part(try(format('SELECT fm_predict(%L::bytea, 1, 2)',
       set_byte(model, (g * 7919) % octet_length(model),
                get_byte(model, (g * 7919) % octet_length(model)) # (((g * 31) % 255) + 1)))), ':', 1) AS outcome
FROM fm_models, generate_series(1, 200) g WHERE name = 'feat'
ORDER BY 1;

-- errors
SELECT try($$SELECT fm_train('x', 'r', user_features => 'SELECT 1')$$);
SELECT try($$SELECT fm_train('x', 'r', user_features => 'SELECT 1, ''a'', 1.0, 2')$$);
SELECT try($$SELECT fm_train('x', 'r', user_features => 'SELECT ''a''::text, ''b''')$$);
SELECT try($$SELECT fm_train('x', 'r', item_features => 'SELECT 1, ''a'', ''high''::text')$$);
SELECT try($$SELECT fm_train('x', 'r', item_features => 'SELECT NULL::int, ''a''')$$);
SELECT try($$SELECT fm_train('x', 'r', item_features => 'SELECT 1, NULL::text')$$);
SELECT try($$SELECT fm_train('x', 'r', item_features => 'SELECT 1, ''a'', ''NaN''::float8')$$);
SELECT try($$SELECT fm_train('x', 'r', item_features => 'SELECT 1, ''a'', ''Infinity''::float8')$$);
SELECT try($$SELECT fm_train('x', 'r', item_features => 'SELECT 1, ''a'', NULL::float8')$$);
SELECT try($$SELECT fm_train('x', 'r', item_features => 'no_such_table')$$);
SELECT try($$SELECT * FROM fm_topn('feat', 5, items => ARRAY[1, 2], ratings => ARRAY[5])$$);
SELECT try($$SELECT * FROM fm_topn('feat', 5, ratings => ARRAY[5])$$);
SELECT try($$SELECT * FROM fm_topn('feat', 5, items => ARRAY[1, NULL])$$);
SELECT try($$SELECT * FROM fm_topn('feat', 5, items => ARRAY[1], ratings => ARRAY['NaN'::float8])$$);
SELECT try($$SELECT * FROM fm_topn('feat', 5, user_features => ARRAY['group=1', NULL])$$);
SELECT try($$SELECT * FROM fm_topn('feat', 1, 5, context => '[1, 2]')$$);
SELECT try($$SELECT * FROM fm_topn('feat', 1, 5, context => '{"a": [1]}')$$);
SELECT try($$SELECT fm_predict('feat', 1, 2, '"text"')$$);
SELECT try($$SELECT * FROM fm_topn('feat', -1, user_features => ARRAY['group=1'])$$);

-- one vocabulary: a boolean context column trains as flag=true/false and
-- scores from jsonb true/false by the same names (0.1.0 trained flag=t and
-- scored true, false and no context alike)
CREATE TABLE rbool AS
  SELECT user_id, item_id,
         least(5, greatest(1, rating + CASE WHEN (user_id + item_id) % 2 = 0 THEN 1.5 ELSE -1.5 END)) AS rating,
         1.0::float8 AS weight, (user_id + item_id) % 2 = 0 AS flag
  FROM fm_synthetic_ratings(100, 80, 3000, 9, 0.3);
SELECT 1 FROM fm_train('boolctx', 'rbool', factors => 4, epochs => 20, quiet => true,
                       options => '{"context": "flag"}');
SELECT fm_predict('boolctx', 1, 3, '{"flag": true}') > fm_predict('boolctx', 1, 3, '{"flag": false}') AS true_scores_higher,
       fm_predict('boolctx', 1, 3, '{"flag": true}') <> fm_predict('boolctx', 1, 3, '{}') AS true_is_a_feature,
       fm_predict('boolctx', 1, 3, '{"flag": false}') <> fm_predict('boolctx', 1, 3, '{}') AS false_is_a_feature;
SELECT fm_drop('boolctx');
DROP TABLE rbool;
