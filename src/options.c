/*
 * options.c
 *	  Training options from fm_train's named arguments or from a jsonb
 *	  object (fm_train_agg), and their JSON rendering for fm_models.
 *
 * One table lists every option, so both entry points accept exactly the
 * same names, and defaults live in one place: the core's FmParamsDefault.
 * fm_train declares every option DEFAULT NULL and a NULL means "default".
 * The jsonb form also accepts SageMaker's spellings (num_factors,
 * mini_batch_size, ...).
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>
#include <unistd.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "fmrec.h"

typedef enum OptionKind
{
	OPT_TASK,
	OPT_SOLVER,
	OPT_INT,
	OPT_INT64,
	OPT_REAL,
	OPT_BOOL
} OptionKind;

typedef struct OptionDef
{
	const char *name;
	const char *alias;			/* SageMaker's name, or NULL */
	OptionKind	kind;
	size_t		offset;			/* in FmrecOptionsData */
	unsigned	setbit;			/* FM_SET_* when solver defaults depend on it */
} OptionDef;

#define P(field) offsetof(FmrecOptionsData, params.field)

/* fm_train's option arguments, in SQL declaration order */
static const OptionDef option_defs[] = {
	{"task", "predictor_type", OPT_TASK, P(task), 0},
	{"factors", "num_factors", OPT_INT, P(factors), 0},
	{"epochs", NULL, OPT_INT, P(epochs), FM_SET_EPOCHS},
	{"batch_size", "mini_batch_size", OPT_INT, P(batch_size), 0},
	{"learning_rate", NULL, OPT_REAL, P(learning_rate), 0},
	{"reg_bias", "bias_wd", OPT_REAL, P(reg_bias), 0},
	{"reg_linear", "linear_wd", OPT_REAL, P(reg_linear), FM_SET_REG_LINEAR},
	{"reg_factors", "factors_wd", OPT_REAL, P(reg_factors), FM_SET_REG_FACTORS},
	{"init_stdev", "factors_init_sigma", OPT_REAL, P(init_stdev), FM_SET_INIT_STDEV},
	{"threshold", NULL, OPT_REAL, P(threshold), 0},
	{"validation", NULL, OPT_REAL, P(validation), 0},
	{"patience", NULL, OPT_INT, P(patience), 0},
	{"seed", NULL, OPT_INT64, P(seed), 0},
	{"threads", NULL, OPT_INT, P(threads), 0},
	{"store_seen", NULL, OPT_BOOL, P(store_seen), 0},
	{"quiet", NULL, OPT_BOOL, offsetof(FmrecOptionsData, quiet), 0},
	{"solver", NULL, OPT_SOLVER, P(solver), 0},
	{"burn_in", NULL, OPT_INT, P(burn_in), FM_SET_BURN_IN},
};

#define N_OPTIONS lengthof(option_defs)

static void
Init(FmrecOptionsData *opts)
{
	FmParamsDefault(&opts->params);
	opts->params.threads = -1;	/* resolved from fmrec.threads */
	opts->quiet = false;
	opts->set = 0;
}

static void
SetSolver(FmrecOptionsData *opts, const char *name)
{
	if (!FmSolverFromName(name, &opts->params.solver))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized solver \"%s\"", name),
				 errhint("Use \"sgd\", \"als\" or \"mcmc\".")));
}

static void
SetTask(FmrecOptionsData *opts, const char *name)
{
	if (!FmTaskFromName(name, &opts->params.task))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized task \"%s\"", name),
				 errhint("Use \"regression\" or \"binary\".")));
}

static void
SetReal(const OptionDef *def, FmrecOptionsData *opts, double v)
{
	char	   *field = (char *) opts + def->offset;

	switch (def->kind)
	{
		case OPT_REAL:
			*(double *) field = v;
			break;
		case OPT_INT:
			if (!isfinite(v) || v != floor(v) || v < INT_MIN || v > INT_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be an integer", def->name)));
			*(int *) field = (int) v;
			break;
		case OPT_INT64:
			if (!isfinite(v) || v != floor(v) || v < -9.2e18 || v > 9.2e18)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be an integer", def->name)));
			*(uint64_t *) field = (uint64_t) (int64) v;
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" must not be a number", def->name)));
	}
}

/*
 * Reads fm_train's option arguments, fcinfo args first.., in the order of
 * option_defs.  NULL keeps the default.
 */
void
FmrecOptionsFromArgs(FunctionCallInfo fcinfo, int first, FmrecOptionsData *opts)
{
	Init(opts);
	for (int j = 0; j < (int) N_OPTIONS && first + j < PG_NARGS(); j++)
	{
		const OptionDef *def = &option_defs[j];
		int			a = first + j;

		if (PG_ARGISNULL(a))
			continue;
		opts->set |= def->setbit;
		switch (def->kind)
		{
			case OPT_TASK:
				SetTask(opts, text_to_cstring(PG_GETARG_TEXT_PP(a)));
				break;
			case OPT_SOLVER:
				SetSolver(opts, text_to_cstring(PG_GETARG_TEXT_PP(a)));
				break;
			case OPT_INT:
				SetReal(def, opts, PG_GETARG_INT32(a));
				break;
			case OPT_INT64:
				*(uint64_t *) ((char *) opts + def->offset) =
					(uint64_t) PG_GETARG_INT64(a);
				break;
			case OPT_REAL:
				SetReal(def, opts, PG_GETARG_FLOAT8(a));
				break;
			case OPT_BOOL:
				*(bool *) ((char *) opts + def->offset) = PG_GETARG_BOOL(a);
				break;
		}
	}
	FmrecOptionsFinish(opts);
}

static const OptionDef *
FindOption(const char *key)
{
	for (int j = 0; j < (int) N_OPTIONS; j++)
		if (strcmp(option_defs[j].name, key) == 0 ||
			(option_defs[j].alias && strcmp(option_defs[j].alias, key) == 0))
			return &option_defs[j];
	return NULL;
}

void
FmrecOptionsFromJsonb(Jsonb *jb, FmrecOptionsData *opts)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	const OptionDef *def = NULL;

	Init(opts);
	if (jb == NULL)
	{
		FmrecOptionsFinish(opts);
		return;
	}
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training options must be a jsonb object"),
				 errhint("Pass options like '{\"factors\": 32, \"task\": \"binary\"}'.")));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			char	   *key = pnstrdup(v.val.string.val, v.val.string.len);

			def = FindOption(key);
			if (def == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unrecognized training option \"%s\"", key),
						 errhint("Valid options are task, factors, epochs, batch_size, "
								 "learning_rate, reg_bias, reg_linear, reg_factors, "
								 "init_stdev, threshold, validation, patience, seed, "
								 "threads, store_seen, quiet, solver and burn_in.")));
		}
		else if (tok == WJB_VALUE && def != NULL)
		{
			if (v.type == jbvNull)
				continue;
			opts->set |= def->setbit;
			if (def->kind == OPT_TASK && v.type == jbvString)
				SetTask(opts, pnstrdup(v.val.string.val, v.val.string.len));
			else if (def->kind == OPT_SOLVER && v.type == jbvString)
				SetSolver(opts, pnstrdup(v.val.string.val, v.val.string.len));
			else if (def->kind == OPT_BOOL && v.type == jbvBool)
				*(bool *) ((char *) opts + def->offset) = v.val.boolean;
			else if (v.type == jbvNumeric && def->kind != OPT_TASK &&
					 def->kind != OPT_SOLVER && def->kind != OPT_BOOL)
				SetReal(def, opts,
						DatumGetFloat8(DirectFunctionCall1(numeric_float8,
														   NumericGetDatum(v.val.numeric))));
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("training option \"%s\" has the wrong type", def->name)));
		}
		else if (tok == WJB_BEGIN_ARRAY || tok == WJB_BEGIN_OBJECT)
		{
			if (def != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("training option \"%s\" has the wrong type", def->name)));
		}
	}
	FmrecOptionsFinish(opts);
}

/* How many option arguments fm_train has (they follow model and ratings). */
int
FmrecOptionCount(void)
{
	return (int) N_OPTIONS;
}

/* Resolves the thread count and validates everything before any work. */
void
FmrecOptionsFinish(FmrecOptionsData *opts)
{
	char		err[FM_ERRLEN];
	long		cpus = sysconf(_SC_NPROCESSORS_ONLN);
	FmStatus	st;

	if (opts->params.threads == -1)
		opts->params.threads = fmrec_threads;
	FmParamsSolverDefaults(&opts->params, opts->params.solver, opts->set);
	st = FmParamsCheck(&opts->params, err, sizeof(err));
	if (st != FM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid training option: %s", err)));
	if (cpus >= 1 && opts->params.threads > cpus)
		opts->params.threads = (int) cpus;
}

static void
AppendReal(StringInfo buf, const char *key, double v)
{
	if (isfinite(v))
		appendStringInfo(buf, ", \"%s\": %s", key, float8out_internal(v));
	else
		appendStringInfo(buf, ", \"%s\": null", key);
}

/*
 * The hyperparameters as JSON.  The thread count is a property of the
 * training run, not of the model, and is not in the model bytes: it is
 * shown only where it is known (fm_models, not fm_model_info).
 */
char *
FmrecParamsJson(const FmParamsData *p, bool with_threads)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"solver\": \"%s\", \"task\": \"%s\", \"factors\": %d, "
					 "\"epochs\": %d, \"batch_size\": %d",
					 FmSolverName(p->solver), FmTaskName(p->task), p->factors,
					 p->epochs, p->batch_size);
	if (p->solver == FM_SOLVER_MCMC)
		appendStringInfo(&buf, ", \"burn_in\": %d", p->burn_in);
	AppendReal(&buf, "learning_rate", p->learning_rate);
	AppendReal(&buf, "reg_bias", p->reg_bias);
	AppendReal(&buf, "reg_linear", p->reg_linear);
	AppendReal(&buf, "reg_factors", p->reg_factors);
	AppendReal(&buf, "init_stdev", p->init_stdev);
	AppendReal(&buf, "threshold", p->threshold);
	AppendReal(&buf, "validation", p->validation);
	appendStringInfo(&buf, ", \"patience\": %d, \"seed\": " INT64_FORMAT
					 ", \"store_seen\": %s",
					 p->patience, (int64) p->seed, p->store_seen ? "true" : "false");
	if (with_threads)
		appendStringInfo(&buf, ", \"threads\": %d", p->threads);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

char *
FmrecMetricsJson(const FmModelData *m, const FmrecTimingData *timing)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"rows\": " UINT64_FORMAT ", \"train_rows\": " UINT64_FORMAT
					 ", \"users\": %u, \"items\": %u, \"epochs_run\": %u, \"best_epoch\": %u",
					 (uint64) m->info.rows, (uint64) m->info.train_rows,
					 m->n_users, m->n_items, m->info.epochs_run, m->info.best_epoch);
	AppendReal(&buf, m->task == FM_TASK_BINARY ? "train_logloss" : "train_rmse",
			   m->info.train_loss);
	if (m->task == FM_TASK_BINARY)
	{
		AppendReal(&buf, "valid_auc", m->info.valid_auc);
		AppendReal(&buf, "valid_logloss", m->info.valid_logloss);
	}
	else
		AppendReal(&buf, "valid_rmse", m->info.valid_rmse);
	if (FmModelHasFeatures(m))
	{
		uint32_t	unrated_u = 0,
					unrated_i = 0;

		for (uint32_t u = 0; u < m->n_users; u++)
			unrated_u += !m->user_rated[u];
		for (uint32_t i = 0; i < m->n_items; i++)
			unrated_i += !m->item_rated[i];
		appendStringInfo(&buf, ", \"user_features\": %u, \"item_features\": %u, "
						 "\"context_features\": %u, \"users_without_ratings\": %u, "
						 "\"items_without_ratings\": %u",
						 m->ufeat.n, m->ifeat.n, m->cfeat.n, unrated_u, unrated_i);
	}
	if (timing != NULL)
	{
		AppendReal(&buf, "seconds", timing->total);
		AppendReal(&buf, "seconds_load", timing->load);
		AppendReal(&buf, "seconds_train", timing->train);
		if (timing->load > 0)
			AppendReal(&buf, "rows_per_second_load", m->info.rows / timing->load);
		if (m->info.epochs_run > 0)
			AppendReal(&buf, "seconds_per_epoch", timing->train / m->info.epochs_run);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}
