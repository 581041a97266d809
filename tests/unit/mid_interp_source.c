/* mid_interp_source.c: optimizers built from source through the whole
 * middle end, run by the reference interpreter and compared with the
 * paper's formulas written out in C; and every stdlib optimizer runs on
 * awkward sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "interp.h"
#include "ir_pipeline.h"

static void diag_print(void *user, const Diag *d) {
  (void)user;
  if (d->severity == DIAG_ERROR) print_error("diagnostic: %s\n", d->message);
}

/* Builds `text` (or the file `path` when text is NULL) into *prog. */
static void build(IrProgram *prog, const char *path, const char *text) {
  SrcMgr sm;
  srcmgr_init(&sm);
  DiagSink sink;
  diag_init(&sink, &sm, diag_print, NULL);
  SemaOptions so = {0};
  PipelineOptions po = {.verify = true};
  int errors = text ? ir_pipeline_build_text(prog, &sm, path, text, strlen(text), &sink, &so, &po)
                    : ir_pipeline_build_file(prog, &sm, path, &sink, &so, &po);
  srcmgr_free(&sm);
  if (errors) fail_msg("%s: %d errors", path, errors);
}

static float grad_at(int i, int t) { return (float)(sin(0.7 * i + 0.31 * t) * (1 + i % 3)); }

static void expect_ok(int rc, char *err) {
  if (rc != 0) fail_msg("unexpected error: %s", err);
}

/* Relative to max(|want|, 1e-2): 1e-2 is the scale of the parameters and
 * of the steps (lr 1e-2), so an element that passes near zero carries the
 * absolute rounding of the O(1e-2) values it was computed from (as
 * PARITY_FLOOR in support/parity.h). */
static void assert_close(double got, double want, double rel) {
  if (!(fabs(got - want) <= rel * fmax(fabs(want), 1e-2)))
    fail_msg("got %.9g, want %.9g", got, want);
}

/* ---- Adam ------------------------------------------------------------------- */

static const char ADAM[] =
    "optimizer adam\n"
    "hyper lr = 1e-3\nhyper beta1 = 0.9\nhyper beta2 = 0.999\nhyper eps = 1e-8\n"
    "state m = 0\nstate v = 0\n"
    "update {\n"
    "  m = beta1 * m + (1 - beta1) * g\n"
    "  v = beta2 * v + (1 - beta2) * g^2\n"
    "  p = p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)\n"
    "}\n";

static void test_adam(void **state) {
  (void)state;
  IrProgram prog;
  build(&prog, "adam.opt", ADAM);
  enum { N = 4099 };
  static float p[N], g[N];
  static double rp[N], rm[N], rv[N];
  for (int i = 0; i < N; i++) p[i] = (float)(rp[i] = 0.01 * (i % 17));
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  assert_non_null(in);
  interp_add_tensor(in, p, g, N, 1, &err);
  expect_ok(interp_set_hyper(in, "lr", 1e-2, &err), err);
  for (int t = 1; t <= 30; t++) {
    for (int i = 0; i < N; i++) g[i] = grad_at(i, t);
    expect_ok(interp_step(in, NAN, &err), err);
    for (int i = 0; i < N; i++) {
      /* the step uses m and v before they are stored as f32 */
      double m = 0.9 * rm[i] + 0.1 * g[i], v = 0.999 * rv[i] + 0.001 * g[i] * (double)g[i];
      rp[i] = (float)(rp[i] - 1e-2 * (m / (1 - pow(0.9, t))) /
                                  (sqrt(v / (1 - pow(0.999, t))) + 1e-8));
      rm[i] = (float)m;
      rv[i] = (float)v;
    }
  }
  for (int i = 0; i < N; i++) assert_close(p[i], rp[i], 1e-5);
  interp_free(in);
  ir_program_free(&prog);
}

/* ---- Lion ------------------------------------------------------------------- */

static const char LION[] =
    "optimizer lion\n"
    "hyper lr = 1e-4\nhyper beta1 = 0.9\nhyper beta2 = 0.99\nhyper wd = 0.1\n"
    "state m = 0\n"
    "update {\n"
    "  p = p - lr * (sign(beta1 * m + (1 - beta1) * g) + wd * p)\n"
    "  m = beta2 * m + (1 - beta2) * g\n"
    "}\n";

static void test_lion(void **state) {
  (void)state;
  IrProgram prog;
  build(&prog, "lion.opt", LION);
  enum { N = 7 };
  float p[N], g[N];
  double rp[N], rm[N] = {0};
  for (int i = 0; i < N; i++) p[i] = (float)(rp[i] = 1 - 0.25 * i);
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  interp_add_tensor(in, p, g, N, 1, &err);
  for (int t = 1; t <= 20; t++) {
    for (int i = 0; i < N; i++) g[i] = grad_at(i, t);
    expect_ok(interp_step(in, NAN, &err), err);
    for (int i = 0; i < N; i++) {
      double c = 0.9 * rm[i] + 0.1 * g[i];
      rp[i] -= 1e-4 * ((c > 0) - (c < 0) + 0.1 * rp[i]);
      rm[i] = 0.99 * rm[i] + 0.01 * g[i];
    }
  }
  for (int i = 0; i < N; i++) assert_close(p[i], rp[i], 1e-6);
  interp_free(in);
  ir_program_free(&prog);
}

/* ---- LAMB with global-norm clipping, two tensors ------------------------------ */

static const char LAMB_CLIP[] =
    "optimizer lamb_clip\n"
    "hyper lr = 1e-2\nhyper maxnorm = 1\n"
    "state m = 0\nstate v = 0\n"
    "update {\n"
    "  gc = g * min(1, maxnorm / group.norm(g))\n"
    "  m = 0.9 * m + 0.1 * gc\n"
    "  v = 0.99 * v + 0.01 * gc^2\n"
    "  u = m / (sqrt(v) + 1e-6)\n"
    "  p = p - lr * norm(p) / norm(u) * u\n"
    "}\n";

static void test_lamb_clip(void **state) {
  (void)state;
  IrProgram prog;
  build(&prog, "lamb_clip.opt", LAMB_CLIP);
  enum { NA = 5000, NB = 15, N = NA + NB };
  static float p[N], g[N];
  static double rp[N], rm[N], rv[N], ru[N];
  for (int i = 0; i < N; i++) p[i] = (float)(rp[i] = 0.5 + 0.001 * i);
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  interp_add_tensor(in, p, g, 50, 100, &err);
  interp_add_tensor(in, p + NA, g + NA, NB, 1, &err);
  for (int t = 1; t <= 10; t++) {
    double gn = 0;
    for (int i = 0; i < N; i++) {
      g[i] = grad_at(i, t);
      gn += (double)g[i] * g[i];
    }
    double c = fmin(1, 1 / sqrt(gn));
    expect_ok(interp_step(in, NAN, &err), err);
    int lo[2] = {0, NA}, hi[2] = {NA, N};
    for (int k = 0; k < 2; k++) {
      double pn = 0, un = 0;
      for (int i = lo[k]; i < hi[k]; i++) {
        rm[i] = 0.9 * rm[i] + 0.1 * g[i] * c;
        rv[i] = 0.99 * rv[i] + 0.01 * (g[i] * c) * (g[i] * c);
        ru[i] = rm[i] / (sqrt(rv[i]) + 1e-6);
        pn += rp[i] * rp[i];
        un += ru[i] * ru[i];
      }
      for (int i = lo[k]; i < hi[k]; i++) rp[i] -= 1e-2 * sqrt(pn) / sqrt(un) * ru[i];
    }
  }
  for (int i = 0; i < N; i++) assert_close(p[i], rp[i], 1e-5);
  interp_free(in);
  ir_program_free(&prog);
}

/* ---- every K, a bf16 state, a scalar state ------------------------------------ */

static const char EVERY[] =
    "optimizer every_k\n"
    "hyper k = 3 in [1, 100]\n"
    "state h : bf16 = 0\n"
    "state seen : scalar = 0\n"
    "update {\n"
    "  every k {\n"
    "    h = 0.5 * h + g\n"
    "    seen += 1\n"
    "  }\n"
    "  p -= 0.1 * h\n"
    "}\n";

static double bf16_round(double x) { return optk_bf16_to_f32(optk_f32_to_bf16((float)x)); }

static void test_every_bf16(void **state) {
  (void)state;
  IrProgram prog;
  build(&prog, "every.opt", EVERY);
  enum { N = 5 };
  float p[N] = {0}, g[N];
  double rp[N] = {0}, rh[N] = {0};
  char *err = NULL;
  Interp *in = interp_create(&prog, NULL, &err);
  interp_add_tensor(in, p, g, N, 1, &err);
  for (int t = 1; t <= 10; t++) {
    for (int i = 0; i < N; i++) g[i] = grad_at(i, t);
    expect_ok(interp_step(in, NAN, &err), err);
    for (int i = 0; i < N; i++) {
      /* within the step that assigns h, p sees the value before its
       * rounding to bf16; later steps load the rounded one */
      double h = (t - 1) % 3 == 0 ? 0.5 * rh[i] + g[i] : rh[i];
      rh[i] = bf16_round(h);
      rp[i] = (float)(rp[i] - 0.1 * h);
    }
  }
  for (int i = 0; i < N; i++) assert_close(p[i], rp[i], 1e-6);
  assert_true(interp_sstate(in, 0, 0) == 4); /* t = 1, 4, 7, 10 */
  interp_free(in);
  ir_program_free(&prog);
}

/* ---- every stdlib optimizer on awkward sizes ------------------------------------- */

/* The needs of the rule in `path`, from sema alone (rules the pipeline
 * cannot build are still classified). */
static uint32_t needs_of(const char *path) {
  SrcMgr sm;
  srcmgr_init(&sm);
  DiagSink sink;
  diag_init(&sink, &sm, NULL, NULL);
  char *err = NULL;
  int file = srcmgr_load(&sm, path, &err);
  assert_true(file >= 0);
  SemaProgram sp;
  SemaOptions so = {0};
  assert_int_equal(sema_check_file(&sp, &sm, file, &sink, &so), 0);
  uint32_t needs = sp.needs;
  sema_program_free(&sp);
  srcmgr_free(&sm);
  return needs;
}

/* Rules that need the host's objective or 2-D parameters run in their own
 * tests (e2e_rules2); here every other rule runs on 1-D tensors. */
static int run_one(const char *path) {
  const uint32_t host = OPTK_NEED_HVP | OPTK_NEED_HESSIAN | OPTK_NEED_LINESEARCH | OPTK_NEED_2D |
                        OPTK_NEED_GNB;
  if (needs_of(path) & host) return 0;
  IrProgram prog;
  build(&prog, path, NULL);
  static const int64_t rows[] = {0, 1, 7, 4099, 3}, cols[] = {1, 1, 1, 1, 5};
  enum { NT = 5, TOTAL = 0 + 1 + 7 + 4099 + 15 };
  static float p[TOTAL], g[TOTAL];
  float *pp[NT];
  const float *grads[3 * NT];
  int64_t off = 0;
  for (int k = 0; k < NT; k++) {
    pp[k] = p + off;
    for (int s = 0; s < 3; s++) grads[s * NT + k] = g + off;
    off += rows[k] * cols[k];
  }
  for (int i = 0; i < TOTAL; i++) p[i] = (float)cos(i), g[i] = grad_at(i, 1);
  double losses[3] = {1.5, 1.25, 1.0};
  InterpRun run = {.ntensors = NT, .p = pp, .rows = rows, .cols = cols, .steps = 3,
                   .grads = grads, .losses = losses};
  char *err = NULL;
  int rc = interp_run(&prog, &run, &err);
  if (rc != 0) fail_msg("%s: %s", path, err);
  for (int i = 0; i < TOTAL; i++)
    if (!isfinite(p[i])) fail_msg("%s: p[%d] = %g", path, i, p[i]);
  ir_program_free(&prog);
  return 1;
}

static void test_stdlib(void **state) {
  (void)state;
  DIR *d = opendir(OPTC_SOURCE_DIR "/stdlib");
  assert_non_null(d);
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".opt") != 0) continue;
    char path[512];
    snprintf(path, sizeof path, "%s/stdlib/%s", OPTC_SOURCE_DIR, e->d_name);
    count += run_one(path);
  }
  closedir(d);
  assert_true(count >= 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adam),
      cmocka_unit_test(test_lion),
      cmocka_unit_test(test_lamb_clip),
      cmocka_unit_test(test_every_bf16),
      cmocka_unit_test(test_stdlib),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
