/*
 * ials.c
 *	  Implicit alternating least squares: the "als" solver of the implicit
 *	  task (Hu, Koren and Volinsky, ICDM 2008).
 *
 * Every (user, item) pair is a training example: an observed pair has
 * preference 1 and the confidence c of FmConfidenceBase/Extra (params.c:
 * by default w0 + (1 - w0) * weight * (strength / mean)^1.5; with alpha >
 * 0, Hu et al.'s 1 + alpha * strength * weight, or its log scale;
 * duplicate pairs add up), every unobserved pair preference 0 and
 * confidence w0 = unobserved_weight.  The
 * loss
 *
 *		sum over all pairs of c_ui (p_ui - <x_u, y_i>)^2
 *		  + reg_factors * (sum |x_u|^2 + sum |y_i|^2)
 *
 * is minimized by alternating exact-in-expectation updates of all users,
 * then all items.  The sum over all users x items pairs is never formed:
 * for user u it splits into the Gramian G = sum_i y_i y_i' of every item
 * (k x k, computed once per half-iteration) plus a correction over the
 * items u chose, so the system for x_u is
 *
 *		(G + sum_{i in I_u} (c_ui - 1) y_i y_i' + reg I) x_u = sum_{i in I_u} c_ui y_i
 *
 * and an iteration costs O(nnz k + (users + items) k^2), never
 * O(users x items).  Each system is solved by three steps of conjugate
 * gradient warm-started from the current vector (Takacs, Pilaszy and
 * Tikk, RecSys 2011): matrix-vector products only, no k^3 factorization.
 *
 * The model has no biases (w0 = b_u = b_i = 0): its score <x_u, y_i> is a
 * preference, higher ranks first, and unknown users get 0 for every item
 * (fm_topn's popularity path then has nothing to order by; see README).
 * Users and items are independent within a half-iteration, so threads
 * split them in fixed ranges and the model is the same for any thread
 * count.  A step solves a slice of entities (a few milliseconds), so the
 * caller can check for interrupts between steps.  Data with user or item
 * attributes go to icd.c instead (implicit coordinate descent over the
 * whole FM, Bayer et al. WWW 2017), which has the same loss and the same
 * fixed point on ids alone, at several times this solver's cost.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "kernels.h"
#include "trainer.h"

#define CG_STEPS 3
#define SLICE 512				/* entities solved per step */

typedef struct IalsData
{
	FmTrainerData *t;
	size_t		nu;
	size_t		ni;
	int			k;
	size_t		kp;
	float	   *V;				/* (nu + ni) x kp: users, then items */
	float	   *W;				/* zeros: the model's linear weights */
	FmPairs		pairs;			/* the observed pairs by user and by item */
	float	   *iconf;			/* by item: each pair's confidence, for gathers */
	float	   *G;				/* k x kp Gramian of the fixed side */
	float	   *G2;				/* another, for the loss */
	double	   *uloss;			/* per user: its observed pairs' loss terms */
	float	   *scratch;		/* per thread: 4 vectors of kp, then tmp and Y */
	size_t		maxdeg;			/* most pairs of one user or item */
	size_t		stride;			/* scratch floats per thread */
	float		w0;				/* weight of an unobserved pair */
	int			phase;			/* 0: users, 1: items */
	size_t		next;			/* next entity of the phase */
	/* the slice a run solves, shared with the workers */
	size_t		lo;
	size_t		hi;
} IalsData;

static float *
Vec(const IalsData *s, bool item, size_t e)
{
	return s->V + ((item ? s->nu : 0) + e) * s->kp;
}

/* G = sum of the side's vectors' outer products (kp-strided rows). */
static void
Gramian(IalsData *s, bool item)
{
	size_t		n = item ? s->ni : s->nu;
	const float *base = Vec(s, item, 0);

	memset(s->G, 0, (size_t) s->k * s->kp * sizeof(float));
	if (n > 0)
		cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, s->k, (int) n, 1.0f,
					base, (int) s->kp, 0.0f, s->G, (int) s->kp);
	for (int a = 0; a < s->k; a++)
		for (int b = 0; b < a; b++)
			s->G[b * s->kp + a] = s->G[a * s->kp + b];
}

/*
 * out = A v for an entity whose chosen vectors are the rows of Y (n x kp,
 * gathered): w0 G v + Y' ((c - w0) .* (Y v)) + reg v.  Plain loops, not
 * BLAS: this runs on worker threads, and a BLAS build without locking
 * shares its work buffers between concurrent calls (made visible as
 * models that differed from run to run with two threads).
 */
FM_INLINE void
Apply(const IalsData *s, const float *v, float *out, const float *Y,
	  const float *conf, size_t n, float reg, float *tmp)
{
	int			k = s->k;
	size_t		kp = s->kp;
	float		w0 = s->w0;

	for (int a = 0; a < k; a++)
		out[a] = w0 * FmDotPadded(s->G + (size_t) a * kp, v, (int) kp) + reg * v[a];
	for (size_t d = (size_t) k; d < kp; d++)
		out[d] = 0.0f;
	for (size_t j = 0; j < n; j++)
		tmp[j] = FmDotPadded(Y + j * kp, v, (int) kp) * (conf[j] - w0);
	for (size_t j = 0; j < n; j++)
		FmAxpyPadded(out, tmp[j], Y + j * kp, (int) kp);
}

/*
 * Three conjugate gradient steps on entity e's system, from its vector;
 * compiled per instruction set, so the inlined products run in the
 * machine's vector width.
 */
FM_CLONES
static void
Solve(const IalsData *s, bool item, size_t e, float *work)
{
	size_t		kp = s->kp;
	const uint64_t *off = item ? s->pairs.ioff : s->pairs.uoff;
	const uint32_t *idx = (item ? s->pairs.iuser : s->pairs.uitem) + off[e];
	const float *conf = (item ? s->iconf : s->pairs.conf) + off[e];
	size_t		n = off[e + 1] - off[e];
	float	   *x = Vec(s, item, e);
	float	   *r = work;
	float	   *p = work + kp;
	float	   *ap = work + 2 * kp;
	float	   *tmp = work + 4 * kp;
	float	   *Y = tmp + s->maxdeg + 16;
	float		reg;
	float		rr;

	if (n == 0)
	{
		/* no choices: the least-squares answer is the zero vector */
		memset(x, 0, kp * sizeof(float));
		return;
	}
	/* frequency-scaled regularization (Rendle et al., RecSys 2022) */
	reg = (float) FmImplicitReg(&s->t->p, (double) n, (double) (item ? s->nu : s->ni));
	/* the chosen vectors, gathered once for the products below */
	for (size_t j = 0; j < n; j++)
		memcpy(Y + j * kp, Vec(s, !item, idx[j]), kp * sizeof(float));
	/* r = b - A x, with b = sum c y = Y' c */
	Apply(s, x, ap, Y, conf, n, reg, tmp);
	memset(r, 0, kp * sizeof(float));
	for (size_t j = 0; j < n; j++)
		FmAxpyPadded(r, conf[j], Y + j * kp, (int) kp);
	for (size_t d = 0; d < kp; d++)
		r[d] -= ap[d];
	memcpy(p, r, kp * sizeof(float));
	rr = FmDotPadded(r, r, (int) kp);
	for (int it = 0; it < CG_STEPS && rr > 1e-12f; it++)
	{
		float		pap,
					a,
					rr_new;

		Apply(s, p, ap, Y, conf, n, reg, tmp);
		pap = FmDotPadded(p, ap, (int) kp);
		if (!(pap > 0.0f))
			break;
		a = rr / pap;
		for (size_t d = 0; d < kp; d++)
		{
			x[d] += a * p[d];
			r[d] -= a * ap[d];
		}
		rr_new = FmDotPadded(r, r, (int) kp);
		for (size_t d = 0; d < kp; d++)
			p[d] = r[d] + (rr_new / rr) * p[d];
		rr = rr_new;
	}
}

/* Pool entry: worker w solves its fixed share of [lo, hi). */
static void
SliceWorker(void *arg, int worker)
{
	IalsData   *s = arg;
	int			nt = s->t->p.threads;
	size_t		len = s->hi - s->lo;
	size_t		a = s->lo + len * worker / nt;
	size_t		b = s->lo + len * (worker + 1) / nt;
	float	   *work = s->scratch + (size_t) worker * s->stride;

	for (size_t e = a; e < b; e++)
		Solve(s, s->phase == 1, e, work);
}

/*
 * The loss per unit of observed confidence: (sum over all pairs of
 * c (p - s)^2) / sum of observed c.  The all-pairs part,
 * sum_u x_u' G_items x_u, is the elementwise product of the two sides'
 * Gramians, summed.
 */
/* Pool entry: the observed pairs' loss terms of a fixed share of users. */
static void
LossWorker(void *arg, int worker)
{
	IalsData   *s = arg;
	int			nt = s->t->p.threads;
	size_t		a = s->nu * worker / nt;
	size_t		b = s->nu * (worker + 1) / nt;

	for (size_t u = a; u < b; u++)
	{
		const float *x = Vec(s, false, u);
		double		obs = 0.0;

		for (uint64_t j = s->pairs.uoff[u]; j < s->pairs.uoff[u + 1]; j++)
		{
			double		sc = FmDotPadded(x, Vec(s, true, s->pairs.uitem[j]), (int) s->kp);
			double		c = s->pairs.conf[j];

			/* replace the pair's unobserved term w0 sc^2 by c (1 - sc)^2 */
			obs += c * (1.0 - sc) * (1.0 - sc) - s->w0 * sc * sc;
		}
		s->uloss[u] = obs;
	}
}

static double
Loss(IalsData *s)
{
	double		all = 0.0;
	double		obs = 0.0;
	size_t		kk = (size_t) s->k * s->kp;

	Gramian(s, true);
	memcpy(s->G2, s->G, kk * sizeof(float));
	Gramian(s, false);
	for (size_t j = 0; j < kk; j++)
		all += (double) s->G[j] * s->G2[j];
	all *= s->w0;
	/* per user in parallel, summed in user order: the same for any threads */
	FmPoolRun(s->t->pool, LossWorker, s);
	for (size_t u = 0; u < s->nu; u++)
		obs += s->uloss[u];
	return (all + obs) / s->pairs.conf_sum;
}

static void
IalsFree(FmTrainerData *t)
{
	IalsData   *s = t->solver;

	if (s == NULL)
		return;
	free(s->V);
	free(s->W);
	FmPairsFree(&s->pairs);
	free(s->iconf);
	free(s->G);
	free(s->G2);
	free(s->uloss);
	free(s->scratch);
	free(s);
	t->solver = NULL;
}

/* Builds the pair lists (FmPairsBuild) and takes the trainer's initial factors. */
static FmStatus
IalsCreate(FmTrainerData *t, char *err, size_t errlen)
{
	IalsData   *s;
	FmStatus	st;

	if (t->general)
	{
		/* not reached: the solver table sends attributes to icd.c */
		snprintf(err, errlen, "implicit ALS over ids only was given attributes or context");
		return FM_ERR_PARAM;
	}
	s = calloc(1, sizeof(IalsData));
	if (s == NULL)
		goto nomem;
	t->solver = s;
	s->t = t;
	s->nu = t->ds->n_users;
	s->ni = t->ds->n_items;
	s->k = t->p.factors;
	s->kp = t->kp;
	s->w0 = (float) t->p.unobserved_weight;
	if ((st = FmPairsBuild(t, &s->pairs, err, errlen)) != FM_OK)
		return st;
	s->V = calloc((s->nu + s->ni) * s->kp + 1, sizeof(float));
	s->W = calloc(t->n_feat + 1, sizeof(float));
	s->iconf = malloc((s->pairs.n + 1) * sizeof(float));
	/* rows padded to kp (zeros past k), for the padded dot products */
	s->G = calloc((size_t) s->k * s->kp, sizeof(float));
	s->G2 = calloc((size_t) s->k * s->kp, sizeof(float));
	s->uloss = malloc((s->nu + 1) * sizeof(double));
	/* per thread: r, p, Ap, spare, then (c - w0) .* Y v and the gathered Y */
	s->maxdeg = s->pairs.longest;
	s->stride = 4 * s->kp + s->maxdeg + 16 + s->maxdeg * s->kp;
	s->stride = (s->stride + 15) & ~(size_t) 15;
	s->scratch = malloc(s->stride * t->p.threads * sizeof(float));
	if (!s->uloss || !s->V || !s->W || !s->iconf || !s->G || !s->G2 || !s->scratch)
		goto nomem;
	memcpy(s->V, t->init_v, (s->nu + s->ni) * s->kp * sizeof(float));
	/* by item, the confidences themselves: Solve gathers them in a row */
	for (size_t j = 0; j < s->pairs.n; j++)
		s->iconf[j] = s->pairs.conf[s->pairs.ipos[j]];
	s->phase = 0;
	s->next = 0;
	return FM_OK;

nomem:
	snprintf(err, errlen, "out of memory for implicit ALS over %zu rows", t->n_train);
	return FM_ERR_NOMEM;
}

/*
 * One slice of users or items.  The Gramian of the other side is formed
 * when a half-iteration starts; the epoch ends after the last item, with
 * the loss.
 */
static FmStatus
IalsStep(FmTrainerData *t, char *err, size_t errlen)
{
	IalsData   *s = t->solver;
	size_t		n = s->phase == 0 ? s->nu : s->ni;

	(void) err;
	(void) errlen;
	if (s->next == 0)
		Gramian(s, s->phase == 0);
	s->lo = s->next;
	s->hi = s->next + SLICE < n ? s->next + SLICE : n;
	if (s->hi > s->lo)
		FmPoolRun(t->pool, SliceWorker, s);
	s->next = s->hi;
	if (s->next < n)
		return FM_RUNNING;
	s->next = 0;
	if (s->phase == 0)
	{
		s->phase = 1;
		return FM_RUNNING;
	}
	s->phase = 0;
	t->stats.train_loss = Loss(s);
	return FM_EPOCH_END;
}

static void
IalsView(FmTrainerData *t, FmParamView *v)
{
	IalsData   *s = t->solver;

	v->w0 = 0.0f;
	v->W = s->W;
	v->ws = 1;
	v->V = s->V;
	v->vs = s->kp;
}

/*
 * factors of both sides, the pair lists both ways and the by-item
 * confidences, the Gramians, scratch
 */
static double
IalsMemory(const FmDatasetData *ds, const FmParamsData *p, double n_feat,
		   double kp)
{
	double		n = (double) ds->n_rows;
	/* the longest pair list, gathered by each thread */
	double		maxdeg = FmLongestIdList(ds);

	return ((double) ds->n_users + ds->n_items) * kp * sizeof(float) +
		n_feat * sizeof(float) + FmPairsMemory(ds) + n * sizeof(float) +
		2.0 * p->factors * kp * sizeof(float) +
		((double) ds->n_users + 1) * sizeof(double) +
		(4 * kp + 32 + maxdeg * (kp + 1)) * sizeof(float) * p->threads;
}

const FmSolverOps fm_ials_ops = {
	.id = FM_SOLVER_ALS,
	.name = "als",
	.unit = "iteration",
	.caps = FM_CAP_IMPLICIT | FM_CAP_ANY_THREADS | FM_CAP_IDS_ONLY,
	.create = IalsCreate,
	.step = IalsStep,
	.view = FmNoHoldout,
	.final = IalsView,
	.free = IalsFree,
	.memory = IalsMemory,
};
