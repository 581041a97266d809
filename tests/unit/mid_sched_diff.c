/* mid_sched_diff.c: the scheduler against the sequential meaning of the
 * function-level IR.
 *
 * For each rule, a direct evaluator here runs the function-level IR after
 * the passes (what the scheduler receives) in program order, in double,
 * for a whole group at once: the obvious meaning, with no sweeps, no
 * recomputation and no delayed stores.  The reference interpreter runs
 * the scheduled plan built from the same source.  Both must agree over
 * several steps on two tensors (one longer than a reduction block).  The
 * plan stores states rounded to their dtype and loads them back where the
 * evaluator keeps doubles, and sums reductions per block: hence the
 * tolerance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "interp.h"
#include "mid_build_util.h"

enum { NT = 2, STEPS = 4, SEED = 7 };
static const int64_t SIZES[NT] = {5000, 7};
#define TOL 2e-5

/* ---- the direct evaluator ------------------------------------------- */

typedef struct Eval {
  const IrProgram *prog;
  const IrFunc *f;
  double **val[NT]; /* val[k][i]: n_k values (elem) or 1 (scalar) */
  double *buf[NT][16];  /* buffers of each tensor (p, g, states) at step entry */
  double sstate[NT][8];
  int64_t t;
} Eval;

static double round_to(OptkDType dt, double x) {
  if (dt == OPTK_F64) return x;
  if (dt == OPTK_BF16) return optk_bf16_to_f32(optk_f32_to_bf16((float)x));
  return (float)x;
}

static double arith(int op, const double *a, int index) {
  double v = 0;
  bool ok = irf_fold_value(op, a, index, &v);
  assert_true(ok);
  return v;
}

static double leaf(const Eval *e, const IrFInst *in, int k, int64_t i) {
  switch (in->op) {
  case IR_CONST: return in->imm;
  case IR_HYPER: return e->prog->hypers[in->index].def;
  case IR_STEP: return (double)e->t;
  case IR_LOSS: return NAN;
  case IR_NUMEL: case IR_ROWS: return (double)SIZES[k];
  case IR_COLS: return 1;
  case IR_SSTATE: return e->sstate[k][in->index];
  case IR_LOAD: return e->buf[k][in->index][i];
  default: { /* IR_RNG */
    uint64_t x = optk_rng_u64(optk_rng_key(SEED, (uint64_t)e->t, (uint64_t)k, (uint64_t)in->index),
                              (uint64_t)i);
    if (in->aux == IR_RNG_UNIFORM) return optk_uniform(x);
    if (in->aux == IR_RNG_RADEMACHER) return optk_rademacher(x);
    double u1, u2;
    optk_normal_uniforms(x, &u1, &u2);
    return sqrt(-2 * log(u1)) * cos(2 * 3.14159265358979323846 * u2);
  }
  }
}

static double arg_at(const Eval *e, int v, int k, int64_t i) {
  return irf_is_elem(&e->f->data[v]) ? e->val[k][v][i] : e->val[k][v][0];
}

static void reduce(Eval *e, int v) {
  const IrFInst *in = &e->f->data[v];
  double acc[NT];
  for (int k = 0; k < NT; k++) {
    acc[k] = in->aux == OPTK_RED_MAX ? -INFINITY : 0;
    for (int64_t i = 0; i < SIZES[k]; i++) {
      double x = arg_at(e, in->args[0], k, i);
      acc[k] = in->aux == OPTK_RED_MAX ? (isnan(x) || x > acc[k] ? x : acc[k]) : acc[k] + x;
    }
  }
  for (int k = 0; k < NT; k++) {
    double r = acc[k];
    if (in->index == OPTK_SCOPE_GROUP)
      r = in->aux == OPTK_RED_MAX ? fmax(acc[0], acc[1]) : acc[0] + acc[1];
    e->val[k][v][0] = r;
  }
}

static void compute(Eval *e, int v) {
  const IrFInst *in = &e->f->data[v];
  if (in->op == IR_REDUCE) return reduce(e, v);
  for (int k = 0; k < NT; k++) {
    int64_t n = irf_is_elem(in) ? SIZES[k] : 1;
    for (int64_t i = 0; i < n; i++) {
      if (irf_op_nargs(in->op) == 0) {
        e->val[k][v][i] = leaf(e, in, k, i);
        continue;
      }
      double a[3] = {0, 0, 0};
      for (int j = 0; j < irf_op_nargs(in->op); j++) a[j] = arg_at(e, in->args[j], k, i);
      e->val[k][v][i] = arith(in->op, a, in->index);
    }
  }
}

/* Runs f once for the group; stores go to memory at the end. */
static void eval_func(Eval *e, const IrFunc *f) {
  e->f = f;
  for (int k = 0; k < NT; k++) {
    e->val[k] = xcalloc((size_t)f->len + 1, sizeof(double *));
    for (int v = 0; v < f->len; v++) e->val[k][v] = xcalloc((size_t)SIZES[k], sizeof(double));
  }
  for (int v = 0; v < f->len; v++) {
    /* Every value is pure: an `if` block only lets the plan skip work
     * whose results the selects after it discard, so computing all of it
     * is the sequential meaning. */
    const IrFInst *in = &f->data[v];
    if (in->op != IR_STORE && in->op != IR_SSTATE_SET && in->op != FN_IF && in->op != FN_ENDIF)
      compute(e, v);
  }
  for (int v = 0; v < f->len; v++) {
    const IrFInst *in = &f->data[v];
    for (int k = 0; k < NT && in->op == IR_STORE; k++)
      for (int64_t i = 0; i < SIZES[k]; i++)
        e->buf[k][in->index][i] = round_to(e->prog->bufs[in->index].dtype, arg_at(e, in->args[0], k, i));
    for (int k = 0; k < NT && in->op == IR_SSTATE_SET; k++)
      e->sstate[k][in->index] = round_to(e->prog->sstates[in->index].dtype, e->val[k][in->args[0]][0]);
  }
  for (int k = 0; k < NT; k++) {
    for (int v = 0; v < f->len; v++) free(e->val[k][v]);
    free(e->val[k]);
  }
}

/* ---- the comparison ---------------------------------------------------- */

static void grads(int step, int k, float *g) {
  for (int64_t i = 0; i < SIZES[k]; i++)
    g[i] = (float)(sin(0.37 * (double)i + 1.3 * step + k) * (1 + 0.01 * (double)(i % 17)));
}

static void lower_and_pass(MidBuild *b, IrProgram *tables, IrFunc *body, IrFunc *init,
                           const char *src) {
  assert_int_equal(mb_lower(b, tables, body, init, src), 0);
  int (*const passes[])(IrFunc *) = {pass_fold, pass_simplify, pass_hoist, pass_cse, pass_dce};
  for (int i = 0; i < 5; i++) {
    passes[i](body);
    passes[i](init);
  }
}

static void check_rule(const char *src) {
  MidBuild b;
  mb_init(&b);
  IrProgram tables, prog;
  IrFunc body, init;
  lower_and_pass(&b, &tables, &body, &init, src);
  assert_int_equal(mb_program(&b, &prog, src), 0);
  char *err = NULL;
  Interp *in = interp_create(&prog, &(InterpOptions){.seed = SEED}, &err);
  assert_non_null(in);
  Eval e = {.prog = &tables};
  float *p[NT], *g[NT];
  for (int k = 0; k < NT; k++) {
    p[k] = xmalloc(sizeof(float) * (size_t)SIZES[k]);
    g[k] = xmalloc(sizeof(float) * (size_t)SIZES[k]);
    for (int b2 = 0; b2 < tables.nbufs; b2++) e.buf[k][b2] = xcalloc((size_t)SIZES[k], sizeof(double));
    for (int64_t i = 0; i < SIZES[k]; i++) p[k][i] = (float)(0.5 - 0.001 * (double)i), e.buf[k][0][i] = p[k][i];
    for (int s = 0; s < tables.nsstates; s++) e.sstate[k][s] = tables.sstates[s].init;
    assert_int_equal(interp_add_tensor(in, p[k], g[k], SIZES[k], 1, &err), k);
  }
  for (int step = 1; step <= STEPS; step++) {
    e.t = step;
    for (int k = 0; k < NT; k++) {
      grads(step, k, g[k]);
      for (int64_t i = 0; i < SIZES[k]; i++) e.buf[k][1][i] = g[k][i];
    }
    if (step == 1) eval_func(&e, &init);
    eval_func(&e, &body);
    assert_int_equal(interp_step(in, NAN, &err), 0);
    for (int k = 0; k < NT; k++) {
      for (int64_t i = 0; i < SIZES[k]; i++) {
        double want = e.buf[k][0][i], got = p[k][i];
        if (!(fabs(got - want) <= TOL * fmax(fabs(want), 1)) && !(isnan(got) && isnan(want)))
          fail_msg("step %d tensor %d p[%lld]: plan %.9g, sequential %.9g", step, k,
                   (long long)i, got, want);
      }
      for (int s = 0; s < tables.nsstates; s++) {
        double want = e.sstate[k][s], got = interp_sstate(in, k, s);
        assert_true(fabs(got - want) <= TOL * fmax(fabs(want), 1) || (isnan(got) && isnan(want)));
      }
    }
  }
  for (int k = 0; k < NT; k++) {
    free(p[k]), free(g[k]);
    for (int b2 = 0; b2 < tables.nbufs; b2++) free(e.buf[k][b2]);
  }
  interp_free(in);
  irf_free(&body);
  irf_free(&init);
  ir_program_free(&tables);
  ir_program_free(&prog);
  mb_free(&b);
}

#define H "hyper lr = 1e-2\nhyper b1 = 0.9\nhyper b2 = 0.999\nhyper eps = 1e-8\nhyper wd = 0.01\n"
#define MV "state m = 0\nstate v = 0\n"

static void test_adam_lamb_clip(void **state) {
  (void)state;
  check_rule("optimizer adam\n" H MV "update {\n  m = b1 * m + (1 - b1) * g\n"
             "  v = b2 * v + (1 - b2) * g^2\n"
             "  p = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)\n}\n");
  check_rule("optimizer lamb_clip\n" H MV "update {\n"
             "  gc = g * min(1, 0.5 / (group.norm(g) + 1e-6))\n"
             "  m = b1 * m + (1 - b1) * gc\n  v = b2 * v + (1 - b2) * gc^2\n"
             "  u = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd * p\n"
             "  p = p - lr * where(norm(p) > 0, norm(p) / norm(u), 1) * u\n}\n");
}

static void test_delayed_and_early_stores(void **state) {
  (void)state;
  check_rule("optimizer d\nstate m = 0\nupdate {\n  old = m\n  m = 0.9 * m + g\n"
             "  s = norm(old) + 1\n  p = p - 0.01 * s * (m + old)\n}\n");
  check_rule("optimizer e\nstate m : bf16 = p\nstate w : f64 = 1\nupdate {\n"
             "  m = 0.5 * m + g\n  w = w * 0.9 + m\n  s = group.mean(m * w)\n"
             "  p = p - 0.01 * s * m + 0.001 * w\n}\n");
}

static void test_blocks_rng_and_scalar_states(void **state) {
  (void)state;
  check_rule("optimizer b\nstate m = 0\nstate c : scalar = 0\nupdate {\n"
             "  z = rademacher()\n  m = 0.9 * m + 0.1 * z * g\n"
             "  every 2 {\n    c = c + norminf(m) + group.sum(g * z)\n  }\n"
             "  if t > 2 {\n    m = m / (group.norm(m) + 1)\n  } else {\n    m = m + normal()\n  }\n"
             "  mask = m * g > 0\n  p = p - 0.01 * c * m * mask / max(mean(mask), 1e-3)\n}\n");
  /* the same reduction inside a skipped block and after it */
  check_rule("optimizer s\nupdate {\n  if t > 2 {\n    p = p - 0.01 * norm(g) * g\n  }\n"
             "  p = p - 0.02 * norm(g) * g\n}\n");
  check_rule("optimizer r\nstate m = 0\nupdate {\n  x = g\n  repeat 3 {\n"
             "    x = x * 0.5 + m / (norm(x) + 1)\n  }\n  m = x\n  p = p - 0.01 * x\n}\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adam_lamb_clip),
      cmocka_unit_test(test_delayed_and_early_stores),
      cmocka_unit_test(test_blocks_rng_and_scalar_states),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
