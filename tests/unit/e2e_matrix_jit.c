/* e2e_matrix_jit.c: compiled matrix rules (sweeps over matrix domains,
 * MATOPs, matrix states) agree with the reference interpreter.
 *
 * Each rule runs STEPS steps on seven 2-D tensors (one 100 x 50, so a
 * rows x rows domain spans three OPTK_BLOCK blocks while p spans two;
 * 20 x 17 and 9 x 16 around AVX-512's 16 lanes, where a vector of a row or
 * column broadcast spans two rows or exactly one; 3 x 7, 37 x 5, 40 x 1
 * and 6 x 11, narrower than a vector, whose vector steps span up to 16
 * rows and start at every column: codegen.c, sw_lanes) with the same
 * pseudo-random gradients in the interpreter
 * (double) and through optc_jit_compile + liboptrt with 1 and 3 threads.
 * The two runtimes must agree bit for bit; each must match the
 * interpreter within REL (f32 sweeps against double, a few steps).  Also
 * a checkpoint of matrix states resumes bit for bit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "interp.h"
#include "ir_pipeline.h"
#include "optc.h"
#include "optrt.h"

enum { NT = 7, STEPS = 4 };
static const int64_t ROWS[NT] = {100, 3, 20, 9, 37, 40, 6}, COLS[NT] = {50, 7, 17, 16, 5, 1, 11};
static const double REL = 2e-5, ABS_TOL = 1e-6;

typedef struct Run {
  float *p[3][NT], *g[NT];
  IrProgram prog;
  Interp *in;
  OptcJit *jit;
  OptrtKernel *k;
  Optrt *rt[2];
} Run;

static float value(int k, int64_t i, int step) {
  uint64_t x = (uint64_t)k * 0x9e3779b97f4a7c15ull ^ (uint64_t)i * 0xbf58476d1ce4e5b9ull ^
               (uint64_t)step * 0x94d049bb133111ebull;
  x ^= x >> 31;
  x *= 0xd6e8feca66d1b5a5ull;
  x ^= x >> 29;
  return (float)((double)(x >> 40) / 16777216.0 - 0.5);
}

static Optrt *runtime(Run *r, int threads, int e) {
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = threads;
  Optrt *o = optrt_create(r->k, &cfg, NULL);
  assert_non_null(o);
  assert_int_equal(optrt_add_group(o, NULL), 0);
  for (int k = 0; k < NT; k++)
    if (optrt_add_param(o, 0, r->p[e][k], r->g[k], ROWS[k], COLS[k]) < 0)
      fail_msg("add_param: %s", optrt_last_error(o));
  return o;
}

static void setup(Run *r, const char *name, const char *src) {
  memset(r, 0, sizeof *r);
  for (int k = 0; k < NT; k++) {
    int64_t n = ROWS[k] * COLS[k];
    r->g[k] = calloc((size_t)n, sizeof(float));
    for (int e = 0; e < 3; e++) {
      r->p[e][k] = malloc((size_t)n * sizeof(float));
      for (int64_t i = 0; i < n; i++) r->p[e][k][i] = value(k + 7, i, 0);
    }
  }
  SrcMgr sm;
  srcmgr_init(&sm);
  DiagSink sink;
  diag_init(&sink, &sm, NULL, NULL);
  PipelineOptions po = {.verify = true};
  int errors = ir_pipeline_build_text(&r->prog, &sm, name, src, strlen(src), &sink, NULL, &po);
  srcmgr_free(&sm);
  assert_int_equal(errors, 0);
  char *err = NULL;
  r->in = interp_create(&r->prog, NULL, &err);
  if (!r->in) fail_msg("%s: %s", name, err);
  for (int k = 0; k < NT; k++)
    if (interp_add_tensor(r->in, r->p[0][k], r->g[k], ROWS[k], COLS[k], &err) < 0)
      fail_msg("%s: %s", name, err);
  OptcOptions o;
  optc_options_init(&o);
  r->jit = optc_jit_compile(name, src, strlen(src), &o);
  if (!r->jit) fail_msg("%s: JIT failed", name);
  r->k = optrt_wrap_descriptor(optc_jit_descriptor(r->jit), &err);
  if (!r->k) fail_msg("%s: %s", name, err);
  r->rt[0] = runtime(r, 1, 1);
  r->rt[1] = runtime(r, 3, 2);
}

static void teardown(Run *r) {
  for (int e = 0; e < 2; e++) optrt_destroy(r->rt[e]);
  optrt_kernel_close(r->k);
  optc_jit_free(r->jit);
  interp_free(r->in);
  ir_program_free(&r->prog);
  for (int k = 0; k < NT; k++) {
    free(r->g[k]);
    for (int e = 0; e < 3; e++) free(r->p[e][k]);
  }
}

static void run_rule(const char *name, const char *src) {
  Run r;
  setup(&r, name, src);
  for (int step = 1; step <= STEPS; step++) {
    for (int k = 0; k < NT; k++)
      for (int64_t i = 0; i < ROWS[k] * COLS[k]; i++) r.g[k][i] = value(k, i, step);
    char *err = NULL;
    if (interp_step(r.in, NAN, &err)) fail_msg("%s: interp: %s", name, err);
    for (int e = 0; e < 2; e++)
      if (optrt_step(r.rt[e])) fail_msg("%s: %s", name, optrt_last_error(r.rt[e]));
    for (int k = 0; k < NT; k++) {
      int64_t n = ROWS[k] * COLS[k];
      assert_memory_equal(r.p[1][k], r.p[2][k], (size_t)n * sizeof(float));
      for (int64_t i = 0; i < n; i++) {
        double a = r.p[0][k][i], b = r.p[1][k][i];
        if (fabs(a - b) > REL * fmax(fabs(a), fabs(b)) + ABS_TOL)
          fail_msg("%s: step %d tensor %d element %lld: interpreter %.9g, JIT %.9g", name, step,
                   k, (long long)i, a, b);
      }
    }
  }
  teardown(&r);
}

/* Shampoo-like: rows x rows and cols x cols states, in-place sweeps,
 * inv_root into states inside `every`, broadcast-free parameter sweep. */
static void test_shampoo_like(void **state) {
  (void)state;
  run_rule("shampoo_like.opt",
           "optimizer s\nhyper lr = 1e-3\nstate L : matrix(rows, rows) = 1e-3 * I\n"
           "state R : matrix(cols, cols) = 1e-3 * I\nstate Li : matrix(rows, rows) = 0\n"
           "state Ri : matrix(cols, cols) = 0\nupdate {\n  L = L + g @ g.T\n  R = R + g.T @ g\n"
           "  every 2 {\n    Li = inv_root(L, 4)\n    Ri = inv_root(R, 4)\n  }\n"
           "  p = p - lr * (Li @ g @ Ri) / (norm(L) + 1)\n}\n");
}

/* Factored moments: row and column vector states, sweeps and a mean over
 * their domains, loads broadcast along rows and columns. */
static void test_factored(void **state) {
  (void)state;
  run_rule("factored.opt",
           "optimizer f\nstate R : matrix(rows, 1) = 0\nstate C : matrix(1, cols) = 0\n"
           "update {\n  R = 0.9 * R + 0.1 * rowmean(g * g + 1e-30)\n"
           "  C = 0.9 * C + 0.1 * colmean(g * g + 1e-30)\n"
           "  p = p - 1e-2 * g * rsqrt(R / mean(R)) * rsqrt(C)\n}\n");
}

/* The same with an f64 row state: the program computes in double, 8
 * lanes on AVX-512, so 6 x 11 is wide and 37 x 5 narrow, and the f32
 * column state is widened before the narrow path's permutes. */
static void test_factored_f64(void **state) {
  (void)state;
  run_rule("factored_f64.opt",
           "optimizer f\nstate R : matrix(rows, 1) f64 = 0\nstate C : matrix(1, cols) = 0\n"
           "update {\n  R = 0.9 * R + 0.1 * rowmean(g * g + 1e-30)\n"
           "  C = 0.9 * C + 0.1 * colmean(g * g + 1e-30)\n"
           "  p = p - 1e-2 * g * rsqrt(R / mean(R)) * rsqrt(C)\n}\n");
}

/* Lane rows and columns themselves: I (row == col) in a sweep over a
 * rows x rows domain, narrow for 6 and 9 rows. */
static void test_identity(void **state) {
  (void)state;
  run_rule("identity.opt", "optimizer id\nstate L : matrix(rows, rows) = 0\nupdate {\n"
                           "  L = 0.5 * L + 0.1 * g @ g.T + I\n  p = p - 1e-3 * (L @ g)\n}\n");
}

/* Muon's Newton-Schulz: GEMMs with transposes and an elementwise
 * rows x rows combination swept before each product. */
static void test_newton_schulz(void **state) {
  (void)state;
  run_rule("ns.opt", "optimizer ns\nupdate {\n  X = g / (norm(g) + 1e-7)\n  repeat 3 {\n"
                     "    A = X @ X.T\n    B = -4.7750 * A + 2.0315 * A @ A\n"
                     "    X = 3.4445 * X + B @ X\n  }\n  p = p - 0.02 * X\n}\n");
}

/* GEMM's alpha and beta: scalar factors of both operands (f32 scratch,
 * sgemm); a product added to an f64 state in place (`0.9 L + 0.1 g g'`,
 * the mixed-precision dgemm reading L first); a product minus a matrix
 * (beta -2, after a copy); p minus products (copies of p). */
static void test_gemm_alpha(void **state) {
  (void)state;
  run_rule("alpha.opt", "optimizer al\nhyper c = 0.5\nstate L : matrix(rows, rows) f64 = 0\n"
                        "update {\n  A = (c * g.T) @ (3 * g)\n  L = 0.9 * L + 0.1 * g @ g.T\n"
                        "  Q = g.T @ g - 2 * A\n"
                        "  p = p - 0.01 * (g @ A) - 1e-3 * (L @ g) - 1e-2 * (g @ Q)\n}\n");
}

/* Renamed twins (codegen.h, CgTwins): v's sweep is m's on other buffers,
 * another slot and the next reduction, and runs m's code through a
 * context that puts v, x and red1 in m, a and red0's places.  Shampoo's
 * L and R sweeps (test_shampoo_like) and the factored R and C sweeps
 * (test_factored) are renamed twins on buffers alone. */
static void test_renamed_twins(void **state) {
  (void)state;
  run_rule("renamed.opt", "optimizer rt\nhyper a = 0.5\nstate m = 0\nstate v = 0\nupdate {\n"
                          "  m = a * m + g\n  x = norm(m)\n  v = x * v + g\n  y = norm(v)\n"
                          "  p = p - 1e-2 * (m / (x + 1) + v / (y + 1))\n}\n");
}

/* Matrix states (f64 and f32, rows x rows and cols x cols) go through a
 * checkpoint: 2 steps, save, 2 steps; a fresh optimizer loading the file
 * and taking the same 2 steps ends bit for bit the same. */
static void test_checkpoint(void **state) {
  (void)state;
  static const char src[] =
      "optimizer s\nstate L : matrix(rows, rows) f64 = 1e-3 * I\n"
      "state Li : matrix(rows, rows) = 0\nstate R : matrix(1, cols) = 0\nupdate {\n"
      "  L = L + g @ g.T\n  R = 0.5 * R + colmean(g * g)\n  every 3 {\n    Li = inv_root(L, 2)\n  }\n"
      "  p = p - 1e-3 * (Li @ g) * rsqrt(R + 1e-8)\n}\n";
  Run r;
  setup(&r, "ckpt.opt", src);
  char path[64];
  snprintf(path, sizeof path, "/tmp/optc-matrix-ckpt-%ld", (long)getpid());
  for (int step = 1; step <= 4; step++) {
    for (int k = 0; k < NT; k++)
      for (int64_t i = 0; i < ROWS[k] * COLS[k]; i++) r.g[k][i] = value(k, i, step);
    if (step == 3) {
      assert_int_equal(optrt_save(r.rt[0], path), 0);
      for (int k = 0; k < NT; k++) /* the second runtime resumes from here */
        memcpy(r.p[2][k], r.p[1][k], (size_t)(ROWS[k] * COLS[k]) * sizeof(float));
      assert_int_equal(optrt_load(r.rt[1], path), 0);
    }
    assert_int_equal(optrt_step(r.rt[0]), 0);
    if (step >= 3) assert_int_equal(optrt_step(r.rt[1]), 0);
  }
  for (int k = 0; k < NT; k++)
    assert_memory_equal(r.p[1][k], r.p[2][k], (size_t)(ROWS[k] * COLS[k]) * sizeof(float));
  unlink(path);
  teardown(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shampoo_like),
      cmocka_unit_test(test_factored),
      cmocka_unit_test(test_factored_f64),
      cmocka_unit_test(test_identity),
      cmocka_unit_test(test_newton_schulz),
      cmocka_unit_test(test_renamed_twins),
      cmocka_unit_test(test_gemm_alpha),
      cmocka_unit_test(test_checkpoint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
