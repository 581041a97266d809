/* mid_matrix_domain.c: sweeps over matrix domains (optk.h, "Sweep
 * domains") in the reference interpreter and the verifier, on a
 * hand-built Shampoo-like program:
 *   init:  sweep over L (rows x rows): L = eps * (row == col)
 *          sweep over r (rows x 1):    r = row + 1
 *   step:  S = g g' (GEMM), sweep over L: L = L + S + 0.5 r[row], with
 *          red0 = sum(L) and red1 = max(cols) (the domain's cols), both
 *          combined over L's blocks; slot0, slot1 = red0, red1;
 *          sweep over p: p = p - lr * g * r[row] (r broadcast along rows).
 * rows = 70, cols = 3: L spans two blocks while p spans one, so the
 * partials must be sized for the larger domain.  References are plain
 * double loops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "ir_build.h"

enum { R = 70, C = 3, N = R * C, BUF_L = 2, BUF_R = 3, BUF_S = 4, BUF_V = 5 };
#define EPS 1e-3
#define LR 0.01

static void build_tables(IrProgram *prog) {
  ir_program_init(prog, "shampoo_like");
  ir_program_add_buffer(prog, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(prog, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(prog, "L", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_ROWS, OPTK_DIM_ROWS);
  ir_program_add_buffer(prog, "r", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_ROWS, OPTK_DIM_ONE);
  ir_program_add_buffer(prog, "S", OPTK_BUF_SCRATCH, OPTK_F64, OPTK_DIM_ROWS, OPTK_DIM_ROWS);
  ir_program_add_buffer(prog, "v", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_ONE, OPTK_DIM_COLS);
  prog->nslot = 2;
  prog->nred = 2;
}

static OptkOp domain_sweep(int fn, int dom) {
  OptkOp op = ir_op_sweep(fn);
  op.a = dom;
  return op;
}

static OptkOp domain_combine(int red, OptkReduceKind kind, int dom) {
  OptkOp op = ir_op_combine(red, 1, OPTK_SCOPE_TENSOR, kind);
  op.c = dom;
  return op;
}

static void build_init(IrProgram *prog) {
  IrStage *w = ir_program_stage(prog, true, ir_program_add_stage(prog, true, domain_sweep(0, BUF_L)));
  int eye = ir_emit(prog, w, IR_EQ, ir_emit_leaf(prog, w, IR_ROW_INDEX, 0),
                    ir_emit_leaf(prog, w, IR_COL_INDEX, 0), -1);
  ir_emit_set(prog, w, IR_STORE, BUF_L, ir_emit(prog, w, IR_MUL, ir_emit_const(prog, w, EPS), eye, -1));
  w = ir_program_stage(prog, true, ir_program_add_stage(prog, true, domain_sweep(1, BUF_R)));
  int row = ir_emit_leaf(prog, w, IR_ROW_INDEX, 0);
  ir_emit_set(prog, w, IR_STORE, BUF_R, ir_emit(prog, w, IR_ADD, row, ir_emit_const(prog, w, 1), -1));
}

static void build_step(IrProgram *prog) {
  ir_program_add_stage(prog, false, ir_op_matop(OPTK_MAT_GEMM, 1, 1, BUF_S, -1, OPTK_MATOP_TRANS_B));
  IrStage *w = ir_program_stage(prog, false, ir_program_add_stage(prog, false, domain_sweep(2, BUF_L)));
  int l = ir_emit(prog, w, IR_ADD, ir_emit_leaf(prog, w, IR_LOAD, BUF_L), ir_emit_leaf(prog, w, IR_LOAD, BUF_S), -1);
  int half_r = ir_emit(prog, w, IR_MUL, ir_emit_const(prog, w, 0.5), ir_emit_leaf(prog, w, IR_LOAD, BUF_R), -1);
  l = ir_emit(prog, w, IR_ADD, l, half_r, -1);
  ir_emit_set(prog, w, IR_STORE, BUF_L, l);
  ir_emit_reduce(prog, w, 0, OPTK_RED_SUM, l);
  ir_emit_reduce(prog, w, 1, OPTK_RED_MAX, ir_emit_leaf(prog, w, IR_COLS, 0));
  ir_program_add_stage(prog, false, domain_combine(0, OPTK_RED_SUM, BUF_L));
  ir_program_add_stage(prog, false, domain_combine(1, OPTK_RED_MAX, BUF_L));
  IrStage *s = ir_program_stage(prog, false, ir_program_add_stage(prog, false, ir_op_scalar(0)));
  ir_emit_set(prog, s, IR_SLOT_SET, 0, ir_emit_leaf(prog, s, IR_RED, 0));
  ir_emit_set(prog, s, IR_SLOT_SET, 1, ir_emit_leaf(prog, s, IR_RED, 1));
  w = ir_program_stage(prog, false, ir_program_add_stage(prog, false, ir_op_sweep(3)));
  int gr = ir_emit(prog, w, IR_MUL, ir_emit_leaf(prog, w, IR_LOAD, 1), ir_emit_leaf(prog, w, IR_LOAD, BUF_R), -1);
  int p = ir_emit(prog, w, IR_SUB, ir_emit_leaf(prog, w, IR_LOAD, 0),
                  ir_emit(prog, w, IR_MUL, ir_emit_const(prog, w, LR), gr, -1), -1);
  ir_emit_set(prog, w, IR_STORE, 0, p);
}

static void build(IrProgram *prog) {
  build_tables(prog);
  build_init(prog);
  build_step(prog);
}

static void fill_grads(float *g, int step) {
  for (int i = 0; i < N; i++) g[i] = (float)sin(0.37 * i + 1.3 * step) * 0.5f;
}

/* The block-ordered sum of optk.h over x[0..n). */
static double blocked_sum(const double *x, int n) {
  double acc = 0;
  for (int b = 0; b < n; b += OPTK_BLOCK) acc += optk_block_sum(x + b, n - b < OPTK_BLOCK ? n - b : OPTK_BLOCK);
  return acc;
}

static void test_shampoo_like(void **state) {
  (void)state;
  IrProgram prog;
  build(&prog);
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  if (!in) fail_msg("%s", err);
  static float p[N], g[N], rp[N];
  static double rl[R * R];
  for (int i = 0; i < N; i++) p[i] = rp[i] = (float)cos(0.01 * i);
  for (int i = 0; i < R * R; i++) rl[i] = i / R == i % R ? EPS : 0;
  assert_int_equal(interp_add_tensor(in, p, g, R, C, &err), 0);
  for (int step = 1; step <= 3; step++) {
    fill_grads(g, step);
    if (interp_step(in, NAN, &err) != 0) fail_msg("%s", err);
    for (int i = 0; i < R; i++)
      for (int j = 0; j < R; j++) {
        double s = 0;
        for (int k = 0; k < C; k++) s += (double)g[i * C + k] * g[j * C + k];
        rl[i * R + j] += s + 0.5 * (i + 1);
      }
    for (int i = 0; i < N; i++) rp[i] = (float)(rp[i] - LR * (g[i] * (double)(i / C + 1)));
    const double *slot = interp_slots(in, 0);
    assert_true(fabs(slot[0] - blocked_sum(rl, R * R)) <= 1e-9 * fabs(slot[0]));
    assert_true(slot[1] == R); /* the domain's cols */
  }
  int64_t count = 0;
  const double *l = interp_buffer(in, 0, BUF_L, &count);
  assert_int_equal(count, R * R);
  for (int i = 0; i < R * R; i++) assert_true(fabs(l[i] - rl[i]) <= 1e-12 * (1 + fabs(rl[i])));
  const double *r = interp_buffer(in, 0, BUF_R, &count);
  assert_int_equal(count, R);
  for (int i = 0; i < R; i++) assert_true(r[i] == i + 1);
  for (int i = 0; i < N; i++) assert_true(p[i] == rp[i]);
  interp_free(in);
  ir_program_free(&prog);
}

/* A row vector (ONE, COLS) as a domain of its own (cols = 3, so COL_INDEX
 * is i), then loaded at element i % cols in a sweep whose domain buffer M
 * is shaped like p, which makes it the parameter's domain. */
static void test_row_vector_in_matrix_domain(void **state) {
  (void)state;
  IrProgram prog;
  ir_program_init(&prog, "rowvec");
  ir_program_add_buffer(&prog, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(&prog, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(&prog, "M", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_ROWS, OPTK_DIM_COLS);
  ir_program_add_buffer(&prog, "v", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_ONE, OPTK_DIM_COLS);
  IrStage *w = ir_program_stage(&prog, true, ir_program_add_stage(&prog, true, domain_sweep(0, 3)));
  ir_emit_set(&prog, w, IR_STORE, 3, ir_emit(&prog, w, IR_MUL, ir_emit_leaf(&prog, w, IR_COL_INDEX, 0),
                                             ir_emit_const(&prog, w, 10), -1));
  w = ir_program_stage(&prog, false, ir_program_add_stage(&prog, false, domain_sweep(1, 2)));
  int x = ir_emit(&prog, w, IR_ADD, ir_emit_leaf(&prog, w, IR_LOAD, 3), ir_emit_leaf(&prog, w, IR_ROW_INDEX, 0), -1);
  ir_emit_set(&prog, w, IR_STORE, 2, x);
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  if (!in) fail_msg("%s", err);
  static float p[12], g[12];
  assert_int_equal(interp_add_tensor(in, p, g, 4, 3, &err), 0);
  if (interp_step(in, NAN, &err) != 0) fail_msg("%s", err);
  int64_t count = 0;
  const double *m = interp_buffer(in, 0, 2, &count);
  assert_int_equal(count, 12);
  for (int i = 0; i < 12; i++) assert_true(m[i] == 10.0 * (i % 3) + i / 3);
  interp_free(in);
  ir_program_free(&prog);
}

static void expect_verify(IrProgram *prog, const char *want) {
  char *err = NULL;
  assert_int_equal(ir_verify_program(prog, &err), -1);
  if (!strstr(err, want)) fail_msg("got \"%s\", want \"%s\"", err, want);
  free(err);
  ir_program_free(prog);
}

static void test_verifier(void **state) {
  (void)state;
  IrProgram prog;
  build(&prog);
  char *err = NULL;
  assert_int_equal(ir_verify_program(&prog, &err), 0);
  ir_program_free(&prog);

  build(&prog); /* p is not shaped like L */
  IrStage *w = ir_program_stage(&prog, false, 1);
  ir_emit_set(&prog, w, IR_STORE, 0, 0);
  expect_verify(&prog, "cannot store into p: not shaped like L");

  build(&prog); /* a row vector (ONE, COLS) does not broadcast over rows x rows */
  w = ir_program_stage(&prog, false, 1);
  ir_emit_leaf(&prog, w, IR_LOAD, BUF_V);
  expect_verify(&prog, "buffer v cannot be loaded elementwise");

  build(&prog);
  prog.stages[1].op.a = 9;
  expect_verify(&prog, "domain buffer 9 out of range");

  build(&prog);
  prog.stages[2].op.c = -1;
  expect_verify(&prog, "red0: combine domain differs from the sweep's");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shampoo_like),
      cmocka_unit_test(test_row_vector_in_matrix_domain),
      cmocka_unit_test(test_verifier),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
