/* task_rosenbrock.c: the chained n-dimensional Rosenbrock function
 *   f(x) = sum_{i=0}^{n-2} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2,
 * started at (-1.2, 1, -1.2, 1, ...); f* = 0 at x* = (1, ..., 1).
 * The Hessian is tridiagonal; hvp uses that structure.
 */
#include <string.h>

#include "tasks.h"

static int rosen_setup(OptrtTask *t, char **err) {
  task_set_tensor(t, 0, "x", (int64_t)t->opt[0], 1);
  t->flags = OPTRT_TASK_HAS_HVP | OPTRT_TASK_HAS_HESSIAN | OPTRT_TASK_HAS_OPTIMUM |
             OPTRT_TASK_HAS_MINIMIZER;
  t->fstar = 0.0;
  return 0;
}

static void rosen_init(const OptrtTask *t, double *x) {
  for (int64_t i = 0; i < t->n; i++) x[i] = (i % 2 == 0) ? -1.2 : 1.0;
}

static double rosen_fg(OptrtTask *t, const double *x, double *g) {
  int64_t n = t->n;
  double f = 0;
  if (g) memset(g, 0, (size_t)n * sizeof *g);
  for (int64_t i = 0; i + 1 < n; i++) {
    double a = x[i + 1] - x[i] * x[i], b = 1.0 - x[i];
    f += 100.0 * a * a + b * b;
    if (!g) continue;
    g[i] += -400.0 * x[i] * a - 2.0 * b;
    g[i + 1] += 200.0 * a;
  }
  return f;
}

/* Diagonal and super-diagonal of the Hessian at x, entry i. */
static double rosen_diag(const double *x, int64_t i, int64_t n) {
  double d = 0;
  if (i + 1 < n) d += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
  if (i > 0) d += 200.0;
  return d;
}

static void rosen_hvp(OptrtTask *t, const double *x, const double *v, double *hv) {
  int64_t n = t->n;
  for (int64_t i = 0; i < n; i++) {
    double acc = rosen_diag(x, i, n) * v[i];
    if (i + 1 < n) acc += -400.0 * x[i] * v[i + 1];
    if (i > 0) acc += -400.0 * x[i - 1] * v[i - 1];
    hv[i] = acc;
  }
}

static void rosen_hessian(OptrtTask *t, const double *x, double *h) {
  int64_t n = t->n;
  memset(h, 0, (size_t)(n * n) * sizeof *h);
  for (int64_t i = 0; i < n; i++) {
    h[i * n + i] = rosen_diag(x, i, n);
    if (i + 1 < n) h[i * n + i + 1] = h[(i + 1) * n + i] = -400.0 * x[i];
  }
}

static void rosen_minimizer(const OptrtTask *t, double *x) {
  for (int64_t i = 0; i < t->n; i++) x[i] = 1.0;
}

static const TaskOption rosen_opts[] = {{"dim", 10, 2, 1 << 20, 1}};

const TaskKind task_kind_rosenbrock = {
    .name = "rosenbrock",
    .summary = "chained Rosenbrock in dim dimensions from (-1.2, 1, ...), option dim",
    .opts = rosen_opts,
    .nopts = 1,
    .setup = rosen_setup,
    .init = rosen_init,
    .fg = rosen_fg,
    .hvp = rosen_hvp,
    .hessian = rosen_hessian,
    .minimizer = rosen_minimizer,
};
