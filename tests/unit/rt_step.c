/* rt_step.c: stepping hand kernels against independent references:
 * SGD with momentum, Adam (in double), global-norm clipping with group
 * and tensor reductions and scalar states, every-K with jumps, bf16
 * state, init plans (also for parameters added later); bit-identical
 * results for 1, 2 and 3 threads and several chunk sizes; the non-finite
 * guard. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cblas.h>

#include "hand_kernels.h"
#include "optrt.h"
#include "rt_util.h"

static OptrtKernel *wrap(const OptkDescriptor *d) {
  OptrtKernel *k = optrt_wrap_descriptor(d, NULL);
  assert_non_null(k);
  return k;
}

static Optrt *make(const OptrtKernel *k, int threads, int64_t chunk) {
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = threads;
  cfg.chunk_elems = chunk;
  Optrt *o = optrt_create(k, &cfg, NULL);
  assert_non_null(o);
  return o;
}

static void test_sgdm_reference(void **state) {
  OptrtKernel *k = wrap(&hk_sgdm);
  Optrt *o = make(k, 2, 0);
  enum { N = 5000 };
  static float p[N], g[N], rp[N], rm[N];
  rtu_fill(p, N, 1);
  memcpy(rp, p, sizeof p);
  int gr = optrt_add_group(o, NULL);
  assert_int_equal(optrt_add_param(o, gr, p, g, 50, 100), 0);
  assert_int_equal(optrt_set_hyper(o, gr, "lr", 0.05), 0);
  for (int s = 0; s < 4; s++) {
    rtu_fill(g, N, 10 + (uint64_t)s);
    assert_int_equal(optrt_step(o), 0);
    for (int i = 0; i < N; i++) {
      rm[i] = 0.9f * rm[i] + g[i];
      rp[i] -= 0.05f * rm[i];
    }
  }
  assert_memory_equal(p, rp, sizeof p);
  assert_memory_equal(optrt_state_data(o, gr, 0, "m", NULL, NULL), rm, sizeof rm);
  assert_int_equal(optrt_step_count(o, gr), 4);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void test_adam_reference(void **state) {
  OptrtKernel *k = wrap(&hk_adam);
  Optrt *o = make(k, 3, 4096);
  enum { N = 10000 };
  static float p[N], g[N];
  static double rp[N], rm[N], rv[N];
  rtu_fill(p, N, 2);
  for (int i = 0; i < N; i++) rp[i] = p[i];
  int gr = optrt_add_group(o, NULL);
  optrt_add_param(o, gr, p, g, N, 0);
  optrt_set_hyper(o, gr, "lr", 0.01);
  optrt_set_hyper(o, gr, "wd", 0.1);
  for (int t = 1; t <= 5; t++) {
    rtu_fill(g, N, 100 + (uint64_t)t);
    assert_int_equal(optrt_step(o), 0);
    for (int i = 0; i < N; i++) {
      rm[i] = 0.9 * rm[i] + 0.1 * g[i];
      rv[i] = 0.999 * rv[i] + 0.001 * (double)g[i] * g[i];
      double mh = rm[i] / (1 - pow(0.9, t)), vh = rv[i] / (1 - pow(0.999, t));
      rp[i] -= 0.01 * (mh / (sqrt(vh) + 1e-8) + 0.1 * rp[i]);
    }
  }
  for (int i = 0; i < N; i++) assert_true(fabs(p[i] - rp[i]) <= 1e-5 * (1 + fabs(rp[i])));
  optrt_destroy(o);
  optrt_kernel_close(k);
}

/* Two tensors; one clipped step checked against a double reference. */
static void test_clip_reference(void **state) {
  OptrtKernel *k = wrap(&hk_clip);
  Optrt *o = make(k, 2, 4096);
  enum { A = 9000, B = 77 };
  static float pa[A], ga[A], pb[B], gb[B], p0a[A];
  rtu_fill(pa, A, 5);
  rtu_fill(ga, A, 6);
  rtu_fill(pb, B, 7);
  rtu_fill(gb, B, 8);
  gb[3] = -3.5f;
  memcpy(p0a, pa, sizeof pa);
  int gr = optrt_add_group(o, NULL);
  optrt_add_param(o, gr, pa, ga, A, 0);
  optrt_add_param(o, gr, pb, gb, B, 0);
  optrt_set_hyper(o, gr, "maxnorm", 2.0);
  assert_int_equal(optrt_step(o), 0);
  double ss = 0;
  for (int i = 0; i < A; i++) ss += (double)ga[i] * ga[i];
  for (int i = 0; i < B; i++) ss += (double)gb[i] * gb[i];
  double scale = 0.1 * fmin(1.0, 2.0 / sqrt(ss));
  assert_true(scale < 0.1); /* the clip is active */
  const double *u = optrt_state_data(o, gr, 0, "u", NULL, NULL);
  for (int i = 0; i < A; i++) {
    assert_true(fabs(u[i] - scale * ga[i]) <= 1e-14);
    assert_true(pa[i] == (float)(p0a[i] - u[i]));
  }
  double gmax = 0, calls = 0;
  optrt_scalar_state(o, gr, 1, "gmax", &gmax);
  optrt_scalar_state(o, gr, 1, "calls", &calls);
  assert_true(gmax == 3.5 && calls == 6.0);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void test_everyk_jumps(void **state) {
  OptrtKernel *k = wrap(&hk_everyk);
  Optrt *o = make(k, 1, 0);
  enum { N = 33 };
  float p[N], g[N], rp[N], rh[N] = {0};
  rtu_fill(p, N, 1);
  memcpy(rp, p, sizeof p);
  int gr = optrt_add_group(o, NULL);
  optrt_add_param(o, gr, p, g, N, 0);
  for (int t = 1; t <= 8; t++) {
    rtu_fill(g, N, 40 + (uint64_t)t);
    assert_int_equal(optrt_step(o), 0);
    for (int i = 0; i < N; i++) {
      rh[i] = (t - 1) % 3 == 0 ? g[i] * g[i] : rh[i] * 0.5f;
      rp[i] -= 0.1f * g[i] / (1.0f + rh[i]);
    }
  }
  assert_memory_equal(p, rp, sizeof p);
  assert_memory_equal(optrt_state_data(o, gr, 0, "h", NULL, NULL), rh, sizeof rh);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void test_bf16_state(void **state) {
  OptrtKernel *k = wrap(&hk_sgdm_bf16);
  Optrt *o = make(k, 2, 0);
  enum { N = 1000 };
  float p[N], g[N], rp[N];
  uint16_t rm[N] = {0};
  rtu_fill(p, N, 3);
  memcpy(rp, p, sizeof p);
  int gr = optrt_add_group(o, NULL);
  optrt_add_param(o, gr, p, g, N, 0);
  for (int t = 1; t <= 3; t++) {
    rtu_fill(g, N, 60 + (uint64_t)t);
    optrt_step(o);
    for (int i = 0; i < N; i++) {
      float m = 0.9f * optk_bf16_to_f32(rm[i]) + g[i];
      rm[i] = optk_f32_to_bf16(m);
      rp[i] -= 0.01f * m;
    }
  }
  OptkDType dt;
  int64_t count;
  assert_memory_equal(optrt_state_data(o, gr, 0, "m", &dt, &count), rm, sizeof rm);
  assert_int_equal(dt, OPTK_BF16);
  assert_int_equal(count, N);
  assert_memory_equal(p, rp, sizeof p);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

/* An init plan that sets m = 0.25 shows when it runs: first step of a
 * group, and for parameters added after it. */
static void init_quarter(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *m = c->buf[2];
  for (int64_t i = b; i < e; i++) m[i] = 0.25f;
}

static void test_init_plan(void **state) {
  OptkDescriptor d = hk_sgdm;
  OptkSweepFn fns[2] = {hk_sgdm.sweep_fns[0], init_quarter};
  d.sweep_fns = fns;
  OptrtKernel *k = wrap(&d);
  Optrt *o = make(k, 2, 0);
  float p1[3] = {0}, g1[3] = {1, 1, 1}, p2[2] = {0}, g2[2] = {2, 2};
  int gr = optrt_add_group(o, NULL);
  optrt_add_param(o, gr, p1, g1, 3, 0);
  optrt_step(o);
  const float *m1 = optrt_state_data(o, gr, 0, "m", NULL, NULL);
  assert_true(m1[0] == 0.9f * 0.25f + 1.0f);
  optrt_add_param(o, gr, p2, g2, 2, 0);
  optrt_step(o);
  const float *m2 = optrt_state_data(o, gr, 1, "m", NULL, NULL);
  assert_true(m2[1] == 0.9f * 0.25f + 2.0f);
  assert_true(m1[0] == 0.9f * (0.9f * 0.25f + 1.0f) + 1.0f);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

/* Clip over four tensors (odd sizes) for several steps; returns p and u
 * bytes of every tensor, concatenated. */
static void clip_run(int threads, int64_t chunk, unsigned char *out, size_t *len) {
  static const int64_t sizes[4] = {100003, 3 * 4096, 1, 5000};
  OptrtKernel *k = wrap(&hk_clip);
  Optrt *o = make(k, threads, chunk);
  float *p[4], *g[4];
  int gr = optrt_add_group(o, NULL);
  for (int i = 0; i < 4; i++) {
    p[i] = malloc((size_t)sizes[i] * 4);
    g[i] = malloc((size_t)sizes[i] * 4);
    rtu_fill(p[i], sizes[i], 20 + (uint64_t)i);
    optrt_add_param(o, gr, p[i], g[i], sizes[i], 0);
  }
  optrt_set_hyper(o, gr, "maxnorm", 10.0);
  for (int s = 0; s < 3; s++) {
    for (int i = 0; i < 4; i++) rtu_fill(g[i], sizes[i], 30 + (uint64_t)(s * 4 + i));
    assert_int_equal(optrt_step(o), 0);
  }
  *len = 0;
  for (int i = 0; i < 4; i++) {
    memcpy(out + *len, p[i], (size_t)sizes[i] * 4);
    *len += (size_t)sizes[i] * 4;
    memcpy(out + *len, optrt_state_data(o, gr, i, "u", NULL, NULL), (size_t)sizes[i] * 8);
    *len += (size_t)sizes[i] * 8;
    free(p[i]);
    free(g[i]);
  }
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void test_threads_bit_identical(void **state) {
  size_t cap = (100003 + 3 * 4096 + 1 + 5000) * 12, la, lb;
  unsigned char *a = malloc(cap), *b = malloc(cap);
  clip_run(1, 0, a, &la);
  const int threads[] = {2, 3, 1, 3};
  const int64_t chunks[] = {0, 4096, 4096 * 3, 1};
  for (int i = 0; i < 4; i++) {
    clip_run(threads[i], chunks[i], b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
  }
  free(a);
  free(b);
}

/* One step of hk_chunks over tensors of the given sizes; the sweep's
 * calls and longest chunk. */
static void chunks_step(int threads, int64_t chunk, const int64_t *sizes, int nt,
                        int64_t *calls, int64_t *longest) {
  OptrtKernel *k = wrap(&hk_chunks);
  Optrt *o = make(k, threads, chunk);
  int gr = optrt_add_group(o, NULL);
  float *p[4];
  for (int i = 0; i < nt; i++) {
    p[i] = calloc((size_t)sizes[i], sizeof(float));
    assert_non_null(p[i]);
    assert_int_equal(optrt_add_param(o, gr, p[i], p[i], sizes[i], 0), i);
  }
  hk_chunks_seen(calls, longest);
  assert_int_equal(optrt_step(o), 0);
  hk_chunks_seen(calls, longest);
  for (int i = 0; i < nt; i++) free(p[i]);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

/* The automatic chunk (cfg.chunk_elems = 0): total / (8 threads) rounded
 * up to a block, at least 16 and at most 256 blocks; chunks never span
 * tensors; a chunk size that is set is rounded up to a block. */
static void test_chunk_sizes(void **state) {
  const int64_t B = OPTK_BLOCK, big[] = {64 * 256 * B / 8}, mid[] = {40 * B, 24 * B + 5},
                small[] = {5 * B + 1, 3};
  int64_t calls, longest;
  chunks_step(1, 0, big, 1, &calls, &longest); /* 1 thread: 2048 blocks / 8 = 256 */
  assert_int_equal(longest, 256 * B);
  assert_int_equal(calls, 8);
  chunks_step(2, 0, big, 1, &calls, &longest); /* 2048 / 16 = 128 blocks */
  assert_int_equal(longest, 128 * B);
  assert_int_equal(calls, 16);
  chunks_step(4, 0, big, 1, &calls, &longest); /* 2048 / 32 = 64 */
  assert_int_equal(longest, 64 * B);
  assert_int_equal(calls, 32);
  chunks_step(1, 0, mid, 2, &calls, &longest); /* 64 blocks and 5 elements / 8: 16 */
  assert_int_equal(longest, 16 * B);
  assert_int_equal(calls, 3 + 2);
  chunks_step(3, 0, small, 2, &calls, &longest); /* one chunk per tensor */
  assert_int_equal(longest, 5 * B + 1);
  assert_int_equal(calls, 2);
  chunks_step(2, B + 1, mid, 2, &calls, &longest); /* set: 2 blocks */
  assert_int_equal(longest, 2 * B);
  assert_int_equal(calls, 20 + 13);
}

static void test_nonfinite_guard(void **state) {
  OptrtKernel *k = wrap(&hk_sgdm);
  Optrt *o = make(k, 2, 0);
  float p0[4] = {1, 2, 3, 4}, g0[4] = {1, 1, 1, 1}, p1[4] = {1, 2, 3, 4}, g1[4] = {1, 1, 1, 1};
  int a = optrt_add_group(o, NULL), b = optrt_add_group(o, NULL);
  optrt_add_param(o, a, p0, g0, 4, 0);
  optrt_add_param(o, b, p1, g1, 4, 0);
  assert_int_equal(optrt_set_nonfinite_guard(o, a, 1), 0);
  assert_int_equal(optrt_set_nonfinite_guard(o, 7, 1), -1);
  assert_int_equal(optrt_step(o), 0);
  float keep[4], keepm[4];
  memcpy(keep, p0, sizeof keep);
  memcpy(keepm, optrt_state_data(o, a, 0, "m", NULL, NULL), sizeof keepm);
  g0[2] = NAN;
  g1[1] = INFINITY;
  assert_int_equal(optrt_step(o), 0);
  assert_memory_equal(p0, keep, sizeof keep);
  assert_memory_equal(optrt_state_data(o, a, 0, "m", NULL, NULL), keepm, sizeof keepm);
  int64_t last = 0;
  assert_int_equal(optrt_skipped_steps(o, a, &last), 1);
  assert_int_equal(last, 2);
  assert_int_equal(optrt_step_count(o, a), 1);
  assert_int_equal(optrt_step_count(o, b), 2); /* unguarded: stepped into Inf */
  assert_true(isinf(p1[1]));
  assert_int_equal(optrt_skipped_steps(o, b, NULL), 0);
  g0[2] = INFINITY;
  optrt_step(o);
  g0[2] = 1;
  optrt_step(o);
  assert_int_equal(optrt_skipped_steps(o, a, &last), 2);
  assert_int_equal(last, 2); /* the step numbers that would have been 2, then 2 again */
  assert_int_equal(optrt_step_count(o, a), 2);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

/* OpenBLAS runs single-threaded during a step, then gets its setting back. */
static void test_openblas_threads_restored(void **state) {
  OptrtKernel *k = wrap(&hk_precond);
  Optrt *o = make(k, 2, 0);
  float p[6] = {0}, g[6] = {1, 2, 3, 4, 5, 6};
  optrt_add_param(o, optrt_add_group(o, NULL), p, g, 3, 2);
  openblas_set_num_threads(2);
  int before = openblas_get_num_threads();
  assert_int_equal(optrt_step(o), 0);
  assert_int_equal(openblas_get_num_threads(), before);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sgdm_reference),   cmocka_unit_test(test_adam_reference),
      cmocka_unit_test(test_clip_reference),   cmocka_unit_test(test_everyk_jumps),
      cmocka_unit_test(test_bf16_state),       cmocka_unit_test(test_init_plan),
      cmocka_unit_test(test_threads_bit_identical), cmocka_unit_test(test_nonfinite_guard),
      cmocka_unit_test(test_openblas_threads_restored), cmocka_unit_test(test_chunk_sizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
