/*
 * rng.h
 *	  Seeded pseudo-random numbers for the core (splitmix64 + xoshiro256**).
 *
 * Training must be reproducible bit for bit from a seed, so the core never
 * touches random() or any global state: each user of randomness owns an
 * FmRng.
 */
#ifndef FM_RNG_H
#define FM_RNG_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct FmRng
{
	uint64_t	s[4];
} FmRng;

static inline uint64_t
FmSplitMix64(uint64_t *x)
{
	uint64_t	z = (*x += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline void
FmRngSeed(FmRng *r, uint64_t seed)
{
	uint64_t	x = seed;

	for (int i = 0; i < 4; i++)
		r->s[i] = FmSplitMix64(&x);
}

static inline uint64_t
FmRngNext(FmRng *r)
{
	uint64_t   *s = r->s;
	uint64_t	x = s[1] * 5;
	uint64_t	result = ((x << 7) | (x >> 57)) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return result;
}

/* uniform in [0, 1) with 53 random bits */
static inline double
FmRngUniform(FmRng *r)
{
	return (FmRngNext(r) >> 11) * 0x1.0p-53;
}

/* uniform integer in [0, n), n > 0; Lemire's multiply-shift */
static inline uint64_t
FmRngBelow(FmRng *r, uint64_t n)
{
	return (uint64_t) (((unsigned __int128) FmRngNext(r) * n) >> 64);
}

/* standard normal by Box-Muller, one value per call for simplicity */
static inline double
FmRngNormal(FmRng *r)
{
	double		u1 = 1.0 - FmRngUniform(r);	/* (0, 1] */
	double		u2 = FmRngUniform(r);

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/*
 * Whether the pair (user, item) is held out, by a seeded hash of the pair
 * (every row of a pair goes the same way): with folds > 1 when its hash is
 * fold modulo folds, else when its hash, as a uniform number, falls below
 * fraction.  The hold-outs of implicit ALS's regularization and fm_tune's
 * folds.
 */
static inline bool
FmPairHeldOut(uint64_t seed, int64_t user, int64_t item, int folds, int fold,
			  double fraction)
{
	uint64_t	x = seed ^ ((uint64_t) user * 0x9E3779B97F4A7C15ULL) ^
		((uint64_t) item * 0xC2B2AE3D27D4EB4FULL);
	uint64_t	h = FmSplitMix64(&x);

	if (folds > 1)
		return (int) (h % (uint64_t) folds) == fold;
	return (double) (h >> 11) * 0x1.0p-53 < fraction;
}

/* samplers.c: draws from other distributions */
extern double FmGamma(FmRng *rng, double shape);
extern double FmNormalCdf(double x);
extern double FmTruncatedNormal(FmRng *rng, double mean, bool positive);
extern void FmNormals(FmRng *rng, double *out, int n);

#endif							/* FM_RNG_H */
