/* e2e_rules2.c: the second-order and matrix rules of the stdlib, end to end.
 *
 * - Every fixture of tests/parity/fixtures2/ (tests/parity/reference2.py,
 *   independent NumPy code from the papers): JIT the stdlib file it names,
 *   run it through liboptrt with the recorded gradients, losses, (the
 *   sidecar .hvp files) Hessian-vector products and (.gnb files) Sophia's
 *   Gauss-Newton-Bartlett gradients, and compare every parameter after
 *   every step as e2e_parity does.
 * - Newton from (-1.2, 1) on Rosenbrock reaches |g| < 1e-10 within 30
 *   iterations; Newton-CG solves a quadratic; L-BFGS and BFGS solve MGH
 *   problems through optrt_minimize.
 * - Muon's Newton-Schulz output against the scalar map of its
 *   coefficients, and inside the band they promise; inv_root on matrices
 *   with known roots, singular ones included.
 * - A Muon + AdamW optimizer (two groups, two rules) on the MLP task
 *   checkpoints and resumes bit for bit; Shampoo, SOAP, Muon and Adafactor
 *   each train the MLP through the C API.
 *
 * Any compile error fails the test.
 */
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

#include "optc.h"
#include "optrt.h"
#include "read_text.h"
#include "test_rule.h"
#include "optrt_minimize.h"
#include "optrt_tasks.h"
#include "parity.h"
#include "parity_run.h"
#include "tmpdir.h"

#define FIXTURE_DIR OPTC_SOURCE_DIR "/tests/parity/fixtures2"
#define STDLIB_DIR OPTC_SOURCE_DIR "/stdlib"
#define RNG_SEED 7 /* reference2.py's SEED */

/* ---- compiling ------------------------------------------------------------ */

/* Compiles `source` (NULL: the file `name` of stdlib/) into r, fused or
 * not as r->fused says; fails on any error. */
static void compile_into(TestRule *r, const char *name, const char *source) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", STDLIB_DIR, name);
  char *text = source ? NULL : test_read_text(path, NULL);
  if (!source && !text) fail_msg("cannot read %s", path);
  test_rule_jit(r, path, source ? source : text, r->fused);
  free(text);
}

static Optrt *new_optimizer(const OptrtKernel *k, int threads) {
  OptrtConfig cfg;
  optrt_config_init(&cfg);
  cfg.threads = threads;
  cfg.seed = RNG_SEED;
  char *err = NULL;
  Optrt *o = optrt_create(k, &cfg, &err);
  if (!o) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", err ? err : "?");
    free(err);
    fail_msg("optrt_create: %s", msg);
  }
  return o;
}

/* ---- parity fixtures ------------------------------------------------------ */

/* The sidecar of a fixture whose rule calls hvp or gnb (reference2.py's
 * format; a .gnb file holds the gnb_grad results in call order). */
typedef struct Hvp {
  int calls, used;
  int64_t n;
  float *rows; /* [calls * n] */
} Hvp;

static int header_value(const char *text, const char *key, long long *v) {
  char pat[64];
  snprintf(pat, sizeof pat, "\n%s ", key);
  const char *at = strstr(text, pat);
  return at && sscanf(at + strlen(pat), "%lld", v) == 1 ? 0 : -1;
}

/* Loads `path` (absent: no hvp calls).  Checks the size and the digest. */
static void hvp_load(const char *path, int64_t n, Hvp *h) {
  memset(h, 0, sizeof *h);
  FILE *fp = fopen(path, "rb");
  if (!fp) return;
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *data = malloc((size_t)size + 1);
  assert_non_null(data);
  assert_int_equal(fread(data, 1, (size_t)size, fp), (size_t)size);
  fclose(fp);
  data[size] = 0;
  const char *end = strstr((const char *)data, "\nend\n");
  long long calls = 0, nn = 0, payload = 0;
  assert_non_null(end);
  assert_int_equal(header_value((const char *)data, "calls", &calls), 0);
  assert_int_equal(header_value((const char *)data, "n", &nn), 0);
  assert_int_equal(header_value((const char *)data, "payload", &payload), 0);
  const uint8_t *body = (const uint8_t *)end + 5;
  assert_int_equal(nn, n);
  assert_int_equal(payload, calls * n * 4);
  assert_int_equal((long long)(data + size - body), payload);
  uint8_t digest[32];
  char hex[65], want[80];
  parity_sha256(body, (size_t)payload, digest);
  parity_sha256_hex(digest, hex);
  snprintf(want, sizeof want, "\nsha256 %s\n", hex);
  assert_non_null(strstr((const char *)data, want));
  h->calls = (int)calls;
  h->n = n;
  h->rows = malloc((size_t)payload + 4);
  assert_non_null(h->rows);
  memcpy(h->rows, body, (size_t)payload); /* little-endian float32, as the host */
  free(data);
}

typedef struct Run {
  const char *name;
  ParityFixture fx;
  Hvp hvp;
  Hvp gnb;
  TestRule rule;
  Optrt *opt;
  float *p, *g;
  int step;
  char *source; /* an edited rule (NULL: the stdlib file) */
  int lenient;  /* record the worst error instead of failing */
} Run;

static int recorded_value_grad(void *user, double *loss, int want_grad) {
  Run *r = user;
  *loss = r->fx.f[r->step];
  if (want_grad)
    memcpy(r->g, r->fx.g + (int64_t)r->step * r->fx.n, (size_t)r->fx.n * sizeof(float));
  return 0;
}

/* The reference's H v of this call, tensor by tensor. */
static int recorded_hvp(void *user, const float *const *v, float *const *hv) {
  Run *r = user;
  if (r->hvp.used >= r->hvp.calls) return -1;
  const float *row = r->hvp.rows + (int64_t)r->hvp.used++ * r->hvp.n;
  for (int i = 0; i < r->fx.ntensors; i++) {
    const ParityTensor *t = &r->fx.tensors[i];
    if (!v[i]) return -1;
    if (hv[i]) memcpy(hv[i], row + t->offset, (size_t)t->size * sizeof(float));
  }
  return 0;
}

/* The reference's g_hat of this call, tensor by tensor. */
static int recorded_gnb(void *user, float *const *out) {
  Run *r = user;
  if (r->gnb.used >= r->gnb.calls) return -1;
  const float *row = r->gnb.rows + (int64_t)r->gnb.used++ * r->gnb.n;
  for (int i = 0; i < r->fx.ntensors; i++) {
    const ParityTensor *t = &r->fx.tensors[i];
    if (out[i]) memcpy(out[i], row + t->offset, (size_t)t->size * sizeof(float));
  }
  return 0;
}

static void run_setup_optimizer(Run *r) {
  r->opt = new_optimizer(r->rule.kernel, 1);
  parity_attach(r->opt, &r->fx, &r->p, &r->g);
}

static double compare_step(const Run *r) {
  const ParityFixture *fx = &r->fx;
  const float *want = fx->p + (int64_t)r->step * fx->n;
  double worst = 0;
  for (int64_t i = 0; i < fx->n; i++) {
    double a = r->p[i], b = want[i];
    double rel = r->rule.fused ? PARITY_REL_FUSED : PARITY_REL;
    double ratio = fabs(a - b) / (rel * (fabs(b) > PARITY_FLOOR ? fabs(b) : PARITY_FLOOR));
    if (!r->lenient && !(ratio <= 1))
      fail_msg("%s (%s): step %d, element %lld: got %.9g, want %.9g (%.2f x tolerance)",
               fx->setting, fx->rule, r->step + 1, (long long)i, a, b, ratio);
    if (ratio > worst) worst = ratio;
  }
  return worst;
}

static void take_step(Run *r) {
  const ParityFixture *fx = &r->fx;
  memcpy(r->g, fx->g + (int64_t)r->step * fx->n, (size_t)fx->n * sizeof(float));
  uint32_t needs = optc_jit_descriptor(r->rule.jit)->needs;
  int rc;
  if (needs & (OPTK_NEED_LOSS | OPTK_NEED_HVP | OPTK_NEED_GNB)) {
    OptrtObjective obj = {r, recorded_value_grad, recorded_hvp, NULL, recorded_gnb};
    rc = optrt_step_objective(r->opt, &obj);
  } else {
    rc = optrt_step(r->opt);
  }
  if (rc) fail_msg("%s: step %d: %s", fx->setting, r->step + 1, optrt_last_error(r->opt));
}

static int run_setup(void **state) {
  Run *r = calloc(1, sizeof *r);
  if (!r) return -1;
  r->name = *state;
  *state = r;
  return 0;
}

static void release_fixture(Run *r);

static int run_teardown(void **state) {
  Run *r = *state;
  release_fixture(r);
  free(r->source);
  free(r);
  return 0;
}

/* Loads fixture `name` (and its .hvp and .gnb sidecars) and runs every step;
 * returns the worst error as a fraction of the tolerance. */
static double run_fixture(Run *r, const char *name) {
  char path[1024], err[512];
  snprintf(path, sizeof path, "%s/%s", FIXTURE_DIR, name);
  if (parity_load(path, &r->fx, err, sizeof err)) fail_msg("%s", err);
  snprintf(path + strlen(path) - 4, 8, ".hvp");
  hvp_load(path, r->fx.n, &r->hvp);
  snprintf(path + strlen(path) - 4, 8, ".gnb");
  hvp_load(path, r->fx.n, &r->gnb);
  compile_into(&r->rule, r->fx.rule, r->source);
  run_setup_optimizer(r);
  double worst = 0;
  for (r->step = 0; r->step < r->fx.steps; r->step++) {
    take_step(r);
    double w = compare_step(r);
    if (w > worst) worst = w;
  }
  assert_int_equal(r->hvp.used, r->hvp.calls);
  assert_int_equal(r->gnb.used, r->gnb.calls);
  return worst;
}

/* Frees what run_fixture made, so that it can run again. */
static void release_fixture(Run *r) {
  optrt_destroy(r->opt);
  test_rule_free(&r->rule);
  free(r->p);
  free(r->g);
  free(r->hvp.rows);
  free(r->gnb.rows);
  parity_free(&r->fx);
  r->opt = NULL;
  r->p = r->g = NULL;
  memset(&r->hvp, 0, sizeof r->hvp);
  memset(&r->gnb, 0, sizeof r->gnb);
  memset(&r->fx, 0, sizeof r->fx);
}

/* Every fixture runs twice: each operation rounded on its own (as the
 * reference), then with optc's default fused multiply-add. */
static void test_fixture(void **state) {
  Run *r = *state;
  double worst = run_fixture(r, r->name);
  release_fixture(r);
  r->rule.fused = 1;
  double fused = run_fixture(r, r->name);
  print_message("%-28s worst error %.3f of tolerance; fused multiply-add %.3f of its\n",
                r->fx.setting, worst, fused);
}

/* `file` with `from` replaced by `to` in its update must miss `fixture`
 * by more than the tolerance: the fixtures see the detail. */
static void expect_mismatch(Run *r, const char *fixture, const char *file, const char *from,
                            const char *to) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", STDLIB_DIR, file);
  size_t len = 0;
  char *text = test_read_text(path, &len);
  assert_non_null(text);
  char *body = strstr(text, "update {");
  char *at = body ? strstr(body, from) : NULL;
  if (!at) {
    free(text);
    fail_msg("the update of %s no longer contains '%s'", file, from);
  }
  size_t cap = len + strlen(to) + 1;
  r->source = malloc(cap);
  assert_non_null(r->source);
  snprintf(r->source, cap, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
  free(text);
  r->lenient = 1;
  double worst = run_fixture(r, fixture);
  print_message("%s edited: worst error %.1f x tolerance\n", file, worst);
  assert_true(worst > 1.0);
}

/* The probe must be optc's normal() stream, drawn as reference2.py draws
 * it: Rademacher probes (same seed) move the trajectory. */
static void test_detects_sophia_probe(void **state) {
  expect_mismatch(*state, "sophia_rho5.fix", "sophia.opt", "u = normal()", "u = rademacher()");
}

/* Sophia-G's denominator scales h by the batch size bs (SophiaG's step):
 * without it the ratio and the trajectory change. */
static void test_detects_sophia_gnb_bs(void **state) {
  expect_mismatch(*state, "sophia_gnb_k3.fix", "sophia_gnb.opt", "rho * bs * h", "rho * h");
}

/* The spatial rule averages |z * Hz| over each row (a kernel's kh x kw
 * taps): the plain per-element estimate misses its fixture. */
static void test_detects_adahessian_spatial_mean(void **state) {
  expect_mismatch(*state, "adahessian_spatial_default.fix", "adahessian_spatial.opt",
                  "rowmean(abs(z * hvp(z)))", "abs(z * hvp(z))");
}

/* AdaHessian's Hessian power applies to the bias-corrected root. */
static void test_detects_adahessian_power(void **state) {
  expect_mismatch(*state, "adahessian_power.fix", "adahessian.opt",
                  "(sqrt(v) / sqrt(1 - beta2^t))^hessian_power", "sqrt(v) / sqrt(1 - beta2^t)");
}

/* SANIA's step uses the preconditioned norm g' B^-1 g. */
static void test_detects_sania_norm(void **state) {
  expect_mismatch(*state, "sania_adam_sqr.fix", "sania.opt", "group.dot(g, q)",
                  "group.dot(g, g)");
}

/* Muon's Nesterov form against plain momentum. */
static void test_detects_muon_nesterov(void **state) {
  expect_mismatch(*state, "muon_default.fix", "muon.opt", "u = (1 - beta) * g + beta * m",
                  "u = m");
}

/* Adafactor's update clipping against none. */
static void test_detects_adafactor_clip(void **state) {
  expect_mismatch(*state, "adafactor_clip.fix", "adafactor.opt",
                  "u = u / max(1, norm(u) / sqrt(n) / clip_threshold)", "u = u");
}

/* ---- deterministic problems (optrt_minimize) ------------------------------ */

typedef struct Solve {
  OptrtTask *task;
  TestRule rule;
  Optrt *opt;
  float *x[8], *g[8];
  int nt;
} Solve;

static void solve_free(Solve *s) {
  optrt_destroy(s->opt);
  test_rule_free(&s->rule);
  for (int i = 0; i < s->nt; i++) {
    free(s->x[i]);
    free(s->g[i]);
  }
  optrt_task_free(s->task);
  memset(s, 0, sizeof *s);
}

/* Minimises task `task` (options `opts`) with stdlib rule `file` (its
 * source: NULL reads the file); fills *rep.  Returns optrt_minimize's
 * result. */
static int minimize_task(Solve *s, const char *file, const char *task, const char *opts,
                         int64_t max_iters, double gtol, OptrtMinimizeReport *rep) {
  compile_into(&s->rule, file, NULL); /* first: a failure leaves nothing allocated */
  char *err = NULL;
  s->task = optrt_task_create(task, 1, opts, &err);
  if (!s->task) {
    free(err);
    fail_msg("task %s", task);
  }
  s->opt = new_optimizer(s->rule.kernel, 1);
  assert_int_equal(optrt_add_group(s->opt, NULL), 0);
  s->nt = optrt_task_num_tensors(s->task);
  assert_true(s->nt <= 8);
  for (int i = 0; i < s->nt; i++) {
    int64_t rows = 0, cols = 0;
    assert_int_equal(optrt_task_tensor(s->task, i, NULL, &rows, &cols), 0);
    s->x[i] = calloc((size_t)(rows * cols), sizeof(float));
    s->g[i] = calloc((size_t)(rows * cols), sizeof(float));
    assert_true(s->x[i] && s->g[i]);
    assert_true(optrt_add_param(s->opt, 0, s->x[i], s->g[i], rows * cols, 0) >= 0);
  }
  assert_int_equal(optrt_task_init(s->task, s->x), 0);
  OptrtObjective obj;
  assert_int_equal(optrt_task_objective(s->task, s->x, s->g, &obj), 0);
  OptrtMinimizeOptions mo;
  optrt_minimize_options_init(&mo);
  mo.max_iters = max_iters;
  mo.gtol = gtol;
  return optrt_minimize(s->opt, &obj, &mo, rep);
}

static void test_newton_rosenbrock(void **state) {
  (void)state;
  Solve s;
  memset(&s, 0, sizeof s);
  OptrtMinimizeReport rep;
  int rc = minimize_task(&s, "newton.opt", "mgh_rosenbrock", NULL, 30, 1e-10, &rep);
  if (rc) fail_msg("newton: %s", optrt_last_error(s.opt));
  print_message("newton on mgh_rosenbrock: %lld iterations, %lld evaluations, |g| %.3g\n",
                (long long)rep.iters, (long long)rep.fevals, rep.gnorm);
  assert_int_equal(rep.stop, OPTRT_MIN_GTOL);
  assert_true(rep.gnorm < 1e-10);
  assert_true(rep.iters <= 30);
  solve_free(&s);
}

/* Newton-CG on a 20-dimensional quadratic.  With the book's forcing term
 * (|r| <= 0.5 |g| far from x*, then |r| <= |g|^1.5) each outer step cuts
 * |g| at least in half and then superlinearly, so ten steps reach the
 * float32 floor of the gradient, using several CG iterations each. */
static void test_newton_cg_quadratic(void **state) {
  (void)state;
  Solve s;
  memset(&s, 0, sizeof s);
  OptrtMinimizeReport rep;
  int rc = minimize_task(&s, "newton_cg.opt", "quadratic", "dim=20,cond=100", 10, 1e-4, &rep);
  if (rc) fail_msg("newton_cg: %s", optrt_last_error(s.opt));
  print_message("newton_cg on quadratic: %lld iterations, %lld hvps, |g| %.3g\n",
                (long long)rep.iters, (long long)rep.hvps, rep.gnorm);
  assert_int_equal(rep.stop, OPTRT_MIN_GTOL);
  assert_true(rep.iters <= 10);
  assert_true(rep.hvps > 2 * rep.iters);
  solve_free(&s);
}

/* L-BFGS and BFGS with a Wolfe line search on Rosenbrock, to the float32
 * floor of the gradient (|g| ~ 1e-4 near x* = (1, 1)). */
static void quasi_newton_rosenbrock(const char *file, int64_t max_iters) {
  Solve s;
  memset(&s, 0, sizeof s);
  OptrtMinimizeReport rep;
  int rc = minimize_task(&s, file, "mgh_rosenbrock", NULL, max_iters, 1e-3, &rep);
  if (rc) fail_msg("%s: %s", file, optrt_last_error(s.opt));
  print_message("%s on mgh_rosenbrock: %lld iterations, %lld evaluations, loss %.3g\n", file,
                (long long)rep.iters, (long long)rep.fevals, rep.loss);
  assert_int_equal(rep.stop, OPTRT_MIN_GTOL);
  assert_true(rep.loss < 1e-6);
  solve_free(&s);
}

static void test_lbfgs_rosenbrock(void **state) {
  (void)state;
  quasi_newton_rosenbrock("lbfgs.opt", 100);
}

static void test_bfgs_rosenbrock(void **state) {
  (void)state;
  quasi_newton_rosenbrock("bfgs.opt", 100);
}

/* ---- matrix functions ----------------------------------------------------- */

/* A = (I - 2 u u' / u'u), a symmetric orthogonal reflection, n x n. */
static void reflection(int n, const double *u, double *a) {
  double uu = 0;
  for (int i = 0; i < n; i++) uu += u[i] * u[i];
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) a[i * n + j] = (i == j) - 2 * u[i] * u[j] / uu;
}

/* c = a diag(d) b with a m x k, b k x n (doubles). */
static void scaled_product(int m, int k, int n, const double *a, const double *d,
                           const double *b, double *c) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int q = 0; q < k; q++) s += a[i * k + q] * d[q] * b[q * n + j];
      c[i * n + j] = s;
    }
}

/* Runs one step of a rule on one 2-D parameter p (rows x cols) with
 * gradient g; p is updated in place.  When `state` is not NULL, its f32
 * buffer (count elements) is copied to `out` after the step. */
static void one_step(const char *name, const char *source, const char *const *hyper,
                     const double *value, int nhyper, float *p, const float *g, int64_t rows,
                     int64_t cols, const char *state, float *out, int64_t count) {
  TestRule r;
  memset(&r, 0, sizeof r);
  compile_into(&r, name, source);
  Optrt *o = new_optimizer(r.kernel, 1);
  assert_int_equal(optrt_add_group(o, NULL), 0);
  if (optrt_add_param(o, 0, p, g, rows, cols) < 0) fail_msg("%s", optrt_last_error(o));
  for (int i = 0; i < nhyper; i++) assert_int_equal(optrt_set_hyper(o, 0, hyper[i], value[i]), 0);
  if (optrt_step(o)) fail_msg("%s: %s", name, optrt_last_error(o));
  if (state) {
    OptkDType dt = OPTK_F64;
    int64_t have = 0;
    const void *data = optrt_state_data(o, 0, 0, state, &dt, &have);
    assert_non_null(data);
    assert_int_equal(dt, OPTK_F32);
    assert_int_equal(have, count);
    memcpy(out, data, (size_t)count * sizeof(float));
  }
  optrt_destroy(o);
  test_rule_free(&r);
}

/* phi^5, phi(x) = a x + b x^3 + c x^5 with Muon's coefficients. */
static double ns5(double y) {
  for (int k = 0; k < 5; k++) y = 3.4445 * y - 4.7750 * y * y * y + 2.0315 * pow(y, 5);
  return y;
}

/* Muon with lr = 1, beta = 0 moves p = 0 to -sqrt(max(1, rows/cols)) X,
 * X the Newton-Schulz output of g.  With g = U diag(s) W (U a reflection,
 * W orthonormal rows) X is U diag(phi^5(s / |s|_F)) W.  The coefficients
 * promise that phi^5 maps every normalised singular value in [0.01, 1]
 * into [0.68, 1.14] (checked on a grid here); the JIT's X must match the
 * map's prediction. */
static void test_newton_schulz_band(void **state) {
  (void)state;
  for (double y = 0.01; y <= 1; y += 1e-4) {
    double z = ns5(y);
    if (z < 0.68 || z > 1.14) fail_msg("phi^5(%g) = %g is outside [0.68, 1.14]", y, z);
  }
  enum { R = 6, C = 10 };
  double u1[R], u2[C], U[R * R], V[C * C], s[R], phi[R], x[R * C];
  double fro = 0;
  for (int i = 0; i < R; i++) u1[i] = 1 + i * 0.37;
  for (int j = 0; j < C; j++) u2[j] = 1 - 0.21 * j;
  reflection(R, u1, U);
  reflection(C, u2, V);
  static const double sv[R] = {3.0, 2.2, 1.5, 0.9, 0.5, 0.25};
  for (int i = 0; i < R; i++) fro += sv[i] * sv[i];
  for (int i = 0; i < R; i++) {
    double y = sv[i] / (sqrt(fro) + 1e-7);
    assert_true(y >= 0.01 && y <= 1);
    s[i] = sv[i];
    phi[i] = ns5(y);
  }
  float g[R * C], p[R * C];
  double gd[R * C];
  scaled_product(R, R, C, U, s, V, gd); /* U diag(s) V[0:R, :] */
  for (int i = 0; i < R * C; i++) {
    g[i] = (float)gd[i];
    p[i] = 0;
  }
  static const char *const names[] = {"lr", "beta"};
  static const double values[] = {1, 0};
  one_step("muon.opt", NULL, names, values, 2, p, g, R, C, NULL, NULL, 0);
  scaled_product(R, R, C, U, phi, V, x);
  for (int i = 0; i < R * C; i++) assert_true(fabs(-p[i] - x[i]) < 1e-4);
}

/* inv_root(A, k, eps) = V diag(max(w, eps)^(-1/k)) V' for A = g g' with
 * g = Q diag(sqrt(w)) Q (Q a symmetric reflection, so A = Q diag(w) Q'):
 * regular (w = 16, 81, 1, 25), singular (w = 4, 0, 9, 0: the zero
 * eigenvalues are floored at eps = 1e-4) and zero.  The root is a matrix
 * state, read back through optrt_state_data. */
static void check_inv_root(int k, const double *w, const char *rule) {
  enum { N = 4 };
  double u[N] = {1, -2, 0.5, 1.5}, Q[N * N], a[N * N], want[N * N], r[N], sq[N];
  reflection(N, u, Q);
  for (int i = 0; i < N; i++) {
    sq[i] = sqrt(w[i]);
    r[i] = pow(fmax(w[i], 1e-4), -1.0 / k);
  }
  scaled_product(N, N, N, Q, sq, Q, a);
  scaled_product(N, N, N, Q, r, Q, want);
  float g[N * N], p[N * N], got[N * N];
  for (int i = 0; i < N * N; i++) {
    g[i] = (float)a[i];
    p[i] = 0;
  }
  one_step("inv_root.opt", rule, NULL, NULL, 0, p, g, N, N, "S", got, N * N);
  for (int i = 0; i < N * N; i++)
    if (fabs(got[i] - want[i]) > 1e-3 * fmax(1, fabs(want[i])))
      fail_msg("inv_root k=%d: element %d: got %.9g, want %.9g", k, i, got[i], want[i]);
}

static void test_inv_root_known(void **state) {
  (void)state;
  static const char root2[] = "optimizer r2\nstate S : matrix(rows, rows) = 0\n"
                              "update {\n  S = inv_root(g @ g.T, 2, 1e-4)\n}\n";
  static const char root4[] = "optimizer r4\nstate S : matrix(rows, rows) = 0\n"
                              "update {\n  S = inv_root(g @ g.T, 4, 1e-4)\n}\n";
  static const double regular[] = {16, 81, 1, 25}, singular[] = {4, 0, 9, 0}, zero[4] = {0};
  check_inv_root(2, regular, root2);
  check_inv_root(4, regular, root4);
  check_inv_root(2, singular, root2);
  check_inv_root(4, singular, root4);
  check_inv_root(2, zero, root2);
}

/* ---- the MLP task: mixed optimizers --------------------------------------- */

typedef struct Mlp {
  OptrtTask *task;
  TestRule mat, vec;
  Optrt *opt;
  float *x[4], *g[4];
  int nt;
} Mlp;

static void mlp_free(Mlp *m) {
  optrt_destroy(m->opt);
  test_rule_free(&m->mat);
  test_rule_free(&m->vec);
  for (int i = 0; i < m->nt; i++) {
    free(m->x[i]);
    free(m->g[i]);
  }
  optrt_task_free(m->task);
  memset(m, 0, sizeof *m);
}

/* A fresh optimizer over m's buffers: matrices (cols > 1) in group 0
 * under m->mat, the other tensors as 1-D parameters in group 1 under
 * m->vec. */
static Optrt *mlp_optimizer(Mlp *m) {
  Optrt *o = new_optimizer(m->mat.kernel, 2);
  assert_int_equal(optrt_add_group(o, NULL), 0);
  assert_int_equal(optrt_add_group(o, m->vec.kernel), 1);
  for (int i = 0; i < m->nt; i++) {
    int64_t rows = 0, cols = 0;
    assert_int_equal(optrt_task_tensor(m->task, i, NULL, &rows, &cols), 0);
    int rc = cols > 1 ? optrt_add_param(o, 0, m->x[i], m->g[i], rows, cols)
                      : optrt_add_param(o, 1, m->x[i], m->g[i], rows * cols, 0);
    if (rc < 0) fail_msg("add_param %d: %s", i, optrt_last_error(o));
  }
  return o;
}

static void mlp_create(Mlp *m, const char *mat_rule, const char *vec_rule) {
  memset(m, 0, sizeof *m);
  compile_into(&m->mat, mat_rule, NULL); /* first: a failure leaves nothing allocated */
  compile_into(&m->vec, vec_rule, NULL);
  char *err = NULL;
  m->task = optrt_task_create("mlp", 3, NULL, &err);
  if (!m->task) {
    free(err);
    fail_msg("task mlp");
  }
  m->nt = optrt_task_num_tensors(m->task);
  assert_int_equal(m->nt, 4);
  for (int i = 0; i < m->nt; i++) {
    int64_t rows = 0, cols = 0;
    assert_int_equal(optrt_task_tensor(m->task, i, NULL, &rows, &cols), 0);
    m->x[i] = calloc((size_t)(rows * cols), sizeof(float));
    m->g[i] = calloc((size_t)(rows * cols), sizeof(float));
    assert_true(m->x[i] && m->g[i]);
  }
  assert_int_equal(optrt_task_init(m->task, m->x), 0);
  m->opt = mlp_optimizer(m);
}

/* One training step: gradient of the task at step k, then the optimizer. */
static double mlp_step(Mlp *m, Optrt *o, int k) {
  double loss = 0;
  optrt_task_set_step(m->task, (uint64_t)k);
  assert_int_equal(optrt_task_eval(m->task, (const float *const *)m->x, m->g, &loss), 0);
  if (optrt_step(o)) fail_msg("step %d: %s", k, optrt_last_error(o));
  return loss;
}

static int64_t mlp_size(const Mlp *m, int i) {
  int64_t rows = 0, cols = 0;
  optrt_task_tensor(m->task, i, NULL, &rows, &cols);
  return rows * cols;
}

static void test_muon_adamw_checkpoint(void **state) {
  (void)state;
  Mlp m;
  mlp_create(&m, "muon.opt", "adamw.opt");
  char dir[64], path[96];
  assert_non_null(test_mkdtemp(dir, sizeof dir, "e2e_rules2_"));
  snprintf(path, sizeof path, "%s/muon_adamw.ckpt", dir);
  for (int k = 0; k < 5; k++) mlp_step(&m, m.opt, k);
  assert_int_equal(optrt_save(m.opt, path), 0);
  float *saved[4], *after[4];
  for (int i = 0; i < 4; i++) {
    size_t bytes = (size_t)mlp_size(&m, i) * sizeof(float);
    saved[i] = malloc(bytes);
    after[i] = malloc(bytes);
    assert_true(saved[i] && after[i]);
    memcpy(saved[i], m.x[i], bytes);
  }
  for (int k = 5; k < 10; k++) mlp_step(&m, m.opt, k);
  for (int i = 0; i < 4; i++) memcpy(after[i], m.x[i], (size_t)mlp_size(&m, i) * sizeof(float));
  /* A fresh optimizer, the saved parameters and the checkpoint. */
  for (int i = 0; i < 4; i++) memcpy(m.x[i], saved[i], (size_t)mlp_size(&m, i) * sizeof(float));
  Optrt *o2 = mlp_optimizer(&m);
  mlp_step(&m, o2, 0); /* creates the state, which the load then replaces */
  for (int i = 0; i < 4; i++) memcpy(m.x[i], saved[i], (size_t)mlp_size(&m, i) * sizeof(float));
  if (optrt_load(o2, path)) fail_msg("load: %s", optrt_last_error(o2));
  assert_int_equal(optrt_step_count(o2, 0), 5);
  assert_int_equal(optrt_step_count(o2, 1), 5);
  for (int k = 5; k < 10; k++) mlp_step(&m, o2, k);
  for (int i = 0; i < 4; i++)
    assert_memory_equal(after[i], m.x[i], (size_t)mlp_size(&m, i) * sizeof(float));
  optrt_destroy(o2);
  unlink(path);
  rmdir(dir);
  for (int i = 0; i < 4; i++) {
    free(saved[i]);
    free(after[i]);
  }
  mlp_free(&m);
}

/* Each matrix rule on the MLP's weight matrices (AdamW, or Adafactor's
 * vector form, on the biases) lowers the full-batch loss in 60 steps. */
static void train_mlp(const char *mat_rule, const char *vec_rule, const char *hyper,
                      double value) {
  Mlp m;
  mlp_create(&m, mat_rule, vec_rule);
  if (hyper) assert_int_equal(optrt_set_hyper(m.opt, 0, hyper, value), 0);
  double first = mlp_step(&m, m.opt, 0), last = first;
  for (int k = 1; k < 60; k++) last = mlp_step(&m, m.opt, k);
  double final = 0;
  assert_int_equal(optrt_task_eval(m.task, (const float *const *)m.x, NULL, &final), 0);
  print_message("%s + %s on mlp: loss %.4f -> %.4f\n", mat_rule, vec_rule, first, final);
  assert_true(isfinite(final));
  assert_true(final < 0.9 * first);
  (void)last;
  mlp_free(&m);
}

static void test_mlp_muon(void **state) {
  (void)state;
  train_mlp("muon.opt", "adamw.opt", NULL, 0);
}

static void test_mlp_shampoo(void **state) {
  (void)state;
  train_mlp("shampoo.opt", "adamw.opt", "lr", 1e-2);
}

static void test_mlp_soap(void **state) {
  (void)state;
  train_mlp("soap.opt", "adamw.opt", NULL, 0);
}

static void test_mlp_adafactor(void **state) {
  (void)state;
  train_mlp("adafactor.opt", "adafactor_vector.opt", NULL, 0);
}

int main(void) {
  static const struct CMUnitTest extra[] = {
      cmocka_unit_test_setup_teardown(test_detects_sophia_probe, run_setup, run_teardown),
      cmocka_unit_test_setup_teardown(test_detects_adahessian_power, run_setup, run_teardown),
      cmocka_unit_test_setup_teardown(test_detects_sophia_gnb_bs, run_setup, run_teardown),
      cmocka_unit_test_setup_teardown(test_detects_adahessian_spatial_mean, run_setup, run_teardown),
      cmocka_unit_test_setup_teardown(test_detects_sania_norm, run_setup, run_teardown),
      cmocka_unit_test_setup_teardown(test_detects_muon_nesterov, run_setup, run_teardown),
      cmocka_unit_test_setup_teardown(test_detects_adafactor_clip, run_setup, run_teardown),
      cmocka_unit_test(test_newton_rosenbrock),
      cmocka_unit_test(test_newton_cg_quadratic),
      cmocka_unit_test(test_lbfgs_rosenbrock),
      cmocka_unit_test(test_bfgs_rosenbrock),
      cmocka_unit_test(test_newton_schulz_band),
      cmocka_unit_test(test_inv_root_known),
      cmocka_unit_test(test_muon_adamw_checkpoint),
      cmocka_unit_test(test_mlp_muon),
      cmocka_unit_test(test_mlp_shampoo),
      cmocka_unit_test(test_mlp_soap),
      cmocka_unit_test(test_mlp_adafactor),
  };
  const int nextra = (int)(sizeof extra / sizeof extra[0]);
  char **names = NULL;
  int count = parity_list(FIXTURE_DIR, &names);
  if (count <= 0) {
    fprintf(stderr, "no fixtures in %s\n", FIXTURE_DIR);
    return 1;
  }
  struct CMUnitTest *tests = calloc((size_t)(count + nextra), sizeof *tests);
  if (!tests) return 1;
  for (int i = 0; i < count; i++) {
    tests[i].name = names[i];
    tests[i].test_func = test_fixture;
    tests[i].setup_func = run_setup;
    tests[i].teardown_func = run_teardown;
    tests[i].initial_state = names[i];
  }
  for (int i = 0; i < nextra; i++) tests[count + i] = extra[i];
  int failed = _cmocka_run_group_tests("e2e_rules2", tests, (size_t)(count + nextra), NULL, NULL);
  free(tests);
  parity_list_free(names);
  return failed;
}
