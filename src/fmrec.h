/*
 * fmrec.h
 *	  The PostgreSQL layer of fmrec: declarations shared by its files.
 *
 * The layer is thin: it reads rows through SPI, converts Datums, keeps
 * models in the fm_models catalog and a per-backend cache, and turns core
 * status codes into ereport() calls.  All maths lives in src/core.
 */
#ifndef FMREC_H
#define FMREC_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "fm.h"

#define FMREC_MAX_NAME (NAMEDATALEN - 1)

/* fmrec.max_training_memory's default: 2 GB, in kB */
#define FMREC_DEFAULT_TRAINING_KB (2 * 1024 * 1024)

/* settings */
extern char *fmrec_model;
extern int	fmrec_threads;
extern int	fmrec_keep_versions;
extern int	fmrec_cache_size_kb;
extern int	fmrec_max_model_size_kb;
extern int	fmrec_max_training_memory_kb;

/* one varlena holds at most 1 GB, header included */
#define FMREC_MAX_MODEL_KB	((int) ((MaxAllocSize - VARHDRSZ) / 1024))

/* fmrec.c */
extern void FmrecReport(FmStatus st, const char *err);
extern bool FmrecOverMemory(double bytes);
extern char *FmrecPrettySize(double bytes);
extern Datum FmrecRounded(double x, int places);
extern void FmrecCheckWritable(const char *what);
extern double FmrecSeconds(void);
extern bool FmrecEvaluate(const FmModelData *m, const FmRatingsData *test,
						  const FmEvalOptions *o, FmEvalMetrics *model,
						  FmEvalMetrics *pop);
extern char **FmrecTextArray(ArrayType *a, int *n);
extern char *FmrecMemoryLimit(void);
extern void FmrecCheckName(const char *name);
extern void FmrecRegisterFree(MemoryContext cxt, void (*fn) (void *), void *arg);
extern void FmrecInitSrf(FunctionCallInfo fcinfo);
extern char *FmrecFeatureName(const char *column, const char *value, size_t vlen);

/*
 * How a ratings query is read beyond its first three columns (load.c):
 * the row weight is the column named "weight" (or the weight option),
 * context columns are those the context option lists ("*": every other
 * one), and any other column is an error, never a silent role.
 */
typedef struct FmrecColumnsData
{
	const char *weight;			/* the weight column's name; NULL: "weight" */
	const char *context;		/* "a, b" or "*"; NULL: no context */
	char	  **params;			/* values of the query's $1..$n (NULL: null) */
	int			nparams;
	bool		first_three;	/* read the first three columns only */
} FmrecColumnsData;

/* options.c */
typedef struct FmrecOptionsData
{
	FmParamsData params;
	bool		quiet;
	unsigned	set;			/* FM_SET_* bits of options given explicitly */
	uint64		given;			/* options seen, by table position */
	char	   *user_features;	/* attribute sources, or NULL */
	char	   *item_features;
	FmrecColumnsData cols;		/* how the ratings query's columns are read */
} FmrecOptionsData;

extern void FmrecOptionsFromArgs(FunctionCallInfo fcinfo, int first,
								 FmrecOptionsData *opts);
extern void FmrecOptionsFromJsonb(Jsonb *jb, FmrecOptionsData *opts);
extern void FmrecOptionsFinish(FmrecOptionsData *opts);
extern void FmrecOptionsForUpdate(const FmParamsData *model, Jsonb *jb,
								  FmrecOptionsData *opts);
extern bool FmrecOptionGiven(const FmrecOptionsData *opts, const char *name);
extern char *FmrecParamsJson(const FmParamsData *p, bool with_threads);
/* wall-clock seconds of a training run's phases; negative when unknown */
typedef struct FmrecTimingData
{
	double		load;
	double		train;
	double		total;
	const char *extra;			/* more "key": value members, or NULL */
} FmrecTimingData;

extern char *FmrecMetricsJson(const FmModelData *m, const FmrecTimingData *timing);

/* load.c */
extern void FmrecLoadRatings(const char *source, FmRatings r, bool choices,
							 const FmrecColumnsData *cols);
extern char *FmrecSourceQuery(const char *source);
extern char *FmrecSampleQuery(const char *source, double rows, uint64 seed);
extern bool FmrecIsIntegerType(Oid t);
extern bool FmrecIsNumericType(Oid t);
extern FmRatings FmrecNewRatings(MemoryContext cxt);
extern uint64 FmrecReadQuery(const char *source, const char *query,
							 const FmrecColumnsData *cols,
							 void (*check) (void *arg, TupleDesc desc),
							 void (*row) (void *arg, TupleDesc desc, HeapTuple tup,
										  uint64 rowno),
							 void *arg);
extern void FmrecLoadSide(const char *source, FmSide side);
extern FmSide FmrecNewSide(MemoryContext cxt, const char *source);
extern void FmrecCheckRowsMemory(const FmRatingsData *r,
								 const FmRatingsData *more);
extern void FmrecAddRating(FmRatings r, int64 user, int64 item, double rating,
						   double weight, uint64 rowno);

/* catalog.c */
extern int64 FmrecStoreModel(const char *name, const FmModelData *m,
							 const bytea *bytes, const FmrecTimingData *timing);
extern bool FmrecModelVersion(const char *name, int64 *version);
extern bytea *FmrecModelBytes(const char *name, int64 version);
extern int64 FmrecLockOwnedModel(const char *name);
extern void FmrecCheckMayWrite(const char *name);

/* cache.c */
extern FmModel FmrecModelByName(FunctionCallInfo fcinfo, const char *name,
								int len);
extern FmModel FmrecModelByBytes(FunctionCallInfo fcinfo, Datum bytes);
extern FmModel FmrecDecode(const void *bytes, size_t len);

/* train.c */
extern FmDataset FmrecBuildDataset(const FmRatingsData *ratings,
								   const FmSideData *users,
								   const FmSideData *items);
extern bytea *FmrecEncodeModel(const FmModelData *m);
extern FmModel FmrecTrainDataset(const FmDatasetData *ds,
								 const FmrecOptionsData *opts,
								 double *seconds);
#define FMREC_UPDATE_COLUMNS 10
/* fm_update's default epochs (README: Continual updates) */
#define FMREC_UPDATE_EPOCHS 3
#define FMREC_UPDATE_EPOCHS_BPR 15
/* and its default replay: this many older rows per new row */
#define FMREC_UPDATE_REPLAY 2
extern void FmrecUpdateModel(const char *name, const char *source,
							 const char *replay, int64 replay_rows,
							 Jsonb *options, Datum *values, bool *nulls);
extern FmModel FmrecTrainDatasetFrom(const FmDatasetData *ds,
									 const FmrecOptionsData *opts,
									 const FmModelData *warm, double *seconds);

#endif							/* FMREC_H */
