/*
 * sgd.c
 *	  Mini-batch stochastic gradient descent with Adagrad steps.
 *
 * Each epoch cuts the training rows (shuffled once by the trainer) into
 * mini-batches of batch_size rows.  With threads > 1 the batches of a
 * step are dealt round-robin to the workers, which update the shared
 * parameters without locks (Hogwild): with one-hot rows two workers rarely
 * touch the same user or item at once.  Within a batch the update is
 * applied row by row rather than summed over the batch: for sparse rows
 * the sum over a batch touches each user and item about once anyway, and
 * per-row application converges in fewer epochs (libFM and libffm do the
 * same).  The batch is the unit of scheduling, of progress and of
 * interrupt latency: a step is BATCHES_PER_STEP batches per thread.
 *
 * The step size is Adagrad's: each parameter divides the learning rate by
 * the root of its accumulated squared gradients (initialized to 1, as in
 * libffm), so rare users and items keep large steps and the defaults work
 * across data sets without tuning.  Each parameter's sum is stored right
 * after it ([w, g] pairs and [v (kp) | g (kp)] rows), so an update touches
 * one cache line per parameter block.
 *
 * Side features.  A row with only its user and item (the usual case, and
 * every row when there are no side features) takes the fast path: one dot
 * product and two factor-row updates.  Otherwise the row's active features
 * are gathered (trainrow.c) and the general FM gradient is applied: for
 * feature j with value x, d y / d v_j = x (S - x v_j) where S is the sum
 * of x v over the row.
 *
 * With one thread the result is bit-identical for the same seed; with more
 * it is not (Hogwild), which the README states.
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

typedef struct WorkerStats
{
	double		loss;
	double		weight;
	char		pad[48];		/* one cache line per worker */
} WorkerStats;

/* SGD's state: the live parameters with their Adagrad sums, and the epoch */
typedef struct SgdData
{
	FmTrainerData *t;
	float		w0;
	float		gw0;
	float	   *W;				/* n_feat [w, g] pairs */
	float	   *V;				/* n_feat rows [v (kp) | g (kp)] */
	float	   *wu;
	float	   *wi;
	float	   *vu;
	float	   *vi;
	size_t		pos;			/* next batch of the current epoch */
	size_t		chunk_end;
	size_t		n_batches;
	uint32_t   *order;			/* the epoch's order of batches */
	uint32_t   *offset;			/* per batch: where the epoch starts in it */
	WorkerStats ws[FM_MAX_THREADS];
} SgdData;

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

/*
 * BPR's Adagrad step on the user's row and the chosen and negative items'
 * rows (three distinct rows: the negative is never the chosen item).
 */
FM_INLINE void
PairStep(float *restrict vu, float *restrict vi, float *restrict vj, int kp,
		 float g, float lr, float reg)
{
	float	   *restrict gu = vu + kp;
	float	   *restrict gi = vi + kp;
	float	   *restrict gj = vj + kp;

	for (int f = 0; f < kp; f++)
	{
		float		du = g * (vi[f] - vj[f]) + reg * vu[f];
		float		di = g * vu[f] + reg * vi[f];
		float		dj = -g * vu[f] + reg * vj[f];

		gu[f] += du * du;
		gi[f] += di * di;
		gj[f] += dj * dj;
		vu[f] -= lr * du / sqrtf(gu[f]);
		vi[f] -= lr * di / sqrtf(gi[f]);
		vj[f] -= lr * dj / sqrtf(gj[f]);
	}
}

FM_INLINE void
LinearStep(float *wg, float g, float lr, float reg)
{
	float		d = g + reg * wg[0];

	wg[1] += d * d;
	wg[0] -= lr * d / sqrtf(wg[1]);
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
		double		s = 1.0 / (1.0 + exp(-(double) p));
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
EndBatch(SgdData *s, float g0, double loss, double wsum, WorkerStats *ws)
{
	float		d = g0 + (float) s->t->p.reg_bias * s->w0;

	s->gw0 += d * d;
	s->w0 -= (float) s->t->p.learning_rate * d / sqrtf(s->gw0);
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
TrainRangeFast(SgdData *s, size_t lo, size_t hi, WorkerStats *ws)
{
	const FmTrainerData *t = s->t;
	const int	kp = t->kp;
	const float lr = (float) t->p.learning_rate;
	const float rl = (float) t->p.reg_linear;
	const float rf = (float) t->p.reg_factors;
	const bool	binary = t->p.task == FM_TASK_BINARY;
	const FmRow *rows = t->train;
	float	   *const Wu = s->wu;
	float	   *const Wi = s->wi;
	float	   *const Vu = s->vu;
	float	   *const Vi = s->vi;
	double		loss = 0.0;
	double		wsum = 0.0;
	float		w0 = s->w0;
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

	EndBatch(s, g0, loss, wsum, ws);
}

/*
 * BPR (Rendle et al., UAI 2009) on rows[lo..hi) of choices: for each
 * chosen pair (u, i) a negative item j is drawn uniformly, and the
 * logistic loss of x = s(u, i) - s(u, j) = b_i - b_j + <v_u, v_i - v_j>
 * takes one Adagrad step (the user's and global terms cancel).  The draws
 * come from a generator seeded by (seed, epoch, batch), so one thread
 * gives the same model every time.
 */
FM_CLONES
static void
TrainRangeBpr(SgdData *s, size_t lo, size_t hi, WorkerStats *ws, FmRng *rng)
{
	const FmTrainerData *t = s->t;
	const int	kp = t->kp;
	const float lr = (float) t->p.learning_rate;
	const float rl = (float) t->p.reg_linear;
	const float rf = (float) t->p.reg_factors;
	const uint32_t ni = t->ds->n_items;
	const FmRow *rows = t->train;
	double		loss = 0.0;
	double		wsum = 0.0;

	for (size_t j = lo; j < hi && ni > 1; j++)
	{
		const FmRow *r = &rows[j];
		uint32_t	n = (uint32_t) FmRngBelow(rng, ni - 1);
		uint32_t	neg = n >= r->i ? n + 1 : n;	/* uniform over the others */
		float	   *vu = s->vu + (size_t) r->u * 2 * kp;
		float	   *vi = s->vi + (size_t) r->i * 2 * kp;
		float	   *vj = s->vi + (size_t) neg * 2 * kp;
		float	   *wi = s->wi + (size_t) r->i * 2;
		float	   *wj = s->wi + (size_t) neg * 2;
		float		x = wi[0] - wj[0] + FmDotPadded(vu, vi, kp) - FmDotPadded(vu, vj, kp);
		double		sig = 1.0 / (1.0 + exp(-(double) x));
		float		g = (float) (sig - 1.0) * r->w;

		loss -= r->w * log(sig > 1e-15 ? sig : 1e-15);
		wsum += r->w;
		LinearStep(wi, g, lr, rl);
		LinearStep(wj, -g, lr, rl);
		PairStep(vu, vi, vj, kp, g, lr, rf);
	}
	ws->loss += loss;
	ws->weight += wsum;
}

/* Trains on rows[lo..hi) of a dataset with side features. */
static void
TrainRangeGeneral(SgdData *s, size_t lo, size_t hi, WorkerStats *ws,
				  int worker)
{
	const FmTrainerData *t = s->t;
	const int	kp = t->kp;
	const float lr = (float) t->p.learning_rate;
	const float rl = (float) t->p.reg_linear;
	const float rf = (float) t->p.reg_factors;
	const bool	binary = t->p.task == FM_TASK_BINARY;
	float	   *S = t->scratch + (size_t) worker * t->scratch_stride;
	Active	   *act = (Active *) (S + kp);
	double		loss = 0.0;
	double		wsum = 0.0;
	float		w0 = s->w0;
	float		g0 = 0.0f;

	for (size_t j = lo; j < hi; j++)
	{
		const FmRow *r = &t->train[j];
		int			n = FmGather(t, r, s->W, s->V, 2, 2 * (size_t) kp, act);
		float		g = LossGrad(binary, FmScoreActive(t, w0, act, n, S), r, &loss);

		wsum += r->w;
		g *= r->w;
		g0 += g;
		for (int a = 0; a < n; a++)
		{
			LinearStep(act[a].w, g * act[a].x, lr, rl);
			GeneralFactorStep(act[a].v, S, kp, g * act[a].x, act[a].x, lr, rf);
		}
	}
	EndBatch(s, g0, loss, wsum, ws);
}

/*
 * Pool entry: worker w takes batches w, w + T, w + 2T, ... of the chunk
 * (positions in the epoch's batch order).
 */
static void
TrainChunk(void *arg, int w)
{
	SgdData    *s = arg;
	const FmTrainerData *t = s->t;
	size_t		bs = (size_t) t->p.batch_size;

	for (size_t b = s->pos + (size_t) w; b < s->chunk_end; b += t->p.threads)
	{
		size_t		lo = (size_t) s->order[b] * bs;
		size_t		hi = lo + bs < t->n_train ? lo + bs : t->n_train;

		/*
		 * Each epoch starts every batch at a new offset and wraps around:
		 * a fresh order that still reads the rows sequentially.
		 */
		size_t		start = lo + s->offset[s->order[b]] % (hi - lo);

		if (t->p.task == FM_TASK_IMPLICIT)
		{
			FmRng		rng;

			FmRngSeed(&rng, t->p.seed ^ ((uint64_t) t->epoch << 40) ^
					  ((uint64_t) s->order[b] * 0x9E3779B97F4A7C15ull));
			TrainRangeBpr(s, start, hi, &s->ws[w], &rng);
			TrainRangeBpr(s, lo, start, &s->ws[w], &rng);
		}
		else if (t->general)
		{
			TrainRangeGeneral(s, start, hi, &s->ws[w], w);
			TrainRangeGeneral(s, lo, start, &s->ws[w], w);
		}
		else
		{
			TrainRangeFast(s, start, hi, &s->ws[w]);
			TrainRangeFast(s, lo, start, &s->ws[w]);
		}
	}
}

/*
 * The epoch's order: the rows were shuffled uniformly once when the
 * trainer was created; every epoch draws a new order of the batches and a
 * new starting offset inside each (TrainChunk).  A full Fisher-Yates pass
 * over the rows every epoch costs a cache miss per row and took a third
 * of the epoch; shuffling inside every batch still took a fifth.
 */
static void
Shuffle(SgdData *s)
{
	FmRng	   *rng = &s->t->rng;

	for (size_t b = 0; b < s->n_batches; b++)
		s->offset[b] = (uint32_t) FmRngNext(rng);
	for (size_t b = s->n_batches; b > 1; b--)
	{
		size_t		j = (size_t) FmRngBelow(rng, b);
		uint32_t	tmp = s->order[b - 1];

		s->order[b - 1] = s->order[j];
		s->order[j] = tmp;
	}
}

static void
SgdFree(FmTrainerData *t)
{
	SgdData    *s = t->solver;

	free(s->W);
	free(s->V);
	free(s->order);
	free(s->offset);
	free(s);
	t->solver = NULL;
}

/* Lays out the parameters with their Adagrad sums, from the initial ones. */
static FmStatus
SgdCreate(FmTrainerData *t, char *err, size_t errlen)
{
	SgdData    *s = calloc(1, sizeof(SgdData));
	size_t		kp = t->kp;
	size_t		nu = t->ds->n_users;

	if (t->p.task == FM_TASK_IMPLICIT && t->general)
	{
		free(s);
		snprintf(err, errlen, "BPR (solver sgd) trains the implicit task on user and item ids only; use solver als for user_features and item_features");
		return FM_ERR_PARAM;
	}

	if (s == NULL)
		goto nomem;
	t->solver = s;
	s->t = t;
	s->W = malloc(t->n_feat * 2 * sizeof(float));
	s->V = aligned_alloc(64, t->n_feat * 2 * kp * sizeof(float) + 64);
	s->n_batches = (t->n_train + t->p.batch_size - 1) / t->p.batch_size;
	s->order = malloc((s->n_batches + 1) * sizeof(uint32_t));
	s->offset = malloc((s->n_batches + 1) * sizeof(uint32_t));
	if (!s->W || !s->V || !s->order || !s->offset)
		goto nomem;
	for (size_t b = 0; b < s->n_batches; b++)
		s->order[b] = (uint32_t) b;
	s->w0 = t->init_w0;
	s->gw0 = ADAGRAD_INIT;
	for (size_t f = 0; f < t->n_feat; f++)
	{
		float	   *row = s->V + f * 2 * kp;

		s->W[2 * f] = t->init_w ? t->init_w[f] : 0.0f;
		s->W[2 * f + 1] = ADAGRAD_INIT;
		memcpy(row, t->init_v + f * kp, kp * sizeof(float));
		for (size_t d = 0; d < kp; d++)
			row[kp + d] = ADAGRAD_INIT;
	}
	s->wu = s->W;
	s->wi = s->W + 2 * nu;
	s->vu = s->V;
	s->vi = s->V + nu * 2 * kp;
	return FM_OK;

nomem:
	snprintf(err, errlen, "out of memory for the sgd solver of %zu rows",
			 t->n_train);
	return FM_ERR_NOMEM;
}

/* Trains BATCHES_PER_STEP batches per thread; ends the epoch after the last. */
static FmStatus
SgdStep(FmTrainerData *t, char *err, size_t errlen)
{
	SgdData    *s = t->solver;
	size_t		chunk;
	double		loss = 0.0;
	double		weight = 0.0;

	if (s->pos == 0)
	{
		Shuffle(s);
		memset(s->ws, 0, sizeof(s->ws));
	}
	chunk = (size_t) BATCHES_PER_STEP * t->p.threads;
	s->chunk_end = s->n_batches - s->pos > chunk ? s->pos + chunk : s->n_batches;
	FmPoolRun(t->pool, TrainChunk, s);
	s->pos = s->chunk_end;
	if (!isfinite(s->w0))
	{
		snprintf(err, errlen, "training diverged in epoch %d", t->epoch + 1);
		return FM_ERR_DIVERGED;
	}
	if (s->pos < s->n_batches)
		return FM_RUNNING;

	s->pos = 0;
	for (int w = 0; w < t->p.threads; w++)
	{
		loss += s->ws[w].loss;
		weight += s->ws[w].weight;
	}
	t->stats.train_loss = weight > 0 ? loss / weight : NAN;
	if (t->p.task == FM_TASK_REGRESSION)
		t->stats.train_loss = sqrt(t->stats.train_loss);
	return FM_EPOCH_END;
}

static void
SgdView(FmTrainerData *t, FmParamView *v)
{
	SgdData    *s = t->solver;

	v->w0 = s->w0;
	v->W = s->W;
	v->V = s->V;
	v->ws = 2;
	v->vs = 2 * (size_t) t->kp;
}

static bool
SgdValidate(FmTrainerData *t, FmParamView *v)
{
	SgdView(t, v);
	return true;
}

/* W and V with their Adagrad sums, and the batch order */
static double
SgdMemory(const FmDatasetData *ds, const FmParamsData *p, double n_feat,
		  double kp)
{
	double		batches = (double) ds->n_rows / p->batch_size + 1;

	return n_feat * 2 * sizeof(float) + n_feat * 2 * kp * sizeof(float) +
		batches * 2 * sizeof(uint32_t);
}

const FmSolverOps fm_sgd_ops = {
	.id = FM_SOLVER_SGD,
	.name = "sgd",
	.unit = "epoch",
	.caps = FM_CAP_REGRESSION | FM_CAP_BINARY | FM_CAP_IMPLICIT | FM_CAP_EARLY_STOP |
	FM_CAP_SHUFFLE | FM_CAP_WARM_START,
	.create = SgdCreate,
	.step = SgdStep,
	.view = SgdValidate,
	.final = SgdView,
	.free = SgdFree,
	.memory = SgdMemory,
};
