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

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
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

static void
InitSrf(FunctionCallInfo fcinfo)
{
#if PG_VERSION_NUM >= 160000
	InitMaterializedSRF(fcinfo, 0);
#else
	SetSingleFuncCall(fcinfo, 0);
#endif
}

/*
 * Shared body of the fm_topn forms: user, n, candidates and exclude_seen
 * are arguments first .. first + 3.
 */
static Datum
Topn(FunctionCallInfo fcinfo, FmModel m, int first)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FmTopnQuery q = {0};
	FmScored   *out;
	int			n_out;
	int64	   *cand = NULL;

	InitSrf(fcinfo);
	if (m == NULL || PG_ARGISNULL(first) || PG_ARGISNULL(first + 1))
		return (Datum) 0;
	q.user = PG_GETARG_INT64(first);
	q.n = PG_GETARG_INT32(first + 1);
	q.exclude_seen = PG_ARGISNULL(first + 3) ? true : PG_GETARG_BOOL(first + 3);
	if (q.n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must not be negative")));
	if (!PG_ARGISNULL(first + 2))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(first + 2);
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;

		deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
						  &elems, &nulls, &nelems);
		cand = palloc(Max(nelems, 1) * sizeof(int64));
		for (int j = 0; j < nelems; j++)
		{
			if (nulls[j])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("candidates must not contain nulls")));
			cand[j] = DatumGetInt64(elems[j]);
		}
		q.candidates = cand;
		q.n_candidates = nelems;
	}
	if (q.n > 0 && q.candidates == NULL && (uint32) q.n > m->n_items)
		q.n = (int) m->n_items;
	if (q.n > 0 && q.candidates != NULL && (size_t) q.n > q.n_candidates)
		q.n = (int) q.n_candidates;
	out = palloc(Max(q.n, 1) * sizeof(FmScored));
	if (FmTopn(m, &q, out, &n_out) != FM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory ranking %u items", m->n_items)));
	for (int j = 0; j < n_out; j++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = Int64GetDatum(out[j].item);
		values[1] = Float8GetDatum(out[j].score);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fmrec_topn_name);
PG_FUNCTION_INFO_V1(fmrec_topn_bytes);
PG_FUNCTION_INFO_V1(fmrec_topn_default);

/*
 * fm_topn(model text, user_id bigint, n int, candidates bigint[],
 *		   exclude_seen boolean) RETURNS TABLE(item bigint, score float8)
 */
Datum
fmrec_topn_name(PG_FUNCTION_ARGS)
{
	FmModel		m = NULL;

	if (!PG_ARGISNULL(0))
	{
		text	   *name = PG_GETARG_TEXT_PP(0);

		m = FmrecModelByName(fcinfo, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
	}
	return Topn(fcinfo, m, 1);
}

/*
 * fm_topn(model bytea, user_id bigint, n int, candidates bigint[],
 *		   exclude_seen boolean) RETURNS TABLE(item bigint, score float8)
 */
Datum
fmrec_topn_bytes(PG_FUNCTION_ARGS)
{
	FmModel		m = NULL;

	if (!PG_ARGISNULL(0))
		m = FmrecModelByBytes(fcinfo, PG_GETARG_DATUM(0));
	return Topn(fcinfo, m, 1);
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

PG_FUNCTION_INFO_V1(fmrec_model_info);

/*
 * fm_model_info(model bytea) RETURNS jsonb
 */
Datum
fmrec_model_info(PG_FUNCTION_ARGS)
{
	FmModel		m = FmrecModelByBytes(fcinfo, PG_GETARG_DATUM(0));
	char	   *json;

	json = psprintf("{\"format_version\": %d, \"task\": \"%s\", \"factors\": %d, "
					"\"users\": %u, \"items\": %u, \"seen\": " UINT64_FORMAT ", "
					"\"memory_bytes\": " UINT64_FORMAT ", "
					"\"hyperparams\": %s, \"metrics\": %s}",
					FM_FORMAT_VERSION, FmTaskName(m->task), m->k,
					m->n_users, m->n_items, (uint64) m->seen_off[m->n_users],
					(uint64) m->mem_bytes,
					FmrecParamsJson(&m->params), FmrecMetricsJson(m, NULL));
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}
