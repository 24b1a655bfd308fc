/*
 * cd.c
 *	  Coordinate descent solvers: alternating least squares (ALS) and
 *	  Bayesian Gibbs sampling (MCMC), as in Rendle's "Factorization
 *	  Machines with libFM" (ACM TIST 2012).  One file because they are one
 *	  algorithm: MCMC draws each coordinate from the conditional whose mean
 *	  ALS takes.
 *
 * Design.  Both solvers visit every parameter in turn and set it from its
 * conditional distribution given all others.  Because the FM prediction is
 * linear in each single parameter theta,
 *
 *		y(x) = g(x) + theta * h(x)
 *
 * with h = x_j for a linear weight w_j and h = x_j (q_f(x) - v_jf x_j) for
 * a factor v_jf, where q_f(x) = sum_j v_jf x_j, the conditional is
 * Gaussian with precision  alpha * sum h^2 + lambda  and mean
 * (alpha * sum h (e + theta h) + mu * lambda) / precision, e being the
 * residual y - y(x).  ALS takes the mean with fixed lambda = reg and
 * alpha = 1; MCMC draws from it, and before every sweep also draws the
 * noise precision alpha and, per parameter group (users, items, user
 * attributes, item attributes, context) and factor dimension, the prior's
 * mean mu and precision lambda from their Normal-Gamma hyperpriors.  So
 * MCMC needs no learning rate and no regularization.
 *
 * Residuals e (per row) and the factor sums q (per row and dimension) are
 * cached and updated after every parameter change, so a sweep costs
 * O(active features x k), like an SGD epoch.  The sums take 4 k bytes a
 * row (6.4 GB at 25M ratings and k = 64): past fm_cd_q_cache_max bytes
 * they are not kept but computed from the row's features where they are
 * needed (the same conditionals, at some cost in speed), so memory stays
 * O(active features + parameters).  A feature's rows come from
 * a column-major copy of the training rows.  The scan goes feature by
 * feature and, within a feature, over its k dimensions, so a feature's
 * rows stay in cache while its factors are updated.
 *
 * Parallelism.  Every row has exactly one user id and one item id, so the
 * parameters of two different users (or items) never share a row: their
 * updates touch disjoint residuals and sums and run on all threads at
 * once.  Attribute and context features can share rows and are updated
 * by one thread.  Each feature's random numbers come from a generator
 * seeded by (seed, iteration, feature), so the result does not depend on
 * the number of threads.
 *
 * The binary task uses the probit link: every sweep draws a latent target
 * z ~ N(y(x), 1) truncated to z > 0 for positive rows and z < 0 for the
 * others, and regresses on z.
 *
 * What is stored.  The MCMC model is the average of the parameters drawn
 * after burn-in (libFM averages the predictions instead; averaging the
 * parameters keeps serving a single dot product per pair, and the chain
 * starts from a small random point and stays in one mode, so the two
 * agree closely: the validation metrics reported are those of the stored
 * averaged model).  For the binary task the averaged probit parameters are
 * scaled by 1.702 (the linear terms) and sqrt(1.702) (the factors), so
 * the logistic output fmrec serves approximates the probit probability
 * within 0.01.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "kernels.h"
#include "rng.h"
#include "trainer.h"

#define N_GROUPS 5
#define PROBIT_TO_LOGIT 1.702
#define CHUNK 16				/* features per work unit in a parallel group */
#define SLICE_WORK (64u << 20)	/* feature rows x factors per trainer step */
#ifndef FM_CD_LARGE
#define FM_CD_LARGE 64			/* rows from which a feature's rows are gathered */
#endif

typedef struct FmCdData
{
	size_t		n;				/* training rows */
	size_t		F;				/* features */
	int			k;
	size_t		kp;				/* row stride of v and q */
	uint64_t   *roff;			/* row-major active features */
	uint32_t   *rfeat;
	float	   *rval;
	uint64_t   *coff;			/* column-major: rows of each feature */
	uint32_t   *crow;
	float	   *cval;
	size_t		group_start[N_GROUPS + 1];
	float	   *weight;			/* row weights */
	float	   *target;			/* regression rating, or latent z */
	float	   *label;			/* binary: 0 / 1 */
	double		w0;
	float	   *w;
	float	   *v;				/* F x kp */
	float	   *e;				/* residual target - prediction, per row */
	float	   *q;				/* n x kp: sum of x v per row */
	double		alpha;
	double		mu_w[N_GROUPS];
	double		lam_w[N_GROUPS];
	double	   *mu_v;			/* N_GROUPS x k */
	double	   *lam_v;
	double		sum_w0;			/* sums of the post-burn-in draws */
	double	   *sum_w;
	double	   *sum_v;
	int			n_samples;
	float		out_w0;			/* MCMC: the average of the draws so far */
	float	   *out_w;
	float	   *out_v;
	float	   *scratch;		/* per thread: a Local of scratch_len rows */
	size_t		scratch_len;
	double	   *normals;		/* per thread: k + 2 normals */
	/* the work of one parallel group, shared with the pool's workers */
	size_t		job_lo;
	size_t		job_hi;
	int			job_group;
	/* where the current iteration is: 0 = not started, g + 1 = in group g */
	int			stage;
	size_t		next_feat;
	_Atomic size_t job_next;
	uint64_t	job_iter;
	FmTrainerData *t;
} FmCdData;

typedef FmCdData *FmCd;

/* the largest factor-sum cache kept (bytes); tests lower it */
size_t		fm_cd_q_cache_max = (size_t) 2 << 30;

/* Row r's factor sums into q[0..kp), from its features (no cache). */
static void
RowSums(const FmCdData *cd, size_t r, float *restrict q)
{
	memset(q, 0, cd->kp * sizeof(float));
	for (uint64_t a = cd->roff[r]; a < cd->roff[r + 1]; a++)
	{
		const float *v = cd->v + (size_t) cd->rfeat[a] * cd->kp;
		float		x = cd->rval[a];

		for (size_t f = 0; f < cd->kp; f++)
			q[f] += x * v[f];
	}
}

/* a generator for one (seed, iteration, feature or chunk) */
static void
FeatureRng(FmRng *rng, uint64_t seed, uint64_t iter, size_t j)
{
	FmRngSeed(rng, seed ^ (iter * 0x9E3779B97F4A7C15ull) ^
			  ((uint64_t) j * 0xD1B54A32D192ED03ull));
}

/* ---------------------------------------------------------------- */
/* caches */

/* prediction of row r from the current parameters and its q */
static double
RowPrediction(const FmCd cd, size_t r)
{
	double		y = cd->w0;
	double		sq = 0;
	float		own[FM_MAX_FACTORS + 16];
	const float *q = cd->q ? cd->q + r * cd->kp : own;

	if (cd->q == NULL)
		RowSums(cd, r, own);

	for (uint64_t a = cd->roff[r]; a < cd->roff[r + 1]; a++)
	{
		const float *v = cd->v + (size_t) cd->rfeat[a] * cd->kp;
		double		x = cd->rval[a];

		y += x * cd->w[cd->rfeat[a]];
		sq += x * x * FmDot(v, v, (int) cd->kp);
	}
	return y + 0.5 * (FmDot(q, q, (int) cd->kp) - sq);
}

/* Recomputes q and e from scratch: removes the drift of incremental updates. */
static void
Refresh(FmCd cd)
{
	for (size_t r = 0; r < cd->n; r++)
	{
		if (cd->q)
			RowSums(cd, r, cd->q + r * cd->kp);
		cd->e[r] = (float) (cd->target[r] - RowPrediction(cd, r));
	}
}

/* ---------------------------------------------------------------- */
/* one parameter at a time */

/* per-thread scratch of one feature's rows, factor sums transposed */
typedef struct Local
{
	float	   *x;				/* feature value in each row */
	float	   *wt;				/* row weight */
	float	   *e;				/* residual */
	float	   *h;				/* h of the current parameter */
	float	   *qt;				/* kp x n: q of each row, dimension-major */
	double	   *z;				/* k + 1 standard normals */
} Local;

static void
LocalAt(const FmCdData *cd, int worker, Local *l)
{
	size_t		len = cd->scratch_len;
	float	   *base = cd->scratch + (size_t) worker * len * (cd->kp + 4);

	l->x = base;
	l->wt = base + len;
	l->e = base + 2 * len;
	l->h = base + 3 * len;
	l->qt = base + 4 * len;
	l->z = cd->normals + (size_t) worker * (cd->k + 2);
}

/*
 * Sums p = sum w h^2 and s = sum w h (e + v h) of one dimension over a
 * feature's gathered rows, filling h; eight explicit partial sums, so it
 * vectorizes without reassociation.
 */
FM_CLONES
static void
Accumulate(const float *restrict qt, const float *restrict x,
		   const float *restrict wt, const float *restrict e,
		   float *restrict h, size_t n, float v, double *p, double *s)
{
	float		pa[8] = {0};
	float		sa[8] = {0};
	size_t		j = 0;

	for (; j + 8 <= n; j += 8)
		for (int l = 0; l < 8; l++)
		{
			float		hv = x[j + l] * (qt[j + l] - v * x[j + l]);
			float		wh = wt[j + l] * hv;

			h[j + l] = hv;
			pa[l] += wh * hv;
			sa[l] += wh * (e[j + l] + v * hv);
		}
	for (; j < n; j++)
	{
		float		hv = x[j] * (qt[j] - v * x[j]);
		float		wh = wt[j] * hv;

		h[j] = hv;
		pa[0] += wh * hv;
		sa[0] += wh * (e[j] + v * hv);
	}
	*p = ((pa[0] + pa[1]) + (pa[2] + pa[3])) + ((pa[4] + pa[5]) + (pa[6] + pa[7]));
	*s = ((sa[0] + sa[1]) + (sa[2] + sa[3])) + ((sa[4] + sa[5]) + (sa[6] + sa[7]));
}

/* Draws (ALS: takes the mean of) a parameter given its sums p and s. */
static inline double
Conditional(double alpha, double p, double s, double mu, double lam,
			bool sample, double z)
{
	double		inv = 1.0 / (alpha * p + lam);	/* the variance */
	double		mean = (alpha * s + mu * lam) * inv;

	return sample ? mean + z * sqrt(inv) : mean;
}

/*
 * Updates a feature with few rows in place: the rows' residuals and sums
 * stay in L1 across the k updates, so copying them is not worth it.
 */
static void
UpdateSmall(FmCd cd, size_t j, int g, bool sample, const double *z)
{
	uint64_t	lo = cd->coff[j];
	uint64_t	hi = cd->coff[j + 1];
	size_t		kp = cd->kp;
	float	   *vj = cd->v + j * kp;

	/* locals, so the loops need not reload them after every store */
	const uint32_t *restrict crow = cd->crow;
	const float *restrict cval = cd->cval;
	const float *restrict weight = cd->weight;
	float	   *restrict e = cd->e;
	float	   *restrict q = cd->q;
	const int	k = cd->k;
	double		p = 0,
				s = 0;
	float		old = cd->w[j];
	float		neu,
				delta;

	for (uint64_t a = lo; a < hi; a++)
	{
		uint32_t	r = crow[a];
		float		x = cval[a];
		float		wx = weight[r] * x;

		p += wx * x;
		s += wx * (e[r] + old * x);
	}
	neu = (float) Conditional(cd->alpha, p, s, cd->mu_w[g], cd->lam_w[g], sample, z[k]);
	delta = neu - old;
	for (uint64_t a = lo; a < hi; a++)
		e[crow[a]] -= delta * cval[a];
	cd->w[j] = neu;

	for (int f = 0; f < k; f++)
	{
		float		pf = 0,
					sf = 0;

		old = vj[f];
		for (uint64_t a = lo; a < hi; a++)
		{
			uint32_t	r = crow[a];
			float		x = cval[a];
			float		hv = x * (q[(size_t) r * kp + f] - old * x);
			float		wh = weight[r] * hv;

			pf += wh * hv;
			sf += wh * (e[r] + old * hv);
		}
		neu = (float) Conditional(cd->alpha, pf, sf, cd->mu_v[g * cd->k + f],
								  cd->lam_v[g * cd->k + f], sample, z[f]);
		delta = neu - old;
		if (delta == 0.0f)
			continue;
		for (uint64_t a = lo; a < hi; a++)
		{
			uint32_t	r = crow[a];
			float		x = cval[a];

			float	   *qf = &q[(size_t) r * kp + f];

			e[r] -= delta * x * (*qf - old * x);
			*qf += delta * x;
		}
		vj[f] = neu;
	}
}

/*
 * Updates a feature with many rows: they are gathered into contiguous,
 * dimension-major buffers first, so the k coordinate updates run as
 * vector loops over cache-resident data, and scattered back at the end.
 */
static void
UpdateLarge(FmCd cd, size_t j, int g, bool sample, const double *z, Local *l)
{
	uint64_t	lo = cd->coff[j];
	size_t		n = cd->coff[j + 1] - lo;
	size_t		kp = cd->kp;
	size_t		len = cd->scratch_len;
	double		p = 0,
				s = 0;
	float	   *vj = cd->v + j * kp;
	float		old,
				neu,
				delta;
	const uint32_t *restrict crow = cd->crow;
	float	   *restrict e = cd->e;
	float	   *restrict q0 = cd->q;
	float	   *restrict le = l->e;
	float	   *restrict qtb = l->qt;
	const int	k = cd->k;

	for (size_t a = 0; a < n; a++)
	{
		uint32_t	r = crow[lo + a];

		l->x[a] = cd->cval[lo + a];
		l->wt[a] = cd->weight[r];
		le[a] = e[r];
	}
	/* dimension-major: contiguous stores, each row's line reused k/16 times */
	if (q0)
		for (int f = 0; f < k; f++)
		{
			float	   *dst = qtb + f * len;

			for (size_t a = 0; a < n; a++)
				dst[a] = q0[(size_t) crow[lo + a] * kp + f];
		}
	else
		for (size_t a = 0; a < n; a++)
		{
			float		row[FM_MAX_FACTORS + 16];

			RowSums(cd, crow[lo + a], row);
			for (int f = 0; f < k; f++)
				qtb[f * len + a] = row[f];
		}

	old = cd->w[j];
	for (size_t a = 0; a < n; a++)
	{
		double		wx = (double) l->wt[a] * l->x[a];

		p += wx * l->x[a];
		s += wx * (l->e[a] + old * l->x[a]);
	}
	neu = (float) Conditional(cd->alpha, p, s, cd->mu_w[g], cd->lam_w[g], sample, z[cd->k]);
	delta = neu - old;
	for (size_t a = 0; a < n; a++)
		l->e[a] -= delta * l->x[a];
	cd->w[j] = neu;

	for (int f = 0; f < k; f++)
	{
		float	   *qt = l->qt + f * len;

		old = vj[f];
		Accumulate(qt, l->x, l->wt, l->e, l->h, n, old, &p, &s);
		neu = (float) Conditional(cd->alpha, p, s, cd->mu_v[g * cd->k + f],
								  cd->lam_v[g * cd->k + f], sample, z[f]);
		delta = neu - old;
		if (delta == 0.0f)
			continue;
		for (size_t a = 0; a < n; a++)
		{
			l->e[a] -= delta * l->h[a];
			qt[a] += delta * l->x[a];
		}
		vj[f] = neu;
	}

	for (size_t a = 0; a < n; a++)
	{
		uint32_t	r = crow[lo + a];

		e[r] = le[a];
		if (q0)
			for (int f = 0; f < k; f++)
				q0[(size_t) r * kp + f] = qtb[f * len + a];
	}
}

/* Updates w_j and v_j (all k dimensions) of feature j in group g. */
static void
UpdateFeature(FmCd cd, size_t j, int g, bool sample, FmRng *rng, Local *l)
{
	size_t		n = cd->coff[j + 1] - cd->coff[j];

	if (n == 0 && !sample)
		return;					/* ALS: a feature without rows keeps its value */
	if (sample)
		FmNormals(rng, l->z, cd->k + 1);
	else
		memset(l->z, 0, (cd->k + 1) * sizeof(double));
	/* without the sums cache every feature goes the gathering way */
	if (n < FM_CD_LARGE && cd->q != NULL)
		UpdateSmall(cd, j, g, sample, l->z);
	else
		UpdateLarge(cd, j, g, sample, l->z, l);
}


/* Pool entry: workers take chunks of the group's features in turn. */
static void
GroupWorker(void *arg, int worker)
{
	FmCd		cd = arg;
	FmTrainerData *t = cd->t;
	bool		sample = t->ops->id == FM_SOLVER_MCMC;
	Local		l;
	int			g = cd->job_group;

	LocalAt(cd, worker, &l);
	for (;;)
	{
		size_t		lo = atomic_fetch_add(&cd->job_next, CHUNK);

		if (lo >= cd->job_hi)
			break;
		for (size_t j = lo; j < lo + CHUNK && j < cd->job_hi; j++)
		{
			FmRng		rng;

			FeatureRng(&rng, t->p.seed, cd->job_iter, j);
			UpdateFeature(cd, j, g, sample, &rng, &l);
		}
	}
}

/* ---------------------------------------------------------------- */
/* hyperparameters (MCMC) */

/*
 * Draws (mu, lambda) of a Normal prior from the Normal-Gamma hyperprior
 * with mu0 = 0, gamma0 = 1, alpha0 = beta0 = 1, given n values (stride
 * apart) of the group.
 */
static void
DrawPrior(FmRng *rng, const float *vals, size_t n, size_t stride,
		  double *mu, double *lam)
{
	double		sum = 0,
				ss = 0;

	for (size_t j = 0; j < n; j++)
		sum += vals[j * stride];
	*mu = sum / (n + 1.0) + FmRngNormal(rng) / sqrt((n + 1.0) * *lam);
	for (size_t j = 0; j < n; j++)
	{
		double		d = vals[j * stride] - *mu;

		ss += d * d;
	}
	ss += *mu * *mu;
	*lam = FmGamma(rng, (1.0 + n + 1.0) / 2.0) / ((1.0 + ss) / 2.0);
}

/*
 * MCMC: draws the noise precision and every group's prior (mean,
 * precision) per dimension before a sweep.
 */
static void
DrawHyper(FmCd cd, FmRng *rng)
{
	double		se = 0,
				wsum = 0;

	for (size_t r = 0; r < cd->n; r++)
	{
		se += cd->weight[r] * (double) cd->e[r] * cd->e[r];
		wsum += cd->weight[r];
	}
	if (cd->t->p.task == FM_TASK_REGRESSION)
		cd->alpha = FmGamma(rng, (1.0 + wsum) / 2.0) / ((1.0 + se) / 2.0);
	for (int g = 0; g < N_GROUPS; g++)
	{
		size_t		lo = cd->group_start[g];
		size_t		n = cd->group_start[g + 1] - lo;

		if (n == 0)
			continue;
		DrawPrior(rng, cd->w + lo, n, 1, &cd->mu_w[g], &cd->lam_w[g]);
		for (int f = 0; f < cd->k; f++)
			DrawPrior(rng, cd->v + lo * cd->kp + f, n, cd->kp,
					  &cd->mu_v[g * cd->k + f], &cd->lam_v[g * cd->k + f]);
	}
}

/* global bias: no prior */
static void
UpdateBias(FmCd cd, FmRng *rng, bool sample)
{
	double		p = 0,
				s = 0,
				neu;
	float		delta;

	for (size_t r = 0; r < cd->n; r++)
	{
		p += cd->weight[r];
		s += cd->weight[r] * (cd->e[r] + cd->w0);
	}
	neu = Conditional(cd->alpha, p, s, 0.0, 0.0, sample,
					  sample ? FmRngNormal(rng) : 0.0);
	delta = (float) (neu - cd->w0);
	for (size_t r = 0; r < cd->n; r++)
		cd->e[r] -= delta;
	cd->w0 = neu;
}

#define LATENT_CHUNK 4096

/*
 * Pool entry (binary task): new latent targets for the current
 * predictions, chunks of rows taken in turn, each chunk with a generator
 * of its own so the draws do not depend on the number of threads.
 */
static void
LatentWorker(void *arg, int worker)
{
	FmCd		cd = arg;

	(void) worker;
	for (;;)
	{
		size_t		lo = atomic_fetch_add(&cd->job_next, LATENT_CHUNK);
		FmRng		rng;

		if (lo >= cd->n)
			break;
		FeatureRng(&rng, cd->t->p.seed ^ 0x1A7E47ull, cd->job_iter, lo);
		for (size_t r = lo; r < lo + LATENT_CHUNK && r < cd->n; r++)
		{
			double		pred = cd->target[r] - cd->e[r];
			double		z = FmTruncatedNormal(&rng, pred, cd->label[r] > 0.5f);

			cd->target[r] = (float) z;
			cd->e[r] = (float) (z - pred);
		}
	}
}

/* ---------------------------------------------------------------- */

/*
 * Builds the coordinate-wise view of the training rows: each row's active
 * features (row-major) and each feature's rows (column-major), the row
 * weights and targets, and the caches of residuals and factor sums, from
 * the trainer's initial factors.
 */
static FmStatus
CdCreate(FmTrainerData *t, char *err, size_t errlen)
{
	const FmDatasetData *ds = t->ds;
	FmCd		cd = calloc(1, sizeof(FmCdData));
	size_t		n = t->n_train;
	size_t		nnz = 0;
	size_t		maxcol = 0;
	uint32_t   *feat;
	float	   *val;

	if (cd == NULL)
		goto nomem;
	t->solver = cd;
	cd->t = t;
	cd->n = n;
	cd->F = t->n_feat;
	cd->k = t->p.factors;
	cd->kp = t->kp;
	cd->group_start[0] = 0;
	cd->group_start[1] = ds->n_users;
	cd->group_start[2] = ds->n_users + ds->n_items;
	cd->group_start[3] = t->off_if;
	cd->group_start[4] = t->off_cf;
	cd->group_start[5] = t->n_feat;

	/* rows as lists of global feature indexes (FmGather's order) */
	feat = malloc((ds->max_nnz + 1) * sizeof(uint32_t));
	val = malloc((ds->max_nnz + 1) * sizeof(float));
	cd->roff = malloc((n + 1) * sizeof(uint64_t));
	if (feat == NULL || val == NULL || cd->roff == NULL)
	{
		free(feat);
		free(val);
		goto nomem;
	}
	cd->roff[0] = 0;
	for (size_t r = 0; r < n; r++)
	{
		nnz += FmGatherIndex(t, &t->train[r], feat, val);
		cd->roff[r + 1] = nnz;
	}
	cd->rfeat = malloc((nnz + 1) * sizeof(uint32_t));
	cd->rval = malloc((nnz + 1) * sizeof(float));
	cd->crow = malloc((nnz + 1) * sizeof(uint32_t));
	cd->cval = malloc((nnz + 1) * sizeof(float));
	cd->coff = calloc(cd->F + 1, sizeof(uint64_t));
	cd->weight = malloc((n + 1) * sizeof(float));
	cd->target = malloc((n + 1) * sizeof(float));
	/* labels only for the binary task's latent targets */
	cd->label = t->p.task == FM_TASK_BINARY ? malloc((n + 1) * sizeof(float)) : NULL;
	cd->e = malloc((n + 1) * sizeof(float));
	cd->q = (double) n * cd->kp * sizeof(float) <= (double) fm_cd_q_cache_max ?
		malloc((n * cd->kp + 1) * sizeof(float)) : NULL;
	cd->w = calloc(cd->F + 1, sizeof(float));
	cd->v = malloc((cd->F * cd->kp + 1) * sizeof(float));
	cd->mu_v = calloc(N_GROUPS * cd->k, sizeof(double));
	cd->lam_v = malloc(N_GROUPS * cd->k * sizeof(double));
	cd->sum_w = calloc(cd->F + 1, sizeof(double));
	cd->sum_v = calloc(cd->F * cd->kp + 1, sizeof(double));
	cd->out_w = malloc((cd->F + 1) * sizeof(float));
	cd->out_v = malloc((cd->F * cd->kp + 1) * sizeof(float));
	if (!cd->rfeat || !cd->rval || !cd->crow || !cd->cval || !cd->coff ||
		!cd->weight || !cd->target || (!cd->label && t->p.task == FM_TASK_BINARY) || !cd->e ||
		(!cd->q && (double) n * cd->kp * sizeof(float) <= (double) fm_cd_q_cache_max) ||
		!cd->w || !cd->v || !cd->mu_v || !cd->lam_v || !cd->sum_w ||
		!cd->sum_v || !cd->out_w || !cd->out_v)
	{
		free(feat);
		free(val);
		goto nomem;
	}
	for (size_t r = 0; r < n; r++)
	{
		int			m = FmGatherIndex(t, &t->train[r], feat, val);

		for (int a = 0; a < m; a++)
		{
			uint64_t	pos = cd->roff[r] + a;

			cd->rfeat[pos] = feat[a];
			cd->rval[pos] = val[a];
			cd->coff[cd->rfeat[pos] + 1]++;
		}
		cd->weight[r] = t->train[r].w;
		if (cd->label)
			cd->label[r] = t->train[r].y;
		cd->target[r] = t->p.task == FM_TASK_BINARY ?
			(t->train[r].y > 0.5f ? 1.0f : -1.0f) : t->train[r].y;
	}
	free(feat);
	free(val);
	for (size_t j = 0; j < cd->F; j++)
	{
		if (cd->coff[j + 1] > maxcol)
			maxcol = cd->coff[j + 1];
		cd->coff[j + 1] += cd->coff[j];
	}
	{
		uint64_t   *fill = malloc((cd->F + 1) * sizeof(uint64_t));

		if (fill == NULL)
			goto nomem;
		memcpy(fill, cd->coff, (cd->F + 1) * sizeof(uint64_t));
		for (size_t r = 0; r < n; r++)
			for (uint64_t a = cd->roff[r]; a < cd->roff[r + 1]; a++)
			{
				uint64_t	pos = fill[cd->rfeat[a]]++;

				cd->crow[pos] = (uint32_t) r;
				cd->cval[pos] = cd->rval[a];
			}
		free(fill);
	}
	cd->scratch_len = (maxcol + 16) & ~(size_t) 15;
	cd->scratch = malloc(cd->scratch_len * (cd->kp + 4) * t->p.threads * sizeof(float));
	cd->normals = malloc((cd->k + 2) * t->p.threads * sizeof(double));
	if (cd->scratch == NULL || cd->normals == NULL)
		goto nomem;

	/* start: the SGD initialization's factors (zero for unrated ids), no linear terms */
	cd->w0 = t->p.task == FM_TASK_BINARY ? 0.0 : t->init_w0;
	memcpy(cd->v, t->init_v, cd->F * cd->kp * sizeof(float));
	cd->alpha = 1.0;
	for (int g = 0; g < N_GROUPS; g++)
	{
		cd->mu_w[g] = 0;
		cd->lam_w[g] = t->ops->id == FM_SOLVER_ALS ? t->p.reg_linear : 1.0;
		for (int f = 0; f < cd->k; f++)
			cd->lam_v[g * cd->k + f] = t->ops->id == FM_SOLVER_ALS ? t->p.reg_factors : 1.0;
	}
	Refresh(cd);
	return FM_OK;

nomem:
	snprintf(err, errlen, "out of memory for the %s solver of %zu rows",
			 t->ops->name, n);
	return FM_ERR_NOMEM;
}

/* Averages the draws so far into the out arrays (MCMC). */
static void
Average(FmCd cd)
{
	double		inv = 1.0 / cd->n_samples;
	double		lin = 1.0;
	double		fac = 1.0;

	if (cd->t->p.task == FM_TASK_BINARY)
	{
		lin = PROBIT_TO_LOGIT;
		fac = sqrt(PROBIT_TO_LOGIT);
	}
	cd->out_w0 = (float) (cd->sum_w0 * inv * lin);
	for (size_t j = 0; j < cd->F; j++)
		cd->out_w[j] = (float) (cd->sum_w[j] * inv * lin);
	for (size_t j = 0; j < cd->F * cd->kp; j++)
		cd->out_v[j] = (float) (cd->sum_v[j] * inv * fac);
}

/*
 * One slice of a sweep over all parameters; the sweep (an iteration of
 * ALS or MCMC) ends with FM_EPOCH_END.
 */
static FmStatus
CdStep(FmTrainerData *t, char *err, size_t errlen)
{
	FmCd		cd = t->solver;
	bool		sample = t->ops->id == FM_SOLVER_MCMC;
	FmRng		rng;
	double		se = 0,
				wsum = 0;

	if (cd->stage == 0)
	{
		FeatureRng(&rng, t->p.seed ^ 0xA5A5A5A5ull, (uint64_t) t->epoch, (size_t) -1);
		/* drift of the incremental caches is tiny: refresh them now and then */
		if (t->epoch > 0 && t->epoch % 8 == 0)
			Refresh(cd);
		if (sample)
		{
			if (t->p.task == FM_TASK_BINARY)
			{
				cd->job_iter = (uint64_t) t->epoch;
				atomic_store(&cd->job_next, 0);
				FmPoolRun(t->pool, LatentWorker, cd);
			}
			DrawHyper(cd, &rng);
		}
		UpdateBias(cd, &rng, sample);
		cd->stage = 1;
		cd->next_feat = cd->group_start[0];
	}

	/*
	 * The groups' features, in slices of about SLICE_WORK / k rows (a
	 * quarter of a second at most): the caller checks for interrupts
	 * between slices, so even an iteration over tens of millions of rows
	 * can be cancelled within a fraction of a second.
	 */
	while (cd->stage <= N_GROUPS)
	{
		int			g = cd->stage - 1;
		size_t		hi = cd->group_start[g + 1];
		size_t		end = cd->next_feat;
		uint64_t	rows = 0;

		if (cd->next_feat >= hi)
		{
			cd->stage++;
			if (cd->stage <= N_GROUPS)
				cd->next_feat = cd->group_start[cd->stage - 1];
			continue;
		}
		while (end < hi && rows < SLICE_WORK / (unsigned) cd->k)
		{
			rows += cd->coff[end + 1] - cd->coff[end];
			end++;
		}
		cd->job_lo = cd->next_feat;
		cd->job_hi = end;
		cd->job_group = g;
		cd->job_iter = (uint64_t) t->epoch;
		atomic_store(&cd->job_next, cd->job_lo);
		if (g < 2)
			FmPoolRun(t->pool, GroupWorker, cd);	/* users, items: parallel */
		else
			GroupWorker(cd, 0);
		cd->next_feat = end;
		if (end < hi)
			return FM_RUNNING;
	}
	cd->stage = 0;

	/* the training loss of the sweep */
	for (size_t r = 0; r < cd->n; r++)
	{
		double		pred = cd->target[r] - cd->e[r];

		if (t->p.task == FM_TASK_BINARY)
		{
			double		pr = FmNormalCdf(pred);

			pr = pr < 1e-15 ? 1e-15 : (pr > 1 - 1e-15 ? 1 - 1e-15 : pr);
			se -= cd->weight[r] * (cd->label[r] > 0.5f ? log(pr) : log(1 - pr));
		}
		else
			se += cd->weight[r] * (double) cd->e[r] * cd->e[r];
		wsum += cd->weight[r];
	}
	t->stats.train_loss = t->p.task == FM_TASK_BINARY ? se / wsum : sqrt(se / wsum);
	if (!isfinite(cd->w0) || !isfinite(cd->alpha))
	{
		snprintf(err, errlen, "training diverged in iteration %d (train loss %g)",
				 t->epoch + 1, t->stats.train_loss);
		return FM_ERR_DIVERGED;
	}
	/* MCMC: the draws after burn-in are summed for the stored average */
	if (sample && t->epoch + 1 > t->p.burn_in)
	{
		cd->sum_w0 += cd->w0;
		for (size_t j = 0; j < cd->F; j++)
			cd->sum_w[j] += cd->w[j];
		for (size_t j = 0; j < cd->F * cd->kp; j++)
			cd->sum_v[j] += cd->v[j];
		cd->n_samples++;
	}
	return FM_EPOCH_END;
}

/* ALS: the current parameters; MCMC: the average of the draws, if any. */
static void
CdFinal(FmTrainerData *t, FmParamView *v)
{
	FmCd		cd = t->solver;

	if (t->ops->id == FM_SOLVER_MCMC && cd->n_samples > 0)
	{
		Average(cd);
		v->w0 = cd->out_w0;
		v->W = cd->out_w;
		v->V = cd->out_v;
	}
	else
	{
		v->w0 = (float) cd->w0;
		v->W = cd->w;
		v->V = cd->v;
	}
	v->ws = 1;
	v->vs = cd->kp;
}

/* What to validate: MCMC validates its average, so only after burn-in. */
static bool
CdValidate(FmTrainerData *t, FmParamView *v)
{
	FmCd		cd = t->solver;

	if (t->ops->id == FM_SOLVER_MCMC && cd->n_samples == 0)
		return false;
	CdFinal(t, v);
	return true;
}

/* Frees the coordinate-descent state. */
static void
CdFree(FmTrainerData *t)
{
	FmCd		cd = t->solver;

	free(cd->roff);
	free(cd->rfeat);
	free(cd->rval);
	free(cd->coff);
	free(cd->crow);
	free(cd->cval);
	free(cd->weight);
	free(cd->target);
	free(cd->label);
	free(cd->e);
	free(cd->q);
	free(cd->w);
	free(cd->v);
	free(cd->mu_v);
	free(cd->lam_v);
	free(cd->sum_w);
	free(cd->sum_v);
	free(cd->out_w);
	free(cd->out_v);
	free(cd->scratch);
	free(cd->normals);
	free(cd);
	t->solver = NULL;
}

/*
 * The rows by row and by column (16 bytes per nonzero), the per-row
 * caches (residual, weight, target, and for the binary task label: 12 or
 * 16 bytes, and the factor sums: kp floats, unless past
 * fm_cd_q_cache_max), the parameters, their MCMC sums and averages, and the
 * per-thread scratch of one column.
 */
static double
CdMemory(const FmDatasetData *ds, const FmParamsData *p, double n_feat,
		 double kp)
{
	double		n = (double) ds->n_rows;
	double		nnz = 2 * n + (double) ds->n_ctx;
	double		maxcol;
	double		qcache = n * kp * sizeof(float);

	/* attributes are repeated in every row of their user or item */
	if (ds->uattr.off || ds->iattr.off)
		for (size_t r = 0; r < ds->n_rows; r++)
		{
			const FmRow *row = &ds->rows[r];

			if (ds->uattr.off)
				nnz += (double) (ds->uattr.off[row->u + 1] - ds->uattr.off[row->u]);
			if (ds->iattr.off)
				nnz += (double) (ds->iattr.off[row->i + 1] - ds->iattr.off[row->i]);
		}
	/* the longest column: an attribute's can be every row, else an id's */
	maxcol = (ds->n_uattr || ds->n_iattr || ds->n_ctx) ? n : FmLongestIdList(ds);
	if (qcache > (double) fm_cd_q_cache_max)
		qcache = 0;
	return n * sizeof(uint64_t) + nnz * 16 + n * (p->task == FM_TASK_BINARY ? 16 : 12) + qcache +
		n_feat * (2 * sizeof(uint64_t) + sizeof(float) + sizeof(double) + sizeof(float)) +
		n_feat * kp * (sizeof(float) + sizeof(double) + sizeof(float)) +
		(maxcol + 16) * (kp + 4) * sizeof(float) * p->threads;
}

const FmSolverOps fm_als_ops = {
	.id = FM_SOLVER_ALS,
	.name = "als",
	.unit = "iteration",
	.caps = FM_CAP_REGRESSION | FM_CAP_EARLY_STOP | FM_CAP_ANY_THREADS,
	.create = CdCreate,
	.step = CdStep,
	.view = CdValidate,
	.final = CdFinal,
	.free = CdFree,
	.memory = CdMemory,
};

const FmSolverOps fm_mcmc_ops = {
	.id = FM_SOLVER_MCMC,
	.name = "mcmc",
	.unit = "iteration",
	.caps = FM_CAP_REGRESSION | FM_CAP_BINARY | FM_CAP_ANY_THREADS,
	.create = CdCreate,
	.step = CdStep,
	.view = CdValidate,
	.final = CdFinal,
	.free = CdFree,
	.memory = CdMemory,
};
