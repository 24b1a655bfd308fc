/*
 * serve.c
 *	  fm_predict and fm_topn: scoring next to the data.
 *
 * Every form takes its model one of three ways: by name (looked up in
 * fm_models once per statement, STABLE), from the fmrec.model setting
 * (STABLE), or as model bytes (IMMUTABLE: the result depends on the
 * arguments alone).  All three go through the caches of cache.c and then
 * through the same core calls.  Unknown users and items are not errors;
 * see model.c and topn.c for what they score.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

#include "fmrec.h"

static FmModel
ModelFromSetting(FunctionCallInfo fcinfo)
{
	if (fmrec_model == NULL || fmrec_model[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no model selected"),
				 errhint("SET fmrec.model to a model name, or pass the model as the first argument.")));
	return FmrecModelByName(fcinfo, fmrec_model, (int) strlen(fmrec_model));
}

PG_FUNCTION_INFO_V1(fmrec_predict_name);
PG_FUNCTION_INFO_V1(fmrec_predict_bytes);
PG_FUNCTION_INFO_V1(fmrec_predict_default);

/*
 * fm_predict(model text, user_id bigint, item_id bigint) RETURNS float8
 */
Datum
fmrec_predict_name(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	FmModel		m = FmrecModelByName(fcinfo, VARDATA_ANY(name),
									 VARSIZE_ANY_EXHDR(name));

	PG_RETURN_FLOAT8(FmModelPredict(m, PG_GETARG_INT64(1), PG_GETARG_INT64(2)));
}

/*
 * fm_predict(model bytea, user_id bigint, item_id bigint) RETURNS float8
 */
Datum
fmrec_predict_bytes(PG_FUNCTION_ARGS)
{
	FmModel		m = FmrecModelByBytes(fcinfo, PG_GETARG_DATUM(0));

	PG_RETURN_FLOAT8(FmModelPredict(m, PG_GETARG_INT64(1), PG_GETARG_INT64(2)));
}

/*
 * fm_predict(user_id bigint, item_id bigint) RETURNS float8
 */
Datum
fmrec_predict_default(PG_FUNCTION_ARGS)
{
	FmModel		m = ModelFromSetting(fcinfo);

	PG_RETURN_FLOAT8(FmModelPredict(m, PG_GETARG_INT64(0), PG_GETARG_INT64(1)));
}

/*
 * Refuses an array argument of more than limit elements before it is
 * taken apart.
 */
static ArrayType *
BoundedArray(FunctionCallInfo fcinfo, int arg, const char *what, int limit)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(arg);
	int			count = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));

	if (count > limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many %s", what),
				 errdetail("The array has %d elements; fm_topn takes at most %d.", count, limit),
				 limit == FM_MAX_CANDIDATES ?
				 errhint("Rank the whole catalogue (candidates => NULL) and filter the result, or rank the candidates in parts.") :
				 errhint("Pass the most recent items of the session.")));
	return arr;
}

/*
 * The elements of an array argument of type elemtype, at most limit of
 * them; NULLs are an error.
 */
static Datum *
ArrayDatums(FunctionCallInfo fcinfo, int arg, Oid elemtype, const char *what,
			int limit, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int16		len;
	bool		byval;
	char		align;
	ArrayType  *arr = BoundedArray(fcinfo, arg, what, limit);

	get_typlenbyvalalign(elemtype, &len, &byval, &align);
	deconstruct_array(arr, elemtype, len, byval, align, &elems, &nulls, n);
	for (int j = 0; j < *n; j++)
		if (nulls[j])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain nulls", what)));
	return elems;
}

static int64 *
Int64Array(FunctionCallInfo fcinfo, int arg, const char *what, int limit,
		   int *n)
{
	Datum	   *elems = ArrayDatums(fcinfo, arg, INT8OID, what, limit, n);
	int64	   *out = palloc(Max(*n, 1) * sizeof(int64));

	for (int j = 0; j < *n; j++)
		out[j] = DatumGetInt64(elems[j]);
	return out;
}

/*
 * An optional array of ids (candidates, exclude): *ids NULL and *n 0 when
 * the argument is NULL.
 */
static void
OptionalIds(FunctionCallInfo fcinfo, int arg, const char *what,
			const int64_t **ids, size_t *n)
{
	int			count = 0;

	*ids = NULL;
	*n = 0;
	if (arg >= PG_NARGS() || PG_ARGISNULL(arg))
		return;
	*ids = (const int64_t *) Int64Array(fcinfo, arg, what, FM_MAX_CANDIDATES, &count);
	*n = (size_t) count;
}

/* The n of a list: not negative. */
static int
ListLength(FunctionCallInfo fcinfo, int arg)
{
	int			n = PG_GETARG_INT32(arg);

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must not be negative")));
	return n;
}

static char **
TextArray(FunctionCallInfo fcinfo, int arg, const char *what, int limit,
		  int *n)
{
	Datum	   *elems = ArrayDatums(fcinfo, arg, TEXTOID, what, limit, n);
	char	  **out = palloc(Max(*n, 1) * sizeof(char *));

	for (int j = 0; j < *n; j++)
		out[j] = TextDatumGetCString(elems[j]);
	return out;
}

/*
 * Adds the context features of a jsonb object, named as training names
 * them (FmFeatureName): a string value v of key k is the feature "k=v"; a
 * number is the real-valued feature "k" when the model has one by that
 * name, else "k=<number>"; a boolean is "k=true"/"k=false", as a boolean
 * column is in training; null is no feature.
 */
static void
AddContext(FmModel m, FmRep *rep, Jsonb *jb)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	int			cap = 8;
	int			n = 0;
	const char **names = palloc(cap * sizeof(char *));
	float	   *vals = palloc(cap * sizeof(float));

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("context must be a jsonb object"),
				 errhint("Pass context like '{\"daypart\": \"evening\", \"temperature\": 21.5}'.")));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *name = NULL;
		float		x = 1.0f;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE || key == NULL)
			continue;
		if (v.type == jbvBinary)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("context values must be strings, numbers or booleans")));
		switch (v.type)
		{
			case jbvString:
				name = FmrecFeatureName(key, v.val.string.val, v.val.string.len);
				break;
			case jbvBool:
				name = FmrecFeatureName(key, FmBoolText(v.val.boolean),
								   strlen(FmBoolText(v.val.boolean)));
				break;
			case jbvNumeric:
				if (FmModelHasFeatures(m) && FmFeatDictGet(&m->cdict, key, strlen(key)) >= 0)
				{
					double		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																	   NumericGetDatum(v.val.numeric)));

					if (!FmFitsFloat(d))
						ereport(ERROR,
								(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
								 errmsg("context value of \"%s\" is out of range", key),
								 errdetail("Real-valued features are real (float4) numbers, within 3.4e38 either side of zero.")));
					name = key;
					x = (float) d;
				}
				else
				{
					char	   *txt = DatumGetCString(DirectFunctionCall1(numeric_out,
																		  NumericGetDatum(v.val.numeric)));

					name = FmrecFeatureName(key, txt, strlen(txt));
				}
				break;
			default:
				break;
		}
		if (name == NULL)
			continue;
		if (n == cap)
		{
			cap *= 2;
			names = repalloc(names, cap * sizeof(char *));
			vals = repalloc(vals, cap * sizeof(float));
		}
		names[n] = name;
		vals[n++] = x;
	}
	FmRepAddFeatures(m, rep, 'c', names, vals, n);
}

/* The representation of a known user id, with optional context. */
static void
UserRep(FunctionCallInfo fcinfo, FmModel m, FmRep *rep, int64 user, int ctx_arg)
{
	FmRepInit(m, rep, palloc(m->k * sizeof(float)));
	FmRepAddUser(m, rep, user);
	if (ctx_arg < PG_NARGS() && !PG_ARGISNULL(ctx_arg))
		AddContext(m, rep, PG_GETARG_JSONB_P(ctx_arg));
}

static void
ReportPath(const FmRep *rep)
{
	ereport(NOTICE,
			(errmsg("fm_topn: %s", FmPathName(rep->path)),
			 (rep->used || rep->unknown) ?
			 errdetail("%u given features or items used, %u unknown to the model ignored.",
					   rep->used, rep->unknown) : 0));
}

/* (item, score) rows of a list into the result set */
static void
PutScored(ReturnSetInfo *rsinfo, const FmScored *out, int n)
{
	for (int j = 0; j < n; j++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = Int64GetDatum(out[j].item);
		values[1] = Float8GetDatum(out[j].score);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * Ranks items for rep into the result set: n at most, candidates and
 * exclusions as given.
 */
static Datum
RankInto(FunctionCallInfo fcinfo, FmModel m, const FmRep *rep, int n,
		 int cand_arg, bool exclude_seen, const int64_t *exclude, size_t n_exclude)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FmTopnQuery q = {0};
	FmScored   *out;
	int			n_out;

	q.n = n;
	q.exclude_seen = exclude_seen;
	q.exclude = exclude;
	q.n_exclude = n_exclude;
	OptionalIds(fcinfo, cand_arg, "candidates", &q.candidates, &q.n_candidates);
	out = palloc(Max(FmTopnCapacity(m, &q), 1) * sizeof(FmScored));
	if (FmTopnRep(m, rep, &q, out, &n_out) != FM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory ranking %u items", m->n_items)));
	PutScored(rsinfo, out, n_out);
	return (Datum) 0;
}

/*
 * Shared body of the per-user fm_topn forms: user, n, candidates,
 * exclude_seen, context, verbose and exclude are arguments first ..
 * first + 6 (the last three only in the forms that have them).
 */
static Datum
Topn(FunctionCallInfo fcinfo, FmModel m, int first)
{
	FmRep		rep;
	const int64_t *exclude;
	size_t		n_exclude;

	FmrecInitSrf(fcinfo);
	if (m == NULL || PG_ARGISNULL(first) || PG_ARGISNULL(first + 1))
		return (Datum) 0;
	UserRep(fcinfo, m, &rep, PG_GETARG_INT64(first), first + 4);
	if (first + 5 < PG_NARGS() && !PG_ARGISNULL(first + 5) && PG_GETARG_BOOL(first + 5))
		ReportPath(&rep);
	OptionalIds(fcinfo, first + 6, "exclude", &exclude, &n_exclude);
	return RankInto(fcinfo, m, &rep, ListLength(fcinfo, first + 1), first + 2,
					PG_ARGISNULL(first + 3) ? true : PG_GETARG_BOOL(first + 3),
					exclude, n_exclude);
}

/*
 * Folds a session into rep in steps of FmFoldInChunk items, checking for
 * interrupts between them: the work grows as items x k^2 (a session of
 * 100,000 items at k = 1024 is some 10^11 multiply-adds), and a cancel or
 * statement_timeout must stop it within a step.  The workspace is
 * palloc'd, so an ERROR out of a step leaks nothing.
 */
static void
FoldIn(FmModel m, FmRep *rep, const int64 *items, const float *ratings, int n)
{
	FmFoldIn	f;
	size_t		chunk = FmFoldInChunk(m);

	FmFoldInBegin(m, rep, 1.0, palloc(FmFoldInBytes(m)), &f);
	for (size_t start = 0; start < (size_t) n; start += chunk)
	{
		CHECK_FOR_INTERRUPTS();
		FmFoldInAdd(&f, (const int64_t *) items + start,
					ratings ? ratings + start : NULL,
					Min(chunk, (size_t) n - start));
	}
	CHECK_FOR_INTERRUPTS();
	FmFoldInFinish(&f);
}

/*
 * Shared body of the anonymous fm_topn forms: (model, n, user_features,
 * items, ratings, candidates, context, verbose, exclude).
 */
static Datum
TopnAnonymous(FunctionCallInfo fcinfo, FmModel m)
{
	FmRep		rep;
	int64	   *items = NULL;
	int			n_items = 0;

	FmrecInitSrf(fcinfo);
	if (m == NULL || PG_ARGISNULL(1))
		return (Datum) 0;
	FmRepInit(m, &rep, palloc(m->k * sizeof(float)));
	if (!PG_ARGISNULL(2))
	{
		int			nf;
		char	  **names = TextArray(fcinfo, 2, "user_features", FM_MAX_SESSION_ITEMS, &nf);

		FmRepAddFeatures(m, &rep, 'u', (const char *const *) names, NULL, nf);
	}
	if (!PG_ARGISNULL(6))
		AddContext(m, &rep, PG_GETARG_JSONB_P(6));
	if (!PG_ARGISNULL(3))
	{
		float	   *ratings = NULL;

		items = Int64Array(fcinfo, 3, "items", FM_MAX_SESSION_ITEMS, &n_items);
		if (!PG_ARGISNULL(4))
		{
			ArrayType  *arr = BoundedArray(fcinfo, 4, "ratings", FM_MAX_SESSION_ITEMS);
			Datum	   *elems;
			bool	   *nulls;
			int			nr;

			deconstruct_array(arr, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
							  &elems, &nulls, &nr);
			if (nr != n_items)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("ratings must have one entry per item"),
						 errdetail("There are %d items and %d ratings.", n_items, nr)));
			ratings = palloc(Max(nr, 1) * sizeof(float));
			for (int j = 0; j < nr; j++)
			{
				if (nulls[j] || !FmFitsFloat(DatumGetFloat8(elems[j])))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("ratings must be finite numbers"),
							 errdetail("Rating %d is %s; ratings are real (float4) numbers.",
									   j + 1, nulls[j] ? "null" :
									   float8out_internal(DatumGetFloat8(elems[j])))));
				ratings[j] = (float) DatumGetFloat8(elems[j]);
			}
		}
		if (m->nbr.off != NULL)
		{
			/* item-item models score the session's items themselves */
			rep.session = items;
			rep.n_session = n_items;
			rep.path = FM_PATH_FOLD_IN;
		}
		else
			FoldIn(m, &rep, items, ratings, n_items);
	}
	else if (!PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ratings need items")));
	if (!PG_ARGISNULL(7) && PG_GETARG_BOOL(7))
		ReportPath(&rep);
	/* the session's items are left out, and the exclusions given */
	if (PG_NARGS() > 8 && !PG_ARGISNULL(8))
	{
		int			ne;
		int64	   *more = Int64Array(fcinfo, 8, "exclude", FM_MAX_CANDIDATES, &ne);

		items = items ? repalloc(items, Max(n_items + ne, 1) * sizeof(int64)) :
			palloc(Max(ne, 1) * sizeof(int64));
		memcpy(items + n_items, more, ne * sizeof(int64));
		n_items += ne;
	}
	return RankInto(fcinfo, m, &rep, ListLength(fcinfo, 1), 5, false, items, n_items);
}

PG_FUNCTION_INFO_V1(fmrec_topn_name);
PG_FUNCTION_INFO_V1(fmrec_topn_bytes);
PG_FUNCTION_INFO_V1(fmrec_topn_default);
PG_FUNCTION_INFO_V1(fmrec_topn_anon_name);
PG_FUNCTION_INFO_V1(fmrec_topn_anon_bytes);

static FmModel
NamedModel(FunctionCallInfo fcinfo)
{
	text	   *name;

	if (PG_ARGISNULL(0))
		return NULL;
	name = PG_GETARG_TEXT_PP(0);
	return FmrecModelByName(fcinfo, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
}

static FmModel
BytesModel(FunctionCallInfo fcinfo)
{
	return PG_ARGISNULL(0) ? NULL : FmrecModelByBytes(fcinfo, PG_GETARG_DATUM(0));
}

/*
 * fm_topn(model text, user_id bigint, n int, candidates bigint[],
 *		   exclude_seen boolean, context jsonb, verbose boolean)
 *		   RETURNS TABLE(item bigint, score float8)
 */
Datum
fmrec_topn_name(PG_FUNCTION_ARGS)
{
	return Topn(fcinfo, NamedModel(fcinfo), 1);
}

/*
 * fm_topn(model bytea, user_id bigint, n int, candidates bigint[],
 *		   exclude_seen boolean, context jsonb, verbose boolean)
 *		   RETURNS TABLE(item bigint, score float8)
 */
Datum
fmrec_topn_bytes(PG_FUNCTION_ARGS)
{
	return Topn(fcinfo, BytesModel(fcinfo), 1);
}

/*
 * fm_topn(user_id bigint, n int, candidates bigint[], exclude_seen boolean)
 *		   RETURNS TABLE(item bigint, score float8)
 */
Datum
fmrec_topn_default(PG_FUNCTION_ARGS)
{
	return Topn(fcinfo, ModelFromSetting(fcinfo), 0);
}

/*
 * fm_topn(model text, n int, user_features text[], items bigint[],
 *		   ratings float8[], candidates bigint[], context jsonb,
 *		   verbose boolean) RETURNS TABLE(item bigint, score float8)
 */
Datum
fmrec_topn_anon_name(PG_FUNCTION_ARGS)
{
	return TopnAnonymous(fcinfo, NamedModel(fcinfo));
}

/*
 * fm_topn(model bytea, n int, user_features text[], items bigint[], ...)
 */
Datum
fmrec_topn_anon_bytes(PG_FUNCTION_ARGS)
{
	return TopnAnonymous(fcinfo, BytesModel(fcinfo));
}

PG_FUNCTION_INFO_V1(fmrec_predict_context_name);
PG_FUNCTION_INFO_V1(fmrec_predict_context_bytes);

static Datum
PredictContext(FunctionCallInfo fcinfo, FmModel m)
{
	FmRep		rep;

	if (m == NULL || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	UserRep(fcinfo, m, &rep, PG_GETARG_INT64(1), 3);
	PG_RETURN_FLOAT8(FmModelOutput(m, FmRepScore(m, &rep,
												 FmModelItemIndex(m, PG_GETARG_INT64(2)))));
}

/*
 * fm_predict(model text, user_id bigint, item_id bigint, context jsonb)
 */
Datum
fmrec_predict_context_name(PG_FUNCTION_ARGS)
{
	return PredictContext(fcinfo, NamedModel(fcinfo));
}

/*
 * fm_predict(model bytea, user_id bigint, item_id bigint, context jsonb)
 */
Datum
fmrec_predict_context_bytes(PG_FUNCTION_ARGS)
{
	return PredictContext(fcinfo, BytesModel(fcinfo));
}

/* What model bytes hold, as fm_model_info shows it. */
static Datum
ModelInfo(FmModel m, const bytea *raw)
{
	char	   *json;

	json = psprintf("{\"format_version\": %d, \"task\": \"%s\", \"factors\": %d, "
					"\"global_bias\": %s, "
					"\"users\": %u, \"items\": %u, \"seen\": " UINT64_FORMAT ", "
					"\"memory_bytes\": " UINT64_FORMAT ", \"neighbors\": " UINT64_FORMAT ", "
					"\"hyperparams\": %s, \"metrics\": %s}",
					FmModelFormat((const uint8_t *) VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw)),
					FmTaskName(m->task), m->k, float8out_internal(m->w0),
					m->n_users, m->n_items, (uint64) m->seen_off[m->n_users],
					(uint64) m->mem_bytes, (uint64) m->n_nbr,
					FmrecParamsJson(&m->params, false), FmrecMetricsJson(m, NULL));
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

PG_FUNCTION_INFO_V1(fmrec_model_info);
PG_FUNCTION_INFO_V1(fmrec_model_info_name);

/*
 * fm_model_info(model bytea) RETURNS jsonb
 */
Datum
fmrec_model_info(PG_FUNCTION_ARGS)
{
	FmModel		m = FmrecModelByBytes(fcinfo, PG_GETARG_DATUM(0));

	return ModelInfo(m, PG_GETARG_BYTEA_PP(0));
}

/*
 * fm_model_info(model text) RETURNS jsonb: the served version of a model
 * the caller may serve, by name.
 */
Datum
fmrec_model_info_name(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		version;
	bytea	   *raw;
	FmModel		m;
	Datum		info;

	if (!FmrecModelVersion(name, &version))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name)));
	raw = FmrecModelBytes(name, version);
	if (raw == NULL)
		elog(ERROR, "model \"%s\" has no bytes", name);
	m = FmrecDecode(VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw));
	info = ModelInfo(m, raw);
	FmModelFree(m);
	return info;
}

/* most users one fm_recommend call takes as an array */
#define FMREC_MAX_BATCH_USERS 10000000

/* frees a batch (and stops its threads) on error; NULL once freed */
static void
FreeBatch(void *arg)
{
	FmBatch    *b = arg;

	FmBatchFree(*b);
	*b = NULL;
}

/*
 * Shared body of fm_recommend: (model, n, users, candidates, exclude,
 * exclude_seen, threads).  Users are taken in blocks (FmBatchBlock); one
 * block is scored by one sgemm and its lists picked on all threads, with
 * an interrupt check between blocks.  Every list is the one fm_topn
 * returns for that user with the same candidates and exclusions.
 */
static Datum
Recommend(FunctionCallInfo fcinfo, FmModel m)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FmTopnQuery q = {0};
	const int64 *users;
	int			n_users;
	int			threads = fmrec_threads;
	FmBatch    *b = palloc0(sizeof(FmBatch));
	FmScored   *out[2];
	int		   *n_out[2];
	size_t		block;
	size_t		cap;
	FmStatus	st;

	FmrecInitSrf(fcinfo);
	if (m == NULL || PG_ARGISNULL(1))
		return (Datum) 0;
	q.n = ListLength(fcinfo, 1);
	if (PG_ARGISNULL(2))
	{
		users = (const int64 *) m->user_ids;
		n_users = (int) m->n_users;
	}
	else
		users = Int64Array(fcinfo, 2, "users", FMREC_MAX_BATCH_USERS, &n_users);
	OptionalIds(fcinfo, 3, "candidates", &q.candidates, &q.n_candidates);
	OptionalIds(fcinfo, 4, "exclude", &q.exclude, &q.n_exclude);
	q.exclude_seen = PG_ARGISNULL(5) ? true : PG_GETARG_BOOL(5);
	if (!PG_ARGISNULL(6))
	{
		threads = PG_GETARG_INT32(6);
		if (threads < 1 || threads > FM_MAX_THREADS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("threads must be between 1 and %d", FM_MAX_THREADS)));
	}
	if (FmrecOverMemory(FmBatchMemory(m, &q, threads)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("fm_recommend would need about %s",
						FmrecPrettySize(FmBatchMemory(m, &q, threads))),
				 errdetail("The limit is fmrec.max_training_memory, %s.", FmrecMemoryLimit()),
				 errhint("Ask for fewer items per user, or pass fewer candidates.")));
	FmrecRegisterFree(CurrentMemoryContext, FreeBatch, b);
	st = FmBatchCreate(m, &q, threads, b);
	if (st != FM_OK)
		FmrecReport(st, "could not set up the batch");
	block = FmBatchBlock(*b);
	cap = FmBatchCapacity(*b);
	for (int j = 0; j < 2; j++)
	{
		out[j] = palloc(Max(block * cap, 1) * sizeof(FmScored));
		n_out[j] = palloc(block * sizeof(int));
	}

	/*
	 * Two steps in flight: while the workers rank block i + 1, this thread
	 * writes block i's rows (then joins them in FmBatchCollect).
	 */
	for (size_t start = 0, cur = 0; start < (size_t) n_users; start += block, cur ^= 1)
	{
		size_t		count = Min(block, (size_t) n_users - start);
		size_t		next = start + block;

		CHECK_FOR_INTERRUPTS();
		if (start == 0)
			FmBatchSubmit(*b, (const int64_t *) users, count, out[cur], n_out[cur]);
		if ((st = FmBatchCollect(*b)) != FM_OK)
			FmrecReport(st, "could not rank a block of users");
		if (next < (size_t) n_users)
			FmBatchSubmit(*b, (const int64_t *) users + next,
						  Min(block, (size_t) n_users - next), out[cur ^ 1], n_out[cur ^ 1]);
		for (size_t j = 0; j < count; j++)
			for (int r = 0; r < n_out[cur][j]; r++)
			{
				Datum		values[4];
				bool		nulls[4] = {false, false, false, false};

				values[0] = Int64GetDatum(users[start + j]);
				values[1] = Int32GetDatum(r + 1);
				values[2] = Int64GetDatum(out[cur][j * cap + r].item);
				values[3] = Float8GetDatum(out[cur][j * cap + r].score);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
	}
	FreeBatch(b);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fmrec_recommend_name);
PG_FUNCTION_INFO_V1(fmrec_recommend_bytes);

/*
 * fm_recommend(model text, n int, users bigint[], candidates bigint[],
 *				exclude bigint[], exclude_seen boolean, threads int)
 *				RETURNS TABLE(user_id bigint, rank int, item bigint, score float8)
 */
Datum
fmrec_recommend_name(PG_FUNCTION_ARGS)
{
	return Recommend(fcinfo, NamedModel(fcinfo));
}

/*
 * fm_recommend(model bytea, n int, ...), as for a name
 */
Datum
fmrec_recommend_bytes(PG_FUNCTION_ARGS)
{
	return Recommend(fcinfo, BytesModel(fcinfo));
}

/*
 * Shared body of fm_similar_items: (model, item or items, n, candidates,
 * exclude, include_query); one item is a set of one.
 */
static Datum
Similar(FunctionCallInfo fcinfo, FmModel m, bool set)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FmSimilarQuery q = {0};
	int64		one;
	FmScored   *out;
	int			n_out;
	FmTopnQuery cap = {0};

	FmrecInitSrf(fcinfo);
	if (m == NULL || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return (Datum) 0;
	if (set)
	{
		int			ni;

		q.items = Int64Array(fcinfo, 1, "items", FM_MAX_SESSION_ITEMS, &ni);
		q.n_items = ni;
	}
	else
	{
		one = PG_GETARG_INT64(1);
		q.items = &one;
		q.n_items = 1;
	}
	q.n = ListLength(fcinfo, 2);
	OptionalIds(fcinfo, 3, "candidates", &q.candidates, &q.n_candidates);
	OptionalIds(fcinfo, 4, "exclude", &q.exclude, &q.n_exclude);
	q.include_query = !PG_ARGISNULL(5) && PG_GETARG_BOOL(5);
	cap.n = q.n;
	cap.candidates = q.candidates;
	cap.n_candidates = q.n_candidates;
	out = palloc(Max(FmTopnCapacity(m, &cap), 1) * sizeof(FmScored));
	if (FmSimilarItems(m, &q, out, &n_out) != FM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory ranking %u items", m->n_items)));
	PutScored(rsinfo, out, n_out);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fmrec_similar_name);
PG_FUNCTION_INFO_V1(fmrec_similar_bytes);
PG_FUNCTION_INFO_V1(fmrec_similar_set_name);
PG_FUNCTION_INFO_V1(fmrec_similar_set_bytes);

/*
 * fm_similar_items(model text, item bigint, n int, candidates bigint[],
 *					exclude bigint[], include_query boolean)
 *					RETURNS TABLE(item bigint, similarity float8)
 */
Datum
fmrec_similar_name(PG_FUNCTION_ARGS)
{
	return Similar(fcinfo, NamedModel(fcinfo), false);
}

/* fm_similar_items(model bytea, item bigint, ...) */
Datum
fmrec_similar_bytes(PG_FUNCTION_ARGS)
{
	return Similar(fcinfo, BytesModel(fcinfo), false);
}

/* fm_similar_items(model text, items bigint[], ...) */
Datum
fmrec_similar_set_name(PG_FUNCTION_ARGS)
{
	return Similar(fcinfo, NamedModel(fcinfo), true);
}

/* fm_similar_items(model bytea, items bigint[], ...) */
Datum
fmrec_similar_set_bytes(PG_FUNCTION_ARGS)
{
	return Similar(fcinfo, BytesModel(fcinfo), true);
}

/*
 * Shared body of fm_item_factors and fm_user_factors: (id, bias, factors)
 * of every item or user, the composite representation scoring uses (ids
 * plus attributes), so <p_u, q_i> + w0 + b_u + b_i is fm_predict's raw
 * score.
 */
static Datum
Factors(FunctionCallInfo fcinfo, FmModel m, bool items)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint32_t	n;
	const int64_t *ids;
	const float *vec;
	const float *bias;
	Datum	   *elems;

	FmrecInitSrf(fcinfo);
	if (m == NULL)
		return (Datum) 0;
	if (m->nbr.off != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("an item_cosine model has no factors"),
				 errhint("Its item-item similarities are served by fm_similar_items.")));
	n = items ? m->n_items : m->n_users;
	ids = items ? m->item_ids : m->user_ids;
	vec = items ? m->qi : m->pu;
	bias = items ? m->bi : m->bu;
	elems = palloc(m->k * sizeof(Datum));
	for (uint32_t e = 0; e < n; e++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		if ((e & 0x3FF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int f = 0; f < m->k; f++)
			elems[f] = Float4GetDatum(vec[(size_t) e * m->k + f]);
		values[0] = Int64GetDatum(ids[e]);
		values[1] = Float8GetDatum(bias[e]);
		values[2] = PointerGetDatum(construct_array(elems, m->k, FLOAT4OID, sizeof(float4),
													true, TYPALIGN_INT));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fmrec_item_factors);
PG_FUNCTION_INFO_V1(fmrec_user_factors);

/*
 * fm_item_factors(model text) RETURNS TABLE(item_id bigint, bias float8,
 *											 factors real[])
 */
Datum
fmrec_item_factors(PG_FUNCTION_ARGS)
{
	return Factors(fcinfo, NamedModel(fcinfo), true);
}

/*
 * fm_user_factors(model text) RETURNS TABLE(user_id bigint, bias float8,
 *											 factors real[])
 */
Datum
fmrec_user_factors(PG_FUNCTION_ARGS)
{
	return Factors(fcinfo, NamedModel(fcinfo), false);
}

PG_FUNCTION_INFO_V1(fmrec_predict_label_name);
PG_FUNCTION_INFO_V1(fmrec_predict_label_bytes);

/* 1 when a binary model's probability is at least threshold, else 0. */
static Datum
PredictLabel(FunctionCallInfo fcinfo, FmModel m)
{
	double		threshold = PG_GETARG_FLOAT8(3);

	if (m->task != FM_TASK_BINARY)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("fm_predict_label needs a binary model"),
				 errdetail("This model's task is %s.", FmTaskName(m->task)),
				 errhint("Use fm_predict for a rating or a preference score.")));
	if (!(threshold >= 0.0 && threshold <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("threshold must be between 0 and 1")));
	PG_RETURN_INT32(FmModelPredict(m, PG_GETARG_INT64(1), PG_GETARG_INT64(2)) >= threshold ? 1 : 0);
}

/*
 * fm_predict_label(model text, user_id bigint, item_id bigint,
 *					threshold float8 DEFAULT 0.5) RETURNS integer
 */
Datum
fmrec_predict_label_name(PG_FUNCTION_ARGS)
{
	return PredictLabel(fcinfo, NamedModel(fcinfo));
}

/* fm_predict_label(model bytea, ...) */
Datum
fmrec_predict_label_bytes(PG_FUNCTION_ARGS)
{
	return PredictLabel(fcinfo, BytesModel(fcinfo));
}
