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

#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "fmrec.h"

/*
 * Options of the layer itself, beside the core's table (params.c): they
 * shape the call, not the model.
 */
static const char *const layer_options[] = {"quiet", "user_features", "item_features"};

static void
Init(FmrecOptionsData *opts)
{
	FmParamsDefault(&opts->params);
	opts->params.threads = -1;	/* resolved from fmrec.threads */
	opts->quiet = false;
	opts->set = 0;
	opts->given = 0;
	opts->user_features = NULL;
	opts->item_features = NULL;
}

/* "a, b, c and d": every option name, for the unrecognized-option hint. */
static char *
OptionList(void)
{
	StringInfoData buf;
	size_t		n;
	const FmOptionDef *defs = FmOptionDefs(&n);
	size_t		total = n + lengthof(layer_options);

	initStringInfo(&buf);
	for (size_t j = 0; j < total; j++)
	{
		const char *name = j < n ? defs[j].name : layer_options[j - n];

		if (j > 0)
			appendStringInfoString(&buf, j + 1 == total ? " and " : ", ");
		appendStringInfoString(&buf, name);
	}
	return buf.data;
}

static void
UnknownOption(const char *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unrecognized training option \"%s\"", key),
			 errhint("Valid options are %s; SageMaker's names (num_factors, predictor_type, "
					 "mini_batch_size, bias_wd, linear_wd, factors_wd, factors_init_sigma) "
					 "are accepted too.", OptionList())));
}

static void
SetSolver(FmrecOptionsData *opts, const char *name)
{
	if (!FmSolverFromName(name, &opts->params.solver))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized solver \"%s\"", name),
				 errhint("Use %s.", FmSolverList())));
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

/* Sets a numeric option; integers must be whole and in range of their type. */
static void
SetNumber(const FmOptionDef *def, FmrecOptionsData *opts, double v)
{
	char	   *field = (char *) &opts->params + def->offset;

	switch (def->kind)
	{
		case FM_OPT_REAL:
			*(double *) field = v;
			break;
		case FM_OPT_INT:
			if (!isfinite(v) || v != floor(v) || v < INT_MIN || v > INT_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be an integer", def->name)));
			*(int *) field = (int) v;
			break;
		case FM_OPT_INT64:
			if (!isfinite(v) || v != floor(v) || v < -9.2e18 || v > 9.2e18)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be an integer", def->name)));
			*(uint64_t *) field = (uint64_t) (int64) v;
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("training option \"%s\" has the wrong type", def->name)));
	}
}

/*
 * Marks option number `bit` of the core table (or a layer option) given;
 * an option given twice, as an argument and in the options object or by
 * both of its names, is an error rather than a silent choice.
 */
static void
MarkGiven(FmrecOptionsData *opts, int bit, const char *name)
{
	if (opts->given & ((uint64) 1 << bit))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training option \"%s\" is given more than once", name)));
	opts->given |= (uint64) 1 << bit;
}

/* Index of a layer option, or -1. */
static int
LayerOption(const char *key)
{
	for (int j = 0; j < (int) lengthof(layer_options); j++)
		if (strcmp(layer_options[j], key) == 0)
			return j;
	return -1;
}

/* Applies one jsonb option value. */
static void
ApplyJsonb(FmrecOptionsData *opts, const char *key, JsonbValue *v)
{
	size_t		n;
	const FmOptionDef *defs = FmOptionDefs(&n);
	const FmOptionDef *def = FmOptionFind(key);
	int			layer = def ? -1 : LayerOption(key);

	if (def == NULL && layer < 0)
		UnknownOption(key);
	if (v->type == jbvNull)
		return;
	if (def == NULL)
	{
		MarkGiven(opts, (int) n + layer, key);
		if (layer == 0 && v->type == jbvBool)
			opts->quiet = v->val.boolean;
		else if (layer > 0 && v->type == jbvString)
		{
			char	   *src = pnstrdup(v->val.string.val, v->val.string.len);

			if (layer == 1)
				opts->user_features = src;
			else
				opts->item_features = src;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("training option \"%s\" has the wrong type", key)));
		return;
	}
	MarkGiven(opts, (int) (def - defs), def->name);
	opts->set |= def->setbit;
	if (def->kind == FM_OPT_TASK && v->type == jbvString)
		SetTask(opts, pnstrdup(v->val.string.val, v->val.string.len));
	else if (def->kind == FM_OPT_SOLVER && v->type == jbvString)
		SetSolver(opts, pnstrdup(v->val.string.val, v->val.string.len));
	else if (def->kind == FM_OPT_BOOL && v->type == jbvBool)
		*(bool *) ((char *) &opts->params + def->offset) = v->val.boolean;
	else if (v->type == jbvNumeric &&
			 (def->kind == FM_OPT_INT || def->kind == FM_OPT_INT64 || def->kind == FM_OPT_REAL))
		SetNumber(def, opts,
				  DatumGetFloat8(DirectFunctionCall1(numeric_float8,
													 NumericGetDatum(v->val.numeric))));
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training option \"%s\" has the wrong type", def->name)));
}

/* Applies the keys of a jsonb object of options (NULL: none). */
static void
ApplyOptionsJsonb(FmrecOptionsData *opts, Jsonb *jb)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (jb == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training options must be a jsonb object"),
				 errhint("Pass options like '{\"factors\": 32, \"task\": \"binary\"}'.")));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE && key != NULL)
		{
			if (v.type == jbvBinary)
			{
				if (FmOptionFind(key) == NULL && LayerOption(key) < 0)
					UnknownOption(key);
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("training option \"%s\" has the wrong type", key)));
			}
			ApplyJsonb(opts, key, &v);
			key = NULL;
		}
	}
}

/*
 * Applies one named SQL argument: an option of the core table, a layer
 * option, or the options object.  Arguments are matched by their declared
 * name, so the SQL signature may list any subset in any order.
 */
static void
ApplyArgument(FunctionCallInfo fcinfo, int a, const char *name, Oid type,
			  FmrecOptionsData *opts)
{
	JsonbValue	v;

	if (strcmp(name, "options") == 0)
	{
		ApplyOptionsJsonb(opts, PG_GETARG_JSONB_P(a));
		return;
	}
	/* every other argument goes through the jsonb path: one set of rules */
	switch (type)
	{
		case TEXTOID:
			{
				text	   *t = PG_GETARG_TEXT_PP(a);

				v.type = jbvString;
				v.val.string.val = VARDATA_ANY(t);
				v.val.string.len = VARSIZE_ANY_EXHDR(t);
				break;
			}
		case BOOLOID:
			v.type = jbvBool;
			v.val.boolean = PG_GETARG_BOOL(a);
			break;
		case INT4OID:
			v.type = jbvNumeric;
			v.val.numeric = int64_to_numeric(PG_GETARG_INT32(a));
			break;
		case INT8OID:
			{
				/* seeds are any bigint: set it exactly, not through float8 */
				const FmOptionDef *def = FmOptionFind(name);
				size_t		n;

				if (def != NULL && def->kind == FM_OPT_INT64)
				{
					MarkGiven(opts, (int) (def - FmOptionDefs(&n)), def->name);
					*(uint64_t *) ((char *) &opts->params + def->offset) =
						(uint64_t) PG_GETARG_INT64(a);
					return;
				}
				v.type = jbvNumeric;
				v.val.numeric = int64_to_numeric(PG_GETARG_INT64(a));
				break;
			}
		case FLOAT8OID:
			v.type = jbvNumeric;
			v.val.numeric = DatumGetNumeric(DirectFunctionCall1(float8_numeric,
																PG_GETARG_DATUM(a)));
			break;
		default:
			elog(ERROR, "fm_train argument \"%s\" has an unsupported type", name);
	}
	ApplyJsonb(opts, name, &v);
}

/* The declared names and types of a function's input arguments, cached per call site. */
typedef struct ArgNames
{
	int			nargs;
	char	  **names;
	Oid		   *types;
} ArgNames;

/*
 * Reads the input arguments' names and types from pg_proc once per call
 * site.
 */
static ArgNames *
GetArgNames(FunctionCallInfo fcinfo)
{
	ArgNames   *an = fcinfo->flinfo->fn_extra;
	HeapTuple	tup;
	Oid		   *types;
	char	  **names;
	char	   *modes;
	int			n;
	MemoryContext old;

	if (an != NULL)
		return an;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	n = get_func_arg_info(tup, &types, &names, &modes);
	an = palloc0(sizeof(ArgNames));
	an->names = palloc0(Max(n, 1) * sizeof(char *));
	an->types = palloc0(Max(n, 1) * sizeof(Oid));
	for (int j = 0; j < n; j++)
	{
		if (modes != NULL && modes[j] != PROARGMODE_IN && modes[j] != PROARGMODE_INOUT)
			continue;
		an->names[an->nargs] = names ? pstrdup(names[j]) : "";
		an->types[an->nargs++] = types[j];
	}
	MemoryContextSwitchTo(old);
	ReleaseSysCache(tup);
	fcinfo->flinfo->fn_extra = an;
	return an;
}

/*
 * Reads fm_train's options from its arguments after the first `first`
 * (model and ratings), by their declared names; NULL keeps the default.
 */
void
FmrecOptionsFromArgs(FunctionCallInfo fcinfo, int first, FmrecOptionsData *opts)
{
	ArgNames   *an = GetArgNames(fcinfo);

	Init(opts);
	for (int a = first; a < PG_NARGS() && a < an->nargs; a++)
		if (!PG_ARGISNULL(a))
			ApplyArgument(fcinfo, a, an->names[a], an->types[a], opts);
	FmrecOptionsFinish(opts);
}

/* True when the option (by its name) was given explicitly. */
bool
FmrecOptionGiven(const FmrecOptionsData *opts, const char *name)
{
	size_t		n;
	const FmOptionDef *defs = FmOptionDefs(&n);
	const FmOptionDef *def = FmOptionFind(name);

	return def != NULL && (opts->given & ((uint64) 1 << (def - defs))) != 0;
}

/* Reads options from a jsonb object (fm_train_agg); NULL: all defaults. */
void
FmrecOptionsFromJsonb(Jsonb *jb, FmrecOptionsData *opts)
{
	Init(opts);
	ApplyOptionsJsonb(opts, jb);
	FmrecOptionsFinish(opts);
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

/* The training results as JSON for fm_models.metrics and fm_model_info. */
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
