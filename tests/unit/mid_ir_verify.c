/* mid_ir_verify.c: the scheduled-IR verifier accepts a well-formed program
 * and rejects each malformed variant with its exact message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "interp.h"
#include "ir_build.h"

/* A well-formed program using every plan op kind:
 *   0 scalar 0: slot0 = lr, slot1 = (t > 1), slot2..5 = 1
 *   1 sweep 0: red0 += g^2 (sum), red1 = max |g|
 *   2 combine red0 group sum; 3 combine red1 tensor max
 *   4 scalar 1: slot6 = red0 + red1
 *   5 jump_if_zero slot1 -> 7
 *   6 hvp v=g out=hv
 *   7 matop gemm g' g -> G (cols x cols)
 *   8 sweep 1: m = m * slot6 + g; p -= slot0 * m
 *   9 jump -> 10 */
static void build(IrProgram *p) {
  ir_program_init(p, "vfy");
  ir_program_add_hyper(p, "lr", 0.1, 0, 1, OPTK_HYPER_HAS_LO | OPTK_HYPER_HAS_HI);
  ir_program_add_buffer(p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "m", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "hv", OPTK_BUF_SCRATCH, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "G", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_COLS, OPTK_DIM_COLS);
  ir_program_add_sstate(p, "seen", OPTK_F64, 0);
  p->nslot = 7;
  p->nred = 2;
  ir_program_add_stage(p, false, ir_op_scalar(0));
  IrStage *s = ir_program_stage(p, false, 0);
  ir_emit_set(p, s, IR_SLOT_SET, 0, ir_emit_leaf(p, s, IR_HYPER, 0));
  int t = ir_emit_leaf(p, s, IR_STEP, 0), one = ir_emit_const(p, s, 1);
  ir_emit_set(p, s, IR_SLOT_SET, 1, ir_emit(p, s, IR_GT, t, one, -1));
  for (int i = 2; i < 6; i++) ir_emit_set(p, s, IR_SLOT_SET, i, one);
  ir_emit_set(p, s, IR_SSTATE_SET, 0, ir_emit(p, s, IR_ADD, ir_emit_leaf(p, s, IR_SSTATE, 0),
                                              one, -1));
  ir_program_add_stage(p, false, ir_op_sweep(0));
  IrStage *w = ir_program_stage(p, false, 1);
  int g = ir_emit_leaf(p, w, IR_LOAD, 1);
  ir_emit_reduce(p, w, 0, OPTK_RED_SUM, ir_emit(p, w, IR_MUL, g, g, -1));
  ir_emit_reduce(p, w, 1, OPTK_RED_MAX, ir_emit(p, w, IR_ABS, g, -1, -1));
  ir_program_add_stage(p, false, ir_op_combine(0, 1, OPTK_SCOPE_GROUP, OPTK_RED_SUM));
  ir_program_add_stage(p, false, ir_op_combine(1, 1, OPTK_SCOPE_TENSOR, OPTK_RED_MAX));
  ir_program_add_stage(p, false, ir_op_scalar(1));
  s = ir_program_stage(p, false, 4);
  int r0 = ir_emit_leaf(p, s, IR_RED, 0), r1 = ir_emit_leaf(p, s, IR_RED, 1);
  ir_emit_set(p, s, IR_SLOT_SET, 6, ir_emit(p, s, IR_ADD, r0, r1, -1));
  ir_program_add_stage(p, false, ir_op_jump_if_zero(7, 1));
  ir_program_add_stage(p, false, (OptkOp){.kind = OPTK_OP_HVP, .a = 1, .b = 3, .c = -1, .d = -1});
  ir_program_add_stage(p, false, ir_op_matop(OPTK_MAT_GEMM, 1, 1, 4, -1, OPTK_MATOP_TRANS_A));
  ir_program_add_stage(p, false, ir_op_sweep(1));
  w = ir_program_stage(p, false, 8);
  int pv = ir_emit_leaf(p, w, IR_LOAD, 0), m = ir_emit_leaf(p, w, IR_LOAD, 2);
  g = ir_emit_leaf(p, w, IR_LOAD, 1);
  int m2 = ir_emit(p, w, IR_FMA, m, ir_emit_leaf(p, w, IR_SLOT, 6), g);
  ir_emit_set(p, w, IR_STORE, 2, m2);
  int d = ir_emit(p, w, IR_MUL, ir_emit_leaf(p, w, IR_SLOT, 0), m2, -1);
  ir_emit_set(p, w, IR_STORE, 0, ir_emit(p, w, IR_SUB, pv, d, -1));
  ir_program_add_stage(p, false, ir_op_jump(10));
}

static IrInst *inst(IrProgram *p, int stage, int i) {
  return &ir_program_stage(p, false, stage)->insts[i];
}

typedef void (*Mutate)(IrProgram *p);

static void later_arg(IrProgram *p) { inst(p, 8, 4)->args[1] = 7; }
static void missing_arg(IrProgram *p) { inst(p, 8, 4)->args[2] = -1; }
static void load_in_scalar(IrProgram *p) { inst(p, 0, 0)->op = IR_LOAD; }
static void hyper_in_sweep(IrProgram *p) { inst(p, 1, 0)->op = IR_HYPER; }
static void buffer_range(IrProgram *p) { inst(p, 1, 0)->index = 9; }
static void store_g(IrProgram *p) { inst(p, 8, 5)->index = 1; }
static void store_matrix(IrProgram *p) { inst(p, 8, 5)->index = 4; }
static void load_matrix(IrProgram *p) { inst(p, 8, 1)->index = 4; }
static void slot_unset(IrProgram *p) { inst(p, 8, 3)->index = 5; inst(p, 0, 9)->index = 4; }
static void slot_range(IrProgram *p) { inst(p, 8, 3)->index = 7; }
static void hyper_range(IrProgram *p) { inst(p, 0, 0)->index = 1; }
static void sstate_range(IrProgram *p) { inst(p, 0, 10)->index = 2; }
static void bad_opcode(IrProgram *p) { inst(p, 1, 0)->op = IR_OP_COUNT; }
static void red_range(IrProgram *p) { inst(p, 1, 2)->index = 2; }
static void red_twice(IrProgram *p) { inst(p, 1, 4)->index = 0; }
static void red_kind(IrProgram *p) { inst(p, 1, 2)->aux = 5; }
static void rng_kind(IrProgram *p) {
  inst(p, 1, 0)->op = IR_RNG;
  inst(p, 1, 0)->aux = 3;
}
static void red_read_early(IrProgram *p) { ir_program_stage(p, false, 3)->op = ir_op_jump(4); }
static void combine_other_kind(IrProgram *p) { ir_program_stage(p, false, 3)->op.a = 0; }
static void combine_range(IrProgram *p) { ir_program_stage(p, false, 3)->op.b = 2; }
static void combine_kind(IrProgram *p) { ir_program_stage(p, false, 3)->op.flags = OPTK_RED_SUM; }
static void jump_back(IrProgram *p) { ir_program_stage(p, false, 5)->op.a = 2; }
static void jump_far(IrProgram *p) { ir_program_stage(p, false, 9)->op.a = 11; }
static void jump_slot(IrProgram *p) { ir_program_stage(p, false, 5)->op.b = 6 + 10; }
static void fn_twice(IrProgram *p) { ir_program_stage(p, false, 4)->op.fn = 0; }
static void gemm_shape(IrProgram *p) { ir_program_stage(p, false, 7)->op.flags = 0; }
static void matop_into_g(IrProgram *p) { ir_program_stage(p, false, 7)->op.c = 1; }
static void hvp_out_g(IrProgram *p) { ir_program_stage(p, false, 6)->op.b = 1; }
static void hvp_matrix(IrProgram *p) { ir_program_stage(p, false, 6)->op.a = 4; }
static void insts_on_barrier(IrProgram *p) {
  IrStage *st = ir_program_stage(p, false, 2);
  ir_emit_const(p, st, 1);
}
static void bad_kind(IrProgram *p) { ir_program_stage(p, false, 9)->op.kind = 12; }
static void compute_bf16(IrProgram *p) { ir_program_stage(p, false, 1)->compute = OPTK_BF16; }
static void role_p(IrProgram *p) { p->bufs[0].role = OPTK_BUF_STATE; }
static void role_state(IrProgram *p) { p->bufs[2].role = OPTK_BUF_GRAD; }
static void bad_dim(IrProgram *p) { p->bufs[2].dim1 = 7; }
static void hyper_default(IrProgram *p) { p->hypers[0].def = 2; }
static void hyper_open(IrProgram *p) {
  p->hypers[0].def = 0;
  p->hypers[0].flags |= OPTK_HYPER_LO_OPEN;
}
static void init_slot(IrProgram *p) {
  ir_program_add_stage(p, true, ir_op_sweep(2));
  IrStage *w = ir_program_stage(p, true, 0);
  ir_emit_set(p, w, IR_STORE, 2, ir_emit_leaf(p, w, IR_SLOT, 0));
}
static void fn_gap(IrProgram *p) { ir_program_stage(p, false, 8)->op.fn = 2; }

typedef struct Case {
  const char *name;
  Mutate mutate;
  const char *message;
} Case;

static const Case CASES[] = {
    {"later_arg", later_arg,
     "op 8 (sweep 1): %4 = fma: argument 2 refers to %7, not an earlier instruction"},
    {"missing_arg", missing_arg,
     "op 8 (sweep 1): %4 = fma: argument 3 refers to %-1, not an earlier instruction"},
    {"load_in_scalar", load_in_scalar, "op 0 (scalar 0): %0 = load: not allowed in a scalar stage"},
    {"hyper_in_sweep", hyper_in_sweep, "op 1 (sweep 0): %0 = hyper: not allowed in a sweep stage"},
    {"buffer_range", buffer_range, "op 1 (sweep 0): %0 = load: buffer 9 out of range (5 buffers)"},
    {"store_g", store_g, "op 8 (sweep 1): %5 = store: cannot store into g (read-only)"},
    {"store_matrix", store_matrix, "op 8 (sweep 1): %5 = store: cannot store into G: not shaped like p"},
    {"load_matrix", load_matrix, "op 8 (sweep 1): %1 = load: buffer G cannot be loaded elementwise"},
    {"slot_unset", slot_unset,
     "op 8 (sweep 1): %3 = slot: slot5 is read before any scalar stage writes it"},
    {"slot_range", slot_range, "op 8 (sweep 1): %3 = slot: slot7 out of range (7 slots)"},
    {"hyper_range", hyper_range, "op 0 (scalar 0): %0 = hyper: hyper 1 out of range (1 hypers)"},
    {"sstate_range", sstate_range,
     "op 0 (scalar 0): %10 = sstate: scalar state 2 out of range (1 scalar states)"},
    {"bad_opcode", bad_opcode, "op 1 (sweep 0): %0 = ?: bad opcode 48"},
    {"red_range", red_range, "op 1 (sweep 0): %2 = reduce: red2 out of range (2 reductions)"},
    {"red_twice", red_twice, "op 1 (sweep 0): %4 = reduce: red0 reduced twice"},
    {"red_kind", red_kind, "op 1 (sweep 0): %2 = reduce: bad reduction kind 5"},
    {"rng_kind", rng_kind, "op 1 (sweep 0): %0 = rng: bad random kind 3"},
    {"red_read_early", red_read_early,
     "op 4 (scalar 1): %1 = red: red1 is read before a combine produces it"},
    {"combine_other_kind", combine_other_kind,
     "op 3 (combine): red0: combine kind differs from the sweep's"},
    {"combine_range", combine_range, "op 3 (combine): combine red1..2 out of range (2 reductions)"},
    {"combine_kind", combine_kind, "op 3 (combine): red1: combine kind differs from the sweep's"},
    {"jump_back", jump_back, "op 5 (jump_if_zero): jump target 2 must be after this op and at most 10"},
    {"jump_far", jump_far, "op 9 (jump): jump target 11 must be after this op and at most 10"},
    {"jump_slot", jump_slot, "op 5 (jump_if_zero): slot16 out of range (7 slots)"},
    {"fn_twice", fn_twice, "op 4 (scalar 0): function number 0 used twice"},
    {"fn_gap", fn_gap, "op 8 (sweep 2): function number 2 out of range (2)"},
    {"gemm_shape", gemm_shape, "op 7 (matop): matop shapes do not agree"},
    {"matop_into_g", matop_into_g, "op 7 (matop): output buffer cannot be g (read-only)"},
    {"hvp_out_g", hvp_out_g, "op 6 (hvp): output buffer cannot be g (read-only)"},
    {"hvp_matrix", hvp_matrix, "op 6 (hvp): hvp buffers must be shaped like p"},
    {"insts_on_barrier", insts_on_barrier,
     "op 2 (combine): only scalar and sweep stages have instructions"},
    {"bad_kind", bad_kind, "op 9 (?): bad op kind 12"},
    {"compute_bf16", compute_bf16, "op 1 (sweep 0): compute type must be f32 or f64"},
    {"role_p", role_p, "buffer 0 (p) must be p"},
    {"role_state", role_state, "buffer 2 (m): role must be state or scratch"},
    {"bad_dim", bad_dim, "buffer m: bad dims 3, 7"},
    {"hyper_default", hyper_default, "hyper lr: default outside its range"},
    {"hyper_open", hyper_open, "hyper lr: default outside its range"},
    {"init_slot", init_slot, "init op 0 (sweep 2): %0 = slot: slot0 is read before any scalar stage writes it"},
};

static void test_valid(void **state) {
  (void)state;
  IrProgram p;
  build(&p);
  char *err = NULL;
  int rc = ir_verify_program(&p, &err);
  if (rc != 0) fail_msg("rejected: %s", err);
  assert_null(err);
  ir_program_free(&p);
}

static void test_cases(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    IrProgram p;
    build(&p);
    CASES[i].mutate(&p);
    char *err = NULL;
    int rc = ir_verify_program(&p, &err);
    if (rc != -1) fail_msg("case %s: accepted", CASES[i].name);
    if (strcmp(err, CASES[i].message) != 0)
      fail_msg("case %s: got \"%s\"", CASES[i].name, err);
    free(err);
    ir_program_free(&p);
  }
}

/* A combine before any sweep reduces into its range. */
static void test_combine_before_sweep(void **state) {
  (void)state;
  IrProgram p;
  build(&p);
  IrStage *sw = ir_program_stage(&p, false, 1);
  sw->op = ir_op_combine(0, 1, OPTK_SCOPE_TENSOR, OPTK_RED_SUM);
  sw->ninsts = 0;
  char *err = NULL;
  assert_int_equal(ir_verify_program(&p, &err), -1);
  assert_string_equal(err, "op 1 (combine): red0 is combined before any sweep reduces it");
  free(err);
  ir_program_free(&p);
}

static void test_minimal(void **state) {
  (void)state;
  IrProgram p;
  ir_program_init(&p, "empty");
  char *err = NULL;
  assert_int_equal(ir_verify_program(&p, &err), -1);
  assert_string_equal(err, "the program must have buffers p and g");
  free(err);
  ir_program_add_buffer(&p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(&p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  assert_int_equal(ir_verify_program(&p, &err), 0);
  ir_program_free(&p);
}

static void test_matop_shapes(void **state) {
  (void)state;
  IrProgram p;
  ir_program_init(&p, "mat");
  ir_program_add_buffer(&p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(&p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(&p, "L", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_ROWS, OPTK_DIM_ROWS);
  ir_program_add_buffer(&p, "r", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_ROWS, OPTK_DIM_ONE);
  ir_program_add_buffer(&p, "c", OPTK_BUF_STATE, OPTK_F32, OPTK_DIM_ONE, OPTK_DIM_COLS);
  ir_program_add_buffer(&p, "T", OPTK_BUF_SCRATCH, OPTK_F32, OPTK_DIM_COLS, OPTK_DIM_ROWS);
  p.nslot = 2;
  ir_program_add_stage(&p, false, ir_op_scalar(0));
  IrStage *s = ir_program_stage(&p, false, 0);
  ir_emit_set(&p, s, IR_SLOT_SET, 0, ir_emit_const(&p, s, 4));
  ir_emit_set(&p, s, IR_SLOT_SET, 1, ir_emit_const(&p, s, 1e-6));
  OptkOp good[] = {
      ir_op_matop(OPTK_MAT_GEMM, 1, 1, 2, -1, OPTK_MATOP_TRANS_B),
      ir_op_matop(OPTK_MAT_INV_ROOT, 2, -1, 2, 0, 0),
      ir_op_matop(OPTK_MAT_SOLVE, 2, 1, 0, -1, 0),
      ir_op_matop(OPTK_MAT_EIGVECS, 2, -1, 2, -1, 0),
      ir_op_matop(OPTK_MAT_TRANSPOSE, 1, -1, 5, -1, 0),
      ir_op_matop(OPTK_MAT_ROWMEAN, 1, -1, 3, -1, 0),
      ir_op_matop(OPTK_MAT_COLMEAN, 1, -1, 4, -1, 0),
      ir_op_matop(OPTK_MAT_IDENTITY, -1, -1, 2, 1, 0),
      ir_op_matop(OPTK_MAT_COPY, 1, -1, 0, -1, 0),
  };
  OptkOp bad[] = {
      ir_op_matop(OPTK_MAT_GEMM, 1, 1, 2, -1, 0),
      ir_op_matop(OPTK_MAT_INV_ROOT, 1, -1, 1, 0, 0),
      ir_op_matop(OPTK_MAT_SOLVE, 2, 4, 4, -1, 0),
      ir_op_matop(OPTK_MAT_TRANSPOSE, 1, -1, 0, -1, 0),
      ir_op_matop(OPTK_MAT_ROWMEAN, 1, -1, 4, -1, 0),
      ir_op_matop(OPTK_MAT_COLMEAN, 1, -1, 3, -1, 0),
      ir_op_matop(OPTK_MAT_IDENTITY, -1, -1, 3, -1, 0),
      ir_op_matop(OPTK_MAT_COPY, 2, -1, 0, -1, 0),
  };
  ir_program_add_stage(&p, false, good[0]);
  char *err = NULL;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    ir_program_stage(&p, false, 1)->op = good[i];
    if (ir_verify_program(&p, &err) != 0) fail_msg("good %zu: %s", i, err);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ir_program_stage(&p, false, 1)->op = bad[i];
    assert_int_equal(ir_verify_program(&p, &err), -1);
    if (strstr(err, "matop shapes do not agree") == NULL &&
        strstr(err, "cannot be g") == NULL)
      fail_msg("bad %zu: %s", i, err);
    free(err);
  }
  ir_program_free(&p);
}

/* Random single-field corruptions: the verifier either rejects the
 * program or the printer and the interpreter run it without crashing. */
static uint64_t next(uint64_t *x) {
  *x = optk_mix64(*x + 0x9e3779b97f4a7c15ull);
  return *x;
}

static void corrupt(IrProgram *p, uint64_t *rng) {
  int si = (int)(next(rng) % (uint64_t)p->nstages);
  IrStage *st = ir_program_stage(p, false, si);
  int v = (int)(next(rng) % 14) - 2;
  if (st->ninsts == 0 || next(rng) % 4 == 0) {
    int32_t *f[] = {&st->op.a, &st->op.b, &st->op.c, &st->op.d};
    if (next(rng) % 5 == 0) st->op.fn = (uint16_t)v;
    else *f[next(rng) % 4] = v;
    return;
  }
  IrInst *in = &st->insts[next(rng) % (uint64_t)st->ninsts];
  switch (next(rng) % 4) {
  case 0: in->op = (IrOp)(next(rng) % IR_OP_COUNT); break;
  case 1: in->args[next(rng) % 3] = v; break;
  case 2: in->index = v; break;
  default: in->aux = v; break;
  }
}

static int hvp_zero(void *user, int nt, const double *const *v, double *const *out,
                    char **err) {
  (void)user;
  (void)v;
  (void)out;
  (void)nt;
  (void)err;
  return 0;
}

static void test_random_corruptions(void **state) {
  (void)state;
  uint64_t rng = 7;
  int accepted = 0;
  for (int iter = 0; iter < 3000; iter++) {
    IrProgram p;
    build(&p);
    corrupt(&p, &rng);
    Str out = {0};
    ir_print_program(&out, &p);
    str_free(&out);
    char *err = NULL;
    InterpOptions o = {.host = {.hvp = hvp_zero}};
    Interp *in = interp_create(&p, &o, &err);
    if (in) {
      accepted++;
      float pv[6] = {1, 2, 3, 4, 5, 6}, g[6] = {1, -1, 2, -2, 3, -3};
      interp_add_tensor(in, pv, g, 2, 3, &err);
      for (int s = 0; s < 2; s++)
        if (interp_step(in, 0.5, &err) != 0) {
          free(err);
          break;
        }
      interp_free(in);
    } else {
      assert_non_null(err);
      free(err);
    }
    ir_program_free(&p);
  }
  assert_true(accepted > 100 && accepted < 2900);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_cases),
      cmocka_unit_test(test_combine_before_sweep),
      cmocka_unit_test(test_minimal),
      cmocka_unit_test(test_matop_shapes),
      cmocka_unit_test(test_random_corruptions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
