/*
 * interop.c
 *	  Examples in SageMaker's and libFM's formats, both ways.
 *
 * fm_export_recordio and fm_export_libfm write a ratings query in the
 * one-hot layout of SageMaker's factorization machines walk-through: the
 * user's key is its id, the item's is users + its id, in a vector of
 * users + items dimensions, and the label is the rating.  The model form of
 * fm_export_libfm numbers users and items as a model does instead, so that
 * libFM trains on exactly the features fmrec trained on.  fm_import_recordio
 * and fm_import_libfm read such examples back as (user_id, item_id,
 * rating) rows that fm_train takes.  The formats themselves are the core's
 * (src/core/interop.c).
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "fmrec.h"

/* the SageMaker layout's dimensions, checked */
static void
CheckLayout(int64 users, int64 items)
{
	if (users < 1 || items < 1 || users > INT64_MAX - items)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("users and items must be positive"),
				 errdetail("users is " INT64_FORMAT " and items " INT64_FORMAT ".", users, items),
				 errhint("Pass the number of user keys and of item keys: ids run from 0 to users - 1 and items - 1.")));
}

/*
 * Reads the (user, item, rating) rows of source for an export: no weight
 * and no context, which neither format has.
 */
static FmRatings
ExportRows(const char *source, MemoryContext cxt)
{
	FmRatings	r = FmrecNewRatings(cxt);

	FmrecLoadRatings(source, r, false, NULL);
	if (r->weight != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("exported examples have no row weight"),
				 errdetail("SageMaker's records and libFM's lines hold a label and features only."),
				 errhint("Leave the weight column out of the query.")));
	return r;
}

/* row j of r in the SageMaker layout, or an error naming the row */
static void
LayoutRow(const FmRatingsData *r, size_t j, int64 users, int64 items, FmSparseRow *row)
{
	if (r->user[j] < 0 || r->user[j] >= users || r->item[j] < 0 || r->item[j] >= items)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s id " INT64_FORMAT " is outside the layout",
						r->user[j] < 0 || r->user[j] >= users ? "user" : "item",
						r->user[j] < 0 || r->user[j] >= users ? r->user[j] : r->item[j]),
				 errdetail("Row %zu; user ids must be from 0 to " INT64_FORMAT ", item ids from 0 to " INT64_FORMAT ".",
						   j + 1, users - 1, items - 1),
				 errhint("Renumber the ids in the query (for example user_id - 1), or pass larger users and items.")));
	row->label = r->rating[j];
	row->n = 2;
	row->dim = (uint64) (users + items);
	row->keys[0] = (uint64) r->user[j];
	row->keys[1] = (uint64) (users + r->item[j]);
	row->vals[0] = row->vals[1] = 1.0f;
}

PG_FUNCTION_INFO_V1(fmrec_export_recordio);

/*
 * fm_export_recordio(ratings text, users bigint, items bigint) RETURNS bytea
 */
Datum
fmrec_export_recordio(PG_FUNCTION_ARGS)
{
	int64		users = PG_GETARG_INT64(1);
	int64		items = PG_GETARG_INT64(2);
	MemoryContext cxt;
	MemoryContext old;
	FmRatings	r;
	FmSparseRow row;
	StringInfoData buf;
	bytea	   *out;

	CheckLayout(users, items);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fmrec export",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	r = ExportRows(text_to_cstring(PG_GETARG_TEXT_PP(0)), cxt);
	MemoryContextSwitchTo(old);
	/* one pass: each record is sized, checked against a bytea's limit, written */
	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	for (size_t j = 0; j < r->n; j++)
	{
		size_t		need,
					len;

		LayoutRow(r, j, users, items, &row);
		need = FmRecordIOSize(&row);
		if (need > MaxAllocSize - 1 - (size_t) buf.len)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("RecordIO data of %zu rows would not fit in a bytea", r->n),
					 errdetail("A bytea holds at most 1 GB."),
					 errhint("Export the rows in parts (for example WHERE user_id %% 4 = 0, 1, 2, 3) and concatenate the files: records are independent.")));
		enlargeStringInfo(&buf, (int) need);
		if (FmRecordIOWrite(&row, (uint8 *) buf.data + buf.len, need, &len) != FM_OK)
			elog(ERROR, "RecordIO record %zu does not fit", j + 1);
		buf.len += (int) len;
		if ((j & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	out = (bytea *) buf.data;
	SET_VARSIZE(out, buf.len);
	MemoryContextDelete(cxt);
	PG_RETURN_BYTEA_P(out);
}

/* Puts row as a libFM line into the result set. */
static void
PutLine(ReturnSetInfo *rsinfo, const FmSparseRow *row)
{
	char		buf[FM_SPARSE_MAX * 48 + 32];
	Datum		value;
	bool		null = false;

	FmLibfmWrite(row, buf, sizeof(buf));
	value = CStringGetTextDatum(buf);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &null);
	pfree(DatumGetPointer(value));
}

PG_FUNCTION_INFO_V1(fmrec_export_libfm);

/*
 * fm_export_libfm(ratings text, users bigint, items bigint) RETURNS SETOF text
 */
Datum
fmrec_export_libfm(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		users = PG_GETARG_INT64(1);
	int64		items = PG_GETARG_INT64(2);
	MemoryContext cxt;
	FmRatings	r;
	FmSparseRow row;

	CheckLayout(users, items);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fmrec export",
								ALLOCSET_DEFAULT_SIZES);
	r = ExportRows(text_to_cstring(PG_GETARG_TEXT_PP(0)), cxt);
	for (size_t j = 0; j < r->n; j++)
	{
		LayoutRow(r, j, users, items, &row);
		PutLine(rsinfo, &row);
		if ((j & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(cxt);
	return (Datum) 0;
}

/*
 * The libFM key of an id of one side: the model's index (after offset),
 * or, for an id the model does not know, the next key after every key of
 * the model (*next), the same for every row that has it.
 */
static uint64
ModelKey(const FmIdMapData *known, FmIdMap unknown, int64 id, uint64 offset,
		 uint64 *next)
{
	int64		idx = FmIdMapGet(known, id);
	uint32		found;

	if (idx >= 0)
		return offset + (uint64) idx;
	if (*next >= UINT32_MAX ||
		FmIdMapPut(unknown, id, (uint32) *next, &found) != FM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed to number the ids the model does not know.")));
	if (found == *next)
		(*next)++;				/* a new id: it took the next key */
	return found;
}

static void
FreeIdMap(void *arg)
{
	FmIdMapFree((FmIdMap) arg);
}

PG_FUNCTION_INFO_V1(fmrec_export_libfm_model);

/*
 * fm_export_libfm(model text, ratings text) RETURNS SETOF text
 *
 * Keys: the model's user index, then n_users + its item index; ids the
 * model does not know get keys from n_users + n_items on, in the order
 * they first appear.
 */
Datum
fmrec_export_libfm_model(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *name;
	FmModel		m;
	MemoryContext cxt;
	FmRatings	r;
	FmSparseRow row;
	FmIdMapData *unknown_users,
			   *unknown_items;
	uint64		next;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", PG_ARGISNULL(0) ? "model name" : "ratings source")));
	name = PG_GETARG_TEXT_PP(0);
	m = FmrecModelByName(fcinfo, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fmrec export",
								ALLOCSET_DEFAULT_SIZES);
	unknown_users = MemoryContextAllocZero(cxt, sizeof(FmIdMapData));
	unknown_items = MemoryContextAllocZero(cxt, sizeof(FmIdMapData));
	if (FmIdMapInit(unknown_users, 16) != FM_OK || FmIdMapInit(unknown_items, 16) != FM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	FmrecRegisterFree(cxt, FreeIdMap, unknown_users);
	FmrecRegisterFree(cxt, FreeIdMap, unknown_items);
	r = ExportRows(text_to_cstring(PG_GETARG_TEXT_PP(1)), cxt);
	next = (uint64) m->n_users + m->n_items;
	for (size_t j = 0; j < r->n; j++)
	{
		row.label = r->rating[j];
		row.n = 2;
		row.dim = 0;
		row.keys[0] = ModelKey(&m->umap, unknown_users, r->user[j], 0, &next);
		row.keys[1] = ModelKey(&m->imap, unknown_items, r->item[j], m->n_users, &next);
		row.vals[0] = row.vals[1] = 1.0f;
		PutLine(rsinfo, &row);
		if ((j & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(cxt);
	return (Datum) 0;
}

/* Puts an imported example as a (user_id, item_id, rating) row. */
static void
PutPair(ReturnSetInfo *rsinfo, const FmSparseRow *row, int64 users,
		const char *format, uint64 recno)
{
	char		err[FM_ERRLEN];
	int64		user = 0,
				item = 0;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (FmSparsePair(row, (uint64) users, &user, &item, err, sizeof(err)) != FM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s example " UINT64_FORMAT " is not a (user, item) pair", format, recno),
				 errdetail("%s", err),
				 errhint("fmrec imports examples of one user key (below users) and one item key, each of value 1.")));
	values[0] = Int64GetDatum(user);
	values[1] = Int64GetDatum(item);
	values[2] = Float8GetDatum(row->label);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static int64
ImportUsers(FunctionCallInfo fcinfo)
{
	int64		users = PG_GETARG_INT64(1);

	if (users < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("users must be positive"),
				 errhint("Pass the number of user keys: keys below it are users, the others users + an item id.")));
	return users;
}

PG_FUNCTION_INFO_V1(fmrec_import_recordio);

/*
 * fm_import_recordio(data bytea, users bigint)
 *		RETURNS TABLE(user_id bigint, item_id bigint, rating float8)
 */
Datum
fmrec_import_recordio(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	int64		users = ImportUsers(fcinfo);
	const uint8 *bytes = (const uint8 *) VARDATA_ANY(data);
	size_t		len = VARSIZE_ANY_EXHDR(data);
	size_t		pos = 0;
	uint64		recno = 0;
	FmSparseRow row;
	char		err[FM_ERRLEN];
	FmStatus	st;

	FmrecInitSrf(fcinfo);
	while ((st = FmRecordIORead(bytes, len, &pos, &row, err, sizeof(err))) == FM_OK)
	{
		PutPair(rsinfo, &row, users, "RecordIO", ++recno);
		if ((recno & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	if (st != FM_DONE)
		ereport(ERROR,
				(errcode(st == FM_ERR_CORRUPT ? ERRCODE_INVALID_BINARY_REPRESENTATION : ERRCODE_DATA_EXCEPTION),
				 errmsg("invalid RecordIO-protobuf record " UINT64_FORMAT, recno + 1),
				 errdetail("%s", err)));
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fmrec_import_libfm);

/*
 * fm_import_libfm(data text, users bigint)
 *		RETURNS TABLE(user_id bigint, item_id bigint, rating float8)
 */
Datum
fmrec_import_libfm(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *data = PG_GETARG_TEXT_PP(0);
	int64		users = ImportUsers(fcinfo);
	const char *s = VARDATA_ANY(data);
	size_t		len = VARSIZE_ANY_EXHDR(data);
	size_t		at = 0;
	uint64		lineno = 0;
	FmSparseRow row;
	char		err[FM_ERRLEN];

	FmrecInitSrf(fcinfo);
	while (at < len)
	{
		const char *nl = memchr(s + at, '\n', len - at);
		size_t		end = nl ? (size_t) (nl - s) : len;
		FmStatus	st = FmLibfmRead(s + at, end - at, &row, err, sizeof(err));

		lineno++;
		if (st == FM_OK)
			PutPair(rsinfo, &row, users, "libFM", lineno);
		else if (st != FM_DONE)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid libFM line " UINT64_FORMAT, lineno),
					 errdetail("%s", err)));
		at = end + 1;
		if ((lineno & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return (Datum) 0;
}
