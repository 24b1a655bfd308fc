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

#define ADAGRAD_INIT 1.0f
#define BATCHES_PER_STEP 16

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

	/* parameters; factor rows are [v (kp) | adagrad sums (kp)] */
	float		w0;
	float		gw0;
	float	   *wu;				/* [w, g] pairs */
	float	   *wi;
	float	   *vu;
	float	   *vi;

	FmRow	   *train;
	size_t		n_train;
	FmRow	   *valid;
	size_t		n_valid;
	float	   *vpred;
	float	   *vlabel;

	/* best epoch so far, when validating */
	float		best_w0;
	float	   *best_wu;
	float	   *best_wi;
	float	   *best_vu;
	float	   *best_vi;
	double		best_score;
	int			best_epoch;

	FmRng		rng;
	FmPool		pool;
	int			epoch;			/* epochs finished */
	size_t		pos;			/* next row of the current epoch */
	size_t		chunk_end;
	bool		done;
	FmEpochStats stats;
	WorkerStats ws[FM_MAX_THREADS];
} FmTrainerData;

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
FM_CLONES
static void
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

static inline void
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

/* Trains on rows[lo..hi), accumulating the pre-update loss. */
static void
TrainRange(FmTrainerData *t, size_t lo, size_t hi, WorkerStats *ws)
{
	const int	kp = t->kp;
	const float lr = (float) t->p.learning_rate;
	const float rb = (float) t->p.reg_bias;
	const float rl = (float) t->p.reg_linear;
	const float rf = (float) t->p.reg_factors;
	const bool	binary = t->p.task == FM_TASK_BINARY;
	double		loss = 0.0;
	double		wsum = 0.0;
	float		w0 = t->w0;
	float		g0 = 0.0f;
	float		d;

	for (size_t j = lo; j < hi; j++)
	{
		const FmRow *r = &t->train[j];
		float	   *vu = t->vu + (size_t) r->u * 2 * kp;
		float	   *vi = t->vi + (size_t) r->i * 2 * kp;
		float	   *wu = t->wu + (size_t) r->u * 2;
		float	   *wi = t->wi + (size_t) r->i * 2;
		float		p = w0 + wu[0] + wi[0] + FmDot(vu, vi, kp);
		float		g;

		if (binary)
		{
			double		s = Sigmoid(p);
			double		sc = s < 1e-15 ? 1e-15 : (s > 1 - 1e-15 ? 1 - 1e-15 : s);

			loss -= r->w * (r->y > 0.5f ? log(sc) : log(1.0 - sc));
			g = (float) (s - r->y);
		}
		else
		{
			g = p - r->y;
			loss += r->w * (double) g * g;
		}
		wsum += r->w;
		g *= r->w;

		g0 += g;
		LinearStep(wu, g, lr, rl);
		LinearStep(wi, g, lr, rl);
		FactorStep(vu, vi, kp, g, lr, rf);
	}

	/*
	 * The global bias, which every row touches, takes one step per batch
	 * on the batch's summed gradient: a per-row update would make all
	 * workers write the same cache line for every row.
	 */
	d = g0 + rb * t->w0;
	t->gw0 += d * d;
	t->w0 -= lr * d / sqrtf(t->gw0);
	ws->loss += loss;
	ws->weight += wsum;
}

/* Pool entry: worker w takes batches w, w + T, w + 2T, ... of the chunk. */
static void
TrainChunk(void *arg, int w)
{
	FmTrainerData *t = arg;
	size_t		bs = (size_t) t->p.batch_size;
	size_t		stride = bs * (size_t) t->p.threads;

	for (size_t lo = t->pos + (size_t) w * bs; lo < t->chunk_end; lo += stride)
	{
		size_t		hi = lo + bs < t->chunk_end ? lo + bs : t->chunk_end;

		TrainRange(t, lo, hi, &t->ws[w]);
	}
}

static void
Shuffle(FmTrainerData *t)
{
	for (size_t j = t->n_train; j > 1; j--)
	{
		size_t		s = (size_t) FmRngBelow(&t->rng, j);
		FmRow		tmp = t->train[j - 1];

		t->train[j - 1] = t->train[s];
		t->train[s] = tmp;
	}
}

static inline float
RawScore(const FmTrainerData *t, float w0, const float *wu, const float *wi,
		 const float *vu, const float *vi, size_t wstride, size_t vstride,
		 const FmRow *r)
{
	return w0 + wu[r->u * wstride] + wi[r->i * wstride] +
		FmDot(vu + r->u * vstride, vi + r->i * vstride, t->kp);
}

static void
Validate(FmTrainerData *t, FmEpochStats *st)
{
	bool		binary = t->p.task == FM_TASK_BINARY;

	for (size_t j = 0; j < t->n_valid; j++)
	{
		float		raw = RawScore(t, t->w0, t->wu, t->wi, t->vu, t->vi,
								   2, 2 * (size_t) t->kp, &t->valid[j]);

		if (binary)
			t->vpred[j] = (float) Sigmoid(raw);
		else
		{
			float		lo = t->ds->min_rating;
			float		hi = t->ds->max_rating;

			t->vpred[j] = raw < lo ? lo : (raw > hi ? hi : raw);
		}
	}
	if (binary)
	{
		st->valid_auc = FmAuc(t->vpred, t->vlabel, t->n_valid);
		st->valid_logloss = FmLogLoss(t->vpred, t->vlabel, t->n_valid);
	}
	else
		st->valid_rmse = FmRmse(t->vpred, t->vlabel, t->n_valid);
}

static void
SaveBest(FmTrainerData *t)
{
	size_t		kp = t->kp;

	t->best_w0 = t->w0;
	for (uint32_t u = 0; u < t->ds->n_users; u++)
	{
		t->best_wu[u] = t->wu[2 * u];
		memcpy(t->best_vu + u * kp, t->vu + u * 2 * kp, kp * sizeof(float));
	}
	for (uint32_t i = 0; i < t->ds->n_items; i++)
	{
		t->best_wi[i] = t->wi[2 * i];
		memcpy(t->best_vi + i * kp, t->vi + i * 2 * kp, kp * sizeof(float));
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
	t->wu = malloc(nu * 2 * sizeof(float));
	t->wi = malloc(ni * 2 * sizeof(float));
	t->vu = aligned_alloc(64, nu * 2 * kp * sizeof(float));
	t->vi = aligned_alloc(64, ni * 2 * kp * sizeof(float));
	t->train = malloc(ds->n_rows * sizeof(FmRow));
	if (!t->wu || !t->wi || !t->vu || !t->vi || !t->train)
		goto nomem;

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
		t->best_wu = malloc(nu * sizeof(float));
		t->best_wi = malloc(ni * sizeof(float));
		t->best_vu = malloc(nu * kp * sizeof(float));
		t->best_vi = malloc(ni * kp * sizeof(float));
		if (!t->vpred || !t->vlabel || !t->best_wu || !t->best_wi ||
			!t->best_vu || !t->best_vi)
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

	/* initial parameters */
	FmRngSeed(&t->rng, p->seed);
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
	for (size_t u = 0; u < nu; u++)
	{
		float	   *row = t->vu + u * 2 * kp;

		t->wu[2 * u] = 0.0f;
		t->wu[2 * u + 1] = ADAGRAD_INIT;
		for (size_t f = 0; f < kp; f++)
		{
			row[f] = f < (size_t) p->factors ?
				(float) (p->init_stdev * FmRngNormal(&t->rng)) : 0.0f;
			row[kp + f] = ADAGRAD_INIT;
		}
	}
	for (size_t i = 0; i < ni; i++)
	{
		float	   *row = t->vi + i * 2 * kp;

		t->wi[2 * i] = 0.0f;
		t->wi[2 * i + 1] = ADAGRAD_INIT;
		for (size_t f = 0; f < kp; f++)
		{
			row[f] = f < (size_t) p->factors ?
				(float) (p->init_stdev * FmRngNormal(&t->rng)) : 0.0f;
			row[kp + f] = ADAGRAD_INIT;
		}
	}
	t->best_score = -INFINITY;

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
	if (!isfinite(st->train_loss) || !isfinite(t->w0))
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
		if (score > t->best_score)
		{
			t->best_score = score;
			t->best_epoch = t->epoch;
			st->improved = true;
			SaveBest(t);
		}
		else if (t->epoch - t->best_epoch >= t->p.patience)
			t->done = true;
	}
	else
		t->best_epoch = t->epoch;
	if (t->epoch >= t->p.epochs)
		t->done = true;
	return FM_EPOCH_END;
}

FmStatus
FmTrainerStep(FmTrainer t, char *err, size_t errlen)
{
	size_t		chunk;

	if (t->done)
		return FM_DONE;
	if (t->pos == 0)
	{
		Shuffle(t);
		memset(t->ws, 0, sizeof(t->ws));
	}
	chunk = (size_t) t->p.batch_size * BATCHES_PER_STEP * t->p.threads;
	t->chunk_end = t->n_train - t->pos > chunk ? t->pos + chunk : t->n_train;
	FmPoolRun(t->pool, TrainChunk, t);
	t->pos = t->chunk_end;
	if (!isfinite(t->w0))
	{
		snprintf(err, errlen, "training diverged in epoch %d", t->epoch + 1);
		return FM_ERR_DIVERGED;
	}
	if (t->pos < t->n_train)
		return FM_RUNNING;
	return EndEpoch(t, err, errlen);
}

const FmEpochStats *
FmTrainerEpoch(FmTrainer t)
{
	return &t->stats;
}

FmStatus
FmTrainerFinish(FmTrainer t, FmModel *out)
{
	const FmDatasetData *ds = t->ds;
	const bool	best = t->n_valid > 0 && t->best_epoch > 0;
	size_t		kp = t->kp;
	int			k = t->p.factors;
	uint64_t	n_seen = 0;
	FmModel		m;

	*out = NULL;
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
	for (size_t u = 0; u < ds->n_users; u++)
	{
		m->wu[u] = best ? t->best_wu[u] : t->wu[2 * u];
		memcpy(m->vu + u * k, best ? t->best_vu + u * kp : t->vu + u * 2 * kp,
			   k * sizeof(float));
	}
	for (size_t i = 0; i < ds->n_items; i++)
	{
		m->wi[i] = best ? t->best_wi[i] : t->wi[2 * i];
		memcpy(m->vi + i * k, best ? t->best_vi + i * kp : t->vi + i * 2 * kp,
			   k * sizeof(float));
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
		/* users are all present, but keep offsets monotone regardless */
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
		m->info.valid_rmse = NAN;
		m->info.valid_auc = NAN;
		m->info.valid_logloss = NAN;
		for (size_t j = 0; j < t->n_valid; j++)
		{
			float		raw = RawScore(t, t->best_w0, t->best_wu, t->best_wi,
									   t->best_vu, t->best_vi, 1, kp,
									   &t->valid[j]);

			t->vpred[j] = t->p.task == FM_TASK_BINARY ? (float) Sigmoid(raw) :
				(float) FmModelOutput(m, raw);
		}
		if (t->p.task == FM_TASK_BINARY)
		{
			m->info.valid_auc = FmAuc(t->vpred, t->vlabel, t->n_valid);
			m->info.valid_logloss = FmLogLoss(t->vpred, t->vlabel, t->n_valid);
		}
		else
			m->info.valid_rmse = FmRmse(t->vpred, t->vlabel, t->n_valid);
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
	free(t->wu);
	free(t->wi);
	free(t->vu);
	free(t->vi);
	free(t->train);
	free(t->valid);
	free(t->vpred);
	free(t->vlabel);
	free(t->best_wu);
	free(t->best_wi);
	free(t->best_vu);
	free(t->best_vi);
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
