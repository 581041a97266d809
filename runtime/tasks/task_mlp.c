/* task_mlp.c: a two-layer tanh MLP classifier on concentric shells.
 *
 * Data: example i has class y_i = i mod k and lies at radius
 * 1 + y_i + 0.1 N(0, 1) in a uniformly random direction of R^d: k shells
 * that no linear model separates.  Tensors W1 (hidden x d), b1 (hidden x 1),
 * W2 (k x hidden), b2 (k x 1); W1 ~ N(0, 1/d), W2 ~ N(0, 1/hidden), biases 0.
 *   s_i = W2 tanh(W1 x_i + b1) + b2,
 *   f = mean_i [logsumexp(s_i) - s_{i,y_i}] + l2/2 (|W1|^2 + |W2|^2),
 * over all n examples or a minibatch of `batch` indices drawn with
 * replacement from (seed, step).  Forward and backward passes are float
 * matrix products (cblas_sgemm, row-major); the loss is summed in double.
 * No hvp or Hessian.  gnb (Sophia's Gauss-Newton-Bartlett sample): the
 * gradient of the mean cross-entropy (no L2) over the same rows with row
 * a's label drawn from softmax(s_a) (uniform draw a of the call's key).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optk.h"
#include "tasks.h"

enum {
  PURPOSE_DIR = 20, PURPOSE_RADIUS = 21, PURPOSE_W1 = 22, PURPOSE_W2 = 23, PURPOSE_BATCH = 24
};
enum { OPT_N, OPT_D, OPT_K, OPT_HIDDEN, OPT_L2, OPT_BATCH };
/* Radial noise of the shells: small against their spacing of 1. */
#define MLP_SHELL_NOISE 0.1
/* Data and activations are capped at this many floats (64 MiB). */
#define MLP_MAX_FLOATS (1 << 24)

typedef struct Mlp {
  int64_t n, d, k, h, m; /* examples, inputs, classes, hidden, max rows per pass */
  double l2;
  int64_t batch;
  float *x;     /* n x d */
  int *y;
  int64_t *idx; /* m */
  float *w;     /* parameters, flat order W1 b1 W2 b2 */
  float *gw;    /* their gradient */
  float *xb, *act, *s, *dact; /* m x d, m x h, m x k, m x h */
} Mlp;

static void mlp_destroy(OptrtTask *t) {
  Mlp *p = t->data;
  if (!p) return;
  free(p->x);
  free(p->y);
  free(p->idx);
  free(p->w);
  free(p->gw);
  free(p->xb);
  free(p->act);
  free(p->s);
  free(p->dact);
  free(p);
}

static int mlp_alloc(Mlp *p, int64_t nparam) {
  int64_t m = p->m;
  p->x = malloc((size_t)(p->n * p->d) * sizeof(float));
  p->y = malloc((size_t)p->n * sizeof(int));
  p->idx = malloc((size_t)m * sizeof(int64_t));
  p->w = malloc((size_t)nparam * sizeof(float));
  p->gw = malloc((size_t)nparam * sizeof(float));
  p->xb = malloc((size_t)(m * p->d) * sizeof(float));
  p->act = malloc((size_t)(m * p->h) * sizeof(float));
  p->s = malloc((size_t)(m * p->k) * sizeof(float));
  p->dact = malloc((size_t)(m * p->h) * sizeof(float));
  return p->x && p->y && p->idx && p->w && p->gw && p->xb && p->act && p->s && p->dact ? 0 : -1;
}

static void mlp_data(const OptrtTask *t, Mlp *p) {
  uint64_t kd = task_key(t->seed, 0, PURPOSE_DIR), kr = task_key(t->seed, 0, PURPOSE_RADIUS);
  for (int64_t i = 0; i < p->n; i++) {
    float *xi = p->x + i * p->d;
    double norm = 0;
    for (int64_t j = 0; j < p->d; j++) {
      double z = task_normal(kd, (uint64_t)(i * p->d + j));
      xi[j] = (float)z;
      norm += z * z;
    }
    p->y[i] = (int)(i % p->k);
    double radius = 1.0 + p->y[i] + MLP_SHELL_NOISE * task_normal(kr, (uint64_t)i);
    double scale = norm > 0 ? radius / sqrt(norm) : 0.0;
    for (int64_t j = 0; j < p->d; j++) xi[j] = (float)(xi[j] * scale);
  }
}

static int mlp_setup(OptrtTask *t, char **err) {
  Mlp *p = calloc(1, sizeof *p);
  t->data = p;
  if (!p) return task_error(err, "task '%s': out of memory", t->kind->name);
  p->n = (int64_t)t->opt[OPT_N], p->d = (int64_t)t->opt[OPT_D], p->k = (int64_t)t->opt[OPT_K];
  p->h = (int64_t)t->opt[OPT_HIDDEN], p->l2 = t->opt[OPT_L2];
  p->batch = (int64_t)t->opt[OPT_BATCH];
  p->m = p->batch > p->n ? p->batch : p->n;
  int64_t widest = p->d > p->h ? (p->d > p->k ? p->d : p->k) : (p->h > p->k ? p->h : p->k);
  if (p->m * widest > MLP_MAX_FLOATS)
    return task_error(err, "task '%s': data set too large (n or batch times width over %d)",
                      t->kind->name, MLP_MAX_FLOATS);
  task_set_tensor(t, 0, "W1", p->h, p->d);
  task_set_tensor(t, 1, "b1", p->h, 1);
  task_set_tensor(t, 2, "W2", p->k, p->h);
  task_set_tensor(t, 3, "b2", p->k, 1);
  if (mlp_alloc(p, p->h * p->d + p->h + p->k * p->h + p->k))
    return task_error(err, "task '%s': out of memory", t->kind->name);
  mlp_data(t, p);
  t->flags = OPTRT_TASK_HAS_ACCURACY | OPTRT_TASK_HAS_GNB |
             (p->batch > 0 ? OPTRT_TASK_STOCHASTIC : 0u);
  return 0;
}

static void mlp_init(const OptrtTask *t, double *x) {
  const Mlp *p = t->data;
  uint64_t k1 = task_key(t->seed, 0, PURPOSE_W1), k2 = task_key(t->seed, 0, PURPOSE_W2);
  double *w1 = x, *b1 = w1 + p->h * p->d, *w2 = b1 + p->h, *b2 = w2 + p->k * p->h;
  double s1 = 1.0 / sqrt((double)p->d), s2 = 1.0 / sqrt((double)p->h);
  for (int64_t i = 0; i < p->h * p->d; i++) w1[i] = s1 * task_normal(k1, (uint64_t)i);
  for (int64_t i = 0; i < p->k * p->h; i++) w2[i] = s2 * task_normal(k2, (uint64_t)i);
  memset(b1, 0, (size_t)p->h * sizeof *b1);
  memset(b2, 0, (size_t)p->k * sizeof *b2);
}

/* Rows of the pass: the minibatch of the step, or all examples when full
 * or when batch is 0; copies them into xb. */
static int64_t mlp_batch(const OptrtTask *t, Mlp *p, int full) {
  int sample = p->batch > 0 && !full;
  int64_t m = sample ? p->batch : p->n;
  uint64_t key = task_key(t->seed, t->step, PURPOSE_BATCH);
  for (int64_t j = 0; j < m; j++)
    p->idx[j] = sample ? (int64_t)(optk_rng_u64(key, (uint64_t)j) % (uint64_t)p->n) : j;
  for (int64_t j = 0; j < m; j++)
    memcpy(p->xb + j * p->d, p->x + p->idx[j] * p->d, (size_t)p->d * sizeof(float));
  return m;
}

/* act = tanh(xb W1' + b1), s = act W2' + b2, for m rows. */
static void mlp_forward(Mlp *p, int64_t m) {
  const float *w1 = p->w, *b1 = w1 + p->h * p->d, *w2 = b1 + p->h, *b2 = w2 + p->k * p->h;
  int h = (int)p->h, d = (int)p->d, k = (int)p->k;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, h, d, 1.0f, p->xb, d, w1, d,
              0.0f, p->act, h);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < h; j++) p->act[i * h + j] = tanhf(p->act[i * h + j] + b1[j]);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, k, h, 1.0f, p->act, h, w2, h,
              0.0f, p->s, k);
  for (int64_t i = 0; i < m; i++)
    for (int64_t c = 0; c < k; c++) p->s[i * k + c] += b2[c];
}

/* Cross-entropy summed over the m rows; s becomes (softmax - onehot) / m. */
static double mlp_loss_rows(Mlp *p, int64_t m) {
  double f = 0;
  for (int64_t i = 0; i < m; i++) {
    float *s = p->s + i * p->k;
    double mx = s[0], sum = 0;
    for (int64_t c = 1; c < p->k; c++) mx = s[c] > mx ? s[c] : mx;
    for (int64_t c = 0; c < p->k; c++) sum += exp(s[c] - mx);
    int y = p->y[p->idx[i]];
    f += mx + log(sum) - s[y];
    for (int64_t c = 0; c < p->k; c++)
      s[c] = (float)((exp(s[c] - mx) / sum - (c == y)) / (double)m);
  }
  return f;
}

static void col_sums(const float *a, int64_t m, int64_t cols, float *out) {
  memset(out, 0, (size_t)cols * sizeof *out);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < cols; j++) out[j] += a[i * cols + j];
}

/* Gradient into p->gw from ds = p->s (m x k), without the L2 term. */
static void mlp_backward(Mlp *p, int64_t m) {
  int h = (int)p->h, d = (int)p->d, k = (int)p->k;
  float *g1 = p->gw, *gb1 = g1 + h * d, *g2 = gb1 + h, *gb2 = g2 + k * h;
  const float *w2 = p->w + h * d + h;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, h, (int)m, 1.0f, p->s, k, p->act, h,
              0.0f, g2, h);
  col_sums(p->s, m, k, gb2);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, h, k, 1.0f, p->s, k, w2, h,
              0.0f, p->dact, h);
  for (int64_t i = 0; i < m * h; i++) p->dact[i] *= 1.0f - p->act[i] * p->act[i];
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, h, d, (int)m, 1.0f, p->dact, h, p->xb, d,
              0.0f, g1, d);
  col_sums(p->dact, m, h, gb1);
}

static double mlp_fg(OptrtTask *t, const double *x, double *g) {
  Mlp *p = t->data;
  int64_t np = t->n, hd = p->h * p->d, w2 = hd + p->h, kh = p->k * p->h;
  for (int64_t i = 0; i < np; i++) p->w[i] = (float)x[i];
  int64_t m = mlp_batch(t, p, 0);
  mlp_forward(p, m);
  double f = mlp_loss_rows(p, m) / (double)m, sq = 0;
  for (int64_t i = 0; i < hd; i++) sq += (double)p->w[i] * p->w[i];
  for (int64_t i = w2; i < w2 + kh; i++) sq += (double)p->w[i] * p->w[i];
  if (!g) return f + 0.5 * p->l2 * sq;
  mlp_backward(p, m);
  for (int64_t i = 0; i < np; i++) g[i] = p->gw[i];
  for (int64_t i = 0; i < hd; i++) g[i] += p->l2 * p->w[i];
  for (int64_t i = w2; i < w2 + kh; i++) g[i] += p->l2 * p->w[i];
  return f + 0.5 * p->l2 * sq;
}

/* s becomes (softmax - onehot(y~)) / m with y~ drawn from the softmax. */
static void mlp_sample_rows(Mlp *p, int64_t m, uint64_t key) {
  for (int64_t i = 0; i < m; i++) {
    float *s = p->s + i * p->k;
    double mx = s[0], sum = 0, acc = 0, u = task_uniform(key, (uint64_t)i);
    for (int64_t c = 1; c < p->k; c++) mx = s[c] > mx ? s[c] : mx;
    for (int64_t c = 0; c < p->k; c++) sum += exp(s[c] - mx);
    int64_t y = p->k - 1;
    for (int64_t c = 0; c + 1 < p->k && y == p->k - 1; c++)
      if (u < (acc += exp(s[c] - mx) / sum)) y = c;
    for (int64_t c = 0; c < p->k; c++)
      s[c] = (float)((exp(s[c] - mx) / sum - (c == y)) / (double)m);
  }
}

static void mlp_gnb(OptrtTask *t, const double *x, uint64_t key, double *out) {
  Mlp *p = t->data;
  for (int64_t i = 0; i < t->n; i++) p->w[i] = (float)x[i];
  int64_t m = mlp_batch(t, p, 0);
  mlp_forward(p, m);
  mlp_sample_rows(p, m, key);
  mlp_backward(p, m);
  for (int64_t i = 0; i < t->n; i++) out[i] = p->gw[i];
}

static double mlp_accuracy(OptrtTask *t, const double *x) {
  Mlp *p = t->data;
  for (int64_t i = 0; i < t->n; i++) p->w[i] = (float)x[i];
  int64_t m = mlp_batch(t, p, 1), right = 0;
  mlp_forward(p, m);
  for (int64_t i = 0; i < m; i++) {
    const float *s = p->s + i * p->k;
    int64_t best = 0;
    for (int64_t c = 1; c < p->k; c++) best = s[c] > s[best] ? c : best;
    right += best == p->y[p->idx[i]];
  }
  return (double)right / (double)m;
}

static const TaskOption mlp_opts[] = {
    {"n", 512, 1, 1 << 20, 1},      {"d", 2, 1, 1024, 1},      {"k", 3, 2, 100, 1},
    {"hidden", 32, 1, 4096, 1},     {"l2", 0, 0, 1e6, 0},      {"batch", 0, 0, 1 << 20, 1},
};

const TaskKind task_kind_mlp = {
    .name = "mlp",
    .summary = "two-layer tanh MLP on k concentric shells in R^d, tensors W1, b1, W2, b2; "
           "options n, d, k, hidden, l2, batch",
    .opts = mlp_opts,
    .nopts = 6,
    .setup = mlp_setup,
    .destroy = mlp_destroy,
    .init = mlp_init,
    .fg = mlp_fg,
    .gnb = mlp_gnb,
    .accuracy = mlp_accuracy,
};
