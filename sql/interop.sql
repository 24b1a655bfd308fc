-- Interop: SageMaker's RecordIO-protobuf and libFM's text, both ways.
CREATE TABLE r AS
  SELECT user_id - 1 AS u, item_id - 1 AS i, rating
  FROM fm_synthetic_ratings(users => 60, items => 40, ratings => 800, seed => 3);

-- one record, byte for byte as the SageMaker Python SDK's
-- write_spmatrix_to_sparse_tensor writes it: RecordIO magic 0xced7230a and
-- length 51 (little-endian), features["values"] = float32 tensor
-- {values [1, 1], keys [3, 30], shape [40]}, label["values"] = {values [4]},
-- one byte of padding
SELECT encode(fm_export_recordio('SELECT 3, 10, 4.0', 20, 20), 'hex') =
       '0a23d7ce33000000' ||
       '0a1d0a0676616c756573121312110a080000803f0000803f1202031e1a0128' ||
       '12120a0676616c756573120812060a040000804000' AS sdk_bytes;

-- written, read back, written again: the same bytes, the same rows
CREATE TABLE rio AS SELECT fm_export_recordio('r', 60, 40) AS data;
SELECT octet_length(data) AS bytes FROM rio;
SELECT count(*) AS rows_back, bool_and(x.rating = r.rating::float4) AS labels_float32
FROM rio, fm_import_recordio(rio.data, 60) x JOIN r ON (x.user_id, x.item_id) = (r.u, r.i);
SELECT fm_export_recordio('SELECT * FROM fm_import_recordio((SELECT data FROM rio), 60)', 60, 40) = data AS same_bytes
FROM rio;

-- SageMaker's data trains in fmrec: the imported rows give the model the
-- source rows give
SELECT 1 FROM fm_train('from_source', 'SELECT u, i, rating::float4 FROM r', factors => 4, epochs => 3, quiet => true);
SELECT 1 FROM fm_train('from_recordio', 'SELECT * FROM fm_import_recordio((SELECT data FROM rio), 60)',
                       factors => 4, epochs => 3, quiet => true);
SELECT a.model = b.model AS same_model FROM fm_models a, fm_models b
WHERE a.name = 'from_source' AND b.name = 'from_recordio';

-- libFM: the same layout as text lines, and back
SELECT * FROM fm_export_libfm('SELECT 3, 10, 4.5 UNION ALL SELECT 0, 0, 1', 20, 20);
CREATE TABLE lfm AS SELECT string_agg(line, E'\n') AS data FROM fm_export_libfm('r', 60, 40);
SELECT count(*) AS lines_back, bool_and(x.rating::float4 = r.rating::float4) AS labels_float32
FROM lfm, fm_import_libfm(lfm.data, 60) x JOIN r ON (x.user_id, x.item_id) = (r.u, r.i);
SELECT string_agg(line, E'\n') = (SELECT data FROM lfm) AS same_text
FROM fm_export_libfm('SELECT * FROM fm_import_libfm((SELECT data FROM lfm), 60)', 60, 40);
-- blank lines, tabs, CRLF and a final newline are taken as libFM takes them
SELECT * FROM fm_import_libfm(E'5 1:1 9:1\r\n\n\t3\t2:1  8:1\n', 5);

-- the model's numbering: users 0..n_users-1, then items; ids the model does
-- not know get keys after all of the model's, in order of appearance
SELECT 1 FROM fm_train('m', 'SELECT 10 * u + 7, i + 100, rating FROM r', factors => 4, epochs => 2, quiet => true);
SELECT fm_model_info('m')->'users' AS n_users, fm_model_info('m')->'items' AS n_items;
SELECT * FROM fm_export_libfm('m', $$VALUES (7, 100, 4.0), (17, 139, 2.0), (-1, 100, 3.0), (-1, -2, 1.0), (-3, -2, 5.0)$$);

-- errors
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || COALESCE(' (' || NULLIF(d, '') || ')', '');
END $$;
SELECT try($$SELECT fm_export_recordio('SELECT 1, 1, 3', 0, 40)$$);
SELECT try($$SELECT fm_export_recordio('SELECT 20, 1, 3', 20, 40)$$);
SELECT try($$SELECT fm_export_recordio('SELECT -1, 1, 3', 20, 40)$$);
SELECT try($$SELECT fm_export_recordio('SELECT 1, 1, 3, 2 AS weight', 20, 40)$$);
SELECT try($$SELECT * FROM fm_export_libfm('SELECT 1, 40, 3', 20, 40)$$);
SELECT try($$SELECT * FROM fm_import_recordio('\x0a23d7ce3300', 20)$$);
SELECT try($$SELECT * FROM fm_import_recordio('\x0b23d7ce00000000', 20)$$);
SELECT try($$SELECT * FROM fm_import_recordio('\x0a23d7ce05000000', 20)$$);
SELECT try($$SELECT * FROM fm_import_recordio('\x0a23d7ce0000002001020304', 20)$$);
SELECT try($$SELECT * FROM fm_import_recordio('\x0a23d7ce0400000001020304', 20)$$);
SELECT try($$SELECT * FROM fm_import_recordio('\x0a23d7ce00000000', 20)$$);
SELECT try($$SELECT * FROM fm_import_recordio((SELECT data FROM rio), 0)$$);
SELECT try($$SELECT * FROM fm_import_recordio((SELECT data FROM rio), 10)$$);
SELECT try($$SELECT * FROM fm_import_libfm('4 1:1', 5)$$);
SELECT try($$SELECT * FROM fm_import_libfm('4 1:0.5 7:1', 5)$$);
SELECT try($$SELECT * FROM fm_import_libfm('four 1:1 7:1', 5)$$);
SELECT try($$SELECT * FROM fm_import_libfm('4 1:1 7', 5)$$);
SELECT try($$SELECT * FROM fm_import_libfm('4 -1:1 7:1', 5)$$);
SELECT try($$SELECT * FROM fm_import_libfm('4 1:1 7:1e300', 5)$$);
SELECT try($$SELECT * FROM fm_import_libfm('nan 1:1 7:1', 5)$$);
SELECT try($$SELECT * FROM fm_import_libfm('4 1:1 7:', 5)$$);
SELECT try($$SELECT * FROM fm_export_libfm('nosuch', 'r')$$);
