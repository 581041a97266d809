/* pass_contract.c: fused multiply-add contraction of per-element values.
 *
 *   a * b + c,  c + a * b  ->  fma(a, b, c)
 *   a * b - c               ->  fma(a, b, -c)
 *   c - a * b               ->  fma(-a, b, c)
 * when the sum and the product are per element (sweep code) and the
 * product has no other use.  FMA rounds once, so the value can differ from
 * the two-rounding form in the last bit; it is the same on every target
 * (codegen emits llvm.fma, never fmuladd, so a CPU without FMA computes it
 * exactly through libm), which keeps kernels bit-identical across SSE2,
 * AVX2 and AVX-512.  This is what C compilers do by default for such loops
 * (GCC's -ffp-contract=fast), and why a hand-written C loop otherwise runs
 * a few percent faster (docs/performance.md).  Negation is exact, so the
 * subtraction forms are the same single rounding.  Scalar stages (double,
 * once per step) are left as written.  The product becomes dead: dce runs
 * after this pass. */
#include "ir_func.h"

typedef struct Contract {
  int *uses; /* uses of each value of the old function */
  int changes;
} Contract;

static int *count_uses(const IrFunc *f) {
  int *uses = xcalloc((size_t)(f->len ? f->len : 1), sizeof(int));
  for (int i = 0; i < f->len; i++) {
    const IrFInst *in = &f->data[i];
    for (int k = 0; k < 3; k++)
      if (in->args[k] >= 0) uses[in->args[k]]++;
    for (int k = 0; k < 4; k++)
      if (in->xargs[k] >= 0) uses[in->xargs[k]]++;
  }
  return uses;
}

/* True when old value v is a per-element product used only once. */
static bool fusable(const Contract *C, const IrFunc *old, int v) {
  const IrFInst *m = &old->data[v];
  return m->op == IR_MUL && C->uses[v] == 1 && irf_is_elem(m);
}

/* `in` (args renamed) is old instruction i, an ADD or SUB. */
static int contract(Contract *C, IrFunc *out, const IrFunc *old, int i, IrFInst *in) {
  const IrFInst *o = &old->data[i];
  int pick = fusable(C, old, o->args[0]) ? 0 : fusable(C, old, o->args[1]) ? 1 : -1;
  if (pick < 0) return -1;
  const IrFInst *mul = &out->data[in->args[pick]];
  int a = mul->args[0], b = mul->args[1], c = in->args[1 - pick];
  if (in->op == IR_SUB && pick == 0) c = irf_op1(out, IR_NEG, c, in->span);
  if (in->op == IR_SUB && pick == 1) a = irf_op1(out, IR_NEG, a, in->span);
  C->changes++;
  return irf_op3(out, IR_FMA, a, b, c, in->span);
}

static int contract_one(void *user, IrFunc *out, const IrFunc *old, int i, IrFInst *in) {
  bool sum = in->op == IR_ADD || in->op == IR_SUB;
  int v = sum && irf_is_elem(&old->data[i]) ? contract(user, out, old, i, in) : -1;
  return v >= 0 ? v : irf_push(out, in);
}

int pass_contract(IrFunc *f) {
  Contract C = {count_uses(f), 0};
  irf_rebuild(f, contract_one, &C);
  free(C.uses);
  return C.changes;
}
