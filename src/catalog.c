/*
 * catalog.c
 *	  The fm_models catalog: store, look up and fetch models by name.
 *
 * fm_models is an ordinary table of the extension (dumped by pg_dump
 * through pg_extension_config_dump), written and read through SPI, so a
 * retrain is just an UPSERT inside the caller's transaction: it becomes
 * visible at commit and vanishes with a rollback, and the previous model
 * of that name stays intact until then.  Each write takes a new number
 * from fm_models_version_seq; the serving cache keys decoded models by
 * (name, version); a trigger gives every written row, even one updated by
 * hand, a new version.  Plans are prepared once per backend.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "utils/fmgroids.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "fmrec.h"

static SPIPlanPtr version_plan = NULL;
static SPIPlanPtr bytes_plan = NULL;
static SPIPlanPtr store_plan = NULL;
static SPIPlanPtr drop_plan = NULL;

/* The extension's schema (get_extension_schema is not exported before 16) */
static Oid
ExtensionSchema(void)
{
	Oid			ext = get_extension_oid("fmrec", false);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			result = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		result = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

/* "schema".rel, where the extension lives */
static char *
Qualified(const char *rel)
{
	char	   *schema = get_namespace_name(ExtensionSchema());

	return quote_qualified_identifier(schema, rel);
}

static SPIPlanPtr
Prepare(SPIPlanPtr *plan, const char *fmt, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		char	   *sql = psprintf(fmt, Qualified("fm_models"));
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/* Stores a model under name, replacing any older one; returns its version. */
int64
FmrecStoreModel(const char *name, const FmModelData *m, const bytea *bytes,
				const FmrecTimingData *timing)
{
	Oid			types[9] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID,
	INT8OID, INT8OID, INT8OID, BYTEAOID};
	Datum		values[9];
	int64		version;
	bool		isnull;
	SPIPlanPtr	plan;

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(FmTaskName(m->task));
	values[2] = CStringGetTextDatum(FmrecParamsJson(&m->params, true));
	values[3] = CStringGetTextDatum(FmrecMetricsJson(m, timing));
	values[4] = Int64GetDatum((int64) m->info.rows);
	values[5] = Int64GetDatum((int64) m->n_users);
	values[6] = Int64GetDatum((int64) m->n_items);
	values[7] = Int64GetDatum((int64) VARSIZE(bytes) - VARHDRSZ);
	values[8] = PointerGetDatum(bytes);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = Prepare(&store_plan,
				   "INSERT INTO %s AS m (name, task, solver, hyperparams, metrics, "
				   "n_rows, n_users, n_items, size_bytes, version, created_at, model) "
				   "VALUES ($1, $2, $3::jsonb->>'solver', $3::jsonb, $4::jsonb, $5, $6, $7, $8, "
				   "0, now(), $9) "
				   "ON CONFLICT (name) DO UPDATE SET task = EXCLUDED.task, "
				   "solver = EXCLUDED.solver, hyperparams = EXCLUDED.hyperparams, "
				   "metrics = EXCLUDED.metrics, n_rows = EXCLUDED.n_rows, "
				   "n_users = EXCLUDED.n_users, n_items = EXCLUDED.n_items, "
				   "size_bytes = EXCLUDED.size_bytes, "
				   "created_at = EXCLUDED.created_at, model = EXCLUDED.model "
				   "RETURNING m.version",
				   9, types);
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not store model \"%s\"", name);
	version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return version;
}

/* Looks up the current version of a model; false when there is none. */
bool
FmrecModelVersion(const char *name, int64 *version)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		found;
	bool		isnull;

	values[0] = CStringGetTextDatum(name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	Prepare(&version_plan, "SELECT version FROM %s WHERE name = $1",
			1, types);
	if (SPI_execute_plan(version_plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up model \"%s\"", name);
	found = SPI_processed == 1;
	if (found)
		*version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return found;
}

/* Fetches a model's bytes, copied into the caller's memory context. */
bytea *
FmrecModelBytes(const char *name, int64 version)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	bytea	   *result = NULL;
	MemoryContext caller = CurrentMemoryContext;

	values[0] = CStringGetTextDatum(name);
	values[1] = Int64GetDatum(version);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	Prepare(&bytes_plan, "SELECT model FROM %s WHERE name = $1 AND version = $2",
			2, types);
	if (SPI_execute_plan(bytes_plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read model \"%s\"", name);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);

			result = DatumGetByteaPCopy(d);
			MemoryContextSwitchTo(spi);
		}
	}
	SPI_finish();
	return result;
}

PG_FUNCTION_INFO_V1(fmrec_drop);

/*
 * fm_drop(model text, if_exists boolean DEFAULT false) RETURNS boolean
 */
Datum
fmrec_drop(PG_FUNCTION_ARGS)
{
	char	   *name;
	bool		if_exists = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	uint64		n;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	values[0] = PG_GETARG_DATUM(0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	Prepare(&drop_plan, "DELETE FROM %s WHERE name = $1", 1, types);
	if (SPI_execute_plan(drop_plan, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not drop model \"%s\"", name);
	n = SPI_processed;
	SPI_finish();
	if (n == 0 && !if_exists)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name)));
	PG_RETURN_BOOL(n > 0);
}
