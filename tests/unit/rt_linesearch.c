/* rt_linesearch.c: the Armijo and More-Thuente line searches on functions
 * with known answers: exact minimisers of quadratics, the first acceptable
 * step, the six test functions of More & Thuente (1994) with the paper's
 * parameters and starting steps (strong Wolfe at the result, evaluation
 * counts bounded), non-descent directions, NaN past some step, the
 * evaluation limit and the other failure statuses.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "linesearch.h"

/* A one-dimensional test function with its call log. */
typedef struct Fn {
  double (*f)(const struct Fn *fn, double a, double *g);
  double beta, beta1, beta2; /* parameters of the paper's functions */
  double nan_beyond;         /* values are NaN for a > nan_beyond */
  int calls;
  int fail_at;               /* callback returns nonzero at this call (1-based) */
  double last_alpha;
} Fn;

static int eval_fn(void *user, double alpha, double *phi, double *dphi) {
  Fn *fn = user;
  fn->calls++;
  fn->last_alpha = alpha;
  if (fn->fail_at == fn->calls) return 1;
  if (alpha > fn->nan_beyond) {
    *phi = NAN, *dphi = NAN;
    return 0;
  }
  *phi = fn->f(fn, alpha, dphi);
  return 0;
}

static Fn make_fn(double (*f)(const Fn *, double, double *)) {
  Fn fn = {f, 0, 0, 0, INFINITY, 0, 0, 0};
  return fn;
}

/* phi(a) = (a - 0.1)^2 */
static double shifted_square(const Fn *fn, double a, double *g) {
  *g = 2.0 * (a - 0.1);
  return (a - 0.1) * (a - 0.1);
}

/* phi(a) = 1/2 (a - 2)^2 */
static double half_square(const Fn *fn, double a, double *g) {
  *g = a - 2.0;
  return 0.5 * (a - 2.0) * (a - 2.0);
}

/* phi(a) = (a - 1)^2 */
static double unit_square(const Fn *fn, double a, double *g) {
  *g = 2.0 * (a - 1.0);
  return (a - 1.0) * (a - 1.0);
}

static double linear_down(const Fn *fn, double a, double *g) {
  *g = -1.0;
  return -a;
}

/* Increasing everywhere, while the caller claims phi'(0) < 0. */
static double linear_up(const Fn *fn, double a, double *g) {
  *g = 1.0;
  return a;
}

/* ---- the functions of More & Thuente, section 6 ----------------------------- */

/* (5.1) phi(a) = -a / (a^2 + beta), beta = 2 */
static double mt1(const Fn *fn, double a, double *g) {
  double d = a * a + fn->beta;
  *g = (a * a - fn->beta) / (d * d);
  return -a / d;
}

/* (5.2) phi(a) = (a + beta)^5 - 2 (a + beta)^4, beta = 0.004 */
static double mt2(const Fn *fn, double a, double *g) {
  double b = a + fn->beta;
  *g = 5.0 * pow(b, 4) - 8.0 * pow(b, 3);
  return pow(b, 5) - 2.0 * pow(b, 4);
}

/* (5.3) phi0(a) + 2 (1 - beta)/(l pi) sin(l pi a / 2), beta = 0.01, l = 39 */
static double mt3(const Fn *fn, double a, double *g) {
  const double b = fn->beta, l = 39.0, pi = 3.141592653589793;
  double f0, g0;
  if (a <= 1.0 - b) {
    f0 = 1.0 - a, g0 = -1.0;
  } else if (a >= 1.0 + b) {
    f0 = a - 1.0, g0 = 1.0;
  } else {
    f0 = (a - 1.0) * (a - 1.0) / (2.0 * b) + b / 2.0, g0 = (a - 1.0) / b;
  }
  *g = g0 + (1.0 - b) * cos(l * pi * a / 2.0);
  return f0 + 2.0 * (1.0 - b) / (l * pi) * sin(l * pi * a / 2.0);
}

static double mt_gamma(double b) { return sqrt(1.0 + b * b) - b; }

/* (5.4) gamma(b1) sqrt((1 - a)^2 + b2^2) + gamma(b2) sqrt(a^2 + b1^2) */
static double mt456(const Fn *fn, double a, double *g) {
  double b1 = fn->beta1, b2 = fn->beta2;
  double s1 = sqrt((1.0 - a) * (1.0 - a) + b2 * b2), s2 = sqrt(a * a + b1 * b1);
  *g = mt_gamma(b1) * (a - 1.0) / s1 + mt_gamma(b2) * a / s2;
  return mt_gamma(b1) * s1 + mt_gamma(b2) * s2;
}

static void start(Fn *fn, double *phi0, double *dphi0) {
  *phi0 = fn->f(fn, 0.0, dphi0);
  fn->calls = 0;
}

static void assert_strong_wolfe(const OptrtLsResult *r, double phi0, double dphi0, double c1,
                                double c2) {
  assert_int_equal(r->status, OPTRT_LS_OK);
  assert_true(r->phi <= phi0 + c1 * r->alpha * dphi0);
  assert_true(fabs(r->dphi) <= c2 * fabs(dphi0));
}

static Fn paper_fn(int which) {
  static const double b1[3] = {0.001, 0.01, 0.001}, b2[3] = {0.001, 0.001, 0.01};
  Fn fn = make_fn(mt456);
  if (which == 1) fn = make_fn(mt1), fn.beta = 2.0;
  if (which == 2) fn = make_fn(mt2), fn.beta = 0.004;
  if (which == 3) fn = make_fn(mt3), fn.beta = 0.01;
  if (which >= 4) fn.beta1 = b1[which - 4], fn.beta2 = b2[which - 4];
  return fn;
}

/* Tables 1-6 of the paper: (c1, c2) = (1e-3, 0.1) for functions 1 and 2,
 * (0.1, 0.1) for 3 and (1e-3, 1e-3) for 4-6; first steps 1e-3, 1e-1, 1e1,
 * 1e3.  The tables print the final step to two digits and the number of
 * evaluations; ours must match both. */
static const double paper_alpha[6][4] = {{1.4, 1.4, 10, 37},        {1.6, 1.6, 1.6, 1.6},
                                         {1.0, 1.0, 1.0, 1.0},      {0.085, 0.10, 0.35, 0.83},
                                         {0.075, 0.078, 0.073, 0.076}, {0.93, 0.93, 0.92, 0.92}};
static const int paper_evals[6][4] = {{6, 3, 1, 4}, {12, 8, 8, 11}, {12, 12, 10, 13},
                                      {4, 1, 3, 4}, {6, 3, 7, 8},   {13, 11, 8, 11}};

/* Half a unit in the last of the two significant digits of v. */
static double half_unit(double v) { return 0.5 * pow(10.0, floor(log10(v)) - 1.0) + 1e-12; }

static void test_paper_functions(void **state) {
  static const double steps[4] = {1e-3, 1e-1, 1e1, 1e3};
  for (int f = 1; f <= 6; f++) {
    double c1 = f == 3 ? 0.1 : 1e-3, c2 = f <= 3 ? 0.1 : 1e-3;
    for (int s = 0; s < 4; s++) {
      Fn fn = paper_fn(f);
      double phi0, dphi0;
      start(&fn, &phi0, &dphi0);
      OptrtLsParams p = optrt_ls_defaults(OPTRT_LS_METHOD_MORE_THUENTE);
      p.c1 = c1, p.c2 = c2, p.step0 = steps[s], p.max_evals = 100;
      OptrtLsResult r;
      optrt_ls_more_thuente(eval_fn, &fn, phi0, dphi0, &p, &r);
      print_message("function %d step0 %g: alpha %.6g after %d evaluations\n", f, steps[s],
                    r.alpha, r.nevals);
      assert_strong_wolfe(&r, phi0, dphi0, c1, c2);
      assert_int_equal(r.nevals, fn.calls);
      assert_int_equal(r.nevals, paper_evals[f - 1][s]);
      double want = paper_alpha[f - 1][s];
      assert_true(fabs(r.alpha - want) <= half_unit(want));
      assert_true(fn.last_alpha == r.alpha);
    }
  }
}

static void test_defaults_and_texts(void **state) {
  OptrtLsParams a = optrt_ls_defaults(OPTRT_LS_METHOD_ARMIJO);
  OptrtLsParams w = optrt_ls_defaults(OPTRT_LS_METHOD_MORE_THUENTE);
  assert_true(a.c1 == 1e-4 && a.step0 == 1.0 && a.max_evals == 40);
  assert_true(w.c1 == 1e-4 && w.c2 == 0.9 && w.max_evals == 20);
  assert_string_equal(optrt_ls_status_text(OPTRT_LS_OK), "ok");
  assert_string_equal(optrt_ls_status_text(OPTRT_LS_NOT_DESCENT), "not a descent direction");
  for (int s = OPTRT_LS_OK; s <= OPTRT_LS_BAD_PARAMS; s++)
    for (int t = s + 1; t <= OPTRT_LS_BAD_PARAMS; t++)
      assert_string_not_equal(optrt_ls_status_text((OptrtLsStatus)s),
                              optrt_ls_status_text((OptrtLsStatus)t));
  assert_string_equal(optrt_ls_status_text((OptrtLsStatus)99), "unknown line search status");
}

static void test_armijo_first_acceptable(void **state) {
  Fn fn = make_fn(linear_down);
  OptrtLsParams p = optrt_ls_defaults(OPTRT_LS_METHOD_ARMIJO);
  OptrtLsResult r;
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, 0.0, -1.0, &p, &r), OPTRT_LS_OK);
  assert_true(r.alpha == 1.0 && r.phi == -1.0 && r.dphi == -1.0);
  assert_int_equal(r.nevals, 1);
  p.step0 = 7.5;
  fn.calls = 0;
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, 0.0, -1.0, &p, &r), OPTRT_LS_OK);
  assert_true(r.alpha == 7.5);
  assert_int_equal(fn.calls, 1);
}

/* (a - 0.1)^2 from step 1: rejected; the quadratic interpolant is exact. */
static void test_armijo_quadratic_interpolation(void **state) {
  Fn fn = make_fn(shifted_square);
  double phi0, dphi0;
  start(&fn, &phi0, &dphi0);
  OptrtLsParams p = optrt_ls_defaults(OPTRT_LS_METHOD_ARMIJO);
  OptrtLsResult r;
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, phi0, dphi0, &p, &r), OPTRT_LS_OK);
  assert_int_equal(r.nevals, 2);
  assert_true(fabs(r.alpha - 0.1) < 1e-15);
  assert_true(fabs(r.phi) < 1e-30);
  assert_true(fn.last_alpha == r.alpha);
}

/* Interpolated steps are kept within [0.1, 0.5] times the last step. */
static void test_armijo_safeguards(void **state) {
  Fn fn = make_fn(unit_square);
  double phi0, dphi0;
  start(&fn, &phi0, &dphi0);
  OptrtLsParams p = optrt_ls_defaults(OPTRT_LS_METHOD_ARMIJO);
  p.step0 = 1000.0;
  OptrtLsResult r;
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, phi0, dphi0, &p, &r), OPTRT_LS_OK);
  /* From 1000 the interpolated minimiser 1 lies below 0.1 times the last
   * step, so the trials are 1000, 100, 10 and then 1 (the cubic through a
   * quadratic is exact). */
  assert_int_equal(r.nevals, 4);
  assert_true(fabs(r.alpha - 1.0) < 1e-9);
}

static void test_more_thuente_quadratic(void **state) {
  Fn fn = make_fn(half_square);
  double phi0, dphi0;
  start(&fn, &phi0, &dphi0);
  OptrtLsParams p = optrt_ls_defaults(OPTRT_LS_METHOD_MORE_THUENTE);
  OptrtLsResult r;
  /* c2 = 0.9 accepts the first step: phi'(1) = -1, |-1| <= 0.9 * 2. */
  assert_int_equal(optrt_ls_more_thuente(eval_fn, &fn, phi0, dphi0, &p, &r), OPTRT_LS_OK);
  assert_true(r.alpha == 1.0 && r.nevals == 1);
  /* c2 = 0.1 needs the minimiser 2, which the interpolation finds at once. */
  p.c2 = 0.1;
  fn.calls = 0;
  assert_int_equal(optrt_ls_more_thuente(eval_fn, &fn, phi0, dphi0, &p, &r), OPTRT_LS_OK);
  assert_int_equal(r.nevals, 2);
  assert_true(fabs(r.alpha - 2.0) < 1e-12);
  assert_true(fabs(r.dphi) < 1e-12);
}

static void test_not_descent(void **state) {
  for (int m = 0; m < 2; m++) {
    Fn fn = make_fn(half_square);
    OptrtLsParams p = optrt_ls_defaults((OptrtLsMethod)m);
    OptrtLsResult r;
    assert_int_equal(optrt_ls_search((OptrtLsMethod)m, eval_fn, &fn, 2.0, 0.5, &p, &r),
                     OPTRT_LS_NOT_DESCENT);
    assert_int_equal(optrt_ls_search((OptrtLsMethod)m, eval_fn, &fn, 2.0, 0.0, &p, &r),
                     OPTRT_LS_NOT_DESCENT);
    assert_int_equal(fn.calls, 0);
    assert_int_equal(r.nevals, 0);
    assert_true(r.alpha == 0.0 && r.phi == 2.0 && r.dphi == 0.0);
  }
}

/* (a - 1)^2, NaN for a > 3, first step 10: both searches come back. */
static void test_nan_beyond_step(void **state) {
  Fn fn = make_fn(unit_square);
  fn.nan_beyond = 3.0;
  double phi0, dphi0;
  start(&fn, &phi0, &dphi0);
  OptrtLsParams p = optrt_ls_defaults(OPTRT_LS_METHOD_ARMIJO);
  p.step0 = 10.0;
  OptrtLsResult r;
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, phi0, dphi0, &p, &r), OPTRT_LS_OK);
  assert_true(isfinite(r.phi) && r.alpha <= 3.0);
  /* 10 NaN, 5 NaN, 2.5 rejected, quadratic interpolation: exactly 1. */
  assert_int_equal(r.nevals, 4);
  assert_true(r.alpha == 1.0);

  fn.calls = 0;
  p = optrt_ls_defaults(OPTRT_LS_METHOD_MORE_THUENTE);
  p.step0 = 10.0;
  assert_int_equal(optrt_ls_more_thuente(eval_fn, &fn, phi0, dphi0, &p, &r), OPTRT_LS_OK);
  assert_strong_wolfe(&r, phi0, dphi0, p.c1, p.c2);
  assert_true(r.alpha <= 3.0);
  assert_true(fn.last_alpha == r.alpha);
}

static void test_always_nan(void **state) {
  for (int m = 0; m < 2; m++) {
    Fn fn = make_fn(unit_square);
    fn.nan_beyond = 0.0;
    OptrtLsParams p = optrt_ls_defaults((OptrtLsMethod)m);
    p.max_evals = 7;
    OptrtLsResult r;
    assert_int_equal(optrt_ls_search((OptrtLsMethod)m, eval_fn, &fn, 1.0, -2.0, &p, &r),
                     OPTRT_LS_NONFINITE);
    assert_int_equal(r.nevals, 7);
    assert_true(r.alpha == 0.0 && r.phi == 1.0);
  }
  OptrtLsParams p = optrt_ls_defaults(OPTRT_LS_METHOD_ARMIJO);
  Fn fn = make_fn(unit_square);
  OptrtLsResult r;
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, NAN, -2.0, &p, &r), OPTRT_LS_NONFINITE);
  assert_int_equal(optrt_ls_more_thuente(eval_fn, &fn, 1.0, INFINITY, &p, &r),
                   OPTRT_LS_NONFINITE);
  assert_int_equal(fn.calls, 0);
}

static void test_max_evals(void **state) {
  Fn fn = make_fn(shifted_square);
  double phi0, dphi0;
  start(&fn, &phi0, &dphi0);
  OptrtLsParams p = optrt_ls_defaults(OPTRT_LS_METHOD_ARMIJO);
  p.max_evals = 1;
  OptrtLsResult r;
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, phi0, dphi0, &p, &r), OPTRT_LS_MAX_EVALS);
  assert_int_equal(r.nevals, 1);
  assert_true(r.alpha == 0.0 && r.phi == phi0); /* phi(1) = 0.81 > phi(0) */

  Fn f2 = paper_fn(2);
  start(&f2, &phi0, &dphi0);
  p = optrt_ls_defaults(OPTRT_LS_METHOD_MORE_THUENTE);
  p.c1 = 1e-3, p.c2 = 0.1, p.step0 = 1e-3, p.max_evals = 3;
  assert_int_equal(optrt_ls_more_thuente(eval_fn, &f2, phi0, dphi0, &p, &r), OPTRT_LS_MAX_EVALS);
  assert_int_equal(r.nevals, 3);
  assert_int_equal(f2.calls, 3);
  assert_true(r.phi <= phi0);
}

static void test_no_decrease_and_limits(void **state) {
  Fn fn = make_fn(linear_up);
  OptrtLsParams p = optrt_ls_defaults(OPTRT_LS_METHOD_ARMIJO);
  p.min_step = 1e-3;
  OptrtLsResult r;
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, 0.0, -1.0, &p, &r), OPTRT_LS_NO_DECREASE);
  assert_true(r.nevals >= 4 && r.nevals <= 10);
  assert_true(fn.last_alpha >= 1e-3);

  Fn down = make_fn(linear_down);
  p = optrt_ls_defaults(OPTRT_LS_METHOD_MORE_THUENTE);
  p.max_step = 4.0;
  assert_int_equal(optrt_ls_more_thuente(eval_fn, &down, 0.0, -1.0, &p, &r), OPTRT_LS_MAX_STEP);
  assert_true(r.alpha == 4.0 && r.phi == -4.0);

  Fn up = make_fn(linear_up);
  p = optrt_ls_defaults(OPTRT_LS_METHOD_MORE_THUENTE);
  p.min_step = 0.25;
  p.max_evals = 50;
  OptrtLsStatus st = optrt_ls_more_thuente(eval_fn, &up, 0.0, -1.0, &p, &r);
  assert_true(st == OPTRT_LS_MIN_STEP || st == OPTRT_LS_ROUNDING || st == OPTRT_LS_XTOL);
  assert_true(r.nevals < 50);
}

static void test_callback_failure(void **state) {
  for (int m = 0; m < 2; m++) {
    Fn fn = make_fn(shifted_square);
    fn.fail_at = 2;
    double phi0, dphi0;
    start(&fn, &phi0, &dphi0);
    OptrtLsParams p = optrt_ls_defaults((OptrtLsMethod)m);
    p.c2 = 0.1;
    OptrtLsResult r;
    assert_int_equal(optrt_ls_search((OptrtLsMethod)m, eval_fn, &fn, phi0, dphi0, &p, &r),
                     OPTRT_LS_CALLBACK_FAILED);
    assert_int_equal(r.nevals, 2);
  }
}

static void test_bad_params(void **state) {
  Fn fn = make_fn(half_square);
  OptrtLsResult r;
  OptrtLsParams p = optrt_ls_defaults(OPTRT_LS_METHOD_MORE_THUENTE);
  p.c2 = 1e-5; /* c2 <= c1 */
  assert_int_equal(optrt_ls_more_thuente(eval_fn, &fn, 2.0, -2.0, &p, &r), OPTRT_LS_BAD_PARAMS);
  p = optrt_ls_defaults(OPTRT_LS_METHOD_ARMIJO);
  p.step0 = -1.0;
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, 2.0, -2.0, &p, &r), OPTRT_LS_BAD_PARAMS);
  p.step0 = 1.0, p.max_evals = 0;
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, 2.0, -2.0, &p, &r), OPTRT_LS_BAD_PARAMS);
  p.max_evals = 5, p.c1 = 1.5;
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, 2.0, -2.0, &p, &r), OPTRT_LS_BAD_PARAMS);
  p.c1 = NAN;
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, 2.0, -2.0, &p, &r), OPTRT_LS_BAD_PARAMS);
  p = optrt_ls_defaults(OPTRT_LS_METHOD_ARMIJO);
  assert_int_equal(optrt_ls_armijo(NULL, &fn, 2.0, -2.0, &p, &r), OPTRT_LS_BAD_PARAMS);
  assert_int_equal(optrt_ls_armijo(eval_fn, &fn, 2.0, -2.0, NULL, &r), OPTRT_LS_BAD_PARAMS);
  assert_int_equal(fn.calls, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_and_texts),
      cmocka_unit_test(test_armijo_first_acceptable),
      cmocka_unit_test(test_armijo_quadratic_interpolation),
      cmocka_unit_test(test_armijo_safeguards),
      cmocka_unit_test(test_more_thuente_quadratic),
      cmocka_unit_test(test_paper_functions),
      cmocka_unit_test(test_not_descent),
      cmocka_unit_test(test_nan_beyond_step),
      cmocka_unit_test(test_always_nan),
      cmocka_unit_test(test_max_evals),
      cmocka_unit_test(test_no_decrease_and_limits),
      cmocka_unit_test(test_callback_failure),
      cmocka_unit_test(test_bad_params),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
