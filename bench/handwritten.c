/* handwritten.c: the fastest loops a careful C programmer writes for each
 * rule, one pass over memory (two for LAMB), OpenMP across threads.  See
 * handwritten.h.  These are baselines, not references for correctness. */
#include "handwritten.h"

#include <math.h>
#include <stddef.h>

void hw_adam(float *restrict p, const float *restrict g, float *restrict m,
             float *restrict v, int64_t n, const HwScalars *s, int threads) {
  const float b1 = s->beta1, b2 = s->beta2, eps = s->eps, wd = s->wd;
  const float ss = s->step_size, ib = s->inv_bc2_sqrt;
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= ss * mi / (sqrtf(vi) * ib + eps);
  }
}

void hw_adamw(float *restrict p, const float *restrict g, float *restrict m,
              float *restrict v, int64_t n, const HwScalars *s, int threads) {
  const float b1 = s->beta1, b2 = s->beta2, eps = s->eps;
  const float decay = 1.0f - s->lr * s->wd;
  const float ss = s->step_size, ib = s->inv_bc2_sqrt;
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - ss * mi / (sqrtf(vi) * ib + eps);
  }
}

void hw_lion(float *restrict p, const float *restrict g, float *restrict m,
             int64_t n, const HwScalars *s, int threads) {
  const float b1 = s->beta1, b2 = s->beta2, lr = s->lr;
  const float decay = 1.0f - s->lr * s->wd;
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i], mi = m[i];
    float c = b1 * mi + (1.0f - b1) * gi;
    float sg = c > 0.0f ? 1.0f : (c < 0.0f ? -1.0f : 0.0f);
    p[i] = p[i] * decay - lr * sg;
    m[i] = b2 * mi + (1.0f - b2) * gi;
  }
}

void hw_sgd_momentum(float *restrict p, const float *restrict g, float *restrict b,
                     int64_t n, const HwScalars *s, int threads) {
  const float mu = s->momentum, damp = 1.0f - s->dampening, lr = s->lr, wd = s->wd;
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    float bi = mu * b[i] + damp * gi;
    b[i] = bi;
    p[i] -= lr * bi;
  }
}

void hw_adagrad(float *restrict p, const float *restrict g, float *restrict acc,
                int64_t n, const HwScalars *s, int threads) {
  const float lr = s->lr, eps = s->eps;
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    float a = acc[i] + gi * gi;
    acc[i] = a;
    p[i] -= lr * gi / (sqrtf(a) + eps);
  }
}

void hw_lamb(float *restrict p, const float *restrict g, float *restrict m,
             float *restrict v, int64_t n, const HwScalars *s, int threads) {
  const float b1 = s->beta1, b2 = s->beta2, eps = s->eps, wd = s->wd;
  const float ib1 = s->step_size / s->lr, ib = s->inv_bc2_sqrt;
  double pn = 0.0, un = 0.0;
#pragma omp parallel for simd num_threads(threads) schedule(static) reduction(+ : pn, un)
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i], pi = p[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float u = mi * ib1 / (sqrtf(vi) * ib + eps) + wd * pi;
    pn += pi * pi;
    un += u * u;
  }
  float ratio = (pn > 0 && un > 0) ? (float)(sqrt(pn) / sqrt(un)) : 1.0f;
  const float step = s->lr * ratio;
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float pi = p[i];
    float u = m[i] * ib1 / (sqrtf(v[i]) * ib + eps) + wd * pi;
    p[i] = pi - step * u;
  }
}

/* Specialised per (reads, writes) so each is a plain vector loop.  The
 * written arrays are the first `writes` of the read ones, updated in
 * place, as an optimizer updates p and its states: each written cache
 * line is read once and written once, so the traffic is exactly `reads`
 * loads and `writes` stores (a separate output array would add a
 * read-for-ownership per store).  Each written element gets its own value
 * plus 0 times the sum of the reads: the sum keeps every read alive (no
 * -ffast-math, so 0 * x is not folded) and finite values never change,
 * so the kernel can run on an optimizer's own arrays. */
static void bw_1_1(float *const *a, int64_t n, int threads) {
  float *restrict a0 = a[0];
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float x = 0.0f * (a0[i]);
    a0[i] += x;
  }
}

static void bw_2_1(float *const *a, int64_t n, int threads) {
  float *restrict a0 = a[0];
  float *restrict a1 = a[1];
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float x = 0.0f * (a0[i] + a1[i]);
    a0[i] += x;
  }
}

static void bw_2_2(float *const *a, int64_t n, int threads) {
  float *restrict a0 = a[0];
  float *restrict a1 = a[1];
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float x = 0.0f * (a0[i] + a1[i]);
    a0[i] += x; a1[i] += x;
  }
}

static void bw_3_1(float *const *a, int64_t n, int threads) {
  float *restrict a0 = a[0];
  float *restrict a1 = a[1];
  float *restrict a2 = a[2];
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float x = 0.0f * (a0[i] + a1[i] + a2[i]);
    a0[i] += x;
  }
}

static void bw_3_2(float *const *a, int64_t n, int threads) {
  float *restrict a0 = a[0];
  float *restrict a1 = a[1];
  float *restrict a2 = a[2];
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float x = 0.0f * (a0[i] + a1[i] + a2[i]);
    a0[i] += x; a1[i] += x;
  }
}

static void bw_3_3(float *const *a, int64_t n, int threads) {
  float *restrict a0 = a[0];
  float *restrict a1 = a[1];
  float *restrict a2 = a[2];
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float x = 0.0f * (a0[i] + a1[i] + a2[i]);
    a0[i] += x; a1[i] += x; a2[i] += x;
  }
}

static void bw_4_1(float *const *a, int64_t n, int threads) {
  float *restrict a0 = a[0];
  float *restrict a1 = a[1];
  float *restrict a2 = a[2];
  float *restrict a3 = a[3];
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float x = 0.0f * (a0[i] + a1[i] + a2[i] + a3[i]);
    a0[i] += x;
  }
}

static void bw_4_2(float *const *a, int64_t n, int threads) {
  float *restrict a0 = a[0];
  float *restrict a1 = a[1];
  float *restrict a2 = a[2];
  float *restrict a3 = a[3];
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float x = 0.0f * (a0[i] + a1[i] + a2[i] + a3[i]);
    a0[i] += x; a1[i] += x;
  }
}

static void bw_4_3(float *const *a, int64_t n, int threads) {
  float *restrict a0 = a[0];
  float *restrict a1 = a[1];
  float *restrict a2 = a[2];
  float *restrict a3 = a[3];
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float x = 0.0f * (a0[i] + a1[i] + a2[i] + a3[i]);
    a0[i] += x; a1[i] += x; a2[i] += x;
  }
}

static void bw_4_4(float *const *a, int64_t n, int threads) {
  float *restrict a0 = a[0];
  float *restrict a1 = a[1];
  float *restrict a2 = a[2];
  float *restrict a3 = a[3];
#pragma omp parallel for simd num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float x = 0.0f * (a0[i] + a1[i] + a2[i] + a3[i]);
    a0[i] += x; a1[i] += x; a2[i] += x; a3[i] += x;
  }
}

typedef void (*BwFn)(float *const *, int64_t, int);
static const BwFn BW_FNS[4][4] = {
    {bw_1_1, NULL, NULL, NULL},
    {bw_2_1, bw_2_2, NULL, NULL},
    {bw_3_1, bw_3_2, bw_3_3, NULL},
    {bw_4_1, bw_4_2, bw_4_3, bw_4_4},
};

void hw_bandwidth(float *const *arrays, int nread, int nwrite, int64_t n, int threads) {
  if (nread < 1 || nread > 4 || nwrite < 1 || nwrite > nread) return;
  BW_FNS[nread - 1][nwrite - 1](arrays, n, threads);
}
