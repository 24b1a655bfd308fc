/*
 * synth.c
 *	  Planted MovieLens-shaped ratings, for the demo, tests and benchmarks.
 *
 * Each user and item gets a bias and a rank-8 latent vector drawn from the
 * seed; the expected rating of a pair is 3.6 + b_u + b_i + <p_u, q_i>
 * clipped to [1, 5], and the observed rating adds Gaussian noise of the
 * given standard deviation (clipped again).  Users and items are drawn
 * with skewed (Zipf-like) activity and popularity, as in MovieLens, and
 * popular items lean towards higher ratings.  Every (user, item) pair
 * appears at most once, and every user and item at least once when there
 * are at least as many ratings as users and items.  Because the expected rating is returned with each
 * row, tests know the answer: a model's RMSE can be compared with the
 * RMSE of the truth itself, the irreducible noise.
 *
 * Which items a user rates is drawn by popularity alone unless a taste is
 * set (FmSynthSetTaste): then each sampled row takes, of 1 + taste items
 * drawn by popularity, the one the user is expected to like best (ties to
 * the first drawn).  The choices then carry the planted preferences, as real
 * choices do, and a model of the choice (the implicit task) can beat "most
 * popular" by a known margin; with taste 0 a list can do no better than
 * popularity, since the choice ignores the user.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "rng.h"

#define RANK FM_SYNTH_RANK

typedef struct FmSynthData
{
	int			users;
	int			items;
	int64_t		target;
	int64_t		made;
	double		noise;
	FmRng		rng;
	double	   *ucdf;			/* cumulative user activity */
	double	   *icdf;			/* cumulative item popularity */
	int		   *uperm;			/* activity rank -> user index */
	int		   *iperm;
	float	   *bu;
	float	   *bi;
	float	   *p;
	float	   *q;
	FmIdMapData pairs;
	int			genres;			/* 0: no genre structure */
	int			groups;			/* 0: no user groups */
	uint8_t    *item_genres;	/* per item: up to 3 genre numbers, 255 = none */
	int		   *user_group;
	int			taste;			/* extra candidates per sampled row */
} FmSynthData;

/* Draws an index from a cumulative distribution by binary search. */
static int
Sample(const double *cdf, int n, double x)
{
	int			lo = 0;
	int			hi = n - 1;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (cdf[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
Permute(FmRng *rng, int *perm, int n)
{
	for (int j = 0; j < n; j++)
		perm[j] = j;
	for (int j = n - 1; j > 0; j--)
	{
		int			s = (int) FmRngBelow(rng, (uint64_t) j + 1);
		int			t = perm[j];

		perm[j] = perm[s];
		perm[s] = t;
	}
}

static void
Cdf(double *cdf, int n, double offset, double power)
{
	double		acc = 0.0;

	for (int j = 0; j < n; j++)
	{
		acc += pow(j + offset, -power);
		cdf[j] = acc;
	}
	for (int j = 0; j < n; j++)
		cdf[j] /= acc;
}

/*
 * Plants genre and group structure: each item gets 1 to 3 of `genres`
 * genres and each user one of `groups` groups, each genre and group a
 * latent vector and a bias.  An item's latent vector becomes mostly the
 * mean of its genres' vectors (and its bias mostly theirs), a user's mostly
 * its group's, so attributes predict most of a rating.  Drawn from a
 * stream of its own, so the ratings without genres and groups stay as
 * they were.
 */
static bool
PlantStructure(FmSynth s, uint64_t seed)
{
	FmRng		rng;
	int			ng = s->genres > 0 ? s->genres : 1;
	int			nc = s->groups > 0 ? s->groups : 1;
	float	   *gv = malloc((size_t) ng * RANK * sizeof(float));
	float	   *gb = malloc(ng * sizeof(float));
	float	   *cv = malloc((size_t) nc * RANK * sizeof(float));
	float	   *cb = malloc(nc * sizeof(float));

	s->item_genres = malloc((size_t) s->items * 3);
	s->user_group = malloc(s->users * sizeof(int));
	if (!gv || !gb || !cv || !cb || !s->item_genres || !s->user_group)
	{
		free(gv);
		free(gb);
		free(cv);
		free(cb);
		return false;
	}
	FmRngSeed(&rng, seed ^ 0x6E6E7265736E6567ull);
	for (int g = 0; g < ng; g++)
	{
		gb[g] = (float) (0.4 * FmRngNormal(&rng));
		for (int f = 0; f < RANK; f++)
			gv[g * RANK + f] = (float) (0.6 * FmRngNormal(&rng));
	}
	for (int c = 0; c < nc; c++)
	{
		cb[c] = (float) (0.3 * FmRngNormal(&rng));
		for (int f = 0; f < RANK; f++)
			cv[c * RANK + f] = (float) (0.6 * FmRngNormal(&rng));
	}
	for (int i = 0; i < s->items; i++)
	{
		uint8_t    *ig = s->item_genres + (size_t) i * 3;
		int			count = 1 + (int) FmRngBelow(&rng, 3);
		float		mean[RANK] = {0};
		float		bias = 0;
		int			n = 0;

		memset(ig, 255, 3);
		if (s->genres <= 0)
			continue;
		for (int j = 0; j < count && j < s->genres; j++)
		{
			int			g = (int) FmRngBelow(&rng, (uint64_t) s->genres);
			bool		dup = false;

			for (int t = 0; t < n; t++)
				dup |= ig[t] == g;
			if (dup)
				continue;
			ig[n++] = (uint8_t) g;
			bias += gb[g];
			for (int f = 0; f < RANK; f++)
				mean[f] += gv[g * RANK + f];
		}
		s->bi[i] = 0.3f * s->bi[i] + bias / n;
		for (int f = 0; f < RANK; f++)
			s->q[(size_t) i * RANK + f] = 0.35f * s->q[(size_t) i * RANK + f] +
				mean[f] / sqrtf((float) n);
	}
	for (int u = 0; u < s->users; u++)
	{
		int			c = (int) FmRngBelow(&rng, (uint64_t) nc);

		s->user_group[u] = s->groups > 0 ? c : -1;
		if (s->groups <= 0)
			continue;
		s->bu[u] = 0.3f * s->bu[u] + cb[c];
		for (int f = 0; f < RANK; f++)
			s->p[(size_t) u * RANK + f] = 0.35f * s->p[(size_t) u * RANK + f] +
				cv[c * RANK + f];
	}
	free(gv);
	free(gb);
	free(cv);
	free(cb);
	return true;
}

/* The genres of item (0-based); returns how many were written to genres. */
int
FmSynthItemGenres(FmSynth s, int item, int *genres)
{
	int			n = 0;

	for (int j = 0; j < 3; j++)
		if (s->item_genres[(size_t) item * 3 + j] != 255)
			genres[n++] = s->item_genres[(size_t) item * 3 + j];
	return n;
}

/* The group of user (0-based), or -1 without groups. */
int
FmSynthUserGroup(FmSynth s, int user)
{
	return s->user_group[user];
}

/*
 * Plants a MovieLens-shaped preference model (popularity, biases, factors,
 * optionally genres and groups) to draw ratings from.
 */
FmStatus
FmSynthCreate(int users, int items, int64_t ratings, uint64_t seed,
			  double noise, int genres, int groups, FmSynth *out, char *err,
			  size_t errlen)
{
	FmSynth		s;
	double		scale = 0.5;	/* std of latent entries: <p,q> has std ~0.7 */

	*out = NULL;
	if (users < 1 || items < 1 || ratings < 0)
	{
		snprintf(err, errlen, "users and items must be positive and ratings not negative");
		return FM_ERR_PARAM;
	}
	if ((double) ratings > 0.5 * (double) users * (double) items)
	{
		snprintf(err, errlen, "%lld ratings is more than half of the %d x %d matrix",
				 (long long) ratings, users, items);
		return FM_ERR_PARAM;
	}
	if (!isfinite(noise) || noise < 0.0 || noise > 10.0)
	{
		snprintf(err, errlen, "noise must be between 0 and 10");
		return FM_ERR_PARAM;
	}
	if (genres < 0 || genres > 250 || groups < 0 || groups > 1000000)
	{
		snprintf(err, errlen, "genres must be between 0 and 250 and groups between 0 and 1000000");
		return FM_ERR_PARAM;
	}
	s = calloc(1, sizeof(FmSynthData));
	if (s == NULL)
		return FM_ERR_NOMEM;
	s->users = users;
	s->items = items;
	s->target = ratings;
	s->noise = noise;
	s->genres = genres;
	s->groups = groups;
	FmRngSeed(&s->rng, seed);
	s->ucdf = malloc(users * sizeof(double));
	s->icdf = malloc(items * sizeof(double));
	s->uperm = malloc(users * sizeof(int));
	s->iperm = malloc(items * sizeof(int));
	s->bu = malloc(users * sizeof(float));
	s->bi = malloc(items * sizeof(float));
	s->p = malloc((size_t) users * RANK * sizeof(float));
	s->q = malloc((size_t) items * RANK * sizeof(float));
	if (!s->ucdf || !s->icdf || !s->uperm || !s->iperm || !s->bu || !s->bi ||
		!s->p || !s->q || FmIdMapInit(&s->pairs, (size_t) ratings) != FM_OK)
	{
		FmSynthFree(s);
		snprintf(err, errlen, "out of memory for %lld synthetic ratings",
				 (long long) ratings);
		return FM_ERR_NOMEM;
	}
	Cdf(s->ucdf, users, 20.0, 0.9);
	Cdf(s->icdf, items, 10.0, 1.0);
	Permute(&s->rng, s->uperm, users);
	Permute(&s->rng, s->iperm, items);
	for (int u = 0; u < users; u++)
	{
		s->bu[u] = (float) (0.3 * FmRngNormal(&s->rng));
		for (int f = 0; f < RANK; f++)
			s->p[(size_t) u * RANK + f] = (float) (scale * FmRngNormal(&s->rng));
	}
	for (int r = 0; r < items; r++)
	{
		int			i = s->iperm[r];	/* r is the popularity rank of item i */

		s->bi[i] = (float) (0.3 * FmRngNormal(&s->rng) +
							0.3 * (0.5 - (double) r / items));
		for (int f = 0; f < RANK; f++)
			s->q[(size_t) i * RANK + f] = (float) (scale * FmRngNormal(&s->rng));
	}
	if (!PlantStructure(s, seed))
	{
		FmSynthFree(s);
		snprintf(err, errlen, "out of memory for synthetic genres");
		return FM_ERR_NOMEM;
	}
	*out = s;
	return FM_OK;
}

/*
 * Sets how much taste drives which items users rate: each sampled row takes
 * the best-liked of 1 + taste popularity draws (0, the default: popularity
 * alone).  Call before the first FmSynthNext.
 */
FmStatus
FmSynthSetTaste(FmSynth s, int taste, char *err, size_t errlen)
{
	if (taste < 0 || taste > FM_SYNTH_MAX_TASTE)
	{
		snprintf(err, errlen, "taste must be between 0 and %d", FM_SYNTH_MAX_TASTE);
		return FM_ERR_PARAM;
	}
	s->taste = taste;
	return FM_OK;
}

/* The planted expected rating of user u for item i, before clipping. */
static double
Expected(const FmSynthData *s, int u, int i)
{
	double		e = 3.6 + s->bu[u] + s->bi[i];

	for (int f = 0; f < RANK; f++)
		e += (double) s->p[(size_t) u * RANK + f] * s->q[(size_t) i * RANK + f];
	return e;
}

/*
 * An item for user u: a popularity draw, or with a taste the best-liked of
 * 1 + taste draws among those u has not rated yet (the plain draw when all
 * of them are rated, for the caller to retry).
 */
static int
DrawItem(FmSynthData *s, int u, int tries)
{
	int			best = -1;
	double		best_e = -INFINITY;

	for (int c = 0; c <= s->taste; c++)
	{
		int			i;

		/* a saturated popular head falls back to uniform items */
		if (tries < 20)
			i = s->iperm[Sample(s->icdf, s->items, FmRngUniform(&s->rng))];
		else
			i = (int) FmRngBelow(&s->rng, (uint64_t) s->items);
		if (s->taste == 0)
			return i;
		if (best < 0)
			best = i;
		if (FmIdMapGet(&s->pairs, (int64_t) u * s->items + i) < 0)
		{
			double		e = Expected(s, u, i);

			if (e > best_e)
			{
				best_e = e;
				best = i;
			}
		}
	}
	return best;
}

/*
 * The next rating: a (user, item) pair not drawn before, its expected
 * rating and the observed one with noise.
 */
bool
FmSynthNext(FmSynth s, FmSynthRow *row)
{
	int			u;
	int			i;
	int			tries = 0;
	uint32_t	found;
	double		e;

	if (s->made >= s->target)
		return false;
	if (s->made < s->users || s->made < s->items)
	{
		/*
		 * The first max(users, items) ratings pair the j-th user with the
		 * j-th item (modulo each count), so every user and item is rated at
		 * least once when there are enough ratings.  These pairs are
		 * distinct by construction and come before any sampled pair.
		 */
		u = (int) (s->made % s->users);
		i = s->iperm[s->made % s->items];
		if (FmIdMapPut(&s->pairs, (int64_t) u * s->items + i, 1, &found) != FM_OK)
			return false;
	}
	else
	{
		do
		{
			u = s->uperm[Sample(s->ucdf, s->users, FmRngUniform(&s->rng))];
			i = DrawItem(s, u, tries++);
			if (FmIdMapPut(&s->pairs, (int64_t) u * s->items + i, 1, &found) != FM_OK)
				return false;
		} while (s->pairs.count == (size_t) s->made);	/* not a new pair */
	}
	e = Expected(s, u, i);
	e = e < 1.0 ? 1.0 : (e > 5.0 ? 5.0 : e);
	row->user = u + 1;
	row->item = i + 1;
	row->expected = e;
	row->rating = e + s->noise * FmRngNormal(&s->rng);
	row->rating = row->rating < 1.0 ? 1.0 : (row->rating > 5.0 ? 5.0 : row->rating);
	s->made++;
	return true;
}

/*
 * The planted parameters of user (side 0) or item (side 1) index: its bias
 * and FM_SYNTH_RANK factors.  The expected rating of a pair is 3.6 + the
 * two biases + the dot product of the factors, clipped to [1, 5].
 */
void
FmSynthParams(FmSynth s, int side, int index, double *bias, float *factors)
{
	const float *src = side == 0 ? s->p + (size_t) index * RANK : s->q + (size_t) index * RANK;

	*bias = side == 0 ? s->bu[index] : s->bi[index];
	memcpy(factors, src, RANK * sizeof(float));
}

/*
 * The probability that one draw picks each user (side 0: activity) or item
 * (side 1: popularity), into share[users or items].
 */
void
FmSynthShares(FmSynth s, int side, double *share)
{
	int			n = side == 0 ? s->users : s->items;
	const double *cdf = side == 0 ? s->ucdf : s->icdf;
	const int  *perm = side == 0 ? s->uperm : s->iperm;

	for (int r = 0; r < n; r++)
		share[perm[r]] = cdf[r] - (r > 0 ? cdf[r - 1] : 0.0);
}

/* Frees a generator. */
void
FmSynthFree(FmSynth s)
{
	if (s == NULL)
		return;
	free(s->ucdf);
	free(s->icdf);
	free(s->uperm);
	free(s->iperm);
	free(s->bu);
	free(s->bi);
	free(s->p);
	free(s->q);
	free(s->item_genres);
	free(s->user_group);
	FmIdMapFree(&s->pairs);
	free(s);
}

/*
 * The bytes FmSynthCreate allocates for these sizes: per user and item
 * its popularity, permutation slot, bias and planted factors, plus the
 * table of pairs drawn (12 bytes a slot, at most four slots a rating).
 */
double
FmSynthMemory(int users, int items, int64_t ratings)
{
	double		per = sizeof(double) + sizeof(int) + sizeof(float) + RANK * sizeof(float) + 4;

	return ((double) users + items) * per + (double) ratings * 4 * 12;
}
