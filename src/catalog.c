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
 *
 * Privileges.  Roles do not write fm_models themselves (only SELECT is
 * granted, filtered by row-level security): this file reads and writes it
 * as the owner of the table, the role that created the extension, and
 * checks the caller's rights in the same statement as the access, so no
 * check and use can race.  A model's owner is the role that trained it
 * first; its members (and superusers) may retrain, drop and grant it;
 * others may serve it or read its bytes only when granted (fm_grant).
 * Queries run in that elevated context are fully qualified, operators
 * included, so no object on the caller's search_path can be captured, and
 * they run with SECURITY_RESTRICTED_OPERATION.
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
#include "catalog/pg_class.h"
#include "utils/syscache.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "lib/stringinfo.h"
#include "utils/lsyscache.h"
#include "miscadmin.h"
#include "utils/acl.h"

#include "fmrec.h"

static SPIPlanPtr version_plan = NULL;
static SPIPlanPtr bytes_plan = NULL;
static SPIPlanPtr store_plan = NULL;
static SPIPlanPtr drop_plan = NULL;
static SPIPlanPtr owner_plan = NULL;
static SPIPlanPtr grant_plan = NULL;
static SPIPlanPtr revoke_plan = NULL;
static SPIPlanPtr granted_plan = NULL;
static SPIPlanPtr rollback_plan = NULL;
static SPIPlanPtr forget_plan = NULL;
static SPIPlanPtr may_write_plan = NULL;

/*
 * What this backend knows of the catalog: fm_models' oid, and whether it
 * has 0.2.0's owner column.  Between installing the 0.2.0 library and
 * ALTER EXTENSION fmrec UPDATE the catalog is still 0.1.0's: models are
 * then served and trained with 0.1.0's rules (no owners, no grants).
 * Each use revalidates it with two syscache probes; only when fm_models is
 * not the relation it was (the extension dropped and created again) is the
 * extension's schema looked up again.  Prepared plans follow any change.
 */
static Oid	catalog_relid = InvalidOid;
static bool catalog_has_owner = false;

static void
ForgetPlans(void)
{
	SPIPlanPtr *plans[] = {&version_plan, &bytes_plan, &store_plan, &drop_plan,
	&owner_plan, &grant_plan, &revoke_plan, &granted_plan, &rollback_plan,
	&forget_plan, &may_write_plan};

	for (int j = 0; j < (int) lengthof(plans); j++)
		if (*plans[j] != NULL)
		{
			SPI_freeplan(*plans[j]);
			*plans[j] = NULL;
		}
}

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

/*
 * Brings the catalog's description up to date and returns the owner of
 * fm_models: the role catalog access runs as.
 */
static Oid
Catalog(void)
{
	HeapTuple	tup = NULL;
	Form_pg_class form;
	Oid			owner;
	bool		has_owner;

	if (OidIsValid(catalog_relid))
	{
		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(catalog_relid));
		if (HeapTupleIsValid(tup) &&
			strcmp(NameStr(((Form_pg_class) GETSTRUCT(tup))->relname), "fm_models") != 0)
		{
			ReleaseSysCache(tup);
			tup = NULL;
		}
	}
	if (!HeapTupleIsValid(tup))
	{
		Oid			relid = get_relname_relid("fm_models", ExtensionSchema());

		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("fmrec catalog fm_models does not exist")));
		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for relation %u", relid);
		ForgetPlans();
		catalog_relid = relid;
	}
	form = (Form_pg_class) GETSTRUCT(tup);
	owner = form->relowner;
	ReleaseSysCache(tup);
	has_owner = get_attnum(catalog_relid, "owner") != InvalidAttrNumber;
	if (has_owner != catalog_has_owner)
	{
		ForgetPlans();
		catalog_has_owner = has_owner;
	}
	return owner;
}

static void
NeedsUpdate(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s needs the fmrec 0.2.0 catalog", what),
			 errhint("Run ALTER EXTENSION fmrec UPDATE.")));
}

/*
 * Prepares a catalog statement once per backend (Catalog() has run): in
 * sql, {models} stands for fm_models, {grants} for fm_model_grants and
 * {versions} for fm_model_versions, all schema-qualified.
 */
static SPIPlanPtr
Prepare(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		char	   *schema = get_namespace_name(get_rel_namespace(catalog_relid));
		StringInfoData buf;
		SPIPlanPtr	p;

		initStringInfo(&buf);
		for (const char *c = sql; *c; c++)
		{
			if (strncmp(c, "{models}", 8) == 0)
			{
				appendStringInfoString(&buf, quote_qualified_identifier(schema, "fm_models"));
				c += 7;
			}
			else if (strncmp(c, "{grants}", 8) == 0)
			{
				appendStringInfoString(&buf, quote_qualified_identifier(schema, "fm_model_grants"));
				c += 7;
			}
			else if (strncmp(c, "{versions}", 10) == 0)
			{
				appendStringInfoString(&buf, quote_qualified_identifier(schema, "fm_model_versions"));
				c += 9;
			}
			else
				appendStringInfoChar(&buf, *c);
		}
		p = SPI_prepare(buf.data, nargs, types);
		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/*
 * Runs a prepared catalog statement as owner (the catalog's), restricted;
 * returns SPI_execute_plan's code.  The caller has connected SPI.
 */
static int
ExecAsOwnerNulls(Oid owner, SPIPlanPtr plan, Datum *values, const char *nulls,
				 bool read_only, long count);

static int
ExecAsOwner(Oid owner, SPIPlanPtr plan, Datum *values, bool read_only, long count)
{
	return ExecAsOwnerNulls(owner, plan, values, NULL, read_only, count);
}

/* ExecAsOwner with nulls as SPI_execute_plan takes them */
static int
ExecAsOwnerNulls(Oid owner, SPIPlanPtr plan, Datum *values, const char *nulls,
				 bool read_only, long count)
{
	Oid			save_user;
	int			save_sec;
	volatile int rc = 0;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		rc = SPI_execute_plan(plan, values, nulls, read_only, count);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	return rc;
}

static void
NotOwner(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("must be owner of model \"%s\"", name),
			 errhint("Only members of the role that owns a model may retrain, drop or grant it.")));
}

/* the upsert; 0.2.0's keeps the row of a model the caller does not own */
#define STORE_COLUMNS \
	"name, task, solver, hyperparams, metrics, n_rows, n_users, n_items, " \
	"size_bytes, version, created_at, model"
#define STORE_VALUES \
	"$1, $2, $3::pg_catalog.jsonb OPERATOR(pg_catalog.->>) 'solver', " \
	"$3::pg_catalog.jsonb, $4::pg_catalog.jsonb, $5, $6, $7, $8, 0, pg_catalog.now(), $9"
#define STORE_UPDATE \
	"ON CONFLICT (name) DO UPDATE SET task = EXCLUDED.task, " \
	"solver = EXCLUDED.solver, hyperparams = EXCLUDED.hyperparams, " \
	"metrics = EXCLUDED.metrics, n_rows = EXCLUDED.n_rows, " \
	"n_users = EXCLUDED.n_users, n_items = EXCLUDED.n_items, " \
	"size_bytes = EXCLUDED.size_bytes, " \
	"created_at = EXCLUDED.created_at, model = EXCLUDED.model "

static const char store_sql[] =
	"INSERT INTO {models} AS m (" STORE_COLUMNS ", owner) "
	"VALUES (" STORE_VALUES ", $10::pg_catalog.regrole) " STORE_UPDATE
	"WHERE pg_catalog.pg_has_role($10, m.owner::pg_catalog.oid, 'USAGE') "
	"RETURNING m.version";
static const char store_sql_v1[] =
	"INSERT INTO {models} AS m (" STORE_COLUMNS ") "
	"VALUES (" STORE_VALUES ") " STORE_UPDATE "RETURNING m.version";

/*
 * Stores a model under name, replacing any older one the caller owns;
 * returns its version.  A model of that name owned by a role the caller
 * has no privileges of is not touched: permission denied.
 */
int64
FmrecStoreModel(const char *name, const FmModelData *m, const bytea *bytes,
				const FmrecTimingData *timing)
{
	Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID,
	INT8OID, INT8OID, INT8OID, BYTEAOID, OIDOID};
	Datum		values[10];
	int64		version = 0;
	bool		isnull;
	bool		stored;
	Oid			owner = Catalog();

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(FmTaskName(m->task));
	values[2] = CStringGetTextDatum(FmrecParamsJson(&m->params, true));
	values[3] = CStringGetTextDatum(FmrecMetricsJson(m, timing));
	values[4] = Int64GetDatum((int64) m->info.rows);
	values[5] = Int64GetDatum((int64) m->n_users);
	values[6] = Int64GetDatum((int64) m->n_items);
	values[7] = Int64GetDatum((int64) VARSIZE(bytes) - VARHDRSZ);
	values[8] = PointerGetDatum(bytes);
	values[9] = ObjectIdGetDatum(GetUserId());

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	Prepare(&store_plan, catalog_has_owner ? store_sql : store_sql_v1, 10, types);
	if (ExecAsOwner(owner, store_plan, values, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not store model \"%s\"", name);
	stored = SPI_processed == 1;
	if (stored)
		version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	if (!stored)
		NotOwner(name);
	return version;
}

/* [0.2.0 catalog][for update] */
static const char *const row_sql[2][2] = {
	{"SELECT version, 0::pg_catalog.oid FROM {models} WHERE name OPERATOR(pg_catalog.=) $1",
	"SELECT version, 0::pg_catalog.oid FROM {models} WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE"},
	{"SELECT version, owner::pg_catalog.oid FROM {models} WHERE name OPERATOR(pg_catalog.=) $1",
	"SELECT version, owner::pg_catalog.oid FROM {models} WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE"},
};

/*
 * Reads the row of model name: its version and owner (InvalidOid in a
 * 0.1.0 catalog, which has none), locking it for update when asked.
 * Returns false when there is no such model.
 */
static bool
ModelRow(SPIPlanPtr *plan, const char *name, bool for_update, int64 *version,
		 Oid *model_owner)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	Oid			owner = Catalog();
	bool		found;
	bool		isnull;

	values[0] = CStringGetTextDatum(name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	Prepare(plan, row_sql[catalog_has_owner][for_update], 1, types);
	if (ExecAsOwner(owner, *plan, values, !for_update, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up model \"%s\"", name);
	found = SPI_processed == 1;
	if (found)
	{
		*version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
		*model_owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_finish();
	return found;
}

/* Whether the caller has the privileges of a model's owner (0.1.0: all do). */
static bool
CallerOwns(Oid model_owner)
{
	return !catalog_has_owner || has_privs_of_role(GetUserId(), model_owner);
}

/* Whether model name is granted (serve or read) to the caller or public. */
static bool
Granted(const char *name)
{
	Oid			types[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	Oid			owner = Catalog();
	bool		granted;
	bool		isnull;

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(GetUserId());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	Prepare(&granted_plan,
			"SELECT EXISTS (SELECT 1 FROM {grants} g WHERE g.model OPERATOR(pg_catalog.=) $1 "
			"AND CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN true "
			"ELSE pg_catalog.pg_has_role($2, g.grantee, 'USAGE') END)",
			2, types);
	if (ExecAsOwner(owner, granted_plan, values, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up model \"%s\"", name);
	granted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return granted;
}

/*
 * Looks up the current version of a model the caller may serve (read:
 * also its bytes); false when there is no model of that name.  A model the
 * caller may not use is permission denied.  This runs once per statement
 * and call site: the owner's check is a C call, the grants are read only
 * for others.
 */
bool
FmrecModelVersion(const char *name, int64 *version)
{
	Oid			model_owner;

	if (!ModelRow(&version_plan, name, false, version, &model_owner))
		return false;
	if (!CallerOwns(model_owner) && !Granted(name))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", name),
				 errhint("The model's owner can grant it with fm_grant('%s', role, 'serve').",
						 name)));
	return true;
}

/*
 * Fetches a model's bytes, copied into the caller's memory context; the
 * caller has been allowed by FmrecModelVersion in this statement.
 */
bytea *
FmrecModelBytes(const char *name, int64 version)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	bytea	   *result = NULL;
	MemoryContext caller = CurrentMemoryContext;
	Oid			owner = Catalog();

	values[0] = CStringGetTextDatum(name);
	values[1] = Int64GetDatum(version);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	Prepare(&bytes_plan, "SELECT model FROM {models} WHERE name OPERATOR(pg_catalog.=) $1 "
			"AND version OPERATOR(pg_catalog.=) $2", 2, types);
	if (ExecAsOwner(owner, bytes_plan, values, true, 1) != SPI_OK_SELECT)
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

/*
 * Whether the caller owns model name, locking its row: 1 yes, 0 no, -1
 * there is no such model.
 */
static int
OwnsModel(const char *name)
{
	int64		version;
	Oid			model_owner;

	if (!ModelRow(&owner_plan, name, true, &version, &model_owner))
		return -1;
	return CallerOwns(model_owner) ? 1 : 0;
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
	int			owns;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	owns = OwnsModel(name);		/* locks the row */
	if (owns < 0)
	{
		if (!if_exists)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" does not exist", name)));
		PG_RETURN_BOOL(false);
	}
	if (owns == 0)
		NotOwner(name);
	values[0] = PG_GETARG_DATUM(0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	Prepare(&drop_plan, "DELETE FROM {models} WHERE name OPERATOR(pg_catalog.=) $1", 1, types);
	if (ExecAsOwner(Catalog(), drop_plan, values, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not drop model \"%s\"", name);
	SPI_finish();
	PG_RETURN_BOOL(true);
}

/* The oid of a role name, or 0 for "public"; an unknown role is an error. */
static Oid
GranteeOid(const char *role)
{
	if (pg_strcasecmp(role, "public") == 0)
		return InvalidOid;
	return get_role_oid(role, false);
}

static const char *
CheckPrivilege(const char *priv)
{
	if (strcmp(priv, "serve") != 0 && strcmp(priv, "read") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized model privilege \"%s\"", priv),
				 errhint("Use \"serve\" (fm_predict, fm_topn) or \"read\" (the model's bytes and row).")));
	return priv;
}

/*
 * Checks that model exists and the caller owns it, locking its row, and
 * returns its version.
 */
static int64
CheckOwner(const char *name)
{
	int64		version;
	Oid			model_owner;

	if (!ModelRow(&owner_plan, name, true, &version, &model_owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name)));
	if (!CallerOwns(model_owner))
		NotOwner(name);
	return version;
}

/*
 * Errors unless the caller may write model name: it does not exist yet, or
 * the caller owns it.  For a writer that works long before it stores
 * (fm_tune), so that it fails before the work, not after.
 */
void
FmrecCheckMayWrite(const char *name)
{
	int64		version;
	Oid			model_owner;

	if (ModelRow(&may_write_plan, name, false, &version, &model_owner) && !CallerOwns(model_owner))
		NotOwner(name);
}

/*
 * CheckOwner for a writer that reads the model first (fm_update,
 * fm_refresh): a concurrent writer of the model waits for this
 * transaction.
 */
int64
FmrecLockOwnedModel(const char *name)
{
	return CheckOwner(name);
}

/*
 * The shared body of fm_grant and fm_revoke: checks that the caller owns
 * the model, then runs sql (prepared once into *plan) with (model,
 * grantee, privilege); returns the rows it touched.
 */
static uint64
GrantStatement(FunctionCallInfo fcinfo, const char *what, SPIPlanPtr *plan,
			   const char *sql, int expect)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			grantee = GranteeOid(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	const char *priv = CheckPrivilege(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	Oid			types[3] = {TEXTOID, OIDOID, TEXTOID};
	Datum		values[3];
	uint64		n;

	Catalog();
	if (!catalog_has_owner)
		NeedsUpdate(what);
	CheckOwner(name);
	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(grantee);
	values[2] = CStringGetTextDatum(priv);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	Prepare(plan, sql, 3, types);
	if (ExecAsOwner(Catalog(), *plan, values, false, 0) != expect)
		elog(ERROR, "%s failed on model \"%s\"", what, name);
	n = SPI_processed;
	SPI_finish();
	return n;
}

PG_FUNCTION_INFO_V1(fmrec_grant);

/*
 * fm_grant(model text, role text, privilege text DEFAULT 'serve') RETURNS void
 *
 * 'read' implies 'serve'.
 */
Datum
fmrec_grant(PG_FUNCTION_ARGS)
{
	GrantStatement(fcinfo, "fm_grant", &grant_plan,
				   "INSERT INTO {grants} (model, grantee, privilege) "
				   "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", SPI_OK_INSERT);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(fmrec_revoke);

/*
 * fm_revoke(model text, role text, privilege text DEFAULT 'serve') RETURNS boolean
 */
Datum
fmrec_revoke(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(GrantStatement(fcinfo, "fm_revoke", &revoke_plan,
								  "DELETE FROM {grants} "
								  "WHERE model OPERATOR(pg_catalog.=) $1 "
								  "AND grantee OPERATOR(pg_catalog.=) $2 "
								  "AND privilege OPERATOR(pg_catalog.=) $3",
								  SPI_OK_DELETE) > 0);
}

PG_FUNCTION_INFO_V1(fmrec_rollback);

/*
 * fm_rollback(model text, version bigint DEFAULT NULL) RETURNS bigint
 *
 * Serves a kept version of a model again: its row of fm_model_versions
 * (the newest when version is NULL) becomes the model's row, bytes and
 * all, under a new version number (so every backend's cache reloads it);
 * the row it replaces is kept in turn, so a rollback can be rolled back.
 */
Datum
fmrec_rollback(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	int64		restored = 0;
	int64		version = 0;
	bool		found;
	bool		isnull;
	Oid			owner;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	CheckOwner(name);			/* locks the row */
	if (!catalog_has_owner)
		NeedsUpdate("fm_rollback");
	owner = Catalog();
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	Prepare(&rollback_plan,
			"WITH h AS (SELECT * FROM {versions} v WHERE v.name OPERATOR(pg_catalog.=) $1 "
			"AND ($2 IS NULL OR v.version OPERATOR(pg_catalog.=) $2) "
			"ORDER BY v.version DESC LIMIT 1) "
			"UPDATE {models} m SET task = h.task, solver = h.solver, "
			"hyperparams = h.hyperparams, metrics = h.metrics OPERATOR(pg_catalog.||) "
			"pg_catalog.jsonb_build_object('restored_from', h.version), "
			"n_rows = h.n_rows, n_users = h.n_users, n_items = h.n_items, "
			"size_bytes = h.size_bytes, created_at = h.created_at, model = h.model "
			"FROM h WHERE m.name OPERATOR(pg_catalog.=) $1 RETURNING m.version, h.version",
			2, types);
	if (ExecAsOwnerNulls(owner, rollback_plan, values, nulls, false, 1) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not roll back model \"%s\"", name);
	found = SPI_processed == 1;
	if (found)
	{
		version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull));
		restored = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2, &isnull));
		/* the restored row is the model's now, not an earlier version */
		values[1] = Int64GetDatum(restored);
		Prepare(&forget_plan,
				"DELETE FROM {versions} WHERE name OPERATOR(pg_catalog.=) $1 "
				"AND version OPERATOR(pg_catalog.=) $2", 2, types);
		if (ExecAsOwner(owner, forget_plan, values, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not roll back model \"%s\"", name);
	}
	SPI_finish();
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 PG_ARGISNULL(1) ?
				 errmsg("model \"%s\" has no earlier version", name) :
				 errmsg("model \"%s\" has no version " INT64_FORMAT, name,
						PG_GETARG_INT64(1)),
				 errhint("fm_versions('%s') lists the versions kept; fmrec.keep_versions says how many are.",
						 name)));
	PG_RETURN_INT64(version);
}
