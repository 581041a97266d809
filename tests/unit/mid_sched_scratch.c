/* mid_sched_scratch.c: scratch buffers of the scheduler (compiler/
 * sched_scratch.c reuse, sched.c carried locals and merged scalars).
 *
 * Hand-built plans check the live ranges and the sharing rules one at a
 * time: a chain of hvp calls, an elementwise sweep in place, a matrix
 * domain and a matrix op that must not alias, a skippable region and a
 * loop that keep ranges open, a read before any write, unused buffers,
 * unknown op kinds.  From source, run by the interpreter against
 * references in C: a copy made inside a skipped block is not read after
 * it; Newton-CG's plan (z, r, d carried) against its CG in double; a chain
 * of merges inside an outer block (not carried).  Then the stdlib through
 * the whole pipeline (verified after every pass): newton_cg's plan size,
 * newton_cg and muon against their counts, and no rule with more scratch
 * buffers than before reuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>

#include "interp.h"
#include "mid_build_util.h"
#include "sched_scratch.h"

enum { P = 0, G = 1 };

static void base(IrProgram *p) {
  ir_program_init(p, "scr");
  ir_program_add_buffer(p, "p", OPTK_BUF_PARAM, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
  ir_program_add_buffer(p, "g", OPTK_BUF_GRAD, OPTK_F32, OPTK_DIM_N, OPTK_DIM_ONE);
}

static int scratch(IrProgram *p, OptkDim d0, OptkDim d1) {
  char name[16];
  snprintf(name, sizeof name, "s%d", p->scratch_buffers++);
  return ir_program_add_buffer(p, name, OPTK_BUF_SCRATCH, OPTK_F32, d0, d1);
}

static int vec(IrProgram *p) { return scratch(p, OPTK_DIM_N, OPTK_DIM_ONE); }

/* A sweep over `domain` (-1: the parameter) storing 2 * load (or 1 when
 * load < 0) into `store` (when >= 0).  Returns the op index. */
static int sweep(IrProgram *p, int domain, int load, int store) {
  int fn = 0;
  for (int i = 0; i < p->nstages; i++) fn += p->stages[i].op.kind == OPTK_OP_SWEEP;
  OptkOp op = ir_op_sweep(fn);
  op.a = domain;
  int at = ir_program_add_stage(p, false, op);
  IrStage *s = ir_program_stage(p, false, at);
  int v = load >= 0 ? ir_emit_leaf(p, s, IR_LOAD, load) : ir_emit_const(p, s, 1);
  int two = ir_emit_const(p, s, 2);
  int r = ir_emit(p, s, IR_MUL, v, two, -1);
  if (store >= 0) ir_emit_set(p, s, IR_STORE, store, r);
  return at;
}

static int host(IrProgram *p, OptkOpKind kind, int a, int b) {
  OptkOp op = {.kind = (uint16_t)kind, .a = a, .b = b, .c = -1, .d = -1};
  return ir_program_add_stage(p, false, op);
}

static int load_index(const IrProgram *p, int op) {
  const IrStage *s = &p->stages[op];
  for (int i = 0; i < s->ninsts; i++)
    if (s->insts[i].op == IR_LOAD) return s->insts[i].index;
  return -1;
}

static int store_index(const IrProgram *p, int op) {
  const IrStage *s = &p->stages[op];
  for (int i = 0; i < s->ninsts; i++)
    if (s->insts[i].op == IR_STORE) return s->insts[i].index;
  return -1;
}

/* base(p) and s0 = 2g; p = 2 s0; s1 = 2g; p = 2 s1: two chains whose
 * scratch buffers can share one, unless what follows says otherwise. */
static void two_chains(IrProgram *p, int *s0, int *s1) {
  base(p);
  *s0 = vec(p), *s1 = vec(p);
  sweep(p, -1, G, *s0);
  sweep(p, -1, *s0, P);
  sweep(p, -1, G, *s1);
  sweep(p, -1, *s1, P);
}

/* s0 = 2g; s1 = hvp(s0); s2 = 2 s1; s3 = hvp(s2); p = 2 s3.  An hvp never
 * writes its input; s2 takes s0's buffer, s3 s1's. */
static void test_hvp_chain(void **state) {
  (void)state;
  IrProgram p;
  base(&p);
  int s0 = vec(&p), s1 = vec(&p), s2 = vec(&p), s3 = vec(&p);
  sweep(&p, -1, G, s0);
  int h0 = host(&p, OPTK_OP_HVP, s0, s1);
  int w = sweep(&p, -1, s1, s2);
  int h1 = host(&p, OPTK_OP_HVP, s2, s3);
  int last = sweep(&p, -1, s3, P);
  assert_int_equal(sched_reuse_scratch(&p), 2);
  assert_int_equal(p.scratch_buffers, 2);
  assert_int_equal(p.nbufs, 4);
  assert_string_equal(p.bufs[2].name, "scratch0");
  assert_string_equal(p.bufs[3].name, "scratch1");
  assert_int_equal(store_index(&p, 0), 2);
  assert_int_equal(p.stages[h0].op.a, 2);
  assert_int_equal(p.stages[h0].op.b, 3);
  assert_int_equal(load_index(&p, w), 3);
  assert_int_equal(store_index(&p, w), 2);
  assert_int_equal(p.stages[h1].op.a, 2);
  assert_int_equal(p.stages[h1].op.b, 3);
  assert_int_equal(load_index(&p, last), 3);
  char *err = NULL;
  assert_int_equal(ir_verify_program(&p, &err), 0);
  ir_program_free(&p);
}

/* s0 = 2g; s1 = 2 s0 (the last read of s0, the first write of s1, in one
 * parameter sweep); p = 2 s1: one buffer, updated in place. */
static void test_in_place_sweep(void **state) {
  (void)state;
  IrProgram p;
  base(&p);
  int s0 = vec(&p), s1 = vec(&p);
  sweep(&p, -1, G, s0);
  int w = sweep(&p, -1, s0, s1);
  sweep(&p, -1, s1, P);
  assert_int_equal(sched_reuse_scratch(&p), 1);
  assert_int_equal(p.nbufs, 3);
  assert_int_equal(load_index(&p, w), 2);
  assert_int_equal(store_index(&p, w), 2);
  ir_program_free(&p);
}

/* The same over a matrix domain (rows x rows buffers): the position rule
 * may read other elements, so the two stay apart. */
static void test_matrix_domain_not_in_place(void **state) {
  (void)state;
  IrProgram p;
  base(&p);
  int s0 = scratch(&p, OPTK_DIM_ROWS, OPTK_DIM_ROWS), s1 = scratch(&p, OPTK_DIM_ROWS, OPTK_DIM_ROWS);
  sweep(&p, s0, -1, s0);
  int w = sweep(&p, s1, s0, s1);
  sweep(&p, s1, s1, -1);
  assert_int_equal(sched_reuse_scratch(&p), 0);
  assert_int_not_equal(load_index(&p, w), store_index(&p, w));
  ir_program_free(&p);
}

/* A matrix op never gets its input aliased to its output; after it, the
 * input's buffer is free again (s2). */
static void test_matop_not_aliased(void **state) {
  (void)state;
  IrProgram p;
  base(&p);
  int s0 = vec(&p), s1 = vec(&p), s2 = vec(&p);
  sweep(&p, -1, G, s0);
  int m = ir_program_add_stage(&p, false, ir_op_matop(OPTK_MAT_COPY, s0, -1, s1, -1, 0));
  int w = sweep(&p, -1, s1, s2);
  sweep(&p, -1, s2, P);
  assert_int_equal(sched_reuse_scratch(&p), 1);
  assert_int_equal(p.stages[m].op.a, 2);
  assert_int_equal(p.stages[m].op.c, 3);
  assert_int_equal(store_index(&p, w), 2);
  ir_program_free(&p);
}

/* s0 = 2g; [jump_if_zero ->] p = 2 s0; s1 = 2g [target]; p = 2 s1.
 * Without the jump s1 reuses s0; with it, s0 is read and s1 written
 * inside the skippable region and used outside it, so both stay live
 * over the whole region. */
static int skip_plan(bool with_jump) {
  IrProgram p;
  base(&p);
  int s0 = vec(&p), s1 = vec(&p);
  p.nslot = 1;
  sweep(&p, -1, G, s0);
  if (with_jump) ir_program_add_stage(&p, false, ir_op_jump_if_zero(4, 0));
  sweep(&p, -1, s0, P);
  sweep(&p, -1, G, s1);
  sweep(&p, -1, s1, P);
  sched_reuse_scratch(&p);
  int n = p.scratch_buffers;
  ir_program_free(&p);
  return n;
}

static void test_skip_region(void **state) {
  (void)state;
  assert_int_equal(skip_plan(false), 1);
  assert_int_equal(skip_plan(true), 2);
}

/* A backward jump repeats ops 0..4: s1's value of one round must not be
 * overwritten by s0 of the next, so the two never share. */
static void test_loop_region(void **state) {
  (void)state;
  IrProgram p;
  int s0, s1;
  two_chains(&p, &s0, &s1);
  ir_program_add_stage(&p, false, ir_op_jump(0));
  assert_int_equal(sched_reuse_scratch(&p), 0);
  assert_int_equal(p.scratch_buffers, 2);
  ir_program_free(&p);
}

/* s0 is read before the plan writes it (what an earlier step left there
 * counts): it keeps a buffer of its own. */
static void test_read_before_write(void **state) {
  (void)state;
  IrProgram p;
  base(&p);
  int s0 = vec(&p), s1 = vec(&p);
  sweep(&p, -1, s0, P);
  sweep(&p, -1, G, s0);
  sweep(&p, -1, G, s1);
  sweep(&p, -1, s1, P);
  assert_int_equal(sched_reuse_scratch(&p), 0);
  ir_program_free(&p);
}

/* Unused scratch buffers go; the rest are renamed in order of first use;
 * different dims never share. */
static void test_unused_and_dims(void **state) {
  (void)state;
  IrProgram p;
  base(&p);
  vec(&p);
  int col = scratch(&p, OPTK_DIM_ROWS, OPTK_DIM_ONE), s2 = vec(&p);
  sweep(&p, -1, G, s2);
  sweep(&p, -1, s2, P);
  int m = ir_program_add_stage(&p, false, ir_op_matop(OPTK_MAT_ROWMEAN, G, -1, col, -1, 0));
  assert_int_equal(sched_reuse_scratch(&p), 1);
  assert_int_equal(p.nbufs, 4);
  assert_string_equal(p.bufs[2].name, "scratch0");
  assert_int_equal(p.bufs[2].dim0, OPTK_DIM_N);
  assert_string_equal(p.bufs[3].name, "scratch1");
  assert_int_equal(p.bufs[3].dim0, OPTK_DIM_ROWS);
  assert_int_equal(p.stages[m].op.c, 3);
  ir_program_free(&p);
}

/* A plan op kind the pass does not know leaves the program as it was. */
static void test_unknown_op(void **state) {
  (void)state;
  IrProgram p;
  int s0, s1;
  two_chains(&p, &s0, &s1);
  host(&p, (OptkOpKind)99, s0, s1);
  assert_int_equal(sched_reuse_scratch(&p), 0);
  assert_int_equal(p.nbufs, 4);
  assert_string_equal(p.bufs[3].name, "s1");
  ir_program_free(&p);
}

/* ---- copies inside blocks ----------------------------------------------------- */

static int hvp_double(void *user, int ntensors, const double *const *v, double *const *out,
                      char **err) {
  const int64_t *n = user;
  (void)err;
  for (int k = 0; k < ntensors; k++)
    for (int64_t i = 0; i < n[k]; i++) out[k][i] = 2 * v[k][i];
  return 0;
}

/* x is computed before the block and copied to a scratch buffer inside it
 * for hvp; at t = 1 the block is skipped, so the sweep after it must
 * recompute x rather than load the copy the block did not make. */
static void test_copy_in_skipped_block(void **state) {
  (void)state;
  static const char src[] = "optimizer c\nstate m = 0\nupdate {\n  x = sqrt(g * g + 1)\n"
                            "  if t > 1 {\n    m = m + hvp(x)\n  }\n  p = p - 0.5 * x\n}\n";
  MidBuild b;
  mb_init(&b);
  IrProgram prog;
  assert_int_equal(mb_program(&b, &prog, src), 0);
  int64_t n = 3;
  float p[3] = {1, 2, 3}, g[3] = {0.5f, -1, 2};
  char *err = NULL;
  InterpOptions o = {.seed = 1, .host = {.user = &n, .hvp = hvp_double}};
  Interp *in = interp_create(&prog, &o, &err);
  assert_non_null(in);
  assert_int_equal(interp_add_tensor(in, p, g, n, 1, &err), 0);
  float want[3];
  for (int s = 0; s < 2; s++) {
    for (int i = 0; i < 3; i++) want[i] = (float)(p[i] - 0.5 * sqrt((double)g[i] * g[i] + 1));
    assert_int_equal(interp_step(in, NAN, &err), 0);
    for (int i = 0; i < 3; i++) assert_float_equal(p[i], want[i], 1e-6);
  }
  interp_free(in);
  ir_program_free(&prog);
  mb_free(&b);
}

/* ---- Newton-CG's carried locals, run ------------------------------------------ */

static int hvp_diag(void *user, int ntensors, const double *const *v, double *const *out,
                    char **err) {
  (void)user, (void)err;
  for (int k = 0, e = 0; k < ntensors; k++)
    for (int i = 0; i < (k ? 4 : 3); i++, e++) out[k][i] = (1 + e * e) * v[k][i];
  return 0;
}

static double dot7(const double *a, const double *b) {
  double s = 0;
  for (int e = 0; e < 7; e++) s += a[e] * b[e];
  return s;
}

/* stdlib/newton_cg.opt's CG in double, on H = diag(1 + e^2), then p += z.
 * Returns the number of CG iterations. */
static int cg_reference(const double *g, double eta, double *p) {
  double z[7] = {0}, r[7], d[7], bd[7], beta = 0;
  double gn = sqrt(dot7(g, g)), tol = fmin(eta, sqrt(gn)) * gn, rr = gn * gn;
  bool active = gn > 0;
  for (int e = 0; e < 7; e++) r[e] = g[e], d[e] = -g[e];
  int it = 0;
  for (; it < 20 && active; it++) {
    for (int e = 0; e < 7; e++) d[e] = -r[e] + beta * d[e], bd[e] = (1 + e * e) * d[e];
    double dbd = dot7(d, bd);
    if (dbd <= 0) break;
    double alpha = rr / dbd;
    for (int e = 0; e < 7; e++) z[e] += alpha * d[e], r[e] += alpha * bd[e];
    double rr_new = dot7(r, r);
    active = !(sqrt(rr_new) <= tol);
    beta = rr_new / rr, rr = rr_new;
  }
  if (dot7(z, z) == 0)
    for (int e = 0; e < 7; e++) z[e] = -g[e];
  for (int e = 0; e < 7; e++) p[e] += z[e];
  return it;
}

/* newton_cg.opt with `p = p + z` for its line search (the interpreter runs
 * none): its plan (z, r, d carried, scratch reused) against the CG above,
 * over a group of two tensors for three steps, with eta = 1e-3 so that CG
 * runs five or more iterations. */
static void test_newton_cg_plan_runs(void **state) {
  (void)state;
  char *src = NULL, *err = NULL;
  size_t len = 0;
  assert_int_equal(util_read_file(OPTC_SOURCE_DIR "/stdlib/newton_cg.opt", 1u << 20, &src, &len,
                                  &err), 0);
  char *ls = strstr(src, "linesearch(z, armijo)");
  assert_non_null(ls);
  memcpy(ls, "p = p + z            ", 21);
  MidBuild b;
  mb_init(&b);
  IrProgram prog;
  assert_int_equal(mb_program(&b, &prog, src), 0);
  assert_int_equal(prog.scratch_buffers, 5);
  float p[7] = {1, -2, 3, 0.5f, 4, -1, 2}, g[7];
  double want[7];
  for (int e = 0; e < 7; e++) want[e] = p[e];
  Interp *in = interp_create(&prog, &(InterpOptions){.host = {.hvp = hvp_diag}}, &err);
  assert_non_null(in);
  assert_int_equal(interp_add_tensor(in, p, g, 3, 1, &err), 0);
  assert_int_equal(interp_add_tensor(in, p + 3, g + 3, 4, 1, &err), 1);
  assert_int_equal(interp_set_hyper(in, "eta", 1e-3, &err), 0);
  for (int s = 0; s < 3; s++) {
    double gd[7];
    for (int e = 0; e < 7; e++) g[e] = (float)(0.3 * (e - 3) + 0.1 * s), gd[e] = g[e];
    assert_true(cg_reference(gd, 1e-3, want) >= 5);
    assert_int_equal(interp_step(in, NAN, &err), 0);
    for (int e = 0; e < 7; e++) assert_float_equal(p[e], want[e], 1e-5 * fmax(1, fabs(want[e])));
  }
  interp_free(in);
  ir_program_free(&prog);
  mb_free(&b);
  free(src);
}

/* A chain of merges inside an outer `if`: its first value cannot be
 * stored outside every block, so it is recomputed, and still right: at
 * t = 1 the block is skipped (p -= 0.1 g), at t = 2 z = 0.5 z + H z three
 * times, H = diag(1 + e^2). */
static void test_chain_inside_block(void **state) {
  (void)state;
  static const char src[] =
      "optimizer chain\nupdate {\n  z = g\n  if t > 1 {\n    repeat 3 {\n"
      "      if group.dot(z, z) > 0 {\n        z = 0.5 * z + hvp(z)\n      }\n    }\n  }\n"
      "  p = p - 0.1 * z\n}\n";
  MidBuild b;
  mb_init(&b);
  IrProgram prog;
  assert_int_equal(mb_program(&b, &prog, src), 0);
  float p[7] = {0}, g[7];
  char *err = NULL;
  Interp *in = interp_create(&prog, &(InterpOptions){.host = {.hvp = hvp_diag}}, &err);
  assert_non_null(in);
  assert_int_equal(interp_add_tensor(in, p, g, 3, 1, &err), 0);
  assert_int_equal(interp_add_tensor(in, p + 3, g + 3, 4, 1, &err), 1);
  double want[7] = {0};
  for (int s = 0; s < 2; s++) {
    for (int e = 0; e < 7; e++) {
      g[e] = (float)(0.25 * (e - 2));
      double z = g[e];
      for (int k = 0; s == 1 && k < 3; k++) z = 0.5 * z + (1 + e * e) * z;
      want[e] -= 0.1 * z;
    }
    assert_int_equal(interp_step(in, NAN, &err), 0);
    for (int e = 0; e < 7; e++) assert_float_equal(p[e], want[e], 1e-5 * fmax(1, fabs(want[e])));
  }
  interp_free(in);
  ir_program_free(&prog);
  mb_free(&b);
}

/* ---- the stdlib ------------------------------------------------------------ */

static int stdlib_scratch(const char *file) {
  char path[256];
  snprintf(path, sizeof path, "%s/stdlib/%s", OPTC_SOURCE_DIR, file);
  char *src = NULL;
  size_t len = 0;
  char *err = NULL;
  if (util_read_file(path, 1u << 20, &src, &len, &err) != 0) {
    free(err);
    return -1;
  }
  MidBuild b;
  mb_init(&b);
  IrProgram prog;
  int errors = mb_program(&b, &prog, src);
  if (errors) fprintf(stderr, "%s: %s", file, b.errs.data ? b.errs.data : "");
  assert_int_equal(errors, 0);
  int n = prog.scratch_buffers;
  int bufs = 0;
  for (int i = 0; i < prog.nbufs; i++) bufs += prog.bufs[i].role == OPTK_BUF_SCRATCH;
  assert_int_equal(bufs, n);
  ir_program_free(&prog);
  mb_free(&b);
  free(src);
  return n;
}

static void test_stdlib_counts(void **state) {
  (void)state;
  /* before reuse: newton_cg 42, muon 30, soap 13, bfgs 9, shampoo 6,
   * newton 4, adafactor 3, lbfgs 3, adahessian 2, sophia 2 */
  static const struct { const char *file; int before; } rules[] = {
      {"newton_cg.opt", 42}, {"muon.opt", 30},   {"soap.opt", 13},     {"bfgs.opt", 9},
      {"shampoo.opt", 6},    {"newton.opt", 4},  {"adafactor.opt", 3}, {"lbfgs.opt", 3},
      {"adahessian.opt", 2}, {"sophia.opt", 2},  {"adam.opt", 0},      {"lamb.opt", 0}};
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
    int n = stdlib_scratch(rules[i].file);
    if (n < 0) continue; /* a rule another change removed */
    if (n > rules[i].before) fail_msg("%s: %d scratch buffers, %d before", rules[i].file, n, rules[i].before);
  }
  /* muon: X, A, B and the next X (GEMMs adding to copies, no sweeps) */
  assert_int_equal(stdlib_scratch("muon.opt"), 4);
  assert_int_equal(stdlib_scratch("newton_cg.opt"), 5);
}

/* Newton-CG's plan size, which drives its JIT time: every sweep used to
 * recompute z, r and d from all earlier hvp outputs (3578 sweep
 * instructions) and every SCALAR stage rr, beta and active from all
 * earlier reductions (3356); now 535 and 695. */
static void test_newton_cg_plan_size(void **state) {
  (void)state;
  char *src = NULL, *err = NULL;
  size_t len = 0;
  assert_int_equal(util_read_file(OPTC_SOURCE_DIR "/stdlib/newton_cg.opt", 1u << 20, &src, &len,
                                  &err), 0);
  MidBuild b;
  mb_init(&b);
  IrProgram prog;
  assert_int_equal(mb_program(&b, &prog, src), 0);
  int n[2] = {0, 0};
  for (int i = 0; i < prog.nstages; i++)
    if (prog.stages[i].op.kind <= OPTK_OP_SWEEP) n[prog.stages[i].op.kind] += prog.stages[i].ninsts;
  if (n[OPTK_OP_SWEEP] > 600 || n[OPTK_OP_SCALAR] > 800)
    fail_msg("%d sweep and %d scalar instructions", n[OPTK_OP_SWEEP], n[OPTK_OP_SCALAR]);
  ir_program_free(&prog);
  mb_free(&b);
  free(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hvp_chain),
      cmocka_unit_test(test_in_place_sweep),
      cmocka_unit_test(test_matrix_domain_not_in_place),
      cmocka_unit_test(test_matop_not_aliased),
      cmocka_unit_test(test_skip_region),
      cmocka_unit_test(test_loop_region),
      cmocka_unit_test(test_read_before_write),
      cmocka_unit_test(test_unused_and_dims),
      cmocka_unit_test(test_unknown_op),
      cmocka_unit_test(test_copy_in_skipped_block),
      cmocka_unit_test(test_newton_cg_plan_runs),
      cmocka_unit_test(test_chain_inside_block),
      cmocka_unit_test(test_newton_cg_plan_size),
      cmocka_unit_test(test_stdlib_counts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
