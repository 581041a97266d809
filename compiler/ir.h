/* ir.h: optc's intermediate representation.
 *
 * Two levels share one instruction set (IR_OPS):
 *
 * 1. The function body built by lower.c: typed SSA over one flat list of
 *    instructions per region, each instruction classified by `shape`:
 *    IR_SHAPE_SCALAR (per-step scalar math, in double), IR_SHAPE_ELEM
 *    (one value per element of the parameter: elementwise sweeps) and
 *    barriers (reductions, host calls, matrix ops).  Passes (pass_*.c) work
 *    on this level.  Its exact form is owned by lower.c / the passes and
 *    documented in docs/ir.md.
 *
 * 2. The scheduled program (IrProgram below), produced by the sweep
 *    scheduler: the step plan of the kernel ABI (runtime/include/optk.h),
 *    where each SCALAR stage and each SWEEP stage carries its own list of
 *    instructions.  Code generation (codegen.c) and the reference
 *    interpreter (interp.c) consume only this level; `optc emit-ir`
 *    prints both.
 *
 * Inside a stage, instruction arguments are indices of earlier
 * instructions of the same stage (SSA, in order).  Values cross stages only
 * through memory: slots (scalars from a SCALAR stage to later sweeps and
 * jumps), reductions (sweep partials combined by a COMBINE op), buffers
 * and scalar states.
 */
#ifndef OPTC_IR_H
#define OPTC_IR_H

#include "../runtime/include/optk.h"
#include "diag.h"

/* X(name, number of value arguments) */
#define IR_OPS(X)                                                          \
  /* leaves */                                                             \
  X(CONST, 0)   /* imm                                                  */ \
  X(HYPER, 0)   /* index: hyper                       (scalar stages)   */ \
  X(STEP, 0)    /* t                                   (scalar stages)   */ \
  X(LOSS, 0)    /* f                                   (scalar stages)   */ \
  X(NUMEL, 0)   /* n                                   (any stage)       */ \
  X(ROWS, 0)    /*                                     (any stage)       */ \
  X(COLS, 0)    /*                                     (any stage)       */ \
  X(RED, 0)     /* index: combined reduction result    (scalar stages)   */ \
  X(SLOT, 0)    /* index: slot written by a SCALAR stage (sweeps)        */ \
  X(SSTATE, 0)  /* index: scalar state, its value at stage entry         */ \
  X(LOAD, 0)    /* index: buffer; element at the broadcast position of   */ \
                /* the current element (by the buffer's dims)   (sweeps) */ \
  X(RNG, 0)     /* index: call site; aux: IrRngKind             (sweeps) */ \
  X(ROW_INDEX, 0) /* row of the current element (2-D)           (sweeps) */ \
  X(COL_INDEX, 0) /* column of the current element              (sweeps) */ \
  /* arithmetic (scalar stages in double; sweeps in their compute type) */ \
  X(NEG, 1)                                                                \
  X(ADD, 2)                                                                \
  X(SUB, 2)                                                                \
  X(MUL, 2)                                                                \
  X(DIV, 2)                                                                \
  X(MOD, 2)     /* fmod(a, b) (scalar stages: `every K` tests (t-1) mod K) */ \
  X(FMA, 3)     /* a * b + c, one rounding                              */ \
  X(POW, 2)                                                                \
  X(POWI, 1)    /* index: integer exponent                              */ \
  X(SQRT, 1)                                                               \
  X(RSQRT, 1)                                                              \
  X(EXP, 1)                                                                \
  X(LOG, 1)                                                                \
  X(LOG1P, 1)                                                              \
  X(TANH, 1)                                                               \
  X(SIGMOID, 1)                                                            \
  X(ABS, 1)                                                                \
  X(SIGN, 1)    /* -1, 0, +1 (0 for NaN's sign is NaN)                  */ \
  X(MIN, 2)     /* NaN-propagating                                      */ \
  X(MAX, 2)                                                                \
  X(LT, 2)      /* comparisons yield 1.0 or 0.0                         */ \
  X(LE, 2)                                                                 \
  X(GT, 2)                                                                 \
  X(GE, 2)                                                                 \
  X(EQ, 2)                                                                 \
  X(NE, 2)                                                                 \
  X(AND, 2)     /* nonzero && nonzero -> 1.0                            */ \
  X(OR, 2)                                                                 \
  X(NOT, 1)                                                                \
  X(SELECT, 3)  /* a != 0 ? b : c                                       */ \
  /* effects */                                                            \
  X(STORE, 1)   /* index: buffer; rounds to its dtype           (sweeps) */ \
  X(REDUCE, 1)  /* index: reduction; aux: OptkReduceKind        (sweeps) */ \
  X(SLOT_SET, 1)   /* index: slot                         (scalar stages) */ \
  X(SSTATE_SET, 1) /* index: scalar state; rounds to dtype (scalar stages)*/

typedef enum IrOp {
#define X(name, nargs) IR_##name,
  IR_OPS(X)
#undef X
  IR_OP_COUNT
} IrOp;

typedef enum IrRngKind { IR_RNG_UNIFORM, IR_RNG_NORMAL, IR_RNG_RADEMACHER } IrRngKind;

typedef struct IrInst {
  IrOp op;
  int32_t args[3];
  int32_t index; /* see IR_OPS */
  int32_t aux;
  double imm;
  Span span;     /* the user's text this value came from */
} IrInst;

typedef struct IrStage {
  OptkOp op;      /* kind and operands exactly as in the descriptor's plan;
                     op.fn of SCALAR/SWEEP is the index among stages of
                     that kind, in order; a SWEEP's op.a is its domain
                     (-1: the parameter, else a matrix buffer; optk.h
                     "Sweep domains"), a COMBINE's op.c likewise */
  IrInst *insts;  /* SCALAR and SWEEP stages */
  int ninsts;
  OptkDType compute; /* SWEEP: OPTK_F32 or OPTK_F64 arithmetic */
  int nreads, nwrites; /* SWEEP: buffers loaded / stored, for info */
} IrStage;

typedef struct IrHyper {
  const char *name;
  double def, lo, hi;
  uint32_t flags; /* OPTK_HYPER_* */
} IrHyper;

typedef struct IrBuffer {
  const char *name;
  OptkBufRole role;
  OptkDType dtype;
  OptkDim dim0, dim1;
  uint32_t count_hyper; /* OptkBuffer.count_hyper: 0, or 1 + the hyper
                           multiplying the count (history buffers) */
} IrBuffer;

typedef struct IrScalarState {
  const char *name;
  OptkDType dtype;
  double init;
} IrScalarState;

/* The scheduled program: everything a descriptor holds, with code. */
typedef struct IrProgram {
  Arena arena;
  const char *name;
  char source_sha256[65];
  uint32_t needs; /* OptkNeeds */
  IrHyper *hypers;
  int nhypers;
  IrBuffer *bufs; /* [0] = p, [1] = g, then states, then scratch */
  int nbufs;
  IrScalarState *sstates;
  int nsstates;
  int nred, nslot;
  IrStage *stages; /* the step plan */
  int nstages;
  IrStage *init_stages; /* run once when a tensor's state is created */
  int ninit_stages;
  /* static costs for f32 parameters (optc info) */
  int sweeps;
  int bytes_per_element;
  int state_bytes_per_element;
  int scratch_buffers;
} IrProgram;

const char *ir_op_name(IrOp op);

/* Whether a buffer of these dims has one element per element of p
 * ([n, 1], [1, n] or [rows, cols]): what a sweep over p streams and
 * `bytes_per_element` counts; row and column vectors and other matrices
 * are not. */
bool ir_dims_param_shaped(OptkDim d0, OptkDim d1);
int ir_op_nargs(IrOp op);

/* Prints the scheduled program in the textual form of docs/ir.md. */
void ir_print_program(Str *out, const IrProgram *prog);
/* Checks SSA order, argument counts, stage/op compatibility, index ranges
 * and jump targets.  Returns 0 or -1 with a message in *err (caller frees). */
int ir_verify_program(const IrProgram *prog, char **err);
void ir_program_free(IrProgram *prog);

#endif
