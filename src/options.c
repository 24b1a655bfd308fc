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
#include "utils/array.h"
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
typedef enum LayerOpt
{
	LAYER_QUIET,
	LAYER_USER_FEATURES,
	LAYER_ITEM_FEATURES,
	LAYER_WEIGHT,
	LAYER_CONTEXT,
	LAYER_PARAMS,
	N_LAYER_OPTIONS
} LayerOpt;

static const char *const layer_options[N_LAYER_OPTIONS] = {
	[LAYER_QUIET] = "quiet",
	[LAYER_USER_FEATURES] = "user_features",
	[LAYER_ITEM_FEATURES] = "item_features",
	[LAYER_WEIGHT] = "weight",
	[LAYER_CONTEXT] = "context",
	[LAYER_PARAMS] = "params",
};

/* one option value, from a SQL argument or a jsonb object */
typedef enum ValueKind
{
	VAL_TEXT,
	VAL_BOOL,
	VAL_NUMBER,					/* int4, float8 or a jsonb number */
	VAL_INT64,					/* int8: exact, for seeds */
	VAL_LIST					/* text[] or a jsonb array: params */
} ValueKind;

typedef struct OptValue
{
	ValueKind	kind;
	const char *str;			/* VAL_TEXT, not NUL-terminated */
	int			len;
	bool		b;
	double		d;
	int64		i;
	char	  **list;			/* VAL_LIST: values, NULL for a null */
	int			n;
} OptValue;

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
	memset(&opts->cols, 0, sizeof(opts->cols));
}

/*
 * "a, b, c and d": every option name (aliases: SageMaker's names instead),
 * for the unrecognized-option hint.
 */
static char *
OptionList(bool aliases)
{
	StringInfoData buf;
	size_t		n;
	const FmOptionDef *defs = FmOptionDefs(&n);
	const char *names[64];		/* options fit in FmrecOptionsData.given */
	int			count = 0;

	Assert(n + N_LAYER_OPTIONS <= lengthof(names));

	for (size_t j = 0; j < n; j++)
		if (!aliases || defs[j].alias)
			names[count++] = aliases ? defs[j].alias : defs[j].name;
	for (int j = 0; !aliases && j < N_LAYER_OPTIONS; j++)
		names[count++] = layer_options[j];
	initStringInfo(&buf);
	for (int j = 0; j < count; j++)
	{
		if (j > 0)
			appendStringInfoString(&buf, j + 1 == count ? " and " : ", ");
		appendStringInfoString(&buf, names[j]);
	}
	return buf.data;
}

static void
UnknownOption(const char *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unrecognized training option \"%s\"", key),
			 errhint("Valid options are %s; SageMaker's names %s are accepted too.",
					 OptionList(false), OptionList(true))));
}

static void
WrongType(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("training option \"%s\" has the wrong type", name)));
}

/* Index of a layer option, or -1. */
static int
LayerOption(const char *key)
{
	for (int j = 0; j < N_LAYER_OPTIONS; j++)
		if (strcmp(layer_options[j], key) == 0)
			return j;
	return -1;
}

/*
 * Marks option number `bit` (core table positions first, then the layer's)
 * given; an option given twice, as an argument and in the options object
 * or by both of its names, is an error rather than a silent choice.
 */
static void
MarkGiven(FmrecOptionsData *opts, int bit, const char *name)
{
	if (bit >= 64)
		elog(ERROR, "more training options than FmrecOptionsData.given holds");
	if (opts->given & ((uint64) 1 << bit))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training option \"%s\" is given more than once", name)));
	opts->given |= (uint64) 1 << bit;
}

/* Sets a numeric core option; integers must be whole and in range of their type. */
static void
SetNumber(const FmOptionDef *def, FmrecOptionsData *opts, double v)
{
	char	   *field = (char *) &opts->params + def->offset;

	if (def->kind == FM_OPT_REAL)
		*(double *) field = v;
	else if (!isfinite(v) || v != floor(v) ||
			 (def->kind == FM_OPT_INT && (v < INT_MIN || v > INT_MAX)) ||
			 (def->kind == FM_OPT_INT64 && (v < -9.2e18 || v > 9.2e18)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be an integer", def->name)));
	else if (def->kind == FM_OPT_INT)
		*(int *) field = (int) v;
	else
		*(uint64_t *) field = (uint64_t) (int64) v;
}

/* Applies a layer option's value. */
static void
ApplyLayer(FmrecOptionsData *opts, LayerOpt opt, const OptValue *v)
{
	if (opt == LAYER_QUIET && v->kind == VAL_BOOL)
		opts->quiet = v->b;
	else if (opt == LAYER_PARAMS && v->kind == VAL_LIST)
	{
		opts->cols.params = v->list;
		opts->cols.nparams = v->n;
	}
	else if (opt != LAYER_QUIET && opt != LAYER_PARAMS && v->kind == VAL_TEXT)
	{
		char	   *src = pnstrdup(v->str, v->len);

		if (opt == LAYER_USER_FEATURES)
			opts->user_features = src;
		else if (opt == LAYER_ITEM_FEATURES)
			opts->item_features = src;
		else if (opt == LAYER_WEIGHT)
			opts->cols.weight = src;
		else
			opts->cols.context = src;
	}
	else
		WrongType(layer_options[opt]);
}

/*
 * Applies one option value by name: the one set of rules for SQL arguments
 * and for the keys of an options object.
 */
static void
Apply(FmrecOptionsData *opts, const char *key, const OptValue *v)
{
	size_t		n;
	const FmOptionDef *defs = FmOptionDefs(&n);
	const FmOptionDef *def = FmOptionFind(key);
	char	   *field;

	if (def == NULL)
	{
		int			layer = LayerOption(key);

		if (layer < 0)
			UnknownOption(key);
		MarkGiven(opts, (int) n + layer, key);
		ApplyLayer(opts, (LayerOpt) layer, v);
		return;
	}
	MarkGiven(opts, (int) (def - defs), def->name);
	opts->set |= def->setbit;
	field = (char *) &opts->params + def->offset;
	switch (def->kind)
	{
		case FM_OPT_TASK:
			if (v->kind != VAL_TEXT)
				WrongType(def->name);
			if (!FmTaskFromName(pnstrdup(v->str, v->len), (FmTask *) field))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unrecognized task \"%s\"", pnstrdup(v->str, v->len)),
						 errhint("Use \"regression\" or \"binary\".")));
			break;
		case FM_OPT_SOLVER:
			if (v->kind != VAL_TEXT)
				WrongType(def->name);
			if (!FmSolverFromName(pnstrdup(v->str, v->len), (FmSolver *) field))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unrecognized solver \"%s\"", pnstrdup(v->str, v->len)),
						 errhint("Use %s.", FmSolverList())));
			break;
		case FM_OPT_BOOL:
			if (v->kind != VAL_BOOL)
				WrongType(def->name);
			*(bool *) field = v->b;
			break;
		case FM_OPT_INT64:
			if (v->kind == VAL_INT64)
			{
				*(uint64_t *) field = (uint64_t) v->i;
				break;
			}
			/* FALLTHROUGH */
		case FM_OPT_INT:
		case FM_OPT_REAL:
			if (v->kind == VAL_NUMBER)
				SetNumber(def, opts, v->d);
			else if (v->kind == VAL_INT64)
				SetNumber(def, opts, (double) v->i);
			else
				WrongType(def->name);
			break;
	}
}

/*
 * The elements of a jsonb array as a list of texts: strings as they are,
 * numbers and booleans as they print, null as NULL (a null parameter).
 */
static void
JsonbList(JsonbContainer *arr, OptValue *ov)
{
	int			n = JsonContainerSize(arr);

	ov->kind = VAL_LIST;
	ov->n = n;
	ov->list = palloc0(Max(n, 1) * sizeof(char *));
	for (int j = 0; j < n; j++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(arr, j);

		if (e->type == jbvString)
			ov->list[j] = pnstrdup(e->val.string.val, e->val.string.len);
		else if (e->type == jbvNumeric)
			ov->list[j] = DatumGetCString(DirectFunctionCall1(numeric_out,
															  NumericGetDatum(e->val.numeric)));
		else if (e->type == jbvBool)
			ov->list[j] = pstrdup(e->val.boolean ? "true" : "false");
		else if (e->type != jbvNull)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("query parameters must be strings, numbers, booleans or nulls"),
					 errdetail("Element %d of \"params\" is an array or an object.", j + 1)));
	}
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
		OptValue	ov = {0};

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE || key == NULL)
			continue;
		if (FmOptionFind(key) == NULL && LayerOption(key) < 0)
			UnknownOption(key);
		switch (v.type)
		{
			case jbvNull:
				key = NULL;		/* null: the default */
				continue;
			case jbvString:
				ov.kind = VAL_TEXT;
				ov.str = v.val.string.val;
				ov.len = v.val.string.len;
				break;
			case jbvBool:
				ov.kind = VAL_BOOL;
				ov.b = v.val.boolean;
				break;
			case jbvNumeric:
				ov.kind = VAL_NUMBER;
				ov.d = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
														  NumericGetDatum(v.val.numeric)));
				break;
			case jbvBinary:
				if (!JsonContainerIsArray(v.val.binary.data) ||
					JsonContainerIsScalar(v.val.binary.data))
					WrongType(key);
				JsonbList(v.val.binary.data, &ov);
				break;
			default:
				WrongType(key);
		}
		Apply(opts, key, &ov);
		key = NULL;
	}
}

/*
 * Applies one named SQL argument: an option of the core table, a layer
 * option, or the options object.  Arguments are matched by their declared
 * name, so the SQL signature may list any subset in any order; values are
 * taken exactly as their SQL type holds them.
 */
static void
ApplyArgument(FunctionCallInfo fcinfo, int a, const char *name, Oid type,
			  FmrecOptionsData *opts)
{
	OptValue	v = {0};

	switch (type)
	{
		case JSONBOID:
			if (strcmp(name, "options") != 0)
				elog(ERROR, "fm_train argument \"%s\" has an unsupported type", name);
			ApplyOptionsJsonb(opts, PG_GETARG_JSONB_P(a));
			return;
		case TEXTOID:
			{
				text	   *t = PG_GETARG_TEXT_PP(a);

				v.kind = VAL_TEXT;
				v.str = VARDATA_ANY(t);
				v.len = VARSIZE_ANY_EXHDR(t);
				break;
			}
		case BOOLOID:
			v.kind = VAL_BOOL;
			v.b = PG_GETARG_BOOL(a);
			break;
		case INT4OID:
			v.kind = VAL_NUMBER;
			v.d = PG_GETARG_INT32(a);
			break;
		case INT8OID:
			v.kind = VAL_INT64;
			v.i = PG_GETARG_INT64(a);
			break;
		case FLOAT8OID:
			v.kind = VAL_NUMBER;
			v.d = PG_GETARG_FLOAT8(a);
			break;
		case TEXTARRAYOID:
			v.kind = VAL_LIST;
			v.list = FmrecTextArray(PG_GETARG_ARRAYTYPE_P(a), &v.n);
			break;
		default:
			elog(ERROR, "fm_train argument \"%s\" has an unsupported type", name);
	}
	Apply(opts, name, &v);
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

/* the bytes an option of kind takes in FmParamsData */
static size_t
KindSize(FmOptKind kind)
{
	switch (kind)
	{
		case FM_OPT_TASK:
			return sizeof(FmTask);
		case FM_OPT_SOLVER:
			return sizeof(FmSolver);
		case FM_OPT_INT:
			return sizeof(int);
		case FM_OPT_INT64:
			return sizeof(uint64_t);
		case FM_OPT_REAL:
			return sizeof(double);
		case FM_OPT_BOOL:
			return sizeof(bool);
	}
	return 0;
}

/*
 * The options of fm_update: the model's own hyperparameters (for a model
 * not trained with SGD, SGD's defaults for its step size and
 * regularization, with the model's task, factors and other settings), on
 * the SGD solver, with what jb gives on top.  The task and the factors
 * are the model's and cannot change; attributes cannot be given.
 */
void
FmrecOptionsForUpdate(const FmParamsData *model, Jsonb *jb, FmrecOptionsData *opts)
{
	FmrecOptionsData given;
	size_t		n;
	const FmOptionDef *defs = FmOptionDefs(&n);

	Init(&given);
	if (jb != NULL)
		ApplyOptionsJsonb(&given, jb);
	if (given.user_features || given.item_features)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fm_update does not take attributes"),
				 errhint("Retrain with fm_train to change a model's attributes.")));
	if (given.cols.context)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fm_update does not take context columns"),
				 errhint("Retrain with fm_train to train on context.")));
	Init(opts);
	if (model->solver == FM_SOLVER_SGD)
		opts->params = *model;
	else
	{
		FmParamsData *p = &opts->params;

		FmParamsSolverDefaults(p, FM_SOLVER_SGD, 0);
		p->task = model->task;
		p->factors = model->factors;
		p->threshold = model->threshold;
		p->seed = model->seed;
		p->store_seen = model->store_seen;
		p->validation = model->validation;
		p->patience = model->patience;
	}
	opts->params.solver = FM_SOLVER_SGD;
	opts->params.threads = -1;
	/*
	 * A few passes: the new rows are few and more passes overfit them
	 * (measured, README: Continual updates); BPR's sampled negatives
	 * take a couple more.
	 */
	opts->params.epochs = model->task == FM_TASK_IMPLICIT ?
		FMREC_UPDATE_EPOCHS_BPR : FMREC_UPDATE_EPOCHS;
	for (size_t j = 0; j < n; j++)
	{
		if (!(given.given & ((uint64) 1 << j)))
			continue;
		if (defs[j].offset == offsetof(FmParamsData, task) ||
			defs[j].offset == offsetof(FmParamsData, factors) ||
			defs[j].offset == offsetof(FmParamsData, solver))
		{
			if (memcmp((char *) &given.params + defs[j].offset,
					   (const char *) model + defs[j].offset,
					   KindSize(defs[j].kind)) != 0 &&
				defs[j].offset != offsetof(FmParamsData, solver))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("fm_update cannot change a model's %s", defs[j].name),
						 errhint("Train a new model with fm_train.")));
			if (defs[j].offset == offsetof(FmParamsData, solver) &&
				given.params.solver != FM_SOLVER_SGD)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("fm_update trains with the sgd solver only")));
			continue;
		}
		memcpy((char *) &opts->params + defs[j].offset,
			   (char *) &given.params + defs[j].offset, KindSize(defs[j].kind));
	}
	opts->quiet = given.quiet;
	opts->cols = given.cols;
	/* every value is decided: no solver default may replace one */
	opts->set = ~0u;
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
	if (p->task == FM_TASK_IMPLICIT)
	{
		AppendReal(&buf, "alpha", p->alpha);
		AppendReal(&buf, "unobserved_weight", p->unobserved_weight);
		AppendReal(&buf, "reg_exponent", p->reg_exponent);
		AppendReal(&buf, "log_epsilon", p->log_epsilon);
		AppendReal(&buf, "strength_exponent", p->strength_exponent);
	}
	if (p->solver == FM_SOLVER_ITEM_COSINE)
		appendStringInfo(&buf, ", \"neighbors\": %d", p->neighbors);
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
	AppendReal(&buf, m->task == FM_TASK_BINARY ? "train_logloss" :
			   (m->task == FM_TASK_IMPLICIT ? "train_loss" : "train_rmse"),
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
		if (timing->extra)
			appendStringInfo(&buf, ", %s", timing->extra);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}
