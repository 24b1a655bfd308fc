/*
 * icd.c
 *	  Implicit coordinate descent: the "als" solver of the implicit task
 *	  when users or items have attributes (Bayer, He, Kanagal and Rendle,
 *	  "A Generic Coordinate Descent Framework for Learning from Implicit
 *	  Feedback", WWW 2017).
 *
 * The loss is ials.c's: every (user, item) pair is an example, an observed
 * pair with preference 1 and confidence c, every other pair preference 0
 * and confidence w0 = unobserved_weight, plus frequency-scaled L2
 * regularization.  The model is the full factorization machine over a
 * user's features (its id and attributes) and an item's (its id and
 * attributes), so fm_predict and fm_topn serve it unchanged and attributes
 * keep their meaning for cold start.
 *
 * Why the sum over all users x items pairs stays cheap.  Group a pair's
 * active features into the user side and the item side.  Its FM score is
 *
 *		s(u, i) = <p_u, q_i> + t_u + t_i
 *
 * where p_u is the sum of the user side's factor vectors (times their
 * values), t_u that side's internal pairwise interactions
 * (|p_u|^2 - sum x^2 |v|^2) / 2, and likewise for the item.  (Linear
 * weights and the global bias stay 0, as in ials.c: the score is a
 * preference.)  So s(u, i) = A_u . B_i with A_u = (p_u, t_u, 1) and
 * B_i = (q_i, 1, t_i), k + 2 numbers each, and every sum over all pairs
 * is a product with the (k+2) x (k+2) Gramian J = sum_i B_i B_i' (for a
 * user-side update; the mirror image for an item-side one).
 *
 * The update.  The score is linear in any single factor theta = v_fc of a
 * user-side feature f: s = g + theta * h with, for a user u holding f
 * with value x,
 *
 *		h(u, i) = x q_ic + beta_u,	beta_u = x (p_uc - x theta)
 *
 * (the second term from the interactions inside the user side), that is
 * h = H_u . B_i with H_u = x e_c + beta_u e_k.  The loss is quadratic in
 * theta, and one Newton step solves it exactly:
 *
 *		L'/2  = sum_obs (c (s - 1) - w0 s) h + w0 sum_u A_u' J H_u + lambda theta
 *		L''/2 = sum_obs (c - w0) h^2 + w0 sum_u H_u' J H_u + lambda
 *
 * over the users holding f and their observed pairs.  After the step, the
 * cached p_u, t_u and observed scores move by x delta, beta_u delta and
 * h delta.  A sweep costs O((users + items) k^2 + pairs k) for the id
 * features plus, per attribute, O(k (holders k + their pairs)).  The
 * caches are recomputed from the factors at the start of every
 * half-iteration, so float rounding does not drift.
 *
 * Order and threads.  A half-iteration updates the side's id features
 * (each entity's own; entities never share a pair, so they run on all
 * threads in fixed ranges) and then its attributes one at a time on one
 * thread, coordinate by coordinate, in a fixed order: the model is the
 * same for any thread count.  Work is cut into steps of a bounded number
 * of operations so the caller can check for interrupts.
 *
 * Context columns are refused: an unobserved pair has no context, so
 * "every other pair" is not defined for them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "kernels.h"
#include "trainer.h"

#define ID_SLICE 512			/* entities per step in the id phase */
#define ATTR_BUDGET (1 << 22)	/* operations per step in the attribute phase */

typedef struct IcdSide
{
	size_t		n;				/* entities */
	size_t		n_active;		/* those with an observed pair */
	size_t		id_off;			/* feature index of entity 0's id */
	size_t		attr_off;		/* feature index of attribute 0 */
	uint32_t	n_attr;
	const FmListsData *lists;	/* per entity: its attributes */
	/* per attribute: its holders and their values */
	uint64_t   *hoff;
	uint32_t   *hent;
	float	   *hval;
	/* per entity: its observed pairs (views into IcdData.pairs); ppos ==
	 * NULL: the by-user lists, where pair j is j itself */
	uint64_t   *poff;
	uint32_t   *pother;
	uint64_t   *ppos;
	float	   *A;				/* n x K: (p, t, 1) */
} IcdSide;

typedef struct IcdData
{
	FmTrainerData *t;
	int			k;
	int			K;				/* k + 2 */
	size_t		kp;
	float	   *V;				/* n_feat x kp, the trainer's feature order */
	float	   *W;				/* zeros: the model's linear weights */
	IcdSide		side[2];		/* users, items */
	FmPairs		pairs;			/* the observed pairs, by user and by item */
	float	   *pred;			/* by user: each pair's cached score */
	float		w0;
	float	   *B;				/* n x K of the fixed side, as (q, 1, t) */
	double	   *J;				/* K x K Gramian of B */
	double	   *J2;				/* the other one, for the loss */
	double	   *beta;			/* holders of one attribute */
	double	   *uloss;			/* per user: its pairs' loss terms */
	int			phase;			/* 0 user ids, 1 user attrs, 2 item ids, 3 item attrs */
	size_t		next;			/* next entity or attribute of the phase */
	int			next_c;			/* next coordinate of that attribute */
	size_t		lo;				/* the id slice the workers solve */
	size_t		hi;
} IcdData;

static float *
Factor(const IcdData *s, size_t f)
{
	return s->V + f * s->kp;
}

/* Pair j of entity e's list: its index in conf and pred. */
static inline uint64_t
PairPos(const IcdSide *sd, uint64_t j)
{
	return sd->ppos ? sd->ppos[j] : j;
}

/*
 * Whether entity e was in the data.  One known only from the attribute
 * tables was not there to be chosen: it is no one's negative, stays out
 * of every sum, and its id factors stay 0 (cold start scores it through
 * its attributes alone).
 */
static inline bool
HasPairs(const IcdSide *sd, size_t e)
{
	return sd->poff[e + 1] > sd->poff[e];
}

/*
 * Recomputes A = (p, t, 1) of one side from the factors: p is the id's
 * vector plus the attributes' (times their values), t the interactions
 * within.
 */
static void
RefreshEntity(const IcdData *s, const IcdSide *sd, size_t e)
{
	int			k = s->k;
	float	   *a = sd->A + e * s->K;
	const float *vid = Factor(s, sd->id_off + e);
	double		sq = 0.0;
	double		pp = 0.0;

	for (int c = 0; c < k; c++)
	{
		a[c] = vid[c];
		sq += (double) vid[c] * vid[c];
	}
	if (sd->lists->off != NULL)
		for (uint64_t j = sd->lists->off[e]; j < sd->lists->off[e + 1]; j++)
		{
			const float *v = Factor(s, sd->attr_off + sd->lists->feat[j]);
			float		x = sd->lists->val[j];

			for (int c = 0; c < k; c++)
			{
				a[c] += x * v[c];
				sq += (double) x * x * v[c] * v[c];
			}
		}
	for (int c = 0; c < k; c++)
		pp += (double) a[c] * a[c];
	a[k] = (float) ((pp - sq) / 2.0);
	a[k + 1] = 1.0f;
}

static void
RefreshWorker(void *arg, int worker)
{
	IcdData    *s = arg;
	int			nt = s->t->p.threads;

	for (int side = 0; side < 2; side++)
	{
		IcdSide    *sd = &s->side[side];
		size_t		a = sd->n * worker / nt;
		size_t		b = sd->n * (worker + 1) / nt;

		for (size_t e = a; e < b; e++)
			RefreshEntity(s, sd, e);
	}
}

/* the cached score of every observed pair, from both sides' A */
static void
PredWorker(void *arg, int worker)
{
	IcdData    *s = arg;
	int			nt = s->t->p.threads;
	const IcdSide *us = &s->side[0];
	const IcdSide *is = &s->side[1];
	size_t		a = us->n * worker / nt;
	size_t		b = us->n * (worker + 1) / nt;
	int			k = s->k;

	for (size_t u = a; u < b; u++)
	{
		const float *au = us->A + u * s->K;

		for (uint64_t j = us->poff[u]; j < us->poff[u + 1]; j++)
		{
			const float *ai = is->A + (size_t) us->pother[j] * s->K;
			double		sc = au[k] + ai[k];

			for (int c = 0; c < k; c++)
				sc += (double) au[c] * ai[c];
			s->pred[j] = (float) sc;
		}
	}
}

static void
Refresh(IcdData *s)
{
	FmPoolRun(s->t->pool, RefreshWorker, s);
	FmPoolRun(s->t->pool, PredWorker, s);
}

/*
 * J = sum over the entities of side `fixed` of B B', with B = (q, 1, t):
 * the A layout with its last two numbers swapped.
 */
static void
Gramian(IcdData *s, int fixed, double *J)
{
	const IcdSide *sd = &s->side[fixed];
	int			K = s->K;
	int			k = s->k;

	memset(J, 0, (size_t) K * K * sizeof(double));
	for (size_t e = 0; e < sd->n; e++)
	{
		const float *a = sd->A + e * K;
		float	   *b = s->B;

		if (!HasPairs(sd, e))
			continue;

		memcpy(b, a, (size_t) k * sizeof(float));
		b[k] = 1.0f;
		b[k + 1] = a[k];
		for (int p = 0; p < K; p++)
		{
			double		bp = b[p];

			for (int q = 0; q <= p; q++)
				J[p * K + q] += bp * b[q];
		}
	}
	for (int p = 0; p < K; p++)
		for (int q = 0; q < p; q++)
			J[q * K + p] = J[p * K + q];
}

/*
 * One coordinate c of one feature (value x_e for holder e; `ent` and `val`
 * list the holders, n of them): the exact minimizer along theta.  beta is
 * scratch for n values.  Returns the operations done.
 */
static size_t
UpdateCoordinate(IcdData *s, int side, float *theta, int c, const uint32_t *ent,
				 const float *val, size_t n, double lambda, double *beta)
{
	IcdSide    *sd = &s->side[side];
	const IcdSide *od = &s->side[1 - side];
	int			K = s->K;
	int			k = s->k;
	const double *J = s->J;
	double		w0 = s->w0;
	double		g = lambda * *theta;
	double		hh = lambda;
	double		delta;
	size_t		ops = 0;

	for (size_t m = 0; m < n; m++)
	{
		size_t		e = ent[m];
		double		x = val ? val[m] : 1.0;
		const float *a = sd->A + e * K;
		double		aj_c = 0.0;
		double		aj_k = 0.0;
		double		b = x * ((double) a[c] - x * *theta);

		/* J is symmetric: its rows c and k, read contiguously */
		for (int p = 0; p < K; p++)
		{
			aj_c += (double) a[p] * J[c * K + p];
			aj_k += (double) a[p] * J[k * K + p];
		}
		g += w0 * (x * aj_c + b * aj_k);
		hh += w0 * (x * x * J[c * K + c] + 2.0 * x * b * J[c * K + k] + b * b * J[k * K + k]);
		for (uint64_t j = sd->poff[e]; j < sd->poff[e + 1]; j++)
		{
			uint64_t	pos = PairPos(sd, j);
			double		h = x * od->A[(size_t) sd->pother[j] * K + c] + b;
			double		y = s->pred[pos];
			double		cf = s->pairs.conf[pos];

			g += (cf * (y - 1.0) - w0 * y) * h;
			hh += (cf - w0) * h * h;
		}
		beta[m] = b;
		ops += 2 * K + (sd->poff[e + 1] - sd->poff[e]);
	}
	if (!(hh > 0.0) || !isfinite(g))
		return ops;
	delta = -g / hh;
	*theta = (float) (*theta + delta);
	for (size_t m = 0; m < n; m++)
	{
		size_t		e = ent[m];
		double		x = val ? val[m] : 1.0;
		float	   *a = sd->A + e * K;

		for (uint64_t j = sd->poff[e]; j < sd->poff[e + 1]; j++)
		{
			uint64_t	pos = PairPos(sd, j);
			double		h = x * od->A[(size_t) sd->pother[j] * K + c] + beta[m];

			s->pred[pos] = (float) (s->pred[pos] + delta * h);
		}
		a[c] = (float) (a[c] + x * delta);
		a[k] = (float) (a[k] + beta[m] * delta);
	}
	return ops;
}

/* The regularization of a feature held by these entities. */
static double
FeatureReg(const IcdData *s, int side, const uint32_t *ent, size_t n)
{
	const IcdSide *sd = &s->side[side];
	double		pairs = 0.0;

	for (size_t m = 0; m < n; m++)
		pairs += (double) (sd->poff[ent[m] + 1] - sd->poff[ent[m]]);
	return FmImplicitReg(&s->t->p, pairs, (double) n * s->side[1 - side].n_active);
}

/* Pool entry: the id features of a fixed share of [lo, hi). */
static void
IdWorker(void *arg, int worker)
{
	IcdData    *s = arg;
	int			nt = s->t->p.threads;
	int			side = s->phase == 0 ? 0 : 1;
	IcdSide    *sd = &s->side[side];
	size_t		len = s->hi - s->lo;
	size_t		a = s->lo + len * worker / nt;
	size_t		b = s->lo + len * (worker + 1) / nt;

	for (size_t e = a; e < b; e++)
	{
		uint32_t	ent = (uint32_t) e;
		float	   *v = Factor(s, sd->id_off + e);
		double		lambda = FeatureReg(s, side, &ent, 1);
		double		beta;

		if (!HasPairs(sd, e))
			continue;
		for (int c = 0; c < s->k; c++)
			UpdateCoordinate(s, side, &v[c], c, &ent, NULL, 1, lambda, &beta);
	}
}

/* The loss per unit of observed confidence, as in ials.c. */
static void
LossWorker(void *arg, int worker)
{
	IcdData    *s = arg;
	int			nt = s->t->p.threads;
	const IcdSide *us = &s->side[0];
	size_t		a = us->n * worker / nt;
	size_t		b = us->n * (worker + 1) / nt;

	for (size_t u = a; u < b; u++)
	{
		double		obs = 0.0;

		for (uint64_t j = us->poff[u]; j < us->poff[u + 1]; j++)
		{
			double		y = s->pred[j];

			obs += s->pairs.conf[j] * (1.0 - y) * (1.0 - y) - s->w0 * y * y;
		}
		s->uloss[u] = obs;
	}
}

static double
Loss(IcdData *s)
{
	int			K = s->K;
	double		all = 0.0;
	double		obs = 0.0;
	const IcdSide *us = &s->side[0];

	Refresh(s);
	Gramian(s, 1, s->J);
	/* J2 = sum_u A_u A_u' */
	memset(s->J2, 0, (size_t) K * K * sizeof(double));
	for (size_t u = 0; u < us->n; u++)
	{
		const float *a = us->A + u * K;

		if (!HasPairs(us, u))
			continue;
		for (int p = 0; p < K; p++)
			for (int q = 0; q < K; q++)
				s->J2[p * K + q] += (double) a[p] * a[q];
	}
	for (int j = 0; j < K * K; j++)
		all += s->J[j] * s->J2[j];
	FmPoolRun(s->t->pool, LossWorker, s);
	for (size_t u = 0; u < us->n; u++)
		obs += s->uloss[u];
	return (s->w0 * all + obs) / s->pairs.conf_sum;
}

static void
IcdFree(FmTrainerData *t)
{
	IcdData    *s = t->solver;

	if (s == NULL)
		return;
	for (int side = 0; side < 2; side++)
	{
		free(s->side[side].hoff);
		free(s->side[side].hent);
		free(s->side[side].hval);
		free(s->side[side].A);
	}
	free(s->V);
	free(s->W);
	FmPairsFree(&s->pairs);
	free(s->pred);
	free(s->B);
	free(s->J);
	free(s->J2);
	free(s->beta);
	free(s->uloss);
	free(s);
	t->solver = NULL;
}

/*
 * The holders of each attribute of a side, from the per-entity lists:
 * only entities with an observed pair (HasPairs).
 */
static bool
BuildHolders(IcdSide *sd, size_t *longest)
{
	const FmListsData *l = sd->lists;
	uint64_t	total = l->off ? l->off[sd->n] : 0;
	uint64_t   *fill;

	sd->hoff = calloc((size_t) sd->n_attr + 1, sizeof(uint64_t));
	sd->hent = malloc((total + 1) * sizeof(uint32_t));
	sd->hval = malloc((total + 1) * sizeof(float));
	fill = malloc(((size_t) sd->n_attr + 1) * sizeof(uint64_t));
	if (!sd->hoff || !sd->hent || !sd->hval || !fill)
	{
		free(fill);
		return false;
	}
	for (size_t e = 0; e < sd->n && total > 0; e++)
		if (HasPairs(sd, e))
			for (uint64_t j = l->off[e]; j < l->off[e + 1]; j++)
				sd->hoff[l->feat[j] + 1]++;
	for (uint32_t f = 0; f < sd->n_attr; f++)
	{
		sd->hoff[f + 1] += sd->hoff[f];
		if (sd->hoff[f + 1] - sd->hoff[f] > *longest)
			*longest = sd->hoff[f + 1] - sd->hoff[f];
	}
	memcpy(fill, sd->hoff, ((size_t) sd->n_attr + 1) * sizeof(uint64_t));
	for (size_t e = 0; e < sd->n && total > 0; e++)
		for (uint64_t j = l->off[e]; j < l->off[e + 1] && HasPairs(sd, e); j++)
		{
			uint64_t	pos = fill[l->feat[j]]++;

			sd->hent[pos] = (uint32_t) e;
			sd->hval[pos] = l->val[j];
		}
	free(fill);
	return true;
}

/* A side's sizes, attributes and pair lists (views into s->pairs). */
static void
SideInit(IcdSide *sd, size_t n, size_t id_off, size_t attr_off, uint32_t n_attr,
		 const FmListsData *lists, uint64_t *poff, uint32_t *pother, uint64_t *ppos)
{
	sd->n = n;
	sd->id_off = id_off;
	sd->attr_off = attr_off;
	sd->n_attr = n_attr;
	sd->lists = lists;
	sd->poff = poff;
	sd->pother = pother;
	sd->ppos = ppos;
	for (size_t e = 0; e < n; e++)
		sd->n_active += HasPairs(sd, e);
}

static FmStatus
IcdCreate(FmTrainerData *t, char *err, size_t errlen)
{
	const FmDatasetData *ds = t->ds;
	size_t		longest = 1;
	IcdData    *s;
	IcdSide    *us;
	IcdSide    *is;
	FmStatus	st;

	if (ds->cfeat.n > 0 || ds->n_ctx > 0)
	{
		snprintf(err, errlen, "the implicit task does not take context columns: a pair not chosen has no context");
		return FM_ERR_PARAM;
	}
	if ((s = calloc(1, sizeof(IcdData))) == NULL)
		goto nomem;
	t->solver = s;
	s->t = t;
	s->k = t->p.factors;
	s->K = s->k + 2;
	s->kp = t->kp;
	s->w0 = (float) t->p.unobserved_weight;
	if ((st = FmPairsBuild(t, &s->pairs, err, errlen)) != FM_OK)
		return st;
	us = &s->side[0];
	is = &s->side[1];
	SideInit(us, ds->n_users, 0, t->off_uf, ds->ufeat.n, &ds->uattr,
			 s->pairs.uoff, s->pairs.uitem, NULL);
	SideInit(is, ds->n_items, ds->n_users, t->off_if, ds->ifeat.n, &ds->iattr,
			 s->pairs.ioff, s->pairs.iuser, s->pairs.ipos);
	s->V = malloc((t->n_feat * s->kp + 1) * sizeof(float));
	s->W = calloc(t->n_feat + 1, sizeof(float));
	s->pred = calloc(s->pairs.n + 1, sizeof(float));
	us->A = malloc((us->n * s->K + 1) * sizeof(float));
	is->A = malloc((is->n * s->K + 1) * sizeof(float));
	s->B = malloc((size_t) s->K * sizeof(float));
	s->J = malloc((size_t) s->K * s->K * sizeof(double));
	s->J2 = malloc((size_t) s->K * s->K * sizeof(double));
	s->uloss = malloc((us->n + 1) * sizeof(double));
	if (!s->V || !s->W || !s->pred || !us->A || !is->A || !s->B ||
		!s->J || !s->J2 || !s->uloss)
		goto nomem;
	memcpy(s->V, t->init_v, t->n_feat * s->kp * sizeof(float));
	if (!BuildHolders(us, &longest) || !BuildHolders(is, &longest))
		goto nomem;
	if ((s->beta = malloc(longest * sizeof(double))) == NULL)
		goto nomem;
	s->phase = 0;
	s->next = 0;
	s->next_c = 0;
	return FM_OK;

nomem:
	snprintf(err, errlen, "out of memory for implicit coordinate descent over %zu rows", t->n_train);
	return FM_ERR_NOMEM;
}

/*
 * One bounded slice of the current phase: a range of ids on all threads,
 * or coordinates of attributes on this one until the budget is spent.
 * Each half-iteration starts from caches recomputed from the factors and
 * the Gramian of the fixed side.
 */
static FmStatus
IcdStep(FmTrainerData *t, char *err, size_t errlen)
{
	IcdData    *s = t->solver;
	int			side = s->phase < 2 ? 0 : 1;
	IcdSide    *sd = &s->side[side];

	(void) err;
	(void) errlen;
	if ((s->phase == 0 || s->phase == 2) && s->next == 0)
	{
		Refresh(s);
		Gramian(s, 1 - side, s->J);
	}
	if (s->phase == 0 || s->phase == 2)
	{
		s->lo = s->next;
		s->hi = s->next + ID_SLICE < sd->n ? s->next + ID_SLICE : sd->n;
		if (s->hi > s->lo)
			FmPoolRun(t->pool, IdWorker, s);
		s->next = s->hi;
		if (s->next >= sd->n)
		{
			s->phase++;
			s->next = 0;
			s->next_c = 0;
		}
		return FM_RUNNING;
	}
	else
	{
		size_t		ops = 0;

		while (s->next < sd->n_attr && ops < ATTR_BUDGET)
		{
			uint32_t	f = (uint32_t) s->next;
			const uint32_t *ent = sd->hent + sd->hoff[f];
			const float *val = sd->hval + sd->hoff[f];
			size_t		holders = sd->hoff[f + 1] - sd->hoff[f];
			float	   *v = Factor(s, sd->attr_off + f);
			double		lambda = FeatureReg(s, side, ent, holders);

			if (holders > 0)
				ops += UpdateCoordinate(s, side, &v[s->next_c], s->next_c, ent, val,
										holders, lambda, s->beta);
			ops++;
			if (++s->next_c >= s->k || holders == 0)
			{
				s->next_c = 0;
				s->next++;
			}
		}
		if (s->next < sd->n_attr)
			return FM_RUNNING;
		s->next = 0;
		s->next_c = 0;
		if (s->phase == 1)
		{
			s->phase = 2;
			return FM_RUNNING;
		}
		s->phase = 0;
		t->stats.train_loss = Loss(s);
		return FM_EPOCH_END;
	}
}

static void
IcdView(FmTrainerData *t, FmParamView *v)
{
	IcdData    *s = t->solver;

	v->w0 = 0.0f;
	v->W = s->W;
	v->ws = 1;
	v->V = s->V;
	v->vs = s->kp;
}

/*
 * The factors, the pair lists both ways with their confidences and
 * scores, the holder lists, both sides' caches and the Gramians.
 */
static double
IcdMemory(const FmDatasetData *ds, const FmParamsData *p, double n_feat,
		  double kp)
{
	double		n = (double) ds->n_rows;
	double		K = p->factors + 2.0;
	double		ent = (double) ds->n_users + ds->n_items;

	return n_feat * (kp + 1) * sizeof(float) +
		FmPairsMemory(ds) + n * sizeof(float) +
		ent * K * sizeof(float) + ((double) ds->n_users + 1) * sizeof(double) +
		(double) (ds->n_uattr + ds->n_iattr) * (sizeof(uint32_t) + sizeof(float) + sizeof(double)) +
		(double) (ds->ufeat.n + ds->ifeat.n) * 2 * sizeof(uint64_t) +
		3 * K * K * sizeof(double);
}

const FmSolverOps fm_icd_ops = {
	.id = FM_SOLVER_ALS,
	.name = "als",
	.unit = "iteration",
	.caps = FM_CAP_IMPLICIT | FM_CAP_ANY_THREADS,
	.create = IcdCreate,
	.step = IcdStep,
	.view = FmNoHoldout,
	.final = IcdView,
	.free = IcdFree,
	.memory = IcdMemory,
};
