/* pass_bcast.c: row and column factors computed once per row or column.
 *
 * A row vector (rows x 1) or column vector (1 x cols) used in a sweep over
 * p broadcasts: the sweep computes it for every element, rows or cols
 * times over.  Adafactor's u = g * rsqrt(R / mean(R)) * rsqrt(C) takes
 * two square roots and two divisions per element that way, in two sweeps,
 * which makes them compute-bound at four times the memory's time.  When
 * such a value has a per-element use and its tree holds an operation
 * dearer than a multiply or add (a division, square root or math
 * function), this pass writes it to a scratch of its own dims with an
 * FN_MSWEEP right after it (a sweep over rows or cols elements) and every
 * later use reads that: the parameter sweeps load one row or column
 * element where they computed the tree.  Cheap trees stay inline: loading
 * a factor costs what loading its operands does.
 *
 * The domain sweep computes the same operations on the same operands in
 * the same compute type, so the results are bit-identical.  Values inside
 * a plan-level `if` block are left alone (a scratch written in a block
 * that may not run holds nothing certain after it).  Runs last, after dce:
 * cse has merged the uses of one factor by then, so each gets one sweep. */
#include "ir_func.h"

typedef struct Bcast {
  bool *hoist; /* old value -> write to a scratch */
  int changes;
} Bcast;

/* Operations worth a sweep of their own over a row or column. */
static bool dear(int op) {
  switch (op) {
  case IR_DIV: case IR_MOD: case IR_POW: case IR_SQRT: case IR_RSQRT: case IR_EXP:
  case IR_LOG: case IR_LOG1P: case IR_TANH: case IR_SIGMOID:
    return true;
  default:
    return false;
  }
}

static bool broadcast_dims(const IrFInst *in) {
  return (in->mdim[0] == OPTK_DIM_ROWS && in->mdim[1] == OPTK_DIM_ONE) ||
         (in->mdim[0] == OPTK_DIM_ONE && in->mdim[1] == OPTK_DIM_COLS);
}

/* Elementwise MAT work (not a load or a barrier's value). */
static bool mat_work(const IrFInst *in) {
  return irf_is_mat(in) && !irf_is_barrier(in) && in->op != IR_LOAD;
}

/* hoist[v]: v is row or column work outside any block, holding a dear
 * operation, and some per-element (sweep) value uses it. */
static int find_factors(const IrFunc *f, bool *hoist) {
  int n = 0;
  bool *costly = xcalloc((size_t)f->len + 1, sizeof(bool));
  bool *outside = xcalloc((size_t)f->len + 1, sizeof(bool));
  int depth = 0;
  for (int i = 0; i < f->len; i++) {
    const IrFInst *in = &f->data[i];
    depth += in->op == FN_IF;
    depth -= in->op == FN_ENDIF && depth > 0;
    outside[i] = depth == 0 && in->op != FN_ENDIF;
    if (!mat_work(in)) continue;
    costly[i] = dear(in->op);
    for (int k = 0; k < 3; k++)
      if (in->args[k] >= 0 && costly[in->args[k]]) costly[i] = true;
  }
  for (int i = 0; i < f->len; i++) {
    const IrFInst *in = &f->data[i];
    if (!irf_is_elem(in) || irf_is_barrier(in)) continue;
    for (int k = 0; k < 3; k++) {
      int a = in->args[k];
      if (a >= 0 && costly[a] && outside[a] && broadcast_dims(&f->data[a]) && !hoist[a])
        hoist[a] = true, n++;
    }
  }
  free(costly);
  free(outside);
  return n;
}

static int bcast_one(void *user, IrFunc *out, const IrFunc *old, int i, IrFInst *in) {
  Bcast *B = user;
  int v = irf_push(out, in);
  if (!B->hoist[i]) return v;
  IrFInst m = {.op = FN_MSWEEP,
               .args = {v, -1, -1},
               .xargs = {-1, -1, -1, -1},
               .index = -1,
               .out = -1,
               .span = in->span,
               .shape = IR_SHAPE_MAT,
               .mdim = {old->data[i].mdim[0], old->data[i].mdim[1]}};
  B->changes++;
  return irf_push(out, &m);
}

int pass_bcast(IrFunc *f) {
  Bcast B = {xcalloc((size_t)f->len + 1, sizeof(bool)), 0};
  if (find_factors(f, B.hoist)) irf_rebuild(f, bcast_one, &B);
  free(B.hoist);
  return B.changes;
}
