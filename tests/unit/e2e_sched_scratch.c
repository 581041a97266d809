/* e2e_sched_scratch.c: the JIT and the reference interpreter agree on
 * Newton-CG's plan, whose z, r and d live in carried scratch buffers
 * (five in all after reuse, docs/ir_scheduled.md).  The interpreter runs
 * no line search, so both run stdlib/newton_cg.opt with `p = p + z` in
 * place of `linesearch(z, armijo)`, on a group of two tensors (7 and 1001
 * elements, unaligned) with a diagonal Hessian whose entries are exact in
 * f32, for four steps with fresh gradients.  f32 sweeps against a double
 * interpreter: |jit - interp| <= 1e-5 max(|jit|, |interp|) + 1e-6.  Then
 * the same with eta = 1e-3, so CG runs many iterations. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "interp.h"
#include "ir_pipeline.h"
#include "optc.h"
#include "optrt.h"

enum { NT = 2, STEPS = 4 };
static const int64_t SIZES[NT] = {7, 1001};

typedef struct Run {
  float *blk[2][2][NT]; /* [engine][p, g][tensor] allocations */
  float *p[2][NT], *g[2][NT];
} Run;

static double hess(int k, int64_t i) { return 0.5 + (double)((i * 7 + k) % 9) * 0.25; }

static int rt_hvp(void *user, const float *const *v, float *const *hv) {
  (void)user;
  for (int k = 0; k < NT; k++)
    for (int64_t i = 0; hv[k] && i < SIZES[k]; i++)
      hv[k][i] = v[k] ? (float)(hess(k, i) * v[k][i]) : 0.0f;
  return 0;
}

static int rt_value(void *user, double *loss, int want_grad) {
  (void)user, (void)want_grad;
  *loss = 1;
  return 0;
}

static int in_hvp(void *user, int ntensors, const double *const *v, double *const *out,
                  char **err) {
  (void)user, (void)err;
  for (int k = 0; k < ntensors; k++)
    for (int64_t i = 0; i < SIZES[k]; i++) out[k][i] = hess(k, i) * v[k][i];
  return 0;
}

static char *variant_source(void) {
  char *src = NULL, *err = NULL;
  size_t len = 0;
  if (util_read_file(OPTC_SOURCE_DIR "/stdlib/newton_cg.opt", 1u << 20, &src, &len, &err))
    fail_msg("%s", err);
  char *ls = strstr(src, "linesearch(z, armijo)");
  assert_non_null(ls);
  memcpy(ls, "p = p + z            ", 21);
  return src;
}

static void run_init(Run *r) {
  for (int e = 0; e < 2; e++)
    for (int w = 0; w < 2; w++)
      for (int k = 0; k < NT; k++) {
        r->blk[e][w][k] = calloc((size_t)SIZES[k] + 1, sizeof(float));
        (w ? r->g : r->p)[e][k] = r->blk[e][w][k] + 1;
      }
  for (int k = 0; k < NT; k++)
    for (int64_t i = 0; i < SIZES[k]; i++)
      r->p[0][k][i] = r->p[1][k][i] = (float)sin((double)(i + 3 * k));
}

static void run_free(Run *r) {
  for (int e = 0; e < 2; e++)
    for (int w = 0; w < 2; w++)
      for (int k = 0; k < NT; k++) free(r->blk[e][w][k]);
}

static void fill_grads(Run *r, int step) {
  for (int k = 0; k < NT; k++)
    for (int64_t i = 0; i < SIZES[k]; i++)
      r->g[0][k][i] = r->g[1][k][i] = (float)cos((double)(i * 3 + k + step));
}

static void agree(double eta) {
  char *src = variant_source(), *err = NULL;
  SrcMgr sm;
  srcmgr_init(&sm);
  DiagSink sink;
  diag_init(&sink, &sm, NULL, NULL);
  IrProgram prog;
  PipelineOptions po = {0};
  assert_int_equal(ir_pipeline_build_text(&prog, &sm, "ncg.opt", src, strlen(src), &sink, NULL, &po), 0);
  assert_int_equal(prog.scratch_buffers, 5);
  Run r;
  run_init(&r);
  Interp *in = interp_create(&prog, &(InterpOptions){.host = {.hvp = in_hvp}}, &err);
  assert_non_null(in);
  for (int k = 0; k < NT; k++) assert_int_equal(interp_add_tensor(in, r.p[0][k], r.g[0][k], SIZES[k], 1, &err), k);
  assert_int_equal(interp_set_hyper(in, "eta", eta, &err), 0);
  OptcOptions o;
  optc_options_init(&o);
  OptcJit *jit = optc_jit_compile("ncg.opt", src, strlen(src), &o);
  assert_non_null(jit);
  OptrtKernel *kern = optrt_wrap_descriptor(optc_jit_descriptor(jit), &err);
  assert_non_null(kern);
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = 1;
  Optrt *rt = optrt_create(kern, &cfg, &err);
  assert_non_null(rt);
  assert_int_equal(optrt_add_group(rt, NULL), 0);
  for (int k = 0; k < NT; k++) assert_true(optrt_add_param(rt, 0, r.p[1][k], r.g[1][k], SIZES[k], 0) >= 0);
  if (optrt_set_hyper(rt, 0, "eta", eta)) fail_msg("%s", optrt_last_error(rt));
  OptrtObjective obj = {.value_grad = rt_value, .hvp = rt_hvp};
  for (int s = 0; s < STEPS; s++) {
    fill_grads(&r, s);
    assert_int_equal(interp_step(in, NAN, &err), 0);
    if (optrt_step_objective(rt, &obj)) fail_msg("step %d: %s", s, optrt_last_error(rt));
    for (int k = 0; k < NT; k++)
      for (int64_t i = 0; i < SIZES[k]; i++) {
        double a = r.p[1][k][i], b = r.p[0][k][i];
        if (!(fabs(a - b) <= 1e-5 * fmax(fabs(a), fabs(b)) + 1e-6))
          fail_msg("eta %g step %d tensor %d [%lld]: JIT %.9g, interpreter %.9g", eta, s, k,
                   (long long)i, a, b);
      }
  }
  optrt_destroy(rt);
  optrt_kernel_close(kern);
  optc_jit_free(jit);
  interp_free(in);
  run_free(&r);
  ir_program_free(&prog);
  srcmgr_free(&sm);
  free(src);
}

static void test_newton_cg_default_eta(void **state) {
  (void)state;
  agree(0.5);
}

static void test_newton_cg_many_iterations(void **state) {
  (void)state;
  agree(1e-3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_newton_cg_default_eta),
      cmocka_unit_test(test_newton_cg_many_iterations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
