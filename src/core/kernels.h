/*
 * kernels.h
 *	  The inner loops of training and scoring, written for the vector unit.
 *
 * Factor rows are float32, contiguous and padded to a multiple of
 * FM_KPAD floats, so these loops vectorize without reassociating a sum
 * (the dot product keeps FM_KPAD partial sums explicitly; no -ffast-math
 * is needed or used).  On x86-64 with GCC, the compiler emits an AVX-512,
 * an AVX2+FMA and a baseline version of each and picks one at load time,
 * so the build stays portable while using the machine it runs on.
 */
#ifndef FM_KERNELS_H
#define FM_KERNELS_H

#define FM_KPAD 16

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
	defined(__has_attribute)
#if __has_attribute(target_clones)
#define FM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef FM_CLONES
#define FM_CLONES
#endif

extern float FmDot(const float *restrict a, const float *restrict b, int k);

#endif							/* FM_KERNELS_H */
