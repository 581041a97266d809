/* interp_mat.c: reference implementations of the MATOP plan ops, in
 * double, independent of OpenBLAS/LAPACK (interp.h fixes their exact
 * meaning: eigenvector signs, the inv_root clamp, the solve fallback).
 * Matrices are row-major; loops are the textbook ones, summing in index
 * order. */
#include <math.h>
#include <string.h>

#include "interp_internal.h"

static int mat_err(char **err, const char *msg) {
  *err = xstrdup(msg);
  return -1;
}

/* c = alpha a' b' + beta c, each product summed in double, then scaled
 * (beta 0: c's old values are not read). */
static void gemm(const InterpMat *a, const InterpMat *b, InterpMat *c, bool ta, bool tb,
                 double alpha, bool accum, double beta) {
  int64_t m = c->r, n = c->c, k = ta ? a->r : a->c;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t q = 0; q < k; q++) {
        double x = ta ? a->v[q * a->c + i] : a->v[i * a->c + q];
        double y = tb ? b->v[j * b->c + q] : b->v[q * b->c + j];
        s += x * y;
      }
      c->v[i * n + j] = accum ? alpha * s + beta * c->v[i * n + j] : alpha * s;
    }
}

/* One Jacobi rotation zeroing a[p][q]; v accumulates the rotations. */
static void rotate(double *a, double *v, int64_t m, int64_t p, int64_t q) {
  double apq = a[p * m + q];
  if (apq == 0) return;
  double theta = (a[q * m + q] - a[p * m + p]) / (2 * apq);
  double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
  double c = 1 / sqrt(t * t + 1), s = t * c;
  for (int64_t k = 0; k < m; k++) { /* columns p, q of a and v */
    double akp = a[k * m + p], akq = a[k * m + q];
    a[k * m + p] = c * akp - s * akq;
    a[k * m + q] = s * akp + c * akq;
    double vkp = v[k * m + p], vkq = v[k * m + q];
    v[k * m + p] = c * vkp - s * vkq;
    v[k * m + q] = s * vkp + c * vkq;
  }
  for (int64_t k = 0; k < m; k++) { /* rows p, q of a */
    double apk = a[p * m + k], aqk = a[q * m + k];
    a[p * m + k] = c * apk - s * aqk;
    a[q * m + k] = s * apk + c * aqk;
  }
}

static double off_diag(const double *a, int64_t m) {
  double s = 0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < m; j++)
      if (i != j) s += a[i * m + j] * a[i * m + j];
  return s;
}

/* Sorts eigenpairs ascending (insertion sort, stable) and fixes signs. */
static void sort_and_sign(double *w, double *v, int64_t m) {
  for (int64_t i = 1; i < m; i++)
    for (int64_t j = i; j > 0 && w[j - 1] > w[j]; j--) {
      double t = w[j]; w[j] = w[j - 1]; w[j - 1] = t;
      for (int64_t k = 0; k < m; k++) {
        double x = v[k * m + j]; v[k * m + j] = v[k * m + j - 1]; v[k * m + j - 1] = x;
      }
    }
  for (int64_t j = 0; j < m; j++) {
    int64_t big = 0;
    for (int64_t k = 1; k < m; k++)
      if (fabs(v[k * m + j]) > fabs(v[big * m + j])) big = k;
    if (v[big * m + j] < 0)
      for (int64_t k = 0; k < m; k++) v[k * m + j] = -v[k * m + j];
  }
}

/* 100 cyclic sweeps: Jacobi converges quadratically, a few sweeps suffice
 * for any matrix; the bound only stops NaN input from spinning. */
enum { JACOBI_MAX_SWEEPS = 100 };

void interp_mat_sym_eigen(const double *a_in, int64_t m, double *w, double *v) {
  double *a = xmalloc(sizeof(double) * (size_t)(m * m + 1));
  memcpy(a, a_in, sizeof(double) * (size_t)(m * m));
  for (int64_t i = 0; i < m * m; i++) v[i] = (i / m == i % m) ? 1.0 : 0.0;
  double total = 0;
  for (int64_t i = 0; i < m * m; i++) total += a[i] * a[i];
  for (int sweep = 0; sweep < JACOBI_MAX_SWEEPS; sweep++) {
    double off = off_diag(a, m);
    if (!(off > 1e-30 * total) || off == 0) break;
    for (int64_t p = 0; p < m; p++)
      for (int64_t q = p + 1; q < m; q++) rotate(a, v, m, p, q);
  }
  for (int64_t i = 0; i < m; i++) w[i] = a[i * m + i];
  free(a);
  sort_and_sign(w, v, m);
}

static int inv_root(const InterpMat *a, InterpMat *c, double k, double eps, char **err) {
  if (!(k > 0) || isnan(eps)) return mat_err(err, "inv_root: the root k must be positive");
  int64_t m = a->r;
  double *w = xmalloc(sizeof(double) * (size_t)(m + 1));
  double *v = xmalloc(sizeof(double) * (size_t)(m * m + 1));
  interp_mat_sym_eigen(a->v, m, w, v);
  for (int64_t i = 0; i < m; i++) w[i] = pow(w[i] > eps ? w[i] : eps, -1.0 / k);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < m; j++) {
      double s = 0;
      for (int64_t q = 0; q < m; q++) s += v[i * m + q] * w[q] * v[j * m + q];
      c->v[i * m + j] = s;
    }
  free(w);
  free(v);
  return 0;
}

/* Cholesky a = L L' into l; false if a is not positive definite. */
static bool cholesky(const double *a, double *l, int64_t m) {
  memset(l, 0, sizeof(double) * (size_t)(m * m));
  for (int64_t j = 0; j < m; j++) {
    double d = a[j * m + j];
    for (int64_t k = 0; k < j; k++) d -= l[j * m + k] * l[j * m + k];
    if (!(d > 0)) return false;
    l[j * m + j] = sqrt(d);
    for (int64_t i = j + 1; i < m; i++) {
      double s = a[i * m + j];
      for (int64_t k = 0; k < j; k++) s -= l[i * m + k] * l[j * m + k];
      l[i * m + j] = s / l[j * m + j];
    }
  }
  return true;
}

static void cholesky_solve(const double *l, int64_t m, double *x, int64_t q) {
  for (int64_t col = 0; col < q; col++) {
    for (int64_t i = 0; i < m; i++) { /* L y = b */
      double s = x[i * q + col];
      for (int64_t k = 0; k < i; k++) s -= l[i * m + k] * x[k * q + col];
      x[i * q + col] = s / l[i * m + i];
    }
    for (int64_t i = m - 1; i >= 0; i--) { /* L' x = y */
      double s = x[i * q + col];
      for (int64_t k = i + 1; k < m; k++) s -= l[k * m + i] * x[k * q + col];
      x[i * q + col] = s / l[i * m + i];
    }
  }
}

static void swap_rows(double *a, int64_t cols, int64_t i, int64_t j) {
  for (int64_t k = 0; k < cols; k++) {
    double t = a[i * cols + k]; a[i * cols + k] = a[j * cols + k]; a[j * cols + k] = t;
  }
}

/* Gaussian elimination with partial pivoting on copies of a and x. */
static int lu_solve(double *a, int64_t m, double *x, int64_t q, char **err) {
  for (int64_t j = 0; j < m; j++) {
    int64_t piv = j;
    for (int64_t i = j + 1; i < m; i++)
      if (fabs(a[i * m + j]) > fabs(a[piv * m + j])) piv = i;
    if (!(a[piv * m + j] != 0)) return mat_err(err, "solve: the matrix is singular");
    swap_rows(a, m, j, piv);
    swap_rows(x, q, j, piv);
    for (int64_t i = j + 1; i < m; i++) {
      double f = a[i * m + j] / a[j * m + j];
      for (int64_t k = j; k < m; k++) a[i * m + k] -= f * a[j * m + k];
      for (int64_t k = 0; k < q; k++) x[i * q + k] -= f * x[j * q + k];
    }
  }
  for (int64_t i = m - 1; i >= 0; i--)
    for (int64_t k = 0; k < q; k++) {
      double s = x[i * q + k];
      for (int64_t j = i + 1; j < m; j++) s -= a[i * m + j] * x[j * q + k];
      x[i * q + k] = s / a[i * m + i];
    }
  return 0;
}

static int solve(const InterpMat *a, const InterpMat *b, InterpMat *c, char **err) {
  int64_t m = a->r, q = b->c;
  double *work = xmalloc(sizeof(double) * (size_t)(m * m + 1));
  memcpy(c->v, b->v, sizeof(double) * (size_t)(m * q));
  int rc = 0;
  if (cholesky(a->v, work, m)) {
    cholesky_solve(work, m, c->v, q);
  } else {
    memcpy(work, a->v, sizeof(double) * (size_t)(m * m));
    rc = lu_solve(work, m, c->v, q, err);
  }
  free(work);
  return rc;
}

/* c = the means of a's rows (or columns); with `accum`, alpha times them
 * plus beta times c's old values. */
static void means(const InterpMat *a, InterpMat *c, bool rows, bool accum, double alpha,
                  double beta) {
  int64_t outer = rows ? a->r : a->c, inner = rows ? a->c : a->r;
  for (int64_t i = 0; i < outer; i++) {
    double s = 0;
    for (int64_t j = 0; j < inner; j++) s += rows ? a->v[i * a->c + j] : a->v[j * a->c + i];
    double m = inner ? s / (double)inner : NAN;
    c->v[i] = accum ? alpha * m + beta * c->v[i] : m;
  }
}

int interp_mat_run(const OptkOp *op, const InterpMat *a, const InterpMat *b,
                   InterpMat *c, const double *slot, char **err) {
  int64_t total = c->r * c->c;
  switch (op->fn) {
  case OPTK_MAT_GEMM:
    gemm(a, b, c, op->flags & OPTK_MATOP_TRANS_A, op->flags & OPTK_MATOP_TRANS_B,
         op->d >= 0 ? slot[op->d] : 1.0, (op->flags & OPTK_MATOP_ACCUMULATE) != 0,
         (op->flags & OPTK_MATOP_ACCUMULATE) ? slot[op->d + 1] : 0.0);
    return 0;
  case OPTK_MAT_INV_ROOT: return inv_root(a, c, slot[op->d], slot[op->d + 1], err);
  case OPTK_MAT_SOLVE: return solve(a, b, c, err);
  case OPTK_MAT_EIGVECS: {
    double *w = xmalloc(sizeof(double) * (size_t)(a->r + 1));
    interp_mat_sym_eigen(a->v, a->r, w, c->v);
    free(w);
    return 0;
  }
  case OPTK_MAT_TRANSPOSE:
    for (int64_t i = 0; i < a->r; i++)
      for (int64_t j = 0; j < a->c; j++) c->v[j * a->r + i] = a->v[i * a->c + j];
    return 0;
  case OPTK_MAT_ROWMEAN:
  case OPTK_MAT_COLMEAN: {
    bool accum = (op->flags & OPTK_MATOP_ACCUMULATE) != 0;
    means(a, c, op->fn == OPTK_MAT_ROWMEAN, accum, accum ? slot[op->d] : 1.0,
          accum ? slot[op->d + 1] : 0.0);
    return 0;
  }
  case OPTK_MAT_IDENTITY: {
    double s = op->d >= 0 ? slot[op->d] : 1.0;
    for (int64_t i = 0; i < total; i++) c->v[i] = (i / c->c == i % c->c) ? s : 0.0;
    return 0;
  }
  default: /* OPTK_MAT_COPY */
    memcpy(c->v, a->v, sizeof(double) * (size_t)total);
    return 0;
  }
}
