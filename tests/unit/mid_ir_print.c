/* mid_ir_print.c: the text form of the scheduled IR is stable (golden
 * strings) and the opcode tables follow IR_OPS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "ir_build.h"

/* Every instruction on its own statement: argument evaluation order in C
 * is unspecified, and the golden text fixes instruction numbers. */
static void build_sgd(IrProgram *p) {
  ir_program_init(p, "sgd_momentum");
  ir_program_add_hyper(p, "lr", 0.01, 0, INFINITY,
                       OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI | OPTK_HYPER_HI_OPEN);
  ir_program_add_hyper(p, "mu", 0.9, 0, 1, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI |
                       OPTK_HYPER_HI_OPEN);
  ir_program_add_hyper(p, "wd", 0, 0, 0, 0);
  ir_program_add_buffer(p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "m", OPTK_BUF_STATE, OPTK_BF16, OPTK_DIM_N, OPTK_DIM_ONE);
  p->nslot = 2;
  p->sweeps = 1;
  p->bytes_per_element = 16;
  p->state_bytes_per_element = 2;
  ir_program_add_stage(p, false, ir_op_scalar(0));
  IrStage *s = ir_program_stage(p, false, 0);
  int lr = ir_emit_leaf(p, s, IR_HYPER, 0);
  ir_emit_set(p, s, IR_SLOT_SET, 0, lr);
  int mu = ir_emit_leaf(p, s, IR_HYPER, 1);
  ir_emit_set(p, s, IR_SLOT_SET, 1, mu);
  ir_program_add_stage(p, false, ir_op_sweep(0));
  IrStage *w = ir_program_stage(p, false, 1);
  int sl = ir_emit_leaf(p, w, IR_SLOT, 0);
  int sm = ir_emit_leaf(p, w, IR_SLOT, 1);
  int pv = ir_emit_leaf(p, w, IR_LOAD, 0);
  int g = ir_emit_leaf(p, w, IR_LOAD, 1);
  int m = ir_emit_leaf(p, w, IR_LOAD, 2);
  int m2 = ir_emit(p, w, IR_FMA, sm, m, g);
  ir_emit_set(p, w, IR_STORE, 2, m2);
  int d = ir_emit(p, w, IR_MUL, sl, m2, -1);
  int p2 = ir_emit(p, w, IR_SUB, pv, d, -1);
  ir_emit_set(p, w, IR_STORE, 0, p2);
}

static const char SGD_TEXT[] =
    "optimizer sgd_momentum\n"
    "needs: none\n"
    "hyper lr = 0.01 in [0, inf)\n"
    "hyper mu = 0.9 in [0, 1)\n"
    "hyper wd = 0\n"
    "buffer p: param f32 [n, 1]\n"
    "buffer g: grad f32 [n, 1]\n"
    "buffer m: state bf16 [n, 1]\n"
    "reductions: 0\n"
    "slots: 2\n"
    "costs: sweeps 1, bytes_per_element 16, state_bytes_per_element 2, scratch_buffers 0\n"
    "plan:\n"
    "  0: scalar 0:\n"
    "    %0 = hyper lr\n"
    "    slot_set slot0, %0\n"
    "    %2 = hyper mu\n"
    "    slot_set slot1, %2\n"
    "  1: sweep 0 (f32):\n"
    "    %0 = slot slot0\n"
    "    %1 = slot slot1\n"
    "    %2 = load p\n"
    "    %3 = load g\n"
    "    %4 = load m\n"
    "    %5 = fma %1, %4, %3\n"
    "    store m, %5\n"
    "    %7 = mul %0, %5\n"
    "    %8 = sub %2, %7\n"
    "    store p, %8\n";

static void test_sgd_golden(void **state) {
  (void)state;
  IrProgram p;
  build_sgd(&p);
  Str out = {0};
  ir_print_program(&out, &p);
  assert_string_equal(out.data, SGD_TEXT);
  str_free(&out);
  ir_program_free(&p);
}

/* Every plan op kind, the init plan, scalar states and the leaves. */
static void build_all(IrProgram *p) {
  ir_program_init(p, "everything");
  memcpy(p->source_sha256, "ab12", 5);
  p->needs = OPTK_NEED_LOSS | OPTK_NEED_HVP | OPTK_NEED_2D;
  ir_program_add_hyper(p, "k", 10, 1, 1000, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI);
  ir_program_add_buffer(p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "L", OPTK_BUF_STATE, OPTK_F64, OPTK_DIM_ROWS, OPTK_DIM_ROWS);
  ir_program_add_buffer(p, "scratch0", OPTK_BUF_SCRATCH, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_sstate(p, "seen", OPTK_F32, 0.5);
  p->nslot = 6;
  p->nred = 2;
  ir_program_add_stage(p, true, ir_op_scalar(1));
  IrStage *s = ir_program_stage(p, true, 0);
  int c = ir_emit_const(p, s, 1e-6);
  ir_emit_set(p, s, IR_SLOT_SET, 0, c);
  ir_program_add_stage(p, true, ir_op_matop(OPTK_MAT_IDENTITY, -1, -1, 2, 0, 0));
  ir_program_add_stage(p, false, ir_op_scalar(0));
  s = ir_program_stage(p, false, 0);
  int t = ir_emit_leaf(p, s, IR_STEP, 0);
  int f = ir_emit_leaf(p, s, IR_LOSS, 0);
  int n = ir_emit_leaf(p, s, IR_NUMEL, 0);
  int seen = ir_emit_leaf(p, s, IR_SSTATE, 0);
  int sum = ir_emit(p, s, IR_ADD, seen, f, -1);
  ir_emit_set(p, s, IR_SSTATE_SET, 0, sum);
  int sq = ir_emit_powi(p, s, t, -2);
  int sel = ir_emit(p, s, IR_SELECT, sq, n, t);
  for (int i = 0; i < 6; i++) ir_emit_set(p, s, IR_SLOT_SET, i, sel);
  ir_program_add_stage(p, false, ir_op_sweep(0));
  IrStage *w = ir_program_stage(p, false, 1);
  int z = ir_emit_rng(p, w, 3, IR_RNG_NORMAL);
  int r = ir_emit_leaf(p, w, IR_ROW_INDEX, 0);
  ir_emit_reduce(p, w, 0, OPTK_RED_SUM, z);
  ir_emit_reduce(p, w, 1, OPTK_RED_MAX, r);
  ir_emit_set(p, w, IR_STORE, 3, z);
  p->stages[1].compute = OPTK_F64;
  ir_program_add_stage(p, false, ir_op_combine(0, 2, OPTK_SCOPE_GROUP, OPTK_RED_SUM));
  ir_program_add_stage(p, false, ir_op_jump_if_zero(5, 2));
  ir_program_add_stage(p, false, (OptkOp){.kind = OPTK_OP_HVP, .a = 3, .b = 3, .c = -1, .d = -1});
  ir_program_add_stage(p, false, ir_op_matop(OPTK_MAT_GEMM, 1, 0, 2, -1, OPTK_MATOP_TRANS_B));
  ir_program_add_stage(p, false, ir_op_matop(OPTK_MAT_INV_ROOT, 2, -1, 2, 3, 0));
  ir_program_add_stage(p, false, ir_op_jump(9));
  ir_program_add_stage(p, false, (OptkOp){.kind = OPTK_OP_HESSIAN, .a = 2, .b = -1, .c = -1, .d = -1});
  ir_program_add_stage(p, false, (OptkOp){.kind = OPTK_OP_LINESEARCH, .a = 3,
                                          .b = OPTK_LS_WOLFE, .c = 1, .d = 5});
}

static const char ALL_TEXT[] =
    "optimizer everything\n"
    "source_sha256: ab12\n"
    "needs: loss, hvp, 2d\n"
    "hyper k = 10 in [1, 1000]\n"
    "buffer p: param f32 [n, 1]\n"
    "buffer g: grad f32 [n, 1]\n"
    "buffer L: state f64 [rows, rows]\n"
    "buffer scratch0: scratch f32 [n, 1]\n"
    "sstate seen: f32 = 0.5\n"
    "reductions: 2\n"
    "slots: 6\n"
    "costs: sweeps 0, bytes_per_element 0, state_bytes_per_element 0, scratch_buffers 0\n"
    "init:\n"
    "  0: scalar 1:\n"
    "    %0 = const 1e-06\n"
    "    slot_set slot0, %0\n"
    "  1: matop identity c=L scale=slot0\n"
    "plan:\n"
    "  0: scalar 0:\n"
    "    %0 = step\n"
    "    %1 = loss\n"
    "    %2 = numel\n"
    "    %3 = sstate seen\n"
    "    %4 = add %3, %1\n"
    "    sstate_set seen, %4\n"
    "    %6 = powi %0, -2\n"
    "    %7 = select %6, %2, %0\n"
    "    slot_set slot0, %7\n"
    "    slot_set slot1, %7\n"
    "    slot_set slot2, %7\n"
    "    slot_set slot3, %7\n"
    "    slot_set slot4, %7\n"
    "    slot_set slot5, %7\n"
    "  1: sweep 0 (f64):\n"
    "    %0 = rng normal site3\n"
    "    %1 = row_index\n"
    "    reduce red0 sum, %0\n"
    "    reduce red1 max, %1\n"
    "    store scratch0, %0\n"
    "  2: combine red0..1 sum scope=group\n"
    "  3: jump_if_zero slot2 -> 5\n"
    "  4: hvp v=scratch0 out=scratch0\n"
    "  5: matop gemm a=g b=p c=L trans_b\n"
    "  6: matop inv_root a=L c=L k=slot3 eps=slot4\n"
    "  7: jump -> 9\n"
    "  8: hessian out=L\n"
    "  9: linesearch d=scratch0 wolfe params=slot1..4 step=slot5\n";

static void test_all_golden(void **state) {
  (void)state;
  IrProgram p;
  build_all(&p);
  Str out = {0};
  ir_print_program(&out, &p);
  assert_string_equal(out.data, ALL_TEXT);
  str_free(&out);
  ir_program_free(&p);
}

/* The printer must not crash on programs the verifier rejects. */
static void test_print_malformed(void **state) {
  (void)state;
  IrProgram p;
  build_sgd(&p);
  p.stages[1].insts[2].index = 42;
  p.stages[0].insts[0].index = -3;
  p.bufs[2].dtype = 9;
  p.stages[1].insts[3].op = IR_OP_COUNT;
  Str out = {0};
  ir_print_program(&out, &p);
  assert_non_null(strstr(out.data, "%2 = load ?42\n"));
  assert_non_null(strstr(out.data, "%0 = hyper ?-3\n"));
  assert_non_null(strstr(out.data, "buffer m: state ? [n, 1]\n"));
  assert_non_null(strstr(out.data, "%3 = ?\n"));
  str_free(&out);
  ir_program_free(&p);
}

static void test_op_tables(void **state) {
  (void)state;
  static const char *const upper[] = {
#define X(name, nargs) #name,
      IR_OPS(X)
#undef X
  };
  static const int nargs[] = {
#define X(name, nargs) nargs,
      IR_OPS(X)
#undef X
  };
  for (int op = 0; op < IR_OP_COUNT; op++) {
    const char *lower = ir_op_name((IrOp)op);
    assert_int_equal(strlen(lower), strlen(upper[op]));
    for (size_t i = 0; lower[i]; i++) assert_int_equal(toupper((unsigned char)lower[i]), upper[op][i]);
    assert_int_equal(ir_op_nargs((IrOp)op), nargs[op]);
  }
  assert_string_equal(ir_op_name(IR_OP_COUNT), "?");
  assert_int_equal(ir_op_nargs((IrOp)-1), 0);
}

/* Builders: arrays grow past their implied capacities without losing
 * entries. */
static void test_builders_grow(void **state) {
  (void)state;
  IrProgram p;
  ir_program_init(&p, "grow");
  ir_program_add_buffer(&p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(&p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  char name[16];
  for (int i = 0; i < 37; i++) {
    snprintf(name, sizeof name, "h%d", i);
    assert_int_equal(ir_program_add_hyper(&p, name, i, 0, 0, 0), i);
  }
  for (int i = 0; i < 20; i++) ir_program_add_stage(&p, false, ir_op_scalar(i));
  IrStage *s = ir_program_stage(&p, false, 19);
  for (int i = 0; i < 300; i++) assert_int_equal(ir_emit_const(&p, s, i), i);
  for (int i = 0; i < 37; i++) assert_true(p.hypers[i].def == i);
  for (int i = 0; i < 300; i++) assert_true(s->insts[i].imm == i);
  for (int i = 0; i < 20; i++) assert_int_equal(p.stages[i].op.fn, i);
  char *err = NULL;
  assert_int_equal(ir_verify_program(&p, &err), 0);
  ir_program_free(&p);
  assert_int_equal(p.nhypers, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sgd_golden),
      cmocka_unit_test(test_all_golden),
      cmocka_unit_test(test_print_malformed),
      cmocka_unit_test(test_op_tables),
      cmocka_unit_test(test_builders_grow),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
