/* handwritten.h: the hand-written C loops the benchmark compares optc's
 * generated kernels against, and the memory-bandwidth kernels that bound
 * them.  Built with -O3 -march=native -fno-math-errno -fopenmp (see
 * bench/CMakeLists.txt), vectorization confirmed by -fopt-info-vec. */
#ifndef OPTC_BENCH_HANDWRITTEN_H
#define OPTC_BENCH_HANDWRITTEN_H

#include <stdint.h>

/* Per-step scalars, computed once per step by the caller as a careful C
 * programmer would (bias corrections folded into step sizes). */
typedef struct HwScalars {
  float lr, beta1, beta2, eps, wd;
  float step_size;  /* lr / (1 - beta1^t) */
  float inv_bc2_sqrt; /* 1 / sqrt(1 - beta2^t) */
  float momentum, dampening;
} HwScalars;

/* Each returns nothing and updates in place over [0, n) with `threads`
 * OpenMP threads. */
void hw_adam(float *restrict p, const float *restrict g, float *restrict m,
             float *restrict v, int64_t n, const HwScalars *s, int threads);
void hw_adamw(float *restrict p, const float *restrict g, float *restrict m,
              float *restrict v, int64_t n, const HwScalars *s, int threads);
void hw_lion(float *restrict p, const float *restrict g, float *restrict m,
             int64_t n, const HwScalars *s, int threads);
void hw_sgd_momentum(float *restrict p, const float *restrict g, float *restrict b,
                     int64_t n, const HwScalars *s, int threads);
void hw_adagrad(float *restrict p, const float *restrict g, float *restrict acc,
                int64_t n, const HwScalars *s, int threads);
/* LAMB: two passes (moments + norms, then the trust-ratio update). */
void hw_lamb(float *restrict p, const float *restrict g, float *restrict m,
             float *restrict v, int64_t n, const HwScalars *s, int threads);

/* Bandwidth limit: reads `nread` arrays of n floats and writes the first
 * `nwrite` of them back in place, each element plus 0 times the sum of
 * the reads (which keeps the reads alive and leaves finite values as they
 * were); 1 <= nwrite <= nread <= 4. */
void hw_bandwidth(float *const *arrays, int nread, int nwrite, int64_t n, int threads);

#endif
