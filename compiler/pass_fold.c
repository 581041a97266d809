/* pass_fold.c: constant folding.
 *
 * An arithmetic instruction whose arguments are all constants becomes one
 * constant, computed in double as a SCALAR stage would (sweeps round the
 * constant to their compute type when they use it).  Leaves, reductions
 * and effects are never folded. */
#include "ir_func.h"

static int fold_one(void *user, IrFunc *out, const IrFunc *old, int i, IrFInst *in) {
  int *changes = user;
  (void)old, (void)i;
  int n = irf_op_nargs(in->op);
  if (in->op >= IR_OP_COUNT || n == 0 || in->op == IR_REDUCE || !irf_is_pure(in->op))
    return irf_push(out, in);
  double a[3];
  for (int k = 0; k < n; k++) {
    const IrFInst *arg = &out->data[in->args[k]];
    if (arg->op != IR_CONST) return irf_push(out, in);
    a[k] = arg->imm;
  }
  double v;
  if (!irf_fold_value(in->op, a, in->index, &v)) return irf_push(out, in);
  ++*changes;
  return irf_const(out, v, in->span);
}

int pass_fold(IrFunc *f) {
  int changes = 0;
  irf_rebuild(f, fold_one, &changes);
  return changes;
}
