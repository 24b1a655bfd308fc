/*
 * kernels.c
 *	  Vector kernels shared by training and scoring (see kernels.h).
 */
#include "kernels.h"

/*
 * Dot product of two float rows of length k.  FM_KPAD partial sums keep
 * the loop vectorizable without reassociation; a row padded with zeros to
 * a multiple of FM_KPAD gives the same result as the unpadded row.
 */
FM_CLONES
float
FmDot(const float *restrict a, const float *restrict b, int k)
{
	float		acc[FM_KPAD] = {0};
	float		sum = 0.0f;
	int			full = k - k % FM_KPAD;

	for (int f = 0; f < full; f += FM_KPAD)
		for (int l = 0; l < FM_KPAD; l++)
			acc[l] += a[f + l] * b[f + l];
	for (int f = full; f < k; f++)
		acc[f - full] += a[f] * b[f];
	for (int l = 0; l < FM_KPAD; l++)
		sum += acc[l];
	return sum;
}
