/* mid_lower.c: lowering from source text to the function-level IR:
 * shapes and uniformity, sequential semantics (stores of final values,
 * reads after assignment), def inlining with shapes from the arguments,
 * if-conversion, FN_IF blocks for `if`/`every` around barriers, repeat
 * unrolling, RNG call sites, reductions, host calls (p stored before hvp,
 * versions after linesearch), and errors with their spans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

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
    assert_int_equal(irf_verify(&l->body, &err), 0);
    assert_int_equal(irf_verify(&l->init, &err), 0);
  }
}

static void lowered_free(Lowered *l) {
  irf_free(&l->body);
  irf_free(&l->init);
  ir_program_free(&l->prog);
  mb_free(&l->b);
}

/* The value stored into buffer `buf` (last store), or NULL. */
static const IrFInst *stored_into(const IrFunc *f, int buf) {
  for (int i = f->len - 1; i >= 0; i--)
    if (f->data[i].op == IR_STORE && f->data[i].index == buf) return &f->data[f->data[i].args[0]];
  return NULL;
}

static void test_adam_shapes_and_stores(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer a\nhyper lr = 1e-3\nhyper b1 = 0.9\nstate m = 0\n"
                "update {\n  m = b1 * m + (1 - b1) * g\n  bc = 1 - b1^t\n"
                "  p = p - lr * m / bc\n}\n");
  assert_int_equal(l.errors, 0);
  assert_int_equal(mb_count(&l.body, IR_STORE), 2);
  assert_int_equal(mb_count(&l.body, FN_IF), 0);
  for (int i = 0; i < l.body.len; i++) {
    const IrFInst *in = &l.body.data[i];
    if (in->op == IR_POW) { /* b1^t: per step, the same for every tensor */
      assert_int_equal(in->shape, IR_SHAPE_SCALAR);
      assert_true(in->uniform);
    }
    if (in->op == IR_DIV) assert_int_equal(in->shape, IR_SHAPE_ELEM);
  }
  /* p's update reads the new m (sequential semantics) */
  const IrFInst *m_new = stored_into(&l.body, 2);
  assert_non_null(m_new);
  assert_int_equal(m_new->op, IR_ADD);
  /* m = 0 needs no init: buffers start zeroed */
  assert_int_equal(mb_count(&l.init, IR_STORE), 0);
  assert_int_equal(l.prog.nbufs, 3);
  lowered_free(&l);
}

/* A buffer state's init is lowered unless it is the literal 0 (buffers
 * start zeroed: docs/abi.md, "Buffers"): -0 differs in its bits, and an
 * expression is not looked into (2 - 2 * 1 stores); matrix states the
 * same. */
static void test_zero_init_dropped(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer z\nhyper h = 0\nstate a = 0.0\nstate b = -0\nstate c = 2 - 2 * 1\n"
                "state d = 0.5\nstate e = h\nstate R : matrix(rows, 1) = 0\n"
                "state C : matrix(1, cols) = 1\nupdate {\n"
                "  a = a + g\n  b = b + g\n  c = c + g\n  d = d + g\n  e = e + g\n"
                "  R = R + rowmean(g)\n  C = C + colmean(g)\n  p = p - a - b - c - d - e - R - C\n}\n");
  assert_int_equal(l.errors, 0);
  assert_null(stored_into(&l.init, mb_buf(&l.prog, "a")));
  for (const char *const *name = (const char *const[]){"b", "c", "d", "e", NULL}; *name; name++)
    assert_non_null(stored_into(&l.init, mb_buf(&l.prog, *name)));
  int msweeps[2] = {0, 0}; /* into R, into C */
  for (int i = 0; i < l.init.len; i++)
    if (l.init.data[i].op == FN_MSWEEP)
      for (int k = 0; k < 2; k++) msweeps[k] += l.init.data[i].index == mb_buf(&l.prog, k ? "C" : "R");
  assert_int_equal(msweeps[0], 0);
  assert_int_equal(msweeps[1], 1);
  lowered_free(&l);
}

/* A def is lowered at each call with the shapes of that call's values. */
static void test_def_inlined_per_call(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer d\nhyper a = 2\ndef sq(x) = x * x\n"
                "update {\n  s = sq(a)\n  p = p - s * sq(g)\n}\n");
  assert_int_equal(l.errors, 0);
  int scalar = 0, elem = 0;
  for (int i = 0; i < l.body.len; i++) {
    const IrFInst *in = &l.body.data[i];
    if (in->op != IR_MUL) continue;
    if (in->args[0] != in->args[1]) continue;
    if (in->shape == IR_SHAPE_SCALAR) scalar++;
    else elem++;
  }
  assert_int_equal(scalar, 1);
  assert_int_equal(elem, 1);
  lowered_free(&l);
}

static void test_scalar_if_becomes_select(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer s\nhyper lr = 1\nupdate {\n  if t > 1 {\n    p -= lr * g\n"
                "  } else {\n    p -= lr * sign(g)\n  }\n}\n");
  assert_int_equal(l.errors, 0);
  assert_int_equal(mb_count(&l.body, FN_IF), 0);
  const IrFInst *p = stored_into(&l.body, 0);
  assert_int_equal(p->op, IR_SELECT);
  assert_int_equal(l.body.data[p->args[0]].op, IR_GT);
  lowered_free(&l);
}

/* every k around a reduction: an FN_IF block on (t - 1) mod k == 0; the
 * state assigned inside is merged with SELECT after it. */
static void test_every_with_barrier_is_a_block(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer e\nhyper k = 4\nstate s : scalar = 0\nupdate {\n"
                "  every k {\n    s = norm(g)\n  }\n  p = p - s * g\n}\n");
  assert_int_equal(l.errors, 0);
  assert_int_equal(mb_count(&l.body, FN_IF), 1);
  assert_int_equal(mb_count(&l.body, FN_ENDIF), 1);
  assert_int_equal(mb_count(&l.body, IR_MOD), 1);
  int open = -1, red = -1, close = -1;
  for (int i = 0; i < l.body.len; i++) {
    if (l.body.data[i].op == FN_IF) open = i;
    if (l.body.data[i].op == IR_REDUCE) red = i;
    if (l.body.data[i].op == FN_ENDIF) close = i;
  }
  assert_true(open < red && red < close);
  const IrFInst *cond = &l.body.data[l.body.data[open].args[0]];
  assert_int_equal(cond->op, IR_EQ);
  assert_true(cond->uniform);
  assert_int_equal(mb_count(&l.body, IR_SSTATE_SET), 1);
  const IrFInst *p = stored_into(&l.body, 0);
  const IrFInst *sg = &l.body.data[p->args[1]]; /* p - s * g: s merged */
  assert_int_equal(sg->op, IR_MUL);
  assert_int_equal(l.body.data[sg->args[0]].op, IR_SELECT);
  lowered_free(&l);
}

static void test_repeat_unrolled_and_rng_sites(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer r\nupdate {\n  x = g\n  repeat 3 {\n    x = x * 0.5 + normal()\n"
                "  }\n  p = p - x\n}\n");
  assert_int_equal(l.errors, 0);
  assert_int_equal(mb_count(&l.body, IR_RNG), 3);
  assert_int_equal(l.body.nsites, 3);
  int sites = 0;
  for (int i = 0; i < l.body.len; i++)
    if (l.body.data[i].op == IR_RNG) {
      assert_int_equal(l.body.data[i].index, sites++);
      assert_int_equal(l.body.data[i].aux, IR_RNG_NORMAL);
    }
  assert_int_equal(mb_count(&l.body, IR_MUL), 3);
  lowered_free(&l);
}

static void test_reductions(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer red\nupdate {\n  a = sum(g) + mean(g) + dot(g, p)\n"
                "  b = group.norm(g) + norminf(p) + group.mean(p)\n  p = p - a * b * g\n}\n");
  assert_int_equal(l.errors, 0);
  int tensor = 0, group = 0, maxes = 0;
  for (int i = 0; i < l.body.len; i++) {
    const IrFInst *in = &l.body.data[i];
    if (in->op != IR_REDUCE) continue;
    if (in->index == OPTK_SCOPE_GROUP) group++;
    else tensor++;
    maxes += in->aux == OPTK_RED_MAX;
    assert_true(in->uniform == (in->index == OPTK_SCOPE_GROUP));
  }
  assert_int_equal(tensor, 4); /* sum, mean, dot, norminf */
  assert_int_equal(group, 3);  /* norm, mean's sum and its count */
  assert_int_equal(maxes, 1);
  assert_int_equal(mb_count(&l.body, IR_NUMEL), 1); /* mean over one tensor */
  lowered_free(&l);
}

/* hvp reads the current p: p is stored before it; after a linesearch p,
 * g and f are new versions. */
static void test_host_calls(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer h\nupdate {\n  p = p - 0.1 * g\n  h = hvp(g)\n"
                "  s = linesearch(-h, armijo)\n  p = p + s * g * f\n}\n");
  assert_int_equal(l.errors, 0);
  int store_p = -1, hvp = -1, ls = -1;
  for (int i = 0; i < l.body.len; i++) {
    const IrFInst *in = &l.body.data[i];
    if (in->op == IR_STORE && in->index == 0 && store_p < 0) store_p = i;
    if (in->op == FN_HVP) hvp = i;
    if (in->op == FN_LINESEARCH) ls = i;
  }
  assert_true(store_p >= 0 && store_p < hvp && hvp < ls);
  assert_int_equal(l.body.data[ls].aux, OPTK_LS_ARMIJO);
  for (int k = 0; k < 4; k++) assert_true(l.body.data[ls].xargs[k] >= 0);
  assert_true(l.body.data[l.body.data[ls].xargs[3]].imm == 20); /* default max_evals */
  int v1 = 0;
  for (int i = ls; i < l.body.len; i++)
    if ((l.body.data[i].op == IR_LOAD || l.body.data[i].op == IR_LOSS) && l.body.data[i].aux == 1)
      v1++;
  assert_int_equal(v1, 3); /* p, g and f after the linesearch */
  assert_int_equal(mb_count(&l.body, IR_STORE), 2);
  lowered_free(&l);
}

static void test_per_tensor_condition_error(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer e\nupdate {\n  if n > 10 {\n    p = p - g / norm(g)\n  }\n}\n");
  assert_int_equal(l.errors, 1);
  assert_string_equal(l.b.errs.data,
                      "t.opt:3:6: error: this condition can differ between the tensors of a "
                      "group, but its block uses a reduction, hvp or linesearch: use only "
                      "hypers, t, f, constants and group reductions in it\n"
                      "    if n > 10 {\n"
                      "       ^~~~~~\n");
  lowered_free(&l);
}

/* A scalar `if` without barriers may test per-tensor values freely. */
static void test_per_tensor_condition_without_barrier(void **state) {
  (void)state;
  Lowered l;
  lower_src(&l, "optimizer e\nstate c : scalar = 0\nupdate {\n  if c > n {\n"
                "    p = p - g\n  }\n  c += 1\n}\n");
  assert_int_equal(l.errors, 0);
  assert_int_equal(mb_count(&l.body, FN_IF), 0);
  lowered_free(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adam_shapes_and_stores),
      cmocka_unit_test(test_zero_init_dropped),
      cmocka_unit_test(test_def_inlined_per_call),
      cmocka_unit_test(test_scalar_if_becomes_select),
      cmocka_unit_test(test_every_with_barrier_is_a_block),
      cmocka_unit_test(test_repeat_unrolled_and_rng_sites),
      cmocka_unit_test(test_reductions),
      cmocka_unit_test(test_host_calls),
      cmocka_unit_test(test_per_tensor_condition_error),
      cmocka_unit_test(test_per_tensor_condition_without_barrier),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
