/* rt_matrix_domain.c: the runtime's sweep domains (optk.h, "Sweep
 * domains") on a hand-written Shampoo-like kernel (the program of
 * mid_matrix_domain.c):
 *   init:  sweep over L (rows x rows): L = eps * (row == col)
 *          sweep over r (rows x 1):    r = row + 1
 *   step:  S = g g' (GEMM), sweep over L: L = L + S + 0.5 r[row] with
 *          red0 = sum(L), red1 = max(n) combined over L's blocks and kept
 *          in scalar states; sweep over p: p = p - lr * g * r[row].
 * Checked: ctx->n/rows/cols are the domain's, partials sized for L (two
 * blocks while p has one), values against a double reference, and bit
 * identity over thread counts and chunk sizes, the zeroed bytes after
 * every buffer; the validator rejects a domain buffer out of range. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "optrt.h"

enum { R = 70, C = 3, N = R * C, BUF_L = 2, BUF_R = 3, BUF_S = 4 };
#define EPS 1e-3
#define LR 0.01

static void init_l(const OptkSweepCtx *c, int64_t b, int64_t e) {
  double *l = c->buf[BUF_L];
  for (int64_t i = b; i < e; i++) l[i] = i / c->cols == i % c->cols ? EPS : 0;
}

static void init_r(const OptkSweepCtx *c, int64_t b, int64_t e) {
  double *r = c->buf[BUF_R];
  for (int64_t i = b; i < e; i++) r[i] = (double)(i / c->cols + 1);
}

static void step_l(const OptkSweepCtx *c, int64_t b, int64_t e) {
  double *l = c->buf[BUF_L];
  const double *s = c->buf[BUF_S], *r = c->buf[BUF_R];
  double v[OPTK_BLOCK];
  for (int64_t blk = b; blk < e; blk += OPTK_BLOCK) {
    int64_t cnt = e - blk < OPTK_BLOCK ? e - blk : OPTK_BLOCK;
    for (int64_t j = 0; j < cnt; j++) {
      int64_t i = blk + j;
      v[j] = l[i] = l[i] + s[i] + 0.5 * r[i / c->cols];
    }
    c->partial[(blk / OPTK_BLOCK) * 2] = optk_block_sum(v, cnt);
    c->partial[(blk / OPTK_BLOCK) * 2 + 1] = (double)c->n;
  }
}

static void step_p(const OptkSweepCtx *c, int64_t b, int64_t e) {
  float *p = c->buf[0];
  const float *g = c->buf[1];
  const double *r = c->buf[BUF_R];
  for (int64_t i = b; i < e; i++) p[i] = (float)(p[i] - LR * (g[i] * r[i / c->cols]));
}

static void keep_reds(OptkScalarCtx *c) {
  c->sstate[0] = c->red[0];
  c->sstate[1] = c->red[1];
}

static const OptkBuffer BUFS[] = {
    {"p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE, 0},
    {"g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE, 0},
    {"L", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_ROWS, OPTK_DIM_ROWS, 0},
    {"r", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_ROWS, OPTK_DIM_ONE, 0},
    {"S", OPTK_BUF_SCRATCH, OPTK_F64, OPTK_DIM_ROWS, OPTK_DIM_ROWS, 0}};
static const OptkScalarState SST[] = {{"sum", OPTK_F64, {0}}, {"n", OPTK_F64, {0}}};
static const double SST_INIT[] = {0, 0};
static const OptkOp INIT[] = {{OPTK_OP_SWEEP, 0, 0, 0, BUF_L, -1, -1, -1},
                              {OPTK_OP_SWEEP, 1, 0, 0, BUF_R, -1, -1, -1}};
static const OptkOp OPS[] = {
    {OPTK_OP_MATOP, OPTK_MAT_GEMM, 0, OPTK_MATOP_TRANS_B, 1, 1, BUF_S, -1},
    {OPTK_OP_SWEEP, 2, 0, 0, BUF_L, -1, -1, -1},
    {OPTK_OP_COMBINE, 0, OPTK_SCOPE_TENSOR, OPTK_RED_SUM, 0, 1, BUF_L, -1},
    {OPTK_OP_COMBINE, 0, OPTK_SCOPE_TENSOR, OPTK_RED_MAX, 1, 1, BUF_L, -1},
    {OPTK_OP_SCALAR, 0, 0, 0, -1, -1, -1, -1},
    {OPTK_OP_SWEEP, 3, 0, 0, -1, -1, -1, -1}};
static const OptkSweepFn SWEEPS[] = {init_l, init_r, step_l, step_p};
static const OptkScalarFn SCALARS[] = {keep_reds};

static OptkDescriptor descriptor(void) {
  return (OptkDescriptor){.magic = OPTK_MAGIC, .abi_version = OPTK_ABI_VERSION,
                          .size = sizeof(OptkDescriptor), .needs = OPTK_NEED_2D,
                          .name = "shampoo_like", .source_sha256 = "0", .nbuf = 5,
                          .nsstate = 2, .nred = 2, .nops = 6, .ninit_ops = 2,
                          .nscalar_fns = 1, .nsweep_fns = 4, .bufs = BUFS, .sstates = SST,
                          .sstate_init = SST_INIT, .ops = OPS, .init_ops = INIT,
                          .scalar_fns = SCALARS, .sweep_fns = SWEEPS};
}

static void fill_grads(float *g, int step) {
  for (int i = 0; i < N; i++) g[i] = (float)sin(0.37 * i + 1.3 * step) * 0.5f;
}

/* Runs 3 steps; returns the final p, L and sum(L) through the pointers. */
static void run(int threads, int64_t chunk, float *p, double *l, double *sum) {
  OptkDescriptor d = descriptor();
  OptrtKernel *k = optrt_wrap_descriptor(&d, NULL);
  assert_non_null(k);
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = threads;
  cfg.chunk_elems = chunk;
  Optrt *o = optrt_create(k, &cfg, NULL);
  assert_non_null(o);
  static float g[N];
  for (int i = 0; i < N; i++) p[i] = (float)cos(0.01 * i);
  int gr = optrt_add_group(o, NULL);
  assert_int_equal(optrt_add_param(o, gr, p, g, R, C), 0);
  for (int step = 1; step <= 3; step++) {
    fill_grads(g, step);
    if (optrt_step(o) != 0) fail_msg("%s", optrt_last_error(o));
  }
  int64_t count = 0;
  const double *lv = optrt_state_data(o, gr, 0, "L", NULL, &count);
  assert_int_equal(count, R * R);
  memcpy(l, lv, sizeof(double) * R * R);
  /* docs/abi.md, "Buffers": 64 zeroed bytes after every runtime buffer
   * (generated kernels load whole vectors from row and column vectors). */
  static const char *const owned[] = {"L", "r", "S"};
  static const unsigned char zero[64];
  for (int b = 0; b < 3; b++) {
    const unsigned char *data = optrt_state_data(o, gr, 0, owned[b], NULL, &count);
    assert_non_null(data);
    assert_memory_equal(data + count * (int64_t)sizeof(double), zero, sizeof zero);
  }
  double n = 0;
  assert_int_equal(optrt_scalar_state(o, gr, 0, "sum", sum), 0);
  assert_int_equal(optrt_scalar_state(o, gr, 0, "n", &n), 0);
  assert_true(n == R * R);
  optrt_destroy(o);
  optrt_kernel_close(k);
}

static void test_reference(void **state) {
  (void)state;
  static float p[N], rp[N], g[N];
  static double l[R * R], rl[R * R];
  double sum = 0;
  run(1, 0, p, l, &sum);
  for (int i = 0; i < N; i++) rp[i] = (float)cos(0.01 * i);
  for (int i = 0; i < R * R; i++) rl[i] = i / R == i % R ? EPS : 0;
  for (int step = 1; step <= 3; step++) {
    fill_grads(g, step);
    for (int i = 0; i < R; i++)
      for (int j = 0; j < R; j++) {
        double s = 0;
        for (int k = 0; k < C; k++) s += (double)g[i * C + k] * g[j * C + k];
        rl[i * R + j] += s + 0.5 * (i + 1);
      }
    for (int i = 0; i < N; i++) rp[i] = (float)(rp[i] - LR * (g[i] * (double)(i / C + 1)));
  }
  double rsum = 0;
  for (int i = 0; i < R * R; i++) {
    assert_true(fabs(l[i] - rl[i]) <= 1e-12 * (1 + fabs(rl[i])));
    rsum += rl[i];
  }
  assert_true(fabs(sum - rsum) <= 1e-9 * fabs(rsum));
  assert_memory_equal(p, rp, sizeof p);
}

static void test_threads_bit_identical(void **state) {
  (void)state;
  static float p1[N], p3[N];
  static double l1[R * R], l3[R * R];
  double s1 = 0, s3 = 0;
  run(1, 0, p1, l1, &s1);
  run(3, OPTK_BLOCK, p3, l3, &s3);
  assert_memory_equal(p1, p3, sizeof p1);
  assert_memory_equal(l1, l3, sizeof l1);
  assert_memory_equal(&s1, &s3, sizeof s1);
}

static void test_bad_domain(void **state) {
  (void)state;
  OptkDescriptor d = descriptor();
  OptkOp ops[6];
  memcpy(ops, OPS, sizeof ops);
  ops[1].a = 5;
  d.ops = ops;
  char *err = NULL;
  assert_null(optrt_wrap_descriptor(&d, &err));
  assert_non_null(strstr(err, "SWEEP domain buffer out of range"));
  free(err);
  ops[1].a = BUF_L;
  ops[2].c = 7;
  assert_null(optrt_wrap_descriptor(&d, &err));
  assert_non_null(strstr(err, "COMBINE domain buffer out of range"));
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference),
      cmocka_unit_test(test_threads_bit_identical),
      cmocka_unit_test(test_bad_domain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
