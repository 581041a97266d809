/* front_sema.c: semantic analysis: names and suggestions, types and
 * shapes, the rules of the update block, hypers and states, defs, needs,
 * warnings and imports, each with its exact message (line:col: severity:
 * message, notes included). */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sema.h"
#include "optk.h"

typedef struct Checked {
  SrcMgr sm;
  SemaProgram prog;
  Str diags;
  int nerrors;
} Checked;

static void collect(void *user, const Diag *d) {
  static const char *const SEV[] = {"error", "warning", "note"};
  str_printf(user, "%d:%d: %s: %s\n", d->span.line, d->span.col, SEV[d->severity],
             d->message);
}

static void check_opts(Checked *c, const char *path, const char *src,
                       const SemaOptions *opts) {
  memset(c, 0, sizeof *c);
  srcmgr_init(&c->sm);
  int f = srcmgr_add(&c->sm, path, src, strlen(src));
  DiagSink d;
  diag_init(&d, &c->sm, collect, &c->diags);
  c->nerrors = sema_check_file(&c->prog, &c->sm, f, &d, opts);
}

static void check(Checked *c, const char *src) { check_opts(c, "t.opt", src, NULL); }

static void done(Checked *c) {
  sema_program_free(&c->prog);
  srcmgr_free(&c->sm);
  str_free(&c->diags);
}

static const char *text(const Str *s) { return s->data ? s->data : ""; }

static void expect(const char *src, const char *want) {
  Checked c;
  check(&c, src);
  assert_string_equal(text(&c.diags), want);
  done(&c);
}

/* An optimizer whose update block is `body` (its first line is line 3). */
static void expect_update(const char *body, const char *want) {
  Str src = {0};
  str_printf(&src, "optimizer t\nupdate {\n%s}\n", body);
  expect(src.data, want);
  str_free(&src);
}

static const char *ADAMW =
    "optimizer adamw\n"
    "hyper lr    = 1e-3\n"
    "hyper beta1 = 0.9   in [0, 1)\n"
    "hyper beta2 = 0.999 in [0, 1)\n"
    "hyper eps   = 1e-8\n"
    "hyper wd    = 1e-2  in [0, inf)\n"
    "state m = 0\n"
    "state v = 0\n"
    "update {\n"
    "  m = beta1 * m + (1 - beta1) * g\n"
    "  v = beta2 * v + (1 - beta2) * g^2\n"
    "  mhat = m / (1 - beta1^t)\n"
    "  vhat = v / (1 - beta2^t)\n"
    "  p = p - lr * (mhat / (sqrt(vhat) + eps) + wd * p)\n"
    "}\n";

/* ---- whole programs --------------------------------------------------- */

static void test_adamw_clean(void **state) {
  (void)state;
  Checked c;
  check(&c, ADAMW);
  assert_string_equal(text(&c.diags), "");
  assert_int_equal(c.nerrors, 0);
  SemaProgram *p = &c.prog;
  assert_string_equal(p->name, "adamw");
  assert_int_equal(p->nhypers, 5);
  assert_int_equal(p->nstates, 2);
  assert_int_equal(p->nlocals, 2);
  assert_string_equal(p->locals[0].name, "mhat");
  assert_int_equal(p->locals[0].ty.kind, TY_TENSOR);
  assert_int_equal(p->locals[0].first.line, 12);
  assert_int_equal(p->needs, 0);
  assert_non_null(p->update);
  AstNode *b1 = p->hypers[1];
  assert_true(b1->hyper.def_value == 0.9);
  assert_true(b1->hyper.lo_value == 0 && b1->hyper.hi_value == 1);
  assert_true(p->hypers[0]->hyper.lo_value == -INFINITY);
  assert_true(p->hypers[4]->hyper.hi_value == INFINITY);
  assert_int_equal(p->states[0]->ty.kind, TY_TENSOR);
  done(&c);
}

static void test_annotations(void **state) {
  (void)state;
  Checked c;
  check(&c, ADAMW);
  AstList *body = &c.prog.update->update.body;
  AstNode *m = body->items[0]; /* m = beta1 * m + (1 - beta1) * g */
  assert_int_equal(m->ref.kind, REF_STATE);
  assert_int_equal(m->ref.index, 0);
  AstNode *sum = m->assign.value;
  assert_int_equal(sum->ty.kind, TY_TENSOR);
  AstNode *beta1 = sum->binary.lhs->binary.lhs;
  assert_int_equal(beta1->ref.kind, REF_HYPER);
  assert_int_equal(beta1->ref.index, 1);
  assert_int_equal(beta1->ty.kind, TY_SCALAR);
  AstNode *g = sum->binary.rhs->binary.rhs;
  assert_int_equal(g->ref.kind, REF_BUILTIN);
  assert_int_equal(g->ref.index, BV_G);
  AstNode *mhat = body->items[2];
  assert_int_equal(mhat->ref.kind, REF_LOCAL);
  assert_int_equal(mhat->ref.index, 0);
  /* 1 - beta1^t is a scalar */
  assert_int_equal(mhat->assign.value->binary.rhs->ty.kind, TY_SCALAR);
  AstNode *pset = body->items[4];
  assert_int_equal(pset->ref.kind, REF_BUILTIN);
  assert_int_equal(pset->ref.index, BV_P);
  /* p - lr * (mhat / (sqrt(vhat) + eps) + wd * p) */
  AstNode *call = pset->assign.value->binary.rhs->binary.rhs->binary.lhs->binary.rhs
                      ->binary.lhs;
  assert_int_equal(call->kind, AST_CALL);
  assert_int_equal(call->call.builtin, BF_SQRT);
  assert_null(call->call.def);
  done(&c);
}

/* ---- names ------------------------------------------------------------ */

static void test_unknown_names(void **state) {
  (void)state;
  expect_update("  x = sqr(g)\n  p -= x\n",
                "3:7: error: unknown function 'sqr'; did you mean 'sqrt'?\n");
  expect_update("  p -= gg\n", "3:8: error: unknown name 'gg'; did you mean 'g'?\n");
  expect_update("  p -= zzzz\n", "3:8: error: unknown name 'zzzz'\n");
  expect_update("  p -= x\n", "3:8: error: unknown name 'x'\n");
  expect("optimizer t\nhyper beta1 = 0.9\nupdate {\n  p -= bet1 * g\n}\n",
         "4:8: error: unknown name 'bet1'; did you mean 'beta1'?\n");
  expect_update("  mom = g\n  p -= mon\n",
                "4:8: error: unknown name 'mon'; did you mean 'mom'?\n");
  expect_update("  p -= sqrt\n", "3:8: error: 'sqrt' is a function; call it: sqrt(...)\n");
}

static void test_read_only(void **state) {
  (void)state;
  expect_update("  g = 1\n",
                "3:3: error: cannot assign to the gradient 'g': it is read-only; compute "
                "into a local instead (e.g. `g2 = ...`)\n");
  expect_update("  t += 1\n",
                "3:3: error: cannot assign to the step number 't': it is read-only; "
                "compute into a local instead (e.g. `t2 = ...`)\n");
  expect("optimizer t\nhyper lr = 1\nupdate {\n  lr = 2\n  p -= lr\n}\n",
         "4:3: error: cannot assign to the hyper 'lr': hypers are fixed during a step; "
         "use a local instead (e.g. `lr_t = ...`)\n");
}

static void test_locals_flow(void **state) {
  (void)state;
  expect_update("  p -= x\n  x = 1\n",
                "3:8: error: 'x' is read before its first assignment\n"
                "4:3: note: 'x' is first assigned here\n");
  expect_update("  x += 1\n  p -= x\n",
                "3:3: error: 'x' has no value yet, so '+=' cannot update it; write `x = "
                "...` first\n");
  expect_update("  if t > 1 { x = 1 }\n  p -= x\n",
                "4:8: error: 'x' is not assigned on every path to this point; assign it "
                "before the `if` or `every`, or in both branches\n"
                "3:14: note: 'x' is first assigned here\n");
  expect_update("  if t > 1 { x = 1 } else { x = 2 }\n  p -= x\n", "");
  expect_update("  if t > 1 { x = 1 } else if t > 2 { x = 2 } else { x = 3 }\n  p -= x\n", "");
  expect_update("  if t > 1 { x = 1 } else if t > 2 { x = 2 }\n  p -= x\n",
                "4:8: error: 'x' is not assigned on every path to this point; assign it "
                "before the `if` or `every`, or in both branches\n"
                "3:14: note: 'x' is first assigned here\n");
  expect_update("  every 2 { x = 1 }\n  p -= x\n",
                "4:8: error: 'x' is not assigned on every path to this point; assign it "
                "before the `if` or `every`, or in both branches\n"
                "3:13: note: 'x' is first assigned here\n");
  expect_update("  repeat 2 { x = 1 }\n  p -= x\n", "");
  expect_update("  x = g\n  repeat 3 { x = x * 0.5 }\n  p -= x\n", "");
  expect_update("  repeat 0 { x = 1 }\n  p -= x\n",
                "4:8: error: 'x' is not assigned on every path to this point; assign it "
                "before the `if` or `every`, or in both branches\n"
                "3:14: note: 'x' is first assigned here\n");
  expect_update("  x = 0\n  if t > 1 { x = 1 }\n  p -= x\n", "");
}

static void test_local_type(void **state) {
  (void)state;
  expect_update("  x = 1\n  x = g\n  p -= x\n",
                "4:7: error: 'x' is a scalar and cannot become a tensor: a local keeps the "
                "type of its first assignment\n"
                "3:3: note: 'x' is first assigned here\n");
  /* a scalar broadcasts into a tensor local: its type does not change */
  expect_update("  x = g\n  x = 0\n  p -= x\n", "");
  Checked c;
  check(&c, "optimizer t\nupdate {\n  x = g\n  s = norm(x)\n  p -= s * x\n}\n");
  assert_int_equal(c.nerrors, 0);
  assert_int_equal(c.prog.nlocals, 2);
  assert_int_equal(c.prog.locals[0].ty.kind, TY_TENSOR);
  assert_int_equal(c.prog.locals[1].ty.kind, TY_SCALAR);
  done(&c);
  /* H @ g is the column matrix(n, 1): the local is a tensor */
  check(&c, "optimizer t\nupdate {\n  d = hessian() @ g\n  A = g @ g.T @ g\n  p -= d + A\n}\n");
  assert_string_equal(text(&c.diags), "");
  assert_int_equal(c.prog.locals[0].ty.kind, TY_TENSOR);
  assert_int_equal(c.prog.locals[1].ty.kind, TY_TENSOR);
  AstNode *hg = c.prog.update->update.body.items[0]->assign.value;
  assert_int_equal(hg->ty.kind, TY_MATRIX);
  assert_int_equal(hg->ty.rows, DIM_N);
  assert_int_equal(hg->ty.cols, DIM_ONE);
  done(&c);
}

/* ---- control ---------------------------------------------------------- */

static void test_control(void **state) {
  (void)state;
  expect_update("  if g > 0 { p -= g }\n",
                "3:6: error: the condition of `if` must be a scalar, but it is a tensor; "
                "reduce it first (e.g. with norm(...) or sum(...)) or use where(c, a, b)\n");
  expect_update("  every 0 { p -= g }\n",
                "3:9: error: the period of `every` must be a whole number of steps, at "
                "least 1\n");
  expect_update("  every 2.5 { p -= g }\n",
                "3:9: error: the period of `every` must be a whole number of steps, at "
                "least 1\n");
  expect("optimizer t\nhyper k = 0\nupdate {\n  every k { p -= g }\n}\n",
         "4:9: error: the period of `every` must be at least 1, but the hyper 'k' "
         "defaults to 0\n");
  expect("optimizer t\nhyper k = 10 in [1, 100]\nupdate {\n  every k { p -= g }\n}\n", "");
  expect_update("  every t { p -= g }\n",
                "3:9: error: the period of `every` must be a constant expression, but 't' "
                "is a built-in that changes at run time\n");
  expect_update("  repeat 1001 { p -= g }\n",
                "3:10: error: `repeat` is unrolled, so its count is at most 1000; this one "
                "is 1001\n");
  expect_update("  repeat 2.5 { p -= g }\n",
                "3:10: error: the count of `repeat` must be a whole number, at least 0\n");
  expect_update("  repeat 2 * 3 - 1 { p -= g }\n", "");
  expect("optimizer t\nhyper k = 3\nupdate {\n  repeat k { p -= g }\n}\n",
         "4:10: error: the count of `repeat` must be a constant expression, but 'k' is a "
         "hyper, settable at run time\n");
  expect_update("  sqrt(g)\n",
                "3:3: error: this value is computed but never used; assign it (`x = ...`); "
                "only linesearch(...) stands alone as a statement\n");
}

/* ---- types and shapes ------------------------------------------------- */

static void test_shapes(void **state) {
  (void)state;
  expect("optimizer t\nstate L : matrix(rows, rows) = 0\nupdate {\n  L = L + g\n  p -= L @ g\n}\n",
         "4:7: error: the operands of '+' do not match: matrix(rows, rows) and tensor\n");
  expect("optimizer t\nstate R : matrix(cols, cols) = 0\nupdate {\n  R += g.T @ g\n"
         "  p -= R @ g\n}\n",
         "5:8: error: inner dimensions of '@' do not agree: matrix(cols, cols) @ "
         "matrix(rows, cols) (cols against rows)\n");
  expect_update("  p -= 2 @ g\n",
                "3:8: error: '@' multiplies matrices, but its operands are scalar and "
                "tensor; use '*' to scale by a scalar\n");
  expect_update("  x = t.T\n  p -= x\n",
                "3:7: error: '.T' transposes a matrix, but this is a scalar\n");
  expect_update("  x = I\n  p -= x\n",
                "3:7: error: the size of I is not known here; use it beside a square "
                "matrix (e.g. A + eps * I) or assign it to a matrix state\n");
  expect_update("  p -= I\n", "3:8: error: I is a square matrix, so it cannot be a tensor\n");
  /* row and column vectors broadcast against tensors */
  expect_update("  r = rowmean(g)\n  c = colmean(g)\n  p -= g - r - c\n", "");
  /* Muon's Newton-Schulz iteration */
  expect_update("  X = g / norm(g)\n  repeat 5 {\n    A = X @ X.T\n"
                "    B = -4.7750 * A + 2.0315 * A @ A\n    X = 3.4445 * X + B @ X\n  }\n"
                "  p -= 0.02 * X\n",
                "");
}

static void test_builtin_args(void **state) {
  (void)state;
  expect_update("  p -= sqrt(g, 2)\n", "3:8: error: sqrt() takes 1 argument, but 2 were given\n");
  expect_update("  linesearch(g)\n",
                "3:3: error: linesearch() takes 2 to 6 arguments, but 1 was given\n");
  expect_update("  p -= clip(g, -g, 1)\n",
                "3:16: error: the lower bound of clip() must be a scalar, but it is a tensor\n");
  expect("optimizer t\nstate L : matrix(rows, rows) = 0\nupdate {\n  L += 1\n"
         "  p -= where(L, g, 0)\n}\n",
         "5:14: error: the condition of where() is a matrix(rows, rows), which does not "
         "match its values (tensor)\n");
  expect_update("  p -= sum(t) * g\n",
                "3:12: error: sum() reduces a tensor or a matrix, but its argument is a "
                "scalar\n");
  expect_update("  p -= group.sqrt(g)\n",
                "3:8: error: group.sqrt() does not exist: only the reductions sum, mean, "
                "dot, norm and norminf have a group form\n");
  expect_update("  p -= group.norm(g @ g.T) * g\n",
                "3:19: error: group.norm() reduces over every tensor of the group, so its "
                "argument must be a tensor, not a matrix(rows, rows)\n");
  expect_update("  p -= hvp(1)\n",
                "3:12: error: hvp() takes a tensor shaped like p, but this is a scalar\n");
  expect_update("  s = linesearch(g, newton)\n  p -= s\n",
                "3:21: error: the second argument of linesearch() must be armijo or wolfe\n");
  expect_update("  s = linesearch(g, wolfe, g)\n  p -= s\n",
                "3:28: error: the initial step of linesearch() must be a scalar, but it is a "
                "tensor\n");
  expect_update("  p -= 2 * linesearch(g, wolfe) * g\n",
                "3:12: error: linesearch() moves p, so it must stand alone: write it as a "
                "statement or as `step = linesearch(...)`\n");
  expect_update("  p -= inv_root(g @ g.T, t) @ g\n",
                "3:26: error: the root k of inv_root() must be a constant expression, but "
                "'t' is a built-in that changes at run time\n");
  expect_update("  p -= inv_root(g, 4) @ g\n",
                "3:17: error: inv_root() takes a square matrix, but this is a tensor\n");
  expect_update("  p -= dot(g, g @ g.T) * g\n",
                "3:8: error: the arguments of dot() must have the same shape, but they are "
                "tensor and matrix(rows, rows)\n");
  expect_update("  p -= solve(hessian(), g)\n", "");
}

/* ---- needs ------------------------------------------------------------ */

static uint32_t needs_of(const char *body) {
  Str src = {0};
  str_printf(&src, "optimizer t\nupdate {\n%s}\n", body);
  Checked c;
  check(&c, src.data);
  if (c.nerrors) fail_msg("%s", text(&c.diags));
  uint32_t n = c.prog.needs;
  done(&c);
  str_free(&src);
  return n;
}

static void test_needs(void **state) {
  (void)state;
  assert_int_equal(needs_of("  p -= g\n"), 0);
  assert_int_equal(needs_of("  p -= f * g\n"), OPTK_NEED_LOSS);
  assert_int_equal(needs_of("  z = rademacher()\n  p -= z * hvp(z)\n"), OPTK_NEED_HVP);
  assert_int_equal(needs_of("  p -= solve(hessian(), g)\n"), OPTK_NEED_HESSIAN);
  assert_int_equal(needs_of("  linesearch(-g, wolfe)\n"),
                   OPTK_NEED_LINESEARCH | OPTK_NEED_LOSS);
  assert_int_equal(needs_of("  p -= (g @ g.T) @ g\n"), OPTK_NEED_2D);
  assert_int_equal(needs_of("  p -= rowmean(g)\n"), OPTK_NEED_2D);
  assert_int_equal(needs_of("  p -= g * rows / cols\n"), 0);
}

/* ---- hypers and states ------------------------------------------------ */

static void test_hypers(void **state) {
  (void)state;
  expect("optimizer t\nhyper b = 1 in [0, 1)\nupdate {\n  p -= b * g\n}\n",
         "2:11: error: the default 1 of hyper 'b' is outside its range [0, 1)\n");
  expect("optimizer t\nhyper b = 0.5 in [1, 0]\nupdate {\n  p -= b * g\n}\n",
         "2:19: error: the range [1, 0] of hyper 'b' is empty\n");
  expect("optimizer t\nhyper a = 1\nhyper b = a * 2\nupdate {\n  p -= a * b * g\n}\n",
         "3:11: error: the default of hyper 'b' must be a constant expression, but 'a' is a "
         "hyper, settable at run time\n");
  Checked c;
  check(&c, "optimizer t\nhyper b = -2 * pi^2 in (-inf, 0]\nupdate {\n  p -= b * g\n}\n");
  assert_int_equal(c.nerrors, 0);
  AstNode *h = c.prog.hypers[0];
  assert_true(h->hyper.def_value == -2 * 3.14159265358979323846 * 3.14159265358979323846);
  assert_true(h->hyper.lo_value == -INFINITY && h->hyper.hi_value == 0);
  done(&c);
}

static void test_states(void **state) {
  (void)state;
  expect("optimizer t\nstate m = g\nupdate {\n  m = g\n  p -= m\n}\n",
         "2:11: error: 'g' is not available when a state is created; an initial value "
         "may use numbers, hypers, p, n, rows, cols and I\n");
  expect("optimizer t\nstate s : scalar = p\nupdate {\n  s = 1\n  p -= s\n}\n",
         "2:20: error: the initial value of state 's' is a tensor, but the state is a "
         "scalar\n");
  expect("optimizer t\nstate L : matrix(rows, 2) = 0\nupdate {\n  L = L\n}\n",
         "2:24: error: a matrix state's dimensions are 1, rows, cols or n\n");
  Checked c;
  check(&c, "optimizer t\nhyper eps = 1e-6\nstate L : matrix(rows, rows) f64 = eps * I\n"
            "state x0 = p\nupdate {\n  L = L + g @ g.T\n  p -= inv_root(L, 4) @ (g - x0)\n"
            "  x0 = p\n}\n");
  assert_string_equal(text(&c.diags), "");
  AstNode *L = c.prog.states[0];
  assert_int_equal(L->ty.kind, TY_MATRIX);
  assert_int_equal(L->ty.rows, DIM_ROWS);
  assert_int_equal(L->ty.cols, DIM_ROWS);
  AstNode *ident = L->state.init->binary.rhs;
  assert_int_equal(ident->ty.kind, TY_MATRIX);
  assert_int_equal(ident->ty.rows, DIM_ROWS);
  assert_int_equal(c.prog.needs, OPTK_NEED_2D);
  done(&c);
}

static void test_items(void **state) {
  (void)state;
  expect("hyper lr = 1\n",
         "1:1: error: missing `optimizer NAME` line: every optimizer file names its "
         "optimizer\n"
         "1:1: error: missing `update { ... }` block: it says what one step does\n");
  expect("optimizer a\noptimizer b\nupdate {\n  p -= g\n}\n",
         "2:1: error: a second `optimizer` line; a file has exactly one\n"
         "1:1: note: the first `optimizer` line is here\n");
  expect("optimizer a\nhyper m = 1\nstate m = 0\nupdate {\n  p -= m * g\n}\n",
         "3:7: error: 'm' is already defined\n2:7: note: 'm' is first defined here\n");
  expect("optimizer a\nhyper g = 1\nupdate {\n  p -= g\n}\n",
         "2:7: error: 'g' is a built-in name and cannot name a hyper\n");
  expect("optimizer a\ndef sqrt(x) = x\nupdate {\n  p -= g\n}\n",
         "2:5: error: 'sqrt' is a built-in function; choose another name for this def\n");
  expect("optimizer a\ndef h(x) = x\ndef h(y) = y\nupdate {\n  p -= h(g)\n}\n",
         "3:5: error: def 'h' is already defined\n2:5: note: 'h' is first defined here\n");
}

/* ---- defs ------------------------------------------------------------- */

static void test_defs(void **state) {
  (void)state;
  expect("optimizer a\ndef ema(x, y, b) = b * x + (1 - b) * y\nstate m = 0\nupdate {\n"
         "  m = ema(m, g, 0.9)\n  s = ema(1, 2, 0.5)\n  p -= s * m\n}\n",
         "");
  expect("optimizer a\ndef f(x) = f(x)\nupdate {\n  p -= f(g)\n}\n",
         "2:5: error: def 'f' calls itself; defs are inlined, so they cannot recurse\n");
  expect("optimizer a\ndef f(x) = h(x)\ndef h(x) = f(x) + 1\nupdate {\n  p -= f(g)\n}\n",
         "2:5: error: defs call each other in a cycle: f -> h -> f; defs are inlined, so "
         "they cannot recurse\n");
  expect("optimizer a\ndef f(x) = x + g\nupdate {\n  p -= f(g)\n}\n",
         "2:16: error: def 'f' cannot see 'g': a def sees only its parameters, inf, pi and "
         "I; pass 'g' as an argument\n");
  expect("optimizer a\ndef f(x, y) = x + y\nupdate {\n  p -= f(g)\n}\n",
         "4:8: error: def 'f' takes 2 arguments, but 1 was given\n"
         "2:5: note: 'f' is defined here\n");
  expect("optimizer a\ndef f(x, x) = x\nupdate {\n  p -= f(g, g)\n}\n",
         "2:10: error: parameter 'x' appears twice in def 'f'\n2:7: note: first listed here\n");
  /* a def is checked per call: this one fails only for a matrix argument */
  expect("optimizer a\ndef f(x) = x + g2(x)\ndef g2(y) = y\nstate L : matrix(rows, rows) = 0\n"
         "update {\n  L = L + f(L) @ L\n  p -= f(g) + L @ g\n}\n",
         "");
  expect("optimizer a\ndef f(x, y) = x + y\nstate L : matrix(rows, rows) = 0\n"
         "update {\n  L = f(L, L)\n  p -= f(g, L) @ g\n}\n",
         "2:15: error: the operands of '+' do not match: tensor and matrix(rows, rows)\n"
         "6:8: note: in this call of 'f' with arguments (tensor, matrix(rows, rows))\n");
}

/* ---- warnings --------------------------------------------------------- */

static void test_warnings(void **state) {
  (void)state;
  expect("optimizer a\nhyper lr = 1\nhyper unused = 2\nstate m = 0\nstate c = 0\n"
         "state r = 0\nupdate {\n  m = g\n  x = r\n  p -= lr * m\n}\n",
         "3:7: warning: hyper 'unused' is never used\n"
         "5:7: warning: state 'c' is never used\n"
         "6:7: warning: state 'r' is read but never assigned, so it always keeps its "
         "initial value\n"
         "9:3: warning: local 'x' is assigned but never read\n");
}

/* ---- imports ---------------------------------------------------------- */

typedef struct TmpDir {
  char path[64];
  char files[8][128];
  int nfiles;
} TmpDir;

/* mkdtemp with a template of six 'X's (built here, not spelled out). */
static void make_tmpdir(char *path) {
  strcpy(path, "/tmp/optc_sema");
  memset(path + strlen(path), 'X', 6);
  path[strlen("/tmp/optc_sema") + 6] = '\0';
  assert_non_null(mkdtemp(path));
}

static void tmp_write(TmpDir *d, const char *name, const char *text_) {
  char *p = d->files[d->nfiles++];
  char full[sizeof d->files[0]];
  snprintf(full, sizeof full, "%s/%s", d->path, name);
  memcpy(p, full, sizeof full);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text_, f);
  fclose(f);
}

static void tmp_cleanup(TmpDir *d) {
  for (int i = d->nfiles - 1; i >= 0; i--) remove(d->files[i]);
  rmdir(d->path);
}

/* Checks file `name` of d, loaded from disk like the CLI does. */
static void check_file(Checked *c, TmpDir *d, const char *name, const SemaOptions *o) {
  memset(c, 0, sizeof *c);
  srcmgr_init(&c->sm);
  char path[160], *err = NULL;
  snprintf(path, sizeof path, "%s/%s", d->path, name);
  int f = srcmgr_load(&c->sm, path, &err);
  assert_true(f >= 0);
  DiagSink ds;
  diag_init(&ds, &c->sm, collect, &c->diags);
  c->nerrors = sema_check_file(&c->prog, &c->sm, f, &ds, o);
}

static void test_imports(void **state) {
  (void)state;
  TmpDir d;
  memset(&d, 0, sizeof d);
  make_tmpdir(d.path);
  tmp_write(&d, "common.opt", "def ema(x, y, b) = b * x + (1 - b) * y\nimport \"more.opt\"\n");
  tmp_write(&d, "more.opt", "def half(x) = x / 2\nhyper ignored = 1\n");
  tmp_write(&d, "main.opt",
            "optimizer a\nimport \"common.opt\"\nimport \"more.opt\"\nstate m = 0\n"
            "update {\n  m = ema(m, g, 0.9)\n  p -= half(m)\n}\n");
  tmp_write(&d, "self.opt", "optimizer a\nimport \"self.opt\"\nupdate {\n  p -= g\n}\n");
  tmp_write(&d, "cyc_a.opt", "optimizer a\nimport \"cyc_b.opt\"\nupdate {\n  p -= g\n}\n");
  tmp_write(&d, "cyc_b.opt", "import \"cyc_a.opt\"\n");
  tmp_write(&d, "bad.opt",
            "optimizer a\nimport \"nope.opt\"\nimport \".\"\nupdate {\n  p -= g\n}\n");
  Checked c;
  check_file(&c, &d, "main.opt", NULL);
  assert_string_equal(text(&c.diags), "");
  assert_int_equal(c.prog.nimports, 2); /* more.opt once */
  assert_int_equal(c.prog.ndefs, 2);
  assert_int_equal(c.prog.nhypers, 0);  /* imports bring defs only */
  done(&c);
  check_file(&c, &d, "self.opt", NULL);
  char want[512];
  snprintf(want, sizeof want, "2:1: error: '%s/self.opt' imports itself\n", d.path);
  assert_string_equal(text(&c.diags), want);
  done(&c);
  check_file(&c, &d, "cyc_a.opt", NULL);
  snprintf(want, sizeof want,
           "1:1: error: import cycle: %s/cyc_a.opt -> %s/cyc_b.opt -> %s/cyc_a.opt\n",
           d.path, d.path, d.path);
  assert_string_equal(text(&c.diags), want);
  done(&c);
  check_file(&c, &d, "bad.opt", NULL);
  assert_string_equal(text(&c.diags),
                      "2:1: error: cannot find imported file 'nope.opt' next to this file "
                      "or in the import paths (-I)\n"
                      "3:1: error: cannot import '.': it is a directory, not a .opt file\n");
  done(&c);
  tmp_cleanup(&d);
}

static void test_import_paths(void **state) {
  (void)state;
  TmpDir d;
  memset(&d, 0, sizeof d);
  make_tmpdir(d.path);
  tmp_write(&d, "lib.opt", "def twice(x) = 2 * x\n");
  Checked c;
  const char *dirs[] = {d.path};
  SemaOptions o = {dirs, 1, false};
  check_opts(&c, "elsewhere/main.opt",
             "optimizer a\nimport \"lib.opt\"\nupdate {\n  p -= twice(g)\n}\n", &o);
  assert_string_equal(text(&c.diags), "");
  done(&c);
  /* a library file: only with library_ok */
  o.library_ok = true;
  check_file(&c, &d, "lib.opt", &o);
  assert_string_equal(text(&c.diags), "");
  done(&c);
  tmp_cleanup(&d);
}

static void test_import_depth(void **state) {
  (void)state;
  char dir[64];
  make_tmpdir(dir);
  enum { N = 66 }; /* main.opt + a chain of 65 libraries, one past the limit */
  char path[N][128];
  for (int i = 0; i < N; i++) {
    snprintf(path[i], sizeof path[i], "%s/l%02d.opt", dir, i);
    FILE *f = fopen(path[i], "w");
    assert_non_null(f);
    if (i == 0) fputs("optimizer a\nupdate {\n  p -= g\n}\n", f);
    if (i + 1 < N) fprintf(f, "import \"l%02d.opt\"\n", i + 1);
    fclose(f);
  }
  Checked c;
  memset(&c, 0, sizeof c);
  srcmgr_init(&c.sm);
  char *err = NULL;
  int f = srcmgr_load(&c.sm, path[0], &err);
  DiagSink ds;
  diag_init(&ds, &c.sm, collect, &c.diags);
  c.nerrors = sema_check_file(&c.prog, &c.sm, f, &ds, NULL);
  assert_string_equal(text(&c.diags), "1:1: error: imports are nested more than 64 deep\n");
  assert_int_equal(c.prog.nimports, 64);
  done(&c);
  for (int i = 0; i < N; i++) remove(path[i]);
  rmdir(dir);
}

/* ---- robustness ------------------------------------------------------- */

static void test_junk(void **state) {
  (void)state;
  static const char *const JUNK[] = {
      "",
      "update {",
      "optimizer\nupdate { p = }\n",
      "optimizer a\nupdate { if { } every { } repeat { } x = = 1 }\n",
      "optimizer a\nstate s : matrix( = 1\nupdate { p -= s(1)(2) }\n",
      "optimizer a\ndef f( = 1\nhyper h = in [\nupdate { p -= f(f(f())) }\n",
      "\x01\x02\xff optimizer",
      "optimizer a\nupdate { p -= group.(g) + I @ I @ I + x.T.T.T }\n",
  };
  for (size_t i = 0; i < sizeof JUNK / sizeof JUNK[0]; i++) {
    Checked c;
    check(&c, JUNK[i]);
    assert_true(c.nerrors > 0);
    done(&c);
  }
  /* a long chain of defs is checked without exponential work */
  Str src = {0};
  str_puts(&src, "optimizer a\ndef d0(x) = x\n");
  for (int i = 1; i < 200; i++) str_printf(&src, "def d%d(x) = d%d(x) + d%d(x)\n", i, i - 1, i - 1);
  str_puts(&src, "update {\n  p -= d30(g)\n}\n");
  Checked c;
  check(&c, src.data);
  assert_string_equal(text(&c.diags), "");
  done(&c);
  str_free(&src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adamw_clean),  cmocka_unit_test(test_annotations),
      cmocka_unit_test(test_unknown_names), cmocka_unit_test(test_read_only),
      cmocka_unit_test(test_locals_flow),  cmocka_unit_test(test_local_type),
      cmocka_unit_test(test_control),      cmocka_unit_test(test_shapes),
      cmocka_unit_test(test_builtin_args), cmocka_unit_test(test_needs),
      cmocka_unit_test(test_hypers),       cmocka_unit_test(test_states),
      cmocka_unit_test(test_items),        cmocka_unit_test(test_defs),
      cmocka_unit_test(test_warnings),     cmocka_unit_test(test_imports),
      cmocka_unit_test(test_import_paths), cmocka_unit_test(test_import_depth),
      cmocka_unit_test(test_junk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
