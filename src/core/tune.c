/*
 * tune.c
 *	  The search of fm_tune: a space of options and the points to try in
 *	  it, by grid, at random, or by a tree-structured Parzen estimator.
 *
 * A space is a list of parameters, each a list of values (categorical: the
 * layer keeps their JSON text, the core only their count) or a range of
 * reals (optionally log-scaled, optionally integers, optionally with a
 * number of grid steps).  A point gives, per parameter, the index of a
 * listed value or the value in the range.
 *
 * Proposals are pure functions of the space, the strategy, the trial
 * number, the seed and the scores of the trials before, so a search is
 * reproducible and its core is tested without a server.  Scores are
 * "lower is better" here: the layer negates metrics to be maximized.
 *
 * TPE (Bergstra et al., "Algorithms for Hyper-Parameter Optimization",
 * NeurIPS 2011), per parameter as in its reference implementation: after
 * FM_TUNE_STARTUP random trials, the finished trials are split at the best
 * quarter; the good ones give a density l, the others g (a Parzen window
 * of Gaussians over the parameter's unit interval, log-scaled when the
 * range is, plus a uniform prior; for lists, smoothed frequencies), and of
 * FM_TUNE_CANDIDATES draws from l the one with the largest l / g is tried.
 * Median stopping between a trial's folds is FmTuneStop.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "rng.h"

#define FM_TUNE_STARTUP		5
#define FM_TUNE_CANDIDATES	24
#define FM_TUNE_GAMMA		0.25

/* Values of a parameter on a grid: its list, or the range's steps. */
static uint64_t
GridCount(const FmTuneParam *p)
{
	return p->kind == FM_TUNE_LIST ? (uint64_t) p->n_values : (uint64_t) p->steps;
}

/* The number of grid points, saturated at UINT64_MAX; 0 when a range has no steps. */
uint64_t
FmTuneGridSize(const FmTuneSpaceData *s)
{
	uint64_t	n = 1;

	for (int j = 0; j < s->n; j++)
	{
		uint64_t	c = GridCount(&s->p[j]);

		if (c == 0)
			return 0;
		if (n > UINT64_MAX / c)
			return UINT64_MAX;
		n *= c;
	}
	return n;
}

/* Checks a space for a strategy and a budget of trials. */
FmStatus
FmTuneCheck(const FmTuneSpaceData *s, FmTuneStrategy strategy, int trials,
			char *err, size_t errlen)
{
	if (s->n == 0)
	{
		snprintf(err, errlen, "the search space is empty");
		return FM_ERR_PARAM;
	}
	if (trials < 1 || trials > FM_TUNE_MAX_TRIALS)
	{
		snprintf(err, errlen, "trials must be between 1 and %d", FM_TUNE_MAX_TRIALS);
		return FM_ERR_PARAM;
	}
	for (int j = 0; j < s->n; j++)
	{
		const FmTuneParam *p = &s->p[j];

		if (p->kind == FM_TUNE_LIST)
		{
			if (p->n_values < 1)
			{
				snprintf(err, errlen, "\"%s\" lists no values", p->name);
				return FM_ERR_PARAM;
			}
			continue;
		}
		if (!isfinite(p->lo) || !isfinite(p->hi) || p->lo > p->hi)
		{
			snprintf(err, errlen, "\"%s\" needs finite min <= max", p->name);
			return FM_ERR_PARAM;
		}
		if (p->log && p->lo <= 0.0)
		{
			snprintf(err, errlen, "\"%s\" is log-scaled and needs min > 0", p->name);
			return FM_ERR_PARAM;
		}
		if (p->integer && floor(p->hi) < ceil(p->lo))
		{
			snprintf(err, errlen, "\"%s\" holds no integer between min and max", p->name);
			return FM_ERR_PARAM;
		}
		if (p->steps < 0 || p->steps > 1000)
		{
			snprintf(err, errlen, "\"%s\": steps must be between 1 and 1000", p->name);
			return FM_ERR_PARAM;
		}
		if (strategy == FM_TUNE_GRID && p->steps == 0)
		{
			snprintf(err, errlen, "the grid strategy needs \"steps\" for the range \"%s\", or a list", p->name);
			return FM_ERR_PARAM;
		}
	}
	if (strategy == FM_TUNE_GRID && FmTuneGridSize(s) > (uint64_t) trials)
	{
		uint64_t	g = FmTuneGridSize(s);

		if (g == UINT64_MAX)
			snprintf(err, errlen, "the grid has more points than any budget of trials");
		else
			snprintf(err, errlen, "the grid has %llu points, more than the %d trials allowed",
					 (unsigned long long) g, trials);
		return FM_ERR_LIMIT;
	}
	return FM_OK;
}

/* The ends of a range in the space points are drawn in (log or linear). */
static void
Ends(const FmTuneParam *p, double *lo, double *hi)
{
	*lo = p->log ? log(p->lo) : p->lo;
	*hi = p->log ? log(p->hi) : p->hi;
}

/* A range's value at u in [0, 1] of its drawing space. */
static double
FromUnit(const FmTuneParam *p, double u)
{
	double		lo,
				hi,
				x;

	Ends(p, &lo, &hi);
	x = lo + u * (hi - lo);
	if (p->log)
		x = exp(x);
	if (p->integer)
		x = round(x);
	if (x < p->lo)
		x = p->integer ? ceil(p->lo) : p->lo;
	if (x > p->hi)
		x = p->integer ? floor(p->hi) : p->hi;
	return x;
}

/* A range's value x as u in [0, 1] of its drawing space. */
static double
ToUnit(const FmTuneParam *p, double x)
{
	double		lo,
				hi;

	Ends(p, &lo, &hi);
	if (hi <= lo)
		return 0.5;
	return ((p->log ? log(x) : x) - lo) / (hi - lo);
}

static void
Random(const FmTuneSpaceData *s, FmRng *rng, double *x)
{
	for (int j = 0; j < s->n; j++)
	{
		const FmTuneParam *p = &s->p[j];

		if (p->kind == FM_TUNE_LIST)
			x[j] = (double) FmRngBelow(rng, (uint64_t) p->n_values);
		else
			x[j] = FromUnit(p, FmRngUniform(rng));
	}
}

static void
Grid(const FmTuneSpaceData *s, uint64_t trial, double *x)
{
	/* mixed radix, the last parameter fastest */
	for (int j = s->n - 1; j >= 0; j--)
	{
		const FmTuneParam *p = &s->p[j];
		uint64_t	c = GridCount(p);
		uint64_t	k = trial % c;

		trial /= c;
		if (p->kind == FM_TUNE_LIST)
			x[j] = (double) k;
		else
			x[j] = FromUnit(p, c > 1 ? (double) k / (double) (c - 1) : 0.5);
	}
}

/* Parzen density at u of the points at[0..n) with bandwidth bw, and a uniform prior. */
static double
Parzen(const double *at, int n, double bw, double u)
{
	double		d = 1.0;		/* the prior: uniform on [0, 1] */

	for (int k = 0; k < n; k++)
	{
		double		z = (u - at[k]) / bw;

		d += exp(-0.5 * z * z) / (bw * 2.5066282746310002);
	}
	return d / (n + 1);
}

static double
Bandwidth(int n)
{
	double		bw = 1.0 / sqrt((double) (n > 0 ? n : 1)) * 0.25;

	return bw < 0.05 ? 0.05 : (bw > 0.5 ? 0.5 : bw);
}

typedef struct Scored
{
	double		y;
	int			k;
} Scored;

static int
CompareScored(const void *a, const void *b)
{
	const Scored *x = a;
	const Scored *y = b;

	if (x->y != y->y)
		return x->y < y->y ? -1 : 1;
	return x->k - y->k;
}

/*
 * The point of trial number `trial` (0-based), given the points hx (n_hist
 * rows of s->n values) and scores hy (lower is better; NaN: failed) of the
 * trials before.  Returns false when a grid is exhausted.
 */
bool
FmTunePropose(const FmTuneSpaceData *s, FmTuneStrategy strategy, int trial,
			  uint64_t seed, const double *hx, const double *hy, int n_hist,
			  double *x)
{
	FmRng		rng;
	Scored	   *sc;
	int			n_ok = 0;
	int			n_good;
	double	   *good;
	double	   *bad;

	if (strategy == FM_TUNE_GRID)
	{
		if ((uint64_t) trial >= FmTuneGridSize(s))
			return false;
		Grid(s, (uint64_t) trial, x);
		return true;
	}
	FmRngSeed(&rng, seed ^ ((uint64_t) (trial + 1) * 0xD1B54A32D192ED03ULL));
	for (int k = 0; k < n_hist; k++)
		n_ok += !isnan(hy[k]);
	if (strategy == FM_TUNE_RANDOM || n_ok < FM_TUNE_STARTUP)
	{
		Random(s, &rng, x);
		return true;
	}

	sc = malloc(n_ok * sizeof(Scored));
	good = malloc(n_ok * sizeof(double));
	bad = malloc(n_ok * sizeof(double));
	if (!sc || !good || !bad)
	{
		/* no memory for the model: a random point is still a point */
		free(sc);
		free(good);
		free(bad);
		Random(s, &rng, x);
		return true;
	}
	n_ok = 0;
	for (int k = 0; k < n_hist; k++)
		if (!isnan(hy[k]))
		{
			sc[n_ok].y = hy[k];
			sc[n_ok].k = k;
			n_ok++;
		}
	qsort(sc, n_ok, sizeof(Scored), CompareScored);
	n_good = (int) ceil(FM_TUNE_GAMMA * n_ok);
	if (n_good < 1)
		n_good = 1;

	for (int j = 0; j < s->n; j++)
	{
		const FmTuneParam *p = &s->p[j];
		int			n_bad = n_ok - n_good;
		double		best_ratio = -1.0;

		if (p->kind == FM_TUNE_LIST)
		{
			int			nv = p->n_values;
			double	   *lc = calloc(nv, sizeof(double));
			double	   *gc = calloc(nv, sizeof(double));

			if (!lc || !gc)
			{
				free(lc);
				free(gc);
				x[j] = (double) FmRngBelow(&rng, (uint64_t) nv);
				continue;
			}
			for (int r = 0; r < n_ok; r++)
			{
				int			v = (int) hx[(size_t) sc[r].k * s->n + j];

				if (v >= 0 && v < nv)
					(r < n_good ? lc : gc)[v] += 1.0;
			}
			for (int v = 0; v < nv; v++)
			{
				lc[v] = (lc[v] + 1.0) / (n_good + nv);
				gc[v] = (gc[v] + 1.0) / (n_bad + nv);
			}
			for (int c = 0; c < FM_TUNE_CANDIDATES; c++)
			{
				/* a draw from l */
				double		u = FmRngUniform(&rng);
				int			v = 0;
				double		acc = lc[0];

				while (acc < u && v < nv - 1)
					acc += lc[++v];
				if (lc[v] / gc[v] > best_ratio)
				{
					best_ratio = lc[v] / gc[v];
					x[j] = (double) v;
				}
			}
			free(lc);
			free(gc);
			continue;
		}
		for (int r = 0; r < n_ok; r++)
		{
			double		u = ToUnit(p, hx[(size_t) sc[r].k * s->n + j]);

			if (r < n_good)
				good[r] = u;
			else
				bad[r - n_good] = u;
		}
		{
			double		bl = Bandwidth(n_good);
			double		bg = Bandwidth(n_bad);

			for (int c = 0; c < FM_TUNE_CANDIDATES; c++)
			{
				/* a draw from l: one of its components, the prior included */
				int			comp = (int) FmRngBelow(&rng, (uint64_t) n_good + 1);
				double		u;
				double		ratio;

				if (comp == n_good)
					u = FmRngUniform(&rng);
				else
				{
					u = good[comp] + bl * FmRngNormal(&rng);
					u = u < 0.0 ? 0.0 : (u > 1.0 ? 1.0 : u);
				}
				ratio = Parzen(good, n_good, bl, u) / Parzen(bad, n_bad, bg, u);
				if (ratio > best_ratio)
				{
					best_ratio = ratio;
					x[j] = FromUnit(p, u);
				}
			}
		}
	}
	free(sc);
	free(good);
	free(bad);
	return true;
}

static int
CompareDouble(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * Median stopping (Golovin et al., "Google Vizier", KDD 2017): whether a
 * trial whose fold scores so far are mine[0..f] stops after fold f, given
 * the fold scores of n trials that ran every fold (rows of `stride`): when
 * its mean over its first f + 1 folds is worse than the median of theirs
 * over the same folds.  Needs three finished trials.
 */
bool
FmTuneStop(const double *finished, int n, int stride, const double *mine,
		   int f, bool maximize)
{
	double	   *m;
	double		own = 0;
	double		median;

	if (n < 3 || f + 1 >= stride)
		return false;
	m = malloc(n * sizeof(double));
	if (m == NULL)
		return false;
	for (int j = 0; j < n; j++)
	{
		double		sum = 0;

		for (int g = 0; g <= f; g++)
			sum += finished[(size_t) j * stride + g];
		m[j] = sum / (f + 1);
	}
	qsort(m, n, sizeof(double), CompareDouble);
	median = n % 2 ? m[n / 2] : 0.5 * (m[n / 2 - 1] + m[n / 2]);
	free(m);
	for (int g = 0; g <= f; g++)
		own += mine[g];
	own /= (f + 1);
	return maximize ? own < median : own > median;
}
