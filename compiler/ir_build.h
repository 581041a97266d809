/* ir_build.h: small builders for the scheduled IrProgram of ir.h.
 *
 * Everything is allocated in prog->arena, so ir_program_free releases it
 * all at once.  Arrays grow by doubling inside the arena: only append
 * through these functions (a capacity is implied by the count).  Stages
 * are addressed by index because appending a stage may move the array.
 * Tests hand-build programs with these; the scheduler may use them too.
 */
#ifndef OPTC_IR_BUILD_H
#define OPTC_IR_BUILD_H

#include "ir.h"

/* Zeroes *prog, initialises its arena and copies `name`. */
void ir_program_init(IrProgram *prog, const char *name);

/* Each returns the index of the new entry. */
int ir_program_add_hyper(IrProgram *prog, const char *name, double def, double lo,
                         double hi, uint32_t flags);
int ir_program_add_buffer(IrProgram *prog, const char *name, OptkBufRole role,
                          OptkDType dtype, OptkDim dim0, OptkDim dim1);
int ir_program_add_sstate(IrProgram *prog, const char *name, OptkDType dtype,
                          double init);
/* Appends a stage with plan op `op` to the step plan (init = false) or to
 * the init plan.  SWEEP stages get compute = OPTK_F32. */
int ir_program_add_stage(IrProgram *prog, bool init, OptkOp op);
/* The stage at `index` of the step plan or of the init plan. */
IrStage *ir_program_stage(IrProgram *prog, bool init, int index);

/* Plan ops (unused operands are -1 where the ABI reads them as "none"). */
OptkOp ir_op_scalar(int fn);
OptkOp ir_op_sweep(int fn);
OptkOp ir_op_combine(int first, int count, OptkScope scope, OptkReduceKind kind);
OptkOp ir_op_jump(int target);
OptkOp ir_op_jump_if_zero(int target, int slot);
OptkOp ir_op_matop(OptkMatOp fn, int a, int b, int c, int slot, uint32_t flags);

/* Appends an instruction to stage `st`; returns its index in the stage. */
int ir_stage_add_inst(IrProgram *prog, IrStage *st, IrInst inst);
/* Arithmetic: `op` with value arguments a, b, c (-1 where unused). */
int ir_emit(IrProgram *prog, IrStage *st, IrOp op, int a, int b, int c);
/* Leaves that take an index (HYPER, RED, SLOT, SSTATE, LOAD) or none. */
int ir_emit_leaf(IrProgram *prog, IrStage *st, IrOp op, int index);
int ir_emit_const(IrProgram *prog, IrStage *st, double v);
int ir_emit_rng(IrProgram *prog, IrStage *st, int site, IrRngKind kind);
int ir_emit_powi(IrProgram *prog, IrStage *st, int a, int exponent);
/* Effects with an index: STORE (buffer), SLOT_SET, SSTATE_SET. */
int ir_emit_set(IrProgram *prog, IrStage *st, IrOp op, int index, int value);
int ir_emit_reduce(IrProgram *prog, IrStage *st, int red, OptkReduceKind kind,
                   int value);

/* Numbers as the IR printer and `optc info` write them: integral values
 * below 1e15 as integers ("10"), others as the shortest text that reads
 * back exactly (str_put_double: "0.001", "1e-08", "inf"). */
void ir_print_number(Str *out, double v);

#endif
