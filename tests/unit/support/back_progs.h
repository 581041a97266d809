/* back_progs.h: hand-built IrPrograms shared by the back-end tests
 * (back_codegen.c, back_jit_leak.c, back_aot.c, back_jit_mathlib.c).  Header-only so that the
 * front-end tests, which also compile tests/unit/support/, do not need the
 * IR builders. */
#ifndef OPTC_TEST_BACK_PROGS_H
#define OPTC_TEST_BACK_PROGS_H

#include "ir_build.h"

/* hyper lr = 0.5; state m (f32); nslot = 1.
 *   SCALAR 0: slot0 = lr * sqrt(t)
 *   SWEEP 0:  m = 0.9 * m + 0.1 * g;  p = p - slot0 * g
 *   init SWEEP 1: m = 0 */
static inline void back_prog_axpy(IrProgram *p) {
  ir_program_init(p, "axpy");
  ir_program_add_hyper(p, "lr", 0.5, 0, 1, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI);
  ir_program_add_buffer(p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "m", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  p->nslot = 1;
  IrStage *s = ir_program_stage(p, false, ir_program_add_stage(p, false, ir_op_scalar(0)));
  int lr = ir_emit_leaf(p, s, IR_HYPER, 0);
  int t = ir_emit_leaf(p, s, IR_STEP, 0);
  int v = ir_emit(p, s, IR_MUL, lr, ir_emit(p, s, IR_SQRT, t, -1, -1), -1);
  ir_emit_set(p, s, IR_SLOT_SET, 0, v);
  IrStage *w = ir_program_stage(p, false, ir_program_add_stage(p, false, ir_op_sweep(0)));
  int pv = ir_emit_leaf(p, w, IR_LOAD, 0), g = ir_emit_leaf(p, w, IR_LOAD, 1);
  int m = ir_emit_leaf(p, w, IR_LOAD, 2);
  int a = ir_emit(p, w, IR_MUL, ir_emit_const(p, w, 0.9), m, -1);
  int b = ir_emit(p, w, IR_MUL, ir_emit_const(p, w, 0.1), g, -1);
  ir_emit_set(p, w, IR_STORE, 2, ir_emit(p, w, IR_ADD, a, b, -1));
  int step = ir_emit(p, w, IR_MUL, ir_emit_leaf(p, w, IR_SLOT, 0), g, -1);
  ir_emit_set(p, w, IR_STORE, 0, ir_emit(p, w, IR_SUB, pv, step, -1));
  IrStage *z = ir_program_stage(p, true, ir_program_add_stage(p, true, ir_op_sweep(1)));
  ir_emit_set(p, z, IR_STORE, 2, ir_emit_const(p, z, 0));
  p->sweeps = 1;
  p->bytes_per_element = 20;
  p->state_bytes_per_element = 4;
}

/* The buffers of an elementwise math test: p and g (f32), x and y (dt),
 * then nout outputs "out" (dt), all shaped like p (buffers 4..). */
static inline void back_prog_math_buffers(IrProgram *p, const char *name, OptkDType dt,
                                          int nout) {
  ir_program_init(p, name);
  ir_program_add_buffer(p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "x", OPTK_BUF_STATE, dt, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "y", OPTK_BUF_STATE, dt, OPTK_DIM_N, OPTK_DIM_ONE);
  for (int k = 0; k < nout; k++)
    ir_program_add_buffer(p, "out", OPTK_BUF_STATE, dt, OPTK_DIM_N, OPTK_DIM_ONE);
}

#endif
