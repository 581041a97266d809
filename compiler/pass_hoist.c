/* pass_hoist.c: moves scalar factors out of element expressions.
 *
 * Scalar values are already computed once per step (the scheduler puts
 * every SCALAR-shaped value in a SCALAR stage, in double).  What remains is
 * scalar math that the expression's association keeps inside the
 * element loop: lr * (m * r) multiplies twice per element.  This pass
 * reassociates products so that all scalar factors meet first:
 *   s * e -> e * s                     (element operand first)
 *   (e * s1) * s2 -> e * (s1 * s2)     (s1 * s2 is scalar: once per step)
 *   -(e * s) -> e * (-s)
 * which turns Adam's lr * (m / (1 - beta1^t)) into m * (lr / (1 - beta1^t))
 * after simplify has made the division a product.  Reassociation can
 * change the last bit of a product; every backend runs the same IR, so
 * results stay identical between the JIT, AOT code and the interpreter. */
#include "ir_func.h"

/* Per element or a matrix: anything but a scalar factor. */
static bool elem(const IrFunc *f, int v) { return !irf_is_scalar(&f->data[v]); }

/* e * s with e per element and s scalar: returns e and s through pointers. */
static bool elem_times_scalar(const IrFunc *f, int v, int *e, int *s) {
  const IrFInst *in = &f->data[v];
  if (in->op != IR_MUL || !elem(f, in->args[0]) || elem(f, in->args[1])) return false;
  *e = in->args[0];
  *s = in->args[1];
  return true;
}

static int hoist_mul(IrFunc *out, IrFInst *in, int *changes) {
  int a = in->args[0], b = in->args[1];
  if (!elem(out, a) && elem(out, b)) {
    int t = a;
    a = b, b = t;
    ++*changes;
  }
  int e, s;
  if (!elem(out, b) && elem_times_scalar(out, a, &e, &s)) {
    ++*changes;
    return irf_op2(out, IR_MUL, e, irf_op2(out, IR_MUL, s, b, in->span), in->span);
  }
  in->args[0] = a, in->args[1] = b;
  return irf_push(out, in);
}

static int hoist_one(void *user, IrFunc *out, const IrFunc *old, int i, IrFInst *in) {
  int *changes = user;
  (void)old, (void)i;
  int e, s;
  if (in->op == IR_MUL) return hoist_mul(out, in, changes);
  if (in->op == IR_NEG && elem_times_scalar(out, in->args[0], &e, &s)) {
    ++*changes;
    return irf_op2(out, IR_MUL, e, irf_op1(out, IR_NEG, s, in->span), in->span);
  }
  return irf_push(out, in);
}

int pass_hoist(IrFunc *f) {
  int changes = 0;
  irf_rebuild(f, hoist_one, &changes);
  return changes;
}
