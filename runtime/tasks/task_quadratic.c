/* task_quadratic.c: the ill-conditioned quadratic and the noisy quadratic.
 *
 * quadratic:        f(x) = 1/2 (x - c)' A (x - c),  A = R diag(h) R',
 *                   h_i = cond^(-i/(dim-1)) (from 1 down to 1/cond), R a
 *                   product of QUAD_REFLECTIONS random Householder
 *                   reflections (rotate=1) or I (rotate=0), c ~ N(0, I),
 *                   x0 = 0; f* = 0 at x* = c.
 * noisy_quadratic:  f_t(x) = 1/2 sum_i h_i (x_i - sigma xi_ti)^2 with
 *                   xi_t ~ N(0, I) drawn from (seed, step t); E f_t is
 *                   minimised at x = 0 with value sigma^2/2 sum_i h_i.
 *                   x0 ~ N(0, I).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks.h"

/* Reflections composing the rotation: enough that no coordinate axis is
 * an eigenvector, cheap (each costs dim^2). */
#define QUAD_REFLECTIONS 4

enum { PURPOSE_INIT = 1, PURPOSE_TARGET = 2, PURPOSE_ROTATION = 3, PURPOSE_NOISE = 4 };

typedef struct Quad {
  double *a; /* dim x dim (quadratic) */
  double *h; /* dim eigenvalues */
  double *c; /* dim: minimiser (quadratic) */
  double *r, *z; /* dim each: scratch of fg */
} Quad;

static void fill_spectrum(double *h, int64_t n, double cond) {
  for (int64_t i = 0; i < n; i++)
    h[i] = n > 1 ? pow(cond, -(double)i / (double)(n - 1)) : 1.0;
}

/* A <- H A H with H = I - 2 u u'/(u'u), A symmetric. */
static void reflect(double *a, const double *u, double *z, int64_t n) {
  double s = 0, beta = 0;
  for (int64_t i = 0; i < n; i++) s += u[i] * u[i];
  for (int64_t i = 0; i < n; i++) {
    double acc = 0;
    for (int64_t j = 0; j < n; j++) acc += a[i * n + j] * u[j];
    z[i] = acc;
    beta += u[i] * acc;
  }
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++)
      a[i * n + j] += -2.0 / s * (u[i] * z[j] + z[i] * u[j]) + 4.0 * beta / (s * s) * u[i] * u[j];
}

static int build_matrix(OptrtTask *t, Quad *q, int64_t n, int rotate) {
  q->a = calloc((size_t)(n * n), sizeof(double));
  double *u = malloc((size_t)n * sizeof(double)), *z = malloc((size_t)n * sizeof(double));
  if (!q->a || !u || !z) {
    free(u);
    free(z);
    return -1;
  }
  for (int64_t i = 0; i < n; i++) q->a[i * n + i] = q->h[i];
  for (int r = 0; rotate && n > 1 && r < QUAD_REFLECTIONS; r++) {
    uint64_t key = task_key(t->seed, (uint64_t)r, PURPOSE_ROTATION);
    for (int64_t i = 0; i < n; i++) u[i] = task_normal(key, (uint64_t)i);
    reflect(q->a, u, z, n);
  }
  for (int64_t i = 0; i < n; i++) /* exact symmetry despite rounding */
    for (int64_t j = i + 1; j < n; j++)
      q->a[i * n + j] = q->a[j * n + i] = 0.5 * (q->a[i * n + j] + q->a[j * n + i]);
  free(u);
  free(z);
  return 0;
}

static void quad_destroy(OptrtTask *t) {
  Quad *q = t->data;
  if (!q) return;
  free(q->a);
  free(q->h);
  free(q->c);
  free(q->r);
  free(q->z);
  free(q);
}

static Quad *quad_alloc(OptrtTask *t, int64_t n, char **err) {
  Quad *q = calloc(1, sizeof *q);
  t->data = q;
  if (q) {
    q->h = malloc((size_t)n * sizeof(double));
    q->c = calloc((size_t)n, sizeof(double));
    q->r = malloc((size_t)n * sizeof(double));
    q->z = malloc((size_t)n * sizeof(double));
  }
  if (!q || !q->h || !q->c || !q->r || !q->z) {
    task_error(err, "task '%s': out of memory", t->kind->name);
    return NULL;
  }
  return q;
}

/* ---- quadratic ------------------------------------------------------------ */

static int quad_setup(OptrtTask *t, char **err) {
  int64_t n = (int64_t)t->opt[0];
  Quad *q = quad_alloc(t, n, err);
  if (!q) return -1;
  fill_spectrum(q->h, n, t->opt[1]);
  if (build_matrix(t, q, n, (int)t->opt[2]))
    return task_error(err, "task '%s': out of memory", t->kind->name);
  uint64_t key = task_key(t->seed, 0, PURPOSE_TARGET);
  for (int64_t i = 0; i < n; i++) q->c[i] = task_normal(key, (uint64_t)i);
  task_set_tensor(t, 0, "x", n, 1);
  t->flags = OPTRT_TASK_HAS_HVP | OPTRT_TASK_HAS_HESSIAN | OPTRT_TASK_HAS_OPTIMUM |
             OPTRT_TASK_HAS_MINIMIZER;
  t->fstar = 0.0;
  return 0;
}

static void quad_init(const OptrtTask *t, double *x) { memset(x, 0, (size_t)t->n * sizeof *x); }

static void matvec(const double *a, const double *v, double *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double acc = 0;
    for (int64_t j = 0; j < n; j++) acc += a[i * n + j] * v[j];
    out[i] = acc;
  }
}

static double quad_fg(OptrtTask *t, const double *x, double *g) {
  const Quad *q = t->data;
  int64_t n = t->n;
  double *r = q->r, *z = q->z;
  for (int64_t i = 0; i < n; i++) r[i] = x[i] - q->c[i];
  matvec(q->a, r, z, n);
  double f = 0;
  for (int64_t i = 0; i < n; i++) f += r[i] * z[i];
  if (g) memcpy(g, z, (size_t)n * sizeof *g);
  return 0.5 * f;
}

static void quad_hvp(OptrtTask *t, const double *x, const double *v, double *hv) {
  matvec(((const Quad *)t->data)->a, v, hv, t->n);
}

static void quad_hessian(OptrtTask *t, const double *x, double *h) {
  memcpy(h, ((const Quad *)t->data)->a, (size_t)(t->n * t->n) * sizeof *h);
}

static void quad_minimizer(const OptrtTask *t, double *x) {
  memcpy(x, ((const Quad *)t->data)->c, (size_t)t->n * sizeof *x);
}

/* dim is capped so that the dense A stays within 8 MiB. */
static const TaskOption quad_opts[] = {
    {"dim", 100, 1, 1024, 1},
    {"cond", 1e4, 1, 1e12, 0},
    {"rotate", 1, 0, 1, 1},
};

const TaskKind task_kind_quadratic = {
    .name = "quadratic",
    .summary = "ill-conditioned quadratic 1/2 (x-c)'A(x-c), options dim, cond, rotate",
    .opts = quad_opts,
    .nopts = 3,
    .setup = quad_setup,
    .destroy = quad_destroy,
    .init = quad_init,
    .fg = quad_fg,
    .hvp = quad_hvp,
    .hessian = quad_hessian,
    .minimizer = quad_minimizer,
};

/* ---- noisy quadratic ------------------------------------------------------ */

static int noisy_setup(OptrtTask *t, char **err) {
  int64_t n = (int64_t)t->opt[0];
  Quad *q = quad_alloc(t, n, err);
  if (!q) return -1;
  fill_spectrum(q->h, n, t->opt[1]);
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += q->h[i];
  task_set_tensor(t, 0, "x", n, 1);
  t->flags = OPTRT_TASK_HAS_HVP | OPTRT_TASK_HAS_HESSIAN | OPTRT_TASK_HAS_OPTIMUM |
             OPTRT_TASK_STOCHASTIC;
  t->fstar = 0.5 * t->opt[2] * t->opt[2] * sum;
  return 0;
}

static void noisy_init(const OptrtTask *t, double *x) {
  uint64_t key = task_key(t->seed, 0, PURPOSE_INIT);
  for (int64_t i = 0; i < t->n; i++) x[i] = task_normal(key, (uint64_t)i);
}

static double noisy_fg(OptrtTask *t, const double *x, double *g) {
  const Quad *q = t->data;
  uint64_t key = task_key(t->seed, t->step, PURPOSE_NOISE);
  double sigma = t->opt[2], f = 0;
  for (int64_t i = 0; i < t->n; i++) {
    double r = x[i] - sigma * task_normal(key, (uint64_t)i);
    f += q->h[i] * r * r;
    if (g) g[i] = q->h[i] * r;
  }
  return 0.5 * f;
}

static void noisy_hvp(OptrtTask *t, const double *x, const double *v, double *hv) {
  const Quad *q = t->data;
  for (int64_t i = 0; i < t->n; i++) hv[i] = q->h[i] * v[i];
}

static void noisy_hessian(OptrtTask *t, const double *x, double *h) {
  const Quad *q = t->data;
  memset(h, 0, (size_t)(t->n * t->n) * sizeof *h);
  for (int64_t i = 0; i < t->n; i++) h[i * t->n + i] = q->h[i];
}

static const TaskOption noisy_opts[] = {
    {"dim", 100, 1, 1 << 20, 1},
    {"cond", 100, 1, 1e12, 0},
    {"sigma", 1, 0, 1e6, 0},
};

const TaskKind task_kind_noisy_quadratic = {
    .name = "noisy_quadratic",
    .summary = "diagonal quadratic with noisy targets drawn from (seed, step), "
               "options dim, cond, sigma",
    .opts = noisy_opts,
    .nopts = 3,
    .setup = noisy_setup,
    .destroy = quad_destroy,
    .init = noisy_init,
    .fg = noisy_fg,
    .hvp = noisy_hvp,
    .hessian = noisy_hessian,
};
