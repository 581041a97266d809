/* mid_passes.c: the function-level passes on hand-built IR (fold,
 * simplify, cse, dce, hoist, contract) and from source (bcast), the
 * function-level verifier, and the pipeline's dumps (`--after NAME` /
 * `all`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "mid_build_util.h"

#define AT SPAN_NONE

static int hyper(IrFunc *f, int i) { return irf_leaf(f, IR_HYPER, i, 0, IR_SHAPE_SCALAR, AT); }
static int load(IrFunc *f, int buf) { return irf_leaf(f, IR_LOAD, buf, 0, IR_SHAPE_ELEM, AT); }

static void store(IrFunc *f, int buf, int v) {
  IrFInst in = {.op = IR_STORE, .args = {v, -1, -1}, .index = buf, .span = AT,
                .shape = IR_SHAPE_ELEM, .xargs = {-1, -1, -1, -1}};
  irf_push(f, &in);
}

/* The value stored by the last STORE of f. */
static const IrFInst *stored(const IrFunc *f) {
  for (int i = f->len - 1; i >= 0; i--)
    if (f->data[i].op == IR_STORE) return &f->data[f->data[i].args[0]];
  return NULL;
}

static void verify_ok(const IrFunc *f) {
  char *err = NULL;
  int rc = irf_verify(f, &err);
  if (rc) fprintf(stderr, "%s\n", err);
  free(err);
  assert_int_equal(rc, 0);
}

static void test_fold(void **state) {
  (void)state;
  IrFunc f;
  irf_init(&f);
  int a = irf_op2(&f, IR_ADD, irf_const(&f, 2, AT), irf_const(&f, 3, AT), AT);
  int b = irf_op2(&f, IR_MOD, irf_op2(&f, IR_SUB, a, irf_const(&f, 1, AT), AT),
                  irf_const(&f, 3, AT), AT); /* (5 - 1) mod 3 */
  int c = irf_op1(&f, IR_SQRT, irf_op2(&f, IR_MUL, b, hyper(&f, 0), AT), AT);
  store(&f, 2, irf_op2(&f, IR_MUL, load(&f, 0), c, AT));
  assert_true(pass_fold(&f) >= 3);
  verify_ok(&f);
  int consts = 0;
  for (int i = 0; i < f.len; i++)
    if (f.data[i].op == IR_CONST && f.data[i].imm == 1.0) consts++;
  assert_true(consts >= 1); /* the mod's result */
  assert_int_equal(mb_count(&f, IR_MOD), 0);
  assert_int_equal(mb_count(&f, IR_SQRT), 1); /* depends on a hyper */
  irf_free(&f);
}

static void test_simplify_powers(void **state) {
  (void)state;
  IrFunc f;
  irf_init(&f);
  int g = load(&f, 1);
  int sq = irf_op2(&f, IR_POW, g, irf_const(&f, 2, AT), AT);
  int cube = irf_op2(&f, IR_POW, g, irf_const(&f, 3, AT), AT);
  int root = irf_op2(&f, IR_POW, g, irf_const(&f, 0.5, AT), AT);
  int rroot = irf_op2(&f, IR_POW, g, irf_const(&f, -0.5, AT), AT);
  int frac = irf_op2(&f, IR_POW, g, irf_const(&f, 2.5, AT), AT);
  int sum = irf_op2(&f, IR_ADD, irf_op2(&f, IR_ADD, sq, cube, AT),
                    irf_op2(&f, IR_ADD, root, irf_op2(&f, IR_ADD, rroot, frac, AT), AT), AT);
  store(&f, 0, sum);
  assert_int_equal(pass_simplify(&f), 4);
  verify_ok(&f);
  assert_int_equal(mb_count(&f, IR_POW), 1); /* x^2.5 stays */
  assert_int_equal(mb_count(&f, IR_POWI), 1);
  assert_int_equal(mb_count(&f, IR_SQRT), 1);
  assert_int_equal(mb_count(&f, IR_RSQRT), 1);
  for (int i = 0; i < f.len; i++)
    if (f.data[i].op == IR_POWI) assert_int_equal(f.data[i].index, 3);
  pass_dce(&f);
  assert_int_equal(mb_count(&f, IR_MUL), 1); /* g * g */
  irf_free(&f);
}

static void test_simplify_identities(void **state) {
  (void)state;
  IrFunc f;
  irf_init(&f);
  int g = load(&f, 1);
  int one = irf_const(&f, 1, AT), zero = irf_const(&f, 0, AT);
  int x = irf_op2(&f, IR_MUL, g, one, AT);
  x = irf_op2(&f, IR_ADD, zero, x, AT);
  x = irf_op2(&f, IR_SUB, x, zero, AT);
  x = irf_op2(&f, IR_DIV, x, one, AT);
  x = irf_op1(&f, IR_NEG, irf_op1(&f, IR_NEG, x, AT), AT);
  x = irf_op3(&f, IR_SELECT, one, x, zero, AT);
  x = irf_op3(&f, IR_SELECT, hyper(&f, 0), x, x, AT);
  store(&f, 0, x);
  pass_simplify(&f);
  pass_dce(&f);
  verify_ok(&f);
  assert_int_equal(stored(&f)->op, IR_LOAD); /* all of it was g */
  assert_int_equal(f.len, 2);
  irf_free(&f);
}

/* e / s -> e * (1 / s) with the reciprocal scalar; e / 3 stays (inexact),
 * e / 4 -> e * 0.25. */
static void test_simplify_division(void **state) {
  (void)state;
  IrFunc f;
  irf_init(&f);
  int g = load(&f, 1), s = hyper(&f, 0);
  store(&f, 2, irf_op2(&f, IR_DIV, g, s, AT));
  store(&f, 3, irf_op2(&f, IR_DIV, g, irf_const(&f, 3, AT), AT));
  store(&f, 4, irf_op2(&f, IR_DIV, g, irf_const(&f, 4, AT), AT));
  pass_simplify(&f);
  verify_ok(&f);
  int recips = 0, quarters = 0;
  for (int i = 0; i < f.len; i++) {
    const IrFInst *in = &f.data[i];
    if (in->op == IR_DIV && in->shape == IR_SHAPE_SCALAR) recips++;
    if (in->op == IR_CONST && in->imm == 0.25) quarters++;
  }
  assert_int_equal(recips, 1);
  assert_int_equal(quarters, 1);
  assert_int_equal(mb_count(&f, IR_DIV), 2); /* 1/s and g/3 */
  irf_free(&f);
}

static void test_cse(void **state) {
  (void)state;
  IrFunc f;
  irf_init(&f);
  int a = irf_op2(&f, IR_MUL, load(&f, 1), hyper(&f, 0), AT);
  int b = irf_op2(&f, IR_MUL, load(&f, 1), hyper(&f, 0), AT);
  int r1 = irf_leaf(&f, IR_RNG, 0, IR_RNG_NORMAL, IR_SHAPE_ELEM, AT);
  int r2 = irf_leaf(&f, IR_RNG, 1, IR_RNG_NORMAL, IR_SHAPE_ELEM, AT);
  int p0 = load(&f, 0), p1 = irf_leaf(&f, IR_LOAD, 0, 1, IR_SHAPE_ELEM, AT);
  int x = irf_op2(&f, IR_ADD, irf_op2(&f, IR_ADD, a, b, AT), irf_op2(&f, IR_ADD, r1, r2, AT), AT);
  store(&f, 2, irf_op2(&f, IR_ADD, x, irf_op2(&f, IR_SUB, p0, p1, AT), AT));
  assert_int_equal(pass_cse(&f), 3); /* load g, hyper, mul */
  verify_ok(&f);
  assert_int_equal(mb_count(&f, IR_MUL), 1);
  assert_int_equal(mb_count(&f, IR_RNG), 2);  /* two call sites: two draws */
  assert_int_equal(mb_count(&f, IR_LOAD), 3); /* g, p before and after */
  irf_free(&f);
}

/* A reduction inside an `if` block runs only with the block: the same
 * reduction after the block is another one. */
static void test_cse_keeps_reductions_of_blocks_apart(void **state) {
  (void)state;
  IrFunc f;
  irf_init(&f);
  int g = load(&f, 1);
  IrFInst mark = {.op = FN_IF, .args = {hyper(&f, 0), -1, -1}, .shape = IR_SHAPE_BARRIER,
                  .span = AT, .xargs = {-1, -1, -1, -1}};
  irf_push(&f, &mark);
  IrFInst red = {.op = IR_REDUCE, .args = {g, -1, -1}, .shape = IR_SHAPE_BARRIER,
                 .span = AT, .xargs = {-1, -1, -1, -1}};
  int r1 = irf_push(&f, &red), r2 = irf_push(&f, &red);
  mark.op = FN_ENDIF;
  mark.args[0] = -1;
  irf_push(&f, &mark);
  int r3 = irf_push(&f, &red), r4 = irf_push(&f, &red);
  int sum = irf_op2(&f, IR_ADD, irf_op2(&f, IR_ADD, r1, r2, AT), irf_op2(&f, IR_ADD, r3, r4, AT), AT);
  store(&f, 0, irf_op2(&f, IR_MUL, g, sum, AT));
  assert_int_equal(pass_cse(&f), 2); /* r2 = r1 inside, r4 = r3 after */
  verify_ok(&f);
  assert_int_equal(mb_count(&f, IR_REDUCE), 2);
  irf_free(&f);
}

static void test_dce(void **state) {
  (void)state;
  IrFunc f;
  irf_init(&f);
  int m = load(&f, 2);
  irf_op1(&f, IR_EXP, load(&f, 1), AT); /* unused */
  IrFInst mark = {.op = FN_IF, .args = {hyper(&f, 0), -1, -1}, .shape = IR_SHAPE_BARRIER,
                  .span = AT, .xargs = {-1, -1, -1, -1}};
  irf_push(&f, &mark);
  IrFInst red = {.op = IR_REDUCE, .args = {m, -1, -1}, .shape = IR_SHAPE_BARRIER,
                 .span = AT, .xargs = {-1, -1, -1, -1}};
  irf_push(&f, &red); /* unused reduction: the block dies with it */
  mark.op = FN_ENDIF;
  mark.args[0] = -1;
  irf_push(&f, &mark);
  store(&f, 2, m); /* m = m: no store */
  store(&f, 0, irf_op2(&f, IR_ADD, load(&f, 0), irf_const(&f, 1, AT), AT));
  pass_dce(&f);
  verify_ok(&f);
  assert_int_equal(mb_count(&f, FN_IF), 0);
  assert_int_equal(mb_count(&f, IR_REDUCE), 0);
  assert_int_equal(mb_count(&f, IR_EXP), 0);
  assert_int_equal(mb_count(&f, IR_STORE), 1);
  assert_int_equal(f.len, 4); /* load p, const, add, store */
  irf_free(&f);
}

static void test_dce_keeps_block_with_live_barrier(void **state) {
  (void)state;
  IrFunc f;
  irf_init(&f);
  IrFInst mark = {.op = FN_IF, .args = {hyper(&f, 0), -1, -1}, .shape = IR_SHAPE_BARRIER,
                  .span = AT, .xargs = {-1, -1, -1, -1}};
  irf_push(&f, &mark);
  IrFInst red = {.op = IR_REDUCE, .args = {load(&f, 1), -1, -1},
                 .shape = IR_SHAPE_BARRIER, .span = AT, .xargs = {-1, -1, -1, -1}};
  int r = irf_push(&f, &red);
  mark.op = FN_ENDIF;
  mark.args[0] = -1;
  irf_push(&f, &mark);
  store(&f, 0, irf_op2(&f, IR_MUL, load(&f, 0), r, AT));
  pass_dce(&f);
  verify_ok(&f);
  assert_int_equal(mb_count(&f, FN_IF), 1);
  assert_int_equal(mb_count(&f, IR_HYPER), 1); /* the condition stays alive */
  irf_free(&f);
}

/* lr * (m * r) -> m * (r * lr): the scalar product is computed once. */
static void test_hoist(void **state) {
  (void)state;
  IrFunc f;
  irf_init(&f);
  int lr = hyper(&f, 0), r = hyper(&f, 1);
  int x = irf_op2(&f, IR_MUL, lr, irf_op2(&f, IR_MUL, load(&f, 2), r, AT), AT);
  int y = irf_op1(&f, IR_NEG, irf_op2(&f, IR_MUL, load(&f, 1), lr, AT), AT);
  store(&f, 0, irf_op2(&f, IR_ADD, x, y, AT));
  assert_true(pass_hoist(&f) >= 2);
  pass_dce(&f);
  verify_ok(&f);
  int elem_muls = 0, scalar_muls = 0;
  for (int i = 0; i < f.len; i++) {
    const IrFInst *in = &f.data[i];
    if (in->op != IR_MUL) continue;
    if (in->shape == IR_SHAPE_ELEM) {
      elem_muls++;
      assert_int_equal(f.data[in->args[0]].op, IR_LOAD);
      assert_int_equal(f.data[in->args[1]].shape, IR_SHAPE_SCALAR);
    } else {
      scalar_muls++;
    }
  }
  assert_int_equal(elem_muls, 2);
  assert_int_equal(scalar_muls, 1);
  assert_int_equal(mb_count(&f, IR_NEG), 1);
  assert_int_equal(f.data[f.data[f.len - 1].args[0]].shape, IR_SHAPE_ELEM);
  irf_free(&f);
}

/* The FMA that produced the value stored into buffer `buf`. */
static const IrFInst *stored_into(const IrFunc *f, int buf) {
  for (int i = f->len - 1; i >= 0; i--)
    if (f->data[i].op == IR_STORE && f->data[i].index == buf) return &f->data[f->data[i].args[0]];
  return NULL;
}

static void test_contract(void **state) {
  (void)state;
  IrFunc f;
  irf_init(&f);
  int a = load(&f, 0), b = load(&f, 1), c = load(&f, 2), s = hyper(&f, 0);
  store(&f, 3, irf_op2(&f, IR_ADD, irf_op2(&f, IR_MUL, a, s, AT), c, AT)); /* a*s + c */
  store(&f, 4, irf_op2(&f, IR_ADD, c, irf_op2(&f, IR_MUL, a, b, AT), AT)); /* c + a*b */
  store(&f, 5, irf_op2(&f, IR_SUB, irf_op2(&f, IR_MUL, b, c, AT), a, AT)); /* b*c - a */
  store(&f, 6, irf_op2(&f, IR_SUB, a, irf_op2(&f, IR_MUL, s, c, AT), AT)); /* a - s*c */
  int shared = irf_op2(&f, IR_MUL, b, b, AT);                              /* two uses */
  store(&f, 7, irf_op2(&f, IR_ADD, shared, a, AT));
  store(&f, 8, shared);
  int scalar = irf_op2(&f, IR_ADD, irf_op2(&f, IR_MUL, s, s, AT), s, AT); /* scalar stage */
  store(&f, 9, irf_op2(&f, IR_MUL, a, scalar, AT));
  assert_int_equal(pass_contract(&f), 4);
  verify_ok(&f);
  pass_dce(&f);
  verify_ok(&f);
  const IrFInst *x = stored_into(&f, 3);
  assert_int_equal(x->op, IR_FMA);
  assert_int_equal(x->args[0], a);
  assert_int_equal(x->args[1], s);
  assert_int_equal(x->args[2], c);
  x = stored_into(&f, 4);
  assert_int_equal(x->op, IR_FMA);
  assert_int_equal(x->args[2], c);
  x = stored_into(&f, 5); /* fma(b, c, -a) */
  assert_int_equal(x->op, IR_FMA);
  assert_int_equal(f.data[x->args[2]].op, IR_NEG);
  assert_int_equal(f.data[x->args[2]].args[0], a);
  x = stored_into(&f, 6); /* fma(-s, c, a) */
  assert_int_equal(x->op, IR_FMA);
  assert_int_equal(f.data[x->args[0]].op, IR_NEG);
  assert_true(f.data[x->args[0]].uniform); /* -s is a per-step scalar */
  assert_int_equal(x->args[2], a);
  assert_int_equal(stored_into(&f, 7)->op, IR_ADD);
  assert_int_equal(mb_count(&f, IR_FMA), 4);
  assert_int_equal(mb_count(&f, IR_MUL), 3); /* b*b, s*s, a*scalar */
  irf_free(&f);
}

/* a*b + c rounds once after contract: with a = 1 + 2^-30, b = 1 - 2^-30,
 * c = -1 the exact result is -2^-60, which two roundings in double lose. */
static void test_contract_rounds_once(void **state) {
  (void)state;
  double a = 1 + 0x1p-30, b = 1 - 0x1p-30, c = -1, out;
  double args[3] = {a, b, c};
  assert_true(irf_fold_value(IR_FMA, args, 0, &out));
  assert_true(out == -0x1p-60);
  volatile double product = a * b; /* rounded to 1: no contraction here */
  assert_true(product + c == 0);
}

static void test_verifier_rejects(void **state) {
  (void)state;
  IrFunc f;
  irf_init(&f);
  int g = load(&f, 1);
  int bad = irf_op2(&f, IR_ADD, g, g, AT);
  f.data[bad].args[1] = bad; /* not an earlier value */
  char *err = NULL;
  assert_int_equal(irf_verify(&f, &err), -1);
  assert_string_equal(err, "function IR: %1: argument is not an earlier value");
  free(err);
  f.data[bad].args[1] = g;
  f.data[bad].shape = IR_SHAPE_SCALAR;
  assert_int_equal(irf_verify(&f, &err), -1);
  assert_string_equal(err, "function IR: %1: scalar value uses an element value");
  free(err);
  f.data[bad].shape = IR_SHAPE_ELEM;
  IrFInst mark = {.op = FN_ENDIF, .args = {-1, -1, -1}, .span = AT,
                  .shape = IR_SHAPE_BARRIER, .xargs = {-1, -1, -1, -1}};
  irf_push(&f, &mark);
  assert_int_equal(irf_verify(&f, &err), -1);
  assert_string_equal(err, "function IR: %2: endif without if");
  free(err);
  irf_free(&f);
}

/* Rules on row and column vector states R (rows x 1) and C (1 x cols). */
#define FACTORED(body)                                                                      \
  "optimizer f\nhyper lr = 1e-2\nstate R : matrix(rows, 1) = 1\n"                           \
  "state C : matrix(1, cols) = 1\nupdate {\n  R = 0.9 * R + 0.1 * rowmean(g * g)\n"          \
  "  C = 0.9 * C + 0.1 * colmean(g * g)\n" body "}\n"

/* The function after dce, then bcast's count of changes. */
static int bcast_count(const char *src, IrFunc *body) {
  MidBuild b;
  mb_init(&b);
  IrProgram prog;
  IrFunc init;
  assert_int_equal(mb_lower(&b, &prog, body, &init, src), 0);
  pass_fold(body);
  pass_simplify(body);
  pass_hoist(body);
  pass_cse(body);
  pass_dce(body);
  int before = mb_count(body, FN_MSWEEP), changes = pass_bcast(body);
  verify_ok(body);
  assert_int_equal(mb_count(body, FN_MSWEEP), before + changes);
  irf_free(&init);
  ir_program_free(&prog);
  mb_free(&b);
  return changes;
}

/* bcast writes a row or column factor holding a division, square root or
 * math function to a scratch when a per-element value uses it; cheap
 * factors, factors only matrix work uses and factors inside a plan-level
 * `if` stay where they are. */
static void test_bcast(void **state) {
  (void)state;
  IrFunc f;
  const char *adafactor = FACTORED("  p = p - lr * g * rsqrt(R / mean(R)) * rsqrt(C)\n");
  assert_int_equal(bcast_count(adafactor, &f), 2);
  int n = 0;
  for (int i = 0; i < f.len; i++) {
    const IrFInst *in = &f.data[i];
    if (in->op != FN_MSWEEP || in->index >= 0) continue;
    const IrFInst *v = &f.data[in->args[0]];
    assert_int_equal(v->op, IR_RSQRT);
    assert_int_equal(in->mdim[0], v->mdim[0]);
    assert_int_equal(in->mdim[1], v->mdim[1]);
    for (int j = i + 1; j < f.len; j++) /* nothing reads the factor itself any more */
      for (int k = 0; k < 3; k++) assert_int_not_equal(f.data[j].args[k], in->args[0]);
    n++;
  }
  assert_int_equal(n, 2);
  irf_free(&f);
  assert_int_equal(bcast_count(FACTORED("  p = p - lr * g * exp(R) / sqrt(C + 1)\n"), &f), 2);
  irf_free(&f);
  assert_int_equal(bcast_count(FACTORED("  p = p - lr * g * (R * 2 + 1) * C\n"), &f), 0);
  irf_free(&f);
  /* e / C divides per element: only exp(R) is a factor */
  assert_int_equal(bcast_count(FACTORED("  p = p - lr * g * exp(R) / (C + 1)\n"), &f), 1);
  irf_free(&f);
  assert_int_equal(bcast_count(FACTORED("  p = p - lr * g * mean(sqrt(R))\n"), &f), 0);
  irf_free(&f);
  const char *in_block = FACTORED("  if t > 3 {\n    p = p - lr * g * sqrt(R) * norm(p)\n  }\n");
  assert_int_equal(bcast_count(in_block, &f), 0);
  irf_free(&f);
}

/* The plan: the factors are swept over their own domains into scratch
 * buffers of their dims; the parameter sweep loads them, no square root;
 * the factors' sweeps add no parameter sweep. */
static void test_bcast_plan(void **state) {
  (void)state;
  MidBuild b;
  mb_init(&b);
  IrProgram p;
  const char *src = FACTORED("  p = p - lr * g * rsqrt(R / mean(R)) * rsqrt(C)\n");
  assert_int_equal(mb_program(&b, &p, src), 0);
  int rowf = -1, colf = -1;
  for (int i = 0; i < p.nbufs; i++) {
    if (p.bufs[i].role != OPTK_BUF_SCRATCH) continue;
    if (p.bufs[i].dim0 == OPTK_DIM_ROWS && p.bufs[i].dim1 == OPTK_DIM_ONE) rowf = i;
    if (p.bufs[i].dim0 == OPTK_DIM_ONE && p.bufs[i].dim1 == OPTK_DIM_COLS) colf = i;
  }
  assert_true(rowf >= 0 && colf >= 0);
  const IrStage *last = NULL;
  for (int k = 0; mb_sweep(&p, k); k++) {
    const IrStage *st = mb_sweep(&p, k);
    if (st->op.a == rowf || st->op.a == colf) { /* a factor's own sweep */
      assert_int_equal(mb_stage_count(st, IR_RSQRT, -1), 1);
      assert_int_equal(mb_stage_count(st, IR_STORE, st->op.a), 1);
    }
    if (mb_stage_count(st, IR_STORE, 0)) last = st;
  }
  assert_non_null(last);
  assert_int_equal(mb_stage_count(last, IR_RSQRT, -1), 0);
  assert_int_equal(mb_stage_count(last, IR_LOAD, rowf), 1);
  assert_int_equal(mb_stage_count(last, IR_LOAD, colf), 1);
  /* as without the pass: g in, g * g out (for the means); p, g in, p out */
  assert_int_equal(p.bytes_per_element, 20);
  ir_program_free(&p);
  /* a factor's sweep orders nothing after it: norm(p * R) before the
   * factor and norm(u) after it still share one parameter sweep (three in
   * all: g * g for the means, the norms, p's update) */
  const char *norms = FACTORED("  q = norm(p * R)\n  u = g * rsqrt(R)\n"
                               "  p = p - lr * u / (norm(u) + q + 1)\n");
  assert_int_equal(mb_program(&b, &p, norms), 0);
  assert_int_equal(p.sweeps, 3);
  ir_program_free(&p);
  mb_free(&b);
}

static const char RULE[] = "optimizer r\nhyper lr = 0.5\nstate m = 0\nupdate {\n"
                           "  m = 0.5 * m + g^2\n  p = p - lr * m / 2\n}\n";

static void test_dumps(void **state) {
  (void)state;
  MidBuild b;
  mb_init(&b);
  Str dump = {0};
  PipelineOptions o = {.verify = true, .dump_after = "simplify", .dump = &dump};
  IrProgram p;
  assert_int_equal(ir_pipeline_build_text(&p, &b.sm, "t.opt", RULE, strlen(RULE), &b.sink,
                                          NULL, &o), 0);
  ir_program_free(&p);
  assert_non_null(strstr(dump.data, "# after simplify\nfunc r.update {\n"));
  assert_null(strstr(dump.data, "# after fold"));
  assert_non_null(strstr(dump.data, "= mul %1, %1\n")); /* g^2 */
  assert_non_null(strstr(dump.data, "store m, %"));
  str_free(&dump);
  o.dump_after = "all";
  assert_int_equal(ir_pipeline_build_text(&p, &b.sm, "t.opt", RULE, strlen(RULE), &b.sink,
                                          NULL, &o), 0);
  ir_program_free(&p);
  const char *order[] = {"# after lower", "# after fold",     "# after simplify",
                         "# after hoist", "# after cse",      "# after contract",
                         "# after dce",   "# after bcast",    "# after schedule"};
  const char *at = dump.data;
  for (int i = 0; i < 9; i++) {
    at = strstr(at, order[i]);
    assert_non_null(at);
  }
  str_free(&dump);
  mb_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fold),
      cmocka_unit_test(test_simplify_powers),
      cmocka_unit_test(test_simplify_identities),
      cmocka_unit_test(test_simplify_division),
      cmocka_unit_test(test_cse),
      cmocka_unit_test(test_cse_keeps_reductions_of_blocks_apart),
      cmocka_unit_test(test_dce),
      cmocka_unit_test(test_dce_keeps_block_with_live_barrier),
      cmocka_unit_test(test_hoist),
      cmocka_unit_test(test_contract),
      cmocka_unit_test(test_contract_rounds_once),
      cmocka_unit_test(test_bcast),
      cmocka_unit_test(test_bcast_plan),
      cmocka_unit_test(test_verifier_rejects),
      cmocka_unit_test(test_dumps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
