/* mid_lower_matrix.c: lowering and scheduling of matrix rules: matrix
 * states, @ with transposes folded into GEMM flags and scalar factors
 * into its alpha, I sized from its
 * context, hessian and solve, rowmean and matrix reductions, the errors
 * for what is not supported (at their spans), the plan's sweep domains,
 * and a whole Shampoo-like rule through the interpreter against a plain C
 * reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "interp.h"
#include "mid_build_util.h"

typedef struct Lowered {
  MidBuild b;
  IrProgram prog;
  IrFunc body, init;
  int errors;
} Lowered;

static void lower_src(Lowered *l, const char *src) {
  mb_init(&l->b);
  l->errors = mb_lower(&l->b, &l->prog, &l->body, &l->init, src);
  char *err = NULL;
  if (!l->errors) {
    if (irf_verify(&l->body, &err) || irf_verify(&l->init, &err)) fail_msg("%s", err);
  }
}

static void lowered_free(Lowered *l) {
  irf_free(&l->body);
  irf_free(&l->init);
  ir_program_free(&l->prog);
  mb_free(&l->b);
}

static const IrFInst *first(const IrFunc *f, int op, int index) {
  for (int i = 0; i < f->len; i++)
    if (f->data[i].op == op && (index < 0 || f->data[i].index == index)) return &f->data[i];
  return NULL;
}

static void test_newton(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer n\nhyper d = 0\nupdate {\n  p = p - solve(hessian() + d * I, g)\n}\n");
  assert_int_equal(l.errors, 0);
  assert_int_equal(mb_count(&l.body, FN_HESSIAN), 1);
  const IrFInst *h = first(&l.body, FN_HESSIAN, -1);
  assert_int_equal(h->shape, IR_SHAPE_MAT);
  assert_int_equal(h->mdim[0], OPTK_DIM_N);
  /* hessian() + d * I is elementwise n x n work: swept into a scratch */
  const IrFInst *sw = first(&l.body, FN_MSWEEP, -1);
  assert_non_null(sw);
  assert_int_equal(sw->index, -1);
  assert_int_equal(sw->mdim[0], OPTK_DIM_N);
  assert_int_equal(sw->mdim[1], OPTK_DIM_N);
  const IrFInst *s = first(&l.body, FN_MATOP, OPTK_MAT_SOLVE);
  assert_non_null(s);
  assert_int_equal(s->shape, IR_SHAPE_ELEM); /* a vector like p */
  assert_int_equal(l.body.data[s->args[0]].op, FN_MSWEEP);
  lowered_free(&l);
}

static void test_shampoo_like(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer m\nstate L : matrix(rows, rows) = 1e-6 * I\nupdate {\n"
                "  L = L + g @ g.T\n  p = p - L @ g\n}\n");
  assert_int_equal(l.errors, 0);
  int lb = mb_buf(&l.prog, "L");
  assert_int_equal(l.prog.bufs[lb].dim0, OPTK_DIM_ROWS);
  assert_int_equal(l.prog.bufs[lb].dim1, OPTK_DIM_ROWS);
  /* L + g @ g.T: one GEMM with trans_b that adds its product to L (alpha
   * 1, beta 1) and writes L itself; the transpose and the plain GEMM
   * lowered first are unused (left to DCE), and nothing is swept */
  const IrFInst *gemm = NULL;
  for (int i = 0; i < l.body.len && !gemm; i++)
    if (l.body.data[i].op == FN_MATOP && l.body.data[i].xargs[3] >= 0) gemm = &l.body.data[i];
  assert_non_null(gemm);
  assert_int_equal(gemm->index, OPTK_MAT_GEMM);
  assert_int_equal(gemm->aux, OPTK_MATOP_TRANS_B);
  assert_int_equal(l.body.data[gemm->args[0]].op, IR_LOAD);
  assert_int_equal(l.body.data[gemm->xargs[0]].index, 1);
  assert_int_equal(l.body.data[gemm->xargs[1]].op, IR_CONST);
  assert_true(l.body.data[gemm->xargs[1]].imm == 1.0);
  assert_true(l.body.data[gemm->xargs[2]].imm == 1.0);
  const IrFInst *old = &l.body.data[gemm->xargs[3]];
  assert_int_equal(old->op, IR_LOAD);
  assert_int_equal(old->index, lb);
  assert_int_equal(gemm->out, lb);
  assert_int_equal(gemm->mdim[0], OPTK_DIM_ROWS);
  assert_int_equal(gemm->mdim[1], OPTK_DIM_ROWS);
  assert_int_equal(mb_count(&l.body, FN_MSWEEP), 0);
  /* p - L @ g: a GEMM reading the new L (the first GEMM's output) that
   * adds -1 times its product to p */
  const IrFInst *lg = &l.body.data[l.body.data[l.body.len - 1].args[0]];
  assert_int_equal(l.body.data[l.body.len - 1].op, IR_STORE);
  assert_int_equal(lg->op, FN_MATOP);
  assert_ptr_equal(&l.body.data[lg->args[0]], gemm);
  assert_int_equal(lg->shape, IR_SHAPE_ELEM);
  assert_int_equal(l.body.data[lg->xargs[3]].op, IR_LOAD);
  assert_int_equal(l.body.data[lg->xargs[3]].index, 0); /* p */
  assert_int_equal(l.body.data[lg->xargs[1]].op, IR_NEG);
  /* the init plan sweeps 1e-6 * I into L */
  const IrFInst *init = first(&l.init, FN_MSWEEP, lb);
  assert_non_null(init);
  assert_int_equal(l.init.data[init->args[0]].shape, IR_SHAPE_MAT);
  lowered_free(&l);
}

/* rowmean of g * g is a column vector; mean of it an mreduce; the
 * column vector broadcast against g is per element again. */
static void test_factored(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer a\nstate R : matrix(rows, 1) = 0\nupdate {\n"
                "  R = 0.9 * R + 0.1 * rowmean(g * g)\n  p = p - g * rsqrt(R / mean(R))\n}\n");
  assert_int_equal(l.errors, 0);
  const IrFInst *rm = first(&l.body, FN_MATOP, OPTK_MAT_ROWMEAN);
  assert_int_equal(rm->shape, IR_SHAPE_MAT);
  assert_int_equal(rm->mdim[0], OPTK_DIM_ROWS);
  assert_int_equal(rm->mdim[1], OPTK_DIM_ONE);
  assert_int_equal(mb_count(&l.body, FN_MREDUCE), 1);
  const IrFInst *store = NULL;
  for (int i = 0; i < l.body.len; i++)
    if (l.body.data[i].op == IR_STORE && l.body.data[i].index == 0) store = &l.body.data[i];
  assert_int_equal(l.body.data[store->args[0]].shape, IR_SHAPE_ELEM);
  lowered_free(&l);

  IrProgram prog; /* scheduled: sweeps over R's domain, R not per element */
  MidBuild b;
  mb_init(&b);
  assert_int_equal(mb_program(&b, &prog, "optimizer a\nstate R : matrix(rows, 1) = 0\n"
                                          "update {\n  R = 0.9 * R + 0.1 * rowmean(g * g)\n"
                                          "  p = p - g * rsqrt(R / mean(R))\n}\n"),
                   0);
  int r = mb_buf(&prog, "R");
  int domain_sweeps = 0, combines_on_r = 0;
  for (int i = 0; i < prog.nstages; i++) {
    domain_sweeps += prog.stages[i].op.kind == OPTK_OP_SWEEP && prog.stages[i].op.a == r;
    combines_on_r += prog.stages[i].op.kind == OPTK_OP_COMBINE && prog.stages[i].op.c == r;
  }
  assert_int_equal(domain_sweeps, 1); /* sum(R); the rowmean adds into R in place */
  assert_int_equal(combines_on_r, 1);
  int rowmeans = 0;
  for (int i = 0; i < prog.nstages; i++) {
    const OptkOp *op = &prog.stages[i].op;
    if (op->kind != OPTK_OP_MATOP || op->fn != OPTK_MAT_ROWMEAN) continue;
    rowmeans++;
    assert_int_equal(op->c, r);
    assert_true(op->flags & OPTK_MATOP_ACCUMULATE);
  }
  assert_int_equal(rowmeans, 1);
  assert_int_equal(prog.state_bytes_per_element, 0);
  ir_program_free(&prog);
  mb_free(&b);
}

static void expect_error(const char *src, const char *want) {
  Lowered l;
  lower_src(&l, src);
  assert_true(l.errors > 0);
  if (!strstr(l.b.errs.data, want)) fail_msg("got:\n%s\nwant: %s", l.b.errs.data, want);
  lowered_free(&l);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("optimizer s\nstate A : matrix(rows, rows) = 0\nupdate {\n  old = A\n"
               "  A = A + 1\n  p = p - old @ g\n}\n",
               "t.opt:6:11: error: 'old' holds the value matrix state 'A' had before it was "
               "assigned");
  expect_error("optimizer s\nstate S : matrix(rows, rows) = 0\nupdate {\n  S = inv_root(I, 2)\n}\n",
               "t.opt:4:16: error: the size of I is not known here"); /* sema's */
  expect_error("optimizer s\nstate S : matrix(rows, rows) = 0\nupdate {\n"
               "  p = p - group.sum(S) * g\n}\n",
               "t.opt:4:21: error: group.sum() reduces over every tensor of the group"); /* sema */
  expect_error("optimizer s\nstate S : matrix(rows, rows) bf16 = 0\nupdate {\n  p = p - S @ g\n}\n",
               "t.opt:2:7: error: a bf16 matrix state (matrix ops need f32 or f64) is not "
               "supported");
}

/* L = I initially; each step L += g g' and p -= 0.1 * (L @ g), through the
 * whole pipeline and the interpreter, against plain C in double. */
static void test_interp_shampoo_like(void **state) {
  (void)state;
  IrProgram prog;
  MidBuild b;
  mb_init(&b);
  assert_int_equal(mb_program(&b, &prog, "optimizer s\nstate L : matrix(rows, rows) f64 = I\n"
                                          "update {\n  L = L + g @ g.T\n"
                                          "  p = p - 0.1 * (L @ g)\n}\n"),
                   0);
  enum { R = 5, C = 3, N = R * C };
  float p[N], g[N];
  double rp[N], rl[R * R];
  for (int i = 0; i < N; i++) rp[i] = p[i] = (float)(0.1 * i - 0.5);
  for (int i = 0; i < R * R; i++) rl[i] = i / R == i % R;
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  if (!in) fail_msg("%s", err);
  assert_int_equal(interp_add_tensor(in, p, g, R, C, &err), 0);
  for (int s = 1; s <= 3; s++) {
    for (int i = 0; i < N; i++) g[i] = (float)sin(0.7 * i + s);
    if (interp_step(in, NAN, &err)) fail_msg("%s", err);
    for (int i = 0; i < R; i++)
      for (int j = 0; j < R; j++)
        for (int k = 0; k < C; k++) rl[i * R + j] += (double)g[i * C + k] * g[j * C + k];
    for (int i = 0; i < R; i++)
      for (int k = 0; k < C; k++) {
        double lg = 0;
        for (int j = 0; j < R; j++) lg += rl[i * R + j] * g[j * C + k];
        rp[i * C + k] = (double)(float)(rp[i * C + k] - 0.1 * lg);
      }
    for (int i = 0; i < N; i++) assert_true(fabs(p[i] - rp[i]) <= 1e-6 * (1 + fabs(rp[i])));
  }
  int64_t count = 0;
  const double *l = interp_buffer(in, 0, mb_buf(&prog, "L"), &count);
  assert_int_equal(count, R * R);
  for (int i = 0; i < R * R; i++) assert_true(fabs(l[i] - rl[i]) <= 1e-12 * (1 + fabs(rl[i])));
  interp_free(in);
  ir_program_free(&prog);
  mb_free(&b);
}

/* Scalar factors of @'s operands go to GEMM's alpha: (c * g.T) @ (3 * g)
 * is one GEMM (trans_a, alpha c * 3) with no sweep writing a scaled
 * operand and no transpose; the interpreter then gets p - 0.01 g A with
 * A = 3c g'g, against plain C in double. */
static void test_gemm_alpha(void **state) {
  (void)state;
  const char *src = "optimizer a\nhyper c = 0.5\nupdate {\n  A = (c * g.T) @ (3 * g)\n"
                    "  p = p - 0.01 * (g @ A)\n}\n";
  Lowered l;
  lower_src(&l, src);
  assert_int_equal(l.errors, 0);
  assert_int_equal(mb_count(&l.body, FN_MSWEEP), 0);
  const IrFInst *gemm = first(&l.body, FN_MATOP, OPTK_MAT_GEMM);
  assert_int_equal(gemm->aux, OPTK_MATOP_TRANS_A);
  assert_int_equal(l.body.data[gemm->args[0]].op, IR_LOAD);
  assert_int_equal(l.body.data[gemm->xargs[0]].op, IR_LOAD);
  const IrFInst *alpha = &l.body.data[gemm->xargs[1]];
  assert_int_equal(alpha->op, IR_MUL);
  assert_int_equal(gemm->xargs[2], -1);
  lowered_free(&l); /* the transpose it bypassed is left to DCE */

  IrProgram prog;
  MidBuild b;
  mb_init(&b);
  assert_int_equal(mb_program(&b, &prog, src), 0);
  int gemms = 0;
  for (int i = 0; i < prog.nstages; i++) {
    const OptkOp *op = &prog.stages[i].op;
    assert_false(op->kind == OPTK_OP_SWEEP && op->a >= 0 && op->a != 0 && op->a != 1 &&
                 prog.bufs[op->a].dim0 == OPTK_DIM_COLS); /* no cols x cols sweep */
    if (op->kind == OPTK_OP_MATOP && op->fn == OPTK_MAT_GEMM) gemms++;
    assert_false(op->kind == OPTK_OP_MATOP && op->fn == OPTK_MAT_TRANSPOSE);
  }
  assert_int_equal(gemms, 2);
  enum { R = 4, C = 3, N = R * C };
  float p[N], g[N];
  double rp[N];
  for (int i = 0; i < N; i++) rp[i] = p[i] = (float)(0.2 * i - 1);
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  if (!in) fail_msg("%s", err);
  assert_int_equal(interp_add_tensor(in, p, g, R, C, &err), 0);
  for (int s = 1; s <= 2; s++) {
    for (int i = 0; i < N; i++) g[i] = (float)cos(0.3 * i - s);
    if (interp_step(in, NAN, &err)) fail_msg("%s", err);
    double a[C * C];
    for (int i = 0; i < C; i++)
      for (int j = 0; j < C; j++) {
        double sum = 0;
        for (int k = 0; k < R; k++) sum += (double)g[k * C + i] * g[k * C + j];
        a[i * C + j] = 1.5 * sum;
      }
    for (int i = 0; i < R; i++)
      for (int j = 0; j < C; j++) {
        double ga = 0;
        for (int k = 0; k < C; k++) ga += g[i * C + k] * a[k * C + j];
        rp[i * C + j] = (double)(float)(rp[i * C + j] - 0.01 * ga);
      }
    for (int i = 0; i < N; i++) assert_true(fabs(p[i] - rp[i]) <= 1e-6 * (1 + fabs(rp[i])));
  }
  interp_free(in);
  ir_program_free(&prog);
  mb_free(&b);
}

/* Sums with products are GEMMs adding to a matrix: L's in place (no copy,
 * no sweep), Q's and p's after a copy; `2 * A` names an earlier product,
 * which is read, not computed again (six GEMMs in all: A, L, Q and p's
 * three). */
static void test_gemm_sum(void **state) {
  (void)state;
  IrProgram prog;
  MidBuild b;
  mb_init(&b);
  assert_int_equal(mb_program(&b, &prog, "optimizer al\nhyper c = 0.5\n"
                                         "state L : matrix(rows, rows) f64 = 0\nupdate {\n"
                                         "  A = (c * g.T) @ (3 * g)\n  L = 0.9 * L + 0.1 * g @ g.T\n"
                                         "  Q = g.T @ g - 2 * A\n"
                                         "  p = p - 0.01 * (g @ A) - 1e-3 * (L @ g) - 1e-2 * (g @ Q)\n}\n"),
                   0);
  int lb = mb_buf(&prog, "L"), gemms = 0, accum = 0, copies = 0, sweeps = 0;
  for (int i = 0; i < prog.nstages; i++) {
    const OptkOp *op = &prog.stages[i].op;
    sweeps += op->kind == OPTK_OP_SWEEP;
    if (op->kind != OPTK_OP_MATOP) continue;
    copies += op->fn == OPTK_MAT_COPY;
    assert_false(op->fn == OPTK_MAT_COPY && op->c == lb);
    if (op->fn != OPTK_MAT_GEMM) continue;
    gemms++;
    if (op->flags & OPTK_MATOP_ACCUMULATE) {
      accum++;
      assert_true(op->d >= 0 && op->d + 1 < prog.nslot);
    }
  }
  assert_int_equal(gemms, 6);
  assert_int_equal(accum, 5);  /* L, Q and p's three */
  assert_int_equal(copies, 4); /* into Q's and p's outputs */
  assert_int_equal(sweeps, 1); /* p's store */
  ir_program_free(&prog);
  mb_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_newton),
      cmocka_unit_test(test_shampoo_like),
      cmocka_unit_test(test_factored),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_interp_shampoo_like),
      cmocka_unit_test(test_gemm_alpha),
      cmocka_unit_test(test_gemm_sum),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
