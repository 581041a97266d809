/* rt_tasks.c: the built-in tasks and the More-Garbow-Hillstrom problems.
 *
 * For every task: gradient against central finite differences in double,
 * hvp against finite differences of the gradient and against Hessian @ v,
 * Hessian symmetry, f at the known minimiser, f at the standard starting
 * point where MGH's paper gives it, determinism from the seed, the float
 * entry points against the double ones, stochastic draws keyed by the
 * step, and the errors for unknown names and bad options.
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

#include "optrt_tasks.h"

typedef struct Case {
  const char *name, *options;
  double fd_tol; /* max |fd - exact| <= fd_tol * max(1, max |exact|) */
  double h;      /* finite-difference step (relative to max(1, |x_i|)) */
} Case;

/* The MLP computes in float: a larger step and a looser tolerance. */
static const Case cases[] = {
    {"quadratic", "dim=30,cond=1e3", 1e-7, 1e-5},
    {"quadratic", "dim=12,cond=1e6,rotate=0", 1e-7, 1e-5},
    {"noisy_quadratic", "dim=20", 1e-7, 1e-5},
    {"rosenbrock", "dim=9", 1e-7, 1e-5},
    {"logistic", "n=40,d=5", 1e-7, 1e-5},
    {"logistic", "n=40,d=5,batch=16,l2=0.1", 1e-7, 1e-5},
    {"softmax", "n=30,d=4,k=3", 1e-7, 1e-5},
    {"softmax", "n=30,d=4,k=3,batch=8", 1e-7, 1e-5},
    {"mlp", "n=64,d=2,k=3,hidden=8,l2=0.01", 5e-3, 1e-2},
    {"mlp", "n=64,d=3,k=2,hidden=5,batch=16", 5e-3, 1e-2},
    {"mgh_rosenbrock", NULL, 1e-7, 1e-6},
    {"mgh_freudenstein_roth", NULL, 1e-7, 1e-6},
    {"mgh_powell_badly_scaled", NULL, 1e-7, 1e-7},
    {"mgh_beale", NULL, 1e-7, 1e-6},
    {"mgh_helical_valley", NULL, 1e-7, 1e-6},
    {"mgh_box_3d", NULL, 1e-7, 1e-6},
    {"mgh_box_3d", "m=25", 1e-7, 1e-6},
    {"mgh_powell_singular", NULL, 1e-7, 1e-6},
    {"mgh_wood", NULL, 1e-7, 1e-6},
    {"mgh_extended_rosenbrock", NULL, 1e-7, 1e-6},
    {"mgh_trigonometric", NULL, 1e-7, 1e-6},
    {"mgh_trigonometric", "n=5", 1e-7, 1e-6},
    {"mgh_brown_almost_linear", NULL, 1e-7, 1e-6},
    {"mgh_brown_almost_linear", "n=4", 1e-7, 1e-6},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static OptrtTask *make(const char *name, uint64_t seed, const char *options) {
  char *err = NULL;
  OptrtTask *t = optrt_task_create(name, seed, options, &err);
  if (!t) fail_msg("%s: %s", name, err ? err : "(no message)");
  assert_null(err);
  return t;
}

static double max_abs(const double *v, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
  return m;
}

static double loss_at(OptrtTask *t, const double *x) {
  double f;
  assert_int_equal(optrt_task_eval_d(t, x, NULL, &f), 0);
  return f;
}

/* A test point: the start, moved by a deterministic pseudo-random offset. */
static void test_point(OptrtTask *t, double *x, int64_t n) {
  assert_int_equal(optrt_task_init_d(t, x), 0);
  for (int64_t i = 0; i < n; i++) x[i] += 0.1 * sin(1.7 * (double)i + 0.3);
}

static void check_gradient(OptrtTask *t, const Case *c, const double *x, int64_t n) {
  double *g = malloc((size_t)n * sizeof *g), *fd = malloc((size_t)n * sizeof *fd);
  double *xp = malloc((size_t)n * sizeof *xp), f;
  assert_int_equal(optrt_task_eval_d(t, x, g, &f), 0);
  assert_true(isfinite(f));
  assert_true(f == loss_at(t, x)); /* the loss does not depend on asking for g */
  memcpy(xp, x, (size_t)n * sizeof *xp);
  for (int64_t i = 0; i < n; i++) {
    double h = c->h * fmax(1.0, fabs(x[i]));
    xp[i] = x[i] + h;
    double fp = loss_at(t, xp);
    xp[i] = x[i] - h;
    double fm = loss_at(t, xp);
    xp[i] = x[i];
    fd[i] = (fp - fm) / (2.0 * h);
  }
  double scale = fmax(1.0, max_abs(g, n));
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(fd[i] - g[i]) <= c->fd_tol * scale))
      fail_msg("%s %s: d/dx%lld exact %.12g fd %.12g", c->name, c->options ? c->options : "",
               (long long)i, g[i], fd[i]);
  free(g);
  free(fd);
  free(xp);
}

/* hvp against (g(x + h v) - g(x - h v)) / 2h and against H v. */
static void check_hvp(OptrtTask *t, const Case *c, const double *x, int64_t n) {
  double *v = malloc((size_t)n * sizeof *v), *hv = malloc((size_t)n * sizeof *hv);
  double *gp = malloc((size_t)n * sizeof *gp), *gm = malloc((size_t)n * sizeof *gm);
  double *xp = malloc((size_t)n * sizeof *xp), *h = malloc((size_t)(n * n) * sizeof *h), f;
  for (int64_t i = 0; i < n; i++) v[i] = cos(0.9 * (double)i + 0.2);
  assert_int_equal(optrt_task_hvp_d(t, x, v, hv), 0);
  double eps = c->h * fmax(1.0, max_abs(x, n));
  for (int64_t i = 0; i < n; i++) xp[i] = x[i] + eps * v[i];
  optrt_task_eval_d(t, xp, gp, &f);
  for (int64_t i = 0; i < n; i++) xp[i] = x[i] - eps * v[i];
  optrt_task_eval_d(t, xp, gm, &f);
  double scale = fmax(1.0, max_abs(hv, n));
  for (int64_t i = 0; i < n; i++) {
    double fd = (gp[i] - gm[i]) / (2.0 * eps);
    if (!(fabs(fd - hv[i]) <= 10 * c->fd_tol * scale))
      fail_msg("%s: (Hv)_%lld exact %.12g fd %.12g", c->name, (long long)i, hv[i], fd);
  }
  assert_int_equal(optrt_task_hessian_d(t, x, h), 0);
  for (int64_t i = 0; i < n; i++) {
    double acc = 0;
    for (int64_t j = 0; j < n; j++) {
      acc += h[i * n + j] * v[j];
      if (h[i * n + j] != h[j * n + i])
        fail_msg("%s: H[%lld][%lld] = %.17g, transposed %.17g", c->name, (long long)i,
                 (long long)j, h[i * n + j], h[j * n + i]);
    }
    assert_true(fabs(acc - hv[i]) <= 1e-12 * scale);
  }
  free(v), free(hv), free(gp), free(gm), free(xp), free(h);
}

static void test_derivatives(void **state) {
  for (int k = 0; k < NCASES; k++) {
    const Case *c = &cases[k];
    OptrtTask *t = make(c->name, 7, c->options);
    int64_t n = optrt_task_dim(t);
    double *x = malloc((size_t)n * sizeof *x);
    optrt_task_set_step(t, 3);
    test_point(t, x, n);
    check_gradient(t, c, x, n);
    unsigned fl = optrt_task_flags(t);
    if (fl & OPTRT_TASK_HAS_HVP) check_hvp(t, c, x, n);
    assert_int_equal(!!(fl & OPTRT_TASK_HAS_HVP), !!(fl & OPTRT_TASK_HAS_HESSIAN));
    free(x);
    optrt_task_free(t);
  }
}

/* f(x*) = f* and the gradient vanishes there, for tasks that know x*. */
static void test_known_minima(void **state) {
  int checked = 0;
  for (int k = 0; k < NCASES; k++) {
    OptrtTask *t = make(cases[k].name, 11, cases[k].options);
    if (!(optrt_task_flags(t) & OPTRT_TASK_HAS_MINIMIZER)) {
      optrt_task_free(t);
      continue;
    }
    int64_t n = optrt_task_dim(t);
    double *x = malloc((size_t)n * sizeof *x), *g = malloc((size_t)n * sizeof *g), f, fstar;
    assert_int_equal(optrt_task_minimizer_d(t, x), 0);
    assert_int_equal(optrt_task_optimum(t, &fstar), 0);
    assert_int_equal(optrt_task_eval_d(t, x, g, &f), 0);
    assert_true(fstar == 0.0);
    if (!(fabs(f - fstar) <= 1e-24 && max_abs(g, n) <= 1e-9))
      fail_msg("%s: f(x*) = %g, |g| = %g", cases[k].name, f, max_abs(g, n));
    checked++;
    free(x), free(g);
    optrt_task_free(t);
  }
  assert_int_equal(checked, 17);
}

/* f(x0) as tabulated by More, Garbow and Hillstrom (and checked by hand). */
static void test_mgh_starting_values(void **state) {
  static const struct {
    const char *name;
    double f0, tol;
  } want[] = {
      {"mgh_rosenbrock", 24.2, 1e-12},
      {"mgh_freudenstein_roth", 400.5, 1e-12},
      {"mgh_powell_badly_scaled", 1.0 + (exp(-1.0) - 0.0001) * (exp(-1.0) - 0.0001), 1e-15},
      {"mgh_beale", 14.203125, 1e-12},
      {"mgh_helical_valley", 2500.0, 1e-9},
      {"mgh_powell_singular", 215.0, 1e-12},
      {"mgh_wood", 19192.0, 1e-9},
      {"mgh_extended_rosenbrock", 1210.0, 1e-9},
      {"mgh_brown_almost_linear", 9 * 5.5 * 5.5 + (1 - 1.0 / 1024) * (1 - 1.0 / 1024), 1e-12},
  };
  for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
    OptrtTask *t = make(want[k].name, 1, NULL);
    double x[100], f;
    assert_true(optrt_task_dim(t) <= 100);
    optrt_task_init_d(t, x);
    optrt_task_eval_d(t, x, NULL, &f);
    if (!(fabs(f - want[k].f0) <= want[k].tol)) fail_msg("%s: f0 %.17g", want[k].name, f);
    optrt_task_free(t);
  }
  /* The chained Rosenbrock at (-1.2, 1, -1.2, 1): pairs (-1.2, 1) give
   * 24.2, pairs (1, -1.2) give 100 (-1.2 - 1)^2 = 484. */
  OptrtTask *t = make("rosenbrock", 1, "dim=4");
  double x[4], f;
  optrt_task_init_d(t, x);
  optrt_task_eval_d(t, x, NULL, &f);
  assert_true(fabs(f - (24.2 + 484.0 + 24.2)) < 1e-9);
  optrt_task_free(t);
}

static void test_box_3d_other_minima(void **state) {
  OptrtTask *t = make("mgh_box_3d", 1, NULL);
  double a[3] = {10, 1, -1}, b[3] = {2.5, 2.5, 0}, f;
  optrt_task_eval_d(t, a, NULL, &f);
  assert_true(f < 1e-28);
  optrt_task_eval_d(t, b, NULL, &f);
  assert_true(f == 0.0);
  optrt_task_free(t);
}

static void test_determinism(void **state) {
  const char *names[] = {"quadratic", "noisy_quadratic", "logistic", "softmax", "mlp"};
  for (int k = 0; k < 5; k++) {
    OptrtTask *a = make(names[k], 42, NULL), *b = make(names[k], 42, NULL);
    OptrtTask *c = make(names[k], 43, NULL);
    int64_t n = optrt_task_dim(a);
    double *xa = malloc((size_t)n * sizeof *xa), *xb = malloc((size_t)n * sizeof *xb);
    test_point(a, xa, n);
    test_point(b, xb, n);
    assert_memory_equal(xa, xb, (size_t)n * sizeof *xa);
    assert_true(loss_at(a, xa) == loss_at(b, xa));
    assert_true(loss_at(a, xa) != loss_at(c, xa));
    free(xa), free(xb);
    optrt_task_free(a), optrt_task_free(b), optrt_task_free(c);
  }
}

static void test_stochastic_steps(void **state) {
  OptrtTask *t = make("noisy_quadratic", 5, "dim=8,cond=10,sigma=0.5");
  double x[8] = {0}, f1, f2, f3, fstar, sum = 0;
  assert_true(optrt_task_flags(t) & OPTRT_TASK_STOCHASTIC);
  optrt_task_set_step(t, 1);
  f1 = loss_at(t, x);
  optrt_task_set_step(t, 2);
  f2 = loss_at(t, x);
  optrt_task_set_step(t, 1);
  f3 = loss_at(t, x);
  assert_true(f1 == f3 && f1 != f2);
  /* E f_t(0) = f* = sigma^2 / 2 sum h; the sample mean over 4000 steps is
   * within a few standard errors (about 1.6% here). */
  for (uint64_t s = 0; s < 4000; s++) {
    optrt_task_set_step(t, s);
    sum += loss_at(t, x);
  }
  assert_int_equal(optrt_task_optimum(t, &fstar), 0);
  assert_true(fabs(sum / 4000 - fstar) < 0.08 * fstar);
  optrt_task_free(t);

  OptrtTask *full = make("softmax", 5, NULL), *mb = make("softmax", 5, "batch=16");
  assert_false(optrt_task_flags(full) & OPTRT_TASK_STOCHASTIC);
  assert_true(optrt_task_flags(mb) & OPTRT_TASK_STOCHASTIC);
  double w[44];
  assert_int_equal(optrt_task_dim(mb), 44);
  test_point(mb, w, 44);
  optrt_task_set_step(mb, 1);
  f1 = loss_at(mb, w);
  optrt_task_set_step(mb, 2);
  f2 = loss_at(mb, w);
  optrt_task_set_step(mb, 1);
  assert_true(f1 == loss_at(mb, w) && f1 != f2);
  optrt_task_set_step(full, 1);
  f1 = loss_at(full, w);
  optrt_task_set_step(full, 2);
  assert_true(f1 == loss_at(full, w));
  optrt_task_free(full), optrt_task_free(mb);
}

static void test_shapes_and_float_api(void **state) {
  OptrtTask *t = make("mlp", 3, "d=2,k=3,hidden=4,n=50");
  static const char *names[4] = {"W1", "b1", "W2", "b2"};
  static const int64_t rows[4] = {4, 4, 3, 3}, cols[4] = {2, 1, 4, 1};
  float *x[4], *g[4];
  int64_t n = 0;
  assert_int_equal(optrt_task_num_tensors(t), 4);
  for (int i = 0; i < 4; i++) {
    const char *nm;
    int64_t r, c;
    assert_int_equal(optrt_task_tensor(t, i, &nm, &r, &c), 0);
    assert_string_equal(nm, names[i]);
    assert_true(r == rows[i] && c == cols[i]);
    x[i] = malloc((size_t)(r * c) * sizeof(float));
    g[i] = malloc((size_t)(r * c) * sizeof(float));
    n += r * c;
  }
  assert_int_equal(optrt_task_tensor(t, 4, NULL, NULL, NULL), -1);
  assert_int_equal(optrt_task_dim(t), n);
  double flat[27], gflat[27], f, fd, acc;
  assert_int_equal(n, 27);
  assert_int_equal(optrt_task_init(t, x), 0);
  assert_int_equal(optrt_task_eval(t, (const float *const *)x, g, &f), 0);
  for (int i = 0, k = 0; i < 4; i++)
    for (int64_t j = 0; j < rows[i] * cols[i]; j++, k++) flat[k] = x[i][j];
  assert_int_equal(optrt_task_eval_d(t, flat, gflat, &fd), 0);
  assert_true(f == fd);
  for (int i = 0, k = 0; i < 4; i++)
    for (int64_t j = 0; j < rows[i] * cols[i]; j++, k++) assert_true(g[i][j] == (float)gflat[k]);
  assert_int_equal(optrt_task_accuracy(t, (const float *const *)x, &acc), 0);
  assert_true(acc >= 0 && acc <= 1);
  /* The MLP has no hvp or Hessian. */
  assert_int_equal(optrt_task_hvp(t, (const float *const *)x, (const float *const *)x, g), -1);
  assert_int_equal(optrt_task_hessian_d(t, flat, gflat), -1);
  assert_int_equal(optrt_task_optimum(t, &f), -1);
  assert_int_equal(optrt_task_minimizer_d(t, flat), -1);
  for (int i = 0; i < 4; i++) free(x[i]), free(g[i]);
  optrt_task_free(t);
}

/* The float hvp and Hessian equal the double ones at the float point. */
static void test_float_hvp_hessian(void **state) {
  OptrtTask *t = make("logistic", 4, "n=30,d=3");
  float w[3] = {0.5f, -0.25f, 1.0f}, b[1] = {0.125f}, vw[3] = {1, 2, -1}, vb[1] = {0.5f};
  float hw[3], hb[1];
  float *x[2] = {w, b}, *v[2] = {vw, vb}, *hv[2] = {hw, hb};
  double xd[4] = {0.5, -0.25, 1.0, 0.125}, vd[4] = {1, 2, -1, 0.5}, hvd[4], h[16], hd[16];
  assert_int_equal(optrt_task_hvp(t, (const float *const *)x, (const float *const *)v, hv), 0);
  assert_int_equal(optrt_task_hvp_d(t, xd, vd, hvd), 0);
  for (int i = 0; i < 3; i++) assert_true(hw[i] == (float)hvd[i]);
  assert_true(hb[0] == (float)hvd[3]);
  assert_int_equal(optrt_task_hessian(t, (const float *const *)x, h), 0);
  assert_int_equal(optrt_task_hessian_d(t, xd, hd), 0);
  assert_memory_equal(h, hd, sizeof h);
  assert_int_equal(optrt_task_hvp(t, NULL, (const float *const *)v, hv), -1);
  optrt_task_free(t);
}

/* LAPACK's symmetric eigensolver (Fortran symbol; no LAPACKE on Debian). */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                   double *w, double *work, const int *lwork, int *info);

/* The quadratic's Hessian has eigenvalues cond^(-i/(dim-1)) exactly as
 * documented, and the rotation leaves no coordinate axis an eigenvector. */
static void test_quadratic_spectrum(void **state) {
  OptrtTask *t = make("quadratic", 3, "dim=8,cond=100");
  double x[8] = {0}, h[64], w[8], work[64], offdiag = 0;
  int n = 8, lwork = 64, info = 0;
  assert_int_equal(optrt_task_hessian_d(t, x, h), 0);
  for (int i = 0; i < 8; i++) offdiag = fmax(offdiag, fabs(h[i * 8 + (i + 1) % 8]));
  assert_true(offdiag > 1e-2);
  dsyev_("N", "U", &n, h, &n, w, work, &lwork, &info);
  assert_int_equal(info, 0);
  for (int i = 0; i < 8; i++) /* ascending: 1/cond first */
    assert_true(fabs(w[i] - pow(100.0, -(double)(7 - i) / 7.0)) < 1e-12);
  optrt_task_free(t);
}

/* Momentum on the MLP separates the shells: the data are learnable and
 * the backward pass is right beyond finite differences at one point. */
static void test_mlp_trains(void **state) {
  OptrtTask *t = make("mlp", 1, NULL);
  int64_t n = optrt_task_dim(t);
  double *w = malloc((size_t)n * sizeof *w), *g = malloc((size_t)n * sizeof *g);
  double *m = calloc((size_t)n, sizeof *m), f0, f, acc0, acc;
  optrt_task_init_d(t, w);
  optrt_task_accuracy_d(t, w, &acc0);
  optrt_task_eval_d(t, w, NULL, &f0);
  for (int it = 0; it < 300; it++) {
    optrt_task_eval_d(t, w, g, &f);
    for (int64_t i = 0; i < n; i++) m[i] = 0.9 * m[i] + g[i], w[i] -= 0.1 * m[i];
  }
  optrt_task_eval_d(t, w, NULL, &f);
  optrt_task_accuracy_d(t, w, &acc);
  assert_true(acc0 < 0.5 && acc > 0.95);
  assert_true(f < 0.2 * f0);
  free(w), free(g), free(m);
  optrt_task_free(t);
}

/* Plain gradient descent on softmax reaches high accuracy: the data are
 * separable clusters and the gradient is right. */
static void test_softmax_trains(void **state) {
  OptrtTask *t = make("softmax", 9, NULL);
  int64_t n = optrt_task_dim(t);
  double *w = calloc((size_t)n, sizeof *w), *g = malloc((size_t)n * sizeof *g), f0, f, acc;
  assert_string_equal(optrt_task_name(t), "softmax");
  assert_true(optrt_task_option(t, "k") == 4 && isnan(optrt_task_option(t, "nope")));
  optrt_task_eval_d(t, w, g, &f0);
  assert_true(fabs(f0 - log(4.0)) < 1e-12);
  for (int it = 0; it < 200; it++) {
    optrt_task_eval_d(t, w, g, &f);
    for (int64_t i = 0; i < n; i++) w[i] -= 0.5 * g[i];
  }
  optrt_task_eval_d(t, w, g, &f);
  assert_int_equal(optrt_task_accuracy_d(t, w, &acc), 0);
  assert_true(f < 0.5 * f0);
  assert_true(acc > 0.9);
  free(w), free(g);
  optrt_task_free(t);
}

static void expect_error(const char *name, const char *options, const char *want) {
  char *err = NULL;
  assert_null(optrt_task_create(name, 1, options, &err));
  assert_non_null(err);
  if (!strstr(err, want)) fail_msg("error '%s' lacks '%s'", err, want);
  free(err);
}

static void test_errors(void **state) {
  expect_error("nope", NULL, "unknown task 'nope' (known: quadratic, noisy_quadratic, ");
  expect_error("nope", NULL, "mgh_brown_almost_linear)");
  expect_error(NULL, NULL, "task name is NULL");
  expect_error("quadratic", "dims=3",
               "task 'quadratic': unknown option 'dims' (known: dim, cond, rotate)");
  expect_error("quadratic", "dim=0", "option dim=0 is outside [1, 1024]");
  expect_error("quadratic", "dim=2.5", "option dim=2.5 must be an integer");
  expect_error("quadratic", "cond=abc", "option cond=abc is not a number");
  expect_error("quadratic", "cond=1e4x", "is not a number");
  expect_error("quadratic", "cond=nan", "outside");
  expect_error("quadratic", "cond", "option 'cond' is not key=value");
  expect_error("quadratic", "cond=", "option cond needs a number");
  expect_error("quadratic", "dim=3,,cond=2", "empty option");
  expect_error("quadratic", "dim=3,", "empty option");
  expect_error("mgh_wood", "n=3", "unknown option 'n' (known: none)");
  expect_error("mgh_extended_rosenbrock", "n=7", "n must be even");
  expect_error("logistic", "n=1000000,d=4096", "exceeds");
  char *err = (char *)1;
  OptrtTask *t = optrt_task_create("rosenbrock", 1, "", &err);
  assert_non_null(t);
  assert_null(err);
  optrt_task_free(t);
  assert_null(optrt_task_create("nope", 1, NULL, NULL)); /* err may be NULL */
  optrt_task_free(NULL);
}

static void test_registry(void **state) {
  int n = optrt_task_count();
  assert_int_equal(n, 17);
  for (int i = 0; i < n; i++) {
    assert_non_null(optrt_task_summary_at(i));
    for (int j = i + 1; j < n; j++)
      assert_string_not_equal(optrt_task_name_at(i), optrt_task_name_at(j));
    OptrtTask *t = make(optrt_task_name_at(i), 1, NULL);
    assert_string_equal(optrt_task_name(t), optrt_task_name_at(i));
    optrt_task_free(t);
  }
  assert_null(optrt_task_name_at(-1));
  assert_null(optrt_task_name_at(n));
  assert_int_equal(optrt_task_eval_d(NULL, NULL, NULL, NULL), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_derivatives),
      cmocka_unit_test(test_known_minima),
      cmocka_unit_test(test_mgh_starting_values),
      cmocka_unit_test(test_box_3d_other_minima),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_stochastic_steps),
      cmocka_unit_test(test_shapes_and_float_api),
      cmocka_unit_test(test_float_hvp_hessian),
      cmocka_unit_test(test_softmax_trains),
      cmocka_unit_test(test_quadratic_spectrum),
      cmocka_unit_test(test_mlp_trains),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
