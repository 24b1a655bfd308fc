/*
 * train.c
 *	  fm_train(): read rows, train, store the model.
 *
 * All training memory lives in a private context whose reset callbacks
 * free the core's malloc'ed objects, so an ERROR or a cancel at any point
 * (they arrive only between trainer steps, on this thread) stops the
 * worker threads and frees everything.  The catalog is written last, in
 * one UPSERT: a failed, cancelled or rolled-back training leaves the
 * previous model of that name exactly as it was.
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "fmrec.h"

static double
Seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
FreeSide(void *arg)
{
	FmSideFree((FmSide) arg);
}

static void
FreeDataset(void *arg)
{
	FmDatasetFree((FmDataset) arg);
}

static void
FreeTrainer(void *arg)
{
	FmTrainerFree((FmTrainer) arg);
}

static void
FreeModel(void *arg)
{
	FmModelFree((FmModel) arg);
}

/*
 * One progress NOTICE per epoch, with the validation metric when there is
 * one.
 */
static void
Notice(const FmEpochStats *st, const FmParamsData *p, double secs)
{
	if (p->task == FM_TASK_IMPLICIT)
		ereport(NOTICE,
				(errmsg("epoch %d/%d: train loss %.4f, %.3f s",
						st->epoch, p->epochs, st->train_loss, secs)));
	else if (p->task == FM_TASK_REGRESSION)
	{
		if (isnan(st->valid_rmse))
			ereport(NOTICE,
					(errmsg("epoch %d/%d: train rmse %.4f, %.3f s",
							st->epoch, p->epochs, st->train_loss, secs)));
		else
			ereport(NOTICE,
					(errmsg("epoch %d/%d: train rmse %.4f, validation rmse %.4f%s, %.3f s",
							st->epoch, p->epochs, st->train_loss, st->valid_rmse,
							st->improved ? " (best)" : "", secs)));
	}
	else
	{
		if (isnan(st->valid_logloss))
			ereport(NOTICE,
					(errmsg("epoch %d/%d: train log loss %.4f, %.3f s",
							st->epoch, p->epochs, st->train_loss, secs)));
		else
			ereport(NOTICE,
					(errmsg("epoch %d/%d: train log loss %.4f, validation auc %.4f, log loss %.4f%s, %.3f s",
							st->epoch, p->epochs, st->train_loss, st->valid_auc,
							st->valid_logloss, st->improved ? " (best)" : "", secs)));
	}
}

/*
 * Trains on ds.  The trainer and the returned model are freed with the
 * current memory context.
 */
FmModel
FmrecTrainDataset(const FmDatasetData *ds, const FmrecOptionsData *opts,
				  double *seconds)
{
	FmTrainer	t;
	FmModel		m;
	FmStatus	st;
	char		err[FM_ERRLEN];
	double		t0 = Seconds();
	double		epoch_start = t0;
	double		need;

	FmrecReport(FmParamsCheck(&opts->params, err, sizeof(err)), err);
	need = FmDatasetMemory(ds) + FmTrainMemory(ds, &opts->params);
	if (FmrecOverMemory(need))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training would need about %s of memory", FmrecPrettySize(need)),
				 errdetail("It has %u users, %u items, %u features and %zu rows at %d factors with solver %s; fmrec.max_training_memory is %s.",
						   ds->n_users, ds->n_items,
						   ds->ufeat.n + ds->ifeat.n + ds->cfeat.n, ds->n_rows,
						   opts->params.factors, FmSolverName(opts->params.solver),
						   FmrecMemoryLimit()),
				 errhint("Use fewer factors or fewer rows, or have a superuser raise fmrec.max_training_memory.")));
	st = FmTrainerCreate(ds, &opts->params, &t, err, sizeof(err));
	FmrecReport(st, err);
	FmrecRegisterFree(CurrentMemoryContext, FreeTrainer, t);
	for (;;)
	{
		/* between steps no worker runs: safe to ERROR out of here */
		CHECK_FOR_INTERRUPTS();
		st = FmTrainerStep(t, err, sizeof(err));
		if (st == FM_RUNNING)
			continue;
		if (st == FM_DONE)
			break;
		FmrecReport(st, err);
		if (!opts->quiet)
			Notice(FmTrainerEpoch(t), &opts->params, Seconds() - epoch_start);
		epoch_start = Seconds();
	}
	st = FmTrainerFinish(t, &m);
	FmrecReport(st, "out of memory building the model");
	FmrecRegisterFree(CurrentMemoryContext, FreeModel, m);
	*seconds = Seconds() - t0;
	return m;
}

/* The model's bytes as a bytea in the current memory context. */
bytea *
FmrecEncodeModel(const FmModelData *m)
{
	uint8_t    *bytes;
	size_t		len;
	bytea	   *out;
	FmStatus	st;

	/* a varlena length would wrap past 1 GB: refuse, never store a prefix */
	st = FmModelEncode(m, (size_t) fmrec_max_model_size_kb * 1024, &bytes, &len);
	if (st == FM_ERR_LIMIT)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model of %zu bytes exceeds fmrec.max_model_size", len),
				 errdetail("The limit is %d kB; one PostgreSQL value holds at most 1 GB.",
						   fmrec_max_model_size_kb),
				 errhint("Use fewer factors, or store_seen => false to leave out the seen lists.")));
	if (st != FM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory encoding the model")));
	out = palloc_extended(VARHDRSZ + len, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (out == NULL)
	{
		free(bytes);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on a model of %zu bytes.", len)));
	}
	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), bytes, len);
	free(bytes);
	return out;
}

/* Loads user or item attributes when a source is given, else NULL. */
static FmSide
LoadSide(const char *source)
{
	FmSide		side;

	if (source == NULL)
		return NULL;
	side = palloc0(sizeof(FmSideData));
	FmSideInit(side);
	FmrecRegisterFree(CurrentMemoryContext, FreeSide, side);
	FmrecLoadSide(source, side);
	return side;
}

/* Builds the canonical dataset, freed with the current context. */
FmDataset
FmrecBuildDataset(const FmRatingsData *ratings, const FmSideData *users,
				  const FmSideData *items)
{
	FmDataset	ds = palloc0(sizeof(FmDatasetData));
	char		err[FM_ERRLEN];
	FmStatus	st = FmDatasetBuild(ds, ratings, users, items, err, sizeof(err));

	FmrecReport(st, err);
	FmrecRegisterFree(CurrentMemoryContext, FreeDataset, ds);
	return ds;
}

PG_FUNCTION_INFO_V1(fmrec_train);

/*
 * fm_train(model text, ratings text, task text, factors int, ...,
 *			user_features text, item_features text, options jsonb)
 *			RETURNS record
 *
 * Options are the arguments after the first two, matched by their
 * declared names (options.c), so this serves 0.1.0's signature too.
 */
Datum
fmrec_train(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *source;
	FmrecOptionsData opts;
	MemoryContext cxt;
	MemoryContext old;
	FmRatings	ratings;
	FmSide		users;
	FmSide		items;
	FmDataset	ds;
	FmModel		m;
	bytea	   *bytes;
	double		t0 = Seconds();
	FmrecTimingData timing;
	TupleDesc	tupdesc;
	Datum		values[12];
	bool		nulls[12] = {false};
	HeapTuple	tuple;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", PG_ARGISNULL(0) ? "model name" : "ratings source")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	FmrecCheckName(name);
	FmrecOptionsFromArgs(fcinfo, 2, &opts);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	cxt = AllocSetContextCreate(CurrentMemoryContext, "fmrec training",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	ratings = FmrecNewRatings(cxt);
	FmrecLoadRatings(source, ratings, opts.params.task == FM_TASK_IMPLICIT);
	users = LoadSide(opts.user_features);
	items = LoadSide(opts.item_features);
	timing.load = Seconds() - t0;
	ds = FmrecBuildDataset(ratings, users, items);
	/* the dataset has what it needs */
	FmRatingsFree(ratings);
	if (users)
		FmSideFree(users);
	if (items)
		FmSideFree(items);

	m = FmrecTrainDataset(ds, &opts, &timing.train);
	bytes = FmrecEncodeModel(m);
	timing.total = Seconds() - t0;
	FmrecStoreModel(name, m, bytes, &timing);

	MemoryContextSwitchTo(old);
	values[0] = CStringGetTextDatum(name);
	values[1] = Int64GetDatum((int64) m->info.rows);
	values[2] = Int64GetDatum((int64) m->n_users);
	values[3] = Int64GetDatum((int64) m->n_items);
	values[4] = Int32GetDatum((int32) m->info.epochs_run);
	values[5] = Int32GetDatum((int32) m->info.best_epoch);
	values[6] = Float8GetDatum(m->info.train_loss);
	values[7] = Float8GetDatum(m->info.valid_rmse);
	values[8] = Float8GetDatum(m->info.valid_auc);
	values[9] = Float8GetDatum(m->info.valid_logloss);
	for (int c = 7; c <= 9; c++)
		nulls[c] = isnan(DatumGetFloat8(values[c]));
	values[10] = Float8GetDatum(timing.total);
	values[11] = Int64GetDatum((int64) VARSIZE(bytes) - VARHDRSZ);
	tuple = heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls);
	MemoryContextDelete(cxt);
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}
