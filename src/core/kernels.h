/*
 * kernels.h
 *	  The inner loops of training and scoring, written for the vector unit.
 *
 * Factor rows are float32, contiguous and padded to a multiple of
 * FM_KPAD floats, so these loops vectorize without reassociating a sum
 * (the dot product keeps FM_KPAD partial sums explicitly; no -ffast-math
 * is needed or used).  On x86-64 with GCC, the compiler emits an AVX2+FMA
 * and a baseline version of each and picks one at load time, so the build
 * stays portable while using the machine it runs on.  There is no AVX-512
 * version: GCC's code for it contracts and orders some sums differently
 * (MCMC with attributes trained other parameters on an AVX-512 machine
 * than on an AVX2 one, from the same data and seed), and the model bytes
 * must not depend on the CPU; AMD's Zen 4 runs AVX-512 as two 256-bit
 * halves anyway.
 */
#ifndef FM_KERNELS_H
#define FM_KERNELS_H

#define FM_KPAD 16

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
	defined(__has_attribute)
#if __has_attribute(target_clones)
#define FM_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#ifndef FM_CLONES
#define FM_CLONES
#endif

#define FM_INLINE static inline __attribute__((always_inline))

extern float FmDot(const float *restrict a, const float *restrict b, int k);

/*
 * The same dot product for rows padded to FM_KPAD, inlined into a caller
 * that is itself compiled per instruction set (FM_CLONES), so it runs in
 * the caller's vector width without a call.
 */
FM_INLINE float
FmDotPadded(const float *restrict a, const float *restrict b, int kp)
{
	float		acc[FM_KPAD] = {0};
	float		sum = 0.0f;

	for (int f = 0; f < kp; f += FM_KPAD)
		for (int l = 0; l < FM_KPAD; l++)
			acc[l] += a[f + l] * b[f + l];
	for (int l = 0; l < FM_KPAD; l++)
		sum += acc[l];
	return sum;
}

/* y += a x over rows padded to FM_KPAD, inlined like FmDotPadded. */
FM_INLINE void
FmAxpyPadded(float *restrict y, float a, const float *restrict x, int kp)
{
	for (int f = 0; f < kp; f++)
		y[f] += a * x[f];
}

#endif							/* FM_KERNELS_H */
