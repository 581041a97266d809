/* back_jit_mathlib.c: the math library of generated code
 * (compiler/codegen_math.h).
 *
 * f32 exp, log, log1p, tanh, sigmoid and pow in sweeps are calls of
 * `optk.math.<fn>.v<W>` functions: in the JIT compiled once per engine
 * into its main JITDylib and only declared by rule modules, in an AOT
 * module defined internal.  Checked here:
 *   - the vector functions (a sweep's vector loop) and the scalar ones
 *     (its scalar tail) compute the same bits for every argument (NaNs
 *     aside: see assert_same);
 *   - compiles on one engine share its library: a second compile on the
 *     engine succeeds (defining the library's names again in the same
 *     JITDylib would be a duplicate definition), freeing the first keeps
 *     the second working, and a compile split in two parts (both
 *     declaring the functions) computes the same bits; so do -O0 and -O2,
 *     whose engines each have a library of their own;
 *   - an AOT library is self-contained: it loads with RTLD_NOW, exports
 *     no library function, its IR defines them internal and declares
 *     none, and it computes the JIT's bits.
 * (Accuracy is back_codegen.c's test_math_f32; e2e_diff compares JIT, AOT
 * and the interpreter on the whole stdlib, FAdam's pow sweeps included.)
 */
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "back.h"
#include "back_progs.h"
#include "ir_build.h"
#include "tmpdir.h"

/* Elements: three blocks and an odd remainder, so that both the vector
 * loop and the scalar tail run. */
enum { N = 3 * OPTK_BLOCK + 13, NOUT = 6, NBUF = 4 + NOUT };

/* x, y (f32 states) in; out[k] = exp, log, log1p, tanh, sigmoid of x
 * (SWEEP 0) and pow(x, y) (SWEEP 1), in f32. */
static void prog_mathlib(IrProgram *p) {
  back_prog_math_buffers(p, "mathlib", OPTK_F32, NOUT);
  static const IrOp unary[] = {IR_EXP, IR_LOG, IR_LOG1P, IR_TANH, IR_SIGMOID};
  IrStage *w = ir_program_stage(p, false, ir_program_add_stage(p, false, ir_op_sweep(0)));
  w->compute = OPTK_F32;
  int x = ir_emit_leaf(p, w, IR_LOAD, 2);
  for (int k = 0; k < NOUT - 1; k++)
    ir_emit_set(p, w, IR_STORE, 4 + k, ir_emit(p, w, unary[k], x, -1, -1));
  IrStage *v = ir_program_stage(p, false, ir_program_add_stage(p, false, ir_op_sweep(1)));
  v->compute = OPTK_F32;
  x = ir_emit_leaf(p, v, IR_LOAD, 2);
  int y = ir_emit_leaf(p, v, IR_LOAD, 3);
  ir_emit_set(p, v, IR_STORE, 4 + NOUT - 1, ir_emit(p, v, IR_POW, x, y, -1));
  p->sweeps = 2;
}

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 11;
}

/* Random bit patterns (NaN, infinities, denormals, negatives) and dense
 * ranges where the polynomials matter; y small enough that pow stays
 * finite for most x. */
static void fill_inputs(float *x, float *y) {
  uint64_t s = 17;
  for (int64_t i = 0; i < N; i++) {
    uint32_t bits = (uint32_t)lcg(&s);
    memcpy(&x[i], &bits, 4);
    if (i % 3) x[i] = (float)((double)lcg(&s) / 9007199254740992.0 * 220 - 115);
    if (i % 5 == 1) x[i] = (float)((double)lcg(&s) / 9007199254740992.0 * 4);
    y[i] = (float)((double)lcg(&s) / 9007199254740992.0 * 8 - 4);
  }
  static const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, 1e-45f, -2.0f};
  for (int i = 0; i < 8; i++) x[i] = special[i], y[N - 1 - i] = special[i], x[N - 1 - i] = 2.5f;
}

typedef struct Run {
  float x[N], y[N], out[NOUT][N];
} Run;

static void run_sweeps(const OptkDescriptor *d, Run *r, int64_t at, int64_t n) {
  void *bufs[NBUF] = {NULL, NULL, r->x + at, r->y + at};
  for (int k = 0; k < NOUT; k++) bufs[4 + k] = r->out[k] + at;
  OptkSweepCtx ctx = {.buf = bufs, .n = n, .rows = n, .cols = 1};
  for (int f = 0; f < 2; f++) d->sweep_fns[f](&ctx, 0, n);
}

/* r's inputs filled and every output computed over the whole array. */
static Run *run_all(const OptkDescriptor *d) {
  Run *r = calloc(1, sizeof *r);
  assert_non_null(r);
  fill_inputs(r->x, r->y);
  run_sweeps(d, r, 0, N);
  return r;
}

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* Bit for bit; with `any_nan`, a NaN matches any NaN: optimised code
 * returns a signalling NaN argument of exp and log as it is, optnone code
 * (scalar tails, init sweeps, -O0) quietens it, as it always did. */
static void assert_same(const Run *a, const Run *b, bool any_nan, const char *what) {
  for (int k = 0; k < NOUT; k++)
    for (int64_t i = 0; i < N; i++) {
      float u = a->out[k][i], v = b->out[k][i];
      if (bits(u) == bits(v) || (any_nan && isnan(u) && isnan(v))) continue;
      fail_msg("%s: output %d, x=%a (%08x) y=%a: %a (%08x) vs %a (%08x)", what, k, a->x[i],
               bits(a->x[i]), a->y[i], u, bits(u), v, bits(v));
    }
}

static JitModule *compile(const IrProgram *p, int opt_level, int threads) {
  CgTarget t = {.opt_level = opt_level, .threads = threads};
  JitModule *jm = NULL;
  char *err = NULL;
  if (jit_compile(p, &t, &jm, &err) != 0) fail_msg("jit_compile: %s", err ? err : "?");
  return jm;
}

/* Every element again, alone (a one-element tensor: the scalar tail). */
static void test_vector_and_scalar_agree(void **state) {
  IrProgram p;
  prog_mathlib(&p);
  JitModule *jm = compile(&p, 2, 1);
  Run *whole = run_all(jit_descriptor(jm)), *alone = calloc(1, sizeof *alone);
  assert_non_null(alone);
  fill_inputs(alone->x, alone->y);
  for (int64_t i = 0; i < N; i++) run_sweeps(jit_descriptor(jm), alone, i, 1);
  assert_same(whole, alone, true, "vector vs scalar");
  free(whole), free(alone);
  jit_free(jm);
  ir_program_free(&p);
}

static void test_engine_shares_library(void **state) {
  IrProgram p;
  prog_mathlib(&p);
  JitModule *first = compile(&p, 2, 1);
  Run *want = run_all(jit_descriptor(first));
  JitModule *second = compile(&p, 2, 1); /* first's engine, idle again */
  JitModule *split = compile(&p, 2, 2);  /* parts on two threads, each declaring the library */
  jit_free(first);
  Run *got = run_all(jit_descriptor(second));
  assert_same(want, got, false, "second compile");
  free(got);
  got = run_all(jit_descriptor(split));
  assert_same(want, got, false, "two parts");
  free(got);
  JitModule *third = compile(&p, 2, 1);
  jit_free(second);
  jit_free(split);
  got = run_all(jit_descriptor(third));
  assert_same(want, got, false, "third compile");
  free(got);
  JitModule *o0 = compile(&p, 0, 1); /* an engine and library of its own */
  jit_free(third);
  got = run_all(jit_descriptor(o0));
  assert_same(want, got, true, "-O0");
  free(got), free(want);
  jit_free(o0);
  ir_program_free(&p);
}

static char *ir_text(const IrProgram *p) {
  CgTarget t = {.opt_level = 2};
  char *text = NULL, *err = NULL;
  if (aot_emit_text(p, &t, AOT_LLVM_IR, &text, &err) != 0) fail_msg("emit-llvm: %s", err);
  return text;
}

static void test_aot_self_contained(void **state) {
  IrProgram p;
  prog_mathlib(&p);
  char *ir = ir_text(&p);
  assert_non_null(strstr(ir, "define internal float @optk.math.powf.v1("));
  assert_non_null(strstr(ir, "define internal float @optk.math.tanhf.v1("));
  for (const char *at = ir; (at = strstr(at, "@optk.math.")); at++) {
    const char *line = at;
    while (line > ir && line[-1] != '\n') line--;
    assert_true(strncmp(line, "declare", 7) != 0);
  }
  free(ir);
  char dir[64], lib[96];
  assert_non_null(test_mkdtemp(dir, sizeof dir, "optc-mathlib-"));
  snprintf(lib, sizeof lib, "%s/libmathlib.so", dir);
  CgTarget t = {.opt_level = 2};
  char *err = NULL;
  if (aot_compile_library(&p, &t, lib, &err) != 0) fail_msg("aot: %s", err);
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL); /* fails on an undefined symbol */
  if (!h) fail_msg("dlopen: %s", dlerror());
  assert_null(dlsym(h, "optk.math.powf.v1"));
  JitModule *jm = compile(&p, 2, 1);
  Run *want = run_all(jit_descriptor(jm)), *got = run_all(dlsym(h, OPTK_DESCRIPTOR_SYMBOL));
  assert_same(want, got, false, "AOT");
  free(want), free(got);
  jit_free(jm);
  dlclose(h);
  unlink(lib);
  rmdir(dir);
  ir_program_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vector_and_scalar_agree),
      cmocka_unit_test(test_engine_shares_library),
      cmocka_unit_test(test_aot_self_contained),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
