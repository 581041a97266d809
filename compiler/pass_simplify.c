/* pass_simplify.c: algebraic simplification.
 *
 *   x^2 -> x*x      x^k (small integer k) -> powi(x, k)     x^1 -> x
 *   x^0.5 -> sqrt(x)   x^-0.5 -> rsqrt(x)   x^0 -> 1
 *   x*1, 1*x, x+0, 0+x, x-0, x/1 -> x       -(-x) -> x
 *   e / s (element e, per-step scalar s) -> e * (1 / s): the reciprocal is
 *     scalar, so it is computed once per step in double (SCALAR stage)
 *   e / c (constant c a power of two) -> e * (1/c), exact
 *   select(c, a, b) with constant c -> a or b;  select(c, a, a) -> a
 * x + 0 -> x turns -0 + 0 into -0; nothing else changes a value.  Integer
 * powers up to POWI_MAX become powi, which codegen expands to multiplies. */
#include <math.h>

#include "ir_func.h"

/* |k| up to 16: two to five multiplies by squaring; beyond, pow is as fast. */
enum { POWI_MAX = 16 };

static bool is_const(const IrFunc *f, int v, double c) {
  return f->data[v].op == IR_CONST && f->data[v].imm == c;
}

static int simplify_pow(IrFunc *out, IrFInst *in) {
  int x = in->args[0];
  const IrFInst *e = &out->data[in->args[1]];
  if (e->op != IR_CONST) return -1;
  double k = e->imm;
  if (k == 1) return x;
  if (k == 0) return irf_const(out, 1, in->span);
  if (k == 2) return irf_op2(out, IR_MUL, x, x, in->span);
  if (k == 0.5) return irf_op1(out, IR_SQRT, x, in->span);
  if (k == -0.5) return irf_op1(out, IR_RSQRT, x, in->span);
  if (k == floor(k) && fabs(k) <= POWI_MAX) {
    int v = irf_op1(out, IR_POWI, x, in->span);
    out->data[v].index = (int32_t)k;
    return v;
  }
  return -1;
}

static bool power_of_two(double c) {
  int e;
  return c != 0 && isfinite(c) && fabs(frexp(c, &e)) == 0.5;
}

static int simplify_div(IrFunc *out, IrFInst *in) {
  int a = in->args[0], b = in->args[1];
  if (is_const(out, b, 1)) return a;
  const IrFInst *d = &out->data[b];
  if (irf_is_scalar(&out->data[a]) || !irf_is_scalar(d)) return -1;
  if (d->op == IR_CONST && !power_of_two(d->imm)) return -1;
  int r = d->op == IR_CONST ? irf_const(out, 1 / d->imm, in->span)
                            : irf_op2(out, IR_DIV, irf_const(out, 1, in->span), b, in->span);
  return irf_op2(out, IR_MUL, a, r, in->span);
}

static int simplify_select(IrFunc *out, IrFInst *in) {
  const IrFInst *c = &out->data[in->args[0]];
  if (in->args[1] == in->args[2]) return in->args[1];
  if (c->op == IR_CONST) return c->imm != 0 ? in->args[1] : in->args[2];
  return -1;
}

static int simplify_inst(IrFunc *out, IrFInst *in) {
  int a = in->args[0], b = in->args[1];
  switch (in->op) {
  case IR_POW: return simplify_pow(out, in);
  case IR_MUL:
    if (is_const(out, b, 1)) return a;
    return is_const(out, a, 1) ? b : -1;
  case IR_ADD:
    if (is_const(out, b, 0)) return a;
    return is_const(out, a, 0) ? b : -1;
  case IR_SUB: return is_const(out, b, 0) ? a : -1;
  case IR_DIV: return simplify_div(out, in);
  case IR_NEG: return out->data[a].op == IR_NEG ? out->data[a].args[0] : -1;
  case IR_SELECT: return simplify_select(out, in);
  default: return -1;
  }
}

static int simplify_one(void *user, IrFunc *out, const IrFunc *old, int i, IrFInst *in) {
  int *changes = user;
  (void)old, (void)i;
  int v = simplify_inst(out, in);
  if (v < 0) return irf_push(out, in);
  ++*changes;
  return v;
}

int pass_simplify(IrFunc *f) {
  int changes = 0;
  irf_rebuild(f, simplify_one, &changes);
  return changes;
}
