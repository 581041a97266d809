/* mid_interp.c: the reference interpreter on hand-built scheduled programs,
 * each compared with an independent closed-form computation in C. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "interp.h"
#include "interp_internal.h"
#include "ir_build.h"

#define ST(init, i) ir_program_stage(prog, init, i)

static void fill_grads(float *g, int n, int step, int salt) {
  for (int i = 0; i < n; i++) g[i] = (float)sin(0.37 * i + 1.3 * step + salt) * 0.5f;
}

static void expect_ok(int rc, char *err) {
  if (rc != 0) fail_msg("unexpected error: %s", err ? err : "(none)");
}

/* ---- SGD with momentum ------------------------------------------------ */

/* m = mu * m + g; p = p - lr * m; lr and mu reach the sweep as slots. */
static void build_momentum(IrProgram *prog) {
  ir_program_init(prog, "momentum");
  ir_program_add_hyper(prog, "lr", 0.1, 0, INFINITY, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI |
                       OPTK_HYPER_HI_OPEN);
  ir_program_add_hyper(prog, "mu", 0.9, 0, 1, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI |
                       OPTK_HYPER_HI_OPEN);
  ir_program_add_buffer(prog, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(prog, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(prog, "m", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  prog->nslot = 2;
  ir_program_add_stage(prog, false, ir_op_scalar(0));
  IrStage *s = ST(false, 0);
  ir_emit_set(prog, s, IR_SLOT_SET, 0, ir_emit_leaf(prog, s, IR_HYPER, 0));
  ir_emit_set(prog, s, IR_SLOT_SET, 1, ir_emit_leaf(prog, s, IR_HYPER, 1));
  ir_program_add_stage(prog, false, ir_op_sweep(0));
  IrStage *w = ST(false, 1);
  int lr = ir_emit_leaf(prog, w, IR_SLOT, 0), mu = ir_emit_leaf(prog, w, IR_SLOT, 1);
  int p = ir_emit_leaf(prog, w, IR_LOAD, 0), g = ir_emit_leaf(prog, w, IR_LOAD, 1);
  int m = ir_emit_leaf(prog, w, IR_LOAD, 2);
  int m2 = ir_emit(prog, w, IR_ADD, ir_emit(prog, w, IR_MUL, mu, m, -1), g, -1);
  ir_emit_set(prog, w, IR_STORE, 2, m2);
  int p2 = ir_emit(prog, w, IR_SUB, p, ir_emit(prog, w, IR_MUL, lr, m2, -1), -1);
  ir_emit_set(prog, w, IR_STORE, 0, p2);
  prog->sweeps = 1;
  prog->bytes_per_element = 20;
  prog->state_bytes_per_element = 4;
}

static void test_momentum(void **state) {
  (void)state;
  IrProgram prog;
  build_momentum(&prog);
  enum { N = 9000 };
  static float p[N], g[N], rp[N], rm[N];
  for (int i = 0; i < N; i++) p[i] = rp[i] = (float)cos(i * 0.01), rm[i] = 0;
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  assert_non_null(in);
  assert_int_equal(interp_add_tensor(in, p, g, N, 1, &err), 0);
  expect_ok(interp_set_hyper(in, "lr", 0.05, &err), err);
  for (int s = 1; s <= 4; s++) {
    fill_grads(g, N, s, 0);
    expect_ok(interp_step(in, NAN, &err), err);
    for (int i = 0; i < N; i++) {
      double m2 = 0.9 * rm[i] + g[i]; /* p uses the unrounded value */
      rm[i] = (float)m2;
      rp[i] = (float)(rp[i] - 0.05 * m2);
    }
  }
  int64_t count = 0;
  const double *m = interp_buffer(in, 0, 2, &count);
  assert_int_equal(count, N);
  for (int i = 0; i < N; i++) {
    assert_true(p[i] == rp[i]);
    assert_true(m[i] == rm[i]);
  }
  assert_int_equal(interp_steps(in), 4);
  interp_free(in);
  ir_program_free(&prog);
}

/* ---- Adam with bias corrections in a scalar stage --------------------- */

/* scalar: slot0 = lr / (1 - b1^t), slot1 = 1 / (1 - b2^t), slot2 = b1,
 * slot3 = b2, slot4 = eps.  sweep: m, v, p as in Kingma & Ba. */
static void build_adam(IrProgram *prog) {
  ir_program_init(prog, "adam");
  ir_program_add_hyper(prog, "lr", 1e-3, 0, 0, 0);
  ir_program_add_hyper(prog, "beta1", 0.9, 0, 1, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI |
                       OPTK_HYPER_HI_OPEN);
  ir_program_add_hyper(prog, "beta2", 0.999, 0, 1, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI |
                       OPTK_HYPER_HI_OPEN);
  ir_program_add_hyper(prog, "eps", 1e-8, 0, 0, 0);
  ir_program_add_buffer(prog, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(prog, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(prog, "m", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(prog, "v", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  prog->nslot = 5;
  ir_program_add_stage(prog, false, ir_op_scalar(0));
  IrStage *s = ST(false, 0);
  int t = ir_emit_leaf(prog, s, IR_STEP, 0), one = ir_emit_const(prog, s, 1);
  int b1 = ir_emit_leaf(prog, s, IR_HYPER, 1), b2 = ir_emit_leaf(prog, s, IR_HYPER, 2);
  int c1 = ir_emit(prog, s, IR_SUB, one, ir_emit(prog, s, IR_POW, b1, t, -1), -1);
  int c2 = ir_emit(prog, s, IR_SUB, one, ir_emit(prog, s, IR_POW, b2, t, -1), -1);
  ir_emit_set(prog, s, IR_SLOT_SET, 0,
              ir_emit(prog, s, IR_DIV, ir_emit_leaf(prog, s, IR_HYPER, 0), c1, -1));
  ir_emit_set(prog, s, IR_SLOT_SET, 1, ir_emit(prog, s, IR_DIV, one, c2, -1));
  ir_emit_set(prog, s, IR_SLOT_SET, 2, b1);
  ir_emit_set(prog, s, IR_SLOT_SET, 3, b2);
  ir_emit_set(prog, s, IR_SLOT_SET, 4, ir_emit_leaf(prog, s, IR_HYPER, 3));
  ir_program_add_stage(prog, false, ir_op_sweep(0));
  IrStage *w = ST(false, 1);
  int lr = ir_emit_leaf(prog, w, IR_SLOT, 0), ic2 = ir_emit_leaf(prog, w, IR_SLOT, 1);
  int wb1 = ir_emit_leaf(prog, w, IR_SLOT, 2), wb2 = ir_emit_leaf(prog, w, IR_SLOT, 3);
  int eps = ir_emit_leaf(prog, w, IR_SLOT, 4), wone = ir_emit_const(prog, w, 1);
  int p = ir_emit_leaf(prog, w, IR_LOAD, 0), g = ir_emit_leaf(prog, w, IR_LOAD, 1);
  int m = ir_emit_leaf(prog, w, IR_LOAD, 2), v = ir_emit_leaf(prog, w, IR_LOAD, 3);
  int m2 = ir_emit(prog, w, IR_ADD, ir_emit(prog, w, IR_MUL, wb1, m, -1),
                   ir_emit(prog, w, IR_MUL, ir_emit(prog, w, IR_SUB, wone, wb1, -1), g, -1), -1);
  int gg = ir_emit(prog, w, IR_MUL, g, g, -1);
  int v2 = ir_emit(prog, w, IR_ADD, ir_emit(prog, w, IR_MUL, wb2, v, -1),
                   ir_emit(prog, w, IR_MUL, ir_emit(prog, w, IR_SUB, wone, wb2, -1), gg, -1), -1);
  int den = ir_emit(prog, w, IR_ADD,
                    ir_emit(prog, w, IR_SQRT, ir_emit(prog, w, IR_MUL, v2, ic2, -1), -1, -1),
                    eps, -1);
  int step = ir_emit(prog, w, IR_DIV, ir_emit(prog, w, IR_MUL, lr, m2, -1), den, -1);
  ir_emit_set(prog, w, IR_STORE, 0, ir_emit(prog, w, IR_SUB, p, step, -1));
  ir_emit_set(prog, w, IR_STORE, 2, m2);
  ir_emit_set(prog, w, IR_STORE, 3, v2);
}

static void test_adam(void **state) {
  (void)state;
  IrProgram prog;
  build_adam(&prog);
  enum { N = 15 };
  float p0[N], p1[N], rp[N], rm[N] = {0}, rv[N] = {0};
  float g[2 * N];
  for (int i = 0; i < N; i++) p0[i] = rp[i] = 0.1f * (float)i - 0.5f, p1[i] = 1.0f;
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  assert_non_null(in);
  assert_int_equal(interp_add_tensor(in, p0, g, N, 1, &err), 0);
  assert_int_equal(interp_add_tensor(in, p1, g + N, 3, 5, &err), 1);
  const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (int t = 1; t <= 50; t++) {
    fill_grads(g, 2 * N, t, 3);
    expect_ok(interp_step(in, NAN, &err), err);
    for (int i = 0; i < N; i++) {
      rm[i] = (float)(b1 * rm[i] + (1 - b1) * g[i]);
      rv[i] = (float)(b2 * rv[i] + (1 - b2) * ((double)g[i] * g[i]));
      double mhat = rm[i] / (1 - pow(b1, t)), vhat = rv[i] / (1 - pow(b2, t));
      rp[i] = (float)(rp[i] - lr * mhat / (sqrt(vhat) + eps));
    }
  }
  for (int i = 0; i < N; i++) assert_float_equal(p0[i], rp[i], 1e-6 * fabs(rp[i]) + 1e-9);
  assert_true(p1[0] != 1.0f);
  interp_free(in);
  ir_program_free(&prog);
}

/* ---- two sweeps with a group reduction (global-norm clipping) ---------- */

/* sweep 0: red0 += g^2; combine over the group; scalar: slot1 =
 * min(1, maxnorm / sqrt(red0)); sweep 1: p -= lr * slot1 * g. */
static void build_clip(IrProgram *prog, OptkScope scope) {
  ir_program_init(prog, "clip");
  ir_program_add_hyper(prog, "lr", 0.5, 0, 0, 0);
  ir_program_add_hyper(prog, "maxnorm", 1.0, 0, 0, 0);
  ir_program_add_buffer(prog, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(prog, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  prog->nslot = 2;
  prog->nred = 1;
  ir_program_add_stage(prog, false, ir_op_sweep(0));
  IrStage *w = ST(false, 0);
  int g = ir_emit_leaf(prog, w, IR_LOAD, 1);
  ir_emit_reduce(prog, w, 0, OPTK_RED_SUM, ir_emit(prog, w, IR_MUL, g, g, -1));
  ir_program_add_stage(prog, false, ir_op_combine(0, 1, scope, OPTK_RED_SUM));
  ir_program_add_stage(prog, false, ir_op_scalar(0));
  IrStage *s = ST(false, 2);
  int ratio = ir_emit(prog, s, IR_DIV, ir_emit_leaf(prog, s, IR_HYPER, 1),
                      ir_emit(prog, s, IR_SQRT, ir_emit_leaf(prog, s, IR_RED, 0), -1, -1), -1);
  ir_emit_set(prog, s, IR_SLOT_SET, 1, ir_emit(prog, s, IR_MIN, ir_emit_const(prog, s, 1),
                                               ratio, -1));
  ir_emit_set(prog, s, IR_SLOT_SET, 0, ir_emit_leaf(prog, s, IR_HYPER, 0));
  ir_program_add_stage(prog, false, ir_op_sweep(1));
  w = ST(false, 3);
  int lr = ir_emit_leaf(prog, w, IR_SLOT, 0), k = ir_emit_leaf(prog, w, IR_SLOT, 1);
  int p = ir_emit_leaf(prog, w, IR_LOAD, 0);
  g = ir_emit_leaf(prog, w, IR_LOAD, 1);
  int d = ir_emit(prog, w, IR_MUL, ir_emit(prog, w, IR_MUL, lr, k, -1), g, -1);
  ir_emit_set(prog, w, IR_STORE, 0, ir_emit(prog, w, IR_SUB, p, d, -1));
}

/* The documented block-sum order, written out independently. */
static double ref_block_sums(const float *g, int64_t n, double acc) {
  for (int64_t b = 0; b < n; b += OPTK_BLOCK) {
    double lane[8] = {0};
    for (int64_t i = b; i < n && i < b + OPTK_BLOCK; i++)
      lane[(i - b) % 8] += (double)g[i] * g[i];
    acc += ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  }
  return acc;
}

static void test_group_clip(void **state) {
  (void)state;
  IrProgram prog;
  build_clip(&prog, OPTK_SCOPE_GROUP);
  enum { NA = 10007, NB = 33 };
  static float pa[NA], pb[NB], ga[NA], gb[NB], ra[NA], rb[NB];
  for (int i = 0; i < NA; i++) pa[i] = ra[i] = 1;
  for (int i = 0; i < NB; i++) pb[i] = rb[i] = 2;
  fill_grads(ga, NA, 1, 0);
  fill_grads(gb, NB, 1, 7);
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  assert_non_null(in);
  assert_int_equal(interp_add_tensor(in, pa, ga, 1, NA, &err), 0);
  assert_int_equal(interp_add_tensor(in, pb, gb, NB, 1, &err), 1);
  expect_ok(interp_step(in, NAN, &err), err);
  double total = ref_block_sums(gb, NB, ref_block_sums(ga, NA, 0));
  assert_true(interp_reds(in, 0)[0] == total);
  assert_true(interp_reds(in, 1)[0] == total);
  double naive = 0;
  for (int i = 0; i < NA; i++) naive += (double)ga[i] * ga[i];
  for (int i = 0; i < NB; i++) naive += (double)gb[i] * gb[i];
  assert_float_equal(total, naive, 1e-12 * naive);
  double k = fmin(1, 1 / sqrt(naive));
  assert_true(k < 1);
  for (int i = 0; i < NA; i++) assert_float_equal(pa[i], (float)(1 - 0.5 * k * ga[i]), 1e-6);
  for (int i = 0; i < NB; i++) assert_float_equal(pb[i], (float)(2 - 0.5 * k * gb[i]), 1e-6);
  interp_free(in);
  ir_program_free(&prog);
}

static void test_tensor_scope(void **state) {
  (void)state;
  IrProgram prog;
  build_clip(&prog, OPTK_SCOPE_TENSOR);
  float pa[5] = {0}, pb[3] = {0}, ga[5] = {1, 2, 3, 4, 5}, gb[3] = {0.5f, 0, 0};
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  interp_add_tensor(in, pa, ga, 5, 1, &err);
  interp_add_tensor(in, pb, gb, 3, 1, &err);
  expect_ok(interp_step(in, NAN, &err), err);
  assert_true(interp_reds(in, 0)[0] == 55.0);
  assert_true(interp_reds(in, 1)[0] == 0.25);
  assert_float_equal(pa[4], -0.5 * 5 / sqrt(55), 1e-7);
  assert_float_equal(pb[0], -0.25, 1e-7);
  interp_free(in);
  ir_program_free(&prog);
}

/* norminf: max |g| per tensor, including an empty tensor (-inf). */
static void test_max_reduction(void **state) {
  (void)state;
  IrProgram prog;
  ir_program_init(&prog, "norminf");
  IrProgram *pp = &prog;
  ir_program_add_buffer(pp, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  pp->nred = 1;
  ir_program_add_stage(pp, false, ir_op_sweep(0));
  IrStage *w = ir_program_stage(pp, false, 0);
  ir_emit_reduce(pp, w, 0, OPTK_RED_MAX,
                 ir_emit(pp, w, IR_ABS, ir_emit_leaf(pp, w, IR_LOAD, 1), -1, -1));
  ir_program_add_stage(pp, false, ir_op_combine(0, 1, OPTK_SCOPE_TENSOR, OPTK_RED_MAX));
  enum { N = 9000 };
  static float p[N], g[N];
  fill_grads(g, N, 2, 1);
  g[8500] = -3;
  char *err = NULL;
  Interp *in = interp_create(pp, NULL, &err);
  assert_non_null(in);
  interp_add_tensor(in, p, g, N, 1, &err);
  interp_add_tensor(in, p, g, 0, 1, &err);
  expect_ok(interp_step(in, NAN, &err), err);
  assert_true(interp_reds(in, 0)[0] == 3.0);
  assert_true(interp_reds(in, 1)[0] == -INFINITY);
  interp_free(in);
  ir_program_free(pp);
}

/* ---- every K through JUMP_IF_ZERO -------------------------------------- */

/* 0 scalar: slot0 = (mod(t - 1, K) == 0); 1 jump_if_zero slot0 -> 3;
 * 2 sweep: h = g; 3 sweep: p -= 0.1 * h. */
static void test_every_k(void **state) {
  (void)state;
  IrProgram prog, *pp = &prog;
  ir_program_init(pp, "every");
  ir_program_add_hyper(pp, "k", 3, 1, 100, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI);
  ir_program_add_buffer(pp, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "h", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  pp->nslot = 1;
  ir_program_add_stage(pp, false, ir_op_scalar(0));
  IrStage *s = ir_program_stage(pp, false, 0);
  int tm1 = ir_emit(pp, s, IR_SUB, ir_emit_leaf(pp, s, IR_STEP, 0), ir_emit_const(pp, s, 1), -1);
  int md = ir_emit(pp, s, IR_MOD, tm1, ir_emit_leaf(pp, s, IR_HYPER, 0), -1);
  ir_emit_set(pp, s, IR_SLOT_SET, 0, ir_emit(pp, s, IR_EQ, md, ir_emit_const(pp, s, 0), -1));
  ir_program_add_stage(pp, false, ir_op_jump_if_zero(3, 0));
  ir_program_add_stage(pp, false, ir_op_sweep(0));
  IrStage *w = ir_program_stage(pp, false, 2);
  ir_emit_set(pp, w, IR_STORE, 2, ir_emit_leaf(pp, w, IR_LOAD, 1));
  ir_program_add_stage(pp, false, ir_op_sweep(1));
  w = ir_program_stage(pp, false, 3);
  int p = ir_emit_leaf(pp, w, IR_LOAD, 0), h = ir_emit_leaf(pp, w, IR_LOAD, 2);
  ir_emit_set(pp, w, IR_STORE, 0, ir_emit(pp, w, IR_SUB, p,
                                          ir_emit(pp, w, IR_MUL, ir_emit_const(pp, w, 0.1), h, -1),
                                          -1));
  float pv[4] = {0}, g[4], rp[4] = {0}, rh[4] = {0};
  char *err = NULL;
  Interp *in = interp_create(pp, NULL, &err);
  assert_non_null(in);
  interp_add_tensor(in, pv, g, 2, 2, &err);
  expect_ok(interp_set_hyper(in, "k", 4, &err), err);
  for (int t = 1; t <= 9; t++) {
    for (int i = 0; i < 4; i++) g[i] = (float)(t * 10 + i);
    expect_ok(interp_step(in, NAN, &err), err);
    for (int i = 0; i < 4; i++) {
      if ((t - 1) % 4 == 0) rh[i] = g[i];
      rp[i] = (float)(rp[i] - 0.1 * rh[i]);
    }
  }
  for (int i = 0; i < 4; i++) assert_true(pv[i] == rp[i]);
  assert_true(interp_buffer(in, 0, 2, NULL)[1] == 91.0); /* refreshed at t = 9 */
  interp_free(in);
  ir_program_free(pp);
}

/* ---- bf16 state, scalar state, init plan ------------------------------- */

/* An independent bf16 rounding for normal numbers: 8 significant bits,
 * round half to even (rint in the default rounding mode). */
static double ref_bf16(double x) {
  if (x == 0) return x;
  int e;
  double m = frexp((float)x, &e);
  return ldexp(rint(ldexp(m, 8)), e - 8);
}

/* init: sweep h = 1 (bf16); sstate cnt f32 = 0.5.  step: scalar cnt +=
 * 0.1; sweep h = 0.9 h + g; p -= 0.01 * h. */
static void test_bf16_and_sstate(void **state) {
  (void)state;
  IrProgram prog, *pp = &prog;
  ir_program_init(pp, "bf");
  ir_program_add_buffer(pp, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "h", OPTK_BUF_STATE, OPTK_BF16, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_sstate(pp, "cnt", OPTK_F32, 0.5);
  ir_program_add_stage(pp, true, ir_op_sweep(1));
  IrStage *w = ir_program_stage(pp, true, 0);
  ir_emit_set(pp, w, IR_STORE, 2, ir_emit_const(pp, w, 1));
  ir_program_add_stage(pp, false, ir_op_scalar(0));
  IrStage *s = ir_program_stage(pp, false, 0);
  int c = ir_emit_leaf(pp, s, IR_SSTATE, 0);
  ir_emit_set(pp, s, IR_SSTATE_SET, 0, ir_emit(pp, s, IR_ADD, c, ir_emit_const(pp, s, 0.1), -1));
  ir_program_add_stage(pp, false, ir_op_sweep(0));
  w = ir_program_stage(pp, false, 1);
  int h = ir_emit_leaf(pp, w, IR_LOAD, 2), g = ir_emit_leaf(pp, w, IR_LOAD, 1);
  int h2 = ir_emit(pp, w, IR_ADD, ir_emit(pp, w, IR_MUL, ir_emit_const(pp, w, 0.9), h, -1), g, -1);
  ir_emit_set(pp, w, IR_STORE, 2, h2);
  int p = ir_emit_leaf(pp, w, IR_LOAD, 0);
  ir_emit_set(pp, w, IR_STORE, 0, ir_emit(pp, w, IR_SUB, p,
                                          ir_emit(pp, w, IR_MUL, ir_emit_const(pp, w, 0.01), h2, -1),
                                          -1));
  enum { N = 6 };
  float pv[N] = {0}, gv[N], rp[N] = {0};
  double rh[N], rc = 0.5;
  for (int i = 0; i < N; i++) rh[i] = 1;
  char *err = NULL;
  Interp *in = interp_create(pp, NULL, &err);
  assert_non_null(in);
  interp_add_tensor(in, pv, gv, N, 1, &err);
  for (int t = 1; t <= 5; t++) {
    for (int i = 0; i < N; i++) gv[i] = (float)(0.013 * (i + 1) * t);
    expect_ok(interp_step(in, NAN, &err), err);
    rc = (float)(rc + 0.1);
    for (int i = 0; i < N; i++) {
      double h2v = 0.9 * rh[i] + gv[i];
      rh[i] = ref_bf16(h2v);
      rp[i] = (float)(rp[i] - 0.01 * h2v);
    }
  }
  const double *hb = interp_buffer(in, 0, 2, NULL);
  for (int i = 0; i < N; i++) {
    assert_true(hb[i] == rh[i]);
    assert_true(pv[i] == rp[i]);
  }
  assert_true(interp_sstate(in, 0, 0) == rc);
  assert_true(rc != 0.5 + 5 * 0.1); /* the f32 rounding is visible */
  interp_free(in);
  ir_program_free(pp);
}

/* ---- random streams ---------------------------------------------------- */

static void test_rng(void **state) {
  (void)state;
  IrProgram prog, *pp = &prog;
  ir_program_init(pp, "rng");
  ir_program_add_buffer(pp, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "u", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "z", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "r", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_stage(pp, false, ir_op_sweep(0));
  IrStage *w = ir_program_stage(pp, false, 0);
  ir_emit_set(pp, w, IR_STORE, 2, ir_emit_rng(pp, w, 0, IR_RNG_UNIFORM));
  ir_emit_set(pp, w, IR_STORE, 3, ir_emit_rng(pp, w, 1, IR_RNG_NORMAL));
  ir_emit_set(pp, w, IR_STORE, 4, ir_emit_rng(pp, w, 2, IR_RNG_RADEMACHER));
  enum { N = 5000 };
  static float p[N], g[N];
  char *err = NULL;
  InterpOptions o = {.seed = 1234};
  Interp *in = interp_create(pp, &o, &err);
  assert_non_null(in);
  interp_add_tensor(in, p, g, N, 1, &err);
  interp_add_tensor(in, p, g, N, 1, &err);
  expect_ok(interp_step(in, NAN, &err), err);
  expect_ok(interp_step(in, NAN, &err), err);
  for (int k = 0; k < 2; k++) {
    const double *u = interp_buffer(in, k, 2, NULL), *z = interp_buffer(in, k, 3, NULL);
    const double *r = interp_buffer(in, k, 4, NULL);
    double sum = 0;
    for (int i = 0; i < N; i++) {
      uint64_t x0 = optk_rng_u64(optk_rng_key(1234, 2, (uint64_t)k, 0), (uint64_t)i);
      uint64_t x1 = optk_rng_u64(optk_rng_key(1234, 2, (uint64_t)k, 1), (uint64_t)i);
      uint64_t x2 = optk_rng_u64(optk_rng_key(1234, 2, (uint64_t)k, 2), (uint64_t)i);
      assert_true(u[i] == (double)(x0 >> 40) / 16777216.0);
      double u1 = ((double)(x1 >> 40) + 1) / 16777216.0;
      double u2 = (double)((x1 >> 16) & 0xffffff) / 16777216.0;
      assert_float_equal(z[i], sqrt(-2 * log(u1)) * cos(2 * 3.14159265358979323846 * u2), 1e-15);
      assert_true(r[i] == ((x2 >> 63) ? -1.0 : 1.0));
      sum += z[i];
    }
    assert_true(fabs(sum / N) < 0.1);
  }
  interp_free(in);
  ir_program_free(pp);
}

/* ---- broadcast loads, row/column indices -------------------------------- */

/* matrix(1, cols) state cm and matrix(rows, 1) state rm loaded in a sweep
 * over a 3 x 4 parameter: p = rm[r] * 10 + cm[c] + row_index * 100 +
 * col_index * 1000; the init plan fills cm/rm by matops (identity scale). */
static void test_broadcast(void **state) {
  (void)state;
  IrProgram prog, *pp = &prog;
  ir_program_init(pp, "bcast");
  ir_program_add_buffer(pp, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "cm", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_ONE, OPTK_DIM_COLS);
  ir_program_add_buffer(pp, "rm", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_ROWS, OPTK_DIM_ONE);
  ir_program_add_stage(pp, false, ir_op_matop(OPTK_MAT_COLMEAN, 1, -1, 2, -1, 0));
  ir_program_add_stage(pp, false, ir_op_matop(OPTK_MAT_ROWMEAN, 1, -1, 3, -1, 0));
  ir_program_add_stage(pp, false, ir_op_sweep(0));
  IrStage *w = ir_program_stage(pp, false, 2);
  int cm = ir_emit_leaf(pp, w, IR_LOAD, 2), rm = ir_emit_leaf(pp, w, IR_LOAD, 3);
  int ri = ir_emit_leaf(pp, w, IR_ROW_INDEX, 0), ci = ir_emit_leaf(pp, w, IR_COL_INDEX, 0);
  int a = ir_emit(pp, w, IR_FMA, rm, ir_emit_const(pp, w, 10), cm);
  int b = ir_emit(pp, w, IR_FMA, ri, ir_emit_const(pp, w, 100), a);
  ir_emit_set(pp, w, IR_STORE, 0, ir_emit(pp, w, IR_FMA, ci, ir_emit_const(pp, w, 1000), b));
  float p[12], g[12];
  for (int i = 0; i < 12; i++) g[i] = (float)i;
  char *err = NULL;
  Interp *in = interp_create(pp, NULL, &err);
  assert_non_null(in);
  interp_add_tensor(in, p, g, 3, 4, &err);
  expect_ok(interp_step(in, NAN, &err), err);
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 4; c++) {
      double rowmean = 4 * r + 1.5, colmean = c + 4;
      assert_float_equal(p[r * 4 + c], rowmean * 10 + colmean + r * 100 + c * 1000, 1e-4);
    }
  interp_free(in);
  ir_program_free(pp);
}

/* ---- matrix ops ---------------------------------------------------------- */

static void matmul(const double *a, const double *b, double *c, int m, int k, int n) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      c[i * n + j] = 0;
      for (int q = 0; q < k; q++) c[i * n + j] += a[i * k + q] * b[q * n + j];
    }
}

/* Shampoo-like: scalar slot0 = 2 (k), slot1 = 1e-12 (eps), slot2 = lr;
 * S = g g' (gemm trans_b, scratch rows x rows); R = inv_root(S);
 * D = R g (state rows x cols); sweep p -= lr * D. */
static void test_matop_inv_root(void **state) {
  (void)state;
  IrProgram prog, *pp = &prog;
  ir_program_init(pp, "shampoo");
  pp->needs = OPTK_NEED_2D;
  ir_program_add_buffer(pp, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "S", OPTK_BUF_SCRATCH, OPTK_F64, OPTK_DIM_ROWS, OPTK_DIM_ROWS);
  ir_program_add_buffer(pp, "R", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_ROWS, OPTK_DIM_ROWS);
  ir_program_add_buffer(pp, "D", OPTK_BUF_SCRATCH, OPTK_F64, OPTK_DIM_ROWS, OPTK_DIM_COLS);
  pp->nslot = 3;
  ir_program_add_stage(pp, false, ir_op_scalar(0));
  IrStage *s = ir_program_stage(pp, false, 0);
  ir_emit_set(pp, s, IR_SLOT_SET, 0, ir_emit_const(pp, s, 2));
  ir_emit_set(pp, s, IR_SLOT_SET, 1, ir_emit_const(pp, s, 1e-12));
  ir_emit_set(pp, s, IR_SLOT_SET, 2, ir_emit_const(pp, s, 0.5));
  ir_program_add_stage(pp, false, ir_op_matop(OPTK_MAT_GEMM, 1, 1, 2, -1, OPTK_MATOP_TRANS_B));
  ir_program_add_stage(pp, false, ir_op_matop(OPTK_MAT_INV_ROOT, 2, -1, 3, 0, 0));
  ir_program_add_stage(pp, false, ir_op_matop(OPTK_MAT_GEMM, 3, 1, 4, -1, 0));
  ir_program_add_stage(pp, false, ir_op_sweep(0));
  IrStage *w = ir_program_stage(pp, false, 4);
  int p = ir_emit_leaf(pp, w, IR_LOAD, 0), d = ir_emit_leaf(pp, w, IR_LOAD, 4);
  int lr = ir_emit_leaf(pp, w, IR_SLOT, 2);
  ir_emit_set(pp, w, IR_STORE, 0, ir_emit(pp, w, IR_SUB, p, ir_emit(pp, w, IR_MUL, lr, d, -1), -1));
  enum { R = 3, C = 5 };
  float pv[R * C] = {0}, g[R * C];
  for (int i = 0; i < R * C; i++) g[i] = (float)cos(0.37 * i * i); /* rows independent */
  char *err = NULL;
  Interp *in = interp_create(pp, NULL, &err);
  assert_non_null(in);
  interp_add_tensor(in, pv, g, R, C, &err);
  expect_ok(interp_step(in, NAN, &err), err);
  /* independent check: R^2 g g' = I (its eigenvalues are above eps, so
   * the clamp does not act), and p = -0.5 R g */
  double gd[R * C], S[R * R], Rm[R * R], R2[R * R], E[R * R], D[R * C];
  for (int i = 0; i < R * C; i++) gd[i] = g[i];
  for (int i = 0; i < R; i++)
    for (int j = 0; j < R; j++) {
      S[i * R + j] = 0;
      for (int q = 0; q < C; q++) S[i * R + j] += gd[i * C + q] * gd[j * C + q];
    }
  memcpy(Rm, interp_buffer(in, 0, 3, NULL), sizeof Rm);
  matmul(Rm, Rm, R2, R, R, R);
  matmul(R2, S, E, R, R, R);
  for (int i = 0; i < R * R; i++) assert_float_equal(E[i], (i % (R + 1) == 0 ? 1.0 : 0.0), 1e-9);
  matmul(Rm, gd, D, R, R, C);
  for (int i = 0; i < R * C; i++) assert_float_equal(pv[i], (float)(-0.5 * D[i]), 1e-6);
  interp_free(in);
  ir_program_free(pp);
}

static void test_mat_eigen_and_solve(void **state) {
  (void)state;
  enum { M = 4 };
  double a[M * M] = {4, 1, 0.5, 0, 1, 3, 0.2, 0.1, 0.5, 0.2, -2, 0.3, 0, 0.1, 0.3, 1};
  double w[M], v[M * M];
  interp_mat_sym_eigen(a, M, w, v);
  for (int j = 0; j < M; j++) {
    if (j) assert_true(w[j - 1] <= w[j]);
    int big = 0;
    for (int i = 0; i < M; i++) {
      double av = 0;
      for (int q = 0; q < M; q++) av += a[i * M + q] * v[q * M + j];
      assert_float_equal(av, w[j] * v[i * M + j], 1e-12);
      if (fabs(v[i * M + j]) > fabs(v[big * M + j])) big = i;
    }
    assert_true(v[big * M + j] > 0);
  }
  /* solve: a is indefinite (eigenvalue near -2), so LU runs */
  double bv[M * 2] = {1, 0, 2, 1, 3, 0, 4, 1}, xv[M * 2];
  InterpMat A = {a, M, M}, B = {bv, M, 2}, X = {xv, M, 2};
  OptkOp op = ir_op_matop(OPTK_MAT_SOLVE, 0, 1, 2, -1, 0);
  char *err = NULL;
  expect_ok(interp_mat_run(&op, &A, &B, &X, NULL, &err), err);
  double ax[M * 2];
  matmul(a, xv, ax, M, M, 2);
  for (int i = 0; i < M * 2; i++) assert_float_equal(ax[i], bv[i], 1e-12);
  /* positive definite: Cholesky */
  double spd[4] = {4, 2, 2, 3}, b2[2] = {2, 1}, x2[2];
  InterpMat A2 = {spd, 2, 2}, B2 = {b2, 2, 1}, X2 = {x2, 2, 1};
  expect_ok(interp_mat_run(&op, &A2, &B2, &X2, NULL, &err), err);
  assert_float_equal(x2[0], 0.5, 1e-15);
  assert_float_equal(x2[1], 0.0, 1e-15);
  double sing[4] = {1, 2, 2, 4};
  InterpMat A3 = {sing, 2, 2};
  assert_int_equal(interp_mat_run(&op, &A3, &B2, &X2, NULL, &err), -1);
  assert_string_equal(err, "solve: the matrix is singular");
  free(err);
  /* inv_root clamps eigenvalues from below at eps */
  double dg[9] = {4, 0, 0, 0, 1e-8, 0, 0, 0, -1}, ir[9], ks[2] = {2, 1e-4};
  InterpMat DG = {dg, 3, 3}, IR = {ir, 3, 3};
  op = ir_op_matop(OPTK_MAT_INV_ROOT, 0, -1, 1, 0, 0);
  expect_ok(interp_mat_run(&op, &DG, NULL, &IR, ks, &err), err);
  double want[9] = {0.5, 0, 0, 0, 100, 0, 0, 0, 100};
  for (int i = 0; i < 9; i++) assert_float_equal(ir[i], want[i], 1e-12 * (1 + want[i]));
  ks[0] = 0;
  assert_int_equal(interp_mat_run(&op, &DG, NULL, &IR, ks, &err), -1);
  assert_string_equal(err, "inv_root: the root k must be positive");
  free(err);
  /* transpose, identity, copy */
  double t_in[6] = {1, 2, 3, 4, 5, 6}, t_out[6], slot[1] = {2.5};
  InterpMat TI = {t_in, 2, 3}, TO = {t_out, 3, 2};
  op = ir_op_matop(OPTK_MAT_TRANSPOSE, 0, -1, 1, -1, 0);
  expect_ok(interp_mat_run(&op, &TI, NULL, &TO, NULL, &err), err);
  assert_true(t_out[1] == 4 && t_out[2] == 2 && t_out[5] == 6);
  double id[9];
  InterpMat ID = {id, 3, 3};
  op = ir_op_matop(OPTK_MAT_IDENTITY, -1, -1, 0, 0, 0);
  expect_ok(interp_mat_run(&op, NULL, NULL, &ID, slot, &err), err);
  assert_true(id[0] == 2.5 && id[4] == 2.5 && id[1] == 0 && id[8] == 2.5);
  op = ir_op_matop(OPTK_MAT_EIGVECS, 0, -1, 1, -1, 0);
  double ev[M * M];
  InterpMat A4 = {a, M, M}, EV = {ev, M, M};
  expect_ok(interp_mat_run(&op, &A4, NULL, &EV, NULL, &err), err);
  assert_memory_equal(ev, v, sizeof ev);
}

/* ---- host calls and errors ----------------------------------------------- */

static int hvp_double(void *user, int nt, const double *const *v, double *const *out,
                      char **err) {
  (void)err;
  const int64_t *sizes = user;
  for (int k = 0; k < nt; k++)
    for (int64_t i = 0; i < sizes[k]; i++) out[k][i] = 2 * v[k][i];
  return 0;
}

static void build_hvp(IrProgram *pp) {
  ir_program_init(pp, "hvp");
  pp->needs = OPTK_NEED_HVP;
  ir_program_add_buffer(pp, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "hv", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  OptkOp op = {.kind = OPTK_OP_HVP, .a = 1, .b = 2, .c = -1, .d = -1};
  ir_program_add_stage(pp, false, op);
}

static void test_hvp(void **state) {
  (void)state;
  IrProgram prog;
  build_hvp(&prog);
  int64_t sizes[2] = {3, 2};
  float p[3] = {0}, g[3] = {1, 2, 3}, g2[2] = {-1, 0.5f};
  InterpOptions o = {.host = {.user = sizes, .hvp = hvp_double}};
  char *err = NULL;
  Interp *in = interp_create(&prog, &o, &err);
  interp_add_tensor(in, p, g, 3, 1, &err);
  interp_add_tensor(in, p, g2, 2, 1, &err);
  expect_ok(interp_step(in, NAN, &err), err);
  assert_true(interp_buffer(in, 0, 2, NULL)[2] == 6);
  assert_true(interp_buffer(in, 1, 2, NULL)[0] == -2);
  interp_free(in);
  in = interp_create(&prog, NULL, &err);
  interp_add_tensor(in, p, g, 3, 1, &err);
  assert_int_equal(interp_step(in, NAN, &err), -1);
  assert_string_equal(err, "the plan needs hvp but the host gave none");
  free(err);
  interp_free(in);
  ir_program_free(&prog);
}

static void test_linesearch_refused(void **state) {
  (void)state;
  IrProgram prog, *pp = &prog;
  ir_program_init(pp, "ls");
  ir_program_add_buffer(pp, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(pp, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  pp->nslot = 5;
  ir_program_add_stage(pp, false, ir_op_scalar(0));
  IrStage *s = ir_program_stage(pp, false, 0);
  for (int i = 0; i < 4; i++) ir_emit_set(pp, s, IR_SLOT_SET, i, ir_emit_const(pp, s, 1));
  OptkOp op = {.kind = OPTK_OP_LINESEARCH, .a = 1, .b = OPTK_LS_ARMIJO, .c = 0, .d = 4};
  ir_program_add_stage(pp, false, op);
  float p[2] = {0}, g[2] = {0};
  char *err = NULL;
  Interp *in = interp_create(pp, NULL, &err);
  assert_non_null(in);
  interp_add_tensor(in, p, g, 2, 1, &err);
  assert_int_equal(interp_step(in, 1.0, &err), -1);
  assert_string_equal(err, "the interpreter does not run line searches");
  free(err);
  interp_free(in);
  ir_program_free(pp);
}

static void test_hyper_errors(void **state) {
  (void)state;
  IrProgram prog;
  build_momentum(&prog);
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  assert_int_equal(interp_set_hyper(in, "mu", 1.0, &err), -1);
  assert_string_equal(err, "hyper mu: 1 is outside its range");
  free(err);
  assert_int_equal(interp_set_hyper(in, "lr", NAN, &err), -1);
  free(err);
  assert_int_equal(interp_set_hyper(in, "beta", 0.5, &err), -1);
  assert_string_equal(err, "optimizer momentum has no hyper 'beta'");
  free(err);
  float p[1], g[1];
  assert_int_equal(interp_add_tensor(in, p, g, -1, 1, &err), -1);
  free(err);
  interp_free(in);
  prog.bufs[1].role = OPTK_BUF_STATE;
  assert_null(interp_create(&prog, NULL, &err));
  assert_string_equal(err, "buffer 1 (g) must be g");
  free(err);
  ir_program_free(&prog);
}

/* ---- whole runs ---------------------------------------------------------- */

static void test_run_with_grads(void **state) {
  (void)state;
  IrProgram prog;
  build_momentum(&prog);
  enum { N = 7, S = 3 };
  float pa[N], pb[N], g[S][N];
  for (int i = 0; i < N; i++) pa[i] = pb[i] = (float)i;
  for (int s = 0; s < S; s++) fill_grads(g[s], N, s, 5);
  const float *grads[S];
  for (int s = 0; s < S; s++) grads[s] = g[s];
  float *ps[1] = {pa};
  int64_t rows[1] = {N}, cols[1] = {1};
  const char *names[1] = {"mu"};
  double values[1] = {0.5};
  InterpRun run = {.ntensors = 1, .p = ps, .rows = rows, .cols = cols, .steps = S,
                   .grads = grads, .hyper_names = names, .hyper_values = values, .nhypers = 1};
  char *err = NULL;
  expect_ok(interp_run(&prog, &run, &err), err);
  Interp *in = interp_create(&prog, NULL, &err);
  interp_set_hyper(in, "mu", 0.5, &err);
  interp_add_tensor(in, pb, g[0], N, 1, &err);
  for (int s = 0; s < S; s++) {
    interp_set_grad(in, 0, g[s]);
    expect_ok(interp_step(in, NAN, &err), err);
  }
  assert_memory_equal(pa, pb, sizeof pa);
  interp_free(in);
  ir_program_free(&prog);
}

/* f = 0.5 |p|^2, g = p: momentum-free SGD gives p (1 - lr)^steps. */
static int quad_grad(void *user, int step, int nt, float *const *p, float *const *g,
                     double *f, char **err) {
  (void)step;
  (void)err;
  const int64_t *n = user;
  *f = 0;
  for (int k = 0; k < nt; k++)
    for (int64_t i = 0; i < n[k]; i++) {
      g[k][i] = p[k][i];
      *f += 0.5 * (double)p[k][i] * p[k][i];
    }
  return 0;
}

static void test_run_with_grad_fn(void **state) {
  (void)state;
  IrProgram prog;
  build_momentum(&prog);
  float pa[3] = {1, -2, 4}, pb[2] = {8, 0.5f};
  float *ps[2] = {pa, pb};
  int64_t rows[2] = {3, 2}, cols[2] = {1, 1};
  const char *names[2] = {"mu", "lr"};
  double values[2] = {0, 0.25};
  InterpRun run = {.ntensors = 2, .p = ps, .rows = rows, .cols = cols, .steps = 10,
                   .grad_fn = quad_grad, .grad_user = rows, .hyper_names = names,
                   .hyper_values = values, .nhypers = 2};
  char *err = NULL;
  expect_ok(interp_run(&prog, &run, &err), err);
  double k = pow(0.75, 10);
  assert_float_equal(pa[2], 4 * k, 1e-6);
  assert_float_equal(pb[0], 8 * k, 1e-6);
  values[1] = -1;
  assert_int_equal(interp_run(&prog, &run, &err), -1);
  assert_string_equal(err, "hyper lr: -1 is outside its range");
  free(err);
  ir_program_free(&prog);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_momentum),
      cmocka_unit_test(test_adam),
      cmocka_unit_test(test_group_clip),
      cmocka_unit_test(test_tensor_scope),
      cmocka_unit_test(test_max_reduction),
      cmocka_unit_test(test_every_k),
      cmocka_unit_test(test_bf16_and_sstate),
      cmocka_unit_test(test_rng),
      cmocka_unit_test(test_broadcast),
      cmocka_unit_test(test_matop_inv_root),
      cmocka_unit_test(test_mat_eigen_and_solve),
      cmocka_unit_test(test_hvp),
      cmocka_unit_test(test_linesearch_refused),
      cmocka_unit_test(test_hyper_errors),
      cmocka_unit_test(test_run_with_grads),
      cmocka_unit_test(test_run_with_grad_fn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
