/* task_mgh.c: test problems of More, Garbow and Hillstrom, "Testing
 * unconstrained optimization software", ACM TOMS 7(1), 1981.
 *
 * Every problem is a sum of squares f(x) = sum_i r_i(x)^2 with m residuals
 * in n variables.  A problem supplies the residuals, their Jacobian J
 * (m x n, row-major) and the weighted sum of residual Hessians
 * sum_i w_i grad^2 r_i (added into an n x n matrix), all exact; then
 *   grad f = 2 J' r,   grad^2 f = 2 (J'J + sum_i r_i grad^2 r_i),
 * and hvp multiplies the dense Hessian (the problems are small).
 * Indices below are 0-based; the paper's are 1-based.  docs/tasks.md
 * lists the formulas, starting points and minima.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks.h"

typedef struct MghProblem {
  int64_t n, m;           /* fixed sizes; 0: from the option (see dims) */
  int even;               /* n must be even */
  void (*dims)(const OptrtTask *t, int64_t *n, int64_t *m);
  void (*resid)(const double *x, int64_t n, int64_t m, double *r);
  void (*jac)(const double *x, int64_t n, int64_t m, double *jm);
  void (*rhess)(const double *x, int64_t n, int64_t m, const double *w, double *h);
  void (*start)(int64_t n, double *x);
  void (*xstar)(int64_t n, double *x);
} MghProblem;

typedef struct Mgh {
  const MghProblem *pb;
  int64_t n, m;
  double *r, *jm, *h; /* m, m x n, n x n */
} Mgh;

/* ---- generic least squares -------------------------------------------- */

static void mgh_destroy(OptrtTask *t) {
  Mgh *s = t->data;
  if (!s) return;
  free(s->r);
  free(s->jm);
  free(s->h);
  free(s);
}

static int mgh_setup(OptrtTask *t, char **err) {
  const MghProblem *pb = t->kind->spec;
  Mgh *s = calloc(1, sizeof *s);
  t->data = s;
  if (!s) return task_error(err, "task '%s': out of memory", t->kind->name);
  s->pb = pb;
  s->n = pb->n, s->m = pb->m;
  if (pb->dims) pb->dims(t, &s->n, &s->m);
  if (pb->even && s->n % 2 != 0)
    return task_error(err, "task '%s': n must be even", t->kind->name);
  s->r = malloc((size_t)s->m * sizeof(double));
  s->jm = malloc((size_t)(s->m * s->n) * sizeof(double));
  s->h = malloc((size_t)(s->n * s->n) * sizeof(double));
  if (!s->r || !s->jm || !s->h) return task_error(err, "task '%s': out of memory", t->kind->name);
  task_set_tensor(t, 0, "x", s->n, 1);
  t->flags = OPTRT_TASK_HAS_HVP | OPTRT_TASK_HAS_HESSIAN | OPTRT_TASK_HAS_OPTIMUM |
             OPTRT_TASK_HAS_MINIMIZER;
  t->fstar = 0.0;
  return 0;
}

static void mgh_init(const OptrtTask *t, double *x) {
  const Mgh *s = t->data;
  s->pb->start(s->n, x);
}

static void mgh_minimizer(const OptrtTask *t, double *x) {
  const Mgh *s = t->data;
  s->pb->xstar(s->n, x);
}

static double mgh_fg(OptrtTask *t, const double *x, double *g) {
  Mgh *s = t->data;
  s->pb->resid(x, s->n, s->m, s->r);
  double f = 0;
  for (int64_t i = 0; i < s->m; i++) f += s->r[i] * s->r[i];
  if (!g) return f;
  s->pb->jac(x, s->n, s->m, s->jm);
  memset(g, 0, (size_t)s->n * sizeof *g);
  for (int64_t i = 0; i < s->m; i++)
    for (int64_t j = 0; j < s->n; j++) g[j] += 2.0 * s->jm[i * s->n + j] * s->r[i];
  return f;
}

static void mgh_hessian(OptrtTask *t, const double *x, double *h) {
  Mgh *s = t->data;
  int64_t n = s->n;
  s->pb->resid(x, n, s->m, s->r);
  s->pb->jac(x, n, s->m, s->jm);
  memset(h, 0, (size_t)(n * n) * sizeof *h);
  s->pb->rhess(x, n, s->m, s->r, h);
  for (int64_t i = 0; i < s->m; i++) {
    const double *row = s->jm + i * n;
    for (int64_t j = 0; j < n; j++)
      if (row[j] != 0.0) /* most Jacobians here are sparse */
        for (int64_t k = 0; k < n; k++) h[j * n + k] += row[j] * row[k];
  }
  for (int64_t j = 0; j < n * n; j++) h[j] *= 2.0;
}

static void mgh_hvp(OptrtTask *t, const double *x, const double *v, double *hv) {
  Mgh *s = t->data;
  int64_t n = s->n;
  mgh_hessian(t, x, s->h);
  for (int64_t j = 0; j < n; j++) {
    double acc = 0;
    for (int64_t k = 0; k < n; k++) acc += s->h[j * n + k] * v[k];
    hv[j] = acc;
  }
}

static void fill(double *x, int64_t n, double v) {
  for (int64_t i = 0; i < n; i++) x[i] = v;
}

static void fill2(double *x, int64_t n, double a, double b) {
  for (int64_t i = 0; i < n; i++) x[i] = i % 2 == 0 ? a : b;
}

/* Option n (variables) or m (residuals of box_3d). */
static void dims_square(const OptrtTask *t, int64_t *n, int64_t *m) {
  *n = *m = (int64_t)t->opt[0];
}

static void dims_box(const OptrtTask *t, int64_t *n, int64_t *m) {
  *n = 3;
  *m = (int64_t)t->opt[0];
}

/* ---- 1. Rosenbrock: r0 = 10 (x1 - x0^2), r1 = 1 - x0 --------------------- */

static void rosen_r(const double *x, int64_t n, int64_t m, double *r) {
  r[0] = 10.0 * (x[1] - x[0] * x[0]);
  r[1] = 1.0 - x[0];
}
static void rosen_j(const double *x, int64_t n, int64_t m, double *j) {
  j[0] = -20.0 * x[0], j[1] = 10.0;
  j[2] = -1.0, j[3] = 0.0;
}
static void rosen_h(const double *x, int64_t n, int64_t m, const double *w, double *h) {
  h[0] += -20.0 * w[0];
}
static void rosen_x0(int64_t n, double *x) { fill2(x, n, -1.2, 1.0); }
static void ones(int64_t n, double *x) { fill(x, n, 1.0); }

/* ---- 2. Freudenstein and Roth --------------------------------------------
 * r0 = -13 + x0 + ((5 - x1) x1 - 2) x1,  r1 = -29 + x0 + ((x1 + 1) x1 - 14) x1 */

static void freud_r(const double *x, int64_t n, int64_t m, double *r) {
  r[0] = -13.0 + x[0] + ((5.0 - x[1]) * x[1] - 2.0) * x[1];
  r[1] = -29.0 + x[0] + ((x[1] + 1.0) * x[1] - 14.0) * x[1];
}
static void freud_j(const double *x, int64_t n, int64_t m, double *j) {
  j[0] = 1.0, j[1] = 10.0 * x[1] - 3.0 * x[1] * x[1] - 2.0;
  j[2] = 1.0, j[3] = 3.0 * x[1] * x[1] + 2.0 * x[1] - 14.0;
}
static void freud_h(const double *x, int64_t n, int64_t m, const double *w, double *h) {
  h[3] += w[0] * (10.0 - 6.0 * x[1]) + w[1] * (6.0 * x[1] + 2.0);
}
static void freud_x0(int64_t n, double *x) { x[0] = 0.5, x[1] = -2.0; }
static void freud_xs(int64_t n, double *x) { x[0] = 5.0, x[1] = 4.0; }

/* ---- 3. Powell badly scaled ------------------------------------------------
 * r0 = 1e4 x0 x1 - 1,  r1 = exp(-x0) + exp(-x1) - 1.0001 */

static void pbs_r(const double *x, int64_t n, int64_t m, double *r) {
  r[0] = 1e4 * x[0] * x[1] - 1.0;
  r[1] = exp(-x[0]) + exp(-x[1]) - 1.0001;
}
static void pbs_j(const double *x, int64_t n, int64_t m, double *j) {
  j[0] = 1e4 * x[1], j[1] = 1e4 * x[0];
  j[2] = -exp(-x[0]), j[3] = -exp(-x[1]);
}
static void pbs_h(const double *x, int64_t n, int64_t m, const double *w, double *h) {
  h[1] += 1e4 * w[0], h[2] += 1e4 * w[0];
  h[0] += w[1] * exp(-x[0]), h[3] += w[1] * exp(-x[1]);
}
static void pbs_x0(int64_t n, double *x) { x[0] = 0.0, x[1] = 1.0; }
/* Solved to full double precision by Newton's method on r = 0. */
static void pbs_xs(int64_t n, double *x) {
  x[0] = 1.0981593296997559e-05, x[1] = 9.106146739867036;
}

/* ---- 5. Beale: r_i = y_i - x0 (1 - x1^(i+1)), y = 1.5, 2.25, 2.625 -------- */

static const double beale_y[3] = {1.5, 2.25, 2.625};

static void beale_r(const double *x, int64_t n, int64_t m, double *r) {
  for (int i = 0; i < 3; i++) r[i] = beale_y[i] - x[0] * (1.0 - pow(x[1], i + 1));
}
static void beale_j(const double *x, int64_t n, int64_t m, double *j) {
  for (int i = 0; i < 3; i++) {
    j[2 * i] = -(1.0 - pow(x[1], i + 1));
    j[2 * i + 1] = x[0] * (i + 1) * pow(x[1], i);
  }
}
static void beale_h(const double *x, int64_t n, int64_t m, const double *w, double *h) {
  for (int i = 0; i < 3; i++) {
    double cross = (i + 1) * pow(x[1], i);
    h[1] += w[i] * cross, h[2] += w[i] * cross;
    if (i > 0) h[3] += w[i] * x[0] * (i + 1) * i * pow(x[1], i - 1);
  }
}
static void beale_x0(int64_t n, double *x) { x[0] = 1.0, x[1] = 1.0; }
static void beale_xs(int64_t n, double *x) { x[0] = 3.0, x[1] = 0.5; }

/* ---- 7. Helical valley ------------------------------------------------------
 * r0 = 10 (x2 - 10 theta), r1 = 10 (rho - 1), r2 = x2, rho = |(x0, x1)|,
 * theta = atan(x1/x0)/(2 pi) (+ 1/2 when x0 < 0; +-1/4 when x0 = 0). */

static const double two_pi = 6.283185307179586;

static double helical_theta(const double *x) {
  if (x[0] == 0.0) return x[1] >= 0 ? 0.25 : -0.25;
  return atan(x[1] / x[0]) / two_pi + (x[0] < 0 ? 0.5 : 0.0);
}
static void helical_r(const double *x, int64_t n, int64_t m, double *r) {
  r[0] = 10.0 * (x[2] - 10.0 * helical_theta(x));
  r[1] = 10.0 * (hypot(x[0], x[1]) - 1.0);
  r[2] = x[2];
}
static void helical_j(const double *x, int64_t n, int64_t m, double *j) {
  double q = x[0] * x[0] + x[1] * x[1], rho = sqrt(q);
  j[0] = 100.0 * x[1] / (two_pi * q), j[1] = -100.0 * x[0] / (two_pi * q), j[2] = 10.0;
  j[3] = 10.0 * x[0] / rho, j[4] = 10.0 * x[1] / rho, j[5] = 0.0;
  j[6] = 0.0, j[7] = 0.0, j[8] = 1.0;
}
static void helical_h(const double *x, int64_t n, int64_t m, const double *w, double *h) {
  double q = x[0] * x[0] + x[1] * x[1], rho = sqrt(q), q2 = two_pi * q * q, r3 = q * rho;
  double t00 = 2.0 * x[0] * x[1] / q2, t01 = (x[1] * x[1] - x[0] * x[0]) / q2;
  h[0] += -100.0 * w[0] * t00 + 10.0 * w[1] * x[1] * x[1] / r3;
  h[1] += -100.0 * w[0] * t01 - 10.0 * w[1] * x[0] * x[1] / r3;
  h[3] += -100.0 * w[0] * t01 - 10.0 * w[1] * x[0] * x[1] / r3;
  h[4] += 100.0 * w[0] * t00 + 10.0 * w[1] * x[0] * x[0] / r3;
}
static void helical_x0(int64_t n, double *x) { x[0] = -1.0, x[1] = 0.0, x[2] = 0.0; }
static void helical_xs(int64_t n, double *x) { x[0] = 1.0, x[1] = 0.0, x[2] = 0.0; }

/* ---- 12. Box three-dimensional -----------------------------------------------
 * r_i = exp(-t x0) - exp(-t x1) - x2 (exp(-t) - exp(-10 t)),  t = 0.1 (i + 1) */

static void box_r(const double *x, int64_t n, int64_t m, double *r) {
  for (int64_t i = 0; i < m; i++) {
    double t = 0.1 * (double)(i + 1);
    r[i] = exp(-t * x[0]) - exp(-t * x[1]) - x[2] * (exp(-t) - exp(-10.0 * t));
  }
}
static void box_j(const double *x, int64_t n, int64_t m, double *j) {
  for (int64_t i = 0; i < m; i++) {
    double t = 0.1 * (double)(i + 1);
    j[3 * i] = -t * exp(-t * x[0]);
    j[3 * i + 1] = t * exp(-t * x[1]);
    j[3 * i + 2] = -(exp(-t) - exp(-10.0 * t));
  }
}
static void box_h(const double *x, int64_t n, int64_t m, const double *w, double *h) {
  for (int64_t i = 0; i < m; i++) {
    double t = 0.1 * (double)(i + 1);
    h[0] += w[i] * t * t * exp(-t * x[0]);
    h[4] -= w[i] * t * t * exp(-t * x[1]);
  }
}
static void box_x0(int64_t n, double *x) { x[0] = 0.0, x[1] = 10.0, x[2] = 20.0; }
static void box_xs(int64_t n, double *x) { x[0] = 1.0, x[1] = 10.0, x[2] = 1.0; }

/* ---- 13. Powell singular ------------------------------------------------------
 * r0 = x0 + 10 x1, r1 = sqrt5 (x2 - x3), r2 = (x1 - 2 x2)^2, r3 = sqrt10 (x0 - x3)^2 */

static void ps_r(const double *x, int64_t n, int64_t m, double *r) {
  double a = x[1] - 2.0 * x[2], b = x[0] - x[3];
  r[0] = x[0] + 10.0 * x[1];
  r[1] = sqrt(5.0) * (x[2] - x[3]);
  r[2] = a * a;
  r[3] = sqrt(10.0) * b * b;
}
static void ps_j(const double *x, int64_t n, int64_t m, double *j) {
  double a = x[1] - 2.0 * x[2], b = x[0] - x[3], s5 = sqrt(5.0), s10 = sqrt(10.0);
  const double rows[16] = {1, 10, 0, 0, 0, 0, s5, -s5, 0, 2 * a, -4 * a, 0,
                           2 * s10 * b, 0, 0, -2 * s10 * b};
  memcpy(j, rows, sizeof rows);
}
static void ps_h(const double *x, int64_t n, int64_t m, const double *w, double *h) {
  double c = 2.0 * sqrt(10.0) * w[3];
  h[1 * 4 + 1] += 2.0 * w[2], h[1 * 4 + 2] -= 4.0 * w[2];
  h[2 * 4 + 1] -= 4.0 * w[2], h[2 * 4 + 2] += 8.0 * w[2];
  h[0] += c, h[3] -= c, h[3 * 4] -= c, h[3 * 4 + 3] += c;
}
static void ps_x0(int64_t n, double *x) { x[0] = 3.0, x[1] = -1.0, x[2] = 0.0, x[3] = 1.0; }
static void zeros(int64_t n, double *x) { fill(x, n, 0.0); }

/* ---- 14. Wood ------------------------------------------------------------------
 * r0 = 10 (x1 - x0^2), r1 = 1 - x0, r2 = sqrt90 (x3 - x2^2), r3 = 1 - x2,
 * r4 = sqrt10 (x1 + x3 - 2), r5 = (x1 - x3) / sqrt10 */

static void wood_r(const double *x, int64_t n, int64_t m, double *r) {
  r[0] = 10.0 * (x[1] - x[0] * x[0]);
  r[1] = 1.0 - x[0];
  r[2] = sqrt(90.0) * (x[3] - x[2] * x[2]);
  r[3] = 1.0 - x[2];
  r[4] = sqrt(10.0) * (x[1] + x[3] - 2.0);
  r[5] = (x[1] - x[3]) / sqrt(10.0);
}
static void wood_j(const double *x, int64_t n, int64_t m, double *j) {
  double s90 = sqrt(90.0), s10 = sqrt(10.0);
  const double rows[24] = {-20 * x[0], 10, 0, 0, -1, 0, 0, 0, 0, 0, -2 * s90 * x[2], s90,
                           0, 0, -1, 0, 0, s10, 0, s10, 0, 1 / s10, 0, -1 / s10};
  memcpy(j, rows, sizeof rows);
}
static void wood_h(const double *x, int64_t n, int64_t m, const double *w, double *h) {
  h[0] += -20.0 * w[0];
  h[2 * 4 + 2] += -2.0 * sqrt(90.0) * w[2];
}
static void wood_x0(int64_t n, double *x) { x[0] = -3.0, x[1] = -1.0, x[2] = -3.0, x[3] = -1.0; }

/* ---- 21. Extended Rosenbrock: pairs (x_2i, x_2i+1) as in problem 1 --------- */

static void erosen_r(const double *x, int64_t n, int64_t m, double *r) {
  for (int64_t i = 0; i + 1 < n; i += 2) rosen_r(x + i, 2, 2, r + i);
}
static void erosen_j(const double *x, int64_t n, int64_t m, double *j) {
  memset(j, 0, (size_t)(m * n) * sizeof *j);
  for (int64_t i = 0; i + 1 < n; i += 2) {
    j[i * n + i] = -20.0 * x[i], j[i * n + i + 1] = 10.0;
    j[(i + 1) * n + i] = -1.0;
  }
}
static void erosen_h(const double *x, int64_t n, int64_t m, const double *w, double *h) {
  for (int64_t i = 0; i + 1 < n; i += 2) h[i * n + i] += -20.0 * w[i];
}

/* ---- 26. Trigonometric --------------------------------------------------------
 * r_i = n - sum_j cos x_j + (i + 1)(1 - cos x_i) - sin x_i */

static void trig_r(const double *x, int64_t n, int64_t m, double *r) {
  double sum = 0;
  for (int64_t j = 0; j < n; j++) sum += cos(x[j]);
  for (int64_t i = 0; i < n; i++)
    r[i] = (double)n - sum + (double)(i + 1) * (1.0 - cos(x[i])) - sin(x[i]);
}
static void trig_j(const double *x, int64_t n, int64_t m, double *j) {
  for (int64_t i = 0; i < n; i++) {
    for (int64_t k = 0; k < n; k++) j[i * n + k] = sin(x[k]);
    j[i * n + i] += (double)(i + 1) * sin(x[i]) - cos(x[i]);
  }
}
static void trig_h(const double *x, int64_t n, int64_t m, const double *w, double *h) {
  double wsum = 0;
  for (int64_t i = 0; i < n; i++) wsum += w[i];
  for (int64_t i = 0; i < n; i++)
    h[i * n + i] += wsum * cos(x[i]) + w[i] * ((double)(i + 1) * cos(x[i]) + sin(x[i]));
}
static void trig_x0(int64_t n, double *x) { fill(x, n, 1.0 / (double)n); }

/* ---- 27. Brown almost-linear ----------------------------------------------------
 * r_i = x_i + sum_j x_j - (n + 1) for i < n - 1,  r_{n-1} = prod_j x_j - 1 */

static double product(const double *x, int64_t n) {
  double p = 1.0;
  for (int64_t j = 0; j < n; j++) p *= x[j];
  return p;
}
static void brown_r(const double *x, int64_t n, int64_t m, double *r) {
  double sum = 0;
  for (int64_t j = 0; j < n; j++) sum += x[j];
  for (int64_t i = 0; i + 1 < n; i++) r[i] = x[i] + sum - (double)(n + 1);
  r[n - 1] = product(x, n) - 1.0;
}
/* Product of all x but x_j (no division, so zeros are fine). */
static double product_but(const double *x, int64_t n, int64_t j) {
  double p = 1.0;
  for (int64_t l = 0; l < n; l++)
    if (l != j) p *= x[l];
  return p;
}
static void brown_j(const double *x, int64_t n, int64_t m, double *j) {
  for (int64_t i = 0; i + 1 < n; i++)
    for (int64_t k = 0; k < n; k++) j[i * n + k] = 1.0 + (i == k);
  for (int64_t k = 0; k < n; k++) j[(n - 1) * n + k] = product_but(x, n, k);
}
/* Only r_{n-1} is nonlinear: d2/dx_j dx_k prod = prod of x but x_j, x_k. */
static void brown_h(const double *x, int64_t n, int64_t m, const double *w, double *h) {
  double wl = w[n - 1];
  for (int64_t j = 0; j < n; j++) {
    double before = product(x, j); /* x_0 .. x_{j-1} */
    double mid = 1.0;              /* x_{j+1} .. x_{k-1} */
    for (int64_t k = j + 1; k < n; k++) {
      double v = wl * before * mid * product(x + k + 1, n - k - 1);
      h[j * n + k] += v, h[k * n + j] += v;
      mid *= x[k];
    }
  }
}
static void half(int64_t n, double *x) { fill(x, n, 0.5); }

/* ---- the kinds ------------------------------------------------------------------ */

#define MGH_KIND(var, kname, ksummary, kopts, knopts, pbvar)                             \
  const TaskKind var = {.name = kname, .summary = ksummary, .opts = kopts, .nopts = knopts,  \
                        .setup = mgh_setup, .destroy = mgh_destroy, .init = mgh_init,       \
                        .fg = mgh_fg, .hvp = mgh_hvp, .hessian = mgh_hessian,               \
                        .minimizer = mgh_minimizer, .spec = &pbvar}

static const MghProblem pb_rosen = {2, 2, 0, NULL, rosen_r, rosen_j, rosen_h, rosen_x0, ones};
static const MghProblem pb_freud = {2, 2, 0, NULL, freud_r, freud_j, freud_h, freud_x0, freud_xs};
static const MghProblem pb_pbs = {2, 2, 0, NULL, pbs_r, pbs_j, pbs_h, pbs_x0, pbs_xs};
static const MghProblem pb_beale = {2, 3, 0, NULL, beale_r, beale_j, beale_h, beale_x0, beale_xs};
static const MghProblem pb_helical = {3, 3, 0, NULL, helical_r, helical_j, helical_h,
                                      helical_x0, helical_xs};
static const MghProblem pb_box = {0, 0, 0, dims_box, box_r, box_j, box_h, box_x0, box_xs};
static const MghProblem pb_ps = {4, 4, 0, NULL, ps_r, ps_j, ps_h, ps_x0, zeros};
static const MghProblem pb_wood = {4, 6, 0, NULL, wood_r, wood_j, wood_h, wood_x0, ones};
static const MghProblem pb_erosen = {0, 0, 1, dims_square, erosen_r, erosen_j, erosen_h,
                                     rosen_x0, ones};
static const MghProblem pb_trig = {0, 0, 0, dims_square, trig_r, trig_j, trig_h, trig_x0, zeros};
static const MghProblem pb_brown = {0, 0, 0, dims_square, brown_r, brown_j, brown_h, half, ones};

/* Sizes are capped so that the dense Jacobian and Hessian stay small. */
static const TaskOption erosen_opts[] = {{"n", 100, 2, 1000, 1}};
static const TaskOption square_opts[] = {{"n", 10, 1, 200, 1}};
static const TaskOption brown_opts[] = {{"n", 10, 2, 100, 1}};
static const TaskOption box_opts[] = {{"m", 10, 3, 10000, 1}};

MGH_KIND(task_kind_mgh_rosenbrock, "mgh_rosenbrock", "MGH 1: Rosenbrock, n = 2",
         NULL, 0, pb_rosen);
MGH_KIND(task_kind_mgh_freudenstein_roth, "mgh_freudenstein_roth",
         "MGH 2: Freudenstein and Roth, n = 2", NULL, 0, pb_freud);
MGH_KIND(task_kind_mgh_powell_badly_scaled, "mgh_powell_badly_scaled",
         "MGH 3: Powell badly scaled, n = 2", NULL, 0, pb_pbs);
MGH_KIND(task_kind_mgh_beale, "mgh_beale", "MGH 5: Beale, n = 2", NULL, 0, pb_beale);
MGH_KIND(task_kind_mgh_helical_valley, "mgh_helical_valley", "MGH 7: helical valley, n = 3",
         NULL, 0, pb_helical);
MGH_KIND(task_kind_mgh_box_3d, "mgh_box_3d", "MGH 12: Box three-dimensional, n = 3, option m",
         box_opts, 1, pb_box);
MGH_KIND(task_kind_mgh_powell_singular, "mgh_powell_singular", "MGH 13: Powell singular, n = 4",
         NULL, 0, pb_ps);
MGH_KIND(task_kind_mgh_wood, "mgh_wood", "MGH 14: Wood, n = 4", NULL, 0, pb_wood);
MGH_KIND(task_kind_mgh_extended_rosenbrock, "mgh_extended_rosenbrock",
         "MGH 21: extended Rosenbrock, option n (even, default 100)", erosen_opts, 1, pb_erosen);
MGH_KIND(task_kind_mgh_trigonometric, "mgh_trigonometric",
         "MGH 26: trigonometric, option n (default 10)", square_opts, 1, pb_trig);
MGH_KIND(task_kind_mgh_brown_almost_linear, "mgh_brown_almost_linear",
         "MGH 27: Brown almost-linear, option n (default 10)", brown_opts, 1, pb_brown);
