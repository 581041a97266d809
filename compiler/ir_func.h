/* ir_func.h: the function level of optc's IR (level 1 of ir.h).
 *
 * lower.c turns the checked update body into one IrFunc: a flat list of
 * SSA instructions in program order.  Values are numbered by their
 * position (%N); arguments always name earlier instructions.  Opcodes are
 * those of IR_OPS plus the function-level ones below (FN_*), and every
 * instruction carries a shape class:
 *   IR_SHAPE_SCALAR   one number per step and tensor (computed in double in
 *                     a SCALAR stage),
 *   IR_SHAPE_ELEM     one number per element of p (computed in a sweep),
 *   IR_SHAPE_BARRIER  work that ends a sweep: a reduction (its result is a
 *                     scalar value), a host call (hvp's result is an
 *                     element value held in a buffer), the markers of a
 *                     plan-level `if`.
 * Memory is explicit only where it matters to scheduling: LOAD carries the
 * buffer's version in `aux` (0 at step entry, +1 after each host call that
 * rewrites it: linesearch moves p and refreshes g), LOSS likewise for f;
 * STORE / SSTATE_SET write a state's value at the points where memory must
 * hold it (before a host call that reads p, and the final values at the
 * end of the body).  Everything else is pure, so passes may reorder,
 * merge and delete freely.  docs/ir.md describes the textual form.
 *
 * Passes rebuild the list: irf_rebuild() walks the old list, the pass
 * emits into the new one and records where each old value went.
 */
#ifndef OPTC_IR_FUNC_H
#define OPTC_IR_FUNC_H

#include "ir.h"

typedef enum IrShape { IR_SHAPE_SCALAR, IR_SHAPE_ELEM, IR_SHAPE_BARRIER, IR_SHAPE_MAT } IrShape;

/* IR_SHAPE_MAT: a matrix value of dims (mdim[0], mdim[1]) (OptkDim) that
 * is not shaped like p (those are ELEM): a matrix state, the output of a
 * matrix op, or elementwise work over such values.  Elementwise MAT work
 * is computed inside a sweep over a matrix domain (FN_MSWEEP,
 * FN_MREDUCE) or, when it broadcasts against p (a row or column vector),
 * inside a parameter sweep.  IR_DIM_ANY: the size of `I`, taken from the
 * other operand of an elementwise op (or from the state it is stored in). */
enum { IR_DIM_ANY = 0xff };

/* Function-level opcodes, numbered after IR_OPS. */
enum {
  FN_HVP = IR_OP_COUNT, /* args[0]: elem v; value: H v (elem, in a buffer) */
  FN_LINESEARCH,        /* args[0]: elem d; aux: OptkLineSearch; xargs:
                           scalar step0, c1, c2, max_evals; value: step */
  FN_IF,                /* args[0]: group-uniform scalar condition; index:
                           block id.  Up to the matching FN_ENDIF, the plan
                           skips the block when the condition is 0 */
  FN_ENDIF,             /* index: block id */
  FN_MATOP,             /* args[0]: first operand (ELEM or MAT); index:
                           OptkMatOp; aux: OPTK_MATOP_* flags; xargs[0]:
                           second operand or -1; xargs[1], xargs[2]:
                           scalar arguments (INV_ROOT's k, eps; GEMM's
                           alpha in xargs[1]) or -1;
                           value: ELEM (shaped like p) or MAT */
  FN_MSWEEP,            /* args[0]: a MAT (or scalar) value written to a
                           buffer by a sweep over its domain; index: the
                           buffer (a matrix state) or -1 (a scratch);
                           value: MAT, the buffer's contents */
  FN_MREDUCE,           /* args[0]: MAT value; aux: OptkReduceKind;
                           value: the tensor-scope reduction over its
                           elements (scalar) */
  FN_HESSIAN,           /* value: the dense Hessian at the current p, MAT
                           (N, N); one tensor per group */
  FN_GNB,               /* value: the host's Gauss-Newton-Bartlett gradient
                           at the current p (elem, in a buffer) */
  FN_HIST_DIR,          /* args[0]: elem v; index: the history's first
                           buffer; out: its first scalar state; value:
                           the L-BFGS direction (elem, in a buffer) */
  FN_HIST_PUSH,         /* args[0], args[1]: elem s, y; index, out as
                           FN_HIST_DIR; no value (an effect) */
  FN_OP_END
};

typedef struct IrFInst {
  int op;           /* IrOp or FN_* */
  int32_t args[3];  /* earlier values; -1 unused */
  int32_t index;    /* as in IR_OPS (buffer, hyper, site, state ...) */
  int32_t aux;      /* as in IR_OPS; LOAD/LOSS: version; REDUCE: kind */
  double imm;       /* CONST */
  Span span;
  IrShape shape;
  bool uniform;     /* scalar values: equal for every tensor of the group */
  int32_t xargs[4]; /* FN_LINESEARCH scalar arguments, FN_MATOP's */
  uint8_t mdim[2];  /* IR_SHAPE_MAT: OptkDim or IR_DIM_ANY */
  int32_t out;      /* FN_MATOP, FN_HESSIAN: > 1, the matrix state buffer
                       the op writes (its value then lives there); else a
                       scratch */
} IrFInst;

/* REDUCE at this level: args[0] the input (elem or scalar), aux an
 * OptkReduceKind, index an OptkScope; the value is the combined result. */

typedef struct IrFunc {
  IrFInst *data;
  int len, cap;
  int nsites;  /* RNG call sites used */
  int nblocks; /* FN_IF blocks used */
} IrFunc;

const char *irf_op_name(int op);
int irf_op_nargs(int op);
bool irf_is_pure(int op);         /* no effect: may be merged or deleted */
bool irf_is_barrier(const IrFInst *in);
/* True when the value is per element (ELEM shape or hvp's result). */
bool irf_is_elem(const IrFInst *in);
/* True for MAT values (see IR_SHAPE_MAT). */
bool irf_is_mat(const IrFInst *in);
/* True when the value is one number per step and tensor (scalar shape, a
 * reduction, a linesearch's step). */
bool irf_is_scalar(const IrFInst *in);

void irf_init(IrFunc *f);
void irf_free(IrFunc *f);
/* Appends a copy of `in`; returns its value number. */
int irf_push(IrFunc *f, const IrFInst *in);
/* Builders: shape and uniformity follow from the arguments. */
int irf_const(IrFunc *f, double v, Span at);
int irf_leaf(IrFunc *f, IrOp op, int index, int aux, IrShape shape, Span at);
int irf_op1(IrFunc *f, IrOp op, int a, Span at);
int irf_op2(IrFunc *f, IrOp op, int a, int b, Span at);
int irf_op3(IrFunc *f, IrOp op, int a, int b, int c, Span at);

/* Rebuilding for passes.  map[old] = new value (or -1).  The callback
 * emits the replacement of old instruction `i` into `out` (its arguments
 * already renamed in `in`) and returns its value, or -1 to drop it. */
typedef int (*IrfRewriteFn)(void *user, IrFunc *out, const IrFunc *old, int i,
                            IrFInst *in);
void irf_rebuild(IrFunc *f, IrfRewriteFn fn, void *user);

/* Textual form (docs/ir.md).  `tables` (may be NULL) names hypers,
 * buffers and scalar states; without it they print as #N / bufN. */
void irf_print(Str *out, const IrFunc *f, const char *title, const IrProgram *tables);
/* Checks SSA order, argument counts and shapes, block nesting.  Returns 0
 * or -1 with a message in *err (caller frees). */
int irf_verify(const IrFunc *f, char **err);

/* ---- passes (pass_*.c); each returns the number of changes ---------- */
int pass_fold(IrFunc *f);
int pass_simplify(IrFunc *f);
int pass_cse(IrFunc *f);
int pass_dce(IrFunc *f);
int pass_hoist(IrFunc *f);
int pass_contract(IrFunc *f);
int pass_bcast(IrFunc *f);

/* Folds op over constant arguments; false when it does not apply. */
bool irf_fold_value(int op, const double *a, int32_t index, double *out);

/* ---- the sweep scheduler (sched.c) ----------------------------------- */
/* Turns `body` (the step) and `init` (state initialisation) into the plan
 * of `prog`, whose hypers, buffers and scalar states lower_program filled.
 * Appends scratch buffers and fills the static costs.  Returns the number
 * of errors reported. */
int sched_build(IrProgram *prog, const IrFunc *body, const IrFunc *init,
                DiagSink *diags);

#endif
