/*
 * trainer.h
 *	  The trainer's state and the interface every solver implements.
 *
 * Internal to the core: only fm.h is the core's API.  Layering, lowest
 * first, with no cycle:
 *
 *	  trainrow.c	a training row's active features, its score, hold-out
 *					predictions and metrics (what every solver shares)
 *	  sgd.c, cd.c	the solvers, each exporting one FmSolverOps
 *	  solvers.c		the table of solvers, looked up by FmSolver
 *	  trainer.c		the solver-independent lifecycle (split, init, step
 *					loop, validation, early stopping, divergence, model)
 *
 * Adding a solver is one new file exporting its FmSolverOps plus one row
 * in solvers.c, as pgvector's index access methods fill an IndexAmRoutine.
 */
#ifndef FM_TRAINER_H
#define FM_TRAINER_H

#include "fm.h"
#include "rng.h"

/* one active feature of a row: pointers to its parameters and its value */
typedef struct Active
{
	float	   *w;				/* its linear weight */
	float	   *v;				/* its factor row */
	float		x;
} Active;

/*
 * A view of a solver's parameters in the trainer's feature order
 * [users | items | user attrs | item attrs | context]: feature f has its
 * weight at W[f * ws] and its factors at V + f * vs.
 */
typedef struct FmParamView
{
	float		w0;
	const float *W;
	const float *V;
	size_t		ws;
	size_t		vs;
} FmParamView;

struct FmSolverOps;

typedef struct FmTrainerData
{
	const FmDatasetData *ds;
	FmParamsData p;
	const struct FmSolverOps *ops;
	int			kp;				/* k padded to FM_KPAD */

	/* the feature table: offsets of each namespace and the total */
	size_t		n_feat;
	size_t		off_uf;
	size_t		off_if;
	size_t		off_cf;
	bool		general;		/* some row has side features */

	/* initial parameters, set by the trainer, copied by the solver */
	float		init_w0;
	float	   *init_v;			/* n_feat x kp; zero rows for unrated ids */
	float	   *init_w;			/* n_feat linear weights, or NULL: all 0 */

	/* per worker: S (kp floats), then max_nnz + 1 Active entries */
	float	   *scratch;
	size_t		scratch_stride;

	FmRow	   *train;
	size_t		n_train;
	FmRow	   *valid;
	size_t		n_valid;
	float	   *vpred;
	float	   *vlabel;

	/* best epoch so far, when validating with early stopping */
	float		best_w0;
	float	   *best_w;			/* n_feat */
	float	   *best_v;			/* n_feat x kp */
	double		best_score;
	int			best_epoch;
	double		best_train_loss;	/* the training loss at best_epoch */

	FmRng		rng;			/* initialization, then the solver's own draws */
	FmPool		pool;
	int			epoch;			/* epochs finished */
	bool		done;
	FmEpochStats stats;
	void	   *solver;			/* the solver's private state */
} FmTrainerData;

/* capabilities of a solver */
#define FM_CAP_REGRESSION	0x01
#define FM_CAP_BINARY		0x02
#define FM_CAP_EARLY_STOP	0x04	/* keeps the best validated epoch */
#define FM_CAP_SHUFFLE		0x08	/* wants the training rows shuffled once */
#define FM_CAP_ANY_THREADS	0x10	/* same bytes for any thread count */
#define FM_CAP_WARM_START	0x20	/* can start from an existing model */
#define FM_CAP_IMPLICIT		0x40	/* trains the implicit task */
#define FM_CAP_IDS_ONLY		0x80	/* no attributes or context: another row
									 * of the same solver takes them */

/*
 * A solver.  create() builds the private state from the trainer's rows
 * and initial parameters; step() does a bounded slice of work (a few
 * milliseconds to a quarter of a second) and returns FM_RUNNING, or
 * FM_EPOCH_END with stats.train_loss set, or an error with a message;
 * view() shows the parameters to validate after an epoch (false: none
 * yet, as during MCMC burn-in); final() the parameters to store when no
 * kept best epoch takes their place; free() releases the state.
 * memory() bounds what create() and step() allocate for a dataset, a
 * parameter set and the trainer's feature count and padded k, so training
 * can be refused before it starts (FmTrainMemory).
 */
typedef struct FmSolverOps
{
	FmSolver	id;
	const char *name;			/* as SQL spells it */
	const char *unit;			/* "epoch" or "iteration", for messages */
	unsigned	caps;
	FmStatus	(*create) (FmTrainerData *t, char *err, size_t errlen);
	FmStatus	(*step) (FmTrainerData *t, char *err, size_t errlen);
	bool		(*view) (FmTrainerData *t, FmParamView *v);
	void		(*final) (FmTrainerData *t, FmParamView *v);
	/* optional: adds what else the solver learned to the model */
	FmStatus	(*attach) (FmTrainerData *t, FmModel m);
	void		(*free) (FmTrainerData *t);
	double		(*memory) (const FmDatasetData *ds, const FmParamsData *p,
						   double n_feat, double kp);
} FmSolverOps;

/* solvers.c */
extern const FmSolverOps fm_sgd_ops;	/* sgd.c */
extern const FmSolverOps fm_als_ops;	/* cd.c */
extern const FmSolverOps fm_mcmc_ops;	/* cd.c */
extern const FmSolverOps fm_ials_ops;	/* ials.c */
extern const FmSolverOps fm_icd_ops;	/* icd.c */
extern const FmSolverOps fm_item_cosine_ops;	/* itemknn.c */
extern const FmSolverOps *FmSolverOpsFor(FmSolver solver, FmTask task,
										 bool features);

/*
 * The observed (user, item) pairs of the implicit task, duplicate rows
 * merged into one confidence (FmConfidenceExtra): by user, items
 * ascending, and by item, users ascending, with each by-item pair's index
 * in the by-user arrays.
 */
typedef struct FmPairs
{
	size_t		n;
	uint64_t   *uoff;			/* n_users + 1 */
	uint32_t   *uitem;			/* by user: the item of each pair */
	float	   *conf;			/* by user: its confidence c */
	uint64_t   *ioff;			/* n_items + 1 */
	uint32_t   *iuser;			/* by item: the user of each pair */
	uint64_t   *ipos;			/* by item: its index in uitem and conf */
	double		conf_sum;		/* sum of c */
	size_t		longest;		/* most pairs of one user or item */
} FmPairs;

/* trainrow.c */
extern FmStatus FmPairsBuild(const FmTrainerData *t, FmPairs *p, char *err,
							 size_t errlen);
extern double FmPairsMemory(const FmDatasetData *ds);
extern void FmPairsFree(FmPairs *p);
extern bool FmNoHoldout(FmTrainerData *t, FmParamView *v);
extern int	FmGather(const FmTrainerData *t, const FmRow *r, float *W, float *V,
					 size_t ws, size_t vs, Active *act);
extern int	FmGatherIndex(const FmTrainerData *t, const FmRow *r,
						  uint32_t *feat, float *val);
extern float FmScoreActive(const FmTrainerData *t, float w0, const Active *act,
						   int n, float *S);
extern void FmPredictValid(FmTrainerData *t, const FmParamView *pv);
extern void FmValidMetrics(const FmTrainerData *t, double *rmse, double *auc,
						   double *logloss);
extern float FmLabelOf(const FmParamsData *p, float rating);
extern double FmLongestIdList(const FmDatasetData *ds);

/* cd.c: the largest cache of per-row factor sums ALS and MCMC keep, in bytes */
extern size_t fm_cd_q_cache_max;

#endif							/* FM_TRAINER_H */
