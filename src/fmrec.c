/*
 * fmrec.c
 *	  Module entry point, settings, and the core-to-ereport bridge.
 */
#include "postgres.h"

#include <math.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "fmrec.h"

PG_MODULE_MAGIC;

char	   *fmrec_model = NULL;
int			fmrec_threads = 1;
int			fmrec_keep_versions = 3;
int			fmrec_cache_size_kb = 256 * 1024;
int			fmrec_max_model_size_kb = FMREC_MAX_MODEL_KB;
int			fmrec_max_training_memory_kb = FMREC_DEFAULT_TRAINING_KB;

void		_PG_init(void);

/* Defines fmrec's settings. */
void
_PG_init(void)
{
	DefineCustomStringVariable("fmrec.model",
							   "Model used by fm_predict(user, item) and fm_topn(user, n).",
							   "The name of a row of fm_models.",
							   &fmrec_model,
							   NULL,
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("fmrec.threads",
							"Default number of training threads.",
							"fm_train's threads argument overrides it; "
							"it is capped at the number of CPUs.",
							&fmrec_threads,
							1, 1, FM_MAX_THREADS,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("fmrec.keep_versions",
							"Earlier versions of each model kept in fm_model_versions.",
							"Each write of a model keeps the version it replaces; "
							"the oldest beyond this many are deleted, 0 keeps none.",
							&fmrec_keep_versions,
							3, 0, 1000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("fmrec.cache_size",
							"Memory for decoded models cached by each backend.",
							"Least recently used models are evicted beyond it; "
							"a model in use by the current statement is never evicted.",
							&fmrec_cache_size_kb,
							256 * 1024, 0, MAX_KILOBYTES,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("fmrec.max_model_size",
							"Largest model bytes fm_train and fm_train_agg may produce.",
							"Its ceiling is what one PostgreSQL value can hold (1 GB); "
							"a model past it is refused before anything is stored.",
							&fmrec_max_model_size_kb,
							FMREC_MAX_MODEL_KB, 1, FMREC_MAX_MODEL_KB,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	/*
	 * A protection of the server, not a tuning knob: only superusers (or
	 * roles granted SET on it) may change it.
	 */
	DefineCustomIntVariable("fmrec.max_training_memory",
							"Largest memory one training or data generation may use.",
							"fm_train, fm_train_agg and fm_synthetic_ratings estimate "
							"their memory before allocating it and refuse past this.",
							&fmrec_max_training_memory_kb,
							FMREC_DEFAULT_TRAINING_KB, 1024, MAX_KILOBYTES,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("fmrec");
}

/* True when an estimate of bytes is past fmrec.max_training_memory. */
bool
FmrecOverMemory(double bytes)
{
	return !(bytes <= (double) fmrec_max_training_memory_kb * 1024.0);
}

/* A monotonic clock, in seconds. */
double
FmrecSeconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * A text[] as C strings (NULL elements as NULL pointers), its length in
 * *n: the values of a ratings query's bound parameters.
 */
char	  **
FmrecTextArray(ArrayType *a, int *n)
{
	Datum	   *elems;
	bool	   *enulls;
	char	  **out;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, n);
	out = palloc0(Max(*n, 1) * sizeof(char *));
	for (int j = 0; j < *n; j++)
		out[j] = enulls[j] ? NULL : TextDatumGetCString(elems[j]);
	return out;
}

/*
 * Training writes a model: refuse at once in a read-only transaction (on
 * a standby, say) rather than after the rows are read and trained on.
 */
void
FmrecCheckWritable(const char *what)
{
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot run %s in a read-only transaction", what),
				 RecoveryInProgress() ?
				 errhint("This server is a standby: train on the primary; the standby serves the model once it is replayed.") :
				 errhint("Train in a read-write transaction.")));
}

/*
 * A result column for people to read: x rounded to places decimals (seconds
 * to the millisecond, metrics to six places), so psql shows 0.434 rather
 * than 0.43405675900001484.  The full values stay in the model's metrics.
 * Infinite and NaN values are returned as they are.
 */
Datum
FmrecRounded(double x, int places)
{
	double		scale = pow(10.0, places);

	if (!isfinite(x) || fabs(x) * scale > 1e15)
		return Float8GetDatum(x);
	return Float8GetDatum(rint(x * scale) / scale);
}

/* bytes as pg_size_pretty spells them ("21 GB"), for messages */
char *
FmrecPrettySize(double bytes)
{
	int64		b = bytes < 9.2e18 ? (int64) bytes : PG_INT64_MAX;

	return text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty,
															  Int64GetDatum(b))));
}

/* The limit as a string, for messages. */
char *
FmrecMemoryLimit(void)
{
	return FmrecPrettySize((double) fmrec_max_training_memory_kb * 1024.0);
}

/* Raises the ERROR matching a failed core status. */
void
FmrecReport(FmStatus st, const char *err)
{
	switch (st)
	{
		case FM_OK:
		case FM_RUNNING:
		case FM_EPOCH_END:
		case FM_DONE:
			return;
		case FM_ERR_PARAM:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s", err)));
			break;
		case FM_ERR_DATA:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s", err)));
			break;
		case FM_ERR_NOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("%s.", err)));
			break;
		case FM_ERR_LIMIT:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s", err)));
			break;
		case FM_ERR_CORRUPT:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid fmrec model"),
					 errdetail("The model bytes are damaged: %s.", err),
					 errhint("Retrain the model or restore it from a backup.")));
			break;
		case FM_ERR_DIVERGED:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s", err),
					 errdetail("The training loss exploded or the parameters became infinite or NaN; no model was stored."),
					 errhint("Lower learning_rate (SGD) or raise the regularization; for ALS and MCMC, raise the regularization or lower init_stdev.")));
			break;
		case FM_ERR_THREAD:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("%s", err),
					 errhint("Lower threads or fmrec.threads.")));
			break;
	}
	elog(ERROR, "unexpected fmrec status %d", (int) st);
}

void
FmrecCheckName(const char *name)
{
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("model name must not be empty")));
	if (strlen(name) > FMREC_MAX_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name \"%s\" is too long", name),
				 errdetail("Model names are limited to %d bytes.", FMREC_MAX_NAME)));
}

/* Sets up a materialized set-returning call. */
void
FmrecInitSrf(FunctionCallInfo fcinfo)
{
#if PG_VERSION_NUM >= 160000
	InitMaterializedSRF(fcinfo, 0);
#else
	SetSingleFuncCall(fcinfo, 0);
#endif
}

typedef struct FreeCallback
{
	MemoryContextCallback cb;
	void		(*fn) (void *);
	void	   *arg;
} FreeCallback;

static void
RunFree(void *arg)
{
	FreeCallback *f = arg;

	if (f->arg)
		f->fn(f->arg);
	f->arg = NULL;
}

/*
 * Frees a malloc'ed core object when cxt is reset or deleted, so an ERROR
 * anywhere leaks nothing and stops any worker threads.
 */
void
FmrecRegisterFree(MemoryContext cxt, void (*fn) (void *), void *arg)
{
	FreeCallback *f = MemoryContextAllocZero(cxt, sizeof(FreeCallback));

	f->fn = fn;
	f->arg = arg;
	f->cb.func = RunFree;
	f->cb.arg = f;
	MemoryContextRegisterResetCallback(cxt, &f->cb);
}

/* The core's name for value[0..vlen) of a categorical column, palloc'd. */
char *
FmrecFeatureName(const char *column, const char *value, size_t vlen)
{
	size_t		clen = strlen(column);
	char	   *name = palloc(FM_FEATURE_NAME_SIZE(clen, vlen));

	FmFeatureName(name, column, clen, value, vlen);
	return name;
}
