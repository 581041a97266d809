/* ir.c: opcode tables, freeing, and the builders of ir_build.h for the
 * scheduled IrProgram.
 *
 * Builders allocate in prog->arena.  An array holding `count` entries has
 * the implied capacity max(4, next power of two >= count), so appending
 * copies only when count reaches a power of two (at least 4); the old copy
 * stays in the arena until ir_program_free.
 */
#include <string.h>

#include "ir_build.h"

/* Lower-case names, in IR_OPS order (mid_ir_print checks them against the
 * X-macro's own spelling). */
/* Keep in IR_OPS order when adding an op (the assertion below counts). */
static const char *const OP_NAMES[] = {
    "const",  "hyper",   "step",    "loss",   "numel", "rows",       "cols",
    "red",    "slot",    "sstate",  "load",   "rng",   "row_index",  "col_index",
    "neg",    "add",     "sub",     "mul",    "div",   "mod",        "fma",   "pow",
    "powi",   "sqrt",    "rsqrt",   "exp",    "log",   "log1p",      "tanh",
    "sigmoid", "abs",    "sign",    "min",    "max",   "lt",         "le",
    "gt",     "ge",      "eq",      "ne",     "and",   "or",         "not",
    "select", "store",   "reduce",  "slot_set", "sstate_set",
};
_Static_assert(sizeof OP_NAMES / sizeof OP_NAMES[0] == IR_OP_COUNT,
               "OP_NAMES must follow IR_OPS");

static const int OP_NARGS[] = {
#define X(name, nargs) nargs,
    IR_OPS(X)
#undef X
};

bool ir_dims_param_shaped(OptkDim d0, OptkDim d1) {
  return (d0 == OPTK_DIM_N && d1 == OPTK_DIM_ONE) || (d0 == OPTK_DIM_ONE && d1 == OPTK_DIM_N) ||
         (d0 == OPTK_DIM_ROWS && d1 == OPTK_DIM_COLS);
}

const char *ir_op_name(IrOp op) {
  if ((unsigned)op >= IR_OP_COUNT) return "?";
  return OP_NAMES[op];
}

int ir_op_nargs(IrOp op) {
  if ((unsigned)op >= IR_OP_COUNT) return 0;
  return OP_NARGS[op];
}

void ir_program_free(IrProgram *prog) {
  if (!prog) return;
  arena_free(&prog->arena);
  memset(prog, 0, sizeof *prog);
}

/* ---- builders ---------------------------------------------------------- */

/* Returns an array with room for entry `count` (see the file comment). */
static void *grow(Arena *a, void *old, int count, size_t elem) {
  if (count == 0) return arena_alloc(a, 4 * elem);
  if (count < 4 || (count & (count - 1)) != 0) return old;
  void *fresh = arena_alloc(a, 2 * (size_t)count * elem);
  memcpy(fresh, old, (size_t)count * elem);
  return fresh;
}

void ir_program_init(IrProgram *prog, const char *name) {
  memset(prog, 0, sizeof *prog);
  arena_init(&prog->arena);
  prog->name = arena_strdup(&prog->arena, name ? name : "");
}

int ir_program_add_hyper(IrProgram *prog, const char *name, double def, double lo,
                         double hi, uint32_t flags) {
  prog->hypers = grow(&prog->arena, prog->hypers, prog->nhypers, sizeof(IrHyper));
  IrHyper *h = &prog->hypers[prog->nhypers];
  *h = (IrHyper){arena_strdup(&prog->arena, name), def, lo, hi, flags};
  return prog->nhypers++;
}

int ir_program_add_buffer(IrProgram *prog, const char *name, OptkBufRole role,
                          OptkDType dtype, OptkDim dim0, OptkDim dim1) {
  prog->bufs = grow(&prog->arena, prog->bufs, prog->nbufs, sizeof(IrBuffer));
  prog->bufs[prog->nbufs] =
      (IrBuffer){arena_strdup(&prog->arena, name), role, dtype, dim0, dim1, 0};
  return prog->nbufs++;
}

int ir_program_add_sstate(IrProgram *prog, const char *name, OptkDType dtype,
                          double init) {
  prog->sstates =
      grow(&prog->arena, prog->sstates, prog->nsstates, sizeof(IrScalarState));
  prog->sstates[prog->nsstates] =
      (IrScalarState){arena_strdup(&prog->arena, name), dtype, init};
  return prog->nsstates++;
}

int ir_program_add_stage(IrProgram *prog, bool init, OptkOp op) {
  IrStage **arr = init ? &prog->init_stages : &prog->stages;
  int *n = init ? &prog->ninit_stages : &prog->nstages;
  *arr = grow(&prog->arena, *arr, *n, sizeof(IrStage));
  (*arr)[*n] = (IrStage){.op = op, .compute = OPTK_F32};
  return (*n)++;
}

IrStage *ir_program_stage(IrProgram *prog, bool init, int index) {
  return init ? &prog->init_stages[index] : &prog->stages[index];
}

static OptkOp make_op(OptkOpKind kind, int fn, int a, int b, int c, int d) {
  return (OptkOp){.kind = (uint16_t)kind, .fn = (uint16_t)fn, .a = a, .b = b,
                  .c = c, .d = d};
}

OptkOp ir_op_scalar(int fn) { return make_op(OPTK_OP_SCALAR, fn, -1, -1, -1, -1); }
OptkOp ir_op_sweep(int fn) { return make_op(OPTK_OP_SWEEP, fn, -1, -1, -1, -1); }
OptkOp ir_op_jump(int target) { return make_op(OPTK_OP_JUMP, 0, target, -1, -1, -1); }

OptkOp ir_op_jump_if_zero(int target, int slot) {
  return make_op(OPTK_OP_JUMP_IF_ZERO, 0, target, slot, -1, -1);
}

OptkOp ir_op_combine(int first, int count, OptkScope scope, OptkReduceKind kind) {
  OptkOp op = make_op(OPTK_OP_COMBINE, 0, first, count, -1, -1);
  op.scope = (uint16_t)scope;
  op.flags = (uint16_t)kind;
  return op;
}

OptkOp ir_op_matop(OptkMatOp fn, int a, int b, int c, int slot, uint32_t flags) {
  OptkOp op = make_op(OPTK_OP_MATOP, fn, a, b, c, slot);
  op.flags = (uint16_t)flags;
  return op;
}

int ir_stage_add_inst(IrProgram *prog, IrStage *st, IrInst inst) {
  st->insts = grow(&prog->arena, st->insts, st->ninsts, sizeof(IrInst));
  st->insts[st->ninsts] = inst;
  return st->ninsts++;
}

static IrInst inst_of(IrOp op) {
  return (IrInst){.op = op, .args = {-1, -1, -1}, .span = SPAN_NONE};
}

int ir_emit(IrProgram *prog, IrStage *st, IrOp op, int a, int b, int c) {
  IrInst in = inst_of(op);
  in.args[0] = a;
  in.args[1] = b;
  in.args[2] = c;
  return ir_stage_add_inst(prog, st, in);
}

int ir_emit_leaf(IrProgram *prog, IrStage *st, IrOp op, int index) {
  IrInst in = inst_of(op);
  in.index = index;
  return ir_stage_add_inst(prog, st, in);
}

int ir_emit_const(IrProgram *prog, IrStage *st, double v) {
  IrInst in = inst_of(IR_CONST);
  in.imm = v;
  return ir_stage_add_inst(prog, st, in);
}

int ir_emit_rng(IrProgram *prog, IrStage *st, int site, IrRngKind kind) {
  IrInst in = inst_of(IR_RNG);
  in.index = site;
  in.aux = (int32_t)kind;
  return ir_stage_add_inst(prog, st, in);
}

int ir_emit_powi(IrProgram *prog, IrStage *st, int a, int exponent) {
  IrInst in = inst_of(IR_POWI);
  in.args[0] = a;
  in.index = exponent;
  return ir_stage_add_inst(prog, st, in);
}

int ir_emit_set(IrProgram *prog, IrStage *st, IrOp op, int index, int value) {
  IrInst in = inst_of(op);
  in.index = index;
  in.args[0] = value;
  return ir_stage_add_inst(prog, st, in);
}

int ir_emit_reduce(IrProgram *prog, IrStage *st, int red, OptkReduceKind kind,
                   int value) {
  IrInst in = inst_of(IR_REDUCE);
  in.index = red;
  in.aux = (int32_t)kind;
  in.args[0] = value;
  return ir_stage_add_inst(prog, st, in);
}
