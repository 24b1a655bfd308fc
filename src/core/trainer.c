/*
 * trainer.c
 *	  How a training runs, whatever the solver.
 *
 * A training is a state machine stepped by its caller.  FmTrainerCreate()
 * splits the canonical rows of a dataset into training and hold-out rows
 * (a per-row coin from the seed, in canonical order, so the split does not
 * depend on how the rows arrived), turns ratings into labels, computes the
 * initial global bias (the mean label, or its logit for the binary task)
 * and draws the initial factors (N(0, init_stdev), zero for ids that have
 * no rating, so those are scored through their attributes alone).  It then
 * hands the rows and the initial parameters to the solver's create(), and
 * starts the worker pool.
 *
 * FmTrainerStep() calls the solver's step(), which does a bounded slice of
 * work and returns: the PostgreSQL layer checks for interrupts between
 * steps on the main thread while the workers sit idle, so cancel and
 * statement_timeout take effect within one slice and an ERROR raised there
 * unwinds through no core frame.  When a step ends an epoch (an iteration,
 * for ALS and MCMC), the trainer does what every solver shares:
 *
 *	- divergence: a training loss that is not finite or has exploded (five
 *	  times the rating range, or a log loss above 5) ends training with
 *	  FM_ERR_DIVERGED, and the caller stores nothing;
 *	- validation: with a hold-out, the solver's view() of its parameters
 *	  is scored on it (RMSE, or AUC and log loss);
 *	- early stopping, for solvers that keep a best epoch: a better score
 *	  saves the parameters, and `patience` epochs without one end training;
 *	- the last epoch ends training in any case.
 *
 * FmTrainerFinish() builds the model: the kept best epoch's parameters, or
 * those the solver's final() shows (SGD's and ALS's last ones, MCMC's
 * average of the draws after burn-in), the ids, the side-feature tables
 * and each user's seen items.
 *
 * Same data, same seed and one thread give bit-identical models: all
 * randomness comes from the seed and every sum runs in a fixed order.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "kernels.h"
#include "rng.h"
#include "trainer.h"

/* Shuffles rows uniformly (Fisher-Yates, two 32-bit draws per call). */
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
			/* Lemire's reduction of a 32-bit draw */
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
 * Splits the dataset's rows into training and hold-out rows and turns
 * ratings into labels.  Returns FM_ERR_DATA when the split leaves either
 * side empty.
 */
static FmStatus
SplitRows(FmTrainerData *t, char *err, size_t errlen)
{
	const FmDatasetData *ds = t->ds;
	const FmParamsData *p = &t->p;
	FmRng		split;

	FmRngSeed(&split, p->seed ^ 0x5EED5EED5EED5EEDull);
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
		return FM_ERR_DATA;
	}
	for (size_t j = 0; j < t->n_train; j++)
		t->train[j].y = FmLabelOf(p, t->train[j].y);
	for (size_t j = 0; j < t->n_valid; j++)
		t->vlabel[j] = t->valid[j].y = FmLabelOf(p, t->valid[j].y);
	return FM_OK;
}

/*
 * The initial parameters: the global bias from the weighted mean label,
 * and factors N(0, init_stdev) for every feature except ids without a
 * rating, which start (and, having no rows, stay) at zero.
 */
static FmStatus
InitParams(FmTrainerData *t)
{
	const FmDatasetData *ds = t->ds;
	const FmParamsData *p = &t->p;
	size_t		nu = ds->n_users;
	size_t		ni = ds->n_items;
	size_t		kp = t->kp;
	double		ysum = 0.0;
	double		wsum = 0.0;
	uint8_t    *rated;

	for (size_t j = 0; j < t->n_train; j++)
	{
		ysum += (double) t->train[j].w * t->train[j].y;
		wsum += t->train[j].w;
	}
	if (wsum > 0.0)
		ysum /= wsum;
	if (p->task == FM_TASK_BINARY)
	{
		double		m = ysum < 1e-6 ? 1e-6 : (ysum > 1 - 1e-6 ? 1 - 1e-6 : ysum);

		t->init_w0 = (float) log(m / (1.0 - m));
	}
	else
		t->init_w0 = (float) ysum;

	rated = calloc(nu + ni + 1, 1);
	if (rated == NULL)
		return FM_ERR_NOMEM;
	for (size_t j = 0; j < ds->n_rows; j++)
	{
		rated[ds->rows[j].u] = 1;
		rated[nu + ds->rows[j].i] = 1;
	}
	for (size_t f = 0; f < t->n_feat; f++)
	{
		float	   *row = t->init_v + f * kp;
		bool		zero = f < nu + ni && !rated[f];

		for (size_t d = 0; d < kp; d++)
			row[d] = d < (size_t) p->factors && !zero ?
				(float) (p->init_stdev * FmRngNormal(&t->rng)) : 0.0f;
	}
	free(rated);
	return FM_OK;
}

/*
 * A warm start (FmTrainerCreateFrom): the ids the earlier model knows
 * start from its parameters, the global bias too; new ids keep their
 * random start (drawn all the same, so the draws do not depend on which
 * ids are known).
 */
static FmStatus
WarmParams(FmTrainerData *t, const FmModelData *warm)
{
	const FmDatasetData *ds = t->ds;
	size_t		kp = t->kp;
	size_t		k = (size_t) warm->k;

	t->init_w = calloc(t->n_feat + 1, sizeof(float));
	if (t->init_w == NULL)
		return FM_ERR_NOMEM;
	t->init_w0 = warm->w0;
	for (size_t side = 0; side < 2; side++)
	{
		size_t		n = side == 0 ? ds->n_users : ds->n_items;
		size_t		off = side == 0 ? 0 : ds->n_users;

		for (size_t e = 0; e < n; e++)
		{
			int64_t		idx = side == 0 ? FmModelUserIndex(warm, ds->user_ids[e]) :
				FmModelItemIndex(warm, ds->item_ids[e]);
			const float *v;
			float	   *row = t->init_v + (off + e) * kp;

			if (idx < 0)
				continue;
			v = (side == 0 ? warm->vu : warm->vi) + (size_t) idx * k;
			memset(row, 0, kp * sizeof(float));
			memcpy(row, v, k * sizeof(float));
			t->init_w[off + e] = (side == 0 ? warm->wu : warm->wi)[idx];
		}
	}
	return FM_OK;
}

/*
 * Creates a trainer for ds with parameters p (checked here).  The dataset
 * must outlive the trainer.
 */
FmStatus
FmTrainerCreate(const FmDatasetData *ds, const FmParamsData *p,
				FmTrainer *out, char *err, size_t errlen)
{
	return FmTrainerCreateFrom(ds, p, NULL, out, err, errlen);
}

/*
 * FmTrainerCreate starting from an earlier model's parameters (warm
 * NULL: a fresh start).  The solver must have FM_CAP_WARM_START, the
 * model p's task and factors, and ids alone (no attributes or context).
 */
FmStatus
FmTrainerCreateFrom(const FmDatasetData *ds, const FmParamsData *p,
					const FmModelData *warm, FmTrainer *out, char *err,
					size_t errlen)
{
	FmTrainerData *t;
	size_t		kp;
	FmStatus	st;

	*out = NULL;
	if ((st = FmParamsCheck(p, err, errlen)) != FM_OK)
		return st;
	if (warm != NULL &&
		(!(FmSolverOpsFor(p->solver, p->task, false)->caps & FM_CAP_WARM_START) ||
		 warm->task != p->task || warm->k != p->factors ||
		 FmModelHasFeatures(warm) || FmDatasetHasFeatures(ds)))
	{
		snprintf(err, errlen, "a warm start needs the sgd solver, the model's task and factors, and ids without attributes or context");
		return FM_ERR_PARAM;
	}
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
	t->ops = FmSolverOpsFor(p->solver, p->task, FmDatasetHasFeatures(ds));
	t->kp = kp = (size_t) ((p->factors + FM_KPAD - 1) / FM_KPAD * FM_KPAD);
	t->general = FmDatasetHasFeatures(ds);
	t->off_uf = (size_t) ds->n_users + ds->n_items;
	t->off_if = t->off_uf + ds->ufeat.n;
	t->off_cf = t->off_if + ds->ifeat.n;
	t->n_feat = t->off_cf + ds->cfeat.n;
	t->init_v = aligned_alloc(64, (t->n_feat * kp + FM_KPAD) * sizeof(float));
	t->train = malloc(ds->n_rows * sizeof(FmRow));
	t->scratch_stride = kp + (ds->max_nnz + 1) * (sizeof(Active) / sizeof(float) + 1);
	t->scratch_stride = (t->scratch_stride + 15) & ~(size_t) 15;
	t->scratch = aligned_alloc(64, t->scratch_stride * p->threads * sizeof(float));
	if (!t->init_v || !t->train || !t->scratch)
		goto nomem;
	if (p->validation > 0.0)
	{
		t->valid = malloc(ds->n_rows * sizeof(FmRow));
		t->vpred = malloc(ds->n_rows * sizeof(float));
		t->vlabel = malloc(ds->n_rows * sizeof(float));
		if (!t->valid || !t->vpred || !t->vlabel)
			goto nomem;
	}
	if ((st = SplitRows(t, err, errlen)) != FM_OK)
	{
		FmTrainerFree(t);
		return st;
	}
	{
		/* weight 0 everywhere is nothing to learn, not a divergence */
		bool		any = false;

		for (size_t j = 0; j < t->n_train && !any; j++)
			any = t->train[j].w > 0;
		if (!any)
		{
			snprintf(err, errlen, "every training row has weight 0");
			FmTrainerFree(t);
			return FM_ERR_DATA;
		}
	}
	if (p->task == FM_TASK_IMPLICIT)
	{
		/* the scale of strengths: their weighted mean (FmConfidenceExtra) */
		double		sw = 0.0,
					sy = 0.0;

		for (size_t j = 0; j < t->n_train; j++)
		{
			if (t->train[j].y < 0)
			{
				snprintf(err, errlen, "implicit strengths must not be negative (a row has %g)",
						 (double) t->train[j].y);
				FmTrainerFree(t);
				return FM_ERR_DATA;
			}
			sw += t->train[j].w;
			sy += (double) t->train[j].w * t->train[j].y;
		}
		t->p.strength_mean = sy > 0 ? sy / sw : 0.0;
		if (t->p.alpha == 0 && t->p.strength_exponent > 0 && !(sy > 0))
		{
			snprintf(err, errlen, "every training row has strength 0");
			FmTrainerFree(t);
			return FM_ERR_DATA;
		}
	}
	if (t->n_valid > 0 && (t->ops->caps & FM_CAP_EARLY_STOP))
	{
		t->best_w = malloc(t->n_feat * sizeof(float));
		t->best_v = malloc((t->n_feat * kp + 1) * sizeof(float));
		if (!t->best_w || !t->best_v)
			goto nomem;
	}
	/* the mean label is summed in canonical order, before any shuffle */
	FmRngSeed(&t->rng, p->seed);
	if (InitParams(t) != FM_OK || (warm != NULL && WarmParams(t, warm) != FM_OK))
		goto nomem;
	if (t->ops->caps & FM_CAP_SHUFFLE)
	{
		/* one uniform shuffle, from a generator of its own */
		FmRng		once;

		FmRngSeed(&once, p->seed ^ 0x5117F1Eull);
		ShuffleRows(&once, t->train, t->n_train);
	}
	t->best_score = -INFINITY;

	if ((st = t->ops->create(t, err, errlen)) != FM_OK)
	{
		FmTrainerFree(t);
		return st;
	}
	/* the solver has its copy of the initial factors */
	free(t->init_v);
	t->init_v = NULL;
	free(t->init_w);
	t->init_w = NULL;
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
 * True when the training loss has exploded: an RMSE five times the rating
 * range (a constant prediction is never worse than the range) or a log
 * loss above 5 (a constant 1/2 gives 0.69).  Parameters that grow without
 * bound get there long before they overflow to infinity.
 */
static bool
Exploded(const FmTrainerData *t, double train_loss)
{
	if (!isfinite(train_loss))
		return true;
	if (t->p.task != FM_TASK_REGRESSION)
		return train_loss > 5.0;
	return train_loss > 5.0 * ((double) t->ds->max_rating - t->ds->min_rating + 1.0);
}

/* Copies the parameters pv as the best epoch's. */
static void
SaveBest(FmTrainerData *t, const FmParamView *pv)
{
	size_t		kp = t->kp;

	t->best_w0 = pv->w0;
	for (size_t f = 0; f < t->n_feat; f++)
	{
		t->best_w[f] = pv->W[f * pv->ws];
		memcpy(t->best_v + f * kp, pv->V + f * pv->vs, kp * sizeof(float));
	}
}

/*
 * The bookkeeping at the end of an epoch: divergence, validation, early
 * stopping and the epoch limit.  Returns FM_EPOCH_END or an error.
 */
static FmStatus
EndEpoch(FmTrainerData *t, char *err, size_t errlen)
{
	FmEpochStats *st = &t->stats;
	FmParamView pv;

	t->epoch++;
	st->epoch = t->epoch;
	st->valid_rmse = st->valid_auc = st->valid_logloss = NAN;
	st->improved = false;
	if (Exploded(t, st->train_loss))
	{
		snprintf(err, errlen, "training diverged in %s %d (train loss %g)",
				 t->ops->unit, t->epoch, st->train_loss);
		return FM_ERR_DIVERGED;
	}
	if (t->n_valid > 0 && t->ops->view(t, &pv))
	{
		FmPredictValid(t, &pv);
		FmValidMetrics(t, &st->valid_rmse, &st->valid_auc, &st->valid_logloss);
		if (t->ops->caps & FM_CAP_EARLY_STOP)
		{
			double		score;

			/* higher is better */
			if (t->p.task == FM_TASK_REGRESSION)
				score = -st->valid_rmse;
			else
				score = isnan(st->valid_auc) ? -st->valid_logloss : st->valid_auc;
			if (!isfinite(score))
			{
				snprintf(err, errlen, "training diverged in %s %d (validation metric %g)",
						 t->ops->unit, t->epoch, score);
				return FM_ERR_DIVERGED;
			}
			if (score > t->best_score)
			{
				t->best_score = score;
				t->best_epoch = t->epoch;
				t->best_train_loss = st->train_loss;
				st->improved = true;
				SaveBest(t, &pv);
			}
			else if (t->epoch - t->best_epoch >= t->p.patience)
				t->done = true;
		}
		else
			t->best_epoch = t->epoch;
	}
	else
		t->best_epoch = t->epoch;
	if (t->epoch >= t->p.epochs)
		t->done = true;
	return FM_EPOCH_END;
}

/*
 * Does one bounded slice of training.  Returns FM_RUNNING, FM_EPOCH_END
 * (FmTrainerEpoch() then has the epoch's statistics), FM_DONE, or an error.
 */
FmStatus
FmTrainerStep(FmTrainer t, char *err, size_t errlen)
{
	FmStatus	st;

	if (t->done)
		return FM_DONE;
	st = t->ops->step(t, err, errlen);
	if (st != FM_EPOCH_END)
		return st;
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
	FmCopy(to->off, from->off, ((size_t) n + 1) * sizeof(uint64_t));
	FmCopy(to->feat, from->feat, total * sizeof(uint32_t));
	FmCopy(to->val, from->val, total * sizeof(float));
}

/* Copies parameters of features [first, first + n) into w and v (k per row). */
static void
CopyParams(const FmTrainerData *t, const FmParamView *pv, size_t first,
		   size_t n, float *w, float *v)
{
	int			k = t->p.factors;

	for (size_t f = 0; f < n; f++)
	{
		size_t		g = first + f;

		w[f] = pv->W[g * pv->ws];
		memcpy(v + f * k, pv->V + g * pv->vs, k * sizeof(float));
	}
}

/* Stores each user's distinct rated items (rows are sorted by user, item). */
static void
FillSeen(const FmDatasetData *ds, FmModel m)
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

/*
 * Builds the model from a finished (or stopped) training: the kept best
 * epoch's parameters, or the solver's final ones.
 */
FmStatus
FmTrainerFinish(FmTrainer t, FmModel *out)
{
	const FmDatasetData *ds = t->ds;
	int			k = t->p.factors;
	uint64_t	n_seen = 0;
	FmParamView pv;
	FmModel		m;

	*out = NULL;
	if ((t->ops->caps & FM_CAP_EARLY_STOP) && t->n_valid > 0 && t->best_epoch > 0)
	{
		pv.w0 = t->best_w0;
		pv.W = t->best_w;
		pv.V = t->best_v;
		pv.ws = 1;
		pv.vs = t->kp;
	}
	else
		t->ops->final(t, &pv);
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
	FmCopy(m->user_ids, ds->user_ids, ds->n_users * sizeof(int64_t));
	FmCopy(m->item_ids, ds->item_ids, ds->n_items * sizeof(int64_t));
	m->w0 = pv.w0;
	CopyParams(t, &pv, 0, ds->n_users, m->wu, m->vu);
	CopyParams(t, &pv, ds->n_users, ds->n_items, m->wi, m->vi);
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
		CopyParams(t, &pv, t->off_uf, ds->ufeat.n, m->wuf, m->vuf);
		CopyParams(t, &pv, t->off_if, ds->ifeat.n, m->wif, m->vif);
		CopyParams(t, &pv, t->off_cf, ds->cfeat.n, m->wcf, m->vcf);
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
		FillSeen(ds, m);
	if ((m->item_count = calloc((size_t) ds->n_items + 1, sizeof(uint32_t))) == NULL)
	{
		FmModelFree(m);
		return FM_ERR_NOMEM;
	}
	for (size_t j = 0; j < ds->n_rows; j++)
		if (m->item_count[ds->rows[j].i] < UINT32_MAX)
			m->item_count[ds->rows[j].i]++;
	m->mem_bytes += (size_t) ds->n_items * sizeof(uint32_t);
	m->params = t->p;
	m->info.rows = ds->n_rows;
	m->info.train_rows = t->n_train;
	m->info.epochs_run = (uint32_t) t->epoch;
	m->info.best_epoch = (uint32_t) t->best_epoch;
	/* the stored parameters' loss: the kept best epoch's, or the last */
	m->info.train_loss = (t->ops->caps & FM_CAP_EARLY_STOP) && t->n_valid > 0 &&
		t->best_epoch > 0 ? t->best_train_loss : t->stats.train_loss;
	m->info.valid_rmse = m->info.valid_auc = m->info.valid_logloss = NAN;
	if (t->n_valid > 0)
	{
		/* the stored parameters' validation metrics */
		FmPredictValid(t, &pv);
		FmValidMetrics(t, &m->info.valid_rmse, &m->info.valid_auc,
					   &m->info.valid_logloss);
	}
	if ((t->ops->attach && t->ops->attach(t, m) != FM_OK) || FmModelIndex(m) != FM_OK)
	{
		FmModelFree(m);
		return FM_ERR_NOMEM;
	}
	*out = m;
	return FM_OK;
}

/* Frees a trainer: stops the workers first, then the solver's state. */
void
FmTrainerFree(FmTrainer t)
{
	if (t == NULL)
		return;
	FmPoolFree(t->pool);
	if (t->solver)
		t->ops->free(t);
	free(t->init_v);
	free(t->init_w);
	free(t->scratch);
	free(t->train);
	free(t->valid);
	free(t->vpred);
	free(t->vlabel);
	free(t->best_w);
	free(t->best_v);
	free(t);
}

/*
 * An upper bound, in bytes, of what training ds with p allocates beyond
 * the dataset itself: the trainer (its copy of the rows, the hold-out,
 * the kept best epoch, the initial factors), the solver's state, the
 * model it builds and that model's encoding twice over (the encoder's
 * buffer and the caller's copy).  Computed in double so that no count
 * can overflow it; the caller compares it with its limit before calling
 * FmTrainerCreate.
 */
double
FmTrainMemory(const FmDatasetData *ds, const FmParamsData *p)
{
	const FmSolverOps *ops = FmSolverOpsFor(p->solver, p->task,
											FmDatasetHasFeatures(ds));
	double		kp = (double) ((p->factors + FM_KPAD - 1) / FM_KPAD * FM_KPAD);
	double		k = p->factors;
	double		nu = ds->n_users;
	double		ni = ds->n_items;
	double		n = (double) ds->n_rows;
	double		n_names = (double) ds->ufeat.n + ds->ifeat.n + ds->cfeat.n;
	double		n_feat = nu + ni + n_names;
	double		n_attr = (double) ds->n_uattr + (double) ds->n_iattr;
	double		trainer,
				model,
				encoded;

	if (ops == NULL)
		return 0;
	trainer = n_feat * kp * sizeof(float) + n * sizeof(FmRow) +
		(kp + (ds->max_nnz + 1) * (sizeof(Active) / sizeof(float) + 1) + 16) *
		sizeof(float) * p->threads;
	if (p->validation > 0)
		trainer += n * (sizeof(FmRow) + 2 * sizeof(float)) +
			n_feat * (kp + 1) * sizeof(float);
	/* ids, biases, factors, seen lists, two id maps at load factor >= 1/4 */
	model = (nu + ni) * (sizeof(int64_t) + (k + 1) * sizeof(float) +
						 4 * (sizeof(int64_t) + sizeof(uint32_t))) +
		(nu + 1) * sizeof(uint64_t) + (p->store_seen ? n * sizeof(uint32_t) : 0);
	if (n_names > 0)
		/* feature parameters, attribute lists, composite representations */
		model += n_names * ((k + 1) * sizeof(float) + 64) +
			n_attr * 8 + (nu + ni) * ((k + 1) * sizeof(float) + 17);
	/* a float is 4 bytes encoded, an id at most 10, a seen item at most 5 */
	encoded = (nu + ni) * ((k + 1) * sizeof(float) + 10) +
		(p->store_seen ? n * 5 : 0) + n_names * ((k + 1) * sizeof(float) + 64) +
		n_attr * 10 + 4096;
	return trainer + ops->memory(ds, p, n_feat, kp) + model + 2 * encoded;
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
