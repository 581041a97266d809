/* e2e_gnb.c: Sophia's Gauss-Newton-Bartlett gradients (gnb()), from the
 * tasks through the runtime, the compiler and the interpreter.
 *
 * - logistic: over DRAWS calls at one point, the sample mean of
 *   B * g_hat_j^2 matches the Gauss-Newton diagonal (1/B) sum_i s_i
 *   (1 - s_i) x_ij^2, computed here from the task's data regenerated with
 *   optk.h's generator as task_regression.c documents it (the task's own
 *   Hessian diagonal, which at l2 = 0 is the same sum, confirms the
 *   regeneration to 1e-12).  Tolerance: 5 standard errors of the sample
 *   mean (the standard error from the draws' own variance); the draws are
 *   keyed by (seed, step, call count), so the test is deterministic.  The
 *   mean of g_hat is 0 within 5 standard errors.
 * - softmax (with a minibatch): B * g_hat^2 against the task's Hessian
 *   diagonal at l2 = 0, which for softmax regression is the Gauss-Newton
 *   matrix; the MLP: g_hat has mean 0.
 * - Determinism: the same (seed, step, call count) gives the same vector,
 *   the next call or another step another one; float and double entry
 *   points agree; tasks without labels lack the flag and the callback.
 * - The runtime refuses sophia_gnb.opt without an objective or without
 *   gnb_grad, with the messages of docs/runtime.md; optrt_minimize counts
 *   the gnb_grad calls (one per `every k` block run).
 * - The compiler: sema's need, the plan's GNB op, `optc info`'s needs
 *   line, arity errors; the interpreter calls its host gnb and fails
 *   without one.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "info.h"
#include "interp.h"
#include "ir_pipeline.h"
#include "optc.h"
#include "optk.h"
#include "optrt.h"
#include "optrt_minimize.h"
#include "optrt_tasks.h"

#define STDLIB_DIR OPTC_SOURCE_DIR "/stdlib"

enum { DRAWS = 20000 };
static const double Z_MAX = 5.0; /* standard errors */

static OptrtTask *make(const char *name, uint64_t seed, const char *options) {
  char *err = NULL;
  OptrtTask *t = optrt_task_create(name, seed, options, &err);
  if (!t) fail_msg("%s: %s", name, err ? err : "?");
  return t;
}

/* ---- the task's data, regenerated (task.c / task_regression.c) ---------- */

static double normal_draw(uint64_t key, uint64_t index) {
  uint64_t a = optk_rng_u64(key, 2 * index), b = optk_rng_u64(key, 2 * index + 1);
  double u1 = ((double)(a >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  double u2 = (double)(b >> 11) * (1.0 / 9007199254740992.0);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Features of logistic's example i (n x d, then the constant 1). */
static double *logistic_features(uint64_t seed, int64_t n, int64_t d) {
  uint64_t kx = optk_rng_key(seed, 0, 10 /* PURPOSE_DATA */, 0x7461736bu);
  double *x = malloc(sizeof(double) * (size_t)(n * (d + 1)));
  assert_non_null(x);
  for (int64_t i = 0; i < n; i++) {
    for (int64_t j = 0; j < d; j++) x[i * (d + 1) + j] = normal_draw(kx, (uint64_t)(i * d + j));
    x[i * (d + 1) + d] = 1.0;
  }
  return x;
}

/* ---- sample statistics ---------------------------------------------------- */

typedef struct Moments {
  int64_t n;
  double *sum, *sum2; /* per coordinate */
  int64_t count;
} Moments;

static void moments_init(Moments *m, int64_t n) {
  m->n = n;
  m->count = 0;
  m->sum = calloc((size_t)n, sizeof(double));
  m->sum2 = calloc((size_t)n, sizeof(double));
  assert_true(m->sum && m->sum2);
}

static void moments_add(Moments *m, const double *v) {
  for (int64_t j = 0; j < m->n; j++) m->sum[j] += v[j], m->sum2[j] += v[j] * v[j];
  m->count++;
}

/* |mean_j - want_j| in standard errors of the mean. */
static double z_score(const Moments *m, int64_t j, double want) {
  double c = (double)m->count, mean = m->sum[j] / c;
  double var = (m->sum2[j] - c * mean * mean) / (c - 1);
  return fabs(mean - want) / sqrt(var / c);
}

static void moments_free(Moments *m) {
  free(m->sum);
  free(m->sum2);
}

/* Draws DRAWS samples of task t at x; checks that the mean of g_hat is 0
 * and, when gn is not NULL, that the mean of B * g_hat^2 is gn. */
static void check_draws(OptrtTask *t, const double *x, double batch, const double *gn, int draws) {
  int64_t n = optrt_task_dim(t);
  double *gh = malloc(sizeof(double) * (size_t)n), *sq = malloc(sizeof(double) * (size_t)n);
  assert_true(gh && sq);
  Moments first, second;
  moments_init(&first, n);
  moments_init(&second, n);
  for (int k = 0; k < draws; k++) {
    assert_int_equal(optrt_task_gnb_d(t, x, gh), 0);
    for (int64_t j = 0; j < n; j++) sq[j] = batch * gh[j] * gh[j];
    moments_add(&first, gh);
    moments_add(&second, sq);
  }
  double worst1 = 0, worst2 = 0;
  for (int64_t j = 0; j < n; j++) {
    worst1 = fmax(worst1, z_score(&first, j, 0.0));
    if (gn) worst2 = fmax(worst2, z_score(&second, j, gn[j]));
    if (gn) assert_true(gn[j] > 0);
  }
  print_message("%s: %d draws, worst |mean g_hat| %.2f SE, worst |mean B g_hat^2 - GN| %.2f SE\n",
                optrt_task_name(t), draws, worst1, worst2);
  assert_true(worst1 <= Z_MAX);
  assert_true(worst2 <= Z_MAX);
  moments_free(&first);
  moments_free(&second);
  free(gh);
  free(sq);
}

static void test_logistic_gauss_newton_diagonal(void **state) {
  (void)state;
  const int64_t n = 64, d = 5, p = d + 1;
  OptrtTask *t = make("logistic", 3, "n=64,d=5,l2=0");
  double w[6] = {0.4, -0.3, 0.2, 0.5, -0.6, 0.1};
  double *x = logistic_features(3, n, d);
  double gn[6] = {0}, h[36];
  for (int64_t i = 0; i < n; i++) {
    double z = 0;
    for (int64_t j = 0; j < p; j++) z += w[j] * x[i * p + j];
    double s = 1.0 / (1.0 + exp(-z));
    for (int64_t j = 0; j < p; j++) gn[j] += s * (1 - s) * x[i * p + j] * x[i * p + j] / (double)n;
  }
  assert_int_equal(optrt_task_hessian_d(t, w, h), 0);
  for (int64_t j = 0; j < p; j++) assert_true(fabs(h[j * p + j] - gn[j]) <= 1e-12 * gn[j]);
  check_draws(t, w, (double)n, gn, DRAWS);
  free(x);
  optrt_task_free(t);
}

static void test_softmax_gauss_newton_diagonal(void **state) {
  (void)state;
  OptrtTask *t = make("softmax", 5, "n=30,d=4,k=3,l2=0,batch=8");
  optrt_task_set_step(t, 3);
  int64_t n = optrt_task_dim(t);
  assert_int_equal(n, 15);
  double w[15], h[225], gn[15];
  for (int j = 0; j < 15; j++) w[j] = 0.3 * sin(1.7 * j);
  assert_int_equal(optrt_task_hessian_d(t, w, h), 0);
  for (int j = 0; j < 15; j++) gn[j] = h[j * 15 + j];
  check_draws(t, w, 8.0, gn, DRAWS);
  optrt_task_free(t);
}

static void test_mlp_mean_zero(void **state) {
  (void)state;
  OptrtTask *t = make("mlp", 2, "n=32,d=2,k=3,hidden=6");
  int64_t n = optrt_task_dim(t);
  double *x = malloc(sizeof(double) * (size_t)n);
  assert_non_null(x);
  assert_int_equal(optrt_task_init_d(t, x), 0);
  check_draws(t, x, 32.0, NULL, 4000);
  free(x);
  optrt_task_free(t);
}

/* ---- determinism and entry points ---------------------------------------- */

static void test_draws_keyed(void **state) {
  (void)state;
  OptrtTask *a = make("softmax", 9, "n=20,d=3,k=4"), *b = make("softmax", 9, "n=20,d=3,k=4");
  double w[16], g0[16], g1[16], h0[16], h1[16], s5[16], again[16];
  for (int j = 0; j < 16; j++) w[j] = 0.1 * (j % 5) - 0.2;
  assert_int_equal(optrt_task_gnb_d(a, w, g0), 0);
  assert_int_equal(optrt_task_gnb_d(a, w, g1), 0);
  assert_int_equal(optrt_task_gnb_d(b, w, h0), 0);
  assert_int_equal(optrt_task_gnb_d(b, w, h1), 0);
  assert_memory_equal(g0, h0, sizeof g0);
  assert_memory_equal(g1, h1, sizeof g1);
  assert_memory_not_equal(g0, g1, sizeof g0);
  optrt_task_set_step(a, 5);
  assert_int_equal(optrt_task_gnb_d(a, w, s5), 0);
  assert_memory_not_equal(g0, s5, sizeof g0);
  optrt_task_set_step(a, 0); /* the count restarts with the step */
  assert_int_equal(optrt_task_gnb_d(a, w, again), 0);
  assert_memory_equal(g0, again, sizeof g0);
  optrt_task_free(a);
  optrt_task_free(b);
}

static void test_float_entry_point(void **state) {
  (void)state;
  OptrtTask *a = make("logistic", 4, "n=16,d=3"), *b = make("logistic", 4, "n=16,d=3");
  float w[3] = {0.5f, -0.25f, 1.0f}, bias[1] = {0.125f}, gw[3], gb[1];
  float *x[2] = {w, bias}, *out[2] = {gw, gb};
  double wd[4] = {0.5, -0.25, 1.0, 0.125}, gd[4];
  assert_int_equal(optrt_task_gnb(a, (const float *const *)x, out), 0);
  assert_int_equal(optrt_task_gnb_d(b, wd, gd), 0);
  for (int j = 0; j < 3; j++) assert_true(gw[j] == (float)gd[j]);
  assert_true(gb[0] == (float)gd[3]);
  optrt_task_free(a);
  optrt_task_free(b);
}

static void test_flags(void **state) {
  (void)state;
  static const char *const with[] = {"logistic", "softmax", "mlp"};
  static const char *const without[] = {"quadratic", "rosenbrock", "mgh_beale"};
  for (int i = 0; i < 3; i++) {
    OptrtTask *t = make(with[i], 1, NULL);
    assert_true(optrt_task_flags(t) & OPTRT_TASK_HAS_GNB);
    optrt_task_free(t);
    t = make(without[i], 1, NULL);
    assert_false(optrt_task_flags(t) & OPTRT_TASK_HAS_GNB);
    double x[64] = {0}, out[64];
    assert_int_equal(optrt_task_gnb_d(t, x, out), -1);
    float *xs[1] = {NULL};
    assert_int_equal(optrt_task_gnb(t, (const float *const *)xs, (float *const *)xs), -1);
    optrt_task_free(t);
  }
}

/* ---- the runtime ---------------------------------------------------------- */

typedef struct Rig {
  OptcJit *jit;
  OptrtKernel *kernel;
  Optrt *opt;
  OptrtTask *task;
  float *x[2], *g[2];
} Rig;

static char *read_text(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  char *buf = calloc(1, 1 << 16);
  if (buf) (void)fread(buf, 1, (1 << 16) - 1, fp);
  fclose(fp);
  return buf;
}

/* sophia_gnb.opt on logistic's w and b (one group). */
static void rig_create(Rig *r) {
  memset(r, 0, sizeof *r);
  char *text = read_text(STDLIB_DIR "/sophia_gnb.opt");
  assert_non_null(text);
  OptcOptions o;
  optc_options_init(&o);
  r->jit = optc_jit_compile("sophia_gnb.opt", text, strlen(text), &o);
  free(text);
  assert_non_null(r->jit);
  assert_true(optc_jit_descriptor(r->jit)->needs & OPTK_NEED_GNB);
  char *err = NULL;
  r->kernel = optrt_wrap_descriptor(optc_jit_descriptor(r->jit), &err);
  assert_non_null(r->kernel);
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = 1;
  r->opt = optrt_create(r->kernel, &cfg, &err);
  assert_non_null(r->opt);
  assert_int_equal(optrt_add_group(r->opt, NULL), 0);
  r->task = make("logistic", 1, "n=128,d=6");
  for (int i = 0; i < 2; i++) {
    int64_t rows = 0, cols = 0;
    assert_int_equal(optrt_task_tensor(r->task, i, NULL, &rows, &cols), 0);
    r->x[i] = calloc((size_t)(rows * cols), sizeof(float));
    r->g[i] = calloc((size_t)(rows * cols), sizeof(float));
    assert_true(optrt_add_param(r->opt, 0, r->x[i], r->g[i], rows * cols, 0) >= 0);
  }
  assert_int_equal(optrt_task_init(r->task, r->x), 0);
}

static void rig_free(Rig *r) {
  optrt_destroy(r->opt);
  optrt_kernel_close(r->kernel);
  optc_jit_free(r->jit);
  optrt_task_free(r->task);
  for (int i = 0; i < 2; i++) free(r->x[i]), free(r->g[i]);
}

static void test_runtime_refuses(void **state) {
  (void)state;
  Rig r;
  rig_create(&r);
  assert_int_equal(optrt_step(r.opt), -1);
  assert_non_null(strstr(optrt_last_error(r.opt),
                         "the rule needs Gauss-Newton-Bartlett gradients: call optrt_step_objective"));
  OptrtObjective obj;
  assert_int_equal(optrt_task_objective(r.task, r.x, r.g, &obj), 0);
  assert_non_null(obj.gnb_grad);
  obj.gnb_grad = NULL;
  assert_int_equal(optrt_step_objective(r.opt, &obj), -1);
  assert_non_null(strstr(optrt_last_error(r.opt),
                         "the rule needs Gauss-Newton-Bartlett gradients; the objective has no gnb_grad"));
  assert_int_equal(optrt_step_count(r.opt, 0), 0);
  rig_free(&r);
}

/* 30 steps with k = 10 refresh h at t = 1, 11, 21: three gnb_grad calls. */
static void test_minimize_counts(void **state) {
  (void)state;
  Rig r;
  rig_create(&r);
  assert_int_equal(optrt_set_hyper(r.opt, 0, "lr", 0.05), 0);
  assert_int_equal(optrt_set_hyper(r.opt, 0, "bs", 128), 0);
  OptrtObjective obj;
  assert_int_equal(optrt_task_objective(r.task, r.x, r.g, &obj), 0);
  double f0 = 0;
  assert_int_equal(optrt_task_eval(r.task, (const float *const *)r.x, NULL, &f0), 0);
  OptrtMinimizeOptions mo;
  optrt_minimize_options_init(&mo);
  mo.max_iters = 30;
  mo.gtol = 0;
  OptrtMinimizeReport rep;
  if (optrt_minimize(r.opt, &obj, &mo, &rep) != 0) fail_msg("%s", optrt_last_error(r.opt));
  print_message("sophia_gnb on logistic: loss %.4f -> %.4f, %lld gnb calls\n", f0, rep.loss,
                (long long)rep.gnbs);
  assert_int_equal(rep.iters, 30);
  assert_int_equal(rep.gnbs, 3);
  assert_int_equal(rep.hvps, 0);
  assert_true(rep.loss < 0.9 * f0);
  rig_free(&r);
}

/* ---- the compiler and the interpreter ------------------------------------ */

typedef struct Diags {
  char text[2048];
} Diags;

static void keep_diag(void *user, const Diag *d) {
  Diags *s = user;
  size_t used = strlen(s->text);
  snprintf(s->text + used, sizeof s->text - used, "%s\n", d->message);
}

static int build(IrProgram *prog, const char *text, Diags *ds) {
  SrcMgr sm;
  srcmgr_init(&sm);
  DiagSink sink;
  diag_init(&sink, &sm, keep_diag, ds);
  SemaOptions so = {0};
  PipelineOptions po = {.verify = true};
  int errors = ir_pipeline_build_text(prog, &sm, "t.opt", text, strlen(text), &sink, &so, &po);
  srcmgr_free(&sm);
  return errors;
}

static int host_gnb(void *user, int ntensors, double *const *out, char **err) {
  (void)err;
  int *calls = user;
  for (int k = 0; k < ntensors; k++)
    for (int i = 0; i < 4; i++) out[k][i] = 0.5 * (i + 1) + k;
  (*calls)++;
  return 0;
}

static const char RULE[] = "optimizer t\nhyper b = 0.75\nstate h = 0\n"
                           "update {\n  gh = gnb()\n  h = b * h + gh * gh\n  p -= 0.5 * h\n}\n";

static void test_compiler_and_interpreter(void **state) {
  (void)state;
  Diags ds = {{0}};
  IrProgram prog;
  assert_int_equal(build(&prog, RULE, &ds), 0);
  assert_int_equal(prog.needs, OPTK_NEED_GNB);
  int gnb_ops = 0;
  for (int i = 0; i < prog.nstages; i++) gnb_ops += prog.stages[i].op.kind == OPTK_OP_GNB;
  assert_int_equal(gnb_ops, 1);
  Str info = {0};
  info_format(&info, &prog, false);
  assert_non_null(strstr(info.data, "\nneeds: gnb\n"));
  free(info.data);

  char *err = NULL;
  float p[4] = {1, 2, 3, 4}, g[4] = {0};
  InterpOptions none = {.seed = 1};
  Interp *in = interp_create(&prog, &none, &err);
  assert_non_null(in);
  assert_true(interp_add_tensor(in, p, g, 4, 1, &err) >= 0);
  assert_int_equal(interp_step(in, NAN, &err), -1);
  assert_string_equal(err, "the plan needs gnb but the host gave none");
  free(err);
  interp_free(in);

  int calls = 0;
  InterpOptions with = {.seed = 1, .host = {.user = &calls, .gnb = host_gnb}};
  in = interp_create(&prog, &with, &err);
  assert_non_null(in);
  assert_true(interp_add_tensor(in, p, g, 4, 1, &err) >= 0);
  for (int s = 0; s < 2; s++)
    if (interp_step(in, NAN, &err)) fail_msg("%s", err);
  assert_int_equal(calls, 2);
  for (int i = 0; i < 4; i++) { /* h1 = gh^2, h2 = 1.75 gh^2; p -= 0.5 (h1 + h2) */
    double gh = 0.5 * (i + 1);
    assert_true(fabs(p[i] - (float)(i + 1 - 0.5 * 2.75 * gh * gh)) <= 1e-6);
  }
  interp_free(in);
  ir_program_free(&prog);

  IrProgram bad;
  memset(ds.text, 0, sizeof ds.text);
  assert_true(build(&bad, "optimizer t\nupdate {\n  p -= gnb(g)\n}\n", &ds) > 0);
  assert_non_null(strstr(ds.text, "gnb() takes 0 arguments, but 1 was given"));
  ir_program_free(&bad);
  memset(ds.text, 0, sizeof ds.text);
  assert_true(build(&bad, "optimizer t\nstate h = gnb()\nupdate {\n  p -= h\n}\n", &ds) > 0);
  assert_non_null(strstr(ds.text, "gnb() is not one"));
  ir_program_free(&bad);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_logistic_gauss_newton_diagonal),
      cmocka_unit_test(test_softmax_gauss_newton_diagonal),
      cmocka_unit_test(test_mlp_mean_zero),
      cmocka_unit_test(test_draws_keyed),
      cmocka_unit_test(test_float_entry_point),
      cmocka_unit_test(test_flags),
      cmocka_unit_test(test_runtime_refuses),
      cmocka_unit_test(test_minimize_counts),
      cmocka_unit_test(test_compiler_and_interpreter),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
