/*
 * evaluate.c
 *	  fm_evaluate(): a model's lists and scores on held-out rows, beside
 *	  the popularity baseline of its own training data.
 *
 * The test rows are read like training rows (read-only, bounded by
 * fmrec.max_training_memory); the core (src/core/evaluate.c) ranks and
 * scores them in steps of 64 users, with interrupt checks in between.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "fmrec.h"

static void
FreeEval(void *arg)
{
	FmEvalFree((FmEval) arg);
}

/*
 * The held-out metrics of m on test (fm_evaluate's protocol), ranked in
 * steps of 64 users with interrupt checks; the evaluator is freed with the
 * current memory context.  Returns whether pop has the popularity
 * baseline's metrics.  fm_evaluate, fm_tune's folds and implicit ALS's
 * choice of reg_factors all score this way.
 */
bool
FmrecEvaluate(const FmModelData *m, const FmRatingsData *test,
			  const FmEvalOptions *o, FmEvalMetrics *model, FmEvalMetrics *pop)
{
	FmEval		e;
	FmStatus	st;
	char		err[FM_ERRLEN];

	st = FmEvalCreate(m, test, o, &e, err, sizeof(err));
	if (st == FM_ERR_NOMEM)
		snprintf(err, sizeof(err), "Failed to evaluate %zu test rows", test->n);
	FmrecReport(st, err);
	FmrecRegisterFree(CurrentMemoryContext, FreeEval, e);
	do
	{
		CHECK_FOR_INTERRUPTS();
		st = FmEvalStep(e, 64);
		if (st == FM_ERR_NOMEM)
			FmrecReport(st, "Failed to rank for a test user");
	} while (st == FM_RUNNING);
	return FmEvalResults(e, model, pop);
}

static void
PutRow(ReturnSetInfo *rsinfo, const char *label, const FmEvalMetrics *r)
{
	/* in the order of fm_evaluate's columns; NaN (no such metric) is NULL */
	const double metrics[] = {r->precision, r->recall, r->ndcg, r->map, r->mrr,
		r->hit_rate, r->coverage, r->rmse, r->mae, r->auc, r->logloss, r->accuracy};
	Datum		values[3 + lengthof(metrics)];
	bool		nulls[3 + lengthof(metrics)] = {false};

	values[0] = CStringGetTextDatum(label);
	values[1] = Int64GetDatum((int64) r->users);
	values[2] = Int64GetDatum((int64) r->rows);
	for (size_t j = 0; j < lengthof(metrics); j++)
	{
		values[3 + j] = FmrecRounded(metrics[j], 6);
		nulls[3 + j] = isnan(metrics[j]);
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static Datum
Evaluate(FunctionCallInfo fcinfo, FmModel m, const char *label)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FmRatings	test;
	FmEvalOptions o;
	FmEvalMetrics model,
				pop;
	bool		has_pop;
	MemoryContext cxt;
	MemoryContext old;
	/* test rows: user, item, rating; weights and context do not score */
	FmrecColumnsData cols = {.first_three = true};

	FmrecInitSrf(fcinfo);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("test source must not be null")));
	o.k = PG_ARGISNULL(2) ? 10 : PG_GETARG_INT32(2);
	if (!PG_ARGISNULL(3))
		o.threshold = PG_GETARG_FLOAT8(3);
	else
		o.threshold = m->task == FM_TASK_IMPLICIT ? -INFINITY : m->threshold;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "fmrec evaluation",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	if (!PG_ARGISNULL(4))
		cols.params = FmrecTextArray(PG_GETARG_ARRAYTYPE_P(4), &cols.nparams);
	test = FmrecNewRatings(cxt);
	FmrecLoadRatings(text_to_cstring(PG_GETARG_TEXT_PP(1)), test, true, &cols);
	has_pop = FmrecEvaluate(m, test, &o, &model, &pop);
	MemoryContextSwitchTo(old);
	if (has_pop)
	{
		PutRow(rsinfo, label, &model);
		PutRow(rsinfo, "popularity", &pop);
	}
	else
		PutRow(rsinfo, label, &model);
	MemoryContextDelete(cxt);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fmrec_evaluate_name);
PG_FUNCTION_INFO_V1(fmrec_evaluate_bytes);

/*
 * fm_evaluate(model text, test text, k int, threshold float8, params text[])
 *		RETURNS TABLE(model text, users bigint, test_rows bigint, ...)
 */
Datum
fmrec_evaluate_name(PG_FUNCTION_ARGS)
{
	text	   *name;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	name = PG_GETARG_TEXT_PP(0);
	return Evaluate(fcinfo, FmrecModelByName(fcinfo, VARDATA_ANY(name),
											 VARSIZE_ANY_EXHDR(name)),
					text_to_cstring(name));
}

/*
 * fm_evaluate(model bytea, test text, k int, threshold float8, params text[])
 */
Datum
fmrec_evaluate_bytes(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be null")));
	return Evaluate(fcinfo, FmrecModelByBytes(fcinfo, PG_GETARG_DATUM(0)), "model");
}
