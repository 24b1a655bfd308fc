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

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "utils/lsyscache.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "fmrec.h"

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
 * One progress NOTICE per epoch (the solver's unit: epoch, iteration or
 * pass), with the validation metric when there is
 * one.
 */
static void
Notice(const FmEpochStats *st, const FmParamsData *p, const char *unit, double secs)
{
	if (p->task == FM_TASK_IMPLICIT)
		ereport(NOTICE,
				(errmsg("%s %d/%d: train loss %.4f, %.3f s",
						unit, st->epoch, p->epochs, st->train_loss, secs)));
	else if (p->task == FM_TASK_REGRESSION)
	{
		if (isnan(st->valid_rmse))
			ereport(NOTICE,
					(errmsg("%s %d/%d: train rmse %.4f, %.3f s",
							unit, st->epoch, p->epochs, st->train_loss, secs)));
		else
			ereport(NOTICE,
					(errmsg("%s %d/%d: train rmse %.4f, validation rmse %.4f%s, %.3f s",
							unit, st->epoch, p->epochs, st->train_loss, st->valid_rmse,
							st->improved ? " (best)" : "", secs)));
	}
	else
	{
		if (isnan(st->valid_logloss))
			ereport(NOTICE,
					(errmsg("%s %d/%d: train log loss %.4f, %.3f s",
							unit, st->epoch, p->epochs, st->train_loss, secs)));
		else
			ereport(NOTICE,
					(errmsg("%s %d/%d: train log loss %.4f, validation auc %.4f, log loss %.4f%s, %.3f s",
							unit, st->epoch, p->epochs, st->train_loss, st->valid_auc,
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
	return FmrecTrainDatasetFrom(ds, opts, NULL, seconds);
}

/*
 * The implicit task's regularization, when reg_factors is not given.
 *
 * Implicit ALS is sensitive to reg_factors in a way that depends on the
 * data: 0.3 is best on MovieLens (ml-latest-small, 165 rows per user),
 * while on planted choices with a strong taste 1 is, and gets 9% more
 * NDCG@10 (README, Planted data).  So the default is chosen per training,
 * on the training rows only: a seeded 10% of the pairs is held out, models
 * are trained on the rest (as many iterations as the training) with values
 * along a grid, and the value whose lists score the best NDCG@10 on the
 * held-out pairs (fm_evaluate's protocol) trains on all rows.
 * Fewer than 20 users to evaluate, or too little memory for a second copy
 * of the rows, keep the fixed default.  Deterministic like training: the
 * hold-out is a hash of (seed, user, item).
 */
#define AUTO_REG_FRACTION	0.1
#define AUTO_REG_MIN_USERS	20
#define AUTO_REG_START		2
static const double auto_reg_grid[] = {0.03, 0.1, 0.3, 1.0, 3.0, 10.0};

/* NDCG@10 on hold of a model trained on sub with reg_factors reg. */
static double
HoldOutNdcg(const FmDatasetData *sub, const FmRatingsData *hold,
			const FmrecOptionsData *opts, double reg, uint64 *users)
{
	MemoryContext one = AllocSetContextCreate(CurrentMemoryContext,
											  "fmrec regularization candidate",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(one);
	FmrecOptionsData c = *opts;
	FmEvalOptions o = {.k = 10, .threshold = -INFINITY};
	FmEvalMetrics mm;
	FmEvalMetrics pop;
	FmModel		m;
	double		secs;

	c.params.reg_factors = reg;
	c.params.store_seen = true;
	c.set |= FM_SET_REG_FACTORS;
	c.quiet = true;
	m = FmrecTrainDatasetFrom(sub, &c, NULL, &secs);
	FmrecEvaluate(m, hold, &o, &mm, &pop);
	*users = mm.users;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(one);
	return mm.users > 0 ? mm.ndcg : 0.0;
}

/*
 * The search: from the default (0.3), one step up the grid and, when that
 * is no better, one step down; then on in the better direction while each
 * step improves.  Usually three or four trainings on 90% of the rows.
 */
static double
ChooseImplicitReg(const FmDatasetData *ds, const FmrecOptionsData *opts)
{
	MemoryContext cxt;
	MemoryContext old;
	FmRatings	keep;
	FmRatings	hold;
	FmDataset	sub;
	FmStatus	st;
	double		ndcg[lengthof(auto_reg_grid)];
	bool		done[lengthof(auto_reg_grid)] = {false};
	int			cur = AUTO_REG_START;
	int			dir = 1;
	uint64		users = 0;
	double		best;
	StringInfoData report;

	if (FmrecOverMemory(2.0 * FmDatasetMemory(ds) + FmTrainMemory(ds, &opts->params)))
		return opts->params.reg_factors;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fmrec regularization",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	keep = FmrecNewRatings(cxt);
	hold = FmrecNewRatings(cxt);
	st = FmDatasetSplitRatings(ds, (uint64) opts->params.seed, AUTO_REG_FRACTION, keep, hold);
	FmrecReport(st, "Failed to hold out pairs for choosing reg_factors");
	sub = FmrecBuildDataset(keep, NULL, NULL);

	ndcg[cur] = HoldOutNdcg(sub, hold, opts, auto_reg_grid[cur], &users);
	done[cur] = true;
	if (users >= AUTO_REG_MIN_USERS)
	{
		for (;;)
		{
			int			next = cur + dir;

			if (next >= 0 && next < (int) lengthof(auto_reg_grid) && !done[next])
			{
				ndcg[next] = HoldOutNdcg(sub, hold, opts, auto_reg_grid[next], &users);
				done[next] = true;
				if (ndcg[next] > ndcg[cur])
				{
					cur = next;
					continue;
				}
			}
			/* no better this way: the other way once, from the start only */
			if (dir == 1 && cur == AUTO_REG_START)
			{
				dir = -1;
				continue;
			}
			break;
		}
	}
	MemoryContextSwitchTo(old);
	best = users >= AUTO_REG_MIN_USERS ? auto_reg_grid[cur] : opts->params.reg_factors;
	if (!opts->quiet)
	{
		initStringInfo(&report);
		for (size_t g = 0; g < lengthof(auto_reg_grid); g++)
			if (done[g])
				appendStringInfo(&report, "%s%g: %.4f", report.len ? ", " : "",
								 auto_reg_grid[g], ndcg[g]);
		if (users < AUTO_REG_MIN_USERS)
			ereport(NOTICE,
					(errmsg("reg_factors %g: the hold-out has " UINT64_FORMAT " users to evaluate, fewer than %d to choose by",
							best, users, AUTO_REG_MIN_USERS)));
		else
			ereport(NOTICE,
					(errmsg("reg_factors %g, chosen by NDCG@10 on a hold-out of %d%% of the pairs (%s)",
							best, (int) (AUTO_REG_FRACTION * 100), report.data)));
	}
	MemoryContextDelete(cxt);
	return best;
}

/* FmrecTrainDataset, warm-started from a model when warm is not NULL. */
FmModel
FmrecTrainDatasetFrom(const FmDatasetData *ds, const FmrecOptionsData *opts,
					  const FmModelData *warm, double *seconds)
{
	FmTrainer	t;
	FmModel		m;
	FmStatus	st;
	char		err[FM_ERRLEN];
	double		t0 = FmrecSeconds();
	double		epoch_start = t0;
	double		need;
	const char *unit = FmSolverUnit(opts->params.solver, opts->params.task,
									FmDatasetHasFeatures(ds));
	int			every = opts->params.epochs > 30 ? opts->params.epochs / 20 : 1;
	const FmEpochStats *epoch;
	FmrecOptionsData chosen;

	FmrecReport(FmParamsCheck(&opts->params, err, sizeof(err)), err);
	if (warm == NULL && opts->params.task == FM_TASK_IMPLICIT &&
		opts->params.solver == FM_SOLVER_ALS && !(opts->set & FM_SET_REG_FACTORS) &&
		!FmDatasetHasFeatures(ds))
	{
		chosen = *opts;
		chosen.params.reg_factors = ChooseImplicitReg(ds, opts);
		chosen.set |= FM_SET_REG_FACTORS;
		opts = &chosen;
	}
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
	st = FmTrainerCreateFrom(ds, &opts->params, warm, &t, err, sizeof(err));
	FmrecReport(st, err);
	FmrecRegisterFree(CurrentMemoryContext, FreeTrainer, t);
	if (!opts->quiet)
		ereport(NOTICE,
				(errmsg("training on %zu rows: %u users, %u items%s, solver %s, task %s, %d factors, up to %d %ss, %d thread%s",
						ds->n_rows, ds->n_users, ds->n_items,
						FmDatasetHasFeatures(ds) ? psprintf(", %u attributes and context features",
															ds->ufeat.n + ds->ifeat.n + ds->cfeat.n) : "",
						FmSolverName(opts->params.solver), FmTaskName(opts->params.task),
						opts->params.factors, opts->params.epochs, unit,
						opts->params.threads, opts->params.threads == 1 ? "" : "s")));
	for (;;)
	{
		/* between steps no worker runs: safe to ERROR out of here */
		CHECK_FOR_INTERRUPTS();
		st = FmTrainerStep(t, err, sizeof(err));
		if (st == FM_RUNNING)
			continue;
		if (st == FM_DONE)
			break;
		if (st == FM_ERR_DIVERGED)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s", err),
					 errdetail("The training loss exploded or the parameters became infinite or NaN; no model was stored."),
					 opts->params.solver == FM_SOLVER_SGD ?
					 errhint("Lower learning_rate or raise the regularization.") :
					 errhint("Raise reg_linear and reg_factors, or lower init_stdev.")));
		FmrecReport(st, err);
		epoch = FmTrainerEpoch(t);
		/* every epoch of the first ten, then some 20 more, and the last */
		if (!opts->quiet &&
			(epoch->epoch <= 10 || epoch->epoch % every == 0 ||
			 epoch->epoch == opts->params.epochs))
			Notice(epoch, &opts->params, unit, FmrecSeconds() - epoch_start);
		/* what another session sees of this one in pg_stat_activity */
		pgstat_report_activity(STATE_RUNNING,
							   psprintf("fmrec: %s %d/%d, train loss %.4f, %.1f s | %s",
										unit, epoch->epoch, opts->params.epochs,
										epoch->train_loss, FmrecSeconds() - t0,
										debug_query_string ? debug_query_string : ""));
		epoch_start = FmrecSeconds();
	}
	st = FmTrainerFinish(t, &m);
	FmrecReport(st, "out of memory building the model");
	FmrecRegisterFree(CurrentMemoryContext, FreeModel, m);
	*seconds = FmrecSeconds() - t0;
	if (debug_query_string)
		pgstat_report_activity(STATE_RUNNING, debug_query_string);
	if (!opts->quiet)
		ereport(NOTICE,
				(m->info.epochs_run < (uint32) opts->params.epochs ?
				 errmsg("trained in %.2f s: stopped early after %s %u, kept %s %u",
						*seconds, unit, m->info.epochs_run, unit, m->info.best_epoch) :
				 errmsg("trained in %.2f s: %u %ss", *seconds, m->info.epochs_run, unit)));
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
	double		t0 = FmrecSeconds();
	FmrecTimingData timing = {0};
	TupleDesc	tupdesc;
	Datum		values[12];
	bool		nulls[12] = {false};
	HeapTuple	tuple;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", PG_ARGISNULL(0) ? "model name" : "ratings source")));
	FmrecCheckWritable("fm_train");
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
	FmrecLoadRatings(source, ratings, opts.params.task == FM_TASK_IMPLICIT, &opts.cols);
	users = FmrecNewSide(cxt, opts.user_features);
	items = FmrecNewSide(cxt, opts.item_features);
	timing.load = FmrecSeconds() - t0;
	ds = FmrecBuildDataset(ratings, users, items);
	/* the dataset has what it needs */
	FmRatingsFree(ratings);
	if (users)
		FmSideFree(users);
	if (items)
		FmSideFree(items);

	m = FmrecTrainDataset(ds, &opts, &timing.train);
	bytes = FmrecEncodeModel(m);
	timing.total = FmrecSeconds() - t0;
	FmrecStoreModel(name, m, bytes, &timing);

	MemoryContextSwitchTo(old);
	values[0] = CStringGetTextDatum(name);
	values[1] = Int64GetDatum((int64) m->info.rows);
	values[2] = Int64GetDatum((int64) m->n_users);
	values[3] = Int64GetDatum((int64) m->n_items);
	values[4] = Int32GetDatum((int32) m->info.epochs_run);
	values[5] = Int32GetDatum((int32) m->info.best_epoch);
	values[6] = FmrecRounded(m->info.train_loss, 6);
	values[7] = FmrecRounded(m->info.valid_rmse, 6);
	values[8] = FmrecRounded(m->info.valid_auc, 6);
	values[9] = FmrecRounded(m->info.valid_logloss, 6);
	for (int c = 7; c <= 9; c++)
		nulls[c] = isnan(DatumGetFloat8(values[c]));
	values[10] = FmrecRounded(timing.total, 3);
	values[11] = Int64GetDatum((int64) VARSIZE(bytes) - VARHDRSZ);
	tuple = heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls);
	MemoryContextDelete(cxt);
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

/*
 * Appends count of the rows of r, seeded (FmRatingsSample), to dst, in
 * their order.
 */
static void
SampleRows(const FmRatingsData *r, uint64 count, uint64 seed, FmRatings dst)
{
	size_t	   *pick = palloc_extended((Min(count, (uint64) r->n) + 1) * sizeof(size_t),
									   MCXT_ALLOC_HUGE);
	size_t		n = FmRatingsSample(r, (size_t) count, seed, pick);

	for (size_t j = 0; j < n; j++)
		FmrecAddRating(dst, r->user[pick[j]], r->item[pick[j]], r->rating[pick[j]],
					   r->weight ? r->weight[pick[j]] : 1.0, j + 1);
	pfree(pick);
}

/*
 * The body of fm_update and fm_refresh: trains the model name, warm, on
 * the rows of source plus a replay sample of replay_rows rows of replay
 * (NULL: none), and stores the result as the model's next version.  The
 * model's row is locked first, so concurrent updates of one model take
 * turns.  Fills the result record's values (FmrecUpdateColumns of them).
 */
void
FmrecUpdateModel(const char *name, const char *source, const char *replay,
				 int64 replay_rows, Jsonb *options, Datum *values, bool *nulls)
{
	MemoryContext cxt;
	MemoryContext old;
	int64		version;
	bytea	   *raw;
	FmModel		prev;
	FmrecOptionsData opts;
	FmrecColumnsData replay_cols;
	FmRatings	ratings;
	FmDataset	ds;
	FmModel		upd;
	FmModel		m;
	uint32_t   *new_counts;
	size_t		n_new;
	size_t		n_replay = 0;
	bytea	   *bytes;
	double		t0 = FmrecSeconds();
	FmrecTimingData timing = {0};
	FmStatus	st;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "fmrec update",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	version = FmrecLockOwnedModel(name);
	raw = FmrecModelBytes(name, version);
	if (raw == NULL)
		elog(ERROR, "model \"%s\" has no bytes", name);
	prev = FmrecDecode(VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw));
	FmrecRegisterFree(cxt, FreeModel, prev);
	if (FmModelHasFeatures(prev))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fm_update takes models of user and item ids only"),
				 errdetail("Model \"%s\" has attributes or context.", name),
				 errhint("Retrain it with fm_train.")));
	if (prev->task == FM_TASK_IMPLICIT && prev->params.solver != FM_SOLVER_SGD)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fm_update cannot update an implicit model trained with %s",
						FmSolverName(prev->params.solver)),
				 errdetail("Updates train with sgd (BPR for choices), whose scores are not %s's.",
						   FmSolverName(prev->params.solver)),
				 errhint("Retrain it with fm_train, or train it with solver => 'sgd' to update it.")));
	FmrecOptionsForUpdate(&prev->params, options, &opts);
	/* the replayed rows are read as the new ones, without their parameters */
	replay_cols = opts.cols;
	replay_cols.params = NULL;
	replay_cols.nparams = 0;

	ratings = FmrecNewRatings(cxt);
	FmrecLoadRatings(source, ratings, prev->task == FM_TASK_IMPLICIT, &opts.cols);
	n_new = ratings->n;
	if (replay != NULL && replay_rows != 0)
	{
		FmRatings	all = FmrecNewRatings(cxt);
		uint64		want = replay_rows < 0 ? (uint64) n_new * FMREC_UPDATE_REPLAY : (uint64) replay_rows;
		char	   *sample = FmrecSampleQuery(replay, (double) want, opts.params.seed);

		/* a table is sampled where it lies; anything else is read whole */
		FmrecLoadRatings(sample ? sample : replay, all, prev->task == FM_TASK_IMPLICIT, &replay_cols);
		SampleRows(all, want, opts.params.seed, ratings);
		n_replay = ratings->n - n_new;
		FmRatingsFree(all);
	}
	timing.load = FmrecSeconds() - t0;
	ds = FmrecBuildDataset(ratings, NULL, NULL);
	upd = FmrecTrainDatasetFrom(ds, &opts, prev, &timing.train);
	/* the new rows per item of upd, for the popularity counts */
	new_counts = palloc0(((size_t) upd->n_items + 1) * sizeof(uint32_t));
	for (size_t j = 0; j < n_new; j++)
	{
		int64		i = FmModelItemIndex(upd, ratings->item[j]);

		if (i >= 0 && new_counts[i] < PG_UINT32_MAX)
			new_counts[i]++;
	}
	st = FmModelMergeUpdate(prev, upd, new_counts, n_new, &m);
	FmrecReport(st, "out of memory merging the update into the model");
	FmrecRegisterFree(cxt, FreeModel, m);
	bytes = FmrecEncodeModel(m);
	timing.total = FmrecSeconds() - t0;
	version = FmrecStoreModel(name, m, bytes, &timing);
	MemoryContextSwitchTo(old);

	values[0] = CStringGetTextDatum(name);
	values[1] = Int64GetDatum(version);
	values[2] = Int64GetDatum((int64) n_new);
	values[3] = Int64GetDatum((int64) n_replay);
	values[4] = Int64GetDatum((int64) m->n_users);
	values[5] = Int64GetDatum((int64) m->n_items);
	values[6] = Int32GetDatum((int32) m->info.epochs_run);
	values[7] = FmrecRounded(m->info.train_loss, 6);
	values[8] = FmrecRounded(timing.total, 3);
	values[9] = Int64GetDatum((int64) VARSIZE(bytes) - VARHDRSZ);
	for (int c = 0; c < FMREC_UPDATE_COLUMNS; c++)
		nulls[c] = false;
	MemoryContextDelete(cxt);
}

PG_FUNCTION_INFO_V1(fmrec_update);

/*
 * fm_update(model text, ratings text, replay text, replay_rows bigint,
 *			 options jsonb) RETURNS record
 */
Datum
fmrec_update(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[FMREC_UPDATE_COLUMNS];
	bool		nulls[FMREC_UPDATE_COLUMNS];

	FmrecCheckWritable("fm_update");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", PG_ARGISNULL(0) ? "model name" : "ratings source")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	FmrecUpdateModel(text_to_cstring(PG_GETARG_TEXT_PP(0)),
					 text_to_cstring(PG_GETARG_TEXT_PP(1)),
					 PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
					 PG_ARGISNULL(3) ? -1 : PG_GETARG_INT64(3),
					 PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4),
					 values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}

/* A one-value query run as the caller; NULL when it returns no value. */
static char *
QueryValue(const char *sql, int nargs, Oid *types, Datum *args)
{
	char	   *result = NULL;
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, nargs, types, args, NULL, false, 1) < 0)
		elog(ERROR, "could not run \"%s\"", sql);
	if (SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (v != NULL)
			result = MemoryContextStrdup(caller, v);
	}
	SPI_finish();
	return result;
}

PG_FUNCTION_INFO_V1(fmrec_refresh);

/*
 * fm_refresh(model text, options jsonb) RETURNS record
 *
 * Trains the rows queued for an attached model (fm_attach) into it with
 * fm_update, replaying a sample of its table, and deletes them from the
 * queue, in the caller's transaction: a failed refresh leaves the rows
 * queued and the model as it was.  The model's row is locked before the
 * queue is read, so two refreshes of one model never train one row twice.
 * With nothing queued nothing is trained: version is the current one and
 * new_rows 0.
 */
Datum
fmrec_refresh(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[FMREC_UPDATE_COLUMNS];
	bool		nulls[FMREC_UPDATE_COLUMNS];
	char	   *name;
	char	   *schema;
	char	   *queue;
	char	   *attachments;
	char	   *columns;
	char	   *source;
	char	   *replay_rows;
	char	   *last;
	int64		version;
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		args[2];

	FmrecCheckWritable("fm_refresh");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	version = FmrecLockOwnedModel(name);
	schema = get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid));
	queue = quote_qualified_identifier(schema, "fm_update_queue");
	attachments = quote_qualified_identifier(schema, "fm_attachments");
	args[0] = PG_GETARG_DATUM(0);
	/* the replay: the attached table's columns, as fmrec_enqueue reads them */
	columns = QueryValue(psprintf("SELECT pg_catalog.format('SELECT %%I, %%I, %%s FROM ', "
								  "user_column, item_column, CASE WHEN rating_column IS NULL "
								  "THEN '1' ELSE pg_catalog.quote_ident(rating_column) END) "
								  "FROM %s WHERE model OPERATOR(pg_catalog.=) $1", attachments),
						 1, types, args);
	source = QueryValue(psprintf("SELECT source::pg_catalog.text FROM %s "
								 "WHERE model OPERATOR(pg_catalog.=) $1", attachments),
						1, types, args);
	if (source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" is not attached to a table", name),
				 errhint("Attach it with fm_attach('%s', 'ratings_table'), or update it with fm_update.",
						 name)));
	replay_rows = QueryValue(psprintf("SELECT replay_rows FROM %s "
									  "WHERE model OPERATOR(pg_catalog.=) $1", attachments),
							 1, types, args);
	last = QueryValue(psprintf("SELECT pg_catalog.max(id) FROM %s "
							   "WHERE model OPERATOR(pg_catalog.=) $1", queue),
					  1, types, args);
	if (last == NULL)
	{
		for (int c = 0; c < FMREC_UPDATE_COLUMNS; c++)
			nulls[c] = true;
		values[0] = CStringGetTextDatum(name);
		values[1] = Int64GetDatum(version);
		values[2] = Int64GetDatum(0);
		nulls[0] = nulls[1] = nulls[2] = false;
	}
	else
	{
		char	   *rows = psprintf("SELECT user_id, item_id, rating FROM %s "
									"WHERE model OPERATOR(pg_catalog.=) %s "
									"AND id OPERATOR(pg_catalog.<=) %s",
									queue, quote_literal_cstr(name), last);
		char	   *queued = QueryValue(psprintf("SELECT pg_catalog.count(*) FROM %s "
												 "WHERE model OPERATOR(pg_catalog.=) $1", queue),
										1, types, args);
		int64		want = replay_rows ? pg_strtoint64(replay_rows) :
			pg_strtoint64(queued) * FMREC_UPDATE_REPLAY;
		/* a sample of the table where it lies, or all of it when small */
		char	   *inner = FmrecSampleQuery(source, (double) want, (uint64) pg_strtoint64(last));

		FmrecUpdateModel(name, rows,
						 psprintf("%s(%s) r", columns,
								  inner ? inner : psprintf("SELECT * FROM %s", source)),
						 want,
						 PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
						 values, nulls);
		args[1] = Int64GetDatum(pg_strtoint64(last));
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args(psprintf("DELETE FROM %s WHERE model OPERATOR(pg_catalog.=) $1 "
										   "AND id OPERATOR(pg_catalog.<=) $2", queue),
								  2, types, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not empty the queue of model \"%s\"", name);
		SPI_finish();
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
