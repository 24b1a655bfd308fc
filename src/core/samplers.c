/*
 * samplers.c
 *	  Draws from the distributions the Bayesian solver needs: Gamma,
 *	  truncated normal, and standard normals in pairs.
 *
 * Every draw takes its generator (rng.h) explicitly, so a caller that
 * seeds one generator per feature and iteration gets the same draws for
 * any number of threads.
 */
#include <math.h>
#include <stdbool.h>

#include "rng.h"

/* Gamma(shape, 1) by Marsaglia and Tsang; shape >= 1 */
double
FmGamma(FmRng *rng, double shape)
{
	double		d = shape - 1.0 / 3.0;
	double		c = 1.0 / sqrt(9.0 * d);

	for (;;)
	{
		double		x,
					v,
					u;

		do
		{
			x = FmRngNormal(rng);
			v = 1.0 + c * x;
		} while (v <= 0);
		v = v * v * v;
		u = FmRngUniform(rng);
		if (u < 1.0 - 0.0331 * x * x * x * x ||
			log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

/* standard normal quantile (Acklam's rational approximation, ~1e-9) */
static double
NormalQuantile(double p)
{
	static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
		-2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01,
	2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
		-1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
		-2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00,
	2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
	2.445134137142996e+00, 3.754408661907416e+00};
	double		q,
				r;

	if (p <= 0)
		return -40.0;
	if (p >= 1)
		return 40.0;
	if (p < 0.02425)
	{
		q = sqrt(-2 * log(p));
		return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	if (p > 1 - 0.02425)
	{
		q = sqrt(-2 * log(1 - p));
		return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	q = p - 0.5;
	r = q * q;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
		(((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* standard normal distribution function */
double
FmNormalCdf(double x)
{
	return 0.5 * erfc(-x / sqrt(2.0));
}

/* z ~ N(mean, 1) truncated to z > 0 (positive) or z < 0, by inversion */
double
FmTruncatedNormal(FmRng *rng, double mean, bool positive)
{
	double		u = FmRngUniform(rng);

	if (positive)				/* eps > -mean */
		return mean - NormalQuantile(u * FmNormalCdf(mean));
	return mean + NormalQuantile(u * FmNormalCdf(-mean));
}

/*
 * Standard normals in pairs by Marsaglia's polar method: no trigonometry,
 * one logarithm per pair.
 */
void
FmNormals(FmRng *rng, double *out, int n)
{
	for (int j = 0; j < n; j += 2)
	{
		double		u,
					v,
					s,
					m;

		do
		{
			u = 2.0 * FmRngUniform(rng) - 1.0;
			v = 2.0 * FmRngUniform(rng) - 1.0;
			s = u * u + v * v;
		} while (s >= 1.0 || s == 0.0);
		m = sqrt(-2.0 * log(s) / s);
		out[j] = u * m;
		if (j + 1 < n)
			out[j + 1] = v * m;
	}
}
