/*
 * tune.c
 *	  The functions behind the procedure fm_tune: a tuning session that
 *	  loads the ratings once, splits them into folds, trains and scores the
 *	  trials the search proposes (src/core/tune.c), and stores the winner.
 *
 * The procedure (sql/fmrec--0.2.0.sql) commits after every trial, so the
 * trials table shows a running search and keeps the finished trials when
 * it is cancelled.  The session therefore lives across transactions: in a
 * memory context under TopMemoryContext, found by a handle, freed by
 * fmrec_tune_close or, when the procedure fails or is cancelled, at the
 * abort of its transaction.  The core structures it holds (datasets,
 * ratings) are freed with the context by reset callbacks.
 *
 * Folds: every row of a pair goes to fold hash(seed, user, item) mod folds,
 * so a fold's test pairs were never seen by the models it scores.  With
 * folds = 1 a seeded 20% of the pairs is held out instead.
 */
#include "postgres.h"

#include <math.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "fmrec.h"

#define TUNE_MAX_FOLDS 20

typedef struct Metric
{
	const char *name;
	bool		maximize;
	size_t		offset;			/* in FmEvalMetrics */
} Metric;

static const Metric metrics[] = {
	{"rmse", false, offsetof(FmEvalMetrics, rmse)},
	{"mae", false, offsetof(FmEvalMetrics, mae)},
	{"auc", true, offsetof(FmEvalMetrics, auc)},
	{"log_loss", false, offsetof(FmEvalMetrics, logloss)},
	{"accuracy", true, offsetof(FmEvalMetrics, accuracy)},
	{"precision_at_k", true, offsetof(FmEvalMetrics, precision)},
	{"recall_at_k", true, offsetof(FmEvalMetrics, recall)},
	{"ndcg_at_k", true, offsetof(FmEvalMetrics, ndcg)},
	{"map_at_k", true, offsetof(FmEvalMetrics, map)},
	{"mrr", true, offsetof(FmEvalMetrics, mrr)},
	{"hit_rate_at_k", true, offsetof(FmEvalMetrics, hit_rate)},
	{"coverage_at_k", true, offsetof(FmEvalMetrics, coverage)},
};

typedef struct Trial
{
	char	   *options;		/* the trial's options, jsonb text */
	double	   *x;				/* its point in the space */
	double		mean;			/* NaN until it finished */
	double		sd;
	double	   *fold;			/* per fold; NaN where it did not run */
	bool		pruned;			/* stopped after fewer folds */
} Trial;

typedef struct TuneSession
{
	int			handle;
	MemoryContext cxt;
	FmrecOptionsData base;		/* the fixed options */
	Jsonb	   *base_json;
	FmTuneSpaceData space;
	char	  **list_json;		/* per parameter: its values' JSON texts */
	FmTuneStrategy strategy;
	int			trials;
	int			folds;
	int			k;
	bool		prune;			/* median stopping between folds */
	uint64		seed;
	const Metric *metric;
	FmDataset	full;
	FmDataset  *train;			/* per fold */
	FmRatings  *test;
	Trial	   *done;
	int			n_done;
	struct TuneSession *next;
} TuneSession;

static TuneSession *sessions = NULL;
static int	next_handle = 1;
static bool callback_registered = false;

static void
CloseSession(TuneSession *s)
{
	TuneSession **p;

	for (p = &sessions; *p; p = &(*p)->next)
		if (*p == s)
		{
			*p = s->next;
			break;
		}
	MemoryContextDelete(s->cxt);
}

/* A failed or cancelled procedure leaves no session behind. */
static void
AbortCallback(XactEvent event, void *arg)
{
	(void) arg;
	if (event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	while (sessions)
		CloseSession(sessions);
}

static TuneSession *
Session(int handle)
{
	for (TuneSession *s = sessions; s; s = s->next)
		if (s->handle == handle)
			return s;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("no tuning session %d in this backend", handle),
			 errhint("Tuning sessions are made and used by the procedure fm_tune.")));
	return NULL;
}

/* The JSON text of a jsonb value. */
static char *
ValueText(JsonbValue *v)
{
	return JsonbToCString(NULL, &JsonbValueToJsonb(v)->root, 0);
}

static double
NumberOf(JsonbValue *v, const char *param, const char *key)
{
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" of \"%s\" in the search space must be a number", key, param)));
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

/* options fm_tune cannot search: data sources and the run's own settings */
static const char *const not_searched[] = {
	"task", "predictor_type", "user_features", "item_features", "weight",
	"context", "params", "quiet", "threads", "options", NULL
};

/* Parses the space: {"name": [values] | {"min": a, "max": b, "log": bool, "integer": bool, "steps": n}}. */
static void
ParseSpace(TuneSession *s, Jsonb *space)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n;

	if (!JB_ROOT_IS_OBJECT(space))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search space must be a jsonb object"),
				 errhint("Give each option a list of values or a range: '{\"factors\": [16, 32, 64], \"reg_factors\": {\"min\": 0.001, \"max\": 1, \"log\": true}}'.")));
	n = JB_ROOT_COUNT(space);
	s->space.p = palloc0(Max(n, 1) * sizeof(FmTuneParam));
	s->list_json = palloc0(Max(n, 1) * sizeof(char *));
	s->space.n = 0;
	it = JsonbIteratorInit(&space->root);
	tok = JsonbIteratorNext(&it, &v, false);	/* WJB_BEGIN_OBJECT */
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		FmTuneParam *p;
		char	   *name;
		const FmOptionDef *def;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		for (int j = 0; not_searched[j]; j++)
			if (strcmp(name, not_searched[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("fm_tune cannot search \"%s\"", name),
						 errhint("Pass it in options => '{\"%s\": ...}' to fix it for every trial.", name)));
		def = FmOptionFind(name);
		if (def == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" in the search space", name),
					 errhint("The options of fm_train can be searched, by their names or SageMaker's.")));
		if (strlen(name) >= sizeof(p->name))
			elog(ERROR, "option name too long");
		p = &s->space.p[s->space.n];
		strlcpy(p->name, def->name, sizeof(p->name));
		for (int j = 0; j < s->space.n; j++)
			if (strcmp(s->space.p[j].name, p->name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_OBJECT),
						 errmsg("option \"%s\" is in the search space twice", p->name)));
		if (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data))
		{
			JsonbIterator *ai = JsonbIteratorInit(v.val.binary.data);
			JsonbValue	e;
			StringInfoData texts;
			int			count = 0;

			p->kind = FM_TUNE_LIST;
			initStringInfo(&texts);
			while ((tok = JsonbIteratorNext(&ai, &e, true)) != WJB_DONE)
			{
				if (tok != WJB_ELEM)
					continue;
				if (e.type == jbvBinary)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("values of \"%s\" in the search space must be strings, numbers or booleans", name)));
				/* values are kept NUL-separated */
				appendStringInfoString(&texts, ValueText(&e));
				appendStringInfoChar(&texts, '\0');
				count++;
			}
			p->n_values = count;
			s->list_json[s->space.n] = texts.data;
		}
		else if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
		{
			JsonbIterator *oi = JsonbIteratorInit(v.val.binary.data);
			JsonbValue	kv;
			bool		has_min = false,
						has_max = false;

			p->kind = FM_TUNE_RANGE;
			p->integer = def->kind == FM_OPT_INT || def->kind == FM_OPT_INT64;
			if (def->kind != FM_OPT_INT && def->kind != FM_OPT_INT64 && def->kind != FM_OPT_REAL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" takes no range", name),
						 errhint("List its values: '{\"%s\": [...]}'.", name)));
			while ((tok = JsonbIteratorNext(&oi, &kv, true)) != WJB_DONE)
			{
				char	   *key;

				if (tok != WJB_KEY)
					continue;
				key = pnstrdup(kv.val.string.val, kv.val.string.len);
				tok = JsonbIteratorNext(&oi, &kv, true);
				if (strcmp(key, "min") == 0)
				{
					p->lo = NumberOf(&kv, name, key);
					has_min = true;
				}
				else if (strcmp(key, "max") == 0)
				{
					p->hi = NumberOf(&kv, name, key);
					has_max = true;
				}
				else if (strcmp(key, "steps") == 0)
				{
					double		st = NumberOf(&kv, name, key);

					p->steps = st >= 1 && st <= 1000 && st == floor(st) ? (int) st : -1;
				}
				else if (strcmp(key, "log") == 0 || strcmp(key, "integer") == 0)
				{
					if (kv.type != jbvBool)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("\"%s\" of \"%s\" in the search space must be true or false", key, name)));
					if (key[0] == 'l')
						p->log = kv.val.boolean;
					else
						p->integer = kv.val.boolean;
				}
				else
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("unknown key \"%s\" in the range of \"%s\"", key, name),
							 errhint("A range has min, max and optionally log, integer and steps.")));
			}
			if (!has_min || !has_max)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the range of \"%s\" needs min and max", name)));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" in the search space must be a list of values or a range", name),
					 errhint("Write '{\"%s\": [1, 2, 3]}' or '{\"%s\": {\"min\": 1, \"max\": 3}}'.", name, name)));
		s->space.n++;
	}
}

/* The jsonb of a point: the base options with the point's values. */
static Jsonb *
PointJson(TuneSession *s, const double *x)
{
	StringInfoData buf;
	Jsonb	   *point;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int j = 0; j < s->space.n; j++)
	{
		const FmTuneParam *p = &s->space.p[j];

		appendStringInfo(&buf, "%s\"%s\": ", j ? ", " : "", p->name);
		if (p->kind == FM_TUNE_LIST)
		{
			const char *t = s->list_json[j];

			for (int v = 0; v < (int) x[j]; v++)
				t += strlen(t) + 1;
			appendStringInfoString(&buf, t);
		}
		else if (p->integer)
			appendStringInfo(&buf, "%.0f", x[j]);
		else
			appendStringInfo(&buf, "%.6g", x[j]);
	}
	appendStringInfoChar(&buf, '}');
	point = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
	if (s->base_json == NULL)
		return point;
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(s->base_json),
											  JsonbPGetDatum(point)));
}

/*
 * A trial's options, checked and completed like fm_train's; never verbose.
 * Solvers whose models do not depend on the thread count (all but SGD and
 * BPR, which are Hogwild) train on every CPU unless threads is given, so a
 * search uses the machine and stays reproducible; SGD keeps fmrec.threads.
 */
static void
TrialOptions(Jsonb *json, FmrecOptionsData *opts)
{
	FmrecOptionsFromJsonb(json, opts);
	opts->quiet = true;
	if (!FmrecOptionGiven(opts, "threads") && opts->params.solver != FM_SOLVER_SGD)
	{
		long		cpus = sysconf(_SC_NPROCESSORS_ONLN);

		opts->params.threads = (int) Max(1, Min(cpus, 64));
	}
}

PG_FUNCTION_INFO_V1(fmrec_tune_open);

/*
 * fmrec_tune_open(ratings text, space jsonb, strategy text, trials int,
 *				   folds int, metric text, seed bigint, options jsonb,
 *				   params text[], k int, prune bool) RETURNS int
 */
Datum
fmrec_tune_open(PG_FUNCTION_ARGS)
{
	MemoryContext cxt;
	MemoryContext old;
	TuneSession *s;
	char	   *source;
	const char *strategy;
	const char *metric;
	FmRatings	ratings;
	FmSide		users = NULL;
	FmSide		items = NULL;
	double		need;
	char		err[FM_ERRLEN];
	FmStatus	st;
	Jsonb	   *probe;
	FmrecOptionsData popts;
	double	   *x;

	for (int a = 0; a < 3; a++)
		if (PG_ARGISNULL(a))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", a == 0 ? "model name" : a == 1 ? "ratings source" : "search space")));
	FmrecCheckWritable("fm_tune");
	FmrecCheckName(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	FmrecCheckMayWrite(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("fm_tune cannot run inside a transaction block"),
				 errhint("CALL it on its own: it commits after every trial, so that the trials can be watched and survive a cancel.")));
	if (!callback_registered)
	{
		RegisterXactCallback(AbortCallback, NULL);
		callback_registered = true;
	}
	cxt = AllocSetContextCreate(TopMemoryContext, "fmrec tuning session",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	s = palloc0(sizeof(TuneSession));
	s->cxt = cxt;
	s->handle = next_handle++;
	s->next = sessions;
	sessions = s;

	source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	strategy = PG_ARGISNULL(3) ? "tpe" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (strcmp(strategy, "grid") == 0)
		s->strategy = FM_TUNE_GRID;
	else if (strcmp(strategy, "random") == 0)
		s->strategy = FM_TUNE_RANDOM;
	else if (strcmp(strategy, "tpe") == 0)
		s->strategy = FM_TUNE_TPE;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown strategy \"%s\"", strategy),
				 errhint("Use grid, random or tpe.")));
	s->trials = PG_ARGISNULL(4) ? 20 : PG_GETARG_INT32(4);
	s->folds = PG_ARGISNULL(5) ? 3 : PG_GETARG_INT32(5);
	if (s->folds < 1 || s->folds > TUNE_MAX_FOLDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("folds must be between 1 and %d", TUNE_MAX_FOLDS),
				 errhint("1 holds out a seeded 20%% of the pairs instead of cross-validating.")));
	s->seed = PG_ARGISNULL(7) ? 0 : (uint64) PG_GETARG_INT64(7);
	s->k = PG_ARGISNULL(10) ? 10 : PG_GETARG_INT32(10);
	if (s->k < 1 || s->k > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and 1000")));
	s->prune = PG_NARGS() > 11 && !PG_ARGISNULL(11) ? PG_GETARG_BOOL(11) : true;
	s->base_json = PG_ARGISNULL(8) ? NULL : DatumGetJsonbPCopy(PG_GETARG_DATUM(8));
	if (s->base_json)
		FmrecOptionsFromJsonb(s->base_json, &s->base);
	else
	{
		s->base_json = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
		FmrecOptionsFromJsonb(s->base_json, &s->base);
	}
	if (!PG_ARGISNULL(9))
		s->base.cols.params = FmrecTextArray(PG_GETARG_ARRAYTYPE_P(9), &s->base.cols.nparams);
	if (s->base.cols.context)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fm_tune does not take context columns"),
				 errhint("Tune on the rows without context, then train with it.")));

	ParseSpace(s, DatumGetJsonbP(PG_GETARG_DATUM(2)));
	st = FmTuneCheck(&s->space, s->strategy, s->trials, err, sizeof(err));
	if (st != FM_OK)
		ereport(ERROR,
				(errcode(st == FM_ERR_LIMIT ? ERRCODE_PROGRAM_LIMIT_EXCEEDED : ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err),
				 st == FM_ERR_LIMIT ? errhint("Raise trials, or use strategy random or tpe.") : 0));
	/* every value of the space must be one fm_train takes: try its corners */
	x = palloc(Max(s->space.n, 1) * sizeof(double));
	for (int corner = 0; corner < 2; corner++)
	{
		for (int j = 0; j < s->space.n; j++)
		{
			const FmTuneParam *p = &s->space.p[j];

			if (p->kind == FM_TUNE_LIST)
				x[j] = corner ? p->n_values - 1 : 0;
			else
				x[j] = corner ? (p->integer ? floor(p->hi) : p->hi) : (p->integer ? ceil(p->lo) : p->lo);
		}
		probe = PointJson(s, x);
		TrialOptions(probe, &popts);
		if (popts.params.task != s->base.params.task)
			elog(ERROR, "the task changed");
	}
	/* and every listed value */
	for (int j = 0; j < s->space.n; j++)
		for (int v = 0; s->space.p[j].kind == FM_TUNE_LIST && v < s->space.p[j].n_values; v++)
		{
			x[j] = v;
			TrialOptions(PointJson(s, x), &popts);
		}

	if (PG_ARGISNULL(6))
		metric = s->base.params.task == FM_TASK_REGRESSION ? "rmse" :
			(s->base.params.task == FM_TASK_BINARY ? "auc" : "ndcg_at_k");
	else
		metric = text_to_cstring(PG_GETARG_TEXT_PP(6));
	for (size_t j = 0; j < lengthof(metrics); j++)
		if (strcmp(metrics[j].name, metric) == 0)
			s->metric = &metrics[j];
	if (s->metric == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown metric \"%s\"", metric),
				 errhint("Use a column of fm_evaluate: rmse, mae, auc, log_loss, accuracy, precision_at_k, recall_at_k, ndcg_at_k, map_at_k, mrr, hit_rate_at_k or coverage_at_k.")));
	if ((s->base.params.task != FM_TASK_REGRESSION && (strcmp(metric, "rmse") == 0 || strcmp(metric, "mae") == 0)) ||
		(s->base.params.task != FM_TASK_BINARY &&
		 (strcmp(metric, "auc") == 0 || strcmp(metric, "log_loss") == 0 || strcmp(metric, "accuracy") == 0)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metric \"%s\" is not measured for the %s task", metric,
						FmTaskName(s->base.params.task))));

	/* load once */
	ratings = FmrecNewRatings(cxt);
	FmrecLoadRatings(source, ratings, s->base.params.task == FM_TASK_IMPLICIT, &s->base.cols);
	users = FmrecNewSide(cxt, s->base.user_features);
	items = FmrecNewSide(cxt, s->base.item_features);
	s->full = FmrecBuildDataset(ratings, users, items);
	need = (double) (s->folds + 1) * FmDatasetMemory(s->full) + FmRatingsMemory(ratings) +
		FmTrainMemory(s->full, &s->base.params);
	if (FmrecOverMemory(need))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("tuning would need about %s of memory", FmrecPrettySize(need)),
				 errdetail("It keeps the rows and %d folds of them; fmrec.max_training_memory is %s.",
						   s->folds, FmrecMemoryLimit()),
				 errhint("Use fewer folds or fewer rows, or have a superuser raise fmrec.max_training_memory.")));

	/* the folds: train on the others, score on this one */
	s->train = palloc0(s->folds * sizeof(FmDataset));
	s->test = palloc0(s->folds * sizeof(FmRatings));
	for (int f = 0; f < s->folds; f++)
	{
		FmRatings	tr = FmrecNewRatings(cxt);

		s->test[f] = FmrecNewRatings(cxt);
		for (size_t lo = 0; lo < ratings->n; lo += 65536)
		{
			CHECK_FOR_INTERRUPTS();
			st = FmRatingsSplit(ratings, lo, lo + 65536, s->seed, s->folds, f, 0.2,
								tr, s->test[f]);
			FmrecReport(st, "Failed to split the rows into folds");
		}
		s->train[f] = FmrecBuildDataset(tr, users, items);
		FmRatingsFree(tr);
	}
	FmRatingsFree(ratings);
	s->done = palloc0(s->trials * sizeof(Trial));
	MemoryContextSwitchTo(old);
	PG_RETURN_INT32(s->handle);
}

PG_FUNCTION_INFO_V1(fmrec_tune_next);

/* fmrec_tune_next(handle int) RETURNS jsonb: the next trial's options, or NULL */
Datum
fmrec_tune_next(PG_FUNCTION_ARGS)
{
	TuneSession *s = Session(PG_GETARG_INT32(0));
	MemoryContext old;
	double	   *hx;
	double	   *hy;
	double	   *x;
	Jsonb	   *json;
	Trial	   *t;

	if (s->n_done >= s->trials)
		PG_RETURN_NULL();
	old = MemoryContextSwitchTo(s->cxt);
	hx = palloc(Max(s->n_done, 1) * Max(s->space.n, 1) * sizeof(double));
	hy = palloc(Max(s->n_done, 1) * sizeof(double));
	for (int j = 0; j < s->n_done; j++)
	{
		memcpy(hx + (size_t) j * s->space.n, s->done[j].x, s->space.n * sizeof(double));
		/* the core minimizes */
		hy[j] = s->metric->maximize ? -s->done[j].mean : s->done[j].mean;
	}
	x = palloc(Max(s->space.n, 1) * sizeof(double));
	if (!FmTunePropose(&s->space, s->strategy, s->n_done, s->seed, hx, hy, s->n_done, x))
	{
		pfree(hx);
		pfree(hy);
		pfree(x);
		MemoryContextSwitchTo(old);
		PG_RETURN_NULL();
	}
	pfree(hx);
	pfree(hy);
	json = PointJson(s, x);
	/* the trial is recorded now: a failure leaves it without a score */
	t = &s->done[s->n_done++];
	t->x = x;
	t->options = JsonbToCString(NULL, &json->root, VARSIZE(json));
	t->mean = t->sd = NAN;
	t->fold = palloc(s->folds * sizeof(double));
	for (int f = 0; f < s->folds; f++)
		t->fold[f] = NAN;
	MemoryContextSwitchTo(old);
	PG_RETURN_JSONB_P(json);
}

/* Whether trial t stops after fold f (median stopping, FmTuneStop). */
static bool
ShouldStop(const TuneSession *s, const Trial *t, int f)
{
	double	   *finished = palloc(Max(s->n_done, 1) * s->folds * sizeof(double));
	int			n = 0;
	bool		stop;

	for (int j = 0; j < s->n_done; j++)
	{
		const Trial *o = &s->done[j];

		if (o == t || o->pruned || isnan(o->mean))
			continue;
		memcpy(finished + (size_t) n++ * s->folds, o->fold, s->folds * sizeof(double));
	}
	stop = FmTuneStop(finished, n, s->folds, t->fold, f, s->metric->maximize);
	pfree(finished);
	return stop;
}

PG_FUNCTION_INFO_V1(fmrec_tune_run);

/*
 * fmrec_tune_run(handle int, OUT fold_scores float8[], OUT score float8,
 *				  OUT score_sd float8, OUT pruned bool) RETURNS record:
 * trains the latest proposed trial on every fold (fewer when median
 * stopping stops it) and returns its scores, one per fold it ran, their
 * mean and spread, and whether it was stopped.
 */
Datum
fmrec_tune_run(PG_FUNCTION_ARGS)
{
	TuneSession *s = Session(PG_GETARG_INT32(0));
	Trial	   *t;
	FmrecOptionsData o;
	Datum	   *scores;
	double		sum = 0,
				sum2 = 0;
	int			ran = 0;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (s->n_done == 0)
		elog(ERROR, "no trial was proposed");
	t = &s->done[s->n_done - 1];
	TrialOptions(DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(t->options))), &o);
	scores = palloc(s->folds * sizeof(Datum));
	for (int f = 0; f < s->folds; f++)
	{
		MemoryContext one = AllocSetContextCreate(CurrentMemoryContext, "fmrec tuning fold",
												  ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(one);
		FmEvalOptions eo;
		FmEvalMetrics mm;
		FmEvalMetrics pop;
		FmModel		m;
		double		secs;
		double		score;

		o.params.store_seen = true;
		m = FmrecTrainDataset(s->train[f], &o, &secs);
		eo.k = s->k;
		eo.threshold = m->task == FM_TASK_IMPLICIT ? -INFINITY : m->threshold;
		FmrecEvaluate(m, s->test[f], &eo, &mm, &pop);
		score = *(double *) ((char *) &mm + s->metric->offset);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(one);
		scores[f] = Float8GetDatum(score);
		t->fold[f] = score;
		sum += score;
		sum2 += score * score;
		ran = f + 1;
		if (s->prune && f + 1 < s->folds && ShouldStop(s, t, f))
		{
			t->pruned = true;
			break;
		}
	}
	t->mean = sum / ran;
	t->sd = ran > 1 ? sqrt(Max(0.0, (sum2 - sum * sum / ran) / (ran - 1))) : 0.0;
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = PointerGetDatum(construct_array(scores, ran, FLOAT8OID, sizeof(float8),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[1] = Float8GetDatum(t->mean);
	values[2] = Float8GetDatum(t->sd);
	values[3] = BoolGetDatum(t->pruned);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/* The index of the best finished trial, or -1. */
static int
Best(const TuneSession *s)
{
	int			best = -1;

	for (int j = 0; j < s->n_done; j++)
	{
		double		m = s->done[j].mean;

		if (isnan(m) || s->done[j].pruned)
			continue;
		if (best < 0 || (s->metric->maximize ? m > s->done[best].mean : m < s->done[best].mean))
			best = j;
	}
	return best;
}

PG_FUNCTION_INFO_V1(fmrec_tune_store);

/*
 * fmrec_tune_store(handle int, model text, tune bigint) RETURNS int:
 * trains the best trial's options on all rows, stores the model with its
 * cross-validated score in metrics, and returns the trial's number (1-based).
 */
Datum
fmrec_tune_store(PG_FUNCTION_ARGS)
{
	TuneSession *s = Session(PG_GETARG_INT32(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int			b = Best(s);
	FmrecOptionsData o;
	FmrecTimingData timing = {0};
	double		t0 = FmrecSeconds();
	FmModel		m;
	bytea	   *bytes;
	StringInfoData extra;

	FmrecCheckName(name);
	if (b < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("no trial of the tuning finished"),
				 errhint("fm_tune_trials has the trials and their errors; the model was not changed.")));
	TrialOptions(DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s->done[b].options))), &o);
	m = FmrecTrainDataset(s->full, &o, &timing.train);
	bytes = FmrecEncodeModel(m);
	initStringInfo(&extra);
	appendStringInfo(&extra, "\"tune\": {\"id\": " INT64_FORMAT ", \"trial\": %d, \"trials\": %d, "
					 "\"folds\": %d, \"strategy\": \"%s\", \"metric\": \"%s\", \"mean\": %.10g, \"sd\": %.10g}",
					 PG_GETARG_INT64(2), b + 1, s->n_done, s->folds,
					 s->strategy == FM_TUNE_GRID ? "grid" : s->strategy == FM_TUNE_RANDOM ? "random" : "tpe",
					 s->metric->name, s->done[b].mean, s->done[b].sd);
	timing.extra = extra.data;
	timing.total = FmrecSeconds() - t0;
	FmrecStoreModel(name, m, bytes, &timing);
	PG_RETURN_INT32(b + 1);
}

PG_FUNCTION_INFO_V1(fmrec_tune_minimize);

/* fmrec_tune_minimize(handle int) RETURNS bool: whether lower scores are better */
Datum
fmrec_tune_minimize(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!Session(PG_GETARG_INT32(0))->metric->maximize);
}

PG_FUNCTION_INFO_V1(fmrec_tune_metric);

/* fmrec_tune_metric(handle int) RETURNS text: the metric's name */
Datum
fmrec_tune_metric(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(Session(PG_GETARG_INT32(0))->metric->name));
}

PG_FUNCTION_INFO_V1(fmrec_tune_close);

/* fmrec_tune_close(handle int) RETURNS void */
Datum
fmrec_tune_close(PG_FUNCTION_ARGS)
{
	CloseSession(Session(PG_GETARG_INT32(0)));
	PG_RETURN_VOID();
}
