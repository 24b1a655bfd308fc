/*
 * trainer.h
 *	  The trainer's state, shared by the solvers (sgd.c, mcmc.c).
 *
 * Internal to the core: only fm.h is the core's API.
 */
#ifndef FM_TRAINER_H
#define FM_TRAINER_H

#include "fm.h"
#include "rng.h"

/* one active feature of a row: its parameters and value */
typedef struct Active
{
	float	   *w;				/* [w, g] */
	float	   *v;				/* [v (kp) | g (kp)] */
	float		x;
} Active;

typedef struct WorkerStats
{
	double		loss;
	double		weight;
	char		pad[48];		/* one cache line per worker */
} WorkerStats;

typedef struct FmTrainerData
{
	const FmDatasetData *ds;
	FmParamsData p;
	int			kp;				/* k padded to FM_KPAD */

	/*
	 * Parameters of all features, indexed [users | items | user attrs |
	 * item attrs | context]: W holds [w, adagrad sum] pairs, V rows of
	 * [v (kp) | adagrad sums (kp)].  wu/vu and wi/vi point into them.
	 */
	float		w0;
	float		gw0;
	size_t		n_feat;
	size_t		off_uf;
	size_t		off_if;
	size_t		off_cf;
	float	   *W;
	float	   *V;
	float	   *wu;
	float	   *wi;
	float	   *vu;
	float	   *vi;
	bool		general;		/* some row has side features */
	float	   *scratch;		/* per worker: S (kp) + gathered features */
	size_t		scratch_stride;

	FmRow	   *train;
	size_t		n_train;
	FmRow	   *valid;
	size_t		n_valid;
	float	   *vpred;
	float	   *vlabel;

	/* best epoch so far, when validating: w (n_feat) and v (n_feat x kp) */
	float		best_w0;
	float	   *best_w;
	float	   *best_v;
	double		best_score;
	int			best_epoch;

	FmRng		rng;
	FmPool		pool;
	int			epoch;			/* epochs finished */
	size_t		pos;			/* next batch of the current epoch */
	size_t		chunk_end;
	size_t		n_batches;
	uint32_t   *order;			/* the epoch's order of batches */
	uint32_t   *offset;			/* per batch: where the epoch starts in it */
	bool		done;
	FmEpochStats stats;
	WorkerStats ws[FM_MAX_THREADS];
	struct FmCdData *cd;		/* ALS and MCMC state (mcmc.c), or NULL */
	bool		use_best;		/* FmTrainerFinish takes best_w0/w/v */
} FmTrainerData;

/* sgd.c, for mcmc.c */
extern bool FmExploded(const FmTrainerData *t, double train_loss);
extern void FmEpochDone(FmTrainerData *t, bool validating, double score,
						void (*save) (FmTrainerData *t));
extern int	FmGather(const FmTrainerData *t, const FmRow *r, float *W, float *V,
					 size_t ws, size_t vs, Active *act);
extern void FmPredictValid(FmTrainerData *t, float w0, float *W, float *V,
						   size_t ws, size_t vs);
extern void FmValidMetrics(const FmTrainerData *t, double *rmse, double *auc,
						   double *logloss);

/* mcmc.c: the coordinate-wise solvers */
extern FmStatus FmCdCreate(FmTrainerData *t, char *err, size_t errlen);
extern FmStatus FmCdStep(FmTrainerData *t, char *err, size_t errlen);
extern void FmCdFinish(FmTrainerData *t);
extern void FmCdFree(struct FmCdData *cd);

#endif							/* FM_TRAINER_H */
