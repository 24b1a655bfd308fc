/*
 * sgd.c
 *	  Mini-batch stochastic gradient descent with Adagrad steps.
 *
 * Design.  The trainer is a state machine stepped by the caller: each
 * FmTrainerStep() processes a bounded chunk of mini-batches (a few
 * milliseconds of work) and returns, so the PostgreSQL layer can call
 * CHECK_FOR_INTERRUPTS() between steps from the main thread while worker
 * threads sit idle.  Cancel and statement_timeout therefore take effect
 * within one chunk, and an ERROR raised there unwinds through no core
 * frame.
 *
 * Each epoch shuffles the training rows with the seeded generator and
 * cuts them into mini-batches of batch_size rows.  With threads > 1 the
 * batches of a chunk are dealt round-robin to the workers, which update
 * the shared parameters without locks (Hogwild): with one-hot rows two
 * workers rarely touch the same user or item at once.  Within a batch the
 * update is applied row by row rather than summed over the batch: for
 * sparse rows the sum over a batch touches each user and item about once
 * anyway, and per-row application converges in fewer epochs (libFM and
 * libffm do the same).  The batch is the unit of scheduling, of progress
 * and of interrupt latency.
 *
 * The step size is Adagrad's: each parameter divides the learning rate by
 * the root of its accumulated squared gradients (initialized to 1, as in
 * libffm), so rare users and items keep large steps and the defaults work
 * across data sets without tuning.
 *
 * With a validation fraction, a deterministic pseudo-random subset of the
 * rows is held out; after each epoch its RMSE (regression) or AUC and log
 * loss (binary) is measured, the best epoch's parameters are kept, and
 * training stops after `patience` epochs without improvement.
 *
 * Side features.  Parameters of every feature live in one table indexed
 * [users | items | user attributes | item attributes | context].  A row
 * with only its user and item (the usual case, and every row when there
 * are no side features) takes the fast path: one dot product and two
 * factor-row updates.  Otherwise the row's active features are gathered
 * (user id, its attributes, item id, its attributes, the row's context)
 * and the general FM gradient is applied: for feature j with value x,
 * d y / d v_j = x (S - x v_j) where S is the sum of x v over the row.
 * Users and items without any rating keep zero factors and weights, so
 * they are scored through their attributes alone.
 *
 * Same data, seed and threads = 1 give bit-identical parameters: all
 * randomness comes from the seed and all sums run in a fixed order.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "kernels.h"
#include "rng.h"
#include "trainer.h"

#define ADAGRAD_INIT 1.0f
#define BATCHES_PER_STEP 16



static inline float
LabelOf(const FmTrainerData *t, float rating)
{
	if (t->p.task == FM_TASK_BINARY)
		return rating >= t->p.threshold ? 1.0f : 0.0f;
	return rating;
}

/*
 * Adagrad step on both factor rows of one pair.  gu/gi are the adagrad
 * sums stored right after each row.
 */
FM_INLINE void
FactorStep(float *restrict vu, float *restrict vi, int kp, float g,
		   float lr, float reg)
{
	float	   *restrict gu = vu + kp;
	float	   *restrict gi = vi + kp;

	for (int f = 0; f < kp; f++)
	{
		float		du = g * vi[f] + reg * vu[f];
		float		di = g * vu[f] + reg * vi[f];

		gu[f] += du * du;
		gi[f] += di * di;
		vu[f] -= lr * du / sqrtf(gu[f]);
		vi[f] -= lr * di / sqrtf(gi[f]);
	}
}

FM_INLINE void
LinearStep(float *wg, float g, float lr, float reg)
{
	float		d = g + reg * wg[0];

	wg[1] += d * d;
	wg[0] -= lr * d / sqrtf(wg[1]);
}

static inline double
Sigmoid(double x)
{
	return 1.0 / (1.0 + exp(-x));
}



/*
 * Gathers the active features of row r into act; returns how many.  W and
 * V may be the live parameters (stride 2, 2 kp) or a saved copy (1, kp).
 */
/* Appends entity e's features of lists l (global indexes from first). */
static inline int
GatherList(const FmListsData *l, size_t e, size_t first, float *W, float *V,
		   size_t ws, size_t vs, Active *act, int n)
{
	if (l->off == NULL)
		return n;
	for (uint64_t a = l->off[e]; a < l->off[e + 1]; a++)
	{
		size_t		f = first + l->feat[a];

		act[n].w = W + f * ws;
		act[n].v = V + f * vs;
		act[n++].x = l->val[a];
	}
	return n;
}

int
FmGather(const FmTrainerData *t, const FmRow *r, float *W, float *V,
		 size_t ws, size_t vs, Active *act)
{
	const FmDatasetData *ds = t->ds;
	size_t		item = ds->n_users + (size_t) r->i;
	int			n = 0;

	act[n].w = W + (size_t) r->u * ws;
	act[n].v = V + (size_t) r->u * vs;
	act[n++].x = 1.0f;
	n = GatherList(&ds->uattr, r->u, t->off_uf, W, V, ws, vs, act, n);
	act[n].w = W + item * ws;
	act[n].v = V + item * vs;
	act[n++].x = 1.0f;
	n = GatherList(&ds->iattr, r->i, t->off_if, W, V, ws, vs, act, n);
	return GatherList(&ds->ctx, r->c, t->off_cf, W, V, ws, vs, act, n);
}

/* FM score of gathered features; S receives the sum of x v (kp floats). */
static float
ScoreActive(const FmTrainerData *t, float w0, const Active *act, int n, float *S)
{
	const int	kp = t->kp;
	double		lin = 0.0;
	double		sq = 0.0;

	memset(S, 0, kp * sizeof(float));
	for (int j = 0; j < n; j++)
	{
		const float *v = act[j].v;
		float		x = act[j].x;

		lin += x * act[j].w[0];
		for (int f = 0; f < kp; f++)
			S[f] += x * v[f];
		sq += (double) x * x * FmDot(v, v, kp);
	}
	return (float) (w0 + lin + 0.5 * (FmDot(S, S, kp) - sq));
}

/* Adagrad step on one feature's factors given the row sum S. */
FM_CLONES
static void
GeneralFactorStep(float *restrict v, const float *restrict S, int kp, float gx,
				  float x, float lr, float reg)
{
	float	   *restrict g = v + kp;

	for (int f = 0; f < kp; f++)
	{
		float		d = gx * (S[f] - x * v[f]) + reg * v[f];

		g[f] += d * d;
		v[f] -= lr * d / sqrtf(g[f]);
	}
}

/* Loss of one prediction, added to *loss; returns d loss / d p. */
FM_INLINE float
LossGrad(bool binary, float p, const FmRow *r, double *loss)
{
	if (binary)
	{
		double		s = Sigmoid(p);
		double		sc = s < 1e-15 ? 1e-15 : (s > 1 - 1e-15 ? 1 - 1e-15 : s);

		*loss -= r->w * (r->y > 0.5f ? log(sc) : log(1.0 - sc));
		return (float) (s - r->y);
	}
	*loss += r->w * (double) (p - r->y) * (p - r->y);
	return p - r->y;
}

/*
 * Ends a batch: the global bias, which every row touches, takes one step
 * on the batch's summed gradient (a per-row update would make all workers
 * write the same cache line for every row), and the batch's loss is added
 * to the worker's.
 */
static void
EndBatch(FmTrainerData *t, float g0, double loss, double wsum, WorkerStats *ws)
{
	float		d = g0 + (float) t->p.reg_bias * t->w0;

	t->gw0 += d * d;
	t->w0 -= (float) t->p.learning_rate * d / sqrtf(t->gw0);
	ws->loss += loss;
	ws->weight += wsum;
}

/*
 * Trains on rows[lo..hi) of a dataset without side features: every row is
 * one user and one item.  Parameter pointers are copied to locals so the
 * loop keeps them in registers.
 */
FM_CLONES
static void
TrainRangeFast(FmTrainerData *t, size_t lo, size_t hi, WorkerStats *ws)
{
	const int	kp = t->kp;
	const float lr = (float) t->p.learning_rate;
	const float rl = (float) t->p.reg_linear;
	const float rf = (float) t->p.reg_factors;
	const bool	binary = t->p.task == FM_TASK_BINARY;
	const FmRow *rows = t->train;
	float	   *const Wu = t->wu;
	float	   *const Wi = t->wi;
	float	   *const Vu = t->vu;
	float	   *const Vi = t->vi;
	double		loss = 0.0;
	double		wsum = 0.0;
	float		w0 = t->w0;
	float		g0 = 0.0f;

	for (size_t j = lo; j < hi; j++)
	{
		const FmRow *r = &rows[j];
		float	   *vu = Vu + (size_t) r->u * 2 * kp;
		float	   *vi = Vi + (size_t) r->i * 2 * kp;
		float	   *wu = Wu + (size_t) r->u * 2;
		float	   *wi = Wi + (size_t) r->i * 2;
		float		g = LossGrad(binary, w0 + wu[0] + wi[0] + FmDotPadded(vu, vi, kp), r, &loss);

		wsum += r->w;
		g *= r->w;
		g0 += g;
		LinearStep(wu, g, lr, rl);
		LinearStep(wi, g, lr, rl);
		FactorStep(vu, vi, kp, g, lr, rf);
	}

	EndBatch(t, g0, loss, wsum, ws);
}

/* Trains on rows[lo..hi) of a dataset with side features. */
static void
TrainRangeGeneral(FmTrainerData *t, size_t lo, size_t hi, WorkerStats *ws,
				  int worker)
{
	const int	kp = t->kp;
	const float lr = (float) t->p.learning_rate;
	const float rl = (float) t->p.reg_linear;
	const float rf = (float) t->p.reg_factors;
	const bool	binary = t->p.task == FM_TASK_BINARY;
	float	   *S = t->scratch + (size_t) worker * t->scratch_stride;
	Active	   *act = (Active *) (S + kp);
	double		loss = 0.0;
	double		wsum = 0.0;
	float		w0 = t->w0;
	float		g0 = 0.0f;

	for (size_t j = lo; j < hi; j++)
	{
		const FmRow *r = &t->train[j];
		int			n = FmGather(t, r, t->W, t->V, 2, 2 * (size_t) kp, act);
		float		g = LossGrad(binary, ScoreActive(t, w0, act, n, S), r, &loss);

		wsum += r->w;
		g *= r->w;
		g0 += g;
		for (int a = 0; a < n; a++)
		{
			LinearStep(act[a].w, g * act[a].x, lr, rl);
			GeneralFactorStep(act[a].v, S, kp, g * act[a].x, act[a].x, lr, rf);
		}
	}
	EndBatch(t, g0, loss, wsum, ws);
}

static void
ShuffleRows(FmRng *rng, FmRow *rows, size_t n)
{
	uint64_t	bits = 0;
	int			have = 0;

	for (size_t j = n; j > 1; j--)
	{
		size_t		s;
		FmRow		tmp;

		if (n > UINT32_MAX)
			s = (size_t) FmRngBelow(rng, j);
		else
		{
			/* two 32-bit draws per generator call (Lemire's reduction) */
			if (have == 0)
			{
				bits = FmRngNext(rng);
				have = 2;
			}
			s = (size_t) (((bits & 0xFFFFFFFFu) * (uint64_t) j) >> 32);
			bits >>= 32;
			have--;
		}
		tmp = rows[j - 1];
		rows[j - 1] = rows[s];
		rows[s] = tmp;
	}
}

/*
 * Pool entry: worker w takes batches w, w + T, w + 2T, ... of the chunk
 * (positions in the epoch's batch order).
 */
static void
TrainChunk(void *arg, int w)
{
	FmTrainerData *t = arg;
	size_t		bs = (size_t) t->p.batch_size;

	for (size_t b = t->pos + (size_t) w; b < t->chunk_end; b += t->p.threads)
	{
		size_t		lo = (size_t) t->order[b] * bs;
		size_t		hi = lo + bs < t->n_train ? lo + bs : t->n_train;
		/*
		 * Each epoch starts every batch at a new offset and wraps around:
		 * a fresh order that still reads the rows sequentially.
		 */
		size_t		start = lo + t->offset[t->order[b]] % (hi - lo);

		if (t->general)
		{
			TrainRangeGeneral(t, start, hi, &t->ws[w], w);
			TrainRangeGeneral(t, lo, start, &t->ws[w], w);
		}
		else
		{
			TrainRangeFast(t, start, hi, &t->ws[w]);
			TrainRangeFast(t, lo, start, &t->ws[w]);
		}
	}
}

/*
 * The epoch's order: the rows were shuffled uniformly once when the
 * trainer was created; every epoch draws a new order of the batches and a
 * new starting offset inside each batch (TrainChunk).  A full Fisher-Yates
 * pass over the rows every epoch costs a cache miss per row and took a
 * third of the epoch; shuffling inside every batch still took a fifth.
 */
static void
Shuffle(FmTrainerData *t)
{
	for (size_t b = 0; b < t->n_batches; b++)
		t->offset[b] = (uint32_t) FmRngNext(&t->rng);
	for (size_t b = t->n_batches; b > 1; b--)
	{
		size_t		s = (size_t) FmRngBelow(&t->rng, b);
		uint32_t	tmp = t->order[b - 1];

		t->order[b - 1] = t->order[s];
		t->order[s] = tmp;
	}
}

/*
 * Score of row r with parameters W (stride ws) and V (stride vs): the live
 * ones during training, the saved best ones at the end.  S is scratch of
 * kp floats and act of max_nnz entries.
 */
static float
RowScore(const FmTrainerData *t, float w0, float *W, float *V, size_t ws,
		 size_t vs, const FmRow *r, float *S, Active *act)
{
	int			n;

	if (!t->general)
		return w0 + W[r->u * ws] + W[(t->ds->n_users + (size_t) r->i) * ws] +
			FmDot(V + r->u * vs, V + (t->ds->n_users + (size_t) r->i) * vs, t->kp);
	n = FmGather(t, r, W, V, ws, vs, act);
	return ScoreActive(t, w0, act, n, S);
}

/* Fills vpred with the predictions of the given parameters on the hold-out. */
void
FmPredictValid(FmTrainerData *t, float w0, float *W, float *V, size_t ws,
			 size_t vs)
{
	float	   *S = t->scratch;
	Active	   *act = (Active *) (S + t->kp);

	for (size_t j = 0; j < t->n_valid; j++)
	{
		float		raw = RowScore(t, w0, W, V, ws, vs, &t->valid[j], S, act);

		if (t->p.task == FM_TASK_BINARY)
			t->vpred[j] = (float) Sigmoid(raw);
		else
		{
			float		lo = t->ds->min_rating;
			float		hi = t->ds->max_rating;

			t->vpred[j] = raw < lo ? lo : (raw > hi ? hi : raw);
		}
	}
}

void
FmValidMetrics(const FmTrainerData *t, double *rmse, double *auc, double *logloss)
{
	*rmse = *auc = *logloss = NAN;
	if (t->p.task == FM_TASK_BINARY)
	{
		*auc = FmAuc(t->vpred, t->vlabel, t->n_valid);
		*logloss = FmLogLoss(t->vpred, t->vlabel, t->n_valid);
	}
	else
		*rmse = FmRmse(t->vpred, t->vlabel, t->n_valid);
}

static void
Validate(FmTrainerData *t, FmEpochStats *st)
{
	FmPredictValid(t, t->w0, t->W, t->V, 2, 2 * (size_t) t->kp);
	FmValidMetrics(t, &st->valid_rmse, &st->valid_auc, &st->valid_logloss);
}

static void
SaveBest(FmTrainerData *t)
{
	size_t		kp = t->kp;

	t->best_w0 = t->w0;
	for (size_t f = 0; f < t->n_feat; f++)
	{
		t->best_w[f] = t->W[2 * f];
		memcpy(t->best_v + f * kp, t->V + f * 2 * kp, kp * sizeof(float));
	}
}

FmStatus
FmTrainerCreate(const FmDatasetData *ds, const FmParamsData *p,
				FmTrainer *out, char *err, size_t errlen)
{
	FmTrainerData *t;
	size_t		nu = ds->n_users;
	size_t		ni = ds->n_items;
	size_t		kp;
	FmStatus	st;
	FmRng		split;
	double		ysum = 0.0;
	double		wsum = 0.0;

	*out = NULL;
	if ((st = FmParamsCheck(p, err, errlen)) != FM_OK)
		return st;
	if (ds->n_rows == 0)
	{
		snprintf(err, errlen, "no rows to train on");
		return FM_ERR_DATA;
	}
	t = calloc(1, sizeof(FmTrainerData));
	if (t == NULL)
		goto nomem;
	t->ds = ds;
	t->p = *p;
	t->kp = kp = (size_t) ((p->factors + FM_KPAD - 1) / FM_KPAD * FM_KPAD);
	t->general = FmDatasetHasFeatures(ds);
	t->off_uf = nu + ni;
	t->off_if = t->off_uf + ds->ufeat.n;
	t->off_cf = t->off_if + ds->ifeat.n;
	t->n_feat = t->off_cf + ds->cfeat.n;
	t->W = malloc(t->n_feat * 2 * sizeof(float));
	t->V = aligned_alloc(64, t->n_feat * 2 * kp * sizeof(float));
	t->train = malloc(ds->n_rows * sizeof(FmRow));
	/* per worker: S (kp floats), then max_nnz Active entries */
	t->scratch_stride = kp + (ds->max_nnz + 1) * (sizeof(Active) / sizeof(float) + 1);
	t->scratch_stride = (t->scratch_stride + 15) & ~(size_t) 15;
	t->scratch = aligned_alloc(64, t->scratch_stride * p->threads * sizeof(float));
	if (!t->W || !t->V || !t->train || !t->scratch)
		goto nomem;
	t->wu = t->W;
	t->wi = t->W + 2 * nu;
	t->vu = t->V;
	t->vi = t->V + nu * 2 * kp;

	/* hold-out: a per-row coin seeded from the seed, in canonical order */
	FmRngSeed(&split, p->seed ^ 0x5EED5EED5EED5EEDull);
	if (p->validation > 0.0)
	{
		t->valid = malloc(ds->n_rows * sizeof(FmRow));
		if (t->valid == NULL)
			goto nomem;
	}
	for (size_t j = 0; j < ds->n_rows; j++)
	{
		if (p->validation > 0.0 && FmRngUniform(&split) < p->validation)
			t->valid[t->n_valid++] = ds->rows[j];
		else
			t->train[t->n_train++] = ds->rows[j];
	}
	if (p->validation > 0.0 && (t->n_valid == 0 || t->n_train == 0))
	{
		snprintf(err, errlen,
				 "validation fraction %g leaves %zu training and %zu validation rows",
				 p->validation, t->n_train, t->n_valid);
		FmTrainerFree(t);
		return FM_ERR_DATA;
	}
	if (t->n_valid > 0)
	{
		t->vpred = malloc(t->n_valid * sizeof(float));
		t->vlabel = malloc(t->n_valid * sizeof(float));
		t->best_w = malloc(t->n_feat * sizeof(float));
		t->best_v = malloc(t->n_feat * kp * sizeof(float));
		if (!t->vpred || !t->vlabel || !t->best_w || !t->best_v)
			goto nomem;
	}
	for (size_t j = 0; j < t->n_train; j++)
	{
		t->train[j].y = LabelOf(t, t->train[j].y);
		ysum += (double) t->train[j].w * t->train[j].y;
		wsum += t->train[j].w;
	}
	for (size_t j = 0; j < t->n_valid; j++)
		t->vlabel[j] = t->valid[j].y = LabelOf(t, t->valid[j].y);

	/* batches of the epoch order (see Shuffle) */
	t->n_batches = (t->n_train + p->batch_size - 1) / p->batch_size;
	t->order = malloc((t->n_batches + 1) * sizeof(uint32_t));
	t->offset = malloc((t->n_batches + 1) * sizeof(uint32_t));
	if (t->order == NULL || t->offset == NULL)
		goto nomem;
	for (size_t b = 0; b < t->n_batches; b++)
		t->order[b] = (uint32_t) b;

	/* initial parameters */
	FmRngSeed(&t->rng, p->seed);
	if (p->solver == FM_SOLVER_SGD)
	{
		/* the one uniform shuffle; ALS and MCMC keep the canonical order */
		FmRng		once;

		FmRngSeed(&once, p->seed ^ 0x5117F1Eull);
		ShuffleRows(&once, t->train, t->n_train);
	}
	if (wsum > 0.0)
		ysum /= wsum;
	if (p->task == FM_TASK_BINARY)
	{
		double		m = ysum < 1e-6 ? 1e-6 : (ysum > 1 - 1e-6 ? 1 - 1e-6 : ysum);

		t->w0 = (float) log(m / (1.0 - m));
	}
	else
		t->w0 = (float) ysum;
	t->gw0 = ADAGRAD_INIT;
	{
		/* users and items without ratings keep zero factors */
		uint8_t    *rated = calloc(nu + ni + 1, 1);

		if (rated == NULL)
			goto nomem;
		for (size_t j = 0; j < ds->n_rows; j++)
		{
			rated[ds->rows[j].u] = 1;
			rated[nu + ds->rows[j].i] = 1;
		}
		for (size_t f = 0; f < t->n_feat; f++)
		{
			float	   *row = t->V + f * 2 * kp;
			bool		zero = f < nu + ni && !rated[f];

			t->W[2 * f] = 0.0f;
			t->W[2 * f + 1] = ADAGRAD_INIT;
			for (size_t d = 0; d < kp; d++)
			{
				row[d] = d < (size_t) p->factors && !zero ?
					(float) (p->init_stdev * FmRngNormal(&t->rng)) : 0.0f;
				row[kp + d] = ADAGRAD_INIT;
			}
		}
		free(rated);
	}
	t->best_score = -INFINITY;

	if (p->solver != FM_SOLVER_SGD &&
		(st = FmCdCreate(t, err, errlen)) != FM_OK)
	{
		FmTrainerFree(t);
		return st;
	}
	if ((st = FmPoolCreate(p->threads, &t->pool)) != FM_OK)
	{
		snprintf(err, errlen, "could not start %d worker threads", p->threads);
		FmTrainerFree(t);
		return st;
	}
	*out = t;
	return FM_OK;

nomem:
	snprintf(err, errlen, "out of memory for the trainer of %zu rows",
			 ds->n_rows);
	FmTrainerFree(t);
	return FM_ERR_NOMEM;
}

/*
 * Early-stopping bookkeeping at the end of an epoch: with validation, a
 * better score (higher is better) makes this epoch the best one and
 * save() keeps its parameters, and `patience` epochs without improvement
 * end training; the last epoch ends it in any case.
 */
void
FmEpochDone(FmTrainerData *t, bool validating, double score,
			void (*save) (FmTrainerData *t))
{
	if (validating)
	{
		if (score > t->best_score)
		{
			t->best_score = score;
			t->best_epoch = t->epoch;
			t->stats.improved = true;
			save(t);
		}
		else if (t->epoch - t->best_epoch >= t->p.patience)
			t->done = true;
	}
	else
		t->best_epoch = t->epoch;
	if (t->epoch >= t->p.epochs)
		t->done = true;
}

/*
 * True when the training loss has exploded: an RMSE five times the rating
 * range (a constant prediction is never worse than the range) or a log
 * loss above 5 (a constant 1/2 gives 0.69).  Parameters that grow without
 * bound get there long before they overflow to infinity.
 */
bool
FmExploded(const FmTrainerData *t, double train_loss)
{
	if (!isfinite(train_loss))
		return true;
	if (t->p.task == FM_TASK_BINARY)
		return train_loss > 5.0;
	return train_loss > 5.0 * ((double) t->ds->max_rating - t->ds->min_rating + 1.0);
}

static FmStatus
EndEpoch(FmTrainerData *t, char *err, size_t errlen)
{
	FmEpochStats *st = &t->stats;
	double		loss = 0.0;
	double		weight = 0.0;
	double		score;

	for (int w = 0; w < t->p.threads; w++)
	{
		loss += t->ws[w].loss;
		weight += t->ws[w].weight;
	}
	t->epoch++;
	st->epoch = t->epoch;
	st->train_loss = weight > 0 ? loss / weight : NAN;
	if (t->p.task == FM_TASK_REGRESSION)
		st->train_loss = sqrt(st->train_loss);
	st->valid_rmse = st->valid_auc = st->valid_logloss = NAN;
	st->improved = false;
	if (FmExploded(t, st->train_loss) || !isfinite(t->w0))
	{
		snprintf(err, errlen, "training diverged in epoch %d (train loss %g)",
				 t->epoch, st->train_loss);
		return FM_ERR_DIVERGED;
	}
	t->pos = 0;
	if (t->n_valid > 0)
	{
		Validate(t, st);
		if (t->p.task == FM_TASK_REGRESSION)
			score = -st->valid_rmse;
		else
			score = isnan(st->valid_auc) ? -st->valid_logloss : st->valid_auc;
		if (!isfinite(score))
		{
			snprintf(err, errlen, "training diverged in epoch %d (validation metric %g)",
					 t->epoch, score);
			return FM_ERR_DIVERGED;
		}
		FmEpochDone(t, true, score, SaveBest);
	}
	else
		FmEpochDone(t, false, 0, NULL);
	return FM_EPOCH_END;
}

FmStatus
FmTrainerStep(FmTrainer t, char *err, size_t errlen)
{
	size_t		chunk;

	if (t->done)
		return FM_DONE;
	if (t->cd)
		return FmCdStep(t, err, errlen);
	if (t->pos == 0)
	{
		Shuffle(t);
		memset(t->ws, 0, sizeof(t->ws));
	}
	chunk = (size_t) BATCHES_PER_STEP * t->p.threads;
	t->chunk_end = t->n_batches - t->pos > chunk ? t->pos + chunk : t->n_batches;
	FmPoolRun(t->pool, TrainChunk, t);
	t->pos = t->chunk_end;
	if (!isfinite(t->w0))
	{
		snprintf(err, errlen, "training diverged in epoch %d", t->epoch + 1);
		return FM_ERR_DIVERGED;
	}
	if (t->pos < t->n_batches)
		return FM_RUNNING;
	return EndEpoch(t, err, errlen);
}

const FmEpochStats *
FmTrainerEpoch(FmTrainer t)
{
	return &t->stats;
}

static FmStatus
CopyNames(const FmNamesData *from, FmNamesData *to)
{
	for (uint32_t j = 0; j < from->n; j++)
		if ((to->names[j] = strdup(from->names[j])) == NULL)
			return FM_ERR_NOMEM;
	return FM_OK;
}

static void
CopyLists(const FmListsData *from, FmListsData *to, uint32_t n, uint64_t total)
{
	if (from->off == NULL)
		return;
	memcpy(to->off, from->off, ((size_t) n + 1) * sizeof(uint64_t));
	memcpy(to->feat, from->feat, total * sizeof(uint32_t));
	memcpy(to->val, from->val, total * sizeof(float));
}

/* Copies parameters of features [first, first + n) into w and v (k per row). */
static void
CopyParams(const FmTrainerData *t, bool best, size_t first, size_t n,
		   float *w, float *v)
{
	size_t		kp = t->kp;
	int			k = t->p.factors;

	for (size_t f = 0; f < n; f++)
	{
		size_t		g = first + f;

		w[f] = best ? t->best_w[g] : t->W[2 * g];
		memcpy(v + f * k, best ? t->best_v + g * kp : t->V + g * 2 * kp,
			   k * sizeof(float));
	}
}

FmStatus
FmTrainerFinish(FmTrainer t, FmModel *out)
{
	const FmDatasetData *ds = t->ds;
	bool		best;
	int			k = t->p.factors;
	uint64_t	n_seen = 0;
	FmModel		m;

	*out = NULL;
	if (t->cd)
		FmCdFinish(t);
	best = t->use_best || (t->n_valid > 0 && t->best_epoch > 0);
	if (t->p.store_seen)
	{
		for (size_t j = 0; j < ds->n_rows; j++)
			if (j == 0 || ds->rows[j].u != ds->rows[j - 1].u ||
				ds->rows[j].i != ds->rows[j - 1].i)
				n_seen++;
	}
	m = FmModelAlloc(t->p.task, k, ds->n_users, ds->n_items, n_seen);
	if (m == NULL)
		return FM_ERR_NOMEM;
	memcpy(m->user_ids, ds->user_ids, ds->n_users * sizeof(int64_t));
	memcpy(m->item_ids, ds->item_ids, ds->n_items * sizeof(int64_t));
	m->w0 = best ? t->best_w0 : t->w0;
	CopyParams(t, best, 0, ds->n_users, m->wu, m->vu);
	CopyParams(t, best, ds->n_users, ds->n_items, m->wi, m->vi);
	if (t->general)
	{
		if (FmModelAllocFeatures(m, ds->ufeat.n, ds->ifeat.n, ds->cfeat.n,
								 ds->n_uattr, ds->n_iattr) != FM_OK ||
			CopyNames(&ds->ufeat, &m->ufeat) != FM_OK ||
			CopyNames(&ds->ifeat, &m->ifeat) != FM_OK ||
			CopyNames(&ds->cfeat, &m->cfeat) != FM_OK)
		{
			FmModelFree(m);
			return FM_ERR_NOMEM;
		}
		CopyParams(t, best, t->off_uf, ds->ufeat.n, m->wuf, m->vuf);
		CopyParams(t, best, t->off_if, ds->ifeat.n, m->wif, m->vif);
		CopyParams(t, best, t->off_cf, ds->cfeat.n, m->wcf, m->vcf);
		CopyLists(&ds->uattr, &m->uattr, ds->n_users, ds->n_uattr);
		CopyLists(&ds->iattr, &m->iattr, ds->n_items, ds->n_iattr);
		for (size_t j = 0; j < ds->n_rows; j++)
		{
			m->user_rated[ds->rows[j].u] = 1;
			m->item_rated[ds->rows[j].i] = 1;
		}
	}
	m->min_rating = ds->min_rating;
	m->max_rating = ds->max_rating;
	m->threshold = (float) t->p.threshold;
	if (t->p.store_seen)
	{
		uint64_t	s = 0;

		for (size_t j = 0; j < ds->n_rows; j++)
		{
			const FmRow *r = &ds->rows[j];

			if (j > 0 && r->u == ds->rows[j - 1].u && r->i == ds->rows[j - 1].i)
				continue;
			m->seen[s++] = r->i;
			m->seen_off[r->u + 1] = s;
		}
		/* users without ratings have empty lists: keep offsets monotone */
		for (size_t u = 1; u <= ds->n_users; u++)
			if (m->seen_off[u] < m->seen_off[u - 1])
				m->seen_off[u] = m->seen_off[u - 1];
	}
	m->params = t->p;
	m->info.rows = ds->n_rows;
	m->info.train_rows = t->n_train;
	m->info.epochs_run = (uint32_t) t->epoch;
	m->info.best_epoch = (uint32_t) t->best_epoch;
	m->info.train_loss = t->stats.train_loss;
	if (best)
	{
		/* report the kept epoch's validation metrics */
		FmPredictValid(t, t->best_w0, t->best_w, t->best_v, 1, t->kp);
		FmValidMetrics(t, &m->info.valid_rmse, &m->info.valid_auc,
				&m->info.valid_logloss);
	}
	if (FmModelIndex(m) != FM_OK)
	{
		FmModelFree(m);
		return FM_ERR_NOMEM;
	}
	*out = m;
	return FM_OK;
}

void
FmTrainerFree(FmTrainer t)
{
	if (t == NULL)
		return;
	FmPoolFree(t->pool);
	FmCdFree(t->cd);
	free(t->W);
	free(t->V);
	free(t->scratch);
	free(t->train);
	free(t->order);
	free(t->offset);
	free(t->valid);
	free(t->vpred);
	free(t->vlabel);
	free(t->best_w);
	free(t->best_v);
	free(t);
}

/* Trains to the end without interruption: for tests and benchmarks. */
FmStatus
FmTrain(const FmDatasetData *ds, const FmParamsData *p, FmModel *out,
		char *err, size_t errlen)
{
	FmTrainer	t;
	FmStatus	st;

	*out = NULL;
	if ((st = FmTrainerCreate(ds, p, &t, err, errlen)) != FM_OK)
		return st;
	do
		st = FmTrainerStep(t, err, errlen);
	while (st == FM_RUNNING || st == FM_EPOCH_END);
	if (st == FM_DONE)
		st = FmTrainerFinish(t, out);
	FmTrainerFree(t);
	return st;
}
