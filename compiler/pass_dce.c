/* pass_dce.c: dead code elimination.
 *
 * Roots are the effects: STORE, SSTATE_SET, linesearch (it moves p) and
 * history_push (it changes an L-BFGS history).
 * A STORE of a buffer's own unchanged value (a LOAD of it at the same
 * version) is dead too.  An FN_IF/FN_ENDIF pair stays only while a live
 * barrier remains between them, and then keeps its condition alive; hvp
 * lives only when its value is used.  Marking runs backwards to a fixed
 * point because a block's condition can make new values live. */
#include <string.h>

#include "ir_func.h"

static bool dead_store(const IrFunc *f, const IrFInst *in) {
  if (in->op != IR_STORE) return false;
  const IrFInst *v = &f->data[in->args[0]];
  return v->op == IR_LOAD && v->index == in->index;
}

static bool is_root(const IrFunc *f, const IrFInst *in) {
  if (in->op == IR_STORE) return !dead_store(f, in);
  if (in->op == FN_MSWEEP) return in->index >= 0; /* a matrix state's store */
  if (in->op == FN_MATOP || in->op == FN_HESSIAN) return in->out > 1; /* likewise */
  return in->op == IR_SSTATE_SET || in->op == FN_LINESEARCH || in->op == FN_HIST_PUSH;
}

static void mark_args(const IrFunc *f, bool *live) {
  for (int i = f->len - 1; i >= 0; i--) {
    if (!live[i]) continue;
    const IrFInst *in = &f->data[i];
    for (int k = 0; k < 3; k++)
      if (in->args[k] >= 0) live[in->args[k]] = true;
    for (int k = 0; k < 4; k++)
      if (in->xargs[k] >= 0) live[in->xargs[k]] = true;
  }
}

/* Marks each FN_IF/FN_ENDIF pair holding a live barrier; true if any
 * marker became live. */
static bool mark_blocks(const IrFunc *f, bool *live) {
  bool grew = false;
  int *stack = xmalloc(sizeof(int) * (size_t)(f->len + 1));
  int *has = xcalloc((size_t)f->len + 1, sizeof(int));
  int depth = 0;
  for (int i = 0; i < f->len; i++) {
    const IrFInst *in = &f->data[i];
    if (in->op == FN_IF) {
      stack[depth++] = i;
      has[depth] = 0;
    } else if (in->op == FN_ENDIF && depth > 0) {
      int open = stack[--depth];
      if (has[depth + 1] && !live[i]) grew = live[i] = live[open] = true;
      if (has[depth + 1]) has[depth] = 1;
    } else if (live[i] && irf_is_barrier(in)) {
      has[depth] = 1;
    }
  }
  free(stack);
  free(has);
  return grew;
}

static int keep_live(void *user, IrFunc *out, const IrFunc *old, int i, IrFInst *in) {
  (void)old;
  const bool *live = user;
  return live[i] ? irf_push(out, in) : -1;
}

int pass_dce(IrFunc *f) {
  bool *live = xcalloc((size_t)f->len + 1, sizeof(bool));
  for (int i = 0; i < f->len; i++) live[i] = is_root(f, &f->data[i]);
  do mark_args(f, live);
  while (mark_blocks(f, live));
  int removed = 0;
  for (int i = 0; i < f->len; i++) removed += !live[i];
  if (removed) irf_rebuild(f, keep_live, live);
  free(live);
  return removed;
}
