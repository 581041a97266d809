/* task_regression.c: logistic and softmax regression on data drawn from
 * the seed.
 *
 * logistic: tensors w (d x 1), b (1 x 1); x_i ~ N(0, I_d), labels
 *   y_i ~ Bernoulli(sigmoid(u'x_i + c)) with u ~ N(0, I), c ~ N(0, 1).
 *   f = mean_i [softplus(z_i) - y_i z_i] + l2/2 |w|^2,  z_i = w'x_i + b.
 * softmax:  tensors W (k x d), b (k x 1); class y_i = i mod k, x_i =
 *   2 mu_{y_i} + N(0, I_d) with class centres mu_c ~ N(0, I).
 *   f = mean_i [logsumexp(s_i) - s_{i,y_i}] + l2/2 |W|^2,  s_i = W x_i + b.
 * The mean runs over all n examples, or over a minibatch of `batch`
 * indices drawn with replacement from (seed, step) when batch > 0.
 * Both start at 0.  Flat order: w then b; W row-major then b.
 * gnb (Sophia's Gauss-Newton-Bartlett sample): the gradient of the mean
 * data term over the same examples with example a's label drawn from the
 * model (uniform draw a of the call's key against the probabilities).
 * The bias is the coefficient of a constant feature 1: below, feature d
 * of an example is 1.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optk.h"
#include "tasks.h"

enum { PURPOSE_DATA = 10, PURPOSE_TRUTH = 11, PURPOSE_LABEL = 12, PURPOSE_BATCH = 13 };
/* Option indices of softmax; logistic has n, d, l2, batch. */
enum { OPT_N, OPT_D, OPT_K, OPT_L2, OPT_BATCH };
/* Data sets are capped at this many numbers (64 MiB of doubles). */
#define REG_MAX_DATA (1 << 23)

typedef struct Reg {
  int64_t n, d, k; /* examples, features, classes (logistic: k = 1) */
  double l2;
  int64_t batch;   /* 0: full data set */
  double *x;       /* n x d */
  int *y;          /* n labels */
  int64_t *idx;    /* max(n, batch): indices of the current mean */
  double *s, *p, *u; /* k scratch each: scores, probabilities, directions */
} Reg;

static void reg_destroy(OptrtTask *t) {
  Reg *r = t->data;
  if (!r) return;
  free(r->x);
  free(r->y);
  free(r->idx);
  free(r->s);
  free(r->p);
  free(r->u);
  free(r);
}

static Reg *reg_alloc(OptrtTask *t, int64_t n, int64_t d, int64_t k, int64_t batch) {
  Reg *r = calloc(1, sizeof *r);
  t->data = r;
  if (!r) return NULL;
  r->n = n, r->d = d, r->k = k, r->batch = batch;
  int64_t m = batch > n ? batch : n;
  r->x = malloc((size_t)(n * d) * sizeof(double));
  r->y = malloc((size_t)n * sizeof(int));
  r->idx = malloc((size_t)m * sizeof(int64_t));
  r->s = malloc((size_t)k * sizeof(double));
  r->p = malloc((size_t)k * sizeof(double));
  r->u = malloc((size_t)k * sizeof(double));
  if (!r->x || !r->y || !r->idx || !r->s || !r->p || !r->u) return NULL;
  return r;
}

/* Indices of the examples the loss averages over at the current step. */
static int64_t reg_batch(const OptrtTask *t, Reg *r) {
  int64_t batch = r->batch;
  if (batch <= 0) {
    for (int64_t i = 0; i < r->n; i++) r->idx[i] = i;
    return r->n;
  }
  uint64_t key = task_key(t->seed, t->step, PURPOSE_BATCH);
  for (int64_t j = 0; j < batch; j++)
    r->idx[j] = (int64_t)(optk_rng_u64(key, (uint64_t)j) % (uint64_t)r->n);
  return batch;
}

static double feature(const Reg *r, int64_t i, int64_t j) {
  return j < r->d ? r->x[i * r->d + j] : 1.0;
}

/* Flat index of the coefficient of class c on feature j (j == d: bias). */
static int64_t coef(const Reg *r, int64_t c, int64_t j) {
  return j < r->d ? c * r->d + j : r->k * r->d + c;
}

static void reg_init(const OptrtTask *t, double *x) { memset(x, 0, (size_t)t->n * sizeof *x); }

static double softplus(double z) { return (z > 0 ? z : 0) + log1p(exp(-fabs(z))); }
static double sigmoid(double z) {
  return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* Scores s_c = sum_j theta[coef(c, j)] feature(i, j) of example i. */
static void scores(const Reg *r, const double *theta, int64_t i, double *s) {
  for (int64_t c = 0; c < r->k; c++) {
    double acc = 0;
    for (int64_t j = 0; j <= r->d; j++) acc += theta[coef(r, c, j)] * feature(r, i, j);
    s[c] = acc;
  }
}

/* Adds the L2 term on the weights (not the biases) to f and g. */
static double add_l2(const Reg *r, const double *theta, double *g) {
  double sq = 0;
  for (int64_t m = 0; m < r->k * r->d; m++) {
    sq += theta[m] * theta[m];
    if (g) g[m] += r->l2 * theta[m];
  }
  return 0.5 * r->l2 * sq;
}

/* ---- logistic --------------------------------------------------------------- */

static void logistic_data(OptrtTask *t, Reg *r) {
  uint64_t kx = task_key(t->seed, 0, PURPOSE_DATA), ku = task_key(t->seed, 0, PURPOSE_TRUTH);
  uint64_t ky = task_key(t->seed, 0, PURPOSE_LABEL);
  for (int64_t m = 0; m < r->n * r->d; m++) r->x[m] = task_normal(kx, (uint64_t)m);
  double c = task_normal(ku, (uint64_t)r->d);
  for (int64_t i = 0; i < r->n; i++) {
    double z = c;
    for (int64_t j = 0; j < r->d; j++) z += task_normal(ku, (uint64_t)j) * r->x[i * r->d + j];
    r->y[i] = task_uniform(ky, (uint64_t)i) < sigmoid(z);
  }
}

static int logistic_setup(OptrtTask *t, char **err) {
  int64_t n = (int64_t)t->opt[OPT_N], d = (int64_t)t->opt[OPT_D];
  if (n * d > REG_MAX_DATA)
    return task_error(err, "task '%s': n * d = %lld exceeds %d", t->kind->name,
                      (long long)(n * d), REG_MAX_DATA);
  Reg *r = reg_alloc(t, n, d, 1, (int64_t)t->opt[3]);
  if (!r) return task_error(err, "task '%s': out of memory", t->kind->name);
  r->l2 = t->opt[2];
  logistic_data(t, r);
  task_set_tensor(t, 0, "w", d, 1);
  task_set_tensor(t, 1, "b", 1, 1);
  t->flags = OPTRT_TASK_HAS_HVP | OPTRT_TASK_HAS_HESSIAN | OPTRT_TASK_HAS_ACCURACY | OPTRT_TASK_HAS_GNB;
  if (t->opt[3] > 0) t->flags |= OPTRT_TASK_STOCHASTIC;
  return 0;
}

static double logistic_fg(OptrtTask *t, const double *w, double *g) {
  Reg *r = t->data;
  int64_t m = reg_batch(t, r), p = r->d + 1;
  double f = 0;
  if (g) memset(g, 0, (size_t)p * sizeof *g);
  for (int64_t a = 0; a < m; a++) {
    int64_t i = r->idx[a];
    scores(r, w, i, r->s);
    f += softplus(r->s[0]) - r->y[i] * r->s[0];
    double e = (sigmoid(r->s[0]) - r->y[i]) / (double)m;
    for (int64_t j = 0; g && j < p; j++) g[j] += e * feature(r, i, j);
  }
  return f / (double)m + add_l2(r, w, g);
}

static void logistic_hvp(OptrtTask *t, const double *w, const double *v, double *hv) {
  Reg *r = t->data;
  int64_t m = reg_batch(t, r), p = r->d + 1;
  memset(hv, 0, (size_t)p * sizeof *hv);
  for (int64_t a = 0; a < m; a++) {
    int64_t i = r->idx[a];
    scores(r, w, i, r->s);
    scores(r, v, i, r->u);
    double q = sigmoid(r->s[0]);
    double e = q * (1.0 - q) * r->u[0] / (double)m;
    for (int64_t j = 0; j < p; j++) hv[j] += e * feature(r, i, j);
  }
  for (int64_t j = 0; j < r->d; j++) hv[j] += r->l2 * v[j];
}

static void logistic_hessian(OptrtTask *t, const double *w, double *h) {
  Reg *r = t->data;
  int64_t m = reg_batch(t, r), p = r->d + 1;
  memset(h, 0, (size_t)(p * p) * sizeof *h);
  for (int64_t a = 0; a < m; a++) {
    int64_t i = r->idx[a];
    scores(r, w, i, r->s);
    double q = sigmoid(r->s[0]), e = q * (1.0 - q) / (double)m;
    for (int64_t j = 0; j < p; j++)
      for (int64_t l = 0; l < p; l++) h[j * p + l] += e * (feature(r, i, j) * feature(r, i, l));
  }
  for (int64_t j = 0; j < r->d; j++) h[j * p + j] += r->l2;
}

/* Gradient of the mean loss with y_i replaced by y~_i ~ Bernoulli(q_i). */
static void logistic_gnb(OptrtTask *t, const double *w, uint64_t key, double *out) {
  Reg *r = t->data;
  int64_t m = reg_batch(t, r), p = r->d + 1;
  memset(out, 0, (size_t)p * sizeof *out);
  for (int64_t a = 0; a < m; a++) {
    int64_t i = r->idx[a];
    scores(r, w, i, r->s);
    double q = sigmoid(r->s[0]);
    double e = (q - (task_uniform(key, (uint64_t)a) < q)) / (double)m;
    for (int64_t j = 0; j < p; j++) out[j] += e * feature(r, i, j);
  }
}

static double logistic_accuracy(OptrtTask *t, const double *w) {
  const Reg *r = t->data;
  int64_t right = 0;
  for (int64_t i = 0; i < r->n; i++) {
    scores(r, w, i, r->s);
    right += (r->s[0] > 0) == (r->y[i] != 0);
  }
  return (double)right / (double)r->n;
}

/* ---- softmax ---------------------------------------------------------------- */

static void softmax_data(OptrtTask *t, Reg *r) {
  uint64_t kx = task_key(t->seed, 0, PURPOSE_DATA), km = task_key(t->seed, 0, PURPOSE_TRUTH);
  for (int64_t i = 0; i < r->n; i++) {
    r->y[i] = (int)(i % r->k);
    for (int64_t j = 0; j < r->d; j++) {
      double mu = task_normal(km, (uint64_t)(r->y[i] * r->d + j));
      r->x[i * r->d + j] = 2.0 * mu + task_normal(kx, (uint64_t)(i * r->d + j));
    }
  }
}

static int softmax_setup(OptrtTask *t, char **err) {
  int64_t n = (int64_t)t->opt[OPT_N], d = (int64_t)t->opt[OPT_D], k = (int64_t)t->opt[OPT_K];
  if (n * d > REG_MAX_DATA)
    return task_error(err, "task '%s': n * d = %lld exceeds %d", t->kind->name,
                      (long long)(n * d), REG_MAX_DATA);
  Reg *r = reg_alloc(t, n, d, k, (int64_t)t->opt[OPT_BATCH]);
  if (!r) return task_error(err, "task '%s': out of memory", t->kind->name);
  r->l2 = t->opt[OPT_L2];
  softmax_data(t, r);
  task_set_tensor(t, 0, "W", k, d);
  task_set_tensor(t, 1, "b", k, 1);
  t->flags = OPTRT_TASK_HAS_HVP | OPTRT_TASK_HAS_HESSIAN | OPTRT_TASK_HAS_ACCURACY | OPTRT_TASK_HAS_GNB;
  if (t->opt[OPT_BATCH] > 0) t->flags |= OPTRT_TASK_STOCHASTIC;
  return 0;
}

/* p = softmax(s); returns logsumexp(s). */
static double softmax_probs(const double *s, double *p, int64_t k) {
  double mx = s[0], sum = 0;
  for (int64_t c = 1; c < k; c++) mx = s[c] > mx ? s[c] : mx;
  for (int64_t c = 0; c < k; c++) sum += (p[c] = exp(s[c] - mx));
  for (int64_t c = 0; c < k; c++) p[c] /= sum;
  return mx + log(sum);
}

/* r->s = scores of example i under w, r->p = softmax(r->s); returns
 * logsumexp(r->s). */
static double softmax_at(Reg *r, const double *w, int64_t i) {
  scores(r, w, i, r->s);
  return softmax_probs(r->s, r->p, r->k);
}

/* g += d(-log p_y)/dW of example i / m, given p = softmax(s_i). */
static void softmax_grad_add(const Reg *r, int64_t i, int64_t y, int64_t m, double *g) {
  for (int64_t c = 0; c < r->k; c++) {
    double e = (r->p[c] - (c == y)) / (double)m;
    for (int64_t j = 0; j <= r->d; j++) g[coef(r, c, j)] += e * feature(r, i, j);
  }
}

static double softmax_fg(OptrtTask *t, const double *w, double *g) {
  Reg *r = t->data;
  int64_t m = reg_batch(t, r);
  double f = 0;
  if (g) memset(g, 0, (size_t)t->n * sizeof *g);
  for (int64_t a = 0; a < m; a++) {
    int64_t i = r->idx[a];
    f += softmax_at(r, w, i) - r->s[r->y[i]];
    if (g) softmax_grad_add(r, i, r->y[i], m, g);
  }
  return f / (double)m + add_l2(r, w, g);
}

/* H v = mean_i (diag(p) - p p') (V x~_i) (x) x~_i, plus l2 on W. */
static void softmax_hvp(OptrtTask *t, const double *w, const double *v, double *hv) {
  Reg *r = t->data;
  int64_t m = reg_batch(t, r);
  memset(hv, 0, (size_t)t->n * sizeof *hv);
  for (int64_t a = 0; a < m; a++) {
    int64_t i = r->idx[a];
    softmax_at(r, w, i);
    scores(r, v, i, r->u);
    double pu = 0;
    for (int64_t c = 0; c < r->k; c++) pu += r->p[c] * r->u[c];
    for (int64_t c = 0; c < r->k; c++) {
      double e = r->p[c] * (r->u[c] - pu) / (double)m;
      for (int64_t j = 0; j <= r->d; j++) hv[coef(r, c, j)] += e * feature(r, i, j);
    }
  }
  for (int64_t q = 0; q < r->k * r->d; q++) hv[q] += r->l2 * v[q];
}

static void softmax_hessian_add(const Reg *r, int64_t i, double scale, double *h, int64_t np) {
  for (int64_t c = 0; c < r->k; c++)
    for (int64_t e = 0; e < r->k; e++) {
      double a = scale * ((c == e ? r->p[c] : 0.0) - r->p[c] * r->p[e]);
      for (int64_t j = 0; j <= r->d; j++)
        for (int64_t l = 0; l <= r->d; l++)
          h[coef(r, c, j) * np + coef(r, e, l)] += a * (feature(r, i, j) * feature(r, i, l));
    }
}

static void softmax_hessian(OptrtTask *t, const double *w, double *h) {
  Reg *r = t->data;
  int64_t m = reg_batch(t, r), np = t->n;
  memset(h, 0, (size_t)(np * np) * sizeof *h);
  for (int64_t a = 0; a < m; a++) {
    softmax_at(r, w, r->idx[a]);
    softmax_hessian_add(r, r->idx[a], 1.0 / (double)m, h, np);
  }
  for (int64_t q = 0; q < r->k * r->d; q++) h[q * np + q] += r->l2;
}

/* Gradient of the mean loss with y_i replaced by y~_i ~ softmax(s_i). */
static void softmax_gnb(OptrtTask *t, const double *w, uint64_t key, double *out) {
  Reg *r = t->data;
  int64_t m = reg_batch(t, r);
  memset(out, 0, (size_t)t->n * sizeof *out);
  for (int64_t a = 0; a < m; a++) {
    int64_t i = r->idx[a];
    softmax_at(r, w, i);
    int64_t y = task_sample_category(r->p, r->k, task_uniform(key, (uint64_t)a));
    softmax_grad_add(r, i, y, m, out);
  }
}

static double softmax_accuracy(OptrtTask *t, const double *w) {
  const Reg *r = t->data;
  int64_t right = 0;
  for (int64_t i = 0; i < r->n; i++) {
    scores(r, w, i, r->s);
    int64_t best = 0;
    for (int64_t c = 1; c < r->k; c++) best = r->s[c] > r->s[best] ? c : best;
    right += best == r->y[i];
  }
  return (double)right / (double)r->n;
}

static const TaskOption logistic_opts[] = {
    {"n", 512, 1, 1 << 20, 1},
    {"d", 10, 1, 4096, 1},
    {"l2", 1e-3, 0, 1e6, 0},
    {"batch", 0, 0, 1 << 20, 1},
};

static const TaskOption softmax_opts[] = {
    {"n", 512, 1, 1 << 20, 1},   {"d", 10, 1, 4096, 1},     {"k", 4, 2, 1000, 1},
    {"l2", 1e-3, 0, 1e6, 0},     {"batch", 0, 0, 1 << 20, 1},
};

const TaskKind task_kind_logistic = {
    .name = "logistic",
    .summary = "logistic regression on Gaussian data, tensors w, b; options n, d, l2, batch",
    .opts = logistic_opts,
    .nopts = 4,
    .setup = logistic_setup,
    .destroy = reg_destroy,
    .init = reg_init,
    .fg = logistic_fg,
    .hvp = logistic_hvp,
    .gnb = logistic_gnb,
    .hessian = logistic_hessian,
    .accuracy = logistic_accuracy,
};

const TaskKind task_kind_softmax = {
    .name = "softmax",
    .summary = "softmax regression on Gaussian clusters, tensors W, b; options n, d, k, l2, batch",
    .opts = softmax_opts,
    .nopts = 5,
    .setup = softmax_setup,
    .destroy = reg_destroy,
    .init = reg_init,
    .fg = softmax_fg,
    .hvp = softmax_hvp,
    .gnb = softmax_gnb,
    .hessian = softmax_hessian,
    .accuracy = softmax_accuracy,
};
