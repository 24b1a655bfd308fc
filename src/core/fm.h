/*
 * fm.h
 *	  The fmrec core: Factorization Machines without PostgreSQL.
 *
 * Everything under src/core is plain C99 plus pthreads, protobuf-c and
 * CBLAS.  It includes no PostgreSQL header, allocates with malloc, never
 * longjmps and reports failure through return codes and a message buffer,
 * so it can be unit-tested, fuzzed and benchmarked without a server.  The
 * PostgreSQL layer (the files in src/) converts Datums, turns FmStatus codes into
 * ereport() calls and frees core objects from memory-context callbacks.
 *
 * The model is Rendle's factorization machine over the one-hot row
 * (user u, item i):
 *
 *		y(u, i) = w0 + w_u + w_i + <v_u, v_i>
 *
 * User and item parameters are kept in dense arrays indexed by a "dense
 * index": the rank of the id among the distinct ids, so memory follows the
 * number of distinct ids, never the largest id.
 */
#ifndef FM_H
#define FM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * memcpy of n bytes that may be 0 with a NULL source or destination (an
 * empty array is often NULL here); memcpy itself requires valid pointers
 * even for n = 0.
 */
/*
 * True when x is finite and converts to a finite float: converting a
 * double past FLT_MAX to float is undefined behaviour in C.
 */
static inline bool
FmFitsFloat(double x)
{
	return x >= -3.4028234663852886e38 && x <= 3.4028234663852886e38;
}

static inline void
FmCopy(void *dst, const void *src, size_t n)
{
	if (n > 0)
		memcpy(dst, src, n);
}

#define FM_MAGIC			0x43524D46u /* "FMRC" */
#define FM_FORMAT_VERSION	2	/* what FmModelEncode writes; 1 is still read */

#define FM_MAX_FACTORS		1024
#define FM_MAX_EPOCHS		100000
#define FM_MAX_BATCH		1000000
#define FM_MAX_THREADS		64
#define FM_MAX_NEIGHBORS	10000
#define FM_MAX_IDS			((uint32_t) 0x7FFFFFFF)
#define FM_ERRLEN			256

typedef enum FmStatus
{
	FM_OK = 0,
	FM_RUNNING,					/* trainer: more work in this epoch */
	FM_EPOCH_END,				/* trainer: an epoch just finished */
	FM_DONE,					/* trainer: training is over */
	FM_ERR_PARAM,				/* a hyperparameter is out of range */
	FM_ERR_DATA,				/* the input data cannot be trained on */
	FM_ERR_NOMEM,				/* malloc failed */
	FM_ERR_LIMIT,				/* a count exceeds what the format holds */
	FM_ERR_CORRUPT,				/* model bytes fail validation */
	FM_ERR_DIVERGED,			/* training produced NaN or Inf */
	FM_ERR_THREAD				/* a worker thread could not start */
} FmStatus;

typedef enum FmTask
{
	FM_TASK_REGRESSION = 0,
	FM_TASK_BINARY = 1,
	FM_TASK_IMPLICIT = 2		/* choices (clicks, plays), unobserved pairs as negatives */
} FmTask;

typedef enum FmSolver
{
	FM_SOLVER_SGD = 0,			/* sgd.c: Adagrad SGD */
	FM_SOLVER_ALS = 1,			/* cd.c: alternating least squares */
	FM_SOLVER_MCMC = 2,			/* cd.c: Gibbs sampling, Bayesian FM */
	FM_SOLVER_ITEM_COSINE = 3	/* itemknn.c: item-item cosine neighbors */
} FmSolver;

/* Hyperparameters; names follow SageMaker FM where one exists. */
typedef struct FmParamsData
{
	FmTask		task;
	int			factors;		/* num_factors */
	int			epochs;
	int			batch_size;		/* mini_batch_size */
	double		learning_rate;
	double		reg_bias;		/* bias_wd */
	double		reg_linear;		/* linear_wd */
	double		reg_factors;	/* factors_wd */
	double		init_stdev;		/* factors_init_sigma */
	double		threshold;		/* binary: label = rating >= threshold */
	double		validation;		/* hold-out fraction, 0 = none */
	int			patience;		/* epochs without improvement before stop */
	uint64_t	seed;
	int			threads;
	bool		store_seen;		/* keep each user's rated items */
	FmSolver	solver;
	int			burn_in;		/* MCMC: iterations discarded before averaging */
	double		alpha;			/* implicit: confidence 1 + alpha * strength */
	double		unobserved_weight;	/* implicit: confidence of an unobserved pair */
	double		reg_exponent;	/* implicit: reg x (pairs + w0 x others)^this */
	double		log_epsilon;	/* implicit: > 0: confidence 1 + alpha log(1 + s / this) */
	double		strength_exponent;	/* implicit, alpha 0: confidence w0 + (1 - w0) w (s / mean)^this */
	double		strength_mean;	/* implicit: weighted mean strength of the training rows (set by training) */
	int			neighbors;		/* item_cosine: similar items kept per item */
} FmParamsData;

typedef FmParamsData *FmParams;

/* params.c: the table of options, defaults and checks */
typedef enum FmOptKind
{
	FM_OPT_TASK,
	FM_OPT_SOLVER,
	FM_OPT_INT,
	FM_OPT_INT64,
	FM_OPT_REAL,
	FM_OPT_BOOL
} FmOptKind;

typedef struct FmOptionDef
{
	const char *name;
	const char *alias;			/* SageMaker's name, or NULL */
	FmOptKind	kind;
	size_t		offset;			/* in FmParamsData */
	double		min;			/* range of FM_OPT_INT and FM_OPT_REAL */
	double		max;
	unsigned	setbit;			/* FM_SET_* when solver defaults depend on it */
} FmOptionDef;

#define FM_MAX_REG			1e6

extern void FmParamsDefault(FmParams p);
extern FmStatus FmParamsCheck(const FmParamsData *p, char *err, size_t errlen);
extern void FmParamsSolverDefaults(FmParams p, FmSolver solver, unsigned set);
extern const FmOptionDef *FmOptionDefs(size_t *n);
extern const FmOptionDef *FmOptionFind(const char *name);
extern double FmConfidenceBase(const FmParamsData *p);
extern double FmConfidenceExtra(const FmParamsData *p, double strength, double weight);
extern double FmTypicalStrength(const FmParamsData *p);
extern double FmImplicitReg(const FmParamsData *p, double pairs, double others);
extern const char *FmTaskName(FmTask task);
extern bool FmTaskFromName(const char *name, FmTask *task);

/* solvers.c */
extern const char *FmSolverName(FmSolver solver);
extern const char *FmSolverUnit(FmSolver solver, FmTask task, bool features);
extern bool FmSolverFromName(const char *name, FmSolver *solver);
extern bool FmSolverKnown(FmSolver solver);
extern bool FmSolverSupports(FmSolver solver, FmTask task);
extern const char *FmSolverList(void);

/* FmParamsSolverDefaults: bits of the options the user gave explicitly */
#define FM_SET_EPOCHS		0x01
#define FM_SET_REG_LINEAR	0x02
#define FM_SET_REG_FACTORS	0x04
#define FM_SET_INIT_STDEV	0x08
#define FM_SET_BURN_IN		0x10
#define FM_SET_SOLVER		0x20
#define FM_SET_ALPHA		0x40
#define FM_SET_UNOBSERVED	0x80
#define FM_SET_REG_EXPONENT	0x100
#define FM_SET_FACTORS		0x200
#define FM_SET_STRENGTH_EXP	0x400

/* ---------------------------------------------------------------- */
/* idmap.c: int64 id -> dense index, open addressing */

typedef struct FmIdMapData
{
	int64_t    *keys;
	uint32_t   *vals;			/* UINT32_MAX marks an empty slot */
	size_t		mask;
	size_t		count;
} FmIdMapData;

typedef FmIdMapData *FmIdMap;

extern FmStatus FmIdMapInit(FmIdMap map, size_t expected);
extern void FmIdMapFree(FmIdMap map);
/* returns the existing value, or inserts val and returns it */
extern FmStatus FmIdMapPut(FmIdMap map, int64_t key, uint32_t val,
						   uint32_t *found);
/* returns -1 when absent */
extern int64_t FmIdMapGet(const FmIdMapData *map, int64_t key);

/* ---------------------------------------------------------------- */
/* featdict.c: feature names -> indexes; side-feature input */

typedef struct FmFeatDictData
{
	char	  **names;			/* NUL-terminated copies */
	size_t	   *lens;
	size_t		n;
	size_t		cap;
	uint32_t   *slots;			/* open addressing, UINT32_MAX = empty */
	size_t		mask;
} FmFeatDictData;

typedef FmFeatDictData *FmFeatDict;

extern void FmFeatDictInit(FmFeatDict d);
extern void FmFeatDictFree(FmFeatDict d);
extern FmStatus FmFeatDictIntern(FmFeatDict d, const char *name, size_t len,
								 uint32_t *idx);
extern int64_t FmFeatDictGet(const FmFeatDictData *d, const char *name,
							 size_t len);

/* (id, feature, value) triples of user or item attributes, as loaded */
typedef struct FmSideData
{
	FmFeatDictData dict;
	size_t		n;
	size_t		cap;
	int64_t    *id;
	uint32_t   *feat;			/* index in dict */
	float	   *val;
} FmSideData;

typedef FmSideData *FmSide;

extern void FmSideInit(FmSide s);
extern void FmSideFree(FmSide s);
extern FmStatus FmSideAdd(FmSide s, int64_t id, const char *name, size_t len,
						  float val);
extern double FmSideMemory(const FmSideData *s);

/* ---------------------------------------------------------------- */
/* ratings.c: raw input rows as the SQL layer reads them */

typedef struct FmRatingsData
{
	size_t		n;
	size_t		cap;
	int64_t    *user;
	int64_t    *item;
	float	   *rating;
	float	   *weight;			/* NULL until the first weighted row */
	/* per-row context features; ctx_off is NULL until the first one */
	FmFeatDictData ctx_dict;
	uint64_t   *ctx_off;		/* row j's features: [ctx_off[j], ctx_off[j+1]) */
	uint32_t   *ctx_feat;
	float	   *ctx_val;
	size_t		ctx_n;
	size_t		ctx_cap;
} FmRatingsData;

typedef FmRatingsData *FmRatings;

extern void FmRatingsInit(FmRatings r);
extern void FmRatingsFree(FmRatings r);
typedef enum FmRowProblem
{
	FM_ROW_OK = 0,
	FM_ROW_BAD_RATING,			/* not finite, also as a float */
	FM_ROW_BAD_WEIGHT			/* not finite, or negative */
} FmRowProblem;

extern FmRowProblem FmRatingCheck(double rating, double weight);
extern FmStatus FmRatingsAdd(FmRatings r, int64_t user, int64_t item,
							 double rating, double weight);
extern size_t FmRatingsSerializedSize(const FmRatingsData *r);
extern FmStatus FmRatingsSerialize(const FmRatingsData *r, uint8_t *out);
extern FmStatus FmRatingsDeserialize(FmRatings r, const uint8_t *in,
									 size_t len, size_t *used);
extern FmStatus FmRatingsAddContext(FmRatings r, const char *name, size_t len,
									float val);

/*
 * The one vocabulary of feature names (featdict.c), used by training and
 * by scoring alike: a categorical value v of column c is the feature
 * "c=v", a boolean's value is spelled "true" or "false", and a real value
 * is the feature "c" itself, with the value as x.
 */
#define FM_FEATURE_NAME_SIZE(clen, vlen) ((clen) + (vlen) + 2)
extern void FmFeatureName(char *out, const char *column, size_t clen,
						  const char *value, size_t vlen);
extern const char *FmBoolText(bool value);
extern FmStatus FmRatingsAppend(FmRatings dst, const FmRatingsData *src);
extern FmStatus FmRatingsSplit(const FmRatingsData *src, size_t lo, size_t hi,
							   uint64_t seed, int folds, int fold,
							   double fraction, FmRatings keep, FmRatings hold);
extern double FmRatingsMemory(const FmRatingsData *r);
extern size_t FmRatingsSample(const FmRatingsData *r, size_t count,
							  uint64_t seed, size_t *pick);

/* ---------------------------------------------------------------- */
/* dataset.c: the canonical training set */

typedef struct FmRow
{
	uint32_t	u;
	uint32_t	i;
	float		y;
	float		w;
	uint32_t	c;				/* canonical row number, for its context */
} FmRow;

/*
 * Sparse lists of features per entity (user, item or rating row): entity
 * e has features feat[off[e] .. off[e + 1]) with values val[...], feature
 * indexes ascending.  off == NULL means no entity has any.
 */
typedef struct FmListsData
{
	uint64_t   *off;
	uint32_t   *feat;
	float	   *val;
} FmListsData;

/* names of one feature namespace, sorted; index = position */
typedef struct FmNamesData
{
	uint32_t	n;
	char	  **names;
} FmNamesData;

/*
 * Ids are numbered in ascending order, feature names in sorted order, and
 * rows sorted by (user, item, rating, weight, context), so the dataset,
 * and with it the trained model, does not depend on the order the rows
 * arrived in.  Users and items are those of the ratings plus those that
 * only have attributes.
 */
typedef struct FmDatasetData
{
	uint32_t	n_users;
	uint32_t	n_items;
	int64_t    *user_ids;		/* ascending */
	int64_t    *item_ids;		/* ascending */
	size_t		n_rows;
	FmRow	   *rows;			/* sorted by (u, i, y, w, context) */
	bool		weighted;
	float		min_rating;
	float		max_rating;
	FmNamesData ufeat;			/* user attribute names */
	FmNamesData ifeat;			/* item attribute names */
	FmNamesData cfeat;			/* context feature names */
	FmListsData uattr;			/* per user */
	FmListsData iattr;			/* per item */
	FmListsData ctx;			/* per canonical row */
	uint64_t	n_uattr;
	uint64_t	n_iattr;
	uint64_t	n_ctx;
	uint32_t	max_nnz;		/* most features in one row, ids included */
} FmDatasetData;

typedef FmDatasetData *FmDataset;

extern void FmNamesFree(FmNamesData *n);
extern void FmListsFree(FmListsData *l);
extern int	FmCompareInt64(const void *a, const void *b);
extern FmStatus FmDatasetBuild(FmDataset ds, const FmRatingsData *r,
							   const FmSideData *users, const FmSideData *items,
							   char *err, size_t errlen);
extern void FmDatasetFree(FmDataset ds);
extern bool FmDatasetHasFeatures(const FmDatasetData *ds);
extern double FmDatasetMemory(const FmDatasetData *ds);
extern FmStatus FmDatasetSplitRatings(const FmDatasetData *ds, uint64_t seed,
									  double fraction, FmRatings keep,
									  FmRatings hold);

/* ---------------------------------------------------------------- */
/* model.c: a trained model, ready to score */

typedef struct FmTrainInfoData
{
	uint64_t	rows;
	uint64_t	train_rows;
	uint32_t	epochs_run;
	uint32_t	best_epoch;
	double		train_loss;
	double		valid_rmse;		/* NaN when not measured */
	double		valid_auc;
	double		valid_logloss;
} FmTrainInfoData;

typedef struct FmModelData
{
	FmTask		task;
	int			k;
	uint32_t	n_users;
	uint32_t	n_items;
	int64_t    *user_ids;		/* ascending */
	int64_t    *item_ids;		/* ascending */
	FmIdMapData umap;
	FmIdMapData imap;
	float		w0;
	float	   *wu;
	float	   *wi;
	float	   *vu;				/* n_users x k, row-major */
	float	   *vi;				/* n_items x k, row-major */
	float		min_rating;
	float		max_rating;
	float		threshold;
	uint64_t   *seen_off;		/* n_users + 1 offsets into seen */
	uint32_t   *seen;			/* item indexes, ascending per user */
	FmParamsData params;
	FmTrainInfoData info;

	/*
	 * Side features (model.c, features.c).  All counts are 0 and pointers
	 * NULL in a model trained without any.  v*f are row-major, k floats
	 * per feature.
	 */
	FmNamesData ufeat;			/* user attributes */
	FmNamesData ifeat;			/* item attributes */
	FmNamesData cfeat;			/* context features */
	float	   *wuf;
	float	   *vuf;
	float	   *wif;
	float	   *vif;
	float	   *wcf;
	float	   *vcf;
	FmListsData uattr;			/* each user's attributes */
	FmListsData iattr;			/* each item's attributes */
	uint8_t    *user_rated;		/* 1 when the user had ratings; NULL: all */
	uint8_t    *item_rated;
	FmFeatDictData udict;		/* name lookups, built by FmModelIndex */
	FmFeatDictData idict;
	FmFeatDictData cdict;

	/*
	 * Composite representations, built by FmModelIndex: a user's factor
	 * vector plus its attributes' (pu), and the matching bias with the
	 * attributes' linear terms and pairwise interactions (bu); the same
	 * for items.  They alias vu/wu and vi/wi when there are no attributes,
	 * so scoring is always one dot product per pair.
	 */
	float	   *pu;
	float	   *bu;
	float	   *qi;
	float	   *bi;

	uint32_t   *item_count;		/* training rows per item, or NULL */
	float	   *gram;			/* implicit: k x k items' Gramian, lower */
	float	   *gramb;			/* implicit: k, sum of b_i q_i */
	float	   *qnorm;			/* |q_i|, for cosine similarity */
	/* item-item models (item_cosine): each item's neighbors and weights */
	FmListsData nbr;			/* off NULL: an FM */
	uint64_t	n_nbr;
	size_t		mem_bytes;		/* memory held, for the serving cache */
} FmModelData;

typedef FmModelData *FmModel;

extern FmModel FmModelAlloc(FmTask task, int k, uint32_t n_users,
							uint32_t n_items, uint64_t n_seen);
extern FmStatus FmModelAllocFeatures(FmModel m, uint32_t n_uf, uint32_t n_if,
									 uint32_t n_cf, uint64_t n_uattr,
									 uint64_t n_iattr);
extern FmStatus FmModelIndex(FmModel m);
extern bool FmModelHasFeatures(const FmModelData *m);
extern void FmModelFree(FmModel m);
extern int64_t FmModelUserIndex(const FmModelData *m, int64_t user);
extern int64_t FmModelItemIndex(const FmModelData *m, int64_t item);
extern double FmModelRaw(const FmModelData *m, int64_t uidx, int64_t iidx);
extern double FmModelOutput(const FmModelData *m, double raw);
extern double FmModelPredict(const FmModelData *m, int64_t user, int64_t item);
extern double FmItemItemScore(const FmModelData *m, const uint32_t *seen,
							  size_t n_seen, const int64_t *session,
							  size_t n_session, int64_t iidx);
extern size_t FmItemItemScores(const FmModelData *m, const uint32_t *seen,
							   size_t n_seen, const int64_t *session,
							   size_t n_session, float *scores);
extern FmStatus FmModelMergeUpdate(const FmModelData *old, const FmModelData *upd,
								   const uint32_t *new_counts, uint64_t new_rows,
								   FmModel *out);

/* ---------------------------------------------------------------- */
/* trainer.c: a training, stepped by the caller between interrupt checks */

typedef struct FmTrainerData *FmTrainer;

typedef struct FmEpochStats
{
	int			epoch;			/* 1-based */
	double		train_loss;		/* RMSE (regression) or log loss */
	double		valid_rmse;		/* NaN when not measured */
	double		valid_auc;
	double		valid_logloss;
	bool		improved;
} FmEpochStats;

extern FmStatus FmTrainerCreate(const FmDatasetData *ds, const FmParamsData *p,
								FmTrainer *out, char *err, size_t errlen);
extern FmStatus FmTrainerCreateFrom(const FmDatasetData *ds, const FmParamsData *p,
									const FmModelData *warm, FmTrainer *out,
									char *err, size_t errlen);
extern FmStatus FmTrainerStep(FmTrainer t, char *err, size_t errlen);
extern const FmEpochStats *FmTrainerEpoch(FmTrainer t);
extern FmStatus FmTrainerFinish(FmTrainer t, FmModel *out);
extern void FmTrainerFree(FmTrainer t);
extern double FmTrainMemory(const FmDatasetData *ds, const FmParamsData *p);
extern FmStatus FmTrain(const FmDatasetData *ds, const FmParamsData *p,
						FmModel *out, char *err, size_t errlen);

/* ---------------------------------------------------------------- */
/* pool.c: worker threads with every signal blocked */

typedef struct FmPoolData *FmPool;
typedef void (*FmPoolFn) (void *arg, int worker);

extern FmStatus FmPoolCreate(int nthreads, FmPool *out);
extern void FmPoolRun(FmPool pool, FmPoolFn fn, void *arg);
extern void FmPoolStart(FmPool pool, FmPoolFn fn, void *arg);
extern void FmPoolWait(FmPool pool);
extern void FmPoolFree(FmPool pool);

/* ---------------------------------------------------------------- */
/* features.c: whom to score: a user's representation for one query */

/*
 * A factorization machine scores a set of active features; grouped into a
 * "query side" (user id, user attributes, context) and an item side, the
 * score of item i is
 *
 *		w0 + bias(Z) + b_i + <Z, q_i>
 *
 * where Z is the sum of the query side's factor vectors and bias(Z) its
 * linear terms plus its internal pairwise interactions.  FmRep builds Z
 * incrementally: lin sums the linear terms, sq the squared norms of the
 * parts, and bias(Z) = lin + (|Z|^2 - sq) / 2.
 */
typedef enum FmPath
{
	FM_PATH_POPULARITY = 0,		/* nothing known: item biases alone */
	FM_PATH_USER,				/* a user with ratings */
	FM_PATH_USER_FEATURES,		/* a known id without ratings: its attributes */
	FM_PATH_FEATURES,			/* an anonymous user given as attributes */
	FM_PATH_FOLD_IN,			/* an anonymous session given as items */
	FM_PATH_FEATURES_FOLD_IN	/* attributes, refined by a session's items */
} FmPath;

typedef struct FmRep
{
	float	   *v;				/* k floats, owned by the caller */
	double		lin;
	double		sq;
	FmPath		path;
	int64_t		uidx;			/* a known user, for its seen list, or -1 */
	const int64_t *session;		/* item-item models: a session's items */
	size_t		n_session;
	uint32_t	unknown;		/* feature names the model does not know */
	uint32_t	used;			/* feature names and items it does know */
} FmRep;

extern void FmRepInit(const FmModelData *m, FmRep *r, float *buf);
extern void FmRepAddUser(const FmModelData *m, FmRep *r, int64_t user);
extern void FmRepAddFeatures(const FmModelData *m, FmRep *r, char side,
							 const char *const *names, const float *vals,
							 size_t n);
extern FmStatus FmRepFoldIn(const FmModelData *m, FmRep *r,
							const int64_t *items, const float *ratings,
							size_t n, double lambda);

/* a fold-in in steps (features.c), on a workspace the caller owns */
typedef struct FmFoldIn
{
	const FmModelData *m;
	FmRep	   *r;
	double		lambda;
	double		bias;			/* the representation's, before the fold-in */
	size_t		used;			/* items known to the model so far */
	double	   *a;				/* (k + 1)^2 normal equations, lower triangle */
	double	   *b;				/* k + 1 */
	double	   *x;				/* FmFoldInChunk design rows of k + 1 */
	double	   *resid;			/* FmFoldInChunk residuals */
	float	   *dv;				/* k: the correction, as floats */
} FmFoldIn;

/* longest session fm_topn folds in, and most candidates it ranks */
#define FM_MAX_SESSION_ITEMS	100000
#define FM_MAX_CANDIDATES		1000000

extern size_t FmFoldInBytes(const FmModelData *m);
extern size_t FmFoldInChunk(const FmModelData *m);
extern void FmFoldInBegin(const FmModelData *m, FmRep *r, double lambda,
						  void *work, FmFoldIn *f);
extern void FmFoldInAdd(FmFoldIn *f, const int64_t *items,
						const float *ratings, size_t n);
extern void FmFoldInFinish(FmFoldIn *f);
extern double FmRepBias(const FmModelData *m, const FmRep *r);
extern double FmRepScore(const FmModelData *m, const FmRep *r, int64_t iidx);
extern double FmRepScoreFrom(const FmModelData *m, const FmRep *r, float base,
							 int64_t iidx);
extern const char *FmPathName(FmPath path);

/* ---------------------------------------------------------------- */
/* topn.c: ranking */

typedef struct FmScored
{
	int64_t		item;			/* item id */
	double		score;			/* as FmModelPredict reports it */
} FmScored;

typedef struct FmTopnQuery
{
	int64_t		user;
	int			n;
	bool		exclude_seen;
	const int64_t *candidates;	/* NULL: every item */
	size_t		n_candidates;
	const int64_t *exclude;		/* more item ids to leave out, or NULL */
	size_t		n_exclude;
} FmTopnQuery;

extern bool FmModelSeen(const FmModelData *m, int64_t uidx, int64_t iidx);
extern size_t FmTopnCapacity(const FmModelData *m, const FmTopnQuery *q);
extern FmStatus FmTopn(const FmModelData *m, const FmTopnQuery *q,
					   FmScored *out, int *n_out);
extern FmStatus FmTopnRep(const FmModelData *m, const FmRep *rep,
						  const FmTopnQuery *q, FmScored *out, int *n_out);

/* items like an item or a set of items (fm_similar_items) */
typedef struct FmSimilarQuery
{
	const int64_t *items;		/* the query */
	size_t		n_items;
	int			n;
	const int64_t *candidates;	/* NULL: every item */
	size_t		n_candidates;
	const int64_t *exclude;		/* more item ids to leave out, or NULL */
	size_t		n_exclude;
	bool		include_query;	/* list the query's own items too */
} FmSimilarQuery;

extern FmStatus FmSimilarItems(const FmModelData *m, const FmSimilarQuery *q,
							   FmScored *out, int *n_out);

/* lists for many users at once, in blocks (fm_recommend) */
typedef struct FmBatchData *FmBatch;

extern double FmBatchMemory(const FmModelData *m, const FmTopnQuery *q,
							int threads);
extern FmStatus FmBatchCreate(const FmModelData *m, const FmTopnQuery *q,
							  int threads, FmBatch *out);
extern size_t FmBatchBlock(const struct FmBatchData *b);
extern size_t FmBatchCapacity(const struct FmBatchData *b);
extern FmStatus FmBatchStep(FmBatch b, const int64_t *users, size_t n_users,
							FmScored *out, int *n_out);
extern FmStatus FmBatchSubmit(FmBatch b, const int64_t *users, size_t n_users,
							  FmScored *out, int *n_out);
extern FmStatus FmBatchCollect(FmBatch b);
extern void FmBatchFree(FmBatch b);

/* ---------------------------------------------------------------- */
/* metrics.c */

extern double FmRmse(const float *pred, const float *y, size_t n);
extern double FmLogLoss(const float *prob, const float *label, size_t n);
extern double FmAuc(const float *score, const float *label, size_t n);

/* ---------------------------------------------------------------- */
/* evaluate.c: held-out top-N and pointwise metrics */

#define FM_MAX_EVAL_K 1000

typedef struct FmEvalOptions
{
	int			k;
	double		threshold;		/* relevant: rating >= it; -inf: every row */
} FmEvalOptions;

typedef struct FmEvalMetrics
{
	uint64_t	users;			/* with a relevant test row */
	uint64_t	rows;			/* test rows */
	double		precision;
	double		recall;
	double		ndcg;
	double		map;
	double		mrr;
	double		hit_rate;
	double		coverage;
	double		rmse;			/* NaN where the task has none */
	double		mae;
	double		auc;
	double		logloss;
	double		accuracy;
} FmEvalMetrics;

typedef struct FmEvalData *FmEval;

extern FmStatus FmEvalCreate(const FmModelData *m, const FmRatingsData *test,
							 const FmEvalOptions *o, FmEval *out, char *err,
							 size_t errlen);
extern FmStatus FmEvalStep(FmEval e, size_t max_users);
extern bool FmEvalResults(FmEval e, FmEvalMetrics *model,
						  FmEvalMetrics *popularity);
extern void FmEvalFree(FmEval e);

/* ---------------------------------------------------------------- */
/* codec.c: model <-> protobuf bytes */

extern FmStatus FmModelEncode(const FmModelData *m, size_t max_len,
							  uint8_t **bytes, size_t *len);
extern FmStatus FmModelDecode(const uint8_t *bytes, size_t len,
							  FmModel *out, char *err, size_t errlen);
extern int	FmModelFormat(const uint8_t *bytes, size_t len);
extern uint32_t FmCrc32c(const uint8_t *data, size_t len);

/* ---------------------------------------------------------------- */
/* synth.c: planted MovieLens-shaped ratings */

typedef struct FmSynthRow
{
	int64_t		user;
	int64_t		item;
	double		rating;			/* observed: expected + noise, in [1, 5] */
	double		expected;		/* the planted truth without noise */
} FmSynthRow;

typedef struct FmSynthData *FmSynth;

extern FmStatus FmSynthCreate(int users, int items, int64_t ratings,
							  uint64_t seed, double noise, int genres,
							  int groups, FmSynth *out, char *err,
							  size_t errlen);
#define FM_SYNTH_MAX_TASTE 100
#define FM_SYNTH_RANK 8			/* factors per planted user and item */
extern void FmSynthParams(FmSynth s, int side, int index, double *bias,
						  float *factors);
extern void FmSynthShares(FmSynth s, int side, double *share);
extern FmStatus FmSynthSetTaste(FmSynth s, int taste, char *err, size_t errlen);
extern bool FmSynthNext(FmSynth s, FmSynthRow *row);
extern int	FmSynthItemGenres(FmSynth s, int item, int *genres);
extern int	FmSynthUserGroup(FmSynth s, int user);
extern void FmSynthFree(FmSynth s);
extern double FmSynthMemory(int users, int items, int64_t ratings);

/* ---------------------------------------------------------------- */
/* interop.c: SageMaker's RecordIO-protobuf and libFM's text format */

/*
 * One training example of SageMaker or libFM: a label and a sparse
 * feature vector.  FM_SPARSE_MAX features at most: more is refused, for a
 * (user, item) example has two.
 */
#define FM_SPARSE_MAX 64
/* RecordIO's frame: a record's length has 29 bits */
#define FM_RECORDIO_MAX_RECORD ((size_t) 1 << 29)

typedef struct FmSparseRow
{
	double		label;
	size_t		n;
	uint64_t	dim;			/* the vector's dimension; 0: not given */
	uint64_t	keys[FM_SPARSE_MAX];
	float		vals[FM_SPARSE_MAX];
} FmSparseRow;

extern size_t FmRecordIOSize(const FmSparseRow *row);
extern FmStatus FmRecordIOWrite(const FmSparseRow *row, uint8_t *out,
								size_t cap, size_t *len);
extern FmStatus FmRecordIORead(const uint8_t *data, size_t len, size_t *pos,
							   FmSparseRow *row, char *err, size_t errlen);
extern size_t FmLibfmWrite(const FmSparseRow *row, char *out, size_t cap);
extern FmStatus FmLibfmRead(const char *line, size_t len, FmSparseRow *row,
							char *err, size_t errlen);
extern FmStatus FmSparsePair(const FmSparseRow *row, uint64_t users,
							 int64_t *user, int64_t *item, char *err,
							 size_t errlen);

/* ---------------------------------------------------------------- */
/* tune.c: the search of fm_tune (grid, random, TPE) */

#define FM_TUNE_MAX_TRIALS 10000

typedef enum FmTuneKind
{
	FM_TUNE_LIST,				/* listed values, by index */
	FM_TUNE_RANGE				/* a range of reals */
} FmTuneKind;

typedef struct FmTuneParam
{
	char		name[64];		/* the option's name */
	FmTuneKind	kind;
	int			n_values;		/* list: how many */
	double		lo;				/* range: min and max */
	double		hi;
	bool		log;			/* range: drawn log-uniformly */
	bool		integer;		/* range: rounded to integers */
	int			steps;			/* range: grid points (0: none given) */
} FmTuneParam;

typedef struct FmTuneSpaceData
{
	int			n;
	FmTuneParam *p;
} FmTuneSpaceData;

typedef enum FmTuneStrategy
{
	FM_TUNE_GRID,
	FM_TUNE_RANDOM,
	FM_TUNE_TPE
} FmTuneStrategy;

extern uint64_t FmTuneGridSize(const FmTuneSpaceData *s);
extern FmStatus FmTuneCheck(const FmTuneSpaceData *s, FmTuneStrategy strategy,
							int trials, char *err, size_t errlen);
extern bool FmTunePropose(const FmTuneSpaceData *s, FmTuneStrategy strategy,
						  int trial, uint64_t seed, const double *hx,
						  const double *hy, int n_hist, double *x);
extern bool FmTuneStop(const double *finished, int n, int stride,
					   const double *mine, int f, bool maximize);

#endif							/* FM_H */
